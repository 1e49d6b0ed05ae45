#include "reconcile.h"

#include <math.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "desired.h"
#include "events.h"
#include "log.h"
#include "promselect.h"
#include "reflector.h"
#include "render_dashboard.h"
#include "yamlout.h"

const char *owned_namespace(const struct render_config *rc, enum owned_kind k)
{
	if (k == OWNED_SECRET)
		return rc->secret_namespace;
	if (k == OWNED_CONFIGMAP || k == OWNED_GRAFANADASHBOARD)
		return rc->dashboard_namespace;
	return NULL;
}

bool owned_enabled(const struct render_config *rc, enum owned_kind k)
{
	if (k == OWNED_CONFIGMAP)
		return rc->dashboard;
	if (k == OWNED_GRAFANADASHBOARD)
		return rc->dashboard && rc->grafana_operator;
	return true;
}

static int kind_of(const cJSON *o)
{
	return kube_owned_kind(obj_str(o, "kind", NULL));
}

const double reconcile_buckets[RECONCILE_BUCKETS] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
						     0.5,   1,    2.5,   5,    10};

/* One reconcile in flight. */
struct run {
	struct reconciler *r;
	char *key;
	uint64_t start_ms;
	int pending;
	bool failed;
	cJSON *status;       /* status to write after the applies, or NULL */
	cJSON *cr;           /* copy of the CR (for events), or NULL */
	cJSON *losers;       /* copies of the CRs in conflict with cr (desired.h), or NULL */
	cJSON *loser_status; /* their status, in the same order */
	struct buf errors;   /* first failure */
};

static uint64_t now_ms(struct reconciler *r)
{
	return r->now_ms ? r->now_ms(r->now_ctx) : 0;
}

void reconciler_init(struct reconciler *r, struct kubeclient *kc, struct podcache *pods,
		     const struct iw_defaults *d, const struct render_config *rc)
{
	memset(r, 0, sizeof(*r));
	r->kc = kc;
	r->pods = pods;
	r->defaults = *d;
	r->rc = *rc;
	r->grace_ms = 10 * 60 * 1000;
	r->status_refresh_ms = 30 * 1000;
	r->max_inflight = 4;
	r->writes_enabled = true;
	hmap_init(&r->gone_since);
}

void reconciler_release(struct reconciler *r)
{
	objcache_release(&r->crs);
	for (int i = 0; i < OWNED_COUNT; i++)
		objcache_release(&r->owned[i]);
	objcache_release(&r->proms);
	objcache_release(&r->namespaces);
	for (struct hmap_entry *e = hmap_first(&r->gone_since); e; e = hmap_next(&r->gone_since, e))
		im_free(e->value);
	hmap_release(&r->gone_since);
	for (struct hmap_entry *e = hmap_first(&r->cr_workload); e;
	     e = hmap_next(&r->cr_workload, e))
		im_free(e->value);
	hmap_release(&r->cr_workload);
	wq_release(&r->q);
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
	reconciler_workload_changed(r, ns, w);
	/* a CR whose workloadName changed: its old workload loses its objects */
	buf_init(&k, BUF_MAX_SMALL);
	obj_key(&k, ns, name);
	old = hmap_get(&r->cr_workload, k.ptr);
	if (old && strcmp(old, w) != 0) {
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
	for (struct hmap_entry *e = hmap_first(&r->crs.objs); e; e = hmap_next(&r->crs.objs, e)) {
		const cJSON *cr = e->value;
		const char *ns = obj_str(cr, "metadata", "namespace"), *w = desired_cr_workload(cr);
		if (ns && w)
			reconciler_workload_changed(r, ns, w);
	}
}

void reconciler_owned_changed(struct reconciler *r, const cJSON *obj, bool deleted)
{
	const char *ns = obj_str(obj, "metadata", "namespace"),
		   *w = obj_label(obj, LABEL_IW_WORKLOAD);
	int k = kind_of(obj);

	(void)deleted;
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

/* ---- comparing desired with live ---- */

/* True when every field of want is in have with the same value. */
static bool subset(const cJSON *want, const cJSON *have)
{
	const cJSON *a, *b;

	if (!have)
		return false;
	if (cJSON_IsObject(want)) {
		if (!cJSON_IsObject(have))
			return false;
		cJSON_ArrayForEach(a, want)
		{
			if (!subset(a, cJSON_GetObjectItemCaseSensitive(have, a->string)))
				return false;
		}
		return true;
	}
	if (cJSON_IsArray(want)) {
		if (!cJSON_IsArray(have) || cJSON_GetArraySize(want) != cJSON_GetArraySize(have))
			return false;
		for (a = want->child, b = have->child; a && b; a = a->next, b = b->next)
			if (!subset(a, b))
				return false;
		return true;
	}
	if (cJSON_IsNumber(want))
		return cJSON_IsNumber(have) && want->valuedouble == have->valuedouble;
	if (cJSON_IsString(want))
		return cJSON_IsString(have) && strcmp(want->valuestring, have->valuestring) == 0;
	if (cJSON_IsBool(want))
		return cJSON_IsBool(have) && cJSON_IsTrue(want) == cJSON_IsTrue(have);
	return cJSON_IsNull(have);
}

/* subset() of a whole object. apiVersion and kind are left out: the items
 * of a LIST response do not carry them (watch events do), and the cache
 * holds objects from both. */
static bool same_object(const cJSON *want, const cJSON *have)
{
	const cJSON *a;

	if (!cJSON_IsObject(have))
		return false;
	cJSON_ArrayForEach(a, want)
	{
		if (strcmp(a->string, "apiVersion") == 0 || strcmp(a->string, "kind") == 0)
			continue;
		if (!subset(a, cJSON_GetObjectItemCaseSensitive(have, a->string)))
			return false;
	}
	return true;
}

/* Path of the first field of want that have lacks or differs in. */
static void first_diff(const cJSON *want, const cJSON *have, struct buf *path)
{
	const cJSON *a, *b;
	int i = 0;

	if (cJSON_IsObject(want) && cJSON_IsObject(have)) {
		cJSON_ArrayForEach(a, want)
		{
			if (strcmp(a->string, "apiVersion") == 0 || strcmp(a->string, "kind") == 0)
				continue;
			b = cJSON_GetObjectItemCaseSensitive(have, a->string);
			if (!subset(a, b)) {
				buf_printf(path, ".%s", a->string);
				first_diff(a, b, path);
				return;
			}
		}
	} else if (cJSON_IsArray(want) && cJSON_IsArray(have) &&
		   cJSON_GetArraySize(want) == cJSON_GetArraySize(have)) {
		for (a = want->child, b = have->child; a && b; a = a->next, b = b->next, i++)
			if (!subset(a, b)) {
				buf_printf(path, "[%d]", i);
				first_diff(a, b, path);
				return;
			}
	}
}

/* Secrets come back with data (base64), not stringData: apply data. */
static void secret_to_data(cJSON *secret)
{
	cJSON *sd = cJSON_DetachItemFromObjectCaseSensitive(secret, "stringData"), *data, *it;

	if (!sd)
		return;
	data = cJSON_AddObjectToObject(secret, "data");
	cJSON_ArrayForEach(it, sd)
	{
		size_t n = strlen(it->valuestring);
		char *b64 = im_xmalloc(4 * ((n + 2) / 3) + 1);
		EVP_EncodeBlock((unsigned char *)b64, (const unsigned char *)it->valuestring,
				(int)n);
		cJSON_AddStringToObject(data, it->string, b64);
		im_free(b64);
	}
	cJSON_Delete(sd);
}

/* ---- finishing ---- */

static void finish(struct run *run);

static void call_done(struct run *run)
{
	if (--run->pending == 0)
		finish(run);
}

/* An Event about InferenceWorkload cr (NULL: none). */
static void cr_event_on(struct run *run, const cJSON *cr, bool warning, const char *reason,
			const char *note)
{
	struct event_ref about;

	if (!cr || !run->r->events)
		return;
	about = (struct event_ref){KUBE_GV_INFERMON, "InferenceWorkload",
				   obj_str(cr, "metadata", "namespace"),
				   obj_str(cr, "metadata", "name"), obj_str(cr, "metadata", "uid")};
	events_post(run->r->events, &about, warning, "Apply", reason, note);
}

/* An Event about the CR governing the workload being reconciled. */
static void cr_event(struct run *run, bool warning, const char *reason, const char *note)
{
	cr_event_on(run, run->cr, warning, reason, note);
}

struct call_ctx {
	struct run *run;
	char what[256]; /* "create ServiceMonitor llm/infermon-qwen" */
	bool created;
	bool is_status;
	const cJSON *about; /* the CR the write is about (run->cr or a loser's copy) */
};

static void write_done(struct http_call *c, im_result transport, void *data)
{
	struct call_ctx *cc = data;
	struct run *run = cc->run;
	struct buf err;

	buf_init(&err, 2048);
	if (kubeclient_result(c, transport, &err) &&
	    !(strncmp(cc->what, "delete", 6) == 0 && http_call_status(c) == 404)) {
		run->failed = true;
		run->r->failures++;
		log_kv(LOG_WARN, "cannot write generated object", "what", cc->what, "error",
		       buf_str(&err), NULL);
		if (!run->errors.len)
			buf_printf(&run->errors, "%s: %s", cc->what, buf_str(&err));
		cr_event_on(run, cc->about, true, cc->is_status ? "StatusFailed" : "ApplyFailed",
			    buf_str(&err));
	} else if (!cc->is_status) {
		log_kv(LOG_INFO,
		       cc->created ? "created generated object" : "wrote generated object", "what",
		       cc->what, NULL);
		if (strncmp(cc->what, "delete", 6) != 0)
			cr_event(run, false, cc->created ? "Created" : "Updated", cc->what);
	}
	buf_release(&err);
	http_call_free(c);
	im_free(cc);
	call_done(run);
}

static void send_write(struct run *run, const char *method, const char *path, const char *ctype,
		       const char *body, const char *what, bool created, bool is_status,
		       const cJSON *about)
{
	struct http_call *c = kubeclient_call(run->r->kc, method, path);
	struct call_ctx *cc = im_xcalloc(1, sizeof(*cc));

	cc->run = run;
	cc->created = created;
	cc->is_status = is_status;
	cc->about = about ? about : run->cr;
	snprintf(cc->what, sizeof(cc->what), "%s", what);
	if (body)
		kubeclient_set_body(c, ctype, body, strlen(body));
	http_call_timeouts(c, 10000, 30000, 0);
	run->pending++;
	if (http_call_start(c, write_done, cc)) {
		http_call_free(c);
		im_free(cc);
		run->pending--;
		run->failed = true;
	}
}

static void object_path(struct buf *b, int k, const char *ns, const char *name)
{
	buf_adds(b, kube_owned[k].path);
	buf_adds(b, "/namespaces/");
	kubeclient_escape(b, ns);
	buf_printf(b, "/%s/", kube_owned[k].resource);
	kubeclient_escape(b, name);
}

/* Applies obj unless its live copy already holds it. */
static void apply(struct run *run, cJSON *obj)
{
	struct reconciler *r = run->r;
	int k = kind_of(obj);
	const char *ns = obj_str(obj, "metadata", "namespace"),
		   *name = obj_str(obj, "metadata", "name");
	const cJSON *live;
	struct buf path, what;
	char *body;

	if (k < 0 || !ns || !name)
		return;
	if (k == OWNED_SECRET)
		secret_to_data(obj);
	live = objcache_get(&r->owned[k], ns, name);
	if (live && same_object(obj, live))
		return;
	buf_init(&path, BUF_MAX_SMALL);
	buf_init(&what, 512);
	object_path(&path, k, ns, name);
	buf_adds(&path, "?fieldManager=infermon&force=true");
	buf_printf(&what, "%s %s %s/%s", live ? "update" : "create", kube_owned[k].kind, ns, name);
	if (live) {
		struct buf d;
		buf_init(&d, 1024);
		first_diff(obj, live, &d);
		log_kv(LOG_DEBUG, "generated object differs from its live copy", "what",
		       buf_str(&what), "field", buf_str(&d), NULL);
		buf_release(&d);
	}
	r->applies++;
	if (r->writes_enabled) {
		body = cJSON_PrintUnformatted(obj);
		send_write(run, "PATCH", buf_str(&path), "application/apply-patch+yaml", body,
			   buf_str(&what), !live, false, NULL);
		im_free(body);
	}
	buf_release(&path);
	buf_release(&what);
}

static void delete_obj(struct run *run, int k, const cJSON *live)
{
	struct buf path, what;

	buf_init(&path, BUF_MAX_SMALL);
	buf_init(&what, 512);
	object_path(&path, k, obj_str(live, "metadata", "namespace"),
		    obj_str(live, "metadata", "name"));
	buf_printf(&what, "delete %s %s/%s", kube_owned[k].kind,
		   obj_str(live, "metadata", "namespace"), obj_str(live, "metadata", "name"));
	run->r->deletes++;
	if (run->r->writes_enabled)
		send_write(run, "DELETE", buf_str(&path), NULL, NULL, buf_str(&what), false, false,
			   NULL);
	buf_release(&path);
	buf_release(&what);
}

/* Deletes generated objects of ns/workload not named in keep (kind/name). */
static void prune(struct run *run, const char *ns, const char *workload, const struct hmap *keep)
{
	struct buf id;

	buf_init(&id, 1024);
	for (int k = 0; k < OWNED_COUNT; k++) {
		if (k == OWNED_SECRET)
			continue;
		for (struct hmap_entry *e = hmap_first(&run->r->owned[k].objs); e;
		     e = hmap_next(&run->r->owned[k].objs, e)) {
			const cJSON *o = e->value;
			const char *ons = obj_str(o, "metadata", "namespace"),
				   *w = obj_label(o, LABEL_IW_WORKLOAD);
			if (!ons || !w || strcmp(ons, ns) != 0 || strcmp(w, workload) != 0)
				continue;
			if (obj_str(o, "metadata", "deletionTimestamp"))
				continue;
			buf_reset(&id);
			buf_printf(&id, "%s/%s", kube_owned[k].kind,
				   obj_str(o, "metadata", "name"));
			if (!keep || !hmap_get(keep, id.ptr))
				delete_obj(run, k, o);
		}
	}
	buf_release(&id);
}

/* True when o names as its owner an InferenceWorkload that still exists. */
static bool owner_alive(struct reconciler *r, const char *ns, const cJSON *o)
{
	const cJSON *ref;

	cJSON_ArrayForEach(
		ref, cJSON_GetObjectItemCaseSensitive(
			     cJSON_GetObjectItemCaseSensitive(o, "metadata"), "ownerReferences"))
	{
		const char *kind = obj_str(ref, "kind", NULL), *uid = obj_str(ref, "uid", NULL);
		const cJSON *cr = objcache_get(
			&r->crs, ns, obj_str(ref, "name", NULL) ? obj_str(ref, "name", NULL) : "");
		const char *cuid = obj_str(cr, "metadata", "uid");
		if (kind && strcmp(kind, "InferenceWorkload") == 0 && uid && cuid &&
		    strcmp(uid, cuid) == 0)
			return true;
	}
	return false;
}

enum owned_state { OWNS_NOTHING, OWNS_ORPHANS, OWNS_FOR_LIVE_CR };

/* What generated objects ns/workload has: none, objects of pod labels (or
 * of a deleted CR), or objects of a CR that now selects another workload. */
static enum owned_state has_owned(struct reconciler *r, const char *ns, const char *workload)
{
	enum owned_state st = OWNS_NOTHING;

	for (int k = 0; k < OWNED_COUNT; k++)
		for (struct hmap_entry *e = hmap_first(&r->owned[k].objs); e;
		     e = hmap_next(&r->owned[k].objs, e)) {
			const cJSON *o = e->value;
			const char *ons = obj_str(o, "metadata", "namespace"),
				   *w = obj_label(o, LABEL_IW_WORKLOAD);
			if (!ons || !w || strcmp(ons, ns) != 0 || strcmp(w, workload) != 0)
				continue;
			if (owner_alive(r, ns, o))
				return OWNS_FOR_LIVE_CR;
			st = OWNS_ORPHANS;
		}
	return st;
}

/* ---- status ---- */

static void iso_now(char *out, size_t n)
{
	time_t t = time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* status is "True", "False" or "Unknown" */
static void add_condition3(cJSON *conds, const cJSON *live_status, int64_t gen, const char *type,
			   const char *st, const char *reason, const char *message)
{
	cJSON *c = cJSON_CreateObject(), *it;
	const char *ltt = NULL;
	char now[32];

	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(live_status, "conditions"))
	{
		if (obj_str(it, "type", NULL) && strcmp(obj_str(it, "type", NULL), type) == 0 &&
		    obj_str(it, "status", NULL) && strcmp(obj_str(it, "status", NULL), st) == 0)
			ltt = obj_str(it, "lastTransitionTime", NULL);
	}
	iso_now(now, sizeof(now));
	cJSON_AddStringToObject(c, "type", type);
	cJSON_AddStringToObject(c, "status", st);
	cJSON_AddNumberToObject(c, "observedGeneration", (double)gen);
	cJSON_AddStringToObject(c, "lastTransitionTime", ltt ? ltt : now);
	cJSON_AddStringToObject(c, "reason", reason);
	cJSON_AddStringToObject(c, "message", message);
	cJSON_AddItemToArray(conds, c);
}

static void add_condition(cJSON *conds, const cJSON *live_status, int64_t gen, const char *type,
			  bool status, const char *reason, const char *message)
{
	add_condition3(conds, live_status, gen, type, status ? "True" : "False", reason, message);
}

/* The status of condition type in a status object, or NULL. */
static const char *condition_status(const cJSON *status, const char *type)
{
	const cJSON *it;

	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(status, "conditions"))
	{
		const char *t = obj_str(it, "type", NULL);
		if (t && strcmp(t, type) == 0)
			return obj_str(it, "status", NULL);
	}
	return NULL;
}

/* Warning Event when a condition turns False (reason: the condition's), a
 * Normal one named after the condition when it turns True again. */
static void announce(struct run *run, const cJSON *live_status, const cJSON *status,
		     const char *type)
{
	const char *was = condition_status(live_status, type),
		   *now = condition_status(status, type);
	const cJSON *it;

	if (!now || (was && strcmp(was, now) == 0))
		return;
	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(status, "conditions"))
	{
		const char *t = obj_str(it, "type", NULL);
		if (!t || strcmp(t, type) != 0)
			continue;
		if (strcmp(now, "False") == 0)
			cr_event(run, true, obj_str(it, "reason", NULL),
				 obj_str(it, "message", NULL));
		else if (strcmp(now, "True") == 0 && was && strcmp(was, "False") == 0)
			cr_event(run, false, type, obj_str(it, "message", NULL));
	}
}

/* models stays sorted and without duplicates */
static void add_model(cJSON *models, const char *m)
{
	cJSON *it;
	int i = 0;

	if (!*m || cJSON_GetArraySize(models) >= 64)
		return;
	cJSON_ArrayForEach(it, models)
	{
		int c = strcmp(it->valuestring, m);
		if (c == 0)
			return;
		if (c > 0)
			break;
		i++;
	}
	cJSON_InsertItemInArray(models, i, cJSON_CreateString(m));
}

/* Rounded so that noise in a gauge does not rewrite the status. */
static double r2(double v)
{
	return round(v * 100) / 100;
}

static void add_pod_status(cJSON *arr, const struct pod *p, const struct pod_runtime *rt)
{
	cJSON *o;

	if (cJSON_GetArraySize(arr) >= 1024)
		return;
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "name", p->name);
	cJSON_AddBoolToObject(o, "ready", p->ready && !p->deleting && rt->known && rt->up);
	if (*pod_role(p))
		cJSON_AddStringToObject(o, "role", pod_role(p));
	if (rt->known && rt->up) {
		cJSON_AddNumberToObject(o, "running", round(rt->running));
		cJSON_AddNumberToObject(o, "waiting", round(rt->waiting));
		cJSON_AddNumberToObject(o, "kvUsage", r2(rt->kv_usage));
	}
	if (rt->known && rt->limits.max_num_seqs.source != LIMIT_NONE) {
		cJSON_AddNumberToObject(o, "maxNumSeqs", rt->limits.max_num_seqs.value);
		cJSON_AddStringToObject(o, "maxNumSeqsSource",
					limit_source_name(rt->limits.max_num_seqs.source));
		if (rt->up && rt->limits.max_num_seqs.value > 0)
			cJSON_AddNumberToObject(o, "saturation",
						r2(rt->running / rt->limits.max_num_seqs.value));
	}
	if (rt->known && rt->limits.kv_concurrency.source != LIMIT_NONE)
		cJSON_AddNumberToObject(o, "kvConcurrency", r2(rt->limits.kv_concurrency.value));
	cJSON_AddItemToArray(arr, o);
}

/* The status of CR cr. With not_ready (a reason: InvalidSpec, Conflict),
 * Ready is False with that reason and message. */
static cJSON *build_status(struct reconciler *r, const cJSON *cr, const struct iwspec *s,
			   const char *not_ready, const char *message, const struct workload *w,
			   const cJSON *generated, const struct desired_verdict *sel)
{
	uint64_t want = s ? s->expected_max_num_seqs : 0;
	size_t compared = 0;
	char mismatch[400] = "";
	const cJSON *live = cJSON_GetObjectItemCaseSensitive(cr, "status");
	cJSON *st = cJSON_CreateObject(), *conds, *models;
	size_t n = 0, ready = 0;
	double limit = 0, kv = 0;
	const char *source = NULL,
		   *backend = s && s->backend != BACKEND_UNKNOWN ? backend_name(s->backend) : "";
	bool active[CHECK_COUNT] = {0};
	double running = 0;
	cJSON *pod_status = cJSON_CreateArray();
	char msg[CHECK_COUNT][400] = {{0}}, buf[64];
	int64_t gen = 0;

	if (cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(
		    cJSON_GetObjectItemCaseSensitive(cr, "metadata"), "generation")))
		gen = (int64_t)cJSON_GetObjectItemCaseSensitive(
			      cJSON_GetObjectItemCaseSensitive(cr, "metadata"), "generation")
			      ->valuedouble;
	models = cJSON_CreateArray();
	if (w) {
		const char **keys = hmap_sorted_keys(&w->pods);
		for (size_t i = 0; keys[i]; i++) {
			const struct pod *p = hmap_get(&w->pods, keys[i]);
			struct pod_runtime rt = {0};
			n++;
			ready += p->ready && !p->deleting;
			if (!*backend && pod_backend(p))
				backend = pod_backend(p);
			if (r->runtime)
				r->runtime(r->runtime_ctx, p->namespace, p->name, &rt);
			add_pod_status(pod_status, p, &rt);
			if (!rt.known)
				continue;
			for (int m = 0; m < rt.nmodels; m++)
				add_model(models, rt.models[m]);
			if (rt.up)
				running += rt.running;
			if (rt.limits.max_num_seqs.source != LIMIT_NONE) {
				limit += rt.limits.max_num_seqs.value;
				if (!source)
					source = limit_source_name(rt.limits.max_num_seqs.source);
			}
			if (rt.limits.kv_concurrency.source != LIMIT_NONE)
				kv += rt.limits.kv_concurrency.value;
			/* an assumed default is no evidence of what the engine runs */
			if (want && rt.limits.max_num_seqs.source != LIMIT_NONE &&
			    rt.limits.max_num_seqs.source != LIMIT_DEFAULT) {
				double per = rt.limits.max_num_seqs.value /
					     (rt.engines >= 1 ? rt.engines : 1);
				compared++;
				if (fabs(per - (double)want) >= 0.5 && !*mismatch)
					snprintf(
						mismatch, sizeof(mismatch),
						"pod %s runs max-num-seqs %.0f%s (from %s); spec.limits.maxNumSeqs "
						"is %llu",
						p->name, per, rt.engines > 1 ? " per engine" : "",
						limit_source_name(rt.limits.max_num_seqs.source),
						(unsigned long long)want);
			}
			for (int k = 0; k < CHECK_COUNT; k++)
				if (rt.active[k] && !active[k]) {
					active[k] = true;
					/* a long pod name shortens the message: truncation is fine */
					if (snprintf(msg[k], sizeof(msg[k]), "pod %s: %s", p->name,
						     rt.message[k]) < 0)
						msg[k][0] = '\0';
				}
		}
		im_free(keys);
	}
	cJSON_AddNumberToObject(st, "observedGeneration", (double)gen);
	cJSON_AddStringToObject(st, "backend", backend);
	cJSON_AddNumberToObject(st, "pods", (double)n);
	cJSON_AddNumberToObject(st, "readyPods", (double)ready);
	snprintf(buf, sizeof(buf), "%zu/%zu", ready, n);
	cJSON_AddStringToObject(st, "podsReady", buf);
	cJSON_AddItemToObject(st, "models", models);
	cJSON_AddNumberToObject(st, "running", round(running));
	cJSON_AddNumberToObject(st, "limit", limit);
	if (limit > 0) {
		snprintf(buf, sizeof(buf), "%.0f/%.0f", running, limit);
		cJSON_AddStringToObject(st, "runningLimit", buf);
		snprintf(buf, sizeof(buf), "%.0f%%", running / limit * 100);
		cJSON_AddStringToObject(st, "saturation", buf);
	} else {
		snprintf(buf, sizeof(buf), "%.0f/unknown", running);
		cJSON_AddStringToObject(st, "runningLimit", buf);
		cJSON_AddStringToObject(st, "saturation", "unknown");
	}
	cJSON_AddItemToObject(st, "podStatus", pod_status);
	cJSON_AddStringToObject(st, "limitSource", source ? source : "unknown");
	if (limit > 0 && kv > 0)
		snprintf(buf, sizeof(buf), "%+.0f%%", (limit - kv) / kv * 100);
	else
		snprintf(buf, sizeof(buf), "unknown");
	cJSON_AddStringToObject(st, "drift", buf);
	cJSON_AddItemToObject(st, "generated", cJSON_Duplicate(generated, true));
	conds = cJSON_AddArrayToObject(st, "conditions");
	if (not_ready)
		add_condition(conds, live, gen, "Ready", false, not_ready, message);
	else
		add_condition(conds, live, gen, "Ready", true, "Reconciled",
			      "generated objects are applied");
	for (int k = 0; k < CHECK_COUNT; k++)
		add_condition(conds, live, gen, check_name((enum check_kind)k), active[k],
			      active[k] ? check_name((enum check_kind)k) : "NotObserved",
			      active[k] ? msg[k] : "not observed on any pod");
	if (sel && sel->status)
		add_condition3(conds, live, gen, "MonitorSelected", sel->status, sel->reason,
			       buf_str(&sel->message));
	if (want) {
		char m[160];
		cJSON_AddNumberToObject(st, "expectedLimit", (double)want);
		if (*mismatch) {
			add_condition(conds, live, gen, "LimitMatchesSpec", false, "LimitMismatch",
				      mismatch);
		} else if (compared) {
			snprintf(m, sizeof(m), "every scraped pod runs max-num-seqs %llu",
				 (unsigned long long)want);
			add_condition(conds, live, gen, "LimitMatchesSpec", true, "MatchesSpec", m);
		} else {
			add_condition3(conds, live, gen, "LimitMatchesSpec", "Unknown",
				       "NotScraped", "no pod's live max-num-seqs is known yet");
		}
	}
	return st;
}

/* Writes status to cr (the cached CR) unless it holds it already; about is
 * the run's copy of it, for Events. */
static void write_status(struct run *run, const cJSON *cr, cJSON *status, const cJSON *about)
{
	const cJSON *live = cJSON_GetObjectItemCaseSensitive(cr, "status");
	cJSON *body;
	struct buf path, what;
	char *text;
	const char *ns = obj_str(cr, "metadata", "namespace"),
		   *name = obj_str(cr, "metadata", "name");

	if (live && subset(status, live))
		return;
	body = cJSON_CreateObject();
	cJSON_AddStringToObject(body, "apiVersion", KUBE_GV_INFERMON);
	cJSON_AddStringToObject(body, "kind", "InferenceWorkload");
	{
		cJSON *md = cJSON_AddObjectToObject(body, "metadata");
		cJSON_AddStringToObject(md, "name", name);
		cJSON_AddStringToObject(md, "namespace", ns);
	}
	cJSON_AddItemToObject(body, "status", cJSON_Duplicate(status, true));
	text = cJSON_PrintUnformatted(body);
	cJSON_Delete(body);
	buf_init(&path, BUF_MAX_SMALL);
	buf_init(&what, 512);
	buf_adds(&path, KUBE_PATH(KUBE_GV_INFERMON) "/namespaces/");
	kubeclient_escape(&path, ns);
	buf_adds(&path, "/inferenceworkloads/");
	kubeclient_escape(&path, name);
	buf_adds(&path, "/status?fieldManager=infermon-status&force=true");
	buf_printf(&what, "status of InferenceWorkload %s/%s", ns, name);
	run->r->status_writes++;
	if (run->r->writes_enabled)
		send_write(run, "PATCH", buf_str(&path), "application/apply-patch+yaml", text,
			   buf_str(&what), false, true, about);
	im_free(text);
	buf_release(&path);
	buf_release(&what);
}

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
	size_t ncrs = 0, nproms = 0;

	memset(sn, 0, sizeof(*sn));
	sn->crs = im_xcalloc(r->crs.objs.count + 1, sizeof(*sn->crs));
	for (struct hmap_entry *e = hmap_first(&r->crs.objs); e; e = hmap_next(&r->crs.objs, e))
		sn->crs[ncrs++] = e->value;
	/* in a stable order: matchPrometheus stamps labels in this order */
	if (proms) {
		sn->prom_keys = hmap_sorted_keys(&r->proms.objs);
		sn->proms = im_xcalloc(r->proms.objs.count + 1, sizeof(*sn->proms));
		for (size_t i = 0; sn->prom_keys[i]; i++)
			sn->proms[nproms++] = hmap_get(&r->proms.objs, sn->prom_keys[i]);
	}
	sn->in = (struct desired_in){
		.rc = &r->rc,
		.defaults = &r->defaults,
		.crs = sn->crs,
		.ncrs = ncrs,
		.proms = sn->proms,
		.nproms = nproms,
		.proms_known = r->proms_known,
	};
}

static void snapshot_release(struct snapshot *sn)
{
	im_free(sn->crs);
	im_free(sn->proms);
	im_free(sn->prom_keys);
}

/* ---- the reconciles ---- */

void reconciler_spec(struct reconciler *r, const char *ns, const char *workload, enum backend b,
		     struct iwspec *s)
{
	struct snapshot sn;

	snapshot_take(r, &sn, false);
	desired_spec(&sn.in, ns, workload, b, s);
	snapshot_release(&sn);
}

/* A CR that selects the workload another (older) CR governs: Ready=False
 * reason Conflict on it, and a Warning Event naming the winner when that
 * condition is new. Its status is written after the applies. */
static void report_conflict(struct run *run, const struct desired *d, const cJSON *loser,
			    const struct workload *w, const char *workload)
{
	const cJSON *live = cJSON_GetObjectItemCaseSensitive(loser, "status"), *it;
	const char *winner = obj_str(d->cr, "metadata", "name");
	cJSON *none = cJSON_CreateArray(), *status;
	bool known = false;
	struct buf msg;

	buf_init(&msg, 1024);
	buf_printf(&msg,
		   "InferenceWorkload %s/%s selects workload \"%s\" too and is older (created %s); "
		   "it governs the workload and this one is ignored until it is deleted or selects "
		   "another workload",
		   desired_cr_namespace(d->cr), winner, workload,
		   obj_str(d->cr, "metadata", "creationTimestamp")
			   ? obj_str(d->cr, "metadata", "creationTimestamp")
			   : "unknown");
	log_kv(LOG_WARN, "InferenceWorkloads conflict", "namespace", desired_cr_namespace(loser),
	       "ignored", obj_str(loser, "metadata", "name"), "governing", winner, "workload",
	       workload, NULL);
	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(live, "conditions"))
	{
		const char *t = obj_str(it, "type", NULL), *reason = obj_str(it, "reason", NULL),
			   *m = obj_str(it, "message", NULL);
		if (t && strcmp(t, "Ready") == 0 && reason && strcmp(reason, "Conflict") == 0 &&
		    m && strcmp(m, buf_str(&msg)) == 0)
			known = true;
	}
	if (!known)
		cr_event_on(run, loser, true, "Conflict", buf_str(&msg));
	status = build_status(run->r, loser, NULL, "Conflict", buf_str(&msg), w, none, NULL);
	if (!run->losers) {
		run->losers = cJSON_CreateArray();
		run->loser_status = cJSON_CreateArray();
	}
	cJSON_AddItemToArray(run->losers, cJSON_Duplicate(loser, true));
	cJSON_AddItemToArray(run->loser_status, status);
	cJSON_Delete(none);
	buf_release(&msg);
}

/* A workload with neither a CR nor pods: its generated objects go at once
 * when a CR that now selects another workload owns them; when only pod
 * labels made them, after the grace period. */
static void prune_undesired(struct run *run, const char *ns, const char *workload, const char *key)
{
	struct reconciler *r = run->r;
	enum owned_state owns = has_owned(r, ns, workload);
	uint64_t *since, now;

	if (owns == OWNS_FOR_LIVE_CR) {
		log_kv(LOG_INFO, "workload no longer selected by its InferenceWorkload; pruning",
		       "namespace", ns, "workload", workload, NULL);
		prune(run, ns, workload, NULL);
		return;
	}
	if (owns != OWNS_ORPHANS)
		return;
	since = hmap_get(&r->gone_since, key);
	now = now_ms(r);
	if (!since) {
		char grace[32];
		since = im_xmalloc(sizeof(*since));
		*since = now;
		hmap_put(&r->gone_since, key, since);
		snprintf(grace, sizeof(grace), "%.3fs", (double)r->grace_ms / 1000.0);
		log_kv(LOG_INFO, "workload has no pods; its objects go after the grace period",
		       "namespace", ns, "workload", workload, "grace", grace, NULL);
	}
	if (now - *since < r->grace_ms) {
		wq_add_after(&r->q, key, r->grace_ms - (now - *since));
	} else {
		prune(run, ns, workload, NULL);
		im_free(hmap_del(&r->gone_since, key));
	}
}

static void reconcile_workload(struct run *run, const char *ns, const char *workload)
{
	struct reconciler *r = run->r;
	const struct workload *w;
	struct desired_workload dw = {.namespace = ns, .workload = workload};
	struct desired d;
	struct snapshot sn;
	struct buf key, id;
	cJSON *generated = cJSON_CreateArray(), *o;
	struct hmap keep;
	const struct pod **pods = NULL;

	buf_init(&key, BUF_MAX_SMALL);
	buf_init(&id, 1024);
	hmap_init(&keep);
	obj_key(&key, ns, workload);
	w = podcache_workload(r->pods, key.ptr);
	if (w) {
		pods = im_xcalloc(w->pods.count + 1, sizeof(*pods));
		for (struct hmap_entry *e = hmap_first(&w->pods); e; e = hmap_next(&w->pods, e))
			pods[dw.npods++] = e->value;
		dw.pods = pods;
		im_free(hmap_del(&r->gone_since, key.ptr));
	}
	snapshot_take(r, &sn, true);
	desired_init(&d);
	desired_compute(&sn.in, &dw, objcache_get(&r->namespaces, "", ns), &d);
	if (d.cr) {
		run->cr = cJSON_Duplicate(d.cr, true);
		if (!d.have_spec) {
			log_kv(LOG_WARN, "invalid InferenceWorkload", "error", buf_str(&d.error),
			       NULL);
			if (!r->status_held) /* reported with the status, after the round */
				cr_event(run, true, "InvalidSpec", buf_str(&d.error));
		}
	} else if (!d.have_spec) {
		prune_undesired(run, ns, workload, key.ptr);
	}
	if (d.have_spec) {
		cJSON_ArrayForEach(o, d.objects)
		{
			cJSON *ref;
			buf_reset(&id);
			buf_printf(&id, "%s/%s", obj_str(o, "kind", NULL),
				   obj_str(o, "metadata", "name"));
			hmap_put(&keep, id.ptr, (void *)1);
			ref = cJSON_CreateObject();
			cJSON_AddStringToObject(ref, "apiVersion", obj_str(o, "apiVersion", NULL));
			cJSON_AddStringToObject(ref, "kind", obj_str(o, "kind", NULL));
			cJSON_AddStringToObject(ref, "namespace", ns);
			cJSON_AddStringToObject(ref, "name", obj_str(o, "metadata", "name"));
			cJSON_AddItemToArray(generated, ref);
			apply(run, o);
		}
		prune(run, ns, workload, &keep);
	}
	/* the operator's own word on the monitor, where it writes one */
	if (d.selection.status) {
		enum promsel_kind pk;
		cJSON *mon = promsel_find_monitor(d.objects, &pk);
		if (mon) {
			int k = pk == PROMSEL_PODMONITOR ? OWNED_PODMONITOR : OWNED_SERVICEMONITOR;
			desired_judge_bindings(
				objcache_get(&r->owned[k], ns, obj_str(mon, "metadata", "name")),
				kube_owned[k].kind, &d.selection);
		}
	}
	/* status, its Events and conflict reports wait for the engines during
	 * a new leader's first round (status_held; the key is reconciled
	 * again when it ends) */
	if (d.cr && !r->status_held)
		run->status = build_status(
			r, d.cr, d.have_spec ? &d.spec : NULL, d.have_spec ? NULL : "InvalidSpec",
			d.have_spec ? NULL : buf_str(&d.error), w, generated, &d.selection);
	if (run->status) {
		const cJSON *live = cJSON_GetObjectItemCaseSensitive(d.cr, "status");
		announce(run, live, run->status, "MonitorSelected");
		announce(run, live, run->status, "LimitMatchesSpec");
	}
	for (size_t i = 0; i < d.nlosers && !r->status_held; i++)
		report_conflict(run, &d, d.losers[i], w, workload);
	desired_release(&d);
	snapshot_release(&sn);
	cJSON_Delete(generated);
	hmap_release(&keep);
	im_free(pods);
	buf_release(&key);
	buf_release(&id);
}

/* The workloads of labelled pods, for the shared objects of desired.h:
 * *wls and *pods are new arrays (im_free both). */
static size_t pod_workloads(struct reconciler *r, struct desired_workload **wls,
			    const struct pod ***pods)
{
	size_t nwls = 0, npods = 0, total = 0;

	for (struct hmap_entry *e = hmap_first(&r->pods->workloads); e;
	     e = hmap_next(&r->pods->workloads, e))
		total += ((const struct workload *)e->value)->pods.count;
	*wls = im_xcalloc(r->pods->workloads.count + 1, sizeof(**wls));
	*pods = im_xcalloc(total + 1, sizeof(**pods));
	for (struct hmap_entry *e = hmap_first(&r->pods->workloads); e;
	     e = hmap_next(&r->pods->workloads, e)) {
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

static void reconcile_secret(struct run *run)
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
	else if (njobs > 0 ||
		 objcache_get(&r->owned[OWNED_SECRET], r->rc.secret_namespace, r->rc.secret_name))
		apply(run, secret);
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

static void reconcile_dashboard(struct run *run)
{
	struct reconciler *r = run->r;
	const struct render_config *c = &r->rc;
	bool want = dashboard_wanted(r);
	const cJSON *live = objcache_get(&r->owned[OWNED_CONFIGMAP], c->dashboard_namespace,
					 c->dashboard_name);
	cJSON *o;

	if (want) {
		o = render_dashboard_configmap(c);
		apply(run, o);
		cJSON_Delete(o);
	} else if (live && !obj_str(live, "metadata", "deletionTimestamp")) {
		delete_obj(run, OWNED_CONFIGMAP, live);
	}
	if (!owned_enabled(c, OWNED_GRAFANADASHBOARD))
		return;
	live = objcache_get(&r->owned[OWNED_GRAFANADASHBOARD], c->dashboard_namespace,
			    c->dashboard_name);
	if (live && obj_str(live, "metadata", "deletionTimestamp"))
		return; /* its DELETED event brings the next reconcile */
	if (!want) {
		if (live)
			delete_obj(run, OWNED_GRAFANADASHBOARD, live);
		return;
	}
	o = render_grafana_dashboard(c);
	/* spec.instanceSelector is immutable: another selector needs a new object */
	if (live && !cJSON_Compare(instance_selector(o), instance_selector(live), true))
		delete_obj(run, OWNED_GRAFANADASHBOARD, live);
	else
		apply(run, o);
	cJSON_Delete(o);
}

/* Writes status to the CR copy is a copy of, compared with the newest
 * cached CR (it may have changed meanwhile, or be gone). */
static void status_of(struct run *run, const cJSON *copy, cJSON *status)
{
	const cJSON *cr = objcache_get(&run->r->crs, obj_str(copy, "metadata", "namespace"),
				       obj_str(copy, "metadata", "name"));

	if (cr)
		write_status(run, cr, status, copy);
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
	if (run->failed) {
		wq_add_rate_limited(&r->q, run->key);
	} else {
		wq_forget(&r->q, run->key);
	}
	wq_done(&r->q, run->key);
	r->inflight--;
	{
		double secs = (double)(now_ms(r) - run->start_ms) / 1000.0;
		int b = 0;
		while (b < RECONCILE_BUCKETS && secs > reconcile_buckets[b])
			b++;
		r->duration_counts[b]++;
		r->duration_sum += secs;
	}
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
		run->start_ms = now_ms(r);
		buf_init(&run->errors, 2048);
		r->inflight++;
		r->reconciles++;
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
			r->noops++;
		call_done(run);
	}
}
