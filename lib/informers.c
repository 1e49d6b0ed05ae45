#include "informers.h"

#include <stdio.h>
#include <string.h>

#include "desired.h"
#include "pod.h"
#include "render_object.h"

/* Whether the i-th watch of generated kind k runs: a controller-wide kind
 * is watched once, in its own namespace; a kind not generated, not at all. */
static bool owned_watched(const struct informers *in, int k, size_t i)
{
	return desired_kind_enabled(&in->rc, (enum owned_kind)k) &&
	       (i == 0 || !desired_kind_namespace(&in->rc, (enum owned_kind)k));
}

static void start_one(struct informers *in, struct reflector *r, struct kubeclient *kc,
		      const struct reflector_store *s, const struct reflector_opts *o)
{
	struct reflector_opts timed = *o;

	timed.watch_min_s = in->watch_timeout_s;
	timed.watch_max_s = 2 * in->watch_timeout_s;
	reflector_init(r, kc, s, &timed);
	reflector_start(r, NULL, NULL);
}

void informers_start(struct informers *in, struct kubeclient *kc, struct podcache *pods,
		     struct reconcile_caches *caches, char *const *ns, size_t nns,
		     const struct render_config *rc, unsigned watch_timeout_s, uint64_t now_ms)
{
	struct reflector_store store;
	struct buf secret_field;

	memset(in, 0, sizeof(*in));
	in->rc = *rc;
	in->n = nns ? nns : 1;
	if (in->n > INFORMERS_MAX_NAMESPACES)
		in->n = INFORMERS_MAX_NAMESPACES;
	in->started_ms = now_ms;
	in->watch_timeout_s = watch_timeout_s ? watch_timeout_s : 300;
	/* The Secret is watched by name: RBAC then grants its list and watch
	 * with resourceNames, not every Secret of its namespace (deploy/rbac). */
	buf_init(&secret_field, BUF_MAX_SMALL);
	buf_printf(&secret_field, "metadata.name=%s", rc->secret_name);
	for (size_t i = 0; i < in->n; i++) {
		const char *one = nns ? ns[i] : NULL;
		struct reflector_opts po = {.namespace = one, .label_selector = POD_SELECTOR};
		struct reflector_opts co = {.api = KUBE_PATH(KUBE_GV_INFERMON),
					    .resource = "inferenceworkloads",
					    .namespace = one};
		podcache_store(pods, &store);
		start_one(in, &in->pods[i], kc, &store, &po);
		/* CRs and generated objects are watched in the same namespaces
		 * as pods: a controller scoped to some namespaces must not judge
		 * workloads whose pods it cannot see. */
		objcache_store(&caches->crs, &store);
		start_one(in, &in->crs[i], kc, &store, &co);
		for (int k = 0; k < OWNED_COUNT; k++) {
			const char *own_ns = desired_kind_namespace(rc, (enum owned_kind)k);
			struct reflector_opts oo = {
				.api = kube_owned[k].path,
				.resource = kube_owned[k].resource,
				.label_selector = LABEL_MANAGED_BY "=" MANAGER_NAME,
				.field_selector = k == OWNED_SECRET ? buf_str(&secret_field) : NULL,
				.namespace = own_ns ? own_ns : one};
			if (!owned_watched(in, k, i))
				continue; /* one watch of the Secret's (dashboard's) namespace */
			objcache_store(&caches->owned[k], &store);
			start_one(in, &in->owned[k][i], kc, &store, &oo);
		}
	}
	buf_release(&secret_field);
	{
		struct reflector_opts po = {.api = KUBE_PATH(KUBE_GV_MONITORING),
					    .resource = "prometheuses"};
		struct reflector_opts no = {.api = KUBE_PATH_CORE, .resource = "namespaces"};
		objcache_store(&caches->proms, &store);
		start_one(in, &in->proms, kc, &store, &po);
		objcache_store(&caches->namespaces, &store);
		start_one(in, &in->namespaces, kc, &store, &no);
	}
}

bool informers_synced(const struct informers *in, uint64_t now_ms)
{
	if (now_ms - in->started_ms > 30000)
		return true;
	for (size_t i = 0; i < in->n; i++) {
		if (!in->pods[i].synced || !in->crs[i].synced)
			return false;
		for (int k = 0; k < OWNED_COUNT; k++)
			if (owned_watched(in, k, i) && !in->owned[k][i].synced)
				return false;
	}
	return true;
}

bool informers_crs_current(const struct informers *in, uint64_t now_ms)
{
	for (size_t i = 0; i < in->n; i++) {
		const struct reflector *r = &in->crs[i];

		if (!r->synced)
			continue; /* not listed yet (its CRD missing): nothing cached */
		if (r->state != REFLECTOR_WATCHING)
			return false;
		if (r->cut && now_ms - r->watch_started_ms < 1000)
			return false;
	}
	return true;
}

bool informers_pods_synced(const struct informers *in)
{
	bool synced = in->n > 0;

	for (size_t i = 0; i < in->n; i++)
		synced = synced && in->pods[i].synced;
	return synced;
}

bool informers_prometheus_synced(const struct informers *in)
{
	return in->proms.synced;
}

static void add_stats(struct reflector_stats *s, const struct reflector_stats *r)
{
	s->lists += r->lists, s->relists += r->relists, s->gone += r->gone;
	s->watches += r->watches, s->events += r->events, s->bookmarks += r->bookmarks;
	s->failures += r->failures, s->decode_errors += r->decode_errors;
}

/* "pods" for /api/v1, "RESOURCE.GROUP" for /apis/GROUP/VERSION. */
static void resource_name(char *out, size_t n, const char *api, const char *resource)
{
	const char *g = strncmp(api, "/apis/", 6) == 0 ? api + 6 : NULL;
	const char *slash = g ? strchr(g, '/') : NULL;

	if (slash)
		snprintf(out, n, "%s.%.*s", resource, (int)(slash - g), g);
	else
		snprintf(out, n, "%s", resource);
}

/* Starts a row for the kind of reflector r (which may be unused). */
static struct informers_resource_stats *row(struct informers_resource_stats *out, size_t *n,
					    const char *api, const char *resource)
{
	struct informers_resource_stats *o = &out[(*n)++];

	memset(o, 0, sizeof(*o));
	resource_name(o->resource, sizeof(o->resource), api, resource);
	return o;
}

size_t informers_stats(const struct informers *in,
		       struct informers_resource_stats out[INFORMERS_RESOURCES])
{
	struct informers_resource_stats *p, *c;
	size_t n = 0;

	p = row(out, &n, KUBE_PATH_CORE, "pods");
	c = row(out, &n, KUBE_PATH(KUBE_GV_INFERMON), "inferenceworkloads");
	for (size_t i = 0; i < in->n; i++) {
		add_stats(&p->s, &in->pods[i].stats);
		add_stats(&c->s, &in->crs[i].stats);
	}
	for (int k = 0; k < OWNED_COUNT; k++) {
		struct informers_resource_stats *o;
		if (!desired_kind_enabled(&in->rc, (enum owned_kind)k))
			continue;
		o = row(out, &n, kube_owned[k].path, kube_owned[k].resource);
		for (size_t i = 0; i < in->n; i++)
			if (owned_watched(in, k, i))
				add_stats(&o->s, &in->owned[k][i].stats);
	}
	add_stats(&row(out, &n, KUBE_PATH(KUBE_GV_MONITORING), "prometheuses")->s,
		  &in->proms.stats);
	add_stats(&row(out, &n, KUBE_PATH_CORE, "namespaces")->s, &in->namespaces.stats);
	return n;
}

/* Every reflector (also the unused slots, which are zeroed and safe to
 * stop and release). */
static void each(struct informers *in, void (*fn)(struct reflector *))
{
	for (size_t i = 0; i < in->n; i++) {
		fn(&in->pods[i]);
		fn(&in->crs[i]);
		for (int k = 0; k < OWNED_COUNT; k++)
			fn(&in->owned[k][i]);
	}
	fn(&in->proms);
	fn(&in->namespaces);
}

void informers_stop(struct informers *in)
{
	each(in, reflector_stop);
}

void informers_release(struct informers *in)
{
	each(in, reflector_release);
}
