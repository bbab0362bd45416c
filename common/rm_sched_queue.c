/*
 * The queue of parked nodes: one entry per node that had no compatible
 * executor, in the queue's store (rm_queue.h: the directory
 * $REMOTEMEDIA_HOME/queue/, or etcd). reconcile places what now fits,
 * claiming each entry before it writes the placement.
 */
#include "config.h"

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
#include "rm_queue.h"
#include "rm_registry.h"
#include "rm_sched.h"

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
	char qid[400], where[PATH_MAX], abs[PATH_MAX], when[64];

	if (rm_queue_lock(&fd, err) != 0)
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
		entry = json_pack("{s:s,s:s,s:s,s:s,s:O,s:s,s:O,s:O,s:O}", "schema",
		    RM_PARKED_SCHEMA, "id", qid, "status", "parked", "parked_at", when, "pipeline",
		    json_object_get(plan, "pipeline"), "policy",
		    json_string_value(json_object_get(plan, "policy")), "node",
		    canonical_node(plan, id), "tiers_tried", json_object_get(n, "tiers_tried"),
		    "reason", json_object_get(n, "reason"));
		json_object_set_new(entry, "plan", plan_path ? json_string(abs) : json_null());
		rc = rm_queue_put(qid, entry, where, sizeof(where), err);
		json_decref(entry);
		if (rc != 0)
			break;
		json_object_set_new(n, "status", json_string("parked"));
		json_object_set_new(n, "queue_id", json_string(qid));
		rm_info("parked %s as %s", id, where);
	}
	rm_queue_unlock(fd);
	if (rc == 0)
		json_object_set_new(plan, "status", json_string("parked"));
	return rc;
}

json_t *
rm_sched_queue_list(struct rm_err *err)
{
	json_t *items = rm_queue_list(NULL, err), *out, *it;
	size_t i;

	if (items == NULL)
		return NULL;
	out = json_array();
	json_array_foreach(items, i, it) {
		if (json_object_get(it, "entry") == NULL)
			rm_warn("%s: %s (skipped)", json_string_value(json_object_get(it, "name")),
			    json_string_value(json_object_get(it, "error")));
		else
			json_array_append(out, json_object_get(it, "entry"));
	}
	json_decref(items);
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

/* The placement document reconcile writes to placed/<id>.json. */
static json_t *
placement_doc(const json_t *q, const char *qid, const json_t *entry, const json_t *dec)
{
	char when[64];

	rm_time_format((long long)time(NULL), when, sizeof(when));
	return json_pack("{s:s,s:s,s:s,s:O,s:O,s:O,s:O}", "schema", RM_PLACEMENT_SCHEMA,
	    "id", qid, "placed_at", when, "pipeline", json_object_get(q, "pipeline"), "placement",
	    entry, "decision", dec, "plan",
	    json_object_get(q, "plan") ? json_object_get(q, "plan") : json_null());
}

/*
 * Claims a placed item and records it: the placement written, the plan
 * updated, the entry gone. 0 placed; 1 another reconciler claimed it
 * first (nothing written); -1 left in the queue (warned).
 */
static int
commit_placement(const json_t *it, const json_t *entry, const json_t *dec, char *out,
    size_t osize)
{
	const json_t *q = json_object_get(it, "entry");
	const char *name = json_string_value(json_object_get(it, "name"));
	const char *qid = json_string_value(json_object_get(q, "id"));
	char rel[600];
	struct rm_err err;
	json_t *doc;
	int r;

	rm_err_clear(&err);
	/* a test lines two reconcilers up on one entry */
	rm_registry_test_pause("RM_TEST_CLAIM_DELAY_MS");
	if ((r = rm_queue_claim(it, &err)) != 0) {
		if (r < 0)
			rm_warn("%s: %s (left in the queue)", name, err.msg);
		return r < 0 ? -1 : 1;
	}
	snprintf(rel, sizeof(rel), "placed/%s.json", qid ? qid : "unknown");
	doc = placement_doc(q, qid ? qid : "unknown", entry, dec);
	/* the placement first, then the directory's entry goes: a crash in
	 * between leaves the node parked, and the next reconcile places it again */
	if (rm_home_path(out, osize, rel, 1, &err) != 0 || rm_json_write_file(out, doc, &err) != 0) {
		rm_warn("%s: %s (left in the queue)", rel, err.msg);
		rm_err_clear(&err);
		if (rm_queue_unclaim(it, &err) != 0)
			rm_warn("%s: cannot park it again: %s", name, err.msg);
		json_decref(doc);
		return -1;
	}
	json_decref(doc);
	/* a plan file is the parking host's: an entry from etcd may come from
	 * any host, and its "plan" names no file of ours */
	if (json_is_string(json_object_get(q, "plan")) && name != NULL &&
	    strncmp(name, "etcd:", 5) != 0)
		update_plan(json_string_value(json_object_get(q, "plan")), entry, dec);
	if (rm_queue_done(it, &err) != 0)
		rm_warn("%s", err.msg);
	return 0;
}

/* Places one queue item, adding it to placed, still or lost. */
static void
reconcile_one(struct rm_sched *s, const json_t *it, json_t *placed, json_t *still, json_t *lost)
{
	const json_t *q = json_object_get(it, "entry");
	const char *name = json_string_value(json_object_get(it, "name"));
	char out[PATH_MAX];
	struct rm_err err;
	json_t *entry, *dec = NULL;
	int r;

	rm_err_clear(&err);
	if (q == NULL || rm_doc_check_schema(q, "parked", 1, 1, name, &err) != 0) {
		rm_warn("%s: %s (left in the queue)", name, q ? err.msg :
		    json_string_value(json_object_get(it, "error")));
		return;
	}
	/* the id names the placement file: only the entry's own, and a safe one */
	if (!json_is_string(json_object_get(q, "id")) ||
	    !rm_registry_id_ok(json_string_value(json_object_get(q, "id"))) ||
	    !json_equal(json_object_get(q, "id"), json_object_get(it, "id"))) {
		rm_warn("%s: id: expected the entry's own id (%s), letters, digits, '.', '_', "
		    "'-' (left in the queue)", name, json_string_value(json_object_get(it, "id")) ?:
		    "?");
		return;
	}
	if ((entry = rm_sched_place(s, json_object_get(q, "node"), name, &dec, &err)) == NULL) {
		rm_warn("%s: %s (left in the queue)", name, err.msg);
		return;
	}
	if (strcmp(json_string_value(json_object_get(entry, "status")), "placed") != 0)
		json_array_append_new(still, json_pack("{s:O,s:O,s:O}", "id", json_object_get(q, "id"),
		    "node", json_object_get(json_object_get(q, "node"), "id"), "reason",
		    json_object_get(entry, "reason")));
	else if ((r = commit_placement(it, entry, dec, out, sizeof(out))) == 0)
		json_array_append_new(placed, json_pack("{s:O,s:O,s:O,s:O,s:O,s:s}", "id",
		    json_object_get(q, "id"), "node", json_object_get(entry, "id"), "executor",
		    json_object_get(entry, "executor"), "endpoint",
		    json_object_get(entry, "endpoint") ? json_object_get(entry, "endpoint") :
		    json_null(), "reason", json_object_get(entry, "reason"), "placement", out));
	else if (r == 1)
		json_array_append_new(lost, json_pack("{s:O,s:O,s:s}", "id", json_object_get(q, "id"),
		    "node", json_object_get(entry, "id"), "reason",
		    "another reconciler claimed it first"));
	json_decref(entry);
	json_decref(dec);
}

json_t *
rm_sched_reconcile(struct rm_sched *s, int keep_policy, struct rm_err *err)
{
	json_t *items, *it, *placed, *still, *lost;
	size_t i;
	int fd;

	(void)keep_policy;
	if (rm_queue_lock(&fd, err) != 0)
		return NULL;
	if ((items = rm_queue_list(NULL, err)) == NULL) {
		rm_queue_unlock(fd);
		return NULL;
	}
	placed = json_array();
	still = json_array();
	lost = json_array();
	json_array_foreach(items, i, it)
		reconcile_one(s, it, placed, still, lost);
	json_decref(items);
	rm_queue_unlock(fd);
	return json_pack("{s:o,s:o,s:o}", "placed", placed, "still_parked", still, "claimed_elsewhere",
	    lost);
}
