/*
 * httpserver.h - the controller's own HTTP endpoint: /metrics, /healthz,
 * /readyz.
 *
 * The server runs libwebsockets on a thread of its own (docs/loop.md says
 * why: Debian's libwebsockets has no external-poll support, so it cannot
 * share the libuv loop). That thread never touches loop state. The loop
 * thread (or any other) publishes into the server instead:
 *
 *   - httpserver_publish_metrics gzips a /metrics body into a new
 *     refcounted snapshot and swaps it in; a response already being sent
 *     keeps the snapshot it started with, so publishing mid-send is safe;
 *   - with httpserver_set_metrics_refresh, the body is built when it is
 *     read: a /metrics request that finds it older than a given age asks
 *     the owner for a new one (a signal only, such as uv_async_send) and
 *     waits a bounded time for it;
 *   - httpserver_heartbeat records "the loop is alive" for /healthz;
 *   - httpserver_set_ready sets what /readyz answers.
 *
 * docs/httpserver.md describes the thread model and the limits.
 *
 * Endpoints (GET and HEAD; any other method is 405, any other path 404):
 *   /metrics  200, Content-Type: text/plain; version=0.0.4; charset=utf-8,
 *             the last published body byte for byte (empty before the
 *             first publish); with a refresh function, the one published
 *             in answer to this request unless that took too long. Sent
 *             gzipped (Content-Encoding: gzip) when the request's
 *             Accept-Encoding takes gzip (as Prometheus' does), inflated
 *             as it is sent otherwise; Vary: Accept-Encoding.
 *   /healthz  200 "ok\n" while the last heartbeat is younger than the
 *             staleness limit, else 503 with a one-line reason
 *             ("event loop stalled for 45 s (limit 30 s)\n"). For the
 *             liveness probe. httpserver_start counts as a heartbeat.
 *   /readyz   200 "ok\n" once ready, else 503 with the reason given
 *             ("starting\n" until the first httpserver_set_ready).
 *
 * Threads: every function here may be called from any thread, except that
 * httpserver_stop must not race with other calls on the same server (the
 * owner stops it once, after the loop thread stopped publishing).
 */
#ifndef INFERMON_HTTPSERVER_H
#define INFERMON_HTTPSERVER_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "error.h"

/* Limits. A connection past HTTPSERVER_MAX_CONNS is not accepted until one
 * closes (it waits in the kernel's listen backlog). */
#define HTTPSERVER_MAX_CONNS 64
/* Request line and headers lws keeps, in bytes; a larger request is
 * refused. */
#define HTTPSERVER_MAX_HEADER 4096
/* Seconds a connection has to send its request headers, and to stay idle
 * between keep-alive requests. */
#define HTTPSERVER_HEADER_TIMEOUT_S 10
/* Seconds a response may make no progress (the client reads nothing)
 * before the connection is dropped. */
#define HTTPSERVER_SEND_IDLE_TIMEOUT_S 30
/* Seconds one response may take in total, however steadily it drains. */
#define HTTPSERVER_SEND_TOTAL_TIMEOUT_S 300
/* Seconds a /metrics request waits for the review of its token
 * (metricsauth.h) before it is answered 503. Two review calls of
 * METRICSREVIEW_TOTAL_MS at most fit in it. */
#define HTTPSERVER_AUTH_WAIT_S 12
/* Default staleness limit of the heartbeat, in seconds. */
#define HTTPSERVER_DEFAULT_STALE_S 30

struct httpserver;
struct metricsauth;

/* A certificate (chain) and its private key, PEM, for HTTPS. */
struct httpserver_tls {
	const char *cert_pem;
	size_t cert_len;
	const char *key_pem;
	size_t key_len;
};

/* Listens on bind_addr:port and starts the server thread. bind_addr is a
 * numeric IPv4 or IPv6 address ("0.0.0.0", "127.0.0.1", "::"; NULL means
 * "0.0.0.0"); "::" also accepts IPv4 (IPV6_V6ONLY is turned off). port 0
 * picks a free port (see httpserver_port).
 *
 * On success *out owns the server (free with httpserver_stop). On failure
 * *out is NULL, nothing is left running, err (if not NULL) holds one line
 * such as `cannot listen on 127.0.0.1:8080: address already in use`, and
 * the result is IM_INVAL (bad address or port), IM_IO (socket, bind or
 * listen failed) or IM_INTERNAL (libwebsockets or the thread failed). */
im_result httpserver_start(struct httpserver **out, const char *bind_addr, int port,
			   struct buf *err);

/* As httpserver_start, and: with tls, serves HTTPS only (TLS 1.2 or newer,
 * HTTP/1.1; the PEM is copied); with auth, answers /metrics only to a
 * request whose `Authorization: Bearer <token>` metricsauth allows (401
 * with WWW-Authenticate: Bearer without a usable token or for one the API
 * server does not accept, 403 for a user without the role, 503 when the
 * review failed or took over HTTPSERVER_AUTH_WAIT_S; each with a one-line
 * reason). A request whose token is under review waits without holding
 * the server thread. /healthz and /readyz stay open (the kubelet's probes
 * carry no token). auth is borrowed and must outlive the server; the
 * server sets its wake callback. */
im_result httpserver_start_secure(struct httpserver **out, const char *bind_addr, int port,
				  const struct httpserver_tls *tls, struct metricsauth *auth,
				  struct buf *err);

/* The port the server listens on (the one picked when started with 0). */
int httpserver_port(const struct httpserver *s);

/* Makes text[0..len) (any bytes; no NUL needed) the new /metrics body,
 * kept gzipped (text is not kept: a fleet's page is megabytes, held between
 * reads, and compresses about tenfold). Responses already under way finish
 * with the body they started with. */
void httpserver_publish_metrics(struct httpserver *s, const char *text, size_t len);

/* Called on the server's thread, with the server's lock held, when a
 * /metrics request finds the body older than max_age_ms: it must only
 * signal the owner (uv_async_send), who then builds and publishes. */
typedef void (*httpserver_refresh_fn)(void *data);

/* Builds /metrics on demand: with fn set, a /metrics (or HEAD) request that
 * finds the last body published more than max_age_ms ago (or none
 * published yet) calls fn (once for
 * any number of requests waiting together) and waits up to wait_ms for the
 * next httpserver_publish_metrics, then answers with the current body, fresh
 * or not. A page nobody reads is then never built. fn NULL turns it off;
 * once this returns, fn is not called again (an owner clears it before
 * closing what fn signals). */
void httpserver_set_metrics_refresh(struct httpserver *s, httpserver_refresh_fn fn, void *data,
				    unsigned max_age_ms, unsigned wait_ms);

/* Records that the event loop is alive (monotonic clock). The loop calls it
 * every few seconds; /healthz fails once it is older than the limit. */
void httpserver_heartbeat(struct httpserver *s);

/* Sets the heartbeat staleness limit (default HTTPSERVER_DEFAULT_STALE_S).
 * 0 makes every /healthz fail (for tests). */
void httpserver_set_stale_after(struct httpserver *s, unsigned seconds);

/* Sets what /readyz answers. reason (copied; NULL or "" means "not ready")
 * is the 503 body when ready is false, and is ignored when ready is true.
 * It is kept to one line: control characters become spaces, and it is cut
 * at 256 bytes. */
void httpserver_set_ready(struct httpserver *s, bool ready, const char *reason);

/* Stops the server: wakes its thread, joins it (promptly: nothing blocks
 * it longer than one service wake-up), closes every connection and the
 * listening socket, and frees everything. NULL is a no-op. */
void httpserver_stop(struct httpserver *s);

#endif
