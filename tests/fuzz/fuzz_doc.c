/* JSON and YAML documents: rm_doc_parse and rm_doc_parse_many, both ways,
 * and the stable rendering every tool writes back. */
#include "config.h"

#include "rm_doc.h"
#include "fuzz.h"

FUZZ_SETUP_ONLY

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rm_err err;
	json_t *doc;
	int yaml;

	for (yaml = 0; yaml <= 1; yaml++) {
		rm_err_clear(&err);
		doc = rm_doc_parse((const char *)data, size, "fuzz", yaml, &err);
		if (doc != NULL) {
			free(rm_json_dump_file(doc));
			json_decref(doc);
		}
		rm_err_clear(&err);
		doc = rm_doc_parse_many((const char *)data, size, "fuzz", yaml, &err);
		json_decref(doc);
	}
	return 0;
}
