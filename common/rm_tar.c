/* A strict reader of plain ustar archives; see rm_tar.h. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rm_tar.h"

#define BLOCK 512
#define PIECE ((size_t)1 << 20)

struct rm_tar {
	int fd;
	uint64_t fsize;		/* the file's size when opened */
	uint64_t next;		/* offset of the next header */
	uint64_t data, left;	/* the current entry's data: offset of what is unread, bytes */
	unsigned char *buf;
	size_t cap;
	int done;		/* the end block was read, or a call failed */
};

struct rm_tar *
rm_tar_open(int fd)
{
	struct rm_tar *t;
	struct stat st;

	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size < 0)
		return NULL;
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	t->fd = fd;
	t->fsize = (uint64_t)st.st_size;
	return t;
}

void
rm_tar_close(struct rm_tar *t)
{
	if (t == NULL)
		return;
	free(t->buf);
	free(t);
}

/* Reads n bytes at off, all of them; -1 otherwise. */
static int
read_at(int fd, void *buf, size_t n, uint64_t off)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = pread(fd, (char *)buf + got, n - got, (off_t)(off + got));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		got += (size_t)r;
	}
	return 0;
}

/*
 * A numeric field: one or more octal digits, then only spaces and NULs, at
 * least one of them. Its value, or -1.
 */
static int64_t
octal(const unsigned char *p, size_t n)
{
	int64_t v = 0;
	size_t i = 0;

	while (i < n && p[i] >= '0' && p[i] <= '7')
		v = v * 8 + (p[i++] - '0');
	if (i == 0 || i == n)
		return -1;
	for (; i < n; i++)
		if (p[i] != ' ' && p[i] != '\0')
			return -1;
	return v;
}

/*
 * A name field: printable ASCII up to its first NUL (or its end), NULs
 * after it. Its length, or -1.
 */
static int
text(const unsigned char *p, size_t n)
{
	size_t i = 0, len;

	while (i < n && p[i] != '\0') {
		if (p[i] < 0x20 || p[i] > 0x7e)
			return -1;
		i++;
	}
	len = i;
	for (; i < n; i++)
		if (p[i] != '\0')
			return -1;
	return (int)len;
}

static int
all_zero(const unsigned char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i] != 0)
			return 0;
	return 1;
}

/* The header's checksum is right: the unsigned sum, its own field as spaces. */
static int
sum_ok(const unsigned char *h)
{
	int64_t want = octal(h + 148, 8), sum = 8 * ' ';
	int i;

	for (i = 0; i < BLOCK; i++)
		if (i < 148 || i >= 156)
			sum += h[i];
	return want == sum;
}

/* Fills e from header block h; RM_TAR_OTHER for anything not taken. */
static int
parse_header(const unsigned char *h, struct rm_tar_entry *e)
{
	/* uid, gid, mtime, devmajor, devminor: unused, octal or empty */
	static const int numbers[][2] = { { 108, 8 }, { 116, 8 }, { 136, 12 }, { 329, 8 },
		{ 337, 8 } };
	int64_t mode = octal(h + 100, 8), size = octal(h + 124, 12);
	int nlen = text(h, 100), plen = text(h + 345, 155);
	size_t i;

	if (!sum_ok(h) || memcmp(h + 257, "ustar\0" "00", 8) != 0 || h[156] != '0' ||
	    !all_zero(h + 157, 100) || text(h + 265, 32) < 0 || text(h + 297, 32) < 0 ||
	    !all_zero(h + 500, 12))
		return RM_TAR_OTHER;
	for (i = 0; i < sizeof(numbers) / sizeof(numbers[0]); i++)
		if (octal(h + numbers[i][0], (size_t)numbers[i][1]) < 0 &&
		    !all_zero(h + numbers[i][0], (size_t)numbers[i][1]))
			return RM_TAR_OTHER;
	if (mode < 0 || mode > 07777 || size < 0 || nlen <= 0 || plen < 0 ||
	    h[nlen - 1] == '/' || (plen > 0 && h[345 + plen - 1] == '/'))
		return RM_TAR_OTHER;
	if (plen > 0) {
		memcpy(e->name, h + 345, (size_t)plen);
		e->name[plen] = '/';
		memcpy(e->name + plen + 1, h, (size_t)nlen);
		e->name[plen + 1 + nlen] = '\0';
	} else {
		memcpy(e->name, h, (size_t)nlen);
		e->name[nlen] = '\0';
	}
	e->perm = (int)mode;
	e->size = (uint64_t)size;
	return RM_TAR_ENTRY;
}

int
rm_tar_next(struct rm_tar *t, struct rm_tar_entry *e)
{
	unsigned char h[BLOCK];
	uint64_t padded;

	if (t->done || t->fsize - t->next < BLOCK || read_at(t->fd, h, BLOCK, t->next) != 0) {
		t->done = 1;
		return RM_TAR_OTHER;
	}
	if (all_zero(h, BLOCK)) {
		t->done = 1;
		return RM_TAR_END;
	}
	if (parse_header(h, e) != RM_TAR_ENTRY) {
		t->done = 1;
		return RM_TAR_OTHER;
	}
	/* the data and its padding in the file: a truncated one is libarchive's to name */
	padded = (e->size + BLOCK - 1) / BLOCK * BLOCK;
	if (padded > t->fsize - t->next - BLOCK) {
		t->done = 1;
		return RM_TAR_OTHER;
	}
	t->data = t->next + BLOCK;
	t->left = e->size;
	t->next = t->data + padded;
	return RM_TAR_ENTRY;
}

ssize_t
rm_tar_read(struct rm_tar *t, const void **buf)
{
	size_t n;

	if (t->done)
		return RM_TAR_OTHER;
	if (t->left == 0)
		return 0;
	n = t->left < PIECE ? (size_t)t->left : PIECE;
	if (t->cap < n) {
		unsigned char *nb = realloc(t->buf, n);
		if (nb == NULL) {
			t->done = 1;
			return RM_TAR_OTHER;
		}
		t->buf = nb;
		t->cap = n;
	}
	if (read_at(t->fd, t->buf, n, t->data) != 0) {
		t->done = 1;
		return RM_TAR_OTHER;
	}
	t->data += n;
	t->left -= n;
	*buf = t->buf;
	return (ssize_t)n;
}
