/*
 * rm_tar (common/rm_tar.h): the archives rm_pkg_writer writes are read
 * entry by entry, data and all; every header it does not take exactly
 * (other magic, types, link names, numbers, names, checksum, sizes past
 * the end, no end block) is RM_TAR_OTHER, never an entry.
 */
#include "config.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rm_err.h"
#include "rm_pkg.h"
#include "rm_tar.h"
#include "tap.h"

#define B 512

static char tmpl[] = "/tmp/rm-test-tar-XXXXXX";
static unsigned char ar[16 * B];

/* Writes the checksum of header h. */
static void
resum(unsigned char *h)
{
	unsigned int sum = 0;
	int i;

	memset(h + 148, ' ', 8);
	for (i = 0; i < B; i++)
		sum += h[i];
	snprintf((char *)h + 148, 8, "%06o", sum);
}

/* A header at h: name, prefix, mode, size, type, with its checksum. */
static void
header(unsigned char *h, const char *name, const char *prefix, const char *mode,
    const char *size, char type)
{
	memset(h, 0, B);
	memcpy(h, name, strlen(name));
	memcpy(h + 100, mode, strlen(mode));
	memcpy(h + 108, "000000 ", 8);
	memcpy(h + 116, "000000 ", 8);
	memcpy(h + 124, size, strlen(size));
	memcpy(h + 136, "14524770400 ", 12);
	h[156] = (unsigned char)type;
	memcpy(h + 257, "ustar\0" "00", 8);
	memcpy(h + 265, "root", 4);
	memcpy(h + 297, "root", 4);
	memcpy(h + 329, "000000 ", 8);
	memcpy(h + 337, "000000 ", 8);
	memcpy(h + 345, prefix, strlen(prefix));
	resum(h);
}

/* A fresh file holding n bytes of ar, open for reading. */
static int
file_of(size_t n)
{
	char path[sizeof(tmpl)];
	int fd;

	memcpy(path, tmpl, sizeof(tmpl));
	if ((fd = mkstemp(path)) < 0 || write(fd, ar, n) != (ssize_t)n)
		abort();
	unlink(path);
	return fd;
}

/* The standard archive: "a/b.txt" (prefix "a") of 600 bytes, "e" of 0, end. */
static size_t
standard(void)
{
	memset(ar, 0, sizeof(ar));
	header(ar, "b.txt", "a", "000644 ", "00000001130 ", '0');
	memset(ar + B, 'x', 600);
	header(ar + 3 * B, "e", "", "000755 ", "00000000000 ", '0');
	return 6 * B;	/* two blocks of zeros after */
}

/* What rm_tar makes of the first header of ar (n bytes): an entry, the end, other. */
static int
first(size_t n, struct rm_tar_entry *e)
{
	int fd = file_of(n), r;
	struct rm_tar *t = rm_tar_open(fd);

	r = t != NULL ? rm_tar_next(t, e) : -99;
	rm_tar_close(t);
	close(fd);
	return r;
}

static void
test_standard(void)
{
	struct rm_tar_entry e;
	const void *buf;
	int fd = file_of(standard());
	struct rm_tar *t = rm_tar_open(fd);
	ssize_t n;

	ok(t != NULL, "a regular file is opened");
	ok(rm_tar_next(t, &e) == RM_TAR_ENTRY, "first entry");
	is_str(e.name, "a/b.txt", "prefix and name are joined with a slash");
	ok(e.perm == 0644 && e.size == 600, "mode 0644, 600 bytes");
	n = rm_tar_read(t, &buf);
	ok(n == 600 && memcmp(buf, ar + B, 600) == 0, "its 600 bytes, padding left out");
	ok(rm_tar_read(t, &buf) == 0, "then the end of its data");
	ok(rm_tar_next(t, &e) == RM_TAR_ENTRY && strcmp(e.name, "e") == 0 && e.perm == 0755 &&
	    e.size == 0, "second entry: e, 0755, empty");
	ok(rm_tar_read(t, &buf) == 0, "no data");
	ok(rm_tar_next(t, &e) == RM_TAR_END, "the zero block ends it");
	ok(rm_tar_next(t, &e) == RM_TAR_OTHER, "nothing after the end");
	rm_tar_close(t);
	close(fd);

	/* the longest name: a prefix of 155 and a name of 100, neither with a NUL */
	standard();
	memset(ar, 'n', 100);
	memset(ar + 345, 'p', 155);
	resum(ar);
	fd = file_of(6 * B);
	t = rm_tar_open(fd);
	ok(rm_tar_next(t, &e) == RM_TAR_ENTRY && strlen(e.name) == 256 && e.name[155] == '/' &&
	    e.name[0] == 'p' && e.name[255] == 'n', "a name of 155 + 1 + 100 characters");
	rm_tar_close(t);
	close(fd);

	fd = file_of(standard());
	t = rm_tar_open(fd);
	ok(rm_tar_next(t, &e) == RM_TAR_ENTRY && rm_tar_next(t, &e) == RM_TAR_ENTRY &&
	    strcmp(e.name, "e") == 0, "unread data is skipped");
	rm_tar_close(t);
	close(fd);
}

/* Changes one thing of the standard archive's first header: never an entry. */
static void
test_refused(void)
{
	static const struct {
		size_t off;
		const char *bytes;
		size_t len;
		const char *what;
	} bad[] = {
		{ 257, "ustar  \0", 8, "GNU magic" },
		{ 263, "01", 2, "another version" },
		{ 156, "5", 1, "a directory" },
		{ 156, "x", 1, "a pax header" },
		{ 156, "g", 1, "a global pax header" },
		{ 156, "L", 1, "a GNU long name" },
		{ 156, "1", 1, "a hard link" },
		{ 156, "2", 1, "a symbolic link" },
		{ 156, "\0", 1, "an old regular file" },
		{ 157, "target", 6, "a link name" },
		{ 100, "0100644", 8, "file type bits in the mode" },
		{ 100, "004755 ", 8, "setuid" /* taken: the caller refuses the mode */ },
		{ 124, "\x80\0\0\0\0\0\0\0\0\0\x02\x58", 12, "a base-256 size" },
		{ 124, "000000011308", 12, "a digit 8 in the size" },
		{ 124, "000000001130", 12, "a size without a terminator" },
		{ 124, " 0000001130 ", 12, "a leading space" },
		{ 124, "           \0", 12, "no digits" },
		{ 124, "00000001130x", 12, "garbage after the size" },
		{ 136, "1452477040x ", 12, "garbage in the mtime" },
		{ 108, "00000x ", 8, "garbage in the uid" },
		{ 329, "\x80", 1, "a base-256 devmajor" },
		{ 0, "b.txt\0z", 7, "bytes after the name's NUL" },
		{ 0, "b\x80", 2, "a byte above ASCII" },
		{ 0, "b\x7f", 2, "DEL" },
		{ 0, "b\n", 2, "a control character" },
		{ 0, "b/\0\0\0", 5, "a trailing slash" },
		{ 0, "\0\0\0\0\0", 5, "an empty name" },
		{ 345, "a/", 2, "a prefix ending in a slash" },
		{ 345, "\x01", 1, "a control character in the prefix" },
		{ 265, "r\x90ot", 4, "a user name above ASCII" },
		{ 500, "z", 1, "bytes in the padding" },
	};
	struct rm_tar_entry e;
	size_t i, n;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		n = standard();
		memcpy(ar + bad[i].off, bad[i].bytes, bad[i].len);
		resum(ar);
		if (strcmp(bad[i].what, "setuid") == 0)
			ok(first(n, &e) == RM_TAR_ENTRY && e.perm == 04755,
			    "%s: an entry of mode 04755", bad[i].what);
		else
			ok(first(n, &e) == RM_TAR_OTHER, "%s: not taken", bad[i].what);
	}
	n = standard();
	ar[148] = '1';
	ok(first(n, &e) == RM_TAR_OTHER, "a wrong checksum: not taken");
}

static void
test_bounds(void)
{
	struct rm_tar_entry e;
	struct rm_tar *t;
	int fd, p[2];

	standard();
	ok(first(3 * B, &e) == RM_TAR_ENTRY, "an entry that ends at the end of the file");
	fd = file_of(3 * B);
	t = rm_tar_open(fd);
	ok(rm_tar_next(t, &e) == RM_TAR_ENTRY && rm_tar_next(t, &e) == RM_TAR_OTHER,
	    "then no end block: not taken");
	rm_tar_close(t);
	close(fd);
	ok(first(2 * B, &e) == RM_TAR_OTHER, "data past the end of the file: not taken");
	ok(first(B + 600, &e) == RM_TAR_OTHER, "padding past the end of the file: not taken");
	ok(first(B - 1, &e) == RM_TAR_OTHER, "a file shorter than a block: not taken");
	ok(first(0, &e) == RM_TAR_OTHER, "an empty file: not taken");
	memset(ar, 0, sizeof(ar));
	ok(first(2 * B, &e) == RM_TAR_END, "zeros only: the end");
	standard();
	memcpy(ar + 124, "77777777777 ", 12);
	resum(ar);
	ok(first(6 * B, &e) == RM_TAR_OTHER, "a size of 8 GiB in a small file: not taken");
	standard();
	memset(ar + 108, 0, 16);
	memset(ar + 329, 0, 16);
	resum(ar);
	ok(first(6 * B, &e) == RM_TAR_ENTRY, "empty uid, gid, devmajor and devminor fields: taken");
	if (pipe(p) == 0) {
		ok(rm_tar_open(p[0]) == NULL, "a pipe is not opened (libarchive reads it)");
		close(p[0]);
		close(p[1]);
	}
}

/* What rm_pkg_writer writes: taken, unless a name needs pax. */
static void
test_writer(void)
{
	char dir[] = "/tmp/rm-test-tar-dXXXXXX", path[256], longname[160];
	struct rm_pkg_writer *w = NULL;
	struct rm_tar_entry e;
	struct rm_tar *t;
	struct rm_err err;
	const void *buf;
	int fd, r, n = 0;

	if (mkdtemp(dir) == NULL)
		abort();
	snprintf(path, sizeof(path), "%s/p.rmpkg", dir);
	memset(longname, 'n', 130);
	longname[130] = '\0';
	rm_err_clear(&err);
	r = rm_pkg_writer_open(path, 1700000000, &w, &err) != 0 ||
	    rm_pkg_writer_add_mem(w, "manifest.json", "{}\n", 3, 0644, &err) != 0 ||
	    rm_pkg_writer_add_mem(w, "models/a/very/deep/directory/tree/of/names/that/is/long/"
	    "enough/to/need/the/ustar/prefix/field/of/its/header/x.bin", "abc", 3, 0644, &err) != 0 ||
	    rm_pkg_writer_commit(w, path, &err) != 0;
	ok(r == 0, "a package written");
	fd = open(path, O_RDONLY);
	t = rm_tar_open(fd);
	while ((r = rm_tar_next(t, &e)) == RM_TAR_ENTRY)
		n++;
	ok(r == RM_TAR_END && n == 2, "its two entries are read, then the end");
	rm_tar_close(t);
	close(fd);
	fd = open(path, O_RDONLY);
	t = rm_tar_open(fd);
	rm_tar_next(t, &e);
	ok(rm_tar_next(t, &e) == RM_TAR_ENTRY && strlen(e.name) > 100 && e.size == 3 &&
	    rm_tar_read(t, &buf) == 3 && memcmp(buf, "abc", 3) == 0,
	    "a name over 100 characters, in prefix and name: %s", e.name);
	rm_tar_close(t);
	close(fd);
	unlink(path);

	w = NULL;
	r = rm_pkg_writer_open(path, 1700000000, &w, &err) != 0 ||
	    rm_pkg_writer_add_mem(w, longname, "abc", 3, 0644, &err) != 0 ||
	    rm_pkg_writer_commit(w, path, &err) != 0;
	fd = open(path, O_RDONLY);
	t = rm_tar_open(fd);
	ok(r == 0 && rm_tar_next(t, &e) == RM_TAR_OTHER,
	    "a name of 130 characters in one component (pax): not taken");
	rm_tar_close(t);
	close(fd);
	unlink(path);
	rmdir(dir);
}

int
main(void)
{
	test_standard();
	test_refused();
	test_bounds();
	test_writer();
	return done_testing();
}
