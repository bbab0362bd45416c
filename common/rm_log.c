#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "rm_log.h"

static int log_level = RM_LOG_NORMAL;
static const char *progname = "remotemedia";

void
rm_log_init(const char *argv0)
{
	const char *slash;

	if (argv0 == NULL || *argv0 == '\0')
		return;
	slash = strrchr(argv0, '/');
	progname = slash ? slash + 1 : argv0;
}

void
rm_log_set_level(int level)
{
	log_level = level;
}

int
rm_log_level(void)
{
	return log_level;
}

const char *
rm_progname(void)
{
	return progname;
}

static void
vlog(int level, const char *tag, const char *fmt, va_list ap)
{
	if (log_level < level)
		return;
	fprintf(stderr, "%s: %s", progname, tag);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void
rm_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(RM_LOG_NORMAL, "warning: ", fmt, ap);
	va_end(ap);
}

void
rm_note(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(RM_LOG_NORMAL, "", fmt, ap);
	va_end(ap);
}

void
rm_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(RM_LOG_VERBOSE, "", fmt, ap);
	va_end(ap);
}

void
rm_debug(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(RM_LOG_DEBUG, "debug: ", fmt, ap);
	va_end(ap);
}
