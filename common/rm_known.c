/* Known document fields and suggestions for unknown ones (rm_known.h). */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "rm_home.h"
#include "rm_known.h"
#include "rm_log.h"
#include "rm_taxo.h"

const char *const rm_known_pipeline[] = {
	"schema", "name", "version", "metadata", "nodes", "edges", "connections", NULL
};

const char *const rm_known_node[] = {
	"id", "type", "node_type", "capabilities", "requirements", "params", "exec", "fallback",
	"estimated_seconds", "host", "remote_ref", "models", NULL
};

const char *const rm_known_advert[] = {
	"schema", "id", "capabilities", "url", "name", "description", "labels", "gpus",
	"bench", "probe_errors", "services", "version", "verb", "probed_at", "expires_at",
	"approved", "host", "latency_ms", "pricing", "constraints", "slo", "engine", NULL
};

const char *const rm_known_config[] = {
	"schema", "registries", "registry", "approved_executors", "executor", "policy", "etcd",
	"peers", "peer_timeout", NULL
};

const char *const rm_known_etcd[] = {
	"cacert", "cert", "key", "user", "password", "password_env", "plain_auth", NULL
};

const char *const rm_known_registry[] = {
	"username", "password", "password_env", "credential_helper", "insecure", NULL
};

#define MAXLEN 64

int
rm_known_has(const char *const *list, const char *key)
{
	for (; *list != NULL; list++)
		if (strcmp(*list, key) == 0)
			return 1;
	return 0;
}

int
rm_edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i, j;
	int d[MAXLEN + 1][MAXLEN + 1];

	if (la > MAXLEN || lb > MAXLEN)
		return 8;
	for (i = 0; i <= la; i++)
		d[i][0] = (int)i;
	for (j = 0; j <= lb; j++)
		d[0][j] = (int)j;
	for (i = 1; i <= la; i++)
		for (j = 1; j <= lb; j++) {
			int c = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
			if (d[i - 1][j] + 1 < c)
				c = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < c)
				c = d[i][j - 1] + 1;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    d[i - 2][j - 2] + 1 < c)
				c = d[i - 2][j - 2] + 1;
			d[i][j] = c;
		}
	return d[la][lb] < 8 ? d[la][lb] : 8;
}

/* How far a key may be from a suggestion: a third of its length, 1 to 3. */
static int
limit(const char *key)
{
	size_t n = strlen(key) / 3;

	return n < 1 ? 1 : n > 3 ? 3 : (int)n;
}

static void
consider(const char *key, const char *cand, const char **best, int *bestd)
{
	int d;

	if (cand == NULL || strcmp(key, cand) == 0)
		return;
	d = rm_edit_distance(key, cand);
	if (d <= limit(key) && d < *bestd) {
		*best = cand;
		*bestd = d;
	}
}

const char *
rm_nearest(const char *key, const char *const *list)
{
	const char *best = NULL;
	int bestd = 9;

	for (; *list != NULL; list++)
		consider(key, *list, &best, &bestd);
	return best;
}

const char *
rm_nearest_capability(const struct rm_taxo *t, const char *path)
{
	const char *best = NULL;
	int bestd = 9;
	size_t i, j;

	if (t == NULL)
		return NULL;
	for (i = 0; i < t->nkeys; i++) {
		consider(path, t->keys[i].path, &best, &bestd);
		for (j = 0; j < t->keys[i].nreqs; j++)
			consider(path, t->keys[i].reqs[j], &best, &bestd);
	}
	return best;
}

const char *
rm_did_you_mean(const char *near, char *buf, size_t size)
{
	if (near == NULL)
		snprintf(buf, size, "%s", "");
	else
		snprintf(buf, size, " (did you mean %s?)", near);
	return buf;
}

/* Has this been said before in this process? Remembers it if not. */
static int
told_before(const char *file, const char *field)
{
	static json_t *told;
	char key[1024];

	snprintf(key, sizeof(key), "%s\n%s", file ? file : "", field ? field : "");
	if (told == NULL && (told = json_object()) == NULL)
		return 0;
	if (json_object_get(told, key) != NULL)
		return 1;
	json_object_set_new(told, key, json_true());
	return 0;
}

int
rm_unknown_field(const char *file, const char *path, const char *near, struct rm_err *err)
{
	char dym[200];

	rm_did_you_mean(near, dym, sizeof(dym));
	if (rm_mode() == RM_MODE_PRODUCTION)
		return rm_err_set(err, RM_EXIT_INVALID, file, path,
		    "unknown field%s; production mode accepts only known fields", dym);
	/* one warning a process for a field, however often the document is read */
	if (!told_before(file, path))
		rm_warn("%s%s%s: unknown field, ignored%s", file ? file : "", file ? ": " : "",
		    path, dym);
	return 0;
}

int
rm_unknown_report(const struct rm_err *found, struct rm_err *err)
{
	char text[2048];

	if (rm_mode() == RM_MODE_PRODUCTION) {
		if (err != NULL)
			*err = *found;
		return -found->code;
	}
	if (!told_before(found->file, found->field))
		rm_warn("%s", rm_err_str(found, text, sizeof(text)));
	return 0;
}
