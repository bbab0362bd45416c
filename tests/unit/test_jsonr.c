/*
 * The fast JSON reader (rm_jsonr) against jansson's json_loadb: on random
 * documents, the same documents mutated byte by byte, and the corners of
 * the grammar, rm_json_loadb must answer what json_loadb answers: the same
 * tree (types, key order, values), the same position, and on malformed
 * input the same error (text, line, column, position).
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rm_jsonr.h"
#include "jsongen.h"
#include "tap.h"

/* Both readers on the same bytes: 1 when they agree in every respect. */
static int
agree(const char *buf, size_t len, size_t flags)
{
	json_error_t a, b;
	json_t *x, *y;
	char *dx = NULL, *dy = NULL;
	int r;

	memset(&a, 0x55, sizeof(a));
	memset(&b, 0x55, sizeof(b));
	x = json_loadb(buf, len, flags, &a);
	y = rm_json_loadb(buf, len, flags, &b);
	if (x == NULL || y == NULL)
		r = x == y && strcmp(a.text, b.text) == 0 && a.line == b.line &&
		    a.column == b.column && a.position == b.position &&
		    strcmp(a.source, b.source) == 0;
	else {
		const size_t df = JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(17);
		dx = json_dumps(x, df);
		dy = json_dumps(y, df);
		r = dx && dy && strcmp(dx, dy) == 0 && a.position == b.position &&
		    a.line == b.line && a.column == b.column && strcmp(a.text, b.text) == 0 &&
		    strcmp(a.source, b.source) == 0;
	}
	if (!r)
		printf("#   input %.*s\n#   jansson %s (%s) fast %s (%s)\n", (int)len, buf,
		    dx ? dx : "-", a.text, dy ? dy : "-", b.text);
	free(dx);
	free(dy);
	json_decref(x);
	json_decref(y);
	return r;
}

static const size_t flagsets[] = {
	0,
	JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL,
	JSON_DISABLE_EOF_CHECK | JSON_REJECT_DUPLICATES | JSON_DECODE_ANY,
	JSON_DISABLE_EOF_CHECK,
	JSON_DECODE_ANY,
	JSON_DECODE_INT_AS_REAL,	/* not handled: must fall back */
};
#define NFLAGS (sizeof(flagsets) / sizeof(flagsets[0]))

static int
agree_all(const char *s)
{
	size_t f;
	int r = 1;

	for (f = 0; f < NFLAGS; f++)
		r &= agree(s, strlen(s), flagsets[f]);
	return r;
}

int
main(void)
{
	static const char *corners[] = {
		"{}", "[]", " {\"a\":1} ", "{\"a\":1}\n{\"b\":2}", "{\"a\":1,\"a\":2}",
		"[\"\\u0000\"]", "{\"a\\u0000b\":1}", "[\"\\ud83d\\ude00\"]", "[\"\\ud83d\"]",
		"[\"\\ude00\"]", "[\"\\ud83dx\"]", "[\"\\uD83D\\uDE00\\u00e9\\/\\b\\f\\n\\r\\t\"]",
		"[\"\\x\"]", "[\"\\u12\"]", "[\"a\tb\"]", "[\"\xc3\"]", "[\"\xc0\x80\"]",
		"[\"\xed\xa0\x80\"]", "[\"\xf4\x90\x80\x80\"]", "[9223372036854775807]",
		"[9223372036854775808]", "[-9223372036854775808]", "[-9223372036854775809]",
		"[1e400]", "[-1e400]", "[1e-400]", "[-0]", "[-0.0]", "[01]", "[1.]", "[.5]",
		"[1e]", "[1e+]", "[1E+2]", "[+1]", "[-]", "[1.5.3]", "1.5.3", "true1", "truex",
		"[true1]", "[truex]", "nul", "null", "  42  ", "42", "\"s\"", "[1,]", "{\"a\":1,}",
		"{\"a\" 1}", "{1:2}", "[1 2]", "[", "{", "{\"a\":", "", "   ", "\xef\xbb\xbf{}",
		"[\"a\"\"b\"]", "[1\"a\"]", "{\"a\":1}x", "{\"a\":1} x", "[1]\0", "[nan]",
		"[Infinity]", "[\"\x7f\"]", "{\"\":0}", "[[[[[]]]]]", "[1e308, 2.5e-308, 4.9e-324]",
	};
	size_t i, f, bad;
	static char buf[65536];

	for (i = 0, bad = 0; i < sizeof(corners) / sizeof(corners[0]); i++)
		bad += !agree_all(corners[i]);
	ok(bad == 0, "%zu corner cases agree under every flag set", sizeof(corners) / sizeof(corners[0]));
	bad = !agree("[1]\0[2]", 7, 0) + !agree("[1]\0[2]", 7, JSON_DISABLE_EOF_CHECK);
	ok(bad == 0, "a NUL byte after the value");

	/* random documents, written every way jansson writes */
	for (i = 0, bad = 0; i < 4000; i++) {
		static const size_t wf[] = { JSON_COMPACT, JSON_INDENT(2), JSON_ENSURE_ASCII,
			JSON_ESCAPE_SLASH | JSON_COMPACT, JSON_INDENT(1) | JSON_ENSURE_ASCII };
		json_t *v = rnd_tree(0);
		char *s = json_dumps(v, wf[i % 5] | JSON_ENCODE_ANY);
		for (f = 0; s != NULL && f < NFLAGS; f++)
			bad += !agree(s, strlen(s), flagsets[f]);
		free(s);
		json_decref(v);
	}
	ok(bad == 0, "4000 random documents agree under every flag set");

	/* the same, mutated: malformed input must give jansson's own error */
	for (i = 0, bad = 0; i < 20000; i++) {
		static const char alpha[] = "{}[]\":,\\u0123456789.eE+-tfnrl \n\x01\xc3\xa9\xff";
		json_t *v = rnd_tree(0);
		char *s = json_dumps(v, (i % 2 ? JSON_INDENT(2) : JSON_COMPACT) | JSON_ENCODE_ANY |
		    (i % 3 ? 0 : JSON_ENSURE_ASCII));
		size_t n = s ? strlen(s) : sizeof(buf), k, m = 1 + rnd(3);
		if (n >= sizeof(buf) - 8) {
			free(s);
			json_decref(v);
			continue;
		}
		memcpy(buf, s, n);
		for (k = 0; k < m; k++) {
			size_t at = rnd((unsigned)n + 1);
			switch (rnd(3)) {
			case 0:	/* replace */
				if (at < n)
					buf[at] = alpha[rnd(sizeof(alpha) - 1)];
				break;
			case 1:	/* delete */
				if (at < n) {
					memmove(buf + at, buf + at + 1, n - at - 1);
					n--;
				}
				break;
			default:	/* insert */
				memmove(buf + at + 1, buf + at, n - at);
				buf[at] = alpha[rnd(sizeof(alpha) - 1)];
				n++;
			}
		}
		bad += !agree(buf, n, flagsets[i % NFLAGS]);
		free(s);
		json_decref(v);
	}
	ok(bad == 0, "20000 mutated documents: the same tree or the same error");

	/* deeper than the fast reader goes: jansson decides, to its own limit */
	for (f = 0; f < 2; f++) {
		size_t depth = f ? 3000 : 1500;
		char *deep = malloc(2 * depth + 1);
		memset(deep, '[', depth);
		memset(deep + depth, ']', depth);
		deep[2 * depth] = '\0';
		ok(agree(deep, 2 * depth, 0), "%zu nested arrays", depth);
		free(deep);
	}
	return done_testing();
}
