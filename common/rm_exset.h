/*
 * A set of executors in columns: for every taxonomy key, one value per
 * executor, with strings interned so that equality is an integer compare.
 * The same layout lives in memory (built from adverts) and in the registry
 * index file (mapped read-only), so a call over 10,000 registered adverts
 * parses nothing: it checks the directory, maps the index and matches.
 */
#ifndef RM_EXSET_H
#define RM_EXSET_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "rm_err.h"
#include "rm_taxo.h"

#define RM_NOSTR UINT32_MAX

enum rm_vkind { RM_V_NONE = 0, RM_V_NUM, RM_V_BOOL, RM_V_STR, RM_V_SET, RM_V_MAP };

struct rm_val {
	uint8_t kind;
	uint8_t pad[3];
	uint32_t n;		/* SET: elements; MAP: pairs */
	union {
		double num;	/* NUM, BOOL (0/1) */
		uint64_t ref;	/* STR: string offset; SET/MAP: index into pool */
	} u;
};

struct rm_exinfo {
	uint32_t id;		/* string offsets */
	uint32_t file;
	uint32_t endpoint;
	uint32_t pad;
	int64_t expires_at;	/* 0: never */
	int64_t probed_at;
};

struct rm_exset {
	uint32_t nexec, nkeys;
	const struct rm_val *cols;	/* nkeys * nexec, column-major */
	const char *strs;		/* interned strings, NUL-terminated */
	size_t strs_len;
	const uint32_t *pool;		/* set elements (sorted) and map pairs */
	size_t npool;
	const uint32_t *hash;		/* open addressing: offset + 1, 0 empty */
	uint32_t hash_size;		/* power of two */
	const struct rm_exinfo *info;
	json_t *broken;			/* [{"file","error"}] adverts that failed to load */
	json_t *adverts;		/* the normalised adverts when built in memory */
	const struct rm_taxo *taxo;
	char *raw;			/* -x files: their text, adverts re-read from it */
	size_t *raw_off, *raw_len;
	json_t *files;			/* unused (the index keeps its file table itself) */
	/*
	 * A mapped index: each column's values are checked when first read
	 * (rm_exset_col), not all at open, so a match touches only the
	 * columns it uses. NULL: built here, nothing to check.
	 */
	struct rm_exset_lazy *lazy;
	/* owned storage */
	void *map;
	size_t maplen;
	void *own[6];
};

/* Builds from normalised adverts (json array); files: parallel names or NULL. */
int rm_exset_build(const struct rm_taxo *t, json_t *adverts, json_t *files, json_t *broken,
    struct rm_exset **out, struct rm_err *err);
void rm_exset_free(struct rm_exset *s);

/* Interned string lookup: offset or RM_NOSTR. */
uint32_t rm_exset_str(const struct rm_exset *s, const char *str);
static inline const char *
rm_exset_cstr(const struct rm_exset *s, uint32_t off)
{
	return off == RM_NOSTR ? NULL : s->strs + off;
}
struct rm_exset_lazy {
	uint8_t *state;			/* per key: 0 unchecked, 1 sound, 2 damaged */
	struct rm_val *none;		/* nexec absent values: a damaged column */
	char *what;			/* for the warning: the index's path */
};
/* 1 when every value of column key refers inside the set (strings, pool). */
int rm_exset_col_sound(const struct rm_exset *s, int key);
const struct rm_val *rm_exset_col_first(const struct rm_exset *s, int key);
/* Column key (nexec values); a damaged column of a mapped index reads as absent. */
static inline const struct rm_val *
rm_exset_col(const struct rm_exset *s, int key)
{
	if (s->lazy != NULL && s->lazy->state[key] != 1)
		return rm_exset_col_first(s, key);
	return s->cols + (size_t)key * s->nexec;
}
static inline const struct rm_val *
rm_exset_val(const struct rm_exset *s, int key, uint32_t e)
{
	return &rm_exset_col(s, key)[e];
}
/* A value as JSON (for "have" in explanations); NULL for none. */
json_t *rm_exset_val_json(const struct rm_exset *s, const struct rm_val *v);
/* The full advert of executor e: in memory, or read back from its file. */
json_t *rm_exset_advert(const struct rm_exset *s, uint32_t e, struct rm_err *err);

/*
 * Loads adverts: files named with -x (an advert, an array, JSON lines, YAML),
 * directories with -d, or the registry when neither is given (through its
 * index). Adverts that fail to load are kept in ->broken; in production mode
 * they are an error.
 */
struct rm_exsources {
	const char **files;
	size_t nfiles;
	const char **dirs;
	size_t ndirs;
	int no_index;		/* rescan the registry, rewrite the index */
	int no_local;		/* do not add this machine's advert */
	int cached;		/* the index as it is: no directory or etcd looked at */
};

/*
 * The index of a registry directory, or of an etcd registry (dir NULL: the
 * one chosen by rm_registry_select), under $REMOTEMEDIA_HOME/cache/index/.
 */
int rm_index_path(const char *dir, char *buf, size_t size, struct rm_err *err);
/*
 * Keeps the index of the etcd registry chosen by rm_registry_select up to
 * date until keep_going(ctx) says stop: a watch from the present logs each
 * change beside the index as it happens, so that a match needs to ask etcd
 * only its revision (rm-match --follow). Holds PATH.follow locked, which a
 * match reads as "a follower is there". Errors of etcd are warned about and
 * tried again; returns non-zero only when it cannot start.
 */
int rm_index_etcd_follow(const struct rm_taxo *t, int (*keep_going)(void *), void *ctx,
    struct rm_err *err);

/* Hook that adds this machine's advert when the registry lacks it (rm-probe). */
extern json_t *(*rm_exset_local_hook)(struct rm_err *err);

#endif
