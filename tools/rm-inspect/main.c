/*
 * rm-inspect: what a package holds (name, digest, nodes and their
 * requirements, files, runtime, provenance, signature) and, with
 * --verify, whether it is intact and signed by a trusted key.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "inspect.h"
#include "rm_cache.h"
#include "rm_doc.h"
#include "rm_err.h"
#include "rm_fs.h"
#include "rm_home.h"
#include "rm_log.h"
#include "rm_pkg.h"
#include "rm_tool.h"

static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: rm-inspect [--json] [--verify] [-x DIR] [--insecure] [-v|-q] PACKAGE\n"
	    "PACKAGE: a .rmpkg file, an oci:// reference or a cached digest (see rm-cache)\n"
	    "\n"
	    "Shows a .rmpkg package: name, version, digest, nodes with their requirements,\n"
	    "files and sizes, runtime dependencies, provenance and signature status.\n"
	    "  --verify          check every file's SHA-256 and require a trusted signature\n"
	    "                    (exit 5 otherwise)\n"
	    "  -x, --extract DIR verify, then unpack into DIR (which must not exist)\n"
	    "  --json            JSON output (the default when stdout is not a terminal)\n"
	    "  --insecure        oci://: plain HTTP or unverified TLS allowed\n"
	    "  --refresh         oci://: ask the registry for the tag (always done)\n"
	    "An oci:// reference is shown from its registry manifest and documents alone;\n"
	    "--verify and -x fetch the whole package through the cache.\n"
	    "  -v, --verbose / -q, --quiet / -h, --help / --version\n");
}

static json_t *
describe(const struct rm_pkg *pkg)
{
	json_t *files = json_array(), *nodes = json_array(), *sig, *out;
	json_t *mn = json_object_get(pkg->manifest, "nodes");
	size_t i, k;

	for (i = 0; i < pkg->nfiles; i++)
		json_array_append_new(files, json_pack("{ss sI ss ss}", "path", pkg->files[i].path,
		    "size", (json_int_t)pkg->files[i].size, "sha256", pkg->files[i].sha256,
		    "mode", rm_pkg_mode_str(pkg->files[i].mode)));
	for (i = 0; i < json_array_size(mn); i++) {
		json_t *n = json_array_get(mn, i), *d, *models = json_array();
		json_t *ms = json_object_get(n, "models");
		const char *keys[] = { "host", "remote_ref", "exec", "estimated_seconds", NULL };
		for (k = 0; k < json_array_size(ms); k++) {
			json_t *m = json_array_get(ms, k);
			json_array_append(models, json_is_object(m) ? json_object_get(m, "path") : m);
		}
		d = json_pack("{sO sO sO so}", "id", json_object_get(n, "id"),
		    "type", json_object_get(n, "type"),
		    "requirements", json_object_get(n, "capabilities"), "models", models);
		for (k = 0; keys[k] != NULL; k++)
			if (json_object_get(n, keys[k]) != NULL)
				json_object_set(d, keys[k], json_object_get(n, keys[k]));
		json_array_append_new(nodes, d);
	}
	sig = json_pack("{ss}", "status", rm_sig_status_name(pkg->sig.status));
	if (pkg->sig.key_id[0])
		json_object_set_new(sig, "key_id", json_string(pkg->sig.key_id));
	if (pkg->sig.signer[0])
		json_object_set_new(sig, "signer", json_string(pkg->sig.signer));
	if (pkg->sig.reason[0])
		json_object_set_new(sig, "reason", json_string(pkg->sig.reason));
	if (pkg->signature != NULL)
		json_object_set_new(sig, "certificates", json_integer((json_int_t)json_array_size(
		    json_object_get(pkg->signature, "certificates"))));
	out = json_pack("{ss sO sO ss+ sb so sO so sI sO sO so}",
	    "path", pkg->path,
	    "name", json_object_get(pkg->manifest, "name"),
	    "version", json_object_get(pkg->manifest, "version"),
	    "digest", "sha256:", pkg->digest,
	    "verified", pkg->verified,
	    "nodes", nodes,
	    "edges", json_object_get(pkg->manifest, "edges"),
	    "files", files,
	    "total_size", (json_int_t)pkg->total_size,
	    "runtime", pkg->runtime ? pkg->runtime : json_null(),
	    "provenance", pkg->provenance ? pkg->provenance : json_null(),
	    "signature", sig);
	return out;
}

static const char *
str_or(const json_t *v, const char *dflt)
{
	return json_is_string(v) ? json_string_value(v) : dflt;
}

static void
print_text(const json_t *d)
{
	json_t *nodes = json_object_get(d, "nodes"), *files = json_object_get(d, "files");
	json_t *sig = json_object_get(d, "signature"), *rt = json_object_get(d, "runtime");
	json_t *prov = json_object_get(d, "provenance"), *git = json_object_get(prov, "git");
	json_t *imps = json_object_get(rt, "imports");
	char buf[512];
	size_t i;

	printf("package    %s\n", str_or(json_object_get(d, "path"), "?"));
	printf("name       %s %s\n", str_or(json_object_get(d, "name"), "?"),
	    str_or(json_object_get(d, "version"), ""));
	printf("digest     %s%s\n", str_or(json_object_get(d, "digest"), "?"),
	    json_is_true(json_object_get(d, "verified")) ? " (every file verified)" : "");
	printf("signature  %s", str_or(json_object_get(sig, "status"), "?"));
	if (json_object_get(sig, "signer"))
		printf(", signer %s", str_or(json_object_get(sig, "signer"), ""));
	if (json_object_get(sig, "key_id"))
		printf(", key %s", str_or(json_object_get(sig, "key_id"), ""));
	if (json_object_get(sig, "reason"))
		printf(" (%s)", str_or(json_object_get(sig, "reason"), ""));
	printf("\nnodes\n");
	for (i = 0; i < json_array_size(nodes); i++) {
		json_t *n = json_array_get(nodes, i);
		printf("  %-16s %-16s %s", str_or(json_object_get(n, "id"), "?"),
		    str_or(json_object_get(n, "type"), "?"),
		    rm_json_brief(json_object_get(n, "requirements"), buf, 160));
		if (json_object_get(n, "remote_ref"))
			printf("  remote %s", str_or(json_object_get(n, "remote_ref"), ""));
		printf("\n");
	}
	printf("files (%s)\n", rm_tool_size((unsigned long long)json_integer_value(
	    json_object_get(d, "total_size")), buf, sizeof(buf)));
	for (i = 0; i < json_array_size(files); i++) {
		json_t *f = json_array_get(files, i);
		printf("  %s %10s  %s\n", str_or(json_object_get(f, "mode"), "?"),
		    rm_tool_size((unsigned long long)json_integer_value(json_object_get(f, "size")),
		    buf, sizeof(buf)), str_or(json_object_get(f, "path"), "?"));
	}
	printf("runtime    python %s\n", str_or(json_object_get(json_object_get(rt, "python"),
	    "version"), "(none)"));
	for (i = 0; i < json_array_size(imps); i++) {
		json_t *m = json_array_get(imps, i);
		printf("  %-16s %s %s\n", str_or(json_object_get(m, "module"), "?"),
		    str_or(json_object_get(m, "distribution"), "(not installed)"),
		    str_or(json_object_get(m, "version"), ""));
	}
	printf("provenance built %s (%s), by %s %s\n",
	    str_or(json_object_get(prov, "build_time"), "?"),
	    str_or(json_object_get(prov, "build_time_source"), "?"),
	    str_or(rm_json_path(prov, "builder.tool"), "?"),
	    str_or(rm_json_path(prov, "builder.version"), ""));
	if (json_is_object(git))
		printf("  git %s on %s, %s%s%s\n", str_or(json_object_get(git, "commit"), "(no commit)"),
		    str_or(json_object_get(git, "branch"), "(detached)"),
		    json_is_true(json_object_get(git, "dirty")) ? "dirty" : "clean",
		    json_object_get(git, "remote_url") && json_is_string(json_object_get(git,
		    "remote_url")) ? ", remote " : "",
		    str_or(json_object_get(git, "remote_url"), ""));
}

/*
 * The package arg names, opened with flags: an oci:// reference from its
 * registry documents alone unless whole (then, like cache digests and
 * layouts, through the cache, the tag resolved again); a .rmpkg as it is.
 */
static int
open_package(const char *arg, int flags, int insecure, int whole, struct rm_pkg **pkg,
    char mdigest[80], struct rm_err *err)
{
	char pkgpath[4096];
	json_t *res = NULL;
	int r;

	if (strncmp(arg, "oci://", 6) == 0 && !whole) {
		if (inspect_remote(arg, insecure, pkg, mdigest, err) != 0)
			return rm_err_print(err);
		return 0;
	}
	if (strncmp(arg, "oci://", 6) == 0) {
		r = rm_cache_fetch(arg, RM_CACHE_NO_POLICY | RM_CACHE_REFRESH | RM_CACHE_PACKAGE |
		    (insecure ? RM_CACHE_INSECURE : 0), &res, err);
		if (r == 0) {
			r = rm_path(pkgpath, sizeof(pkgpath), err, "%s",
			    json_string_value(json_object_get(res, "package")));
			snprintf(mdigest, 80, "%s", json_string_value(json_object_get(res,
			    "manifest")));
		}
		json_decref(res);
	} else
		r = rm_cache_resolve(arg, pkgpath, sizeof(pkgpath), err);
	if (r != 0 || rm_pkg_open(pkgpath, flags, pkg, err) != 0)
		return rm_err_print(err);
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "verify", no_argument, NULL, 'V' + 256 },
		{ "extract", required_argument, NULL, 'x' },
		{ "insecure", no_argument, NULL, 'I' + 256 },
		{ "refresh", no_argument, NULL, 'R' + 256 },
		{ "verbose", no_argument, NULL, 'v' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	struct rm_err err;
	struct rm_pkg *pkg = NULL;
	const char *extract = NULL;
	int c, json = 0, verify = 0, insecure = 0, level = RM_LOG_NORMAL, flags, r;
	char mdigest[80] = "";
	json_t *d;

	rm_tool_init(argc, argv);
	while ((c = getopt_long(argc, argv, "x:vqh", opts, NULL)) != -1) {
		switch (c) {
		case 'j': json = 1; break;
		case 'V' + 256: verify = 1; break;
		case 'x': extract = optarg; break;
		case 'I' + 256: insecure = 1; break;
		case 'R' + 256: break;	/* a tag is always resolved again */
		case 'v': level++; break;
		case 'q': level = RM_LOG_QUIET; break;
		case 'h': usage(stdout); return 0;
		case 'V': rm_tool_version(); return 0;
		default: usage(stderr); return RM_EXIT_USAGE;
		}
	}
	if (argc - optind != 1) {
		fprintf(stderr, "%s: %s\n", rm_progname(), argc == optind ?
		    "missing the package (a .rmpkg file, oci://HOST/REPO:TAG or a cached digest)" :
		    "one package at a time");
		usage(stderr);
		return RM_EXIT_USAGE;
	}
	if (rm_tool_docker_ref(argv[optind]))
		return RM_EXIT_USAGE;
	rm_log_set_level(level);
	rm_tool_banner();
	json = rm_tool_want_json(json);
	rm_err_clear(&err);
	flags = RM_PKG_NO_POLICY;
	if (verify)
		flags = RM_PKG_VERIFY | RM_PKG_REQUIRE_TRUST;
	else if (extract != NULL)
		flags = RM_PKG_VERIFY;
	if ((r = open_package(argv[optind], flags, insecure, verify || extract, &pkg, mdigest,
	    &err)) != 0)
		return r;
	if (extract != NULL && rm_pkg_extract(pkg, extract, &err) != 0) {
		rm_pkg_free(pkg);
		return rm_err_print(&err);
	}
	d = describe(pkg);
	if (extract != NULL)
		json_object_set_new(d, "extracted_to", json_string(extract));
	if (mdigest[0] != '\0')
		json_object_set_new(d, "manifest_digest", json_string(mdigest));
	if (json)
		r = rm_json_print(stdout, d, isatty(STDOUT_FILENO));
	else {
		print_text(d);
		r = 0;
	}
	if (!verify && pkg->sig.status != RM_SIG_VALID && rm_mode() == RM_MODE_PRODUCTION)
		rm_warn("%s: package is %s; production runtimes will refuse it", argv[optind],
		    rm_sig_status_name(pkg->sig.status));
	json_decref(d);
	rm_pkg_free(pkg);
	return r == 0 ? 0 : RM_EXIT_INTERNAL;
}
