/*
 * targets.h - the controller's scrape-target bookkeeping: which labelled
 * pods the built-in scraper scrapes (ready leader pods of a known backend,
 * at the endpoint their workload's spec names: reconciler_spec), what each
 * target's checks last reported, and the Events about them.
 *
 * Events (events.k8s.io/v1) go to the pod they concern and are per
 * workload and check, not per pod: Warning (Normal for MetricsMissing)
 * when the first pod of the workload shows a check, <check>Resolved when
 * none does any more; never one per scrape.
 *
 * A new leader's takeover round waits until every target has been scraped
 * once (targets_start_round); round_done runs when the last one answers.
 *
 * Loop thread only.
 */
#ifndef INFERMON_TARGETS_H
#define INFERMON_TARGETS_H

#include <stdbool.h>
#include <stddef.h>

#include "checks.h"
#include "crstatus.h"
#include "events.h"
#include "hmap.h"
#include "podcache.h"
#include "reconcile.h"
#include "scraper.h"

/* What the controller keeps beside a scrape target (scrape_target.data);
 * read-only outside targets.c. */
struct target_info {
	char *namespace, *pod, *uid, *workload, *backend, *role;
	bool seen;    /* checks evaluated at least once */
	double limit; /* last max-num-seqs seen, for status */
	enum limit_source limit_source;
	bool active[CHECK_COUNT]; /* last reported state */
	bool awaited;             /* the takeover round waits for its scrape */
	double load[5];           /* up, running, waiting, kv usage, models: last in status */
	const struct histbounds *bounds; /* last histogram bounds seen (interned) */
	/* the other targets of its workload (struct targets' by_workload) */
	struct target_info *wl_prev, *wl_next;
};

typedef void (*targets_round_cb)(void *ctx);

struct targets {
	struct scraper *scraper; /* borrowed */
	struct reconciler *rec;  /* told what changed; gives the specs (borrowed) */
	struct events *events;   /* Events about pods, or NULL (not leading, or off) */
	double drift_tolerance;  /* for workloads without a CR */
	/* "namespace/workload/check": how many of the workload's pods have
	 * the check true */
	struct hmap reported;
	/* "namespace/workload" -> the first target_info of its targets, linked
	 * through wl_next: a workload's sync finds the targets whose pod left
	 * it without looking at the other workloads' (it sorted every
	 * target's key, 2,000 times over 20,000 targets at start-up) */
	struct hmap by_workload;
	size_t round_left; /* targets the takeover round still waits for */
	targets_round_cb round_done;
	void *round_ctx;
	uint64_t scrapes_done;
};

/* Cannot fail. round_done (may be NULL) runs when the round's last target
 * has been scraped (or dropped). */
void targets_init(struct targets *t, struct scraper *s, struct reconciler *rec,
		  double drift_tolerance, targets_round_cb round_done, void *ctx);
/* Frees every target's info; before scraper_release. */
void targets_release(struct targets *t);
void targets_set_events(struct targets *t, struct events *events);

/* The scraper's done callback (scraper_done_cb; ctx: the targets). */
void targets_scraped(void *ctx, struct scrape_target *st);
/* Brings w's targets in line with its pods and spec: adds, updates and
 * removes them. */
void targets_sync_workload(struct targets *t, const struct workload *w);
/* What the scraper knows about pod ns/pod (crstatus_runtime_cb; ctx: the
 * targets). */
void targets_runtime(void *ctx, const char *ns, const char *pod, struct pod_runtime *out);

/* A replica that starts leading has posted nothing: every check is
 * reported again as its target's next scrape completes. */
void targets_forget_reported(struct targets *t);
/* Marks every target awaited; returns their number (0: no round). */
size_t targets_start_round(struct targets *t);
/* Ends the round without round_done. */
void targets_cancel_round(struct targets *t);

/* st's info, or NULL when it has none. */
const struct target_info *targets_info(const struct scrape_target *st);

#endif
