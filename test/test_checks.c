#include "t.h"

#include "checks.h"

#include <stdio.h>
#include <stdlib.h>

#include "alloc.h"
#include "promtext.h"

static void mk(struct engine_scrape *e, double running, double waiting, double kv, double preempt)
{
	engine_scrape_init(e, BACKEND_VLLM);
	e->running = running;
	e->waiting = waiting;
	e->kv_usage = kv;
	e->preemptions = preempt;
	e->preemptions_is_counter = true;
	e->num_gpu_blocks = 557;
	e->block_size = 16;
	/* what a complete vLLM 0.11 page carries (docs/metrics.md), written out
	 * rather than engine_series_expected(), which would keep MetricsMissing
	 * off by construction */
	e->present = SERIES_RUNNING | SERIES_WAITING | SERIES_KV_USAGE | SERIES_PREEMPTIONS |
		     SERIES_TOKENS | SERIES_TTFT | SERIES_TPOT | SERIES_E2E | SERIES_QUEUE_TIME |
		     SERIES_PREFIX_CACHE | SERIES_KV_CAPACITY | SERIES_SUCCESS;
}

/* The incident: max-num-seqs 2 in the manifest, KV room for ~8.70. */
TEST(checks_incident_drift_saturation_admission_bound)
{
	struct check_opts o;
	struct engine_history h;
	struct engine_scrape e;
	struct resolved_limits lim;
	struct check_result r;
	struct limit_inputs in = {
		.backend = BACKEND_VLLM, .args_max_num_seqs = 2, .max_model_len = 1024};

	check_opts_default(&o);
	history_init(&h);
	mk(&e, 2, 1, 0.02, 0);
	history_push(&h, 1000, &e);
	limits_resolve(&in, &e, &h, &o, &lim);
	ASSERT_EQ_DBL(lim.max_num_seqs.value, 2, 0);
	ASSERT_STREQ(limit_source_name(lim.max_num_seqs.source), "pod_args");
	ASSERT_EQ_DBL(lim.kv_concurrency.value, 8.703125, 1e-9);
	checks_evaluate(&o, &e, &h, &lim, NULL, &r);
	ASSERT_TRUE(r.active[CHECK_LIMIT_DRIFT]);
	ASSERT_CONTAINS(r.message[CHECK_LIMIT_DRIFT], "max-num-seqs 2 (pod_args) is 77% below");
	ASSERT_CONTAINS(r.message[CHECK_LIMIT_DRIFT], "8.70");
	ASSERT_TRUE(r.active[CHECK_SATURATED]);
	ASSERT_TRUE(!r.active[CHECK_ADMISSION_BOUND]); /* one scrape is not a trend */
	ASSERT_EQ_DBL(r.saturation, 1.0, 0);

	mk(&e, 2, 1, 0.02, 0);
	history_push(&h, 16000, &e);
	checks_evaluate(&o, &e, &h, &lim, NULL, &r);
	ASSERT_TRUE(r.active[CHECK_ADMISSION_BOUND]);
	ASSERT_CONTAINS(r.message[CHECK_ADMISSION_BOUND], "admission-bound, not memory-bound");
	ASSERT_TRUE(!r.active[CHECK_KV_PRESSURE]);
	ASSERT_TRUE(!r.active[CHECK_PREEMPTING]);
	ASSERT_TRUE(!r.active[CHECK_METRICS_MISSING]);
	ASSERT_TRUE(check_is_failure(CHECK_LIMIT_DRIFT) &&
		    !check_is_failure(CHECK_METRICS_MISSING));
}

TEST(checks_within_tolerance_and_overcommit)
{
	struct check_opts o;
	struct engine_history h;
	struct engine_scrape e;
	struct resolved_limits lim;
	struct check_result r;
	struct limit_inputs in = {
		.backend = BACKEND_VLLM, .args_max_num_seqs = 8, .max_model_len = 1024};

	check_opts_default(&o);
	history_init(&h);
	mk(&e, 3, 0, 0.3, 0);
	history_push(&h, 1000, &e);
	limits_resolve(&in, &e, &h, &o, &lim);
	checks_evaluate(&o, &e, &h, &lim, NULL, &r);
	for (int k = 0; k < CHECK_COUNT; k++)
		ASSERT_TRUE(!r.active[k]);
	ASSERT_EQ_DBL(r.drift, (8 - 8.703125) / 8.703125, 1e-9);

	in.args_max_num_seqs = 64;
	limits_resolve(&in, &e, &h, &o, &lim);
	checks_evaluate(&o, &e, &h, &lim, NULL, &r);
	ASSERT_TRUE(r.active[CHECK_LIMIT_DRIFT]);
	ASSERT_CONTAINS(r.message[CHECK_LIMIT_DRIFT], "above");
	ASSERT_CONTAINS(r.message[CHECK_LIMIT_DRIFT], "over-commit");
}

TEST(checks_pressure_preemption_missing_scrape)
{
	struct check_opts o;
	struct engine_history h;
	struct engine_scrape e;
	struct resolved_limits lim;
	struct check_result r;
	struct limit_inputs in = {
		.backend = BACKEND_VLLM, .args_max_num_seqs = 8, .max_model_len = 1024};

	check_opts_default(&o);
	history_init(&h);
	mk(&e, 8, 0, 0.95, 10);
	history_push(&h, 1000, &e);
	mk(&e, 8, 0, 0.95, 13);
	e.present &= ~(unsigned)(SERIES_PREEMPTIONS | SERIES_E2E);
	history_push(&h, 6000, &e);
	limits_resolve(&in, &e, &h, &o, &lim);
	checks_evaluate(&o, &e, &h, &lim, "GET http://127.0.0.1:1/metrics: cannot connect", &r);
	ASSERT_TRUE(r.active[CHECK_KV_PRESSURE]);
	ASSERT_CONTAINS(r.message[CHECK_KV_PRESSURE], "95%");
	ASSERT_TRUE(r.active[CHECK_PREEMPTING]);
	ASSERT_CONTAINS(r.message[CHECK_PREEMPTING], "3 preemptions in the last 5 s");
	ASSERT_TRUE(r.active[CHECK_METRICS_MISSING]);
	ASSERT_CONTAINS(r.message[CHECK_METRICS_MISSING], "preemptions, e2e_latency");
	ASSERT_TRUE(r.active[CHECK_SCRAPE_FAILED]);
}

/* Before the first request an engine has no histograms: not "missing". */
TEST(checks_metrics_missing_waits_for_traffic)
{
	struct check_opts o;
	struct engine_history h;
	struct engine_scrape e;
	struct resolved_limits lim;
	struct check_result r;
	struct limit_inputs in = {
		.backend = BACKEND_VLLM, .args_max_num_seqs = 8, .max_model_len = 1024};

	check_opts_default(&o);
	history_init(&h);
	mk(&e, 0, 0, 0, 0);
	e.present = SERIES_RUNNING | SERIES_WAITING | SERIES_KV_USAGE | SERIES_KV_CAPACITY |
		    SERIES_PREEMPTIONS;
	history_push(&h, 1000, &e);
	limits_resolve(&in, &e, &h, &o, &lim);
	checks_evaluate(&o, &e, &h, &lim, NULL, &r);
	ASSERT_TRUE(!r.active[CHECK_METRICS_MISSING]);
	/* after traffic, a series this version lacks is reported */
	e.present |= SERIES_TTFT | SERIES_TPOT | SERIES_E2E | SERIES_TOKENS | SERIES_SUCCESS |
		     SERIES_QUEUE_TIME;
	checks_evaluate(&o, &e, &h, &lim, NULL, &r);
	ASSERT_TRUE(r.active[CHECK_METRICS_MISSING]);
	ASSERT_STREQ(r.message[CHECK_METRICS_MISSING],
		     "series absent for this engine version: prefix_cache");
	/* the always-there gauges are judged from the first scrape */
	e.present = SERIES_RUNNING;
	checks_evaluate(&o, &e, &h, &lim, NULL, &r);
	ASSERT_CONTAINS(r.message[CHECK_METRICS_MISSING],
			"waiting, kv_usage, preemptions, kv_capacity");
}

TEST(checks_default_is_replaced_by_observed_ceiling)
{
	struct check_opts o;
	struct engine_history h;
	struct engine_scrape e;
	struct resolved_limits lim;
	struct limit_inputs in = {.backend = BACKEND_VLLM, .max_model_len = 1024};

	check_opts_default(&o);
	history_init(&h);
	mk(&e, 2, 1, 0.02, 0);
	history_push(&h, 1000, &e);
	limits_resolve(&in, &e, &h, &o, &lim);
	ASSERT_STREQ(limit_source_name(lim.max_num_seqs.source), "default_assumed");
	ASSERT_EQ_DBL(lim.max_num_seqs.value, 256, 0);
	history_push(&h, 2000, &e);
	history_push(&h, 3000, &e);
	limits_resolve(&in, &e, &h, &o, &lim);
	ASSERT_STREQ(limit_source_name(lim.max_num_seqs.source), "observed_ceiling");
	ASSERT_EQ_DBL(lim.max_num_seqs.value, 2, 0);
	/* a live source is never replaced */
	in.args_max_num_seqs = 4;
	limits_resolve(&in, &e, &h, &o, &lim);
	ASSERT_STREQ(limit_source_name(lim.max_num_seqs.source), "pod_args");
	/* the config-info label beats args */
	e.cfg_max_num_seqs = 6;
	limits_resolve(&in, &e, &h, &o, &lim);
	ASSERT_STREQ(limit_source_name(lim.max_num_seqs.source), "vllm_config_info");
	ASSERT_EQ_DBL(lim.max_num_seqs.value, 6, 0);
}

/* vLLM with two data-parallel engines: 8 per engine is 16 for the pod,
 * against two engines' KV capacity. */
TEST(checks_vllm_data_parallel_cap_is_per_engine_times_engines)
{
	struct check_opts o;
	struct engine_history h;
	struct engine_scrape e;
	struct resolved_limits lim;
	struct check_result r;
	struct limit_inputs in = {
		.backend = BACKEND_VLLM, .args_max_num_seqs = 8, .max_model_len = 1024};

	check_opts_default(&o);
	history_init(&h);
	mk(&e, 12, 0, 0.3, 0);
	e.engines = 2;
	e.num_gpu_blocks = 2 * 557; /* summed over the two engines */
	history_push(&h, 1000, &e);
	limits_resolve(&in, &e, &h, &o, &lim);
	ASSERT_EQ_DBL(lim.max_num_seqs.value, 16, 0);
	ASSERT_EQ_DBL(lim.kv_concurrency.value, 2 * 8.703125, 1e-9);
	checks_evaluate(&o, &e, &h, &lim, NULL, &r);
	ASSERT_TRUE(!r.active[CHECK_LIMIT_DRIFT]); /* 16 vs 17.4: within tolerance */
	ASSERT_EQ_DBL(r.saturation, 12.0 / 16, 1e-12);
}

TEST(checks_sglang_effective_limit_and_kv_pool)
{
	struct check_opts o;
	struct engine_history h;
	struct engine_scrape e;
	struct resolved_limits lim;
	struct sglang_server_info si = {.max_running = {192, LIMIT_GET_SERVER_INFO},
					.context_length = {32768, LIMIT_GET_SERVER_INFO},
					.max_total_num_tokens = 500000,
					.dp_size = 4};
	struct limit_inputs in = {
		.backend = BACKEND_SGLANG, .sglang_info = &si, .args_max_num_seqs = 256};

	check_opts_default(&o);
	history_init(&h);
	engine_scrape_init(&e, BACKEND_SGLANG);
	history_push(&h, 1000, &e);
	limits_resolve(&in, &e, &h, &o, &lim);
	ASSERT_EQ_DBL(lim.max_num_seqs.value, 192, 0);
	ASSERT_STREQ(limit_source_name(lim.max_num_seqs.source), "get_server_info");
	/* the pool /get_server_info gives is one DP rank's: x dp_size, as the cap */
	ASSERT_EQ_DBL(lim.kv_concurrency.value, 4 * 500000.0 / 32768, 1e-9);
	ASSERT_STREQ(limit_source_name(lim.kv_concurrency.source), "kv_pool");
	in.sglang_info = NULL;
	limits_resolve(&in, &e, &h, &o, &lim);
	ASSERT_STREQ(limit_source_name(lim.max_num_seqs.source), "pod_args");
}

/* MetricsMissing judged on recorded pages (test/data/promtext) against
 * what docs/metrics.md says each engine exports, the expectation written
 * here by hand from reading the page. */
static const struct {
	const char *page;
	enum backend backend;
	const char *missing; /* NULL: the check stays off */
} pages[] = {
	{"vllm_v1_dp.txt", BACKEND_VLLM, NULL},
	/* the simulator exports no preemption series */
	{"inference_sim.txt", BACKEND_VLLM, "preemptions"},
	{"sglang_colon.txt", BACKEND_SGLANG, NULL},
};

static void judge_page(const char *name, enum backend b, struct check_result *r)
{
	char rel[256], *text;
	size_t len = 0;
	struct promtext p;
	struct engine_scrape e;
	struct engine_history h;
	struct check_opts o;
	struct resolved_limits lim;
	struct limit_inputs in = {.backend = b, .args_max_num_seqs = 8, .max_model_len = 1024};

	snprintf(rel, sizeof(rel), "promtext/%s", name);
	text = t_read_data(rel, &len);
	engine_scrape_init(&e, b);
	promtext_init(&p, NULL, engine_observe, &e);
	ASSERT_OK(promtext_feed(&p, text, len));
	ASSERT_OK(promtext_finish(&p));
	promtext_release(&p);
	im_free(text);
	engine_scrape_end(&e);
	check_opts_default(&o);
	history_init(&h);
	history_push(&h, 1000, &e);
	limits_resolve(&in, &e, &h, &o, &lim);
	checks_evaluate(&o, &e, &h, &lim, NULL, r);
	engine_scrape_release(&e);
}

TEST(metrics_missing_on_recorded_pages)
{
	for (size_t i = 0; i < sizeof(pages) / sizeof(pages[0]); i++) {
		struct check_result r;

		judge_page(pages[i].page, pages[i].backend, &r);
		if (!pages[i].missing) {
			if (r.active[CHECK_METRICS_MISSING])
				t_fail(__FILE__, __LINE__, "%s: MetricsMissing: %s", pages[i].page,
				       r.message[CHECK_METRICS_MISSING]);
			continue;
		}
		if (!r.active[CHECK_METRICS_MISSING])
			t_fail(__FILE__, __LINE__, "%s: MetricsMissing is off, want %s",
			       pages[i].page, pages[i].missing);
		{
			char want[256];
			snprintf(want, sizeof(want), "series absent for this engine version: %s",
				 pages[i].missing);
			ASSERT_STREQ(r.message[CHECK_METRICS_MISSING], want);
		}
	}
}

int main(int argc, char **argv)
{
	return t_run(argc, argv);
}
