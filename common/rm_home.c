#include "config.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rm_fs.h"
#include "rm_embedded.h"
#include "rm_home.h"
#include "rm_log.h"

#define RM_DATA_MAX ((size_t)64 << 20)

#ifndef RM_DATADIR
#define RM_DATADIR "/usr/local/share/remotemedia"
#endif
#ifndef RM_BINDIR
#define RM_BINDIR "/usr/local/bin"
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

/* Sets buf to dir when it holds a taxonomy; 1 when it does. */
static int
try_share(char *buf, size_t size, const char *dir)
{
	if (snprintf(buf, size, "%s", dir) >= (int)size || !has_taxonomy(buf)) {
		buf[0] = '\0';
		return 0;
	}
	return 1;
}

static const char *
base_name(const char *p)
{
	const char *s = strrchr(p, '/');

	return s != NULL ? s + 1 : p;
}

/*
 * An uninstalled binary is TREE/tools/NAME/NAME (a build tree): it takes
 * share/ of its source tree, so a build never reads a stale install.
 * exedir is the binary's directory; the tree may have moved since.
 */
static int
tree_share(char *buf, size_t size, const char *exedir, const char *name)
{
	char tree[PATH_MAX], dir[PATH_MAX];
	char *slash;

	if (strcmp(base_name(exedir), name) != 0)
		return 0;
	snprintf(tree, sizeof(tree), "%s", exedir);
	if ((slash = strrchr(tree, '/')) == NULL)
		return 0;
	*slash = '\0';
	if (strcmp(base_name(tree), "tools") != 0 || (slash = strrchr(tree, '/')) == NULL)
		return 0;
	*slash = '\0';
	snprintf(dir, sizeof(dir), "%s/share/remotemedia", tree);
	if (try_share(buf, size, dir))
		return 1;
#ifdef RM_SRCDIR
	/* out of tree: top_srcdir, absolute or relative to the build tree */
	if (RM_SRCDIR[0] == '/')
		snprintf(dir, sizeof(dir), "%s/share/remotemedia", RM_SRCDIR);
	else
		snprintf(dir, sizeof(dir), "%s/%s/share/remotemedia", tree, RM_SRCDIR);
	return try_share(buf, size, dir);
#else
	return 0;
#endif
}

/*
 * A relocated install: the configured data directory taken relative to the
 * configured bindir, applied to the binary's real directory (a prefix moved
 * or copied whole, or a DESTDIR staging tree).
 */
static int
reloc_share(char *buf, size_t size, const char *exedir)
{
	const char *bin = RM_BINDIR, *data = RM_DATADIR;
	char dir[PATH_MAX];
	size_t common = 0, i;
	int ups = 0;

	for (i = 0; bin[i] != '\0' && bin[i] == data[i]; i++)
		if (bin[i] == '/')
			common = i;
	if (bin[i] == '\0' && data[i] == '/')
		common = i;
	for (i = common; bin[i] != '\0'; i++)
		if (bin[i] == '/')
			ups++;
	snprintf(dir, sizeof(dir), "%s", exedir);
	while (ups-- > 0) {
		char *slash = strrchr(dir, '/');

		if (slash == NULL || slash == dir)
			return 0;
		*slash = '\0';
	}
	if (strlen(dir) + strlen(data + common) >= sizeof(dir))
		return 0;
	strcat(dir, data + common);
	return try_share(buf, size, dir);
}

/*
 * $REMOTEMEDIA_SHARE; a build tree's source share/; the install relative to
 * the binary; the configured RM_DATADIR.
 */
const char *
rm_share_dir(void)
{
	static char buf[PATH_MAX];
	static int done;
	const char *e;
	char exe[PATH_MAX], *slash;
	ssize_t n;

	if (done)
		return buf[0] ? buf : NULL;
	done = 1;
	e = getenv("REMOTEMEDIA_SHARE");
	if (e != NULL && *e != '\0') {
		snprintf(buf, sizeof(buf), "%s", e);
		return buf;
	}
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		if ((slash = strrchr(exe, '/')) != NULL && slash != exe) {
			*slash = '\0';
			if (tree_share(buf, sizeof(buf), exe, slash + 1) ||
			    reloc_share(buf, sizeof(buf), exe))
				return buf;
		}
	}
	if (try_share(buf, sizeof(buf), RM_DATADIR))
		return buf;
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
	static int warned;
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
		    "data file not found in %s (set REMOTEMEDIA_SHARE to the share/remotemedia "
		    "directory)", dir != NULL ? dir : RM_DATADIR);
	/* an edit of the installed copy would go unnoticed: say so, once */
	if (!warned++) {
		if (dir != NULL)
			rm_warn("%s: not in %s; using the built-in copy", name, dir);
		else
			rm_warn("%s: no data directory (looked beside the binary and in %s); "
			    "using the built-in copy (set REMOTEMEDIA_SHARE)", name, RM_DATADIR);
	}
	snprintf(shown, shownsize, "<embedded>/%s", name);
	*text = strdup(emb);
	if (*text == NULL)
		return rm_err_set(err, RM_EXIT_INTERNAL, name, NULL, "out of memory");
	if (len)
		*len = strlen(emb);
	return 0;
}

const char *
rm_test_hook_env(const char *name)
{
	return rm_mode() == RM_MODE_PRODUCTION ? NULL : getenv(name);
}
