/*
 * Probing this machine for its executor advert (schema remotemedia.executor/1):
 * cpu, memory, storage, network, GPUs (nvidia-smi, AMD sysfs), codecs (ffmpeg),
 * frameworks (python3, cached), flat tags (spec 003). Every source can be
 * pointed elsewhere: a root directory for /proc, /sys, /dev, /run, /tmp and
 * the directories the external programs are looked up in (a fixed list, see
 * rm_probe_search_path), which run under a timeout. A source that
 * cannot be read is listed in the advert's probe_errors and the rest is still
 * answered.
 */
#ifndef RM_PROBE_H
#define RM_PROBE_H

#include <stddef.h>
#include <jansson.h>

#include "rm_err.h"

enum rm_probe_fw {
	RM_PROBE_FW_NONE = 0,	/* no frameworks key at all */
	RM_PROBE_FW_CACHED = 1,	/* from the warm cache only, never run python */
	RM_PROBE_FW_PROBE = 2	/* cache, else ask python3 (with the timeout) */
};

struct rm_probe_opts {
	const char *root;	/* NULL: $REMOTEMEDIA_PROBE_ROOT, else "/" */
	int frameworks;		/* enum rm_probe_fw */
	int timeout_ms;		/* 0: $REMOTEMEDIA_PROBE_TIMEOUT seconds, else 3 s */
	const char *storage_path; /* NULL: the state directory */
};

void rm_probe_opts_init(struct rm_probe_opts *o);

/*
 * Probes the machine. Returns the advert (id = short host name, endpoint
 * "local", probed_at set, no expires_at), or NULL only on an internal error.
 * Unreadable sources go to probe_errors [{source, error}] and are warned on
 * stderr.
 */
json_t *rm_probe_run(const struct rm_probe_opts *o, struct rm_err *err);

/*
 * This machine's advert for the other tools (zero-config local execution):
 * frameworks from the warm cache only, cached for 60 s in
 * $REMOTEMEDIA_HOME/cache/local-advert.json. Never makes a network call.
 */
json_t *rm_probe_local_advert(struct rm_err *err);

/*
 * Capability drift between a registered advert and a fresh one: an array of
 * {"path", "was", "now"} (was/now null when absent). Memory within 2 % is
 * not drift, nor are static tags (top-level "tags" of either advert, which
 * normalisation adds to capabilities.tags). Empty array when nothing changed.
 */
json_t *rm_probe_drift(const json_t *was, const json_t *now);

/* Do the dynamic figures (free GPU memory, load, available memory) differ? */
int rm_probe_dynamic_changed(const json_t *was, const json_t *now);

/*
 * Applies "a.b.c=VALUE" to doc: the value is parsed as JSON when it parses,
 * else taken as a string; intermediate objects are created.
 */
int rm_probe_set(json_t *doc, const char *assign, struct rm_err *err);

/*
 * Removes the field at the dotted path from doc: 0 when removed, 1 when it
 * was not there, -2 (usage) for a bad path.
 */
int rm_probe_unset(json_t *doc, const char *path, struct rm_err *err);

/*
 * Completeness gaps of spec 004 for an advert, as an array of strings (none
 * of these fields is required by the format: callers ask for profiles). The
 * profiles come from the advert's "priority" (P0 all; P1 FaaS+SLO; P2
 * FaaS+SLO+identity; P3 or none FaaS) when profiles is NULL or "priority",
 * else from profiles (a comma list of faas, slo, identity, economic, multi).
 */
json_t *rm_probe_gaps(const json_t *advert, const char *profiles, struct rm_err *err);

/*
 * Short benchmarks (CPU, memory bandwidth, disk in dir), under 5 s in all.
 * Returns {"cpu_mops", "cpu_mops_all", "memory_bandwidth_gbps",
 * "disk_write_mbps", "disk_read_mbps", "measured_at"}.
 */
json_t *rm_probe_bench(const char *dir, struct rm_err *err);
/* Figures of measured below 90 % of claimed: array of {"field", "measured", "advertised"}. */
json_t *rm_probe_bench_short(const json_t *claimed, const json_t *measured);

/*
 * Runs argv[0] (a path, or a name looked up as rm_probe_which does under
 * "/") with stdout captured (at most max bytes) and stderr discarded, killed
 * with its process group after timeout_ms.
 * Returns 0 with *out and *status (the wait status) or -1 with why filled
 * ("not found", "timed out after 3 s", ...).
 */
int rm_probe_exec(char *const argv[], int timeout_ms, size_t max, char **out, size_t *len,
    int *status, char *why, size_t whysize);
/*
 * The directories programs are looked up in, as a colon list: those of
 * $REMOTEMEDIA_PROBE_PATH, then /usr/local/sbin, /usr/local/bin, /usr/sbin,
 * /usr/bin, /sbin, /bin, each under root (NULL or "/": none), absolute ones
 * only, each once. Never the caller's PATH: cron (PATH=/usr/bin:/bin) and a
 * login shell get the same advert.
 */
void rm_probe_search_path(const char *root, char *buf, size_t size);
/* Looks a program up in that list; 0 and the full path in buf when found. */
int rm_probe_which(const char *root, const char *prog, char *buf, size_t size);

#endif
