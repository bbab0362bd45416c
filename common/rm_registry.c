#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "rm_advert.h"
#include "rm_doc.h"
#include "rm_fs.h"
#include "rm_home.h"
#include "rm_registry.h"

int
rm_registry_dir(char *buf, size_t size, int mk, struct rm_err *err)
{
	int r = rm_home_path(buf, size, "executors", 0, err);

	if (r == 0 && mk)
		r = rm_mkdir_p(buf, 0700, err);
	return r;
}

int
rm_registry_lock(int nowait, struct rm_err *err)
{
	char path[PATH_MAX];
	int r;

	if ((r = rm_home_path(path, sizeof(path), "executors.lock", 1, err)) != 0)
		return r;
	return rm_lock(path, 1, nowait, err);
}

int
rm_registry_id_ok(const char *id)
{
	const char *p;

	if (id == NULL || *id == '\0' || *id == '.' || strlen(id) > 200)
		return 0;
	for (p = id; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '.' && *p != '_' && *p != '-' && *p != ':' &&
		    *p != '@')
			return 0;
	return 1;
}

static int
advert_path(char *buf, size_t size, const char *id, struct rm_err *err)
{
	char dir[PATH_MAX];
	int r;

	if (!rm_registry_id_ok(id))
		return rm_err_set(err, RM_EXIT_INVALID, NULL, "id",
		    "\"%s\" is not a valid executor id (letters, digits, '.', '_', '-', ':', '@')", id);
	if ((r = rm_registry_dir(dir, sizeof(dir), 1, err)) != 0)
		return r;
	return rm_path(buf, size, err, "%s/%s.json", dir, id);
}

int
rm_registry_put(const json_t *advert, int locked, struct rm_err *err)
{
	char path[PATH_MAX];
	json_t *norm;
	const char *id;
	int fd = -1, r;

	norm = rm_advert_normalize(advert, "<advert>", err);
	if (norm == NULL)
		return -err->code;
	id = json_string_value(json_object_get(norm, "id"));
	if ((r = advert_path(path, sizeof(path), id, err)) != 0)
		goto out;
	if (!locked && (fd = rm_registry_lock(0, err)) < 0) {
		r = fd;
		goto out;
	}
	/* every writer of an advert holds the registry lock: a temporary is a dead one's */
	rm_remove_stale_temps(path);
	r = rm_json_write_file(path, norm, err);
	if (r == 0)
		rm_registry_changed();
out:
	rm_unlock(fd);
	json_decref(norm);
	return r;
}

json_t *
rm_registry_get(const char *id, struct rm_err *err)
{
	char path[PATH_MAX];

	if (advert_path(path, sizeof(path), id, err) != 0)
		return NULL;
	if (access(path, F_OK) != 0) {
		rm_err_set(err, RM_EXIT_NOTFOUND, path, NULL, "no executor \"%s\" in the registry", id);
		return NULL;
	}
	return rm_doc_load(path, err);
}

int
rm_registry_remove(const char *id, int locked, struct rm_err *err)
{
	char path[PATH_MAX];
	int fd = -1, r;

	if ((r = advert_path(path, sizeof(path), id, err)) != 0)
		return r;
	if (!locked && (fd = rm_registry_lock(0, err)) < 0)
		return fd;
	if (unlink(path) != 0)
		r = rm_err_set(err, errno == ENOENT ? RM_EXIT_NOTFOUND : RM_EXIT_INVALID, path, NULL,
		    "cannot remove: %s", strerror(errno));
	else
		rm_registry_changed();
	rm_unlock(fd);
	return r;
}

void
rm_time_format(long long t, char *buf, size_t size)
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int
rm_time_parse(const char *s, long long *t)
{
	struct tm tm;
	const char *p;
	int off = 0;

	memset(&tm, 0, sizeof(tm));
	p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (p == NULL)
		return -1;
	if (*p == '.')
		for (p++; isdigit((unsigned char)*p); p++)
			;
	if (*p == 'Z' || *p == 'z')
		p++;
	else if (*p == '+' || *p == '-') {
		int hh, mm;
		if (sscanf(p + 1, "%2d:%2d", &hh, &mm) != 2)
			return -1;
		off = (hh * 3600 + mm * 60) * (*p == '+' ? 1 : -1);
		p += 6;
	} else
		return -1;
	if (*p != '\0')
		return -1;
	*t = (long long)timegm(&tm) - off;
	return 0;
}
