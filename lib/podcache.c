#include "podcache.h"

#include <string.h>

#include "alloc.h"
#include "log.h"
#include "objcache.h"
#include "reflector.h"

#define EXISTED ((void *)1)
#define NEW ((void *)2)

const char *workload_event_name(enum workload_event ev)
{
	switch (ev) {
	case WORKLOAD_ADDED:
		return "added";
	case WORKLOAD_CHANGED:
		return "changed";
	default:
		return "removed";
	}
}

void podcache_init(struct podcache *c, podcache_event_cb cb, void *ctx)
{
	hmap_init(&c->pods);
	hmap_init(&c->workloads);
	hmap_init(&c->dirty);
	c->cb = cb;
	c->ctx = ctx;
}

static void workload_free(struct workload *w)
{
	hmap_release(&w->pods);
	im_free(w->key);
	im_free(w->namespace);
	im_free(w->name);
	im_free(w);
}

void podcache_release(struct podcache *c)
{
	struct hmap_entry *e;

	for (e = hmap_first(&c->pods); e; e = hmap_next(&c->pods, e))
		pod_free(e->value);
	for (e = hmap_first(&c->workloads); e; e = hmap_next(&c->workloads, e))
		workload_free(e->value);
	hmap_release(&c->pods);
	hmap_release(&c->workloads);
	hmap_release(&c->dirty);
}

static void mark(struct podcache *c, const char *wkey)
{
	if (!hmap_get(&c->dirty, wkey))
		hmap_put(&c->dirty, wkey, hmap_get(&c->workloads, wkey) ? EXISTED : NEW);
}

/* The workload p belongs to (NULL when it has no pods yet), marked dirty,
 * with its key in wk (initialised here; the caller releases it). */
static struct workload *workload_of(struct podcache *c, const struct pod *p, struct buf *wk)
{
	buf_init(wk, BUF_MAX_SMALL);
	obj_key(wk, p->namespace, pod_workload(p));
	mark(c, wk->ptr);
	return hmap_get(&c->workloads, wk->ptr);
}

/* Removes pod (already out of c->pods) from its workload. */
static void unlink_pod(struct podcache *c, const struct pod *p, const char *pkey)
{
	struct buf wk;
	struct workload *w = workload_of(c, p, &wk);

	if (w) {
		hmap_del(&w->pods, pkey);
		if (w->pods.count == 0) {
			hmap_del(&c->workloads, wk.ptr);
			workload_free(w);
		}
	}
	buf_release(&wk);
}

static void link_pod(struct podcache *c, const struct pod *p, const char *pkey)
{
	struct buf wk;
	struct workload *w = workload_of(c, p, &wk);

	if (!w) {
		w = im_xcalloc(1, sizeof(*w));
		w->key = im_xstrdup(wk.ptr);
		w->namespace = im_xstrdup(p->namespace);
		w->name = im_xstrdup(pod_workload(p));
		hmap_init(&w->pods);
		hmap_put(&c->workloads, w->key, w);
	}
	hmap_put(&w->pods, pkey, (void *)p);
	buf_release(&wk);
}

static void flush(struct podcache *c)
{
	const char **keys;
	struct workload gone = {0};

	if (!c->dirty.count)
		return;
	keys = hmap_sorted_keys(&c->dirty);
	for (size_t i = 0; keys[i]; i++) {
		void *before = hmap_get(&c->dirty, keys[i]);
		struct workload *w = hmap_get(&c->workloads, keys[i]);

		if (w && before == NEW) {
			if (c->cb)
				c->cb(c->ctx, WORKLOAD_ADDED, w);
		} else if (w) {
			if (c->cb)
				c->cb(c->ctx, WORKLOAD_CHANGED, w);
		} else if (before == EXISTED) {
			/* The workload is gone; describe it by its key. */
			const char *slash = strchr(keys[i], '/');
			gone.key = (char *)keys[i];
			gone.namespace = im_xstrndup(keys[i], (size_t)(slash - keys[i]));
			gone.name = (char *)slash + 1;
			hmap_init(&gone.pods);
			if (c->cb)
				c->cb(c->ctx, WORKLOAD_REMOVED, &gone);
			im_free(gone.namespace);
		}
	}
	im_free(keys);
	hmap_release(&c->dirty);
}

static void delete_key(struct podcache *c, const char *pkey)
{
	struct pod *old = hmap_get(&c->pods, pkey);

	if (!old)
		return;
	unlink_pod(c, old, pkey);
	hmap_del(&c->pods, pkey);
	pod_free(old);
}

/* Upsert without flushing; takes ownership of p. */
static void upsert(struct podcache *c, struct pod *p)
{
	struct buf pk;
	struct pod *old;

	buf_init(&pk, BUF_MAX_SMALL);
	pod_key(p, &pk);
	if (!pod_workload(p) || !pod_backend(p)) {
		delete_key(c, pk.ptr);
		pod_free(p);
		buf_release(&pk);
		return;
	}
	old = hmap_get(&c->pods, pk.ptr);
	if (old && !pod_differs(old, p) && strcmp(pod_workload(old), pod_workload(p)) == 0) {
		/* Nothing infermon acts on changed: no event; the new copy (its
		 * resourceVersion) takes the old one's place (a pod is one
		 * block: pod.h) */
		struct buf wk;
		struct workload *w;

		buf_init(&wk, BUF_MAX_SMALL);
		w = hmap_get(&c->workloads, obj_key(&wk, old->namespace, pod_workload(old)));
		if (w)
			hmap_put(&w->pods, pk.ptr, p);
		hmap_put(&c->pods, pk.ptr, p);
		pod_free(old);
		buf_release(&wk);
		buf_release(&pk);
		return;
	}
	if (old)
		delete_key(c, pk.ptr);
	hmap_put(&c->pods, pk.ptr, p);
	link_pod(c, p, pk.ptr);
	buf_release(&pk);
}

void podcache_upsert(struct podcache *c, struct pod *p)
{
	upsert(c, p);
	flush(c);
}

void podcache_delete(struct podcache *c, const char *ns, const char *name)
{
	struct buf pk;

	buf_init(&pk, BUF_MAX_SMALL);
	obj_key(&pk, ns, name);
	delete_key(c, pk.ptr);
	buf_release(&pk);
	flush(c);
}

void podcache_replace(struct podcache *c, const char *scope_ns, struct pod **pods, size_t n)
{
	struct hmap keep;
	struct buf pk;
	const char **keys;

	hmap_init(&keep);
	buf_init(&pk, BUF_MAX_SMALL);
	for (size_t i = 0; i < n; i++) {
		pod_key(pods[i], &pk);
		hmap_put(&keep, pk.ptr, (void *)1);
	}
	keys = hmap_sorted_keys(&c->pods);
	for (size_t i = 0; keys[i]; i++) {
		const struct pod *p = hmap_get(&c->pods, keys[i]);
		char *k;
		if (scope_ns && strcmp(p->namespace, scope_ns) != 0)
			continue;
		if (hmap_get(&keep, keys[i]))
			continue;
		k = im_xstrdup(keys[i]); /* keys[i] dies with the entry */
		delete_key(c, k);
		im_free(k);
	}
	im_free(keys);
	for (size_t i = 0; i < n; i++)
		upsert(c, pods[i]);
	hmap_release(&keep);
	buf_release(&pk);
	flush(c);
}

const struct pod *podcache_get(const struct podcache *c, const char *ns, const char *name)
{
	struct buf pk;
	const struct pod *p;

	buf_init(&pk, BUF_MAX_SMALL);
	obj_key(&pk, ns, name);
	p = hmap_get(&c->pods, pk.ptr);
	buf_release(&pk);
	return p;
}

const struct workload *podcache_workload(const struct podcache *c, const char *key)
{
	return hmap_get(&c->workloads, key);
}

size_t podcache_pod_count(const struct podcache *c)
{
	return c->pods.count;
}

size_t podcache_workload_count(const struct podcache *c)
{
	return c->workloads.count;
}

/* ---- the reflector store ---- */

static struct pod *decode_or_warn(const cJSON *obj)
{
	struct pod *p = NULL;
	struct buf err;

	buf_init(&err, 4096);
	if (pod_decode(obj, &p, &err)) {
		log_kv(LOG_WARN, "skipping pod that cannot be decoded", "error", buf_str(&err),
		       NULL);
		p = NULL;
	}
	buf_release(&err);
	return p;
}

static void *store_decode(void *ctx, const cJSON *obj)
{
	(void)ctx;
	return decode_or_warn(obj);
}

static void store_discard(void *ctx, void *item)
{
	(void)ctx;
	pod_free(item);
}

static size_t store_replace(void *ctx, const char *ns, void *const *items, size_t n)
{
	podcache_replace(ctx, ns, (struct pod **)items, n);
	return 0;
}

static size_t store_upsert(void *ctx, const cJSON *obj)
{
	struct pod *p = decode_or_warn(obj);

	if (!p)
		return 1;
	podcache_upsert(ctx, p);
	return 0;
}

static size_t store_remove(void *ctx, const cJSON *obj)
{
	const cJSON *md = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
	const char *ns = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(md, "namespace"));
	const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(md, "name"));

	if (!ns || !name)
		return 1;
	podcache_delete(ctx, ns, name);
	return 0;
}

static size_t store_count(void *ctx)
{
	return podcache_pod_count(ctx);
}

void podcache_store(struct podcache *c, struct reflector_store *out)
{
	out->ctx = c;
	out->decode = store_decode;
	out->discard = store_discard;
	out->replace = store_replace;
	out->upsert = store_upsert;
	out->remove = store_remove;
	out->count = store_count;
}
