/*
 * The package cache under $REMOTEMEDIA_HOME (DESIGN.md section 2):
 *   blobs/sha256/<hex>           verified registry blobs, shared by packages
 *   blobs/sha256/<hex>.partial   a download in progress (resumed with Range)
 *   blobs/sha256/<hex>.lock      held while one process downloads it
 *   pipelines/<hex>.layout       how the package is made from its blobs (files in
 *                                archive order, mtime): a package is stored as its
 *                                blobs alone (a .rmpkg file's copied out of it)
 *   pipelines/<hex>.rmpkg        the package, byte-identical to the pushed one:
 *                                made from the blobs on demand (gc removes it); an
 *                                entry of an older version keeps its own
 *   pipelines/<hex>/             the package unpacked; present (with .layout or
 *                                .rmpkg) = complete
 *   pipelines/<hex>.lock         held while one process installs it
 *   refs.lock                    held while one process edits refs.json
 *   refs.json                    what each reference resolved to:
 *     {"schema": "remotemedia.cache-refs/1",
 *      "refs": {"oci://h/r:t": {"manifest", "package", "fetched_at"}},
 *      "packages": {"<hex>": {"manifest", "source"}}}
 * A lock file is never removed after use (a process waiting on it and a
 * newcomer creating it again would both hold "the" lock); gc removes those
 * whose blob or entry is gone, while holding them.
 * The package directory is renamed into place only after the whole package
 * was loaded and verified (rm_pkg_open + rm_pkg_extract), the .rmpkg before
 * it; every file is written beside its final name and renamed. A crash at
 * any instant leaves an entry complete or absent, and the next fetch
 * finishes the work (resuming partial blobs).
 * From a registry or a layout, every blob is hashed while it streams (one
 * already cached is hashed again first), the .rmpkg is written from the
 * blobs, loaded, and its contents list matched against the layers' digests;
 * the directory is then made from the blobs themselves
 * (rm_pkg_extract_blobs), no byte hashed twice: files of 1 MiB and more are
 * hard links to their blobs (one inode, two names: rm-cache verify checks
 * both, gc and clear only ever unlink), smaller ones copies. Verified blobs
 * are read-only, and so the files linked to them. The .rmpkg assembled for
 * the install is removed once the directory is in place and the layout
 * record written: a 1 GiB model costs 1 GiB of state.
 */
#ifndef RM_CACHE_H
#define RM_CACHE_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "rm_err.h"

#define RM_CACHE_REFRESH	0x1	/* resolve tags again, re-fetch changed packages */
#define RM_CACHE_OFFLINE	0x2	/* never use the network: a miss is RM_EXIT_NEGATIVE */
#define RM_CACHE_INSECURE	0x4	/* plain HTTP / unverified TLS allowed */
#define RM_CACHE_NO_POLICY	0x8	/* the caller applies the signature policy */
#define RM_CACHE_PACKAGE	0x10	/* also make the .rmpkg ("package" in the result) */

/*
 * Fetches one reference: oci://HOST/REPO[:TAG|@DIGEST], an OCI image layout
 * directory (DIR, DIR:TAG or oci:DIR[:TAG]), a cached package digest
 * (sha256:HEX or a unique prefix of at least 12 hex digits) or a .rmpkg file
 * (installed into the cache). *result receives {"ref", "digest", "path",
 * "package", "manifest", "cached": bool, "signature": "valid"|"unsigned"|
 * "untrusted", "signer"}. Every answer, from the cache or not, is checked
 * against the current mode and trust store (unless RM_CACHE_NO_POLICY): in
 * production an unsigned or no longer trusted package is RM_EXIT_INTEGRITY.
 */
int rm_cache_fetch(const char *ref, int flags, json_t **result, struct rm_err *err);
/* Fetches several references at once (up to jobs in parallel); results in
 * order, each with "error" and "exit" when it failed. Returns the worst code. */
int rm_cache_fetch_many(const char *const *refs, size_t n, int flags, int jobs,
    json_t **results, struct rm_err *err);
/*
 * For tools that take a package: a .rmpkg path stays as it is; a cache
 * digest, an oci:// reference or a layout is resolved (fetched if needed)
 * to the cached .rmpkg path.
 */
int rm_cache_resolve(const char *ref, char *pkgpath, size_t size, struct rm_err *err);
/*
 * The entry's .rmpkg (hex: 64 hex digits), made from its blobs when it is
 * not there (an entry from a registry or a layout keeps none), checked
 * against the digest; its path in pkgpath.
 */
int rm_cache_package(const char *hex, char *pkgpath, size_t size, struct rm_err *err);
/* The entries: [{"digest", "name", "version", "size", "path", "refs": []}]. */
int rm_cache_list(json_t **entries, struct rm_err *err);
/* Re-hashes every blob and entry; *report lists {"what", "path", "problem"}.
 * Returns 0, or RM_EXIT_NEGATIVE (not negated) when something is corrupt. */
int rm_cache_verify(json_t **report, struct rm_err *err);
/* Removes blobs no cached package uses, stale partials and temporaries. */
int rm_cache_gc(json_t **report, struct rm_err *err);
/* The cached entry's hex digest for any reference form, with no network:
 * 0 found, 1 not cached, < 0 error. */
int rm_cache_lookup(const char *ref, char hex[65], struct rm_err *err);
/* Remembers a push (for mounts from this repository later). */
void rm_cache_note_push(const char *ref, const char *manifest_digest, const char *pkg_digest);
/* Other repositories of host seen before: a JSON array of names. */
json_t *rm_cache_mount_candidates(const char *host, const char *repo);
/*
 * A package received from a peer (rm_p2p.c): the file partial, under
 * pipelines/ (it is renamed), becomes entry hex only if it opens and
 * verifies as a package of exactly that digest under the signature policy
 * of the mode; otherwise it is removed and nothing is cached
 * (RM_EXIT_INTEGRITY). ref (an oci:// reference is remembered as resolved)
 * and source ("peer:COMMAND") go into *result and refs.json. An entry
 * complete already is left as it is (partial "" when nothing came).
 * pkgsha (may be NULL): the partial file's SHA-256 as it was hashed while
 * it came, recorded when the entry is made from that very file.
 */
/*
 * The package file of a cached entry, for reading from its start, writing
 * nothing at all: its .rmpkg when there is one, else the bytes it would
 * have, read from the entry's blobs as its layout record orders them
 * (rm_pkg_map), nothing assembled first. Every file it needs is opened
 * under the entry's shared lock, so a remove or gc after open breaks no
 * read. Each blob is hashed as it is read: a read that reaches the end of
 * one whose bytes are not its digest fails (RM_EXIT_INTEGRITY), before any
 * byte after it. *got is 0 at the end.
 */
struct rm_cache_pkg;
int rm_cache_package_open(const char *hex, struct rm_cache_pkg **pkg, uint64_t *size,
    struct rm_err *err);
int rm_cache_package_read(struct rm_cache_pkg *pkg, void *buf, size_t len, size_t *got,
    struct rm_err *err);
void rm_cache_package_close(struct rm_cache_pkg *pkg);
/* Its size alone, the same errors as open: no blob is opened, nothing hashed. */
int rm_cache_package_size(const char *hex, uint64_t *size, struct rm_err *err);
/*
 * The package file's SHA-256 (hex) where the entry recorded it when it was
 * installed (it came from a peer, hashed as it came), else NULL: the
 * blobs' own digests are checked as they are read all the same.
 */
const char *rm_cache_package_sha256(const struct rm_cache_pkg *pkg);
/*
 * Before the first read: where reading goes on from, at or before off
 * (the start of the blob that holds off: a blob is checked whole). What
 * lies before it is neither read nor checked.
 */
uint64_t rm_cache_package_seek(struct rm_cache_pkg *pkg, uint64_t off);
int rm_cache_install_peer(const char *hex, const char *partial, const char *pkgsha,
    const char *ref, const char *source, int flags, json_t **result, struct rm_err *err);
/* Removes one entry (by any reference form) or, with ref NULL, everything. */
int rm_cache_clear(const char *ref, json_t **report, struct rm_err *err);

#endif
