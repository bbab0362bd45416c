#include "config.h"

#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rm_doc.h"
#include "rm_fs.h"
#include "rm_home.h"
#include "rm_taxo.h"

static const char *type_names[] = {
	"number", "string", "enum", "version", "set", "bool", "presence", "codec_map",
	"version_map"
};
static const char *cmp_names[] = {
	"at_least", "at_most", "equal", "subset", "intersects", "version", "codecs",
	"version_map", "presence"
};

const char *
rm_taxo_type_name(enum rm_type t)
{
	return type_names[t];
}

const char *
rm_taxo_cmp_name(enum rm_cmp c)
{
	return cmp_names[c];
}

uint64_t
rm_hash64(const void *data, size_t len, uint64_t seed)
{
	const unsigned char *p = data;
	uint64_t h = seed ? seed : 1469598103934665603ULL;
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= p[i];
		h *= 1099511628211ULL;
	}
	return h;
}

static int
lookup_name(const char **names, size_t n, const char *s)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(names[i], s) == 0)
			return (int)i;
	return -1;
}

static char **
str_list(const json_t *v, size_t *n, const char *file, const char *field, struct rm_err *err)
{
	char **out;
	size_t i;

	*n = 0;
	if (v == NULL)
		return NULL;
	if (json_is_string(v)) {
		out = calloc(1, sizeof(*out));
		out[0] = strdup(json_string_value(v));
		*n = 1;
		return out;
	}
	if (!json_is_array(v)) {
		rm_err_set(err, RM_EXIT_INVALID, file, field, "expected a list of strings, got %s",
		    rm_json_type(v));
		return NULL;
	}
	out = calloc(json_array_size(v) + 1, sizeof(*out));
	for (i = 0; i < json_array_size(v); i++) {
		json_t *s = json_array_get(v, i);
		if (!json_is_string(s)) {
			rm_err_set(err, RM_EXIT_INVALID, file, field,
			    "expected a list of strings, item %zu is %s", i, rm_json_type(s));
			while (i-- > 0)
				free(out[i]);
			free(out);
			*n = 0;
			return NULL;
		}
		out[i] = strdup(json_string_value(s));
	}
	*n = json_array_size(v);
	return out;
}

static void
key_release(struct rm_taxo_key *k)
{
	size_t i;

	free(k->path);
	for (i = 0; i < k->nreqs; i++)
		free(k->reqs[i]);
	free(k->reqs);
	for (i = 0; i < k->nvalues; i++)
		free(k->values[i]);
	free(k->values);
	free(k->reason);
	free(k->modifier);
	free(k->unit);
	free(k->description);
	free(k->source);
}

static const char *
opt_str(const json_t *o, const char *name)
{
	json_t *v = json_object_get(o, name);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

static char *
dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

static int
add_doc(struct rm_taxo *t, json_t *doc, const char *file, struct rm_err *err)
{
	json_t *caps, *def, *info;
	const char *path;
	char field[300];
	size_t i;

	if (!json_is_object(doc))
		return rm_err_set(err, RM_EXIT_INVALID, file, NULL, "expected a mapping, got %s",
		    rm_json_type(doc));
	if (rm_doc_check_schema(doc, "taxonomy", 1, 0, file, err) != 0)
		return -err->code;
	caps = json_object_get(doc, "capabilities");
	if (caps != NULL && !json_is_object(caps))
		return rm_err_set(err, RM_EXIT_INVALID, file, "capabilities",
		    "expected a mapping of capability keys, got %s", rm_json_type(caps));
	json_object_foreach(caps, path, def) {
		struct rm_taxo_key k;
		const char *s;
		int ti, ci, idx;

		memset(&k, 0, sizeof(k));
		snprintf(field, sizeof(field), "capabilities.%s", path);
		if (!json_is_object(def))
			return rm_err_set(err, RM_EXIT_INVALID, file, field,
			    "expected a mapping with type and compare, got %s", rm_json_type(def));
		s = opt_str(def, "type");
		if (s == NULL || (ti = lookup_name(type_names, 9, s)) < 0)
			return rm_err_set(err, RM_EXIT_INVALID, file, field,
			    "type: expected one of number, string, enum, version, set, bool, presence, "
			    "codec_map, version_map, got %s", s ? s : "nothing");
		s = opt_str(def, "compare");
		if (s == NULL) {
			static const int dflt[] = { RM_C_AT_LEAST, RM_C_EQUAL, RM_C_EQUAL, RM_C_VERSION,
			    RM_C_SUBSET, RM_C_EQUAL, RM_C_PRESENCE, RM_C_CODECS, RM_C_VERSION_MAP };
			ci = dflt[ti];
		} else if ((ci = lookup_name(cmp_names, 9, s)) < 0)
			return rm_err_set(err, RM_EXIT_INVALID, file, field,
			    "compare: expected one of at_least, at_most, equal, subset, intersects, "
			    "version, codecs, version_map, presence, got %s", s);
		k.path = strdup(path);
		k.type = (enum rm_type)ti;
		k.cmp = (enum rm_cmp)ci;
		snprintf(field, sizeof(field), "capabilities.%s.requirement", path);
		k.reqs = str_list(json_object_get(def, "requirement"), &k.nreqs, file, field, err);
		if (k.reqs == NULL && json_object_get(def, "requirement") != NULL) {
			key_release(&k);
			return -err->code;
		}
		snprintf(field, sizeof(field), "capabilities.%s.values", path);
		k.values = str_list(json_object_get(def, "values"), &k.nvalues, file, field, err);
		if (k.type == RM_T_ENUM && k.nvalues == 0) {
			key_release(&k);
			return rm_err_set(err, RM_EXIT_INVALID, file, field,
			    "an enum needs its list of values");
		}
		s = opt_str(def, "bare");
		k.bare_at_least = s == NULL || strcmp(s, "equal") != 0;
		k.dynamic = json_is_true(json_object_get(def, "dynamic"));
		k.reason = dup_or_null(opt_str(def, "reason"));
		k.modifier = dup_or_null(opt_str(def, "modifier"));
		k.unit = dup_or_null(opt_str(def, "unit"));
		k.description = dup_or_null(opt_str(def, "description"));
		k.source = strdup(file);
		k.parent = -1;
		/* a later file overrides an earlier definition of the same key */
		idx = rm_taxo_find(t, path);
		if (idx >= 0) {
			key_release(&t->keys[idx]);
			t->keys[idx] = k;
		} else {
			struct rm_taxo_key *nk = realloc(t->keys, (t->nkeys + 1) * sizeof(*nk));
			if (nk == NULL) {
				key_release(&k);
				return rm_err_set(err, RM_EXIT_INTERNAL, file, NULL, "out of memory");
			}
			t->keys = nk;
			t->keys[t->nkeys++] = k;
		}
	}
	info = json_object_get(doc, "informational");
	if (info != NULL) {
		size_t n;
		char **l = str_list(info, &n, file, "informational", err);
		if (l == NULL && n == 0 && json_array_size(info) > 0)
			return -err->code;
		for (i = 0; i < n; i++) {
			char **ni = realloc(t->info, (t->ninfo + 1) * sizeof(*ni));
			if (ni == NULL)
				break;
			t->info = ni;
			t->info[t->ninfo++] = l[i];
		}
		free(l);
	}
	return 0;
}

static int
add_text(struct rm_taxo *t, const char *text, size_t len, const char *file, struct rm_err *err)
{
	json_t *doc;
	int r;

	t->hash = rm_hash64(text, len, t->hash);
	t->hash = rm_hash64(file, strlen(file) + 1, t->hash);
	doc = rm_doc_parse(text, len, file, 1, err);
	if (doc == NULL)
		return -err->code;
	r = add_doc(t, doc, file, err);
	json_decref(doc);
	return r;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void build_slots(struct rm_taxo *t);

static int
load_user_dir(struct rm_taxo *t, struct rm_err *err)
{
	char dir[PATH_MAX], path[PATH_MAX + 256], *text;
	char **names = NULL;
	size_t n = 0, i, len;
	struct dirent *de;
	DIR *d;
	int r = 0;

	if (rm_home_path(dir, sizeof(dir), "taxonomy.d", 0, err) != 0)
		return -err->code;
	d = opendir(dir);
	if (d == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || !rm_doc_is_yaml_name(de->d_name))
			continue;
		char **nn = realloc(names, (n + 1) * sizeof(*nn));
		if (nn == NULL)
			break;
		names = nn;
		names[n++] = strdup(de->d_name);
	}
	closedir(d);
	qsort(names, n, sizeof(*names), cmp_str);
	for (i = 0; i < n && r == 0; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		if ((r = rm_read_file(path, 16 << 20, &text, &len, err)) == 0) {
			r = add_text(t, text, len, path, err);
			free(text);
		}
	}
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return r;
}

int
rm_taxo_load(struct rm_taxo **out, struct rm_err *err)
{
	struct rm_taxo *t;
	char shown[PATH_MAX], *text;
	size_t len, i;
	int r;

	*out = NULL;
	t = calloc(1, sizeof(*t));
	if (t == NULL)
		return rm_err_set(err, RM_EXIT_INTERNAL, NULL, NULL, "out of memory");
	if ((r = rm_data_read("taxonomy.yaml", &text, &len, shown, sizeof(shown), err)) != 0) {
		free(t);
		return r;
	}
	r = add_text(t, text, len, shown, err);
	free(text);
	if (r == 0)
		r = load_user_dir(t, err);
	if (r != 0) {
		rm_taxo_free(t);
		return r;
	}
	build_slots(t);
	/* a key's parent is the presence key named by its first component */
	for (i = 0; i < t->nkeys; i++) {
		char head[256];
		const char *dot = strchr(t->keys[i].path, '.');
		int p;
		if (dot == NULL || (size_t)(dot - t->keys[i].path) >= sizeof(head))
			continue;
		snprintf(head, sizeof(head), "%.*s", (int)(dot - t->keys[i].path), t->keys[i].path);
		p = rm_taxo_find(t, head);
		if (p >= 0 && t->keys[p].type == RM_T_PRESENCE)
			t->keys[i].parent = p;
	}
	*out = t;
	return 0;
}

const struct rm_taxo *
rm_taxo_get(struct rm_err *err)
{
	static struct rm_taxo *cached;

	if (cached == NULL && rm_taxo_load(&cached, err) != 0)
		return NULL;
	return cached;
}

void
rm_taxo_free(struct rm_taxo *t)
{
	size_t i;

	if (t == NULL)
		return;
	for (i = 0; i < t->nkeys; i++)
		key_release(&t->keys[i]);
	free(t->keys);
	for (i = 0; i < t->ninfo; i++)
		free(t->info[i]);
	free(t->info);
	free(t->slots);
	free(t);
}

static void
build_slots(struct rm_taxo *t)
{
	size_t n = 64, i;

	while (n < t->nkeys * 4)
		n *= 2;
	free(t->slots);
	t->slots = calloc(n, sizeof(*t->slots));
	t->nslots = t->slots ? n : 0;
	for (i = 0; i < t->nkeys && t->slots; i++) {
		size_t h = rm_hash64(t->keys[i].path, strlen(t->keys[i].path), 0) & (n - 1);
		while (t->slots[h] != 0)
			h = (h + 1) & (n - 1);
		t->slots[h] = (int)i + 1;
	}
}

int
rm_taxo_findn(const struct rm_taxo *t, const char *path, size_t len)
{
	size_t i, h;

	if (t->nslots == 0) {
		for (i = 0; i < t->nkeys; i++)
			if (strlen(t->keys[i].path) == len && memcmp(t->keys[i].path, path, len) == 0)
				return (int)i;
		return -1;
	}
	h = rm_hash64(path, len, 0) & (t->nslots - 1);
	while (t->slots[h] != 0) {
		const char *k = t->keys[t->slots[h] - 1].path;
		if (strncmp(k, path, len) == 0 && k[len] == '\0')
			return t->slots[h] - 1;
		h = (h + 1) & (t->nslots - 1);
	}
	return -1;
}

int
rm_taxo_find(const struct rm_taxo *t, const char *path)
{
	return rm_taxo_findn(t, path, strlen(path));
}

static void
walk(const struct rm_taxo *t, json_t *obj, char *path, size_t plen,
    void (*fn)(int, json_t *, const char *, const char *, void *), void *arg)
{
	const char *name;
	json_t *v;
	void *iter;

	for (iter = json_object_iter(obj); iter; iter = json_object_iter_next(obj, iter)) {
		size_t nlen, len;
		int k;
		name = json_object_iter_key(iter);
		v = json_object_iter_value(iter);
		/* an advert's capabilities object is walked on its own */
		if (plen == 0 && strcmp(name, "capabilities") == 0)
			continue;
		nlen = strlen(name);
		if (plen + nlen + 2 > 512)
			continue;
		len = plen;
		if (plen > 0)
			path[len++] = '.';
		memcpy(path + len, name, nlen + 1);
		len += nlen;
		k = rm_taxo_findn(t, path, len);
		if (k >= 0) {
			fn(k, obj, name, path, arg);
			/* the callback may have replaced the value (normalising it) */
			v = json_object_iter_value(iter);
		}
		if (json_is_object(v) && (k < 0 || t->keys[k].type == RM_T_PRESENCE))
			walk(t, v, path, len, fn, arg);
		path[plen] = '\0';
	}
}

void
rm_taxo_walk(const struct rm_taxo *t, json_t *obj, const char *prefix,
    void (*fn)(int key, json_t *parent, const char *name, const char *path, void *arg),
    void *arg)
{
	char path[520];
	size_t n = strlen(prefix);

	if (!json_is_object(obj) || n >= 256)
		return;
	memcpy(path, prefix, n + 1);
	walk(t, obj, path, n, fn, arg);
}

int
rm_taxo_find_req(const struct rm_taxo *t, const char *name)
{
	size_t i, j;

	for (i = 0; i < t->nkeys; i++)
		for (j = 0; j < t->keys[i].nreqs; j++)
			if (strcmp(t->keys[i].reqs[j], name) == 0)
				return (int)i;
	return rm_taxo_find(t, name);
}

int
rm_taxo_is_info(const struct rm_taxo *t, const char *name)
{
	size_t i;

	for (i = 0; i < t->ninfo; i++)
		if (strcmp(t->info[i], name) == 0)
			return 1;
	return 0;
}
