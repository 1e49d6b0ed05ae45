/*
 * The scraper under churn, over real sockets (t_httpd on the same loop):
 * targets added, re-pointed and removed in a seeded random order while their
 * scrapes complete, time out, fail or are in flight — from the schedule, from
 * the scraper's own done callback and from inside a streaming call's chunk
 * callback (what a pod event on the watch does). The done callback must only
 * ever see targets the scraper still holds.
 */
#include <signal.h>
#include <stdint.h>

#include "scraper.h"
#include "t.h"
#include "t_httpd.h"

#define KEYS 32

static const char metrics_page[] = "# TYPE vllm:num_requests_running gauge\n"
				   "vllm:num_requests_running{model_name=\"m\"} 1\n"
				   "# TYPE vllm:num_requests_waiting gauge\n"
				   "vllm:num_requests_waiting{model_name=\"m\"} 0\n"
				   "# TYPE vllm:kv_cache_usage_perc gauge\n"
				   "vllm:kv_cache_usage_perc{model_name=\"m\"} 0.1\n";

static const char models_page[] =
	"{\"object\":\"list\",\"data\":[{\"id\":\"m\",\"object\":\"model\",\"max_model_len\":1024}]}";

/* metrics paths a target may point at, and what its scrape then ends as */
static const char *const paths[] = {
	"/metrics", "/metrics", "/hang", "/reset", "/slow?ms=2&chunks=3", "/nope"};
#define NPATHS (sizeof(paths) / sizeof(paths[0]))

struct churn {
	struct loop loop;
	struct http http;
	struct scraper s;
	struct t_httpd d;
	uv_timer_t step, watchdog;
	struct http_call *watch;
	char base[64];
	uint64_t rng;
	int steps_left;
	bool finished, timed_out;
	long callbacks, stale_callbacks, up, down, sets, removes, from_cb, from_chunk, watches;
	long heap_bad;
};

static uint32_t rnd(struct churn *k, uint32_t n)
{
	k->rng ^= k->rng << 13;
	k->rng ^= k->rng >> 7;
	k->rng ^= k->rng << 17;
	return (uint32_t)(k->rng % n);
}

/* The schedule's invariants: every target is either scraping or waiting in
 * the heap at its own index, and the heap is ordered by due time. */
static long heap_violations(const struct scraper *s)
{
	long bad = 0;
	size_t waiting = 0, scraping = 0;

	for (size_t i = 0; i < s->nheap; i++) {
		if (s->heap[i]->heap_idx != i || s->heap[i]->in_progress)
			bad++;
		if (i && s->heap[(i - 1) / 2]->next_ms > s->heap[i]->next_ms)
			bad++;
	}
	for (struct hmap_entry *e = hmap_first(&s->targets); e; e = hmap_next(&s->targets, e)) {
		const struct scrape_target *t = e->value;
		if (t->in_progress)
			scraping++;
		else if (t->heap_idx != SCRAPER_NOT_WAITING)
			waiting++;
		else
			bad++;
	}
	if (waiting != s->nheap || scraping != (size_t)s->inflight)
		bad++;
	return bad;
}

/* Adds, re-points or removes a random target. */
static void churn_one(struct churn *k)
{
	char key[16];

	snprintf(key, sizeof(key), "ns/pod-%u", rnd(k, KEYS));
	if (rnd(k, 3) == 0) {
		k->removes++;
		scraper_remove_target(&k->s, key);
		return;
	}
	struct scrape_target *t = scraper_set_target(&k->s, key, k->base, paths[rnd(k, NPATHS)],
						     BACKEND_VLLM, rnd(k, 2) ? 8 : 0);
	t->timeout_ms = 60 + rnd(k, 120);
	t->interval_ms = 20 + rnd(k, 60);
	k->sets++;
}

static void on_done(void *ctx, struct scrape_target *t)
{
	struct churn *k = ctx;

	k->callbacks++;
	k->heap_bad += heap_violations(&k->s);
	if (scraper_get(&k->s, t->key) != t)
		k->stale_callbacks++;
	if (t->up)
		k->up++;
	else
		k->down++;
	if (rnd(k, 3) == 0) {
		k->from_cb++;
		churn_one(k); /* may remove or replace t itself */
	}
}

static void watch_done(struct http_call *c, im_result result, void *data);

static im_result watch_chunk(struct http_call *c, const char *p, size_t n, void *data)
{
	struct churn *k = data;

	(void)c, (void)p, (void)n;
	k->from_chunk++;
	churn_one(k);
	return IM_OK;
}

static void start_watch(struct churn *k)
{
	char url[96];

	snprintf(url, sizeof(url), "%s/slow?ms=15&chunks=20", k->base);
	k->watch = http_call_new(&k->http, "GET", url);
	http_call_stream(k->watch, watch_chunk);
	http_call_timeouts(k->watch, 2000, 5000, 0);
	if (http_call_start(k->watch, watch_done, k)) {
		http_call_free(k->watch);
		k->watch = NULL;
	}
	k->watches++;
}

static void watch_done(struct http_call *c, im_result result, void *data)
{
	struct churn *k = data;

	(void)result;
	http_call_free(c);
	k->watch = NULL;
	if (!k->finished)
		start_watch(k); /* a watch resumes, as the reflector's does */
}

static void finish(struct churn *k)
{
	if (k->finished)
		return;
	k->finished = true;
	http_call_free(k->watch);
	k->watch = NULL;
	scraper_stop(&k->s);
	uv_close((uv_handle_t *)&k->step, NULL);
	uv_timer_stop(&k->watchdog);
	uv_close((uv_handle_t *)&k->watchdog, NULL);
	t_httpd_stop(&k->d);
	http_release(&k->http);
	loop_close_handle((uv_handle_t *)&k->loop.wake, NULL);
}

static void step_cb(uv_timer_t *t)
{
	struct churn *k = t->data;

	k->heap_bad += heap_violations(&k->s);
	if (k->steps_left-- > 0)
		churn_one(k);
	else
		finish(k);
}

static void watchdog_cb(uv_timer_t *t)
{
	struct churn *k = t->data;

	k->timed_out = true;
	finish(k);
}

static void run_churn(uint64_t seed, int steps)
{
	static struct churn k;
	struct scraper_opts o = {.interval_ms = 50,
				 .timeout_ms = 150,
				 .max_concurrent = 6,
				 .info_every_ms = 200,
				 .seed = (uint32_t)seed};

	memset(&k, 0, sizeof(k));
	k.rng = seed;
	k.steps_left = steps;
	ASSERT_OK(loop_init(&k.loop));
	ASSERT_OK(http_init(&k.http, &k.loop));
	k.d.metrics_body = metrics_page;
	k.d.models_body = models_page;
	ASSERT_EQ_INT(t_httpd_start(&k.d, &k.loop.uv), 0);
	snprintf(k.base, sizeof(k.base), "http://127.0.0.1:%d", k.d.port);
	scraper_init(&k.s, &k.http, &o, on_done, &k);
	scraper_start(&k.s);
	uv_timer_init(&k.loop.uv, &k.step);
	k.step.data = &k;
	uv_timer_start(&k.step, step_cb, 5, 5);
	uv_timer_init(&k.loop.uv, &k.watchdog);
	k.watchdog.data = &k;
	uv_timer_start(&k.watchdog, watchdog_cb, 60000, 0);
	start_watch(&k);
	loop_run(&k.loop);
	scraper_release(&k.s);
	loop_release(&k.loop);

	fprintf(stderr,
		"  seed %llu: %ld scrapes done (%ld up, %ld down), %ld sets, %ld removes, %ld "
		"from the done callback, %ld from watch chunks over %ld watches\n",
		(unsigned long long)seed, k.callbacks, k.up, k.down, k.sets, k.removes, k.from_cb,
		k.from_chunk, k.watches);
	ASSERT_TRUE(!k.timed_out);
	ASSERT_EQ_INT(k.stale_callbacks, 0);
	ASSERT_EQ_INT(k.heap_bad, 0);
	/* the churn did what it claims */
	ASSERT_TRUE(k.up > 0);
	ASSERT_TRUE(k.down > 0);
	ASSERT_TRUE(k.from_cb > 0);
	ASSERT_TRUE(k.from_chunk > 0);
	ASSERT_TRUE(k.removes > 0);
}

TEST(churn_seed_1)
{
	run_churn(1, 800);
}

TEST(churn_seed_2)
{
	run_churn(77, 800);
}

/* ---- the schedule without churn ---- */

struct steady {
	struct loop loop;
	struct http http;
	struct scraper s;
	struct t_httpd d;
	uv_timer_t watchdog;
	uint64_t want;
	long heap_bad;
	bool done, timed_out;
};

static void steady_stop(struct steady *k)
{
	if (k->done)
		return;
	k->done = true;
	scraper_stop(&k->s);
	uv_timer_stop(&k->watchdog);
	uv_close((uv_handle_t *)&k->watchdog, NULL);
	t_httpd_stop(&k->d);
	http_release(&k->http);
	loop_close_handle((uv_handle_t *)&k->loop.wake, NULL);
}

static void steady_done(void *ctx, struct scrape_target *t)
{
	struct steady *k = ctx;

	(void)t;
	k->heap_bad += heap_violations(&k->s);
	for (struct hmap_entry *e = hmap_first(&k->s.targets); e; e = hmap_next(&k->s.targets, e))
		if (((struct scrape_target *)e->value)->scrapes < k->want)
			return;
	steady_stop(k);
}

static void steady_watchdog(uv_timer_t *t)
{
	struct steady *k = t->data;

	k->timed_out = true;
	steady_stop(k);
}

/* k afresh: a loop, an http and a t_httpd serving metrics and models, the
 * scraper made with o and cb (ctx k); base gets the server's URL. */
static void steady_setup(struct steady *k, const struct scraper_opts *o, scraper_done_cb cb,
			 const char *metrics, const char *models, char *base, size_t nbase)
{
	memset(k, 0, sizeof(*k));
	ASSERT_OK(loop_init(&k->loop));
	ASSERT_OK(http_init(&k->http, &k->loop));
	k->d.metrics_body = metrics;
	k->d.models_body = models;
	ASSERT_EQ_INT(t_httpd_start(&k->d, &k->loop.uv), 0);
	snprintf(base, nbase, "http://127.0.0.1:%d", k->d.port);
	scraper_init(&k->s, &k->http, o, cb, k);
}

/* Starts the scraper and runs the loop until the callback stops it, or the
 * watchdog does after watchdog_ms (then k->timed_out). */
static void steady_run(struct steady *k, uint64_t watchdog_ms)
{
	scraper_start(&k->s);
	uv_timer_init(&k->loop.uv, &k->watchdog);
	k->watchdog.data = k;
	uv_timer_start(&k->watchdog, steady_watchdog, watchdog_ms, 0);
	loop_run(&k->loop);
}

/* 300 targets through 4 slots: every one is scraped again and again (no
 * tick caps the starts), each start is counted once in the interval
 * histogram of its interval, and the heap stays a heap. */
TEST(slots_refill_as_scrapes_finish_and_intervals_are_counted)
{
	static struct steady k;
	struct scraper_opts o = {
		.interval_ms = 100, .timeout_ms = 2000, .max_concurrent = 4, .seed = 5};
	char key[32], base[64];
	const int n = 300;

	steady_setup(&k, &o, steady_done, metrics_page, models_page, base, sizeof(base));
	k.want = 3;
	for (int i = 0; i < n; i++) {
		snprintf(key, sizeof(key), "ns/pod-%d", i);
		scraper_set_target(&k.s, key, base, "/metrics", BACKEND_VLLM, 0);
	}
	ASSERT_EQ_INT(k.s.nheap, n);
	steady_run(&k, 120000);

	fprintf(stderr, "  %llu scrapes started, %llu late, %llu intervals seen\n",
		(unsigned long long)k.s.started, (unsigned long long)k.s.late,
		(unsigned long long)k.s.hist[0].count);
	ASSERT_TRUE(!k.timed_out);
	ASSERT_EQ_INT(k.heap_bad, 0);
	ASSERT_TRUE(k.s.started >= (uint64_t)n * k.want);
	/* one histogram (one interval), one observation per start after a
	 * target's first, buckets cumulative up to the count */
	ASSERT_EQ_INT(k.s.nhist, 1);
	ASSERT_EQ_INT(k.s.hist[0].interval_ms, 100);
	ASSERT_EQ_INT(k.s.hist[0].count, k.s.started - (uint64_t)n);
	for (int b = 1; b < SCRAPER_INTERVAL_BUCKETS; b++)
		ASSERT_TRUE(k.s.hist[0].buckets[b] >= k.s.hist[0].buckets[b - 1]);
	ASSERT_TRUE(k.s.hist[0].buckets[SCRAPER_INTERVAL_BUCKETS - 1] <= k.s.hist[0].count);
	ASSERT_TRUE(k.s.late <= k.s.hist[0].count);
	scraper_release(&k.s);
	loop_release(&k.loop);
}

/* A paused scraper (a follower) starts no scrape, whatever is due; resumed
 * (it leads), it scrapes every target at once — not at the next interval —
 * each with its history started afresh, and only then are the targets'
 * results current. */
static struct steady pk;

static void resume_now(uv_timer_t *t)
{
	struct steady *k = t->data;

	/* nothing started while paused, though every target came due */
	k->heap_bad += k->s.started != 0 || k->d.requests != 0;
	for (struct hmap_entry *e = hmap_first(&k->s.targets); e; e = hmap_next(&k->s.targets, e)) {
		struct scrape_target *tg = e->value;
		struct engine_scrape old = {0};
		k->heap_bad += scraper_current(&k->s, tg); /* never scraped */
		history_push(&tg->history, 1, &old);       /* from "before the pause" */
	}
	uv_close((uv_handle_t *)t, NULL);
	scraper_pause(&k->s, false);
	k->heap_bad += heap_violations(&k->s);
}

TEST(paused_scraper_starts_nothing_and_resumed_scrapes_every_target_at_once)
{
	struct scraper_opts o = {
		.interval_ms = 60000, .timeout_ms = 2000, .max_concurrent = 4, .seed = 9};
	uv_timer_t resume;
	char key[32], base[64];
	const int n = 40;

	steady_setup(&pk, &o, steady_done, metrics_page, models_page, base, sizeof(base));
	pk.want = 1;
	scraper_pause(&pk.s, true);
	for (int i = 0; i < n; i++) {
		snprintf(key, sizeof(key), "ns/pod-%d", i);
		/* due at once (all keys 0: still a heap) */
		scraper_set_target(&pk.s, key, base, "/metrics", BACKEND_VLLM, 0)->next_ms = 0;
	}
	uv_timer_init(&pk.loop.uv, &resume);
	resume.data = &pk;
	uv_timer_start(&resume, resume_now, 300, 0);
	/* the interval is a minute: only a resume that makes every target due
	 * at once finishes before the watchdog */
	steady_run(&pk, 20000);

	ASSERT_TRUE(!pk.timed_out);
	ASSERT_EQ_INT(pk.heap_bad, 0);
	ASSERT_EQ_INT(pk.s.started, n); /* each once */
	ASSERT_EQ_INT(pk.s.epoch, 1);
	for (struct hmap_entry *e = hmap_first(&pk.s.targets); e; e = hmap_next(&pk.s.targets, e)) {
		const struct scrape_target *tg = e->value;
		ASSERT_TRUE(scraper_current(&pk.s, tg));
		ASSERT_TRUE(tg->up);
		ASSERT_EQ_INT(tg->history.n, 1); /* the point from before is gone */
	}
	scraper_release(&pk.s);
	loop_release(&pk.loop);
}

/* The info endpoints are asked again at the scrape after one whose token
 * counters went back (a restarted engine, maybe with other limits), not at
 * the next info_every_ms (an hour here). */
static const char page_before[] = "# TYPE vllm:generation_tokens_total counter\n"
				  "vllm:generation_tokens_total{model_name=\"m\"} 100\n";
static const char page_after[] = "# TYPE vllm:generation_tokens_total counter\n"
				 "vllm:generation_tokens_total{model_name=\"m\"} 5\n";
static const char models_after[] =
	"{\"object\":\"list\",\"data\":[{\"id\":\"m\",\"object\":\"model\",\"max_model_len\":2048}]}";
static struct steady rk;
static double rk_len[5];

static void restart_done(void *ctx, struct scrape_target *t)
{
	struct steady *k = ctx;

	if (t->scrapes <= 4)
		rk_len[t->scrapes] = t->max_model_len;
	if (t->scrapes == 2) { /* the engine restarts with a longer context */
		k->d.metrics_body = page_after;
		k->d.models_body = models_after;
	}
	if (t->scrapes == 4)
		steady_stop(k);
}

TEST(info_endpoints_are_asked_again_after_a_restart)
{
	struct scraper_opts o = {
		.interval_ms = 50, .timeout_ms = 2000, .info_every_ms = 3600000, .seed = 3};
	char base[64];

	/* models_page: max_model_len 1024 */
	steady_setup(&rk, &o, restart_done, page_before, models_page, base, sizeof(base));
	scraper_set_target(&rk.s, "ns/pod-0", base, "/metrics", BACKEND_VLLM, 0);
	steady_run(&rk, 20000);

	ASSERT_TRUE(!rk.timed_out);
	ASSERT_TRUE(rk_len[1] == 1024); /* asked on the first scrape */
	ASSERT_TRUE(rk_len[3] == 1024); /* scrape 3 sees the counters go back */
	ASSERT_TRUE(rk_len[4] == 2048); /* and scrape 4 asks again */
	scraper_release(&rk.s);
	loop_release(&rk.loop);
}

/* A target keeps the message of an active check, and none once it clears
 * (messages are the target's own strings, not room for every check); the
 * same for the error of its last scrape, while the model names of its last
 * good scrape stay through a failed one. */
static struct steady mk;
static char mk_msg[4][256], mk_err[4][256], mk_model[4][64];
static bool mk_active[4];

static void messages_done(void *ctx, struct scrape_target *t)
{
	struct steady *k = ctx;

	if (t->scrapes <= 3) {
		mk_active[t->scrapes] = t->checks.active[CHECK_SCRAPE_FAILED];
		snprintf(mk_msg[t->scrapes], sizeof(mk_msg[0]), "%s",
			 scraper_check_message(t, CHECK_SCRAPE_FAILED));
		snprintf(mk_err[t->scrapes], sizeof(mk_err[0]), "%s", t->error);
		snprintf(mk_model[t->scrapes], sizeof(mk_model[0]), "%d:%s", t->engine.nmodels,
			 t->engine.nmodels ? t->engine.models[0] : "");
	}
	if (t->scrapes == 1)
		k->d.metrics_body = NULL; /* 404 from now on */
	if (t->scrapes == 2)
		k->d.metrics_body = page_before;
	if (t->scrapes == 3) {
		mk_active[0] = t->checks.message[CHECK_SCRAPE_FAILED] == NULL;
		steady_stop(k);
	}
}

TEST(check_messages_kept_while_active_only)
{
	struct scraper_opts o = {.interval_ms = 50, .timeout_ms = 2000, .seed = 4};
	char base[64];

	steady_setup(&mk, &o, messages_done, page_before, models_page, base, sizeof(base));
	scraper_set_target(&mk.s, "ns/pod-0", base, "/metrics", BACKEND_VLLM, 0);
	steady_run(&mk, 20000);

	ASSERT_TRUE(!mk.timed_out);
	ASSERT_TRUE(!mk_active[1]);
	ASSERT_STREQ(mk_msg[1], "");
	ASSERT_TRUE(mk_active[2]);
	ASSERT_CONTAINS(mk_msg[2], "scrape failed: GET http://127.0.0.1:");
	ASSERT_CONTAINS(mk_msg[2], "HTTP 404");
	ASSERT_TRUE(!mk_active[3]);
	ASSERT_STREQ(mk_msg[3], "");
	ASSERT_TRUE(mk_active[0]); /* the string was freed, not kept empty */
	ASSERT_STREQ(mk_err[1], "");
	ASSERT_CONTAINS(mk_err[2], "HTTP 404");
	ASSERT_STREQ(mk_err[3], "");
	ASSERT_STREQ(mk_model[1], "1:m");
	ASSERT_STREQ(mk_model[2], "1:m");
	ASSERT_STREQ(mk_model[3], "1:m");
	scraper_release(&mk.s);
	loop_release(&mk.loop);
}

/* Targets whose check says the same hold one copy of the message between
 * them; the copy goes with the last of them (the leak check at the end). */
static struct steady sk;
static bool sk_shared, sk_shared_after;
static size_t sk_messages, sk_after;

static void shared_done(void *ctx, struct scrape_target *t)
{
	struct steady *k = ctx;
	struct scrape_target *a = scraper_get(&k->s, "ns/pod-0"),
			     *b = scraper_get(&k->s, "ns/pod-1");

	(void)t;
	if (a->scrapes < 2 || b->scrapes < 2)
		return;
	if (k->d.metrics_body == NULL) { /* both failing: 404 from the start */
		sk_shared = a->checks.message[CHECK_SCRAPE_FAILED] != NULL &&
			    a->checks.message[CHECK_SCRAPE_FAILED] ==
				    b->checks.message[CHECK_SCRAPE_FAILED];
		sk_messages = k->s.messages.count;
		k->d.metrics_body = page_before;
		k->want = a->scrapes + 2;
		return;
	}
	if (a->scrapes < k->want || b->scrapes < k->want)
		return;
	/* what is left: the series the page lacks, one message for both */
	sk_after = k->s.messages.count;
	sk_shared_after = !a->checks.message[CHECK_SCRAPE_FAILED] &&
			  !b->checks.message[CHECK_SCRAPE_FAILED] &&
			  a->checks.message[CHECK_METRICS_MISSING] &&
			  a->checks.message[CHECK_METRICS_MISSING] ==
				  b->checks.message[CHECK_METRICS_MISSING];
	steady_stop(k);
}

TEST(check_messages_are_shared_between_targets)
{
	struct scraper_opts o = {.interval_ms = 50, .timeout_ms = 2000, .seed = 6};
	char base[64];

	steady_setup(&sk, &o, shared_done, NULL, models_page, base, sizeof(base));
	scraper_set_target(&sk.s, "ns/pod-0", base, "/metrics", BACKEND_VLLM, 0);
	scraper_set_target(&sk.s, "ns/pod-1", base, "/metrics", BACKEND_VLLM, 0);
	steady_run(&sk, 20000);

	ASSERT_TRUE(!sk.timed_out);
	ASSERT_TRUE(sk_shared);
	ASSERT_TRUE(sk_messages >= 1);
	ASSERT_TRUE(sk_shared_after); /* recovered: ScrapeFailed's let go */
	ASSERT_EQ_INT(sk_after, 1);
	scraper_release(&sk.s);
	loop_release(&sk.loop);
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN); /* t_httpd writes to clients that hung up */
	curl_global_init(CURL_GLOBAL_DEFAULT);
	int rc = t_run(argc, argv);
	curl_global_cleanup();
	return rc;
}
