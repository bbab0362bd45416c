/*
 * The queue of parked nodes, behind one interface with two stores: the
 * directory $REMOTEMEDIA_HOME/queue/<id>.json (the default, flock'ed by
 * queue.lock) and, when the registry is etcd, PREFIX/queue/<id> in etcd
 * (no lease: a parked node stays until placed). The entries are the same
 * JSON documents (schema remotemedia.parked/1) in both.
 *
 * A reconciler claims an entry before it writes a placement: in the
 * directory the lock makes it always its own; in etcd a transaction
 * deletes the key only if its mod_revision is still the one listed, so of
 * two reconcilers on two hosts exactly one wins.
 */
#ifndef RM_QUEUE_H
#define RM_QUEUE_H

#include <stddef.h>
#include <jansson.h>

#include "rm_err.h"

/* The queue lock (directory: queue.lock; etcd: none, *fd = -1). */
int rm_queue_lock(int *fd, struct rm_err *err);
void rm_queue_unlock(int fd);
/* Stores entry under id; where (may be NULL) gets the file or "etcd:KEY". */
int rm_queue_put(const char *id, const json_t *entry, char *where, size_t wsize,
    struct rm_err *err);
/*
 * Every entry, sorted by id: [{"id", "name" (file or etcd:KEY), "rev"
 * (etcd mod_revision, 0 in a directory), "entry": doc}], or "error"
 * instead of "entry" for one that does not parse. *rev (may be NULL): the
 * etcd revision the list reflects (0 in a directory).
 */
json_t *rm_queue_list(long long *rev, struct rm_err *err);
/*
 * Claims an item of rm_queue_list: 0 it is this caller's (etcd: removed
 * from the store), 1 another reconciler took it first, negative on error.
 */
int rm_queue_claim(const json_t *item, struct rm_err *err);
/* After the placement is written: the directory's file goes. */
int rm_queue_done(const json_t *item, struct rm_err *err);
/* The placement could not be written: the claimed entry is parked again. */
int rm_queue_unclaim(const json_t *item, struct rm_err *err);

/*
 * Waiting for a change (etcd only; the directory is RM_EXIT_USAGE): the
 * store's current revision, then rm_queue_wait from it + 1 until an
 * advert is put under PREFIX/executors/ or the queue changes, over one
 * etcd watch (no polling). keep_going (may be NULL) is asked about once a
 * second. 0: a change (*next: the revision to resume from); 1: keep_going
 * said stop; 2: that revision was compacted (err saying so: re-read the
 * queue and wait again); negative with err when etcd did not answer or
 * the stream broke.
 */
int rm_queue_revision(long long *rev, struct rm_err *err);
int rm_queue_wait(long long from, int (*keep_going)(void *), void *ctx, long long *next,
    struct rm_err *err);

#endif
