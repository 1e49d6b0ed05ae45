/*
 * test_httpserver.c - the /metrics, /healthz and /readyz endpoint, driven
 * over loopback with libcurl and with raw sockets where curl would hide what
 * is tested (connection limits, oversized headers, a client that stops
 * reading).
 */
#include "t.h"

#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <zlib.h>

#include "../lib/alloc.h"
#include "../lib/buf.h"
#include "../lib/httpserver.h"
#include "../lib/metricsauth.h"
#include "../lib/tlscert.h"

struct resp {
	long status;
	struct buf body;
	struct buf headers;
	struct curl_slist *request_headers; /* client_auth's, while in use */
	/* Optional hook run from the write callback, for mid-download work. */
	void (*on_chunk)(struct resp *r, size_t got);
	void *hook_arg;
};

static void curl_once(void)
{
	static bool done;

	if (!done) {
		curl_global_init(CURL_GLOBAL_DEFAULT);
		done = true;
	}
}

static size_t write_cb(char *p, size_t size, size_t n, void *arg)
{
	struct resp *r = arg;

	if (buf_add(&r->body, p, size * n))
		return 0;
	if (r->on_chunk)
		r->on_chunk(r, r->body.len);
	return size * n;
}

static size_t header_cb(char *p, size_t size, size_t n, void *arg)
{
	struct resp *r = arg;

	buf_add(&r->headers, p, size * n);
	return size * n;
}

static void resp_init(struct resp *r)
{
	memset(r, 0, sizeof(*r));
	buf_init(&r->body, BUF_MAX_LARGE);
	buf_init(&r->headers, BUF_MAX_SMALL);
}

static void resp_release(struct resp *r)
{
	buf_release(&r->body);
	buf_release(&r->headers);
	curl_slist_free_all(r->request_headers);
	r->request_headers = NULL;
}

/* For the HTTPS tests: the server's certificate, trusted as the CA of the
 * requests (and their scheme https), and the Authorization header they
 * send; NULL for plain requests. */
static const struct tlscert *client_ca;
static const char *client_auth;

/* The options every request of these tests sets: URL, no proxy, a
 * bound, the body and headers into r, no body for HEAD. */
static void set_request(CURL *h, const char *url, const char *method, struct resp *r)
{
	if (client_ca) {
		struct curl_blob ca = {.data = client_ca->cert.ptr,
				       .len = client_ca->cert.len,
				       .flags = CURL_BLOB_COPY};
		curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &ca);
	}
	curl_slist_free_all(r->request_headers);
	r->request_headers = client_auth ? curl_slist_append(NULL, client_auth) : NULL;
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, r->request_headers);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_PROXY, "");
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 120L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, header_cb);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(h, CURLOPT_NOBODY, strcmp(method, "HEAD") == 0 ? 1L : 0L);
}

/* One request on handle h (so tests can reuse a connection). */
static CURLcode perform(CURL *h, int port, const char *method, const char *path, const char *post,
			struct resp *r)
{
	char url[256];

	snprintf(url, sizeof(url), "%s://127.0.0.1:%d%s", client_ca ? "https" : "http", port, path);
	/* Forget the last request's options (a POST would turn into a
	 * chunked upload from stdin); the connection stays cached. */
	curl_easy_reset(h);
	set_request(h, url, method, r);
	if (post) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, post);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(post));
	}
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	CURLcode rc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
	return rc;
}

static void fetch(int port, const char *method, const char *path, struct resp *r)
{
	CURL *h;
	CURLcode rc;

	curl_once();
	h = curl_easy_init();
	rc = perform(h, port, method, path, NULL, r);
	curl_easy_cleanup(h);
	if (rc != CURLE_OK)
		t_fail(__FILE__, __LINE__, "%s %s: %s", method, path, curl_easy_strerror(rc));
}

static struct httpserver *start(void)
{
	struct httpserver *s = NULL;
	struct buf err;

	buf_init(&err, BUF_MAX_SMALL);
	im_result result = httpserver_start(&s, "127.0.0.1", 0, &err);
	if (result)
		t_fail(__FILE__, __LINE__, "httpserver_start: %s: %s", im_err_name(result),
		       buf_str(&err));
	buf_release(&err);
	ASSERT_TRUE(httpserver_port(s) > 0);
	return s;
}

/* A body of n bytes that is not periodic in any small way, so a chunk sent
 * twice or skipped cannot go unnoticed. */
static char *make_body(size_t n, unsigned seed)
{
	char *p = im_xmalloc(n + 1);
	uint32_t x = seed * 2654435761u + 1;

	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[i] = (i % 64 == 63) ? '\n' : (char)('a' + x % 26);
	}
	p[n] = '\0';
	return p;
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	if (!d)
		return -1;
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

/* ---- raw socket client -------------------------------------------------- */

static int raw_connect(int port)
{
	struct sockaddr_in a = {0};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ASSERT_TRUE(fd >= 0);
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0)
		t_fail(__FILE__, __LINE__, "connect: %s", strerror(errno));
	return fd;
}

static void raw_send(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w <= 0)
			t_fail(__FILE__, __LINE__, "send: %s", strerror(errno));
		p += w;
		n -= (size_t)w;
	}
}

/* Reads until the peer closes, `until` appears, or timeout_ms passes with
 * nothing arriving. Returns what was read (in out). */
static void raw_read(int fd, struct buf *out, const char *until, int timeout_ms)
{
	char tmp[4096];

	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ssize_t r;

		if (until && out->len && strstr(buf_str(out), until))
			return;
		if (poll(&p, 1, timeout_ms) <= 0)
			return;
		r = recv(fd, tmp, sizeof(tmp), 0);
		if (r <= 0)
			return;
		ASSERT_OK(buf_add(out, tmp, (size_t)r));
	}
}

/* ---- tests -------------------------------------------------------------- */

TEST(metrics_byte_exact)
{
	struct httpserver *s = start();
	struct resp r;
	/* NUL, CR, high bytes: the body is bytes, not a C string. */
	static const char text[] = "# HELP a x\n# TYPE a gauge\na{b=\"\xc3\xa9\"} 1\r\n\0tail\xff";
	size_t n = sizeof(text) - 1;

	resp_init(&r);
	fetch(httpserver_port(s), "GET", "/metrics", &r);
	ASSERT_EQ_INT(r.status, 200);
	ASSERT_EQ_INT(r.body.len, 0);
	resp_release(&r);

	httpserver_publish_metrics(s, text, n);
	resp_init(&r);
	fetch(httpserver_port(s), "GET", "/metrics", &r);
	ASSERT_EQ_INT(r.status, 200);
	ASSERT_EQ_INT(r.body.len, n);
	ASSERT_TRUE(memcmp(r.body.ptr, text, n) == 0);
	ASSERT_CONTAINS(buf_str(&r.headers),
			"content-type: text/plain; version=0.0.4; charset=utf-8\r\n");
	resp_release(&r);

	/* The query string does not change the path. */
	resp_init(&r);
	fetch(httpserver_port(s), "GET", "/metrics?x=1", &r);
	ASSERT_EQ_INT(r.status, 200);
	ASSERT_EQ_INT(r.body.len, n);
	resp_release(&r);

	/* HEAD: the length of the body, but no body. */
	resp_init(&r);
	fetch(httpserver_port(s), "HEAD", "/metrics", &r);
	ASSERT_EQ_INT(r.status, 200);
	ASSERT_EQ_INT(r.body.len, 0);
	{
		char want[64];
		snprintf(want, sizeof(want), "content-length: %zu\r\n", n);
		ASSERT_CONTAINS(buf_str(&r.headers), want);
	}
	resp_release(&r);
	httpserver_stop(s);
}

/* GET or HEAD /metrics with an Accept-Encoding header (NULL: none); with
 * decode, libcurl asks for gzip itself and inflates. */
static void fetch_enc(int port, const char *method, const char *accept, bool decode, struct resp *r)
{
	CURL *h;
	CURLcode rc;
	struct curl_slist *hdr = NULL;
	char line[256], url[128];

	curl_once();
	h = curl_easy_init();
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/metrics", port);
	set_request(h, url, method, r);
	if (decode)
		curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "gzip");
	if (accept) {
		snprintf(line, sizeof(line), "Accept-Encoding: %s", accept);
		hdr = curl_slist_append(hdr, line);
		curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
	}
	rc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
	curl_easy_cleanup(h);
	curl_slist_free_all(hdr);
	if (rc != CURLE_OK)
		t_fail(__FILE__, __LINE__, "%s /metrics: %s", method, curl_easy_strerror(rc));
}

/* n bytes of gzip p inflated into out (reset first). */
static void gunzip(const char *p, size_t n, struct buf *out)
{
	z_stream z = {0};
	char chunk[65536];
	int rc;

	buf_reset(out);
	ASSERT_EQ_INT(inflateInit2(&z, 15 + 16), Z_OK);
	z.next_in = (Bytef *)p;
	z.avail_in = (uInt)n;
	do {
		z.next_out = (Bytef *)chunk;
		z.avail_out = sizeof(chunk);
		rc = inflate(&z, Z_NO_FLUSH);
		ASSERT_TRUE(rc == Z_OK || rc == Z_STREAM_END);
		ASSERT_OK(buf_add(out, chunk, sizeof(chunk) - z.avail_out));
	} while (rc != Z_STREAM_END);
	inflateEnd(&z);
}

/* The page is kept gzipped: a client that takes gzip gets it so, with
 * Content-Encoding and Vary; any other gets the page byte for byte, the
 * same length in HEAD as in GET; q=0 refuses a coding. */
TEST(metrics_gzip_only_for_clients_that_take_it)
{
	struct httpserver *s = start();
	/* a page of repeated series, as the controller's, over many chunks */
	size_t n = 0;
	struct buf page, plain;
	struct resp r;
	char want[64];
	int port = httpserver_port(s);
	const char *takes[] = {"gzip", "deflate, gzip;q=0.5", "br, *", "GZIP"};
	const char *refuses[] = {"identity", "gzip;q=0", "deflate, br", "*;q=0.0, identity",
				 "gzip;q=0.000"};

	buf_init(&page, BUF_MAX_LARGE);
	buf_init(&plain, BUF_MAX_LARGE);
	for (int i = 0; page.len < (3u << 20); i++)
		buf_printf(&page,
			   "infermon_engine_running{namespace=\"ns-%d\",pod=\"pod-%d\"} %d\n",
			   i % 10, i, i % 7);
	n = page.len;
	httpserver_publish_metrics(s, page.ptr, n);

	for (size_t i = 0; i < sizeof(takes) / sizeof(takes[0]); i++) {
		resp_init(&r);
		fetch_enc(port, "GET", takes[i], false, &r);
		ASSERT_EQ_INT(r.status, 200);
		ASSERT_CONTAINS(buf_str(&r.headers), "content-encoding: gzip\r\n");
		ASSERT_CONTAINS(buf_str(&r.headers), "vary: Accept-Encoding\r\n");
		ASSERT_TRUE(r.body.len < n / 4);
		gunzip(r.body.ptr, r.body.len, &plain);
		ASSERT_EQ_INT(plain.len, n);
		ASSERT_TRUE(memcmp(plain.ptr, page.ptr, n) == 0);
		snprintf(want, sizeof(want), "content-length: %zu\r\n", r.body.len);
		resp_release(&r);
		resp_init(&r);
		fetch_enc(port, "HEAD", takes[i], false, &r);
		ASSERT_CONTAINS(buf_str(&r.headers), want);
		resp_release(&r);
	}
	for (size_t i = 0; i < sizeof(refuses) / sizeof(refuses[0]); i++) {
		resp_init(&r);
		fetch_enc(port, "GET", refuses[i], false, &r);
		ASSERT_EQ_INT(r.status, 200);
		ASSERT_TRUE(strstr(buf_str(&r.headers), "content-encoding") == NULL);
		ASSERT_CONTAINS(buf_str(&r.headers), "vary: Accept-Encoding\r\n");
		ASSERT_EQ_INT(r.body.len, n);
		ASSERT_TRUE(memcmp(r.body.ptr, page.ptr, n) == 0);
		resp_release(&r);
	}
	/* what a Prometheus does: ask for gzip and inflate */
	resp_init(&r);
	fetch_enc(port, "GET", NULL, true, &r);
	ASSERT_EQ_INT(r.body.len, n);
	ASSERT_TRUE(memcmp(r.body.ptr, page.ptr, n) == 0);
	resp_release(&r);
	/* no Accept-Encoding at all */
	resp_init(&r);
	fetch_enc(port, "GET", NULL, false, &r);
	ASSERT_EQ_INT(r.body.len, n);
	ASSERT_TRUE(memcmp(r.body.ptr, page.ptr, n) == 0);
	resp_release(&r);
	buf_release(&page);
	buf_release(&plain);
	httpserver_stop(s);
}

TEST(keep_alive_reuses_the_connection)
{
	struct httpserver *s = start();
	CURL *h;
	long connects = -1;

	curl_once();
	h = curl_easy_init();
	httpserver_publish_metrics(s, "m 1\n", 4);
	for (int i = 0; i < 5; i++) {
		struct resp r;
		static const char *const paths[] = {"/metrics", "/healthz", "/nope", "/readyz",
						    "/metrics"};

		resp_init(&r);
		ASSERT_EQ_INT(
			perform(h, httpserver_port(s), i == 3 ? "HEAD" : "GET", paths[i], NULL, &r),
			CURLE_OK);
		curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &connects);
		if (i > 0)
			ASSERT_EQ_INT(connects, 0);
		resp_release(&r);
	}
	curl_easy_cleanup(h);
	httpserver_stop(s);
}

TEST(metrics_20mb)
{
	struct httpserver *s = start();
	size_t n = 20u << 20;
	char *body = make_body(n, 1);
	struct resp r;

	httpserver_publish_metrics(s, body, n);
	resp_init(&r);
	fetch(httpserver_port(s), "GET", "/metrics", &r);
	ASSERT_EQ_INT(r.status, 200);
	ASSERT_EQ_INT(r.body.len, n);
	ASSERT_TRUE(memcmp(r.body.ptr, body, n) == 0);
	resp_release(&r);
	im_free(body);
	httpserver_stop(s);
}

struct midsend {
	struct httpserver *s;
	char *next;
	size_t next_len;
	int publishes;
};

/* Publishes new bodies while the download of the old one is under way: at
 * the first chunk, and then every few megabytes. */
static void publish_midway(struct resp *r, size_t got)
{
	struct midsend *m = r->hook_arg;

	if (m->publishes == 0 || got / (4u << 20) > (size_t)m->publishes - 1) {
		m->publishes++;
		httpserver_publish_metrics(m->s, m->next, m->next_len - (size_t)m->publishes);
		/* A slow reader: the server is left holding unsent data. */
		struct timespec ts = {0, 20 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
}

TEST(publish_while_a_slow_reader_downloads)
{
	struct httpserver *s = start();
	size_t n = 20u << 20;
	char *old = make_body(n, 2);
	struct midsend m = {.s = s, .next_len = 1000};
	struct resp r;

	m.next = make_body(m.next_len, 3);
	httpserver_publish_metrics(s, old, n);
	resp_init(&r);
	r.on_chunk = publish_midway;
	r.hook_arg = &m;
	fetch(httpserver_port(s), "GET", "/metrics", &r);
	ASSERT_EQ_INT(r.status, 200);
	ASSERT_TRUE(m.publishes >= 2);
	/* The download finished with the body it started with. */
	ASSERT_EQ_INT(r.body.len, n);
	ASSERT_TRUE(memcmp(r.body.ptr, old, n) == 0);
	resp_release(&r);

	/* The next request gets the last body published. */
	resp_init(&r);
	fetch(httpserver_port(s), "GET", "/metrics", &r);
	ASSERT_EQ_INT(r.body.len, m.next_len - (size_t)m.publishes);
	ASSERT_TRUE(memcmp(r.body.ptr, m.next, r.body.len) == 0);
	resp_release(&r);
	im_free(old);
	im_free(m.next);
	httpserver_stop(s);
}

struct stress {
	struct httpserver *s;
	atomic_int stop;
	int published;
};

/* Body k: "len=<n>\n" followed by n-8.. bytes of one letter, so a reader
 * can check that what it got is one whole body. */
static void *publisher(void *arg)
{
	struct stress *st = arg;
	struct buf b;

	buf_init(&b, BUF_MAX_LARGE);
	for (unsigned k = 0; !atomic_load(&st->stop); k++) {
		size_t n = 1000 + (k * 7919u) % 300000;

		buf_reset(&b);
		buf_printf(&b, "len=%zu\n", n);
		while (b.len < n)
			buf_addc(&b, (char)('a' + k % 26));
		httpserver_publish_metrics(st->s, b.ptr, b.len);
		st->published++;
	}
	buf_release(&b);
	return NULL;
}

TEST(publish_from_another_thread_while_serving)
{
	struct stress st = {.s = start()};
	pthread_t th;

	atomic_init(&st.stop, 0);
	ASSERT_EQ_INT(pthread_create(&th, NULL, publisher, &st), 0);
	for (int i = 0; i < 40; i++) {
		struct resp r;
		size_t want = 0;

		resp_init(&r);
		fetch(httpserver_port(st.s), "GET", "/metrics", &r);
		ASSERT_EQ_INT(r.status, 200);
		if (r.body.len) {
			const char *p = r.body.ptr;
			ASSERT_TRUE(strncmp(p, "len=", 4) == 0);
			for (p += 4; *p >= '0' && *p <= '9'; p++)
				want = want * 10 + (size_t)(*p - '0');
			ASSERT_EQ_INT(r.body.len, want);
			for (size_t j = (size_t)(p - r.body.ptr) + 1; j < r.body.len; j++)
				if (r.body.ptr[j] != r.body.ptr[r.body.len - 1])
					t_fail(__FILE__, __LINE__, "body mixes two snapshots");
		}
		resp_release(&r);
	}
	atomic_store(&st.stop, 1);
	pthread_join(th, NULL);
	ASSERT_TRUE(st.published > 0);
	httpserver_stop(st.s);
}

/* httpserver_set_metrics_refresh: a builder thread stands in for the
 * controller's loop, publishing "built N" each time it is asked. */
struct ondemand {
	struct httpserver *s;
	sem_t asked;
	atomic_int calls;
	atomic_int stop;
	int built;
};

static void od_ask(void *data)
{
	struct ondemand *o = data;
	atomic_fetch_add(&o->calls, 1);
	sem_post(&o->asked);
}

static void od_ignore(void *data)
{
	atomic_fetch_add(&((struct ondemand *)data)->calls, 1);
}

static void *od_builder(void *arg)
{
	struct ondemand *o = arg;
	char text[32];

	while (sem_wait(&o->asked) == 0 && !atomic_load(&o->stop)) {
		int n = snprintf(text, sizeof(text), "built %d\n", ++o->built);
		httpserver_publish_metrics(o->s, text, (size_t)n);
	}
	return NULL;
}

static void get_metrics(struct httpserver *s, const char *want)
{
	struct resp r;
	resp_init(&r);
	fetch(httpserver_port(s), "GET", "/metrics", &r);
	ASSERT_EQ_INT(r.status, 200);
	ASSERT_STREQ(buf_str(&r.body), want);
	resp_release(&r);
}

TEST(metrics_built_when_read)
{
	struct ondemand o = {.s = start()};
	pthread_t th;

	atomic_init(&o.calls, 0);
	atomic_init(&o.stop, 0);
	sem_init(&o.asked, 0, 0);
	ASSERT_EQ_INT(pthread_create(&th, NULL, od_builder, &o), 0);
	httpserver_set_metrics_refresh(o.s, od_ask, &o, 60000, 5000);
	/* nothing published yet: the first request waits for a page */
	get_metrics(o.s, "built 1\n");
	ASSERT_EQ_INT(atomic_load(&o.calls), 1);
	/* younger than the age: served as it is, nobody asked */
	get_metrics(o.s, "built 1\n");
	get_metrics(o.s, "built 1\n");
	ASSERT_EQ_INT(atomic_load(&o.calls), 1);
	/* age 0: every request gets a page built for it */
	httpserver_set_metrics_refresh(o.s, od_ask, &o, 0, 5000);
	get_metrics(o.s, "built 2\n");
	get_metrics(o.s, "built 3\n");
	ASSERT_EQ_INT(atomic_load(&o.calls), 3);
	/* an owner that does not answer: the old page after the wait */
	httpserver_set_metrics_refresh(o.s, od_ignore, &o, 0, 200);
	get_metrics(o.s, "built 3\n");
	ASSERT_EQ_INT(atomic_load(&o.calls), 4);
	/* turned off: no call, the last page */
	httpserver_set_metrics_refresh(o.s, NULL, NULL, 0, 0);
	get_metrics(o.s, "built 3\n");
	ASSERT_EQ_INT(atomic_load(&o.calls), 4);
	atomic_store(&o.stop, 1);
	sem_post(&o.asked);
	pthread_join(th, NULL);
	sem_destroy(&o.asked);
	httpserver_stop(o.s);
}

TEST(healthz_follows_the_heartbeat)
{
	struct httpserver *s = start();
	struct resp r;

	resp_init(&r);
	fetch(httpserver_port(s), "GET", "/healthz", &r);
	ASSERT_EQ_INT(r.status, 200);
	ASSERT_STREQ(buf_str(&r.body), "ok\n");
	resp_release(&r);

	/* A limit of 0 s makes any heartbeat stale. */
	httpserver_set_stale_after(s, 0);
	resp_init(&r);
	fetch(httpserver_port(s), "GET", "/healthz", &r);
	ASSERT_EQ_INT(r.status, 503);
	ASSERT_STREQ(buf_str(&r.body), "event loop stalled for 0 s (limit 0 s)\n");
	resp_release(&r);

	/* A real clock: one second without a heartbeat against a 1 s limit. */
	httpserver_set_stale_after(s, 1);
	httpserver_heartbeat(s);
	{
		struct timespec ts = {1, 100 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	resp_init(&r);
	fetch(httpserver_port(s), "GET", "/healthz", &r);
	ASSERT_EQ_INT(r.status, 503);
	ASSERT_CONTAINS(buf_str(&r.body), "event loop stalled for ");
	ASSERT_CONTAINS(buf_str(&r.body), " s (limit 1 s)\n");
	resp_release(&r);

	/* A fresh heartbeat within the default limit is healthy again. */
	httpserver_set_stale_after(s, HTTPSERVER_DEFAULT_STALE_S);
	httpserver_heartbeat(s);
	resp_init(&r);
	fetch(httpserver_port(s), "GET", "/healthz", &r);
	ASSERT_EQ_INT(r.status, 200);
	ASSERT_STREQ(buf_str(&r.body), "ok\n");
	resp_release(&r);
	httpserver_stop(s);
}

TEST(readyz_reports_the_reason)
{
	struct httpserver *s = start();
	struct resp r;

	resp_init(&r);
	fetch(httpserver_port(s), "GET", "/readyz", &r);
	ASSERT_EQ_INT(r.status, 503);
	ASSERT_STREQ(buf_str(&r.body), "starting\n");
	resp_release(&r);

	httpserver_set_ready(s, false, "pod cache not synced");
	resp_init(&r);
	fetch(httpserver_port(s), "GET", "/readyz", &r);
	ASSERT_EQ_INT(r.status, 503);
	ASSERT_STREQ(buf_str(&r.body), "pod cache not synced\n");
	ASSERT_CONTAINS(buf_str(&r.headers), "content-type: text/plain; charset=utf-8\r\n");
	resp_release(&r);

	httpserver_set_ready(s, true, NULL);
	resp_init(&r);
	fetch(httpserver_port(s), "GET", "/readyz", &r);
	ASSERT_EQ_INT(r.status, 200);
	ASSERT_STREQ(buf_str(&r.body), "ok\n");
	resp_release(&r);

	httpserver_set_ready(s, false, NULL);
	resp_init(&r);
	fetch(httpserver_port(s), "GET", "/readyz", &r);
	ASSERT_EQ_INT(r.status, 503);
	ASSERT_STREQ(buf_str(&r.body), "not ready\n");
	resp_release(&r);

	/* A reason stays on one line. */
	httpserver_set_ready(s, false, "cache\nnot\rsynced");
	resp_init(&r);
	fetch(httpserver_port(s), "GET", "/readyz", &r);
	ASSERT_STREQ(buf_str(&r.body), "cache not synced\n");
	resp_release(&r);
	httpserver_stop(s);
}

TEST(unknown_path_is_404)
{
	struct httpserver *s = start();
	static const char *const paths[] = {"/", "/metricsx", "/healthz/x", "/favicon.ico",
					    "/Metrics"};

	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		struct resp r;

		resp_init(&r);
		fetch(httpserver_port(s), "GET", paths[i], &r);
		ASSERT_EQ_INT(r.status, 404);
		ASSERT_STREQ(buf_str(&r.body), "not found\n");
		resp_release(&r);
	}
	httpserver_stop(s);
}

TEST(other_methods_are_405)
{
	struct httpserver *s = start();
	CURL *h;
	struct resp r;

	curl_once();
	h = curl_easy_init();
	/* With a body and without one; the connection is closed after the
	 * refusal, and the handle goes on with a new one. */
	resp_init(&r);
	ASSERT_EQ_INT(perform(h, httpserver_port(s), "POST", "/metrics", "a=b&c=d", &r), CURLE_OK);
	ASSERT_EQ_INT(r.status, 405);
	ASSERT_CONTAINS(buf_str(&r.headers), "allow: GET, HEAD\r\n");
	ASSERT_CONTAINS(buf_str(&r.headers), "connection: close\r\n");
	ASSERT_STREQ(buf_str(&r.body), "method not allowed\n");
	resp_release(&r);
	static const char *const methods[] = {"PUT", "DELETE", "OPTIONS", "PATCH"};
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		resp_init(&r);
		ASSERT_EQ_INT(perform(h, httpserver_port(s), methods[i], "/healthz", NULL, &r),
			      CURLE_OK);
		ASSERT_EQ_INT(r.status, 405);
		resp_release(&r);
	}
	resp_init(&r);
	ASSERT_EQ_INT(perform(h, httpserver_port(s), "GET", "/healthz", NULL, &r), CURLE_OK);
	ASSERT_EQ_INT(r.status, 200);
	resp_release(&r);
	curl_easy_cleanup(h);
	httpserver_stop(s);
}

TEST(port_in_use_and_bad_addresses)
{
	static char sentinel;
	/* Not NULL, so the test sees that a failed start clears *out. */
	struct httpserver *s = start(), *s2 = (struct httpserver *)&sentinel;
	struct buf err, want;

	buf_init(&err, BUF_MAX_SMALL);
	buf_init(&want, BUF_MAX_SMALL);
	ASSERT_ERR(httpserver_start(&s2, "127.0.0.1", httpserver_port(s), &err), IM_IO);
	ASSERT_TRUE(s2 == NULL);
	buf_printf(&want, "cannot listen on 127.0.0.1:%d: address already in use",
		   httpserver_port(s));
	ASSERT_STREQ(buf_str(&err), buf_str(&want));

	ASSERT_ERR(httpserver_start(&s2, "localhost", 0, &err), IM_INVAL);
	ASSERT_STREQ(buf_str(&err),
		     "cannot listen on \"localhost\": not a numeric IPv4 or IPv6 address");
	ASSERT_ERR(httpserver_start(&s2, "127.0.0.1", 65536, &err), IM_INVAL);
	ASSERT_STREQ(buf_str(&err), "cannot listen on 127.0.0.1:65536: port out of range");
	/* An address this host does not have. */
	ASSERT_ERR(httpserver_start(&s2, "192.0.2.1", 0, &err), IM_IO);
	ASSERT_STREQ(buf_str(&err),
		     "cannot listen on 192.0.2.1:0: cannot assign requested address");
	/* err may be NULL. */
	ASSERT_ERR(httpserver_start(&s2, "::1:", 0, NULL), IM_INVAL);
	ASSERT_TRUE(s2 == NULL);
	buf_release(&err);
	buf_release(&want);
	httpserver_stop(s);
	httpserver_stop(NULL);
}

TEST(ipv6_any_also_serves_ipv4)
{
	struct httpserver *s = NULL;
	struct buf err;
	struct resp r;
	int probe = socket(AF_INET6, SOCK_STREAM, 0);

	/* no skip: a host without IPv6 cannot run this test, and says so */
	if (probe < 0)
		t_fail(__FILE__, __LINE__, "this test needs IPv6: socket(AF_INET6): %s",
		       strerror(errno));
	close(probe);
	buf_init(&err, BUF_MAX_SMALL);
	im_result result = httpserver_start(&s, "::", 0, &err);
	if (result)
		t_fail(__FILE__, __LINE__, "httpserver_start: %s", buf_str(&err));
	buf_release(&err);
	resp_init(&r);
	fetch(httpserver_port(s), "GET", "/healthz", &r);
	ASSERT_EQ_INT(r.status, 200);
	resp_release(&r);
	httpserver_stop(s);
}

TEST(connection_limit_queues_the_rest)
{
	struct httpserver *s = start();
	int fds[HTTPSERVER_MAX_CONNS], extra;
	static const char req[] = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
	struct buf in;

	buf_init(&in, BUF_MAX_SMALL);
	/* Fill every slot with a kept-alive connection that has been served,
	 * so the server has surely accepted each of them. */
	for (int i = 0; i < HTTPSERVER_MAX_CONNS; i++) {
		fds[i] = raw_connect(httpserver_port(s));
		raw_send(fds[i], req, sizeof(req) - 1);
		buf_reset(&in);
		raw_read(fds[i], &in, "ok\n", 30000);
		ASSERT_CONTAINS(buf_str(&in), "HTTP/1.1 200");
	}
	/* One more: the kernel completes the handshake, the server does not
	 * take it while all slots are busy. */
	extra = raw_connect(httpserver_port(s));
	raw_send(extra, req, sizeof(req) - 1);
	buf_reset(&in);
	raw_read(extra, &in, NULL, 300);
	ASSERT_EQ_INT(in.len, 0);
	/* A slot frees up: the waiting connection is served. */
	close(fds[0]);
	raw_read(extra, &in, "ok\n", 30000);
	ASSERT_CONTAINS(buf_str(&in), "HTTP/1.1 200");
	close(extra);
	for (int i = 1; i < HTTPSERVER_MAX_CONNS; i++)
		close(fds[i]);
	buf_release(&in);
	httpserver_stop(s);
}

TEST(oversized_request_headers_are_refused)
{
	struct httpserver *s = start();
	struct buf req, in;
	int fd;
	struct resp r;

	buf_init(&req, BUF_MAX_SMALL);
	buf_init(&in, BUF_MAX_SMALL);
	buf_adds(&req, "GET /healthz HTTP/1.1\r\nHost: x\r\nUser-Agent: ");
	for (int i = 0; i < 3 * HTTPSERVER_MAX_HEADER; i++)
		buf_addc(&req, 'u');
	buf_adds(&req, "\r\n\r\n");
	fd = raw_connect(httpserver_port(s));
	send(fd, req.ptr, req.len, MSG_NOSIGNAL); /* may fail once the server closed */
	raw_read(fd, &in, NULL, 30000);
	/* Either an error status or a closed connection; never served. */
	if (in.len)
		ASSERT_TRUE(strncmp(buf_str(&in), "HTTP/1.1 4", 10) == 0);
	close(fd);
	buf_release(&req);
	buf_release(&in);

	/* The server is still fine. */
	resp_init(&r);
	fetch(httpserver_port(s), "GET", "/healthz", &r);
	ASSERT_EQ_INT(r.status, 200);
	resp_release(&r);
	httpserver_stop(s);
}

TEST(stop_is_clean_with_connections_open)
{
	int fds_before = count_fds();
	struct httpserver *s = start();
	size_t n = 8u << 20;
	char *body = make_body(n, 4);
	static const char req[] = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";
	struct buf in;
	struct resp r;
	int stalled, idle, half;

	buf_init(&in, BUF_MAX_SMALL);
	httpserver_publish_metrics(s, body, n);
	im_free(body);
	/* The server holds the only other reference to the body now; after
	 * this publish, only the stalled response below does. */
	stalled = raw_connect(httpserver_port(s));
	raw_send(stalled, req, sizeof(req) - 1);
	raw_read(stalled, &in, "\r\n\r\n", 30000);
	ASSERT_CONTAINS(buf_str(&in), "HTTP/1.1 200");
	httpserver_publish_metrics(s, "x 1\n", 4);
	/* An idle connection and one with half a request. */
	idle = raw_connect(httpserver_port(s));
	half = raw_connect(httpserver_port(s));
	raw_send(half, "GET /metr", 9);
	/* The server accepts in order, all it can at once: once a later
	 * connection is served, these two have been accepted. */
	resp_init(&r);
	fetch(httpserver_port(s), "GET", "/healthz", &r);
	ASSERT_EQ_INT(r.status, 200);
	resp_release(&r);
	httpserver_stop(s);
	/* Every server socket is closed: the clients see EOF. */
	buf_reset(&in);
	raw_read(idle, &in, NULL, 30000);
	ASSERT_EQ_INT(in.len, 0);
	close(stalled);
	close(idle);
	close(half);
	buf_release(&in);
	ASSERT_EQ_INT(count_fds(), fds_before);
}

TEST(start_stop_repeatedly)
{
	int fds_before = count_fds();

	for (int i = 0; i < 20; i++) {
		struct httpserver *s = start();
		httpserver_heartbeat(s);
		httpserver_set_ready(s, i % 2, "x");
		httpserver_stop(s);
	}
	ASSERT_EQ_INT(count_fds(), fds_before);
}

/* ---- HTTPS and who may read /metrics ----------------------------------- */

/* Stands in for the loop thread's reviews (metricsreview.c, which the
 * integration tests run against the API server): takes queued tokens and
 * settles them by name: "good..." allowed, "nope..." forbidden, anything
 * else unauthenticated; with hold set, it leaves them queued. */
struct reviewer {
	struct metricsauth *auth;
	pthread_t thread;
	atomic_bool stop, hold;
	atomic_int reviewed;
};

static void *reviewer_main(void *arg)
{
	struct reviewer *rv = arg;
	struct metricsauth_job job;

	while (!atomic_load(&rv->stop)) {
		if (atomic_load(&rv->hold) || !metricsauth_take(rv->auth, &job)) {
			usleep(2000);
			continue;
		}
		if (strncmp(job.token, "good", 4) == 0)
			metricsauth_settle(rv->auth, job.key, METRICSAUTH_ALLOWED, NULL);
		else if (strncmp(job.token, "nope", 4) == 0)
			metricsauth_settle(rv->auth, job.key, METRICSAUTH_FORBIDDEN,
					   "user \"nope\" may not get /metrics");
		else
			metricsauth_settle(rv->auth, job.key, METRICSAUTH_UNAUTHENTICATED,
					   "the bearer token was not accepted");
		metricsauth_job_release(&job);
		atomic_fetch_add(&rv->reviewed, 1);
	}
	return NULL;
}

static struct httpserver *start_secure(struct tlscert *cert, struct metricsauth *auth)
{
	struct httpserver *s = NULL;
	struct httpserver_tls tls;
	struct buf err;

	buf_init(&err, BUF_MAX_SMALL);
	tlscert_init(cert);
	ASSERT_OK(tlscert_self_signed(cert, NULL, &err));
	tls = (struct httpserver_tls){cert->cert.ptr, cert->cert.len, cert->key.ptr, cert->key.len};
	if (httpserver_start_secure(&s, "127.0.0.1", 0, &tls, auth, &err))
		t_fail(__FILE__, __LINE__, "httpserver_start_secure: %s", buf_str(&err));
	buf_release(&err);
	client_ca = cert;
	return s;
}

static void stop_secure(struct httpserver *s, struct tlscert *cert)
{
	httpserver_stop(s);
	tlscert_release(cert);
	client_ca = NULL;
	client_auth = NULL;
}

TEST(https_serves_with_the_certificate_given)
{
	struct tlscert cert;
	struct httpserver *s = start_secure(&cert, NULL);
	struct resp r;
	struct buf in;
	int fd;

	httpserver_publish_metrics(s, "up 1\n", 5);
	/* curl verifies the chain and the name 127.0.0.1 against the cert */
	resp_init(&r);
	fetch(httpserver_port(s), "GET", "/metrics", &r);
	ASSERT_EQ_INT(r.status, 200);
	ASSERT_STREQ(buf_str(&r.body), "up 1\n");
	resp_release(&r);
	/* plain HTTP on the HTTPS port is never served */
	buf_init(&in, BUF_MAX_SMALL);
	fd = raw_connect(httpserver_port(s));
	raw_send(fd, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", 34);
	raw_read(fd, &in, NULL, 30000);
	ASSERT_TRUE(strstr(buf_str(&in), "up 1") == NULL);
	close(fd);
	buf_release(&in);
	stop_secure(s, &cert);
}

TEST(metrics_needs_a_bearer_token_probes_do_not)
{
	struct tlscert cert;
	struct metricsauth *auth = metricsauth_new(NULL);
	struct httpserver *s = start_secure(&cert, auth);
	static const char *const malformed[] = {
		"Authorization: Basic dXNlcjpwYXNz", "Authorization: Bearer",
		"Authorization: Bearer a b", "Authorization: Bearer tok\"en",
		"Authorization: Bearerx"};
	struct metricsauth_stats st;
	struct resp r;

	httpserver_publish_metrics(s, "up 1\n", 5);
	httpserver_set_ready(s, true, NULL);
	resp_init(&r);
	fetch(httpserver_port(s), "GET", "/metrics", &r);
	ASSERT_EQ_INT(r.status, 401);
	ASSERT_CONTAINS(buf_str(&r.headers), "www-authenticate: Bearer");
	ASSERT_CONTAINS(buf_str(&r.body), "no bearer token");
	resp_release(&r);
	for (size_t i = 0; i < sizeof(malformed) / sizeof(malformed[0]); i++) {
		client_auth = malformed[i];
		resp_init(&r);
		fetch(httpserver_port(s), "GET", "/metrics", &r);
		ASSERT_EQ_INT(r.status, 401);
		ASSERT_CONTAINS(buf_str(&r.body), "malformed Authorization header");
		ASSERT_TRUE(strstr(buf_str(&r.body), "up 1") == NULL);
		resp_release(&r);
	}
	client_auth = NULL;
	resp_init(&r);
	fetch(httpserver_port(s), "HEAD", "/metrics", &r);
	ASSERT_EQ_INT(r.status, 401);
	resp_release(&r);
	/* the kubelet's probes carry no token */
	resp_init(&r);
	fetch(httpserver_port(s), "GET", "/healthz", &r);
	ASSERT_EQ_INT(r.status, 200);
	resp_release(&r);
	resp_init(&r);
	fetch(httpserver_port(s), "GET", "/readyz", &r);
	ASSERT_EQ_INT(r.status, 200);
	resp_release(&r);
	/* none of that asked for a review */
	metricsauth_stats(auth, &st);
	ASSERT_EQ_INT(st.queued, 0);
	ASSERT_EQ_INT(st.entries, 0);
	stop_secure(s, &cert);
	metricsauth_free(auth);
}

TEST(metrics_answers_by_the_review_and_keeps_the_verdict)
{
	struct tlscert cert;
	struct reviewer rv = {.auth = metricsauth_new(NULL)};
	struct httpserver *s = start_secure(&cert, rv.auth);
	struct metricsauth_stats st;
	struct resp r;

	ASSERT_EQ_INT(pthread_create(&rv.thread, NULL, reviewer_main, &rv), 0);
	httpserver_publish_metrics(s, "up 1\n", 5);
	for (int i = 0; i < 20; i++) {
		client_auth = "Authorization: Bearer good-token";
		resp_init(&r);
		fetch(httpserver_port(s), "GET", "/metrics", &r);
		ASSERT_EQ_INT(r.status, 200);
		ASSERT_STREQ(buf_str(&r.body), "up 1\n");
		resp_release(&r);
	}
	client_auth = "authorization:   bEaReR   nope-token  ";
	resp_init(&r);
	fetch(httpserver_port(s), "GET", "/metrics", &r);
	ASSERT_EQ_INT(r.status, 403);
	ASSERT_CONTAINS(buf_str(&r.body), "Forbidden: user \"nope\" may not get /metrics");
	resp_release(&r);
	client_auth = "Authorization: Bearer expired.or.garbage";
	resp_init(&r);
	fetch(httpserver_port(s), "GET", "/metrics", &r);
	ASSERT_EQ_INT(r.status, 401);
	ASSERT_CONTAINS(buf_str(&r.body), "not accepted");
	resp_release(&r);
	/* twenty scrapes with one token: one review */
	atomic_store(&rv.stop, true);
	pthread_join(rv.thread, NULL);
	ASSERT_EQ_INT(atomic_load(&rv.reviewed), 3);
	metricsauth_stats(rv.auth, &st);
	ASSERT_EQ_INT(st.requests[METRICSAUTH_ALLOWED], 20);
	ASSERT_EQ_INT(st.cache_hits, 19);
	ASSERT_EQ_INT(st.requests[METRICSAUTH_FORBIDDEN], 1);
	ASSERT_EQ_INT(st.requests[METRICSAUTH_UNAUTHENTICATED], 1);
	stop_secure(s, &cert);
	metricsauth_free(rv.auth);
}

struct bg_fetch {
	int port;
	const char *path;
	struct resp r;
	pthread_t thread;
};

static void *bg_fetch_main(void *arg)
{
	struct bg_fetch *b = arg;

	fetch(b->port, "GET", b->path, &b->r);
	return NULL;
}

TEST(a_request_under_review_does_not_hold_the_others)
{
	struct tlscert cert;
	struct reviewer rv = {.auth = metricsauth_new(NULL)};
	struct httpserver *s = start_secure(&cert, rv.auth);
	struct bg_fetch waiting = {.port = httpserver_port(s), .path = "/metrics"};
	struct metricsauth_stats st;
	struct resp r;

	httpserver_publish_metrics(s, "up 1\n", 5);
	atomic_store(&rv.hold, true);
	ASSERT_EQ_INT(pthread_create(&rv.thread, NULL, reviewer_main, &rv), 0);
	client_auth = "Authorization: Bearer good-slow";
	resp_init(&waiting.r);
	ASSERT_EQ_INT(pthread_create(&waiting.thread, NULL, bg_fetch_main, &waiting), 0);
	/* the token is queued: the request waits for its verdict */
	for (int i = 0; i < 5000; i++) {
		metricsauth_stats(rv.auth, &st);
		if (st.queued == 1)
			break;
		usleep(1000);
	}
	ASSERT_EQ_INT(st.queued, 1);
	/* meanwhile the server answers everyone else */
	client_auth = NULL;
	for (int i = 0; i < 5; i++) {
		resp_init(&r);
		fetch(httpserver_port(s), "GET", "/healthz", &r);
		ASSERT_EQ_INT(r.status, 200);
		resp_release(&r);
		resp_init(&r);
		fetch(httpserver_port(s), "GET", "/metrics", &r);
		ASSERT_EQ_INT(r.status, 401);
		resp_release(&r);
	}
	ASSERT_EQ_INT(waiting.r.status, 0);
	/* the verdict comes: the waiting request is answered */
	atomic_store(&rv.hold, false);
	pthread_join(waiting.thread, NULL);
	ASSERT_EQ_INT(waiting.r.status, 200);
	ASSERT_STREQ(buf_str(&waiting.r.body), "up 1\n");
	resp_release(&waiting.r);
	atomic_store(&rv.stop, true);
	pthread_join(rv.thread, NULL);
	stop_secure(s, &cert);
	metricsauth_free(rv.auth);
}

TEST(slow_clients_do_not_hold_the_others)
{
	struct tlscert cert;
	struct httpserver *s = start_secure(&cert, NULL);
	int slow[8];
	struct resp r;

	/* TCP connections that never finish a TLS handshake, and ones that
	 * sent half a ClientHello */
	for (int i = 0; i < 8; i++) {
		slow[i] = raw_connect(httpserver_port(s));
		if (i % 2)
			raw_send(slow[i], "\x16\x03\x01\x02", 4);
	}
	for (int i = 0; i < 5; i++) {
		resp_init(&r);
		fetch(httpserver_port(s), "GET", "/healthz", &r);
		ASSERT_EQ_INT(r.status, 200);
		resp_release(&r);
	}
	/* and they are dropped once the handshake's time is up */
	for (int i = 0; i < 8; i++) {
		struct pollfd p = {.fd = slow[i], .events = POLLIN};
		char c;

		ASSERT_EQ_INT(poll(&p, 1, 60000), 1);
		ASSERT_TRUE(recv(slow[i], &c, 1, 0) <= 0);
		close(slow[i]);
	}
	stop_secure(s, &cert);
}

int main(int argc, char **argv)
{
	int rc = t_run(argc, argv);

	curl_global_cleanup();
	return rc;
}
