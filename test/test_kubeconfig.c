#include "t.h"

#include <ftw.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "buf.h"
#include "kubeconfig.h"

/* ---- fixtures ---- */

/* A self-signed certificate and its key, PEM (libc-allocated). */
struct pair {
	char *cert;
	char *key;
	char *key_encrypted;
};

static char *bio_string(BIO *bio)
{
	char *p;
	long n = BIO_get_mem_data(bio, &p);
	char *s = malloc((size_t)n + 1);

	memcpy(s, p, (size_t)n);
	s[n] = '\0';
	BIO_free(bio);
	return s;
}

static void pair_make(struct pair *p)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	X509_NAME *nm;
	BIO *bio;

	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, k);
	nm = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_ASC, (const unsigned char *)"infermon-test", -1,
				   -1, 0);
	X509_set_issuer_name(x, nm);
	X509_sign(x, k, EVP_sha256());
	bio = BIO_new(BIO_s_mem());
	PEM_write_bio_X509(bio, x);
	p->cert = bio_string(bio);
	bio = BIO_new(BIO_s_mem());
	PEM_write_bio_PrivateKey(bio, k, NULL, NULL, 0, NULL, NULL);
	p->key = bio_string(bio);
	bio = BIO_new(BIO_s_mem());
	PEM_write_bio_PrivateKey(bio, k, EVP_aes_128_cbc(), (unsigned char *)"pw", 2, NULL, NULL);
	p->key_encrypted = bio_string(bio);
	X509_free(x);
	EVP_PKEY_free(k);
}

static void pair_free(struct pair *p)
{
	free(p->cert);
	free(p->key);
	free(p->key_encrypted);
}

/* base64 (no line breaks), libc-allocated */
static char *b64(const char *s)
{
	size_t n = strlen(s);
	char *out = malloc(4 * ((n + 2) / 3) + 1);

	EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)s, (int)n);
	return out;
}

static char tmpdir[64];

static void tmp_make(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/infermon-kc-XXXXXX");
	ASSERT_TRUE(mkdtemp(tmpdir) != NULL);
}

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static void tmp_remove(void)
{
	if (tmpdir[0])
		nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	tmpdir[0] = '\0';
}

/* Writes tmpdir/name (creating one level of subdirectory). */
static void put(const char *name, const char *content)
{
	char path[512];
	const char *slash = strchr(name, '/');
	FILE *f;

	if (slash) {
		snprintf(path, sizeof(path), "%s/%.*s", tmpdir, (int)(slash - name), name);
		mkdir(path, 0700);
	}
	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	f = fopen(path, "w");
	ASSERT_TRUE(f != NULL);
	fputs(content, f);
	fclose(f);
}

static const char *tmp(const char *name)
{
	static char path[512];

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	return path;
}

/* The environment variables these loaders read; every test that touches one
 * sets all of them and restores them, so tests do not depend on order. */
static const char *const env_names[] = {"KUBECONFIG", "KUBERNETES_SERVICE_HOST",
					"KUBERNETES_SERVICE_PORT", "POD_NAMESPACE", "HOME"};
static char *env_saved[5];
static int env_had[5];

static void env_save(void)
{
	for (int i = 0; i < 5; i++) {
		const char *v = getenv(env_names[i]);
		env_had[i] = v != NULL;
		env_saved[i] = v ? strdup(v) : NULL;
		unsetenv(env_names[i]);
	}
}

static void env_restore(void)
{
	for (int i = 0; i < 5; i++) {
		if (env_had[i])
			setenv(env_names[i], env_saved[i], 1);
		else
			unsetenv(env_names[i]);
		free(env_saved[i]);
		env_saved[i] = NULL;
	}
}

static im_result load(struct kubeconfig *c, const char *yaml, const char *ctx, struct buf *err)
{
	return kubeconfig_load_data(c, yaml, strlen(yaml), "/k/config", "/k", ctx, err);
}

/* A kubeconfig with one context "dev" -> cluster "c1" -> user "u1"; the
 * extra text is spliced into the cluster and the user. */
static char *kc_text(const char *cluster_extra, const char *user_extra)
{
	struct buf b;

	buf_init(&b, BUF_MAX_LARGE);
	buf_printf(&b,
		   "apiVersion: v1\n"
		   "kind: Config\n"
		   "current-context: dev\n"
		   "clusters:\n"
		   "- name: c1\n"
		   "  cluster:\n"
		   "    server: https://api.example.com:6443\n"
		   "%s"
		   "contexts:\n"
		   "- name: dev\n"
		   "  context: {cluster: c1, user: u1, namespace: team-a}\n"
		   "- name: nouser\n"
		   "  context: {cluster: c1}\n"
		   "- name: lost\n"
		   "  context: {cluster: c9, user: u1}\n"
		   "- name: stranger\n"
		   "  context: {cluster: c1, user: u9}\n"
		   "users:\n"
		   "- name: u1\n"
		   "  user:\n"
		   "%s",
		   cluster_extra, user_extra[0] ? user_extra : "    {}\n");
	return buf_detach(&b, NULL);
}

#define ASSERT_LOAD_ERR(cl, us, ctx, want_result, want_msg)                     \
	do {                                                                   \
		struct kubeconfig t_c;                                         \
		struct buf t_err;                                              \
		char *t_y = kc_text((cl), (us));                               \
		im_result t_r;                                                 \
		kubeconfig_init(&t_c);                                         \
		buf_init(&t_err, BUF_MAX_SMALL);                               \
		t_r = load(&t_c, t_y, (ctx), &t_err);                          \
		im_free(t_y);                                                  \
		if (t_r != (want_result) || strcmp(buf_str(&t_err), (want_msg)) != 0) { \
			fprintf(stderr, "got %s: %s\n", im_err_name(t_r), buf_str(&t_err)); \
			buf_release(&t_err);                                   \
			kubeconfig_release(&t_c);                              \
			t_fail(__FILE__, __LINE__, "want %s: %s", im_err_name(want_result), (want_msg)); \
		}                                                              \
		ASSERT_TRUE(t_c.server == NULL);                               \
		buf_release(&t_err);                                           \
		kubeconfig_release(&t_c);                                      \
	} while (0)

/* ---- tests ---- */

TEST(kubeconfig_token_and_ca_data)
{
	struct pair p;
	struct kubeconfig c;
	struct buf err, cl;
	char *ca64, *y;

	pair_make(&p);
	ca64 = b64(p.cert);
	buf_init(&cl, BUF_MAX_LARGE);
	buf_printf(&cl, "    certificate-authority-data: %s\n", ca64);
	y = kc_text(cl.ptr, "    token: abc.def-ghi_123\n");
	kubeconfig_init(&c);
	buf_init(&err, BUF_MAX_SMALL);
	ASSERT_OK(load(&c, y, NULL, &err));
	ASSERT_STREQ(c.server, "https://api.example.com:6443");
	ASSERT_STREQ(c.ca_pem, p.cert);
	ASSERT_EQ_INT(c.ca_pem_len, strlen(p.cert));
	ASSERT_STREQ(c.token, "abc.def-ghi_123");
	ASSERT_TRUE(c.token_file == NULL);
	ASSERT_TRUE(c.cert_pem == NULL && c.key_pem == NULL);
	ASSERT_STREQ(c.namespace, "team-a");
	ASSERT_STREQ(c.context, "dev");
	ASSERT_STREQ(c.source, "/k/config");
	ASSERT_STREQ(buf_str(&err), "");

	/* an explicit context wins over current-context; no user, no namespace */
	ASSERT_OK(load(&c, y, "nouser", &err));
	ASSERT_STREQ(c.context, "nouser");
	ASSERT_STREQ(c.namespace, "default");
	ASSERT_TRUE(c.token == NULL);
	ASSERT_TRUE(c.ca_pem != NULL);

	kubeconfig_release(&c);
	ASSERT_TRUE(c.server == NULL);
	kubeconfig_release(&c); /* twice is fine */
	buf_release(&err);
	buf_release(&cl);
	im_free(y);
	free(ca64);
	pair_free(&p);
}

TEST(kubeconfig_client_certificate_data)
{
	struct pair p, q;
	struct kubeconfig c;
	struct buf err, us;
	char *cert64, *key64, *other64, *enc64, *y;

	pair_make(&p);
	pair_make(&q);
	cert64 = b64(p.cert);
	key64 = b64(p.key);
	other64 = b64(q.key);
	enc64 = b64(p.key_encrypted);
	buf_init(&us, BUF_MAX_LARGE);
	buf_init(&err, BUF_MAX_SMALL);
	kubeconfig_init(&c);

	buf_printf(&us, "    client-certificate-data: %s\n    client-key-data: %s\n", cert64, key64);
	y = kc_text("", us.ptr);
	ASSERT_OK(load(&c, y, NULL, &err));
	im_free(y);
	ASSERT_STREQ(c.cert_pem, p.cert);
	ASSERT_STREQ(c.key_pem, p.key);
	ASSERT_EQ_INT(c.key_pem_len, strlen(p.key));
	ASSERT_TRUE(c.ca_pem == NULL); /* system store */
	ASSERT_TRUE(c.token == NULL);

	buf_reset(&us);
	buf_printf(&us, "    client-certificate-data: %s\n    client-key-data: %s\n", cert64, other64);
	ASSERT_LOAD_ERR("", us.ptr, NULL, IM_CONFIG,
			"kubeconfig \"/k/config\": client-key of user \"u1\" does not match its "
			"client-certificate");
	buf_reset(&us);
	buf_printf(&us, "    client-certificate-data: %s\n    client-key-data: %s\n", cert64, enc64);
	ASSERT_LOAD_ERR("", us.ptr, NULL, IM_PARSE,
			"kubeconfig \"/k/config\": client-key-data of user \"u1\" is not an "
			"unencrypted pem private key");
	buf_reset(&us);
	buf_printf(&us, "    client-certificate-data: %s\n", cert64);
	ASSERT_LOAD_ERR("", us.ptr, NULL, IM_CONFIG,
			"kubeconfig \"/k/config\": client-certificate without client-key of user \"u1\"");
	buf_reset(&us);
	buf_printf(&us, "    client-key-data: %s\n", key64);
	ASSERT_LOAD_ERR("", us.ptr, NULL, IM_CONFIG,
			"kubeconfig \"/k/config\": client-key without client-certificate of user \"u1\"");
	buf_reset(&us);
	buf_printf(&us, "    client-certificate-data: %s\n    client-certificate: x.crt\n", cert64);
	ASSERT_LOAD_ERR("", us.ptr, NULL, IM_CONFIG,
			"kubeconfig \"/k/config\": client-certificate-data and client-certificate are "
			"both set for user \"u1\"");
	buf_reset(&us);
	buf_printf(&us, "    client-certificate-data: %s\n    client-key-data: %s\n", key64, key64);
	ASSERT_LOAD_ERR("", us.ptr, NULL, IM_PARSE,
			"kubeconfig \"/k/config\": client-certificate-data of user \"u1\" holds no pem "
			"certificate");

	kubeconfig_release(&c);
	buf_release(&us);
	buf_release(&err);
	free(cert64);
	free(key64);
	free(other64);
	free(enc64);
	pair_free(&p);
	pair_free(&q);
}

TEST(kubeconfig_missing_names)
{
	ASSERT_LOAD_ERR("", "", "prod", IM_NOTFOUND,
			"kubeconfig \"/k/config\": context \"prod\" not found");
	ASSERT_LOAD_ERR("", "", "lost", IM_NOTFOUND,
			"kubeconfig \"/k/config\": cluster \"c9\" of context \"lost\" not found");
	ASSERT_LOAD_ERR("", "", "stranger", IM_NOTFOUND,
			"kubeconfig \"/k/config\": user \"u9\" of context \"stranger\" not found");
}

TEST(kubeconfig_bad_data)
{
	struct buf cl;
	char *not_pem = b64("hello, world\n");

	ASSERT_LOAD_ERR("    certificate-authority-data: \"!!!notbase64\"\n", "", NULL, IM_PARSE,
			"kubeconfig \"/k/config\": cannot decode certificate-authority-data of "
			"cluster \"c1\": invalid base64");
	ASSERT_LOAD_ERR("    certificate-authority-data: aGVsbG8\n", "", NULL, IM_PARSE,
			"kubeconfig \"/k/config\": cannot decode certificate-authority-data of "
			"cluster \"c1\": invalid base64");
	ASSERT_LOAD_ERR("    certificate-authority-data: aGVsbG8=aGVs\n", "", NULL, IM_PARSE,
			"kubeconfig \"/k/config\": cannot decode certificate-authority-data of "
			"cluster \"c1\": invalid base64");
	buf_init(&cl, BUF_MAX_SMALL);
	buf_printf(&cl, "    certificate-authority-data: %s\n", not_pem);
	ASSERT_LOAD_ERR(cl.ptr, "", NULL, IM_PARSE,
			"kubeconfig \"/k/config\": certificate-authority-data of cluster \"c1\" holds "
			"no pem certificate");
	buf_release(&cl);
	free(not_pem);
	ASSERT_LOAD_ERR("    certificate-authority: ca.pem\n", "", NULL, IM_NOTFOUND,
			"kubeconfig \"/k/config\": cannot read certificate-authority \"/k/ca.pem\" of "
			"cluster \"c1\": no such file or directory");
	{
		struct kubeconfig c;
		struct buf err;
		const char *y = "current-context: x\n"
				"contexts: [{name: x, context: {cluster: c}}]\n"
				"clusters:\n"
				"- name: c\n"
				"  cluster:\n"
				"    server: 6443\n";
		kubeconfig_init(&c);
		buf_init(&err, BUF_MAX_SMALL);
		ASSERT_ERR(load(&c, y, NULL, &err), IM_PARSE);
		ASSERT_STREQ(buf_str(&err),
			     "kubeconfig \"/k/config\": line 6: server of cluster \"c\" must be a string");
		buf_release(&err);
	}
	ASSERT_LOAD_ERR("", "    token: [a]\n", NULL, IM_PARSE,
			"kubeconfig \"/k/config\": line 20: token of user \"u1\" must be a string");
	ASSERT_LOAD_ERR("", "    token: \"abc\\r\\nX-Evil: 1\"\n", NULL, IM_CONFIG,
			"kubeconfig \"/k/config\": token of user \"u1\" holds characters a bearer "
			"token cannot have");
}

TEST(kubeconfig_refusals)
{
	ASSERT_LOAD_ERR("    insecure-skip-tls-verify: true\n", "", NULL, IM_CONFIG,
			"kubeconfig \"/k/config\": insecure-skip-tls-verify: true of cluster \"c1\" is "
			"not supported: infermon always verifies tls");
	ASSERT_LOAD_ERR("    tls-server-name: kubernetes\n", "", NULL, IM_CONFIG,
			"kubeconfig \"/k/config\": tls-server-name of cluster \"c1\" is not supported");
	ASSERT_LOAD_ERR("    proxy-url: http://proxy:3128\n", "", NULL, IM_CONFIG,
			"kubeconfig \"/k/config\": proxy-url of cluster \"c1\" is not supported");
	ASSERT_LOAD_ERR("", "    exec:\n      apiVersion: client.authentication.k8s.io/v1\n"
			    "      command: aws\n", NULL, IM_CONFIG,
			"kubeconfig \"/k/config\": exec credential plugin of user \"u1\" is not supported");
	ASSERT_LOAD_ERR("", "    auth-provider: {name: oidc}\n", NULL, IM_CONFIG,
			"kubeconfig \"/k/config\": auth-provider of user \"u1\" is not supported");
	ASSERT_LOAD_ERR("", "    username: admin\n    password: secret\n", NULL, IM_CONFIG,
			"kubeconfig \"/k/config\": basic authentication (username/password) of user "
			"\"u1\" is not supported");
	ASSERT_LOAD_ERR("", "    as: admin\n", NULL, IM_CONFIG,
			"kubeconfig \"/k/config\": impersonation (as, as-groups, ...) of user \"u1\" is "
			"not supported");
	/* false and empty are fine */
	{
		struct kubeconfig c;
		char *y = kc_text("    insecure-skip-tls-verify: false\n    proxy-url: \"\"\n",
				  "    exec: null\n    token: t\n");
		kubeconfig_init(&c);
		ASSERT_OK(load(&c, y, NULL, NULL));
		ASSERT_STREQ(c.token, "t");
		kubeconfig_release(&c);
		im_free(y);
	}
}

TEST(kubeconfig_server_urls)
{
	static const struct {
		const char *in, *out;
	} ok[] = {
		{"https://api.example.com:6443", "https://api.example.com:6443"},
		{"https://api.example.com", "https://api.example.com:443"},
		{"HTTPS://API.example.com/", "https://API.example.com:443"},
		{"https://10.0.0.1:6443/k8s/clusters/c-1//", "https://10.0.0.1:6443/k8s/clusters/c-1"},
		{"https://[fd00::1]:6443", "https://[fd00::1]:6443"},
		{"https://[::1]", "https://[::1]:443"},
		{"http://127.0.0.1:8001", "http://127.0.0.1:8001"},
		{"http://localhost", "http://localhost:80"},
		{"http://[::1]:8001/", "http://[::1]:8001"},
	};
	static const struct {
		const char *in, *why;
	} bad[] = {
		{"api.example.com:6443", "must be an https:// url"},
		{"ftp://x", "must be an https:// url"},
		{"http://10.0.0.1:8001", "must be an https:// url (http:// is allowed only to a loopback address)"},
		{"https://fd00::1:6443", "has an ipv6 address without brackets"},
		{"https://[fd00::zz]:6443", "has an invalid ipv6 address"},
		{"https://user:pw@host", "must not contain user information"},
		{"https://host:0", "has an invalid port"},
		{"https://host:65536", "has an invalid port"},
		{"https://host:x", "has an invalid port"},
		{"https://", "has no host"},
		{"https://host/?watch=1", "must not have a query or fragment"},
		{"https://ho st", "must not contain spaces or control characters"},
		{"https://ho$t", "has an invalid host name"},
	};
	struct kubeconfig c;
	struct buf cl, want;

	kubeconfig_init(&c);
	buf_init(&cl, BUF_MAX_SMALL);
	buf_init(&want, BUF_MAX_SMALL);
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		buf_reset(&cl);
		buf_printf(&cl,
			   "current-context: x\nclusters:\n- name: c\n  cluster: {server: \"%s\"}\n"
			   "contexts:\n- name: x\n  context: {cluster: c}\n",
			   ok[i].in);
		ASSERT_OK(load(&c, cl.ptr, NULL, NULL));
		ASSERT_STREQ(c.server, ok[i].out);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct buf err;
		buf_init(&err, BUF_MAX_SMALL);
		buf_reset(&cl);
		buf_printf(&cl,
			   "current-context: x\nclusters:\n- name: c\n  cluster: {server: \"%s\"}\n"
			   "contexts:\n- name: x\n  context: {cluster: c}\n",
			   bad[i].in);
		buf_reset(&want);
		buf_printf(&want, "kubeconfig \"/k/config\": server \"%s\" of cluster \"c\" %s",
			   bad[i].in, bad[i].why);
		ASSERT_ERR(load(&c, cl.ptr, NULL, &err), IM_CONFIG);
		ASSERT_STREQ(buf_str(&err), want.ptr);
		/* a failed load leaves the previous config alone */
		ASSERT_STREQ(c.server, "http://[::1]:8001");
		buf_release(&err);
	}
	kubeconfig_release(&c);
	buf_release(&cl);
	buf_release(&want);
}

TEST(kubeconfig_shape_errors)
{
	struct kubeconfig c;
	struct buf err;

	kubeconfig_init(&c);
	buf_init(&err, BUF_MAX_SMALL);
	ASSERT_ERR(load(&c, "", NULL, &err), IM_CONFIG);
	ASSERT_STREQ(buf_str(&err), "kubeconfig \"/k/config\": is empty");
	ASSERT_ERR(load(&c, "a: 1\n b: 2\n", NULL, &err), IM_PARSE);
	ASSERT_STREQ(buf_str(&err), "kubeconfig \"/k/config\": line 2 column 3: mapping values are "
				    "not allowed in this context");
	ASSERT_ERR(load(&c, "- 1\n", NULL, &err), IM_PARSE);
	ASSERT_STREQ(buf_str(&err), "kubeconfig \"/k/config\": line 1: not a mapping");
	ASSERT_ERR(load(&c, "a: 1\n---\nb: 2\n", NULL, &err), IM_CONFIG);
	ASSERT_STREQ(buf_str(&err), "kubeconfig \"/k/config\": holds 2 yaml documents, want one");
	ASSERT_ERR(load(&c, "kind: Config\n", NULL, &err), IM_CONFIG);
	ASSERT_STREQ(buf_str(&err),
		     "kubeconfig \"/k/config\": no context given and current-context is not set");
	ASSERT_ERR(load(&c, "current-context: x\ncontexts: {}\n", NULL, &err), IM_PARSE);
	ASSERT_STREQ(buf_str(&err), "kubeconfig \"/k/config\": line 2: contexts must be a list");
	ASSERT_ERR(load(&c, "current-context: x\ncontexts:\n- name: x\n  context: {}\n- name: x\n",
			NULL, &err),
		   IM_PARSE);
	ASSERT_STREQ(buf_str(&err),
		     "kubeconfig \"/k/config\": line 5: duplicate context \"x\" in contexts");
	ASSERT_ERR(load(&c, "current-context: x\ncontexts:\n- name: x\n  context: {}\n", NULL, &err),
		   IM_CONFIG);
	ASSERT_STREQ(buf_str(&err), "kubeconfig \"/k/config\": context \"x\" names no cluster");
	ASSERT_ERR(load(&c, "current-context: x\ncontexts:\n- context: {}\n", NULL, &err), IM_PARSE);
	ASSERT_STREQ(buf_str(&err),
		     "kubeconfig \"/k/config\": line 3: contexts[0].name must be a non-empty string");
	ASSERT_ERR(load(&c,
			"current-context: x\ncontexts:\n- {name: x, context: {cluster: c}}\n"
			"clusters:\n- name: c\n",
			NULL, &err),
		   IM_CONFIG);
	ASSERT_STREQ(buf_str(&err), "kubeconfig \"/k/config\": cluster \"c\" has no server");
	ASSERT_ERR(kubeconfig_load_data(&c, "x: [", 4, NULL, NULL, NULL, &err), IM_PARSE);
	ASSERT_STREQ(buf_str(&err), "kubeconfig \"<memory>\": line 2 column 1: did not find "
				    "expected node content (while parsing a flow node that started at line 2)");
	/* no err buffer: still fails cleanly */
	ASSERT_ERR(load(&c, "", NULL, NULL), IM_CONFIG);
	ASSERT_TRUE(c.server == NULL);
	kubeconfig_release(&c);
	buf_release(&err);
}

TEST(kubeconfig_file_with_relative_paths)
{
	const char *dir = getenv("INFERMON_TEST_DATA");
	struct kubeconfig c;
	struct buf path, err;

	if (!dir)
		dir = "test/data";
	kubeconfig_init(&c);
	buf_init(&path, BUF_MAX_SMALL);
	buf_init(&err, BUF_MAX_SMALL);
	buf_printf(&path, "%s/kubeconfig/config", dir);
	ASSERT_OK(kubeconfig_load_file(&c, path.ptr, NULL, &err));
	ASSERT_STREQ(c.server, "https://127.0.0.1:41234");
	ASSERT_CONTAINS(c.ca_pem, "-----BEGIN CERTIFICATE-----");
	ASSERT_STREQ(c.token, "test-token-from-file");
	ASSERT_CONTAINS(c.token_file, "/kubeconfig/token");
	ASSERT_TRUE(c.token_read_ms > 0);
	ASSERT_STREQ(c.namespace, "llm");
	ASSERT_STREQ(c.context, "kind-infermon");
	ASSERT_STREQ(c.source, path.ptr);

	ASSERT_ERR(kubeconfig_load_file(&c, path.ptr, "other", &err), IM_CONFIG);
	ASSERT_CONTAINS(buf_str(&err), "/kubeconfig/config\": insecure-skip-tls-verify: true of "
				       "cluster \"other\" is not supported");
	ASSERT_STREQ(c.context, "kind-infermon");

	ASSERT_ERR(kubeconfig_load_file(&c, "/nonexistent/kube/config", NULL, &err), IM_NOTFOUND);
	ASSERT_STREQ(buf_str(&err),
		     "kubeconfig \"/nonexistent/kube/config\": cannot read: no such file or directory");
	kubeconfig_release(&c);
	buf_release(&path);
	buf_release(&err);
}

TEST(kubeconfig_relative_files_in_temp_dir)
{
	struct pair p;
	struct kubeconfig c;
	struct buf err, y;

	pair_make(&p);
	tmp_make();
	put("pki/ca.crt", p.cert);
	put("pki/client.crt", p.cert);
	put("pki/client.key", p.key);
	put("tok", "  tok-1\n");
	buf_init(&y, BUF_MAX_LARGE);
	buf_printf(&y, "current-context: d\n"
		       "clusters: [{name: c, cluster: {server: \"https://k:1\", certificate-authority: pki/ca.crt}}]\n"
		       "contexts: [{name: d, context: {cluster: c, user: u}}]\n"
		       "users:\n"
		       "- name: u\n"
		       "  user:\n"
		       "    client-certificate: pki/client.crt\n"
		       "    client-key: %s\n"
		       "    token: inline-token\n"
		       "    tokenFile: tok\n",
		   tmp("pki/client.key"));
	put("config", y.ptr);
	kubeconfig_init(&c);
	buf_init(&err, BUF_MAX_SMALL);
	ASSERT_OK(kubeconfig_load_file(&c, tmp("config"), NULL, &err));
	ASSERT_STREQ(c.ca_pem, p.cert);
	ASSERT_STREQ(c.cert_pem, p.cert);
	ASSERT_STREQ(c.key_pem, p.key);
	/* the file wins over the inline token, trimmed */
	ASSERT_STREQ(c.token, "tok-1");
	ASSERT_STREQ(c.token_file, tmp("tok"));

	/* from memory, relative to base_dir */
	ASSERT_OK(kubeconfig_load_data(&c, y.ptr, y.len, "mem", tmpdir, NULL, &err));
	ASSERT_STREQ(c.token_file, tmp("tok"));
	ASSERT_STREQ(c.source, "mem");

	/* an unreadable tokenFile falls back to the inline token ... */
	unlink(tmp("tok"));
	ASSERT_OK(kubeconfig_load_file(&c, tmp("config"), NULL, &err));
	ASSERT_STREQ(c.token, "inline-token");
	/* ... and fails without one */
	buf_reset(&y);
	buf_adds(&y, "current-context: d\n"
		     "clusters: [{name: c, cluster: {server: \"https://k:1\"}}]\n"
		     "contexts: [{name: d, context: {cluster: c, user: u}}]\n"
		     "users: [{name: u, user: {tokenFile: tok}}]\n");
	put("config2", y.ptr);
	ASSERT_ERR(kubeconfig_load_file(&c, tmp("config2"), NULL, &err), IM_NOTFOUND);
	ASSERT_CONTAINS(buf_str(&err), "config2\": tokenFile of user \"u\": cannot read \"");
	ASSERT_CONTAINS(buf_str(&err), "/tok\": no such file or directory");
	put("tok", "\n\n");
	ASSERT_ERR(kubeconfig_load_file(&c, tmp("config2"), NULL, &err), IM_CONFIG);
	ASSERT_CONTAINS(buf_str(&err), "/tok\" is empty");
	put("tok", "secret-value\nsecond line\n");
	ASSERT_ERR(kubeconfig_load_file(&c, tmp("config2"), NULL, &err), IM_CONFIG);
	ASSERT_CONTAINS(buf_str(&err), "/tok\" holds characters a bearer token cannot have");
	ASSERT_TRUE(strstr(buf_str(&err), "secret-value") == NULL);

	kubeconfig_release(&c);
	buf_release(&err);
	buf_release(&y);
	tmp_remove();
	pair_free(&p);
}

TEST(kubeconfig_incluster)
{
	struct pair p;
	struct kubeconfig c;
	struct buf err;

	env_save();
	pair_make(&p);
	tmp_make();
	put("token", "sa-token-1\n");
	put("ca.crt", p.cert);
	put("namespace", "llm\n");
	kubeconfig_init(&c);
	buf_init(&err, BUF_MAX_SMALL);

	ASSERT_ERR(kubeconfig_load_incluster(&c, tmpdir, &err), IM_CONFIG);
	ASSERT_STREQ(buf_str(&err), "in-cluster config: KUBERNETES_SERVICE_HOST and "
				    "KUBERNETES_SERVICE_PORT must be set");

	setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
	setenv("KUBERNETES_SERVICE_PORT", "443", 1);
	ASSERT_OK(kubeconfig_load_incluster(&c, tmpdir, &err));
	ASSERT_STREQ(c.server, "https://10.96.0.1:443");
	ASSERT_STREQ(c.token, "sa-token-1");
	ASSERT_STREQ(c.token_file, tmp("token"));
	ASSERT_TRUE(c.token_read_ms > 0);
	ASSERT_STREQ(c.ca_pem, p.cert);
	ASSERT_STREQ(c.namespace, "llm");
	ASSERT_STREQ(c.context, "in-cluster");
	ASSERT_STREQ(c.source, "in-cluster");

	setenv("KUBERNETES_SERVICE_HOST", "fd00::1", 1);
	setenv("POD_NAMESPACE", "from-env", 1);
	ASSERT_OK(kubeconfig_load_incluster(&c, tmpdir, &err));
	ASSERT_STREQ(c.server, "https://[fd00::1]:443");
	ASSERT_STREQ(c.namespace, "from-env");
	unsetenv("POD_NAMESPACE");

	unlink(tmp("namespace"));
	ASSERT_OK(kubeconfig_load_incluster(&c, tmpdir, &err));
	ASSERT_STREQ(c.namespace, "default");

	setenv("KUBERNETES_SERVICE_PORT", "https", 1);
	ASSERT_ERR(kubeconfig_load_incluster(&c, tmpdir, &err), IM_CONFIG);
	ASSERT_STREQ(buf_str(&err), "in-cluster config: server \"https://[fd00::1]:https\" from "
				    "KUBERNETES_SERVICE_HOST/PORT has an invalid port");
	setenv("KUBERNETES_SERVICE_PORT", "443", 1);

	put("ca.crt", "not a certificate\n");
	ASSERT_ERR(kubeconfig_load_incluster(&c, tmpdir, &err), IM_PARSE);
	ASSERT_CONTAINS(buf_str(&err), "/ca.crt holds no pem certificate");
	unlink(tmp("ca.crt"));
	ASSERT_ERR(kubeconfig_load_incluster(&c, tmpdir, &err), IM_NOTFOUND);
	ASSERT_CONTAINS(buf_str(&err), "in-cluster config: cannot read ca.crt \"");
	unlink(tmp("token"));
	ASSERT_ERR(kubeconfig_load_incluster(&c, tmpdir, &err), IM_NOTFOUND);
	ASSERT_CONTAINS(buf_str(&err), "in-cluster config: service account token: cannot read \"");
	/* the last good config is still there */
	ASSERT_STREQ(c.server, "https://[fd00::1]:443");
	ASSERT_STREQ(c.token, "sa-token-1");

	kubeconfig_release(&c);
	buf_release(&err);
	tmp_remove();
	pair_free(&p);
	env_restore();
}

TEST(kubeconfig_token_refresh)
{
	struct kubeconfig c;
	struct buf err;
	const char *y = "current-context: d\n"
			"clusters: [{name: c, cluster: {server: \"https://k:1\"}}]\n"
			"contexts: [{name: d, context: {cluster: c, user: u}}]\n"
			"users: [{name: u, user: {tokenFile: tok}}]\n";
	uint64_t t0;

	tmp_make();
	put("tok", "one\n");
	kubeconfig_init(&c);
	buf_init(&err, BUF_MAX_SMALL);
	ASSERT_OK(kubeconfig_load_data(&c, y, strlen(y), "cfg", tmpdir, NULL, &err));
	ASSERT_STREQ(c.token, "one");
	t0 = c.token_read_ms;

	put("tok", "two\n");
	/* fresh: nothing happens */
	ASSERT_OK(kubeconfig_refresh_token(&c, t0 + 60000, 60000, &err));
	ASSERT_STREQ(c.token, "one");
	ASSERT_EQ_INT(c.token_read_ms, t0);
	/* a clock behind the read time is not "old" */
	ASSERT_OK(kubeconfig_refresh_token(&c, t0 > 5 ? t0 - 5 : 0, 0, &err));
	ASSERT_STREQ(c.token, "one");
	/* old: re-read */
	ASSERT_OK(kubeconfig_refresh_token(&c, t0 + 60001, 60000, &err));
	ASSERT_STREQ(c.token, "two");
	ASSERT_EQ_INT(c.token_read_ms, t0 + 60001);

	/* the file disappears: keep the old token, report, retry only later */
	unlink(tmp("tok"));
	ASSERT_ERR(kubeconfig_refresh_token(&c, t0 + 200000, 60000, &err), IM_NOTFOUND);
	ASSERT_STREQ(c.token, "two");
	ASSERT_CONTAINS(buf_str(&err), "kubeconfig \"cfg\": cannot re-read the bearer token (keeping the "
				       "previous one): cannot read \"");
	ASSERT_CONTAINS(buf_str(&err), "/tok\": no such file or directory");
	ASSERT_TRUE(strstr(buf_str(&err), "two") == NULL);
	ASSERT_EQ_INT(c.token_read_ms, t0 + 200000);
	ASSERT_OK(kubeconfig_refresh_token(&c, t0 + 200001, 60000, &err));
	put("tok", "three");
	ASSERT_OK(kubeconfig_refresh_token(&c, t0 + 260001, 60000, &err));
	ASSERT_STREQ(c.token, "three");

	/* without a token file there is nothing to do */
	kubeconfig_release(&c);
	ASSERT_OK(kubeconfig_refresh_token(&c, UINT64_MAX, 0, &err));
	buf_release(&err);
	tmp_remove();
}

TEST(kubeconfig_load_default_order)
{
	const char *dir = getenv("INFERMON_TEST_DATA");
	struct kubeconfig c;
	struct buf err, list, home;

	if (!dir)
		dir = "test/data";
	env_save();
	tmp_make();
	kubeconfig_init(&c);
	buf_init(&err, BUF_MAX_SMALL);
	buf_init(&list, BUF_MAX_SMALL);
	buf_init(&home, BUF_MAX_SMALL);

	/* nothing at all */
	setenv("HOME", tmpdir, 1);
	ASSERT_ERR(kubeconfig_load_default(&c, NULL, NULL, &err), IM_NOTFOUND);
	ASSERT_STREQ(buf_str(&err), "no kubeconfig: pass --kubeconfig, set KUBECONFIG, create "
				    "~/.kube/config or run in a cluster");

	/* $HOME/.kube/config */
	buf_printf(&home, "%s/.kube", tmpdir);
	mkdir(home.ptr, 0700);
	put(".kube/config", "current-context: h\nclusters: [{name: c, cluster: {server: \"https://home:1\"}}]\n"
			    "contexts: [{name: h, context: {cluster: c}}]\n");
	ASSERT_OK(kubeconfig_load_default(&c, NULL, NULL, &err));
	ASSERT_STREQ(c.server, "https://home:1");

	/* in-cluster comes before $HOME/.kube/config */
	setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1", 1);
	setenv("KUBERNETES_SERVICE_PORT", "443", 1);
	ASSERT_ERR(kubeconfig_load_default(&c, NULL, "h", &err), IM_CONFIG);
	ASSERT_STREQ(buf_str(&err), "context \"h\" given, but there is no kubeconfig (running in-cluster)");
	if (access(KUBECONFIG_SA_DIR "/token", F_OK) != 0) {
		ASSERT_ERR(kubeconfig_load_default(&c, NULL, NULL, &err), IM_NOTFOUND);
		ASSERT_CONTAINS(buf_str(&err), "in-cluster config: service account token: cannot read");
	}

	/* $KUBECONFIG: the first file that exists */
	buf_printf(&list, "%s/missing:%s/kubeconfig/config::%s/.kube/config", tmpdir, dir, tmpdir);
	setenv("KUBECONFIG", list.ptr, 1);
	ASSERT_OK(kubeconfig_load_default(&c, NULL, NULL, &err));
	ASSERT_STREQ(c.server, "https://127.0.0.1:41234");
	setenv("KUBECONFIG", "/nonexistent/a:/nonexistent/b", 1);
	ASSERT_ERR(kubeconfig_load_default(&c, NULL, NULL, &err), IM_NOTFOUND);
	ASSERT_STREQ(buf_str(&err), "no file named in KUBECONFIG \"/nonexistent/a:/nonexistent/b\" exists");

	/* --kubeconfig beats everything */
	ASSERT_OK(kubeconfig_load_default(&c, tmp(".kube/config"), "h", &err));
	ASSERT_STREQ(c.server, "https://home:1");
	ASSERT_STREQ(c.context, "h");

	kubeconfig_release(&c);
	buf_release(&err);
	buf_release(&list);
	buf_release(&home);
	tmp_remove();
	env_restore();
}

int main(int argc, char **argv)
{
	return t_run(argc, argv);
}
