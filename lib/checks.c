#include "checks.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *check_name(enum check_kind k)
{
	static const char *const names[CHECK_COUNT] = {
		"Saturated",  "AdmissionBound", "KVCachePressure", "Preempting",
		"LimitDrift", "MetricsMissing", "ScrapeFailed"};
	return (unsigned)k < CHECK_COUNT ? names[k] : "Unknown";
}

bool check_is_failure(enum check_kind k)
{
	return k == CHECK_SATURATED || k == CHECK_ADMISSION_BOUND || k == CHECK_LIMIT_DRIFT;
}

void check_opts_default(struct check_opts *o)
{
	o->drift_tolerance = 0.25;
	o->kv_pressure = 0.90;
	o->kv_low = 0.50;
	o->ceiling_scrapes = 3;
}

void history_init(struct engine_history *h)
{
	memset(h, 0, sizeof(*h));
}

void history_push(struct engine_history *h, uint64_t ms, const struct engine_scrape *e)
{
	struct engine_point pt = {
		.ms = ms,
		.running = (float)e->running,
		.waiting = (float)e->waiting,
		.kv_usage = e->kv_usage,
		.preemptions = e->preemptions,
		.preemptions_is_counter = e->preemptions_is_counter,
	};

	if (h->n == CHECK_HISTORY) {
		memmove(h->p, h->p + 1, sizeof(h->p[0]) * (CHECK_HISTORY - 1));
		h->n--;
	}
	h->p[h->n++] = pt;
}

double history_observed_ceiling(const struct engine_history *h, int scrapes)
{
	double n;

	if (scrapes < 1 || h->n < scrapes)
		return 0;
	n = h->p[h->n - 1].running;
	if (n <= 0)
		return 0;
	for (int i = h->n - scrapes; i < h->n; i++)
		if (h->p[i].running != n || h->p[i].waiting <= 0)
			return 0;
	return n;
}

void limits_resolve(const struct limit_inputs *in, const struct engine_scrape *cur,
		    const struct engine_history *h, const struct check_opts *o,
		    struct resolved_limits *out)
{
	double ceiling, len = in->max_model_len;

	memset(out, 0, sizeof(*out));
	if (backend_is_sglang(in->backend)) {
		if (in->sglang_info && in->sglang_info->max_running.source != LIMIT_NONE)
			out->max_num_seqs = in->sglang_info->max_running;
		else if (in->args_max_num_seqs > 0)
			out->max_num_seqs = (struct limit){in->args_max_num_seqs, LIMIT_POD_ARGS};
		if (in->sglang_info && in->sglang_info->context_length.source != LIMIT_NONE)
			out->max_model_len = in->sglang_info->context_length;
		else if (len > 0)
			out->max_model_len = (struct limit){len, LIMIT_MODELS};
		{
			/* /get_server_info gives one DP rank's pool (its first
			 * scheduler's), the metrics one per dp_rank (summed);
			 * the cap above is per DP rank x dp_size: compare totals. */
			const struct sglang_server_info *si = in->sglang_info;
			double dp = si && si->dp_size > 1 ? si->dp_size : 1;
			double pool = si && si->max_total_num_tokens > 0
					      ? si->max_total_num_tokens * dp
					      : cur->sgl_max_total_tokens;
			if (pool > 0 && out->max_model_len.value > 0)
				out->kv_concurrency = (struct limit){
					pool / out->max_model_len.value, LIMIT_KV_POOL};
		}
	} else {
		if (in->vllm_info && in->vllm_info->max_num_seqs.source != LIMIT_NONE)
			out->max_num_seqs = in->vllm_info->max_num_seqs;
		else if (cur->cfg_max_num_seqs > 0)
			out->max_num_seqs = (struct limit){cur->cfg_max_num_seqs,
							   LIMIT_CONFIG_INFO};
		else if (in->args_max_num_seqs > 0)
			out->max_num_seqs = (struct limit){in->args_max_num_seqs, LIMIT_POD_ARGS};
		else
			out->max_num_seqs = (struct limit){
				limits_vllm_default_max_num_seqs(0, false), LIMIT_DEFAULT};
		if (len > 0)
			out->max_model_len = (struct limit){len, LIMIT_MODELS};
		else if (in->vllm_info && in->vllm_info->max_model_len.source != LIMIT_NONE)
			out->max_model_len = in->vllm_info->max_model_len;
		out->kv_concurrency = limits_kv_concurrency(cur->kv_max_concurrency,
							    cur->num_gpu_blocks, cur->block_size,
							    out->max_model_len.value);
		/* Under data parallelism max-num-seqs holds per engine, while
		 * running and the KV capacity are summed over engines: the pod's
		 * cap is the per-engine one times the engines. */
		if (cur->engines > 1 && out->max_num_seqs.source != LIMIT_NONE &&
		    out->max_num_seqs.source != LIMIT_OBSERVED)
			out->max_num_seqs.value *= cur->engines;
	}
	/* An assumption gives way to what the engine is seen doing. */
	ceiling = history_observed_ceiling(h, o->ceiling_scrapes);
	if (ceiling > 0 &&
	    (out->max_num_seqs.source == LIMIT_NONE || out->max_num_seqs.source == LIMIT_DEFAULT))
		out->max_num_seqs = (struct limit){ceiling, LIMIT_OBSERVED};
}

static void msg(struct check_result *r, enum check_kind k, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void msg(struct check_result *r, enum check_kind k, const char *fmt, ...)
{
	va_list ap;

	r->active[k] = true;
	va_start(ap, fmt);
	vsnprintf(r->message[k], sizeof(r->message[k]), fmt, ap);
	va_end(ap);
}

static bool at_limit(double running, double limit)
{
	return limit > 0 && running >= limit - 0.5;
}

void checks_evaluate(const struct check_opts *o, const struct engine_scrape *cur,
		     const struct engine_history *h, const struct resolved_limits *lim,
		     const char *scrape_error, struct check_result *out)
{
	double limit = lim->max_num_seqs.source != LIMIT_NONE ? lim->max_num_seqs.value : 0;
	double kv = lim->kv_concurrency.source != LIMIT_NONE ? lim->kv_concurrency.value : 0;
	const char *src = limit_source_name(lim->max_num_seqs.source);
	unsigned missing;

	memset(out, 0, sizeof(*out));
	if (scrape_error)
		msg(out, CHECK_SCRAPE_FAILED, "scrape failed: %s", scrape_error);
	if (h->n == 0)
		return;
	if (limit > 0)
		out->saturation = cur->running / limit;

	if (at_limit(cur->running, limit) && cur->waiting > 0)
		msg(out, CHECK_SATURATED,
		    "running %.0f of max-num-seqs %.0f (%s) with %.0f waiting", cur->running, limit,
		    src, cur->waiting);

	if (h->n >= 2) {
		const struct engine_point *a = &h->p[h->n - 2], *b = &h->p[h->n - 1];
		if (at_limit(a->running, limit) && at_limit(b->running, limit) && a->waiting > 0 &&
		    b->waiting >= a->waiting && b->kv_usage < o->kv_low)
			msg(out, CHECK_ADMISSION_BOUND,
			    "queue %.0f -> %.0f while running sits at max-num-seqs %.0f (%s) and KV "
			    "usage is %.0f%%: admission-bound, not memory-bound%s",
			    a->waiting, b->waiting, limit, src, b->kv_usage * 100,
			    kv > limit ? "; the KV cache holds more sequences than the limit admits"
				       : "");
		if (b->preemptions_is_counter ? b->preemptions > a->preemptions
					      : b->preemptions > 0)
			msg(out, CHECK_PREEMPTING, "%.0f preemptions in the last %.0f s",
			    b->preemptions_is_counter ? b->preemptions - a->preemptions
						      : b->preemptions,
			    (double)(b->ms - a->ms) / 1000.0);
	}

	if ((cur->present & SERIES_KV_USAGE) && cur->kv_usage >= o->kv_pressure)
		msg(out, CHECK_KV_PRESSURE, "KV cache usage %.0f%% is at or above %.0f%%",
		    cur->kv_usage * 100, o->kv_pressure * 100);

	if (limit > 0 && kv > 0) {
		out->drift = limits_drift(limit, kv);
		if (fabs(out->drift) > o->drift_tolerance) {
			if (out->drift < 0)
				msg(out, CHECK_LIMIT_DRIFT,
				    "max-num-seqs %.0f (%s) is %.0f%% below the KV-derived concurrency "
				    "%.2f (%s): the engine admits fewer requests than its KV cache holds",
				    limit, src, -out->drift * 100, kv,
				    limit_source_name(lim->kv_concurrency.source));
			else
				msg(out, CHECK_LIMIT_DRIFT,
				    "max-num-seqs %.0f (%s) is %.0f%% above the KV-derived concurrency "
				    "%.2f (%s): long requests over-commit the KV cache and get preempted",
				    limit, src, out->drift * 100, kv,
				    limit_source_name(lim->kv_concurrency.source));
		}
	}

	/* Histograms and counters of requests appear with the first request:
	 * before an engine served any, their absence says nothing about its
	 * version. Judge them once some of them are there. */
	missing = engine_series_expected(cur->backend) & ~cur->present;
	if (!(cur->present & SERIES_TRAFFIC))
		missing &= ~(unsigned)SERIES_TRAFFIC;
	if (missing) {
		char list[256] = "";
		size_t n = 0;
		for (unsigned i = 0; i < SERIES_COUNT; i++)
			if (missing & (1u << i))
				n += (size_t)snprintf(
					list + n, n < sizeof(list) ? sizeof(list) - n : 0, "%s%s",
					n ? ", " : "", engine_series_name(1u << i));
		msg(out, CHECK_METRICS_MISSING, "series absent for this engine version: %s", list);
	}
}
