/* .rmpkg archives: opened and verified as rm-inspect --verify does, then
 * extracted into a fresh directory as the cache does. */
#include "config.h"

#include "rm_pkg.h"
#include "fuzz.h"

FUZZ_SETUP_ONLY

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rm_pkg *pkg = NULL;
	struct rm_err err;
	char path[PATH_MAX], dir[PATH_MAX];

	fuzz_write(path, sizeof(path), "in.rmpkg", data, size);
	rm_err_clear(&err);
	if (rm_pkg_open(path, RM_PKG_VERIFY | RM_PKG_NO_POLICY, &pkg, &err) != 0)
		return 0;
	fuzz_path(dir, sizeof(dir), "out");
	rm_err_clear(&err);
	rm_pkg_extract(pkg, dir, &err);
	rm_remove_tree(dir);
	rm_pkg_free(pkg);
	return 0;
}
