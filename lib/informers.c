#include "informers.h"

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

static void start_one(struct reflector *r, struct kubeclient *kc, const struct reflector_store *s,
		      const struct reflector_opts *o)
{
	reflector_init(r, kc, s, o);
	reflector_start(r, NULL, NULL);
}

void informers_start(struct informers *in, struct kubeclient *kc, struct podcache *pods,
		     struct reconcile_caches *caches, char *const *ns, size_t nns,
		     const struct render_config *rc, uint64_t now_ms)
{
	struct reflector_store store;
	struct buf secret_field;

	memset(in, 0, sizeof(*in));
	in->rc = *rc;
	in->n = nns ? nns : 1;
	if (in->n > INFORMERS_MAX_NAMESPACES)
		in->n = INFORMERS_MAX_NAMESPACES;
	in->started_ms = now_ms;
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
		start_one(&in->pods[i], kc, &store, &po);
		/* CRs and generated objects are watched in the same namespaces
		 * as pods: a controller scoped to some namespaces must not judge
		 * workloads whose pods it cannot see. */
		objcache_store(&caches->crs, &store);
		start_one(&in->crs[i], kc, &store, &co);
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
			start_one(&in->owned[k][i], kc, &store, &oo);
		}
	}
	buf_release(&secret_field);
	{
		struct reflector_opts po = {.api = KUBE_PATH(KUBE_GV_MONITORING),
					    .resource = "prometheuses"};
		struct reflector_opts no = {.api = KUBE_PATH_CORE, .resource = "namespaces"};
		objcache_store(&caches->proms, &store);
		start_one(&in->proms, kc, &store, &po);
		objcache_store(&caches->namespaces, &store);
		start_one(&in->namespaces, kc, &store, &no);
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

void informers_pod_stats(const struct informers *in, struct reflector_stats *s)
{
	memset(s, 0, sizeof(*s));
	for (size_t i = 0; i < in->n; i++) {
		const struct reflector_stats *r = &in->pods[i].stats;
		s->lists += r->lists, s->relists += r->relists, s->gone += r->gone;
		s->watches += r->watches, s->events += r->events, s->failures += r->failures;
		s->decode_errors += r->decode_errors;
	}
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
