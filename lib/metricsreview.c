#include "metricsreview.h"

#include <string.h>

#include <openssl/crypto.h>

#include "alloc.h"
#include "kube.h"
#include "log.h"
#include "loop.h"

/* Longest reason text of the API server's kept in a response line. */
#define REASON_MAX 200

/* One token under review. */
struct review {
	struct metricsreview *r;
	struct metricsauth_job job;
	cJSON *user;    /* the TokenReview's status.user, once authenticated */
	char *username; /* borrowed from user */
};

static void pump(struct metricsreview *r);

/* ---- bodies and answers (pure) ---- */

void metricsreview_token_body(struct buf *out, const char *token)
{
	cJSON *o = cJSON_CreateObject(), *spec;
	char *text;

	cJSON_AddStringToObject(o, "apiVersion", KUBE_GV_AUTHENTICATION);
	cJSON_AddStringToObject(o, "kind", "TokenReview");
	spec = cJSON_AddObjectToObject(o, "spec");
	cJSON_AddStringToObject(spec, "token", token);
	text = cJSON_PrintUnformatted(o);
	buf_adds(out, text);
	OPENSSL_cleanse(text, strlen(text));
	cJSON_free(text);
	/* the tree holds a copy of the token too */
	{
		cJSON *t = cJSON_GetObjectItemCaseSensitive(spec, "token");
		OPENSSL_cleanse(t->valuestring, strlen(t->valuestring));
	}
	cJSON_Delete(o);
}

static const cJSON *status_of(const char *p, size_t n, cJSON **doc, const char *kind)
{
	const cJSON *k;

	*doc = cJSON_ParseWithLength(p, n);
	if (!*doc)
		return NULL;
	k = cJSON_GetObjectItemCaseSensitive(*doc, "kind");
	if (!cJSON_IsString(k) || strcmp(k->valuestring, kind) != 0)
		return NULL;
	return cJSON_GetObjectItemCaseSensitive(*doc, "status");
}

enum metricsauth_verdict metricsreview_parse_token(const char *p, size_t n, cJSON **user,
						   struct buf *why)
{
	cJSON *doc = NULL;
	const cJSON *st = status_of(p, n, &doc, "TokenReview"), *ok, *u, *name, *error;
	enum metricsauth_verdict v = METRICSAUTH_UNAVAILABLE;

	*user = NULL;
	buf_reset(why);
	if (!cJSON_IsObject(st)) {
		buf_adds(why, "the API server's TokenReview answer has no status");
		goto out;
	}
	ok = cJSON_GetObjectItemCaseSensitive(st, "authenticated");
	u = cJSON_GetObjectItemCaseSensitive(st, "user");
	name = cJSON_GetObjectItemCaseSensitive(u, "username");
	if (!cJSON_IsTrue(ok)) {
		/* status.error says why for the API server's log, not for
		 * the client: a wrong token learns nothing about the right
		 * ones */
		error = cJSON_GetObjectItemCaseSensitive(st, "error");
		buf_adds(why, "the bearer token was not accepted (TokenReview)");
		if (cJSON_IsString(error))
			log_kv(LOG_DEBUG, "/metrics token not authenticated", "error",
			       error->valuestring, NULL);
		v = METRICSAUTH_UNAUTHENTICATED;
		goto out;
	}
	if (!cJSON_IsObject(u) || !cJSON_IsString(name) || !name->valuestring[0]) {
		buf_adds(why, "the API server's TokenReview answer names no user");
		goto out;
	}
	*user = cJSON_DetachItemViaPointer((cJSON *)st, (cJSON *)u);
	v = METRICSAUTH_ALLOWED;
out:
	cJSON_Delete(doc);
	return v;
}

void metricsreview_access_body(struct buf *out, const cJSON *user)
{
	cJSON *o = cJSON_CreateObject(), *spec, *nr;
	const cJSON *name = cJSON_GetObjectItemCaseSensitive(user, "username");
	const cJSON *uid = cJSON_GetObjectItemCaseSensitive(user, "uid");
	const cJSON *groups = cJSON_GetObjectItemCaseSensitive(user, "groups");
	const cJSON *extra = cJSON_GetObjectItemCaseSensitive(user, "extra");
	char *text;

	cJSON_AddStringToObject(o, "apiVersion", KUBE_GV_AUTHORIZATION);
	cJSON_AddStringToObject(o, "kind", "SubjectAccessReview");
	spec = cJSON_AddObjectToObject(o, "spec");
	if (cJSON_IsString(name))
		cJSON_AddStringToObject(spec, "user", name->valuestring);
	if (cJSON_IsString(uid))
		cJSON_AddStringToObject(spec, "uid", uid->valuestring);
	if (cJSON_IsArray(groups))
		cJSON_AddItemToObject(spec, "groups", cJSON_Duplicate(groups, true));
	if (cJSON_IsObject(extra))
		cJSON_AddItemToObject(spec, "extra", cJSON_Duplicate(extra, true));
	nr = cJSON_AddObjectToObject(spec, "nonResourceAttributes");
	cJSON_AddStringToObject(nr, "path", METRICSREVIEW_PATH);
	cJSON_AddStringToObject(nr, "verb", METRICSREVIEW_VERB);
	text = cJSON_PrintUnformatted(o);
	buf_adds(out, text);
	cJSON_free(text);
	cJSON_Delete(o);
}

enum metricsauth_verdict metricsreview_parse_access(const char *p, size_t n, const char *username,
						    struct buf *why)
{
	cJSON *doc = NULL;
	const cJSON *st = status_of(p, n, &doc, "SubjectAccessReview"), *allowed, *reason;
	enum metricsauth_verdict v = METRICSAUTH_UNAVAILABLE;

	buf_reset(why);
	if (!cJSON_IsObject(st)) {
		buf_adds(why, "the API server's SubjectAccessReview answer has no status");
		goto out;
	}
	allowed = cJSON_GetObjectItemCaseSensitive(st, "allowed");
	if (cJSON_IsTrue(allowed)) {
		v = METRICSAUTH_ALLOWED;
		goto out;
	}
	v = METRICSAUTH_FORBIDDEN;
	buf_adds(why, "user ");
	buf_add_quoted(why, username, strlen(username), REASON_MAX, BUF_QUOTE_ASCII);
	buf_adds(why, " may not " METRICSREVIEW_VERB " " METRICSREVIEW_PATH
		      " (bind ClusterRole infermon-metrics-reader)");
	reason = cJSON_GetObjectItemCaseSensitive(st, "reason");
	if (cJSON_IsString(reason) && reason->valuestring[0]) {
		buf_adds(why, ": ");
		buf_add_quoted(why, reason->valuestring, strlen(reason->valuestring), REASON_MAX,
			       BUF_QUOTE_ASCII);
	}
out:
	cJSON_Delete(doc);
	return v;
}

/* ---- the calls ---- */

static void review_free(struct review *rv)
{
	metricsauth_job_release(&rv->job);
	cJSON_Delete(rv->user);
	im_free(rv);
}

static void finish(struct review *rv, enum metricsauth_verdict v, const char *why)
{
	struct metricsreview *r = rv->r;

	metricsauth_settle(r->auth, rv->job.key, v, why);
	if (v == METRICSAUTH_UNAVAILABLE)
		log_kv(LOG_WARN, "cannot review a /metrics client", "error", why, NULL);
	else
		log_kv(LOG_DEBUG, "reviewed a /metrics client", "user",
		       rv->username ? rv->username : "", "verdict", metricsauth_verdict_name(v),
		       NULL);
	review_free(rv);
	r->in_flight--;
	pump(r);
}

/* Starts one review call (sar: a SubjectAccessReview, else a TokenReview). */
static bool post(struct review *rv, bool sar, const struct buf *body, http_done_cb cb)
{
	const char *path = sar ? KUBE_PATH(KUBE_GV_AUTHORIZATION) "/subjectaccessreviews"
			       : KUBE_PATH(KUBE_GV_AUTHENTICATION) "/tokenreviews";
	struct http_call *call = kubeclient_call_uncounted(rv->r->kc, "POST", path);

	kubeclient_set_body(call, "application/json", body->ptr, body->len);
	http_call_timeouts(call, METRICSREVIEW_CONNECT_MS, METRICSREVIEW_TOTAL_MS, 0);
	http_call_max_body(call, BUF_MAX_SMALL);
	if (http_call_start(call, cb, rv)) {
		http_call_free(call);
		return false;
	}
	metricsauth_count_call(rv->r->auth, sar);
	return true;
}

/* The answer of a review call: its body, or why there is none. */
static const struct buf *answer_of(struct http_call *call, im_result transport, struct buf *err)
{
	if (kubeclient_result(call, transport, err))
		return NULL;
	return http_call_body_buf(call);
}

static void access_done(struct http_call *call, im_result transport, void *data)
{
	struct review *rv = data;
	struct buf why;
	const struct buf *body;
	enum metricsauth_verdict v = METRICSAUTH_UNAVAILABLE;

	buf_init(&why, BUF_MAX_SMALL);
	body = answer_of(call, transport, &why);
	if (body)
		v = metricsreview_parse_access(body->ptr ? body->ptr : "", body->len, rv->username,
					       &why);
	http_call_free(call);
	finish(rv, v, buf_str(&why));
	buf_release(&why);
}

static void token_done(struct http_call *call, im_result transport, void *data)
{
	struct review *rv = data;
	struct buf why, body;
	const struct buf *answer;
	enum metricsauth_verdict v = METRICSAUTH_UNAVAILABLE;

	buf_init(&why, BUF_MAX_SMALL);
	buf_init(&body, BUF_MAX_SMALL);
	answer = answer_of(call, transport, &why);
	if (answer)
		v = metricsreview_parse_token(answer->ptr ? answer->ptr : "", answer->len,
					      &rv->user, &why);
	http_call_free(call);
	if (v == METRICSAUTH_ALLOWED) {
		rv->username = cJSON_GetObjectItemCaseSensitive(rv->user, "username")->valuestring;
		metricsreview_access_body(&body, rv->user);
		if (!rv->r->stopped && post(rv, true, &body, access_done))
			goto out;
		v = METRICSAUTH_UNAVAILABLE;
		buf_reset(&why);
		buf_adds(&why, "cannot start a SubjectAccessReview");
	}
	finish(rv, v, buf_str(&why));
out:
	buf_release(&body);
	buf_release(&why);
}

static void start_review(struct metricsreview *r, struct metricsauth_job *job)
{
	struct review *rv = im_xcalloc(1, sizeof(*rv));
	struct buf body;
	bool started;

	rv->r = r;
	rv->job = *job;
	r->in_flight++;
	buf_init(&body, BUF_MAX_SMALL);
	metricsreview_token_body(&body, rv->job.token);
	/* the token is in the request body now; no copy of ours is needed */
	metricsauth_job_release(&rv->job);
	started = post(rv, false, &body, token_done);
	if (body.ptr)
		OPENSSL_cleanse(body.ptr, body.len);
	buf_release(&body);
	if (!started)
		finish(rv, METRICSAUTH_UNAVAILABLE, "cannot start a TokenReview");
}

static void pump(struct metricsreview *r)
{
	struct metricsauth_job job;

	while (!r->stopped && r->in_flight < METRICSREVIEW_MAX_IN_FLIGHT &&
	       metricsauth_take(r->auth, &job))
		start_review(r, &job);
}

static void want_cb(uv_async_t *h)
{
	pump(h->data);
}

static void signal_want(void *data)
{
	uv_async_send(data);
}

void metricsreview_start(struct metricsreview *r, uv_loop_t *loop, struct kubeclient *kc,
			 struct metricsauth *auth)
{
	memset(r, 0, sizeof(*r));
	r->kc = kc;
	r->auth = auth;
	uv_async_init(loop, &r->want, want_cb);
	r->want.data = r;
	r->started = true;
	metricsauth_set_want(auth, signal_want, &r->want);
	pump(r); /* tokens queued before the start */
}

void metricsreview_stop(struct metricsreview *r)
{
	struct metricsauth_job job;

	if (!r->started || r->stopped)
		return;
	r->stopped = true;
	metricsauth_set_want(r->auth, NULL, NULL);
	/* tokens still queued: their requests get a 503 */
	while (metricsauth_take(r->auth, &job)) {
		metricsauth_settle(r->auth, job.key, METRICSAUTH_UNAVAILABLE, "stopping");
		metricsauth_job_release(&job);
	}
	loop_close_handle((uv_handle_t *)&r->want, NULL);
}
