/*
 * HTTP on libcurl for the registry client: retries, TLS, Basic and Bearer
 * auth. libcurl is loaded with dlopen on first use, so that a tool that does
 * not touch the network (a cache hit, a plan, an inspect of a local file)
 * starts without it and its dozens of dependencies.
 */
#include "config.h"

#include <ctype.h>
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* the types and constants only: the functions come from rm_http_load() */
#define CURL_DISABLE_TYPECHECK
#define CURL_DISABLE_DEPRECATION
#include <curl/curl.h>
#include <jansson.h>

#include "rm_http.h"
#include "rm_lazy.h"
#include "rm_log.h"

#define ERR_BODY_MAX ((size_t)1 << 20)
#define MEM_BODY_MAX ((size_t)64 << 20)
#define NTOKENS 8

struct token {
	char scope[512];
	char *value;
};

struct rm_http {
	CURL *c;
	char base[512];
	int insecure;
	struct rm_cred cred;
	int use_basic;		/* the registry asked for Basic: send it at once */
	struct token tokens[NTOKENS];
	int ntok;
	char errbuf[CURL_ERROR_SIZE];
	char *cacert, *cert, *key;	/* TLS files (rm_http_set_tls) */
	char *raw_auth;			/* rm_http_set_authorization: sent as is */
	int pass_401;			/* 401 answers go back to the caller */
};

/* libcurl's functions, from the library rm_http_load() opened */
static struct {
	CURLcode (*global_init)(long);
	curl_version_info_data *(*version_info)(CURLversion);
	CURL *(*easy_init)(void);
	void (*easy_cleanup)(CURL *);
	void (*easy_reset)(CURL *);
	CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
	CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
	CURLcode (*easy_perform)(CURL *);
	const char *(*easy_strerror)(CURLcode);
	char *(*easy_escape)(CURL *, const char *, int);
	void (*free)(void *);
	struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
	void (*slist_free_all)(struct curl_slist *);
	unsigned int version;	/* of the library loaded, as LIBCURL_VERSION_NUM */
} cu;
static struct rm_lazy curl_lib = RM_LAZY_INIT(RM_SONAME_CURL);
static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static char load_error[600];	/* empty once loaded */

static void
load_curl(void)
{
	const char *name = secure_getenv("RM_LIBCURL");	/* never for setuid */
	const char *missing = NULL;
	curl_version_info_data *vi;
	void *dl;

	if (name != NULL && *name != '\0')
		curl_lib.soname = name;
	name = curl_lib.soname;
	if ((dl = rm_lazy_open(&curl_lib)) == NULL) {
		snprintf(load_error, sizeof(load_error), "cannot load libcurl: %s", curl_lib.error);
		return;
	}
#define SYM(f) do { if (missing == NULL && \
	    (cu.f = (__typeof__(cu.f))dlsym(dl, "curl_" #f)) == NULL) missing = "curl_" #f; } while (0)
	SYM(global_init); SYM(version_info); SYM(easy_init); SYM(easy_cleanup);
	SYM(easy_reset); SYM(easy_setopt); SYM(easy_getinfo); SYM(easy_perform);
	SYM(easy_strerror); SYM(easy_escape); SYM(free); SYM(slist_append);
	SYM(slist_free_all);
#undef SYM
	if (missing != NULL) {
		snprintf(load_error, sizeof(load_error), "%s is not libcurl: it has no %s", name,
		    missing);
		return;
	}
	vi = cu.version_info(CURLVERSION_NOW);
	cu.version = vi != NULL ? vi->version_num : 0;
	if (cu.version < 0x074400) {
		snprintf(load_error, sizeof(load_error), "%s is libcurl %s; 7.68 or later is needed",
		    name, vi != NULL && vi->version ? vi->version : "of unknown version");
		return;
	}
	if (cu.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		snprintf(load_error, sizeof(load_error), "%s: curl_global_init failed", name);
		return;
	}
	load_error[0] = '\0';
}

int
rm_http_load(struct rm_err *err)
{
	pthread_once(&load_once, load_curl);
	if (load_error[0] != '\0')
		return rm_err_set(err, RM_EXIT_NETWORK, NULL, NULL,
		    "%s (registry access needs " RM_SONAME_CURL ", or the library RM_LIBCURL names)",
		    load_error);
	return 0;
}

struct rm_http *
rm_http_new(const char *base, int insecure, const struct rm_cred *cred)
{
	struct rm_http *h;
	struct rm_err e;

	if (rm_http_load(&e) != 0)
		return NULL;
	h = calloc(1, sizeof(*h));
	if (h == NULL)
		return NULL;
	if ((h->c = cu.easy_init()) == NULL) {
		free(h);
		return NULL;
	}
	snprintf(h->base, sizeof(h->base), "%s", base);
	h->insecure = insecure;
	if (cred != NULL)
		h->cred = *cred;
	return h;
}

struct rm_http *
rm_http_dup(const struct rm_http *o)
{
	struct rm_http *h = rm_http_new(o->base, o->insecure, &o->cred);
	int i;

	if (h == NULL)
		return NULL;
	h->use_basic = o->use_basic;
	for (i = 0; i < o->ntok; i++) {
		snprintf(h->tokens[i].scope, sizeof(h->tokens[i].scope), "%s", o->tokens[i].scope);
		h->tokens[i].value = o->tokens[i].value ? strdup(o->tokens[i].value) : NULL;
	}
	h->ntok = o->ntok;
	if (rm_http_set_tls(h, o->cacert, o->cert, o->key) != 0 ||
	    (o->pass_401 && rm_http_set_authorization(h, o->raw_auth) != 0)) {
		rm_http_free(h);
		return NULL;
	}
	return h;
}

/* *dst = a copy of src (NULL stays NULL); -1 out of memory */
static int
set_str(char **dst, const char *src)
{
	char *c = src != NULL ? strdup(src) : NULL;

	if (src != NULL && c == NULL)
		return -1;
	free(*dst);
	*dst = c;
	return 0;
}

int
rm_http_set_tls(struct rm_http *h, const char *cacert, const char *cert, const char *key)
{
	return set_str(&h->cacert, cacert) | set_str(&h->cert, cert) | set_str(&h->key, key);
}

int
rm_http_set_authorization(struct rm_http *h, const char *value)
{
	if (h->raw_auth != NULL)
		memset(h->raw_auth, 0, strlen(h->raw_auth));
	h->pass_401 = 1;
	return set_str(&h->raw_auth, value);
}

void
rm_http_free(struct rm_http *h)
{
	int i;

	if (h == NULL)
		return;
	cu.easy_cleanup(h->c);
	for (i = 0; i < h->ntok; i++) {
		if (h->tokens[i].value != NULL) {
			memset(h->tokens[i].value, 0, strlen(h->tokens[i].value));
			free(h->tokens[i].value);
		}
	}
	rm_cred_wipe(&h->cred);
	rm_http_set_authorization(h, NULL);
	free(h->cacert);
	free(h->cert);
	free(h->key);
	free(h);
}

const char *
rm_http_base(const struct rm_http *h)
{
	return h->base;
}

void
rm_http_resp_release(struct rm_http_resp *resp)
{
	free(resp->body);
	memset(resp, 0, sizeof(*resp));
}

int
rm_http_retries(void)
{
	const char *s = getenv("RM_HTTP_RETRIES");
	int n = s ? atoi(s) : 5;

	return n < 0 ? 0 : n > 20 ? 20 : n;
}

/* 200 ms, doubled for each attempt after the first, at most 3 s. */
static long
backoff_ms(int attempt)
{
	long ms = 200;

	while (--attempt > 0 && ms < 3000)
		ms *= 2;
	return ms > 3000 ? 3000 : ms;
}

void
rm_http_backoff(int attempt)
{
	long ms = backoff_ms(attempt);
	struct timespec ts;

	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* ---- one transfer ------------------------------------------------------ */

struct xfer {
	struct rm_http *h;
	const struct rm_http_req *req;
	struct rm_http_resp *resp;
	uint64_t sent;
	size_t cap;
	int sink_failed, sink_stopped;
	char www_auth[2048];
	long retry_after;
};

static size_t
read_cb(char *buf, size_t size, size_t nmemb, void *p)
{
	struct xfer *x = p;
	const struct rm_http_req *q = x->req;
	uint64_t total = q->body_fd >= 0 ? q->body_size : q->body_len;
	size_t want = size * nmemb, n;

	if (x->sent >= total)
		return 0;
	if (want > total - x->sent)
		want = (size_t)(total - x->sent);
	if (q->body_fd >= 0) {
		ssize_t got;
		do
			got = pread(q->body_fd, buf, want, (off_t)(q->body_off + x->sent));
		while (got < 0 && errno == EINTR);
		if (got <= 0)
			return CURL_READFUNC_ABORT;
		n = (size_t)got;
	} else {
		memcpy(buf, (const char *)q->body + x->sent, want);
		n = want;
	}
	x->sent += n;
	if (q->on_bytes != NULL)
		q->on_bytes(q->bytes_ctx, n);
	return n;
}

static int
seek_cb(void *p, curl_off_t off, int origin)
{
	struct xfer *x = p;

	if (origin != SEEK_SET || off < 0)
		return CURL_SEEKFUNC_CANTSEEK;
	x->sent = (uint64_t)off;
	return CURL_SEEKFUNC_OK;
}

static int
buf_append(struct xfer *x, const char *data, size_t len, size_t max)
{
	struct rm_http_resp *r = x->resp;

	if (r->body_len + len > max)
		return -1;
	if (r->body_len + len + 1 > x->cap) {
		size_t ncap = x->cap ? x->cap : 4096;
		char *nb;
		while (ncap < r->body_len + len + 1)
			ncap *= 2;
		if ((nb = realloc(r->body, ncap)) == NULL)
			return -1;
		r->body = nb;
		x->cap = ncap;
	}
	memcpy(r->body + r->body_len, data, len);
	r->body_len += len;
	r->body[r->body_len] = '\0';
	return 0;
}

static size_t
write_cb(char *data, size_t size, size_t nmemb, void *p)
{
	struct xfer *x = p;
	size_t len = size * nmemb;
	long code = 0;

	cu.easy_getinfo(x->h->c, CURLINFO_RESPONSE_CODE, &code);
	if (code >= 200 && code < 300 && x->req->sink != NULL) {
		int r = x->req->sink(x->req->sink_ctx, code, data, len);
		if (r == 1)
			x->sink_stopped = 1;
		if (r != 0) {
			x->sink_failed = r != 1;
			return 0;
		}
		x->resp->received += len;
		return len;
	}
	if (buf_append(x, data, len, code >= 200 && code < 300 ? MEM_BODY_MAX : ERR_BODY_MAX) != 0)
		return code >= 200 && code < 300 ? 0 : len;	/* error bodies: keep the start */
	return len;
}

static void
copy_value(char *dst, size_t size, const char *v, size_t len)
{
	while (len > 0 && (v[len - 1] == '\r' || v[len - 1] == '\n' || v[len - 1] == ' '))
		len--;
	while (len > 0 && (*v == ' ' || *v == '\t')) {
		v++;
		len--;
	}
	if (len >= size)
		len = size - 1;
	memcpy(dst, v, len);
	dst[len] = '\0';
}

static size_t
header_cb(char *data, size_t size, size_t nmemb, void *p)
{
	struct xfer *x = p;
	struct rm_http_resp *r = x->resp;
	size_t len = size * nmemb;
	const char *colon = memchr(data, ':', len);
	size_t klen;

	if (len >= 5 && strncmp(data, "HTTP/", 5) == 0) {
		/* a new answer (after 100 Continue, a redirect or a 401) */
		r->location[0] = r->digest[0] = r->range[0] = r->content_type[0] = '\0';
		r->has_length = 0;
		x->www_auth[0] = '\0';
		x->retry_after = 0;
		return len;
	}
	if (colon == NULL)
		return len;
	klen = (size_t)(colon - data);
#define IS(k) (klen == sizeof(k) - 1 && strncasecmp(data, k, klen) == 0)
	if (IS("location"))
		copy_value(r->location, sizeof(r->location), colon + 1, len - klen - 1);
	else if (IS("docker-content-digest"))
		copy_value(r->digest, sizeof(r->digest), colon + 1, len - klen - 1);
	else if (IS("range"))
		copy_value(r->range, sizeof(r->range), colon + 1, len - klen - 1);
	else if (IS("content-type"))
		copy_value(r->content_type, sizeof(r->content_type), colon + 1, len - klen - 1);
	else if (IS("www-authenticate"))
		copy_value(x->www_auth, sizeof(x->www_auth), colon + 1, len - klen - 1);
	else if (IS("retry-after")) {
		char v[32];
		copy_value(v, sizeof(v), colon + 1, len - klen - 1);
		x->retry_after = atol(v);
	} else if (IS("content-length")) {
		char v[32];
		copy_value(v, sizeof(v), colon + 1, len - klen - 1);
		r->content_length = strtoull(v, NULL, 10);
		r->has_length = 1;
	}
#undef IS
	return len;
}

static void
absolute_url(const struct rm_http *h, const char *u, char *out, size_t size)
{
	if (strncmp(u, "http://", 7) == 0 || strncmp(u, "https://", 8) == 0)
		snprintf(out, size, "%s", u);
	else
		snprintf(out, size, "%s%s%s", h->base, u[0] == '/' ? "" : "/", u);
}

/*
 * "scheme://host:port" of an http or https URL, lower case, with the default
 * port made explicit; -1 for anything else (userinfo included).
 */
static int
url_origin(const char *u, char *out, size_t size)
{
	const char *p, *auth;
	size_t n, i;
	int https;

	if (strncasecmp(u, "https://", 8) == 0)
		https = 1;
	else if (strncasecmp(u, "http://", 7) == 0)
		https = 0;
	else
		return -1;
	auth = u + (https ? 8 : 7);
	n = strcspn(auth, "/?#");
	if (n == 0 || memchr(auth, '@', n) != NULL || n + 16 >= size)
		return -1;
	p = https ? "https://" : "http://";
	snprintf(out, size, "%s", p);
	for (i = 0; i < n; i++)
		out[strlen(p) + i] = (char)tolower((unsigned char)auth[i]);
	out[strlen(p) + n] = '\0';
	if (auth[n - 1] != ']' && memchr(auth, ':', n) != NULL) {
		/* a port given: drop an explicit default one */
		size_t l = strlen(out);
		const char *def = https ? ":443" : ":80";
		if (l > strlen(def) && strcmp(out + l - strlen(def), def) == 0)
			out[l - strlen(def)] = '\0';
	}
	return 0;
}

/* Is u on the registry's own scheme, host and port? Only such URLs get credentials. */
static int
own_origin(const struct rm_http *h, const char *u)
{
	char a[600], b[600];

	return url_origin(h->base, a, sizeof(a)) == 0 && url_origin(u, b, sizeof(b)) == 0 &&
	    strcmp(a, b) == 0;
}

/* The target of a redirect from cur: an absolute http(s) URL, or a path on cur's origin. */
static int
redirect_target(const char *cur, const char *loc, char *out, size_t size)
{
	char o[600];

	if (strncasecmp(loc, "http://", 7) == 0 || strncasecmp(loc, "https://", 8) == 0) {
		if (url_origin(loc, o, sizeof(o)) != 0)
			return -1;
		snprintf(out, size, "%s", loc);
		return 0;
	}
	if (loc[0] != '/' || loc[1] == '/' || url_origin(cur, o, sizeof(o)) != 0)
		return -1;
	snprintf(out, size, "%s%s", o, loc);
	return 0;
}

static const char *
token_for(const struct rm_http *h, const char *scope)
{
	int i;

	for (i = 0; i < h->ntok; i++)
		if (strcmp(h->tokens[i].scope, scope ? scope : "") == 0)
			return h->tokens[i].value;
	return NULL;
}

static void
token_set(struct rm_http *h, const char *scope, char *value)
{
	int i;

	for (i = 0; i < h->ntok; i++)
		if (strcmp(h->tokens[i].scope, scope ? scope : "") == 0)
			break;
	if (i == NTOKENS) {
		i = NTOKENS - 1;	/* replace the last one */
	}
	if (i == h->ntok)
		h->ntok++;
	if (h->tokens[i].value != NULL) {
		memset(h->tokens[i].value, 0, strlen(h->tokens[i].value));
		free(h->tokens[i].value);
	}
	snprintf(h->tokens[i].scope, sizeof(h->tokens[i].scope), "%s", scope ? scope : "");
	h->tokens[i].value = value;
}

/* One value of a WWW-Authenticate challenge: key="value" (quotes optional). */
int
rm_http_challenge_param(const char *ch, const char *key, char *out, size_t size)
{
	const char *p = ch;
	size_t kl = strlen(key);

	while ((p = strcasestr(p, key)) != NULL) {
		if ((p == ch || p[-1] == ' ' || p[-1] == ',') && p[kl] == '=') {
			const char *v = p + kl + 1;
			size_t n = 0;
			if (*v == '"') {
				v++;
				while (v[n] != '\0' && v[n] != '"')
					n++;
			} else {
				while (v[n] != '\0' && v[n] != ',' && v[n] != ' ')
					n++;
			}
			if (n >= size)
				n = size - 1;
			memcpy(out, v, n);
			out[n] = '\0';
			return 0;
		}
		p += kl;
	}
	return -1;
}

/* A stream's check between chunks: non-zero aborts the transfer (cleanly). */
static int
xferinfo_cb(void *p, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
    curl_off_t ulnow)
{
	struct xfer *x = p;

	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	if (x->req->keep_going(x->req->keep_ctx))
		return 0;
	x->sink_stopped = 1;
	return 1;
}

static void
common_opts(struct rm_http *h, struct xfer *x)
{
	CURL *c = h->c;

	cu.easy_reset(c);
	cu.easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	cu.easy_setopt(c, CURLOPT_ERRORBUFFER, h->errbuf);
	cu.easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
	if (!x->req->stream) {
		cu.easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
		cu.easy_setopt(c, CURLOPT_LOW_SPEED_TIME, getenv("RM_HTTP_STALL") ?
		    atol(getenv("RM_HTTP_STALL")) : 30L);
	}
	if (x->req->keep_going != NULL) {
		cu.easy_setopt(c, CURLOPT_XFERINFOFUNCTION, xferinfo_cb);
		cu.easy_setopt(c, CURLOPT_XFERINFODATA, x);
		cu.easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	}
	cu.easy_setopt(c, CURLOPT_USERAGENT, "remotemedia/" PACKAGE_VERSION);
	cu.easy_setopt(c, CURLOPT_WRITEFUNCTION, write_cb);
	cu.easy_setopt(c, CURLOPT_WRITEDATA, x);
	cu.easy_setopt(c, CURLOPT_HEADERFUNCTION, header_cb);
	cu.easy_setopt(c, CURLOPT_HEADERDATA, x);
	/* redirects are followed by rm_http_do, which decides what they carry */
	cu.easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	cu.easy_setopt(c, CURLOPT_UNRESTRICTED_AUTH, 0L);
	cu.easy_setopt(c, CURLOPT_BUFFERSIZE, 512L * 1024L);
	cu.easy_setopt(c, CURLOPT_UPLOAD_BUFFERSIZE, 2L * 1024L * 1024L);
#if LIBCURL_VERSION_NUM >= 0x075500
	if (cu.version >= 0x075500) {
		cu.easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
		cu.easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	} else
#endif
	{
		cu.easy_setopt(c, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
		cu.easy_setopt(c, CURLOPT_REDIR_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
	}
	if (h->cacert != NULL)
		cu.easy_setopt(c, CURLOPT_CAINFO, h->cacert);
	if (h->cert != NULL)
		cu.easy_setopt(c, CURLOPT_SSLCERT, h->cert);
	if (h->key != NULL)
		cu.easy_setopt(c, CURLOPT_SSLKEY, h->key);
	if (h->insecure) {
		cu.easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
		cu.easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
	}
}

/* Asks the realm for a token; stores it under scope. */
static int
fetch_token(struct rm_http *h, const char *challenge, const char *scope, struct rm_err *err)
{
	char realm[1024], service[256], chscope[512], url[4096];
	struct rm_http_resp resp;
	struct xfer x;
	CURLcode cc;
	json_t *doc;
	json_error_t je;
	const char *tok;
	char *e1, *e2;
	int r;

	if (rm_http_challenge_param(challenge, "realm", realm, sizeof(realm)) != 0)
		return rm_err_set(err, RM_EXIT_NETWORK, h->base, NULL,
		    "the registry asks for a Bearer token but names no realm");
	if (strncmp(realm, "https://", 8) != 0 && strncmp(realm, "http://", 7) != 0)
		return rm_err_set(err, RM_EXIT_NETWORK, h->base, NULL, "token realm is not a URL");
	if (strncmp(realm, "http://", 7) == 0 && strncmp(h->base, "http://", 7) != 0 &&
	    !h->insecure)
		return rm_err_set(err, RM_EXIT_NETWORK, h->base, NULL,
		    "refusing to send credentials to a plain-HTTP token realm (use --insecure)");
	if (rm_http_challenge_param(challenge, "service", service, sizeof(service)) != 0)
		service[0] = '\0';
	if (rm_http_challenge_param(challenge, "scope", chscope, sizeof(chscope)) != 0)
		chscope[0] = '\0';
	e1 = cu.easy_escape(h->c, service, 0);
	snprintf(url, sizeof(url), "%s%sservice=%s", realm, strchr(realm, '?') ? "&" : "?",
	    e1 ? e1 : "");
	cu.free(e1);
	{
		/* the scopes asked for, and the one the challenge names */
		char all[1100], *save = NULL, *s;
		snprintf(all, sizeof(all), "%s %s", scope ? scope : "", chscope);
		for (s = strtok_r(all, " ", &save); s != NULL; s = strtok_r(NULL, " ", &save)) {
			size_t ul = strlen(url);
			e2 = cu.easy_escape(h->c, s, 0);
			if (e2 != NULL && strstr(url, e2) == NULL)
				snprintf(url + ul, sizeof(url) - ul, "&scope=%s", e2);
			cu.free(e2);
		}
	}
	memset(&resp, 0, sizeof(resp));
	memset(&x, 0, sizeof(x));
	x.h = h;
	x.resp = &resp;
	{
		struct rm_http_req q;
		memset(&q, 0, sizeof(q));
		q.body_fd = -1;
		x.req = &q;
		common_opts(h, &x);
		cu.easy_setopt(h->c, CURLOPT_URL, url);
		cu.easy_setopt(h->c, CURLOPT_HTTPGET, 1L);
		if (h->cred.have) {
			cu.easy_setopt(h->c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
			cu.easy_setopt(h->c, CURLOPT_USERNAME, h->cred.username);
			cu.easy_setopt(h->c, CURLOPT_PASSWORD, h->cred.password);
		}
		cc = cu.easy_perform(h->c);
		cu.easy_getinfo(h->c, CURLINFO_RESPONSE_CODE, &resp.status);
	}
	rm_debug("token GET %s -> %ld", url, cc == CURLE_OK ? resp.status : -1L);
	if (cc != CURLE_OK) {
		r = rm_err_set(err, RM_EXIT_NETWORK, realm, NULL, "token request failed: %s",
		    cu.easy_strerror(cc));
		rm_http_resp_release(&resp);
		return r;
	}
	if (resp.status == 401 || resp.status == 403) {
		r = rm_err_set(err, RM_EXIT_NETWORK, h->base, NULL,
		    "authentication failed%s%s%s%s", h->cred.have ? " for user '" : " (no credentials",
		    h->cred.have ? h->cred.username : ")", h->cred.have ? "' from " : "",
		    h->cred.have ? h->cred.source : "");
		rm_http_resp_release(&resp);
		return r;
	}
	doc = resp.body ? json_loads(resp.body, 0, &je) : NULL;
	if (resp.body)
		memset(resp.body, 0, resp.body_len);
	tok = json_string_value(json_object_get(doc, "token"));
	if (tok == NULL)
		tok = json_string_value(json_object_get(doc, "access_token"));
	if (resp.status != 200 || tok == NULL) {
		json_decref(doc);
		r = rm_err_set(err, RM_EXIT_NETWORK, realm, NULL,
		    "token service answered %ld without a token", resp.status);
		rm_http_resp_release(&resp);
		return r;
	}
	token_set(h, scope, strdup(tok));
	json_decref(doc);
	rm_http_resp_release(&resp);
	return 0;
}

static int
retryable_status(long s)
{
	return s == 429 || s == 500 || s == 502 || s == 503 || s == 504;
}

static int
retryable_curl(CURLcode cc)
{
	switch (cc) {
	case CURLE_COULDNT_CONNECT: case CURLE_OPERATION_TIMEDOUT: case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR: case CURLE_GOT_NOTHING: case CURLE_PARTIAL_FILE:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_HTTP2: case CURLE_HTTP2_STREAM: case CURLE_READ_ERROR:
		return 1;
	default:
		return 0;
	}
}

/*
 * The request's headers; Authorization (the session's token for the scope, or
 * Basic once the registry asked for it) only when url is on the registry's own
 * origin.
 */
static struct curl_slist *
request_headers(struct rm_http *h, const struct rm_http_req *req, const char *url)
{
	char authz[8300], hdr[4400];
	struct curl_slist *hl = cu.slist_append(NULL, "Expect:");
	const char *tok = token_for(h, req->scope);

#define ADD(name, v) do { if ((v) != NULL) { \
		snprintf(hdr, sizeof(hdr), name ": %s", (v)); \
		hl = cu.slist_append(hl, hdr); } } while (0)
	ADD("Accept", req->accept);
	ADD("Content-Type", req->content_type);
	ADD("Range", req->range);
	ADD("Content-Range", req->content_range);
#undef ADD
	if (!own_origin(h, url))
		return hl;
	authz[0] = '\0';
	if (h->raw_auth != NULL)
		snprintf(authz, sizeof(authz), "Authorization: %s", h->raw_auth);
	else if (tok != NULL)
		snprintf(authz, sizeof(authz), "Authorization: Bearer %s", tok);
	else if (h->use_basic && h->cred.have) {
		memcpy(authz, "Authorization: ", 15);
		if (rm_cred_basic(&h->cred, authz + 15, sizeof(authz) - 15) != 0)
			authz[0] = '\0';
	}
	if (authz[0])
		hl = cu.slist_append(hl, authz);
	memset(authz, 0, sizeof(authz));
	return hl;
}

static void
request_method(struct rm_http *h, const struct rm_http_req *req, struct xfer *x)
{
	const char *m = req->method;
	int has_body = req->body_fd >= 0 || req->body != NULL;
	uint64_t blen = req->body_fd >= 0 ? req->body_size : req->body_len;

	if (strcmp(m, "HEAD") == 0) {
		cu.easy_setopt(h->c, CURLOPT_NOBODY, 1L);
	} else if (strcmp(m, "GET") == 0) {
		cu.easy_setopt(h->c, CURLOPT_HTTPGET, 1L);
	} else if (strcmp(m, "POST") == 0 && !has_body) {
		cu.easy_setopt(h->c, CURLOPT_POST, 1L);
		cu.easy_setopt(h->c, CURLOPT_POSTFIELDSIZE, 0L);
	} else {
		cu.easy_setopt(h->c, CURLOPT_UPLOAD, 1L);
		cu.easy_setopt(h->c, CURLOPT_CUSTOMREQUEST, m);
		cu.easy_setopt(h->c, CURLOPT_READFUNCTION, read_cb);
		cu.easy_setopt(h->c, CURLOPT_READDATA, x);
		cu.easy_setopt(h->c, CURLOPT_SEEKFUNCTION, seek_cb);
		cu.easy_setopt(h->c, CURLOPT_SEEKDATA, x);
		cu.easy_setopt(h->c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)(has_body ? blen : 0));
	}
}

static int
is_redirect(long s)
{
	return s == 301 || s == 302 || s == 303 || s == 307 || s == 308;
}

static int
auth_failed(const struct rm_http *h, struct rm_err *err)
{
	return rm_err_set(err, RM_EXIT_NETWORK, h->base, NULL,
	    "authentication failed%s%s%s%s", h->cred.have ? " for user '" :
	    " (no credentials found", h->cred.have ? h->cred.username : ")",
	    h->cred.have ? "' from " : "", h->cred.have ? h->cred.source : "");
}

/*
 * A 401: answers the registry's own challenge (Bearer: a token from its
 * realm; Basic: the credentials from now on). 0 to send the request again.
 * A challenge from a host a redirect led to is refused: the registry's
 * credentials and tokens never go to another host, nor does a token
 * issued elsewhere come back to the registry.
 */
static int
answer_challenge(struct rm_http *h, const struct rm_http_req *req, const char *url,
    const char *www, int *auth_tries, struct rm_err *err)
{
	char o[600];

	if (!own_origin(h, url)) {
		if (url_origin(url, o, sizeof(o)) != 0)
			snprintf(o, sizeof(o), "another host");
		return rm_err_set(err, RM_EXIT_NETWORK, h->base, NULL,
		    "%s %s was redirected to %s, which asks for authentication; "
		    "the registry's credentials are not sent to another host",
		    req->method, req->url, o);
	}
	if (*auth_tries >= 2)
		return auth_failed(h, err);
	(*auth_tries)++;
	if (strncasecmp(www, "Bearer", 6) == 0)
		return fetch_token(h, www + 6, req->scope, err);
	if (strncasecmp(www, "Basic", 5) == 0 && h->cred.have && !h->use_basic) {
		h->use_basic = 1;
		return 0;
	}
	return auth_failed(h, err);
}

/* -vv: the URL without its query, which may carry a signature. */
static void
debug_url(const char *m, const char *url, long status, const char *why)
{
	rm_debug("%s %.*s -> %ld%s%s", m, (int)strcspn(url, "?#"), url, status,
	    why ? ": " : "", why ? why : "");
}

static int http_exchange(struct rm_http *h, const struct rm_http_req *req,
    struct rm_http_resp *resp, struct rm_err *err);

/*
 * On failure the answer's body (an error page) is freed here, so that no
 * caller's early return leaks it; status and transport_error stay for the
 * callers that decide on them.
 */
int
rm_http_do(struct rm_http *h, const struct rm_http_req *req, struct rm_http_resp *resp,
    struct rm_err *err)
{
	int r = http_exchange(h, req, resp, err);

	if (r != 0) {
		free(resp->body);
		resp->body = NULL;
		resp->body_len = 0;
	}
	return r;
}

static int
http_exchange(struct rm_http *h, const struct rm_http_req *req, struct rm_http_resp *resp,
    struct rm_err *err)
{
	char first[4096], url[4096], next[4096];
	int attempt = 0, auth_tries = 0, hops = 0, r;
	int retries = req->once ? 0 : rm_http_retries();
	struct curl_slist *hl;
	struct xfer x;
	CURLcode cc;
	const char *m = req->method;

	memset(resp, 0, sizeof(*resp));
	absolute_url(h, req->url, first, sizeof(first));
	snprintf(url, sizeof(url), "%s", first);
	for (;;) {
		rm_http_resp_release(resp);
		memset(&x, 0, sizeof(x));
		x.h = h;
		x.req = req;
		x.resp = resp;
		common_opts(h, &x);
		cu.easy_setopt(h->c, CURLOPT_URL, url);
		hl = request_headers(h, req, url);
		cu.easy_setopt(h->c, CURLOPT_HTTPHEADER, hl);
		request_method(h, req, &x);
		cc = cu.easy_perform(h->c);
		cu.slist_free_all(hl);
		if (cc == CURLE_OK)
			cu.easy_getinfo(h->c, CURLINFO_RESPONSE_CODE, &resp->status);
		debug_url(m, url, cc == CURLE_OK ? resp->status : -1L, cc == CURLE_OK ? NULL :
		    h->errbuf[0] ? h->errbuf : cu.easy_strerror(cc));
		if (resp->location[0]) {
			char abs[4096];
			if (redirect_target(url, resp->location, abs, sizeof(abs)) != 0)
				absolute_url(h, resp->location, abs, sizeof(abs));
			snprintf(resp->location, sizeof(resp->location), "%s", abs);
		}
		if (x.sink_failed)
			return rm_err_set(err, RM_EXIT_INTERNAL, url, NULL, "cannot store the response");
		if (x.sink_stopped) {
			resp->stopped = 1;
			if (resp->status == 0)
				cu.easy_getinfo(h->c, CURLINFO_RESPONSE_CODE, &resp->status);
			return 0;
		}
		if (cc != CURLE_OK) {
			resp->transport_error = 1;
			if (retryable_curl(cc) && attempt < retries && resp->received == 0) {
				attempt++;
				rm_note("registry: %s %s: %s; retrying %d/%d in %g s", m, first,
				    cu.easy_strerror(cc), attempt, retries, backoff_ms(attempt) / 1000.0);
				rm_http_backoff(attempt);
				snprintf(url, sizeof(url), "%s", first);
				continue;
			}
			return rm_err_set(err, RM_EXIT_NETWORK, first, NULL, "%s failed: %s", m,
			    h->errbuf[0] ? h->errbuf : cu.easy_strerror(cc));
		}
		if (strcmp(m, "GET") == 0 && is_redirect(resp->status) && resp->location[0]) {
			if (++hops > 5 || redirect_target(url, resp->location, next, sizeof(next)) != 0)
				return rm_err_set(err, RM_EXIT_NETWORK, first, NULL,
				    hops > 5 ? "too many redirects" : "redirected to a URL that is not "
				    "http or https");
			snprintf(url, sizeof(url), "%s", next);
			continue;
		}
		if (resp->status == 401 && !h->pass_401) {
			if ((r = answer_challenge(h, req, url, x.www_auth, &auth_tries, err)) != 0)
				return r;
			snprintf(url, sizeof(url), "%s", first);
			hops = 0;
			continue;
		}
		if (retryable_status(resp->status) && attempt < retries) {
			attempt++;
			rm_note("registry: %s %s: HTTP %ld; retrying %d/%d in %g s", m, first,
			    resp->status, attempt, retries, x.retry_after > 0 && x.retry_after <= 3 ?
			    (double)x.retry_after : backoff_ms(attempt) / 1000.0);
			if (x.retry_after > 0 && x.retry_after <= 3) {
				sleep((unsigned)x.retry_after);
			} else
				rm_http_backoff(attempt);
			snprintf(url, sizeof(url), "%s", first);
			hops = 0;
			continue;
		}
		return 0;
	}
}

int
rm_http_post_json(struct rm_http *h, const char *path, const json_t *body, long *status,
    json_t **out, struct rm_err *err)
{
	struct rm_http_req req;
	struct rm_http_resp resp;
	char *text = json_dumps(body, JSON_COMPACT);
	int r;

	*out = NULL;
	*status = 0;
	if (text == NULL)
		return rm_err_set(err, RM_EXIT_INTERNAL, path, NULL, "cannot encode the request");
	memset(&req, 0, sizeof(req));
	req.method = "POST";
	req.url = path;
	req.content_type = "application/json";
	req.accept = "application/json";
	req.body = text;
	req.body_len = strlen(text);
	req.body_fd = -1;
	req.once = 1;
	r = rm_http_do(h, &req, &resp, err);
	free(text);
	if (r != 0)
		return r;
	*status = resp.status;
	if (resp.body != NULL)
		*out = json_loadb(resp.body, resp.body_len, 0, NULL);
	rm_http_resp_release(&resp);
	return 0;
}
