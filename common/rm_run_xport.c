/*
 * Transports of the runner: how a node's command reaches its executor,
 * chosen by the advert's endpoint.
 */
#include "config.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rm_run_int.h"

int
rm_run_xport_parse(const char *ep, struct rm_xport *x, char *msg, size_t size)
{
	const char *p, *at, *colon;

	memset(x, 0, sizeof(*x));
	if (ep == NULL) {
		snprintf(msg, size, "the advert has no endpoint: the runner needs local, "
		    "ssh://[user@]host[:port] or slurm://[partition]");
		return -1;
	}
	snprintf(x->endpoint, sizeof(x->endpoint), "%s", ep);
	if (strcmp(ep, "local") == 0 || strcmp(ep, "local://") == 0) {
		x->kind = RM_XPORT_LOCAL;
		return 0;
	}
	if (strncmp(ep, "ssh://", 6) == 0) {
		x->kind = RM_XPORT_SSH;
		p = ep + 6;
		at = strchr(p, '@');
		if (at != NULL) {
			snprintf(x->user, sizeof(x->user), "%.*s", (int)(at - p), p);
			p = at + 1;
		}
		if (*p == '[') {
			const char *close = strchr(p, ']');
			if (close == NULL)
				goto bad;
			snprintf(x->host, sizeof(x->host), "%.*s", (int)(close - p - 1), p + 1);
			p = close + 1;
			colon = *p == ':' ? p : NULL;
		} else {
			colon = strrchr(p, ':');
			snprintf(x->host, sizeof(x->host), "%.*s",
			    (int)(colon ? (size_t)(colon - p) : strcspn(p, "/")), p);
		}
		if (colon != NULL) {
			size_t i, n = strcspn(colon + 1, "/");
			if (n == 0 || n >= sizeof(x->port))
				goto bad;
			for (i = 0; i < n; i++)
				if (!isdigit((unsigned char)colon[1 + i]))
					goto bad;
			snprintf(x->port, sizeof(x->port), "%.*s", (int)n, colon + 1);
		}
		if (x->host[0] == '\0' || x->host[0] == '-' || x->user[0] == '-')
			goto bad;
		return 0;
	}
	if (strncmp(ep, "slurm://", 8) == 0) {
		x->kind = RM_XPORT_SLURM;
		p = ep + 8;
		snprintf(x->partition, sizeof(x->partition), "%.*s", (int)strcspn(p, "/"), p);
		if (x->partition[0] == '-')
			goto bad;
		return 0;
	}
	snprintf(msg, size, "unsupported endpoint '%s': the runner speaks local, "
	    "ssh://[user@]host[:port] and slurm://[partition]", ep);
	return -1;
bad:
	snprintf(msg, size, "malformed endpoint '%s': expected ssh://[user@]host[:port] or "
	    "slurm://[partition]", ep);
	return -1;
}

void
rm_run_shquote(char **buf, size_t *len, size_t *cap, const char *s)
{
	size_t need = strlen(s) * 4 + 3;

	if (*len + need + 1 > *cap) {
		*cap = (*len + need + 1) * 2;
		*buf = realloc(*buf, *cap);
	}
	(*buf)[(*len)++] = '\'';
	for (; *s; s++) {
		if (*s == '\'') {
			memcpy(*buf + *len, "'\\''", 4);
			*len += 4;
		} else
			(*buf)[(*len)++] = *s;
	}
	(*buf)[(*len)++] = '\'';
	(*buf)[*len] = '\0';
}

static void
add_cmd(json_t *argv, const json_t *exec)
{
	size_t i;
	json_t *a;

	if (json_is_string(exec)) {
		json_array_append_new(argv, json_string("/bin/sh"));
		json_array_append_new(argv, json_string("-c"));
		json_array_append(argv, (json_t *)exec);
		return;
	}
	json_array_foreach(exec, i, a)
		json_array_append(argv, a);
}

const char *
rm_run_relay_cmd(void)
{
	const char *c = getenv("REMOTEMEDIA_RELAY");

	return c == NULL ? "rm-schedule" : c;
}

/*
 * The node's command on another host, under the checkpoint relay where the
 * executor has it (rm_run_relay.c): an executor without remotemedia still
 * runs the node, without REMOTEMEDIA_CHECKPOINT_FD, as before relays.
 */
static void
add_remote_cmd(json_t *argv, const json_t *exec)
{
	const char *relay = rm_run_relay_cmd();

	if (*relay) {
		json_array_append_new(argv, json_string("/bin/sh"));
		json_array_append_new(argv, json_string("-c"));
		json_array_append_new(argv, json_string("if command -v \"$0\" >/dev/null 2>&1; "
		    "then exec \"$0\" run --relay -- \"$@\"; fi; exec \"$@\""));
		json_array_append_new(argv, json_string(relay));
	}
	add_cmd(argv, exec);
}

/* Features a Slurm node must offer: tags and codec names of the node. */
static void
features(const json_t *caps, char *buf, size_t size)
{
	const char *keys[] = { "tags", "required_tags", "codecs", NULL };
	size_t k, i, len = 0;
	const json_t *v, *e;
	const char *name;

	buf[0] = '\0';
	for (k = 0; keys[k]; k++) {
		v = json_object_get(caps, keys[k]);
		if (json_is_array(v)) {
			json_array_foreach(v, i, e)
				if (json_is_string(e) && len < size)
					len += (size_t)snprintf(buf + len, size - len, "%s%s",
					    len ? "&" : "", json_string_value(e));
		} else if (json_is_object(v)) {
			json_object_foreach((json_t *)v, name, e)
				if (len < size)
					len += (size_t)snprintf(buf + len, size - len, "%s%s",
					    len ? "&" : "", name);
		}
	}
}

json_t *
rm_run_argv(const struct rm_xport *x, const json_t *exec, const json_t *env,
    const json_t *caps, const char *rundir, struct rm_err *err)
{
	json_t *argv = json_array();
	char opt[600];

	(void)rundir;
	(void)err;
	if (x->kind == RM_XPORT_LOCAL) {
		add_cmd(argv, exec);
		return argv;
	}
	if (x->kind == RM_XPORT_SSH) {
		const char *cmd = getenv("REMOTEMEDIA_SSH");
		char *opts, *w, *save = NULL, *buf = NULL;
		size_t len = 0, cap = 0, i;
		const char *k;
		json_t *v, *a, *words;

		/* REMOTEMEDIA_SSH: the ssh command and options, split on blanks */
		opts = strdup(cmd && *cmd ? cmd : "ssh");
		for (w = strtok_r(opts, " \t", &save); w; w = strtok_r(NULL, " \t", &save))
			json_array_append_new(argv, json_string(w));
		free(opts);
		json_array_append_new(argv, json_string("-o"));
		json_array_append_new(argv, json_string("BatchMode=yes"));
		json_array_append_new(argv, json_string("-o"));
		json_array_append_new(argv, json_string("StrictHostKeyChecking=accept-new"));
		if (x->port[0]) {
			json_array_append_new(argv, json_string("-p"));
			json_array_append_new(argv, json_string(x->port));
		}
		snprintf(opt, sizeof(opt), "%s%s%s", x->user, x->user[0] ? "@" : "", x->host);
		json_array_append_new(argv, json_string(opt));
		/* one remote command line: env NAME=VALUE ... command */
		cap = 256;
		buf = malloc(cap);
		len = (size_t)snprintf(buf, cap, "env");
		json_object_foreach((json_t *)env, k, v) {
			char *kv;
			if (asprintf(&kv, "%s=%s", k, json_string_value(v)) < 0)
				continue;
			buf[len++] = ' ';
			buf[len] = '\0';
			rm_run_shquote(&buf, &len, &cap, kv);
			free(kv);
		}
		words = json_array();
		add_remote_cmd(words, exec);
		json_array_foreach(words, i, a) {
			buf[len++] = ' ';
			buf[len] = '\0';
			rm_run_shquote(&buf, &len, &cap, json_string_value(a));
		}
		json_decref(words);
		json_array_append_new(argv, json_string(buf));
		free(buf);
		return argv;
	}
	/* slurm: one task on one node, the requirements as resource requests */
	{
		const json_t *gpu = json_object_get(caps, "gpu"), *cpu = json_object_get(caps, "cpu");
		const json_t *mem = json_object_get(caps, "memory_gb");
		const char *srun = getenv("REMOTEMEDIA_SRUN");

		json_array_append_new(argv, json_string(srun && *srun ? srun : "srun"));
		json_array_append_new(argv, json_string("--nodes=1"));
		json_array_append_new(argv, json_string("--ntasks=1"));
		json_array_append_new(argv, json_string("--quiet"));
		if (x->partition[0]) {
			snprintf(opt, sizeof(opt), "--partition=%s", x->partition);
			json_array_append_new(argv, json_string(opt));
		}
		features(caps, opt + 13, sizeof(opt) - 13);
		if (opt[13]) {
			memcpy(opt, "--constraint=", 13);
			json_array_append_new(argv, json_string(opt));
		}
		if (json_is_object(gpu) && !json_is_false(json_object_get(gpu, "required"))) {
			const json_t *c = json_object_get(gpu, "count");
			snprintf(opt, sizeof(opt), "--gres=gpu:%lld",
			    json_is_number(c) && json_number_value(c) >= 1 ?
			    (long long)json_number_value(c) : 1LL);
			json_array_append_new(argv, json_string(opt));
		} else if (json_is_true(gpu)) {
			json_array_append_new(argv, json_string("--gres=gpu:1"));
		}
		if (json_is_number(mem) && json_number_value(mem) > 0) {
			snprintf(opt, sizeof(opt), "--mem=%lldM",
			    (long long)ceil(json_number_value(mem) * 1024));
			json_array_append_new(argv, json_string(opt));
		}
		if (json_is_number(json_object_get(cpu, "cores")) &&
		    json_number_value(json_object_get(cpu, "cores")) >= 1) {
			snprintf(opt, sizeof(opt), "--cpus-per-task=%lld",
			    (long long)json_number_value(json_object_get(cpu, "cores")));
			json_array_append_new(argv, json_string(opt));
		}
		json_array_append_new(argv, json_string("--"));
		add_remote_cmd(argv, exec);
		return argv;
	}
}
