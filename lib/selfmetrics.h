/*
 * selfmetrics.h - the controller's own /metrics page: build info, caches,
 * watches, scrapes, Events, the work queue and reconciles, API requests,
 * leadership, memory; and per engine (pod) its live limits, saturation,
 * drift, checks and scrape health, which the dashboard joins on.
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
	const struct reconciler *rec;
	const struct kubeclient *kc;
	const struct leader *le; /* NULL without leader election */
	bool leading;
	const char *identity;
	struct metricsauth *auth; /* NULL with --metrics-secure=false */
};

/* Appends the whole page to b (its cap decides whether it fits). */
void selfmetrics_render(const struct selfmetrics_in *in, struct buf *b);

#endif
