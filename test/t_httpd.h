/*
 * t_httpd.h - a small HTTP/1.1 server on the test's own libuv loop, so unit
 * tests of http.c and scraper.c run real transfers (libcurl, sockets,
 * timeouts) on one thread with no other process.
 *
 * Every response says "Connection: close". Routes (the query string selects
 * timing):
 *   /fast                     200 with a short body at once
 *   /slow?ms=N&chunks=K       200, chunked: K chunks, one every N ms
 *   /hang                     reads the request, never answers
 *   /reset                    closes the connection without an answer
 *   /metrics, /v1/models      200 with the bodies set in struct t_httpd
 *   POST to any path          on_post sees the body; answered with post_status
 *                             (default 201) and "{}"
 *   anything else             404
 * Loop thread only; t_httpd_stop closes every connection and the listener
 * (the loop must then run until they are closed).
 */
#ifndef INFERMON_T_HTTPD_H
#define INFERMON_T_HTTPD_H

#include <uv.h>

struct t_httpd_conn;

struct t_httpd {
	uv_tcp_t listener;
	int port;
	const char *metrics_body; /* served at /metrics; NULL: 404 */
	const char *models_body;  /* served at /v1/models; NULL: 404 */
	int post_status;
	void (*on_post)(struct t_httpd *d, const char *path, size_t path_len, const char *body,
			size_t body_len);
	void *ctx; /* for on_post */
	struct t_httpd_conn *conns;
	unsigned long requests;
};

/* Listens on 127.0.0.1 on a free port (d->port). Returns 0 or a libuv error. */
int t_httpd_start(struct t_httpd *d, uv_loop_t *loop);
void t_httpd_stop(struct t_httpd *d);

#endif
