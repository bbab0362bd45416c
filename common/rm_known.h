/*
 * Known fields of the documents we read (pipelines, adverts, config.yaml)
 * and the one answer to a field that is not among them: a warning in
 * development, an error in production (DESIGN.md section 3), each naming
 * the nearest known key ("did you mean capabilities?").
 */
#ifndef RM_KNOWN_H
#define RM_KNOWN_H

#include <stddef.h>

#include "rm_err.h"

struct rm_taxo;

/* NULL-terminated lists of the fields each document may hold. */
extern const char *const rm_known_pipeline[];	/* pipeline top level */
extern const char *const rm_known_node[];	/* one node of a pipeline */
extern const char *const rm_known_advert[];	/* advert top level (besides taxonomy keys) */
extern const char *const rm_known_config[];	/* config.yaml top level */
extern const char *const rm_known_registry[];	/* config.yaml registries.HOST */
extern const char *const rm_known_etcd[];	/* config.yaml etcd */

/* Is key one of list? */
int rm_known_has(const char *const *list, const char *key);
/* Edit distance (a swap of two neighbours counts one), capped at 8. */
int rm_edit_distance(const char *a, const char *b);
/* The entry of list nearest to key, or NULL when none is close enough. */
const char *rm_nearest(const char *key, const char *const *list);
/* The nearest taxonomy key (advert path or requirement name), or NULL. */
const char *rm_nearest_capability(const struct rm_taxo *t, const char *path);
/* " (did you mean NEAR?)", or "" when near is NULL. */
const char *rm_did_you_mean(const char *near, char *buf, size_t size);
/*
 * An unknown field at path of file, near being the nearest known key (or
 * NULL): in production fills err (RM_EXIT_INVALID) and returns its code; in
 * development warns on stderr, once a process for the same file and path,
 * and returns 0.
 */
int rm_unknown_field(const char *file, const char *path, const char *near,
    struct rm_err *err);
/*
 * The same answer to a problem already described in found (such as a
 * requirement the taxonomy does not know, found by a tool that only
 * passes the document on): a warning in development, *err = *found in
 * production.
 */
int rm_unknown_report(const struct rm_err *found, struct rm_err *err);

#endif
