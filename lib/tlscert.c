#include "tlscert.h"

#include <arpa/inet.h>
#include <stdbool.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "fileio.h"

/* A certificate chain or key larger than this is not one. */
#define TLSCERT_FILE_MAX ((size_t)256 * 1024)

void tlscert_init(struct tlscert *t)
{
	buf_init(&t->cert, TLSCERT_FILE_MAX);
	buf_init(&t->key, TLSCERT_FILE_MAX);
}

static void wipe(struct buf *b)
{
	if (b->ptr)
		OPENSSL_cleanse(b->ptr, b->len);
	buf_release(b);
}

void tlscert_release(struct tlscert *t)
{
	buf_release(&t->cert);
	wipe(&t->key);
}

/* The first OpenSSL error on the queue, for a message; clears the queue. */
static void add_ssl_error(struct buf *err)
{
	unsigned long e = ERR_get_error();
	char line[256];

	if (e) {
		ERR_error_string_n(e, line, sizeof(line));
		buf_printf(err, ": %s", line);
	}
	ERR_clear_error();
}

im_result tlscert_load_dir(struct tlscert *t, const char *dir, struct buf *err)
{
	struct buf crt_path, key_path;
	BIO *bio = NULL;
	X509 *x = NULL;
	EVP_PKEY *k = NULL;
	im_result result;

	buf_init(&crt_path, BUF_MAX_SMALL);
	buf_init(&key_path, BUF_MAX_SMALL);
	buf_printf(&crt_path, "%s/tls.crt", dir);
	buf_printf(&key_path, "%s/tls.key", dir);
	result = fileio_read(buf_str(&crt_path), TLSCERT_FILE_MAX, &t->cert, err);
	if (result)
		goto out;
	result = fileio_read(buf_str(&key_path), TLSCERT_FILE_MAX, &t->key, err);
	if (result)
		goto out;
	result = IM_INVAL;
	bio = BIO_new_mem_buf(t->cert.ptr, (int)t->cert.len);
	x = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
	BIO_free(bio);
	if (!x) {
		buf_reset(err);
		buf_printf(err, "cannot use %s: not a PEM certificate", buf_str(&crt_path));
		add_ssl_error(err);
		goto out;
	}
	bio = BIO_new_mem_buf(t->key.ptr, (int)t->key.len);
	k = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
	BIO_free(bio);
	if (!k) {
		buf_reset(err);
		buf_printf(err, "cannot use %s: not a PEM private key (without a passphrase)",
			   buf_str(&key_path));
		add_ssl_error(err);
		goto out;
	}
	if (X509_check_private_key(x, k) != 1) {
		buf_reset(err);
		buf_printf(err, "cannot use %s: the key does not match the certificate in %s",
			   buf_str(&key_path), buf_str(&crt_path));
		ERR_clear_error();
		goto out;
	}
	result = IM_OK;
out:
	if (result) {
		buf_release(&t->cert);
		wipe(&t->key);
	}
	X509_free(x);
	EVP_PKEY_free(k);
	buf_release(&crt_path);
	buf_release(&key_path);
	return result;
}

static bool is_ip(const char *name)
{
	unsigned char addr[16];

	return inet_pton(AF_INET, name, addr) == 1 || inet_pton(AF_INET6, name, addr) == 1;
}

/* Appends a name to the subjectAltName text: IP: for an address, DNS:
 * otherwise. */
static void add_san(struct buf *san, const char *name)
{
	buf_printf(san, "%s%s:%s", san->len ? "," : "", is_ip(name) ? "IP" : "DNS", name);
}

/* PEM of what write() writes, into out. */
static im_result pem_out(struct buf *out, int (*write)(BIO *, const void *), const void *obj)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *p;
	long n;
	im_result result = IM_INTERNAL;

	if (bio && write(bio, obj) == 1 && (n = BIO_get_mem_data(bio, &p)) > 0) {
		buf_reset(out);
		result = buf_add(out, p, (size_t)n);
		OPENSSL_cleanse(p, (size_t)n);
	}
	BIO_free(bio);
	return result;
}

static int write_cert(BIO *b, const void *x)
{
	return PEM_write_bio_X509(b, (X509 *)x);
}

static int write_key(BIO *b, const void *k)
{
	return PEM_write_bio_PrivateKey(b, (EVP_PKEY *)k, NULL, NULL, 0, NULL, NULL);
}

im_result tlscert_self_signed(struct tlscert *t, const char *const *names, struct buf *err)
{
	EVP_PKEY *k = NULL;
	X509 *x = NULL;
	X509_NAME *subject;
	X509_EXTENSION *ext = NULL;
	X509V3_CTX v3;
	BIGNUM *serial = NULL;
	struct buf san;
	im_result result = IM_INTERNAL;

	buf_init(&san, BUF_MAX_SMALL);
	add_san(&san, "localhost");
	add_san(&san, "127.0.0.1");
	add_san(&san, "::1");
	for (size_t i = 0; names && names[i]; i++)
		if (names[i][0])
			add_san(&san, names[i]);
	k = EVP_EC_gen("P-256");
	x = X509_new();
	serial = BN_new();
	if (!k || !x || !serial || !BN_rand(serial, 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) ||
	    !BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(x)) || !X509_set_version(x, 2) ||
	    !X509_gmtime_adj(X509_getm_notBefore(x), -3600) ||
	    !X509_gmtime_adj(X509_getm_notAfter(x), (long)TLSCERT_SELF_SIGNED_DAYS * 86400) ||
	    !X509_set_pubkey(x, k))
		goto fail;
	subject = X509_get_subject_name(x);
	if (!X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC,
					(const unsigned char *)"infermon", -1, -1, 0) ||
	    !X509_set_issuer_name(x, subject))
		goto fail;
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, buf_str(&san));
	if (!ext || !X509_add_ext(x, ext, -1))
		goto fail;
	X509_EXTENSION_free(ext);
	ext = X509V3_EXT_conf_nid(NULL, &v3, NID_ext_key_usage, "serverAuth");
	if (!ext || !X509_add_ext(x, ext, -1))
		goto fail;
	if (!X509_sign(x, k, EVP_sha256()))
		goto fail;
	if (pem_out(&t->cert, write_cert, x) || pem_out(&t->key, write_key, k))
		goto fail;
	result = IM_OK;
	goto out;
fail:
	buf_adds(err, "cannot make a self-signed certificate for /metrics");
	add_ssl_error(err);
	buf_release(&t->cert);
	wipe(&t->key);
out:
	X509_EXTENSION_free(ext);
	BN_free(serial);
	X509_free(x);
	EVP_PKEY_free(k);
	buf_release(&san);
	return result;
}
