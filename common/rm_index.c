/*
 * The registry index: the column store of every registered advert, kept in
 * $REMOTEMEDIA_HOME/cache/index/<hash>.idx and mapped read-only, so that a
 * match over 10,000 adverts parses nothing. It records what it was built
 * from -- every advert file's name, inodes, size, mtime and ctime (ns), or
 * every etcd key's mod_revision and the revision it reflects -- and is
 * brought up to date from the changes only: the files whose identity
 * differs, or the keys etcd changed since that revision, are read again,
 * the rest is copied from the old columns by ranges.
 *
 * The racy case: a file rewritten in place within the timestamp
 * granularity of its last look keeps its size, mtime and ctime. Entries
 * whose mtime is within RACY_NS of the build are marked racy and read again
 * at every load until an index built later finds them old enough; a
 * directory changed that late is listed again. Nothing else is rescanned.
 *
 * Writes are atomic (a temporary, fsync, rename, under INDEX.lock): a
 * reader or a process killed at any point sees the old index or the new
 * one. A reader that applied fewer than IDX_LAZY changes keeps its result
 * in memory: writing 10 MB with fsync costs more than reading the changes
 * of a directory again; the registry's writers (rm-probe register) always
 * write. For etcd, where asking what changed since an old revision costs
 * etcd a read of every value, what a reader learnt is appended to a log
 * beside the index instead (see "the log of changes" below), which
 * rm-match --follow also keeps from a watch.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "rm_advert.h"
#include "rm_doc.h"
#include "rm_etcd_rev.h"
#include "rm_exset.h"
#include "rm_exset_int.h"
#include "rm_fs.h"
#include "rm_home.h"
#include "rm_log.h"
#include "rm_registry.h"

#define RACY_NS racy_ns()	/* timestamps are coarser than 50 ms */
#define IDX_LAZY 32		/* a reader writes the index from this many changes */
/*
 * Registries up to this many files have every file's stat checked at each
 * load, so that an advert edited in place is seen; above it (a stat costs
 * about 2 us a file) only the directory is, and the racy files: the tools
 * replace adverts by rename, which the directory shows.
 */
#define STAT_ALL_MAX stat_all_max()

struct idx_map {
	char *map;
	size_t len;
	struct idx_hdr h;
	const struct rm_idx_frec *frec;
	struct rm_exset view;		/* borrows the map */
};

/* The changes to apply: old entries dropped, new ones read (sorted by path). */
struct ditem {
	char *path;
	struct rm_idx_frec rec;
	json_t *docs;			/* NULL: err */
	struct rm_err err;
};

struct delta {
	unsigned char *drop;		/* per old entry */
	struct ditem *it;
	size_t n, cap;
	size_t changed;			/* entries added, changed, removed */
	size_t reread;			/* racy entries read again */
};

/* REMOTEMEDIA_TEST_INDEX_RACY_MS and _STAT_MAX: the tests' only way to a racy second */
static long long
racy_ns(void)
{
	static long long ns = -1;
	const char *v;

	if (ns < 0)
		ns = (v = rm_test_hook_env("REMOTEMEDIA_TEST_INDEX_RACY_MS")) != NULL ? atoll(v) * 1000000LL :
		    50000000LL;
	return ns;
}

/* read once: asked per file record, three getenv calls each were a fifth of a warm match */
static uint64_t
stat_all_max(void)
{
	static uint64_t max;
	static int read;
	const char *v;

	if (!read) {
		max = (v = rm_test_hook_env("REMOTEMEDIA_TEST_INDEX_STAT_MAX")) != NULL ?
		    (uint64_t)atoll(v) : 2000;
		read = 1;
	}
	return max;
}

static long long
ns_since(const struct timespec *now, int64_t s, int64_t ns)
{
	return ((long long)now->tv_sec - s) * 1000000000LL + ((long long)now->tv_nsec - ns);
}

static size_t
align8(size_t n)
{
	return (n + 7) & ~(size_t)7;
}

static uint64_t
etcd_src_hash(void)
{
	const struct rm_reg_url *u = rm_registry_url();
	char key[RM_REG_MAX_ENDPOINTS * 270 + 300];
	size_t i, n = 0;

	n += (size_t)snprintf(key + n, sizeof(key) - n, "etcd:");
	for (i = 0; i < u->nendpoints; i++)
		n += (size_t)snprintf(key + n, sizeof(key) - n, "%s,", u->endpoints[i]);
	snprintf(key + n, sizeof(key) - n, "%s", u->prefix);
	return rm_hash64(key, strlen(key), 0);
}

int
rm_index_path(const char *dir, char *buf, size_t size, struct rm_err *err)
{
	char real[PATH_MAX], rel[128];
	uint64_t h;

	if (dir == NULL)
		h = etcd_src_hash();
	else {
		if (realpath(dir, real) == NULL)
			snprintf(real, sizeof(real), "%s", dir);
		h = rm_hash64(real, strlen(real), 0);
	}
	snprintf(rel, sizeof(rel), "cache/index/%016llx.idx", (unsigned long long)h);
	return rm_home_path(buf, size, rel, 1, err);
}

/* ---- writing ------------------------------------------------------- */

/*
 * The bytes of buf into a temporary next to path, only the 4 KiB pages that
 * are not zero (the others stay holes: half of a column store is empty
 * values), fsync'ed, then renamed over path. REMOTEMEDIA_TEST_INDEX_PAUSE
 * (ms) waits between the fsync and the rename, for the crash tests.
 */
static int
write_sparse(const char *path, const char *buf, size_t len, struct rm_err *err)
{
	static const char zero[4096];
	char tmp[PATH_MAX], dir[PATH_MAX];
	const char *pause = rm_test_hook_env("REMOTEMEDIA_TEST_INDEX_PAUSE"), *slash;
	size_t off, n;
	int fd, dfd;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp.XXXXXX", path) >= (int)sizeof(tmp))
		return rm_err_set(err, RM_EXIT_INVALID, path, NULL, "path too long");
	if ((fd = mkstemp(tmp)) < 0)
		return rm_err_set(err, RM_EXIT_INVALID, path, NULL, "cannot create temporary file: %s",
		    strerror(errno));
	if (ftruncate(fd, (off_t)len) != 0)
		goto fail;
	for (off = 0; off < len; off += n) {
		n = len - off < sizeof(zero) ? len - off : sizeof(zero);
		if (memcmp(buf + off, zero, n) != 0 &&
		    pwrite(fd, buf + off, n, (off_t)off) != (ssize_t)n)
			goto fail;
	}
	if (fsync(fd) != 0 || close(fd) != 0) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (pause != NULL && atoi(pause) > 0) {
		struct timespec ts = { atoi(pause) / 1000, (long)(atoi(pause) % 1000) * 1000000L };
		nanosleep(&ts, NULL);
	}
	if (rename(tmp, path) != 0)
		goto fail;
	slash = strrchr(path, '/');
	snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - path) : 1, slash ? path : ".");
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		(void)fsync(dfd);
		close(dfd);
	}
	return 0;
fail:
	n = (size_t)errno;
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return rm_err_set(err, RM_EXIT_INVALID, path, NULL, "cannot write: %s", strerror((int)n));
}

/*
 * Readers write the index too, so writers take PATH.lock: the one that
 * holds it removes the temporaries killed writers left, then writes. When
 * another holds it, that one's index will do: nothing is written.
 */
static int
write_locked(const char *path, const char *buf, size_t len, struct rm_err *err)
{
	char lk[PATH_MAX];
	struct rm_err e;
	int fd, r;

	if ((r = rm_path(lk, sizeof(lk), err, "%s.lock", path)) != 0)
		return r;
	rm_err_clear(&e);
	if ((fd = rm_lock(lk, 1, 1, &e)) < 0) {
		if (e.code == RM_EXIT_NEGATIVE)
			return 0;
		*err = e;
		return fd;
	}
	rm_remove_stale_temps(path);
	r = write_sparse(path, buf, len, err);
	rm_unlock(fd);
	return r;
}

/*
 * The image of set s with its entries, in *buf (calloc'd, *total bytes);
 * h: the header's identity fields, filled.
 */
static int
index_image(const struct rm_exset *s, const struct rm_idx_frec *frec, size_t nfrec,
    struct idx_hdr *h, char **buf, size_t *total_out, struct rm_err *err)
{
	char *broken;
	size_t total, blen, i;

	memcpy(h->magic, IDX_MAGIC, 8);
	h->version = IDX_VERSION;
	h->hdrsize = sizeof(*h);
	h->taxo_hash = s->taxo->hash;
	h->nexec = s->nexec;
	h->nkeys = s->nkeys;
	h->hash_size = s->hash_size;
	broken = json_dumps(s->broken, JSON_COMPACT);
	blen = broken ? strlen(broken) : 0;
	total = align8(sizeof(*h));
	h->off_cols = total;
	total += align8((size_t)s->nkeys * s->nexec * sizeof(struct rm_val));
	h->off_info = total;
	total += align8(s->nexec * sizeof(struct rm_exinfo));
	h->off_pool = total;
	h->npool = s->npool;
	total += align8(s->npool * sizeof(uint32_t));
	h->off_hash = total;
	total += align8((size_t)s->hash_size * sizeof(uint32_t));
	h->off_strs = total;
	h->strs_len = s->strs_len;
	total += align8(s->strs_len);
	h->off_broken = total;
	h->broken_len = blen;
	total += align8(blen);
	h->off_frec = total;
	h->nfrec = nfrec;
	total += nfrec * sizeof(*frec);
	h->file_size = total;
	for (h->nracy = 0, i = 0; i < nfrec; i++)
		h->nracy += frec[i].racy != 0;
	if ((*buf = calloc(1, total)) == NULL) {
		free(broken);
		return rm_err_set(err, RM_EXIT_INTERNAL, NULL, NULL, "out of memory");
	}
	memcpy(*buf, h, sizeof(*h));
	memcpy(*buf + h->off_cols, s->cols, (size_t)s->nkeys * s->nexec * sizeof(struct rm_val));
	memcpy(*buf + h->off_info, s->info, s->nexec * sizeof(struct rm_exinfo));
	if (s->npool)
		memcpy(*buf + h->off_pool, s->pool, s->npool * sizeof(uint32_t));
	if (s->hash_size)
		memcpy(*buf + h->off_hash, s->hash, (size_t)s->hash_size * sizeof(uint32_t));
	if (s->strs_len)
		memcpy(*buf + h->off_strs, s->strs, s->strs_len);
	if (blen)
		memcpy(*buf + h->off_broken, broken, blen);
	if (nfrec)
		memcpy(*buf + h->off_frec, frec, nfrec * sizeof(*frec));
	free(broken);
	*total_out = total;
	return 0;
}

/* Writes set s with its entries; h: the header's identity fields, filled. */
typedef int (*idx_writer)(const struct rm_exset *s, const struct rm_idx_frec *frec,
    size_t nfrec, struct idx_hdr *h, const char *path, struct rm_err *err);

static int
index_write(const struct rm_exset *s, const struct rm_idx_frec *frec, size_t nfrec,
    struct idx_hdr *h, const char *path, struct rm_err *err)
{
	char *buf;
	size_t total;
	int r;

	if ((r = index_image(s, frec, nfrec, h, &buf, &total, err)) != 0)
		return r;
	r = write_locked(path, buf, total, err);
	free(buf);
	return r;
}

/* ---- reading ------------------------------------------------------- */

/* count items of size bytes at off lie within len bytes (no wrap-around) */
static int
span_ok(uint64_t off, uint64_t count, uint64_t size, uint64_t len)
{
	return off <= len && (size == 0 || count <= (len - off) / size);
}

static int
hdr_ok(const struct idx_hdr *h, size_t len, const struct rm_taxo *t)
{
	return memcmp(h->magic, IDX_MAGIC, 8) == 0 && h->version == IDX_VERSION &&
	    h->hdrsize == sizeof(*h) && h->file_size == (uint64_t)len && h->nkeys == t->nkeys &&
	    span_ok(h->off_broken, h->broken_len, 1, len) &&
	    span_ok(h->off_strs, h->strs_len, 1, len) && h->strs_len > 0 &&
	    span_ok(h->off_info, h->nexec, sizeof(struct rm_exinfo), len) &&
	    (h->nexec == 0 || (uint64_t)h->nkeys <= UINT64_MAX / h->nexec) &&
	    span_ok(h->off_cols, (uint64_t)h->nkeys * h->nexec, sizeof(struct rm_val), len) &&
	    span_ok(h->off_hash, h->hash_size, 4, len) && span_ok(h->off_pool, h->npool, 4, len) &&
	    (h->hash_size & (h->hash_size - 1)) == 0 &&
	    span_ok(h->off_frec, h->nfrec, sizeof(struct rm_idx_frec), len) &&
	    ((h->off_cols | h->off_info | h->off_pool | h->off_hash | h->off_frec) & 7) == 0;
}

static int
str_ok(uint64_t off, const struct idx_hdr *h)
{
	return off == RM_NOSTR || off < h->strs_len;
}

/*
 * Every reference of the mapped index outside its columns lands inside it:
 * the strings of the executors and of the pool inside the string area (which
 * ends in a NUL), and the hash table with an empty slot (a lookup ends
 * there). Else a crafted or damaged file would make the matcher read
 * outside the map, or loop. A column's values (string offsets, sets and maps
 * in the pool) are checked when the column is first read (rm_exset_col):
 * checking all of them here read 80 MB for 100,000 adverts, every match.
 */
static int
refs_ok(const struct idx_hdr *h, const char *map)
{
	const struct rm_exinfo *info = (const struct rm_exinfo *)(map + h->off_info);
	const uint32_t *pool = (const uint32_t *)(map + h->off_pool);
	const uint32_t *hash = (const uint32_t *)(map + h->off_hash);
	uint64_t i, empty = 0;

	for (i = 0; i < h->nexec; i++)
		if (!str_ok(info[i].id, h) || !str_ok(info[i].file, h) ||
		    !str_ok(info[i].endpoint, h))
			return 0;
	for (i = 0; i < h->npool; i++)
		if (!str_ok(pool[i], h))
			return 0;
	for (i = 0; i < h->hash_size; i++) {
		if (hash[i] > h->strs_len)
			return 0;
		empty += hash[i] == 0;
	}
	if (h->hash_size > 0 && empty == 0)
		return 0;
	return 1;
}

/*
 * Checks the image of an index, len bytes at map (8-aligned), and makes m's
 * header, file records and view of it (m->map is not set); -1 when it is
 * not whole.
 */
static int
idx_check(const char *map, size_t len, const struct rm_taxo *t, struct idx_map *m)
{
	struct rm_exset *v = &m->view;
	size_t i;

	memset(m, 0, sizeof(*m));
	if (len < sizeof(m->h))
		return -1;
	memcpy(&m->h, map, sizeof(m->h));
	/* the strings end inside their area: none is read past it */
	if (!hdr_ok(&m->h, len, t) || map[m->h.off_strs + m->h.strs_len - 1] != '\0')
		return -1;
	/* (a pointer is made only from an offset checked: UB otherwise) */
	m->frec = (const struct rm_idx_frec *)(map + m->h.off_frec);
	for (i = 0; i < m->h.nfrec; i++)
		if (m->frec[i].path >= m->h.strs_len ||
		    (uint64_t)m->frec[i].e_first + m->frec[i].e_count > m->h.nexec)
			return -1;
	if (!refs_ok(&m->h, map))
		return -1;
	v->nexec = m->h.nexec;
	v->nkeys = m->h.nkeys;
	v->cols = (const struct rm_val *)(map + m->h.off_cols);
	v->info = (const struct rm_exinfo *)(map + m->h.off_info);
	v->pool = (const uint32_t *)(map + m->h.off_pool);
	v->npool = m->h.npool;
	v->hash = (const uint32_t *)(map + m->h.off_hash);
	v->hash_size = m->h.hash_size;
	v->strs = map + m->h.off_strs;
	v->strs_len = m->h.strs_len;
	v->taxo = t;
	return 0;
}

/* Every column sound, and its numbers finite, as JSON's are. */
static int
cols_whole(const struct rm_exset *v)
{
	uint64_t i, n = (uint64_t)v->nkeys * v->nexec;
	uint32_t k;

	for (k = 0; k < v->nkeys; k++)
		if (!rm_exset_col_sound(v, (int)k))
			return 0;
	for (i = 0; i < n; i++)
		if ((v->cols[i].kind == RM_V_NUM || v->cols[i].kind == RM_V_BOOL) &&
		    !isfinite(v->cols[i].u.num))
			return 0;
	return 1;
}

/* Maps the index at path when it is one of this kind, source and taxonomy. */
static int
idx_open(const char *path, const struct rm_taxo *t, uint32_t kind, uint64_t src,
    struct idx_map *m)
{
	struct stat st;
	char *map;
	int fd;

	memset(m, 0, sizeof(*m));
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	if (fstat(fd, &st) != 0 || (size_t)st.st_size < sizeof(m->h)) {
		close(fd);
		return -1;
	}
	/* not populated: a match reads only the columns it uses */
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (map == MAP_FAILED)
		return -1;
	if (idx_check(map, (size_t)st.st_size, t, m) != 0 || m->h.kind != kind ||
	    m->h.src_hash != src || m->h.taxo_hash != t->hash) {
		munmap(map, (size_t)st.st_size);
		memset(m, 0, sizeof(*m));
		return -1;
	}
	m->map = map;
	m->len = (size_t)st.st_size;
	return 0;
}

int
rm_index_check_image(const struct rm_taxo *t, const void *buf, size_t len)
{
	struct idx_map m;
	char *copy = malloc(len ? len : 1);	/* 8-aligned, as a map is */
	json_t *broken;
	uint32_t e, k;
	size_t i, n = 0;

	if (copy == NULL)
		return -1;
	memcpy(copy, buf, len);
	if (idx_check(copy, len, t, &m) != 0 || !cols_whole(&m.view)) {
		free(copy);
		return -1;
	}
	for (e = 0; e < m.view.nexec; e++) {
		for (k = 0; k < m.view.nkeys; k++)
			json_decref(rm_exset_val_json(&m.view, rm_exset_val(&m.view, (int)k, e)));
		n += strlen(rm_exset_cstr(&m.view, m.view.info[e].id) ?: "");
		n += strlen(rm_exset_cstr(&m.view, m.view.info[e].file) ?: "");
		n += strlen(rm_exset_cstr(&m.view, m.view.info[e].endpoint) ?: "");
	}
	for (i = 0; i < m.h.nfrec; i++)
		n += strlen(m.view.strs + m.frec[i].path);
	n += rm_exset_str(&m.view, "cuda") != RM_NOSTR;
	broken = json_loadb(copy + m.h.off_broken, m.h.broken_len, 0, NULL);
	json_decref(broken);
	free(copy);
	rm_debug("index image: %u executors, %zu bytes of names", m.view.nexec, n);
	return 0;
}

static void
idx_close(struct idx_map *m)
{
	if (m->map != NULL)
		munmap(m->map, m->len);
	m->map = NULL;
}

/* The mapped index as a set of its own (the map goes with it). */
static struct rm_exset *
idx_take(struct idx_map *m, const char *path)
{
	struct rm_exset *s = calloc(1, sizeof(*s));
	struct rm_exset_lazy *z = calloc(1, sizeof(*z));

	if (s == NULL || z == NULL || (z->state = calloc(m->view.nkeys + 1, 1)) == NULL ||
	    (z->none = calloc((size_t)m->view.nexec + 1, sizeof(*z->none))) == NULL ||
	    (z->what = strdup(path)) == NULL) {
		if (z != NULL) {
			free(z->state);
			free(z->none);
		}
		free(z);
		free(s);
		idx_close(m);
		return NULL;
	}
	*s = m->view;
	s->lazy = z;
	s->map = m->map;
	s->maplen = m->len;
	s->broken = m->h.broken_len ?
	    json_loadb(m->map + m->h.off_broken, m->h.broken_len, 0, NULL) : NULL;
	if (s->broken == NULL)
		s->broken = json_array();
	m->map = NULL;
	return s;
}

static const char *
frec_path(const struct idx_map *m, size_t i)
{
	return m->view.strs + m->frec[i].path;
}

/* The old entry named path, or -1 (entries are sorted by path). */
static long
frec_find(const struct idx_map *m, const char *path)
{
	size_t lo = 0, hi = m->h.nfrec;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(frec_path(m, mid), path);
		if (c == 0)
			return (long)mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

/* ---- applying changes ---------------------------------------------- */

static struct ditem *
delta_add(struct delta *d, const char *path)
{
	struct ditem *it;

	if (d->n == d->cap) {
		size_t ncap = d->cap ? d->cap * 2 : 16;
		struct ditem *ni = realloc(d->it, ncap * sizeof(*ni));
		if (ni == NULL)
			return NULL;
		d->it = ni;
		d->cap = ncap;
	}
	it = &d->it[d->n++];
	memset(it, 0, sizeof(*it));
	it->path = strdup(path);
	rm_err_clear(&it->err);
	return it;
}

static void
delta_free(struct delta *d)
{
	size_t i;

	for (i = 0; i < d->n; i++) {
		free(d->it[i].path);
		json_decref(d->it[i].docs);
	}
	free(d->it);
	free(d->drop);
	memset(d, 0, sizeof(*d));
}

static int
frec_push(struct exb *x, const struct rm_idx_frec *f)
{
	if (x->nfrec == x->frcap) {
		size_t ncap = x->frcap ? x->frcap * 2 : 256;
		struct rm_idx_frec *nf = realloc(x->frec, ncap * sizeof(*nf));
		if (nf == NULL)
			return -1;
		x->frec = nf;
		x->frcap = ncap;
	}
	x->frec[x->nfrec++] = *f;
	return 0;
}

/* A builder that starts from the strings and pool of the old index. */
static int
exb_from(struct exb *x, const struct rm_taxo *t, const struct rm_exset *o)
{
	uint32_t i;

	memset(x, 0, sizeof(*x));
	x->t = t;
	x->broken = json_array();
	x->b.scap = o->strs_len + 65536;
	x->b.pcap = o->npool + 4096;
	x->b.hsize = o->hash_size;
	x->b.strs = malloc(x->b.scap);
	x->b.pool = malloc(x->b.pcap * sizeof(uint32_t));
	x->b.hash = malloc((size_t)o->hash_size * sizeof(uint32_t));
	if (x->b.strs == NULL || x->b.pool == NULL || x->b.hash == NULL)
		return -1;
	memcpy(x->b.strs, o->strs, o->strs_len);
	x->b.slen = o->strs_len;
	memcpy(x->b.pool, o->pool, o->npool * sizeof(uint32_t));
	x->b.npool = o->npool;
	memcpy(x->b.hash, o->hash, (size_t)o->hash_size * sizeof(uint32_t));
	for (i = 0; i < o->hash_size; i++)
		x->b.hcount += o->hash[i] != 0;
	return 0;
}

/* Old executors a .. b-1, columns and all, appended by ranges of memory. */
static int
copy_run(struct exb *x, const struct rm_exset *o, uint32_t a, uint32_t b)
{
	size_t n = b - a, k, e;

	if (n == 0)
		return 0;
	if (x->n + n > x->cap && rm_exb_grow_to(x, x->n + n) != 0)
		return -1;
	for (k = 0; k < x->t->nkeys; k++)
		memcpy(x->cols + k * x->cap + x->n, o->cols + k * o->nexec + a, n * sizeof(*x->cols));
	memcpy(x->info + x->n, o->info + a, n * sizeof(*x->info));
	for (e = 0; e < n; e++, x->n++)
		if (rm_exb_seen(x, x->info[x->n].id, x->n) >= 0)
			x->ndup++;
	return 0;
}

static void
add_item(struct exb *x, struct ditem *it)
{
	struct rm_idx_frec f = it->rec;
	size_t at = x->nfrec;

	f.path = rm_exb_intern(&x->b, it->path);
	f.e_first = (uint32_t)x->n;
	if (frec_push(x, &f) != 0)
		return;
	if (it->docs == NULL)
		rm_exb_broken(x->broken, it->path, &it->err);
	else if (json_is_array(it->docs))
		rm_exb_add_docs(x, it->docs, it->path);
	else {
		json_t *w = json_pack("[O]", it->docs);
		rm_exb_add_docs(x, w, it->path);
		json_decref(w);
	}
	x->frec[at].e_count = (uint32_t)(x->n - f.e_first);
}

/* The old index's broken adverts, less those of the entries dropped. */
static void
keep_broken(struct exb *x, const struct idx_map *m, const struct delta *d)
{
	json_t *old, *b;
	size_t i;

	if (m->h.broken_len == 0 ||
	    (old = json_loadb(m->map + m->h.off_broken, m->h.broken_len, 0, NULL)) == NULL)
		return;
	json_array_foreach(old, i, b) {
		long at = frec_find(m, json_string_value(json_object_get(b, "file")) ?: "");
		if (at < 0 || !d->drop[at])
			json_array_append(x->broken, b);
	}
	json_decref(old);
}

static int
cmp_broken(const void *a, const void *b)
{
	const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;

	return strcmp(json_string_value(json_object_get(x, "file")) ?: "",
	    json_string_value(json_object_get(y, "file")) ?: "");
}

/* Broken adverts in file order, as a full scan lists them. */
static void
sort_broken(json_t *broken)
{
	size_t n = json_array_size(broken), i;
	json_t **v;

	if (n < 2 || (v = malloc(n * sizeof(*v))) == NULL)
		return;
	for (i = 0; i < n; i++)
		v[i] = json_incref(json_array_get(broken, i));
	/* entries of one file keep their order: qsort is not stable, mergesort is costly */
	for (i = 1; i < n; i++) {
		json_t *cur = v[i];
		size_t j = i;
		while (j > 0 && cmp_broken(&v[j - 1], &cur) > 0) {
			v[j] = v[j - 1];
			j--;
		}
		v[j] = cur;
	}
	json_array_clear(broken);
	for (i = 0; i < n; i++)
		json_array_append_new(broken, v[i]);
	free(v);
}

/*
 * The new columns: the old index (m, or nothing) with d applied, merged in
 * path order. 1 when an executor id is now in two entries: the caller
 * builds everything again so that the first file keeps it, as always.
 */
static int
idx_apply(const struct rm_taxo *t, struct idx_map *m, struct delta *d, struct exb *x)
{
	size_t nold = m ? m->h.nfrec : 0, i = 0, j = 0, kept = 0, bound = 0;
	uint32_t ra = 0, rb = 0;

	if (m ? exb_from(x, t, &m->view) != 0 : rm_exb_init(x, t, 0) != 0)
		return -1;
	for (i = 0; i < nold; i++)
		kept += d->drop[i] ? 0 : m->frec[i].e_count;
	for (j = 0; j < d->n; j++)
		bound += json_is_array(d->it[j].docs) ? json_array_size(d->it[j].docs) : 1;
	if (rm_exb_grow_to(x, kept + bound > 0 ? kept + bound : 1) != 0)
		return -1;
	if (m)
		keep_broken(x, m, d);
	for (i = j = 0; i < nold || j < d->n;) {
		if (i < nold && d->drop[i]) {
			i++;
		} else if (i < nold && (j == d->n || strcmp(frec_path(m, i), d->it[j].path) < 0)) {
			struct rm_idx_frec f = m->frec[i++];
			if (rb != f.e_first || ra == rb) {
				if (copy_run(x, &m->view, ra, rb) != 0)
					return -1;
				ra = rb = f.e_first;
			}
			f.e_first = (uint32_t)(x->n + (rb - ra));
			rb += f.e_count;
			if (frec_push(x, &f) != 0)
				return -1;
		} else {
			if (m != NULL && copy_run(x, &m->view, ra, rb) != 0)
				return -1;
			ra = rb = 0;
			add_item(x, &d->it[j++]);
		}
	}
	if (m && copy_run(x, &m->view, ra, rb) != 0)
		return -1;
	if (d->n > 0)
		sort_broken(x->broken);
	return m != NULL && x->ndup > 0 ? 1 : 0;
}

/* ---- directories --------------------------------------------------- */

static int
is_advert_name(const char *name)
{
	size_t n = strlen(name);

	if (name[0] == '.')
		return 0;
	return (n > 5 && strcmp(name + n - 5, ".json") == 0) || rm_doc_is_yaml_name(name);
}

static void
frec_stat(struct rm_idx_frec *f, const struct stat *st, const struct timespec *now)
{
	f->ino = st->st_ino;
	f->size = st->st_size;
	f->mtime_s = st->st_mtim.tv_sec;
	f->mtime_ns = st->st_mtim.tv_nsec;
	f->ctime_s = st->st_ctim.tv_sec;
	f->ctime_ns = st->st_ctim.tv_nsec;
	f->racy = ns_since(now, f->mtime_s, f->mtime_ns) < RACY_NS ||
	    ns_since(now, f->ctime_s, f->ctime_ns) < RACY_NS;
}

static int
frec_same(const struct rm_idx_frec *f, const struct stat *st)
{
	return f->ino == (uint64_t)st->st_ino && f->size == st->st_size &&
	    f->mtime_s == st->st_mtim.tv_sec && f->mtime_ns == st->st_mtim.tv_nsec &&
	    f->ctime_s == st->st_ctim.tv_sec && f->ctime_ns == st->st_ctim.tv_nsec;
}

struct dent {
	char *name;
	uint64_t dino;
};

static int
cmp_dent(const void *a, const void *b)
{
	return strcmp(((const struct dent *)a)->name, ((const struct dent *)b)->name);
}

/* The advert files of dir, sorted by name; NULL with err. */
static struct dent *
list_dir(const char *dir, size_t *n, struct rm_err *err)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	struct dent *v = NULL;
	size_t cap = 0;

	*n = 0;
	if (d == NULL) {
		rm_err_set(err, errno == ENOENT ? RM_EXIT_NOTFOUND : RM_EXIT_INVALID, dir, NULL,
		    "cannot read directory: %s", strerror(errno));
		return NULL;
	}
	while ((de = readdir(d)) != NULL) {
		if (!is_advert_name(de->d_name))
			continue;
		if (*n == cap) {
			struct dent *nv = realloc(v, (cap = cap ? cap * 2 : 256) * sizeof(*nv));
			if (nv == NULL)
				break;
			v = nv;
		}
		v[*n].name = strdup(de->d_name);
		v[(*n)++].dino = de->d_ino;
	}
	closedir(d);
	if (v == NULL)
		v = calloc(1, sizeof(*v));
	if (*n > 0)
		qsort(v, *n, sizeof(*v), cmp_dent);
	return v;
}

static void
dents_free(struct dent *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i].name);
	free(v);
}

/* Reads one advert file into item it (its identity, its documents). */
static void
read_file_item(int dfd, const char *name, struct ditem *it, const struct timespec *now)
{
	struct stat st;

	if (fstatat(dfd, name, &st, 0) == 0)
		frec_stat(&it->rec, &st, now);
	else
		it->rec.racy = 1;
	it->docs = rm_doc_load_many(it->path, &it->err);
}

static struct ditem *
file_item(struct delta *d, const char *dir, const char *name, uint64_t dino)
{
	char path[PATH_MAX];
	struct ditem *it;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((it = delta_add(d, path)) != NULL)
		it->rec.dino = dino;
	return it;
}

/* Old entry i, listed with the same inode: is it still what was read? */
static void
check_entry(struct delta *d, const struct idx_map *m, size_t i, int dfd, const char *dir)
{
	const struct rm_idx_frec *f = &m->frec[i];
	const char *path = frec_path(m, i), *name = strrchr(path, '/');
	struct stat st;

	name = name ? name + 1 : path;
	if (m->h.nfrec > STAT_ALL_MAX && !f->racy)
		return;
	if (fstatat(dfd, name, &st, 0) != 0) {
		d->drop[i] = 1;
		d->changed++;
		return;
	}
	if (frec_same(f, &st) && !f->racy)
		return;
	d->drop[i] = 1;
	if (frec_same(f, &st))
		d->reread++;
	else
		d->changed++;
	file_item(d, dir, name, f->dino);
}

static int
dir_changed(const struct idx_hdr *h, const struct stat *dst)
{
	return h->dir_dev != (uint64_t)dst->st_dev || h->dir_ino != (uint64_t)dst->st_ino ||
	    h->dir_mtime_s != dst->st_mtim.tv_sec || h->dir_mtime_ns != dst->st_mtim.tv_nsec ||
	    h->dir_ctime_s != dst->st_ctim.tv_sec || h->dir_ctime_ns != dst->st_ctim.tv_nsec;
}

/* The base name of old entry i. */
static const char *
frec_name(const struct idx_map *m, size_t i)
{
	const char *p = frec_path(m, i), *s = strrchr(p, '/');

	return s ? s + 1 : p;
}

/* Old entries by base name: open addressing, entry + 1, 0 empty. */
static uint32_t *
name_table(const struct idx_map *m, size_t *size)
{
	size_t n = 1024, i, h;
	uint32_t *tab;

	while (n < 2 * m->h.nfrec)
		n *= 2;
	if ((tab = calloc(n, sizeof(*tab))) == NULL)
		return NULL;
	for (i = 0; i < m->h.nfrec; i++) {
		const char *name = frec_name(m, i);
		h = (size_t)rm_hash64(name, strlen(name), 0) & (n - 1);
		while (tab[h] != 0)
			h = (h + 1) & (n - 1);
		tab[h] = (uint32_t)i + 1;
	}
	*size = n;
	return tab;
}

static long
name_find(const struct idx_map *m, const uint32_t *tab, size_t size, const char *name)
{
	size_t h = (size_t)rm_hash64(name, strlen(name), 0) & (size - 1);

	for (; tab[h] != 0; h = (h + 1) & (size - 1))
		if (strcmp(frec_name(m, tab[h] - 1), name) == 0)
			return (long)tab[h] - 1;
	return -1;
}

static int
cmp_item(const void *a, const void *b)
{
	return strcmp(((const struct ditem *)a)->path, ((const struct ditem *)b)->path);
}

/*
 * The listing against the old entries, by name (a hash of them: sorting
 * 10,000 names costs more than the rest of the update) and inode.
 */
static int
dir_listing(const char *dir, int dfd, const struct idx_map *m, struct delta *d,
    struct rm_err *err)
{
	size_t size = 0, i;
	uint32_t *tab = name_table(m, &size);
	unsigned char *seen = calloc(m->h.nfrec + 1, 1);
	DIR *dp = opendir(dir);
	struct dirent *de;

	if (tab == NULL || seen == NULL || dp == NULL) {
		free(tab);
		free(seen);
		if (dp != NULL)
			closedir(dp);
		return rm_err_set(err, RM_EXIT_INVALID, dir, NULL, "cannot read directory: %s",
		    strerror(errno));
	}
	while ((de = readdir(dp)) != NULL) {
		long at;
		if (!is_advert_name(de->d_name))
			continue;
		if ((at = name_find(m, tab, size, de->d_name)) < 0) {
			file_item(d, dir, de->d_name, de->d_ino);
			d->changed++;
			continue;
		}
		seen[at] = 1;
		if (m->frec[at].dino != (uint64_t)de->d_ino) {
			d->drop[at] = 1;
			file_item(d, dir, de->d_name, de->d_ino);
			d->changed++;
		} else
			check_entry(d, m, (size_t)at, dfd, dir);
	}
	closedir(dp);
	for (i = 0; i < m->h.nfrec; i++)
		if (!seen[i] && !d->drop[i]) {
			d->drop[i] = 1;
			d->changed++;
		}
	free(tab);
	free(seen);
	if (d->n > 1)
		qsort(d->it, d->n, sizeof(*d->it), cmp_item);
	return 0;
}

/*
 * What changed in dir since index m: the listing (only when the directory
 * itself changed, or changed too close to the build) against the entries;
 * the stat of each entry when there are few, or of the racy ones. Changed,
 * added and racy files are read.
 */
static int
dir_delta(const char *dir, const struct stat *dst, const struct idx_map *m, struct delta *d,
    const struct timespec *now, struct rm_err *err)
{
	size_t i;
	int dfd, r = 0;

	memset(d, 0, sizeof(*d));
	if ((d->drop = calloc(m->h.nfrec + 1, 1)) == NULL)
		return rm_err_set(err, RM_EXIT_INTERNAL, dir, NULL, "out of memory");
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return rm_err_set(err, RM_EXIT_INVALID, dir, NULL, "cannot read directory: %s",
		    strerror(errno));
	if (!dir_changed(&m->h, dst) && !m->h.racy) {
		for (i = 0; i < m->h.nfrec; i++)
			check_entry(d, m, i, dfd, dir);
	} else
		r = dir_listing(dir, dfd, m, d, err);
	for (i = 0; r == 0 && i < d->n; i++)
		read_file_item(dfd, strrchr(d->it[i].path, '/') + 1, &d->it[i], now);
	close(dfd);
	return r;
}

/* Every advert file of dir, as a delta over nothing. */
static int
dir_full(const char *dir, struct delta *d, const struct timespec *now, struct rm_err *err)
{
	struct dent *v;
	size_t n, i;
	int dfd;

	memset(d, 0, sizeof(*d));
	if ((v = list_dir(dir, &n, err)) == NULL)
		return -err->code;
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		dents_free(v, n);
		return rm_err_set(err, RM_EXIT_INVALID, dir, NULL, "cannot read directory: %s",
		    strerror(errno));
	}
	for (i = 0; i < n; i++)
		file_item(d, dir, v[i].name, v[i].dino);
	dents_free(v, n);
	for (i = 0; i < d->n; i++)
		read_file_item(dfd, strrchr(d->it[i].path, '/') + 1, &d->it[i], now);
	close(dfd);
	d->changed = d->n;
	return 0;
}

/* The one advert of item it, normalised, when it has exactly one; else NULL. */
static json_t *
sole_advert(const struct ditem *it)
{
	json_t *doc = it->docs;
	struct rm_err e;

	if (json_is_array(doc)) {
		if (json_array_size(doc) != 1 || json_is_string(json_array_get(doc, 0)))
			return NULL;
		doc = json_array_get(doc, 0);
	}
	if (!json_is_object(doc))
		return NULL;
	rm_err_clear(&e);
	return rm_advert_normalize_take(json_incref(doc), it->path, &e);
}

/*
 * The common change, adverts rewritten in place (one advert a file, the
 * same id), patched into a private writable mapping of the old index: only
 * the pages of that executor's values are copied, not the 10 MB of
 * columns. Strings and pool grow on the heap. 1 (nothing touched) when d
 * is not only that.
 */
static int
patch_in_place(struct idx_map *m, struct delta *d, struct rm_exset **out)
{
	const struct rm_exset *v = &m->view;
	json_t **adv = calloc(d->n + 1, sizeof(*adv));
	long *at = calloc(d->n + 1, sizeof(*at));
	size_t j, ndrop = 0, k;
	struct rm_exset *s = NULL;
	struct exb x;
	int r = 1;

	for (j = 0; j < m->h.nfrec; j++)
		ndrop += d->drop[j];
	if (adv == NULL || at == NULL || ndrop != d->n || m->h.broken_len > 2)
		goto out;
	for (j = 0; j < d->n; j++) {
		at[j] = frec_find(m, d->it[j].path);
		if (at[j] < 0 || !d->drop[at[j]] || m->frec[at[j]].e_count != 1 ||
		    (adv[j] = sole_advert(&d->it[j])) == NULL ||
		    strcmp(json_string_value(json_object_get(adv[j], "id")) ?: "",
		    v->strs + v->info[m->frec[at[j]].e_first].id) != 0)
			goto out;
	}
	if (mprotect(m->map, m->len, PROT_READ | PROT_WRITE) != 0 ||
	    (s = calloc(1, sizeof(*s))) == NULL)
		goto out;
	if (exb_from(&x, v->taxo, v) != 0) {
		rm_exb_discard(&x, 0);
		free(s);
		goto out;
	}
	x.cols = (struct rm_val *)v->cols;
	x.info = (struct rm_exinfo *)v->info;
	x.cap = v->nexec;
	for (j = 0; j < d->n; j++) {
		struct rm_idx_frec *f = (struct rm_idx_frec *)&m->frec[at[j]], nf = d->it[j].rec;
		for (k = 0; k < v->nkeys; k++)
			memset(&x.cols[k * x.cap + f->e_first], 0, sizeof(*x.cols));
		x.n = f->e_first;
		rm_exb_add(&x, adv[j], d->it[j].path, 0, 0);
		nf.path = f->path;
		nf.e_first = f->e_first;
		nf.e_count = 1;
		*f = nf;
	}
	*s = *v;
	s->strs = s->own[1] = x.b.strs;
	s->strs_len = x.b.slen;
	s->pool = s->own[2] = x.b.pool;
	s->npool = x.b.npool;
	s->hash = s->own[3] = x.b.hash;
	s->hash_size = x.b.hsize;
	s->map = m->map;
	s->maplen = m->len;
	s->broken = x.broken;
	free(x.idset);
	m->map = NULL;
	*out = s;
	r = 0;
out:
	for (j = 0; adv != NULL && j < d->n; j++)
		json_decref(adv[j]);
	free(adv);
	free(at);
	return r;
}

/* Builds the set from m (or nothing) and d; writes the index when asked. */
static int
build_and_write(const struct rm_taxo *t, struct idx_map *m, struct delta *d,
    struct idx_hdr *h, idx_writer write, const char *ipath, struct rm_exset **out,
    struct rm_err *err)
{
	const struct rm_idx_frec *frec = m ? m->frec : NULL;
	size_t nfrec = m ? m->h.nfrec : 0;
	struct exb x;
	int r;

	memset(&x, 0, sizeof(x));
	if (m != NULL && patch_in_place(m, d, out) == 0) {
		rm_debug("index: %zu adverts patched in place", d->n);
	} else {
		if ((r = idx_apply(t, m, d, &x)) != 0) {
			rm_exb_discard(&x, 0);
			return r < 0 ? rm_err_set(err, RM_EXIT_INTERNAL, NULL, NULL, "out of memory") : 1;
		}
		if ((r = rm_exb_finish(&x, out, err)) != 0) {
			rm_exb_discard(&x, 0);
			return r;
		}
		frec = x.frec;
		nfrec = x.nfrec;
		/* with nothing read, the old duplicates stand (worth_updating) */
		if (m == NULL || d->n > 0 || d->changed > 0)
			h->ndup = (uint32_t)x.ndup;
	}
	if (m == NULL) {
		h->base_strs = (*out)->strs_len;
		h->base_npool = (*out)->npool;
	}
	if (write) {
		struct rm_err werr;
		rm_err_clear(&werr);
		if (write(*out, frec, nfrec, h, ipath, &werr) != 0)
			rm_debug("cannot write index %s: %s", ipath, werr.msg);
	}
	rm_exb_discard(&x, 1);
	return 0;
}

static void
warn_cached(const struct idx_map *m, const char *tail)
{
	struct timespec now;
	long long age;
	char when[64], rev[64] = "";

	clock_gettime(CLOCK_REALTIME, &now);
	age = (long long)now.tv_sec - m->h.built_s;
	if (age < 120)
		snprintf(when, sizeof(when), "%lld s ago", age < 0 ? 0 : age);
	else if (age < 7200)
		snprintf(when, sizeof(when), "%lld min ago", age / 60);
	else if (age < 172800)
		snprintf(when, sizeof(when), "%lld h ago", age / 3600);
	else
		snprintf(when, sizeof(when), "%lld days ago", age / 86400);
	if (m->h.kind == IDX_ETCD)
		snprintf(rev, sizeof(rev), " (revision %lld)", (long long)m->h.rev);
	rm_warn("using the index of %s%s; %s", when, rev, tail);
}

static int
no_snapshot(const char *what, const char *ipath, struct rm_err *err)
{
	return rm_err_set(err, RM_EXIT_NOTFOUND, ipath, NULL, "no index of %s to use with --cached "
	    "(one is made by any match that reads the registry)", what);
}

/*
 * Is the old index m worth applying changes to, or better built again? Not
 * when it holds an id twice: which file keeps it depends on all of them.
 */
static int
worth_updating(const struct idx_map *m, const struct delta *d)
{
	return m->h.strs_len <= 2 * m->h.base_strs + 65536 &&
	    m->h.npool <= 2 * m->h.base_npool + 65536 &&
	    (m->h.ndup == 0 || (d->changed == 0 && d->n == 0));
}

static int
dir_update(const struct rm_taxo *t, const char *dir, const struct stat *dst, int force,
    struct idx_map *m, const char *ipath, struct rm_exset **out, struct rm_err *err)
{
	struct timespec now;
	struct delta d;
	struct idx_hdr h;
	int r, have = m->map != NULL, write, racy;

	clock_gettime(CLOCK_REALTIME, &now);
	if (have && (r = dir_delta(dir, dst, m, &d, &now, err)) != 0) {
		delta_free(&d);
		return r;
	}
	racy = ns_since(&now, dst->st_mtim.tv_sec, dst->st_mtim.tv_nsec) < RACY_NS ||
	    ns_since(&now, dst->st_ctim.tv_sec, dst->st_ctim.tv_nsec) < RACY_NS;
	/* nothing to apply; a new header only when it would not be racy again */
	if (have && d.n == 0 && d.changed == 0 &&
	    ((!dir_changed(&m->h, dst) && !m->h.racy) || racy)) {
		delta_free(&d);
		rm_debug("%s: index %s is current (%u adverts)", dir, ipath, m->h.nexec);
		*out = idx_take(m, ipath);
		return *out ? 0 : rm_err_set(err, RM_EXIT_INTERNAL, NULL, NULL, "out of memory");
	}
	if (have && !worth_updating(m, &d)) {
		delta_free(&d);
		idx_close(m);
		have = 0;
	}
	if (!have && (r = dir_full(dir, &d, &now, err)) != 0) {
		delta_free(&d);
		return r;
	}
	memset(&h, 0, sizeof(h));
	if (have)
		memcpy(&h, &m->h, sizeof(h));
	h.kind = IDX_DIR;
	h.src_hash = rm_hash64(dir, strlen(dir), 0);
	h.dir_dev = dst->st_dev;
	h.dir_ino = dst->st_ino;
	h.dir_mtime_s = dst->st_mtim.tv_sec;
	h.dir_mtime_ns = dst->st_mtim.tv_nsec;
	h.dir_ctime_s = dst->st_ctim.tv_sec;
	h.dir_ctime_ns = dst->st_ctim.tv_nsec;
	h.racy = (uint32_t)racy;
	h.built_s = now.tv_sec;
	h.built_ns = now.tv_nsec;
	/* a reader keeps a few changes to itself; see the top of the file */
	write = !have || force || d.changed >= IDX_LAZY || (d.changed == 0 && !h.racy);
	r = build_and_write(t, have ? m : NULL, &d, &h, write ? index_write : NULL, ipath, out,
	    err);
	if (r == 1) {
		/* an id moved between files: the first one keeps it, as a full scan says */
		delta_free(&d);
		idx_close(m);
		if ((r = dir_full(dir, &d, &now, err)) == 0)
			r = build_and_write(t, NULL, &d, &h, index_write, ipath, out, err);
		have = 0;
	}
	if (r == 0)
		rm_debug("%s: index %s %s: %zu adverts read again (%zu changed, %zu racy), "
		    "%u in all%s%s", dir, ipath, !have ? "rebuilt" : write ? "updated" :
		    "updated in memory", d.n, d.changed, d.reread, (*out)->nexec,
		    h.racy ? ", racy" : "", h.ndup ? ", an id in two files" : "");
	delta_free(&d);
	idx_close(m);
	return r;
}

/* force: always write (a registry writer); otherwise readers write lazily. */
static int
dir_set(const struct rm_taxo *t, const char *dir, const struct rm_exsources *src, int force,
    struct rm_exset **out, struct rm_err *err)
{
	char ipath[PATH_MAX], tail[PATH_MAX + 16];
	struct stat dst;
	struct idx_map m;
	uint64_t src_hash = rm_hash64(dir, strlen(dir), 0);
	int r;

	*out = NULL;
	memset(&m, 0, sizeof(m));
	if ((r = rm_index_path(dir, ipath, sizeof(ipath), err)) != 0)
		return r;
	if (src != NULL && src->cached) {
		if (idx_open(ipath, t, IDX_DIR, src_hash, &m) != 0)
			return no_snapshot(dir, ipath, err);
		snprintf(tail, sizeof(tail), "%s not read", dir);
		warn_cached(&m, tail);
		*out = idx_take(&m, ipath);
		return *out ? 0 : rm_err_set(err, RM_EXIT_INTERNAL, NULL, NULL, "out of memory");
	}
	if (stat(dir, &dst) != 0)
		return rm_err_set(err, errno == ENOENT ? RM_EXIT_NOTFOUND : RM_EXIT_INVALID, dir, NULL,
		    "cannot read directory: %s", strerror(errno));
	if (!S_ISDIR(dst.st_mode))
		return rm_err_set(err, RM_EXIT_INVALID, dir, NULL, "not a directory");
	if ((src == NULL || !src->no_index) && idx_open(ipath, t, IDX_DIR, src_hash, &m) == 0 &&
	    (m.h.dir_dev != (uint64_t)dst.st_dev || m.h.dir_ino != (uint64_t)dst.st_ino))
		idx_close(&m);
	return dir_update(t, dir, &dst, force, &m, ipath, out, err);
}

int
rm_index_dir_set(const struct rm_taxo *t, const char *dir, const struct rm_exsources *src,
    struct rm_exset **out, struct rm_err *err)
{
	return dir_set(t, dir, src, 0, out, err);
}

void
rm_registry_changed(void)
{
	char dir[PATH_MAX];
	struct rm_err err;
	struct rm_exset *s = NULL;
	const struct rm_taxo *t;
	struct stat st;
	struct timespec now, nap;
	long long age;

	rm_err_clear(&err);
	t = rm_taxo_get(&err);
	if (t == NULL || rm_registry_dir(dir, sizeof(dir), 0, &err) != 0 || stat(dir, &st) != 0)
		return;
	/* wait out the timestamp granularity, so that the index written is not racy */
	clock_gettime(CLOCK_REALTIME, &now);
	age = ns_since(&now, st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
	if (age >= 0 && age < RACY_NS + 5000000LL && RACY_NS < 900000000LL) {
		nap.tv_sec = 0;
		nap.tv_nsec = RACY_NS + 5000000LL - age;
		nanosleep(&nap, NULL);
	}
	if (dir_set(t, dir, NULL, 1, &s, &err) == 0)
		rm_exset_free(s);
}

/* ---- etcd ---------------------------------------------------------- */

/* An advert stored in etcd as an item named etcd:KEY. */
static void
etcd_item(struct delta *d, const json_t *kv)
{
	const char *key = json_string_value(json_object_get(kv, "key"));
	const char *value = json_string_value(json_object_get(kv, "value"));
	char name[1024];
	struct ditem *it;
	json_error_t je;

	snprintf(name, sizeof(name), "etcd:%s", key ? key : "?");
	if ((it = delta_add(d, name)) == NULL)
		return;
	it->rec.dino = it->rec.ino = (uint64_t)json_integer_value(json_object_get(kv, "mod"));
	it->rec.size = value ? (int64_t)strlen(value) : 0;
	if (value == NULL) {
		rm_err_set(&it->err, RM_EXIT_INVALID, name, NULL, "%s",
		    json_string_value(json_object_get(kv, "error")) ?: "no value");
		return;
	}
	it->docs = json_loads(value, JSON_REJECT_DUPLICATES, &je);
	if (it->docs == NULL)
		rm_err_setpos(&it->err, RM_EXIT_INVALID, name, je.line, je.column, NULL,
		    "malformed JSON: %s", je.text);
	/* a key on a lease lives exactly as long as its lease: that is its expiry,
	 * kept alive by rm-probe watch past the expires_at written */
	else if (json_is_object(it->docs) && json_integer_value(json_object_get(kv, "lease")) != 0)
		json_object_del(it->docs, "expires_at");
}


/* ---- etcd: the log of changes after the index ----------------------- */

/*
 * PATH.log beside the index holds the changes etcd made after it, appended
 * as they are learnt (by rm-match --follow from its watch, or by a match
 * that read them from etcd): rewriting 10 MB with an fsync for each
 * changed advert costs more than the match. A record says "from revision
 * prev to rev, these keys became these values or went", names the index it
 * follows by its gen, and carries a checksum: a reader applies records in
 * order while they are whole, follow that index and leave no gap, and
 * stops at the first that is not (a writer killed mid-append, a log of an
 * index since replaced). So the index and its log together reflect one
 * revision, and nothing torn is ever read. Records are fdatasync'ed. When
 * the log passes LOG_FOLD_BYTES, it is folded: the index is written again
 * (atomically, as ever) with a new gen, which disowns the old records.
 */
#define LOG_FOLD_BYTES (64 * 1024)
#define FOLLOW_WAIT_MS 50	/* how long a match waits for rm-match --follow */

struct log_rec {
	char magic[4];
	uint32_t len;		/* of the JSON text that follows */
	uint64_t gen;		/* of the index it follows */
	int64_t prev, rev;	/* it takes the registry from (at most) prev to rev */
	uint64_t sum;		/* of the record with sum 0, then of the text */
};

/* What the index and its log say together: the newest item of each key changed. */
struct overlay {
	json_t *keys;		/* key -> {"value" | "error" | "deleted", "mod", "lease"} */
	int64_t rev;		/* the revision reflected */
	size_t valid;		/* bytes of the log that are whole records of the index */
	size_t size;		/* bytes of the log file */
};

static uint64_t
log_sum(const struct log_rec *r, const char *text)
{
	struct log_rec c = *r;

	c.sum = 0;
	return rm_hash64(text, r->len, rm_hash64(&c, sizeof(c), 0));
}

static void
overlay_reset(struct overlay *o, const struct idx_map *m)
{
	if (o->keys == NULL)
		o->keys = json_object();
	json_object_clear(o->keys);
	o->rev = m->map != NULL ? m->h.rev : 0;
	o->valid = o->size = 0;
}

/* Items newer than the overlay's revision go over it; -1 for a gap. */
static int
overlay_apply(struct overlay *o, const json_t *items, int64_t prev, int64_t rev)
{
	const json_t *it;
	size_t i;

	if (prev > o->rev)
		return -1;
	json_array_foreach(items, i, it) {
		const char *k = json_string_value(json_object_get(it, "key"));
		if (k != NULL && json_integer_value(json_object_get(it, "mod")) > o->rev)
			json_object_set(o->keys, k, (json_t *)it);
	}
	if (rev > o->rev)
		o->rev = rev;
	return 0;
}

static int
side_path(char *buf, size_t size, const char *ipath, const char *ext)
{
	return snprintf(buf, size, "%s%s", ipath, ext) >= (int)size ? -1 : 0;
}

/* The log of index m applied over it (a log missing or of another index: none). */
static void
log_read(const char *ipath, const struct idx_map *m, struct overlay *o)
{
	char lpath[PATH_MAX], *buf = NULL;
	struct stat st;
	size_t off = 0;
	int fd;

	overlay_reset(o, m);
	if (m->map == NULL || side_path(lpath, sizeof(lpath), ipath, ".log") != 0 ||
	    (fd = open(lpath, O_RDONLY | O_CLOEXEC)) < 0)
		return;
	if (fstat(fd, &st) == 0 && st.st_size > 0 && (buf = malloc((size_t)st.st_size)) != NULL &&
	    read(fd, buf, (size_t)st.st_size) == st.st_size)
		o->size = (size_t)st.st_size;
	close(fd);
	while (o->size - off >= sizeof(struct log_rec)) {
		struct log_rec r;
		json_t *items;
		memcpy(&r, buf + off, sizeof(r));
		if (memcmp(r.magic, "RMLG", 4) != 0 || r.gen != m->h.gen ||
		    r.len > o->size - off - sizeof(r) || log_sum(&r, buf + off + sizeof(r)) != r.sum)
			break;
		items = json_loadb(buf + off + sizeof(r), r.len, 0, NULL);
		if (!json_is_array(items) || overlay_apply(o, items, r.prev, r.rev) != 0) {
			json_decref(items);
			break;
		}
		json_decref(items);
		off += sizeof(r) + r.len;
	}
	o->valid = off;
	free(buf);
}

/* Locks index ipath for writing (nowait: -RM_EXIT_NEGATIVE when another holds it). */
static int
etcd_lock(const char *ipath, int nowait, struct rm_err *err)
{
	char lk[PATH_MAX];
	int r;

	if ((r = rm_path(lk, sizeof(lk), err, "%s.lock", ipath)) != 0)
		return r;
	return rm_lock(lk, 1, nowait, err);
}

/*
 * Appends a record taking the registry from prev to rev, under the index's
 * lock (nowait: none when another holds it). 0 appended or not needed (the
 * log is already past rev); 1 refused: no index, or a gap before prev.
 */
static int
log_append(const struct rm_taxo *t, const char *ipath, int64_t prev, int64_t rev,
    const json_t *items, int nowait, struct rm_err *err)
{
	char lpath[PATH_MAX], *text = json_dumps(items, JSON_COMPACT);
	struct idx_map m;
	struct overlay o = { 0 };
	struct log_rec rec;
	int fd = -1, lk, r = 1;

	if (text == NULL || side_path(lpath, sizeof(lpath), ipath, ".log") != 0) {
		free(text);
		return rm_err_set(err, RM_EXIT_INTERNAL, ipath, NULL, "out of memory");
	}
	if ((lk = etcd_lock(ipath, nowait, err)) < 0) {
		free(text);
		return err->code == RM_EXIT_NEGATIVE ? 0 : lk;
	}
	if (idx_open(ipath, t, IDX_ETCD, etcd_src_hash(), &m) == 0) {
		log_read(ipath, &m, &o);
		r = prev > o.rev ? 1 : 0;
		if (r == 0 && rev > o.rev) {
			memcpy(rec.magic, "RMLG", 4);
			rec.len = (uint32_t)strlen(text);
			rec.gen = m.h.gen;
			rec.prev = prev;
			rec.rev = rev;
			rec.sum = log_sum(&rec, text);
			if ((fd = open(lpath, O_WRONLY | O_CREAT | O_CLOEXEC, 0600)) < 0 ||
			    ftruncate(fd, (off_t)o.valid) != 0 ||
			    pwrite(fd, &rec, sizeof(rec), (off_t)o.valid) != (ssize_t)sizeof(rec) ||
			    pwrite(fd, text, rec.len, (off_t)(o.valid + sizeof(rec))) != (ssize_t)rec.len ||
			    fdatasync(fd) != 0)
				r = rm_err_set(err, RM_EXIT_INVALID, lpath, NULL, "cannot write: %s",
				    strerror(errno));
			if (fd >= 0)
				close(fd);
		}
		idx_close(&m);
	}
	json_decref(o.keys);
	rm_unlock(lk);
	free(text);
	return r;
}

/*
 * Writes the index of an etcd registry (an idx_writer): a new gen, then the
 * log emptied; not when another writer holds the lock, nor over an index
 * and log that reflect a newer revision.
 */
static int
etcd_commit(const struct rm_exset *s, const struct rm_idx_frec *frec, size_t nfrec,
    struct idx_hdr *h, const char *ipath, struct rm_err *err)
{
	char lpath[PATH_MAX], *buf;
	struct timespec now;
	struct idx_map m;
	struct overlay o = { 0 };
	size_t total;
	uint64_t seed[4];
	int lk, r = 0;

	clock_gettime(CLOCK_REALTIME, &now);
	seed[0] = (uint64_t)now.tv_sec;
	seed[1] = (uint64_t)now.tv_nsec;
	seed[2] = (uint64_t)getpid();
	seed[3] = (uint64_t)h->rev;
	h->gen = rm_hash64(seed, sizeof(seed), h->gen);
	if ((r = index_image(s, frec, nfrec, h, &buf, &total, err)) != 0)
		return r;
	if ((lk = etcd_lock(ipath, 1, err)) < 0) {
		free(buf);
		return err->code == RM_EXIT_NEGATIVE ? 0 : lk;
	}
	if (idx_open(ipath, s->taxo, IDX_ETCD, etcd_src_hash(), &m) == 0) {
		log_read(ipath, &m, &o);
		if (m.h.cluster == h->cluster && o.rev > h->rev)
			r = 1;
		idx_close(&m);
	}
	json_decref(o.keys);
	if (r == 0) {
		rm_remove_stale_temps(ipath);
		if ((r = write_sparse(ipath, buf, total, err)) == 0 &&
		    side_path(lpath, sizeof(lpath), ipath, ".log") == 0)
			(void)truncate(lpath, 0);
	}
	rm_unlock(lk);
	free(buf);
	return r < 0 ? r : 0;
}

static int
cmp_key(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The changes of the overlay as a delta over index m (or nothing). */
static int
overlay_delta(const struct idx_map *m, const struct overlay *o, struct delta *d)
{
	const char **keys;
	const char *k;
	size_t i, n = 0;
	json_t *it;

	memset(d, 0, sizeof(*d));
	keys = calloc(json_object_size(o->keys) + 1, sizeof(*keys));
	d->drop = calloc((m->map ? m->h.nfrec : 0) + 1, 1);
	if (keys == NULL || d->drop == NULL) {
		free(keys);
		return -1;
	}
	json_object_foreach(o->keys, k, it)
		keys[n++] = k;
	qsort(keys, n, sizeof(*keys), cmp_key);
	for (i = 0; i < n; i++) {
		char name[1024];
		long at;
		it = json_object_get(o->keys, keys[i]);
		snprintf(name, sizeof(name), "etcd:%s", keys[i]);
		if ((at = m->map ? frec_find(m, name) : -1) >= 0)
			d->drop[at] = 1;
		if (!json_is_true(json_object_get(it, "deleted")))
			etcd_item(d, it);
		else if (at < 0)
			continue;
		d->changed++;
	}
	free(keys);
	return 0;
}

/* How many keys index m holds with the overlay over it. */
static int64_t
overlay_count(const struct idx_map *m, const struct overlay *o)
{
	int64_t n = m->map ? (int64_t)m->h.nfrec : 0;
	const char *k;
	json_t *it;

	json_object_foreach(o->keys, k, it) {
		char name[1024];
		int in = 0, gone = json_is_true(json_object_get(it, "deleted"));
		snprintf(name, sizeof(name), "etcd:%s", k);
		in = m->map != NULL && frec_find(m, name) >= 0;
		n += in && gone ? -1 : !in && !gone ? 1 : 0;
	}
	return n;
}

static int
key_listed(const json_t *keys, const char *k)
{
	size_t lo = 0, hi = json_array_size(keys);

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(json_string_value(json_array_get(keys, mid)) ?: "", k);
		if (c == 0)
			return 1;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

/*
 * Keys went (a delete, a lease that ended) between the overlay's revision
 * and rev: which, from the list of the keys at rev, added to items. -1
 * when that list cannot be had.
 */
static int
etcd_deleted(struct rm_etcd *e, const char *prefix, const struct idx_map *m,
    const struct overlay *o, int64_t rev, json_t *items)
{
	struct rm_err err;
	json_t *keys, *it;
	const char *k;
	size_t i;

	rm_err_clear(&err);
	if ((keys = rm_etcd_keys_at(e, prefix, rev, &err)) == NULL) {
		rm_debug("etcd: cannot list the keys at revision %lld: %s", (long long)rev, err.msg);
		return -1;
	}
	for (i = 0; m->map != NULL && i < m->h.nfrec; i++) {
		k = frec_path(m, i) + 5;	/* "etcd:" */
		if (json_object_get(o->keys, k) == NULL && !key_listed(keys, k))
			json_array_append_new(items, json_pack("{s:s,s:b,s:I}", "key", k, "deleted", 1,
			    "mod", (json_int_t)rev));
	}
	json_object_foreach(o->keys, k, it)
		if (!json_is_true(json_object_get(it, "deleted")) && !key_listed(keys, k))
			json_array_append_new(items, json_pack("{s:s,s:b,s:I}", "key", k, "deleted", 1,
			    "mod", (json_int_t)rev));
	json_decref(keys);
	return 0;
}

/*
 * What changed from the overlay's revision to rev, read from etcd, over
 * the overlay; *items: the same, for the log. 1: start again from nothing.
 */
static int
etcd_fetch(struct rm_etcd *e, const char *prefix, const struct idx_map *m, struct overlay *o,
    int64_t rev, json_t **items, struct rm_err *err)
{
	struct rm_etcd_delta ed;
	int64_t from = o->rev;
	int r;

	*items = NULL;
	if ((r = rm_etcd_changes(e, prefix, m->map ? from : 0, rev, &ed, err)) != 0)
		return r;
	*items = ed.kvs;
	overlay_apply(o, ed.kvs, from, from);
	if (m->map && ed.count != overlay_count(m, o)) {
		if (etcd_deleted(e, prefix, m, o, rev, *items) != 0)
			return 1;
		overlay_apply(o, *items, from, from);
	}
	o->rev = rev;
	return 0;
}

/* Is rm-match --follow keeping index ipath? It holds PATH.follow locked. */
static int
follower_alive(const char *ipath)
{
	char path[PATH_MAX];
	int fd, alive = 0;

	if (side_path(path, sizeof(path), ipath, ".follow") != 0 ||
	    (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return 0;
	if (flock(fd, LOCK_SH | LOCK_NB) != 0)
		alive = errno == EWOULDBLOCK;
	close(fd);
	return alive;
}

/* Gives the follower a moment to log what etcd told it up to rev. */
static void
wait_follower(const char *ipath, const struct idx_map *m, struct overlay *o, int64_t rev)
{
	char lpath[PATH_MAX];
	struct timespec nap = { 0, 1000000L };
	struct stat st;
	int i;

	if (side_path(lpath, sizeof(lpath), ipath, ".log") != 0)
		return;
	for (i = 0; i < FOLLOW_WAIT_MS && o->rev < rev; i++) {
		nanosleep(&nap, NULL);
		if (stat(lpath, &st) == 0 && (size_t)st.st_size != o->size)
			log_read(ipath, m, o);
	}
	rm_debug("etcd: %s after %d ms waiting for rm-match --follow", o->rev >= rev ?
	    "caught up" : "not caught up", i);
}

/* ---- etcd: bringing the index up to date ---------------------------- */

struct etcd_ctx {
	const struct rm_taxo *t;
	struct rm_etcd *e;
	const char *prefix;	/* PREFIX/executors/ */
	const char *ipath;
	int no_wait;		/* the follower itself: nothing to wait for */
	int64_t rev;		/* out: the revision the set reflects */
};

/* What a match did, for the debug log (the tests read it). */
static void
etcd_said(const struct etcd_ctx *c, int had, int fold, const json_t *items,
    const struct rm_exset *s, const struct overlay *o)
{
	size_t i, nread = 0;

	for (i = 0; i < json_array_size(items); i++)
		nread += !json_is_true(json_object_get(json_array_get(items, i), "deleted"));
	if (had && items == NULL && fold)
		rm_debug("etcd: index %s written again with its log (%u adverts, revision %lld)",
		    c->ipath, s->nexec, (long long)o->rev);
	else if (had && items == NULL)
		rm_debug("etcd: index %s is current (%u adverts, revision %lld)%s", c->ipath,
		    s->nexec, (long long)o->rev, o->valid ? ", with its log" : "");
	else
		rm_debug("etcd: index %s %s: %zu adverts read again, %zu changed, %u in all, "
		    "revision %lld%s", c->ipath, had ? "updated" : "rebuilt", nread,
		    json_array_size(items), s->nexec, (long long)o->rev, !had ? "" : fold ?
		    ", written again" : ", logged");
}

/* The set of index m and overlay o; written again when fold, logged items otherwise. */
static int
etcd_build(struct etcd_ctx *c, struct idx_map *m, struct overlay *o, const json_t *items,
    int64_t from, uint64_t cluster, struct rm_exset **out, struct rm_err *err)
{
	struct timespec now;
	struct delta d;
	struct idx_hdr h;
	int r, had = m->map != NULL;
	int fold = !had || o->size > LOG_FOLD_BYTES;

	if (overlay_delta(m, o, &d) != 0) {
		delta_free(&d);
		return rm_err_set(err, RM_EXIT_INTERNAL, NULL, NULL, "out of memory");
	}
	if (had && !worth_updating(m, &d)) {
		delta_free(&d);
		return 1;
	}
	memset(&h, 0, sizeof(h));
	if (had)
		memcpy(&h, &m->h, sizeof(h));
	clock_gettime(CLOCK_REALTIME, &now);
	h.kind = IDX_ETCD;
	h.src_hash = etcd_src_hash();
	h.rev = o->rev;
	h.cluster = cluster;
	if (fold || items != NULL) {
		h.built_s = now.tv_sec;
		h.built_ns = now.tv_nsec;
	}
	if (had && d.changed == 0 && d.n == 0 && !(fold && o->size > 0)) {
		*out = idx_take(m, c->ipath);
		r = *out ? 0 : rm_err_set(err, RM_EXIT_INTERNAL, NULL, NULL, "out of memory");
	} else
		r = build_and_write(c->t, had ? m : NULL, &d, &h, fold ? etcd_commit : NULL, c->ipath,
		    out, err);
	if (r == 0 && !fold && items != NULL && json_array_size(items) + 1 > 1) {
		struct rm_err lerr;
		rm_err_clear(&lerr);
		if (log_append(c->t, c->ipath, from, o->rev, items, 1, &lerr) < 0)
			rm_debug("cannot log the changes: %s", lerr.msg);
	}
	if (r == 0)
		etcd_said(c, had, fold, items, *out, o);
	delta_free(&d);
	return r;
}

/* The etcd client, made on first use: loading libcurl costs more than a match. */
static int
etcd_client(struct etcd_ctx *c, struct rm_err *err)
{
	if (c->e == NULL && (c->e = rm_registry_etcd(err)) == NULL)
		return -err->code;
	return 0;
}

static int
etcd_revision(struct etcd_ctx *c, int64_t *rev, uint64_t *cluster, struct rm_err *err)
{
	int r;

	if ((r = etcd_client(c, err)) != 0)
		return r;
	return rm_etcd_revision(c->e, c->prefix, rev, cluster, err);
}

/* The follower's socket, PATH.sock, in addr; -1 when the path is too long for one. */
static int
sock_addr(const char *ipath, struct sockaddr_un *addr)
{
	memset(addr, 0, sizeof(*addr));
	addr->sun_family = AF_UNIX;
	return side_path(addr->sun_path, sizeof(addr->sun_path), ipath, ".sock");
}

/*
 * The store's revision and cluster as rm-match --follow asks etcd for them
 * when we connect: the same answer as asking etcd, without loading libcurl
 * here. -1 when it does not answer (within 200 ms).
 */
static int
follower_revision(const char *ipath, int64_t *rev, uint64_t *cluster)
{
	struct sockaddr_un addr;
	struct pollfd pfd;
	char buf[64];
	long long r = 0;
	unsigned long long cl = 0;
	ssize_t n = 0, k;
	int fd;

	if (sock_addr(ipath, &addr) != 0 ||
	    (fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	pfd.fd = fd;
	pfd.events = POLLIN;
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0)
		while ((size_t)n < sizeof(buf) - 1 && poll(&pfd, 1, 200) == 1 &&
		    (k = read(fd, buf + n, sizeof(buf) - 1 - (size_t)n)) > 0)
			n += k;
	close(fd);
	buf[n] = '\0';
	if (n == 0 || buf[n - 1] != '\n' || sscanf(buf, "%lld %llu", &r, &cl) != 2 || r <= 0)
		return -1;
	*rev = r;
	*cluster = cl;
	rm_debug("etcd: revision %lld, from rm-match --follow", r);
	return 0;
}

/*
 * Brings index m (closed here) with its log up to date with etcd: one cheap
 * question when nothing changed, or when rm-match --follow logged it;
 * otherwise the changes read from etcd, logged.
 */
static int
etcd_sync(struct etcd_ctx *c, struct idx_map *m, struct rm_exset **out, struct rm_err *err)
{
	struct overlay o = { 0 };
	json_t *items = NULL;
	int64_t now, from;
	uint64_t cluster;
	int r, follower;

	/* the log before the revision: a follower may log past a revision asked
	 * first, which would look like a history gone back */
	log_read(c->ipath, m, &o);
	follower = !c->no_wait && follower_alive(c->ipath);
	if ((!follower || follower_revision(c->ipath, &now, &cluster) != 0) &&
	    (r = etcd_revision(c, &now, &cluster, err)) != 0) {
		json_decref(o.keys);
		return r;
	}
	if (m->map && (cluster != m->h.cluster || now < o.rev)) {
		rm_debug("etcd: another cluster, or its history restarted: the index is built again");
		idx_close(m);
		overlay_reset(&o, m);
	}
	if (m->map && now > o.rev && follower)
		wait_follower(c->ipath, m, &o, now);
	from = o.rev;
	if ((!m->map || now > o.rev) && (r = etcd_client(c, err)) != 0) {
		/* the revision came from the follower, but no client here */
		json_decref(o.keys);
		return r;
	}
	if ((!m->map || now > o.rev) &&
	    (r = etcd_fetch(c->e, c->prefix, m, &o, now, &items, err)) != 0) {
		json_decref(items);
		json_decref(o.keys);
		if (r < 0 || !m->map)
			return r < 0 ? r : rm_err_set(err, RM_EXIT_INTERNAL, NULL, NULL, "etcd: cannot "
			    "list the keys");
		idx_close(m);
		return etcd_sync(c, m, out, err);
	}
	c->rev = o.rev;
	r = etcd_build(c, m, &o, items, from, cluster, out, err);
	json_decref(items);
	json_decref(o.keys);
	if (r == 1 && m->map) {
		/* not worth updating, or an id twice: everything read again */
		idx_close(m);
		return etcd_sync(c, m, out, err);
	}
	idx_close(m);
	return r == 1 ? rm_err_set(err, RM_EXIT_INTERNAL, NULL, NULL, "duplicate ids") : r;
}

static int
etcd_ctx_init(struct etcd_ctx *c, const struct rm_taxo *t, char *prefix, size_t psize,
    char *ipath, size_t isize, struct rm_err *err)
{
	const struct rm_reg_url *u = rm_registry_url();
	int r;

	memset(c, 0, sizeof(*c));
	if ((r = rm_index_path(NULL, ipath, isize, err)) != 0)
		return r;
	snprintf(prefix, psize, "%s/executors/", u->prefix);
	c->t = t;
	c->prefix = prefix;
	c->ipath = ipath;
	return 0;
}

int
rm_index_etcd_set(const struct rm_taxo *t, const struct rm_exsources *src,
    struct rm_exset **out, struct rm_err *err)
{
	const struct rm_reg_url *u = rm_registry_url();
	char ipath[PATH_MAX], prefix[300], what[400];
	struct etcd_ctx c;
	struct idx_map m;
	int r;

	*out = NULL;
	memset(&m, 0, sizeof(m));
	if ((r = etcd_ctx_init(&c, t, prefix, sizeof(prefix), ipath, sizeof(ipath), err)) != 0)
		return r;
	snprintf(what, sizeof(what), "etcd://%s%s%s", u->endpoints[0], u->nendpoints > 1 ?
	    ",..." : "", u->prefix);
	if (!src->no_index)
		(void)idx_open(ipath, t, IDX_ETCD, etcd_src_hash(), &m);
	if (src->cached) {
		struct overlay o = { 0 };
		if (m.map == NULL)
			return no_snapshot(what, ipath, err);
		log_read(ipath, &m, &o);
		m.h.rev = o.rev;
		warn_cached(&m, "etcd not asked");
		r = etcd_build(&c, &m, &o, NULL, o.rev, m.h.cluster, out, err);
		json_decref(o.keys);
		idx_close(&m);
		return r == 1 ? rm_err_set(err, RM_EXIT_INTERNAL, ipath, NULL, "the index and its log "
		    "cannot be applied: run rm-match without --cached") : r;
	}
	r = etcd_sync(&c, &m, out, err);
	idx_close(&m);
	return r;
}

/* ---- etcd: rm-match --follow ---------------------------------------- */

struct follow {
	struct etcd_ctx *c;
	int64_t last;		/* the revision the log reaches */
	int restart;		/* sync again: the log refused a record, or is to be folded */
	int (*keep_going)(void *);
	void *ctx;
};

static int
follow_keep(void *ctx)
{
	struct follow *f = ctx;

	return f->keep_going(f->ctx);
}

/* Writes the index again with its log in it, without asking etcd; 1 when it cannot. */
static int
etcd_fold(struct etcd_ctx *c)
{
	struct idx_map m;
	struct overlay o = { 0 };
	struct rm_exset *s = NULL;
	struct rm_err err;
	int r = 1;

	memset(&m, 0, sizeof(m));
	rm_err_clear(&err);
	if (idx_open(c->ipath, c->t, IDX_ETCD, etcd_src_hash(), &m) == 0) {
		log_read(c->ipath, &m, &o);
		if ((r = etcd_build(c, &m, &o, NULL, o.rev, m.h.cluster, &s, &err)) == 0)
			rm_exset_free(s);
	}
	json_decref(o.keys);
	idx_close(&m);
	return r != 0;
}

/* One answer of the watch on PREFIX/: its events under PREFIX/executors/ logged. */
static int
follow_events(void *ctx, const json_t *events)
{
	struct follow *f = ctx;
	int64_t rev = f->last;
	json_t *all = rm_etcd_event_items(events, &rev), *mine = json_array(), *it;
	size_t i, plen = strlen(f->c->prefix);
	char lpath[PATH_MAX];
	struct rm_err err;
	struct stat st;
	int r = 0;

	json_array_foreach(all, i, it)
		if (strncmp(json_string_value(json_object_get(it, "key")) ?: "", f->c->prefix,
		    plen) == 0)
			json_array_append(mine, it);
	json_decref(all);
	rm_err_clear(&err);
	if (rev > f->last)
		r = log_append(f->c->t, f->c->ipath, f->last, rev, mine, 0, &err);
	json_decref(mine);
	if (r != 0) {
		rm_debug("etcd: revision %lld not logged (%s): reading etcd again", (long long)rev,
		    r < 0 ? err.msg : "the index changed meanwhile");
		f->restart = 1;
		return 1;
	}
	rm_debug("etcd: revision %lld logged", (long long)rev);
	f->last = rev;
	if (side_path(lpath, sizeof(lpath), f->c->ipath, ".log") == 0 && stat(lpath, &st) == 0 &&
	    st.st_size > LOG_FOLD_BYTES && etcd_fold(f->c) != 0)
		f->restart = 1;		/* etcd_sync builds it again */
	return f->restart || !f->keep_going(f->ctx);
}

/* Sleeps about s seconds, less when keep_going says stop. */
static void
follow_nap(struct follow *f, int s)
{
	struct timespec nap = { 0, 100000000L };
	int i;

	for (i = 0; i < s * 10 && f->keep_going(f->ctx); i++)
		nanosleep(&nap, NULL);
}

/* The follower's answers to matches: the revision, asked of etcd for each. */
struct serve {
	int fd;			/* listening on PATH.sock; -1: none */
	atomic_int stop;
	struct rm_etcd *e;	/* a client of this thread's own */
	const char *prefix;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	pthread_t th;
};

static void *
serve_revisions(void *arg)
{
	struct serve *sv = arg;

	while (!atomic_load(&sv->stop)) {
		struct pollfd p = { sv->fd, POLLIN, 0 };
		struct rm_err err;
		int64_t rev;
		uint64_t cl;
		char b[64];
		int cfd, n;

		if (poll(&p, 1, 200) != 1 || (cfd = accept4(sv->fd, NULL, NULL, SOCK_CLOEXEC)) < 0)
			continue;
		rm_err_clear(&err);
		if (rm_etcd_revision(sv->e, sv->prefix, &rev, &cl, &err) == 0) {
			n = snprintf(b, sizeof(b), "%lld %llu\n", (long long)rev, (unsigned long long)cl);
			(void)send(cfd, b, (size_t)n, MSG_NOSIGNAL);
		}
		close(cfd);
	}
	return NULL;
}

/* Starts answering on PATH.sock; without it (a path too long...) matches ask etcd. */
static void
serve_start(struct serve *sv, const char *ipath, const char *prefix)
{
	struct sockaddr_un addr;
	struct rm_err err;

	memset(sv, 0, sizeof(*sv));
	sv->fd = -1;
	sv->prefix = prefix;
	rm_err_clear(&err);
	if (sock_addr(ipath, &addr) != 0) {
		rm_debug("%s.sock: path too long for a socket: matches will ask etcd", ipath);
		return;
	}
	snprintf(sv->path, sizeof(sv->path), "%s", addr.sun_path);
	(void)unlink(sv->path);		/* a killed follower's: we hold PATH.follow */
	if ((sv->e = rm_registry_etcd_new(&err)) == NULL ||
	    (sv->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    bind(sv->fd, (struct sockaddr *)&addr, sizeof(addr)) != 0 ||
	    chmod(sv->path, 0600) != 0 || listen(sv->fd, 64) != 0 ||
	    pthread_create(&sv->th, NULL, serve_revisions, sv) != 0) {
		rm_warn("%s: cannot answer matches here (%s): they will ask etcd", sv->path,
		    err.msg[0] ? err.msg : strerror(errno));
		if (sv->fd >= 0) {
			close(sv->fd);
			(void)unlink(sv->path);
		}
		sv->fd = -1;
	}
}

static void
serve_stop(struct serve *sv)
{
	if (sv->fd >= 0) {
		atomic_store(&sv->stop, 1);
		pthread_join(sv->th, NULL);
		close(sv->fd);
		(void)unlink(sv->path);
	}
	if (sv->e != NULL)
		rm_etcd_close(sv->e);
}

int
rm_index_etcd_follow(const struct rm_taxo *t, int (*keep_going)(void *), void *ctx,
    struct rm_err *err)
{
	const struct rm_reg_url *u = rm_registry_url();
	char ipath[PATH_MAX], prefix[300], watch[300], fpath[PATH_MAX];
	struct etcd_ctx c;
	struct follow f;
	struct serve sv;
	int lk, r, naps = 0;

	if ((r = etcd_ctx_init(&c, t, prefix, sizeof(prefix), ipath, sizeof(ipath), err)) != 0)
		return r;
	c.no_wait = 1;
	snprintf(watch, sizeof(watch), "%s/", u->prefix);
	if (side_path(fpath, sizeof(fpath), ipath, ".follow") != 0)
		return rm_err_set(err, RM_EXIT_INVALID, ipath, NULL, "path too long");
	if ((lk = rm_lock(fpath, 1, 1, err)) < 0)
		return err->code != RM_EXIT_NEGATIVE ? lk : rm_err_set(err, RM_EXIT_NEGATIVE, fpath,
		    NULL, "another rm-match --follow keeps this index up to date");
	if ((c.e = rm_registry_etcd(err)) == NULL) {
		rm_unlock(lk);
		return -err->code;
	}
	serve_start(&sv, ipath, prefix);
	memset(&f, 0, sizeof(f));
	f.c = &c;
	f.keep_going = keep_going;
	f.ctx = ctx;
	while (keep_going(ctx)) {
		struct idx_map m;
		struct rm_exset *s = NULL;
		long long next;

		memset(&m, 0, sizeof(m));
		(void)idx_open(ipath, t, IDX_ETCD, etcd_src_hash(), &m);
		rm_err_clear(err);
		r = etcd_sync(&c, &m, &s, err);
		rm_exset_free(s);
		if (r == 0) {
			rm_debug("etcd: following %s from revision %lld", watch, (long long)c.rev + 1);
			f.last = c.rev;
			f.restart = 0;
			r = rm_etcd_watch_events(c.e, watch, 1, c.rev + 1, follow_events, follow_keep,
			    &f, &next, err);
		}
		if (r == 0 && f.restart)
			naps = 0;
		else if (r != 0) {
			/* etcd away or the watch broken: tell, and try again (a compaction
			 * needs nothing more: the changes are read from the present state) */
			rm_warn("%s; trying again", err->msg);
			follow_nap(&f, naps < 5 ? ++naps : naps);
		}
	}
	serve_stop(&sv);
	rm_unlock(lk);
	return 0;
}
