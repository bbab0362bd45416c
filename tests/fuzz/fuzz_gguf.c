/* GGUF model headers: the input as a model file, read by rm_mcd_load as
 * rm-match --model and the preflight read it. */
#include "config.h"

#include "rm_mcd.h"
#include "fuzz.h"

FUZZ_SETUP_ONLY

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rm_err err;
	char path[PATH_MAX];

	fuzz_write(path, sizeof(path), "model.gguf", data, size);
	rm_err_clear(&err);
	json_decref(rm_mcd_load(path, &err));
	return 0;
}
