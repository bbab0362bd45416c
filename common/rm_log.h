/* Logging on stderr; the level is set once by each tool from -v/-q. */
#ifndef RM_LOG_H
#define RM_LOG_H

enum rm_log_level { RM_LOG_QUIET = 0, RM_LOG_NORMAL = 1, RM_LOG_VERBOSE = 2, RM_LOG_DEBUG = 3 };

void rm_log_init(const char *argv0);
void rm_log_set_level(int level);
int rm_log_level(void);
const char *rm_progname(void);

/* Warnings and notes show unless -q; info needs -v; debug needs -vv. */
void rm_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* What the tool did on its own that the user should know of (a retry, a
 * failover, a resume): "prog: message", at normal verbosity. */
void rm_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void rm_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void rm_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
