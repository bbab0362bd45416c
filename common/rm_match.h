/*
 * Matching node requirements against executor sets. Every clause is
 * evaluated for every executor (no stopping at the first failure), so the
 * answer can say, per executor, every failing clause with need and have,
 * and, per clause, how many executors it eliminated and the best value seen.
 */
#ifndef RM_MATCH_H
#define RM_MATCH_H

#include <stdint.h>
#include <jansson.h>

#include "rm_err.h"
#include "rm_exgroup.h"
#include "rm_taxo.h"

struct rm_clause {
	int key;		/* taxonomy key index */
	char path[160];		/* as the node wrote it, e.g. gpu.min_memory_gb */
	int soft;		/* preferred, not required */
	double weight;
	int parent;		/* clause index of the presence block above, or -1 */
	int missing_ok;		/* an executor without the value passes (--max-cost) */
	int alt_key;		/* key read when the value is missing, or -1 */
	json_t *need;		/* for output */
	/* numbers */
	int has_lo, has_hi;
	double lo, hi;
	/* strings: equal (one of), subset, intersects, codecs, frameworks */
	char **strs;
	size_t nstrs;
	char **ranges;		/* frameworks: per name; version: ranges[0] */
	int *hw;		/* codecs: hardware needed, per name */
	int numeric_eq;		/* equal on a number */
};

struct rm_node {
	char *id;
	json_t *requirements;	/* as given */
	struct rm_clause *c;
	size_t n;
	json_t *notes;		/* compile-time warnings */
};

/*
 * Compiles a node: a requirement object, or {"id", "capabilities": {...}}
 * (capabilities may be a tag list). Unknown keys and ill-typed values are
 * errors naming the field.
 */
int rm_node_compile(const struct rm_taxo *t, const json_t *doc, const char *file,
    struct rm_node **out, struct rm_err *err);
/* Adds a discovery query "path OP value" (=, !=, >=, <=, >, <) as a clause. */
int rm_node_add_query(const struct rm_taxo *t, struct rm_node *n, const char *expr,
    struct rm_err *err);
/* Adds "cost at most max" (pricing.per_hour, else cost_tokens; none is free). */
int rm_node_add_max_cost(const struct rm_taxo *t, struct rm_node *n, double max,
    struct rm_err *err);
void rm_node_free(struct rm_node *n);

enum rm_sort { RM_SORT_SCORE, RM_SORT_AVAILABILITY, RM_SORT_COST, RM_SORT_LATENCY, RM_SORT_ID };

struct rm_match_opts {
	long limit;		/* compatible executors listed; <0 all */
	int explain;		/* per-clause view */
	int all;		/* rejected executors always listed */
	const char *region;	/* closest first */
	enum rm_sort sort;
	long long now;		/* for expiry; 0: time(NULL) */
	json_t *approved;	/* production: approved id patterns, NULL: all */
};

/*
 * The nodes a node file holds, appended to nodes (references added): each
 * document of docs is a pipeline (its "nodes") or one node.
 */
void rm_match_nodes_of(const json_t *docs, json_t *nodes);
/*
 * Matches one node; returns the remotemedia.match/1 document. *ncompat
 * receives the number of compatible executors.
 */
json_t *rm_match_node(const struct rm_node *node, const struct rm_exgroup *g,
    const struct rm_match_opts *opts, size_t *ncompat, struct rm_err *err);

/* Matches many nodes quickly: only counts and the best executor id. */
struct rm_match_best {
	size_t ncompat;
	const struct rm_exset *set;
	uint32_t exec;
	double score;
	int degraded;
};
int rm_match_best(const struct rm_node *node, const struct rm_exgroup *g, long long now,
    struct rm_match_best *out);

/*
 * Planning (rm-schedule): the facts of every executor of g for one node,
 * without building the match document. out has room for every executor of
 * the group (the sum of the sets' nexec); *n receives how many were written.
 * price, tokens and latency are -1 when the advert has none.
 */
enum rm_bucket { RM_B_AVAILABLE, RM_B_BUSY, RM_B_POLICY, RM_B_INCOMPATIBLE };
struct rm_match_cand {
	const struct rm_exset *set;
	uint32_t exec;
	uint8_t bucket;		/* enum rm_bucket */
	uint8_t degraded;
	uint8_t expired;
	uint64_t fail;		/* bit j: clause j of the node failed */
	double score, load, price, tokens, latency;
};
int rm_match_eval(const struct rm_node *node, const struct rm_exgroup *g,
    const struct rm_match_opts *opts, struct rm_match_cand *out, size_t *n, struct rm_err *err);
const char *rm_bucket_name(int bucket);
/* The number executor e of s has under key, else dflt (also when key < 0). */
double rm_match_num(const struct rm_exset *s, int key, uint32_t e, double dflt);
/*
 * One executor as rm_match_node lists it (id, bucket, score, degraded,
 * warnings, reasons), plus with clauses every clause's result
 * (pass/fail/degraded/skipped) with need and have.
 */
json_t *rm_match_explain_one(const struct rm_node *node, const struct rm_exset *s, uint32_t e,
    const struct rm_match_opts *opts, int clauses, struct rm_err *err);

/*
 * The fast path: the same facts as rm_match_eval, as bitsets over the
 * positions of an index (rm_xidx.h), computed with the index where a
 * clause allows and with the reference evaluator where it does not.
 * fail[j]: clause j failed (clauses below a failed block cleared, as
 * rm_match_eval reports them); bucket[b]: enum rm_bucket.
 */
struct rm_xidx;
struct rm_match_bits {
	size_t nw, nclauses;
	uint64_t *fail[64];
	uint64_t *bucket[4];
	uint64_t *degraded;
	uint64_t *mem;
	size_t memlen;		/* words */
};
int rm_match_bits(const struct rm_node *node, struct rm_xidx *xi,
    const struct rm_match_opts *opts, struct rm_match_bits *out, struct rm_err *err);
void rm_match_bits_release(struct rm_match_bits *b);
/* Executor e of the index's set as rm_match_eval lists it, from the bits. */
void rm_match_cand_of(const struct rm_node *node, const struct rm_match_bits *b,
    const struct rm_xidx *xi, uint32_t e, long long now, struct rm_match_cand *out);

#endif
