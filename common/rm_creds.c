/* Registry credentials: environment, config.yaml, docker's config.json. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "rm_config.h"
#include "rm_creds.h"
#include "rm_doc.h"
#include "rm_fs.h"
#include "rm_log.h"

#define HELPER_MAX (64 * 1024)

static void
set_cred(struct rm_cred *cred, const char *user, const char *pass, const char *source)
{
	snprintf(cred->username, sizeof(cred->username), "%s", user);
	snprintf(cred->password, sizeof(cred->password), "%s", pass);
	snprintf(cred->source, sizeof(cred->source), "%s", source);
	cred->have = 1;
}

void
rm_cred_wipe(struct rm_cred *cred)
{
	volatile char *p = cred->password;
	size_t i;

	for (i = 0; i < sizeof(cred->password); i++)
		p[i] = 0;
	cred->have = 0;
}

int
rm_cred_basic(const struct rm_cred *cred, char *out, size_t size)
{
	char plain[1300];
	int n = snprintf(plain, sizeof(plain), "%s:%s", cred->username, cred->password);
	size_t need;

	if (n < 0 || (size_t)n >= sizeof(plain))
		return -1;
	need = 6 + 4 * (((size_t)n + 2) / 3) + 1;
	if (need > size) {
		memset(plain, 0, sizeof(plain));
		return -1;
	}
	memcpy(out, "Basic ", 6);
	EVP_EncodeBlock((unsigned char *)out + 6, (const unsigned char *)plain, n);
	memset(plain, 0, sizeof(plain));
	return 0;
}

static const json_t *
config_entry(const char *host)
{
	struct rm_err err;
	const json_t *cfg, *regs;

	rm_err_clear(&err);
	if ((cfg = rm_config(&err)) == NULL) {
		/* never silently: its credentials and insecure hosts are not used */
		static int said;
		char buf[2048];
		if (err.code != 0 && !said++)
			rm_warn("%s; its registries are not used", rm_err_str(&err, buf, sizeof(buf)));
		return NULL;
	}
	regs = json_object_get(cfg, "registries");
	if (!json_is_object(regs))
		return NULL;
	return json_object_get(regs, host);
}

int
rm_creds_insecure(const char *host)
{
	const json_t *e = config_entry(host);

	return json_is_true(json_object_get(e, "insecure"));
}

/* Runs docker-credential-NAME get with host on stdin; parses {Username, Secret}. */
static int
run_helper(const char *name, const char *host, struct rm_cred *cred, struct rm_err *err)
{
	char prog[300], *buf = NULL;
	int in[2], out[2], status;
	size_t len = 0, cap = 0;
	pid_t pid;
	json_t *doc;
	json_error_t je;
	void (*old)(int);

	if (strchr(name, '/') != NULL || name[0] == '\0')
		return rm_err_set(err, RM_EXIT_INVALID, "config.json", "credHelpers",
		    "bad helper name '%s'", name);
	snprintf(prog, sizeof(prog), "docker-credential-%s", name);
	if (pipe(in) != 0)
		return rm_err_set(err, RM_EXIT_INTERNAL, prog, NULL, "pipe: %s", strerror(errno));
	if (pipe(out) != 0) {
		close(in[0]);
		close(in[1]);
		return rm_err_set(err, RM_EXIT_INTERNAL, prog, NULL, "pipe: %s", strerror(errno));
	}
	pid = fork();
	if (pid < 0) {
		close(in[0]); close(in[1]); close(out[0]); close(out[1]);
		return rm_err_set(err, RM_EXIT_INTERNAL, prog, NULL, "fork: %s", strerror(errno));
	}
	if (pid == 0) {
		int devnull = open("/dev/null", O_WRONLY);
		dup2(in[0], 0);
		dup2(out[1], 1);
		/* a helper's complaints may quote what it was given; keep them quiet */
		if (devnull >= 0)
			dup2(devnull, 2);
		close(in[0]); close(in[1]); close(out[0]); close(out[1]);
		execlp(prog, prog, "get", (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	old = signal(SIGPIPE, SIG_IGN);
	if (write(in[1], host, strlen(host)) < 0) {
		/* the helper reads nothing: its answer below tells */
	}
	close(in[1]);
	signal(SIGPIPE, old);
	for (;;) {
		ssize_t n;
		if (len + 4096 > cap) {
			char *nb;
			if (cap >= HELPER_MAX)
				break;
			cap = cap ? cap * 2 : 8192;
			if ((nb = realloc(buf, cap + 1)) == NULL)
				break;
			buf = nb;
		}
		n = read(out[0], buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(out[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || buf == NULL) {
		int r;
		if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
			r = rm_err_set(err, RM_EXIT_NETWORK, prog, NULL,
			    "credential helper not found on PATH");
		else
			r = 1;	/* no credentials for this host: not an error */
		if (buf) memset(buf, 0, len);
		free(buf);
		return r < 0 ? r : 1;
	}
	buf[len] = '\0';
	doc = json_loads(buf, 0, &je);
	memset(buf, 0, len);
	free(buf);
	if (!json_is_object(doc) || !json_is_string(json_object_get(doc, "Secret"))) {
		json_decref(doc);
		return rm_err_set(err, RM_EXIT_NETWORK, prog, NULL,
		    "expected a JSON object with Username and Secret from the helper");
	}
	{
		const char *u = json_string_value(json_object_get(doc, "Username"));
		char src[200];
		snprintf(src, sizeof(src), "docker-credential-%s", name);
		set_cred(cred, u ? u : "", json_string_value(json_object_get(doc, "Secret")), src);
	}
	json_decref(doc);
	return 0;
}

static int
docker_config(const char *host, struct rm_cred *cred, struct rm_err *err)
{
	char path[4096], *text = NULL;
	const char *dc = getenv("DOCKER_CONFIG"), *home = getenv("HOME");
	json_t *doc, *auths, *e, *helpers;
	json_error_t je;
	size_t len;
	int r = 0;

	if (dc != NULL && dc[0] != '\0')
		snprintf(path, sizeof(path), "%s/config.json", dc);
	else if (home != NULL)
		snprintf(path, sizeof(path), "%s/.docker/config.json", home);
	else
		return 0;
	if (!rm_is_file(path))
		return 0;
	if ((r = rm_read_file(path, 1 << 20, &text, &len, err)) != 0)
		return r;
	doc = json_loadb(text, len, 0, &je);
	memset(text, 0, len);
	free(text);
	if (!json_is_object(doc)) {
		json_decref(doc);
		return rm_err_set(err, RM_EXIT_INVALID, path, NULL, "expected a JSON object");
	}
	helpers = json_object_get(doc, "credHelpers");
	if (json_is_string(json_object_get(helpers, host))) {
		r = run_helper(json_string_value(json_object_get(helpers, host)), host, cred, err);
		goto out;
	}
	auths = json_object_get(doc, "auths");
	e = json_object_get(auths, host);
	if (e == NULL) {
		/* entries are often written as URLs: https://host, http://host/v2/ */
		const char *k;
		json_t *v;
		json_object_foreach(auths, k, v) {
			const char *h = strstr(k, "://") ? strstr(k, "://") + 3 : k;
			size_t hl = strlen(host);
			if (strncmp(h, host, hl) == 0 && (h[hl] == '\0' || h[hl] == '/')) {
				e = v;
				break;
			}
		}
	}
	if (json_is_object(e)) {
		const char *a = json_string_value(json_object_get(e, "auth"));
		const char *u = json_string_value(json_object_get(e, "username"));
		const char *p = json_string_value(json_object_get(e, "password"));
		if (a != NULL && a[0] != '\0') {
			unsigned char dec[1400];
			size_t al = strlen(a);
			int n;
			char *colon;
			if (al % 4 != 0 || al / 4 * 3 >= sizeof(dec) ||
			    (n = EVP_DecodeBlock(dec, (const unsigned char *)a, (int)al)) < 0) {
				r = rm_err_set(err, RM_EXIT_INVALID, path, "auths", "entry for %s: auth is "
				    "not base64 of user:password", host);
				goto out;
			}
			dec[n] = '\0';
			colon = strchr((char *)dec, ':');
			if (colon == NULL) {
				memset(dec, 0, sizeof(dec));
				r = rm_err_set(err, RM_EXIT_INVALID, path, "auths", "entry for %s: auth is "
				    "not base64 of user:password", host);
				goto out;
			}
			*colon = '\0';
			set_cred(cred, (char *)dec, colon + 1, "docker config.json");
			memset(dec, 0, sizeof(dec));
			goto out;
		}
		if (u != NULL && p != NULL) {
			set_cred(cred, u, p, "docker config.json");
			goto out;
		}
	}
	if (json_is_string(json_object_get(doc, "credsStore"))) {
		r = run_helper(json_string_value(json_object_get(doc, "credsStore")), host, cred, err);
		if (r > 0)
			r = 0;
	}
out:
	if (r > 0)
		r = 0;
	json_decref(doc);
	return r;
}

int
rm_creds_lookup(const char *host, struct rm_cred *cred, struct rm_err *err)
{
	const char *u = getenv("REMOTEMEDIA_REGISTRY_USER");
	const char *p = getenv("REMOTEMEDIA_REGISTRY_PASSWORD");
	const char *only = getenv("REMOTEMEDIA_REGISTRY_HOST");
	const json_t *e;

	memset(cred, 0, sizeof(*cred));
	if (u != NULL && p != NULL && (only == NULL || only[0] == '\0' || strcmp(only, host) == 0)) {
		set_cred(cred, u, p, "environment");
		return 0;
	}
	e = config_entry(host);
	if (json_is_object(e)) {
		const char *cu = json_string_value(json_object_get(e, "username"));
		const char *cp = json_string_value(json_object_get(e, "password"));
		const char *pe = json_string_value(json_object_get(e, "password_env"));
		const char *helper = json_string_value(json_object_get(e, "credential_helper"));
		if (cp == NULL && pe != NULL)
			cp = getenv(pe);
		if (cu != NULL && cp != NULL) {
			set_cred(cred, cu, cp, "config.yaml");
			return 0;
		}
		if (helper != NULL) {
			int r = run_helper(helper, host, cred, err);
			return r > 0 ? 0 : r;
		}
	}
	return docker_config(host, cred, err);
}
