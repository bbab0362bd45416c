/*
 * A JSON reader for large inputs (a pipeline of ten thousand nodes, a
 * hundred thousand adverts in JSON lines): the tree jansson's json_loadb
 * builds, read in one pass over the buffer instead of jansson's stream of
 * characters. It accepts only what it is sure jansson accepts the same way;
 * anything else (malformed input, an escape it does not handle, a number
 * out of range, a very deep tree) goes to json_loadb itself, so that every
 * error, with its line, column and text, is jansson's.
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rm_jsonr.h"
#include "rm_jsonw.h"

#define JR_MAX_DEPTH 1024	/* jansson's limit is 2048: deeper goes to it */
#define JR_FLAGS (JSON_REJECT_DUPLICATES | JSON_DISABLE_EOF_CHECK | JSON_DECODE_ANY | \
	JSON_ALLOW_NUL)

static json_t *jr_value(struct rm_jr *r, int depth);


void
rm_jr_ws(struct rm_jr *r)
{
	while (r->p < r->end && (*r->p == ' ' || *r->p == '\n' || *r->p == '\t' || *r->p == '\r'))
		r->p++;
}

static int
hex4(const char *p, uint32_t *out)
{
	uint32_t v = 0;
	int i;

	for (i = 0; i < 4; i++) {
		char c = p[i];
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (uint32_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (uint32_t)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (uint32_t)(c - 'A' + 10);
		else
			return -1;
	}
	*out = v;
	return 0;
}

static int
tmp_room(struct rm_jr *r, size_t need)
{
	return rm_buf_reserve(&r->tmp, &r->tmpcap, 0, need);
}

/* One \uXXXX (or a surrogate pair) at p (past the backslash and 'u') into d. */
static int
unicode_escape(struct rm_jr *r, const char **pp, char **dp)
{
	const char *p = *pp;
	char *d = *dp;
	uint32_t c, lo;

	if (r->end - p < 4 || hex4(p, &c) != 0)
		return -1;
	p += 4;
	if (c >= 0xDC00 && c <= 0xDFFF)
		return -1;
	if (c >= 0xD800 && c <= 0xDBFF) {
		if (r->end - p < 6 || p[0] != '\\' || p[1] != 'u' || hex4(p + 2, &lo) != 0 ||
		    lo < 0xDC00 || lo > 0xDFFF)
			return -1;
		p += 6;
		c = 0x10000 + ((c - 0xD800) << 10) + (lo - 0xDC00);
	}
	if (c == 0 && !(r->flags & JSON_ALLOW_NUL))
		return -1;
	if (c < 0x80)
		*d++ = (char)c;
	else if (c < 0x800) {
		*d++ = (char)(0xC0 | (c >> 6));
		*d++ = (char)(0x80 | (c & 0x3F));
	} else if (c < 0x10000) {
		*d++ = (char)(0xE0 | (c >> 12));
		*d++ = (char)(0x80 | ((c >> 6) & 0x3F));
		*d++ = (char)(0x80 | (c & 0x3F));
	} else {
		*d++ = (char)(0xF0 | (c >> 18));
		*d++ = (char)(0x80 | ((c >> 12) & 0x3F));
		*d++ = (char)(0x80 | ((c >> 6) & 0x3F));
		*d++ = (char)(0x80 | (c & 0x3F));
	}
	*pp = p;
	*dp = d;
	return 0;
}

/*
 * The string at r->p (its opening quote): *s and *len its bytes, in the
 * input when it has no escape, else in r->tmp. -1 where jansson decides.
 */
int
rm_jr_string(struct rm_jr *r, const char **s, size_t *len)
{
	const unsigned char *p = (const unsigned char *)r->p + 1, *end = (const unsigned char *)r->end;
	const char *q;
	char *d;

	/* eight bytes at a time while none is a quote, backslash, control or not ASCII */
	while (end - p >= 8) {
		uint64_t w, ones = 0x0101010101010101ULL, high = 0x8080808080808080ULL, dq, bs;
		memcpy(&w, p, 8);
		dq = w ^ (ones * '"');
		bs = w ^ (ones * '\\');
		if ((((dq - ones) & ~dq) | ((bs - ones) & ~bs) | ((w - ones * 0x20) & ~w) | w) & high)
			break;
		p += 8;
	}
	while (p < end && *p != '"' && *p != '\\') {
		if (*p < 0x20)
			return -1;
		if (*p >= 0x80) {
			size_t u = rm_utf8_len(p, (size_t)(end - p));
			if (u == 0)
				return -1;
			p += u;
		} else
			p++;
	}
	if (p >= end)
		return -1;
	if (*p == '"') {
		*s = r->p + 1;
		*len = (size_t)((const char *)p - (r->p + 1));
		r->p = (const char *)p + 1;
		return 0;
	}
	/* escapes: decode into tmp (never longer than the string's input) */
	q = (const char *)p;
	while (q < r->end && *q != '"')
		q += *q == '\\' ? 2 : 1;
	if (q >= r->end || tmp_room(r, (size_t)(q - r->p)) != 0)
		return -1;
	q = r->p + 1;
	d = r->tmp;
	while (q < r->end && *q != '"') {
		unsigned char c = (unsigned char)*q;
		if (c < 0x20)
			return -1;
		if (c >= 0x80) {
			size_t u = rm_utf8_len((const unsigned char *)q, (size_t)(r->end - q));
			if (u == 0)
				return -1;
			memcpy(d, q, u);
			d += u;
			q += u;
			continue;
		}
		if (c != '\\') {
			*d++ = *q++;
			continue;
		}
		if (++q >= r->end)
			return -1;
		switch (*q++) {
		case '"': *d++ = '"'; break;
		case '\\': *d++ = '\\'; break;
		case '/': *d++ = '/'; break;
		case 'b': *d++ = '\b'; break;
		case 'f': *d++ = '\f'; break;
		case 'n': *d++ = '\n'; break;
		case 'r': *d++ = '\r'; break;
		case 't': *d++ = '\t'; break;
		case 'u':
			if (unicode_escape(r, &q, &d) != 0)
				return -1;
			break;
		default:
			return -1;
		}
	}
	if (q >= r->end)
		return -1;
	*s = r->tmp;
	*len = (size_t)(d - r->tmp);
	r->p = q + 1;
	return 0;
}

static int
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/*
 * The number in [s, end) (well-formed) without strtoll or strtod where the
 * answer is sure to be theirs: an integer of at most 18 digits; a real of
 * at most 15 digits scaled by at most 10^22, which one multiplication or
 * division of two exact doubles rounds correctly, as strtod does. -1 else.
 */
static int
jr_num_quick(const char *s, const char *end, int real, long long *iv, double *dv)
{
	static const double p10[] = { 1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10,
		1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22 };
	int neg = *s == '-', digits = 0, frac = 0, e10 = 0, eneg = 0;
	uint64_t m = 0;

	s += neg;
	for (; s < end && is_digit(*s); s++, digits++)
		m = m * 10 + (uint64_t)(*s - '0');
	if (s < end && *s == '.')
		for (s++; s < end && is_digit(*s); s++, digits++, frac++)
			m = m * 10 + (uint64_t)(*s - '0');
	if (s < end) {		/* the exponent */
		s++;
		if (*s == '+' || *s == '-')
			eneg = *s++ == '-';
		for (; s < end; s++) {
			if (e10 > 1000)
				return -1;
			e10 = e10 * 10 + (*s - '0');
		}
	}
	if (!real) {
		if (digits > 18)
			return -1;
		*iv = neg ? -(long long)m : (long long)m;
		return 0;
	}
	if (digits > 15)
		return -1;
	e10 = (eneg ? -e10 : e10) - frac;
	if (e10 < -22 || e10 > 22)
		return -1;
	*dv = e10 < 0 ? (double)m / p10[-e10] : (double)m * p10[e10];
	if (neg)
		*dv = -*dv;
	return 0;
}

/*
 * A number as jansson's lexer reads it, then strtoll or strtod: 0 and *real
 * says which of *iv / *dv holds it; -1 where jansson decides (a malformed
 * number, one out of range).
 */
static int
jr_numtok(struct rm_jr *r, int *real, long long *iv, double *dv)
{
	const char *p = r->p, *start = p;
	char buf[64], *end;

	*real = 0;
	if (p < r->end && *p == '-')
		p++;
	if (p >= r->end || !is_digit(*p))
		return -1;
	if (*p == '0') {
		p++;
		if (p < r->end && is_digit(*p))
			return -1;
	} else
		while (p < r->end && is_digit(*p))
			p++;
	if (p < r->end && *p == '.') {
		*real = 1;
		if (++p >= r->end || !is_digit(*p))
			return -1;
		while (p < r->end && is_digit(*p))
			p++;
	}
	if (p < r->end && (*p == 'e' || *p == 'E')) {
		*real = 1;
		if (++p < r->end && (*p == '+' || *p == '-'))
			p++;
		if (p >= r->end || !is_digit(*p))
			return -1;
		while (p < r->end && is_digit(*p))
			p++;
	}
	if (jr_num_quick(start, p, *real, iv, dv) == 0) {
		r->p = p;
		return 0;
	}
	if ((size_t)(p - start) >= sizeof(buf))
		return -1;
	memcpy(buf, start, (size_t)(p - start));
	buf[p - start] = '\0';
	errno = 0;
	r->p = p;
	if (!*real) {
		*iv = strtoll(buf, &end, 10);
		if (errno == ERANGE || *end != '\0')
			return -1;
	} else {
		*dv = strtod(buf, &end);
		if ((errno == ERANGE && (*dv > 1 || *dv < -1)) || *end != '\0')
			return -1;	/* overflow: jansson's error */
	}
	return 0;
}

static json_t *
jr_number(struct rm_jr *r)
{
	long long iv = 0;
	double dv = 0;
	int real;

	if (jr_numtok(r, &real, &iv, &dv) != 0)
		return NULL;
	return real ? json_real(dv) : json_integer((json_int_t)iv);
}

/* The value has ended where the next byte cannot continue its token. */
static int
token_ends(const struct rm_jr *r)
{
	char c;

	if (r->p >= r->end)
		return 1;
	c = *r->p;
	return c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == ',' || c == ']' ||
	    c == '}' || c == ':';
}

/* After a member: 1 at ',' (another follows), 0 at closer (consumed), -1 else. */
int
rm_jr_after(struct rm_jr *r, char closer)
{
	rm_jr_ws(r);
	if (r->p < r->end && *r->p == ',') {
		r->p++;
		rm_jr_ws(r);
		return 1;
	}
	if (r->p < r->end && *r->p == closer) {
		r->p++;
		return 0;
	}
	return -1;
}

/* The opening bracket consumed; 1 if the closer follows at once (consumed). */
int
rm_jr_open(struct rm_jr *r, char closer)
{
	r->p++;
	rm_jr_ws(r);
	if (r->p < r->end && *r->p == closer) {
		r->p++;
		return 1;
	}
	return 0;
}

static json_t *
jr_object(struct rm_jr *r, int depth)
{
	json_t *o = json_object(), *v;
	const char *k;
	size_t klen;

	if (rm_jr_open(r, '}'))
		return o;
	for (;;) {
		if (r->p >= r->end || *r->p != '"' || rm_jr_string(r, &k, &klen) != 0 ||
		    memchr(k, '\0', klen) != NULL)
			goto fail;
		if ((r->flags & JSON_REJECT_DUPLICATES) && json_object_getn(o, k, klen) != NULL)
			goto fail;
		/* the key is copied before r->tmp serves the value */
		{
			char small[128], *key = klen < sizeof(small) ? small : malloc(klen + 1);
			int bad;
			if (key == NULL)
				goto fail;
			memcpy(key, k, klen);
			rm_jr_ws(r);
			bad = r->p >= r->end || *r->p != ':';
			if (!bad) {
				r->p++;
				rm_jr_ws(r);
				v = jr_value(r, depth + 1);
				bad = v == NULL || json_object_setn_new_nocheck(o, key, klen, v) != 0;
			}
			if (key != small)
				free(key);
			if (bad)
				goto fail;
		}
		switch (rm_jr_after(r, '}')) {
		case 1:
			continue;
		case 0:
			return o;
		default:
			goto fail;
		}
	}
fail:
	json_decref(o);
	return NULL;
}

static json_t *
jr_array(struct rm_jr *r, int depth)
{
	json_t *a = json_array(), *v;

	if (rm_jr_open(r, ']'))
		return a;
	for (;;) {
		if ((v = jr_value(r, depth + 1)) == NULL || json_array_append_new(a, v) != 0)
			goto fail;
		switch (rm_jr_after(r, ']')) {
		case 1:
			continue;
		case 0:
			return a;
		default:
			goto fail;
		}
	}
fail:
	json_decref(a);
	return NULL;
}

static json_t *
jr_literal(struct rm_jr *r, const char *word, json_t *v)
{
	size_t n = strlen(word);

	if ((size_t)(r->end - r->p) < n || memcmp(r->p, word, n) != 0)
		return NULL;
	r->p += n;
	/*
	 * jansson reads on past the word ("truex" is one bad token, a byte
	 * not UTF-8 an error): what may follow a value, or it decides
	 */
	return token_ends(r) ? v : NULL;
}

static json_t *
jr_value(struct rm_jr *r, int depth)
{
	const char *s;
	size_t len;
	json_t *v;

	if (depth > JR_MAX_DEPTH || r->p >= r->end)
		return NULL;
	switch (*r->p) {
	case '{':
		return jr_object(r, depth);
	case '[':
		return jr_array(r, depth);
	case '"':
		if (rm_jr_string(r, &s, &len) != 0)
			return NULL;
		return json_stringn_nocheck(s, len);
	case 't':
		return jr_literal(r, "true", json_true());
	case 'f':
		return jr_literal(r, "false", json_false());
	case 'n':
		return jr_literal(r, "null", json_null());
	default:
		v = jr_number(r);
		if (v != NULL && !token_ends(r)) {
			json_decref(v);
			return NULL;
		}
		return v;
	}
}

/* ---- the lexer, for readers that fill their own structures ---------- */

int
rm_jr_number(struct rm_jr *r, double *v)
{
	long long iv = 0;
	double dv = 0;
	int real;

	if (jr_numtok(r, &real, &iv, &dv) != 0 || !token_ends(r))
		return -1;
	*v = real ? dv : (double)iv;	/* json_number_value's */
	return 0;
}

int
rm_jr_word(struct rm_jr *r, const char *word)
{
	size_t n = strlen(word);

	if ((size_t)(r->end - r->p) < n || memcmp(r->p, word, n) != 0)
		return -1;
	r->p += n;
	return token_ends(r) ? 0 : -1;
}

json_t *
rm_jr_value(struct rm_jr *r)
{
	return jr_value(r, 1);
}

void
rm_jr_init(struct rm_jr *r, const char *buf, size_t len, size_t flags)
{
	r->p = buf;
	r->end = buf + len;
	r->flags = flags;
}

void
rm_jr_release(struct rm_jr *r)
{
	free(r->tmp);
	r->tmp = NULL;
	r->tmpcap = 0;
}

json_t *
rm_json_loadb_fast(const char *buf, size_t len, size_t flags, json_error_t *je)
{
	struct rm_jr r = { 0 };
	json_t *v;

	if ((flags & ~(size_t)JR_FLAGS) != 0 || buf == NULL || len > (size_t)INT32_MAX)
		return NULL;
	rm_jr_init(&r, buf, len, flags);
	rm_jr_ws(&r);
	if (r.p >= r.end || (!(flags & JSON_DECODE_ANY) && *r.p != '{' && *r.p != '['))
		return NULL;
	v = jr_value(&r, 1);
	if (v != NULL && !(flags & JSON_DISABLE_EOF_CHECK)) {
		rm_jr_ws(&r);
		if (r.p != r.end) {
			json_decref(v);
			v = NULL;
		}
	}
	rm_jr_release(&r);
	if (v != NULL && je != NULL) {
		/* what json_loadb leaves in it on success */
		memset(je, 0, sizeof(*je));
		je->line = -1;
		je->column = -1;
		je->position = (int)(r.p - buf);
		snprintf(je->source, sizeof(je->source), "%s", "<buffer>");
	}
	return v;
}

json_t *
rm_json_loadb(const char *buf, size_t len, size_t flags, json_error_t *je)
{
	json_t *v = rm_json_loadb_fast(buf, len, flags, je);

	return v != NULL ? v : json_loadb(buf, len, flags, je);
}
