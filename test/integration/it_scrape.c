/*
 * The scraper on its loop against engines over real HTTP: SGLang and vLLM
 * variants composed by engines.py from METRICS.md, the real
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
