/*
 * rm-match: which executors can run this node, and why not the others.
 */
#include "config.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rm_advert.h"
#include "rm_config.h"
#include "rm_doc.h"
#include "rm_err.h"
#include "rm_exgroup.h"
#include "rm_fs.h"
#include "rm_home.h"
#include "rm_log.h"
#include "rm_match.h"
#include "rm_mcd.h"
#include "rm_probe.h"
#include "rm_registry.h"
#include "rm_tool.h"

static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: rm-match [--json] [--explain] [--all] [-x ADVERT]... [-d DIR]...\n"
	    "                [--query EXPR]... [--max-cost N] [--region R] [--sort KEY]\n"
	    "                [-n N] [--rescan | --cached] [--no-local] [--registry URL] [-v|-q]\n"
	    "                NODE...\n"
	    "       rm-match --model FILE|catalog:ID [--engine ECP|EXECUTOR] [--json]\n"
	    "       rm-match --follow [--registry etcd://...] [-v|-q]\n"
	    "  NODE       a node file or - (a node, an array of nodes, JSON lines, a pipeline)\n"
	    "  -x FILE    adverts from FILE (an advert, an array, JSON lines, YAML)\n"
	    "  -d DIR     adverts from every *.json/*.yaml file of DIR\n"
	    "             (default: the registry $REMOTEMEDIA_HOME/executors)\n"
	    "  --explain  per-clause view: what each requirement eliminated, best value seen\n"
	    "  --all      list rejected executors with their reasons even when some match\n"
	    "  --query    discovery: PATH OP VALUE, OP one of = != >= <= > <\n"
	    "  --max-cost N   drop executors priced above N per hour (or cost_tokens)\n"
	    "  --region R     closest region first\n"
	    "  --sort KEY     score (default), availability, cost, latency, id\n"
	    "  -n N       list at most N compatible executors\n"
	    "  --registry URL  dir:PATH or etcd://HOST:PORT[,HOST:PORT...][/PREFIX]\n"
	    "             (default: $REMOTEMEDIA_REGISTRY, registry: in config.yaml)\n"
	    "  --rescan   rebuild the registry index instead of trusting it\n"
	    "  --cached   match the last index as it is, without asking etcd (or reading\n"
	    "             the directory); warns how old it is\n"
	    "  --no-local do not add this machine when the registry lacks it\n"
	    "  --follow   keep the index of an etcd registry up to date from a watch,\n"
	    "             until a signal: matches then ask etcd its revision only\n"
	    "  --model    preflight a model (GGUF, .mcd.json sidecar, catalog:ID)\n"
	    "  --engine   the engine profile (ECP file or executor id) to check it against\n");
}

enum { O_EXPLAIN = 256, O_ALL, O_QUERY, O_MAXCOST, O_REGION, O_SORT, O_RESCAN, O_NOLOCAL,
	O_MODEL, O_ENGINE, O_JSON, O_REGISTRY, O_CACHED, O_FOLLOW };

static const struct option longopts[] = {
	{ "json", no_argument, NULL, O_JSON },
	{ "explain", no_argument, NULL, O_EXPLAIN },
	{ "all", no_argument, NULL, O_ALL },
	{ "query", required_argument, NULL, O_QUERY },
	{ "max-cost", required_argument, NULL, O_MAXCOST },
	{ "region", required_argument, NULL, O_REGION },
	{ "sort", required_argument, NULL, O_SORT },
	{ "limit", required_argument, NULL, 'n' },
	{ "rescan", no_argument, NULL, O_RESCAN },
	{ "cached", no_argument, NULL, O_CACHED },
	{ "follow", no_argument, NULL, O_FOLLOW },
	{ "registry", required_argument, NULL, O_REGISTRY },
	{ "no-local", no_argument, NULL, O_NOLOCAL },
	{ "model", required_argument, NULL, O_MODEL },
	{ "engine", required_argument, NULL, O_ENGINE },
	{ "verbose", no_argument, NULL, 'v' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 }
};

static void
print_table(const json_t *doc)
{
	json_t *list = json_object_get(doc, "executors"), *e;
	size_t i;

	printf("node %s: %s\n", json_string_value(json_object_get(doc, "node")),
	    json_string_value(json_object_get(doc, "summary")));
	if (json_array_size(list) == 0)
		return;
	printf("%-28s %6s  %-9s %s\n", "EXECUTOR", "SCORE", "DEGRADED", "ENDPOINT");
	json_array_foreach(list, i, e) {
		json_t *w;
		size_t k;
		printf("%-28s %6.1f  %-9s %s\n", json_string_value(json_object_get(e, "id")),
		    json_real_value(json_object_get(e, "score")),
		    json_is_true(json_object_get(e, "degraded")) ? "yes" : "no",
		    json_is_string(json_object_get(e, "endpoint")) ?
		    json_string_value(json_object_get(e, "endpoint")) : "-");
		json_array_foreach(json_object_get(e, "warnings"), k, w)
			printf("    warning: %s\n", json_string_value(w));
	}
}

/* When nothing matched: every executor and why, on stderr. */
static void
print_rejections(const json_t *doc)
{
	json_t *rej = json_object_get(doc, "rejected"), *e, *r;
	size_t i, k;

	fprintf(stderr, "%s: node %s: no compatible executor: %s\n", rm_progname(),
	    json_string_value(json_object_get(doc, "node")),
	    json_string_value(json_object_get(doc, "summary")));
	json_array_foreach(rej, i, e) {
		fprintf(stderr, "  %s (%s):", json_string_value(json_object_get(e, "id")),
		    json_string_value(json_object_get(e, "bucket")));
		json_array_foreach(json_object_get(e, "reasons"), k, r)
			fprintf(stderr, "%s %s", k ? ";" : "", json_string_value(json_object_get(r, "message")));
		fputc('\n', stderr);
	}
}

static void
print_clauses(const json_t *doc)
{
	json_t *cl = json_object_get(doc, "clauses"), *c;
	size_t i;

	fprintf(stderr, "%s: node %s: %s\n", rm_progname(),
	    json_string_value(json_object_get(doc, "node")),
	    json_string_value(json_object_get(doc, "summary")));
	json_array_foreach(cl, i, c) {
		char nb[200];
		json_t *best = json_object_get(c, "best");
		fprintf(stderr, "  %-28s %-10s need %-16s eliminated %lld",
		    json_string_value(json_object_get(c, "path")),
		    json_string_value(json_object_get(c, "compare")),
		    rm_json_brief(json_object_get(c, "need"), nb, sizeof(nb)),
		    (long long)json_integer_value(json_object_get(c, "eliminated")));
		if (best)
			fprintf(stderr, ", best %g", json_number_value(best));
		if (json_is_true(json_object_get(c, "preferred")))
			fprintf(stderr, " (preferred)");
		fputc('\n', stderr);
	}
}

static int
preflight(const char *model, const char *engine, int want_json)
{
	struct rm_err err;
	json_t *mcd, *ecp = NULL, *edoc = NULL, *reasons, *out;
	size_t i;
	json_t *r;
	int rc;

	rm_err_clear(&err);
	mcd = rm_mcd_load(model, &err);
	if (mcd == NULL)
		return rm_err_print(&err);
	if (rm_is_file(engine) || strcmp(engine, "-") == 0)
		edoc = rm_doc_load(engine, &err);
	else {
		edoc = rm_registry_get(engine, &err);
		if (edoc == NULL && err.code == RM_EXIT_INVALID && strchr(engine, '/') != NULL)
			rm_err_set(&err, RM_EXIT_NOTFOUND, engine, NULL, "no such file or executor");
	}
	if (edoc != NULL)
		ecp = rm_ecp_normalize(edoc, engine, &err);
	json_decref(edoc);
	if (ecp == NULL) {
		json_decref(mcd);
		return rm_err_print(&err);
	}
	reasons = rm_mcd_check(mcd, ecp);
	out = json_pack("{s:s,s:O,s:O,s:b,s:O}", "schema", "remotemedia.preflight/1", "model", mcd,
	    "engine", ecp, "compatible", json_array_size(reasons) == 0, "reasons", reasons);
	if (want_json)
		rm_json_print(stdout, out, 1);
	else {
		printf("model %s on %s: %s\n", json_string_value(json_object_get(mcd, "model_id")),
		    json_is_string(json_object_get(ecp, "worker_id")) ?
		    json_string_value(json_object_get(ecp, "worker_id")) : engine,
		    json_array_size(reasons) ? "incompatible" : "compatible");
	}
	json_array_foreach(reasons, i, r)
		fprintf(stderr, "%s: %s: %s\n", rm_progname(),
		    json_string_value(json_object_get(r, "code")),
		    json_string_value(json_object_get(r, "message")));
	rc = json_array_size(reasons) ? RM_EXIT_NEGATIVE : RM_EXIT_OK;
	json_decref(out);
	json_decref(reasons);
	json_decref(mcd);
	json_decref(ecp);
	return rc;
}

static volatile sig_atomic_t stop_signal;

static void
on_stop(int sig)
{
	stop_signal = sig;
}

static int
keep_following(void *ctx)
{
	(void)ctx;
	return !stop_signal;
}

/* --follow: until SIGINT or SIGTERM; 0 then. */
static int
follow(void)
{
	const struct rm_taxo *t;
	struct sigaction sa;
	struct rm_err err;

	if (rm_registry_url()->kind != RM_REG_ETCD) {
		fprintf(stderr, "rm-match: --follow needs an etcd registry (--registry etcd://...): "
		    "a directory's index is brought up to date by rm-probe register\n");
		return RM_EXIT_USAGE;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	rm_err_clear(&err);
	if ((t = rm_taxo_get(&err)) == NULL ||
	    rm_index_etcd_follow(t, keep_following, NULL, &err) != 0)
		return rm_err_print(&err);
	rm_info("stopped by signal %d", (int)stop_signal);
	return 0;
}

int
main(int argc, char **argv)
{
	struct rm_exsources src;
	struct rm_match_opts opts;
	struct rm_exgroup g;
	struct rm_err err;
	const struct rm_taxo *t;
	const char **files = NULL, **dirs = NULL, **queries = NULL;
	size_t nq = 0, i;
	const char *model = NULL, *engine = NULL, *registry = NULL;
	double maxcost = -1;
	int c, want_json = 0, verbose = RM_LOG_NORMAL, rc = 0, follow_mode = 0;
	long lim;
	json_t *nodes = NULL, *results = NULL;

	rm_tool_init(argc, argv);
	memset(&src, 0, sizeof(src));
	memset(&opts, 0, sizeof(opts));
	memset(&g, 0, sizeof(g));
	opts.limit = -1;
	files = calloc((size_t)argc, sizeof(*files));
	dirs = calloc((size_t)argc, sizeof(*dirs));
	queries = calloc((size_t)argc, sizeof(*queries));
	while ((c = getopt_long(argc, argv, "x:d:n:vqhV", longopts, NULL)) != -1) {
		switch (c) {
		case 'x': files[src.nfiles++] = optarg; break;
		case 'd': dirs[src.ndirs++] = optarg; break;
		case 'n':
			if (rm_tool_parse_long(optarg, &lim) != 0 || lim < 0) {
				fprintf(stderr, "rm-match: -n: expected a count, got \"%s\"\n", optarg);
				rc = RM_EXIT_USAGE;
				goto out;
			}
			opts.limit = lim;
			break;
		case 'v': verbose++; break;
		case 'q': verbose = RM_LOG_QUIET; break;
		case 'h': usage(stdout); goto out;
		case 'V': rm_tool_version(); goto out;
		case O_JSON: want_json = 1; break;
		case O_EXPLAIN: opts.explain = 1; break;
		case O_ALL: opts.all = 1; break;
		case O_QUERY: queries[nq++] = optarg; break;
		case O_MAXCOST:
			if (rm_tool_parse_double(optarg, &maxcost) != 0 || maxcost < 0) {
				fprintf(stderr, "rm-match: --max-cost: expected a number >= 0, got \"%s\"\n",
				    optarg);
				rc = RM_EXIT_USAGE;
				goto out;
			}
			break;
		case O_REGION: opts.region = optarg; break;
		case O_SORT:
			if (strcmp(optarg, "score") == 0) opts.sort = RM_SORT_SCORE;
			else if (strcmp(optarg, "availability") == 0) opts.sort = RM_SORT_AVAILABILITY;
			else if (strcmp(optarg, "cost") == 0) opts.sort = RM_SORT_COST;
			else if (strcmp(optarg, "latency") == 0) opts.sort = RM_SORT_LATENCY;
			else if (strcmp(optarg, "id") == 0) opts.sort = RM_SORT_ID;
			else {
				fprintf(stderr, "rm-match: --sort: expected score, availability, cost, "
				    "latency or id, got \"%s\"\n", optarg);
				rc = RM_EXIT_USAGE;
				goto out;
			}
			break;
		case O_RESCAN: src.no_index = 1; break;
		case O_CACHED: src.cached = 1; break;
		case O_FOLLOW: follow_mode = 1; break;
		case O_NOLOCAL: src.no_local = 1; break;
		case O_MODEL: model = optarg; break;
		case O_ENGINE: engine = optarg; break;
		case O_REGISTRY: registry = optarg; break;
		default:
			usage(stderr);
			rc = RM_EXIT_USAGE;
			goto out;
		}
	}
	rm_log_set_level(verbose);
	rm_tool_banner();
	want_json = rm_tool_want_json(want_json);
	rm_err_clear(&err);
	if (rm_registry_select(registry, &err) != 0) {
		rc = rm_err_print(&err);
		goto out;
	}
	if (follow_mode) {
		if (optind < argc || nq > 0 || model != NULL || src.cached || src.no_index) {
			fprintf(stderr, "rm-match: --follow takes no node, query, model, --cached or "
			    "--rescan\n");
			rc = RM_EXIT_USAGE;
		} else
			rc = follow();
		goto out;
	}
	if (src.cached && src.no_index) {
		fprintf(stderr, "rm-match: --cached and --rescan exclude each other\n");
		rc = RM_EXIT_USAGE;
		goto out;
	}
	if (engine != NULL && model == NULL) {
		fprintf(stderr, "rm-match: --engine needs --model\n");
		rc = RM_EXIT_USAGE;
		goto out;
	}
	if (model != NULL && engine != NULL) {
		rc = preflight(model, engine, want_json);
		goto out;
	}
	if (optind >= argc && nq == 0 && maxcost < 0 && model == NULL) {
		fprintf(stderr, "rm-match: no node given (a file, -, --query or --model)\n");
		usage(stderr);
		rc = RM_EXIT_USAGE;
		goto out;
	}
	t = rm_taxo_get(&err);
	if (t == NULL) {
		rc = rm_err_print(&err);
		goto out;
	}
	nodes = json_array();
	for (i = (size_t)optind; i < (size_t)argc; i++) {
		json_t *docs = rm_doc_load_many(argv[i], &err);
		if (docs == NULL) {
			rc = rm_err_print(&err);
			goto out;
		}
		if (!json_is_array(docs))
			docs = json_pack("[o]", docs);
		rm_match_nodes_of(docs, nodes);
		json_decref(docs);
	}
	if (model != NULL) {
		json_t *mcd = rm_mcd_load(model, &err), *req;
		if (mcd == NULL) {
			rc = rm_err_print(&err);
			goto out;
		}
		req = json_pack("{s:s,s:{s:{s:O,s:O,s:O,s:O}}}", "id",
		    json_string_value(json_object_get(mcd, "model_id")), "capabilities", "model",
		    "positional", json_object_get(mcd, "positional"), "attention",
		    json_object_get(mcd, "attention"), "quant", json_object_get(mcd, "quant"),
		    "context_max", json_object_get(mcd, "context_max"));
		json_array_append_new(nodes, req);
		json_decref(mcd);
	}
	if (json_array_size(nodes) == 0)
		json_array_append_new(nodes, json_pack("{s:s,s:{}}", "id", "query", "capabilities"));
	src.files = files;
	src.dirs = dirs;
	rm_exset_local_hook = rm_probe_local_advert;
	if (rm_config_approved(&opts.approved, &err) != 0) {
		rc = rm_err_print(&err);
		goto out;
	}
	if (rm_exgroup_load(&g, &src, &err) != 0) {
		rc = rm_err_print(&err);
		goto out;
	}
	results = json_array();
	for (i = 0; i < json_array_size(nodes); i++) {
		struct rm_node *node;
		json_t *doc;
		size_t ncompat, q;
		char name[64];

		snprintf(name, sizeof(name), "%s", optind < argc ? argv[optind] : "<query>");
		if (rm_node_compile(t, json_array_get(nodes, i), optind < argc && argc - optind == 1 ?
		    argv[optind] : name, &node, &err) != 0) {
			rc = rm_err_print(&err);
			goto out;
		}
		for (q = 0; q < nq; q++)
			if (rm_node_add_query(t, node, queries[q], &err) != 0) {
				rm_node_free(node);
				rc = rm_err_print(&err);
				goto out;
			}
		if (maxcost >= 0 && rm_node_add_max_cost(t, node, maxcost, &err) != 0) {
			rm_node_free(node);
			rc = rm_err_print(&err);
			goto out;
		}
		if (nq > 0 || maxcost >= 0) {
			/* discovery ranks by availability unless told otherwise */
			int sorted = 0;
			for (int a = 1; a < argc; a++)
				sorted |= strncmp(argv[a], "--sort", 6) == 0;
			if (!sorted)
				opts.sort = RM_SORT_AVAILABILITY;
		}
		doc = rm_match_node(node, &g, &opts, &ncompat, &err);
		rm_node_free(node);
		if (doc == NULL) {
			rc = rm_err_print(&err);
			goto out;
		}
		if (ncompat == 0) {
			rc = RM_EXIT_NEGATIVE;
			if (rm_log_level() >= RM_LOG_NORMAL)
				print_rejections(doc);
		} else if (opts.explain)
			print_clauses(doc);
		json_array_append_new(results, doc);
	}
	for (i = 0; i < json_array_size(results); i++) {
		if (want_json)
			rm_json_print(stdout, json_array_get(results, i), json_array_size(results) == 1);
		else
			print_table(json_array_get(results, i));
	}
out:
	fflush(stdout);
	json_decref(results);
	json_decref(nodes);
	json_decref(opts.approved);
	rm_exgroup_release(&g);
	free(files);
	free(dirs);
	free(queries);
	return rc;
}
