/*
 * GGUF header reader, written from the format description (ggml's
 * docs/gguf.md): all integers little-endian;
 *   u32 magic "GGUF", u32 version (2 or 3), u64 tensor_count, u64 kv_count,
 *   kv_count x { string key, u32 value_type, value },
 *   tensor_count x { string name, u32 n_dims, u64 dims[n_dims],
 *                    u32 ggml_type, u64 offset },
 *   padding to general.alignment, tensor data.
 * A string is a u64 byte length and the bytes (no NUL). An array value is
 * u32 element type, u64 count, the elements. Version 1 used u32 counts and
 * lengths and is refused. We stop after the tensor infos: the data can be
 * many GiB and is never touched.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rm_gguf.h"

/* ggml's GGML_MAX_DIMS */
#define GGUF_MAX_DIMS 4

enum gguf_vtype {
	GV_UINT8 = 0, GV_INT8 = 1, GV_UINT16 = 2, GV_INT16 = 3, GV_UINT32 = 4,
	GV_INT32 = 5, GV_FLOAT32 = 6, GV_BOOL = 7, GV_STRING = 8, GV_ARRAY = 9,
	GV_UINT64 = 10, GV_INT64 = 11, GV_FLOAT64 = 12, GV_COUNT
};

/* Bytes of one value of each type; 0 for the variable-sized ones. */
static const unsigned char vtype_size[GV_COUNT] = {
	1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8
};
static const char *const vtype_name[GV_COUNT] = {
	"uint8", "int8", "uint16", "int16", "uint32", "int32", "float32", "bool",
	"string", "array", "uint64", "int64", "float64"
};

/*
 * ggml tensor type ids (enum ggml_type) and the quant names we report. Ids
 * 4 and 5 (q4_2, q4_3) were removed from ggml before GGUF existed; 31-33 and
 * 36-38 are the repacked q4_0/iq4_nl layouts older files may still carry.
 * Float types use the MCD spelling (fp32, fp16) rather than ggml's (f32).
 */
static const char *const ggml_types[] = {
	[0] = "fp32", [1] = "fp16", [2] = "q4_0", [3] = "q4_1",
	[6] = "q5_0", [7] = "q5_1", [8] = "q8_0", [9] = "q8_1",
	[10] = "q2_k", [11] = "q3_k", [12] = "q4_k", [13] = "q5_k", [14] = "q6_k",
	[15] = "q8_k", [16] = "iq2_xxs", [17] = "iq2_xs", [18] = "iq3_xxs",
	[19] = "iq1_s", [20] = "iq4_nl", [21] = "iq3_s", [22] = "iq2_s",
	[23] = "iq4_xs", [24] = "i8", [25] = "i16", [26] = "i32", [27] = "i64",
	[28] = "fp64", [29] = "iq1_m", [30] = "bf16", [31] = "q4_0_4_4",
	[32] = "q4_0_4_8", [33] = "q4_0_8_8", [34] = "tq1_0", [35] = "tq2_0",
	[36] = "iq4_nl_4_4", [37] = "iq4_nl_4_8", [38] = "iq4_nl_8_8",
	[39] = "mxfp4",
};

/*
 * general.file_type holds llama.cpp's llama_ftype: what most weights were
 * quantised to (LLAMA_FTYPE_MOSTLY_Q4_K_M -> "q4_k_m"). 5 and 6 were removed.
 */
static const char *const llama_ftypes[] = {
	[0] = "fp32", [1] = "fp16", [2] = "q4_0", [3] = "q4_1", [4] = "q4_1",
	[7] = "q8_0", [8] = "q5_0", [9] = "q5_1", [10] = "q2_k", [11] = "q3_k_s",
	[12] = "q3_k_m", [13] = "q3_k_l", [14] = "q4_k_s", [15] = "q4_k_m",
	[16] = "q5_k_s", [17] = "q5_k_m", [18] = "q6_k", [19] = "iq2_xxs",
	[20] = "iq2_xs", [21] = "q2_k_s", [22] = "iq3_xs", [23] = "iq3_xxs",
	[24] = "iq1_s", [25] = "iq4_nl", [26] = "iq3_s", [27] = "iq3_m",
	[28] = "iq2_s", [29] = "iq2_m", [30] = "iq4_xs", [31] = "iq1_m",
	[32] = "bf16", [33] = "q4_0_4_4", [34] = "q4_0_4_8", [35] = "q4_0_8_8",
	[36] = "tq1_0", [37] = "tq2_0", [38] = "mxfp4",
};

/*
 * general.architecture -> positional encoding. GGUF does not record the rope
 * flavour; llama.cpp derives it from the architecture (llama_rope_type), and
 * so do we:
 *   rope_llama  rotary embedding on adjacent pairs (LLaMA, GPT-J style)
 *   rope_neox   rotary embedding on the two halves (GPT-NeoX style)
 *   alibi       attention with linear biases, no position embedding
 *   learned     absolute learned position embeddings (GPT-2)
 * An architecture missing here makes the positional field unknown: a
 * sidecar .mcd.json beside the model then has to supply it.
 */
static const struct {
	const char *arch;
	const char *positional;
} arch_positional[] = {
	{ "llama", "rope_llama" }, { "llama4", "rope_llama" },
	{ "deci", "rope_llama" }, { "baichuan", "rope_llama" },
	{ "internlm2", "rope_llama" }, { "minicpm", "rope_llama" },
	{ "xverse", "rope_llama" }, { "command-r", "rope_llama" },
	{ "cohere2", "rope_llama" }, { "olmo", "rope_llama" },
	{ "deepseek", "rope_llama" }, { "deepseek2", "rope_llama" },
	{ "granite", "rope_llama" }, { "granitemoe", "rope_llama" },
	{ "arctic", "rope_llama" }, { "chatglm", "rope_llama" },

	{ "gptneox", "rope_neox" }, { "falcon", "rope_neox" },
	{ "phi2", "rope_neox" }, { "phi3", "rope_neox" },
	{ "qwen", "rope_neox" }, { "qwen2", "rope_neox" },
	{ "qwen2moe", "rope_neox" }, { "qwen3", "rope_neox" },
	{ "qwen3moe", "rope_neox" }, { "stablelm", "rope_neox" },
	{ "gemma", "rope_neox" }, { "gemma2", "rope_neox" },
	{ "gemma3", "rope_neox" }, { "starcoder2", "rope_neox" },
	{ "dbrx", "rope_neox" }, { "olmo2", "rope_neox" },
	{ "nemotron", "rope_neox" }, { "grok", "rope_neox" },

	{ "bloom", "alibi" }, { "mpt", "alibi" },
	{ "refact", "alibi" }, { "jais", "alibi" },

	{ "gpt2", "learned" }, { "starcoder", "learned" },
};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

const char *
rm_gguf_type_name(uint32_t type)
{
	return type < NELEM(ggml_types) ? ggml_types[type] : NULL;
}

const char *
rm_gguf_ftype_name(int64_t ftype)
{
	return ftype >= 0 && (uint64_t)ftype < NELEM(llama_ftypes) ? llama_ftypes[ftype] : NULL;
}

const char *
rm_gguf_arch_positional(const char *arch)
{
	size_t i;

	for (i = 0; i < NELEM(arch_positional); i++)
		if (strcmp(arch_positional[i].arch, arch) == 0)
			return arch_positional[i].positional;
	return NULL;
}

const char *
rm_gguf_attention(const struct rm_gguf *g)
{
	if (!g->has_heads)
		return NULL;
	if (!g->has_heads_kv || (g->heads_kv_min == g->heads_kv_max &&
	    g->heads_min == g->heads_max && g->heads_kv_max == g->heads_max))
		return "mha";
	if (g->heads_kv_max == 1)
		return "mqa";
	return "gqa";
}

/* ---- the cursor: every read is checked against the bytes left ---------- */

struct cur {
	const unsigned char *p;
	size_t len, off;
	const char *name;
	struct rm_err *err;
	char field[160];	/* the element being read, for messages */
};

static int
fail(struct cur *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int
fail(struct cur *c, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return rm_err_set(c->err, RM_EXIT_INVALID, c->name, c->field, "%s", msg);
}

static size_t
left(const struct cur *c)
{
	return c->len - c->off;
}

static int
need(struct cur *c, uint64_t n, const char *what)
{
	if (n > left(c))
		return fail(c, "truncated: %s needs %llu bytes at offset %zu, %zu left", what,
		    (unsigned long long)n, c->off, left(c));
	return 0;
}

static uint32_t
le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

static uint64_t
le64(const unsigned char *p)
{
	return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

static int
rd_u32(struct cur *c, uint32_t *v, const char *what)
{
	int r;

	if ((r = need(c, 4, what)) != 0)
		return r;
	*v = le32(c->p + c->off);
	c->off += 4;
	return 0;
}

static int
rd_u64(struct cur *c, uint64_t *v, const char *what)
{
	int r;

	if ((r = need(c, 8, what)) != 0)
		return r;
	*v = le64(c->p + c->off);
	c->off += 8;
	return 0;
}

/* A string is returned in place (not NUL-terminated). */
static int
rd_str(struct cur *c, const char **s, size_t *slen, const char *what)
{
	uint64_t n;
	int r;

	if ((r = rd_u64(c, &n, what)) != 0)
		return r;
	if (n > left(c))
		return fail(c, "%s length %llu at offset %zu exceeds the %zu bytes left", what,
		    (unsigned long long)n, c->off - 8, left(c));
	*s = (const char *)c->p + c->off;
	*slen = (size_t)n;
	c->off += (size_t)n;
	return 0;
}

/* A key for messages: printable ASCII only, cut at 100 bytes. */
static void
key_shown(char *buf, size_t size, const char *k, size_t klen)
{
	size_t i, n = 0;

	for (i = 0; i < klen && i < 100 && n + 1 < size; i++)
		buf[n++] = (k[i] >= 0x20 && k[i] < 0x7f) ? k[i] : '?';
	buf[n] = '\0';
}

static int
key_is(const char *k, size_t klen, const char *want)
{
	return strlen(want) == klen && memcmp(k, want, klen) == 0;
}

/* "<arch>.<suffix>": returns the suffix length and pointer, or NULL. */
static const char *
arch_key(const char *k, size_t klen, const char *arch, size_t *slen)
{
	size_t al = strlen(arch);

	if (al == 0 || klen <= al + 1 || memcmp(k, arch, al) != 0 || k[al] != '.')
		return NULL;
	*slen = klen - al - 1;
	return k + al + 1;
}

/* Skips one value of type t (arrays: elements of type et), validating sizes. */
static int
skip_value(struct cur *c, uint32_t t)
{
	const char *s;
	size_t sl;
	uint32_t et;
	uint64_t n, i;
	int r;

	if (t >= GV_COUNT)
		return fail(c, "unknown value type %u", t);
	if (vtype_size[t] != 0) {
		if ((r = need(c, vtype_size[t], vtype_name[t])) != 0)
			return r;
		c->off += vtype_size[t];
		return 0;
	}
	if (t == GV_STRING)
		return rd_str(c, &s, &sl, "string");
	if ((r = rd_u32(c, &et, "array element type")) != 0 ||
	    (r = rd_u64(c, &n, "array count")) != 0)
		return r;
	if (et >= GV_COUNT)
		return fail(c, "unknown array element type %u", et);
	if (et == GV_ARRAY)
		return fail(c, "nested arrays are not supported");
	if (et == GV_STRING) {
		/* each element needs at least its 8-byte length */
		if (n > left(c) / 8)
			return fail(c, "array count %llu of strings exceeds the %zu bytes left",
			    (unsigned long long)n, left(c));
		for (i = 0; i < n; i++)
			if ((r = rd_str(c, &s, &sl, "array string")) != 0)
				return r;
		return 0;
	}
	if (n > left(c) / vtype_size[et])
		return fail(c, "array count %llu of %s exceeds the %zu bytes left",
		    (unsigned long long)n, vtype_name[et], left(c));
	c->off += (size_t)n * vtype_size[et];
	return 0;
}

/* An integer of any width at p; -1 when negative (signed types). */
static int
int_at(const unsigned char *p, uint32_t t, uint64_t *v)
{
	switch (t) {
	case GV_UINT8: *v = p[0]; return 0;
	case GV_INT8: if ((int8_t)p[0] < 0) return -1; *v = p[0]; return 0;
	case GV_UINT16: *v = (uint64_t)p[0] | (uint64_t)p[1] << 8; return 0;
	case GV_INT16: if (p[1] & 0x80) return -1; *v = (uint64_t)p[0] | (uint64_t)p[1] << 8;
		return 0;
	case GV_UINT32: *v = le32(p); return 0;
	case GV_INT32: if (p[3] & 0x80) return -1; *v = le32(p); return 0;
	case GV_UINT64: *v = le64(p); return 0;
	case GV_INT64: if (p[7] & 0x80) return -1; *v = le64(p); return 0;
	default: return -2;
	}
}

static int
is_int_type(uint32_t t)
{
	return t < GV_COUNT && t != GV_FLOAT32 && t != GV_FLOAT64 && t != GV_BOOL &&
	    vtype_size[t] != 0;
}

/* A non-negative integer value at the cursor (already validated). */
static int
get_uint(struct cur *c, uint32_t t, uint64_t *v)
{
	int r = int_at(c->p + c->off, t, v);

	if (r == -2)
		return fail(c, "expected an integer, got a %s", t < GV_COUNT ? vtype_name[t] : "?");
	if (r == -1)
		return fail(c, "expected a non-negative integer, got a negative one");
	return 0;
}

/*
 * An integer or an array of integers (per-layer head counts): min and max of
 * the non-zero values. Zero marks a layer without attention.
 */
static int
get_uint_range(struct cur *c, uint32_t t, uint64_t *mn, uint64_t *mx, int *has)
{
	uint32_t et;
	uint64_t n, i, v;
	size_t at;
	int r;

	*has = 0;
	if (t != GV_ARRAY) {
		if ((r = get_uint(c, t, &v)) != 0)
			return r;
		if (v != 0) {
			*mn = *mx = v;
			*has = 1;
		}
		return 0;
	}
	et = le32(c->p + c->off);
	n = le64(c->p + c->off + 4);
	if (!is_int_type(et))
		return fail(c, "expected integers, got an array of %s",
		    et < GV_COUNT ? vtype_name[et] : "?");
	at = c->off + 12;
	for (i = 0; i < n; i++, at += vtype_size[et]) {
		if (int_at(c->p + at, et, &v) != 0)
			return fail(c, "expected non-negative integers, element %llu is negative",
			    (unsigned long long)i);
		if (v == 0)
			continue;
		if (!*has || v < *mn)
			*mn = v;
		if (!*has || v > *mx)
			*mx = v;
		*has = 1;
	}
	return 0;
}

static int
copy_str(struct cur *c, uint32_t t, char *buf, size_t size)
{
	size_t n;

	if (t != GV_STRING)
		return fail(c, "expected a string, got a %s", t < GV_COUNT ? vtype_name[t] : "?");
	n = (size_t)le64(c->p + c->off);
	if (n >= size)
		return fail(c, "string of %zu bytes is longer than the %zu allowed", n, size - 1);
	if (memchr(c->p + c->off + 8, '\0', n) != NULL)
		return fail(c, "string holds a NUL byte");
	memcpy(buf, c->p + c->off + 8, n);
	buf[n] = '\0';
	return 0;
}

/* Records the facts of one key; the value at the cursor is already validated. */
static int
take_kv(struct cur *c, struct rm_gguf *g, const char *k, size_t klen, uint32_t t)
{
	const char *sfx;
	size_t sl;
	uint64_t v, mn = 0, mx = 0;
	int has, r;

	if (key_is(k, klen, "general.name"))
		return copy_str(c, t, g->name, sizeof(g->name));
	if (key_is(k, klen, "general.file_type")) {
		if ((r = get_uint(c, t, &v)) != 0)
			return r;
		g->has_file_type = 1;
		g->file_type = v > INT64_MAX ? INT64_MAX : (int64_t)v;
		return 0;
	}
	if (key_is(k, klen, "tokenizer.ggml.tokens")) {
		if (t != GV_ARRAY || le32(c->p + c->off) != GV_STRING)
			return fail(c, "expected an array of strings");
		g->vocab_size = le64(c->p + c->off + 4);
		g->has_vocab = g->vocab_from_tokens = 1;
		return 0;
	}
	if ((sfx = arch_key(k, klen, g->arch, &sl)) == NULL)
		return 0;
	if (key_is(sfx, sl, "context_length")) {
		if ((r = get_uint(c, t, &g->context_length)) != 0)
			return r;
		g->has_context = 1;
	} else if (key_is(sfx, sl, "vocab_size")) {
		if ((r = get_uint(c, t, &v)) != 0)
			return r;
		if (!g->vocab_from_tokens) {
			g->vocab_size = v;
			g->has_vocab = 1;
		}
	} else if (key_is(sfx, sl, "attention.head_count")) {
		if ((r = get_uint_range(c, t, &mn, &mx, &has)) != 0)
			return r;
		g->has_heads = has;
		g->heads_min = mn;
		g->heads_max = mx;
	} else if (key_is(sfx, sl, "attention.head_count_kv")) {
		if ((r = get_uint_range(c, t, &mn, &mx, &has)) != 0)
			return r;
		g->has_heads_kv = has;
		g->heads_kv_min = mn;
		g->heads_kv_max = mx;
	} else if (sl > 5 && memcmp(sfx, "rope.", 5) == 0) {
		g->has_rope = 1;
		if (key_is(sfx, sl, "rope.dimension_count")) {
			if ((r = get_uint(c, t, &g->rope_dims)) != 0)
				return r;
			g->has_rope_dims = 1;
		} else if (key_is(sfx, sl, "rope.freq_base")) {
			union { uint32_t u; float f; } f32;
			union { uint64_t u; double d; } f64;

			if (t == GV_FLOAT32) {
				f32.u = le32(c->p + c->off);
				g->rope_freq_base = f32.f;
			} else if (t == GV_FLOAT64) {
				f64.u = le64(c->p + c->off);
				g->rope_freq_base = f64.d;
			} else
				return fail(c, "expected a float, got a %s", vtype_name[t]);
			g->has_rope_freq_base = 1;
		} else if (key_is(sfx, sl, "rope.scaling.type")) {
			return copy_str(c, t, g->rope_scaling, sizeof(g->rope_scaling));
		}
	}
	return 0;
}

/*
 * Walks the key/value pairs. Pass 0 validates every length and finds
 * general.architecture; pass 1 (same bytes, now known to be sound) takes
 * the keys named after the architecture, wherever they are.
 */
static int
walk_kvs(struct cur *c, struct rm_gguf *g, int pass)
{
	const char *k;
	size_t klen, vstart;
	uint64_t i;
	uint32_t t;
	char shown[128];
	int r;

	for (i = 0; i < g->kv_count; i++) {
		snprintf(c->field, sizeof(c->field), "gguf.kv[%llu]", (unsigned long long)i);
		if ((r = rd_str(c, &k, &klen, "key")) != 0)
			return r;
		key_shown(shown, sizeof(shown), k, klen);
		snprintf(c->field, sizeof(c->field), "gguf.kv.%s", shown);
		if ((r = rd_u32(c, &t, "value type")) != 0)
			return r;
		vstart = c->off;
		if (pass == 0) {
			if ((r = skip_value(c, t)) != 0)
				return r;
			if (key_is(k, klen, "general.architecture")) {
				size_t save = c->off;

				c->off = vstart;
				r = copy_str(c, t, g->arch, sizeof(g->arch));
				c->off = save;
				if (r != 0)
					return r;
			}
			continue;
		}
		if ((r = take_kv(c, g, k, klen, t)) != 0)
			return r;
		if ((r = skip_value(c, t)) != 0)
			return r;
	}
	return 0;
}

static int
walk_tensors(struct cur *c, struct rm_gguf *g)
{
	const char *nm;
	size_t nl;
	uint64_t i, dim, off;
	uint32_t nd, d, type;
	int r;

	for (i = 0; i < g->tensor_count; i++) {
		snprintf(c->field, sizeof(c->field), "gguf.tensors[%llu]", (unsigned long long)i);
		if ((r = rd_str(c, &nm, &nl, "tensor name")) != 0 ||
		    (r = rd_u32(c, &nd, "n_dims")) != 0)
			return r;
		if (nd == 0 || nd > GGUF_MAX_DIMS)
			return fail(c, "n_dims %u, expected 1 to %d", nd, GGUF_MAX_DIMS);
		for (d = 0; d < nd; d++) {
			if ((r = rd_u64(c, &dim, "dimension")) != 0)
				return r;
			if (dim > INT64_MAX)
				return fail(c, "dimension %u is negative", d);
		}
		if ((r = rd_u32(c, &type, "ggml type")) != 0 ||
		    (r = rd_u64(c, &off, "data offset")) != 0)
			return r;
		if (rm_gguf_type_name(type) == NULL)
			return fail(c, "unknown ggml type %u", type);
		g->tensor_types |= (uint64_t)1 << type;
		if (nd >= 2)
			g->weight_types |= (uint64_t)1 << type;
	}
	return 0;
}

int
rm_gguf_parse(const void *buf, size_t len, const char *name, struct rm_gguf *g,
    struct rm_err *err)
{
	struct cur c = { .p = buf, .len = len, .name = name, .err = err };
	size_t kv_start;
	uint32_t magic;
	int r;

	memset(g, 0, sizeof(*g));
	snprintf(c.field, sizeof(c.field), "gguf.magic");
	if (len < 4 || memcmp(buf, "GGUF", 4) != 0)
		return fail(&c, "not a GGUF file (expected the magic \"GGUF\")");
	(void)rd_u32(&c, &magic, "magic");
	snprintf(c.field, sizeof(c.field), "gguf.version");
	if ((r = rd_u32(&c, &g->version, "version")) != 0)
		return r;
	if (g->version == 0x02000000 || g->version == 0x03000000)
		return fail(&c, "big-endian GGUF files are not supported");
	if (g->version != 2 && g->version != 3)
		return fail(&c, "unsupported version %u, expected 2 or 3", g->version);
	snprintf(c.field, sizeof(c.field), "gguf.tensor_count");
	if ((r = rd_u64(&c, &g->tensor_count, "tensor_count")) != 0)
		return r;
	snprintf(c.field, sizeof(c.field), "gguf.kv_count");
	if ((r = rd_u64(&c, &g->kv_count, "kv_count")) != 0)
		return r;
	/* a pair takes at least 13 bytes (key length, type, one byte), a tensor
	 * info at least 32 (name length, n_dims, one dimension, type, offset) */
	if (g->kv_count > left(&c) / 13)
		return fail(&c, "truncated or corrupt: %llu pairs cannot fit in the %zu bytes left",
		    (unsigned long long)g->kv_count, left(&c));
	snprintf(c.field, sizeof(c.field), "gguf.tensor_count");
	if (g->tensor_count > left(&c) / 32)
		return fail(&c, "truncated or corrupt: %llu tensors cannot fit in the %zu bytes left",
		    (unsigned long long)g->tensor_count, left(&c));
	kv_start = c.off;
	if ((r = walk_kvs(&c, g, 0)) != 0)
		return r;
	if ((r = walk_tensors(&c, g)) != 0)
		return r;
	g->header_bytes = c.off;
	c.off = kv_start;
	if ((r = walk_kvs(&c, g, 1)) != 0)
		return r;
	return 0;
}

int
rm_gguf_sniff(const char *path)
{
	char m[4];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return 0;
	n = read(fd, m, sizeof(m));
	close(fd);
	return n == 4 && memcmp(m, "GGUF", 4) == 0;
}

int
rm_gguf_read(const char *path, struct rm_gguf *g, struct rm_err *err)
{
	struct stat st;
	void *map = NULL;
	int fd, r;

	memset(g, 0, sizeof(*g));
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return rm_err_set(err, errno == ENOENT ? RM_EXIT_NOTFOUND : RM_EXIT_INVALID,
		    path, NULL, "cannot open: %s", strerror(errno));
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return rm_err_set(err, RM_EXIT_INVALID, path, NULL, "not a regular file");
	}
	if (st.st_size == 0) {
		close(fd);
		return rm_gguf_parse("", 0, path, g, err);
	}
	if ((uint64_t)st.st_size > SIZE_MAX) {
		close(fd);
		return rm_err_set(err, RM_EXIT_INVALID, path, NULL, "file too large to map");
	}
	/* only the pages of the header are ever touched */
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (map == MAP_FAILED)
		return rm_err_set(err, RM_EXIT_INVALID, path, NULL, "cannot map: %s",
		    strerror(errno));
	r = rm_gguf_parse(map, (size_t)st.st_size, path, g, err);
	munmap(map, (size_t)st.st_size);
	return r;
}
