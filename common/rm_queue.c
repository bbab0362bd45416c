/*
 * The parked queue's two stores (rm_queue.h): the directory is what it
 * always was; etcd keeps the same documents under PREFIX/queue/.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rm_doc.h"
#include "rm_etcd.h"
#include "rm_fs.h"
#include "rm_home.h"
#include "rm_log.h"
#include "rm_queue.h"
#include "rm_registry.h"

static int
in_etcd(void)
{
	return rm_registry_url()->kind == RM_REG_ETCD;
}

static void
queue_key(char *buf, size_t size, const char *id)
{
	snprintf(buf, size, "%s/queue/%s", rm_registry_url()->prefix, id);
}

int
rm_queue_lock(int *fd, struct rm_err *err)
{
	char path[PATH_MAX];

	*fd = -1;
	if (rm_registry_select(NULL, err) != 0)
		return -err->code;
	if (in_etcd())
		return 0;
	if (rm_home_path(path, sizeof(path), "queue.lock", 1, err) != 0)
		return -err->code;
	if ((*fd = rm_lock(path, 1, 0, err)) < 0)
		return -err->code;
	return 0;
}

void
rm_queue_unlock(int fd)
{
	rm_unlock(fd);
}

int
rm_queue_put(const char *id, const json_t *entry, char *where, size_t wsize,
    struct rm_err *err)
{
	char path[PATH_MAX], rel[512], *text;
	struct rm_etcd *e;
	int r;

	if (!in_etcd()) {
		snprintf(rel, sizeof(rel), "queue/%s.json", id);
		if (rm_home_path(path, sizeof(path), rel, 1, err) != 0)
			return -err->code;
		if (where != NULL)
			snprintf(where, wsize, "%s", path);
		return rm_json_write_file(path, entry, err);
	}
	if ((e = rm_registry_etcd(err)) == NULL)
		return -err->code;
	queue_key(path, sizeof(path), id);
	if (where != NULL)
		snprintf(where, wsize, "etcd:%s", path);
	if ((text = json_dumps(entry, JSON_COMPACT | JSON_SORT_KEYS)) == NULL)
		return rm_err_set(err, RM_EXIT_INTERNAL, NULL, NULL, "cannot encode the entry");
	r = rm_etcd_put(e, path, text, 0, -1, err);
	free(text);
	return r;
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(json_string_value(json_object_get(*(json_t *const *)a, "id")),
	    json_string_value(json_object_get(*(json_t *const *)b, "id")));
}

/* list sorted by id, in place */
static json_t *
sorted(json_t *list)
{
	size_t n = json_array_size(list), i;
	json_t **v = calloc(n + 1, sizeof(*v)), *out = json_array();

	for (i = 0; i < n; i++)
		v[i] = json_incref(json_array_get(list, i));
	qsort(v, n, sizeof(*v), name_cmp);
	for (i = 0; i < n; i++)
		json_array_append_new(out, v[i]);
	free(v);
	json_decref(list);
	return out;
}

static json_t *
dir_list(struct rm_err *err)
{
	char dir[PATH_MAX], path[PATH_MAX], id[300];
	json_t *out = json_array(), *doc;
	struct rm_err de;
	struct dirent *d;
	DIR *dp;

	if (rm_home_path(dir, sizeof(dir), "queue", 0, err) != 0) {
		json_decref(out);
		return NULL;
	}
	if ((dp = opendir(dir)) == NULL)
		return out;
	while ((d = readdir(dp)) != NULL) {
		size_t len = strlen(d->d_name);
		if (d->d_name[0] == '.' || len < 6 || strcmp(d->d_name + len - 5, ".json") != 0 ||
		    len - 5 >= sizeof(id) || rm_path(path, sizeof(path), err, "%s/%s", dir,
		    d->d_name) != 0)
			continue;
		snprintf(id, sizeof(id), "%.*s", (int)(len - 5), d->d_name);
		rm_err_clear(&de);
		if ((doc = rm_doc_load(path, &de)) != NULL)
			json_array_append_new(out, json_pack("{s:s,s:s,s:i,s:o}", "id", id, "name",
			    path, "rev", 0, "entry", doc));
		else
			json_array_append_new(out, json_pack("{s:s,s:s,s:i,s:s}", "id", id, "name",
			    path, "rev", 0, "error", de.msg));
	}
	closedir(dp);
	rm_err_clear(err);
	return sorted(out);
}

/* One etcd pair as a list item. */
static json_t *
etcd_item(const json_t *kv, size_t plen)
{
	const char *k = json_string_value(json_object_get(kv, "key"));
	const char *v = json_string_value(json_object_get(kv, "value"));
	json_t *rev = json_object_get(kv, "mod_revision"), *doc = NULL;
	char name[600], why[400];
	json_error_t je;

	snprintf(name, sizeof(name), "etcd:%s", k);
	if (v == NULL)
		snprintf(why, sizeof(why), "the value is not valid base64");
	else if ((doc = json_loads(v, JSON_REJECT_DUPLICATES, &je)) == NULL)
		snprintf(why, sizeof(why), "malformed JSON at line %d, column %d: %s", je.line,
		    je.column, je.text);
	else if (!json_is_object(doc)) {
		snprintf(why, sizeof(why), "expected a JSON object, got %s", rm_json_type(doc));
		json_decref(doc);
		doc = NULL;
	}
	return json_pack("{s:s,s:s,s:O,s:o}", "id", strlen(k) > plen ? k + plen : k, "name", name,
	    "rev", rev, doc ? "entry" : "error", doc ? doc : json_string(why));
}

json_t *
rm_queue_list(long long *rev, struct rm_err *err)
{
	char key[512];
	struct rm_etcd *e;
	json_t *l, *out, *kv;
	size_t i;

	if (rev != NULL)
		*rev = 0;
	if (rm_registry_select(NULL, err) != 0)
		return NULL;
	if (!in_etcd())
		return dir_list(err);
	if ((e = rm_registry_etcd(err)) == NULL)
		return NULL;
	queue_key(key, sizeof(key), "");
	if ((l = rm_etcd_range(e, key, 1, rev, err)) == NULL)
		return NULL;
	out = json_array();
	json_array_foreach(l, i, kv)
		json_array_append_new(out, etcd_item(kv, strlen(key)));
	json_decref(l);
	return sorted(out);
}

int
rm_queue_claim(const json_t *item, struct rm_err *err)
{
	const char *name = json_string_value(json_object_get(item, "name"));
	struct rm_etcd *e;
	int r;

	if (!in_etcd())
		/* the queue lock is held: an entry still there is this reconciler's */
		return rm_is_file(name) ? 0 : 1;
	if ((e = rm_registry_etcd(err)) == NULL)
		return -err->code;
	r = rm_etcd_cas_delete(e, name + 5, json_integer_value(json_object_get(item, "rev")), err);
	if (r < 0)
		rm_err_set(err, err->code, name, NULL, "cannot claim: %s", err->msg);
	return r;
}

int
rm_queue_done(const json_t *item, struct rm_err *err)
{
	const char *name = json_string_value(json_object_get(item, "name"));

	if (in_etcd())
		return 0;
	if (unlink(name) != 0 && errno != ENOENT)
		return rm_err_set(err, RM_EXIT_INVALID, name, NULL, "cannot remove: %s",
		    strerror(errno));
	return 0;
}

int
rm_queue_unclaim(const json_t *item, struct rm_err *err)
{
	const char *name = json_string_value(json_object_get(item, "name"));
	struct rm_etcd *e;
	char *text;
	int r;

	if (!in_etcd())
		return 0;
	if ((e = rm_registry_etcd(err)) == NULL)
		return -err->code;
	text = json_dumps(json_object_get(item, "entry"), JSON_COMPACT | JSON_SORT_KEYS);
	/* only where nobody parked it again meanwhile */
	r = text ? rm_etcd_cas_put(e, name + 5, text, NULL, 0, err) :
	    rm_err_set(err, RM_EXIT_INTERNAL, name, NULL, "cannot encode the entry");
	free(text);
	return r < 0 ? r : 0;
}

int
rm_queue_revision(long long *rev, struct rm_err *err)
{
	char key[512];
	struct rm_etcd *e;
	json_t *l;

	if (rm_registry_select(NULL, err) != 0)
		return -err->code;
	if (!in_etcd())
		return rm_err_set(err, RM_EXIT_USAGE, NULL, NULL, "waiting for executors needs an "
		    "etcd registry (--registry etcd://...): a directory has no watch");
	if ((e = rm_registry_etcd(err)) == NULL)
		return -err->code;
	/* any key answers with the store's revision; this one need not exist */
	snprintf(key, sizeof(key), "%s/", rm_registry_url()->prefix);
	if ((l = rm_etcd_range(e, key, 0, rev, err)) == NULL)
		return -err->code;
	json_decref(l);
	return 0;
}

struct wait_ctx {
	char executors[512], queue[512];
	int changed;
	int (*keep_going)(void *);
	void *ctx;
};

static int
on_event(void *ctx, const char *type, const char *key, long long rev)
{
	struct wait_ctx *w = ctx;

	if ((strcmp(type, "PUT") == 0 && strncmp(key, w->executors, strlen(w->executors)) == 0) ||
	    strncmp(key, w->queue, strlen(w->queue)) == 0) {
		rm_debug("etcd: %s %s at revision %lld", type, key, rev);
		w->changed = 1;
		return 1;
	}
	return 0;
}

static int
keep_going_of(void *p)
{
	struct wait_ctx *w = p;

	return w->keep_going == NULL || w->keep_going(w->ctx);
}

int
rm_queue_wait(long long from, int (*keep_going)(void *), void *ctx, long long *next,
    struct rm_err *err)
{
	struct wait_ctx w;
	char key[512];
	struct rm_etcd *e;
	int r;

	*next = from;
	if ((e = rm_registry_etcd(err)) == NULL)
		return -err->code;
	memset(&w, 0, sizeof(w));
	w.keep_going = keep_going;
	w.ctx = ctx;
	snprintf(key, sizeof(key), "%s/", rm_registry_url()->prefix);
	snprintf(w.executors, sizeof(w.executors), "%sexecutors/", key);
	snprintf(w.queue, sizeof(w.queue), "%squeue/", key);
	/* a test compacts the store before the watch starts */
	rm_registry_test_pause("RM_TEST_WATCH_DELAY_MS");
	r = rm_etcd_watch(e, key, 1, from, on_event, keep_going_of, &w, next, err);
	if (r == 0 && !w.changed)
		return 1;
	return r;
}
