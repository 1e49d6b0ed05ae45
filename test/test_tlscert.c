/*
 * tlscert.c: a self-signed certificate names what it was asked to and its
 * key matches; a mounted pair is checked before it is served, and a wrong
 * one is refused naming the file.
 */
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tlscert.h"
#include "t.h"

static X509 *parse(const struct buf *pem)
{
	BIO *b = BIO_new_mem_buf(pem->ptr, (int)pem->len);
	X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);

	BIO_free(b);
	return x;
}

static void write_file(const char *dir, const char *name, const struct buf *b)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	ASSERT_TRUE(f != NULL);
	fwrite(b->ptr, 1, b->len, f);
	fclose(f);
}

TEST(self_signed_names_the_service_and_loopback)
{
	static const char *const names[] = {"infermon-metrics.infermon-system.svc", "10.1.2.3",
					    NULL};
	struct tlscert t;
	struct buf err;
	X509 *x;

	tlscert_init(&t);
	buf_init(&err, BUF_MAX_SMALL);
	ASSERT_OK(tlscert_self_signed(&t, names, &err));
	x = parse(&t.cert);
	ASSERT_TRUE(x != NULL);
	ASSERT_EQ_INT(X509_check_host(x, "infermon-metrics.infermon-system.svc", 0, 0, NULL), 1);
	ASSERT_EQ_INT(X509_check_host(x, "localhost", 0, 0, NULL), 1);
	ASSERT_EQ_INT(X509_check_ip_asc(x, "127.0.0.1", 0), 1);
	ASSERT_EQ_INT(X509_check_ip_asc(x, "::1", 0), 1);
	ASSERT_EQ_INT(X509_check_ip_asc(x, "10.1.2.3", 0), 1);
	ASSERT_EQ_INT(X509_check_host(x, "other.example", 0, 0, NULL), 0);
	ASSERT_TRUE(X509_cmp_current_time(X509_get0_notBefore(x)) < 0);
	ASSERT_TRUE(X509_cmp_current_time(X509_get0_notAfter(x)) > 0);
	X509_free(x);
	ASSERT_CONTAINS(buf_str(&t.key), "PRIVATE KEY");
	tlscert_release(&t);
	buf_release(&err);
}

TEST(mounted_pair_is_checked)
{
	char dir[] = "/tmp/infermon-tlscert-XXXXXX";
	struct tlscert a, b, got;
	struct buf err, junk;
	char path[512];

	ASSERT_TRUE(mkdtemp(dir) != NULL);
	tlscert_init(&a);
	tlscert_init(&b);
	tlscert_init(&got);
	buf_init(&err, BUF_MAX_SMALL);
	buf_init(&junk, BUF_MAX_SMALL);
	ASSERT_OK(tlscert_self_signed(&a, NULL, &err));
	ASSERT_OK(tlscert_self_signed(&b, NULL, &err));

	ASSERT_ERR(tlscert_load_dir(&got, dir, &err), IM_NOTFOUND);
	ASSERT_CONTAINS(buf_str(&err), "tls.crt");
	write_file(dir, "tls.crt", &a.cert);
	write_file(dir, "tls.key", &a.key);
	ASSERT_OK(tlscert_load_dir(&got, dir, &err));
	ASSERT_EQ_INT(got.cert.len, a.cert.len);
	tlscert_release(&got);
	/* another certificate's key */
	write_file(dir, "tls.key", &b.key);
	ASSERT_ERR(tlscert_load_dir(&got, dir, &err), IM_INVAL);
	ASSERT_CONTAINS(buf_str(&err), "tls.key: the key does not match the certificate in");
	ASSERT_TRUE(got.cert.len == 0 && got.key.len == 0);
	/* not PEM */
	buf_adds(&junk, "hello\n");
	write_file(dir, "tls.crt", &junk);
	ASSERT_ERR(tlscert_load_dir(&got, dir, &err), IM_INVAL);
	ASSERT_CONTAINS(buf_str(&err), "tls.crt: not a PEM certificate");
	write_file(dir, "tls.crt", &a.cert);
	write_file(dir, "tls.key", &junk);
	ASSERT_ERR(tlscert_load_dir(&got, dir, &err), IM_INVAL);
	ASSERT_CONTAINS(buf_str(&err), "tls.key: not a PEM private key");

	snprintf(path, sizeof(path), "%s/tls.crt", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/tls.key", dir);
	unlink(path);
	rmdir(dir);
	tlscert_release(&a);
	tlscert_release(&b);
	tlscert_release(&got);
	buf_release(&err);
	buf_release(&junk);
}

int main(int argc, char **argv)
{
	return t_run(argc, argv);
}
