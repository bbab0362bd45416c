/*
 * rm_tar (common/rm_tar.h) against libarchive on the same bytes: whatever
 * rm_tar takes to its end block, libarchive must read as the same entries
 * (regular files of the same names, modes, sizes and data) and then the
 * end, so that rm_pkg_open sees one archive whichever reads it. An
 * archive rm_tar does not take is libarchive's alone (fuzz_pkg). When the
 * input's last byte has its top bit set, the checksum of every header is
 * made right first, so that mutations reach past it.
 */
#include "config.h"

#include <archive.h>
#include <archive_entry.h>

#include "rm_tar.h"
#include "fuzz.h"

FUZZ_SETUP_ONLY

#define MAX_SEEN 256

struct seen {
	struct rm_tar_entry e;
	unsigned char *data;	/* NULL when skipped */
};

static void
differ(const char *what, const char *name)
{
	fprintf(stderr, "fuzz_tar: rm_tar and libarchive differ: %s ('%s')\n", what, name);
	abort();
}

/* Rights the checksum of each header, found as a reader would (loosely). */
static void
fix_sums(unsigned char *p, size_t len)
{
	size_t off = 0, i;

	while (len - off >= 512) {
		unsigned char *h = p + off;
		unsigned int sum = 8 * ' ';
		uint64_t size = 0;
		char f[8];

		for (i = 0; i < 512 && h[i] == 0; i++)
			;
		if (i == 512)
			return;
		for (i = 0; i < 512; i++)
			sum += i < 148 || i >= 156 ? h[i] : 0;
		snprintf(f, sizeof(f), "%06o", sum & 0777777);
		memcpy(h + 148, f, 7);
		h[155] = ' ';
		for (i = 124; i < 136 && h[i] >= '0' && h[i] <= '7'; i++)
			size = size * 8 + (uint64_t)(h[i] - '0');
		if (size > len)
			return;
		off += 512 + (size + 511) / 512 * 512;
		if (off > len)
			return;
	}
}

/* rm_tar's view: the entries (data read of those bit i of sel picks); its result. */
static int
read_ours(int fd, unsigned sel, struct seen *s, size_t *n)
{
	struct rm_tar *t = rm_tar_open(fd);
	int r = RM_TAR_OTHER;

	*n = 0;
	while (t != NULL && *n < MAX_SEEN && (r = rm_tar_next(t, &s[*n].e)) == RM_TAR_ENTRY) {
		struct seen *c = &s[(*n)++];
		const void *buf;
		size_t got = 0;
		ssize_t k;

		c->data = NULL;
		if (!(sel >> (*n % 8) & 1))
			continue;
		/* the size is inside the file, itself at most the input */
		if ((c->data = malloc(c->e.size + 1)) == NULL)
			abort();
		while ((k = rm_tar_read(t, &buf)) > 0) {
			if (got + (size_t)k > c->e.size)
				differ("more data than the header's size", c->e.name);
			memcpy(c->data + got, buf, (size_t)k);
			got += (size_t)k;
		}
		if (k != 0 || got != c->e.size)
			differ("rm_tar could not read what it took", c->e.name);
	}
	if (*n == MAX_SEEN)
		r = RM_TAR_OTHER;
	rm_tar_close(t);
	return r;
}

/* libarchive's view of entry c, next in a: the same, data and all. */
static void
check_entry(struct archive *a, const struct seen *c)
{
	struct archive_entry *ae;
	const char *name;
	const void *buf;
	size_t len;
	la_int64_t off, got = 0;
	int r;

	r = archive_read_next_header(a, &ae);
	if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
		differ("libarchive finds no entry", c->e.name);
	name = archive_entry_pathname(ae);
	if (name == NULL || strcmp(name, c->e.name) != 0)
		differ("name", c->e.name);
	if (archive_entry_filetype(ae) != AE_IFREG || archive_entry_hardlink(ae) != NULL)
		differ("type", c->e.name);
	if ((int)archive_entry_perm(ae) != c->e.perm)
		differ("mode", c->e.name);
	if (!archive_entry_size_is_set(ae) || archive_entry_size(ae) != (la_int64_t)c->e.size)
		differ("size", c->e.name);
	if (c->data == NULL)
		return;
	while ((r = archive_read_data_block(a, &buf, &len, &off)) == ARCHIVE_OK) {
		if (off != got || (uint64_t)got + len > c->e.size ||
		    memcmp(buf, c->data + got, len) != 0)
			differ("data", c->e.name);
		got += (la_int64_t)len;
	}
	if (r != ARCHIVE_EOF || (uint64_t)got != c->e.size)
		differ("length of the data", c->e.name);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct seen s[MAX_SEEN];
	struct archive *a;
	struct archive_entry *ae;
	char path[PATH_MAX];
	size_t n, i;
	int fd, r;

	if (size > 0 && (data[size - 1] & 0x80)) {
		unsigned char *copy = malloc(size);
		if (copy == NULL)
			abort();
		memcpy(copy, data, size);
		fix_sums(copy, size);
		fuzz_write(path, sizeof(path), "in.tar", copy, size);
		free(copy);
	} else
		fuzz_write(path, sizeof(path), "in.tar", data, size);
	if ((fd = open(path, O_RDONLY)) < 0)
		abort();
	r = read_ours(fd, size > 0 ? data[size - 1] : 0xff, s, &n);
	close(fd);
	if (r == RM_TAR_END) {
		if ((a = archive_read_new()) == NULL)
			abort();
		archive_read_support_format_tar(a);
		if (archive_read_open_filename(a, path, 10240) != ARCHIVE_OK)
			differ("libarchive cannot open it", "");
		for (i = 0; i < n; i++)
			check_entry(a, &s[i]);
		if (archive_read_next_header(a, &ae) != ARCHIVE_EOF)
			differ("libarchive goes on after rm_tar's end", "");
		archive_read_free(a);
	}
	for (i = 0; i < n; i++)
		free(s[i].data);
	return 0;
}
