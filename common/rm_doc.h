/*
 * Documents: JSON and YAML read into one jansson tree, so that one validator
 * serves both; stable JSON written back (sorted keys, 2-space indent).
 */
#ifndef RM_DOC_H
#define RM_DOC_H

#include <stdio.h>
#include <jansson.h>

#include "rm_err.h"

/*
 * Input limits (documented in remotemedia-formats(5)). A document, or a
 * file of documents read into one tree (a JSON array, JSON lines, a YAML
 * stream), may have RM_DOC_MAX_BYTES; a file of adverts in JSON lines, which
 * rm-match -x reads one advert at a time, RM_DOC_STREAM_MAX_BYTES. Larger
 * input is refused, before it is read when it is a regular file, with
 * "file too large: N bytes, limit M" (RM_EXIT_INVALID).
 */
#define RM_DOC_MAX_BYTES ((size_t)16 << 20)
#define RM_DOC_STREAM_MAX_BYTES ((size_t)64 << 20)

/* Parses one document. yaml: 1 YAML, 0 JSON, -1 guess from the content. */
json_t *rm_doc_parse(const char *buf, size_t len, const char *name, int yaml,
    struct rm_err *err);
/* Loads one document from a file ("-" for stdin); YAML by extension or content. */
json_t *rm_doc_load(const char *path, struct rm_err *err);
/* The same, with a smaller size limit than RM_DOC_MAX_BYTES. */
json_t *rm_doc_load_max(const char *path, size_t max, struct rm_err *err);
/*
 * Loads every document of a file as an array: one document, a JSON array of
 * documents, JSON lines, or a multi-document YAML stream.
 */
json_t *rm_doc_load_many(const char *path, struct rm_err *err);
json_t *rm_doc_parse_many(const char *buf, size_t len, const char *name, int yaml,
    struct rm_err *err);
/* Is the name a YAML file by its extension? */
int rm_doc_is_yaml_name(const char *path);

/*
 * Checks "schema": "remotemedia.<kind>/<major>[.<minor>]". A missing schema
 * is accepted unless required; another kind or major is an error.
 */
int rm_doc_check_schema(const json_t *doc, const char *kind, int major, int required,
    const char *file, struct rm_err *err);

/* "object", "array", "string", "number", "boolean", "null". */
const char *rm_json_type(const json_t *v);
/* A short rendering of a value for messages ("24GB" with quotes, 16, [..]). */
const char *rm_json_brief(const json_t *v, char *buf, size_t size);
/* Looks up a dotted path ("gpu.memory_gb") in nested objects. */
json_t *rm_json_path(const json_t *root, const char *path);

/* Stable text for files: sorted keys, 2-space indent, trailing newline. */
char *rm_json_dump_file(const json_t *doc);
int rm_json_write_file(const char *path, const json_t *doc, struct rm_err *err);
/* Prints to a stream: pretty (files, terminals) or one compact line. */
int rm_json_print(FILE *fp, const json_t *doc, int pretty);

#endif
