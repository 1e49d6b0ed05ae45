/* What a key's reconcile writes: a workload's objects, status and conflict
 * reports; the shared scrape Secret; the dashboard. reconcile.c runs the
 * writes (reconcile_run.h). */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "desired.h"
#include "log.h"
#include "prune.h"
#include "promselect.h"
#include "reconcile_run.h"
#include "render_dashboard.h"

/* ---- the snapshot desired.h computes from ---- */

struct snapshot {
	struct desired_in in;
	const cJSON **crs, **proms;
	const char **prom_keys;
};

/* The CRs and, with proms, the Prometheus objects (which only a workload's
 * objects need). */
static void snapshot_take(struct reconciler *r, struct snapshot *sn, bool proms)
{
	const struct reconcile_caches *c = r->o.caches;
	size_t ncrs = 0, nproms = 0;

	memset(sn, 0, sizeof(*sn));
	sn->crs = im_xcalloc(c->crs.objs.count + 1, sizeof(*sn->crs));
	for (struct hmap_entry *e = hmap_first(&c->crs.objs); e; e = hmap_next(&c->crs.objs, e))
		sn->crs[ncrs++] = e->value;
	/* in a stable order: matchPrometheus stamps labels in this order */
	if (proms) {
		sn->prom_keys = hmap_sorted_keys(&c->proms.objs);
		sn->proms = im_xcalloc(c->proms.objs.count + 1, sizeof(*sn->proms));
		for (size_t i = 0; sn->prom_keys[i]; i++)
			sn->proms[nproms++] = hmap_get(&c->proms.objs, sn->prom_keys[i]);
	}
	sn->in = (struct desired_in){
		.rc = &r->rc,
		.defaults = &r->defaults,
		.crs = sn->crs,
		.ncrs = ncrs,
		.proms = sn->proms,
		.nproms = nproms,
		.proms_known = c->proms_known,
	};
}

static void snapshot_release(struct snapshot *sn)
{
	im_free(sn->crs);
	im_free(sn->proms);
	im_free(sn->prom_keys);
}

/* ---- the index of parsed specs ---- */

static const char *spec_key(struct buf *k, const char *ns, const char *workload, enum backend b)
{
	obj_key(k, ns, workload);
	buf_printf(k, "#%d", (int)b);
	return buf_str(k);
}

const struct iwspec *reconciler_spec(struct reconciler *r, const char *ns, const char *workload,
				     enum backend b)
{
	struct buf k;
	struct iwspec *s;

	buf_init(&k, BUF_MAX_SMALL);
	s = hmap_get(&r->specs, spec_key(&k, ns, workload, b));
	if (!s) {
		struct snapshot sn;
		snapshot_take(r, &sn, false);
		if (desired_pick(sn.in.crs, sn.in.ncrs, ns, workload, NULL, NULL)) {
			s = im_xcalloc(1, sizeof(*s));
			desired_spec(&sn.in, ns, workload, b, s);
		} else {
			/* no CR: the defaults, which name neither namespace
			 * nor workload where a spec is read this way */
			if (!r->default_specs[b]) {
				r->default_specs[b] = im_xcalloc(1, sizeof(*s));
				iwspec_default(r->default_specs[b], &r->defaults, "", "", b);
			}
			s = r->default_specs[b];
		}
		snapshot_release(&sn);
		hmap_put(&r->specs, buf_str(&k), s);
	}
	buf_release(&k);
	return s;
}

static void spec_free(struct reconciler *r, struct iwspec *s)
{
	for (size_t b = 0; s && b < sizeof(r->default_specs) / sizeof(r->default_specs[0]); b++)
		if (s == r->default_specs[b])
			return;
	if (s)
		iwspec_release(s);
	im_free(s);
}

void reconciler_each_cr_spec(struct reconciler *r, reconciler_spec_cb cb, void *ctx)
{
	const struct objcache *crs = &r->o.caches->crs;
	struct hmap workloads; /* "namespace/workload" -> a CR selecting it */
	const char **keys;
	struct buf k;

	hmap_init(&workloads);
	buf_init(&k, BUF_MAX_SMALL);
	for (struct hmap_entry *e = hmap_first(&crs->objs); e; e = hmap_next(&crs->objs, e)) {
		const char *ns = desired_cr_namespace(e->value);
		const char *w = desired_cr_workload(e->value);
		if (w)
			hmap_put(&workloads, obj_key(&k, ns, w), e->value);
	}
	keys = hmap_sorted_keys(&workloads);
	for (size_t i = 0; keys[i]; i++) {
		const cJSON *cr = hmap_get(&workloads, keys[i]);
		const char *ns = desired_cr_namespace(cr);
		const char *w = desired_cr_workload(cr);
		const struct iwspec *s = NULL;
		/* any backend's spec will do (objectives do not depend on it):
		 * the scraper wiring has parsed the one of a workload with pods */
		for (int b = BACKEND_UNKNOWN; b <= BACKEND_SGLANG_PD && !s; b++)
			s = hmap_get(&r->specs, spec_key(&k, ns, w, (enum backend)b));
		cb(ctx, s ? s : reconciler_spec(r, ns, w, BACKEND_UNKNOWN));
	}
	im_free(keys);
	hmap_release(&workloads);
	buf_release(&k);
}

void reconcile_forget_spec(struct reconciler *r, const char *ns, const char *workload)
{
	struct buf k;

	buf_init(&k, BUF_MAX_SMALL);
	for (int b = BACKEND_UNKNOWN; b <= BACKEND_SGLANG_PD; b++) {
		spec_free(r, hmap_del(&r->specs, spec_key(&k, ns, workload, (enum backend)b)));
	}
	buf_release(&k);
}

void reconcile_forget_specs(struct reconciler *r)
{
	for (struct hmap_entry *e = hmap_first(&r->specs); e; e = hmap_next(&r->specs, e))
		spec_free(r, e->value);
	hmap_release(&r->specs);
	for (size_t b = 0; b < sizeof(r->default_specs) / sizeof(r->default_specs[0]); b++) {
		if (r->default_specs[b])
			iwspec_release(r->default_specs[b]);
		im_free(r->default_specs[b]);
		r->default_specs[b] = NULL;
	}
}

/* ---- a workload ---- */

static cJSON *status_for(struct run *run, const cJSON *cr, const struct iwspec *s,
			 const char *not_ready, const char *message, const struct workload *w,
			 const cJSON *generated, const struct desired_verdict *sel)
{
	struct crstatus_in in = {.cr = cr,
				 .spec = s,
				 .not_ready = not_ready,
				 .message = message,
				 .w = w,
				 .generated = generated,
				 .sel = sel,
				 .runtime = run->r->o.runtime,
				 .runtime_ctx = run->r->o.runtime_ctx,
				 .now = time(NULL)};

	return crstatus_build(&in);
}

/* Warning Event when a condition turns False (reason: the condition's), a
 * Normal one named after the condition when it turns True again. */
static void announce(struct run *run, const cJSON *live_status, const cJSON *status,
		     const char *type)
{
	bool warning = false;
	const cJSON *c = crstatus_turned(live_status, status, type, &warning);

	if (c)
		reconcile_event(run, NULL, warning, warning ? obj_str(c, "reason", NULL) : type,
				obj_str(c, "message", NULL));
}

/* A CR that selects the workload another (older) CR governs: Ready=False
 * reason Conflict on it, and a Warning Event naming the winner when that
 * condition is new. Its status is written after the applies. */
static void report_conflict(struct run *run, const struct desired *d, const cJSON *loser,
			    const struct workload *w, const char *workload)
{
	const cJSON *live = cJSON_GetObjectItemCaseSensitive(loser, "status");
	const char *winner = obj_str(d->cr, "metadata", "name"),
		   *created = obj_str(d->cr, "metadata", "creationTimestamp");
	cJSON *none = cJSON_CreateArray(), *status;
	struct buf msg;

	buf_init(&msg, 1024);
	buf_printf(&msg,
		   "InferenceWorkload %s/%s selects workload \"%s\" too and is older (created %s); "
		   "it governs the workload and this one is ignored until it is deleted or selects "
		   "another workload",
		   desired_cr_namespace(d->cr), winner, workload, created ? created : "unknown");
	log_kv(LOG_WARN, "InferenceWorkloads conflict", "namespace", desired_cr_namespace(loser),
	       "ignored", obj_str(loser, "metadata", "name"), "governing", winner, "workload",
	       workload, NULL);
	if (!crstatus_ready_false(live, "Conflict", buf_str(&msg)))
		reconcile_event(run, loser, true, "Conflict", buf_str(&msg));
	status = status_for(run, loser, NULL, "Conflict", buf_str(&msg), w, none, NULL);
	if (!run->losers) {
		run->losers = cJSON_CreateArray();
		run->loser_status = cJSON_CreateArray();
	}
	cJSON_AddItemToArray(run->losers, cJSON_Duplicate(loser, true));
	cJSON_AddItemToArray(run->loser_status, status);
	cJSON_Delete(none);
	buf_release(&msg);
}

static void delete_cb(void *ctx, enum owned_kind k, const cJSON *live)
{
	reconcile_delete(ctx, k, live);
}

/* A workload with neither a CR nor pods: its generated objects go at once
 * when a CR that now selects another workload owns them; when only pod
 * labels made them, after the grace period. */
static void prune_undesired(struct run *run, const char *ns, const char *workload, const char *key)
{
	struct reconciler *r = run->r;
	const struct reconcile_caches *c = r->o.caches;
	enum prune_owners owns = prune_owners(c->owned, &c->crs, ns, workload);
	uint64_t *since, now;

	reconcile_forget_spec(r, ns, workload);
	if (owns == PRUNE_OWNS_LIVE_CR) {
		log_kv(LOG_INFO, "workload no longer selected by its InferenceWorkload; pruning",
		       "namespace", ns, "workload", workload, NULL);
		prune_each(c->owned, ns, workload, NULL, delete_cb, run);
		return;
	}
	if (owns != PRUNE_OWNS_ORPHANS)
		return;
	since = hmap_get(&r->gone_since, key);
	now = reconcile_now_ms(r);
	if (!since) {
		char grace[32];
		since = im_xmalloc(sizeof(*since));
		*since = now;
		hmap_put(&r->gone_since, key, since);
		snprintf(grace, sizeof(grace), "%.3fs", (double)r->o.grace_ms / 1000.0);
		log_kv(LOG_INFO, "workload has no pods; its objects go after the grace period",
		       "namespace", ns, "workload", workload, "grace", grace, NULL);
	}
	if (now - *since < r->o.grace_ms) {
		wq_add_after(&r->q, key, r->o.grace_ms - (now - *since));
	} else {
		prune_each(c->owned, ns, workload, NULL, delete_cb, run);
		im_free(hmap_del(&r->gone_since, key));
	}
}

/* Applies d's objects and prunes the workload's others; generated gets a
 * reference to each, for the status. */
static void apply_desired(struct run *run, const struct desired *d, const char *ns,
			  const char *workload, cJSON *generated)
{
	struct hmap keep;
	cJSON *o;

	hmap_init(&keep);
	cJSON_ArrayForEach(o, d->objects)
	{
		cJSON *ref = cJSON_CreateObject();
		prune_keep(&keep, o);
		cJSON_AddStringToObject(ref, "apiVersion", obj_str(o, "apiVersion", NULL));
		cJSON_AddStringToObject(ref, "kind", obj_str(o, "kind", NULL));
		cJSON_AddStringToObject(ref, "namespace", ns);
		cJSON_AddStringToObject(ref, "name", obj_str(o, "metadata", "name"));
		cJSON_AddItemToArray(generated, ref);
		reconcile_apply(run, o);
	}
	prune_each(run->r->o.caches->owned, ns, workload, &keep, delete_cb, run);
	hmap_release(&keep);
}

void reconcile_workload(struct run *run, const char *ns, const char *workload)
{
	struct reconciler *r = run->r;
	const struct workload *w;
	struct desired_workload dw = {.namespace = ns, .workload = workload};
	struct desired d;
	struct snapshot sn;
	struct buf key;
	cJSON *generated = cJSON_CreateArray();
	const struct pod **pods = NULL;

	buf_init(&key, BUF_MAX_SMALL);
	obj_key(&key, ns, workload);
	w = podcache_workload(r->o.pods, key.ptr);
	if (w) {
		pods = im_xcalloc(w->pods.count + 1, sizeof(*pods));
		for (struct hmap_entry *e = hmap_first(&w->pods); e; e = hmap_next(&w->pods, e))
			pods[dw.npods++] = e->value;
		dw.pods = pods;
		im_free(hmap_del(&r->gone_since, key.ptr));
	} else {
		im_free(hmap_del(&r->scrape_last, key.ptr)); /* no pod left to scrape */
	}
	snapshot_take(r, &sn, true);
	desired_init(&d);
	desired_compute(&sn.in, &dw, objcache_get(&r->o.caches->namespaces, "", ns), &d);
	if (d.cr) {
		run->cr = cJSON_Duplicate(d.cr, true);
		if (!d.have_spec) {
			log_kv(LOG_WARN, "invalid InferenceWorkload", "error", buf_str(&d.error),
			       NULL);
			if (!r->status_held) /* reported with the status, after the round */
				reconcile_event(run, NULL, true, "InvalidSpec", buf_str(&d.error));
		}
	} else if (!d.have_spec) {
		prune_undesired(run, ns, workload, key.ptr);
	}
	if (d.have_spec)
		apply_desired(run, &d, ns, workload, generated);
	/* the operator's own word on the monitor, where it writes one */
	if (d.selection.status) {
		enum promsel_kind pk;
		cJSON *mon = promsel_find_monitor(d.objects, &pk);
		if (mon) {
			int k = pk == PROMSEL_PODMONITOR ? OWNED_PODMONITOR : OWNED_SERVICEMONITOR;
			desired_judge_bindings(objcache_get(&r->o.caches->owned[k], ns,
							    obj_str(mon, "metadata", "name")),
					       kube_owned[k].kind, &d.selection);
		}
	}
	/* status, its Events and conflict reports wait for the engines during
	 * a new leader's first round (status_held; the key is reconciled
	 * again when it ends) */
	if (d.cr && !r->status_held)
		run->status = status_for(
			run, d.cr, d.have_spec ? &d.spec : NULL, d.have_spec ? NULL : "InvalidSpec",
			d.have_spec ? NULL : buf_str(&d.error), w, generated, &d.selection);
	if (run->status) {
		const cJSON *live = cJSON_GetObjectItemCaseSensitive(d.cr, "status");
		announce(run, live, run->status, "MonitorSelected");
		announce(run, live, run->status, "LimitMatchesSpec");
		announce(run, live, run->status, "SLOMeasurable");
	}
	for (size_t i = 0; i < d.nlosers && !r->status_held; i++)
		report_conflict(run, &d, d.losers[i], w, workload);
	desired_release(&d);
	snapshot_release(&sn);
	cJSON_Delete(generated);
	im_free(pods);
	buf_release(&key);
}

/* ---- the shared objects ---- */

/* The workloads of labelled pods, for the shared objects of desired.h:
 * *wls and *pods are new arrays (im_free both). */
static size_t pod_workloads(struct reconciler *r, struct desired_workload **wls,
			    const struct pod ***pods)
{
	const struct hmap *m = &r->o.pods->workloads;
	size_t nwls = 0, npods = 0, total = 0;

	for (struct hmap_entry *e = hmap_first(m); e; e = hmap_next(m, e))
		total += ((const struct workload *)e->value)->pods.count;
	*wls = im_xcalloc(m->count + 1, sizeof(**wls));
	*pods = im_xcalloc(total + 1, sizeof(**pods));
	for (struct hmap_entry *e = hmap_first(m); e; e = hmap_next(m, e)) {
		const struct workload *w = e->value;
		struct desired_workload *dw = &(*wls)[nwls++];
		dw->namespace = w->namespace;
		dw->workload = w->name;
		dw->pods = *pods + npods;
		for (struct hmap_entry *p = hmap_first(&w->pods); p; p = hmap_next(&w->pods, p))
			(*pods)[npods++] = p->value;
		dw->npods = w->pods.count;
	}
	return nwls;
}

void reconcile_secret(struct run *run)
{
	struct reconciler *r = run->r;
	struct desired_workload *wls;
	const struct pod **pods;
	size_t nwls = pod_workloads(r, &wls, &pods), njobs;
	struct snapshot sn;
	struct buf err;
	cJSON *secret;

	buf_init(&err, 1024);
	snapshot_take(r, &sn, false);
	secret = desired_scrape_secret(&sn.in, wls, nwls, &njobs, &err);
	if (!secret)
		log_kv(LOG_WARN, "cannot build the scrape Secret", "error", buf_str(&err), NULL);
	else if (njobs > 0 || objcache_get(&r->o.caches->owned[OWNED_SECRET],
					   r->rc.secret_namespace, r->rc.secret_name))
		reconcile_apply(run, secret);
	cJSON_Delete(secret);
	snapshot_release(&sn);
	im_free(wls);
	im_free(pods);
	buf_release(&err);
}

static bool dashboard_wanted(struct reconciler *r)
{
	struct desired_workload *wls;
	const struct pod **pods;
	size_t nwls = pod_workloads(r, &wls, &pods);
	struct snapshot sn;
	bool want;

	snapshot_take(r, &sn, false);
	want = desired_dashboard(&sn.in, wls, nwls);
	snapshot_release(&sn);
	im_free(wls);
	im_free(pods);
	return want;
}

static const cJSON *instance_selector(const cJSON *gd)
{
	return cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(gd, "spec"),
						"instanceSelector");
}

void reconcile_dashboard(struct run *run)
{
	struct reconciler *r = run->r;
	const struct render_config *c = &r->rc;
	const struct objcache *owned = r->o.caches->owned;
	bool want = dashboard_wanted(r);
	const cJSON *live = objcache_get(&owned[OWNED_CONFIGMAP], c->dashboard_namespace,
					 c->dashboard_name);
	cJSON *o;

	if (want) {
		o = render_dashboard_configmap(c);
		reconcile_apply(run, o);
		cJSON_Delete(o);
	} else if (live && !obj_str(live, "metadata", "deletionTimestamp")) {
		reconcile_delete(run, OWNED_CONFIGMAP, live);
	}
	if (!desired_kind_enabled(c, OWNED_GRAFANADASHBOARD))
		return;
	live = objcache_get(&owned[OWNED_GRAFANADASHBOARD], c->dashboard_namespace,
			    c->dashboard_name);
	if (live && obj_str(live, "metadata", "deletionTimestamp"))
		return; /* its DELETED event brings the next reconcile */
	if (!want) {
		if (live)
			reconcile_delete(run, OWNED_GRAFANADASHBOARD, live);
		return;
	}
	o = render_grafana_dashboard(c);
	/* spec.instanceSelector is immutable: another selector needs a new object */
	if (live && !cJSON_Compare(instance_selector(o), instance_selector(live), true))
		reconcile_delete(run, OWNED_GRAFANADASHBOARD, live);
	else
		reconcile_apply(run, o);
	cJSON_Delete(o);
}
