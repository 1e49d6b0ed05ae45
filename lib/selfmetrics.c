#include "selfmetrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "expo.h"
#include "log.h"
#include "render_slo.h"
#include "strparse.h"
#include "version.h"

static long rss_bytes(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	char line[128];
	long pages = 0;

	if (!f)
		return 0;
	if (fgets(line, sizeof(line), f)) {
		const char *p = strchr(line, ' ');
		if (p)
			pages = strtol(p + 1, NULL, 10);
	}
	fclose(f);
	return pages * sysconf(_SC_PAGESIZE);
}

/* ---- per engine ---- */

/* Writes family name's samples for engine t (info ti); id holds the labels
 * that identify it (namespace, pod, workload_name), escaped once. */
typedef void (*engine_sample_fn)(struct buf *b, const char *name, const struct scrape_target *t,
				 const struct target_info *ti, const char *id);

static void pod_info(struct buf *b, const char *name, const struct scrape_target *t,
		     const struct target_info *ti, const char *id)
{
	if (t->engine.nmodels == 0)
		expo_sample_with(b, name, 1, id, "backend", ti->backend, "role", ti->role,
				 "model_name", "", NULL);
	for (int m = 0; m < t->engine.nmodels; m++)
		expo_sample_with(b, name, 1, id, "backend", ti->backend, "role", ti->role,
				 "model_name", t->engine.models[m], NULL);
}

static void max_num_seqs(struct buf *b, const char *name, const struct scrape_target *t,
			 const struct target_info *ti, const char *id)
{
	const struct limit *l = &t->limits.max_num_seqs;

	if (l->source != LIMIT_NONE)
		expo_sample_with(b, name, l->value, id, "backend", ti->backend, "source",
				 limit_source_name(l->source), NULL);
}

/* A limit with where it was read, when it is known. */
static void limit_sample(struct buf *b, const char *name, const struct limit *l, const char *id)
{
	if (l->source != LIMIT_NONE)
		expo_sample_with(b, name, l->value, id, "source", limit_source_name(l->source),
				 NULL);
}

static void kv_concurrency(struct buf *b, const char *name, const struct scrape_target *t,
			   const struct target_info *ti, const char *id)
{
	(void)ti;
	limit_sample(b, name, &t->limits.kv_concurrency, id);
}

static void max_model_len(struct buf *b, const char *name, const struct scrape_target *t,
			  const struct target_info *ti, const char *id)
{
	(void)ti;
	limit_sample(b, name, &t->limits.max_model_len, id);
}

static void saturation(struct buf *b, const char *name, const struct scrape_target *t,
		       const struct target_info *ti, const char *id)
{
	(void)ti;
	if (t->history.n && t->limits.max_num_seqs.source != LIMIT_NONE)
		expo_sample_with(b, name, t->checks.saturation, id, NULL);
}

static void drift(struct buf *b, const char *name, const struct scrape_target *t,
		  const struct target_info *ti, const char *id)
{
	(void)ti;
	if (t->limits.max_num_seqs.source != LIMIT_NONE &&
	    t->limits.kv_concurrency.source != LIMIT_NONE)
		expo_sample_with(b, name, t->checks.drift, id, NULL);
}

static void check_active(struct buf *b, const char *name, const struct scrape_target *t,
			 const struct target_info *ti, const char *id)
{
	(void)ti;
	for (int k = 0; k < CHECK_COUNT; k++)
		expo_sample_with(b, name, t->checks.active[k] ? 1 : 0, id, "check",
				 check_name((enum check_kind)k), NULL);
}

static void scrape_up(struct buf *b, const char *name, const struct scrape_target *t,
		      const struct target_info *ti, const char *id)
{
	(void)ti;
	expo_sample_with(b, name, t->up ? 1 : 0, id, NULL);
}

static void scrape_failures(struct buf *b, const char *name, const struct scrape_target *t,
			    const struct target_info *ti, const char *id)
{
	(void)ti;
	expo_sample_with(b, name, (double)t->failures, id, NULL);
}

static void samples_skipped(struct buf *b, const char *name, const struct scrape_target *t,
			    const struct target_info *ti, const char *id)
{
	(void)ti;
	if (t->samples_skipped)
		expo_sample_with(b, name, (double)t->samples_skipped, id, NULL);
}

/* Only what the dashboard, the alerts and the docs use (running, waiting
 * and KV usage are the engine's own series, which Prometheus scrapes from
 * the engine). */
static const struct {
	const char *name, *type, *help;
	engine_sample_fn sample;
} engine_families[] = {
	{"infermon_pod_info", "gauge", "Engine pods infermon scrapes; join on namespace and pod.",
	 pod_info},
	{"infermon_engine_max_num_seqs", "gauge",
	 "Live max-num-seqs (SGLang: max running requests) and where it was read.", max_num_seqs},
	{"infermon_engine_kv_max_concurrency", "gauge",
	 "Worst-case sequences the KV cache holds (KV-derived concurrency).", kv_concurrency},
	{"infermon_engine_max_model_len", "gauge", "Live maximum model length in tokens.",
	 max_model_len},
	{"infermon_engine_saturation_ratio", "gauge",
	 "Running requests over the live max-num-seqs.", saturation},
	{"infermon_engine_limit_drift_ratio", "gauge",
	 "(max-num-seqs - KV-derived concurrency) / KV-derived concurrency.", drift},
	{"infermon_check_active", "gauge", "1 while a check is true for the pod.", check_active},
	{"infermon_scrape_up", "gauge", "1 when the last scrape of the engine succeeded.",
	 scrape_up},
	{"infermon_scrape_failures_total", "counter", "Failed scrapes.", scrape_failures},
	{"infermon_scrape_samples_skipped", "gauge",
	 "Samples skipped in the last scrape for exceeding a size cap (pods with none are left out).",
	 samples_skipped},
};

/* A page of 5,000 pods: each pod's identifying labels are escaped once,
 * not once per sample. */
static void render_engines(const struct selfmetrics_in *in, struct buf *b)
{
	const char **keys = hmap_sorted_keys(&in->scraper->targets);
	size_t n = 0, cap = in->scraper->targets.count;
	const struct scrape_target **ts = im_xcalloc(cap ? cap : 1, sizeof(*ts));
	size_t *at = im_xcalloc(cap ? cap : 1, sizeof(*at)); /* each one's labels in ids */
	struct buf ids;

	buf_init(&ids, BUF_MAX_LARGE);
	for (size_t i = 0; keys[i]; i++) {
		const struct scrape_target *t = scraper_get(in->scraper, keys[i]);
		const struct target_info *ti = targets_info(t);
		/* a follower (or a leader before the first scrape) has nothing to
		 * say about an engine */
		if (!ti || !scraper_current(in->scraper, t))
			continue;
		at[n] = ids.len;
		ts[n++] = t;
		buf_add(&ids, "namespace=\"", 11);
		expo_label_value(&ids, ti->namespace);
		buf_add(&ids, "\",pod=\"", 7);
		expo_label_value(&ids, ti->pod);
		buf_add(&ids, "\",workload_name=\"", 17);
		expo_label_value(&ids, ti->workload);
		buf_add(&ids, "\"", 2); /* the quote and a NUL */
	}
	for (size_t f = 0; f < sizeof(engine_families) / sizeof(engine_families[0]); f++) {
		expo_family(b, engine_families[f].name, engine_families[f].type,
			    engine_families[f].help);
		for (size_t i = 0; i < n && !ids.overflow; i++)
			engine_families[f].sample(b, engine_families[f].name, ts[i],
						  targets_info(ts[i]), ids.ptr + at[i]);
	}
	if (ids.overflow) /* the page says so rather than lying by omission */
		log_kv(LOG_WARN, "per-engine series left out of /metrics: labels over the cap",
		       NULL);
	buf_release(&ids);
	im_free(at);
	im_free(ts);
	im_free(keys);
}

/* ---- per workload ---- */

void selfmetrics_objectives(struct buf *b, const struct iwspec *const *specs, size_t n)
{
	char threshold[32], target[32];

	expo_family(b, "infermon_slo_objective", "gauge",
		    "An SLO objective of the workload's InferenceWorkload: the share of requests "
		    "that must meet it (spec.slo.objectives[].target / 100).");
	for (size_t i = 0; i < n; i++) {
		const struct iwspec *s = specs[i];
		for (size_t j = 0; j < s->nobjectives; j++) {
			const struct iw_objective *o = &s->objectives[j];
			double ratio = 0;
			/* 99.9 / 100 is 0.9990000000000001; the twelve digits the
			 * budget recordings print make it 0.999 */
			snprintf(target, sizeof(target), "%.12g", o->target / 100);
			(void)strparse_double(target, strlen(target), &ratio);
			render_slo_number(target, sizeof(target), o->target);
			render_slo_number(threshold, sizeof(threshold), o->threshold);
			if (o->sli == SLI_AVAILABILITY) /* no threshold, as in the rules */
				expo_sample(b, "infermon_slo_objective", ratio, "namespace",
					    s->namespace, "workload_name", s->workload, "sli",
					    slo_sli_name(o->sli), "target", target, "window",
					    o->window, NULL);
			else
				expo_sample(b, "infermon_slo_objective", ratio, "namespace",
					    s->namespace, "workload_name", s->workload, "sli",
					    slo_sli_name(o->sli), "threshold", threshold, "target",
					    target, "window", o->window, NULL);
		}
	}
}

struct spec_list {
	const struct iwspec **v;
	size_t n, cap;
};

static void collect_spec(void *ctx, const struct iwspec *s)
{
	struct spec_list *l = ctx;

	if (!s->nobjectives)
		return;
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 16;
		l->v = im_xrealloc(l->v, l->cap * sizeof(*l->v));
	}
	l->v[l->n++] = s;
}

/* The objectives of every workload a CR governs, in namespace/workload
 * order. */
static void render_workloads(const struct selfmetrics_in *in, struct buf *b)
{
	struct spec_list l = {0};

	reconciler_each_cr_spec(in->rec, collect_spec, &l);
	selfmetrics_objectives(b, l.v, l.n);
	im_free(l.v);
}

/* ---- the controller ---- */

/* The reflectors' counters (reflector.h), in this order. */
static const struct {
	const char *name, *help;
} watch_families[] = {
	{"infermon_watch_list_requests_total", "LIST requests (pages), by resource."},
	{"infermon_watch_requests_total", "WATCH requests (resumes included), by resource."},
	{"infermon_watch_relists_total", "Full relists after the first list, by resource."},
	{"infermon_watch_gone_total",
	 "410 Gone answers (resource version compacted), by resource."},
	{"infermon_watch_failures_total", "Failed list/watch requests, by resource."},
	{"infermon_watch_events_total",
	 "Watch events applied (added, modified, deleted), by resource."},
	{"infermon_watch_bookmarks_total",
	 "Watch bookmarks received (each advances the resume version), by resource."},
};
#define WATCH_FAMILIES ((int)(sizeof(watch_families) / sizeof(watch_families[0])))

static uint64_t watch_stat(const struct reflector_stats *s, int family)
{
	switch (family) {
	case 0:
		return s->lists;
	case 1:
		return s->watches;
	case 2:
		return s->relists;
	case 3:
		return s->gone;
	case 4:
		return s->failures;
	case 5:
		return s->events;
	default:
		return s->bookmarks;
	}
}

static void render_self(const struct selfmetrics_in *in, struct buf *b)
{
	const struct reconciler_stats *rs = reconciler_stats(in->rec);
	bool synced = in->pods_synced;

	expo_family(b, "infermon_build_info", "gauge", "Version of the running controller.");
	expo_sample(b, "infermon_build_info", 1, "version", INFERMON_VERSION, "commit",
		    INFERMON_GIT_COMMIT, NULL);
	expo_family(b, "infermon_cache_synced", "gauge",
		    "1 once every pod watch completed its first list.");
	expo_sample(b, "infermon_cache_synced", synced ? 1 : 0, NULL);
	expo_family(b, "infermon_cache_pods", "gauge", "Labelled pods in the cache.");
	expo_sample(b, "infermon_cache_pods", (double)podcache_pod_count(in->pods), NULL);
	expo_family(b, "infermon_cache_workloads", "gauge", "Workloads in the cache.");
	expo_sample(b, "infermon_cache_workloads", (double)podcache_workload_count(in->pods), NULL);
	expo_family(b, "infermon_scrape_targets", "gauge", "Engines being scraped.");
	expo_sample(b, "infermon_scrape_targets", (double)in->scraper->targets.count, NULL);
	expo_family(b, "infermon_scrapes_total", "counter", "Completed scrapes.");
	expo_sample(b, "infermon_scrapes_total", (double)in->targets->scrapes_done, NULL);
	expo_family(
		b, "infermon_scrapes_late_total", "counter",
		"Scrapes started more than a tenth of their interval after they were due (slots or CPU short).");
	expo_sample(b, "infermon_scrapes_late_total", (double)in->scraper->late, NULL);
	expo_family(b, "infermon_scrape_interval_length_seconds", "histogram",
		    "Time between two scrape starts of an engine, by configured interval.");
	for (size_t i = 0; i < in->scraper->nhist; i++) {
		const struct scraper_interval_hist *h = &in->scraper->hist[i];
		char iv[32], le[32];
		strparse_duration_str(iv, sizeof(iv), h->interval_ms);
		for (int k = 0; k < SCRAPER_INTERVAL_BUCKETS; k++) {
			snprintf(le, sizeof(le), "%g",
				 scraper_interval_bucket_factor[k] * (double)h->interval_ms / 1000);
			expo_sample(b, "infermon_scrape_interval_length_seconds_bucket",
				    (double)h->buckets[k], "interval", iv, "le", le, NULL);
		}
		expo_sample(b, "infermon_scrape_interval_length_seconds_bucket", (double)h->count,
			    "interval", iv, "le", "+Inf", NULL);
		expo_sample(b, "infermon_scrape_interval_length_seconds_sum", h->sum_s, "interval",
			    iv, NULL);
		expo_sample(b, "infermon_scrape_interval_length_seconds_count", (double)h->count,
			    "interval", iv, NULL);
	}
	/* one family a counter, one sample a watched kind */
	for (int f = 0; f < WATCH_FAMILIES; f++) {
		expo_family(b, watch_families[f].name, "counter", watch_families[f].help);
		for (size_t i = 0; i < in->nwatches; i++)
			expo_sample(b, watch_families[f].name,
				    (double)watch_stat(&in->watches[i].s, f), "resource",
				    in->watches[i].resource, NULL);
	}
	expo_family(
		b, "infermon_events_total", "counter",
		"Kubernetes Events: Event objects posted, failed or dropped; occurrences folded into a waiting Event.");
	expo_sample(b, "infermon_events_total", (double)in->events->posted, "outcome", "posted",
		    NULL);
	expo_sample(b, "infermon_events_total", (double)in->events->failed, "outcome", "failed",
		    NULL);
	expo_sample(b, "infermon_events_total", (double)in->events->dropped, "outcome", "dropped",
		    NULL);
	expo_sample(b, "infermon_events_total", (double)in->events->folded, "outcome", "folded",
		    NULL);
	expo_family(b, "infermon_event_retries_total", "counter",
		    "Event posts retried after a failure that may pass.");
	expo_sample(b, "infermon_event_retries_total", (double)in->events->retries, NULL);
	expo_family(b, "infermon_workqueue_depth", "gauge", "Keys waiting to be reconciled.");
	expo_sample(b, "infermon_workqueue_depth", (double)reconciler_queue_len(in->rec), NULL);
	expo_family(b, "infermon_reconciles_total", "counter",
		    "Reconciles run, and those that wrote nothing.");
	expo_sample(b, "infermon_reconciles_total", (double)rs->reconciles, "result", "all", NULL);
	expo_sample(b, "infermon_reconciles_total", (double)rs->noops, "result", "noop", NULL);
	expo_family(b, "infermon_reconcile_duration_seconds", "histogram",
		    "Time from taking a key off the queue to the answer of its last write.");
	{
		uint64_t cum = 0;
		char le[32];
		for (int i = 0; i <= RECONCILE_BUCKETS; i++) {
			cum += rs->duration_counts[i];
			if (i < RECONCILE_BUCKETS)
				snprintf(le, sizeof(le), "%g", reconcile_buckets[i]);
			else
				snprintf(le, sizeof(le), "+Inf");
			expo_sample(b, "infermon_reconcile_duration_seconds_bucket", (double)cum,
				    "le", le, NULL);
		}
		expo_sample(b, "infermon_reconcile_duration_seconds_sum", rs->duration_sum, NULL);
		expo_sample(b, "infermon_reconcile_duration_seconds_count", (double)cum, NULL);
	}
	expo_family(b, "infermon_reconcile_writes_total", "counter",
		    "Writes by the reconciler, by kind.");
	expo_sample(b, "infermon_reconcile_writes_total", (double)rs->applies, "kind", "apply",
		    NULL);
	expo_sample(b, "infermon_reconcile_writes_total", (double)rs->deletes, "kind", "delete",
		    NULL);
	expo_sample(b, "infermon_reconcile_writes_total", (double)rs->status_writes, "kind",
		    "status", NULL);
	expo_family(
		b, "infermon_reconcile_applies_unseen_total", "counter",
		"Applies not sent again: the same apply succeeded and the watch has not shown it yet.");
	expo_sample(b, "infermon_reconcile_applies_unseen_total", (double)rs->unseen_skips, NULL);
	expo_family(b, "infermon_reconcile_failures_total", "counter",
		    "Failed writes of the reconciler.");
	expo_sample(b, "infermon_reconcile_failures_total", (double)rs->failures, NULL);
	expo_family(b, "infermon_api_requests_total", "counter",
		    "Requests to the API server, by verb class.");
	expo_sample(b, "infermon_api_requests_total", (double)(in->kc->requests - in->kc->writes),
		    "verb", "read", NULL);
	expo_sample(b, "infermon_api_requests_total", (double)in->kc->writes, "verb", "write",
		    NULL);
	expo_family(b, "infermon_leader", "gauge",
		    "1 while this replica holds the leader Lease and writes.");
	expo_sample(b, "infermon_leader", in->leading ? 1 : 0, "identity", in->identity, NULL);
	if (in->le) {
		struct leader_stats ls;

		leader_stats(in->le, &ls);
		expo_family(b, "infermon_leader_lease_transitions", "gauge",
			    "leaseTransitions of the Lease as last read.");
		expo_sample(b, "infermon_leader_lease_transitions", (double)ls.transitions, NULL);
		expo_family(b, "infermon_leader_changes_total", "counter",
			    "Times this replica started or stopped leading.");
		expo_sample(b, "infermon_leader_changes_total", (double)ls.acquired, "change",
			    "acquired", NULL);
		expo_sample(b, "infermon_leader_changes_total", (double)ls.lost, "change", "lost",
			    NULL);
		expo_family(
			b, "infermon_leader_lease_requests_total", "counter",
			"Requests for the Lease (not in infermon_api_requests_total), and those that failed.");
		expo_sample(b, "infermon_leader_lease_requests_total", (double)ls.requests,
			    "result", "all", NULL);
		expo_sample(b, "infermon_leader_lease_requests_total", (double)ls.failures,
			    "result", "failed", NULL);
	}
	if (in->auth) {
		struct metricsauth_stats as;

		metricsauth_stats(in->auth, &as);
		expo_family(b, "infermon_metrics_auth_requests_total", "counter",
			    "Requests for /metrics by the verdict on their bearer token.");
		for (int v = 0; v < METRICSAUTH_PENDING; v++)
			expo_sample(b, "infermon_metrics_auth_requests_total",
				    (double)as.requests[v], "result",
				    metricsauth_verdict_name((enum metricsauth_verdict)v), NULL);
		expo_family(b, "infermon_metrics_auth_cache_hits_total", "counter",
			    "Of those, answered from a kept verdict, without a review.");
		expo_sample(b, "infermon_metrics_auth_cache_hits_total", (double)as.cache_hits,
			    NULL);
		expo_family(b, "infermon_metrics_auth_reviews_total", "counter",
			    "Review calls to the API server for /metrics clients (not in "
			    "infermon_api_requests_total), by kind.");
		expo_sample(b, "infermon_metrics_auth_reviews_total", (double)as.token_reviews,
			    "kind", "TokenReview", NULL);
		expo_sample(b, "infermon_metrics_auth_reviews_total", (double)as.access_reviews,
			    "kind", "SubjectAccessReview", NULL);
	}
	expo_family(b, "infermon_process_resident_memory_bytes", "gauge",
		    "Resident memory of the controller.");
	expo_sample(b, "infermon_process_resident_memory_bytes", (double)rss_bytes(), NULL);
}

void selfmetrics_render(const struct selfmetrics_in *in, struct buf *b)
{
	render_self(in, b);
	render_engines(in, b);
	if (in->leading)
		render_workloads(in, b);
}
