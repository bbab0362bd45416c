/* The state directory (~/.remotemedia), the data directory and the mode. */
#ifndef RM_HOME_H
#define RM_HOME_H

#include <stddef.h>

#include "rm_err.h"

/* $REMOTEMEDIA_HOME, else $HOME/.remotemedia (not created). */
const char *rm_home(void);
/* Joins a relative path under the state directory; creates the parent
 * directories (0700) when mkparents is set. */
int rm_home_path(char *buf, size_t size, const char *rel, int mkparents, struct rm_err *err);
/*
 * The data directory holding taxonomy.yaml, node-types.yaml, examples/:
 * $REMOTEMEDIA_SHARE; else, for an uninstalled binary (TREE/tools/X/X), the
 * source tree's share/remotemedia; else the install found relative to the
 * binary (a moved prefix), else the configured RM_DATADIR. NULL when none
 * exists (callers then use the embedded copies, with a warning).
 */
const char *rm_share_dir(void);

enum rm_mode { RM_MODE_DEVELOPMENT = 0, RM_MODE_PRODUCTION = 1 };
/* REMOTEMEDIA_ENV, else production when CI is set, else development. */
enum rm_mode rm_mode(void);
/*
 * A test hook's environment variable (REMOTEMEDIA_TEST_..., RM_TEST_...):
 * its value in development, NULL in production, where no hook may pause,
 * kill or alter what a tool does.
 */
const char *rm_test_hook_env(const char *name);
const char *rm_mode_name(enum rm_mode mode);
/* Checks REMOTEMEDIA_ENV holds a known value. */
int rm_mode_check(struct rm_err *err);

/*
 * Reads a data file by its name under share/remotemedia ("taxonomy.yaml"):
 * from the data directory when it has one, else the embedded copy (and a
 * warning on stderr, once, since edits of the data go unseen). shown
 * receives the path used, for messages.
 */
int rm_data_read(const char *name, char **text, size_t *len, char *shown, size_t shownsize,
    struct rm_err *err);

#endif
