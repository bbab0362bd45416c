/*
 * JSON lines of adverts as -x reads a large file: read straight into the
 * columns where the reader is sure (rm_exset_lines.c), the tree way
 * otherwise, against the tree way alone. The two must build the same set
 * byte for byte or fail with the same error; any difference aborts.
 */
#include "config.h"

#include "rm_exset_int.h"
#include "rm_taxo.h"
#include "fuzz.h"

static const struct rm_taxo *taxo;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct rm_err err;

	(void)argc;
	(void)argv;
	fuzz_setup();
	rm_err_clear(&err);
	if ((taxo = rm_taxo_get(&err)) == NULL)
		abort();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rm_exset *a = NULL, *b = NULL;
	struct rm_err ea, eb;
	char ma[2048], mb[2048];
	int ra, rb;

	rm_err_clear(&ea);
	rm_err_clear(&eb);
	ra = rm_exset_lines_build(taxo, (const char *)data, size, 0, &a, &ea);
	rb = rm_exset_lines_build(taxo, (const char *)data, size, 1, &b, &eb);
	if (ra != rb)
		abort();
	if (ra != 0 && strcmp(rm_err_str(&ea, ma, sizeof(ma)), rm_err_str(&eb, mb, sizeof(mb))) != 0)
		abort();
	if (ra == 0 && !rm_exset_same(a, b))
		abort();
	rm_exset_free(a);
	rm_exset_free(b);
	return 0;
}
