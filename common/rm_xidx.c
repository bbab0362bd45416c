/*
 * The matching index of one executor set (see rm_xidx.h). Columns are
 * indexed on first use, so a node that asks for three keys pays for three.
 */
#include "config.h"

#include <fnmatch.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rm_xidx.h"

struct xcol {
	int built;		/* 1: kinds ready; -1: failed */
	int nquery, pquery;	/* range and posting queries so far */
	int nbuilt, pbuilt;	/* sorted numbers, postings: 1 ready, -1 failed */
	uint64_t *kind[RM_V_MAP + 1];
	/* numbers and booleans, sorted by value */
	uint32_t nnum, blk, nblk;
	double *val;
	uint32_t *at;		/* positions, in value order */
	uint64_t *prefix;	/* nblk + 1 bitsets: positions of at[0 .. k*blk) */
	/* string values and set elements: element -> positions */
	uint32_t hsize;
	uint32_t *hkey;		/* element id + 1, 0 empty */
	uint32_t *hel;		/* element index */
	uint32_t nel;
	uint32_t *start;	/* nel + 1 offsets into list */
	uint32_t *list;
	uint64_t **dense;	/* per element: its bitset when frequent, else NULL */
};

#define XIDX_MEMO 16

struct xmemo {
	char *sig;
	size_t len;
	uint64_t *bits;
};

struct rm_xidx {
	struct xmemo memo[XIDX_MEMO];
	size_t memo_next;
	const struct rm_exset *s;
	uint32_t n;
	size_t nw;
	uint32_t *perm, *pos;
	struct xcol *cols;
	uint64_t *expired, *unapproved;
	long long expired_now;
	const json_t *unapproved_for;
};

#if defined(__x86_64__) && defined(__GNUC__)
/* with the POPCNT instruction, where the processor has it (checked once) */
__attribute__((target("popcnt"))) static size_t
bs_count_popcnt(const uint64_t *b, size_t nw)
{
	size_t i, c = 0;

	for (i = 0; i < nw; i++)
		c += (size_t)__builtin_popcountll(b[i]);
	return c;
}
#endif

size_t
rm_bs_count(const uint64_t *b, size_t nw)
{
	size_t i, c = 0;

#if defined(__x86_64__) && defined(__GNUC__)
	static int has = -1;

	if (has < 0)
		has = __builtin_cpu_supports("popcnt") ? 1 : 0;
	if (has)
		return bs_count_popcnt(b, nw);
#endif
	for (i = 0; i < nw; i++)
		c += rm_popcount64(b[i]);
	return c;
}

uint32_t
rm_bs_next(const uint64_t *b, uint32_t from, uint32_t n)
{
	size_t w = from >> 6, nw = ((size_t)n + 63) / 64;
	uint64_t word;

	if (from >= n)
		return n;
	word = b[w] & (~0ULL << (from & 63));
	for (;;) {
		if (word != 0) {
			uint32_t p = (uint32_t)(w * 64 + (size_t)__builtin_ctzll(word));
			return p < n ? p : n;
		}
		if (++w >= nw)
			return n;
		word = b[w];
	}
}

int
rm_xidx_memo(const struct rm_xidx *x, const char *sig, size_t len, uint64_t *dst)
{
	size_t i;

	for (i = 0; i < XIDX_MEMO; i++)
		if (x->memo[i].sig != NULL && x->memo[i].len == len &&
		    memcmp(x->memo[i].sig, sig, len) == 0) {
			memcpy(dst, x->memo[i].bits, x->nw * sizeof(uint64_t));
			return 0;
		}
	return -1;
}

void
rm_xidx_memo_put(struct rm_xidx *x, const char *sig, size_t len, const uint64_t *bits)
{
	struct xmemo *m = &x->memo[x->memo_next];
	char *ns = malloc(len + 1);
	uint64_t *nb = malloc((x->nw + 1) * sizeof(uint64_t));

	if (ns == NULL || nb == NULL) {
		free(ns);
		free(nb);
		return;
	}
	free(m->sig);
	free(m->bits);
	memcpy(ns, sig, len);
	memcpy(nb, bits, x->nw * sizeof(uint64_t));
	m->sig = ns;
	m->len = len;
	m->bits = nb;
	x->memo_next = (x->memo_next + 1) % XIDX_MEMO;
}

/* ---- the order ------------------------------------------------------- */

static const struct rm_exset *order_set;
static const double *order_rank;

static int
order_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	int r;

	if (order_rank != NULL && order_rank[x] != order_rank[y])
		return order_rank[x] < order_rank[y] ? -1 : 1;
	r = strcmp(rm_exset_cstr(order_set, order_set->info[x].id),
	    rm_exset_cstr(order_set, order_set->info[y].id));
	if (r != 0)
		return r;
	return x < y ? -1 : x > y;
}

static struct rm_xidx *
xidx_new(const struct rm_exset *s, const double *rank, int plain)
{
	struct rm_xidx *x = calloc(1, sizeof(*x));
	uint32_t i;

	if (x == NULL)
		return NULL;
	x->s = s;
	x->n = s->nexec;
	x->nw = ((size_t)x->n + 63) / 64;
	x->perm = malloc(((size_t)x->n + 1) * sizeof(*x->perm));
	x->pos = malloc(((size_t)x->n + 1) * sizeof(*x->pos));
	x->cols = calloc(s->nkeys + 1, sizeof(*x->cols));
	if (x->perm == NULL || x->pos == NULL || x->cols == NULL) {
		rm_xidx_free(x);
		return NULL;
	}
	for (i = 0; i < x->n; i++)
		x->perm[i] = i;
	order_set = s;
	order_rank = rank;
	if (!plain)
		qsort(x->perm, x->n, sizeof(*x->perm), order_cmp);
	for (i = 0; i < x->n; i++)
		x->pos[x->perm[i]] = i;
	return x;
}

static void
col_free(struct xcol *c)
{
	uint32_t i;
	int k;

	for (k = 0; k <= RM_V_MAP; k++)
		free(c->kind[k]);
	free(c->val);
	free(c->at);
	free(c->prefix);
	free(c->hkey);
	free(c->hel);
	free(c->start);
	free(c->list);
	for (i = 0; c->dense != NULL && i < c->nel; i++)
		free(c->dense[i]);
	free(c->dense);
}

void
rm_xidx_free(struct rm_xidx *x)
{
	uint32_t k;

	if (x == NULL)
		return;
	for (k = 0; x->cols != NULL && k < x->s->nkeys; k++)
		col_free(&x->cols[k]);
	for (k = 0; k < XIDX_MEMO; k++) {
		free(x->memo[k].sig);
		free(x->memo[k].bits);
	}
	free(x->cols);
	free(x->expired);
	free(x->unapproved);
	free(x->perm);
	free(x->pos);
	free(x);
}

const struct rm_exset *
rm_xidx_set(const struct rm_xidx *x)
{
	return x->s;
}

uint32_t
rm_xidx_n(const struct rm_xidx *x)
{
	return x->n;
}

size_t
rm_xidx_words(const struct rm_xidx *x)
{
	return x->nw;
}

uint32_t
rm_xidx_exec(const struct rm_xidx *x, uint32_t pos)
{
	return x->perm[pos];
}

uint32_t
rm_xidx_pos(const struct rm_xidx *x, uint32_t e)
{
	return x->pos[e];
}

struct rm_xidx *
rm_xidx_new(const struct rm_exset *s, const double *rank)
{
	return xidx_new(s, rank, 0);
}

struct rm_xidx *
rm_xidx_new_plain(const struct rm_exset *s)
{
	return xidx_new(s, NULL, 1);
}

/* ---- building a column ---------------------------------------------- */

struct numpair {
	uint64_t key;	/* the value, as an unsigned integer in the same order */
	uint32_t at;
};

/* -0 sorts with 0 (they compare equal), NaN last */
static uint64_t
num_key(double v)
{
	uint64_t u;

	if (v != v)
		return UINT64_MAX;
	if (v == 0)
		v = 0;
	memcpy(&u, &v, sizeof(u));
	return (u >> 63) ? ~u : u | (1ULL << 63);
}

static double
num_of_key(uint64_t k)
{
	double v;

	if (k == UINT64_MAX)
		return NAN;
	k = (k >> 63) ? k & ~(1ULL << 63) : ~k;
	memcpy(&v, &k, sizeof(v));
	return v;
}

/*
 * Sorts n pairs by key, stably (so pairs made in position order stay in it
 * among equal values): radix by 16 bits, a pass left out where every key
 * has the same digit. A sort by comparison cost 8% of a plan of 1,000
 * nodes over 100,000 executors.
 */
static int
radix_sort(struct numpair *a, uint32_t n)
{
	struct numpair *tmp = malloc(((size_t)n + 1) * sizeof(*tmp)), *src = a, *dst = tmp, *t;
	uint32_t *count = malloc(65536 * sizeof(*count)), i, sum, c;
	int shift;

	if (tmp == NULL || count == NULL) {
		free(tmp);
		free(count);
		return -1;
	}
	for (shift = 0; shift < 64; shift += 16) {
		memset(count, 0, 65536 * sizeof(*count));
		for (i = 0; i < n; i++)
			count[(src[i].key >> shift) & 0xffff]++;
		if (n == 0 || count[(src[0].key >> shift) & 0xffff] == n)
			continue;
		for (i = 0, sum = 0; i < 65536; i++) {
			c = count[i];
			count[i] = sum;
			sum += c;
		}
		for (i = 0; i < n; i++)
			dst[count[(src[i].key >> shift) & 0xffff]++] = src[i];
		t = src;
		src = dst;
		dst = t;
	}
	if (src != a)
		memcpy(a, src, (size_t)n * sizeof(*a));
	free(tmp);
	free(count);
	return 0;
}

static int
build_numbers(struct rm_xidx *x, int key, struct xcol *c)
{
	struct numpair *np = malloc(((size_t)x->n + 1) * sizeof(*np));
	uint32_t p, i, k;

	if (np == NULL)
		return -1;
	c->nnum = 0;
	/* in position order: equal values stay in it */
	for (p = 0; p < x->n; p++) {
		const struct rm_val *v = rm_exset_val(x->s, key, x->perm[p]);
		if (v->kind == RM_V_NUM || v->kind == RM_V_BOOL) {
			np[c->nnum].key = num_key(v->u.num);
			np[c->nnum++].at = p;
		}
	}
	c->val = malloc(((size_t)c->nnum + 1) * sizeof(*c->val));
	c->at = malloc(((size_t)c->nnum + 1) * sizeof(*c->at));
	c->blk = c->nnum / 64 > 64 ? c->nnum / 64 : 64;
	c->nblk = c->nnum / c->blk;
	c->prefix = calloc(((size_t)c->nblk + 1) * x->nw + 1, sizeof(uint64_t));
	if (c->val == NULL || c->at == NULL || c->prefix == NULL || radix_sort(np, c->nnum) != 0) {
		free(np);
		return -1;
	}
	for (i = 0; i < c->nnum; i++) {
		c->at[i] = np[i].at;
		c->val[i] = num_of_key(np[i].key);
	}
	free(np);
	for (k = 1; k <= c->nblk; k++) {
		uint64_t *pre = c->prefix + (size_t)k * x->nw;
		memcpy(pre, pre - x->nw, x->nw * sizeof(uint64_t));
		for (i = (k - 1) * c->blk; i < k * c->blk; i++)
			rm_bs_set(pre, c->at[i]);
	}
	return 0;
}

static uint32_t
hash_u32(uint32_t v)
{
	v ^= v >> 16;
	v *= 0x7feb352dU;
	v ^= v >> 15;
	v *= 0x846ca68bU;
	v ^= v >> 16;
	return v;
}

/* The element index of id, or UINT32_MAX. */
static uint32_t
el_find(const struct xcol *c, uint32_t id)
{
	uint32_t h;

	if (c->hsize == 0 || id == RM_NOSTR)
		return UINT32_MAX;
	for (h = hash_u32(id) & (c->hsize - 1); c->hkey[h] != 0; h = (h + 1) & (c->hsize - 1))
		if (c->hkey[h] == id + 1)
			return c->hel[h];
	return UINT32_MAX;
}

static uint32_t
el_add(struct xcol *c, uint32_t id)
{
	uint32_t h;

	for (h = hash_u32(id) & (c->hsize - 1); c->hkey[h] != 0; h = (h + 1) & (c->hsize - 1))
		if (c->hkey[h] == id + 1)
			return c->hel[h];
	c->hkey[h] = id + 1;
	c->hel[h] = c->nel;
	return c->nel++;
}

/* The elements of v: a string is one, a set its members; maps have none. */
static uint32_t
val_elements(const struct rm_exset *s, const struct rm_val *v, const uint32_t **els,
    uint32_t *one)
{
	if (v->kind == RM_V_STR) {
		*one = (uint32_t)v->u.ref;
		*els = one;
		return 1;
	}
	if (v->kind == RM_V_SET) {
		*els = s->pool + v->u.ref;
		return v->n;
	}
	return 0;
}

static int
build_postings(struct rm_xidx *x, int key, struct xcol *c)
{
	size_t total = 0;
	uint32_t e, i, one, *fill;
	const uint32_t *els;

	for (e = 0; e < x->n; e++)
		total += val_elements(x->s, rm_exset_val(x->s, key, e), &els, &one);
	for (c->hsize = 16; c->hsize < 2 * total + 2; c->hsize *= 2)
		;
	c->hkey = calloc(c->hsize, sizeof(uint32_t));
	c->hel = calloc(c->hsize, sizeof(uint32_t));
	c->start = calloc(total + 2, sizeof(uint32_t));
	c->list = malloc((total + 1) * sizeof(uint32_t));
	fill = calloc(total + 2, sizeof(uint32_t));
	if (c->hkey == NULL || c->hel == NULL || c->start == NULL || c->list == NULL ||
	    fill == NULL) {
		free(fill);
		return -1;
	}
	for (e = 0; e < x->n; e++) {
		uint32_t m = val_elements(x->s, rm_exset_val(x->s, key, e), &els, &one);
		for (i = 0; i < m; i++)
			c->start[el_add(c, els[i]) + 1]++;
	}
	for (i = 0; i < c->nel; i++)
		c->start[i + 1] += c->start[i];
	/* in position order, so that a posting list is sorted */
	for (i = 0; i < x->n; i++) {
		uint32_t m = val_elements(x->s, rm_exset_val(x->s, key, x->perm[i]), &els, &one), j;
		for (j = 0; j < m; j++) {
			uint32_t el = el_find(c, els[j]);
			c->list[c->start[el] + fill[el]++] = i;
		}
	}
	free(fill);
	c->dense = calloc(c->nel + 1, sizeof(*c->dense));
	if (c->dense == NULL)
		return -1;
	for (i = 0; i < c->nel; i++) {
		uint32_t j;
		if ((c->start[i + 1] - c->start[i]) * 4 < x->nw * 3)
			continue;	/* few: the list is cheaper */
		if ((c->dense[i] = calloc(x->nw + 1, sizeof(uint64_t))) == NULL)
			return -1;
		for (j = c->start[i]; j < c->start[i + 1]; j++)
			rm_bs_set(c->dense[i], c->list[j]);
	}
	return 0;
}

static struct xcol *
col(struct rm_xidx *x, int key)
{
	struct xcol *c;
	uint32_t e;
	int k;

	if (key < 0 || (uint32_t)key >= x->s->nkeys)
		return NULL;
	c = &x->cols[key];
	if (c->built)
		return c->built > 0 ? c : NULL;
	c->built = -1;
	for (k = 0; k <= RM_V_MAP; k++)
		if ((c->kind[k] = calloc(x->nw + 1, sizeof(uint64_t))) == NULL)
			return NULL;
	for (e = 0; e < x->n; e++) {
		uint8_t kind = rm_exset_val(x->s, key, e)->kind;
		if (kind <= RM_V_MAP)
			rm_bs_set(c->kind[kind], x->pos[e]);
	}
	c->built = 1;
	return c;
}

/*
 * Sorting a column costs more than reading it once: the first query of a
 * key reads the column (one node, as rm-match asks), the second builds
 * the sorted numbers or postings that every later query uses (a plan).
 */
static int
numbers_ready(struct rm_xidx *x, int key, struct xcol *c)
{
	if (c->nbuilt == 0 && c->nquery++ > 0)
		c->nbuilt = build_numbers(x, key, c) == 0 ? 1 : -1;
	return c->nbuilt;
}

static int
postings_ready(struct rm_xidx *x, int key, struct xcol *c)
{
	if (c->pbuilt == 0 && c->pquery++ > 0)
		c->pbuilt = build_postings(x, key, c) == 0 ? 1 : -1;
	return c->pbuilt;
}

static void
scan_range(struct rm_xidx *x, int key, int has_lo, double lo, int has_hi, double hi,
    uint64_t *dst)
{
	const struct rm_val *col = rm_exset_col(x->s, key);
	uint32_t e;

	for (e = 0; e < x->n; e++)
		if ((col[e].kind == RM_V_NUM || col[e].kind == RM_V_BOOL) &&
		    (!has_lo || col[e].u.num >= lo) && (!has_hi || col[e].u.num <= hi))
			rm_bs_set(dst, x->pos[e]);
}

static void
scan_post(struct rm_xidx *x, int key, uint32_t id, uint64_t *dst)
{
	const struct rm_val *col = rm_exset_col(x->s, key);
	const uint32_t *els;
	uint32_t e, one, m, i;

	for (e = 0; e < x->n; e++) {
		m = val_elements(x->s, &col[e], &els, &one);
		for (i = 0; i < m; i++)
			if (els[i] == id) {
				rm_bs_set(dst, x->pos[e]);
				break;
			}
	}
}

/* ---- queries --------------------------------------------------------- */

const uint64_t *
rm_xidx_kind(struct rm_xidx *x, int key, int kind)
{
	struct xcol *c = col(x, key);

	return c != NULL && kind >= 0 && kind <= RM_V_MAP ? c->kind[kind] : NULL;
}

/* The first index of val[] not below v (strict: above v). */
static uint32_t
lower(const struct xcol *c, double v, int strict)
{
	uint32_t lo = 0, hi = c->nnum;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (strict ? c->val[mid] <= v : c->val[mid] < v)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int
rm_xidx_range(struct rm_xidx *x, int key, int has_lo, double lo, int has_hi, double hi,
    uint64_t *dst)
{
	struct xcol *c = col(x, key);
	uint32_t a, b, ka, kb, i;
	size_t w;

	if (c == NULL)
		return -1;
	switch (numbers_ready(x, key, c)) {
	case 0:
		scan_range(x, key, has_lo, lo, has_hi, hi, dst);
		return 0;
	case -1:
		return -1;
	}
	a = has_lo ? lower(c, lo, 0) : 0;
	b = has_hi ? lower(c, hi, 1) : c->nnum;
	if (a >= b)
		return 0;
	/* whole blocks [ka, kb) by their prefixes, the ragged ends one by one */
	ka = (a + c->blk - 1) / c->blk;
	kb = b / c->blk;
	if (ka >= kb) {
		for (i = a; i < b; i++)
			rm_bs_set(dst, c->at[i]);
		return 0;
	}
	{
		const uint64_t *pa = c->prefix + (size_t)ka * x->nw, *pb = c->prefix + (size_t)kb * x->nw;
		for (w = 0; w < x->nw; w++)
			dst[w] |= pb[w] & ~pa[w];
	}
	for (i = a; i < ka * c->blk; i++)
		rm_bs_set(dst, c->at[i]);
	for (i = kb * c->blk; i < b; i++)
		rm_bs_set(dst, c->at[i]);
	return 0;
}

int
rm_xidx_post_or(struct rm_xidx *x, int key, uint32_t id, uint64_t *dst)
{
	struct xcol *c = col(x, key);
	uint32_t el, j;
	size_t w;

	if (c == NULL)
		return -1;
	switch (postings_ready(x, key, c)) {
	case 0:
		if (id != RM_NOSTR)
			scan_post(x, key, id, dst);
		return 0;
	case -1:
		return -1;
	}
	if ((el = el_find(c, id)) == UINT32_MAX)
		return 0;
	if (c->dense[el] != NULL)
		for (w = 0; w < x->nw; w++)
			dst[w] |= c->dense[el][w];
	else
		for (j = c->start[el]; j < c->start[el + 1]; j++)
			rm_bs_set(dst, c->list[j]);
	return 0;
}

int
rm_xidx_post_and(struct rm_xidx *x, int key, uint32_t id, uint64_t *dst, uint64_t *tmp)
{
	size_t w;

	memset(tmp, 0, x->nw * sizeof(uint64_t));
	if (rm_xidx_post_or(x, key, id, tmp) != 0)
		return -1;
	for (w = 0; w < x->nw; w++)
		dst[w] &= tmp[w];
	return 0;
}

const uint64_t *
rm_xidx_expired(struct rm_xidx *x, long long now)
{
	uint32_t e;

	if (x->expired != NULL && x->expired_now == now)
		return x->expired;
	if (x->expired == NULL && (x->expired = calloc(x->nw + 1, sizeof(uint64_t))) == NULL)
		return NULL;
	memset(x->expired, 0, x->nw * sizeof(uint64_t));
	for (e = 0; e < x->n; e++)
		if (x->s->info[e].expires_at != 0 && x->s->info[e].expires_at <= now)
			rm_bs_set(x->expired, x->pos[e]);
	x->expired_now = now;
	return x->expired;
}

const uint64_t *
rm_xidx_unapproved(struct rm_xidx *x, const json_t *pats)
{
	uint32_t e;
	size_t i;
	json_t *p;

	if (x->unapproved != NULL && x->unapproved_for == pats)
		return x->unapproved;
	if (x->unapproved == NULL && (x->unapproved = calloc(x->nw + 1, sizeof(uint64_t))) == NULL)
		return NULL;
	memset(x->unapproved, 0, x->nw * sizeof(uint64_t));
	for (e = 0; pats != NULL && e < x->n; e++) {
		int ok = 0;
		json_array_foreach(pats, i, p)
			if (json_is_string(p) && fnmatch(json_string_value(p),
			    rm_exset_cstr(x->s, x->s->info[e].id), 0) == 0) {
				ok = 1;
				break;
			}
		if (!ok)
			rm_bs_set(x->unapproved, x->pos[e]);
	}
	x->unapproved_for = pats;
	return x->unapproved;
}
