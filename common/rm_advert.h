/*
 * Executor adverts (schema remotemedia.executor/1). Every accepted shape is
 * normalised into one document:
 *   { "schema", "id", "capabilities": {...}, "endpoint", "region", "pricing",
 *     "engine", "probed_at", "expires_at", spec 004 fields (runtime,
 *     env_profile, constraints, slo, spiffe_id, required_capabilities,
 *     cost_tokens, slo_bid, controller_affinity, load_score, url) ... }
 * Accepted inputs: that document; crank's registration body
 * {"worker_id","worker_url","capabilities":[{"name","verb",...}]}; the flat
 * spec 004 shape {"worker_id","url","load_score",...}; llama-orch's ECP
 * {"worker_id","supports_positional",...} (becomes "engine"); and a
 * Colibri-style plain array of tag strings as "capabilities".
 * Top-level "tags" are static tags (set by the admin, not probed): they are
 * added to capabilities.tags, where the matcher reads tags, and kept at the
 * top level so that drift detection leaves them out.
 */
#ifndef RM_ADVERT_H
#define RM_ADVERT_H

#include <jansson.h>

#include "rm_err.h"

/*
 * Returns a new normalised advert, or NULL with err naming the file and the
 * field. Values are checked against the taxonomy's types; in production mode
 * unknown fields are errors, in development they are kept.
 */
json_t *rm_advert_normalize(const json_t *doc, const char *file, struct rm_err *err);
/* The same, consuming doc (changed in place when it is already our shape). */
json_t *rm_advert_normalize_take(json_t *doc, const char *file, struct rm_err *err);
/* Has the advert's expires_at passed at time now (seconds)? */
int rm_advert_expired(const json_t *advert, long long now);

/* Called after the registry directory changed through our own writers. */
void rm_registry_changed(void);

#endif
