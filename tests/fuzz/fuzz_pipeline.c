/* Pipeline documents (ours and RemoteMedia's serialize() shape), loaded as
 * rm-build and rm-schedule load them, put in topological order, and
 * planned onto the example adverts as rm-schedule plan does (text, dot and
 * budget views included). */
#include "config.h"

#include <stdio.h>

#include "rm_pipeline.h"
#include "rm_sched.h"
#include "fuzz.h"

static struct rm_exgroup group;
static struct rm_sched *sched;
static FILE *devnull;

static void
release(void)
{
	rm_sched_free(sched);
	rm_exgroup_release(&group);
	if (devnull != NULL)
		fclose(devnull);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct rm_sched_opts so;
	struct rm_err err;

	fuzz_setup();
	fuzz_example_group(&group);
	memset(&so, 0, sizeof(so));
	so.policy = RM_POLICY_GREEDY;
	so.budget = -1;
	so.no_local = 1;
	so.now = 1700000000;
	rm_err_clear(&err);
	if (rm_sched_new(&group, &so, &sched, &err) != 0 ||
	    (devnull = fopen("/dev/null", "w")) == NULL)
		abort();
	atexit(release);
	return 0;
}

static void
plan(const json_t *p, const char *path)
{
	struct rm_err err;
	json_t *pl, *b = NULL;

	rm_err_clear(&err);
	if ((pl = rm_sched_plan(sched, p, path, &err)) == NULL)
		return;
	rm_sched_over_budget(pl, 0.5, &b);
	json_decref(b);
	free(rm_sched_dot(pl));
	rm_sched_print_text(devnull, pl);
	json_decref(pl);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rm_err err;
	char path[PATH_MAX];
	size_t *order = NULL, n;
	json_t *p;

	fuzz_write(path, sizeof(path), "pipeline", data, size);
	rm_err_clear(&err);
	if ((p = rm_pipeline_load(path, &err)) == NULL)
		return 0;
	rm_err_clear(&err);
	if (rm_pipeline_topo_order(p, &order, &n, &err) == 0)
		free(order);
	plan(p, path);
	json_decref(p);
	return 0;
}
