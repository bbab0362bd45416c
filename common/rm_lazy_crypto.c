/*
 * libcrypto, opened on first use (rm_lazy.h): the functions rm_crypto.c,
 * rm_creds.c and rm-build call, including those behind OpenSSL's macros
 * (BIO_get_mem_data is BIO_ctrl, sk_X509_* are OPENSSL_sk_*).
 */
#include "config.h"

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/safestack.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <openssl/x509_vfy.h>

#include "rm_lazy.h"

static struct rm_lazy crypto = RM_LAZY_INIT(RM_SONAME_CRYPTO);

/* memory BIOs */
RM_LAZY(crypto, const BIO_METHOD *, BIO_s_mem, (void), ())
RM_LAZY(crypto, BIO *, BIO_new, (const BIO_METHOD *m), (m))
RM_LAZY(crypto, BIO *, BIO_new_mem_buf, (const void *b, int n), (b, n))
RM_LAZY(crypto, long, BIO_ctrl, (BIO *b, int cmd, long l, void *p), (b, cmd, l, p))
RM_LAZY_FREE_RET(crypto, int, BIO_free, BIO *, 0)

/* digests, signatures, keys */
RM_LAZY(crypto, const EVP_MD *, EVP_sha256, (void), ())
RM_LAZY(crypto, EVP_MD_CTX *, EVP_MD_CTX_new, (void), ())
RM_LAZY_FREE(crypto, EVP_MD_CTX_free, EVP_MD_CTX *)
RM_LAZY(crypto, int, EVP_DigestInit_ex, (EVP_MD_CTX *c, const EVP_MD *t, ENGINE *e), (c, t, e))
RM_LAZY(crypto, int, EVP_DigestUpdate, (EVP_MD_CTX *c, const void *d, size_t n), (c, d, n))
RM_LAZY(crypto, int, EVP_DigestFinal_ex, (EVP_MD_CTX *c, unsigned char *md, unsigned int *s),
    (c, md, s))
RM_LAZY(crypto, int, EVP_DigestSignInit, (EVP_MD_CTX *c, EVP_PKEY_CTX **pc, const EVP_MD *t,
    ENGINE *e, EVP_PKEY *k), (c, pc, t, e, k))
RM_LAZY(crypto, int, EVP_DigestSign, (EVP_MD_CTX *c, unsigned char *sig, size_t *siglen,
    const unsigned char *tbs, size_t n), (c, sig, siglen, tbs, n))
RM_LAZY(crypto, int, EVP_DigestVerifyInit, (EVP_MD_CTX *c, EVP_PKEY_CTX **pc, const EVP_MD *t,
    ENGINE *e, EVP_PKEY *k), (c, pc, t, e, k))
RM_LAZY(crypto, int, EVP_DigestVerify, (EVP_MD_CTX *c, const unsigned char *sig, size_t siglen,
    const unsigned char *tbs, size_t n), (c, sig, siglen, tbs, n))
RM_LAZY(crypto, int, EVP_EncodeBlock, (unsigned char *t, const unsigned char *f, int n),
    (t, f, n))
RM_LAZY(crypto, int, EVP_DecodeBlock, (unsigned char *t, const unsigned char *f, int n),
    (t, f, n))
RM_LAZY_FREE(crypto, EVP_PKEY_free, EVP_PKEY *)
RM_LAZY(crypto, int, EVP_PKEY_eq, (const EVP_PKEY *a, const EVP_PKEY *b), (a, b))
RM_LAZY(crypto, int, EVP_PKEY_get_id, (const EVP_PKEY *k), (k))
RM_LAZY(crypto, int, EVP_PKEY_get_raw_public_key, (const EVP_PKEY *k, unsigned char *pub,
    size_t *n), (k, pub, n))
RM_LAZY(crypto, EVP_PKEY *, EVP_PKEY_new_raw_public_key, (int t, ENGINE *e,
    const unsigned char *pub, size_t n), (t, e, pub, n))

/* Only for the key types that take no further argument (ED25519). */
EVP_PKEY *
EVP_PKEY_Q_keygen(OSSL_LIB_CTX *ctx, const char *propq, const char *type, ...)
{
	static void *volatile slot_;
	EVP_PKEY *(*f)(OSSL_LIB_CTX *, const char *, const char *, ...) =
	    (EVP_PKEY *(*)(OSSL_LIB_CTX *, const char *, const char *, ...))
	    rm_lazy_fn(&crypto, "EVP_PKEY_Q_keygen", &slot_);

	return f(ctx, propq, type);
}

RM_LAZY_VOID(crypto, OPENSSL_cleanse, (void *p, size_t n), (p, n))

/* PEM */
RM_LAZY(crypto, EVP_PKEY *, PEM_read_bio_PUBKEY, (BIO *b, EVP_PKEY **x, pem_password_cb *cb,
    void *u), (b, x, cb, u))
RM_LAZY(crypto, EVP_PKEY *, PEM_read_bio_PrivateKey, (BIO *b, EVP_PKEY **x,
    pem_password_cb *cb, void *u), (b, x, cb, u))
RM_LAZY(crypto, X509 *, PEM_read_bio_X509, (BIO *b, X509 **x, pem_password_cb *cb, void *u),
    (b, x, cb, u))
RM_LAZY(crypto, int, PEM_write_bio_PUBKEY, (BIO *b, const EVP_PKEY *k), (b, k))
RM_LAZY(crypto, int, PEM_write_bio_X509, (BIO *b, const X509 *x), (b, x))
RM_LAZY(crypto, int, PEM_write_bio_PKCS8PrivateKey, (BIO *b, const EVP_PKEY *k,
    const EVP_CIPHER *enc, const char *kstr, int klen, pem_password_cb *cb, void *u),
    (b, k, enc, kstr, klen, cb, u))

/* certificates */
RM_LAZY_FREE(crypto, X509_free, X509 *)
RM_LAZY(crypto, EVP_PKEY *, X509_get0_pubkey, (const X509 *x), (x))
RM_LAZY(crypto, X509_NAME *, X509_get_subject_name, (const X509 *x), (x))
RM_LAZY(crypto, char *, X509_NAME_oneline, (const X509_NAME *n, char *b, int size), (n, b, size))
RM_LAZY(crypto, X509_STORE *, X509_STORE_new, (void), ())
RM_LAZY_FREE(crypto, X509_STORE_free, X509_STORE *)
RM_LAZY(crypto, int, X509_STORE_add_cert, (X509_STORE *s, X509 *x), (s, x))
RM_LAZY(crypto, X509_STORE_CTX *, X509_STORE_CTX_new, (void), ())
RM_LAZY_FREE(crypto, X509_STORE_CTX_free, X509_STORE_CTX *)
RM_LAZY(crypto, int, X509_STORE_CTX_init, (X509_STORE_CTX *c, X509_STORE *s, X509 *x,
    STACK_OF(X509) *chain), (c, s, x, chain))
RM_LAZY(crypto, int, X509_STORE_CTX_get_error, (const X509_STORE_CTX *c), (c))
RM_LAZY(crypto, int, X509_verify_cert, (X509_STORE_CTX *c), (c))
RM_LAZY(crypto, const char *, X509_verify_cert_error_string, (long n), (n))
RM_LAZY(crypto, X509_VERIFY_PARAM *, X509_STORE_CTX_get0_param, (const X509_STORE_CTX *c), (c))
RM_LAZY(crypto, int, X509_STORE_CTX_set_purpose, (X509_STORE_CTX *c, int p), (c, p))
RM_LAZY(crypto, int, X509_VERIFY_PARAM_set_flags, (X509_VERIFY_PARAM *p, unsigned long f),
    (p, f))
RM_LAZY(crypto, int, X509_VERIFY_PARAM_clear_flags, (X509_VERIFY_PARAM *p, unsigned long f),
    (p, f))

/* key usage and purpose of a signer (X.509 v3 extensions) */
RM_LAZY(crypto, int, X509_check_ca, (X509 *x), (x))
RM_LAZY(crypto, uint32_t, X509_get_extension_flags, (X509 *x), (x))
RM_LAZY(crypto, uint32_t, X509_get_key_usage, (X509 *x), (x))
RM_LAZY(crypto, uint32_t, X509_get_extended_key_usage, (X509 *x), (x))
RM_LAZY(crypto, int, X509_PURPOSE_add, (int id, int trust, int flags,
    int (*ck)(const X509_PURPOSE *, const X509 *, int), const char *name, const char *sname,
    void *arg), (id, trust, flags, ck, name, sname, arg))
RM_LAZY(crypto, int, CRYPTO_THREAD_run_once, (CRYPTO_ONCE *once, void (*init)(void)),
    (once, init))

/* stacks */
RM_LAZY(crypto, OPENSSL_STACK *, OPENSSL_sk_new_null, (void), ())
RM_LAZY(crypto, int, OPENSSL_sk_num, (const OPENSSL_STACK *s), (s))
RM_LAZY(crypto, void *, OPENSSL_sk_value, (const OPENSSL_STACK *s, int i), (s, i))
RM_LAZY(crypto, int, OPENSSL_sk_push, (OPENSSL_STACK *s, const void *p), (s, p))
RM_LAZY(crypto, void *, OPENSSL_sk_shift, (OPENSSL_STACK *s), (s))
RM_LAZY_FREE(crypto, OPENSSL_sk_free, OPENSSL_STACK *)

void
OPENSSL_sk_pop_free(OPENSSL_STACK *s, void (*fn)(void *))
{
	static void *volatile slot_;

	if (s != NULL)
		((void (*)(OPENSSL_STACK *, void (*)(void *)))
		    rm_lazy_fn(&crypto, "OPENSSL_sk_pop_free", &slot_))(s, fn);
}
