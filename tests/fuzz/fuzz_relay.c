/* Checkpoint markers on an ssh or Slurm executor's stderr (rm_run_relay.c):
 * the input as the attempt's stderr log, scanned as the runner scans it
 * after a failure, with the first two bytes choosing how much input and
 * output it was given; then stripped of markers as failure messages are.
 * The checkpoint taken must lie within what the attempt was given. */
#include "config.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rm_run_int.h"
#include "fuzz.h"

FUZZ_SETUP_ONLY

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rm_run_ckpt ck;
	long long in_len, out_len;
	char path[PATH_MAX], *copy;
	size_t n;
	int fd;

	if (size < 2)
		return 0;
	in_len = (long long)data[0] * 37;
	out_len = (long long)data[1] * 53;
	fuzz_write(path, sizeof(path), "stderr.log", data + 2, size - 2);
	if ((fd = open(path, O_RDONLY)) < 0)
		abort();
	rm_run_relay_scan(fd, in_len, out_len, &ck);
	close(fd);
	if (ck.in < 0 || ck.in > in_len || ck.out < 0 || ck.out > out_len)
		abort();
	if ((copy = malloc(size - 2 + 1)) == NULL)
		return 0;
	memcpy(copy, data + 2, size - 2);
	n = rm_run_relay_strip(copy, size - 2);
	if (n > size - 2)
		abort();
	free(copy);
	return 0;
}
