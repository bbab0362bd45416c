/*
 * remotemedia VERB [ARGS...]: runs rm-VERB, git-style. The child replaces
 * this process, so its exit status is the front end's.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rm_err.h"
#include "rm_log.h"
#include "rm_tool.h"

#ifndef RM_BINDIR
#define RM_BINDIR "/usr/local/bin"
#endif

static const struct {
	const char *verb, *summary;
} tools[] = {
	{ "build", "build a pipeline into a signed, reproducible .rmpkg package" },
	{ "cache", "fetch packages into the content-addressed cache, list, verify, clean" },
	{ "inspect", "show and verify a package: nodes, files, provenance, signature" },
	{ "match", "match node requirements against executor adverts and explain why" },
	{ "probe", "advertise this machine's capabilities, register, verify, watch" },
	{ "push", "push a package to an OCI registry" },
	{ "schedule", "plan a pipeline onto executors, run it, report its cost" },
};

/* Verbs that are a tool plus a first argument. */
static const struct {
	const char *verb, *tool, *arg;
} aliases[] = {
	{ "run", "schedule", "run" },
	{ "plan", "schedule", "plan" },
	{ "explain", "schedule", "explain" },
	{ "report", "schedule", "report" },
	{ "fetch", "cache", "fetch" },
	{ "register", "probe", "register" },
};

static void
usage(FILE *fp)
{
	size_t i;

	fprintf(fp, "usage: remotemedia [--version] [--help] VERB [ARGS...]\n\n"
	    "Verbs (each is the program rm-VERB):\n");
	for (i = 0; i < sizeof(tools) / sizeof(tools[0]); i++)
		fprintf(fp, "  %-10s %s\n", tools[i].verb, tools[i].summary);
	fprintf(fp, "\nShortcuts: run, plan, explain, report (rm-schedule), fetch (rm-cache),\n"
	    "register (rm-probe). 'remotemedia help VERB' shows a tool's help.\n");
}

static int
try_exec(const char *dir, const char *prog, char **argv)
{
	char path[PATH_MAX];

	if (dir == NULL || *dir == '\0')
		return -1;
	if (snprintf(path, sizeof(path), "%s/%s", dir, prog) >= (int)sizeof(path))
		return -1;
	if (access(path, X_OK) != 0)
		return -1;
	argv[0] = path;
	execv(path, argv);
	fprintf(stderr, "remotemedia: cannot run '%s': %s\n", path, strerror(errno));
	exit(RM_EXIT_INTERNAL);
}

static int
try_path_list(const char *list, const char *prog, char **argv)
{
	char *copy, *dir, *save = NULL;

	if (list == NULL)
		return -1;
	copy = strdup(list);
	if (copy == NULL)
		return -1;
	for (dir = strtok_r(copy, ":", &save); dir; dir = strtok_r(NULL, ":", &save))
		try_exec(dir, prog, argv);
	free(copy);
	return -1;
}

int
main(int argc, char **argv)
{
	char prog[256], selfdir[PATH_MAX], tree[PATH_MAX];
	const char *verb, *tool;
	char **nargv;
	int i, j, skip = 1;
	ssize_t n;
	size_t k;

	rm_tool_init(argc, argv);
	if (argc < 2) {
		usage(stderr);
		return RM_EXIT_USAGE;
	}
	verb = argv[1];
	if (strcmp(verb, "--version") == 0 || strcmp(verb, "-V") == 0) {
		rm_tool_version();
		return 0;
	}
	if (strcmp(verb, "--help") == 0 || strcmp(verb, "-h") == 0 ||
	    (strcmp(verb, "help") == 0 && argc == 2)) {
		usage(stdout);
		return 0;
	}
	if (verb[0] == '-') {
		fprintf(stderr, "remotemedia: unknown option '%s'\n", verb);
		usage(stderr);
		return RM_EXIT_USAGE;
	}
	nargv = calloc((size_t)argc + 3, sizeof(*nargv));
	if (nargv == NULL)
		return RM_EXIT_INTERNAL;
	j = 1;
	tool = verb;
	if (strcmp(verb, "help") == 0) {
		tool = argv[2];
		skip = 2;
		nargv[j++] = "--help";
	}
	for (k = 0; k < sizeof(aliases) / sizeof(aliases[0]); k++)
		if (strcmp(tool, aliases[k].verb) == 0) {
			tool = aliases[k].tool;
			nargv[j++] = (char *)aliases[k].arg;
			break;
		}
	if (strchr(tool, '/') != NULL || strlen(tool) > 200) {
		fprintf(stderr, "remotemedia: '%s' is not a remotemedia verb\n", tool);
		return RM_EXIT_USAGE;
	}
	for (i = 1 + skip; i < argc; i++)
		nargv[j++] = argv[i];
	nargv[j] = NULL;
	snprintf(prog, sizeof(prog), "rm-%s", tool);

	try_path_list(getenv("REMOTEMEDIA_EXEC_PATH"), prog, nargv);
	n = readlink("/proc/self/exe", selfdir, sizeof(selfdir) - 1);
	if (n > 0) {
		char *slash;
		selfdir[n] = '\0';
		slash = strrchr(selfdir, '/');
		if (slash != NULL) {
			*slash = '\0';
			try_exec(selfdir, prog, nargv);
			/* an uninstalled build: tools/remotemedia beside tools/rm-VERB */
			if (snprintf(tree, sizeof(tree), "%s/../%s", selfdir, prog) < (int)sizeof(tree))
				try_exec(tree, prog, nargv);
		}
	}
	try_exec(RM_BINDIR, prog, nargv);
	try_path_list(getenv("PATH"), prog, nargv);
	fprintf(stderr, "remotemedia: '%s' is not a remotemedia verb (no %s found); "
	    "see 'remotemedia help'\n", strcmp(verb, "help") == 0 ? argv[2] : verb, prog);
	free(nargv);
	return RM_EXIT_USAGE;
}
