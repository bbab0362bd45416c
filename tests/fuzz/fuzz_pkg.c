/* .rmpkg archives: opened and verified as rm-inspect --verify does, then
 * extracted into a fresh directory; and fetched into an empty cache as
 * rm-cache fetch FILE does (open under the signature policy, unpack). */
#include "config.h"

#include "rm_cache.h"
#include "rm_pkg.h"
#include "fuzz.h"

FUZZ_SETUP_ONLY

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rm_pkg *pkg = NULL;
	struct rm_err err;
	char path[PATH_MAX], dir[PATH_MAX];

	json_t *res = NULL;

	fuzz_write(path, sizeof(path), "in.rmpkg", data, size);
	rm_err_clear(&err);
	if (rm_pkg_open(path, RM_PKG_VERIFY | RM_PKG_NO_POLICY, &pkg, &err) != 0)
		return 0;
	fuzz_path(dir, sizeof(dir), "out");
	rm_err_clear(&err);
	rm_pkg_extract(pkg, dir, &err);
	rm_remove_tree(dir);
	rm_pkg_free(pkg);
	/* only what opened above: the rest is refused by the same code */
	rm_err_clear(&err);
	rm_cache_fetch(path, 0, &res, &err);
	json_decref(res);
	rm_remove_tree(fuzz_path(dir, sizeof(dir), "home"));
	fuzz_mkdir("home");
	return 0;
}
