/*
 * SHA-256 and package signatures through OpenSSL: Ed25519 keys, and X.509
 * chains verified against the trusted CA certificates. rm_sha256_hex, the
 * one-shot hash of a document in memory, uses Nettle instead, much cheaper
 * to load (rm_lazy_nettle.c): a plan need not start OpenSSL.
 *
 * Keys: $REMOTEMEDIA_HOME/keys/NAME.key (PKCS#8 PEM, 0600) and NAME.pub
 * (SubjectPublicKeyInfo PEM). Trust: $REMOTEMEDIA_HOME/trust/ holds *.pub
 * Ed25519 public keys (PEM) and CA certificates (*.crt, *.pem).
 *
 * A signature (meta/signature in a package) is the JSON document
 *   {"schema": "remotemedia.signature/1", "digest": "sha256:<hex>",
 *    "algorithm": "ed25519", "key_id": "<16 hex>", "public_key": "<base64>",
 *    "signature": "<base64>", "certificates": ["<PEM>", ...]}
 * where the signed message is the ASCII text of "digest" (sha256:<64 hex>),
 * key_id the first 16 hex digits of the SHA-256 of the raw 32-byte public
 * key, and certificates (optional) the chain, leaf first, whose leaf holds
 * the signing key.
 */
#ifndef RM_CRYPTO_H
#define RM_CRYPTO_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "rm_err.h"

#define RM_SHA256_HEX 65	/* 64 digits and a NUL */

/* Streaming SHA-256 (an opaque OpenSSL context underneath). */
struct rm_sha256;
struct rm_sha256 *rm_sha256_new(void);
void rm_sha256_update(struct rm_sha256 *h, const void *data, size_t len);
/* Writes 64 lowercase hex digits and frees h. */
void rm_sha256_final(struct rm_sha256 *h, char hex[RM_SHA256_HEX]);
void rm_sha256_hex(const void *data, size_t len, char hex[RM_SHA256_HEX]);
/* Hashes a file in large blocks; size receives its length. */
int rm_sha256_file(const char *path, char hex[RM_SHA256_HEX], uint64_t *size,
    struct rm_err *err);

/* Makes keys/NAME.key and keys/NAME.pub; pubpath receives the .pub path. */
int rm_key_generate(const char *name, char *pubpath, size_t size, struct rm_err *err);
/*
 * Trusts a public key (a .pub path, or a NAME of keys/NAME.pub): checks it is
 * an Ed25519 key and copies it to trust/NAME.pub; trustpath receives that
 * path. Trusting the same key again is not an error; another key under the
 * same name is.
 */
int rm_key_trust(const char *key, char *trustpath, size_t size, struct rm_err *err);
/*
 * Signs "sha256:<digest>" with the key (a path, or a NAME under keys/),
 * adding the PEM chain of certfile (may be NULL) whose leaf must hold the
 * same key. *sigdoc receives the signature document.
 */
int rm_sign_digest(const char *key, const char *certfile, const char *digest_hex,
    json_t **sigdoc, struct rm_err *err);

enum rm_sig_status {
	RM_SIG_UNSIGNED = 0,
	RM_SIG_VALID,		/* verifies and the key or chain is trusted */
	RM_SIG_UNTRUSTED,	/* verifies, but the key/chain is not trusted */
	RM_SIG_INVALID		/* malformed, wrong digest, or does not verify */
};

struct rm_sig_info {
	enum rm_sig_status status;
	char key_id[17];
	char signer[256];	/* trusted key file name, or the leaf subject */
	char reason[512];	/* why untrusted or invalid */
};

/* Checks sigdoc (may be NULL: unsigned) against the package digest. */
void rm_sig_check(const json_t *sigdoc, const char *digest_hex, struct rm_sig_info *info);
const char *rm_sig_status_name(enum rm_sig_status s);

/* Standard base64 (libcrypto): a malloc'ed string, or NULL. */
char *rm_b64_encode(const unsigned char *data, size_t len);
/* Decodes standard base64 into out (size max); returns the length or -1. */
long rm_b64_decode(const char *s, unsigned char *out, size_t max);

#endif
