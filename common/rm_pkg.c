#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "rm_doc.h"
#include "rm_fs.h"
#include "rm_home.h"
#include "rm_jsonw.h"
#include "rm_log.h"
#include "rm_pipeline.h"
#include "rm_pkg.h"
#include "rm_tar.h"

#define META_MAX ((size_t)64 << 20)	/* manifest and meta/ files are read whole */
#define MAX_ENTRIES 200000
#define COPY_BLOCK ((size_t)4 << 20)

int
rm_pkg_path_ok(const char *name)
{
	const char *p = name, *c;
	size_t n;

	if (name == NULL || *name == '\0' || *name == '/' || strlen(name) > 1024)
		return 0;
	for (c = name; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == '\\')
			return 0;
	for (;;) {
		c = strchr(p, '/');
		n = c ? (size_t)(c - p) : strlen(p);
		if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			return 0;
		if (c == NULL)
			return 1;
		p = c + 1;
	}
}

void
rm_pkg_free(struct rm_pkg *pkg)
{
	size_t i;

	if (pkg == NULL)
		return;
	for (i = 0; i < pkg->nfiles; i++)
		free(pkg->files[i].path);
	free(pkg->files);
	free(pkg->path);
	json_decref(pkg->manifest);
	json_decref(pkg->contents);
	json_decref(pkg->runtime);
	json_decref(pkg->provenance);
	json_decref(pkg->signature);
	free(pkg);
}

/* What one scan saw of each entry. */
struct seen {
	uint64_t size;
	int mode;		/* the header's permission bits */
	char sha256[RM_SHA256_HEX];	/* empty when not hashed */
};

struct scan {
	const char *path;	/* package, for messages */
	int hash;		/* hash every file */
	int dirfd;		/* extraction root, or -1 */
	const char *blobdir;	/* with dirfd: file bytes from blobdir/<sha256> */
	const struct rm_pkg *want;	/* ... named by this opened package's list */
	uint64_t link_min;	/* blob mode: hard-link files of at least this size */
	mode_t umask;
	json_t *entries;	/* name -> index into seen */
	struct seen *seen;
	size_t nseen, capseen;
	char *docs[5];		/* manifest, contents, provenance, runtime, signature */
	size_t doclen[5];
	struct archive *a;	/* the archive, read by libarchive ... */
	struct rm_tar *tar;	/* ... or by rm_tar (no extraction) */
};

/* One entry's header, as either reader saw it. */
struct hdr {
	const char *name;	/* NULL when unreadable */
	const char *what;	/* what it is when not a regular file */
	int perm;
	int64_t size;		/* -1 when none */
};

/* scan_tar: rm_tar cannot read this archive; libarchive reads it again */
#define SCAN_OTHER 1

int
rm_pkg_doc_slot(const char *name)
{
	static const char *const names[] = { "manifest.json", RM_PKG_CONTENTS,
		"meta/provenance.json", "meta/runtime.json", RM_PKG_SIGNATURE };
	int i;

	for (i = 0; i < 5; i++)
		if (strcmp(name, names[i]) == 0)
			return i;
	return -1;
}

static const char *
type_name(struct archive_entry *e)
{
	if (archive_entry_hardlink(e) != NULL)
		return "a hard link";
	switch (archive_entry_filetype(e)) {
	case AE_IFLNK: return "a symbolic link";
	case AE_IFDIR: return "a directory entry";
	case AE_IFCHR: return "a character device";
	case AE_IFBLK: return "a block device";
	case AE_IFIFO: return "a fifo";
	case AE_IFSOCK: return "a socket";
	case AE_IFREG: return NULL;
	default: return "not a regular file";
	}
}

static void
archive_hdr(struct archive_entry *e, struct hdr *h)
{
	h->name = archive_entry_pathname(e);
	h->what = type_name(e);
	h->perm = (int)archive_entry_perm(e);
	h->size = archive_entry_size_is_set(e) && archive_entry_size(e) >= 0 ?
	    (int64_t)archive_entry_size(e) : -1;
}

/* Opens (creating) the parent directories of name under root, without links. */
static int
open_parent(int root, const char *name, const char **base)
{
	char comp[1100];
	const char *p = name, *c;
	int fd = dup(root), nfd;

	while (fd >= 0 && (c = strchr(p, '/')) != NULL) {
		size_t n = (size_t)(c - p);
		memcpy(comp, p, n);
		comp[n] = '\0';
		if (mkdirat(fd, comp, 0755) != 0 && errno != EEXIST) {
			close(fd);
			return -1;
		}
		nfd = openat(fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		close(fd);
		fd = nfd;
		p = c + 1;
	}
	*base = p;
	return fd;
}

static int
write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t w = write(fd, p, len);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

static int cmp_file(const void *a, const void *b);

const char *
rm_pkg_mode_str(int mode)
{
	return mode == 0755 ? "0755" : "0644";
}

/* The process umask, read without changing it (other threads create files). */
static mode_t
current_umask(void)
{
	FILE *f = fopen("/proc/self/status", "re");
	char line[256];
	unsigned int um = 022;

	if (f == NULL)
		return 022;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "Umask: %o", &um) == 1)
			break;
	fclose(f);
	return (mode_t)(um & 0777);
}

/* Copies size bytes of in (from offset 0) into out: in the kernel when it can. */
static int
copy_fd(int in, int out, uint64_t size, unsigned char **buf)
{
	off64_t ioff = 0, ooff = 0;
	uint64_t done = 0;
	int kernel = 1;

	while (done < size) {
		size_t want = size - done < COPY_BLOCK ? (size_t)(size - done) : COPY_BLOCK;
		ssize_t n;
		if (kernel) {
			n = copy_file_range(in, &ioff, out, &ooff, want, 0);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0 && done == 0 && (errno == EXDEV || errno == ENOSYS ||
			    errno == EINVAL || errno == EOPNOTSUPP || errno == EPERM)) {
				kernel = 0;	/* not here: through a buffer */
				continue;
			}
			if (n <= 0)
				return -1;
		} else {
			if (*buf == NULL && (*buf = malloc(COPY_BLOCK)) == NULL)
				return -1;
			n = pread(in, *buf, want, (off_t)done);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0 || write_all(out, *buf, (size_t)n) != 0)
				return -1;
		}
		done += (uint64_t)n;
	}
	return 0;
}

/*
 * Extraction: the entry of the verified contents list that entry name (its
 * header already checked) becomes, its size and mode checked against the
 * header. meta/contents.json itself gives NULL and mode 0644.
 */
static int
listed_entry(struct scan *s, const char *name, uint64_t hsize, int perm,
    const struct rm_pkg_file **out, struct rm_err *err)
{
	struct rm_pkg_file key, *f;

	*out = NULL;
	if (strcmp(name, RM_PKG_CONTENTS) == 0)
		return 0;
	key.path = (char *)name;
	f = bsearch(&key, s->want->files, s->want->nfiles, sizeof(*f), cmp_file);
	if (f == NULL)
		return rm_err_set(err, RM_EXIT_INTEGRITY, s->path, NULL,
		    "'%s' is in the package but not in the contents list", name);
	if (f->size != hsize)
		return rm_err_set(err, RM_EXIT_INTEGRITY, s->path, NULL,
		    "'%s' is %llu bytes, the contents list says %llu", name,
		    (unsigned long long)hsize, (unsigned long long)f->size);
	if (f->mode != perm && !(s->want->legacy_modes && (perm == 0644 || perm == 0755)))
		return rm_err_set(err, RM_EXIT_INTEGRITY, s->path, NULL,
		    "'%s' has mode %04o in the archive, the contents list says %04o", name,
		    (unsigned int)perm, (unsigned int)f->mode);
	*out = f;
	return 0;
}

/*
 * Blob mode of the scan: entry name is made under the extraction root from
 * the verified blob the contents list names for it, with the list's mode:
 * a hard link for a large file whose blob has that mode, otherwise a copy.
 * The archive's own data for it is never used.
 */
static int
place_from_blob(struct scan *s, const char *name, uint64_t hsize, int perm, struct rm_err *err)
{
	const char *sha, *base;
	char src[PATH_MAX], proc[64];
	const struct rm_pkg_file *f;
	unsigned char *buf = NULL;
	struct stat st;
	int bfd, pfd, ofd, mode, linked = 0, r = 0;

	if ((r = listed_entry(s, name, hsize, perm, &f, err)) != 0)
		return r;
	/* the package digest is the SHA-256 of meta/contents.json */
	sha = f != NULL ? f->sha256 : s->want->digest;
	mode = f != NULL ? f->mode : 0644;
	if ((r = rm_path(src, sizeof(src), err, "%s/%s", s->blobdir, sha)) != 0)
		return r;
	if ((bfd = open(src, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return rm_err_set(err, RM_EXIT_INTEGRITY, src, NULL, "no blob for '%s': %s", name,
		    strerror(errno));
	if (fstat(bfd, &st) != 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size != hsize) {
		close(bfd);
		return rm_err_set(err, RM_EXIT_INTEGRITY, src, NULL,
		    "the blob for '%s' is not a file of %llu bytes", name, (unsigned long long)hsize);
	}
	if ((pfd = open_parent(s->dirfd, name, &base)) < 0) {
		r = rm_err_set(err, RM_EXIT_INVALID, s->path, NULL,
		    "cannot create '%s' while extracting: %s", name, strerror(errno));
		close(bfd);
		return r;
	}
	/* blobs are read-only (rm_cache.c): so is a file linked to one */
	if (hsize >= s->link_min && (st.st_mode & 07777) == ((mode_t)mode & ~s->umask & ~0222)) {
		/* the very inode checked above, never a name that may have changed since */
		snprintf(proc, sizeof(proc), "/proc/self/fd/%d", bfd);
		linked = linkat(AT_FDCWD, proc, pfd, base, AT_SYMLINK_FOLLOW) == 0;
	}
	if (!linked) {
		ofd = openat(pfd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
		if (ofd < 0 || copy_fd(bfd, ofd, hsize, &buf) != 0 || fsync(ofd) != 0)
			r = rm_err_set(err, RM_EXIT_INVALID, s->path, NULL,
			    "cannot write '%s' while extracting: %s", name, strerror(errno));
		if (ofd >= 0 && close(ofd) != 0 && r == 0)
			r = rm_err_set(err, RM_EXIT_INVALID, s->path, NULL,
			    "cannot write '%s' while extracting: %s", name, strerror(errno));
	}
	if (r == 0 && fsync(pfd) != 0)
		r = rm_err_set(err, RM_EXIT_INVALID, s->path, NULL,
		    "cannot write '%s' while extracting: %s", name, strerror(errno));
	free(buf);
	close(pfd);
	close(bfd);
	return r;
}

/*
 * Checks one entry's header: a safe name seen once, a regular file of mode
 * 0644 or 0755 (no setuid, setgid or sticky bit), a size.
 */
static int
check_header(struct scan *s, const struct hdr *h, struct rm_err *err)
{
	const char *name = h->name;
	unsigned int perm = (unsigned int)h->perm;

	if (name == NULL)
		return rm_err_set(err, RM_EXIT_INTEGRITY, s->path, NULL,
		    "an archive entry has no readable name");
	if (!rm_pkg_path_ok(name))
		return rm_err_set(err, RM_EXIT_INTEGRITY, s->path, NULL,
		    "entry '%s': unsafe path (absolute, '..', '.', empty component or control "
		    "character); refused", name);
	if (h->what != NULL)
		return rm_err_set(err, RM_EXIT_INTEGRITY, s->path, NULL,
		    "entry '%s' is %s; a package holds regular files only", name, h->what);
	if (json_object_get(s->entries, name) != NULL)
		return rm_err_set(err, RM_EXIT_INTEGRITY, s->path, NULL,
		    "entry '%s' appears twice in the archive", name);
	if (json_object_size(s->entries) >= MAX_ENTRIES)
		return rm_err_set(err, RM_EXIT_INTEGRITY, s->path, NULL,
		    "more than %d entries", MAX_ENTRIES);
	if (perm != 0644 && perm != 0755)
		return rm_err_set(err, RM_EXIT_INTEGRITY, s->path, NULL,
		    "entry '%s' has mode %04o; a package holds files of mode 0644 or 0755 only "
		    "(no setuid, setgid or sticky bit)", name, perm);
	if (perm != 0644 && (strcmp(name, RM_PKG_CONTENTS) == 0 ||
	    strcmp(name, RM_PKG_SIGNATURE) == 0))
		return rm_err_set(err, RM_EXIT_INTEGRITY, s->path, NULL,
		    "entry '%s' has mode %04o, expected 0644", name, perm);
	if (h->size < 0)
		return rm_err_set(err, RM_EXIT_INTEGRITY, s->path, NULL,
		    "entry '%s' has no size in its header", name);
	return 0;
}

/* Creates the file entry name becomes when extracting from the archive. */
static int
create_file(struct scan *s, const char *name, uint64_t hsize, int perm, int *fd,
    struct rm_err *err)
{
	const struct rm_pkg_file *f;
	const char *base;
	int pfd, r;

	*fd = -1;
	if ((r = listed_entry(s, name, hsize, perm, &f, err)) != 0)
		return r;
	if ((pfd = open_parent(s->dirfd, name, &base)) >= 0) {
		*fd = openat(pfd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		    f != NULL ? f->mode : 0644);
		close(pfd);
	}
	if (*fd < 0)
		return rm_err_set(err, RM_EXIT_INVALID, s->path, NULL,
		    "cannot create '%s' while extracting: %s", name, strerror(errno));
	return 0;
}

/* Records entry name (header checked) as seen; NULL when out of memory. */
static struct seen *
add_seen(struct scan *s, const char *name, uint64_t size, int mode)
{
	struct seen *sn;

	if (s->nseen == s->capseen) {
		size_t ncap = s->capseen ? s->capseen * 2 : 64;
		struct seen *ns = realloc(s->seen, ncap * sizeof(*ns));
		if (ns == NULL)
			return NULL;
		s->seen = ns;
		s->capseen = ncap;
	}
	sn = &s->seen[s->nseen];
	memset(sn, 0, sizeof(*sn));
	sn->size = size;
	sn->mode = mode;
	json_object_set_new(s->entries, name, json_integer((json_int_t)s->nseen));
	s->nseen++;
	return sn;
}

/* Skips the rest of the current entry's data. */
static int
data_skip(struct scan *s, const char *name, struct rm_err *err)
{
	if (s->tar != NULL)
		return 0;	/* rm_tar_next goes past it */
	return archive_read_data_skip(s->a) == ARCHIVE_OK ? 0 :
	    rm_err_set(err, RM_EXIT_INTEGRITY, s->path, NULL, "entry '%s': %s", name,
	    archive_error_string(s->a) ? archive_error_string(s->a) : "truncated archive");
}

/*
 * The next piece of the current entry's data, *len bytes at *off (*buf
 * NULL at its end); on input *off is where it should be. 0, SCAN_OTHER,
 * or an error.
 */
static int
data_block(struct scan *s, const char *name, const void **buf, size_t *len, uint64_t *off,
    struct rm_err *err)
{
	la_int64_t o;
	ssize_t n;
	int r;

	if (s->tar != NULL) {
		if ((n = rm_tar_read(s->tar, buf)) < 0)
			return SCAN_OTHER;
		if (n == 0)
			*buf = NULL;
		*len = (size_t)n;
		return 0;
	}
	r = archive_read_data_block(s->a, buf, len, &o);
	if (r == ARCHIVE_EOF) {
		*buf = NULL;
		return 0;
	}
	if (r != ARCHIVE_OK)
		return rm_err_set(err, RM_EXIT_INTEGRITY, s->path, NULL, "entry '%s': %s", name,
		    archive_error_string(s->a) ? archive_error_string(s->a) : "read error");
	*off = (uint64_t)o;
	return 0;
}

static int
scan_entry(struct scan *s, const struct hdr *hd, struct rm_err *err)
{
	const char *name = hd->name;
	struct seen *sn;
	int slot, fd = -1, perm = hd->perm;
	uint64_t hsize, got = 0;
	struct rm_sha256 *h = NULL;
	char *mem = NULL;
	size_t memlen = 0;
	int r;

	if ((r = check_header(s, hd, err)) != 0)
		return r;
	hsize = (uint64_t)hd->size;
	if ((sn = add_seen(s, name, hsize, perm)) == NULL)
		return rm_err_set(err, RM_EXIT_INTERNAL, s->path, NULL, "out of memory");

	slot = rm_pkg_doc_slot(name);
	if (slot >= 0 && hsize > META_MAX)
		return rm_err_set(err, RM_EXIT_INTEGRITY, s->path, NULL,
		    "entry '%s' is too large (%llu bytes)", name, (unsigned long long)hsize);
	if (s->blobdir != NULL && s->dirfd >= 0) {
		/* the file from its blob; the archive's bytes only for the documents */
		if (strcmp(name, RM_PKG_SIGNATURE) != 0 &&
		    (r = place_from_blob(s, name, hsize, perm, err)) != 0)
			return r;
	}
	if (slot < 0 && !s->hash && (s->dirfd < 0 || s->blobdir != NULL))
		return data_skip(s, name, err);
	if (slot >= 0) {
		mem = malloc(hsize + 1);
		if (mem == NULL)
			return rm_err_set(err, RM_EXIT_INTERNAL, s->path, NULL, "out of memory");
	}
	if (s->dirfd >= 0 && s->blobdir == NULL && strcmp(name, RM_PKG_SIGNATURE) != 0 &&
	    (r = create_file(s, name, hsize, perm, &fd, err)) != 0) {
		free(mem);
		return r;
	}
	/* a document, read whole, is hashed in one go: no OpenSSL to start for it */
	if (mem == NULL && (h = rm_sha256_new()) == NULL) {
		/* an unhashed file would pass unchecked: fail closed */
		r = rm_err_set(err, RM_EXIT_INTERNAL, s->path, NULL, "entry '%s': cannot start "
		    "SHA-256", name);
		goto fail;
	}
	for (;;) {
		const void *buf;
		size_t len;
		uint64_t off = got;
		if ((r = data_block(s, name, &buf, &len, &off, err)) != 0)
			goto fail;
		if (buf == NULL)
			break;
		if (off != got || got + len > hsize) {
			r = rm_err_set(err, RM_EXIT_INTEGRITY, s->path, NULL,
			    "entry '%s': data beyond the %llu bytes of its header", name,
			    (unsigned long long)hsize);
			goto fail;
		}
		rm_sha256_update(h, buf, len);
		if (mem != NULL)
			memcpy(mem + got, buf, len);
		if (fd >= 0 && write_all(fd, buf, len) != 0) {
			r = rm_err_set(err, RM_EXIT_INVALID, s->path, NULL,
			    "cannot write '%s' while extracting: %s", name, strerror(errno));
			goto fail;
		}
		got += len;
	}
	if (got != hsize) {
		r = rm_err_set(err, RM_EXIT_INTEGRITY, s->path, NULL,
		    "entry '%s': %llu bytes of data, header says %llu", name,
		    (unsigned long long)got, (unsigned long long)hsize);
		goto fail;
	}
	if (mem != NULL)
		rm_sha256_hex(mem, (size_t)got, sn->sha256);
	else
		rm_sha256_final(h, sn->sha256);
	h = NULL;
	if (fd >= 0) {
		if (fsync(fd) != 0 || close(fd) != 0) {
			fd = -1;
			return rm_err_set(err, RM_EXIT_INVALID, s->path, NULL,
			    "cannot write '%s' while extracting: %s", name, strerror(errno));
		}
		fd = -1;
	}
	if (mem != NULL) {
		mem[got] = '\0';
		memlen = (size_t)got;
		s->docs[slot] = mem;
		s->doclen[slot] = memlen;
	}
	return 0;
fail:
	if (h != NULL) {
		char junk[RM_SHA256_HEX];
		rm_sha256_final(h, junk);
	}
	free(mem);
	if (fd >= 0)
		close(fd);
	return r;
}

static json_t *
parse_meta(struct scan *s, int slot, const char *name, struct rm_err *err)
{
	char shown[PATH_MAX + 64];
	json_t *v;

	snprintf(shown, sizeof(shown), "%s:%s", s->path, name);
	v = rm_doc_parse(s->docs[slot], s->doclen[slot], shown, 0, err);
	if (v == NULL && err != NULL)
		err->code = RM_EXIT_INTEGRITY;
	if (v != NULL && !json_is_object(v)) {
		json_decref(v);
		rm_err_set(err, RM_EXIT_INTEGRITY, shown, NULL, "expected a JSON object");
		return NULL;
	}
	return v;
}

static int
cmp_file(const void *a, const void *b)
{
	return strcmp(((const struct rm_pkg_file *)a)->path, ((const struct rm_pkg_file *)b)->path);
}

/*
 * 1 for a remotemedia.contents/1 list (no modes: every file 0644), 0 for
 * the current one, -1 (err set) for anything else.
 */
static int
contents_version(const json_t *contents, const char *shown, struct rm_err *err)
{
	struct rm_err old;

	rm_err_clear(&old);
	if (rm_doc_check_schema(contents, "contents", 1, 1, shown, &old) == 0)
		return 1;
	if (rm_doc_check_schema(contents, "contents", 2, 1, shown, err) == 0)
		return 0;
	err->code = RM_EXIT_INTEGRITY;
	return -1;
}

/* A mode of the contents list: "0644" or "0755"; -1 for anything else. */
static int
list_mode(const json_t *v)
{
	const char *s = json_string_value(v);

	if (s != NULL && strcmp(s, "0644") == 0)
		return 0644;
	if (s != NULL && strcmp(s, "0755") == 0)
		return 0755;
	return -1;
}

/* Reads the contents list and checks it against what the archive held. */
static int
check_contents(struct scan *s, struct rm_pkg *pkg, struct rm_err *err)
{
	json_t *files, *listed;
	size_t i;
	const char *name;
	json_t *val;
	char shown[PATH_MAX + 64];
	int legacy;

	snprintf(shown, sizeof(shown), "%s:%s", s->path, RM_PKG_CONTENTS);
	if (s->docs[1] == NULL)
		return rm_err_set(err, RM_EXIT_INTEGRITY, s->path, NULL,
		    "no %s: not a remotemedia package", RM_PKG_CONTENTS);
	rm_sha256_hex(s->docs[1], s->doclen[1], pkg->digest);
	if ((pkg->contents = parse_meta(s, 1, RM_PKG_CONTENTS, err)) == NULL)
		return -RM_EXIT_INTEGRITY;
	if ((legacy = contents_version(pkg->contents, shown, err)) < 0)
		return -RM_EXIT_INTEGRITY;
	pkg->legacy_modes = legacy;
	files = json_object_get(pkg->contents, "files");
	if (!json_is_array(files))
		return rm_err_set(err, RM_EXIT_INTEGRITY, shown, "files", "expected a list");
	pkg->files = calloc(json_array_size(files) + 1, sizeof(*pkg->files));
	listed = json_object();
	if (pkg->files == NULL || listed == NULL) {
		json_decref(listed);
		return rm_err_set(err, RM_EXIT_INTERNAL, shown, NULL, "out of memory");
	}
	for (i = 0; i < json_array_size(files); i++) {
		json_t *f = json_array_get(files, i);
		const char *path = json_string_value(json_object_get(f, "path"));
		const char *sha = json_string_value(json_object_get(f, "sha256"));
		json_t *size = json_object_get(f, "size"), *idx;
		char field[64];
		struct seen *sn;
		int mode = legacy ? 0644 : list_mode(json_object_get(f, "mode"));

		snprintf(field, sizeof(field), "files[%zu]", i);
		if (path == NULL || sha == NULL || strlen(sha) != 64 || !json_is_integer(size) ||
		    json_integer_value(size) < 0 || !rm_pkg_path_ok(path) || mode < 0) {
			json_decref(listed);
			return rm_err_set(err, RM_EXIT_INTEGRITY, shown, field, legacy ?
			    "expected {\"path\", \"size\", \"sha256\"} with a safe path" :
			    "expected {\"path\", \"size\", \"sha256\", \"mode\": \"0644\" or "
			    "\"0755\"} with a safe path");
		}
		if (json_object_get(listed, path) != NULL || strcmp(path, RM_PKG_CONTENTS) == 0 ||
		    strcmp(path, RM_PKG_SIGNATURE) == 0) {
			json_decref(listed);
			return rm_err_set(err, RM_EXIT_INTEGRITY, shown, field,
			    "'%s' listed twice or not allowed in the list", path);
		}
		json_object_set_new(listed, path, json_true());
		pkg->files[i].path = strdup(path);
		pkg->files[i].size = (uint64_t)json_integer_value(size);
		snprintf(pkg->files[i].sha256, RM_SHA256_HEX, "%s", sha);
		pkg->files[i].mode = mode;
		pkg->nfiles = i + 1;
		pkg->total_size += pkg->files[i].size;
		if (s->entries == NULL)		/* meta documents alone: no archive */
			continue;
		idx = json_object_get(s->entries, path);
		if (idx == NULL) {
			json_decref(listed);
			return rm_err_set(err, RM_EXIT_INTEGRITY, s->path, NULL,
			    "'%s' is in the contents list but missing from the package", path);
		}
		sn = &s->seen[json_integer_value(idx)];
		if (sn->size != pkg->files[i].size) {
			json_decref(listed);
			return rm_err_set(err, RM_EXIT_INTEGRITY, s->path, NULL,
			    "'%s' is %llu bytes, the contents list says %llu", path,
			    (unsigned long long)sn->size, (unsigned long long)pkg->files[i].size);
		}
		/*
		 * A contents/1 list signed no modes, and its writer stored 0755 for
		 * executable sources: either is accepted, and every file is made
		 * 0644 (the list's mode), so an unsigned bit never takes effect.
		 */
		if (legacy ? sn->mode != 0644 && sn->mode != 0755 : sn->mode != mode) {
			json_decref(listed);
			return rm_err_set(err, RM_EXIT_INTEGRITY, s->path, NULL,
			    "'%s' has mode %04o in the archive, the contents list says %04o%s", path,
			    (unsigned int)sn->mode, (unsigned int)mode,
			    legacy ? " (a remotemedia.contents/1 list: 0644 or 0755)" : "");
		}
		if (sn->sha256[0] != '\0' && strcmp(sn->sha256, sha) != 0) {
			json_decref(listed);
			return rm_err_set(err, RM_EXIT_INTEGRITY, s->path, NULL,
			    "'%s' has been modified: sha256 %s, the contents list says %s", path,
			    sn->sha256, sha);
		}
	}
	json_object_foreach(s->entries, name, val) {
		if (strcmp(name, RM_PKG_CONTENTS) == 0 || strcmp(name, RM_PKG_SIGNATURE) == 0)
			continue;
		if (json_object_get(listed, name) == NULL) {
			json_decref(listed);
			return rm_err_set(err, RM_EXIT_INTEGRITY, s->path, NULL,
			    "'%s' is in the package but not in the contents list", name);
		}
	}
	json_decref(listed);
	qsort(pkg->files, pkg->nfiles, sizeof(*pkg->files), cmp_file);
	return 0;
}

static void
scan_release(struct scan *s)
{
	int i;

	json_decref(s->entries);
	free(s->seen);
	for (i = 0; i < 5; i++)
		free(s->docs[i]);
}

/* The package's documents, once read: the contents list (checked against the
 * archive's entries when there are any), manifest and meta files. */
static int
read_docs(struct scan *s, int hash, struct rm_pkg *pkg, struct rm_err *err)
{
	char shown[PATH_MAX + 64];
	json_t *raw;
	int r;

	if ((r = check_contents(s, pkg, err)) != 0)
		return r;
	if (s->docs[0] == NULL)
		return rm_err_set(err, RM_EXIT_INTEGRITY, s->path, NULL,
		    "no manifest.json: not a remotemedia package");
	pkg->verified = hash;
	if ((raw = parse_meta(s, 0, "manifest.json", err)) == NULL)
		return -RM_EXIT_INTEGRITY;
	snprintf(shown, sizeof(shown), "%s:manifest.json", s->path);
	pkg->manifest = rm_pipeline_normalize(raw, shown, err);
	json_decref(raw);
	if (pkg->manifest == NULL)
		return -err->code;
	if (s->docs[2] != NULL && (pkg->provenance = parse_meta(s, 2, "meta/provenance.json",
	    err)) == NULL)
		return -RM_EXIT_INTEGRITY;
	if (s->docs[3] != NULL && (pkg->runtime = parse_meta(s, 3, "meta/runtime.json",
	    err)) == NULL)
		return -RM_EXIT_INTEGRITY;
	if (s->docs[4] != NULL) {
		json_error_t je;
		pkg->signature = json_loadb(s->docs[4], s->doclen[4], JSON_REJECT_DUPLICATES, &je);
		if (!json_is_object(pkg->signature)) {
			json_decref(pkg->signature);
			pkg->signature = NULL;
			return rm_err_set(err, RM_EXIT_INTEGRITY, s->path, RM_PKG_SIGNATURE,
			    "malformed signature document");
		}
	}
	return 0;
}

/* Reads the archive with libarchive, every entry through scan_entry. */
static int
scan_archive(struct scan *s, struct rm_err *err)
{
	struct archive_entry *e;
	struct hdr hd;
	int r = 0, ar;

	if ((s->a = archive_read_new()) == NULL)
		return rm_err_set(err, RM_EXIT_INTERNAL, s->path, NULL, "out of memory");
	/* plain tar only: no compression filters, no other formats */
	archive_read_support_format_tar(s->a);
	if (archive_read_open_filename(s->a, s->path, 1 << 20) != ARCHIVE_OK) {
		int en = archive_errno(s->a);
		r = rm_err_set(err, en == ENOENT ? RM_EXIT_NOTFOUND : RM_EXIT_INTEGRITY, s->path,
		    NULL, "cannot open package: %s", archive_error_string(s->a));
		goto out;
	}
	while ((ar = archive_read_next_header(s->a, &e)) == ARCHIVE_OK || ar == ARCHIVE_WARN) {
		archive_hdr(e, &hd);
		if ((r = scan_entry(s, &hd, err)) != 0)
			goto out;
	}
	if (ar != ARCHIVE_EOF)
		r = rm_err_set(err, RM_EXIT_INTEGRITY, s->path, NULL,
		    "not a valid package archive: %s", archive_error_string(s->a) ?
		    archive_error_string(s->a) : "read error");
out:
	archive_read_free(s->a);
	s->a = NULL;
	return r;
}

/*
 * Reads the archive with rm_tar (rm_tar.h), without libarchive and the
 * libraries it loads: 0, an error of the package, or SCAN_OTHER with err
 * untouched when rm_tar does not take the archive.
 */
static int
scan_tar(struct scan *s, struct rm_err *err)
{
	struct rm_tar_entry te;
	struct hdr hd;
	int fd, r = 0, t = RM_TAR_OTHER;

	if ((fd = open(s->path, O_RDONLY | O_CLOEXEC)) < 0)
		return SCAN_OTHER;
	if ((s->tar = rm_tar_open(fd)) == NULL) {
		close(fd);
		return SCAN_OTHER;
	}
	while (r == 0 && (t = rm_tar_next(s->tar, &te)) == RM_TAR_ENTRY) {
		hd.name = te.name;
		hd.what = NULL;
		hd.perm = te.perm;
		hd.size = (int64_t)te.size;
		r = scan_entry(s, &hd, err);
	}
	if (r == 0 && t != RM_TAR_END)
		r = SCAN_OTHER;
	rm_tar_close(s->tar);
	s->tar = NULL;
	close(fd);
	return r;
}

static int
scan_init(struct scan *s, const char *path, int hash, int dirfd, const char *blobdir,
    const struct rm_pkg *want, uint64_t link_min, struct rm_err *err)
{
	memset(s, 0, sizeof(*s));
	s->path = path;
	s->hash = hash;
	s->dirfd = dirfd;
	s->blobdir = blobdir;
	s->want = want;
	s->link_min = link_min;
	s->umask = blobdir != NULL ? current_umask() : 022;
	if ((s->entries = json_object()) == NULL)
		return rm_err_set(err, RM_EXIT_INTERNAL, path, NULL, "out of memory");
	return 0;
}

/*
 * One pass over the archive; fills pkg. dirfd >= 0 extracts there: from the
 * archive's bytes, or with blobdir from the blobs want's contents list names.
 * Without extraction rm_tar reads it if it can, else (nothing done yet)
 * libarchive from the start.
 */
static int
scan_blobs(const char *path, int hash, int dirfd, const char *blobdir, const struct rm_pkg *want,
    uint64_t link_min, struct rm_pkg *pkg, struct rm_err *err)
{
	struct scan s;
	int r;

	if ((r = scan_init(&s, path, hash, dirfd, blobdir, want, link_min, err)) == 0 &&
	    (dirfd >= 0 || (r = scan_tar(&s, err)) == SCAN_OTHER)) {
		scan_release(&s);
		if ((r = scan_init(&s, path, hash, dirfd, blobdir, want, link_min, err)) == 0)
			r = scan_archive(&s, err);
	}
	if (r == 0 && s.nseen == 0)
		r = rm_err_set(err, RM_EXIT_INTEGRITY, path, NULL, "empty archive: not a package");
	if (r == 0)
		r = read_docs(&s, hash, pkg, err);
	scan_release(&s);
	return r;
}

static int
scan(const char *path, int hash, int dirfd, struct rm_pkg *pkg, struct rm_err *err)
{
	return scan_blobs(path, hash, dirfd, NULL, NULL, 0, pkg, err);
}

int
rm_pkg_open(const char *path, int flags, struct rm_pkg **out, struct rm_err *err)
{
	struct rm_pkg *pkg;
	int r;

	*out = NULL;
	pkg = calloc(1, sizeof(*pkg));
	if (pkg == NULL || (pkg->path = strdup(path)) == NULL) {
		free(pkg);
		return rm_err_set(err, RM_EXIT_INTERNAL, path, NULL, "out of memory");
	}
	if ((r = scan(path, (flags & RM_PKG_VERIFY) != 0, -1, pkg, err)) != 0) {
		rm_pkg_free(pkg);
		return r;
	}
	rm_sig_check(pkg->signature, pkg->digest, &pkg->sig);
	if (pkg->sig.status == RM_SIG_INVALID) {
		r = rm_err_set(err, RM_EXIT_INTEGRITY, path, RM_PKG_SIGNATURE, "invalid signature: %s",
		    pkg->sig.reason);
		rm_pkg_free(pkg);
		return r;
	}
	if (pkg->sig.status != RM_SIG_VALID && !(flags & RM_PKG_NO_POLICY)) {
		const char *why = pkg->sig.status == RM_SIG_UNSIGNED ? "unsigned" : pkg->sig.reason;
		if ((flags & RM_PKG_REQUIRE_TRUST) || rm_mode() == RM_MODE_PRODUCTION) {
			r = rm_err_set(err, RM_EXIT_INTEGRITY, path, NULL,
			    "refused: package is %s%s", pkg->sig.status == RM_SIG_UNSIGNED ? "" :
			    "signed but untrusted: ", why);
			rm_pkg_free(pkg);
			return r;
		}
		rm_warn("%s: package is %s%s (accepted in development mode)", path,
		    pkg->sig.status == RM_SIG_UNSIGNED ? "" : "signed but untrusted: ", why);
	}
	*out = pkg;
	return 0;
}

int
rm_pkg_open_meta(const char *shown, char *const docs[5], const size_t lens[5],
    struct rm_pkg **out, struct rm_err *err)
{
	struct rm_pkg *pkg;
	struct scan s;
	int i, r = 0;

	*out = NULL;
	memset(&s, 0, sizeof(s));
	s.path = shown;
	pkg = calloc(1, sizeof(*pkg));
	if (pkg == NULL || (pkg->path = strdup(shown)) == NULL)
		r = rm_err_set(err, RM_EXIT_INTERNAL, shown, NULL, "out of memory");
	for (i = 0; i < 5 && r == 0; i++) {
		if (docs[i] == NULL)
			continue;
		if ((s.docs[i] = malloc(lens[i] + 1)) == NULL) {
			r = rm_err_set(err, RM_EXIT_INTERNAL, shown, NULL, "out of memory");
			break;
		}
		memcpy(s.docs[i], docs[i], lens[i]);
		s.docs[i][lens[i]] = '\0';
		s.doclen[i] = lens[i];
	}
	if (r == 0)
		r = read_docs(&s, 0, pkg, err);
	scan_release(&s);
	if (r == 0) {
		rm_sig_check(pkg->signature, pkg->digest, &pkg->sig);
		if (pkg->sig.status == RM_SIG_INVALID)
			r = rm_err_set(err, RM_EXIT_INTEGRITY, shown, RM_PKG_SIGNATURE,
			    "invalid signature: %s", pkg->sig.reason);
	}
	if (r != 0) {
		rm_pkg_free(pkg);
		return r;
	}
	*out = pkg;
	return 0;
}


static int
extract(const struct rm_pkg *pkg, const char *dir, const char *blobdir, uint64_t link_min,
    struct rm_err *err)
{
	char tmp[PATH_MAX];
	struct rm_pkg *again;
	int fd, r;

	if (access(dir, F_OK) == 0)
		return rm_err_set(err, RM_EXIT_INVALID, dir, NULL, "already exists");
	if ((r = rm_path(tmp, sizeof(tmp), err, "%s.tmp.XXXXXX", dir)) != 0)
		return r;
	if (mkdtemp(tmp) == NULL)
		return rm_err_set(err, RM_EXIT_INVALID, dir, NULL, "cannot create a directory: %s",
		    strerror(errno));
	fd = open(tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	again = calloc(1, sizeof(*again));
	if (fd < 0 || again == NULL) {
		r = rm_err_set(err, RM_EXIT_INTERNAL, tmp, NULL, "cannot open: %s", strerror(errno));
		goto fail;
	}
	if ((r = scan_blobs(pkg->path, blobdir == NULL, fd, blobdir, pkg, link_min, again,
	    err)) != 0)
		goto fail;
	if (strcmp(again->digest, pkg->digest) != 0) {
		r = rm_err_set(err, RM_EXIT_INTEGRITY, pkg->path, NULL,
		    "the package changed since it was verified (digest %s, was %s)", again->digest,
		    pkg->digest);
		goto fail;
	}
	fsync(fd);
	close(fd);
	fd = -1;
	if (chmod(tmp, 0755) != 0 || rename(tmp, dir) != 0) {
		r = rm_err_set(err, RM_EXIT_INVALID, dir, NULL, "cannot move into place: %s",
		    strerror(errno));
		goto fail;
	}
	rm_pkg_free(again);
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	rm_pkg_free(again);
	rm_remove_tree(tmp);
	return r;
}

int
rm_pkg_extract(const struct rm_pkg *pkg, const char *dir, struct rm_err *err)
{
	return extract(pkg, dir, NULL, 0, err);
}

int
rm_pkg_extract_blobs(const struct rm_pkg *pkg, const char *dir, const char *blobdir,
    uint64_t link_min, struct rm_err *err)
{
	return extract(pkg, dir, blobdir, link_min, err);
}

/* ---- writing ------------------------------------------------------------ */

struct rm_pkg_writer {
	struct archive *a;
	struct archive_entry *e;
	char tmp[PATH_MAX], final[PATH_MAX];
	int fd;
	time_t mtime;
	char last[1100];
	unsigned char *buf;
	/* a map (rm_pkg_map_open): the bytes so far, the data not kept, the map */
	struct rm_pkg_map *map;
	uint64_t pos, hole_start, hole_end, mark;
	size_t cap;
	int nomem;
};

static int
wr_archive_err(struct rm_pkg_writer *w, const char *name, struct rm_err *err)
{
	return rm_err_set(err, RM_EXIT_INVALID, w->final, NULL, "cannot write entry '%s': %s", name,
	    archive_error_string(w->a) ? archive_error_string(w->a) : strerror(errno));
}

int
rm_pkg_writer_open(const char *final_path, time_t mtime, struct rm_pkg_writer **out,
    struct rm_err *err)
{
	struct rm_pkg_writer *w;
	int r;

	*out = NULL;
	w = calloc(1, sizeof(*w));
	if (w == NULL)
		return rm_err_set(err, RM_EXIT_INTERNAL, final_path, NULL, "out of memory");
	w->fd = -1;
	w->mtime = mtime;
	if ((r = rm_path(w->final, sizeof(w->final), err, "%s", final_path)) != 0 ||
	    (r = rm_path(w->tmp, sizeof(w->tmp), err, "%s.tmp.XXXXXX", final_path)) != 0) {
		free(w);
		return r;
	}
	w->fd = mkstemp(w->tmp);
	if (w->fd < 0) {
		r = rm_err_set(err, RM_EXIT_INVALID, final_path, NULL,
		    "cannot create a temporary file: %s", strerror(errno));
		free(w);
		return r;
	}
	w->a = archive_write_new();
	w->e = archive_entry_new();
	w->buf = malloc(COPY_BLOCK);
	if (w->a == NULL || w->e == NULL || w->buf == NULL ||
	    archive_write_set_format_pax_restricted(w->a) != ARCHIVE_OK ||
	    archive_write_add_filter_none(w->a) != ARCHIVE_OK ||
	    archive_write_set_bytes_per_block(w->a, 10240) != ARCHIVE_OK ||
	    archive_write_open_fd(w->a, w->fd) != ARCHIVE_OK) {
		r = rm_err_set(err, RM_EXIT_INTERNAL, final_path, NULL, "cannot start the archive");
		rm_pkg_writer_abort(w);
		return r;
	}
	*out = w;
	return 0;
}

static int
wr_header(struct rm_pkg_writer *w, const char *name, uint64_t size, int mode, struct rm_err *err)
{
	if (!rm_pkg_path_ok(name))
		return rm_err_set(err, RM_EXIT_INVALID, w->final, NULL, "unsafe entry name '%s'", name);
	if (w->last[0] != '\0' && strcmp(w->last, name) >= 0)
		return rm_err_set(err, RM_EXIT_INTERNAL, w->final, NULL,
		    "entries out of order or repeated: '%s' after '%s'", name, w->last);
	snprintf(w->last, sizeof(w->last), "%s", name);
	archive_entry_clear(w->e);
	archive_entry_set_pathname(w->e, name);
	archive_entry_set_filetype(w->e, AE_IFREG);
	archive_entry_set_perm(w->e, (mode & 0111) ? 0755 : 0644);
	archive_entry_set_size(w->e, (la_int64_t)size);
	archive_entry_set_uid(w->e, 0);
	archive_entry_set_gid(w->e, 0);
	archive_entry_set_uname(w->e, "root");
	archive_entry_set_gname(w->e, "root");
	archive_entry_set_mtime(w->e, w->mtime, 0);
	if (archive_write_header(w->a, w->e) != ARCHIVE_OK)
		return wr_archive_err(w, name, err);
	return 0;
}

int
rm_pkg_writer_add_mem(struct rm_pkg_writer *w, const char *name, const void *data, size_t len,
    int mode, struct rm_err *err)
{
	int r;

	if ((r = wr_header(w, name, len, mode, err)) != 0)
		return r;
	if (len > 0 && archive_write_data(w->a, data, len) != (la_ssize_t)len)
		return wr_archive_err(w, name, err);
	return 0;
}

int
rm_pkg_writer_add_file(struct rm_pkg_writer *w, const char *name, const char *src,
    uint64_t size, const char *sha256, int mode, struct rm_err *err)
{
	struct stat before, after;
	uint64_t done = 0;
	int fd, r;

	fd = open(src, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return rm_err_set(err, errno == ENOENT ? RM_EXIT_NOTFOUND : RM_EXIT_INVALID, src, NULL,
		    "cannot open: %s", strerror(errno));
#ifdef POSIX_FADV_SEQUENTIAL
	posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
#endif
	if ((r = wr_header(w, name, size, mode, err)) != 0) {
		close(fd);
		return r;
	}
	/*
	 * Hashing again while copying would cost a second pass over every model;
	 * a file that changes between the caller's hash and this copy is caught
	 * by its size and change time instead (and the loader would refuse it).
	 */
	if (sha256 != NULL && fstat(fd, &before) != 0) {
		close(fd);
		return rm_err_set(err, RM_EXIT_INVALID, src, NULL, "cannot stat: %s", strerror(errno));
	}
	while (done < size) {
		size_t want = size - done < COPY_BLOCK ? (size_t)(size - done) : COPY_BLOCK;
		ssize_t n = read(fd, w->buf, want);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = rm_err_set(err, RM_EXIT_INVALID, src, NULL,
			    n == 0 ? "file shrank while being packaged" : "read error: %s",
			    strerror(errno));
			goto out;
		}
		if (archive_write_data(w->a, w->buf, (size_t)n) != n) {
			r = wr_archive_err(w, name, err);
			goto out;
		}
		done += (uint64_t)n;
	}
	if (read(fd, w->buf, 1) > 0) {
		r = rm_err_set(err, RM_EXIT_INVALID, src, NULL, "file grew while being packaged");
		goto out;
	}
	if (sha256 != NULL && (fstat(fd, &after) != 0 || after.st_size != before.st_size ||
	    after.st_ctim.tv_sec != before.st_ctim.tv_sec ||
	    after.st_ctim.tv_nsec != before.st_ctim.tv_nsec)) {
		r = rm_err_set(err, RM_EXIT_INVALID, src, NULL, "file changed while being packaged");
		goto out;
	}
	r = 0;
out:
	close(fd);
	return r;
}

int
rm_pkg_writer_commit(struct rm_pkg_writer *w, const char *final_path, struct rm_err *err)
{
	int r = 0;
	const char *dest = final_path ? final_path : w->final;

	if (archive_write_close(w->a) != ARCHIVE_OK)
		r = wr_archive_err(w, "(end)", err);
	else if (fchmod(w->fd, 0644) != 0 || fsync(w->fd) != 0)
		r = rm_err_set(err, RM_EXIT_INVALID, w->final, NULL, "cannot write: %s",
		    strerror(errno));
	else if (rename(w->tmp, dest) != 0)
		r = rm_err_set(err, RM_EXIT_INVALID, dest, NULL, "cannot rename into place: %s",
		    strerror(errno));
	else
		w->tmp[0] = '\0';
	rm_pkg_writer_abort(w);
	return r;
}

void
rm_pkg_writer_abort(struct rm_pkg_writer *w)
{
	if (w == NULL)
		return;
	if (w->a != NULL)
		archive_write_free(w->a);
	rm_pkg_map_free(w->map);
	archive_entry_free(w->e);
	if (w->fd >= 0)
		close(w->fd);
	if (w->tmp[0] != '\0')
		unlink(w->tmp);
	free(w->buf);
	free(w);
}

/* ---- the archive without its data -------------------------------------- */

/* libarchive's output, unblocked: all but the entries' data is kept. */
static la_ssize_t
map_write(struct archive *a, void *u, const void *buf, size_t len)
{
	struct rm_pkg_writer *w = u;
	struct rm_pkg_map *m = w->map;
	const unsigned char *b = buf;
	size_t done = 0;

	(void)a;
	while (done < len) {
		uint64_t at = w->pos + done;
		size_t n = len - done;
		if (at >= w->hole_start && at < w->hole_end) {
			if (w->hole_end - at < n)
				n = (size_t)(w->hole_end - at);
		} else {
			if (at < w->hole_start && w->hole_start - at < n)
				n = (size_t)(w->hole_start - at);
			char *lit = (char *)m->lit;
			if (rm_buf_reserve(&lit, &w->cap, m->lit_len, n) != 0) {
				w->nomem = 1;
				return -1;
			}
			m->lit = (unsigned char *)lit;
			memcpy(m->lit + m->lit_len, b + done, n);
			m->lit_len += n;
		}
		done += n;
	}
	w->pos += len;
	return (la_ssize_t)len;
}

int
rm_pkg_map_open(time_t mtime, struct rm_pkg_writer **out, struct rm_err *err)
{
	struct rm_pkg_writer *w;

	*out = NULL;
	if ((w = calloc(1, sizeof(*w))) == NULL || (w->map = calloc(1, sizeof(*w->map))) == NULL) {
		free(w);
		return rm_err_set(err, RM_EXIT_INTERNAL, NULL, NULL, "out of memory");
	}
	w->fd = -1;
	w->mtime = mtime;
	snprintf(w->final, sizeof(w->final), "(package map)");
	w->a = archive_write_new();
	w->e = archive_entry_new();
	/* as rm_pkg_writer_open writes to a regular file: the last block not padded */
	if (w->a == NULL || w->e == NULL ||
	    archive_write_set_format_pax_restricted(w->a) != ARCHIVE_OK ||
	    archive_write_add_filter_none(w->a) != ARCHIVE_OK ||
	    archive_write_set_bytes_per_block(w->a, 0) != ARCHIVE_OK ||
	    archive_write_set_bytes_in_last_block(w->a, 1) != ARCHIVE_OK ||
	    archive_write_open2(w->a, w, NULL, map_write, NULL, NULL) != ARCHIVE_OK) {
		rm_pkg_writer_abort(w);
		return rm_err_set(err, RM_EXIT_INTERNAL, NULL, NULL, "cannot start the archive");
	}
	*out = w;
	return 0;
}

int
rm_pkg_map_add(struct rm_pkg_writer *w, const char *name, uint64_t size, int mode,
    struct rm_err *err)
{
	struct rm_pkg_map *m = w->map;
	struct rm_pkg_map_ent *e;
	int r;

	if ((e = realloc(m->ent, (m->n + 1) * sizeof(*e))) == NULL)
		return rm_err_set(err, RM_EXIT_INTERNAL, NULL, NULL, "out of memory");
	m->ent = e;
	if ((r = wr_header(w, name, size, mode, err)) != 0)
		return r;
	e = &m->ent[m->n++];
	/* the last one's padding and this header, then a hole for the data */
	e->lit_off = w->mark;
	e->lit_len = m->lit_len - w->mark;
	e->size = size;
	w->mark = m->lit_len;
	w->hole_start = w->pos;
	w->hole_end = w->pos + size;
	/* the data is never written: libarchive fills the hole with zeros */
	if (archive_write_finish_entry(w->a) != ARCHIVE_OK)
		return w->nomem ? rm_err_set(err, RM_EXIT_INTERNAL, NULL, NULL, "out of memory") :
		    wr_archive_err(w, name, err);
	return 0;
}

int
rm_pkg_map_finish(struct rm_pkg_writer *w, struct rm_pkg_map **map, struct rm_err *err)
{
	int r = 0;

	*map = NULL;
	if (archive_write_close(w->a) != ARCHIVE_OK)
		r = w->nomem ? rm_err_set(err, RM_EXIT_INTERNAL, NULL, NULL, "out of memory") :
		    wr_archive_err(w, "(end)", err);
	else {
		w->map->tail_off = w->mark;
		w->map->tail_len = w->map->lit_len - w->mark;
		w->map->total = w->pos;
		*map = w->map;
		w->map = NULL;
	}
	rm_pkg_writer_abort(w);
	return r;
}

void
rm_pkg_map_free(struct rm_pkg_map *map)
{
	if (map == NULL)
		return;
	free(map->ent);
	free(map->lit);
	free(map);
}

int
rm_pkg_set_signature(const char *path, const json_t *sigdoc, struct rm_err *err)
{
	struct archive *a = NULL;
	struct archive_entry *e;
	struct rm_pkg_writer *w = NULL;
	char *sig = rm_json_dump_file(sigdoc);
	int r, ar, done = 0;
	time_t mtime = 0;

	if (sig == NULL)
		return rm_err_set(err, RM_EXIT_INTERNAL, path, NULL, "cannot encode the signature");
	a = archive_read_new();
	archive_read_support_format_tar(a);
	if (archive_read_open_filename(a, path, 1 << 20) != ARCHIVE_OK) {
		r = rm_err_set(err, RM_EXIT_INVALID, path, NULL, "cannot open: %s",
		    archive_error_string(a));
		goto out;
	}
	while ((ar = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
		const char *name = archive_entry_pathname(e);
		uint64_t size = (uint64_t)archive_entry_size(e), got = 0;
		if (w == NULL) {
			mtime = archive_entry_mtime(e);
			if ((r = rm_pkg_writer_open(path, mtime, &w, err)) != 0)
				goto out;
		}
		if (name == NULL || !rm_pkg_path_ok(name) || archive_entry_filetype(e) != AE_IFREG) {
			r = rm_err_set(err, RM_EXIT_INTEGRITY, path, NULL, "unsafe entry '%s'",
			    name ? name : "?");
			goto out;
		}
		if (strcmp(name, RM_PKG_SIGNATURE) == 0)
			continue;
		if (!done && strcmp(name, RM_PKG_SIGNATURE) > 0) {
			if ((r = rm_pkg_writer_add_mem(w, RM_PKG_SIGNATURE, sig, strlen(sig), 0644,
			    err)) != 0)
				goto out;
			done = 1;
		}
		if ((r = wr_header(w, name, size, archive_entry_perm(e), err)) != 0)
			goto out;
		for (;;) {
			la_ssize_t n = archive_read_data(a, w->buf, COPY_BLOCK);
			if (n == 0)
				break;
			if (n < 0 || got + (uint64_t)n > size) {
				r = rm_err_set(err, RM_EXIT_INTEGRITY, path, NULL, "entry '%s': %s", name,
				    n < 0 ? archive_error_string(a) : "data beyond its header");
				goto out;
			}
			if (archive_write_data(w->a, w->buf, (size_t)n) != n) {
				r = wr_archive_err(w, name, err);
				goto out;
			}
			got += (uint64_t)n;
		}
		if (got != size) {
			r = rm_err_set(err, RM_EXIT_INTEGRITY, path, NULL, "entry '%s' is truncated", name);
			goto out;
		}
	}
	if (ar != ARCHIVE_EOF || w == NULL) {
		r = rm_err_set(err, RM_EXIT_INTEGRITY, path, NULL, "not a valid package archive");
		goto out;
	}
	if (!done && (r = rm_pkg_writer_add_mem(w, RM_PKG_SIGNATURE, sig, strlen(sig), 0644,
	    err)) != 0)
		goto out;
	r = rm_pkg_writer_commit(w, NULL, err);
	w = NULL;
out:
	rm_pkg_writer_abort(w);
	archive_read_free(a);
	free(sig);
	return r;
}
