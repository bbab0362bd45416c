/*
 * The queue of parked nodes: $REMOTEMEDIA_HOME/queue/<id>.json, one file per
 * node that had no compatible executor, written atomically under
 * $REMOTEMEDIA_HOME/queue.lock. reconcile places what now fits.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "rm_doc.h"
#include "rm_fs.h"
#include "rm_home.h"
#include "rm_log.h"
#include "rm_registry.h"
#include "rm_sched.h"

static int
queue_lock(struct rm_err *err)
{
	char path[PATH_MAX];

	if (rm_home_path(path, sizeof(path), "queue.lock", 1, err) != 0)
		return -1;
	return rm_lock(path, 1, 0, err);
}

/* <digest 12>-<node id>, with anything but [A-Za-z0-9._-] as '_' */
static void
queue_id(const json_t *plan, const char *node, char *buf, size_t size)
{
	const char *d = json_string_value(json_object_get(json_object_get(plan, "pipeline"),
	    "digest"));
	char *p;

	if (d && strncmp(d, "sha256:", 7) == 0)
		d += 7;
	snprintf(buf, size, "%.12s-%s", d ? d : "nodigest", node);
	for (p = buf; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '.' || *p == '_' || *p == '-'))
			*p = '_';
	if (buf[0] == '.')
		buf[0] = '_';
}

static const json_t *
canonical_node(const json_t *plan, const char *id)
{
	json_t *n;
	size_t i;

	json_array_foreach(json_object_get(json_object_get(plan, "canonical"), "nodes"), i, n)
		if (strcmp(json_string_value(json_object_get(n, "id")), id) == 0)
			return n;
	return NULL;
}

int
rm_sched_park(json_t *plan, const char *plan_path, struct rm_err *err)
{
	json_t *n;
	size_t i;
	int fd, rc = 0;
	char qid[400], rel[512], path[PATH_MAX], abs[PATH_MAX], when[64];

	if ((fd = queue_lock(err)) < 0)
		return -err->code;
	rm_time_format((long long)time(NULL), when, sizeof(when));
	if (plan_path != NULL && realpath(plan_path, abs) == NULL)
		snprintf(abs, sizeof(abs), "%s", plan_path);
	json_array_foreach(json_object_get(plan, "nodes"), i, n) {
		const char *id = json_string_value(json_object_get(n, "id"));
		json_t *entry;
		if (strcmp(json_string_value(json_object_get(n, "status")), "unplaced") != 0)
			continue;
		queue_id(plan, id, qid, sizeof(qid));
		snprintf(rel, sizeof(rel), "queue/%s.json", qid);
		if ((rc = rm_home_path(path, sizeof(path), rel, 1, err)) != 0)
			break;
		entry = json_pack("{s:s,s:s,s:s,s:s,s:O,s:s,s:O,s:O,s:O}", "schema",
		    RM_PARKED_SCHEMA, "id", qid, "status", "parked", "parked_at", when, "pipeline",
		    json_object_get(plan, "pipeline"), "policy",
		    json_string_value(json_object_get(plan, "policy")), "node",
		    canonical_node(plan, id), "tiers_tried", json_object_get(n, "tiers_tried"),
		    "reason", json_object_get(n, "reason"));
		json_object_set_new(entry, "plan", plan_path ? json_string(abs) : json_null());
		rc = rm_json_write_file(path, entry, err);
		json_decref(entry);
		if (rc != 0)
			break;
		json_object_set_new(n, "status", json_string("parked"));
		json_object_set_new(n, "queue_id", json_string(qid));
		rm_info("parked %s as %s", id, path);
	}
	rm_unlock(fd);
	if (rc == 0)
		json_object_set_new(plan, "status", json_string("parked"));
	return rc;
}

static int
str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The queue's file names, sorted; NULL-terminated. */
static char **
queue_files(char *dir, size_t dsize, struct rm_err *err)
{
	DIR *d;
	struct dirent *de;
	char **names = NULL;
	size_t n = 0, cap = 0;

	if (rm_home_path(dir, dsize, "queue", 0, err) != 0)
		return NULL;
	names = calloc(1, sizeof(*names));
	if ((d = opendir(dir)) == NULL)
		return names;
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);
		if (de->d_name[0] == '.' || len < 6 || strcmp(de->d_name + len - 5, ".json") != 0)
			continue;
		if (n + 2 > cap) {
			cap = cap ? cap * 2 : 16;
			names = realloc(names, cap * sizeof(*names));
		}
		names[n++] = strdup(de->d_name);
	}
	closedir(d);
	qsort(names, n, sizeof(*names), str_cmp);
	names[n] = NULL;
	return names;
}

static void
free_names(char **names)
{
	size_t i;

	for (i = 0; names && names[i]; i++)
		free(names[i]);
	free(names);
}

json_t *
rm_sched_queue_list(struct rm_err *err)
{
	char dir[PATH_MAX], path[PATH_MAX];
	char **names = queue_files(dir, sizeof(dir), err);
	json_t *out;
	size_t i;

	if (names == NULL)
		return NULL;
	out = json_array();
	for (i = 0; names[i]; i++) {
		json_t *e;
		if (rm_path(path, sizeof(path), err, "%s/%s", dir, names[i]) != 0)
			continue;
		e = rm_doc_load(path, err);
		if (e == NULL) {
			rm_warn("%s: %s (skipped)", path, err->msg);
			rm_err_clear(err);
			continue;
		}
		json_array_append_new(out, e);
	}
	free_names(names);
	return out;
}

/* Puts the placement into the plan file it came from, when it still exists. */
static void
update_plan(const char *plan_path, const json_t *entry, const json_t *dec)
{
	struct rm_err err;
	json_t *plan, *n, *d;
	size_t i, unplaced = 0;
	double total = 0;
	const char *id = json_string_value(json_object_get(entry, "id"));

	rm_err_clear(&err);
	if (!rm_is_file(plan_path) || (plan = rm_doc_load(plan_path, &err)) == NULL)
		return;
	json_array_foreach(json_object_get(plan, "nodes"), i, n) {
		if (strcmp(json_string_value(json_object_get(n, "id")), id) == 0)
			json_array_set(json_object_get(plan, "nodes"), i, (json_t *)entry);
	}
	json_array_foreach(json_object_get(plan, "decisions"), i, d)
		if (strcmp(json_string_value(json_object_get(d, "node")), id) == 0) {
			json_array_set(json_object_get(plan, "decisions"), i, (json_t *)dec);
			dec = NULL;
		}
	/* a bounded plan records only the decisions not made from its basis */
	if (dec != NULL) {
		if (!json_is_array(json_object_get(plan, "decisions")))
			json_object_set_new(plan, "decisions", json_array());
		json_array_append(json_object_get(plan, "decisions"), (json_t *)dec);
	}
	json_array_foreach(json_object_get(plan, "nodes"), i, n) {
		if (strcmp(json_string_value(json_object_get(n, "status")), "placed") != 0)
			unplaced++;
		else
			total += json_number_value(json_object_get(n, "estimated_cost"));
	}
	json_object_set_new(plan, "total_estimated_cost", json_real(total));
	json_object_set_new(plan, "status", json_string(unplaced ? "parked" : "planned"));
	if (rm_json_write_file(plan_path, plan, &err) != 0)
		rm_warn("%s: cannot update the plan: %s", plan_path, err.msg);
	json_decref(plan);
}

json_t *
rm_sched_reconcile(struct rm_sched *s, int keep_policy, struct rm_err *err)
{
	char dir[PATH_MAX], path[PATH_MAX], out[PATH_MAX], rel[600], when[64];
	char **names;
	json_t *placed = json_array(), *still = json_array();
	size_t i;
	int fd;

	(void)keep_policy;
	if ((fd = queue_lock(err)) < 0) {
		json_decref(placed);
		json_decref(still);
		return NULL;
	}
	names = queue_files(dir, sizeof(dir), err);
	if (names == NULL) {
		rm_unlock(fd);
		json_decref(placed);
		json_decref(still);
		return NULL;
	}
	rm_time_format((long long)time(NULL), when, sizeof(when));
	for (i = 0; names[i]; i++) {
		json_t *q, *entry, *dec, *doc;
		const char *qid;
		if (rm_path(path, sizeof(path), err, "%s/%s", dir, names[i]) != 0)
			continue;
		if ((q = rm_doc_load(path, err)) == NULL ||
		    rm_doc_check_schema(q, "parked", 1, 1, path, err) != 0) {
			rm_warn("%s: %s (left in the queue)", path, err->msg);
			rm_err_clear(err);
			json_decref(q);
			continue;
		}
		qid = json_string_value(json_object_get(q, "id"));
		entry = rm_sched_place(s, json_object_get(q, "node"), path, &dec, err);
		if (entry == NULL) {
			rm_warn("%s: %s (left in the queue)", path, err->msg);
			rm_err_clear(err);
			json_decref(q);
			continue;
		}
		if (strcmp(json_string_value(json_object_get(entry, "status")), "placed") != 0) {
			json_array_append_new(still, json_pack("{s:O,s:O,s:O}", "id",
			    json_object_get(q, "id"), "node", json_object_get(json_object_get(q, "node"),
			    "id"), "reason", json_object_get(entry, "reason")));
			json_decref(entry);
			json_decref(dec);
			json_decref(q);
			continue;
		}
		snprintf(rel, sizeof(rel), "placed/%s.json", qid ? qid : "unknown");
		doc = json_pack("{s:s,s:s,s:s,s:O,s:O,s:O,s:O}", "schema", RM_PLACEMENT_SCHEMA,
		    "id", qid ? qid : "unknown", "placed_at", when, "pipeline",
		    json_object_get(q, "pipeline"), "placement", entry, "decision", dec, "plan",
		    json_object_get(q, "plan") ? json_object_get(q, "plan") : json_null());
		/* the placement first, then the queue entry goes: a crash in between
		 * leaves the node parked, and the next reconcile places it again */
		if (rm_home_path(out, sizeof(out), rel, 1, err) != 0 ||
		    rm_json_write_file(out, doc, err) != 0) {
			rm_warn("%s: %s (left in the queue)", rel, err->msg);
			rm_err_clear(err);
		} else {
			if (json_is_string(json_object_get(q, "plan")))
				update_plan(json_string_value(json_object_get(q, "plan")), entry, dec);
			if (unlink(path) != 0 && errno != ENOENT)
				rm_warn("%s: cannot remove: %s", path, strerror(errno));
			json_array_append_new(placed, json_pack("{s:s,s:O,s:O,s:O,s:O,s:s}", "id",
			    qid ? qid : "unknown", "node", json_object_get(entry, "id"), "executor",
			    json_object_get(entry, "executor"), "endpoint",
			    json_object_get(entry, "endpoint") ? json_object_get(entry, "endpoint") :
			    json_null(), "reason", json_object_get(entry, "reason"), "placement", out));
		}
		json_decref(doc);
		json_decref(entry);
		json_decref(dec);
		json_decref(q);
	}
	free_names(names);
	rm_unlock(fd);
	return json_pack("{s:o,s:o}", "placed", placed, "still_parked", still);
}
