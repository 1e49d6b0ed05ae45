/*
 * http.h - HTTP transfers on the event loop (libcurl multi-socket on libuv).
 *
 * One struct http per loop holds the curl multi handle; every transfer
 * (API-server requests, watch streams, scrapes) is a struct http_call added
 * to it, so connections (and HTTP/2 streams) are reused across calls and no
 * thread is started per request. Everything here runs on the loop thread.
 *
 * A call either collects its body into a capped buffer, or streams it to a
 * chunk callback. When the transfer ends, the done callback runs once with
 * the outcome; it may free the call. A call that fails to start returns the
 * error and never runs its callback. http_release finishes every call still
 * in flight with IM_CANCELED, so fire-and-forget owners (events, reconciles)
 * free their state at shutdown.
 *
 * Ownership. The owner (whoever called http_call_new) frees its call, with
 * http_call_free, exactly once: in its done callback or at any other time.
 * After http_call_cancel or http_call_free returns, no callback of that call
 * runs again (neither chunk nor done), so an owner may free the state the
 * callbacks point to right after. Both may be called from anywhere on the
 * loop thread, including from inside any call's chunk or done callback:
 * libcurl forbids adding or removing transfers while it runs a callback
 * (it refuses with CURLM_RECURSIVE_API_CALL, and an easy handle freed there
 * stays in the multi and is used after its free), so while a chunk callback
 * runs, cancels, frees and starts are recorded and carried out right after
 * libcurl returns, before any done callback. The call's memory is then
 * released by this module; the owner's pointer is dead either way.
 */
#ifndef INFERMON_HTTP_H
#define INFERMON_HTTP_H

#include <curl/curl.h>
#include <stdbool.h>

#include "buf.h"
#include "loop.h"

struct http_sock;

#define HTTP_EASY_POOL 64

struct http {
	struct loop *loop;
	CURLM *multi;
	CURLSH *share; /* DNS and TLS session cache */
	uv_timer_t timer;
	int active;  /* calls in flight */
	int in_curl; /* > 0 while libcurl runs our callbacks */
	bool closing;
	struct http_call *deferred; /* calls settle() has work for (list) */
	struct http_call *running;  /* calls in flight (list) */
	struct http_sock *socks;    /* sockets being polled (list) */
	/* easy handles of freed calls, reset for the next (curl_easy_init and
	 * its buffers once per handle, not once per request) */
	CURL *pool[HTTP_EASY_POOL];
	int npool;
};

struct http_call;

/* result: IM_OK when a full HTTP response arrived (any status; see
 * http_call_status), else the transport error (IM_CONNECT, IM_TLS,
 * IM_TIMEOUT, IM_TOOBIG for a body over its cap, or the chunk callback's
 * error). */
typedef void (*http_done_cb)(struct http_call *c, im_result result, void *data);
/* Body bytes as they arrive; a non-OK return aborts the transfer and
 * becomes the done callback's result. */
typedef im_result (*http_chunk_cb)(struct http_call *c, const char *p, size_t n, void *data);

im_result http_init(struct http *h, struct loop *loop);
/* Finishes what is in flight with IM_CANCELED (their callbacks run; they
 * may free the calls), closes the sockets and the timer; the loop must then
 * run until the handles are closed (loop_release does it). */
void http_release(struct http *h);

/* A new idle call. The URL and method are copied. */
struct http_call *http_call_new(struct http *h, const char *method, const char *url);
/* The easy handle, for settings this API does not cover (TLS material). */
CURL *http_call_easy(struct http_call *c);
/* Adds a request header line ("Name: value"), copied. */
void http_call_header(struct http_call *c, const char *line);
/* Request body, copied. */
void http_call_body(struct http_call *c, const char *p, size_t n);
/* Connect timeout, total timeout (0 = none) and the low-speed guard: abort
 * when fewer than 1 byte/s arrive for low_speed_secs (0 = none). */
void http_call_timeouts(struct http_call *c, long connect_ms, long total_ms, long low_speed_secs);
/* Cap on the collected body (default BUF_MAX_LARGE); IM_TOOBIG past it. */
void http_call_max_body(struct http_call *c, size_t max);
/* Streams the body to cb instead of collecting it. */
void http_call_stream(struct http_call *c, http_chunk_cb cb);

im_result http_call_start(struct http_call *c, http_done_cb cb, void *data);
void http_call_cancel(struct http_call *c);
void http_call_free(struct http_call *c);

long http_call_status(const struct http_call *c);
/* The collected body (empty when streaming). */
const struct buf *http_call_body_buf(const struct http_call *c);
/* The transport error text from libcurl, "" when none. */
const char *http_call_error(const struct http_call *c);
/* Seconds the transfer took, and bytes received. */
double http_call_seconds(const struct http_call *c);
size_t http_call_bytes(const struct http_call *c);
const char *http_call_url(const struct http_call *c);
const char *http_call_method(const struct http_call *c);
bool http_call_running(const struct http_call *c);

#endif
