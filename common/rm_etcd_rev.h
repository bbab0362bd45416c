/*
 * Incremental reads of an etcd registry for the index (rm_etcd_rev.c):
 * what changed under a prefix since a revision, at one revision, through
 * the same HTTP/JSON gateway as rm_etcd.c.
 */
#ifndef RM_ETCD_REV_H
#define RM_ETCD_REV_H

#include <stdint.h>
#include <jansson.h>

#include "rm_err.h"
#include "rm_etcd.h"
#include "rm_registry.h"

struct rm_etcd_delta {
	int64_t rev;		/* the revision all of it reflects */
	uint64_t cluster;	/* the cluster that answered */
	int64_t count;		/* keys under the prefix at rev */
	json_t *kvs;		/* [{"key", "value" | "error", "mod": N, "lease": ID}] by key */
};

/*
 * The store's revision now and the cluster's id, from a read of one key
 * (cheap for etcd however many keys the prefix holds).
 */
int rm_etcd_revision(struct rm_etcd *e, const char *prefix, int64_t *rev, uint64_t *cluster,
    struct rm_err *err);
/*
 * At revision at (0: the current one): how many keys the prefix (ending in
 * '/') holds, and the pairs under it modified after revision since (all of
 * them when since is 0). Free d->kvs.
 */
int rm_etcd_changes(struct rm_etcd *e, const char *prefix, int64_t since, int64_t at,
    struct rm_etcd_delta *d, struct rm_err *err);
/*
 * The events of a watch answer as items like d->kvs, in order; a DELETE as
 * {"key", "deleted": true, "mod": the revision it went at}. *rev is raised
 * to the newest mod_revision among them.
 */
json_t *rm_etcd_event_items(const json_t *events, int64_t *rev);
/*
 * The keys under prefix at revision rev, sorted, as an array of strings
 * (a compacted rev fails: the caller reads everything again).
 */
json_t *rm_etcd_keys_at(struct rm_etcd *e, const char *prefix, int64_t rev, struct rm_err *err);

#endif
