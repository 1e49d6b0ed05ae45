#include "prune.h"

#include <string.h>

#include "buf.h"
#include "render_object.h"

/* The one spelling of a kept object's id: "Kind/name". */
static const char *keep_id(struct buf *id, const char *kind, const char *name)
{
	buf_reset(id);
	buf_printf(id, "%s/%s", kind ? kind : "", name ? name : "");
	return buf_str(id);
}

void prune_keep(struct hmap *keep, const cJSON *obj)
{
	struct buf id;

	buf_init(&id, 1024);
	hmap_put(keep, keep_id(&id, obj_str(obj, "kind", NULL), obj_str(obj, "metadata", "name")),
		 (void *)1);
	buf_release(&id);
}

void prune_each(const struct objcache *owned, const char *ns, const char *workload,
		const struct hmap *keep, prune_cb fn, void *ctx)
{
	struct buf id;

	buf_init(&id, 1024);
	for (int k = 0; k < OWNED_COUNT; k++) {
		if (k == OWNED_SECRET)
			continue;
		size_t n;
		const cJSON *const *objs = objcache_group(&owned[k], ns, workload, &n);

		for (size_t i = 0; i < n; i++) {
			const cJSON *o = objs[i];
			if (obj_str(o, "metadata", "deletionTimestamp"))
				continue;
			if (!keep || !hmap_get(keep, keep_id(&id, kube_owned[k].kind,
							     obj_str(o, "metadata", "name"))))
				fn(ctx, (enum owned_kind)k, o);
		}
	}
	buf_release(&id);
}

/* True when o names as its owner an InferenceWorkload that still exists. */
static bool owner_alive(const struct objcache *crs, const char *ns, const cJSON *o)
{
	const cJSON *ref;

	cJSON_ArrayForEach(
		ref, cJSON_GetObjectItemCaseSensitive(
			     cJSON_GetObjectItemCaseSensitive(o, "metadata"), "ownerReferences"))
	{
		const char *kind = obj_str(ref, "kind", NULL), *uid = obj_str(ref, "uid", NULL),
			   *name = obj_str(ref, "name", NULL);
		const char *cuid = obj_str(objcache_get(crs, ns, name ? name : ""), "metadata",
					   "uid");
		if (kind && strcmp(kind, "InferenceWorkload") == 0 && uid && cuid &&
		    strcmp(uid, cuid) == 0)
			return true;
	}
	return false;
}

enum prune_owners prune_owners(const struct objcache *owned, const struct objcache *crs,
			       const char *ns, const char *workload)
{
	enum prune_owners st = PRUNE_OWNS_NOTHING;

	for (int k = 0; k < OWNED_COUNT; k++) {
		size_t n;
		const cJSON *const *objs = objcache_group(&owned[k], ns, workload, &n);

		for (size_t i = 0; i < n; i++) {
			if (owner_alive(crs, ns, objs[i]))
				return PRUNE_OWNS_LIVE_CR;
			st = PRUNE_OWNS_ORPHANS;
		}
	}
	return st;
}
