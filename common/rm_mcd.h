/*
 * Preflight model compatibility (spec 002, CMATCH-80xx): the model capability
 * descriptor (MCD) read from a GGUF file, a sidecar document or the model
 * catalog, the engine capability profile (ECP) of a worker, and the four
 * rules that say whether the model can run on that engine.
 *
 * Normalised MCD:
 *   {"model_id", "positional", "attention", "quant": [sorted, unique],
 *    "context_max", "vocab_size", "source": "gguf" | "sidecar" | "catalog"}
 * Normalised ECP:
 *   {"worker_id" (when known), "supports_positional": [...],
 *    "supports_attention": [...], "supports_quant": [...], "max_context",
 *    "vram_bytes" (when given)}
 * Quant names are compared lower-case, with ggml's "f16"/"f32"/"f64"
 * spelled "fp16"/"fp32"/"fp64" on both sides.
 */
#ifndef RM_MCD_H
#define RM_MCD_H

#include <jansson.h>

#include "rm_err.h"

/*
 * ref is one of:
 *  - a GGUF file (recognised by its magic, whatever its name): the MCD comes
 *    from its metadata. A sidecar "<ref>.mcd.json" or "<ref without
 *    .gguf>.mcd.json" beside it fills the fields the metadata lacks (an
 *    architecture missing from the positional table, a file without head
 *    counts); where both have a field, the GGUF metadata wins, since it
 *    describes the weights actually in the file. source stays "gguf".
 *  - a JSON or YAML document holding an MCD (llama-orch's shape; a
 *    "schema": "remotemedia.mcd/1" is allowed): source "sidecar".
 *  - "catalog:ID": the entry ID under "models:" of
 *    $REMOTEMEDIA_HOME/catalog.yaml, else of the shipped catalog.yaml
 *    (an entry in the user's catalog shadows a shipped one): source "catalog".
 * Returns a new MCD, or NULL with err filled: RM_EXIT_INVALID with err->field
 * the MCD field (or the GGUF element) and err->msg starting "invalid_mcd: ";
 * RM_EXIT_NOTFOUND (msg "not_found: ...") for a missing file or catalog id.
 */
json_t *rm_mcd_load(const char *ref, struct rm_err *err);

/*
 * Checks and normalises an MCD object (every field required). source is
 * stored as given. file is used in messages.
 */
json_t *rm_mcd_normalize(const json_t *doc, const char *source, const char *file,
    struct rm_err *err);

/*
 * Accepts llama-orch's ECP {"worker_id", "supports_positional",
 * "supports_attention", "supports_quant", "max_context", "vram_bytes"} or an
 * advert carrying those fields in its "engine" object (worker_id optional
 * there; the advert's id or worker_id is used). vram_bytes is optional.
 * Returns a new normalised ECP, or NULL with RM_EXIT_INVALID and a message
 * starting "invalid_ecp: ".
 */
json_t *rm_ecp_normalize(const json_t *doc, const char *file, struct rm_err *err);

/*
 * CMATCH-8030, in the order positional, attention, quant, context: an array
 * with one reason per failing rule (empty: compatible), each
 *   {"code", "path", "need", "have", "message"}
 * codes incompatible_positional (path model.positional), incompatible_attention
 * (model.attention), incompatible_quant (model.quant; need the model's list,
 * passes when any is supported), context_too_large (model.context_max; need
 * context_max, have max_context). Takes normalised documents.
 */
json_t *rm_mcd_check(const json_t *mcd, const json_t *ecp);

#endif
