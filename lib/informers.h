/*
 * informers.h - the controller's watches (client-go's informers): a
 * reflector per watched namespace (or one for all) for labelled pods into
 * the podcache, InferenceWorkloads and every generated kind into the
 * reconciler's caches; cluster-wide ones for Prometheus objects and
 * Namespaces. Generated objects are watched by the label
 * LABEL_MANAGED_BY=MANAGER_NAME; a controller-wide kind (the scrape
 * Secret, by name; the dashboard) once, in its own namespace; a kind not
 * generated (desired_kind_enabled), not at all.
 *
 * Loop thread only.
 */
#ifndef INFERMON_INFORMERS_H
#define INFERMON_INFORMERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kube.h"
#include "kubeclient.h"
#include "podcache.h"
#include "reconcile.h"
#include "reflector.h"
#include "render.h"

#define INFORMERS_MAX_NAMESPACES 64

/* The kinds watched: pods, InferenceWorkloads, each generated kind,
 * Prometheus objects, Namespaces. */
#define INFORMERS_RESOURCES (OWNED_COUNT + 4)

/* One watched kind's counters, summed over its namespaces. */
struct informers_resource_stats {
	char resource[128]; /* as kubectl names it: "pods", "inferenceworkloads.infermon.io" */
	struct reflector_stats s;
};

struct informers {
	struct reflector pods[INFORMERS_MAX_NAMESPACES];
	struct reflector crs[INFORMERS_MAX_NAMESPACES];
	struct reflector owned[OWNED_COUNT][INFORMERS_MAX_NAMESPACES];
	struct reflector proms, namespaces;
	size_t n;                 /* watched namespaces (1 for all) */
	struct render_config rc;  /* which kinds are generated, and where */
	unsigned watch_timeout_s; /* each watch asks for timeoutSeconds in [t, 2t] */
	uint64_t started_ms;
};

/* Starts every watch on kc: pods into pods, the rest into caches (whose
 * objcaches the caller has initialised, with their callbacks). ns: the
 * namespaces (NULL/0: all; the first INFORMERS_MAX_NAMESPACES). rc is
 * copied, its strings borrowed. Every watch asks the server to end it after
 * a random timeoutSeconds in [watch_timeout_s, 2 * watch_timeout_s] (0: 300,
 * client-go's minimum watch timeout), and resumes from its version. */
void informers_start(struct informers *in, struct kubeclient *kc, struct podcache *pods,
		     struct reconcile_caches *caches, char *const *ns, size_t nns,
		     const struct render_config *rc, unsigned watch_timeout_s, uint64_t now_ms);
/* Every informer has listed once (client-go's WaitForCacheSync), so that
 * the first reconciles see what exists; one that cannot list (its CRD not
 * installed) holds this back 30 s after the start at most. */
bool informers_synced(const struct informers *in, uint64_t now_ms);
/* No InferenceWorkload reflector that has listed is cut off: none is
 * backing off after a failed request, listing again after 410 Gone, or
 * watching again after either for less than a second without an event
 * (a watch from an old version replays what it missed at once; one that
 * cannot connect fails within that second). While one is, the CR cache may
 * hold CRs deleted meanwhile. */
bool informers_crs_current(const struct informers *in, uint64_t now_ms);
/* Every pod reflector has listed once (readiness). */
bool informers_pods_synced(const struct informers *in);
/* The Prometheus objects have been listed once. */
bool informers_prometheus_synced(const struct informers *in);
/* The counters of every watched kind (a generated kind not generated is
 * left out), summed over its namespaces, into out; returns how many. */
size_t informers_stats(const struct informers *in,
		       struct informers_resource_stats out[INFORMERS_RESOURCES]);
/* Cancels every watch; the loop must run once more before release. */
void informers_stop(struct informers *in);
void informers_release(struct informers *in);

#endif
