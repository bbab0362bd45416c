/*
 * GGUF model files (versions 2 and 3, little-endian): reads only the header
 * region (magic, counts, key/value metadata, tensor infos) and keeps the
 * facts a preflight check needs. The file is mapped read-only and scanned
 * in place; every length and count is checked against the bytes left before
 * it is used, nothing is copied except a few short strings into fixed
 * buffers, so a hostile file costs no more memory than a benign one.
 */
#ifndef RM_GGUF_H
#define RM_GGUF_H

#include <stddef.h>
#include <stdint.h>

#include "rm_err.h"

#define RM_GGUF_ARCH_MAX 64
#define RM_GGUF_NAME_MAX 512
#define RM_GGUF_TYPES 64	/* ggml type ids tracked in the bitmaps below */

struct rm_gguf {
	uint32_t version;
	uint64_t tensor_count, kv_count;
	size_t header_bytes;		/* end of the tensor infos */

	char arch[RM_GGUF_ARCH_MAX];	/* general.architecture, "" when absent */
	char name[RM_GGUF_NAME_MAX];	/* general.name, "" when absent */
	int has_file_type;
	int64_t file_type;		/* general.file_type (llama_ftype) */
	int has_context;
	uint64_t context_length;	/* <arch>.context_length */
	int has_heads, has_heads_kv;	/* head counts may be per-layer arrays */
	uint64_t heads_min, heads_max;	/* <arch>.attention.head_count */
	uint64_t heads_kv_min, heads_kv_max; /* <arch>.attention.head_count_kv */
	int has_vocab;
	uint64_t vocab_size;		/* tokenizer.ggml.tokens count, else <arch>.vocab_size */
	int vocab_from_tokens;
	/* <arch>.rope.* */
	int has_rope;			/* any <arch>.rope.* key present */
	int has_rope_dims;
	uint64_t rope_dims;		/* rope.dimension_count */
	int has_rope_freq_base;
	double rope_freq_base;		/* rope.freq_base */
	char rope_scaling[32];		/* rope.scaling.type, "" when absent */
	/* bit t set: some tensor has ggml type t; weight_types only counts
	 * tensors of two or more dimensions (1-d norms and biases are f32 in
	 * every quantisation, "except 1d tensors" in llama_ftype's words) */
	uint64_t tensor_types, weight_types;
};

/* Does the file start with the GGUF magic? 1 yes, 0 no (or unreadable). */
int rm_gguf_sniff(const char *path);
/* Reads the header of path. Errors: RM_EXIT_NOTFOUND, RM_EXIT_INVALID with
 * err->field naming the GGUF element ("gguf.kv.general.name"). */
int rm_gguf_read(const char *path, struct rm_gguf *g, struct rm_err *err);
/* The same from memory; name is used in messages. */
int rm_gguf_parse(const void *buf, size_t len, const char *name, struct rm_gguf *g,
    struct rm_err *err);

/* ggml type id -> quant name ("q4_0", "fp16", "bf16"), NULL when unknown. */
const char *rm_gguf_type_name(uint32_t type);
/* general.file_type (llama_ftype) -> quant name ("q4_k_m", "fp16"), NULL
 * when unknown. */
const char *rm_gguf_ftype_name(int64_t ftype);
/* general.architecture -> positional encoding ("rope_llama", "rope_neox",
 * "alibi", "learned"), NULL when the architecture is not in the table. */
const char *rm_gguf_arch_positional(const char *arch);
/* "mha", "mqa" or "gqa"; NULL when head_count is absent. */
const char *rm_gguf_attention(const struct rm_gguf *g);

#endif
