/* A few lines of TAP for the C unit tests: ok(cond, name); done_testing(). */
#ifndef RM_TAP_H
#define RM_TAP_H

#include <stdio.h>
#include <string.h>

static int tap_n, tap_failed;

#define ok(cond, ...) do { \
	int ok_c_ = (cond) ? 1 : 0; \
	tap_n++; \
	if (!ok_c_) tap_failed++; \
	printf("%sok %d - ", ok_c_ ? "" : "not ", tap_n); \
	printf(__VA_ARGS__); \
	printf("\n"); \
	if (!ok_c_) printf("#   at %s:%d\n", __FILE__, __LINE__); \
} while (0)

#define is_str(got, want, ...) do { \
	const char *g_ = (got), *w_ = (want); \
	int c_ = g_ && w_ && strcmp(g_, w_) == 0; \
	ok(c_, __VA_ARGS__); \
	if (!c_) printf("#   got \"%s\", want \"%s\"\n", g_ ? g_ : "(null)", w_ ? w_ : "(null)"); \
} while (0)

static int
done_testing(void)
{
	printf("1..%d\n", tap_n);
	return tap_failed ? 1 : 0;
}

#endif
