#include "targets.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "kube.h"
#include "log.h"

void targets_init(struct targets *t, struct scraper *s, struct reconciler *rec,
		  double drift_tolerance, targets_round_cb round_done, void *ctx)
{
	memset(t, 0, sizeof(*t));
	t->scraper = s;
	t->rec = rec;
	t->drift_tolerance = drift_tolerance;
	t->round_done = round_done;
	t->round_ctx = ctx;
	hmap_init(&t->reported);
	hmap_init(&t->by_workload);
}

static void workload_key(struct buf *k, const struct target_info *ti)
{
	buf_reset(k);
	obj_key(k, ti->namespace, ti->workload);
}

/* ti joins its workload's list. */
static void wl_link(struct targets *t, struct target_info *ti)
{
	struct buf k;
	struct target_info *head;

	buf_init(&k, BUF_MAX_SMALL);
	workload_key(&k, ti);
	head = hmap_get(&t->by_workload, k.ptr);
	ti->wl_prev = NULL;
	ti->wl_next = head;
	if (head)
		head->wl_prev = ti;
	hmap_put(&t->by_workload, k.ptr, ti);
	buf_release(&k);
}

/* ti leaves it. */
static void wl_unlink(struct targets *t, struct target_info *ti)
{
	if (ti->wl_prev) {
		ti->wl_prev->wl_next = ti->wl_next;
	} else {
		struct buf k;

		buf_init(&k, BUF_MAX_SMALL);
		workload_key(&k, ti);
		if (ti->wl_next)
			hmap_put(&t->by_workload, k.ptr, ti->wl_next);
		else
			hmap_del(&t->by_workload, k.ptr);
		buf_release(&k);
	}
	if (ti->wl_next)
		ti->wl_next->wl_prev = ti->wl_prev;
	ti->wl_prev = ti->wl_next = NULL;
}

/* A target_info and its strings in one block (thousands of targets). */
static struct target_info *info_new(const char *ns, const char *pod, const char *uid,
				    const char *workload, const char *backend, const char *role)
{
	const char *src[] = {ns, pod, uid, workload, backend, role};
	size_t len[6], total = 0;
	struct target_info *ti;
	char **dst[6], *p;

	for (int i = 0; i < 6; i++)
		total += (len[i] = strlen(src[i])) + 1;
	ti = im_xcalloc(1, sizeof(*ti) + total);
	dst[0] = &ti->namespace;
	dst[1] = &ti->pod;
	dst[2] = &ti->uid;
	dst[3] = &ti->workload;
	dst[4] = &ti->backend;
	dst[5] = &ti->role;
	p = (char *)(ti + 1);
	for (int i = 0; i < 6; i++) {
		memcpy(p, src[i], len[i] + 1);
		*dst[i] = p;
		p += len[i] + 1;
	}
	return ti;
}

static void info_free(struct target_info *ti)
{
	im_free(ti);
}

void targets_release(struct targets *t)
{
	for (struct hmap_entry *e = hmap_first(&t->scraper->targets); e;
	     e = hmap_next(&t->scraper->targets, e)) {
		struct scrape_target *st = e->value;
		info_free(st->data);
		st->data = NULL;
	}
	hmap_release(&t->reported);
	hmap_release(&t->by_workload);
}

void targets_set_events(struct targets *t, struct events *events)
{
	t->events = events;
}

const struct target_info *targets_info(const struct scrape_target *st)
{
	return st ? st->data : NULL;
}

static void post_event(struct targets *t, const struct target_info *ti, bool warning,
		       const char *reason, const char *note)
{
	struct event_ref about = {KUBE_GV_CORE, "Pod", ti->namespace, ti->pod, ti->uid};

	if (t->events) /* followers would post duplicates */
		events_post(t->events, &about, warning, "Check", reason, note);
}

/* Check k of one pod turned true (+1) or cleared (-1), or the pod that had
 * it went away (-1, dropped), or a pod's first scrape found it false (0).
 * The Event goes to the first pod of the workload that shows it (Warning,
 * or Normal for MetricsMissing, a fact about the engine version), and
 * <check>Resolved when a scrape finds that no pod of the workload has it
 * any more. Which pods have it is in the logs, the CR's status and
 * infermon_check_active.
 *
 * A pod that goes away did not clear the check: when the last pod showing
 * it is dropped (a rolling restart, a scale-down), the workload's entry
 * stays, orphaned, and no Event is posted about the pod being deleted. The
 * next pod of the workload to show the check carries the same fact on
 * without a new Event; the next one first scraped without it resolves it.
 * The entry's value is the count of pods showing it, shifted left by one,
 * with the orphaned flag in bit 0. */
#define REPORTED_ORPHAN 1u

static void check_changed(struct targets *t, const struct target_info *ti, enum check_kind k,
			  int delta, const char *message, bool dropped)
{
	struct buf key, note;
	uintptr_t v, n;
	bool orphan, announce = false, resolve = false;
	const char *name = check_name(k);

	buf_init(&key, BUF_MAX_SMALL);
	buf_printf(&key, "%s/%s/%s", ti->namespace, ti->workload, name);
	v = (uintptr_t)hmap_get(&t->reported, key.ptr);
	n = v >> 1;
	orphan = v & REPORTED_ORPHAN; /* only ever with n == 0 */
	if (delta == 0) {
		/* a new pod first scraped without it resolves an orphan */
		resolve = orphan;
		if (resolve)
			hmap_del(&t->reported, key.ptr);
	} else if (delta > 0 || n > 0) { /* a -1 never counted changes nothing */
		n = delta > 0 ? n + 1 : n - 1;
		announce = delta > 0 && n == 1 && !orphan;
		resolve = delta < 0 && n == 0 && !dropped;
		orphan = delta < 0 && n == 0 && dropped;
		if (n || orphan)
			hmap_put(&t->reported, key.ptr,
				 (void *)((n << 1) | (orphan ? REPORTED_ORPHAN : 0)));
		else
			hmap_del(&t->reported, key.ptr);
	}
	buf_init(&note, 1024);
	if (announce) {
		buf_printf(&note, "%s (workload %s: one Event while any of its pods has it)",
			   message, ti->workload);
		post_event(t, ti, k != CHECK_METRICS_MISSING, name, buf_str(&note));
	} else if (resolve) {
		char reason[64];
		snprintf(reason, sizeof(reason), "%sResolved", name);
		buf_printf(&note, "no pod of workload %s has %s any more", ti->workload, name);
		post_event(t, ti, false, reason, buf_str(&note));
	}
	buf_release(&note);
	buf_release(&key);
}

/* ti's scrape, which the takeover round may wait for, is in. */
static void round_scraped(struct targets *t, struct target_info *ti)
{
	if (!ti || !ti->awaited)
		return;
	ti->awaited = false;
	if (t->round_left && --t->round_left == 0 && t->round_done)
		t->round_done(t->round_ctx);
}

/* Frees ti, taking its pod out of its workload's check counts and out of
 * the takeover round. */
static void info_drop(struct targets *t, struct target_info *ti)
{
	if (!ti)
		return;
	wl_unlink(t, ti);
	for (int k = 0; k < CHECK_COUNT; k++)
		if (ti->active[k])
			check_changed(t, ti, (enum check_kind)k, -1, NULL, true);
	round_scraped(t, ti);
	info_free(ti);
}

static void remove_target(struct targets *t, const char *key)
{
	struct scrape_target *st = scraper_get(t->scraper, key);

	if (!st)
		return;
	info_drop(t, st->data);
	st->data = NULL;
	scraper_remove_target(t->scraper, key);
}

/* ---- scrape results ---- */

void targets_scraped(void *ctx, struct scrape_target *st)
{
	struct targets *t = ctx;
	struct target_info *ti = st->data;
	char nscrape[24];
	bool changed = false;

	t->scrapes_done++;
	if (!ti)
		return;
	round_scraped(t, ti);
	if (st->limits.max_num_seqs.value != ti->limit ||
	    st->limits.max_num_seqs.source != ti->limit_source) {
		ti->limit = st->limits.max_num_seqs.value;
		ti->limit_source = st->limits.max_num_seqs.source;
		changed = true;
	}
	if (st->engine.bounds != ti->bounds) { /* SLOMeasurable may change */
		ti->bounds = st->engine.bounds;
		changed = true;
	}
	for (int k = 0; k < CHECK_COUNT; k++) {
		bool now = st->checks.active[k];
		const char *name = check_name((enum check_kind)k);

		if (ti->seen && now == ti->active[k])
			continue;
		if (!ti->seen && !now) {
			ti->active[k] = false;
			check_changed(t, ti, (enum check_kind)k, 0, NULL, false);
			continue;
		}
		ti->active[k] = now;
		changed = true;
		snprintf(nscrape, sizeof(nscrape), "%llu", (unsigned long long)st->scrapes);
		log_kv(now && k != CHECK_METRICS_MISSING ? LOG_WARN : LOG_INFO,
		       now ? "check became true" : "check cleared", "namespace", ti->namespace,
		       "pod", ti->pod, "workload", ti->workload, "check", name, "scrape", nscrape,
		       "message", scraper_check_message(st, (enum check_kind)k), NULL);
		check_changed(t, ti, (enum check_kind)k, now ? 1 : -1,
			      scraper_check_message(st, (enum check_kind)k), false);
	}
	if (!ti->seen || changed) {
		reconciler_scrape_changed(t->rec, ti->namespace, ti->workload);
	} else {
		double load[5] = {st->up, st->engine.running, st->engine.waiting,
				  round(st->engine.kv_usage * 100) / 100, st->engine.nmodels};
		if (memcmp(load, ti->load, sizeof(load)) != 0)
			reconciler_load_changed(t->rec, ti->namespace, ti->workload);
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

/* Why pod p (eligible or not) is not scraped, for the debug log. */
static void log_unscraped(const struct pod *p, const char *key, enum backend b, int port,
			  const struct iwspec *spec)
{
	if (!eligible(p))
		return;
	if (b == BACKEND_UNKNOWN)
		log_kv(LOG_DEBUG, "pod has an unknown backend; not scraped", "pod", key, "backend",
		       pod_backend(p), NULL);
	else if (port == 0)
		log_kv(LOG_DEBUG, "pod has no metrics port; not scraped", "pod", key, "port",
		       spec->port, NULL);
	else
		log_kv(LOG_DEBUG,
		       "engine needs credentials from a Secret; the built-in scraper reads no "
		       "Secrets, Prometheus scrapes it through the generated monitor",
		       "pod", key, NULL);
}

static void sync_pod(struct targets *t, const struct workload *w, const struct pod *p)
{
	struct buf key, url;
	struct scrape_target *st;
	struct target_info *ti;
	enum backend b = backend_parse(pod_backend(p));
	/* the workload's CR decides the endpoint, as for the generated monitors;
	 * spec is the reconciler's and is not used after info_drop (which may
	 * end the takeover round, and the round's end drops the index) */
	const struct iwspec *spec = reconciler_spec(t->rec, w->namespace, w->name, b);
	bool has_cr = *spec->name != '\0';
	uint64_t seqs = 0;
	int port;

	buf_init(&key, BUF_MAX_SMALL);
	buf_init(&url, BUF_MAX_SMALL);
	pod_key(p, &key);
	if (spec->backend != BACKEND_UNKNOWN)
		b = spec->backend;
	port = pod_port(p, spec->port);
	if (!eligible(p) || b == BACKEND_UNKNOWN || port == 0 || spec->bearer.name ||
	    spec->tls_ca.name) {
		log_unscraped(p, key.ptr, b, port, spec);
		remove_target(t, key.ptr);
		goto out;
	}
	if (strchr(p->pod_ip, ':'))
		buf_printf(&url, "%s://[%s]:%d", spec->https ? "https" : "http", p->pod_ip, port);
	else
		buf_printf(&url, "%s://%s:%d", spec->https ? "https" : "http", p->pod_ip, port);
	pod_arg_uint(p, backend_is_sglang(b) ? "--max-running-requests" : "--max-num-seqs",
		     1u << 24, &seqs);
	st = scraper_set_target(t->scraper, key.ptr, url.ptr, spec->path, b, (double)seqs);
	/* a workload without a CR follows the controller's flags */
	st->tolerance = has_cr ? spec->drift_tolerance : t->drift_tolerance;
	st->interval_ms = has_cr ? spec->interval_ms : 0;
	st->timeout_ms = has_cr ? spec->timeout_ms : 0;
	st->tls_insecure = spec->https && spec->tls_insecure;
	ti = st->data;
	if (!ti || strcmp(ti->workload, w->name) != 0 || strcmp(ti->uid, p->uid) != 0) {
		info_drop(t, ti);
		ti = info_new(p->namespace, p->name, p->uid, w->name, backend_name(b), pod_role(p));
		st->data = ti;
		wl_link(t, ti);
	}
out:
	buf_release(&key);
	buf_release(&url);
}

void targets_sync_workload(struct targets *t, const struct workload *w)
{
	struct buf k;
	struct target_info *ti, *next;

	for (struct hmap_entry *e = hmap_first(&w->pods); e; e = hmap_next(&w->pods, e))
		sync_pod(t, w, e->value);
	/* targets of this workload whose pod left it */
	buf_init(&k, BUF_MAX_SMALL);
	obj_key(&k, w->namespace, w->name);
	for (ti = hmap_get(&t->by_workload, k.ptr); ti; ti = next) {
		next = ti->wl_next; /* remove_target frees ti, and only ti */
		buf_reset(&k);
		obj_key(&k, ti->namespace, ti->pod);
		if (!hmap_get(&w->pods, k.ptr))
			remove_target(t, k.ptr);
	}
	buf_release(&k);
}

void targets_runtime(void *ctx, const char *ns, const char *pod, struct pod_runtime *out)
{
	struct targets *t = ctx;
	struct buf key;
	struct scrape_target *st;

	buf_init(&key, BUF_MAX_SMALL);
	obj_key(&key, ns, pod);
	st = scraper_get(t->scraper, key.ptr);
	buf_release(&key);
	memset(out, 0, sizeof(*out));
	if (!st || !scraper_current(t->scraper, st))
		return;
	out->known = true;
	out->limits = st->limits;
	out->up = st->up;
	out->running = st->engine.running;
	out->waiting = st->engine.waiting;
	out->kv_usage = st->engine.kv_usage;
	out->bounds = st->engine.bounds;
	out->engines = st->engine.engines > 1 ? st->engine.engines : 1;
	if (st->have_sinfo && st->sinfo.dp_size > 1)
		out->engines = st->sinfo.dp_size;
	out->nmodels = st->engine.nmodels < ENGINE_MAX_MODELS ? st->engine.nmodels
							      : ENGINE_MAX_MODELS;
	for (int m = 0; m < out->nmodels; m++)
		snprintf(out->models[m], sizeof(out->models[m]), "%s", st->engine.models[m]);
	for (int k = 0; k < CHECK_COUNT; k++) {
		out->active[k] = st->checks.active[k];
		snprintf(out->message[k], sizeof(out->message[k]), "%s",
			 scraper_check_message(st, (enum check_kind)k));
	}
}

/* ---- leadership ---- */

/* The previous leader may have posted the same Event; one duplicate per
 * failover is the price of never losing one. */
void targets_forget_reported(struct targets *t)
{
	for (struct hmap_entry *e = hmap_first(&t->scraper->targets); e;
	     e = hmap_next(&t->scraper->targets, e)) {
		struct target_info *ti = ((struct scrape_target *)e->value)->data;

		if (!ti)
			continue;
		ti->seen = false;
		memset(ti->active, 0, sizeof(ti->active));
	}
	hmap_release(&t->reported);
	hmap_init(&t->reported);
}

size_t targets_start_round(struct targets *t)
{
	t->round_left = 0;
	for (struct hmap_entry *e = hmap_first(&t->scraper->targets); e;
	     e = hmap_next(&t->scraper->targets, e)) {
		struct target_info *ti = ((struct scrape_target *)e->value)->data;
		if (ti) {
			ti->awaited = true;
			t->round_left++;
		}
	}
	return t->round_left;
}

void targets_cancel_round(struct targets *t)
{
	t->round_left = 0;
}
