#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nettle/sha2.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "rm_crypto.h"
#include "rm_fs.h"
#include "rm_home.h"
#include "rm_log.h"

#define HASH_BLOCK ((size_t)4 << 20)
#define PEM_MAX ((size_t)1 << 20)

struct rm_sha256 {
	EVP_MD_CTX *ctx;
};

static void
to_hex(const unsigned char *md, size_t n, char *hex)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		hex[2 * i] = digits[md[i] >> 4];
		hex[2 * i + 1] = digits[md[i] & 15];
	}
	hex[2 * n] = '\0';
}

struct rm_sha256 *
rm_sha256_new(void)
{
	struct rm_sha256 *h = calloc(1, sizeof(*h));

	if (h == NULL)
		return NULL;
	h->ctx = EVP_MD_CTX_new();
	if (h->ctx == NULL || EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(h->ctx);
		free(h);
		return NULL;
	}
	return h;
}

void
rm_sha256_update(struct rm_sha256 *h, const void *data, size_t len)
{
	if (h != NULL && len > 0)
		EVP_DigestUpdate(h->ctx, data, len);
}

void
rm_sha256_final(struct rm_sha256 *h, char hex[RM_SHA256_HEX])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	hex[0] = '\0';
	if (h == NULL)
		return;
	if (EVP_DigestFinal_ex(h->ctx, md, &n) == 1)
		to_hex(md, n, hex);
	EVP_MD_CTX_free(h->ctx);
	free(h);
}

#define RM_SHA256_LARGE (1024 * 1024)

void
rm_sha256_hex(const void *data, size_t len, char hex[RM_SHA256_HEX])
{
	struct sha256_ctx c;
	unsigned char md[SHA256_DIGEST_SIZE];

	/*
	 * Nettle: no libcrypto to load for a document's digest
	 * (rm_lazy_nettle.c). A large one goes to OpenSSL, which uses the
	 * processor's SHA instructions where Debian's Nettle does not: the
	 * 4.6 MB pipeline of a 10,000-node plan took 60 ms, 8% of the plan.
	 */
	if (len >= RM_SHA256_LARGE) {
		struct rm_sha256 *h = rm_sha256_new();
		if (h != NULL) {
			rm_sha256_update(h, data, len);
			rm_sha256_final(h, hex);
			if (hex[0] != '\0')
				return;
		}
	}
	nettle_sha256_init(&c);
	nettle_sha256_update(&c, len, data);
	nettle_sha256_digest(&c, sizeof(md), md);
	to_hex(md, sizeof(md), hex);
}

int
rm_sha256_file(const char *path, char hex[RM_SHA256_HEX], uint64_t *size, struct rm_err *err)
{
	struct rm_sha256 *h;
	unsigned char *buf;
	uint64_t total = 0;
	ssize_t r;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return rm_err_set(err, errno == ENOENT ? RM_EXIT_NOTFOUND : RM_EXIT_INVALID, path,
		    NULL, "cannot open: %s", strerror(errno));
	buf = malloc(HASH_BLOCK);
	h = rm_sha256_new();
	if (buf == NULL || h == NULL) {
		free(buf);
		rm_sha256_final(h, hex);
		close(fd);
		return rm_err_set(err, RM_EXIT_INTERNAL, path, NULL, "out of memory");
	}
#ifdef POSIX_FADV_SEQUENTIAL
	posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
#endif
	while ((r = read(fd, buf, HASH_BLOCK)) != 0) {
		if (r < 0) {
			if (errno == EINTR)
				continue;
			int saved = errno;
			free(buf);
			rm_sha256_final(h, hex);
			close(fd);
			return rm_err_set(err, RM_EXIT_INVALID, path, NULL, "read error: %s",
			    strerror(saved));
		}
		rm_sha256_update(h, buf, (size_t)r);
		total += (uint64_t)r;
	}
	free(buf);
	close(fd);
	rm_sha256_final(h, hex);
	if (size)
		*size = total;
	return 0;
}

/* ---- keys ------------------------------------------------------------- */

static int
name_ok(const char *name)
{
	const char *p;

	if (*name == '\0' || *name == '.' || strlen(name) > 100)
		return 0;
	for (p = name; *p; p++)
		if (!(*p == '-' || *p == '_' || *p == '.' || (*p >= '0' && *p <= '9') ||
		    (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
			return 0;
	return 1;
}

static char *
bio_text(BIO *b, size_t *len)
{
	char *data, *out;
	long n = BIO_get_mem_data(b, &data);

	if (n < 0)
		return NULL;
	out = malloc((size_t)n + 1);
	if (out == NULL)
		return NULL;
	memcpy(out, data, (size_t)n);
	out[n] = '\0';
	*len = (size_t)n;
	return out;
}

int
rm_key_generate(const char *name, char *pubpath, size_t size, struct rm_err *err)
{
	char keypath[PATH_MAX], dir[PATH_MAX];
	EVP_PKEY *pk = NULL;
	BIO *b1 = NULL, *b2 = NULL;
	char *priv = NULL, *pub = NULL;
	size_t nl1, nl2;
	int r;

	if (!name_ok(name))
		return rm_err_set(err, RM_EXIT_USAGE, NULL, NULL,
		    "bad key name '%s': use letters, digits, '-', '_' and '.'", name);
	if ((r = rm_path(dir, sizeof(dir), err, "%s/keys", rm_home())) != 0 ||
	    (r = rm_path(keypath, sizeof(keypath), err, "%s/%s.key", dir, name)) != 0 ||
	    (r = rm_path(pubpath, size, err, "%s/%s.pub", dir, name)) != 0)
		return r;
	if (access(keypath, F_OK) == 0 || access(pubpath, F_OK) == 0)
		return rm_err_set(err, RM_EXIT_INVALID, keypath, NULL,
		    "key '%s' already exists; remove it first or choose another name", name);
	if ((r = rm_mkdir_p(dir, 0700, err)) != 0)
		return r;
	pk = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	b1 = BIO_new(BIO_s_mem());
	b2 = BIO_new(BIO_s_mem());
	if (pk == NULL || b1 == NULL || b2 == NULL ||
	    PEM_write_bio_PKCS8PrivateKey(b1, pk, NULL, NULL, 0, NULL, NULL) != 1 ||
	    PEM_write_bio_PUBKEY(b2, pk) != 1 ||
	    (priv = bio_text(b1, &nl1)) == NULL || (pub = bio_text(b2, &nl2)) == NULL) {
		r = rm_err_set(err, RM_EXIT_INTERNAL, keypath, NULL, "cannot generate an Ed25519 key");
		goto out;
	}
	if ((r = rm_write_atomic(keypath, priv, nl1, 0600, err)) != 0)
		goto out;
	r = rm_write_atomic(pubpath, pub, nl2, 0644, err);
out:
	if (priv != NULL) {
		OPENSSL_cleanse(priv, strlen(priv));
		free(priv);
	}
	free(pub);
	BIO_free(b1);
	BIO_free(b2);
	EVP_PKEY_free(pk);
	return r;
}

static int
raw_public(EVP_PKEY *pk, unsigned char raw[32])
{
	size_t n = 32;

	return EVP_PKEY_get_id(pk) == EVP_PKEY_ED25519 &&
	    EVP_PKEY_get_raw_public_key(pk, raw, &n) == 1 && n == 32 ? 0 : -1;
}

/* The trust file name for key: NAME of keys/NAME.pub, or a path's base name. */
static int
trust_name(const char *key, char *src, size_t srcsize, char *name, size_t namesize,
    struct rm_err *err)
{
	const char *base;
	size_t n;
	int r;

	if (strchr(key, '/') != NULL || access(key, F_OK) == 0) {
		if ((r = rm_path(src, srcsize, err, "%s", key)) != 0)
			return r;
		base = strrchr(key, '/') ? strrchr(key, '/') + 1 : key;
		n = strlen(base);
		if (n > 4 && strcmp(base + n - 4, ".pub") == 0)
			n -= 4;
		snprintf(name, namesize, "%.*s", (int)n, base);
		if (!name_ok(name))
			return rm_err_set(err, RM_EXIT_USAGE, key, NULL,
			    "bad key file name: use letters, digits, '-', '_' and '.'");
		return 0;
	}
	if (!name_ok(key))
		return rm_err_set(err, RM_EXIT_USAGE, NULL, NULL,
		    "bad key name '%s': use letters, digits, '-', '_' and '.'", key);
	snprintf(name, namesize, "%s", key);
	return rm_path(src, srcsize, err, "%s/keys/%s.pub", rm_home(), key);
}

int
rm_key_trust(const char *key, char *trustpath, size_t size, struct rm_err *err)
{
	char src[PATH_MAX], name[128], dir[PATH_MAX];
	char *text = NULL, *old = NULL;
	size_t len, oldlen;
	unsigned char raw[32];
	EVP_PKEY *pk = NULL;
	BIO *b = NULL;
	int r;

	if ((r = trust_name(key, src, sizeof(src), name, sizeof(name), err)) != 0 ||
	    (r = rm_path(dir, sizeof(dir), err, "%s/trust", rm_home())) != 0 ||
	    (r = rm_path(trustpath, size, err, "%s/%s.pub", dir, name)) != 0)
		return r;
	if ((r = rm_read_file(src, PEM_MAX, &text, &len, err)) != 0)
		return r;
	b = BIO_new_mem_buf(text, (int)len);
	pk = b ? PEM_read_bio_PUBKEY(b, NULL, NULL, NULL) : NULL;
	if (pk == NULL || raw_public(pk, raw) != 0) {
		r = rm_err_set(err, RM_EXIT_INVALID, src, NULL,
		    "expected an Ed25519 public key (SubjectPublicKeyInfo PEM)");
		goto out;
	}
	if (access(trustpath, F_OK) == 0) {
		struct rm_err e;
		rm_err_clear(&e);
		if (rm_read_file(trustpath, PEM_MAX, &old, &oldlen, &e) == 0 && oldlen == len &&
		    memcmp(old, text, len) == 0)
			goto out;	/* already trusted: nothing to do */
		r = rm_err_set(err, RM_EXIT_INVALID, trustpath, NULL,
		    "another key is already trusted as '%s'; remove it first or rename the key",
		    name);
		goto out;
	}
	if ((r = rm_mkdir_p(dir, 0700, err)) != 0)
		goto out;
	r = rm_write_atomic(trustpath, text, len, 0644, err);
out:
	free(text);
	free(old);
	EVP_PKEY_free(pk);
	BIO_free(b);
	return r;
}

static void
key_id_of(const unsigned char raw[32], char id[17])
{
	char hex[RM_SHA256_HEX];

	rm_sha256_hex(raw, 32, hex);
	memcpy(id, hex, 16);
	id[16] = '\0';
}

char *
rm_b64_encode(const unsigned char *data, size_t len)
{
	char *out = malloc(4 * ((len + 2) / 3) + 1);

	if (out != NULL)
		EVP_EncodeBlock((unsigned char *)out, data, (int)len);
	return out;
}

long
rm_b64_decode(const char *s, unsigned char *out, size_t max)
{
	size_t n = strlen(s), pad = 0;
	unsigned char *tmp;
	int r;

	if (n == 0 || n % 4 != 0 || n / 4 * 3 > max + 2)
		return -1;
	if (s[n - 1] == '=')
		pad++;
	if (n > 1 && s[n - 2] == '=')
		pad++;
	tmp = malloc(n / 4 * 3 + 1);
	if (tmp == NULL)
		return -1;
	r = EVP_DecodeBlock(tmp, (const unsigned char *)s, (int)n);
	if (r < 0 || (size_t)r - pad > max) {
		free(tmp);
		return -1;
	}
	memcpy(out, tmp, (size_t)r - pad);
	free(tmp);
	return (long)((size_t)r - pad);
}

static int
resolve_key(const char *key, char *path, size_t size, struct rm_err *err)
{
	if (strchr(key, '/') != NULL || access(key, F_OK) == 0)
		return rm_path(path, size, err, "%s", key);
	return rm_path(path, size, err, "%s/keys/%s.key", rm_home(), key);
}

static EVP_PKEY *
read_private(const char *path, struct rm_err *err)
{
	char *text = NULL;
	size_t len;
	BIO *b;
	EVP_PKEY *pk;

	if (rm_read_file(path, PEM_MAX, &text, &len, err) != 0)
		return NULL;
	b = BIO_new_mem_buf(text, (int)len);
	pk = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
	BIO_free(b);
	OPENSSL_cleanse(text, len);
	free(text);
	if (pk == NULL)
		rm_err_set(err, RM_EXIT_INVALID, path, NULL, "not a PEM private key");
	else if (EVP_PKEY_get_id(pk) != EVP_PKEY_ED25519) {
		rm_err_set(err, RM_EXIT_INVALID, path, NULL, "expected an Ed25519 key");
		EVP_PKEY_free(pk);
		pk = NULL;
	}
	return pk;
}

/* Every certificate of a PEM text, in order. */
static STACK_OF(X509) *
read_certs(const char *text, size_t len)
{
	STACK_OF(X509) *sk = sk_X509_new_null();
	BIO *b = BIO_new_mem_buf(text, (int)len);
	X509 *x;

	if (sk == NULL || b == NULL) {
		BIO_free(b);
		sk_X509_free(sk);
		return NULL;
	}
	while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL)
		sk_X509_push(sk, x);
	BIO_free(b);
	return sk;
}

static char *
cert_pem(X509 *x)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *s = NULL;
	size_t n;

	if (b != NULL && PEM_write_bio_X509(b, x) == 1)
		s = bio_text(b, &n);
	BIO_free(b);
	return s;
}

static int leaf_usage_problem(X509 *x, char *why, size_t size);

int
rm_sign_digest(const char *key, const char *certfile, const char *digest_hex,
    json_t **sigdoc, struct rm_err *err)
{
	char path[PATH_MAX], msg[80], id[17], why[128];
	unsigned char raw[32], sig[64];
	size_t siglen = sizeof(sig), i;
	EVP_PKEY *pk = NULL;
	EVP_MD_CTX *ctx = NULL;
	STACK_OF(X509) *chain = NULL;
	json_t *doc = NULL, *certs;
	char *b64 = NULL, *b64k = NULL, *text = NULL;
	size_t len;
	int r;

	*sigdoc = NULL;
	if ((r = resolve_key(key, path, sizeof(path), err)) != 0)
		return r;
	if ((pk = read_private(path, err)) == NULL)
		return -err->code;
	r = -RM_EXIT_INTERNAL;
	if (raw_public(pk, raw) != 0) {
		rm_err_set(err, RM_EXIT_INVALID, path, NULL, "cannot read the public half of the key");
		goto out;
	}
	key_id_of(raw, id);
	certs = json_array();
	doc = json_pack("{ss ss ss ss}", "schema", "remotemedia.signature/1",
	    "algorithm", "ed25519", "key_id", id, "digest", "");
	json_object_set_new(doc, "certificates", certs);
	if (certfile != NULL) {
		if ((r = rm_read_file(certfile, PEM_MAX, &text, &len, err)) != 0)
			goto out;
		chain = read_certs(text, len);
		if (chain == NULL || sk_X509_num(chain) == 0) {
			r = rm_err_set(err, RM_EXIT_INVALID, certfile, NULL,
			    "no PEM certificate found");
			goto out;
		}
		if (EVP_PKEY_eq(X509_get0_pubkey(sk_X509_value(chain, 0)), pk) != 1) {
			r = rm_err_set(err, RM_EXIT_INVALID, certfile, NULL,
			    "the first (leaf) certificate does not hold the signing key %s", path);
			goto out;
		}
		if (leaf_usage_problem(sk_X509_value(chain, 0), why, sizeof(why)) != 0)
			rm_warn("%s: the leaf is not a code-signing certificate (%s): "
			    "verifiers will not trust this signature", certfile, why);
		for (i = 0; i < (size_t)sk_X509_num(chain); i++) {
			char *pem = cert_pem(sk_X509_value(chain, (int)i));
			if (pem == NULL)
				goto out;
			json_array_append_new(certs, json_string(pem));
			free(pem);
		}
	}
	snprintf(msg, sizeof(msg), "sha256:%s", digest_hex);
	ctx = EVP_MD_CTX_new();
	if (ctx == NULL || EVP_DigestSignInit(ctx, NULL, NULL, NULL, pk) != 1 ||
	    EVP_DigestSign(ctx, sig, &siglen, (const unsigned char *)msg, strlen(msg)) != 1) {
		r = rm_err_set(err, RM_EXIT_INTERNAL, path, NULL, "signing failed");
		goto out;
	}
	b64 = rm_b64_encode(sig, siglen);
	b64k = rm_b64_encode(raw, 32);
	if (b64 == NULL || b64k == NULL)
		goto out;
	json_object_set_new(doc, "digest", json_string(msg));
	json_object_set_new(doc, "signature", json_string(b64));
	json_object_set_new(doc, "public_key", json_string(b64k));
	*sigdoc = doc;
	doc = NULL;
	r = 0;
out:
	if (r == -RM_EXIT_INTERNAL && err != NULL && err->code == 0)
		rm_err_set(err, RM_EXIT_INTERNAL, path, NULL, "cannot sign");
	free(text);
	free(b64);
	free(b64k);
	json_decref(doc);
	sk_X509_pop_free(chain, X509_free);
	EVP_MD_CTX_free(ctx);
	EVP_PKEY_free(pk);
	return r;
}

/* ---- verification ----------------------------------------------------- */

const char *
rm_sig_status_name(enum rm_sig_status s)
{
	switch (s) {
	case RM_SIG_VALID: return "valid";
	case RM_SIG_UNTRUSTED: return "untrusted";
	case RM_SIG_INVALID: return "invalid";
	default: return "unsigned";
	}
}

static int
has_suffix(const char *s, const char *suf)
{
	size_t n = strlen(s), m = strlen(suf);

	return n > m && strcmp(s + n - m, suf) == 0;
}

/*
 * Looks through trust/: a *.pub key equal to raw sets signer; CA
 * certificates go into store (when not NULL).
 */
static int
scan_trust(const unsigned char raw[32], X509_STORE *store, char *signer, size_t size)
{
	char dir[PATH_MAX], path[PATH_MAX + 256];
	DIR *d;
	struct dirent *de;
	int found = 0;

	snprintf(dir, sizeof(dir), "%s/trust", rm_home());
	d = opendir(dir);
	if (d == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		char *text = NULL;
		size_t len;
		struct rm_err e;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (!rm_is_file(path))
			continue;
		rm_err_clear(&e);
		if (has_suffix(de->d_name, ".pub")) {
			BIO *b;
			EVP_PKEY *pk;
			unsigned char other[32];
			if (found || rm_read_file(path, PEM_MAX, &text, &len, &e) != 0)
				continue;
			b = BIO_new_mem_buf(text, (int)len);
			pk = b ? PEM_read_bio_PUBKEY(b, NULL, NULL, NULL) : NULL;
			if (pk != NULL && raw_public(pk, other) == 0 && memcmp(other, raw, 32) == 0) {
				found = 1;
				snprintf(signer, size, "%.*s", (int)(strlen(de->d_name) - 4), de->d_name);
			}
			EVP_PKEY_free(pk);
			BIO_free(b);
		} else if (store != NULL && (has_suffix(de->d_name, ".crt") ||
		    has_suffix(de->d_name, ".pem"))) {
			STACK_OF(X509) *sk;
			int i;
			if (rm_read_file(path, PEM_MAX, &text, &len, &e) != 0)
				continue;
			sk = read_certs(text, len);
			for (i = 0; sk != NULL && i < sk_X509_num(sk); i++)
				X509_STORE_add_cert(store, sk_X509_value(sk, i));
			sk_X509_pop_free(sk, X509_free);
		}
		free(text);
	}
	closedir(d);
	return found;
}

#define SIG_SET(info, st, ...) do { \
	(info)->status = (st); \
	snprintf((info)->reason, sizeof((info)->reason), __VA_ARGS__); \
} while (0)

/*
 * OpenSSL 3.0 has no code-signing purpose; ours is registered once. The
 * leaf must name codeSigning in its extended key usage and digitalSignature
 * in its key usage; every CA must be one by basicConstraints (CA:TRUE) and,
 * when it restricts extended key usage, allow code signing.
 */
#define RM_PURPOSE_CODE_SIGN (X509_PURPOSE_MAX + 41)

static int
leaf_usage_problem(X509 *x, char *why, size_t size)
{
	uint32_t flags = X509_get_extension_flags(x);

	if (X509_check_ca(x) != 0)
		snprintf(why, size, "it is a CA certificate (a signer must be an end entity)");
	else if (!(flags & EXFLAG_XKUSAGE))
		snprintf(why, size, "it has no extended key usage (codeSigning is required)");
	else if (!(X509_get_extended_key_usage(x) & XKU_CODE_SIGN))
		snprintf(why, size, "its extended key usage lacks codeSigning");
	else if (!(flags & EXFLAG_KUSAGE))
		snprintf(why, size, "it has no key usage (digitalSignature is required)");
	else if (!(X509_get_key_usage(x) & KU_DIGITAL_SIGNATURE))
		snprintf(why, size, "its key usage lacks digitalSignature");
	else
		return 0;
	return -1;
}

static int
code_sign_check(const X509_PURPOSE *xp, const X509 *cx, int ca)
{
	X509 *x = (X509 *)cx;	/* the getters take no const in OpenSSL 3.0 */
	char why[128];

	(void)xp;
	if (!ca)
		return leaf_usage_problem(x, why, sizeof(why)) == 0;
	if (X509_check_ca(x) != 1)
		return 0;
	return !(X509_get_extension_flags(x) & EXFLAG_XKUSAGE) ||
	    (X509_get_extended_key_usage(x) & (XKU_CODE_SIGN | XKU_ANYEKU)) != 0;
}

static CRYPTO_ONCE purpose_once = CRYPTO_ONCE_STATIC_INIT;
static int purpose_ok;

static void
purpose_register(void)
{
	purpose_ok = X509_PURPOSE_add(RM_PURPOSE_CODE_SIGN, X509_TRUST_OBJECT_SIGN, 0,
	    code_sign_check, "remotemedia package signing", "rmcodesign", NULL) == 1;
}

/* Strict RFC 5280 checks, our purpose, and only self-signed trust anchors. */
static int
verify_setup(X509_STORE_CTX *ctx)
{
	X509_VERIFY_PARAM *param = X509_STORE_CTX_get0_param(ctx);

	if (!CRYPTO_THREAD_run_once(&purpose_once, purpose_register) || !purpose_ok)
		return -1;
	X509_VERIFY_PARAM_clear_flags(param, X509_V_FLAG_PARTIAL_CHAIN);
	X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_X509_STRICT);
	return X509_STORE_CTX_set_purpose(ctx, RM_PURPOSE_CODE_SIGN) == 1 ? 0 : -1;
}

static void
check_chain(const json_t *certs, const unsigned char raw[32], struct rm_sig_info *info)
{
	STACK_OF(X509) *chain = sk_X509_new_null();
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	X509 *leaf = NULL;
	unsigned char lraw[32];
	size_t i;
	char dummy[8], why[128];

	if (chain == NULL || store == NULL || ctx == NULL) {
		SIG_SET(info, RM_SIG_INVALID, "out of memory");
		goto out;
	}
	for (i = 0; i < json_array_size(certs); i++) {
		const char *pem = json_string_value(json_array_get(certs, i));
		STACK_OF(X509) *sk = pem ? read_certs(pem, strlen(pem)) : NULL;
		if (sk == NULL || sk_X509_num(sk) != 1) {
			sk_X509_pop_free(sk, X509_free);
			SIG_SET(info, RM_SIG_INVALID, "certificates[%zu]: not one PEM certificate", i);
			goto out;
		}
		sk_X509_push(chain, sk_X509_shift(sk));
		sk_X509_free(sk);
	}
	leaf = sk_X509_value(chain, 0);
	if (raw_public(X509_get0_pubkey(leaf), lraw) != 0 || memcmp(lraw, raw, 32) != 0) {
		SIG_SET(info, RM_SIG_INVALID, "the leaf certificate does not hold the signing key");
		goto out;
	}
	X509_NAME_oneline(X509_get_subject_name(leaf), info->signer, sizeof(info->signer));
	if (leaf_usage_problem(leaf, why, sizeof(why)) != 0) {
		SIG_SET(info, RM_SIG_UNTRUSTED, "the leaf certificate %s is not a code-signing "
		    "certificate: %s", info->signer, why);
		goto out;
	}
	scan_trust(raw, store, dummy, sizeof(dummy));
	if (X509_STORE_CTX_init(ctx, store, leaf, chain) != 1 || verify_setup(ctx) != 0) {
		SIG_SET(info, RM_SIG_INVALID, "cannot set up certificate verification");
		goto out;
	}
	if (X509_verify_cert(ctx) != 1) {
		int e = X509_STORE_CTX_get_error(ctx);
		SIG_SET(info, RM_SIG_UNTRUSTED, "certificate chain of %s not trusted: %s",
		    info->signer, X509_verify_cert_error_string(e));
		goto out;
	}
	info->status = RM_SIG_VALID;
out:
	sk_X509_pop_free(chain, X509_free);
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
}

void
rm_sig_check(const json_t *sigdoc, const char *digest_hex, struct rm_sig_info *info)
{
	const char *s;
	char want[80], id[17];
	unsigned char raw[32], sig[64];
	long n;
	EVP_PKEY *pk = NULL;
	EVP_MD_CTX *ctx = NULL;
	json_t *certs;

	memset(info, 0, sizeof(*info));
	if (sigdoc == NULL)
		return;
	snprintf(want, sizeof(want), "sha256:%s", digest_hex);
	s = json_string_value(json_object_get(sigdoc, "schema"));
	if (s == NULL || strcmp(s, "remotemedia.signature/1") != 0) {
		SIG_SET(info, RM_SIG_INVALID, "schema: expected \"remotemedia.signature/1\"");
		return;
	}
	s = json_string_value(json_object_get(sigdoc, "algorithm"));
	if (s == NULL || strcmp(s, "ed25519") != 0) {
		SIG_SET(info, RM_SIG_INVALID, "algorithm: expected \"ed25519\"");
		return;
	}
	s = json_string_value(json_object_get(sigdoc, "digest"));
	if (s == NULL || strcmp(s, want) != 0) {
		SIG_SET(info, RM_SIG_INVALID, "the signature is for %s, but the package digest is %s",
		    s ? s : "(nothing)", want);
		return;
	}
	s = json_string_value(json_object_get(sigdoc, "public_key"));
	if (s == NULL || rm_b64_decode(s, raw, sizeof(raw)) != 32) {
		SIG_SET(info, RM_SIG_INVALID, "public_key: expected 32 bytes in base64");
		return;
	}
	key_id_of(raw, id);
	snprintf(info->key_id, sizeof(info->key_id), "%s", id);
	s = json_string_value(json_object_get(sigdoc, "key_id"));
	if (s == NULL || strcmp(s, id) != 0) {
		SIG_SET(info, RM_SIG_INVALID, "key_id %s does not name the public key (%s)",
		    s ? s : "(nothing)", id);
		return;
	}
	s = json_string_value(json_object_get(sigdoc, "signature"));
	n = s ? rm_b64_decode(s, sig, sizeof(sig)) : -1;
	if (n != 64) {
		SIG_SET(info, RM_SIG_INVALID, "signature: expected 64 bytes in base64");
		return;
	}
	pk = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, raw, 32);
	ctx = EVP_MD_CTX_new();
	if (pk == NULL || ctx == NULL || EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, pk) != 1 ||
	    EVP_DigestVerify(ctx, sig, 64, (const unsigned char *)want, strlen(want)) != 1) {
		SIG_SET(info, RM_SIG_INVALID, "the signature does not verify with key %s", id);
		goto out;
	}
	certs = json_object_get(sigdoc, "certificates");
	if (certs != NULL && !json_is_array(certs)) {
		SIG_SET(info, RM_SIG_INVALID, "certificates: expected a list of PEM certificates");
		goto out;
	}
	if (json_array_size(certs) > 0) {
		check_chain(certs, raw, info);
		goto out;
	}
	if (scan_trust(raw, NULL, info->signer, sizeof(info->signer)))
		info->status = RM_SIG_VALID;
	else
		SIG_SET(info, RM_SIG_UNTRUSTED, "key %s is not in %s/trust", id, rm_home());
out:
	EVP_MD_CTX_free(ctx);
	EVP_PKEY_free(pk);
}
