#include "limits.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <string.h>

const char *limit_source_name(enum limit_source s)
{
	switch (s) {
	case LIMIT_SERVER_INFO:
		return "server_info";
	case LIMIT_CONFIG_INFO:
		return "vllm_config_info";
	case LIMIT_GET_SERVER_INFO:
		return "get_server_info";
	case LIMIT_POD_ARGS:
		return "pod_args";
	case LIMIT_DEFAULT:
		return "default_assumed";
	case LIMIT_OBSERVED:
		return "observed_ceiling";
	case LIMIT_MODELS:
		return "v1_models";
	case LIMIT_CACHE_CONFIG:
		return "cache_config_info";
	case LIMIT_KV_POOL:
		return "kv_pool";
	default:
		return "unknown";
	}
}

static const cJSON *get(const cJSON *o, const char *k)
{
	return cJSON_GetObjectItemCaseSensitive(o, k);
}

/* A count: every field read here (sequences, tokens, ranks, model
 * lengths) is a whole number of something, so a positive integer up to
 * 1e12; anything else (a fraction such as a dp_size of 0.5, which would
 * halve the live cap) is treated as absent. */
static bool count(const cJSON *v, double *out)
{
	double d;

	if (cJSON_IsNumber(v))
		d = v->valuedouble;
	else
		return false;
	if (!isfinite(d) || d < 1 || d > 1e12 || d != floor(d))
		return false;
	*out = d;
	return true;
}

im_result limits_parse_vllm_server_info(const char *json, size_t n, struct vllm_server_info *out,
					struct buf *err)
{
	cJSON *root = cJSON_ParseWithLength(json, n), *parsed = NULL;
	const cJSON *cfg;
	double d;

	memset(out, 0, sizeof(*out));
	if (!cJSON_IsObject(root)) {
		buf_printf(err, "/server_info: not a JSON object");
		cJSON_Delete(root);
		return IM_PARSE;
	}
	cfg = get(root, "vllm_config");
	/* Without config_format=json, older builds return the config as a
	 * string; it is JSON only in some versions. */
	if (cJSON_IsString(cfg)) {
		parsed = cJSON_Parse(cfg->valuestring);
		cfg = parsed;
	}
	if (!cJSON_IsObject(cfg)) {
		buf_printf(err, "/server_info: no vllm_config object");
		cJSON_Delete(parsed);
		cJSON_Delete(root);
		return IM_PARSE;
	}
	if (count(get(get(cfg, "scheduler_config"), "max_num_seqs"), &d))
		out->max_num_seqs = (struct limit){d, LIMIT_SERVER_INFO};
	if (count(get(get(cfg, "model_config"), "max_model_len"), &d))
		out->max_model_len = (struct limit){d, LIMIT_SERVER_INFO};
	cJSON_Delete(parsed);
	cJSON_Delete(root);
	if (out->max_num_seqs.source == LIMIT_NONE) {
		buf_printf(err, "/server_info: vllm_config.scheduler_config.max_num_seqs missing");
		return IM_NOTFOUND;
	}
	return IM_OK;
}

im_result limits_parse_sglang_server_info(const char *json, size_t n,
					  struct sglang_server_info *out, struct buf *err)
{
	cJSON *root = cJSON_ParseWithLength(json, n);
	const cJSON *st, *mode;
	double d, dp = 1, per_dp = 0;

	memset(out, 0, sizeof(*out));
	if (!cJSON_IsObject(root)) {
		buf_printf(err, "/get_server_info: not a JSON object");
		cJSON_Delete(root);
		return IM_PARSE;
	}
	if (count(get(root, "dp_size"), &d))
		dp = d;
	out->dp_size = dp;
	if (count(get(root, "context_length"), &d))
		out->context_length = (struct limit){d, LIMIT_GET_SERVER_INFO};
	if (count(get(root, "max_total_num_tokens"), &d))
		out->max_total_num_tokens = d;
	if (count(get(root, "max_running_requests"), &d))
		out->configured_max_running = d;
	mode = get(root, "disaggregation_mode");
	if (cJSON_IsString(mode) && strlen(mode->valuestring) < sizeof(out->disaggregation_mode))
		memcpy(out->disaggregation_mode, mode->valuestring, strlen(mode->valuestring) + 1);
	/* internal_states: one entry per DP rank (they agree); older builds put
	 * the same keys at the top level. */
	st = get(root, "internal_states");
	if (cJSON_IsArray(st) && cJSON_GetArraySize(st) > 0) {
		const cJSON *first = cJSON_GetArrayItem(st, 0);
		if (count(get(first, "effective_max_running_requests_per_dp"), &d))
			per_dp = d;
		if (!out->max_total_num_tokens && count(get(first, "max_total_num_tokens"), &d))
			out->max_total_num_tokens = d;
	} else if (count(get(root, "effective_max_running_requests_per_dp"), &d)) {
		per_dp = d;
	}
	cJSON_Delete(root);
	if (per_dp > 0)
		out->max_running = (struct limit){per_dp * dp, LIMIT_GET_SERVER_INFO};
	return IM_OK;
}

im_result limits_parse_models(const char *json, size_t n, limits_model_cb cb, void *ctx,
			      struct buf *err)
{
	cJSON *root = cJSON_ParseWithLength(json, n);
	const cJSON *data, *it;
	int seen = 0;

	data = get(root, "data");
	if (!cJSON_IsArray(data)) {
		buf_printf(err, "/v1/models: no data array");
		cJSON_Delete(root);
		return IM_PARSE;
	}
	cJSON_ArrayForEach(it, data)
	{
		const cJSON *id = get(it, "id");
		double d = 0;
		if (!cJSON_IsString(id) || seen >= 64)
			continue;
		count(get(it, "max_model_len"), &d);
		cb(ctx, id->valuestring, d);
		seen++;
	}
	cJSON_Delete(root);
	return IM_OK;
}

struct limit limits_kv_concurrency(double kv_max_concurrency, double num_gpu_blocks,
				   double block_size, double max_model_len)
{
	if (kv_max_concurrency > 0 && isfinite(kv_max_concurrency))
		return (struct limit){kv_max_concurrency, LIMIT_CACHE_CONFIG};
	if (num_gpu_blocks > 0 && block_size > 0 && max_model_len > 0)
		return (struct limit){num_gpu_blocks * block_size / max_model_len,
				      LIMIT_CACHE_CONFIG};
	return (struct limit){0, LIMIT_NONE};
}

double limits_vllm_default_max_num_seqs(double gpu_mem_gib, bool is_a100)
{
	return gpu_mem_gib >= 70 && !is_a100 ? 1024 : 256;
}

double limits_drift(double limit, double kv)
{
	return kv > 0 ? (limit - kv) / kv : 0;
}
