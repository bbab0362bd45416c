/*
 * A fast JSON writer for large trees: the bytes jansson's json_dumps writes
 * for the same flags (indent, compact, sorted keys, encode any, escaped
 * slash, real precision).
 */
#ifndef RM_JSONW_H
#define RM_JSONW_H

#include <stddef.h>
#include <jansson.h>

/*
 * The text json_dumps(v, flags) would answer, NUL-terminated, its length in
 * *len when len is not NULL; NULL where this writer cannot promise the same
 * bytes (another flag, a string not valid UTF-8, a very deep tree) or is
 * out of memory.
 */
char *rm_jsonw_dumps_fast(const json_t *v, size_t flags, size_t *len);
/* The same, falling back on json_dumps where the fast writer declines. */
char *rm_jsonw_dumps(const json_t *v, size_t flags, size_t *len);

/*
 * Length of the UTF-8 sequence at p (its lead byte >= 0x80) when jansson
 * takes it as valid (no overlong form, surrogate or code point past
 * U+10FFFF), else 0.
 */
size_t rm_utf8_len(const unsigned char *p, size_t left);
/* snprintf(b, size, "%.*g", prec, v), faster where it can be (1 <= prec <= 17). */
int rm_jsonw_g(char *b, size_t size, int prec, double v);
/* Room for more bytes past used in *buf (capacity *cap), doubling; -1 if none. */
int rm_buf_reserve(char **buf, size_t *cap, size_t used, size_t more);

#endif
