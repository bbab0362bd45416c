/* Files: bounded reads, atomic writes, directories, advisory locks. */
#ifndef RM_FS_H
#define RM_FS_H

#include <stddef.h>
#include <sys/types.h>

#include "rm_err.h"

/* Reads a whole file ("-" is stdin) into a NUL-terminated buffer. */
int rm_read_file(const char *path, size_t max, char **out, size_t *len, struct rm_err *err);
/*
 * Replaces path atomically: temp file in the same directory, write, fsync,
 * rename, fsync the directory. A crash leaves the old or the new file.
 */
int rm_write_atomic(const char *path, const void *data, size_t len, mode_t mode,
    struct rm_err *err);
/*
 * Removes the temporaries of path that writers killed before their rename
 * left (path.tmp.XXXXXX). Only for a caller holding the lock that every
 * writer of path takes: then no live writer owns one of them.
 */
void rm_remove_stale_temps(const char *path);
/* mkdir -p with the given mode for every directory it creates. */
int rm_mkdir_p(const char *path, mode_t mode, struct rm_err *err);
/*
 * Takes an advisory lock on path (created if needed, mode 0600): exclusive
 * or shared; with nowait, returns -RM_EXIT_NEGATIVE at once when held.
 * Returns the descriptor to pass to rm_unlock. The lock is on the file the
 * path names once it is held: one unlinked or replaced meanwhile is let go
 * and the path locked again, so a holder may unlink its lock file.
 */
int rm_lock(const char *path, int exclusive, int nowait, struct rm_err *err);
void rm_unlock(int fd);
/* Appends one line under an exclusive lock, fsynced (ledgers, logs). */
int rm_append_locked(const char *path, const char *line, struct rm_err *err);
/* snprintf that reports truncation as an error instead of cutting a path. */
int rm_path(char *buf, size_t size, struct rm_err *err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* rm -r without following links (nothing outside path is touched); a
 * non-directory is simply unlinked. Best effort, for cleanup paths. */
void rm_remove_tree(const char *path);
int rm_is_dir(const char *path);
int rm_is_file(const char *path);

#endif
