/*
 * The embedded executor registry: $REMOTEMEDIA_HOME/executors/<id>.json,
 * one advert a file, written atomically under executors.lock. Adverts carry
 * probed_at and expires_at (RFC 3339 UTC); expired ones are not matched.
 */
#ifndef RM_REGISTRY_H
#define RM_REGISTRY_H

#include <stddef.h>
#include <jansson.h>

#include "rm_err.h"

/*
 * The backend, from a registry URL: "dir:PATH" (adverts as files in PATH)
 * or "etcd://HOST:PORT[,HOST:PORT...][/PREFIX]" (adverts under
 * PREFIX/executors/<id>, PREFIX "/remotemedia" when absent, each bound to a
 * lease of the advert's ttl); "etcds://" is the same over TLS. The CA,
 * client certificate and key and the etcd user and password come from the
 * etcd: block of config.yaml, never from the URL. Without any URL the
 * directory $REMOTEMEDIA_HOME/executors is used, as always.
 */
#define RM_REG_MAX_ENDPOINTS 16
enum rm_reg_kind { RM_REG_DIR = 0, RM_REG_ETCD };

struct rm_reg_url {
	enum rm_reg_kind kind;
	char path[4096];		/* dir: ("" = the default directory) */
	char endpoints[RM_REG_MAX_ENDPOINTS][264];	/* etcd: "host:port" */
	size_t nendpoints;
	char prefix[256];		/* etcd: "/remotemedia", no trailing slash */
	int tls;			/* etcds:// */
};

/* Parses url; -1 with what is wrong in why. */
int rm_registry_parse_url(const char *url, struct rm_reg_url *u, char *why, size_t size);
/*
 * Chooses the backend for this process: arg (--registry; a bad one is
 * RM_EXIT_USAGE), else $REMOTEMEDIA_REGISTRY (RM_EXIT_USAGE too), else
 * registry: in config.yaml (RM_EXIT_INVALID naming the file), else the
 * default directory. Calling it is optional; the first call wins.
 */
int rm_registry_select(const char *arg, struct rm_err *err);
/* The backend chosen (the default directory when none was). */
const struct rm_reg_url *rm_registry_url(void);
/*
 * Every advert of an etcd registry as [{"name": "etcd:KEY", "advert": doc}]
 * or [{"name", "error"}] for one that does not parse. NULL with err. An
 * advert on a lease comes without expires_at: the key lives as long as its
 * lease, which rm-probe watch keeps alive past the expires_at written.
 */
json_t *rm_registry_list_remote(struct rm_err *err);

/*
 * etcd: renews the lease of advert id; *ttl its TTL (0: the advert has no
 * lease). 0 alive; 1 the advert is gone with its lease (expired, revoked);
 * negative with err when etcd did not answer.
 */
int rm_registry_keepalive(const char *id, long *ttl, struct rm_err *err);

/*
 * Sleeps the milliseconds the environment variable var says (under 60000):
 * the test suites' way to line two processes up on one race.
 */
void rm_registry_test_pause(const char *var);

/* The etcd client of an etcd registry (made on first use), or NULL with err. */
struct rm_etcd *rm_registry_etcd(struct rm_err *err);
/* A client of its own (another thread's), for rm_etcd_close. */
struct rm_etcd *rm_registry_etcd_new(struct rm_err *err);

/* The registry directory (created with mode 0700 when mk is set). */
int rm_registry_dir(char *buf, size_t size, int mk, struct rm_err *err);
/* Takes the registry's writer lock (exclusive); returns an fd for rm_unlock. */
int rm_registry_lock(int nowait, struct rm_err *err);
/*
 * Validates and writes an advert as executors/<id>.json. The caller may hold
 * the lock already (locked = 1) for a read-modify-write. In etcd such a
 * write after rm_registry_get of the same id is a compare-and-swap on the
 * revision read: 1 (err saying so) when another writer changed the advert
 * meanwhile, nothing written.
 */
int rm_registry_put(const json_t *advert, int locked, struct rm_err *err);
/* The advert registered under id, or NULL (err RM_EXIT_NOTFOUND). */
json_t *rm_registry_get(const char *id, struct rm_err *err);
int rm_registry_remove(const char *id, int locked, struct rm_err *err);
/* Is an id safe as a file name (letters, digits, . _ - :, not starting with .)? */
int rm_registry_id_ok(const char *id);

/* RFC 3339 UTC ("2026-11-23T09:00:00Z") <-> seconds since the epoch. */
void rm_time_format(long long t, char *buf, size_t size);
int rm_time_parse(const char *s, long long *t);

#endif
