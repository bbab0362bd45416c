/*
 * Packages peer to peer (spec 001, DESIGN.md section 6a): one cache serves
 * its packages to one peer over a WebRTC data channel.
 *
 * Two layers. The transport (struct rm_p2p, rm_p2p_gst.c) opens a reliable,
 * ordered data channel labelled "remotemedia-pkg" with a peer, the
 * signaling (offer, answer, ICE candidates) going as JSON lines over two
 * file descriptors, and moves whole messages, text or binary, each at most
 * RM_P2P_FRAME_MAX bytes. It is GStreamer's webrtcbin today, loaded on
 * first use (rm_lazy.h); nothing else in the tree knows that, so another
 * stack can take its place behind these five functions.
 *
 * The protocol (rm_p2p.c) speaks have/get/done/error on that channel, as
 * remotemedia-formats(5) documents: rm_p2p_serve answers from the cache,
 * read-only; rm_p2p_fetch runs a peer command and brings packages into the
 * cache, resuming a partial transfer and verifying what arrives like any
 * download (rm_cache_install_peer).
 */
#ifndef RM_P2P_H
#define RM_P2P_H

#include <stddef.h>
#include <jansson.h>

#include "rm_err.h"

#define RM_P2P_LABEL "remotemedia-pkg"
#define RM_P2P_FRAME_MAX 65536	/* the largest message webrtcbin accepts */

enum rm_p2p_role {
	RM_P2P_OFFER = 1,	/* the fetching side */
	RM_P2P_ANSWER = 2	/* the serving side */
};

enum rm_p2p_kind {
	RM_P2P_TEXT = 1,
	RM_P2P_BINARY = 2
};

struct rm_p2p;

/*
 * Opens the channel, reading the peer's signaling lines from sig_in and
 * writing ours to sig_out (neither is closed here). Returns once the
 * channel is open; gives up after timeout_ms (RM_EXIT_NETWORK). Without
 * GStreamer's webrtcbin the error is RM_EXIT_NETWORK, naming what is
 * missing. A serving side whose sig_in ends before any offer returns 1.
 */
int rm_p2p_open(enum rm_p2p_role role, int sig_in, int sig_out, int timeout_ms,
    struct rm_p2p **out, struct rm_err *err);
/* One message; a binary one of more than RM_P2P_FRAME_MAX bytes is refused.
 * Waits while much is still unsent (at most timeout_ms without progress). */
int rm_p2p_send(struct rm_p2p *p, enum rm_p2p_kind kind, const void *data, size_t len,
    struct rm_err *err);
/* A binary message in buf (malloc'ed), taken over whatever happens: sent
 * as it is, not copied. */
int rm_p2p_send_take(struct rm_p2p *p, void *buf, size_t len, struct rm_err *err);
/*
 * The next message: *data is the transport's, as it came (not copied),
 * valid until the next rm_p2p_recv or rm_p2p_close; a text message is
 * NUL-terminated past len. 0: one came; 1: the peer closed the channel or
 * its signaling ended; < 0: nothing came for timeout_ms (a dead peer:
 * RM_EXIT_NETWORK) or the connection failed.
 */
int rm_p2p_recv(struct rm_p2p *p, enum rm_p2p_kind *kind, char **data, size_t *len,
    struct rm_err *err);
/* Sets the silence after which send and recv give up (milliseconds). */
void rm_p2p_set_timeout(struct rm_p2p *p, int timeout_ms);
void rm_p2p_close(struct rm_p2p *p);

/* ---- the protocol ------------------------------------------------------- */

/* rm-cache serve --stdio: serves one peer on stdin/stdout until it leaves. */
int rm_p2p_serve(int sig_in, int sig_out, int timeout_ms, struct rm_err *err);

/*
 * Fetches refs (digests, unique digest prefixes or oci:// references the
 * peer has cached) from the peer that `sh -c command` starts. *results gets
 * one object per ref, as rm_cache_fetch gives, with "source": "peer:COMMAND",
 * or "error" and "exit". Returns the worst exit code (0 when all came), or
 * < 0 with err set when no connection could be made.
 */
int rm_p2p_fetch(const char *command, const char *const *refs, size_t n, int flags,
    int timeout_ms, json_t **results, struct rm_err *err);

#endif
