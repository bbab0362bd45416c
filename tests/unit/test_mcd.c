/* Unit tests of common/rm_gguf and common/rm_mcd: GGUF headers, MCD sources,
 * ECP shapes and the preflight rules of spec 002. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rm_doc.h"
#include "rm_embedded.h"
#include "rm_fs.h"
#include "rm_gguf.h"
#include "rm_mcd.h"
#include "tap.h"

static char src[1024], tmp[256];

static const char *
fx(const char *rel)
{
	static char buf[8][1400];
	static int i;

	i = (i + 1) % 8;
	snprintf(buf[i], sizeof(buf[i]), "%s/tests/fixtures/%s", src, rel);
	return buf[i];
}

static int
is_json(const json_t *got, const char *want, const char *name)
{
	json_error_t je;
	json_t *w = json_loads(want, 0, &je);
	int same = got != NULL && w != NULL && json_equal(got, w);
	char *g;

	ok(same, "%s", name);
	if (!same) {
		g = got ? json_dumps(got, JSON_SORT_KEYS | JSON_COMPACT) : NULL;
		printf("#   got  %s\n#   want %s\n", g ? g : "(null)", want);
		free(g);
	}
	json_decref(w);
	return same;
}

static json_t *
js(const char *text)
{
	json_error_t je;
	json_t *v = json_loads(text, JSON_DECODE_ANY, &je);

	if (v == NULL)
		printf("# bad test JSON: %s\n", je.text);
	return v;
}

static void
write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (f != NULL) {
		fputs(text, f);
		fclose(f);
	}
}

/* ---- GGUF fixtures to exact MCDs -------------------------------------- */

static void
expect_mcd(const char *rel, const char *want)
{
	struct rm_err err;
	json_t *m = rm_mcd_load(fx(rel), &err);

	if (m == NULL)
		printf("#   %s: %s: %s\n", err.file, err.field, err.msg);
	is_json(m, want, rel);
	json_decref(m);
}

static void
test_gguf_models(void)
{
	expect_mcd("gguf/llama-gqa-q4_0.gguf",
	    "{\"model_id\":\"Tiny Llama GQA\",\"positional\":\"rope_llama\",\"attention\":\"gqa\","
	    "\"quant\":[\"q4_0\",\"q6_k\"],\"context_max\":4096,\"vocab_size\":16,\"source\":\"gguf\"}");
	expect_mcd("gguf/falcon-mqa-q8_0.gguf",
	    "{\"model_id\":\"Tiny Falcon MQA\",\"positional\":\"rope_neox\",\"attention\":\"mqa\","
	    "\"quant\":[\"q8_0\"],\"context_max\":2048,\"vocab_size\":65024,\"source\":\"gguf\"}");
	expect_mcd("gguf/falcon-mqa.weights",
	    "{\"model_id\":\"Tiny Falcon MQA\",\"positional\":\"rope_neox\",\"attention\":\"mqa\","
	    "\"quant\":[\"q8_0\"],\"context_max\":2048,\"vocab_size\":65024,\"source\":\"gguf\"}");
	/* no general.name: the file name; tokens counted over llama.vocab_size */
	expect_mcd("gguf/llama-mha-f16.gguf",
	    "{\"model_id\":\"llama-mha-f16\",\"positional\":\"rope_llama\",\"attention\":\"mha\","
	    "\"quant\":[\"fp16\"],\"context_max\":2048,\"vocab_size\":8,\"source\":\"gguf\"}");
	/* q4_k_m from file_type, q4_k and q6_k from the weight tensors; f32 bias not listed */
	expect_mcd("gguf/qwen2-neox-q4_k_m.gguf",
	    "{\"model_id\":\"Tiny Qwen2\",\"positional\":\"rope_neox\",\"attention\":\"gqa\","
	    "\"quant\":[\"q4_k\",\"q4_k_m\",\"q6_k\"],\"context_max\":32768,\"vocab_size\":12,"
	    "\"source\":\"gguf\"}");
	expect_mcd("gguf/bloom-alibi-bf16.gguf",
	    "{\"model_id\":\"Tiny Bloom\",\"positional\":\"alibi\",\"attention\":\"mha\","
	    "\"quant\":[\"bf16\"],\"context_max\":2048,\"vocab_size\":250880,\"source\":\"gguf\"}");
	expect_mcd("gguf/llama-layers-gqa.gguf",
	    "{\"model_id\":\"Tiny Layered\",\"positional\":\"rope_llama\",\"attention\":\"gqa\","
	    "\"quant\":[\"q8_0\"],\"context_max\":1024,\"vocab_size\":100,\"source\":\"gguf\"}");
	/* sidecar gives positional; its attention and model_id lose to the GGUF */
	expect_mcd("gguf/rwkv-sidecar.gguf",
	    "{\"model_id\":\"Tiny RWKV\",\"positional\":\"none\",\"attention\":\"mha\","
	    "\"quant\":[\"fp16\"],\"context_max\":1048576,\"vocab_size\":65536,\"source\":\"gguf\"}");
	/* <name>.mcd.json fills model_id, attention, context_max; its quant loses */
	expect_mcd("gguf/partial-llama.gguf",
	    "{\"model_id\":\"example/partial-llama\",\"positional\":\"rope_llama\","
	    "\"attention\":\"mha\",\"quant\":[\"q4_0\"],\"context_max\":2048,"
	    "\"vocab_size\":50280,\"source\":\"gguf\"}");
}

static void
test_gguf_header(void)
{
	struct rm_gguf g;
	struct rm_err err;
	struct stat st;

	rm_err_clear(&err);
	ok(rm_gguf_read(fx("gguf/llama-gqa-q4_0.gguf"), &g, &err) == 0, "llama fixture reads");
	ok(g.version == 3 && g.tensor_count == 4 && g.kv_count == 24,
	    "version 3, 4 tensors, 24 pairs (%u, %llu, %llu)", g.version,
	    (unsigned long long)g.tensor_count, (unsigned long long)g.kv_count);
	is_str(g.arch, "llama", "architecture");
	ok(g.has_rope && g.has_rope_dims && g.rope_dims == 2, "rope.dimension_count");
	ok(g.has_rope_freq_base && g.rope_freq_base == 500000.0, "rope.freq_base (float32)");
	ok(g.heads_max == 32 && g.heads_kv_max == 8, "head counts 32 and 8");
	ok(g.has_file_type && g.file_type == 2, "file_type 2 (MOSTLY_Q4_0)");
	ok(stat(fx("gguf/llama-gqa-q4_0.gguf"), &st) == 0 && g.header_bytes > 100 &&
	    g.header_bytes < (size_t)st.st_size, "header ends before the data (%zu)",
	    g.header_bytes);
	ok(rm_gguf_read(fx("gguf/falcon-mqa-q8_0.gguf"), &g, &err) == 0 && g.version == 2,
	    "version 2 file reads");
	ok(rm_gguf_read(fx("gguf/llama-layers-gqa.gguf"), &g, &err) == 0 &&
	    g.heads_kv_min == 2 && g.heads_kv_max == 4, "per-layer head_count_kv: zero skipped");

	is_str(rm_gguf_type_name(2), "q4_0", "ggml type 2 is q4_0");
	is_str(rm_gguf_type_name(8), "q8_0", "ggml type 8 is q8_0");
	is_str(rm_gguf_type_name(1), "fp16", "ggml type 1 is fp16");
	is_str(rm_gguf_type_name(30), "bf16", "ggml type 30 is bf16");
	is_str(rm_gguf_type_name(14), "q6_k", "ggml type 14 is q6_k");
	ok(rm_gguf_type_name(4) == NULL && rm_gguf_type_name(1000) == NULL,
	    "removed and unknown ggml types have no name");
	is_str(rm_gguf_ftype_name(7), "q8_0", "llama_ftype 7 is q8_0");
	is_str(rm_gguf_ftype_name(15), "q4_k_m", "llama_ftype 15 is q4_k_m");
	is_str(rm_gguf_ftype_name(32), "bf16", "llama_ftype 32 is bf16");
	ok(rm_gguf_ftype_name(-1) == NULL && rm_gguf_ftype_name(5) == NULL,
	    "unknown file types have no name");
	is_str(rm_gguf_arch_positional("falcon"), "rope_neox", "falcon is rope_neox");
	is_str(rm_gguf_arch_positional("mpt"), "alibi", "mpt is alibi");
	ok(rm_gguf_arch_positional("rwkv6") == NULL, "rwkv6 not in the table");
}

/* ---- hostile files ---------------------------------------------------- */

static void
test_hostile(void)
{
	static const struct { const char *file, *field, *says; } cases[] = {
		{ "truncated.gguf", "gguf.kv", "truncated" },
		{ "empty.gguf", "gguf.magic", "not a GGUF" },
		{ "bad-magic.gguf", "gguf.magic", "not a GGUF" },
		{ "version-99.gguf", "gguf.version", "unsupported version 99" },
		{ "version-1.gguf", "gguf.version", "unsupported version 1" },
		{ "big-endian.gguf", "gguf.version", "big-endian" },
		{ "string-2e62.gguf", "gguf.kv[0]", "4611686018427387904" },
		{ "value-string-2e62.gguf", "gguf.kv.general.name", "4611686018427387904" },
		{ "array-2e60.gguf", "gguf.kv.test.big", "1152921504606846976" },
		{ "array-strings-2e60.gguf", "gguf.kv.tokenizer.ggml.tokens", "1152921504606846976" },
		{ "tensors-2e40.gguf", "gguf.tensor_count", "1099511627776 tensors" },
		{ "kvs-2e40.gguf", "gguf.kv_count", "1099511627776 pairs" },
		{ "ndims-1000.gguf", "gguf.tensors[0]", "n_dims 1000" },
		{ "value-type-13.gguf", "gguf.kv.x", "unknown value type 13" },
		{ "array-type-42.gguf", "gguf.kv.x", "unknown array element type 42" },
		{ "nested-array.gguf", "gguf.kv.x", "nested" },
		{ "ggml-type-200.gguf", "gguf.tensors[0]", "unknown ggml type 200" },
		{ "kv-count-short.gguf", "gguf.kv.", "truncated" },
	};
	struct rm_gguf g;
	struct rm_err err;
	char rel[256];
	json_t *m;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(rel, sizeof(rel), "gguf/hostile/%s", cases[i].file);
		rm_err_clear(&err);
		ok(rm_gguf_read(fx(rel), &g, &err) == -RM_EXIT_INVALID &&
		    err.code == RM_EXIT_INVALID, "%s: reader refuses it", cases[i].file);
		ok(strncmp(err.field, cases[i].field, strlen(cases[i].field)) == 0 &&
		    strstr(err.msg, cases[i].says) != NULL, "%s: %s: %s", cases[i].file,
		    err.field, err.msg);
		m = rm_mcd_load(fx(rel), &err);
		ok(m == NULL && err.code == RM_EXIT_INVALID &&
		    strncmp(err.msg, "invalid_mcd: ", 13) == 0,
		    "%s: rm_mcd_load says invalid_mcd (%s)", cases[i].file, err.msg);
		json_decref(m);
	}
}

/*
 * Every prefix of a real header is refused until the tensor infos are
 * complete, and a byte set to 0xff anywhere in the header never crashes
 * (exact-size heap copies, so ASan sees any read past the end).
 */
static void
test_truncations(void)
{
	struct rm_gguf g, full;
	struct rm_err err;
	char *text = NULL;
	unsigned char *copy;
	size_t len = 0, n, bad = 0, flips = 0;

	if (rm_read_file(fx("gguf/llama-gqa-q4_0.gguf"), 1 << 20, &text, &len, &err) != 0 ||
	    rm_gguf_parse(text, len, "full", &full, &err) != 0) {
		ok(0, "read the llama fixture");
		free(text);
		return;
	}
	for (n = 0; n < len; n++) {
		copy = malloc(n ? n : 1);
		memcpy(copy, text, n);
		if ((rm_gguf_parse(copy, n, "prefix", &g, &err) == 0) != (n >= full.header_bytes))
			bad++;
		free(copy);
	}
	ok(bad == 0, "each of %zu prefixes refused exactly when shorter than the header "
	    "(%zu wrong)", len, bad);
	for (n = 0; n < full.header_bytes; n++) {
		copy = malloc(len);
		memcpy(copy, text, len);
		copy[n] = 0xff;
		if (rm_gguf_parse(copy, len, "flip", &g, &err) != 0)
			flips++;
		free(copy);
	}
	ok(flips > 0, "0xff at each of %zu header bytes: no crash, %zu refused",
	    full.header_bytes, flips);
	free(text);
}

/* ---- sidecars and documents ------------------------------------------ */

static void
test_documents(void)
{
	struct rm_err err;
	json_t *m, *d;
	char path[400];

	m = rm_mcd_load(fx("mcd/llama-3.1-8b.mcd.json"), &err);
	is_json(m, "{\"model_id\":\"meta-llama/Llama-3.1-8B\",\"positional\":\"rope_llama\","
	    "\"attention\":\"gqa\",\"quant\":[\"q4_0\",\"q8_0\"],\"context_max\":8192,"
	    "\"vocab_size\":128256,\"source\":\"sidecar\"}", "spec example sidecar");
	json_decref(m);
	m = rm_mcd_load(fx("mcd/neox-model.mcd.yaml"), &err);
	is_json(m, "{\"model_id\":\"example/neox-model\",\"positional\":\"rope_neox\","
	    "\"attention\":\"mqa\",\"quant\":[\"q4_k_m\"],\"context_max\":32768,"
	    "\"vocab_size\":50304,\"source\":\"sidecar\"}", "YAML MCD, quant as one string");
	json_decref(m);

	m = rm_mcd_load(fx("gguf/rwkv-nosidecar.gguf"), &err);
	ok(m == NULL && err.code == RM_EXIT_INVALID && strcmp(err.field, "positional") == 0 &&
	    strncmp(err.msg, "invalid_mcd: ", 13) == 0 && strstr(err.msg, "rwkv6") != NULL,
	    "unknown architecture without sidecar: positional (%s)", err.msg);

	{
		char gg[400], side[420], *bytes = NULL;
		size_t blen = 0;

		snprintf(gg, sizeof(gg), "%s/copy.gguf", tmp);
		snprintf(side, sizeof(side), "%s/copy.mcd.json", tmp);
		if (rm_read_file(fx("gguf/llama-mha-f16.gguf"), 1 << 20, &bytes, &blen, &err) == 0)
			rm_write_atomic(gg, bytes, blen, 0644, &err);
		free(bytes);
		write_text(side, "{\"model_id\": 7}");
		m = rm_mcd_load(gg, &err);
		ok(m == NULL && err.code == RM_EXIT_INVALID && strcmp(err.file, side) == 0 &&
		    strcmp(err.field, "model_id") == 0 && strncmp(err.msg, "invalid_mcd: ", 13) == 0,
		    "a bad sidecar beside a GGUF is an error naming the sidecar (%s)", err.msg);
		write_text(side, "{\"model_id\": \"acme/copy\"}");
		m = rm_mcd_load(gg, &err);
		ok(m != NULL && strcmp(json_string_value(json_object_get(m, "model_id")),
		    "acme/copy") == 0, "sidecar model_id used when the GGUF has no general.name");
		json_decref(m);
		unlink(side);
		unlink(gg);
	}

	m = rm_mcd_load(fx("gguf/no-such-model.gguf"), &err);
	ok(m == NULL && err.code == RM_EXIT_NOTFOUND && strncmp(err.msg, "not_found: ", 11) == 0,
	    "missing file: not found (%s)", err.msg);

	snprintf(path, sizeof(path), "%s/bad.mcd.json", tmp);
	write_text(path, "{\"model_id\":\"x\",\"positional\":\"rope_llama\",\"attention\":\"gqa\","
	    "\"quant\":[\"q4_0\"],\"context_max\":\"8192\",\"vocab_size\":1}");
	m = rm_mcd_load(path, &err);
	ok(m == NULL && err.code == RM_EXIT_INVALID && strcmp(err.field, "context_max") == 0 &&
	    strcmp(err.file, path) == 0 &&
	    strcmp(err.msg, "invalid_mcd: expected a positive integer, got \"8192\"") == 0,
	    "string context_max in a file: %s", err.msg);
	write_text(path, "{\"model_id\":\"x\",\"positional\":\"rope_llama\",");
	m = rm_mcd_load(path, &err);
	ok(m == NULL && err.code == RM_EXIT_INVALID && strncmp(err.msg, "invalid_mcd: ", 13) == 0,
	    "broken JSON: invalid_mcd (%s)", err.msg);

#define BAD(doc, fld, frag) do { \
	d = js(doc); \
	rm_err_clear(&err); \
	m = rm_mcd_normalize(d, "sidecar", "t.json", &err); \
	ok(m == NULL && err.code == RM_EXIT_INVALID && strcmp(err.field, fld) == 0 && \
	    strncmp(err.msg, "invalid_mcd: ", 13) == 0 && strstr(err.msg, frag) != NULL, \
	    "MCD refused at %s: %s", fld, err.msg); \
	json_decref(m); json_decref(d); \
} while (0)
#define MCD_REST "\"model_id\":\"x\",\"attention\":\"gqa\",\"context_max\":1,\"vocab_size\":1"
	BAD("{" MCD_REST ",\"positional\":5,\"quant\":[\"q4_0\"]}", "positional", "got 5");
	BAD("{" MCD_REST ",\"positional\":\"\",\"quant\":[\"q4_0\"]}", "positional", "non-empty");
	BAD("{" MCD_REST ",\"positional\":\"a\",\"quant\":[]}", "quant", "list");
	BAD("{" MCD_REST ",\"positional\":\"a\",\"quant\":[\"q4_0\",1]}", "quant[1]", "got 1");
	BAD("{" MCD_REST ",\"positional\":\"a\"}", "quant", "missing");
	BAD("{\"model_id\":\"x\",\"attention\":\"gqa\",\"context_max\":-5,\"vocab_size\":1,"
	    "\"positional\":\"a\",\"quant\":[\"q4_0\"]}", "context_max", "got -5");
	BAD("{\"model_id\":\"x\",\"attention\":\"gqa\",\"context_max\":5,\"vocab_size\":1.5,"
	    "\"positional\":\"a\",\"quant\":[\"q4_0\"]}", "vocab_size", "positive integer");
	BAD("{\"schema\":\"remotemedia.mcd/2\"," MCD_REST ",\"positional\":\"a\","
	    "\"quant\":[\"q4_0\"]}", "schema", "version mismatch");
	BAD("[1]", "", "expected an object");

	d = js("{\"model_id\":\"x\",\"attention\":\"gqa\",\"context_max\":5,\"vocab_size\":1,"
	    "\"positional\":\"a\",\"quant\":[\"Q8_0\",\"F16\",\"q8_0\"],\"extra\":1}");
	m = rm_mcd_normalize(d, "sidecar", "t.json", &err);
	is_json(json_object_get(m, "quant"), "[\"fp16\",\"q8_0\"]",
	    "quant lower-cased, f16 spelled fp16, sorted, unique; unknown field kept out");
	ok(m != NULL && json_object_get(m, "extra") == NULL, "unknown field not copied");
	json_decref(m);
	setenv("REMOTEMEDIA_ENV", "production", 1);
	m = rm_mcd_normalize(d, "sidecar", "t.json", &err);
	ok(m == NULL && strcmp(err.field, "extra") == 0, "production: unknown field refused");
	setenv("REMOTEMEDIA_ENV", "development", 1);
	json_decref(m);
	json_decref(d);
}

/* ---- catalog ---------------------------------------------------------- */

static void
test_catalog(void)
{
	struct rm_err err;
	char path[400];
	json_t *m;

	m = rm_mcd_load("catalog:meta-llama/Llama-3.1-8B", &err);
	if (m == NULL)
		printf("#   %s: %s: %s\n", err.file, err.field, err.msg);
	is_json(m, "{\"model_id\":\"meta-llama/Llama-3.1-8B\",\"positional\":\"rope_llama\","
	    "\"attention\":\"gqa\",\"quant\":[\"q4_0\",\"q8_0\"],\"context_max\":8192,"
	    "\"vocab_size\":128256,\"source\":\"catalog\"}", "shipped catalog: spec example");
	json_decref(m);
	m = rm_mcd_load("catalog:tiiuae/falcon-7b", &err);
	ok(m && strcmp(json_string_value(json_object_get(m, "attention")), "mqa") == 0 &&
	    strcmp(json_string_value(json_object_get(m, "positional")), "rope_neox") == 0,
	    "shipped catalog: falcon-7b is rope_neox, mqa");
	json_decref(m);
	m = rm_mcd_load("catalog:mosaicml/mpt-7b", &err);
	ok(m && strcmp(json_string_value(json_object_get(m, "positional")), "alibi") == 0,
	    "shipped catalog: mpt-7b is alibi");
	json_decref(m);
	{
		const char *emb = rm_embedded_get("catalog.yaml");
		char share[1200];
		json_t *a, *b;

		snprintf(share, sizeof(share), "%s/share/remotemedia/catalog.yaml", src);
		a = emb ? rm_doc_parse(emb, strlen(emb), "embedded", 1, &err) : NULL;
		b = rm_doc_load(share, &err);
		ok(a != NULL && b != NULL && json_equal(a, b) &&
		    json_object_size(json_object_get(a, "models")) >= 3,
		    "catalog.yaml is compiled in, same as share/");
		json_decref(a);
		json_decref(b);
	}
	m = rm_mcd_load("catalog:no/such-model", &err);
	ok(m == NULL && err.code == RM_EXIT_NOTFOUND && strncmp(err.msg, "not_found: ", 11) == 0,
	    "unknown catalog id: not found (%s)", err.msg);

	snprintf(path, sizeof(path), "%s/catalog.yaml", tmp);
	write_text(path, "schema: remotemedia.catalog/1\nmodels:\n"
	    "  meta-llama/Llama-3.1-8B:\n    positional: rope_llama\n    attention: gqa\n"
	    "    quant: [q4_0]\n    context_max: 4096\n    vocab_size: 128256\n"
	    "  local/model:\n    model_id: acme/local\n    positional: alibi\n"
	    "    attention: mha\n    quant: [fp16]\n    context_max: 1024\n    vocab_size: 10\n"
	    "  local/bad:\n    positional: alibi\n    attention: mha\n    quant: [fp16]\n"
	    "    context_max: big\n    vocab_size: 10\n");
	m = rm_mcd_load("catalog:meta-llama/Llama-3.1-8B", &err);
	ok(m && json_integer_value(json_object_get(m, "context_max")) == 4096,
	    "user catalog shadows the shipped entry");
	json_decref(m);
	m = rm_mcd_load("catalog:local/model", &err);
	is_json(m, "{\"model_id\":\"acme/local\",\"positional\":\"alibi\",\"attention\":\"mha\","
	    "\"quant\":[\"fp16\"],\"context_max\":1024,\"vocab_size\":10,\"source\":\"catalog\"}",
	    "user catalog entry with its own model_id");
	json_decref(m);
	m = rm_mcd_load("catalog:tiiuae/falcon-7b", &err);
	ok(m != NULL, "ids only in the shipped catalog are still found");
	json_decref(m);
	m = rm_mcd_load("catalog:local/bad", &err);
	ok(m == NULL && err.code == RM_EXIT_INVALID &&
	    strcmp(err.field, "models.local/bad.context_max") == 0 && strcmp(err.file, path) == 0,
	    "bad user entry: file and field named (%s: %s)", err.field, err.msg);
	write_text(path, "schema: remotemedia.catalog/2\nmodels: {}\n");
	m = rm_mcd_load("catalog:local/model", &err);
	ok(m == NULL && err.code == RM_EXIT_INVALID && strcmp(err.field, "schema") == 0,
	    "catalog of another major version refused (%s)", err.msg);
	unlink(path);
}

/* ---- ECP -------------------------------------------------------------- */

static void
test_ecp(void)
{
	struct rm_err err;
	json_t *d, *e;

	d = rm_doc_load(fx("mcd/gpu-0-worker.ecp.json"), &err);
	e = rm_ecp_normalize(d, "gpu-0-worker.ecp.json", &err);
	ok(e != NULL && json_equal(e, d), "spec example ECP normalises to itself");
	json_decref(d);
	json_decref(e);

	d = rm_doc_load(fx("mcd/advert-engine.json"), &err);
	e = rm_ecp_normalize(d, "advert-engine.json", &err);
	is_json(e, "{\"worker_id\":\"gpu1\",\"supports_positional\":[\"rope_llama\",\"alibi\"],"
	    "\"supports_attention\":[\"mha\"],\"supports_quant\":[\"fp16\",\"q8_0\"],"
	    "\"max_context\":4096}", "advert engine object: id as worker_id, quant normalised");
	json_decref(d);
	json_decref(e);

#define BADE(doc, fld, frag) do { \
	d = js(doc); \
	rm_err_clear(&err); \
	e = rm_ecp_normalize(d, "e.json", &err); \
	ok(e == NULL && err.code == RM_EXIT_INVALID && strcmp(err.field, fld) == 0 && \
	    strncmp(err.msg, "invalid_ecp: ", 13) == 0 && strstr(err.msg, frag) != NULL, \
	    "ECP refused at %s: %s", fld, err.msg); \
	json_decref(e); json_decref(d); \
} while (0)
#define LISTS "\"supports_positional\":[\"rope_llama\"],\"supports_attention\":[\"mha\"]"
	BADE("{\"worker_id\":\"w\"," LISTS ",\"supports_quant\":\"q4_0\",\"max_context\":1}",
	    "supports_quant", "got \"q4_0\"");
	BADE("{\"worker_id\":\"w\",\"supports_positional\":[\"a\"],\"supports_attention\":[1],"
	    "\"supports_quant\":[],\"max_context\":1}", "supports_attention[0]", "got 1");
	BADE("{\"worker_id\":\"w\"," LISTS ",\"supports_quant\":[],\"max_context\":\"16k\"}",
	    "max_context", "got \"16k\"");
	BADE("{\"worker_id\":\"w\"," LISTS ",\"supports_quant\":[],\"max_context\":0}",
	    "max_context", "positive");
	BADE("{\"worker_id\":\"w\"," LISTS ",\"supports_quant\":[],\"max_context\":9,"
	    "\"vram_bytes\":-1}", "vram_bytes", "non-negative");
	BADE("{\"worker_id\":\"w\"," LISTS ",\"supports_quant\":[],\"max_context\":9,"
	    "\"vram_bytes\":\"24GB\"}", "vram_bytes", "got \"24GB\"");
	BADE("{" LISTS ",\"supports_quant\":[],\"max_context\":9}", "worker_id", "missing");
	BADE("{\"worker_id\":7," LISTS ",\"supports_quant\":[],\"max_context\":9}",
	    "worker_id", "got 7");
	BADE("{\"worker_id\":\"w\"," LISTS ",\"max_context\":9}", "supports_quant", "missing");
	BADE("{\"id\":\"a\",\"engine\":\"x\"}", "engine", "expected an object");
	BADE("{\"id\":\"a\",\"engine\":{\"supports_attention\":[],\"supports_quant\":[],"
	    "\"max_context\":1}}", "engine.supports_positional", "missing");
	BADE("\"ecp\"", "", "expected an object");
	e = rm_ecp_normalize(NULL, "e.json", &err);
	ok(e == NULL && err.code == RM_EXIT_INVALID, "no document: invalid_ecp, no crash");
	e = rm_mcd_normalize(NULL, "sidecar", "m.json", &err);
	ok(e == NULL && err.code == RM_EXIT_INVALID, "no document: invalid_mcd, no crash");
}

/* ---- the rules -------------------------------------------------------- */

static json_t *spec_ecp;

static json_t *
check(const char *mcd_text)
{
	json_t *m = js(mcd_text), *r;
	struct rm_err err;
	json_t *n = rm_mcd_normalize(m, "sidecar", "t", &err);

	r = n ? rm_mcd_check(n, spec_ecp) : NULL;
	json_decref(m);
	json_decref(n);
	return r;
}

#define MCD(pos, att, quant, ctx) "{\"model_id\":\"m\",\"positional\":\"" pos "\"," \
	"\"attention\":\"" att "\",\"quant\":" quant ",\"context_max\":" ctx ",\"vocab_size\":10}"

static void
test_rules(void)
{
	struct rm_err err;
	json_t *r, *m, *ecp;
	size_t i;

	spec_ecp = rm_doc_load(fx("mcd/gpu-0-worker.ecp.json"), &err);

	r = check(MCD("rope_llama", "gqa", "[\"q4_0\",\"q8_0\"]", "8192"));
	is_json(r, "[]", "spec MCD on spec ECP: compatible");
	json_decref(r);

	/* CMATCH-8031's example: the exact reason */
	ecp = js("{\"worker_id\":\"w\",\"supports_positional\":[\"rope_llama\",\"alibi\"],"
	    "\"supports_attention\":[\"mha\",\"gqa\",\"mqa\"],\"supports_quant\":[\"q4_0\"],"
	    "\"max_context\":16384}");
	m = js(MCD("rope_neox", "gqa", "[\"q4_0\"]", "8192"));
	r = rm_mcd_check(m, ecp);
	is_json(r, "[{\"code\":\"incompatible_positional\",\"path\":\"model.positional\","
	    "\"need\":\"rope_neox\",\"have\":[\"rope_llama\",\"alibi\"],\"message\":"
	    "\"positional encoding rope_neox not supported (supported: rope_llama, alibi)\"}]",
	    "rope_neox on a rope_llama/alibi engine: incompatible_positional");
	json_decref(r);
	json_decref(m);
	json_decref(ecp);

	r = check(MCD("rope_llama", "sliding", "[\"q4_0\"]", "8192"));
	is_json(r, "[{\"code\":\"incompatible_attention\",\"path\":\"model.attention\","
	    "\"need\":\"sliding\",\"have\":[\"mha\",\"gqa\",\"mqa\"],\"message\":"
	    "\"attention sliding not supported (supported: mha, gqa, mqa)\"}]",
	    "unknown attention: incompatible_attention");
	json_decref(r);

	r = check(MCD("alibi", "mqa", "[\"q4_k_m\",\"q6_k\"]", "2048"));
	is_json(r, "[{\"code\":\"incompatible_quant\",\"path\":\"model.quant\","
	    "\"need\":[\"q4_k_m\",\"q6_k\"],\"have\":[\"q4_0\",\"q8_0\",\"fp16\"],\"message\":"
	    "\"quantization q4_k_m, q6_k not supported (supported: q4_0, q8_0, fp16)\"}]",
	    "no model quant supported: incompatible_quant with both lists");
	json_decref(r);
	r = check(MCD("alibi", "mqa", "[\"q4_k_m\",\"F16\"]", "2048"));
	is_json(r, "[]", "quant passes when any one is supported (F16 as fp16)");
	json_decref(r);

	r = check(MCD("rope_neox", "mha", "[\"fp16\"]", "32768"));
	is_json(r, "[{\"code\":\"context_too_large\",\"path\":\"model.context_max\","
	    "\"need\":32768,\"have\":16384,\"message\":"
	    "\"context 32768 exceeds the engine maximum 16384\"}]",
	    "32768 context on a 16384 engine: context_too_large");
	json_decref(r);
	r = check(MCD("rope_neox", "mha", "[\"fp16\"]", "16384"));
	is_json(r, "[]", "context equal to max_context passes");
	json_decref(r);

	r = check(MCD("rope_xpos", "mla", "[\"q2_k\"]", "65536"));
	ok(json_array_size(r) == 4, "all four rules fail together");
	{
		static const char *const order[] = { "incompatible_positional",
		    "incompatible_attention", "incompatible_quant", "context_too_large" };

		for (i = 0; i < 4; i++)
			is_str(json_string_value(json_object_get(json_array_get(r, i), "code")),
			    order[i], "reason %zu in rule order", i);
	}
	json_decref(r);

	ecp = js("{\"worker_id\":\"w\",\"supports_positional\":[],\"supports_attention\":[],"
	    "\"supports_quant\":[],\"max_context\":1}");
	m = js(MCD("alibi", "mha", "[\"fp16\"]", "1"));
	r = rm_mcd_check(m, ecp);
	ok(json_array_size(r) == 3 && strstr(json_string_value(json_object_get(
	    json_array_get(r, 0), "message")), "(supported: none)") != NULL,
	    "an engine that supports nothing says none");
	json_decref(r);
	json_decref(m);
	json_decref(ecp);

	/* GGUF fixtures against the spec ECP */
	m = rm_mcd_load(fx("gguf/llama-gqa-q4_0.gguf"), &err);
	r = m ? rm_mcd_check(m, spec_ecp) : NULL;
	is_json(r, "[]", "llama q4_0 GGUF fits the spec ECP");
	json_decref(r);
	json_decref(m);
	m = rm_mcd_load(fx("gguf/qwen2-neox-q4_k_m.gguf"), &err);
	r = m ? rm_mcd_check(m, spec_ecp) : NULL;
	ok(json_array_size(r) == 2 && strcmp(json_string_value(json_object_get(
	    json_array_get(r, 0), "code")), "incompatible_quant") == 0 &&
	    strcmp(json_string_value(json_object_get(json_array_get(r, 1), "code")),
	    "context_too_large") == 0, "qwen2 q4_k_m 32k GGUF: quant and context fail");
	json_decref(r);
	json_decref(m);
	json_decref(spec_ecp);
}

int
main(void)
{
	const char *s = getenv("RM_TOP_SRCDIR");
	char share[1200];

	snprintf(src, sizeof(src), "%s", s && *s ? s : RM_SRCDIR);
	snprintf(tmp, sizeof(tmp), "%s/rm-test-mcd-XXXXXX", getenv("TMPDIR") ?
	    getenv("TMPDIR") : "/tmp");
	if (mkdtemp(tmp) == NULL) {
		ok(0, "temp dir");
		return done_testing();
	}
	snprintf(share, sizeof(share), "%s/share/remotemedia", src);
	setenv("REMOTEMEDIA_SHARE", share, 1);
	setenv("REMOTEMEDIA_HOME", tmp, 1);
	setenv("REMOTEMEDIA_ENV", "development", 1);

	test_gguf_models();
	test_gguf_header();
	test_hostile();
	test_truncations();
	test_documents();
	test_catalog();
	test_ecp();
	test_rules();

	{
		char p[400];

		snprintf(p, sizeof(p), "%s/bad.mcd.json", tmp);
		unlink(p);
		rmdir(tmp);
	}
	return done_testing();
}
