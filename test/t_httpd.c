#include "t_httpd.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/alloc.h"
#include "../lib/strparse.h"

#define REQ_MAX 16384

struct t_httpd_conn {
	uv_tcp_t tcp;
	uv_timer_t timer; /* paces /slow chunks */
	struct t_httpd *d;
	struct t_httpd_conn *next, *prev;
	char req[REQ_MAX];
	size_t req_len;
	bool answered, closing;
	unsigned chunk_ms, chunks_left;
	int handles_open;
};

struct write_req {
	uv_write_t w;
	char *data;
};

static void unlink_conn(struct t_httpd_conn *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else if (c->d->conns == c)
		c->d->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->next = c->prev = NULL;
}

static void handle_closed(uv_handle_t *h)
{
	struct t_httpd_conn *c = h->data;

	if (--c->handles_open == 0)
		im_free(c);
}

static void conn_close(struct t_httpd_conn *c)
{
	if (c->closing)
		return;
	c->closing = true;
	unlink_conn(c);
	uv_timer_stop(&c->timer);
	uv_close((uv_handle_t *)&c->timer, handle_closed);
	uv_close((uv_handle_t *)&c->tcp, handle_closed);
}

static void write_done(uv_write_t *w, int status)
{
	struct write_req *r = (struct write_req *)w;

	(void)status;
	im_free(r->data);
	im_free(r);
}

static void send_str(struct t_httpd_conn *c, const char *s, size_t n)
{
	struct write_req *r;
	uv_buf_t b;

	if (c->closing)
		return;
	r = im_xcalloc(1, sizeof(*r));
	r->data = im_xstrndup(s, n);
	b = uv_buf_init(r->data, (unsigned)n);
	if (uv_write(&r->w, (uv_stream_t *)&c->tcp, &b, 1, write_done) != 0) {
		im_free(r->data);
		im_free(r);
	}
}

static void shutdown_done(uv_shutdown_t *s, int status)
{
	struct t_httpd_conn *c = s->data;

	(void)status;
	im_free(s);
	conn_close(c);
}

/* Closes after what was written has gone out. */
static void finish_conn(struct t_httpd_conn *c)
{
	uv_shutdown_t *s;

	if (c->closing)
		return;
	s = im_xcalloc(1, sizeof(*s));
	s->data = c;
	if (uv_shutdown(s, (uv_stream_t *)&c->tcp, shutdown_done) != 0) {
		im_free(s);
		conn_close(c);
	}
}

static void respond(struct t_httpd_conn *c, int status, const char *ctype, const char *body)
{
	char head[256];
	size_t blen = strlen(body);
	int n = snprintf(head, sizeof(head),
			 "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
			 "Connection: close\r\n\r\n",
			 status, status < 300 ? "OK" : status == 404 ? "Not Found" : "Error", ctype, blen);

	send_str(c, head, (size_t)n);
	if (blen)
		send_str(c, body, blen);
	finish_conn(c);
}

static void slow_tick(uv_timer_t *t)
{
	struct t_httpd_conn *c = t->data;
	static const char chunk[] = "10\r\n0123456789abcdef\r\n";

	if (c->chunks_left == 0) {
		uv_timer_stop(t);
		send_str(c, "0\r\n\r\n", 5);
		finish_conn(c);
		return;
	}
	c->chunks_left--;
	send_str(c, chunk, sizeof(chunk) - 1);
}

/* The value of name=N in the query, or def. */
static unsigned query_num(const char *path, size_t len, const char *name, unsigned def)
{
	size_t nl = strlen(name);
	uint64_t v;

	for (size_t i = 0; i + nl + 1 < len; i++) {
		if ((path[i] == '?' || path[i] == '&') && memcmp(path + i + 1, name, nl) == 0 &&
		    path[i + 1 + nl] == '=') {
			const char *v0 = path + i + 2 + nl;
			size_t vn = 0;
			while (v0 + vn < path + len && v0[vn] != '&')
				vn++;
			if (strparse_u64(v0, vn, 1000000, &v) == IM_OK)
				return (unsigned)v;
		}
	}
	return def;
}

static bool route_is(const char *path, size_t len, const char *route)
{
	size_t rl = strlen(route);

	return len >= rl && memcmp(path, route, rl) == 0 && (len == rl || path[rl] == '?');
}

static void dispatch(struct t_httpd_conn *c)
{
	const char *sp = memchr(c->req, ' ', c->req_len), *end;
	size_t len;

	c->answered = true;
	c->d->requests++;
	if (!sp) {
		conn_close(c);
		return;
	}
	sp++;
	end = memchr(sp, ' ', c->req_len - (size_t)(sp - c->req));
	len = end ? (size_t)(end - sp) : 0;
	if (memcmp(c->req, "POST ", 5) == 0) {
		const char *body = strstr(c->req, "\r\n\r\n") + 4;
		if (c->d->on_post)
			c->d->on_post(c->d, sp, len, body, c->req_len - (size_t)(body - c->req));
		respond(c, c->d->post_status ? c->d->post_status : 201, "application/json", "{}");
	} else if (route_is(sp, len, "/fast")) {
		respond(c, 200, "text/plain", "fast\n");
	} else if (route_is(sp, len, "/slow")) {
		static const char head[] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
					   "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
		send_str(c, head, sizeof(head) - 1);
		c->chunk_ms = query_num(sp, len, "ms", 10);
		c->chunks_left = query_num(sp, len, "chunks", 5);
		uv_timer_start(&c->timer, slow_tick, c->chunk_ms, c->chunk_ms ? c->chunk_ms : 1);
	} else if (route_is(sp, len, "/hang")) {
		/* never answers; the client's timeout ends it */
	} else if (route_is(sp, len, "/reset")) {
		conn_close(c);
	} else if (route_is(sp, len, "/metrics") && c->d->metrics_body) {
		respond(c, 200, "text/plain; version=0.0.4", c->d->metrics_body);
	} else if (route_is(sp, len, "/v1/models") && c->d->models_body) {
		respond(c, 200, "application/json", c->d->models_body);
	} else {
		respond(c, 404, "text/plain", "not found\n");
	}
}

/* Headers read, and the body when Content-Length announces one. */
static bool request_complete(const struct t_httpd_conn *c)
{
	const char *end = strstr(c->req, "\r\n\r\n"), *cl;
	uint64_t want = 0;

	if (!end)
		return false;
	cl = strcasestr(c->req, "\r\ncontent-length:");
	if (cl && cl < end) {
		const char *v = cl + 17;
		size_t n = 0;
		while (*v == ' ')
			v++;
		while (v[n] >= '0' && v[n] <= '9')
			n++;
		if (strparse_u64(v, n, REQ_MAX, &want) != IM_OK)
			return true;
	}
	return c->req_len >= (size_t)(end + 4 - c->req) + want;
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
	struct t_httpd_conn *c = h->data;

	(void)suggested;
	b->base = c->req + c->req_len;
	b->len = REQ_MAX - 1 - c->req_len;
}

static void read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
	struct t_httpd_conn *c = s->data;

	(void)b;
	if (n < 0) {
		conn_close(c);
		return;
	}
	c->req_len += (size_t)n;
	c->req[c->req_len] = '\0';
	if (!c->answered && request_complete(c))
		dispatch(c);
	else if (c->req_len >= REQ_MAX - 1)
		conn_close(c);
}

static void on_conn(uv_stream_t *server, int status)
{
	struct t_httpd *d = server->data;
	struct t_httpd_conn *c;

	if (status < 0)
		return;
	c = im_xcalloc(1, sizeof(*c));
	c->d = d;
	uv_tcp_init(server->loop, &c->tcp);
	uv_timer_init(server->loop, &c->timer);
	c->handles_open = 2;
	c->tcp.data = c->timer.data = c;
	c->next = d->conns;
	if (d->conns)
		d->conns->prev = c;
	d->conns = c;
	if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0 ||
	    uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb) != 0)
		conn_close(c);
}

int t_httpd_start(struct t_httpd *d, uv_loop_t *loop)
{
	struct sockaddr_in addr;
	struct sockaddr_storage got;
	int len = sizeof(got), r;

	d->conns = NULL;
	d->requests = 0;
	uv_tcp_init(loop, &d->listener);
	d->listener.data = d;
	uv_ip4_addr("127.0.0.1", 0, &addr);
	r = uv_tcp_bind(&d->listener, (const struct sockaddr *)&addr, 0);
	if (!r)
		r = uv_listen((uv_stream_t *)&d->listener, 256, on_conn);
	if (!r)
		r = uv_tcp_getsockname(&d->listener, (struct sockaddr *)&got, &len);
	if (!r)
		d->port = ntohs(((struct sockaddr_in *)&got)->sin_port);
	return r;
}

void t_httpd_stop(struct t_httpd *d)
{
	while (d->conns)
		conn_close(d->conns);
	if (!uv_is_closing((uv_handle_t *)&d->listener))
		uv_close((uv_handle_t *)&d->listener, NULL);
}
