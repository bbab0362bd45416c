/*
 * An index over one executor set for matching without visiting every
 * executor: executors renumbered in a caller-chosen order (positions), and
 * per taxonomy key, built on first use, the numbers sorted with bitsets of
 * every block's prefix (a range is a binary search and a few word ANDs),
 * bitsets by value kind, and per string or set element the executors that
 * have it. Every set below is a bitset over positions.
 */
#ifndef RM_XIDX_H
#define RM_XIDX_H

#include <stddef.h>
#include <stdint.h>

#include "rm_exset.h"

struct rm_xidx;

/*
 * Builds the index of s with executors ordered by rank (lower first; NULL:
 * all equal), ties by id in byte order, then by executor index.
 */
struct rm_xidx *rm_xidx_new(const struct rm_exset *s, const double *rank);
/* The same with executors in their own order (positions are indices). */
struct rm_xidx *rm_xidx_new_plain(const struct rm_exset *s);
void rm_xidx_free(struct rm_xidx *x);

const struct rm_exset *rm_xidx_set(const struct rm_xidx *x);
uint32_t rm_xidx_n(const struct rm_xidx *x);
size_t rm_xidx_words(const struct rm_xidx *x);
/* position -> executor and back */
uint32_t rm_xidx_exec(const struct rm_xidx *x, uint32_t pos);
uint32_t rm_xidx_pos(const struct rm_xidx *x, uint32_t e);

/* The positions whose value of key has this kind (enum rm_vkind); NULL on failure. */
const uint64_t *rm_xidx_kind(struct rm_xidx *x, int key, int kind);
/*
 * ORs into dst the positions whose value of key is a number (or boolean)
 * within [lo, hi] (a bound applies when has_lo / has_hi). -1 on failure.
 */
int rm_xidx_range(struct rm_xidx *x, int key, int has_lo, double lo, int has_hi, double hi,
    uint64_t *dst);
/*
 * The positions whose value of key is the string id, or a set holding id:
 * ORed into dst (rm_xidx_post_or) or ANDed with dst (rm_xidx_post_and).
 */
int rm_xidx_post_or(struct rm_xidx *x, int key, uint32_t id, uint64_t *dst);
int rm_xidx_post_and(struct rm_xidx *x, int key, uint32_t id, uint64_t *dst, uint64_t *tmp);

/* Expired at now (expires_at set and not after now). */
const uint64_t *rm_xidx_expired(struct rm_xidx *x, long long now);
/* Not approved by the id patterns pats (NULL: all approved); kept per pats. */
const uint64_t *rm_xidx_unapproved(struct rm_xidx *x, const json_t *pats);

/*
 * Bitsets remembered under a signature (what decides them, e.g. a clause's
 * key and text), a few at a time: rm_xidx_memo copies one into dst (nw
 * words) and returns 0, or -1 when none; rm_xidx_memo_put keeps a copy.
 */
int rm_xidx_memo(const struct rm_xidx *x, const char *sig, size_t len, uint64_t *dst);
void rm_xidx_memo_put(struct rm_xidx *x, const char *sig, size_t len, const uint64_t *bits);

/* ---- bitsets --------------------------------------------------------- */

static inline void
rm_bs_set(uint64_t *b, uint32_t i)
{
	b[i >> 6] |= 1ULL << (i & 63);
}

static inline int
rm_bs_get(const uint64_t *b, uint32_t i)
{
	return (int)((b[i >> 6] >> (i & 63)) & 1);
}

/*
 * Bits set in a word, without the libgcc call __builtin_popcountll makes
 * when the target may lack POPCNT (a third of a plan's matching went there).
 */
static inline size_t
rm_popcount64(uint64_t v)
{
	v = v - ((v >> 1) & 0x5555555555555555ULL);
	v = (v & 0x3333333333333333ULL) + ((v >> 2) & 0x3333333333333333ULL);
	v = (v + (v >> 4)) & 0x0F0F0F0F0F0F0F0FULL;
	return (size_t)((v * 0x0101010101010101ULL) >> 56);
}

size_t rm_bs_count(const uint64_t *b, size_t nw);
/* The first set position at or after from, or n when none. */
uint32_t rm_bs_next(const uint64_t *b, uint32_t from, uint32_t n);

#endif
