/* The content-addressed package cache: fetch, list, verify, gc, clear. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "rm_cache.h"
#include "rm_config.h"
#include "rm_crypto.h"
#include "rm_doc.h"
#include "rm_fs.h"
#include "rm_home.h"
#include "rm_log.h"
#include "rm_oci.h"
#include "rm_p2p.h"
#include "rm_pkg.h"

#define REFS_SCHEMA "remotemedia.cache-refs/1"
#define MAX_BLOB_JOBS 4

/* rm_pkg_open/extract and the index are not meant for several threads at once */
static pthread_mutex_t install_mu = PTHREAD_MUTEX_INITIALIZER;

static int
is_hex(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return s[n] == '\0';
}

static int
home_dir(char *buf, size_t size, const char *rel, struct rm_err *err)
{
	int r;

	if ((r = rm_path(buf, size, err, "%s/%s", rm_home(), rel)) != 0)
		return r;
	return rm_mkdir_p(buf, 0700, err);
}

/* Writes pipelines/<hex>.<ext> from doc (taken over) atomically. */
static int
record_write(const char *hex, const char *ext, json_t *doc, struct rm_err *err)
{
	char p[PATH_MAX], *text;
	int r;

	snprintf(p, sizeof(p), "%s/pipelines/%s.%s", rm_home(), hex, ext);
	text = doc ? rm_json_dump_file(doc) : NULL;
	r = text ? rm_write_atomic(p, text, strlen(text), 0644, err) :
	    rm_err_set(err, RM_EXIT_INTERNAL, p, NULL, "cannot encode");
	free(text);
	json_decref(doc);
	return r;
}

/*
 * An entry is its unpacked directory and either its layout record (the
 * package is then made from the blobs when asked for) or, as an older
 * version and a .rmpkg file install keep it, the .rmpkg itself.
 */
static int
entry_complete(const char *hex)
{
	char p[PATH_MAX], q[PATH_MAX], l[PATH_MAX];

	snprintf(p, sizeof(p), "%s/pipelines/%s", rm_home(), hex);
	snprintf(q, sizeof(q), "%s/pipelines/%s.rmpkg", rm_home(), hex);
	snprintf(l, sizeof(l), "%s/pipelines/%s.layout", rm_home(), hex);
	return rm_is_dir(p) && (rm_is_file(l) || rm_is_file(q));
}

/*
 * pipelines/<hex>.layout: how the package is made again from blobs, the
 * files in archive order as rm_oci_package_layout gives them and the
 * archive's mtime. A package from a registry or a layout keeps no .rmpkg:
 * its large files are stored once, as blobs, which its unpacked files are
 * hard links to; the .rmpkg is written when a caller asks for it
 * (package_make), byte-identical and every file hashed, and gc removes it
 * again. "sha256", where an install knew it without hashing again (a
 * package from a peer, hashed as it came), is the SHA-256 of that package
 * file: a peer served from the blobs is told it without a second pass over
 * the bytes (rm_cache_package_sha256).
 */
#define LAYOUT_SCHEMA "remotemedia.cache-layout/1"

static int
layout_write(const char *hex, const json_t *files, long long mtime, const char *pkgsha,
    struct rm_err *err)
{
	json_t *doc = json_pack("{ss sI sO}", "schema", LAYOUT_SCHEMA, "mtime", (json_int_t)mtime,
	    "files", (json_t *)files);

	if (doc != NULL && pkgsha != NULL && pkgsha[0] != '\0')
		json_object_set_new(doc, "sha256", json_string(pkgsha));
	return record_write(hex, "layout", doc, err);
}

static int layout_load(const char *hex, json_t **files, long long *mtime,
    char pkgsha[RM_SHA256_HEX], struct rm_err *err);

/* The files and mtime of an entry's layout record: 0, 1 when it has none, < 0 bad. */
static int
layout_read(const char *hex, json_t **files, long long *mtime, struct rm_err *err)
{
	return layout_load(hex, files, mtime, NULL, err);
}

/* The same, and its package file's SHA-256 where recorded (else ""). */
static int
layout_load(const char *hex, json_t **files, long long *mtime, char pkgsha[RM_SHA256_HEX],
    struct rm_err *err)
{
	char p[PATH_MAX];
	json_t *doc, *f, *v;
	const char *schema;
	size_t i;

	*files = NULL;
	snprintf(p, sizeof(p), "%s/pipelines/%s.layout", rm_home(), hex);
	if (!rm_is_file(p))
		return 1;
	if ((doc = rm_doc_load(p, err)) == NULL)
		return -err->code;
	schema = json_string_value(json_object_get(doc, "schema"));
	f = json_object_get(doc, "files");
	if (schema == NULL || strcmp(schema, LAYOUT_SCHEMA) != 0 || !json_is_array(f) ||
	    !json_is_integer(json_object_get(doc, "mtime"))) {
		json_decref(doc);
		return rm_err_set(err, RM_EXIT_INTEGRITY, p, NULL, "not a layout record "
		    "(%s); 'rm-cache clear' the entry and fetch it again", LAYOUT_SCHEMA);
	}
	json_array_foreach(f, i, v)
		if (!json_is_string(json_object_get(v, "path")) ||
		    !rm_oci_digest_ok(json_string_value(json_object_get(v, "digest")) ?
		    json_string_value(json_object_get(v, "digest")) : "") ||
		    !json_is_integer(json_object_get(v, "size"))) {
			json_decref(doc);
			return rm_err_set(err, RM_EXIT_INTEGRITY, p, NULL, "files[%zu]: expected "
			    "{path, digest, size, mode}", i);
		}
	*mtime = (long long)json_integer_value(json_object_get(doc, "mtime"));
	*files = json_incref(f);
	if (pkgsha != NULL) {
		/* anything but 64 hex digits is as good as none: the bytes are hashed */
		const char *sum = json_string_value(json_object_get(doc, "sha256"));
		snprintf(pkgsha, RM_SHA256_HEX, "%s", sum != NULL && strlen(sum) == 64 &&
		    is_hex(sum, 64) ? sum : "");
	}
	json_decref(doc);
	return 0;
}

/*
 * pipelines/<hex>.sig: the entry's signature document as found in its
 * package (meta/signature), or null when it has none, written when the
 * entry is installed or replaced. A use of the entry checks it against the
 * current trust store without opening the .rmpkg (which needs libarchive
 * and hashing): the document signs the entry's digest, which is its name,
 * so a sidecar can make a package look signed only with a trusted key's
 * signature of that very digest.
 */
#define SIG_SCHEMA "remotemedia.cache-signature/1"
#define SIG_MAX (1 << 20)

static int
sig_write(const char *hex, const json_t *sigdoc, struct rm_err *err)
{
	return record_write(hex, "sig", json_pack("{ss sO?}", "schema", SIG_SCHEMA, "signature",
	    (json_t *)sigdoc), err);
}

/* The recorded signature (*sigdoc NULL: unsigned); 1 when there is none usable. */
static int
sig_read(const char *hex, json_t **sigdoc)
{
	char p[PATH_MAX], *text = NULL;
	size_t len;
	json_t *doc, *s;
	const char *schema;
	struct rm_err e;

	*sigdoc = NULL;
	rm_err_clear(&e);
	snprintf(p, sizeof(p), "%s/pipelines/%s.sig", rm_home(), hex);
	if (rm_read_file(p, SIG_MAX, &text, &len, &e) != 0)
		return 1;
	doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
	free(text);
	schema = json_string_value(json_object_get(doc, "schema"));
	s = json_object_get(doc, "signature");
	if (schema == NULL || strcmp(schema, SIG_SCHEMA) != 0 || s == NULL ||
	    !(json_is_null(s) || json_is_object(s))) {
		rm_warn("%s: not a signature record; reading the package instead", p);
		json_decref(doc);
		return 1;
	}
	if (json_is_object(s))
		*sigdoc = json_incref(s);
	json_decref(doc);
	return 0;
}

static void
now_iso(char *buf, size_t size)
{
	time_t t = time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* ---- refs.json ---------------------------------------------------------- */

static json_t *
index_load(void)
{
	char p[PATH_MAX];
	struct rm_err err;
	json_t *doc = NULL;

	rm_err_clear(&err);
	snprintf(p, sizeof(p), "%s/refs.json", rm_home());
	if (rm_is_file(p))
		doc = rm_doc_load(p, &err);
	if (!json_is_object(doc) || strcmp(json_string_value(json_object_get(doc, "schema")) ?
	    json_string_value(json_object_get(doc, "schema")) : "", REFS_SCHEMA) != 0) {
		if (doc != NULL)
			rm_warn("%s: not a cache index; starting a new one", p);
		json_decref(doc);
		doc = json_pack("{ss s{} s{}}", "schema", REFS_SCHEMA, "refs", "packages");
	}
	if (!json_is_object(json_object_get(doc, "refs")))
		json_object_set_new(doc, "refs", json_object());
	if (!json_is_object(json_object_get(doc, "packages")))
		json_object_set_new(doc, "packages", json_object());
	return doc;
}

typedef void (*index_edit)(json_t *doc, void *ctx);

/* Read-modify-write under refs.lock; written atomically. */
static int
index_update(index_edit fn, void *ctx, struct rm_err *err)
{
	char p[PATH_MAX], lk[PATH_MAX], *text;
	json_t *doc;
	int fd, r;

	snprintf(p, sizeof(p), "%s/refs.json", rm_home());
	snprintf(lk, sizeof(lk), "%s/refs.lock", rm_home());
	if ((r = rm_mkdir_p(rm_home(), 0700, err)) != 0)
		return r;
	if ((fd = rm_lock(lk, 1, 0, err)) < 0)
		return fd;
	rm_remove_stale_temps(p);	/* every writer holds refs.lock: these are dead ones' */
	doc = index_load();
	fn(doc, ctx);
	text = rm_json_dump_file(doc);
	r = text ? rm_write_atomic(p, text, strlen(text), 0600, err) :
	    rm_err_set(err, RM_EXIT_INTERNAL, p, NULL, "cannot encode");
	free(text);
	json_decref(doc);
	rm_unlock(fd);
	return r;
}

struct note {
	const char *ref, *manifest, *hex, *signature, *source;
};

static void
edit_note(json_t *doc, void *p)
{
	struct note *n = p;
	char ts[32];

	now_iso(ts, sizeof(ts));
	if (n->ref != NULL)
		json_object_set_new(json_object_get(doc, "refs"), n->ref, json_pack("{ss ss ss}",
		    "manifest", n->manifest ? n->manifest : "", "package", n->hex, "fetched_at", ts));
	if (n->hex != NULL && n->source != NULL) {
		json_t *e = json_pack("{ss ss}", "manifest", n->manifest ? n->manifest : "",
		    "source", n->source);
		if (n->signature)
			json_object_set_new(e, "signature", json_string(n->signature));
		json_object_set_new(json_object_get(doc, "packages"), n->hex, e);
	}
}

static void
edit_pushed(json_t *doc, void *p)
{
	const char **kv = p;

	if (!json_is_object(json_object_get(doc, "pushed")))
		json_object_set_new(doc, "pushed", json_object());
	json_object_set_new(json_object_get(doc, "pushed"), kv[0], json_pack("{ss ss}",
	    "manifest", kv[1], "package", kv[2]));
}

void
rm_cache_note_push(const char *ref, const char *manifest_digest, const char *pkg_digest)
{
	struct rm_err err;
	const char *kv[3] = { ref, manifest_digest, pkg_digest };

	/* remembered under "pushed" only: a push does not make a cache entry */
	rm_err_clear(&err);
	if (index_update(edit_pushed, (void *)kv, &err) != 0)
		rm_debug("cannot note the push: %s", err.msg);
}

json_t *
rm_cache_mount_candidates(const char *host, const char *repo)
{
	json_t *doc = index_load(), *out = json_array(), *v;
	const char *maps[] = { "pushed", "refs" }, *k;
	size_t i;

	for (i = 0; i < 2; i++) {
		json_object_foreach(json_object_get(doc, maps[i]), k, v) {
			struct rm_oci_ref r;
			struct rm_err err;
			size_t j;
			json_t *x;
			int dup = 0;
			rm_err_clear(&err);
			if (rm_oci_ref_parse(k, &r, &err) != 0 || strcmp(r.host, host) != 0 ||
			    strcmp(r.repo, repo) == 0)
				continue;
			json_array_foreach(out, j, x)
				if (strcmp(json_string_value(x), r.repo) == 0)
					dup = 1;
			if (!dup)
				json_array_append_new(out, json_string(r.repo));
		}
	}
	json_decref(doc);
	return out;
}

/* ---- fetching blobs ----------------------------------------------------- */

struct source {
	struct rm_oci *oci;		/* a registry, or ... */
	char layout[PATH_MAX];		/* ... an OCI image layout directory, or ... */
	const char *pkgfile;		/* ... a package file ... */
	const json_t *offsets;		/* ... with each blob's offset in it */
	const char *pkgsha;		/* its SHA-256, when known (hex), or NULL */
};

/*
 * Copies a blob from a layout (or the size bytes at off of a package file),
 * hashing while copying; renamed only when it matches.
 */
static int
copy_blob(const char *src, uint64_t off, const char *digest, uint64_t size, const char *dest,
    struct rm_err *err)
{
	char tmp[PATH_MAX], hex[RM_SHA256_HEX];
	unsigned char *buf;
	struct rm_sha256 *h;
	int in, out, r = 0;
	uint64_t got = 0;

	if ((in = open(src, O_RDONLY | O_CLOEXEC)) < 0)
		return rm_err_set(err, RM_EXIT_NOTFOUND, src, NULL, "cannot open: %s", strerror(errno));
	snprintf(tmp, sizeof(tmp), "%s.partial", dest);
	if ((out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0) {
		close(in);
		return rm_err_set(err, RM_EXIT_INVALID, tmp, NULL, "cannot create: %s", strerror(errno));
	}
	buf = malloc(1 << 20);
	h = rm_sha256_new();
	for (;;) {
		size_t want = size - got < (1 << 20) ? (size_t)(size - got) : (1 << 20);
		ssize_t n = want ? pread(in, buf, want, (off_t)(off + got)) : 0;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = rm_err_set(err, RM_EXIT_INVALID, src, NULL, "read error: %s", strerror(errno));
			break;
		}
		if (n == 0)
			break;
		rm_sha256_update(h, buf, (size_t)n);
		if (write(out, buf, (size_t)n) != n) {
			r = rm_err_set(err, RM_EXIT_INVALID, tmp, NULL, "write error: %s", strerror(errno));
			break;
		}
		got += (uint64_t)n;
		rm_oci_progress_add((uint64_t)n);
	}
	rm_sha256_final(h, hex);
	free(buf);
	close(in);
	if (r == 0 && (got != size || strcmp(hex, digest + 7) != 0))
		r = rm_err_set(err, RM_EXIT_INTEGRITY, src, NULL,
		    "refused: %llu bytes hashing to sha256:%s, expected %s (%llu bytes)",
		    (unsigned long long)got, hex, digest, (unsigned long long)size);
	if (r == 0 && fsync(out) != 0)
		r = rm_err_set(err, RM_EXIT_INVALID, tmp, NULL, "cannot write: %s", strerror(errno));
	close(out);
	if (r == 0 && rename(tmp, dest) != 0)
		r = rm_err_set(err, RM_EXIT_INVALID, dest, NULL, "cannot rename: %s", strerror(errno));
	if (r != 0)
		unlink(tmp);
	return r;
}

static int
blob_present(const char *path, uint64_t size)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && (uint64_t)st.st_size == size;
}

/*
 * A blob already in the cache is hashed again before a package is made from
 * it (the unpacked files are taken from the blobs, not re-hashed there): one
 * that no longer matches its name is removed, and fetched again.
 */
static int
blob_good(const char *path, const char *digest, uint64_t size)
{
	char hex[RM_SHA256_HEX];
	uint64_t got = 0;
	struct rm_err e;

	if (!blob_present(path, size))
		return 0;
	rm_err_clear(&e);
	if (rm_sha256_file(path, hex, &got, &e) == 0 && got == size &&
	    strcmp(hex, digest + 7) == 0)
		return 1;
	rm_warn("%s: cached blob does not match its digest; fetching it again", path);
	return 0;
}

/*
 * A verified blob is read-only: the unpacked files linked to it share its
 * inode, and a program opening one of them for writing is refused instead
 * of changing the blob under every package that uses it (rm-cache verify
 * finds a change made anyway, by root or after a chmod).
 */
static void
blob_seal(const char *path)
{
	struct stat st;

	if (stat(path, &st) == 0 && (st.st_mode & 0222) != 0)
		chmod(path, st.st_mode & 0555);
}

/* Gets one blob into the cache, under its lock (a second process waits, then finds it). */
static int
get_blob(struct source *s, struct rm_oci *oci, const char *digest, uint64_t size,
    struct rm_err *err)
{
	char dest[PATH_MAX], lk[PATH_MAX], src[PATH_MAX];
	int fd, r;

	snprintf(dest, sizeof(dest), "%s/blobs/sha256/%s", rm_home(), digest + 7);
	if (blob_good(dest, digest, size)) {
		blob_seal(dest);
		rm_oci_progress_add(size);
		return 0;
	}
	snprintf(lk, sizeof(lk), "%s.lock", dest);
	if ((fd = rm_lock(lk, 1, 0, err)) < 0)
		return fd;
	if (blob_good(dest, digest, size)) {
		rm_oci_progress_add(size);
		r = 0;
	} else if (unlink(dest) != 0 && errno != ENOENT) {
		/* a bad blob goes (an entry linked to it keeps its own name) */
		r = rm_err_set(err, RM_EXIT_INVALID, dest, NULL, "cannot remove: %s",
		    strerror(errno));
	} else if (oci != NULL)
		r = rm_oci_blob_fetch(oci, digest, size, dest, err);
	else if (s->pkgfile != NULL)
		r = copy_blob(s->pkgfile, (uint64_t)json_integer_value(json_object_get(s->offsets,
		    digest)), digest, size, dest, err);
	else {
		snprintf(src, sizeof(src), "%s/blobs/sha256/%s", s->layout, digest + 7);
		r = copy_blob(src, 0, digest, size, dest, err);
	}
	if (r == 0)
		blob_seal(dest);
	rm_unlock(fd);
	return r;
}

struct blob_job {
	pthread_mutex_t mu;
	struct source *src;
	const json_t *files;
	size_t next;
	int failed;
	struct rm_err err;
};

static void *
blob_worker(void *p)
{
	struct blob_job *j = p;
	struct rm_oci *o = j->src->oci ? rm_oci_dup(j->src->oci) : NULL;
	struct rm_err err;

	for (;;) {
		const json_t *f;
		int r;
		pthread_mutex_lock(&j->mu);
		if (j->failed || j->next >= json_array_size(j->files)) {
			pthread_mutex_unlock(&j->mu);
			break;
		}
		f = json_array_get(j->files, j->next++);
		pthread_mutex_unlock(&j->mu);
		rm_err_clear(&err);
		r = get_blob(j->src, o, json_string_value(json_object_get(f, "digest")),
		    (uint64_t)json_integer_value(json_object_get(f, "size")), &err);
		if (r != 0) {
			pthread_mutex_lock(&j->mu);
			if (!j->failed) {
				j->failed = 1;
				j->err = err;
				if (j->err.field[0] == '\0')
					snprintf(j->err.field, sizeof(j->err.field), "%s",
					    json_string_value(json_object_get(f, "path")));
			}
			pthread_mutex_unlock(&j->mu);
		}
	}
	rm_oci_close(o);
	return NULL;
}

static int
get_blobs(struct source *s, const json_t *files, const char *label, struct rm_err *err)
{
	struct blob_job j;
	pthread_t th[MAX_BLOB_JOBS];
	size_t i, n = json_array_size(files);
	int nth = 0, t;
	uint64_t total = 0;

	for (i = 0; i < n; i++)
		total += (uint64_t)json_integer_value(json_object_get(json_array_get(files, i), "size"));
	memset(&j, 0, sizeof(j));
	pthread_mutex_init(&j.mu, NULL);
	j.src = s;
	j.files = files;
	rm_oci_progress_begin(label, total);
	for (t = 0; t < MAX_BLOB_JOBS && (size_t)t < n; t++)
		if (pthread_create(&th[nth], NULL, blob_worker, &j) == 0)
			nth++;
	if (nth == 0)
		blob_worker(&j);
	for (t = 0; t < nth; t++)
		pthread_join(th[t], NULL);
	rm_oci_progress_end();
	pthread_mutex_destroy(&j.mu);
	if (j.failed) {
		*err = j.err;
		return -(err->code ? err->code : RM_EXIT_NETWORK);
	}
	return 0;
}

/* ---- installing --------------------------------------------------------- */


/* Leftovers of an install that was killed: temporaries named after hex. */
static void
remove_leftovers(const char *pipedir, const char *hex)
{
	DIR *d = opendir(pipedir);
	struct dirent *de;
	char p[PATH_MAX];
	size_t hl = strlen(hex);

	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, hex, hl) != 0)
			continue;
		if (strncmp(de->d_name + hl, ".tmp.", 5) == 0 ||
		    strncmp(de->d_name + hl, ".rmpkg.tmp.", 11) == 0 ||
		    strncmp(de->d_name + hl, ".sig.tmp.", 9) == 0 ||
		    strncmp(de->d_name + hl, ".layout.tmp.", 12) == 0 ||
		    strncmp(de->d_name + hl, ".new", 4) == 0 ||
		    strncmp(de->d_name + hl, ".old", 4) == 0) {
			snprintf(p, sizeof(p), "%s/%s", pipedir, de->d_name);
			rm_remove_tree(p);
		}
	}
	closedir(d);
}

/*
 * The layers a package was assembled from against its verified contents
 * list: every file but meta/contents.json (the package digest, checked by
 * rm_oci_package_layout) and meta/signature must be the blob of the SHA-256
 * and size the list gives it. Then every byte of the .rmpkg and of its
 * unpacked files is a blob verified against its digest.
 */
static int
cmp_pkg_file(const void *a, const void *b)
{
	return strcmp(((const struct rm_pkg_file *)a)->path, ((const struct rm_pkg_file *)b)->path);
}

static int
layers_match(const json_t *files, const struct rm_pkg *pkg, const char *where,
    struct rm_err *err)
{
	const json_t *f;
	size_t i;

	json_array_foreach(files, i, f) {
		const char *path = json_string_value(json_object_get(f, "path"));
		const char *dg = json_string_value(json_object_get(f, "digest"));
		uint64_t size = (uint64_t)json_integer_value(json_object_get(f, "size"));
		struct rm_pkg_file key;
		const struct rm_pkg_file *pf;
		if (strcmp(path, RM_PKG_CONTENTS) == 0 || strcmp(path, RM_PKG_SIGNATURE) == 0)
			continue;
		key.path = (char *)path;	/* the list is sorted by path (rm_pkg.h) */
		pf = bsearch(&key, pkg->files, pkg->nfiles, sizeof(*pkg->files), cmp_pkg_file);
		if (pf == NULL || strcmp(dg + 7, pf->sha256) != 0 || size != pf->size)
			return rm_err_set(err, RM_EXIT_INTEGRITY, where, NULL,
			    "refused: the layer for '%s' is %s (%llu bytes), the contents list says "
			    "sha256:%s (%llu bytes)", path, dg, (unsigned long long)size,
			    pf ? pf->sha256 : "(not listed)",
			    (unsigned long long)(pf ? pf->size : 0));
	}
	return 0;
}

/* Files of at least this size are unpacked as hard links to their blobs. */
#define LINK_MIN ((uint64_t)1 << 20)

/*
 * Makes pipelines/<hex> from pkgfile (pipelines/<hex>.rmpkg), assembled
 * from files (its layers, every one verified in blobs/sha256/): the files
 * are unpacked from those blobs, not from the archive. Caller holds the
 * lock.
 */
static int
install_pkgfile(const char *hex, const char *pkgfile, const json_t *files,
    struct rm_err *err)
{
	char pipedir[PATH_MAX], dir[PATH_MAX], newdir[PATH_MAX];
	char olddir[PATH_MAX];
	struct rm_pkg *pkg = NULL;
	int r;

	snprintf(pipedir, sizeof(pipedir), "%s/pipelines", rm_home());
	snprintf(dir, sizeof(dir), "%s/%s", pipedir, hex);
	snprintf(newdir, sizeof(newdir), "%s/%s.new", pipedir, hex);
	snprintf(olddir, sizeof(olddir), "%s/%s.old", pipedir, hex);
	pthread_mutex_lock(&install_mu);
	/* the package is loaded and verified before it becomes visible */
	if ((r = rm_pkg_open(pkgfile, 0, &pkg, err)) != 0)
		goto out;
	if (strcmp(pkg->digest, hex) != 0) {
		r = rm_err_set(err, RM_EXIT_INTEGRITY, pkgfile, NULL,
		    "refused: package digest is sha256:%s, expected sha256:%s", pkg->digest, hex);
		goto out;
	}
	{
		char blobdir[PATH_MAX];
		snprintf(blobdir, sizeof(blobdir), "%s/blobs/sha256", rm_home());
		if ((r = layers_match(files, pkg, pkgfile, err)) != 0 ||
		    (r = rm_pkg_extract_blobs(pkg, newdir, blobdir, LINK_MIN, err)) != 0)
			goto out;
	}
	/* the signature it was installed with, for each use (sig_read) */
	if ((r = sig_write(hex, pkg->signature, err)) != 0) {
		rm_remove_tree(newdir);
		goto out;
	}
	/*
	 * A directory there is the entry replaced (another signature), or one a
	 * killed install renamed into place before its layout record was
	 * written (the entry is not complete without it): moved aside either way.
	 */
	if (rm_is_dir(dir) && rename(dir, olddir) != 0) {
		r = rm_err_set(err, RM_EXIT_INVALID, dir, NULL, "cannot move aside: %s",
		    strerror(errno));
		rm_remove_tree(newdir);
		goto out;
	}
	if (rename(newdir, dir) != 0) {
		r = rm_err_set(err, RM_EXIT_INVALID, dir, NULL, "cannot rename into place: %s",
		    strerror(errno));
		rm_remove_tree(newdir);
		goto out;
	}
	{
		int fd = open(pipedir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd >= 0) {
			fsync(fd);
			close(fd);
		}
	}
	rm_remove_tree(olddir);
out:
	pthread_mutex_unlock(&install_mu);
	rm_pkg_free(pkg);
	return r;
}

static const char *
signature_digest(const json_t *files)
{
	size_t i;
	const json_t *f;

	json_array_foreach(files, i, f)
		if (strcmp(json_string_value(json_object_get(f, "path")), RM_PKG_SIGNATURE) == 0)
			return json_string_value(json_object_get(f, "digest"));
	return "";
}

/* The archive that files (a layout record's) and mtime make, without its data. */
static int
layout_map(const json_t *files, long long mtime, struct rm_pkg_map **m, struct rm_err *err)
{
	struct rm_pkg_writer *w;
	const json_t *f;
	size_t i;
	int r;

	*m = NULL;
	if ((r = rm_pkg_map_open((time_t)mtime, &w, err)) != 0)
		return r;
	json_array_foreach(files, i, f)
		if ((r = rm_pkg_map_add(w, json_string_value(json_object_get(f, "path")),
		    (uint64_t)json_integer_value(json_object_get(f, "size")),
		    (int)json_integer_value(json_object_get(f, "mode")), err)) != 0) {
			rm_pkg_writer_abort(w);
			return r;
		}
	return rm_pkg_map_finish(w, m, err);
}

/*
 * Is the package file at path byte for byte the archive that files and
 * mtime make (rm_pkg_map)? Its headers, padding and end are compared; its
 * data is what the blobs were copied from, each hash-checked, at the same
 * offsets when the headers agree. Then it is verified as it is, instead of
 * a copy made from the blobs.
 */
static int
pkgfile_is_layout(const char *path, const json_t *files, long long mtime)
{
	struct rm_pkg_map *m = NULL;
	unsigned char *buf = NULL;
	uint64_t pos = 0;
	struct stat st;
	struct rm_err e;
	size_t i;
	int fd, same = 0;

	rm_err_clear(&e);
	if (layout_map(files, mtime, &m, &e) != 0)
		return 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) >= 0 && fstat(fd, &st) == 0 &&
	    (uint64_t)st.st_size == m->total && (buf = malloc(m->lit_len + 1)) != NULL) {
		same = 1;
		for (i = 0; same && i <= m->n; i++) {
			uint64_t off = i < m->n ? m->ent[i].lit_off : m->tail_off;
			uint64_t len = i < m->n ? m->ent[i].lit_len : m->tail_len;
			same = pread(fd, buf, (size_t)len, (off_t)pos) == (ssize_t)len &&
			    memcmp(buf, m->lit + off, (size_t)len) == 0;
			pos += len + (i < m->n ? m->ent[i].size : 0);
		}
	}
	if (fd >= 0)
		close(fd);
	free(buf);
	rm_pkg_map_free(m);
	return same;
}

/* Blobs, then the .rmpkg, then the verified directory. */
static int
install_oci(struct source *s, const json_t *files, const char *pkgdigest, long long mtime,
    const char *manifest_digest, const char *label, const char *source, int *was_cached,
    struct rm_err *err)
{
	char pipedir[PATH_MAX], rmpkg[PATH_MAX], lk[PATH_MAX], blobdir[PATH_MAX];
	const char *hex = pkgdigest + 7, *sig = signature_digest(files);
	json_t *idx, *known;
	int fd, r, made = 1;

	*was_cached = 0;
	if ((r = home_dir(pipedir, sizeof(pipedir), "pipelines", err)) != 0 ||
	    (r = home_dir(blobdir, sizeof(blobdir), "blobs/sha256", err)) != 0)
		return r;
	snprintf(rmpkg, sizeof(rmpkg), "%s/%s.rmpkg", pipedir, hex);
	snprintf(lk, sizeof(lk), "%s/%s.lock", pipedir, hex);
	if ((fd = rm_lock(lk, 1, 0, err)) < 0)
		return fd;
	idx = index_load();
	known = json_object_get(json_object_get(idx, "packages"), hex);
	if (entry_complete(hex)) {
		const char *ks = json_string_value(json_object_get(known, "signature"));
		if (ks == NULL || strcmp(ks, sig) == 0) {
			*was_cached = 1;
			json_decref(idx);
			r = 0;
			goto done;
		}
		/* same contents, another signature upstream: replace the entry */
		rm_info("sha256:%s: the signature changed upstream; fetching it again", hex);
	}
	json_decref(idx);
	remove_leftovers(pipedir, hex);
	if ((r = get_blobs(s, files, label, err)) != 0)
		goto out;
	rm_oci_progress_phase(label, "verifying and installing");
	/* a package file that is what the blobs make is not made again from them */
	if (s->pkgfile != NULL && pkgfile_is_layout(s->pkgfile, files, mtime)) {
		snprintf(rmpkg, sizeof(rmpkg), "%s", s->pkgfile);
		made = 0;
		rm_debug("%s: what its blobs make, byte for byte: verified as it is", rmpkg);
	} else if ((r = rm_oci_package_assemble(files, mtime, blobdir, rmpkg, err)) != 0)
		goto out;
	if ((r = install_pkgfile(hex, rmpkg, files, err)) != 0) {
		if (made)
			unlink(rmpkg);
		goto out;
	}
	/* the blobs are the package now: the .rmpkg is made again when asked for */
	if ((r = layout_write(hex, files, mtime, made ? NULL : s->pkgsha, err)) != 0)
		goto out;
	if (made)
		unlink(rmpkg);
done:
	{
		struct note n = { NULL, manifest_digest, hex, sig, source };
		if (!*was_cached)
			r = index_update(edit_note, &n, err);
	}
out:
	rm_unlock(fd);
	return r;
}

/*
 * Writes pipelines/<hex>.rmpkg from the entry's blobs as its layout record
 * lists them, and checks the result is the package (digest and contents),
 * when it is not there already. Caller holds the entry's lock.
 */
static int
package_assemble(const char *hex, const char *out, struct rm_err *err)
{
	char blobdir[PATH_MAX];
	json_t *files = NULL;
	struct rm_pkg *pkg = NULL;
	long long mtime = 0;
	int r;

	snprintf(blobdir, sizeof(blobdir), "%s/blobs/sha256", rm_home());
	if ((r = layout_read(hex, &files, &mtime, err)) != 0)
		return r < 0 ? r : rm_err_set(err, RM_EXIT_NOTFOUND, out, NULL,
		    "no package file and no layout record to make it from");
	pthread_mutex_lock(&install_mu);
	r = rm_oci_package_assemble(files, mtime, blobdir, out, err);
	if (r == 0 && (r = rm_pkg_open(out, RM_PKG_VERIFY | RM_PKG_NO_POLICY, &pkg, err)) == 0 &&
	    strcmp(pkg->digest, hex) != 0)
		r = rm_err_set(err, RM_EXIT_INTEGRITY, out, NULL, "refused: the cached blobs "
		    "make sha256:%s", pkg->digest);
	pthread_mutex_unlock(&install_mu);
	if (r != 0) {
		unlink(out);
		if (err->code == RM_EXIT_INTEGRITY || err->code == RM_EXIT_NOTFOUND)
			snprintf(err->msg + strlen(err->msg), sizeof(err->msg) - strlen(err->msg),
			    "; the cached blobs no longer make package sha256:%.12s...: 'rm-cache "
			    "clear' it and fetch it again", hex);
	}
	rm_pkg_free(pkg);
	json_decref(files);
	return r;
}

static int
package_make_locked(const char *hex, struct rm_err *err)
{
	char rmpkg[PATH_MAX];

	snprintf(rmpkg, sizeof(rmpkg), "%s/pipelines/%s.rmpkg", rm_home(), hex);
	if (rm_is_file(rmpkg))
		return 0;
	return package_assemble(hex, rmpkg, err);
}

static int
package_make(const char *hex, struct rm_err *err)
{
	char lk[PATH_MAX];
	int fd, r;

	snprintf(lk, sizeof(lk), "%s/pipelines/%s.lock", rm_home(), hex);
	if ((fd = rm_lock(lk, 1, 0, err)) < 0)
		return fd;
	r = package_make_locked(hex, err);
	rm_unlock(fd);
	return r;
}

int
rm_cache_package(const char *hex, char *pkgpath, size_t size, struct rm_err *err)
{
	int r;

	if (strlen(hex) != 64 || !is_hex(hex, 64) || !entry_complete(hex))
		return rm_err_set(err, RM_EXIT_NOTFOUND, hex, NULL, "not in the cache");
	if ((r = package_make(hex, err)) != 0)
		return r;
	return rm_path(pkgpath, size, err, "%s/pipelines/%s.rmpkg", rm_home(), hex);
}

/* ---- a package read from its blobs (rm_cache_package_open) ------------- */

struct rm_cache_pkg {
	char hex[RM_SHA256_HEX];
	int fd;			/* the .rmpkg, or -1: then map and the blobs */
	struct rm_pkg_map *map;
	int *blob;		/* one per map entry */
	json_t *files;		/* the layout record's, for the digests */
	uint64_t pos, size, off;
	size_t sec;		/* entry i's header is section 2i, its data 2i + 1 */
	struct rm_sha256 *h;	/* the blob being read */
	char sha[RM_SHA256_HEX];	/* the package file's, as recorded, or "" */
};

void
rm_cache_package_close(struct rm_cache_pkg *k)
{
	size_t i;
	char sum[RM_SHA256_HEX];

	if (k == NULL)
		return;
	if (k->fd >= 0)
		close(k->fd);
	for (i = 0; k->blob != NULL && k->map != NULL && i < k->map->n; i++)
		if (k->blob[i] >= 0)
			close(k->blob[i]);
	if (k->h != NULL)
		rm_sha256_final(k->h, sum);
	free(k->blob);
	rm_pkg_map_free(k->map);
	json_decref(k->files);
	free(k);
}

/*
 * Room for n more open files: the soft limit raised toward the hard one, as
 * a program that needs many descriptors is expected to do (the default soft
 * limit, 1024, is kept low for select(); nothing here uses select).
 */
static void
fd_room(size_t n)
{
	struct rlimit rl;
	rlim_t want = (rlim_t)n + 256;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY ||
	    rl.rlim_cur >= want)
		return;
	rl.rlim_cur = rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want ? rl.rlim_max : want;
	(void)setrlimit(RLIMIT_NOFILE, &rl);
}

/*
 * The map of the layout's archive and every blob open (a remove or gc after
 * the lock is let go breaks no read); caller holds the lock.
 */
static int
package_open_blobs(struct rm_cache_pkg *k, long long mtime, struct rm_err *err)
{
	const json_t *f;
	size_t i;
	int r;

	if ((r = layout_map(k->files, mtime, &k->map, err)) != 0)
		return r;
	fd_room(k->map->n);
	if ((k->blob = malloc((k->map->n + 1) * sizeof(int))) == NULL)
		return rm_err_set(err, RM_EXIT_INTERNAL, NULL, NULL, "out of memory");
	for (i = 0; i < k->map->n; i++)
		k->blob[i] = -1;
	json_array_foreach(k->files, i, f) {
		const char *dg = json_string_value(json_object_get(f, "digest"));
		char p[PATH_MAX];
		struct stat st;
		snprintf(p, sizeof(p), "%s/blobs/sha256/%s", rm_home(), dg + 7);
		if ((k->blob[i] = open(p, O_RDONLY | O_CLOEXEC)) < 0 || fstat(k->blob[i], &st) != 0)
			return rm_err_set(err, RM_EXIT_NOTFOUND, p, NULL, "cannot open: %s; the "
			    "cached blobs no longer make package sha256:%.12s...: 'rm-cache clear' "
			    "it and fetch it again", strerror(errno), k->hex);
		if ((uint64_t)st.st_size != k->map->ent[i].size)
			return rm_err_set(err, RM_EXIT_INTEGRITY, p, NULL, "refused: %lld bytes, the "
			    "layout record says %llu", (long long)st.st_size,
			    (unsigned long long)k->map->ent[i].size);
#ifdef POSIX_FADV_SEQUENTIAL
		posix_fadvise(k->blob[i], 0, 0, POSIX_FADV_SEQUENTIAL);
#endif
	}
	k->size = k->map->total;
	return 0;
}

/*
 * The .rmpkg, or the layout record and its blobs (with blobs 0, only the
 * size they make: nothing but the record is read): under the entry's lock.
 */
static int
package_open_locked(struct rm_cache_pkg *k, int blobs, struct rm_err *err)
{
	char p[PATH_MAX], want[80];
	long long mtime = 0;
	struct stat st;
	const json_t *f;
	size_t i;
	int r, contents = 0;

	if (!entry_complete(k->hex))
		return rm_err_set(err, RM_EXIT_NOTFOUND, k->hex, NULL, "not in the cache");
	snprintf(p, sizeof(p), "%s/pipelines/%s.rmpkg", rm_home(), k->hex);
	if ((k->fd = open(p, O_RDONLY | O_CLOEXEC)) >= 0) {
		if (fstat(k->fd, &st) != 0)
			return rm_err_set(err, RM_EXIT_INVALID, p, NULL, "cannot stat: %s",
			    strerror(errno));
		k->size = (uint64_t)st.st_size;
		return 0;
	}
	if ((r = layout_load(k->hex, &k->files, &mtime, k->sha, err)) != 0)
		return r < 0 ? r : rm_err_set(err, RM_EXIT_NOTFOUND, p, NULL,
		    "no package file and no layout record to make it from");
	/* its meta/contents.json is the package digest: the package asked for */
	snprintf(want, sizeof(want), "sha256:%s", k->hex);
	json_array_foreach(k->files, i, f)
		if (strcmp(json_string_value(json_object_get(f, "path")), RM_PKG_CONTENTS) == 0)
			contents = strcmp(json_string_value(json_object_get(f, "digest")), want) == 0;
	if (!contents)
		return rm_err_set(err, RM_EXIT_INTEGRITY, p, NULL, "refused: the layout record "
		    "of sha256:%.12s... does not make that package", k->hex);
	if (!blobs) {
		if ((r = layout_map(k->files, mtime, &k->map, err)) == 0)
			k->size = k->map->total;
		return r;
	}
	return package_open_blobs(k, mtime, err);
}

static int
package_open(const char *hex, int blobs, struct rm_cache_pkg **out, uint64_t *size,
    struct rm_err *err)
{
	struct rm_cache_pkg *k;
	char lk[PATH_MAX];
	int lfd, r;

	*out = NULL;
	*size = 0;
	if (strlen(hex) != 64 || !is_hex(hex, 64))
		return rm_err_set(err, RM_EXIT_NOTFOUND, hex, NULL, "not in the cache");
	if ((k = calloc(1, sizeof(*k))) == NULL)
		return rm_err_set(err, RM_EXIT_INTERNAL, NULL, NULL, "out of memory");
	k->fd = -1;
	memcpy(k->hex, hex, sizeof(k->hex));
	/*
	 * Shared, against the writers of the entry (install, remove): opened
	 * read-only, since reading writes nothing, not even a lock file; one
	 * that is not there yet was never taken.
	 */
	snprintf(lk, sizeof(lk), "%s/pipelines/%s.lock", rm_home(), hex);
	if ((lfd = open(lk, O_RDONLY | O_CLOEXEC)) >= 0)
		while (flock(lfd, LOCK_SH) != 0 && errno == EINTR)
			;
	r = package_open_locked(k, blobs, err);
	if (lfd >= 0)
		close(lfd);
	if (r != 0) {
		rm_cache_package_close(k);
		return r;
	}
	*size = k->size;
	*out = k;
	return 0;
}

int
rm_cache_package_open(const char *hex, struct rm_cache_pkg **out, uint64_t *size,
    struct rm_err *err)
{
	return package_open(hex, 1, out, size, err);
}

int
rm_cache_package_size(const char *hex, uint64_t *size, struct rm_err *err)
{
	struct rm_cache_pkg *k;
	int r;

	if ((r = package_open(hex, 0, &k, size, err)) == 0)
		rm_cache_package_close(k);
	return r;
}

const char *
rm_cache_package_sha256(const struct rm_cache_pkg *k)
{
	return k->sha[0] != '\0' ? k->sha : NULL;
}

/*
 * Where reading goes on from, at or before off: the start of the blob that
 * holds off (a blob is checked whole), or off itself in the bytes around
 * the blobs. Nothing before it is read, nor checked.
 */
uint64_t
rm_cache_package_seek(struct rm_cache_pkg *k, uint64_t off)
{
	uint64_t at = 0;

	/* only before the first read */
	if (k->pos != 0)
		return k->pos;
	if (off > k->size)
		off = k->size;
	if (k->fd >= 0)
		return k->pos = off;
	for (k->sec = 0; k->sec <= 2 * k->map->n; k->sec++) {
		size_t i = k->sec / 2;
		int data = k->sec % 2 == 1 && i < k->map->n;
		uint64_t len = k->sec == 2 * k->map->n ? k->map->tail_len :
		    data ? k->map->ent[i].size : k->map->ent[i].lit_len;
		if (at + len > off || k->sec == 2 * k->map->n) {
			k->off = data ? 0 : off - at;
			break;
		}
		at += len;
	}
	k->pos = at + k->off;
	return k->pos;
}

/* Entry i's blob read to its end: its bytes must be its digest. */
static int
blob_check(struct rm_cache_pkg *k, size_t i, struct rm_err *err)
{
	const json_t *f = json_array_get(k->files, i);
	const char *dg = json_string_value(json_object_get(f, "digest"));
	char sum[RM_SHA256_HEX];

	if (k->h == NULL)
		k->h = rm_sha256_new();
	rm_sha256_final(k->h, sum);
	k->h = NULL;
	if (strcmp(sum, dg + 7) != 0)
		return rm_err_set(err, RM_EXIT_INTEGRITY, NULL, NULL, "refused: the cached blob "
		    "of '%s' in package sha256:%.12s... hashes to sha256:%s, not %s; 'rm-cache "
		    "clear' it and fetch it again", json_string_value(json_object_get(f, "path")),
		    k->hex, sum, dg);
	return 0;
}

int
rm_cache_package_read(struct rm_cache_pkg *k, void *buf, size_t len, size_t *got,
    struct rm_err *err)
{
	unsigned char *b = buf;
	int r;

	*got = 0;
	if (k->fd >= 0) {
		ssize_t n = len == 0 || k->pos >= k->size ? 0 : pread(k->fd, b, len, (off_t)k->pos);
		if (n < 0)
			return rm_err_set(err, RM_EXIT_INVALID, k->hex, NULL, "cannot read the "
			    "package: %s", strerror(errno));
		k->pos += (uint64_t)n;
		*got = (size_t)n;
		return 0;
	}
	while (*got < len && k->sec <= 2 * k->map->n) {
		size_t i = k->sec / 2, n;
		int data = k->sec % 2 == 1 && i < k->map->n;
		uint64_t seclen = k->sec == 2 * k->map->n ? k->map->tail_len :
		    data ? k->map->ent[i].size : k->map->ent[i].lit_len;
		if (k->off == seclen) {
			if (data && (r = blob_check(k, i, err)) != 0)
				return r;
			k->sec++;
			k->off = 0;
			continue;
		}
		n = seclen - k->off < len - *got ? (size_t)(seclen - k->off) : len - *got;
		if (!data)
			memcpy(b + *got, k->map->lit + (k->sec == 2 * k->map->n ? k->map->tail_off :
			    k->map->ent[i].lit_off) + k->off, n);
		else {
			ssize_t m = pread(k->blob[i], b + *got, n, (off_t)k->off);
			if (m <= 0)
				return rm_err_set(err, RM_EXIT_INTEGRITY, NULL, NULL, "cannot read the "
				    "cached blob of '%s': %s", json_string_value(json_object_get(
				    json_array_get(k->files, i), "path")), m < 0 ? strerror(errno) :
				    "it shrank");
			n = (size_t)m;
			if (k->h == NULL)
				k->h = rm_sha256_new();
			rm_sha256_update(k->h, b + *got, n);
		}
		k->off += n;
		k->pos += n;
		*got += n;
	}
	return 0;
}

/* ---- references ---------------------------------------------------------- */

static json_t *
result_for(const char *ref, const char *hex, const char *manifest, int cached)
{
	char dir[PATH_MAX], pkg[PATH_MAX];

	json_t *res;

	snprintf(dir, sizeof(dir), "%s/pipelines/%s", rm_home(), hex);
	snprintf(pkg, sizeof(pkg), "%s/pipelines/%s.rmpkg", rm_home(), hex);
	res = json_pack("{ss ss+ ss ss sb}", "ref", ref, "digest", "sha256:", hex, "path", dir,
	    "manifest", manifest ? manifest : "", "cached", cached);
	/* the package file when there is one (RM_CACHE_PACKAGE makes it) */
	if (res != NULL && rm_is_file(pkg))
		json_object_set_new(res, "package", json_string(pkg));
	return res;
}

/* A cached package by digest or unique prefix (no network). 1: none. */
static int
lookup_digest(const char *s, char hex[RM_SHA256_HEX], struct rm_err *err)
{
	char pipedir[PATH_MAX];
	const char *h = strncmp(s, "sha256:", 7) == 0 ? s + 7 : s;
	size_t hl = strlen(h);
	DIR *d;
	struct dirent *de;
	int found = 0;

	snprintf(pipedir, sizeof(pipedir), "%s/pipelines", rm_home());
	if ((d = opendir(pipedir)) == NULL)
		return 1;
	while ((de = readdir(d)) != NULL) {
		if (strlen(de->d_name) != 64 || !is_hex(de->d_name, 64) ||
		    strncmp(de->d_name, h, hl) != 0 || !entry_complete(de->d_name))
			continue;
		if (found++) {
			closedir(d);
			return rm_err_set(err, RM_EXIT_USAGE, NULL, NULL,
			    "'%s' matches more than one cached package; give more digits", s);
		}
		memcpy(hex, de->d_name, 65);
	}
	closedir(d);
	return found ? 0 : 1;
}

static int
looks_like_digest(const char *s)
{
	const char *h = strncmp(s, "sha256:", 7) == 0 ? s + 7 : s;
	size_t n = strlen(h);

	return n >= 12 && n <= 64 && is_hex(h, n) && !rm_is_file(s);
}

/* DIR, DIR:TAG or oci:DIR[:TAG] naming an OCI image layout; 0 if it is one. */
static int
layout_ref(const char *ref, char *dir, size_t dsize, char *tag, size_t tsize)
{
	char buf[PATH_MAX], *colon, lay[PATH_MAX + 20];
	const char *s = strncmp(ref, "oci:", 4) == 0 && strncmp(ref, "oci://", 6) != 0 ?
	    ref + 4 : ref;

	snprintf(buf, sizeof(buf), "%s", s);
	tag[0] = '\0';
	snprintf(lay, sizeof(lay), "%s/oci-layout", buf);
	if (!rm_is_file(lay) && (colon = strrchr(buf, ':')) != NULL) {
		*colon = '\0';
		snprintf(tag, tsize, "%s", colon + 1);
		snprintf(lay, sizeof(lay), "%s/oci-layout", buf);
	}
	if (!rm_is_file(lay))
		return -1;
	snprintf(dir, dsize, "%s", buf);
	return 0;
}

static int
read_json_file(const char *path, size_t max, json_t **doc, char **raw, size_t *rawlen,
    struct rm_err *err)
{
	char *text;
	size_t len;
	json_error_t je;
	int r;

	*doc = NULL;
	if ((r = rm_read_file(path, max, &text, &len, err)) != 0)
		return r;
	*doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
	if (*doc == NULL) {
		free(text);
		return rm_err_setpos(err, RM_EXIT_INVALID, path, je.line, je.column, NULL, "%s",
		    je.text);
	}
	if (raw) {
		*raw = text;
		*rawlen = len;
	} else
		free(text);
	return 0;
}

static int
store_manifest(const char *digest, const char *data, size_t len, struct rm_err *err)
{
	char p[PATH_MAX];
	int r;

	if ((r = home_dir(p, sizeof(p), "blobs/sha256", err)) != 0)
		return r;
	snprintf(p + strlen(p), sizeof(p) - strlen(p), "/%s", digest + 7);
	if (rm_is_file(p))
		return 0;
	return rm_write_atomic(p, data, len, 0644, err);
}

static int
fetch_layout(const char *ref, const char *dir, const char *tag, int flags, json_t **result,
    struct rm_err *err)
{
	char p[PATH_MAX], mdigest[80], pkgdigest[80], hex[RM_SHA256_HEX];
	json_t *index = NULL, *m = NULL, *files = NULL, *desc = NULL, *d;
	char *raw = NULL;
	size_t rawlen = 0, i;
	long long mtime;
	struct source s;
	int r, cached = 0;

	(void)flags;
	snprintf(p, sizeof(p), "%s/index.json", dir);
	if ((r = read_json_file(p, 4 << 20, &index, NULL, NULL, err)) != 0)
		return r;
	json_array_foreach(json_object_get(index, "manifests"), i, d) {
		const char *name = json_string_value(json_object_get(json_object_get(d, "annotations"),
		    "org.opencontainers.image.ref.name"));
		if (tag[0] ? (name != NULL && strcmp(name, tag) == 0) :
		    json_array_size(json_object_get(index, "manifests")) == 1) {
			desc = d;
			break;
		}
	}
	if (desc == NULL || !rm_oci_digest_ok(json_string_value(json_object_get(desc, "digest")) ?
	    json_string_value(json_object_get(desc, "digest")) : "")) {
		r = rm_err_set(err, RM_EXIT_NOTFOUND, p, "manifests", tag[0] ?
		    "no manifest tagged '%s'" : "%s", tag[0] ? tag :
		    "several manifests: name one with DIR:TAG");
		goto out;
	}
	snprintf(mdigest, sizeof(mdigest), "%s", json_string_value(json_object_get(desc, "digest")));
	snprintf(p, sizeof(p), "%s/blobs/sha256/%s", dir, mdigest + 7);
	if ((r = read_json_file(p, 4 << 20, &m, &raw, &rawlen, err)) != 0)
		goto out;
	rm_sha256_hex(raw, rawlen, hex);
	if (strcmp(hex, mdigest + 7) != 0) {
		r = rm_err_set(err, RM_EXIT_INTEGRITY, p, NULL, "refused: manifest hashes to sha256:%s",
		    hex);
		goto out;
	}
	if ((r = rm_oci_package_layout(m, p, &files, pkgdigest, &mtime, err)) != 0)
		goto out;
	if ((r = store_manifest(mdigest, raw, rawlen, err)) != 0)
		goto out;
	memset(&s, 0, sizeof(s));
	snprintf(s.layout, sizeof(s.layout), "%s", dir);
	{
		char src[PATH_MAX + 8];
		snprintf(src, sizeof(src), "layout:%s", dir);
		if ((r = install_oci(&s, files, pkgdigest, mtime, mdigest, ref, src, &cached,
		    err)) != 0)
			goto out;
	}
	*result = result_for(ref, pkgdigest + 7, mdigest, cached);
out:
	free(raw);
	json_decref(index);
	json_decref(m);
	json_decref(files);
	return r;
}

static int
fetch_remote(const char *refstr, int flags, json_t **result, struct rm_err *err)
{
	struct rm_oci_ref ref;
	struct rm_oci *o = NULL;
	char key[1200], mdigest[80], pkgdigest[80];
	char *raw = NULL;
	size_t rawlen;
	json_t *m = NULL, *files = NULL;
	json_error_t je;
	long long mtime;
	struct source s;
	int r, cached = 0;

	if ((r = rm_oci_ref_parse(refstr, &ref, err)) != 0)
		return r;
	rm_oci_ref_str(&ref, key, sizeof(key));
	if (!(flags & RM_CACHE_REFRESH)) {
		/* a reference seen before: no network at all */
		json_t *idx = index_load();
		json_t *e = json_object_get(json_object_get(idx, "refs"), key);
		const char *hex = json_string_value(json_object_get(e, "package"));
		if (hex != NULL && strlen(hex) == 64 && is_hex(hex, 64) && entry_complete(hex)) {
			*result = result_for(key, hex, json_string_value(json_object_get(e, "manifest")),
			    1);
			json_decref(idx);
			return 0;
		}
		json_decref(idx);
	}
	if (flags & RM_CACHE_OFFLINE)
		return rm_err_set(err, RM_EXIT_NEGATIVE, key, NULL,
		    "not in the cache, and --offline forbids fetching it");
	if ((r = rm_oci_open(&ref, (flags & RM_CACHE_INSECURE) != 0, 0, &o, err)) != 0)
		goto out;
	if ((r = rm_oci_manifest_get(o, ref.digest[0] ? ref.digest : ref.tag, &raw, &rawlen,
	    mdigest, err)) != 0)
		goto out;
	if ((m = json_loadb(raw, rawlen, JSON_REJECT_DUPLICATES, &je)) == NULL) {
		r = rm_err_set(err, RM_EXIT_INVALID, key, NULL, "manifest is not JSON: %s", je.text);
		goto out;
	}
	if ((r = rm_oci_package_layout(m, key, &files, pkgdigest, &mtime, err)) != 0)
		goto out;
	if ((r = store_manifest(mdigest, raw, rawlen, err)) != 0)
		goto out;
	memset(&s, 0, sizeof(s));
	s.oci = o;
	if ((r = install_oci(&s, files, pkgdigest, mtime, mdigest, key, key, &cached, err)) != 0)
		goto out;
	{
		struct note n = { key, mdigest, pkgdigest + 7, NULL, NULL };
		if ((r = index_update(edit_note, &n, err)) != 0)
			goto out;
	}
	*result = result_for(key, pkgdigest + 7, mdigest, cached);
out:
	rm_oci_close(o);
	free(raw);
	json_decref(m);
	json_decref(files);
	return r;
}

/*
 * A package file is installed as a package from a layout would be: its
 * files copied into blobs (hashed), the package made from them, verified
 * and unpacked with links to the large ones, then kept as its blobs alone.
 * want (may be NULL): the digest it must have ("sha256:HEX"), checked
 * before anything is stored. pkgdigest: what it is.
 */
static int
install_pkgfile_blobs(const char *path, const char *want, const char *pkgsha,
    const char *source, char pkgdigest[80], int *cached, struct rm_err *err)
{
	json_t *files = NULL, *offsets = NULL, *f;
	long long mtime = 0;
	struct source s;
	size_t i;
	int r;

	*cached = 0;
	if ((r = rm_oci_package_files(path, &files, pkgdigest, &mtime, err)) != 0)
		return r;
	if (want != NULL && strcmp(pkgdigest, want) != 0) {
		json_decref(files);
		return rm_err_set(err, RM_EXIT_INTEGRITY, path, NULL, "refused: the package is "
		    "%s, expected %s", pkgdigest, want);
	}
	offsets = json_object();
	json_array_foreach(files, i, f) {
		json_object_set(offsets, json_string_value(json_object_get(f, "digest")),
		    json_object_get(f, "offset"));
		json_object_del(f, "offset");
	}
	memset(&s, 0, sizeof(s));
	s.pkgfile = path;
	s.offsets = offsets;
	s.pkgsha = pkgsha;
	r = install_oci(&s, files, pkgdigest, mtime, NULL, path, source, cached, err);
	json_decref(offsets);
	json_decref(files);
	return r;
}

static int
fetch_pkgfile(const char *path, json_t **result, struct rm_err *err)
{
	char pkgdigest[80];
	int r, cached;

	r = install_pkgfile_blobs(path, NULL, NULL, "file", pkgdigest, &cached, err);
	if (r == 0)
		*result = result_for(path, pkgdigest + 7, NULL, cached);
	return r;
}

/*
 * The signature of an entry cached without its .sig (by an older version,
 * or the record was damaged): read from the package, the sidecar written
 * then, under the entry's lock.
 */
static int
sig_from_package(const char *hex, json_t **sigdoc, struct rm_err *err)
{
	char p[PATH_MAX], lk[PATH_MAX];
	struct rm_pkg *pkg = NULL;
	int fd, r;

	*sigdoc = NULL;
	snprintf(p, sizeof(p), "%s/pipelines/%s.rmpkg", rm_home(), hex);
	snprintf(lk, sizeof(lk), "%s/pipelines/%s.lock", rm_home(), hex);
	if ((fd = rm_lock(lk, 1, 0, err)) < 0)
		return fd;
	if ((r = package_make_locked(hex, err)) != 0) {
		rm_unlock(fd);
		return r;
	}
	pthread_mutex_lock(&install_mu);
	r = rm_pkg_open(p, RM_PKG_NO_POLICY, &pkg, err);
	pthread_mutex_unlock(&install_mu);
	if (r == 0 && strcmp(pkg->digest, hex) != 0)
		r = rm_err_set(err, RM_EXIT_INTEGRITY, p, NULL, "refused: the cached package "
		    "holds sha256:%s, not sha256:%s; 'rm-cache clear' it", pkg->digest, hex);
	if (r == 0 && (r = sig_write(hex, pkg->signature, err)) == 0)
		*sigdoc = json_incref(pkg->signature);
	rm_unlock(fd);
	rm_pkg_free(pkg);
	return r;
}

/*
 * The signature policy, applied again each time a cached entry is handed
 * out: the entry may have been cached in development mode, or its signer
 * taken out of trust/ since. The signature recorded with the entry is
 * checked against its digest (its name, proven when it was installed) and
 * the trust store as it is now; nothing is hashed again, and the package
 * is not opened. In production an unsigned or untrusted package is
 * refused; an invalid signature always. result gains "signature" (and
 * "signer").
 */
static int
entry_trusted(const char *ref, const char *hex, json_t *result, struct rm_err *err)
{
	char p[PATH_MAX], via[1200] = "";
	struct rm_sig_info sig;
	json_t *sigdoc = NULL;
	int r = 0;

	snprintf(p, sizeof(p), "%s/pipelines/%s.rmpkg", rm_home(), hex);
	if (strstr(ref, hex) == NULL)
		snprintf(via, sizeof(via), " (%s)", ref);
	if (sig_read(hex, &sigdoc) != 0 && (r = sig_from_package(hex, &sigdoc, err)) != 0)
		return r;
	rm_sig_check(sigdoc, hex, &sig);
	json_decref(sigdoc);
	if (sig.status == RM_SIG_INVALID)
		r = rm_err_set(err, RM_EXIT_INTEGRITY, p, RM_PKG_SIGNATURE, "refused: cached "
		    "package sha256:%s%s has an invalid signature: %s", hex, via, sig.reason);
	else if (sig.status == RM_SIG_UNSIGNED && rm_mode() == RM_MODE_PRODUCTION)
		r = rm_err_set(err, RM_EXIT_INTEGRITY, p, RM_PKG_SIGNATURE, "refused in production "
		    "mode: cached package sha256:%s%s is unsigned (cached in development mode?)",
		    hex, via);
	else if (sig.status != RM_SIG_VALID && rm_mode() == RM_MODE_PRODUCTION)
		r = rm_err_set(err, RM_EXIT_INTEGRITY, p, RM_PKG_SIGNATURE, "refused in production "
		    "mode: cached package sha256:%s%s is signed, but not by a key trusted now: %s",
		    hex, via, sig.reason);
	if (r == 0) {
		json_object_set_new(result, "signature", json_string(rm_sig_status_name(sig.status)));
		if (sig.status == RM_SIG_VALID)
			json_object_set_new(result, "signer", json_string(sig.signer));
	}
	return r;
}

static int
fetch_any(const char *ref, int flags, json_t **result, struct rm_err *err)
{
	char dir[PATH_MAX], tag[256], hex[RM_SHA256_HEX];
	int r;

	if (strncmp(ref, "oci://", 6) == 0)
		return fetch_remote(ref, flags, result, err);
	if (layout_ref(ref, dir, sizeof(dir), tag, sizeof(tag)) == 0)
		return fetch_layout(ref, dir, tag, flags, result, err);
	if (looks_like_digest(ref)) {
		if ((r = lookup_digest(ref, hex, err)) < 0)
			return r;
		if (r == 1)
			return rm_err_set(err, RM_EXIT_NOTFOUND, ref, NULL, "no cached package with "
			    "this digest");
		*result = result_for(ref, hex, NULL, 1);
		return 0;
	}
	if (rm_is_file(ref))
		return fetch_pkgfile(ref, result, err);
	return rm_err_set(err, RM_EXIT_NOTFOUND, ref, NULL,
	    "expected oci://HOST/REPO[:TAG|@DIGEST], an OCI image layout directory, a cached "
	    "digest or a .rmpkg file");
}

static int fetch_from_peers(const char *ref, int flags, json_t **result, struct rm_err *err);

int
rm_cache_fetch(const char *ref, int flags, json_t **result, struct rm_err *err)
{
	const char *d;
	int r, peer;

	*result = NULL;
	/* config.yaml peers: first; what they serve has had the policy applied */
	if ((r = fetch_from_peers(ref, flags, result, err)) < 0)
		return r;
	peer = r == 0;
	if (!peer && (r = fetch_any(ref, flags, result, err)) != 0)
		return r;
	d = json_string_value(json_object_get(*result, "digest"));
	if (!peer && !(flags & RM_CACHE_NO_POLICY))
		r = entry_trusted(ref, d + 7, *result, err);
	if (r == 0 && (flags & RM_CACHE_PACKAGE)) {
		char p[PATH_MAX];
		if ((r = rm_cache_package(d + 7, p, sizeof(p), err)) == 0)
			json_object_set_new(*result, "package", json_string(p));
	}
	if (r != 0) {
		json_decref(*result);
		*result = NULL;
	}
	if (r == 0 && !peer)
		json_object_set_new(*result, "source", json_string(json_is_true(json_object_get(
		    *result, "cached")) ? "cache" : strncmp(ref, "oci://", 6) == 0 ? "registry" :
		    "local"));
	return r;
}

struct many_job {
	pthread_mutex_t mu;
	const char *const *refs;
	size_t n, next;
	int flags, worst;
	json_t *results;
};

static void *
many_worker(void *p)
{
	struct many_job *j = p;

	for (;;) {
		size_t i;
		json_t *res = NULL;
		struct rm_err err;
		int r;
		pthread_mutex_lock(&j->mu);
		if (j->next >= j->n) {
			pthread_mutex_unlock(&j->mu);
			break;
		}
		i = j->next++;
		pthread_mutex_unlock(&j->mu);
		rm_err_clear(&err);
		r = rm_cache_fetch(j->refs[i], j->flags, &res, &err);
		if (r != 0) {
			char msg[2048];
			res = json_pack("{ss ss si}", "ref", j->refs[i], "error",
			    rm_err_str(&err, msg, sizeof(msg)), "exit", err.code);
		}
		pthread_mutex_lock(&j->mu);
		json_array_set_new(j->results, i, res);
		if (r != 0 && err.code > j->worst)
			j->worst = err.code;
		pthread_mutex_unlock(&j->mu);
	}
	return NULL;
}

int
rm_cache_fetch_many(const char *const *refs, size_t n, int flags, int jobs, json_t **results,
    struct rm_err *err)
{
	struct many_job j;
	pthread_t th[16];
	int nth = 0, t;
	size_t i;

	if (rm_config(err) == NULL)	/* read once before the threads */
		return -err->code;
	memset(&j, 0, sizeof(j));
	pthread_mutex_init(&j.mu, NULL);
	j.refs = refs;
	j.n = n;
	j.flags = flags;
	j.results = json_array();
	for (i = 0; i < n; i++)
		json_array_append_new(j.results, json_null());
	if (jobs < 1)
		jobs = 1;
	if (jobs > 16)
		jobs = 16;
	for (t = 0; t < jobs && (size_t)t < n; t++)
		if (pthread_create(&th[nth], NULL, many_worker, &j) == 0)
			nth++;
	if (nth == 0)
		many_worker(&j);
	for (t = 0; t < nth; t++)
		pthread_join(th[t], NULL);
	pthread_mutex_destroy(&j.mu);
	*results = j.results;
	return j.worst;
}

int
rm_cache_resolve(const char *ref, char *pkgpath, size_t size, struct rm_err *err)
{
	json_t *res = NULL;
	int r;

	char dir[PATH_MAX], tag[256];

	/* anything that is not a reference stays a path: the loader's messages apply */
	if (strncmp(ref, "oci://", 6) != 0 && !looks_like_digest(ref) &&
	    layout_ref(ref, dir, sizeof(dir), tag, sizeof(tag)) != 0)
		return rm_path(pkgpath, size, err, "%s", ref);
	/* the caller opens the package, and applies the signature policy itself */
	if ((r = rm_cache_fetch(ref, RM_CACHE_NO_POLICY | RM_CACHE_PACKAGE, &res, err)) != 0)
		return r;
	r = rm_path(pkgpath, size, err, "%s", json_string_value(json_object_get(res, "package")));
	json_decref(res);
	return r;
}

/* ---- listing, verifying, collecting ------------------------------------- */

static json_t *
refs_of(json_t *idx, const char *hex)
{
	json_t *out = json_array(), *v;
	const char *k;

	json_object_foreach(json_object_get(idx, "refs"), k, v)
		if (strcmp(json_string_value(json_object_get(v, "package")) ?
		    json_string_value(json_object_get(v, "package")) : "", hex) == 0)
			json_array_append_new(out, json_string(k));
	return out;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The complete entries, sorted. */
static char **
list_entries(size_t *n)
{
	char pipedir[PATH_MAX];
	DIR *d;
	struct dirent *de;
	char **v = NULL;
	size_t cap = 0;

	*n = 0;
	snprintf(pipedir, sizeof(pipedir), "%s/pipelines", rm_home());
	if ((d = opendir(pipedir)) == NULL)
		return NULL;
	while ((de = readdir(d)) != NULL) {
		if (strlen(de->d_name) != 64 || !is_hex(de->d_name, 64) || !entry_complete(de->d_name))
			continue;
		if (*n == cap) {
			char **nv;
			cap = cap ? cap * 2 : 16;
			if ((nv = realloc(v, cap * sizeof(*v))) == NULL)
				break;
			v = nv;
		}
		v[(*n)++] = strdup(de->d_name);
	}
	closedir(d);
	if (*n > 1)
		qsort(v, *n, sizeof(*v), cmp_str);
	return v;
}

static void
free_list(char **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* The bytes of an entry's files, as its layout record lists them (0 without one). */
static uint64_t
layout_size(const char *hex)
{
	json_t *files = NULL, *f;
	long long mtime;
	struct rm_err e;
	uint64_t n = 0;
	size_t i;

	rm_err_clear(&e);
	if (layout_read(hex, &files, &mtime, &e) == 0)
		json_array_foreach(files, i, f)
			n += (uint64_t)json_integer_value(json_object_get(f, "size"));
	json_decref(files);
	return n;
}

int
rm_cache_list(json_t **entries, struct rm_err *err)
{
	size_t n, i;
	char **v = list_entries(&n);
	json_t *idx = index_load(), *out = json_array();

	(void)err;
	for (i = 0; i < n; i++) {
		char p[PATH_MAX];
		struct stat st;
		json_t *man, *e;
		struct rm_err e2;
		rm_err_clear(&e2);
		snprintf(p, sizeof(p), "%s/pipelines/%s/manifest.json", rm_home(), v[i]);
		man = rm_doc_load(p, &e2);
		snprintf(p, sizeof(p), "%s/pipelines/%s.rmpkg", rm_home(), v[i]);
		e = json_pack("{ss+ sO sO sI so}", "digest", "sha256:", v[i],
		    "name", json_object_get(man, "name") ? json_object_get(man, "name") : json_null(),
		    "version", json_object_get(man, "version") ? json_object_get(man, "version") :
		    json_null(), "size", (json_int_t)(stat(p, &st) == 0 ? (uint64_t)st.st_size :
		    layout_size(v[i])), "refs", refs_of(idx, v[i]));
		if (rm_is_file(p))
			json_object_set_new(e, "package", json_string(p));
		snprintf(p, sizeof(p), "%s/pipelines/%s", rm_home(), v[i]);
		json_object_set_new(e, "path", json_string(p));
		json_array_append_new(out, e);
		json_decref(man);
	}
	free_list(v, n);
	json_decref(idx);
	*entries = out;
	return 0;
}

static void
report(json_t *rep, const char *what, const char *path, const char *problem)
{
	json_array_append_new(rep, json_pack("{ss ss ss}", "what", what, "path", path,
	    "problem", problem));
}

/*
 * Hashes a file, once per inode: a large unpacked file is a hard link to
 * its blob, and both names are checked against what they should hold
 * without reading the bytes twice.
 */
static int
hash_once(json_t *seen, const char *path, char hex[RM_SHA256_HEX], uint64_t *size,
    struct rm_err *err)
{
	struct stat st;
	char key[96];
	json_t *v;
	int r;

	if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
		return rm_sha256_file(path, hex, size, err);
	snprintf(key, sizeof(key), "%ju:%ju:%jd:%ld", (uintmax_t)st.st_dev, (uintmax_t)st.st_ino,
	    (intmax_t)st.st_size, (long)st.st_mtim.tv_nsec);
	if ((v = json_object_get(seen, key)) != NULL) {
		snprintf(hex, RM_SHA256_HEX, "%s", json_string_value(json_object_get(v, "sha256")));
		*size = (uint64_t)json_integer_value(json_object_get(v, "size"));
		return 0;
	}
	if ((r = rm_sha256_file(path, hex, size, err)) == 0)
		json_object_set_new(seen, key, json_pack("{ss sI}", "sha256", hex, "size",
		    (json_int_t)*size));
	return r;
}

/* The recorded signature (when there is one) is the package's. */
static void
sig_agrees(json_t *rep, const char *hex, const json_t *pkgsig)
{
	char p[PATH_MAX];
	json_t *sigdoc;

	if (sig_read(hex, &sigdoc) != 0)
		return;
	snprintf(p, sizeof(p), "%s/pipelines/%s.sig", rm_home(), hex);
	if (sigdoc == NULL ? pkgsig != NULL : pkgsig == NULL || !json_equal(sigdoc, pkgsig))
		report(rep, "signature", p, "does not match the package's " RM_PKG_SIGNATURE);
	json_decref(sigdoc);
}

/* The blob of meta/signature an entry's layout names, or "" when it has none. */
static int
layout_signature(const char *hex, char *path, size_t size, struct rm_err *err)
{
	json_t *files = NULL, *f;
	long long mtime;
	size_t i;
	int r;

	path[0] = '\0';
	if ((r = layout_read(hex, &files, &mtime, err)) != 0)
		return r < 0 ? r : 0;
	json_array_foreach(files, i, f)
		if (strcmp(json_string_value(json_object_get(f, "path")), RM_PKG_SIGNATURE) == 0)
			r = rm_path(path, size, err, "%s/blobs/sha256/%s", rm_home(),
			    json_string_value(json_object_get(f, "digest")) + 7);
	json_decref(files);
	return r;
}

/*
 * An entry's package as its unpacked documents give it (an entry without a
 * .rmpkg): the contents list, manifest and signature checked as
 * rm_pkg_open checks them; the files are then hashed by the caller.
 */
static int
entry_open_unpacked(const char *hex, struct rm_pkg **pkg, struct rm_err *err)
{
	static const char *const names[5] = { "manifest.json", RM_PKG_CONTENTS,
	    "meta/provenance.json", "meta/runtime.json", RM_PKG_SIGNATURE };
	char *docs[5] = { NULL, NULL, NULL, NULL, NULL }, dir[PATH_MAX], p[PATH_MAX];
	size_t lens[5] = { 0, 0, 0, 0, 0 };
	int i, r = 0;

	snprintf(dir, sizeof(dir), "%s/pipelines/%s", rm_home(), hex);
	for (i = 0; i < 5 && r == 0; i++) {
		snprintf(p, sizeof(p), "%s/%s", dir, names[i]);
		if (i == 4)	/* never unpacked: the blob the layout names */
			r = layout_signature(hex, p, sizeof(p), err);
		if (r == 0 && p[0] && rm_is_file(p))
			r = rm_read_file(p, (size_t)16 << 20, &docs[i], &lens[i], err);
	}
	if (r == 0)
		r = rm_pkg_open_meta(dir, docs, lens, pkg, err);
	for (i = 0; i < 5; i++)
		free(docs[i]);
	return r;
}

/* The entry's package, from its .rmpkg (every file hashed) or its unpacked documents. */
static int
verify_open(json_t *rep, const char *hex, struct rm_pkg **pkg)
{
	char p[PATH_MAX], msg[2048];
	json_t *files = NULL;
	long long mtime;
	struct rm_err e2;
	size_t i;
	int r;

	rm_err_clear(&e2);
	snprintf(p, sizeof(p), "%s/pipelines/%s.rmpkg", rm_home(), hex);
	if (rm_is_file(p))
		r = rm_pkg_open(p, RM_PKG_VERIFY | RM_PKG_NO_POLICY, pkg, &e2);
	else {
		snprintf(p, sizeof(p), "%s/pipelines/%s", rm_home(), hex);
		r = entry_open_unpacked(hex, pkg, &e2);
	}
	if (r != 0) {
		report(rep, "package", p, rm_err_str(&e2, msg, sizeof(msg)));
		return r;
	}
	if (strcmp((*pkg)->digest, hex) != 0)
		report(rep, "package", p, "digest does not match the name");
	/* every blob the package is made from is there (each was hashed already) */
	if ((r = layout_read(hex, &files, &mtime, &e2)) < 0)
		report(rep, "layout", p, rm_err_str(&e2, msg, sizeof(msg)));
	for (i = 0; r == 0 && i < json_array_size(files); i++) {
		const char *dg = json_string_value(json_object_get(json_array_get(files, i),
		    "digest"));
		snprintf(p, sizeof(p), "%s/blobs/sha256/%s", rm_home(), dg + 7);
		if (!rm_is_file(p))
			report(rep, "blob", p, "missing: the package cannot be made again");
	}
	json_decref(files);
	return 0;
}

int
rm_cache_verify(json_t **rep, struct rm_err *err)
{
	char blobdir[PATH_MAX], p[PATH_MAX], hex[RM_SHA256_HEX];
	DIR *d;
	struct dirent *de;
	json_t *out = json_array(), *seen = json_object();
	size_t n, i, k;
	char **v;

	(void)err;
	snprintf(blobdir, sizeof(blobdir), "%s/blobs/sha256", rm_home());
	if ((d = opendir(blobdir)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			uint64_t size;
			struct rm_err e2;
			if (strlen(de->d_name) != 64 || !is_hex(de->d_name, 64))
				continue;
			snprintf(p, sizeof(p), "%s/%s", blobdir, de->d_name);
			rm_err_clear(&e2);
			if (hash_once(seen, p, hex, &size, &e2) != 0)
				report(out, "blob", p, e2.msg);
			else if (strcmp(hex, de->d_name) != 0)
				report(out, "blob", p, "contents do not match the name");
		}
		closedir(d);
	}
	v = list_entries(&n);
	for (i = 0; i < n; i++) {
		struct rm_pkg *pkg = NULL;
		struct rm_err e2;
		if (verify_open(out, v[i], &pkg) != 0)
			continue;
		sig_agrees(out, v[i], pkg->signature);
		for (k = 0; k < pkg->nfiles; k++) {
			uint64_t size;
			snprintf(p, sizeof(p), "%s/pipelines/%s/%s", rm_home(), v[i], pkg->files[k].path);
			rm_err_clear(&e2);
			if (hash_once(seen, p, hex, &size, &e2) != 0)
				report(out, "file", p, e2.msg);
			else if (strcmp(hex, pkg->files[k].sha256) != 0 || size != pkg->files[k].size)
				report(out, "file", p, "does not match the contents list");
		}
		rm_pkg_free(pkg);
	}
	free_list(v, n);
	json_decref(seen);
	*rep = out;
	return json_array_size(out) ? RM_EXIT_NEGATIVE : 0;
}

static void
keep_manifest_blobs(json_t *keep, const char *mdigest)
{
	char p[PATH_MAX];
	json_t *m;
	struct rm_err e;
	size_t i;
	json_t *l;

	if (mdigest == NULL || !rm_oci_digest_ok(mdigest))
		return;
	json_object_set_new(keep, mdigest + 7, json_true());
	rm_err_clear(&e);
	snprintf(p, sizeof(p), "%s/blobs/sha256/%s", rm_home(), mdigest + 7);
	if ((m = rm_doc_load(p, &e)) == NULL)
		return;
	if (json_is_string(json_object_get(json_object_get(m, "config"), "digest")))
		json_object_set_new(keep, json_string_value(json_object_get(json_object_get(m,
		    "config"), "digest")) + 7, json_true());
	json_array_foreach(json_object_get(m, "layers"), i, l) {
		const char *dg = json_string_value(json_object_get(l, "digest"));
		if (dg != NULL && rm_oci_digest_ok(dg))
			json_object_set_new(keep, dg + 7, json_true());
	}
	json_decref(m);
}

/* The blobs an entry's package is made from (its layout record). */
static void
keep_layout_blobs(json_t *keep, const char *hex)
{
	json_t *files = NULL, *f;
	long long mtime;
	struct rm_err e;
	size_t i;

	rm_err_clear(&e);
	if (layout_read(hex, &files, &mtime, &e) != 0)
		return;
	json_array_foreach(files, i, f)
		json_object_set_new(keep, json_string_value(json_object_get(f, "digest")) + 7,
		    json_true());
	json_decref(files);
}

static void
edit_prune(json_t *doc, void *ctx)
{
	json_t *gone = json_array(), *v;
	const char *k;
	size_t i;

	(void)ctx;
	json_object_foreach(json_object_get(doc, "refs"), k, v) {
		const char *h = json_string_value(json_object_get(v, "package"));
		if (h == NULL || strlen(h) != 64 || !entry_complete(h))
			json_array_append_new(gone, json_string(k));
	}
	json_array_foreach(gone, i, v)
		json_object_del(json_object_get(doc, "refs"), json_string_value(v));
	json_array_clear(gone);
	json_object_foreach(json_object_get(doc, "packages"), k, v)
		if (strlen(k) != 64 || !entry_complete(k))
			json_array_append_new(gone, json_string(k));
	json_array_foreach(gone, i, v)
		json_object_del(json_object_get(doc, "packages"), json_string_value(v));
	json_decref(gone);
}

/* A temporary left by a killed process: removable when nobody holds its lock. */
static int
stale(const char *dir, const char *name, const char *lockname)
{
	char lk[PATH_MAX];
	struct rm_err e;
	int fd;

	rm_err_clear(&e);
	snprintf(lk, sizeof(lk), "%s/%s", dir, lockname);
	if (!rm_is_file(lk))
		return 1;
	fd = rm_lock(lk, 1, 1, &e);
	if (fd < 0)
		return 0;
	rm_unlock(fd);
	(void)name;
	return 1;
}

/*
 * A lock file stays while what it guards may be in use: gc removes those of
 * blobs and entries that are gone, each only while holding it (a process
 * that was waiting on it then finds the name gone and locks it afresh, see
 * rm_lock), without reporting them.
 */
static void
drop_orphan_locks(const char *dir, int entries)
{
	char p[PATH_MAX], hex[RM_SHA256_HEX];
	DIR *d;
	struct dirent *de;
	struct rm_err e;
	int fd;

	if ((d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strlen(de->d_name) != 69 || strcmp(de->d_name + 64, ".lock") != 0)
			continue;
		memcpy(hex, de->d_name, 64);
		hex[64] = '\0';
		snprintf(p, sizeof(p), "%s/%s", dir, hex);
		if (!is_hex(hex, 64) || (entries ? entry_complete(hex) : access(p, F_OK) == 0))
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
		rm_err_clear(&e);
		if ((fd = rm_lock(p, 1, 1, &e)) < 0)
			continue;
		unlink(p);
		rm_unlock(fd);
	}
	closedir(d);
}

/*
 * A file of pipelines/ beside the entries: the .rmpkg, .sig and .layout of
 * a complete entry stay, but a .rmpkg made from the blobs on demand (the
 * entry has a layout record) goes, as it is made again when asked for;
 * temporaries and the records of entries that are gone go when nobody
 * holds the entry's lock.
 */
static void
gc_pipeline_file(json_t *out, const char *pipedir, const char *nm)
{
	char hex[65], lockname[128], p[PATH_MAX], l[PATH_MAX];
	int made = 0;

	memcpy(hex, nm, 64);
	hex[64] = '\0';
	if (strcmp(nm + 64, ".rmpkg") == 0 || strcmp(nm + 64, ".sig") == 0 ||
	    strcmp(nm + 64, ".layout") == 0) {
		snprintf(l, sizeof(l), "%s/%s.layout", pipedir, hex);
		made = strcmp(nm + 64, ".rmpkg") == 0 && rm_is_file(l);
		if (entry_complete(hex) && !made)
			return;
	}
	snprintf(lockname, sizeof(lockname), "%s.lock", hex);
	if (!stale(pipedir, nm, lockname))
		return;
	snprintf(p, sizeof(p), "%s/%s", pipedir, nm);
	rm_remove_tree(p);
	report(out, made ? "package" : "temporary", p, made ? "made from the blobs on demand; "
	    "made again when needed" : "left by an interrupted install");
}

int
rm_cache_gc(json_t **rep, struct rm_err *err)
{
	char blobdir[PATH_MAX], pipedir[PATH_MAX], p[PATH_MAX], lockname[128];
	json_t *idx, *keep = json_object(), *out = json_array(), *v;
	const char *k;
	DIR *d;
	struct dirent *de;
	size_t n, i;
	char **ents;
	int r;

	if ((r = index_update(edit_prune, NULL, err)) != 0) {
		json_decref(keep);
		json_decref(out);
		return r;
	}
	idx = index_load();
	ents = list_entries(&n);
	for (i = 0; i < n; i++) {
		json_t *pk = json_object_get(json_object_get(idx, "packages"), ents[i]);
		keep_manifest_blobs(keep, json_string_value(json_object_get(pk, "manifest")));
		keep_layout_blobs(keep, ents[i]);
	}
	json_object_foreach(json_object_get(idx, "refs"), k, v)
		keep_manifest_blobs(keep, json_string_value(json_object_get(v, "manifest")));
	free_list(ents, n);
	json_decref(idx);
	snprintf(blobdir, sizeof(blobdir), "%s/blobs/sha256", rm_home());
	if ((d = opendir(blobdir)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			const char *nm = de->d_name;
			if (nm[0] == '.')
				continue;
			snprintf(p, sizeof(p), "%s/%s", blobdir, nm);
			snprintf(lockname, sizeof(lockname), "%.64s.lock", nm);
			if (strlen(nm) == 64 && is_hex(nm, 64)) {
				if (json_object_get(keep, nm) == NULL) {
					if (unlink(p) == 0)
						report(out, "blob", p, "unused");
				}
			} else if (strstr(nm, ".lock") == NULL && stale(blobdir, nm, lockname)) {
				if (unlink(p) == 0)
					report(out, "partial", p, "unfinished download");
			}
		}
		closedir(d);
	}
	snprintf(pipedir, sizeof(pipedir), "%s/pipelines", rm_home());
	if ((d = opendir(pipedir)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			const char *nm = de->d_name;
			/* ours are named by a digest and a suffix */
			if (strlen(nm) <= 64 || strspn(nm, "0123456789abcdef") < 64)
				continue;
			if (strcmp(nm + 64, ".peer") == 0 || strcmp(nm + 64, ".peer.state") == 0) {
				/* a peer transfer kept for resuming: gone unless one runs */
				snprintf(lockname, sizeof(lockname), "%.64s.peer.lock", nm);
				snprintf(p, sizeof(p), "%s/%s", pipedir, nm);
				if (stale(pipedir, nm, lockname) && unlink(p) == 0)
					report(out, "partial", p, "unfinished peer transfer");
				continue;
			}
			if (!((nm[64] == '.') && (strncmp(nm + 64, ".tmp.", 5) == 0 ||
			    strncmp(nm + 64, ".rmpkg.tmp.", 11) == 0 || strcmp(nm + 64, ".new") == 0 ||
			    strncmp(nm + 64, ".new.tmp.", 9) == 0 ||	/* rm_pkg_extract's mkdtemp */
			    strcmp(nm + 64, ".old") == 0 || strcmp(nm + 64, ".rmpkg") == 0 ||
			    strcmp(nm + 64, ".sig") == 0 || strncmp(nm + 64, ".sig.tmp.", 9) == 0 ||
			    strcmp(nm + 64, ".layout") == 0 || strncmp(nm + 64, ".layout.tmp.", 12) == 0)))
				continue;
			gc_pipeline_file(out, pipedir, nm);
		}
		closedir(d);
	}
	drop_orphan_locks(blobdir, 0);
	drop_orphan_locks(pipedir, 1);
	json_decref(keep);
	*rep = out;
	return 0;
}

static int
lookup_any(const char *ref, char hex[RM_SHA256_HEX], struct rm_err *err)
{
	json_t *idx, *e;
	const char *h;
	int r;

	if (strncmp(ref, "oci://", 6) == 0) {
		struct rm_oci_ref o;
		char key[1200];
		if ((r = rm_oci_ref_parse(ref, &o, err)) != 0)
			return r;
		rm_oci_ref_str(&o, key, sizeof(key));
		idx = index_load();
		e = json_object_get(json_object_get(idx, "refs"), key);
		h = json_string_value(json_object_get(e, "package"));
		r = h != NULL && strlen(h) == 64 && entry_complete(h) ? 0 : 1;
		if (r == 0)
			memcpy(hex, h, 65);
		json_decref(idx);
		return r;
	}
	if (looks_like_digest(ref))
		return lookup_digest(ref, hex, err);
	if (rm_is_file(ref)) {
		struct rm_pkg *pkg;
		if ((r = rm_pkg_open(ref, RM_PKG_NO_POLICY, &pkg, err)) != 0)
			return r;
		memcpy(hex, pkg->digest, 65);
		rm_pkg_free(pkg);
		return entry_complete(hex) ? 0 : 1;
	}
	return 1;
}

int
rm_cache_lookup(const char *ref, char hex[65], struct rm_err *err)
{
	return lookup_any(ref, hex, err);
}

int
rm_cache_clear(const char *ref, json_t **rep, struct rm_err *err)
{
	char p[PATH_MAX], q[PATH_MAX], lk[PATH_MAX], hex[RM_SHA256_HEX];
	json_t *out = json_array(), *gc = NULL;
	int r, fd;

	*rep = NULL;
	if (ref == NULL) {
		const char *sub[] = { "pipelines", "blobs", "refs.json", NULL };
		int i;
		for (i = 0; sub[i]; i++) {
			snprintf(p, sizeof(p), "%s/%s", rm_home(), sub[i]);
			if (access(p, F_OK) != 0)
				continue;
			/* moved aside first: nothing half-removed stays visible */
			snprintf(q, sizeof(q), "%s/.%s.clear.%ld", rm_home(), sub[i], (long)getpid());
			if (rename(p, q) == 0) {
				rm_remove_tree(q);
				report(out, sub[i], p, "removed");
			}
		}
		*rep = out;
		return 0;
	}
	if ((r = lookup_any(ref, hex, err)) < 0) {
		json_decref(out);
		return r;
	}
	if (r == 1) {
		json_decref(out);
		return rm_err_set(err, RM_EXIT_NOTFOUND, ref, NULL, "not in the cache");
	}
	snprintf(lk, sizeof(lk), "%s/pipelines/%s.lock", rm_home(), hex);
	if ((fd = rm_lock(lk, 1, 0, err)) < 0) {
		json_decref(out);
		return fd;
	}
	snprintf(p, sizeof(p), "%s/pipelines/%s", rm_home(), hex);
	snprintf(q, sizeof(q), "%s/pipelines/%s.old", rm_home(), hex);
	if (rename(p, q) == 0) {
		rm_remove_tree(q);
		report(out, "package", p, "removed");
	}
	snprintf(p, sizeof(p), "%s/pipelines/%s.rmpkg", rm_home(), hex);
	unlink(p);
	snprintf(p, sizeof(p), "%s/pipelines/%s.sig", rm_home(), hex);
	unlink(p);
	snprintf(p, sizeof(p), "%s/pipelines/%s.layout", rm_home(), hex);
	unlink(p);
	rm_unlock(fd);
	if ((r = rm_cache_gc(&gc, err)) != 0) {
		json_decref(out);
		return r;
	}
	json_array_extend(out, gc);
	json_decref(gc);
	*rep = out;
	return 0;
}

/* ---- peers (rm_p2p.h) --------------------------------------------------- */

int
rm_cache_install_peer(const char *hex, const char *partial, const char *pkgsha,
    const char *ref, const char *source, int flags, json_t **result, struct rm_err *err)
{
	char key[1200] = "", want[80], pkgdigest[80];
	struct rm_oci_ref o;
	struct rm_err e;
	int r, cached = 0;

	*result = NULL;
	rm_err_clear(&e);
	if (strncmp(ref, "oci://", 6) == 0 && rm_oci_ref_parse(ref, &o, &e) == 0)
		rm_oci_ref_str(&o, key, sizeof(key));
	snprintf(want, sizeof(want), "sha256:%s", hex);
	if (partial[0] == '\0') {
		/* nothing came: the entry is here already */
		cached = 1;
		r = entry_complete(hex) ? 0 : rm_err_set(err, RM_EXIT_NOTFOUND, NULL, NULL,
		    "sha256:%s: not in the cache", hex);
	} else {
		/* kept as its blobs, as a package from a registry: the partial goes */
		r = install_pkgfile_blobs(partial, want, pkgsha, source, pkgdigest, &cached, err);
		unlink(partial);
	}
	if (r == 0 && key[0] != '\0') {
		struct note n = { key, NULL, hex, NULL, NULL };
		r = index_update(edit_note, &n, err);
	}
	if (r != 0)
		return r;
	*result = result_for(key[0] ? key : ref, hex, NULL, cached);
	json_object_set_new(*result, "source", json_string(cached ? "cache" : source));
	if (!(flags & RM_CACHE_NO_POLICY) && (r = entry_trusted(ref, hex, *result, err)) != 0) {
		json_decref(*result);
		*result = NULL;
	}
	return r;
}

/*
 * config.yaml peers: (commands such as "ssh host rm-cache serve --stdio"),
 * asked in turn for a digest or an oci:// reference not cached here: 0
 * served, 1 not (the usual sources follow), < 0 a bad configuration. A tag
 * to resolve again (--refresh) is for the registry alone.
 */
static int
fetch_from_peers(const char *ref, int flags, json_t **result, struct rm_err *err)
{
	static pthread_mutex_t peer_mu = PTHREAD_MUTEX_INITIALIZER;
	const json_t *cfg, *peers, *c, *t;
	char hex[RM_SHA256_HEX];
	struct rm_err e;
	size_t i;
	int oci = strncmp(ref, "oci://", 6) == 0, timeout = 30000, r = 1;

	if ((flags & RM_CACHE_OFFLINE) || (!oci && !looks_like_digest(ref)) ||
	    (oci && (flags & RM_CACHE_REFRESH) && strstr(ref, "@sha256:") == NULL))
		return 1;
	if ((cfg = rm_config(err)) == NULL)
		return -err->code;
	if ((peers = json_object_get(cfg, "peers")) == NULL || json_is_null(peers))
		return 1;
	if (!json_is_array(peers))
		return rm_err_set(err, RM_EXIT_INVALID, "config.yaml", "peers", "expected a list "
		    "of commands, got %s", rm_json_type(peers));
	json_array_foreach(peers, i, c)
		if (!json_is_string(c))
			return rm_err_set(err, RM_EXIT_INVALID, "config.yaml", "peers", "item %zu: "
			    "expected a command (\"ssh HOST rm-cache serve --stdio\"), got %s", i,
			    rm_json_type(c));
	if ((t = json_object_get(cfg, "peer_timeout")) != NULL) {
		if (!json_is_number(t) || json_number_value(t) <= 0 || json_number_value(t) > 86400)
			return rm_err_set(err, RM_EXIT_INVALID, "config.yaml", "peer_timeout",
			    "expected seconds (a number from 0 to 86400), got %s", rm_json_type(t));
		timeout = (int)(json_number_value(t) * 1000);
	}
	rm_err_clear(&e);
	/* a digest cached is the package asked for: --refresh changes nothing */
	if ((!(flags & RM_CACHE_REFRESH) || !oci) && rm_cache_lookup(ref, hex, &e) == 0)
		return 1;
	pthread_mutex_lock(&peer_mu);	/* one peer connection at a time */
	json_array_foreach(peers, i, c) {
		json_t *res = NULL;
		const char *cmd = json_string_value(c);
		rm_err_clear(&e);
		rm_p2p_fetch(cmd, &ref, 1, flags, timeout, &res, &e);
		if (json_array_size(res) == 1 && json_object_get(json_array_get(res, 0),
		    "error") == NULL) {
			*result = json_incref(json_array_get(res, 0));
			rm_note("%s: served by peer '%s'", ref, cmd);
			json_decref(res);
			r = 0;
			break;
		}
		rm_note("%s: not from peer '%s': %s", ref, cmd, res != NULL ?
		    json_string_value(json_object_get(json_array_get(res, 0), "error")) : e.msg);
		json_decref(res);
	}
	pthread_mutex_unlock(&peer_mu);
	if (r == 1 && oci)
		rm_note("%s: fetching from the registry", ref);
	return r;
}
