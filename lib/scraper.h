/*
 * scraper.h - scrapes engines on the event loop and judges them.
 *
 * A target is one engine endpoint (a pod's IP and metrics port, or a URL
 * given to `infermon check`). One scrape of a target fetches, in parallel:
 *   GET <base><metrics_path>      streamed into the exposition parser and
 *                                 the engine model (never held whole)
 *   GET <base>/v1/models          max_model_len, models served
 *   GET <base>/server_info?config_format=json   (vLLM; only answers in dev
 *                                 mode: a 404 is remembered and asked again
 *                                 every info_retry_ms)
 *   GET <base>/get_server_info    (SGLang)
 * The info endpoints are fetched on the first scrape, then every
 * info_every_ms, and at the next scrape after one that suggests the engine
 * restarted (it answers again after failing, or its token counters went
 * back): limits change only with a new engine process, and asking for them
 * on every scrape would double the requests an engine gets. When all calls
 * are done the target's limits are resolved,
 * its checks evaluated and the scraper's callback runs.
 *
 * Every call has a timeout and a body cap; a target never waits for another:
 * slow, dead, garbage or oversized endpoints fail on their own, and only
 * max_concurrent targets are in flight at once. Targets are scheduled every
 * interval with a random phase, so a fleet is not scraped in one burst.
 *
 * Schedule: waiting targets sit in a min-heap by due time. A scrape starts
 * as soon as a target is due and a slot is free — when a scrape finishes,
 * or when a timer armed for the earliest due time fires — so starting one
 * costs O(log n), not a scan of the fleet, and no tick caps the rate. The
 * next due time is counted from the start of the last scrape, as in
 * Prometheus. How late scrapes start is counted (late: more than a tenth of
 * the interval after due) and the intervals actually seen are kept in a
 * histogram per configured interval, so a fleet that outgrows max_concurrent
 * or the machine shows up in the controller's /metrics.
 *
 * Pause: a replica that does not lead does not scrape (the engines see one
 * controller however many replicas run). While paused no scrape starts;
 * those in flight finish. Resuming makes every waiting target due at once
 * (a new leader judges the fleet within one round, max_concurrent at a
 * time) and starts each target's history afresh: a rate over the gap would
 * not be a rate. scraper_current() tells results of a scrape completed
 * since the last resume from older ones.
 *
 * Loop thread only.
 */
#ifndef INFERMON_SCRAPER_H
#define INFERMON_SCRAPER_H

#include <stdbool.h>
#include <stdint.h>

#include "backoff.h"
#include "checks.h"
#include "engine.h"
#include "hmap.h"
#include "http.h"
#include "limits.h"
#include "promtext.h"

struct scraper;
struct scrape_target;

typedef void (*scraper_done_cb)(void *ctx, struct scrape_target *t);

struct scraper_opts {
	uint64_t interval_ms;     /* default 15000 */
	uint64_t timeout_ms;      /* per request, default 10000 */
	size_t max_body;          /* default 64 MiB */
	size_t max_label_value;   /* default 64 KiB */
	int max_concurrent;       /* targets in flight, default 32 */
	uint64_t info_every_ms;   /* default 300000 */
	uint64_t info_retry_ms;   /* after a 404 on /server_info, default 600000 */
	struct check_opts checks; /* zero: defaults */
	uint32_t seed;            /* phase jitter; 0 = from the clock */
};

struct scrape_target {
	/* these three live in the target's own block */
	char *key;          /* namespace/pod, or the URL for `check` */
	char *base_url;     /* http://10.0.0.5:8000 */
	char *metrics_path; /* /metrics */
	enum backend backend;
	double args_max_num_seqs; /* from the pod's args; 0 when absent */
	double tolerance;         /* drift tolerance for this target */
	uint64_t interval_ms;     /* this target's; 0: the scraper's */
	uint64_t timeout_ms;      /* per request; 0: the scraper's */
	bool tls_insecure;        /* https without verifying the engine's certificate */
	void *data;               /* owner's pointer */

	/* results of the last completed scrape */
	bool up; /* metrics fetched and parsed */
	/* why the last scrape failed, "" if up; owned, never NULL, and out of
	 * line like problem below (thousands of targets, most of them up) */
	const char *error;
	struct engine_scrape engine; /* last good engine state */
	struct engine_history history;
	struct vllm_server_info vinfo;
	bool have_vinfo;
	struct sglang_server_info sinfo;
	bool have_sinfo;
	double max_model_len;
	struct resolved_limits limits;
	struct {
		bool active[CHECK_COUNT];
		/* NULL unless active; shared with the other targets whose
		 * check says the same (the scraper's messages), read-only */
		const char *message[CHECK_COUNT];
		double saturation, drift; /* as in struct check_result */
	} checks;                         /* the last evaluation */
	double duration_s;                /* of the metrics request */
	size_t bytes;                     /* of the metrics body */
	uint64_t samples_skipped, lines_malformed;
	const char *problem; /* first parser problem of the last scrape, or "" */
	uint64_t scrapes, failures;
	uint64_t last_ms;
	uint64_t epoch; /* the scraper's epoch when the last scrape completed */

	/* private */
	struct scraper *s;
	size_t heap_idx; /* in s->heap, or SCRAPER_NOT_WAITING */
	uint64_t last_start_ms;
	/* the scrape in flight: parser, engine state and result being built,
	 * allocated at its start and freed when it completes (only
	 * max_concurrent exist at a time, not one per target) */
	struct scrape_work *work;
	struct http_call *metrics_call, *models_call, *info_call;
	int inflight;
	bool in_progress, removed, info_due;
	uint64_t next_ms, info_next_ms, server_info_retry_ms;
	im_result metrics_result;
};

#define SCRAPER_NOT_WAITING ((size_t)-1)

/* Why check k is active on t, "" when it is not. */
static inline const char *scraper_check_message(const struct scrape_target *t, enum check_kind k)
{
	return t->checks.message[k] ? t->checks.message[k] : "";
}

/* Intervals actually seen between two scrape starts of a target, for
 * targets configured with interval_ms. Bucket bounds are fractions of it. */
#define SCRAPER_INTERVAL_BUCKETS 8
#define SCRAPER_MAX_INTERVALS 8
extern const double scraper_interval_bucket_factor[SCRAPER_INTERVAL_BUCKETS];
struct scraper_interval_hist {
	uint64_t interval_ms;
	uint64_t buckets[SCRAPER_INTERVAL_BUCKETS]; /* cumulative */
	uint64_t count;
	double sum_s;
};

struct scraper {
	struct http *http;
	struct scraper_opts opts;
	struct hmap targets; /* key -> struct scrape_target* */
	/* the active checks' messages, each once however many targets show
	 * it (a fleet's MetricsMissing reads the same on every pod of an
	 * engine version): text -> its holders */
	struct hmap messages;
	struct scrape_target **heap; /* waiting targets, earliest next_ms first */
	size_t nheap, heap_cap;
	uv_timer_t tick; /* armed for the earliest due target */
	int inflight;
	bool stopped, kicking, paused;
	uint64_t epoch;         /* resumes so far */
	uint64_t started, late; /* scrapes started, and started late */
	struct scraper_interval_hist hist[SCRAPER_MAX_INTERVALS];
	size_t nhist;
	struct backoff rng;
	scraper_done_cb cb;
	void *ctx;
};

void scraper_init(struct scraper *s, struct http *http, const struct scraper_opts *o,
		  scraper_done_cb cb, void *ctx);
/* Starts the schedule (a timer on the loop). */
void scraper_start(struct scraper *s);
/* Cancels scrapes in flight (no callbacks) and closes the timer. */
void scraper_stop(struct scraper *s);
/* Frees every target; after scraper_stop and the loop has run. */
void scraper_release(struct scraper *s);

/* Adds or updates a target. A change of URL, path or backend starts its
 * history afresh (the owner's data pointer is kept). Returns the target
 * (owned by the scraper). */
struct scrape_target *scraper_set_target(struct scraper *s, const char *key, const char *base_url,
					 const char *metrics_path, enum backend b,
					 double args_max_num_seqs);
void scraper_remove_target(struct scraper *s, const char *key);
struct scrape_target *scraper_get(struct scraper *s, const char *key);

/* Pauses (true) or resumes (false) the schedule; see "Pause" above. A
 * scraper may be paused before scraper_start. */
void scraper_pause(struct scraper *s, bool paused);
/* t has completed a scrape since the scraper last resumed. */
bool scraper_current(const struct scraper *s, const struct scrape_target *t);

/* Scrapes t now, outside the schedule (used by `infermon check`). */
im_result scraper_scrape_now(struct scraper *s, struct scrape_target *t);

#endif
