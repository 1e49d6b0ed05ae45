#include "http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "log.h"

struct http_call {
	struct http *h;
	struct http_call *next_running, *prev_running;
	struct http_call *next_deferred; /* on h->deferred while deferred_q */
	CURL *easy;
	struct curl_slist *headers;
	char *method;
	char *url;
	char *req_body;
	size_t req_len;
	struct buf body;
	http_chunk_cb chunk_cb;
	http_done_cb done_cb;
	void *data;
	im_result abort_result; /* why a write callback stopped the transfer */
	size_t received;
	long status;
	bool running;      /* started, its done callback still owed */
	bool in_multi;     /* the easy handle is added to h->multi */
	bool deferred_q;   /* on h->deferred: settle() has work for it */
	bool detached;     /* the transfer in the multi is not the owner's any more */
	bool free_pending; /* freed while libcurl was running a callback */
	char errbuf[CURL_ERROR_SIZE];
};

struct http_sock {
	uv_poll_t poll;
	curl_socket_t fd;
	struct http *h;
	struct http_sock *next, *prev;
};

static void sock_unlink(struct http_sock *s)
{
	if (s->prev)
		s->prev->next = s->next;
	else if (s->h->socks == s)
		s->h->socks = s->next;
	if (s->next)
		s->next->prev = s->prev;
	s->next = s->prev = NULL;
}

static void running_add(struct http_call *c)
{
	c->prev_running = NULL;
	c->next_running = c->h->running;
	if (c->h->running)
		c->h->running->prev_running = c;
	c->h->running = c;
}

static void running_del(struct http_call *c)
{
	if (c->prev_running)
		c->prev_running->next_running = c->next_running;
	else if (c->h->running == c)
		c->h->running = c->next_running;
	if (c->next_running)
		c->next_running->prev_running = c->prev_running;
	c->next_running = c->prev_running = NULL;
}

static void check_done(struct http *h);
static void settle(struct http *h);
static void multi_remove(struct http_call *c);

static void sock_closed(uv_handle_t *handle)
{
	im_free(handle->data);
}

static void poll_cb(uv_poll_t *p, int status, int events)
{
	struct http_sock *s = p->data;
	struct http *h = s->h;
	int flags = 0, running;

	if (status < 0)
		flags = CURL_CSELECT_ERR;
	if (events & UV_READABLE)
		flags |= CURL_CSELECT_IN;
	if (events & UV_WRITABLE)
		flags |= CURL_CSELECT_OUT;
	h->in_curl++;
	curl_multi_socket_action(h->multi, s->fd, flags, &running);
	h->in_curl--;
	settle(h);
	check_done(h);
}

static int socket_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
	struct http *h = userp;
	struct http_sock *s = socketp;
	int events = 0;

	(void)easy;
	if (what == CURL_POLL_REMOVE) {
		if (s) {
			uv_poll_stop(&s->poll);
			s->poll.data = s;
			sock_unlink(s);
			loop_close_handle((uv_handle_t *)&s->poll, sock_closed);
			curl_multi_assign(h->multi, fd, NULL);
		}
		return 0;
	}
	if (!s) {
		s = im_xcalloc(1, sizeof(*s));
		s->fd = fd;
		s->h = h;
		if (uv_poll_init_socket(&h->loop->uv, &s->poll, fd) != 0) {
			im_free(s);
			return -1;
		}
		s->poll.data = s;
		s->next = h->socks;
		if (h->socks)
			h->socks->prev = s;
		h->socks = s;
		curl_multi_assign(h->multi, fd, s);
	}
	if (what & CURL_POLL_IN)
		events |= UV_READABLE;
	if (what & CURL_POLL_OUT)
		events |= UV_WRITABLE;
	uv_poll_start(&s->poll, events, poll_cb);
	return 0;
}

static void timer_fire(uv_timer_t *t)
{
	struct http *h = t->data;
	int running;

	h->in_curl++;
	curl_multi_socket_action(h->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	h->in_curl--;
	settle(h);
	check_done(h);
}

static int timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
	struct http *h = userp;

	(void)multi;
	if (timeout_ms < 0)
		uv_timer_stop(&h->timer);
	else
		uv_timer_start(&h->timer, timer_fire, (uint64_t)timeout_ms, 0);
	return 0;
}

static void share_lock(CURL *e, curl_lock_data d, curl_lock_access a, void *u)
{
	(void)e, (void)d, (void)a, (void)u; /* one thread: nothing to lock */
}

im_result http_init(struct http *h, struct loop *loop)
{
	memset(h, 0, sizeof(*h));
	h->loop = loop;
	h->multi = curl_multi_init();
	h->share = curl_share_init();
	if (!h->multi || !h->share)
		return IM_NOMEM;
	curl_share_setopt(h->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
	curl_share_setopt(h->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
	curl_share_setopt(h->share, CURLSHOPT_LOCKFUNC, share_lock);
	curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
	curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
	curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
	curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
	curl_multi_setopt(h->multi, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
	curl_multi_setopt(h->multi, CURLMOPT_MAX_HOST_CONNECTIONS, 8L);
	uv_timer_init(&loop->uv, &h->timer);
	h->timer.data = h;
	return IM_OK;
}

void http_release(struct http *h)
{
	h->closing = true;
	settle(h);
	/* finish what is in flight: owners free their state */
	while (h->running) {
		struct http_call *c = h->running;
		running_del(c);
		multi_remove(c);
		c->running = false;
		h->active--;
		if (!c->errbuf[0])
			snprintf(c->errbuf, sizeof(c->errbuf), "%s", im_strerror(IM_CANCELED));
		if (c->done_cb)
			c->done_cb(c, IM_CANCELED, c->data);
	}
	if (h->multi)
		curl_multi_cleanup(h->multi);
	/* sockets curl did not hand back: stop polling them */
	while (h->socks) {
		struct http_sock *sk = h->socks;
		sock_unlink(sk);
		uv_poll_stop(&sk->poll);
		loop_close_handle((uv_handle_t *)&sk->poll, sock_closed);
	}
	while (h->npool)
		curl_easy_cleanup(h->pool[--h->npool]);
	if (h->share)
		curl_share_cleanup(h->share);
	h->multi = NULL;
	h->share = NULL;
	loop_close_handle((uv_handle_t *)&h->timer, NULL);
}

static size_t write_cb(char *p, size_t size, size_t n, void *userp)
{
	struct http_call *c = userp;
	size_t len = size * n;
	im_result result;

	if (c->detached || !c->running)
		return 0; /* canceled from a callback: stop this transfer */
	c->received += len;
	if (c->chunk_cb) {
		result = c->chunk_cb(c, p, len, c->data);
		if (result) {
			c->abort_result = result;
			return 0;
		}
		return len;
	}
	result = buf_add(&c->body, p, len);
	if (result) {
		c->abort_result = result;
		return 0;
	}
	return len;
}

struct http_call *http_call_new(struct http *h, const char *method, const char *url)
{
	struct http_call *c = im_xcalloc(1, sizeof(*c));

	c->h = h;
	c->method = im_xstrdup(method);
	c->url = im_xstrdup(url);
	buf_init(&c->body, BUF_MAX_LARGE);
	c->easy = h->npool ? h->pool[--h->npool] : curl_easy_init();
	if (!c->easy) {
		fputs("infermon: curl_easy_init failed\n", stderr);
		abort();
	}
	curl_easy_setopt(c->easy, CURLOPT_URL, c->url);
	curl_easy_setopt(c->easy, CURLOPT_PRIVATE, c);
	curl_easy_setopt(c->easy, CURLOPT_ERRORBUFFER, c->errbuf);
	curl_easy_setopt(c->easy, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(c->easy, CURLOPT_WRITEDATA, c);
	curl_easy_setopt(c->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c->easy, CURLOPT_SHARE, h->share);
	curl_easy_setopt(c->easy, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(c->easy, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c->easy, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c->easy, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(c->easy, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(c->easy, CURLOPT_TCP_KEEPIDLE, 30L);
	curl_easy_setopt(c->easy, CURLOPT_TCP_KEEPINTVL, 15L);
	curl_easy_setopt(c->easy, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
	curl_easy_setopt(c->easy, CURLOPT_USERAGENT, "infermon");
	if (strcmp(method, "GET") != 0)
		curl_easy_setopt(c->easy, CURLOPT_CUSTOMREQUEST, c->method);
	return c;
}

CURL *http_call_easy(struct http_call *c)
{
	return c->easy;
}

void http_call_header(struct http_call *c, const char *line)
{
	struct curl_slist *l = curl_slist_append(c->headers, line);

	if (!l) {
		fputs("infermon: out of memory adding a header\n", stderr);
		abort();
	}
	c->headers = l;
}

void http_call_body(struct http_call *c, const char *p, size_t n)
{
	im_free(c->req_body);
	c->req_body = im_xstrndup(p, n);
	c->req_len = n;
	curl_easy_setopt(c->easy, CURLOPT_POSTFIELDS, c->req_body);
	curl_easy_setopt(c->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)n);
}

void http_call_timeouts(struct http_call *c, long connect_ms, long total_ms, long low_speed_secs)
{
	curl_easy_setopt(c->easy, CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
	curl_easy_setopt(c->easy, CURLOPT_TIMEOUT_MS, total_ms);
	curl_easy_setopt(c->easy, CURLOPT_LOW_SPEED_LIMIT, low_speed_secs ? 1L : 0L);
	curl_easy_setopt(c->easy, CURLOPT_LOW_SPEED_TIME, low_speed_secs);
}

void http_call_max_body(struct http_call *c, size_t max)
{
	c->body.max = max;
}

void http_call_stream(struct http_call *c, http_chunk_cb cb)
{
	c->chunk_cb = cb;
}

/* Queues c for settle(), once. */
static void defer(struct http_call *c)
{
	if (c->deferred_q)
		return;
	c->deferred_q = true;
	c->next_deferred = c->h->deferred;
	c->h->deferred = c;
}

static void multi_remove(struct http_call *c)
{
	if (!c->in_multi)
		return;
	curl_multi_remove_handle(c->h->multi, c->easy);
	c->in_multi = false;
}

static im_result multi_add(struct http_call *c)
{
	c->detached = false;
	if (curl_multi_add_handle(c->h->multi, c->easy) != CURLM_OK)
		return IM_INTERNAL;
	c->in_multi = true;
	return IM_OK;
}

static void destroy(struct http_call *c);

/* Carries out what owners asked for while libcurl was running one of our
 * callbacks, where libcurl refuses curl_multi_add_handle and
 * curl_multi_remove_handle (CURLM_RECURSIVE_API_CALL): an easy handle freed
 * there would stay in the multi and be used after its free. Runs right after
 * every curl_multi_socket_action, before any done callback. */
static void settle(struct http *h)
{
	while (h->deferred) {
		struct http_call *c = h->deferred;

		h->deferred = c->next_deferred;
		c->next_deferred = NULL;
		c->deferred_q = false;
		multi_remove(c); /* canceled, freed, or restarted after a cancel */
		if (c->free_pending) {
			destroy(c);
			continue;
		}
		if (!c->running || multi_add(c) == IM_OK)
			continue;
		/* started from a callback and cannot be added: finish it */
		running_del(c);
		c->running = false;
		h->active--;
		snprintf(c->errbuf, sizeof(c->errbuf),
			 "cannot add the transfer to the multi handle");
		if (c->done_cb)
			c->done_cb(c, IM_INTERNAL, c->data);
	}
}

im_result http_call_start(struct http_call *c, http_done_cb cb, void *data)
{
	struct http *h = c->h;

	if (c->running || c->free_pending || h->closing)
		return IM_INVAL;
	c->done_cb = cb;
	c->data = data;
	c->abort_result = IM_OK;
	c->received = 0;
	c->status = 0;
	c->errbuf[0] = '\0';
	buf_release(&c->body);
	curl_easy_setopt(c->easy, CURLOPT_HTTPHEADER, c->headers);
	if (h->in_curl) {
		/* added by settle(); a transfer of this call still in the multi
		 * (canceled in this callback) is not this start's */
		c->detached = c->in_multi;
		defer(c);
	} else {
		multi_remove(c);
		if (multi_add(c))
			return IM_INTERNAL;
	}
	c->running = true;
	h->active++;
	running_add(c);
	return IM_OK;
}

void http_call_cancel(struct http_call *c)
{
	if (!c->running)
		return;
	running_del(c);
	c->running = false;
	c->h->active--;
	if (c->h->in_curl) {
		c->detached = true;
		defer(c);
		return;
	}
	multi_remove(c);
}

void http_call_free(struct http_call *c)
{
	if (!c)
		return;
	http_call_cancel(c);
	if (c->deferred_q || (c->h->in_curl && c->in_multi)) {
		/* libcurl is inside a callback: settle() frees it */
		c->free_pending = true;
		c->detached = true;
		defer(c);
		return;
	}
	multi_remove(c);
	destroy(c);
}

static void destroy(struct http_call *c)
{
	struct http *h = c->h;

	if (!h->closing && h->npool < HTTP_EASY_POOL) {
		curl_easy_reset(c->easy); /* every option back to its default */
		h->pool[h->npool++] = c->easy;
	} else {
		curl_easy_cleanup(c->easy);
	}
	curl_slist_free_all(c->headers);
	buf_release(&c->body);
	im_free(c->req_body);
	im_free(c->method);
	im_free(c->url);
	im_free(c);
}

static im_result map_curl(CURLcode code)
{
	switch (code) {
	case CURLE_OK:
		return IM_OK;
	case CURLE_OPERATION_TIMEDOUT:
		return IM_TIMEOUT;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_PROXY:
		return IM_CONNECT;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_CRL_BADFILE:
		return IM_TLS;
	case CURLE_OUT_OF_MEMORY:
		return IM_NOMEM;
	default:
		return IM_IO;
	}
}

static void check_done(struct http *h)
{
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(h->multi, &left)) != NULL) {
		struct http_call *c;
		im_result result;

		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&c);
		result = map_curl(msg->data.result);
		if (msg->data.result == CURLE_WRITE_ERROR && c->abort_result)
			result = c->abort_result;
		if (!c->running || c->detached)
			continue; /* not the owner's transfer; settle() removes it */
		curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &c->status);
		multi_remove(c);
		c->running = false;
		h->active--;
		running_del(c);
		if (result && !c->errbuf[0]) {
			const char *s = c->abort_result ? im_strerror(c->abort_result)
							: curl_easy_strerror(msg->data.result);
			size_t n = strlen(s);
			if (n >= sizeof(c->errbuf))
				n = sizeof(c->errbuf) - 1;
			memcpy(c->errbuf, s, n);
			c->errbuf[n] = '\0';
		}
		if (c->done_cb)
			c->done_cb(c, result, c->data);
	}
}

long http_call_status(const struct http_call *c)
{
	return c->status;
}

const struct buf *http_call_body_buf(const struct http_call *c)
{
	return &c->body;
}

const char *http_call_error(const struct http_call *c)
{
	return c->errbuf;
}

double http_call_seconds(const struct http_call *c)
{
	double t = 0;
	curl_easy_getinfo(c->easy, CURLINFO_TOTAL_TIME, &t);
	return t;
}

size_t http_call_bytes(const struct http_call *c)
{
	return c->received;
}

const char *http_call_url(const struct http_call *c)
{
	return c->url;
}

const char *http_call_method(const struct http_call *c)
{
	return c->method;
}

bool http_call_running(const struct http_call *c)
{
	return c->running;
}
