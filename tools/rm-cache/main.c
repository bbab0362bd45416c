/*
 * rm-cache: the package cache. fetch pulls packages from OCI registries,
 * image layouts or peers into $REMOTEMEDIA_HOME (verified before they
 * become visible); serve offers them to one peer; ls, path, verify, gc and
 * clear look after it.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rm_cache.h"
#include "rm_doc.h"
#include "rm_err.h"
#include "rm_home.h"
#include "rm_log.h"
#include "rm_p2p.h"
#include "rm_pipeline.h"
#include "rm_tool.h"

static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: rm-cache fetch [--refresh] [--offline] [--insecure] [--package] [-j N] REF...\n"
	    "       rm-cache fetch [--refresh] [--offline] [--insecure] --pipeline PIPELINE\n"
	    "       rm-cache fetch --peer COMMAND [--timeout S] REF...\n"
	    "       rm-cache serve [--stdio] [--timeout S]\n"
	    "       rm-cache ls | path [--package] REF | verify | gc | clear (REF | --all)\n"
	    "\n"
	    "REF: oci://HOST[:PORT]/REPO[:TAG|@sha256:HEX], an OCI image layout directory\n"
	    "(DIR, DIR:TAG, oci:DIR:TAG), a cached digest (sha256:HEX or 12+ hex digits) or\n"
	    "a .rmpkg file. A reference fetched before is answered from the cache without\n"
	    "any network request.\n"
	    "  --refresh        resolve tags again (re-fetch a changed package)\n"
	    "  --offline        never use the network: a miss is exit 1\n"
	    "  --insecure       allow plain HTTP or unverified TLS\n"
	    "  --pipeline FILE  fetch every remote_ref of the pipeline's nodes\n"
	    "  --package        fetch, path: also make the .rmpkg file (a package from a\n"
	    "                   registry is kept as blobs and its unpacked tree)\n"
	    "  -j, --jobs N     references fetched at once (default 4)\n"
	    "  --peer COMMAND   fetch from the peer cache COMMAND starts, e.g.\n"
	    "                   'ssh HOST rm-cache serve --stdio' (signaling on its stdin\n"
	    "                   and stdout; the bytes over a WebRTC data channel)\n"
	    "  --stdio          serve: signaling on stdin and stdout (the only way)\n"
	    "  --timeout S      peer: give up after S seconds of silence (default 30)\n"
	    "  --all            clear: remove every package and blob\n"
	    "  --json           JSON output (the default when stdout is not a terminal)\n"
	    "  -v, --verbose / -q, --quiet / -h, --help / --version\n");
}

static void
print_entries(const json_t *entries)
{
	size_t i;
	const json_t *e;

	if (json_array_size(entries) == 0)
		printf("(the cache is empty)\n");
	json_array_foreach(entries, i, e) {
		const json_t *refs = json_object_get(e, "refs"), *r;
		size_t k;
		char sz[32];
		printf("%.19s  %-20s %-10s %10s\n", json_string_value(json_object_get(e, "digest")),
		    json_is_string(json_object_get(e, "name")) ?
		    json_string_value(json_object_get(e, "name")) : "?",
		    json_is_string(json_object_get(e, "version")) ?
		    json_string_value(json_object_get(e, "version")) : "",
		    rm_tool_size((unsigned long long)json_integer_value(json_object_get(e, "size")),
		    sz, sizeof(sz)));
		json_array_foreach(refs, k, r)
			printf("    %s\n", json_string_value(r));
	}
}

static void
print_report(const json_t *rep, const char *none)
{
	size_t i;
	const json_t *e;

	if (json_array_size(rep) == 0)
		printf("%s\n", none);
	json_array_foreach(rep, i, e)
		printf("%-9s %s: %s\n", json_string_value(json_object_get(e, "what")),
		    json_string_value(json_object_get(e, "path")),
		    json_string_value(json_object_get(e, "problem")));
}

static int
pipeline_refs(const char *path, json_t **refs, struct rm_err *err)
{
	json_t *doc = rm_pipeline_load(path, err), *n;
	size_t i;

	if (doc == NULL)
		return -err->code;
	*refs = json_array();
	json_array_foreach(json_object_get(doc, "nodes"), i, n) {
		const char *r = json_string_value(json_object_get(n, "remote_ref"));
		if (r != NULL)
			json_array_append_new(*refs, json_string(r));
	}
	json_decref(doc);
	return 0;
}

/* path: the directory, or with --package the .rmpkg (made when not there). */
static int
do_path(const char *ref, const char *hex, int flags, int json)
{
	char d[4200], p[4200];
	struct rm_err err;
	json_t *out;

	rm_err_clear(&err);
	snprintf(d, sizeof(d), "%s/pipelines/%s", rm_home(), hex);
	if ((flags & RM_CACHE_PACKAGE) && rm_cache_package(hex, p, sizeof(p), &err) != 0)
		return rm_err_print(&err);
	if (json) {
		out = json_pack("{ss ss+ ss}", "ref", ref, "digest", "sha256:", hex, "path", d);
		if (flags & RM_CACHE_PACKAGE)
			json_object_set_new(out, "package", json_string(p));
		rm_json_print(stdout, out, 0);
		json_decref(out);
	} else
		printf("%s\n", flags & RM_CACHE_PACKAGE ? p : d);
	return 0;
}

struct cli {
	const char *pipeline, *peer;
	int json, flags, all, level, stdio;
	long jobs, timeout;
};

static int
do_fetch(int argc, char **argv, const struct cli *o, int json)
{
	const char *pipeline = o->pipeline;
	int flags = o->flags;
	struct rm_err err;
	json_t *refs = NULL, *results = NULL, *r;
	const char **v;
	size_t n, i;
	int worst;

	rm_err_clear(&err);
	if (pipeline != NULL) {
		if (argc > 0) {
			fprintf(stderr, "%s: fetch: references and --pipeline given together: "
			    "give one or the other\n", rm_progname());
			usage(stderr);
			return RM_EXIT_USAGE;
		}
		if (pipeline_refs(pipeline, &refs, &err) != 0)
			return rm_err_print(&err);
	} else {
		if (argc == 0) {
			fprintf(stderr, "%s: fetch: missing the reference (oci://HOST/REPO:TAG, an OCI "
			    "layout, a .rmpkg or a cached digest) or --pipeline FILE\n", rm_progname());
			usage(stderr);
			return RM_EXIT_USAGE;
		}
		refs = json_array();
		for (i = 0; i < (size_t)argc; i++) {
			if (rm_tool_docker_ref(argv[i])) {
				json_decref(refs);
				return RM_EXIT_USAGE;
			}
			json_array_append_new(refs, json_string(argv[i]));
		}
	}
	n = json_array_size(refs);
	v = calloc(n + 1, sizeof(*v));
	for (i = 0; i < n; i++)
		v[i] = json_string_value(json_array_get(refs, i));
	if (o->peer != NULL)
		worst = rm_p2p_fetch(o->peer, v, n, flags, (int)o->timeout * 1000, &results, &err);
	else
		worst = rm_cache_fetch_many(v, n, flags, (int)o->jobs, &results, &err);
	if (worst < 0 || results == NULL) {
		free(v);
		json_decref(refs);
		return rm_err_print(&err);
	}
	json_array_foreach(results, i, r) {
		if (json_object_get(r, "error") != NULL) {
			fprintf(stderr, "%s: cannot fetch %s: %s\n", rm_progname(), v[i],
			    json_string_value(json_object_get(r, "error")));
			/* no other source helps a package refused by the signature policy */
			if ((pipeline != NULL || (flags & RM_CACHE_OFFLINE) == 0) && o->peer == NULL &&
			    json_integer_value(json_object_get(r, "exit")) != RM_EXIT_INTEGRITY)
				fprintf(stderr, "%s: hint: use --offline to run from cached packages "
				    "only, or run the node locally\n", rm_progname());
		}
	}
	if (json)
		rm_json_print(stdout, results, 0);
	else
		json_array_foreach(results, i, r) {
			const char *src = json_string_value(json_object_get(r, "source"));
			if (json_object_get(r, "error") != NULL)
				continue;
			printf("%s  %s%s", json_string_value(json_object_get(r, "digest")),
			    json_string_value(json_object_get(r, "ref")),
			    json_is_true(json_object_get(r, "cached")) ? "  (cached)" : "");
			if (src != NULL && strncmp(src, "peer:", 5) == 0)
				printf("  (from peer '%s')", src + 5);
			printf("\n");
		}
	free(v);
	json_decref(refs);
	json_decref(results);
	return worst;
}

/*
 * Options may come before the command or after it: parse_opts runs once
 * for each side. Returns -1 to go on, else the exit status.
 */
static int
parse_opts(int argc, char **argv, const char *optstring, struct cli *o)
{
	static const struct option opts[] = {
		{ "refresh", no_argument, NULL, 'R' },
		{ "offline", no_argument, NULL, 'O' },
		{ "insecure", no_argument, NULL, 'k' },
		{ "pipeline", required_argument, NULL, 'p' },
		{ "jobs", required_argument, NULL, 'j' },
		{ "all", no_argument, NULL, 'A' },
		{ "package", no_argument, NULL, 'K' },
		{ "peer", required_argument, NULL, 'P' },
		{ "stdio", no_argument, NULL, 'S' },
		{ "timeout", required_argument, NULL, 'T' },
		{ "json", no_argument, NULL, 'J' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	int c;

	while ((c = getopt_long(argc, argv, optstring, opts, NULL)) != -1) {
		switch (c) {
		case 'R': o->flags |= RM_CACHE_REFRESH; break;
		case 'O': o->flags |= RM_CACHE_OFFLINE; break;
		case 'k': o->flags |= RM_CACHE_INSECURE; break;
		case 'p': o->pipeline = optarg; break;
		case 'j':
			if (rm_tool_parse_long(optarg, &o->jobs) != 0 || o->jobs < 1) {
				fprintf(stderr, "%s: --jobs: expected a positive number, got '%s'\n",
				    rm_progname(), optarg);
				return RM_EXIT_USAGE;
			}
			break;
		case 'A': o->all = 1; break;
		case 'K': o->flags |= RM_CACHE_PACKAGE; break;
		case 'P': o->peer = optarg; break;
		case 'S': o->stdio = 1; break;
		case 'T':
			if (rm_tool_parse_long(optarg, &o->timeout) != 0 || o->timeout < 1 ||
			    o->timeout > 86400) {
				fprintf(stderr, "%s: --timeout: expected seconds from 1 to 86400, got "
				    "'%s'\n", rm_progname(), optarg);
				return RM_EXIT_USAGE;
			}
			break;
		case 'J': o->json = 1; break;
		case 'v': o->level++; break;
		case 'q': o->level = RM_LOG_QUIET; break;
		case 'h': usage(stdout); return 0;
		case 'V': rm_tool_version(); return 0;
		default: usage(stderr); return RM_EXIT_USAGE;
		}
	}
	return -1;
}

int
main(int argc, char **argv)
{
	struct rm_err err;
	struct cli o = { NULL, NULL, 0, 0, 0, RM_LOG_NORMAL, 0, 4, 30 };
	const char *cmd;
	int json, all, level, r;
	json_t *out = NULL;

	rm_tool_init(argc, argv);
	if ((r = parse_opts(argc, argv, "+j:vqh", &o)) >= 0)
		return r;
	if (optind >= argc) {
		fprintf(stderr, "%s: missing the command (fetch, serve, ls, path, verify, gc or "
		    "clear)\n",
		    rm_progname());
		usage(stderr);
		return RM_EXIT_USAGE;
	}
	cmd = argv[optind++];
	if ((r = parse_opts(argc, argv, "j:vqh", &o)) >= 0)
		return r;
	json = o.json;
	all = o.all;
	level = o.level;
	rm_log_set_level(level);
	rm_tool_banner();
	/* path answers one value: bare unless --json asks (not by a pipe) */
	json = strcmp(cmd, "path") == 0 ? json : rm_tool_want_json(json);
	rm_err_clear(&err);
	argc -= optind;
	argv += optind;

	if (strcmp(cmd, "fetch") == 0)
		return do_fetch(argc, argv, &o, json);
	if (strcmp(cmd, "serve") == 0) {
		if (argc != 0) {
			fprintf(stderr, "%s: serve takes no arguments\n", rm_progname());
			usage(stderr);
			return RM_EXIT_USAGE;
		}
		/* stdout carries signaling alone: every message goes to stderr */
		if ((r = rm_p2p_serve(0, 1, (int)o.timeout * 1000, &err)) != 0)
			return rm_err_print(&err);
		return 0;
	}
	if (strcmp(cmd, "ls") == 0 || strcmp(cmd, "list") == 0) {
		if (argc != 0) {
			fprintf(stderr, "%s: %s takes no arguments\n", rm_progname(), cmd);
			usage(stderr);
			return RM_EXIT_USAGE;
		}
		if ((r = rm_cache_list(&out, &err)) != 0)
			return rm_err_print(&err);
		if (json)
			rm_json_print(stdout, out, 0);
		else
			print_entries(out);
		json_decref(out);
		return 0;
	}
	if (strcmp(cmd, "path") == 0) {
		char hex[65];
		if (argc != 1) {
			fprintf(stderr, "%s: path: %s\n", rm_progname(), argc == 0 ?
			    "missing the package (a digest or a reference fetched before)" :
			    "one package at a time");
			usage(stderr);
			return RM_EXIT_USAGE;
		}
		r = rm_cache_lookup(argv[0], hex, &err);
		if (r < 0)
			return rm_err_print(&err);
		if (r == 1) {
			fprintf(stderr, "%s: %s: not in the cache\n", rm_progname(), argv[0]);
			return RM_EXIT_NEGATIVE;
		}
		return do_path(argv[0], hex, o.flags, json);
	}
	if (strcmp(cmd, "verify") == 0 || strcmp(cmd, "gc") == 0) {
		int verify = cmd[0] == 'v';
		if (argc != 0) {
			fprintf(stderr, "%s: %s takes no arguments\n", rm_progname(), cmd);
			usage(stderr);
			return RM_EXIT_USAGE;
		}
		r = verify ? rm_cache_verify(&out, &err) : rm_cache_gc(&out, &err);
		if (r < 0)
			return rm_err_print(&err);
		if (json)
			rm_json_print(stdout, out, 0);
		else
			print_report(out, verify ? "cache verified: nothing corrupt" :
			    "nothing to collect");
		if (verify && r == RM_EXIT_NEGATIVE)
			fprintf(stderr, "%s: %zu corrupt item(s) in the cache; 'rm-cache clear' the "
			    "package and fetch it again\n", rm_progname(), json_array_size(out));
		json_decref(out);
		return r;
	}
	if (strcmp(cmd, "clear") == 0) {
		if ((all && argc != 0) || (!all && argc != 1)) {
			fprintf(stderr, "%s: clear: %s\n", rm_progname(), all ?
			    "--all takes no package" : argc == 0 ? "missing the package, or --all" :
			    "one package at a time");
			usage(stderr);
			return RM_EXIT_USAGE;
		}
		if ((r = rm_cache_clear(all ? NULL : argv[0], &out, &err)) != 0)
			return rm_err_print(&err);
		if (json)
			rm_json_print(stdout, out, 0);
		else
			print_report(out, "nothing removed");
		json_decref(out);
		return 0;
	}
	fprintf(stderr, "%s: unknown command '%s'\n", rm_progname(), cmd);
	usage(stderr);
	return RM_EXIT_USAGE;
}
