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

#endif
