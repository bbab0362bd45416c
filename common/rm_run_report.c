/* The cost report of a run, from its ledger and results. */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rm_doc.h"
#include "rm_fs.h"
#include "rm_run.h"
#include "rm_run_int.h"

/*
 * Calls fn for each record of a run's costs.jsonl (none when the file is
 * missing); a line that is not a cost record is an error naming its line.
 */
static int
each_cost(const char *path, int (*fn)(json_t *o, const char *node, void *arg), void *arg,
    struct rm_err *err)
{
	char *text = NULL, *line, *save = NULL;
	size_t len, ln = 0;
	int rc = 0;

	if (!rm_is_file(path))
		return 0;
	if (rm_read_file(path, 256u << 20, &text, &len, err) != 0)
		return -err->code;
	for (line = strtok_r(text, "\n", &save); line && rc == 0;
	    line = strtok_r(NULL, "\n", &save)) {
		json_t *o = json_loads(line, 0, NULL);
		const char *id = json_string_value(json_object_get(o, "node"));
		ln++;
		if (!json_is_object(o) || id == NULL ||
		    !json_is_number(json_object_get(o, "cost")))
			rc = rm_err_setpos(err, RM_EXIT_INVALID, path, (int)ln, 0, NULL, "expected a "
			    "cost record (one JSON object a line, with node and cost)");
		else
			rc = fn(o, id, arg);
		json_decref(o);
	}
	free(text);
	return rc;
}

static int
add_cost(json_t *o, const char *node, void *arg)
{
	(void)node;
	*(double *)arg += json_number_value(json_object_get(o, "cost"));
	return 0;
}

int
rm_run_ledger_total(const char *dir, double *total, struct rm_err *err)
{
	char p[1200];

	*total = 0;
	if (rm_path(p, sizeof(p), err, "%s/costs.jsonl", dir) != 0)
		return -err->code;
	return each_cost(p, add_cost, total, err);
}

struct report_acc {
	json_t *nodes, *index;
	double total;
};

/* One ledger line into its node's entry (made for nodes not in the plan). */
static int
add_attempt(json_t *o, const char *id, void *arg)
{
	struct report_acc *acc = arg;
	json_t *e = json_object_get(acc->index, id), *a;

	if (e == NULL) {
		e = json_pack("{s:s,s:f,s:f,s:[]}", "id", id, "cost", 0.0, "duration_s", 0.0,
		    "attempts");
		json_object_set(acc->index, id, e);
		json_array_append_new(acc->nodes, e);
	}
	a = json_pack("{s:O,s:O,s:O,s:O,s:O,s:O}", "executor", json_object_get(o, "executor"),
	    "attempt", json_object_get(o, "attempt"), "status", json_object_get(o, "status"),
	    "start", json_object_get(o, "start"), "duration_s", json_object_get(o, "duration_s"),
	    "cost", json_object_get(o, "cost"));
	if (json_object_get(o, "reason"))
		json_object_set(a, "reason", json_object_get(o, "reason"));
	if (json_object_get(o, "endpoint"))
		json_object_set(a, "endpoint", json_object_get(o, "endpoint"));
	json_array_append_new(json_object_get(e, "attempts"), a);
	json_object_set_new(e, "cost", json_real(json_number_value(json_object_get(e, "cost")) +
	    json_number_value(json_object_get(o, "cost"))));
	json_object_set_new(e, "duration_s", json_real(round((json_number_value(
	    json_object_get(e, "duration_s")) + json_number_value(json_object_get(o,
	    "duration_s"))) * 1000) / 1000));
	acc->total += json_number_value(json_object_get(o, "cost"));
	return 0;
}

json_t *
rm_run_report(const char *run_id, struct rm_err *err)
{
	char dir[1024], p[1200];
	size_t i;
	json_t *rep, *nodes = json_array(), *index = json_object(), *res = NULL, *n;
	struct report_acc acc;

	if (rm_run_dir(run_id, dir, sizeof(dir), 0, err) != 0)
		return NULL;
	snprintf(p, sizeof(p), "%s/plan.json", dir);
	if (!rm_is_file(p)) {
		rm_err_set(err, RM_EXIT_NOTFOUND, dir, NULL, "no such run '%s'", run_id);
		goto fail;
	}
	/* nodes in plan order, so that nodes never attempted show as 0 */
	{
		json_t *plan = rm_doc_load(p, err), *pn;
		if (plan == NULL)
			goto fail;
		json_array_foreach(json_object_get(json_object_get(plan, "canonical"), "nodes"), i,
		    pn) {
			json_t *e = json_pack("{s:O,s:f,s:f,s:[]}", "id", json_object_get(pn, "id"),
			    "cost", 0.0, "duration_s", 0.0, "attempts");
			if (json_is_string(json_object_get(pn, "id"))) {
				json_object_set(index, json_string_value(json_object_get(pn, "id")), e);
				json_array_append(nodes, e);
			}
			json_decref(e);
		}
		json_decref(plan);
	}
	snprintf(p, sizeof(p), "%s/costs.jsonl", dir);
	acc.nodes = nodes;
	acc.index = index;
	acc.total = 0;
	if (each_cost(p, add_attempt, &acc, err) != 0)
		goto fail;
	snprintf(p, sizeof(p), "%s/results.json", dir);
	if (rm_is_file(p)) {
		struct rm_err e2;
		rm_err_clear(&e2);
		res = rm_doc_load(p, &e2);
	}
	json_array_foreach(nodes, i, n) {
		const json_t *rn;
		size_t k;
		json_object_set_new(n, "status", json_string("not_run"));
		json_array_foreach(json_object_get(res, "nodes"), k, rn)
			if (json_equal(json_object_get(rn, "id"), json_object_get(n, "id")))
				json_object_set(n, "status", json_object_get(rn, "status"));
	}
	rep = json_pack("{s:s,s:s,s:O,s:O,s:f,s:o}", "schema", "remotemedia.run-report/1", "run",
	    run_id, "status", res && json_object_get(res, "status") ?
	    json_object_get(res, "status") : json_string("incomplete"), "budget",
	    res && json_object_get(res, "budget") ? json_object_get(res, "budget") : json_null(),
	    "total_cost", acc.total, "nodes", nodes);
	json_decref(res);
	json_decref(index);
	return rep;
fail:
	json_decref(nodes);
	json_decref(index);
	return NULL;
}
