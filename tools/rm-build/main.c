/*
 * rm-build: a pipeline (.py, .yaml, .json) into a reproducible, optionally
 * signed .rmpkg; "keygen NAME" makes a signing key; "sign PKG" signs an
 * existing package without changing its digest.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "build.h"
#include "rm_crypto.h"
#include "rm_doc.h"
#include "rm_fs.h"
#include "rm_home.h"
#include "rm_known.h"
#include "rm_log.h"
#include "rm_match.h"
#include "rm_pipeline.h"
#include "rm_pkg.h"
#include "rm_pyrun.h"
#include "rm_taxo.h"
#include "rm_tool.h"

static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: rm-build [-o DIR] [--sign KEY [--cert CHAIN]] [--optimize[=f16|bf16|int8]]\n"
	    "                [--json] [-v|-q] PIPELINE\n"
	    "       rm-build keygen NAME\n"
	    "       rm-build trust KEY\n"
	    "       rm-build sign --sign KEY [--cert CHAIN] PACKAGE\n"
	    "\n"
	    "PIPELINE is a .py file defining a remotemedia Pipeline, or a .yaml/.json\n"
	    "pipeline document. Writes DIR/<name>-<12 hex of digest>.rmpkg.\n"
	    "  -o, --output DIR      where to write the package (default .; created if missing)\n"
	    "  -s, --sign KEY        sign with KEY (a path, or NAME in $REMOTEMEDIA_HOME/keys)\n"
	    "  -c, --cert CHAIN      add this PEM certificate chain (leaf first) to the signature\n"
	    "      --optimize[=T]    convert F32 safetensors tensors to T (f16, bf16, int8; f16)\n"
	    "      --json            JSON output (the default when stdout is not a terminal)\n"
	    "  -v, --verbose / -q, --quiet / -h, --help / --version\n");
}

/* One file of the package being built. */
struct bfile {
	char *name;		/* path in the package */
	char *src;		/* copied from this file, or */
	unsigned char *mem;	/* held in memory */
	uint64_t size;
	char sha256[RM_SHA256_HEX];
	int mode;		/* 0755 when src is executable by its owner, else 0644 */
	struct stat st;		/* of src before hashing: a change since is caught */
};

struct build {
	const char *pipeline;	/* as given */
	char real[PATH_MAX], dir[PATH_MAX], base[256];
	enum rm_build_dtype opt;
	struct bfile *files;
	size_t nfiles, cap;
	json_t *manifest, *runner, *optimized;
};

static int
add_file(struct build *b, const char *name, const char *src, unsigned char *mem, size_t len,
    struct rm_err *err)
{
	struct bfile *f;
	size_t i;
	int r;

	for (i = 0; i < b->nfiles; i++)
		if (strcmp(b->files[i].name, name) == 0) {
			free(mem);
			return rm_err_set(err, RM_EXIT_INVALID, b->pipeline, NULL,
			    "two different files would be packaged as '%s'", name);
		}
	if (b->nfiles == b->cap) {
		size_t ncap = b->cap ? b->cap * 2 : 16;
		struct bfile *nf = realloc(b->files, ncap * sizeof(*nf));
		if (nf == NULL) {
			free(mem);
			return rm_err_set(err, RM_EXIT_INTERNAL, NULL, NULL, "out of memory");
		}
		b->files = nf;
		b->cap = ncap;
	}
	f = &b->files[b->nfiles];
	memset(f, 0, sizeof(*f));
	f->name = strdup(name);
	if (src != NULL) {
		f->src = strdup(src);
		if (stat(src, &f->st) != 0 ||
		    (r = rm_sha256_file(src, f->sha256, &f->size, err)) != 0) {
			if (err != NULL && err->code == 0)
				rm_err_set(err, RM_EXIT_NOTFOUND, src, NULL, "cannot stat: %s",
				    strerror(errno));
			r = err != NULL ? -err->code : -RM_EXIT_NOTFOUND;
			free(f->name);
			free(f->src);
			return r;
		}
		f->mode = (f->st.st_mode & S_IXUSR) ? 0755 : 0644;
	} else {
		f->mode = 0644;
		f->mem = mem;
		f->size = len;
		rm_sha256_hex(mem ? (const void *)mem : "", len, f->sha256);
	}
	b->nfiles++;
	return 0;
}

static int
add_json(struct build *b, const char *name, const json_t *doc, struct rm_err *err)
{
	char *s = rm_json_dump_file(doc);

	if (s == NULL)
		return rm_err_set(err, RM_EXIT_INTERNAL, name, NULL, "cannot encode JSON");
	return add_file(b, name, NULL, (unsigned char *)s, strlen(s), err);
}

static struct bfile *
find_file(struct build *b, const char *name)
{
	size_t i;

	for (i = 0; i < b->nfiles; i++)
		if (strcmp(b->files[i].name, name) == 0)
			return &b->files[i];
	return NULL;
}

static void
build_release(struct build *b)
{
	size_t i;

	for (i = 0; i < b->nfiles; i++) {
		free(b->files[i].name);
		free(b->files[i].src);
		free(b->files[i].mem);
	}
	free(b->files);
	json_decref(b->manifest);
	json_decref(b->runner);
	json_decref(b->optimized);
}

static int
has_ext(const char *p, const char *ext)
{
	size_t n = strlen(p), m = strlen(ext);

	return n > m && strcmp(p + n - m, ext) == 0;
}

/* ---- Python ------------------------------------------------------------- */

static int
run_python(struct build *b, struct rm_err *err)
{
	return rm_python_pipeline(b->real, b->pipeline, &b->runner, err);
}

static int
b64_data(struct build *b, struct rm_err *err)
{
	json_t *data = json_object_get(b->runner, "data");
	size_t i;
	int r;

	for (i = 0; i < json_array_size(data); i++) {
		json_t *d = json_array_get(data, i);
		const char *path = json_string_value(json_object_get(d, "path"));
		const char *s = json_string_value(json_object_get(d, "base64"));
		size_t n, pad = 0;
		unsigned char *mem;
		int got;

		if (path == NULL || s == NULL || strncmp(path, "data/", 5) != 0 ||
		    !rm_pkg_path_ok(path))
			return rm_err_set(err, RM_EXIT_INTERNAL, b->pipeline, NULL, "bad data file");
		n = strlen(s);
		mem = malloc(n / 4 * 3 + 3);
		if (mem == NULL)
			return rm_err_set(err, RM_EXIT_INTERNAL, NULL, NULL, "out of memory");
		got = n ? EVP_DecodeBlock(mem, (const unsigned char *)s, (int)n) : 0;
		if (n >= 1 && s[n - 1] == '=')
			pad++;
		if (n >= 2 && s[n - 2] == '=')
			pad++;
		if (got < 0) {
			free(mem);
			return rm_err_set(err, RM_EXIT_INTERNAL, path, NULL, "bad base64");
		}
		if ((r = add_file(b, path, NULL, mem, (size_t)got - pad, err)) != 0)
			return r;
	}
	return 0;
}

/* ---- requirements ------------------------------------------------------- */

/* Compiles one requirement set as rm-schedule will; a problem is prefixed with where. */
static int
check_reqs(const struct rm_taxo *t, const char *file, const json_t *caps, const char *where,
    struct rm_err *err)
{
	struct rm_node *node = NULL;
	struct rm_err found;
	json_t *doc;
	int r;

	if (caps == NULL)
		return 0;
	rm_err_clear(&found);
	doc = json_pack("{s:s,s:O}", "id", "node", "capabilities", caps);
	r = rm_node_compile(t, doc, file, &node, &found);
	json_decref(doc);
	rm_node_free(node);
	if (r == 0)
		return 0;
	if (found.code != RM_EXIT_INVALID) {
		*err = found;
		return r;
	}
	{
		char field[sizeof(found.field)];
		snprintf(field, sizeof(field), "%s.%s", where, found.field);
		snprintf(found.field, sizeof(found.field), "%s", field);
	}
	return rm_unknown_report(&found, err);
}

/*
 * A node's requirements (and its fallback tiers') are checked against the
 * taxonomy at build time, so that a misspelled key (memroy_gb) is said now
 * rather than when the package is scheduled: a warning in development, an
 * error in production.
 */
static int
check_requirements(struct build *b, struct rm_err *err)
{
	const struct rm_taxo *t = rm_taxo_get(err);
	json_t *nodes = json_object_get(b->manifest, "nodes"), *n, *fb;
	size_t i, k;
	char where[96];
	int r;

	if (t == NULL)
		return -err->code;
	json_array_foreach(nodes, i, n) {
		snprintf(where, sizeof(where), "nodes[%zu]", i);
		if ((r = check_reqs(t, b->pipeline, json_object_get(n, "capabilities"), where,
		    err)) != 0)
			return r;
		json_array_foreach(json_object_get(n, "fallback"), k, fb) {
			if (!json_is_object(fb))
				continue;
			snprintf(where, sizeof(where), "nodes[%zu].fallback[%zu]", i, k);
			if ((r = check_reqs(t, b->pipeline, json_object_get(fb, "capabilities"),
			    where, err)) != 0)
				return r;
		}
	}
	return 0;
}

/* ---- models ------------------------------------------------------------- */

static const char *
base_name(const char *p)
{
	const char *s = strrchr(p, '/');

	return s ? s + 1 : p;
}

/* A model file referenced by a node: packaged under models/, described by an object. */
static int
add_model(struct build *b, const char *ref, const char *field, json_t **desc, struct rm_err *err)
{
	char src[PATH_MAX], name[PATH_MAX];
	struct bfile *f;
	int r;

	*desc = NULL;
	if (ref[0] == '/')
		r = rm_path(src, sizeof(src), err, "%s", ref);
	else
		r = rm_path(src, sizeof(src), err, "%s/%s", b->dir, ref);
	if (r != 0)
		return r;
	if (!rm_is_file(src))
		return rm_err_set(err, RM_EXIT_NOTFOUND, b->pipeline, field,
		    "model file '%s' not found (looked for %s)", ref, src);
	if ((r = rm_path(name, sizeof(name), err, "models/%s", base_name(ref))) != 0)
		return r;
	if (!rm_pkg_path_ok(name))
		return rm_err_set(err, RM_EXIT_INVALID, b->pipeline, field, "bad model file name '%s'",
		    ref);
	f = find_file(b, name);
	if (f == NULL) {
		if (b->opt != RM_OPT_NONE && has_ext(src, ".safetensors")) {
			unsigned char *out;
			size_t outlen;
			json_t *rep;
			if ((r = rm_build_optimize(src, b->opt, &out, &outlen, &rep, err)) != 0)
				return r;
			if ((r = add_file(b, name, NULL, out, outlen, err)) != 0) {
				json_decref(rep);
				return r;
			}
			json_object_set_new(rep, "path", json_string(name));
			json_array_append_new(b->optimized, rep);
		} else if ((r = add_file(b, name, src, NULL, 0, err)) != 0)
			return r;
		f = find_file(b, name);
	} else if (f->src == NULL || strcmp(f->src, src) != 0) {
		char hex[RM_SHA256_HEX];
		uint64_t size;
		/* the same base name twice is fine only for the very same file */
		if ((r = rm_sha256_file(src, hex, &size, err)) != 0)
			return r;
		if (f->src != NULL && strcmp(hex, f->sha256) != 0)
			return rm_err_set(err, RM_EXIT_INVALID, b->pipeline, field,
			    "two different model files are named '%s'", base_name(ref));
	}
	*desc = json_pack("{ss sI ss}", "path", name, "size", (json_int_t)f->size,
	    "sha256", f->sha256);
	{
		size_t i;
		for (i = 0; i < json_array_size(b->optimized); i++) {
			json_t *o = json_array_get(b->optimized, i);
			if (strcmp(json_string_value(json_object_get(o, "path")), name) == 0) {
				json_t *c = json_deep_copy(o);
				json_object_del(c, "path");
				json_object_set_new(*desc, "optimization", c);
			}
		}
	}
	return 0;
}

static int
collect_models(struct build *b, struct rm_err *err)
{
	json_t *nodes = json_object_get(b->manifest, "nodes");
	size_t i, k;
	char field[128];
	int r;

	for (i = 0; i < json_array_size(nodes); i++) {
		json_t *n = json_array_get(nodes, i);
		json_t *params = json_object_get(n, "params"), *models = json_object_get(n, "models");
		json_t *mp = json_object_get(params, "model_path"), *desc;

		/*
		 * A model_path names a file relative to the pipeline's directory;
		 * one that is not there is exit 4 (add_model), never left for the
		 * node to miss at run time. Only a URI (hf://, s3://) is left as it is.
		 */
		if (json_is_string(mp) && strstr(json_string_value(mp), "://") == NULL) {
			char ref[PATH_MAX];
			snprintf(ref, sizeof(ref), "%s", json_string_value(mp));
			snprintf(field, sizeof(field), "nodes[%zu].params.model_path", i);
			if ((r = add_model(b, ref, field, &desc, err)) != 0)
				return r;
			json_object_set(params, "model_path", json_object_get(desc, "path"));
			for (k = 0; k < json_array_size(models); k++) {
				json_t *m = json_array_get(models, k);
				const char *p = json_is_string(m) ? json_string_value(m) :
				    json_string_value(json_object_get(m, "path"));
				if (p != NULL && strcmp(p, ref) == 0)
					break;
			}
			if (k == json_array_size(models))
				json_array_append_new(models, json_string(ref));
			json_decref(desc);
		}
		for (k = 0; k < json_array_size(models); k++) {
			json_t *m = json_array_get(models, k);
			const char *p = json_is_string(m) ? json_string_value(m) :
			    json_string_value(json_object_get(m, "path"));
			snprintf(field, sizeof(field), "nodes[%zu].models[%zu]", i, k);
			if (p == NULL)
				continue;
			if (json_is_object(m) && json_object_get(m, "sha256") != NULL &&
			    strncmp(p, "models/", 7) == 0 && find_file(b, p) != NULL)
				continue;
			if ((r = add_model(b, p, field, &desc, err)) != 0)
				return r;
			if (json_is_object(m)) {
				json_t *merged = json_deep_copy(m);
				json_object_update(merged, desc);
				json_decref(desc);
				desc = merged;
			}
			json_array_set_new(models, k, desc);
		}
	}
	return 0;
}

/* ---- meta ----------------------------------------------------------------- */

static int
cmp_bfile(const void *a, const void *b)
{
	return strcmp(((const struct bfile *)a)->name, ((const struct bfile *)b)->name);
}

static time_t
pick_mtime(const json_t *git, const char **source)
{
	const char *e = getenv("SOURCE_DATE_EPOCH");
	long v;

	if (e != NULL && *e != '\0' && rm_tool_parse_long(e, &v) == 0 && v >= 0) {
		*source = "SOURCE_DATE_EPOCH";
		return (time_t)v;
	}
	if (json_is_integer(json_object_get(git, "commit_time"))) {
		*source = "git-commit";
		return (time_t)json_integer_value(json_object_get(git, "commit_time"));
	}
	*source = "none";
	return 0;
}

static json_t *
make_provenance(struct build *b, const json_t *git, time_t mtime, const char *tsource)
{
	json_t *prov, *sources = json_array(), *deps, *refs = json_array(), *models = json_array();
	json_t *nodes = json_object_get(b->manifest, "nodes");
	struct rm_sha256 *h = rm_sha256_new();
	char hex[RM_SHA256_HEX], when[32];
	const char *builder = getenv("REMOTEMEDIA_BUILDER");
	struct tm tm;
	size_t i, k;

	for (i = 0; i < b->nfiles; i++) {
		struct bfile *f = &b->files[i];
		if (strncmp(f->name, "modules/", 8) != 0 && strncmp(f->name, "data/", 5) != 0)
			continue;
		json_array_append_new(sources, json_pack("{ss ss}", "path", f->name,
		    "sha256", f->sha256));
		rm_sha256_update(h, f->name, strlen(f->name) + 1);
		rm_sha256_update(h, f->sha256, 64);
		rm_sha256_update(h, "\n", 1);
	}
	rm_sha256_final(h, hex);
	for (i = 0; i < json_array_size(nodes); i++) {
		json_t *n = json_array_get(nodes, i), *ms = json_object_get(n, "models");
		if (json_is_string(json_object_get(n, "remote_ref")))
			json_array_append(refs, json_object_get(n, "remote_ref"));
		for (k = 0; k < json_array_size(ms); k++) {
			json_t *m = json_array_get(ms, k);
			if (json_is_object(m))
				json_array_append_new(models, json_pack("{sO sO}", "path",
				    json_object_get(m, "path"), "sha256", json_object_get(m, "sha256")));
		}
	}
	{
		json_t *imp = b->runner ? json_object_get(b->runner, "imports") : NULL;
		deps = json_pack("{so so so}", "python", imp ? json_deep_copy(imp) : json_array(),
		    "remote_refs", refs, "models", models);
	}
	gmtime_r(&mtime, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	prov = json_pack("{ss ss ss s{ss ss so} so ss so so}",
	    "schema", "remotemedia.provenance/1",
	    "build_time", when,
	    "build_time_source", tsource,
	    "builder", "tool", "rm-build", "version", PACKAGE_VERSION,
	    "id", builder && *builder ? json_string(builder) : json_null(),
	    "sources", sources,
	    "source_sha256", hex,
	    "git", json_deep_copy(git),
	    "dependencies", deps);
	return prov;
}

static json_t *
make_runtime(struct build *b)
{
	json_t *py = b->runner ? json_object_get(b->runner, "python") : NULL;
	json_t *imp = b->runner ? json_object_get(b->runner, "imports") : NULL;

	/* "o" takes the reference: borrowed values are increfed, new ones handed over */
	return json_pack("{ss so so}", "schema", "remotemedia.runtime/1",
	    "python", py ? json_incref(py) : json_null(), "imports",
	    imp ? json_incref(imp) : json_array());
}

static void
safe_name(const char *in, char *out, size_t size)
{
	size_t i;

	for (i = 0; in[i] != '\0' && i + 1 < size && i < 100; i++) {
		char c = in[i];
		out[i] = (c == '-' || c == '_' || c == '.' || (c >= '0' && c <= '9') ||
		    (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) ? c : '_';
	}
	out[i] = '\0';
	if (out[0] == '.' || out[0] == '\0')
		out[0] = '_';
}

static int
write_package(struct build *b, const char *outdir, time_t mtime, const json_t *sig,
    const char *digest, char *outpath, size_t outsize, struct rm_err *err)
{
	struct rm_pkg_writer *w = NULL;
	char name[128];
	char *sigtext = NULL;
	size_t i;
	int r, sigdone = sig == NULL;

	safe_name(json_string_value(json_object_get(b->manifest, "name")), name, sizeof(name));
	if ((r = rm_mkdir_p(outdir, 0755, err)) != 0)
		return r;
	if ((r = rm_path(outpath, outsize, err, "%s/%s-%.12s.rmpkg", outdir, name, digest)) != 0)
		return r;
	if (sig != NULL && (sigtext = rm_json_dump_file(sig)) == NULL)
		return rm_err_set(err, RM_EXIT_INTERNAL, NULL, NULL, "cannot encode the signature");
	if ((r = rm_pkg_writer_open(outpath, mtime, &w, err)) != 0)
		goto out;
	for (i = 0; i < b->nfiles; i++) {
		struct bfile *f = &b->files[i];
		if (!sigdone && strcmp(f->name, RM_PKG_SIGNATURE) > 0) {
			if ((r = rm_pkg_writer_add_mem(w, RM_PKG_SIGNATURE, sigtext, strlen(sigtext),
			    0644, err)) != 0)
				goto out;
			sigdone = 1;
		}
		if (f->src != NULL)
			r = rm_pkg_writer_add_file(w, f->name, f->src, f->size, f->sha256, f->mode,
			    err);
		else
			r = rm_pkg_writer_add_mem(w, f->name, f->mem, (size_t)f->size, f->mode, err);
		if (r != 0)
			goto out;
	}
	if (!sigdone && (r = rm_pkg_writer_add_mem(w, RM_PKG_SIGNATURE, sigtext, strlen(sigtext),
	    0644, err)) != 0)
		goto out;
	for (i = 0; i < b->nfiles; i++) {
		struct bfile *f = &b->files[i];
		struct stat now;
		if (f->src != NULL && (stat(f->src, &now) != 0 || now.st_size != f->st.st_size ||
		    now.st_ctim.tv_sec != f->st.st_ctim.tv_sec ||
		    now.st_ctim.tv_nsec != f->st.st_ctim.tv_nsec)) {
			r = rm_err_set(err, RM_EXIT_INVALID, f->src, NULL,
			    "changed while being packaged; build again");
			goto out;
		}
	}
	r = rm_pkg_writer_commit(w, NULL, err);
	w = NULL;
out:
	rm_pkg_writer_abort(w);
	free(sigtext);
	return r;
}

static int
do_build(const char *pipeline, const char *outdir, const char *key, const char *cert,
    enum rm_build_dtype opt, int json)
{
	struct build b;
	struct rm_err err;
	json_t *raw = NULL, *git = NULL, *contents = NULL, *list, *sig = NULL, *res;
	char modname[PATH_MAX], outpath[PATH_MAX], digest[RM_SHA256_HEX];
	char *ctext = NULL;
	const char *tsource, *slash;
	time_t mtime;
	size_t i;
	int r, py;

	memset(&b, 0, sizeof(b));
	rm_err_clear(&err);
	b.pipeline = pipeline;
	b.opt = opt;
	b.optimized = json_array();
	if (realpath(pipeline, b.real) == NULL) {
		rm_err_set(&err, errno == ENOENT ? RM_EXIT_NOTFOUND : RM_EXIT_INVALID, pipeline,
		    NULL, "cannot open: %s", strerror(errno));
		goto fail;
	}
	if (!rm_is_file(b.real)) {
		rm_err_set(&err, RM_EXIT_INVALID, pipeline, NULL, "not a regular file");
		goto fail;
	}
	slash = strrchr(b.real, '/');
	snprintf(b.dir, sizeof(b.dir), "%.*s", (int)(slash - b.real), b.real);
	snprintf(b.base, sizeof(b.base), "%s", slash + 1);
	/* a missing output directory is made when the package is written */
	if (access(outdir, F_OK) == 0 && !rm_is_dir(outdir)) {
		rm_err_set(&err, RM_EXIT_INVALID, outdir, NULL, "output path is not a directory");
		goto fail;
	}
	py = has_ext(b.real, ".py");
	if (py) {
		if (run_python(&b, &err) != 0)
			goto fail;
		raw = json_incref(json_object_get(b.runner, "manifest"));
	} else if (has_ext(b.real, ".yaml") || has_ext(b.real, ".yml") ||
	    has_ext(b.real, ".json")) {
		if ((raw = rm_doc_load(b.real, &err)) == NULL) {
			snprintf(err.file, sizeof(err.file), "%s", pipeline);
			goto fail;
		}
	} else {
		rm_err_set(&err, RM_EXIT_INVALID, pipeline, NULL,
		    "expected a .py, .yaml, .yml or .json pipeline");
		goto fail;
	}
	if ((b.manifest = rm_pipeline_normalize(raw, pipeline, &err)) == NULL ||
	    check_requirements(&b, &err) != 0)
		goto fail;
	if (rm_path(modname, sizeof(modname), &err, "modules/%s", b.base) != 0 ||
	    add_file(&b, modname, b.real, NULL, 0, &err) != 0)
		goto fail;
	if (py) {
		json_t *mods = json_object_get(b.runner, "local_modules");
		for (i = 0; i < json_array_size(mods); i++) {
			const char *m = json_string_value(json_array_get(mods, i));
			char src[PATH_MAX];
			if (m == NULL || !rm_pkg_path_ok(m) ||
			    rm_path(modname, sizeof(modname), &err, "modules/%s", m) != 0 ||
			    rm_path(src, sizeof(src), &err, "%s/%s", b.dir, m) != 0)
				continue;
			if (find_file(&b, modname) == NULL && add_file(&b, modname, src, NULL, 0,
			    &err) != 0)
				goto fail;
		}
		if (b64_data(&b, &err) != 0)
			goto fail;
	}
	if (collect_models(&b, &err) != 0)
		goto fail;
	if (add_json(&b, "manifest.json", b.manifest, &err) != 0)
		goto fail;
	git = rm_build_git_info(b.real, &err);
	mtime = pick_mtime(git, &tsource);
	{
		json_t *prov = make_provenance(&b, git, mtime, tsource), *rt = make_runtime(&b);
		r = add_json(&b, "meta/provenance.json", prov, &err);
		if (r == 0)
			r = add_json(&b, "meta/runtime.json", rt, &err);
		json_decref(prov);
		json_decref(rt);
		if (r != 0)
			goto fail;
	}
	qsort(b.files, b.nfiles, sizeof(*b.files), cmp_bfile);
	list = json_array();
	for (i = 0; i < b.nfiles; i++)
		json_array_append_new(list, json_pack("{ss sI ss ss}", "path", b.files[i].name,
		    "size", (json_int_t)b.files[i].size, "sha256", b.files[i].sha256,
		    "mode", rm_pkg_mode_str(b.files[i].mode)));
	contents = json_pack("{ss so}", "schema", RM_PKG_CONTENTS_SCHEMA, "files", list);
	if ((ctext = rm_json_dump_file(contents)) == NULL) {
		rm_err_set(&err, RM_EXIT_INTERNAL, NULL, NULL, "cannot encode the contents list");
		goto fail;
	}
	rm_sha256_hex(ctext, strlen(ctext), digest);
	if (add_file(&b, RM_PKG_CONTENTS, NULL, (unsigned char *)ctext, strlen(ctext), &err) != 0) {
		ctext = NULL;
		goto fail;
	}
	ctext = NULL;
	qsort(b.files, b.nfiles, sizeof(*b.files), cmp_bfile);
	if (key != NULL && rm_sign_digest(key, cert, digest, &sig, &err) != 0)
		goto fail;
	if (write_package(&b, outdir, mtime, sig, digest, outpath, sizeof(outpath), &err) != 0)
		goto fail;
	res = json_pack("{ss ss+ sO sO sI sb sO}", "path", outpath, "digest", "sha256:", digest,
	    "name", json_object_get(b.manifest, "name"),
	    "version", json_object_get(b.manifest, "version"),
	    "files", (json_int_t)b.nfiles, "signed", sig != NULL, "optimized", b.optimized);
	if (json) {
		rm_json_print(stdout, res, !json || isatty(STDOUT_FILENO));
	} else {
		printf("%s\nsha256:%s\n", outpath, digest);
		for (i = 0; i < json_array_size(b.optimized); i++) {
			json_t *o = json_array_get(b.optimized, i);
			char sz[32];
			printf("optimized %s to %s: %s saved\n",
			    json_string_value(json_object_get(o, "path")),
			    json_string_value(json_object_get(o, "dtype")),
			    rm_tool_size((unsigned long long)json_integer_value(json_object_get(o,
			    "saved_bytes")), sz, sizeof(sz)));
		}
	}
	json_decref(res);
	json_decref(raw);
	json_decref(git);
	json_decref(contents);
	json_decref(sig);
	build_release(&b);
	return 0;
fail:
	free(ctext);
	json_decref(raw);
	json_decref(git);
	json_decref(contents);
	json_decref(sig);
	build_release(&b);
	return rm_err_print(&err);
}

/* keygen NAME: a new key pair; trust KEY: verify with that key here. */
/* One path, the whole answer: bare, or {"path"} with --json. */
static void
print_path(const char *path, int json)
{
	json_t *out;

	if (json) {
		out = json_pack("{ss}", "path", path);
		rm_json_print(stdout, out, 0);
		json_decref(out);
	} else
		printf("%s\n", path);
	fflush(stdout);
}

static int
do_key(const char *verb, const char *arg, int json)
{
	char path[PATH_MAX];
	struct rm_err err;

	rm_err_clear(&err);
	if (strcmp(verb, "keygen") == 0) {
		if (rm_key_generate(arg, path, sizeof(path), &err) != 0)
			return rm_err_print(&err);
		print_path(path, json);
		if (rm_log_level() >= RM_LOG_NORMAL)
			fprintf(stderr, "%s: to trust its signatures on this machine: "
			    "rm-build trust %s\n", rm_progname(), arg);
		return 0;
	}
	if (rm_key_trust(arg, path, sizeof(path), &err) != 0)
		return rm_err_print(&err);
	print_path(path, json);
	return 0;
}

static int
do_sign(const char *pkgpath, const char *key, const char *cert, int json)
{
	struct rm_err err;
	struct rm_pkg *pkg = NULL;
	json_t *sig = NULL, *res;

	rm_err_clear(&err);
	if (key == NULL) {
		fprintf(stderr, "%s: sign needs --sign KEY\n", rm_progname());
		usage(stderr);
		return RM_EXIT_USAGE;
	}
	/* the package must be intact before we put our name on it */
	if (rm_pkg_open(pkgpath, RM_PKG_VERIFY | RM_PKG_NO_POLICY, &pkg, &err) != 0)
		return rm_err_print(&err);
	if (rm_sign_digest(key, cert, pkg->digest, &sig, &err) != 0 ||
	    rm_pkg_set_signature(pkgpath, sig, &err) != 0) {
		json_decref(sig);
		rm_pkg_free(pkg);
		return rm_err_print(&err);
	}
	res = json_pack("{ss ss+ sO}", "path", pkgpath, "digest", "sha256:", pkg->digest,
	    "key_id", json_object_get(sig, "key_id"));
	if (json)
		rm_json_print(stdout, res, isatty(STDOUT_FILENO));
	else
		printf("%s\nsha256:%s\nsigned with key %s\n", pkgpath, pkg->digest,
		    json_string_value(json_object_get(sig, "key_id")));
	json_decref(res);
	json_decref(sig);
	rm_pkg_free(pkg);
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "sign", required_argument, NULL, 's' },
		{ "cert", required_argument, NULL, 'c' },
		{ "optimize", optional_argument, NULL, 'O' },
		{ "json", no_argument, NULL, 'j' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	const char *outdir = ".", *key = NULL, *cert = NULL, *verb = NULL;
	enum rm_build_dtype opt = RM_OPT_NONE;
	int c, json = 0, json_asked, level = RM_LOG_NORMAL;

	rm_tool_init(argc, argv);
	/* a verb comes first: rm-build keygen|trust NAME, rm-build sign [opts] PKG */
	if (argc > 1 && (strcmp(argv[1], "keygen") == 0 || strcmp(argv[1], "trust") == 0 ||
	    strcmp(argv[1], "sign") == 0)) {
		verb = argv[1];
		argv[1] = argv[0];
		argv++;
		argc--;
	}
	while ((c = getopt_long(argc, argv, "o:s:c:vqh", opts, NULL)) != -1) {
		switch (c) {
		case 'o': outdir = optarg; break;
		case 's': key = optarg; break;
		case 'c': cert = optarg; break;
		case 'O':
			if (optarg == NULL || strcmp(optarg, "f16") == 0)
				opt = RM_OPT_F16;
			else if (strcmp(optarg, "bf16") == 0)
				opt = RM_OPT_BF16;
			else if (strcmp(optarg, "int8") == 0)
				opt = RM_OPT_INT8;
			else {
				fprintf(stderr, "%s: --optimize: expected f16, bf16 or int8, got '%s'\n",
				    rm_progname(), optarg);
				usage(stderr);
				return RM_EXIT_USAGE;
			}
			break;
		case 'j': json = 1; break;
		case 'v': level++; break;
		case 'q': level = RM_LOG_QUIET; break;
		case 'h': usage(stdout); return 0;
		case 'V': rm_tool_version(); return 0;
		default: usage(stderr); return RM_EXIT_USAGE;
		}
	}
	rm_log_set_level(level);
	rm_tool_banner();
	json_asked = json;
	json = rm_tool_want_json(json);
	if (cert != NULL && key == NULL && verb == NULL) {
		fprintf(stderr, "%s: --cert needs --sign KEY\n", rm_progname());
		usage(stderr);
		return RM_EXIT_USAGE;
	}
	if (verb != NULL && strcmp(verb, "sign") != 0) {
		if (argc - optind != 1) {
			usage(stderr);
			return RM_EXIT_USAGE;
		}
		return do_key(verb, argv[optind], json_asked);	/* one value: bare */
	}
	if (verb != NULL) {
		if (argc - optind != 1) {
			usage(stderr);
			return RM_EXIT_USAGE;
		}
		return do_sign(argv[optind], key, cert, json);
	}
	if (argc - optind != 1) {
		usage(stderr);
		return RM_EXIT_USAGE;
	}
	return do_build(argv[optind], outdir, key, cert, opt, json);
}
