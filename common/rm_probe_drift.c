/*
 * What the probe's verbs need besides probing: capability drift between two
 * adverts, --set assignments, spec 004 completeness gaps and the short
 * benchmarks.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "rm_doc.h"
#include "rm_fs.h"
#include "rm_probe.h"
#include "rm_registry.h"

static void
change(json_t *out, const char *path, json_t *was, json_t *now)
{
	json_array_append_new(out, json_pack("{s:s,s:O,s:O}", "path", path,
	    "was", was ? was : json_null(), "now", now ? now : json_null()));
}

static int
num_close(const json_t *a, const json_t *b, double tol)
{
	double x = json_number_value(a), y = json_number_value(b);

	if (!json_is_number(a) || !json_is_number(b))
		return json_equal(a, b);
	return fabs(x - y) <= tol * fmax(fabs(x), fabs(y)) + 1e-9;
}

/* Compares one key of two objects: exact, or numbers within tol. */
static void
cmp_key(json_t *out, const char *prefix, const json_t *a, const json_t *b, const char *key,
    double tol)
{
	json_t *x = json_object_get(a, key), *y = json_object_get(b, key);
	char path[256];

	if (x == NULL && y == NULL)
		return;
	if (x != NULL && y != NULL && (tol > 0 ? num_close(x, y, tol) : json_equal(x, y)))
		return;
	snprintf(path, sizeof(path), "%s%s", prefix, key);
	change(out, path, x, y);
}

/* Every key of two flat objects (codecs, frameworks). */
static void
cmp_map(json_t *out, const char *prefix, const json_t *a, const json_t *b)
{
	const char *k;
	json_t *v;

	json_object_foreach((json_t *)a, k, v)
		cmp_key(out, prefix, a, b, k, 0);
	json_object_foreach((json_t *)b, k, v)
		if (json_object_get(a, k) == NULL)
			cmp_key(out, prefix, a, b, k, 0);
}

static int
same_set(const json_t *a, const json_t *b)
{
	size_t i, j;
	json_t *v, *w;

	if (json_array_size(a) != json_array_size(b))
		return 0;
	json_array_foreach(a, i, v) {
		int found = 0;
		json_array_foreach(b, j, w)
			if (json_equal(v, w))
				found = 1;
		if (!found)
			return 0;
	}
	return 1;
}

/* list less the static tags of either advert (top-level "tags"); new reference. */
static json_t *
probed_tags(const json_t *list, const json_t *wasadv, const json_t *nowadv)
{
	json_t *out, *v, *s1 = json_object_get(wasadv, "tags"), *s2 = json_object_get(nowadv, "tags");
	size_t i, j;

	if (list == NULL)
		return NULL;
	out = json_array();
	json_array_foreach(list, i, v) {
		json_t *w;
		int stat = 0;

		json_array_foreach(s1, j, w)
			stat |= json_equal(v, w);
		json_array_foreach(s2, j, w)
			stat |= json_equal(v, w);
		if (!stat)
			json_array_append(out, v);
	}
	return out;
}

json_t *
rm_probe_drift(const json_t *wasadv, const json_t *nowadv)
{
	json_t *out = json_array();
	json_t *a = json_object_get(wasadv, "capabilities"), *b = json_object_get(nowadv, "capabilities");
	json_t *ga = json_object_get(a, "gpu"), *gb = json_object_get(b, "gpu");
	static const char *const gkeys[] = { "type", "model", "count", "compute_capability", NULL };
	static const char *const lists[] = { "tags", "hardware_accel", NULL };
	int i;

	if (ga == NULL || gb == NULL) {
		if (ga != gb)
			change(out, "capabilities.gpu", ga, gb);
	} else {
		for (i = 0; gkeys[i]; i++)
			cmp_key(out, "capabilities.gpu.", ga, gb, gkeys[i], 0);
		cmp_key(out, "capabilities.gpu.", ga, gb, "memory_gb", 0.02);
	}
	cmp_key(out, "capabilities.cpu.", json_object_get(a, "cpu"), json_object_get(b, "cpu"), "cores", 0);
	cmp_key(out, "capabilities.cpu.", json_object_get(a, "cpu"), json_object_get(b, "cpu"), "arch", 0);
	cmp_key(out, "capabilities.", a, b, "memory_gb", 0.02);
	cmp_map(out, "capabilities.codecs.", json_object_get(a, "codecs"), json_object_get(b, "codecs"));
	cmp_map(out, "capabilities.frameworks.", json_object_get(a, "frameworks"),
	    json_object_get(b, "frameworks"));
	cmp_key(out, "capabilities.", a, b, "torch_cuda", 0);
	for (i = 0; lists[i]; i++) {
		json_t *x = json_object_get(a, lists[i]), *y = json_object_get(b, lists[i]);
		char path[64];

		/* tags the admin set are not probed: they cannot drift */
		if (strcmp(lists[i], "tags") == 0) {
			x = probed_tags(x, wasadv, nowadv);
			y = probed_tags(y, wasadv, nowadv);
		} else {
			json_incref(x);
			json_incref(y);
		}
		if (!same_set(x, y)) {
			snprintf(path, sizeof(path), "capabilities.%s", lists[i]);
			change(out, path, x, y);
		}
		json_decref(x);
		json_decref(y);
	}
	return out;
}

/* json_equal says two absent values differ; here they are the same. */
static int
same(const json_t *a, const json_t *b)
{
	return (a == NULL && b == NULL) || json_equal(a, b);
}

int
rm_probe_dynamic_changed(const json_t *was, const json_t *now)
{
	json_t *a = json_object_get(was, "capabilities"), *b = json_object_get(now, "capabilities");
	json_t *x, *y;

	if (!same(json_object_get(json_object_get(a, "gpu"), "memory_free_gb"),
	    json_object_get(json_object_get(b, "gpu"), "memory_free_gb")))
		return 1;
	if (!same(json_object_get(a, "memory_available_gb"),
	    json_object_get(b, "memory_available_gb")))
		return 1;
	x = json_object_get(was, "load_score");
	y = json_object_get(now, "load_score");
	if ((x == NULL) != (y == NULL) ||
	    (x && fabs(json_number_value(x) - json_number_value(y)) >= 0.05))
		return 1;
	return 0;
}

/*
 * Walks the dotted path (len bytes) of doc: *parent is the object holding
 * its last component, named in key; the objects on the way are created when
 * create, else *parent is NULL when one is missing. -1 for an empty or too
 * long component.
 */
static int
field_parent(json_t *doc, const char *path, size_t len, int create, json_t **parent,
    char *key, size_t ksize)
{
	const char *p, *dot, *end = path + len;
	size_t n;

	*parent = doc;
	for (p = path; ; p = dot + 1) {
		dot = memchr(p, '.', (size_t)(end - p));
		n = dot ? (size_t)(dot - p) : (size_t)(end - p);
		if (n == 0 || n >= ksize)
			return -1;
		memcpy(key, p, n);
		key[n] = '\0';
		if (dot == NULL)
			return 0;
		if (*parent != NULL && !json_is_object(json_object_get(*parent, key))) {
			if (create)
				json_object_set_new(*parent, key, json_object());
			else
				*parent = NULL;
		}
		if (*parent != NULL)
			*parent = json_object_get(*parent, key);
	}
}

int
rm_probe_set(json_t *doc, const char *assign, struct rm_err *err)
{
	const char *eq = strchr(assign, '=');
	json_t *cur, *val;
	json_error_t je;
	char key[256];

	if (eq == NULL || eq == assign)
		return rm_err_set(err, RM_EXIT_USAGE, NULL, NULL,
		    "--set: expected PATH=VALUE, got '%s'", assign);
	if (field_parent(doc, assign, (size_t)(eq - assign), 1, &cur, key, sizeof(key)) != 0)
		return rm_err_set(err, RM_EXIT_USAGE, NULL, NULL,
		    "--set: bad field path in '%s'", assign);
	val = json_loads(eq + 1, JSON_DECODE_ANY, &je);
	if (val == NULL)
		val = json_string(eq + 1);
	json_object_set_new(cur, key, val);
	return 0;
}

int
rm_probe_unset(json_t *doc, const char *path, struct rm_err *err)
{
	json_t *cur;
	char key[256];

	if (field_parent(doc, path, strlen(path), 0, &cur, key, sizeof(key)) != 0)
		return rm_err_set(err, RM_EXIT_USAGE, NULL, NULL, "--unset: bad field path '%s'", path);
	return cur != NULL && json_object_del(cur, key) == 0 ? 0 : 1;
}

/* ---- spec 004 completeness ---- */

static void
need(json_t *gaps, const json_t *adv, const char *field, const char *profile)
{
	json_t *v = json_object_get(adv, field);
	char msg[256];

	if (v == NULL || json_is_null(v) || (json_is_string(v) && *json_string_value(v) == '\0') ||
	    (json_is_object(v) && json_object_size(v) == 0)) {
		snprintf(msg, sizeof(msg), "%s: missing (%s profile)", field, profile);
		json_array_append_new(gaps, json_string(msg));
	}
}

/* required_capabilities may be an empty list ("calls no other capability"). */
static void
need_list(json_t *gaps, const json_t *adv, const char *field, const char *profile)
{
	char msg[256];

	if (!json_is_array(json_object_get(adv, field))) {
		snprintf(msg, sizeof(msg), "%s: missing (%s profile)", field, profile);
		json_array_append_new(gaps, json_string(msg));
	}
}

json_t *
rm_probe_gaps(const json_t *adv, const char *profiles, struct rm_err *err)
{
	char list[128], *tok, *save = NULL;
	const char *prio = json_string_value(json_object_get(adv, "priority"));
	json_t *gaps = json_array();

	if (profiles == NULL || strcmp(profiles, "priority") == 0) {
		if (prio && strcmp(prio, "P0") == 0)
			profiles = "faas,slo,identity,economic,multi";
		else if (prio && strcmp(prio, "P1") == 0)
			profiles = "faas,slo";
		else if (prio && strcmp(prio, "P2") == 0)
			profiles = "faas,slo,identity";
		else
			profiles = "faas";
	}
	snprintf(list, sizeof(list), "%s", profiles);
	for (tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (strcmp(tok, "faas") == 0) {
			need(gaps, adv, "runtime", "FaaS");
			need(gaps, adv, "env_profile", "FaaS");
			need(gaps, adv, "constraints", "FaaS");
		} else if (strcmp(tok, "slo") == 0) {
			need(gaps, adv, "slo", prio ? prio : "SLO");
		} else if (strcmp(tok, "identity") == 0) {
			need(gaps, adv, "spiffe_id", "identity");
			need_list(gaps, adv, "required_capabilities", "identity");
		} else if (strcmp(tok, "economic") == 0) {
			need(gaps, adv, "cost_tokens", "economic");
			need(gaps, adv, "slo_bid", "economic");
		} else if (strcmp(tok, "multi") == 0) {
			need(gaps, adv, "controller_affinity", "multi-controller");
		} else {
			json_decref(gaps);
			rm_err_set(err, RM_EXIT_USAGE, NULL, NULL, "unknown profile '%s' (faas, slo, "
			    "identity, economic, multi, or priority alone)", tok);
			return NULL;
		}
	}
	return gaps;
}

/* ---- benchmarks ---- */

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct cpu_job {
	double secs;
	double mops;
};

/* An integer mix (xorshift and multiply) the compiler cannot fold away. */
static void *
cpu_worker(void *arg)
{
	struct cpu_job *j = arg;
	volatile uint64_t sink;
	uint64_t x = 88172645463325252ULL, ops = 0;
	double t0 = now_s(), t;
	int i;

	do {
		for (i = 0; i < 1 << 16; i++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			x *= 0x9E3779B97F4A7C15ULL;
		}
		ops += 1 << 16;
		t = now_s() - t0;
	} while (t < j->secs);
	sink = x;
	(void)sink;
	j->mops = (double)ops / t / 1e6;
	return NULL;
}

json_t *
rm_probe_bench(const char *dir, struct rm_err *err)
{
	size_t msize = (size_t)64 << 20, dsize = (size_t)32 << 20, done;
	char path[PATH_MAX], ts[32];
	long n = sysconf(_SC_NPROCESSORS_ONLN), i;
	struct cpu_job one = { 0.4, 0 }, *jobs;
	pthread_t *th;
	double t0, t, all = 0, bytes = 0, wr, rd;
	char *a, *b;
	json_t *out;
	int fd;

	if (n < 1)
		n = 1;
	if (n > 256)
		n = 256;
	cpu_worker(&one);
	jobs = calloc((size_t)n, sizeof(*jobs));
	th = calloc((size_t)n, sizeof(*th));
	if (jobs == NULL || th == NULL) {
		free(jobs);
		free(th);
		rm_err_set(err, RM_EXIT_INTERNAL, NULL, NULL, "out of memory");
		return NULL;
	}
	for (i = 0; i < n; i++) {
		jobs[i].secs = 0.4;
		if (pthread_create(&th[i], NULL, cpu_worker, &jobs[i]) != 0)
			jobs[i].secs = -1;
	}
	for (i = 0; i < n; i++)
		if (jobs[i].secs > 0) {
			pthread_join(th[i], NULL);
			all += jobs[i].mops;
		}
	free(jobs);
	free(th);

	a = malloc(msize);
	b = malloc(msize);
	if (a == NULL || b == NULL) {
		free(a);
		free(b);
		rm_err_set(err, RM_EXIT_INTERNAL, NULL, NULL, "out of memory");
		return NULL;
	}
	memset(a, 1, msize);
	memset(b, 2, msize);
	t0 = now_s();
	do {
		memcpy(b, a, msize);
		a[bytes > 0 ? 1 : 0] ^= b[msize - 1];
		bytes += (double)msize * 2;	/* read and write */
		t = now_s() - t0;
	} while (t < 0.5);
	free(b);

	if (rm_path(path, sizeof(path), err, "%s/.rm-probe-bench.%ld", dir, (long)getpid()) != 0) {
		free(a);
		return NULL;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		free(a);
		rm_err_set(err, RM_EXIT_INVALID, path, NULL, "cannot create: %s", strerror(errno));
		return NULL;
	}
	t0 = now_s();
	for (done = 0; done < dsize; ) {
		ssize_t w = write(fd, a + done, dsize - done);
		if (w <= 0)
			break;
		done += (size_t)w;
	}
	fsync(fd);
	wr = (double)done / (now_s() - t0) / 1e6;
	close(fd);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	rd = 0;
	if (fd >= 0) {
		/* Drop what the write left cached, so the read goes to the device. */
		posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
		t0 = now_s();
		for (done = 0; ; ) {
			ssize_t r = read(fd, a, msize);
			if (r <= 0)
				break;
			done += (size_t)r;
		}
		rd = (double)done / (now_s() - t0) / 1e6;
		close(fd);
	}
	unlink(path);
	free(a);
	rm_time_format((long long)time(NULL), ts, sizeof(ts));
	out = json_pack("{s:f,s:f,s:f,s:f,s:f,s:s}",
	    "cpu_mops", round(one.mops),
	    "cpu_mops_all", round(all),
	    "memory_bandwidth_gbps", round(bytes / t / 1e9 * 10) / 10,
	    "disk_write_mbps", round(wr),
	    "disk_read_mbps", round(rd),
	    "measured_at", ts);
	return out;
}

json_t *
rm_probe_bench_short(const json_t *claimed, const json_t *measured)
{
	static const char *const keys[] = { "cpu_mops", "cpu_mops_all", "memory_bandwidth_gbps",
	    "disk_write_mbps", "disk_read_mbps", NULL };
	json_t *out = json_array();
	int i;

	for (i = 0; keys[i]; i++) {
		json_t *c = json_object_get(claimed, keys[i]), *m = json_object_get(measured, keys[i]);

		if (json_is_number(c) && json_is_number(m) &&
		    json_number_value(m) < 0.9 * json_number_value(c))
			json_array_append_new(out, json_pack("{s:s,s:O,s:O}", "field", keys[i],
			    "measured", m, "advertised", c));
	}
	return out;
}
