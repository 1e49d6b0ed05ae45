#include "kubeconfig.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <netinet/in.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "fileio.h"
#include "hmap.h"
#include "strparse.h"
#include "yamljson.h"

#define MAX_KUBECONFIG ((size_t)16 * 1024 * 1024)
#define MAX_PEM ((size_t)4 * 1024 * 1024)
#define MAX_TOKEN ((size_t)1024 * 1024)
#define MAX_NAMESPACE ((size_t)4096)

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void wipe_free(char *p, size_t n)
{
	if (!p)
		return;
	explicit_bzero(p, n);
	im_free(p);
}

/* buf_release for a buffer that held a secret (a token, a key). */
static void wipe_release(struct buf *b)
{
	if (b->ptr)
		explicit_bzero(b->ptr, b->len);
	buf_release(b);
}

void kubeconfig_init(struct kubeconfig *c)
{
	memset(c, 0, sizeof(*c));
}

void kubeconfig_release(struct kubeconfig *c)
{
	im_free(c->server);
	im_free(c->ca_pem);
	im_free(c->cert_pem);
	wipe_free(c->key_pem, c->key_pem_len);
	wipe_free(c->token, c->token ? strlen(c->token) : 0);
	im_free(c->token_file);
	im_free(c->namespace);
	im_free(c->context);
	im_free(c->source);
	kubeconfig_init(c);
}

/* ---- messages ---- */

struct ld {
	const char *source; /* for messages */
	const char *base_dir;
	struct buf *err;
	struct buf scratch; /* err when the caller passed none */
	const struct yamljson_doc *doc;
};

static void add_quoted(struct buf *b, const char *s)
{
	buf_add_quoted(b, s, strlen(s), 0, 0);
}

/* Resets the message to `kubeconfig "<source>": ` and returns it. */
static struct buf *kerr(struct ld *l)
{
	buf_reset(l->err);
	if (strcmp(l->source, "in-cluster") == 0) {
		buf_adds(l->err, "in-cluster config: ");
	} else {
		buf_adds(l->err, "kubeconfig ");
		add_quoted(l->err, l->source);
		buf_adds(l->err, ": ");
	}
	return l->err;
}

/* kerr() followed by "line N: " when node has a position. */
static struct buf *kerr_at(struct ld *l, const cJSON *node)
{
	struct buf *b = kerr(l);
	int line = l->doc ? yamljson_line_of(l->doc, node) : 0;

	if (line)
		buf_printf(b, "line %d: ", line);
	return b;
}

/* `cluster "c1"` */
static void add_subject(struct buf *b, const char *kind, const char *name)
{
	buf_adds(b, kind);
	buf_addc(b, ' ');
	add_quoted(b, name);
}

/* fileio's message is `cannot read "<path>": <reason>`; callers that name
 * the file themselves want only the reason. */
static const char *read_reason(const struct buf *ferr, const char *path)
{
	const char *s = buf_str(ferr);
	size_t skip = strlen("cannot read \"") + strlen(path) + strlen("\": ");

	return strlen(s) >= skip ? s + skip : s;
}

/* ---- small parsers ---- */

static int b64_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* Go's base64.StdEncoding, which decodes kubeconfig's []byte fields: the
 * standard alphabet, padding required, CR and LF ignored. */
static im_result b64_decode(const char *s, size_t n, struct buf *out)
{
	unsigned acc = 0;
	int bits = 0;
	size_t chars = 0, pad = 0;

	buf_reset(out);
	for (size_t i = 0; i < n; i++) {
		int v;
		if (s[i] == '\r' || s[i] == '\n')
			continue;
		chars++;
		if (s[i] == '=') {
			pad++;
			continue;
		}
		v = b64_value(s[i]);
		if (v < 0 || pad)
			return IM_PARSE;
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (buf_addc(out, (char)((acc >> bits) & 0xff)))
				return IM_TOOBIG;
		}
	}
	if (chars % 4 != 0 || pad > 2)
		return IM_PARSE;
	if (!out->ptr && buf_add(out, "", 0))
		return IM_TOOBIG;
	return IM_OK;
}

static int no_password(char *b, int size, int rwflag, void *u)
{
	(void)b;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1; /* never prompt; an encrypted key fails to load */
}

/* Number of PEM certificates in pem; the first is handed out when first is
 * not NULL (free with X509_free). */
static int pem_certs(const char *pem, size_t len, X509 **first)
{
	BIO *bio = BIO_new_mem_buf(pem, (int)len);
	X509 *x;
	int n = 0;

	if (!bio)
		return 0;
	while ((x = PEM_read_bio_X509_AUX(bio, NULL, no_password, NULL))) {
		if (first && !*first)
			*first = x;
		else
			X509_free(x);
		n++;
	}
	BIO_free(bio);
	ERR_clear_error();
	return n;
}

static EVP_PKEY *pem_key(const char *pem, size_t len)
{
	BIO *bio = BIO_new_mem_buf(pem, (int)len);
	EVP_PKEY *k = NULL;

	if (bio) {
		k = PEM_read_bio_PrivateKey(bio, NULL, no_password, NULL);
		BIO_free(bio);
	}
	ERR_clear_error();
	return k;
}

/* A bearer token goes into an HTTP header: printable ASCII only. */
static bool token_chars_ok(const char *t, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)t[i] < 0x21 || (unsigned char)t[i] > 0x7e)
			return false;
	return true;
}

static void trim(struct buf *b, const char **p, size_t *n)
{
	const char *s = buf_str(b);
	size_t len = b->len;

	while (len && strchr(" \t\r\n\v\f", s[0])) {
		s++;
		len--;
	}
	while (len && strchr(" \t\r\n\v\f", s[len - 1]))
		len--;
	*p = s;
	*n = len;
}

/* Reads a token file: trimmed, non-empty, header-safe. On failure err gets
 * the reason (after the caller's prefix). */
static im_result read_token(const char *path, char **out, struct buf *err)
{
	struct buf b, ferr;
	const char *t;
	size_t n;
	im_result result;

	buf_init(&b, MAX_TOKEN);
	buf_init(&ferr, BUF_MAX_SMALL);
	result = fileio_read(path, MAX_TOKEN, &b, &ferr);
	if (result) {
		buf_adds(err, buf_str(&ferr));
		goto out;
	}
	trim(&b, &t, &n);
	if (n == 0 || !token_chars_ok(t, n)) {
		buf_adds(err, "token file ");
		add_quoted(err, path);
		buf_adds(err, n ? " holds characters a bearer token cannot have" : " is empty");
		result = IM_CONFIG;
		goto out;
	}
	*out = im_xstrndup(t, n);
out:
	wipe_release(&b);
	buf_release(&ferr);
	return result;
}

static bool is_loopback(const char *host)
{
	struct in_addr a4;
	struct in6_addr a6;

	if (strcasecmp(host, "localhost") == 0)
		return true;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, host, &a6) == 1)
		return IN6_IS_ADDR_LOOPBACK(&a6);
	return false;
}

/* scheme://host[:port][/path] -> scheme://host:port[/path] (see the header).
 * On failure *why says what is wrong. */
static im_result norm_server(const char *url, struct buf *out, const char **why)
{
	const char *p, *auth, *host_end, *path;
	char host[256];
	size_t auth_len, host_len, path_len;
	uint64_t port;
	bool https, v6 = false;

	buf_reset(out);
	if (strncasecmp(url, "https://", 8) == 0) {
		https = true;
		auth = url + 8;
	} else if (strncasecmp(url, "http://", 7) == 0) {
		https = false;
		auth = url + 7;
	} else {
		*why = "must be an https:// url";
		return IM_CONFIG;
	}
	if (strpbrk(auth, "?#")) {
		*why = "must not have a query or fragment";
		return IM_CONFIG;
	}
	for (p = url; *p; p++) {
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p == 0x7f) {
			*why = "must not contain spaces or control characters";
			return IM_CONFIG;
		}
	}
	auth_len = strcspn(auth, "/");
	path = auth + auth_len;
	if (memchr(auth, '@', auth_len)) {
		*why = "must not contain user information";
		return IM_CONFIG;
	}
	if (auth_len && auth[0] == '[') {
		host_end = memchr(auth, ']', auth_len);
		if (!host_end) {
			*why = "has an unterminated ipv6 address";
			return IM_CONFIG;
		}
		host_len = (size_t)(host_end - auth - 1);
		if (host_len >= sizeof(host)) {
			*why = "has a host name that is too long";
			return IM_CONFIG;
		}
		memcpy(host, auth + 1, host_len);
		host[host_len] = '\0';
		host_end++;
		v6 = true;
		{
			struct in6_addr a6;
			char *zone = strchr(host, '%');
			if (zone)
				*zone = '\0';
			if (inet_pton(AF_INET6, host, &a6) != 1) {
				*why = "has an invalid ipv6 address";
				return IM_CONFIG;
			}
			if (zone)
				*zone = '%';
		}
	} else {
		const char *colon = memchr(auth, ':', auth_len);
		if (colon && memchr(colon + 1, ':', auth_len - (size_t)(colon + 1 - auth))) {
			*why = "has an ipv6 address without brackets";
			return IM_CONFIG;
		}
		host_end = colon ? colon : auth + auth_len;
		host_len = (size_t)(host_end - auth);
		if (host_len >= sizeof(host)) {
			*why = "has a host name that is too long";
			return IM_CONFIG;
		}
		memcpy(host, auth, host_len);
		host[host_len] = '\0';
		for (size_t i = 0; i < host_len; i++) {
			char c = host[i];
			if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			      (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_')) {
				*why = "has an invalid host name";
				return IM_CONFIG;
			}
		}
	}
	if (host_len == 0) {
		*why = "has no host";
		return IM_CONFIG;
	}
	if (host_end < auth + auth_len) {
		if (*host_end != ':' ||
		    strparse_u64(host_end + 1, (size_t)(auth + auth_len - host_end - 1), 65535,
				 &port) ||
		    port == 0) {
			*why = "has an invalid port";
			return IM_CONFIG;
		}
	} else {
		port = https ? 443 : 80;
	}
	if (!https && !is_loopback(host)) {
		*why = "must be an https:// url (http:// is allowed only to a loopback address)";
		return IM_CONFIG;
	}
	path_len = strlen(path);
	while (path_len && path[path_len - 1] == '/')
		path_len--;
	buf_printf(out, "%s://%s%s%s:%llu", https ? "https" : "http", v6 ? "[" : "", host,
		   v6 ? "]" : "", (unsigned long long)port);
	buf_add(out, path, path_len);
	return IM_OK;
}

/* ---- kubeconfig documents ---- */

static char *resolve_path(const struct ld *l, const char *p)
{
	struct buf b;

	if (p[0] == '/' || !l->base_dir || !l->base_dir[0])
		return im_xstrdup(p);
	buf_init(&b, BUF_MAX_SMALL);
	if (buf_printf(&b, "%s%s%s", l->base_dir,
		       l->base_dir[strlen(l->base_dir) - 1] == '/' ? "" : "/", p))
		return im_xstrdup(p); /* too long to be a path: fails when read */
	return buf_detach(&b, NULL);
}

/* obj[field] as a string: *out NULL when absent, null or "" (kubectl treats
 * an empty string as unset). what names the owner for messages. */
static im_result get_str(struct ld *l, const cJSON *obj, const char *field, const char *kind,
			 const char *name, const char **out)
{
	const cJSON *v = obj ? cJSON_GetObjectItemCaseSensitive(obj, field) : NULL;
	struct buf *b;

	*out = NULL;
	if (!v || cJSON_IsNull(v))
		return IM_OK;
	if (cJSON_IsString(v)) {
		if (v->valuestring[0])
			*out = v->valuestring;
		return IM_OK;
	}
	b = kerr_at(l, v);
	buf_printf(b, "%s of ", field);
	add_subject(b, kind, name);
	buf_adds(b, " must be a string");
	return IM_PARSE;
}

/* True when obj[field] is present and not null, false, "" or an empty
 * collection: a setting the caller cannot honour. */
static bool is_set(const cJSON *obj, const char *field)
{
	const cJSON *v = obj ? cJSON_GetObjectItemCaseSensitive(obj, field) : NULL;

	if (!v || cJSON_IsNull(v) || cJSON_IsFalse(v))
		return false;
	if (cJSON_IsString(v))
		return v->valuestring[0] != '\0';
	if (cJSON_IsArray(v) || cJSON_IsObject(v))
		return v->child != NULL;
	return true;
}

/*
 * Finds the entry named name in root[list] (a list of {name, <kind>: {...}})
 * and returns its <kind> mapping (NULL when the entry has none). Checks the
 * shape and that no name is given twice, as client-go does. IM_NOTFOUND
 * without a message when there is no such entry.
 */
static im_result find_named(struct ld *l, const cJSON *root, const char *list, const char *kind,
			    const char *name, const cJSON **out, bool *found)
{
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(root, list);
	const cJSON *e, *hit = NULL;
	struct hmap seen; /* names so far, for duplicates in one pass */
	int i = 0;
	struct buf *b;
	im_result result = IM_OK;

	*out = NULL;
	*found = false;
	if (!arr || cJSON_IsNull(arr))
		return IM_OK;
	if (!cJSON_IsArray(arr)) {
		buf_printf(kerr_at(l, arr), "%s must be a list", list);
		return IM_PARSE;
	}
	hmap_init(&seen);
	for (e = arr->child; e; e = e->next, i++) {
		const cJSON *n = cJSON_GetObjectItemCaseSensitive(e, "name");
		const cJSON *body;

		if (!cJSON_IsObject(e)) {
			buf_printf(kerr_at(l, e), "%s[%d] must be a mapping", list, i);
			result = IM_PARSE;
			goto out;
		}
		if (!cJSON_IsString(n) || !n->valuestring[0]) {
			buf_printf(kerr_at(l, n ? n : e), "%s[%d].name must be a non-empty string",
				   list, i);
			result = IM_PARSE;
			goto out;
		}
		if (hmap_put(&seen, n->valuestring, (void *)e)) {
			b = kerr_at(l, n);
			buf_adds(b, "duplicate ");
			add_subject(b, kind, n->valuestring);
			buf_printf(b, " in %s", list);
			result = IM_PARSE;
			goto out;
		}
		if (strcmp(n->valuestring, name) != 0)
			continue;
		hit = e;
		body = cJSON_GetObjectItemCaseSensitive(e, kind);
		if (body && !cJSON_IsNull(body) && !cJSON_IsObject(body)) {
			b = kerr_at(l, body);
			buf_printf(b, "%s of ", kind);
			add_subject(b, kind, name);
			buf_adds(b, " must be a mapping");
			result = IM_PARSE;
			goto out;
		}
		*out = cJSON_IsObject(body) ? body : NULL;
	}
	*found = hit != NULL;
out:
	hmap_release(&seen);
	return result;
}

/*
 * One PEM setting given inline (<field>-data, base64) or as a file (<field>).
 * kind "ca": certificates; "cert": certificates, the first returned in *x509;
 * "key": an unencrypted private key, returned in *pkey. *pem NULL when
 * neither is set.
 */
static im_result load_pem(struct ld *l, const cJSON *obj, const char *field, const char *owner_kind,
			  const char *owner, const char *kind, char **pem, size_t *pem_len,
			  X509 **x509, EVP_PKEY **pkey)
{
	const char *data, *file;
	char data_field[64];
	struct buf pembuf, ferr, *b;
	char *path = NULL;
	im_result result;
	bool ok;

	*pem = NULL;
	*pem_len = 0;
	snprintf(data_field, sizeof(data_field), "%s-data", field);
	result = get_str(l, obj, data_field, owner_kind, owner, &data);
	if (!result)
		result = get_str(l, obj, field, owner_kind, owner, &file);
	if (result)
		return result;
	if (data && file) {
		b = kerr(l);
		buf_printf(b, "%s and %s are both set for ", data_field, field);
		add_subject(b, owner_kind, owner);
		return IM_CONFIG;
	}
	if (!data && !file)
		return IM_OK;
	buf_init(&pembuf, MAX_PEM);
	buf_init(&ferr, BUF_MAX_SMALL);
	if (data) {
		result = b64_decode(data, strlen(data), &pembuf);
		if (result) {
			b = kerr(l);
			buf_printf(b, "cannot decode %s of ", data_field);
			add_subject(b, owner_kind, owner);
			buf_adds(b, result == IM_TOOBIG ? ": too large" : ": invalid base64");
			result = IM_PARSE;
			goto out;
		}
	} else {
		path = resolve_path(l, file);
		result = fileio_read(path, MAX_PEM, &pembuf, &ferr);
		if (result) {
			b = kerr(l);
			buf_printf(b, "cannot read %s ", field);
			add_quoted(b, path);
			buf_adds(b, " of ");
			add_subject(b, owner_kind, owner);
			buf_printf(b, ": %s", read_reason(&ferr, path));
			goto out;
		}
	}
	if (strcmp(kind, "key") == 0) {
		*pkey = pem_key(pembuf.ptr, pembuf.len);
		ok = *pkey != NULL;
	} else {
		ok = pem_certs(pembuf.ptr, pembuf.len, x509) > 0;
	}
	if (!ok) {
		b = kerr(l);
		buf_adds(b, data ? data_field : field);
		if (path) {
			buf_addc(b, ' ');
			add_quoted(b, path);
		}
		buf_adds(b, " of ");
		add_subject(b, owner_kind, owner);
		buf_adds(b, strcmp(kind, "key") == 0 ? " is not an unencrypted pem private key"
						     : " holds no pem certificate");
		result = IM_PARSE;
		goto out;
	}
	*pem_len = pembuf.len;
	*pem = buf_detach(&pembuf, NULL);
out:
	wipe_release(&pembuf);
	buf_release(&ferr);
	im_free(path);
	return result;
}

static im_result refuse(struct ld *l, const char *what, const char *kind, const char *name,
			const char *why)
{
	struct buf *b = kerr(l);

	buf_printf(b, "%s of ", what);
	add_subject(b, kind, name);
	buf_printf(b, " is not supported%s%s", why ? ": " : "", why ? why : "");
	return IM_CONFIG;
}

static im_result load_cluster(struct ld *l, const cJSON *cl, const char *name, struct kubeconfig *n)
{
	const char *server, *why;
	const cJSON *insecure =
		cl ? cJSON_GetObjectItemCaseSensitive(cl, "insecure-skip-tls-verify") : NULL;
	struct buf url, *b;
	im_result result = get_str(l, cl, "server", "cluster", name, &server);

	if (result)
		return result;
	if (insecure && !cJSON_IsNull(insecure) && !cJSON_IsBool(insecure)) {
		b = kerr_at(l, insecure);
		buf_adds(b, "insecure-skip-tls-verify of ");
		add_subject(b, "cluster", name);
		buf_adds(b, " must be true or false");
		return IM_PARSE;
	}
	if (cJSON_IsTrue(insecure))
		return refuse(l, "insecure-skip-tls-verify: true", "cluster", name,
			      "infermon always verifies tls");
	if (is_set(cl, "tls-server-name"))
		return refuse(l, "tls-server-name", "cluster", name, NULL);
	if (is_set(cl, "proxy-url"))
		return refuse(l, "proxy-url", "cluster", name, NULL);
	if (!server) {
		b = kerr(l);
		add_subject(b, "cluster", name);
		buf_adds(b, " has no server");
		return IM_CONFIG;
	}
	buf_init(&url, BUF_MAX_SMALL);
	result = norm_server(server, &url, &why);
	if (result) {
		b = kerr(l);
		buf_adds(b, "server ");
		add_quoted(b, server);
		buf_adds(b, " of ");
		add_subject(b, "cluster", name);
		buf_printf(b, " %s", why);
		buf_release(&url);
		return result;
	}
	n->server = buf_detach(&url, NULL);
	return load_pem(l, cl, "certificate-authority", "cluster", name, "ca", &n->ca_pem,
			&n->ca_pem_len, NULL, NULL);
}

/* `<what> of user "<name>"<why>`, IM_CONFIG. */
static im_result user_refused(struct ld *l, const char *name, const char *what, const char *why)
{
	struct buf *b = kerr(l);

	buf_adds(b, what);
	buf_adds(b, " of ");
	add_subject(b, "user", name);
	buf_adds(b, why);
	return IM_CONFIG;
}

static im_result load_user(struct ld *l, const cJSON *u, const char *name, struct kubeconfig *n)
{
	static const char *const impersonation[] = {"as", "as-uid", "as-groups", "as-user-extra"};
	const char *token, *token_file;
	X509 *cert = NULL;
	EVP_PKEY *key = NULL;
	struct buf *b;
	im_result result;

	if (is_set(u, "exec"))
		return refuse(l, "exec credential plugin", "user", name, NULL);
	if (is_set(u, "auth-provider"))
		return refuse(l, "auth-provider", "user", name, NULL);
	if (is_set(u, "username") || is_set(u, "password"))
		return refuse(l, "basic authentication (username/password)", "user", name, NULL);
	for (size_t i = 0; i < sizeof(impersonation) / sizeof(impersonation[0]); i++)
		if (is_set(u, impersonation[i]))
			return refuse(l, "impersonation (as, as-groups, ...)", "user", name, NULL);
	result = get_str(l, u, "token", "user", name, &token);
	if (!result)
		result = get_str(l, u, "tokenFile", "user", name, &token_file);
	if (!result)
		result = load_pem(l, u, "client-certificate", "user", name, "cert", &n->cert_pem,
				  &n->cert_pem_len, &cert, NULL);
	if (!result)
		result = load_pem(l, u, "client-key", "user", name, "key", &n->key_pem,
				  &n->key_pem_len, NULL, &key);
	if (result)
		goto out;
	if (!!cert != !!key) {
		result = user_refused(l, name,
				      cert ? "client-certificate without client-key"
					   : "client-key without client-certificate",
				      "");
		goto out;
	}
	if (cert && X509_check_private_key(cert, key) != 1) {
		ERR_clear_error();
		result = user_refused(l, name, "client-key",
				      " does not match its client-certificate");
		goto out;
	}
	if (token && !token_chars_ok(token, strlen(token))) {
		result = user_refused(l, name, "token",
				      " holds characters a bearer token cannot have");
		goto out;
	}
	if (token_file) {
		/* client-go reads the file; an inline token only stands in when the
		 * file cannot be read at start. */
		struct buf why;
		char *t = NULL;

		n->token_file = resolve_path(l, token_file);
		buf_init(&why, BUF_MAX_SMALL);
		result = read_token(n->token_file, &t, &why);
		if (result && !token) {
			b = kerr(l);
			buf_adds(b, "tokenFile of ");
			add_subject(b, "user", name);
			buf_printf(b, ": %s", buf_str(&why));
		} else {
			result = IM_OK;
		}
		buf_release(&why);
		n->token = t ? t : token ? im_xstrdup(token) : NULL;
		n->token_read_ms = mono_ms();
	} else if (token) {
		n->token = im_xstrdup(token);
	}
out:
	X509_free(cert);
	EVP_PKEY_free(key);
	return result;
}

/* find_named that must find: otherwise `<kind> "<name>" [of context
 * "<ctx_name>"] not found` and IM_NOTFOUND. */
static im_result find_ref(struct ld *l, const cJSON *root, const char *list, const char *kind,
			  const char *name, const char *ctx_name, const cJSON **out)
{
	bool found;
	struct buf *b;
	im_result result = find_named(l, root, list, kind, name, out, &found);

	if (result || found)
		return result;
	b = kerr(l);
	add_subject(b, kind, name);
	if (ctx_name) {
		buf_adds(b, " of ");
		add_subject(b, "context", ctx_name);
	}
	buf_adds(b, " not found");
	return IM_NOTFOUND;
}

static im_result load_doc(struct ld *l, const cJSON *root, const char *want_ctx,
			  struct kubeconfig *n)
{
	const cJSON *cur, *ctx, *cl, *u;
	const char *ctx_name = want_ctx, *cl_name, *u_name, *ns;
	im_result result;

	if (!cJSON_IsObject(root)) {
		buf_adds(kerr_at(l, root), "not a mapping");
		return IM_PARSE;
	}
	if (!ctx_name) {
		cur = cJSON_GetObjectItemCaseSensitive(root, "current-context");
		if (cur && !cJSON_IsNull(cur) && !cJSON_IsString(cur)) {
			buf_adds(kerr_at(l, cur), "current-context must be a string");
			return IM_PARSE;
		}
		ctx_name = cJSON_IsString(cur) ? cur->valuestring : NULL;
		if (!ctx_name || !ctx_name[0]) {
			buf_adds(kerr(l), "no context given and current-context is not set");
			return IM_CONFIG;
		}
	}
	result = find_ref(l, root, "contexts", "context", ctx_name, NULL, &ctx);
	if (result)
		return result;
	result = get_str(l, ctx, "cluster", "context", ctx_name, &cl_name);
	if (!result)
		result = get_str(l, ctx, "user", "context", ctx_name, &u_name);
	if (!result)
		result = get_str(l, ctx, "namespace", "context", ctx_name, &ns);
	if (result)
		return result;
	if (!cl_name) {
		add_subject(kerr(l), "context", ctx_name);
		buf_adds(l->err, " names no cluster");
		return IM_CONFIG;
	}
	result = find_ref(l, root, "clusters", "cluster", cl_name, ctx_name, &cl);
	if (!result)
		result = load_cluster(l, cl, cl_name, n);
	if (!result && u_name) {
		result = find_ref(l, root, "users", "user", u_name, ctx_name, &u);
		if (!result)
			result = load_user(l, u, u_name, n);
	}
	if (result)
		return result;
	n->namespace = im_xstrdup(ns ? ns : "default");
	n->context = im_xstrdup(ctx_name);
	n->source = im_xstrdup(l->source);
	return IM_OK;
}

static void ld_init(struct ld *l, const char *source, const char *base_dir, struct buf *err)
{
	memset(l, 0, sizeof(*l));
	l->source = source;
	l->base_dir = base_dir;
	buf_init(&l->scratch, BUF_MAX_SMALL);
	l->err = err ? err : &l->scratch;
	buf_reset(l->err);
}

/* Moves n into c on success, else drops n; releases the scratch message. */
static im_result ld_finish(struct ld *l, im_result result, struct kubeconfig *n,
			   struct kubeconfig *c)
{
	if (result) {
		kubeconfig_release(n);
	} else {
		kubeconfig_release(c);
		*c = *n;
	}
	buf_release(&l->scratch);
	return result;
}

im_result kubeconfig_load_data(struct kubeconfig *c, const char *data, size_t len,
			       const char *source, const char *base_dir, const char *context,
			       struct buf *err)
{
	struct yamljson_opts opts = {.max_input = MAX_KUBECONFIG, .max_nodes = 200000};
	struct yamljson_doc *docs = NULL;
	size_t ndocs = 0;
	struct buf yerr;
	struct kubeconfig n;
	struct ld l;
	im_result result;

	kubeconfig_init(&n);
	ld_init(&l, source ? source : "<memory>", base_dir, err);
	buf_init(&yerr, BUF_MAX_SMALL);
	result = yamljson_parse(data, len, NULL, &opts, &docs, &ndocs, &yerr);
	if (result) {
		buf_adds(kerr(&l), buf_str(&yerr));
		goto out;
	}
	if (ndocs != 1) {
		if (ndocs)
			buf_printf(kerr(&l), "holds %zu yaml documents, want one", ndocs);
		else
			buf_adds(kerr(&l), "is empty");
		result = IM_CONFIG;
		goto out;
	}
	l.doc = &docs[0];
	result = load_doc(&l, docs[0].json, context, &n);
out:
	yamljson_docs_free(docs, ndocs);
	buf_release(&yerr);
	return ld_finish(&l, result, &n, c);
}

im_result kubeconfig_load_file(struct kubeconfig *c, const char *path, const char *context,
			       struct buf *err)
{
	struct buf data, ferr;
	char *dir = NULL;
	const char *slash = strrchr(path, '/');
	im_result result;

	buf_init(&data, MAX_KUBECONFIG);
	buf_init(&ferr, BUF_MAX_SMALL);
	result = fileio_read(path, MAX_KUBECONFIG, &data, &ferr);
	if (result) {
		if (err) {
			buf_reset(err);
			buf_adds(err, "kubeconfig ");
			add_quoted(err, path);
			buf_printf(err, ": cannot read: %s", read_reason(&ferr, path));
		}
		goto out;
	}
	if (slash)
		dir = im_xstrndup(path, slash == path ? 1 : (size_t)(slash - path));
	result = kubeconfig_load_data(c, data.ptr, data.len, path, dir, context, err);
out:
	im_free(dir);
	buf_release(&data);
	buf_release(&ferr);
	return result;
}

static im_result read_small(struct ld *l, const char *dir, const char *file, size_t max,
			    struct buf *out)
{
	struct buf path, ferr, *b;
	im_result result;

	buf_init(&path, BUF_MAX_SMALL);
	buf_init(&ferr, BUF_MAX_SMALL);
	buf_printf(&path, "%s/%s", dir, file);
	result = fileio_read(path.ptr, max, out, &ferr);
	if (result) {
		b = kerr(l);
		buf_printf(b, "cannot read %s ", file);
		add_quoted(b, path.ptr);
		buf_printf(b, ": %s", read_reason(&ferr, path.ptr));
	}
	buf_release(&path);
	buf_release(&ferr);
	return result;
}

im_result kubeconfig_load_incluster(struct kubeconfig *c, const char *sa_dir, struct buf *err)
{
	const char *host = getenv("KUBERNETES_SERVICE_HOST");
	const char *port = getenv("KUBERNETES_SERVICE_PORT");
	const char *pod_ns = getenv("POD_NAMESPACE");
	const char *why, *ns;
	struct buf url, server, file, tokpath, reason, *b;
	struct kubeconfig n;
	struct ld l;
	size_t ns_len;
	im_result result;

	if (!sa_dir)
		sa_dir = KUBECONFIG_SA_DIR;
	kubeconfig_init(&n);
	ld_init(&l, "in-cluster", NULL, err);
	buf_init(&url, BUF_MAX_SMALL);
	buf_init(&server, BUF_MAX_SMALL);
	buf_init(&file, MAX_PEM);
	buf_init(&tokpath, BUF_MAX_SMALL);
	buf_init(&reason, BUF_MAX_SMALL);
	if (!host || !host[0] || !port || !port[0]) {
		buf_adds(kerr(&l),
			 "KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be set");
		result = IM_CONFIG;
		goto out;
	}
	if (strchr(host, ':') && host[0] != '[')
		buf_printf(&url, "https://[%s]:%s", host, port);
	else
		buf_printf(&url, "https://%s:%s", host, port);
	result = norm_server(buf_str(&url), &server, &why);
	if (result) {
		b = kerr(&l);
		buf_adds(b, "server ");
		add_quoted(b, buf_str(&url));
		buf_printf(b, " from KUBERNETES_SERVICE_HOST/PORT %s", why);
		goto out;
	}
	n.server = buf_detach(&server, NULL);

	buf_printf(&tokpath, "%s/token", sa_dir);
	result = read_token(tokpath.ptr, &n.token, &reason);
	if (result) {
		buf_printf(kerr(&l), "service account token: %s", buf_str(&reason));
		goto out;
	}
	n.token_file = buf_detach(&tokpath, NULL);
	n.token_read_ms = mono_ms();

	result = read_small(&l, sa_dir, "ca.crt", MAX_PEM, &file);
	if (result)
		goto out;
	if (pem_certs(file.ptr, file.len, NULL) == 0) {
		b = kerr(&l);
		buf_printf(b, "%s/ca.crt holds no pem certificate", sa_dir);
		result = IM_PARSE;
		goto out;
	}
	n.ca_pem_len = file.len;
	n.ca_pem = buf_detach(&file, NULL);

	if (pod_ns && pod_ns[0]) {
		n.namespace = im_xstrdup(pod_ns);
	} else {
		struct buf nsb, nspath;
		buf_init(&nsb, MAX_NAMESPACE);
		buf_init(&nspath, BUF_MAX_SMALL);
		buf_printf(&nspath, "%s/namespace", sa_dir);
		if (fileio_read(nspath.ptr, MAX_NAMESPACE, &nsb, NULL) == IM_OK) {
			trim(&nsb, &ns, &ns_len);
			if (ns_len)
				n.namespace = im_xstrndup(ns, ns_len);
		}
		buf_release(&nsb);
		buf_release(&nspath);
		if (!n.namespace)
			n.namespace = im_xstrdup("default");
	}
	n.context = im_xstrdup("in-cluster");
	n.source = im_xstrdup("in-cluster");
out:
	buf_release(&url);
	buf_release(&server);
	buf_release(&file);
	buf_release(&tokpath);
	buf_release(&reason);
	return ld_finish(&l, result, &n, c);
}

im_result kubeconfig_load_default(struct kubeconfig *c, const char *path, const char *context,
				  struct buf *err)
{
	const char *env = getenv("KUBECONFIG");
	const char *home = getenv("HOME");
	const char *host = getenv("KUBERNETES_SERVICE_HOST");
	struct buf p;
	im_result result;

	if (path)
		return kubeconfig_load_file(c, path, context, err);
	if (env && env[0]) {
		const char *s = env;
		while (*s) {
			size_t n = strcspn(s, ":");
			if (n) {
				char *f = im_xstrndup(s, n);
				if (access(f, F_OK) == 0) {
					result = kubeconfig_load_file(c, f, context, err);
					im_free(f);
					return result;
				}
				im_free(f);
			}
			s += n;
			if (*s == ':')
				s++;
		}
		if (err) {
			buf_reset(err);
			buf_adds(err, "no file named in KUBECONFIG ");
			add_quoted(err, env);
			buf_adds(err, " exists");
		}
		return IM_NOTFOUND;
	}
	if (host && host[0]) {
		if (context) {
			if (err) {
				buf_reset(err);
				buf_adds(err, "context ");
				add_quoted(err, context);
				buf_adds(err,
					 " given, but there is no kubeconfig (running in-cluster)");
			}
			return IM_CONFIG;
		}
		return kubeconfig_load_incluster(c, NULL, err);
	}
	if (home && home[0]) {
		buf_init(&p, BUF_MAX_SMALL);
		buf_printf(&p, "%s/.kube/config", home);
		if (access(p.ptr, F_OK) == 0) {
			result = kubeconfig_load_file(c, p.ptr, context, err);
			buf_release(&p);
			return result;
		}
		buf_release(&p);
	}
	if (err) {
		buf_reset(err);
		buf_adds(err, "no kubeconfig: pass --kubeconfig, set KUBECONFIG, create "
			      "~/.kube/config or run in a cluster");
	}
	return IM_NOTFOUND;
}

im_result kubeconfig_refresh_token(struct kubeconfig *c, uint64_t now_ms, uint64_t max_age_ms,
				   struct buf *err)
{
	struct buf why;
	char *t = NULL;
	im_result result;

	if (!c->token_file || now_ms < c->token_read_ms || now_ms - c->token_read_ms <= max_age_ms)
		return IM_OK;
	c->token_read_ms = now_ms;
	buf_init(&why, BUF_MAX_SMALL);
	result = read_token(c->token_file, &t, &why);
	if (result) {
		if (err) {
			struct ld l;
			ld_init(&l, c->source ? c->source : "<memory>", NULL, err);
			buf_printf(kerr(&l),
				   "cannot re-read the bearer token (keeping the previous one): %s",
				   buf_str(&why));
			buf_release(&l.scratch);
		}
	} else {
		wipe_free(c->token, c->token ? strlen(c->token) : 0);
		c->token = t;
	}
	buf_release(&why);
	return result;
}
