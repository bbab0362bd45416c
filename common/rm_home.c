#include "config.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rm_fs.h"
#include "rm_embedded.h"
#include "rm_home.h"

#define RM_DATA_MAX ((size_t)64 << 20)

#ifndef RM_DATADIR
#define RM_DATADIR "/usr/local/share/remotemedia"
#endif

const char *
rm_home(void)
{
	static char buf[PATH_MAX];
	const char *h = getenv("REMOTEMEDIA_HOME");

	if (h != NULL && *h != '\0')
		return h;
	if (buf[0] == '\0') {
		h = getenv("HOME");
		if (h == NULL || *h == '\0')
			h = "/";
		snprintf(buf, sizeof(buf), "%s/.remotemedia", strcmp(h, "/") == 0 ? "" : h);
	}
	return buf;
}

int
rm_home_path(char *buf, size_t size, const char *rel, int mkparents, struct rm_err *err)
{
	char dir[PATH_MAX];
	char *slash;
	int r;

	if ((r = rm_path(buf, size, err, "%s/%s", rm_home(), rel)) != 0)
		return r;
	if (!mkparents)
		return 0;
	snprintf(dir, sizeof(dir), "%s", buf);
	slash = strrchr(dir, '/');
	if (slash != NULL && slash != dir) {
		*slash = '\0';
		return rm_mkdir_p(dir, 0700, err);
	}
	return 0;
}

static int
has_taxonomy(const char *dir)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "%s/taxonomy.yaml", dir);
	return access(p, R_OK) == 0;
}

const char *
rm_share_dir(void)
{
	static char buf[PATH_MAX];
	static int done;
	const char *e;
	char exe[PATH_MAX];
	ssize_t n;
	char *slash;
	int up;

	if (done)
		return buf[0] ? buf : NULL;
	done = 1;
	e = getenv("REMOTEMEDIA_SHARE");
	if (e != NULL && *e != '\0') {
		snprintf(buf, sizeof(buf), "%s", e);
		return buf;
	}
	/* An uninstalled binary (tools/rm-x/rm-x in a build tree) finds share/
	 * of its source tree first, so a build never reads a stale install. */
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		for (up = 0; up < 3; up++) {
			slash = strrchr(exe, '/');
			if (slash == NULL)
				break;
			*slash = '\0';
			snprintf(buf, sizeof(buf), "%s/share/remotemedia", exe);
			if (has_taxonomy(buf))
				return buf;
#ifdef RM_SRCDIR
			snprintf(buf, sizeof(buf), "%s/%s/share/remotemedia", exe, RM_SRCDIR);
			if (up == 2 && has_taxonomy(buf))
				return buf;
#endif
		}
	}
	if (has_taxonomy(RM_DATADIR)) {
		snprintf(buf, sizeof(buf), "%s", RM_DATADIR);
		return buf;
	}
	buf[0] = '\0';
	return NULL;
}

enum rm_mode
rm_mode(void)
{
	const char *e = getenv("REMOTEMEDIA_ENV");

	if (e != NULL && *e != '\0')
		return strcmp(e, "production") == 0 || strcmp(e, "prod") == 0 ?
		    RM_MODE_PRODUCTION : RM_MODE_DEVELOPMENT;
	e = getenv("CI");
	if (e != NULL && *e != '\0' && strcmp(e, "false") != 0 && strcmp(e, "0") != 0)
		return RM_MODE_PRODUCTION;
	return RM_MODE_DEVELOPMENT;
}

const char *
rm_mode_name(enum rm_mode mode)
{
	return mode == RM_MODE_PRODUCTION ? "production" : "development";
}

int
rm_mode_check(struct rm_err *err)
{
	const char *e = getenv("REMOTEMEDIA_ENV");

	if (e == NULL || *e == '\0' || strcmp(e, "production") == 0 ||
	    strcmp(e, "development") == 0 || strcmp(e, "prod") == 0 ||
	    strcmp(e, "dev") == 0)
		return 0;
	return rm_err_set(err, RM_EXIT_USAGE, NULL, "REMOTEMEDIA_ENV",
	    "expected development or production, got \"%s\"", e);
}

const char *
rm_embedded_get(const char *name)
{
	const struct rm_embedded_file *f;

	for (f = rm_embedded; f->name != NULL; f++)
		if (strcmp(f->name, name) == 0)
			return f->text;
	return NULL;
}

int
rm_data_read(const char *name, char **text, size_t *len, char *shown, size_t shownsize,
    struct rm_err *err)
{
	const char *dir = rm_share_dir(), *emb;
	char path[PATH_MAX];

	*text = NULL;
	if (dir != NULL) {
		snprintf(path, sizeof(path), "%s/%s", dir, name);
		if (access(path, R_OK) == 0) {
			snprintf(shown, shownsize, "%s", path);
			return rm_read_file(path, RM_DATA_MAX, text, len, err);
		}
	}
	emb = rm_embedded_get(name);
	if (emb == NULL)
		return rm_err_set(err, RM_EXIT_NOTFOUND, name, NULL,
		    "data file not found (set REMOTEMEDIA_SHARE to the share/remotemedia directory)");
	snprintf(shown, shownsize, "<embedded>/%s", name);
	*text = strdup(emb);
	if (*text == NULL)
		return rm_err_set(err, RM_EXIT_INTERNAL, name, NULL, "out of memory");
	if (len)
		*len = strlen(emb);
	return 0;
}
