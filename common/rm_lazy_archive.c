/* libarchive, opened on first use (rm_lazy.h): the functions rm_pkg.c calls. */
#include "config.h"

#include <archive.h>
#include <archive_entry.h>

#include "rm_lazy.h"

static struct rm_lazy arch = RM_LAZY_INIT(RM_SONAME_ARCHIVE);

RM_LAZY(arch, struct archive *, archive_read_new, (void), ())
RM_LAZY(arch, int, archive_read_support_format_tar, (struct archive *a), (a))
RM_LAZY(arch, int, archive_read_open_filename, (struct archive *a, const char *f, size_t bs),
    (a, f, bs))
RM_LAZY(arch, int, archive_read_next_header, (struct archive *a, struct archive_entry **e),
    (a, e))
RM_LAZY(arch, la_ssize_t, archive_read_data, (struct archive *a, void *b, size_t n), (a, b, n))
RM_LAZY(arch, int, archive_read_data_block, (struct archive *a, const void **b, size_t *n,
    la_int64_t *off), (a, b, n, off))
RM_LAZY(arch, int, archive_read_data_skip, (struct archive *a), (a))
RM_LAZY_FREE_RET(arch, int, archive_read_free, struct archive *, ARCHIVE_OK)
RM_LAZY(arch, struct archive *, archive_write_new, (void), ())
RM_LAZY(arch, int, archive_write_add_filter_none, (struct archive *a), (a))
RM_LAZY(arch, int, archive_write_set_format_pax_restricted, (struct archive *a), (a))
RM_LAZY(arch, int, archive_write_set_bytes_per_block, (struct archive *a, int n), (a, n))
RM_LAZY(arch, int, archive_write_set_bytes_in_last_block, (struct archive *a, int n), (a, n))
RM_LAZY(arch, int, archive_write_open_fd, (struct archive *a, int fd), (a, fd))
RM_LAZY(arch, int, archive_write_open2, (struct archive *a, void *u, archive_open_callback *o,
    archive_write_callback *w, archive_close_callback *c, archive_free_callback *f),
    (a, u, o, w, c, f))
RM_LAZY(arch, int, archive_write_finish_entry, (struct archive *a), (a))
RM_LAZY(arch, int, archive_write_header, (struct archive *a, struct archive_entry *e), (a, e))
RM_LAZY(arch, la_ssize_t, archive_write_data, (struct archive *a, const void *b, size_t n),
    (a, b, n))
RM_LAZY(arch, int, archive_write_close, (struct archive *a), (a))
RM_LAZY_FREE_RET(arch, int, archive_write_free, struct archive *, ARCHIVE_OK)
RM_LAZY(arch, int, archive_errno, (struct archive *a), (a))
RM_LAZY(arch, const char *, archive_error_string, (struct archive *a), (a))

RM_LAZY(arch, struct archive_entry *, archive_entry_new, (void), ())
RM_LAZY_FREE(arch, archive_entry_free, struct archive_entry *)
RM_LAZY(arch, struct archive_entry *, archive_entry_clear, (struct archive_entry *e), (e))
RM_LAZY(arch, __LA_MODE_T, archive_entry_filetype, (struct archive_entry *e), (e))
RM_LAZY(arch, const char *, archive_entry_hardlink, (struct archive_entry *e), (e))
RM_LAZY(arch, time_t, archive_entry_mtime, (struct archive_entry *e), (e))
RM_LAZY(arch, const char *, archive_entry_pathname, (struct archive_entry *e), (e))
RM_LAZY(arch, __LA_MODE_T, archive_entry_perm, (struct archive_entry *e), (e))
RM_LAZY(arch, la_int64_t, archive_entry_size, (struct archive_entry *e), (e))
RM_LAZY(arch, int, archive_entry_size_is_set, (struct archive_entry *e), (e))
RM_LAZY_VOID(arch, archive_entry_set_filetype, (struct archive_entry *e, unsigned int t),
    (e, t))
RM_LAZY_VOID(arch, archive_entry_set_gid, (struct archive_entry *e, la_int64_t g), (e, g))
RM_LAZY_VOID(arch, archive_entry_set_gname, (struct archive_entry *e, const char *g), (e, g))
RM_LAZY_VOID(arch, archive_entry_set_mtime, (struct archive_entry *e, time_t t, long ns),
    (e, t, ns))
RM_LAZY_VOID(arch, archive_entry_set_pathname, (struct archive_entry *e, const char *p), (e, p))
RM_LAZY_VOID(arch, archive_entry_set_perm, (struct archive_entry *e, __LA_MODE_T m), (e, m))
RM_LAZY_VOID(arch, archive_entry_set_size, (struct archive_entry *e, la_int64_t n), (e, n))
RM_LAZY_VOID(arch, archive_entry_set_uid, (struct archive_entry *e, la_int64_t u), (e, u))
RM_LAZY_VOID(arch, archive_entry_set_uname, (struct archive_entry *e, const char *u), (e, u))
