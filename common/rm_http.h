/*
 * HTTP for the registry client, on libcurl: one session per host and
 * thread (connections kept alive), TLS verified unless insecure, retries
 * with backoff on 429, 5xx, timeouts and dropped connections for requests
 * that can be repeated, and the registry auth flows: Basic, and Bearer
 * (401 + WWW-Authenticate realm/service/scope -> token) with the session's
 * credentials. Authorization headers and secrets are never logged; -vv
 * shows method, URL (without its query) and status only.
 *
 * Credentials stay with the registry: an Authorization header is sent only
 * to the base's scheme, host and port, and the Basic credentials to the
 * token realm that the registry's own challenge names (as Docker does: the
 * realm may be a separate token service). GET redirects are followed here,
 * not by libcurl, so that a hop to another host carries no Authorization;
 * a 401 from such a host is refused (-RM_EXIT_NETWORK), never answered.
 */
#ifndef RM_HTTP_H
#define RM_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "rm_creds.h"
#include "rm_err.h"

struct rm_http;

/*
 * Loads libcurl (dlopen of libcurl.so.4, or of the file RM_LIBCURL names) on
 * first use; -RM_EXIT_NETWORK saying why when it is missing, not libcurl or
 * older than 7.68. Nothing else here may be called before it succeeded;
 * rm_http_new calls it and returns NULL on failure.
 */
int rm_http_load(struct rm_err *err);

/* base: "https://host:port" or "http://host:port"; cred may be NULL. */
struct rm_http *rm_http_new(const char *base, int insecure, const struct rm_cred *cred);
/* Another session for a worker thread, sharing nothing but settings and tokens. */
struct rm_http *rm_http_dup(const struct rm_http *h);
void rm_http_free(struct rm_http *h);
const char *rm_http_base(const struct rm_http *h);
/*
 * TLS files for the session (PEM paths; NULL: none): the CA that signs the
 * server's certificate, and this client's certificate and key. -1 out of
 * memory.
 */
int rm_http_set_tls(struct rm_http *h, const char *cacert, const char *cert, const char *key);
/*
 * Sends value as the whole Authorization header of every request to the
 * session's origin (an etcd token; NULL: none), never logged, and hands
 * 401 answers back to the caller instead of answering a challenge.
 */
int rm_http_set_authorization(struct rm_http *h, const char *value);

/*
 * Receives response bytes of a 2xx answer (status 200 or 206); 0 goes on,
 * -1 aborts (an error), 1 ends the transfer cleanly (a stream read far
 * enough: rm_http_do returns 0 with resp->stopped set).
 */
typedef int (*rm_http_sink)(void *ctx, long status, const void *data, size_t len);

struct rm_http_req {
	const char *method;		/* GET HEAD PUT PATCH POST DELETE */
	const char *url;		/* absolute, or a path below base */
	const char *scope;		/* token scope(s), space separated */
	const char *accept, *content_type, *range, *content_range;
	const void *body;		/* body from memory ... */
	size_t body_len;
	int body_fd;			/* ... or from a file (-1: none) at an offset */
	uint64_t body_off, body_size;
	rm_http_sink sink;		/* streams a 2xx body; NULL keeps it in memory */
	void *sink_ctx;
	void (*on_bytes)(void *ctx, uint64_t n);	/* progress: body bytes sent */
	void *bytes_ctx;
	int once;			/* no automatic retries (the caller resumes) */
	int quiet_404;
	/*
	 * A long-lived answer (an etcd watch): no stall timeout. keep_going,
	 * when set, is asked about once a second (and on every chunk); 0 ends
	 * the transfer cleanly, as a sink's 1 does.
	 */
	int stream;
	int (*keep_going)(void *ctx);
	void *keep_ctx;
};

struct rm_http_resp {
	long status;
	char *body;			/* NUL-terminated (non-2xx answers too), malloc'ed */
	size_t body_len;
	char location[4096];		/* made absolute */
	char digest[160];		/* Docker-Content-Digest */
	char range[64];			/* Range (upload status) */
	char content_type[256];
	uint64_t content_length;
	int has_length;
	int transport_error;		/* the connection failed (no complete answer) */
	uint64_t received;		/* body bytes given to the sink */
	int stopped;			/* the sink or keep_going ended it (stream) */
};

void rm_http_resp_release(struct rm_http_resp *resp);
/*
 * Sends req and fills resp. Returns 0 whenever an HTTP answer came (check
 * resp->status), -RM_EXIT_NETWORK when none did after the retries, naming
 * the URL; a 401 that survives authentication is -RM_EXIT_NETWORK too.
 */
int rm_http_do(struct rm_http *h, const struct rm_http_req *req, struct rm_http_resp *resp,
    struct rm_err *err);
/*
 * POSTs body (JSON) to path below the session's base, without retries (the
 * caller chooses another endpoint). Returns 0 when an answer came: *status
 * is its HTTP status and *out its body parsed (NULL when it was not JSON);
 * -RM_EXIT_NETWORK naming the URL when none did.
 */
int rm_http_post_json(struct rm_http *h, const char *path, const json_t *body, long *status,
    json_t **out, struct rm_err *err);
/* Sleeps before retry number attempt (1, 2, ...): 0.2 s doubling, capped at 3 s. */
void rm_http_backoff(int attempt);
/* Retries a request may take (RM_HTTP_RETRIES, default 5). */
int rm_http_retries(void);
/* One parameter of a WWW-Authenticate challenge (key="value", quotes
 * optional) into out; 0 found, -1 not. */
int rm_http_challenge_param(const char *ch, const char *key, char *out, size_t size);

#endif
