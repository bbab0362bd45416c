/*
 * Planning whole pipelines (rm-schedule): a placement for every node under a
 * policy, fallback tiers, local-first, host pins, cost estimates and budget,
 * a bounded decisions log that rm-schedule explain reads offline, and the
 * queue of parked nodes (spec 003: unmatched is parked, not failed).
 */
#ifndef RM_SCHED_H
#define RM_SCHED_H

#include <stddef.h>
#include <stdio.h>
#include <jansson.h>

#include "rm_err.h"
#include "rm_exgroup.h"

#define RM_PLAN_SCHEMA "remotemedia.plan/1"
#define RM_PARKED_SCHEMA "remotemedia.parked/1"
#define RM_PLACEMENT_SCHEMA "remotemedia.placement/1"

enum rm_policy { RM_POLICY_GREEDY, RM_POLICY_BALANCED, RM_POLICY_COST, RM_POLICY_LATENCY };

int rm_policy_parse(const char *s, enum rm_policy *out);
const char *rm_policy_name(enum rm_policy p);
/* The scoring rule of a policy, as one sentence (plans and explain). */
const char *rm_policy_rule(enum rm_policy p);

/* A plan of a pipeline at its own limit (30,000 nodes) is tens of MB. */
#define RM_PLAN_MAX_BYTES ((size_t)128 << 20)

#define RM_SCHED_DEFAULT_SECONDS 60.0
#define RM_SCHED_DEFAULT_TOPK 5

struct rm_sched_opts {
	enum rm_policy policy;
	double budget;		/* < 0: none */
	int measure;		/* latency: TCP connect time to the endpoint */
	int measure_timeout_ms;	/* per connect; 0: 500 */
	size_t topk;		/* alternatives and decisions kept per tier; 0: 5 */
	int full;		/* decisions: every executor, every clause */
	int no_local;		/* never add this machine for local-first nodes */
	const json_t *approved;	/* production approval patterns, NULL: all */
	long long now;		/* 0: time(NULL) */
	int reference;		/* match with the reference evaluator only (tests) */
	int basis;		/* keep the explain basis, never decision records */
};

struct rm_sched;

/* A planner over a loaded executor group (borrowed; must outlive it). */
int rm_sched_new(const struct rm_exgroup *g, const struct rm_sched_opts *o,
    struct rm_sched **out, struct rm_err *err);
void rm_sched_free(struct rm_sched *s);

/*
 * Plans a canonical pipeline (rm_pipeline_normalize). Returns the plan
 * document with status "planned" (every node placed) or "unplaced" (some
 * node has no compatible executor in any tier); the caller parks those
 * (rm_sched_park) or not. Budget is checked by rm_sched_check_budget.
 * file names the pipeline in messages.
 */
json_t *rm_sched_plan(struct rm_sched *s, const json_t *pipeline, const char *file,
    struct rm_err *err);
/*
 * Places one canonical node. Returns its plan entry; *decision (may be
 * NULL) receives its decisions record.
 */
json_t *rm_sched_place(struct rm_sched *s, const json_t *node, const char *where,
    json_t **decision, struct rm_err *err);
/*
 * Over budget? Returns 1 and fills *breakdown ({budget, total, nodes: [{id,
 * executor, estimated_cost}]}) when the plan's total exceeds budget.
 */
int rm_sched_over_budget(const json_t *plan, double budget, json_t **breakdown);

/* ---- the queue of parked nodes ($REMOTEMEDIA_HOME/queue/) ---------- */

/*
 * Parks every unplaced node of plan (status becomes "parked"; each entry
 * gets "queue_id"). plan_path (may be NULL) is recorded so that reconcile
 * can update the plan file. Takes the queue lock.
 */
int rm_sched_park(json_t *plan, const char *plan_path, struct rm_err *err);
/* The parked entries, sorted by id. */
json_t *rm_sched_queue_list(struct rm_err *err);
/*
 * Places every parked node that now has a compatible executor: writes the
 * placement to $REMOTEMEDIA_HOME/placed/<id>.json (and into the recorded
 * plan file when it still exists), then removes the queue entry. Returns
 * {placed: [...], still_parked: [...]}. Holds the queue lock throughout.
 */
json_t *rm_sched_reconcile(struct rm_sched *s, int keep_policy, struct rm_err *err);

/* ---- renderings ---------------------------------------------------- */

/* Graphviz: one cluster per executor, edges, deciding capabilities. */
char *rm_sched_dot(const json_t *plan);
/* The readable table. */
void rm_sched_print_text(FILE *fp, const json_t *plan);
/* "prog: estimated total T exceeds the budget B by O" and the nodes, from
 * rm_sched_over_budget's breakdown. */
void rm_sched_print_budget(FILE *fp, const json_t *breakdown);
/* explain PLAN NODE, from the plan's decisions log. */
void rm_sched_print_explain(FILE *fp, const json_t *plan, const json_t *decision);
/* A decision's tier entry: records are shared by nodes of one shape and
 * stored once under the plan's "tier_records"; resolves a reference. */
const json_t *rm_sched_tier_record(const json_t *plan, const json_t *t);
/* A placed node's deciding capabilities ("path need" lines): its
 * decided_by, else made again from the plan's canonical node (entry is
 * nodes[hint] of the plan, usually canonical's nodes[hint] too). */
json_t *rm_sched_decided_by(const json_t *plan, const json_t *entry, size_t hint);
/* The decisions record of a node, or NULL. */
const json_t *rm_sched_decision(const json_t *plan, const char *node);
/*
 * The decisions record of a node for explain (a new reference): the one the
 * plan holds (older plans, --decisions full, reconciled nodes), else decided
 * again from the plan's "explain" basis, offline. NULL with err (code 4
 * when the plan has no such node).
 */
json_t *rm_sched_explain_node(const json_t *plan, const char *node, const char *file,
    struct rm_err *err);
/*
 * The members of the plan file path that explain reads for node (schema,
 * policy, canonical with that node only, explain, decisions, tier_records,
 * measured_latency_ms), without parsing the rest; NULL when the file is
 * not a plain JSON object.
 */
json_t *rm_sched_plan_skim(const char *path, const char *node, struct rm_err *err);

#endif
