#include "config.h"

#include <ctype.h>
#include <fnmatch.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rm_doc.h"
#include "rm_known.h"
#include "rm_match.h"
#include "rm_registry.h"
#include "rm_version.h"
#include "rm_xidx.h"

#define MAX_CLAUSES 64

enum reason {
	R_OK, R_MISSING, R_INSUFFICIENT, R_EXCEEDS, R_MISMATCH, R_NONE_SUPPORTED,
	R_VERSION, R_CODEC_MISSING, R_CODEC_SOFTWARE, R_FRAMEWORK_MISSING, R_NREASONS
};

static const char *reason_names[] = {
	"ok", "missing", "insufficient", "exceeds", "mismatch", "none_supported",
	"version_mismatch", "codec_missing", "codec_not_hardware", "framework_missing"
};

/* ---- compiling a node ---------------------------------------------- */

static void
clause_release(struct rm_clause *c)
{
	size_t i;

	json_decref(c->need);
	for (i = 0; i < c->nstrs; i++) {
		free(c->strs[i]);
		if (c->ranges)
			free(c->ranges[i]);
	}
	if (c->ranges && c->nstrs == 0)
		free(c->ranges[0]);
	free(c->strs);
	free(c->ranges);
	free(c->hw);
}

void
rm_node_free(struct rm_node *n)
{
	size_t i;

	if (n == NULL)
		return;
	for (i = 0; i < n->n; i++)
		clause_release(&n->c[i]);
	free(n->c);
	free(n->id);
	json_decref(n->requirements);
	json_decref(n->notes);
	free(n);
}

static struct rm_clause *
new_clause(struct rm_node *n, int key, const char *path, struct rm_err *err)
{
	struct rm_clause *nc;

	if (n->n >= MAX_CLAUSES) {
		rm_err_set(err, RM_EXIT_INVALID, NULL, path, "more than %d requirement clauses",
		    MAX_CLAUSES);
		return NULL;
	}
	nc = realloc(n->c, (n->n + 1) * sizeof(*nc));
	if (nc == NULL)
		return NULL;
	n->c = nc;
	nc = &n->c[n->n++];
	memset(nc, 0, sizeof(*nc));
	nc->key = key;
	nc->parent = -1;
	nc->alt_key = -1;
	nc->weight = 1;
	snprintf(nc->path, sizeof(nc->path), "%s", path);
	return nc;
}

static int
add_str(struct rm_clause *c, const char *s)
{
	char **ns = realloc(c->strs, (c->nstrs + 1) * sizeof(*ns));

	if (ns == NULL)
		return -1;
	c->strs = ns;
	c->strs[c->nstrs++] = strdup(s);
	return 0;
}

static int
type_error(struct rm_err *err, const char *file, const char *field, const char *want,
    const json_t *v)
{
	char brief[128];

	return rm_err_set(err, RM_EXIT_INVALID, file, field, "expected %s, got %s", want,
	    rm_json_brief(v, brief, sizeof(brief)));
}

/* Fills a clause's comparison values from the requirement value v. */
static int
fill_clause(const struct rm_taxo_key *k, struct rm_clause *c, const json_t *v, const char *file,
    const char *field, struct rm_err *err)
{
	size_t i;
	json_t *x;
	const char *name;

	/* shared, not copied: nothing changes a node's requirements once read */
	c->need = json_incref((json_t *)v);
	switch (k->cmp) {
	case RM_C_AT_LEAST:
	case RM_C_AT_MOST:
		if (json_is_number(v)) {
			if (k->cmp == RM_C_AT_LEAST) {
				c->has_lo = 1;
				c->lo = json_number_value(v);
			} else {
				c->has_hi = 1;
				c->hi = json_number_value(v);
			}
			return 0;
		}
		if (json_is_object(v) && (json_object_get(v, "min") || json_object_get(v, "max"))) {
			json_t *mn = json_object_get(v, "min"), *mx = json_object_get(v, "max");
			if ((mn && !json_is_number(mn)) || (mx && !json_is_number(mx)))
				return type_error(err, file, field, "numbers in min/max", v);
			c->has_lo = mn != NULL;
			c->lo = mn ? json_number_value(mn) : 0;
			c->has_hi = mx != NULL;
			c->hi = mx ? json_number_value(mx) : 0;
			return 0;
		}
		return type_error(err, file, field, k->unit ? "a number (or {min, max})" :
		    "a number (or {min, max})", v);
	case RM_C_EQUAL:
		if (json_is_number(v) && k->type == RM_T_NUMBER) {
			c->numeric_eq = 1;
			c->has_lo = c->has_hi = 1;
			c->lo = c->hi = json_number_value(v);
			return 0;
		}
		if (json_is_boolean(v) && k->type == RM_T_BOOL) {
			c->numeric_eq = 1;
			c->has_lo = c->has_hi = 1;
			c->lo = c->hi = json_is_true(v);
			return 0;
		}
		if (json_is_string(v))
			add_str(c, json_string_value(v));
		else if (json_is_array(v) && json_array_size(v) > 0) {
			json_array_foreach(v, i, x) {
				if (!json_is_string(x))
					return type_error(err, file, field, "a string or a list of strings", v);
				add_str(c, json_string_value(x));
			}
		} else
			return type_error(err, file, field, "a string or a list of strings", v);
		if (k->type == RM_T_ENUM)
			for (i = 0; i < c->nstrs; i++) {
				size_t j;
				int found = 0;
				for (j = 0; j < k->nvalues; j++)
					found |= strcmp(k->values[j], c->strs[i]) == 0;
				if (!found) {
					char vals[512] = "";
					for (j = 0; j < k->nvalues; j++) {
						strncat(vals, j ? ", " : "", sizeof(vals) - strlen(vals) - 1);
						strncat(vals, k->values[j], sizeof(vals) - strlen(vals) - 1);
					}
					return rm_err_set(err, RM_EXIT_INVALID, file, field,
					    "expected one of %s, got \"%s\"", vals, c->strs[i]);
				}
			}
		return 0;
	case RM_C_SUBSET:
	case RM_C_INTERSECTS:
		if (json_is_string(v))
			return add_str(c, json_string_value(v));
		if (!json_is_array(v))
			return type_error(err, file, field, "a list of strings", v);
		json_array_foreach(v, i, x) {
			if (!json_is_string(x))
				return type_error(err, file, field, "a list of strings", v);
			add_str(c, json_string_value(x));
		}
		return 0;
	case RM_C_VERSION:
		c->ranges = calloc(1, sizeof(*c->ranges));
		if (json_is_number(v)) {
			char num[64];
			snprintf(num, sizeof(num), "%g", json_number_value(v));
			c->ranges[0] = strdup(num);
		} else if (json_is_string(v) && rm_version_range_ok(json_string_value(v)))
			c->ranges[0] = strdup(json_string_value(v));
		else
			return type_error(err, file, field,
			    "a version or range such as \"8.0\", \">=2.1,<3\", \"==1.16.*\", \"~=2.1\"", v);
		return 0;
	case RM_C_CODECS:
		if (json_is_string(v))
			v = json_pack("[O]", v);
		else
			json_incref((json_t *)v);
		if (json_is_array(v)) {
			c->hw = calloc(json_array_size(v) + 1, sizeof(int));
			json_array_foreach(v, i, x) {
				if (!json_is_string(x)) {
					json_decref((json_t *)v);
					return type_error(err, file, field, "a list of codec names", x);
				}
				add_str(c, json_string_value(x));
			}
		} else if (json_is_object(v)) {
			c->hw = calloc(json_object_size(v) + 1, sizeof(int));
			json_object_foreach((json_t *)v, name, x) {
				if (!json_is_string(x) || (strcmp(json_string_value(x), "hardware") &&
				    strcmp(json_string_value(x), "software") && strcmp(json_string_value(x), "any"))) {
					json_decref((json_t *)v);
					return type_error(err, file, field,
					    "codec -> \"hardware\", \"software\" or \"any\"", x);
				}
				c->hw[c->nstrs] = strcmp(json_string_value(x), "hardware") == 0;
				add_str(c, name);
			}
		} else {
			json_decref((json_t *)v);
			return type_error(err, file, field, "a list of codec names", v);
		}
		json_decref((json_t *)v);
		return 0;
	case RM_C_VERSION_MAP:
		if (json_is_array(v)) {
			c->ranges = calloc(json_array_size(v) + 1, sizeof(*c->ranges));
			json_array_foreach(v, i, x) {
				if (!json_is_string(x))
					return type_error(err, file, field, "framework names", v);
				add_str(c, json_string_value(x));
			}
			return 0;
		}
		if (!json_is_object(v))
			return type_error(err, file, field, "a mapping framework -> version range", v);
		c->ranges = calloc(json_object_size(v) + 1, sizeof(*c->ranges));
		json_object_foreach((json_t *)v, name, x) {
			char sub[400];
			snprintf(sub, sizeof(sub), "%s.%s", field, name);
			if (json_is_number(x)) {
				char num[64];
				snprintf(num, sizeof(num), "%g", json_number_value(x));
				c->ranges[c->nstrs] = strdup(num);
			} else if (json_is_string(x) && (json_string_length(x) == 0 ||
			    strcmp(json_string_value(x), "*") == 0))
				c->ranges[c->nstrs] = NULL;
			else if (json_is_string(x) && rm_version_range_ok(json_string_value(x)))
				c->ranges[c->nstrs] = strdup(json_string_value(x));
			else
				return type_error(err, file, sub,
				    "a version range such as \">=2.1,<3\", \"==1.16.*\" or \"~=2.1\"", x);
			add_str(c, name);
		}
		return 0;
	case RM_C_PRESENCE:
		return 0;
	}
	return 0;
}

struct flags {
	int soft;
	int skip;
	double weight;
};

static int read_flags(const json_t *o, struct flags *f, const char *file, const char *field,
    struct rm_err *err);

static int
read_flags(const json_t *o, struct flags *f, const char *file, const char *field,
    struct rm_err *err)
{
	json_t *req = json_object_get(o, "required"), *pref = json_object_get(o, "preferred"),
	    *w = json_object_get(o, "weight");
	char sub[300];

	if (req && !json_is_boolean(req)) {
		snprintf(sub, sizeof(sub), "%s%srequired", field, *field ? "." : "");
		return type_error(err, file, sub, "true or false", req);
	}
	if (pref && !json_is_boolean(pref)) {
		snprintf(sub, sizeof(sub), "%s%spreferred", field, *field ? "." : "");
		return type_error(err, file, sub, "true or false", pref);
	}
	if (w && (!json_is_number(w) || json_number_value(w) <= 0)) {
		snprintf(sub, sizeof(sub), "%s%sweight", field, *field ? "." : "");
		return type_error(err, file, sub, "a positive number", w);
	}
	if (json_is_false(req)) {
		f->soft = 1;
		/* neither required nor preferred: says nothing */
		if (!json_is_true(pref))
			f->skip = 1;
	} else if (json_is_true(req))
		f->soft = 0;
	else if (json_is_true(pref))
		f->soft = 1;
	if (w)
		f->weight = json_number_value(w);
	return 0;
}

static int is_flag(const char *k)
{
	return strcmp(k, "required") == 0 || strcmp(k, "preferred") == 0 ||
	    strcmp(k, "weight") == 0;
}

/* Is any taxonomy key (or requirement name) below this prefix? */
static int
is_prefix(const struct rm_taxo *t, const char *prefix)
{
	size_t i, j, n = strlen(prefix);

	for (i = 0; i < t->nkeys; i++) {
		if (strncmp(t->keys[i].path, prefix, n) == 0 && t->keys[i].path[n] == '.')
			return 1;
		for (j = 0; j < t->keys[i].nreqs; j++)
			if (strncmp(t->keys[i].reqs[j], prefix, n) == 0 && t->keys[i].reqs[j][n] == '.')
				return 1;
	}
	return 0;
}

/* A requirement the taxonomy does not know, with the nearest key it does. */
static int
unknown_capability(const struct rm_taxo *t, const char *path, const char *file,
    const char *field, struct rm_err *err)
{
	char dym[200];

	return rm_err_set(err, RM_EXIT_INVALID, file, field, "unknown capability%s (not in the "
	    "taxonomy; add it in $REMOTEMEDIA_HOME/taxonomy.d/)",
	    rm_did_you_mean(rm_nearest_capability(t, path), dym, sizeof(dym)));
}

static int
compile_obj(const struct rm_taxo *t, struct rm_node *n, const json_t *obj, const char *prefix,
    struct flags f, int parent, const char *file, const char *fprefix, struct rm_err *err)
{
	const char *key;
	json_t *v;
	char path[300], field[400];

	json_object_foreach((json_t *)obj, key, v) {
		int idx;
		struct flags sub = f;

		if (is_flag(key))
			continue;
		snprintf(path, sizeof(path), "%s%s%s", prefix, *prefix ? "." : "", key);
		snprintf(field, sizeof(field), "%s%s%s", fprefix, *fprefix ? "." : "", path);
		idx = rm_taxo_find_req(t, path);
		if (rm_taxo_is_info(t, path))
			continue;
		/* a boolean modifier such as hardware_accel: true belongs to codecs */
		if (json_is_boolean(v)) {
			size_t i;
			int modifier = 0;
			for (i = 0; i < t->nkeys; i++)
				if (t->keys[i].modifier && strcmp(t->keys[i].modifier, path) == 0)
					modifier = 1;
			if (modifier)
				continue;
		}
		if (json_is_object(v) && (idx < 0 || t->keys[idx].type == RM_T_PRESENCE ||
		    (t->keys[idx].cmp != RM_C_CODECS && t->keys[idx].cmp != RM_C_VERSION_MAP &&
		    !json_object_get(v, "min") && !json_object_get(v, "max") &&
		    !json_object_get(v, "value")))) {
			int pidx = parent;
			if (idx < 0 && !is_prefix(t, path))
				return unknown_capability(t, path, file, field, err);
			if (read_flags(v, &sub, file, field, err) != 0)
				return -err->code;
			if (sub.skip)
				continue;
			if (idx >= 0 && t->keys[idx].type == RM_T_PRESENCE) {
				struct rm_clause *c = new_clause(n, idx, path, err);
				if (c == NULL)
					return -RM_EXIT_INVALID;
				c->soft = sub.soft;
				c->weight = sub.weight;
				c->parent = parent;
				c->need = json_true();
				pidx = (int)n->n - 1;
			}
			if (compile_obj(t, n, v, path, sub, pidx, file, fprefix, err) != 0)
				return -err->code;
			continue;
		}
		if (idx < 0)
			return unknown_capability(t, path, file, field, err);
		if (t->keys[idx].type == RM_T_PRESENCE) {
			struct rm_clause *c;
			if (!json_is_true(v))
				continue;	/* gpu: false asks nothing */
			c = new_clause(n, idx, path, err);
			if (c == NULL)
				return -RM_EXIT_INVALID;
			c->soft = f.soft;
			c->weight = f.weight;
			c->parent = parent;
			c->need = json_true();
			continue;
		}
		if (json_is_object(v) && (json_object_get(v, "value") || json_object_get(v, "min") ||
		    json_object_get(v, "max"))) {
			/* a leaf of its own: {"min": 8, "required": false, "preferred": true} */
			if (read_flags(v, &sub, file, field, err) != 0)
				return -err->code;
			if (sub.skip)
				continue;
			if (json_object_get(v, "value"))
				v = json_object_get(v, "value");
		}
		{
			struct rm_clause *c = new_clause(n, idx, path, err);
			int pidx = parent;
			if (c == NULL)
				return -RM_EXIT_INVALID;
			c->soft = sub.soft;
			c->weight = sub.weight;
			/* a key under a presence block the node did not write still depends on it */
			if (pidx < 0 && t->keys[idx].parent >= 0) {
				size_t i;
				for (i = 0; i + 1 < n->n; i++)
					if (n->c[i].key == t->keys[idx].parent)
						pidx = (int)i;
			}
			c->parent = pidx;
			if (fill_clause(&t->keys[idx], c, v, file, field, err) != 0)
				return -err->code;
		}
	}
	return 0;
}

/* hardware_accel: true turns every codec of the codecs clause to hardware. */
static void
apply_modifiers(const struct rm_taxo *t, struct rm_node *n, const json_t *caps)
{
	size_t i, j;

	for (i = 0; i < n->n; i++) {
		const struct rm_taxo_key *k = &t->keys[n->c[i].key];
		if (k->cmp != RM_C_CODECS || k->modifier == NULL)
			continue;
		if (json_is_true(rm_json_path(caps, k->modifier)))
			for (j = 0; j < n->c[i].nstrs; j++)
				n->c[i].hw[j] = 1;
	}
}

int
rm_node_compile(const struct rm_taxo *t, const json_t *doc, const char *file,
    struct rm_node **out, struct rm_err *err)
{
	struct rm_node *n;
	const json_t *caps;
	json_t *owned = NULL, *id, *rc;
	struct flags f = { 0, 0, 1 };
	const char *fprefix = "";

	*out = NULL;
	if (!json_is_object(doc))
		return rm_err_set(err, RM_EXIT_INVALID, file, NULL,
		    "expected a node (a mapping of requirements, or {\"id\", \"capabilities\"}), got %s",
		    rm_json_type(doc));
	n = calloc(1, sizeof(*n));
	n->notes = json_array();
	id = json_object_get(doc, "id");
	caps = json_object_get(doc, "capabilities");
	rc = json_object_get(doc, "required_capabilities");
	if (caps != NULL || rc != NULL || id != NULL) {
		fprefix = "capabilities";
		if (id != NULL && !json_is_string(id)) {
			rm_node_free(n);
			return type_error(err, file, "id", "a string", id);
		}
		if (caps == NULL)
			caps = owned = json_object();
		else if (json_is_array(caps))	/* a copy: required_capabilities may extend it */
			caps = owned = json_pack("{s:o}", "tags", json_copy((json_t *)caps));
		else if (!json_is_object(caps)) {
			rm_node_free(n);
			return type_error(err, file, "capabilities",
			    "a mapping of requirements or a list of tags", caps);
		}
		if (rc != NULL) {
			/* spec 003: a task's required_capabilities are tags */
			if (owned == NULL)
				caps = owned = json_deep_copy(caps);
			json_t *tags = json_object_get(owned, "tags");
			if (!json_is_array(rc)) {
				json_decref(owned);
				rm_node_free(n);
				return type_error(err, file, "required_capabilities", "a list of tags", rc);
			}
			if (tags == NULL)
				json_object_set(owned, "tags", rc);
			else if (json_is_array(tags))
				json_array_extend(tags, rc);
		}
	} else
		caps = doc;
	n->id = strdup(json_is_string(id) ? json_string_value(id) : "node");
	n->requirements = json_incref((json_t *)caps);
	if (read_flags(caps, &f, file, fprefix, err) != 0 ||
	    compile_obj(t, n, caps, "", f, -1, file, fprefix, err) != 0) {
		json_decref(owned);
		rm_node_free(n);
		return -err->code;
	}
	apply_modifiers(t, n, caps);
	json_decref(owned);
	*out = n;
	return 0;
}

int
rm_node_add_query(const struct rm_taxo *t, struct rm_node *n, const char *expr,
    struct rm_err *err)
{
	static const char *ops[] = { ">=", "<=", "!=", "==", "=", ">", "<", NULL };
	const char *op = NULL, *p = NULL, *val;
	char path[200], vbuf[256], norm[512];
	struct rm_clause *c;
	const struct rm_taxo_key *k;
	int i, idx;
	size_t len;
	json_t *v;
	double d;
	char *end;

	/* spaces around PATH, OP and VALUE are allowed: "gpu.memory_gb >= 24" */
	while (isspace((unsigned char)*expr))
		expr++;
	for (const char *s = expr; *s && op == NULL; s++)
		for (i = 0; ops[i]; i++)
			if (strncmp(s, ops[i], strlen(ops[i])) == 0) {
				op = ops[i];
				p = s;
				break;
			}
	if (op == NULL || p == expr)
		return rm_err_set(err, RM_EXIT_USAGE, NULL, "--query",
		    "expected PATH OP VALUE with OP one of = != >= <= > <, got \"%s\"", expr);
	for (len = (size_t)(p - expr); len > 0 && isspace((unsigned char)expr[len - 1]); len--)
		;
	snprintf(path, sizeof(path), "%.*s", (int)len, expr);
	for (val = p + strlen(op); isspace((unsigned char)*val); val++)
		;
	for (len = strlen(val); len > 0 && isspace((unsigned char)val[len - 1]); len--)
		;
	snprintf(vbuf, sizeof(vbuf), "%.*s", (int)len, val);
	val = vbuf;
	snprintf(norm, sizeof(norm), "%s%s%s", path, op, val);
	expr = norm;
	if (path[0] == '\0')
		return rm_err_set(err, RM_EXIT_USAGE, NULL, "--query",
		    "expected PATH OP VALUE with OP one of = != >= <= > <, got \"%s\"", expr);
	idx = rm_taxo_find(t, path);
	if (idx < 0)
		idx = rm_taxo_find_req(t, path);
	if (idx < 0)
		return rm_err_set(err, RM_EXIT_USAGE, NULL, "--query",
		    "unknown capability \"%s\"", path);
	k = &t->keys[idx];
	d = strtod(val, &end);
	v = (*val && *end == '\0') ? json_real(d) : json_string(val);
	if (strcmp(val, "true") == 0 || strcmp(val, "false") == 0) {
		json_decref(v);
		v = json_boolean(strcmp(val, "true") == 0);
	}
	c = new_clause(n, idx, path, err);
	if (c == NULL) {
		json_decref(v);
		return -RM_EXIT_INVALID;
	}
	c->parent = -1;
	c->need = json_pack("s", expr);
	if (k->type == RM_T_NUMBER) {
		if (!json_is_number(v)) {
			json_decref(v);
			return rm_err_set(err, RM_EXIT_USAGE, NULL, "--query",
			    "%s is a number, got \"%s\"", path, val);
		}
		if (strcmp(op, ">=") == 0 || strcmp(op, ">") == 0) {
			c->has_lo = 1;
			c->lo = d + (strcmp(op, ">") == 0 ? 1e-9 : 0);
		} else if (strcmp(op, "<=") == 0 || strcmp(op, "<") == 0) {
			c->has_hi = 1;
			c->hi = d - (strcmp(op, "<") == 0 ? 1e-9 : 0);
		} else if (strcmp(op, "!=") == 0) {
			json_decref(v);
			return rm_err_set(err, RM_EXIT_USAGE, NULL, "--query",
			    "!= is not supported on numbers (%s)", expr);
		} else {
			c->has_lo = c->has_hi = 1;
			c->lo = c->hi = d;
		}
		c->numeric_eq = 2;	/* numeric comparison whatever the key's compare */
		json_decref(v);
		return 0;
	}
	if (strcmp(op, "=") != 0 && strcmp(op, "==") != 0 && k->type != RM_T_VERSION) {
		json_decref(v);
		return rm_err_set(err, RM_EXIT_USAGE, NULL, "--query",
		    "%s takes = only, got \"%s\"", path, expr);
	}
	json_decref(v);
	if (k->type == RM_T_VERSION) {
		char range[200];
		snprintf(range, sizeof(range), "%s%s", strcmp(op, "=") == 0 ? "==" : op, val);
		if (!rm_version_range_ok(range))
			return rm_err_set(err, RM_EXIT_USAGE, NULL, "--query", "bad version in \"%s\"",
			    expr);
		c->ranges = calloc(1, sizeof(*c->ranges));
		c->ranges[0] = strdup(range);
		return 0;
	}
	if (k->type == RM_T_CODEC_MAP || k->type == RM_T_VERSION_MAP) {
		c->hw = calloc(2, sizeof(int));
		if (k->type == RM_T_VERSION_MAP)
			c->ranges = calloc(2, sizeof(*c->ranges));
	}
	if (k->type == RM_T_PRESENCE)
		return 0;
	return add_str(c, val);
}

int
rm_node_add_max_cost(const struct rm_taxo *t, struct rm_node *n, double max, struct rm_err *err)
{
	struct rm_clause *c;
	int idx = rm_taxo_find(t, "pricing.per_hour");

	if (idx < 0)
		return rm_err_set(err, RM_EXIT_INTERNAL, NULL, "--max-cost",
		    "the taxonomy has no pricing.per_hour");
	c = new_clause(n, idx, "pricing.per_hour", err);
	if (c == NULL)
		return -RM_EXIT_INVALID;
	c->has_hi = 1;
	c->hi = max;
	c->numeric_eq = 2;
	c->missing_ok = 1;
	c->alt_key = rm_taxo_find(t, "cost_tokens");
	c->need = json_pack("{s:f}", "max", max);
	return 0;
}

/* ---- evaluating ---------------------------------------------------- */

struct resolved {
	uint32_t ids[MAX_CLAUSES][16];	/* interned strings of small clauses */
	uint32_t *big[MAX_CLAUSES];	/* more than 16 */
	uint32_t hardware;
};

static const uint32_t *
rids(const struct resolved *r, size_t j)
{
	return r->big[j] ? r->big[j] : r->ids[j];
}

static void
resolve(const struct rm_node *n, const struct rm_exset *s, struct resolved *r)
{
	size_t j, i;

	r->hardware = rm_exset_str(s, "hardware");
	for (j = 0; j < n->n; j++) {
		uint32_t *dst = r->ids[j];
		r->big[j] = NULL;
		if (n->c[j].nstrs > 16)
			dst = r->big[j] = calloc(n->c[j].nstrs, sizeof(uint32_t));
		for (i = 0; i < n->c[j].nstrs; i++)
			dst[i] = rm_exset_str(s, n->c[j].strs[i]);
	}
}

static void
unresolve(const struct rm_node *n, struct resolved *r)
{
	size_t j;

	for (j = 0; j < n->n; j++)
		free(r->big[j]);
}

static int
set_has(const struct rm_exset *s, const struct rm_val *v, uint32_t id)
{
	const uint32_t *p = s->pool + v->u.ref;
	uint32_t lo = 0, hi = v->n;

	if (id == RM_NOSTR)
		return 0;
	if (v->kind == RM_V_STR)
		return v->u.ref == id;
	while (lo < hi) {
		uint32_t mid = (lo + hi) / 2;
		if (p[mid] == id)
			return 1;
		if (p[mid] < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

static uint32_t
map_get(const struct rm_exset *s, const struct rm_val *v, uint32_t key)
{
	const uint32_t *p = s->pool + v->u.ref;
	uint32_t lo = 0, hi = v->n;

	if (key == RM_NOSTR)
		return RM_NOSTR - 1;
	while (lo < hi) {
		uint32_t mid = (lo + hi) / 2;
		if (p[2 * mid] == key)
			return p[2 * mid + 1];
		if (p[2 * mid] < key)
			lo = mid + 1;
		else
			hi = mid;
	}
	return RM_NOSTR - 1;	/* absent */
}

/* Returns R_OK or the reason; *which: the failing element for sets/maps. */
static int
eval(const struct rm_clause *c, const struct rm_taxo_key *k, const struct rm_exset *s,
    const uint32_t *ids, uint32_t hardware, const struct rm_val *v, size_t *which)
{
	size_t i;

	if (v->kind == RM_V_NONE)
		return c->missing_ok ? R_OK : R_MISSING;
	if (c->numeric_eq || (k->cmp == RM_C_AT_LEAST || k->cmp == RM_C_AT_MOST)) {
		if (v->kind != RM_V_NUM && v->kind != RM_V_BOOL)
			return R_MISMATCH;
		if (c->has_lo && v->u.num < c->lo)
			return c->numeric_eq == 1 ? R_MISMATCH : R_INSUFFICIENT;
		if (c->has_hi && v->u.num > c->hi)
			return c->numeric_eq == 1 ? R_MISMATCH : R_EXCEEDS;
		return R_OK;
	}
	switch (k->cmp) {
	case RM_C_EQUAL:
		if (v->kind != RM_V_STR)
			return R_MISMATCH;
		for (i = 0; i < c->nstrs; i++)
			if (ids[i] == v->u.ref)
				return R_OK;
		return R_MISMATCH;
	case RM_C_SUBSET:
		if (v->kind != RM_V_SET && v->kind != RM_V_STR)
			return R_MISMATCH;
		for (i = 0; i < c->nstrs; i++)
			if (!set_has(s, v, ids[i])) {
				*which = i;
				return R_MISSING;
			}
		return R_OK;
	case RM_C_INTERSECTS:
		if (v->kind != RM_V_SET && v->kind != RM_V_STR)
			return R_MISMATCH;
		for (i = 0; i < c->nstrs; i++)
			if (set_has(s, v, ids[i]))
				return R_OK;
		return R_NONE_SUPPORTED;
	case RM_C_VERSION:
		if (v->kind != RM_V_STR)
			return R_MISMATCH;
		if (c->ranges && c->ranges[0])
			return rm_version_satisfies(rm_exset_cstr(s, (uint32_t)v->u.ref), c->ranges[0],
			    k->bare_at_least) == 1 ? R_OK : R_VERSION;
		if (c->nstrs > 0)
			return strcmp(rm_exset_cstr(s, (uint32_t)v->u.ref), c->strs[0]) == 0 ? R_OK :
			    R_VERSION;
		return R_OK;
	case RM_C_CODECS:
		if (v->kind != RM_V_MAP)
			return R_CODEC_MISSING;
		for (i = 0; i < c->nstrs; i++) {
			uint32_t level = map_get(s, v, ids[i]);
			if (level == RM_NOSTR - 1) {
				*which = i;
				return R_CODEC_MISSING;
			}
			if (c->hw && c->hw[i] && level != hardware) {
				*which = i;
				return R_CODEC_SOFTWARE;
			}
		}
		return R_OK;
	case RM_C_VERSION_MAP:
		if (v->kind != RM_V_MAP)
			return R_FRAMEWORK_MISSING;
		for (i = 0; i < c->nstrs; i++) {
			uint32_t ver = map_get(s, v, ids[i]);
			if (ver == RM_NOSTR - 1) {
				*which = i;
				return R_FRAMEWORK_MISSING;
			}
			if (c->ranges && c->ranges[i] && (ver == RM_NOSTR ||
			    rm_version_satisfies(rm_exset_cstr(s, ver), c->ranges[i],
			    k->bare_at_least) != 1)) {
				*which = i;
				return R_VERSION;
			}
		}
		return R_OK;
	case RM_C_PRESENCE:
		return v->kind == RM_V_BOOL && v->u.num != 0 ? R_OK : R_MISSING;
	default:
		return R_OK;
	}
}

/* Per executor facts gathered in one column-major pass. */
struct cand {
	const struct rm_exset *set;
	uint32_t e;
	uint64_t fail;		/* failing clauses (sub-clauses of failed blocks cleared) */
	const uint8_t *rs;	/* reason per clause, or NULL */
	int bucket;		/* 0 available, 1 busy, 2 policy, 3 incompatible */
	int expired;
	int degraded;
	double score, avail, cost, latency;
	int region_rank;
	int scored;
};

enum { B_AVAILABLE, B_BUSY, B_POLICY, B_INCOMPATIBLE };
static const char *bucket_names[] = { "available", "busy", "policy", "incompatible" };

#define num_or rm_match_num

double
rm_match_num(const struct rm_exset *s, int key, uint32_t e, double dflt)
{
	const struct rm_val *v;

	if (key < 0)
		return dflt;
	v = rm_exset_val(s, key, e);
	return v->kind == RM_V_NUM ? v->u.num : dflt;
}

static int
region_rank(const struct rm_exset *s, int key, uint32_t e, const char *want)
{
	const struct rm_val *v;
	const char *have, *d1, *d2;

	if (want == NULL || key < 0)
		return 0;
	v = rm_exset_val(s, key, e);
	if (v->kind != RM_V_STR)
		return 3;
	have = rm_exset_cstr(s, (uint32_t)v->u.ref);
	if (strcmp(have, want) == 0)
		return 0;
	d1 = strchr(have, '-');
	d2 = strchr(want, '-');
	if (d1 && d2 && d1 - have == d2 - want && strncmp(have, want, (size_t)(d1 - have)) == 0)
		return 1;
	return 2;
}

struct ctx {
	const struct rm_node *node;
	const struct rm_taxo *t;
	uint64_t hard, soft, dynamic, parents;
	double soft_total;
	int k_load, k_price, k_tokens, k_latency, k_region;
	long long now;
	const struct rm_match_opts *opts;
};

static void
ctx_init(struct ctx *x, const struct rm_node *n, const struct rm_taxo *t, long long now,
    const struct rm_match_opts *opts)
{
	size_t j;

	memset(x, 0, sizeof(*x));
	x->node = n;
	x->t = t;
	x->now = now;
	x->opts = opts;
	for (j = 0; j < n->n; j++) {
		if (n->c[j].soft) {
			x->soft |= 1ULL << j;
			x->soft_total += n->c[j].weight;
		} else
			x->hard |= 1ULL << j;
		if (t->keys[n->c[j].key].dynamic)
			x->dynamic |= 1ULL << j;
		if (n->c[j].parent >= 0)
			x->parents |= 1ULL << n->c[j].parent;
	}
	x->k_load = rm_taxo_find(t, "load_score");
	x->k_price = rm_taxo_find(t, "pricing.per_hour");
	x->k_tokens = rm_taxo_find(t, "cost_tokens");
	x->k_latency = rm_taxo_find(t, "network.latency_ms");
	x->k_region = rm_taxo_find(t, "region");
}

static int
approved(const struct rm_exset *s, uint32_t e, const json_t *pats)
{
	size_t i;
	json_t *p;
	const char *id = rm_exset_cstr(s, s->info[e].id);

	if (pats == NULL)
		return 1;
	json_array_foreach(pats, i, p)
		if (json_is_string(p) && fnmatch(json_string_value(p), id, 0) == 0)
			return 1;
	return 0;
}

static void score_cand(const struct ctx *x, struct cand *cd);

/* Evaluates every clause on every executor of a set, column by column. */
static void
evaluate_set(const struct ctx *x, const struct rm_exset *s, struct cand *out, uint8_t *rsbuf)
{
	const struct rm_node *n = x->node;
	struct resolved r;
	size_t j;
	uint32_t e;

	resolve(n, s, &r);
	for (e = 0; e < s->nexec; e++) {
		out[e].set = s;
		out[e].e = e;
		out[e].fail = 0;
		out[e].rs = rsbuf ? rsbuf + (size_t)e * n->n : NULL;
	}
	for (j = 0; j < n->n; j++) {
		const struct rm_clause *c = &n->c[j];
		const struct rm_taxo_key *k = &x->t->keys[c->key];
		const struct rm_val *col = rm_exset_col(s, c->key);
		const uint32_t *ids = rids(&r, j);
		size_t which;

		if (c->alt_key >= 0) {
			/* e.g. cost: pricing.per_hour, else cost_tokens */
			const struct rm_val *alt = rm_exset_col(s, c->alt_key);
			for (e = 0; e < s->nexec; e++) {
				int rr = eval(c, k, s, ids, r.hardware,
				    col[e].kind != RM_V_NONE ? &col[e] : &alt[e], &which);
				if (rsbuf != NULL)
					rsbuf[(size_t)e * n->n + j] = (uint8_t)rr;
				if (rr != R_OK)
					out[e].fail |= 1ULL << j;
			}
			continue;
		}
		if (rsbuf != NULL) {
			for (e = 0; e < s->nexec; e++) {
				int rr = eval(c, k, s, ids, r.hardware, &col[e], &which);
				rsbuf[(size_t)e * n->n + j] = (uint8_t)rr;
				if (rr != R_OK)
					out[e].fail |= 1ULL << j;
			}
		} else
			for (e = 0; e < s->nexec; e++)
				if (eval(c, k, s, ids, r.hardware, &col[e], &which) != R_OK)
					out[e].fail |= 1ULL << j;
	}
	unresolve(n, &r);
	for (e = 0; e < s->nexec; e++) {
		struct cand *cd = &out[e];
		/* a failed block's own clauses are implied by it: report the block */
		if (cd->fail & x->parents)
			for (j = 0; j < n->n; j++)
				if (n->c[j].parent >= 0 && (cd->fail >> n->c[j].parent) & 1)
					cd->fail &= ~(1ULL << j);
		cd->expired = s->info[e].expires_at != 0 && s->info[e].expires_at <= x->now;
		if (cd->expired || (cd->fail & x->hard & ~x->dynamic))
			cd->bucket = B_INCOMPATIBLE;
		else if (cd->fail & x->hard)
			cd->bucket = B_BUSY;
		else if (!approved(s, e, x->opts ? x->opts->approved : NULL))
			cd->bucket = B_POLICY;
		else
			cd->bucket = B_AVAILABLE;
		cd->degraded = (cd->fail & x->soft) != 0;
		/* ranking facts matter only for executors that may be listed first */
		if (cd->bucket == B_INCOMPATIBLE)
			cd->scored = 0;
		else
			score_cand(x, cd);
	}
}

/* Score, cost, latency and region rank of one candidate. */
static void
score_cand(const struct ctx *x, struct cand *cd)
{
	const struct rm_node *n = x->node;
	const struct rm_exset *s = cd->set;
	uint32_t e = cd->e;
	double missed = 0, fit;
	size_t j;

	if (cd->fail & x->soft)
		for (j = 0; j < n->n; j++)
			if ((cd->fail & x->soft) >> j & 1)
				missed += n->c[j].weight;
	fit = x->soft_total > 0 ? 1 - missed / x->soft_total : 1;
	cd->avail = 1 - num_or(s, x->k_load, e, 0);
	if (cd->avail < 0)
		cd->avail = 0;
	cd->score = floor(1000 * (0.6 * fit + 0.4 * cd->avail) + 0.5) / 10;
	cd->cost = num_or(s, x->k_price, e, num_or(s, x->k_tokens, e, 0));
	cd->latency = num_or(s, x->k_latency, e, 1e9);
	cd->region_rank = region_rank(s, x->k_region, e, x->opts ? x->opts->region : NULL);
	cd->scored = 1;
}

int
rm_match_best(const struct rm_node *node, const struct rm_exgroup *g, long long now,
    struct rm_match_best *out)
{
	struct ctx x;
	struct rm_err err;
	const struct rm_taxo *t = rm_taxo_get(&err);
	size_t i;
	uint32_t e;
	struct cand *cands = NULL;
	size_t cap = 0;

	memset(out, 0, sizeof(*out));
	if (t == NULL)
		return -1;
	ctx_init(&x, node, t, now ? now : (long long)time(NULL), NULL);
	for (i = 0; i < g->n; i++) {
		const struct rm_exset *s = g->sets[i];
		if (s->nexec > cap) {
			free(cands);
			cap = s->nexec;
			cands = malloc(cap * sizeof(*cands));
			if (cands == NULL)
				return -1;
		}
		evaluate_set(&x, s, cands, NULL);
		for (e = 0; e < s->nexec; e++) {
			const struct cand *cd = &cands[e];
			if (cd->bucket != B_AVAILABLE)
				continue;
			if (out->ncompat == 0 || cd->score > out->score ||
			    (cd->score == out->score && strcmp(rm_exset_cstr(s, s->info[e].id),
			    rm_exset_cstr(out->set, out->set->info[out->exec].id)) < 0)) {
				out->set = s;
				out->exec = e;
				out->score = cd->score;
				out->degraded = cd->degraded;
			}
			out->ncompat++;
		}
	}
	free(cands);
	return 0;
}

/* ---- explaining ---------------------------------------------------- */

static const char *
code_of(const struct rm_taxo_key *k, int reason)
{
	if (k->reason != NULL && reason != R_MISSING)
		return k->reason;
	if (k->reason != NULL && reason == R_MISSING && k->cmp == RM_C_SUBSET)
		return k->reason;
	return reason_names[reason];
}

static json_t *
reason_json(const struct ctx *x, const struct rm_exset *s, uint32_t e, size_t j)
{
	const struct rm_clause *c = &x->node->c[j];
	const struct rm_taxo_key *k = &x->t->keys[c->key];
	const struct rm_val *v = rm_exset_val(s, c->key, e);
	struct resolved r;
	size_t which = 0;
	int reason;
	json_t *out, *have;

	if (v->kind == RM_V_NONE && c->alt_key >= 0)
		v = rm_exset_val(s, c->alt_key, e);
	char nb[256], hb[256], msg[700];

	resolve(x->node, s, &r);
	reason = eval(c, k, s, rids(&r, j), r.hardware, v, &which);
	unresolve(x->node, &r);
	have = rm_exset_val_json(s, v);
	out = json_pack("{s:s,s:s,s:O,s:o}", "path", c->path, "code", code_of(k, reason),
	    "need", c->need ? c->need : json_null(), "have", have ? have : json_null());
	rm_json_brief(c->need, nb, sizeof(nb));
	rm_json_brief(have, hb, sizeof(hb));
	switch (reason) {
	case R_MISSING:
		if (k->cmp == RM_C_SUBSET && v->kind != RM_V_NONE) {
			json_object_set_new(out, "missing", json_string(c->strs[which]));
			snprintf(msg, sizeof(msg), "%s: need %s, missing \"%s\" (have %s)", c->path, nb,
			    c->strs[which], hb);
		} else
			snprintf(msg, sizeof(msg), "%s: need %s, have none", c->path, nb);
		break;
	case R_CODEC_MISSING:
		json_object_set_new(out, "missing", json_string(c->strs[which]));
		snprintf(msg, sizeof(msg), "%s: missing codec %s (have %s)", c->path, c->strs[which],
		    hb);
		break;
	case R_CODEC_SOFTWARE:
		json_object_set_new(out, "missing", json_string(c->strs[which]));
		snprintf(msg, sizeof(msg), "%s: codec %s needs hardware acceleration, have %s",
		    c->path, c->strs[which], hb);
		break;
	case R_FRAMEWORK_MISSING:
		json_object_set_new(out, "missing", json_string(c->strs[which]));
		snprintf(msg, sizeof(msg), "%s: missing framework %s (have %s)", c->path,
		    c->strs[which], hb);
		break;
	case R_VERSION:
		if (k->cmp == RM_C_VERSION_MAP)
			snprintf(msg, sizeof(msg), "%s: %s %s wanted, have %s", c->path, c->strs[which],
			    c->ranges[which] ? c->ranges[which] : "", hb);
		else
			snprintf(msg, sizeof(msg), "%s: need %s, have %s", c->path, nb, hb);
		break;
	default:
		snprintf(msg, sizeof(msg), "%s: need %s, have %s", c->path, nb, hb);
	}
	if (c->soft)
		json_object_set_new(out, "preferred", json_true());
	json_object_set_new(out, "message", json_string(msg));
	return out;
}

static json_t *
reasons_json(const struct ctx *x, const struct cand *cd, int soft_only)
{
	json_t *arr = json_array();
	size_t j;

	if (cd->expired && !soft_only) {
		char when[64];
		rm_time_format(cd->set->info[cd->e].expires_at, when, sizeof(when));
		json_array_append_new(arr, json_pack("{s:s,s:s,s:s,s:s}", "path", "expires_at",
		    "code", "expired", "have", when, "message", "advert expired; re-run rm-probe register"));
	}
	for (j = 0; j < x->node->n; j++)
		if ((cd->fail >> j) & 1 && (x->node->c[j].soft ? 1 : 0) == (soft_only ? 1 : 0))
			json_array_append_new(arr, reason_json(x, cd->set, cd->e, j));
	if (!soft_only && cd->bucket == B_POLICY)
		json_array_append_new(arr, json_pack("{s:s,s:s,s:s}", "path", "approval", "code",
		    "not_approved", "message",
		    "not approved for production use (approved_executors in config.yaml)"));
	return arr;
}

static const struct ctx *sort_ctx;

static int
cand_cmp(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;
	int r;

	if (x->region_rank != y->region_rank)
		return x->region_rank - y->region_rank;
	switch (sort_ctx->opts->sort) {
	case RM_SORT_AVAILABILITY:
		if (x->avail != y->avail)
			return x->avail > y->avail ? -1 : 1;
		break;
	case RM_SORT_COST:
		if (x->cost != y->cost)
			return x->cost < y->cost ? -1 : 1;
		break;
	case RM_SORT_LATENCY:
		if (x->latency != y->latency)
			return x->latency < y->latency ? -1 : 1;
		break;
	case RM_SORT_ID:
		goto byid;
	default:
		break;
	}
	if (x->score != y->score)
		return x->score > y->score ? -1 : 1;
byid:
	r = strcmp(rm_exset_cstr(x->set, x->set->info[x->e].id),
	    rm_exset_cstr(y->set, y->set->info[y->e].id));
	return r;
}

static json_t *
cand_json(const struct ctx *x, struct cand *cd, int with_reasons)
{
	const struct rm_exset *s = cd->set;

	if (!cd->scored)
		score_cand(x, cd);
	json_t *o = json_pack("{s:s,s:b,s:b,s:f,s:s}", "id", rm_exset_cstr(s, s->info[cd->e].id),
	    "compatible", cd->bucket == B_AVAILABLE, "degraded", cd->degraded, "score", cd->score,
	    "bucket", bucket_names[cd->bucket]);
	json_t *warnings = json_array(), *soft;
	size_t i;
	json_t *w;

	if (s->info[cd->e].endpoint != RM_NOSTR)
		json_object_set_new(o, "endpoint", json_string(rm_exset_cstr(s, s->info[cd->e].endpoint)));
	if (x->k_region >= 0 && rm_exset_val(s, x->k_region, cd->e)->kind == RM_V_STR)
		json_object_set_new(o, "region", rm_exset_val_json(s, rm_exset_val(s, x->k_region, cd->e)));
	if (cd->cost > 0)
		json_object_set_new(o, "cost", json_real(cd->cost));
	soft = reasons_json(x, cd, 1);
	json_array_foreach(soft, i, w) {
		char msg[800];
		snprintf(msg, sizeof(msg), "%s (preferred, not required): degraded performance",
		    json_string_value(json_object_get(w, "message")));
		json_array_append_new(warnings, json_string(msg));
	}
	json_decref(soft);
	json_object_set_new(o, "warnings", warnings);
	if (with_reasons)
		json_object_set_new(o, "reasons", reasons_json(x, cd, 0));
	return o;
}

/* Per clause: failing executors by reason, the best number seen. */
struct clause_stats {
	size_t counts[MAX_CLAUSES][R_NREASONS];
	double best[MAX_CLAUSES];
	int have_best[MAX_CLAUSES];
};

static void
best_of(const struct ctx *x, struct clause_stats *st, size_t j, const struct rm_val *v)
{
	const struct rm_taxo_key *k = &x->t->keys[x->node->c[j].key];

	if (v->kind != RM_V_NUM)
		return;
	if (!st->have_best[j] || (k->cmp == RM_C_AT_MOST ? v->u.num < st->best[j] :
	    v->u.num > st->best[j]))
		st->best[j] = v->u.num;
	st->have_best[j] = 1;
}

/* The statistics of candidates evaluated by evaluate_set (with reasons). */
static void
stats_of(const struct ctx *x, const struct cand *cands, size_t ncand, struct clause_stats *st)
{
	size_t j, i;

	for (j = 0; j < x->node->n; j++) {
		const struct rm_clause *c = &x->node->c[j];
		int numeric = x->t->keys[c->key].type == RM_T_NUMBER;
		for (i = 0; i < ncand; i++) {
			const struct cand *cd = &cands[i];
			if (numeric)
				best_of(x, st, j, rm_exset_val(cd->set, c->key, cd->e));
			if ((cd->fail >> j) & 1)
				st->counts[j][cd->rs[j] < R_NREASONS ? cd->rs[j] : R_MISMATCH]++;
		}
	}
}

/* The per-clause view: eliminated counts by reason, best value seen. */
static json_t *
clause_view(const struct ctx *x, const struct clause_stats *st, json_t **summary_parts)
{
	json_t *arr = json_array();
	size_t j, i;

	*summary_parts = json_array();
	for (j = 0; j < x->node->n; j++) {
		const struct rm_clause *c = &x->node->c[j];
		const struct rm_taxo_key *k = &x->t->keys[c->key];
		const size_t *counts = st->counts[j];
		size_t elim = 0;
		int have_best = st->have_best[j];
		double best = st->best[j];
		json_t *bycode = json_object(), *o;
		char nb[200], part[400];
		int top = R_OK;

		for (i = 1; i < R_NREASONS; i++)
			elim += counts[i];
		for (i = 1; i < R_NREASONS; i++)
			if (counts[i]) {
				json_object_set_new(bycode, code_of(k, (int)i), json_integer((json_int_t)counts[i]));
				if (top == R_OK || counts[i] > counts[top])
					top = (int)i;
			}
		o = json_pack("{s:s,s:s,s:O,s:I,s:o,s:b}", "path", c->path, "compare",
		    rm_taxo_cmp_name(k->cmp), "need", c->need ? c->need : json_null(), "eliminated",
		    (json_int_t)elim, "reasons", bycode, "preferred", c->soft);
		if (have_best)
			json_object_set_new(o, "best", json_real(best));
		json_array_append_new(arr, o);
		if (elim > 0 && !c->soft) {
			rm_json_brief(c->need, nb, sizeof(nb));
			if (have_best)
				snprintf(part, sizeof(part), "%zu %s %s (need %s, best %g)", elim,
				    code_of(k, top), c->path, nb, best);
			else
				snprintf(part, sizeof(part), "%zu %s %s (need %s)", elim, code_of(k, top),
				    c->path, nb);
			json_array_append_new(*summary_parts, json_pack("{s:I,s:s}", "n",
			    (json_int_t)elim, "text", part));
		}
	}
	return arr;
}

static int
part_cmp(const void *a, const void *b)
{
	json_int_t x = json_integer_value(json_object_get(*(json_t *const *)a, "n"));
	json_int_t y = json_integer_value(json_object_get(*(json_t *const *)b, "n"));

	return x < y ? 1 : x > y ? -1 : 0;
}

static int fast_avail(const struct ctx *x, const struct rm_exgroup *g, struct cand **out,
    size_t *ncand, size_t *nav, size_t buckets[4], struct clause_stats *st);

/* Every executor of g evaluated with reasons; the available ones first. */
static struct cand *
reference_cands(const struct ctx *x, const struct rm_exgroup *g, uint8_t **rsbuf,
    size_t *ncand, size_t *nav, size_t buckets[4], struct clause_stats *st)
{
	size_t total = 0, i, a = 0, b;
	struct cand *cands, *tmp;

	for (i = 0; i < g->n; i++)
		total += g->sets[i]->nexec;
	cands = malloc((total ? total : 1) * sizeof(*cands));
	tmp = malloc((total ? total : 1) * sizeof(*tmp));
	*rsbuf = malloc((total ? total : 1) * (x->node->n ? x->node->n : 1));
	if (cands == NULL || tmp == NULL || *rsbuf == NULL) {
		free(cands);
		free(tmp);
		free(*rsbuf);
		*rsbuf = NULL;
		return NULL;
	}
	for (i = 0; i < g->n; i++) {
		evaluate_set(x, g->sets[i], cands + *ncand, *rsbuf + *ncand * x->node->n);
		*ncand += g->sets[i]->nexec;
	}
	for (i = 0; i < *ncand; i++) {
		buckets[cands[i].bucket]++;
		*nav += cands[i].bucket == B_AVAILABLE;
	}
	stats_of(x, cands, *ncand, st);
	/* available first, then the others, in executor order */
	for (i = 0, b = *nav; i < *ncand; i++) {
		if (cands[i].bucket == B_AVAILABLE)
			tmp[a++] = cands[i];
		else
			tmp[b++] = cands[i];
	}
	free(cands);
	return tmp;
}

json_t *
rm_match_node(const struct rm_node *node, const struct rm_exgroup *g,
    const struct rm_match_opts *opts, size_t *ncompat, struct rm_err *err)
{
	const struct rm_taxo *t = rm_taxo_get(err);
	struct ctx x;
	struct cand *cands = NULL;
	size_t i, ncand = 0, nav = 0, buckets[4] = { 0 };
	uint8_t *rsbuf = NULL;
	json_t *doc, *compat, *rejected, *parts, *clauses;
	long limit = opts->limit;
	char summary[2048];
	struct clause_stats *st;

	*ncompat = 0;
	if (t == NULL)
		return NULL;
	ctx_init(&x, node, t, opts->now ? opts->now : (long long)time(NULL), opts);
	st = calloc(1, sizeof(*st));
	/* listing compatible executors only: the index, when some are */
	if (st != NULL && limit >= 0 && !opts->all && !opts->explain &&
	    (fast_avail(&x, g, &cands, &ncand, &nav, buckets, st) != 0 || nav == 0)) {
		free(cands);
		cands = NULL;
		ncand = nav = 0;
		memset(buckets, 0, sizeof(buckets));
		memset(st, 0, sizeof(*st));
	}
	if (st != NULL && cands == NULL)
		cands = reference_cands(&x, g, &rsbuf, &ncand, &nav, buckets, st);
	if (cands == NULL) {
		free(st);
		rm_err_set(err, RM_EXIT_INTERNAL, NULL, NULL, "out of memory");
		return NULL;
	}
	sort_ctx = &x;
	if (limit >= 0 && (size_t)limit < nav / 4) {
		/* only the best few are listed: select them, do not sort all */
		size_t kk, m;
		for (kk = 0; kk < (size_t)limit; kk++) {
			size_t best = kk;
			for (m = kk + 1; m < nav; m++)
				if (cand_cmp(&cands[m], &cands[best]) < 0)
					best = m;
			if (best != kk) {
				struct cand sw = cands[kk];
				cands[kk] = cands[best];
				cands[best] = sw;
			}
		}
	} else
		qsort(cands, nav, sizeof(*cands), cand_cmp);
	compat = json_array();
	for (i = 0; i < nav && (limit < 0 || (long)i < limit); i++)
		json_array_append_new(compat, cand_json(&x, &cands[i], opts->all || opts->explain));
	rejected = json_array();
	if (nav == 0 || opts->all || opts->explain)
		for (i = nav; i < ncand; i++)
			json_array_append_new(rejected, cand_json(&x, &cands[i], 1));
	clauses = clause_view(&x, st, &parts);
	free(st);
	{
		size_t n = json_array_size(parts), len;
		json_t **sorted = malloc((n ? n : 1) * sizeof(*sorted));
		for (i = 0; i < n; i++)
			sorted[i] = json_array_get(parts, i);
		qsort(sorted, n, sizeof(*sorted), part_cmp);
		snprintf(summary, sizeof(summary), "%zu/%zu executors", nav, ncand);
		for (i = 0; i < n; i++) {
			len = strlen(summary);
			snprintf(summary + len, sizeof(summary) - len, "%s%s", i ? "; " : ": ",
			    json_string_value(json_object_get(sorted[i], "text")));
		}
		if (buckets[B_BUSY] || buckets[B_POLICY]) {
			len = strlen(summary);
			snprintf(summary + len, sizeof(summary) - len, " (%zu busy, %zu rejected by policy)",
			    buckets[B_BUSY], buckets[B_POLICY]);
		}
		free(sorted);
	}
	json_decref(parts);
	doc = json_pack("{s:s,s:s,s:O,s:I,s:I,s:o,s:{s:I,s:I,s:I,s:I},s:s}",
	    "schema", "remotemedia.match/1", "node", node->id, "requirements", node->requirements,
	    "considered", (json_int_t)ncand, "compatible_count", (json_int_t)nav,
	    "executors", compat, "buckets", "available", (json_int_t)buckets[0], "busy",
	    (json_int_t)buckets[1], "policy", (json_int_t)buckets[2], "incompatible",
	    (json_int_t)buckets[3], "summary", summary);
	if (json_array_size(rejected) > 0 || nav == 0)
		json_object_set(doc, "rejected", rejected);
	json_decref(rejected);
	if (opts->explain)
		json_object_set(doc, "clauses", clauses);
	json_decref(clauses);
	free(cands);
	free(rsbuf);
	*ncompat = nav;
	return doc;
}

/* ---- planning: every executor's facts, without the document --------- */

const char *
rm_bucket_name(int b)
{
	return b >= 0 && b < 4 ? bucket_names[b] : "incompatible";
}

int
rm_match_eval(const struct rm_node *node, const struct rm_exgroup *g,
    const struct rm_match_opts *opts, struct rm_match_cand *out, size_t *n, struct rm_err *err)
{
	const struct rm_taxo *t = rm_taxo_get(err);
	struct ctx x;
	struct cand *cands = NULL;
	size_t i, cap = 0, k = 0;
	uint32_t e;

	*n = 0;
	if (t == NULL)
		return -err->code;
	ctx_init(&x, node, t, opts && opts->now ? opts->now : (long long)time(NULL), opts);
	for (i = 0; i < g->n; i++)
		if (g->sets[i]->nexec > cap)
			cap = g->sets[i]->nexec;
	cands = malloc((cap ? cap : 1) * sizeof(*cands));
	if (cands == NULL)
		return rm_err_set(err, RM_EXIT_INTERNAL, NULL, NULL, "out of memory");
	for (i = 0; i < g->n; i++) {
		const struct rm_exset *s = g->sets[i];
		evaluate_set(&x, s, cands, NULL);
		for (e = 0; e < s->nexec; e++, k++) {
			const struct cand *cd = &cands[e];
			struct rm_match_cand *o = &out[k];
			o->set = s;
			o->exec = e;
			o->bucket = (uint8_t)cd->bucket;
			o->degraded = (uint8_t)cd->degraded;
			o->expired = (uint8_t)cd->expired;
			o->fail = cd->fail;
			o->score = cd->score;
			o->load = num_or(s, x.k_load, e, 0);
			o->price = num_or(s, x.k_price, e, -1);
			o->tokens = num_or(s, x.k_tokens, e, -1);
			o->latency = num_or(s, x.k_latency, e, -1);
		}
	}
	free(cands);
	*n = k;
	return 0;
}

json_t *
rm_match_explain_one(const struct rm_node *node, const struct rm_exset *s, uint32_t e,
    const struct rm_match_opts *opts, int clauses, struct rm_err *err)
{
	const struct rm_taxo *t = rm_taxo_get(err);
	struct ctx x;
	struct cand cd;
	json_t *o, *arr;
	size_t j;

	if (t == NULL)
		return NULL;
	ctx_init(&x, node, t, opts && opts->now ? opts->now : (long long)time(NULL), opts);
	{
		/* the same rules as evaluate_set, for executor e alone */
		struct resolved r;
		size_t which;
		memset(&cd, 0, sizeof(cd));
		cd.set = s;
		cd.e = e;
		resolve(node, s, &r);
		for (j = 0; j < node->n; j++) {
			const struct rm_clause *c = &node->c[j];
			if (eval(c, &t->keys[c->key], s, rids(&r, j), r.hardware,
			    rm_exset_val(s, c->key, e), &which) != R_OK)
				cd.fail |= 1ULL << j;
		}
		unresolve(node, &r);
		for (j = 0; j < node->n; j++)
			if (node->c[j].parent >= 0 && (cd.fail >> node->c[j].parent) & 1)
				cd.fail &= ~(1ULL << j);
		cd.expired = s->info[e].expires_at != 0 && s->info[e].expires_at <= x.now;
		if (cd.expired || (cd.fail & x.hard & ~x.dynamic))
			cd.bucket = B_INCOMPATIBLE;
		else if (cd.fail & x.hard)
			cd.bucket = B_BUSY;
		else if (!approved(s, e, opts ? opts->approved : NULL))
			cd.bucket = B_POLICY;
		else
			cd.bucket = B_AVAILABLE;
		{
			double missed = 0, fit;
			for (j = 0; j < node->n; j++)
				if ((cd.fail & x.soft) >> j & 1)
					missed += node->c[j].weight;
			cd.degraded = (cd.fail & x.soft) != 0;
			fit = x.soft_total > 0 ? 1 - missed / x.soft_total : 1;
			cd.avail = 1 - num_or(s, x.k_load, e, 0);
			if (cd.avail < 0)
				cd.avail = 0;
			cd.score = floor(1000 * (0.6 * fit + 0.4 * cd.avail) + 0.5) / 10;
			cd.cost = num_or(s, x.k_price, e, num_or(s, x.k_tokens, e, 0));
			cd.latency = num_or(s, x.k_latency, e, 1e9);
		}
	}
	o = cand_json(&x, &cd, 1);
	if (!clauses)
		return o;
	arr = json_array();
	for (j = 0; j < node->n; j++) {
		const struct rm_clause *c = &node->c[j];
		const struct rm_taxo_key *k = &t->keys[c->key];
		json_t *have = rm_exset_val_json(s, rm_exset_val(s, c->key, e));
		int failed = (int)((cd.fail >> j) & 1);
		int blocked = c->parent >= 0 && ((cd.fail >> c->parent) & 1);
		json_t *cl = json_pack("{s:s,s:s,s:O,s:o,s:s,s:b}", "path", c->path, "compare",
		    rm_taxo_cmp_name(k->cmp), "need", c->need ? c->need : json_null(), "have",
		    have ? have : json_null(), "result", blocked ? "skipped" : !failed ? "pass" :
		    c->soft ? "degraded" : "fail", "preferred", c->soft);
		if (failed) {
			json_t *r = reason_json(&x, s, e, j);
			json_object_set(cl, "code", json_object_get(r, "code"));
			json_object_set(cl, "message", json_object_get(r, "message"));
			json_decref(r);
		}
		json_array_append_new(arr, cl);
	}
	json_object_set_new(o, "clauses", arr);
	return o;
}

void
rm_match_nodes_of(const json_t *docs, json_t *nodes)
{
	size_t i, k;
	json_t *d, *n;

	json_array_foreach(docs, i, d) {
		json_t *list = json_object_get(d, "nodes");
		if (json_is_array(list))
			json_array_foreach(list, k, n)
				json_array_append(nodes, n);
		else
			json_array_append(nodes, d);
	}
}

/* ---- the fast path: bitsets over an index --------------------------- */

/* Version checks of one clause, remembered by version string and name. */
struct vmemo {
	uint64_t key[512];
	int8_t res[512];
};

static int
vsat(struct vmemo *m, const struct rm_exset *s, uint32_t ver, size_t i, const char *range,
    int bare)
{
	uint64_t key = ((uint64_t)ver << 8 | i) + 1;
	size_t h = (size_t)((key * 0x9e3779b97f4a7c15ULL) >> 55);
	int r;

	if (i < 255 && m->key[h] == key)
		return m->res[h];
	r = rm_version_satisfies(rm_exset_cstr(s, ver), range, bare) == 1;
	if (i < 255) {
		m->key[h] = key;
		m->res[h] = (int8_t)r;
	}
	return r;
}

/* Does v pass a version or version_map clause (as eval decides it)? */
static int
version_ok(const struct rm_clause *c, const struct rm_taxo_key *k, const struct rm_exset *s,
    const uint32_t *ids, const struct rm_val *v, struct vmemo *m)
{
	size_t i;

	if (v->kind == RM_V_NONE)
		return c->missing_ok;
	if (k->cmp == RM_C_VERSION) {
		if (v->kind != RM_V_STR)
			return 0;
		if (c->ranges && c->ranges[0])
			return vsat(m, s, (uint32_t)v->u.ref, 0, c->ranges[0], k->bare_at_least);
		return c->nstrs == 0 || strcmp(rm_exset_cstr(s, (uint32_t)v->u.ref), c->strs[0]) == 0;
	}
	if (v->kind != RM_V_MAP)
		return 0;
	for (i = 0; i < c->nstrs; i++) {
		uint32_t ver = map_get(s, v, ids[i]);
		if (ver == RM_NOSTR - 1)
			return 0;
		if (c->ranges && c->ranges[i] && (ver == RM_NOSTR ||
		    !vsat(m, s, ver, i, c->ranges[i], k->bare_at_least)))
			return 0;
	}
	return 1;
}

/* Appends the NUL-terminated tag and text to buf at *n: -1 when it does not fit. */
static int
sig_add(char *buf, size_t size, size_t *n, char tag, const char *text)
{
	size_t len = strlen(text) + 1;

	if (*n + 1 + len > size)
		return -1;
	buf[(*n)++] = tag;
	memcpy(buf + *n, text, len);
	*n += len;
	return 0;
}

/*
 * What decides a version or version_map clause, exactly what version_ok
 * reads: its key, missing_ok, and for a version its range or else its
 * exact version, for a map each name with its range. Its length, 0 when
 * too long to remember.
 */
static size_t
version_sig(const struct rm_clause *c, const struct rm_taxo_key *k, char *buf, size_t size)
{
	size_t i, n;
	int w = snprintf(buf, size, "%d %d %zu", c->key, c->missing_ok, c->nstrs);

	if (w < 0 || (size_t)w >= size)
		return 0;
	n = (size_t)w + 1;
	if (k->cmp == RM_C_VERSION) {
		if (c->ranges && c->ranges[0])
			return sig_add(buf, size, &n, 'R', c->ranges[0]) == 0 ? n : 0;
		if (c->nstrs == 0)
			return n;
		return sig_add(buf, size, &n, 'S', c->strs[0]) == 0 ? n : 0;
	}
	for (i = 0; i < c->nstrs; i++) {
		if (sig_add(buf, size, &n, 'S', c->strs[i]) != 0 ||
		    sig_add(buf, size, &n, c->ranges && c->ranges[i] ? 'R' : 'N',
		    c->ranges && c->ranges[i] ? c->ranges[i] : "") != 0)
			return 0;
	}
	return n;
}

/*
 * The executors that pass clause c: the index answers numbers (a range),
 * strings and sets (postings) and presence; anything else (versions,
 * codecs, frameworks, a fallback key, a NaN bound) is the reference
 * evaluator run on every executor.
 */
static int
clause_pass(const struct ctx *x, struct rm_xidx *xi, const struct rm_clause *c,
    const uint32_t *ids, uint32_t hardware, uint64_t *pass, uint64_t *tmp)
{
	const struct rm_taxo_key *k = &x->t->keys[c->key];
	const struct rm_exset *s = rm_xidx_set(xi);
	size_t nw = rm_xidx_words(xi), w, i;
	const uint64_t *a, *b;
	uint32_t e;

	memset(pass, 0, nw * sizeof(uint64_t));
	if (c->alt_key >= 0 || isnan(c->lo) || isnan(c->hi))
		goto slow;
	if (c->numeric_eq || k->cmp == RM_C_AT_LEAST || k->cmp == RM_C_AT_MOST) {
		if (rm_xidx_range(xi, c->key, c->has_lo, c->lo, c->has_hi, c->hi, pass) != 0)
			goto slow;
		if (c->missing_ok && (a = rm_xidx_kind(xi, c->key, RM_V_NONE)) != NULL)
			for (w = 0; w < nw; w++)
				pass[w] |= a[w];
		return 0;
	}
	switch (k->cmp) {
	case RM_C_EQUAL:
		if ((a = rm_xidx_kind(xi, c->key, RM_V_STR)) == NULL)
			goto slow;
		for (i = 0; i < c->nstrs; i++)
			if (rm_xidx_post_or(xi, c->key, ids[i], pass) != 0)
				goto slow;
		for (w = 0; w < nw; w++)
			pass[w] &= a[w];
		return 0;
	case RM_C_SUBSET:
		a = rm_xidx_kind(xi, c->key, RM_V_STR);
		b = rm_xidx_kind(xi, c->key, RM_V_SET);
		if (a == NULL || b == NULL)
			goto slow;
		for (w = 0; w < nw; w++)
			pass[w] = a[w] | b[w];
		for (i = 0; i < c->nstrs; i++)
			if (rm_xidx_post_and(xi, c->key, ids[i], pass, tmp) != 0)
				goto slow;
		return 0;
	case RM_C_INTERSECTS:
		for (i = 0; i < c->nstrs; i++)
			if (rm_xidx_post_or(xi, c->key, ids[i], pass) != 0)
				goto slow;
		return 0;
	case RM_C_PRESENCE:
		/* a true boolean: a boolean that is not 0 */
		if ((a = rm_xidx_kind(xi, c->key, RM_V_BOOL)) == NULL)
			goto slow;
		memset(tmp, 0, nw * sizeof(uint64_t));
		if (rm_xidx_range(xi, c->key, 1, 0, 1, 0, tmp) != 0)
			goto slow;
		for (w = 0; w < nw; w++)
			pass[w] = a[w] & ~tmp[w];
		return 0;
	case RM_C_VERSION:
	case RM_C_VERSION_MAP:
		if (c->numeric_eq)
			break;
		{
			/* the same clause in another node: the same executors */
			char sig[1024];
			size_t slen = version_sig(c, k, sig, sizeof(sig));
			struct vmemo *m;
			const struct rm_val *col = rm_exset_col(s, c->key);
			if (slen > 0 && rm_xidx_memo(xi, sig, slen, pass) == 0)
				return 0;
			if ((m = calloc(1, sizeof(*m))) == NULL)
				break;
			for (e = 0; e < s->nexec; e++)
				if (version_ok(c, k, s, ids, &col[e], m))
					rm_bs_set(pass, rm_xidx_pos(xi, e));
			free(m);
			if (slen > 0)
				rm_xidx_memo_put(xi, sig, slen, pass);
		}
		return 0;
	default:
		break;
	}
slow:
	memset(pass, 0, nw * sizeof(uint64_t));
	{
		const struct rm_val *col = rm_exset_col(s, c->key);
		const struct rm_val *alt = c->alt_key >= 0 ? rm_exset_col(s, c->alt_key) :
		    NULL;
		size_t which;
		for (e = 0; e < s->nexec; e++)
			if (eval(c, k, s, ids, hardware, alt && col[e].kind == RM_V_NONE ? &alt[e] :
			    &col[e], &which) == R_OK)
				rm_bs_set(pass, rm_xidx_pos(xi, e));
	}
	return 0;
}

static _Thread_local uint64_t *bits_spare;
static _Thread_local size_t bits_spare_len;	/* words */

void
rm_match_bits_release(struct rm_match_bits *b)
{
	/* the last one is kept for the next node: a fresh 150 KB a node was
	 * a new mapping each time, a quarter of a plan's page faults */
	if (b->mem != NULL && b->memlen > bits_spare_len) {
		free(bits_spare);
		bits_spare = b->mem;
		bits_spare_len = b->memlen;
	} else
		free(b->mem);
	memset(b, 0, sizeof(*b));
}

/* Buckets from the clauses' failures, as evaluate_set sorts executors. */
static int
bits_buckets(const struct ctx *x, struct rm_xidx *xi, struct rm_match_bits *b)
{
	size_t nw = b->nw, w, j;
	uint32_t n = rm_xidx_n(xi);
	const uint64_t *expired = rm_xidx_expired(xi, x->now);
	const uint64_t *unappr = rm_xidx_unapproved(xi, x->opts ? x->opts->approved : NULL);
	uint64_t tail = (n & 63) ? (1ULL << (n & 63)) - 1 : ~0ULL;

	if (expired == NULL || unappr == NULL)
		return -1;
	for (w = 0; w < nw; w++) {
		uint64_t hard = 0, dyn = 0, soft = 0, all = w + 1 == nw ? tail : ~0ULL;
		for (j = 0; j < b->nclauses; j++) {
			uint64_t f = b->fail[j][w];
			if ((x->soft >> j) & 1)
				soft |= f;
			else if ((x->dynamic >> j) & 1)
				dyn |= f;
			else
				hard |= f;
		}
		b->bucket[RM_B_INCOMPATIBLE][w] = (expired[w] | hard) & all;
		b->bucket[RM_B_BUSY][w] = dyn & ~b->bucket[RM_B_INCOMPATIBLE][w] & all;
		b->bucket[RM_B_POLICY][w] = unappr[w] & ~b->bucket[RM_B_INCOMPATIBLE][w] &
		    ~b->bucket[RM_B_BUSY][w] & all;
		b->bucket[RM_B_AVAILABLE][w] = ~unappr[w] & ~b->bucket[RM_B_INCOMPATIBLE][w] &
		    ~b->bucket[RM_B_BUSY][w] & all;
		b->degraded[w] = soft & all;
	}
	return 0;
}

int
rm_match_bits(const struct rm_node *node, struct rm_xidx *xi, const struct rm_match_opts *opts,
    struct rm_match_bits *b, struct rm_err *err)
{
	const struct rm_taxo *t = rm_taxo_get(err);
	const struct rm_exset *s = rm_xidx_set(xi);
	struct ctx x;
	struct resolved r;
	size_t nw = rm_xidx_words(xi), j, w;
	uint64_t *tmp;
	uint32_t n = rm_xidx_n(xi);
	uint64_t tail = (n & 63) ? (1ULL << (n & 63)) - 1 : ~0ULL;

	memset(b, 0, sizeof(*b));
	if (t == NULL)
		return -err->code;
	ctx_init(&x, node, t, opts && opts->now ? opts->now : (long long)time(NULL), opts);
	b->nw = nw;
	b->nclauses = node->n;
	/* every word is written before it is read (clause_pass, bits_buckets);
	 * zeroing 150 KB a node cost 3% of a plan over 100,000 executors */
	b->memlen = (node->n + 6) * (nw + 1);
	if (bits_spare != NULL && bits_spare_len >= b->memlen) {
		b->mem = bits_spare;
		b->memlen = bits_spare_len;
		bits_spare = NULL;
		bits_spare_len = 0;
	} else
		b->mem = malloc(b->memlen * sizeof(uint64_t));
	if (b->mem == NULL)
		return rm_err_set(err, RM_EXIT_INTERNAL, NULL, NULL, "out of memory");
	for (j = 0; j < node->n + 6; j++)
		b->mem[j * (nw + 1) + nw] = 0;
	for (j = 0; j < node->n; j++)
		b->fail[j] = b->mem + j * (nw + 1);
	for (j = 0; j < 4; j++)
		b->bucket[j] = b->mem + (node->n + j) * (nw + 1);
	b->degraded = b->mem + (node->n + 4) * (nw + 1);
	tmp = b->mem + (node->n + 5) * (nw + 1);
	resolve(node, s, &r);
	for (j = 0; j < node->n; j++) {
		uint64_t *f = b->fail[j];
		clause_pass(&x, xi, &node->c[j], rids(&r, j), r.hardware, f, tmp);
		for (w = 0; w < nw; w++)
			f[w] = ~f[w];
		if (nw > 0)
			f[nw - 1] &= tail;
		/* a failed block's own clauses are implied by it: report the block */
		if (node->c[j].parent >= 0)
			for (w = 0; w < nw; w++)
				f[w] &= ~b->fail[node->c[j].parent][w];
	}
	unresolve(node, &r);
	if (bits_buckets(&x, xi, b) != 0) {
		rm_match_bits_release(b);
		return rm_err_set(err, RM_EXIT_INTERNAL, NULL, NULL, "out of memory");
	}
	return 0;
}

void
rm_match_cand_of(const struct rm_node *node, const struct rm_match_bits *b,
    const struct rm_xidx *xi, uint32_t e, long long now, struct rm_match_cand *o)
{
	const struct rm_exset *s = rm_xidx_set(xi);
	uint32_t p = rm_xidx_pos(xi, e);
	struct rm_err err;
	struct ctx x;
	struct cand cd;
	size_t j;
	int k;

	memset(o, 0, sizeof(*o));
	o->set = s;
	o->exec = e;
	for (j = 0; j < b->nclauses; j++)
		if (rm_bs_get(b->fail[j], p))
			o->fail |= 1ULL << j;
	for (k = 0; k < 4; k++)
		if (rm_bs_get(b->bucket[k], p))
			o->bucket = (uint8_t)k;
	o->degraded = (uint8_t)rm_bs_get(b->degraded, p);
	o->expired = s->info[e].expires_at != 0 && s->info[e].expires_at <= now;
	ctx_init(&x, node, rm_taxo_get(&err), now, NULL);
	memset(&cd, 0, sizeof(cd));
	cd.set = s;
	cd.e = e;
	cd.fail = o->fail;
	score_cand(&x, &cd);
	o->score = cd.score;
	o->load = num_or(s, x.k_load, e, 0);
	o->price = num_or(s, x.k_price, e, -1);
	o->tokens = num_or(s, x.k_tokens, e, -1);
	o->latency = num_or(s, x.k_latency, e, -1);
}

/*
 * The reasons failing executors have, counted by kind where one bound
 * decides (the common number clause, presence), as eval gives them;
 * -1 when each executor must be asked.
 */
static int
count_reasons(const struct ctx *x, struct rm_xidx *xi, const struct rm_match_bits *b, size_t j,
    struct clause_stats *st)
{
	const struct rm_clause *c = &x->node->c[j];
	const struct rm_taxo_key *k = &x->t->keys[c->key];
	const uint64_t *kn = rm_xidx_kind(xi, c->key, RM_V_NONE);
	const uint64_t *knum = rm_xidx_kind(xi, c->key, RM_V_NUM);
	const uint64_t *kb = rm_xidx_kind(xi, c->key, RM_V_BOOL);
	const uint64_t *f = b->fail[j];
	size_t w, none = 0, numeric = 0, other = 0;
	int numbers = c->numeric_eq || k->cmp == RM_C_AT_LEAST || k->cmp == RM_C_AT_MOST;

	if (kn == NULL || knum == NULL || kb == NULL || c->alt_key >= 0 || c->missing_ok)
		return -1;
	if (!(numbers && c->has_lo != c->has_hi) && k->cmp != RM_C_PRESENCE)
		return -1;
	for (w = 0; w < b->nw; w++) {
		none += rm_popcount64(f[w] & kn[w]);
		numeric += rm_popcount64(f[w] & (knum[w] | kb[w]) & ~kn[w]);
		other += rm_popcount64(f[w] & ~(knum[w] | kb[w] | kn[w]));
	}
	if (k->cmp == RM_C_PRESENCE && !numbers) {
		/* a missing or false presence key: missing */
		st->counts[j][R_MISSING] += none + numeric + other;
		return 0;
	}
	st->counts[j][R_MISSING] += none;
	st->counts[j][R_MISMATCH] += other;
	st->counts[j][c->numeric_eq == 1 ? R_MISMATCH : c->has_lo ? R_INSUFFICIENT : R_EXCEEDS] +=
	    numeric;
	return 0;
}

/*
 * The fast path of rm_match_node: the index's bitsets per set, the
 * available executors scored, the failing ones' reasons counted with the
 * reference evaluator. -1 when the index cannot be built.
 */
static int
fast_avail(const struct ctx *x, const struct rm_exgroup *g, struct cand **out, size_t *ncand,
    size_t *nav, size_t buckets[4], struct clause_stats *st)
{
	struct rm_match_opts mo = *x->opts;
	size_t i, j, k, n = 0, cap = 0;
	struct cand *cands = NULL;

	mo.now = x->now;
	for (i = 0; i < g->n; i++) {
		const struct rm_exset *s = g->sets[i];
		struct rm_xidx *xi = rm_xidx_new_plain(s);
		struct rm_match_bits b;
		struct resolved r;
		struct rm_err err;
		uint32_t p;
		size_t which;

		if (xi == NULL || rm_match_bits(x->node, xi, &mo, &b, &err) != 0) {
			rm_xidx_free(xi);
			free(cands);
			return -1;
		}
		for (k = 0; k < 4; k++)
			buckets[k] += rm_bs_count(b.bucket[k], b.nw);
		if (n + buckets[B_AVAILABLE] + 1 > cap) {
			cap = n + buckets[B_AVAILABLE] + 1;
			cands = realloc(cands, cap * sizeof(*cands));
		}
		for (p = rm_bs_next(b.bucket[B_AVAILABLE], 0, s->nexec); cands != NULL &&
		    p < s->nexec; p = rm_bs_next(b.bucket[B_AVAILABLE], p + 1, s->nexec)) {
			struct cand *cd = &cands[n++];
			memset(cd, 0, sizeof(*cd));
			cd->set = s;
			cd->e = p;	/* a plain index: positions are executors */
			cd->bucket = B_AVAILABLE;
			for (j = 0; j < b.nclauses; j++)
				if (rm_bs_get(b.fail[j], p))
					cd->fail |= 1ULL << j;
			cd->degraded = rm_bs_get(b.degraded, p);
			score_cand(x, cd);
		}
		resolve(x->node, s, &r);
		for (j = 0; j < x->node->n; j++) {
			const struct rm_clause *c = &x->node->c[j];
			const struct rm_taxo_key *key = &x->t->keys[c->key];
			const struct rm_val *col = rm_exset_col(s, c->key), *v;
			uint32_t e;
			for (e = 0; key->type == RM_T_NUMBER && e < s->nexec; e++)
				best_of(x, st, j, &col[e]);
			if (count_reasons(x, xi, &b, j, st) == 0)
				continue;
			for (p = rm_bs_next(b.fail[j], 0, s->nexec); p < s->nexec;
			    p = rm_bs_next(b.fail[j], p + 1, s->nexec)) {
				int rr;
				v = &col[p];
				if (v->kind == RM_V_NONE && c->alt_key >= 0)
					v = rm_exset_val(s, c->alt_key, p);
				rr = eval(c, key, s, rids(&r, j), r.hardware, v, &which);
				st->counts[j][rr < R_NREASONS ? rr : R_MISMATCH]++;
			}
		}
		unresolve(x->node, &r);
		*ncand += s->nexec;
		rm_match_bits_release(&b);
		rm_xidx_free(xi);
		if (cands == NULL)
			return -1;
	}
	*out = cands;
	*nav = n;
	return 0;
}
