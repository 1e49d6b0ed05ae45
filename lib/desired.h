/*
 * desired.h - what infermon wants to exist for each workload, computed from
 * a snapshot of its inputs: the one place both the controller
 * (reconcile.h, which server-side applies the result) and `infermon render`
 * (which prints it) decide
 *   - which InferenceWorkload governs a workload, and which conflict;
 *   - the workload's spec (the CR's, or the defaults for pods alone);
 *   - its namespaced objects (render.h: Service, ServiceMonitor or
 *     PodMonitor, ScrapeConfig, PrometheusRule), with ownerReferences to
 *     the CR when its metadata.uid is known, and the labels
 *     spec.monitor.matchPrometheus stamps;
 *   - whether a Prometheus selects its monitor (condition MonitorSelected);
 *   - across workloads: the shared scrape Secret's jobs, and whether any
 *     workload wants the dashboard.
 *
 * The conflict rule: when several InferenceWorkloads in a namespace select
 * one workload (spec.workloadName, else metadata.name), the oldest governs
 * it (metadata.creationTimestamp, then metadata.name, as Gateway API
 * resolves conflicting routes) and every other one is a loser. The
 * controller keeps applying the winner's objects, and reports each loser
 * (condition Ready=False reason Conflict, a Warning Event naming the
 * winner); `render` refuses the input, naming both CRs. CRs being deleted
 * (metadata.deletionTimestamp) select nothing.
 *
 * Pure: no I/O, no clock, no global state; inputs are borrowed, outputs
 * owned by the caller. Any thread, one snapshot per call.
 */
#ifndef INFERMON_DESIRED_H
#define INFERMON_DESIRED_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "iwspec.h"
#include "kube.h"
#include "pod.h"
#include "render.h"

/* What every computation reads; all borrowed. */
struct desired_in {
	const struct render_config *rc;
	const struct iw_defaults *defaults;
	const cJSON *const *crs; /* every InferenceWorkload known, any order */
	size_t ncrs;
	/* Prometheus objects (monitoring.coreos.com/v1) in the order their
	 * labels are stamped (sorted by namespace/name); proms_known false
	 * when they could not be listed (MonitorSelected is then Unknown) */
	const cJSON *const *proms;
	size_t nproms;
	bool proms_known;
};

/* One workload: its namespace, name and labelled pods (any order; the
 * computation reads them sorted by name). */
struct desired_workload {
	const char *namespace, *workload;
	const struct pod *const *pods;
	size_t npods;
};

/* Whether a Prometheus selects the workload's monitor. */
struct desired_verdict {
	const char *status; /* "True", "False", "Unknown"; NULL: no monitor */
	const char *reason; /* Selected, NotSelected, NoPrometheus, PrometheusUnknown,
			       Rejected */
	struct buf message;
};

struct desired {
	const cJSON *cr;      /* the InferenceWorkload governing the workload, or NULL */
	const cJSON **losers; /* other CRs selecting it, oldest first (NULL when none) */
	size_t nlosers;
	bool have_spec;     /* spec holds the workload's spec; objects were rendered */
	struct iwspec spec; /* valid only with have_spec */
	struct buf error;   /* cr's spec is invalid: why (then !have_spec) */
	cJSON *objects;     /* the namespaced objects (a cJSON array, owned) */
	struct desired_verdict selection;
};

/* prometheus-operator's own verdict on the live monitor, when it writes
 * one (status.bindings, with its StatusForConfigurationResources feature
 * gate): a Prometheus whose binding says Accepted=False dropped the
 * monitor although its selectors match (a Secret the monitor names is
 * missing, for one: the controller reads no Secrets, so only the operator
 * can tell). When every binding with an Accepted condition says False, a
 * "True" verdict becomes "False", reason Rejected, naming each Prometheus
 * and its message; when some accept it, the rejections are added to the
 * message. A condition observed for an older generation of the monitor
 * counts for nothing. kind names the monitor's kind (a listed object
 * carries none).
 * live may be NULL or have no status: v is left as it is. */
void desired_judge_bindings(const cJSON *live, const char *kind, struct desired_verdict *v);

/* The workload a CR selects: spec.workloadName, else metadata.name (NULL
 * when neither is set). Its namespace: metadata.namespace, else "default". */
const char *desired_cr_workload(const cJSON *cr);
const char *desired_cr_namespace(const cJSON *cr);

/* Negative when CR a is older than b (creationTimestamp, then name). */
int desired_cr_compare(const cJSON *a, const cJSON *b);

/* The CR governing ns/workload among crs[0..n) (NULL when none selects
 * it). With losers non-NULL, *losers gets a new array (im_free it; NULL
 * when there are none) of the other CRs selecting it, oldest first. */
const cJSON *desired_pick(const cJSON *const *crs, size_t n, const char *ns, const char *workload,
			  const cJSON ***losers, size_t *nlosers);

void desired_init(struct desired *d);
void desired_release(struct desired *d);

/* Computes w's desired state into d (desired_init'ed; release it after).
 * nsobj: w's Namespace object when known, for the Prometheus namespace
 * selectors (NULL: its labels are only kubernetes.io/metadata.name). A
 * workload with no CR and no pods wants nothing (have_spec false). */
void desired_compute(const struct desired_in *in, const struct desired_workload *w,
		     const cJSON *nsobj, struct desired *d);

/* The spec observing ns/workload: its governing CR's when valid (with the
 * backend b filled in when the CR names none), else the defaults with
 * backend b. Release s with iwspec_release. For the built-in scraper. */
void desired_spec(const struct desired_in *in, const char *ns, const char *workload, enum backend b,
		  struct iwspec *s);

/* The objects shared by every workload are computed from the spec of each:
 * its governing CR's (a workload whose CR is invalid counts for nothing),
 * else, for the workloads of pods alone in wls, the defaults. */

/* The shared scrape Secret (caller owns it), with every workload's job;
 * *njobs gets their number (0 when no workload wants one: the Secret is
 * still built, for the controller to empty a live one). NULL on an
 * internal error (message in err). */
cJSON *desired_scrape_secret(const struct desired_in *in, const struct desired_workload *wls,
			     size_t nwls, size_t *njobs, struct buf *err);

/* Whether the dashboard is wanted: rc->dashboard, and at least one
 * workload's spec.dashboard.enabled (on by default). */
bool desired_dashboard(const struct desired_in *in, const struct desired_workload *wls,
		       size_t nwls);

/* The one namespace a controller-wide kind lives in (the scrape Secret's,
 * the dashboard's), or NULL for the kinds generated per workload. */
const char *desired_kind_namespace(const struct render_config *rc, enum owned_kind k);
/* Whether kind k is generated (and so watched) at all with rc: no
 * ConfigMap without the dashboard, no GrafanaDashboard without
 * rc->grafana_operator. */
bool desired_kind_enabled(const struct render_config *rc, enum owned_kind k);

#endif
