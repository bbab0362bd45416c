/* Pipeline documents (ours and RemoteMedia's serialize() shape), loaded as
 * rm-build and rm-schedule load them, then put in topological order. */
#include "config.h"

#include "rm_pipeline.h"
#include "fuzz.h"

FUZZ_SETUP_ONLY

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rm_err err;
	char path[PATH_MAX];
	size_t *order = NULL, n;
	json_t *p;

	fuzz_write(path, sizeof(path), "pipeline", data, size);
	rm_err_clear(&err);
	if ((p = rm_pipeline_load(path, &err)) == NULL)
		return 0;
	rm_err_clear(&err);
	if (rm_pipeline_topo_order(p, &order, &n, &err) == 0)
		free(order);
	json_decref(p);
	return 0;
}
