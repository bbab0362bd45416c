/* $REMOTEMEDIA_HOME/config.yaml, read once per process. */
#ifndef RM_CONFIG_H
#define RM_CONFIG_H

#include <jansson.h>

#include "rm_err.h"

/*
 * The configuration document (an empty object when there is no file).
 * Borrowed: valid until the process ends. NULL on a parse error.
 */
const json_t *rm_config(struct rm_err *err);
/*
 * The production approval list (config.yaml approved_executors: executor
 * ids or fnmatch patterns), a new reference. In development mode *list is
 * NULL (everything approved); in production an absent list approves none.
 */
int rm_config_approved(json_t **list, struct rm_err *err);

#endif
