/*
 * Registry answer headers, one per input line: WWW-Authenticate challenges
 * (rm_http_challenge_param, as fetch_token reads realm, service and scope,
 * into buffers of the sizes it uses and a tiny one), the Range of an
 * upload (rm_oci_range_next), Docker-Content-Digest (rm_oci_digest_ok), and
 * Location-style references (rm_oci_ref_parse).
 */
#include "config.h"

#include "rm_http.h"
#include "rm_oci.h"
#include "fuzz.h"

FUZZ_SETUP_ONLY

static void
one_line(const char *v)
{
	static const char *keys[] = { "realm", "service", "scope", "error" };
	static const size_t sizes[] = { 1024, 256, 512, 1 };
	char out[1024];
	struct rm_oci_ref ref;
	struct rm_err err;
	uint64_t next;
	size_t i;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		rm_http_challenge_param(v, keys[i], out, sizes[i]);
	rm_oci_range_next(v, &next);
	rm_oci_digest_ok(v);
	rm_err_clear(&err);
	if (rm_oci_ref_parse(v, &ref, &err) == 0)
		rm_oci_ref_str(&ref, out, sizeof(out));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		/* an exact-size copy: a read past the value's NUL is caught */
		char *v = malloc(n + 1);
		if (v == NULL)
			abort();
		memcpy(v, p, n);
		v[n] = '\0';
		one_line(v);
		free(v);
		p += n + 1;
	}
	return 0;
}
