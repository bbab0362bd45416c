/* $REMOTEMEDIA_HOME/config.yaml, read once per process. */
#include "config.h"

#include <stdio.h>

#include "rm_config.h"
#include "rm_doc.h"
#include "rm_fs.h"
#include "rm_home.h"
#include "rm_known.h"

static json_t *cached;
static char cached_path[4096];

/* Unknown keys of the mapping m at prefix (rm_unknown_field); m may be anything. */
static int
check_map(const json_t *m, const char *prefix, const char *const *known, struct rm_err *err)
{
	const char *key;
	json_t *v;
	char field[600];

	if (!json_is_object(m))
		return 0;
	json_object_foreach((json_t *)m, key, v) {
		if (rm_known_has(known, key))
			continue;
		snprintf(field, sizeof(field), "%s%s%s", prefix, prefix[0] ? "." : "", key);
		if (rm_unknown_field(cached_path, field, rm_nearest(key, known), err) != 0)
			return -err->code;
	}
	return 0;
}

/* Unknown keys at the top, in registries.HOST and in etcd. */
static int
check_fields(const json_t *cfg, struct rm_err *err)
{
	const char *host;
	json_t *e;
	char prefix[400];

	if (check_map(cfg, "", rm_known_config, err) != 0 ||
	    check_map(json_object_get(cfg, "etcd"), "etcd", rm_known_etcd, err) != 0)
		return -err->code;
	json_object_foreach(json_object_get(cfg, "registries"), host, e) {
		snprintf(prefix, sizeof(prefix), "registries.%s", host);
		if (check_map(e, prefix, rm_known_registry, err) != 0)
			return -err->code;
	}
	return 0;
}

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
	if (check_fields(cfg, err) != 0) {
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
