/* MCD sidecars and catalogs, and ECPs: the input as a sidecar document, as
 * the user's catalog.yaml (entry "m"), and as an ECP or advert engine; a
 * model and an engine that both load are checked against each other. */
#include "config.h"

#include "rm_doc.h"
#include "rm_mcd.h"
#include "fuzz.h"

FUZZ_SETUP_ONLY

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rm_err err;
	char path[PATH_MAX];
	json_t *mcd, *cat, *doc, *ecp = NULL;

	fuzz_write(path, sizeof(path), "model.mcd", data, size);
	rm_err_clear(&err);
	mcd = rm_mcd_load(path, &err);
	fuzz_write(path, sizeof(path), "home/catalog.yaml", data, size);
	rm_err_clear(&err);
	cat = rm_mcd_load("catalog:m", &err);
	rm_err_clear(&err);
	if ((doc = rm_doc_parse((const char *)data, size, "ecp", -1, &err)) != NULL) {
		rm_err_clear(&err);
		ecp = rm_ecp_normalize(doc, "ecp", &err);
		json_decref(doc);
	}
	if (ecp != NULL) {
		if (mcd != NULL)
			json_decref(rm_mcd_check(mcd, ecp));
		if (cat != NULL)
			json_decref(rm_mcd_check(cat, ecp));
	}
	json_decref(mcd);
	json_decref(cat);
	json_decref(ecp);
	return 0;
}
