/*
 * main() for the harnesses in the ordinary build (no libFuzzer): feeds each
 * file named on the command line, and each file in each directory named
 * there, to LLVMFuzzerTestOneInput, one at a time, the way libFuzzer runs
 * a crash input. make check replays the seed corpora and the regression
 * inputs this way. Exit 0 when every input ran, 1 when a file could not
 * be read; a defect the harness finds aborts (under the sanitizers) or
 * crashes, which make check reports.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rm_err.h"
#include "rm_fs.h"
#include "fuzz.h"

static int
replay_file(const char *path)
{
	struct rm_err err;
	char *text, buf[1024];
	uint8_t *data;
	size_t len;

	rm_err_clear(&err);
	if (rm_read_file(path, (size_t)64 << 20, &text, &len, &err) != 0) {
		fprintf(stderr, "replay: %s\n", rm_err_str(&err, buf, sizeof(buf)));
		return 1;
	}
	/* an exact-size copy, without the NUL, so that a sanitizer build
	 * catches a read past the end as libFuzzer would */
	if ((data = malloc(len > 0 ? len : 1)) == NULL)
		abort();
	memcpy(data, text, len);
	free(text);
	fprintf(stderr, "replay: %s (%zu bytes)\n", path, len);
	LLVMFuzzerTestOneInput(data, len);
	free(data);
	return 0;
}

static int
cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
replay_dir(const char *dir)
{
	char **names = NULL, path[4096];
	size_t n = 0, i;
	struct dirent *de;
	DIR *d = opendir(dir);
	int bad = 0;

	if (d == NULL) {
		fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
		return 1;
	}
	while ((de = readdir(d)) != NULL) {
		char **nn;
		if (de->d_name[0] == '.')
			continue;
		if ((nn = realloc(names, (n + 1) * sizeof(*nn))) == NULL)
			abort();
		names = nn;
		if ((names[n++] = strdup(de->d_name)) == NULL)
			abort();
	}
	closedir(d);
	if (n > 0)
		qsort(names, n, sizeof(*names), cmp_name);
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		bad |= rm_is_dir(path) ? replay_dir(path) : replay_file(path);
		free(names[i]);
	}
	free(names);
	return bad;
}

int
main(int argc, char **argv)
{
	int i, bad = 0;

	LLVMFuzzerInitialize(&argc, &argv);
	for (i = 1; i < argc; i++)
		bad |= rm_is_dir(argv[i]) ? replay_dir(argv[i]) : replay_file(argv[i]);
	return bad;
}
