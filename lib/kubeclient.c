#include "kubeclient.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "log.h"

#define TOKEN_MAX_AGE_MS 60000

void kubeclient_init(struct kubeclient *kc, struct http *http, struct kubeconfig *cfg)
{
	kc->cfg = *cfg;
	kubeconfig_init(cfg);
	kc->http = http;
	kc->user_agent = im_xstrdup("infermon");
	kc->requests = 0;
	kc->writes = 0;
}

void kubeclient_release(struct kubeclient *kc)
{
	kubeconfig_release(&kc->cfg);
	im_free(kc->user_agent);
	kc->user_agent = NULL;
}

static void set_blob(CURL *e, CURLoption opt, const char *p, size_t n)
{
	struct curl_blob b = {.data = (void *)p, .len = n, .flags = CURL_BLOB_COPY};
	curl_easy_setopt(e, opt, &b);
}

struct http_call *kubeclient_call_uncounted(struct kubeclient *kc, const char *method,
					    const char *path)
{
	struct buf url, hdr, err;
	struct http_call *c;
	CURL *e;

	buf_init(&url, BUF_MAX_SMALL);
	buf_printf(&url, "%s%s", kc->cfg.server, path);
	c = http_call_new(kc->http, method, buf_str(&url));
	buf_release(&url);
	e = http_call_easy(c);
	if (kc->cfg.ca_pem)
		set_blob(e, CURLOPT_CAINFO_BLOB, kc->cfg.ca_pem, kc->cfg.ca_pem_len);
	if (kc->cfg.cert_pem) {
		set_blob(e, CURLOPT_SSLCERT_BLOB, kc->cfg.cert_pem, kc->cfg.cert_pem_len);
		curl_easy_setopt(e, CURLOPT_SSLCERTTYPE, "PEM");
	}
	if (kc->cfg.key_pem) {
		set_blob(e, CURLOPT_SSLKEY_BLOB, kc->cfg.key_pem, kc->cfg.key_pem_len);
		curl_easy_setopt(e, CURLOPT_SSLKEYTYPE, "PEM");
	}
	if (kc->cfg.token_file) {
		buf_init(&err, 1024);
		if (kubeconfig_refresh_token(&kc->cfg, loop_now_ms(kc->http->loop),
					     TOKEN_MAX_AGE_MS, &err))
			log_kv(LOG_WARN,
			       "cannot re-read service-account token; keeping the old one", "error",
			       buf_str(&err), NULL);
		buf_release(&err);
	}
	if (kc->cfg.token) {
		buf_init(&hdr, BUF_MAX_SMALL);
		buf_printf(&hdr, "Authorization: Bearer %s", kc->cfg.token);
		http_call_header(c, buf_str(&hdr));
		/* the header list holds a copy; wipe ours */
		if (hdr.ptr)
			memset(hdr.ptr, 0, hdr.len);
		buf_release(&hdr);
	}
	http_call_header(c, "Accept: application/json");
	curl_easy_setopt(e, CURLOPT_USERAGENT, kc->user_agent);
	/* the request log: which resources this build asks for (it_rbac.sh) */
	log_kv(LOG_DEBUG, "api request", "method", method, "path", path, NULL);
	return c;
}

struct http_call *kubeclient_call(struct kubeclient *kc, const char *method, const char *path)
{
	kc->requests++;
	if (strcmp(method, "GET") != 0)
		kc->writes++;
	return kubeclient_call_uncounted(kc, method, path);
}

void kubeclient_set_body(struct http_call *c, const char *content_type, const char *body,
			 size_t len)
{
	struct buf hdr;

	buf_init(&hdr, 1024);
	buf_printf(&hdr, "Content-Type: %s", content_type);
	http_call_header(c, buf_str(&hdr));
	buf_release(&hdr);
	http_call_body(c, body, len);
}

static const char *status_text(long s)
{
	switch (s) {
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 409:
		return "Conflict";
	case 410:
		return "Gone";
	case 415:
		return "Unsupported Media Type";
	case 422:
		return "Unprocessable Entity";
	case 429:
		return "Too Many Requests";
	case 500:
		return "Internal Server Error";
	case 503:
		return "Service Unavailable";
	case 504:
		return "Gateway Timeout";
	default:
		return "HTTP error";
	}
}

/* The path of the URL, without the scheme and host. */
static const char *url_path(const char *url)
{
	const char *p = strstr(url, "://");
	p = p ? strchr(p + 3, '/') : NULL;
	return p ? p : url;
}

/* Copies into out the text of msg after key up to the first character of
 * stop (or the end); "" when key is not in msg. */
static void after(const char *msg, const char *key, const char *stop, char *out, size_t n)
{
	const char *p = msg ? strstr(msg, key) : NULL;

	out[0] = '\0';
	if (p) {
		p += strlen(key);
		snprintf(out, n, "%.*s", (int)strcspn(p, stop), p);
	}
}

/* One clear line per request the authorizer denied, naming what to grant.
 * The API server words every authorization denial, whichever authorizer
 * made it, as "User "X" cannot VERB resource "R" in API group "G" in the
 * namespace "N"": that says the verb it checked, which is not always the
 * method's (a server-side apply that creates is authorised as create).
 * Other 403s are admission's (a namespace being terminated, Pod Security):
 * no grant helps there, and the caller's own line tells them. */
void kubeclient_log_forbidden(const struct http_call *c, const cJSON *st)
{
	const cJSON *d = cJSON_GetObjectItemCaseSensitive(st, "details");
	const char *msg = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(st, "message"));
	const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(d, "name"));
	char verb[32], resource[128], group[128], ns[128], user[256];

	after(msg, " cannot ", " ", verb, sizeof(verb));
	after(msg, " resource \"", "\"", resource, sizeof(resource));
	if (!verb[0] || !resource[0])
		return;
	after(msg, " in API group \"", "\"", group, sizeof(group));
	after(msg, " in the namespace \"", "\"", ns, sizeof(ns));
	after(msg, "User \"", "\"", user, sizeof(user));
	log_kv(LOG_ERROR, "forbidden", "verb", verb, "resource", resource, "group", group,
	       "namespace", ns, "name", name, "user", user, "request", url_path(http_call_url(c)),
	       "hint", "grant it in deploy/rbac (docs/deploy.md)", NULL);
}

im_result kubeclient_result(const struct http_call *c, im_result transport, struct buf *err)
{
	long s = http_call_status(c);
	const struct buf *body;
	cJSON *st;
	im_result result;

	if (transport) {
		buf_printf(err, "%s %s: %s: %s", http_call_method(c), url_path(http_call_url(c)),
			   im_strerror(transport), http_call_error(c));
		return transport;
	}
	if (s >= 200 && s < 300)
		return IM_OK;
	switch (s) {
	case 410:
		result = IM_GONE;
		break;
	case 404:
		result = IM_NOTFOUND;
		break;
	case 409:
		result = IM_CONFLICT;
		break;
	case 401:
	case 403:
		result = IM_FORBIDDEN;
		break;
	default:
		result = IM_HTTP;
		break;
	}
	buf_printf(err, "%s %s: %ld %s", http_call_method(c), url_path(http_call_url(c)), s,
		   status_text(s));
	body = http_call_body_buf(c);
	st = body->len ? cJSON_ParseWithLength(body->ptr, body->len) : NULL;
	if (s == 403)
		kubeclient_log_forbidden(c, st);
	if (st) {
		const cJSON *m = cJSON_GetObjectItemCaseSensitive(st, "message");
		if (cJSON_IsString(m))
			buf_printf(err, ": %.512s", m->valuestring);
		cJSON_Delete(st);
	}
	return result;
}

void kubeclient_escape(struct buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.' || *p == '~') {
			buf_addc(b, (char)*p);
		} else {
			buf_addc(b, '%');
			buf_addc(b, hex[*p >> 4]);
			buf_addc(b, hex[*p & 15]);
		}
	}
}
