/*
 * etcd v3 through its HTTP/JSON gateway (rm_etcd.h). Every request is a
 * POST of a JSON object; bytes fields (key, value, range_end) are base64,
 * int64 fields (ID, lease, TTL) are sent and received as decimal strings.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rm_crypto.h"
#include "rm_etcd.h"
#include "rm_http.h"
#include "rm_log.h"

struct rm_etcd {
	char **eps;
	struct rm_http **h;	/* one session an endpoint, made on first use */
	size_t n, cur;		/* cur: the endpoint that answered last */
	long status;		/* of the last answer */
	int tls;
	char *cacert, *cert, *key, *user, *password;
};

static char *
dup_or_null(const char *s)
{
	return s != NULL ? strdup(s) : NULL;
}

struct rm_etcd *
rm_etcd_open(const char *const *endpoints, size_t n, const struct rm_etcd_conf *conf,
    struct rm_err *err)
{
	struct rm_etcd *e;
	size_t i;

	if (rm_http_load(err) != 0)
		return NULL;
	if (n == 0 || (e = calloc(1, sizeof(*e))) == NULL) {
		rm_err_set(err, RM_EXIT_INTERNAL, NULL, NULL, "no etcd endpoint");
		return NULL;
	}
	e->eps = calloc(n, sizeof(*e->eps));
	e->h = calloc(n, sizeof(*e->h));
	if (e->eps == NULL || e->h == NULL) {
		free(e->eps);
		free(e->h);
		free(e);
		rm_err_set(err, RM_EXIT_INTERNAL, NULL, NULL, "out of memory");
		return NULL;
	}
	e->n = n;
	for (i = 0; i < n; i++)
		e->eps[i] = strdup(endpoints[i]);
	if (conf != NULL) {
		e->tls = conf->tls;
		e->cacert = dup_or_null(conf->cacert);
		e->cert = dup_or_null(conf->cert);
		e->key = dup_or_null(conf->key);
		e->user = dup_or_null(conf->user);
		e->password = dup_or_null(conf->password);
	}
	return e;
}

void
rm_etcd_close(struct rm_etcd *e)
{
	size_t i;

	if (e == NULL)
		return;
	for (i = 0; i < e->n; i++) {
		rm_http_free(e->h[i]);
		free(e->eps[i]);
	}
	free(e->h);
	free(e->eps);
	free(e->cacert);
	free(e->cert);
	free(e->key);
	free(e->user);
	if (e->password != NULL)
		memset(e->password, 0, strlen(e->password));
	free(e->password);
	free(e);
}

/* The message of a gateway error body ({"error","message","code"}). */
static const char *
answer_message(const json_t *out)
{
	const char *m = json_string_value(json_object_get(out, "message"));

	if (m == NULL)
		m = json_string_value(json_object_get(out, "error"));
	return m != NULL ? m : "no message";
}

/*
 * /v3/auth/authenticate on endpoint i, the token then sent with each
 * request (simple tokens are a member's own: one an endpoint). 0 done; 1
 * no answer; -1 refused (err saying why, never the password).
 */
static int
authenticate(struct rm_etcd *e, size_t i, struct rm_err *err)
{
	json_t *req = json_pack("{s:s,s:s}", "name", e->user, "password", e->password), *out;
	const char *tok;
	long status;
	int r;

	rm_http_set_authorization(e->h[i], NULL);
	r = rm_http_post_json(e->h[i], "/v3/auth/authenticate", req, &status, &out, err);
	json_decref(req);
	if (r != 0)
		return 1;
	tok = json_string_value(json_object_get(out, "token"));
	if (status / 100 != 2 || tok == NULL) {
		rm_err_set(err, RM_EXIT_NETWORK, NULL, NULL, "etcd %s: authentication as user "
		    "\"%s\" failed: %s", e->eps[i], e->user, json_is_object(out) ?
		    answer_message(out) : "no token in the answer");
		json_decref(out);
		return -1;
	}
	r = rm_http_set_authorization(e->h[i], tok);
	json_decref(out);
	return r != 0 ? rm_err_set(err, RM_EXIT_INTERNAL, NULL, NULL, "out of memory") : 0;
}

/* Endpoint i's session, made (and authenticated) on first use: 0, 1 no answer, -1 refused. */
static int
session(struct rm_etcd *e, size_t i, struct rm_err *why)
{
	char base[300];
	int r;

	if (e->h[i] != NULL)
		return 0;
	snprintf(base, sizeof(base), "%s://%s", e->tls ? "https" : "http", e->eps[i]);
	if ((e->h[i] = rm_http_new(base, 0, NULL)) == NULL ||
	    rm_http_set_tls(e->h[i], e->cacert, e->cert, e->key) != 0 ||
	    rm_http_set_authorization(e->h[i], NULL) != 0) {
		rm_http_free(e->h[i]);
		e->h[i] = NULL;
		rm_err_set(why, RM_EXIT_NETWORK, NULL, NULL, "cannot start a session");
		return 1;
	}
	if (e->user != NULL && (r = authenticate(e, i, why)) != 0) {
		rm_http_free(e->h[i]);
		e->h[i] = NULL;
		return r;
	}
	return 0;
}

/* Sends to endpoint i: 0 answered; 1 it did not (why in *why); -1 refused. */
static int
call_one(struct rm_etcd *e, size_t i, const char *path, const json_t *body, json_t **out,
    struct rm_err *why)
{
	int r;

	rm_err_clear(why);
	if ((r = session(e, i, why)) != 0)
		return r;
	if (rm_http_post_json(e->h[i], path, body, &e->status, out, why) != 0)
		return 1;
	/* a token expires (simple tokens after --auth-token-ttl idle): once more */
	if (e->status == 401 && e->user != NULL) {
		json_decref(*out);
		*out = NULL;
		if ((r = authenticate(e, i, why)) != 0)
			return r;
		if (rm_http_post_json(e->h[i], path, body, &e->status, out, why) != 0)
			return 1;
	}
	return 0;
}

/*
 * A member that answers 502, 503 or 504 has no leader right now (an
 * election after a member went down) or timed out: another may serve.
 */
static int
member_unavailable(long status)
{
	return status == 502 || status == 503 || status == 504;
}

/*
 * One round over the endpoints from the last that answered: 0 one answered
 * (*out, e->cur); 1 none did (tried, why); 2 only unavailable members did;
 * -1 refused (why).
 */
static int
call_round(struct rm_etcd *e, const char *path, const json_t *body, json_t **out,
    char *tried, size_t tsize, struct rm_err *why)
{
	size_t k, i;
	int r, busy = 0;

	tried[0] = '\0';
	for (k = 0; k < e->n; k++) {
		i = (e->cur + k) % e->n;
		if ((r = call_one(e, i, path, body, out, why)) == 0 && !member_unavailable(e->status)) {
			e->cur = i;
			return 0;
		}
		if (r < 0)
			return -1;
		if (r == 0) {
			busy = 1;
			rm_err_set(why, RM_EXIT_NETWORK, NULL, NULL, "HTTP %ld: %s", e->status,
			    json_is_object(*out) ? answer_message(*out) : "no message");
			json_decref(*out);
			*out = NULL;
		}
		rm_debug("etcd %s: %s", e->eps[i], why->msg);
		snprintf(tried + strlen(tried), tsize - strlen(tried), "%s%s", k ? ", " : "",
		    e->eps[i]);
	}
	return busy ? 2 : 1;
}

json_t *
rm_etcd_call(struct rm_etcd *e, const char *path, const json_t *body, struct rm_err *err)
{
	char tried[1024] = "";
	struct rm_err why;
	json_t *out = NULL;
	time_t start = time(NULL);
	size_t i;
	int r, round;

	rm_err_clear(&why);
	/*
	 * Members without a leader: more rounds for about 4 s, an election takes
	 * a second or so (without a quorum each round costs etcd's own timeout).
	 */
	for (round = 1; (r = call_round(e, path, body, &out, tried, sizeof(tried), &why)) == 2 &&
	    round <= 5 && time(NULL) - start < 4; round++)
		rm_http_backoff(round);
	if (r < 0) {
		*err = why;
		return NULL;
	}
	i = e->cur;
	if (r != 0) {
		rm_err_set(err, RM_EXIT_NETWORK, NULL, NULL,
		    "etcd unreachable: tried %s (last: %s)%s", tried, why.msg, e->tls ?
		    "; etcds://: check cacert, cert and key under etcd: in config.yaml" : "");
		return NULL;
	}
	if (e->status / 100 != 2 || !json_is_object(out)) {
		rm_err_set(err, RM_EXIT_NETWORK, NULL, NULL, "etcd %s: %s: HTTP %ld: %s", e->eps[i],
		    path, e->status, json_is_object(out) ? answer_message(out) :
		    "the answer is not a JSON object");
		json_decref(out);
		return NULL;
	}
	return out;
}

static json_t *
b64_json(const char *s)
{
	char *b = rm_b64_encode((const unsigned char *)s, strlen(s));
	json_t *v = b != NULL ? json_string(b) : NULL;

	free(b);
	return v;
}

char *
rm_etcd_unb64(const char *s)
{
	size_t max;
	char *out;
	long n;

	if (s == NULL)
		return NULL;
	max = strlen(s) / 4 * 3 + 3;
	if ((out = malloc(max + 1)) == NULL)
		return NULL;
	n = *s == '\0' ? 0 : rm_b64_decode(s, (unsigned char *)out, max);
	if (n < 0) {
		free(out);
		return NULL;
	}
	out[n] = '\0';
	return out;
}

/* A base64 field decoded into a NUL-terminated string, or NULL. */
static char *
b64_field(const json_t *o, const char *name)
{
	return rm_etcd_unb64(json_string_value(json_object_get(o, name)));
}

/* key with its last byte incremented: the end of the range of its prefix */
static json_t *
range_end(const char *key)
{
	char *end = strdup(key);
	size_t n = strlen(key);
	json_t *v;

	if (end == NULL)
		return NULL;
	while (n > 0 && (unsigned char)end[n - 1] == 0xff)
		end[--n] = '\0';
	if (n == 0) {
		free(end);
		return json_string("AA==");	/* "\0": every key */
	}
	end[n - 1]++;
	v = b64_json(end);
	free(end);
	return v;
}

/* An int64 field (a decimal string, or absent for 0). */
static long long
int64_field(const json_t *o, const char *name)
{
	const json_t *v = json_object_get(o, name);

	if (json_is_integer(v))
		return (long long)json_integer_value(v);
	return json_is_string(v) ? strtoll(json_string_value(v), NULL, 10) : 0;
}

json_t *
rm_etcd_range(struct rm_etcd *e, const char *key, int prefix, long long *rev,
    struct rm_err *err)
{
	json_t *req = json_pack("{s:o}", "key", b64_json(key)), *out, *kvs, *kv, *list;
	size_t i;

	if (prefix)
		json_object_set_new(req, "range_end", range_end(key));
	out = rm_etcd_call(e, "/v3/kv/range", req, err);
	json_decref(req);
	if (out == NULL)
		return NULL;
	if (rev != NULL)
		*rev = int64_field(json_object_get(out, "header"), "revision");
	list = json_array();
	kvs = json_object_get(out, "kvs");
	json_array_foreach(kvs, i, kv) {
		char *k = b64_field(kv, "key"), *v = b64_field(kv, "value");
		const char *lease = json_string_value(json_object_get(kv, "lease"));
		json_t *item = json_pack("{s:s,s:s,s:I}", "key", k ? k : "?", "lease",
		    lease ? lease : "0", "mod_revision", (json_int_t)int64_field(kv, "mod_revision"));

		if (v != NULL)
			json_object_set_new(item, "value", json_string(v));
		else
			json_object_set_new(item, "error", json_string("the value is not valid base64"));
		json_array_append_new(list, item);
		free(k);
		free(v);
	}
	json_decref(out);
	return list;
}

static int
lease_revoke(struct rm_etcd *e, const char *id, struct rm_err *err)
{
	json_t *req = json_pack("{s:s}", "ID", id), *out;

	out = rm_etcd_call(e, "/v3/lease/revoke", req, err);
	json_decref(req);
	if (out == NULL)
		return -err->code;
	json_decref(out);
	return 0;
}

/* The lease key has now, "0" for none; NULL with err when it is absent. */
static char *
current_lease(struct rm_etcd *e, const char *key, struct rm_err *err)
{
	json_t *l = rm_etcd_range(e, key, 0, NULL, err);
	char *id = NULL;

	if (l == NULL)
		return NULL;
	if (json_array_size(l) == 0)
		rm_err_set(err, RM_EXIT_NOTFOUND, NULL, NULL, "no key %s in etcd", key);
	else
		id = strdup(json_string_value(json_object_get(json_array_get(l, 0), "lease")));
	json_decref(l);
	return id;
}

/* A new lease of ttl seconds into id; 0 or negative with err. */
static int
lease_grant(struct rm_etcd *e, long ttl, char *id, size_t size, struct rm_err *err)
{
	json_t *req = json_pack("{s:I}", "TTL", (json_int_t)ttl), *out;

	out = rm_etcd_call(e, "/v3/lease/grant", req, err);
	json_decref(req);
	if (out == NULL || !json_is_string(json_object_get(out, "ID"))) {
		json_decref(out);
		return out == NULL ? -err->code : rm_err_set(err, RM_EXIT_NETWORK, NULL, NULL,
		    "etcd granted a lease without an ID");
	}
	snprintf(id, size, "%s", json_string_value(json_object_get(out, "ID")));
	json_decref(out);
	return 0;
}

int
rm_etcd_put(struct rm_etcd *e, const char *key, const char *value, long ttl, long long rev,
    struct rm_err *err)
{
	json_t *req, *out;
	char lease[32] = "0", *old;
	struct rm_err ignore;
	int r = 0;

	rm_err_clear(&ignore);
	old = ttl > 0 ? current_lease(e, key, &ignore) : NULL;
	if (ttl > 0 && (r = lease_grant(e, ttl, lease, sizeof(lease), err)) != 0) {
		free(old);
		return r;
	}
	if (rev >= 0)
		r = rm_etcd_cas_put(e, key, value, lease, rev, err);
	else {
		req = json_pack("{s:o,s:o,s:s}", "key", b64_json(key), "value", b64_json(value),
		    "lease", lease);
		out = rm_etcd_call(e, "/v3/kv/put", req, err);
		json_decref(req);
		r = out != NULL ? 0 : -err->code;
		json_decref(out);
	}
	if (r != 0) {
		if (strcmp(lease, "0") != 0)
			lease_revoke(e, lease, &ignore);
		free(old);
		return r;
	}
	/* the key holds the new lease now: revoking the old one deletes nothing of it */
	if (old != NULL && strcmp(old, "0") != 0 && strcmp(old, lease) != 0)
		lease_revoke(e, old, &ignore);
	free(old);
	return 0;
}

int
rm_etcd_delete(struct rm_etcd *e, const char *key, struct rm_err *err)
{
	char *lease = current_lease(e, key, err);
	json_t *req, *out;
	struct rm_err lerr;

	if (lease == NULL)
		return -err->code;
	rm_err_clear(&lerr);
	if (strcmp(lease, "0") != 0 && lease_revoke(e, lease, &lerr) == 0) {
		free(lease);
		return 0;
	}
	free(lease);
	/* no lease, or it ended meanwhile: delete the key itself */
	req = json_pack("{s:o}", "key", b64_json(key));
	out = rm_etcd_call(e, "/v3/kv/deleterange", req, err);
	json_decref(req);
	if (out == NULL)
		return -err->code;
	json_decref(out);
	return 0;
}

int
rm_etcd_keepalive(struct rm_etcd *e, const char *lease, long *ttl, struct rm_err *err)
{
	json_t *req = json_pack("{s:s}", "ID", lease), *out;

	*ttl = 0;
	out = rm_etcd_call(e, "/v3/lease/keepalive", req, err);
	json_decref(req);
	if (out == NULL)
		return -err->code;
	/* one message of the stream: {"result": {"ID", "TTL"}}; no TTL: no such lease */
	*ttl = (long)int64_field(json_object_get(out, "result"), "TTL");
	json_decref(out);
	return *ttl > 0 ? 0 : 1;
}

/*
 * A transaction: when key's mod_revision is still rev (0: the key is
 * absent), op ({"request_put": ...} or {"request_delete_range": ...}).
 */
static int
txn_if_unchanged(struct rm_etcd *e, const char *key, long long rev, json_t *op,
    struct rm_err *err)
{
	char rs[32];
	json_t *req, *out;
	int ok;

	snprintf(rs, sizeof(rs), "%lld", rev);
	req = json_pack("{s:[{s:o,s:s,s:s,s:s}],s:[o]}", "compare", "key", b64_json(key),
	    "target", "MOD", "result", "EQUAL", "mod_revision", rs, "success", op);
	out = rm_etcd_call(e, "/v3/kv/txn", req, err);
	json_decref(req);
	if (out == NULL)
		return -err->code;
	ok = json_is_true(json_object_get(out, "succeeded"));
	json_decref(out);
	return ok ? 0 : 1;
}

int
rm_etcd_cas_delete(struct rm_etcd *e, const char *key, long long rev, struct rm_err *err)
{
	return txn_if_unchanged(e, key, rev, json_pack("{s:{s:o}}", "request_delete_range",
	    "key", b64_json(key)), err);
}

int
rm_etcd_cas_put(struct rm_etcd *e, const char *key, const char *value, const char *lease,
    long long rev, struct rm_err *err)
{
	return txn_if_unchanged(e, key, rev, json_pack("{s:{s:o,s:o,s:s}}", "request_put", "key",
	    b64_json(key), "value", b64_json(value), "lease", lease ? lease : "0"), err);
}

/* ---- watch: a streaming POST to /v3/watch, one JSON result a line ---- */

static int watch_run(struct rm_etcd *e, const char *key, int prefix, long long from,
    rm_etcd_watch_cb cb, rm_etcd_events_cb ecb, int (*keep_going)(void *), void *ctx,
    long long *next, struct rm_err *err);

struct watch_state {
	rm_etcd_watch_cb cb;
	rm_etcd_events_cb ecb;		/* instead of cb: each answer's events at once */
	void *ctx;
	char *buf;
	size_t len, cap;
	int created;
	long long next, compacted;	/* the revision to resume from; compacted at */
	char failed[512];		/* the stream said it failed */
};

/* One result; 1 stops the stream. */
static int
watch_result(struct watch_state *w, const char *line, size_t len)
{
	json_t *doc = json_loadb(line, len, 0, NULL), *res, *ev;
	const char *m;
	size_t i;
	int stop = 0;

	if (doc == NULL)
		return 0;	/* a keep-alive blank or partial line: nothing to act on */
	if ((res = json_object_get(doc, "result")) == NULL) {
		m = json_string_value(json_object_get(json_object_get(doc, "error"), "message"));
		snprintf(w->failed, sizeof(w->failed), "%s", m ? m : "an answer without a result");
		json_decref(doc);
		return 1;
	}
	if (json_is_true(json_object_get(res, "created")))
		w->created = 1;
	if ((w->compacted = int64_field(res, "compact_revision")) > 0) {
		json_decref(doc);
		return 1;
	}
	if (json_is_true(json_object_get(res, "canceled"))) {
		m = json_string_value(json_object_get(res, "cancel_reason"));
		snprintf(w->failed, sizeof(w->failed), "etcd canceled the watch%s%s",
		    m ? ": " : "", m ? m : "");
		json_decref(doc);
		return 1;
	}
	if (w->ecb != NULL) {
		json_array_foreach(json_object_get(res, "events"), i, ev)
			if (int64_field(json_object_get(ev, "kv"), "mod_revision") >= w->next)
				w->next = int64_field(json_object_get(ev, "kv"), "mod_revision") + 1;
		if (json_array_size(json_object_get(res, "events")) > 0)
			stop = w->ecb(w->ctx, json_object_get(res, "events"));
	} else json_array_foreach(json_object_get(res, "events"), i, ev) {
		const json_t *kv = json_object_get(ev, "kv");
		const char *type = json_string_value(json_object_get(ev, "type"));
		char *k = b64_field(kv, "key");
		long long rev = int64_field(kv, "mod_revision");

		if (rev >= w->next)
			w->next = rev + 1;
		if (k != NULL && !stop && w->cb(w->ctx, type ? type : "PUT", k, rev) != 0)
			stop = 1;
		free(k);
	}
	json_decref(doc);
	return stop;
}

static int
watch_sink(void *ctx, long status, const void *data, size_t len)
{
	struct watch_state *w = ctx;
	char *nl;
	int stop = 0;

	(void)status;
	if (w->len + len + 1 > w->cap) {
		size_t ncap = w->cap ? w->cap : 8192;
		char *nb;
		while (ncap < w->len + len + 1)
			ncap *= 2;
		if (ncap > ((size_t)64 << 20) || (nb = realloc(w->buf, ncap)) == NULL)
			return -1;
		w->buf = nb;
		w->cap = ncap;
	}
	memcpy(w->buf + w->len, data, len);
	w->len += len;
	w->buf[w->len] = '\0';
	while (!stop && (nl = memchr(w->buf, '\n', w->len)) != NULL) {
		size_t n = (size_t)(nl - w->buf);
		stop = watch_result(w, w->buf, n);
		memmove(w->buf, nl + 1, w->len - n - 1);
		w->len -= n + 1;
	}
	return stop;
}

/* The watch's create request, as text (NULL out of memory). */
static char *
watch_body(const char *key, int prefix, long long from)
{
	json_t *create = json_pack("{s:o,s:I}", "key", b64_json(key), "start_revision",
	    (json_int_t)from), *body;
	char *text;

	if (prefix)
		json_object_set_new(create, "range_end", range_end(key));
	body = json_pack("{s:o}", "create_request", create);
	text = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	return text;
}

int
rm_etcd_watch(struct rm_etcd *e, const char *key, int prefix, long long from,
    rm_etcd_watch_cb cb, int (*keep_going)(void *), void *ctx, long long *next,
    struct rm_err *err)
{
	return watch_run(e, key, prefix, from, cb, NULL, keep_going, ctx, next, err);
}

int
rm_etcd_watch_events(struct rm_etcd *e, const char *key, int prefix, long long from,
    rm_etcd_events_cb cb, int (*keep_going)(void *), void *ctx, long long *next,
    struct rm_err *err)
{
	return watch_run(e, key, prefix, from, NULL, cb, keep_going, ctx, next, err);
}

static int
watch_run(struct rm_etcd *e, const char *key, int prefix, long long from, rm_etcd_watch_cb cb,
    rm_etcd_events_cb ecb, int (*keep_going)(void *), void *ctx, long long *next,
    struct rm_err *err)
{
	struct watch_state w;
	struct rm_http_req req;
	struct rm_http_resp resp;
	struct rm_err why;
	char *text = watch_body(key, prefix, from), tried[1024] = "";
	size_t k, i = e->cur;
	int r = -1, stopped;
	long status;

	memset(&w, 0, sizeof(w));
	w.cb = cb;
	w.ecb = ecb;
	w.ctx = ctx;
	w.next = from;
	memset(&req, 0, sizeof(req));
	req.method = "POST";
	req.url = "/v3/watch";
	req.content_type = "application/json";
	req.body = text;
	req.body_len = text ? strlen(text) : 0;
	req.body_fd = -1;
	req.once = 1;
	req.stream = 1;
	req.sink = watch_sink;
	req.sink_ctx = &w;
	req.keep_going = keep_going;
	req.keep_ctx = ctx;
	rm_err_clear(&why);
	for (k = 0; k < e->n && text != NULL; k++) {
		int sr;
		i = (e->cur + k) % e->n;
		rm_err_clear(&why);
		if ((sr = session(e, i, &why)) < 0) {
			free(text);
			*err = why;
			return -err->code;
		}
		if (sr == 0 && (r = rm_http_do(e->h[i], &req, &resp, &why)) == 0)
			break;
		snprintf(tried + strlen(tried), sizeof(tried) - strlen(tried), "%s%s",
		    k ? ", " : "", e->eps[i]);
	}
	free(text);
	free(w.buf);
	*next = w.next;
	if (r != 0) {
		rm_err_set(err, RM_EXIT_NETWORK, NULL, NULL, "etcd unreachable: tried %s (last: %s)",
		    tried, why.msg[0] ? why.msg : "no session");
		return -RM_EXIT_NETWORK;
	}
	e->cur = i;
	status = resp.status;
	stopped = resp.stopped;
	rm_http_resp_release(&resp);
	if (status / 100 != 2 && !(stopped && status == 0))
		return rm_err_set(err, RM_EXIT_NETWORK, NULL, NULL, "etcd %s: /v3/watch: HTTP %ld",
		    e->eps[i], status);
	if (w.compacted > 0) {
		*next = w.compacted;
		rm_err_set(err, RM_EXIT_NOTFOUND, NULL, NULL, "etcd %s: watch from revision %lld: "
		    "compacted; the oldest revision left is %lld", e->eps[i], from, w.compacted);
		return 2;
	}
	if (w.failed[0])
		return rm_err_set(err, RM_EXIT_NETWORK, NULL, NULL, "etcd %s: /v3/watch: %s",
		    e->eps[i], w.failed);
	if (!stopped)
		return rm_err_set(err, RM_EXIT_NETWORK, NULL, NULL, "etcd %s: the watch stream ended",
		    e->eps[i]);
	return 0;
}
