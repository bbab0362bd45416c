/*
 * The peer transport of rm_p2p.h over GStreamer's webrtcbin, loaded on first
 * use (rm_lazy_gst.c).
 *
 * webrtcbin calls back on its own threads. Those callbacks only queue an
 * event and write a byte to a pipe; everything else (the signaling lines,
 * the channel's state, the messages) is handled on the caller's thread in
 * pump(), so that nothing here runs or ends the process from a GStreamer
 * thread. Offers, answers and descriptions are made with promises waited
 * on from the caller's thread. The offer is made once the channel exists:
 * on-negotiation-needed can fire before it, with no media section at all.
 *
 * Flow control: a sender waits while more than SEND_HIGH bytes are still
 * buffered in the channel; a receiver whose queue holds RECV_HIGH bytes
 * holds up webrtcbin's receiving thread, and so the peer, until it drains.
 * A killed peer raises no event: recv gives up after the silence it is
 * given, and soon after the peer's signaling stream ends (EOF_GRACE_MS).
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "rm_log.h"
#include "rm_p2p.h"

#ifndef HAVE_GST_WEBRTC

static int
unavailable(struct rm_err *err)
{
	return rm_err_set(err, RM_EXIT_NETWORK, NULL, NULL, "peer transfers are unavailable: "
	    "this build has no WebRTC support (configure found no GStreamer webrtc headers)");
}

int
rm_p2p_open(enum rm_p2p_role role, int sig_in, int sig_out, int timeout_ms,
    struct rm_p2p **out, struct rm_err *err)
{
	*out = NULL;
	return unavailable(err);
}

int
rm_p2p_send(struct rm_p2p *p, enum rm_p2p_kind kind, const void *data, size_t len,
    struct rm_err *err)
{
	return unavailable(err);
}

int
rm_p2p_send_take(struct rm_p2p *p, void *buf, size_t len, struct rm_err *err)
{
	free(buf);
	return unavailable(err);
}

int
rm_p2p_recv(struct rm_p2p *p, enum rm_p2p_kind *kind, char **data, size_t *len,
    struct rm_err *err)
{
	return unavailable(err);
}

void
rm_p2p_set_timeout(struct rm_p2p *p, int timeout_ms)
{
}

void
rm_p2p_close(struct rm_p2p *p)
{
}

#else

#define G_DISABLE_CAST_CHECKS 1
#define GST_USE_UNSTABLE_API 1
#include <gst/gst.h>
#include <gst/sdp/sdp.h>
#include <gst/webrtc/webrtc.h>
#include <jansson.h>

#include "rm_lazy_gst.h"

#define SIG_LINE_MAX (1 << 20)
#define SEND_HIGH ((guint64)4 << 20)
#define SEND_LOW ((guint64)1 << 20)
#define RECV_HIGH ((size_t)16 << 20)
#define EOF_GRACE_MS 1500
#define OPEN_MIN_MS 20000
#define SOCK_BUF (4 << 20)
#define BURST_BYTES ((size_t)4 << 20)

enum ev_kind {
	EV_TEXT = RM_P2P_TEXT, EV_BINARY = RM_P2P_BINARY,
	EV_CAND, EV_OPEN, EV_CLOSE, EV_ERROR, EV_CHANNEL, EV_WAKE
};

struct ev {
	struct ev *next;
	int kind;
	unsigned mline;
	size_t len;
	char *data;
	GBytes *bytes;		/* a binary message, as webrtcbin gave it (then data NULL) */
	GstWebRTCDataChannel *dc;
};

struct rm_p2p {
	enum rm_p2p_role role;
	int sig_in, sig_out, timeout_ms;
	int wake[2];
	GstElement *pipe, *wrtc;
	GstWebRTCDataChannel *dc;
	GstWebRTCDataChannel *watched;	/* under mu: the one channel our handlers are on */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct ev *head, *tail;		/* from GStreamer's threads, under mu */
	size_t queued;			/* message bytes not yet taken by recv, under mu */
	int stop;			/* under mu: closing, queue nothing more */
	struct ev *mhead, *mtail;	/* messages, the caller's thread only */
	struct ev *held;		/* the one recv gave last: its data is the caller's */
	int open, closed, failed, sig_eof, remote_set;
	char failure[512];
	char *line;
	size_t linelen;
	int sock[16], sockbuf[16], nsock;	/* the UDP sockets grown, and what they had */
	size_t received;
	long long t0;			/* when rm_p2p_open began: set-up times in -vv */
};

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
ev_free(struct ev *e)
{
	if (e == NULL)
		return;
	if (e->dc != NULL)
		g_object_unref(e->dc);
	if (e->bytes != NULL)
		g_bytes_unref(e->bytes);
	free(e->data);
	free(e);
}

/* ---- GStreamer's threads: queue and wake ---------------------------------- */

static void
enqueue(struct rm_p2p *p, struct ev *e)
{
	int kind = e->kind, wake;
	size_t len = e->len;
	char b = 'x';

	pthread_mutex_lock(&p->mu);
	if (p->stop) {
		pthread_mutex_unlock(&p->mu);
		ev_free(e);
		return;
	}
	/* the loop takes the whole queue after each wake: one wake a batch */
	wake = p->head == NULL;
	if (p->tail != NULL)
		p->tail->next = e;
	else
		p->head = e;
	p->tail = e;
	if (kind == EV_TEXT || kind == EV_BINARY) {
		p->queued += len;
		/* hold webrtcbin's receiving thread: the peer is slowed through SCTP */
		while (p->queued > RECV_HIGH && !p->stop)
			pthread_cond_wait(&p->cv, &p->mu);
	}
	pthread_mutex_unlock(&p->mu);
	if (wake && write(p->wake[1], &b, 1) < 0 && errno != EAGAIN)
		rm_debug("peer: cannot wake the loop: %s", strerror(errno));
}

static void
push(struct rm_p2p *p, int kind, const void *data, size_t len, unsigned mline,
    GstWebRTCDataChannel *dc)
{
	struct ev *e = calloc(1, sizeof(*e));

	if (e == NULL) {
		if (dc != NULL)
			g_object_unref(dc);
		return;
	}
	e->kind = kind;
	e->mline = mline;
	e->dc = dc;
	if (data != NULL && (e->data = malloc(len + 1)) != NULL) {
		memcpy(e->data, data, len);
		e->data[len] = '\0';
		e->len = len;
	}
	enqueue(p, e);
}

static void
on_ice_candidate(GstElement *w, guint mline, gchar *cand, gpointer u)
{
	if (cand != NULL)
		push(u, EV_CAND, cand, strlen(cand), mline, NULL);
}

static void
on_open(GstWebRTCDataChannel *dc, gpointer u)
{
	push(u, EV_OPEN, NULL, 0, 0, NULL);
}

static void
on_close(GstWebRTCDataChannel *dc, gpointer u)
{
	push(u, EV_CLOSE, NULL, 0, 0, NULL);
}

static void
on_error(GstWebRTCDataChannel *dc, GError *e, gpointer u)
{
	const char *m = e != NULL && e->message != NULL ? e->message : "unknown error";

	push(u, EV_ERROR, m, strlen(m), 0, NULL);
}

static void
on_string(GstWebRTCDataChannel *dc, gchar *s, gpointer u)
{
	push(u, EV_TEXT, s ? s : "", s ? strlen(s) : 0, 0, NULL);
}

static void
on_data(GstWebRTCDataChannel *dc, GBytes *b, gpointer u)
{
	struct ev *e;
	gsize n = 0;

	if (b == NULL || g_bytes_get_data(b, &n) == NULL || n == 0) {
		push(u, EV_BINARY, "", 0, 0, NULL);
		return;
	}
	/* kept as it came, not copied: this is webrtcbin's busiest thread */
	if ((e = calloc(1, sizeof(*e))) == NULL)
		return;
	e->kind = EV_BINARY;
	e->bytes = g_bytes_ref(b);
	e->len = n;
	enqueue(u, e);
}

static void
on_low(GstWebRTCDataChannel *dc, gpointer u)
{
	push(u, EV_WAKE, NULL, 0, 0, NULL);
}

static void
watch_channel(struct rm_p2p *p, GstWebRTCDataChannel *dc)
{
	g_signal_connect(dc, "on-open", G_CALLBACK(on_open), p);
	g_signal_connect(dc, "on-close", G_CALLBACK(on_close), p);
	g_signal_connect(dc, "on-error", G_CALLBACK(on_error), p);
	g_signal_connect(dc, "on-message-string", G_CALLBACK(on_string), p);
	g_signal_connect(dc, "on-message-data", G_CALLBACK(on_data), p);
	g_signal_connect(dc, "on-buffered-amount-low", G_CALLBACK(on_low), p);
	g_object_set(dc, "buffered-amount-low-threshold", SEND_LOW, NULL);
}

/*
 * Our handlers go on one channel only, under mu, and never once closing
 * has begun: rm_p2p_close takes them off that one, so no channel the peer
 * opens can call back into a freed struct rm_p2p. A second channel is
 * left without handlers (handle() ignores it).
 */
static int
watch_once(struct rm_p2p *p, GstWebRTCDataChannel *dc)
{
	int first;

	pthread_mutex_lock(&p->mu);
	if ((first = !p->stop && p->watched == NULL)) {
		p->watched = g_object_ref(dc);
		watch_channel(p, dc);
	}
	pthread_mutex_unlock(&p->mu);
	return first;
}

static void
on_data_channel(GstElement *w, GstWebRTCDataChannel *dc, gpointer u)
{
	/* connected here, at once: a message may follow on this very thread */
	if (watch_once(u, dc))
		push(u, EV_CHANNEL, NULL, 0, 0, g_object_ref(dc));
	else
		rm_debug("peer: a second data channel from the peer ignored");
}

static void
on_ice_state(GObject *w, GParamSpec *ps, gpointer u)
{
	GstWebRTCICEConnectionState s = GST_WEBRTC_ICE_CONNECTION_STATE_NEW;
	static const char why[] = "ICE failed: no network path between the two peers "
	    "(their host candidates cannot reach each other)";

	g_object_get(w, "ice-connection-state", &s, NULL);
	if (s == GST_WEBRTC_ICE_CONNECTION_STATE_FAILED)
		push(u, EV_ERROR, why, strlen(why), 0, NULL);
}

/* ---- signaling ------------------------------------------------------------ */

/* The first failure sticks: later calls report it again. */
static int __attribute__((format(printf, 3, 4)))
fail(struct rm_p2p *p, struct rm_err *err, const char *fmt, ...)
{
	va_list ap;

	if (!p->failed) {
		p->failed = 1;
		va_start(ap, fmt);
		vsnprintf(p->failure, sizeof(p->failure), fmt, ap);
		va_end(ap);
	}
	return rm_err_set(err, RM_EXIT_NETWORK, NULL, NULL, "peer: %s", p->failure);
}

/* A line to the peer, with SIGPIPE held back: a gone peer is an error here. */
static int
sig_send(struct rm_p2p *p, json_t *msg, struct rm_err *err)
{
	char *text = json_dumps(msg, JSON_COMPACT), *s;
	sigset_t pipe_set, old;
	size_t len, off = 0;
	int r = 0;

	rm_debug("peer: signaling out: %s (%lld ms)", json_string_value(json_object_get(msg, "type")),
	    now_ms() - p->t0);
	json_decref(msg);
	if (text == NULL)
		return fail(p, err, "%s", "cannot encode a signaling message");
	len = strlen(text);
	if ((s = realloc(text, len + 2)) == NULL) {
		free(text);
		return fail(p, err, "%s", "out of memory");
	}
	text = s;
	text[len++] = '\n';
	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
	while (off < len) {
		ssize_t n = write(p->sig_out, text + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			struct timespec zero = { 0, 0 };
			if (errno == EPIPE)
				sigtimedwait(&pipe_set, NULL, &zero);
			r = fail(p, err, "cannot write to the peer's signaling stream: %s",
			    strerror(errno));
			break;
		}
		off += (size_t)n;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	free(text);
	return r;
}

/* Waits for a promise given to webrtcbin; *reply (owned by pr, may be NULL). */
static int
promise_reply(struct rm_p2p *p, GstPromise *pr, const char *what, const GstStructure **reply,
    struct rm_err *err)
{
	const GstStructure *s;

	if (reply != NULL)
		*reply = NULL;
	if (gst_promise_wait(pr) != GST_PROMISE_RESULT_REPLIED)
		return fail(p, err, "webrtcbin did not %s", what);
	s = gst_promise_get_reply(pr);
	if (s != NULL && gst_structure_has_field(s, "error"))
		return fail(p, err, "webrtcbin could not %s", what);
	if (reply != NULL)
		*reply = s;
	return 0;
}

static int
set_description(struct rm_p2p *p, const char *sig, GstWebRTCSessionDescription *d,
    struct rm_err *err)
{
	GstPromise *pr = gst_promise_new();
	int r;

	g_signal_emit_by_name(p->wrtc, sig, d, pr);
	r = promise_reply(p, pr, sig[4] == 'l' ? "set the local description" :
	    "accept the peer's session description", NULL, err);
	gst_promise_unref(pr);
	return r;
}

/* create-offer or create-answer, set as ours and sent to the peer. */
static int
describe(struct rm_p2p *p, const char *type, struct rm_err *err)
{
	GstPromise *pr = gst_promise_new();
	GstWebRTCSessionDescription *d = NULL;
	const GstStructure *reply;
	const GValue *v;
	char sig[32], *text;
	int r;

	snprintf(sig, sizeof(sig), "create-%s", type);
	g_signal_emit_by_name(p->wrtc, sig, NULL, pr);
	if ((r = promise_reply(p, pr, sig, &reply, err)) != 0 || reply == NULL ||
	    (v = gst_structure_get_value(reply, type)) == NULL ||
	    (d = g_value_get_boxed(v)) == NULL) {
		gst_promise_unref(pr);
		return fail(p, err, "webrtcbin gave no %s", type);
	}
	if ((r = set_description(p, "set-local-description", d, err)) == 0) {
		text = gst_sdp_message_as_text(d->sdp);
		r = sig_send(p, json_pack("{ss ss}", "type", type, "sdp", text), err);
		g_free(text);
	}
	gst_promise_unref(pr);
	return r;
}

static int
remote_description(struct rm_p2p *p, const char *type, const char *sdp, struct rm_err *err)
{
	GstSDPMessage *msg = NULL;
	GstWebRTCSessionDescription *d;
	int r;

	if ((p->role == RM_P2P_OFFER) != (strcmp(type, "answer") == 0))
		return fail(p, err, "unexpected \"%s\" from the peer (the fetching side offers, "
		    "the serving side answers)", type);
	if (gst_sdp_message_new_from_text(sdp, &msg) != GST_SDP_OK)
		return fail(p, err, "the peer's %s is not SDP", type);
	d = gst_webrtc_session_description_new(type[0] == 'o' ? GST_WEBRTC_SDP_TYPE_OFFER :
	    GST_WEBRTC_SDP_TYPE_ANSWER, msg);
	r = set_description(p, "set-remote-description", d, err);
	gst_webrtc_session_description_free(d);
	if (r != 0)
		return r;
	p->remote_set = 1;
	return p->role == RM_P2P_ANSWER ? describe(p, "answer", err) : 0;
}

static int
sig_line(struct rm_p2p *p, const char *line, struct rm_err *err)
{
	json_t *m = json_loads(line, JSON_REJECT_DUPLICATES, NULL);
	const char *type = json_string_value(json_object_get(m, "type"));
	int r = 0;

	if (line[0] == '\0') {
		json_decref(m);
		return 0;
	}
	rm_debug("peer: signaling in: %s (%lld ms)", type ? type : "?", now_ms() - p->t0);
	if (!json_is_object(m) || type == NULL) {
		json_decref(m);
		return fail(p, err, "the peer's signaling is not JSON lines with a \"type\": "
		    "'%.80s'", line);
	}
	if (strcmp(type, "offer") == 0 || strcmp(type, "answer") == 0) {
		const char *sdp = json_string_value(json_object_get(m, "sdp"));
		r = sdp == NULL ? fail(p, err, "the peer's %s has no \"sdp\"", type) :
		    remote_description(p, type, sdp, err);
	} else if (strcmp(type, "candidate") == 0) {
		const char *c = json_string_value(json_object_get(m, "candidate"));
		json_int_t ml = json_integer_value(json_object_get(m, "sdpMLineIndex"));
		if (c != NULL && c[0] != '\0' && ml >= 0 && ml < 64)
			g_signal_emit_by_name(p->wrtc, "add-ice-candidate", (guint)ml, c);
	} else
		rm_debug("peer: signaling message of type '%s' ignored", type);
	json_decref(m);
	return r;
}

/* Reads what the peer's signaling stream has, handling each whole line. */
static int
sig_read(struct rm_p2p *p, struct rm_err *err)
{
	char buf[8192], *nl, *s;
	ssize_t n = read(p->sig_in, buf, sizeof(buf));
	int r = 0;

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return 0;
	if (n <= 0) {
		p->sig_eof = 1;
		return 0;
	}
	if (p->linelen + (size_t)n > SIG_LINE_MAX)
		return fail(p, err, "%s", "a signaling line of more than 1 MiB from the peer");
	if ((s = realloc(p->line, p->linelen + (size_t)n + 1)) == NULL)
		return fail(p, err, "%s", "out of memory");
	p->line = s;
	memcpy(p->line + p->linelen, buf, (size_t)n);
	p->linelen += (size_t)n;
	p->line[p->linelen] = '\0';
	while (r == 0 && (nl = memchr(p->line, '\n', p->linelen)) != NULL) {
		size_t used = (size_t)(nl - p->line) + 1;
		*nl = '\0';
		r = sig_line(p, p->line, err);
		memmove(p->line, p->line + used, p->linelen - used + 1);
		p->linelen -= used;
	}
	return r;
}

/* ---- the caller's loop -------------------------------------------------- */

static int
handle(struct rm_p2p *p, struct ev *e, struct rm_err *err)
{
	int r = 0;

	switch (e->kind) {
	case EV_TEXT:
	case EV_BINARY:
		if (p->mtail != NULL)
			p->mtail->next = e;
		else
			p->mhead = e;
		p->mtail = e;
		return 0;
	case EV_CAND:
		r = sig_send(p, json_pack("{ss ss si}", "type", "candidate", "candidate",
		    e->data ? e->data : "", "sdpMLineIndex", (int)e->mline), err);
		break;
	case EV_OPEN:
		p->open = 1;
		break;
	case EV_CLOSE:
		p->closed = 1;
		break;
	case EV_ERROR:
		r = fail(p, err, "%s", e->data ? e->data : "the data channel failed");
		break;
	case EV_CHANNEL:
		if (p->dc == NULL) {
			GstWebRTCDataChannelState st = GST_WEBRTC_DATA_CHANNEL_STATE_CONNECTING;
			gchar *label = NULL;
			p->dc = e->dc;
			e->dc = NULL;	/* taken over */
			g_object_get(p->dc, "label", &label, "ready-state", &st, NULL);
			if (label == NULL || strcmp(label, RM_P2P_LABEL) != 0)
				r = fail(p, err, "the peer opened a channel labelled '%s', not "
				    "'" RM_P2P_LABEL "'", label ? label : "");
			g_free(label);
			if (st == GST_WEBRTC_DATA_CHANNEL_STATE_OPEN)
				p->open = 1;
		}
		break;
	}
	ev_free(e);
	return r;
}

/*
 * One round: the events queued by GStreamer's threads, then at most
 * timeout_ms waiting for more or for the peer's signaling.
 */
static int
pump(struct rm_p2p *p, int timeout_ms, struct rm_err *err)
{
	struct pollfd fds[2];
	struct ev *e, *next;
	char drain[256];
	int r = 0, n;

	while (read(p->wake[0], drain, sizeof(drain)) > 0)
		;
	pthread_mutex_lock(&p->mu);
	e = p->head;
	p->head = p->tail = NULL;
	pthread_mutex_unlock(&p->mu);
	if (e != NULL) {
		for (; e != NULL; e = next) {
			next = e->next;
			e->next = NULL;
			if (r == 0)
				r = handle(p, e, err);
			else
				ev_free(e);
		}
		return r;
	}
	fds[0].fd = p->wake[0];
	fds[0].events = POLLIN;
	fds[1].fd = p->sig_eof ? -1 : p->sig_in;
	fds[1].events = POLLIN;
	n = poll(fds, 2, timeout_ms < 0 ? 0 : timeout_ms);
	if (n > 0 && fds[1].revents != 0)
		r = sig_read(p, err);
	return r;
}

/*
 * The ICE agent's UDP sockets keep the kernel's default buffers: about 200
 * KiB, some 90 of SCTP's 1200-byte datagrams. When a transfer starts, SCTP
 * sends in bursts that a receiving thread held up for a few milliseconds
 * (two cores, two processes with their threads) cannot take: datagrams
 * are dropped, and a loss at the end of a burst waits for SCTP's one
 * second retransmission timeout (a 1 MiB package took 0.05 s or 1.05 s).
 * So the fetching side's buffers (the package comes to it) are large while
 * a transfer starts, and back to what they were after its first
 * BURST_BYTES: in a long transfer the losses of a
 * small buffer are SCTP's signal to slow down, and without them it moved
 * a third less (deep queues). webrtcbin shows no socket, but every
 * datagram socket of this process is the agent's (the tools use UDP
 * nowhere else): they are found among our descriptors.
 */
static void
socket_buffers(struct rm_p2p *p, int grow)
{
	int want = SOCK_BUF, i;
	struct dirent *de;
	DIR *d;

	if (!grow) {
		/* the kernel doubles what it is given: half of what it had */
		for (i = 0; i < p->nsock; i++) {
			int v = p->sockbuf[i] / 2;
			setsockopt(p->sock[i], SOL_SOCKET, SO_RCVBUF, &v, sizeof(v));
		}
		p->nsock = 0;
		return;
	}
	if ((d = opendir("/proc/self/fd")) == NULL)
		return;
	while ((de = readdir(d)) != NULL && p->nsock < (int)(sizeof(p->sock) / sizeof(p->sock[0]))) {
		int fd = atoi(de->d_name), type = 0, had = 0;
		socklen_t len = sizeof(type), hl = sizeof(had);
		if (de->d_name[0] < '0' || de->d_name[0] > '9' || fd == dirfd(d) ||
		    getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0 || type != SOCK_DGRAM ||
		    getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &had, &hl) != 0)
			continue;
		/* past the system's limit where we may (root), up to it otherwise */
		if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &want, sizeof(want)) != 0)
			setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &want, sizeof(want));
		p->sock[p->nsock] = fd;
		p->sockbuf[p->nsock++] = had;
	}
	closedir(d);
	rm_debug("peer: %d UDP sockets given %d KiB receive buffers", p->nsock, want >> 10);
}

static GstWebRTCDataChannel *
make_channel(struct rm_p2p *p, struct rm_err *err)
{
	GstWebRTCDataChannel *dc = NULL;

	/* reliable and ordered: webrtcbin's defaults */
	g_signal_emit_by_name(p->wrtc, "create-data-channel", RM_P2P_LABEL, NULL, &dc);
	if (dc == NULL) {
		fail(p, err, "%s", "webrtcbin could not create the data channel");
		return NULL;
	}
	watch_once(p, dc);
	return dc;
}

static int
start(struct rm_p2p *p, struct rm_err *err)
{
	GError *ge = NULL;
	GstBus *bus;

	if (rm_lazy_gst_available(err) != 0)
		return -err->code;
	if (!gst_init_check(NULL, NULL, &ge)) {
		rm_err_set(err, RM_EXIT_NETWORK, NULL, NULL, "peer transfers are unavailable: "
		    "GStreamer does not start: %s", ge && ge->message ? ge->message : "?");
		g_clear_error(&ge);
		return -RM_EXIT_NETWORK;
	}
	rm_debug("peer: GStreamer started (%lld ms)", now_ms() - p->t0);
	p->pipe = gst_pipeline_new("rm-p2p");
	p->wrtc = gst_element_factory_make("webrtcbin", "rm-p2p-webrtc");
	if (p->pipe == NULL || p->wrtc == NULL)
		return rm_err_set(err, RM_EXIT_NETWORK, NULL, NULL, "peer transfers are "
		    "unavailable: GStreamer has no webrtcbin element (install "
		    "gstreamer1.0-plugins-bad and gstreamer1.0-nice)");
	/* nobody reads the bus: drop what is posted there */
	if ((bus = gst_element_get_bus(p->pipe)) != NULL) {
		gst_bus_set_flushing(bus, TRUE);
		gst_object_unref(bus);
	}
	g_object_set(p->wrtc, "bundle-policy", GST_WEBRTC_BUNDLE_POLICY_MAX_BUNDLE, NULL);
	gst_bin_add((GstBin *)p->pipe, p->wrtc);
	g_signal_connect(p->wrtc, "on-ice-candidate", G_CALLBACK(on_ice_candidate), p);
	g_signal_connect(p->wrtc, "notify::ice-connection-state", G_CALLBACK(on_ice_state), p);
	if (p->role == RM_P2P_ANSWER) {
		GstElement *dtls = gst_element_factory_make("dtlsdec", NULL);
		/*
		 * The DTLS certificate, made once per process when the first DTLS
		 * element is: made now, while the other side makes its own and
		 * its offer, not after the offer comes (half the set-up time).
		 */
		if (dtls != NULL)
			gst_object_unref(gst_object_ref_sink(dtls));
		rm_debug("peer: DTLS certificate made (%lld ms)", now_ms() - p->t0);
		g_signal_connect(p->wrtc, "on-data-channel", G_CALLBACK(on_data_channel), p);
	}
	if (gst_element_set_state(p->pipe, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE)
		return fail(p, err, "%s", "webrtcbin does not start");
	if (p->role == RM_P2P_OFFER) {
		if ((p->dc = make_channel(p, err)) == NULL)
			return -err->code;
		return describe(p, "offer", err);
	}
	return 0;
}

int
rm_p2p_open(enum rm_p2p_role role, int sig_in, int sig_out, int timeout_ms,
    struct rm_p2p **out, struct rm_err *err)
{
	struct rm_p2p *p;
	/* making the connection may take longer than a silence is allowed */
	int open_ms = timeout_ms > OPEN_MIN_MS ? timeout_ms : OPEN_MIN_MS, r;
	long long deadline = now_ms() + open_ms;

	*out = NULL;
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return rm_err_set(err, RM_EXIT_INTERNAL, NULL, NULL, "out of memory");
	p->t0 = now_ms();
	p->role = role;
	p->sig_in = sig_in;
	p->sig_out = sig_out;
	p->timeout_ms = timeout_ms;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	if (pipe2(p->wake, O_CLOEXEC | O_NONBLOCK) != 0) {
		free(p);
		return rm_err_set(err, RM_EXIT_INTERNAL, NULL, NULL, "pipe: %s", strerror(errno));
	}
	r = start(p, err);
	while (r == 0 && !(p->open && p->dc != NULL)) {
		long long left = deadline - now_ms();
		if (p->sig_eof) {
			if (role == RM_P2P_ANSWER && !p->remote_set) {
				r = 1;	/* nobody came */
				break;
			}
			r = fail(p, err, "%s", "the peer's signaling stream ended before the "
			    "data channel opened (see the peer's messages above)");
		} else if (left <= 0)
			r = fail(p, err, "no data channel after %d s (can the two hosts reach "
			    "each other directly, and does the peer run 'rm-cache serve'?)",
			    (open_ms + 999) / 1000);
		else
			r = pump(p, (int)left, err);
	}
	if (r != 0) {
		rm_p2p_close(p);
		return r;
	}
	rm_debug("peer: channel open (%lld ms)", now_ms() - p->t0);
	/* the package bytes come to the fetching side: its buffers, not the server's */
	if (role == RM_P2P_OFFER)
		socket_buffers(p, 1);
	*out = p;
	return 0;
}

void
rm_p2p_set_timeout(struct rm_p2p *p, int timeout_ms)
{
	p->timeout_ms = timeout_ms;
}

/* Waits while much is still unsent (at most timeout_ms without progress). */
static int
send_wait(struct rm_p2p *p, struct rm_err *err)
{
	long long deadline = now_ms() + p->timeout_ms;
	guint64 buffered = 0, before = 0;
	int r;

	for (;;) {
		if (p->failed)
			return fail(p, err, "%s", p->failure);
		if (p->closed || p->sig_eof)
			return fail(p, err, "%s", "the peer left (its channel closed or its "
			    "signaling stream ended)");
		g_object_get(p->dc, "buffered-amount", &buffered, NULL);
		if (buffered <= SEND_HIGH)
			break;
		if (buffered < before)
			deadline = now_ms() + p->timeout_ms;
		before = buffered;
		if (now_ms() >= deadline)
			return fail(p, err, "the peer took nothing for %d s: it is gone or stuck "
			    "(a dead peer)", (p->timeout_ms + 999) / 1000);
		if ((r = pump(p, 100, err)) != 0)
			return r;
	}
	return 0;
}

static int
send_bytes(struct rm_p2p *p, GBytes *b, struct rm_err *err)
{
	GError *ge = NULL;
	gboolean ok = gst_webrtc_data_channel_send_data_full(p->dc, b, &ge);
	int r = 0;

	g_bytes_unref(b);
	if (!ok) {
		r = fail(p, err, "cannot send: %s", ge && ge->message ? ge->message : "?");
		g_clear_error(&ge);
	}
	return r;
}

int
rm_p2p_send_take(struct rm_p2p *p, void *buf, size_t len, struct rm_err *err)
{
	int r;

	if (len > RM_P2P_FRAME_MAX || (r = send_wait(p, err)) != 0) {
		free(buf);
		return len > RM_P2P_FRAME_MAX ? rm_err_set(err, RM_EXIT_INTERNAL, NULL, NULL,
		    "a frame of %zu bytes, more than %d", len, RM_P2P_FRAME_MAX) : r;
	}
	/* GLib frees with free() (g_free is free since GLib 2.46) */
	return send_bytes(p, g_bytes_new_take(buf, len), err);
}

int
rm_p2p_send(struct rm_p2p *p, enum rm_p2p_kind kind, const void *data, size_t len,
    struct rm_err *err)
{
	GError *ge = NULL;
	gboolean ok;
	char *s;
	int r;

	if (kind == RM_P2P_BINARY && len > RM_P2P_FRAME_MAX)
		return rm_err_set(err, RM_EXIT_INTERNAL, NULL, NULL, "a frame of %zu bytes, more "
		    "than %d", len, RM_P2P_FRAME_MAX);
	if ((r = send_wait(p, err)) != 0)
		return r;
	if (kind == RM_P2P_BINARY)
		return send_bytes(p, g_bytes_new(data, len), err);
	s = strndup(data, len);
	ok = s != NULL && gst_webrtc_data_channel_send_string_full(p->dc, s, &ge);
	free(s);
	if (!ok) {
		r = fail(p, err, "cannot send: %s", ge && ge->message ? ge->message : "?");
		g_clear_error(&ge);
		return r;
	}
	return 0;
}

int
rm_p2p_recv(struct rm_p2p *p, enum rm_p2p_kind *kind, char **data, size_t *len,
    struct rm_err *err)
{
	long long deadline = now_ms() + p->timeout_ms;
	static char empty[1];
	int r, grace = 0;

	*data = NULL;
	*len = 0;
	/* the message given last is the caller's no longer */
	ev_free(p->held);
	p->held = NULL;
	for (;;) {
		struct ev *e = p->mhead;
		long long now;
		if (e != NULL) {
			if ((p->mhead = e->next) == NULL)
				p->mtail = NULL;
			pthread_mutex_lock(&p->mu);
			p->queued -= e->len;
			pthread_cond_broadcast(&p->cv);
			pthread_mutex_unlock(&p->mu);
			*kind = (enum rm_p2p_kind)e->kind;
			*data = e->bytes != NULL ? (char *)g_bytes_get_data(e->bytes, NULL) :
			    e->data != NULL ? e->data : empty;
			*len = e->len;
			if (p->nsock > 0 && (p->received += e->len) >= BURST_BYTES)
				socket_buffers(p, 0);
			e->next = NULL;
			p->held = e;
			return 0;
		}
		if (p->failed)
			return fail(p, err, "%s", p->failure);
		if (p->closed)
			return 1;
		now = now_ms();
		if (p->sig_eof && p->role == RM_P2P_ANSWER)
			return 1;	/* the fetching side is done */
		if (p->sig_eof && !grace) {
			/* the serving side ended: what it sent may still be on its way */
			grace = 1;
			if (deadline > now + EOF_GRACE_MS)
				deadline = now + EOF_GRACE_MS;
		}
		if (now >= deadline) {
			if (grace)
				return 1;
			return rm_err_set(err, RM_EXIT_NETWORK, NULL, NULL, "peer: nothing came "
			    "from the peer for %d s: it is gone or stuck (a dead peer)",
			    (p->timeout_ms + 999) / 1000);
		}
		if ((r = pump(p, (int)(deadline - now), err)) != 0)
			return r;
	}
}

static void
free_list(struct ev *e)
{
	struct ev *next;

	for (; e != NULL; e = next) {
		next = e->next;
		ev_free(e);
	}
}

void
rm_p2p_close(struct rm_p2p *p)
{
	if (p == NULL)
		return;
	pthread_mutex_lock(&p->mu);
	p->stop = 1;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	/*
	 * No callback may reach p once it is freed: the handlers come off the
	 * one channel that has them (none is added now stop is set); those
	 * running on a streaming thread find stop set, and are done once the
	 * pipeline has stopped.
	 */
	if (p->watched != NULL) {
		g_signal_handlers_disconnect_matched(p->watched, G_SIGNAL_MATCH_DATA, 0, 0, NULL,
		    NULL, p);
		g_object_unref(p->watched);
		p->watched = NULL;
	}
	if (p->wrtc != NULL)
		g_signal_handlers_disconnect_matched(p->wrtc, G_SIGNAL_MATCH_DATA, 0, 0, NULL, NULL,
		    p);
	if (p->pipe != NULL) {
		gst_element_set_state(p->pipe, GST_STATE_NULL);
		gst_object_unref(p->pipe);	/* and webrtcbin with it */
	} else if (p->wrtc != NULL)
		gst_object_unref(p->wrtc);
	if (p->dc != NULL)
		g_object_unref(p->dc);
	free_list(p->head);
	free_list(p->mhead);
	ev_free(p->held);
	free(p->line);
	close(p->wake[0]);
	close(p->wake[1]);
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->mu);
	free(p);
}

#endif
