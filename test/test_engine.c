#include "t.h"

#include "engine.h"

static void scrape(struct engine_scrape *e, enum backend b, const char *text)
{
	struct promtext p;

	engine_scrape_init(e, b);
	promtext_init(&p, NULL, engine_observe, e);
	ASSERT_OK(promtext_feed(&p, text, strlen(text)));
	ASSERT_OK(promtext_finish(&p));
	ASSERT_STREQ(promtext_problem(&p), "");
	promtext_release(&p);
	engine_scrape_end(e);
}

/* vLLM V1, current names, two data-parallel engines */
static const char vllm_new[] =
	"# HELP vllm:num_requests_running Number of requests in model execution batches.\n"
	"# TYPE vllm:num_requests_running gauge\n"
	"vllm:num_requests_running{engine=\"0\",model_name=\"qwen3-26b\"} 2.0\n"
	"vllm:num_requests_running{engine=\"1\",model_name=\"qwen3-26b\"} 1.0\n"
	"# TYPE vllm:num_requests_waiting gauge\n"
	"vllm:num_requests_waiting{engine=\"0\",model_name=\"qwen3-26b\"} 3.0\n"
	"vllm:num_requests_waiting{engine=\"1\",model_name=\"qwen3-26b\"} 0.0\n"
	"# TYPE vllm:kv_cache_usage_perc gauge\n"
	"vllm:kv_cache_usage_perc{engine=\"0\",model_name=\"qwen3-26b\"} 0.02\n"
	"vllm:kv_cache_usage_perc{engine=\"1\",model_name=\"qwen3-26b\"} 0.05\n"
	"# TYPE vllm:num_preemptions counter\n"
	"vllm:num_preemptions_total{engine=\"0\",model_name=\"qwen3-26b\"} 4.0\n"
	"vllm:num_preemptions_created{engine=\"0\",model_name=\"qwen3-26b\"} 1.7e9\n"
	"# TYPE vllm:cache_config_info gauge\n"
	"vllm:cache_config_info{block_size=\"16\",cache_dtype=\"auto\",engine=\"0\",num_gpu_blocks=\"557\",kv_cache_size_tokens=\"8912\",kv_cache_max_concurrency=\"8.70\"} 1.0\n"
	"# TYPE vllm:inter_token_latency_seconds histogram\n"
	"vllm:inter_token_latency_seconds_bucket{engine=\"0\",le=\"+Inf\",model_name=\"qwen3-26b\"} 10\n"
	"vllm:time_to_first_token_seconds_count{engine=\"0\",model_name=\"qwen3-26b\"} 10\n";

/* vLLM 0.8-era names */
static const char vllm_old[] =
	"vllm:num_requests_running{model_name=\"m\"} 5\n"
	"vllm:num_requests_waiting{model_name=\"m\"} 0\n"
	"vllm:num_requests_swapped{model_name=\"m\"} 1\n"
	"vllm:gpu_cache_usage_perc{model_name=\"m\"} 0.93\n"
	"vllm:time_per_output_token_seconds_sum{model_name=\"m\"} 3.5\n"
	"vllm:gpu_prefix_cache_queries_total{model_name=\"m\"} 100\n"
	"vllm:vllm_config_info{scheduler_config_max_num_seqs=\"48\",model_config_max_model_len=\"4096\"} 1\n";

TEST(engine_vllm_current_sums_engines)
{
	struct engine_scrape e;

	scrape(&e, BACKEND_VLLM, vllm_new);
	ASSERT_EQ_DBL(e.running, 3, 0);
	ASSERT_EQ_INT(e.engines, 2);
	ASSERT_EQ_DBL(e.waiting, 3, 0);
	ASSERT_EQ_DBL(e.kv_usage, 0.05, 1e-12);
	ASSERT_EQ_DBL(e.preemptions, 4, 0); /* _created ignored */
	ASSERT_EQ_DBL(e.num_gpu_blocks, 557, 0);
	ASSERT_EQ_DBL(e.block_size, 16, 0);
	ASSERT_EQ_DBL(e.kv_max_concurrency, 8.70, 1e-12);
	ASSERT_EQ_INT(e.nmodels, 1);
	ASSERT_STREQ(e.models[0], "qwen3-26b");
	ASSERT_TRUE(e.present & SERIES_TPOT);
	ASSERT_TRUE(e.present & SERIES_TTFT);
	ASSERT_TRUE(!(e.present & SERIES_E2E));
	engine_scrape_release(&e);
}

TEST(engine_vllm_old_names)
{
	struct engine_scrape e;

	scrape(&e, BACKEND_VLLM, vllm_old);
	ASSERT_EQ_DBL(e.running, 5, 0);
	ASSERT_EQ_DBL(e.swapped, 1, 0);
	ASSERT_EQ_DBL(e.kv_usage, 0.93, 1e-12);
	ASSERT_EQ_DBL(e.cfg_max_num_seqs, 48, 0);
	ASSERT_TRUE(e.present & SERIES_TPOT);
	ASSERT_TRUE(e.present & SERIES_PREFIX_CACHE);
	ASSERT_TRUE(!(e.present & SERIES_PREEMPTIONS));
	engine_scrape_release(&e);
}

TEST(engine_vllm_new_kv_name_wins_over_old)
{
	struct engine_scrape e;
	const char both[] = "vllm:gpu_cache_usage_perc{model_name=\"m\"} 0.9\n"
			    "vllm:kv_cache_usage_perc{model_name=\"m\"} 0.2\n"
			    "vllm:gpu_cache_usage_perc{model_name=\"m\"} 0.95\n";

	scrape(&e, BACKEND_VLLM, both);
	ASSERT_EQ_DBL(e.kv_usage, 0.2, 1e-12);
	engine_scrape_release(&e);
}

static const char sglang_colon[] =
	"# TYPE sglang:num_running_reqs gauge\n"
	"sglang:num_running_reqs{model_name=\"llama\",tp_rank=\"0\",dp_rank=\"0\",engine_type=\"unified\"} 10\n"
	"sglang:num_running_reqs{model_name=\"llama\",tp_rank=\"1\",dp_rank=\"0\",engine_type=\"unified\"} 10\n"
	"sglang:num_running_reqs{model_name=\"llama\",tp_rank=\"0\",dp_rank=\"1\",engine_type=\"unified\"} 7\n"
	"sglang:num_queue_reqs{model_name=\"llama\",tp_rank=\"0\",dp_rank=\"0\"} 2\n"
	"sglang:num_queue_reqs{model_name=\"llama\",tp_rank=\"0\",dp_rank=\"1\"} 1\n"
	"sglang:token_usage{model_name=\"llama\",tp_rank=\"0\",dp_rank=\"0\"} 0.4\n"
	"sglang:token_usage{model_name=\"llama\",tp_rank=\"0\",dp_rank=\"1\"} 0.6\n"
	"sglang:num_retracted_requests_total{model_name=\"llama\",tp_rank=\"0\"} 3\n"
	"sglang:max_total_num_tokens{model_name=\"llama\",tp_rank=\"0\",dp_rank=\"0\"} 100000\n";

static const char sglang_underscore[] =
	"sglang_num_running_reqs{model_name=\"llama\",tp_rank=\"0\"} 4\n"
	"sglang_num_queue_reqs{model_name=\"llama\",tp_rank=\"0\"} 0\n"
	"sglang_num_used_tokens{model_name=\"llama\",tp_rank=\"0\"} 2500\n"
	"sglang_max_total_num_tokens{model_name=\"llama\",tp_rank=\"0\"} 10000\n"
	"sglang_num_retracted_reqs{model_name=\"llama\",tp_rank=\"0\"} 1\n";

TEST(engine_sglang_tp0_sum_dp)
{
	struct engine_scrape e;

	scrape(&e, BACKEND_SGLANG, sglang_colon);
	ASSERT_EQ_DBL(e.running, 17, 0);
	ASSERT_EQ_DBL(e.waiting, 3, 0);
	ASSERT_EQ_DBL(e.kv_usage, 0.6, 1e-12);
	ASSERT_EQ_DBL(e.preemptions, 3, 0);
	ASSERT_TRUE(e.preemptions_is_counter);
	ASSERT_STREQ(e.engine_type, "unified");
	ASSERT_STREQ(e.models[0], "llama");
	engine_scrape_release(&e);
}

TEST(engine_sglang_underscore_prefix_and_derived_usage)
{
	struct engine_scrape e;

	scrape(&e, BACKEND_SGLANG, sglang_underscore);
	ASSERT_EQ_DBL(e.running, 4, 0);
	ASSERT_EQ_DBL(e.kv_usage, 0.25, 1e-12);
	ASSERT_EQ_DBL(e.preemptions, 1, 0);
	ASSERT_TRUE(!e.preemptions_is_counter);
	engine_scrape_release(&e);
}

TEST(engine_sglang_pd_queues)
{
	struct engine_scrape e;
	const char pd[] =
		"sglang:num_prefill_bootstrap_queue_reqs{tp_rank=\"0\",engine_type=\"prefill\"} 2\n"
		"sglang:num_prefill_inflight_queue_reqs{tp_rank=\"0\",engine_type=\"prefill\"} 1\n"
		"sglang:num_decode_transfer_queue_reqs{tp_rank=\"0\"} 4\n"
		"sglang:num_transfer_failed_reqs_total{tp_rank=\"0\"} 2\n";

	scrape(&e, BACKEND_SGLANG_PD, pd);
	ASSERT_EQ_DBL(e.pd_prefill_queue, 3, 0);
	ASSERT_EQ_DBL(e.pd_decode_queue, 4, 0);
	ASSERT_EQ_DBL(e.pd_transfer_failures, 2, 0);
	ASSERT_STREQ(e.engine_type, "prefill");
	engine_scrape_release(&e);
}

/* A target keeps its engine state scrape after scrape: the model names
 * move with it, and a name that stays is not copied again. */
TEST(engine_move_keeps_the_names_of_the_last_scrape)
{
	struct engine_scrape kept, next;
	const char *first;

	engine_scrape_init(&kept, BACKEND_VLLM);
	scrape(&next, BACKEND_VLLM, vllm_new);
	engine_scrape_move(&kept, &next);
	ASSERT_EQ_INT(kept.nmodels, 1);
	ASSERT_STREQ(kept.models[0], "qwen3-26b");
	ASSERT_EQ_DBL(kept.running, 3, 0);
	ASSERT_EQ_INT(next.nmodels, 0);
	ASSERT_EQ_INT(next.backend, BACKEND_VLLM);
	first = kept.models[0];

	scrape(&next, BACKEND_VLLM, vllm_new);
	engine_scrape_move(&kept, &next);
	ASSERT_TRUE(kept.models[0] == first); /* the same name: kept, not copied */

	scrape(&next, BACKEND_VLLM,
	       "vllm:num_requests_running{model_name=\"b\"} 1\n"
	       "vllm:num_requests_running{model_name=\"a\"} 1\n");
	engine_scrape_move(&kept, &next);
	ASSERT_EQ_INT(kept.nmodels, 2);
	ASSERT_STREQ(kept.models[0], "b");
	ASSERT_STREQ(kept.models[1], "a");
	ASSERT_EQ_DBL(kept.running, 2, 0);

	scrape(&next, BACKEND_VLLM, "vllm:num_requests_running 4\n");
	engine_scrape_move(&kept, &next);
	ASSERT_EQ_INT(kept.nmodels, 0);
	ASSERT_EQ_DBL(kept.running, 4, 0);
	engine_scrape_release(&kept);
	engine_scrape_release(&next);
}

/* Bucket bounds: SGLang's TP rank 1 and +Inf left out, either prefix; a
 * scrape that does not read them keeps the last ones through the move. */
TEST(engine_histogram_bounds_are_read_when_wanted_and_kept_otherwise)
{
	static const char sgl[] =
		"sglang_time_to_first_token_seconds_bucket{tp_rank=\"0\",le=\"0.5\"} 1\n"
		"sglang_time_to_first_token_seconds_bucket{tp_rank=\"0\",le=\"2\"} 2\n"
		"sglang_time_to_first_token_seconds_bucket{tp_rank=\"0\",le=\"+Inf\"} 2\n"
		"sglang_time_to_first_token_seconds_bucket{tp_rank=\"1\",le=\"7\"} 2\n"
		"sglang:e2e_request_latency_seconds_bucket{tp_rank=\"0\",le=\"30\"} 2\n"
		"sglang:time_per_output_token_seconds_bucket{tp_rank=\"0\",le=\"0.1\"} 2\n";
	struct engine_scrape last, next;
	double below, above;

	scrape(&last, BACKEND_SGLANG, sgl);
	ASSERT_TRUE(last.bounds != NULL);
	ASSERT_EQ_INT((int)last.bounds->n[HIST_TTFT], 2);
	ASSERT_TRUE(histbounds_has(last.bounds, HIST_TTFT, 2.0, &below, &above));
	ASSERT_TRUE(!histbounds_has(last.bounds, HIST_TTFT, 7.0, &below, &above));
	ASSERT_EQ_DBL(below, 2, 0);
	ASSERT_EQ_DBL(above, 0, 0);
	ASSERT_TRUE(histbounds_has(last.bounds, HIST_TPOT, 0.1, &below, &above));
	ASSERT_TRUE(histbounds_has(last.bounds, HIST_E2E, 30, &below, &above));

	/* not wanted: nothing read, the move keeps what last had */
	engine_scrape_init(&next, BACKEND_SGLANG);
	next.want_bounds = false;
	{
		struct promtext p;
		promtext_init(&p, NULL, engine_observe, &next);
		ASSERT_OK(promtext_feed(&p, sgl, strlen(sgl)));
		ASSERT_OK(promtext_finish(&p));
		promtext_release(&p);
	}
	engine_scrape_end(&next);
	ASSERT_TRUE(next.bounds == NULL && next.bounds_scratch == NULL);
	{
		const struct histbounds *was = last.bounds;
		engine_scrape_move(&last, &next);
		ASSERT_TRUE(last.bounds == was);
	}
	/* wanted again, on a page without histograms: none */
	engine_scrape_release(&next);
	scrape(&next, BACKEND_SGLANG, "sglang:num_running_reqs 1\n");
	engine_scrape_move(&last, &next);
	ASSERT_TRUE(last.bounds == NULL);
	engine_scrape_release(&last);
	engine_scrape_release(&next);
}

TEST(engine_expected_series_and_backends)
{
	ASSERT_TRUE(engine_series_expected(BACKEND_VLLM) & SERIES_QUEUE_TIME);
	ASSERT_TRUE(!(engine_series_expected(BACKEND_SGLANG) & SERIES_QUEUE_TIME));
	ASSERT_TRUE(engine_series_expected(BACKEND_SGLANG_PD) & SERIES_PD_QUEUES);
	ASSERT_STREQ(engine_series_name(SERIES_KV_USAGE), "kv_usage");
	ASSERT_EQ_INT(backend_parse("vllm-pd"), BACKEND_VLLM_PD);
	ASSERT_EQ_INT(backend_parse("tgi"), BACKEND_UNKNOWN);
	ASSERT_STREQ(backend_name(BACKEND_SGLANG_PD), "sglang-pd");
	ASSERT_TRUE(backend_is_pd(BACKEND_VLLM_PD));
	ASSERT_TRUE(backend_is_sglang(BACKEND_SGLANG_PD));
}

int main(int argc, char **argv)
{
	return t_run(argc, argv);
}
