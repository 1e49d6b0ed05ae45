/*
 * engine.h - what one scrape says about one engine, across engine versions.
 *
 * Feeds on promtext samples (engine_observe is a promtext_sample_cb) and
 * keeps, per pod, the handful of numbers the checks and the controller's
 * own metrics need, whatever the engine version calls them:
 *  - vLLM: every series carries model_name and, under data parallelism,
 *    engine="0","1",…: gauges are summed over engine (KV usage: the
 *    fullest engine). New names are preferred, old ones used when the new
 *    are absent (kv_cache_usage_perc > gpu_cache_usage_perc, …).
 *  - SGLang: `sglang:` and `sglang_` prefixes both; only tp_rank="0" (and
 *    pp_rank="0") series are read, summed over dp_rank.
 * "Which panels' series were present" is kept as a bitmask so that a check
 * can say which ones are missing for this engine version.
 *
 * Not thread-safe; one per pod, on the loop thread.
 */
#ifndef INFERMON_ENGINE_H
#define INFERMON_ENGINE_H

#include <stdbool.h>
#include <stdint.h>

#include "histbounds.h"
#include "promtext.h"

enum backend { BACKEND_UNKNOWN, BACKEND_VLLM, BACKEND_SGLANG, BACKEND_VLLM_PD, BACKEND_SGLANG_PD };

/* "vllm", "sglang", "vllm-pd", "sglang-pd"; BACKEND_UNKNOWN otherwise. */
enum backend backend_parse(const char *s);
const char *backend_name(enum backend b);
bool backend_is_sglang(enum backend b);
bool backend_is_pd(enum backend b);

/* Series groups a dashboard panel or a check depends on. */
enum engine_series {
	SERIES_RUNNING = 1u << 0,
	SERIES_WAITING = 1u << 1,
	SERIES_KV_USAGE = 1u << 2,
	SERIES_PREEMPTIONS = 1u << 3,
	SERIES_TOKENS = 1u << 4,
	SERIES_TTFT = 1u << 5,
	SERIES_TPOT = 1u << 6,
	SERIES_E2E = 1u << 7,
	SERIES_QUEUE_TIME = 1u << 8,
	SERIES_PREFIX_CACHE = 1u << 9,
	SERIES_KV_CAPACITY = 1u << 10, /* cache_config_info / max_total_num_tokens */
	SERIES_SUCCESS = 1u << 11,
	SERIES_PD_QUEUES = 1u << 12,
	SERIES_PD_TRANSFER = 1u << 13,
};
#define SERIES_COUNT 14
/* Series that exist only once the engine has served requests. */
#define SERIES_TRAFFIC                                                                \
	(SERIES_TOKENS | SERIES_TTFT | SERIES_TPOT | SERIES_E2E | SERIES_QUEUE_TIME | \
	 SERIES_PREFIX_CACHE | SERIES_SUCCESS | SERIES_PD_TRANSFER)
/* Short name of one bit ("running", "kv_usage", …). */
const char *engine_series_name(unsigned bit);
/* Series a backend's panels and checks expect. */
unsigned engine_series_expected(enum backend b);

#define ENGINE_MAX_MODELS 8
#define ENGINE_MODEL_LEN 128

struct engine_scrape {
	enum backend backend;
	unsigned present; /* enum engine_series bits seen */
	double running, waiting, swapped;
	double kv_usage;    /* 0..1, the fullest engine / DP rank */
	double preemptions; /* counter: vLLM preemptions, SGLang retractions */
	bool preemptions_is_counter;
	double prompt_tokens, generation_tokens; /* counters */
	/* KV capacity (vLLM cache_config_info; SGLang pool) */
	double num_gpu_blocks, block_size, kv_cache_size_tokens, kv_max_concurrency;
	double sgl_max_total_tokens, sgl_used_tokens;
	/* A fork's vllm:vllm_config_info label, 0 when absent. */
	double cfg_max_num_seqs;
	/* PD */
	double pd_prefill_queue, pd_decode_queue, pd_transfer_failures;
	/* model_name values, owned (engine_scrape_release): out of line, as
	 * most engines serve one short name and thousands of these are kept */
	char *models[ENGINE_MAX_MODELS];
	int nmodels;
	char engine_type[16]; /* SGLang engine_type label: unified|prefill|decode */
	uint64_t samples;     /* samples seen */
	int engines;          /* vLLM data-parallel engines seen (engine label); 0 = none */
	uint64_t engine_seen; /* private: bit per engine index 0..63 */
	/* The latency histograms' bucket bounds (interned, shared; NULL when
	 * the engine shows none) and, while a page is parsed, their scratch.
	 * want_bounds (set by engine_scrape_init): read them from this page;
	 * when clear, engine_scrape_move keeps the bounds dst had. */
	const struct histbounds *bounds;
	struct histbounds_scratch *bounds_scratch;
	bool want_bounds;
	/* private: which variant of a renamed series was seen */
	unsigned kv_new : 1, kv_old : 1, tpot_new : 1;
};

/* Empties e (freeing nothing: e is uninitialised memory or released). */
void engine_scrape_init(struct engine_scrape *e, enum backend b);
/* Frees what e owns (the model names); e may then be initialised again. */
void engine_scrape_release(struct engine_scrape *e);
/* Makes dst (initialised) what src was and leaves src initialised and empty
 * for src's backend; names dst already held are kept rather than copied. */
void engine_scrape_move(struct engine_scrape *dst, struct engine_scrape *src);
/* promtext_sample_cb: ctx is a struct engine_scrape. Never fails. */
im_result engine_observe(void *ctx, const struct promtext_sample *s);
/* Call after the last sample: settles fallbacks between renamed series. */
void engine_scrape_end(struct engine_scrape *e);

#endif
