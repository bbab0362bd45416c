/*
 * Inside the executor set: the builder that rm_exset.c (adverts, -x files)
 * and rm_index.c (the registry index, its incremental updates) share.
 * Not for tools.
 */
#ifndef RM_EXSET_INT_H
#define RM_EXSET_INT_H

#include <time.h>

#include "rm_exset.h"

/* interned strings and the pool of set elements and map pairs */
struct builder {
	char *strs;
	size_t slen, scap;
	uint32_t *hash;
	uint32_t hsize, hcount;
	uint32_t *pool;
	size_t npool, pcap;
};

/* What the index records of one advert file (or etcd key), in name order. */
struct rm_idx_frec {
	uint32_t path;		/* string offset: the file's path, or "etcd:KEY" */
	uint32_t e_first;	/* its executors: e_first .. e_first + e_count - 1 */
	uint32_t e_count;
	uint32_t racy;		/* changed too close to the index build to trust */
	uint64_t dino;		/* inode as readdir gives it (etcd: mod_revision) */
	uint64_t ino;		/* as stat gives it */
	int64_t size, mtime_s, mtime_ns, ctime_s, ctime_ns;
};

/*
 * The file of the registry index (rm_index.c): this header, then the
 * columns, executor infos, pool, hash table, strings, broken adverts and
 * file records at its offsets, each 8-aligned.
 */
#define IDX_MAGIC "RMIDX01"
#define IDX_VERSION 5

enum { IDX_DIR = 0, IDX_ETCD = 1 };

struct idx_hdr {
	char magic[8];
	uint32_t version, hdrsize;
	uint64_t taxo_hash;
	uint64_t src_hash;		/* the directory as named, or the etcd URL */
	uint64_t dir_dev, dir_ino;
	int64_t dir_mtime_s, dir_mtime_ns, dir_ctime_s, dir_ctime_ns;
	uint32_t nexec, nkeys, hash_size, racy;	/* racy: the directory */
	uint64_t off_cols, off_info, off_pool, npool, off_hash, off_strs, strs_len;
	uint64_t off_broken, broken_len, file_size;
	uint64_t off_frec, nfrec, nracy;
	int64_t built_s, built_ns;	/* when the files were looked at */
	uint64_t base_strs, base_npool;	/* sizes after the last full build */
	int64_t rev;			/* etcd: the revision it reflects */
	uint64_t cluster;		/* etcd: the cluster id */
	uint32_t kind, ndup;
	uint64_t gen;			/* etcd: names it for the log that follows it */
};

/*
 * An incremental builder: adverts are added one at a time (and may be freed
 * at once), columns grow by doubling and are compacted at the end.
 */
struct exb {
	const struct rm_taxo *t;
	struct builder b;
	struct rm_val *cols;
	struct rm_exinfo *info;
	size_t n, cap;
	uint32_t *idset;	/* open addressing: exec index + 1 by id offset */
	size_t idsize;
	json_t *adverts;	/* kept adverts, or NULL */
	size_t *roff, *rlen;	/* raw text slices, when raw is set */
	const char *raw;
	json_t *broken;
	struct rm_idx_frec *frec;	/* registry files, for the index */
	size_t nfrec, frcap;
	size_t ndup;		/* adverts dropped for a duplicate id */
};

int rm_exb_init(struct exb *x, const struct rm_taxo *t, int keep);
int rm_exb_grow_to(struct exb *x, size_t ncap);
/* Index of an earlier executor with this id, or -1; records it otherwise. */
long rm_exb_seen(struct exb *x, uint32_t id, size_t e);
void rm_exb_add(struct exb *x, json_t *adv, const char *file, size_t roff, size_t rlen);
/* rm_exb_add in two halves, for readers that fill the columns themselves. */
long rm_exb_begin(struct exb *x, const char *id, size_t idlen, const char *file);
void rm_exb_commit(struct exb *x, size_t e, size_t roff, size_t rlen);
void rm_exb_add_docs(struct exb *x, json_t *docs, const char *file);
void rm_exb_broken(json_t *broken, const char *file, const struct rm_err *err);
/* Makes the set; frec stays with the builder (rm_exb_discard frees it). */
int rm_exb_finish(struct exb *x, struct rm_exset **out, struct rm_err *err);
/* Frees what a builder holds, after rm_exb_finish or instead of it. */
void rm_exb_discard(struct exb *x, int finished);
uint32_t rm_exb_intern(struct builder *b, const char *s);
uint32_t rm_exb_internn(struct builder *b, const char *s, size_t n);
/*
 * Sorts n records of w words (1: set elements, 2: map pairs) by their first
 * word, the order readers binary-search (set elements may repeat, map keys
 * do not, so any sort gives the same words).
 */
void rm_exb_sort_refs(uint32_t *a, size_t n, size_t w);
/* n pool slots: their index, or (size_t)-1. */
size_t rm_exb_pool(struct builder *b, size_t n);

/*
 * JSON lines read straight into a builder (rm_exset_lines.c): NULL where
 * the taxonomy does not allow it. rm_exb_lines_add reads the advert at
 * buf + off (len: the whole buffer) into x, or declines (-1) and leaves x
 * as it was, for the line to be read the tree way; *used: its bytes.
 * Only for a builder that keeps no adverts.
 */
struct rm_exb_lines;
struct rm_exb_lines *rm_exb_lines_new(const struct rm_taxo *t);
void rm_exb_lines_free(struct rm_exb_lines *f);
int rm_exb_lines_add(struct rm_exb_lines *f, struct exb *x, const char *buf, size_t len,
    size_t off, size_t *used);
/*
 * For the tests and the fuzz harness: the set of JSON lines text (len
 * bytes) as -x reads a large file (adverts not kept), with the straight
 * reader (fast) or the tree way alone; rm_exset_same: 1 when two sets are
 * the same byte for byte (columns, strings, pool, infos, text slices,
 * broken adverts).
 */
int rm_exset_lines_build(const struct rm_taxo *t, const char *text, size_t len, int fast,
    struct rm_exset **out, struct rm_err *err);
int rm_exset_same(const struct rm_exset *a, const struct rm_exset *b);

/* The registry index (rm_index.c). */
int rm_index_dir_set(const struct rm_taxo *t, const char *dir, const struct rm_exsources *src,
    struct rm_exset **out, struct rm_err *err);
int rm_index_etcd_set(const struct rm_taxo *t, const struct rm_exsources *src,
    struct rm_exset **out, struct rm_err *err);
/*
 * Checks len bytes of an index file as a reader does (its source, kind and
 * taxonomy hash aside), then reads every value, string and record of it:
 * 0 when accepted. For the tests and the fuzz harness.
 */
int rm_index_check_image(const struct rm_taxo *t, const void *buf, size_t len);

#endif
