/*
 * OCI image indexes: the input as index.json of an image layout directory
 * fetched with rm_cache_fetch("oci:DIR") as rm-cache fetch does. The layout
 * holds one manifest blob (below), which the seeds name; the cache starts
 * empty for every input.
 */
#include "config.h"

#include "rm_cache.h"
#include "rm_crypto.h"
#include "rm_oci.h"
#include "fuzz.h"

static const char manifest[] =
    "{\"schemaVersion\":2,\"mediaType\":\"" RM_OCI_MANIFEST_V1 "\","
    "\"artifactType\":\"" RM_OCI_ARTIFACT "\","
    "\"config\":{\"mediaType\":\"" RM_OCI_CONFIG "\",\"size\":2,"
    "\"digest\":\"sha256:1111111111111111111111111111111111111111111111111111111111111111\"},"
    "\"layers\":[{\"mediaType\":\"application/json\",\"size\":2,"
    "\"digest\":\"sha256:2222222222222222222222222222222222222222222222222222222222222222\","
    "\"annotations\":{\"org.opencontainers.image.title\":\"meta/contents.json\"}}],"
    "\"annotations\":{\"org.remotemedia.package.mtime\":\"0\",\"org.remotemedia.package.digest\":"
    "\"sha256:2222222222222222222222222222222222222222222222222222222222222222\"}}";

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char path[PATH_MAX], hex[RM_SHA256_HEX], rel[128];
	static const char layout[] = "{\"imageLayoutVersion\":\"1.0.0\"}";

	fuzz_setup();
	fuzz_mkdir("layout");
	fuzz_mkdir("layout/blobs");
	fuzz_mkdir("layout/blobs/sha256");
	fuzz_write(path, sizeof(path), "layout/oci-layout", (const uint8_t *)layout,
	    sizeof(layout) - 1);
	rm_sha256_hex(manifest, sizeof(manifest) - 1, hex);
	snprintf(rel, sizeof(rel), "layout/blobs/sha256/%s", hex);
	fuzz_write(path, sizeof(path), rel, (const uint8_t *)manifest, sizeof(manifest) - 1);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rm_err err;
	char path[PATH_MAX], ref[PATH_MAX + 8];
	json_t *res;
	int i;

	fuzz_write(path, sizeof(path), "layout/index.json", data, size);
	for (i = 0; i < 2; i++) {
		/* the only manifest, then the one tagged latest */
		snprintf(ref, sizeof(ref), "oci:%s%s", fuzz_path(path, sizeof(path), "layout"),
		    i ? ":latest" : "");
		rm_err_clear(&err);
		res = NULL;
		rm_cache_fetch(ref, 0, &res, &err);
		json_decref(res);
	}
	rm_remove_tree(fuzz_path(path, sizeof(path), "home"));
	fuzz_mkdir("home");
	return 0;
}
