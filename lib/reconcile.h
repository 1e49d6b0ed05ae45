/*
 * reconcile.h - keeps each workload's generated objects and its
 * InferenceWorkload status equal to what the renderers say (level-triggered).
 *
 * A key is "namespace/workload"; "@scrape-secret" is the shared Secret of
 * scrape jobs; "@dashboard" the dashboard ConfigMap (and GrafanaDashboard),
 * applied while at least one workload wants it (spec.dashboard.enabled; on
 * for workloads of pod labels alone) and deleted when none does, or never
 * written with rc.dashboard off. For a workload key the reconciler
 *   - computes the desired state from a snapshot of the caches (desired.h,
 *     which `infermon render` calls too): the governing InferenceWorkload's
 *     spec, or the controller defaults when only labelled pods exist;
 *   - when several InferenceWorkloads select the workload, follows the
 *     oldest and marks every other one Ready=False reason Conflict, with a
 *     Warning Event naming the one followed (desired.h has the rule);
 *   - server-side applies the desired objects
 *     (application/apply-patch+yaml, field manager "infermon", force) each
 *     one whose live copy does not already hold every desired field: a
 *     no-op reconcile writes nothing;
 *   - deletes generated objects of the workload that are no longer desired
 *     (a PodMonitor after a switch to ServiceMonitor, say);
 *   - gives namespaced objects an ownerReference to the CR, so deleting the
 *     CR garbage-collects them; a workload that exists only through pod
 *     labels is pruned after its last pod has been gone for grace_ms;
 *   - with spec.monitor.matchPrometheus, puts on the monitor the labels the
 *     cluster's Prometheus objects select monitors by (promselect.h), and
 *     judges whether any Prometheus selects it (condition MonitorSelected;
 *     a Warning Event when it turns False);
 *   - compares the live max-num-seqs with spec.limits.maxNumSeqs
 *     (condition LimitMatchesSpec, a Warning Event when it turns False);
 *   - writes the CR's status (field manager "infermon-status") only when it
 *     changed: observedGeneration, pods, limit and its source, drift,
 *     generated objects, conditions with lastTransitionTime kept while
 *     their status holds.
 * A CR whose spec.workloadName changes leaves its old workload: that
 * workload's generated objects (still owned by the CR) are deleted at once.
 * Objects outside the workload namespace (the shared scrape Secret) are
 * rebuilt from every CR and pod on each change, so a deleted CR's job
 * leaves the Secret without a finalizer on the CR.
 * Someone deleting or editing a generated object triggers a reconcile
 * through the owned-object caches, which restores it.
 *
 * The reconciler reads only its caches (struct reconcile_caches, which the
 * owner's informers fill) and writes only through a kubewrite_client, so a
 * test can run it on caches it fills and a client that keeps the writes in
 * memory. Its parts: reconcile.c (keys, the queue, one reconcile's writes
 * and their answers), reconcile_workload.c (what a key's reconcile does),
 * applydiff.h (the no-op rule), crstatus.h (status and conditions),
 * prune.h (what is no longer desired), desired.h (what is).
 *
 * Loop thread only.
 */
#ifndef INFERMON_RECONCILE_H
#define INFERMON_RECONCILE_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "crstatus.h"
#include "events.h"
#include "hmap.h"
#include "iwspec.h"
#include "kube.h"
#include "kubewrite.h"
#include "objcache.h"
#include "podcache.h"
#include "render.h"
#include "workqueue.h"

#define RECONCILE_SECRET_KEY "@scrape-secret"
#define RECONCILE_DASHBOARD_KEY "@dashboard"

/* What the reconciler reads (client-go's listers): the owner's informers
 * fill these caches, the reconciler borrows them. */
struct reconcile_caches {
	struct objcache crs;                /* InferenceWorkloads */
	struct objcache owned[OWNED_COUNT]; /* generated objects, by enum owned_kind */
	struct objcache proms;              /* monitoring.coreos.com/v1 Prometheus, cluster-wide */
	struct objcache namespaces;         /* Namespaces, for the Prometheus namespace selectors */
	bool proms_known;                   /* the Prometheus objects have been listed */
};

struct reconciler_opts {
	struct kubewrite_client client;        /* every write goes here */
	const struct podcache *pods;           /* labelled pods, by workload (borrowed) */
	const struct reconcile_caches *caches; /* borrowed */
	uv_loop_t *loop;                       /* the queue's timers */
	const struct iw_defaults *defaults;    /* copied, its strings borrowed */
	const struct render_config *rc;        /* copied, its strings borrowed */
	uint64_t grace_ms;                     /* pod-only workloads' prune grace; 0: 10 min */
	uint64_t scrape_coalesce_ms;           /* reconciler_scrape_changed; 0: 15 s */
	crstatus_runtime_cb runtime;           /* what the scraper knows; may be NULL */
	void *runtime_ctx;
	uint64_t (*now_ms)(void *ctx); /* monotonic ms; NULL: always 0 */
	void *now_ctx;
};

/* Upper bounds (seconds) of the duration histogram's buckets. */
#define RECONCILE_BUCKETS 11
extern const double reconcile_buckets[RECONCILE_BUCKETS];

#define RECONCILE_UNSEEN_MS 60000

struct reconciler_stats {
	uint64_t applies, deletes, status_writes, failures, reconciles, noops;
	/* applies not sent again because the same one succeeded and the
	 * caches have not shown it yet */
	uint64_t unseen_skips;
	/* reconcile durations (from dequeue to the last write answered) */
	uint64_t duration_counts[RECONCILE_BUCKETS + 1]; /* per bucket; last is +Inf */
	double duration_sum;
};

/* The fields are the reconciler's own: other modules use the functions. */
struct reconciler {
	struct reconciler_opts o;
	struct render_config rc;
	struct iw_defaults defaults;
	struct hmap cr_workload; /* CR namespace/name -> workload it selected (char*) */
	struct hmap specs;       /* "namespace/workload#backend" -> struct iwspec*, parsed */
	/* the spec of every workload no CR selects, per backend: specs holds
	 * these shared ones for them (thousands of pod-only workloads) */
	struct iwspec *default_specs[BACKEND_SGLANG_PD + 1];
	struct workqueue q;
	struct hmap gone_since;  /* workload key -> ms when its last pod left */
	struct hmap scrape_last; /* workload key -> ms of its last prompt scrape reconcile */
	/* "kind/namespace/name" of a generated object applied successfully
	 * whose change the caches have not shown since -> struct unseen (what
	 * was applied, and when) */
	struct hmap unseen;
	uint64_t status_refresh_ms; /* 30 s */
	int inflight;               /* reconciles running */
	int max_inflight;
	bool writes_enabled; /* false: compute and log only (follower) */
	bool stopped;        /* shutting down, or not leading: start no reconcile */
	/* A new leader's first round: generated objects are applied (they do
	 * not depend on the engines), CR status waits until every engine has
	 * been scraped once; the owner then reconciles every key again. */
	bool status_held;
	struct events *events; /* Events about CRs, or NULL */
	struct reconciler_stats stats;
};

/* Cannot fail. Writes are enabled; reconciles start once
 * reconciler_set_leading says so (or at once without a call). */
void reconciler_init(struct reconciler *r, const struct reconciler_opts *o);
/* After reconciler_stop and one more turn of the loop (the queue's timer
 * closes). */
void reconciler_release(struct reconciler *r);
/* Starts up to max_inflight reconciles from the queue; call it from the
 * loop's prepare hook and after each reconcile. */
void reconciler_pump(struct reconciler *r);
/* Leading: reconciles run, writes go out when writes is true (false:
 * compute and count only) and Events about CRs go to events (may be NULL).
 * Not leading: no reconcile starts, not even from one finishing; keys stay
 * queued. */
void reconciler_set_leading(struct reconciler *r, bool leading, bool writes, struct events *events);
/* held: CR status, its Events and conflict reports wait (a new leader's
 * first round); generated objects are still applied. */
void reconciler_hold_status(struct reconciler *r, bool held);
/* Keys are ready to reconcile or reconciles are running: objects may be
 * about to be written. */
bool reconciler_busy(const struct reconciler *r);
/* Shutting down: no reconcile starts and the queue takes no more keys. */
void reconciler_stop(struct reconciler *r);

/* Enqueues the keys a change touches. */
void reconciler_workload_changed(struct reconciler *r, const char *ns, const char *workload);
/* moved_from (may be NULL) gets the workload the CR selected before, when
 * its spec.workloadName changed (im_free it), else NULL. */
void reconciler_cr_changed(struct reconciler *r, const cJSON *cr, bool deleted, char **moved_from);
void reconciler_owned_changed(struct reconciler *r, const cJSON *obj, bool deleted);
/* The caches showed a change of a generated object (part of
 * reconciler_owned_changed, which also enqueues): until then, a reconcile
 * does not apply again what it applied successfully (for at most
 * RECONCILE_UNSEEN_MS), as client-go controllers' expectations keep a
 * ReplicaSet from creating pods twice while the watch catches up. */
void reconciler_owned_seen(struct reconciler *r, const cJSON *obj);
/* A Prometheus or Namespace changed (or the Prometheus objects were listed):
 * every CR's MonitorSelected condition may change. */
void reconciler_selection_changed(struct reconciler *r);
/* A scrape changed what a workload's status says (a pod's first scrape, a
 * check turning, a live limit): its status is refreshed, and nothing else
 * (generated objects and the shared Secret and dashboard do not depend on
 * scrapes). The first change in a scrape_coalesce_ms window is reconciled
 * at once, later ones in the window once at its end: a whole fleet changing
 * together (its network lost) costs each CR at most two status writes per
 * window, not one per pod. */
void reconciler_scrape_changed(struct reconciler *r, const char *ns, const char *workload);
/* The load numbers in a workload's status (running, saturation, per-pod
 * numbers) changed: refresh the status within status_refresh_ms, at most
 * once per that period however often it is called. */
void reconciler_load_changed(struct reconciler *r, const char *ns, const char *workload);
/* Enqueues every key the caches know, so that nothing changed while
 * another replica led (or none did) goes unreconciled. */
void reconciler_resync_all(struct reconciler *r);

/* Keys waiting in the queue. */
size_t reconciler_queue_len(const struct reconciler *r);
const struct reconciler_stats *reconciler_stats(const struct reconciler *r);

/* The spec observing ns/workload (desired_spec): its governing
 * InferenceWorkload's when valid, else the controller defaults with
 * backend b. Used by the scraper wiring, so that a CR's metrics port,
 * path, scheme, interval, timeout and drift tolerance apply to the
 * built-in scraper as to the generated monitors. Parsed once per CR
 * change, not per call: the spec is the reconciler's, valid until the next
 * reconciler_cr_changed (do not keep it). */
const struct iwspec *reconciler_spec(struct reconciler *r, const char *ns, const char *workload,
				     enum backend b);

/* Calls cb once for each workload an InferenceWorkload selects, in
 * namespace/workload order, with its reconciler_spec: the governing CR's
 * spec when valid, else the defaults (which have no SLO objectives). The
 * specs stay valid until the reconciler next runs (they are its cached
 * specs, which a lookup here adds to but never moves): a caller may keep
 * them for the rest of its own turn of the loop, no longer. For the
 * controller's /metrics (infermon_slo_objective). */
typedef void (*reconciler_spec_cb)(void *ctx, const struct iwspec *s);
void reconciler_each_cr_spec(struct reconciler *r, reconciler_spec_cb cb, void *ctx);

#endif
