/* Credential files: the input as $DOCKER_CONFIG/config.json, looked up as
 * rm-push and rm-cache look up a registry's credentials. PATH is empty, so
 * a credHelpers or credsStore entry finds no helper to run. */
#include "config.h"

#include "rm_creds.h"
#include "fuzz.h"

FUZZ_SETUP_ONLY

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *hosts[] = { "registry.example.com", "localhost:5000" };
	struct rm_cred cred;
	struct rm_err err;
	char path[PATH_MAX], basic[2048];
	size_t i;

	fuzz_write(path, sizeof(path), "docker/config.json", data, size);
	for (i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++) {
		rm_err_clear(&err);
		if (rm_creds_lookup(hosts[i], &cred, &err) == 0) {
			rm_cred_basic(&cred, basic, sizeof(basic));
			rm_cred_wipe(&cred);
		}
	}
	return 0;
}
