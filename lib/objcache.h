/*
 * objcache.h - a reflector store of whole objects (cJSON copies) keyed by
 * namespace/name (without metadata.managedFields, which nothing reads and
 * which are as large as a generated object), for the resources the
 * controller reads as they are:
 * InferenceWorkloads and the objects it generates.
 *
 * Each object is kept frozen (objcache_freeze): its tree in one block,
 * read-only, large arrays shared between objects. A cJSON tree of its own
 * was three allocations a field (node, key, value), and at 500 workloads
 * the cached Services and ServiceMonitors were a quarter of the
 * controller's heap; most of a ServiceMonitor is its endpoints, the same
 * in every one.
 *
 * Every change runs the callback with the new object (or the old one and
 * deleted=true) after the cache holds the new state. Loop thread only.
 */
#ifndef INFERMON_OBJCACHE_H
#define INFERMON_OBJCACHE_H

#include <cjson/cJSON.h>
#include <stdbool.h>

#include "buf.h"
#include "hmap.h"

typedef void (*objcache_cb)(void *ctx, const cJSON *obj, bool deleted);

struct objcache {
	struct hmap objs;        /* namespace/name -> cJSON* (owned, objcache_freeze) */
	struct hmap shared;      /* an array's text -> the frozen copy its holders share */
	const char *group_label; /* objcache_group_by's label, or NULL */
	struct hmap groups;      /* namespace/value -> struct objcache_group* */
	objcache_cb cb;
	void *ctx;
};

struct reflector_store;

/* A read-only copy of o (without metadata.managedFields) in one block:
 * its nodes, then their strings; an array of 16 nodes or more below the
 * root is shared with c's other objects that hold the same array (c NULL:
 * nothing is shared). cJSON's readers (cJSON_GetObjectItem,
 * cJSON_Compare, cJSON_Print, cJSON_Duplicate...) work on it; nothing may
 * change it, and it is freed with objcache_free and the same c, never
 * cJSON_Delete. */
cJSON *objcache_freeze(struct objcache *c, const cJSON *o);
void objcache_free(struct objcache *c, cJSON *frozen);

void objcache_init(struct objcache *c, objcache_cb cb, void *ctx);
/* Groups the objects by the value of label (a string that outlives c),
 * per namespace, for objcache_group. Call it before the first object
 * arrives. The generated objects are grouped by their workload label, so
 * that a workload's reconcile looks at its own objects, not at every
 * workload's (it did, once per reconcile: 2,000 reconciles over 4,000
 * objects at 20,000 pods). */
void objcache_group_by(struct objcache *c, const char *label);
/* The objects of namespace ns whose group label is value: *n of them, in
 * no order, valid until the cache next changes; NULL with *n 0 when none
 * (or c is not grouped). */
const cJSON *const *objcache_group(const struct objcache *c, const char *ns, const char *value,
				   size_t *n);
void objcache_release(struct objcache *c);
void objcache_store(struct objcache *c, struct reflector_store *out);
const cJSON *objcache_get(const struct objcache *c, const char *ns, const char *name);

/* Helpers for any object. */
const char *obj_str(const cJSON *o, const char *a, const char *b);
const char *obj_label(const cJSON *o, const char *key);

/* The one spelling of an object's key in every cache, map and queue:
 * "<namespace>/<name>", a NULL namespace (cluster-scoped) or name written as
 * "". Empties b first; returns buf_str(b). */
const char *obj_key(struct buf *b, const char *ns, const char *name);

#endif
