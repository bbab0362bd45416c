#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "rm_doc.h"
#include "rm_jsonr.h"
#include "rm_jsonw.h"
#include "rm_fs.h"

#define YAML_MAX_DEPTH 64
/*
 * What a YAML stream may build is bounded by its size: at most this many
 * bytes of tree (as estimated below, close to what jansson and malloc use)
 * per byte of input, plus a constant, counted over the whole stream, an
 * alias costing what it copies. Ordinary documents need 5 to 20 bytes per
 * byte, dense lists such as "[[],[],...]" 48; an alias bomb stops early, and
 * 1 MB of input never builds more than about 49 MB.
 */
#define YAML_TREE_PER_BYTE 48
#define YAML_TREE_BASE ((size_t)512 << 10)
#define YAML_COST_SLOT 16	/* an array slot (with growth slack) */
#define YAML_COST_SCALAR 64	/* a string or key, plus its length */
#define YAML_COST_NUMBER 32
#define YAML_COST_CONTAINER 128	/* an array or object with its first table */

int
rm_doc_is_yaml_name(const char *path)
{
	size_t n = strlen(path);

	return (n > 5 && strcmp(path + n - 5, ".yaml") == 0) ||
	    (n > 4 && strcmp(path + n - 4, ".yml") == 0);
}

static const char *
skip_ws(const char *p, const char *end)
{
	while (p < end && isspace((unsigned char)*p))
		p++;
	return p;
}

static int
guess_yaml(const char *buf, size_t len)
{
	const char *p = skip_ws(buf, buf + len);

	return !(p < buf + len && (*p == '{' || *p == '['));
}

/* ---- JSON ---------------------------------------------------------- */

static int
line_of(const char *buf, size_t off)
{
	int line = 1;
	size_t i;

	for (i = 0; i < off; i++)
		if (buf[i] == '\n')
			line++;
	return line;
}

static json_t *
json_parse_one(const char *buf, size_t len, const char *name, struct rm_err *err)
{
	json_error_t je;
	json_t *v;

	v = rm_json_loadb(buf, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &je);
	if (v == NULL)
		rm_err_setpos(err, RM_EXIT_INVALID, name, je.line, je.column, NULL,
		    "malformed JSON: %s", je.text);
	return v;
}

/* A sequence of JSON values separated by white space (JSON lines). */
static json_t *
json_parse_seq(const char *buf, size_t len, const char *name, struct rm_err *err)
{
	json_t *arr = json_array(), *v;
	json_error_t je;
	size_t off = 0;

	for (;;) {
		const char *p = skip_ws(buf + off, buf + len);
		off = (size_t)(p - buf);
		if (off >= len)
			break;
		v = rm_json_loadb(buf + off, len - off,
		    JSON_DISABLE_EOF_CHECK | JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
		if (v == NULL) {
			int base = line_of(buf, off);
			rm_err_setpos(err, RM_EXIT_INVALID, name, base + je.line - 1,
			    je.line == 1 ? je.column : je.column, NULL, "malformed JSON: %s", je.text);
			json_decref(arr);
			return NULL;
		}
		json_array_append_new(arr, v);
		if (je.position <= 0)
			break;
		off += (size_t)je.position;
	}
	return arr;
}

/* ---- YAML ---------------------------------------------------------- */

struct yanchor {
	char *name;
	json_t *val;
	size_t weight;
};

struct yframe {
	json_t *val;		/* object or array being filled */
	char *key;		/* pending key in a mapping, NULL when expecting one */
	size_t weight;
	const char *anchor;
};

struct ystate {
	const char *name;
	struct rm_err *err;
	struct yanchor *anchors;
	size_t nanchors, capanchors;
	size_t len;		/* input bytes */
	size_t used, budget;	/* tree bytes made over the whole stream, and the bound */
	int many;		/* more than one document allowed */
	int reported;		/* err is filled */
	struct yframe stack[YAML_MAX_DEPTH];
	int depth;
	json_t *root, *docs;
};

static int yaml_fail(struct ystate *st, const yaml_mark_t *m, const char *fmt,
    const char *arg) __attribute__((format(printf, 3, 0)));

static int
yaml_fail(struct ystate *st, const yaml_mark_t *m, const char *fmt, const char *arg)
{
	char msg[512];

	snprintf(msg, sizeof(msg), fmt, arg ? arg : "");
	rm_err_setpos(st->err, RM_EXIT_INVALID, st->name, (int)m->line + 1, (int)m->column + 1,
	    NULL, "malformed YAML: %s", msg);
	st->reported = 1;
	return -1;
}

static int
match_re_int(const char *s)
{
	const char *p = s;

	if (*p == '-' || *p == '+')
		p++;
	if (!isdigit((unsigned char)*p))
		return 0;
	while (isdigit((unsigned char)*p))
		p++;
	return *p == '\0';
}

static int
match_re_float(const char *s)
{
	const char *p = s;
	int digits = 0;

	if (*p == '-' || *p == '+')
		p++;
	while (isdigit((unsigned char)*p)) {
		p++;
		digits++;
	}
	if (*p == '.') {
		p++;
		while (isdigit((unsigned char)*p)) {
			p++;
			digits++;
		}
	}
	if (digits == 0)
		return 0;
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '-' || *p == '+')
			p++;
		if (!isdigit((unsigned char)*p))
			return 0;
		while (isdigit((unsigned char)*p))
			p++;
	}
	return *p == '\0';
}

/* YAML 1.2 core schema for plain scalars; quoted scalars stay strings. */
static json_t *
yaml_scalar(const char *s, size_t len, int plain)
{
	if (!plain || strlen(s) != len)
		return json_stringn(s, len);
	if (len == 0 || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 ||
	    strcmp(s, "Null") == 0 || strcmp(s, "NULL") == 0)
		return json_null();
	if (strcmp(s, "true") == 0 || strcmp(s, "True") == 0 || strcmp(s, "TRUE") == 0)
		return json_true();
	if (strcmp(s, "false") == 0 || strcmp(s, "False") == 0 || strcmp(s, "FALSE") == 0)
		return json_false();
	if (match_re_int(s)) {
		errno = 0;
		long long v = strtoll(s, NULL, 10);
		if (errno == 0)
			return json_integer(v);
		return json_real(strtod(s, NULL));
	}
	if (match_re_float(s)) {
		double d = strtod(s, NULL);
		if (isfinite(d))
			return json_real(d);
	}
	return json_stringn(s, len);
}

static int
anchor_add(struct ystate *st, const char *name, json_t *val, size_t weight)
{
	if (st->nanchors == st->capanchors) {
		size_t ncap = st->capanchors ? st->capanchors * 2 : 8;
		struct yanchor *na = realloc(st->anchors, ncap * sizeof(*na));
		if (na == NULL)
			return -1;
		st->anchors = na;
		st->capanchors = ncap;
	}
	if ((st->anchors[st->nanchors].name = strdup(name)) == NULL)
		return -1;
	st->anchors[st->nanchors].val = json_incref(val);
	st->anchors[st->nanchors].weight = weight;
	st->nanchors++;
	return 0;
}

static void
anchors_free(struct ystate *st)
{
	size_t i;

	for (i = 0; i < st->nanchors; i++) {
		free(st->anchors[i].name);
		json_decref(st->anchors[i].val);
	}
	free(st->anchors);
	st->anchors = NULL;
	st->nanchors = st->capanchors = 0;
}

/* Puts a finished value into its parent frame (or the root). */
static int
yaml_attach(struct ystate *st, json_t *val, size_t weight, const yaml_mark_t *m)
{
	struct yframe *f;

	if (st->depth == 0) {
		st->root = val;
		return 0;
	}
	f = &st->stack[st->depth - 1];
	f->weight += weight + (json_is_array(f->val) ? YAML_COST_SLOT : 0);
	if (json_is_array(f->val))
		return json_array_append_new(f->val, val) == 0 ? 0 : -1;
	if (f->key == NULL) {
		if (!json_is_string(val)) {
			json_decref(val);
			return yaml_fail(st, m, "mapping keys must be %s", "scalars");
		}
		f->key = strdup(json_string_value(val));
		json_decref(val);
		return f->key != NULL ? 0 : -1;
	}
	if (json_object_get(f->val, f->key) != NULL) {
		int r = yaml_fail(st, m, "duplicate key \"%s\"", f->key);
		json_decref(val);
		return r;
	}
	json_object_set_new(f->val, f->key, val);
	free(f->key);
	f->key = NULL;
	return 0;
}

static int
yaml_key_expected(const struct ystate *st)
{
	return st->depth > 0 && json_is_object(st->stack[st->depth - 1].val) &&
	    st->stack[st->depth - 1].key == NULL;
}

/* What one more node costs its parent: a slot in an array (an object's pair is the key's). */
static size_t
yaml_slot(const struct ystate *st)
{
	return st->depth > 0 && json_is_array(st->stack[st->depth - 1].val) ? YAML_COST_SLOT : 0;
}

/* What a scalar costs itself; null, true and false are shared. */
static size_t
yaml_scalar_cost(const json_t *v)
{
	if (json_is_string(v))
		return YAML_COST_SCALAR + json_string_length(v);
	return json_is_number(v) ? YAML_COST_NUMBER : 0;
}

/*
 * Every node the stream produces is charged before it is made (a scalar
 * just after), aliases by the size of what they copy, over the whole
 * stream: the tree stays within a bound proportional to the input,
 * whatever the aliases repeat.
 */
static int
yaml_charge(struct ystate *st, size_t n, const yaml_mark_t *m)
{
	if (n <= st->budget - st->used) {
		st->used += n;
		return 0;
	}
	rm_err_setpos(st->err, RM_EXIT_INVALID, st->name, (int)m->line + 1, (int)m->column + 1,
	    NULL, "YAML expands to more than %zu KiB in memory, the limit for %zu bytes of "
	    "input (aliases repeating aliases?)", st->budget >> 10, st->len);
	st->reported = 1;
	return -1;
}

static int
yaml_on_document(struct ystate *st, const yaml_event_t *ev)
{
	if (ev->type == YAML_DOCUMENT_END_EVENT) {
		json_array_append_new(st->docs, st->root ? st->root : json_null());
		st->root = NULL;
		anchors_free(st);
		return 0;
	}
	/* one document expected: stop before reading a second one at all */
	if (!st->many && json_array_size(st->docs) > 0) {
		rm_err_setpos(st->err, RM_EXIT_INVALID, st->name, (int)ev->start_mark.line + 1,
		    (int)ev->start_mark.column + 1, NULL,
		    "expected one YAML document, found a second one");
		st->reported = 1;
		return -1;
	}
	st->root = NULL;
	return 0;
}

static int
yaml_on_scalar(struct ystate *st, const yaml_event_t *ev)
{
	json_t *v;
	size_t cost;

	v = yaml_scalar((const char *)ev->data.scalar.value, ev->data.scalar.length,
	    ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && ev->data.scalar.tag == NULL);
	if (v == NULL)
		return -1;
	/* no bigger than its text: charged once made */
	cost = yaml_scalar_cost(v);
	if (yaml_charge(st, cost + yaml_slot(st), &ev->start_mark) != 0 ||
	    (ev->data.scalar.anchor &&
	    anchor_add(st, (const char *)ev->data.scalar.anchor, v, cost) != 0)) {
		json_decref(v);
		return -1;
	}
	return yaml_attach(st, v, cost, &ev->start_mark);
}

static int
yaml_on_alias(struct ystate *st, const yaml_event_t *ev)
{
	const char *name = (const char *)ev->data.alias.anchor;
	struct yanchor *a = NULL;
	json_t *v;
	size_t k;

	for (k = st->nanchors; k > 0 && a == NULL; k--)
		if (strcmp(st->anchors[k - 1].name, name) == 0)
			a = &st->anchors[k - 1];
	if (a == NULL)
		return yaml_fail(st, &ev->start_mark, "unknown anchor \"%s\"", name);
	/* checked before anything is copied */
	if (yaml_key_expected(st) && !json_is_string(a->val))
		return yaml_fail(st, &ev->start_mark, "mapping keys must be %s", "scalars");
	if (yaml_charge(st, a->weight + yaml_slot(st), &ev->start_mark) != 0)
		return -1;
	if ((v = json_deep_copy(a->val)) == NULL)
		return -1;
	return yaml_attach(st, v, a->weight, &ev->start_mark);
}

static int
yaml_on_start(struct ystate *st, const yaml_event_t *ev)
{
	const yaml_char_t *anchor = ev->type == YAML_SEQUENCE_START_EVENT ?
	    ev->data.sequence_start.anchor : ev->data.mapping_start.anchor;
	struct yframe *f;

	if (st->depth >= YAML_MAX_DEPTH)
		return yaml_fail(st, &ev->start_mark, "nesting deeper than %s levels", "64");
	if (yaml_key_expected(st))
		return yaml_fail(st, &ev->start_mark, "mapping keys must be %s", "scalars");
	if (yaml_charge(st, YAML_COST_CONTAINER + yaml_slot(st), &ev->start_mark) != 0)
		return -1;
	f = &st->stack[st->depth];
	f->val = ev->type == YAML_SEQUENCE_START_EVENT ? json_array() : json_object();
	f->key = NULL;
	f->weight = YAML_COST_CONTAINER;
	f->anchor = anchor ? strdup((const char *)anchor) : NULL;
	if (f->val == NULL || (anchor && f->anchor == NULL)) {
		json_decref(f->val);
		free((char *)f->anchor);
		return -1;
	}
	st->depth++;
	return 0;
}

static int
yaml_on_end(struct ystate *st, const yaml_event_t *ev)
{
	struct yframe f = st->stack[--st->depth];
	int r = 0;

	if (f.anchor)
		r = anchor_add(st, f.anchor, f.val, f.weight);
	free((char *)f.anchor);
	free(f.key);
	if (r != 0) {
		json_decref(f.val);
		return -1;
	}
	return yaml_attach(st, f.val, f.weight, &ev->start_mark);
}

static int
yaml_event(struct ystate *st, const yaml_event_t *ev)
{
	switch (ev->type) {
	case YAML_DOCUMENT_START_EVENT:
	case YAML_DOCUMENT_END_EVENT:
		return yaml_on_document(st, ev);
	case YAML_SCALAR_EVENT:
		return yaml_on_scalar(st, ev);
	case YAML_ALIAS_EVENT:
		return yaml_on_alias(st, ev);
	case YAML_SEQUENCE_START_EVENT:
	case YAML_MAPPING_START_EVENT:
		return yaml_on_start(st, ev);
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		return yaml_on_end(st, ev);
	default:
		return 0;
	}
}

/*
 * Reads a YAML stream into an array of its documents. With many unset, a
 * second document is an error as soon as it starts.
 */
static json_t *
yaml_parse_stream(const char *buf, size_t len, const char *name, int many, struct rm_err *err)
{
	yaml_parser_t parser;
	yaml_event_t ev;
	struct ystate st;
	int done = 0, failed = 0, i;

	memset(&st, 0, sizeof(st));
	st.name = name;
	st.err = err;
	st.len = len;
	st.budget = len > (SIZE_MAX - YAML_TREE_BASE) / YAML_TREE_PER_BYTE ? SIZE_MAX :
	    len * YAML_TREE_PER_BYTE + YAML_TREE_BASE;
	st.many = many;
	if (!yaml_parser_initialize(&parser)) {
		rm_err_set(err, RM_EXIT_INTERNAL, name, NULL, "cannot initialise YAML parser");
		return NULL;
	}
	st.docs = json_array();
	yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
	while (!done && !failed) {
		if (!yaml_parser_parse(&parser, &ev)) {
			rm_err_setpos(err, RM_EXIT_INVALID, name, (int)parser.problem_mark.line + 1,
			    (int)parser.problem_mark.column + 1, NULL, "malformed YAML: %s",
			    parser.problem ? parser.problem : "syntax error");
			failed = 1;
			break;
		}
		done = ev.type == YAML_STREAM_END_EVENT;
		if (yaml_event(&st, &ev) != 0) {
			if (!st.reported)
				rm_err_set(err, RM_EXIT_INTERNAL, name, NULL, "out of memory");
			failed = 1;
		}
		yaml_event_delete(&ev);
	}
	for (i = 0; i < st.depth; i++) {
		json_decref(st.stack[i].val);
		free(st.stack[i].key);
		free((char *)st.stack[i].anchor);
	}
	json_decref(st.root);
	anchors_free(&st);
	yaml_parser_delete(&parser);
	if (failed) {
		json_decref(st.docs);
		return NULL;
	}
	return st.docs;
}

/* ---- public -------------------------------------------------------- */

json_t *
rm_doc_parse(const char *buf, size_t len, const char *name, int yaml, struct rm_err *err)
{
	json_t *docs, *v;
	const char *p = skip_ws(buf, buf + len);

	if (p == buf + len) {
		rm_err_set(err, RM_EXIT_INVALID, name, NULL, "empty document");
		return NULL;
	}
	if (yaml < 0)
		yaml = guess_yaml(buf, len);
	if (!yaml)
		return json_parse_one(buf, len, name, err);
	docs = yaml_parse_stream(buf, len, name, 0, err);
	if (docs == NULL)
		return NULL;
	if (json_array_size(docs) != 1) {
		rm_err_set(err, RM_EXIT_INVALID, name, NULL,
		    "expected one YAML document, found %zu", json_array_size(docs));
		json_decref(docs);
		return NULL;
	}
	v = json_incref(json_array_get(docs, 0));
	json_decref(docs);
	if (json_is_null(v)) {
		json_decref(v);
		rm_err_set(err, RM_EXIT_INVALID, name, NULL, "empty document");
		return NULL;
	}
	return v;
}

json_t *
rm_doc_parse_many(const char *buf, size_t len, const char *name, int yaml, struct rm_err *err)
{
	json_t *v, *docs;
	const char *p = skip_ws(buf, buf + len);

	if (p == buf + len) {
		rm_err_set(err, RM_EXIT_INVALID, name, NULL, "empty document");
		return NULL;
	}
	if (yaml < 0)
		yaml = guess_yaml(buf, len);
	if (yaml) {
		size_t i;
		docs = yaml_parse_stream(buf, len, name, 1, err);
		if (docs == NULL)
			return NULL;
		/* a YAML file whose one document is a list is a list of documents */
		if (json_array_size(docs) == 1 && json_is_array(json_array_get(docs, 0))) {
			v = json_incref(json_array_get(docs, 0));
			json_decref(docs);
			return v;
		}
		for (i = 0; i < json_array_size(docs); i++)
			if (json_is_null(json_array_get(docs, i))) {
				json_array_remove(docs, i);
				i--;
			}
		return docs;
	}
	if (*p == '[')
		return json_parse_one(buf, len, name, err);
	docs = json_parse_seq(buf, len, name, err);
	return docs;
}

json_t *
rm_doc_load(const char *path, struct rm_err *err)
{
	return rm_doc_load_max(path, RM_DOC_MAX_BYTES, err);
}

json_t *
rm_doc_load_max(const char *path, size_t max, struct rm_err *err)
{
	char *buf;
	size_t len;
	json_t *v;
	const char *name = strcmp(path, "-") == 0 ? "<stdin>" : path;

	if (rm_read_file(path, max, &buf, &len, err) != 0)
		return NULL;
	v = rm_doc_parse(buf, len, name, rm_doc_is_yaml_name(path) ? 1 : -1, err);
	free(buf);
	return v;
}

json_t *
rm_doc_load_many(const char *path, struct rm_err *err)
{
	char *buf;
	size_t len;
	json_t *v;
	const char *name = strcmp(path, "-") == 0 ? "<stdin>" : path;

	if (rm_read_file(path, RM_DOC_MAX_BYTES, &buf, &len, err) != 0)
		return NULL;
	v = rm_doc_parse_many(buf, len, name, rm_doc_is_yaml_name(path) ? 1 : -1, err);
	free(buf);
	return v;
}

int
rm_doc_check_schema(const json_t *doc, const char *kind, int major, int required,
    const char *file, struct rm_err *err)
{
	json_t *s = json_object_get(doc, "schema");
	const char *str, *slash;
	char want[128];
	size_t klen;
	long got;
	char *end;

	if (s == NULL) {
		if (!required)
			return 0;
		return rm_err_set(err, RM_EXIT_INVALID, file, "schema",
		    "missing, expected \"remotemedia.%s/%d\"", kind, major);
	}
	if (!json_is_string(s))
		return rm_err_set(err, RM_EXIT_INVALID, file, "schema",
		    "expected a string such as \"remotemedia.%s/%d\", got %s", kind, major,
		    rm_json_type(s));
	str = json_string_value(s);
	snprintf(want, sizeof(want), "remotemedia.%s", kind);
	klen = strlen(want);
	slash = strchr(str, '/');
	if (strncmp(str, want, klen) != 0 || slash != str + klen)
		return rm_err_set(err, RM_EXIT_INVALID, file, "schema",
		    "expected \"remotemedia.%s/%d\", got \"%s\"", kind, major, str);
	errno = 0;
	got = strtol(slash + 1, &end, 10);
	if (end == slash + 1 || errno != 0 || (*end != '\0' && *end != '.'))
		return rm_err_set(err, RM_EXIT_INVALID, file, "schema",
		    "bad version in \"%s\", expected \"remotemedia.%s/%d\"", str, kind, major);
	if (got != major)
		return rm_err_set(err, RM_EXIT_INVALID, file, "schema",
		    "version mismatch: document is %s/%ld, this runtime reads %s/%d.x",
		    want, got, want, major);
	return 0;
}

const char *
rm_json_type(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: return "object";
	case JSON_ARRAY: return "array";
	case JSON_STRING: return "string";
	case JSON_INTEGER:
	case JSON_REAL: return "number";
	case JSON_TRUE:
	case JSON_FALSE: return "boolean";
	default: return "null";
	}
}

const char *
rm_json_brief(const json_t *v, char *buf, size_t size)
{
	char *s;

	if (v == NULL) {
		snprintf(buf, size, "nothing");
		return buf;
	}
	s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_SORT_KEYS | JSON_REAL_PRECISION(10));
	if (s == NULL) {
		snprintf(buf, size, "?");
		return buf;
	}
	if (strlen(s) >= size && size > 4)
		snprintf(buf, size, "%.*s...", (int)size - 4, s);
	else
		snprintf(buf, size, "%s", s);
	free(s);
	return buf;
}

json_t *
rm_json_path(const json_t *root, const char *path)
{
	const char *p = path, *dot;
	json_t *cur = (json_t *)root;
	char key[256];

	while (cur != NULL && *p != '\0') {
		if (!json_is_object(cur))
			return NULL;
		dot = strchr(p, '.');
		size_t n = dot ? (size_t)(dot - p) : strlen(p);
		if (n >= sizeof(key))
			return NULL;
		memcpy(key, p, n);
		key[n] = '\0';
		cur = json_object_get(cur, key);
		p = dot ? dot + 1 : p + n;
	}
	return cur;
}

char *
rm_json_dump_file(const json_t *doc)
{
	char *s, *out;
	size_t n;

	s = rm_jsonw_dumps(doc, JSON_INDENT(2) | JSON_SORT_KEYS | JSON_ENCODE_ANY |
	    JSON_REAL_PRECISION(15), &n);
	if (s == NULL)
		return NULL;
	out = realloc(s, n + 2);
	if (out == NULL) {
		free(s);
		return NULL;
	}
	out[n] = '\n';
	out[n + 1] = '\0';
	return out;
}

int
rm_json_write_file(const char *path, const json_t *doc, struct rm_err *err)
{
	char *s = rm_json_dump_file(doc);
	int r;

	if (s == NULL)
		return rm_err_set(err, RM_EXIT_INTERNAL, path, NULL, "cannot encode JSON");
	r = rm_write_atomic(path, s, strlen(s), 0600, err);
	free(s);
	return r;
}

/* Output gathered into large writes: stdio locks on every token otherwise. */
struct wbuf {
	FILE *fp;
	size_t n;
	char buf[1 << 16];
};

static int
wbuf_put(const char *s, size_t len, void *arg)
{
	struct wbuf *w = arg;

	if (w->n + len > sizeof(w->buf)) {
		if (fwrite(w->buf, 1, w->n, w->fp) != w->n)
			return -1;
		w->n = 0;
		if (len > sizeof(w->buf))
			return fwrite(s, 1, len, w->fp) == len ? 0 : -1;
	}
	memcpy(w->buf + w->n, s, len);
	w->n += len;
	return 0;
}

int
rm_json_print(FILE *fp, const json_t *doc, int pretty)
{
	size_t flags = JSON_SORT_KEYS | JSON_ENCODE_ANY | JSON_REAL_PRECISION(15), n;
	struct wbuf *w;
	char *fast;
	int rc;

	flags |= pretty ? JSON_INDENT(2) : JSON_COMPACT;
	if ((fast = rm_jsonw_dumps_fast(doc, flags, &n)) != NULL) {
		rc = fwrite(fast, 1, n, fp) == n ? 0 : -1;
		free(fast);
		fputc('\n', fp);
		return rc;
	}
	if ((w = malloc(sizeof(*w))) == NULL)
		return -1;
	w->fp = fp;
	w->n = 0;
	rc = json_dump_callback(doc, wbuf_put, w, flags);
	if (rc == 0 && w->n > 0 && fwrite(w->buf, 1, w->n, fp) != w->n)
		rc = -1;
	free(w);
	fputc('\n', fp);
	return rc;
}
