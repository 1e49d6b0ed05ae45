#include "controller.h"

#include <malloc.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "desired.h"
#include "engine.h"
#include "events.h"
#include "expo.h"
#include "http.h"
#include "httpserver.h"
#include "kube.h"
#include "kubeclient.h"
#include "leader.h"
#include "log.h"
#include "loop.h"
#include "podcache.h"
#include "reconcile.h"
#include "reflector.h"
#include "scraper.h"
#include "version.h"

#define MAX_REFLECTORS 64
#define PUBLISH_MS 2000
/* /metrics: a page older than this is rebuilt for the request that finds
 * it, which waits at most METRICS_WAIT_MS for it (then gets the old one).
 * The server thread waits meanwhile, so the wait stays well under the
 * probes' 1 s timeout. */
#define METRICS_MAX_AGE_MS 1000
#define METRICS_WAIT_MS 500

/* What the controller keeps beside a scrape target (target->data). */
struct tinfo {
	char *namespace, *pod, *uid, *workload, *backend, *role;
	bool seen;    /* checks evaluated at least once */
	double limit; /* last max-num-seqs seen, for status */
	enum limit_source limit_source;
	bool active[CHECK_COUNT]; /* last reported state */
	bool awaited;             /* the takeover round waits for its scrape */
	double load[5];           /* up, running, waiting, kv usage, models: last in status */
};

struct controller {
	const struct controller_opts *o;
	struct loop loop;
	struct http http;
	struct kubeclient kc;
	struct podcache cache;
	struct reflector refl[MAX_REFLECTORS];
	size_t nrefl;
	struct scraper scraper;
	struct httpserver *hs;
	uv_signal_t sigint, sigterm;
	uv_timer_t publish;
	uv_async_t metrics_wanted; /* a /metrics request wants a fresh page */
	struct http_call *crd_call;
	struct http_call *gd_crd_call; /* --grafana-operator: is its CRD installed? */
	int exit_code;
	struct events events;
	/* "namespace/workload/check": how many of the workload's pods have the
	 * check true. Events are per workload and check, not per pod (5,000
	 * pods of one engine version or one config turn the same check at
	 * once). */
	struct hmap reported;
	/* Taking over: CR status waits (round_left targets, round_timer) until
	 * every engine has been scraped once, so the first status a new leader
	 * writes is not built from no data; generated objects are applied at
	 * once (rec.status_held). */
	size_t round_left;
	uv_timer_t round_timer;
	bool takeover_pending; /* leading before the caches synced */
	uint64_t scrapes_done;
	uint64_t publishes;
	struct reconciler rec;
	/* one per watched namespace (or one for all), as the pod reflectors */
	struct reflector crs_refl[MAX_REFLECTORS], owned_refl[OWNED_COUNT][MAX_REFLECTORS];
	/* cluster-wide: which Prometheus would select the generated monitors */
	struct reflector prom_refl, ns_refl;
	char interval[32], timeout[32]; /* the flags, as durations for generated objects */
	uv_prepare_t pump;
	uint64_t started_ms;
	bool synced;
	struct leader le;
	char *identity; /* this replica's holderIdentity */
	bool leading;   /* holds the Lease (always, without leader election) */
	bool stopping;  /* a signal came; the Lease is being handed back */
};

void controller_opts_default(struct controller_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->metrics_bind = "0.0.0.0";
	o->metrics_port = 8080;
	o->port_name = "http";
	o->metrics_path = "/metrics";
	o->scrape_interval_ms = 15000;
	o->scrape_timeout_ms = 10000;
	o->drift_tolerance = 0.25;
	o->events = true;
	o->reconcile = true;
	o->leader_elect = true;
}

static void tinfo_free(struct tinfo *ti)
{
	if (!ti)
		return;
	im_free(ti->namespace);
	im_free(ti->pod);
	im_free(ti->uid);
	im_free(ti->workload);
	im_free(ti->backend);
	im_free(ti->role);
	im_free(ti);
}

static void post_event(struct controller *c, const struct tinfo *ti, bool warning,
		       const char *reason, const char *note);

/* Check k of one pod turned true (+1) or cleared (-1), or the pod that had
 * it went away (-1, dropped). The Event goes to the first pod of the
 * workload that shows it (Warning, or Normal for MetricsMissing, a fact
 * about the engine version), and <check>Resolved when a scrape finds that
 * no pod of the workload has it any more. Which pods have it is in the
 * logs, the CR's status and infermon_check_active.
 *
 * A pod that goes away did not clear the check: when the last pod showing
 * it is dropped (a rolling restart, a scale-down), the workload's entry
 * stays, orphaned, and no Event is posted about the pod being deleted. The
 * next pod of the workload to show the check carries the same fact on
 * without a new Event; the next one first scraped without it resolves it.
 * The entry's value is the count of pods showing it, shifted left by one,
 * with the orphaned flag in bit 0. */
#define REPORTED_ORPHAN 1u

static void check_changed(struct controller *c, const struct tinfo *ti, enum check_kind k,
			  int delta, const char *message, bool dropped)
{
	struct buf key, note;
	uintptr_t v, n;
	bool orphan;
	const char *name = check_name(k);

	buf_init(&key, BUF_MAX_SMALL);
	buf_printf(&key, "%s/%s/%s", ti->namespace, ti->workload, name);
	v = (uintptr_t)hmap_get(&c->reported, key.ptr);
	n = v >> 1;
	orphan = v & REPORTED_ORPHAN;
	buf_init(&note, 1024);
	if (delta == 0) {
		/* first scrape of a pod, without the check */
		if (orphan && n == 0) {
			hmap_del(&c->reported, key.ptr);
			goto resolved;
		}
		goto out;
	}
	if (delta < 0 && n == 0)
		goto out; /* never counted */
	n = delta > 0 ? n + 1 : n - 1;
	if (delta < 0 && n == 0 && dropped)
		orphan = true;
	else if (delta > 0)
		orphan = false;
	if (n || orphan)
		hmap_put(&c->reported, key.ptr,
			 (void *)((n << 1) | (orphan ? REPORTED_ORPHAN : 0)));
	else
		hmap_del(&c->reported, key.ptr);
	if (delta > 0 && n == 1 && !(v & REPORTED_ORPHAN)) {
		buf_printf(&note, "%s (workload %s: one Event while any of its pods has it)",
			   message, ti->workload);
		post_event(c, ti, k != CHECK_METRICS_MISSING, name, buf_str(&note));
	} else if (delta < 0 && n == 0 && !orphan) {
	resolved:;
		char reason[64];
		snprintf(reason, sizeof(reason), "%sResolved", name);
		buf_printf(&note, "no pod of workload %s has %s any more", ti->workload, name);
		post_event(c, ti, false, reason, buf_str(&note));
	}
out:
	buf_release(&note);
	buf_release(&key);
}

static void round_scraped(struct controller *c, struct tinfo *ti);

/* Frees ti, taking its pod out of its workload's check counts and out of
 * the takeover round. */
static void tinfo_drop(struct controller *c, struct tinfo *ti)
{
	for (int k = 0; ti && k < CHECK_COUNT; k++)
		if (ti->active[k])
			check_changed(c, ti, (enum check_kind)k, -1, NULL, true);
	round_scraped(c, ti);
	tinfo_free(ti);
}

static void remove_target(struct controller *c, const char *key)
{
	struct scrape_target *t = scraper_get(&c->scraper, key);

	if (!t)
		return;
	tinfo_drop(c, t->data);
	t->data = NULL;
	scraper_remove_target(&c->scraper, key);
}

static void post_event(struct controller *c, const struct tinfo *ti, bool warning,
		       const char *reason, const char *note)
{
	struct event_ref about = {KUBE_GV_CORE, "Pod", ti->namespace, ti->pod, ti->uid};

	if (c->o->events && c->leading) /* followers would post duplicates */
		events_post(&c->events, &about, warning, "Check", reason, note);
}

/* ---- scrape results ---- */

static void on_scrape(void *ctx, struct scrape_target *t)
{
	struct controller *c = ctx;
	struct tinfo *ti = t->data;
	char nscrape[24];

	c->scrapes_done++;
	if (!ti)
		return;
	round_scraped(c, ti);
	bool changed = false;
	double limit = t->limits.max_num_seqs.value;

	if (limit != ti->limit || t->limits.max_num_seqs.source != ti->limit_source) {
		ti->limit = limit;
		ti->limit_source = t->limits.max_num_seqs.source;
		changed = true;
	}
	for (int k = 0; k < CHECK_COUNT; k++) {
		bool now = t->checks.active[k];
		const char *name = check_name((enum check_kind)k);

		if (ti->seen && now == ti->active[k])
			continue;
		if (!ti->seen && !now) {
			ti->active[k] = false;
			check_changed(c, ti, (enum check_kind)k, 0, NULL, false);
			continue;
		}
		ti->active[k] = now;
		changed = true;
		snprintf(nscrape, sizeof(nscrape), "%llu", (unsigned long long)t->scrapes);
		log_kv(now && k != CHECK_METRICS_MISSING ? LOG_WARN : LOG_INFO,
		       now ? "check became true" : "check cleared", "namespace", ti->namespace,
		       "pod", ti->pod, "workload", ti->workload, "check", name, "scrape", nscrape,
		       "message", scraper_check_message(t, (enum check_kind)k), NULL);
		check_changed(c, ti, (enum check_kind)k, now ? 1 : -1,
			      scraper_check_message(t, (enum check_kind)k), false);
	}
	if (!ti->seen || changed) {
		reconciler_workload_changed(&c->rec, ti->namespace, ti->workload);
	} else {
		double load[5] = {t->up, t->engine.running, t->engine.waiting,
				  round(t->engine.kv_usage * 100) / 100, t->engine.nmodels};
		if (memcmp(load, ti->load, sizeof(load)) != 0)
			reconciler_load_changed(&c->rec, ti->namespace, ti->workload);
		memcpy(ti->load, load, sizeof(load));
	}
	ti->seen = true;
}

/* ---- targets from the cache ---- */

static bool eligible(const struct pod *p)
{
	return p->ready && !p->deleting && p->pod_ip && strcmp(p->phase, "Running") == 0 &&
	       pod_is_leader(p);
}

static void sync_pod(struct controller *c, const struct workload *w, const struct pod *p)
{
	struct buf key, url;
	struct scrape_target *t;
	struct tinfo *ti;
	enum backend b = backend_parse(pod_backend(p));
	uint64_t seqs = 0;
	int port;

	struct iwspec spec;
	bool has_cr;

	buf_init(&key, BUF_MAX_SMALL);
	buf_init(&url, BUF_MAX_SMALL);
	pod_key(p, &key);
	/* the workload's CR decides the endpoint, as for the generated monitors */
	reconciler_spec(&c->rec, w->namespace, w->name, b, &spec);
	has_cr = *spec.name != '\0';
	if (spec.backend != BACKEND_UNKNOWN)
		b = spec.backend;
	port = pod_port(p, spec.port);
	if (!eligible(p) || b == BACKEND_UNKNOWN || port == 0 || spec.bearer.name ||
	    spec.tls_ca.name) {
		if (eligible(p) && b == BACKEND_UNKNOWN)
			log_kv(LOG_DEBUG, "pod has an unknown backend; not scraped", "pod", key.ptr,
			       "backend", pod_backend(p), NULL);
		else if (eligible(p) && port == 0)
			log_kv(LOG_DEBUG, "pod has no metrics port; not scraped", "pod", key.ptr,
			       "port", spec.port, NULL);
		else if (eligible(p))
			log_kv(LOG_DEBUG,
			       "engine needs credentials from a Secret; the built-in scraper reads no "
			       "Secrets, Prometheus scrapes it through the generated monitor",
			       "pod", key.ptr, NULL);
		remove_target(c, key.ptr);
		goto out;
	}
	if (strchr(p->pod_ip, ':'))
		buf_printf(&url, "%s://[%s]:%d", spec.https ? "https" : "http", p->pod_ip, port);
	else
		buf_printf(&url, "%s://%s:%d", spec.https ? "https" : "http", p->pod_ip, port);
	pod_arg_uint(p, backend_is_sglang(b) ? "--max-running-requests" : "--max-num-seqs",
		     1u << 24, &seqs);
	t = scraper_set_target(&c->scraper, key.ptr, url.ptr, spec.path, b, (double)seqs);
	/* a workload without a CR follows the controller's flags */
	t->tolerance = has_cr ? spec.drift_tolerance : c->o->drift_tolerance;
	t->interval_ms = has_cr ? spec.interval_ms : 0;
	t->timeout_ms = has_cr ? spec.timeout_ms : 0;
	t->tls_insecure = spec.https && spec.tls_insecure;
	ti = t->data;
	if (!ti || strcmp(ti->workload, w->name) != 0 || strcmp(ti->uid, p->uid) != 0) {
		tinfo_drop(c, ti);
		ti = im_xcalloc(1, sizeof(*ti));
		ti->namespace = im_xstrdup(p->namespace);
		ti->pod = im_xstrdup(p->name);
		ti->uid = im_xstrdup(p->uid);
		ti->workload = im_xstrdup(w->name);
		ti->backend = im_xstrdup(backend_name(b));
		ti->role = im_xstrdup(pod_role(p));
		t->data = ti;
	}
out:
	iwspec_release(&spec);
	buf_release(&key);
	buf_release(&url);
}

static void on_workload(void *ctx, enum workload_event ev, const struct workload *w)
{
	static const char *const msgs[] = {"workload appeared", "workload changed",
					   "workload disappeared"};
	struct controller *c = ctx;
	size_t n = 0, ready = 0;
	const char *backend = "";
	char pods[24], nready[24];
	const char **keys;

	for (struct hmap_entry *e = hmap_first(&w->pods); e; e = hmap_next(&w->pods, e)) {
		const struct pod *p = e->value;
		n++;
		ready += p->ready && !p->deleting;
		backend = pod_backend(p);
		sync_pod(c, w, p);
	}
	/* targets of this workload whose pod left it */
	keys = hmap_sorted_keys(&c->scraper.targets);
	for (size_t i = 0; keys[i]; i++) {
		struct scrape_target *t = scraper_get(&c->scraper, keys[i]);
		struct tinfo *ti = t->data;
		if (ti && strcmp(ti->namespace, w->namespace) == 0 &&
		    strcmp(ti->workload, w->name) == 0 && !hmap_get(&w->pods, keys[i])) {
			char *k = im_xstrdup(keys[i]);
			remove_target(c, k);
			im_free(k);
		}
	}
	im_free(keys);
	reconciler_workload_changed(&c->rec, w->namespace, w->name);
	snprintf(pods, sizeof(pods), "%zu", n);
	snprintf(nready, sizeof(nready), "%zu", ready);
	log_kv(LOG_INFO, msgs[ev], "namespace", w->namespace, "workload", w->name, "backend",
	       backend, "pods", pods, "ready", nready, NULL);
}

/* ---- reconciler wiring ---- */

static void runtime_of(void *ctx, const char *ns, const char *pod, struct pod_runtime *out)
{
	struct controller *c = ctx;
	struct buf key;
	struct scrape_target *t;

	buf_init(&key, BUF_MAX_SMALL);
	obj_key(&key, ns, pod);
	t = scraper_get(&c->scraper, key.ptr);
	buf_release(&key);
	memset(out, 0, sizeof(*out));
	if (!t || !scraper_current(&c->scraper, t))
		return;
	out->known = true;
	out->limits = t->limits;
	out->up = t->up;
	out->running = t->engine.running;
	out->waiting = t->engine.waiting;
	out->kv_usage = t->engine.kv_usage;
	out->engines = t->engine.engines > 1 ? t->engine.engines : 1;
	if (t->have_sinfo && t->sinfo.dp_size > 1)
		out->engines = t->sinfo.dp_size;
	for (int m = 0; m < t->engine.nmodels && m < ENGINE_MAX_MODELS; m++)
		snprintf(out->models[m], sizeof(out->models[m]), "%s", t->engine.models[m]);
	out->nmodels = t->engine.nmodels < ENGINE_MAX_MODELS ? t->engine.nmodels
							     : ENGINE_MAX_MODELS;
	for (int k = 0; k < CHECK_COUNT; k++) {
		out->active[k] = t->checks.active[k];
		snprintf(out->message[k], sizeof(out->message[k]), "%s",
			 scraper_check_message(t, (enum check_kind)k));
	}
}

static uint64_t loop_ms(void *ctx)
{
	return loop_now_ms(&((struct controller *)ctx)->loop);
}

/* Rescrapes a workload's pods with the endpoint its (new) spec names. */
static void resync_workload(struct controller *c, const char *ns, const char *workload)
{
	struct buf k;
	const struct workload *w;

	buf_init(&k, BUF_MAX_SMALL);
	obj_key(&k, ns, workload);
	w = podcache_workload(&c->cache, k.ptr);
	if (w)
		for (struct hmap_entry *e = hmap_first(&w->pods); e; e = hmap_next(&w->pods, e))
			sync_pod(c, w, e->value);
	buf_release(&k);
}

static void on_cr(void *ctx, const cJSON *cr, bool deleted)
{
	struct controller *c = ctx;
	const char *ns = obj_str(cr, "metadata", "namespace"), *w = desired_cr_workload(cr);
	char *old;

	/* the resourceVersion last: tests read it as the line's last field */
	log_kv(LOG_DEBUG, deleted ? "InferenceWorkload deleted" : "InferenceWorkload changed",
	       "namespace", ns, "name", obj_str(cr, "metadata", "name"), "resourceVersion",
	       obj_str(cr, "metadata", "resourceVersion"), NULL);
	reconciler_cr_changed(&c->rec, cr, deleted, &old);
	if (ns && w)
		resync_workload(c, ns, w);
	if (ns && old)
		resync_workload(c, ns, old);
	im_free(old);
}

static void on_prometheus(void *ctx, const cJSON *obj, bool deleted)
{
	struct controller *c = ctx;

	(void)obj;
	(void)deleted;
	if (c->rec.proms_known)
		reconciler_selection_changed(&c->rec);
}

static void on_namespace(void *ctx, const cJSON *obj, bool deleted)
{
	struct controller *c = ctx;

	(void)obj;
	(void)deleted;
	if (c->rec.proms_known && c->rec.proms.objs.count > 0)
		reconciler_selection_changed(&c->rec);
}

static void on_owned(void *ctx, const cJSON *obj, bool deleted)
{
	reconciler_owned_changed(&((struct controller *)ctx)->rec, obj, deleted);
}

/* Whether the i-th watch of generated kind k runs: a controller-wide kind
 * is watched once, in its own namespace; a kind not generated, not at all. */
static bool owned_watched(const struct reconciler *r, int k, size_t i)
{
	return owned_enabled(&r->rc, (enum owned_kind)k) &&
	       (i == 0 || !owned_namespace(&r->rc, (enum owned_kind)k));
}

/* Reconciles start once every informer has listed (client-go's
 * WaitForCacheSync), so the first ones see what exists; an informer that
 * cannot list (its CRD not installed) holds them back 30 s at most. */
static bool caches_synced(struct controller *c)
{
	if (c->started_ms && loop_now_ms(&c->loop) - c->started_ms > 30000)
		return true;
	for (size_t i = 0; i < c->nrefl; i++) {
		if (!c->refl[i].synced || !c->crs_refl[i].synced)
			return false;
		for (int k = 0; k < OWNED_COUNT; k++)
			if (owned_watched(&c->rec, k, i) && !c->owned_refl[k][i].synced)
				return false;
	}
	return true;
}

static void take_over(struct controller *c);

static void pump(uv_prepare_t *h)
{
	struct controller *c = h->data;

	if (!c->rec.proms_known && c->prom_refl.synced) {
		c->rec.proms_known = true;
		reconciler_selection_changed(&c->rec);
	}
	if (!c->synced) {
		if (!caches_synced(c))
			return;
		c->synced = true;
		malloc_trim(0); /* the initial lists' bodies and trees */
		log_kv(LOG_INFO,
		       c->leading ? "caches synced; reconciling" : "caches synced; following",
		       NULL);
		if (c->takeover_pending) {
			c->takeover_pending = false;
			take_over(c);
		}
	}
	if (c->leading) /* a follower's keys wait in the queue */
		reconciler_pump(&c->rec);
}

/* ---- leadership ---- */

/* Every key the caches know, so that nothing changed while another
 * replica led (or none did) goes unreconciled. */
static void resync_all(struct controller *c)
{
	struct hmap *m = &c->cache.workloads;

	for (struct hmap_entry *e = hmap_first(m); e; e = hmap_next(m, e)) {
		const struct workload *w = e->value;
		reconciler_workload_changed(&c->rec, w->namespace, w->name);
	}
	for (struct hmap_entry *e = hmap_first(&c->rec.crs.objs); e;
	     e = hmap_next(&c->rec.crs.objs, e))
		reconciler_cr_changed(&c->rec, e->value, false, NULL);
	for (int k = 0; k < OWNED_COUNT; k++) {
		m = &c->rec.owned[k].objs;
		for (struct hmap_entry *e = hmap_first(m); e; e = hmap_next(m, e))
			reconciler_owned_changed(&c->rec, e->value, false);
	}
	wq_add(&c->rec.q, RECONCILE_SECRET_KEY);
}

/* Writes (objects, status, Events) follow leadership; runs before
 * anything else when the renewal deadline passes. */
static void set_leading(struct controller *c, bool leading)
{
	c->leading = leading;
	c->rec.writes_enabled = c->o->reconcile && leading;
	c->rec.events = c->o->events && leading ? &c->events : NULL;
	/* no reconcile starts, not even from one finishing; keys stay queued */
	c->rec.stopped = !leading;
}

/* A replica that starts leading has posted nothing: what its checks found
 * while it followed (or before the Lease was first taken) is reported
 * again as each target's next scrape completes, once per check that is
 * true, so a check that turned true before this replica led is not lost.
 * The previous leader may have posted the same Event; one duplicate per
 * failover is the price of never losing one. */
static void forget_reported(struct controller *c)
{
	for (struct hmap_entry *e = hmap_first(&c->scraper.targets); e;
	     e = hmap_next(&c->scraper.targets, e)) {
		struct tinfo *ti = ((struct scrape_target *)e->value)->data;

		if (!ti)
			continue;
		ti->seen = false;
		memset(ti->active, 0, sizeof(ti->active));
	}
	hmap_release(&c->reported);
	hmap_init(&c->reported);
}

/* The takeover round is over (every engine scraped once, or the time is
 * up): reconcile every key. */
static void end_round(struct controller *c, const char *why)
{
	char n[24];

	c->round_left = 0;
	uv_timer_stop(&c->round_timer);
	if (!c->leading)
		return;
	c->rec.stopped = false;
	c->rec.status_held = false;
	resync_all(c);
	snprintf(n, sizeof(n), "%zu", wq_len(&c->rec.q));
	log_kv(LOG_INFO, "leading: reconciling every key", "keys", n, "after", why, NULL);
}

static void round_scraped(struct controller *c, struct tinfo *ti)
{
	if (!ti || !ti->awaited)
		return;
	ti->awaited = false;
	if (c->round_left && --c->round_left == 0)
		end_round(c, "every engine scraped once");
}

static void round_timeout(uv_timer_t *h)
{
	char n[24];
	struct controller *c = h->data;

	snprintf(n, sizeof(n), "%zu", c->round_left);
	log_kv(LOG_WARN, "takeover: not every engine answered in time; reconciling anyway",
	       "unscraped", n, NULL);
	end_round(c, "timeout");
}

/* Only the leader scrapes (engines see one controller, however many
 * replicas run). A new leader applies the generated objects at once,
 * scrapes every engine, and writes CR status when each has answered or
 * timed out, at most the scrape timeout and a second later: its first
 * status is built from the engines, not from no data. */
static void take_over(struct controller *c)
{
	scraper_pause(&c->scraper, false);
	forget_reported(c);
	c->round_left = 0;
	for (struct hmap_entry *e = hmap_first(&c->scraper.targets); e;
	     e = hmap_next(&c->scraper.targets, e)) {
		struct tinfo *ti = ((struct scrape_target *)e->value)->data;
		if (ti) {
			ti->awaited = true;
			c->round_left++;
		}
	}
	if (c->round_left) {
		/* objects now, status once the engines have answered
		 * (end_round reconciles every key again) */
		c->rec.status_held = true;
		uv_timer_start(&c->round_timer, round_timeout, c->scraper.opts.timeout_ms + 1000,
			       0);
	} else {
		end_round(c, "no engine to scrape");
	}
}

static void on_leader(void *ctx, bool leading)
{
	struct controller *c = ctx;

	set_leading(c, leading);
	if (!leading) {
		c->takeover_pending = false;
		scraper_pause(&c->scraper, true);
		c->round_left = 0;
		c->rec.status_held = false;
		uv_timer_stop(&c->round_timer);
	} else if (!c->synced) {
		/* the Lease came before the caches: the round needs every
		 * engine known, so pump takes over once they are synced
		 * (nothing reconciles before that anyway) */
		c->takeover_pending = true;
	} else {
		take_over(c);
	}
}

/* A Prometheus duration: 15s, 1500ms. */
static void fmt_duration(char *out, size_t n, uint64_t ms)
{
	if (ms % 1000 == 0)
		snprintf(out, n, "%llus", (unsigned long long)(ms / 1000));
	else
		snprintf(out, n, "%llums", (unsigned long long)ms);
}

static void start_reconciler(struct controller *c)
{
	struct iw_defaults d;
	struct render_config rc;
	struct reflector_store store;
	struct buf secret_field;
	struct reflector_opts ro = {.api = KUBE_PATH(KUBE_GV_INFERMON),
				    .resource = "inferenceworkloads"};

	iw_defaults_init(&d);
	d.port = c->o->port_name;
	d.path = c->o->metrics_path;
	d.drift_tolerance = c->o->drift_tolerance;
	if (c->o->scrape_interval_ms) {
		fmt_duration(c->interval, sizeof(c->interval), c->o->scrape_interval_ms);
		d.interval = c->interval;
	}
	if (c->o->scrape_timeout_ms) {
		fmt_duration(c->timeout, sizeof(c->timeout), c->o->scrape_timeout_ms);
		d.timeout = c->timeout;
	}
	render_config_init(&rc);
	if (c->o->secret_namespace)
		rc.secret_namespace = c->o->secret_namespace;
	if (c->o->secret_name)
		rc.secret_name = c->o->secret_name;
	render_dashboard_apply_opts(&rc, &c->o->dashboard);
	reconciler_init(&c->rec, &c->kc, &c->cache, &d, &rc);
	wq_init(&c->rec.q, &c->loop.uv, 0, 200, 300000, NULL, NULL);
	c->rec.runtime = runtime_of;
	c->rec.runtime_ctx = c;
	c->rec.now_ms = loop_ms;
	c->rec.now_ctx = c;
	set_leading(c, c->leading);
	if (c->o->prune_grace_ms)
		c->rec.grace_ms = c->o->prune_grace_ms;

	/* CRs and generated objects are watched in the same namespaces as
	 * pods: a controller scoped to some namespaces must not judge
	 * workloads whose pods it cannot see. */
	objcache_init(&c->rec.crs, on_cr, c);
	for (int k = 0; k < OWNED_COUNT; k++)
		objcache_init(&c->rec.owned[k], on_owned, c);
	/* The Secret is watched by name: RBAC then grants its list and watch
	 * with resourceNames, not every Secret of its namespace (deploy/rbac). */
	buf_init(&secret_field, BUF_MAX_SMALL);
	buf_printf(&secret_field, "metadata.name=%s", rc.secret_name);
	for (size_t i = 0; i < c->nrefl; i++) {
		const char *ns = c->o->nnamespaces ? c->o->namespaces[i] : NULL;
		ro.namespace = ns;
		objcache_store(&c->rec.crs, &store);
		reflector_init(&c->crs_refl[i], &c->kc, &store, &ro);
		reflector_start(&c->crs_refl[i], NULL, NULL);
		for (int k = 0; k < OWNED_COUNT; k++) {
			const char *own_ns = owned_namespace(&rc, (enum owned_kind)k);
			struct reflector_opts oo = {
				.api = kube_owned[k].path,
				.resource = kube_owned[k].resource,
				.label_selector = LABEL_MANAGED_BY "=" MANAGER_NAME,
				.field_selector = k == OWNED_SECRET ? buf_str(&secret_field) : NULL,
				.namespace = own_ns ? own_ns : ns};
			if (!owned_watched(&c->rec, k, i))
				continue; /* one watch of the Secret's (dashboard's) namespace */
			objcache_store(&c->rec.owned[k], &store);
			reflector_init(&c->owned_refl[k][i], &c->kc, &store, &oo);
			reflector_start(&c->owned_refl[k][i], NULL, NULL);
		}
	}
	objcache_init(&c->rec.proms, on_prometheus, c);
	objcache_init(&c->rec.namespaces, on_namespace, c);
	{
		struct reflector_opts po = {.api = KUBE_PATH(KUBE_GV_MONITORING),
					    .resource = "prometheuses"};
		struct reflector_opts no = {.api = KUBE_PATH_CORE, .resource = "namespaces"};
		objcache_store(&c->rec.proms, &store);
		reflector_init(&c->prom_refl, &c->kc, &store, &po);
		reflector_start(&c->prom_refl, NULL, NULL);
		objcache_store(&c->rec.namespaces, &store);
		reflector_init(&c->ns_refl, &c->kc, &store, &no);
		reflector_start(&c->ns_refl, NULL, NULL);
	}
	buf_release(&secret_field);
	c->started_ms = loop_now_ms(&c->loop);
	uv_prepare_init(&c->loop.uv, &c->pump);
	c->pump.data = c;
	uv_prepare_start(&c->pump, pump);
}

/* ---- /metrics ---- */

static long rss_bytes(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	char line[128];
	long pages = 0;

	if (!f)
		return 0;
	if (fgets(line, sizeof(line), f)) {
		const char *p = strchr(line, ' ');
		if (p)
			pages = strtol(p + 1, NULL, 10);
	}
	fclose(f);
	return pages * sysconf(_SC_PAGESIZE);
}

/* The per-engine families: only what the dashboard, the alerts and the
 * docs use (running, waiting and KV usage are the engine's own series,
 * which Prometheus scrapes from the engine). A page of 5,000 pods: each
 * pod's identifying labels are escaped once, not once per sample. */
static void render_targets(struct controller *c, struct buf *b, const char **keys)
{
	static const struct {
		const char *name, *type, *help;
	} fam[] = {
		{"infermon_pod_info", "gauge",
		 "Engine pods infermon scrapes; join on namespace and pod."},
		{"infermon_engine_max_num_seqs", "gauge",
		 "Live max-num-seqs (SGLang: max running requests) and where it was read."},
		{"infermon_engine_kv_max_concurrency", "gauge",
		 "Worst-case sequences the KV cache holds (KV-derived concurrency)."},
		{"infermon_engine_max_model_len", "gauge", "Live maximum model length in tokens."},
		{"infermon_engine_saturation_ratio", "gauge",
		 "Running requests over the live max-num-seqs."},
		{"infermon_engine_limit_drift_ratio", "gauge",
		 "(max-num-seqs - KV-derived concurrency) / KV-derived concurrency."},
		{"infermon_check_active", "gauge", "1 while a check is true for the pod."},
		{"infermon_scrape_up", "gauge", "1 when the last scrape of the engine succeeded."},
		{"infermon_scrape_failures_total", "counter", "Failed scrapes."},
		{"infermon_scrape_samples_skipped", "gauge",
		 "Samples skipped in the last scrape for exceeding a size cap (pods with none are left out)."},
	};
	size_t n = 0, cap = 0;
	struct scrape_target **ts = NULL;
	struct buf ids;
	size_t *at; /* each target's labels in ids, NUL-terminated */

	for (size_t i = 0; keys[i]; i++)
		cap++;
	ts = im_xcalloc(cap ? cap : 1, sizeof(*ts));
	at = im_xcalloc(cap ? cap : 1, sizeof(*at));
	buf_init(&ids, BUF_MAX_LARGE);
	for (size_t i = 0; keys[i]; i++) {
		struct scrape_target *t = scraper_get(&c->scraper, keys[i]);
		const struct tinfo *ti = t ? t->data : NULL;
		/* a follower (or a leader before the first scrape) has nothing to
		 * say about an engine */
		if (!ti || !scraper_current(&c->scraper, t))
			continue;
		at[n] = ids.len;
		ts[n++] = t;
		buf_add(&ids, "namespace=\"", 11);
		expo_label_value(&ids, ti->namespace);
		buf_add(&ids, "\",pod=\"", 7);
		expo_label_value(&ids, ti->pod);
		buf_add(&ids, "\",workload_name=\"", 17);
		expo_label_value(&ids, ti->workload);
		buf_add(&ids, "\"", 2); /* the quote and a NUL */
	}
	for (size_t f = 0; f < sizeof(fam) / sizeof(fam[0]); f++) {
		expo_family(b, fam[f].name, fam[f].type, fam[f].help);
		for (size_t i = 0; i < n && !ids.overflow; i++) {
			const struct scrape_target *t = ts[i];
			const struct tinfo *ti = t->data;
			const struct resolved_limits *l = &t->limits;
			const char *id = ids.ptr + at[i], *be = ti->backend;
			const char *name = fam[f].name;

			switch (f) {
			case 0:
				if (t->engine.nmodels == 0)
					expo_sample_with(b, name, 1, id, "backend", be, "role",
							 ti->role, "model_name", "", NULL);
				for (int m = 0; m < t->engine.nmodels; m++)
					expo_sample_with(b, name, 1, id, "backend", be, "role",
							 ti->role, "model_name",
							 t->engine.models[m], NULL);
				break;
			case 1:
				if (l->max_num_seqs.source != LIMIT_NONE)
					expo_sample_with(b, name, l->max_num_seqs.value, id,
							 "backend", be, "source",
							 limit_source_name(l->max_num_seqs.source),
							 NULL);
				break;
			case 2:
				if (l->kv_concurrency.source != LIMIT_NONE)
					expo_sample_with(
						b, name, l->kv_concurrency.value, id, "source",
						limit_source_name(l->kv_concurrency.source), NULL);
				break;
			case 3:
				if (l->max_model_len.source != LIMIT_NONE)
					expo_sample_with(
						b, name, l->max_model_len.value, id, "source",
						limit_source_name(l->max_model_len.source), NULL);
				break;
			case 4:
				if (t->history.n && l->max_num_seqs.source != LIMIT_NONE)
					expo_sample_with(b, name, t->checks.saturation, id, NULL);
				break;
			case 5:
				if (l->max_num_seqs.source != LIMIT_NONE &&
				    l->kv_concurrency.source != LIMIT_NONE)
					expo_sample_with(b, name, t->checks.drift, id, NULL);
				break;
			case 6:
				for (int k = 0; k < CHECK_COUNT; k++)
					expo_sample_with(b, name, t->checks.active[k] ? 1 : 0, id,
							 "check", check_name((enum check_kind)k),
							 NULL);
				break;
			case 7:
				expo_sample_with(b, name, t->up ? 1 : 0, id, NULL);
				break;
			case 8:
				expo_sample_with(b, name, (double)t->failures, id, NULL);
				break;
			case 9:
				if (t->samples_skipped)
					expo_sample_with(b, name, (double)t->samples_skipped, id,
							 NULL);
				break;
			}
		}
	}
	if (ids.overflow) /* the page says so rather than lying by omission */
		log_kv(LOG_WARN, "per-engine series left out of /metrics: labels over the cap",
		       NULL);
	buf_release(&ids);
	im_free(at);
	im_free(ts);
}

static void render_self(struct controller *c, struct buf *b)
{
	struct reflector_stats s = {0};
	bool synced = true;

	for (size_t i = 0; i < c->nrefl; i++) {
		const struct reflector_stats *r = &c->refl[i].stats;
		s.lists += r->lists, s.relists += r->relists, s.gone += r->gone;
		s.watches += r->watches, s.events += r->events, s.failures += r->failures;
		s.decode_errors += r->decode_errors;
		synced = synced && c->refl[i].synced;
	}
	expo_family(b, "infermon_build_info", "gauge", "Version of the running controller.");
	expo_sample(b, "infermon_build_info", 1, "version", INFERMON_VERSION, "commit",
		    INFERMON_GIT_COMMIT, NULL);
	expo_family(b, "infermon_cache_synced", "gauge",
		    "1 once every pod watch completed its first list.");
	expo_sample(b, "infermon_cache_synced", synced ? 1 : 0, NULL);
	expo_family(b, "infermon_cache_pods", "gauge", "Labelled pods in the cache.");
	expo_sample(b, "infermon_cache_pods", (double)podcache_pod_count(&c->cache), NULL);
	expo_family(b, "infermon_cache_workloads", "gauge", "Workloads in the cache.");
	expo_sample(b, "infermon_cache_workloads", (double)podcache_workload_count(&c->cache),
		    NULL);
	expo_family(b, "infermon_scrape_targets", "gauge", "Engines being scraped.");
	expo_sample(b, "infermon_scrape_targets", (double)c->scraper.targets.count, NULL);
	expo_family(b, "infermon_scrapes_total", "counter", "Completed scrapes.");
	expo_sample(b, "infermon_scrapes_total", (double)c->scrapes_done, NULL);
	expo_family(
		b, "infermon_scrapes_late_total", "counter",
		"Scrapes started more than a tenth of their interval after they were due (slots or CPU short).");
	expo_sample(b, "infermon_scrapes_late_total", (double)c->scraper.late, NULL);
	expo_family(b, "infermon_scrape_interval_length_seconds", "histogram",
		    "Time between two scrape starts of an engine, by configured interval.");
	for (size_t i = 0; i < c->scraper.nhist; i++) {
		const struct scraper_interval_hist *h = &c->scraper.hist[i];
		char iv[32], le[32];
		fmt_duration(iv, sizeof(iv), h->interval_ms);
		for (int k = 0; k < SCRAPER_INTERVAL_BUCKETS; k++) {
			snprintf(le, sizeof(le), "%g",
				 scraper_interval_bucket_factor[k] * (double)h->interval_ms / 1000);
			expo_sample(b, "infermon_scrape_interval_length_seconds_bucket",
				    (double)h->buckets[k], "interval", iv, "le", le, NULL);
		}
		expo_sample(b, "infermon_scrape_interval_length_seconds_bucket", (double)h->count,
			    "interval", iv, "le", "+Inf", NULL);
		expo_sample(b, "infermon_scrape_interval_length_seconds_sum", h->sum_s, "interval",
			    iv, NULL);
		expo_sample(b, "infermon_scrape_interval_length_seconds_count", (double)h->count,
			    "interval", iv, NULL);
	}
	expo_family(b, "infermon_watch_requests_total", "counter",
		    "Pod WATCH requests (restarts included).");
	expo_sample(b, "infermon_watch_requests_total", (double)s.watches, NULL);
	expo_family(b, "infermon_watch_relists_total", "counter",
		    "Full relists after the first list.");
	expo_sample(b, "infermon_watch_relists_total", (double)s.relists, NULL);
	expo_family(b, "infermon_watch_gone_total", "counter",
		    "410 Gone answers (resource version compacted).");
	expo_sample(b, "infermon_watch_gone_total", (double)s.gone, NULL);
	expo_family(b, "infermon_watch_failures_total", "counter", "Failed list/watch requests.");
	expo_sample(b, "infermon_watch_failures_total", (double)s.failures, NULL);
	expo_family(b, "infermon_watch_events_total", "counter", "Watch events applied.");
	expo_sample(b, "infermon_watch_events_total", (double)s.events, NULL);
	expo_family(
		b, "infermon_events_total", "counter",
		"Kubernetes Events: Event objects posted, failed or dropped; occurrences folded into a waiting Event.");
	expo_sample(b, "infermon_events_total", (double)c->events.posted, "outcome", "posted",
		    NULL);
	expo_sample(b, "infermon_events_total", (double)c->events.failed, "outcome", "failed",
		    NULL);
	expo_sample(b, "infermon_events_total", (double)c->events.dropped, "outcome", "dropped",
		    NULL);
	expo_sample(b, "infermon_events_total", (double)c->events.folded, "outcome", "folded",
		    NULL);
	expo_family(b, "infermon_event_retries_total", "counter",
		    "Event posts retried after a failure that may pass.");
	expo_sample(b, "infermon_event_retries_total", (double)c->events.retries, NULL);
	expo_family(b, "infermon_workqueue_depth", "gauge", "Keys waiting to be reconciled.");
	expo_sample(b, "infermon_workqueue_depth", (double)wq_len(&c->rec.q), NULL);
	expo_family(b, "infermon_reconciles_total", "counter",
		    "Reconciles run, and those that wrote nothing.");
	expo_sample(b, "infermon_reconciles_total", (double)c->rec.reconciles, "result", "all",
		    NULL);
	expo_sample(b, "infermon_reconciles_total", (double)c->rec.noops, "result", "noop", NULL);
	expo_family(b, "infermon_reconcile_duration_seconds", "histogram",
		    "Time from taking a key off the queue to the answer of its last write.");
	{
		uint64_t cum = 0;
		char le[32];
		for (int i = 0; i <= RECONCILE_BUCKETS; i++) {
			cum += c->rec.duration_counts[i];
			if (i < RECONCILE_BUCKETS)
				snprintf(le, sizeof(le), "%g", reconcile_buckets[i]);
			else
				snprintf(le, sizeof(le), "+Inf");
			expo_sample(b, "infermon_reconcile_duration_seconds_bucket", (double)cum,
				    "le", le, NULL);
		}
		expo_sample(b, "infermon_reconcile_duration_seconds_sum", c->rec.duration_sum,
			    NULL);
		expo_sample(b, "infermon_reconcile_duration_seconds_count", (double)cum, NULL);
	}
	expo_family(b, "infermon_reconcile_writes_total", "counter",
		    "Writes by the reconciler, by kind.");
	expo_sample(b, "infermon_reconcile_writes_total", (double)c->rec.applies, "kind", "apply",
		    NULL);
	expo_sample(b, "infermon_reconcile_writes_total", (double)c->rec.deletes, "kind", "delete",
		    NULL);
	expo_sample(b, "infermon_reconcile_writes_total", (double)c->rec.status_writes, "kind",
		    "status", NULL);
	expo_family(b, "infermon_reconcile_failures_total", "counter",
		    "Failed writes of the reconciler.");
	expo_sample(b, "infermon_reconcile_failures_total", (double)c->rec.failures, NULL);
	expo_family(b, "infermon_api_requests_total", "counter",
		    "Requests to the API server, by verb class.");
	expo_sample(b, "infermon_api_requests_total", (double)(c->kc.requests - c->kc.writes),
		    "verb", "read", NULL);
	expo_sample(b, "infermon_api_requests_total", (double)c->kc.writes, "verb", "write", NULL);
	expo_family(b, "infermon_leader", "gauge",
		    "1 while this replica holds the leader Lease and writes.");
	expo_sample(b, "infermon_leader", c->leading ? 1 : 0, "identity", c->identity, NULL);
	if (c->o->leader_elect) {
		expo_family(b, "infermon_leader_lease_transitions", "gauge",
			    "leaseTransitions of the Lease as last read.");
		expo_sample(b, "infermon_leader_lease_transitions",
			    (double)c->le.view.rec.transitions, NULL);
		expo_family(b, "infermon_leader_changes_total", "counter",
			    "Times this replica started or stopped leading.");
		expo_sample(b, "infermon_leader_changes_total", (double)c->le.acquired, "change",
			    "acquired", NULL);
		expo_sample(b, "infermon_leader_changes_total", (double)c->le.lost, "change",
			    "lost", NULL);
		expo_family(
			b, "infermon_leader_lease_requests_total", "counter",
			"Requests for the Lease (not in infermon_api_requests_total), and those that failed.");
		expo_sample(b, "infermon_leader_lease_requests_total", (double)c->le.requests,
			    "result", "all", NULL);
		expo_sample(b, "infermon_leader_lease_requests_total", (double)c->le.failures,
			    "result", "failed", NULL);
	}
	expo_family(b, "infermon_process_resident_memory_bytes", "gauge",
		    "Resident memory of the controller.");
	expo_sample(b, "infermon_process_resident_memory_bytes", (double)rss_bytes(), NULL);
}

/* The /metrics page, built when a request finds the last one older than
 * METRICS_MAX_AGE_MS (httpserver_set_metrics_refresh): at 5,000 engines it
 * is megabytes, and building it every few seconds for nobody was the top
 * symbol of the scale profile (docs/scale.md). */
static void build_metrics(uv_async_t *h)
{
	struct controller *c = h->data;
	struct buf b;
	const char **keys;

	buf_init(&b, BUF_MAX_LARGE);
	keys = hmap_sorted_keys(&c->scraper.targets);
	render_self(c, &b);
	render_targets(c, &b, keys);
	im_free(keys);
	if (b.overflow) /* the last whole page stays up rather than a cut one */
		log_kv(LOG_ERROR, "own /metrics page over its cap; serving the previous one", "cap",
		       "64 MiB", NULL);
	else
		httpserver_publish_metrics(c->hs, buf_str(&b), b.len);
	buf_release(&b);
}

/* On the server's thread: only a signal (httpserver.h). */
static void ask_metrics(void *data)
{
	uv_async_send(data);
}

/* Every PUBLISH_MS: liveness and readiness. */
static void publish(uv_timer_t *h)
{
	struct controller *c = h->data;
	bool synced = c->nrefl > 0;

	for (size_t i = 0; i < c->nrefl; i++)
		synced = synced && c->refl[i].synced;
	/* every 30 s, pages freed inside the heap go back to the system
	 * (watch bodies, JSON trees and /metrics pages come and go) */
	if (++c->publishes % 15 == 0)
		malloc_trim(0);
	if (!c->hs)
		return;
	httpserver_heartbeat(c->hs);
	httpserver_set_ready(c->hs, synced, synced ? NULL : "pod cache not synced yet");
}

/* ---- lifecycle ---- */

static void crd_done(struct http_call *call, im_result transport, void *data)
{
	struct controller *c = data;
	struct buf err;
	im_result result;

	buf_init(&err, 4096);
	result = kubeclient_result(call, transport, &err);
	c->crd_call = NULL;
	http_call_free(call);
	if (result == IM_NOTFOUND)
		log_kv(LOG_WARN,
		       "InferenceWorkload CRD (" KUBE_GV_INFERMON ") is not installed; "
		       "handling labelled pods with the controller defaults",
		       "hint", "kubectl apply -k crds/", NULL);
	else if (result)
		log_kv(LOG_WARN, "cannot check for the InferenceWorkload CRD", "error",
		       buf_str(&err), NULL);
	buf_release(&err);
}

/* --grafana-operator without grafana-operator's CRD is a configuration
 * error: say which CRD is missing and stop (exit 1). */
static void gd_crd_done(struct http_call *call, im_result transport, void *data)
{
	struct controller *c = data;
	struct buf err;
	im_result result;
	bool found = false;

	buf_init(&err, 4096);
	result = kubeclient_result(call, transport, &err);
	if (result == IM_OK) {
		const struct buf *body = http_call_body_buf(call);
		cJSON *list = cJSON_ParseWithLength(buf_str(body), body->len), *it;
		cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(list, "resources"))
		{
			const char *name = obj_str(it, "name", NULL);
			found = found || (name && strcmp(name, "grafanadashboards") == 0);
		}
		cJSON_Delete(list);
	}
	c->gd_crd_call = NULL;
	http_call_free(call);
	if (result == IM_NOTFOUND || (result == IM_OK && !found)) {
		log_kv(LOG_ERROR,
		       "--grafana-operator: the GrafanaDashboard CRD (grafanadashboards.grafana.integreatly.org, "
		       "version v1beta1) is not installed",
		       "hint", "install grafana-operator's CRDs, or run without --grafana-operator",
		       NULL);
		c->exit_code = 1;
		loop_stop(&c->loop);
	} else if (result) {
		log_kv(LOG_WARN, "cannot check for the GrafanaDashboard CRD", "error",
		       buf_str(&err), NULL);
	}
	buf_release(&err);
}

/* Every reflector the controller has: pods, CRs, generated objects (also
 * the unused slots, which are zeroed and safe to stop and release),
 * Prometheus objects and Namespaces. */
static void each_reflector(struct controller *c, void (*fn)(struct reflector *))
{
	for (size_t i = 0; i < c->nrefl; i++) {
		fn(&c->refl[i]);
		fn(&c->crs_refl[i]);
		for (int k = 0; k < OWNED_COUNT; k++)
			fn(&c->owned_refl[k][i]);
	}
	fn(&c->prom_refl);
	fn(&c->ns_refl);
}

static void on_stop(void *arg)
{
	struct controller *c = arg;

	log_kv(LOG_INFO, "stopping", NULL);
	set_leading(c, false);
	if (c->o->leader_elect)
		leader_stop(&c->le);
	each_reflector(c, reflector_stop);
	scraper_stop(&c->scraper);
	c->rec.stopped = true;
	wq_shutdown(&c->rec.q);
	uv_prepare_stop(&c->pump);
	loop_close_handle((uv_handle_t *)&c->pump, NULL);
	if (c->crd_call) {
		http_call_free(c->crd_call);
		c->crd_call = NULL;
	}
	if (c->gd_crd_call) {
		http_call_free(c->gd_crd_call);
		c->gd_crd_call = NULL;
	}
	events_stop(&c->events);
	uv_signal_stop(&c->sigint);
	uv_signal_stop(&c->sigterm);
	loop_close_handle((uv_handle_t *)&c->sigint, NULL);
	loop_close_handle((uv_handle_t *)&c->sigterm, NULL);
	loop_close_handle((uv_handle_t *)&c->publish, NULL);
	if (c->hs) { /* no request signals the handle once this returns */
		httpserver_set_metrics_refresh(c->hs, NULL, NULL, 0, 0);
		loop_close_handle((uv_handle_t *)&c->metrics_wanted, NULL);
	}
	uv_timer_stop(&c->round_timer);
	loop_close_handle((uv_handle_t *)&c->round_timer, NULL);
	http_release(&c->http);
}

static void resigned(void *ctx)
{
	loop_stop(&((struct controller *)ctx)->loop);
}

static void on_signal(uv_signal_t *h, int signum)
{
	struct controller *c = h->data;

	log_kv(LOG_INFO, "signal received", "signal", signum == SIGTERM ? "SIGTERM" : "SIGINT",
	       NULL);
	/* the leader hands the Lease back first (1 s at most), so a follower
	 * takes over at its next retry rather than after the lease expires */
	if (!c->stopping && c->o->leader_elect) {
		c->stopping = true;
		set_leading(c, false);
		if (leader_resign(&c->le, 1000, resigned, c) == IM_OK)
			return;
	}
	loop_stop(&c->loop);
}

int controller_run(const struct controller_opts *o)
{
	struct controller *c;
	struct kubeconfig cfg;
	struct buf err;
	struct scraper_opts so = {0};
	int rc = 0;

	/* The /metrics page of a large fleet is megabytes, built and copied
	 * every 2 s. glibc raises its mmap threshold to the size of each big
	 * block freed, after which such pages come from the heap and stay
	 * resident through fragmentation; a fixed threshold keeps big blocks
	 * in mmap (returned when freed). Two arenas: the loop and the HTTP
	 * server thread. */
	mallopt(M_MMAP_THRESHOLD, 256 * 1024);
	mallopt(M_ARENA_MAX, 2);
	kubeconfig_init(&cfg);
	buf_init(&err, 4096);
	if (kubeconfig_load_default(&cfg, o->kubeconfig, o->context, &err)) {
		log_kv(LOG_ERROR, "cannot load API server configuration", "error", buf_str(&err),
		       NULL);
		kubeconfig_release(&cfg);
		buf_release(&err);
		return 1;
	}
	c = im_xcalloc(1, sizeof(*c));
	c->o = o;
	if (loop_init(&c->loop) || http_init(&c->http, &c->loop)) {
		log_kv(LOG_ERROR, "cannot initialise the event loop", NULL);
		kubeconfig_release(&cfg);
		rc = 1;
		goto out;
	}
	if (o->metrics_port >= 0) {
		buf_reset(&err);
		if (httpserver_start(&c->hs, o->metrics_bind, o->metrics_port, &err)) {
			log_kv(LOG_ERROR, "cannot start the metrics server", "error", buf_str(&err),
			       NULL);
			kubeconfig_release(&cfg);
			http_release(&c->http);
			loop_stop(&c->loop);
			loop_run(&c->loop);
			loop_release(&c->loop);
			rc = 1;
			goto out;
		}
		{
			char port[16];
			snprintf(port, sizeof(port), "%d", httpserver_port(c->hs));
			log_kv(LOG_INFO, "serving /metrics, /healthz, /readyz", "address",
			       o->metrics_bind, "port", port, NULL);
		}
	}
	log_kv(LOG_INFO, "starting", "version", INFERMON_VERSION, "server", cfg.server, "source",
	       cfg.source, "context", cfg.context ? cfg.context : "", NULL);
	kubeclient_init(&c->kc, &c->http, &cfg);
	events_init(&c->events, &c->kc, o->instance);
	hmap_init(&c->reported);
	podcache_init(&c->cache, on_workload, c);
	so.interval_ms = o->scrape_interval_ms;
	so.timeout_ms = o->scrape_timeout_ms;
	check_opts_default(&so.checks);
	so.checks.drift_tolerance = o->drift_tolerance;
	scraper_init(&c->scraper, &c->http, &so, on_scrape, c);
	scraper_pause(&c->scraper, o->leader_elect); /* until this replica leads */
	scraper_start(&c->scraper);
	uv_timer_init(&c->loop.uv, &c->round_timer);
	c->round_timer.data = c;
	c->loop.on_stop = on_stop;
	c->loop.on_stop_arg = c;
	uv_signal_init(&c->loop.uv, &c->sigint);
	uv_signal_init(&c->loop.uv, &c->sigterm);
	c->sigint.data = c->sigterm.data = c;
	uv_signal_start(&c->sigint, on_signal, SIGINT);
	uv_signal_start(&c->sigterm, on_signal, SIGTERM);
	signal(SIGPIPE, SIG_IGN);
	uv_timer_init(&c->loop.uv, &c->publish);
	c->publish.data = c;
	uv_timer_start(&c->publish, publish, 0, PUBLISH_MS);
	if (c->hs) {
		uv_async_init(&c->loop.uv, &c->metrics_wanted, build_metrics);
		c->metrics_wanted.data = c;
		httpserver_set_metrics_refresh(c->hs, ask_metrics, &c->metrics_wanted,
					       METRICS_MAX_AGE_MS, METRICS_WAIT_MS);
	}

	c->crd_call = kubeclient_call(&c->kc, "GET", KUBE_PATH(KUBE_GV_INFERMON));
	http_call_timeouts(c->crd_call, 10000, 30000, 0);
	if (http_call_start(c->crd_call, crd_done, c)) {
		http_call_free(c->crd_call);
		c->crd_call = NULL;
	}
	if (o->dashboard.grafana_operator && !o->dashboard.off) {
		c->gd_crd_call = kubeclient_call(&c->kc, "GET", KUBE_PATH(KUBE_GV_GRAFANA));
		http_call_timeouts(c->gd_crd_call, 10000, 30000, 0);
		if (http_call_start(c->gd_crd_call, gd_crd_done, c)) {
			http_call_free(c->gd_crd_call);
			c->gd_crd_call = NULL;
		}
	}
	for (size_t i = 0; i < (o->nnamespaces ? o->nnamespaces : 1) && i < MAX_REFLECTORS; i++) {
		struct reflector_opts ro = {.namespace = o->nnamespaces ? o->namespaces[i] : NULL,
					    .label_selector = POD_SELECTOR};
		struct reflector_store store;
		podcache_store(&c->cache, &store);
		reflector_init(&c->refl[i], &c->kc, &store, &ro);
		reflector_start(&c->refl[i], NULL, NULL);
		c->nrefl++;
	}
	c->identity = leader_identity_new();
	c->leading = !o->leader_elect;
	start_reconciler(c); /* its informers follow the pod reflectors' namespaces */
	if (o->leader_elect) {
		struct leader_opts lo = {.namespace = o->leader_namespace,
					 .name = o->leader_name ? o->leader_name
								: LEADER_DEFAULT_NAME,
					 .identity = c->identity,
					 .lease_duration_ms = o->lease_duration_ms,
					 .renew_deadline_ms = o->renew_deadline_ms,
					 .retry_period_ms = o->retry_period_ms};
		if (!lo.namespace)
			lo.namespace = getenv("POD_NAMESPACE") && *getenv("POD_NAMESPACE")
					       ? getenv("POD_NAMESPACE")
					       : LEADER_DEFAULT_NAMESPACE;
		leader_init(&c->le, &c->kc, &c->loop, &lo, on_leader, c);
		leader_start(&c->le);
	} else {
		log_kv(LOG_INFO, "leader election disabled; this replica writes", "identity",
		       c->identity, NULL);
	}

	loop_run(&c->loop);
	loop_release(&c->loop);
	httpserver_stop(c->hs);
	for (struct hmap_entry *e = hmap_first(&c->scraper.targets); e;
	     e = hmap_next(&c->scraper.targets, e))
		tinfo_free(((struct scrape_target *)e->value)->data);
	scraper_release(&c->scraper);
	hmap_release(&c->reported);
	each_reflector(c, reflector_release);
	reconciler_release(&c->rec);
	if (o->leader_elect)
		leader_release(&c->le);
	im_free(c->identity);
	podcache_release(&c->cache);
	kubeclient_release(&c->kc);
	log_kv(LOG_INFO, "stopped", NULL);
	rc = c->exit_code;
out:
	buf_release(&err);
	im_free(c);
	return rc;
}
