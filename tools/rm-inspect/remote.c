/*
 * rm-inspect of an oci:// reference without downloading the package: the
 * registry is asked for the reference's current manifest every time (a tag
 * moves), and only the package's documents are fetched (manifest.json, the
 * config blob, and the meta/ layers). A blob the cache already holds is
 * read from there, its SHA-256 checked again; the others are fetched into
 * a temporary directory, checked while they stream, and removed.
 */
#include "config.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inspect.h"
#include "rm_crypto.h"
#include "rm_fs.h"
#include "rm_home.h"
#include "rm_oci.h"

/* Package documents are small; a larger one is not a package's. */
#define DOC_MAX ((uint64_t)16 << 20)

/* One document's bytes: from the cache's blobs when there, else the registry. */
static int
get_doc(struct rm_oci *o, const char *digest, uint64_t size, const char *tmpdir, char **data,
    size_t *len, struct rm_err *err)
{
	char path[PATH_MAX], rel[128], hex[RM_SHA256_HEX];
	struct rm_err ignored;
	int r;

	if (size > DOC_MAX)
		return rm_err_set(err, RM_EXIT_INVALID, digest, NULL,
		    "a package document of %llu bytes (at most %llu expected)",
		    (unsigned long long)size, (unsigned long long)DOC_MAX);
	rm_err_clear(&ignored);
	snprintf(rel, sizeof(rel), "blobs/sha256/%s", digest + 7);
	if (rm_home_path(path, sizeof(path), rel, 0, &ignored) == 0 && rm_is_file(path) &&
	    rm_read_file(path, DOC_MAX, data, len, &ignored) == 0) {
		rm_sha256_hex(*data, *len, hex);
		if (strcmp(hex, digest + 7) == 0)
			return 0;
		free(*data);	/* a damaged cached blob: ask the registry */
		*data = NULL;
	}
	if ((r = rm_path(path, sizeof(path), err, "%s/%s", tmpdir, digest + 7)) != 0 ||
	    (r = rm_oci_blob_fetch(o, digest, size, path, err)) != 0)
		return r;
	return rm_read_file(path, DOC_MAX, data, len, err);
}

/* The documents the layout lists, fetched into docs/lens. */
static int
get_docs(struct rm_oci *o, const json_t *files, char *docs[5], size_t lens[5],
    struct rm_err *err)
{
	char tmpdir[PATH_MAX];
	const char *tmp = getenv("TMPDIR");
	const json_t *f;
	size_t i;
	int r = 0, k;

	snprintf(tmpdir, sizeof(tmpdir), "%s/rm-inspect.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (mkdtemp(tmpdir) == NULL)
		return rm_err_set(err, RM_EXIT_INTERNAL, tmpdir, NULL,
		    "cannot make a temporary directory");
	json_array_foreach(files, i, f) {
		k = rm_pkg_doc_slot(json_string_value(json_object_get(f, "path")));
		if (k < 0 || docs[k] != NULL)
			continue;
		r = get_doc(o, json_string_value(json_object_get(f, "digest")),
		    (uint64_t)json_integer_value(json_object_get(f, "size")), tmpdir, &docs[k],
		    &lens[k], err);
		if (r != 0)
			break;
	}
	rm_remove_tree(tmpdir);
	return r;
}

int
inspect_remote(const char *refstr, int insecure, struct rm_pkg **out, char mdigest[80],
    struct rm_err *err)
{
	struct rm_oci_ref ref;
	struct rm_oci *o = NULL;
	json_t *m = NULL, *files = NULL;
	json_error_t je;
	char *raw = NULL, *docs[5] = { NULL }, pkgdigest[80];
	size_t rawlen = 0, lens[5] = { 0 };
	long long mtime;
	int r, i;

	*out = NULL;
	if ((r = rm_oci_ref_parse(refstr, &ref, err)) != 0 ||
	    (r = rm_oci_open(&ref, insecure, 0, &o, err)) != 0 ||
	    (r = rm_oci_manifest_get(o, ref.digest[0] ? ref.digest : ref.tag, &raw, &rawlen,
	    mdigest, err)) != 0) {
		snprintf(err->file, sizeof(err->file), "%s", refstr);	/* not /v2/...: the ref */
		goto out;
	}
	if ((m = json_loadb(raw, rawlen, JSON_REJECT_DUPLICATES, &je)) == NULL) {
		r = rm_err_set(err, RM_EXIT_INVALID, refstr, NULL, "manifest is not JSON: %s",
		    je.text);
		goto out;
	}
	if ((r = rm_oci_package_layout(m, refstr, &files, pkgdigest, &mtime, err)) != 0 ||
	    (r = get_docs(o, files, docs, lens, err)) != 0 ||
	    (r = rm_pkg_open_meta(refstr, docs, lens, out, err)) != 0)
		goto out;
	if (strcmp(pkgdigest + 7, (*out)->digest) != 0) {
		r = rm_err_set(err, RM_EXIT_INTEGRITY, refstr, NULL,
		    "the manifest names package %s, its contents list is sha256:%s", pkgdigest,
		    (*out)->digest);
		rm_pkg_free(*out);
		*out = NULL;
	}
out:
	for (i = 0; i < 5; i++)
		free(docs[i]);
	rm_oci_close(o);
	free(raw);
	json_decref(m);
	json_decref(files);
	return r;
}
