/* Plans for people: the table, Graphviz, and explain from the decisions log. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rm_doc.h"
#include "rm_log.h"
#include "rm_sched.h"

static const char *
str(const json_t *o, const char *k, const char *dflt)
{
	const char *v = json_string_value(json_object_get(o, k));

	return v ? v : dflt;
}

void
rm_sched_print_budget(FILE *fp, const json_t *b)
{
	json_t *n;
	size_t i;

	fprintf(fp, "%s: estimated total %.4f exceeds the budget %g by %.4f\n", rm_progname(),
	    json_number_value(json_object_get(b, "total")),
	    json_number_value(json_object_get(b, "budget")),
	    json_number_value(json_object_get(b, "over")));
	json_array_foreach(json_object_get(b, "nodes"), i, n)
		fprintf(fp, "  %-20s %-24s %10.4f  (%g s)\n", str(n, "id", "-"),
		    str(n, "executor", "-"), json_number_value(json_object_get(n, "estimated_cost")),
		    json_number_value(json_object_get(n, "estimated_seconds")));
}

void
rm_sched_print_text(FILE *fp, const json_t *plan)
{
	json_t *n, *w;
	size_t i, k;

	fprintf(fp, "plan %s (%s policy): %s\n", str(json_object_get(plan, "pipeline"), "name",
	    "-"), str(plan, "policy", "-"), str(plan, "status", "-"));
	fprintf(fp, "%-20s %-24s %6s %10s %4s  %s\n", "NODE", "EXECUTOR", "SCORE", "COST", "TIER",
	    "REASON");
	json_array_foreach(json_object_get(plan, "nodes"), i, n) {
		fprintf(fp, "%-20s %-24s %6.1f %10.4f %4lld  %s\n", str(n, "id", "-"),
		    str(n, "executor", str(n, "status", "-")),
		    json_number_value(json_object_get(n, "score")),
		    json_number_value(json_object_get(n, "estimated_cost")),
		    (long long)json_integer_value(json_object_get(n, "tier")), str(n, "reason", ""));
		json_array_foreach(json_object_get(n, "warnings"), k, w)
			fprintf(fp, "    warning: %s\n", json_string_value(w));
	}
	fprintf(fp, "total estimated cost: %.4f", json_number_value(json_object_get(plan,
	    "total_estimated_cost")));
	if (json_is_number(json_object_get(plan, "budget")))
		fprintf(fp, " (budget %g)", json_number_value(json_object_get(plan, "budget")));
	fputc('\n', fp);
}

/* A DOT double-quoted string body. */
static void
dot_escape(char **buf, size_t *len, size_t *cap, const char *s)
{
	for (; *s; s++) {
		if (*len + 3 >= *cap) {
			*cap = *cap * 2 + 64;
			*buf = realloc(*buf, *cap);
		}
		if (*s == '"' || *s == '\\')
			(*buf)[(*len)++] = '\\';
		if (*s == '\n') {
			(*buf)[(*len)++] = '\\';
			(*buf)[(*len)++] = 'n';
			continue;
		}
		(*buf)[(*len)++] = *s;
	}
	(*buf)[*len] = '\0';
}

static void
dot_raw(char **buf, size_t *len, size_t *cap, const char *s)
{
	size_t n = strlen(s);

	if (*len + n + 1 >= *cap) {
		*cap = (*len + n + 1) * 2;
		*buf = realloc(*buf, *cap);
	}
	memcpy(*buf + *len, s, n + 1);
	*len += n;
}

char *
rm_sched_dot(const json_t *plan)
{
	size_t len = 0, cap = 1024, i, j, c;
	char *buf = malloc(cap), line[200];
	json_t *nodes = json_object_get(plan, "nodes"), *n, *clusters = json_object(), *ids,
	    *e, *d;
	const char *key;

	buf[0] = '\0';
	dot_raw(&buf, &len, &cap, "digraph \"");
	dot_escape(&buf, &len, &cap, str(json_object_get(plan, "pipeline"), "name", "pipeline"));
	dot_raw(&buf, &len, &cap, "\" {\n  rankdir=LR;\n  node [shape=box];\n");
	/* executors in first-use order so that the output is stable */
	json_array_foreach(nodes, i, n) {
		const char *ex = str(n, "executor", NULL);
		char k[300];
		snprintf(k, sizeof(k), "%s", ex ? ex : "(parked)");
		if (json_object_get(clusters, k) == NULL)
			json_object_set_new(clusters, k, json_array());
		json_array_append_new(json_object_get(clusters, k), json_integer((json_int_t)i));
	}
	c = 0;
	json_array_foreach(nodes, i, n) {
		const char *ex = str(n, "executor", NULL);
		char k[300];
		snprintf(k, sizeof(k), "%s", ex ? ex : "(parked)");
		ids = json_object_get(clusters, k);
		if (ids == NULL || json_integer_value(json_array_get(ids, 0)) != (json_int_t)i)
			continue;
		key = k;
		snprintf(line, sizeof(line), "  subgraph cluster_%zu {\n    label=\"", c++);
		dot_raw(&buf, &len, &cap, line);
		dot_escape(&buf, &len, &cap, key);
		if (ex && json_is_string(json_object_get(n, "endpoint"))) {
			dot_raw(&buf, &len, &cap, "\\n");
			dot_escape(&buf, &len, &cap, str(n, "endpoint", ""));
		}
		dot_raw(&buf, &len, &cap, ex ? "\";\n    style=rounded;\n" :
		    "\";\n    style=dashed;\n");
		json_array_foreach(ids, j, e) {
			json_t *m = json_array_get(nodes, (size_t)json_integer_value(e)), *cap1, *dby;
			size_t q;
			dot_raw(&buf, &len, &cap, "    \"");
			dot_escape(&buf, &len, &cap, str(m, "id", "?"));
			dot_raw(&buf, &len, &cap, "\" [label=\"");
			dot_escape(&buf, &len, &cap, str(m, "id", "?"));
			if (json_is_string(json_object_get(m, "type"))) {
				dot_raw(&buf, &len, &cap, " (");
				dot_escape(&buf, &len, &cap, str(m, "type", ""));
				dot_raw(&buf, &len, &cap, ")");
			}
			dby = rm_sched_decided_by(plan, m, (size_t)json_integer_value(e));
			json_array_foreach(dby, q, cap1) {
				dot_raw(&buf, &len, &cap, "\\n");
				dot_escape(&buf, &len, &cap, json_string_value(cap1));
			}
			json_decref(dby);
			if (json_is_true(json_object_get(m, "degraded")))
				dot_raw(&buf, &len, &cap, "\\n(degraded)");
			dot_raw(&buf, &len, &cap, ex ? "\"];\n" : "\", style=dashed];\n");
		}
		dot_raw(&buf, &len, &cap, "  }\n");
	}
	json_array_foreach(json_object_get(plan, "edges"), i, d) {
		dot_raw(&buf, &len, &cap, "  \"");
		dot_escape(&buf, &len, &cap, json_string_value(json_array_get(d, 0)) ?
		    json_string_value(json_array_get(d, 0)) : "?");
		dot_raw(&buf, &len, &cap, "\" -> \"");
		dot_escape(&buf, &len, &cap, json_string_value(json_array_get(d, 1)) ?
		    json_string_value(json_array_get(d, 1)) : "?");
		dot_raw(&buf, &len, &cap, "\";\n");
	}
	dot_raw(&buf, &len, &cap, "}\n");
	json_decref(clusters);
	return buf;
}

static void
print_exec(FILE *fp, const json_t *e, double scale)
{
	json_t *c, *r;
	size_t i;
	char nb[200], hb[200];

	fprintf(fp, "  %-24s %-12s score %5.1f", str(e, "id", "?"), str(e, "bucket", "?"),
	    json_number_value(json_object_get(e, "score")));
	if (json_is_integer(json_object_get(e, "rank")))
		fprintf(fp, "  rank %lld", (long long)json_integer_value(json_object_get(e, "rank")));
	if (json_is_number(json_object_get(e, "policy_value")))
		fprintf(fp, "  policy value %g",
		    json_number_value(json_object_get(e, "policy_value")) * scale);
	if (json_is_true(json_object_get(e, "degraded")))
		fprintf(fp, "  degraded");
	fputc('\n', fp);
	json_array_foreach(json_object_get(e, "clauses"), i, c)
		fprintf(fp, "      %-8s %-28s need %-16s have %s\n", str(c, "result", "?"),
		    str(c, "path", "?"), rm_json_brief(json_object_get(c, "need"), nb, sizeof(nb)),
		    rm_json_brief(json_object_get(c, "have"), hb, sizeof(hb)));
	json_array_foreach(json_object_get(e, "reasons"), i, r)
		if (strcmp(str(r, "path", ""), "approval") == 0 || strcmp(str(r, "path", ""),
		    "expires_at") == 0 || strcmp(str(r, "path", ""), "remote") == 0)
			fprintf(fp, "      %-8s %s\n", "fail", str(r, "message", ""));
}

void
rm_sched_print_explain(FILE *fp, const json_t *plan, const json_t *d)
{
	json_t *t, *e, *c, *choice = json_object_get(d, "choice");
	size_t i, j;
	double scale;
	char nb[400];

	fprintf(fp, "node %s\n", str(d, "node", "?"));
	fprintf(fp, "requirements: %s\n", rm_json_brief(json_object_get(d, "requirements"), nb,
	    sizeof(nb)));
	if (json_object_get(d, "fallback"))
		fprintf(fp, "fallback: %s\n", rm_json_brief(json_object_get(d, "fallback"), nb,
		    sizeof(nb)));
	fprintf(fp, "policy: %s\n", str(d, "rule", str(plan, "policy", "?")));
	json_array_foreach(json_object_get(d, "tiers"), i, t) {
		t = (json_t *)rm_sched_tier_record(plan, t);
		if (t == NULL)
			continue;
		fprintf(fp, "tier %lld: %s", (long long)json_integer_value(json_object_get(t, "tier")),
		    rm_json_brief(json_object_get(t, "requirements"), nb, sizeof(nb)));
		if (json_is_string(json_object_get(t, "host")))
			fprintf(fp, " (host %s)", str(t, "host", ""));
		fprintf(fp, ", %lld executors considered\n",
		    (long long)json_integer_value(json_object_get(t, "considered")));
		json_array_foreach(json_object_get(t, "clauses"), j, c)
			fprintf(fp, "  clause %-28s eliminated %lld%s\n", str(c, "path", "?"),
			    (long long)json_integer_value(json_object_get(c, "eliminated")),
			    json_is_true(json_object_get(c, "preferred")) ? " (preferred)" : "");
		/* a shared record's costs were computed for another node's duration */
		scale = 1;
		if (json_is_number(json_object_get(t, "policy_values_for_seconds")) &&
		    json_is_number(json_object_get(d, "estimated_seconds")) &&
		    json_number_value(json_object_get(t, "policy_values_for_seconds")) > 0)
			scale = json_number_value(json_object_get(d, "estimated_seconds")) /
			    json_number_value(json_object_get(t, "policy_values_for_seconds"));
		json_array_foreach(json_object_get(t, "executors"), j, e)
			print_exec(fp, e, scale);
		if (json_integer_value(json_object_get(t, "omitted")) > 0)
			fprintf(fp, "  (%lld more executors not recorded; plan with --decisions full)\n",
			    (long long)json_integer_value(json_object_get(t, "omitted")));
	}
	fprintf(fp, "choice: %s: %s\n", str(choice, "executor", "none (parked)"),
	    str(choice, "reason", ""));
}
