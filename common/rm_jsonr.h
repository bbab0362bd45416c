/*
 * A fast JSON reader for large inputs: the tree json_loadb builds, errors
 * left to json_loadb itself.
 */
#ifndef RM_JSONR_H
#define RM_JSONR_H

#include <stddef.h>
#include <jansson.h>

/*
 * json_loadb(buf, len, flags, je) where the input is well-formed and flags
 * are among JSON_REJECT_DUPLICATES, JSON_DISABLE_EOF_CHECK, JSON_DECODE_ANY
 * and JSON_ALLOW_NUL: the same tree, and in *je what json_loadb leaves on
 * success (position: the bytes read). NULL otherwise, *je untouched.
 */
json_t *rm_json_loadb_fast(const char *buf, size_t len, size_t flags, json_error_t *je);
/* The same, falling back on json_loadb (and its errors) where it declines. */
json_t *rm_json_loadb(const char *buf, size_t len, size_t flags, json_error_t *je);

#endif
