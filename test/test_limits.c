#include <string.h>

#include "t.h"

#include "alloc.h"
#include "limits.h"

TEST(limits_vllm_server_info)
{
	struct vllm_server_info si;
	struct buf err;
	const char *j =
		"{\"vllm_config\":{\"model_config\":{\"max_model_len\":4096},"
		"\"scheduler_config\":{\"max_num_seqs\":2,\"max_num_batched_tokens\":8192}}}";
	const char *s =
		"{\"vllm_config\":\"{\\\"scheduler_config\\\":{\\\"max_num_seqs\\\":64}}\"}";
	const char *bad = "{\"vllm_config\":{\"scheduler_config\":{}}}";

	buf_init(&err, 1024);
	ASSERT_OK(limits_parse_vllm_server_info(j, strlen(j), &si, &err));
	ASSERT_EQ_DBL(si.max_num_seqs.value, 2, 0);
	ASSERT_STREQ(limit_source_name(si.max_num_seqs.source), "server_info");
	ASSERT_EQ_DBL(si.max_model_len.value, 4096, 0);
	ASSERT_OK(limits_parse_vllm_server_info(s, strlen(s), &si, &err));
	ASSERT_EQ_DBL(si.max_num_seqs.value, 64, 0);
	ASSERT_ERR(limits_parse_vllm_server_info(bad, strlen(bad), &si, &err), IM_NOTFOUND);
	ASSERT_CONTAINS(buf_str(&err), "max_num_seqs missing");
	buf_reset(&err);
	ASSERT_ERR(limits_parse_vllm_server_info("<html>", 6, &si, &err), IM_PARSE);
	buf_release(&err);
}

/* test/data/server_info: the bodies as the engines shape them (README.md
 * there says from where) */
TEST(limits_sglang_get_server_info_as_served)
{
	struct sglang_server_info si;
	struct buf err;
	size_t n;
	char *j = t_read_data("server_info/sglang-get_server_info.json", &n);

	buf_init(&err, 1024);
	ASSERT_OK(limits_parse_sglang_server_info(j, n, &si, &err));
	/* the scheduler's effective cap per DP rank, one rank */
	ASSERT_EQ_DBL(si.max_running.value, 256, 0);
	ASSERT_STREQ(limit_source_name(si.max_running.source), "get_server_info");
	ASSERT_EQ_DBL(si.dp_size, 1, 0);
	ASSERT_EQ_DBL(si.configured_max_running, 256, 0);
	ASSERT_EQ_DBL(si.max_total_num_tokens, 431104, 0);
	/* context_length is null when the model's own length applies */
	ASSERT_EQ_INT(si.context_length.source, LIMIT_NONE);
	ASSERT_STREQ(si.disaggregation_mode, "null");
	im_free(j);
	buf_release(&err);
}

TEST(limits_vllm_server_info_as_served)
{
	struct vllm_server_info si;
	struct buf err;
	size_t n;
	char *j = t_read_data("server_info/vllm-server_info-json.json", &n);
	char *text = t_read_data("server_info/vllm-server_info-text.json", &n);

	buf_init(&err, 1024);
	ASSERT_OK(limits_parse_vllm_server_info(j, strlen(j), &si, &err));
	ASSERT_EQ_DBL(si.max_num_seqs.value, 2, 0);
	ASSERT_STREQ(limit_source_name(si.max_num_seqs.source), "server_info");
	ASSERT_EQ_DBL(si.max_model_len.value, 1024, 0);
	/* config_format=text: a Python repr, never a number read from it */
	ASSERT_ERR(limits_parse_vllm_server_info(text, strlen(text), &si, &err), IM_PARSE);
	ASSERT_CONTAINS(buf_str(&err), "vllm_config");
	ASSERT_EQ_INT(si.max_num_seqs.source, LIMIT_NONE);
	im_free(j);
	im_free(text);
	buf_release(&err);
}

TEST(limits_sglang_effective_times_dp)
{
	struct sglang_server_info si;
	struct buf err;
	const char *j =
		"{\"model_path\":\"m\",\"max_running_requests\":null,\"context_length\":32768,"
		"\"dp_size\":4,\"disaggregation_mode\":\"decode\",\"max_total_num_tokens\":500000,"
		"\"internal_states\":[{\"effective_max_running_requests_per_dp\":48},"
		"{\"effective_max_running_requests_per_dp\":48}]}";
	const char *old = "{\"dp_size\":1,\"max_running_requests\":128,"
			  "\"effective_max_running_requests_per_dp\":100}";

	buf_init(&err, 1024);
	ASSERT_OK(limits_parse_sglang_server_info(j, strlen(j), &si, &err));
	ASSERT_EQ_DBL(si.max_running.value, 192, 0);
	ASSERT_STREQ(limit_source_name(si.max_running.source), "get_server_info");
	ASSERT_EQ_DBL(si.context_length.value, 32768, 0);
	ASSERT_EQ_DBL(si.max_total_num_tokens, 500000, 0);
	ASSERT_EQ_DBL(si.configured_max_running, 0, 0);
	ASSERT_STREQ(si.disaggregation_mode, "decode");
	ASSERT_OK(limits_parse_sglang_server_info(old, strlen(old), &si, &err));
	ASSERT_EQ_DBL(si.max_running.value, 100, 0); /* lower than the flag: the live one wins */
	ASSERT_EQ_DBL(si.configured_max_running, 128, 0);
	buf_release(&err);
}

/* Found by fuzz_limits: cJSON reads 00.5039847718 as 0.5, and a dp_size
 * of 0.5 halved the live cap. Every field read is a count: fractions and
 * values below 1 are absent, whatever the field. */
TEST(limits_counts_are_whole_numbers)
{
	struct sglang_server_info si;
	struct vllm_server_info vi;
	struct buf err;
	const char *fuzzed = "{\"dp_size\":00.5039847718}";
	const char *half = "{\"dp_size\":0.5,\"effective_max_running_requests_per_dp\":48}";
	const char *frac = "{\"dp_size\":2,\"context_length\":1.5,"
			   "\"effective_max_running_requests_per_dp\":47.5}";
	const char *vfrac = "{\"vllm_config\":{\"model_config\":{\"max_model_len\":4096.5},"
			    "\"scheduler_config\":{\"max_num_seqs\":2.25}}}";

	buf_init(&err, 1024);
	ASSERT_OK(limits_parse_sglang_server_info(fuzzed, strlen(fuzzed), &si, &err));
	ASSERT_EQ_DBL(si.dp_size, 1, 0);
	ASSERT_OK(limits_parse_sglang_server_info(half, strlen(half), &si, &err));
	ASSERT_EQ_DBL(si.dp_size, 1, 0);
	ASSERT_EQ_DBL(si.max_running.value, 48, 0);
	ASSERT_OK(limits_parse_sglang_server_info(frac, strlen(frac), &si, &err));
	ASSERT_EQ_INT(si.max_running.source, LIMIT_NONE);
	ASSERT_EQ_INT(si.context_length.source, LIMIT_NONE);
	ASSERT_ERR(limits_parse_vllm_server_info(vfrac, strlen(vfrac), &vi, &err), IM_NOTFOUND);
	ASSERT_EQ_INT(vi.max_model_len.source, LIMIT_NONE);
	buf_release(&err);
}

static void add_model(void *ctx, const char *id, double len)
{
	struct buf *b = ctx;
	buf_printf(b, "%s=%g;", id, len);
}

TEST(limits_models_and_kv)
{
	struct buf out, err;
	const char *j = "{\"object\":\"list\",\"data\":[{\"id\":\"qwen\",\"max_model_len\":1024},"
			"{\"id\":\"lora-a\",\"parent\":\"qwen\"}]}";
	struct limit kv;

	buf_init(&out, 1024);
	buf_init(&err, 1024);
	ASSERT_OK(limits_parse_models(j, strlen(j), add_model, &out, &err));
	ASSERT_STREQ(buf_str(&out), "qwen=1024;lora-a=0;");
	ASSERT_ERR(limits_parse_models("{}", 2, add_model, &out, &err), IM_PARSE);
	/* the incident: 557 blocks x 16 / 1024 = 8.70 sequences */
	kv = limits_kv_concurrency(0, 557, 16, 1024);
	ASSERT_EQ_DBL(kv.value, 8.703125, 1e-9);
	ASSERT_STREQ(limit_source_name(kv.source), "cache_config_info");
	kv = limits_kv_concurrency(12.5, 557, 16, 1024);
	ASSERT_EQ_DBL(kv.value, 12.5, 0);
	kv = limits_kv_concurrency(0, 557, 16, 0);
	ASSERT_TRUE(kv.source == LIMIT_NONE);
	ASSERT_EQ_DBL(limits_drift(2, 8.703125), -0.770197, 1e-6);
	ASSERT_EQ_DBL(limits_drift(64, 8.703125), 6.353680, 1e-6);
	ASSERT_EQ_DBL(limits_vllm_default_max_num_seqs(80, false), 1024, 0);
	ASSERT_EQ_DBL(limits_vllm_default_max_num_seqs(80, true), 256, 0);
	ASSERT_EQ_DBL(limits_vllm_default_max_num_seqs(0, false), 256, 0);
	buf_release(&out);
	buf_release(&err);
}

int main(int argc, char **argv)
{
	return t_run(argc, argv);
}
