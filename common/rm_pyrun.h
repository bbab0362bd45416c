/*
 * A Python pipeline (.py) as a pipeline document: runs
 * share/remotemedia/python/rm_build_runner.py on it (rm-build, and
 * rm-schedule run for a .py pipeline).
 */
#ifndef RM_PYRUN_H
#define RM_PYRUN_H

#include <jansson.h>

#include "rm_err.h"

/*
 * Runs $REMOTEMEDIA_PYTHON (default python3) -I -B rm_build_runner.py on
 * real (an absolute path); the pipeline's own prints go to stderr. *out
 * receives the runner's object: {"manifest", "data", "local_modules",
 * "python", "imports"}. label names the pipeline in errors. Errors:
 * RM_EXIT_NOTFOUND (no runner, no Python), RM_EXIT_INVALID (the pipeline
 * failed in Python).
 */
int rm_python_pipeline(const char *real, const char *label, json_t **out, struct rm_err *err);

#endif
