/* rm-build's private parts: git provenance and model optimisation. */
#ifndef RM_BUILD_H
#define RM_BUILD_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "rm_err.h"

/*
 * Git facts about the work tree holding path (a real path): {"commit",
 * "branch", "remote_url" (a network remote, credentials removed; absent
 * when every remote is a local path), "dirty", "path" (relative to the
 * work tree root), "commit_time"}; json null when path is in no
 * repository. Dirty means tracked files differ from HEAD (untracked files,
 * such as packages built into the tree, do not count).
 */
json_t *rm_build_git_info(const char *path, struct rm_err *err);

enum rm_build_dtype { RM_OPT_NONE = 0, RM_OPT_F16, RM_OPT_BF16, RM_OPT_INT8 };

/*
 * Converts the F32 tensors of a safetensors file. *out (malloc'ed, *outlen
 * bytes) is the new file; *report describes it: {"dtype", "original_size",
 * "size", "saved_bytes", "tensors": [{"name", "from", "to",
 * "max_abs_error"}]}. For int8 each tensor T gets a one-element F32 tensor
 * "T.scale" (value = max|T| / 127; T = int8 * scale).
 */
int rm_build_optimize(const char *path, enum rm_build_dtype dtype, unsigned char **out,
    size_t *outlen, json_t **report, struct rm_err *err);
const char *rm_build_dtype_name(enum rm_build_dtype dtype);

#endif
