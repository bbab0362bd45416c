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

/* Loads the example adverts (ours, crank, Colibri) as rm-match -x would. */
static inline void
fuzz_example_group(struct rm_exgroup *g)
{
	static const char *files[] = {
		RM_SRCDIR "/share/remotemedia/examples/adverts.yaml",
		RM_SRCDIR "/tests/fuzz/corpus/advert/crank.json",
		RM_SRCDIR "/tests/fuzz/corpus/advert/colibri.json",
	};
	struct rm_exsources src;
	struct rm_err err;

	memset(&src, 0, sizeof(src));
	src.files = files;
	src.nfiles = sizeof(files) / sizeof(files[0]);
	src.no_local = 1;
	memset(g, 0, sizeof(*g));
	rm_err_clear(&err);
	if (rm_exgroup_load(g, &src, &err) != 0)
		abort();
}

/* The LLVMFuzzerInitialize of a harness that needs only fuzz_setup(). */
#define FUZZ_SETUP_ONLY \
	int LLVMFuzzerInitialize(int *argc, char ***argv) { fuzz_setup(); return 0; }

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

#endif
