#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rm_doc.h"
#include "rm_home.h"
#include "rm_known.h"
#include "rm_pipeline.h"

/* Problems found while validating, reported together in one message. */
struct problems {
	char missing[768];	/* "nodes[2].id, nodes[3].type" */
	char other[1024];
	char first_field[256];
	int nmissing, nother;
	const char *file;
};

static void
add_text(char *buf, size_t size, const char *sep, const char *text)
{
	size_t n = strlen(buf);

	if (n + 8 >= size)
		return;
	snprintf(buf + n, size - n, "%s%s", n ? sep : "", text);
	if (strlen(buf) + 1 >= size)
		memcpy(buf + size - 4, "...", 4);
}

static void
missing(struct problems *p, const char *field)
{
	if (p->first_field[0] == '\0')
		snprintf(p->first_field, sizeof(p->first_field), "%s", field);
	add_text(p->missing, sizeof(p->missing), ", ", field);
	p->nmissing++;
}

static void
problem(struct problems *p, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void
problem(struct problems *p, const char *field, const char *fmt, ...)
{
	va_list ap;
	char msg[600], line[900];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (p->first_field[0] == '\0' && field != NULL)
		snprintf(p->first_field, sizeof(p->first_field), "%s", field);
	snprintf(line, sizeof(line), "%s%s%s", field ? field : "", field ? ": " : "", msg);
	add_text(p->other, sizeof(p->other), "; ", line);
	p->nother++;
}

static int
problems_report(const struct problems *p, const char *file, struct rm_err *err)
{
	char msg[sizeof(p->missing) + sizeof(p->other) + 64];

	if (p->nmissing == 0 && p->nother == 0)
		return 0;
	msg[0] = '\0';
	if (p->nmissing > 0)
		snprintf(msg, sizeof(msg), "missing required field%s: %s", p->nmissing > 1 ? "s" : "",
		    p->missing);
	if (p->nother > 0) {
		size_t n = strlen(msg);
		snprintf(msg + n, sizeof(msg) - n, "%s%s", n ? "; " : "", p->other);
	}
	rm_err_set(err, RM_EXIT_INVALID, file, NULL, "%s", msg);
	return -RM_EXIT_INVALID;
}

/* ---- node types ------------------------------------------------------ */

json_t *
rm_pipeline_node_types(struct rm_err *err)
{
	char *text = NULL, shown[512];
	size_t len, i, j;
	json_t *doc, *types, *out;

	if (rm_data_read("node-types.yaml", &text, &len, shown, sizeof(shown), err) != 0)
		return NULL;
	doc = rm_doc_parse(text, len, shown, 1, err);
	free(text);
	if (doc == NULL)
		return NULL;
	types = json_object_get(doc, "types");
	if (!json_is_array(types)) {
		rm_err_set(err, RM_EXIT_INVALID, shown, "types", "expected a list of node types");
		json_decref(doc);
		return NULL;
	}
	out = json_array();
	for (i = 0; i < json_array_size(types); i++) {
		json_t *t = json_array_get(types, i), *al;
		const char *name = json_string_value(json_object_get(t, "name"));
		if (name == NULL) {
			rm_err_set(err, RM_EXIT_INVALID, shown, "types", "entry %zu has no name", i);
			json_decref(out);
			json_decref(doc);
			return NULL;
		}
		json_array_append_new(out, json_string(name));
		al = json_object_get(t, "aliases");
		for (j = 0; j < json_array_size(al); j++)
			if (json_is_string(json_array_get(al, j)))
				json_array_append(out, json_array_get(al, j));
	}
	json_decref(doc);
	return out;
}

static int
type_known(const json_t *types, const char *type)
{
	size_t i;

	for (i = 0; i < json_array_size(types); i++)
		if (strcmp(json_string_value(json_array_get(types, i)), type) == 0)
			return 1;
	return 0;
}

/* ---- nodes ------------------------------------------------------------ */

/* An unknown field: a warning in development, a problem in production. */
static void
unknown(struct problems *p, const char *field, const char *key, const char *const *known)
{
	struct rm_err e;

	rm_err_clear(&e);
	if (rm_unknown_field(p->file, field, rm_nearest(key, known), &e) != 0)
		problem(p, field, "%s", e.msg);
}

static void
gpu_default(json_t *caps)
{
	json_t *gpu = json_object_get(caps, "gpu");

	if (json_is_object(gpu) && json_object_get(gpu, "required") == NULL)
		json_object_set_new(gpu, "required", json_true());
}

/* f holds "nodes[i]." (plen bytes): names one of its fields, as snprintf would. */
static void
node_field(char *f, size_t size, size_t plen, const char *name)
{
	size_t n = strlen(name);

	if (n >= size - plen)
		n = size - plen - 1;	/* cut as snprintf cuts */
	memcpy(f + plen, name, n);
	f[plen + n] = '\0';
}

static json_t *
norm_node(const json_t *in, size_t i, const json_t *types, struct problems *p)
{
	char f[96];
	json_t *out = json_object(), *v;
	const char *key;
	json_t *val;
	size_t plen;

	if (!json_is_object(in)) {
		snprintf(f, sizeof(f), "nodes[%zu]", i);
		problem(p, f, "expected an object, got %s", rm_json_type(in));
		json_decref(out);
		return NULL;
	}
	/* "nodes[i]." once: a node's fields are named from it (one printf a node) */
	plen = (size_t)snprintf(f, sizeof(f), "nodes[%zu].", i);
	v = json_object_get(in, "id");
	node_field(f, sizeof(f), plen, "id");
	if (v == NULL || json_is_null(v))
		missing(p, f);
	else if (!json_is_string(v) || json_string_length(v) == 0)
		problem(p, f, "expected a non-empty string, got %s", rm_json_type(v));
	else
		json_object_set(out, "id", v);

	v = json_object_get(in, "type");
	if (v == NULL)
		v = json_object_get(in, "node_type");
	node_field(f, sizeof(f), plen, "type");
	if (v == NULL || json_is_null(v))
		missing(p, f);
	else if (!json_is_string(v))
		problem(p, f, "expected a string, got %s", rm_json_type(v));
	else {
		json_object_set(out, "type", v);
		if (types != NULL && !type_known(types, json_string_value(v))) {
			char list[600] = "";
			size_t k;
			for (k = 0; k < json_array_size(types); k++)
				add_text(list, sizeof(list), ", ",
				    json_string_value(json_array_get(types, k)));
			problem(p, f, "unsupported node type \"%s\"; supported types: %s",
			    json_string_value(v), list);
		}
	}

	v = json_object_get(in, "capabilities");
	if (v == NULL)
		v = json_object_get(in, "requirements");
	node_field(f, sizeof(f), plen, "capabilities");
	if (v == NULL || json_is_null(v))
		json_object_set_new(out, "capabilities", json_object());
	else if (!json_is_object(v))
		problem(p, f, "expected an object, got %s", rm_json_type(v));
	else {
		json_t *c = json_deep_copy(v);
		gpu_default(c);
		json_object_set_new(out, "capabilities", c);
	}

	v = json_object_get(in, "params");
	node_field(f, sizeof(f), plen, "params");
	if (v == NULL || json_is_null(v))
		json_object_set_new(out, "params", json_object());
	else if (!json_is_object(v))
		problem(p, f, "expected an object, got %s", rm_json_type(v));
	else
		json_object_set_new(out, "params", json_deep_copy(v));

	v = json_object_get(in, "exec");
	node_field(f, sizeof(f), plen, "exec");
	if (v != NULL && !json_is_null(v)) {
		int good = json_is_string(v) || (json_is_array(v) && json_array_size(v) > 0);
		size_t k;
		for (k = 0; good && json_is_array(v) && k < json_array_size(v); k++)
			good = json_is_string(json_array_get(v, k));
		if (!good)
			problem(p, f, "expected a string or a non-empty list of strings, got %s",
			    rm_json_type(v));
		else
			json_object_set(out, "exec", v);
	}

	v = json_object_get(in, "fallback");
	node_field(f, sizeof(f), plen, "fallback");
	if (v == NULL || json_is_null(v))
		json_object_set_new(out, "fallback", json_array());
	else if (json_is_array(v))
		json_object_set_new(out, "fallback", json_deep_copy(v));
	else if (json_is_object(v) || json_is_string(v)) {
		json_t *a = json_array();
		json_array_append_new(a, json_deep_copy(v));
		json_object_set_new(out, "fallback", a);
	} else
		problem(p, f, "expected a list, got %s", rm_json_type(v));

	v = json_object_get(in, "estimated_seconds");
	node_field(f, sizeof(f), plen, "estimated_seconds");
	if (v != NULL && !json_is_null(v)) {
		if (!json_is_number(v) || json_number_value(v) < 0)
			problem(p, f, "expected a non-negative number, got %s", rm_json_type(v));
		else
			json_object_set(out, "estimated_seconds", v);
	}

	v = json_object_get(in, "host");
	node_field(f, sizeof(f), plen, "host");
	if (v != NULL && !json_is_null(v)) {
		if (!json_is_string(v))
			problem(p, f, "expected a string such as \"host:port\", got %s", rm_json_type(v));
		else
			json_object_set(out, "host", v);
	}

	v = json_object_get(in, "remote_ref");
	node_field(f, sizeof(f), plen, "remote_ref");
	if (v != NULL && !json_is_null(v)) {
		if (!json_is_string(v))
			problem(p, f, "expected a string such as \"oci://host/repo:tag\", got %s",
			    rm_json_type(v));
		else
			json_object_set(out, "remote_ref", v);
	}

	v = json_object_get(in, "models");
	node_field(f, sizeof(f), plen, "models");
	if (v == NULL || json_is_null(v))
		json_object_set_new(out, "models", json_array());
	else if (!json_is_array(v))
		problem(p, f, "expected a list of paths or objects, got %s", rm_json_type(v));
	else {
		size_t k;
		for (k = 0; k < json_array_size(v); k++) {
			json_t *m = json_array_get(v, k);
			if (!json_is_string(m) && !(json_is_object(m) &&
			    json_is_string(json_object_get(m, "path")))) {
				char g[128];
				snprintf(g, sizeof(g), "nodes[%zu].models[%zu]", i, k);
				problem(p, g, "expected a path or an object with \"path\", got %s",
				    rm_json_type(m));
			}
		}
		json_object_set_new(out, "models", json_deep_copy(v));
	}

	json_object_foreach((json_t *)in, key, val) {
		if (rm_known_has(rm_known_node, key))
			continue;
		node_field(f, sizeof(f), plen, key);
		unknown(p, f, key, rm_known_node);
		json_object_set(out, key, val);
	}
	return out;
}

/* ---- edges and cycles -------------------------------------------------- */

long
rm_pipeline_node_index(const json_t *doc, const char *id)
{
	json_t *nodes = json_object_get(doc, "nodes");
	size_t i;

	for (i = 0; i < json_array_size(nodes); i++) {
		const char *s = json_string_value(json_object_get(json_array_get(nodes, i), "id"));
		if (s != NULL && strcmp(s, id) == 0)
			return (long)i;
	}
	return -1;
}

/* id -> index of a nodes array, so edges are resolved in constant time. */
static json_t *
id_index(const json_t *nodes)
{
	json_t *idx = json_object(), *n;
	size_t i;

	json_array_foreach(nodes, i, n) {
		const char *id = json_string_value(json_object_get(n, "id"));
		if (id != NULL && json_object_get(idx, id) == NULL)
			json_object_set_new(idx, id, json_integer((json_int_t)i));
	}
	return idx;
}

static long
index_of(const json_t *idx, const char *id)
{
	json_t *v = id ? json_object_get(idx, id) : NULL;

	return v ? (long)json_integer_value(v) : -1;
}

static json_t *
norm_edges(const json_t *in, const json_t *nodes, int connections, struct problems *p)
{
	json_t *out = json_array();
	json_t *doc, *seen;
	size_t i;
	char f[96];

	if (in == NULL || json_is_null(in))
		return out;
	if (!json_is_array(in)) {
		problem(p, connections ? "connections" : "edges", "expected a list, got %s",
		    rm_json_type(in));
		return out;
	}
	doc = id_index(nodes);
	seen = json_object();
	for (i = 0; i < json_array_size(in); i++) {
		json_t *e = json_array_get(in, i);
		const char *a = NULL, *b = NULL;
		char *pair;
		size_t plen;

		snprintf(f, sizeof(f), "%s[%zu]", connections ? "connections" : "edges", i);
		if (json_is_array(e) && json_array_size(e) == 2) {
			a = json_string_value(json_array_get(e, 0));
			b = json_string_value(json_array_get(e, 1));
		} else if (json_is_object(e)) {
			a = json_string_value(json_object_get(e, "from"));
			b = json_string_value(json_object_get(e, "to"));
			if (a == NULL || b == NULL) {
				char g[128];
				snprintf(g, sizeof(g), "%s.%s", f, a == NULL ? "from" : "to");
				missing(p, g);
				continue;
			}
		}
		if (a == NULL || b == NULL) {
			problem(p, f, "expected [\"from\", \"to\"] or {\"from\", \"to\"}");
			continue;
		}
		if (index_of(doc, a) < 0)
			problem(p, f, "unknown node \"%s\"", a);
		if (index_of(doc, b) < 0)
			problem(p, f, "unknown node \"%s\"", b);
		/* a repeated edge is kept once */
		plen = strlen(a) + strlen(b) + 2;
		pair = malloc(plen);
		if (pair == NULL)
			continue;
		snprintf(pair, plen, "%s%c%s", a, 1, b);
		if (json_object_get(seen, pair) == NULL) {
			json_object_set_new(seen, pair, json_true());
			json_array_append_new(out, json_pack("[ss]", a, b));
		}
		free(pair);
	}
	json_decref(doc);
	json_decref(seen);
	return out;
}

/* Adjacency as index lists, built from a canonical nodes/edges pair. */
struct graph {
	size_t n;
	size_t *nout, **out;
};

static void
graph_free(struct graph *g)
{
	size_t i;

	for (i = 0; i < g->n && g->out; i++)
		free(g->out[i]);
	free(g->out);
	free(g->nout);
}

static int
graph_build(const json_t *doc, struct graph *g)
{
	json_t *edges = json_object_get(doc, "edges");
	json_t *idx = id_index(json_object_get(doc, "nodes"));
	size_t i;

	g->n = json_array_size(json_object_get(doc, "nodes"));
	g->nout = calloc(g->n + 1, sizeof(*g->nout));
	g->out = calloc(g->n + 1, sizeof(*g->out));
	if (g->nout == NULL || g->out == NULL) {
		json_decref(idx);
		return -1;
	}
	for (i = 0; i < json_array_size(edges); i++) {
		json_t *e = json_array_get(edges, i);
		long a = index_of(idx, json_string_value(json_array_get(e, 0)));
		long b = index_of(idx, json_string_value(json_array_get(e, 1)));
		size_t *na;
		if (a < 0 || b < 0)
			continue;
		na = realloc(g->out[a], (g->nout[a] + 1) * sizeof(*na));
		if (na == NULL) {
			json_decref(idx);
			return -1;
		}
		g->out[a] = na;
		g->out[a][g->nout[a]++] = (size_t)b;
	}
	json_decref(idx);
	return 0;
}

/* Depth-first search; on a cycle writes "a -> b -> a" into buf. */
static int
find_cycle(const json_t *doc, const struct graph *g, char *buf, size_t size)
{
	unsigned char *color = calloc(g->n + 1, 1);	/* 0 new, 1 on stack, 2 done */
	size_t *stack = calloc(g->n + 1, sizeof(size_t)), *pos = calloc(g->n + 1, sizeof(size_t));
	size_t s, depth, k;
	int found = 0;
	json_t *nodes = json_object_get(doc, "nodes");

	if (color == NULL || stack == NULL || pos == NULL)
		goto out;
	for (s = 0; s < g->n && !found; s++) {
		if (color[s])
			continue;
		depth = 0;
		stack[depth] = s;
		pos[depth++] = 0;
		color[s] = 1;
		while (depth > 0 && !found) {
			size_t u = stack[depth - 1];
			if (pos[depth - 1] < g->nout[u]) {
				size_t v = g->out[u][pos[depth - 1]++];
				if (color[v] == 1) {
					size_t start = 0;
					for (k = 0; k < depth; k++)
						if (stack[k] == v)
							start = k;
					buf[0] = '\0';
					for (k = start; k < depth; k++) {
						add_text(buf, size, " -> ", json_string_value(json_object_get(
						    json_array_get(nodes, stack[k]), "id")));
					}
					add_text(buf, size, " -> ", json_string_value(json_object_get(
					    json_array_get(nodes, v), "id")));
					found = 1;
				} else if (color[v] == 0) {
					color[v] = 1;
					stack[depth] = v;
					pos[depth++] = 0;
				}
			} else {
				color[u] = 2;
				depth--;
			}
		}
	}
out:
	free(color);
	free(stack);
	free(pos);
	return found;
}


static void
heap_push(size_t *h, size_t *n, size_t v)
{
	size_t i = (*n)++;

	while (i > 0 && h[(i - 1) / 2] > v) {
		h[i] = h[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	h[i] = v;
}

static size_t
heap_pop(size_t *h, size_t *n)
{
	size_t top = h[0], v = h[--(*n)], i = 0, c;

	while ((c = 2 * i + 1) < *n) {
		if (c + 1 < *n && h[c + 1] < h[c])
			c++;
		if (v <= h[c])
			break;
		h[i] = h[c];
		i = c;
	}
	h[i] = v;
	return top;
}

int
rm_pipeline_topo_order(const json_t *doc, size_t **order, size_t *n, struct rm_err *err)
{
	size_t *heap = NULL, nheap = 0;
	struct graph g = { 0, NULL, NULL };
	size_t *indeg = NULL, *res = NULL, done = 0, i, k;
	unsigned char *used = NULL;
	int r = -RM_EXIT_INTERNAL;

	*order = NULL;
	*n = 0;
	if (graph_build(doc, &g) != 0)
		goto out;
	indeg = calloc(g.n + 1, sizeof(*indeg));
	res = calloc(g.n + 1, sizeof(*res));
	used = calloc(g.n + 1, 1);
	if (indeg == NULL || res == NULL || used == NULL)
		goto out;
	for (i = 0; i < g.n; i++)
		for (k = 0; k < g.nout[i]; k++)
			indeg[g.out[i][k]]++;
	/* the lowest-index ready node first (stable, document order): a min-heap
	 * of ready nodes keeps that in O((n + e) log n) */
	heap = malloc((g.n + 1) * sizeof(*heap));
	if (heap == NULL)
		goto out;
	for (i = 0; i < g.n; i++)
		if (indeg[i] == 0)
			heap_push(heap, &nheap, i);
	while (done < g.n) {
		if (nheap == 0) {
			char cyc[512] = "";
			find_cycle(doc, &g, cyc, sizeof(cyc));
			r = rm_err_set(err, RM_EXIT_INVALID, NULL, "edges", "cycle: %s", cyc);
			goto out;
		}
		i = heap_pop(heap, &nheap);
		used[i] = 1;
		res[done++] = i;
		for (k = 0; k < g.nout[i]; k++)
			if (--indeg[g.out[i][k]] == 0)
				heap_push(heap, &nheap, g.out[i][k]);
	}
	*order = res;
	*n = g.n;
	res = NULL;
	r = 0;
out:
	if (r == -RM_EXIT_INTERNAL)
		rm_err_set(err, RM_EXIT_INTERNAL, NULL, NULL, "out of memory");
	graph_free(&g);
	free(heap);
	free(indeg);
	free(res);
	free(used);
	return r;
}

/* ---- documents -------------------------------------------------------- */

json_t *
rm_pipeline_normalize(const json_t *doc, const char *file, struct rm_err *err)
{
	struct problems p;
	json_t *out = NULL, *nodes, *v, *meta, *types, *onodes;
	int rmformat;
	size_t i;
	const char *key;
	json_t *val;
	struct rm_err terr;

	memset(&p, 0, sizeof(p));
	p.file = file;
	if (!json_is_object(doc)) {
		rm_err_set(err, RM_EXIT_INVALID, file, NULL,
		    "expected a pipeline document (an object), got %s", rm_json_type(doc));
		return NULL;
	}
	/* RemoteMedia's own serialisation: "version": "v1", node_type, connections */
	rmformat = json_object_get(doc, "schema") == NULL &&
	    (json_object_get(doc, "connections") != NULL ||
	    (json_is_string(json_object_get(doc, "version")) &&
	    json_string_value(json_object_get(doc, "version"))[0] == 'v'));
	if (rmformat) {
		const char *ver = json_string_value(json_object_get(doc, "version"));
		if (ver != NULL && strcmp(ver, "v1") != 0 && strncmp(ver, "v1.", 3) != 0 &&
		    strncmp(ver, "1.", 2) != 0 && strcmp(ver, "1") != 0) {
			rm_err_set(err, RM_EXIT_INVALID, file, "version",
			    "version mismatch: document is \"%s\", this runtime reads v1 (1.x)", ver);
			return NULL;
		}
	} else if (rm_doc_check_schema(doc, "pipeline", 1, 0, file, err) != 0)
		return NULL;

	rm_err_clear(&terr);
	types = rm_pipeline_node_types(&terr);
	if (types == NULL) {
		if (err)
			*err = terr;
		return NULL;
	}
	out = json_object();
	json_object_set_new(out, "schema", json_string(RM_PIPELINE_SCHEMA));
	meta = json_object_get(doc, "metadata");
	if (meta != NULL && !json_is_null(meta) && !json_is_object(meta))
		problem(&p, "metadata", "expected an object, got %s", rm_json_type(meta));
	meta = json_is_object(meta) ? json_deep_copy(meta) : json_object();

	v = json_object_get(doc, "name");
	if (rmformat && v == NULL)
		v = json_object_get(meta, "name");
	if (v == NULL || json_is_null(v)) {
		if (rmformat)
			json_object_set_new(out, "name", json_string("pipeline"));
		else
			missing(&p, "name");
	} else if (!json_is_string(v) || json_string_length(v) == 0)
		problem(&p, "name", "expected a non-empty string, got %s", rm_json_type(v));
	else
		json_object_set(out, "name", v);

	v = rmformat ? json_object_get(meta, "version") : json_object_get(doc, "version");
	if (v == NULL || json_is_null(v))
		json_object_set_new(out, "version", json_string("0.0.0"));
	else if (json_is_string(v))
		json_object_set(out, "version", v);
	else if (json_is_number(v)) {
		char b[64];
		json_object_set_new(out, "version", json_string(rm_json_brief(v, b, sizeof(b))));
	} else
		problem(&p, "version", "expected a string, got %s", rm_json_type(v));
	json_object_set_new(out, "metadata", meta);

	nodes = json_object_get(doc, "nodes");
	onodes = json_array();
	if (nodes == NULL || json_is_null(nodes))
		missing(&p, "nodes");
	else if (!json_is_array(nodes))
		problem(&p, "nodes", "expected a list of nodes, got %s", rm_json_type(nodes));
	else if (json_array_size(nodes) == 0)
		problem(&p, "nodes", "expected at least one node");
	else
		for (i = 0; i < json_array_size(nodes); i++) {
			json_t *n = norm_node(json_array_get(nodes, i), i, types, &p);
			json_array_append_new(onodes, n ? n : json_object());
		}
	/* duplicate ids (id_index keeps the first of each) */
	{
		json_t *idx = id_index(onodes);
		for (i = 0; i < json_array_size(onodes); i++) {
			const char *a = json_string_value(json_object_get(json_array_get(onodes, i),
			    "id"));
			long first = index_of(idx, a);
			if (a != NULL && first >= 0 && (size_t)first != i) {
				char f[64];
				snprintf(f, sizeof(f), "nodes[%zu].id", i);
				problem(&p, f, "duplicate node id \"%s\" (also nodes[%ld])", a, first);
			}
		}
		json_decref(idx);
	}
	json_object_set_new(out, "nodes", onodes);
	v = json_object_get(doc, "edges");
	if (v == NULL && json_object_get(doc, "connections") != NULL)
		json_object_set_new(out, "edges", norm_edges(json_object_get(doc, "connections"),
		    onodes, 1, &p));
	else
		json_object_set_new(out, "edges", norm_edges(v, onodes, 0, &p));

	json_object_foreach((json_t *)doc, key, val) {
		/* RemoteMedia's serialisation carries fields of its own, dropped */
		if (rmformat || rm_known_has(rm_known_pipeline, key))
			continue;
		unknown(&p, key, key, rm_known_pipeline);
		json_object_set(out, key, val);
	}
	json_decref(types);
	if (problems_report(&p, file, err) != 0) {
		json_decref(out);
		return NULL;
	}
	/* cycles, once the graph is known to be well formed */
	{
		size_t *order, n;
		if (rm_pipeline_topo_order(out, &order, &n, err) != 0) {
			if (err != NULL)
				snprintf(err->file, sizeof(err->file), "%s", file ? file : "");
			json_decref(out);
			return NULL;
		}
		free(order);
	}
	return out;
}

json_t *
rm_pipeline_load(const char *path, struct rm_err *err)
{
	json_t *doc = rm_doc_load_max(path, RM_PIPELINE_MAX_BYTES, err), *out;

	if (doc == NULL)
		return NULL;
	out = rm_pipeline_normalize(doc, strcmp(path, "-") == 0 ? "<stdin>" : path, err);
	json_decref(doc);
	return out;
}
