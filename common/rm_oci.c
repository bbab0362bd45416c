/* OCI distribution client and the package <-> OCI image manifest mapping. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "rm_creds.h"
#include "rm_crypto.h"
#include "rm_doc.h"
#include "rm_fs.h"
#include "rm_home.h"
#include "rm_http.h"
#include "rm_log.h"
#include "rm_oci.h"
#include "rm_pkg.h"
#include "rm_tool.h"

#define ACCEPT_MANIFESTS RM_OCI_MANIFEST_V1 ", " RM_OCI_INDEX_V1 ", " \
	"application/vnd.docker.distribution.manifest.v2+json, " \
	"application/vnd.docker.distribution.manifest.list.v2+json"
#define MANIFEST_MAX ((size_t)4 << 20)
#define MAX_PUSH_JOBS 3

/* ---- references --------------------------------------------------------- */

int
rm_oci_digest_ok(const char *s)
{
	size_t i;

	if (strncmp(s, "sha256:", 7) != 0 || strlen(s) != 71)
		return 0;
	for (i = 7; i < 71; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

static int
repo_ok(const char *r)
{
	const char *p;

	if (*r == '\0' || *r == '/' || r[strlen(r) - 1] == '/' || strstr(r, "//"))
		return 0;
	for (p = r; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '/' ||
		    *p == '.' || *p == '_' || *p == '-'))
			return 0;
	return 1;
}

static int
tag_ok(const char *t)
{
	size_t n = strlen(t), i;

	if (n == 0 || n > 128 || t[0] == '.' || t[0] == '-')
		return 0;
	for (i = 0; i < n; i++)
		if (!((t[i] >= 'a' && t[i] <= 'z') || (t[i] >= 'A' && t[i] <= 'Z') ||
		    (t[i] >= '0' && t[i] <= '9') || t[i] == '_' || t[i] == '.' || t[i] == '-'))
			return 0;
	return 1;
}

int
rm_oci_ref_parse(const char *s, struct rm_oci_ref *ref, struct rm_err *err)
{
	char buf[1024], *slash, *at, *colon, *rest;

	memset(ref, 0, sizeof(*ref));
	if (strncmp(s, "oci://", 6) != 0)
		return rm_err_set(err, RM_EXIT_USAGE, NULL, NULL,
		    "'%s': expected oci://HOST[:PORT]/REPO[:TAG][@sha256:HEX]", s);
	if (strlen(s + 6) >= sizeof(buf))
		return rm_err_set(err, RM_EXIT_USAGE, NULL, NULL, "'%s': reference too long", s);
	strcpy(buf, s + 6);
	slash = strchr(buf, '/');
	if (slash == NULL || slash == buf || slash - buf >= (long)sizeof(ref->host))
		return rm_err_set(err, RM_EXIT_USAGE, NULL, NULL,
		    "'%s': expected oci://HOST[:PORT]/REPO[:TAG]", s);
	*slash = '\0';
	snprintf(ref->host, sizeof(ref->host), "%s", buf);
	rest = slash + 1;
	if ((at = strchr(rest, '@')) != NULL) {
		*at = '\0';
		if (!rm_oci_digest_ok(at + 1))
			return rm_err_set(err, RM_EXIT_USAGE, NULL, NULL,
			    "'%s': expected sha256:<64 lowercase hex> after '@'", s);
		snprintf(ref->digest, sizeof(ref->digest), "%s", at + 1);
	}
	colon = strrchr(rest, ':');
	if (colon != NULL && strchr(colon, '/') == NULL) {
		*colon = '\0';
		if (!tag_ok(colon + 1))
			return rm_err_set(err, RM_EXIT_USAGE, NULL, NULL,
			    "'%s': bad tag '%s' (letters, digits, '_', '.', '-'; at most 128)", s,
			    colon + 1);
		snprintf(ref->tag, sizeof(ref->tag), "%s", colon + 1);
	}
	if (!repo_ok(rest) || strlen(rest) >= sizeof(ref->repo))
		return rm_err_set(err, RM_EXIT_USAGE, NULL, NULL,
		    "'%s': bad repository name '%s' (lowercase letters, digits, '.', '_', '-', '/')",
		    s, rest);
	snprintf(ref->repo, sizeof(ref->repo), "%s", rest);
	if (ref->tag[0] == '\0' && ref->digest[0] == '\0')
		strcpy(ref->tag, "latest");
	return 0;
}

void
rm_oci_ref_str(const struct rm_oci_ref *ref, char *buf, size_t size)
{
	if (ref->digest[0])
		snprintf(buf, size, "oci://%s/%s@%s", ref->host, ref->repo, ref->digest);
	else
		snprintf(buf, size, "oci://%s/%s:%s", ref->host, ref->repo, ref->tag);
}

/* ---- progress ----------------------------------------------------------- */

static pthread_mutex_t prog_mu = PTHREAD_MUTEX_INITIALIZER;
static _Atomic uint64_t prog_done;
static uint64_t prog_total;
static int prog_on;
static char prog_label[128];
static struct timespec prog_last, prog_start;

void
rm_oci_progress_begin(const char *label, uint64_t total)
{
	pthread_mutex_lock(&prog_mu);
	prog_on = isatty(2) && rm_log_level() >= RM_LOG_NORMAL && total > 0;
	prog_total = total;
	atomic_store(&prog_done, 0);
	snprintf(prog_label, sizeof(prog_label), "%s", label);
	memset(&prog_last, 0, sizeof(prog_last));
	clock_gettime(CLOCK_MONOTONIC, &prog_start);
	pthread_mutex_unlock(&prog_mu);
}

/* "h:mm:ss" or "m:ss" */
static void
prog_clock(double secs, char *buf, size_t size)
{
	long s = secs < 0 ? 0 : secs > 359999 ? 359999 : (long)(secs + 0.5);

	if (s >= 3600)
		snprintf(buf, size, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
	else
		snprintf(buf, size, "%ld:%02ld", s / 60, s % 60);
}

/* The bar, the rate since the start and the time left (or taken, at the end). */
static void
prog_draw(int final)
{
	uint64_t d = atomic_load(&prog_done);
	int pct = prog_total ? (int)(d * 100 / prog_total) : 100, i;
	char bar[31], when[32] = "", tm[16];
	struct timespec now;
	double el, rate;

	if (pct > 100)
		pct = 100;
	for (i = 0; i < 30; i++)
		bar[i] = i < pct * 30 / 100 ? '#' : '.';
	bar[30] = '\0';
	clock_gettime(CLOCK_MONOTONIC, &now);
	el = (double)(now.tv_sec - prog_start.tv_sec) + (now.tv_nsec - prog_start.tv_nsec) / 1e9;
	/* while running, a rate only once it means something */
	rate = el > (final ? 0.0 : 0.2) ? (double)d / el : 0;
	if (final) {
		prog_clock(el, tm, sizeof(tm));
		snprintf(when, sizeof(when), " in %s", tm);
	} else if (rate > 0 && prog_total > d) {
		prog_clock((double)(prog_total - d) / rate, tm, sizeof(tm));
		snprintf(when, sizeof(when), ", %s left", tm);
	}
	fprintf(stderr, "\r%s [%s] %3d%% %.1f/%.1f MiB, %.1f MiB/s%s\033[K%s", prog_label, bar,
	    pct, (double)d / 1048576.0, (double)prog_total / 1048576.0, rate / 1048576.0, when,
	    final ? "\n" : "");
}

void
rm_oci_progress_add(uint64_t n)
{
	struct timespec now;

	atomic_fetch_add(&prog_done, n);
	if (!prog_on)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	pthread_mutex_lock(&prog_mu);
	if ((now.tv_sec - prog_last.tv_sec) * 1000 + (now.tv_nsec - prog_last.tv_nsec) / 1000000
	    >= 100) {
		prog_last = now;
		prog_draw(0);
	}
	pthread_mutex_unlock(&prog_mu);
}

void
rm_oci_progress_end(void)
{
	pthread_mutex_lock(&prog_mu);
	if (prog_on)
		prog_draw(1);
	prog_on = 0;
	pthread_mutex_unlock(&prog_mu);
}

void
rm_oci_progress_phase(const char *label, const char *phase)
{
	if (isatty(2) && rm_log_level() >= RM_LOG_NORMAL)
		fprintf(stderr, "%s: %s...\n", label, phase);
}

static void
prog_cb(void *ctx, uint64_t n)
{
	(void)ctx;
	rm_oci_progress_add(n);
}

/* ---- sessions ----------------------------------------------------------- */

struct rm_oci {
	struct rm_http *h;
	char host[256], repo[256];
	char scope[600];
};

static void
req_init(struct rm_http_req *q, struct rm_oci *o, const char *method, const char *url)
{
	memset(q, 0, sizeof(*q));
	q->method = method;
	q->url = url;
	q->scope = o->scope;
	q->body_fd = -1;
}

static int
ping(struct rm_oci *o, int once, struct rm_err *err)
{
	struct rm_http_req q;
	struct rm_http_resp resp;
	int r;

	req_init(&q, o, "GET", "/v2/");
	q.once = once;
	if ((r = rm_http_do(o->h, &q, &resp, err)) != 0)
		return r;
	r = resp.status;
	rm_http_resp_release(&resp);
	if (r != 200)
		return rm_err_set(err, RM_EXIT_NETWORK, rm_http_base(o->h), NULL,
		    "not an OCI registry: GET /v2/ answered %d", r);
	return 0;
}

int
rm_oci_open(const struct rm_oci_ref *ref, int insecure, int push, struct rm_oci **out,
    struct rm_err *err)
{
	struct rm_oci *o;
	struct rm_cred cred;
	char base[600];
	int r;

	*out = NULL;
	if ((r = rm_http_load(err)) != 0)
		return r;
	if ((r = rm_creds_lookup(ref->host, &cred, err)) != 0)
		return r;
	if (!insecure && rm_creds_insecure(ref->host))
		insecure = 1;
	o = calloc(1, sizeof(*o));
	if (o == NULL) {
		rm_cred_wipe(&cred);
		return rm_err_set(err, RM_EXIT_INTERNAL, NULL, NULL, "out of memory");
	}
	snprintf(o->host, sizeof(o->host), "%s", ref->host);
	snprintf(o->repo, sizeof(o->repo), "%s", ref->repo);
	snprintf(o->scope, sizeof(o->scope), "repository:%s:%s", ref->repo,
	    push ? "pull,push" : "pull");
	snprintf(base, sizeof(base), "https://%s", ref->host);
	o->h = rm_http_new(base, insecure, &cred);
	if (o->h == NULL) {
		rm_cred_wipe(&cred);
		free(o);
		return rm_err_set(err, RM_EXIT_INTERNAL, NULL, NULL, "cannot start libcurl");
	}
	r = ping(o, insecure, err);
	if (r != 0 && insecure && err->code == RM_EXIT_NETWORK &&
	    strstr(err->msg, "authentication") == NULL) {
		struct rm_err e2;
		/* insecure registries are most often plain HTTP */
		rm_err_clear(&e2);
		rm_http_free(o->h);
		snprintf(base, sizeof(base), "http://%s", ref->host);
		o->h = rm_http_new(base, insecure, &cred);
		if (o->h == NULL)
			r = rm_err_set(err, RM_EXIT_INTERNAL, NULL, NULL, "cannot start libcurl");
		else if ((r = ping(o, 0, &e2)) != 0)
			*err = e2;
	}
	rm_cred_wipe(&cred);
	if (r != 0) {
		rm_oci_close(o);
		return r;
	}
	*out = o;
	return 0;
}

struct rm_oci *
rm_oci_dup(const struct rm_oci *o)
{
	struct rm_oci *n = calloc(1, sizeof(*n));

	if (n == NULL)
		return NULL;
	*n = *o;
	if ((n->h = rm_http_dup(o->h)) == NULL) {
		free(n);
		return NULL;
	}
	return n;
}

void
rm_oci_close(struct rm_oci *o)
{
	if (o == NULL)
		return;
	rm_http_free(o->h);
	free(o);
}

static int
status_err(struct rm_err *err, const char *what, const char *url, const struct rm_http_resp *r)
{
	char snippet[200] = "";

	if (r->body != NULL) {
		size_t i;
		snprintf(snippet, sizeof(snippet), ": %s", r->body);
		for (i = 0; snippet[i]; i++)
			if (snippet[i] == '\n' || snippet[i] == '\r')
				snippet[i] = ' ';
	}
	return rm_err_set(err, r->status == 404 ? RM_EXIT_NOTFOUND : RM_EXIT_NETWORK, url, NULL,
	    "%s: HTTP %ld%s", what, r->status, snippet);
}

/* ---- blobs -------------------------------------------------------------- */

int
rm_oci_blob_head(struct rm_oci *o, const char *digest, uint64_t *size, struct rm_err *err)
{
	char url[1024];
	struct rm_http_req q;
	struct rm_http_resp resp;
	int r;

	snprintf(url, sizeof(url), "/v2/%s/blobs/%s", o->repo, digest);
	req_init(&q, o, "HEAD", url);
	if ((r = rm_http_do(o->h, &q, &resp, err)) != 0)
		return r;
	if (resp.status == 200) {
		if (size)
			*size = resp.content_length;
		r = 0;
	} else if (resp.status == 404)
		r = 1;
	else
		r = status_err(err, "HEAD blob", url, &resp);
	rm_http_resp_release(&resp);
	return r;
}

static void
with_digest(char *out, size_t size, const char *location, const char *digest)
{
	snprintf(out, size, "%s%cdigest=sha256%%3A%s", location, strchr(location, '?') ? '&' : '?',
	    digest + 7);
}

/* Parses "0-N" (Range of an upload): the next offset, N+1. */
int
rm_oci_range_next(const char *range, uint64_t *next)
{
	const char *dash;
	long long end;

	if (range == NULL || range[0] == '\0' || (dash = strchr(range, '-')) == NULL)
		return -1;
	end = strtoll(dash + 1, NULL, 10);
	*next = end < 0 ? 0 : (uint64_t)end + 1;
	return 0;
}

/* POST an upload (with a mount attempt); 1 mounted, 0 location set, < 0 error. */
static int
upload_start(struct rm_oci *o, const char *digest, const char *mount_from, char *loc,
    size_t locsize, struct rm_err *err)
{
	char url[1200], scope[1200];
	struct rm_http_req q;
	struct rm_http_resp resp;
	int r;

	if (mount_from != NULL) {
		snprintf(url, sizeof(url), "/v2/%s/blobs/uploads/?mount=sha256%%3A%s&from=%s",
		    o->repo, digest + 7, mount_from);
		snprintf(scope, sizeof(scope), "%s repository:%s:pull", o->scope, mount_from);
	} else
		snprintf(url, sizeof(url), "/v2/%s/blobs/uploads/", o->repo);
	req_init(&q, o, "POST", url);
	if (mount_from != NULL)
		q.scope = scope;
	if ((r = rm_http_do(o->h, &q, &resp, err)) != 0)
		return r;
	if (resp.status == 201 && mount_from != NULL) {
		rm_http_resp_release(&resp);
		return 1;
	}
	if (resp.status != 202 || resp.location[0] == '\0') {
		r = status_err(err, "starting an upload", url, &resp);
		rm_http_resp_release(&resp);
		return r;
	}
	snprintf(loc, locsize, "%s", resp.location);
	rm_http_resp_release(&resp);
	return 0;
}

/* Asks the registry how much of an upload it holds (GET on the upload URL). */
static int
upload_status(struct rm_oci *o, char *loc, size_t locsize, uint64_t *next, struct rm_err *err)
{
	struct rm_http_req q;
	struct rm_http_resp resp;
	int r;

	req_init(&q, o, "GET", loc);
	q.once = 1;
	if ((r = rm_http_do(o->h, &q, &resp, err)) != 0)
		return r;
	if (resp.status != 204 || rm_oci_range_next(resp.range, next) != 0) {
		r = resp.status == 404 ? 1 : status_err(err, "upload status", loc, &resp);
		rm_http_resp_release(&resp);
		return r;
	}
	if (resp.location[0])
		snprintf(loc, locsize, "%s", resp.location);
	rm_http_resp_release(&resp);
	return 0;
}

/* ---- uploads kept across runs -------------------------------------------- */

static _Atomic int stop_asked;

void
rm_oci_interrupt(void)
{
	stop_asked = 1;
}

int
rm_oci_interrupted(void)
{
	return stop_asked;
}

/*
 * A chunked upload's session URL and the offset the registry acknowledged
 * are kept in $REMOTEMEDIA_HOME/push/<SHA-256 of "host/repo@digest">.json,
 * written after the POST and after each accepted PATCH, and removed when
 * the blob is complete. A push killed mid-blob (Ctrl-C, a crash, a lost
 * network) asks the registry next time how much of that session it holds
 * (GET on the session URL: 204 with Range) and goes on from there; a
 * session the registry forgot starts over. The record's lock (.lock
 * beside it, held while the blob uploads) keeps two pushes of the same
 * blob from writing into one session.
 */
#define UPLOAD_SCHEMA "remotemedia.push-upload/1"

struct upload {
	struct rm_oci *o;
	const char *digest;
	int fd;
	uint64_t off, size, chunk;
	uint64_t at;		/* bytes the registry holds */
	uint64_t held;		/* of which an earlier run sent */
	char loc[4096], url[4300], crange[64];
	char rec[PATH_MAX];	/* the record, "" when not kept */
	int lockfd;
};

/* The record's path, and its lock's, for digest in o's repository. */
static int
upload_record_path(const struct rm_oci *o, const char *digest, char *rec, char *lk,
    struct rm_err *e)
{
	char key[700], hex[RM_SHA256_HEX];

	snprintf(key, sizeof(key), "%s/%s@%s", o->host, o->repo, digest);
	rm_sha256_hex(key, strlen(key), hex);
	if (rm_path(rec, PATH_MAX, e, "%s/push/%s.json", rm_home(), hex) != 0 ||
	    rm_path(lk, PATH_MAX, e, "%s/push/%s.lock", rm_home(), hex) != 0)
		return -e->code;
	return 0;
}

static void
upload_record_open(struct upload *u)
{
	char dir[PATH_MAX], lk[PATH_MAX];
	struct rm_err e;

	u->rec[0] = '\0';
	u->lockfd = -1;
	if (u->size <= u->chunk)
		return;		/* one PUT: nothing to resume */
	rm_err_clear(&e);
	if (upload_record_path(u->o, u->digest, u->rec, lk, &e) != 0 ||
	    rm_path(dir, sizeof(dir), &e, "%s/push", rm_home()) != 0 ||
	    rm_mkdir_p(dir, 0700, &e) != 0 || (u->lockfd = rm_lock(lk, 1, 0, &e)) < 0) {
		rm_debug("push: uploads of %s cannot be resumed in another run: %s", u->digest,
		    e.msg);
		u->rec[0] = '\0';
		u->lockfd = -1;
	}
}

/* The session and offset an earlier run left (0), or 1 when none. */
static int
upload_record_read(struct upload *u, uint64_t *off)
{
	struct rm_err e;
	json_t *doc;
	const char *loc, *schema;
	int r = 1;

	rm_err_clear(&e);
	if (u->rec[0] == '\0' || !rm_is_file(u->rec) || (doc = rm_doc_load(u->rec, &e)) == NULL)
		return 1;
	schema = json_string_value(json_object_get(doc, "schema"));
	loc = json_string_value(json_object_get(doc, "location"));
	if (schema != NULL && strcmp(schema, UPLOAD_SCHEMA) == 0 && loc != NULL && loc[0] &&
	    strlen(loc) < sizeof(u->loc) &&
	    json_is_integer(json_object_get(doc, "offset"))) {
		snprintf(u->loc, sizeof(u->loc), "%s", loc);
		*off = (uint64_t)json_integer_value(json_object_get(doc, "offset"));
		r = 0;
	}
	json_decref(doc);
	return r;
}

static void
upload_record_write(struct upload *u)
{
	struct rm_err e;
	json_t *doc;
	char *text;

	if (u->rec[0] == '\0')
		return;
	rm_err_clear(&e);
	doc = json_pack("{ss ss ss ss sI sI}", "schema", UPLOAD_SCHEMA, "registry", u->o->host,
	    "repository", u->o->repo, "digest", u->digest, "size", (json_int_t)u->size,
	    "offset", (json_int_t)u->at);
	if (doc != NULL)
		json_object_set_new(doc, "location", json_string(u->loc));
	text = doc ? rm_json_dump_file(doc) : NULL;
	if (text == NULL || rm_write_atomic(u->rec, text, strlen(text), 0600, &e) != 0)
		rm_debug("push: cannot record the upload of %s: %s", u->digest, e.msg);
	free(text);
	json_decref(doc);
}

/* A blob the registry holds needs no record (one left by a run killed after its PUT). */
static void
upload_record_drop(const struct rm_oci *o, const char *digest)
{
	char rec[PATH_MAX], lk[PATH_MAX];
	struct rm_err e;

	rm_err_clear(&e);
	if (upload_record_path(o, digest, rec, lk, &e) == 0 && unlink(rec) == 0)
		unlink(lk);	/* rm_lock: a holder lets go of an unlinked lock file */
}

static void
upload_record_close(struct upload *u, int done)
{
	if (done && u->rec[0])
		upload_record_drop(u->o, u->digest);
	if (u->lockfd >= 0)
		rm_unlock(u->lockfd);
	u->lockfd = -1;
}

/*
 * Goes on with the session an earlier run left, from the offset the
 * registry reports: 0 resumed (u->at set), 1 start a new upload.
 */
static int
upload_resume(struct upload *u)
{
	uint64_t saved = 0, next = 0;
	struct rm_err e;
	char held[32], pct[16];
	int r;

	if (upload_record_read(u, &saved) != 0)
		return 1;
	rm_debug("push: an earlier run left an upload of %s at %llu bytes: %s", u->digest,
	    (unsigned long long)saved, u->loc);
	rm_err_clear(&e);
	r = upload_status(u->o, u->loc, sizeof(u->loc), &next, &e);
	if (r != 0 || next > u->size) {
		rm_note("push: the registry no longer holds the upload of layer %s that an "
		    "earlier run left (%s); starting it over", u->digest,
		    r == 1 ? "HTTP 404" : r == 0 ? "a bad Range" : e.msg);
		return 1;
	}
	rm_tool_size(next, held, sizeof(held));
	snprintf(pct, sizeof(pct), "%d%%", (int)(next * 100 / u->size));
	rm_note("push: resuming layer %s at %s (%s held by the registry)", u->digest, pct, held);
	u->at = u->held = next;
	rm_oci_progress_add(next);
	upload_record_write(u);
	return 0;
}

/* The next request: the whole blob in the closing PUT (monolithic), a PATCH, or the closing PUT. */
static void
upload_request(struct upload *u, struct rm_http_req *q)
{
	if (u->size <= u->chunk) {
		with_digest(u->url, sizeof(u->url), u->loc, u->digest);
		req_init(q, u->o, "PUT", u->url);
		q->content_type = "application/octet-stream";
		q->body_fd = u->fd;
		q->body_off = u->off;
		q->body_size = u->size;
		q->on_bytes = prog_cb;
	} else if (u->at < u->size) {
		uint64_t n = u->size - u->at < u->chunk ? u->size - u->at : u->chunk;
		snprintf(u->crange, sizeof(u->crange), "%llu-%llu", (unsigned long long)u->at,
		    (unsigned long long)(u->at + n - 1));
		req_init(q, u->o, "PATCH", u->loc);
		q->content_type = "application/octet-stream";
		q->content_range = u->crange;
		q->body_fd = u->fd;
		q->body_off = u->off + u->at;
		q->body_size = n;
		q->on_bytes = prog_cb;
	} else {
		with_digest(u->url, sizeof(u->url), u->loc, u->digest);
		req_init(q, u->o, "PUT", u->url);
	}
	q->once = 1;
}

/* A PATCH accepted: the newest Location is the only valid one; Range says how far. */
static void
upload_accepted(struct upload *u, const struct rm_http_req *q, const struct rm_http_resp *resp)
{
	uint64_t next;

	if (resp->location[0])
		snprintf(u->loc, sizeof(u->loc), "%s", resp->location);
	u->at += q->body_size;
	if (rm_oci_range_next(resp->range, &next) == 0 && next != u->at) {
		rm_debug("upload of %s: registry holds %llu bytes, we sent %llu", u->digest,
		    (unsigned long long)next, (unsigned long long)u->at);
		u->at = next;
	}
	upload_record_write(u);
}

/*
 * After a failure of the connection or of the registry: where the registry
 * stands on the session (0: u->at set, go on), or 1: start a new upload.
 */
static int
upload_where(struct upload *u)
{
	uint64_t next = 0;
	struct rm_err e;

	if (u->size <= u->chunk)
		return 1;
	rm_err_clear(&e);
	if (upload_status(u->o, u->loc, sizeof(u->loc), &next, &e) != 0 || next > u->size)
		return 1;	/* the session is gone */
	rm_note("registry: holds %llu bytes of %s; resuming the upload there",
	    (unsigned long long)next, u->digest);
	u->at = next;
	return 0;
}

/*
 * One step's answer: 0 go on, 1 done, 2 start a new upload, < 0 error.
 * fails counts the failures in a row.
 */
static int
upload_answer(struct upload *u, const struct rm_http_req *q, int r, struct rm_http_resp *resp,
    int *fails, struct rm_err *err)
{
	int retries = rm_http_retries(), put = strcmp(q->method, "PUT") == 0;

	if (r == 0 && resp->status == 202 && !put && resp->range[0] == '\0') {
		/* every PATCH answer carries Range: without it, the answer was cut */
		resp->transport_error = 1;
		resp->status = 0;
		r = rm_err_set(err, RM_EXIT_NETWORK, u->loc, NULL, "PATCH answer without Range");
	}
	if (r == 0 && resp->status >= 200 && resp->status < 300) {
		if (put)
			return resp->status == 201 ? 1 : status_err(err, "closing the upload", u->url,
			    resp);
		upload_accepted(u, q, resp);
		*fails = 0;
		return 0;
	}
	/* a failure: give up, or find out where the registry stands */
	if (r == 0 && !(resp->status == 429 || resp->status >= 500 || resp->status == 404 ||
	    resp->status == 400))
		return status_err(err, put ? "uploading" : "PATCH", u->loc, resp);
	if (r == 0 && resp->status == 400 && put) {
		/* digest mismatch on close: the registry's copy went wrong; start over */
		status_err(err, "closing the upload", u->url, resp);
		if (++*fails > retries)
			return -err->code;
		rm_note("registry: upload of %s did not match its digest; sending it again (%d/%d)",
		    u->digest, *fails, retries);
		return 2;
	}
	if (r != 0 && !resp->transport_error)
		return r;
	if (++*fails > retries)
		return r != 0 ? r : rm_err_set(err, RM_EXIT_NETWORK, u->loc, NULL,
		    "upload of %s failed after %d retries", u->digest, retries);
	rm_note("registry: upload of %s interrupted at %llu bytes; resuming (%d/%d)", u->digest,
	    (unsigned long long)u->at, *fails, retries);
	rm_http_backoff(*fails);
	return upload_where(u) == 0 ? 0 : 2;
}

int
rm_oci_blob_push(struct rm_oci *o, const char *digest, int fd, uint64_t off, uint64_t size,
    const char *mount_from, uint64_t chunk, int *mounted, uint64_t *held, struct rm_err *err)
{
	struct upload u;
	struct rm_http_req q;
	struct rm_http_resp resp;
	int r, fails = 0, fresh;

	*mounted = 0;
	*held = 0;
	memset(&u, 0, sizeof(u));
	u.o = o;
	u.digest = digest;
	u.fd = fd;
	u.off = off;
	u.size = size;
	u.chunk = chunk ? chunk : (uint64_t)64 << 20;
	upload_record_open(&u);
	fresh = upload_resume(&u);
	for (;;) {
		if (stop_asked) {
			/* between requests: the record names what the registry holds */
			r = rm_err_set(err, RM_EXIT_NETWORK, NULL, NULL, "interrupted");
			break;
		}
		if (fresh) {
			r = upload_start(o, digest, mount_from, u.loc, sizeof(u.loc), err);
			mount_from = NULL;	/* one attempt */
			if (r == 1) {
				*mounted = 1;
				r = 0;
				break;
			}
			if (r != 0)
				break;
			u.at = 0;
			fresh = 0;
			upload_record_write(&u);
		}
		upload_request(&u, &q);
		r = rm_http_do(o->h, &q, &resp, err);
		r = upload_answer(&u, &q, r, &resp, &fails, err);
		rm_http_resp_release(&resp);
		if (r == 2)
			fresh = 1;
		else if (r != 0)
			break;
	}
	if (r == 1)
		r = 0;
	*held = u.held;
	/* a session that failed stays on record for the next run */
	upload_record_close(&u, r == 0);
	return r;
}

/*
 * The body arrives in pieces of at most 16 KiB; they are hashed as they come
 * and written in pieces of FETCH_BUF, which saves most of the system calls
 * of a large blob. Whatever is buffered is written out after each request,
 * before have is trusted for a Range.
 */
#define FETCH_BUF ((size_t)4 << 20)

struct fetch_ctx {
	int fd;
	struct rm_sha256 *h;
	uint64_t have, size;	/* have: received, of which the last blen are in buf */
	int restarted;
	unsigned char *buf;
	size_t blen, cap;
};

static int
pwrite_all(int fd, const void *data, size_t len, uint64_t at)
{
	const char *d = data;

	while (len > 0) {
		ssize_t n = pwrite(fd, d, len, (off_t)at);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		d += n;
		len -= (size_t)n;
		at += (uint64_t)n;
	}
	return 0;
}

static int
fetch_flush(struct fetch_ctx *c)
{
	if (c->blen == 0)
		return 0;
	if (pwrite_all(c->fd, c->buf, c->blen, c->have - c->blen) != 0)
		return -1;
	c->blen = 0;
	return 0;
}

static int
fetch_sink(void *p, long status, const void *data, size_t len)
{
	struct fetch_ctx *c = p;

	if (status == 200 && c->have > 0 && !c->restarted) {
		/* the server ignored our Range: start over */
		char junk[RM_SHA256_HEX];
		c->blen = 0;
		if (ftruncate(c->fd, 0) != 0)
			return -1;
		rm_sha256_final(c->h, junk);
		c->h = rm_sha256_new();
		c->have = 0;
	}
	c->restarted = 1;
	if (c->have + len > c->size)
		return -1;
	if (c->buf != NULL && c->blen + len > c->cap && fetch_flush(c) != 0)
		return -1;
	if (c->buf != NULL && len <= c->cap)
		memcpy(c->buf + c->blen, data, len);
	else if (pwrite_all(c->fd, data, len, c->have) != 0)
		return -1;
	rm_sha256_update(c->h, data, len);
	rm_oci_progress_add((uint64_t)len);
	c->have += (uint64_t)len;
	if (c->buf != NULL && len <= c->cap)
		c->blen += len;
	return 0;
}

static int
fsync_parent(const char *path)
{
	char dir[PATH_MAX];
	char *slash;
	int fd;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash == NULL)
		strcpy(dir, ".");
	else
		*slash = '\0';
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	fsync(fd);
	close(fd);
	return 0;
}

int
rm_oci_blob_fetch(struct rm_oci *o, const char *digest, uint64_t size, const char *dest,
    struct rm_err *err)
{
	char partial[PATH_MAX], url[1024], range[64], hex[RM_SHA256_HEX];
	struct fetch_ctx c;
	struct rm_http_req q;
	struct rm_http_resp resp;
	struct stat st;
	int r, fails = 0, retries = rm_http_retries();

	if ((r = rm_path(partial, sizeof(partial), err, "%s.partial", dest)) != 0)
		return r;
	snprintf(url, sizeof(url), "/v2/%s/blobs/%s", o->repo, digest);
	memset(&c, 0, sizeof(c));
	c.size = size;
	c.fd = open(partial, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (c.fd < 0)
		return rm_err_set(err, RM_EXIT_INVALID, partial, NULL, "cannot open: %s",
		    strerror(errno));
	c.h = rm_sha256_new();
	c.cap = size < FETCH_BUF ? (size_t)size + 1 : FETCH_BUF;
	c.buf = malloc(c.cap);	/* NULL: unbuffered */
	if (fstat(c.fd, &st) == 0 && (uint64_t)st.st_size <= size && st.st_size > 0) {
		/* hash what an earlier attempt left, then ask for the rest */
		unsigned char *buf = malloc(1 << 20);
		uint64_t at = 0;
		while (buf != NULL && at < (uint64_t)st.st_size) {
			ssize_t n = pread(c.fd, buf, 1 << 20, (off_t)at);
			if (n <= 0)
				break;
			rm_sha256_update(c.h, buf, (size_t)n);
			at += (uint64_t)n;
		}
		free(buf);
		c.have = at;
		if (at > 0)
			rm_note("registry: resuming the download of %s at %llu of %llu bytes", digest,
			    (unsigned long long)at,
			    (unsigned long long)size);
		rm_oci_progress_add(at);
	} else if (ftruncate(c.fd, 0) != 0) {
		r = rm_err_set(err, RM_EXIT_INVALID, partial, NULL, "cannot truncate: %s",
		    strerror(errno));
		goto out;
	}
	while (c.have < size || size == 0) {
		uint64_t before = c.have;
		req_init(&q, o, "GET", url);
		if (c.have > 0) {
			snprintf(range, sizeof(range), "bytes=%llu-", (unsigned long long)c.have);
			q.range = range;
		}
		q.sink = fetch_sink;
		q.sink_ctx = &c;
		q.once = 1;
		c.restarted = 0;
		r = rm_http_do(o->h, &q, &resp, err);
		if (fetch_flush(&c) != 0) {
			rm_http_resp_release(&resp);
			r = rm_err_set(err, RM_EXIT_INVALID, partial, NULL, "cannot write: %s",
			    strerror(errno));
			goto out;
		}
		if (r == 0 && (resp.status == 200 || resp.status == 206)) {
			rm_http_resp_release(&resp);
			if (c.have == size)
				break;
			if (c.have > size) {
				r = rm_err_set(err, RM_EXIT_INTEGRITY, url, NULL,
				    "blob is longer than the %llu bytes the manifest says",
				    (unsigned long long)size);
				goto bad;
			}
			/* a short body without an error: ask for the rest */
		} else if (r == 0 && resp.status == 416 && c.have > 0) {
			rm_http_resp_release(&resp);
			if (ftruncate(c.fd, 0) != 0) {
				r = rm_err_set(err, RM_EXIT_INVALID, partial, NULL, "cannot truncate");
				goto out;
			}
			rm_sha256_final(c.h, hex);
			c.h = rm_sha256_new();
			c.have = 0;
			continue;
		} else if (r == 0 && resp.status != 429 && resp.status < 500) {
			r = status_err(err, "GET blob", url, &resp);
			rm_http_resp_release(&resp);
			goto out;
		} else {
			if (r != 0 && !resp.transport_error) {
				rm_http_resp_release(&resp);
				goto out;
			}
			rm_http_resp_release(&resp);
		}
		if (c.have > before)
			fails = 0;	/* progress: the retries start again */
		if (++fails > retries) {
			if (r == 0)
				r = rm_err_set(err, RM_EXIT_NETWORK, url, NULL,
				    "download failed after %d retries", retries);
			goto out;
		}
		rm_note("registry: download of %s interrupted at %llu of %llu bytes; resuming "
		    "(%d/%d)", digest,
		    (unsigned long long)c.have, (unsigned long long)size, fails, retries);
		rm_http_backoff(fails);
		rm_err_clear(err);
		if (size == 0)
			break;
	}
	rm_sha256_final(c.h, hex);
	c.h = NULL;
	if (strcmp(hex, digest + 7) != 0) {
		r = rm_err_set(err, RM_EXIT_INTEGRITY, url, NULL,
		    "refused: the blob's bytes hash to sha256:%s, not %s", hex, digest);
		goto bad;
	}
	if (fsync(c.fd) != 0 || close(c.fd) != 0) {
		c.fd = -1;
		r = rm_err_set(err, RM_EXIT_INVALID, partial, NULL, "cannot write: %s", strerror(errno));
		goto bad;
	}
	c.fd = -1;
	if (rename(partial, dest) != 0) {
		r = rm_err_set(err, RM_EXIT_INVALID, dest, NULL, "cannot rename into place: %s",
		    strerror(errno));
		goto bad;
	}
	fsync_parent(dest);
	free(c.buf);
	return 0;
bad:
	unlink(partial);
out:
	free(c.buf);
	if (c.h != NULL)
		rm_sha256_final(c.h, hex);
	if (c.fd >= 0)
		close(c.fd);
	return r;
}

/* ---- manifests ---------------------------------------------------------- */

int
rm_oci_manifest_put(struct rm_oci *o, const char *reference, const char *data, size_t len,
    const char *media_type, struct rm_err *err)
{
	char url[1024];
	struct rm_http_req q;
	struct rm_http_resp resp;
	int r;

	snprintf(url, sizeof(url), "/v2/%s/manifests/%s", o->repo, reference);
	req_init(&q, o, "PUT", url);
	q.content_type = media_type;
	q.body = data;
	q.body_len = len;
	if ((r = rm_http_do(o->h, &q, &resp, err)) != 0)
		return r;
	r = resp.status == 201 || resp.status == 200 ? 0 :
	    status_err(err, "PUT manifest", url, &resp);
	rm_http_resp_release(&resp);
	return r;
}

int
rm_oci_manifest_get(struct rm_oci *o, const char *reference, char **data, size_t *len,
    char digest[80], struct rm_err *err)
{
	char url[1024], hex[RM_SHA256_HEX];
	struct rm_http_req q;
	struct rm_http_resp resp;
	int r;

	*data = NULL;
	snprintf(url, sizeof(url), "/v2/%s/manifests/%s", o->repo, reference);
	req_init(&q, o, "GET", url);
	q.accept = ACCEPT_MANIFESTS;
	if ((r = rm_http_do(o->h, &q, &resp, err)) != 0)
		return r;
	if (resp.status != 200 || resp.body == NULL) {
		r = status_err(err, "GET manifest", url, &resp);
		rm_http_resp_release(&resp);
		return r;
	}
	if (resp.body_len > MANIFEST_MAX) {
		rm_http_resp_release(&resp);
		return rm_err_set(err, RM_EXIT_INVALID, url, NULL, "manifest larger than 4 MiB");
	}
	rm_sha256_hex(resp.body, resp.body_len, hex);
	snprintf(digest, 80, "sha256:%s", hex);
	if (strncmp(reference, "sha256:", 7) == 0 && strcmp(reference, digest) != 0) {
		rm_http_resp_release(&resp);
		return rm_err_set(err, RM_EXIT_INTEGRITY, url, NULL,
		    "refused: the manifest hashes to %s, not the digest asked for", digest);
	}
	*data = resp.body;
	*len = resp.body_len;
	resp.body = NULL;
	rm_http_resp_release(&resp);
	return 0;
}

/* ---- the package as an OCI manifest ------------------------------------- */

struct tar_ent {
	char name[1100];
	uint64_t off, size;
	int mode;
	long long mtime;
};

static uint64_t
tar_num(const unsigned char *f, size_t n)
{
	uint64_t v = 0;
	size_t i = 0;

	if (f[0] & 0x80) {	/* base-256 */
		v = f[0] & 0x3f;
		for (i = 1; i < n; i++)
			v = (v << 8) | f[i];
		return v;
	}
	while (i < n && (f[i] == ' ' || f[i] == '\0'))
		i++;
	for (; i < n && f[i] >= '0' && f[i] <= '7'; i++)
		v = v * 8 + (uint64_t)(f[i] - '0');
	return v;
}

/* The regular files of our (ustar/pax) archive with the offsets of their data. */
static int
tar_walk(int fd, const char *path, struct tar_ent **out, size_t *nout, struct rm_err *err)
{
	unsigned char hdr[512];
	struct tar_ent *v = NULL;
	size_t n = 0, cap = 0;
	uint64_t pos = 0;
	char paxpath[1100] = "";
	uint64_t paxsize = 0;
	int havepaxsize = 0;

	*out = NULL;
	*nout = 0;
	for (;;) {
		uint64_t size;
		char type;
		ssize_t got = pread(fd, hdr, 512, (off_t)pos);
		size_t i;
		int zero = 1;
		if (got != 512)
			goto bad;
		for (i = 0; i < 512; i++)
			if (hdr[i]) {
				zero = 0;
				break;
			}
		if (zero)
			break;
		size = tar_num(hdr + 124, 12);
		type = (char)hdr[156];
		if (type == 'x' || type == 'g') {
			char *pax;
			uint64_t at = 0;
			if (size > 65536)
				goto bad;
			pax = malloc(size + 1);
			if (pax == NULL || pread(fd, pax, size, (off_t)(pos + 512)) != (ssize_t)size) {
				free(pax);
				goto bad;
			}
			pax[size] = '\0';
			while (type == 'x' && at < size) {
				char *rec = pax + at, *sp = strchr(rec, ' '), *eq;
				unsigned long rl = strtoul(rec, NULL, 10);
				if (sp == NULL || rl == 0 || at + rl > size)
					break;
				eq = strchr(sp, '=');
				if (eq != NULL && eq < rec + rl) {
					size_t vl = (size_t)(rec + rl - 1 - (eq + 1));
					if (strncmp(sp + 1, "path=", 5) == 0 && vl < sizeof(paxpath)) {
						memcpy(paxpath, eq + 1, vl);
						paxpath[vl] = '\0';
					} else if (strncmp(sp + 1, "size=", 5) == 0) {
						paxsize = strtoull(eq + 1, NULL, 10);
						havepaxsize = 1;
					}
				}
				at += rl;
			}
			free(pax);
			pos += 512 + (size + 511) / 512 * 512;
			continue;
		}
		if (havepaxsize)
			size = paxsize;
		if (type == '0' || type == '\0') {
			struct tar_ent *e;
			if (n == cap) {
				struct tar_ent *nv;
				cap = cap ? cap * 2 : 32;
				if ((nv = realloc(v, cap * sizeof(*v))) == NULL)
					goto bad;
				v = nv;
			}
			e = &v[n++];
			memset(e, 0, sizeof(*e));
			if (paxpath[0])
				snprintf(e->name, sizeof(e->name), "%s", paxpath);
			else if (hdr[345])
				snprintf(e->name, sizeof(e->name), "%.155s/%.100s", (char *)hdr + 345,
				    (char *)hdr + 0);
			else
				snprintf(e->name, sizeof(e->name), "%.100s", (char *)hdr);
			e->off = pos + 512;
			e->size = size;
			e->mode = (int)tar_num(hdr + 100, 8);
			e->mtime = (long long)tar_num(hdr + 136, 12);
		} else
			goto bad;
		paxpath[0] = '\0';
		havepaxsize = 0;
		pos += 512 + (size + 511) / 512 * 512;
	}
	*out = v;
	*nout = n;
	return 0;
bad:
	free(v);
	return rm_err_set(err, RM_EXIT_INTEGRITY, path, NULL,
	    "cannot read the archive's layout (not a package written by rm-build?)");
}

static const char *
layer_type(const char *path)
{
	if (strncmp(path, "models/", 7) == 0)
		return "application/vnd.remotemedia.model.v1";
	if (strcmp(path, RM_PKG_CONTENTS) == 0)
		return "application/vnd.remotemedia.contents.v1+json";
	if (strcmp(path, RM_PKG_SIGNATURE) == 0)
		return "application/vnd.remotemedia.signature.v1+json";
	if (strcmp(path, "meta/provenance.json") == 0)
		return "application/vnd.remotemedia.provenance.v1+json";
	return "application/vnd.remotemedia.file.v1";
}

struct push_blob {
	char digest[80];
	uint64_t off, size;
	const char *title;
	int needed;
};

struct push_job {
	pthread_mutex_t mu;
	struct rm_oci *proto;
	struct push_blob *blobs;
	size_t n, next;
	int fd;
	uint64_t chunk;
	const json_t *mount_from;
	struct rm_err err;
	int failed;
	int uploaded, mounted, resumed;
	uint64_t bytes;
};

static void *
push_worker(void *p)
{
	struct push_job *j = p;
	struct rm_oci *o = rm_oci_dup(j->proto);
	struct rm_err err;

	rm_err_clear(&err);
	for (;;) {
		struct push_blob *b;
		const char *from;
		int mounted = 0, r;
		uint64_t held = 0;
		pthread_mutex_lock(&j->mu);
		while (j->next < j->n && !j->blobs[j->next].needed)
			j->next++;
		if (j->failed || j->next >= j->n || o == NULL) {
			if (o == NULL && !j->failed) {
				j->failed = 1;
				rm_err_set(&j->err, RM_EXIT_INTERNAL, NULL, NULL, "out of memory");
			}
			pthread_mutex_unlock(&j->mu);
			break;
		}
		b = &j->blobs[j->next++];
		pthread_mutex_unlock(&j->mu);
		from = json_string_value(json_array_get(j->mount_from, 0));
		rm_debug("uploading %s (%s, %llu bytes)", b->digest, b->title,
		    (unsigned long long)b->size);
		r = rm_oci_blob_push(o, b->digest, j->fd, b->off, b->size, from, j->chunk, &mounted,
		    &held, &err);
		pthread_mutex_lock(&j->mu);
		if (r != 0 && !j->failed) {
			j->failed = 1;
			j->err = err;
			if (j->err.field[0] == '\0')
				snprintf(j->err.field, sizeof(j->err.field), "%s", b->title);
		} else if (r == 0) {
			if (mounted) {
				j->mounted++;
				rm_oci_progress_add(b->size);
			} else {
				j->uploaded++;
				j->bytes += b->size - held;
				j->resumed += held > 0;
			}
		}
		pthread_mutex_unlock(&j->mu);
	}
	rm_oci_close(o);
	return NULL;
}

/*
 * Every entry's digest, from the contents list (checked by rm_pkg_open):
 * nothing to hash but the signature. All entries share one mtime.
 */
static int
entry_digests(const char *pkgpath, int fd, const struct rm_pkg *pkg, const struct tar_ent *ents,
    size_t nents, struct push_blob *blobs, long long *mtime, struct rm_err *err)
{
	char hex[RM_SHA256_HEX];
	size_t i, k;

	for (i = 0; i < nents; i++) {
		const struct tar_ent *e = &ents[i];
		const char *sha = NULL;
		if (i == 0)
			*mtime = e->mtime;
		else if (e->mtime != *mtime)
			return rm_err_set(err, RM_EXIT_INTEGRITY, pkgpath, e->name,
			    "entries with different mtimes: not a package written by rm-build");
		if (strcmp(e->name, RM_PKG_CONTENTS) == 0)
			sha = pkg->digest;
		else if (strcmp(e->name, RM_PKG_SIGNATURE) == 0) {
			char *buf = malloc(e->size + 1);
			if (buf == NULL || e->size > (1 << 20) ||
			    pread(fd, buf, e->size, (off_t)e->off) != (ssize_t)e->size) {
				free(buf);
				return rm_err_set(err, RM_EXIT_INTEGRITY, pkgpath, e->name, "cannot read");
			}
			rm_sha256_hex(buf, e->size, hex);
			free(buf);
			sha = hex;
		} else {
			for (k = 0; k < pkg->nfiles; k++)
				if (strcmp(pkg->files[k].path, e->name) == 0) {
					sha = pkg->files[k].sha256;
					if (pkg->files[k].size != e->size)
						sha = NULL;
					break;
				}
		}
		if (sha == NULL)
			return rm_err_set(err, RM_EXIT_INTEGRITY, pkgpath, e->name,
			    "not in the contents list with this size");
		snprintf(blobs[i].digest, sizeof(blobs[i].digest), "sha256:%s", sha);
		blobs[i].off = e->off;
		blobs[i].size = e->size;
		blobs[i].title = e->name;
	}
	return 0;
}

/*
 * A package file's layout, as rm_oci_package_layout gives one from a
 * manifest, with where each file's bytes start in the archive ("offset").
 */
int
rm_oci_package_files(const char *pkgpath, json_t **files, char pkgdigest[80], long long *mtime,
    struct rm_err *err)
{
	struct rm_pkg *pkg = NULL;
	struct tar_ent *ents = NULL;
	struct push_blob *blobs = NULL;
	size_t nents = 0, i;
	int fd, r;

	*files = NULL;
	if ((r = rm_pkg_open(pkgpath, RM_PKG_NO_POLICY, &pkg, err)) != 0)
		return r;
	if ((fd = open(pkgpath, O_RDONLY | O_CLOEXEC)) < 0)
		r = rm_err_set(err, RM_EXIT_NOTFOUND, pkgpath, NULL, "cannot open: %s",
		    strerror(errno));
	else if ((r = tar_walk(fd, pkgpath, &ents, &nents, err)) == 0 &&
	    (blobs = calloc(nents + 1, sizeof(*blobs))) == NULL)
		r = rm_err_set(err, RM_EXIT_INTERNAL, pkgpath, NULL, "out of memory");
	if (r == 0 && (r = entry_digests(pkgpath, fd, pkg, ents, nents, blobs, mtime, err)) == 0) {
		*files = json_array();
		for (i = 0; i < nents; i++)
			json_array_append_new(*files, json_pack("{ss ss sI si sI}", "path",
			    ents[i].name, "digest", blobs[i].digest, "size", (json_int_t)ents[i].size,
			    "mode", (ents[i].mode & 0111) ? 0755 : 0644, "offset",
			    (json_int_t)ents[i].off));
		snprintf(pkgdigest, 80, "sha256:%s", pkg->digest);
	}
	if (fd >= 0)
		close(fd);
	free(blobs);
	free(ents);
	rm_pkg_free(pkg);
	return r;
}

int
rm_oci_push_package(const char *pkgpath, const struct rm_oci_ref *ref, int insecure,
    uint64_t chunk, const json_t *mount_from, struct rm_oci_push_result *res,
    struct rm_err *err)
{
	struct rm_pkg *pkg = NULL;
	struct tar_ent *ents = NULL;
	size_t nents = 0, i, k, cfgi = 0;
	struct push_blob *blobs = NULL;
	struct rm_oci *o = NULL;
	json_t *man = NULL, *layers, *ann;
	char *text = NULL, hex[RM_SHA256_HEX];
	int fd = -1, r;
	long long mtime = 0;
	uint64_t total = 0;

	memset(res, 0, sizeof(*res));
	if ((r = rm_pkg_open(pkgpath, 0, &pkg, err)) != 0)
		return r;
	fd = open(pkgpath, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		r = rm_err_set(err, RM_EXIT_NOTFOUND, pkgpath, NULL, "cannot open: %s", strerror(errno));
		goto out;
	}
	if ((r = tar_walk(fd, pkgpath, &ents, &nents, err)) != 0)
		goto out;
	blobs = calloc(nents + 1, sizeof(*blobs));
	if (blobs == NULL || nents == 0) {
		r = rm_err_set(err, RM_EXIT_INTEGRITY, pkgpath, NULL, "empty package");
		goto out;
	}
	if ((r = entry_digests(pkgpath, fd, pkg, ents, nents, blobs, &mtime, err)) != 0)
		goto out;
	for (k = 0; k < nents && strcmp(ents[k].name, "manifest.json") != 0; k++)
		;
	if (k == nents) {
		r = rm_err_set(err, RM_EXIT_INTEGRITY, pkgpath, NULL, "no manifest.json");
		goto out;
	}
	cfgi = k;
	layers = json_array();
	for (i = 0; i < nents; i++) {
		json_t *l;
		if (i == cfgi)
			continue;
		l = json_pack("{ss ss sI s{ss}}", "mediaType", layer_type(ents[i].name),
		    "digest", blobs[i].digest, "size", (json_int_t)ents[i].size,
		    "annotations", "org.opencontainers.image.title", ents[i].name);
		if (ents[i].mode & 0111)
			json_object_set_new(json_object_get(l, "annotations"), "org.remotemedia.file.mode",
			    json_string("0755"));
		json_array_append_new(layers, l);
	}
	ann = json_pack("{ss+ sO sO}", "org.remotemedia.package.digest", "sha256:", pkg->digest,
	    "org.remotemedia.package.name", json_object_get(pkg->manifest, "name"),
	    "org.remotemedia.package.version", json_object_get(pkg->manifest, "version"));
	{
		char mt[32];
		snprintf(mt, sizeof(mt), "%lld", mtime);
		json_object_set_new(ann, "org.remotemedia.package.mtime", json_string(mt));
	}
	/* a name or version that is not a string is left out */
	if (!json_is_string(json_object_get(ann, "org.remotemedia.package.name")))
		json_object_del(ann, "org.remotemedia.package.name");
	if (!json_is_string(json_object_get(ann, "org.remotemedia.package.version")))
		json_object_del(ann, "org.remotemedia.package.version");
	man = json_pack("{si ss ss s{ss ss sI} so so}", "schemaVersion", 2,
	    "mediaType", RM_OCI_MANIFEST_V1, "artifactType", RM_OCI_ARTIFACT,
	    "config", "mediaType", RM_OCI_CONFIG, "digest", blobs[cfgi].digest,
	    "size", (json_int_t)ents[cfgi].size, "layers", layers, "annotations", ann);
	text = json_dumps(man, JSON_COMPACT | JSON_SORT_KEYS);
	if (text == NULL) {
		r = rm_err_set(err, RM_EXIT_INTERNAL, NULL, NULL, "cannot encode the manifest");
		goto out;
	}
	rm_sha256_hex(text, strlen(text), hex);
	snprintf(res->manifest_digest, sizeof(res->manifest_digest), "sha256:%s", hex);
	snprintf(res->package_digest, sizeof(res->package_digest), "sha256:%s", pkg->digest);

	if ((r = rm_oci_open(ref, insecure, 1, &o, err)) != 0)
		goto out;
	/* HEAD each blob: what the registry holds is never sent again */
	for (i = 0; i < nents; i++) {
		for (k = 0; k < i; k++)
			if (strcmp(blobs[k].digest, blobs[i].digest) == 0)
				break;
		if (k < i)
			continue;	/* the same bytes twice in one package */
		r = rm_oci_blob_head(o, blobs[i].digest, NULL, err);
		if (r < 0)
			goto out;
		blobs[i].needed = r == 1;
		if (r == 1)
			total += blobs[i].size;
		else
			upload_record_drop(o, blobs[i].digest);
		res->blobs_total++;
	}
	r = 0;
	if (total > 0 || nents > 0) {
		struct push_job j;
		pthread_t th[MAX_PUSH_JOBS];
		int nth = 0, t;
		size_t need = 0;
		for (i = 0; i < nents; i++)
			need += blobs[i].needed;
		memset(&j, 0, sizeof(j));
		pthread_mutex_init(&j.mu, NULL);
		j.proto = o;
		j.blobs = blobs;
		j.n = nents;
		j.fd = fd;
		j.chunk = chunk;
		j.mount_from = mount_from;
		rm_err_clear(&j.err);
		if (need > 0) {
			char label[300];
			snprintf(label, sizeof(label), "push %s", ref->repo);
			rm_oci_progress_begin(label, total);
			for (t = 0; t < MAX_PUSH_JOBS && (size_t)t < need; t++)
				if (pthread_create(&th[nth], NULL, push_worker, &j) == 0)
					nth++;
			if (nth == 0)
				push_worker(&j);
			for (t = 0; t < nth; t++)
				pthread_join(th[t], NULL);
			rm_oci_progress_end();
		}
		pthread_mutex_destroy(&j.mu);
		if (j.failed) {
			*err = j.err;
			r = -(err->code ? err->code : RM_EXIT_NETWORK);
			goto out;
		}
		res->blobs_uploaded = j.uploaded;
		res->blobs_mounted = j.mounted;
		res->blobs_resumed = j.resumed;
		res->bytes_uploaded = j.bytes;
	}
	/* the manifest last: the tag never names a package with missing blobs */
	r = rm_oci_manifest_put(o, ref->digest[0] ? ref->digest : ref->tag, text, strlen(text),
	    RM_OCI_MANIFEST_V1, err);
	if (r == 0 && ref->digest[0] && ref->tag[0] && strcmp(ref->digest, res->manifest_digest))
		r = rm_err_set(err, RM_EXIT_INVALID, NULL, NULL, "the manifest's digest is %s, not %s",
		    res->manifest_digest, ref->digest);
out:
	rm_oci_close(o);
	free(text);
	json_decref(man);
	free(blobs);
	free(ents);
	if (fd >= 0)
		close(fd);
	rm_pkg_free(pkg);
	return r;
}

int
rm_oci_package_layout(const json_t *m, const char *where, json_t **files, char pkgdigest[80],
    long long *mtime, struct rm_err *err)
{
	const json_t *cfg = json_object_get(m, "config"), *layers = json_object_get(m, "layers");
	const json_t *ann = json_object_get(m, "annotations"), *l;
	const char *mt = json_string_value(json_object_get(m, "mediaType"));
	const char *at = json_string_value(json_object_get(m, "artifactType"));
	const char *pd = json_string_value(json_object_get(ann, "org.remotemedia.package.digest"));
	const char *ms = json_string_value(json_object_get(ann, "org.remotemedia.package.mtime"));
	json_t *out;
	size_t i;
	int have_contents = 0;

	*files = NULL;
	if (!json_is_object(m) || (mt != NULL && strcmp(mt, RM_OCI_MANIFEST_V1) != 0))
		return rm_err_set(err, RM_EXIT_INVALID, where, "mediaType",
		    "expected an OCI image manifest (%s), got %s", RM_OCI_MANIFEST_V1,
		    mt ? mt : "something else");
	if ((at == NULL || strcmp(at, RM_OCI_ARTIFACT) != 0) &&
	    !json_is_string(json_object_get(cfg, "mediaType")))
		return rm_err_set(err, RM_EXIT_INVALID, where, "artifactType",
		    "expected %s: not a remotemedia package", RM_OCI_ARTIFACT);
	if (strcmp(json_string_value(json_object_get(cfg, "mediaType")) ?
	    json_string_value(json_object_get(cfg, "mediaType")) : "", RM_OCI_CONFIG) != 0)
		return rm_err_set(err, RM_EXIT_INVALID, where, "config.mediaType",
		    "expected %s: not a remotemedia package", RM_OCI_CONFIG);
	if (pd == NULL || !rm_oci_digest_ok(pd))
		return rm_err_set(err, RM_EXIT_INVALID, where,
		    "annotations.org.remotemedia.package.digest", "expected sha256:<64 hex>");
	if (ms == NULL || ms[0] == '\0' || strspn(ms, "0123456789") != strlen(ms))
		return rm_err_set(err, RM_EXIT_INVALID, where,
		    "annotations.org.remotemedia.package.mtime", "expected a decimal time");
	if (!json_is_array(layers))
		return rm_err_set(err, RM_EXIT_INVALID, where, "layers", "expected an array");
	out = json_array();
	for (i = 0; i <= json_array_size(layers); i++) {
		const json_t *d = i == 0 ? cfg : json_array_get(layers, i - 1);
		const char *dg = json_string_value(json_object_get(d, "digest"));
		json_t *sz = json_object_get(d, "size");
		const json_t *la = json_object_get(d, "annotations");
		const char *title = i == 0 ? "manifest.json" :
		    json_string_value(json_object_get(la, "org.opencontainers.image.title"));
		const char *mode = json_string_value(json_object_get(la, "org.remotemedia.file.mode"));
		char field[64];
		l = d;
		snprintf(field, sizeof(field), i == 0 ? "config" : "layers[%zu]", i - 1);
		if (dg == NULL || !rm_oci_digest_ok(dg) || !json_is_integer(sz) ||
		    json_integer_value(sz) < 0 || title == NULL || !rm_pkg_path_ok(title)) {
			json_decref(out);
			return rm_err_set(err, RM_EXIT_INVALID, where, field,
			    "expected digest, size and a safe org.opencontainers.image.title");
		}
		if (i > 0 && strcmp(title, "manifest.json") == 0) {
			json_decref(out);
			return rm_err_set(err, RM_EXIT_INVALID, where, field,
			    "a layer titled manifest.json (that is the config blob)");
		}
		if (strcmp(title, RM_PKG_CONTENTS) == 0) {
			if (strcmp(dg, pd) != 0) {
				json_decref(out);
				return rm_err_set(err, RM_EXIT_INTEGRITY, where, field,
				    "meta/contents.json is %s but the package digest is %s", dg, pd);
			}
			have_contents = 1;
		}
		json_array_append_new(out, json_pack("{ss ss sO si}", "path", title, "digest", dg,
		    "size", sz, "mode", mode && strcmp(mode, "0755") == 0 ? 0755 : 0644));
	}
	(void)l;
	/* archive order: sorted paths, each once */
	{
		size_t n = json_array_size(out), a, b;
		for (a = 1; a < n; a++)
			for (b = a; b > 0 && strcmp(json_string_value(json_object_get(json_array_get(out,
			    b - 1), "path")), json_string_value(json_object_get(json_array_get(out, b),
			    "path"))) > 0; b--) {
				json_t *t = json_incref(json_array_get(out, b));
				json_array_set(out, b, json_array_get(out, b - 1));
				json_array_set_new(out, b - 1, t);
			}
		for (a = 1; a < n; a++)
			if (strcmp(json_string_value(json_object_get(json_array_get(out, a - 1), "path")),
			    json_string_value(json_object_get(json_array_get(out, a), "path"))) == 0) {
				json_decref(out);
				return rm_err_set(err, RM_EXIT_INVALID, where, "layers",
				    "two layers titled '%s'", json_string_value(json_object_get(
				    json_array_get(out, a), "path")));
			}
	}
	if (!have_contents) {
		json_decref(out);
		return rm_err_set(err, RM_EXIT_INVALID, where, "layers", "no meta/contents.json layer");
	}
	snprintf(pkgdigest, 80, "%s", pd);
	*mtime = strtoll(ms, NULL, 10);
	*files = out;
	return 0;
}

int
rm_oci_package_assemble(const json_t *files, long long mtime, const char *blobdir,
    const char *dest, struct rm_err *err)
{
	struct rm_pkg_writer *w;
	const json_t *f;
	size_t i;
	int r;

	if ((r = rm_pkg_writer_open(dest, (time_t)mtime, &w, err)) != 0)
		return r;
	json_array_foreach(files, i, f) {
		char src[PATH_MAX];
		const char *dg = json_string_value(json_object_get(f, "digest"));
		if ((r = rm_path(src, sizeof(src), err, "%s/%s", blobdir, dg + 7)) != 0 ||
		    (r = rm_pkg_writer_add_file(w, json_string_value(json_object_get(f, "path")), src,
		    (uint64_t)json_integer_value(json_object_get(f, "size")), NULL,
		    (int)json_integer_value(json_object_get(f, "mode")), err)) != 0) {
			rm_pkg_writer_abort(w);
			return r;
		}
	}
	return rm_pkg_writer_commit(w, NULL, err);
}
