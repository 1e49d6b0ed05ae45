/*
 * The scraper on its loop against engines over real HTTP: SGLang and vLLM
 * variants composed by engines.py from docs/metrics.md, the real
 * llm-d-inference-sim, and endpoints that are slow, hanging, dead, garbage,
 * oversized or carry a 5 MB label. Each test asserts what the scraper
 * concluded (limits and their sources, verdicts, errors), and waits by
 * counting completed scrapes within a generous bound, never by timing.
 */
/* it: no cluster (needs no API server; test/integration/CMakeLists.txt) */
#include <string.h>
#include <unistd.h>

#include "it_engines.h"

#define MIB ((size_t)1024 * 1024)

static void fail_target(const char *file, int line, const struct scrape_target *t,
			const char *what)
{
	t_fail(file, line, "%s: %s (up=%d scrapes=%llu failures=%llu error=\"%s\" problem=\"%s\")",
	       t->key, what, t->up, (unsigned long long)t->scrapes,
	       (unsigned long long)t->failures, t->error, t->problem);
}

#define ASSERT_UP(t)                                                                       \
	do {                                                                               \
		if (!(t).up || (t).failures)                                               \
			fail_target(__FILE__, __LINE__, &(t), "expected every scrape up"); \
	} while (0)

#define ASSERT_LIMIT(l, v, src)                                                            \
	do {                                                                               \
		ASSERT_EQ_DBL((l).value, (v), 1e-9);                                       \
		ASSERT_STREQ(limit_source_name((l).source), (src));                        \
	} while (0)

/* Waits until every target in keys has at least min_scrapes completed
 * scrapes, for at most timeout_s; fails the test naming the laggard. */
static void wait_scrapes(struct it_scraper *w, const char *const *keys, int n,
			 uint64_t min_scrapes, int timeout_s)
{
	for (int i = 0; i < timeout_s * 4; i++) {
		bool all = true;
		for (int k = 0; k < n && all; k++)
			all = it_scraper_get(w, keys[k]).scrapes >= min_scrapes;
		if (all)
			return;
		usleep(250000);
	}
	for (int k = 0; k < n; k++) {
		struct scrape_target t = it_scraper_get(w, keys[k]);
		if (t.scrapes < min_scrapes)
			fail_target(__FILE__, __LINE__, &t, "too few scrapes within the wait");
	}
}

static void print_target(const struct scrape_target *t)
{
	fprintf(stderr, "  %-10s scrapes %3llu failures %3llu up %d skipped %llu %s\n", t->key,
		(unsigned long long)t->scrapes, (unsigned long long)t->failures, t->up,
		(unsigned long long)t->samples_skipped, t->error);
}

TEST(sglang_cap_is_per_dp_cap_times_dp_size_on_both_prefixes)
{
	static const char *const modes[] = {"sglang", "sglang-underscore"};
	struct scraper_opts o = {.interval_ms = 500, .timeout_ms = 10000, .seed = 1};
	struct it_engines e;
	struct it_scraper *w;
	char url[64];

	it_engines_start(&e, "sglang sglang-underscore", 0);
	w = it_scraper_new(&o);
	for (int i = 0; i < 2; i++) {
		it_engines_url(&e, modes[i], url, sizeof(url));
		/* the args say 256: the live engine's answer must win */
		it_scraper_add(w, modes[i], url, BACKEND_SGLANG, 256);
	}
	wait_scrapes(w, modes, 2, 3, 60);

	for (int i = 0; i < 2; i++) {
		struct scrape_target t = it_scraper_get(w, modes[i]);
		const struct engine_scrape *g = &t.engine;

		ASSERT_UP(t);
		/* tp_rank 0 of each DP rank, summed over dp_rank: 20 + 24 */
		ASSERT_EQ_DBL(g->running, 44, 0);
		ASSERT_EQ_DBL(g->waiting, 8, 0);
		ASSERT_EQ_DBL(g->kv_usage, 0.42, 1e-12); /* the fullest DP rank */
		ASSERT_EQ_DBL(g->preemptions, 3, 0);
		ASSERT_EQ_INT(g->preemptions_is_counter, i == 0); /* old name: a gauge */
		ASSERT_EQ_INT(g->nmodels, 1);
		ASSERT_STREQ(g->models[0], "qwen3-26b");
		ASSERT_STREQ(g->engine_type, "unified");
		/* effective_max_running_requests_per_dp 24 x dp_size 2 */
		ASSERT_LIMIT(t.limits.max_num_seqs, 48, "get_server_info");
		ASSERT_LIMIT(t.limits.max_model_len, 4096, "get_server_info");
		/* the pool of both DP ranks over the context length; the same
		 * number the pool in the metrics gives */
		ASSERT_LIMIT(t.limits.kv_concurrency, 2.0 * 98304 / 4096, "kv_pool");
		ASSERT_EQ_DBL(g->sgl_max_total_tokens / 4096, t.limits.kv_concurrency.value, 1e-9);
		ASSERT_EQ_DBL(t.checks.saturation, 44.0 / 48, 1e-9);
		if (t.checks.active[CHECK_LIMIT_DRIFT])
			t_fail(__FILE__, __LINE__, "%s: %s", modes[i],
			       t.checks.message[CHECK_LIMIT_DRIFT]);
		if (t.checks.active[CHECK_METRICS_MISSING])
			t_fail(__FILE__, __LINE__, "%s: %s", modes[i],
			       t.checks.message[CHECK_METRICS_MISSING]);
		ASSERT_TRUE(!t.checks.active[CHECK_SATURATED]);
	}
	it_scraper_free(w);
	it_engines_stop(&e);
}

TEST(vllm_limit_sources_best_first_and_old_names)
{
	static const char *const keys[] = {"fork-dev", "fork", "old-args", "old"};
	struct scraper_opts o = {.interval_ms = 500, .timeout_ms = 10000, .info_every_ms = 400,
				 .seed = 2};
	struct it_engines e;
	struct it_scraper *w;
	struct scrape_target t;
	char url[64];

	it_engines_start(&e, "vllm-fork vllm-fork-nodev vllm-old", 0);
	w = it_scraper_new(&o);
	it_engines_url(&e, "vllm-fork", url, sizeof(url));
	it_scraper_add(w, "fork-dev", url, BACKEND_VLLM, 2);
	it_engines_url(&e, "vllm-fork-nodev", url, sizeof(url));
	it_scraper_add(w, "fork", url, BACKEND_VLLM, 2);
	it_engines_url(&e, "vllm-old", url, sizeof(url));
	it_scraper_add(w, "old-args", url, BACKEND_VLLM, 8);
	it_scraper_add(w, "old", url, BACKEND_VLLM, 0);
	wait_scrapes(w, keys, 4, 4, 60);

	/* dev mode: /server_info beats vllm_config_info, which beats the args */
	t = it_scraper_get(w, "fork-dev");
	ASSERT_UP(t);
	ASSERT_LIMIT(t.limits.max_num_seqs, 48, "server_info");
	/* kv_cache_max_concurrency, not blocks x size / len (39.06) */
	ASSERT_LIMIT(t.limits.kv_concurrency, 45.5, "cache_config_info");
	ASSERT_LIMIT(t.limits.max_model_len, 8192, "v1_models");
	ASSERT_EQ_DBL(t.engine.running, 30, 0);
	ASSERT_EQ_DBL(t.engine.kv_usage, 0.55, 1e-12);
	ASSERT_TRUE(!t.checks.active[CHECK_LIMIT_DRIFT]);
	ASSERT_TRUE(!t.checks.active[CHECK_METRICS_MISSING]);

	t = it_scraper_get(w, "fork");
	ASSERT_UP(t);
	ASSERT_LIMIT(t.limits.max_num_seqs, 48, "vllm_config_info");

	/* 0.8-era names: KV usage from gpu_cache_usage_perc, TPOT from
	 * time_per_output_token_seconds; capacity from blocks x size / len */
	t = it_scraper_get(w, "old-args");
	ASSERT_UP(t);
	ASSERT_LIMIT(t.limits.max_num_seqs, 8, "pod_args");
	ASSERT_EQ_DBL(t.engine.kv_usage, 0.37, 1e-12);
	ASSERT_TRUE(t.engine.present & SERIES_KV_USAGE);
	ASSERT_TRUE(t.engine.present & SERIES_TPOT);
	ASSERT_TRUE(t.engine.present & SERIES_PREFIX_CACHE);
	ASSERT_EQ_DBL(t.engine.running, 5, 0);
	ASSERT_EQ_DBL(t.engine.waiting, 2, 0);
	ASSERT_EQ_DBL(t.engine.preemptions, 7, 0);
	ASSERT_LIMIT(t.limits.kv_concurrency, 4096.0 * 16 / 8192, "cache_config_info");
	ASSERT_TRUE(!t.checks.active[CHECK_LIMIT_DRIFT]);
	/* this version has no queue-time histogram: named, not fatal */
	ASSERT_STREQ(t.checks.message[CHECK_METRICS_MISSING],
		     "series absent for this engine version: queue_time");
	ASSERT_TRUE(!check_is_failure(CHECK_METRICS_MISSING));

	/* Nothing better than the documented default (256, assumed), and the
	 * engine is seen holding 5 running while 2 wait, scrape after scrape:
	 * the observed ceiling replaces the assumption. */
	t = it_scraper_get(w, "old");
	ASSERT_UP(t);
	ASSERT_LIMIT(t.limits.max_num_seqs, 5, "observed_ceiling");
	ASSERT_CONTAINS(t.checks.message[CHECK_SATURATED],
			"running 5 of max-num-seqs 5 (observed_ceiling)");
	ASSERT_CONTAINS(t.checks.message[CHECK_LIMIT_DRIFT], "below the KV-derived concurrency 8.00");

	/* A 404 from /server_info (no dev mode) is remembered: asked once per
	 * target, while /v1/models is asked on every info round. The dev-mode
	 * server keeps being asked. */
	it_scraper_free(w);
	ASSERT_EQ_INT(it_engines_requests(&e, "vllm-old", "/server_info"), 2);
	ASSERT_TRUE(it_engines_requests(&e, "vllm-old", "/v1/models") >= 8);
	ASSERT_EQ_INT(it_engines_requests(&e, "vllm-fork-nodev", "/server_info"), 1);
	ASSERT_TRUE(it_engines_requests(&e, "vllm-fork", "/server_info") >= 4);
	it_engines_stop(&e);
}

/* Bad endpoints and the good ones share one scraper with short timeouts. */
static const char *const good_keys[] = {"sim", "fork", "sglang", "hugelabel"};
static const char *const bad_keys[] = {"slow", "hang", "dead", "garbage", "html", "oversized"};
#define NGOOD 4
#define NBAD 6

TEST(slow_dead_garbage_oversized_never_stall_other_targets)
{
	static const char *const sim_args[] = {"--model", "qwen3-26b", "--max-num-seqs", "2",
					       "--max-model-len", "1024", "--block-size", "16",
					       "--kv-cache-size", "557", NULL};
	struct scraper_opts o = {.interval_ms = 1000, .timeout_ms = 2000, .max_body = 8 * MIB,
				 .seed = 3};
	struct it_engines e;
	struct it_sim sim;
	struct it_scraper *w;
	struct scrape_target t;
	char url[64];
	bool done = false;

	it_engines_start(&e, "vllm-fork sglang hugelabel slow hang dead garbage html oversized", 24);
	it_sim_start(&sim, sim_args);
	w = it_scraper_new(&o);
	it_scraper_add(w, "sim", sim.url, BACKEND_VLLM, 0);
	it_engines_url(&e, "vllm-fork", url, sizeof(url));
	it_scraper_add(w, "fork", url, BACKEND_VLLM, 0);
	it_engines_url(&e, "sglang", url, sizeof(url));
	it_scraper_add(w, "sglang", url, BACKEND_SGLANG, 0);
	it_engines_url(&e, "hugelabel", url, sizeof(url));
	it_scraper_add(w, "hugelabel", url, BACKEND_VLLM, 0);
	for (int i = 0; i < NBAD; i++) {
		it_engines_url(&e, bad_keys[i], url, sizeof(url));
		it_scraper_add(w, bad_keys[i], url, BACKEND_VLLM, 0);
	}

	/* several good scrapes each, and every bad target tried and failed
	 * more than once, within a generous bound */
	for (int i = 0; i < 120 * 4 && !done; i++) {
		done = true;
		for (int k = 0; k < NGOOD; k++)
			done = done && it_scraper_get(w, good_keys[k]).scrapes >= 5;
		for (int k = 0; k < NBAD; k++)
			done = done && it_scraper_get(w, bad_keys[k]).failures >= 2;
		if (!done)
			usleep(250000);
	}
	fprintf(stderr, "targets:\n");
	for (int k = 0; k < NGOOD; k++) {
		t = it_scraper_get(w, good_keys[k]);
		print_target(&t);
	}
	for (int k = 0; k < NBAD; k++) {
		t = it_scraper_get(w, bad_keys[k]);
		print_target(&t);
	}

	for (int k = 0; k < NGOOD; k++) {
		t = it_scraper_get(w, good_keys[k]);
		if (t.scrapes < 5)
			fail_target(__FILE__, __LINE__, &t, "a good target was stalled");
		ASSERT_UP(t);
	}
	for (int k = 0; k < NBAD; k++) {
		t = it_scraper_get(w, bad_keys[k]);
		if (t.up || t.failures < 2 || t.failures != t.scrapes)
			fail_target(__FILE__, __LINE__, &t, "a bad target was not failed every time");
		it_engines_url(&e, bad_keys[k], url, sizeof(url));
		ASSERT_CONTAINS(t.error, url); /* the error names the endpoint */
		ASSERT_TRUE(t.checks.active[CHECK_SCRAPE_FAILED]);
	}
	ASSERT_CONTAINS(it_scraper_get(w, "slow").error, "timed out");
	ASSERT_CONTAINS(it_scraper_get(w, "hang").error, "timed out");
	ASSERT_CONTAINS(it_scraper_get(w, "dead").error, "cannot connect");
	ASSERT_CONTAINS(it_scraper_get(w, "garbage").error, "no samples in the response");
	ASSERT_CONTAINS(it_scraper_get(w, "html").error, "no samples in the response");
	ASSERT_CONTAINS(it_scraper_get(w, "oversized").error, "body exceeds the 8388608-byte cap");

	/* the 5 MB label: that one sample skipped, the samples after it read */
	t = it_scraper_get(w, "hugelabel");
	ASSERT_TRUE(t.samples_skipped >= 1);
	ASSERT_CONTAINS(t.problem, "vllm:vllm_config_info");
	ASSERT_CONTAINS(t.problem, "skipped");
	ASSERT_EQ_DBL(t.engine.cfg_max_num_seqs, 0, 0); /* not half-read */
	ASSERT_EQ_DBL(t.engine.running, 30, 0);
	ASSERT_EQ_DBL(t.engine.kv_usage, 0.55, 1e-12);
	ASSERT_LIMIT(t.limits.kv_concurrency, 45.5, "cache_config_info");

	/* the simulator's incident shape is read while the others misbehave */
	t = it_scraper_get(w, "sim");
	ASSERT_LIMIT(t.limits.kv_concurrency, 557.0 * 16 / 1024, "cache_config_info");
	ASSERT_STREQ(t.engine.models[0], "qwen3-26b");

	it_scraper_free(w);
	it_sim_stop(&sim);
	it_engines_stop(&e);
}

/* More endpoints that hang than max_concurrent slots: every target still
 * gets its turns, the good ones included. */
TEST(hanging_targets_beyond_max_concurrent_do_not_starve_others)
{
	static const char *const hang_keys[] = {"hang-a", "hang-b", "hang-c",
						"slow-a", "slow-b", "slow-c"};
	static const char *const ok_keys[] = {"fork", "sglang"};
	struct scraper_opts o = {.interval_ms = 1000, .timeout_ms = 2000, .max_concurrent = 2,
				 .seed = 4};
	struct it_engines e;
	struct it_scraper *w;
	char url[64];

	it_engines_start(&e, "vllm-fork sglang slow hang", 0);
	w = it_scraper_new(&o);
	for (int i = 0; i < 6; i++) {
		it_engines_url(&e, i < 3 ? "hang" : "slow", url, sizeof(url));
		it_scraper_add(w, hang_keys[i], url, BACKEND_VLLM, 0);
	}
	it_engines_url(&e, "vllm-fork", url, sizeof(url));
	it_scraper_add(w, "fork", url, BACKEND_VLLM, 0);
	it_engines_url(&e, "sglang", url, sizeof(url));
	it_scraper_add(w, "sglang", url, BACKEND_SGLANG, 0);

	/* six 2 s timeouts per round on two slots: a round takes about 6 s */
	wait_scrapes(w, hang_keys, 6, 2, 120);
	wait_scrapes(w, ok_keys, 2, 3, 120);
	for (int k = 0; k < 2; k++) {
		struct scrape_target t = it_scraper_get(w, ok_keys[k]);
		print_target(&t);
		ASSERT_UP(t);
	}
	for (int k = 0; k < 6; k++) {
		struct scrape_target t = it_scraper_get(w, hang_keys[k]);
		print_target(&t);
		if (t.up || t.failures != t.scrapes)
			fail_target(__FILE__, __LINE__, &t, "expected every scrape to time out");
		ASSERT_CONTAINS(t.error, "timed out");
	}
	it_scraper_free(w);
	it_engines_stop(&e);
}

/* up and error describe the last completed scrape, also while the next one
 * is in flight (the controller exports them at any moment). */
TEST(up_and_error_hold_the_last_completed_scrape)
{
	static const char *const keys[] = {"sluggish"};
	struct scraper_opts o = {.interval_ms = 200, .timeout_ms = 10000, .seed = 5};
	struct it_engines e;
	struct it_scraper *w;
	struct scrape_target t;
	char url[64];
	int reads = 0;

	it_engines_start(&e, "sluggish", 0);
	w = it_scraper_new(&o);
	it_engines_url(&e, "sluggish", url, sizeof(url));
	it_scraper_add(w, "sluggish", url, BACKEND_VLLM, 0);
	wait_scrapes(w, keys, 1, 1, 60);
	/* each scrape waits 1 s for the page: most reads land in one */
	do {
		t = it_scraper_get(w, "sluggish");
		reads++;
		if (!t.up || t.error[0])
			fail_target(__FILE__, __LINE__, &t, "read as down between good scrapes");
		usleep(50000);
	} while (t.scrapes < 4 && reads < 60 * 20);
	print_target(&t);
	ASSERT_TRUE(t.scrapes >= 4);
	it_scraper_free(w);
	it_engines_stop(&e);
}

int main(int argc, char **argv)
{
	return t_run(argc, argv);
}
