/*
 * The runner: DAG execution with failover, checkpoints, ledger and budget.
 * One process; children are started with fork/exec and watched with poll
 * over their checkpoint sockets and a SIGCHLD self-pipe, so no threads.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "rm_advert.h"
#include "rm_cache.h"
#include "rm_doc.h"
#include "rm_fs.h"
#include "rm_home.h"
#include "rm_log.h"
#include "rm_probe.h"
#include "rm_registry.h"
#include "rm_run.h"
#include "rm_run_int.h"
#include "rm_sched.h"

extern char **environ;

enum nstate { N_WAIT = 0, N_RUNNING, N_DONE, N_FAILED, N_SKIPPED };

struct rnode {
	const char *id;
	const json_t *node;		/* canonical node */
	const json_t *pn;		/* plan entry */
	char dir[1024];
	size_t *pred, npred, *succ, nsucc;
	enum nstate state;
	json_t *cands;			/* executor ids, in the order they are tried */
	size_t next_cand;
	long last_tier;			/* last fallback tier added to cands */
	json_t *attempts;		/* [{executor, status, reason, ...}] */
	char input[1100];		/* input file ("" : /dev/null) */
	long long in_off;		/* absolute input offset of this attempt */
	int have_partial;		/* output committed from failed attempts */
	char package[1024];		/* remote_ref: the unpacked package */
	int fetched;
	/* the running attempt */
	pid_t pid;
	int attempt;
	int out_fd, ck_fd;
	char ckbuf[64];
	size_t cklen;
	long long ck_in, ck_out;
	int ck_bad;
	struct rm_xport xp;
	const char *executor;
	double start, rate, tokens;
	int term_sent;
	double term_at;
	int stopped;
	int memlimit;
};

struct runner {
	const struct rm_run_opts *o;
	char dir[1024];
	char id[80];
	json_t *plan;
	json_t *canon;
	struct rnode *n;
	size_t nn;
	size_t running;
	int dec_fd, cost_fd, ledger_fd, state_fd, lock_fd;
	double spent;			/* finished attempts, earlier invocations too */
	double prior;			/* the ledger's sum when this invocation began */
	double budget;			/* < 0: none; kept in budget.json */
	int budget_hit;
	char budget_msg[512];		/* why the budget stopped the run */
	int failed;
	int refused;			/* a package refused (signature policy): exit 5 */
	int invalid;
	json_t *adverts;		/* id -> advert, for this run */
	json_t *local_advert;
	double t0;
	json_t *errors;
};

static int sigpipe_fds[2] = { -1, -1 };

static void
on_sigchld(int sig)
{
	int saved = errno;
	(void)sig;
	if (sigpipe_fds[1] >= 0)
		(void)!write(sigpipe_fds[1], "c", 1);
	errno = saved;
}

static volatile sig_atomic_t interrupted;

static void
on_interrupt(int sig)
{
	int saved = errno;
	interrupted = sig;
	if (sigpipe_fds[1] >= 0)
		(void)!write(sigpipe_fds[1], "i", 1);
	errno = saved;
}

double
rm_run_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
iso_time(double t, char *buf, size_t size)
{
	time_t s = (time_t)t;
	struct tm tm;
	int ms = (int)((t - (double)s) * 1000);

	gmtime_r(&s, &tm);
	snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
	    tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
}

/* One compact JSON line appended with a single write (O_APPEND). */
static void
append_line(int fd, json_t *o)
{
	char *s;
	size_t len;

	if (fd < 0)
		return;
	s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII |
	    JSON_REAL_PRECISION(9));
	if (s == NULL)
		return;
	len = strlen(s);
	s = realloc(s, len + 2);
	s[len] = '\n';
	s[len + 1] = '\0';
	(void)!write(fd, s, len + 1);
	free(s);
}

/* decisions.jsonl: {time, node, event, ...} (steals o). */
static void
decide(struct runner *r, const char *node, const char *event, json_t *o)
{
	char t[40];

	if (o == NULL)
		o = json_object();
	iso_time(rm_run_now(), t, sizeof(t));
	json_object_set_new(o, "time", json_string(t));
	json_object_set_new(o, "event", json_string(event));
	if (node)
		json_object_set_new(o, "node", json_string(node));
	append_line(r->dec_fd, o);
	json_decref(o);
}

int
rm_run_id_valid(const char *id)
{
	size_t i, n = strlen(id);

	if (n == 0 || n > 64 || id[0] == '.' || id[0] == '-')
		return 0;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)id[i]) && id[i] != '.' && id[i] != '_' && id[i] != '-')
			return 0;
	return 1;
}

int
rm_run_dir(const char *id, char *buf, size_t size, int mk, struct rm_err *err)
{
	char rel[128];

	if (!rm_run_id_valid(id))
		return rm_err_set(err, RM_EXIT_USAGE, NULL, "run", "invalid run id '%s': expected "
		    "letters, digits, '.', '_' or '-' (at most 64, not starting with '.' or '-')", id);
	snprintf(rel, sizeof(rel), "runs/%s/x", id);
	if (rm_home_path(buf, size, rel, mk, err) != 0)
		return -err->code;
	buf[strlen(buf) - 2] = '\0';
	if (mk && rm_mkdir_p(buf, 0700, err) != 0)
		return -err->code;
	return 0;
}

static int
open_in_dir(const char *dir, const char *name, int flags)
{
	char p[1200];

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	return open(p, flags | O_CLOEXEC, 0600);
}

/* An alternative of a plan entry: {id, ...}, or just the id (plans with
 * the explain basis). */
static json_t *
alt_id(const json_t *alt)
{
	return json_is_string(alt) ? (json_t *)alt : json_object_get(alt, "id");
}

static int
safe_name(const char *id)
{
	return rm_run_id_valid(id) && strcmp(id, "lock") != 0;
}

/* ---- plan -> nodes --------------------------------------------------- */

static const json_t *
plan_entry(const json_t *plan, const char *id)
{
	const json_t *e;
	size_t i;

	json_array_foreach(json_object_get(plan, "nodes"), i, e)
		if (json_is_string(json_object_get(e, "id")) &&
		    strcmp(json_string_value(json_object_get(e, "id")), id) == 0)
			return e;
	return NULL;
}

static int
check_exec(const json_t *exec, const char *file, size_t i, struct rm_err *err)
{
	char f[64];
	const json_t *a;
	size_t k;

	snprintf(f, sizeof(f), "canonical.nodes[%zu].exec", i);
	if (exec == NULL)
		return rm_err_set(err, RM_EXIT_INVALID, file, f, "missing: every node needs a "
		    "command to run (a string for /bin/sh -c, or an argv list)");
	if (json_is_string(exec)) {
		if (json_string_length(exec) == 0)
			return rm_err_set(err, RM_EXIT_INVALID, file, f, "expected a non-empty "
			    "command string");
		return 0;
	}
	if (!json_is_array(exec) || json_array_size(exec) == 0) {
		char b[120];
		return rm_err_set(err, RM_EXIT_INVALID, file, f, "expected a command string or a "
		    "non-empty argv list of strings, got %s %s", rm_json_type(exec),
		    rm_json_brief(exec, b, sizeof(b)));
	}
	json_array_foreach(exec, k, a)
		if (!json_is_string(a))
			return rm_err_set(err, RM_EXIT_INVALID, file, f, "[%zu]: expected a string, got "
			    "%s", k, rm_json_type(a));
	return 0;
}

static int
setup_nodes(struct runner *r, struct rm_err *err)
{
	const json_t *nodes = json_object_get(r->canon, "nodes"), *edges, *e;
	size_t i, k;

	if (!json_is_array(nodes) || json_array_size(nodes) == 0)
		return rm_err_set(err, RM_EXIT_INVALID, "plan.json", "canonical.nodes",
		    "expected a non-empty array of nodes");
	r->nn = json_array_size(nodes);
	r->n = calloc(r->nn, sizeof(*r->n));
	for (i = 0; i < r->nn; i++) {
		struct rnode *n = &r->n[i];
		const json_t *nd = json_array_get(nodes, i);
		n->node = nd;
		n->id = json_string_value(json_object_get(nd, "id"));
		n->out_fd = n->ck_fd = -1;
		n->attempts = json_array();
		n->cands = json_array();
		if (n->id == NULL)
			return rm_err_set(err, RM_EXIT_INVALID, "plan.json", "canonical.nodes",
			    "node %zu has no id", i);
		n->pn = plan_entry(r->plan, n->id);
		if (check_exec(json_object_get(nd, "exec"), "plan.json", i, err) != 0) {
			decide(r, n->id, "invalid", json_pack("{s:s,s:s}", "field", err->field,
			    "reason", err->msg));
			return -err->code;
		}
		if (n->pn == NULL || !json_is_string(json_object_get(n->pn, "executor"))) {
			const char *why = n->pn ? json_string_value(json_object_get(n->pn, "reason")) : NULL;
			rm_err_set(err, RM_EXIT_EXEC, "plan.json", "nodes", "node '%s' has no executor "
			    "in the plan: %s", n->id, why ? why : "not placed");
			decide(r, n->id, "unplaced", json_pack("{s:s}", "reason", err->msg));
			return -err->code;
		}
		json_array_append(n->cands, json_object_get(n->pn, "executor"));
		json_array_foreach(json_object_get(n->pn, "alternatives"), k, e)
			if (json_is_string(alt_id(e)))
				json_array_append(n->cands, alt_id(e));
		n->last_tier = json_is_integer(json_object_get(n->pn, "tier")) ?
		    (long)json_integer_value(json_object_get(n->pn, "tier")) : 0;
		if (safe_name(n->id))
			snprintf(n->dir, sizeof(n->dir), "%s/nodes/%s", r->dir, n->id);
		else
			snprintf(n->dir, sizeof(n->dir), "%s/nodes/node-%zu", r->dir, i);
		if (rm_mkdir_p(n->dir, 0700, err) != 0)
			return -err->code;
	}
	edges = json_object_get(r->canon, "edges");
	for (i = 0; i < json_array_size(edges); i++) {
		const json_t *ed = json_array_get(edges, i);
		long a = -1, b = -1;
		size_t m;
		const char *from = json_string_value(json_array_get(ed, 0));
		const char *to = json_string_value(json_array_get(ed, 1));
		for (m = 0; m < r->nn && from && to; m++) {
			if (strcmp(r->n[m].id, from) == 0)
				a = (long)m;
			if (strcmp(r->n[m].id, to) == 0)
				b = (long)m;
		}
		if (a < 0 || b < 0)
			return rm_err_set(err, RM_EXIT_INVALID, "plan.json", "canonical.edges",
			    "edge %zu names an unknown node", i);
		r->n[a].succ = realloc(r->n[a].succ, (r->n[a].nsucc + 1) * sizeof(size_t));
		r->n[a].succ[r->n[a].nsucc++] = (size_t)b;
		r->n[b].pred = realloc(r->n[b].pred, (r->n[b].npred + 1) * sizeof(size_t));
		r->n[b].pred[r->n[b].npred++] = (size_t)a;
	}
	return 0;
}

/* ---- adverts --------------------------------------------------------- */

/* The current advert of executor id (read again each time), or NULL. */
static json_t *
find_advert(struct runner *r, const char *id)
{
	const struct rm_exgroup *g = r->o->g;
	size_t i;
	uint32_t e, off;
	struct rm_err err;

	for (i = 0; g != NULL && i < g->n; i++) {
		const struct rm_exset *s = g->sets[i];
		off = rm_exset_str(s, id);
		if (off == RM_NOSTR)
			continue;
		for (e = 0; e < s->nexec; e++)
			if (s->info[e].id == off) {
				json_t *a;
				rm_err_clear(&err);
				a = rm_exset_advert(s, e, &err);
				if (a != NULL)
					return a;
			}
	}
	if (r->local_advert == NULL && (g == NULL || !g->local_added)) {
		rm_err_clear(&err);
		r->local_advert = rm_probe_local_advert(&err);
	}
	if (r->local_advert != NULL && json_is_string(json_object_get(r->local_advert, "id")) &&
	    strcmp(json_string_value(json_object_get(r->local_advert, "id")), id) == 0)
		return json_incref(r->local_advert);
	return NULL;
}

/* Later fallback tiers: place the node on fallback[t-1] and add the
 * executors found there. Returns how many were added. */
static size_t
extend_cands(struct runner *r, struct rnode *n)
{
	const json_t *fb = json_object_get(n->node, "fallback");
	size_t added = 0, k, m;
	struct rm_err err;

	if (r->o->sched == NULL)
		return 0;
	while (added == 0 && (size_t)n->last_tier < json_array_size(fb)) {
		json_t *derived = json_deep_copy(n->node), *entry, *e, *dec = NULL;
		json_t *tier = json_array_get(fb, (size_t)n->last_tier);
		n->last_tier++;
		json_object_set(derived, "capabilities", json_object_get(tier, "capabilities") ?
		    json_object_get(tier, "capabilities") : tier);
		json_object_set_new(derived, "fallback", json_array());
		rm_err_clear(&err);
		entry = rm_sched_place(r->o->sched, derived, "run", &dec, &err);
		json_decref(derived);
		json_decref(dec);
		if (entry == NULL) {
			decide(r, n->id, "fallback_tier", json_pack("{s:I,s:s}", "tier",
			    (json_int_t)n->last_tier, "reason", err.msg));
			continue;
		}
		{
			json_t *ids = json_array();
			if (json_is_string(json_object_get(entry, "executor")))
				json_array_append(ids, json_object_get(entry, "executor"));
			json_array_foreach(json_object_get(entry, "alternatives"), k, e)
				if (json_is_string(alt_id(e)))
					json_array_append(ids, alt_id(e));
			json_array_foreach(ids, k, e) {
				int seen = 0;
				for (m = 0; m < json_array_size(n->cands); m++)
					if (json_equal(json_array_get(n->cands, m), e))
						seen = 1;
				if (!seen) {
					json_array_append(n->cands, e);
					added++;
				}
			}
			decide(r, n->id, "fallback_tier", json_pack("{s:I,s:O,s:s}", "tier",
			    (json_int_t)n->last_tier, "candidates", ids, "reason",
			    json_is_string(json_object_get(entry, "reason")) ?
			    json_string_value(json_object_get(entry, "reason")) : ""));
			rm_note("node %s: every executor failed; trying its fallback tier %zu (%zu "
			    "executor%s)", n->id, (size_t)n->last_tier, json_array_size(ids),
			    json_array_size(ids) == 1 ? "" : "s");
			json_decref(ids);
		}
		json_decref(entry);
	}
	return added;
}

/* ---- ledger ---------------------------------------------------------- */

static double
attempt_cost(const struct rnode *n, double dur)
{
	return n->rate * dur / 3600.0 + n->tokens;
}

static double
running_cost(struct runner *r, double now)
{
	double c = 0;
	size_t i;

	for (i = 0; i < r->nn; i++)
		if (r->n[i].state == N_RUNNING && r->n[i].pid > 0)
			c += attempt_cost(&r->n[i], now - r->n[i].start);
	return c;
}

static void
ledger(struct runner *r, struct rnode *n, double end, const char *status, const char *reason,
    const char *message)
{
	char t[40];
	double dur = end - n->start, cost = attempt_cost(n, dur);
	json_t *o, *a;

	iso_time(n->start, t, sizeof(t));
	o = json_pack("{s:s,s:s,s:s,s:s,s:i,s:s,s:f,s:f,s:s}", "schema", RM_COST_SCHEMA,
	    "run", r->id, "node", n->id, "executor", n->executor, "attempt", n->attempt,
	    "start", t, "duration_s", round(dur * 1000) / 1000, "cost", cost, "status", status);
	/* where it ran: the report names the host of every attempt */
	if (n->xp.endpoint[0])
		json_object_set_new(o, "endpoint", json_string(n->xp.endpoint));
	if (n->rate > 0)
		json_object_set_new(o, "per_hour", json_real(n->rate));
	if (n->tokens > 0)
		json_object_set_new(o, "cost_tokens", json_real(n->tokens));
	if (reason)
		json_object_set_new(o, "reason", json_string(reason));
	append_line(r->cost_fd, o);
	if (r->ledger_fd >= 0) {
		while (flock(r->ledger_fd, LOCK_EX) != 0 && errno == EINTR)
			;
		append_line(r->ledger_fd, o);
		flock(r->ledger_fd, LOCK_UN);
	}
	r->spent += cost;
	a = json_pack("{s:s,s:i,s:s,s:f,s:f}", "executor", n->executor, "attempt", n->attempt,
	    "status", status, "duration_s", round(dur * 1000) / 1000, "cost", cost);
	if (reason)
		json_object_set_new(a, "reason", json_string(reason));
	if (message)
		json_object_set_new(a, "message", json_string(message));
	json_array_append_new(n->attempts, a);
	json_decref(o);
}

/*
 * An executor's price: per_hour (returned), or else cost_tokens charged per
 * attempt (*tokens); never both.
 */
static double
advert_price(const json_t *advert, double *tokens)
{
	const json_t *pricing = json_object_get(advert, "pricing"), *t;
	double rate = json_is_number(json_object_get(pricing, "per_hour")) ?
	    json_number_value(json_object_get(pricing, "per_hour")) : 0;

	*tokens = 0;
	if (rate > 0)
		return rate;
	t = json_object_get(advert, "cost_tokens");
	if (!json_is_number(t))
		t = json_object_get(pricing, "cost_tokens");
	*tokens = json_is_number(t) ? json_number_value(t) : 0;
	return 0;
}

static void stop_all(struct runner *r, int sig);

/*
 * cost_tokens are charged in full the moment an attempt starts, so an
 * attempt whose tokens would bring the run to its budget is not started:
 * starting it could only spend them and be stopped at once.
 */
static int
tokens_reach_budget(struct runner *r, struct rnode *n, const char *exec, const json_t *advert)
{
	double tokens, total;

	if (r->budget < 0 || r->budget_hit)
		return 0;
	advert_price(advert, &tokens);
	total = r->spent + running_cost(r, rm_run_now());
	if (tokens <= 0 || total + tokens < r->budget)
		return 0;
	r->budget_hit = 1;
	snprintf(r->budget_msg, sizeof(r->budget_msg), "accumulated cost %.4f and cost_tokens "
	    "%g of node '%s' on '%s' would reach the budget %g; the attempt was not started",
	    total, tokens, n->id, exec, r->budget);
	decide(r, n->id, "budget_exceeded", json_pack("{s:f,s:f,s:s,s:f,s:s}", "budget",
	    r->budget, "total", total, "executor", exec, "cost_tokens", tokens, "reason",
	    r->budget_msg));
	stop_all(r, SIGTERM);
	return 1;
}

/* An attempt that never started (no advert, expired, bad endpoint). */
static void
skip_attempt(struct runner *r, struct rnode *n, const char *exec, const char *reason,
    const char *message)
{
	json_array_append_new(n->attempts, json_pack("{s:s,s:s,s:s,s:s,s:f,s:f}", "executor", exec,
	    "status", "skipped", "reason", reason, "message", message, "cost", 0.0,
	    "duration_s", 0.0));
	decide(r, n->id, "skip", json_pack("{s:s,s:s,s:s}", "executor", exec, "reason", reason,
	    "message", message));
	rm_note("node %s: executor %s skipped: %s", n->id, exec, message);
}

/* ---- starting attempts ----------------------------------------------- */

static int
copy_range(int from, int to, long long len)
{
	char buf[65536];
	ssize_t got;

	while (len > 0) {
		got = read(from, buf, len < (long long)sizeof(buf) ? (size_t)len : sizeof(buf));
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			return -1;
		if (rm_run_write_all(to, buf, (size_t)got) != 0)
			return -1;
		len -= got;
	}
	return 0;
}

int
rm_run_write_all(int fd, const char *p, size_t len)
{
	ssize_t w;

	while (len > 0) {
		w = write(fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

/* The input of node n: its predecessors' committed outputs. */
static int
prepare_input(struct runner *r, struct rnode *n, struct rm_err *err)
{
	size_t i;
	int fd, in;

	if (n->npred == 0) {
		n->input[0] = '\0';
		return 0;
	}
	if (n->npred == 1) {
		snprintf(n->input, sizeof(n->input), "%s/output", r->n[n->pred[0]].dir);
		return 0;
	}
	snprintf(n->input, sizeof(n->input), "%s/input", n->dir);
	fd = open(n->input, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return rm_err_set(err, RM_EXIT_INTERNAL, n->input, NULL, "cannot create: %s",
		    strerror(errno));
	for (i = 0; i < n->npred; i++) {
		char p[1200];
		struct stat st;
		snprintf(p, sizeof(p), "%s/output", r->n[n->pred[i]].dir);
		in = open(p, O_RDONLY | O_CLOEXEC);
		if (in < 0 || fstat(in, &st) != 0 || copy_range(in, fd, st.st_size) != 0) {
			if (in >= 0)
				close(in);
			close(fd);
			return rm_err_set(err, RM_EXIT_INTERNAL, p, NULL, "cannot read: %s",
			    strerror(errno));
		}
		close(in);
	}
	close(fd);
	return 0;
}

static void
param_env(json_t *env, const json_t *params)
{
	const char *k;
	json_t *v;

	json_object_foreach((json_t *)params, k, v) {
		char name[300];
		size_t i, j = 0;
		j = (size_t)snprintf(name, sizeof(name), "RM_PARAM_");
		for (i = 0; k[i] && j + 1 < sizeof(name); i++)
			name[j++] = isalnum((unsigned char)k[i]) ?
			    (char)toupper((unsigned char)k[i]) : '_';
		name[j] = '\0';
		if (json_is_string(v))
			json_object_set(env, name, v);
		else {
			char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_SORT_KEYS);
			json_object_set_new(env, name, json_string(s ? s : ""));
			free(s);
		}
	}
}

static void
child_fd(int from, int to)
{
	if (from == to) {
		int fl = fcntl(to, F_GETFD);
		if (fl >= 0)
			fcntl(to, F_SETFD, fl & ~FD_CLOEXEC);
	} else
		dup2(from, to);
}

/* Spawns argv with env added to ours; -1 when it cannot (the caller forks). */
static pid_t
spawn(const json_t *argv, const json_t *env, int in, int out, int log, int ck)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t def, none;
	size_t ne = 0, i, na = json_array_size(argv), nk = json_object_size(env);
	char **envp, **av;
	const char *k;
	json_t *v;
	pid_t pid;
	int rc;

	for (ne = 0; environ[ne]; ne++)
		;
	envp = calloc(ne + nk + 1, sizeof(*envp));
	av = calloc(na + 1, sizeof(*av));
	nk = 0;
	for (i = 0; i < ne; i++) {
		const char *eq = strchr(environ[i], '=');
		if (eq != NULL) {
			char name[256];
			snprintf(name, sizeof(name), "%.*s", (int)(eq - environ[i]), environ[i]);
			if (json_object_get(env, name) != NULL)
				continue;
		}
		envp[nk++] = environ[i];
	}
	i = nk;
	json_object_foreach((json_t *)env, k, v)
		if (asprintf(&envp[i], "%s=%s", k, json_string_value(v)) >= 0)
			i++;
	envp[i] = NULL;
	for (ne = 0; ne < na; ne++)
		av[ne] = (char *)json_string_value(json_array_get(argv, ne));
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in, 0);
	posix_spawn_file_actions_adddup2(&fa, out, 1);
	posix_spawn_file_actions_adddup2(&fa, log, 2);
	if (ck >= 0)
		posix_spawn_file_actions_adddup2(&fa, ck, 3);
	posix_spawnattr_init(&at);
	sigemptyset(&def);
	sigaddset(&def, SIGCHLD);
	sigaddset(&def, SIGINT);
	sigaddset(&def, SIGTERM);
	sigaddset(&def, SIGPIPE);
	sigemptyset(&none);
	posix_spawnattr_setsigdefault(&at, &def);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setpgroup(&at, 0);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF |
	    POSIX_SPAWN_SETSIGMASK);
	rc = posix_spawnp(&pid, av[0], &fa, &at, av, envp);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	for (; nk < i; nk++)
		free(envp[nk]);
	free(envp);
	free(av);
	return rc == 0 ? pid : -1;
}

/*
 * The next attempt's stderr log and output (numbers continue across
 * resumed invocations), and its input positioned at the node's offset.
 */
static int
open_attempt_files(struct rnode *n, int *in, int *out, int *log, struct rm_err *err)
{
	char name[64], path[1200];

	do {
		n->attempt++;
		snprintf(name, sizeof(name), "attempt-%d.err", n->attempt);
		snprintf(path, sizeof(path), "%s/%s", n->dir, name);
	} while (access(path, F_OK) == 0);
	*log = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	snprintf(name, sizeof(name), "attempt-%d.out", n->attempt);
	*out = open_in_dir(n->dir, name, O_RDWR | O_CREAT | O_TRUNC);
	*in = n->input[0] ? open(n->input, O_RDONLY | O_CLOEXEC) : open("/dev/null",
	    O_RDONLY | O_CLOEXEC);
	if (*log < 0 || *out < 0 || *in < 0)
		return rm_err_set(err, RM_EXIT_INTERNAL, n->dir, NULL, "cannot open the files of "
		    "attempt %d: %s", n->attempt, strerror(errno));
	if (n->in_off > 0 && lseek(*in, (off_t)n->in_off, SEEK_SET) < 0)
		return rm_err_set(err, RM_EXIT_INTERNAL, n->input, NULL, "cannot seek: %s",
		    strerror(errno));
	return 0;
}

static json_t *
attempt_env(struct runner *r, struct rnode *n, const char *exec)
{
	json_t *env = json_object();
	char off[32];

	json_object_set_new(env, "REMOTEMEDIA_RUN", json_string(r->id));
	json_object_set_new(env, "REMOTEMEDIA_NODE", json_string(n->id));
	json_object_set_new(env, "REMOTEMEDIA_EXECUTOR", json_string(exec));
	snprintf(off, sizeof(off), "%lld", n->in_off);
	json_object_set_new(env, "REMOTEMEDIA_INPUT_OFFSET", json_string(off));
	if (n->package[0] && n->xp.kind != RM_XPORT_SSH)
		json_object_set_new(env, "REMOTEMEDIA_PACKAGE", json_string(n->package));
	param_env(env, json_object_get(n->node, "params"));
	return env;
}

/* In the forked child: descriptors, environment, memory limit, exec. */
static void __attribute__((noreturn))
exec_child(const json_t *argv, const json_t *env, int in, int out, int log, int ck,
    double memlimit_gb)
{
	const char *k;
	json_t *v;
	char **av;
	size_t i, na = json_array_size(argv);
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigaction(SIGCHLD, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGPIPE, &sa, NULL);
	setpgid(0, 0);
	child_fd(in, 0);
	child_fd(out, 1);
	child_fd(log, 2);
	if (ck >= 0)
		child_fd(ck, 3);
	json_object_foreach((json_t *)env, k, v)
		setenv(k, json_string_value(v), 1);
	if (memlimit_gb > 0) {
		struct rlimit rl;
		rl.rlim_cur = rl.rlim_max = (rlim_t)(memlimit_gb * 1073741824.0);
		setrlimit(RLIMIT_AS, &rl);
	}
	av = calloc(na + 1, sizeof(*av));
	for (i = 0; i < na; i++)
		av[i] = (char *)json_string_value(json_array_get(argv, i));
	execvp(av[0], av);
	dprintf(2, "rm-schedule: cannot run '%s': %s\n", av[0], strerror(errno));
	_exit(errno == ENOENT ? 127 : 126);
}

/* The attempt now running: the node's state, and the start decision. */
static void
record_start(struct runner *r, struct rnode *n, const char *exec, pid_t pid, int out, int ck,
    const json_t *argv, double mem)
{
	json_t *d;

	n->pid = pid;
	n->executor = exec;
	n->out_fd = out;
	n->ck_fd = ck;
	n->cklen = 0;
	n->ck_in = n->ck_out = 0;
	n->ck_bad = 0;
	n->term_sent = 0;
	n->stopped = 0;
	n->state = N_RUNNING;
	r->running++;
	d = json_pack("{s:s,s:i,s:s,s:I}", "executor", exec, "attempt", n->attempt,
	    "endpoint", n->xp.endpoint, "input_offset", (json_int_t)n->in_off);
	if (n->memlimit)
		json_object_set_new(d, "memory_limit_gb", json_real(mem));
	if (n->rate > 0)
		json_object_set_new(d, "per_hour", json_real(n->rate));
	if (n->xp.kind != RM_XPORT_LOCAL)
		json_object_set(d, "argv", (json_t *)argv);
	decide(r, n->id, "start", d);
}

static int
start_attempt(struct runner *r, struct rnode *n, const char *exec, const json_t *advert,
    struct rm_err *err)
{
	int in = -1, out = -1, log = -1, sv[2] = { -1, -1 };
	json_t *env = NULL, *argv = NULL;
	double mem = json_number_value(json_object_get(json_object_get(n->node, "capabilities"),
	    "memory_gb"));
	pid_t pid;
	int rc;

	if ((rc = open_attempt_files(n, &in, &out, &log, err)) != 0)
		goto out;
	env = attempt_env(r, n, exec);
	if (n->xp.kind == RM_XPORT_LOCAL) {
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
			rc = rm_err_set(err, RM_EXIT_INTERNAL, NULL, NULL, "socketpair: %s",
			    strerror(errno));
			goto out;
		}
		fcntl(sv[0], F_SETFL, O_NONBLOCK);
		json_object_set_new(env, "REMOTEMEDIA_CHECKPOINT_FD", json_string("3"));
	}
	argv = rm_run_argv(&n->xp, json_object_get(n->node, "exec"), env,
	    json_object_get(n->node, "capabilities"), r->dir, err);
	if (argv == NULL) {
		rc = -err->code;
		goto out;
	}
	n->rate = advert_price(advert, &n->tokens);
	n->memlimit = n->xp.kind == RM_XPORT_LOCAL && mem > 0;
	n->start = rm_run_now();
	pid = -1;
	/* posix_spawn (vfork-like) costs the same whatever the runner's size;
	 * fork stays for memory limits and for reporting exec failures */
	if (!n->memlimit && in != 0 && out != 1 && log != 2 && (sv[1] < 0 || sv[1] != 3))
		pid = spawn(argv, env, in, out, log, sv[1]);
	if (pid < 0)
		pid = fork();
	if (pid < 0) {
		rc = rm_err_set(err, RM_EXIT_INTERNAL, NULL, NULL, "fork: %s", strerror(errno));
		goto out;
	}
	if (pid == 0)
		exec_child(argv, env, in, out, log, sv[1], n->memlimit ? mem : 0);
	record_start(r, n, exec, pid, out, sv[0], argv, mem);
	out = sv[0] = -1;	/* transferred */
out:
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	if (log >= 0)
		close(log);
	if (sv[0] >= 0)
		close(sv[0]);
	if (sv[1] >= 0)
		close(sv[1]);
	json_decref(env);
	json_decref(argv);
	return rc;
}

/*
 * The node's remote_ref package, through the cache (which applies the
 * signature policy of the mode, every time): 0 and n->package set, or -1
 * with err set and the refusal recorded.
 */
static int
fetch_package(struct runner *r, struct rnode *n, struct rm_err *err)
{
	const char *ref = json_string_value(json_object_get(n->node, "remote_ref"));
	json_t *res = NULL;
	struct rm_err fe;

	if (ref == NULL || n->fetched)
		return 0;
	rm_err_clear(&fe);
	if (rm_cache_fetch(ref, 0, &res, &fe) != 0) {
		rm_err_set(err, fe.code ? fe.code : RM_EXIT_EXEC, NULL, "remote_ref",
		    "node '%s': cannot fetch %s: %s", n->id, ref, fe.msg);
		if (fe.code == RM_EXIT_INTEGRITY)
			r->refused = 1;
		decide(r, n->id, "fetch_failed", json_pack("{s:s}", "reason", err->msg));
		return -1;
	}
	snprintf(n->package, sizeof(n->package), "%s",
	    json_string_value(json_object_get(res, "path")) ?
	    json_string_value(json_object_get(res, "path")) : "");
	n->fetched = 1;
	decide(r, n->id, "fetched", json_pack("{s:s,s:O}", "ref", ref, "path",
	    json_object_get(res, "path")));
	json_decref(res);
	return 0;
}

/*
 * In production every package of the run is fetched and checked before any
 * node starts, so that a refused package stops the run before anything of it
 * ran (a node placed before it would otherwise have run already). Any fetch
 * failure stops it there, the network's too: left to the node's attempt, a
 * registry made to fail for a moment would let earlier nodes run before the
 * package is refused.
 */
static int
preflight_packages(struct runner *r, struct rm_err *err)
{
	size_t i;

	if (rm_mode() != RM_MODE_PRODUCTION)
		return 0;
	for (i = 0; i < r->nn; i++) {
		struct rnode *n = &r->n[i];
		if (n->state == N_DONE || fetch_package(r, n, err) == 0)
			continue;
		decide(r, NULL, "halt", json_pack("{s:s}", "reason", err->msg));
		return -err->code;
	}
	return 0;
}

/*
 * The adverts were read when the run began; an executor that keeps its
 * advert alive with a short ttl (an etcd lease renewed every few seconds)
 * looks expired in that copy after a while. The registry says whether it
 * was renewed since: the renewed advert of the same executor (same
 * endpoint) replaces the old one. adv is consumed.
 */
static json_t *
renewed_advert(struct runner *r, struct rnode *n, const char *exec, json_t *adv, long long now)
{
	struct rm_err e;
	json_t *fresh;
	const char *ep = json_string_value(json_object_get(adv, "endpoint"));
	const char *fep;

	rm_err_clear(&e);
	fresh = rm_registry_get(exec, &e);
	fep = json_string_value(json_object_get(fresh, "endpoint"));
	if (fresh == NULL || rm_advert_expired(fresh, now) || (ep != NULL) != (fep != NULL) ||
	    (ep != NULL && strcmp(ep, fep) != 0)) {
		json_decref(fresh);
		return adv;
	}
	decide(r, n->id, "advert_renewed", json_pack("{s:s,s:O}", "executor", exec, "expires_at",
	    json_object_get(fresh, "expires_at")));
	json_decref(adv);
	return fresh;
}

/*
 * Tries the node's next candidates until one starts. Returns 1 started,
 * 0 none left (node failed), 2 not started because of the budget, < 0 an
 * internal error.
 */
static int
next_attempt(struct runner *r, struct rnode *n, struct rm_err *err)
{
	for (;;) {
		const char *exec;
		json_t *adv;
		char msg[600];
		long long now;

		if (n->next_cand >= json_array_size(n->cands) && extend_cands(r, n) == 0)
			return 0;
		exec = json_string_value(json_array_get(n->cands, n->next_cand));
		n->next_cand++;
		adv = find_advert(r, exec);
		if (adv == NULL) {
			snprintf(msg, sizeof(msg), "executor '%s' no longer exists in the registry or "
			    "the advert files given", exec);
			skip_attempt(r, n, exec, "executor_missing", msg);
			continue;
		}
		now = (long long)time(NULL);
		if (rm_advert_expired(adv, now))
			adv = renewed_advert(r, n, exec, adv, now);
		if (rm_advert_expired(adv, now)) {
			snprintf(msg, sizeof(msg), "advert of '%s' expired at %s", exec,
			    json_string_value(json_object_get(adv, "expires_at")));
			skip_attempt(r, n, exec, "advert_expired", msg);
			json_decref(adv);
			continue;
		}
		if (rm_run_xport_parse(json_string_value(json_object_get(adv, "endpoint")), &n->xp,
		    msg, sizeof(msg)) != 0) {
			skip_attempt(r, n, exec, "unsupported_endpoint", msg);
			json_decref(adv);
			continue;
		}
		if (tokens_reach_budget(r, n, exec, adv)) {
			json_decref(adv);
			return 2;
		}
		if (fetch_package(r, n, err) != 0) {
			json_decref(adv);
			json_array_append_new(n->attempts, json_pack("{s:s,s:s,s:s}", "status",
			    "skipped", "reason", "fetch_failed", "message", err->msg));
			n->next_cand = json_array_size(n->cands);
			n->last_tier = 1L << 30;
			return 0;
		}
		if (start_attempt(r, n, exec, adv, err) != 0) {
			json_decref(adv);
			return -1;
		}
		json_decref(adv);
		return 1;
	}
}

/* ---- finishing attempts ---------------------------------------------- */

static void
read_checkpoints(struct runner *r, struct rnode *n)
{
	char buf[512];
	ssize_t got;
	size_t i;
	long long in_len = -1;

	if (n->ck_fd < 0)
		return;
	for (;;) {
		got = read(n->ck_fd, buf, sizeof(buf));
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			break;
		for (i = 0; i < (size_t)got; i++) {
			char c = buf[i];
			if (c != '\n') {
				if (n->cklen + 1 < sizeof(n->ckbuf))
					n->ckbuf[n->cklen++] = c;
				continue;
			}
			n->ckbuf[n->cklen] = '\0';
			n->cklen = 0;
			{
				char *end;
				long long v;
				struct stat st;
				errno = 0;
				v = strtoll(n->ckbuf, &end, 10);
				if (in_len < 0) {
					in_len = 0;
					if (n->input[0] && stat(n->input, &st) == 0)
						in_len = (long long)st.st_size - n->in_off;
				}
				if (errno || end == n->ckbuf || *end != '\0' || v < n->ck_in ||
				    v > in_len) {
					if (!n->ck_bad++)
						decide(r, n->id, "checkpoint_ignored", json_pack("{s:s,s:s,s:I}",
						    "line", n->ckbuf, "reason", "expected a byte count of the "
						    "input, not decreasing, not beyond its end", "input_bytes",
						    (json_int_t)in_len));
				} else if (fstat(n->out_fd, &st) == 0) {
					n->ck_in = v;
					n->ck_out = (long long)st.st_size;
				}
			}
			/* the answer tells the node its output up to here is recorded */
			(void)!send(n->ck_fd, "ok\n", 3, MSG_DONTWAIT | MSG_NOSIGNAL);
		}
	}
}

/*
 * The checkpoints of an attempt on another host, from the relay's markers
 * in its log (rm_run_relay.c), read once the attempt is over: only then is
 * it known how much of its output arrived.
 */
static void
relayed_checkpoints(struct runner *r, struct rnode *n)
{
	struct rm_run_ckpt ck;
	struct stat st;
	char p[1200];
	long long in_len = 0;
	int fd;

	snprintf(p, sizeof(p), "%s/attempt-%d.err", n->dir, n->attempt);
	if ((fd = open(p, O_RDONLY | O_CLOEXEC)) < 0 || fstat(n->out_fd, &st) != 0) {
		if (fd >= 0)
			close(fd);
		return;
	}
	if (n->input[0] && stat(n->input, &st) == 0)
		in_len = (long long)st.st_size - n->in_off;
	fstat(n->out_fd, &st);
	rm_run_relay_scan(fd, in_len, (long long)st.st_size, &ck);
	close(fd);
	if (ck.bad)
		decide(r, n->id, "checkpoint_ignored", json_pack("{s:s,s:s,s:I,s:i}", "line",
		    ck.bad_line, "reason", "expected a byte count of the input, not decreasing, "
		    "not beyond its end", "input_bytes", (json_int_t)in_len, "count", ck.bad));
	if (ck.late)
		decide(r, n->id, "checkpoint_lost", json_pack("{s:i,s:s}", "count", ck.late,
		    "reason", "the output before these checkpoints did not arrive before the "
		    "attempt ended"));
	if (ck.count == 0)
		return;
	n->ck_in = ck.in;
	n->ck_out = ck.out;
	decide(r, n->id, "checkpoint", json_pack("{s:s,s:I,s:I,s:i}", "executor", n->executor,
	    "input", (json_int_t)ck.in, "output", (json_int_t)ck.out, "relayed", ck.count));
}

/* Appends [0, len) of the attempt's output to nodes/<n>/partial. */
static int
keep_prefix(struct rnode *n, long long len)
{
	char p[1200];
	int fd, rc;

	if (len <= 0)
		return 0;
	snprintf(p, sizeof(p), "%s/partial", n->dir);
	fd = open(p, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | (n->have_partial ? 0 : O_TRUNC),
	    0600);
	if (fd < 0)
		return -1;
	lseek(n->out_fd, 0, SEEK_SET);
	rc = copy_range(n->out_fd, fd, len);
	close(fd);
	n->have_partial = 1;
	return rc;
}

static void
close_attempt(struct runner *r, struct rnode *n)
{
	if (n->out_fd >= 0)
		close(n->out_fd);
	if (n->ck_fd >= 0)
		close(n->ck_fd);
	n->out_fd = n->ck_fd = -1;
	n->pid = 0;
	r->running--;
}

static void
print_output(struct runner *r, struct rnode *n)
{
	char p[1200];
	int fd;
	struct stat st;

	if (r->o->out_fd < 0 || n->nsucc > 0)
		return;
	snprintf(p, sizeof(p), "%s/output", n->dir);
	fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	if (fstat(fd, &st) == 0)
		copy_range(fd, r->o->out_fd, st.st_size);
	close(fd);
}

static int
commit_node(struct runner *r, struct rnode *n, struct rm_err *err)
{
	char from[1200], to[1200], name[64];
	json_t *st;

	snprintf(to, sizeof(to), "%s/output", n->dir);
	if (n->have_partial) {
		if (keep_prefix(n, (long long)lseek(n->out_fd, 0, SEEK_END)) != 0)
			return rm_err_set(err, RM_EXIT_INTERNAL, n->dir, NULL, "cannot keep output: %s",
			    strerror(errno));
		snprintf(from, sizeof(from), "%s/partial", n->dir);
	} else {
		snprintf(name, sizeof(name), "attempt-%d.out", n->attempt);
		snprintf(from, sizeof(from), "%s/%s", n->dir, name);
	}
	/* output first, then the state line: a node is done when both exist */
	if (rename(from, to) != 0)
		return rm_err_set(err, RM_EXIT_INTERNAL, to, NULL, "cannot commit output: %s",
		    strerror(errno));
	st = json_pack("{s:s,s:s,s:s,s:i}", "node", n->id, "status", "done", "executor",
	    n->executor, "attempt", n->attempt);
	append_line(r->state_fd, st);
	json_decref(st);
	n->state = N_DONE;
	return 0;
}

static int
log_has(const struct rnode *n, const char *needle, char *line, size_t size)
{
	char p[1200], buf[8192];
	int fd, cut;
	ssize_t got;
	char *hit;

	snprintf(p, sizeof(p), "%s/attempt-%d.err", n->dir, n->attempt);
	fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	/* the tail is where the final error is */
	{
		off_t end = lseek(fd, 0, SEEK_END);
		cut = end > (off_t)sizeof(buf) - 1;
		lseek(fd, cut ? end - (off_t)sizeof(buf) + 1 : 0, SEEK_SET);
	}
	got = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (got <= 0)
		return 0;
	buf[got] = '\0';
	if (cut && (hit = strchr(buf, '\n')) != NULL) {
		/* a line cut by the tail could be half a relay's marker */
		got -= hit + 1 - buf;
		memmove(buf, hit + 1, (size_t)got + 1);
	}
	/* the checkpoint relay's markers are not the node's words */
	got = (ssize_t)rm_run_relay_strip(buf, (size_t)got);
	hit = needle ? strcasestr(buf, needle) : NULL;
	if (needle && hit == NULL)
		return 0;
	if (line) {
		char *s, *e;
		if (hit == NULL) {
			/* the last non-empty line */
			e = buf + got;
			while (e > buf && (e[-1] == '\n' || e[-1] == '\r'))
				e--;
			s = e;
			while (s > buf && s[-1] != '\n')
				s--;
		} else {
			s = hit;
			while (s > buf && s[-1] != '\n')
				s--;
			e = strchr(hit, '\n');
			if (e == NULL)
				e = buf + got;
		}
		snprintf(line, size, "%.*s", (int)(e - s), s);
	}
	return 1;
}

/* Names why an attempt failed: a reason code and a message. */
/* Failover said on stderr, as it happens: nothing is tried again silently. */
static void
note_failover(const struct rnode *n, const char *from, const char *why)
{
	if (n->in_off > 0)
		rm_note("node %s: executor %s failed (%s), trying %s from input byte %lld", n->id,
		    from, why, n->executor, (long long)n->in_off);
	else
		rm_note("node %s: executor %s failed (%s), trying %s", n->id, from, why,
		    n->executor);
}

static void
classify(const struct rnode *n, int status, char *code, size_t csize, char *msg, size_t msize)
{
	char line[600] = "";
	const char *oom[] = { "cannot allocate memory", "out of memory", "memoryerror",
		"bad_alloc", "memory exhausted", NULL };
	size_t i;

	if (n->memlimit) {
		for (i = 0; oom[i]; i++)
			if (log_has(n, oom[i], line, sizeof(line)))
				break;
		if (oom[i] != NULL || (WIFEXITED(status) && WEXITSTATUS(status) == ENOMEM)) {
			snprintf(code, csize, "out_of_memory");
			snprintf(msg, msize, "out of memory under the %g GB limit of its requirements%s%s",
			    json_number_value(json_object_get(json_object_get(n->node, "capabilities"),
			    "memory_gb")), line[0] ? ": " : "", line);
			return;
		}
	}
	if (WIFSIGNALED(status)) {
		snprintf(code, csize, "signal");
		snprintf(msg, msize, "killed by signal %d (%s)", WTERMSIG(status),
		    strsignal(WTERMSIG(status)));
		return;
	}
	i = WIFEXITED(status) ? (size_t)WEXITSTATUS(status) : 0;
	if (n->xp.kind == RM_XPORT_SLURM && log_has(n, "srun: error:", line, sizeof(line))) {
		snprintf(code, csize, strstr(line, "Invalid feature") ? "slurm_refused" :
		    "transport");
		snprintf(msg, msize, "%s", line);
		return;
	}
	if (n->xp.kind == RM_XPORT_SSH && i == 255) {
		log_has(n, NULL, line, sizeof(line));
		snprintf(code, csize, strstr(line, "refused") || strstr(line, "resolve") ||
		    strstr(line, "timed out") || strstr(line, "No route") ? "unreachable" :
		    "transport");
		snprintf(msg, msize, "ssh failed (exit 255)%s%s", line[0] ? ": " : "", line);
		return;
	}
	if (i == 127) {
		log_has(n, NULL, line, sizeof(line));
		snprintf(code, csize, "command_not_found");
		snprintf(msg, msize, "command not found (exit 127)%s%s", line[0] ? ": " : "", line);
		return;
	}
	if (i == 126) {
		log_has(n, NULL, line, sizeof(line));
		snprintf(code, csize, "not_executable");
		snprintf(msg, msize, "command not executable (exit 126)%s%s", line[0] ? ": " : "",
		    line);
		return;
	}
	log_has(n, NULL, line, sizeof(line));
	snprintf(code, csize, "exit_status");
	snprintf(msg, msize, "exited with status %zu%s%s", i, line[0] ? ": " : "", line);
}

static void
node_failed(struct runner *r, struct rnode *n)
{
	json_t *tried = json_array(), *a;
	size_t i;

	n->state = N_FAILED;
	r->failed = 1;
	json_array_foreach(n->attempts, i, a)
		json_array_append_new(tried, json_pack("{s:O,s:O,s:O}", "executor",
		    json_object_get(a, "executor") ? json_object_get(a, "executor") : json_null(),
		    "reason", json_object_get(a, "reason"), "message",
		    json_object_get(a, "message") ? json_object_get(a, "message") : json_null()));
	decide(r, n->id, "exhausted", json_pack("{s:o,s:s}", "tried", tried, "reason",
	    "every executor in the node's alternatives and fallback tiers failed"));
	/* a node that cannot run leaves its dependants unrun */
}

static int
reap(struct runner *r, struct rnode *n, int status, struct rm_err *err)
{
	double end = rm_run_now();
	char code[64], msg[800];

	read_checkpoints(r, n);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0 && !n->stopped) {
		ledger(r, n, end, "ok", NULL, NULL);
		decide(r, n->id, "complete", json_pack("{s:s,s:i,s:f}", "executor", n->executor,
		    "attempt", n->attempt, "duration_s", end - n->start));
		if (commit_node(r, n, err) != 0) {
			close_attempt(r, n);
			return -1;
		}
		close_attempt(r, n);
		print_output(r, n);
		return 0;
	}
	if (n->stopped) {
		/* stop_all serves both the budget and an interrupting signal */
		if (r->budget_hit) {
			snprintf(code, sizeof(code), "budget");
			snprintf(msg, sizeof(msg), "stopped: the run's accumulated cost reached the "
			    "budget %g", r->budget);
		} else {
			snprintf(code, sizeof(code), "interrupted");
			snprintf(msg, sizeof(msg), "stopped: the runner was interrupted by signal %d",
			    (int)interrupted);
		}
		ledger(r, n, end, "stopped", code, msg);
		decide(r, n->id, "stopped", json_pack("{s:s,s:s}", "executor", n->executor,
		    "reason", msg));
		close_attempt(r, n);
		n->state = N_FAILED;
		return 0;
	}
	classify(n, status, code, sizeof(code), msg, sizeof(msg));
	ledger(r, n, end, "failed", code, msg);
	if (n->xp.kind != RM_XPORT_LOCAL)
		relayed_checkpoints(r, n);
	if (n->ck_in > 0) {
		if (keep_prefix(n, n->ck_out) != 0) {
			close_attempt(r, n);
			return rm_err_set(err, RM_EXIT_INTERNAL, n->dir, NULL, "cannot keep the "
			    "checkpointed output: %s", strerror(errno));
		}
		n->in_off += n->ck_in;
	}
	decide(r, n->id, "failed", json_pack("{s:s,s:i,s:s,s:s,s:I,s:I}", "executor", n->executor,
	    "attempt", n->attempt, "reason", code, "message", msg, "checkpoint_input",
	    (json_int_t)n->ck_in, "resume_offset", (json_int_t)n->in_off));
	close_attempt(r, n);
	n->state = N_WAIT;
	if (r->budget_hit || interrupted) {
		n->state = N_FAILED;
		return 0;
	}
	{
		const char *from = n->executor;
		int s = next_attempt(r, n, err);
		if (s < 0)
			return -1;
		if (s == 0)
			node_failed(r, n);
		else if (s == 2)
			n->state = N_FAILED;
		else {
			decide(r, n->id, "failover", json_pack("{s:s,s:s,s:s,s:I}", "from", from, "to",
			    n->executor, "reason", msg, "input_offset", (json_int_t)n->in_off));
			note_failover(n, from, msg);
		}
	}
	return 0;
}

/* ---- the loop -------------------------------------------------------- */

static int
ready(struct runner *r, struct rnode *n)
{
	size_t i;

	if (n->state != N_WAIT || n->pid > 0 || n->attempt > 0 || json_array_size(n->attempts))
		return 0;
	for (i = 0; i < n->npred; i++)
		if (r->n[n->pred[i]].state != N_DONE)
			return 0;
	return 1;
}

static void
stop_all(struct runner *r, int sig)
{
	size_t i;
	double now = rm_run_now();

	for (i = 0; i < r->nn; i++) {
		struct rnode *n = &r->n[i];
		if (n->state != N_RUNNING || n->pid <= 0)
			continue;
		if (sig == SIGTERM && n->term_sent)
			continue;
		n->stopped = 1;
		if (sig == SIGTERM) {
			n->term_sent = 1;
			n->term_at = now;
		}
		kill(-n->pid, sig);
		kill(n->pid, sig);
	}
}

static void
check_budget(struct runner *r)
{
	double total;

	if (r->budget < 0 || r->budget_hit)
		return;
	total = r->spent + running_cost(r, rm_run_now());
	if (total > 0 && total >= r->budget) {
		r->budget_hit = 1;
		snprintf(r->budget_msg, sizeof(r->budget_msg), "accumulated cost %.4f reached the "
		    "budget %g; %s", total, r->budget, r->running ? "running nodes were stopped" :
		    "no further node was started");
		decide(r, NULL, "budget_exceeded", json_pack("{s:f,s:f}", "budget", r->budget,
		    "total", total));
		stop_all(r, SIGTERM);
	}
}

static int
poll_timeout(struct runner *r)
{
	double rate = 0, now = rm_run_now(), t = -1, grace = r->o->grace_s > 0 ? r->o->grace_s : 2;
	size_t i;

	for (i = 0; i < r->nn; i++) {
		struct rnode *n = &r->n[i];
		if (n->state != N_RUNNING)
			continue;
		rate += n->rate;
		if (n->term_sent) {
			double left = n->term_at + grace - now;
			if (t < 0 || left < t)
				t = left;
		}
	}
	if (r->budget >= 0 && rate > 0 && !r->budget_hit) {
		double left = (r->budget - r->spent - running_cost(r, now)) / (rate / 3600.0);
		if (t < 0 || left < t)
			t = left;
	}
	if (t < 0 && rate == 0)
		return -1;
	if (t < 0 || t > 1)
		t = 1;
	if (t < 0.001)
		t = 0.001;
	return (int)(t * 1000) + 1;
}

/* Starts every node whose inputs are complete. 1: some started, 0: none, < 0: error. */
static int
start_ready(struct runner *r, struct rm_err *err)
{
	size_t i;
	int started = 0;

	for (i = 0; i < r->nn && !r->budget_hit && !r->failed && !interrupted; i++) {
		struct rnode *n = &r->n[i];
		int s;
		if (!ready(r, n))
			continue;
		if (r->o->max_parallel && r->running >= r->o->max_parallel)
			break;
		check_budget(r);
		if (r->budget_hit)
			break;
		if (prepare_input(r, n, err) != 0)
			return -1;
		decide(r, n->id, "schedule", json_pack("{s:O,s:O,s:O}", "candidates", n->cands,
		    "reason", json_object_get(n->pn, "reason") ?
		    json_object_get(n->pn, "reason") : json_null(), "tier",
		    json_object_get(n->pn, "tier") ? json_object_get(n->pn, "tier") :
		    json_integer(0)));
		s = next_attempt(r, n, err);
		if (s < 0)
			return -1;
		if (s == 2)
			break;
		if (s == 0)
			node_failed(r, n);
		started = 1;
	}
	return started;
}

/* Waits for a child to end, a checkpoint, a signal or the next budget check. */
static int
wait_events(struct runner *r, struct pollfd *pfd, size_t *who, struct rm_err *err)
{
	size_t np = 0, i;

	pfd[np].fd = sigpipe_fds[0];
	pfd[np].events = POLLIN;
	np++;
	for (i = 0; i < r->nn; i++)
		if (r->n[i].state == N_RUNNING && r->n[i].ck_fd >= 0) {
			pfd[np].fd = r->n[i].ck_fd;
			pfd[np].events = POLLIN;
			who[np] = i;
			np++;
		}
	if (poll(pfd, np, poll_timeout(r)) < 0 && errno != EINTR)
		return rm_err_set(err, RM_EXIT_INTERNAL, NULL, NULL, "poll: %s", strerror(errno));
	if (pfd[0].revents & POLLIN) {
		char b[256];
		while (read(sigpipe_fds[0], b, sizeof(b)) > 0)
			;
	}
	for (i = 1; i < np; i++)
		if (pfd[i].revents & (POLLIN | POLLHUP))
			read_checkpoints(r, &r->n[who[i]]);
	return 0;
}

static int
reap_children(struct runner *r, struct rm_err *err)
{
	for (;;) {
		int status;
		pid_t pid = waitpid(-1, &status, WNOHANG);
		size_t k;
		if (pid <= 0)
			return 0;
		for (k = 0; k < r->nn; k++)
			if (r->n[k].state == N_RUNNING && r->n[k].pid == pid)
				break;
		if (k < r->nn && reap(r, &r->n[k], status, err) != 0)
			return -1;
	}
}

/* SIGKILL for what outlived the grace period after SIGTERM. */
static void
kill_after_grace(struct runner *r)
{
	double now = rm_run_now(), grace = r->o->grace_s > 0 ? r->o->grace_s : 2;
	size_t i;

	for (i = 0; i < r->nn; i++) {
		struct rnode *n = &r->n[i];
		if (n->state == N_RUNNING && n->term_sent && now - n->term_at >= grace) {
			kill(-n->pid, SIGKILL);
			kill(n->pid, SIGKILL);
		}
	}
}

/* After an internal error: every child killed and waited for. */
static void
kill_all(struct runner *r)
{
	size_t i;

	stop_all(r, SIGKILL);
	while (r->running > 0) {
		int status;
		pid_t pid = waitpid(-1, &status, 0);
		if (pid < 0)
			break;
		for (i = 0; i < r->nn; i++)
			if (r->n[i].state == N_RUNNING && r->n[i].pid == pid) {
				close_attempt(r, &r->n[i]);
				r->n[i].state = N_FAILED;
			}
	}
}

static int
loop(struct runner *r, struct rm_err *err)
{
	struct pollfd *pfd = calloc(r->nn + 1, sizeof(*pfd));
	size_t *who = calloc(r->nn + 1, sizeof(*who));
	int rc = 0, started;

	for (;;) {
		if (interrupted && !r->budget_hit)
			stop_all(r, SIGTERM);
		if ((started = start_ready(r, err)) < 0) {
			rc = -1;
			break;
		}
		if (started)
			continue;
		if (r->running == 0)
			break;
		if (wait_events(r, pfd, who, err) != 0 || reap_children(r, err) != 0) {
			rc = -1;
			break;
		}
		check_budget(r);
		kill_after_grace(r);
	}
	if (rc != 0)
		kill_all(r);
	free(pfd);
	free(who);
	return rc;
}

/* ---- resume ---------------------------------------------------------- */

static void
load_state(struct runner *r)
{
	char p[1200], *text = NULL, *line, *save = NULL;
	size_t len, i;
	struct rm_err err;

	snprintf(p, sizeof(p), "%s/state.jsonl", r->dir);
	rm_err_clear(&err);
	if (rm_read_file(p, 256u << 20, &text, &len, &err) != 0)
		return;
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		json_t *o = json_loads(line, 0, NULL);
		const char *id = json_string_value(json_object_get(o, "node"));
		for (i = 0; id && i < r->nn; i++) {
			char out[1200];
			if (strcmp(r->n[i].id, id) != 0)
				continue;
			snprintf(out, sizeof(out), "%s/output", r->n[i].dir);
			if (rm_is_file(out)) {
				r->n[i].state = N_DONE;
				decide(r, id, "resume_skip", json_pack("{s:s,s:O}", "reason", "completed "
				    "in an earlier invocation of this run; not run again", "executor",
				    json_object_get(o, "executor")));
				rm_note("run %s: node %s completed in an earlier invocation; not run "
				    "again", r->id, id);
			}
		}
		json_decref(o);
	}
	free(text);
}

/*
 * The budget lives with the run in budget.json, so that --resume keeps it;
 * a --budget given on resume replaces it, lower or higher (finishing a run
 * that hit its budget needs a higher one). A resumed run starts from what
 * its ledger already holds.
 */
static int
setup_budget(struct runner *r, struct rm_err *err)
{
	char p[1200], b[64];
	double stored = -1;
	json_t *doc;
	int rc = 0;

	snprintf(p, sizeof(p), "%s/budget.json", r->dir);
	if (r->o->resume && rm_is_file(p)) {
		const json_t *v;
		if ((doc = rm_doc_load(p, err)) == NULL)
			return -err->code;
		v = json_object_get(doc, "budget");
		if (!json_is_number(v) || json_number_value(v) < 0) {
			rc = rm_err_set(err, RM_EXIT_INVALID, p, "budget", "expected a number >= 0, "
			    "got %s", rm_json_brief(v, b, sizeof(b)));
			json_decref(doc);
			return rc;
		}
		stored = json_number_value(v);
		json_decref(doc);
	}
	r->budget = r->o->budget >= 0 ? r->o->budget : stored;
	if (r->o->resume) {
		if (rm_run_ledger_total(r->dir, &r->prior, err) != 0)
			return -err->code;
		r->spent = r->prior;
		if (r->budget != stored)
			decide(r, NULL, "budget_changed", json_pack("{s:o,s:f,s:f}", "from",
			    stored >= 0 ? json_real(stored) : json_null(), "to", r->budget, "spent",
			    r->prior));
	}
	if (r->budget >= 0 && r->budget != stored) {
		doc = json_pack("{s:f}", "budget", r->budget);
		rc = rm_json_write_file(p, doc, err);
		json_decref(doc);
	}
	return rc;
}

/* ---- results --------------------------------------------------------- */

static const char *
state_name(enum nstate s)
{
	switch (s) {
	case N_DONE: return "done";
	case N_FAILED: return "failed";
	case N_RUNNING: return "running";
	case N_SKIPPED: return "not_run";
	default: return "not_run";
	}
}

static json_t *
results(struct runner *r, int code)
{
	json_t *res, *nodes = json_array();
	char t0[40], t1[40];
	double total = r->prior;	/* earlier invocations of this run */
	size_t i, k;
	json_t *a;

	for (i = 0; i < r->nn; i++) {
		struct rnode *n = &r->n[i];
		double c = 0;
		json_array_foreach(n->attempts, k, a)
			c += json_number_value(json_object_get(a, "cost"));
		total += c;
		json_array_append_new(nodes, json_pack("{s:s,s:s,s:O,s:f}", "id", n->id, "status",
		    state_name(n->state), "attempts", n->attempts, "cost", c));
		if (n->state == N_DONE) {
			char p[1200];
			snprintf(p, sizeof(p), "%s/output", n->dir);
			json_object_set_new(json_array_get(nodes, i), "output", json_string(p));
		}
	}
	iso_time(r->t0, t0, sizeof(t0));
	iso_time(rm_run_now(), t1, sizeof(t1));
	res = json_pack("{s:s,s:s,s:s,s:i,s:s,s:s,s:f,s:o,s:s}", "schema", RM_RUN_SCHEMA, "run",
	    r->id, "status", code == 0 ? "ok" : code == RM_EXIT_BUDGET ? "budget_exceeded" :
	    code == RM_EXIT_INVALID ? "invalid" : interrupted ? "interrupted" : "failed", "exit",
	    code, "started_at", t0, "finished_at", t1, "total_cost", total, "nodes", nodes, "dir",
	    r->dir);
	json_object_set_new(res, "budget", r->budget >= 0 ? json_real(r->budget) :
	    json_null());
	return res;
}

static void
gen_id(char *buf, size_t size)
{
	time_t t = time(NULL);
	struct tm tm;
	unsigned rnd;
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);

	rnd = (unsigned)getpid();
	if (fd >= 0) {
		(void)!read(fd, &rnd, sizeof(rnd));
		close(fd);
	}
	gmtime_r(&t, &tm);
	snprintf(buf, size, "%04d%02d%02dT%02d%02d%02dZ-%06x", tm.tm_year + 1900, tm.tm_mon + 1,
	    tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, rnd & 0xffffff);
}

/* The run directory: made with plan.json for a new run, its plan loaded on resume. */
static int
open_run_dir(struct runner *r, const json_t *plan, struct rm_err *err)
{
	char p[1200];

	if (rm_run_dir(r->id, r->dir, sizeof(r->dir), 0, err) != 0)
		return -err->code;
	snprintf(p, sizeof(p), "%s/plan.json", r->dir);
	if (r->o->resume) {
		if (!rm_is_file(p))
			return rm_err_set(err, RM_EXIT_NOTFOUND, p, NULL, "no such run '%s' to resume",
			    r->id);
		if ((r->plan = rm_doc_load(p, err)) == NULL)
			return -err->code;
		return 0;
	}
	if (rm_is_dir(r->dir))
		return rm_err_set(err, RM_EXIT_USAGE, r->dir, NULL, "run '%s' exists already; "
		    "finish it with --resume %s or pick another --run-id", r->id, r->id);
	if (rm_run_dir(r->id, r->dir, sizeof(r->dir), 1, err) != 0)
		return -err->code;
	r->plan = json_deep_copy(plan);
	if (rm_json_write_file(p, r->plan, err) != 0) {
		json_decref(r->plan);
		r->plan = NULL;
		return -err->code;
	}
	return 0;
}

/* The lock, then the run's append-only files and the shared ledger. */
static int
open_run_files(struct runner *r, struct rm_err *err)
{
	char p[1200];

	snprintf(p, sizeof(p), "%s/lock", r->dir);
	r->lock_fd = rm_lock(p, 1, 1, err);
	if (r->lock_fd < 0)
		return rm_err_set(err, RM_EXIT_USAGE, r->dir, NULL, "run '%s' is being run by "
		    "another process", r->id);
	r->dec_fd = open_in_dir(r->dir, "decisions.jsonl", O_WRONLY | O_CREAT | O_APPEND);
	r->cost_fd = open_in_dir(r->dir, "costs.jsonl", O_WRONLY | O_CREAT | O_APPEND);
	r->state_fd = open_in_dir(r->dir, "state.jsonl", O_WRONLY | O_CREAT | O_APPEND);
	if (rm_home_path(p, sizeof(p), "costs.jsonl", 1, err) == 0)
		r->ledger_fd = open(p, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (r->dec_fd < 0 || r->cost_fd < 0 || r->state_fd < 0 || r->ledger_fd < 0)
		return rm_err_set(err, RM_EXIT_INTERNAL, r->dir, NULL, "cannot open the run's "
		    "files: %s", strerror(errno));
	return 0;
}

/* Checks the plan and builds the nodes; every refusal is in decisions.jsonl. */
static int
load_plan(struct runner *r, struct rm_err *err)
{
	decide(r, NULL, r->o->resume ? "resume" : "run", json_pack("{s:s,s:O,s:O,s:i}", "run",
	    r->id, "policy", json_object_get(r->plan, "policy") ?
	    json_object_get(r->plan, "policy") : json_null(), "pipeline",
	    json_object_get(r->plan, "pipeline") ? json_object_get(r->plan, "pipeline") :
	    json_null(), "pid", (int)getpid()));
	if (setup_budget(r, err) != 0)
		return -err->code;
	if (rm_doc_check_schema(r->plan, "plan", 1, 1, "plan.json", err) != 0) {
		decide(r, NULL, "invalid", json_pack("{s:s}", "reason", err->msg));
		return -err->code;
	}
	r->canon = json_object_get(r->plan, "canonical");
	if (!json_is_object(r->canon)) {
		rm_err_set(err, RM_EXIT_INVALID, "plan.json", "canonical", "expected the "
		    "canonical pipeline object inside the plan");
		decide(r, NULL, "invalid", json_pack("{s:s}", "reason", err->msg));
		return -err->code;
	}
	if (setup_nodes(r, err) != 0)
		return -err->code;
	if (r->o->resume)
		load_state(r);
	return 0;
}

struct saved_signals {
	struct sigaction chld, intr, term, pipe;
};

static int
catch_signals(struct saved_signals *old, struct rm_err *err)
{
	struct sigaction sa;

	if (pipe2(sigpipe_fds, O_CLOEXEC | O_NONBLOCK) != 0)
		return rm_err_set(err, RM_EXIT_INTERNAL, NULL, NULL, "pipe: %s", strerror(errno));
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigchld;
	sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
	sigaction(SIGCHLD, &sa, &old->chld);
	sa.sa_handler = on_interrupt;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGINT, &sa, &old->intr);
	sigaction(SIGTERM, &sa, &old->term);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, &old->pipe);
	return 0;
}

static void
restore_signals(const struct saved_signals *old)
{
	sigaction(SIGCHLD, &old->chld, NULL);
	sigaction(SIGINT, &old->intr, NULL);
	sigaction(SIGTERM, &old->term, NULL);
	sigaction(SIGPIPE, &old->pipe, NULL);
	close(sigpipe_fds[0]);
	close(sigpipe_fds[1]);
	sigpipe_fds[0] = sigpipe_fds[1] = -1;
}

/* "node 'x' failed on every option: a: why; b: why; node 'y' ..." */
static void
failed_message(struct runner *r, char *buf, size_t size)
{
	size_t len = 0, i, k;
	json_t *a;

	buf[0] = '\0';
	for (i = 0; i < r->nn; i++) {
		if (r->n[i].state != N_FAILED)
			continue;
		len += (size_t)snprintf(buf + len, len < size ? size - len : 0,
		    "%snode '%s' failed on every option:", len ? "; " : "", r->n[i].id);
		json_array_foreach(r->n[i].attempts, k, a)
			if (len < size)
				len += (size_t)snprintf(buf + len, size - len, "%s %s: %s", k ? ";" : "",
				    json_is_string(json_object_get(a, "executor")) ?
				    json_string_value(json_object_get(a, "executor")) : "-",
				    json_string_value(json_object_get(a, "message")));
	}
}

/* How a loop that ran to its end finished: 0, or the error, halt recorded. */
static int
halt(struct runner *r, struct rm_err *err)
{
	char buf[2000];
	size_t i;
	int rc;

	if (r->budget_hit) {
		json_t *list = json_array();
		for (i = 0; i < r->nn; i++)
			if (r->n[i].state != N_DONE && json_array_size(r->n[i].attempts) == 0)
				json_array_append_new(list, json_string(r->n[i].id));
		rc = rm_err_set(err, RM_EXIT_BUDGET, NULL, "budget", "%s", r->budget_msg);
		decide(r, NULL, "halt", json_pack("{s:s,s:f,s:o}", "reason", err->msg, "spent",
		    r->spent, "not_started", list));
		return rc;
	}
	if (interrupted)
		rc = rm_err_set(err, RM_EXIT_EXEC, NULL, NULL, "interrupted by signal %d; "
		    "resume with --resume %s", (int)interrupted, r->id);
	else if (r->failed) {
		failed_message(r, buf, sizeof(buf));
		rc = rm_err_set(err, r->refused ? RM_EXIT_INTEGRITY : RM_EXIT_EXEC, NULL, NULL, "%s", buf);
	} else {
		decide(r, NULL, "finished", json_pack("{s:f}", "total_cost", r->spent));
		return 0;
	}
	decide(r, NULL, "halt", json_pack("{s:s}", "reason", err->msg));
	return rc;
}

static void
close_fsynced(int fd)
{
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
}

/* results.json (when there are nodes), then every file and node freed. */
static void
close_run(struct runner *r, int rc, json_t **result, struct rm_err *err)
{
	char p[1200];
	size_t i;

	if (r->n != NULL) {
		struct rm_err e2;
		*result = results(r, rc == 0 ? 0 : err->code);
		snprintf(p, sizeof(p), "%s/results.json", r->dir);
		rm_err_clear(&e2);
		rm_json_write_file(p, *result, &e2);
	} else if (r->dec_fd >= 0 && rc != 0)
		decide(r, NULL, "halt", json_pack("{s:s}", "reason", err->msg));
	close_fsynced(r->ledger_fd);
	close_fsynced(r->cost_fd);
	close_fsynced(r->state_fd);
	if (r->dec_fd >= 0)
		close(r->dec_fd);
	for (i = 0; i < r->nn; i++) {
		json_decref(r->n[i].attempts);
		json_decref(r->n[i].cands);
		free(r->n[i].pred);
		free(r->n[i].succ);
	}
	free(r->n);
	json_decref(r->local_advert);
	json_decref(r->plan);
	rm_unlock(r->lock_fd);
}

int
rm_run_exec(const json_t *plan, const struct rm_run_opts *opts, json_t **result,
    struct rm_err *err)
{
	struct runner r;
	struct saved_signals old;
	int rc;
	size_t i;

	*result = NULL;
	memset(&r, 0, sizeof(r));
	r.o = opts;
	r.budget = -1;
	r.dec_fd = r.cost_fd = r.ledger_fd = r.state_fd = r.lock_fd = -1;
	r.t0 = rm_run_now();
	if (opts->run_id)
		snprintf(r.id, sizeof(r.id), "%s", opts->run_id);
	else
		gen_id(r.id, sizeof(r.id));
	if (open_run_dir(&r, plan, err) != 0)
		return -err->code;
	if ((rc = open_run_files(&r, err)) != 0 || (rc = load_plan(&r, err)) != 0 ||
	    (rc = catch_signals(&old, err)) != 0)
		goto out;
	if ((rc = preflight_packages(&r, err)) != 0) {
		restore_signals(&old);
		goto out;
	}
	/* sinks completed in an earlier invocation: their output is the result too */
	for (i = 0; i < r.nn; i++)
		if (r.n[i].state == N_DONE)
			print_output(&r, &r.n[i]);
	rc = loop(&r, err) != 0 ? -err->code : 0;
	restore_signals(&old);
	if (rc == 0)
		rc = halt(&r, err);
out:
	close_run(&r, rc, result, err);
	return rc;
}
