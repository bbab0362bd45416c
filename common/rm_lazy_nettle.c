/*
 * Nettle, opened on first use (rm_lazy.h), for rm_sha256_hex only: a
 * one-shot hash of a document in memory (a plan's pipeline, a manifest, a
 * package's contents list). Loading libcrypto and starting its providers
 * for that costs a few milliseconds, several times what such a tool does
 * otherwise; Nettle loads in a fraction of one and needs no set-up. The
 * streaming and file hashes, of large blobs, stay with OpenSSL.
 */
#include "config.h"

#include <nettle/sha2.h>

#include "rm_lazy.h"

static struct rm_lazy nettle = RM_LAZY_INIT(RM_SONAME_NETTLE);

RM_LAZY_VOID(nettle, nettle_sha256_init, (struct sha256_ctx *c), (c))
RM_LAZY_VOID(nettle, nettle_sha256_update, (struct sha256_ctx *c, size_t n, const uint8_t *d),
    (c, n, d))
RM_LAZY_VOID(nettle, nettle_sha256_digest, (struct sha256_ctx *c, size_t n, uint8_t *md),
    (c, n, md))
