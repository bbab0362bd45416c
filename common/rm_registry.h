/*
 * The embedded executor registry: $REMOTEMEDIA_HOME/executors/<id>.json,
 * one advert a file, written atomically under executors.lock. Adverts carry
 * probed_at and expires_at (RFC 3339 UTC); expired ones are not matched.
 */
#ifndef RM_REGISTRY_H
#define RM_REGISTRY_H

#include <stddef.h>
#include <jansson.h>

#include "rm_err.h"

/* $REMOTEMEDIA_HOME/executors (created with mode 0700 when mk is set). */
int rm_registry_dir(char *buf, size_t size, int mk, struct rm_err *err);
/* Takes the registry's writer lock (exclusive); returns an fd for rm_unlock. */
int rm_registry_lock(int nowait, struct rm_err *err);
/*
 * Validates and writes an advert as executors/<id>.json. The caller may hold
 * the lock already (locked = 1) for a read-modify-write.
 */
int rm_registry_put(const json_t *advert, int locked, struct rm_err *err);
/* The advert registered under id, or NULL (err RM_EXIT_NOTFOUND). */
json_t *rm_registry_get(const char *id, struct rm_err *err);
int rm_registry_remove(const char *id, int locked, struct rm_err *err);
/* Is an id safe as a file name (letters, digits, . _ - :, not starting with .)? */
int rm_registry_id_ok(const char *id);

/* RFC 3339 UTC ("2026-11-23T09:00:00Z") <-> seconds since the epoch. */
void rm_time_format(long long t, char *buf, size_t size);
int rm_time_parse(const char *s, long long *t);

#endif
