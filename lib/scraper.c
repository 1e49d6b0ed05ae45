#include "scraper.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "log.h"

#define INFO_MAX_BODY ((size_t)1024 * 1024)

const double scraper_interval_bucket_factor[SCRAPER_INTERVAL_BUCKETS] = {0.5,  0.9, 1.01, 1.1,
									 1.25, 1.5, 2,    4};

void scraper_init(struct scraper *s, struct http *http, const struct scraper_opts *o,
		  scraper_done_cb cb, void *ctx)
{
	struct timespec ts;

	memset(s, 0, sizeof(*s));
	s->http = http;
	if (o)
		s->opts = *o;
	if (!s->opts.interval_ms)
		s->opts.interval_ms = 15000;
	if (!s->opts.timeout_ms)
		s->opts.timeout_ms = 10000;
	if (!s->opts.max_body)
		s->opts.max_body = PROMTEXT_MAX_BODY;
	if (!s->opts.max_label_value)
		s->opts.max_label_value = PROMTEXT_MAX_LABEL_VALUE;
	if (!s->opts.max_concurrent)
		s->opts.max_concurrent = 32;
	if (!s->opts.info_every_ms)
		s->opts.info_every_ms = 300000;
	if (!s->opts.info_retry_ms)
		s->opts.info_retry_ms = 600000;
	if (!s->opts.checks.drift_tolerance)
		check_opts_default(&s->opts.checks);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	backoff_init_default(&s->rng, o && o->seed ? o->seed : (uint32_t)(ts.tv_nsec ^ ts.tv_sec));
	hmap_init(&s->targets);
	s->cb = cb;
	s->ctx = ctx;
}

static uint64_t now_ms(struct scraper *s)
{
	return loop_now_ms(s->http->loop);
}

static void cancel_calls(struct scrape_target *t)
{
	http_call_free(t->metrics_call);
	http_call_free(t->models_call);
	http_call_free(t->info_call);
	t->metrics_call = t->models_call = t->info_call = NULL;
	if (t->in_progress) {
		t->in_progress = false;
		t->s->inflight--;
	}
	t->inflight = 0;
}

/* ---- the schedule: a min-heap of waiting targets by next_ms ---- */

static bool earlier(const struct scrape_target *a, const struct scrape_target *b)
{
	return a->next_ms < b->next_ms;
}

static void heap_set(struct scraper *s, size_t i, struct scrape_target *t)
{
	s->heap[i] = t;
	t->heap_idx = i;
}

static void heap_up(struct scraper *s, size_t i)
{
	struct scrape_target *t = s->heap[i];

	while (i > 0 && earlier(t, s->heap[(i - 1) / 2])) {
		heap_set(s, i, s->heap[(i - 1) / 2]);
		i = (i - 1) / 2;
	}
	heap_set(s, i, t);
}

static void heap_down(struct scraper *s, size_t i)
{
	struct scrape_target *t = s->heap[i];

	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= s->nheap)
			break;
		if (c + 1 < s->nheap && earlier(s->heap[c + 1], s->heap[c]))
			c++;
		if (!earlier(s->heap[c], t))
			break;
		heap_set(s, i, s->heap[c]);
		i = c;
	}
	heap_set(s, i, t);
}

static void heap_push(struct scraper *s, struct scrape_target *t)
{
	if (s->nheap == s->heap_cap) {
		s->heap_cap = s->heap_cap ? 2 * s->heap_cap : 64;
		s->heap = im_xrealloc(s->heap, s->heap_cap * sizeof(*s->heap));
	}
	heap_set(s, s->nheap++, t);
	heap_up(s, t->heap_idx);
}

static void heap_remove(struct scraper *s, struct scrape_target *t)
{
	size_t i = t->heap_idx;

	if (i == SCRAPER_NOT_WAITING)
		return;
	t->heap_idx = SCRAPER_NOT_WAITING;
	if (i == --s->nheap)
		return;
	heap_set(s, i, s->heap[s->nheap]);
	heap_up(s, i);
	heap_down(s, s->heap[i]->heap_idx);
}

struct scrape_work {
	struct promtext parser;
	struct engine_scrape pending;
	bool up; /* up and error of the scrape in flight */
	char error[384];
};

static struct scrape_work *work_new(const struct scraper *s, enum backend b)
{
	struct scrape_work *w = im_xcalloc(1, sizeof(*w));
	struct promtext_opts po = {.max_body = s->opts.max_body,
				   .max_label_value = s->opts.max_label_value};

	engine_scrape_init(&w->pending, b);
	promtext_init(&w->parser, &po, engine_observe, &w->pending);
	return w;
}

static void work_free(struct scrape_work *w)
{
	if (!w)
		return;
	engine_scrape_release(&w->pending);
	promtext_release(&w->parser);
	im_free(w);
}

/* A target's error and problem: "" is the one shared empty string, any
 * other text a copy of its own (most targets have neither). */
static const char no_text[] = "";

static void set_text(const char **dst, const char *src)
{
	if (*dst && strcmp(*dst, src) == 0)
		return;
	if (*dst != no_text)
		im_free((char *)*dst);
	*dst = src[0] ? im_xstrdup(src) : no_text;
}

/* A shared check message and how many targets hold it. */
struct shared_msg {
	size_t holders;
	char text[];
};

static const char *msg_hold(struct scraper *s, const char *text)
{
	struct shared_msg *m = hmap_get(&s->messages, text);

	if (!m) {
		size_t n = strlen(text);
		m = im_xmalloc(sizeof(*m) + n + 1);
		m->holders = 0;
		memcpy(m->text, text, n + 1);
		hmap_put(&s->messages, text, m);
	}
	m->holders++;
	return m->text;
}

static void msg_drop(struct scraper *s, const char **text)
{
	struct shared_msg *m;

	if (!*text)
		return;
	m = hmap_get(&s->messages, *text);
	*text = NULL;
	if (m && --m->holders == 0)
		im_free(hmap_del(&s->messages, m->text));
}

static void target_free(struct scrape_target *t)
{
	heap_remove(t->s, t);
	cancel_calls(t);
	work_free(t->work);
	engine_scrape_release(&t->engine);
	set_text(&t->error, "");
	set_text(&t->problem, "");
	for (int k = 0; k < CHECK_COUNT; k++)
		msg_drop(t->s, &t->checks.message[k]);
	im_free(t); /* and its strings */
}

static void start_scrape(struct scrape_target *t);

static void tick(uv_timer_t *h);

/* Starts what is due while slots are free, the earliest due first (slots
 * that free go to the longest waiting: targets that hold their slots until
 * they time out cannot starve the others), then arms the timer for the next
 * due target. Re-entered from a callback it leaves the work to the outer
 * call. */
static void kick(struct scraper *s)
{
	uint64_t now;

	if (!s->tick.loop || s->kicking)
		return;
	s->kicking = true;
	now = now_ms(s);
	while (!s->stopped && !s->paused && s->inflight < s->opts.max_concurrent && s->nheap &&
	       s->heap[0]->next_ms <= now) {
		struct scrape_target *t = s->heap[0];
		heap_remove(s, t);
		start_scrape(t); /* may finish at once; its callback may stop s */
	}
	s->kicking = false;
	if (s->stopped)
		return;
	if (s->nheap && s->inflight < s->opts.max_concurrent && !s->paused)
		uv_timer_start(&s->tick, tick, s->heap[0]->next_ms - now, 0);
	else
		uv_timer_stop(&s->tick); /* a finishing scrape kicks */
}

static void tick(uv_timer_t *h)
{
	kick(h->data);
}

void scraper_start(struct scraper *s)
{
	uv_timer_init(&s->http->loop->uv, &s->tick);
	s->tick.data = s;
	kick(s);
}

void scraper_pause(struct scraper *s, bool paused)
{
	uint64_t now;

	if (paused == s->paused)
		return;
	s->paused = paused;
	if (paused) {
		if (s->tick.loop)
			uv_timer_stop(&s->tick);
		return;
	}
	s->epoch++;
	now = now_ms(s);
	for (struct hmap_entry *e = hmap_first(&s->targets); e; e = hmap_next(&s->targets, e)) {
		struct scrape_target *t = e->value;

		history_init(&t->history);
		t->info_due = true;
		if (t->heap_idx != SCRAPER_NOT_WAITING) {
			t->next_ms = now;     /* every key equal: still a heap */
			t->last_start_ms = 0; /* the pause is no interval */
		}
	}
	kick(s);
}

bool scraper_current(const struct scraper *s, const struct scrape_target *t)
{
	return t->scrapes && t->epoch == s->epoch;
}

void scraper_stop(struct scraper *s)
{
	s->stopped = true;
	for (struct hmap_entry *e = hmap_first(&s->targets); e; e = hmap_next(&s->targets, e))
		cancel_calls(e->value);
	if (s->tick.loop) {
		uv_timer_stop(&s->tick);
		loop_close_handle((uv_handle_t *)&s->tick, NULL);
	}
}

void scraper_release(struct scraper *s)
{
	for (struct hmap_entry *e = hmap_first(&s->targets); e; e = hmap_next(&s->targets, e))
		target_free(e->value);
	hmap_release(&s->targets);
	hmap_release(&s->messages); /* empty: every target let go of its own */
	im_free(s->heap);
	s->heap = NULL;
	s->nheap = s->heap_cap = 0;
}

static bool str_eq(const char *a, const char *b)
{
	return a && b && strcmp(a, b) == 0;
}

struct scrape_target *scraper_set_target(struct scraper *s, const char *key, const char *base_url,
					 const char *metrics_path, enum backend b,
					 double args_max_num_seqs)
{
	struct scrape_target *t = hmap_get(&s->targets, key);

	if (t && str_eq(t->base_url, base_url) && str_eq(t->metrics_path, metrics_path) &&
	    t->backend == b) {
		t->args_max_num_seqs = args_max_num_seqs;
		return t;
	}
	void *data = NULL;

	if (t) {
		data = t->data; /* the owner's pointer outlives the replacement */
		hmap_del(&s->targets, key);
		target_free(t);
	}
	{
		/* the target and its three strings in one block */
		size_t nk = strlen(key) + 1, nu = strlen(base_url) + 1,
		       np = strlen(metrics_path) + 1;

		t = im_xcalloc(1, sizeof(*t) + nk + nu + np);
		t->key = (char *)(t + 1);
		t->base_url = t->key + nk;
		t->metrics_path = t->base_url + nu;
		memcpy(t->key, key, nk);
		memcpy(t->base_url, base_url, nu);
		memcpy(t->metrics_path, metrics_path, np);
	}
	t->heap_idx = SCRAPER_NOT_WAITING;
	t->data = data;
	t->s = s;
	t->error = t->problem = no_text;
	t->backend = b;
	t->args_max_num_seqs = args_max_num_seqs;
	t->tolerance = s->opts.checks.drift_tolerance;
	t->info_due = true;
	history_init(&t->history);
	engine_scrape_init(&t->engine, b);
	/* a random phase within the first interval */
	t->next_ms = now_ms(s) + backoff_rand(&s->rng, 0, s->opts.interval_ms);
	hmap_put(&s->targets, key, t);
	heap_push(s, t);
	kick(s);
	return t;
}

void scraper_remove_target(struct scraper *s, const char *key)
{
	struct scrape_target *t = hmap_del(&s->targets, key);

	if (t)
		target_free(t);
}

struct scrape_target *scraper_get(struct scraper *s, const char *key)
{
	return hmap_get(&s->targets, key);
}

/* A target keeps the messages of its active checks only (a check_result
 * holds room for all of them: 2 kB, times thousands of targets), shared
 * with the targets whose check says the same. */
static void keep_checks(struct scrape_target *t, const struct check_result *cr)
{
	for (int k = 0; k < CHECK_COUNT; k++) {
		const char **m = &t->checks.message[k];

		t->checks.active[k] = cr->active[k];
		if (!cr->active[k]) {
			msg_drop(t->s, m);
		} else if (!*m || strcmp(*m, cr->message[k]) != 0) {
			msg_drop(t->s, m);
			*m = msg_hold(t->s, cr->message[k]);
		}
	}
	t->checks.saturation = cr->saturation;
	t->checks.drift = cr->drift;
}

static void finish(struct scrape_target *t)
{
	struct check_result cr;
	struct scrape_work *w = t->work;
	struct scraper *s = t->s;
	uint64_t now = now_ms(s);
	struct limit_inputs in = {
		.backend = t->backend,
		.vllm_info = t->have_vinfo ? &t->vinfo : NULL,
		.sglang_info = t->have_sinfo ? &t->sinfo : NULL,
		.args_max_num_seqs = t->args_max_num_seqs,
		.max_model_len = t->max_model_len,
	};
	struct check_opts co = s->opts.checks;
	bool was_up = t->up;

	t->in_progress = false;
	s->inflight--;
	/* published only now: readers see the last completed scrape */
	t->up = w->up;
	set_text(&t->error, w->error);
	t->scrapes++;
	t->last_ms = now;
	t->epoch = s->epoch;
	/* due an interval after this scrape started (Prometheus' rhythm) */
	t->next_ms = t->last_start_ms + (t->interval_ms ? t->interval_ms : s->opts.interval_ms);
	if (!s->stopped)
		heap_push(s, t);
	t->samples_skipped = w->parser.stats.skipped_oversized;
	t->lines_malformed = w->parser.stats.malformed;
	set_text(&t->problem, promtext_problem(&w->parser));
	if (t->up) {
		engine_scrape_end(&w->pending);
		/* back after failing, or its counters went back: the engine may
		 * have restarted with other limits; ask its info endpoints at the
		 * next scrape rather than at the next info_every_ms */
		if (t->history.n &&
		    (!was_up || w->pending.prompt_tokens < t->engine.prompt_tokens ||
		     w->pending.generation_tokens < t->engine.generation_tokens))
			t->info_due = true;
		engine_scrape_move(&t->engine, &w->pending);
		history_push(&t->history, now, &t->engine);
	} else {
		t->failures++;
	}
	t->work = NULL;
	work_free(w);
	co.drift_tolerance = t->tolerance;
	limits_resolve(&in, &t->engine, &t->history, &co, &t->limits);
	checks_evaluate(&co, &t->engine, &t->history, &t->limits, t->up ? NULL : t->error, &cr);
	keep_checks(t, &cr);
	if (s->cb)
		s->cb(s->ctx, t); /* the callback may remove t */
	kick(s);                  /* a slot is free */
}

static void call_done(struct scrape_target *t)
{
	if (--t->inflight == 0)
		finish(t);
}

static im_result metrics_chunk(struct http_call *c, const char *p, size_t n, void *data)
{
	struct scrape_target *t = data;
	long status = 0;

	curl_easy_getinfo(http_call_easy(c), CURLINFO_RESPONSE_CODE, &status);
	if (status != 200)
		return IM_OK; /* an error page: not metrics */
	return promtext_feed(&t->work->parser, p, n);
}

static void metrics_done(struct http_call *c, im_result result, void *data)
{
	struct scrape_target *t = data;
	struct scrape_work *w = t->work;
	long status = http_call_status(c);
	char *err = w->error;
	size_t n = sizeof(w->error);

	t->duration_s = http_call_seconds(c);
	t->bytes = http_call_bytes(c);
	if (result == IM_OK && status == 200)
		result = promtext_finish(&w->parser);
	if (result == IM_OK && status == 200 && w->pending.samples > 0) {
		w->up = true;
		err[0] = '\0';
	} else if (result == IM_OK && status == 200) {
		snprintf(err, n, "GET %s: no samples in the response%s%s", http_call_url(c),
			 promtext_problem(&w->parser)[0] ? ": " : "", promtext_problem(&w->parser));
	} else if (result == IM_OK) {
		snprintf(err, n, "GET %s: HTTP %ld", http_call_url(c), status);
	} else if (result == IM_TOOBIG) {
		snprintf(err, n, "GET %s: %s", http_call_url(c),
			 promtext_problem(&w->parser)[0] ? promtext_problem(&w->parser)
							 : "response larger than its cap");
	} else {
		snprintf(err, n, "GET %s: %s: %s", http_call_url(c), im_strerror(result),
			 http_call_error(c));
	}
	t->metrics_call = NULL;
	http_call_free(c);
	call_done(t);
}

static void note_model(void *ctx, const char *id, double len)
{
	struct scrape_target *t = ctx;

	(void)id;
	if (len > t->max_model_len)
		t->max_model_len = len;
}

static void models_done(struct http_call *c, im_result result, void *data)
{
	struct scrape_target *t = data;
	struct buf err;
	const struct buf *b = http_call_body_buf(c);

	buf_init(&err, 512);
	if (result == IM_OK && http_call_status(c) == 200) {
		t->max_model_len = 0;
		if (limits_parse_models(buf_str(b), b->len, note_model, t, &err))
			log_kv(LOG_DEBUG, "cannot read /v1/models", "target", t->key, "error",
			       buf_str(&err), NULL);
	}
	buf_release(&err);
	t->models_call = NULL;
	http_call_free(c);
	call_done(t);
}

static void info_done(struct http_call *c, im_result result, void *data)
{
	struct scrape_target *t = data;
	struct buf err;
	const struct buf *b = http_call_body_buf(c);
	long status = http_call_status(c);

	buf_init(&err, 512);
	if (result == IM_OK && status == 200) {
		if (backend_is_sglang(t->backend))
			t->have_sinfo = limits_parse_sglang_server_info(buf_str(b), b->len,
									&t->sinfo, &err) == IM_OK;
		else
			t->have_vinfo = limits_parse_vllm_server_info(buf_str(b), b->len, &t->vinfo,
								      &err) == IM_OK;
	} else if (!backend_is_sglang(t->backend)) {
		/* /server_info answers only in dev mode; ask again much later */
		t->have_vinfo = false;
		t->server_info_retry_ms = now_ms(t->s) + t->s->opts.info_retry_ms;
	}
	buf_release(&err);
	t->info_call = NULL;
	http_call_free(c);
	call_done(t);
}

static struct http_call *get(struct scrape_target *t, const char *path, size_t max)
{
	struct buf url;
	struct http_call *c;
	long tmo = (long)(t->timeout_ms ? t->timeout_ms : t->s->opts.timeout_ms);

	buf_init(&url, BUF_MAX_SMALL);
	buf_printf(&url, "%s%s", t->base_url, path);
	c = http_call_new(t->s->http, "GET", buf_str(&url));
	buf_release(&url);
	if (t->tls_insecure) {
		curl_easy_setopt(http_call_easy(c), CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(http_call_easy(c), CURLOPT_SSL_VERIFYHOST, 0L);
	}
	http_call_timeouts(c, tmo < 5000 ? tmo : 5000, tmo, 0);
	http_call_max_body(c, max);
	return c;
}

static void start_call(struct scrape_target *t, struct http_call **slot, struct http_call *c,
		       http_done_cb cb)
{
	if (http_call_start(c, cb, t)) {
		http_call_free(c);
		return;
	}
	*slot = c;
	t->inflight++;
}

/* The interval seen between two starts of a target, in the histogram of
 * its configured interval. */
static void observe_interval(struct scraper *s, uint64_t interval_ms, uint64_t seen_ms)
{
	struct scraper_interval_hist *h = NULL;

	for (size_t i = 0; i < s->nhist && !h; i++)
		if (s->hist[i].interval_ms == interval_ms)
			h = &s->hist[i];
	if (!h) {
		if (s->nhist == SCRAPER_MAX_INTERVALS)
			return; /* more distinct intervals than series to keep */
		h = &s->hist[s->nhist++];
		h->interval_ms = interval_ms;
	}
	for (int b = 0; b < SCRAPER_INTERVAL_BUCKETS; b++)
		if ((double)seen_ms <= scraper_interval_bucket_factor[b] * (double)interval_ms)
			h->buckets[b]++;
	h->count++;
	h->sum_s += (double)seen_ms / 1000;
}

static void start_scrape(struct scrape_target *t)
{
	struct scraper *s = t->s;
	uint64_t now = now_ms(s);
	uint64_t interval = t->interval_ms ? t->interval_ms : s->opts.interval_ms;
	struct http_call *c;

	s->started++;
	if (t->last_start_ms) {
		observe_interval(s, interval, now - t->last_start_ms);
		if (now > t->next_ms && now - t->next_ms > interval / 10)
			s->late++;
	}
	t->last_start_ms = now;
	t->in_progress = true;
	s->inflight++;
	t->inflight = 0;
	work_free(t->work); /* none: a scrape completes before the next starts */
	t->work = work_new(s, t->backend);

	c = get(t, t->metrics_path, s->opts.max_body);
	http_call_stream(c, metrics_chunk);
	http_call_header(c, "Accept: text/plain;version=0.0.4;q=1,*/*;q=0.1");
	start_call(t, &t->metrics_call, c, metrics_done);
	if (!t->metrics_call)
		snprintf(t->work->error, sizeof(t->work->error),
			 "GET %s%s: cannot start the request", t->base_url, t->metrics_path);

	/* the histograms' bucket bounds change only with the engine: read
	 * while the target has none, and with the info endpoints (after a
	 * restart, and every info_every_ms) */
	t->work->pending.want_bounds = !t->engine.bounds || t->info_due || now >= t->info_next_ms;
	if (t->info_due || now >= t->info_next_ms) {
		t->info_due = false;
		t->info_next_ms = now + s->opts.info_every_ms;
		start_call(t, &t->models_call, get(t, "/v1/models", INFO_MAX_BODY), models_done);
		if (backend_is_sglang(t->backend))
			start_call(t, &t->info_call, get(t, "/get_server_info", INFO_MAX_BODY),
				   info_done);
		else if (now >= t->server_info_retry_ms)
			start_call(t, &t->info_call,
				   get(t, "/server_info?config_format=json", INFO_MAX_BODY),
				   info_done);
	}
	if (t->inflight == 0)
		finish(t);
}

im_result scraper_scrape_now(struct scraper *s, struct scrape_target *t)
{
	if (t->in_progress || s->stopped)
		return IM_INVAL;
	heap_remove(s, t);
	start_scrape(t);
	return IM_OK;
}
