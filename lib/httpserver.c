#include "httpserver.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <libwebsockets.h>
#include <openssl/ssl.h>
#include <zlib.h>

#include "alloc.h"
#include "log.h"
#include "metricsauth.h"

/* Body bytes handed to lws_write per writeable callback. lws copies what
 * the socket does not take at once, so this also bounds that copy. */
#define HS_CHUNK 16384
/* Accept errors that the next accept would repeat (EMFILE) pause the
 * listener for this long instead of spinning. */
#define HS_ACCEPT_RETRY_US (1000 * LWS_US_PER_MS)
/* Longest /readyz reason kept, in bytes. */
#define HS_REASON_MAX 256
/* While requests wait for a review, how often their deadlines are checked. */
#define HS_AUTH_TICK_US (250 * LWS_US_PER_MS)

/* A response body. Refcounted: the server holds the current /metrics body,
 * and each connection holds the body it is sending. The last unref frees
 * it, on whichever thread that is. A /metrics body is kept gzipped (a
 * fleet's page is megabytes of repeated labels, and it is held between
 * reads): sent as it is to a client that accepts gzip, inflated chunk by
 * chunk for one that does not. */
struct hs_body {
	atomic_long refs;
	size_t len;       /* bytes in data */
	size_t plain_len; /* bytes of the page: len unless gzip */
	bool gzip;        /* data is a gzip stream of the page */
	char data[];
};

struct httpserver {
	/* Set before the thread starts, read-only afterwards. */
	struct lws_context *ctx;
	struct lws_vhost *vhost;
	pthread_t thread;
	int port;
	int listen_fd;
	bool listen_fd_lws; /* lws closes listen_fd (it was adopted) */
	atomic_bool stopping;
	bool tls;
	struct metricsauth *auth; /* /metrics for reviewed clients; borrowed */

	/* Server thread only (and httpserver_stop after the join). */
	struct lws *listener; /* the listening socket, adopted as a raw fd */
	int conns;            /* HTTP connections open (marked, see http_cb) */
	bool paused;          /* listener not polled: at the limit or EMFILE */
	lws_sorted_usec_list_t retry_sul;
	/* requests waiting for a review's verdict, in arrival order */
	struct lws *waiting[HTTPSERVER_MAX_CONNS];
	int nwaiting;
	lws_sorted_usec_list_t auth_sul;
	unsigned char wbuf[LWS_PRE + HS_CHUNK];

	/* Shared with the publishing threads, under lock. */
	pthread_mutex_t lock;
	pthread_cond_t published; /* signalled by every publish */
	struct hs_body *metrics;
	uint64_t metrics_ms;  /* when it was published (monotonic) */
	uint64_t metrics_gen; /* publishes so far */
	httpserver_refresh_fn refresh;
	void *refresh_data;
	unsigned refresh_age_ms, refresh_wait_ms;
	bool refresh_asked; /* fn called, no publish since */
	bool ready;
	char *ready_reason;
	uint64_t heartbeat_ms;
	unsigned stale_after_s;
};

/* Per-connection state, allocated and zeroed by lws (per_session_data). */
struct hs_conn {
	struct hs_body *body; /* the response under way, one reference */
	z_stream *inflate;    /* a gzip body sent plain: its inflater, else NULL */
	size_t total;         /* bytes the response body has: Content-Length */
	bool gzip;            /* sent with Content-Encoding: gzip */
	bool vary;            /* /metrics: Vary: Accept-Encoding */
	size_t sent;
	unsigned status;
	const char *content_type;
	bool head;   /* HEAD: headers only */
	bool refuse; /* 405: say what is allowed, then close */
	bool headers_sent;
	bool wait_body; /* respond once the request body is read */
	bool challenge; /* 401: WWW-Authenticate: Bearer */
	bool auth_wait; /* /metrics waiting for a review (s->waiting) */
	bool take_gzip; /* what the waiting request's Accept-Encoding said */
	uint8_t auth_key[METRICSAUTH_KEY_LEN];
	uint64_t auth_deadline_ms;
	uint64_t deadline_ms;
};

static const char metrics_type[] = "text/plain; version=0.0.4; charset=utf-8";
static const char text_type[] = "text/plain; charset=utf-8";

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static struct hs_body *body_new(const char *p, size_t n)
{
	struct hs_body *b = im_xmalloc(sizeof(*b) + n + 1);

	atomic_init(&b->refs, 1);
	b->len = b->plain_len = n;
	b->gzip = false;
	if (n)
		memcpy(b->data, p, n);
	b->data[n] = '\0';
	return b;
}

/* zlib's allocations through the one wrapper (alloc.h). */
static voidpf z_alloc(voidpf opaque, uInt items, uInt size)
{
	(void)opaque;
	return im_xcalloc(items, size);
}

static void z_free(voidpf opaque, voidpf p)
{
	(void)opaque;
	im_free(p);
}

/* p[0..n) gzipped (fastest level: the page is rebuilt often and mostly
 * repeated labels); a plain body if it cannot be (empty, or zlib fails). */
static struct hs_body *body_gzip(const char *p, size_t n)
{
	z_stream z = {.zalloc = z_alloc, .zfree = z_free};
	struct hs_body *b;
	uLong bound;
	int rc;

	if (n == 0 || n > UINT32_MAX / 2 ||
	    deflateInit2(&z, Z_BEST_SPEED, Z_DEFLATED, 15 + 16 /* gzip */, 8, Z_DEFAULT_STRATEGY) !=
		    Z_OK)
		return body_new(p, n);
	/* room for the worst case; pages never written stay out of RSS, and
	 * the block shrinks to the stream below */
	bound = deflateBound(&z, (uLong)n);
	b = im_xmalloc(sizeof(*b) + bound + 1);
	z.next_in = (Bytef *)p;
	z.avail_in = (uInt)n;
	z.next_out = (Bytef *)b->data;
	z.avail_out = (uInt)bound;
	rc = deflate(&z, Z_FINISH);
	deflateEnd(&z);
	if (rc != Z_STREAM_END) {
		im_free(b);
		return body_new(p, n);
	}
	b = im_xrealloc(b, sizeof(*b) + z.total_out + 1);
	atomic_init(&b->refs, 1);
	b->len = z.total_out;
	b->plain_len = n;
	b->gzip = true;
	b->data[b->len] = '\0';
	return b;
}

static struct hs_body *body_ref(struct hs_body *b)
{
	atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed);
	return b;
}

static void body_unref(struct hs_body *b)
{
	if (b && atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) == 1)
		im_free(b);
}

/* ---- lws logging ------------------------------------------------------- */

/* lws logs some client mistakes (an oversized request) as errors, so a
 * client could fill our log: at most HS_LOG_BURST lines per window. */
#define HS_LOG_WINDOW_MS 60000
#define HS_LOG_BURST 20

static pthread_mutex_t lws_log_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t lws_log_window_start;
static unsigned lws_log_lines, lws_log_dropped;

static void lws_log_emit(int level, const char *line)
{
	size_t n = strlen(line);
	unsigned dropped = 0;
	uint64_t now = now_ms();
	bool drop;
	char msg[512];

	pthread_mutex_lock(&lws_log_lock);
	if (now - lws_log_window_start >= HS_LOG_WINDOW_MS) {
		dropped = lws_log_dropped;
		lws_log_dropped = 0;
		lws_log_lines = 0;
		lws_log_window_start = now;
	}
	drop = lws_log_lines >= HS_LOG_BURST;
	if (drop)
		lws_log_dropped++;
	else
		lws_log_lines++;
	pthread_mutex_unlock(&lws_log_lock);

	if (dropped) {
		char count[16];

		snprintf(count, sizeof(count), "%u", dropped);
		log_kv(LOG_WARN, "libwebsockets messages suppressed", "count", count, NULL);
	}
	if (drop)
		return;
	while (n && isspace((unsigned char)line[n - 1]))
		n--;
	if (n >= sizeof(msg))
		n = sizeof(msg) - 1;
	memcpy(msg, line, n);
	msg[n] = '\0';
	log_kv(level == LLL_ERR ? LOG_ERROR : LOG_WARN, "libwebsockets", "detail", msg, NULL);
}

static void lws_log_setup(void)
{
	lws_set_log_level(LLL_ERR | LLL_WARN, lws_log_emit);
}

/* ---- the listener ------------------------------------------------------ */

static void listener_pause(struct httpserver *s, bool pause)
{
	if (!s->listener || s->paused == pause || atomic_load(&s->stopping))
		return;
	s->paused = pause;
	lws_rx_flow_control(s->listener, pause ? 0 : 1);
}

static void retry_accept_cb(lws_sorted_usec_list_t *sul)
{
	struct httpserver *s = lws_container_of(sul, struct httpserver, retry_sul);

	if (s->conns < HTTPSERVER_MAX_CONNS)
		listener_pause(s, false);
}

static void accept_ready(struct httpserver *s)
{
	while (s->conns < HTTPSERVER_MAX_CONNS) {
		int fd = accept4(s->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct lws *wsi;

		if (fd < 0) {
			int e = errno;

			if (e == EINTR || e == ECONNABORTED || e == EPROTO)
				continue;
			if (e == EAGAIN || e == EWOULDBLOCK)
				return;
			/* EMFILE, ENFILE, ENOBUFS: the connection stays queued;
			 * try again a little later rather than spin. */
			char tmp[128];
			log_kv(LOG_WARN, "cannot accept a connection on the HTTP endpoint", "error",
			       strerror_r(e, tmp, sizeof(tmp)), NULL);
			listener_pause(s, true);
			lws_sul_schedule(s->ctx, 0, &s->retry_sul, retry_accept_cb,
					 HS_ACCEPT_RETRY_US);
			return;
		}
		/* Responses go out in a few writes (headers, body chunks; with
		 * TLS, records after the handshake's own): without NODELAY,
		 * Nagle holds each small one until the client's delayed ACK,
		 * 40 ms a request. */
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){1}, sizeof(int));
		/* Closes fd itself on failure: out of resources, or (HTTPS)
		 * a first flight that is not a TLS handshake. The client
		 * decides which, so not a warning. */
		wsi = lws_adopt_socket_vhost(s->vhost, fd);
		if (!wsi)
			log_kv(LOG_DEBUG, "connection closed as it was accepted", "scheme",
			       s->tls ? "https" : "http", NULL);
	}
	listener_pause(s, true);
}

/* ---- responses --------------------------------------------------------- */

/* Drops the response body and what sending it holds. */
static void conn_drop_body(struct hs_conn *c)
{
	if (c->inflate) {
		inflateEnd(c->inflate);
		im_free(c->inflate);
		c->inflate = NULL;
	}
	body_unref(c->body);
	c->body = NULL;
	c->gzip = c->vary = false;
}

static void conn_reset(struct hs_conn *c)
{
	conn_drop_body(c);
	c->sent = 0;
	c->headers_sent = false;
	c->head = false;
	c->refuse = false;
	c->wait_body = false;
	c->challenge = false;
	c->auth_wait = false;
}

/* Sends body: as it is when it is plain or the client takes gzip, else
 * inflated as it goes. */
static void respond_as(struct lws *wsi, struct hs_conn *c, unsigned status, const char *type,
		       struct hs_body *body, bool take_gzip)
{
	conn_drop_body(c);
	c->gzip = body->gzip && take_gzip;
	c->total = body->gzip && !take_gzip ? body->plain_len : body->len;
	if (body->gzip && !take_gzip) {
		c->inflate = im_xcalloc(1, sizeof(*c->inflate));
		c->inflate->zalloc = z_alloc;
		c->inflate->zfree = z_free;
		if (inflateInit2(c->inflate, 15 + 16) != Z_OK) { /* out of memory only */
			im_free(c->inflate);
			c->inflate = NULL;
			c->total = 0; /* an empty page rather than gzip unasked */
		} else {
			c->inflate->next_in = (Bytef *)body->data;
			c->inflate->avail_in = (uInt)body->len;
		}
	}
	c->body = body;
	c->status = status;
	c->content_type = type;
	c->sent = 0;
	c->headers_sent = false;
	c->deadline_ms = now_ms() + (uint64_t)HTTPSERVER_SEND_TOTAL_TIMEOUT_S * 1000;
	lws_set_timeout(wsi, PENDING_TIMEOUT_HTTP_CONTENT, HTTPSERVER_SEND_IDLE_TIMEOUT_S);
	lws_callback_on_writable(wsi);
}

static void respond(struct lws *wsi, struct hs_conn *c, unsigned status, const char *type,
		    struct hs_body *body)
{
	respond_as(wsi, c, status, type, body, false);
}

static void respond_text(struct lws *wsi, struct hs_conn *c, unsigned status, const char *text)
{
	respond(wsi, c, status, text_type, body_new(text, strlen(text)));
}

static void respond_healthz(struct httpserver *s, struct lws *wsi, struct hs_conn *c)
{
	uint64_t now, age_ms;
	unsigned limit_s;
	char line[128];

	pthread_mutex_lock(&s->lock);
	now = now_ms();
	age_ms = now > s->heartbeat_ms ? now - s->heartbeat_ms : 0;
	limit_s = s->stale_after_s;
	pthread_mutex_unlock(&s->lock);
	if (age_ms < (uint64_t)limit_s * 1000) {
		respond_text(wsi, c, HTTP_STATUS_OK, "ok\n");
		return;
	}
	snprintf(line, sizeof(line), "event loop stalled for %llu s (limit %u s)\n",
		 (unsigned long long)(age_ms / 1000), limit_s);
	respond_text(wsi, c, HTTP_STATUS_SERVICE_UNAVAILABLE, line);
}

static void respond_readyz(struct httpserver *s, struct lws *wsi, struct hs_conn *c)
{
	struct buf line;

	buf_init(&line, BUF_MAX_SMALL);
	pthread_mutex_lock(&s->lock);
	if (!s->ready)
		buf_printf(&line, "%s\n", s->ready_reason);
	pthread_mutex_unlock(&s->lock);
	if (line.len)
		respond(wsi, c, HTTP_STATUS_SERVICE_UNAVAILABLE, text_type,
			body_new(line.ptr, line.len));
	else
		respond_text(wsi, c, HTTP_STATUS_OK, "ok\n");
	buf_release(&line);
}

/* Under s->lock. With a refresh function and a body older than its age:
 * asks for a new one (unless asked already) and waits for the next publish,
 * at most refresh_wait_ms. */
static void wait_for_fresh_metrics(struct httpserver *s)
{
	uint64_t gen = s->metrics_gen, deadline;
	struct timespec ts;

	if (!s->refresh || (s->metrics_gen && now_ms() - s->metrics_ms < s->refresh_age_ms))
		return;
	if (!s->refresh_asked) {
		s->refresh_asked = true;
		s->refresh(s->refresh_data);
	}
	deadline = now_ms() + s->refresh_wait_ms;
	ts.tv_sec = (time_t)(deadline / 1000);
	ts.tv_nsec = (long)(deadline % 1000) * 1000000;
	while (s->metrics_gen == gen && s->refresh && !atomic_load(&s->stopping))
		if (pthread_cond_timedwait(&s->published, &s->lock, &ts) == ETIMEDOUT)
			break;
}

/* Whether an Accept-Encoding value takes gzip: a "gzip" (or "*") coding
 * whose q is not 0 (RFC 9110 12.5.3). */
static bool accepts_gzip(const char *h)
{
	bool star = false, star_ok = false;

	while (*h) {
		const char *name, *end;
		size_t n;
		bool zero = false;

		while (*h == ' ' || *h == '\t' || *h == ',')
			h++;
		name = h;
		while (*h && *h != ',' && *h != ';' && *h != ' ' && *h != '\t')
			h++;
		n = (size_t)(h - name);
		end = h;
		while (*end && *end != ',')
			end++;
		/* parameters: only q matters; q=0, q=0.0... refuse */
		for (const char *q = h; q < end; q++)
			if ((*q == 'q' || *q == 'Q') && q[1] == '=') {
				const char *v = q + 2;
				zero = *v == '0';
				for (v++; zero && v < end && *v != ' ' && *v != ';'; v++)
					zero = *v == '.' || *v == '0';
				break;
			}
		if (n == 4 && strncasecmp(name, "gzip", 4) == 0)
			return !zero;
		if (n == 1 && *name == '*') {
			star = true;
			star_ok = !zero;
		}
		h = end;
	}
	return star && star_ok;
}

static bool request_takes_gzip(struct lws *wsi)
{
	char h[256];

	if (lws_hdr_copy(wsi, h, sizeof(h), WSI_TOKEN_HTTP_ACCEPT_ENCODING) <= 0)
		return false;
	return accepts_gzip(h);
}

static void serve_metrics(struct httpserver *s, struct lws *wsi, struct hs_conn *c, bool take_gzip)
{
	struct hs_body *b;

	pthread_mutex_lock(&s->lock);
	wait_for_fresh_metrics(s);
	b = body_ref(s->metrics);
	pthread_mutex_unlock(&s->lock);
	respond_as(wsi, c, HTTP_STATUS_OK, metrics_type, b, take_gzip);
	c->vary = true;
}

/* ---- who may read /metrics (metricsauth.h) ---------------------------- */

static void unwait(struct httpserver *s, struct lws *wsi)
{
	for (int i = 0; i < s->nwaiting; i++)
		if (s->waiting[i] == wsi) {
			memmove(&s->waiting[i], &s->waiting[i + 1],
				(size_t)(s->nwaiting - i - 1) * sizeof(s->waiting[0]));
			s->nwaiting--;
			return;
		}
}

/* Answers a /metrics request by its verdict (not PENDING). */
static void answer_verdict(struct httpserver *s, struct lws *wsi, struct hs_conn *c,
			   enum metricsauth_verdict v, const struct buf *reason)
{
	struct buf line;
	unsigned status;
	const char *what;

	switch (v) {
	case METRICSAUTH_ALLOWED:
		serve_metrics(s, wsi, c, c->take_gzip);
		return;
	case METRICSAUTH_UNAUTHENTICATED:
		status = HTTP_STATUS_UNAUTHORIZED, what = "Unauthorized";
		break;
	case METRICSAUTH_FORBIDDEN:
		status = HTTP_STATUS_FORBIDDEN, what = "Forbidden";
		break;
	default:
		status = HTTP_STATUS_SERVICE_UNAVAILABLE, what = "Service Unavailable";
		break;
	}
	buf_init(&line, BUF_MAX_SMALL);
	buf_printf(&line, "%s: %s\n", what, buf_str(reason));
	respond(wsi, c, status, text_type, body_new(line.ptr, line.len));
	c->challenge = status == HTTP_STATUS_UNAUTHORIZED;
	buf_release(&line);
}

static void auth_tick(lws_sorted_usec_list_t *sul);

/* A /metrics request with s->auth set: answered now (a kept verdict, or
 * no usable token) or put to wait for the review. */
static void authorize(struct httpserver *s, struct lws *wsi, struct hs_conn *c)
{
	char h[HTTPSERVER_MAX_HEADER];
	const char *token;
	size_t len;
	int n = lws_hdr_copy(wsi, h, sizeof(h), WSI_TOKEN_HTTP_AUTHORIZATION);
	struct buf reason;
	enum metricsauth_verdict v;

	buf_init(&reason, BUF_MAX_SMALL);
	if (n <= 0) {
		buf_adds(&reason, "no bearer token (Authorization: Bearer <token>)");
		v = METRICSAUTH_UNAUTHENTICATED;
	} else if (!metricsauth_bearer(h, (size_t)n, &token, &len)) {
		buf_adds(&reason, "malformed Authorization header (expected \"Bearer <token>\")");
		v = METRICSAUTH_UNAUTHENTICATED;
	} else {
		v = metricsauth_check(s->auth, token, len, c->auth_key, &reason);
	}
	explicit_bzero(h, sizeof(h));
	if (v != METRICSAUTH_PENDING) {
		answer_verdict(s, wsi, c, v, &reason);
	} else {
		/* at most one per connection, and connections are capped */
		c->auth_wait = true;
		c->auth_deadline_ms = now_ms() + (uint64_t)HTTPSERVER_AUTH_WAIT_S * 1000;
		s->waiting[s->nwaiting++] = wsi;
		lws_set_timeout(wsi, NO_PENDING_TIMEOUT, 0);
		if (s->nwaiting == 1)
			lws_sul_schedule(s->ctx, 0, &s->auth_sul, auth_tick, HS_AUTH_TICK_US);
	}
	buf_release(&reason);
}

/* Answers the waiting requests whose verdict came, or whose wait is over. */
static void resume_waiting(struct httpserver *s)
{
	uint64_t now = now_ms();
	struct buf reason;

	buf_init(&reason, BUF_MAX_SMALL);
	for (int i = 0; i < s->nwaiting;) {
		struct lws *wsi = s->waiting[i];
		struct hs_conn *c = lws_wsi_user(wsi);
		enum metricsauth_verdict v = metricsauth_lookup(s->auth, c->auth_key, &reason);

		if (v == METRICSAUTH_PENDING && now < c->auth_deadline_ms) {
			i++;
			continue;
		}
		if (v == METRICSAUTH_PENDING) {
			buf_reset(&reason);
			buf_printf(&reason, "the API server did not review the token within %d s",
				   HTTPSERVER_AUTH_WAIT_S);
			v = METRICSAUTH_UNAVAILABLE;
		}
		unwait(s, wsi);
		c->auth_wait = false;
		answer_verdict(s, wsi, c, v, &reason);
	}
	buf_release(&reason);
}

static void auth_tick(lws_sorted_usec_list_t *sul)
{
	struct httpserver *s = lws_container_of(sul, struct httpserver, auth_sul);

	resume_waiting(s);
	if (s->nwaiting)
		lws_sul_schedule(s->ctx, 0, &s->auth_sul, auth_tick, HS_AUTH_TICK_US);
}

/* metricsauth's wake callback: a verdict was settled (any thread). */
static void wake_server(void *data)
{
	struct httpserver *s = data;

	lws_cancel_service(s->ctx);
}

static void route(struct httpserver *s, struct lws *wsi, struct hs_conn *c, int method,
		  const char *path)
{
	if (method != LWSHUMETH_GET && method != LWSHUMETH_HEAD) {
		c->refuse = true;
		respond_text(wsi, c, HTTP_STATUS_METHOD_NOT_ALLOWED, "method not allowed\n");
		return;
	}
	c->head = method == LWSHUMETH_HEAD;
	if (strcmp(path, "/metrics") == 0) {
		c->take_gzip = request_takes_gzip(wsi);
		if (s->auth)
			authorize(s, wsi, c);
		else
			serve_metrics(s, wsi, c, c->take_gzip);
	} else if (strcmp(path, "/healthz") == 0) {
		respond_healthz(s, wsi, c);
	} else if (strcmp(path, "/readyz") == 0) {
		respond_readyz(s, wsi, c);
	} else {
		respond_text(wsi, c, HTTP_STATUS_NOT_FOUND, "not found\n");
	}
}

static int write_headers(struct httpserver *s, struct lws *wsi, struct hs_conn *c)
{
	unsigned char *start = s->wbuf + LWS_PRE, *p = start, *end = s->wbuf + sizeof(s->wbuf);

	if (lws_add_http_common_headers(wsi, c->status, c->content_type, c->total, &p, end))
		return -1;
	if (c->gzip && lws_add_http_header_by_name(wsi, (const unsigned char *)"content-encoding:",
						   (const unsigned char *)"gzip", 4, &p, end))
		return -1;
	if (c->vary &&
	    lws_add_http_header_by_name(wsi, (const unsigned char *)"vary:",
					(const unsigned char *)"Accept-Encoding", 15, &p, end))
		return -1;
	if (c->challenge &&
	    lws_add_http_header_by_name(wsi, (const unsigned char *)"www-authenticate:",
					(const unsigned char *)"Bearer realm=\"infermon\"", 23, &p,
					end))
		return -1;
	if (c->refuse &&
	    (lws_add_http_header_by_name(wsi, (const unsigned char *)"allow:",
					 (const unsigned char *)"GET, HEAD", 9, &p, end) ||
	     lws_add_http_header_by_name(wsi, (const unsigned char *)"connection:",
					 (const unsigned char *)"close", 5, &p, end)))
		return -1;
	if (lws_finalize_write_http_header(wsi, start, &p, end))
		return -1;
	c->headers_sent = true;
	return 0;
}

/* Returns what the writeable callback returns: -1 closes the connection. */
static int write_some(struct httpserver *s, struct lws *wsi, struct hs_conn *c)
{
	size_t n;
	enum lws_write_protocol type = LWS_WRITE_HTTP;

	if (!c->body || c->wait_body)
		return 0;
	if (now_ms() > c->deadline_ms)
		return -1;
	if (!c->headers_sent) {
		if (write_headers(s, wsi, c))
			return -1;
		if (c->head || c->total == 0)
			goto done;
		lws_callback_on_writable(wsi);
		return 0;
	}
	n = c->total - c->sent;
	if (n > HS_CHUNK)
		n = HS_CHUNK;
	if (c->inflate) {
		int rc;

		c->inflate->next_out = s->wbuf + LWS_PRE;
		c->inflate->avail_out = (uInt)n;
		rc = inflate(c->inflate, Z_NO_FLUSH);
		if ((rc != Z_OK && rc != Z_STREAM_END) || c->inflate->avail_out != 0)
			return -1; /* cannot happen: the body is our own stream */
	} else {
		memcpy(s->wbuf + LWS_PRE, c->body->data + c->sent, n);
	}
	if (c->sent + n == c->total)
		type = LWS_WRITE_HTTP_FINAL;
	if (lws_write(wsi, s->wbuf + LWS_PRE, n, type) < (int)n)
		return -1;
	c->sent += n;
	/* Progress: the idle timeout starts again. */
	lws_set_timeout(wsi, PENDING_TIMEOUT_HTTP_CONTENT, HTTPSERVER_SEND_IDLE_TIMEOUT_S);
	if (c->sent < c->total) {
		lws_callback_on_writable(wsi);
		return 0;
	}
done:
	/* lws 4.1 does not find the next request reliably after a request
	 * it read no body for (a PUT without Content-Length), so a refused
	 * request ends the connection. */
	if (c->refuse) {
		conn_reset(c);
		return -1;
	}
	conn_reset(c);
	lws_set_timeout(wsi, NO_PENDING_TIMEOUT, 0);
	/* May free c (lws rebinds the protocol); c is not used after. */
	return lws_http_transaction_completed(wsi) ? -1 : 0;
}

static int http_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		   size_t len)
{
	struct lws_context *ctx = lws_get_context(wsi);
	struct httpserver *s = ctx ? lws_context_user(ctx) : NULL;
	struct hs_conn *c = user;

	switch (reason) {
	case LWS_CALLBACK_SERVER_NEW_CLIENT_INSTANTIATED:
		/* A connection is counted from here until WSI_DESTROY; the
		 * mark makes sure only counted ones are uncounted (lws also
		 * destroys wsi that failed adoption, and the listener). */
		lws_set_opaque_user_data(wsi, s);
		s->conns++;
		break;
	case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
		/* a verdict settled (wake_server), or stopping */
		if (s && s->nwaiting && !atomic_load(&s->stopping))
			resume_waiting(s);
		break;
	case LWS_CALLBACK_WSI_DESTROY:
		if (c && c->auth_wait)
			unwait(s, wsi);
		if (c)
			conn_reset(c);
		if (s && lws_get_opaque_user_data(wsi) == s) {
			lws_set_opaque_user_data(wsi, NULL);
			s->conns--;
			if (s->conns < HTTPSERVER_MAX_CONNS)
				listener_pause(s, false);
		}
		break;
	case LWS_CALLBACK_HTTP: {
		char *uri;
		int uri_len, method = lws_http_get_uri_and_method(wsi, &uri, &uri_len);

		if (!c)
			return -1;
		if (c->auth_wait)
			unwait(s, wsi);
		conn_reset(c);
		route(s, wsi, c, method, in ? (const char *)in : "");
		/* A request body is read (and dropped) before the answer,
		 * so the connection stays in step for the next request. */
		if (method != LWSHUMETH_GET && method != LWSHUMETH_HEAD &&
		    lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0)
			c->wait_body = true;
		break;
	}
	case LWS_CALLBACK_HTTP_BODY_COMPLETION:
		if (c && c->wait_body) {
			c->wait_body = false;
			lws_callback_on_writable(wsi);
		}
		break;
	case LWS_CALLBACK_HTTP_WRITEABLE:
		return c ? write_some(s, wsi, c) : 0;
	case LWS_CALLBACK_CLOSED_HTTP:
	case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
		/* lws frees the per-connection data after these. */
		if (c && c->auth_wait)
			unwait(s, wsi);
		if (c)
			conn_reset(c);
		break;
	default:
		break;
	}
	(void)len;
	return 0;
}

static int listen_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		     size_t len)
{
	struct lws_context *ctx = lws_get_context(wsi);
	struct httpserver *s = ctx ? lws_context_user(ctx) : NULL;

	switch (reason) {
	case LWS_CALLBACK_RAW_RX_FILE:
		if (s && wsi == s->listener)
			accept_ready(s);
		break;
	case LWS_CALLBACK_RAW_CLOSE_FILE:
		if (s && wsi == s->listener)
			s->listener = NULL;
		break;
	default:
		break;
	}
	(void)user;
	(void)in;
	(void)len;
	return 0;
}

static const struct lws_protocols protocols[] = {
	{"infermon-http", http_cb, sizeof(struct hs_conn), 0, 0, NULL, 0},
	{"infermon-listen", listen_cb, 0, 0, 0, NULL, 0},
	{NULL, NULL, 0, 0, 0, NULL, 0},
};

static void *server_main(void *arg)
{
	struct httpserver *s = arg;

	while (!atomic_load(&s->stopping)) {
		if (lws_service(s->ctx, 0) < 0) {
			/* Nothing serves now; /healthz probes time out and the
			 * pod restarts, which is the remedy. */
			log_kv(LOG_ERROR, "HTTP endpoint stopped: libwebsockets service failed",
			       NULL);
			break;
		}
	}
	return NULL;
}

/* ---- start and stop ---------------------------------------------------- */

/* Opens the listening socket, so that errors are ours to report (lws 4.1
 * only says that context creation failed) and port 0 can be read back. */
static im_result open_listener(const char *addr, int port, int *fd_out, int *port_out,
			       struct buf *err)
{
	struct addrinfo hints = {0}, *ai = NULL;
	char service[16];
	bool v6 = strchr(addr, ':') != NULL;
	int fd = -1, one = 1, zero = 0, rc;
	im_result result = IM_OK;
	union {
		struct sockaddr sa;
		struct sockaddr_in in;
		struct sockaddr_in6 in6;
	} bound;
	socklen_t bound_len = sizeof(bound);

	if (port < 0 || port > 65535) {
		buf_printf(err, "cannot listen on %s%s%s:%d: port out of range", v6 ? "[" : "",
			   addr, v6 ? "]" : "", port);
		return IM_INVAL;
	}
	snprintf(service, sizeof(service), "%d", port);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV;
	rc = getaddrinfo(addr, service, &hints, &ai);
	if (rc != 0 || !ai) {
		buf_printf(err, "cannot listen on \"%s\": not a numeric IPv4 or IPv6 address",
			   addr);
		result = IM_INVAL;
		goto out;
	}
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	/* A restarted controller must be able to listen again at once,
	 * despite connections in TIME_WAIT. */
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ai->ai_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 128) != 0 ||
	    getsockname(fd, &bound.sa, &bound_len) != 0)
		goto fail;
	*port_out = ntohs(bound.sa.sa_family == AF_INET6 ? bound.in6.sin6_port : bound.in.sin_port);
	*fd_out = fd;
	fd = -1;
	goto out;
fail : {
	int e = errno;

	buf_printf(err, "cannot listen on %s%s%s:%d: ", v6 ? "[" : "", addr, v6 ? "]" : "", port);
	buf_add_errno(err, e);
	result = IM_IO;
}
out:
	if (fd >= 0)
		close(fd);
	if (ai)
		freeaddrinfo(ai);
	return result;
}

static void server_free(struct httpserver *s)
{
	if (s->auth)
		metricsauth_set_wake(s->auth, NULL, NULL);
	if (s->ctx) {
		lws_sul_cancel(&s->retry_sul);
		lws_sul_cancel(&s->auth_sul);
		lws_context_destroy(s->ctx);
	}
	if (!s->listen_fd_lws && s->listen_fd >= 0)
		close(s->listen_fd);
	body_unref(s->metrics);
	im_free(s->ready_reason);
	pthread_cond_destroy(&s->published);
	pthread_mutex_destroy(&s->lock);
	im_free(s);
}

im_result httpserver_start(struct httpserver **out, const char *bind_addr, int port,
			   struct buf *err)
{
	return httpserver_start_secure(out, bind_addr, port, NULL, NULL, err);
}

im_result httpserver_start_secure(struct httpserver **out, const char *bind_addr, int port,
				  const struct httpserver_tls *tls, struct metricsauth *auth,
				  struct buf *err)
{
	static pthread_once_t log_once = PTHREAD_ONCE_INIT;
	struct lws_context_creation_info info;
	struct httpserver *s;
	struct buf scratch;
	lws_sock_file_fd_type fd;
	im_result result;

	*out = NULL;
	buf_init(&scratch, BUF_MAX_SMALL);
	if (!err)
		err = &scratch;
	buf_reset(err);
	if (!bind_addr)
		bind_addr = "0.0.0.0";
	pthread_once(&log_once, lws_log_setup);

	s = im_xcalloc(1, sizeof(*s));
	s->listen_fd = -1;
	atomic_init(&s->stopping, false);
	pthread_mutex_init(&s->lock, NULL);
	{
		pthread_condattr_t ca;
		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* as now_ms */
		pthread_cond_init(&s->published, &ca);
		pthread_condattr_destroy(&ca);
	}
	s->metrics = body_new("", 0);
	s->ready_reason = im_xstrdup("starting");
	s->heartbeat_ms = now_ms();
	s->stale_after_s = HTTPSERVER_DEFAULT_STALE_S;
	s->tls = tls != NULL;
	s->auth = auth;

	result = open_listener(bind_addr, port, &s->listen_fd, &s->port, err);
	if (result)
		goto fail;

	memset(&info, 0, sizeof(info));
	/* No listener of lws' own: ours is adopted below. */
	info.port = CONTEXT_PORT_NO_LISTEN_SERVER;
	info.protocols = protocols;
	info.user = s;
	info.uid = -1;
	info.gid = -1;
	info.options = LWS_SERVER_OPTION_DISABLE_OS_CA_CERTS;
	info.server_string = "infermon";
	info.max_http_header_data = HTTPSERVER_MAX_HEADER;
	info.max_http_header_pool = HTTPSERVER_MAX_CONNS;
	info.timeout_secs = HTTPSERVER_HEADER_TIMEOUT_S;
	info.timeout_secs_ah_idle = HTTPSERVER_HEADER_TIMEOUT_S;
	info.keepalive_timeout = HTTPSERVER_HEADER_TIMEOUT_S;
	if (tls) {
		info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
		info.server_ssl_cert_mem = tls->cert_pem;
		info.server_ssl_cert_mem_len = (unsigned int)tls->cert_len;
		info.server_ssl_private_key_mem = tls->key_pem;
		info.server_ssl_private_key_mem_len = (unsigned int)tls->key_len;
		/* HTTP/1.1 only: what the responses here are written for */
		info.alpn = "http/1.1";
		info.ssl_options_set = SSL_OP_NO_TLSv1 | SSL_OP_NO_TLSv1_1;
	}
	s->ctx = lws_create_context(&info);
	if (!s->ctx) {
		buf_adds(err,
			 tls ? "cannot start the HTTPS endpoint: libwebsockets refused the "
			       "certificate or key, or cannot set up TLS"
			     : "cannot start the HTTP endpoint: cannot create the libwebsockets "
			       "context");
		result = IM_INTERNAL;
		goto fail;
	}
	s->vhost = lws_get_vhost_by_name(s->ctx, "default");
	if (!s->vhost) {
		buf_adds(err, "cannot start the HTTP endpoint: libwebsockets has no default vhost");
		result = IM_INTERNAL;
		goto fail;
	}
	fd.filefd = s->listen_fd;
	s->listener = lws_adopt_descriptor_vhost(s->vhost, LWS_ADOPT_RAW_FILE_DESC, fd,
						 "infermon-listen", NULL);
	if (!s->listener) {
		buf_adds(err, "cannot start the HTTP endpoint: libwebsockets cannot poll the "
			      "listening socket");
		result = IM_INTERNAL;
		goto fail;
	}
	s->listen_fd_lws = true;
	if (auth)
		metricsauth_set_wake(auth, wake_server, s);
	if (pthread_create(&s->thread, NULL, server_main, s) != 0) {
		buf_adds(err, "cannot start the HTTP endpoint: cannot create its thread");
		result = IM_INTERNAL;
		goto fail;
	}
	*out = s;
	goto out;
fail:
	server_free(s);
out:
	buf_release(&scratch);
	return result;
}

int httpserver_port(const struct httpserver *s)
{
	return s->port;
}

void httpserver_publish_metrics(struct httpserver *s, const char *text, size_t len)
{
	struct hs_body *b = body_gzip(text, len), *old;

	pthread_mutex_lock(&s->lock);
	old = s->metrics;
	s->metrics = b;
	s->metrics_ms = now_ms();
	s->metrics_gen++;
	s->refresh_asked = false;
	pthread_cond_broadcast(&s->published);
	pthread_mutex_unlock(&s->lock);
	body_unref(old);
}

void httpserver_set_metrics_refresh(struct httpserver *s, httpserver_refresh_fn fn, void *data,
				    unsigned max_age_ms, unsigned wait_ms)
{
	pthread_mutex_lock(&s->lock);
	s->refresh = fn;
	s->refresh_data = data;
	s->refresh_age_ms = max_age_ms;
	s->refresh_wait_ms = wait_ms;
	s->refresh_asked = false;
	pthread_cond_broadcast(&s->published); /* a waiter sees fn gone */
	pthread_mutex_unlock(&s->lock);
}

void httpserver_heartbeat(struct httpserver *s)
{
	uint64_t now = now_ms();

	pthread_mutex_lock(&s->lock);
	s->heartbeat_ms = now;
	pthread_mutex_unlock(&s->lock);
}

void httpserver_set_stale_after(struct httpserver *s, unsigned seconds)
{
	pthread_mutex_lock(&s->lock);
	s->stale_after_s = seconds;
	pthread_mutex_unlock(&s->lock);
}

/* The reason goes on one line of a response: no control characters, and
 * not too long. */
static char *one_line(const char *reason)
{
	size_t n;
	char *p;

	if (!reason || !reason[0])
		reason = "not ready";
	n = strlen(reason);
	p = im_xstrndup(reason, n > HS_REASON_MAX ? HS_REASON_MAX : n);
	for (char *q = p; *q; q++)
		if ((unsigned char)*q < 0x20 || *q == 0x7f)
			*q = ' ';
	return p;
}

void httpserver_set_ready(struct httpserver *s, bool ready, const char *reason)
{
	char *copy = ready ? NULL : one_line(reason), *old;

	pthread_mutex_lock(&s->lock);
	s->ready = ready;
	old = s->ready_reason;
	s->ready_reason = copy;
	pthread_mutex_unlock(&s->lock);
	im_free(old);
}

void httpserver_stop(struct httpserver *s)
{
	if (!s)
		return;
	atomic_store(&s->stopping, true);
	pthread_mutex_lock(&s->lock); /* a request waiting for a page stops waiting */
	pthread_cond_broadcast(&s->published);
	pthread_mutex_unlock(&s->lock);
	lws_cancel_service(s->ctx);
	pthread_join(s->thread, NULL);
	server_free(s);
}
