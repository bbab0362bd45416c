/*
 * The fast matching path (rm_xidx, rm_match_bits, the planner's index)
 * against the reference evaluator, on random pools and nodes: every
 * executor's bucket, failing clauses, degradation and score, and every
 * policy's placements and decision records, must be the same.
 */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rm_advert.h"
#include "rm_exset.h"
#include "rm_match.h"
#include "rm_sched.h"
#include "rm_taxo.h"
#include "rm_xidx.h"
#include "tap.h"

static unsigned rng;

static unsigned
rnd(unsigned n)
{
	rng = rng * 1103515245u + 12345u;
	return n ? (rng >> 8) % n : 0;
}

static const char *tags[] = { "linux", "docker", "x11", "ffmpeg", "batch", "spot" };
static const char *types[] = { "cuda", "rocm", "metal" };
static const char *vers[] = { "1.13.1", "2.1.2", "2.3.0", "2.10" };

/* Numbers from a small set, so that ties and bounds on a value happen. */
static double
num(void)
{
	static const double v[] = { 0, 1, 2, 4, 8, 8.5, 16, 24, 32, 64, 128 };
	return v[rnd(11)];
}

static json_t *
random_advert(unsigned i, int tokens)
{
	json_t *caps = json_object(), *a;
	char id[32];
	size_t k;

	snprintf(id, sizeof(id), "ex-%02u-%u", rnd(40), i);
	if (rnd(6))
		json_object_set_new(caps, "cpu", json_pack("{s:f,s:s}", "cores", num(), "arch",
		    rnd(2) ? "x86_64" : "aarch64"));
	if (rnd(5))
		json_object_set_new(caps, "memory_gb", json_real(num()));
	if (rnd(2)) {
		json_t *g = json_pack("{s:s}", "type", types[rnd(3)]);
		if (rnd(4))
			json_object_set_new(g, "memory_gb", json_real(num()));
		if (rnd(2))
			json_object_set_new(g, "compute_capability", json_string(vers[rnd(4)]));
		json_object_set_new(caps, "gpu", g);
	}
	if (rnd(4)) {
		json_t *t = json_array();
		for (k = 0; k < 6; k++)
			if (rnd(2))
				json_array_append_new(t, json_string(tags[k]));
		json_object_set_new(caps, "tags", t);
	}
	if (rnd(3) == 0)
		json_object_set_new(caps, "frameworks", json_pack("{s:s}", "torch", vers[rnd(4)]));
	if (rnd(3) == 0)
		json_object_set_new(caps, "codecs", json_pack("{s:s}", "h264", rnd(2) ? "hardware" :
		    "software"));
	if (rnd(3))
		json_object_set_new(caps, "network", json_pack("{s:i}", "latency_ms", (int)rnd(5) * 10));
	a = json_pack("{s:s,s:s,s:s,s:o}", "schema", "remotemedia.executor/1", "id", id,
	    "endpoint", rnd(15) == 0 ? "local" : "tcp://10.0.0.1:9000", "capabilities", caps);
	if (rnd(4))
		json_object_set_new(a, "load_score", json_real(rnd(5) / 4.0));
	if (rnd(3))
		/* 0.3 and 2 * 0.1 + 0.1 cost the same for some durations: ties */
		json_object_set_new(a, "pricing", json_pack("{s:f}", "per_hour", rnd(3) == 0 ? 0.3 :
		    rnd(6) * 0.1 + 0.1));
	else if (tokens && rnd(2))
		json_object_set_new(caps, "cost_tokens", json_integer(rnd(4)));
	if (rnd(10) == 0)
		json_object_set_new(a, "expires_at", json_string(rnd(2) ? "2001-01-01T00:00:00Z" :
		    "2099-01-01T00:00:00Z"));
	json_object_set_new(a, "region", json_string(rnd(2) ? "eu-west-1" : "us-east-1"));
	return a;
}

/* One random requirement object. */
static json_t *
random_caps(void)
{
	json_t *c = json_object();
	size_t k;

	if (rnd(2))
		json_object_set_new(c, "cpu", json_pack("{s:f}", "cores", num()));
	if (rnd(2))
		json_object_set_new(c, "memory_gb", rnd(4) ? json_real(num()) :
		    json_pack("{s:f,s:f}", "min", num(), "max", num() * 2));
	if (rnd(2)) {
		json_t *g = json_object();
		if (rnd(2))
			json_object_set_new(g, "type", rnd(3) ? json_string(types[rnd(3)]) :
			    json_pack("[s,s]", types[0], types[2]));
		if (rnd(2))
			json_object_set_new(g, "min_memory_gb", json_real(num()));
		if (rnd(4) == 0)
			json_object_set_new(g, "compute_capability", json_string(rnd(2) ? ">=2.1" :
			    "2.3.0"));
		if (rnd(3) == 0) {
			json_object_set_new(g, "required", json_false());
			json_object_set_new(g, "preferred", json_true());
			json_object_set_new(g, "weight", json_real(1 + rnd(3)));
		}
		json_object_set_new(c, "gpu", g);
	}
	if (rnd(3) == 0) {
		json_t *t = json_array();
		for (k = 0; k < 6; k++)
			if (rnd(3) == 0)
				json_array_append_new(t, json_string(tags[k]));
		json_object_set_new(c, "tags", t);
	}
	if (rnd(4) == 0)
		json_object_set_new(c, "frameworks", json_pack("{s:s}", "torch",
		    rnd(2) ? ">=2.1" : "~=2.1"));
	if (rnd(5) == 0)
		json_object_set_new(c, "codecs", json_pack("[s]", "h264"));
	if (rnd(5) == 0)
		json_object_set_new(c, "max_load", json_real(rnd(4) / 4.0));
	if (rnd(5) == 0)
		json_object_set_new(c, "network", json_pack("{s:f}", "latency_ms", 20.0));
	if (rnd(6) == 0)
		json_object_set_new(c, "region", json_string("eu-west-1"));
	if (rnd(6) == 0)
		json_object_set_new(c, "cpu", json_pack("{s:s}", "arch", "aarch64"));
	return c;
}

static const char *queries[] = {
	"memory_gb > 8", "gpu.memory_gb <= 24", "cpu.cores = 16", "tags = docker",
	"region = us-east-1", "gpu.type = rocm", "memory_gb>=nan",
};

/* The reference and the fast path agree on every executor of s for node. */
static int
same_facts(const struct rm_node *node, const struct rm_exset *s, struct rm_xidx *xi,
    const struct rm_match_opts *mo, const char *what)
{
	struct rm_exgroup g;
	struct rm_exset *sets[1];
	struct rm_match_cand *ref = calloc(s->nexec + 1, sizeof(*ref)), fast;
	struct rm_match_bits b;
	struct rm_err err;
	size_t n = 0;
	uint32_t e;
	int bad = 0;

	sets[0] = (struct rm_exset *)s;
	g.sets = sets;
	g.n = 1;
	if (rm_match_eval(node, &g, mo, ref, &n, &err) != 0 ||
	    rm_match_bits(node, xi, mo, &b, &err) != 0) {
		free(ref);
		return 0;
	}
	for (e = 0; e < s->nexec && !bad; e++) {
		rm_match_cand_of(node, &b, xi, e, mo->now, &fast);
		bad = fast.bucket != ref[e].bucket || fast.fail != ref[e].fail ||
		    fast.degraded != ref[e].degraded || fast.expired != ref[e].expired ||
		    fast.load != ref[e].load || fast.price != ref[e].price ||
		    fast.latency != ref[e].latency || fast.tokens != ref[e].tokens ||
		    (ref[e].bucket != RM_B_INCOMPATIBLE && fast.score != ref[e].score);
		if (bad)
			printf("# %s: executor %u (%s): bucket %d/%d fail %llx/%llx\n", what, e,
			    rm_exset_cstr(s, s->info[e].id), fast.bucket, ref[e].bucket,
			    (unsigned long long)fast.fail, (unsigned long long)ref[e].fail);
	}
	rm_match_bits_release(&b);
	free(ref);
	return !bad;
}

/*
 * rm_match_node with a limit takes the index; with --all, the reference:
 * the same document but for what --all adds (rejected, reasons).
 */
static int
same_document(const struct rm_node *node, const struct rm_exset *s,
    const struct rm_match_opts *mo, const char *what)
{
	struct rm_exgroup g;
	struct rm_exset *sets[1];
	struct rm_match_opts o = *mo;
	struct rm_err err;
	json_t *fast, *ref, *e;
	size_t n, i;
	int same;

	memset(&g, 0, sizeof(g));
	sets[0] = (struct rm_exset *)s;
	g.sets = sets;
	g.n = 1;
	o.limit = 1 + rnd(3);
	o.region = rnd(3) == 0 ? "us-east-1" : NULL;
	o.sort = (enum rm_sort)rnd(5);
	fast = rm_match_node(node, &g, &o, &n, &err);
	o.all = 1;
	ref = rm_match_node(node, &g, &o, &n, &err);
	if (fast == NULL || ref == NULL) {
		json_decref(fast);
		json_decref(ref);
		return 0;
	}
	if (json_integer_value(json_object_get(ref, "compatible_count")) > 0)
		json_object_del(ref, "rejected");
	json_array_foreach(json_object_get(ref, "executors"), i, e)
		json_object_del(e, "reasons");
	same = json_equal(fast, ref);
	if (!same) {
		char *a = json_dumps(fast, JSON_COMPACT | JSON_SORT_KEYS);
		char *b = json_dumps(ref, JSON_COMPACT | JSON_SORT_KEYS);
		printf("# %s:\n#  fast %.800s\n#  ref  %.800s\n", what, a, b);
		free(a);
		free(b);
	}
	json_decref(fast);
	json_decref(ref);
	return same;
}

static int
order_ok(const struct rm_xidx *xi, const struct rm_exset *s, const double *rank)
{
	uint32_t p;

	for (p = 1; p < s->nexec; p++) {
		uint32_t a = rm_xidx_exec(xi, p - 1), b = rm_xidx_exec(xi, p);
		int c = strcmp(rm_exset_cstr(s, s->info[a].id), rm_exset_cstr(s, s->info[b].id));
		if (rm_xidx_pos(xi, a) != p - 1)
			return 0;
		if (rank[a] > rank[b] || (rank[a] == rank[b] && (c > 0 || (c == 0 && a > b))))
			return 0;
	}
	return 1;
}

/* Matching: many nodes over one pool, facts compared executor by executor. */
static void
check_matching(const struct rm_taxo *t, const struct rm_exset *s, unsigned seed)
{
	struct rm_match_opts mo;
	json_t *approved = json_pack("[s,s]", "ex-1*", "ex-3?-*");
	double *rank = malloc((s->nexec + 1) * sizeof(*rank));
	struct rm_xidx *xi;
	struct rm_err err;
	uint32_t e;
	int i, good = 1, orders = 1, docs = 1;
	char what[64];

	for (e = 0; e < s->nexec; e++)
		rank[e] = rnd(4);
	xi = rm_xidx_new(s, rank);
	orders = xi != NULL && order_ok(xi, s, rank);
	memset(&mo, 0, sizeof(mo));
	mo.limit = -1;
	mo.now = 1700000000;
	for (i = 0; i < 25 && xi != NULL; i++) {
		json_t *doc = json_pack("{s:s,s:o}", "id", "n", "capabilities", random_caps());
		struct rm_node *node;
		if (rm_node_compile(t, doc, "test", &node, &err) != 0) {
			printf("# seed %u: %s\n", seed, err.msg);
			json_decref(doc);
			good = 0;
			continue;
		}
		if (rnd(4) == 0)
			rm_node_add_query(t, node, queries[rnd(7)], &err);
		if (rnd(6) == 0)
			rm_node_add_max_cost(t, node, 0.3, &err);
		mo.approved = rnd(4) == 0 ? approved : NULL;
		snprintf(what, sizeof(what), "seed %u node %d", seed, i);
		good &= same_facts(node, s, xi, &mo, what);
		docs &= same_document(node, s, &mo, what);
		rm_node_free(node);
		json_decref(doc);
	}
	ok(xi != NULL && orders, "seed %u: the index orders executors by rank, id, index", seed);
	ok(good, "seed %u: fast path = reference on %u executors", seed, s->nexec);
	ok(docs, "seed %u: rm-match's document is the reference's", seed);
	rm_xidx_free(xi);
	free(rank);
	json_decref(approved);
}

static json_t *
random_node(unsigned i)
{
	char id[16];
	json_t *n;

	snprintf(id, sizeof(id), "n%u", i);
	n = json_pack("{s:s,s:s,s:o,s:f}", "id", id, "type", "Command", "capabilities",
	    random_caps(), "estimated_seconds", rnd(5) == 0 ? 0.0 : rnd(3) == 0 ? 95.0 :
	    (double)(1 + rnd(600)));
	if (rnd(4) == 0)
		json_object_set_new(n, "fallback", json_pack("[o,{s:o,s:b}]", random_caps(),
		    "capabilities", random_caps(), "remote", 1));
	return n;
}

/* Planning: the same placements and decisions with and without the index. */
static void
check_planning(const struct rm_exgroup *g, unsigned seed)
{
	json_t *approved = json_pack("[s]", "ex-2*");
	int pol, good = 1;

	for (pol = 0; pol < 4; pol++) {
		struct rm_sched_opts o;
		struct rm_sched *fast = NULL, *ref = NULL;
		struct rm_err err;
		unsigned i;

		memset(&o, 0, sizeof(o));
		o.policy = (enum rm_policy)pol;
		o.budget = -1;
		o.no_local = 1;
		o.now = 1700000000;
		o.topk = 1 + rnd(4);
		o.approved = rnd(3) == 0 ? approved : NULL;
		if (rm_sched_new(g, &o, &fast, &err) != 0) {
			good = 0;
			continue;
		}
		o.reference = 1;
		if (rm_sched_new(g, &o, &ref, &err) != 0) {
			rm_sched_free(fast);
			good = 0;
			continue;
		}
		for (i = 0; i < 30; i++) {
			json_t *node = random_node(i), *df = NULL, *dr = NULL, *ef, *er;
			int record = rnd(2);
			ef = rm_sched_place(fast, node, "test", record ? &df : NULL, &err);
			er = rm_sched_place(ref, node, "test", record ? &dr : NULL, &err);
			if (ef == NULL || er == NULL || !json_equal(ef, er) ||
			    (record && !json_equal(df, dr))) {
				char *a = ef ? json_dumps(ef, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
				char *b = er ? json_dumps(er, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
				printf("# seed %u policy %d node %u:\n#  fast %.600s\n#  ref  %.600s\n", seed,
				    pol, i, a ? a : "(null)", b ? b : "(null)");
				free(a);
				free(b);
				good = 0;
			}
			json_decref(ef);
			json_decref(er);
			json_decref(df);
			json_decref(dr);
			json_decref(node);
		}
		rm_sched_free(fast);
		rm_sched_free(ref);
	}
	ok(good, "seed %u: every policy places and decides as the reference", seed);
	json_decref(approved);
}

int
main(int argc, char **argv)
{
	const struct rm_taxo *t;
	struct rm_err err;
	unsigned seed, nseeds = argc > 1 ? (unsigned)atoi(argv[1]) : 40;

	setenv("REMOTEMEDIA_ENV", "development", 1);
	if ((t = rm_taxo_get(&err)) == NULL) {
		printf("not ok 1 - taxonomy: %s\n", err.msg);
		return 1;
	}
	{
		/* compiling never changes the node: its requirement values are shared, not copied */
		json_t *doc = json_loads("{\"id\":\"n\",\"capabilities\":[\"linux\"],"
		    "\"required_capabilities\":[\"gpu\"]}", 0, NULL);
		char *before = json_dumps(doc, JSON_SORT_KEYS), *after;
		struct rm_node *node = NULL;
		int r = rm_node_compile(t, doc, "test", &node, &err);
		rm_node_free(node);
		after = json_dumps(doc, JSON_SORT_KEYS);
		ok(r == 0 && strcmp(before, after) == 0, "compiling a tag-list node with "
		    "required_capabilities leaves the document as it was (%s)", after);
		free(before);
		free(after);
		json_decref(doc);
	}
	for (seed = 1; seed <= nseeds; seed++) {
		json_t *adverts = json_array();
		struct rm_exset *s = NULL;
		struct rm_exgroup g;
		unsigned i, n;

		memset(&g, 0, sizeof(g));
		rng = seed;
		n = rnd(4) == 0 ? rnd(8) : 1 + rnd(seed % 10 == 0 ? 700 : 150);
		for (i = 0; i < n; i++) {
			struct rm_err aerr;
			json_t *a = rm_advert_normalize_take(random_advert(i, seed % 3 == 0), "test",
			    &aerr);
			if (a != NULL)
				json_array_append_new(adverts, a);
		}
		if (rm_exset_build(t, adverts, NULL, NULL, &s, &err) != 0) {
			ok(0, "seed %u: build: %s", seed, err.msg);
			json_decref(adverts);
			continue;
		}
		check_matching(t, s, seed);
		g.sets = &s;
		g.n = 1;
		check_planning(&g, seed);
		rm_exset_free(s);
		json_decref(adverts);
	}
	return done_testing();
}
