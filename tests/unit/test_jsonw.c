/*
 * The fast JSON writer (rm_jsonw) against jansson's json_dumps on random
 * trees: every flag combination the tools use must give the same bytes, and
 * where it cannot (a string that is not valid UTF-8, a flag it does not
 * know) it must decline rather than write something else.
 */
#include "config.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rm_jsonw.h"
#include "jsongen.h"
#include "tap.h"

static int
same(const json_t *v, size_t flags)
{
	char *a = json_dumps(v, flags), *b;
	size_t n = 0;
	int r;

	b = rm_jsonw_dumps_fast(v, flags, &n);
	r = (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0 && n == strlen(a));
	if (!r)
		printf("#   jansson %s\n#   fast    %s\n", a ? a : "(null)", b ? b : "(null)");
	free(a);
	free(b);
	return r;
}

int
main(void)
{
	static const size_t flags[] = {
		JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY,
		JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY | JSON_REAL_PRECISION(15),
		JSON_INDENT(2) | JSON_SORT_KEYS | JSON_ENCODE_ANY | JSON_REAL_PRECISION(15),
		JSON_SORT_KEYS | JSON_ENCODE_ANY | JSON_REAL_PRECISION(10),
		JSON_COMPACT,
		JSON_INDENT(3) | JSON_ESCAPE_SLASH | JSON_REAL_PRECISION(4),
		0,
	};
	size_t f, i, bad = 0;
	json_t *v, *o;
	char *s;

	for (f = 0; f < sizeof(flags) / sizeof(flags[0]); f++) {
		for (i = 0, bad = 0; i < 3000; i++) {
			v = rnd_tree(0);
			if (!same(v, flags[f]) && bad++ == 0)
				printf("#   tree %zu\n", i);
			json_decref(v);
		}
		ok(bad == 0, "flags %#zx: same bytes as json_dumps on 3000 random trees", flags[f]);
	}

	/* reals: printf's digits, from the fast path or printf itself */
	for (f = 0; f < 4; f++) {
		static const int prec[] = { 15, 17, 10, 16 };
		for (i = 0, bad = 0; i < 200000; i++) {
			union { uint64_t u; double d; } x;
			double r;
			switch (i % 4) {
			case 0:	/* any bit pattern */
				x.u = ((uint64_t)rnd(1u << 31) << 33) ^ ((uint64_t)rnd(1u << 31) << 2) ^ rnd(4);
				r = x.d;
				break;
			case 1:	/* decimals as people write them */
				r = (double)rnd(1000000) / pow(10, rnd(9)) + rnd(4000);
				break;
			case 2:	/* ties and near ties of the last digit */
				r = (double)rnd(100000000) * 5 / pow(10, rnd(18));
				break;
			default:	/* integers and sums like the bench's */
				r = 2 + rnd(900) + (double)rnd(100000) / 1e5;
				break;
			}
			if (!isfinite(r))
				continue;
			v = json_real(i % 8 == 1 ? -r : r);
			if (!same(v, JSON_ENCODE_ANY | JSON_REAL_PRECISION(prec[f])) && bad++ == 0)
				printf("#   real %.17g\n", r);
			json_decref(v);
		}
		ok(bad == 0, "precision %d: 200000 reals as json_dumps writes them", prec[f]);
	}

	/* a top level that is not a container without JSON_ENCODE_ANY: declined as jansson does */
	v = json_integer(3);
	ok(rm_jsonw_dumps_fast(v, JSON_COMPACT, NULL) == NULL, "a bare number needs JSON_ENCODE_ANY");
	json_decref(v);

	/* a string that is not UTF-8: declined, as json_dumps declines */
	o = json_object();
	json_object_set_new(o, "k", json_stringn_nocheck("\xc0\x80", 2));
	ok(rm_jsonw_dumps_fast(o, JSON_COMPACT, NULL) == NULL, "an overlong UTF-8 string declined");
	ok(json_dumps(o, JSON_COMPACT) == NULL, "json_dumps declines it too");
	json_object_set_new(o, "k", json_stringn_nocheck("\xed\xa0\x80", 3));
	ok(rm_jsonw_dumps_fast(o, JSON_COMPACT, NULL) == NULL, "a UTF-8 surrogate declined");
	json_decref(o);

	/* a flag it does not know: declined; the fallback answers jansson's text */
	v = json_pack("{s:s}", "e", "\xc3\xa9");
	ok(rm_jsonw_dumps_fast(v, JSON_COMPACT | JSON_ENSURE_ASCII, NULL) == NULL,
	    "JSON_ENSURE_ASCII declined");
	s = rm_jsonw_dumps(v, JSON_COMPACT | JSON_ENSURE_ASCII, NULL);
	is_str(s, "{\"e\":\"\\u00E9\"}", "rm_jsonw_dumps falls back on json_dumps");
	free(s);
	json_decref(v);

	/* deep nesting: the same bytes as deep as the parser goes */
	v = json_array();
	o = v;
	for (i = 0; i < 2048; i++) {
		json_t *in = json_array();
		json_array_append_new(o, in);
		o = in;
	}
	ok(same(v, JSON_INDENT(2)), "2048 nested arrays");
	json_decref(v);
	return done_testing();
}
