#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rm_advert.h"
#include "rm_doc.h"
#include "rm_home.h"
#include "rm_known.h"
#include "rm_log.h"
#include "rm_registry.h"
#include "rm_taxo.h"

static int
check_value(const struct rm_taxo_key *k, json_t *parent, const char *key, const char *file,
    const char *field, struct rm_err *err)
{
	json_t *v = json_object_get(parent, key), *x;
	char brief[128];
	const char *ks;
	size_t i;

	switch (k->type) {
	case RM_T_NUMBER:
		if (!json_is_number(v))
			return rm_err_set(err, RM_EXIT_INVALID, file, field,
			    "expected a number%s%s, got %s", k->unit ? " in " : "", k->unit ? k->unit : "",
			    rm_json_brief(v, brief, sizeof(brief)));
		if (json_number_value(v) < 0)
			return rm_err_set(err, RM_EXIT_INVALID, file, field,
			    "expected a number >= 0, got %s", rm_json_brief(v, brief, sizeof(brief)));
		return 0;
	case RM_T_STRING:
		if (!json_is_string(v))
			return rm_err_set(err, RM_EXIT_INVALID, file, field, "expected a string, got %s",
			    rm_json_brief(v, brief, sizeof(brief)));
		return 0;
	case RM_T_ENUM:
		if (json_is_string(v))
			for (i = 0; i < k->nvalues; i++)
				if (strcmp(k->values[i], json_string_value(v)) == 0)
					return 0;
		{
			char vals[512] = "";
			for (i = 0; i < k->nvalues; i++) {
				strncat(vals, i ? ", " : "", sizeof(vals) - strlen(vals) - 1);
				strncat(vals, k->values[i], sizeof(vals) - strlen(vals) - 1);
			}
			return rm_err_set(err, RM_EXIT_INVALID, file, field,
			    "expected one of %s, got %s", vals, rm_json_brief(v, brief, sizeof(brief)));
		}
	case RM_T_VERSION:
		if (json_is_number(v)) {
			char num[64];
			snprintf(num, sizeof(num), "%g", json_number_value(v));
			json_object_set_new(parent, key, json_string(num));
			return 0;
		}
		if (!json_is_string(v) || json_string_length(v) == 0)
			return rm_err_set(err, RM_EXIT_INVALID, file, field,
			    "expected a version string such as \"8.9\", got %s",
			    rm_json_brief(v, brief, sizeof(brief)));
		return 0;
	case RM_T_SET:
		if (json_is_string(v)) {
			json_object_set_new(parent, key, json_pack("[O]", v));
			return 0;
		}
		if (!json_is_array(v))
			return rm_err_set(err, RM_EXIT_INVALID, file, field,
			    "expected a list of strings, got %s", rm_json_brief(v, brief, sizeof(brief)));
		json_array_foreach(v, i, x)
			if (!json_is_string(x))
				return rm_err_set(err, RM_EXIT_INVALID, file, field,
				    "expected a list of strings, item %zu is %s", i,
				    rm_json_brief(x, brief, sizeof(brief)));
		return 0;
	case RM_T_BOOL:
		if (!json_is_boolean(v))
			return rm_err_set(err, RM_EXIT_INVALID, file, field,
			    "expected true or false, got %s", rm_json_brief(v, brief, sizeof(brief)));
		return 0;
	case RM_T_PRESENCE:
		if (!json_is_object(v) && !json_is_boolean(v) && !json_is_null(v))
			return rm_err_set(err, RM_EXIT_INVALID, file, field,
			    "expected a mapping (or true/false), got %s",
			    rm_json_brief(v, brief, sizeof(brief)));
		return 0;
	case RM_T_CODEC_MAP:
		if (json_is_array(v)) {
			/* a plain codec list says nothing about hardware: software */
			json_t *m = json_object();
			json_array_foreach(v, i, x) {
				if (!json_is_string(x)) {
					json_decref(m);
					return rm_err_set(err, RM_EXIT_INVALID, file, field,
					    "expected codec names, item %zu is %s", i,
					    rm_json_brief(x, brief, sizeof(brief)));
				}
				json_object_set_new(m, json_string_value(x), json_string("software"));
			}
			json_object_set_new(parent, key, m);
			return 0;
		}
		if (!json_is_object(v))
			return rm_err_set(err, RM_EXIT_INVALID, file, field,
			    "expected a mapping codec -> \"hardware\" or \"software\", got %s",
			    rm_json_brief(v, brief, sizeof(brief)));
		json_object_foreach(v, ks, x)
			if (!json_is_string(x) || (strcmp(json_string_value(x), "hardware") != 0 &&
			    strcmp(json_string_value(x), "software") != 0))
				return rm_err_set(err, RM_EXIT_INVALID, file, field,
				    "%s: expected \"hardware\" or \"software\", got %s", ks,
				    rm_json_brief(x, brief, sizeof(brief)));
		return 0;
	case RM_T_VERSION_MAP:
		if (!json_is_object(v))
			return rm_err_set(err, RM_EXIT_INVALID, file, field,
			    "expected a mapping name -> version, got %s",
			    rm_json_brief(v, brief, sizeof(brief)));
		json_object_foreach(v, ks, x) {
			if (json_is_number(x)) {
				char num[64];
				snprintf(num, sizeof(num), "%g", json_number_value(x));
				json_object_set_new(v, ks, json_string(num));
			} else if (!json_is_string(x))
				return rm_err_set(err, RM_EXIT_INVALID, file, field,
				    "%s: expected a version string, got %s", ks,
				    rm_json_brief(x, brief, sizeof(brief)));
		}
		return 0;
	}
	return 0;
}

/*
 * Every leaf under capabilities that the taxonomy does not know: a warning
 * in development, an error in production (rm_unknown_field). This runs for
 * every advert read, so the path is built in place (path holds plen bytes
 * of the prefix) and nothing is formatted unless a key is unknown.
 */
static int
check_unknown(const struct rm_taxo *t, json_t *obj, char *path, size_t plen,
    const char *file, struct rm_err *err)
{
	const char *key;
	json_t *v;
	char field[600];

	json_object_foreach(obj, key, v) {
		size_t klen = strlen(key), n = plen + (plen > 0) + klen;
		int idx;
		if (n >= 512)
			continue;
		if (plen > 0)
			path[plen] = '.';
		memcpy(path + plen + (plen > 0), key, klen + 1);
		idx = rm_taxo_findn(t, path, n);
		if (idx >= 0 && t->keys[idx].type != RM_T_PRESENCE)
			continue;
		if (idx < 0 && rm_taxo_is_info(t, path))
			continue;
		if (json_is_object(v)) {
			if (check_unknown(t, v, path, n, file, err) != 0)
				return -err->code;
			continue;
		}
		if (idx >= 0)
			continue;
		snprintf(field, sizeof(field), "capabilities.%s", path);
		if (rm_unknown_field(file, field, rm_nearest_capability(t, path), err) != 0)
			return -err->code;
	}
	return 0;
}

/* Top-level fields that are neither ours nor taxonomy keys. */
static int
check_unknown_top(const struct rm_taxo *t, json_t *a, const char *file, struct rm_err *err)
{
	const char *key, *near;
	json_t *v;

	json_object_foreach(a, key, v) {
		if (rm_taxo_find(t, key) >= 0 || rm_known_has(rm_known_advert, key) ||
		    rm_taxo_is_info(t, key))
			continue;
		near = rm_nearest(key, rm_known_advert);
		if (near == NULL)
			near = rm_nearest_capability(t, key);
		if (rm_unknown_field(file, key, near, err) != 0)
			return -err->code;
	}
	return 0;
}

static void
move(json_t *dst, const char *dkey, json_t *src, const char *skey)
{
	json_t *v = json_object_get(src, skey);

	if (v != NULL && json_object_get(dst, dkey) == NULL)
		json_object_set(dst, dkey, v);
}

/* crank, flat spec 004, ECP and Colibri shapes into ours; owned: doc may be reused. */
static json_t *
convert_foreign(const json_t *doc, const char *file, int owned)
{
	json_t *out, *caps, *first, *c;
	static const char *s004[] = { "runtime", "env_profile", "constraints", "slo",
		"spiffe_id", "required_capabilities", "cost_tokens", "slo_bid",
		"controller_affinity", "load_score", NULL };
	size_t i;

	if (json_is_array(doc)) {
		char id[256];
		const char *base = strrchr(file, '/'), *dot;
		base = base ? base + 1 : file;
		dot = strchr(base, '.');
		snprintf(id, sizeof(id), "%.*s", dot ? (int)(dot - base) : (int)strlen(base), base);
		return json_pack("{s:s,s:{s:O}}", "id", id, "capabilities", "tags", doc);
	}
	if (!json_is_object(doc))
		return NULL;
	if (json_object_get(doc, "worker_id") == NULL || json_object_get(doc, "id") != NULL)
		return owned ? json_incref((json_t *)doc) : json_deep_copy(doc);
	out = json_object();
	move(out, "id", (json_t *)doc, "worker_id");
	move(out, "url", (json_t *)doc, "worker_url");
	move(out, "url", (json_t *)doc, "url");
	move(out, "region", (json_t *)doc, "region");
	move(out, "pricing", (json_t *)doc, "pricing");
	for (i = 0; s004[i]; i++)
		move(out, s004[i], (json_t *)doc, s004[i]);
	if (json_object_get(doc, "supports_positional") || json_object_get(doc, "max_context")) {
		json_t *eng = json_object();
		static const char *ef[] = { "supports_positional", "supports_attention",
			"supports_quant", "max_context", "vram_bytes", NULL };
		for (i = 0; ef[i]; i++)
			move(eng, ef[i], (json_t *)doc, ef[i]);
		json_object_set_new(out, "engine", eng);
	}
	caps = json_object_get(doc, "capabilities");
	if (json_is_array(caps) && json_array_size(caps) > 0 &&
	    json_is_object(json_array_get(caps, 0))) {
		/* crank: services, with the spec 004 fields of the first one */
		json_t *services = json_array();
		first = json_array_get(caps, 0);
		json_array_foreach(caps, i, c) {
			json_t *svc = json_object();
			move(svc, "name", c, "name");
			move(svc, "verb", c, "verb");
			move(svc, "version", c, "version");
			json_array_append_new(services, svc);
		}
		json_object_set_new(out, "services", services);
		for (i = 0; s004[i]; i++)
			move(out, s004[i], first, s004[i]);
		move(out, "cost_tokens", first, "cost_tokens_per_invocation");
	} else if (caps != NULL)
		json_object_set(out, "capabilities", caps);
	else if (json_object_get(doc, "verb") != NULL) {
		json_t *svc = json_object();
		move(svc, "name", (json_t *)doc, "name");
		move(svc, "verb", (json_t *)doc, "verb");
		move(svc, "version", (json_t *)doc, "version");
		json_object_set_new(out, "services", json_pack("[o]", svc));
	}
	if (json_object_get(out, "url") != NULL)
		move(out, "endpoint", out, "url");
	return out;
}

static int
has_string(const json_t *arr, const json_t *v)
{
	size_t i;
	json_t *x;

	json_array_foreach(arr, i, x)
		if (json_equal(x, v))
			return 1;
	return 0;
}

/*
 * The tags an admin set (top-level "tags", rm-probe register --set tags=...)
 * are matched: they join the probed capabilities.tags. The top-level list
 * stays, so that drift detection can tell them from probed ones.
 */
static void
merge_static_tags(json_t *a, json_t *caps)
{
	json_t *st = json_object_get(a, "tags"), *ct, *v;
	size_t i;

	if (!json_is_array(st) || json_array_size(st) == 0)
		return;
	ct = json_object_get(caps, "tags");
	if (!json_is_array(ct)) {
		ct = json_array();
		json_object_set_new(caps, "tags", ct);
	}
	json_array_foreach(st, i, v)
		if (!has_string(ct, v))
			json_array_append(ct, v);
}

struct check_arg {
	const struct rm_taxo *t;
	const char *file, *prefix;
	struct rm_err *err;
	int failed;
};

static void
check_cb(int key, json_t *parent, const char *name, const char *path, void *arg)
{
	struct check_arg *ca = arg;
	char field[600];

	if (ca->failed)
		return;
	/* the field path is only formatted for an error: this runs for every
	 * value of every advert */
	if (check_value(&ca->t->keys[key], parent, name, ca->file, "", ca->err) == 0)
		return;
	snprintf(field, sizeof(field), "%s%s", ca->prefix, path);
	snprintf(ca->err->field, sizeof(ca->err->field), "%s", field);
	ca->failed = 1;
}

static json_t *normalize(const json_t *doc, const char *file, int owned, struct rm_err *err);

json_t *
rm_advert_normalize(const json_t *doc, const char *file, struct rm_err *err)
{
	return normalize(doc, file, 0, err);
}

json_t *
rm_advert_normalize_take(json_t *doc, const char *file, struct rm_err *err)
{
	json_t *a = normalize(doc, file, 1, err);

	json_decref(doc);
	return a;
}

static json_t *
normalize(const json_t *doc, const char *file, int owned, struct rm_err *err)
{
	const struct rm_taxo *t = rm_taxo_get(err);
	json_t *a, *caps, *id, *v;
	const char *key;

	if (t == NULL)
		return NULL;
	if (!json_is_object(doc) && !json_is_array(doc)) {
		rm_err_set(err, RM_EXIT_INVALID, file, NULL,
		    "expected an executor advert (a mapping), got %s", rm_json_type(doc));
		return NULL;
	}
	a = convert_foreign(doc, file, owned);
	if (a == NULL) {
		rm_err_set(err, RM_EXIT_INVALID, file, NULL, "expected an executor advert");
		return NULL;
	}
	if (rm_doc_check_schema(a, "executor", 1, 0, file, err) != 0)
		goto fail;
	id = json_object_get(a, "id");
	if (!json_is_string(id)) {
		rm_err_set(err, RM_EXIT_INVALID, file, "id", id ? "expected a string, got %s" :
		    "missing (every advert needs an id)%s", id ? rm_json_type(id) : "");
		goto fail;
	}
	if (!rm_registry_id_ok(json_string_value(id))) {
		rm_err_set(err, RM_EXIT_INVALID, file, "id",
		    "\"%s\" is not a valid executor id (letters, digits, '.', '_', '-', ':', '@')",
		    json_string_value(id));
		goto fail;
	}
	caps = json_object_get(a, "capabilities");
	if (json_is_array(caps)) {
		caps = json_pack("{s:O}", "tags", caps);
		json_object_set_new(a, "capabilities", caps);
	} else if (caps == NULL) {
		caps = json_object();
		json_object_set_new(a, "capabilities", caps);
	} else if (!json_is_object(caps)) {
		rm_err_set(err, RM_EXIT_INVALID, file, "capabilities",
		    "expected a mapping (or a list of tags), got %s", rm_json_type(caps));
		goto fail;
	}
	{
		struct check_arg ca = { t, file, "capabilities.", err, 0 };
		rm_taxo_walk(t, caps, "", check_cb, &ca);
		ca.prefix = "";
		if (!ca.failed)
			rm_taxo_walk(t, a, "", check_cb, &ca);
		if (ca.failed)
			goto fail;
	}
	for (key = "probed_at"; key; key = strcmp(key, "probed_at") == 0 ? "expires_at" : NULL) {
		long long tt;
		v = json_object_get(a, key);
		if (v != NULL && (!json_is_string(v) || rm_time_parse(json_string_value(v), &tt) != 0)) {
			rm_err_set(err, RM_EXIT_INVALID, file, key,
			    "expected an RFC 3339 time such as \"2026-11-23T09:00:00Z\"");
			goto fail;
		}
	}
	{
		char path[512];
		if (check_unknown_top(t, a, file, err) != 0 ||
		    check_unknown(t, caps, path, 0, file, err) != 0)
			goto fail;
	}
	merge_static_tags(a, caps);
	if (json_object_get(a, "schema") == NULL)
		json_object_set_new(a, "schema", json_string("remotemedia.executor/1"));
	return a;
fail:
	json_decref(a);
	return NULL;
}

int
rm_advert_expired(const json_t *advert, long long now)
{
	json_t *v = json_object_get(advert, "expires_at");
	long long t;

	if (!json_is_string(v) || rm_time_parse(json_string_value(v), &t) != 0)
		return 0;
	return t <= now;
}
