/*
 * kubeclient.h - Kubernetes API requests on the event loop.
 *
 * A kubeclient turns a struct kubeconfig into configured http_calls: the API
 * server URL, TLS always verified (the kubeconfig's CA or the system store),
 * client certificate or bearer token (re-read from its file once a minute,
 * since bound service-account tokens rotate), JSON accept headers. All calls
 * share the http's multi handle, so connections are reused and watches
 * multiplex over HTTP/2.
 *
 * Loop thread only.
 */
#ifndef INFERMON_KUBECLIENT_H
#define INFERMON_KUBECLIENT_H

#include <cjson/cJSON.h>
#include <stdint.h>

#include "buf.h"
#include "http.h"
#include "kubeconfig.h"

struct kubeclient {
	struct kubeconfig cfg;
	struct http *http;
	char *user_agent;
	uint64_t requests; /* calls made by kubeclient_call */
	uint64_t writes;   /* calls with a method other than GET */
};

/* Takes over cfg's contents (cfg is left initialised and empty). */
void kubeclient_init(struct kubeclient *kc, struct http *http, struct kubeconfig *cfg);
void kubeclient_release(struct kubeclient *kc);

/* A configured, not yet started call for method and path (which starts with
 * '/' and may carry a query string already escaped). */
struct http_call *kubeclient_call(struct kubeclient *kc, const char *method, const char *path);
/* As kubeclient_call, but not counted in requests and writes: for the
 * leader-election Lease, whose renewals are bookkeeping, not work on
 * objects (an idle leader still renews every retry period, and the
 * counters must show that an idle controller writes nothing). */
struct http_call *kubeclient_call_uncounted(struct kubeclient *kc, const char *method,
					    const char *path);
/* Sets the request body and its content type (e.g. application/json,
 * application/apply-patch+yaml). */
void kubeclient_set_body(struct http_call *c, const char *content_type, const char *body,
			 size_t len);

/* Classifies a finished call. transport is the done callback's result.
 * IM_OK for 2xx; IM_GONE 410, IM_NOTFOUND 404, IM_CONFLICT 409,
 * IM_FORBIDDEN 401/403, IM_HTTP any other status; transport errors pass
 * through. On failure err gets one line: `GET /api/v1/pods: 403 Forbidden:
 * <message of the returned Status>` or `GET …: cannot connect: <curl>`.
 * A 403 of the authorizer (not of admission) is also logged at error level
 * as msg=forbidden with the verb, resource, group, namespace and name it
 * denied, so a missing grant in deploy/rbac is named in one line wherever
 * the request came from. */
im_result kubeclient_result(const struct http_call *c, im_result transport, struct buf *err);

/* Logs the msg=forbidden line for c, whose answer was 403 with the Status
 * object st (may be NULL), when the authorizer denied it; kubeclient_result
 * calls it, and so does whoever reads a 403 body itself (a watch). */
void kubeclient_log_forbidden(const struct http_call *c, const cJSON *st);

/* Appends s to b percent-encoded for a query value. */
void kubeclient_escape(struct buf *b, const char *s);

#endif
