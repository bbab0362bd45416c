/*
 * A small strict reader of the tar archives rm_pkg_writer writes: plain
 * POSIX ustar headers of regular files (issue 14). Opening a package with
 * it, rm_pkg_open needs no libarchive, whose Debian build loads libxml2,
 * ICU and libstdc++ and costs a local rm-inspect most of its run time.
 *
 * It takes only what it understands exactly: a header block with the
 * "ustar\0" "00" magic, a correct (unsigned) checksum, type '0', no link
 * name, a name (prefix "/" name) of printable ASCII with nothing after
 * its NUL and no trailing slash, a mode of at most 07777 and a size in
 * plain octal digits, the data and its padding inside the file, and an
 * all-zero block as the end. Anything else (pax or GNU extension headers,
 * base-256 numbers, other types, a short or changing file, a read error)
 * is RM_TAR_OTHER: the caller reads the archive again with libarchive,
 * which has the last word, and the error messages, on all of them. On
 * what it takes it sees what libarchive sees (tests/fuzz/fuzz_tar.c
 * compares the two on every input).
 */
#ifndef RM_TAR_H
#define RM_TAR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define RM_TAR_ENTRY	1	/* rm_tar_next: an entry */
#define RM_TAR_END	0	/* rm_tar_next: the end-of-archive block */
#define RM_TAR_OTHER	(-1)	/* not understood here: read it with libarchive */

struct rm_tar;

struct rm_tar_entry {
	char name[155 + 1 + 100 + 1];	/* prefix "/" name */
	int perm;		/* 0 .. 07777 */
	uint64_t size;
};

/* A reader of the regular file open on fd (not closed by it); NULL: use libarchive. */
struct rm_tar *rm_tar_open(int fd);
/* The next entry's header, skipping the data of the one before. */
int rm_tar_next(struct rm_tar *t, struct rm_tar_entry *e);
/*
 * The next piece of the current entry's data (at most 1 MiB, valid until
 * the next call): its length, 0 at the end of the data, RM_TAR_OTHER.
 */
ssize_t rm_tar_read(struct rm_tar *t, const void **buf);
void rm_tar_close(struct rm_tar *t);

#endif
