/*
 * A small etcd v3 client over its HTTP/JSON gateway (/v3/kv/..., /v3/lease/...):
 * keys and values travel base64-encoded, int64 fields as strings. Each call
 * tries the endpoints in order, starting from the last one that answered;
 * when none answers it fails with RM_EXIT_NETWORK naming every endpoint.
 */
#ifndef RM_ETCD_H
#define RM_ETCD_H

#include <stddef.h>
#include <jansson.h>

#include "rm_err.h"

struct rm_etcd;

/* How to reach the cluster: TLS and etcd authentication (all optional). */
struct rm_etcd_conf {
	int tls;			/* https: etcds:// */
	const char *cacert, *cert, *key;	/* PEM files: server CA, client cert and key */
	const char *user, *password;	/* /v3/auth/authenticate; never logged */
};

/*
 * endpoints: "host:port" strings; everything copied. NULL with err when
 * libcurl is missing. With a user, each endpoint's session authenticates
 * on first use and again when its token was refused (HTTP 401); a refused
 * authentication is RM_EXIT_NETWORK naming the user, not the password.
 */
struct rm_etcd *rm_etcd_open(const char *const *endpoints, size_t n,
    const struct rm_etcd_conf *conf, struct rm_err *err);
void rm_etcd_close(struct rm_etcd *e);

/* POSTs body to path ("/v3/kv/range"); the answer's JSON object, or NULL. */
json_t *rm_etcd_call(struct rm_etcd *e, const char *path, const json_t *body,
    struct rm_err *err);
/*
 * Puts key = value. ttl > 0 binds it to a new lease of that many seconds
 * (the lease it had before, if any, is revoked after the put); 0: no lease.
 * rev >= 0 makes it a compare-and-swap (rm_etcd_cas_put): 1 when the key's
 * mod_revision is no longer rev, nothing written (the new lease revoked).
 */
int rm_etcd_put(struct rm_etcd *e, const char *key, const char *value, long ttl,
    long long rev, struct rm_err *err);
/*
 * The pairs under a key prefix (or the one key when prefix is 0), as
 * [{"key": "...", "value": "...", "lease": "ID", "mod_revision": N}],
 * decoded; values that are not valid base64 come with "error" instead.
 * *rev (may be NULL): the store's revision the answer reflects.
 */
json_t *rm_etcd_range(struct rm_etcd *e, const char *key, int prefix, long long *rev,
    struct rm_err *err);
/* Removes key: revokes its lease (deleting what the lease holds), or deletes it. */
int rm_etcd_delete(struct rm_etcd *e, const char *key, struct rm_err *err);

/*
 * Renews a lease (one /v3/lease/keepalive round): 0 and its TTL in *ttl;
 * 1 when etcd no longer has it (expired or revoked: its keys are gone).
 */
int rm_etcd_keepalive(struct rm_etcd *e, const char *lease, long *ttl, struct rm_err *err);

/*
 * Compare-and-swap on mod_revision (one /v3/kv/txn): when key's
 * mod_revision is still rev (0: the key does not exist), deletes it or puts
 * value on lease ("0" or NULL: none). 0 done; 1 the key changed or went
 * meanwhile (nothing written); negative with err when etcd did not answer.
 */
int rm_etcd_cas_delete(struct rm_etcd *e, const char *key, long long rev, struct rm_err *err);
int rm_etcd_cas_put(struct rm_etcd *e, const char *key, const char *value, const char *lease,
    long long rev, struct rm_err *err);

/*
 * Watches key (or every key under it when prefix is set) from revision
 * from, over one streaming POST to /v3/watch; cb gets each event (type
 * "PUT" or "DELETE", the key, its mod_revision) and returns 1 to stop.
 * keep_going (may be NULL) is asked about once a second; 0 stops. Returns
 * 0 when cb or keep_going stopped it, *next being the revision to resume
 * from; 2 when from was compacted away (*next: the oldest revision left,
 * err saying so); -RM_EXIT_NETWORK when no endpoint answered or the stream
 * broke (err naming the endpoints).
 */
typedef int (*rm_etcd_watch_cb)(void *ctx, const char *type, const char *key, long long rev);
int rm_etcd_watch(struct rm_etcd *e, const char *key, int prefix, long long from,
    rm_etcd_watch_cb cb, int (*keep_going)(void *), void *ctx, long long *next,
    struct rm_err *err);
/* The same, cb getting the events of each answer at once (the gateway's JSON). */
typedef int (*rm_etcd_events_cb)(void *ctx, const json_t *events);
int rm_etcd_watch_events(struct rm_etcd *e, const char *key, int prefix, long long from,
    rm_etcd_events_cb cb, int (*keep_going)(void *), void *ctx, long long *next,
    struct rm_err *err);

/*
 * A base64 string of the gateway decoded into a NUL-terminated string
 * (malloc'd); NULL for NULL, for what is not base64, or out of memory.
 */
char *rm_etcd_unb64(const char *s);

#endif
