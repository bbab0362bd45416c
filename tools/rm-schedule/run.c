/*
 * rm-schedule run and rm-schedule report: the command-line side of the
 * runner (common/rm_run.c). rm-schedule's main hands these verbs here.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rm_cache.h"
#include "rm_config.h"
#include "rm_doc.h"
#include "rm_err.h"
#include "rm_exgroup.h"
#include "rm_fs.h"
#include "rm_log.h"
#include "rm_pipeline.h"
#include "rm_probe.h"
#include "rm_pyrun.h"
#include "rm_registry.h"
#include "rm_run.h"
#include "rm_sched.h"
#include "rm_tool.h"
#include "run.h"

static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: rm-schedule run [-p POLICY] [--budget AMOUNT [--force]] [--run-id ID]\n"
	    "                       [-x ADVERT]...\n"
	    "                       [-d DIR]... [--no-local] [--grace SECONDS] [-j N] [--json]\n"
	    "                       [--insecure] PLAN|PIPELINE|PACKAGE\n"
	    "       rm-schedule run --resume RUN [--budget AMOUNT] [-x ADVERT]... [-d DIR]...\n"
	    "       rm-schedule report [--json | --format json|text] RUN\n"
	    "       rm-schedule run --relay -- COMMAND [ARG]...   (on an executor: the\n"
	    "                       checkpoint relay of ssh:// and slurm:// nodes)\n"
	    "  -p POLICY       planning policy when given a pipeline (default greedy)\n"
	    "  --budget N      refuse (exit 7) a plan whose estimated total exceeds N, and\n"
	    "                  stop the run (exit 7) when the accumulated cost reaches N;\n"
	    "                  kept with the run: --resume keeps it, --budget replaces it\n"
	    "  --force         start even when the estimate exceeds the budget\n"
	    "  --run-id ID     name the run (default: time and a random suffix)\n"
	    "  --resume RUN    finish an interrupted run; completed nodes are not run again,\n"
	    "                  the cost counts from what the run has spent already\n"
	    "  -x FILE, -d DIR adverts of the executors (default: the registry and this machine)\n"
	    "  --no-local      never add this machine for nodes without requirements\n"
	    "  --grace S       seconds between SIGTERM and SIGKILL when stopping (default 2)\n"
	    "  -j N            run at most N nodes at once (default: no limit)\n"
	    "  --json          print the results document instead of the sink output\n"
	    "  --insecure      fetch the package over plain HTTP or unverified TLS\n"
	    "  --registry URL  the executor registry (dir:PATH, etcd://HOST:PORT[/PREFIX])\n"
	    "PIPELINE is a .yaml, .yml, .json or .py pipeline; PACKAGE a .rmpkg file,\n"
	    "oci://HOST/REPO[:TAG|@DIGEST], a cached sha256:DIGEST or an OCI layout DIR[:TAG],\n"
	    "fetched through the cache; its pipeline runs with the package unpacked in\n"
	    "$REMOTEMEDIA_PACKAGE.\n");
}

enum { O_BUDGET = 256, O_RUNID, O_RESUME, O_NOLOCAL, O_GRACE, O_JSON, O_FORMAT, O_INSECURE,
	O_FORCE, O_REGISTRY };

static const struct option longopts[] = {
	{ "policy", required_argument, NULL, 'p' },
	{ "budget", required_argument, NULL, O_BUDGET },
	{ "force", no_argument, NULL, O_FORCE },
	{ "run-id", required_argument, NULL, O_RUNID },
	{ "resume", required_argument, NULL, O_RESUME },
	{ "no-local", no_argument, NULL, O_NOLOCAL },
	{ "grace", required_argument, NULL, O_GRACE },
	{ "jobs", required_argument, NULL, 'j' },
	{ "json", no_argument, NULL, O_JSON },
	{ "format", required_argument, NULL, O_FORMAT },
	{ "insecure", no_argument, NULL, O_INSECURE },
	{ "registry", required_argument, NULL, O_REGISTRY },
	{ "verbose", no_argument, NULL, 'v' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 }
};

static void
print_report(FILE *fp, const json_t *rep)
{
	const json_t *n, *a;
	size_t i, k;

	fprintf(fp, "run %s: %s\n", json_string_value(json_object_get(rep, "run")),
	    json_string_value(json_object_get(rep, "status")));
	fprintf(fp, "%-20s %-24s %-8s %10s %12s  %s\n", "NODE", "EXECUTOR", "STATUS", "SECONDS",
	    "COST", "REASON");
	json_array_foreach(json_object_get(rep, "nodes"), i, n) {
		if (json_array_size(json_object_get(n, "attempts")) == 0)
			fprintf(fp, "%-20s %-24s %-8s %10s %12.6f\n",
			    json_string_value(json_object_get(n, "id")), "-",
			    json_string_value(json_object_get(n, "status")), "-", 0.0);
		json_array_foreach(json_object_get(n, "attempts"), k, a)
			fprintf(fp, "%-20s %-24s %-8s %10.3f %12.6f  %s\n",
			    k ? "" : json_string_value(json_object_get(n, "id")),
			    json_string_value(json_object_get(a, "executor")),
			    json_string_value(json_object_get(a, "status")),
			    json_number_value(json_object_get(a, "duration_s")),
			    json_number_value(json_object_get(a, "cost")),
			    json_is_string(json_object_get(a, "reason")) ?
			    json_string_value(json_object_get(a, "reason")) : "");
		if (json_array_size(json_object_get(n, "attempts")) > 1)
			fprintf(fp, "%-20s %-24s %-8s %10.3f %12.6f\n", "", "  node total", "",
			    json_number_value(json_object_get(n, "duration_s")),
			    json_number_value(json_object_get(n, "cost")));
	}
	fprintf(fp, "%-20s %-24s %-8s %10s %12.6f", "TOTAL", "", "", "",
	    json_number_value(json_object_get(rep, "total_cost")));
	if (json_is_number(json_object_get(rep, "budget")))
		fprintf(fp, "  (budget %g)", json_number_value(json_object_get(rep, "budget")));
	fputc('\n', fp);
}

static int
cmd_report(int want_json, const char *id)
{
	struct rm_err err;
	json_t *rep;

	rm_err_clear(&err);
	if ((rep = rm_run_report(id, &err)) == NULL)
		return rm_err_print(&err);
	if (want_json)
		rm_json_print(stdout, rep, 1);
	else
		print_report(stdout, rep);
	fflush(stdout);
	json_decref(rep);
	return 0;
}

static int
is_plan(const char *file)
{
	struct rm_err err;
	json_t *doc;
	const char *s;
	int yes;

	rm_err_clear(&err);
	if ((doc = rm_doc_load(file, &err)) == NULL)
		return 0;
	s = json_string_value(json_object_get(doc, "schema"));
	yes = s != NULL && strncmp(s, "remotemedia.plan/", 17) == 0;
	json_decref(doc);
	return yes;
}

static int
has_ext(const char *p, const char *ext)
{
	size_t n = strlen(p), m = strlen(ext);

	return n > m && strcmp(p + n - m, ext) == 0;
}

enum run_input { IN_DOC, IN_PY, IN_PKG, IN_UNKNOWN };

/* What the argument of run is, by its form (nothing is opened but stat). */
static enum run_input
run_input(const char *arg)
{
	char dir[PATH_MAX];
	const char *colon = strrchr(arg, ':');

	if (strncmp(arg, "oci:", 4) == 0 || strncmp(arg, "sha256:", 7) == 0 ||
	    has_ext(arg, ".rmpkg") || rm_is_dir(arg))
		return IN_PKG;
	/* an OCI layout with a tag: DIR:TAG */
	if (colon != NULL && colon > arg && (size_t)(colon - arg) < sizeof(dir)) {
		snprintf(dir, sizeof(dir), "%.*s", (int)(colon - arg), arg);
		if (rm_is_dir(dir))
			return IN_PKG;
	}
	if (has_ext(arg, ".py"))
		return IN_PY;
	if (has_ext(arg, ".yaml") || has_ext(arg, ".yml") || has_ext(arg, ".json"))
		return IN_DOC;
	return IN_UNKNOWN;
}

/*
 * A package's pipeline: fetched through the cache (which applies the signature
 * policy of the mode), its manifest.json normalized, and every node without a
 * remote_ref of its own given the package (by digest, so that the runner
 * checks it again and sets REMOTEMEDIA_PACKAGE for the node).
 */
static json_t *
package_pipeline(const char *ref, int flags, struct rm_err *err)
{
	json_t *res = NULL, *raw = NULL, *pipe = NULL, *node;
	const char *dir, *digest;
	char mf[PATH_MAX];
	size_t i;

	if (rm_cache_fetch(ref, flags, &res, err) != 0)
		return NULL;
	dir = json_string_value(json_object_get(res, "path"));
	digest = json_string_value(json_object_get(res, "digest"));
	if (dir == NULL || digest == NULL) {
		rm_err_set(err, RM_EXIT_INTERNAL, ref, NULL, "the cache gave no package directory");
		goto out;
	}
	if (rm_path(mf, sizeof(mf), err, "%s/manifest.json", dir) != 0 ||
	    (raw = rm_pipeline_load(mf, err)) == NULL ||
	    (pipe = rm_pipeline_normalize(raw, mf, err)) == NULL)
		goto out;
	json_array_foreach(json_object_get(pipe, "nodes"), i, node)
		if (!json_is_string(json_object_get(node, "remote_ref")))
			json_object_set_new(node, "remote_ref", json_string(digest));
	rm_info("run: %s is package %s in %s", ref, digest, dir);
out:
	json_decref(raw);
	json_decref(res);
	return pipe;
}

/* A Python pipeline's document, made the way rm-build makes it. */
static json_t *
python_pipeline(const char *file, struct rm_err *err)
{
	char real[PATH_MAX];
	json_t *res = NULL, *pipe = NULL;

	if (realpath(file, real) == NULL) {
		rm_err_set(err, errno == ENOENT ? RM_EXIT_NOTFOUND : RM_EXIT_INVALID, file, NULL,
		    "cannot open: %s", strerror(errno));
		return NULL;
	}
	if (rm_python_pipeline(real, file, &res, err) != 0)
		return NULL;
	pipe = rm_pipeline_normalize(json_object_get(res, "manifest"), file, err);
	json_decref(res);
	return pipe;
}

/* The plan to run for the argument of run: 0, or an exit status (printed). */
static int
load_plan(const char *file, struct rm_sched *s, int flags, json_t **plan, struct rm_err *err)
{
	json_t *pipe = NULL, *raw;
	enum run_input in = run_input(file);

	if (in == IN_UNKNOWN && rm_tool_docker_ref(file))
		return RM_EXIT_USAGE;
	if (in == IN_UNKNOWN) {
		fprintf(stderr, "%s: run: cannot run \"%s\": expected a pipeline (.yaml, .yml, "
		    ".json or .py), a plan (.json), or a package (.rmpkg, oci://HOST/REPO:TAG, "
		    "sha256:DIGEST or an OCI layout directory)\n", rm_progname(), file);
		return RM_EXIT_USAGE;
	}
	if (in == IN_DOC && is_plan(file)) {
		if ((*plan = rm_doc_load(file, err)) == NULL ||
		    rm_doc_check_schema(*plan, "plan", 1, 1, file, err) != 0)
			return rm_err_print(err);
		return 0;
	}
	if (in == IN_PKG)
		pipe = package_pipeline(file, flags, err);
	else if (in == IN_PY)
		pipe = python_pipeline(file, err);
	else if ((raw = rm_pipeline_load(file, err)) != NULL) {
		pipe = rm_pipeline_normalize(raw, file, err);
		json_decref(raw);
	}
	if (pipe == NULL || (*plan = rm_sched_plan(s, pipe, file, err)) == NULL) {
		json_decref(pipe);
		return rm_err_print(err);
	}
	json_decref(pipe);
	return 0;
}

int
rm_run_main(int argc, char **argv)
{
	struct rm_sched_opts so;
	struct rm_exsources src;
	struct rm_run_opts ro;
	struct rm_exgroup g;
	struct rm_sched *s = NULL;
	struct rm_err err;
	const char **files, **dirs;
	const char *verb = argv[0], *resume = NULL, *format = NULL, *registry = NULL;
	json_t *plan = NULL, *approved = NULL, *res = NULL, *over = NULL;
	int c, verbose = RM_LOG_NORMAL, want_json = 0, force = 0, rc = 0, cache_flags = 0;
	long k;

	if (strcmp(verb, "run") == 0 && argc > 1 && strcmp(argv[1], "--relay") == 0) {
		/* on an executor: the node under the checkpoint relay */
		int i = argc > 2 && strcmp(argv[2], "--") == 0 ? 3 : 2;
		rm_err_clear(&err);
		rc = rm_run_relay(argv + i, &err);
		if (rc < 0) {
			rm_err_print(&err);
			return -rc;
		}
		return rc;
	}
	memset(&so, 0, sizeof(so));
	memset(&src, 0, sizeof(src));
	memset(&ro, 0, sizeof(ro));
	memset(&g, 0, sizeof(g));
	rm_err_clear(&err);
	so.policy = RM_POLICY_GREEDY;
	so.budget = -1;
	ro.budget = -1;
	ro.out_fd = STDOUT_FILENO;
	files = calloc((size_t)argc + 1, sizeof(*files));
	dirs = calloc((size_t)argc + 1, sizeof(*dirs));
	optind = 1;
	while ((c = getopt_long(argc, argv, "p:x:d:j:vqhV", longopts, NULL)) != -1) {
		switch (c) {
		case 'p':
			if (rm_policy_parse(optarg, &so.policy) != 0) {
				fprintf(stderr, "%s: -p: unknown policy \"%s\": expected greedy, balanced, "
				    "cost or latency\n", rm_progname(), optarg);
				rc = RM_EXIT_USAGE;
				goto out;
			}
			break;
		case O_BUDGET:
			if (rm_tool_parse_double(optarg, &ro.budget) != 0 || ro.budget < 0) {
				fprintf(stderr, "%s: --budget: expected a number >= 0, got \"%s\"\n",
				    rm_progname(), optarg);
				rc = RM_EXIT_USAGE;
				goto out;
			}
			break;
		case O_GRACE:
			if (rm_tool_parse_double(optarg, &ro.grace_s) != 0 || ro.grace_s <= 0) {
				fprintf(stderr, "%s: --grace: expected seconds > 0, got \"%s\"\n",
				    rm_progname(), optarg);
				rc = RM_EXIT_USAGE;
				goto out;
			}
			break;
		case 'j':
			if (rm_tool_parse_long(optarg, &k) != 0 || k < 1) {
				fprintf(stderr, "%s: -j: expected a count >= 1, got \"%s\"\n",
				    rm_progname(), optarg);
				rc = RM_EXIT_USAGE;
				goto out;
			}
			ro.max_parallel = (size_t)k;
			break;
		case O_RUNID:
		case O_RESUME:
			if (!rm_run_id_valid(optarg)) {
				fprintf(stderr, "%s: %s: invalid run id \"%s\": expected letters, digits, "
				    "'.', '_' or '-' (at most 64)\n", rm_progname(),
				    c == O_RUNID ? "--run-id" : "--resume", optarg);
				rc = RM_EXIT_USAGE;
				goto out;
			}
			if (c == O_RUNID)
				ro.run_id = optarg;
			else
				resume = optarg;
			break;
		case 'x': files[src.nfiles++] = optarg; break;
		case 'd': dirs[src.ndirs++] = optarg; break;
		case O_NOLOCAL: so.no_local = 1; src.no_local = 1; break;
		case O_JSON: want_json = 1; break;
		case O_INSECURE: cache_flags |= RM_CACHE_INSECURE; break;
		case O_FORCE: force = 1; break;
		case O_REGISTRY: registry = optarg; break;
		case O_FORMAT:
			if (strcmp(optarg, "json") != 0 && strcmp(optarg, "text") != 0) {
				fprintf(stderr, "%s: --format: expected json or text, got \"%s\"\n",
				    rm_progname(), optarg);
				rc = RM_EXIT_USAGE;
				goto out;
			}
			format = optarg;
			break;
		case 'v': verbose++; break;
		case 'q': verbose = RM_LOG_QUIET; break;
		case 'h': usage(stdout); goto out;
		case 'V': rm_tool_version(); goto out;
		default:
			usage(stderr);
			rc = RM_EXIT_USAGE;
			goto out;
		}
	}
	rm_log_set_level(verbose);
	rm_tool_banner();
	if (registry != NULL && rm_registry_select(registry, &err) != 0) {
		rc = rm_err_print(&err);
		goto out;
	}
	if (strcmp(verb, "report") == 0) {
		if (argc - optind != 1) {
			fprintf(stderr, "%s: report: expected one run id\n", rm_progname());
			usage(stderr);
			rc = RM_EXIT_USAGE;
			goto out;
		}
		rc = cmd_report(format ? strcmp(format, "json") == 0 : rm_tool_want_json(want_json),
		    argv[optind]);
		goto out;
	}
	if (resume != NULL ? argc != optind || ro.run_id != NULL : argc - optind != 1) {
		fprintf(stderr, "%s: run: expected one plan or pipeline file, or --resume RUN "
		    "alone\n", rm_progname());
		usage(stderr);
		rc = RM_EXIT_USAGE;
		goto out;
	}
	if (rm_config_approved(&approved, &err) != 0) {
		rc = rm_err_print(&err);
		goto out;
	}
	so.approved = approved;
	src.files = files;
	src.dirs = dirs;
	rm_exset_local_hook = rm_probe_local_advert;
	if (rm_exgroup_load(&g, &src, &err) != 0 || rm_sched_new(&g, &so, &s, &err) != 0) {
		rc = rm_err_print(&err);
		goto out;
	}
	if (resume == NULL && (rc = load_plan(argv[optind], s, cache_flags, &plan, &err)) != 0)
		goto out;
	/* as rm-schedule plan --budget: refused before anything starts */
	if (plan != NULL && !force && rm_sched_over_budget(plan, ro.budget, &over)) {
		rm_sched_print_budget(stderr, over);
		fprintf(stderr, "%s: run: not started (--force starts it anyway; the budget still "
		    "stops it when spent)\n", rm_progname());
		json_decref(over);
		rc = RM_EXIT_BUDGET;
		goto out;
	}
	ro.run_id = resume ? resume : ro.run_id;
	ro.resume = resume != NULL;
	ro.g = &g;
	ro.sched = s;
	if (want_json)
		ro.out_fd = -1;
	fflush(stdout);
	rc = rm_run_exec(plan, &ro, &res, &err);
	if (rc != 0) {
		rc = rm_err_print(&err);
		if (res != NULL)
			fprintf(stderr, "%s: details: %s/decisions.jsonl; cost: rm-schedule report %s\n",
			    rm_progname(), json_string_value(json_object_get(res, "dir")),
			    json_string_value(json_object_get(res, "run")));
	} else if (res != NULL)
		rm_info("run %s: ok, cost %.6f, in %s", json_string_value(json_object_get(res, "run")),
		    json_number_value(json_object_get(res, "total_cost")),
		    json_string_value(json_object_get(res, "dir")));
	if (res != NULL && rc == RM_EXIT_BUDGET) {
		struct rm_err e2;
		json_t *rep;
		rm_err_clear(&e2);
		rep = rm_run_report(json_string_value(json_object_get(res, "run")), &e2);
		if (rep != NULL) {
			fprintf(stderr, "%s: budget exceeded:\n", rm_progname());
			print_report(stderr, rep);
		}
		json_decref(rep);
	}
	if (want_json && res != NULL)
		rm_json_print(stdout, res, 1);
out:
	fflush(stdout);
	json_decref(res);
	json_decref(plan);
	json_decref(approved);
	rm_sched_free(s);
	rm_exgroup_release(&g);
	free(files);
	free(dirs);
	return rc;
}
