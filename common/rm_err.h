/* Error records and the exit codes shared by every tool (DESIGN.md section 8). */
#ifndef RM_ERR_H
#define RM_ERR_H

#include <stddef.h>

enum rm_exit {
	RM_EXIT_OK = 0,
	RM_EXIT_NEGATIVE = 1,	/* no match, cache miss, drift found */
	RM_EXIT_USAGE = 2,
	RM_EXIT_INVALID = 3,	/* invalid input data */
	RM_EXIT_NOTFOUND = 4,
	RM_EXIT_INTEGRITY = 5,	/* signature or integrity failure */
	RM_EXIT_NETWORK = 6,
	RM_EXIT_BUDGET = 7,
	RM_EXIT_EXEC = 8,	/* execution failed after every fallback */
	RM_EXIT_INTERNAL = 70
};

/*
 * What went wrong, and where: library functions fill one of these and return
 * -code; only tools print it and exit with code.
 */
struct rm_err {
	int code;		/* enum rm_exit, 0 when clear */
	int line, col;		/* 1-based; 0 when unknown */
	char file[512];
	char field[256];	/* dotted path such as capabilities.gpu.memory_gb */
	char msg[1024];
};

void rm_err_clear(struct rm_err *err);
/* Fills err (which may be NULL) and returns -code. */
int rm_err_set(struct rm_err *err, int code, const char *file, const char *field,
    const char *fmt, ...) __attribute__((format(printf, 5, 6)));
int rm_err_setpos(struct rm_err *err, int code, const char *file, int line, int col,
    const char *field, const char *fmt, ...) __attribute__((format(printf, 7, 8)));
/* "file:line:col: field: msg" with the parts that are known. */
const char *rm_err_str(const struct rm_err *err, char *buf, size_t size);
/* Prints "prog: <rm_err_str>" on stderr and returns err->code (70 if unset). */
int rm_err_print(const struct rm_err *err);
/* Name of an exit code, for JSON output ("invalid", "not_found", ...). */
const char *rm_exit_name(int code);

#endif
