/*
 * GLib, GObject, GStreamer and its WebRTC and SDP libraries, opened on first
 * use (rm_lazy.h) by the peer transport (rm_p2p_gst.c) alone: rm-cache and
 * the other tools start without them, and load them only to talk to a peer.
 */
#ifndef RM_LAZY_GST_H
#define RM_LAZY_GST_H

#include "rm_err.h"

/*
 * Opens the five libraries: 0, or RM_EXIT_NETWORK naming the one missing
 * (a peer is one source among others, so its absence is not fatal here,
 * unlike the libraries of rm_lazy.h).
 */
int rm_lazy_gst_available(struct rm_err *err);

#endif
