/*
 * Shared by the libFuzzer harnesses (tests/fuzz/fuzz_*.c). Each harness
 * defines LLVMFuzzerInitialize and LLVMFuzzerTestOneInput; it is linked
 * either with libFuzzer (configure --enable-fuzzing, CC=clang) or with
 * replay.c, which feeds it the files named on its command line.
 *
 * fuzz_setup() gives every harness a private scratch directory and points
 * the state the library reads there: REMOTEMEDIA_HOME, HOME,
 * DOCKER_CONFIG, and PATH (empty, so that no credential helper or other
 * program named by an input can run). Nothing reaches the network.
 */
#ifndef RM_FUZZ_H
#define RM_FUZZ_H

#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rm_exgroup.h"
#include "rm_fs.h"
#include "rm_log.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char fuzz_dir[PATH_MAX];

static inline void
fuzz_cleanup(void)
{
	if (fuzz_dir[0] != '\0')
		rm_remove_tree(fuzz_dir);
}

/* A path under the scratch directory. */
static inline const char *
fuzz_path(char *buf, size_t size, const char *rel)
{
	snprintf(buf, size, "%s/%s", fuzz_dir, rel);
	return buf;
}

static inline void
fuzz_mkdir(const char *rel)
{
	char p[PATH_MAX];

	mkdir(fuzz_path(p, sizeof(p), rel), 0700);
}

static inline void
fuzz_setenv(const char *name, const char *rel)
{
	char p[PATH_MAX];

	fuzz_mkdir(rel);
	setenv(name, fuzz_path(p, sizeof(p), rel), 1);
}

static inline void
fuzz_setup(void)
{
	const char *tmp = getenv("TMPDIR");

	if (fuzz_dir[0] != '\0')
		return;
	snprintf(fuzz_dir, sizeof(fuzz_dir), "%s/rm-fuzz-XXXXXX",
	    tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
	if (mkdtemp(fuzz_dir) == NULL) {
		perror(fuzz_dir);
		abort();
	}
	atexit(fuzz_cleanup);
	fuzz_setenv("REMOTEMEDIA_HOME", "home");
	fuzz_setenv("HOME", "user");
	fuzz_setenv("DOCKER_CONFIG", "docker");
	fuzz_setenv("PATH", "bin");
	setenv("REMOTEMEDIA_ENV", "development", 1);
	unsetenv("REMOTEMEDIA_REGISTRY_USER");
	unsetenv("REMOTEMEDIA_REGISTRY_PASSWORD");
	unsetenv("REMOTEMEDIA_SHARE");
	rm_log_set_level(RM_LOG_QUIET);
}

/* Writes the input to rel under the scratch directory; the path in buf. */
static inline const char *
fuzz_write(char *buf, size_t size, const char *rel, const uint8_t *data, size_t len)
{
	int fd;

	fuzz_path(buf, size, rel);
	/* a new file, not a truncated one: ext4 flushes a file truncated and
	 * rewritten on close, which slows a harness twentyfold */
	unlink(buf);
	fd = open(buf, O_WRONLY | O_CREAT | O_EXCL, 0600);
	if (fd < 0 || (len > 0 && write(fd, data, len) != (ssize_t)len)) {
		perror(buf);
		abort();
	}
	close(fd);
	return buf;
}

/*
 * Loads a fixed set of adverts as rm-match -x would: ours (two), a crank
 * registration and a Colibri tag list, written into the scratch directory
 * so that the harness runs from any directory.
 */
static inline void
fuzz_example_group(struct rm_exgroup *g)
{
	static const char ours[] =
	    "- {schema: remotemedia.executor/1, id: render-4090, endpoint: ssh://render1.example,\n"
	    "   region: eu-west-1, pricing: {per_hour: 1.20, currency: USD}, load_score: 0.2,\n"
	    "   capabilities: {gpu: {type: cuda, model: RTX 4090, memory_gb: 24, count: 1},\n"
	    "     cpu: {cores: 16, arch: x86_64}, memory_gb: 64,\n"
	    "     codecs: {h264: hardware, vp9: software}, frameworks: {torch: \"2.1.2\"},\n"
	    "     tags: [linux, docker, gpu]}}\n"
	    "- {id: laptop-16g, endpoint: local,\n"
	    "   capabilities: {cpu: {cores: 8, arch: x86_64}, memory_gb: 16, tags: [linux]}}\n";
	static const char crank[] =
	    "{\"worker_id\":\"w\",\"worker_url\":\"https://localhost:8500\",\"capabilities\":"
	    "[{\"name\":\"hello\",\"verb\":\"greet\",\"version\":\"1.0.0\",\"runtime\":"
	    "\"python3.11\",\"slo\":{\"latency_p95_ms\":100},\"cost_tokens_per_invocation\":0.1}]}";
	static const char colibri[] = "[\"linux\",\"gpu\"]";
	char p0[PATH_MAX], p1[PATH_MAX], p2[PATH_MAX], buf[1024];
	const char *files[3];
	struct rm_exsources src;
	struct rm_err err;

	files[0] = fuzz_write(p0, sizeof(p0), "ours.yaml", (const uint8_t *)ours,
	    sizeof(ours) - 1);
	files[1] = fuzz_write(p1, sizeof(p1), "crank.json", (const uint8_t *)crank,
	    sizeof(crank) - 1);
	files[2] = fuzz_write(p2, sizeof(p2), "colibri.json", (const uint8_t *)colibri,
	    sizeof(colibri) - 1);
	memset(&src, 0, sizeof(src));
	src.files = files;
	src.nfiles = 3;
	src.no_local = 1;
	memset(g, 0, sizeof(*g));
	rm_err_clear(&err);
	if (rm_exgroup_load(g, &src, &err) != 0) {
		fprintf(stderr, "fuzz: example adverts: %s\n", rm_err_str(&err, buf, sizeof(buf)));
		abort();
	}
}

/* The LLVMFuzzerInitialize of a harness that needs only fuzz_setup(). */
#define FUZZ_SETUP_ONLY \
	int LLVMFuzzerInitialize(int *argc, char ***argv) { fuzz_setup(); return 0; }

#endif
