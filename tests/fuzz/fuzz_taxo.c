/* Taxonomy files: the input as $REMOTEMEDIA_HOME/taxonomy.d/fuzz.yaml,
 * loaded over the shipped taxonomy as every tool loads it. */
#include "config.h"

#include "rm_taxo.h"
#include "fuzz.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_setup();
	fuzz_mkdir("home/taxonomy.d");
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rm_taxo *t = NULL;
	struct rm_err err;
	char path[PATH_MAX];

	fuzz_write(path, sizeof(path), "home/taxonomy.d/fuzz.yaml", data, size);
	rm_err_clear(&err);
	if (rm_taxo_load(&t, &err) == 0)
		rm_taxo_free(t);
	return 0;
}
