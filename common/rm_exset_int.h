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
void rm_exb_add_docs(struct exb *x, json_t *docs, const char *file);
void rm_exb_broken(json_t *broken, const char *file, const struct rm_err *err);
/* Makes the set; frec stays with the builder (rm_exb_discard frees it). */
int rm_exb_finish(struct exb *x, struct rm_exset **out, struct rm_err *err);
/* Frees what a builder holds, after rm_exb_finish or instead of it. */
void rm_exb_discard(struct exb *x, int finished);
uint32_t rm_exb_intern(struct builder *b, const char *s);

/* The registry index (rm_index.c). */
int rm_index_dir_set(const struct rm_taxo *t, const char *dir, const struct rm_exsources *src,
    struct rm_exset **out, struct rm_err *err);
int rm_index_etcd_set(const struct rm_taxo *t, const struct rm_exsources *src,
    struct rm_exset **out, struct rm_err *err);

#endif
