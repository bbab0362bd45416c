/* rm-inspect's private parts: a registry reference without its package. */
#ifndef RM_INSPECT_H
#define RM_INSPECT_H

#include "rm_err.h"
#include "rm_pkg.h"

/*
 * Opens the package refstr (oci://...) names from its documents alone
 * (rm_pkg_open_meta): the registry's current manifest for the reference
 * (its digest into mdigest), then manifest.json and the meta/ blobs, from
 * the cache's blobs when it has them. No policy applied.
 */
int inspect_remote(const char *refstr, int insecure, struct rm_pkg **out, char mdigest[80],
    struct rm_err *err);

#endif
