/*
 * http.c over real sockets (t_httpd on the same loop): calls completing,
 * timing out, failing, cancelled and freed in every order, also from inside
 * other calls' chunk and done callbacks, where libcurl refuses to add or
 * remove transfers. Each call's callbacks must run only while its owner
 * holds it, and done exactly once per start.
 */
#include <signal.h>
#include <stdint.h>

#include "http.h"
#include "t.h"
#include "t_httpd.h"

struct rig {
	struct loop loop;
	struct http http;
	struct t_httpd d;
	uv_timer_t watchdog, step;
	bool finished, timed_out;
};

static void rig_finish(struct rig *r)
{
	if (r->finished)
		return;
	r->finished = true;
	uv_timer_stop(&r->watchdog);
	uv_close((uv_handle_t *)&r->watchdog, NULL);
	if (!uv_is_closing((uv_handle_t *)&r->step))
		uv_close((uv_handle_t *)&r->step, NULL);
	t_httpd_stop(&r->d);
	http_release(&r->http);
	loop_close_handle((uv_handle_t *)&r->loop.wake, NULL);
}

static void watchdog_cb(uv_timer_t *t)
{
	struct rig *r = t->data;

	r->timed_out = true;
	rig_finish(r);
}

static void rig_init(struct rig *r, uint64_t watchdog_ms)
{
	memset(r, 0, sizeof(*r));
	ASSERT_OK(loop_init(&r->loop));
	ASSERT_OK(http_init(&r->http, &r->loop));
	ASSERT_EQ_INT(t_httpd_start(&r->d, &r->loop.uv), 0);
	uv_timer_init(&r->loop.uv, &r->watchdog);
	r->watchdog.data = r;
	uv_timer_start(&r->watchdog, watchdog_cb, watchdog_ms, 0);
	uv_timer_init(&r->loop.uv, &r->step);
	r->step.data = r;
}

static void rig_run(struct rig *r)
{
	loop_run(&r->loop);
	loop_release(&r->loop);
	ASSERT_TRUE(!r->timed_out);
}

static struct http_call *rig_call(struct rig *r, const char *path, long total_ms)
{
	char url[128];
	struct http_call *c;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", r->d.port, path);
	c = http_call_new(&r->http, "GET", url);
	http_call_timeouts(c, 2000, total_ms, 0);
	return c;
}

/* ---- a watch's chunk callback frees other transfers ---- */

/* with the stream, fewer than CURLMOPT_MAX_HOST_CONNECTIONS: none queues */
#define VICTIMS 6
#define FREED 2    /* victims [0, FREED) are freed in the chunk callback */
#define CANCELED 4 /* [FREED, CANCELED) cancelled there; the rest finish */

struct chunk_case {
	struct rig rig;
	struct http_call *stream, *victims[VICTIMS], *late;
	int victim_done[VICTIMS], victim_result[VICTIMS];
	int stream_chunks, late_done, late_result;
	long late_status;
	int outstanding;
};

static void chunk_case_check_end(struct chunk_case *k)
{
	if (--k->outstanding == 0)
		rig_finish(&k->rig);
}

static void victim_done(struct http_call *c, im_result result, void *data)
{
	struct chunk_case *k = data;

	for (int i = 0; i < VICTIMS; i++) {
		if (k->victims[i] == c) {
			k->victim_done[i]++;
			k->victim_result[i] = result;
			k->victims[i] = NULL;
		}
	}
	http_call_free(c);
	chunk_case_check_end(k);
}

static void late_done(struct http_call *c, im_result result, void *data)
{
	struct chunk_case *k = data;

	k->late_done++;
	k->late_result = result;
	k->late_status = http_call_status(c);
	http_call_free(c);
	k->late = NULL;
	chunk_case_check_end(k);
}

static im_result stream_chunk(struct http_call *c, const char *p, size_t n, void *data)
{
	struct chunk_case *k = data;

	(void)c, (void)p, (void)n;
	if (++k->stream_chunks != 3)
		return IM_OK;
	/* what a pod DELETE seen on the watch does to that pod's scrapes */
	for (int i = 0; i < FREED; i++) {
		http_call_free(k->victims[i]);
		k->victims[i] = NULL;
		chunk_case_check_end(k);
	}
	for (int i = FREED; i < CANCELED; i++) {
		ASSERT_TRUE(http_call_running(k->victims[i]));
		http_call_cancel(k->victims[i]);
		chunk_case_check_end(k);
	}
	/* and a new pod's first scrape */
	k->late = rig_call(&k->rig, "/fast", 5000);
	ASSERT_OK(http_call_start(k->late, late_done, k));
	k->outstanding++;
	return IM_OK;
}

static void stream_done(struct http_call *c, im_result result, void *data)
{
	struct chunk_case *k = data;

	ASSERT_OK(result);
	http_call_free(c);
	k->stream = NULL;
	/* the cancelled ones are still the owner's to free */
	for (int i = FREED; i < CANCELED; i++) {
		http_call_free(k->victims[i]);
		k->victims[i] = NULL;
	}
	chunk_case_check_end(k);
}

TEST(free_and_start_calls_from_a_chunk_callback)
{
	static struct chunk_case k;

	memset(&k, 0, sizeof(k));
	rig_init(&k.rig, 20000);
	for (int i = 0; i < VICTIMS; i++) {
		k.victims[i] = rig_call(&k.rig, "/slow?ms=20&chunks=25", 10000);
		ASSERT_OK(http_call_start(k.victims[i], victim_done, &k));
		k.outstanding++;
	}
	k.stream = rig_call(&k.rig, "/slow?ms=15&chunks=10", 10000);
	http_call_stream(k.stream, stream_chunk);
	ASSERT_OK(http_call_start(k.stream, stream_done, &k));
	k.outstanding++;
	rig_run(&k.rig);

	ASSERT_EQ_INT(k.stream_chunks >= 10, 1);
	for (int i = 0; i < CANCELED; i++)
		ASSERT_EQ_INT(k.victim_done[i], 0);
	for (int i = CANCELED; i < VICTIMS; i++) {
		ASSERT_EQ_INT(k.victim_done[i], 1);
		ASSERT_EQ_INT(k.victim_result[i], IM_OK);
	}
	ASSERT_EQ_INT(k.late_done, 1);
	ASSERT_EQ_INT(k.late_result, IM_OK);
	ASSERT_EQ_INT(k.late_status, 200);
	ASSERT_EQ_INT(k.rig.http.active, 0);
}

/* ---- a seeded random schedule ---- */

#define SLOTS 24

enum route { R_FAST, R_SLOW, R_HANG, R_RESET, R_404, R_COUNT };

struct slot {
	struct rand_case *k;
	struct http_call *call;
	enum route route;
	bool running, stream;
	int chunk_no;
};

struct rand_case {
	struct rig rig;
	struct slot slots[SLOTS];
	uint64_t rng;
	int steps_left;
	/* what happened */
	long started, done, cancels, frees, from_chunk, from_done, violations;
	long by_route[R_COUNT][IM_ERR_MAX];
	char first_violation[160];
};

static uint32_t rnd(struct rand_case *k, uint32_t n)
{
	k->rng ^= k->rng << 13;
	k->rng ^= k->rng >> 7;
	k->rng ^= k->rng << 17;
	return (uint32_t)(k->rng % n);
}

static void violation(struct rand_case *k, const char *what, int slot)
{
	if (!k->violations++)
		snprintf(k->first_violation, sizeof(k->first_violation), "%s (slot %d)", what,
			 slot);
}

static void rand_done(struct http_call *c, im_result result, void *data);
static im_result rand_chunk(struct http_call *c, const char *p, size_t n, void *data);

static void slot_free(struct slot *s)
{
	if (!s->call)
		return;
	s->k->frees++;
	http_call_free(s->call);
	s->call = NULL;
	s->running = false;
}

static void slot_cancel(struct slot *s)
{
	if (!s->running)
		return;
	s->k->cancels++;
	http_call_cancel(s->call);
	s->running = false;
}

static void slot_start(struct slot *s)
{
	static const char *const paths[R_COUNT] = {"/fast", NULL, "/hang", "/reset", "/nope"};
	struct rand_case *k = s->k;
	char path[64];

	if (s->running)
		return;
	if (!s->call || rnd(k, 3) == 0) {
		slot_free(s);
		s->route = (enum route)rnd(k, R_COUNT);
		if (s->route == R_SLOW)
			snprintf(path, sizeof(path), "/slow?ms=%u&chunks=%u", 1 + rnd(k, 8),
				 rnd(k, 12));
		else
			snprintf(path, sizeof(path), "%s", paths[s->route]);
		s->call = rig_call(&k->rig, path, 40 + rnd(k, 200));
		s->stream = rnd(k, 2);
		if (s->stream)
			http_call_stream(s->call, rand_chunk);
	}
	s->chunk_no = 0;
	if (http_call_start(s->call, rand_done, s) == IM_OK) {
		s->running = true;
		k->started++;
	}
}

/* Something a callback does to another slot, or to its own. */
static void meddle(struct rand_case *k)
{
	struct slot *o = &k->slots[rnd(k, SLOTS)];

	switch (rnd(k, 4)) {
	case 0:
		slot_free(o);
		break;
	case 1:
		slot_cancel(o);
		break;
	default:
		slot_start(o);
		break;
	}
}

static im_result rand_chunk(struct http_call *c, const char *p, size_t n, void *data)
{
	struct slot *s = data;
	struct rand_case *k = s->k;
	int i = (int)(s - k->slots);

	(void)p, (void)n;
	if (s->call != c || !s->running)
		violation(k, "chunk callback of a call its owner gave up", i);
	s->chunk_no++;
	if (rnd(k, 4) == 0) {
		k->from_chunk++;
		meddle(k);
	}
	if (rnd(k, 40) == 0)
		return IM_PARSE; /* the owner aborts its own transfer */
	return IM_OK;
}

static void rand_done(struct http_call *c, im_result result, void *data)
{
	struct slot *s = data;
	struct rand_case *k = s->k;
	int i = (int)(s - k->slots);

	if (s->call != c || !s->running) {
		violation(k, "done callback of a call its owner gave up", i);
		return;
	}
	s->running = false;
	k->done++;
	if (result >= 0 && result < IM_ERR_MAX)
		k->by_route[s->route][result]++;
	if (rnd(k, 3) == 0) {
		k->from_done++;
		meddle(k);
	}
	if (rnd(k, 2) == 0)
		slot_free(s);
}

static void step_cb(uv_timer_t *t)
{
	struct rand_case *k = t->data;

	if (k->steps_left-- > 0) {
		meddle(k);
		return;
	}
	for (int i = 0; i < SLOTS; i++)
		slot_free(&k->slots[i]);
	rig_finish(&k->rig);
}

static void run_random(uint64_t seed, int steps)
{
	static struct rand_case k;

	memset(&k, 0, sizeof(k));
	k.rng = seed;
	k.steps_left = steps;
	for (int i = 0; i < SLOTS; i++)
		k.slots[i].k = &k;
	rig_init(&k.rig, 60000);
	k.rig.step.data = &k;
	uv_timer_start(&k.rig.step, step_cb, 1, 1);
	rig_run(&k.rig);

	fprintf(stderr,
		"  seed %llu: %ld started, %ld done, %ld cancels, %ld frees, %ld from chunk "
		"callbacks, %ld from done callbacks; fast ok %ld, hang timeout %ld, reset io %ld, "
		"404 ok %ld\n",
		(unsigned long long)seed, k.started, k.done, k.cancels, k.frees, k.from_chunk,
		k.from_done, k.by_route[R_FAST][IM_OK], k.by_route[R_HANG][IM_TIMEOUT],
		k.by_route[R_RESET][IM_IO], k.by_route[R_404][IM_OK]);
	if (k.violations)
		t_fail(__FILE__, __LINE__, "%ld violations, first: %s", k.violations,
		       k.first_violation);
	/* the schedule did what it claims: every kind of ending happened */
	ASSERT_TRUE(k.started > steps / 4);
	ASSERT_TRUE(k.from_chunk > 0);
	ASSERT_TRUE(k.from_done > 0);
	ASSERT_TRUE(k.by_route[R_FAST][IM_OK] > 0);
	ASSERT_TRUE(k.by_route[R_HANG][IM_TIMEOUT] > 0);
	ASSERT_TRUE(k.by_route[R_404][IM_OK] > 0);
	/* a hang never ends any other way than by its timeout (or the owner) */
	for (int r = 0; r < IM_ERR_MAX; r++)
		if (r != IM_TIMEOUT)
			ASSERT_EQ_INT(k.by_route[R_HANG][r], 0);
	ASSERT_EQ_INT(k.rig.http.active, 0);
}

TEST(random_schedule_seed_1)
{
	run_random(1, 1500);
}

TEST(random_schedule_seed_2)
{
	run_random(0x9e3779b97f4a7c15ull, 1500);
}

TEST(random_schedule_seed_3)
{
	run_random(20261203, 1500);
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN); /* t_httpd writes to clients that hung up */
	curl_global_init(CURL_GLOBAL_DEFAULT);
	int rc = t_run(argc, argv);
	curl_global_cleanup();
	return rc;
}
