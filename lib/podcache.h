/*
 * podcache.h - the informer cache of labelled pods, grouped by workload.
 *
 * Holds every pod that carries both inference labels (non-empty), keyed by
 * namespace/name, and groups them by namespace/workload. Every change is
 * reported once per touched workload, after the change is complete, as
 * WORKLOAD_ADDED (first pod), WORKLOAD_CHANGED (pod set or a kept field
 * changed) or WORKLOAD_REMOVED (last pod gone; the workload is freed after
 * the callback). A workload key is "namespace/workload"; the controller's
 * work queue uses the same key.
 *
 * Single-threaded: owned by the loop thread. The cache owns the pods given
 * to it.
 */
#ifndef INFERMON_PODCACHE_H
#define INFERMON_PODCACHE_H

#include "hmap.h"
#include "pod.h"

enum workload_event { WORKLOAD_ADDED, WORKLOAD_CHANGED, WORKLOAD_REMOVED };

struct workload {
	char *key; /* namespace/workload */
	char *namespace;
	char *name;
	struct hmap pods; /* namespace/name -> struct pod* (borrowed from the cache) */
};

struct podcache;
typedef void (*podcache_event_cb)(void *ctx, enum workload_event ev, const struct workload *w);

struct podcache {
	struct hmap pods;      /* namespace/name -> struct pod* (owned) */
	struct hmap workloads; /* namespace/workload -> struct workload* */
	struct hmap dirty;     /* workload key -> (void*)1 existed before, (void*)2 new */
	podcache_event_cb cb;
	void *ctx;
};

void podcache_init(struct podcache *c, podcache_event_cb cb, void *ctx);
void podcache_release(struct podcache *c);

/* Adds or replaces a pod (takes ownership). A pod without both labels is
 * treated as a delete of that namespace/name. */
void podcache_upsert(struct podcache *c, struct pod *p);
void podcache_delete(struct podcache *c, const char *ns, const char *name);
/* Makes the cache hold exactly these pods within scope (a namespace, or NULL
 * for all): the result of a full LIST. Takes ownership of the array's pods,
 * not the array. */
void podcache_replace(struct podcache *c, const char *scope_ns, struct pod **pods, size_t n);

const struct pod *podcache_get(const struct podcache *c, const char *ns, const char *name);
const struct workload *podcache_workload(const struct podcache *c, const char *key);
size_t podcache_pod_count(const struct podcache *c);
size_t podcache_workload_count(const struct podcache *c);

const char *workload_event_name(enum workload_event ev);

/* Fills out with a reflector store that decodes pods into c; a pod that
 * cannot be decoded is skipped with a warning naming it. */
struct reflector_store;
void podcache_store(struct podcache *c, struct reflector_store *out);

#endif
