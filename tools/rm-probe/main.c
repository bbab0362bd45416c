/*
 * rm-probe: this machine's executor advert; register it, verify it for
 * drift, benchmark it, keep it current, validate adverts.
 */
#include "config.h"

#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "rm_advert.h"
#include "rm_config.h"
#include "rm_doc.h"
#include "rm_err.h"
#include "rm_fs.h"
#include "rm_home.h"
#include "rm_log.h"
#include "rm_probe.h"
#include "rm_registry.h"
#include "rm_tool.h"

#define DEFAULT_TTL 3600

static const char usage_text[] =
    "usage: rm-probe [--json] [--no-frameworks] [--root DIR] [--timeout S]\n"
    "       rm-probe register [--id ID] [--ttl SECONDS] [--set PATH=VALUE]... [--unset PATH]...\n"
    "                         [--from FILE]\n"
    "       rm-probe verify [--id ID] [--no-frameworks]\n"
    "       rm-probe bench [--id ID]\n"
    "       rm-probe watch [--id ID] [--interval S] [--count N]\n"
    "       rm-probe deregister [--id ID]\n"
    "       rm-probe validate [--profile LIST] ADVERT...\n"
    "Common options: --root DIR (fixture tree for /proc, /sys, /dev), --timeout S\n"
    "(for nvidia-smi, ffmpeg, python3), -j/--json, -v, -q, -h/--help, --version;\n"
    "--registry URL (dir:PATH or etcd[s]://HOST:PORT[,HOST:PORT...][/PREFIX]) for the\n"
    "verbs that read or write adverts.\n";

static struct {
	int json, nofw, schema_only, timeout_ms;
	const char *root, *id, *from, *profile, *registry;
	long ttl, count;
	double interval;
	json_t *sets, *unsets;
} opt;

static volatile sig_atomic_t stop;

static void
on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void
usage(FILE *fp)
{
	fputs(usage_text, fp);
}

static void
probe_opts(struct rm_probe_opts *o, int fw)
{
	rm_probe_opts_init(o);
	o->root = opt.root;
	o->timeout_ms = opt.timeout_ms;
	o->frameworks = opt.nofw ? RM_PROBE_FW_NONE : fw;
}

/* ---- terminal views ---- */

static void
print_table(const json_t *adv)
{
	const json_t *caps = json_object_get(adv, "capabilities"), *v, *x;
	const char *k;
	char buf[256];
	size_t i;

	printf("%-14s %s\n", "id", json_string_value(json_object_get(adv, "id")));
	if ((v = json_object_get(caps, "os")))
		printf("%-14s %s\n", "os", json_string_value(v));
	if ((v = json_object_get(caps, "cpu"))) {
		printf("%-14s %lld cores", "cpu", (long long)json_integer_value(json_object_get(v, "cores")));
		if ((x = json_object_get(v, "physical_cores")))
			printf(" (%lld physical)", (long long)json_integer_value(x));
		printf(", %s", json_string_value(json_object_get(v, "arch")) ?: "?");
		if ((x = json_object_get(v, "model")))
			printf(", %s", json_string_value(x));
		printf("\n");
		if ((x = json_object_get(v, "flags"))) {
			printf("%-14s", "cpu flags");
			json_array_foreach(x, i, v)
				printf(" %s", json_string_value(v));
			printf("\n");
		}
	}
	if ((v = json_object_get(caps, "memory_gb")))
		printf("%-14s %.1f GB total, %.1f GB available\n", "memory", json_number_value(v),
		    json_number_value(json_object_get(caps, "memory_available_gb")));
	if ((v = json_object_get(caps, "storage")))
		printf("%-14s %.1f GB free on %s%s%s\n", "storage",
		    json_number_value(json_object_get(v, "free_gb")),
		    json_string_value(json_object_get(v, "path")),
		    json_object_get(v, "type") ? ", " : "",
		    json_object_get(v, "type") ? json_string_value(json_object_get(v, "type")) : "");
	if ((v = json_object_get(caps, "network"))) {
		json_array_foreach(json_object_get(v, "interfaces"), i, x) {
			printf("%-14s %s", i == 0 ? "network" : "", json_string_value(json_object_get(x, "name")));
			if (json_object_get(x, "speed_mbps"))
				printf(" %lld Mb/s", (long long)json_integer_value(json_object_get(x, "speed_mbps")));
			printf("\n");
		}
	}
	json_array_foreach(json_object_get(caps, "gpus"), i, v)
		printf("%-14s %s %s, %.1f GB (%.1f GB free)%s%s\n", i == 0 ? "gpu" : "",
		    json_string_value(json_object_get(v, "type")),
		    json_string_value(json_object_get(v, "model")) ?: "?",
		    json_number_value(json_object_get(v, "memory_gb")),
		    json_number_value(json_object_get(v, "memory_free_gb")),
		    json_object_get(v, "compute_capability") ? ", compute " : "",
		    json_string_value(json_object_get(v, "compute_capability")) ?: "");
	if (json_object_get(caps, "gpu") == NULL)
		printf("%-14s none\n", "gpu");
	if ((v = json_object_get(caps, "codecs"))) {
		printf("%-14s", "codecs");
		json_object_foreach((json_t *)v, k, x)
			printf(" %s:%s", k, json_string_value(x));
		printf("\n");
	}
	if ((v = json_object_get(caps, "frameworks"))) {
		printf("%-14s", "frameworks");
		json_object_foreach((json_t *)v, k, x)
			printf(" %s %s", k, json_string_value(x));
		if ((x = json_object_get(caps, "torch_cuda")))
			printf(" (torch cuda: %s)", json_is_true(x) ? "yes" : "no");
		printf("\n");
	}
	if ((v = json_object_get(caps, "tags"))) {
		printf("%-14s", "tags");
		json_array_foreach(v, i, x)
			printf(" %s", json_string_value(x));
		printf("\n");
	}
	if ((v = json_object_get(adv, "load_score")))
		printf("%-14s %.2f\n", "load", json_number_value(v));
	if ((v = json_object_get(adv, "expires_at")))
		printf("%-14s %s\n", "expires", json_string_value(v));
	json_array_foreach(json_object_get(adv, "probe_errors"), i, v)
		printf("%-14s %s: %s\n", i == 0 ? "not read" : "",
		    json_string_value(json_object_get(v, "source")),
		    json_string_value(json_object_get(v, "error")));
	(void)buf;
}

static void
emit(const json_t *doc, void (*table)(const json_t *))
{
	if (rm_tool_want_json(opt.json))
		rm_json_print(stdout, doc, 1);
	else
		table(doc);
	fflush(stdout);
}

/* ---- static metadata: config.yaml executor: {...} and --set ---- */

static json_t *
config_executor(struct rm_err *err)
{
	const json_t *cfg, *ex;
	char p[PATH_MAX];

	if ((cfg = rm_config(err)) == NULL)
		return NULL;
	ex = json_object_get(cfg, "executor");
	if (ex != NULL && !json_is_object(ex)) {
		rm_home_path(p, sizeof(p), "config.yaml", 0, NULL);
		rm_err_set(err, RM_EXIT_INVALID, p, "executor", "expected a mapping, got %s",
		    rm_json_type(ex));
		return NULL;
	}
	return ex ? json_deep_copy(ex) : json_object();
}

static void
stamp(json_t *adv, long ttl)
{
	char ts[32];
	long long now = (long long)time(NULL);

	rm_time_format(now, ts, sizeof(ts));
	json_object_set_new(adv, "probed_at", json_string(ts));
	rm_time_format(now + ttl, ts, sizeof(ts));
	json_object_set_new(adv, "expires_at", json_string(ts));
}

static long
advert_ttl(const json_t *adv)
{
	long long p, e;

	if (rm_time_parse(json_string_value(json_object_get(adv, "probed_at")) ?: "", &p) == 0 &&
	    rm_time_parse(json_string_value(json_object_get(adv, "expires_at")) ?: "", &e) == 0 &&
	    e > p)
		return (long)(e - p);
	return DEFAULT_TTL;
}

static const char *
local_id(void)
{
	static char id[256];
	struct rm_probe_opts o;
	struct rm_err err;
	json_t *cfg, *adv;

	if (opt.id)
		return opt.id;
	rm_err_clear(&err);
	cfg = config_executor(&err);
	if (json_is_string(json_object_get(cfg, "id"))) {
		snprintf(id, sizeof(id), "%s", json_string_value(json_object_get(cfg, "id")));
		json_decref(cfg);
		return id;
	}
	json_decref(cfg);
	/* The short host name, as the probe reports it (honours --root). */
	rm_probe_opts_init(&o);
	o.root = opt.root;
	o.frameworks = RM_PROBE_FW_NONE;
	o.timeout_ms = 1;
	snprintf(id, sizeof(id), "localhost");
	{
		int lvl = rm_log_level();
		rm_log_set_level(RM_LOG_QUIET);
		if ((adv = rm_probe_run(&o, &err)) != NULL)
			snprintf(id, sizeof(id), "%s", json_string_value(json_object_get(adv, "id")));
		rm_log_set_level(lvl);
	}
	json_decref(adv);
	return id;
}

/* Fresh capabilities into a copy of the registered advert (static fields kept). */
static json_t *
refresh(const json_t *reg, const json_t *probe, long ttl)
{
	json_t *adv = json_deep_copy(reg);
	static const char *const dyn[] = { "capabilities", "load_score", "probe_errors", NULL };
	int i;

	for (i = 0; dyn[i]; i++) {
		json_t *v = json_object_get(probe, dyn[i]);
		if (v)
			json_object_set(adv, dyn[i], v);
		else
			json_object_del(adv, dyn[i]);
	}
	stamp(adv, ttl);
	return adv;
}

/* ---- verbs ---- */

static int
cmd_deregister(void)
{
	struct rm_err err;
	const char *id = local_id();

	rm_err_clear(&err);
	if (rm_registry_remove(id, 0, &err) != 0)
		return rm_err_print(&err);
	rm_info("deregistered executor %s", id);
	return 0;
}

static int
cmd_show(void)
{
	struct rm_probe_opts o;
	struct rm_err err;
	json_t *adv;

	rm_err_clear(&err);
	probe_opts(&o, RM_PROBE_FW_PROBE);
	if ((adv = rm_probe_run(&o, &err)) == NULL)
		return rm_err_print(&err);
	emit(adv, print_table);
	json_decref(adv);
	return 0;
}

/* Fields a probe (or --from) writes: never static, never --unset. */
static int
probed_field(const char *path)
{
	static const char *const f[] = { "capabilities", "load_score", "probe_errors",
		"probed_at", "expires_at", "id", "schema", NULL };
	size_t n = strcspn(path, ".");
	int i;

	for (i = 0; f[i]; i++)
		if (strlen(f[i]) == n && strncmp(path, f[i], n) == 0)
			return 1;
	return 0;
}

/*
 * config.yaml's executor mapping, then each --set, then each --unset, then
 * --id, onto adv. cfg may lose the fields that --unset removes.
 */
static int
apply_static(json_t *adv, json_t *cfg, struct rm_err *err)
{
	const char *k, *path;
	json_t *v;
	size_t i;

	json_object_foreach(cfg, k, v)
		json_object_set(adv, k, v);
	json_array_foreach(opt.sets, i, v)
		if (rm_probe_set(adv, json_string_value(v), err) != 0)
			return -err->code;
	json_array_foreach(opt.unsets, i, v) {
		path = json_string_value(v);
		if (probed_field(path))
			return rm_err_set(err, RM_EXIT_USAGE, NULL, NULL,
			    "--unset %s: not a static field (the probe writes it)", path);
		if (rm_probe_unset(adv, path, err) < 0)
			return -err->code;
		if (rm_probe_unset(cfg, path, err) == 0)
			rm_warn("--unset %s: config.yaml sets it (executor.%s); it returns at the "
			    "next register unless removed there", path, path);
	}
	if (opt.id)
		json_object_set_new(adv, "id", json_string(opt.id));
	if (json_object_get(adv, "schema") == NULL)
		json_object_set_new(adv, "schema", json_string("remotemedia.executor/1"));
	return 0;
}

/*
 * The advert to register: the probe's (or the --from file's) onto the static
 * fields already registered under the same id, so that a register without
 * --set (from cron) keeps the endpoint, pricing or tags set before.
 * Called under the registry lock.
 */
static json_t *
merge_registered(json_t *adv, json_t *cfg, long ttl, struct rm_err *err)
{
	json_t *tmp = json_deep_copy(adv), *c2 = json_deep_copy(cfg), *prev, *out;
	struct rm_err e2;
	const char *id;

	if (apply_static(tmp, c2, err) != 0) {
		json_decref(tmp);
		json_decref(c2);
		return NULL;
	}
	json_decref(c2);
	id = json_string_value(json_object_get(tmp, "id"));
	rm_err_clear(&e2);
	prev = id ? rm_registry_get(id, &e2) : NULL;
	if (prev == NULL && e2.code != 0 && e2.code != RM_EXIT_NOTFOUND)
		rm_warn("the advert registered as %s cannot be read (%s); its static fields "
		    "are not kept", id, e2.msg);
	if (prev == NULL)
		return tmp;
	json_decref(tmp);
	out = refresh(prev, adv, ttl);
	json_decref(prev);
	if (opt.from)
		json_object_update(out, adv);
	else
		json_object_update_missing(out, adv);
	if (apply_static(out, cfg, err) != 0) {
		json_decref(out);
		return NULL;
	}
	return out;
}

static int
cmd_register(void)
{
	struct rm_probe_opts o;
	struct rm_err err;
	json_t *adv, *cfg, *reg = NULL, *norm = NULL;
	long ttl = opt.ttl;
	int fd, r = -1;

	rm_err_clear(&err);
	if ((cfg = config_executor(&err)) == NULL)
		return rm_err_print(&err);
	if (opt.from) {
		if ((adv = rm_doc_load(opt.from, &err)) == NULL || !json_is_object(adv)) {
			if (adv != NULL)
				rm_err_set(&err, RM_EXIT_INVALID, opt.from, NULL, "expected an advert object");
			json_decref(adv);
			json_decref(cfg);
			return rm_err_print(&err);
		}
	} else {
		probe_opts(&o, RM_PROBE_FW_PROBE);
		if ((adv = rm_probe_run(&o, &err)) == NULL) {
			json_decref(cfg);
			return rm_err_print(&err);
		}
	}
	if (ttl <= 0 && json_is_integer(json_object_get(cfg, "ttl")))
		ttl = (long)json_integer_value(json_object_get(cfg, "ttl"));
	if (ttl <= 0)
		ttl = DEFAULT_TTL;
	json_object_del(cfg, "ttl");
	if ((fd = rm_registry_lock(0, &err)) >= 0) {
		if ((reg = merge_registered(adv, cfg, ttl, &err)) != NULL) {
			stamp(reg, ttl);
			if ((norm = rm_advert_normalize(reg, "<advert>", &err)) != NULL)
				r = rm_registry_put(norm, 1, &err);
		}
		rm_unlock(fd);
	}
	json_decref(adv);
	json_decref(cfg);
	json_decref(reg);
	if (r != 0) {
		json_decref(norm);
		return rm_err_print(&err);
	}
	rm_info("registered executor %s until %s", json_string_value(json_object_get(norm, "id")),
	    json_string_value(json_object_get(norm, "expires_at")));
	emit(norm, print_table);
	json_decref(norm);
	return 0;
}

static void
print_drift(const json_t *rep)
{
	const json_t *c;
	char a[256], b[256];
	size_t i;

	if (json_array_size(json_object_get(rep, "changes")) == 0) {
		printf("%s: no drift\n", json_string_value(json_object_get(rep, "id")));
		return;
	}
	json_array_foreach(json_object_get(rep, "changes"), i, c) {
		char *wa = json_dumps(json_object_get(c, "was"), JSON_ENCODE_ANY | JSON_COMPACT | JSON_SORT_KEYS);
		char *no = json_dumps(json_object_get(c, "now"), JSON_ENCODE_ANY | JSON_COMPACT | JSON_SORT_KEYS);

		snprintf(a, sizeof(a), "%s", json_is_null(json_object_get(c, "was")) ? "none" : wa);
		snprintf(b, sizeof(b), "%s", json_is_null(json_object_get(c, "now")) ? "none" : no);
		printf("%s: %s: was %s, now %s\n", json_string_value(json_object_get(rep, "id")),
		    json_string_value(json_object_get(c, "path")), a, b);
		free(wa);
		free(no);
	}
}

/*
 * Drift must reach the admin: each change goes to standard error whatever the
 * verbosity (cron mails it, `verify -q >/dev/null` keeps it), and one line a
 * verification with drift is appended to $REMOTEMEDIA_HOME/drift.jsonl, so
 * it stays on record after the advert is rewritten.
 */
static void
report_drift(const char *id, const json_t *changes)
{
	const json_t *c;
	char ts[32], p[PATH_MAX], *line;
	struct rm_err err;
	json_t *rec;
	time_t t = time(NULL);
	size_t i;

	json_array_foreach(changes, i, c) {
		char *wa = json_dumps(json_object_get(c, "was"), JSON_ENCODE_ANY | JSON_COMPACT |
		    JSON_SORT_KEYS);
		char *no = json_dumps(json_object_get(c, "now"), JSON_ENCODE_ANY | JSON_COMPACT |
		    JSON_SORT_KEYS);
		fprintf(stderr, "%s: drift: %s: %s: was %s, now %s\n", rm_progname(), id,
		    json_string_value(json_object_get(c, "path")), wa ? wa : "?", no ? no : "?");
		free(wa);
		free(no);
	}
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
	snprintf(p, sizeof(p), "%s/drift.jsonl", rm_home());
	rec = json_pack("{s:s,s:s,s:O}", "at", ts, "id", id, "changes", changes);
	line = rec ? json_dumps(rec, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	rm_err_clear(&err);
	if (line == NULL || rm_append_locked(p, line, &err) != 0)
		rm_warn("cannot record the drift in %s: %s", p, line ? err.msg : "out of memory");
	else
		fprintf(stderr, "%s: drift: the advert was rewritten; recorded in %s\n",
		    rm_progname(), p);
	free(line);
	json_decref(rec);
}

static int
cmd_verify(void)
{
	struct rm_probe_opts o;
	struct rm_err err;
	const char *id = local_id();
	json_t *reg, *now, *changes, *adv, *rep;
	int fd, r, drift;

	rm_err_clear(&err);
	fd = rm_registry_lock(1, &err);
	if (fd < 0) {
		if (err.code == RM_EXIT_NEGATIVE) {
			rm_warn("another rm-probe is running; not verifying now");
			return 0;
		}
		return rm_err_print(&err);
	}
	if ((reg = rm_registry_get(id, &err)) == NULL) {
		rm_unlock(fd);
		return rm_err_print(&err);
	}
	probe_opts(&o, RM_PROBE_FW_PROBE);
	if ((now = rm_probe_run(&o, &err)) == NULL) {
		rm_unlock(fd);
		json_decref(reg);
		return rm_err_print(&err);
	}
	changes = rm_probe_drift(reg, now);
	drift = json_array_size(changes) > 0;
	adv = refresh(reg, now, advert_ttl(reg));
	r = rm_registry_put(adv, 1, &err);
	rm_unlock(fd);
	if (r == 1) {
		/* etcd: a register on another host rewrote it meanwhile; it stands */
		rm_warn("%s; verify again to compare with it", err.msg);
		json_decref(changes);
		json_decref(adv);
		json_decref(now);
		json_decref(reg);
		return 0;
	}
	if (drift && r == 0)
		report_drift(id, changes);
	rep = json_pack("{s:s,s:s,s:o}", "schema", "remotemedia.drift/1", "id", id, "changes", changes);
	emit(rep, print_drift);
	json_decref(rep);
	json_decref(adv);
	json_decref(now);
	json_decref(reg);
	if (r != 0)
		return rm_err_print(&err);
	return drift ? RM_EXIT_NEGATIVE : 0;
}

static void
print_bench(const json_t *b)
{
	const json_t *m = json_object_get(b, "bench"), *s;
	size_t i;

	printf("%-22s %.0f Mop/s (one core), %.0f Mop/s (all cores)\n", "cpu",
	    json_number_value(json_object_get(m, "cpu_mops")),
	    json_number_value(json_object_get(m, "cpu_mops_all")));
	printf("%-22s %.1f GB/s\n", "memory bandwidth",
	    json_number_value(json_object_get(m, "memory_bandwidth_gbps")));
	printf("%-22s %.0f MB/s write, %.0f MB/s read\n", "disk",
	    json_number_value(json_object_get(m, "disk_write_mbps")),
	    json_number_value(json_object_get(m, "disk_read_mbps")));
	json_array_foreach(json_object_get(b, "below_advertised"), i, s)
		printf("%-22s %s measured %g, advertised %g\n", i == 0 ? "below advertised" : "",
		    json_string_value(json_object_get(s, "field")),
		    json_number_value(json_object_get(s, "measured")),
		    json_number_value(json_object_get(s, "advertised")));
}

static int
cmd_bench(void)
{
	struct rm_err err;
	const char *id = local_id();
	char dir[PATH_MAX];
	json_t *reg, *m, *shortl, *out, *s;
	size_t i;
	int fd, r = 0;

	rm_err_clear(&err);
	if (rm_home_path(dir, sizeof(dir), "cache/x", 1, &err) != 0)
		return rm_err_print(&err);
	*strrchr(dir, '/') = '\0';
	if ((m = rm_probe_bench(dir, &err)) == NULL)
		return rm_err_print(&err);
	reg = rm_registry_get(id, &err);
	shortl = rm_probe_bench_short(json_object_get(reg, "bench"), m);
	json_array_foreach(shortl, i, s)
		rm_warn("bench: %s: measured %g, below the advertised %g",
		    json_string_value(json_object_get(s, "field")),
		    json_number_value(json_object_get(s, "measured")),
		    json_number_value(json_object_get(s, "advertised")));
	if (reg != NULL) {
		/* Record the measured figures under bench.measured. */
		rm_err_clear(&err);
		if ((fd = rm_registry_lock(0, &err)) < 0)
			r = rm_err_print(&err);
		else {
			json_t *cur = rm_registry_get(id, &err);
			if (cur != NULL) {
				json_t *b = json_object_get(cur, "bench");

				/* Claims stay as they were; measured figures beside them. */
				if (!json_is_object(b)) {
					b = json_object();
					json_object_set_new(cur, "bench", b);
				}
				json_object_set(b, "measured", m);
				r = rm_registry_put(cur, 1, &err) != 0 ? rm_err_print(&err) : 0;
				json_decref(cur);
			}
			rm_unlock(fd);
		}
	}
	out = json_pack("{s:s,s:O,s:o,s:b}", "id", id, "bench", m, "below_advertised", shortl,
	    "recorded", reg != NULL && r == 0);
	emit(out, print_bench);
	if (r == 0 && json_array_size(shortl) > 0)
		r = RM_EXIT_NEGATIVE;
	json_decref(out);
	json_decref(m);
	json_decref(reg);
	return r;
}

static double
mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
nap(double s)
{
	struct timespec ts = { (time_t)s, (long)((s - floor(s)) * 1e9) };

	while (nanosleep(&ts, &ts) != 0 && !stop)
		;
}

/*
 * watch's pause between rounds. In etcd it keeps the advert's lease alive
 * meanwhile, one keep-alive every ttl/3 (the first at once), and ends
 * early when the lease was lost (expired, revoked: the advert went with
 * it), so that the next round registers it again at once.
 */
static void
watch_pause(const char *id, double interval)
{
	static double due;	/* the next keep-alive, CLOCK_MONOTONIC */
	double end = mono_now() + interval, t;
	struct rm_err err;
	long ttl;
	int r;

	if (rm_registry_url()->kind != RM_REG_ETCD) {
		nap(interval);
		return;
	}
	while (!stop && (t = mono_now()) < end) {
		if (t >= due) {
			rm_err_clear(&err);
			if ((r = rm_registry_keepalive(id, &ttl, &err)) == 1) {
				rm_info("the lease of %s was lost; registering it again", id);
				return;
			}
			if (r < 0)
				rm_warn("cannot keep the lease of %s alive: %s", id, err.msg);
			due = t + (r == 0 && ttl >= 3 ? ttl / 3.0 : 1.0);
			rm_debug("lease of %s: ttl %ld s, next keep-alive in %.1f s", id, ttl, due - t);
		}
		nap((due < end ? due : end) - t);
	}
}

static int
cmd_watch(void)
{
	struct rm_probe_opts o;
	struct rm_err err;
	const char *id = local_id();
	long n = 0;
	int rc = 0;

	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	probe_opts(&o, RM_PROBE_FW_CACHED);
	while (!stop && (opt.count <= 0 || n < opt.count)) {
		json_t *reg, *now, *adv = NULL, *changes;
		long long probed = 0;
		const char *why = NULL;
		int fd;

		if (n++ > 0) {
			watch_pause(id, opt.interval);
			if (stop)
				break;
		}
		rm_err_clear(&err);
		if ((now = rm_probe_run(&o, &err)) == NULL) {
			rc = rm_err_print(&err);
			break;
		}
		if ((fd = rm_registry_lock(1, &err)) < 0) {
			json_decref(now);
			if (err.code == RM_EXIT_NEGATIVE)
				continue;	/* a register or verify is writing: next round */
			rc = rm_err_print(&err);
			break;
		}
		reg = rm_registry_get(id, &err);
		if (reg == NULL) {
			adv = json_deep_copy(now);
			json_object_set_new(adv, "id", json_string(id));
			stamp(adv, opt.ttl > 0 ? opt.ttl : DEFAULT_TTL);
			why = "registered";
		} else {
			long ttl = opt.ttl > 0 ? opt.ttl : advert_ttl(reg);

			changes = rm_probe_drift(reg, now);
			rm_time_parse(json_string_value(json_object_get(reg, "probed_at")) ?: "", &probed);
			if (json_array_size(changes) > 0)
				why = "capabilities changed";
			else if (rm_probe_dynamic_changed(reg, now))
				why = "resources changed";
			else if (rm_registry_url()->kind != RM_REG_ETCD &&
			    (long long)time(NULL) - probed >= ttl / 2)
				why = "refreshed before expiry";	/* etcd: the keep-alive does */
			if (why)
				adv = refresh(reg, now, ttl);
			json_decref(changes);
		}
		if (adv != NULL) {
			if (rm_registry_put(adv, 1, &err) != 0)
				rm_err_print(&err);
			else {
				json_t *line = json_pack("{s:s,s:s,s:O,s:O}", "id", id, "event", why,
				    "probed_at", json_object_get(adv, "probed_at"),
				    "expires_at", json_object_get(adv, "expires_at"));
				rm_json_print(stdout, line, 0);
				fflush(stdout);
				json_decref(line);
			}
		}
		rm_unlock(fd);
		json_decref(adv);
		json_decref(reg);
		json_decref(now);
	}
	return rc;
}

static void
print_validate(const json_t *rep)
{
	const json_t *r, *g;
	size_t i, j;

	json_array_foreach(json_object_get(rep, "adverts"), i, r) {
		const char *f = json_string_value(json_object_get(r, "file"));
		const char *id = json_string_value(json_object_get(r, "id")) ?: "?";

		json_array_foreach(json_object_get(r, "errors"), j, g)
			printf("%s: %s\n", f, json_string_value(g));
		json_array_foreach(json_object_get(r, "gaps"), j, g)
			printf("%s: %s: %s\n", f, id, json_string_value(g));
		if (json_array_size(json_object_get(r, "errors")) == 0 &&
		    json_array_size(json_object_get(r, "gaps")) == 0)
			printf("%s: %s: ok\n", f, id);
	}
}

static int
cmd_validate(int argc, char **argv)
{
	json_t *rep = json_array(), *out;
	int i, invalid = 0, gaps = 0;

	if (argc == 0) {
		rm_warn("validate: no advert named");
		usage(stderr);
		json_decref(rep);
		return RM_EXIT_USAGE;
	}
	if (opt.profile != NULL) {
		/* a bad --profile is a usage error before any file is read */
		struct rm_err err;
		json_t *none = json_object(), *g;

		rm_err_clear(&err);
		g = rm_probe_gaps(none, opt.profile, &err);
		json_decref(none);
		if (g == NULL) {
			json_decref(rep);
			return rm_err_print(&err);
		}
		json_decref(g);
	}
	for (i = 0; i < argc; i++) {
		struct rm_err err;
		json_t *docs, *d;
		size_t k;

		rm_err_clear(&err);
		if ((docs = rm_doc_load_many(argv[i], &err)) == NULL) {
			char buf[2048];
			json_array_append_new(rep, json_pack("{s:s,s:[s],s:[]}", "file", argv[i],
			    "errors", rm_err_str(&err, buf, sizeof(buf)), "gaps"));
			invalid++;
			continue;
		}
		json_array_foreach(docs, k, d) {
			json_t *r = json_pack("{s:s,s:[],s:[]}", "file", argv[i], "errors", "gaps");
			json_t *norm = NULL, *g;
			char buf[2048];

			if (json_is_string(json_object_get(d, "id")))
				json_object_set(r, "id", json_object_get(d, "id"));
			rm_err_clear(&err);
			if (rm_doc_check_schema(d, "executor", 1, 0, argv[i], &err) != 0 ||
			    (norm = rm_advert_normalize(d, argv[i], &err)) == NULL) {
				json_array_append_new(json_object_get(r, "errors"),
				    json_string(rm_err_str(&err, buf, sizeof(buf))));
				invalid++;
			} else if (opt.profile != NULL && !opt.schema_only) {
				if ((g = rm_probe_gaps(norm, opt.profile, &err)) == NULL) {
					json_decref(norm);
					json_decref(r);
					json_decref(docs);
					json_decref(rep);
					return rm_err_print(&err);
				}
				if (json_is_string(json_object_get(norm, "id")))
					json_object_set(r, "id", json_object_get(norm, "id"));
				gaps += (int)json_array_size(g);
				json_object_set_new(r, "gaps", g);
			}
			json_decref(norm);
			json_array_append_new(rep, r);
		}
		json_decref(docs);
	}
	out = json_pack("{s:s,s:o}", "schema", "remotemedia.validation/1", "adverts", rep);
	emit(out, print_validate);
	json_decref(out);
	return invalid ? RM_EXIT_INVALID : gaps ? RM_EXIT_NEGATIVE : 0;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "no-frameworks", no_argument, NULL, 'N' },
		{ "root", required_argument, NULL, 'R' },
		{ "timeout", required_argument, NULL, 'T' },
		{ "id", required_argument, NULL, 'i' },
		{ "ttl", required_argument, NULL, 't' },
		{ "set", required_argument, NULL, 's' },
		{ "unset", required_argument, NULL, 'u' },
		{ "from", required_argument, NULL, 'f' },
		{ "interval", required_argument, NULL, 'I' },
		{ "count", required_argument, NULL, 'c' },
		{ "profile", required_argument, NULL, 'p' },
		{ "schema-only", no_argument, NULL, 'S' },
		{ "registry", required_argument, NULL, 'r' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	const char *verb = NULL;
	int ch, level = RM_LOG_NORMAL, rc;
	double d;

	rm_tool_init(argc, argv);
	opt.sets = json_array();
	opt.unsets = json_array();
	opt.interval = 10;
	while ((ch = getopt_long(argc, argv, "jvqh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'j': opt.json = 1; break;
		case 'N': opt.nofw = 1; break;
		case 'R': opt.root = optarg; break;
		case 'T':
			if (rm_tool_parse_double(optarg, &d) != 0 || d <= 0 || d > 3600) {
				fprintf(stderr, "rm-probe: --timeout: expected seconds, got '%s'\n", optarg);
				return RM_EXIT_USAGE;
			}
			opt.timeout_ms = (int)(d * 1000);
			break;
		case 'i': opt.id = optarg; break;
		case 't':
			if (rm_tool_parse_long(optarg, &opt.ttl) != 0 || opt.ttl <= 0) {
				fprintf(stderr, "rm-probe: --ttl: expected a positive number of seconds, got '%s'\n", optarg);
				return RM_EXIT_USAGE;
			}
			break;
		case 's': json_array_append_new(opt.sets, json_string(optarg)); break;
		case 'u': json_array_append_new(opt.unsets, json_string(optarg)); break;
		case 'f': opt.from = optarg; break;
		case 'I':
			if (rm_tool_parse_double(optarg, &opt.interval) != 0 || opt.interval < 0.01) {
				fprintf(stderr, "rm-probe: --interval: expected seconds, got '%s'\n", optarg);
				return RM_EXIT_USAGE;
			}
			break;
		case 'c':
			if (rm_tool_parse_long(optarg, &opt.count) != 0 || opt.count < 0) {
				fprintf(stderr, "rm-probe: --count: expected a number, got '%s'\n", optarg);
				return RM_EXIT_USAGE;
			}
			break;
		case 'p': opt.profile = optarg; break;
		case 'S': opt.schema_only = 1; break;
		case 'r': opt.registry = optarg; break;
		case 'v': level = level < RM_LOG_VERBOSE ? RM_LOG_VERBOSE : level + 1; break;
		case 'q': level = RM_LOG_QUIET; break;
		case 'h': usage(stdout); return 0;
		case 'V': rm_tool_version(); return 0;
		default: usage(stderr); return RM_EXIT_USAGE;
		}
	}
	rm_log_set_level(level);
	rm_tool_banner();
	if (opt.id && !rm_registry_id_ok(opt.id)) {
		fprintf(stderr, "rm-probe: --id: \"%s\" is not a valid executor id\n", opt.id);
		return RM_EXIT_USAGE;
	}
	if (optind < argc)
		verb = argv[optind++];
	if (verb != NULL && (strcmp(verb, "register") == 0 || strcmp(verb, "deregister") == 0 ||
	    strcmp(verb, "verify") == 0 || strcmp(verb, "bench") == 0 ||
	    strcmp(verb, "watch") == 0)) {
		struct rm_err err;
		rm_err_clear(&err);
		if (rm_registry_select(opt.registry, &err) != 0) {
			json_decref(opt.sets);
			json_decref(opt.unsets);
			return rm_err_print(&err);
		}
	}
	if (verb == NULL || strcmp(verb, "show") == 0)
		rc = optind < argc ? -1 : cmd_show();
	else if (strcmp(verb, "register") == 0)
		rc = optind < argc ? -1 : cmd_register();
	else if (strcmp(verb, "verify") == 0)
		rc = optind < argc ? -1 : cmd_verify();
	else if (strcmp(verb, "bench") == 0)
		rc = optind < argc ? -1 : cmd_bench();
	else if (strcmp(verb, "watch") == 0)
		rc = optind < argc ? -1 : cmd_watch();
	else if (strcmp(verb, "deregister") == 0)
		rc = optind < argc ? -1 : cmd_deregister();
	else if (strcmp(verb, "validate") == 0)
		rc = cmd_validate(argc - optind, argv + optind);
	else {
		fprintf(stderr, "rm-probe: unknown verb '%s'\n", verb);
		usage(stderr);
		rc = RM_EXIT_USAGE;
	}
	if (rc == -1) {
		fprintf(stderr, "rm-probe: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		rc = RM_EXIT_USAGE;
	}
	json_decref(opt.sets);
	json_decref(opt.unsets);
	return rc;
}
