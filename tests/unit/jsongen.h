/*
 * Random jansson trees for the JSON reader and writer tests: strings with
 * what needs escaping (quotes, controls, slashes, UTF-8, NUL), reals of
 * every magnitude, integers at their limits, objects and arrays nested.
 */
#ifndef RM_JSONGEN_H
#define RM_JSONGEN_H

#include <math.h>
#include <stdint.h>
#include <string.h>
#include <jansson.h>

static unsigned rng = 15;

static unsigned
rnd(unsigned n)
{
	rng = rng * 1103515245u + 12345u;
	return n ? (rng >> 8) % n : 0;
}

/* Strings with what needs escaping: quotes, controls, slashes, UTF-8, NUL. */
static void
rnd_text(char *b, size_t *len)
{
	static const char *bits[] = { "a", "gpu", "memory_gb", "\"", "\\", "/", "\n", "\t",
		"\b", "\f", "\r", "\x01", "\x1f", "\x7f", "\xc3\xa9", "\xe2\x82\xac",
		"\xf0\x9f\x98\x80", " ", "Z", "0", "{}", ",:" };
	size_t n = 0, k = rnd(6), i;

	for (i = 0; i < k; i++) {
		const char *p = bits[rnd(sizeof(bits) / sizeof(bits[0]))];
		memcpy(b + n, p, strlen(p));
		n += strlen(p);
	}
	if (rnd(20) == 0)
		b[n++] = '\0';	/* an embedded NUL */
	*len = n;
}

static double
rnd_real(void)
{
	static const double v[] = { 0, -0.0, 1, 0.1, 2.5, 1e-7, 1e21, 1e300, -1e-300, 123456789.125,
		721.00001, 0.1 + 0.2, 5e-324, 1.7976931348623157e308, 100, 1e15, 1e16, 1e17 };
	double x = v[rnd(sizeof(v) / sizeof(v[0]))];

	if (rnd(2))
		x *= (double)rnd(100000) / 977.0;
	return rnd(2) ? -x : x;
}

static json_t *
rnd_tree(int depth)
{
	unsigned k = depth > 4 ? rnd(6) : rnd(8);
	char b[256];
	size_t len, i, n;
	json_t *v;

	switch (k) {
	case 0: return json_null();
	case 1: return json_boolean(rnd(2));
	case 2: {
		static const json_int_t iv[] = { 0, 1, -1, 42, INT64_MAX, INT64_MIN, 1000000007 };
		json_int_t x = iv[rnd(7)], d = (json_int_t)rnd(3);
		/* near the limits, toward zero: no signed overflow */
		return json_integer(x < 0 ? x + d : x - d);
	}
	case 3: return json_real(rnd_real());
	case 4: case 5:
		rnd_text(b, &len);
		return json_stringn(b, len);
	case 6:
		v = json_array();
		for (i = 0, n = rnd(5); i < n; i++)
			json_array_append_new(v, rnd_tree(depth + 1));
		return v;
	default:
		v = json_object();
		for (i = 0, n = rnd(22); i < n; i++) {
			rnd_text(b, &len);
			json_object_setn_new(v, b, len, rnd_tree(depth + 1));
		}
		return v;
	}
}

#endif
