/*
 * Running plans (rm-schedule run): every node's exec on its executor in DAG
 * order, independent nodes at once, with transparent failover along the
 * plan's ranked alternatives and fallback tiers, checkpoints for streaming
 * nodes, the cost ledger and budgets.
 *
 * A node starts when all its predecessors have completed; its standard input
 * is their committed output (one predecessor: its output file; several:
 * their outputs concatenated in edge order; none: /dev/null), so a node
 * restarted on another executor can be fed again from any input offset.
 *
 * The run directory $REMOTEMEDIA_HOME/runs/<id>/ holds:
 *   plan.json          the plan that runs (rm-schedule explain reads it)
 *   decisions.jsonl    every scheduling, failover and budget decision
 *   costs.jsonl        one line per attempt (also appended, locked, to
 *                      $REMOTEMEDIA_HOME/costs.jsonl)
 *   state.jsonl        node completions, written as they happen (--resume)
 *   budget.json        {"budget": N}: the run's budget, kept for --resume
 *   results.json       status and attempts of every node, at the end
 *   nodes/<node>/      attempt-N.out, attempt-N.err (the stderr log of each
 *                      attempt), output (the committed output, complete)
 *   lock               held while a runner works on the run
 *
 * Checkpoint protocol (local executors): descriptor 3, named in
 * REMOTEMEDIA_CHECKPOINT_FD, is a socket to the runner. After the node has
 * written the output for some input, it writes one line with the number of
 * input bytes consumed so far (counted from the start of the input this
 * attempt was given), then reads one line ("ok") back: the runner answers
 * once it has recorded how much output belongs to that input, so the
 * figure is exact. When the attempt fails, the output up to the last
 * checkpoint is kept and the next executor gets the input from the
 * checkpointed offset. On ssh:// and slurm:// executors the relay below
 * gives the node the same descriptor 3.
 */
#ifndef RM_RUN_H
#define RM_RUN_H

#include <stddef.h>
#include <jansson.h>

#include "rm_err.h"
#include "rm_exgroup.h"

#define RM_RUN_SCHEMA "remotemedia.run/1"
#define RM_COST_SCHEMA "remotemedia.cost/1"

struct rm_sched;

struct rm_run_opts {
	const char *run_id;		/* NULL: a fresh id */
	int resume;			/* run_id names an earlier run to finish */
	double budget;			/* < 0: none (resume: the run's own) */
	double grace_s;			/* SIGTERM -> SIGKILL; <= 0: 2 s */
	int out_fd;			/* sink output; < 0: discarded */
	const struct rm_exgroup *g;	/* adverts for the plan's executors */
	struct rm_sched *sched;		/* for later fallback tiers; may be NULL */
	size_t max_parallel;		/* 0: unbounded */
};

/* Is id usable as a run id (letters, digits, . _ -, not leading ., <= 64)? */
int rm_run_id_valid(const char *id);
/* runs/<id> under the state directory; made (0700) when mk is set. */
int rm_run_dir(const char *id, char *buf, size_t size, int mk, struct rm_err *err);

/*
 * Runs plan (a remotemedia.plan/1 document; with opts->resume, plan is NULL
 * and the run's own plan.json is used). *result receives the results
 * document (also written to results.json), even on failure when the run
 * directory could be made. Returns 0, or -RM_EXIT_BUDGET (budget reached),
 * -RM_EXIT_EXEC (some node failed on every option), -RM_EXIT_INVALID (bad
 * plan: recorded in decisions.jsonl too), or another -code, with err set.
 * The budget counts the cost of every invocation of the run: a resume
 * starts from the run's costs.jsonl, and keeps its budget.json unless
 * opts->budget replaces it.
 */
int rm_run_exec(const json_t *plan, const struct rm_run_opts *opts, json_t **result,
    struct rm_err *err);

/*
 * The cost report of a run: {"schema": "remotemedia.run-report/1", "run",
 * "status", "budget", "total_cost", "nodes": [{"id", "cost", "duration_s",
 * "attempts": [{"executor", "endpoint", "status", "cost", "duration_s",
 * "reason"}]}]}; endpoint (where the attempt ran) when the ledger has it.
 */
json_t *rm_run_report(const char *run_id, struct rm_err *err);

/*
 * The checkpoint relay, on an executor reached by ssh:// or slurm://
 * (rm-schedule run --relay -- COMMAND...): runs argv with descriptor 3 a
 * checkpoint socket (REMOTEMEDIA_CHECKPOINT_FD) and its output through the
 * relay, which writes each checkpoint on stderr as a marker line after the
 * output it covers (rm_run_relay.c). Returns the node's exit status (128 +
 * the signal when it was killed), or -code with err set.
 */
int rm_run_relay(char *const *argv, struct rm_err *err);

#endif
