/*
 * metricsreview.h - the API server's word on a /metrics client, on the loop
 * thread: a TokenReview of its bearer token (who is it?), then a
 * SubjectAccessReview of that user for `get` on the non-resource URL
 * /metrics (may it read the page?), as controller-runtime's metrics filter
 * and kube-rbac-proxy ask. The tokens come from a metricsauth queue; each
 * verdict is settled there (metricsauth.h).
 *
 * The reviews run as the controller's own identity, which therefore needs
 * `create` on tokenreviews (authentication.k8s.io) and subjectaccessreviews
 * (authorization.k8s.io): deploy/rbac/cluster_role.yaml. Their calls are
 * not counted as the controller's writes (they change nothing stored).
 *
 * Loop thread only.
 */
#ifndef INFERMON_METRICSREVIEW_H
#define INFERMON_METRICSREVIEW_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <uv.h>

#include "buf.h"
#include "kubeclient.h"
#include "metricsauth.h"

/* Reviews in flight at most; more tokens wait in the metricsauth queue. */
#define METRICSREVIEW_MAX_IN_FLIGHT 4
/* Each review call: connect and total timeouts, in ms. */
#define METRICSREVIEW_CONNECT_MS 3000
#define METRICSREVIEW_TOTAL_MS 5000
/* The non-resource URL and verb a reader needs (ClusterRole
 * infermon-metrics-reader grants them). */
#define METRICSREVIEW_PATH "/metrics"
#define METRICSREVIEW_VERB "get"

struct metricsreview {
	struct kubeclient *kc;
	struct metricsauth *auth;
	uv_async_t want; /* metricsauth's want callback signals it */
	int in_flight;
	bool started, stopped;
};

/* Wires r to auth (setting its want callback) and starts taking tokens. */
void metricsreview_start(struct metricsreview *r, uv_loop_t *loop, struct kubeclient *kc,
			 struct metricsauth *auth);
/* Takes no more tokens (clears auth's want callback) and closes the
 * handle; reviews in flight end when the http is released (their verdict:
 * unavailable). */
void metricsreview_stop(struct metricsreview *r);

/* The body of a TokenReview for token (JSON), into out. */
void metricsreview_token_body(struct buf *out, const char *token);

/* Reads a TokenReview answer (JSON text p[0..n)). ALLOWED: authenticated,
 * *user gets status.user (caller frees; cJSON_Delete) and name its
 * username; UNAUTHENTICATED: not; UNAVAILABLE: not a TokenReview answer.
 * why gets one line either way but ALLOWED. */
enum metricsauth_verdict metricsreview_parse_token(const char *p, size_t n, cJSON **user,
						   struct buf *why);

/* The body of a SubjectAccessReview of user (a TokenReview's status.user)
 * for METRICSREVIEW_VERB on METRICSREVIEW_PATH, into out. */
void metricsreview_access_body(struct buf *out, const cJSON *user);

/* Reads a SubjectAccessReview answer: ALLOWED, FORBIDDEN (why names the
 * user, and the authorizer's reason when it gave one) or UNAVAILABLE (not
 * such an answer). */
enum metricsauth_verdict metricsreview_parse_access(const char *p, size_t n, const char *username,
						    struct buf *why);

#endif
