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
/*
 * The lexer under it, for readers that fill their own structures from the
 * text (rm_exset's JSON lines). Each returns 0 having consumed the token at
 * r->p, or -1 where jansson is to decide (malformed, unsure, out of range).
 */
struct rm_jr {
	const char *p, *end;
	size_t flags;
	char *tmp;	/* decoded strings with escapes */
	size_t tmpcap;
};
/* The input to read next; r->tmp is kept from one input to the next (zero r first). */
void rm_jr_init(struct rm_jr *r, const char *buf, size_t len, size_t flags);
void rm_jr_release(struct rm_jr *r);
void rm_jr_ws(struct rm_jr *r);
/* A string at its opening quote: *s is in the input, or r->tmp when escaped. */
int rm_jr_string(struct rm_jr *r, const char **s, size_t *len);
/* A number as json_number_value gives it. */
int rm_jr_number(struct rm_jr *r, double *v);
/* "true", "false" or "null". */
int rm_jr_word(struct rm_jr *r, const char *word);
/* After a member: 1 at ',' (another follows), 0 at closer (consumed), -1 else. */
int rm_jr_after(struct rm_jr *r, char closer);
/* The opening bracket consumed; 1 if the closer follows at once (consumed). */
int rm_jr_open(struct rm_jr *r, char closer);
/* Any value, as a tree (NULL: jansson decides). */
json_t *rm_jr_value(struct rm_jr *r);

/* The same, falling back on json_loadb (and its errors) where it declines. */
json_t *rm_json_loadb(const char *buf, size_t len, size_t flags, json_error_t *je);

#endif
