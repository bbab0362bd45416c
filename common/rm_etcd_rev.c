/*
 * What changed in an etcd registry since a revision (rm_etcd_rev.h). The
 * store's revision comes from a read of one key: etcd answers it from its
 * in-memory index in O(log n), where counting the keys under the prefix
 * walks all of them. When it is the index's, nothing changed and nothing
 * else is asked. Otherwise a range at that revision gives the pairs
 * modified after the index's (min_mod_revision: etcd reads every value to
 * filter them, ~25 ms for 10,000 adverts), and a count at that revision
 * says whether keys went (a lease that ended deletes its key) without a
 * listing of the 10,000 keys. etcd filters by mod_revision on its state at
 * that revision, so a compaction hides no change from us. (A watch from
 * the index's revision would read only the history, but etcd serves a
 * watcher that starts in the past from a loop that runs every 100 ms:
 * slower for one call. A watcher from the present is told at once: that
 * is what rm-match --follow keeps open, rm_index.c.)
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rm_crypto.h"
#include "rm_etcd_rev.h"
#include "rm_log.h"

/* An int64 the gateway sends as a decimal string (or a number); 0 if absent. */
static int64_t
i64(const json_t *o, const char *name)
{
	const json_t *v = json_object_get(o, name);

	if (json_is_integer(v))
		return (int64_t)json_integer_value(v);
	return json_is_string(v) ? (int64_t)strtoull(json_string_value(v), NULL, 10) : 0;
}

static json_t *
b64_of(const char *s, size_t n)
{
	char *b = rm_b64_encode((const unsigned char *)s, n);
	json_t *v = b != NULL ? json_string(b) : NULL;

	free(b);
	return v;
}

/* {"key", "range_end"} of every key under prefix (which ends in '/'). */
static json_t *
prefix_range(const char *prefix)
{
	size_t n = strlen(prefix);
	char *end = strdup(prefix);
	json_t *r;

	if (end == NULL || n == 0) {
		free(end);
		return NULL;
	}
	end[n - 1]++;		/* '/' + 1: no byte of a key overflows here */
	r = json_pack("{s:o,s:o}", "key", b64_of(prefix, n), "range_end", b64_of(end, n));
	free(end);
	return r;
}

static json_t *
decode_kvs(const json_t *kvs)
{
	json_t *out = json_array(), *kv;
	size_t i;

	json_array_foreach(kvs, i, kv) {
		char *k = rm_etcd_unb64(json_string_value(json_object_get(kv, "key")) ?: "");
		const char *vb = json_string_value(json_object_get(kv, "value"));
		char *v = rm_etcd_unb64(vb ? vb : "");
		json_t *item = json_pack("{s:s,s:I,s:I}", "key", k ? k : "?", "mod",
		    (json_int_t)i64(kv, "mod_revision"), "lease", (json_int_t)i64(kv, "lease"));

		if (v != NULL)
			json_object_set_new(item, "value", json_string(v));
		if (v == NULL || json_object_get(item, "value") == NULL)
			json_object_set_new(item, "error", json_string("the value is not valid base64 "
			    "of UTF-8 text"));
		json_array_append_new(out, item);
		free(k);
		free(v);
	}
	return out;
}

/* A range request over the prefix, at revision rev (0: the current one). */
static json_t *
range_at(struct rm_etcd *e, const char *prefix, int64_t rev, const char *flag,
    int64_t min_mod, struct rm_err *err)
{
	json_t *req = prefix_range(prefix), *out;
	char n[32];

	if (req == NULL) {
		rm_err_set(err, RM_EXIT_INTERNAL, NULL, NULL, "out of memory");
		return NULL;
	}
	if (rev > 0) {
		snprintf(n, sizeof(n), "%lld", (long long)rev);
		json_object_set_new(req, "revision", json_string(n));
	}
	if (min_mod > 0) {
		snprintf(n, sizeof(n), "%lld", (long long)min_mod);
		json_object_set_new(req, "min_mod_revision", json_string(n));
	}
	if (flag != NULL)
		json_object_set_new(req, flag, json_true());
	out = rm_etcd_call(e, "/v3/kv/range", req, err);
	json_decref(req);
	return out;
}

int
rm_etcd_revision(struct rm_etcd *e, const char *prefix, int64_t *rev, uint64_t *cluster,
    struct rm_err *err)
{
	size_t n = strlen(prefix);
	json_t *req, *out, *h;

	/* the prefix without its '/': one key, most likely absent */
	req = json_pack("{s:o,s:b}", "key", b64_of(prefix, n > 1 ? n - 1 : n), "count_only", 1);
	out = req != NULL ? rm_etcd_call(e, "/v3/kv/range", req, err) : NULL;
	json_decref(req);
	if (out == NULL)
		return req == NULL ? rm_err_set(err, RM_EXIT_INTERNAL, NULL, NULL, "out of memory") :
		    -err->code;
	h = json_object_get(out, "header");
	*rev = i64(h, "revision");
	*cluster = (uint64_t)i64(h, "cluster_id");
	json_decref(out);
	return 0;
}

int
rm_etcd_changes(struct rm_etcd *e, const char *prefix, int64_t since, int64_t at,
    struct rm_etcd_delta *d, struct rm_err *err)
{
	json_t *out;

	memset(d, 0, sizeof(*d));
	if ((out = range_at(e, prefix, at, "count_only", 0, err)) == NULL)
		return -err->code;
	d->rev = i64(json_object_get(out, "header"), "revision");
	d->cluster = (uint64_t)i64(json_object_get(out, "header"), "cluster_id");
	d->count = i64(out, "count");
	json_decref(out);
	if (at > 0)
		d->rev = at;	/* the header says the newest revision, not the one read */
	/* what changed, at the revision counted (min_mod_revision filters etcd's
	 * state at that revision: a compaction hides no change from it) */
	if ((out = range_at(e, prefix, d->rev, NULL, since > 0 ? since + 1 : 0, err)) == NULL)
		return -err->code;
	d->kvs = decode_kvs(json_object_get(out, "kvs"));
	json_decref(out);
	rm_debug("etcd: %zu keys changed after revision %lld, %lld keys at revision %lld",
	    json_array_size(d->kvs), (long long)since, (long long)d->count, (long long)d->rev);
	return 0;
}

json_t *
rm_etcd_event_items(const json_t *events, int64_t *rev)
{
	json_t *out = json_array(), *ev, *kv, *items, *one;
	size_t i;

	json_array_foreach(events, i, ev) {
		const char *type = json_string_value(json_object_get(ev, "type"));
		int64_t mod;

		kv = json_object_get(ev, "kv");
		if ((mod = i64(kv, "mod_revision")) > *rev)
			*rev = mod;
		if (type == NULL || strcmp(type, "DELETE") != 0) {
			one = json_pack("[O]", kv);
			items = decode_kvs(one);
			json_array_extend(out, items);
			json_decref(items);
			json_decref(one);
		} else {
			char *k = rm_etcd_unb64(json_string_value(json_object_get(kv, "key")) ?: "");
			json_array_append_new(out, json_pack("{s:s,s:b,s:I}", "key", k ? k : "?",
			    "deleted", 1, "mod", (json_int_t)mod));
			free(k);
		}
	}
	return out;
}

json_t *
rm_etcd_keys_at(struct rm_etcd *e, const char *prefix, int64_t rev, struct rm_err *err)
{
	json_t *out = range_at(e, prefix, rev, "keys_only", 0, err), *keys, *kv;
	size_t i;

	if (out == NULL)
		return NULL;
	keys = json_array();
	json_array_foreach(json_object_get(out, "kvs"), i, kv) {
		char *k = rm_etcd_unb64(json_string_value(json_object_get(kv, "key")) ?: "");
		if (k != NULL)
			json_array_append_new(keys, json_string(k));
		free(k);
	}
	json_decref(out);
	return keys;
}
