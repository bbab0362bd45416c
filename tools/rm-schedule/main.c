/*
 * rm-schedule: place whole pipelines on executors (plan), say why (explain),
 * and keep the nodes nothing can run yet (queue, reconcile).
 */
#include "config.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "rm_config.h"
#include "rm_doc.h"
#include "rm_err.h"
#include "rm_exgroup.h"
#include "rm_fs.h"
#include "rm_home.h"
#include "rm_log.h"
#include "rm_pipeline.h"
#include "rm_probe.h"
#include "rm_queue.h"
#include "rm_registry.h"
#include "rm_sched.h"
#include "rm_run.h"
#include "rm_tool.h"
#include "run.h"

static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: rm-schedule plan [-p greedy|balanced|cost|latency] [--budget AMOUNT]\n"
	    "                        [--format json|text|dot] [-x ADVERT]... [-d DIR]...\n"
	    "                        [-o FILE] [--measure] [--timeout MS] [--no-park]\n"
	    "                        [--no-local] [-k N] [--decisions top|full|basis] PIPELINE\n"
	    "       rm-schedule explain [--json] PLAN|RUN NODE\n"
	    "       rm-schedule queue [--json]\n"
	    "       rm-schedule reconcile [-p POLICY] [-x ADVERT]... [-d DIR]... [--json]\n"
	    "                             [--watch [--timeout SECONDS]]\n"
	    "       (plan, queue, reconcile and run also take --registry URL)\n"
	    "       rm-schedule run [-p POLICY] [--budget AMOUNT] [--run-id ID] PLAN|PIPELINE\n"
	    "       rm-schedule run --resume RUN;  rm-schedule report [--json] RUN\n"
	    "                     (rm-schedule run -h for the run options)\n"
	    "  -p POLICY     greedy (first by executor id), balanced (lowest load_score),\n"
	    "                cost (cheapest), latency (lowest latency); default greedy\n"
	    "  --budget N    refuse (exit 7) a plan whose estimated total exceeds N\n"
	    "  --format F    json (default when stdout is not a terminal), text, dot\n"
	    "  -x FILE       adverts from FILE; -d DIR: from every advert in DIR\n"
	    "                (default: the registry, with this machine added)\n"
	    "  -o FILE       also write the plan to FILE (atomically)\n"
	    "  --measure     latency: measure the TCP connect time to each endpoint\n"
	    "  --timeout MS  connect timeout for --measure (default 500)\n"
	    "  --watch       reconcile: wait on an etcd watch and place parked nodes as\n"
	    "                capable executors register, until none is parked (exit 0),\n"
	    "                --timeout SECONDS passes or SIGINT/SIGTERM comes (exit 1)\n"
	    "  --no-park     do not park unplaced nodes in the queue\n"
	    "  --no-local    never add this machine for nodes without requirements\n"
	    "  -k N          alternatives kept per node (default 5)\n"
	    "  --decisions full  record every executor in the decisions log\n"
	    "  --registry URL  dir:PATH or etcd[s]://HOST:PORT[,HOST:PORT...][/PREFIX]\n"
	    "                (default: $REMOTEMEDIA_REGISTRY, registry: in config.yaml)\n");
}

enum { O_BUDGET = 256, O_FORMAT, O_MEASURE, O_TIMEOUT, O_NOPARK, O_NOLOCAL, O_DECISIONS,
	O_JSON, O_REGISTRY, O_WATCH };

static const struct option longopts[] = {
	{ "policy", required_argument, NULL, 'p' },
	{ "registry", required_argument, NULL, O_REGISTRY },
	{ "budget", required_argument, NULL, O_BUDGET },
	{ "format", required_argument, NULL, O_FORMAT },
	{ "output", required_argument, NULL, 'o' },
	{ "measure", no_argument, NULL, O_MEASURE },
	{ "timeout", required_argument, NULL, O_TIMEOUT },
	{ "no-park", no_argument, NULL, O_NOPARK },
	{ "no-local", no_argument, NULL, O_NOLOCAL },
	{ "alternatives", required_argument, NULL, 'k' },
	{ "decisions", required_argument, NULL, O_DECISIONS },
	{ "json", no_argument, NULL, O_JSON },
	{ "watch", no_argument, NULL, O_WATCH },
	{ "verbose", no_argument, NULL, 'v' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 }
};

struct args {
	struct rm_sched_opts so;
	struct rm_exsources src;
	const char **files, **dirs;
	const char *format, *out, *registry;
	int policy_set, no_park, want_json, watch;
	double watch_timeout, watch_deadline;	/* reconcile --watch --timeout S (0: none) */
};

static void
print_unplaced(const json_t *plan)
{
	json_t *n, *t, *r;
	size_t i, j, k;

	json_array_foreach(json_object_get(plan, "nodes"), i, n) {
		if (json_is_string(json_object_get(n, "executor")))
			continue;
		fprintf(stderr, "%s: node %s: %s%s\n", rm_progname(),
		    json_string_value(json_object_get(n, "id")),
		    json_string_value(json_object_get(n, "reason")),
		    json_is_string(json_object_get(n, "queue_id")) ? " (parked)" : "");
		json_array_foreach(json_object_get(n, "tiers_tried"), j, t) {
			char nb[300];
			fprintf(stderr, "  tier %lld %s:\n",
			    (long long)json_integer_value(json_object_get(t, "tier")),
			    rm_json_brief(json_object_get(t, "requirements"), nb, sizeof(nb)));
			json_array_foreach(json_object_get(t, "rejected"), k, r) {
				json_t *why;
				size_t m;
				fprintf(stderr, "    %s (%s):", json_string_value(json_object_get(r, "id")),
				    json_string_value(json_object_get(r, "bucket")));
				json_array_foreach(json_object_get(r, "reasons"), m, why)
					fprintf(stderr, "%s %s", m ? ";" : "",
					    json_string_value(json_object_get(why, "message")));
				fputc('\n', stderr);
			}
		}
	}
}

static int
load_group(struct args *a, struct rm_exgroup *g, struct rm_err *err)
{
	a->src.files = a->files;
	a->src.dirs = a->dirs;
	rm_exset_local_hook = rm_probe_local_advert;
	return rm_exgroup_load(g, &a->src, err);
}

static int
cmd_plan(struct args *a, const char *file)
{
	struct rm_err err;
	struct rm_exgroup g;
	struct rm_sched *s = NULL;
	json_t *raw = NULL, *pipe = NULL, *plan = NULL, *approved = NULL, *b = NULL;
	int rc = 0, over;

	rm_err_clear(&err);
	memset(&g, 0, sizeof(g));
	if ((raw = rm_pipeline_load(file, &err)) == NULL) {
		rc = rm_err_print(&err);
		goto out;
	}
	/* rm_pipeline_load answers the canonical, validated form */
	pipe = raw;
	raw = NULL;
	if (rm_config_approved(&approved, &err) != 0) {
		rc = rm_err_print(&err);
		goto out;
	}
	a->so.approved = approved;
	if (load_group(a, &g, &err) != 0) {
		rc = rm_err_print(&err);
		goto out;
	}
	if (rm_sched_new(&g, &a->so, &s, &err) != 0 ||
	    (plan = rm_sched_plan(s, pipe, file, &err)) == NULL) {
		rc = rm_err_print(&err);
		goto out;
	}
	over = rm_sched_over_budget(plan, a->so.budget, &b);
	if (over) {
		json_object_set_new(plan, "status", json_string("over_budget"));
		json_object_set(plan, "budget_exceeded", b);
		rm_sched_print_budget(stderr, b);
		rc = RM_EXIT_BUDGET;
	} else if (strcmp(json_string_value(json_object_get(plan, "status")), "planned") != 0) {
		if (!a->no_park) {
			if (rm_sched_park(plan, a->out, &err) != 0) {
				rc = rm_err_print(&err);
				goto out;
			}
		} else
			json_object_set_new(plan, "status", json_string("partial"));
		if (rm_log_level() >= RM_LOG_NORMAL)
			print_unplaced(plan);
		rc = RM_EXIT_NEGATIVE;
	}
	if (a->out != NULL && !over && rm_json_write_file(a->out, plan, &err) != 0) {
		rc = rm_err_print(&err);
		goto out;
	}
	if (strcmp(a->format, "dot") == 0) {
		char *dot = rm_sched_dot(plan);
		fputs(dot, stdout);
		free(dot);
	} else if (strcmp(a->format, "text") == 0)
		rm_sched_print_text(stdout, plan);
	else
		/* a stream: one compact object (files written with -o are indented) */
		rm_json_print(stdout, plan, isatty(STDOUT_FILENO));
out:
	fflush(stdout);
	if (!RM_FREE_AT_EXIT)
		return rc;	/* main exits next: the exit frees all of it */
	json_decref(b);
	json_decref(plan);
	json_decref(pipe);
	json_decref(raw);
	json_decref(approved);
	rm_sched_free(s);
	rm_exgroup_release(&g);
	return rc;
}

static int
cmd_explain(struct args *a, const char *planfile, const char *node)
{
	struct rm_err err;
	json_t *plan, *n, *d;
	size_t i;

	rm_err_clear(&err);
	/* a run id names the plan kept in its run directory */
	if (!rm_is_file(planfile) && rm_run_id_valid(planfile)) {
		static char runplan[1100];
		if (rm_run_dir(planfile, runplan, sizeof(runplan) - 12, 0, &err) == 0) {
			strcat(runplan, "/plan.json");
			if (rm_is_file(runplan))
				planfile = runplan;
		}
		rm_err_clear(&err);
	}
	/* the members explain reads, else (YAML, stdin, odd JSON) the whole plan */
	if (strcmp(planfile, "-") == 0 || (plan = rm_sched_plan_skim(planfile, node, &err)) == NULL) {
		rm_err_clear(&err);
		if ((plan = rm_doc_load_max(planfile, RM_PLAN_MAX_BYTES, &err)) == NULL)
			return rm_err_print(&err);
	}
	if (rm_doc_check_schema(plan, "plan", 1, 1, planfile, &err) != 0) {
		json_decref(plan);
		return rm_err_print(&err);
	}
	d = rm_sched_explain_node(plan, node, planfile, &err);
	if (d == NULL && err.code == RM_EXIT_NOTFOUND && json_object_get(plan, "nodes") == NULL) {
		/* skimmed (an id written with escapes is not seen): read it whole */
		json_decref(plan);
		rm_err_clear(&err);
		if ((plan = rm_doc_load_max(planfile, RM_PLAN_MAX_BYTES, &err)) == NULL)
			return rm_err_print(&err);
		d = rm_sched_explain_node(plan, node, planfile, &err);
	}
	if (d == NULL && err.code != RM_EXIT_NOTFOUND) {
		json_decref(plan);
		return rm_err_print(&err);
	}
	if (d == NULL) {
		fprintf(stderr, "%s: %s: no node '%s' in the plan; nodes:", rm_progname(), planfile,
		    node);
		json_array_foreach(json_object_get(plan, "nodes"), i, n)
			fprintf(stderr, " %s", json_string_value(json_object_get(n, "id")));
		fputc('\n', stderr);
		json_decref(plan);
		return RM_EXIT_NOTFOUND;
	}
	if (a->want_json) {
		/* the decision with its tier records resolved: one self-contained answer */
		json_t *copy = json_deep_copy(d), *tiers = json_object_get(copy, "tiers"), *t;
		json_array_foreach(tiers, i, t) {
			const json_t *rec = rm_sched_tier_record(plan, t);
			json_t *own = rec ? json_deep_copy(rec) : json_null();
			json_t *for_secs = json_object_get(own, "policy_values_for_seconds");
			json_t *secs = json_object_get(copy, "estimated_seconds"), *e;
			size_t k;
			/* shared records hold costs for another node's duration: rescale */
			if (json_is_number(for_secs) && json_number_value(for_secs) > 0 &&
			    json_is_number(secs)) {
				double f = json_number_value(secs) / json_number_value(for_secs);
				json_array_foreach(json_object_get(own, "executors"), k, e)
					if (json_is_number(json_object_get(e, "policy_value")))
						json_object_set_new(e, "policy_value", json_real(
						    json_number_value(json_object_get(e, "policy_value")) * f));
				json_object_del(own, "policy_values_for_seconds");
			}
			json_array_set_new(tiers, i, own);
		}
		rm_json_print(stdout, copy, 1);
		json_decref(copy);
	} else
		rm_sched_print_explain(stdout, plan, d);
	json_decref(d);
	json_decref(plan);
	return 0;
}

static int
cmd_queue(struct args *a)
{
	struct rm_err err;
	json_t *list, *e;
	size_t i;

	rm_err_clear(&err);
	if ((list = rm_sched_queue_list(&err)) == NULL)
		return rm_err_print(&err);
	if (a->want_json)
		rm_json_print(stdout, list, 1);
	else {
		printf("%-40s %-20s %-9s %s\n", "ID", "NODE", "POLICY", "PARKED AT");
		json_array_foreach(list, i, e)
			printf("%-40s %-20s %-9s %s\n    %s\n",
			    json_string_value(json_object_get(e, "id")),
			    json_string_value(json_object_get(json_object_get(e, "node"), "id")),
			    json_string_value(json_object_get(e, "policy")),
			    json_string_value(json_object_get(e, "parked_at")),
			    json_string_value(json_object_get(e, "reason")));
	}
	json_decref(list);
	return 0;
}

/* One reconcile pass; *res its result ({placed, still_parked, claimed_elsewhere}). */
static int
reconcile_pass(struct args *a, json_t *approved, json_t **res, struct rm_err *err)
{
	struct rm_exgroup g;
	struct rm_sched *s = NULL;
	int r = 0;

	memset(&g, 0, sizeof(g));
	*res = NULL;
	a->so.approved = approved;
	if (load_group(a, &g, err) != 0 || rm_sched_new(&g, &a->so, &s, err) != 0 ||
	    (*res = rm_sched_reconcile(s, !a->policy_set, err)) == NULL)
		r = -err->code;
	rm_sched_free(s);
	rm_exgroup_release(&g);
	return r;
}

/* The placements of a pass, as they happen (text); --json prints the whole at the end. */
static void
print_placed(const struct args *a, const json_t *res)
{
	const json_t *p;
	size_t i;

	if (!a->want_json)
		json_array_foreach(json_object_get(res, "placed"), i, p)
			printf("placed %s on %s: %s\n", json_string_value(json_object_get(p, "node")),
			    json_string_value(json_object_get(p, "executor")),
			    json_string_value(json_object_get(p, "reason")));
	fflush(stdout);
	json_array_foreach(json_object_get(res, "claimed_elsewhere"), i, p)
		fprintf(stderr, "%s: %s not placed here: another reconciler claimed it first\n",
		    rm_progname(), json_string_value(json_object_get(p, "node")));
}

static int
print_still(const json_t *res)
{
	const json_t *p;
	size_t i;

	json_array_foreach(json_object_get(res, "still_parked"), i, p)
		fprintf(stderr, "%s: %s still parked: %s\n", rm_progname(),
		    json_string_value(json_object_get(p, "node")),
		    json_string_value(json_object_get(p, "reason")));
	return json_array_size(json_object_get(res, "still_parked")) ? RM_EXIT_NEGATIVE : 0;
}

static volatile sig_atomic_t stop_signal;

static void
on_stop(int sig)
{
	stop_signal = sig;
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* rm_queue_wait's question: go on watching? (no signal, before the deadline) */
static int
keep_watching(void *ctx)
{
	const struct args *a = ctx;

	return !stop_signal && (a->watch_timeout <= 0 || now_s() < a->watch_deadline);
}

/* Adds the pass's placed and claimed_elsewhere to total; still_parked replaces. */
static void
merge_pass(json_t *total, const json_t *res)
{
	json_array_extend(json_object_get(total, "placed"), json_object_get(res, "placed"));
	json_array_extend(json_object_get(total, "claimed_elsewhere"),
	    json_object_get(res, "claimed_elsewhere"));
	json_object_set(total, "still_parked", json_object_get(res, "still_parked"));
}

/* One wait for a change; 0 reconcile again, else the exit status. */
static int
watch_wait(struct args *a, long long rev, struct rm_err *err)
{
	long long next;
	int r = rm_queue_wait(rev + 1, keep_watching, a, &next, err);

	if (r == 0)
		return 0;
	if (r == 1) {
		if (stop_signal)
			fprintf(stderr, "%s: reconcile --watch: stopped by signal %d\n", rm_progname(),
			    (int)stop_signal);
		else
			fprintf(stderr, "%s: reconcile --watch: timed out after %g s\n", rm_progname(),
			    a->watch_timeout);
		return RM_EXIT_NEGATIVE;
	}
	if (r == 2) {
		rm_warn("%s; reading the whole queue again", err->msg);
		return 0;
	}
	/* a stream that broke (a member went down): read again, through any endpoint */
	rm_warn("%s; reading the queue again", err->msg);
	if (keep_watching(a))
		sleep(1);
	return 0;
}

/* reconcile --watch: passes until the queue is empty, the time is out or a signal came. */
static int
reconcile_watch(struct args *a, json_t *approved)
{
	struct sigaction sa;
	struct rm_err err;
	json_t *total = json_pack("{s:[],s:[],s:[]}", "placed", "still_parked",
	    "claimed_elsewhere"), *res;
	long long rev;
	int rc = 0, passes = 0;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	a->watch_deadline = now_s() + a->watch_timeout;
	rm_err_clear(&err);
	for (;;) {
		/* the revision before the pass: nothing after it can be missed */
		if (rm_queue_revision(&rev, &err) != 0 || reconcile_pass(a, approved, &res, &err) != 0) {
			rc = rm_err_print(&err);
			break;
		}
		print_placed(a, res);
		merge_pass(total, res);
		json_decref(res);
		if (json_array_size(json_object_get(total, "still_parked")) == 0)
			break;
		if (passes++ == 0)
			rm_info("%zu node(s) still parked; watching etcd from revision %lld",
			    json_array_size(json_object_get(total, "still_parked")), rev + 1);
		if ((rc = watch_wait(a, rev, &err)) != 0)
			break;
		rm_err_clear(&err);
	}
	if (rc == 0 || rc == RM_EXIT_NEGATIVE) {
		if (a->want_json)
			rm_json_print(stdout, total, 1);
		rc = print_still(total);
	}
	fflush(stdout);
	json_decref(total);
	return rc;
}

static int
cmd_reconcile(struct args *a)
{
	struct rm_err err;
	json_t *res = NULL, *approved = NULL;
	int rc;

	rm_err_clear(&err);
	if (rm_config_approved(&approved, &err) != 0)
		return rm_err_print(&err);
	if (a->watch) {
		rc = reconcile_watch(a, approved);
		json_decref(approved);
		return rc;
	}
	if (reconcile_pass(a, approved, &res, &err) != 0) {
		json_decref(approved);
		return rm_err_print(&err);
	}
	if (a->want_json)
		rm_json_print(stdout, res, 1);
	print_placed(a, res);
	rc = print_still(res);
	json_decref(res);
	json_decref(approved);
	return rc;
}

/* --watch and --timeout of queue and reconcile: -1 (said) when misused. */
static int
watch_usage(const struct args *a, const char *verb)
{
	struct rm_err err;

	rm_err_clear(&err);
	if ((a->watch || a->watch_timeout > 0) && verb[0] == 'q') {
		fprintf(stderr, "%s: queue: --watch and --timeout belong to reconcile\n",
		    rm_progname());
		return -1;
	}
	if (a->watch_timeout > 0 && !a->watch) {
		fprintf(stderr, "%s: reconcile: --timeout needs --watch\n", rm_progname());
		return -1;
	}
	/* a registry that cannot be chosen is reported by reconcile itself */
	if (a->watch && rm_registry_select(NULL, &err) == 0 &&
	    rm_registry_url()->kind != RM_REG_ETCD) {
		fprintf(stderr, "%s: reconcile --watch needs an etcd registry (--registry "
		    "etcd://..., REMOTEMEDIA_REGISTRY or registry: in config.yaml): a "
		    "directory registry has no watch; run reconcile from cron instead\n",
		    rm_progname());
		return -1;
	}
	return 0;
}

/* Everything but run and report (rm_run_main); a's arrays are freed by main. */
static int
schedule_main(struct args *a, int argc, char **argv)
{
	const char *verb;
	struct rm_err err;
	int c, verbose = RM_LOG_NORMAL;
	long k;

	a->so.policy = RM_POLICY_GREEDY;
	a->so.budget = -1;
	if (argc > 1 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
		usage(stdout);
		return 0;
	}
	if (argc > 1 && (strcmp(argv[1], "-V") == 0 || strcmp(argv[1], "--version") == 0)) {
		rm_tool_version();
		return 0;
	}
	if (argc < 2 || argv[1][0] == '-') {
		fprintf(stderr, "%s: missing command (plan, explain, queue, reconcile, run, report)\n",
		    rm_progname());
		usage(stderr);
		return RM_EXIT_USAGE;
	}
	if (strcmp(argv[1], "run") == 0 || strcmp(argv[1], "report") == 0)
		return rm_run_main(argc - 1, argv + 1);
	a->files = calloc((size_t)argc + 1, sizeof(*a->files));
	a->dirs = calloc((size_t)argc + 1, sizeof(*a->dirs));
	verb = argv[1];
	argc--;
	argv++;
	while ((c = getopt_long(argc, argv, "p:o:x:d:k:vqhV", longopts, NULL)) != -1) {
		switch (c) {
		case 'p':
			if (rm_policy_parse(optarg, &a->so.policy) != 0) {
				fprintf(stderr, "%s: -p: unknown policy \"%s\": expected greedy, balanced, "
				    "cost or latency\n", rm_progname(), optarg);
				return RM_EXIT_USAGE;
			}
			a->policy_set = 1;
			break;
		case O_BUDGET:
			if (rm_tool_parse_double(optarg, &a->so.budget) != 0 || a->so.budget < 0) {
				fprintf(stderr, "%s: --budget: expected a number >= 0, got \"%s\"\n",
				    rm_progname(), optarg);
				return RM_EXIT_USAGE;
			}
			break;
		case O_FORMAT:
			if (strcmp(optarg, "json") != 0 && strcmp(optarg, "text") != 0 &&
			    strcmp(optarg, "dot") != 0) {
				fprintf(stderr, "%s: --format: expected json, text or dot, got \"%s\"\n",
				    rm_progname(), optarg);
				return RM_EXIT_USAGE;
			}
			a->format = optarg;
			break;
		case 'o': a->out = optarg; break;
		case 'x': a->files[a->src.nfiles++] = optarg; break;
		case 'd': a->dirs[a->src.ndirs++] = optarg; break;
		case 'k':
			if (rm_tool_parse_long(optarg, &k) != 0 || k < 1) {
				fprintf(stderr, "%s: -k: expected a count >= 1, got \"%s\"\n",
				    rm_progname(), optarg);
				return RM_EXIT_USAGE;
			}
			a->so.topk = (size_t)k;
			break;
		case O_MEASURE: a->so.measure = 1; break;
		case O_TIMEOUT:
			if (strcmp(verb, "reconcile") == 0) {
				if (rm_tool_parse_double(optarg, &a->watch_timeout) != 0 ||
				    a->watch_timeout <= 0) {
					fprintf(stderr, "%s: --timeout: expected seconds (> 0), got \"%s\"\n",
					    rm_progname(), optarg);
					return RM_EXIT_USAGE;
				}
				break;
			}
			if (rm_tool_parse_long(optarg, &k) != 0 || k < 1 || k > 60000) {
				fprintf(stderr, "%s: --timeout: expected milliseconds (1-60000), got \"%s\"\n",
				    rm_progname(), optarg);
				return RM_EXIT_USAGE;
			}
			a->so.measure_timeout_ms = (int)k;
			break;
		case O_NOPARK: a->no_park = 1; break;
		case O_NOLOCAL: a->so.no_local = 1; a->src.no_local = 1; break;
		case O_DECISIONS:
			if (strcmp(optarg, "full") == 0)
				a->so.full = 1;
			else if (strcmp(optarg, "basis") == 0)
				a->so.basis = 1;
			else if (strcmp(optarg, "top") != 0) {
				fprintf(stderr, "%s: --decisions: expected top, full or basis, got \"%s\"\n",
				    rm_progname(), optarg);
				return RM_EXIT_USAGE;
			}
			break;
		case O_JSON: a->want_json = 1; break;
		case O_WATCH: a->watch = 1; break;
		case O_REGISTRY: a->registry = optarg; break;
		case 'v': verbose++; break;
		case 'q': verbose = RM_LOG_QUIET; break;
		case 'h': usage(stdout); return 0;
		case 'V': rm_tool_version(); return 0;
		default:
			usage(stderr);
			return RM_EXIT_USAGE;
		}
	}
	rm_log_set_level(verbose);
	rm_tool_banner();
	if (a->registry != NULL && rm_registry_select(a->registry, &err) != 0)
		return rm_err_print(&err);
	a->want_json = rm_tool_want_json(a->want_json);
	if (a->format == NULL)
		a->format = a->want_json ? "json" : "text";
	else
		a->want_json = strcmp(a->format, "json") == 0;
	if (strcmp(verb, "plan") == 0) {
		if (argc - optind != 1) {
			fprintf(stderr, "%s: plan: expected one pipeline file\n", rm_progname());
			usage(stderr);
			return RM_EXIT_USAGE;
		}
		return cmd_plan(a, argv[optind]);
	}
	if (strcmp(verb, "explain") == 0) {
		if (argc - optind != 2) {
			fprintf(stderr, "%s: explain: expected PLAN NODE\n", rm_progname());
			usage(stderr);
			return RM_EXIT_USAGE;
		}
		return cmd_explain(a, argv[optind], argv[optind + 1]);
	}
	if (strcmp(verb, "queue") == 0 || strcmp(verb, "reconcile") == 0) {
		if (argc != optind) {
			fprintf(stderr, "%s: %s: no arguments expected\n", rm_progname(), verb);
			usage(stderr);
			return RM_EXIT_USAGE;
		}
		if (watch_usage(a, verb) != 0)
			return RM_EXIT_USAGE;
		return verb[0] == 'q' ? cmd_queue(a) : cmd_reconcile(a);
	}
	fprintf(stderr, "%s: unknown command \"%s\": expected plan, explain, queue, reconcile, "
	    "run or report\n",
	    rm_progname(), verb);
	usage(stderr);
	return RM_EXIT_USAGE;
}

int
main(int argc, char **argv)
{
	struct args a;
	int rc;

	rm_tool_init(argc, argv);
	memset(&a, 0, sizeof(a));
	rc = schedule_main(&a, argc, argv);
	free(a.files);
	free(a.dirs);
	return rc;
}
