/*
 * JSON lines of adverts read straight into the columns. A hundred thousand
 * adverts from -x spent 60% of a plan's time building a tree for each line,
 * normalising it (rm_advert.c), walking it twice against the taxonomy and
 * freeing it. This reader walks the text once and fills the builder as
 * rm_exb_add would from the normalised tree.
 *
 * It takes only what it is sure the normaliser takes unchanged: an object
 * of our own shape whose every value has the type its taxonomy key wants.
 * Anything else (another shape, a value the normaliser converts or refuses,
 * an unknown field, an escaped string, a duplicate key, a long path) is
 * declined, and the caller reads that line the tree way, so that every
 * error and warning stays the normaliser's and jansson's. Strings are
 * interned in the order rm_exb_add interns them, so both ways build the same
 * set byte for byte (tests/unit/test_exset_lines, tests/fuzz/fuzz_lines).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "rm_exset_int.h"
#include "rm_jsonr.h"
#include "rm_known.h"
#include "rm_registry.h"
#include "rm_taxo.h"

#define FL_MAX_FILLS 128	/* taxonomy values of one advert, each of the two walks */
#define FL_MAX_ITEMS 1024	/* set elements and map pairs (two each) */
#define FL_MAX_MEMBERS 64	/* of one object */
#define FL_MAX_DEPTH 16
#define FL_MAX_PATH 256

struct fl_str {
	const char *s;
	size_t n;
};

struct fl_fill {
	int key;
	int kind;		/* RM_V_* */
	double num;
	struct fl_str str;
	size_t first, n;	/* items: SET elements, MAP key/value pairs */
};

struct rm_exb_lines {
	const struct rm_taxo *t;
	struct rm_jr r;
	/* the top-level walk, then capabilities' (its values win) */
	struct fl_fill fills[2][FL_MAX_FILLS];
	size_t nfill[2];
	struct fl_str items[FL_MAX_ITEMS];
	size_t nitems;
	struct fl_str id, endpoint;
	long long expires, probed;
	int endpoint_key;
	char path[FL_MAX_PATH + 2];
};

/* where a member is: which walk, whether unknown fields are refused there */
struct fl_at {
	int list;
	int strict;
	size_t plen;
	int depth;
};

static int fl_member(struct rm_exb_lines *f, struct fl_str k, const struct fl_at *at);

static int
is(struct fl_str k, const char *word)
{
	return strlen(word) == k.n && memcmp(k.s, word, k.n) == 0;
}

/* A string at r.p, kept only when it needs no decoding (a pointer into the text). */
static int
fl_string(struct rm_exb_lines *f, struct fl_str *out)
{
	const char *s;
	size_t n;

	if (f->r.p >= f->r.end || *f->r.p != '"' || rm_jr_string(&f->r, &s, &n) != 0 ||
	    (f->r.tmp != NULL && s == f->r.tmp))
		return -1;
	out->s = s;
	out->n = n;
	return 0;
}

/* Any value, checked as jansson would read it, and forgotten. */
static int
fl_skip(struct rm_exb_lines *f)
{
	const char *s;
	size_t n;
	double d;
	json_t *v;

	if (f->r.p >= f->r.end)
		return -1;
	switch (*f->r.p) {
	case '"':
		return rm_jr_string(&f->r, &s, &n);
	case '{':
	case '[':
		if ((v = rm_jr_value(&f->r)) == NULL)
			return -1;
		json_decref(v);
		return 0;
	case 't':
		return rm_jr_word(&f->r, "true");
	case 'f':
		return rm_jr_word(&f->r, "false");
	case 'n':
		return rm_jr_word(&f->r, "null");
	default:
		return rm_jr_number(&f->r, &d);
	}
}

/*
 * The object at r.p: each member's key given to fn (the value at r.p), with
 * duplicates refused as JSON_REJECT_DUPLICATES refuses them.
 */
static int
fl_object(struct rm_exb_lines *f, const struct fl_at *at,
    int (*fn)(struct rm_exb_lines *, struct fl_str, const struct fl_at *))
{
	struct fl_str seen[FL_MAX_MEMBERS];
	size_t nseen = 0, i;
	int more;

	if (at->depth > FL_MAX_DEPTH || f->r.p >= f->r.end || *f->r.p != '{')
		return -1;
	if (rm_jr_open(&f->r, '}'))
		return 0;
	for (;;) {
		struct fl_str k;
		if (nseen == FL_MAX_MEMBERS || fl_string(f, &k) != 0)
			return -1;
		for (i = 0; i < nseen; i++)
			if (seen[i].n == k.n && memcmp(seen[i].s, k.s, k.n) == 0)
				return -1;
		seen[nseen++] = k;
		rm_jr_ws(&f->r);
		if (f->r.p >= f->r.end || *f->r.p != ':')
			return -1;
		f->r.p++;
		rm_jr_ws(&f->r);
		if (fn(f, k, at) != 0)
			return -1;
		if ((more = rm_jr_after(&f->r, '}')) <= 0)
			return more;	/* 0 at the end, -1 malformed */
	}
}

static struct fl_fill *
fl_stage(struct rm_exb_lines *f, int list, int key, int kind)
{
	struct fl_fill *x;

	if (f->nfill[list] == FL_MAX_FILLS)
		return NULL;
	x = &f->fills[list][f->nfill[list]++];
	memset(x, 0, sizeof(*x));
	x->key = key;
	x->kind = kind;
	return x;
}

static int
fl_item(struct rm_exb_lines *f, struct fl_str s)
{
	if (f->nitems == FL_MAX_ITEMS)
		return -1;
	f->items[f->nitems++] = s;
	return 0;
}

/* A list of strings (a set's elements). */
static int
fl_set(struct rm_exb_lines *f, struct fl_fill *x)
{
	struct fl_str s;
	int more;

	if (f->r.p >= f->r.end || *f->r.p != '[')
		return -1;
	x->first = f->nitems;
	if (rm_jr_open(&f->r, ']'))
		return 0;
	for (;;) {
		if (fl_string(f, &s) != 0 || fl_item(f, s) != 0)
			return -1;
		x->n++;
		if ((more = rm_jr_after(&f->r, ']')) <= 0)
			return more;	/* 0 at the end, -1 malformed */
	}
}

/* One member of a codec or version map: a string, hardware/software for codecs. */
static int
fl_map_member(struct rm_exb_lines *f, struct fl_str k, const struct fl_at *at)
{
	struct fl_fill *x = &f->fills[at->list][f->nfill[at->list] - 1];
	struct fl_str v;

	if (fl_string(f, &v) != 0)
		return -1;
	if (f->t->keys[x->key].type == RM_T_CODEC_MAP && !is(v, "hardware") && !is(v, "software"))
		return -1;
	if (fl_item(f, k) != 0 || fl_item(f, v) != 0)
		return -1;
	x->n++;
	return 0;
}

/* The value of taxonomy key (not a presence), as check_value accepts it unchanged. */
static int
fl_value(struct rm_exb_lines *f, int key, const struct fl_at *at)
{
	const struct rm_taxo_key *k = &f->t->keys[key];
	struct fl_fill *x;
	struct fl_at inner = *at;
	size_t i;

	switch (k->type) {
	case RM_T_NUMBER:
		if ((x = fl_stage(f, at->list, key, RM_V_NUM)) == NULL ||
		    rm_jr_number(&f->r, &x->num) != 0 || x->num < 0)
			return -1;
		return 0;
	case RM_T_STRING:
	case RM_T_ENUM:
	case RM_T_VERSION:
		if ((x = fl_stage(f, at->list, key, RM_V_STR)) == NULL || fl_string(f, &x->str) != 0)
			return -1;
		if (k->type == RM_T_VERSION)
			return x->str.n > 0 ? 0 : -1;
		if (k->type == RM_T_STRING)
			return 0;
		for (i = 0; i < k->nvalues; i++)
			if (is(x->str, k->values[i]))
				return 0;
		return -1;
	case RM_T_BOOL:
		if ((x = fl_stage(f, at->list, key, RM_V_BOOL)) == NULL)
			return -1;
		x->num = f->r.p < f->r.end && *f->r.p == 't';
		return rm_jr_word(&f->r, x->num ? "true" : "false");
	case RM_T_SET:
		if ((x = fl_stage(f, at->list, key, RM_V_SET)) == NULL)
			return -1;
		return fl_set(f, x);
	case RM_T_CODEC_MAP:
	case RM_T_VERSION_MAP:
		if ((x = fl_stage(f, at->list, key, RM_V_MAP)) == NULL)
			return -1;
		x->first = f->nitems;
		inner.depth++;
		return fl_object(f, &inner, fl_map_member);
	default:
		return -1;
	}
}

/*
 * A member under path at->plen: checked and staged as the normaliser's and
 * rm_exb_add's walks take it (rm_taxo_walk: a taxonomy key is a value, an
 * object not a key or a presence is walked into), refused where
 * check_unknown would speak (at->strict, under capabilities).
 */
static int
fl_member(struct rm_exb_lines *f, struct fl_str k, const struct fl_at *at)
{
	struct fl_at in = *at;
	size_t len = at->plen + (at->plen > 0) + k.n;
	int key, obj;

	if (len >= FL_MAX_PATH || memchr(k.s, '\0', k.n) != NULL)
		return -1;
	/* rm_taxo_walk passes over "capabilities" at the top of either walk */
	if (at->plen == 0 && is(k, "capabilities"))
		return -1;
	if (at->plen > 0)
		f->path[at->plen] = '.';
	memcpy(f->path + at->plen + (at->plen > 0), k.s, k.n);
	f->path[len] = '\0';
	key = rm_taxo_findn(f->t, f->path, len);
	obj = f->r.p < f->r.end && *f->r.p == '{';
	in.plen = len;
	in.depth++;
	if (key >= 0 && f->t->keys[key].type != RM_T_PRESENCE)
		return fl_value(f, key, at);
	if (key >= 0) {
		/* a presence: a mapping or true is there, false or null is not */
		if (obj || (f->r.p < f->r.end && *f->r.p == 't')) {
			struct fl_fill *x = fl_stage(f, at->list, key, RM_V_BOOL);
			if (x == NULL)
				return -1;
			x->num = 1;
		}
		if (!obj)
			return f->r.p < f->r.end && *f->r.p == 't' ? rm_jr_word(&f->r, "true") :
			    f->r.p < f->r.end && *f->r.p == 'f' ? rm_jr_word(&f->r, "false") :
			    rm_jr_word(&f->r, "null");
		return fl_object(f, &in, fl_member);
	}
	if (at->strict && rm_taxo_is_info(f->t, f->path))
		in.strict = 0;	/* check_unknown leaves what is under it alone */
	if (obj)
		return fl_object(f, &in, fl_member);
	if (in.strict)
		return -1;	/* an unknown field: the normaliser says so */
	return fl_skip(f);
}

/* A time field: a string rm_time_parse reads. */
static int
fl_time(struct rm_exb_lines *f, long long *out)
{
	struct fl_str s;
	char buf[64];

	if (fl_string(f, &s) != 0 || s.n >= sizeof(buf))
		return -1;
	memcpy(buf, s.s, s.n);
	buf[s.n] = '\0';
	return rm_time_parse(buf, out) == 0 ? 0 : -1;
}

/* A member of the advert itself. */
static int
fl_top(struct rm_exb_lines *f, struct fl_str k, const struct fl_at *at)
{
	struct fl_at caps = { 1, 1, 0, at->depth + 1 };
	char name[FL_MAX_PATH];
	struct fl_str s;

	if (is(k, "capabilities"))
		return fl_object(f, &caps, fl_member);
	if (is(k, "id"))
		return fl_string(f, &f->id);
	if (is(k, "schema"))
		return fl_string(f, &s) == 0 && is(s, "remotemedia.executor/1") ? 0 : -1;
	if (is(k, "probed_at"))
		return fl_time(f, &f->probed);
	if (is(k, "expires_at"))
		return fl_time(f, &f->expires);
	/* another shape (worker_id), admin tags merged into capabilities */
	if (is(k, "worker_id") || is(k, "tags") || k.n >= sizeof(name))
		return -1;
	memcpy(name, k.s, k.n);
	name[k.n] = '\0';
	if (rm_taxo_findn(f->t, k.s, k.n) < 0 && !rm_known_has(rm_known_advert, name) &&
	    !rm_taxo_is_info(f->t, name))
		return -1;	/* unknown: the normaliser warns or refuses */
	if (is(k, "endpoint")) {
		if (f->r.p >= f->r.end || *f->r.p != '"' || fl_member(f, k, at) != 0)
			return -1;
		f->endpoint = f->fills[0][f->nfill[0] - 1].str;
		return 0;
	}
	return fl_member(f, k, at);
}

struct rm_exb_lines *
rm_exb_lines_new(const struct rm_taxo *t)
{
	static const char *const own[] = { "id", "schema", "probed_at", "expires_at",
		"capabilities", "worker_id", NULL };
	struct rm_exb_lines *f;
	size_t i;
	int ep = rm_taxo_find(t, "endpoint");

	/* a taxonomy that names our own fields as keys is read the tree way */
	for (i = 0; own[i] != NULL; i++)
		if (rm_taxo_find(t, own[i]) >= 0)
			return NULL;
	if (ep < 0 || t->keys[ep].type != RM_T_STRING)
		return NULL;
	if ((f = calloc(1, sizeof(*f))) == NULL)
		return NULL;
	f->t = t;
	f->endpoint_key = ep;
	return f;
}

void
rm_exb_lines_free(struct rm_exb_lines *f)
{
	if (f == NULL)
		return;
	rm_jr_release(&f->r);
	free(f);
}

/* A staged value into executor e's column, as fill_value makes it. */
static void
fl_fill_one(struct exb *x, const struct rm_exb_lines *f, const struct fl_fill *s, size_t e)
{
	struct rm_val v;
	size_t at, i, w;

	memset(&v, 0, sizeof(v));
	v.kind = (uint8_t)s->kind;
	switch (s->kind) {
	case RM_V_NUM:
	case RM_V_BOOL:
		v.u.num = s->num;
		break;
	case RM_V_STR:
		v.u.ref = rm_exb_internn(&x->b, s->str.s, s->str.n);
		break;
	case RM_V_SET:
	case RM_V_MAP:
		w = s->kind == RM_V_MAP ? 2 : 1;
		if ((at = rm_exb_pool(&x->b, w * s->n)) == (size_t)-1)
			return;
		for (i = 0; i < w * s->n; i++)
			x->b.pool[at + i] = rm_exb_internn(&x->b, f->items[s->first + i].s,
			    f->items[s->first + i].n);
		rm_exb_sort_refs(x->b.pool + at, s->n, w);
		v.n = (uint32_t)s->n;
		v.u.ref = at;
		break;
	}
	x->cols[(size_t)s->key * x->cap + e] = v;
}

/* The staged advert into the builder, as rm_exb_add adds its tree. */
static void
fl_add(struct exb *x, const struct rm_exb_lines *f, size_t roff, size_t rlen)
{
	long e = rm_exb_begin(x, f->id.s, f->id.n, NULL);
	size_t l, i;

	if (e < 0)
		return;
	x->info[e].endpoint = f->endpoint.s ? rm_exb_internn(&x->b, f->endpoint.s, f->endpoint.n) :
	    RM_NOSTR;
	x->info[e].pad = 0;
	x->info[e].expires_at = f->expires;
	x->info[e].probed_at = f->probed;
	for (l = 0; l < 2; l++)
		for (i = 0; i < f->nfill[l]; i++)
			fl_fill_one(x, f, &f->fills[l][i], (size_t)e);
	rm_exb_commit(x, (size_t)e, roff, rlen);
}

int
rm_exb_lines_add(struct rm_exb_lines *f, struct exb *x, const char *buf, size_t len,
    size_t off, size_t *used)
{
	struct fl_at top = { 0, 0, 0, 0 };
	char id[256];

	if (f == NULL || x->adverts != NULL)
		return -1;
	rm_jr_init(&f->r, buf + off, len - off, JSON_REJECT_DUPLICATES | JSON_DISABLE_EOF_CHECK);
	f->nfill[0] = f->nfill[1] = 0;
	f->nitems = 0;
	f->id.s = f->endpoint.s = NULL;
	f->expires = f->probed = 0;
	if (fl_object(f, &top, fl_top) != 0 || f->id.s == NULL || f->id.n >= sizeof(id))
		return -1;
	memcpy(id, f->id.s, f->id.n);
	id[f->id.n] = '\0';
	if (memchr(id, '\0', f->id.n) != NULL || !rm_registry_id_ok(id))
		return -1;
	*used = (size_t)(f->r.p - (buf + off));
	fl_add(x, f, off, *used);
	return 0;
}

int
rm_exset_same(const struct rm_exset *a, const struct rm_exset *b)
{
	size_t n = a->nexec;

	if (a->nexec != b->nexec || a->nkeys != b->nkeys || a->strs_len != b->strs_len ||
	    a->npool != b->npool || !json_equal(a->broken, b->broken))
		return 0;
	if (n > 0 && (memcmp(a->cols, b->cols, n * a->nkeys * sizeof(*a->cols)) != 0 ||
	    memcmp(a->info, b->info, n * sizeof(*a->info)) != 0))
		return 0;
	if ((a->raw_off == NULL) != (b->raw_off == NULL) || (n > 0 && a->raw_off != NULL &&
	    (memcmp(a->raw_off, b->raw_off, n * sizeof(size_t)) != 0 ||
	    memcmp(a->raw_len, b->raw_len, n * sizeof(size_t)) != 0)))
		return 0;
	return memcmp(a->strs, b->strs, a->strs_len) == 0 &&
	    (a->npool == 0 || memcmp(a->pool, b->pool, a->npool * sizeof(*a->pool)) == 0);
}
