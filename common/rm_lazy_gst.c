/*
 * GStreamer's webrtcbin and what it needs, opened on first use (rm_lazy.h,
 * rm_lazy_gst.h). The variadic functions of GObject and GStreamer cannot be
 * forwarded as they are: the ones the transport uses are written here over
 * their va_list forms.
 */
#include "config.h"

#ifdef HAVE_GST_WEBRTC

#include <stdarg.h>

#define GST_USE_UNSTABLE_API 1
#include <gst/gst.h>
#include <gst/sdp/sdp.h>
#include <gst/webrtc/webrtc.h>

#include "rm_lazy.h"
#include "rm_lazy_gst.h"

#undef g_object_ref
#undef gst_object_unref
#undef gst_object_ref_sink

static struct rm_lazy glib = RM_LAZY_INIT(RM_SONAME_GLIB);
static struct rm_lazy gobj = RM_LAZY_INIT(RM_SONAME_GOBJECT);
static struct rm_lazy gst = RM_LAZY_INIT(RM_SONAME_GST);
static struct rm_lazy gwebrtc = RM_LAZY_INIT(RM_SONAME_GSTWEBRTC);
static struct rm_lazy gsdp = RM_LAZY_INIT(RM_SONAME_GSTSDP);

#if defined(__SANITIZE_ADDRESS__)
/*
 * LeakSanitizer: GLib's constructor, run by dlopen, allocates blocks it
 * keeps without a pointer LSan can see. GLib is built without frame
 * pointers, so the stack of such a block ends in GLib: its blocks are not
 * tracked (the transport makes few, each released next to where it is made).
 */
const char *__lsan_default_suppressions(void);

const char *
__lsan_default_suppressions(void)
{
	return "leak:libglib-2.0.so\n";
}
#endif

int
rm_lazy_gst_available(struct rm_err *err)
{
	struct rm_lazy *libs[] = { &glib, &gobj, &gst, &gwebrtc, &gsdp };
	size_t i;

	for (i = 0; i < sizeof(libs) / sizeof(libs[0]); i++)
		if (rm_lazy_open(libs[i]) == NULL)
			return rm_err_set(err, RM_EXIT_NETWORK, NULL, NULL, "peer transfers are "
			    "unavailable: %s (install gstreamer1.0-plugins-bad and "
			    "gstreamer1.0-nice)", libs[i]->error);
	return 0;
}

/* GLib */
RM_LAZY(glib, GBytes *, g_bytes_new, (gconstpointer d, gsize n), (d, n))
RM_LAZY(glib, GBytes *, g_bytes_new_take, (gpointer d, gsize n), (d, n))
RM_LAZY(glib, GBytes *, g_bytes_ref, (GBytes *b), (b))
RM_LAZY(glib, gconstpointer, g_bytes_get_data, (GBytes *b, gsize *n), (b, n))
RM_LAZY_FREE(glib, g_bytes_unref, GBytes *)
RM_LAZY_FREE(glib, g_free, gpointer)
RM_LAZY_VOID(glib, g_clear_error, (GError **e), (e))

/* GObject */
RM_LAZY(gobj, gulong, g_signal_connect_data, (gpointer inst, const gchar *sig,
    GCallback cb, gpointer data, GClosureNotify destroy, GConnectFlags flags),
    (inst, sig, cb, data, destroy, flags))
RM_LAZY(gobj, gboolean, g_signal_parse_name, (const gchar *name, GType itype, guint *id,
    GQuark *detail, gboolean force), (name, itype, id, detail, force))
RM_LAZY_VOID(gobj, g_signal_emit_valist, (gpointer inst, guint id, GQuark detail,
    va_list ap), (inst, id, detail, ap))
RM_LAZY_VOID(gobj, g_object_set_valist, (GObject *o, const gchar *first, va_list ap),
    (o, first, ap))
RM_LAZY_VOID(gobj, g_object_get_valist, (GObject *o, const gchar *first, va_list ap),
    (o, first, ap))
RM_LAZY(gobj, guint, g_signal_handlers_disconnect_matched, (gpointer inst,
    GSignalMatchType mask, guint id, GQuark detail, GClosure *closure, gpointer func,
    gpointer data), (inst, mask, id, detail, closure, func, data))
RM_LAZY(gobj, gpointer, g_object_ref, (gpointer o), (o))
RM_LAZY_FREE(gobj, g_object_unref, gpointer)
RM_LAZY(gobj, gpointer, g_value_get_boxed, (const GValue *v), (v))

void
g_signal_emit_by_name(gpointer inst, const gchar *name, ...)
{
	guint id = 0;
	GQuark detail = 0;
	va_list ap;

	if (!g_signal_parse_name(name, G_TYPE_FROM_INSTANCE(inst), &id, &detail, TRUE))
		return;
	va_start(ap, name);
	g_signal_emit_valist(inst, id, detail, ap);
	va_end(ap);
}

/* g_object_set and g_object_get, over their va_list forms */
#define PROPS_VIA_VALIST(name, valist) \
	void \
	name(gpointer o, const gchar *first, ...) \
	{ \
		va_list ap; \
		va_start(ap, first); \
		valist(o, first, ap); \
		va_end(ap); \
	}
PROPS_VIA_VALIST(g_object_set, g_object_set_valist)
PROPS_VIA_VALIST(g_object_get, g_object_get_valist)

/* GStreamer */
RM_LAZY(gst, gboolean, gst_init_check, (int *argc, char ***argv, GError **e), (argc, argv, e))
RM_LAZY(gst, GstElement *, gst_pipeline_new, (const gchar *name), (name))
RM_LAZY(gst, GstElement *, gst_element_factory_make, (const gchar *f, const gchar *name),
    (f, name))
RM_LAZY(gst, gboolean, gst_bin_add, (GstBin *bin, GstElement *e), (bin, e))
RM_LAZY(gst, GstStateChangeReturn, gst_element_set_state, (GstElement *e, GstState s), (e, s))
RM_LAZY(gst, GstBus *, gst_element_get_bus, (GstElement *e), (e))
RM_LAZY_VOID(gst, gst_bus_set_flushing, (GstBus *b, gboolean f), (b, f))
RM_LAZY_FREE(gst, gst_object_unref, gpointer)
RM_LAZY(gst, gpointer, gst_object_ref_sink, (gpointer o), (o))
RM_LAZY_FREE(gst, gst_mini_object_unref, GstMiniObject *)
RM_LAZY(gst, GstPromise *, gst_promise_new, (void), ())
RM_LAZY(gst, GstPromiseResult, gst_promise_wait, (GstPromise *p), (p))
RM_LAZY(gst, const GstStructure *, gst_promise_get_reply, (GstPromise *p), (p))
RM_LAZY(gst, const GValue *, gst_structure_get_value, (const GstStructure *s,
    const gchar *f), (s, f))
RM_LAZY(gst, gboolean, gst_structure_has_field, (const GstStructure *s, const gchar *f), (s, f))

/* WebRTC, SDP */
RM_LAZY(gwebrtc, GstWebRTCSessionDescription *, gst_webrtc_session_description_new,
    (GstWebRTCSDPType t, GstSDPMessage *m), (t, m))
RM_LAZY_FREE(gwebrtc, gst_webrtc_session_description_free, GstWebRTCSessionDescription *)
RM_LAZY(gwebrtc, gboolean, gst_webrtc_data_channel_send_data_full,
    (GstWebRTCDataChannel *c, GBytes *b, GError **e), (c, b, e))
RM_LAZY(gwebrtc, gboolean, gst_webrtc_data_channel_send_string_full,
    (GstWebRTCDataChannel *c, const gchar *s, GError **e), (c, s, e))
RM_LAZY(gsdp, GstSDPResult, gst_sdp_message_new_from_text, (const gchar *t,
    GstSDPMessage **m), (t, m))
RM_LAZY(gsdp, gchar *, gst_sdp_message_as_text, (const GstSDPMessage *m), (m))

#endif
