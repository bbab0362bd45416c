#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "rm_advert.h"
#include "rm_doc.h"
#include "rm_exset.h"
#include "rm_exset_int.h"
#include "rm_fs.h"
#include "rm_home.h"
#include "rm_jsonr.h"
#include "rm_log.h"
#include "rm_registry.h"

json_t *(*rm_exset_local_hook)(struct rm_err *err);

/* ---- building ------------------------------------------------------ */


static uint32_t
str_hash(const char *s, size_t n)
{
	return (uint32_t)rm_hash64(s, n, 0);
}

static int
b_rehash(struct builder *b, uint32_t nsize)
{
	uint32_t *nh = calloc(nsize, sizeof(*nh)), i;

	if (nh == NULL)
		return -1;
	for (i = 0; i < b->hsize; i++) {
		uint32_t off, h;
		if (b->hash[i] == 0)
			continue;
		off = b->hash[i] - 1;
		h = str_hash(b->strs + off, strlen(b->strs + off)) & (nsize - 1);
		while (nh[h] != 0)
			h = (h + 1) & (nsize - 1);
		nh[h] = b->hash[i];
	}
	free(b->hash);
	b->hash = nh;
	b->hsize = nsize;
	return 0;
}

uint32_t
rm_exb_intern(struct builder *b, const char *s)
{
	return rm_exb_internn(b, s, strlen(s));
}

/* s: n bytes, none of them NUL. */
uint32_t
rm_exb_internn(struct builder *b, const char *s, size_t n)
{
	uint32_t h, off;

	if ((b->hcount + 1) * 2 > b->hsize && b_rehash(b, b->hsize ? b->hsize * 2 : 1024) != 0)
		return RM_NOSTR;
	h = str_hash(s, n) & (b->hsize - 1);
	while (b->hash[h] != 0) {
		off = b->hash[h] - 1;
		if (strncmp(b->strs + off, s, n) == 0 && b->strs[off + n] == '\0')
			return off;
		h = (h + 1) & (b->hsize - 1);
	}
	if (b->slen + n + 1 > b->scap) {
		size_t ncap = b->scap ? b->scap * 2 : 65536;
		char *ns;
		while (ncap < b->slen + n + 1)
			ncap *= 2;
		ns = realloc(b->strs, ncap);
		if (ns == NULL)
			return RM_NOSTR;
		b->strs = ns;
		b->scap = ncap;
	}
	off = (uint32_t)b->slen;
	memcpy(b->strs + off, s, n);
	b->strs[off + n] = '\0';
	b->slen += n + 1;
	b->hash[h] = off + 1;
	b->hcount++;
	return off;
}

size_t
rm_exb_pool(struct builder *b, size_t n)
{
	size_t at = b->npool;

	/* never a NULL pool, even for an empty set: readers offset into it */
	if (b->pool == NULL || b->npool + n > b->pcap) {
		size_t ncap = b->pcap ? b->pcap * 2 : 4096;
		uint32_t *np;
		while (ncap < b->npool + n)
			ncap *= 2;
		np = realloc(b->pool, ncap * sizeof(*np));
		if (np == NULL)
			return (size_t)-1;
		b->pool = np;
		b->pcap = ncap;
	}
	b->npool += n;
	return at;
}

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

void
rm_exb_sort_refs(uint32_t *a, size_t n, size_t w)
{
	size_t i, j, k;
	uint32_t t[2];

	/* the few of an advert by insertion: qsort's set-up cost more */
	if (n > 16) {
		qsort(a, n, w * sizeof(*a), cmp_u32);
		return;
	}
	for (i = 1; i < n; i++) {
		memcpy(t, a + i * w, w * sizeof(*a));
		for (j = i; j > 0 && a[(j - 1) * w] > t[0]; j--)
			for (k = 0; k < w; k++)
				a[j * w + k] = a[(j - 1) * w + k];
		memcpy(a + j * w, t, w * sizeof(*a));
	}
}

static void
fill_value(struct builder *b, const struct rm_taxo_key *k, json_t *v, struct rm_val *out)
{
	size_t i, at;
	const char *key;
	json_t *x;

	memset(out, 0, sizeof(*out));
	if (v == NULL || json_is_null(v))
		return;
	switch (k->type) {
	case RM_T_NUMBER:
		if (json_is_number(v)) {
			out->kind = RM_V_NUM;
			out->u.num = json_number_value(v);
		}
		break;
	case RM_T_STRING:
	case RM_T_ENUM:
	case RM_T_VERSION:
		if (json_is_string(v)) {
			out->kind = RM_V_STR;
			out->u.ref = rm_exb_intern(b, json_string_value(v));
		}
		break;
	case RM_T_BOOL:
		if (json_is_boolean(v)) {
			out->kind = RM_V_BOOL;
			out->u.num = json_is_true(v);
		}
		break;
	case RM_T_PRESENCE:
		if (json_is_object(v) || json_is_true(v)) {
			out->kind = RM_V_BOOL;
			out->u.num = 1;
		}
		break;
	case RM_T_SET:
		if (!json_is_array(v))
			break;
		at = rm_exb_pool(b, json_array_size(v));
		if (at == (size_t)-1)
			break;
		json_array_foreach(v, i, x)
			b->pool[at + i] = json_is_string(x) ? rm_exb_intern(b, json_string_value(x)) : RM_NOSTR;
		rm_exb_sort_refs(b->pool + at, json_array_size(v), 1);
		out->kind = RM_V_SET;
		out->n = (uint32_t)json_array_size(v);
		out->u.ref = at;
		break;
	case RM_T_CODEC_MAP:
	case RM_T_VERSION_MAP:
		if (!json_is_object(v))
			break;
		at = rm_exb_pool(b, 2 * json_object_size(v));
		if (at == (size_t)-1)
			break;
		i = 0;
		json_object_foreach(v, key, x) {
			b->pool[at + 2 * i] = rm_exb_intern(b, key);
			b->pool[at + 2 * i + 1] = json_is_string(x) ? rm_exb_intern(b, json_string_value(x)) :
			    RM_NOSTR;
			i++;
		}
		rm_exb_sort_refs(b->pool + at, i, 2);
		out->kind = RM_V_MAP;
		out->n = (uint32_t)i;
		out->u.ref = at;
		break;
	}
}

struct fill_arg {
	struct builder *b;
	const struct rm_taxo *t;
	struct rm_val *cols;
	size_t n, e;
};

static void
fill_cb(int key, json_t *parent, const char *name, const char *path, void *arg)
{
	struct fill_arg *fa = arg;
	struct rm_val v;

	(void)path;
	fill_value(fa->b, &fa->t->keys[key], json_object_get(parent, name), &v);
	if (v.kind != RM_V_NONE)
		fa->cols[(size_t)key * fa->n + fa->e] = v;
}

static long long
time_field(json_t *adv, const char *name)
{
	json_t *v = json_object_get(adv, name);
	long long t = 0;

	if (json_is_string(v))
		rm_time_parse(json_string_value(v), &t);
	return t;
}


int
rm_exb_init(struct exb *x, const struct rm_taxo *t, int keep)
{
	memset(x, 0, sizeof(*x));
	x->t = t;
	x->adverts = keep ? json_array() : NULL;
	x->broken = json_array();
	rm_exb_intern(&x->b, "");
	return 0;
}

int
rm_exb_grow_to(struct exb *x, size_t ncap)
{
	size_t k, nk = x->t->nkeys;
	struct rm_val *nc = calloc(nk * ncap, sizeof(*nc));
	struct rm_exinfo *ni = realloc(x->info, ncap * sizeof(*ni));
	size_t *no = x->raw ? realloc(x->roff, ncap * sizeof(*no)) : NULL;
	size_t *nl = x->raw ? realloc(x->rlen, ncap * sizeof(*nl)) : NULL;

	if (no)
		x->roff = no;
	if (nl)
		x->rlen = nl;
	if (ni)
		x->info = ni;
	if (nc == NULL || ni == NULL || (x->raw && (no == NULL || nl == NULL))) {
		free(nc);
		return -1;
	}
	for (k = 0; k < nk && x->n > 0; k++)
		memcpy(nc + k * ncap, x->cols + k * x->cap, x->n * sizeof(*nc));
	free(x->cols);
	x->cols = nc;
	x->cap = ncap;
	return 0;
}

static int
exb_grow(struct exb *x)
{
	return rm_exb_grow_to(x, x->cap ? x->cap * 2 : 64);
}

/* Index of an earlier executor with this id, or -1; records it otherwise. */
long
rm_exb_seen(struct exb *x, uint32_t id, size_t e)
{
	size_t h, i;

	if ((x->n + 1) * 2 > x->idsize) {
		size_t nsize = x->idsize ? x->idsize * 2 : 256;
		uint32_t *ns = calloc(nsize, sizeof(*ns));
		if (ns == NULL)
			return -1;
		for (i = 0; i < x->idsize; i++)
			if (x->idset[i]) {
				uint32_t eid = x->info[x->idset[i] - 1].id;
				h = (eid * 2654435761u) & (nsize - 1);
				while (ns[h])
					h = (h + 1) & (nsize - 1);
				ns[h] = x->idset[i];
			}
		free(x->idset);
		x->idset = ns;
		x->idsize = nsize;
	}
	h = (id * 2654435761u) & (x->idsize - 1);
	while (x->idset[h]) {
		if (x->info[x->idset[h] - 1].id == id)
			return (long)x->idset[h] - 1;
		h = (h + 1) & (x->idsize - 1);
	}
	x->idset[h] = (uint32_t)e + 1;
	return -1;
}

/*
 * Starts executor x->n: its id and file. Its index, or -1 when it is not
 * added (a duplicate id, recorded in broken; out of memory).
 */
long
rm_exb_begin(struct exb *x, const char *ids, size_t idlen, const char *file)
{
	size_t e = x->n;
	long prev;
	uint32_t id;

	if (x->n == x->cap && exb_grow(x) != 0)
		return -1;
	id = rm_exb_internn(&x->b, ids, idlen);
	x->info[e].id = id;
	x->info[e].file = file ? rm_exb_intern(&x->b, file) : RM_NOSTR;
	prev = rm_exb_seen(x, id, e);
	if (prev >= 0) {
		struct rm_err err;
		const char *pf = x->info[prev].file == RM_NOSTR ? NULL : x->b.strs + x->info[prev].file;
		rm_err_clear(&err);
		rm_err_set(&err, RM_EXIT_INVALID, NULL, "id", "duplicate executor id \"%s\" (also in %s)",
		    x->b.strs + id, pf ? pf : "the same file");
		rm_exb_broken(x->broken, file ? file : "<adverts>", &err);
		x->ndup++;
		return -1;
	}
	return (long)e;
}

/* Ends executor e, begun and filled: where its text is, when kept. */
void
rm_exb_commit(struct exb *x, size_t e, size_t roff, size_t rlen)
{
	if (x->raw) {
		x->roff[e] = roff;
		x->rlen[e] = rlen;
	}
	x->n++;
}

/* Adds a normalised advert (borrowed); a duplicate id goes to broken. */
void
rm_exb_add(struct exb *x, json_t *adv, const char *file, size_t roff, size_t rlen)
{
	json_t *ep = json_object_get(adv, "endpoint");
	const char *id = json_string_value(json_object_get(adv, "id"));
	long e = rm_exb_begin(x, id, strlen(id), file);

	if (e < 0)
		return;
	x->info[e].endpoint = json_is_string(ep) ? rm_exb_intern(&x->b, json_string_value(ep)) : RM_NOSTR;
	x->info[e].pad = 0;
	x->info[e].expires_at = time_field(adv, "expires_at");
	x->info[e].probed_at = time_field(adv, "probed_at");
	{
		/* top level first, so that a capabilities value wins */
		struct fill_arg fa = { &x->b, x->t, x->cols, x->cap, (size_t)e };
		rm_taxo_walk(x->t, adv, "", fill_cb, &fa);
		rm_taxo_walk(x->t, json_object_get(adv, "capabilities"), "", fill_cb, &fa);
	}
	if (x->adverts)
		json_array_append(x->adverts, adv);
	rm_exb_commit(x, (size_t)e, roff, rlen);
}

int
rm_exb_finish(struct exb *x, struct rm_exset **out, struct rm_err *err)
{
	struct rm_exset *s = calloc(1, sizeof(*s));
	size_t n = x->n, k, nk = x->t->nkeys;
	/* columns are compacted to a stride of n, unless they already have it */
	struct rm_val *cols = n > 0 && n == x->cap ? x->cols :
	    calloc(nk * (n ? n : 1), sizeof(*cols));

	if (s == NULL || cols == NULL) {
		free(s);
		if (cols != x->cols)
			free(cols);
		return rm_err_set(err, RM_EXIT_INTERNAL, NULL, NULL, "out of memory");
	}
	if (cols != x->cols) {
		for (k = 0; k < nk && n > 0; k++)
			memcpy(cols + k * n, x->cols + k * x->cap, n * sizeof(*cols));
		free(x->cols);
	}
	free(x->idset);
	if (x->info == NULL)
		x->info = calloc(1, sizeof(*x->info));
	s->nexec = (uint32_t)n;
	s->nkeys = (uint32_t)nk;
	s->cols = cols;
	s->strs = x->b.strs;
	s->strs_len = x->b.slen;
	s->pool = x->b.pool;
	s->npool = x->b.npool;
	s->hash = x->b.hash;
	s->hash_size = x->b.hsize;
	s->info = x->info;
	s->broken = x->broken;
	s->adverts = x->adverts;
	s->taxo = x->t;
	s->raw_off = x->roff;
	s->raw_len = x->rlen;
	s->own[0] = cols;
	s->own[1] = x->b.strs;
	s->own[2] = x->b.pool;
	s->own[3] = x->b.hash;
	s->own[4] = x->info;
	*out = s;
	return 0;
}

void
rm_exb_discard(struct exb *x, int finished)
{
	free(x->frec);
	x->frec = NULL;
	if (finished)
		return;
	json_decref(x->broken);
	json_decref(x->adverts);
	free(x->cols);
	free(x->info);
	free(x->idset);
	free(x->roff);
	free(x->rlen);
	free(x->b.strs);
	free(x->b.pool);
	free(x->b.hash);
	memset(x, 0, sizeof(*x));
}

int
rm_exset_build(const struct rm_taxo *t, json_t *adverts, json_t *files, json_t *broken,
    struct rm_exset **out, struct rm_err *err)
{
	struct exb x;
	size_t e;

	*out = NULL;
	rm_exb_init(&x, t, 1);
	if (json_array_size(adverts) > 64)
		rm_exb_grow_to(&x, json_array_size(adverts));	/* sized once */
	for (e = 0; e < json_array_size(adverts); e++) {
		json_t *f = files ? json_array_get(files, e) : NULL;
		rm_exb_add(&x, json_array_get(adverts, e), json_string_value(f), 0, 0);
	}
	if (broken)
		json_array_extend(x.broken, broken);
	return rm_exb_finish(&x, out, err);
}

void
rm_exset_free(struct rm_exset *s)
{
	size_t i;

	if (s == NULL)
		return;
	for (i = 0; i < sizeof(s->own) / sizeof(s->own[0]); i++)
		free(s->own[i]);
	if (s->lazy != NULL) {
		free(s->lazy->state);
		free(s->lazy->none);
		free(s->lazy->what);
		free(s->lazy);
	}
	if (s->map != NULL)
		munmap(s->map, s->maplen);
	json_decref(s->broken);
	json_decref(s->adverts);
	json_decref(s->files);
	free(s->raw_off);
	free(s->raw_len);
	free(s->raw);
	free(s);
}

int
rm_exset_col_sound(const struct rm_exset *s, int key)
{
	const struct rm_val *col = s->cols + (size_t)key * s->nexec;
	unsigned bad = 0;
	uint32_t e;

	/* 100,000 values a column: no branch but the kind */
	for (e = 0; e < s->nexec; e++) {
		const struct rm_val *v = &col[e];
		uint64_t ref;

		memcpy(&ref, &v->u, sizeof(ref));
		switch (v->kind) {
		case RM_V_NONE:
		case RM_V_NUM:
		case RM_V_BOOL:
			break;
		case RM_V_STR:
			bad |= (ref != RM_NOSTR) & (ref >= s->strs_len);
			break;
		case RM_V_SET:
			bad |= (ref > s->npool) | (v->n > s->npool - ref);
			break;
		case RM_V_MAP:
			bad |= (ref > s->npool) | ((uint64_t)v->n * 2 > s->npool - ref);
			break;
		default:
			bad = 1;
		}
	}
	return !bad;
}

/*
 * The first read of a column of a mapped index: its values checked (a
 * damaged or crafted file must not make the matcher read outside the map).
 * A damaged column reads as absent, with a warning once.
 */
const struct rm_val *
rm_exset_col_first(const struct rm_exset *s, int key)
{
	struct rm_exset_lazy *z = s->lazy;

	if (z->state[key] == 0) {
		z->state[key] = rm_exset_col_sound(s, key) ? 1 : 2;
		if (z->state[key] == 2)
			rm_warn("%s: the index's values of %s are damaged: read as absent "
			    "(--rescan makes the index again)", z->what,
			    s->taxo != NULL ? s->taxo->keys[key].path : "a key");
	}
	return z->state[key] == 1 ? s->cols + (size_t)key * s->nexec : z->none;
}

uint32_t
rm_exset_str(const struct rm_exset *s, const char *str)
{
	uint32_t h, off;

	if (s->hash_size == 0 || str == NULL)
		return RM_NOSTR;
	h = str_hash(str, strlen(str)) & (s->hash_size - 1);
	while (s->hash[h] != 0) {
		off = s->hash[h] - 1;
		if (off < s->strs_len && strcmp(s->strs + off, str) == 0)
			return off;
		h = (h + 1) & (s->hash_size - 1);
	}
	return RM_NOSTR;
}

json_t *
rm_exset_val_json(const struct rm_exset *s, const struct rm_val *v)
{
	json_t *out;
	uint32_t i;

	switch (v->kind) {
	case RM_V_NUM:
		/* in range first: the cast of a NaN or of 1e300 is undefined */
		if (v->u.num < 9e15 && v->u.num > -9e15 && v->u.num == (double)(long long)v->u.num)
			return json_integer((json_int_t)v->u.num);
		return json_real(v->u.num);
	case RM_V_BOOL:
		return json_boolean(v->u.num != 0);
	case RM_V_STR:
		return json_string(rm_exset_cstr(s, (uint32_t)v->u.ref));
	case RM_V_SET:
		out = json_array();
		for (i = 0; i < v->n; i++) {
			const char *str = rm_exset_cstr(s, s->pool[v->u.ref + i]);
			if (str)
				json_array_append_new(out, json_string(str));
		}
		return out;
	case RM_V_MAP:
		out = json_object();
		for (i = 0; i < v->n; i++) {
			const char *k = rm_exset_cstr(s, s->pool[v->u.ref + 2 * i]);
			const char *x = rm_exset_cstr(s, s->pool[v->u.ref + 2 * i + 1]);
			if (k)
				json_object_set_new(out, k, x ? json_string(x) : json_null());
		}
		return out;
	default:
		return NULL;
	}
}

/*
 * The advert named id in file, read as the registry scan reads it (rm_exb_add_docs):
 * one advert, a Colibri tag list, or several (a YAML list or stream, a JSON
 * array), of which the one with that id.
 */
static json_t *
advert_in_file(const char *file, const char *id, struct rm_err *err)
{
	json_t *docs, *d, *adv = NULL;
	size_t i;

	if ((docs = rm_doc_load_many(file, err)) == NULL)
		return NULL;
	if (!json_is_array(docs) ||
	    (json_array_size(docs) > 0 && json_is_string(json_array_get(docs, 0)))) {
		adv = rm_advert_normalize(docs, file, err);
		json_decref(docs);
		return adv;
	}
	json_array_foreach(docs, i, d) {
		struct rm_err e2;
		const char *aid;
		rm_err_clear(&e2);
		if ((adv = rm_advert_normalize(d, file, &e2)) == NULL)
			continue;
		aid = json_string_value(json_object_get(adv, "id"));
		if (aid != NULL && id != NULL && strcmp(aid, id) == 0)
			break;
		json_decref(adv);
		adv = NULL;
	}
	json_decref(docs);
	if (adv == NULL)
		rm_err_set(err, RM_EXIT_NOTFOUND, file, NULL, "no advert with id '%s' in this file "
		    "any more", id ? id : "");
	return adv;
}

/*
 * An advert the index read from etcd, asked for again: as the index saw
 * it, an advert on a lease has no expires_at (its lease is its expiry).
 */
static json_t *
advert_in_etcd(const struct rm_exset *s, uint32_t e, struct rm_err *err)
{
	json_t *doc = rm_registry_get(rm_exset_cstr(s, s->info[e].id), err), *norm;

	if (doc == NULL)
		return NULL;
	if ((norm = rm_advert_normalize_take(doc, rm_exset_cstr(s, s->info[e].file), err)) == NULL)
		return NULL;
	if (s->info[e].expires_at == 0)
		json_object_del(norm, "expires_at");
	return norm;
}

json_t *
rm_exset_advert(const struct rm_exset *s, uint32_t e, struct rm_err *err)
{
	const char *file;
	json_t *doc;

	if (s->adverts != NULL && e < json_array_size(s->adverts))
		return json_incref(json_array_get(s->adverts, e));
	if (s->raw != NULL && e < s->nexec) {
		json_error_t je;
		doc = rm_json_loadb(s->raw + s->raw_off[e], s->raw_len[e], JSON_DISABLE_EOF_CHECK,
		    &je);
		if (doc == NULL) {
			rm_err_set(err, RM_EXIT_INVALID, NULL, NULL, "advert %s: %s",
			    rm_exset_cstr(s, s->info[e].id), je.text);
			return NULL;
		}
		return rm_advert_normalize_take(doc, "<adverts>", err);
	}
	file = rm_exset_cstr(s, s->info[e].file);
	if (file == NULL) {
		rm_err_set(err, RM_EXIT_NOTFOUND, NULL, NULL, "advert %s has no file",
		    rm_exset_cstr(s, s->info[e].id));
		return NULL;
	}
	if (strncmp(file, "etcd:", 5) == 0)
		return advert_in_etcd(s, e, err);
	return advert_in_file(file, rm_exset_cstr(s, s->info[e].id), err);
}

/* ---- loading adverts ----------------------------------------------- */

/* JSON lines of at most this many adverts keep them parsed (memory: ~3 KB each). */
#define RM_EXSET_KEEP_ADVERTS 20000

void
rm_exb_broken(json_t *broken, const char *file, const struct rm_err *err)
{
	char buf[2048];
	struct rm_err e = *err;

	e.file[0] = '\0';
	json_array_append_new(broken, json_pack("{s:s,s:s}", "file", file, "error",
	    rm_err_str(&e, buf, sizeof(buf))));
}

/* Adds every advert of a loaded document (advert, array, lines, tag list). */
void
rm_exb_add_docs(struct exb *x, json_t *docs, const char *file)
{
	size_t i;
	json_t *d;
	struct rm_err err;

	/* a Colibri tag list is one advert, not a list of adverts */
	if (json_array_size(docs) > 0 && json_is_string(json_array_get(docs, 0))) {
		json_t *wrap = json_pack("[O]", docs);
		rm_exb_add_docs(x, wrap, file);
		json_decref(wrap);
		return;
	}
	json_array_foreach(docs, i, d) {
		json_t *a;
		rm_err_clear(&err);
		a = rm_advert_normalize_take(json_incref(d), file, &err);
		if (a == NULL) {
			rm_exb_broken(x->broken, file, &err);
			continue;
		}
		rm_exb_add(x, a, file, 0, 0);
		json_decref(a);
	}
}

static void
skip_ws(const char *buf, size_t len, size_t *off)
{
	while (*off < len && (buf[*off] == ' ' || buf[*off] == '\n' || buf[*off] == '\t' ||
	    buf[*off] == '\r'))
		(*off)++;
}

/* The advert of JSON lines at buf + off, the tree way: 0 added (or broken), *used its bytes. */
static int
line_by_tree(struct exb *x, const char *buf, size_t len, size_t off, const char *name,
    size_t *used, struct rm_err *err)
{
	json_error_t je;
	json_t *d, *a;
	struct rm_err e;

	d = rm_json_loadb(buf + off, len - off, JSON_DISABLE_EOF_CHECK | JSON_REJECT_DUPLICATES, &je);
	if (d == NULL) {
		int line = 1;
		size_t i;
		for (i = 0; i < off; i++)
			line += buf[i] == '\n';
		return rm_err_setpos(err, RM_EXIT_INVALID, name, line + je.line - 1, je.column, NULL,
		    "malformed JSON: %s", je.text);
	}
	*used = (size_t)je.position;
	rm_err_clear(&e);
	a = rm_advert_normalize_take(d, name, &e);
	if (a == NULL)
		rm_exb_broken(x->broken, name, &e);
	else {
		rm_exb_add(x, a, NULL, off, *used);
		json_decref(a);
	}
	return 0;
}

/*
 * JSON lines (or concatenated objects) from off in buf, which becomes the
 * set's text: one value at a time, each advert added to the columns and
 * freed at once. keep: keep the adverts read (-1: when a few thousand);
 * fast: read what it can straight into the columns (rm_exset_lines.c).
 */
static int
lines_set(const struct rm_taxo *t, char *buf, size_t len, size_t off, const char *name,
    int keep, int fast, struct rm_exset **out, struct rm_err *err)
{
	struct exb x;
	struct rm_exb_lines *fl;
	size_t lines = len > 0 && buf[len - 1] != '\n', used;
	const char *p = buf, *end = buf + len;
	int r = 0;

	/* one advert a line, usually: size the columns once */
	while ((p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		lines++;
		p++;
	}
	/*
	 * A set of a few thousand keeps its adverts read: a plan's explain
	 * basis writes every one, and reading them again cost as much as
	 * placing the nodes.
	 */
	rm_exb_init(&x, t, keep < 0 ? lines <= RM_EXSET_KEEP_ADVERTS : keep);
	x.raw = buf;
	rm_exb_grow_to(&x, lines ? lines : 1);
	/* adverts not kept are read straight into the columns where they can be */
	fl = fast && x.adverts == NULL ? rm_exb_lines_new(t) : NULL;
	skip_ws(buf, len, &off);
	while (off < len && r == 0) {
		if (rm_exb_lines_add(fl, &x, buf, len, off, &used) == 0 ||
		    (r = line_by_tree(&x, buf, len, off, name, &used, err)) == 0) {
			off += used;
			skip_ws(buf, len, &off);
		}
	}
	rm_exb_lines_free(fl);
	if (r != 0) {
		rm_exb_discard(&x, 0);
		free(buf);
		return r;
	}
	r = rm_exb_finish(&x, out, err);
	if (r == 0)
		(*out)->raw = buf;
	else
		free(buf);
	return r;
}

/*
 * Reads -x FILE. JSON lines (or one object) are parsed one value at a time,
 * each advert added to the columns and freed at once; the text is kept so
 * that a full advert can be read back. Arrays and YAML go through the
 * document loader.
 */
static int
file_set(const struct rm_taxo *t, const char *file, struct rm_exset **out, struct rm_err *err)
{
	const char *name = strcmp(file, "-") == 0 ? "<stdin>" : file;
	struct exb x;
	char *buf;
	size_t len, off = 0;
	json_t *docs;
	int r;

	if ((r = rm_read_file(file, RM_DOC_STREAM_MAX_BYTES, &buf, &len, err)) != 0)
		return r;
	skip_ws(buf, len, &off);
	if (off >= len) {
		free(buf);
		return rm_err_set(err, RM_EXIT_INVALID, name, NULL, "empty document");
	}
	if (rm_doc_is_yaml_name(file) || buf[off] != '{') {
		/* read into one tree: the limit of a document */
		if (len > RM_DOC_MAX_BYTES) {
			free(buf);
			return rm_err_set(err, RM_EXIT_INVALID, name, NULL,
			    "file too large: %zu bytes, limit %zu for a YAML stream or a JSON array "
			    "(JSON lines may have %zu)", len, RM_DOC_MAX_BYTES, RM_DOC_STREAM_MAX_BYTES);
		}
		docs = rm_doc_parse_many(buf, len, name, rm_doc_is_yaml_name(file) ? 1 : -1, err);
		free(buf);
		if (docs == NULL)
			return -err->code;
		if (!json_is_array(docs))
			docs = json_pack("[o]", docs);
		rm_exb_init(&x, t, 1);
		rm_exb_add_docs(&x, docs, name);
		json_decref(docs);
		return rm_exb_finish(&x, out, err);
	}
	return lines_set(t, buf, len, off, name, -1, 1, out, err);
}

int
rm_exset_lines_build(const struct rm_taxo *t, const char *text, size_t len, int fast,
    struct rm_exset **out, struct rm_err *err)
{
	char *buf = malloc(len + 1);

	if (buf == NULL)
		return rm_err_set(err, RM_EXIT_INTERNAL, NULL, NULL, "out of memory");
	memcpy(buf, text, len);
	return lines_set(t, buf, len, 0, "<lines>", 0, fast, out, err);
}

/* ---- groups of sets ------------------------------------------------ */

#include "rm_exgroup.h"

void
rm_exgroup_release(struct rm_exgroup *g)
{
	size_t i;

	for (i = 0; i < g->n; i++)
		rm_exset_free(g->sets[i]);
	free(g->sets);
	g->sets = NULL;
	g->n = 0;
}

static int
group_add(struct rm_exgroup *g, struct rm_exset *s)
{
	struct rm_exset **ns = realloc(g->sets, (g->n + 1) * sizeof(*ns));

	if (ns == NULL)
		return -1;
	g->sets = ns;
	g->sets[g->n++] = s;
	return 0;
}

static int
has_id(const struct rm_exset *s, const char *id)
{
	uint32_t off = rm_exset_str(s, id), e, local = rm_exset_str(s, "local");

	for (e = 0; e < s->nexec; e++)
		if ((off != RM_NOSTR && s->info[e].id == off) ||
		    (local != RM_NOSTR && s->info[e].endpoint == local))
			return 1;
	return 0;
}

int
rm_exgroup_load(struct rm_exgroup *g, const struct rm_exsources *src, struct rm_err *err)
{
	const struct rm_taxo *t = rm_taxo_get(err);
	struct rm_exset *s;
	char dir[PATH_MAX], host[256];
	size_t i, nbroken = 0;
	int r;

	memset(g, 0, sizeof(*g));
	if (t == NULL)
		return -err->code;
	for (i = 0; i < src->nfiles; i++) {
		if ((r = file_set(t, src->files[i], &s, err)) != 0)
			goto fail;
		group_add(g, s);
	}
	for (i = 0; i < src->ndirs; i++) {
		if ((r = rm_index_dir_set(t, src->dirs[i], src, &s, err)) != 0)
			goto fail;
		group_add(g, s);
	}
	/* a tool without --registry still follows REMOTEMEDIA_REGISTRY and config.yaml */
	if (src->nfiles == 0 && src->ndirs == 0 && (r = rm_registry_select(NULL, err)) != 0)
		goto fail;
	if (src->nfiles == 0 && src->ndirs == 0 && rm_registry_url()->kind == RM_REG_ETCD) {
		g->registry = 1;
		if ((r = rm_index_etcd_set(t, src, &s, err)) != 0)
			goto fail;
		group_add(g, s);
	} else if (src->nfiles == 0 && src->ndirs == 0) {
		if ((r = rm_registry_dir(dir, sizeof(dir), 0, err)) != 0)
			goto fail;
		g->registry = 1;
		if (rm_is_dir(dir) || src->cached) {
			if ((r = rm_index_dir_set(t, dir, src, &s, err)) != 0)
				goto fail;
			group_add(g, s);
		}
	}
	if (src->nfiles == 0 && src->ndirs == 0) {
		if (gethostname(host, sizeof(host)) != 0)
			snprintf(host, sizeof(host), "localhost");
		host[sizeof(host) - 1] = '\0';
		if (strchr(host, '.'))
			*strchr(host, '.') = '\0';
		if (!src->no_local && rm_exset_local_hook != NULL &&
		    (g->n == 0 || !has_id(g->sets[0], host))) {
			struct rm_err lerr;
			json_t *adv;
			rm_err_clear(&lerr);
			adv = rm_exset_local_hook(&lerr);
			if (adv == NULL)
				rm_warn("cannot probe this machine: %s", lerr.msg);
			else {
				json_t *arr = json_pack("[o]", adv);
				if (rm_exset_build(t, arr, NULL, NULL, &s, err) == 0) {
					group_add(g, s);
					g->local_added = 1;
				}
				json_decref(arr);
			}
		}
	}
	for (i = 0; i < g->n; i++)
		nbroken += json_array_size(g->sets[i]->broken);
	if (nbroken > 0) {
		size_t j;
		json_t *b;
		for (i = 0; i < g->n; i++)
			json_array_foreach(g->sets[i]->broken, j, b) {
				if (rm_mode() == RM_MODE_PRODUCTION) {
					r = rm_err_set(err, RM_EXIT_INVALID,
					    json_string_value(json_object_get(b, "file")), NULL, "%s",
					    json_string_value(json_object_get(b, "error")));
					goto fail;
				}
				rm_warn("%s: %s (advert skipped)",
				    json_string_value(json_object_get(b, "file")),
				    json_string_value(json_object_get(b, "error")));
			}
	}
	return 0;
fail:
	rm_exgroup_release(g);
	return r;
}
