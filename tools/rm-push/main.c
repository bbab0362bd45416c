/*
 * rm-push: publishes a .rmpkg to an OCI registry as an OCI image manifest
 * (see rm_oci.h for the mapping), uploading only the blobs the registry
 * does not hold, and moves the tag to it.
 */
#include "config.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rm_cache.h"
#include "rm_doc.h"
#include "rm_err.h"
#include "rm_log.h"
#include "rm_oci.h"
#include "rm_tool.h"

static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: rm-push [--insecure] [--chunk-size BYTES] [--json] [-v|-q] PACKAGE\n"
	    "               oci://HOST[:PORT]/REPO[:TAG]\n"
	    "\n"
	    "Pushes a .rmpkg to an OCI registry: each file one blob (never sent twice),\n"
	    "manifest.json as the config, the tag moved to the new manifest last. A push\n"
	    "cut off mid-blob goes on, when run again, from what the registry holds.\n"
	    "  --insecure         allow plain HTTP or unverified TLS\n"
	    "  --chunk-size N     blobs above N bytes go in chunked PATCHes (default 64M;\n"
	    "                     K, M, G suffixes)\n"
	    "  --json             JSON output (the default when stdout is not a terminal)\n"
	    "  -v, --verbose / -q, --quiet / -h, --help / --version\n"
	    "Credentials: REMOTEMEDIA_REGISTRY_USER/_PASSWORD, config.yaml registries,\n"
	    "or ~/.docker/config.json (auths, credHelpers, credsStore).\n");
}

/*
 * The first Ctrl-C lets the requests under way finish, so that the
 * registry's sessions end where the records say and the next run resumes
 * them (a registry may cancel a session a cut-off PATCH left in an unknown
 * state); a second one stops at once.
 */
static volatile sig_atomic_t interrupts;

static void
on_interrupt(int sig)
{
	static const char msg[] = "\nrm-push: interrupted: finishing the requests under way, "
	    "so that the next run resumes (Ctrl-C again to stop now)\n";
	ssize_t n;

	if (interrupts++ > 0) {
		signal(sig, SIG_DFL);
		raise(sig);
		return;
	}
	rm_oci_interrupt();
	n = write(STDERR_FILENO, msg, sizeof(msg) - 1);
	(void)n;
}

static int
parse_size(const char *s, unsigned long long *out)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 10);

	if (end == s)
		return -1;
	switch (*end) {
	case 'k': case 'K': v <<= 10; end++; break;
	case 'm': case 'M': v <<= 20; end++; break;
	case 'g': case 'G': v <<= 30; end++; break;
	default: break;
	}
	if (*end != '\0' || v == 0)
		return -1;
	*out = v;
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "insecure", no_argument, NULL, 'k' },
		{ "chunk-size", required_argument, NULL, 'C' },
		{ "json", no_argument, NULL, 'j' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	struct rm_err err;
	struct rm_oci_ref ref;
	struct rm_oci_push_result res;
	unsigned long long chunk = 64ULL << 20;
	int c, json = 0, insecure = 0, level = RM_LOG_NORMAL, r;
	char refstr[1200];
	json_t *out, *mounts;

	rm_tool_init(argc, argv);
	while ((c = getopt_long(argc, argv, "vqh", opts, NULL)) != -1) {
		switch (c) {
		case 'k': insecure = 1; break;
		case 'C':
			if (parse_size(optarg, &chunk) != 0) {
				fprintf(stderr, "%s: --chunk-size: expected a positive size, got '%s'\n",
				    rm_progname(), optarg);
				return RM_EXIT_USAGE;
			}
			break;
		case 'j': json = 1; break;
		case 'v': level++; break;
		case 'q': level = RM_LOG_QUIET; break;
		case 'h': usage(stdout); return 0;
		case 'V': rm_tool_version(); return 0;
		default: usage(stderr); return RM_EXIT_USAGE;
		}
	}
	if (argc - optind != 2) {
		if (argc - optind < 2)
			fprintf(stderr, "%s: missing %s\n", rm_progname(), argc == optind ?
			    "the package (.rmpkg) and the destination oci://HOST/REPO:TAG" :
			    "the destination oci://HOST/REPO:TAG");
		else
			fprintf(stderr, "%s: too many arguments: expected a package and one "
			    "destination\n", rm_progname());
		usage(stderr);
		return RM_EXIT_USAGE;
	}
	if (rm_tool_docker_ref(argv[optind + 1]))
		return RM_EXIT_USAGE;
	rm_log_set_level(level);
	rm_tool_banner();
	json = rm_tool_want_json(json);
	rm_err_clear(&err);
	if (rm_oci_ref_parse(argv[optind + 1], &ref, &err) != 0) {
		usage(stderr);
		return rm_err_print(&err);
	}
	rm_oci_ref_str(&ref, refstr, sizeof(refstr));
	mounts = rm_cache_mount_candidates(ref.host, ref.repo);
	{
		struct sigaction sa;
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_interrupt;
		sa.sa_flags = SA_RESTART;
		sigemptyset(&sa.sa_mask);
		sigaction(SIGINT, &sa, NULL);
	}
	r = rm_oci_push_package(argv[optind], &ref, insecure, chunk, mounts, &res, &err);
	json_decref(mounts);
	if (r != 0 && rm_oci_interrupted()) {
		rm_note("push: stopped before the tag was moved; the same command resumes the "
		    "uploads where the registry holds them");
		return 128 + SIGINT;
	}
	if (r != 0) {
		if (err.code == RM_EXIT_NETWORK && insecure == 0 && strstr(err.msg, "SSL") != NULL)
			rm_warn("hint: a registry without TLS needs --insecure");
		return rm_err_print(&err);
	}
	rm_cache_note_push(refstr, res.manifest_digest, res.package_digest);
	out = json_pack("{ss ss ss si si si si sI}", "ref", refstr,
	    "manifest_digest", res.manifest_digest, "digest", res.package_digest,
	    "blobs", res.blobs_total, "uploaded", res.blobs_uploaded, "mounted", res.blobs_mounted,
	    "resumed", res.blobs_resumed, "bytes_uploaded", (json_int_t)res.bytes_uploaded);
	if (json)
		rm_json_print(stdout, out, 0);
	else
		printf("pushed %s\n  manifest %s\n  package  %s\n  blobs    %d (%d uploaded, of "
		    "which %d resumed, %d mounted, %d already there)\n", refstr, res.manifest_digest,
		    res.package_digest, res.blobs_total, res.blobs_uploaded, res.blobs_resumed,
		    res.blobs_mounted, res.blobs_total - res.blobs_uploaded - res.blobs_mounted);
	json_decref(out);
	return 0;
}
