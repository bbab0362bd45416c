/*
 * The package protocol on the peer channel (rm_p2p.h, remotemedia-formats(5)):
 * text frames are JSON requests and answers, binary frames the bytes of a
 * .rmpkg.
 *   {"op":"have","digest":"sha256:HEX"}   ->  {"op":"have","digest","size","files"}
 *                                              or {"op":"error","code":"not_found"}
 *   {"op":"get","digest":...,"offset":N}  ->  binary frames from offset N, then
 *                                              {"op":"done","digest","size","sha256"}
 * A "have" may name a "ref" instead of a digest (an oci:// reference or a
 * digest prefix the server's cache resolves, without any network).
 *
 * The receiving side writes pipelines/<hex>.peer, hashing as it goes, and
 * every CHECKPOINT bytes (and when the transfer breaks off) saves the
 * offset and the running SHA-256 state in pipelines/<hex>.peer.state: a
 * later fetch asks for the rest from there, hashing nothing again (only a
 * partial file left without its state, the receiver killed, is hashed
 * again). The whole
 * file must match the peer's "done" (size and SHA-256), then it is installed
 * through rm_cache_install_peer, which opens and verifies it like any other
 * package (digest, contents, signature policy) before it enters the cache.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <nettle/sha2.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "rm_cache.h"
#include "rm_crypto.h"
#include "rm_doc.h"
#include "rm_fs.h"
#include "rm_home.h"
#include "rm_log.h"
#include "rm_oci.h"
#include "rm_p2p.h"
#include "rm_pkg.h"

#define CHECKPOINT ((uint64_t)16 << 20)
#define STATE_TAG "remotemedia.peer-partial/1"
#define SIZE_MAX_PKG ((uint64_t)1 << 50)
#define IDLE_MS (10 * 60 * 1000)	/* a serving side waiting for a request */

/* ---- helpers ------------------------------------------------------------ */

static int
send_json(struct rm_p2p *p, json_t *msg, struct rm_err *err)
{
	char *text = json_dumps(msg, JSON_COMPACT);
	int r;

	json_decref(msg);
	if (text == NULL)
		return rm_err_set(err, RM_EXIT_INTERNAL, NULL, NULL, "cannot encode a message");
	r = rm_p2p_send(p, RM_P2P_TEXT, text, strlen(text), err);
	free(text);
	return r;
}

static int
full_digest(const char *s)
{
	return s != NULL && rm_oci_digest_ok(s);
}

/* A digest prefix: sha256:HEX or HEX, 12 to 64 lowercase hex digits. */
static int
digest_like(const char *s)
{
	size_t i, n;

	if (strncmp(s, "sha256:", 7) == 0)
		s += 7;
	n = strlen(s);
	if (n < 12 || n > 64)
		return 0;
	for (i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

/*
 * Does digest d (sha256:HEX) answer ref? A digest or a digest prefix must
 * be the start of it; a tag is resolved by the peer's cache (documented).
 */
static int
answers(const char *ref, const char *d)
{
	const char *want = strncmp(ref, "sha256:", 7) == 0 ? ref + 7 : ref;

	if (strncmp(ref, "oci://", 6) == 0)
		return 1;
	return digest_like(ref) && strncmp(d + 7, want, strlen(want)) == 0;
}

/* ---- serving ------------------------------------------------------------- */

static int
serve_error(struct rm_p2p *p, const char *code, const char *msg, struct rm_err *err)
{
	return send_json(p, json_pack("{ss ss ss}", "op", "error", "code", code, "message", msg),
	    err);
}

/*
 * What a request names, in this cache: 0 with hex set, 1 not here, or 2
 * not a form served (a path, say: serving never reads outside the cache).
 */
static int
serve_lookup(const json_t *req, char hex[RM_SHA256_HEX])
{
	const char *d = json_string_value(json_object_get(req, "digest"));
	const char *ref = json_string_value(json_object_get(req, "ref"));
	struct rm_err e;

	rm_err_clear(&e);
	if (d != NULL) {
		if (!full_digest(d))
			return 2;
		ref = d;
	} else if (ref == NULL || (strncmp(ref, "oci://", 6) != 0 && !digest_like(ref)))
		return 2;
	return rm_cache_lookup(ref, hex, &e) == 0 ? 0 : 1;
}

/*
 * The package file of a cached package, for serving: a package kept as its
 * blobs is read from them as it is sent, each blob hashed as it is read
 * (rm_cache_package_open), nothing made or written first; with pkg NULL,
 * only its size (no blob opened). 0 with *pkg set; 1 when the error was
 * answered (not_found, or unavailable saying why); < 0 when even that failed.
 */
static int
serve_package(struct rm_p2p *p, const char *hex, struct rm_cache_pkg **pkg, uint64_t *size,
    struct rm_err *err)
{
	struct rm_err e;
	char msg[1200];
	int r;

	rm_err_clear(&e);
	if ((pkg != NULL ? rm_cache_package_open(hex, pkg, size, &e) :
	    rm_cache_package_size(hex, size, &e)) == 0)
		return 0;
	if (e.code == RM_EXIT_NOTFOUND && strcmp(e.file, hex) == 0)
		r = serve_error(p, "not_found", "not in this cache", err);
	else {
		rm_warn("peer: cannot serve sha256:%s: %s", hex, rm_err_str(&e, msg, sizeof(msg)));
		r = serve_error(p, "unavailable", "in this cache, but its package cannot be read "
		    "(see the serving side's messages)", err);
	}
	return r != 0 ? r : 1;
}

static int
serve_have(struct rm_p2p *p, const json_t *req, struct rm_err *err)
{
	char hex[RM_SHA256_HEX], path[PATH_MAX];
	json_t *contents, *ans;
	uint64_t size;
	struct rm_err e;
	int r = serve_lookup(req, hex);

	if (r == 2)
		return serve_error(p, "bad_request", "\"have\" takes a \"digest\" (sha256:64 hex "
		    "digits) or a \"ref\" (oci:// or a digest prefix)", err);
	if (r == 1)
		return serve_error(p, "not_found", "not in this cache", err);
	/* its size alone: a "get" opens the package, if one follows */
	if ((r = serve_package(p, hex, NULL, &size, err)) != 0)
		return r == 1 ? 0 : r;
	snprintf(path, sizeof(path), "%s/pipelines/%s/" RM_PKG_CONTENTS, rm_home(), hex);
	rm_err_clear(&e);
	contents = rm_doc_load(path, &e);
	ans = json_pack("{ss ss+ sI sO}", "op", "have", "digest", "sha256:", hex, "size",
	    (json_int_t)size, "files", json_is_array(json_object_get(contents, "files")) ?
	    json_object_get(contents, "files") : json_array());
	json_decref(contents);
	if (json_object_get(req, "ref") != NULL)
		json_object_set(ans, "ref", json_object_get(req, "ref"));
	rm_info("peer: has sha256:%s (%llu bytes)", hex, (unsigned long long)size);
	return send_json(p, ans, err);
}

/* Test hooks: a byte changed, or the server stopping mid-way (tests/67). */
static long long
test_hook(const char *name)
{
	const char *v = rm_test_hook_env(name);

	return v != NULL && *v != '\0' ? atoll(v) : -1;
}

static void
test_stop(long long frames)
{
	long long stop = test_hook("REMOTEMEDIA_TEST_PEER_KILL_AFTER");
	long long hang = test_hook("REMOTEMEDIA_TEST_PEER_HANG_AFTER");
	long long wait = test_hook("REMOTEMEDIA_TEST_PEER_PAUSE_AFTER");
	const char *until = rm_test_hook_env("REMOTEMEDIA_TEST_PEER_PAUSE_UNTIL");

	/* a pause until a file exists: the cache changed under a transfer */
	if (wait >= 0 && frames == wait && until != NULL) {
		rm_note("peer: paused after %lld frames (test hook)", frames);
		while (access(until, F_OK) != 0)
			usleep(20000);
	}

	if (stop >= 0 && frames >= stop)
		kill(getpid(), SIGKILL);
	if (hang >= 0 && frames >= hang)
		for (;;)
			pause();
}

/*
 * The package from offset, then "done". Its SHA-256 there is the one the
 * entry recorded, when it did: then reading starts at the blob that holds
 * offset, and each byte is hashed once, by its blob's check. Otherwise
 * every byte from the start is hashed for it too, those before offset
 * read and hashed but not sent.
 */
static int
serve_send(struct rm_p2p *p, struct rm_cache_pkg *pkg, const char *hex, uint64_t offset,
    uint64_t size, struct rm_err *err)
{
	unsigned char *buf = NULL;
	long long flip = test_hook("REMOTEMEDIA_TEST_PEER_FLIP"), frames = 0;
	/* a test double that alters a byte says the hash of what it sends */
	const char *known = flip < 0 ? rm_cache_package_sha256(pkg) : NULL;
	struct rm_sha256 *h = known == NULL ? rm_sha256_new() : NULL;
	char sum[RM_SHA256_HEX];
	uint64_t at = known != NULL ? rm_cache_package_seek(pkg, offset) : 0;
	int r = 0;

	while (at < size) {
		size_t want = size - at < RM_P2P_FRAME_MAX ? (size_t)(size - at) : RM_P2P_FRAME_MAX, n;
		if (buf == NULL && (buf = malloc(RM_P2P_FRAME_MAX)) == NULL) {
			r = rm_err_set(err, RM_EXIT_INTERNAL, NULL, NULL, "out of memory");
			break;
		}
		if ((r = rm_cache_package_read(pkg, buf, want, &n, err)) != 0 ||
		    (n == 0 && (r = rm_err_set(err, RM_EXIT_INVALID, NULL, NULL, "cannot read "
		    "the cached package sha256:%s: it shrank", hex)) != 0)) {
			char msg[1200];
			rm_warn("peer: cannot serve sha256:%s: %s", hex, rm_err_str(err, msg,
			    sizeof(msg)));
			/* the peer is told, and the session goes on */
			r = serve_error(p, "unavailable", "its cached package cannot be read "
			    "(see the serving side's messages)", err);
			rm_sha256_final(h, sum);
			free(buf);
			return r;
		}
		if (flip >= 0 && (uint64_t)flip >= at && (uint64_t)flip < at + (uint64_t)n)
			buf[flip - (long long)at] ^= 0x20;
		rm_sha256_update(h, buf, (size_t)n);
		/* the part before offset is the receiver's already: read, not sent */
		if (at + (uint64_t)n > offset) {
			uint64_t skip = offset > at ? offset - at : 0;
			test_stop(frames++);
			/* a whole frame goes as it is, not copied: the next one gets a new buffer */
			if (skip == 0) {
				r = rm_p2p_send_take(p, buf, n, err);
				buf = NULL;
			} else
				r = rm_p2p_send(p, RM_P2P_BINARY, buf + skip, (size_t)n - skip, err);
			if (r != 0)
				break;
		}
		at += (uint64_t)n;
	}
	free(buf);
	rm_sha256_final(h, sum);
	if (r != 0)
		return r;
	rm_info("peer: sent sha256:%s from %llu, %llu bytes%s", hex, (unsigned long long)offset,
	    (unsigned long long)(size - offset), known != NULL ? " (its SHA-256 as recorded)" : "");
	return send_json(p, json_pack("{ss ss+ sI ss}", "op", "done", "digest", "sha256:", hex,
	    "size", (json_int_t)size, "sha256", known != NULL ? known : sum), err);
}

static int
serve_get(struct rm_p2p *p, const json_t *req, struct rm_err *err)
{
	char hex[RM_SHA256_HEX];
	const json_t *off = json_object_get(req, "offset");
	json_int_t offset = off == NULL ? 0 : json_integer_value(off);
	struct rm_cache_pkg *pkg = NULL;
	uint64_t size;
	int r;

	if (json_object_get(req, "digest") == NULL || (r = serve_lookup(req, hex)) == 2 ||
	    (off != NULL && !json_is_integer(off)) || offset < 0)
		return serve_error(p, "bad_request", "\"get\" takes a \"digest\" (sha256:64 hex "
		    "digits) and an \"offset\" (a byte count)", err);
	if (r == 1)
		return serve_error(p, "not_found", "not in this cache", err);
	if ((r = serve_package(p, hex, &pkg, &size, err)) != 0)
		return r == 1 ? 0 : r;
	if ((uint64_t)offset > size)
		r = serve_error(p, "bad_offset", "the offset is past the end of the package", err);
	else
		r = serve_send(p, pkg, hex, (uint64_t)offset, size, err);
	rm_cache_package_close(pkg);
	return r;
}

int
rm_p2p_serve(int sig_in, int sig_out, int timeout_ms, struct rm_err *err)
{
	struct rm_p2p *p = NULL;
	enum rm_p2p_kind kind;
	char *data;
	size_t len;
	int r;

	if ((r = rm_p2p_open(RM_P2P_ANSWER, sig_in, sig_out, timeout_ms, &p, err)) != 0)
		return r == 1 ? 0 : r;
	rm_info("peer: channel open");
	/*
	 * Between requests the fetcher may be verifying a large package: a
	 * longer silence is allowed there (it ends the session by closing our
	 * input); while sending, the timeout is the peer's.
	 */
	rm_p2p_set_timeout(p, timeout_ms > IDLE_MS ? timeout_ms : IDLE_MS);
	while ((r = rm_p2p_recv(p, &kind, &data, &len, err)) == 0) {
		json_t *req = kind == RM_P2P_TEXT ? json_loadb(data, len, 0, NULL) : NULL;
		const char *op = json_string_value(json_object_get(req, "op"));
		rm_p2p_set_timeout(p, timeout_ms);
		if (op != NULL && strcmp(op, "have") == 0)
			r = serve_have(p, req, err);
		else if (op != NULL && strcmp(op, "get") == 0)
			r = serve_get(p, req, err);
		else
			r = serve_error(p, "bad_request", "expected a JSON object with \"op\": "
			    "\"have\" or \"get\"", err);
		json_decref(req);
		if (r != 0)
			break;
		rm_p2p_set_timeout(p, timeout_ms > IDLE_MS ? timeout_ms : IDLE_MS);
	}
	rm_p2p_close(p);
	return r == 1 ? 0 : r;
}

/* ---- fetching: the partial file and its saved hash ---------------------- */

struct partial {
	char path[PATH_MAX], state[PATH_MAX], lock[PATH_MAX];
	int fd, lockfd;
	uint64_t have, saved;
	struct sha256_ctx ctx;
};

static int
state_save(struct partial *t, struct rm_err *err)
{
	char line[sizeof(t->ctx) * 2 + 128], *q;
	const unsigned char *b = (const unsigned char *)&t->ctx;
	size_t i;

	if (t->have == t->saved)
		return 0;
	/* the bytes first: a state never names bytes the disk may not have */
	if (fdatasync(t->fd) != 0)
		return rm_err_set(err, RM_EXIT_INVALID, t->path, NULL, "cannot sync: %s",
		    strerror(errno));
	q = line + snprintf(line, sizeof(line), "%s %llu %zu ", STATE_TAG,
	    (unsigned long long)t->have, sizeof(t->ctx));
	for (i = 0; i < sizeof(t->ctx); i++)
		q += sprintf(q, "%02x", b[i]);
	*q++ = '\n';
	if (rm_write_atomic(t->state, line, (size_t)(q - line), 0600, err) != 0)
		return -err->code;
	t->saved = t->have;
	return 0;
}

/* The saved state, if it agrees with the file: 0 resumed, 1 none usable. */
static int
state_load(struct partial *t, uint64_t size)
{
	char *text = NULL, tag[64], hexs[1100];
	unsigned long long at;
	size_t len, n, i;
	struct stat st;
	struct rm_err e;
	unsigned char *b = (unsigned char *)&t->ctx;

	rm_err_clear(&e);
	if (rm_read_file(t->state, 4096, &text, &len, &e) != 0)
		return 1;
	i = sscanf(text, "%63s %llu %zu %" "1024" "s", tag, &at, &n, hexs);
	free(text);
	if (i != 4 || strcmp(tag, STATE_TAG) != 0 || n != sizeof(t->ctx) ||
	    strlen(hexs) != 2 * n || at > size || fstat(t->fd, &st) != 0 ||
	    (uint64_t)st.st_size < at)
		return 1;
	for (i = 0; i < n; i++) {
		unsigned v;
		if (sscanf(hexs + 2 * i, "%2x", &v) != 1)
			return 1;
		b[i] = (unsigned char)v;
	}
	/* the hash state must be that of exactly the bytes it claims: a damaged
	 * one would put nettle's block index out of its buffer */
	if (t->ctx.index >= SHA256_BLOCK_SIZE ||
	    t->ctx.count > UINT64_MAX / SHA256_BLOCK_SIZE ||
	    t->ctx.count * SHA256_BLOCK_SIZE + t->ctx.index != at) {
		nettle_sha256_init(&t->ctx);
		return 1;
	}
	/* anything past the saved point was never vouched for: received again */
	if (ftruncate(t->fd, (off_t)at) != 0)
		return 1;
	t->have = t->saved = at;
	return 0;
}

/*
 * No usable state (the receiver itself was killed before its first
 * checkpoint, say): what is there is hashed once, the only time bytes are
 * hashed twice. 0 resumed (from 0 when empty), 1 unusable.
 */
static int
rehash(struct partial *t, uint64_t size)
{
	unsigned char *buf;
	struct stat st;
	ssize_t n;

	nettle_sha256_init(&t->ctx);
	t->have = t->saved = 0;
	if (fstat(t->fd, &st) != 0 || (uint64_t)st.st_size > size)
		return 1;
	if (st.st_size == 0)
		return 0;
	if ((buf = malloc(1 << 20)) == NULL)
		return 1;
	while (t->have < (uint64_t)st.st_size &&
	    (n = pread(t->fd, buf, 1 << 20, (off_t)t->have)) > 0) {
		nettle_sha256_update(&t->ctx, (size_t)n, buf);
		t->have += (uint64_t)n;
	}
	free(buf);
	if (t->have != (uint64_t)st.st_size) {
		nettle_sha256_init(&t->ctx);
		t->have = 0;
		return 1;
	}
	rm_note("%s: no saved hash state: hashed the %llu bytes already received", t->path,
	    (unsigned long long)t->have);
	return 0;
}

static int
partial_open(struct partial *t, const char *hex, uint64_t size, struct rm_err *err)
{
	char dir[PATH_MAX];
	int r;

	memset(t, 0, sizeof(*t));
	t->fd = t->lockfd = -1;
	if ((r = rm_home_path(dir, sizeof(dir), "pipelines", 0, err)) != 0 ||
	    (r = rm_mkdir_p(dir, 0700, err)) != 0)
		return r;
	snprintf(t->path, sizeof(t->path), "%s/%s.peer", dir, hex);
	snprintf(t->state, sizeof(t->state), "%s/%s.peer.state", dir, hex);
	snprintf(t->lock, sizeof(t->lock), "%s/%s.peer.lock", dir, hex);
	/* one receiver at a time appends to a partial file */
	if ((t->lockfd = rm_lock(t->lock, 1, 0, err)) < 0)
		return t->lockfd;
	if ((t->fd = open(t->path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0)
		return rm_err_set(err, RM_EXIT_INVALID, t->path, NULL, "cannot open: %s",
		    strerror(errno));
	if (state_load(t, size) == 0)
		return 0;
	unlink(t->state);
	if (rehash(t, size) != 0 && ftruncate(t->fd, 0) != 0)
		return rm_err_set(err, RM_EXIT_INVALID, t->path, NULL, "cannot truncate: %s",
		    strerror(errno));
	return 0;
}

static void
partial_close(struct partial *t, int discard)
{
	if (t->fd >= 0)
		close(t->fd);
	if (discard) {
		unlink(t->path);
		unlink(t->state);
	}
	if (t->lockfd >= 0)
		rm_unlock(t->lockfd);
	t->fd = t->lockfd = -1;
}

/* ---- fetching: one package ---------------------------------------------- */

struct peer {
	struct rm_p2p *p;
	const char *command;
	int flags;
};

/* The next text frame as JSON; an "error" answer becomes err. */
static int
recv_answer(struct peer *pe, const char *what, json_t **ans, struct rm_err *err)
{
	enum rm_p2p_kind kind;
	char *data;
	size_t len;
	const char *op, *code;
	int r;

	*ans = NULL;
	if ((r = rm_p2p_recv(pe->p, &kind, &data, &len, err)) != 0)
		return r < 0 ? r : rm_err_set(err, RM_EXIT_NETWORK, NULL, NULL, "the peer left "
		    "before answering");
	*ans = kind == RM_P2P_TEXT ? json_loadb(data, len, 0, NULL) : NULL;
	op = json_string_value(json_object_get(*ans, "op"));
	if (op == NULL)
		r = rm_err_set(err, RM_EXIT_NETWORK, NULL, NULL, "the peer's answer is not a JSON "
		    "message with an \"op\"");
	else if (strcmp(op, "error") == 0) {
		code = json_string_value(json_object_get(*ans, "code"));
		r = rm_err_set(err, code && strcmp(code, "not_found") == 0 ? RM_EXIT_NOTFOUND :
		    RM_EXIT_NETWORK, NULL, NULL, "peer '%s': %s%s%s", pe->command,
		    code ? code : "error", json_is_string(json_object_get(*ans, "message")) ?
		    ": " : "", json_is_string(json_object_get(*ans, "message")) ?
		    json_string_value(json_object_get(*ans, "message")) : "");
	}
	if (r != 0) {
		json_decref(*ans);
		*ans = NULL;
	}
	return r;
}

/* The SHA-256 of what the partial file holds so far (its running hash). */
static void
partial_sum(const struct partial *t, char hex[RM_SHA256_HEX])
{
	unsigned char md[SHA256_DIGEST_SIZE];
	struct sha256_ctx c = t->ctx;
	size_t i;

	nettle_sha256_digest(&c, sizeof(md), md);
	for (i = 0; i < sizeof(md); i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
}

/* "done": the whole file must be what the peer says it sent. */
static int
check_done(struct peer *pe, const json_t *done, struct partial *t, const char *hex,
    uint64_t size, struct rm_err *err)
{
	const char *op = json_string_value(json_object_get(done, "op"));
	const char *sum = json_string_value(json_object_get(done, "sha256"));
	char mine[RM_SHA256_HEX];

	/* the peer found its own copy damaged: what it sent is not kept */
	if (op != NULL && strcmp(op, "error") == 0)
		return rm_err_set(err, RM_EXIT_INTEGRITY, NULL, NULL, "peer '%s' stopped sending: "
		    "%s: %s; what it sent is dropped", pe->command,
		    json_string_value(json_object_get(done, "code")) ?
		    json_string_value(json_object_get(done, "code")) : "error",
		    json_string_value(json_object_get(done, "message")) ?
		    json_string_value(json_object_get(done, "message")) : "");
	if (op == NULL || strcmp(op, "done") != 0)
		return rm_err_set(err, RM_EXIT_NETWORK, NULL, NULL, "peer '%s': expected package "
		    "bytes or \"done\", got \"%s\"", pe->command, op ? op : "?");
	partial_sum(t, mine);
	if (t->have != size || json_integer_value(json_object_get(done, "size")) !=
	    (json_int_t)size)
		return rm_err_set(err, RM_EXIT_INTEGRITY, NULL, NULL, "refused: peer '%s' sent "
		    "%llu bytes of a package it said has %llu", pe->command,
		    (unsigned long long)t->have, (unsigned long long)size);
	if (sum == NULL || strcmp(sum, mine) != 0)
		return rm_err_set(err, RM_EXIT_INTEGRITY, NULL, NULL, "refused: the bytes from "
		    "peer '%s' hash to %s, it says %s", pe->command, mine, sum ? sum : "nothing");
	return 0;
}

/* The bytes of sha256:hex from where the partial file ends. */
static int
receive(struct peer *pe, const char *hex, uint64_t size, struct partial *t,
    struct rm_err *err)
{
	enum rm_p2p_kind kind;
	char *data;
	size_t len;
	json_t *done;
	int r;

	if (t->have > 0)
		rm_note("sha256:%.12s: resuming from peer '%s' at offset %llu of %llu", hex,
		    pe->command, (unsigned long long)t->have, (unsigned long long)size);
	if ((r = send_json(pe->p, json_pack("{ss ss+ sI}", "op", "get", "digest", "sha256:", hex,
	    "offset", (json_int_t)t->have), err)) != 0)
		return r;
	while ((r = rm_p2p_recv(pe->p, &kind, &data, &len, err)) == 0 && kind == RM_P2P_BINARY) {
		if (t->have + len > size) {
			return rm_err_set(err, RM_EXIT_INTEGRITY, NULL, NULL, "refused: peer '%s' "
			    "sends more than the %llu bytes it announced", pe->command,
			    (unsigned long long)size);
		}
		if (pwrite(t->fd, data, len, (off_t)t->have) != (ssize_t)len) {
			return rm_err_set(err, RM_EXIT_INVALID, t->path, NULL, "cannot write: %s",
			    strerror(errno));
		}
		nettle_sha256_update(&t->ctx, len, (const uint8_t *)data);
		t->have += len;
		if (t->have - t->saved >= CHECKPOINT && (r = state_save(t, err)) != 0)
			return r;
	}
	if (r != 0) {
		struct rm_err e;
		char msg[sizeof(err->msg)];
		rm_err_clear(&e);
		state_save(t, &e);
		snprintf(msg, sizeof(msg), "%s", r == 1 ? "the peer left" : err->msg);
		return rm_err_set(err, RM_EXIT_NETWORK, NULL, NULL, "%s after %llu of %llu bytes; "
		    "what came is kept: fetch again to resume", msg, (unsigned long long)t->have,
		    (unsigned long long)size);
	}
	done = json_loadb(data, len, 0, NULL);
	r = check_done(pe, done, t, hex, size, err);
	json_decref(done);
	return r;
}

/* have, get (resuming), install. */
static int
fetch_one(struct peer *pe, const char *ref, json_t **result, struct rm_err *err)
{
	json_t *ans = NULL, *req;
	const char *d;
	char hex[RM_SHA256_HEX], source[1100], sum[RM_SHA256_HEX];
	json_int_t size;
	struct partial t;
	struct timespec t0, t1;
	uint64_t start;
	double secs;
	int r;

	*result = NULL;
	/* a peer cannot show the manifest that a pinned reference names */
	if (strncmp(ref, "oci://", 6) == 0 && strstr(ref, "@sha256:") != NULL)
		return rm_err_set(err, RM_EXIT_NOTFOUND, NULL, NULL, "peer '%s': %s is pinned to "
		    "a manifest digest: fetched from its registry, which can show it",
		    pe->command, ref);
	if (full_digest(ref) || (strlen(ref) == 64 && digest_like(ref)))
		req = json_pack("{ss ss+}", "op", "have", "digest", ref[6] == ':' ? "" : "sha256:",
		    ref);
	else
		req = json_pack("{ss ss}", "op", "have", "ref", ref);
	if ((r = send_json(pe->p, req, err)) != 0 || (r = recv_answer(pe, ref, &ans, err)) != 0)
		return r;
	d = json_string_value(json_object_get(ans, "digest"));
	size = json_integer_value(json_object_get(ans, "size"));
	if (strcmp(json_string_value(json_object_get(ans, "op")), "have") != 0 || !full_digest(d) ||
	    !json_is_integer(json_object_get(ans, "size")) || size < 0 ||
	    (uint64_t)size > SIZE_MAX_PKG || !answers(ref, d)) {
		json_decref(ans);
		return rm_err_set(err, RM_EXIT_NETWORK, NULL, NULL, "peer '%s': expected {\"op\": "
		    "\"have\", \"digest\", \"size\"} for the digest asked", pe->command);
	}
	memcpy(hex, d + 7, sizeof(hex));
	json_decref(ans);
	snprintf(source, sizeof(source), "peer:%s", pe->command);
	{
		char here[RM_SHA256_HEX];
		struct rm_err e;
		rm_err_clear(&e);
		/* asked by a reference whose package is here already: nothing to move */
		if (rm_cache_lookup(hex, here, &e) == 0)
			return rm_cache_install_peer(hex, "", NULL, ref, source, pe->flags, result,
			    err);
	}
	if ((r = partial_open(&t, hex, (uint64_t)size, err)) != 0) {
		partial_close(&t, 0);
		return r;
	}
	start = t.have;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	r = receive(pe, hex, (uint64_t)size, &t, err);
	if (r == 0) {
		clock_gettime(CLOCK_MONOTONIC, &t1);
		secs = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
		rm_info("peer: received %llu bytes of sha256:%.12s in %.2f s (%.1f MB/s); "
		    "verifying and installing", (unsigned long long)(t.have - start), hex, secs,
		    secs > 0 ? (double)(t.have - start) / secs / 1e6 : 0.0);
		close(t.fd);
		t.fd = -1;
		/* what the file hashes to, checked against "done": kept for serving it */
		partial_sum(&t, sum);
		r = rm_cache_install_peer(hex, t.path, sum, ref, source, pe->flags, result, err);
	}
	/* wrong bytes are dropped; a transfer cut short is kept for the next try */
	partial_close(&t, r == 0 || err->code == RM_EXIT_INTEGRITY);
	return r;
}

/* ---- fetching: the peer command ----------------------------------------- */

static pid_t
spawn(const char *command, int *to, int *from, struct rm_err *err)
{
	int in[2], out[2];
	pid_t pid;

	if (pipe2(in, O_CLOEXEC) != 0)
		return rm_err_set(err, RM_EXIT_INTERNAL, NULL, NULL, "pipe: %s", strerror(errno));
	if (pipe2(out, O_CLOEXEC) != 0) {
		close(in[0]);
		close(in[1]);
		return rm_err_set(err, RM_EXIT_INTERNAL, NULL, NULL, "pipe: %s", strerror(errno));
	}
	if ((pid = fork()) < 0) {
		close(in[0]), close(in[1]), close(out[0]), close(out[1]);
		return rm_err_set(err, RM_EXIT_INTERNAL, NULL, NULL, "fork: %s", strerror(errno));
	}
	if (pid == 0) {
		/* a group of its own: ended as a whole when it has to be */
		setpgid(0, 0);
		if (dup2(in[0], 0) < 0 || dup2(out[1], 1) < 0)
			_exit(127);
		execl("/bin/sh", "sh", "-c", command, (char *)NULL);
		_exit(127);
	}
	setpgid(pid, pid);
	close(in[0]);
	close(out[1]);
	*to = in[1];
	*from = out[0];
	return pid;
}

/* Its stdin closed, the peer ends; one that does not is ended. */
static void
reap(pid_t pid)
{
	int i, status;

	/* looked at often (every 2 ms, 2 s in all): the fetch ends when the peer has */
	for (i = 0; i < 1000; i++) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return;
		if (i == 500)
			kill(-pid, SIGTERM);
		usleep(2000);
	}
	kill(-pid, SIGKILL);
	waitpid(pid, &status, 0);
}

/* A ref this cache has already (by digest): its result, with no peer at all. */
static json_t *
already_here(const char *ref, int flags)
{
	char hex[RM_SHA256_HEX], msg[2048];
	json_t *res = NULL;
	struct rm_err e;

	rm_err_clear(&e);
	if (!digest_like(ref) || rm_cache_lookup(ref, hex, &e) != 0)
		return NULL;
	if (rm_cache_fetch(ref, flags, &res, &e) != 0)
		return json_pack("{ss ss si}", "ref", ref, "error", rm_err_str(&e, msg, sizeof(msg)),
		    "exit", e.code);
	json_object_set_new(res, "source", json_string("cache"));
	return res;
}

static int
fetch_all(struct peer *pe, const char *const *refs, size_t n, json_t *results,
    struct rm_err *err)
{
	int worst = 0, gone = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		json_t *res = json_array_get(results, i);
		struct rm_err e;
		char msg[2048];
		if (!json_is_null(res))
			continue;
		rm_err_clear(&e);
		if (gone)
			res = json_pack("{ss ss si}", "ref", refs[i], "error", "not tried: the "
			    "peer connection failed", "exit", RM_EXIT_NETWORK);
		else if ((res = already_here(refs[i], pe->flags)) != NULL)
			;	/* asked twice, or came as another reference's package */
		else if (fetch_one(pe, refs[i], &res, &e) != 0) {
			res = json_pack("{ss ss si}", "ref", refs[i], "error",
			    rm_err_str(&e, msg, sizeof(msg)), "exit", e.code);
			/* the channel is gone: the rest would fail alike */
			if ((gone = e.code == RM_EXIT_NETWORK))
				*err = e;
		}
		json_array_set_new(results, i, res);
	}
	for (i = 0; i < n; i++) {
		int c = (int)json_integer_value(json_object_get(json_array_get(results, i), "exit"));
		if (c > worst)
			worst = c;
	}
	return worst;
}

int
rm_p2p_fetch(const char *command, const char *const *refs, size_t n, int flags,
    int timeout_ms, json_t **results, struct rm_err *err)
{
	struct peer pe = { NULL, command, flags };
	int to = -1, from = -1, r;
	size_t i, left = 0;
	pid_t pid;

	*results = json_array();
	for (i = 0; i < n; i++) {
		json_t *res = already_here(refs[i], flags);
		left += res == NULL;
		json_array_append_new(*results, res != NULL ? res : json_null());
	}
	if (left == 0)
		return fetch_all(&pe, refs, n, *results, err);
	if ((pid = spawn(command, &to, &from, err)) < 0)
		goto fail;
	rm_info("peer: started '%s'", command);
	if ((r = rm_p2p_open(RM_P2P_OFFER, from, to, timeout_ms, &pe.p, err)) != 0) {
		close(to);
		close(from);
		reap(pid);
		if (r > 0)
			rm_err_set(err, RM_EXIT_NETWORK, NULL, NULL, "peer '%s' closed the "
			    "connection", command);
		goto fail;
	}
	rm_info("peer: channel open with '%s'", command);
	r = fetch_all(&pe, refs, n, *results, err);
	/* its signaling ended first, the peer ends while our side closes */
	close(to);
	rm_p2p_close(pe.p);
	rm_debug("peer: channel closed");
	close(from);
	reap(pid);
	rm_debug("peer: '%s' ended", command);
	return r;
fail:
	json_decref(*results);
	*results = NULL;
	return -err->code;
}
