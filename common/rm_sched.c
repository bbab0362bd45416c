/*
 * Planning whole pipelines: per node, the tiers (own requirements, then each
 * fallback) are matched in order over the column store, the compatible
 * executors ranked by the policy, the best kept with a few alternatives,
 * and a bounded record of the decision kept for rm-schedule explain.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "rm_crypto.h"
#include "rm_doc.h"
#include "rm_fs.h"
#include "rm_home.h"
#include "rm_jsonr.h"
#include "rm_jsonw.h"
#include "rm_log.h"
#include "rm_match.h"
#include "rm_probe.h"
#include "rm_registry.h"
#include "rm_sched.h"
#include "rm_taxo.h"
#include "rm_xidx.h"

/* rejected executors recorded per tier when the decisions log is bounded */
#define REJECTED_KEPT 3

/*
 * Nodes with the same requirements (same tier document, host and, for the
 * cost policy, duration) get the same answer: pipelines repeat a handful
 * of node shapes, so a tier is matched once per shape, not once per node.
 */
struct memo {
	char *key;
	uint64_t hash;
	size_t nav, chosen;
	json_t *tried, *decision, *alternatives, *rejected, *deciding;
	double metric;
	double secs;		/* the duration the costs in it were computed for */
	struct rm_match_cand cand;
};

struct rm_sched {
	const struct rm_exgroup *g;
	struct rm_sched_opts o;
	const struct rm_taxo *t;
	struct rm_match_opts mopts;
	struct rm_match_cand *cands;
	size_t total;
	size_t *avail;			/* indices of available candidates */
	double *metric;			/* per candidate, for the policy */
	/* this machine, for local-first nodes, when the group lacks it */
	struct rm_exset *localset;
	struct rm_exgroup localgroup;
	int local_tried;
	json_t *measured;		/* endpoint -> ms (or null: unreachable) */
	struct memo *memo;		/* tier results by requirements */
	size_t nmemo, capmemo;
	uint32_t *slot;			/* memo index + 1 by hash, open addressing */
	size_t nslot;			/* twice capmemo, a power of two */
	int has_tokens;			/* some executor is priced per invocation */
	struct rm_xidx *xi;		/* the index of a one-set group, in policy order */
	uint32_t *local, nlocal;	/* its executors at endpoint "local" */
	int every;			/* the next tier lists every available executor */
	size_t nrun;			/* tiers matched (not answered by the memo) */
	int slim;			/* the plan keeps the basis: placed entries
					 * without explanation (slim_entry) */
	char *key0;			/* the next node's first memo key, made ahead */
};

static const char *policy_names[] = { "greedy", "balanced", "cost", "latency" };
static const char *policy_rules[] = {
	"greedy: the first compatible executor in executor-id order (byte order); "
	    "executors missing preferred clauses come after the others",
	"balanced: the compatible executor with the lowest load_score (absent counts as 0); "
	    "ties by executor id; executors missing preferred clauses come after the others",
	"cost: the cheapest compatible executor: pricing.per_hour x estimated_seconds / 3600, "
	    "else cost_tokens per invocation, unpriced executors cost 0; ties by executor id; "
	    "executors missing preferred clauses come after the others",
	"latency: the compatible executor with the lowest network.latency_ms from its advert "
	    "(or, with --measure, the measured TCP connect time to its endpoint); "
	    "executors without a figure come last; ties by executor id; "
	    "executors missing preferred clauses come after the others",
};

int
rm_policy_parse(const char *s, enum rm_policy *out)
{
	int i;

	for (i = 0; i < 4; i++)
		if (strcmp(s, policy_names[i]) == 0) {
			*out = (enum rm_policy)i;
			return 0;
		}
	return -1;
}

const char *
rm_policy_name(enum rm_policy p)
{
	return policy_names[p];
}

const char *
rm_policy_rule(enum rm_policy p)
{
	return policy_rules[p];
}

/*
 * The index of a one-set group, executors in the order the policy ranks
 * them (its figure, then id), so the best compatible executor is the first
 * set bit. Without one (several sets, measured latency, cost_tokens that
 * make the cost order depend on each node's duration) every tier takes the
 * reference path.
 */
static int
index_group(struct rm_sched *s)
{
	const struct rm_exset *set;
	double *rank = NULL, v;
	uint32_t e, local;
	int k;

	if (s->o.reference || s->g->n != 1 || (s->o.policy == RM_POLICY_COST && s->has_tokens) ||
	    (s->o.policy == RM_POLICY_LATENCY && s->o.measure))
		return 0;
	set = s->g->sets[0];
	if (s->o.policy != RM_POLICY_GREEDY) {
		k = rm_taxo_find(s->t, s->o.policy == RM_POLICY_BALANCED ? "load_score" :
		    s->o.policy == RM_POLICY_COST ? "pricing.per_hour" : "network.latency_ms");
		if ((rank = malloc(((size_t)set->nexec + 1) * sizeof(*rank))) == NULL)
			return -1;
		for (e = 0; e < set->nexec; e++) {
			v = rm_match_num(set, k, e, s->o.policy == RM_POLICY_BALANCED ? 0 : -1);
			rank[e] = s->o.policy == RM_POLICY_BALANCED ? v : v >= 0 ? v :
			    s->o.policy == RM_POLICY_COST ? 0 : HUGE_VAL;
		}
	}
	s->xi = rm_xidx_new(set, rank);
	free(rank);
	s->local = malloc(((size_t)set->nexec + 1) * sizeof(*s->local));
	if (s->xi == NULL || s->local == NULL)
		return -1;
	local = rm_exset_str(set, "local");
	for (e = 0; local != RM_NOSTR && e < set->nexec; e++)
		if (set->info[e].endpoint == local)
			s->local[s->nlocal++] = e;
	return 0;
}

int
rm_sched_new(const struct rm_exgroup *g, const struct rm_sched_opts *o, struct rm_sched **out,
    struct rm_err *err)
{
	struct rm_sched *s;
	size_t i;

	*out = NULL;
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return rm_err_set(err, RM_EXIT_INTERNAL, NULL, NULL, "out of memory");
	s->g = g;
	s->o = *o;
	if (s->o.topk == 0)
		s->o.topk = RM_SCHED_DEFAULT_TOPK;
	if (s->o.measure_timeout_ms <= 0)
		s->o.measure_timeout_ms = 500;
	if (s->o.now == 0)
		s->o.now = (long long)time(NULL);
	s->t = rm_taxo_get(err);
	if (s->t == NULL) {
		free(s);
		return -err->code;
	}
	s->mopts.limit = -1;
	s->mopts.now = s->o.now;
	s->mopts.approved = (json_t *)o->approved;
	for (i = 0; i < g->n; i++) {
		const struct rm_exset *set = g->sets[i];
		int k = rm_taxo_find(s->t, "cost_tokens");
		uint32_t e;
		s->total += set->nexec;
		for (e = 0; k >= 0 && e < set->nexec && !s->has_tokens; e++)
			s->has_tokens = rm_exset_val(set, k, e)->kind == RM_V_NUM;
	}
	s->cands = malloc((s->total + 1) * sizeof(*s->cands));
	s->avail = malloc((s->total + 1) * sizeof(*s->avail));
	s->metric = malloc((s->total + 1) * sizeof(*s->metric));
	s->measured = json_object();
	if (s->cands == NULL || s->avail == NULL || s->metric == NULL || index_group(s) != 0) {
		rm_sched_free(s);
		return rm_err_set(err, RM_EXIT_INTERNAL, NULL, NULL, "out of memory");
	}
	*out = s;
	return 0;
}

/* Forgets the tier results remembered so far. */
static void
memo_clear(struct rm_sched *s)
{
	size_t mi;

	for (mi = 0; mi < s->nmemo; mi++) {
		free(s->memo[mi].key);
		json_decref(s->memo[mi].tried);
		json_decref(s->memo[mi].decision);
		json_decref(s->memo[mi].alternatives);
		json_decref(s->memo[mi].rejected);
		json_decref(s->memo[mi].deciding);
	}
	s->nmemo = 0;
	if (s->slot != NULL)
		memset(s->slot, 0, s->nslot * sizeof(*s->slot));
}

void
rm_sched_free(struct rm_sched *s)
{
	if (s == NULL)
		return;
	memo_clear(s);
	free(s->memo);
	free(s->slot);
	rm_xidx_free(s->xi);
	free(s->local);
	free(s->cands);
	free(s->avail);
	free(s->metric);
	free(s->localgroup.sets);
	rm_exset_free(s->localset);
	json_decref(s->measured);
	free(s);
}

static const char *
cand_id(const struct rm_match_cand *c)
{
	return rm_exset_cstr(c->set, c->set->info[c->exec].id);
}

static const char *
cand_endpoint(const struct rm_match_cand *c)
{
	return rm_exset_cstr(c->set, c->set->info[c->exec].endpoint);
}

/* ---- latency measurement ------------------------------------------- */

/* host and port of an endpoint: scheme://host:port/path, host:port, [v6]:port */
static int
split_endpoint(const char *ep, char *host, size_t hsize, char *port, size_t psize)
{
	const char *p = strstr(ep, "://"), *end, *colon;
	size_t n;

	p = p ? p + 3 : ep;
	if (strchr(p, '@') != NULL && (strchr(p, '/') == NULL || strchr(p, '@') < strchr(p, '/')))
		p = strchr(p, '@') + 1;
	end = p + strcspn(p, "/?#");
	if (*p == '[') {
		const char *rb = memchr(p, ']', (size_t)(end - p));
		if (rb == NULL)
			return -1;
		n = (size_t)(rb - p - 1);
		if (n >= hsize)
			return -1;
		memcpy(host, p + 1, n);
		host[n] = '\0';
		colon = rb[1] == ':' ? rb + 1 : NULL;
	} else {
		colon = memchr(p, ':', (size_t)(end - p));
		n = (size_t)((colon ? colon : end) - p);
		if (n == 0 || n >= hsize)
			return -1;
		memcpy(host, p, n);
		host[n] = '\0';
	}
	if (colon != NULL) {
		n = (size_t)(end - colon - 1);
		if (n == 0 || n >= psize)
			return -1;
		memcpy(port, colon + 1, n);
		port[n] = '\0';
	} else {
		/* the scheme's port */
		if (strncmp(ep, "https://", 8) == 0 || strncmp(ep, "grpcs://", 8) == 0)
			snprintf(port, psize, "443");
		else if (strncmp(ep, "http://", 7) == 0)
			snprintf(port, psize, "80");
		else if (strncmp(ep, "ssh://", 6) == 0)
			snprintf(port, psize, "22");
		else
			return -1;
	}
	return 0;
}

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

/* TCP connect time in ms, or -1 when unreachable within the timeout. */
static double
measure_connect(const char *ep, int timeout_ms)
{
	char host[256], port[16];
	struct addrinfo hints, *res = NULL, *ai;
	double best = -1;

	if (strcmp(ep, "local") == 0)
		return 0;
	if (split_endpoint(ep, host, sizeof(host), port, sizeof(port)) != 0)
		return -1;
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	if (getaddrinfo(host, port, &hints, &res) != 0)
		return -1;
	for (ai = res; ai != NULL && best < 0; ai = ai->ai_next) {
		int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    ai->ai_protocol);
		double t0;
		if (fd < 0)
			continue;
		t0 = now_ms();
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			best = now_ms() - t0;
		else if (errno == EINPROGRESS) {
			struct pollfd pfd = { .fd = fd, .events = POLLOUT };
			int soerr = 0;
			socklen_t len = sizeof(soerr);
			if (poll(&pfd, 1, timeout_ms) == 1 &&
			    getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) == 0 && soerr == 0)
				best = now_ms() - t0;
		}
		close(fd);
	}
	freeaddrinfo(res);
	return best;
}

static double
measured_latency(struct rm_sched *s, const struct rm_match_cand *c)
{
	const char *ep = cand_endpoint(c);
	json_t *v;
	double ms;

	if (ep == NULL)
		return -1;
	v = json_object_get(s->measured, ep);
	if (v != NULL)
		return json_is_number(v) ? json_number_value(v) : -1;
	ms = measure_connect(ep, s->o.measure_timeout_ms);
	rm_debug("measured %s: %g ms", ep, ms);
	json_object_set_new(s->measured, ep, ms >= 0 ? json_real(ms) : json_null());
	return ms;
}

/* ---- ranking -------------------------------------------------------- */

static double
cand_cost(const struct rm_match_cand *c, double secs)
{
	if (c->price >= 0)
		return c->price * secs / 3600.0;
	if (c->tokens >= 0)
		return c->tokens;
	return 0;
}

/* The policy's figure (lower is better); HUGE_VAL when unknown. */
static double
policy_metric(struct rm_sched *s, const struct rm_match_cand *c, double secs)
{
	double v;

	switch (s->o.policy) {
	case RM_POLICY_BALANCED:
		return c->load;
	case RM_POLICY_COST:
		return cand_cost(c, secs);
	case RM_POLICY_LATENCY:
		v = s->o.measure ? measured_latency(s, c) : c->latency;
		return v >= 0 ? v : HUGE_VAL;
	default:
		return 0;
	}
}

/* <0 when candidate a ranks before b */
static int
rank_cmp(const struct rm_sched *s, size_t a, size_t b)
{
	const struct rm_match_cand *x = &s->cands[a], *y = &s->cands[b];

	if (x->degraded != y->degraded)
		return x->degraded ? 1 : -1;
	if (s->metric[a] != s->metric[b])
		return s->metric[a] < s->metric[b] ? -1 : 1;
	return strcmp(cand_id(x), cand_id(y));
}

/* Keeps the k best of list[0..n) in top[], ranked; returns how many. */
static size_t
top_k(const struct rm_sched *s, const size_t *list, size_t n, size_t k, size_t *top)
{
	size_t i, m = 0, j;

	for (i = 0; i < n; i++) {
		size_t c = list[i];
		if (m == k && rank_cmp(s, c, top[m - 1]) >= 0)
			continue;
		j = m < k ? m++ : m - 1;
		while (j > 0 && rank_cmp(s, c, top[j - 1]) < 0) {
			top[j] = top[j - 1];
			j--;
		}
		top[j] = c;
	}
	return m;
}

/* ---- one tier -------------------------------------------------------- */

/* The requirement object of a tier: a tier may wrap it in "capabilities". */
static json_t *
tier_requirements(const json_t *tier, int *remote_only)
{
	json_t *req;

	*remote_only = 0;
	if (json_is_object(tier) && json_object_get(tier, "capabilities") != NULL) {
		*remote_only = json_is_true(json_object_get(tier, "remote"));
		return json_incref(json_object_get(tier, "capabilities"));
	}
	if (json_is_object(tier) && json_object_get(tier, "remote") == NULL)
		return json_incref((json_t *)tier);	/* shared: nothing changes it */
	if (json_is_object(tier)) {
		req = json_deep_copy(tier);
		*remote_only = json_is_true(json_object_get(req, "remote"));
		json_object_del(req, "remote");
		return req;
	}
	return json_incref((json_t *)tier);
}

static int
empty_requirements(const json_t *req)
{
	return req == NULL || json_is_null(req) ||
	    (json_is_object(req) && json_object_size(req) == 0) ||
	    (json_is_array(req) && json_array_size(req) == 0);
}

/* Does executor c answer to the node's host (id, endpoint, or host[:port]). */
static int
host_matches(const struct rm_match_cand *c, const char *host)
{
	const char *id = cand_id(c), *ep = cand_endpoint(c);
	char h[256], p[16], hp[300];

	if (strcmp(id, host) == 0)
		return 1;
	if (ep == NULL)
		return 0;
	if (strcmp(ep, host) == 0)
		return 1;
	if (split_endpoint(ep, h, sizeof(h), p, sizeof(p)) == 0) {
		snprintf(hp, sizeof(hp), "%s:%s", h, p);
		if (strcmp(hp, host) == 0 || strcmp(h, host) == 0)
			return 1;
	}
	return 0;
}

/* The capabilities that decided a match: "path need" per required clause. */
static json_t *
deciding(const struct rm_node *n)
{
	json_t *arr = json_array();
	size_t j;
	char nb[200], line[400];

	for (j = 0; j < n->n; j++) {
		size_t q;
		int block = 0;
		/* a presence block with clauses below says nothing of its own */
		for (q = 0; q < n->n; q++)
			block |= n->c[q].parent == (int)j;
		if (block)
			continue;
		rm_json_brief(n->c[j].need, nb, sizeof(nb));
		snprintf(line, sizeof(line), "%s %s%s", n->c[j].path, nb,
		    n->c[j].soft ? " (preferred)" : "");
		json_array_append_new(arr, json_string(line));
	}
	return arr;
}

struct tier_result {
	size_t nav;		/* compatible */
	size_t chosen;		/* candidate index when nav > 0 */
	json_t *tried;		/* tiers_tried entry */
	json_t *decision;	/* decisions tier record */
	json_t *alternatives;
	json_t *rejected;	/* for the exhaustion error */
	json_t *deciding;
	double metric;
	struct rm_node *node;
};

static json_t *
explain_cand(struct rm_sched *s, const struct rm_node *n, size_t i, int rank)
{
	struct rm_err err;
	const struct rm_match_cand *c = &s->cands[i];
	json_t *o = rm_match_explain_one(n, c->set, c->exec, &s->mopts, 1, &err);

	if (o == NULL)
		return json_null();
	if (c->bucket == RM_B_AVAILABLE) {
		if (s->metric[i] != HUGE_VAL)
			json_object_set_new(o, "policy_value", json_real(s->metric[i]));
		else
			json_object_set_new(o, "policy_value", json_null());
		if (rank > 0)
			json_object_set_new(o, "rank", json_integer(rank));
	}
	return o;
}

/* What matching a tier found, by either path. */
struct gather {
	size_t n;		/* executors of the group */
	size_t nav, hostcount, bcount[4];
	size_t *elim;		/* per clause: executors not available that fail it */
	size_t navlist;		/* in s->avail: every available one, or those that can rank first */
	size_t *rej, nrej;	/* rejected executors to explain, in executor order */
};

/* The reference: every executor, every clause (rm_match_eval). */
static int
gather_ref(struct rm_sched *s, const struct rm_exgroup *g, const struct rm_node *node,
    int remote_only, const char *host, double secs, struct gather *ga, struct rm_err *err)
{
	size_t i, j, n = 0, nav = 0;
	int rc;

	if ((rc = rm_match_eval(node, g, &s->mopts, s->cands, &n, err)) != 0)
		return rc;
	ga->n = n;
	for (i = 0; i < n; i++) {
		struct rm_match_cand *c = &s->cands[i];
		if (remote_only && c->bucket == RM_B_AVAILABLE) {
			const char *ep = cand_endpoint(c);
			if (ep != NULL && strcmp(ep, "local") == 0)
				c->bucket = RM_B_POLICY;
		}
		if (host != NULL && !host_matches(c, host))
			continue;
		ga->hostcount++;
		ga->bcount[c->bucket]++;
		if (c->bucket == RM_B_AVAILABLE) {
			s->avail[nav++] = i;
			s->metric[i] = policy_metric(s, c, secs);
		} else
			for (j = 0; j < node->n; j++)
				ga->elim[j] += (c->fail >> j) & 1;
	}
	ga->nav = ga->navlist = nav;
	/* rejected ones: all with --decisions full, else the first few by id */
	for (i = 0; i < n; i++) {
		const struct rm_match_cand *c = &s->cands[i];
		if (c->bucket == RM_B_AVAILABLE || (host != NULL && !host_matches(c, host)))
			continue;
		if (!s->o.full && ga->nrej >= REJECTED_KEPT && nav > 0)
			break;
		if (!s->o.full && ga->nrej >= 50)
			break;
		ga->rej[ga->nrej++] = i;
	}
	return 0;
}

/*
 * The candidates that can rank among the first k: positions of want in the
 * index's order (the policy's), then, under the cost policy, whatever ties
 * the k-th (costs scale with the duration, which may merge close prices).
 */
static void
collect_top(struct rm_sched *s, const struct rm_match_bits *b, const struct rm_node *node,
    const uint64_t *want, size_t k, double secs, struct gather *ga)
{
	uint32_t n = rm_xidx_n(s->xi), p;
	size_t got = 0;
	double last = 0;

	for (p = rm_bs_next(want, 0, n); p < n; p = rm_bs_next(want, p + 1, n)) {
		uint32_t e = rm_xidx_exec(s->xi, p);
		struct rm_match_cand *c = &s->cands[e];
		double m;
		rm_match_cand_of(node, b, s->xi, e, s->o.now, c);
		m = policy_metric(s, c, secs);
		if (got >= k && (s->o.policy != RM_POLICY_COST || m != last))
			break;
		s->metric[e] = m;
		s->avail[ga->navlist++] = e;
		last = m;
		got++;
	}
}

/* The fast path: the index's bitsets, the few executors that matter. */
static int
gather_fast(struct rm_sched *s, const struct rm_node *node, int remote_only, double secs,
    struct gather *ga, struct rm_err *err)
{
	struct rm_match_bits b;
	size_t nw, w, j, k, i;
	uint64_t *want;
	uint32_t e, n = rm_xidx_n(s->xi);
	int rc;

	if ((rc = rm_match_bits(node, s->xi, &s->mopts, &b, err)) != 0)
		return rc;
	nw = b.nw;
	for (i = 0; remote_only && i < s->nlocal; i++) {
		uint32_t p = rm_xidx_pos(s->xi, s->local[i]);
		if (rm_bs_get(b.bucket[RM_B_AVAILABLE], p)) {
			b.bucket[RM_B_AVAILABLE][p >> 6] &= ~(1ULL << (p & 63));
			rm_bs_set(b.bucket[RM_B_POLICY], p);
		}
	}
	ga->n = ga->hostcount = n;
	for (i = 0; i < 4; i++)
		ga->bcount[i] = rm_bs_count(b.bucket[i], nw);
	ga->nav = ga->bcount[RM_B_AVAILABLE];
	for (j = 0; j < node->n; j++)
		for (w = 0; w < nw; w++)
			ga->elim[j] += rm_popcount64(b.fail[j][w] &
			    ~b.bucket[RM_B_AVAILABLE][w]);
	k = s->o.topk < ga->nav ? s->o.topk : ga->nav;
	want = malloc((nw + 1) * sizeof(*want));
	if (want == NULL) {
		rm_match_bits_release(&b);
		return rm_err_set(err, RM_EXIT_INTERNAL, NULL, NULL, "out of memory");
	}
	/* executors missing preferred clauses rank after the others */
	for (w = 0; w < nw; w++)
		want[w] = b.bucket[RM_B_AVAILABLE][w] & ~b.degraded[w];
	collect_top(s, &b, node, want, k, secs, ga);
	if (ga->navlist < k) {
		size_t before = ga->navlist;
		for (w = 0; w < nw; w++)
			want[w] = b.bucket[RM_B_AVAILABLE][w] & b.degraded[w];
		collect_top(s, &b, node, want, k - before, secs, ga);
	}
	free(want);
	for (e = 0; e < n; e++) {
		if (rm_bs_get(b.bucket[RM_B_AVAILABLE], rm_xidx_pos(s->xi, e)))
			continue;
		if (ga->nrej >= (ga->nav > 0 ? REJECTED_KEPT : 50))
			break;
		rm_match_cand_of(node, &b, s->xi, e, s->o.now, &s->cands[e]);
		ga->rej[ga->nrej++] = e;
	}
	rm_match_bits_release(&b);
	return 0;
}

/* Can the index answer this tier exactly as the reference would? */
static int
fast_ok(const struct rm_sched *s, const struct rm_exgroup *g, const char *host, double secs)
{
	if (s->xi == NULL || g != s->g || host != NULL || s->o.full || s->every)
		return 0;
	return !(s->o.policy == RM_POLICY_COST && !(secs > 0));
}

/* The summary, tiers_tried entry and decision record of a tier. */
static void
tier_records(struct rm_sched *s, const struct gather *ga, size_t tier, const json_t *req,
    int remote_only, const char *host, int record, struct tier_result *r)
{
	json_t *buckets, *clauses;
	size_t j;
	char summary[1024], head[1400];

	/* a placed node of a slim plan keeps no tiers_tried */
	if (s->slim && !record && ga->nav > 0)
		return;
	buckets = json_pack("{s:I,s:I,s:I,s:I}", "available", (json_int_t)ga->bcount[0], "busy",
	    (json_int_t)ga->bcount[1], "policy", (json_int_t)ga->bcount[2], "incompatible",
	    (json_int_t)ga->bcount[3]);
	clauses = json_array();
	summary[0] = '\0';
	for (j = 0; j < r->node->n; j++) {
		const struct rm_clause *c = &r->node->c[j];
		char nb[200];
		size_t len = strlen(summary);
		json_array_append_new(clauses, json_pack("{s:s,s:O,s:b,s:I}", "path", c->path,
		    "need", c->need ? c->need : json_null(), "preferred", c->soft, "eliminated",
		    (json_int_t)ga->elim[j]));
		if (ga->elim[j] > 0 && !c->soft) {
			rm_json_brief(c->need, nb, sizeof(nb));
			snprintf(summary + len, sizeof(summary) - len, "%s%zu fail %s (need %s)",
			    len ? "; " : "", ga->elim[j], c->path, nb);
		}
	}
	snprintf(head, sizeof(head), "%zu/%zu executors%s%s", ga->nav, ga->hostcount,
	    summary[0] ? ": " : "", summary);
	if (ga->bcount[1] || ga->bcount[2]) {
		size_t len = strlen(head);
		snprintf(head + len, sizeof(head) - len, " (%zu busy, %zu rejected by policy)",
		    ga->bcount[1], ga->bcount[2]);
	}
	if (host != NULL && ga->hostcount == 0)
		snprintf(head, sizeof(head), "host %s: no executor with this id or endpoint "
		    "(%zu executors known)", host, ga->n);
	r->tried = json_pack("{s:I,s:O,s:I,s:I,s:s}", "tier", (json_int_t)tier,
	    "requirements", req, "considered", (json_int_t)ga->hostcount, "compatible",
	    (json_int_t)ga->nav, "summary", head);
	if (remote_only)
		json_object_set_new(r->tried, "remote_only", json_true());
	if (host != NULL)
		json_object_set_new(r->tried, "host", json_string(host));
	if (!record) {
		/* nobody reads it: the plan keeps the basis to make it again */
		json_decref(buckets);
		json_decref(clauses);
		return;
	}
	r->decision = json_pack("{s:I,s:O,s:I,s:o,s:o}", "tier", (json_int_t)tier, "requirements",
	    req, "considered", (json_int_t)ga->hostcount, "buckets", buckets, "clauses", clauses);
	if (host != NULL)
		json_object_set_new(r->decision, "host", json_string(host));
}

/*
 * The executors of a tier: the ranked ones (alternatives), and when record
 * is set or the tier placed nothing, their explanations and the rejected
 * ones'.
 */
static void
tier_executors(struct rm_sched *s, const struct gather *ga, const size_t *top, size_t ntop,
    int remote_only, int record, struct tier_result *r)
{
	json_t *execs = json_array();
	size_t i;

	r->alternatives = json_array();
	for (i = 0; i < ntop; i++) {
		const struct rm_match_cand *c = &s->cands[top[i]];
		json_t *a;
		if (record)
			json_array_append_new(execs, explain_cand(s, r->node, top[i], (int)i + 1));
		if (i == 0)
			continue;
		if (cand_id(c) == NULL || !isfinite(c->score))
			continue;	/* as json_pack refused a NULL string, a real not finite */
		/* built directly: json_pack parses its format at every call */
		a = json_object();
		json_object_set_new(a, "id", json_string(cand_id(c)));
		json_object_set_new(a, "score", json_real(c->score));
		json_object_set_new(a, "degraded", json_boolean(c->degraded));
		if (cand_endpoint(c))
			json_object_set_new(a, "endpoint", json_string(cand_endpoint(c)));
		if (s->metric[top[i]] != HUGE_VAL && s->o.policy != RM_POLICY_GREEDY)
			json_object_set_new(a, "policy_value", json_real(s->metric[top[i]]));
		json_array_append_new(r->alternatives, a);
	}
	r->rejected = json_array();
	for (i = 0; i < ga->nrej && (record || ga->nav == 0); i++) {
		const struct rm_match_cand *c = &s->cands[ga->rej[i]];
		json_t *o = explain_cand(s, r->node, ga->rej[i], 0);
		if (remote_only && c->bucket == RM_B_POLICY && cand_endpoint(c) &&
		    strcmp(cand_endpoint(c), "local") == 0) {
			json_object_set_new(o, "bucket", json_string("policy"));
			json_array_append_new(json_object_get(o, "reasons"), json_pack("{s:s,s:s,s:s}",
			    "path", "remote", "code", "local_excluded", "message",
			    "this tier asks for a remote executor"));
		}
		if (record)
			json_array_append(execs, o);
		json_array_append_new(r->rejected, o);
	}
	if (r->decision == NULL) {
		json_decref(execs);
		return;
	}
	json_object_set_new(r->decision, "executors", execs);
	json_object_set_new(r->decision, "omitted", json_integer((json_int_t)(ga->hostcount -
	    ntop - ga->nrej)));
}

static int
run_tier(struct rm_sched *s, const struct rm_exgroup *g, const json_t *nodedoc, size_t tier,
    const json_t *tierdoc, const char *host, double secs, const char *where, int record,
    struct tier_result *r, struct rm_err *err)
{
	const char *id = json_string_value(json_object_get(nodedoc, "id"));
	int remote_only;
	json_t *req = tier_requirements(tierdoc, &remote_only), *compdoc;
	size_t k, *top = NULL, ntop;
	struct gather ga;
	int rc;

	memset(r, 0, sizeof(*r));
	memset(&ga, 0, sizeof(ga));
	s->nrun++;
	compdoc = json_pack("{s:s,s:O}", "id", id ? id : "node", "capabilities", req);
	rc = rm_node_compile(s->t, compdoc, where, &r->node, err);
	json_decref(compdoc);
	if (rc != 0) {
		json_decref(req);
		return rc;
	}
	ga.elim = calloc(r->node->n + 1, sizeof(*ga.elim));
	ga.rej = malloc((s->total + 2) * sizeof(*ga.rej));
	if (ga.elim == NULL || ga.rej == NULL)
		rc = rm_err_set(err, RM_EXIT_INTERNAL, NULL, NULL, "out of memory");
	else if (fast_ok(s, g, host, secs))
		rc = gather_fast(s, r->node, remote_only, secs, &ga, err);
	else
		rc = gather_ref(s, g, r->node, remote_only, host, secs, &ga, err);
	if (rc != 0) {
		free(ga.elim);
		free(ga.rej);
		json_decref(req);
		return rc;
	}
	r->nav = ga.nav;
	k = s->o.full ? ga.nav : (s->o.topk < ga.nav ? s->o.topk : ga.nav);
	top = malloc((k + 1) * sizeof(*top));
	ntop = top_k(s, s->avail, ga.navlist, k, top);
	record = record || s->o.full;
	tier_records(s, &ga, tier, req, remote_only, host, record, r);
	tier_executors(s, &ga, top, ntop, remote_only, record, r);
	r->deciding = s->slim && !record ? NULL : deciding(r->node);
	if (ga.nav > 0) {
		r->chosen = top[0];
		r->metric = s->metric[top[0]];
	}
	free(top);
	free(ga.elim);
	free(ga.rej);
	json_decref(req);
	return 0;
}

static void
tier_release(struct tier_result *r)
{
	json_decref(r->tried);
	json_decref(r->decision);
	json_decref(r->alternatives);
	json_decref(r->rejected);
	json_decref(r->deciding);
	rm_node_free(r->node);
	memset(r, 0, sizeof(*r));
}

/*
 * Under the cost policy the ranking depends on a node's duration only when
 * hourly prices meet per-invocation cost_tokens; otherwise every cost
 * scales with the duration alike, so one answer serves every duration and
 * its figures are rescaled (see rescale_costs).
 */
static int
cost_needs_secs(const struct rm_sched *s, double secs)
{
	return s->o.policy == RM_POLICY_COST && (s->has_tokens || !(secs > 0));
}

/* Costs computed for m->secs, for a node that runs secs. */
static void
rescale_costs(struct tier_result *r, const struct memo *m, double secs)
{
	double f = secs / m->secs;
	json_t *alts, *a;
	size_t i;

	if (r->metric != HUGE_VAL)
		r->metric *= f;
	alts = json_deep_copy(r->alternatives);
	json_array_foreach(alts, i, a) {
		json_t *v = json_object_get(a, "policy_value");
		if (json_is_number(v))
			json_object_set_new(a, "policy_value", json_real(json_number_value(v) * f));
	}
	json_decref(r->alternatives);
	r->alternatives = alts;
}

static char *
memo_key(const struct rm_sched *s, size_t tier, const json_t *tierdoc, const char *host,
    double secs, int record)
{
	char *doc = rm_jsonw_dumps(tierdoc, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY, NULL),
	    *key;
	size_t n;

	if (doc == NULL)
		return NULL;
	n = strlen(doc) + (host ? strlen(host) : 0) + 96;
	key = malloc(n);
	if (key != NULL) {
		/* the head printed, the document (most of the key) copied */
		int h = snprintf(key, n, "%zu|%d|%s|%.17g|", tier, record, host ? host : "",
		    cost_needs_secs(s, secs) ? secs : 0.0);
		memcpy(key + h, doc, strlen(doc) + 1);
	}
	free(doc);
	return key;
}

/* The memo entry of this key, or NULL. */
static struct memo *
memo_find(const struct rm_sched *s, uint64_t h, const char *key)
{
	size_t i, mask = s->nslot - 1;

	for (i = s->nslot ? (size_t)h & mask : 0; s->nslot && s->slot[i] != 0; i = (i + 1) & mask) {
		struct memo *m = &s->memo[s->slot[i] - 1];
		if (m->hash == h && strcmp(m->key, key) == 0)
			return m;
	}
	return NULL;
}

static void
memo_slot_add(struct rm_sched *s, uint64_t h, size_t idx1)
{
	size_t i, mask = s->nslot - 1;

	for (i = (size_t)h & mask; s->slot[i] != 0; i = (i + 1) & mask)
		;
	s->slot[i] = (uint32_t)idx1;
}

/* Doubles the memo and rebuilds its hash slots; -1 out of memory. */
static int
memo_grow(struct rm_sched *s)
{
	size_t ncap = s->capmemo ? s->capmemo * 2 : 16, i;
	struct memo *nm = realloc(s->memo, ncap * sizeof(*nm));
	uint32_t *slot;

	if (nm == NULL)
		return -1;
	s->memo = nm;
	if ((slot = calloc(2 * ncap, sizeof(*slot))) == NULL)
		return -1;
	s->capmemo = ncap;
	free(s->slot);
	s->slot = slot;
	s->nslot = 2 * ncap;
	for (i = 0; i < s->nmemo; i++)
		memo_slot_add(s, s->memo[i].hash, i + 1);
	return 0;
}

/* run_tier, answered from the memo when the same shape was seen before. */
static int
run_tier_memo(struct rm_sched *s, const struct rm_exgroup *g, const json_t *nodedoc,
    size_t tier, const json_t *tierdoc, const char *host, double secs, const char *where,
    int record, struct tier_result *r, struct rm_err *err)
{
	char *key = NULL;
	uint64_t h;
	struct memo *m;
	int rc;

	if (!s->o.full && tier == 0 && s->key0 != NULL) {
		key = s->key0;	/* many_shapes made it */
		s->key0 = NULL;
	} else if (!s->o.full)
		key = memo_key(s, tier, tierdoc, host, secs, record);
	h = key ? rm_hash64(key, strlen(key), 0) : 0;

	if (key != NULL && (m = memo_find(s, h, key)) != NULL) {
		memset(r, 0, sizeof(*r));
		r->nav = m->nav;
		r->chosen = m->chosen;
		r->metric = m->metric;
		r->tried = json_incref(m->tried);
		r->decision = json_incref(m->decision);
		r->alternatives = json_incref(m->alternatives);
		r->rejected = json_incref(m->rejected);
		r->deciding = json_incref(m->deciding);
		if (m->nav > 0)
			s->cands[m->chosen] = m->cand;
		if (s->o.policy == RM_POLICY_COST && secs != m->secs && m->secs > 0)
			rescale_costs(r, m, secs);
		free(key);
		return 0;
	}
	rc = run_tier(s, g, nodedoc, tier, tierdoc, host, secs, where, record, r, err);
	if (rc != 0 || key == NULL || (s->nmemo == s->capmemo && s->capmemo >= 4096)) {
		free(key);
		return rc;
	}
	if (s->nmemo == s->capmemo && memo_grow(s) != 0) {
		free(key);
		return rc;
	}
	m = &s->memo[s->nmemo++];
	memo_slot_add(s, h, s->nmemo);
	m->key = key;
	m->hash = h;
	m->nav = r->nav;
	m->chosen = r->chosen;
	m->metric = r->metric;
	m->secs = secs;
	if (s->o.policy == RM_POLICY_COST && r->decision != NULL)
		/* the record is shared by every node of this shape */
		json_object_set_new(r->decision, "policy_values_for_seconds", json_real(secs));
	m->tried = json_incref(r->tried);
	m->decision = json_incref(r->decision);
	m->alternatives = json_incref(r->alternatives);
	m->rejected = json_incref(r->rejected);
	m->deciding = json_incref(r->deciding);
	if (r->nav > 0)
		m->cand = s->cands[r->chosen];
	return rc;
}

/* Takes adv as this machine's advert (local-first nodes). */
static int
use_local(struct rm_sched *s, json_t *adv, struct rm_err *err)
{
	json_t *arr = json_pack("[O]", adv);
	int rc = rm_exset_build(s->t, arr, NULL, NULL, &s->localset, err);

	json_decref(arr);
	if (rc != 0)
		return rc;
	s->localgroup.sets = malloc(sizeof(*s->localgroup.sets));
	s->localgroup.sets[0] = s->localset;
	s->localgroup.n = 1;
	if (s->localset->nexec + 1 > s->total + 1) {
		/* the buffers must hold this set too */
		s->cands = realloc(s->cands, (s->localset->nexec + 1) * sizeof(*s->cands));
		s->avail = realloc(s->avail, (s->localset->nexec + 1) * sizeof(*s->avail));
		s->metric = realloc(s->metric, (s->localset->nexec + 1) * sizeof(*s->metric));
		s->total = s->localset->nexec;
	}
	return 0;
}

/* This machine as a one-executor group, for local-first nodes. */
static const struct rm_exgroup *
local_group(struct rm_sched *s)
{
	size_t i;
	uint32_t e, local;

	for (i = 0; i < s->g->n; i++) {
		local = rm_exset_str(s->g->sets[i], "local");
		if (local == RM_NOSTR)
			continue;
		for (e = 0; e < s->g->sets[i]->nexec; e++)
			if (s->g->sets[i]->info[e].endpoint == local)
				return s->g;
	}
	if (s->o.no_local)
		return NULL;
	if (!s->local_tried) {
		struct rm_err err;
		json_t *adv;
		s->local_tried = 1;
		rm_err_clear(&err);
		adv = rm_probe_local_advert(&err);
		if (adv == NULL) {
			rm_warn("cannot probe this machine: %s", err.msg);
			return NULL;
		}
		use_local(s, adv, &err);
		json_decref(adv);
	}
	return s->localset ? &s->localgroup : NULL;
}

/* Local-first: the local executor from g when it qualifies, else -1. */
static long
pick_local(struct rm_sched *s, const struct rm_exgroup *g, const json_t *nodedoc,
    struct tier_result *r, const char *where, struct rm_err *err)
{
	size_t i;
	int rc;

	/* the reference path: every available executor, to find the local one */
	s->every = 1;
	rc = run_tier(s, g, nodedoc, 0, json_object_get(nodedoc, "capabilities"), NULL, 0, where,
	    1, r, err);
	s->every = 0;
	if (rc != 0)
		return -2;
	for (i = 0; i < r->nav; i++) {
		const char *ep = cand_endpoint(&s->cands[s->avail[i]]);
		if (ep != NULL && strcmp(ep, "local") == 0)
			return (long)s->avail[i];
	}
	return -1;
}

static double
node_seconds(const json_t *node, int *assumed)
{
	json_t *v = json_object_get(node, "estimated_seconds");

	*assumed = !json_is_number(v);
	return json_is_number(v) ? json_number_value(v) : RM_SCHED_DEFAULT_SECONDS;
}

/*
 * A placed node of a plan with the basis keeps what a placement needs:
 * tiers_tried and decided_by are explanation (rm-schedule explain makes
 * them again), the alternatives only their executor ids.
 */
static void
slim_entry(json_t *entry)
{
	json_t *ids, *a;
	size_t i;

	if (!json_is_string(json_object_get(entry, "executor")))
		return;
	json_object_del(entry, "tiers_tried");
	json_object_del(entry, "decided_by");
	ids = json_array();
	json_array_foreach(json_object_get(entry, "alternatives"), i, a)
		json_array_append(ids, json_is_string(a) ? a : json_object_get(a, "id"));
	json_object_set_new(entry, "alternatives", ids);
}

static json_t *
placed_entry(struct rm_sched *s, const json_t *node, const struct rm_match_cand *c, size_t tier,
    double secs, int assumed, const char *reason, json_t *alternatives, json_t *tried,
    json_t *dec)
{
	json_t *o, *w = json_array();
	double cost = cand_cost(c, secs);
	const char *id = json_string_value(json_object_get(node, "id"));

	/* what json_pack refused: a NULL string or object, a real not finite */
	if (id == NULL || cand_id(c) == NULL || reason == NULL || alternatives == NULL ||
	    tried == NULL || !isfinite(c->score) || !isfinite(cost) || !isfinite(secs)) {
		json_decref(w);
		return NULL;
	}
	o = json_object();
	json_object_set_new(o, "id", json_string(id));
	json_object_set_new(o, "status", json_string("placed"));
	json_object_set_new(o, "executor", json_string(cand_id(c)));
	json_object_set_new(o, "score", json_real(c->score));
	json_object_set_new(o, "degraded", json_boolean(c->degraded));
	json_object_set_new(o, "reason", json_string(reason));
	json_object_set(o, "alternatives", alternatives);
	json_object_set(o, "tiers_tried", tried);
	json_object_set_new(o, "tier", json_integer((json_int_t)tier));
	json_object_set_new(o, "estimated_cost", json_real(cost));
	json_object_set_new(o, "estimated_seconds", json_real(secs));
	json_object_set_new(o, "seconds_assumed", json_boolean(assumed));
	if (json_is_string(json_object_get(node, "type")))
		json_object_set(o, "type", json_object_get(node, "type"));
	if (cand_endpoint(c))
		json_object_set_new(o, "endpoint", json_string(cand_endpoint(c)));
	if (c->price >= 0 || c->tokens >= 0) {
		json_t *pr = json_object();
		json_object_set_new(pr, c->price >= 0 ? "per_hour" : "cost_tokens",
		    json_real(c->price >= 0 ? c->price : c->tokens));
		json_object_set_new(o, "pricing", pr);
	} else
		json_object_set_new(o, "pricing", json_null());
	/* warnings come from the chosen executor's explanation */
	{
		json_t *execs = json_object_get(dec, "executors"), *e;
		size_t i;
		json_array_foreach(execs, i, e)
			if (json_is_object(e) && strcmp(json_string_value(json_object_get(e, "id")),
			    cand_id(c)) == 0) {
				json_decref(w);
				w = json_deep_copy(json_object_get(e, "warnings"));
				break;
			}
	}
	json_object_set_new(o, "warnings", w ? w : json_array());
	if (s->slim)
		slim_entry(o);
	return o;
}

/*
 * A decision's head and choice, built directly (json_pack parses its
 * format at every call); NULL where json_pack refused a NULL string.
 */
static json_t *
decision_json(const char *id, enum rm_policy p)
{
	json_t *o, *n = id ? json_string(id) : NULL;

	if (n == NULL)
		return NULL;
	o = json_object();
	json_object_set_new(o, "node", n);
	json_object_set_new(o, "policy", json_string(rm_policy_name(p)));
	json_object_set_new(o, "rule", json_string(rm_policy_rule(p)));
	return o;
}

static json_t *
choice_json(const char *executor, size_t tier, const char *reason)
{
	json_t *o, *e = executor ? json_string(executor) : NULL, *r = json_string(reason);

	if (e == NULL || r == NULL) {
		/* json_pack refused a NULL string or one not UTF-8 */
		json_decref(e);
		json_decref(r);
		return NULL;
	}
	o = json_object();
	json_object_set_new(o, "executor", e);
	json_object_set_new(o, "tier", json_integer((json_int_t)tier));
	json_object_set_new(o, "reason", r);
	return o;
}

json_t *
rm_sched_place(struct rm_sched *s, const json_t *node, const char *where, json_t **decision,
    struct rm_err *err)
{
	const char *id = json_string_value(json_object_get(node, "id"));
	const char *host = json_string_value(json_object_get(node, "host"));
	json_t *fallback = json_object_get(node, "fallback"), *caps = json_object_get(node,
	    "capabilities");
	json_t *tried = json_array(), *dtiers = json_array(), *dec, *entry = NULL;
	size_t ntiers = 1 + json_array_size(fallback), tier;
	int assumed;
	double secs = node_seconds(node, &assumed);
	char reason[1600], wbuf[600];
	struct tier_result r;

	if (decision)
		*decision = NULL;
	dec = decision_json(id, s->o.policy);
	json_object_set(dec, "requirements", caps ? caps : json_object());
	json_object_set_new(dec, "estimated_seconds", json_real(secs));
	if (json_array_size(fallback))
		json_object_set(dec, "fallback", fallback);
	/* local first: no requirements, no host, no fallback */
	if (host == NULL && empty_requirements(caps) && json_array_size(fallback) == 0) {
		const struct rm_exgroup *lg = local_group(s);
		if (lg != NULL) {
			long li = pick_local(s, lg, node, &r, where, err);
			if (li == -2)
				goto fail;
			if (li >= 0) {
				const struct rm_match_cand *c = &s->cands[li];
				json_t *alts = json_array();
				snprintf(reason, sizeof(reason), "no requirements and no host: runs on this "
				    "machine (%s, the local executor), no network call", cand_id(c));
				json_array_append(tried, r.tried);
				json_array_append(dtiers, r.decision);
				json_object_set_new(dec, "tiers", dtiers);
				json_object_set_new(dec, "local_first", json_true());
				json_object_set_new(dec, "choice", choice_json(cand_id(c), 0, reason));
				entry = placed_entry(s, node, c, 0, secs, assumed, reason, alts, tried, dec);
				json_object_set_new(entry, "local", json_true());
				if (!s->slim)
					json_object_set(entry, "decided_by", r.deciding);
				json_decref(alts);
				tier_release(&r);
				json_decref(tried);
				if (decision)
					*decision = dec;
				else
					json_decref(dec);
				return entry;
			}
			tier_release(&r);
		}
	}
	for (tier = 0; tier < ntiers; tier++) {
		const json_t *tdoc = tier == 0 ? caps : json_array_get(fallback, tier - 1);
		if (run_tier_memo(s, s->g, node, tier, tdoc ? tdoc : json_object(), host, secs, where,
		    decision != NULL, &r, err) != 0) {
			if (tier > 0) {
				/* the compiler names capabilities.X: this tier is fallback[k].X */
				char f[256];
				const char *rest = strncmp(err->field, "capabilities", 12) == 0 ?
				    err->field + 12 : err->field;
				snprintf(f, sizeof(f), "fallback[%zu]%s%s", tier - 1,
				    rest[0] && rest[0] != '.' ? "." : "", rest);
				snprintf(err->field, sizeof(err->field), "%s", f);
			}
			goto fail;
		}
		if (r.tried != NULL)
			json_array_append(tried, r.tried);
		if (r.decision != NULL)
			json_array_append(dtiers, r.decision);
		if (r.nav > 0) {
			const struct rm_match_cand *c = &s->cands[r.chosen];
			size_t len;
			switch (s->o.policy) {
			case RM_POLICY_GREEDY:
				snprintf(reason, sizeof(reason), "greedy: first compatible executor in "
				    "executor-id order (%zu compatible)", r.nav);
				break;
			case RM_POLICY_BALANCED:
				snprintf(reason, sizeof(reason), "balanced: lowest load_score %g of %zu "
				    "compatible", c->load, r.nav);
				break;
			case RM_POLICY_COST:
				snprintf(reason, sizeof(reason), "cost: cheapest of %zu compatible, %g for "
				    "%g s%s", r.nav, r.metric, secs, assumed ? " (assumed duration)" : "");
				break;
			case RM_POLICY_LATENCY:
				if (r.metric == HUGE_VAL)
					snprintf(reason, sizeof(reason), "latency: no compatible executor has a "
					    "latency figure; first by id of %zu compatible", r.nav);
				else
					snprintf(reason, sizeof(reason), "latency: lowest %s %g ms of %zu "
					    "compatible", s->o.measure ? "measured connect time" :
					    "network.latency_ms", r.metric, r.nav);
				break;
			}
			len = strlen(reason);
			if (host != NULL)
				snprintf(reason + len, sizeof(reason) - len, "; pinned to host %s", host);
			len = strlen(reason);
			if (tier > 0)
				snprintf(reason + len, sizeof(reason) - len, "; fallback tier %zu, after "
				    "%zu earlier tier%s found no compatible executor", tier, tier,
				    tier == 1 ? "" : "s");
			len = strlen(reason);
			if (c->degraded)
				snprintf(reason + len, sizeof(reason) - len, "; degraded: preferred "
				    "capabilities missing");
			json_object_set_new(dec, "tiers", dtiers);
			dtiers = NULL;
			json_object_set_new(dec, "choice", choice_json(cand_id(c), tier, reason));
			entry = placed_entry(s, node, c, tier, secs, assumed, reason, r.alternatives,
			    tried, dec);
			if (!s->slim)
				json_object_set(entry, "decided_by", r.deciding);
			if (c->degraded) {
				json_t *w = json_object_get(entry, "warnings");
				if (json_array_size(w) == 0) {
					snprintf(wbuf, sizeof(wbuf), "degraded performance: preferred "
					    "capabilities missing on %s", cand_id(c));
					json_array_append_new(w, json_string(wbuf));
				}
			}
			if (tier > 0) {
				snprintf(wbuf, sizeof(wbuf), "fell back to tier %zu: no executor met tier 0 "
				    "requirements", tier);
				json_array_append_new(json_object_get(entry, "warnings"), json_string(wbuf));
			}
			tier_release(&r);
			break;
		}
		/* keep the rejected executors with their reasons in the tier record */
		json_object_set(json_array_get(tried, json_array_size(tried) - 1), "rejected",
		    r.rejected);
		tier_release(&r);
	}
	if (entry == NULL) {
		size_t len;
		snprintf(reason, sizeof(reason), "no compatible executor in %zu tier%s", ntiers,
		    ntiers == 1 ? "" : "s");
		for (tier = 0; tier < json_array_size(tried); tier++) {
			len = strlen(reason);
			snprintf(reason + len, sizeof(reason) - len, "; tier %zu: %s", tier,
			    json_string_value(json_object_get(json_array_get(tried, tier), "summary")));
		}
		entry = json_pack("{s:s,s:s,s:n,s:s,s:[],s:O,s:f,s:f,s:b,s:[]}", "id", id, "status",
		    "unplaced", "executor", "reason", reason, "alternatives", "tiers_tried", tried,
		    "estimated_cost", 0.0, "estimated_seconds", secs, "seconds_assumed", assumed,
		    "warnings");
		if (json_is_string(json_object_get(node, "type")))
			json_object_set(entry, "type", json_object_get(node, "type"));
		json_object_set_new(dec, "tiers", dtiers);
		dtiers = NULL;
		json_object_set_new(dec, "choice", json_pack("{s:n,s:s}", "executor", "reason", reason));
	}
	json_decref(dtiers);
	json_decref(tried);
	if (decision)
		*decision = dec;
	else
		json_decref(dec);
	return entry;
fail:
	json_decref(dtiers);
	json_decref(tried);
	json_decref(dec);
	return NULL;
}

/*
 * Nodes of the same shape share one tier record (the memo hands out the
 * same object): store each record once under "tier_records" and let the
 * nodes' decisions name it, which keeps a 10,000-node plan to a size
 * people and jq can handle.
 */
static void
share_tier_records(json_t *plan)
{
	json_t *records = json_object(), *d, *tiers, *t, *seen = json_object();
	size_t i, j, n = 0;
	char key[32], id[32];

	json_array_foreach(json_object_get(plan, "decisions"), i, d) {
		tiers = json_object_get(d, "tiers");
		json_array_foreach(tiers, j, t) {
			json_t *known;
			if (!json_is_object(t))
				continue;
			snprintf(key, sizeof(key), "%p", (void *)t);
			known = json_object_get(seen, key);
			if (known == NULL) {
				snprintf(id, sizeof(id), "t%zu", n++);
				json_object_set(records, id, t);
				json_object_set_new(seen, key, json_string(id));
				known = json_object_get(seen, key);
			}
			json_array_set_new(tiers, j, json_string(json_string_value(known)));
		}
	}
	json_object_set_new(plan, "tier_records", records);
	json_decref(seen);
}

/*
 * A node's clauses are compiled in the order its requirements were written,
 * and that order shows in explanations; the plan is written with sorted
 * keys, so where the order differs keep it: capabilities and fallback as
 * written, one string per node.
 */
/* Are the keys of every object in v in byte order (as the plan writes them)? */
static int
keys_sorted(const json_t *v)
{
	const char *key, *prev = NULL;
	json_t *x;
	size_t i;

	if (json_is_array(v)) {
		json_array_foreach(v, i, x)
			if (!keys_sorted(x))
				return 0;
		return 1;
	}
	if (!json_is_object(v))
		return 1;
	json_object_foreach((json_t *)v, key, x) {
		if ((prev != NULL && strcmp(prev, key) > 0) || !keys_sorted(x))
			return 0;
		prev = key;
	}
	return 1;
}

/*
 * The key order of v with its values left out where the plan's canonical
 * pipeline holds them exactly: every leaf becomes 0 but a real that %.15g
 * (the plan's precision) does not give back exactly, kept as it is. Nodes
 * of one shape then share one skeleton.
 */
static json_t *
order_skeleton(const json_t *v)
{
	const char *key;
	json_t *out, *x;
	size_t i;
	char b[40];

	if (json_is_object(v)) {
		out = json_object();
		json_object_foreach((json_t *)v, key, x)
			json_object_set_new(out, key, order_skeleton(x));
		return out;
	}
	if (json_is_array(v)) {
		out = json_array();
		json_array_foreach(v, i, x)
			json_array_append_new(out, order_skeleton(x));
		return out;
	}
	if (json_is_real(v)) {
		rm_jsonw_g(b, sizeof(b), 15, json_real_value(v));
		if (strtod(b, NULL) != json_real_value(v))
			return json_real(json_real_value(v));
	}
	return json_integer(0);
}

/*
 * Keeps the written order of a node whose requirements are not in byte
 * order: orders[id] is the index in shapes (an array of JSON strings) of
 * its skeleton; seen maps a skeleton to its index.
 */
static void
keep_order(json_t *orders, json_t *shapes, json_t *seen, const json_t *node)
{
	json_t *part, *skel, *idx;
	char *as;
	const char *id = json_string_value(json_object_get(node, "id")), *k;
	size_t i;

	if (id == NULL)
		return;
	part = json_object();
	for (i = 0; i < 2; i++) {
		k = i == 0 ? "capabilities" : "fallback";
		if (json_object_get(node, k))
			json_object_set(part, k, json_object_get(node, k));
	}
	/* most nodes are written in byte order: no skeleton made for them */
	if (keys_sorted(part)) {
		json_decref(part);
		return;
	}
	skel = json_object();
	for (i = 0; i < 2; i++) {
		k = i == 0 ? "capabilities" : "fallback";
		if (json_object_get(node, k))
			json_object_set_new(skel, k, order_skeleton(json_object_get(node, k)));
	}
	if ((as = rm_jsonw_dumps(skel, JSON_COMPACT, NULL)) != NULL) {
		if ((idx = json_object_get(seen, as)) == NULL) {
			idx = json_integer((json_int_t)json_array_size(shapes));
			json_object_set_new(seen, as, idx);
			json_array_append_new(shapes, json_string(as));
		}
		json_object_set(orders, id, idx);
		free(as);
	}
	json_decref(part);
	json_decref(skel);
}

/*
 * What rm-schedule explain needs to decide a node again, offline, as it was
 * decided: the adverts as they were (once), this machine's when local-first
 * nodes used it, the time, the approval list and the options that rank.
 * The nodes' requirements are in "canonical".
 */
static json_t *
explain_basis(struct rm_sched *s, struct rm_err *err)
{
	json_t *adverts = json_array(), *b;
	size_t i;
	uint32_t e;

	for (i = 0; i < s->g->n; i++)
		for (e = 0; e < s->g->sets[i]->nexec; e++) {
			json_t *a = rm_exset_advert(s->g->sets[i], e, err);
			if (a == NULL) {
				json_decref(adverts);
				return NULL;
			}
			json_array_append_new(adverts, a);
		}
	b = json_pack("{s:I,s:I,s:b,s:b,s:o}", "now", (json_int_t)s->o.now, "alternatives",
	    (json_int_t)s->o.topk, "no_local", s->o.no_local, "measure", s->o.measure,
	    "adverts", adverts);
	json_object_set(b, "approved", s->o.approved ? (json_t *)s->o.approved : json_null());
	if (s->localset != NULL)
		json_object_set_new(b, "local_advert", rm_exset_advert(s->localset, 0, err));
	return b;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * Will placing these nodes match more than limit tiers? Each distinct
 * first tier is matched at least once (the memo answers only what it saw),
 * so more distinct ones than limit say yes; nodes that may run locally
 * are not counted. 1 yes, 0 cannot tell. keys[i] gets node i's first
 * memo key (made for record 0) or NULL.
 */
static int
many_shapes(const struct rm_sched *s, const json_t *nodes, size_t limit, char **keys)
{
	uint64_t *h = malloc((json_array_size(nodes) + 1) * sizeof(*h));
	json_t *n, *none = json_object();
	size_t i, nh = 0, distinct = 0;
	int assumed;

	json_array_foreach(nodes, i, n) {
		const json_t *caps = json_object_get(n, "capabilities");
		const char *host = json_string_value(json_object_get(n, "host"));
		char *key;
		if (h == NULL || (host == NULL && empty_requirements(caps) &&
		    json_array_size(json_object_get(n, "fallback")) == 0))
			continue;
		key = memo_key(s, 0, caps ? caps : none, host, node_seconds(n, &assumed), 0);
		if (key == NULL)
			continue;
		h[nh++] = rm_hash64(key, strlen(key), 0);
		keys[i] = key;	/* run_tier_memo's key for this node's first tier */
	}
	json_decref(none);
	if (h == NULL)
		return 0;
	qsort(h, nh, sizeof(*h), cmp_u64);
	for (i = 0; i < nh; i++)
		distinct += i == 0 || h[i] != h[i - 1];
	free(h);
	return distinct > limit;
}

/* "sha256:HEX" of the pipeline as a file holds it. */
static int
pipeline_digest(const json_t *pipeline, char *digest, size_t size)
{
	char *dump = rm_json_dump_file(pipeline), hex[RM_SHA256_HEX];

	if (dump == NULL)
		return -1;
	rm_sha256_hex(dump, strlen(dump), hex);
	free(dump);
	snprintf(digest, size, "sha256:%s", hex);
	return 0;
}

static void
free_keys(char **keys, size_t n)
{
	size_t i;

	for (i = 0; keys != NULL && i < n; i++) {
		free(keys[i]);
		keys[i] = NULL;
	}
}

json_t *
rm_sched_plan(struct rm_sched *s, const json_t *pipeline, const char *file, struct rm_err *err)
{
	json_t *nodes = json_object_get(pipeline, "nodes"), *n, *pnodes = json_array(),
	    *decisions = json_array(), *plan, *orders = json_object(), *shapes = json_array(),
	    *seen = json_object();
	size_t i, nplaced = 0;
	int record = !s->o.full && !s->o.basis, clear_at_limit = 0;
	size_t limit = s->total / 8 + 64;
	char **keys = calloc(json_array_size(nodes) + 1, sizeof(*keys));
	double total = 0;
	char when[64], digest[80];

	if (pipeline_digest(pipeline, digest, sizeof(digest)) != 0) {
		rm_err_set(err, RM_EXIT_INTERNAL, file, NULL, "cannot serialise the pipeline");
		goto fail;
	}
	s->slim = s->o.basis && !s->o.full;
	if (keys == NULL) {
		rm_err_set(err, RM_EXIT_INTERNAL, NULL, NULL, "out of memory");
		goto fail;
	}
	if (!s->o.full && many_shapes(s, nodes, limit, keys) && record) {
		/*
		 * The log would be dropped below: keep none from the start.
		 * The memo is still cleared where it would have been, so
		 * that costs rescaled from it come out the same.
		 */
		record = 0;
		s->slim = 1;
		clear_at_limit = 1;
	}
	json_array_foreach(nodes, i, n) {
		json_t *dec = NULL, *entry;
		if (keys[i] != NULL)
			keys[i][2] = record ? '1' : '0';	/* "0|R|...": see memo_key */
		s->key0 = keys[i];
		keys[i] = NULL;
		entry = rm_sched_place(s, n, file, s->o.full || record ? &dec : NULL, err);
		free(s->key0);	/* not used: a local-first node */
		s->key0 = NULL;
		if (entry == NULL) {
			/* name the field from the pipeline's root */
			char f[256];
			snprintf(f, sizeof(f), "%s", err->field);
			snprintf(err->field, sizeof(err->field), "nodes[%zu]%s%s", i, f[0] ? "." : "", f);
			goto fail;
		}
		if (strcmp(json_string_value(json_object_get(entry, "status")), "placed") == 0) {
			nplaced++;
			total += json_number_value(json_object_get(entry, "estimated_cost"));
		}
		json_array_append_new(pnodes, entry);
		if (dec != NULL)
			json_array_append_new(decisions, dec);
		keep_order(orders, shapes, seen, n);
		/*
		 * Nodes of a few shapes share a few records, cheaper than the
		 * adverts; once the distinct decisions outnumber an eighth of
		 * the executors, keep what decides a node again instead.
		 */
		if (record && s->nrun > limit) {
			record = 0;
			json_array_clear(decisions);
			memo_clear(s);	/* its records are not wanted any more */
		} else if (clear_at_limit && s->nrun > limit) {
			clear_at_limit = 0;
			memo_clear(s);
		}
	}
	free(keys);
	rm_time_format(s->o.now, when, sizeof(when));
	plan = json_pack("{s:s,s:{s:O,s:s},s:s,s:s,s:s,s:o,s:f,s:o,s:O}", "schema", RM_PLAN_SCHEMA,
	    "pipeline", "name", json_object_get(pipeline, "name") ?
	    json_object_get(pipeline, "name") : json_null(), "digest", digest,
	    "policy", rm_policy_name(s->o.policy), "created_at", when, "status",
	    nplaced == json_array_size(nodes) ? "planned" : "unplaced", "nodes", pnodes,
	    "total_estimated_cost", total, "decisions", decisions, "canonical", pipeline);
	json_object_set_new(plan, "policy_rule", json_string(rm_policy_rule(s->o.policy)));
	json_object_set_new(plan, "mode", json_string(rm_mode_name(rm_mode())));
	json_object_set_new(plan, "budget", s->o.budget >= 0 ? json_real(s->o.budget) : json_null());
	json_object_set_new(plan, "edges", json_deep_copy(json_object_get(pipeline, "edges")));
	if (s->o.full || record)
		share_tier_records(plan);
	else {
		json_t *basis = explain_basis(s, err);
		if (basis == NULL) {
			json_decref(orders);
			json_decref(shapes);
			json_decref(seen);
			json_decref(plan);
			return NULL;
		}
		json_object_set(basis, "key_order", orders);
		json_object_set(basis, "key_shapes", shapes);
		json_object_del(plan, "decisions");
		json_object_set_new(plan, "explain", basis);
		json_array_foreach(pnodes, i, n)
			slim_entry(n);
	}
	if (s->o.measure)
		json_object_set(plan, "measured_latency_ms", s->measured);
	json_decref(orders);
	json_decref(shapes);
	json_decref(seen);
	return plan;
fail:
	free_keys(keys, json_array_size(nodes));
	free(keys);
	json_decref(orders);
	json_decref(shapes);
	json_decref(seen);
	json_decref(pnodes);
	json_decref(decisions);
	return NULL;
}

int
rm_sched_over_budget(const json_t *plan, double budget, json_t **breakdown)
{
	double total = json_number_value(json_object_get(plan, "total_estimated_cost"));
	json_t *nodes = json_array(), *n;
	size_t i;

	*breakdown = NULL;
	if (budget < 0 || total <= budget) {
		json_decref(nodes);
		return 0;
	}
	json_array_foreach(json_object_get(plan, "nodes"), i, n)
		json_array_append_new(nodes, json_pack("{s:O,s:O,s:O,s:O}", "id",
		    json_object_get(n, "id"), "executor", json_object_get(n, "executor"),
		    "estimated_cost", json_object_get(n, "estimated_cost"), "estimated_seconds",
		    json_object_get(n, "estimated_seconds")));
	*breakdown = json_pack("{s:f,s:f,s:f,s:o}", "budget", budget, "total", total, "over",
	    total - budget, "nodes", nodes);
	return 1;
}

const json_t *
rm_sched_tier_record(const json_t *plan, const json_t *t)
{
	if (json_is_string(t))
		return json_object_get(json_object_get(plan, "tier_records"), json_string_value(t));
	return t;
}

const json_t *
rm_sched_decision(const json_t *plan, const char *node)
{
	json_t *d;
	size_t i;

	json_array_foreach(json_object_get(plan, "decisions"), i, d)
		if (json_is_string(json_object_get(d, "node")) &&
		    strcmp(json_string_value(json_object_get(d, "node")), node) == 0)
			return d;
	return NULL;
}

/* A plan's canonical node of this id. */
static const json_t *
plan_node(const json_t *plan, const char *id)
{
	json_t *n;
	size_t i;

	json_array_foreach(json_object_get(json_object_get(plan, "canonical"), "nodes"), i, n)
		if (json_is_string(json_object_get(n, "id")) &&
		    strcmp(json_string_value(json_object_get(n, "id")), id) == 0)
			return n;
	return NULL;
}

/* Decides node again from the plan's explain basis; returns its record. */
static json_t *
decide_again(const json_t *plan, const json_t *basis, const json_t *node, const char *file,
    struct rm_err *err)
{
	const struct rm_taxo *t = rm_taxo_get(err);
	struct rm_exset *set = NULL;
	struct rm_exgroup g;
	struct rm_sched_opts o;
	struct rm_sched *s = NULL;
	json_t *dec = NULL, *entry, *local = json_object_get(basis, "local_advert");

	memset(&g, 0, sizeof(g));
	memset(&o, 0, sizeof(o));
	if (t == NULL)
		return NULL;
	if (rm_policy_parse(json_string_value(json_object_get(plan, "policy")) ?
	    json_string_value(json_object_get(plan, "policy")) : "", &o.policy) != 0) {
		rm_err_set(err, RM_EXIT_INVALID, file, "policy", "expected greedy, balanced, cost or "
		    "latency");
		return NULL;
	}
	o.budget = -1;
	o.measure = json_is_true(json_object_get(basis, "measure"));
	o.topk = (size_t)json_integer_value(json_object_get(basis, "alternatives"));
	o.no_local = json_is_true(json_object_get(basis, "no_local"));
	o.approved = json_is_array(json_object_get(basis, "approved")) ?
	    json_object_get(basis, "approved") : NULL;
	o.now = (long long)json_integer_value(json_object_get(basis, "now"));
	if (rm_exset_build(t, json_object_get(basis, "adverts"), NULL, NULL, &set, err) != 0)
		return NULL;
	g.sets = &set;
	g.n = 1;
	if (rm_sched_new(&g, &o, &s, err) != 0)
		goto done;
	s->local_tried = 1;	/* never probe: this machine as it was, or none */
	if (json_is_object(local) && use_local(s, local, err) != 0)
		goto done;
	if (json_is_object(json_object_get(plan, "measured_latency_ms"))) {
		json_decref(s->measured);
		s->measured = json_deep_copy(json_object_get(plan, "measured_latency_ms"));
	}
	entry = rm_sched_place(s, node, file, &dec, err);
	json_decref(entry);
done:
	rm_sched_free(s);
	rm_exset_free(set);
	return dec;
}

/*
 * canonical value v in the key order of skel (keep_order's skeleton, or
 * in plans before skeletons the requirements as written, whole): a real
 * in skel is the exact value, other leaves come from v.
 */
static json_t *
in_order(const json_t *v, const json_t *skel)
{
	const char *key;
	json_t *out, *x;
	size_t i;

	if (!json_is_object(skel) && !json_is_array(skel)) {
		/* a leaf: skel's own value when a real, or when v has none */
		if (v == NULL || json_is_real(skel) || json_is_object(v) || json_is_array(v))
			return json_deep_copy(skel);
		return json_incref((json_t *)v);
	}
	if (v == NULL || json_typeof(v) != json_typeof(skel))
		return json_deep_copy(skel);
	if (json_is_object(skel)) {
		out = json_object();
		json_object_foreach((json_t *)skel, key, x)
			json_object_set_new(out, key, in_order(json_object_get(v, key), x));
		return out;
	}
	out = json_array();
	json_array_foreach(skel, i, x)
		json_array_append_new(out, in_order(json_array_get(v, i), x));
	return out;
}

/* A copy of canonical node n with its requirements as written (keep_order). */
static json_t *
written_order(const json_t *basis, const json_t *n, const char *id)
{
	json_t *copy = json_deep_copy(n), *order;
	const char *key;
	json_t *x;

	order = json_object_get(json_object_get(basis, "key_order"), id);
	if (json_is_integer(order))
		order = json_array_get(json_object_get(basis, "key_shapes"),
		    (size_t)json_integer_value(order));
	if (json_is_string(order)) {
		json_t *part = json_loads(json_string_value(order), 0, NULL);
		if (json_is_object(part))
			json_object_foreach(part, key, x)
				json_object_set_new(copy, key, in_order(json_object_get(n, key), x));
		json_decref(part);
	}
	return copy;
}

json_t *
rm_sched_decided_by(const json_t *plan, const json_t *entry, size_t hint)
{
	const char *id = json_string_value(json_object_get(entry, "id"));
	const json_t *n, *cnodes = json_object_get(json_object_get(plan, "canonical"), "nodes");
	const struct rm_taxo *t;
	json_t *copy, *tdoc, *req, *compdoc, *out = NULL;
	struct rm_node *node;
	struct rm_err err;
	json_int_t tier = json_integer_value(json_object_get(entry, "tier"));
	int remote;

	if (json_is_array(json_object_get(entry, "decided_by")))
		return json_incref(json_object_get(entry, "decided_by"));
	rm_err_clear(&err);
	n = json_array_get(cnodes, hint);
	if (id == NULL || !json_is_string(json_object_get(n, "id")) ||
	    strcmp(json_string_value(json_object_get(n, "id")), id) != 0)
		n = id ? plan_node(plan, id) : NULL;
	if (n == NULL || !json_is_string(json_object_get(entry, "executor")) ||
	    (t = rm_taxo_get(&err)) == NULL)
		return json_array();
	copy = written_order(json_object_get(plan, "explain"), n, id);
	tdoc = tier == 0 ? json_object_get(copy, "capabilities") :
	    json_array_get(json_object_get(copy, "fallback"), (size_t)tier - 1);
	req = tdoc ? tier_requirements(tdoc, &remote) : json_object();
	compdoc = json_pack("{s:s,s:o}", "id", id, "capabilities", req);
	if (rm_node_compile(t, compdoc, "plan", &node, &err) == 0) {
		out = deciding(node);
		rm_node_free(node);
	}
	json_decref(compdoc);
	json_decref(copy);
	return out ? out : json_array();
}

json_t *
rm_sched_explain_node(const json_t *plan, const char *node, const char *file, struct rm_err *err)
{
	const json_t *d = rm_sched_decision(plan, node), *basis = json_object_get(plan, "explain");
	const json_t *n;
	json_t *copy, *dec;

	if (d != NULL)
		return json_incref((json_t *)d);
	if (!json_is_object(basis) || (n = plan_node(plan, node)) == NULL) {
		rm_err_set(err, RM_EXIT_NOTFOUND, file, NULL, "no node '%s' in the plan", node);
		return NULL;
	}
	copy = written_order(basis, n, node);
	dec = decide_again(plan, basis, copy, file, err);
	json_decref(copy);
	return dec;
}

/* ---- reading a plan for explain ------------------------------------- */

static const char *
skip_ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	return p;
}

/* Past the JSON string at p (p at its quote), or NULL. */
static const char *
skip_string(const char *p, const char *end)
{
	const char *q, *b;

	for (p++; p < end; p = q + 1) {
		if ((q = memchr(p, '"', (size_t)(end - p))) == NULL)
			return NULL;
		/* escaped when an odd number of backslashes come before it */
		for (b = q; b > p && b[-1] == '\\'; b--)
			;
		if (((q - b) & 1) == 0)
			return q + 1;
	}
	return NULL;
}

/* Past the JSON value at p, or NULL; nesting and strings are skipped. */
static const char *
skip_value(const char *p, const char *end)
{
	size_t depth = 0;

	if (p < end && *p == '"')
		return skip_string(p, end);
	if (p < end && *p != '{' && *p != '[') {
		/* a number, true, false or null */
		while (p < end && strchr(",}] \t\r\n", *p) == NULL)
			p++;
		return p;
	}
	while (p < end) {
		static const unsigned char nest[256] = { ['"'] = 1, ['{'] = 1, ['['] = 1,
		    ['}'] = 1, [']'] = 1 };
		while (p < end && !nest[(unsigned char)*p])
			p++;
		if (p >= end)
			break;
		if (*p == '"') {
			if ((p = skip_string(p, end)) == NULL)
				return NULL;
			continue;
		}
		if (*p == '{' || *p == '[')
			depth++;
		else if ((*p == '}' || *p == ']') && --depth == 0)
			return p + 1;
		p++;
	}
	return NULL;
}

/*
 * Calls fn for each member of the JSON object at p (key without quotes,
 * value text); returns past the object, or NULL when it is not one or fn
 * says stop (-1).
 */
static const char *
each_member(const char *p, const char *end,
    int (*fn)(const char *k, size_t klen, const char *v, const char *vend, void *arg), void *arg)
{
	p = skip_ws(p, end);
	if (p >= end || *p++ != '{')
		return NULL;
	for (;;) {
		const char *k, *kend, *v;
		p = skip_ws(p, end);
		if (p < end && *p == '}')
			return p + 1;
		if (p >= end || *p != '"' || (kend = skip_string(p, end)) == NULL)
			return NULL;
		k = p + 1;
		p = skip_ws(kend, end);
		if (p >= end || *p++ != ':')
			return NULL;
		v = skip_ws(p, end);
		if ((p = skip_value(v, end)) == NULL ||
		    fn(k, (size_t)(kend - 1 - k), v, p, arg) != 0)
			return NULL;
		p = skip_ws(p, end);
		if (p < end && *p == ',')
			p++;
	}
}

struct skim {
	json_t *into;
	const char *node;	/* canonical: only this node */
	int found;
};

static int
key_is(const char *k, size_t klen, const char *name)
{
	return klen == strlen(name) && memcmp(k, name, klen) == 0;
}

static int
put_parsed(json_t *into, const char *name, const char *v, const char *vend)
{
	json_error_t je;
	json_t *x = rm_json_loadb(v, (size_t)(vend - v), JSON_DECODE_ANY, &je);

	if (x == NULL)
		return -1;
	json_object_set_new(into, name, x);
	return 0;
}

/* A canonical node's "id" member: is it the node wanted? */
static int
node_id_cb(const char *k, size_t klen, const char *v, const char *vend, void *arg)
{
	struct skim *sk = arg;
	size_t n = strlen(sk->node);

	if (key_is(k, klen, "id") && (size_t)(vend - v) == n + 2 && *v == '"' &&
	    memcmp(v + 1, sk->node, n) == 0)
		sk->found = 1;
	return 0;
}

/* canonical: every member but nodes, and of nodes the one wanted. */
static int
canonical_cb(const char *k, size_t klen, const char *v, const char *vend, void *arg)
{
	struct skim *sk = arg;
	char name[64];
	const char *p, *e;

	if (klen >= sizeof(name))
		return 0;
	memcpy(name, k, klen);
	name[klen] = '\0';
	if (!key_is(k, klen, "nodes") || *v != '[')
		return put_parsed(sk->into, name, v, vend);
	json_object_set_new(sk->into, "nodes", json_array());
	for (p = skip_ws(v + 1, vend); p < vend && *p != ']'; p = skip_ws(p, vend)) {
		struct skim one = { NULL, sk->node, 0 };
		if ((e = skip_value(p, vend)) == NULL)
			return -1;
		if (*p == '{' && each_member(p, e, node_id_cb, &one) != NULL && one.found) {
			json_error_t je;
			json_t *x = rm_json_loadb(p, (size_t)(e - p), 0, &je);
			if (x == NULL)
				return -1;
			json_array_append_new(json_object_get(sk->into, "nodes"), x);
		}
		p = skip_ws(e, vend);
		if (p < vend && *p == ',')
			p++;
	}
	return 0;
}

/* key_order: the node's entry; an escaped key stops the scan (read it all). */
static int
order_cb(const char *k, size_t klen, const char *v, const char *vend, void *arg)
{
	struct skim *sk = arg;

	if (memchr(k, '\\', klen) != NULL)
		return -1;
	return key_is(k, klen, sk->node) ? put_parsed(sk->into, sk->node, v, vend) : 0;
}

/* The explain basis: every member, of key_order only the node's entry. */
static int
explain_cb(const char *k, size_t klen, const char *v, const char *vend, void *arg)
{
	struct skim *sk = arg;
	char *name;
	int rc;

	if (key_is(k, klen, "key_order") && *v == '{') {
		struct skim o = { json_object(), sk->node, 0 };
		if (each_member(v, vend, order_cb, &o) == NULL) {
			json_decref(o.into);
			return put_parsed(sk->into, "key_order", v, vend);
		}
		json_object_set_new(sk->into, "key_order", o.into);
		return 0;
	}
	/* the basis's own names need no unescaping */
	if ((name = strndup(k, klen)) == NULL)
		return -1;
	rc = put_parsed(sk->into, name, v, vend);
	free(name);
	return rc;
}

static int
plan_cb(const char *k, size_t klen, const char *v, const char *vend, void *arg)
{
	static const char *want[] = { "schema", "policy", "decisions",
	    "tier_records", "measured_latency_ms", NULL };
	struct skim *sk = arg;
	size_t i;

	if (key_is(k, klen, "explain") && *v == '{') {
		struct skim e = { json_object(), sk->node, 0 };
		json_object_set_new(sk->into, "explain", e.into);
		return each_member(v, vend, explain_cb, &e) != NULL ? 0 : -1;
	}
	if (key_is(k, klen, "canonical")) {
		struct skim c = { json_object(), sk->node, 0 };
		json_object_set_new(sk->into, "canonical", c.into);
		return each_member(v, vend, canonical_cb, &c) != NULL ? 0 : -1;
	}
	for (i = 0; want[i] != NULL; i++)
		if (key_is(k, klen, want[i]))
			return put_parsed(sk->into, want[i], v, vend);
	return 0;
}

/*
 * A plan's members that explain reads, parsed alone: a plan of 10,000
 * nodes is tens of MB, most of it placements explain does not need. The
 * top level is scanned, strings and nesting skipped, and of the
 * canonical pipeline only the node asked for is parsed. NULL when the
 * text is not a plain JSON object (the caller then reads it whole).
 */
json_t *
rm_sched_plan_skim(const char *path, const char *node, struct rm_err *err)
{
	struct skim sk = { NULL, node, 0 };
	char *buf;
	size_t len;

	if (rm_read_file(path, RM_PLAN_MAX_BYTES, &buf, &len, err) != 0)
		return NULL;
	sk.into = json_object();
	if (each_member(buf, buf + len, plan_cb, &sk) == NULL) {
		json_decref(sk.into);
		sk.into = NULL;
	}
	free(buf);
	return sk.into;
}
