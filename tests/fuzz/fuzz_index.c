/* Registry index files ($REMOTEMEDIA_HOME/cache/index/HASH.idx): the input is
 * checked as a reader checks a mapped index (its source and taxonomy hash
 * aside), and when accepted every value, string and record of it is read. */
#include "config.h"

#include "rm_exset_int.h"
#include "rm_taxo.h"
#include "fuzz.h"

static const struct rm_taxo *taxo;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct rm_err err;

	fuzz_setup();
	rm_err_clear(&err);
	if ((taxo = rm_taxo_get(&err)) == NULL) {
		fprintf(stderr, "fuzz_index: %s\n", err.msg);
		abort();
	}
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	(void)rm_index_check_image(taxo, data, size);
	return 0;
}
