/* The cost report of a run, from its ledger and results. */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rm_doc.h"
#include "rm_fs.h"
#include "rm_run.h"

json_t *
rm_run_report(const char *run_id, struct rm_err *err)
{
	char dir[1024], p[1200], *text = NULL, *line, *save = NULL;
	size_t len, i, ln = 0;
	json_t *rep, *nodes = json_array(), *index = json_object(), *res = NULL, *n;
	double total = 0;

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
	if (rm_is_file(p)) {
		if (rm_read_file(p, 256u << 20, &text, &len, err) != 0)
			goto fail;
		for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
			json_error_t je;
			json_t *o = json_loads(line, 0, &je), *e, *a;
			const char *id;
			ln++;
			if (!json_is_object(o) || (id = json_string_value(json_object_get(o, "node"))) ==
			    NULL) {
				json_decref(o);
				rm_err_setpos(err, RM_EXIT_INVALID, p, (int)ln, 0, NULL, "expected a cost "
				    "record (one JSON object a line)");
				goto fail;
			}
			e = json_object_get(index, id);
			if (e == NULL) {
				e = json_pack("{s:s,s:f,s:f,s:[]}", "id", id, "cost", 0.0, "duration_s", 0.0,
				    "attempts");
				json_object_set(index, id, e);
				json_array_append_new(nodes, e);
			}
			a = json_pack("{s:O,s:O,s:O,s:O,s:O,s:O}", "executor",
			    json_object_get(o, "executor"), "attempt", json_object_get(o, "attempt"),
			    "status", json_object_get(o, "status"), "start", json_object_get(o, "start"),
			    "duration_s", json_object_get(o, "duration_s"), "cost",
			    json_object_get(o, "cost"));
			if (json_object_get(o, "reason"))
				json_object_set(a, "reason", json_object_get(o, "reason"));
			json_array_append_new(json_object_get(e, "attempts"), a);
			json_object_set_new(e, "cost", json_real(json_number_value(json_object_get(e,
			    "cost")) + json_number_value(json_object_get(o, "cost"))));
			json_object_set_new(e, "duration_s", json_real(round((json_number_value(
			    json_object_get(e, "duration_s")) + json_number_value(json_object_get(o,
			    "duration_s"))) * 1000) / 1000));
			total += json_number_value(json_object_get(o, "cost"));
			json_decref(o);
		}
		free(text);
		text = NULL;
	}
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
	    "total_cost", total, "nodes", nodes);
	json_decref(res);
	json_decref(index);
	return rep;
fail:
	free(text);
	json_decref(nodes);
	json_decref(index);
	return NULL;
}
