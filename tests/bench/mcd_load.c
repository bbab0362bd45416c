/* Times rm_mcd_load on one model N times: bench-gguf.sh builds and runs it. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "rm_mcd.h"

int
main(int argc, char **argv)
{
	struct rm_err err;
	struct timespec a, b;
	int i, n = argc > 2 ? atoi(argv[2]) : 100;
	json_t *m = NULL;
	double s;

	if (argc < 2) {
		fprintf(stderr, "usage: mcd_load MODEL [N]\n");
		return 2;
	}
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (i = 0; i < n; i++) {
		json_decref(m);
		if ((m = rm_mcd_load(argv[1], &err)) == NULL) {
			fprintf(stderr, "%s: %s: %s\n", err.file, err.field, err.msg);
			return 1;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	s = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
	printf("%d loads in %.3f s: %.3f ms each\n", n, s, s * 1000 / n);
	json_dumpf(m, stdout, JSON_SORT_KEYS | JSON_COMPACT);
	printf("\n");
	json_decref(m);
	return 0;
}
