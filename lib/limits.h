/*
 * limits.h - an engine's live limits and where each came from.
 *
 * Every limit infermon shows or judges by carries its source, so a reader
 * can tell a number read from the running engine from one assumed. The
 * sources of max-num-seqs, best first (docs/metrics.md):
 *   vLLM:   /server_info (dev mode) > vllm:vllm_config_info label >
 *           the pod's args > the engine default (assumed) > observed ceiling
 *   SGLang: /get_server_info effective_max_running_requests_per_dp x dp_size
 *           > the pod's args (--max-running-requests)
 * This module parses the engines' info endpoints and picks the best source;
 * it never reads a limit from a constant other than the documented engine
 * default, which it marks as an assumption.
 */
#ifndef INFERMON_LIMITS_H
#define INFERMON_LIMITS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

enum limit_source {
	LIMIT_NONE,
	LIMIT_SERVER_INFO,     /* vLLM GET /server_info?config_format=json */
	LIMIT_CONFIG_INFO,     /* vllm:vllm_config_info label */
	LIMIT_GET_SERVER_INFO, /* SGLang GET /get_server_info */
	LIMIT_POD_ARGS,        /* the running pod's (or --args) command line */
	LIMIT_DEFAULT,         /* the engine's documented default: an assumption */
	LIMIT_OBSERVED,        /* running pinned at N while requests wait */
	LIMIT_MODELS,          /* GET /v1/models max_model_len */
	LIMIT_CACHE_CONFIG,    /* vllm:cache_config_info */
	LIMIT_KV_POOL,         /* sglang max_total_num_tokens / context length */
};

struct limit {
	double value;
	enum limit_source source; /* LIMIT_NONE: unknown, value meaningless */
};

/* "server_info", "vllm_config_info", "get_server_info", "pod_args",
 * "default_assumed", "observed_ceiling", "v1_models", "cache_config_info",
 * "kv_pool", "unknown". Used as the `source` label and in status. */
const char *limit_source_name(enum limit_source s);

/* What vLLM's /server_info?config_format=json says. */
struct vllm_server_info {
	struct limit max_num_seqs;
	struct limit max_model_len;
};
im_result limits_parse_vllm_server_info(const char *json, size_t n, struct vllm_server_info *out,
					struct buf *err);

/* What SGLang's /get_server_info says. */
struct sglang_server_info {
	struct limit max_running; /* effective per dp x dp_size */
	struct limit context_length;
	double max_total_num_tokens;   /* one DP rank's KV pool in tokens, 0 when absent */
	double configured_max_running; /* the flag, 0 when null/absent */
	double dp_size;
	char disaggregation_mode[16]; /* "null", "prefill", "decode" or "" */
};
im_result limits_parse_sglang_server_info(const char *json, size_t n,
					  struct sglang_server_info *out, struct buf *err);

/* /v1/models: calls cb for each served model with its max_model_len
 * (0 when the engine does not say). */
typedef void (*limits_model_cb)(void *ctx, const char *id, double max_model_len);
im_result limits_parse_models(const char *json, size_t n, limits_model_cb cb, void *ctx,
			      struct buf *err);

/* KV-derived maximum concurrency: kv_cache_max_concurrency when the engine
 * exports it (correct for hybrid models), else blocks x block_size /
 * max_model_len; value 0 / LIMIT_NONE when inputs are missing. */
struct limit limits_kv_concurrency(double kv_max_concurrency, double num_gpu_blocks,
				   double block_size, double max_model_len);

/* vLLM's default max_num_seqs for a GPU: 1024 on >= 70 GiB GPUs that are not
 * A100, else 256 (version dependent). gpu_mem_gib 0 = unknown -> 256. */
double limits_vllm_default_max_num_seqs(double gpu_mem_gib, bool is_a100);

/* Relative drift of a limit from the KV-derived concurrency:
 * (limit - kv) / kv; 0 when kv is 0. */
double limits_drift(double limit, double kv);

#endif
