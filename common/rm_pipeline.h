/*
 * Pipeline documents (remotemedia.pipeline/1): loading, validation and the
 * one canonical form every tool works on.
 *
 * Canonical form:
 *   {"schema": "remotemedia.pipeline/1", "name", "version", "metadata": {},
 *    "nodes": [{"id", "type", "capabilities": {}, "params": {}, "exec"
 *      (argv list or string, optional), "fallback": [], "estimated_seconds"
 *      (optional), "host" (optional), "remote_ref" (optional), "models": []}],
 *    "edges": [["a", "b"], ...]}
 *
 * RemoteMedia's Pipeline.serialize() output ({"version": "v1", "metadata",
 * "nodes": [{"id", "node_type", "params", "capabilities", "host"}],
 * "connections": [{"from", "to"}]}) is read as the same document. In both,
 * a capabilities.gpu object without "required" gets "required": true.
 */
#ifndef RM_PIPELINE_H
#define RM_PIPELINE_H

#include <stddef.h>
#include <jansson.h>

#include "rm_err.h"

#define RM_PIPELINE_SCHEMA "remotemedia.pipeline/1"

/* A pipeline file may have this many bytes (remotemedia-formats(5)). */
#define RM_PIPELINE_MAX_BYTES ((size_t)4 << 20)

/* Reads a JSON or YAML pipeline file and returns its canonical form. */
json_t *rm_pipeline_load(const char *path, struct rm_err *err);
/*
 * Validates doc and returns a new canonical document (doc is not changed).
 * Every missing required field is listed in one message; duplicate node
 * ids, edges naming unknown nodes, cycles (named a -> b -> a), a bad exec
 * and unknown node types (answered with the supported list from
 * share/remotemedia/node-types.yaml) are errors (RM_EXIT_INVALID). file
 * names the document in messages.
 */
json_t *rm_pipeline_normalize(const json_t *doc, const char *file, struct rm_err *err);
/*
 * Node indices of a canonical document in dependency order (ties broken
 * by document order). *order is malloc'ed, *n its length. Fails on a cycle.
 */
int rm_pipeline_topo_order(const json_t *doc, size_t **order, size_t *n, struct rm_err *err);
/* Index of the node with this id, or -1. */
long rm_pipeline_node_index(const json_t *doc, const char *id);
/*
 * The supported node types as a JSON array of names (aliases included),
 * from node-types.yaml (data directory, else the embedded copy).
 */
json_t *rm_pipeline_node_types(struct rm_err *err);

#endif
