/* OCI image manifests, parsed as rm-cache parses one a registry sent and
 * checked by rm_oci_package_layout. */
#include "config.h"

#include "rm_oci.h"
#include "fuzz.h"

FUZZ_SETUP_ONLY

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rm_err err;
	json_error_t je;
	json_t *m, *files = NULL;
	char pkgdigest[80];
	long long mtime;

	if ((m = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &je)) == NULL)
		return 0;
	rm_err_clear(&err);
	rm_oci_package_layout(m, "fuzz", &files, pkgdigest, &mtime, &err);
	json_decref(files);
	json_decref(m);
	return 0;
}
