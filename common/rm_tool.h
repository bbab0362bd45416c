/* What every tool's main does the same way: start-up, --version, output mode. */
#ifndef RM_TOOL_H
#define RM_TOOL_H

#include <stdio.h>
#include <jansson.h>

/* Sets the program name for messages and checks REMOTEMEDIA_ENV. */
void rm_tool_init(int argc, char **argv);
/* Prints "NAME (remotemedia) VERSION" on stdout. */
void rm_tool_version(void);
/*
 * Logs the mode and state directory with -v (DESIGN.md section 7), then
 * checks config.yaml (rm_config): unknown keys warn once in development;
 * an unreadable file, or an unknown key in production, is printed and
 * exits 3.
 */
void rm_tool_banner(void);
/* JSON output when asked, or when stdout is not a terminal. */
int rm_tool_want_json(int forced);
/* Parses a non-negative decimal for an option; returns -1 when bad. */
int rm_tool_parse_double(const char *s, double *out);
int rm_tool_parse_long(const char *s, long *out);
/*
 * A Docker-style HOST/REPO[:TAG] given where an oci:// reference was meant
 * (no scheme, a first component naming a host: with a '.' or ':', or
 * localhost; no such file): says "did you mean oci://ARG?" on stderr and
 * returns 1 (the caller exits 2); else 0.
 */
int rm_tool_docker_ref(const char *arg);
/* A size for a table read by people: "512 B", "3.4 KiB", "12.3 MiB",
 * "1.20 GiB" (binary units); JSON keeps bytes. Returns buf. */
const char *rm_tool_size(unsigned long long bytes, char *buf, size_t size);

/*
 * Whether a tool frees its large structures (a plan, a pipeline, a pool) just
 * before it exits: only where a leak checker looks (AddressSanitizer). Else
 * the exit does it at once: for 10,000 nodes freeing was 6% of a plan.
 */
#if defined(__SANITIZE_ADDRESS__)
#define RM_FREE_AT_EXIT 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RM_FREE_AT_EXIT 1
#endif
#endif
#ifndef RM_FREE_AT_EXIT
#define RM_FREE_AT_EXIT 0
#endif

#endif
