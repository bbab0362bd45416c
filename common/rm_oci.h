/*
 * OCI distribution client (registry API v2) and the package <-> OCI
 * mapping.
 *
 * A package in a registry is an OCI image manifest
 *   mediaType    application/vnd.oci.image.manifest.v1+json
 *   artifactType application/vnd.remotemedia.package.v1
 *   config       manifest.json (application/vnd.remotemedia.manifest.v1+json)
 *   layers       one blob per other file of the package, in archive order,
 *                each the file's bytes unchanged, titled with its path in
 *                org.opencontainers.image.title (models/... as
 *                application/vnd.remotemedia.model.v1, meta/contents.json,
 *                meta/signature and every other file with types of their own)
 *   annotations  org.remotemedia.package.digest (sha256:...), .mtime (the
 *                archive's one mtime), .name, .version; a layer whose file is
 *                executable carries org.remotemedia.file.mode "0755"
 * A model file is one blob, so unchanged weights are never sent twice and
 * blobs are shared between versions and repositories. Pulling re-writes the
 * archive with the package writer from these blobs in the same order with
 * the same mode and mtime, which gives the same bytes and the same digest
 * (rm_cache.c unpacks the package from the same blobs).
 */
#ifndef RM_OCI_H
#define RM_OCI_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "rm_err.h"

#define RM_OCI_MANIFEST_V1 "application/vnd.oci.image.manifest.v1+json"
#define RM_OCI_INDEX_V1 "application/vnd.oci.image.index.v1+json"
#define RM_OCI_ARTIFACT "application/vnd.remotemedia.package.v1"
#define RM_OCI_CONFIG "application/vnd.remotemedia.manifest.v1+json"

struct rm_oci_ref {
	char host[256];		/* host[:port] */
	char repo[256];
	char tag[129];		/* "" when by digest only */
	char digest[80];	/* "sha256:<hex>" or "" */
};

/* oci://HOST[:PORT]/REPO[:TAG][@sha256:HEX]; the tag defaults to "latest". */
int rm_oci_ref_parse(const char *s, struct rm_oci_ref *ref, struct rm_err *err);
/* The canonical text: oci://host/repo:tag or oci://host/repo@digest. */
void rm_oci_ref_str(const struct rm_oci_ref *ref, char *buf, size_t size);
/* Is s a well-formed "sha256:<64 lowercase hex>"? */
int rm_oci_digest_ok(const char *s);
/* The Range of an upload answer ("0-N"): the next offset, N+1; -1 if none. */
int rm_oci_range_next(const char *range, uint64_t *next);

struct rm_oci;

/*
 * Opens a session with ref's registry for ref's repository: credentials
 * (rm_creds), HTTPS verified, unless insecure (or the host is insecure in
 * config.yaml): then HTTPS unverified, falling back to plain HTTP. Checks
 * /v2/ (and authenticates). push asks for push access.
 */
int rm_oci_open(const struct rm_oci_ref *ref, int insecure, int push, struct rm_oci **out,
    struct rm_err *err);
/* A second session to the same registry for a worker thread. */
struct rm_oci *rm_oci_dup(const struct rm_oci *o);
void rm_oci_close(struct rm_oci *o);

/* 0 present (size filled), 1 absent, < 0 error. */
int rm_oci_blob_head(struct rm_oci *o, const char *digest, uint64_t *size, struct rm_err *err);
/*
 * Uploads size bytes of fd at off as blob digest: tries a mount from
 * mount_from (another repository, may be NULL) first; monolithic POST+PUT
 * up to chunk bytes, chunked PATCHes with Content-Range above, resuming from
 * the offset the registry reports after a failure. A chunked upload's
 * session is recorded under $REMOTEMEDIA_HOME/push/ until the blob is
 * complete, so that a later run goes on where the registry stands (GET on
 * the session: 204 with Range), or starts over, saying so, when the
 * registry forgot it. *mounted is set when the registry mounted it, *held
 * to the bytes an earlier run had sent.
 */
int rm_oci_blob_push(struct rm_oci *o, const char *digest, int fd, uint64_t off, uint64_t size,
    const char *mount_from, uint64_t chunk, int *mounted, uint64_t *held, struct rm_err *err);
/*
 * Asks the uploads under way to stop between two requests (from a signal
 * handler: async-signal-safe): each then fails with "interrupted", its
 * session recorded where the registry acknowledged it.
 */
void rm_oci_interrupt(void);
int rm_oci_interrupted(void);
/*
 * Downloads blob digest of the given size into dest: streamed into
 * dest.partial (resumed with Range when one is there), hashed while
 * streaming, fsynced and renamed onto dest only when its SHA-256 matches.
 * A mismatch removes the partial and is RM_EXIT_INTEGRITY.
 */
int rm_oci_blob_fetch(struct rm_oci *o, const char *digest, uint64_t size, const char *dest,
    struct rm_err *err);
int rm_oci_manifest_put(struct rm_oci *o, const char *reference, const char *data, size_t len,
    const char *media_type, struct rm_err *err);
/* GET with the OCI Accept types; digest receives sha256:<hex> of the bytes. */
int rm_oci_manifest_get(struct rm_oci *o, const char *reference, char **data, size_t *len,
    char digest[80], struct rm_err *err);

/* Progress on stderr while it is a terminal (and not -q). */
void rm_oci_progress_begin(const char *label, uint64_t total);
void rm_oci_progress_add(uint64_t n);
void rm_oci_progress_end(void);
/* After 100%: the next phase (e.g. "verifying"), on the terminal only. */
void rm_oci_progress_phase(const char *label, const char *phase);

/* ---- packages ---------------------------------------------------------- */

struct rm_oci_push_result {
	char manifest_digest[80];
	char package_digest[80];
	int blobs_total, blobs_uploaded, blobs_mounted;
	int blobs_resumed;	/* of the uploaded, those an earlier run had begun */
	uint64_t bytes_uploaded;	/* sent by this run */
};

/*
 * Pushes a .rmpkg to ref (tag or digest): HEAD before each blob, uploads
 * or mounts what is missing (mount_from: an array of other repositories of
 * the same registry to try, may be NULL), several blobs at once, manifest
 * last.
 */
int rm_oci_push_package(const char *pkgpath, const struct rm_oci_ref *ref, int insecure,
    uint64_t chunk, const json_t *mount_from, struct rm_oci_push_result *res,
    struct rm_err *err);
/*
 * Checks that an OCI manifest describes a package and returns its files:
 * an array of {"path", "digest", "size", "mode"} in archive order (the
 * config blob as manifest.json), with the package digest and mtime.
 */
int rm_oci_package_layout(const json_t *manifest, const char *where, json_t **files,
    char pkgdigest[80], long long *mtime, struct rm_err *err);
/*
 * The same list for a package file (loaded and checked with rm_pkg_open,
 * no policy), each entry with "offset", where its bytes start in the file.
 */
int rm_oci_package_files(const char *pkgpath, json_t **files, char pkgdigest[80],
    long long *mtime, struct rm_err *err);
/*
 * Writes the .rmpkg at dest from blobs (blobdir/<hex> for every file) as
 * rm_oci_package_layout lists them.
 */
int rm_oci_package_assemble(const json_t *files, long long mtime, const char *blobdir,
    const char *dest, struct rm_err *err);

#endif
