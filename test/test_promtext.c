#include "t.h"

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>

#include "alloc.h"
#include "buf.h"
#include "promtext.h"
#include "strparse.h"

/* --- helpers ------------------------------------------------------------- */

/* Each sample becomes one line:
 *   <family type> <family name> | name{labels in page order} value[ @ts]
 * so tests can assert with ASSERT_CONTAINS and compare whole runs. */
struct rec {
	struct buf out;
	uint64_t n;
	uint64_t stop_after;  /* callback fails with IM_CANCELED after this many */
	size_t longest_value; /* longest label value seen */
	struct buf help;      /* help text of the family named `help_of` */
	const char *help_of;
	struct buf unit;
};

static void rec_init(struct rec *r)
{
	memset(r, 0, sizeof(*r));
	buf_init(&r->out, BUF_MAX_LARGE);
	buf_init(&r->help, BUF_MAX_SMALL);
	buf_init(&r->unit, BUF_MAX_SMALL);
}

static void rec_release(struct rec *r)
{
	buf_release(&r->out);
	buf_release(&r->help);
	buf_release(&r->unit);
}

static void add_escaped(struct buf *b, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\\' || s[i] == '"')
			buf_addc(b, '\\');
		if (s[i] == '\n')
			buf_adds(b, "\\n");
		else
			buf_addc(b, s[i]);
	}
}

/* Shortest of %.15g / %.17g that reads back as v. */
static void add_value(struct buf *b, double v)
{
	char tmp[64];

	if (isnan(v)) {
		buf_adds(b, "NaN");
		return;
	}
	if (isinf(v)) {
		buf_adds(b, v > 0 ? "+Inf" : "-Inf");
		return;
	}
	snprintf(tmp, sizeof(tmp), "%.15g", v);
	if (strtod(tmp, NULL) != v)
		snprintf(tmp, sizeof(tmp), "%.17g", v);
	buf_adds(b, tmp);
}

static im_result record(void *ctx, const struct promtext_sample *s)
{
	struct rec *r = ctx;
	const struct promtext_family *f = s->family;

	if (r->stop_after && r->n == r->stop_after)
		return IM_CANCELED;
	r->n++;
	buf_printf(&r->out, "%s %.*s | %.*s", promtext_type_name(f->type), (int)f->name_len,
		   f->name, (int)s->name_len, s->name);
	if (s->nlabels) {
		buf_addc(&r->out, '{');
		for (size_t i = 0; i < s->nlabels; i++) {
			const struct promtext_label *l = &s->labels[i];
			if (l->value_len > r->longest_value)
				r->longest_value = l->value_len;
			buf_printf(&r->out, "%s%.*s=\"", i ? "," : "", (int)l->name_len, l->name);
			if (l->value_len <= 4096)
				add_escaped(&r->out, l->value, l->value_len);
			else
				buf_printf(&r->out, "<%zu bytes>", l->value_len);
			buf_addc(&r->out, '"');
		}
		buf_addc(&r->out, '}');
	}
	buf_addc(&r->out, ' ');
	add_value(&r->out, s->value);
	if (s->has_timestamp)
		buf_printf(&r->out, " @%" PRId64, s->timestamp_ms);
	buf_addc(&r->out, '\n');
	if (r->help_of && strparse_eq(f->name, f->name_len, r->help_of)) {
		buf_reset(&r->help);
		buf_add(&r->help, f->help, f->help_len);
		buf_reset(&r->unit);
		buf_add(&r->unit, f->unit, f->unit_len);
	}
	return IM_OK;
}

/* The outcome of one parse, for comparing runs. */
struct run {
	struct rec rec;
	struct promtext_stats stats;
	struct buf problem;
	im_result result;
	size_t max_carry_cap; /* largest carried-line allocation seen */
};

/* Parses data cut at the given offsets (ascending), or in `step`-byte pieces
 * when step > 0. */
static void run_parse(struct run *run, const struct promtext_opts *opts, const char *data,
		      size_t len, const size_t *cuts, size_t ncuts, size_t step)
{
	struct promtext p;
	size_t off = 0, k = 0;

	rec_init(&run->rec);
	buf_init(&run->problem, 4096);
	run->max_carry_cap = 0;
	promtext_init(&p, opts, record, &run->rec);
	run->result = IM_OK;
	while (off < len && !run->result) {
		size_t end;
		if (step)
			end = len - off < step ? len : off + step;
		else
			end = k < ncuts ? cuts[k++] : len;
		if (end < off)
			end = off;
		run->result = promtext_feed(&p, data + off, end - off);
		if (p.carry.cap > run->max_carry_cap)
			run->max_carry_cap = p.carry.cap;
		off = end;
	}
	if (!run->result)
		run->result = promtext_finish(&p);
	run->stats = p.stats;
	buf_adds(&run->problem, promtext_problem(&p));
	promtext_release(&p);
}

static void run_release(struct run *run)
{
	rec_release(&run->rec);
	buf_release(&run->problem);
}

static void assert_same(const struct run *a, const struct run *b, const char *what, size_t at)
{
	if (a->result != b->result || a->stats.samples != b->stats.samples ||
	    a->stats.lines != b->stats.lines || a->stats.malformed != b->stats.malformed ||
	    a->stats.skipped_oversized != b->stats.skipped_oversized ||
	    a->stats.bytes != b->stats.bytes || a->stats.eof != b->stats.eof ||
	    strcmp(buf_str(&a->rec.out), buf_str(&b->rec.out)) != 0 ||
	    strcmp(buf_str(&a->problem), buf_str(&b->problem)) != 0)
		t_fail(__FILE__, __LINE__,
		       "%s at %zu differs from one feed: samples %" PRIu64 "/%" PRIu64
		       " malformed %" PRIu64 "/%" PRIu64 " problem \"%s\" / \"%s\"",
		       what, at, b->stats.samples, a->stats.samples, b->stats.malformed,
		       a->stats.malformed, buf_str(&b->problem), buf_str(&a->problem));
}

static void parse_str(struct run *run, const struct promtext_opts *opts, const char *s)
{
	run_parse(run, opts, s, strlen(s), NULL, 0, 0);
}

static char *load_fixture(const char *name, size_t *len)
{
	char rel[256];

	snprintf(rel, sizeof(rel), "promtext/%s", name);
	return t_read_data(rel, len);
}

static const char *const fixtures[] = {
	"vllm_v1_dp.txt",        "vllm_v1_nixl_prefill.txt",
	"vllm_v1_early.txt",     "vllm_v0.txt",
	"inference_sim.txt",     "vllm_fork_config_info.txt",
	"sglang_colon.txt",      "sglang_underscore.txt",
	"sglang_pd_prefill.txt", "sglang_pd_prefill_old.txt",
	"sglang_pd_decode.txt",  "dcgm_exporter.txt",
	"edge_cases.txt",        "openmetrics.om.txt",
};
#define NFIXTURES (sizeof(fixtures) / sizeof(fixtures[0]))

static struct promtext_opts fixture_opts(const char *name)
{
	struct promtext_opts o = {0};
	size_t n = strlen(name);

	o.openmetrics = n > 7 && strcmp(name + n - 7, ".om.txt") == 0;
	return o;
}

/* Parses a fixture in one feed; the caller releases. */
static void parse_fixture(struct run *run, const char *name)
{
	struct promtext_opts o = fixture_opts(name);
	size_t len;
	char *body = load_fixture(name, &len);

	run_parse(run, &o, body, len, NULL, 0, 0);
	im_free(body);
	if (run->result || run->stats.malformed || run->stats.skipped_oversized)
		t_fail(__FILE__, __LINE__, "%s: %s, %" PRIu64 " malformed, problem \"%s\"", name,
		       im_err_name(run->result), run->stats.malformed, buf_str(&run->problem));
}

/* --- fixtures: every engine variant of docs/metrics.md ------------------------ */

TEST(promtext_fixtures_parse_clean)
{
	for (size_t i = 0; i < NFIXTURES; i++) {
		struct run run;
		parse_fixture(&run, fixtures[i]);
		ASSERT_TRUE(run.stats.samples > 10);
		ASSERT_STREQ(buf_str(&run.problem), "");
		run_release(&run);
	}
}

TEST(promtext_vllm_v1_data_parallel)
{
	struct run run;
	const char *o;

	parse_fixture(&run, "vllm_v1_dp.txt");
	o = buf_str(&run.rec.out);
	ASSERT_EQ_INT(run.stats.samples, 718);
	ASSERT_CONTAINS(
		o,
		"gauge vllm:kv_cache_usage_perc | vllm:kv_cache_usage_perc{model_name=\"Qwen/Qwen3-30B-A3B-Instruct-2507\",engine=\"0\"} 0.0213\n");
	ASSERT_CONTAINS(
		o,
		"gauge vllm:kv_cache_usage_perc | vllm:kv_cache_usage_perc{model_name=\"Qwen/Qwen3-30B-A3B-Instruct-2507\",engine=\"1\"} 0.0189\n");
	ASSERT_CONTAINS(
		o,
		"gauge vllm:num_requests_running | vllm:num_requests_running{model_name=\"Qwen/Qwen3-30B-A3B-Instruct-2507\",engine=\"1\"} 2\n");
	/* counters as prometheus_client writes 0.0.4: family foo_total, and
	 * foo_created as a gauge family of its own */
	ASSERT_CONTAINS(
		o,
		"counter vllm:request_success_total | vllm:request_success_total{model_name=\"Qwen/Qwen3-30B-A3B-Instruct-2507\",engine=\"0\",finished_reason=\"length\"} 12\n");
	ASSERT_CONTAINS(
		o,
		"gauge vllm:request_success_created | vllm:request_success_created{model_name=\"Qwen/Qwen3-30B-A3B-Instruct-2507\",engine=\"1\",finished_reason=\"abort\"} 1763924400.25\n");
	ASSERT_CONTAINS(o, "counter vllm:prefix_cache_hits_total | vllm:prefix_cache_hits_total{");
	ASSERT_CONTAINS(o, "counter vllm:num_preemptions_total | vllm:num_preemptions_total{");
	/* histograms: buckets up to +Inf, _count, _sum, _created */
	ASSERT_CONTAINS(
		o,
		"histogram vllm:inter_token_latency_seconds | vllm:inter_token_latency_seconds_bucket{model_name=\"Qwen/Qwen3-30B-A3B-Instruct-2507\",engine=\"1\",le=\"+Inf\"} 400\n");
	ASSERT_CONTAINS(
		o,
		"histogram vllm:inter_token_latency_seconds | vllm:inter_token_latency_seconds_count{model_name=\"Qwen/Qwen3-30B-A3B-Instruct-2507\",engine=\"1\"} 400\n");
	ASSERT_CONTAINS(
		o,
		"histogram vllm:time_to_first_token_seconds | vllm:time_to_first_token_seconds_bucket{model_name=\"Qwen/Qwen3-30B-A3B-Instruct-2507\",engine=\"0\",le=\"2560.0\"} 110\n");
	ASSERT_CONTAINS(
		o,
		"histogram vllm:time_to_first_token_seconds | vllm:time_to_first_token_seconds_sum{");
	ASSERT_CONTAINS(
		o,
		"gauge vllm:time_to_first_token_seconds_created | vllm:time_to_first_token_seconds_created{");
	/* the top finite length bucket reveals max_model_len */
	ASSERT_CONTAINS(
		o,
		"vllm:request_prompt_tokens_bucket{model_name=\"Qwen/Qwen3-30B-A3B-Instruct-2507\",engine=\"0\",le=\"20000.0\"}");
	ASSERT_CONTAINS(
		o,
		"gauge vllm:num_requests_waiting_by_reason | vllm:num_requests_waiting_by_reason{model_name=\"Qwen/Qwen3-30B-A3B-Instruct-2507\",engine=\"0\",reason=\"capacity\"} 1\n");
	ASSERT_CONTAINS(
		o,
		"vllm:lora_requests_info{max_lora=\"0\",running_lora_adapters=\"\",waiting_lora_adapters=\"\"} 1763924433.2177112\n");
	/* cache_config_info: ~40 labels, engine but no model_name */
	ASSERT_CONTAINS(o,
			"gauge vllm:cache_config_info | vllm:cache_config_info{block_size=\"16\",");
	ASSERT_CONTAINS(
		o,
		",engine=\"1\",gpu_memory_utilization=\"0.9\",is_attention_free=\"False\",kv_cache_max_concurrency=\"8.73\",kv_cache_memory_bytes=\"None\",kv_cache_size_tokens=\"286064\",");
	ASSERT_CONTAINS(o, "num_gpu_blocks=\"17879\"");
	ASSERT_CONTAINS(
		o,
		"counter python_gc_objects_collected_total | python_gc_objects_collected_total{generation=\"2\"} 1021\n");
	ASSERT_CONTAINS(
		o,
		"gauge process_virtual_memory_bytes | process_virtual_memory_bytes 137246832640\n");
	run_release(&run);
}

static im_result count_cache_config_labels(void *ctx, const struct promtext_sample *s)
{
	size_t *n = ctx;

	if (strparse_eq(s->name, s->name_len, "vllm:cache_config_info")) {
		const struct promtext_label *l = promtext_label_get(s, "kv_cache_size_tokens");
		if (!l || !strparse_eq(l->value, l->value_len, "286064") ||
		    promtext_label_get(s, "model_name") || !promtext_label_get(s, "engine"))
			return IM_INTERNAL;
		*n = s->nlabels;
	}
	return IM_OK;
}

TEST(promtext_label_get_and_many_labels)
{
	size_t len, n = 0;
	char *body = load_fixture("vllm_v1_nixl_prefill.txt", &len);
	struct promtext p;

	promtext_init(&p, NULL, count_cache_config_labels, &n);
	ASSERT_OK(promtext_feed(&p, body, len));
	ASSERT_OK(promtext_finish(&p));
	ASSERT_EQ_INT(n, 40);
	promtext_release(&p);
	im_free(body);
}

TEST(promtext_vllm_nixl_and_old_names)
{
	struct run run;
	const char *o;

	parse_fixture(&run, "vllm_v1_nixl_prefill.txt");
	o = buf_str(&run.rec.out);
	ASSERT_CONTAINS(
		o,
		"histogram vllm:nixl_xfer_time_seconds | vllm:nixl_xfer_time_seconds_bucket{model_name=\"meta-llama/Llama-3.1-8B-Instruct\",engine=\"0\",le=\"+Inf\"} 60\n");
	ASSERT_CONTAINS(
		o,
		"gauge vllm:nixl_num_pending_sends | vllm:nixl_num_pending_sends{model_name=\"meta-llama/Llama-3.1-8B-Instruct\",engine=\"0\"} 2\n");
	ASSERT_CONTAINS(o, "kv_role=\"kv_producer\"");
	run_release(&run);

	parse_fixture(&run, "vllm_v1_early.txt");
	o = buf_str(&run.rec.out);
	ASSERT_CONTAINS(
		o,
		"gauge vllm:gpu_cache_usage_perc | vllm:gpu_cache_usage_perc{model_name=\"Qwen/Qwen2.5-7B-Instruct\",engine=\"0\"} 0.0831\n");
	ASSERT_CONTAINS(
		o,
		"counter vllm:gpu_prefix_cache_queries_total | vllm:gpu_prefix_cache_queries_total{model_name=\"Qwen/Qwen2.5-7B-Instruct\",engine=\"0\"} 5230\n");
	ASSERT_CONTAINS(
		o,
		"counter vllm:gpu_prefix_cache_hits_total | vllm:gpu_prefix_cache_hits_total{model_name=\"Qwen/Qwen2.5-7B-Instruct\",engine=\"0\"} 2214\n");
	ASSERT_CONTAINS(
		o,
		"histogram vllm:time_per_output_token_seconds | vllm:time_per_output_token_seconds_bucket{");
	ASSERT_TRUE(!strstr(o, "kv_cache_size_tokens"));
	run_release(&run);

	parse_fixture(&run, "vllm_v0.txt");
	o = buf_str(&run.rec.out);
	ASSERT_CONTAINS(
		o,
		"gauge vllm:gpu_cache_usage_perc | vllm:gpu_cache_usage_perc{model_name=\"mistralai/Mistral-7B-Instruct-v0.3\"} 0.0642\n");
	ASSERT_CONTAINS(
		o,
		"gauge vllm:num_requests_swapped | vllm:num_requests_swapped{model_name=\"mistralai/Mistral-7B-Instruct-v0.3\"} 0\n");
	ASSERT_CONTAINS(
		o,
		"gauge vllm:gpu_prefix_cache_hit_rate | vllm:gpu_prefix_cache_hit_rate{model_name=\"mistralai/Mistral-7B-Instruct-v0.3\"} 0.4173\n");
	ASSERT_CONTAINS(
		o,
		"gauge vllm:cpu_prefix_cache_hit_rate | vllm:cpu_prefix_cache_hit_rate{model_name=\"mistralai/Mistral-7B-Instruct-v0.3\"} -1\n");
	ASSERT_TRUE(!strstr(o, "engine=")); /* V0: no engine label */
	run_release(&run);
}

TEST(promtext_inference_sim_shape)
{
	struct run run;
	const char *o;

	parse_fixture(&run, "inference_sim.txt");
	o = buf_str(&run.rec.out);
	ASSERT_TRUE(!strstr(o, "engine="));
	ASSERT_TRUE(!strstr(o, "_created"));
	ASSERT_TRUE(!strstr(o, "preemption"));
	ASSERT_CONTAINS(
		o,
		"gauge vllm:cache_config_info | vllm:cache_config_info{block_size=\"16\",num_gpu_blocks=\"1024\"} 1\n");
	ASSERT_CONTAINS(
		o,
		"gauge vllm:num_requests_running | vllm:num_requests_running{model_name=\"qwen-chat\"} 5\n");
	ASSERT_CONTAINS(
		o,
		"histogram vllm:max_num_generation_tokens | vllm:max_num_generation_tokens_bucket{le=\"1000\",model_name=\"qwen-chat\"}");
	ASSERT_CONTAINS(
		o,
		"histogram vllm:max_num_generation_tokens | vllm:max_num_generation_tokens_count{model_name=\"qwen-chat\"} 57\n");
	ASSERT_CONTAINS(
		o,
		"gauge vllm:lora_requests_info | vllm:lora_requests_info{max_lora=\"1\",running_lora_adapters=\"\",waiting_lora_adapters=\"\"} 1763924455\n");
	run_release(&run);
}

TEST(promtext_fork_config_info)
{
	struct run run;
	const char *o;

	parse_fixture(&run, "vllm_fork_config_info.txt");
	o = buf_str(&run.rec.out);
	ASSERT_CONTAINS(
		o,
		"gauge vllm:vllm_config_info | vllm:vllm_config_info{model_config_model=\"/models/Qwen3-32B\",");
	ASSERT_CONTAINS(o, ",scheduler_config_max_num_seqs=\"256\",");
	/* escapes undone: \" in JSON, \\ in a path, \n in a banner (re-escaped
	 * by this test's printer) */
	ASSERT_CONTAINS(o, "compilation_config=\"{\\\"level\\\":3,");
	ASSERT_CONTAINS(o, "model_config_chat_template_path=\"C:\\\\templates\\\\chat.jinja\"");
	ASSERT_CONTAINS(o, "startup_banner=\"vLLM fork build\\nline two of the banner\"");
	run_release(&run);
}

TEST(promtext_sglang_both_prefixes_and_pd)
{
	struct run run;
	const char *o;

	parse_fixture(&run, "sglang_colon.txt");
	o = buf_str(&run.rec.out);
	ASSERT_CONTAINS(
		o,
		"gauge sglang:num_running_reqs | sglang:num_running_reqs{model_name=\"deepseek-ai/DeepSeek-R1-Distill-Qwen-7B\"} 7\n");
	ASSERT_CONTAINS(
		o,
		"gauge sglang:token_usage | sglang:token_usage{model_name=\"deepseek-ai/DeepSeek-R1-Distill-Qwen-7B\"} 0.16\n");
	ASSERT_CONTAINS(o, "gauge sglang:num_retracted_reqs | sglang:num_retracted_reqs{");
	ASSERT_CONTAINS(
		o,
		"histogram sglang:time_per_output_token_seconds | sglang:time_per_output_token_seconds_bucket{");
	run_release(&run);

	parse_fixture(&run, "sglang_underscore.txt");
	o = buf_str(&run.rec.out);
	ASSERT_CONTAINS(
		o,
		"gauge sglang_num_running_reqs | sglang_num_running_reqs{model_name=\"Qwen/Qwen3-235B-A22B-FP8\",dp_rank=\"1\",engine_type=\"unified\",pp_rank=\"0\",tp_rank=\"0\"} 5\n");
	ASSERT_CONTAINS(
		o,
		"gauge sglang_max_total_num_tokens | sglang_max_total_num_tokens{model_name=\"Qwen/Qwen3-235B-A22B-FP8\",dp_rank=\"0\",engine_type=\"unified\",pp_rank=\"0\",tp_rank=\"0\"} 320000\n");
	ASSERT_CONTAINS(
		o,
		"counter sglang_num_retracted_requests_total | sglang_num_retracted_requests_total{");
	ASSERT_CONTAINS(
		o,
		"histogram sglang_inter_token_latency_seconds | sglang_inter_token_latency_seconds_bucket{");
	ASSERT_CONTAINS(
		o,
		"counter sglang_prompt_tokens_total | sglang_prompt_tokens_total{model_name=\"Qwen/Qwen3-235B-A22B-FP8\",dp_rank=\"0\",engine_type=\"unified\",pp_rank=\"0\",tp_rank=\"0\"} 1902120\n");
	run_release(&run);

	parse_fixture(&run, "sglang_pd_prefill.txt");
	o = buf_str(&run.rec.out);
	ASSERT_CONTAINS(
		o,
		"gauge sglang:num_prefill_bootstrap_queue_reqs | sglang:num_prefill_bootstrap_queue_reqs{model_name=\"deepseek-ai/DeepSeek-V3\",engine_type=\"prefill\",pp_rank=\"0\",tp_rank=\"0\"} 2\n");
	ASSERT_CONTAINS(
		o,
		"gauge sglang:num_prefill_inflight_queue_reqs | sglang:num_prefill_inflight_queue_reqs{");
	ASSERT_CONTAINS(
		o,
		"histogram sglang:kv_transfer_latency_ms | sglang:kv_transfer_latency_ms_bucket{");
	ASSERT_CONTAINS(
		o, "histogram sglang:kv_transfer_speed_gb_s | sglang:kv_transfer_speed_gb_s_sum{");
	ASSERT_CONTAINS(
		o,
		"counter sglang:num_bootstrap_failed_reqs_total | sglang:num_bootstrap_failed_reqs_total{");
	run_release(&run);

	parse_fixture(&run, "sglang_pd_prefill_old.txt");
	ASSERT_CONTAINS(
		buf_str(&run.rec.out),
		"gauge sglang:num_prefill_prealloc_queue_reqs | sglang:num_prefill_prealloc_queue_reqs{model_name=\"deepseek-ai/DeepSeek-V3\"} 2\n");
	run_release(&run);

	parse_fixture(&run, "sglang_pd_decode.txt");
	o = buf_str(&run.rec.out);
	ASSERT_CONTAINS(
		o,
		"gauge sglang_num_decode_prealloc_queue_reqs | sglang_num_decode_prealloc_queue_reqs{model_name=\"deepseek-ai/DeepSeek-V3\",engine_type=\"decode\",pp_rank=\"0\",tp_rank=\"0\"} 4\n");
	ASSERT_CONTAINS(
		o,
		"gauge sglang_num_decode_transfer_queue_reqs | sglang_num_decode_transfer_queue_reqs{");
	ASSERT_CONTAINS(
		o,
		"counter sglang_num_transfer_failed_reqs_total | sglang_num_transfer_failed_reqs_total{model_name=\"deepseek-ai/DeepSeek-V3\",engine_type=\"decode\",pp_rank=\"0\",tp_rank=\"0\"} 1\n");
	run_release(&run);
}

TEST(promtext_dcgm_exporter)
{
	struct run run;
	const char *o;

	parse_fixture(&run, "dcgm_exporter.txt");
	o = buf_str(&run.rec.out);
	ASSERT_EQ_INT(run.stats.samples, 14 * 8);
	ASSERT_CONTAINS(o,
			"gauge DCGM_FI_DEV_GPU_UTIL | DCGM_FI_DEV_GPU_UTIL{gpu=\"0\",UUID=\"GPU-");
	ASSERT_CONTAINS(
		o,
		",modelName=\"NVIDIA H100 80GB HBM3\",Hostname=\"gpu-node-7\",DCGM_FI_DRIVER_VERSION=\"570.172.08\",container=\"vllm\",namespace=\"llm\",pod=\"qwen3-30b-1\"} 96\n");
	ASSERT_CONTAINS(
		o,
		",device=\"nvidia5\",modelName=\"NVIDIA H100 80GB HBM3\",Hostname=\"gpu-node-7\",DCGM_FI_DRIVER_VERSION=\"570.172.08\"} 0\n");
	ASSERT_CONTAINS(
		o,
		"gauge DCGM_FI_PROF_PIPE_TENSOR_ACTIVE | DCGM_FI_PROF_PIPE_TENSOR_ACTIVE{gpu=\"3\",");
	ASSERT_CONTAINS(o, "pod=\"qwen3-30b-1\"} 0.212901\n");
	ASSERT_CONTAINS(
		o,
		"counter DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION | DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION{");
	ASSERT_CONTAINS(o, "err_msg=\"No Error\"");
	run_release(&run);
}

/* --- streaming: results never depend on where chunks are cut -------------- */

TEST(promtext_split_byte_by_byte_equals_one_feed)
{
	for (size_t i = 0; i < NFIXTURES; i++) {
		struct promtext_opts o = fixture_opts(fixtures[i]);
		struct run whole, bytes;
		size_t len;
		char *body = load_fixture(fixtures[i], &len);

		run_parse(&whole, &o, body, len, NULL, 0, 0);
		run_parse(&bytes, &o, body, len, NULL, 0, 1);
		assert_same(&whole, &bytes, fixtures[i], 1);
		run_release(&bytes);
		/* also 7- and 4096-byte pieces (a cut inside most tokens) */
		run_parse(&bytes, &o, body, len, NULL, 0, 7);
		assert_same(&whole, &bytes, fixtures[i], 7);
		run_release(&bytes);
		run_parse(&bytes, &o, body, len, NULL, 0, 4096);
		assert_same(&whole, &bytes, fixtures[i], 4096);
		run_release(&bytes);
		run_release(&whole);
		im_free(body);
	}
}

/* Two pieces cut at every offset (three pieces for the small pages). */
static void split_everywhere(const struct promtext_opts *o, const char *body, size_t len,
			     const char *what, size_t stride)
{
	struct run whole;

	run_parse(&whole, o, body, len, NULL, 0, 0);
	for (size_t cut = 0; cut <= len; cut += stride) {
		struct run two;
		size_t cuts[2] = {cut, cut + (cut * 7919) % (len - cut + 1)};

		run_parse(&two, o, body, len, cuts, 1, 0);
		assert_same(&whole, &two, what, cut);
		run_release(&two);
		run_parse(&two, o, body, len, cuts, 2, 0);
		assert_same(&whole, &two, what, cut);
		run_release(&two);
	}
	run_release(&whole);
}

TEST(promtext_split_at_every_offset)
{
	for (size_t i = 0; i < NFIXTURES; i++) {
		struct promtext_opts o = fixture_opts(fixtures[i]);
		size_t len;
		char *body = load_fixture(fixtures[i], &len);

		/* every offset for the hand-written pages, a spread of
		 * offsets for the big ones (byte-by-byte feeding above already cuts
		 * those at every offset) */
		split_everywhere(&o, body, len, fixtures[i], len <= 4096 ? 1 : len / 67);
		im_free(body);
	}
}

/* A page with every kind of bad line, and lines over a small line cap,
 * cut everywhere: the discard-to-newline path starts at every offset. */
static const char bad_page[] =
	"# TYPE vllm:num_requests_running gauge\n"
	"vllm:num_requests_running{model_name=\"m\",engine=\"0\"} 3\n"
	"vllm:num_requests_running{model_name=\"m\",engine=\"1\"} abc\n"
	"vllm:vllm_config_info{blob=\"0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789\"} 1\n"
	"bad-name 1\n"
	"ok_after_bad 1 # an exemplar-like tail\n"
	"dup{a=\"1\",a=\"2\"} 1\n"
	"# HELP big_help " /* a comment line over the cap */
	"................................................................................................\n"
	"unterminated{a=\"x} 1\n"
	"{a=\"1\"} 1\n"
	"nolabel{=\"1\"} 1\n"
	"novalue{a=\"1\"}\n"
	"ts_float 1 1.5\n"
	"trailing 1 2 3\n"
	"noquote{a=1} 1\n"
	"# TYPE t bogus\n"
	"last{engine=\"0\"} 4";

TEST(promtext_bad_lines_split_everywhere)
{
	struct promtext_opts o = {.max_line = 90, .max_label_value = 64};

	split_everywhere(&o, bad_page, sizeof(bad_page) - 1, "bad_page", 1);
}

/* --- values, labels, escapes --------------------------------------------- */

TEST(promtext_escapes_in_labels_and_help)
{
	struct run run;
	size_t len;
	char *body = load_fixture("edge_cases.txt", &len);
	struct promtext_opts o = {0};
	const char *out;

	run_parse(&run, &o, body, len, NULL, 0, 0);
	out = buf_str(&run.rec.out);
	/* the printer re-escapes \ " and newline */
	ASSERT_CONTAINS(
		out,
		"gauge escapes_help | escapes_help{path=\"C:\\\\models\\\\qwen\",quote=\"say \\\"hi\\\"\",nl=\"one\\ntwo\",odd=\"x\\\\ty\\\\q\"} 1\n");
	ASSERT_CONTAINS(out, "escapes_help{punct=\"a,b}c{d=e # f\",empty=\"\"} 2\n");
	run_release(&run);
	im_free(body);
}

static im_result keep_help(void *ctx, const struct promtext_sample *s)
{
	struct buf *b = ctx;

	buf_reset(b);
	buf_add(b, s->family->help, s->family->help_len);
	return IM_OK;
}

TEST(promtext_help_unescaped)
{
	struct promtext p;
	struct buf help;
	static const char page[] = "# HELP h A \\\\ and \\n and \\q.\n# TYPE h gauge\nh 1\n";

	buf_init(&help, 1024);
	promtext_init(&p, NULL, keep_help, &help);
	ASSERT_OK(promtext_feed(&p, page, sizeof(page) - 1));
	ASSERT_OK(promtext_finish(&p));
	ASSERT_STREQ(buf_str(&help), "A \\ and \n and \\q.");
	promtext_release(&p);
	buf_release(&help);
}

TEST(promtext_values_and_timestamps)
{
	struct run run;
	size_t len;
	char *body = load_fixture("edge_cases.txt", &len);
	struct promtext_opts o = {0};
	const char *out;

	run_parse(&run, &o, body, len, NULL, 0, 0);
	out = buf_str(&run.rec.out);
	ASSERT_CONTAINS(out, "specials{kind=\"pinf\"} +Inf\n");
	ASSERT_CONTAINS(out, "specials{kind=\"ninf\"} -Inf\n");
	ASSERT_CONTAINS(out, "specials{kind=\"nan\"} NaN\n");
	ASSERT_CONTAINS(out, "specials{kind=\"exp\"} 1.5e-07\n");
	ASSERT_CONTAINS(out, "specials{kind=\"lower\"} +Inf\n");
	ASSERT_CONTAINS(out, "stamped_total{pod=\"a\"} 17 @1763924400123\n");
	ASSERT_CONTAINS(out, "stamped_total{pod=\"b\"} 18 @-1000\n");
	ASSERT_CONTAINS(out, "stamped_total{pod=\"c\"} 19\n");
	ASSERT_CONTAINS(out,
			"histogram latency_seconds | latency_seconds_bucket{le=\"+Inf\"} 144320\n");
	ASSERT_CONTAINS(
		out,
		"summary rpc_duration_seconds | rpc_duration_seconds{quantile=\"0.99\"} NaN\n");
	ASSERT_CONTAINS(out, "summary rpc_duration_seconds | rpc_duration_seconds_count 2693\n");
	/* whitespace: spaces inside braces, a trailing comma, tabs, indent */
	ASSERT_CONTAINS(out, "gauge spaced | spaced{a=\"1\",b=\"2\"} 3.5\n");
	ASSERT_CONTAINS(out, "gauge spaced | spaced 4\n");
	ASSERT_CONTAINS(out, "gauge spaced | spaced 5\n");
	ASSERT_CONTAINS(out, "gauge spaced | spaced{c=\"3\"} 6\n");
	/* CRLF and a last line without newline */
	ASSERT_CONTAINS(out, "untyped crlf_gauge | crlf_gauge{a=\"b\"} 9\n");
	ASSERT_CONTAINS(out, "gauge crlf_tail | crlf_tail 10\n");
	ASSERT_CONTAINS(out, "untyped recording:rule:ratio | recording:rule:ratio 0.75\n");
	ASSERT_EQ_INT(run.stats.samples, 34);
	ASSERT_EQ_INT(run.stats.malformed, 0);
	run_release(&run);
	im_free(body);

	/* 0.0.4 timestamps are integers (ms); +sign and int64 range */
	parse_str(&run, NULL,
		  "a 1 +5\nb 1 9223372036854775807\nc 1 9223372036854775808\nd 1 1.5\n");
	ASSERT_CONTAINS(buf_str(&run.rec.out), "untyped a | a 1 @5\n");
	ASSERT_CONTAINS(buf_str(&run.rec.out), "untyped b | b 1 @9223372036854775807\n");
	ASSERT_EQ_INT(run.stats.malformed, 2);
	ASSERT_STREQ(buf_str(&run.problem),
		     "line 3: invalid timestamp \"9223372036854775808\" for c");
	run_release(&run);
}

TEST(promtext_families_and_types)
{
	struct run run;
	const char *out;

	parse_str(
		&run, NULL,
		"# TYPE foo_total counter\nfoo_total 1\nfoo_created 2\n"  /* python 0.0.4 */
		"# TYPE bar counter\nbar_total 3\nbar_created 4\nbar 5\n" /* OpenMetrics names */
		"# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_count 1\nh_sum 0.5\nh_created 9\nh 7\n"
		"# TYPE g gauge\ng 1\ng_bucket 2\n"
		"# HELP onlyhelp no TYPE line\nonlyhelp 1\n"
		"# TYPE s summary\ns{quantile=\"0.5\"} 1\ns_sum 2\ns_count 3\n"
		"# TYPE u unknown\nu 1\n"
		"# TYPE i info\ni_info{v=\"1\"} 1\n"
		"# TYPE gh gaugehistogram\ngh_bucket{le=\"+Inf\"} 1\ngh_gsum 1\ngh_gcount 1\n"
		"# TYPE late gauge\n# TYPE other gauge\nlate 1\n");
	out = buf_str(&run.rec.out);
	ASSERT_CONTAINS(out, "counter foo_total | foo_total 1\n");
	ASSERT_CONTAINS(out, "counter foo_total | foo_created 2\n");
	ASSERT_CONTAINS(out, "counter bar | bar_total 3\n");
	ASSERT_CONTAINS(out, "counter bar | bar_created 4\n");
	ASSERT_CONTAINS(out, "counter bar | bar 5\n");
	ASSERT_CONTAINS(out, "histogram h | h_bucket{le=\"+Inf\"} 1\n");
	ASSERT_CONTAINS(out, "histogram h | h_created 9\n");
	ASSERT_CONTAINS(out, "untyped h | h 7\n"); /* a bare name is not a histogram sample */
	ASSERT_CONTAINS(out, "gauge g | g 1\n");
	ASSERT_CONTAINS(out, "untyped g_bucket | g_bucket 2\n");
	ASSERT_CONTAINS(out, "untyped onlyhelp | onlyhelp 1\n");
	ASSERT_CONTAINS(out, "summary s | s{quantile=\"0.5\"} 1\n");
	ASSERT_CONTAINS(out, "summary s | s_count 3\n");
	ASSERT_CONTAINS(out, "untyped u | u 1\n");
	ASSERT_CONTAINS(out, "info i | i_info{v=\"1\"} 1\n");
	ASSERT_CONTAINS(out, "gaugehistogram gh | gh_gcount 1\n");
	ASSERT_CONTAINS(out, "untyped late | late 1\n");
	ASSERT_EQ_INT(run.stats.malformed, 0);
	run_release(&run);
}

/* --- OpenMetrics ---------------------------------------------------------- */

TEST(promtext_openmetrics)
{
	struct run run;
	struct promtext_opts om = {.openmetrics = true};
	size_t len;
	char *body = load_fixture("openmetrics.om.txt", &len);
	const char *out;

	run_parse(&run, &om, body, len, NULL, 0, 0);
	out = buf_str(&run.rec.out);
	ASSERT_TRUE(run.stats.eof);
	ASSERT_EQ_INT(run.stats.malformed, 0);
	ASSERT_EQ_INT(run.stats.samples, 18);
	/* float seconds become milliseconds */
	ASSERT_CONTAINS(
		out,
		"gauge vllm:num_requests_running | vllm:num_requests_running{model_name=\"qwen-chat\",engine=\"1\"} 1 @1763924400250\n");
	/* exemplars skipped, _total/_created in the counter family */
	ASSERT_CONTAINS(
		out,
		"counter vllm:prompt_tokens | vllm:prompt_tokens_total{model_name=\"qwen-chat\",engine=\"0\"} 48211\n");
	ASSERT_CONTAINS(
		out,
		"counter vllm:prompt_tokens | vllm:prompt_tokens_created{model_name=\"qwen-chat\",engine=\"0\"} 1763924400\n");
	ASSERT_CONTAINS(
		out,
		"histogram vllm:time_to_first_token_seconds | vllm:time_to_first_token_seconds_bucket{model_name=\"qwen-chat\",engine=\"0\",le=\"0.25\"} 9\n");
	ASSERT_CONTAINS(
		out,
		"histogram vllm:time_to_first_token_seconds | vllm:time_to_first_token_seconds_created{");
	ASSERT_CONTAINS(out, "info vllm:cache_config | vllm:cache_config_info{block_size=\"16\",");
	ASSERT_CONTAINS(out, "note=\"quote \\\" backslash \\\\ newline \\n\"} 1\n");
	ASSERT_CONTAINS(out,
			"summary rpc_latency_seconds | rpc_latency_seconds_created 1763924000.5\n");
	ASSERT_CONTAINS(out, "untyped build | build{version=\"1.2.3\"} 1\n");
	run_release(&run);
	im_free(body);

	/* UNIT is kept with the family */
	rec_init(&run.rec);
	{
		struct promtext p;
		static const char page[] =
			"# TYPE x_seconds gauge\n# UNIT x_seconds seconds\n# HELP x_seconds X.\nx_seconds 1\n# EOF\n";
		run.rec.help_of = "x_seconds";
		promtext_init(&p, &om, record, &run.rec);
		ASSERT_OK(promtext_feed(&p, page, sizeof(page) - 1));
		ASSERT_OK(promtext_finish(&p));
		ASSERT_STREQ(buf_str(&run.rec.unit), "seconds");
		ASSERT_STREQ(buf_str(&run.rec.help), "X.");
		promtext_release(&p);
	}
	rec_release(&run.rec);

	/* after # EOF nothing may follow; a body without it may be cut */
	parse_str(&run, &om, "a 1\n# EOF\nb 2\n");
	ASSERT_EQ_INT(run.stats.samples, 1);
	ASSERT_EQ_INT(run.stats.malformed, 1);
	ASSERT_STREQ(buf_str(&run.problem), "line 3: data after # EOF: \"b 2\"");
	run_release(&run);
	parse_str(&run, &om, "a 1\nb 2\n");
	ASSERT_EQ_INT(run.stats.samples, 2);
	ASSERT_EQ_INT(run.stats.malformed, 1);
	ASSERT_STREQ(buf_str(&run.problem), "line 3: body ends without # EOF");
	run_release(&run);
	/* in 0.0.4 mode # EOF is noted but is just a comment */
	parse_str(&run, NULL, "a 1\n# EOF\nb 2\n");
	ASSERT_EQ_INT(run.stats.samples, 2);
	ASSERT_TRUE(run.stats.eof);
	ASSERT_EQ_INT(run.stats.malformed, 0);
	run_release(&run);
	/* OpenMetrics timestamps are seconds: an exponent and a fraction */
	parse_str(&run, &om, "a 1 1.7639244e9\nb 1 -0.5\nc 1 NaN\n# EOF\n");
	ASSERT_CONTAINS(buf_str(&run.rec.out), "untyped a | a 1 @1763924400000\n");
	ASSERT_CONTAINS(buf_str(&run.rec.out), "untyped b | b 1 @-500\n");
	ASSERT_STREQ(buf_str(&run.problem), "line 3: invalid timestamp \"NaN\" for c");
	run_release(&run);
}

/* --- bad input ------------------------------------------------------------ */

TEST(promtext_malformed_lines_reported_and_skipped)
{
	struct run run;
	const char *out;

	parse_str(&run, NULL, bad_page);
	out = buf_str(&run.rec.out);
	ASSERT_STREQ(buf_str(&run.problem),
		     "line 3: invalid value \"abc\" for vllm:num_requests_running");
	ASSERT_CONTAINS(
		out,
		"gauge vllm:num_requests_running | vllm:num_requests_running{model_name=\"m\",engine=\"0\"} 3\n");
	ASSERT_CONTAINS(out, "untyped vllm:vllm_config_info | vllm:vllm_config_info{blob=");
	ASSERT_CONTAINS(out, "untyped ok_after_bad | ok_after_bad 1\n");
	ASSERT_CONTAINS(out, "untyped last | last{engine=\"0\"} 4\n");
	ASSERT_EQ_INT(run.stats.samples, 4);
	ASSERT_EQ_INT(run.stats.malformed, 11);
	ASSERT_EQ_INT(run.stats.skipped_oversized, 0);
	ASSERT_EQ_INT(run.stats.lines, 17);
	run_release(&run);
}

/* Each bad line alone, and the message it gets. */
TEST(promtext_problem_messages)
{
	static const struct {
		const char *page, *problem;
	} cases[] = {
		{"x 1\nfoo abc\n", "line 2: invalid value \"abc\" for foo"},
		{"bad-name 1\n", "line 1: invalid metric name \"bad-name\""},
		{"9lives 1\n", "line 1: invalid metric name \"9lives\""},
		{"dup{a=\"1\",a=\"2\"} 1\n", "line 1: duplicate label \"a\" for dup"},
		{"u{a=\"x} 1\n", "line 1: unterminated value of label \"a\" for u"},
		{"u{a=\"x\\\"} 1\n", "line 1: unterminated value of label \"a\" for u"},
		{"u{a=\"x\\", "line 1: unterminated value of label \"a\" for u"},
		{"u{a=\"1\"", "line 1: unterminated label set for u"},
		{"l{=\"1\"} 1\n", "line 1: expected a label name at \"=\\\"1\\\"} 1\" for l"},
		{"l{a} 1\n", "line 1: expected '=' after label \"a\" for l"},
		{"l{a,b=\"1\"} 1\n", "line 1: expected '=' after label \"a\" for l"},
		{"l{a-b=\"1\"} 1\n", "line 1: invalid label name \"a-b\" for l"},
		{"l{a:b=\"1\"} 1\n", "line 1: invalid label name \"a:b\" for l"},
		{"l{a=1} 1\n", "line 1: unquoted value of label \"a\" for l"},
		{"l{a=\"1\" b=\"2\"} 1\n", "line 1: expected ',' or '}' after label \"a\" for l"},
		{"nv{a=\"1\"}\n", "line 1: missing value for nv"},
		{"nv\n", "line 1: missing value for nv"},
		{"t 1 2 3\n", "line 1: unexpected text \"3\" for t"},
		{"t 1 x\n", "line 1: invalid timestamp \"x\" for t"},
		{"# TYPE t bogus\n", "line 1: invalid type \"bogus\" for t"},
		{"# TYPE t gauge extra\n", "line 1: invalid type \"gauge extra\" for t"},
		{"# TYPE\n", "line 1: TYPE line without a metric name"},
		{"# HELP 1x y\n", "line 1: invalid metric name \"1x\""},
		{"\n\n  \t\nv \x01\xff\n", "line 4: invalid value \"\\x01\\xff\" for v"},
		{"v 12345678901234567890123456789012345678901234567890123456789012345\n",
		 "line 1: invalid value \"1234567890123456789012345678901234567890123456789012345678901234...\" for v"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct run run;
		parse_str(&run, NULL, cases[i].page);
		if (strcmp(buf_str(&run.problem), cases[i].problem) != 0 ||
		    run.stats.malformed != 1)
			t_fail(__FILE__, __LINE__,
			       "case %zu: problem \"%s\" (malformed %" PRIu64 "), want \"%s\"", i,
			       buf_str(&run.problem), run.stats.malformed, cases[i].problem);
		ASSERT_OK(run.result);
		run_release(&run);
	}
}

TEST(promtext_label_caps)
{
	struct promtext_opts o = {.max_labels = 3, .max_label_value = 8};
	struct run run;

	parse_str(&run, &o,
		  "a{x=\"1\",y=\"2\",z=\"3\"} 1\n"
		  "b{w=\"0\",x=\"1\",y=\"2\",z=\"3\"} 1\n"
		  "c{x=\"12345678\"} 1\n"
		  "d{x=\"123456789\"} 1\n"
		  "e{x=\"1234567\\\\\"} 1\n" /* 8 bytes once unescaped */
		  "f 1\n");
	ASSERT_EQ_INT(run.stats.samples, 4);
	ASSERT_EQ_INT(run.stats.skipped_oversized, 2);
	ASSERT_EQ_INT(run.stats.malformed, 0);
	ASSERT_STREQ(buf_str(&run.problem), "line 2: sample b skipped: more than 3 labels");
	ASSERT_CONTAINS(buf_str(&run.rec.out), "untyped e | e{x=\"1234567\\\\\"} 1\n");
	ASSERT_CONTAINS(buf_str(&run.rec.out), "untyped f | f 1\n");
	run_release(&run);
}

/* A page with a 5 MB label value among normal samples, as vLLM forks serve. */
static char *huge_label_page(size_t value_len, size_t *len)
{
	struct buf b;

	buf_init(&b, BUF_MAX_LARGE);
	buf_adds(&b, "# TYPE vllm:num_requests_running gauge\n");
	for (int i = 0; i < 100; i++)
		buf_printf(&b, "vllm:num_requests_running{model_name=\"m\",engine=\"%d\"} %d\n", i,
			   i);
	buf_adds(&b, "# TYPE vllm:vllm_config_info gauge\n");
	buf_adds(
		&b,
		"vllm:vllm_config_info{scheduler_config_max_num_seqs=\"256\",model_config_blob=\"");
	for (size_t i = 0; i < value_len; i++)
		buf_addc(&b, (char)('a' + i % 26));
	buf_adds(&b, "\"} 1\n");
	buf_adds(&b, "# TYPE vllm:num_requests_waiting gauge\n");
	for (int i = 0; i < 100; i++)
		buf_printf(&b, "vllm:num_requests_waiting{model_name=\"m\",engine=\"%d\"} %d\n", i,
			   i);
	return buf_detach(&b, len);
}

TEST(promtext_huge_label_value_skipped_memory_bounded)
{
	size_t len, value_len = 5 * 1024 * 1024;
	char *page = huge_label_page(value_len, &len);
	struct promtext_opts def = {0}, long_lines = {.max_line = 16 << 20},
			     raised = {.max_line = 16 << 20, .max_label_value = 16 << 20};
	struct run whole, chunked;

	/* streamed as libcurl hands it over: 16 KiB pieces */
	run_parse(&chunked, &def, page, len, NULL, 0, 16384);
	ASSERT_OK(chunked.result);
	ASSERT_EQ_INT(chunked.stats.samples, 200);
	ASSERT_EQ_INT(chunked.stats.skipped_oversized, 1);
	ASSERT_EQ_INT(chunked.stats.malformed, 0);
	ASSERT_EQ_INT(chunked.stats.lines, 204);
	ASSERT_STREQ(
		buf_str(&chunked.problem),
		"line 103: sample vllm:vllm_config_info skipped: line longer than the 1048576-byte cap");
	ASSERT_CONTAINS(
		buf_str(&chunked.rec.out),
		"gauge vllm:num_requests_waiting | vllm:num_requests_waiting{model_name=\"m\",engine=\"99\"} 99\n");
	/* the carried line never outgrew the line cap */
	ASSERT_TRUE(chunked.max_carry_cap <= PROMTEXT_MAX_LINE + 1);
	/* in one piece (zero copy) the result is the same */
	run_parse(&whole, &def, page, len, NULL, 0, 0);
	assert_same(&whole, &chunked, "16 KiB pieces", 16384);
	ASSERT_EQ_INT(whole.max_carry_cap, 0);
	run_release(&whole);
	run_release(&chunked);

	/* lines may be long, but the label value cap still applies */
	run_parse(&chunked, &long_lines, page, len, NULL, 0, 16384);
	ASSERT_EQ_INT(chunked.stats.samples, 200);
	ASSERT_EQ_INT(chunked.stats.skipped_oversized, 1);
	ASSERT_STREQ(
		buf_str(&chunked.problem),
		"line 103: sample vllm:vllm_config_info skipped: value of label \"model_config_blob\" has 5242880 bytes, over the 65536-byte cap");
	run_release(&chunked);

	/* with both caps raised the sample is read whole */
	run_parse(&chunked, &raised, page, len, NULL, 0, 16384);
	ASSERT_EQ_INT(chunked.stats.samples, 201);
	ASSERT_EQ_INT(chunked.stats.skipped_oversized, 0);
	ASSERT_EQ_INT(chunked.rec.longest_value, value_len);
	ASSERT_CONTAINS(
		buf_str(&chunked.rec.out),
		"vllm:vllm_config_info{scheduler_config_max_num_seqs=\"256\",model_config_blob=\"<5242880 bytes>\"} 1\n");
	run_release(&chunked);
	im_free(page);
}

static im_result count_only(void *ctx, const struct promtext_sample *s)
{
	(void)s;
	(*(uint64_t *)ctx)++;
	return IM_OK;
}

TEST(promtext_body_cap)
{
	const size_t target = 50 * 1000 * 1000;
	struct buf b;
	struct promtext p;
	struct promtext_opts small = {.max_body = 32 << 20};
	uint64_t n = 0, lines = 0;
	size_t len, off;
	char *body;
	im_result result = IM_OK;

	buf_init(&b, BUF_MAX_LARGE);
	while (b.len < target) {
		buf_printf(
			&b,
			"vllm:time_to_first_token_seconds_bucket{model_name=\"Qwen/Qwen3-30B-A3B\",engine=\"%llu\",le=\"0.25\"} %llu\n",
			(unsigned long long)(lines % 8), (unsigned long long)lines);
		lines++;
	}
	body = buf_detach(&b, &len);

	/* 50 MB within the default 64 MiB cap */
	promtext_init(&p, NULL, count_only, &n);
	for (off = 0; off < len && !result; off += 65536)
		result = promtext_feed(&p, body + off, len - off < 65536 ? len - off : 65536);
	ASSERT_OK(result);
	ASSERT_OK(promtext_finish(&p));
	ASSERT_EQ_INT(n, lines);
	ASSERT_EQ_INT(p.stats.bytes, len);
	promtext_release(&p);

	/* rejected under a 32 MiB cap: parsing stops and stays stopped */
	n = 0;
	result = IM_OK;
	promtext_init(&p, &small, count_only, &n);
	for (off = 0; off < len && !result; off += 65536)
		result = promtext_feed(&p, body + off, len - off < 65536 ? len - off : 65536);
	ASSERT_ERR(result, IM_TOOBIG);
	ASSERT_TRUE(p.stats.bytes <= (32u << 20));
	ASSERT_TRUE(n < lines);
	ASSERT_STREQ(promtext_problem(&p), "body exceeds the 33554432-byte cap");
	ASSERT_ERR(promtext_feed(&p, "a 1\n", 4), IM_TOOBIG);
	ASSERT_ERR(promtext_finish(&p), IM_TOOBIG);
	promtext_release(&p);
	im_free(body);
}

/* --- lifecycle ------------------------------------------------------------ */

TEST(promtext_callback_stops_parsing)
{
	struct promtext p;
	struct rec r;
	static const char page[] = "a 1\nb 2\nc 3\nd 4\n";

	rec_init(&r);
	r.stop_after = 2;
	promtext_init(&p, NULL, record, &r);
	ASSERT_ERR(promtext_feed(&p, page, sizeof(page) - 1), IM_CANCELED);
	ASSERT_EQ_INT(r.n, 2);
	ASSERT_EQ_INT(p.stats.lines, 3);
	ASSERT_ERR(promtext_feed(&p, "e 5\n", 4), IM_CANCELED);
	ASSERT_ERR(promtext_finish(&p), IM_CANCELED);
	ASSERT_EQ_INT(r.n, 2);
	promtext_release(&p);

	/* also for the last line, parsed by finish */
	r.n = 0;
	promtext_init(&p, NULL, record, &r);
	ASSERT_OK(promtext_feed(&p, "a 1\nb 2\nc 3", 11));
	ASSERT_ERR(promtext_finish(&p), IM_CANCELED);
	promtext_release(&p);
	rec_release(&r);
}

TEST(promtext_reset_and_reuse)
{
	struct promtext p;
	struct rec r;

	rec_init(&r);
	promtext_init(&p, NULL, record, &r);
	static const char page[] = "# TYPE a gauge\na{x=\"\\n\"} 1\nbad 1 2 3\npartial";

	ASSERT_OK(promtext_feed(&p, page, sizeof(page) - 1));
	ASSERT_OK(promtext_finish(&p));
	ASSERT_ERR(promtext_feed(&p, "a 1\n", 4), IM_INVAL);
	ASSERT_ERR(promtext_finish(&p), IM_INVAL);
	ASSERT_EQ_INT(p.stats.malformed, 2);

	promtext_reset(&p);
	ASSERT_STREQ(promtext_problem(&p), "");
	buf_reset(&r.out);
	ASSERT_OK(promtext_feed(&p, "a 2\n", 4));
	ASSERT_OK(promtext_finish(&p));
	ASSERT_STREQ(buf_str(&r.out), "untyped a | a 2\n"); /* the TYPE was forgotten */
	ASSERT_EQ_INT(p.stats.samples, 1);
	ASSERT_EQ_INT(p.stats.malformed, 0);
	promtext_release(&p);
	rec_release(&r);
}

TEST(promtext_empty_bodies)
{
	struct run run;

	parse_str(&run, NULL, "");
	ASSERT_EQ_INT(run.stats.samples, 0);
	ASSERT_EQ_INT(run.stats.lines, 0);
	run_release(&run);
	parse_str(&run, NULL, "\n\r\n# just a comment\n#\n   \n");
	ASSERT_EQ_INT(run.stats.samples, 0);
	ASSERT_EQ_INT(run.stats.malformed, 0);
	ASSERT_EQ_INT(run.stats.lines, 5);
	run_release(&run);
}

int main(int argc, char **argv)
{
	return t_run(argc, argv);
}
