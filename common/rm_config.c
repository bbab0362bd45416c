/* $REMOTEMEDIA_HOME/config.yaml, read once per process. */
#include "config.h"

#include <stdio.h>

#include "rm_config.h"
#include "rm_doc.h"
#include "rm_fs.h"
#include "rm_home.h"

static json_t *cached;
static char cached_path[4096];

const json_t *
rm_config(struct rm_err *err)
{
	json_t *cfg;

	if (cached != NULL)
		return cached;
	if (rm_home_path(cached_path, sizeof(cached_path), "config.yaml", 0, err) != 0)
		return NULL;
	if (!rm_is_file(cached_path)) {
		cached = json_object();
		return cached;
	}
	cfg = rm_doc_load(cached_path, err);
	if (cfg == NULL)
		return NULL;
	if (!json_is_object(cfg)) {
		rm_err_set(err, RM_EXIT_INVALID, cached_path, NULL, "expected a mapping, got %s",
		    rm_json_type(cfg));
		json_decref(cfg);
		return NULL;
	}
	cached = cfg;
	return cached;
}

int
rm_config_approved(json_t **list, struct rm_err *err)
{
	const json_t *cfg;
	json_t *l, *p;
	size_t i;

	*list = NULL;
	if (rm_mode() != RM_MODE_PRODUCTION)
		return 0;
	if ((cfg = rm_config(err)) == NULL)
		return -err->code;
	l = json_object_get(cfg, "approved_executors");
	if (l == NULL) {
		*list = json_array();
		return 0;
	}
	if (!json_is_array(l))
		return rm_err_set(err, RM_EXIT_INVALID, cached_path, "approved_executors",
		    "expected a list of executor ids or patterns, got %s", rm_json_type(l));
	json_array_foreach(l, i, p)
		if (!json_is_string(p))
			return rm_err_set(err, RM_EXIT_INVALID, cached_path, "approved_executors",
			    "item %zu: expected an executor id or pattern, got %s", i, rm_json_type(p));
	*list = json_incref(l);
	return 0;
}
