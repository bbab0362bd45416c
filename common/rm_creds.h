/*
 * Registry credentials and per-host settings, looked up in this order:
 *   1. REMOTEMEDIA_REGISTRY_USER and REMOTEMEDIA_REGISTRY_PASSWORD (any host;
 *      REMOTEMEDIA_REGISTRY_HOST limits them to one host[:port]);
 *   2. config.yaml:
 *        registries:
 *          "host:port": {username, password | password_env, insecure: bool,
 *                        credential_helper: NAME}
 *   3. $DOCKER_CONFIG/config.json (else ~/.docker/config.json): credHelpers
 *      [host] and credsStore through docker-credential-NAME get, then
 *      auths[host] ("auth": base64 user:password, or username/password).
 * Secrets live only in struct rm_cred and in the Authorization headers
 * built from them; nothing here prints or logs them.
 */
#ifndef RM_CREDS_H
#define RM_CREDS_H

#include <stddef.h>

#include "rm_err.h"

struct rm_cred {
	int have;		/* username and password are set */
	char username[256];
	char password[1024];
	char source[128];	/* where they came from, for messages ("config.yaml") */
};

/* Fills cred for host ("host" or "host:port"); no credentials is not an error. */
int rm_creds_lookup(const char *host, struct rm_cred *cred, struct rm_err *err);
/* Is host listed with insecure: true in config.yaml? */
int rm_creds_insecure(const char *host);
/* "Basic <base64 user:password>" for an Authorization header. */
int rm_cred_basic(const struct rm_cred *cred, char *out, size_t size);
/* Overwrites the secret. */
void rm_cred_wipe(struct rm_cred *cred);

#endif
