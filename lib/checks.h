/*
 * checks.h - verdicts on one engine from its recent scrapes and live limits.
 *
 *   Saturated        running at the live max-num-seqs with requests waiting
 *   AdmissionBound   saturated on consecutive scrapes, the queue not
 *                    shrinking, and KV usage low: the batch limit, not
 *                    memory, is what holds requests back (the incident in
 *                    DESIGN.md)
 *   KVCachePressure  KV usage at or above the pressure threshold (90%)
 *   Preempting       preemptions (SGLang: retractions) since the last scrape
 *   LimitDrift       live max-num-seqs differs from the KV-derived
 *                    concurrency by more than the tolerance (25%), either
 *                    way: below wastes the engine, above over-commits KV
 *   MetricsMissing   series a panel or check needs are absent for this
 *                    engine version
 *   ScrapeFailed     the last scrape failed
 *
 * The limit judged against is resolved here from the sources in limits.h,
 * best first; the documented vLLM default is an assumption, so a ceiling
 * observed on the running engine (running pinned at N while requests wait,
 * three scrapes in a row) replaces it.
 *
 * Pure functions over caller-owned state; no I/O, any thread.
 */
#ifndef INFERMON_CHECKS_H
#define INFERMON_CHECKS_H

#include <stdbool.h>
#include <stdint.h>

#include "engine.h"
#include "limits.h"

enum check_kind {
	CHECK_SATURATED,
	CHECK_ADMISSION_BOUND,
	CHECK_KV_PRESSURE,
	CHECK_PREEMPTING,
	CHECK_LIMIT_DRIFT,
	CHECK_METRICS_MISSING,
	CHECK_SCRAPE_FAILED,
	CHECK_COUNT
};

/* "Saturated", "AdmissionBound", … (condition types). */
const char *check_name(enum check_kind k);
/* Whether an active check fails `infermon check` (exit 1): saturation and
 * drift do; MetricsMissing does not. */
bool check_is_failure(enum check_kind k);

struct check_opts {
	double drift_tolerance; /* 0.25 */
	double kv_pressure;     /* 0.90 */
	double kv_low;          /* 0.50: below this, KV is not what limits */
	int ceiling_scrapes;    /* 3; at most CHECK_HISTORY */
};
void check_opts_default(struct check_opts *o);

/* Points kept per engine: the most any check reads (ceiling_scrapes; the
 * others read the last two). Each is kept for every engine. */
#define CHECK_HISTORY 4

struct engine_point {
	uint64_t ms;
	double kv_usage, preemptions;
	/* request counts: whole numbers, exact in a float (40 bytes a point,
	 * CHECK_HISTORY of them for each of thousands of engines) */
	float running, waiting;
	bool preemptions_is_counter;
};

/* The last CHECK_HISTORY scrapes of one engine, oldest first. */
struct engine_history {
	struct engine_point p[CHECK_HISTORY];
	int n;
};

void history_init(struct engine_history *h);
void history_push(struct engine_history *h, uint64_t ms, const struct engine_scrape *e);
/* N when running sat at the same N > 0 while requests waited for the last
 * `scrapes` points; else 0. */
double history_observed_ceiling(const struct engine_history *h, int scrapes);

/* Everything known about one engine's limits. */
struct limit_inputs {
	enum backend backend;
	const struct vllm_server_info *vllm_info;     /* NULL when not available */
	const struct sglang_server_info *sglang_info; /* NULL when not available */
	double args_max_num_seqs;                     /* 0: not in the args */
	double max_model_len;                         /* from /v1/models, 0 unknown */
};

struct resolved_limits {
	struct limit max_num_seqs;
	struct limit kv_concurrency;
	struct limit max_model_len;
};

void limits_resolve(const struct limit_inputs *in, const struct engine_scrape *cur,
		    const struct engine_history *h, const struct check_opts *o,
		    struct resolved_limits *out);

struct check_result {
	bool active[CHECK_COUNT];
	char message[CHECK_COUNT][320];
	double saturation; /* running / max-num-seqs; 0 when the limit is unknown */
	double drift;      /* (limit - kv) / kv; 0 when unknown */
};

/* cur is the newest scrape (already pushed into h); scrape_error non-NULL
 * when the last scrape failed (then cur/h hold the last good one). */
void checks_evaluate(const struct check_opts *o, const struct engine_scrape *cur,
		     const struct engine_history *h, const struct resolved_limits *lim,
		     const char *scrape_error, struct check_result *out);

#endif
