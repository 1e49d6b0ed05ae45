#include "reconcile.h"

#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "applydiff.h"
#include "desired.h"
#include "log.h"
#include "reconcile_run.h"

const double reconcile_buckets[RECONCILE_BUCKETS] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
						     0.5,   1,    2.5,   5,    10};

uint64_t reconcile_now_ms(const struct reconciler *r)
{
	return r->o.now_ms ? r->o.now_ms(r->o.now_ctx) : 0;
}

void reconciler_init(struct reconciler *r, const struct reconciler_opts *o)
{
	memset(r, 0, sizeof(*r));
	r->o = *o;
	r->defaults = *o->defaults;
	r->rc = *o->rc;
	r->o.defaults = &r->defaults;
	r->o.rc = &r->rc;
	if (!r->o.grace_ms)
		r->o.grace_ms = 10 * 60 * 1000;
	r->status_refresh_ms = 30 * 1000;
	r->max_inflight = 4;
	r->writes_enabled = true;
	if (!r->o.scrape_coalesce_ms)
		r->o.scrape_coalesce_ms = 15 * 1000;
	hmap_init(&r->gone_since);
	hmap_init(&r->scrape_last);
	hmap_init(&r->unseen);
	hmap_init(&r->cr_workload);
	hmap_init(&r->specs);
	wq_init(&r->q, o->loop, 0, 200, 300000, NULL, NULL);
}

/* r->unseen's values (see "applied, not yet seen" below) */
struct unseen {
	uint64_t at_ms;
	char *body; /* the object applied, unformatted JSON */
};

static void unseen_free(void *p)
{
	struct unseen *u = p;

	if (u)
		im_free(u->body);
	im_free(u);
}

static void free_values(struct hmap *m, void (*fn)(void *))
{
	for (struct hmap_entry *e = hmap_first(m); e; e = hmap_next(m, e))
		fn(e->value);
	hmap_release(m);
}

void reconciler_release(struct reconciler *r)
{
	free_values(&r->gone_since, im_free);
	free_values(&r->scrape_last, im_free);
	free_values(&r->unseen, unseen_free);
	free_values(&r->cr_workload, im_free);
	reconcile_forget_specs(r);
	wq_release(&r->q);
}

void reconciler_set_leading(struct reconciler *r, bool leading, bool writes, struct events *events)
{
	r->writes_enabled = writes && leading;
	/* what another leader wrote meanwhile, the watches show */
	free_values(&r->unseen, unseen_free);
	hmap_init(&r->unseen);
	r->events = leading ? events : NULL;
	r->stopped = !leading;
}

void reconciler_hold_status(struct reconciler *r, bool held)
{
	r->status_held = held;
}

void reconciler_stop(struct reconciler *r)
{
	r->stopped = true;
	wq_shutdown(&r->q);
}

bool reconciler_busy(const struct reconciler *r)
{
	return r->inflight > 0 || (!r->stopped && wq_len(&r->q) > 0);
}

size_t reconciler_queue_len(const struct reconciler *r)
{
	return wq_len(&r->q);
}

const struct reconciler_stats *reconciler_stats(const struct reconciler *r)
{
	return &r->stats;
}

/* ---- keys ---- */

void reconciler_workload_changed(struct reconciler *r, const char *ns, const char *workload)
{
	struct buf k;

	buf_init(&k, BUF_MAX_SMALL);
	obj_key(&k, ns, workload);
	wq_add(&r->q, k.ptr);
	wq_add(&r->q, RECONCILE_SECRET_KEY);
	wq_add(&r->q, RECONCILE_DASHBOARD_KEY);
	buf_release(&k);
}

void reconciler_cr_changed(struct reconciler *r, const cJSON *cr, bool deleted, char **moved_from)
{
	const char *ns = obj_str(cr, "metadata", "namespace"), *w = desired_cr_workload(cr);
	const char *name = obj_str(cr, "metadata", "name");
	struct buf k;
	char *old;

	if (moved_from)
		*moved_from = NULL;
	if (!ns || !w || !name)
		return;
	reconcile_forget_spec(r, ns, w);
	reconciler_workload_changed(r, ns, w);
	/* a CR whose workloadName changed: its old workload loses its objects */
	buf_init(&k, BUF_MAX_SMALL);
	obj_key(&k, ns, name);
	old = hmap_get(&r->cr_workload, k.ptr);
	if (old && strcmp(old, w) != 0) {
		reconcile_forget_spec(r, ns, old);
		reconciler_workload_changed(r, ns, old);
		if (moved_from)
			*moved_from = im_xstrdup(old);
	}
	if (deleted) {
		im_free(hmap_del(&r->cr_workload, k.ptr));
	} else if (!old || strcmp(old, w) != 0) {
		im_free(old);
		hmap_put(&r->cr_workload, k.ptr, im_xstrdup(w));
	}
	buf_release(&k);
}

void reconciler_scrape_changed(struct reconciler *r, const char *ns, const char *workload)
{
	struct buf k;
	uint64_t now = reconcile_now_ms(r), *last;

	buf_init(&k, BUF_MAX_SMALL);
	obj_key(&k, ns, workload);
	last = hmap_get(&r->scrape_last, k.ptr);
	if (!last || now - *last >= r->o.scrape_coalesce_ms) {
		if (!last) {
			last = im_xmalloc(sizeof(*last));
			hmap_put(&r->scrape_last, k.ptr, last);
		}
		*last = now;
		wq_add(&r->q, k.ptr);
	} else {
		wq_add_after(&r->q, k.ptr, *last + r->o.scrape_coalesce_ms - now);
	}
	buf_release(&k);
}

void reconciler_load_changed(struct reconciler *r, const char *ns, const char *workload)
{
	struct buf k;

	buf_init(&k, BUF_MAX_SMALL);
	obj_key(&k, ns, workload);
	wq_add_after(&r->q, k.ptr, r->status_refresh_ms);
	buf_release(&k);
}

void reconciler_selection_changed(struct reconciler *r)
{
	const struct hmap *crs = &r->o.caches->crs.objs;

	for (struct hmap_entry *e = hmap_first(crs); e; e = hmap_next(crs, e)) {
		const cJSON *cr = e->value;
		const char *ns = obj_str(cr, "metadata", "namespace"), *w = desired_cr_workload(cr);
		if (ns && w)
			reconciler_workload_changed(r, ns, w);
	}
}

/* ---- applied, not yet seen ---- */

static void unseen_key(struct buf *b, int kind, const char *ns, const char *name)
{
	buf_reset(b);
	buf_printf(b, "%d/%s/%s", kind, ns, name);
}

static void unseen_forget(struct reconciler *r, int kind, const char *ns, const char *name)
{
	struct buf key;

	if (!r->unseen.count)
		return;
	buf_init(&key, BUF_MAX_SMALL);
	unseen_key(&key, kind, ns, name);
	unseen_free(hmap_del(&r->unseen, key.ptr));
	buf_release(&key);
}

void reconciler_owned_seen(struct reconciler *r, const cJSON *obj)
{
	const char *ns = obj_str(obj, "metadata", "namespace"),
		   *name = obj_str(obj, "metadata", "name");
	int k = kube_owned_kind(obj_str(obj, "kind", NULL));

	if (!ns || !name)
		return;
	if (k >= 0) {
		unseen_forget(r, k, ns, name);
		return;
	}
	/* an item of a LIST carries no kind: it may be any */
	for (k = 0; k < OWNED_COUNT; k++)
		unseen_forget(r, k, ns, name);
}

/* Whether body (obj printed) was applied successfully less than
 * RECONCILE_UNSEEN_MS ago and the caches have shown no change of it since. */
static bool unseen_same(struct reconciler *r, const char *key, const char *body)
{
	struct unseen *u = body ? hmap_get(&r->unseen, key) : NULL;

	if (!u)
		return false;
	if (reconcile_now_ms(r) - u->at_ms >= RECONCILE_UNSEEN_MS) {
		unseen_free(hmap_del(&r->unseen, key));
		return false;
	}
	return strcmp(u->body, body) == 0;
}

void reconciler_owned_changed(struct reconciler *r, const cJSON *obj, bool deleted)
{
	const char *ns = obj_str(obj, "metadata", "namespace"),
		   *w = obj_label(obj, LABEL_IW_WORKLOAD);
	int k = kube_owned_kind(obj_str(obj, "kind", NULL));

	(void)deleted;
	reconciler_owned_seen(r, obj);
	if (k == OWNED_SECRET) {
		wq_add(&r->q, RECONCILE_SECRET_KEY);
	} else if (k == OWNED_CONFIGMAP || k == OWNED_GRAFANADASHBOARD) {
		wq_add(&r->q, RECONCILE_DASHBOARD_KEY);
	} else if (ns && w) {
		reconciler_workload_changed(r, ns, w);
	} else if (k < 0) {
		/* an item of a LIST carries no kind: it may be either */
		wq_add(&r->q, RECONCILE_SECRET_KEY);
		wq_add(&r->q, RECONCILE_DASHBOARD_KEY);
	}
}

void reconciler_resync_all(struct reconciler *r)
{
	const struct reconcile_caches *c = r->o.caches;
	const struct hmap *m = &r->o.pods->workloads;

	for (struct hmap_entry *e = hmap_first(m); e; e = hmap_next(m, e)) {
		const struct workload *w = e->value;
		reconciler_workload_changed(r, w->namespace, w->name);
	}
	for (struct hmap_entry *e = hmap_first(&c->crs.objs); e; e = hmap_next(&c->crs.objs, e))
		reconciler_cr_changed(r, e->value, false, NULL);
	for (int k = 0; k < OWNED_COUNT; k++) {
		m = &c->owned[k].objs;
		for (struct hmap_entry *e = hmap_first(m); e; e = hmap_next(m, e))
			reconciler_owned_changed(r, e->value, false);
	}
	wq_add(&r->q, RECONCILE_SECRET_KEY);
}

/* ---- writes ---- */

static void finish(struct run *run);

static void call_done(struct run *run)
{
	if (--run->pending == 0)
		finish(run);
}

void reconcile_event(struct run *run, const cJSON *cr, bool warning, const char *reason,
		     const char *note)
{
	struct event_ref about;

	if (!cr)
		cr = run->cr;
	if (!cr || !run->r->events)
		return;
	about = (struct event_ref){KUBE_GV_INFERMON, "InferenceWorkload",
				   obj_str(cr, "metadata", "namespace"),
				   obj_str(cr, "metadata", "name"), obj_str(cr, "metadata", "uid")};
	events_post(run->r->events, &about, warning, "Apply", reason, note);
}

struct call_ctx {
	struct run *run;
	enum kubewrite_op op;
	char *unseen_key; /* an apply: its key in r->unseen, and the body it sent */
	char *body;
	char what[256]; /* "create ServiceMonitor llm/infermon-qwen", for the logs */
	bool created;
	const cJSON *about; /* the CR the write is about (run->cr or a loser's copy) */
};

static void write_done(void *data, im_result result, const char *error)
{
	struct call_ctx *cc = data;
	struct run *run = cc->run;

	/* a delete that finds nothing has what it wanted */
	if (result && !(cc->op == KUBEWRITE_DELETE && result == IM_NOTFOUND)) {
		run->failed = true;
		run->r->stats.failures++;
		log_kv(LOG_WARN, "cannot write generated object", "what", cc->what, "error", error,
		       NULL);
		if (!run->errors.len)
			buf_printf(&run->errors, "%s: %s", cc->what, error);
		reconcile_event(run, cc->about, true,
				cc->op == KUBEWRITE_STATUS ? "StatusFailed" : "ApplyFailed", error);
	} else if (cc->op != KUBEWRITE_STATUS) {
		if (cc->unseen_key) {
			struct unseen *u = im_xmalloc(sizeof(*u));
			u->at_ms = reconcile_now_ms(run->r);
			u->body = cc->body;
			cc->body = NULL;
			unseen_free(hmap_put(&run->r->unseen, cc->unseen_key, u));
		}
		log_kv(LOG_INFO,
		       cc->created ? "created generated object" : "wrote generated object", "what",
		       cc->what, NULL);
		if (cc->op == KUBEWRITE_APPLY)
			reconcile_event(run, NULL, false, cc->created ? "Created" : "Updated",
					cc->what);
	}
	im_free(cc->unseen_key);
	im_free(cc->body);
	im_free(cc);
	call_done(run);
}

/* unseen_key, body: an apply's key in r->unseen and its printed object
 * (both taken), NULL otherwise */
static void send_write(struct run *run, const struct kubewrite *w, const char *what, bool created,
		       const cJSON *about, char *unseen_key, char *body)
{
	struct call_ctx *cc = im_xcalloc(1, sizeof(*cc));

	cc->run = run;
	cc->op = w->op;
	cc->created = created;
	cc->about = about ? about : run->cr;
	snprintf(cc->what, sizeof(cc->what), "%s", what);
	cc->unseen_key = unseen_key;
	cc->body = body;
	run->pending++;
	if (run->r->o.client.send(run->r->o.client.ctx, w, write_done, cc)) {
		im_free(cc->unseen_key);
		im_free(cc->body);
		im_free(cc);
		run->pending--;
		run->failed = true;
	}
}

void reconcile_apply(struct run *run, cJSON *obj)
{
	struct reconciler *r = run->r;
	int k = kube_owned_kind(obj_str(obj, "kind", NULL));
	const char *ns = obj_str(obj, "metadata", "namespace"),
		   *name = obj_str(obj, "metadata", "name");
	const cJSON *live;
	struct buf what, key;
	char *body;

	if (k < 0 || !ns || !name)
		return;
	if (k == OWNED_SECRET)
		applydiff_secret_data(obj);
	live = objcache_get(&r->o.caches->owned[k], ns, name);
	if (live && applydiff_same_object(obj, live)) {
		unseen_forget(r, k, ns, name);
		return;
	}
	/* applied already, and the watch has not delivered it yet */
	body = cJSON_PrintUnformatted(obj);
	buf_init(&key, BUF_MAX_SMALL);
	unseen_key(&key, k, ns, name);
	if (unseen_same(r, key.ptr, body)) {
		r->stats.unseen_skips++;
		log_kv(LOG_DEBUG, "applied already; waiting for the watch to show it", "key",
		       key.ptr, NULL);
		buf_release(&key);
		im_free(body);
		return;
	}
	buf_init(&what, 512);
	buf_printf(&what, "%s %s %s/%s", live ? "update" : "create", kube_owned[k].kind, ns, name);
	if (live) {
		struct buf d;
		buf_init(&d, 1024);
		applydiff_first(obj, live, &d);
		log_kv(LOG_DEBUG, "generated object differs from its live copy", "what",
		       buf_str(&what), "field", buf_str(&d), NULL);
		buf_release(&d);
	}
	r->stats.applies++;
	if (r->writes_enabled)
		send_write(run,
			   &(struct kubewrite){.op = KUBEWRITE_APPLY,
					       .kind = k,
					       .namespace = ns,
					       .name = name,
					       .body = obj},
			   buf_str(&what), !live, NULL, body ? buf_detach(&key, NULL) : NULL, body);
	else
		im_free(body);
	buf_release(&key);
	buf_release(&what);
}

void reconcile_delete(struct run *run, enum owned_kind k, const cJSON *live)
{
	const char *ns = obj_str(live, "metadata", "namespace"),
		   *name = obj_str(live, "metadata", "name");
	struct buf what;

	buf_init(&what, 512);
	buf_printf(&what, "delete %s %s/%s", kube_owned[k].kind, ns, name);
	unseen_forget(run->r, (int)k, ns, name);
	run->r->stats.deletes++;
	if (run->r->writes_enabled)
		send_write(run,
			   &(struct kubewrite){.op = KUBEWRITE_DELETE,
					       .kind = (int)k,
					       .namespace = ns,
					       .name = name},
			   buf_str(&what), false, NULL, NULL, NULL);
	buf_release(&what);
}

/* Writes status to cr (the cached CR) unless it holds it already; about is
 * the run's copy of it, for Events. */
static void write_status(struct run *run, const cJSON *cr, cJSON *status, const cJSON *about)
{
	const cJSON *live = cJSON_GetObjectItemCaseSensitive(cr, "status");
	const char *ns = obj_str(cr, "metadata", "namespace"),
		   *name = obj_str(cr, "metadata", "name");
	cJSON *body, *md;
	struct buf what;

	if (live && applydiff_holds(status, live))
		return;
	body = cJSON_CreateObject();
	cJSON_AddStringToObject(body, "apiVersion", KUBE_GV_INFERMON);
	cJSON_AddStringToObject(body, "kind", "InferenceWorkload");
	md = cJSON_AddObjectToObject(body, "metadata");
	cJSON_AddStringToObject(md, "name", name);
	cJSON_AddStringToObject(md, "namespace", ns);
	cJSON_AddItemToObject(body, "status", cJSON_Duplicate(status, true));
	buf_init(&what, 512);
	buf_printf(&what, "status of InferenceWorkload %s/%s", ns, name);
	run->r->stats.status_writes++;
	if (run->r->writes_enabled)
		send_write(run,
			   &(struct kubewrite){.op = KUBEWRITE_STATUS,
					       .kind = -1,
					       .namespace = ns,
					       .name = name,
					       .body = body},
			   buf_str(&what), false, about, NULL, NULL);
	cJSON_Delete(body);
	buf_release(&what);
}

/* Writes status to the CR copy is a copy of, compared with the newest
 * cached CR (it may have changed meanwhile, or be gone). */
static void status_of(struct run *run, const cJSON *copy, cJSON *status)
{
	const cJSON *cr = objcache_get(&run->r->o.caches->crs,
				       obj_str(copy, "metadata", "namespace"),
				       obj_str(copy, "metadata", "name"));

	if (cr)
		write_status(run, cr, status, copy);
}

/* ---- running reconciles ---- */

static void observe_duration(struct reconciler *r, uint64_t start_ms)
{
	double secs = (double)(reconcile_now_ms(r) - start_ms) / 1000.0;
	int b = 0;

	while (b < RECONCILE_BUCKETS && secs > reconcile_buckets[b])
		b++;
	r->stats.duration_counts[b]++;
	r->stats.duration_sum += secs;
}

static void finish(struct run *run)
{
	struct reconciler *r = run->r;

	if ((run->status || run->loser_status) && !run->failed) {
		cJSON *status = run->status, *losers = run->loser_status, *it;
		const cJSON *about = run->losers ? run->losers->child : NULL;
		run->status = NULL;
		run->loser_status = NULL;
		if (status)
			status_of(run, run->cr, status);
		cJSON_ArrayForEach(it, losers)
		{
			status_of(run, about, it);
			about = about->next;
		}
		cJSON_Delete(status);
		cJSON_Delete(losers);
		if (run->pending > 0)
			return; /* finish runs again when the status writes are done */
	}
	/* with "reconciling", a marker tests wait for before checking that a
	 * reconcile did not do something */
	log_kv(LOG_DEBUG, "reconciled", "key", run->key, "result", run->failed ? "failed" : "ok",
	       NULL);
	if (run->failed)
		wq_add_rate_limited(&r->q, run->key);
	else
		wq_forget(&r->q, run->key);
	wq_done(&r->q, run->key);
	r->inflight--;
	observe_duration(r, run->start_ms);
	cJSON_Delete(run->status);
	cJSON_Delete(run->cr);
	cJSON_Delete(run->losers);
	cJSON_Delete(run->loser_status);
	buf_release(&run->errors);
	im_free(run->key);
	im_free(run);
	reconciler_pump(r);
}

void reconciler_pump(struct reconciler *r)
{
	char *key;

	while (!r->stopped && r->inflight < r->max_inflight && (key = wq_get(&r->q)) != NULL) {
		struct run *run = im_xcalloc(1, sizeof(*run));
		run->r = r;
		run->key = key;
		run->start_ms = reconcile_now_ms(r);
		buf_init(&run->errors, 2048);
		r->inflight++;
		r->stats.reconciles++;
		log_kv(LOG_DEBUG, "reconciling", "key", key, NULL);
		run->pending = 1; /* held until the reconcile has queued its writes */
		if (strcmp(key, RECONCILE_SECRET_KEY) == 0) {
			reconcile_secret(run);
		} else if (strcmp(key, RECONCILE_DASHBOARD_KEY) == 0) {
			reconcile_dashboard(run);
		} else {
			char *slash = strchr(key, '/');
			if (slash) {
				char *ns = im_xstrndup(key, (size_t)(slash - key));
				reconcile_workload(run, ns, slash + 1);
				im_free(ns);
			}
		}
		if (run->pending == 1 && !run->status && !run->loser_status)
			r->stats.noops++;
		call_done(run);
	}
}
