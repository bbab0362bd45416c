/*
 * The capability taxonomy (share/remotemedia/taxonomy.yaml plus
 * $REMOTEMEDIA_HOME/taxonomy.d/ *.yaml): data that says how each capability
 * key is typed and compared.
 */
#ifndef RM_TAXO_H
#define RM_TAXO_H

#include <stdint.h>
#include <jansson.h>

#include "rm_err.h"

enum rm_type {
	RM_T_NUMBER, RM_T_STRING, RM_T_ENUM, RM_T_VERSION, RM_T_SET, RM_T_BOOL,
	RM_T_PRESENCE, RM_T_CODEC_MAP, RM_T_VERSION_MAP
};

enum rm_cmp {
	RM_C_AT_LEAST, RM_C_AT_MOST, RM_C_EQUAL, RM_C_SUBSET, RM_C_INTERSECTS,
	RM_C_VERSION, RM_C_CODECS, RM_C_VERSION_MAP, RM_C_PRESENCE
};

struct rm_taxo_key {
	char *path;		/* advert path, e.g. "gpu.memory_gb" */
	char **reqs;		/* requirement names */
	size_t nreqs;
	enum rm_type type;
	enum rm_cmp cmp;
	char **values;		/* enum values */
	size_t nvalues;
	int bare_at_least;	/* version: bare "8.0" means >= 8.0 */
	int dynamic;
	int parent;		/* index of the presence key above it, or -1 */
	char *reason;		/* failure code override, or NULL */
	char *modifier;		/* codecs: requirement key asking for hardware */
	char *unit;
	char *description;
	char *source;		/* file that defined it */
};

struct rm_taxo {
	struct rm_taxo_key *keys;
	size_t nkeys;
	char **info;		/* informational requirement names */
	size_t ninfo;
	uint64_t hash;		/* of every file read, for index invalidation */
	int *slots;		/* open addressing by path: key index + 1, 0 empty */
	size_t nslots;		/* power of two */
};

/* Loads the shared taxonomy and the user's extensions. */
int rm_taxo_load(struct rm_taxo **out, struct rm_err *err);
/* The process-wide taxonomy, loaded once; NULL on error. */
const struct rm_taxo *rm_taxo_get(struct rm_err *err);
void rm_taxo_free(struct rm_taxo *t);
/* Key index by advert path, or -1. */
int rm_taxo_find(const struct rm_taxo *t, const char *path);
/* Key index of a path given with its length (no NUL needed), or -1. */
int rm_taxo_findn(const struct rm_taxo *t, const char *path, size_t len);
/* Calls fn for every value of doc's object tree whose path is a taxonomy
 * key (prefix: path of obj, "" at the root; presence keys are reported and
 * then descended into; a "capabilities" key at the root is skipped). */
void rm_taxo_walk(const struct rm_taxo *t, json_t *obj, const char *prefix,
    void (*fn)(int key, json_t *parent, const char *name, const char *path, void *arg),
    void *arg);
/* Key index by requirement name (or advert path), or -1. */
int rm_taxo_find_req(const struct rm_taxo *t, const char *name);
int rm_taxo_is_info(const struct rm_taxo *t, const char *name);
const char *rm_taxo_type_name(enum rm_type t);
const char *rm_taxo_cmp_name(enum rm_cmp c);
uint64_t rm_hash64(const void *data, size_t len, uint64_t seed);

#endif
