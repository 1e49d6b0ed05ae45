/*
 * prune.h - which generated objects of a workload are no longer desired.
 *
 * Generated objects carry the label LABEL_IW_WORKLOAD naming their
 * workload; the owned-object caches hold them as they are live. A
 * reconcile deletes those of its workload that the desired state does not
 * name (a PodMonitor after a switch to ServiceMonitor), skipping objects
 * already being deleted; the shared scrape Secret is never pruned this way
 * (desired.h rebuilds it from every workload). Pure; loop thread (the
 * caches').
 */
#ifndef INFERMON_PRUNE_H
#define INFERMON_PRUNE_H

#include <cjson/cJSON.h>

#include "hmap.h"
#include "kube.h"
#include "objcache.h"

/* Adds obj (a desired object) to keep, the set prune_each spares. */
void prune_keep(struct hmap *keep, const cJSON *obj);

typedef void (*prune_cb)(void *ctx, enum owned_kind k, const cJSON *live);

/* Calls fn for each live generated object of ns/workload in
 * owned[0..OWNED_COUNT) that keep (NULL: none) does not hold. The caches
 * must be grouped by LABEL_IW_WORKLOAD (objcache_group_by): a workload's
 * objects are its group. */
void prune_each(const struct objcache *owned, const char *ns, const char *workload,
		const struct hmap *keep, prune_cb fn, void *ctx);

enum prune_owners {
	PRUNE_OWNS_NOTHING, /* no generated object */
	PRUNE_OWNS_ORPHANS, /* objects of pod labels alone, or of a deleted CR */
	PRUNE_OWNS_LIVE_CR, /* objects of a CR that exists (and selects another workload) */
};

/* What generated objects ns/workload has; crs: the InferenceWorkloads, to
 * tell an ownerReference to a live CR from one to a deleted CR. */
enum prune_owners prune_owners(const struct objcache *owned, const struct objcache *crs,
			       const char *ns, const char *workload);

#endif
