/*
 * selfmetrics.h - the controller's own /metrics page: build info, caches,
 * watches, scrapes, Events, the work queue and reconciles, API requests,
 * leadership, memory; per engine (pod) its live limits, saturation,
 * drift, checks and scrape health, which the dashboard joins on; and per
 * workload its SLO objectives (infermon_slo_objective), which the
 * dashboard draws next to the recordings of render_slo.h.
 *
 * The per-engine families are one table: each row names a family and the
 * function that writes its samples for one engine. Loop thread only (it
 * reads the modules it is given, which live there).
 */
#ifndef INFERMON_SELFMETRICS_H
#define INFERMON_SELFMETRICS_H

#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "events.h"
#include "informers.h"
#include "kubeclient.h"
#include "leader.h"
#include "metricsauth.h"
#include "podcache.h"
#include "reconcile.h"
#include "reflector.h"
#include "scraper.h"
#include "targets.h"

/* What the page reads; all borrowed. */
struct selfmetrics_in {
	struct informers_resource_stats watches[INFORMERS_RESOURCES]; /* by kind */
	size_t nwatches;
	bool pods_synced; /* every pod reflector listed once */
	const struct podcache *pods;
	struct scraper *scraper;
	const struct targets *targets;
	const struct events *events;
	struct reconciler *rec; /* its spec index fills as the objectives are read */
	const struct kubeclient *kc;
	const struct leader *le; /* NULL without leader election */
	bool leading;
	const char *identity;
	struct metricsauth *auth; /* NULL with --metrics-secure=false */
};

/* Appends the whole page to b (its cap decides whether it fits). Engines
 * appear once scraped, which only the leader does; the workloads'
 * objectives only while leading too, although every replica knows the
 * CRs: one replica speaking for a workload keeps a join on its series
 * one-to-one. */
void selfmetrics_render(const struct selfmetrics_in *in, struct buf *b);

/* Appends the family infermon_slo_objective: one sample per objective of
 * each spec in specs[0..n), labelled namespace, workload_name, sli,
 * threshold (latency SLIs only), target and window as the recordings of
 * render_slo.h are, valued the target as a ratio (99.9 -> 0.999). */
void selfmetrics_objectives(struct buf *b, const struct iwspec *const *specs, size_t n);

#endif
