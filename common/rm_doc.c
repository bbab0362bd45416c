#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "rm_doc.h"
#include "rm_fs.h"

#define YAML_MAX_DEPTH 64
#define YAML_MAX_NODES 1000000

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

	v = json_loadb(buf, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &je);
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
		v = json_loadb(buf + off, len - off,
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
	size_t nodes;
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
	st->anchors[st->nanchors].name = strdup(name);
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
yaml_attach(struct ystate *st, struct yframe *stack, int depth, json_t **root,
    json_t *val, size_t weight, const yaml_mark_t *m)
{
	struct yframe *f;

	st->nodes += weight;
	if (st->nodes > YAML_MAX_NODES) {
		json_decref(val);
		return yaml_fail(st, m, "document expands to more than %s nodes", "1000000");
	}
	if (depth == 0) {
		*root = val;
		return 0;
	}
	f = &stack[depth - 1];
	f->weight += weight;
	if (json_is_array(f->val))
		return json_array_append_new(f->val, val) == 0 ? 0 : -1;
	if (f->key == NULL) {
		if (!json_is_string(val)) {
			json_decref(val);
			return yaml_fail(st, m, "mapping keys must be %s", "scalars");
		}
		f->key = strdup(json_string_value(val));
		json_decref(val);
		return 0;
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

static json_t *
yaml_parse_stream(const char *buf, size_t len, const char *name, int many, struct rm_err *err)
{
	yaml_parser_t parser;
	yaml_event_t ev;
	struct ystate st = { name, err, NULL, 0, 0, 0 };
	struct yframe stack[YAML_MAX_DEPTH];
	int depth = 0, done = 0, failed = 0, i;
	json_t *docs = json_array(), *root = NULL;

	memset(stack, 0, sizeof(stack));
	if (!yaml_parser_initialize(&parser)) {
		rm_err_set(err, RM_EXIT_INTERNAL, name, NULL, "cannot initialise YAML parser");
		json_decref(docs);
		return NULL;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
	while (!done && !failed) {
		if (!yaml_parser_parse(&parser, &ev)) {
			rm_err_setpos(err, RM_EXIT_INVALID, name, (int)parser.problem_mark.line + 1,
			    (int)parser.problem_mark.column + 1, NULL, "malformed YAML: %s",
			    parser.problem ? parser.problem : "syntax error");
			failed = 1;
			break;
		}
		switch (ev.type) {
		case YAML_STREAM_END_EVENT:
			done = 1;
			break;
		case YAML_DOCUMENT_START_EVENT:
			root = NULL;
			st.nodes = 0;
			break;
		case YAML_DOCUMENT_END_EVENT:
			json_array_append_new(docs, root ? root : json_null());
			root = NULL;
			anchors_free(&st);
			break;
		case YAML_SCALAR_EVENT: {
			json_t *v = yaml_scalar((const char *)ev.data.scalar.value,
			    ev.data.scalar.length, ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
			    ev.data.scalar.tag == NULL);
			if (ev.data.scalar.anchor)
				anchor_add(&st, (const char *)ev.data.scalar.anchor, v, 1);
			if (yaml_attach(&st, stack, depth, &root, v, 1, &ev.start_mark) != 0)
				failed = 1;
			break;
		}
		case YAML_ALIAS_EVENT: {
			size_t k;
			struct yanchor *a = NULL;
			for (k = st.nanchors; k > 0; k--)
				if (strcmp(st.anchors[k - 1].name, (const char *)ev.data.alias.anchor) == 0) {
					a = &st.anchors[k - 1];
					break;
				}
			if (a == NULL) {
				yaml_fail(&st, &ev.start_mark, "unknown anchor \"%s\"",
				    (const char *)ev.data.alias.anchor);
				failed = 1;
				break;
			}
			if (yaml_attach(&st, stack, depth, &root, json_deep_copy(a->val), a->weight,
			    &ev.start_mark) != 0)
				failed = 1;
			break;
		}
		case YAML_SEQUENCE_START_EVENT:
		case YAML_MAPPING_START_EVENT:
			if (depth >= YAML_MAX_DEPTH) {
				yaml_fail(&st, &ev.start_mark, "nesting deeper than %s levels", "64");
				failed = 1;
				break;
			}
			if (depth > 0 && json_is_object(stack[depth - 1].val) &&
			    stack[depth - 1].key == NULL) {
				yaml_fail(&st, &ev.start_mark, "mapping keys must be %s", "scalars");
				failed = 1;
				break;
			}
			stack[depth].val = ev.type == YAML_SEQUENCE_START_EVENT ? json_array() :
			    json_object();
			stack[depth].key = NULL;
			stack[depth].weight = 1;
			stack[depth].anchor = NULL;
			if (ev.type == YAML_SEQUENCE_START_EVENT && ev.data.sequence_start.anchor)
				stack[depth].anchor = strdup((const char *)ev.data.sequence_start.anchor);
			if (ev.type == YAML_MAPPING_START_EVENT && ev.data.mapping_start.anchor)
				stack[depth].anchor = strdup((const char *)ev.data.mapping_start.anchor);
			depth++;
			break;
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT: {
			struct yframe f = stack[--depth];
			if (f.anchor) {
				anchor_add(&st, f.anchor, f.val, f.weight);
				free((char *)f.anchor);
			}
			free(f.key);
			st.nodes -= 0;
			if (yaml_attach(&st, stack, depth, &root, f.val, f.weight, &ev.start_mark) != 0)
				failed = 1;
			break;
		}
		default:
			break;
		}
		yaml_event_delete(&ev);
	}
	for (i = 0; i < depth; i++) {
		json_decref(stack[i].val);
		free(stack[i].key);
		free((char *)stack[i].anchor);
	}
	json_decref(root);
	anchors_free(&st);
	yaml_parser_delete(&parser);
	if (failed) {
		json_decref(docs);
		return NULL;
	}
	(void)many;
	return docs;
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
	char *buf;
	size_t len;
	json_t *v;
	const char *name = strcmp(path, "-") == 0 ? "<stdin>" : path;

	if (rm_read_file(path, RM_DOC_MAX_BYTES, &buf, &len, err) != 0)
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

	s = json_dumps(doc, JSON_INDENT(2) | JSON_SORT_KEYS | JSON_ENCODE_ANY |
	    JSON_REAL_PRECISION(15));
	if (s == NULL)
		return NULL;
	n = strlen(s);
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

int
rm_json_print(FILE *fp, const json_t *doc, int pretty)
{
	size_t flags = JSON_SORT_KEYS | JSON_ENCODE_ANY | JSON_REAL_PRECISION(15);

	flags |= pretty ? JSON_INDENT(2) : JSON_COMPACT;
	if (json_dumpf(doc, fp, flags) != 0)
		return -1;
	fputc('\n', fp);
	return 0;
}
