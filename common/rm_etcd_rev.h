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
 * At one revision: how many keys the prefix (ending in '/') holds, and the
 * pairs under it modified after revision since (all of them when since is
 * 0; none asked for when the revision is still since). Free d->kvs.
 */
int rm_etcd_changes(struct rm_etcd *e, const char *prefix, int64_t since,
    struct rm_etcd_delta *d, struct rm_err *err);
/*
 * The keys under prefix at revision rev, sorted, as an array of strings
 * (a compacted rev fails: the caller reads everything again).
 */
json_t *rm_etcd_keys_at(struct rm_etcd *e, const char *prefix, int64_t rev, struct rm_err *err);

#endif
