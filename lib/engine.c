#include "engine.h"

#include <math.h>
#include <string.h>

#include "alloc.h"
#include "strparse.h"

enum backend backend_parse(const char *s)
{
	if (!s)
		return BACKEND_UNKNOWN;
	if (strcmp(s, "vllm") == 0)
		return BACKEND_VLLM;
	if (strcmp(s, "sglang") == 0)
		return BACKEND_SGLANG;
	if (strcmp(s, "vllm-pd") == 0)
		return BACKEND_VLLM_PD;
	if (strcmp(s, "sglang-pd") == 0)
		return BACKEND_SGLANG_PD;
	return BACKEND_UNKNOWN;
}

const char *backend_name(enum backend b)
{
	static const char *const names[] = {"unknown", "vllm", "sglang", "vllm-pd", "sglang-pd"};
	return (unsigned)b < 5 ? names[b] : "unknown";
}

bool backend_is_sglang(enum backend b)
{
	return b == BACKEND_SGLANG || b == BACKEND_SGLANG_PD;
}

bool backend_is_pd(enum backend b)
{
	return b == BACKEND_VLLM_PD || b == BACKEND_SGLANG_PD;
}

const char *engine_series_name(unsigned bit)
{
	static const char *const names[SERIES_COUNT] = {
		"running",    "waiting",      "kv_usage",    "preemptions",
		"tokens",     "ttft",         "tpot",        "e2e_latency",
		"queue_time", "prefix_cache", "kv_capacity", "request_success",
		"pd_queues",  "pd_transfer"};
	for (unsigned i = 0; i < SERIES_COUNT; i++)
		if (bit == 1u << i)
			return names[i];
	return "unknown";
}

unsigned engine_series_expected(enum backend b)
{
	unsigned common = SERIES_RUNNING | SERIES_WAITING | SERIES_KV_USAGE | SERIES_TOKENS |
			  SERIES_TTFT | SERIES_TPOT | SERIES_E2E | SERIES_PREEMPTIONS |
			  SERIES_PREFIX_CACHE | SERIES_KV_CAPACITY;

	switch (b) {
	case BACKEND_VLLM:
		return common | SERIES_QUEUE_TIME | SERIES_SUCCESS;
	case BACKEND_VLLM_PD:
		return common | SERIES_QUEUE_TIME | SERIES_SUCCESS | SERIES_PD_TRANSFER;
	case BACKEND_SGLANG:
		return common;
	case BACKEND_SGLANG_PD:
		return common | SERIES_PD_QUEUES | SERIES_PD_TRANSFER;
	default:
		return 0;
	}
}

void engine_scrape_init(struct engine_scrape *e, enum backend b)
{
	memset(e, 0, sizeof(*e));
	e->backend = b;
	e->want_bounds = true;
}

void engine_scrape_release(struct engine_scrape *e)
{
	for (int i = 0; i < e->nmodels; i++)
		im_free(e->models[i]);
	e->nmodels = 0;
	histbounds_scratch_free(&e->bounds_scratch);
}

void engine_scrape_move(struct engine_scrape *dst, struct engine_scrape *src)
{
	enum backend b = src->backend;

	/* the same names scrape after scrape: keep dst's, drop src's copies */
	for (int i = 0; i < src->nmodels; i++)
		if (i < dst->nmodels && strcmp(dst->models[i], src->models[i]) == 0) {
			im_free(src->models[i]);
			src->models[i] = dst->models[i];
			dst->models[i] = NULL;
		}
	for (int i = 0; i < dst->nmodels; i++)
		im_free(dst->models[i]);
	histbounds_scratch_free(&dst->bounds_scratch);
	if (!src->want_bounds)
		src->bounds = dst->bounds;
	*dst = *src;
	engine_scrape_init(src, b);
}

static bool name_is(const char *p, size_t n, const char *s)
{
	return strparse_eq(p, n, s);
}

static const struct promtext_label *label(const struct promtext_sample *s, const char *name)
{
	return promtext_label_get(s, name);
}

static bool label_is(const struct promtext_sample *s, const char *name, const char *want)
{
	const struct promtext_label *l = label(s, name);
	return l && strparse_eq(l->value, l->value_len, want);
}

static double label_num(const struct promtext_sample *s, const char *name)
{
	const struct promtext_label *l = label(s, name);
	double d;

	if (!l || strparse_double(l->value, l->value_len, &d) || !isfinite(d) || d < 0)
		return 0;
	return d;
}

static void add_model(struct engine_scrape *e, const struct promtext_sample *s)
{
	const struct promtext_label *l = label(s, "model_name");

	if (!l || l->value_len == 0 || l->value_len >= ENGINE_MODEL_LEN)
		return;
	for (int i = 0; i < e->nmodels; i++)
		if (strparse_eq(l->value, l->value_len, e->models[i]))
			return;
	if (e->nmodels >= ENGINE_MAX_MODELS)
		return;
	e->models[e->nmodels++] = im_xstrndup(l->value, l->value_len);
}

static double finite_or_zero(double v)
{
	return isfinite(v) ? v : 0;
}

/* Series of which only presence is read (a histogram family by its prefix,
 * or a name whose value nothing uses), per engine: looked up after the
 * series whose values are read, none of whose names begins like these. */
struct presence {
	const char *name;
	bool prefix; /* name is a prefix (a histogram's _bucket, _sum, _count) */
	unsigned flag;
};

static const struct presence vllm_presence[] = {
	{"time_to_first_token_seconds", true, SERIES_TTFT},
	{"inter_token_latency_seconds", true, SERIES_TPOT},
	{"time_per_output_token_seconds", true, SERIES_TPOT},
	{"request_time_per_output_token_seconds", true, SERIES_TPOT},
	{"e2e_request_latency_seconds", true, SERIES_E2E},
	{"request_queue_time_seconds", true, SERIES_QUEUE_TIME},
	{"prefix_cache_queries", true, SERIES_PREFIX_CACHE},
	{"gpu_prefix_cache_queries", true, SERIES_PREFIX_CACHE},
	{"gpu_prefix_cache_hit_rate", false, SERIES_PREFIX_CACHE},
	{"request_success", true, SERIES_SUCCESS},
	{"nixl_xfer_time_seconds", true, SERIES_PD_TRANSFER},
	{"nixl_num_pending_sends", false, SERIES_PD_TRANSFER},
};

static const struct presence sglang_presence[] = {
	{"gen_throughput", false, SERIES_TOKENS},
	{"cache_hit_rate", false, SERIES_PREFIX_CACHE},
	{"cached_tokens_total", false, SERIES_PREFIX_CACHE},
	{"time_to_first_token_seconds", true, SERIES_TTFT},
	{"inter_token_latency_seconds", true, SERIES_TPOT},
	{"time_per_output_token_seconds", true, SERIES_TPOT},
	{"e2e_request_latency_seconds", true, SERIES_E2E},
	{"kv_transfer_latency_ms", true, SERIES_PD_TRANSFER},
	{"kv_transfer_speed_gb_s", true, SERIES_PD_TRANSFER},
};

static void mark_present(struct engine_scrape *e, const struct presence *t, size_t nt,
			 const char *n, size_t len)
{
	for (size_t i = 0; i < nt; i++)
		if (t[i].prefix ? strparse_prefix(n, len, t[i].name) : name_is(n, len, t[i].name)) {
			e->present |= t[i].flag;
			return;
		}
}

/* What both engines name alike: the token counters. True when n was one. */
static bool observe_tokens(struct engine_scrape *e, const char *n, size_t len, double v)
{
	if (name_is(n, len, "prompt_tokens_total"))
		e->prompt_tokens += v;
	else if (name_is(n, len, "generation_tokens_total"))
		e->generation_tokens += v;
	else
		return false;
	e->present |= SERIES_TOKENS;
	return true;
}

static void observe_vllm(struct engine_scrape *e, const struct promtext_sample *s, const char *n,
			 size_t len)
{
	double v = finite_or_zero(s->value);

	if (observe_tokens(e, n, len, v))
		return;
	if (name_is(n, len, "num_requests_running")) {
		const struct promtext_label *eng = label(s, "engine");
		uint64_t idx;
		e->running += v;
		e->present |= SERIES_RUNNING;
		if (eng && strparse_u64(eng->value, eng->value_len, 63, &idx) == IM_OK &&
		    !(e->engine_seen & (1ULL << idx))) {
			e->engine_seen |= 1ULL << idx;
			e->engines++;
		}
	} else if (name_is(n, len, "num_requests_waiting")) {
		e->waiting += v;
		e->present |= SERIES_WAITING;
	} else if (name_is(n, len, "num_requests_swapped")) {
		e->swapped += v;
	} else if (name_is(n, len, "kv_cache_usage_perc")) {
		if (!e->kv_new || v > e->kv_usage)
			e->kv_usage = v;
		e->kv_new = 1;
		e->present |= SERIES_KV_USAGE;
	} else if (name_is(n, len, "gpu_cache_usage_perc")) {
		/* old name; used only when the new one is absent */
		if (!e->kv_new && (!e->kv_old || v > e->kv_usage))
			e->kv_usage = v;
		e->kv_old = 1;
		e->present |= SERIES_KV_USAGE;
	} else if (name_is(n, len, "num_preemptions_total") || name_is(n, len, "num_preemptions")) {
		e->preemptions += v;
		e->preemptions_is_counter = true;
		e->present |= SERIES_PREEMPTIONS;
	} else if (name_is(n, len, "cache_config_info")) {
		/* one per engine; capacities add up across DP engines */
		e->num_gpu_blocks += label_num(s, "num_gpu_blocks");
		if (label_num(s, "block_size") > 0)
			e->block_size = label_num(s, "block_size");
		e->kv_cache_size_tokens += label_num(s, "kv_cache_size_tokens");
		e->kv_max_concurrency += label_num(s, "kv_cache_max_concurrency");
		e->present |= SERIES_KV_CAPACITY;
	} else if (name_is(n, len, "vllm_config_info")) {
		double m = label_num(s, "scheduler_config_max_num_seqs");
		if (m > 0)
			e->cfg_max_num_seqs = m;
	} else {
		mark_present(e, vllm_presence, sizeof(vllm_presence) / sizeof(vllm_presence[0]), n,
			     len);
		if (e->want_bounds)
			histbounds_observe(&e->bounds_scratch, n, len, s);
	}
}

static void observe_sglang(struct engine_scrape *e, const struct promtext_sample *s, const char *n,
			   size_t len)
{
	double v = finite_or_zero(s->value);
	const struct promtext_label *et;

	/* One tensor/pipeline-parallel rank speaks for the group. */
	if ((label(s, "tp_rank") && !label_is(s, "tp_rank", "0")) ||
	    (label(s, "pp_rank") && !label_is(s, "pp_rank", "0")))
		return;
	et = label(s, "engine_type");
	if (et && et->value_len < sizeof(e->engine_type)) {
		memcpy(e->engine_type, et->value, et->value_len);
		e->engine_type[et->value_len] = '\0';
	}
	if (observe_tokens(e, n, len, v))
		return;
	if (name_is(n, len, "num_running_reqs")) {
		e->running += v;
		e->present |= SERIES_RUNNING;
	} else if (name_is(n, len, "num_queue_reqs")) {
		e->waiting += v;
		e->present |= SERIES_WAITING;
	} else if (name_is(n, len, "token_usage")) {
		if (!(e->present & SERIES_KV_USAGE) || v > e->kv_usage)
			e->kv_usage = v;
		e->present |= SERIES_KV_USAGE;
	} else if (name_is(n, len, "num_used_tokens")) {
		e->sgl_used_tokens += v;
	} else if (name_is(n, len, "max_total_num_tokens")) {
		e->sgl_max_total_tokens += v;
		e->present |= SERIES_KV_CAPACITY;
	} else if (name_is(n, len, "num_retracted_requests_total")) {
		e->preemptions += v;
		e->preemptions_is_counter = true;
		e->present |= SERIES_PREEMPTIONS;
	} else if (name_is(n, len, "num_retracted_reqs")) {
		/* older gauge: requests retracted in the last interval */
		if (!e->preemptions_is_counter)
			e->preemptions += v;
		e->present |= SERIES_PREEMPTIONS;
	} else if (name_is(n, len, "num_prefill_bootstrap_queue_reqs") ||
		   name_is(n, len, "num_prefill_prealloc_queue_reqs") ||
		   name_is(n, len, "num_prefill_inflight_queue_reqs")) {
		e->pd_prefill_queue += v;
		e->present |= SERIES_PD_QUEUES;
	} else if (name_is(n, len, "num_decode_prealloc_queue_reqs") ||
		   name_is(n, len, "num_decode_transfer_queue_reqs")) {
		e->pd_decode_queue += v;
		e->present |= SERIES_PD_QUEUES;
	} else if (name_is(n, len, "num_bootstrap_failed_reqs_total") ||
		   name_is(n, len, "num_transfer_failed_reqs_total")) {
		e->pd_transfer_failures += v;
		e->present |= SERIES_PD_TRANSFER;
	} else {
		mark_present(e, sglang_presence,
			     sizeof(sglang_presence) / sizeof(sglang_presence[0]), n, len);
		if (e->want_bounds)
			histbounds_observe(&e->bounds_scratch, n, len, s);
	}
}

im_result engine_observe(void *ctx, const struct promtext_sample *s)
{
	struct engine_scrape *e = ctx;
	const char *n = s->name;
	size_t len = s->name_len;

	e->samples++;
	if (strparse_suffix(n, len, "_created"))
		return IM_OK;
	if (strparse_prefix(n, len, "vllm:")) {
		add_model(e, s);
		observe_vllm(e, s, n + 5, len - 5);
	} else if (strparse_prefix(n, len, "sglang:") || strparse_prefix(n, len, "sglang_")) {
		add_model(e, s);
		observe_sglang(e, s, n + 7, len - 7);
	}
	return IM_OK;
}

void engine_scrape_end(struct engine_scrape *e)
{
	/* SGLang without token_usage: derive it from the pool. */
	if (!(e->present & SERIES_KV_USAGE) && e->sgl_max_total_tokens > 0 &&
	    e->sgl_used_tokens > 0) {
		e->kv_usage = e->sgl_used_tokens / e->sgl_max_total_tokens;
		e->present |= SERIES_KV_USAGE;
	}
	if (e->kv_usage < 0)
		e->kv_usage = 0;
	if (e->want_bounds)
		e->bounds = histbounds_intern(&e->bounds_scratch);
}
