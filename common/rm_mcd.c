/*
 * Model capability descriptors (MCD), engine capability profiles (ECP) and
 * the preflight rules of spec 002 (CMATCH-8030).
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "rm_doc.h"
#include "rm_fs.h"
#include "rm_gguf.h"
#include "rm_home.h"
#include "rm_log.h"
#include "rm_mcd.h"

#define QUANT_MAX 64		/* longest quantization name + 1 */
#define QUANT_LIST_MAX 256

/* err->msg gets "<prefix>: " in front, once. */
static void
err_prefix(struct rm_err *err, const char *prefix)
{
	size_t pl, ml;

	if (err == NULL)
		return;
	pl = strlen(prefix);
	if (strncmp(err->msg, prefix, pl) == 0 && err->msg[pl] == ':')
		return;
	/* shift the message right, cutting its tail if it no longer fits */
	ml = strnlen(err->msg, sizeof(err->msg) - 1);
	if (pl + 2 + ml >= sizeof(err->msg))
		ml = sizeof(err->msg) - pl - 3;
	memmove(err->msg + pl + 2, err->msg, ml);
	err->msg[pl + 2 + ml] = '\0';
	memcpy(err->msg, prefix, pl);
	memcpy(err->msg + pl, ": ", 2);
}

static int
invalid(struct rm_err *err, const char *prefix, const char *file, const char *field,
    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static int
invalid(struct rm_err *err, const char *prefix, const char *file, const char *field,
    const char *fmt, ...)
{
	char msg[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return rm_err_set(err, RM_EXIT_INVALID, file, field, "%s: %s", prefix, msg);
}

/* rm_json_type, with NULL as a missing value. */
static const char *
type_of(const json_t *v)
{
	return v == NULL ? "nothing" : rm_json_type(v);
}

/* Lower case, and ggml's f16/f32/f64 as fp16/fp32/fp64. */
static void
quant_norm(const char *s, char *out, size_t size)
{
	size_t i;

	for (i = 0; s[i] != '\0' && i + 1 < size; i++)
		out[i] = (char)tolower((unsigned char)s[i]);
	out[i] = '\0';
	if (strcmp(out, "f16") == 0 || strcmp(out, "f32") == 0 || strcmp(out, "f64") == 0)
		snprintf(out, size, "fp%s", s + 1);
}

static int
str_in(const json_t *arr, const char *s)
{
	size_t i;
	json_t *v;

	json_array_foreach(arr, i, v)
		if (json_is_string(v) && strcmp(json_string_value(v), s) == 0)
			return 1;
	return 0;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* A sorted, unique array from a list of names. */
static json_t *
sorted_set(const char **names, size_t n)
{
	json_t *arr = json_array();
	size_t i;

	qsort(names, n, sizeof(*names), cmp_str);
	for (i = 0; i < n; i++)
		if (i == 0 || strcmp(names[i], names[i - 1]) != 0)
			json_array_append_new(arr, json_string(names[i]));
	return arr;
}

static void
join(const json_t *arr, char *buf, size_t size)
{
	size_t i, n = 0;
	json_t *v;
	int w;

	buf[0] = '\0';
	json_array_foreach(arr, i, v) {
		w = snprintf(buf + n, size - n, "%s%s", i ? ", " : "",
		    json_is_string(v) ? json_string_value(v) : "?");
		if (w < 0 || (size_t)w >= size - n) {
			if (size > 4)
				snprintf(buf + size - 4, 4, "...");
			return;
		}
		n += (size_t)w;
	}
	if (n == 0)
		snprintf(buf, size, "none");
}

/* ---- MCD fields ------------------------------------------------------- */

static const char *const mcd_keys[] = {
	"model_id", "positional", "attention", "quant", "context_max", "vocab_size", NULL
};

/*
 * Checks the MCD fields present in doc and copies them, normalised, into out.
 * With required, a missing field is an error. pre prefixes field paths
 * ("models.x." in a catalog).
 */
static int
mcd_fields(const json_t *doc, const char *file, const char *pre, int required, json_t *out,
    struct rm_err *err)
{
	char qbuf[QUANT_LIST_MAX][QUANT_MAX];
	char field[256], brief[128];
	const char *names[QUANT_LIST_MAX];
	const char *key, *const *k;
	json_t *v, *e;
	size_t i, n;
	int r;

	if (!json_is_object(doc))
		return invalid(err, "invalid_mcd", file, pre[0] ? pre : NULL,
		    "expected an object, got %s", type_of(doc));
	if ((r = rm_doc_check_schema(doc, "mcd", 1, 0, file, err)) != 0) {
		err_prefix(err, "invalid_mcd");
		return r;
	}
	for (k = mcd_keys; *k != NULL; k++) {
		snprintf(field, sizeof(field), "%s%s", pre, *k);
		v = json_object_get(doc, *k);
		if (v == NULL) {
			if (required)
				return invalid(err, "invalid_mcd", file, field, "missing");
			continue;
		}
		if (strcmp(*k, "context_max") == 0 || strcmp(*k, "vocab_size") == 0) {
			if (!json_is_integer(v) || json_integer_value(v) <= 0)
				return invalid(err, "invalid_mcd", file, field,
				    "expected a positive integer, got %s",
				    rm_json_brief(v, brief, sizeof(brief)));
			json_object_set_new(out, *k, json_integer(json_integer_value(v)));
		} else if (strcmp(*k, "quant") == 0) {
			json_t *one = NULL;

			if (json_is_string(v))
				v = one = json_pack("[O]", v);
			if (!json_is_array(v) || json_array_size(v) == 0 ||
			    json_array_size(v) > QUANT_LIST_MAX) {
				json_decref(one);
				return invalid(err, "invalid_mcd", file, field,
				    "expected a list of 1 to %d quantization names, got %s",
				    QUANT_LIST_MAX,
				    rm_json_brief(json_object_get(doc, *k), brief, sizeof(brief)));
			}
			n = 0;
			json_array_foreach(v, i, e) {
				if (!json_is_string(e) || json_string_length(e) == 0 ||
				    json_string_length(e) >= QUANT_MAX) {
					snprintf(field, sizeof(field), "%s%s[%zu]", pre, *k, i);
					json_decref(one);
					return invalid(err, "invalid_mcd", file, field,
					    "expected a quantization name such as \"q4_0\", got %s",
					    rm_json_brief(e, brief, sizeof(brief)));
				}
				quant_norm(json_string_value(e), qbuf[n], QUANT_MAX);
				names[n] = qbuf[n];
				n++;
			}
			json_decref(one);
			json_object_set_new(out, *k, sorted_set(names, n));
		} else {
			if (!json_is_string(v) || json_string_length(v) == 0)
				return invalid(err, "invalid_mcd", file, field,
				    "expected a non-empty string, got %s",
				    rm_json_brief(v, brief, sizeof(brief)));
			json_object_set(out, *k, v);
		}
	}
	if (rm_mode() == RM_MODE_PRODUCTION) {
		json_object_foreach((json_t *)doc, key, v) {
			for (k = mcd_keys; *k != NULL; k++)
				if (strcmp(*k, key) == 0)
					break;
			if (*k == NULL && strcmp(key, "schema") != 0 && strcmp(key, "source") != 0) {
				snprintf(field, sizeof(field), "%s%s", pre, key);
				return invalid(err, "invalid_mcd", file, field,
				    "unknown field (production mode)");
			}
		}
	}
	return 0;
}

json_t *
rm_mcd_normalize(const json_t *doc, const char *source, const char *file, struct rm_err *err)
{
	json_t *out = json_object();

	if (mcd_fields(doc, file, "", 1, out, err) != 0) {
		json_decref(out);
		return NULL;
	}
	json_object_set_new(out, "source", json_string(source));
	return out;
}

/* ---- GGUF ------------------------------------------------------------- */

/* The MCD facts a GGUF header gives; fields it cannot tell are left out. */
static int
gguf_facts(const char *path, const struct rm_gguf *g, json_t *out, char *why, size_t whysize,
    struct rm_err *err)
{
	const char *names[RM_GGUF_TYPES + 1], *pos, *att, *fn;
	size_t n = 0;
	uint32_t t;

	why[0] = '\0';
	if (g->name[0] != '\0') {
		json_t *s = json_string(g->name);

		if (s == NULL)
			return invalid(err, "invalid_mcd", path, "model_id",
			    "general.name is not valid UTF-8");
		json_object_set_new(out, "model_id", s);
	}
	if (g->arch[0] == '\0')
		snprintf(why, whysize, "the file has no general.architecture");
	else if ((pos = rm_gguf_arch_positional(g->arch)) == NULL)
		snprintf(why, whysize, "architecture \"%.64s\" is not in the positional table%s",
		    g->arch, g->has_rope ? " (it uses rope of an unknown kind)" : "");
	else
		json_object_set_new(out, "positional", json_string(pos));
	if (g->has_heads && g->has_heads_kv && g->heads_kv_max > g->heads_max)
		return invalid(err, "invalid_mcd", path, "attention",
		    "%s.attention.head_count_kv %llu exceeds head_count %llu", g->arch,
		    (unsigned long long)g->heads_kv_max, (unsigned long long)g->heads_max);
	if ((att = rm_gguf_attention(g)) != NULL)
		json_object_set_new(out, "attention", json_string(att));
	if (g->has_file_type && (fn = rm_gguf_ftype_name(g->file_type)) != NULL)
		names[n++] = fn;
	for (t = 0; t < RM_GGUF_TYPES; t++)
		if ((g->weight_types >> t & 1) && (fn = rm_gguf_type_name(t)) != NULL)
			names[n++] = fn;
	if (n > 0)
		json_object_set_new(out, "quant", sorted_set(names, n));
	if (g->has_context && g->context_length > 0 && g->context_length <= INT64_MAX)
		json_object_set_new(out, "context_max", json_integer((json_int_t)g->context_length));
	if (g->has_vocab && g->vocab_size > 0 && g->vocab_size <= INT64_MAX)
		json_object_set_new(out, "vocab_size", json_integer((json_int_t)g->vocab_size));
	return 0;
}

/* The sidecar beside a model: "<path>.mcd.json", else "<path minus .gguf>.mcd.json". */
static int
find_sidecar(const char *path, char *buf, size_t size)
{
	size_t n = strlen(path);

	if ((size_t)snprintf(buf, size, "%s.mcd.json", path) < size && rm_is_file(buf))
		return 1;
	if (n > 5 && strcmp(path + n - 5, ".gguf") == 0 &&
	    (size_t)snprintf(buf, size, "%.*s.mcd.json", (int)(n - 5), path) < size &&
	    rm_is_file(buf))
		return 1;
	return 0;
}

static json_t *
load_gguf(const char *path, struct rm_err *err)
{
	struct rm_gguf g;
	char side[PATH_MAX], why[256];
	const char *key, *base;
	json_t *facts = json_object(), *sdoc = NULL, *sfields = NULL, *v, *out = NULL;
	int r;

	if ((r = rm_gguf_read(path, &g, err)) != 0) {
		err_prefix(err, r == -RM_EXIT_NOTFOUND ? "not_found" : "invalid_mcd");
		goto out;
	}
	if (gguf_facts(path, &g, facts, why, sizeof(why), err) != 0)
		goto out;
	if (find_sidecar(path, side, sizeof(side))) {
		if ((sdoc = rm_doc_load(side, err)) == NULL) {
			err_prefix(err, "invalid_mcd");
			goto out;
		}
		sfields = json_object();
		if (mcd_fields(sdoc, side, "", 0, sfields, err) != 0)
			goto out;
		json_object_foreach(sfields, key, v) {
			json_t *mine = json_object_get(facts, key);

			if (mine == NULL)
				json_object_set(facts, key, v);
			else if (!json_equal(mine, v))
				rm_info("%s: %s: the sidecar %s differs; the GGUF metadata wins",
				    path, key, side);
		}
	}
	if (json_object_get(facts, "model_id") == NULL) {
		/* no general.name: the file name without .gguf */
		char id[256];
		size_t n;

		base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
		n = strlen(base);
		if (n > 5 && strcmp(base + n - 5, ".gguf") == 0)
			n -= 5;
		snprintf(id, sizeof(id), "%.*s", (int)n, base);
		if ((v = json_string(id)) == NULL) {
			invalid(err, "invalid_mcd", path, "model_id",
			    "no general.name and the file name is not valid UTF-8");
			goto out;
		}
		json_object_set_new(facts, "model_id", v);
	}
	if (json_object_get(facts, "positional") == NULL) {
		invalid(err, "invalid_mcd", path, "positional",
		    "%s; give \"positional\" in a sidecar %s.mcd.json", why, path);
		goto out;
	}
	if (json_object_get(facts, "attention") == NULL) {
		invalid(err, "invalid_mcd", path, "attention",
		    "no %s.attention.head_count; give \"attention\" in a sidecar %s.mcd.json",
		    g.arch, path);
		goto out;
	}
	if (json_object_get(facts, "quant") == NULL) {
		invalid(err, "invalid_mcd", path, "quant",
		    "no general.file_type and no weight tensors of a known type");
		goto out;
	}
	if (json_object_get(facts, "context_max") == NULL) {
		invalid(err, "invalid_mcd", path, "context_max", "no %s.context_length", g.arch);
		goto out;
	}
	if (json_object_get(facts, "vocab_size") == NULL) {
		invalid(err, "invalid_mcd", path, "vocab_size",
		    "no tokenizer.ggml.tokens and no %s.vocab_size", g.arch);
		goto out;
	}
	out = rm_mcd_normalize(facts, "gguf", path, err);
out:
	json_decref(facts);
	json_decref(sdoc);
	json_decref(sfields);
	return out;
}

/* ---- catalog ---------------------------------------------------------- */

/* 1 found (*out set), 0 not in this catalog, <0 error. */
static int
catalog_entry(json_t *doc, const char *shown, const char *id, json_t **out, struct rm_err *err)
{
	json_t *models, *e, *fixed;
	char pre[300];
	int r;

	*out = NULL;
	if ((r = rm_doc_check_schema(doc, "catalog", 1, 0, shown, err)) != 0) {
		err_prefix(err, "invalid_mcd");
		return r;
	}
	models = json_object_get(doc, "models");
	if (!json_is_object(models))
		return invalid(err, "invalid_mcd", shown, "models",
		    "expected a map of model ids to descriptors, got %s", type_of(models));
	if ((e = json_object_get(models, id)) == NULL)
		return 0;
	snprintf(pre, sizeof(pre), "models.%s.", id);
	if (!json_is_object(e))
		return invalid(err, "invalid_mcd", shown, pre, "expected an object, got %s",
		    type_of(e));
	fixed = json_deep_copy(e);
	if (json_object_get(fixed, "model_id") == NULL)
		json_object_set_new(fixed, "model_id", json_string(id));
	*out = json_object();
	r = mcd_fields(fixed, shown, pre, 1, *out, err);
	json_decref(fixed);
	if (r != 0) {
		json_decref(*out);
		*out = NULL;
		return r;
	}
	json_object_set_new(*out, "source", json_string("catalog"));
	return 1;
}

static json_t *
load_catalog(const char *id, struct rm_err *err)
{
	char user[PATH_MAX], shown[PATH_MAX];
	char *text = NULL;
	size_t len = 0;
	json_t *doc, *out = NULL;
	int r;

	if (*id == '\0') {
		invalid(err, "invalid_mcd", NULL, "model_id", "empty catalog id in \"catalog:\"");
		return NULL;
	}
	/* the user's catalog first: its entries shadow the shipped ones */
	if (rm_home_path(user, sizeof(user), "catalog.yaml", 0, err) == 0 && rm_is_file(user)) {
		if ((doc = rm_doc_load(user, err)) == NULL) {
			err_prefix(err, "invalid_mcd");
			return NULL;
		}
		r = catalog_entry(doc, user, id, &out, err);
		json_decref(doc);
		if (r != 0)
			return out;
	} else
		user[0] = '\0';
	if (rm_data_read("catalog.yaml", &text, &len, shown, sizeof(shown), err) != 0) {
		if (err != NULL && err->code != RM_EXIT_NOTFOUND) {
			err_prefix(err, "invalid_mcd");
			return NULL;
		}
		shown[0] = '\0';
	} else {
		doc = rm_doc_parse(text, len, shown, 1, err);
		free(text);
		if (doc == NULL) {
			err_prefix(err, "invalid_mcd");
			return NULL;
		}
		r = catalog_entry(doc, shown, id, &out, err);
		json_decref(doc);
		if (r != 0)
			return out;
	}
	rm_err_set(err, RM_EXIT_NOTFOUND, NULL, "model_id",
	    "not_found: model \"%s\" is not in the catalog (%s%s%s)", id,
	    user[0] ? user : "", user[0] && shown[0] ? ", " : "", shown[0] ? shown : "none");
	return NULL;
}

json_t *
rm_mcd_load(const char *ref, struct rm_err *err)
{
	struct stat st;
	json_t *doc, *out;
	size_t n;

	rm_err_clear(err);
	if (strncmp(ref, "catalog:", 8) == 0)
		return load_catalog(ref + 8, err);
	if (strcmp(ref, "-") != 0) {
		if (stat(ref, &st) != 0) {
			rm_err_set(err, errno == ENOENT ? RM_EXIT_NOTFOUND : RM_EXIT_INVALID, ref,
			    NULL, "%s: %s", errno == ENOENT ? "not_found" : "invalid_mcd",
			    strerror(errno));
			return NULL;
		}
		if (!S_ISREG(st.st_mode)) {
			invalid(err, "invalid_mcd", ref, NULL, "not a regular file");
			return NULL;
		}
		/* GGUF by its magic whatever the name; a .gguf name without the
		 * magic gets the GGUF reader's message rather than a YAML one */
		n = strlen(ref);
		if (rm_gguf_sniff(ref) || (n > 5 && strcmp(ref + n - 5, ".gguf") == 0))
			return load_gguf(ref, err);
	}
	if ((doc = rm_doc_load(ref, err)) == NULL) {
		err_prefix(err, err != NULL && err->code == RM_EXIT_NOTFOUND ? "not_found" :
		    "invalid_mcd");
		return NULL;
	}
	out = rm_mcd_normalize(doc, "sidecar", ref, err);
	json_decref(doc);
	return out;
}

/* ---- ECP -------------------------------------------------------------- */

static int
ecp_list(const json_t *e, const char *key, int quant, const char *file, const char *pre,
    json_t *out, struct rm_err *err)
{
	char field[256], brief[128], qn[QUANT_MAX];
	json_t *v = json_object_get(e, key), *arr, *x;
	size_t i;

	snprintf(field, sizeof(field), "%s%s", pre, key);
	if (v == NULL)
		return invalid(err, "invalid_ecp", file, field, "missing, expected a list of names");
	if (!json_is_array(v))
		return invalid(err, "invalid_ecp", file, field,
		    "expected a list of names, got %s", rm_json_brief(v, brief, sizeof(brief)));
	arr = json_array();
	json_array_foreach(v, i, x) {
		const char *s;

		if (!json_is_string(x) || json_string_length(x) == 0 ||
		    (quant && json_string_length(x) >= QUANT_MAX)) {
			json_decref(arr);
			snprintf(field, sizeof(field), "%s%s[%zu]", pre, key, i);
			return invalid(err, "invalid_ecp", file, field,
			    "expected a non-empty string, got %s",
			    rm_json_brief(x, brief, sizeof(brief)));
		}
		s = json_string_value(x);
		if (quant) {
			quant_norm(s, qn, sizeof(qn));
			s = qn;
		}
		if (!str_in(arr, s))
			json_array_append_new(arr, json_string(s));
	}
	json_object_set_new(out, key, arr);
	return 0;
}

static int
ecp_int(const json_t *e, const char *key, int required, const char *file, const char *pre,
    json_t *out, struct rm_err *err)
{
	char field[256], brief[128];
	json_t *v = json_object_get(e, key);

	snprintf(field, sizeof(field), "%s%s", pre, key);
	if (v == NULL)
		return required ? invalid(err, "invalid_ecp", file, field,
		    "missing, expected a positive integer") : 0;
	if (!json_is_integer(v) || json_integer_value(v) < (required ? 1 : 0))
		return invalid(err, "invalid_ecp", file, field, "expected a %s integer, got %s",
		    required ? "positive" : "non-negative", rm_json_brief(v, brief, sizeof(brief)));
	json_object_set_new(out, key, json_integer(json_integer_value(v)));
	return 0;
}

json_t *
rm_ecp_normalize(const json_t *doc, const char *file, struct rm_err *err)
{
	const json_t *e = doc, *w = NULL;
	const char *pre = "";
	char brief[128];
	json_t *out;

	if (!json_is_object(doc)) {
		invalid(err, "invalid_ecp", file, NULL, "expected an object, got %s",
		    type_of(doc));
		return NULL;
	}
	if (json_object_get(doc, "engine") != NULL) {
		e = json_object_get(doc, "engine");
		pre = "engine.";
		if (!json_is_object(e)) {
			invalid(err, "invalid_ecp", file, "engine", "expected an object, got %s",
			    rm_json_brief(e, brief, sizeof(brief)));
			return NULL;
		}
		w = json_object_get(e, "worker_id");
		if (w == NULL)
			w = json_object_get(doc, "id");
		if (w == NULL)
			w = json_object_get(doc, "worker_id");
	} else if ((w = json_object_get(doc, "worker_id")) == NULL) {
		invalid(err, "invalid_ecp", file, "worker_id", "missing, expected a string");
		return NULL;
	}
	if (w != NULL && (!json_is_string(w) || json_string_length(w) == 0)) {
		invalid(err, "invalid_ecp", file, e == doc ? "worker_id" : "engine.worker_id",
		    "expected a non-empty string, got %s", rm_json_brief(w, brief, sizeof(brief)));
		return NULL;
	}
	out = json_object();
	if (w != NULL)
		json_object_set(out, "worker_id", (json_t *)w);
	if (ecp_list(e, "supports_positional", 0, file, pre, out, err) != 0 ||
	    ecp_list(e, "supports_attention", 0, file, pre, out, err) != 0 ||
	    ecp_list(e, "supports_quant", 1, file, pre, out, err) != 0 ||
	    ecp_int(e, "max_context", 1, file, pre, out, err) != 0 ||
	    ecp_int(e, "vram_bytes", 0, file, pre, out, err) != 0) {
		json_decref(out);
		return NULL;
	}
	return out;
}

/* ---- the rules -------------------------------------------------------- */

static void
add_reason(json_t *reasons, const char *code, const char *path, json_t *need, json_t *have,
    const char *msg)
{
	json_array_append_new(reasons, json_pack("{s:s, s:s, s:o, s:o, s:s}", "code", code,
	    "path", path, "need", need ? need : json_null(), "have", have ? have : json_null(),
	    "message", msg));
}

static void
one_of_rule(json_t *reasons, const json_t *mcd, const json_t *ecp, const char *field,
    const char *list, const char *code, const char *what)
{
	json_t *need = json_object_get(mcd, field), *have = json_object_get(ecp, list);
	char path[64], sup[1024], msg[1400];
	const char *s = json_string_value(need);

	if (s != NULL && str_in(have, s))
		return;
	join(have, sup, sizeof(sup));
	snprintf(msg, sizeof(msg), "%s %s not supported (supported: %s)", what,
	    s ? s : "(unknown)", sup);
	snprintf(path, sizeof(path), "model.%s", field);
	add_reason(reasons, code, path, json_incref(need),
	    have ? json_deep_copy(have) : json_array(), msg);
}

json_t *
rm_mcd_check(const json_t *mcd, const json_t *ecp)
{
	json_t *reasons = json_array(), *q, *have, *x, *need, *max;
	char needs[1024], sup[1024], msg[2100];
	size_t i;
	int any = 0;

	one_of_rule(reasons, mcd, ecp, "positional", "supports_positional",
	    "incompatible_positional", "positional encoding");
	one_of_rule(reasons, mcd, ecp, "attention", "supports_attention",
	    "incompatible_attention", "attention");

	q = json_object_get(mcd, "quant");
	have = json_object_get(ecp, "supports_quant");
	json_array_foreach(q, i, x)
		if (json_is_string(x) && str_in(have, json_string_value(x)))
			any = 1;
	if (!any) {
		join(q, needs, sizeof(needs));
		join(have, sup, sizeof(sup));
		snprintf(msg, sizeof(msg), "quantization %s not supported (supported: %s)",
		    needs, sup);
		add_reason(reasons, "incompatible_quant", "model.quant",
		    q ? json_deep_copy(q) : json_array(),
		    have ? json_deep_copy(have) : json_array(), msg);
	}

	need = json_object_get(mcd, "context_max");
	max = json_object_get(ecp, "max_context");
	if (!json_is_integer(need) || !json_is_integer(max) ||
	    json_integer_value(need) > json_integer_value(max)) {
		snprintf(msg, sizeof(msg), "context %" JSON_INTEGER_FORMAT
		    " exceeds the engine maximum %" JSON_INTEGER_FORMAT,
		    json_integer_value(need), json_integer_value(max));
		add_reason(reasons, "context_too_large", "model.context_max", json_incref(need),
		    json_incref(max), msg);
	}
	return reasons;
}
