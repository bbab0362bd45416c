#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "rm_err.h"
#include "rm_log.h"

void
rm_err_clear(struct rm_err *err)
{
	if (err != NULL)
		memset(err, 0, sizeof(*err));
}

static int
err_vset(struct rm_err *err, int code, const char *file, int line, int col,
    const char *field, const char *fmt, va_list ap)
{
	if (err == NULL)
		return -code;
	err->code = code;
	err->line = line;
	err->col = col;
	snprintf(err->file, sizeof(err->file), "%s", file ? file : "");
	snprintf(err->field, sizeof(err->field), "%s", field ? field : "");
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	return -code;
}

int
rm_err_set(struct rm_err *err, int code, const char *file, const char *field,
    const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = err_vset(err, code, file, 0, 0, field, fmt, ap);
	va_end(ap);
	return r;
}

int
rm_err_setpos(struct rm_err *err, int code, const char *file, int line, int col,
    const char *field, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = err_vset(err, code, file, line, col, field, fmt, ap);
	va_end(ap);
	return r;
}

const char *
rm_err_str(const struct rm_err *err, char *buf, size_t size)
{
	size_t n = 0;

	buf[0] = '\0';
#define ADD(...) do { \
	int w_ = snprintf(buf + n, size - n, __VA_ARGS__); \
	if (w_ > 0) n += ((size_t)w_ < size - n) ? (size_t)w_ : size - n - 1; \
} while (0)
	if (err->file[0] != '\0') {
		ADD("%s", err->file);
		if (err->line > 0)
			ADD(":%d", err->line);
		if (err->col > 0)
			ADD(":%d", err->col);
		ADD(": ");
	}
	if (err->field[0] != '\0')
		ADD("%s: ", err->field);
	ADD("%s", err->msg[0] ? err->msg : "unknown error");
#undef ADD
	return buf;
}

int
rm_err_print(const struct rm_err *err)
{
	char buf[2048];

	fprintf(stderr, "%s: %s\n", rm_progname(), rm_err_str(err, buf, sizeof(buf)));
	return err->code ? err->code : RM_EXIT_INTERNAL;
}

const char *
rm_exit_name(int code)
{
	switch (code) {
	case RM_EXIT_OK: return "ok";
	case RM_EXIT_NEGATIVE: return "negative";
	case RM_EXIT_USAGE: return "usage";
	case RM_EXIT_INVALID: return "invalid";
	case RM_EXIT_NOTFOUND: return "not_found";
	case RM_EXIT_INTEGRITY: return "integrity";
	case RM_EXIT_NETWORK: return "network";
	case RM_EXIT_BUDGET: return "budget_exceeded";
	case RM_EXIT_EXEC: return "execution_failed";
	default: return "internal";
	}
}
