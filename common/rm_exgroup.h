/* The executors a tool considers: several sets (-x files, -d directories,
 * the registry, this machine) matched together. */
#ifndef RM_EXGROUP_H
#define RM_EXGROUP_H

#include "rm_exset.h"

struct rm_exgroup {
	struct rm_exset **sets;
	size_t n;
	int registry;		/* loaded from the registry (no -x/-d) */
	int local_added;	/* this machine's advert was added */
};

int rm_exgroup_load(struct rm_exgroup *g, const struct rm_exsources *src, struct rm_err *err);
void rm_exgroup_release(struct rm_exgroup *g);

#endif
