#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rm_fs.h"

int
rm_read_file(const char *path, size_t max, char **out, size_t *len, struct rm_err *err)
{
	int fd, is_stdin = strcmp(path, "-") == 0;
	const char *name = is_stdin ? "<stdin>" : path;
	char *buf = NULL, *nbuf;
	size_t cap = 0, n = 0;
	ssize_t r;
	struct stat st;

	*out = NULL;
	if (len)
		*len = 0;
	fd = is_stdin ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return rm_err_set(err, errno == ENOENT ? RM_EXIT_NOTFOUND : RM_EXIT_INVALID,
		    name, NULL, "cannot open: %s", strerror(errno));
	if (fstat(fd, &st) == 0) {
		if (S_ISDIR(st.st_mode)) {
			if (!is_stdin)
				close(fd);
			return rm_err_set(err, RM_EXIT_INVALID, name, NULL,
			    "is a directory, expected a file");
		}
		/* a regular file too large is refused before a byte is read */
		if (S_ISREG(st.st_mode) && (unsigned long long)st.st_size > max) {
			if (!is_stdin)
				close(fd);
			return rm_err_set(err, RM_EXIT_INVALID, name, NULL,
			    "file too large: %lld bytes, limit %zu", (long long)st.st_size, max);
		}
		if (S_ISREG(st.st_mode) && st.st_size > 0)
			cap = (size_t)st.st_size + 1;
	}
	if (cap == 0)
		cap = 65536;
	if (cap > max + 2)
		cap = max + 2;
	for (;;) {
		if (n + 1 >= cap || buf == NULL) {
			size_t ncap = buf == NULL ? cap : cap * 2;
			/* one byte past max tells an oversized file */
			if (ncap > max + 2)
				ncap = max + 2;
			if (buf != NULL && ncap <= cap)
				break;
			nbuf = realloc(buf, ncap);
			if (nbuf == NULL) {
				free(buf);
				if (!is_stdin)
					close(fd);
				return rm_err_set(err, RM_EXIT_INTERNAL, name, NULL, "out of memory");
			}
			buf = nbuf;
			cap = ncap;
		}
		r = read(fd, buf + n, cap - n - 1);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			free(buf);
			if (!is_stdin)
				close(fd);
			return rm_err_set(err, RM_EXIT_INVALID, name, NULL, "read error: %s",
			    strerror(errno));
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n > max)
			break;
	}
	if (!is_stdin)
		close(fd);
	if (n > max) {
		free(buf);
		return rm_err_set(err, RM_EXIT_INVALID, name, NULL,
		    "file too large: more than %zu bytes, the limit", max);
	}
	buf[n] = '\0';
	*out = buf;
	if (len)
		*len = n;
	return 0;
}

static int
fsync_dir_of(const char *path)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	int fd, r;

	if (slash == NULL)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == path)
		snprintf(dir, sizeof(dir), "/");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	r = fsync(fd);
	close(fd);
	return r;
}

int
rm_write_atomic(const char *path, const void *data, size_t len, mode_t mode,
    struct rm_err *err)
{
	char tmp[PATH_MAX];
	const char *p = data;
	int fd, saved;
	ssize_t w;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp.XXXXXX", path) >= (int)sizeof(tmp))
		return rm_err_set(err, RM_EXIT_INVALID, path, NULL, "path too long");
	fd = mkstemp(tmp);
	if (fd < 0)
		return rm_err_set(err, RM_EXIT_INVALID, path, NULL, "cannot create temporary file: %s",
		    strerror(errno));
	while (len > 0) {
		w = write(fd, p, len);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		p += w;
		len -= (size_t)w;
	}
	if (fchmod(fd, mode) != 0 || fsync(fd) != 0)
		goto fail;
	if (close(fd) != 0) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) != 0)
		goto fail;
	fsync_dir_of(path);
	return 0;
fail:
	saved = errno;
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return rm_err_set(err, RM_EXIT_INVALID, path, NULL, "cannot write: %s", strerror(saved));
}

void
rm_remove_stale_temps(const char *path)
{
	char dir[PATH_MAX], p[PATH_MAX];
	const char *slash = strrchr(path, '/'), *base = slash ? slash + 1 : path;
	size_t bl = strlen(base);
	struct dirent *de;
	DIR *d;

	snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - path) : 1, slash ? path : ".");
	if ((d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		/* exactly what rm_write_atomic's mkstemp makes: base.tmp.XXXXXX */
		if (strncmp(de->d_name, base, bl) != 0 || strncmp(de->d_name + bl, ".tmp.", 5) != 0 ||
		    strlen(de->d_name + bl + 5) != 6)
			continue;
		if (snprintf(p, sizeof(p), "%s/%s", dir, de->d_name) < (int)sizeof(p))
			unlink(p);
	}
	closedir(d);
}

int
rm_mkdir_p(const char *path, mode_t mode, struct rm_err *err)
{
	char buf[PATH_MAX];
	char *p;
	size_t n;

	n = strlen(path);
	if (n == 0 || n >= sizeof(buf))
		return rm_err_set(err, RM_EXIT_INVALID, path, NULL, "bad directory path");
	memcpy(buf, path, n + 1);
	for (p = buf + 1; ; p++) {
		if (*p == '/' || *p == '\0') {
			char c = *p;
			*p = '\0';
			if (mkdir(buf, mode) != 0 && errno != EEXIST)
				return rm_err_set(err, RM_EXIT_INVALID, buf, NULL,
				    "cannot create directory: %s", strerror(errno));
			*p = c;
			if (c == '\0')
				break;
		}
	}
	if (!rm_is_dir(path))
		return rm_err_set(err, RM_EXIT_INVALID, path, NULL, "not a directory");
	return 0;
}

int
rm_lock(const char *path, int exclusive, int nowait, struct rm_err *err)
{
	struct stat held, now;
	int fd, op;

again:
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return rm_err_set(err, RM_EXIT_INVALID, path, NULL, "cannot open lock: %s",
		    strerror(errno));
	op = (exclusive ? LOCK_EX : LOCK_SH) | (nowait ? LOCK_NB : 0);
	while (flock(fd, op) != 0) {
		if (errno == EINTR)
			continue;
		int saved = errno;
		close(fd);
		if (saved == EWOULDBLOCK)
			return rm_err_set(err, RM_EXIT_NEGATIVE, path, NULL,
			    "held by another process");
		return rm_err_set(err, RM_EXIT_INVALID, path, NULL, "cannot lock: %s",
		    strerror(saved));
	}
	/* unlinked or replaced while we waited: a newcomer may lock the new file */
	if (fstat(fd, &held) == 0 && stat(path, &now) == 0) {
		if (held.st_dev == now.st_dev && held.st_ino == now.st_ino)
			return fd;
	} else if (errno != ENOENT) {
		int saved = errno;
		close(fd);
		return rm_err_set(err, RM_EXIT_INVALID, path, NULL, "cannot stat lock: %s",
		    strerror(saved));
	}
	close(fd);
	goto again;
}

void
rm_unlock(int fd)
{
	if (fd >= 0)
		close(fd);	/* closing drops the flock */
}

int
rm_append_locked(const char *path, const char *line, struct rm_err *err)
{
	size_t len = strlen(line);
	int fd, saved;
	ssize_t w;
	const char *p = line;

	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return rm_err_set(err, RM_EXIT_INVALID, path, NULL, "cannot open: %s",
		    strerror(errno));
	while (flock(fd, LOCK_EX) != 0 && errno == EINTR)
		;
	while (len > 0) {
		w = write(fd, p, len);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			saved = errno;
			close(fd);
			return rm_err_set(err, RM_EXIT_INVALID, path, NULL, "cannot append: %s",
			    strerror(saved));
		}
		p += w;
		len -= (size_t)w;
	}
	if (line[0] != '\0' && line[strlen(line) - 1] != '\n')
		(void)!write(fd, "\n", 1);
	fsync(fd);
	close(fd);
	return 0;
}

int
rm_path(char *buf, size_t size, struct rm_err *err, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= size)
		return rm_err_set(err, RM_EXIT_INVALID, buf, NULL, "path too long");
	return 0;
}

int
rm_is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int
rm_is_file(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static int
remove_cb(const char *fpath, const struct stat *sb, int type, struct FTW *ftw)
{
	(void)sb;
	(void)ftw;
	if (type == FTW_DP)
		return rmdir(fpath);
	return unlink(fpath);
}

void
rm_remove_tree(const char *path)
{
	struct stat st;

	if (lstat(path, &st) != 0)
		return;
	if (S_ISDIR(st.st_mode))
		nftw(path, remove_cb, 16, FTW_DEPTH | FTW_PHYS);
	else
		unlink(path);
}
