/*
 * The checkpoint relay's markers as the runner reads them: which checkpoint
 * an attempt's log gives after a failure, and failure messages without them.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rm_run_int.h"
#include "tap.h"

#define M RM_RUN_RELAY_MARK

/* The log with text as its content, scanned: input in_len, output out_len. */
static struct rm_run_ckpt
scan(const char *text, long long in_len, long long out_len)
{
	char path[] = "/tmp/test_run_relay.XXXXXX";
	struct rm_run_ckpt ck;
	int fd = mkstemp(path);

	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text)) {
		perror("mkstemp");
		exit(2);
	}
	rm_run_relay_scan(fd, in_len, out_len, &ck);
	close(fd);
	unlink(path);
	return ck;
}

int
main(void)
{
	struct rm_run_ckpt ck;
	char buf[256];
	size_t n;

	ck = scan("starting\n" M "7 10\n" M "14 20\nwork\n" M "21 30\n", 100, 1000);
	ok(ck.in == 21 && ck.out == 30 && ck.count == 3 && !ck.bad && !ck.late,
	    "the last of three markers among log lines");

	ck = scan(M "7 10\n" M "14 20\n" M "21 30\n", 100, 25);
	ok(ck.in == 14 && ck.out == 20 && ck.late == 1,
	    "a marker whose output did not all arrive is not used (late: 1)");

	ck = scan(M "7 10\n" M "14 40\n" M "21 30\n", 100, 35);
	ok(ck.in == 7 && ck.out == 10 && ck.late == 1 && ck.bad == 0,
	    "nothing after a late marker is used");

	ck = scan("half a line" M "7 10\n rest of it\n", 100, 1000);
	ok(ck.in == 7 && ck.out == 10, "a marker in the middle of the node's own line");

	ck = scan(M "x7 10\n" M "7 10\n" M "5 12\n" M "200 14\n" M "8 9 10\n", 100, 1000);
	ok(ck.in == 7 && ck.out == 10 && ck.bad == 4 && strcmp(ck.bad_line, "x7 10") == 0,
	    "not a number, decreasing input, beyond the input, extra words: bad (%d, '%s')",
	    ck.bad, ck.bad_line);

	ck = scan("no markers at all\n\036remotemedia-check\n", 100, 1000);
	ok(ck.count == 0 && ck.in == 0 && ck.out == 0, "no marker: no checkpoint");

	ck = scan(M "7 10", 100, 1000);
	ok(ck.count == 0, "a marker cut short (no newline) is not used");

	snprintf(buf, sizeof(buf), "error: one\n" M "7 10\nhalf" M "9 12\n done\n" M "11 14\n");
	n = rm_run_relay_strip(buf, strlen(buf));
	is_str(buf, "error: one\nhalf done\n", "strip leaves the node's words only");
	ok(n == strlen("error: one\nhalf done\n"), "strip: the new length");

	return done_testing();
}
