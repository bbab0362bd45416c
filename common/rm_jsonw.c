/*
 * A JSON writer for large trees (plans of ten thousand nodes): the same
 * bytes as jansson's json_dumps for the flags below, written into one
 * growing buffer without a callback per token. Where it cannot promise the
 * same bytes (other flags, a string that is not valid UTF-8, a tree deeper
 * than RM_JSONW_MAX_DEPTH) it says so and the caller uses jansson.
 */
#include "config.h"

#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rm_jsonw.h"

#define RM_JSONW_MAX_DEPTH 2100	/* past jansson's parser limit, 2048 */
#define FLAG_INDENT(f) ((f) & 0x1F)
#define FLAG_PRECISION(f) (((f) >> 11) & 0x1F)

struct jw {
	char *buf;
	size_t n, cap;
	size_t flags;
	int failed;
};

struct jw_key {
	const char *key;
	size_t len;
	json_t *value;
};

int
rm_buf_reserve(char **buf, size_t *cap, size_t used, size_t more)
{
	size_t c = *cap ? *cap : 256;
	char *nb;

	if (*cap - used >= more && *buf != NULL)
		return 0;
	while (c - used < more) {
		if (c > SIZE_MAX / 2)
			return -1;
		c *= 2;
	}
	if ((nb = realloc(*buf, c)) == NULL)
		return -1;
	*buf = nb;
	*cap = c;
	return 0;
}

static void
jw_put(struct jw *w, const char *s, size_t len)
{
	if (w->failed)
		return;
	if (w->cap - w->n < len && rm_buf_reserve(&w->buf, &w->cap, w->n, len) != 0) {
		w->failed = 1;
		return;
	}
	memcpy(w->buf + w->n, s, len);
	w->n += len;
}

static void
jw_indent(struct jw *w, int depth, int space)
{
	size_t k = (size_t)FLAG_INDENT(w->flags) * (size_t)depth;

	if (FLAG_INDENT(w->flags) > 0) {
		jw_put(w, "\n", 1);
		while (k > 0 && !w->failed) {
			static const char sp[] = "                                ";
			size_t c = k < sizeof(sp) - 1 ? k : sizeof(sp) - 1;
			jw_put(w, sp, c);
			k -= c;
		}
	} else if (space && !(w->flags & JSON_COMPACT))
		jw_put(w, " ", 1);
}

size_t
rm_utf8_len(const unsigned char *p, size_t left)
{
	uint32_t c;
	size_t n, i;

	if (p[0] >= 0xC2 && p[0] <= 0xDF)
		n = 2, c = p[0] & 0x1F;
	else if (p[0] >= 0xE0 && p[0] <= 0xEF)
		n = 3, c = p[0] & 0x0F;
	else if (p[0] >= 0xF0 && p[0] <= 0xF4)
		n = 4, c = p[0] & 0x07;
	else
		return 0;
	if (n > left)
		return 0;
	for (i = 1; i < n; i++) {
		if ((p[i] & 0xC0) != 0x80)
			return 0;
		c = (c << 6) | (p[i] & 0x3F);
	}
	if ((n == 3 && c < 0x800) || (n == 4 && c < 0x10000) || c > 0x10FFFF ||
	    (c >= 0xD800 && c <= 0xDFFF))
		return 0;
	return n;
}

static void
jw_string(struct jw *w, const char *str, size_t len)
{
	const unsigned char *s = (const unsigned char *)str, *run = s, *end = s + len;
	char seq[8];

	jw_put(w, "\"", 1);
	while (s < end) {
		const char *text = seq;
		size_t tl = 2;
		if (*s >= 0x80) {
			size_t u = rm_utf8_len(s, (size_t)(end - s));
			if (u == 0) {
				w->failed = 1;
				return;
			}
			s += u;
			continue;
		}
		if (*s != '\\' && *s != '"' && *s >= 0x20 &&
		    !(*s == '/' && (w->flags & JSON_ESCAPE_SLASH))) {
			s++;
			continue;
		}
		jw_put(w, (const char *)run, (size_t)(s - run));
		switch (*s) {
		case '\\': text = "\\\\"; break;
		case '"': text = "\\\""; break;
		case '\b': text = "\\b"; break;
		case '\f': text = "\\f"; break;
		case '\n': text = "\\n"; break;
		case '\r': text = "\\r"; break;
		case '\t': text = "\\t"; break;
		case '/': text = "\\/"; break;
		default:
			snprintf(seq, sizeof(seq), "\\u%04X", (unsigned int)*s);
			tl = 6;
			break;
		}
		jw_put(w, text, tl);
		run = ++s;
	}
	jw_put(w, (const char *)run, (size_t)(end - run));
	jw_put(w, "\"", 1);
}

/*
 * %.*g of v in fixed notation, when that is what printf writes and the
 * digits can be had from one long double product, far enough from a
 * rounding tie that its error cannot change them; else -1 (use printf).
 */
static int
fast_g(char *b, int prec, double v)
{
#if LDBL_MANT_DIG >= 64
	static const long double p10[] = { 1e0L, 1e1L, 1e2L, 1e3L, 1e4L, 1e5L, 1e6L, 1e7L, 1e8L,
		1e9L, 1e10L, 1e11L, 1e12L, 1e13L, 1e14L, 1e15L, 1e16L, 1e17L, 1e18L, 1e19L, 1e20L,
		1e21L };
	long double a = fabs(v), sc, fl, frac, margin;
	char d[24];
	int e = -5, k, x, n = 0, i, last;
	uint64_t r, top;

	if (prec < 1 || prec > 17 || !(a >= 1e-4L) || !(a < 1e15L))
		return -1;
	while (e < 14 && a >= (e + 1 >= 0 ? p10[e + 1] : 1.0L / p10[-(e + 1)]))
		e++;
	k = prec - 1 - e;	/* a * 10^k has prec digits before the point */
	if (k > 21 || k < -21)
		return -1;
	sc = k >= 0 ? a * p10[k] : a / p10[-k];
	margin = sc * 0x1p-58L + 1e-12L;
	fl = floorl(sc);
	frac = sc - fl;
	if (fabsl(frac - 0.5L) <= margin || sc - p10[prec - 1] <= margin ||
	    p10[prec] - sc <= margin)
		return -1;
	r = (uint64_t)fl + (frac > 0.5L);
	top = (uint64_t)p10[prec];
	x = e;
	if (r >= top) {
		r /= 10;
		x++;
	}
	if (x >= prec || x < -4)
		return -1;	/* exponent notation */
	for (i = prec - 1; i >= 0; i--, r /= 10)
		d[i] = (char)('0' + r % 10);
	for (last = prec - 1; last > 0 && last > x && d[last] == '0'; last--)
		;	/* the last digit kept: trailing fraction zeros go */
	if (v < 0)
		b[n++] = '-';
	if (x < 0) {
		b[n++] = '0';
		b[n++] = '.';
		for (i = -1; i > x; i--)
			b[n++] = '0';
		for (i = 0; i <= last; i++)
			b[n++] = d[i];
	} else {
		for (i = 0; i <= x; i++)
			b[n++] = d[i];
		if (last > x) {
			b[n++] = '.';
			for (i = x + 1; i <= last; i++)
				b[n++] = d[i];
		}
	}
	b[n] = '\0';
	return n;
#else
	(void)b;
	(void)prec;
	(void)v;
	return -1;
#endif
}

int
rm_jsonw_g(char *b, size_t size, int prec, double v)
{
	int n = size >= 32 ? fast_g(b, prec, v) : -1;

	return n >= 0 ? n : snprintf(b, size, "%.*g", prec, v);
}

/* A real as jansson writes it: %.*g, then ".0" if neither '.' nor 'e', and
 * the exponent without '+' or leading zeros. */
static void
jw_real(struct jw *w, double v)
{
	char b[64], *e, *from;
	int prec = (int)FLAG_PRECISION(w->flags), n;

	if (prec == 0)
		prec = 17;
	n = rm_jsonw_g(b, sizeof(b), prec, v);
	if (n < 0 || (size_t)n + 3 >= sizeof(b)) {
		w->failed = 1;
		return;
	}
	/* the C locale is in force (rm tools never call setlocale for numbers) */
	if (strchr(b, ',') != NULL) {
		w->failed = 1;
		return;
	}
	if (strchr(b, '.') == NULL && strchr(b, 'e') == NULL) {
		memcpy(b + n, ".0", 3);
		n += 2;
	}
	if ((e = strchr(b, 'e')) != NULL) {
		char *start = e + 1;
		from = start + 1;
		if (*start == '-')
			start++;
		while (*from == '0')
			from++;
		if (from != start) {
			memmove(start, from, (size_t)(b + n - from) + 1);
			n -= (int)(from - start);
		}
	}
	jw_put(w, b, (size_t)n);
}

static void
jw_integer(struct jw *w, json_int_t v)
{
	char b[24], *p = b + sizeof(b);
	uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;

	do {
		*--p = (char)('0' + u % 10);
		u /= 10;
	} while (u != 0);
	if (v < 0)
		*--p = '-';
	jw_put(w, p, (size_t)(b + sizeof(b) - p));
}

static int
key_cmp(const void *a, const void *b)
{
	const struct jw_key *x = a, *y = b;
	size_t m = x->len < y->len ? x->len : y->len;
	int r = memcmp(x->key, y->key, m);

	if (r != 0)
		return r;
	return x->len < y->len ? -1 : x->len > y->len;
}

static void jw_value(struct jw *w, const json_t *v, int depth);

static void
jw_object(struct jw *w, const json_t *v, int depth)
{
	size_t n = json_object_size(v), i = 0;
	struct jw_key small[16], *keys = small;
	void *it;

	jw_put(w, "{", 1);
	if (n == 0) {
		jw_put(w, "}", 1);
		return;
	}
	if (n > sizeof(small) / sizeof(small[0]) && (keys = malloc(n * sizeof(*keys))) == NULL) {
		w->failed = 1;
		return;
	}
	for (it = json_object_iter((json_t *)v); it != NULL && i < n;
	    it = json_object_iter_next((json_t *)v, it), i++) {
		keys[i].key = json_object_iter_key(it);
		keys[i].len = json_object_iter_key_len(it);
		keys[i].value = json_object_iter_value(it);
	}
	n = i;
	if ((w->flags & JSON_SORT_KEYS) && n > 16)
		qsort(keys, n, sizeof(*keys), key_cmp);
	else if (w->flags & JSON_SORT_KEYS) {
		size_t j;
		for (i = 1; i < n; i++) {
			struct jw_key k = keys[i];
			for (j = i; j > 0 && key_cmp(&keys[j - 1], &k) > 0; j--)
				keys[j] = keys[j - 1];
			keys[j] = k;
		}
	}
	jw_indent(w, depth + 1, 0);
	for (i = 0; i < n && !w->failed; i++) {
		jw_string(w, keys[i].key, keys[i].len);
		if (w->flags & JSON_COMPACT)
			jw_put(w, ":", 1);
		else
			jw_put(w, ": ", 2);
		jw_value(w, keys[i].value, depth + 1);
		if (i + 1 < n) {
			jw_put(w, ",", 1);
			jw_indent(w, depth + 1, 1);
		} else
			jw_indent(w, depth, 0);
	}
	if (keys != small)
		free(keys);
	jw_put(w, "}", 1);
}

static void
jw_array(struct jw *w, const json_t *v, int depth)
{
	size_t n = json_array_size(v), i;

	jw_put(w, "[", 1);
	if (n == 0) {
		jw_put(w, "]", 1);
		return;
	}
	jw_indent(w, depth + 1, 0);
	for (i = 0; i < n && !w->failed; i++) {
		jw_value(w, json_array_get(v, i), depth + 1);
		if (i + 1 < n) {
			jw_put(w, ",", 1);
			jw_indent(w, depth + 1, 1);
		} else
			jw_indent(w, depth, 0);
	}
	jw_put(w, "]", 1);
}

static void
jw_value(struct jw *w, const json_t *v, int depth)
{
	if (w->failed)
		return;
	if (depth > RM_JSONW_MAX_DEPTH || v == NULL) {
		w->failed = 1;
		return;
	}
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		jw_object(w, v, depth);
		break;
	case JSON_ARRAY:
		jw_array(w, v, depth);
		break;
	case JSON_STRING:
		jw_string(w, json_string_value(v), json_string_length(v));
		break;
	case JSON_INTEGER:
		jw_integer(w, json_integer_value(v));
		break;
	case JSON_REAL:
		jw_real(w, json_real_value(v));
		break;
	case JSON_TRUE:
		jw_put(w, "true", 4);
		break;
	case JSON_FALSE:
		jw_put(w, "false", 5);
		break;
	case JSON_NULL:
		jw_put(w, "null", 4);
		break;
	default:
		w->failed = 1;
	}
}

char *
rm_jsonw_dumps_fast(const json_t *v, size_t flags, size_t *len)
{
	struct jw w;
	const size_t known = 0x1F | JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY |
	    JSON_ESCAPE_SLASH | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(31);

	if ((flags & ~known) != 0 || v == NULL ||
	    (!(flags & JSON_ENCODE_ANY) && !json_is_object(v) && !json_is_array(v)))
		return NULL;
	memset(&w, 0, sizeof(w));
	w.flags = flags;
	jw_value(&w, v, 0);
	jw_put(&w, "", 1);
	if (w.failed) {
		free(w.buf);
		return NULL;
	}
	if (len != NULL)
		*len = w.n - 1;
	return w.buf;
}

char *
rm_jsonw_dumps(const json_t *v, size_t flags, size_t *len)
{
	char *s = rm_jsonw_dumps_fast(v, flags, len);

	if (s != NULL)
		return s;
	if ((s = json_dumps(v, flags)) != NULL && len != NULL)
		*len = strlen(s);
	return s;
}
