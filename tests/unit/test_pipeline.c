/* Unit tests of common/rm_pipeline.c: canonical form, validation, order. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "rm_doc.h"
#include "rm_pipeline.h"
#include "tap.h"

static json_t *
norm(const char *text, struct rm_err *err)
{
	json_t *doc;
	json_t *out;

	rm_err_clear(err);
	doc = rm_doc_parse(text, strlen(text), "t.yaml", -1, err);
	if (doc == NULL)
		return NULL;
	out = rm_pipeline_normalize(doc, "t.yaml", err);
	json_decref(doc);
	return out;
}

static void
test_canonical(void)
{
	struct rm_err err;
	json_t *p = norm("name: v\nnodes:\n  - {id: a, type: VAD, capabilities: {gpu: {type: cuda}}}\n"
	    "  - {id: b, type: Command, exec: \"cat -\"}\nedges: [[a, b], {from: a, to: b}]\n", &err);

	ok(p != NULL, "minimal YAML pipeline is valid (%s)", err.msg);
	is_str(json_string_value(json_object_get(p, "schema")), RM_PIPELINE_SCHEMA, "schema added");
	is_str(json_string_value(json_object_get(p, "version")), "0.0.0", "version defaults");
	ok(json_is_object(json_object_get(p, "metadata")), "metadata defaults to {}");
	ok(json_is_true(rm_json_path(json_array_get(json_object_get(p, "nodes"), 0),
	    "capabilities.gpu.required")), "gpu.required defaults to true");
	ok(json_is_array(json_object_get(json_array_get(json_object_get(p, "nodes"), 0),
	    "fallback")), "fallback defaults to []");
	ok(json_array_size(json_object_get(p, "edges")) == 1, "duplicate edge in two spellings kept once");
	is_str(json_string_value(json_object_get(json_array_get(json_object_get(p, "nodes"), 1),
	    "exec")), "cat -", "exec string kept");
	json_decref(p);
}

static void
test_remotemedia_format(void)
{
	struct rm_err err;
	json_t *p = norm("{\"version\":\"v1\",\"metadata\":{\"name\":\"rm\"},\"nodes\":[{\"id\":\"w\","
	    "\"node_type\":\"WhisperNode\",\"params\":{},\"capabilities\":{\"gpu\":{}},\"host\":\"h:1\"},"
	    "{\"id\":\"p\",\"node_type\":\"Passthrough\"}],\"connections\":[{\"from\":\"w\",\"to\":\"p\"}]}",
	    &err);

	ok(p != NULL, "RemoteMedia serialize() output is read (%s)", err.msg);
	is_str(json_string_value(json_object_get(p, "name")), "rm", "name from metadata");
	is_str(json_string_value(json_object_get(json_array_get(json_object_get(p, "nodes"), 0),
	    "type")), "WhisperNode", "node_type becomes type");
	is_str(json_string_value(json_array_get(json_array_get(json_object_get(p, "edges"), 0), 1)),
	    "p", "connections become edges");
	json_decref(p);
}

static void
test_errors(void)
{
	struct rm_err err;
	json_t *p;

	p = norm("name: x\nnodes: [{type: VAD}, {id: b}, {}]\n", &err);
	ok(p == NULL && err.code == RM_EXIT_INVALID, "missing fields are invalid");
	ok(strstr(err.msg, "nodes[0].id, nodes[1].type, nodes[2].id, nodes[2].type") != NULL,
	    "every missing field listed: %s", err.msg);
	p = norm("nodes: [{id: a, type: VAD}]\n", &err);
	ok(p == NULL && strstr(err.msg, "missing required field: name") != NULL, "name required");
	p = norm("name: x\nnodes: [{id: a, type: Warp}]\n", &err);
	ok(p == NULL && strstr(err.msg, "unsupported node type \"Warp\"; supported types:") &&
	    strstr(err.msg, "HFPipelineNode"), "unknown type lists the supported ones");
	p = norm("name: x\nnodes: [{id: a, type: VAD}, {id: b, type: VAD}]\nedges: [[a, b], [b, a]]\n",
	    &err);
	ok(p == NULL && strstr(err.msg, "cycle: a -> b -> a") != NULL, "cycle named: %s", err.msg);
	p = norm("name: x\nnodes: [{id: a, type: VAD}]\nedges: [[a, a]]\n", &err);
	ok(p == NULL && strstr(err.msg, "cycle: a -> a") != NULL, "self loop is a cycle");
	p = norm("name: x\nnodes: [{id: a, type: VAD}, {id: a, type: VAD}]\n", &err);
	ok(p == NULL && strstr(err.msg, "duplicate node id \"a\"") != NULL, "duplicate ids");
	p = norm("name: x\nnodes: [{id: a, type: VAD}]\nedges: [[a, q]]\n", &err);
	ok(p == NULL && strstr(err.msg, "edges[0]: unknown node \"q\"") != NULL, "unknown edge end");
	p = norm("name: x\nnodes: [{id: a, type: Command, exec: [ls, {x: 1}]}]\n", &err);
	ok(p == NULL && strstr(err.msg, "nodes[0].exec") != NULL, "exec with a non-string refused");
	p = norm("name: x\nnodes: [{id: a, type: Command, exec: []}]\n", &err);
	ok(p == NULL, "empty exec list refused");
	p = norm("schema: remotemedia.pipeline/2\nname: x\nnodes: [{id: a, type: VAD}]\n", &err);
	ok(p == NULL && strstr(err.msg, "version mismatch") != NULL, "major 2 is a version mismatch");
	p = norm("{\"version\":\"v2\",\"nodes\":[],\"connections\":[]}", &err);
	ok(p == NULL && strstr(err.msg, "version mismatch") != NULL, "RemoteMedia v2 mismatch");
	p = norm("[1, 2]", &err);
	ok(p == NULL, "a list is not a pipeline");
}

static void
test_topo(void)
{
	struct rm_err err;
	size_t *order = NULL, n = 0;
	json_t *p = norm("name: x\nnodes:\n  - {id: c, type: VAD}\n  - {id: a, type: VAD}\n"
	    "  - {id: b, type: VAD}\n  - {id: d, type: VAD}\nedges: [[a, b], [b, c]]\n", &err);

	ok(p != NULL, "graph is valid");
	ok(rm_pipeline_topo_order(p, &order, &n, &err) == 0 && n == 4, "topological order");
	ok(n == 4 && order[0] == 1 && order[1] == 2 && order[2] == 0 && order[3] == 3,
	    "a, b, c, then the free node d (document order breaks ties)");
	ok(rm_pipeline_node_index(p, "d") == 3 && rm_pipeline_node_index(p, "zz") == -1,
	    "node index lookup");
	free(order);
	json_decref(p);
}

int
main(void)
{
	setenv("REMOTEMEDIA_ENV", "development", 1);
	test_canonical();
	test_remotemedia_format();
	test_errors();
	test_topo();
	return done_testing();
}
