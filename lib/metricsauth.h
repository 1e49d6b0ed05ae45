/*
 * metricsauth.h - who may read /metrics: the verdicts for bearer tokens,
 * cached, and the queue of tokens waiting for a review.
 *
 * The controller's /metrics names every engine pod, workload, model and
 * limit in the cluster, so it is served only to clients the API server
 * vouches for (docs/httpserver.md): a TokenReview says who the token's
 * holder is, a SubjectAccessReview whether that user may `get` the
 * non-resource URL /metrics (ClusterRole infermon-metrics-reader). The
 * server thread cannot make those calls (they would stall every other
 * scrape), so it asks here: a known token gets its cached verdict; an
 * unknown one is queued, the owner is signalled (want callback), the loop
 * thread takes the job, runs the reviews (metricsreview.h) and settles the
 * verdict, and the server is woken (wake callback) to answer the requests
 * that waited.
 *
 * Tokens are kept only while queued or under review; the cache holds the
 * SHA-256 of each token, never the token. Verdicts are kept (see
 * METRICSAUTH_*_TTL_MS): a scrape every 15 s then costs two review calls a
 * minute at most, not two per scrape.
 *
 * Every function may be called from any thread; the callbacks are called
 * with the module's lock held and must only signal (uv_async_send,
 * lws_cancel_service).
 */
#ifndef INFERMON_METRICSAUTH_H
#define INFERMON_METRICSAUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* How long verdicts are kept. A token the API server accepted and whose
 * user may read /metrics: a minute (controller-runtime's metrics filter
 * caches authentication for a minute too), so a revoked token or a removed
 * binding is honoured at most that long. Forbidden: 30 s (as
 * controller-runtime's deny cache), so a new binding takes effect within
 * that. Unauthenticated: a minute (a token does not become valid later;
 * a flood of one bad token costs one review a minute). A failed review
 * (API server unreachable): 2 s, enough to answer the requests that
 * waited for it, short enough that the next scrape tries again. */
#define METRICSAUTH_ALLOWED_TTL_MS 60000
#define METRICSAUTH_FORBIDDEN_TTL_MS 30000
#define METRICSAUTH_UNAUTHENTICATED_TTL_MS 60000
#define METRICSAUTH_UNAVAILABLE_TTL_MS 2000
/* Verdicts kept at most (the oldest to expire goes first), and tokens
 * queued or under review at most; past that a new token is answered 503. */
#define METRICSAUTH_MAX_ENTRIES 512
#define METRICSAUTH_MAX_QUEUED 64
/* Longest bearer token taken (the request headers are capped lower). */
#define METRICSAUTH_MAX_TOKEN 8192

#define METRICSAUTH_KEY_LEN 32

enum metricsauth_verdict {
	METRICSAUTH_ALLOWED,
	METRICSAUTH_UNAUTHENTICATED, /* 401: no token, or one not accepted */
	METRICSAUTH_FORBIDDEN,       /* 403: a user without the role */
	METRICSAUTH_UNAVAILABLE,     /* 503: the review failed or is full */
	METRICSAUTH_PENDING,         /* under review: ask again when woken */
	METRICSAUTH_VERDICTS
};

/* "allowed", "unauthenticated", ...: the result label of the counters. */
const char *metricsauth_verdict_name(enum metricsauth_verdict v);

/* A token to review, taken by the loop thread. */
struct metricsauth_job {
	uint8_t key[METRICSAUTH_KEY_LEN];
	char *token; /* owned; metricsauth_job_release wipes and frees it */
};

void metricsauth_job_release(struct metricsauth_job *job);

typedef void (*metricsauth_signal_cb)(void *data);
/* Milliseconds on a monotonic clock; tests pass their own. */
typedef uint64_t (*metricsauth_clock_cb)(void);

struct metricsauth_stats {
	uint64_t requests[METRICSAUTH_VERDICTS]; /* answers given, by verdict */
	uint64_t cache_hits;                     /* of those, from a kept verdict */
	uint64_t reviews[METRICSAUTH_VERDICTS];  /* settled, by verdict */
	uint64_t token_reviews, access_reviews;  /* API calls made (metricsreview) */
	size_t entries, queued;
};

/* clock NULL: CLOCK_MONOTONIC. */
struct metricsauth *metricsauth_new(metricsauth_clock_cb clock);
/* NULL is a no-op. Queued tokens are wiped. */
void metricsauth_free(struct metricsauth *a);

/* want: a token was queued (signal the loop thread). wake: a verdict was
 * settled (signal the server). Either may be NULL. */
void metricsauth_set_want(struct metricsauth *a, metricsauth_signal_cb fn, void *data);
void metricsauth_set_wake(struct metricsauth *a, metricsauth_signal_cb fn, void *data);

/* The verdict for token[0..len) (a bearer token as sent; not copied unless
 * queued). key gets its cache key, for metricsauth_lookup when woken. When
 * the verdict is not ALLOWED, reason (if not NULL) gets one line for the
 * response body. A token that is empty, longer than METRICSAUTH_MAX_TOKEN
 * or holds bytes outside printable ASCII is UNAUTHENTICATED without a
 * review. */
enum metricsauth_verdict metricsauth_check(struct metricsauth *a, const char *token, size_t len,
					   uint8_t key[METRICSAUTH_KEY_LEN], struct buf *reason);

/* The verdict kept for key: PENDING while under review; a verdict that
 * expired or was evicted meanwhile is UNAVAILABLE ("ask again"). Counts as
 * an answer given (stats.requests) unless PENDING. */
enum metricsauth_verdict metricsauth_lookup(struct metricsauth *a,
					    const uint8_t key[METRICSAUTH_KEY_LEN],
					    struct buf *reason);

/* Loop thread: moves the oldest queued token into job; false when none. */
bool metricsauth_take(struct metricsauth *a, struct metricsauth_job *job);

/* Loop thread: the review of key ended with v (not PENDING); reason (may be
 * NULL) is the line answered with a 401, 403 or 503. Wakes the server. */
void metricsauth_settle(struct metricsauth *a, const uint8_t key[METRICSAUTH_KEY_LEN],
			enum metricsauth_verdict v, const char *reason);

/* Counts one API call of a review (metricsreview). */
void metricsauth_count_call(struct metricsauth *a, bool access_review);

void metricsauth_stats(struct metricsauth *a, struct metricsauth_stats *out);

/* The token of an Authorization header value: "Bearer <token>", the scheme
 * case-insensitive (RFC 9110 11.1), one or more spaces, the token in
 * RFC 6750's b64token characters, nothing after it but spaces. false for
 * anything else. */
bool metricsauth_bearer(const char *value, size_t n, const char **token, size_t *len);

#endif
