#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "rm_advert.h"
#include "rm_config.h"
#include "rm_doc.h"
#include "rm_etcd.h"
#include "rm_fs.h"
#include "rm_home.h"
#include "rm_log.h"
#include "rm_registry.h"

static struct rm_reg_url cur_url;	/* kind DIR, path "": the default */
static int etcd_put(const json_t *norm, int locked, struct rm_err *err);
static json_t *etcd_get(const char *id, struct rm_err *err);
static int etcd_remove(const char *id, struct rm_err *err);

int
rm_registry_dir(char *buf, size_t size, int mk, struct rm_err *err)
{
	int r;

	if (cur_url.kind == RM_REG_ETCD)
		return rm_err_set(err, RM_EXIT_INTERNAL, NULL, NULL,
		    "the registry is in etcd, not in a directory");
	if (cur_url.path[0] != '\0')
		r = rm_path(buf, size, err, "%s", cur_url.path);
	else
		r = rm_home_path(buf, size, "executors", 0, err);

	if (r == 0 && mk)
		r = rm_mkdir_p(buf, 0700, err);
	return r;
}

int
rm_registry_lock(int nowait, struct rm_err *err)
{
	char path[PATH_MAX], dir[PATH_MAX];
	int r;

	if ((r = rm_registry_select(NULL, err)) != 0)
		return r;
	/* a directory given by URL holds its own lock; etcd writers lock this host's */
	if (cur_url.kind == RM_REG_DIR && cur_url.path[0] != '\0') {
		if ((r = rm_registry_dir(dir, sizeof(dir), 1, err)) != 0 ||
		    (r = rm_path(path, sizeof(path), err, "%s/.executors.lock", dir)) != 0)
			return r;
	} else if ((r = rm_home_path(path, sizeof(path), "executors.lock", 1, err)) != 0)
		return r;
	return rm_lock(path, 1, nowait, err);
}

int
rm_registry_id_ok(const char *id)
{
	const char *p;

	if (id == NULL || *id == '\0' || *id == '.' || strlen(id) > 200)
		return 0;
	for (p = id; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '.' && *p != '_' && *p != '-' && *p != ':' &&
		    *p != '@')
			return 0;
	return 1;
}

static int
advert_path(char *buf, size_t size, const char *id, struct rm_err *err)
{
	char dir[PATH_MAX];
	int r;

	if (!rm_registry_id_ok(id))
		return rm_err_set(err, RM_EXIT_INVALID, NULL, "id",
		    "\"%s\" is not a valid executor id (letters, digits, '.', '_', '-', ':', '@')", id);
	if ((r = rm_registry_dir(dir, sizeof(dir), 1, err)) != 0)
		return r;
	return rm_path(buf, size, err, "%s/%s.json", dir, id);
}

int
rm_registry_put(const json_t *advert, int locked, struct rm_err *err)
{
	char path[PATH_MAX];
	json_t *norm;
	const char *id;
	int fd = -1, r;

	if (rm_registry_select(NULL, err) != 0)
		return -err->code;
	norm = rm_advert_normalize(advert, "<advert>", err);
	if (norm == NULL)
		return -err->code;
	if (cur_url.kind == RM_REG_ETCD) {
		r = etcd_put(norm, locked, err);
		json_decref(norm);
		return r;
	}
	id = json_string_value(json_object_get(norm, "id"));
	if ((r = advert_path(path, sizeof(path), id, err)) != 0)
		goto out;
	if (!locked && (fd = rm_registry_lock(0, err)) < 0) {
		r = fd;
		goto out;
	}
	/* every writer of an advert holds the registry lock: a temporary is a dead one's */
	rm_remove_stale_temps(path);
	r = rm_json_write_file(path, norm, err);
	if (r == 0)
		rm_registry_changed();
out:
	rm_unlock(fd);
	json_decref(norm);
	return r;
}

json_t *
rm_registry_get(const char *id, struct rm_err *err)
{
	char path[PATH_MAX];

	if (rm_registry_select(NULL, err) != 0)
		return NULL;
	if (cur_url.kind == RM_REG_ETCD)
		return etcd_get(id, err);
	if (advert_path(path, sizeof(path), id, err) != 0)
		return NULL;
	if (access(path, F_OK) != 0) {
		rm_err_set(err, RM_EXIT_NOTFOUND, path, NULL, "no executor \"%s\" in the registry", id);
		return NULL;
	}
	return rm_doc_load(path, err);
}

int
rm_registry_remove(const char *id, int locked, struct rm_err *err)
{
	char path[PATH_MAX];
	int fd = -1, r;

	if (rm_registry_select(NULL, err) != 0)
		return -err->code;
	if (cur_url.kind == RM_REG_ETCD)
		return etcd_remove(id, err);
	if ((r = advert_path(path, sizeof(path), id, err)) != 0)
		return r;
	if (!locked && (fd = rm_registry_lock(0, err)) < 0)
		return fd;
	if (unlink(path) != 0)
		r = rm_err_set(err, errno == ENOENT ? RM_EXIT_NOTFOUND : RM_EXIT_INVALID, path, NULL,
		    "cannot remove: %s", strerror(errno));
	else
		rm_registry_changed();
	rm_unlock(fd);
	return r;
}

void
rm_time_format(long long t, char *buf, size_t size)
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int
rm_time_parse(const char *s, long long *t)
{
	struct tm tm;
	const char *p;
	int off = 0;

	memset(&tm, 0, sizeof(tm));
	p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (p == NULL)
		return -1;
	if (*p == '.')
		for (p++; isdigit((unsigned char)*p); p++)
			;
	if (*p == 'Z' || *p == 'z')
		p++;
	else if (*p == '+' || *p == '-') {
		int hh, mm;
		if (sscanf(p + 1, "%2d:%2d", &hh, &mm) != 2)
			return -1;
		off = (hh * 3600 + mm * 60) * (*p == '+' ? 1 : -1);
		p += 6;
	} else
		return -1;
	if (*p != '\0')
		return -1;
	*t = (long long)timegm(&tm) - off;
	return 0;
}

/* ---- backends --------------------------------------------------------- */

static int chosen;
static struct rm_etcd *etcd;

static int
why_set(char *why, size_t size, const char *fmt, const char *arg)
{
	snprintf(why, size, fmt, arg);
	return -1;
}

/* One "host:port" (or "[v6]:port") of len bytes at s into out. */
static int
parse_endpoint(const char *s, size_t len, char *out, size_t size, char *why, size_t wsize)
{
	char ep[264];
	const char *colon, *p;
	long port;
	char *end;

	if (len == 0)
		return why_set(why, wsize, "%san empty endpoint in the list", "");
	if (len >= sizeof(ep) || len >= size)
		return why_set(why, wsize, "%sendpoint too long", "");
	memcpy(ep, s, len);
	ep[len] = '\0';
	if (strchr(ep, '@') != NULL)
		return why_set(why, wsize, "\"%s\": credentials do not belong in the URL "
		    "(they would show in ps and logs)", ep);
	colon = strrchr(ep, ':');
	if (colon == NULL || colon == ep || (ep[0] == '[' && colon[-1] != ']'))
		return why_set(why, wsize, "\"%s\": expected HOST:PORT", ep);
	for (p = ep; p < colon; p++) {
		int ok = isalnum((unsigned char)*p) || *p == '.' || *p == '-' ||
		    (ep[0] == '[' && (*p == ':' || *p == '[' || *p == ']'));
		if (!ok)
			return why_set(why, wsize, "\"%s\": the host may hold letters, digits, '.' "
			    "and '-' (or be [IPv6])", ep);
	}
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (colon[1] == '\0' || *end != '\0' || errno != 0 || port < 1 || port > 65535 ||
	    !isdigit((unsigned char)colon[1]))
		return why_set(why, wsize, "\"%s\": the port must be a number from 1 to 65535", ep);
	snprintf(out, size, "%s", ep);
	return 0;
}

static int
parse_prefix(const char *s, struct rm_reg_url *u, char *why, size_t size)
{
	size_t n = strlen(s);
	const char *p;

	while (n > 0 && s[n - 1] == '/')
		n--;
	if (n == 0) {
		snprintf(u->prefix, sizeof(u->prefix), "/remotemedia");
		return 0;
	}
	if (n + 1 >= sizeof(u->prefix))
		return why_set(why, size, "%sthe prefix is too long (at most 250 bytes)", "");
	for (p = s; p < s + n; p++)
		if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f || *p == '?' || *p == '#')
			return why_set(why, size, "the prefix \"%s\" may hold printable characters "
			    "only, no spaces, '?' or '#'", s);
	snprintf(u->prefix, sizeof(u->prefix), "/%.*s", (int)n, s);
	return 0;
}

int
rm_registry_parse_url(const char *url, struct rm_reg_url *u, char *why, size_t size)
{
	const char *hosts, *slash, *p, *comma;

	memset(u, 0, sizeof(*u));
	if (strncmp(url, "dir:", 4) == 0) {
		if (url[4] == '\0')
			return why_set(why, size, "%sdir: needs a PATH (dir:/srv/executors)", "");
		if (strlen(url + 4) >= sizeof(u->path))
			return why_set(why, size, "%sthe path is too long", "");
		u->kind = RM_REG_DIR;
		snprintf(u->path, sizeof(u->path), "%s", url + 4);
		return 0;
	}
	if (strncmp(url, "etcds://", 8) == 0)
		u->tls = 1;
	else if (strncmp(url, "etcd://", 7) != 0)
		return why_set(why, size, "\"%s\": expected dir:PATH or "
		    "etcd[s]://HOST:PORT[,HOST:PORT...][/PREFIX]", url);
	u->kind = RM_REG_ETCD;
	hosts = url + 7 + u->tls;
	slash = strchr(hosts, '/');
	if (slash == hosts || *hosts == '\0')
		return why_set(why, size, "\"%s\": no HOST:PORT after etcd[s]://", url);
	for (p = hosts; p != NULL && *p != '\0' && p != slash; p = comma ? comma + 1 : NULL) {
		const char *stop = slash ? slash : p + strlen(p);
		comma = memchr(p, ',', (size_t)(stop - p));
		if (u->nendpoints == RM_REG_MAX_ENDPOINTS)
			return why_set(why, size, "%smore than 16 endpoints", "");
		if (parse_endpoint(p, (size_t)((comma ? comma : stop) - p),
		    u->endpoints[u->nendpoints], sizeof(u->endpoints[0]), why, size) != 0)
			return -1;
		u->nendpoints++;
		if (comma != NULL && comma + 1 == stop)
			return why_set(why, size, "\"%s\": an empty endpoint after ','", url);
	}
	return parse_prefix(slash ? slash + 1 : "", u, why, size);
}

int
rm_registry_select(const char *arg, struct rm_err *err)
{
	char why[600], cpath[PATH_MAX];
	const char *env = getenv("REMOTEMEDIA_REGISTRY");
	const json_t *cfg, *v;
	struct rm_reg_url u;

	if (chosen)
		return 0;
	if (arg != NULL || (env != NULL && *env != '\0')) {
		if (rm_registry_parse_url(arg ? arg : env, &u, why, sizeof(why)) != 0)
			return rm_err_set(err, RM_EXIT_USAGE, NULL,
			    arg ? "--registry" : "REMOTEMEDIA_REGISTRY", "%s", why);
	} else {
		if ((cfg = rm_config(err)) == NULL)
			return -err->code;
		if ((v = json_object_get(cfg, "registry")) == NULL) {
			chosen = 1;
			return 0;
		}
		if (rm_home_path(cpath, sizeof(cpath), "config.yaml", 0, err) != 0)
			return -err->code;
		if (!json_is_string(v))
			return rm_err_set(err, RM_EXIT_INVALID, cpath, "registry", "expected a registry "
			    "URL (dir:PATH or etcd://HOST:PORT[,...][/PREFIX]), got %s", rm_json_type(v));
		if (rm_registry_parse_url(json_string_value(v), &u, why, sizeof(why)) != 0)
			return rm_err_set(err, RM_EXIT_INVALID, cpath, "registry", "%s", why);
	}
	cur_url = u;
	chosen = 1;
	if (u.kind == RM_REG_ETCD)
		rm_debug("registry: etcd at %s..., prefix %s", u.endpoints[0], u.prefix);
	return 0;
}

const struct rm_reg_url *
rm_registry_url(void)
{
	return &cur_url;
}

/*
 * The advert last read (etcd_get) and its mod_revision (0: absent): a
 * put under the lock (a read-modify-write) of that id is a compare-and-swap
 * on it, so that it never overwrites what another host wrote meanwhile.
 */
static char rmw_id[256];
static long long rmw_rev;

void
rm_registry_test_pause(const char *var)
{
	const char *d = rm_test_hook_env(var);
	long ms = d ? atol(d) : 0;

	if (ms > 0 && ms < 60000)
		usleep((useconds_t)ms * 1000);
}

/* A file named in the etcd: block: as written when absolute, else beside config.yaml. */
static int
conf_file(const json_t *v, char *buf, size_t size, struct rm_err *err)
{
	const char *s = json_string_value(v);

	if (*s == '/')
		return rm_path(buf, size, err, "%s", s);
	return rm_home_path(buf, size, s, 0, err);
}

/*
 * The etcd: block of config.yaml into c (strings in bufs): cacert, cert,
 * key (PEM files), user, password or password_env. RM_EXIT_INVALID naming
 * config.yaml and the field.
 */
static int
etcd_conf(struct rm_etcd_conf *c, char files[3][4096], struct rm_err *err)
{
	static const char *const keys[] = { "cacert", "cert", "key", "user", "password",
		"password_env", "plain_auth", NULL };
	const json_t *cfg, *blk, *v;
	char cpath[4096], field[64];
	const char *k;
	size_t i;

	memset(c, 0, sizeof(*c));
	c->tls = cur_url.tls;
	if ((cfg = rm_config(err)) == NULL)
		return -err->code;
	if ((blk = json_object_get(cfg, "etcd")) == NULL)
		return 0;
	if (rm_home_path(cpath, sizeof(cpath), "config.yaml", 0, err) != 0)
		return -err->code;
	if (!json_is_object(blk))
		return rm_err_set(err, RM_EXIT_INVALID, cpath, "etcd", "expected a mapping of "
		    "cacert, cert, key, user, password (or password_env), got %s", rm_json_type(blk));
	json_object_foreach((json_t *)blk, k, v) {
		for (i = 0; keys[i] && strcmp(keys[i], k) != 0; i++)
			;
		snprintf(field, sizeof(field), "etcd.%.50s", k);
		if (keys[i] == NULL)
			return rm_err_set(err, RM_EXIT_INVALID, cpath, field, "unknown key: expected "
			    "cacert, cert, key, user, password, password_env or plain_auth");
		if (strcmp(k, "plain_auth") == 0) {
			if (!json_is_boolean(v))
				return rm_err_set(err, RM_EXIT_INVALID, cpath, field, "expected true or "
				    "false, got %s", rm_json_type(v));
			continue;
		}
		if (!json_is_string(v) || *json_string_value(v) == '\0')
			return rm_err_set(err, RM_EXIT_INVALID, cpath, field, "expected a non-empty "
			    "string, got %s", rm_json_type(v));
		if (i < 3 && conf_file(v, files[i], sizeof(files[0]), err) != 0)
			return -err->code;
	}
	c->cacert = json_object_get(blk, "cacert") ? files[0] : NULL;
	c->cert = json_object_get(blk, "cert") ? files[1] : NULL;
	c->key = json_object_get(blk, "key") ? files[2] : NULL;
	c->user = json_string_value(json_object_get(blk, "user"));
	c->password = json_string_value(json_object_get(blk, "password"));
	if ((k = json_string_value(json_object_get(blk, "password_env"))) != NULL &&
	    (c->password = getenv(k)) == NULL)
		return rm_err_set(err, RM_EXIT_INVALID, cpath, "etcd.password_env",
		    "the environment has no %s", k);
	if ((c->user == NULL) != (c->password == NULL))
		return rm_err_set(err, RM_EXIT_INVALID, cpath, c->user ? "etcd.password" : "etcd.user",
		    "etcd authentication needs both user and password (or password_env)");
	if (!c->tls && c->user != NULL && !json_is_true(json_object_get(blk, "plain_auth")))
		return rm_err_set(err, RM_EXIT_INVALID, cpath, "etcd.user", "etcd authentication "
		    "over etcd:// would send the password in clear: use etcds://, or set "
		    "etcd.plain_auth: true on a network you trust");
	if (!c->tls && (c->cacert || c->cert || c->key))
		rm_warn("%s: etcd.cacert, cert and key apply to etcds:// only; the registry URL is "
		    "etcd:// (no TLS)", cpath);
	return 0;
}

/* A new client of the chosen etcd registry, configured from config.yaml. */
static struct rm_etcd *
etcd_open_new(struct rm_err *err)
{
	const char *eps[RM_REG_MAX_ENDPOINTS];
	static char files[3][4096];
	struct rm_etcd_conf c;
	size_t i;

	if (etcd_conf(&c, files, err) != 0)
		return NULL;
	for (i = 0; i < cur_url.nendpoints; i++)
		eps[i] = cur_url.endpoints[i];
	return rm_etcd_open(eps, cur_url.nendpoints, &c, err);
}

static struct rm_etcd *
etcd_client(struct rm_err *err)
{
	if (etcd == NULL)
		etcd = etcd_open_new(err);
	return etcd;
}

struct rm_etcd *
rm_registry_etcd_new(struct rm_err *err)
{
	if (rm_registry_select(NULL, err) != 0)
		return NULL;
	if (cur_url.kind != RM_REG_ETCD) {
		rm_err_set(err, RM_EXIT_INTERNAL, NULL, NULL, "the registry is not in etcd");
		return NULL;
	}
	return etcd_open_new(err);
}

struct rm_etcd *
rm_registry_etcd(struct rm_err *err)
{
	if (rm_registry_select(NULL, err) != 0)
		return NULL;
	if (cur_url.kind != RM_REG_ETCD) {
		rm_err_set(err, RM_EXIT_INTERNAL, NULL, NULL, "the registry is not in etcd");
		return NULL;
	}
	return etcd_client(err);
}

static int
etcd_key(char *buf, size_t size, const char *id, struct rm_err *err)
{
	if (!rm_registry_id_ok(id))
		return rm_err_set(err, RM_EXIT_INVALID, NULL, "id",
		    "\"%s\" is not a valid executor id (letters, digits, '.', '_', '-', ':', '@')", id);
	snprintf(buf, size, "%s/executors/%s", cur_url.prefix, id);
	return 0;
}

/* An advert stored in etcd, parsed; NULL with err naming the key. */
static json_t *
etcd_value(const char *key, const char *value, struct rm_err *err)
{
	char name[600];
	json_error_t je;
	json_t *doc;

	snprintf(name, sizeof(name), "etcd:%s", key);
	if (value == NULL) {
		rm_err_set(err, RM_EXIT_INVALID, name, NULL, "the value is not valid base64");
		return NULL;
	}
	doc = json_loads(value, JSON_REJECT_DUPLICATES, &je);
	if (doc == NULL)
		rm_err_setpos(err, RM_EXIT_INVALID, name, je.line, je.column, NULL,
		    "malformed JSON: %s", je.text);
	return doc;
}

static int
etcd_put(const json_t *norm, int locked, struct rm_err *err)
{
	const char *id = json_string_value(json_object_get(norm, "id"));
	struct rm_etcd *e = etcd_client(err);
	char key[512], *text;
	long long exp, rev = -1;
	long ttl = 0;
	int r;

	if (e == NULL)
		return -err->code;
	if ((r = etcd_key(key, sizeof(key), id, err)) != 0)
		return r;
	if (rm_time_parse(json_string_value(json_object_get(norm, "expires_at")) ?: "", &exp) == 0)
		ttl = exp - (long long)time(NULL) > 1 ? (long)(exp - (long long)time(NULL)) : 1;
	if ((text = json_dumps(norm, JSON_COMPACT | JSON_SORT_KEYS)) == NULL)
		return rm_err_set(err, RM_EXIT_INTERNAL, NULL, NULL, "cannot encode the advert");
	if (locked && strcmp(rmw_id, id) == 0) {
		rev = rmw_rev;
		/* a test writes the advert in between */
		rm_registry_test_pause("RM_TEST_RMW_DELAY_MS");
	}
	rmw_id[0] = '\0';
	r = rm_etcd_put(e, key, text, ttl, rev, err);
	free(text);
	if (r == 1)
		rm_err_set(err, RM_EXIT_NETWORK, NULL, NULL, "etcd key %s changed since it was read "
		    "(at revision %lld): another writer was first; not overwritten", key, rev);
	return r;
}

static json_t *
etcd_get(const char *id, struct rm_err *err)
{
	struct rm_etcd *e = etcd_client(err);
	char key[512];
	json_t *l, *doc = NULL, *kv;

	if (e == NULL || etcd_key(key, sizeof(key), id, err) != 0)
		return NULL;
	if ((l = rm_etcd_range(e, key, 0, NULL, err)) == NULL)
		return NULL;
	kv = json_array_get(l, 0);
	snprintf(rmw_id, sizeof(rmw_id), "%s", id);
	rmw_rev = json_integer_value(json_object_get(kv, "mod_revision"));
	if (kv == NULL)
		rm_err_set(err, RM_EXIT_NOTFOUND, NULL, NULL,
		    "no executor \"%s\" in the registry (etcd key %s)", id, key);
	else
		doc = etcd_value(key, json_string_value(json_object_get(kv, "value")), err);
	json_decref(l);
	return doc;
}

static int
etcd_remove(const char *id, struct rm_err *err)
{
	struct rm_etcd *e = etcd_client(err);
	char key[512];
	int r;

	if (e == NULL)
		return -err->code;
	if ((r = etcd_key(key, sizeof(key), id, err)) != 0)
		return r;
	r = rm_etcd_delete(e, key, err);
	if (r == -RM_EXIT_NOTFOUND)
		rm_err_set(err, RM_EXIT_NOTFOUND, NULL, NULL,
		    "no executor \"%s\" in the registry (etcd key %s)", id, key);
	return r;
}

int
rm_registry_keepalive(const char *id, long *ttl, struct rm_err *err)
{
	struct rm_etcd *e;
	char key[512];
	const char *lease;
	json_t *l;
	int r;

	*ttl = 0;
	if ((e = rm_registry_etcd(err)) == NULL)
		return -err->code;
	if ((r = etcd_key(key, sizeof(key), id, err)) != 0)
		return r;
	if ((l = rm_etcd_range(e, key, 0, NULL, err)) == NULL)
		return -err->code;
	lease = json_string_value(json_object_get(json_array_get(l, 0), "lease"));
	if (lease == NULL)
		r = 1;		/* the advert went with its lease */
	else if (strcmp(lease, "0") != 0)
		r = rm_etcd_keepalive(e, lease, ttl, err);
	json_decref(l);
	return r;
}

json_t *
rm_registry_list_remote(struct rm_err *err)
{
	struct rm_etcd *e = etcd_client(err);
	char key[512], name[600], buf[1400];
	json_t *l, *out, *kv, *doc;
	struct rm_err ve;
	size_t i;

	if (e == NULL)
		return NULL;
	snprintf(key, sizeof(key), "%s/executors/", cur_url.prefix);
	if ((l = rm_etcd_range(e, key, 1, NULL, err)) == NULL)
		return NULL;
	out = json_array();
	json_array_foreach(l, i, kv) {
		const char *k = json_string_value(json_object_get(kv, "key"));
		snprintf(name, sizeof(name), "etcd:%s", k);
		rm_err_clear(&ve);
		doc = etcd_value(k, json_string_value(json_object_get(kv, "value")), &ve);
		/* a key on a lease lives exactly as long as its lease: that is its
		 * expiry, kept alive by rm-probe watch past the expires_at written */
		if (json_is_object(doc) && strcmp(json_string_value(json_object_get(kv, "lease")) ?: "0",
		    "0") != 0)
			json_object_del(doc, "expires_at");
		if (doc != NULL)
			json_array_append_new(out, json_pack("{s:s,s:o}", "name", name, "advert", doc));
		else {
			ve.file[0] = '\0';
			json_array_append_new(out, json_pack("{s:s,s:s}", "name", name, "error",
			    rm_err_str(&ve, buf, sizeof(buf))));
		}
	}
	json_decref(l);
	return out;
}
