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
 * Loop thread only.
 */
#ifndef INFERMON_RECONCILE_H
#define INFERMON_RECONCILE_H

#include <stdbool.h>
#include <stdint.h>

#include "checks.h"
#include "events.h"
#include "iwspec.h"
#include "kubeclient.h"
#include "objcache.h"
#include "podcache.h"
#include "render.h"
#include "workqueue.h"

#define RECONCILE_SECRET_KEY "@scrape-secret"
#define RECONCILE_DASHBOARD_KEY "@dashboard"

/* What the scraper knows about one pod, for the CR's status. */
struct pod_runtime {
	bool known;
	struct resolved_limits limits;
	double engines; /* engines (vLLM DP) or DP ranks (SGLang) sharing the limit; >= 1 */
	bool up;        /* the last scrape succeeded */
	double running, waiting, kv_usage;
	char models[ENGINE_MAX_MODELS][ENGINE_MODEL_LEN];
	int nmodels;
	bool active[CHECK_COUNT];
	char message[CHECK_COUNT][320];
};
typedef void (*reconcile_runtime_cb)(void *ctx, const char *ns, const char *pod,
				     struct pod_runtime *out);

enum owned_kind {
	OWNED_SERVICE,
	OWNED_SERVICEMONITOR,
	OWNED_PODMONITOR,
	OWNED_SCRAPECONFIG,
	OWNED_SECRET,
	OWNED_PROMETHEUSRULE,
	OWNED_CONFIGMAP,
	OWNED_GRAFANADASHBOARD,
	OWNED_COUNT
};

struct reconciler {
	struct kubeclient *kc;
	struct podcache *pods;
	struct objcache crs;
	struct objcache owned[OWNED_COUNT];
	struct objcache proms;      /* monitoring.coreos.com/v1 Prometheus, cluster-wide */
	struct objcache namespaces; /* Namespaces, for the Prometheus namespace selectors */
	bool proms_known;           /* the Prometheus objects have been listed */
	struct hmap cr_workload;    /* CR namespace/name -> workload it selected (char*) */
	struct workqueue q;
	struct render_config rc;
	struct iw_defaults defaults;
	struct hmap gone_since; /* workload key -> ms when its last pod left */
	uint64_t grace_ms;
	uint64_t status_refresh_ms; /* 30 s */
	int inflight;               /* reconciles running */
	int max_inflight;
	bool writes_enabled; /* false: compute and log only (follower) */
	bool stopped;        /* shutting down, or not leading: start no reconcile */
	reconcile_runtime_cb runtime;
	void *runtime_ctx;
	struct events *events; /* Events about CRs, or NULL */
	uint64_t applies, deletes, status_writes, failures, reconciles, noops;
	/* reconcile durations (from dequeue to the last write answered) */
#define RECONCILE_BUCKETS 11
	uint64_t duration_counts[RECONCILE_BUCKETS + 1]; /* per bucket; last is +Inf */
	double duration_sum;
	uint64_t (*now_ms)(void *ctx);
	void *now_ctx;
};

void reconciler_init(struct reconciler *r, struct kubeclient *kc, struct podcache *pods,
		     const struct iw_defaults *d, const struct render_config *rc);
void reconciler_release(struct reconciler *r);
/* Starts up to max_inflight reconciles from the queue; call it from the
 * loop's prepare hook and after each reconcile. */
void reconciler_pump(struct reconciler *r);
/* Enqueues the keys a change touches. */
void reconciler_workload_changed(struct reconciler *r, const char *ns, const char *workload);
/* moved_from (may be NULL) gets the workload the CR selected before, when
 * its spec.workloadName changed (im_free it), else NULL. */
void reconciler_cr_changed(struct reconciler *r, const cJSON *cr, bool deleted, char **moved_from);
void reconciler_owned_changed(struct reconciler *r, const cJSON *obj, bool deleted);
/* A Prometheus or Namespace changed (or the Prometheus objects were listed):
 * every CR's MonitorSelected condition may change. */
void reconciler_selection_changed(struct reconciler *r);
/* The load numbers in a workload's status (running, saturation, per-pod
 * numbers) changed: refresh the status within status_refresh_ms, at most
 * once per that period however often it is called. */
void reconciler_load_changed(struct reconciler *r, const char *ns, const char *workload);

/* The spec observing ns/workload (desired_spec): its governing
 * InferenceWorkload's when valid, else the controller defaults with backend b. Release s
 * with iwspec_release. Used by the scraper wiring, so that a CR's metrics
 * port, path, scheme, interval, timeout and drift tolerance apply to the
 * built-in scraper as to the generated monitors. */
void reconciler_spec(struct reconciler *r, const char *ns, const char *workload, enum backend b,
		     struct iwspec *s);

/* Upper bounds (seconds) of the duration histogram's buckets. */
extern const double reconcile_buckets[RECONCILE_BUCKETS];

/* The resource (plural) and API prefix of a generated kind. */
const char *owned_resource(enum owned_kind k);
const char *owned_api(enum owned_kind k);
/* The one namespace a controller-wide kind lives in (the scrape Secret's,
 * the dashboard's), or NULL for the kinds generated per workload. */
const char *owned_namespace(const struct render_config *rc, enum owned_kind k);
/* Whether the controller generates (and so watches) kind k at all with rc:
 * no ConfigMap without the dashboard, no GrafanaDashboard without
 * rc->grafana_operator. */
bool owned_enabled(const struct render_config *rc, enum owned_kind k);

#endif
