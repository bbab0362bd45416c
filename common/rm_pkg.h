/*
 * .rmpkg packages: loading and verifying (every tool), extracting (the
 * cache), and writing (rm-build).
 *
 * A package is a tar archive (ustar, or pax where a name needs it) of
 * regular files only, in sorted order, owner 0/0 "root", mode 0644 or 0755,
 * one fixed mtime:
 *   manifest.json        the pipeline document (remotemedia.pipeline/1)
 *   meta/contents.json   {"schema": "remotemedia.contents/2", "files":
 *                        [{"path", "size", "sha256", "mode"}]}: every other
 *                        file but meta/signature, sorted by path; mode is
 *                        "0644" or "0755" and each archive entry's mode must
 *                        be exactly that. A contents/1 list has no modes:
 *                        every file of such a package is 0644.
 *   meta/provenance.json, meta/runtime.json, meta/signature (optional)
 *   modules/..., models/..., data/...
 * The package digest is the SHA-256 of the bytes of meta/contents.json; a
 * signature signs it (see rm_crypto.h) and never changes it.
 */
#ifndef RM_PKG_H
#define RM_PKG_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <jansson.h>

#include "rm_crypto.h"
#include "rm_err.h"

#define RM_PKG_CONTENTS "meta/contents.json"
#define RM_PKG_SIGNATURE "meta/signature"
#define RM_PKG_CONTENTS_SCHEMA "remotemedia.contents/2"

/* rm_pkg_open flags */
#define RM_PKG_VERIFY		0x1	/* hash every file against the contents list */
#define RM_PKG_REQUIRE_TRUST	0x2	/* refuse unsigned/untrusted even in development */
#define RM_PKG_NO_POLICY	0x4	/* only report the signature status (rm-inspect) */

struct rm_pkg_file {
	char *path;
	uint64_t size;
	char sha256[RM_SHA256_HEX];
	int mode;		/* 0644 or 0755, as the contents list says */
};

struct rm_pkg {
	char *path;
	char digest[RM_SHA256_HEX];
	json_t *manifest;	/* canonical pipeline document */
	json_t *contents, *runtime, *provenance, *signature;	/* signature: NULL if none */
	struct rm_pkg_file *files;	/* the contents list, sorted */
	size_t nfiles;
	uint64_t total_size;
	int verified;		/* every file's SHA-256 was checked */
	int legacy_modes;	/* a remotemedia.contents/1 list: modes unsigned, all 0644 */
	struct rm_sig_info sig;
};

/*
 * Reads the archive in one streaming pass and checks, before anything
 * runs: entries (no absolute paths, no "..", no links of any kind, no
 * devices or fifos, no duplicates, no mode but 0644 and 0755, data matching
 * the header size), every file against the contents list (both ways, mode
 * and size; SHA-256 too with
 * RM_PKG_VERIFY), manifest.json (rm_pipeline_normalize), and the signature
 * against $REMOTEMEDIA_HOME/trust. Integrity and signature failures are
 * RM_EXIT_INTEGRITY naming what failed; an invalid manifest RM_EXIT_INVALID.
 * An invalid signature is always refused; unsigned or untrusted packages
 * are refused in production mode or with RM_PKG_REQUIRE_TRUST, and warned
 * about otherwise (nothing with RM_PKG_NO_POLICY).
 */
int rm_pkg_open(const char *path, int flags, struct rm_pkg **out, struct rm_err *err);
void rm_pkg_free(struct rm_pkg *pkg);
/*
 * A package known by its documents alone, without its archive (rm-inspect
 * of a registry reference: the manifest's blobs, already checked against
 * their digests): docs in the order manifest.json, meta/contents.json,
 * meta/provenance.json, meta/runtime.json, meta/signature, NULL where
 * absent. The documents are checked as rm_pkg_open checks them, the files
 * only as the contents list describes them (verified stays 0); the
 * signature status is filled, an invalid signature refused, no policy
 * applied. shown names the package in messages and becomes pkg->path.
 */
int rm_pkg_open_meta(const char *shown, char *const docs[5], const size_t lens[5],
    struct rm_pkg **out, struct rm_err *err);
/* The slot of docs a package file takes (0 to 4 in the order above), or -1. */
int rm_pkg_doc_slot(const char *name);
/*
 * Extracts an opened package into dir (which must not exist): a new
 * directory beside it is filled, re-verifying every SHA-256 and the digest
 * while writing, never following links, each file created with the mode
 * its contents list entry gives (less the umask), then renamed into place.
 */
int rm_pkg_extract(const struct rm_pkg *pkg, const char *dir, struct rm_err *err);
/*
 * The same, with every file's bytes taken from blobdir/<its SHA-256> (the
 * contents list's, meta/contents.json's the package digest) instead of the
 * archive: for a store of blobs the caller has verified against their names
 * and whose every name the package's layers matched. The archive is read
 * again for its entries, checked as above (data read only for manifest.json
 * and meta/), never for the bytes of other files. A file of at least link_min
 * bytes whose blob has the mode the file gets less its write bits (a
 * read-only blob) is a hard link to the blob, read-only too (both share one
 * inode: never write to either); the others, and any the filesystem cannot
 * link, are copied (copy_file_range).
 */
int rm_pkg_extract_blobs(const struct rm_pkg *pkg, const char *dir, const char *blobdir,
    uint64_t link_min, struct rm_err *err);

/* Writing: entries must be added in sorted path order; mode: 0644 or 0755. */
struct rm_pkg_writer;
/* Starts a temporary file beside final_path. */
int rm_pkg_writer_open(const char *final_path, time_t mtime, struct rm_pkg_writer **w,
    struct rm_err *err);
int rm_pkg_writer_add_mem(struct rm_pkg_writer *w, const char *name, const void *data,
    size_t len, int mode, struct rm_err *err);
/* Copies a file; with sha256 (already computed by the caller), fails if the
 * file changed (size or ctime) while it was hashed and copied. */
int rm_pkg_writer_add_file(struct rm_pkg_writer *w, const char *name, const char *src,
    uint64_t size, const char *sha256, int mode, struct rm_err *err);
/* Finishes, fsyncs and renames onto final_path (NULL: the one given to open). */
int rm_pkg_writer_commit(struct rm_pkg_writer *w, const char *final_path, struct rm_err *err);
void rm_pkg_writer_abort(struct rm_pkg_writer *w);
/*
 * The archive a writer makes of entries, without their data: what lies
 * around the data (headers, padding, the end) kept in memory, and where
 * each entry's data goes. The bytes are those rm_pkg_writer_commit would
 * write, so a package kept as its files is served as they are read.
 * Entries are added in sorted path order, as to a writer.
 */
struct rm_pkg_map_ent {
	uint64_t lit_off, lit_len;	/* in lit: the bytes before the entry's data */
	uint64_t size;			/* then this many bytes of data */
};
struct rm_pkg_map {
	size_t n;
	struct rm_pkg_map_ent *ent;
	unsigned char *lit;		/* the literal bytes of every entry, then the tail */
	uint64_t lit_len, tail_off, tail_len, total;
};
int rm_pkg_map_open(time_t mtime, struct rm_pkg_writer **w, struct rm_err *err);
int rm_pkg_map_add(struct rm_pkg_writer *w, const char *name, uint64_t size, int mode,
    struct rm_err *err);
/* Ends the archive; *map is the caller's (rm_pkg_map_free). w is freed either way. */
int rm_pkg_map_finish(struct rm_pkg_writer *w, struct rm_pkg_map **map, struct rm_err *err);
void rm_pkg_map_free(struct rm_pkg_map *map);
/*
 * Rewrites a package with sigdoc as meta/signature (replacing any), every
 * other entry copied unchanged: the digest stays the same.
 */
int rm_pkg_set_signature(const char *path, const json_t *sigdoc, struct rm_err *err);

/* A file mode as the contents list spells it: "0755" or "0644". */
const char *rm_pkg_mode_str(int mode);

/* Is name a safe, canonical relative path (no "", ".", "..", "//", "/x")? */
int rm_pkg_path_ok(const char *name);

#endif
