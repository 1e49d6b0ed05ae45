/* The reconciler against a fake API client (controller-runtime's fake
 * client in C): caches the test fills, writes kept in memory and applied
 * to those caches as the API server and the watches would, each answered
 * when the test flushes them. */
#include <unistd.h>

#include "t.h"
#include "t_kube.h"

#include <uv.h>

#include "alloc.h"
#include "applydiff.h"
#include "crstatus.h"
#include "desired.h"
#include "prune.h"
#include "reconcile.h"
#include "reflector.h"
#include "selfmetrics.h"

/* ---- the fake client ---- */

struct fake_write {
	struct kubewrite w; /* namespace, name and body owned by the fake */
	kubewrite_done_cb cb;
	void *data;
	struct fake_write *next;
};

struct fake {
	uv_loop_t loop;
	struct podcache pods;
	struct reconcile_caches caches;
	struct reconciler r;
	struct fake_write *queued, **tail;
	uint64_t now_ms;
	int writes[3];  /* answered, by enum kubewrite_op */
	struct buf log; /* "apply ServiceMonitor llm/x\n", in order */
	int resource_version;
	/* watch_lag: applied objects wait in unwatched (each with its kind in
	 * "k") until fake_watch delivers them, as a watch a step behind the
	 * API server's answers does */
	bool watch_lag;
	cJSON *unwatched;
};

static const char *const op_names[] = {"apply", "status", "delete"};

static im_result fake_send(void *ctx, const struct kubewrite *w, kubewrite_done_cb cb, void *data)
{
	struct fake *f = ctx;
	struct fake_write *fw = im_xcalloc(1, sizeof(*fw));

	fw->w = *w;
	fw->w.namespace = im_xstrdup(w->namespace);
	fw->w.name = im_xstrdup(w->name);
	fw->w.body = w->body ? cJSON_Duplicate(w->body, true) : NULL;
	fw->cb = cb;
	fw->data = data;
	*f->tail = fw;
	f->tail = &fw->next;
	return IM_OK;
}

/* What the API server adds to an object it stores: fields the desired
 * object never names, which the no-op rule must not count. */
static void server_fields(struct fake *f, cJSON *o)
{
	cJSON *md = cJSON_GetObjectItemCaseSensitive(o, "metadata");
	char rv[24];

	snprintf(rv, sizeof(rv), "%d", ++f->resource_version);
	cJSON_DeleteItemFromObjectCaseSensitive(md, "resourceVersion");
	cJSON_AddStringToObject(md, "resourceVersion", rv);
	if (!cJSON_GetObjectItemCaseSensitive(md, "uid"))
		cJSON_AddStringToObject(md, "uid", "0000-server-set");
	if (!cJSON_GetObjectItemCaseSensitive(md, "creationTimestamp"))
		cJSON_AddStringToObject(md, "creationTimestamp", "2026-01-01T00:00:00Z");
	if (!cJSON_GetObjectItemCaseSensitive(o, "status"))
		cJSON_AddObjectToObject(o, "status");
}

static void cache_upsert(struct objcache *c, const cJSON *o)
{
	struct reflector_store s;

	objcache_store(c, &s);
	s.upsert(s.ctx, o);
}

static void cache_remove(struct objcache *c, const cJSON *o)
{
	struct reflector_store s;

	objcache_store(c, &s);
	s.remove(s.ctx, o);
}

/* A generated object changed in the caches, as the controller's watch
 * reports it to the reconciler (without enqueueing: tests say which keys to
 * reconcile). */
static void owned_upsert(struct fake *f, int k, const cJSON *o)
{
	cache_upsert(&f->caches.owned[k], o);
	reconciler_owned_seen(&f->r, o);
}

static void owned_remove(struct fake *f, int k, const cJSON *o)
{
	cache_remove(&f->caches.owned[k], o);
	reconciler_owned_seen(&f->r, o);
}

/* The watch delivers the applies it held back. */
static void fake_watch(struct fake *f)
{
	cJSON *o;

	cJSON_ArrayForEach(o, f->unwatched)
	{
		int k = cJSON_GetObjectItemCaseSensitive(o, "k")->valueint;
		cJSON_DeleteItemFromObjectCaseSensitive(o, "k");
		owned_upsert(f, k, o);
	}
	cJSON_Delete(f->unwatched);
	f->unwatched = cJSON_CreateArray();
}

/* The API server's side of one write, reflected in the caches. */
static im_result serve(struct fake *f, const struct kubewrite *w)
{
	const cJSON *live;
	cJSON *o;

	switch (w->op) {
	case KUBEWRITE_APPLY:
		o = cJSON_Duplicate(w->body, true);
		server_fields(f, o);
		if (f->watch_lag) {
			cJSON_AddNumberToObject(o, "k", w->kind);
			cJSON_AddItemToArray(f->unwatched, o);
			return IM_OK;
		}
		owned_upsert(f, w->kind, o);
		cJSON_Delete(o);
		return IM_OK;
	case KUBEWRITE_STATUS:
		live = objcache_get(&f->caches.crs, w->namespace, w->name);
		if (!live)
			return IM_NOTFOUND;
		o = cJSON_Duplicate(live, true);
		cJSON_DeleteItemFromObjectCaseSensitive(o, "status");
		cJSON_AddItemToObject(
			o, "status",
			cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(w->body, "status"), true));
		cache_upsert(&f->caches.crs, o);
		cJSON_Delete(o);
		return IM_OK;
	case KUBEWRITE_DELETE:
		live = objcache_get(&f->caches.owned[w->kind], w->namespace, w->name);
		if (!live)
			return IM_NOTFOUND;
		o = cJSON_Duplicate(live, true);
		owned_remove(f, w->kind, o);
		cJSON_Delete(o);
		return IM_OK;
	}
	return IM_INTERNAL;
}

/* Answers every queued write, and those the answers queue (a reconcile
 * writes status after its applies), until none is left. */
static void fake_flush(struct fake *f)
{
	while (f->queued) {
		struct fake_write *fw = f->queued;
		im_result result;
		f->queued = fw->next;
		if (!f->queued)
			f->tail = &f->queued;
		result = serve(f, &fw->w);
		f->writes[fw->w.op]++;
		buf_printf(&f->log, "%s %s %s/%s\n", op_names[fw->w.op],
			   fw->w.op == KUBEWRITE_STATUS ? "InferenceWorkload"
							: kube_owned[fw->w.kind].kind,
			   fw->w.namespace, fw->w.name);
		fw->cb(fw->data, result, result ? "fake: not found" : "");
		im_free((char *)fw->w.namespace);
		im_free((char *)fw->w.name);
		cJSON_Delete((cJSON *)fw->w.body);
		im_free(fw);
	}
}

static uint64_t fake_now(void *ctx)
{
	return ((struct fake *)ctx)->now_ms;
}

/* What the scraper knows: every pod up, running 6 of max-num-seqs 8 (from
 * the engine's args), KV room for 16. */
static const struct histbounds *fake_bounds; /* every pod's histogram bounds */
static void fake_runtime(void *ctx, const char *ns, const char *pod, struct pod_runtime *out)
{
	(void)ctx;
	(void)ns;
	(void)pod;
	memset(out, 0, sizeof(*out));
	out->bounds = fake_bounds;
	out->known = true;
	out->up = true;
	out->engines = 1;
	out->running = 6;
	out->limits.max_num_seqs = (struct limit){8, LIMIT_POD_ARGS};
	out->limits.kv_concurrency = (struct limit){16, LIMIT_CACHE_CONFIG};
	snprintf(out->models[0], sizeof(out->models[0]), "qwen");
	out->nmodels = 1;
}

static void fake_init(struct fake *f, bool runtime)
{
	struct iw_defaults d;
	struct render_config rc;
	struct reconciler_opts o = {.pods = &f->pods, .caches = &f->caches, .loop = &f->loop};

	memset(f, 0, sizeof(*f));
	ASSERT_EQ_INT(uv_loop_init(&f->loop), 0);
	f->tail = &f->queued;
	f->unwatched = cJSON_CreateArray();
	buf_init(&f->log, BUF_MAX_LARGE);
	podcache_init(&f->pods, NULL, NULL);
	/* no callbacks: a test says which keys to reconcile */
	objcache_init(&f->caches.crs, NULL, NULL);
	for (int k = 0; k < OWNED_COUNT; k++) {
		objcache_init(&f->caches.owned[k], NULL, NULL);
		objcache_group_by(&f->caches.owned[k], LABEL_IW_WORKLOAD);
	}
	objcache_init(&f->caches.proms, NULL, NULL);
	objcache_init(&f->caches.namespaces, NULL, NULL);
	iw_defaults_init(&d);
	render_config_init(&rc);
	rc.dashboard = false;
	o.defaults = &d;
	o.rc = &rc;
	o.client = (struct kubewrite_client){fake_send, f};
	o.grace_ms = 60000;
	o.runtime = runtime ? fake_runtime : NULL;
	o.now_ms = fake_now;
	o.now_ctx = f;
	reconciler_init(&f->r, &o);
}

static void fake_release(struct fake *f)
{
	ASSERT_TRUE(f->queued == NULL);
	reconciler_stop(&f->r);
	uv_run(&f->loop, UV_RUN_DEFAULT); /* the queue's timer closes */
	reconciler_release(&f->r);
	objcache_release(&f->caches.crs);
	for (int k = 0; k < OWNED_COUNT; k++)
		objcache_release(&f->caches.owned[k]);
	objcache_release(&f->caches.proms);
	objcache_release(&f->caches.namespaces);
	podcache_release(&f->pods);
	buf_release(&f->log);
	cJSON_Delete(f->unwatched);
	ASSERT_EQ_INT(uv_loop_close(&f->loop), 0);
}

/* Reconciles ns/workload (and the shared Secret) and answers every write;
 * returns the writes it made, and forgets them. */
static int reconcile(struct fake *f, const char *workload)
{
	int n;

	memset(f->writes, 0, sizeof(f->writes));
	buf_reset(&f->log);
	reconciler_workload_changed(&f->r, "llm", workload);
	reconciler_pump(&f->r);
	fake_flush(f);
	n = f->writes[KUBEWRITE_APPLY] + f->writes[KUBEWRITE_STATUS] + f->writes[KUBEWRITE_DELETE];
	return n;
}

/* ---- fixtures ---- */

/* Puts an InferenceWorkload of namespace llm in the cache (uid "uid-<name>"). */
static void add_cr(struct fake *f, const char *name, const char *workload, const char *created,
		   const char *spec)
{
	struct buf uid;
	cJSON *o;

	buf_init(&uid, 256);
	buf_printf(&uid, "uid-%s", name);
	o = t_cr(name, workload, created, buf_str(&uid), spec);
	cache_upsert(&f->caches.crs, o);
	cJSON_Delete(o);
	buf_release(&uid);
}

/* A ready, running vLLM pod of workload in namespace llm. */
static void add_pod(struct fake *f, const char *name, const char *workload)
{
	podcache_upsert(&f->pods, t_pod(name, workload, "vllm", 8000));
}

/* The usual start: CR llm/qwen (spec: more spec fields, or NULL) and
 * npods pods of workload qwen; returns the writes of its first reconcile. */
static int start_qwen(struct fake *f, const char *spec, int npods)
{
	char name[32];

	fake_init(f, true);
	add_cr(f, "qwen", "qwen", "2026-01-01T00:00:00Z", spec);
	for (int i = 0; i < npods; i++) {
		snprintf(name, sizeof(name), "qwen-%d", i);
		add_pod(f, name, "qwen");
	}
	return reconcile(f, "qwen");
}

static const cJSON *cr_status(struct fake *f, const char *name)
{
	return cJSON_GetObjectItemCaseSensitive(objcache_get(&f->caches.crs, "llm", name),
						"status");
}

static const cJSON *condition(const cJSON *status, const char *type)
{
	const cJSON *it;

	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(status, "conditions"))
	{
		if (strcmp(obj_str(it, "type", NULL), type) == 0)
			return it;
	}
	t_fail(__FILE__, __LINE__, "no condition %s", type);
}

static void assert_logged(struct fake *f, const char *line)
{
	if (!strstr(buf_str(&f->log), line))
		t_fail(__FILE__, __LINE__, "no write \"%s\" among:\n%s", line, buf_str(&f->log));
}

/* Someone empties the spec of the ServiceMonitor infermon-qwen (a field
 * infermon owns), and the watch shows it. */
static void edit_monitor(struct fake *f)
{
	const cJSON *live =
		objcache_get(&f->caches.owned[OWNED_SERVICEMONITOR], "llm", "infermon-qwen");
	cJSON *edited;

	ASSERT_TRUE(live != NULL);
	edited = cJSON_Duplicate(live, true);
	cJSON_ReplaceItemInObjectCaseSensitive(edited, "spec", cJSON_CreateObject());
	owned_upsert(f, OWNED_SERVICEMONITOR, edited);
	cJSON_Delete(edited);
}

/* ---- the no-op diff ---- */

TEST(reconcile_noop_writes_nothing_when_live_holds_every_field)
{
	struct fake f;
	int first;

	first = start_qwen(&f, NULL, 2);
	ASSERT_TRUE(f.writes[KUBEWRITE_APPLY] >= 2); /* Service, ServiceMonitor, ... */
	ASSERT_EQ_INT(f.writes[KUBEWRITE_STATUS], 1);
	ASSERT_EQ_INT(f.writes[KUBEWRITE_DELETE], 0);
	assert_logged(&f, "apply Service llm/");
	assert_logged(&f, "apply ServiceMonitor llm/");
	assert_logged(&f, "status InferenceWorkload llm/qwen");
	ASSERT_EQ_INT(first,
		      reconciler_stats(&f.r)->applies + reconciler_stats(&f.r)->status_writes);
	/* the live objects now hold every desired field, and fields of the
	 * server's (uid, resourceVersion, creationTimestamp, status) besides */
	if (reconcile(&f, "qwen") != 0)
		t_fail(__FILE__, __LINE__, "a no-op reconcile wrote:\n%s", buf_str(&f.log));
	ASSERT_TRUE(reconciler_stats(&f.r)->noops >= 2); /* the workload key and the Secret's */
	fake_release(&f);
}

TEST(reconcile_rewrites_only_the_object_that_drifted)
{
	struct fake f;

	start_qwen(&f, NULL, 1);
	/* someone edits a field infermon owns */
	edit_monitor(&f);
	ASSERT_EQ_INT(reconcile(&f, "qwen"), 1);
	assert_logged(&f, "apply ServiceMonitor llm/infermon-qwen");
	ASSERT_EQ_INT(reconcile(&f, "qwen"), 0);
	fake_release(&f);
}

TEST(reconcile_does_not_apply_again_what_the_watch_has_not_shown_yet)
{
	struct fake f;

	fake_init(&f, true);
	f.watch_lag = true;
	add_cr(&f, "qwen", "qwen", "2026-01-01T00:00:00Z", NULL);
	add_pod(&f, "qwen-0", "qwen");
	ASSERT_TRUE(reconcile(&f, "qwen") >= 3); /* Service, ServiceMonitor, status */
	assert_logged(&f, "apply ServiceMonitor llm/infermon-qwen");
	/* another event of the workload before the watch shows the applies:
	 * the caches have neither object, and neither is written again */
	if (reconcile(&f, "qwen") != 0)
		t_fail(__FILE__, __LINE__, "applied again before the watch:\n%s", buf_str(&f.log));
	ASSERT_TRUE(reconciler_stats(&f.r)->unseen_skips >= 2);
	fake_watch(&f);
	f.watch_lag = false;
	ASSERT_EQ_INT(reconcile(&f, "qwen"), 0);
	/* an edit the watch shows after the apply is put right at once */
	edit_monitor(&f);
	ASSERT_EQ_INT(reconcile(&f, "qwen"), 1);
	assert_logged(&f, "apply ServiceMonitor llm/infermon-qwen");
	/* a watch that never shows an apply holds it back for
	 * RECONCILE_UNSEEN_MS only */
	f.watch_lag = true;
	edit_monitor(&f);
	ASSERT_EQ_INT(reconcile(&f, "qwen"), 1);
	ASSERT_EQ_INT(reconcile(&f, "qwen"), 0);
	f.now_ms += RECONCILE_UNSEEN_MS;
	ASSERT_EQ_INT(reconcile(&f, "qwen"), 1);
	assert_logged(&f, "apply ServiceMonitor llm/infermon-qwen");
	fake_watch(&f);
	fake_release(&f);
}

TEST(applydiff_holds_ignores_extra_live_fields_only)
{
	cJSON *want = t_json(
		"{\"kind\":\"Service\",\"metadata\":{\"name\":\"a\",\"labels\":{\"x\":\"1\"}},"
		"\"spec\":{\"ports\":[{\"port\":80,\"name\":\"http\"}],\"headless\":true}}");
	cJSON *have = t_json(
		"{\"metadata\":{\"name\":\"a\",\"uid\":\"u\",\"labels\":{\"x\":\"1\",\"y\":\"2\"}},"
		"\"spec\":{\"ports\":[{\"port\":80,\"name\":\"http\",\"protocol\":\"TCP\"}],"
		"\"headless\":true,\"clusterIP\":\"None\"},\"status\":{}}");
	cJSON *other = t_json("{\"metadata\":{\"name\":\"a\",\"labels\":{\"x\":\"1\"}},"
			      "\"spec\":{\"ports\":[{\"port\":80,\"name\":\"http\"},{\"port\":81}],"
			      "\"headless\":true}}");
	struct buf path;

	buf_init(&path, 1024);
	/* a LIST item carries no kind: the object comparison leaves it out */
	ASSERT_TRUE(applydiff_same_object(want, have));
	ASSERT_TRUE(!applydiff_holds(want, have));
	ASSERT_TRUE(!applydiff_same_object(want, other)); /* an array of another length */
	applydiff_first(want, other, &path);
	ASSERT_STREQ(buf_str(&path), ".spec.ports");
	buf_reset(&path);
	cJSON_ReplaceItemInObjectCaseSensitive(
		cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(
					   cJSON_GetObjectItemCaseSensitive(have, "spec"), "ports"),
				   0),
		"port", cJSON_CreateNumber(8080));
	ASSERT_TRUE(!applydiff_same_object(want, have));
	applydiff_first(want, have, &path);
	ASSERT_STREQ(buf_str(&path), ".spec.ports[0].port");
	buf_release(&path);
	cJSON_Delete(want);
	cJSON_Delete(have);
	cJSON_Delete(other);
}

/* ---- status and conditions ---- */

TEST(reconcile_status_from_pods_and_runtime)
{
	struct fake f;
	const cJSON *st;

	start_qwen(&f, "\"limits\":{\"maxNumSeqs\":8}", 2);
	st = cr_status(&f, "qwen");
	ASSERT_EQ_INT(cJSON_GetObjectItemCaseSensitive(st, "observedGeneration")->valuedouble, 1);
	ASSERT_STREQ(obj_str(st, "backend", NULL), "vllm");
	ASSERT_STREQ(obj_str(st, "podsReady", NULL), "2/2");
	ASSERT_STREQ(obj_str(st, "runningLimit", NULL), "12/16");
	ASSERT_STREQ(obj_str(st, "saturation", NULL), "75%");
	ASSERT_STREQ(obj_str(st, "drift", NULL), "-50%");
	ASSERT_STREQ(obj_str(st, "limitSource", NULL), "pod_args");
	ASSERT_STREQ(
		cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(st, "models"), 0)->valuestring,
		"qwen");
	ASSERT_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(st, "podStatus")), 2);
	ASSERT_STREQ(obj_str(condition(st, "Ready"), "status", NULL), "True");
	ASSERT_STREQ(obj_str(condition(st, "Ready"), "reason", NULL), "Reconciled");
	ASSERT_STREQ(obj_str(condition(st, "LimitMatchesSpec"), "status", NULL), "True");
	ASSERT_TRUE(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(st, "generated")) >= 2);
	fake_release(&f);
}

TEST(reconcile_status_invalid_spec_is_ready_false_and_applies_nothing)
{
	struct fake f;
	const cJSON *st;

	start_qwen(&f, "\"monitor\":{\"kind\":\"Probe\"}", 1);
	st = cr_status(&f, "qwen");
	ASSERT_STREQ(obj_str(condition(st, "Ready"), "status", NULL), "False");
	ASSERT_STREQ(obj_str(condition(st, "Ready"), "reason", NULL), "InvalidSpec");
	ASSERT_TRUE(strstr(obj_str(condition(st, "Ready"), "message", NULL), "spec.monitor.kind"));
	ASSERT_TRUE(!strstr(buf_str(&f.log), "ServiceMonitor"));
	fake_release(&f);
}

TEST(crstatus_conditions_keep_their_transition_time_while_they_hold)
{
	cJSON *cr = t_json(
		"{\"metadata\":{\"name\":\"qwen\",\"namespace\":\"llm\",\"generation\":3}}");
	cJSON *none = cJSON_CreateArray(), *s1, *s2, *s3;
	struct crstatus_in in = {.cr = cr, .generated = none, .now = 1000000000};
	const cJSON *turned;
	bool warning = false;

	s1 = crstatus_build(&in);
	ASSERT_STREQ(obj_str(condition(s1, "Ready"), "lastTransitionTime", NULL),
		     "2001-09-09T01:46:40Z");
	ASSERT_EQ_INT(cJSON_GetObjectItemCaseSensitive(condition(s1, "Ready"), "observedGeneration")
			      ->valuedouble,
		      3);
	/* a later build from the live status keeps the time of a condition
	 * whose status holds */
	cJSON_AddItemToObject(cr, "status", cJSON_Duplicate(s1, true));
	in.now += 60;
	s2 = crstatus_build(&in);
	ASSERT_STREQ(obj_str(condition(s2, "Ready"), "lastTransitionTime", NULL),
		     "2001-09-09T01:46:40Z");
	ASSERT_TRUE(applydiff_holds(s2, s1));
	ASSERT_TRUE(crstatus_turned(s1, s2, "Ready", &warning) == NULL);
	/* and a new time when it changes, with a Warning transition */
	in.not_ready = "Conflict";
	in.message = "another CR governs it";
	s3 = crstatus_build(&in);
	ASSERT_STREQ(obj_str(condition(s3, "Ready"), "status", NULL), "False");
	ASSERT_STREQ(obj_str(condition(s3, "Ready"), "lastTransitionTime", NULL),
		     "2001-09-09T01:47:40Z");
	turned = crstatus_turned(s1, s3, "Ready", &warning);
	ASSERT_TRUE(turned != NULL && warning);
	ASSERT_STREQ(obj_str(turned, "reason", NULL), "Conflict");
	ASSERT_TRUE(crstatus_ready_false(s3, "Conflict", "another CR governs it"));
	ASSERT_TRUE(!crstatus_ready_false(s1, "Conflict", "another CR governs it"));
	/* back to True: a Normal transition */
	turned = crstatus_turned(s3, s1, "Ready", &warning);
	ASSERT_TRUE(turned != NULL && !warning);
	cJSON_Delete(s1);
	cJSON_Delete(s2);
	cJSON_Delete(s3);
	cJSON_Delete(none);
	cJSON_Delete(cr);
}

/* The bounds an engine page shows, parsed as the scraper parses it. */
static const struct histbounds *bounds_of(const char *page)
{
	struct engine_scrape e;
	struct promtext p;
	const struct histbounds *b;

	engine_scrape_init(&e, BACKEND_VLLM);
	promtext_init(&p, NULL, engine_observe, &e);
	ASSERT_OK(promtext_feed(&p, page, strlen(page)));
	ASSERT_OK(promtext_finish(&p));
	engine_scrape_end(&e);
	b = e.bounds;
	engine_scrape_release(&e);
	promtext_release(&p);
	return b;
}

TEST(slo_measurable_says_when_a_threshold_is_not_a_bucket_bound)
{
	/* vLLM's TTFT buckets around 2.5, its two TPOT names (the new one
	 * wins), and a second engine (DP) repeating them */
	static const char page[] =
		"vllm:time_to_first_token_seconds_bucket{engine=\"0\",le=\"1.0\"} 3\n"
		"vllm:time_to_first_token_seconds_bucket{engine=\"0\",le=\"2.5\"} 4\n"
		"vllm:time_to_first_token_seconds_bucket{engine=\"0\",le=\"+Inf\"} 5\n"
		"vllm:time_to_first_token_seconds_bucket{engine=\"1\",le=\"2.5\"} 4\n"
		"vllm:inter_token_latency_seconds_bucket{le=\"0.05\"} 1\n"
		"vllm:time_per_output_token_seconds_bucket{le=\"0.04\"} 1\n";
	struct fake f;
	const cJSON *c;
	const struct histbounds *b = bounds_of(page);

	ASSERT_TRUE(b != NULL);
	ASSERT_EQ_INT((int)b->n[HIST_TTFT], 2);
	ASSERT_EQ_INT((int)b->n[HIST_TPOT], 1);
	ASSERT_TRUE(b->v[HIST_TPOT][0] == 0.05);
	ASSERT_EQ_INT((int)b->n[HIST_E2E], 0);
	ASSERT_TRUE(bounds_of(page) == b); /* interned: one set for equal pages */

	/* no latency objective: no condition */
	fake_bounds = b;
	start_qwen(&f, "\"slo\":{\"objectives\":[{\"sli\":\"availability\",\"target\":99}]}", 1);
	{
		char *st = cJSON_PrintUnformatted(cr_status(&f, "qwen"));
		ASSERT_TRUE(strstr(st, "SLOMeasurable") == NULL);
		cJSON_free(st);
	}
	fake_release(&f);

	start_qwen(&f,
		   "\"slo\":{\"objectives\":[{\"sli\":\"ttft\",\"thresholdSeconds\":2.5,\"target\":99},"
		   "{\"sli\":\"tpot\",\"thresholdSeconds\":0.05,\"target\":99}]}",
		   2);
	c = condition(cr_status(&f, "qwen"), "SLOMeasurable");
	ASSERT_STREQ(obj_str(c, "status", NULL), "True");
	ASSERT_STREQ(obj_str(c, "reason", NULL), "BucketBounds");
	fake_release(&f);

	start_qwen(&f,
		   "\"slo\":{\"objectives\":[{\"sli\":\"tpot\",\"thresholdSeconds\":0.05,\"target\":99},"
		   "{\"sli\":\"ttft\",\"thresholdSeconds\":2,\"target\":99}]}",
		   1);
	c = condition(cr_status(&f, "qwen"), "SLOMeasurable");
	ASSERT_STREQ(obj_str(c, "status", NULL), "False");
	ASSERT_STREQ(obj_str(c, "reason", NULL), "ThresholdNotABucketBound");
	ASSERT_STREQ(obj_str(c, "message", NULL),
		     "objectives[1] (ttft 2s): not a bucket bound of time_to_first_token_seconds "
		     "on pod qwen-0 (nearest bounds 1 and 2.5): the histogram cannot count "
		     "requests within it, so the SLI has no data; set thresholdSeconds to a bound");
	fake_release(&f);

	/* a histogram no pod shows yet */
	start_qwen(&f, "\"slo\":{\"objectives\":[{\"sli\":\"e2e\",\"thresholdSeconds\":30,\"target\":99}]}",
		   1);
	c = condition(cr_status(&f, "qwen"), "SLOMeasurable");
	ASSERT_STREQ(obj_str(c, "status", NULL), "Unknown");
	ASSERT_STREQ(obj_str(c, "message", NULL),
		     "objectives[0] (e2e): no scraped pod shows e2e_request_latency_seconds yet");
	fake_release(&f);
	fake_bounds = NULL;
}

TEST(reconcile_limit_mismatch_turns_limit_matches_spec_false)
{
	struct fake f;
	const cJSON *c;

	start_qwen(&f, "\"limits\":{\"maxNumSeqs\":2}", 1);
	c = condition(cr_status(&f, "qwen"), "LimitMatchesSpec");
	ASSERT_STREQ(obj_str(c, "status", NULL), "False");
	ASSERT_STREQ(obj_str(c, "reason", NULL), "LimitMismatch");
	ASSERT_TRUE(strstr(obj_str(c, "message", NULL), "max-num-seqs 8"));
	fake_release(&f);
}

/* ---- pruning ---- */

static void add_owned(struct fake *f, enum owned_kind k, const char *name, const char *workload,
		      bool deleting)
{
	struct buf b;
	cJSON *o;

	buf_init(&b, 4096);
	buf_printf(&b,
		   "{\"apiVersion\":\"%s\",\"kind\":\"%s\",\"metadata\":{\"name\":\"%s\","
		   "\"namespace\":\"llm\",\"labels\":{\"" LABEL_MANAGED_BY "\":\"" MANAGER_NAME
		   "\",\"" LABEL_IW_WORKLOAD "\":\"%s\"}%s}}",
		   kube_owned[k].api_version, kube_owned[k].kind, name, workload,
		   deleting ? ",\"deletionTimestamp\":\"2026-01-01T00:00:00Z\"" : "");
	o = t_json(buf_str(&b));
	owned_upsert(f, k, o);
	cJSON_Delete(o);
	buf_release(&b);
}

TEST(reconcile_prunes_owned_objects_no_longer_desired)
{
	struct fake f;

	start_qwen(&f, NULL, 1);
	/* left from a spec.monitor.kind PodMonitor, one being deleted, and one
	 * of another workload */
	add_owned(&f, OWNED_PODMONITOR, "infermon-qwen", "qwen", false);
	add_owned(&f, OWNED_PROMETHEUSRULE, "infermon-qwen-old", "qwen", true);
	add_owned(&f, OWNED_PODMONITOR, "infermon-llama", "llama", false);
	ASSERT_EQ_INT(reconcile(&f, "qwen"), 1);
	assert_logged(&f, "delete PodMonitor llm/infermon-qwen");
	ASSERT_TRUE(objcache_get(&f.caches.owned[OWNED_PODMONITOR], "llm", "infermon-qwen") ==
		    NULL);
	ASSERT_TRUE(objcache_get(&f.caches.owned[OWNED_PODMONITOR], "llm", "infermon-llama"));
	/* switching the CR to PodMonitor: the ServiceMonitor goes */
	add_cr(&f, "qwen", "qwen", "2026-01-01T00:00:00Z", "\"monitor\":{\"kind\":\"PodMonitor\"}");
	reconcile(&f, "qwen");
	assert_logged(&f, "apply PodMonitor llm/infermon-qwen");
	assert_logged(&f, "delete ServiceMonitor llm/infermon-qwen");
	fake_release(&f);
}

TEST(reconcile_prunes_a_pod_only_workload_after_the_grace_period)
{
	struct fake f;

	fake_init(&f, false);
	add_pod(&f, "qwen-0", "qwen");
	reconcile(&f, "qwen");
	assert_logged(&f, "apply ServiceMonitor llm/infermon-qwen");
	ASSERT_EQ_INT(f.writes[KUBEWRITE_STATUS], 0); /* no CR */
	podcache_delete(&f.pods, "llm", "qwen-0");
	f.now_ms = 1000;
	reconcile(&f, "qwen"); /* the Secret loses the job; nothing is deleted yet */
	ASSERT_EQ_INT(f.writes[KUBEWRITE_DELETE], 0);
	assert_logged(&f, "apply Secret monitoring/infermon-scrape-configs");
	f.now_ms = 30000;
	reconcile(&f, "qwen");
	ASSERT_EQ_INT(f.writes[KUBEWRITE_DELETE], 0);
	f.now_ms = 61001;
	reconcile(&f, "qwen");
	assert_logged(&f, "delete ServiceMonitor llm/infermon-qwen");
	assert_logged(&f, "delete Service llm/");
	fake_release(&f);
}

/* A scrape that changes a workload's status refreshes that workload alone
 * (the Secret and the dashboard do not depend on scrapes), at once for the
 * first change of a window and once at its end for the rest: a fleet whose
 * pods all fail within a window costs a CR two status writes, not one per
 * pod. */
TEST(scrape_changes_refresh_the_workload_at_most_twice_a_window)
{
	struct fake f;

	start_qwen(&f, NULL, 3);
	f.r.o.scrape_coalesce_ms = 50; /* the window, on the loop's clock */
	f.now_ms = 100000;
	reconciler_scrape_changed(&f.r, "llm", "qwen");
	ASSERT_EQ_INT(reconciler_queue_len(&f.r), 1); /* the workload alone */
	reconciler_pump(&f.r);
	fake_flush(&f);
	for (int i = 0; i < 10; i++) { /* every pod's scrape fails, one by one */
		f.now_ms++;
		reconciler_scrape_changed(&f.r, "llm", "qwen");
	}
	ASSERT_EQ_INT(reconciler_queue_len(&f.r), 0); /* they wait for the window's end */
	usleep(80 * 1000);
	uv_run(&f.loop, UV_RUN_NOWAIT);
	ASSERT_EQ_INT(reconciler_queue_len(&f.r), 1); /* one reconcile for the ten */
	reconciler_pump(&f.r);
	fake_flush(&f);
	f.now_ms += 50; /* a change in the next window goes at once again */
	reconciler_scrape_changed(&f.r, "llm", "qwen");
	ASSERT_EQ_INT(reconciler_queue_len(&f.r), 1);
	reconciler_pump(&f.r);
	fake_flush(&f);
	fake_release(&f);
}

TEST(prune_owners_tells_a_live_cr_from_orphans)
{
	struct fake f;
	cJSON *o;

	fake_init(&f, false);
	ASSERT_EQ_INT(prune_owners(f.caches.owned, &f.caches.crs, "llm", "qwen"),
		      PRUNE_OWNS_NOTHING);
	add_owned(&f, OWNED_SERVICE, "infermon-qwen", "qwen", false);
	ASSERT_EQ_INT(prune_owners(f.caches.owned, &f.caches.crs, "llm", "qwen"),
		      PRUNE_OWNS_ORPHANS);
	add_cr(&f, "qwen", "other", "2026-01-01T00:00:00Z", NULL);
	o = cJSON_Duplicate(objcache_get(&f.caches.owned[OWNED_SERVICE], "llm", "infermon-qwen"),
			    true);
	cJSON_AddItemToObject(
		cJSON_GetObjectItemCaseSensitive(o, "metadata"), "ownerReferences",
		t_json("[{\"kind\":\"InferenceWorkload\",\"name\":\"qwen\",\"uid\":\"uid-qwen\"}]"));
	owned_upsert(&f, OWNED_SERVICE, o);
	cJSON_Delete(o);
	ASSERT_EQ_INT(prune_owners(f.caches.owned, &f.caches.crs, "llm", "qwen"),
		      PRUNE_OWNS_LIVE_CR);
	/* and a workload whose CR now selects another workload loses its
	 * objects at once */
	ASSERT_EQ_INT(reconcile(&f, "qwen") - f.writes[KUBEWRITE_APPLY], 1);
	assert_logged(&f, "delete Service llm/infermon-qwen");
	fake_release(&f);
}

/* ---- the conflict rule ---- */

TEST(reconcile_conflict_oldest_cr_wins_loser_ready_false)
{
	struct fake f;
	const cJSON *c;

	fake_init(&f, true);
	/* zeta is older: it wins although "alpha" sorts first */
	add_cr(&f, "alpha", "qwen", "2026-02-01T00:00:00Z", NULL);
	add_cr(&f, "zeta", "qwen", "2026-01-01T00:00:00Z", NULL);
	add_pod(&f, "qwen-0", "qwen");
	reconcile(&f, "qwen");
	ASSERT_EQ_INT(f.writes[KUBEWRITE_STATUS], 2);
	c = condition(cr_status(&f, "zeta"), "Ready");
	ASSERT_STREQ(obj_str(c, "status", NULL), "True");
	c = condition(cr_status(&f, "alpha"), "Ready");
	ASSERT_STREQ(obj_str(c, "status", NULL), "False");
	ASSERT_STREQ(obj_str(c, "reason", NULL), "Conflict");
	ASSERT_TRUE(strstr(obj_str(c, "message", NULL), "InferenceWorkload llm/zeta"));
	/* the generated objects are the winner's */
	c = objcache_get(&f.caches.owned[OWNED_SERVICEMONITOR], "llm", "infermon-qwen");
	ASSERT_TRUE(c != NULL);
	ASSERT_STREQ(
		obj_str(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(
						   cJSON_GetObjectItemCaseSensitive(c, "metadata"),
						   "ownerReferences"),
					   0),
			"name", NULL),
		"zeta");
	/* and the loser's status names none */
	ASSERT_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(cr_status(&f, "alpha"),
									  "generated")),
		      0);
	/* steady: the conflict is reported once, not rewritten */
	ASSERT_EQ_INT(reconcile(&f, "qwen"), 0);
	fake_release(&f);
}

/* ---- the spec index ---- */

TEST(reconciler_spec_is_parsed_once_per_cr_change)
{
	struct fake f;
	const struct iwspec *a, *b;

	fake_init(&f, false);
	add_cr(&f, "qwen", "qwen", "2026-01-01T00:00:00Z", "\"metrics\":{\"port\":\"metrics\"}");
	a = reconciler_spec(&f.r, "llm", "qwen", BACKEND_VLLM);
	ASSERT_STREQ(a->port, "metrics");
	b = reconciler_spec(&f.r, "llm", "qwen", BACKEND_VLLM);
	ASSERT_TRUE(a == b); /* from the index */
	add_cr(&f, "qwen", "qwen", "2026-01-01T00:00:00Z", "\"metrics\":{\"port\":\"9000\"}");
	reconciler_cr_changed(&f.r, objcache_get(&f.caches.crs, "llm", "qwen"), false, NULL);
	ASSERT_STREQ(reconciler_spec(&f.r, "llm", "qwen", BACKEND_VLLM)->port, "9000");
	/* a workload without a CR gets the defaults, one copy for all such
	 * workloads of a backend (thousands of pod-only workloads) */
	a = reconciler_spec(&f.r, "llm", "llama", BACKEND_SGLANG);
	ASSERT_STREQ(a->port, "http");
	ASSERT_STREQ(a->name, "");
	ASSERT_TRUE(reconciler_spec(&f.r, "other", "mistral", BACKEND_SGLANG) == a);
	ASSERT_TRUE(reconciler_spec(&f.r, "llm", "mistral", BACKEND_VLLM) != a);
	/* until a CR selects one of them */
	add_cr(&f, "llama", "llama", "2026-01-01T00:00:00Z", "\"metrics\":{\"port\":\"9100\"}");
	reconciler_cr_changed(&f.r, objcache_get(&f.caches.crs, "llm", "llama"), false, NULL);
	b = reconciler_spec(&f.r, "llm", "llama", BACKEND_SGLANG);
	ASSERT_STREQ(b->port, "9100");
	ASSERT_STREQ(b->name, "llama");
	ASSERT_STREQ(a->port, "http"); /* the shared one is still there */
	ASSERT_TRUE(reconciler_spec(&f.r, "other", "mistral", BACKEND_SGLANG) == a);
	reconciler_pump(&f.r);
	fake_flush(&f);
	fake_release(&f);
}

/* ---- the objectives on /metrics ---- */

struct seen_specs {
	const struct iwspec *v[8];
	size_t n;
};

static void seen_spec(void *ctx, const struct iwspec *s)
{
	struct seen_specs *l = ctx;

	ASSERT_TRUE(l->n < 8);
	l->v[l->n++] = s;
}

TEST(each_cr_spec_gives_every_governed_workload_once_and_the_objective_series)
{
	struct fake f;
	struct seen_specs l = {0};
	struct buf page;

	fake_init(&f, false);
	add_cr(&f, "qwen", "qwen", "2026-01-01T00:00:00Z",
	       "\"slo\":{\"objectives\":["
	       "{\"sli\":\"ttft\",\"thresholdSeconds\":2.5,\"target\":99},"
	       "{\"sli\":\"ttft\",\"thresholdSeconds\":2.5,\"target\":99.9},"
	       "{\"sli\":\"tpot\",\"thresholdSeconds\":0.1,\"target\":99.5,\"window\":\"4w\"},"
	       "{\"sli\":\"availability\",\"target\":99.9,\"window\":\"30d\"}]}");
	/* two CRs select llama: the older one's objective only */
	add_cr(&f, "zeta", "llama", "2026-01-01T00:00:00Z",
	       "\"slo\":{\"objectives\":[{\"sli\":\"e2e\",\"thresholdSeconds\":10,\"target\":95}]}");
	add_cr(&f, "alpha", "llama", "2026-02-01T00:00:00Z",
	       "\"slo\":{\"objectives\":[{\"sli\":\"e2e\",\"thresholdSeconds\":20,\"target\":90}]}");
	/* an invalid spec counts for nothing; no objectives, no samples */
	add_cr(&f, "broken", "broken", "2026-01-01T00:00:00Z",
	       "\"slo\":{\"objectives\":[{\"sli\":\"ttft\",\"thresholdSeconds\":2.5,\"target\":100}]}");
	add_cr(&f, "plain", "plain", "2026-01-01T00:00:00Z", NULL);
	/* a pod's spec parsed by the scraper wiring is the one read */
	ASSERT_EQ_INT(reconciler_spec(&f.r, "llm", "qwen", BACKEND_VLLM)->nobjectives, 4);

	reconciler_each_cr_spec(&f.r, seen_spec, &l);
	ASSERT_EQ_INT(l.n, 4);
	ASSERT_STREQ(l.v[0]->workload, "broken");
	ASSERT_EQ_INT(l.v[0]->nobjectives, 0);
	ASSERT_STREQ(l.v[1]->workload, "llama");
	ASSERT_STREQ(l.v[1]->name, "zeta");
	ASSERT_STREQ(l.v[2]->workload, "plain");
	ASSERT_STREQ(l.v[3]->workload, "qwen");
	ASSERT_TRUE(l.v[3] == reconciler_spec(&f.r, "llm", "qwen", BACKEND_VLLM));

	buf_init(&page, BUF_MAX_SMALL);
	selfmetrics_objectives(&page, l.v, l.n);
	ASSERT_STREQ(
		buf_str(&page),
		"# HELP infermon_slo_objective An SLO objective of the workload's "
		"InferenceWorkload: the share of requests that must meet it "
		"(spec.slo.objectives[].target / 100).\n"
		"# TYPE infermon_slo_objective gauge\n"
		"infermon_slo_objective{namespace=\"llm\",workload_name=\"llama\",sli=\"e2e\","
		"threshold=\"10\",target=\"95\",window=\"28d\"} 0.94999999999999996\n"
		"infermon_slo_objective{namespace=\"llm\",workload_name=\"qwen\",sli=\"ttft\","
		"threshold=\"2.5\",target=\"99\",window=\"28d\"} 0.98999999999999999\n"
		"infermon_slo_objective{namespace=\"llm\",workload_name=\"qwen\",sli=\"ttft\","
		"threshold=\"2.5\",target=\"99.9\",window=\"28d\"} 0.999\n"
		"infermon_slo_objective{namespace=\"llm\",workload_name=\"qwen\",sli=\"tpot\","
		"threshold=\"0.1\",target=\"99.5\",window=\"28d\"} 0.995\n"
		"infermon_slo_objective{namespace=\"llm\",workload_name=\"qwen\",sli=\"availability\","
		"target=\"99.9\",window=\"30d\"} 0.999\n");
	buf_release(&page);

	/* the winner's edit is read anew (its spec forgotten on the change) */
	add_cr(&f, "zeta", "llama", "2026-01-01T00:00:00Z",
	       "\"slo\":{\"objectives\":[{\"sli\":\"e2e\",\"thresholdSeconds\":10,\"target\":97}]}");
	reconciler_cr_changed(&f.r, objcache_get(&f.caches.crs, "llm", "zeta"), false, NULL);
	l.n = 0;
	reconciler_each_cr_spec(&f.r, seen_spec, &l);
	ASSERT_EQ_INT(l.n, 4);
	ASSERT_EQ_DBL(l.v[1]->objectives[0].target, 97, 0);
	reconciler_pump(&f.r);
	fake_flush(&f);
	fake_release(&f);
}

int main(int argc, char **argv)
{
	return t_run(argc, argv);
}
