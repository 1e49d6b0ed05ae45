#include "controller.h"

#include <malloc.h>
#include <signal.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "desired.h"
#include "events.h"
#include "http.h"
#include "httpserver.h"
#include "informers.h"
#include "kube.h"
#include "kubeclient.h"
#include "kubewrite.h"
#include "leader.h"
#include "log.h"
#include "loop.h"
#include "metricsauth.h"
#include "metricsreview.h"
#include "podcache.h"
#include "reconcile.h"
#include "scraper.h"
#include "selfmetrics.h"
#include "strparse.h"
#include "targets.h"
#include "tlscert.h"
#include "version.h"

#define PUBLISH_MS 2000
/* /metrics: a page older than this is rebuilt for the request that finds
 * it, which waits at most METRICS_WAIT_MS for it (then gets the old one).
 * The server thread waits meanwhile, so the wait stays well under the
 * probes' 1 s timeout. */
#define METRICS_MAX_AGE_MS 1000
#define METRICS_WAIT_MS 500

/* The wiring: each module below is driven through its functions; the
 * controller holds them and the loop handles. */
struct controller {
	const struct controller_opts *o;
	struct loop loop;
	struct http http;
	struct kubeclient kc;
	struct podcache cache;
	struct informers inf;
	struct reconcile_caches caches; /* filled by inf, read by rec */
	struct scraper scraper;
	struct targets targets;
	struct httpserver *hs;
	struct tlscert cert;         /* --metrics-secure: what HTTPS serves */
	struct metricsauth *auth;    /* --metrics-secure: who may read /metrics */
	struct metricsreview review; /* its reviews, on the loop */
	uv_signal_t sigint, sigterm;
	uv_timer_t publish;
	uv_async_t metrics_wanted; /* a /metrics request wants a fresh page */
	struct http_call *crd_call;
	struct http_call *gd_crd_call; /* --grafana-operator: is its CRD installed? */
	int exit_code;
	struct events events;
	/* Taking over: CR status waits (targets' round, round_timer) until
	 * every engine has been scraped once, so the first status a new leader
	 * writes is not built from no data; generated objects are applied at
	 * once (reconciler_hold_status). */
	uv_timer_t round_timer;
	bool takeover_pending; /* leading before the caches synced */
	uint64_t publishes;
	struct reconciler rec;
	char interval[32], timeout[32]; /* the flags, as durations for generated objects */
	uv_prepare_t pump;
	bool synced;
	uint64_t crs_stale_ms; /* when the CR cache was cut off (0: it is not) */
	struct leader le;
	char *identity; /* this replica's holderIdentity */
	bool leading;   /* holds the Lease (always, without leader election) */
	bool stopping;  /* a signal came; the Lease is being handed back */
};

void controller_opts_default(struct controller_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->metrics_bind = "0.0.0.0";
	o->metrics_port = 8443;
	o->metrics_secure = true;
	o->port_name = "http";
	o->metrics_path = "/metrics";
	o->scrape_interval_ms = 15000;
	o->scrape_timeout_ms = 10000;
	o->drift_tolerance = 0.25;
	o->events = true;
	o->reconcile = true;
	o->leader_elect = true;
}

/* ---- the caches' events ---- */

static void on_workload(void *ctx, enum workload_event ev, const struct workload *w)
{
	static const char *const msgs[] = {"workload appeared", "workload changed",
					   "workload disappeared"};
	struct controller *c = ctx;
	size_t n = 0, ready = 0;
	const char *backend = "";
	char pods[24], nready[24];

	for (struct hmap_entry *e = hmap_first(&w->pods); e; e = hmap_next(&w->pods, e)) {
		const struct pod *p = e->value;
		n++;
		ready += p->ready && !p->deleting;
		backend = pod_backend(p);
	}
	targets_sync_workload(&c->targets, w);
	reconciler_workload_changed(&c->rec, w->namespace, w->name);
	snprintf(pods, sizeof(pods), "%zu", n);
	snprintf(nready, sizeof(nready), "%zu", ready);
	log_kv(LOG_INFO, msgs[ev], "namespace", w->namespace, "workload", w->name, "backend",
	       backend, "pods", pods, "ready", nready, NULL);
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
		targets_sync_workload(&c->targets, w);
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
	if (c->caches.proms_known)
		reconciler_selection_changed(&c->rec);
}

static void on_namespace(void *ctx, const cJSON *obj, bool deleted)
{
	struct controller *c = ctx;

	(void)obj;
	(void)deleted;
	if (c->caches.proms_known && c->caches.proms.objs.count > 0)
		reconciler_selection_changed(&c->rec);
}

/* Events wait for the generated objects' writes (events.h). */
static bool reconciling(void *rec)
{
	return reconciler_busy(rec);
}

static void on_owned(void *ctx, const cJSON *obj, bool deleted)
{
	reconciler_owned_changed(&((struct controller *)ctx)->rec, obj, deleted);
}

static void take_over(struct controller *c);

/* While the InferenceWorkload watch is cut off (a failed request, or
 * listing again after 410 Gone) its cache may hold CRs deleted meanwhile:
 * reconciling from it would write their objects, owned by a CR that is
 * gone, which the garbage collector deletes and the next reconcile writes
 * again, until the CRs are listed. Keys wait instead, 30 s at most (a
 * CRD removed for good must not stop every write). */
#define CRS_STALE_HOLD_MS 30000

static bool crs_stale(struct controller *c)
{
	uint64_t now = loop_now_ms(&c->loop);

	if (informers_crs_current(&c->inf, now)) {
		if (c->crs_stale_ms)
			log_kv(LOG_INFO, "InferenceWorkload watch back; reconciling", NULL);
		c->crs_stale_ms = 0;
		return false;
	}
	if (!c->crs_stale_ms) {
		c->crs_stale_ms = now ? now : 1;
		log_kv(LOG_WARN,
		       "InferenceWorkload watch cut off; reconciles wait for it (30 s at most)",
		       NULL);
	}
	return now - c->crs_stale_ms < CRS_STALE_HOLD_MS;
}

static void pump(uv_prepare_t *h)
{
	struct controller *c = h->data;

	if (!c->caches.proms_known && informers_prometheus_synced(&c->inf)) {
		c->caches.proms_known = true;
		reconciler_selection_changed(&c->rec);
	}
	if (!c->synced) {
		if (!informers_synced(&c->inf, loop_now_ms(&c->loop)))
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
	if (!c->leading) /* a follower's keys wait in the queue */
		return;
	if (crs_stale(c))
		return;
	reconciler_pump(&c->rec);
}

/* ---- leadership ---- */

/* Writes (objects, status, Events) follow leadership; runs before
 * anything else when the renewal deadline passes. */
static void set_leading(struct controller *c, bool leading)
{
	c->leading = leading;
	reconciler_set_leading(&c->rec, leading, c->o->reconcile, c->o->events ? &c->events : NULL);
	targets_set_events(&c->targets, c->o->events && leading ? &c->events : NULL);
}

/* The takeover round is over (every engine scraped once, or the time is
 * up): reconcile every key. */
static void end_round(struct controller *c, const char *why)
{
	char n[24];

	targets_cancel_round(&c->targets);
	uv_timer_stop(&c->round_timer);
	if (!c->leading)
		return;
	reconciler_hold_status(&c->rec, false);
	reconciler_resync_all(&c->rec);
	snprintf(n, sizeof(n), "%zu", reconciler_queue_len(&c->rec));
	log_kv(LOG_INFO, "leading: reconciling every key", "keys", n, "after", why, NULL);
}

static void round_done(void *ctx)
{
	end_round(ctx, "every engine scraped once");
}

static void round_timeout(uv_timer_t *h)
{
	char n[24];
	struct controller *c = h->data;

	snprintf(n, sizeof(n), "%zu", c->targets.round_left);
	log_kv(LOG_WARN, "takeover: not every engine answered in time; reconciling anyway",
	       "unscraped", n, NULL);
	end_round(c, "timeout");
}

/* Only the leader scrapes (engines see one controller, however many
 * replicas run). A new leader applies the generated objects at once,
 * scrapes every engine, and writes CR status when each has answered or
 * timed out, at most the scrape timeout and a second later: its first
 * status is built from the engines, not from no data. A replica that
 * starts leading has posted nothing: what its checks found while it
 * followed is reported again (targets_forget_reported). */
static void take_over(struct controller *c)
{
	scraper_pause(&c->scraper, false);
	targets_forget_reported(&c->targets);
	if (targets_start_round(&c->targets)) {
		/* objects now, status once the engines have answered
		 * (end_round reconciles every key again) */
		reconciler_hold_status(&c->rec, true);
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
		targets_cancel_round(&c->targets);
		reconciler_hold_status(&c->rec, false);
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

/* ---- start ---- */

/* The reconciler and every watch (informers.h), in the namespaces of
 * o->namespaces. */
static void start_reconciler(struct controller *c)
{
	struct iw_defaults d;
	struct render_config rc;
	struct reconciler_opts ro = {.pods = &c->cache,
				     .caches = &c->caches,
				     .loop = &c->loop.uv,
				     .defaults = &d,
				     .rc = &rc,
				     .grace_ms = c->o->prune_grace_ms,
				     .scrape_coalesce_ms = c->o->scrape_interval_ms,
				     .runtime = targets_runtime,
				     .runtime_ctx = &c->targets,
				     .now_ms = loop_ms,
				     .now_ctx = c};

	iw_defaults_init(&d);
	d.port = c->o->port_name;
	d.path = c->o->metrics_path;
	d.drift_tolerance = c->o->drift_tolerance;
	d.match_prometheus = c->o->match_prometheus;
	if (c->o->scrape_interval_ms) {
		strparse_duration_str(c->interval, sizeof(c->interval), c->o->scrape_interval_ms);
		d.interval = c->interval;
	}
	if (c->o->scrape_timeout_ms) {
		strparse_duration_str(c->timeout, sizeof(c->timeout), c->o->scrape_timeout_ms);
		d.timeout = c->timeout;
	}
	render_config_init(&rc);
	if (c->o->secret_namespace)
		rc.secret_namespace = c->o->secret_namespace;
	if (c->o->secret_name)
		rc.secret_name = c->o->secret_name;
	render_dashboard_apply_opts(&rc, &c->o->dashboard);
	kubewrite_client_kube(&ro.client, &c->kc);
	reconciler_init(&c->rec, &ro);
	set_leading(c, c->leading);
	objcache_init(&c->caches.crs, on_cr, c);
	for (int k = 0; k < OWNED_COUNT; k++) {
		objcache_init(&c->caches.owned[k], on_owned, c);
		objcache_group_by(&c->caches.owned[k], LABEL_IW_WORKLOAD);
	}
	objcache_init(&c->caches.proms, on_prometheus, c);
	objcache_init(&c->caches.namespaces, on_namespace, c);
	informers_start(&c->inf, &c->kc, &c->cache, &c->caches, c->o->namespaces, c->o->nnamespaces,
			&rc, c->o->watch_timeout_s, loop_now_ms(&c->loop));
	uv_prepare_init(&c->loop.uv, &c->pump);
	c->pump.data = c;
	uv_prepare_start(&c->pump, pump);
}

static void release_caches(struct reconcile_caches *caches)
{
	objcache_release(&caches->crs);
	for (int k = 0; k < OWNED_COUNT; k++)
		objcache_release(&caches->owned[k]);
	objcache_release(&caches->proms);
	objcache_release(&caches->namespaces);
}

/* ---- /metrics ---- */

/* The /metrics page, built when a request finds the last one older than
 * METRICS_MAX_AGE_MS (httpserver_set_metrics_refresh): at 5,000 engines it
 * is megabytes, and building it every few seconds for nobody was the top
 * symbol of the scale profile (docs/scale.md). */
static void build_metrics(uv_async_t *h)
{
	struct controller *c = h->data;
	struct selfmetrics_in in = {.pods_synced = informers_pods_synced(&c->inf),
				    .pods = &c->cache,
				    .scraper = &c->scraper,
				    .targets = &c->targets,
				    .events = &c->events,
				    .rec = &c->rec,
				    .kc = &c->kc,
				    .le = c->o->leader_elect ? &c->le : NULL,
				    .leading = c->leading,
				    .identity = c->identity,
				    .auth = c->auth};
	struct buf b;

	in.nwatches = informers_stats(&c->inf, in.watches);
	buf_init(&b, BUF_MAX_LARGE);
	selfmetrics_render(&in, &b);
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
	bool synced = informers_pods_synced(&c->inf);

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

/* --metrics-secure: the mounted certificate, or a self-signed one naming
 * the controller's Service (deploy/prometheus/service.yaml) and pod. */
static im_result metrics_cert(const struct controller_opts *o, struct tlscert *t, struct buf *err)
{
	const char *ns = getenv("POD_NAMESPACE"), *pod = getenv("POD_NAME");
	char svc[300], svc_fqdn[320];
	const char *names[4] = {svc, svc_fqdn, pod, NULL};

	if (o->metrics_cert_dir)
		return tlscert_load_dir(t, o->metrics_cert_dir, err);
	if (!ns || !*ns)
		ns = LEADER_DEFAULT_NAMESPACE;
	snprintf(svc, sizeof(svc), "infermon-metrics.%s.svc", ns);
	snprintf(svc_fqdn, sizeof(svc_fqdn), "%s.cluster.local", svc);
	return tlscert_self_signed(t, names, err);
}

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

static void on_stop(void *arg)
{
	struct controller *c = arg;

	log_kv(LOG_INFO, "stopping", NULL);
	set_leading(c, false);
	if (c->o->leader_elect)
		leader_stop(&c->le);
	informers_stop(&c->inf);
	scraper_stop(&c->scraper);
	reconciler_stop(&c->rec);
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
	metricsreview_stop(&c->review);
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
	tlscert_init(&c->cert);
	if (o->metrics_port >= 0) {
		struct httpserver_tls tls;

		buf_reset(&err);
		tls = (struct httpserver_tls){0};
		if (o->metrics_secure && metrics_cert(o, &c->cert, &err)) {
			log_kv(LOG_ERROR, "cannot serve /metrics over HTTPS", "error",
			       buf_str(&err), NULL);
		} else {
			tls = (struct httpserver_tls){.cert_pem = c->cert.cert.ptr,
						      .cert_len = c->cert.cert.len,
						      .key_pem = c->cert.key.ptr,
						      .key_len = c->cert.key.len};
			if (o->metrics_secure)
				c->auth = metricsauth_new(NULL);
			if (httpserver_start_secure(&c->hs, o->metrics_bind, o->metrics_port,
						    o->metrics_secure ? &tls : NULL, c->auth, &err))
				log_kv(LOG_ERROR, "cannot start the metrics server", "error",
				       buf_str(&err), NULL);
		}
		if (!c->hs) {
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
			       o->metrics_bind, "port", port, "scheme",
			       o->metrics_secure ? "https" : "http", "metrics",
			       o->metrics_secure ? "TokenReview and SubjectAccessReview"
						 : "open to anyone",
			       "certificate",
			       !o->metrics_secure    ? ""
			       : o->metrics_cert_dir ? o->metrics_cert_dir
						     : "self-signed",
			       NULL);
		}
	}
	log_kv(LOG_INFO, "starting", "version", INFERMON_VERSION, "server", cfg.server, "source",
	       cfg.source, "context", cfg.context ? cfg.context : "", NULL);
	kubeclient_init(&c->kc, &c->http, &cfg);
	if (c->auth)
		metricsreview_start(&c->review, &c->loop.uv, &c->kc, c->auth);
	events_init(&c->events, &c->kc, o->instance);
	events_set_busy(&c->events, reconciling, &c->rec);
	podcache_init(&c->cache, on_workload, c);
	so.interval_ms = o->scrape_interval_ms;
	so.timeout_ms = o->scrape_timeout_ms;
	check_opts_default(&so.checks);
	so.checks.drift_tolerance = o->drift_tolerance;
	scraper_init(&c->scraper, &c->http, &so, targets_scraped, &c->targets);
	targets_init(&c->targets, &c->scraper, &c->rec, o->drift_tolerance, round_done, c);
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
	c->identity = leader_identity_new();
	c->leading = !o->leader_elect;
	start_reconciler(c); /* and every watch */
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
	metricsauth_free(c->auth);
	tlscert_release(&c->cert);
	targets_release(&c->targets);
	scraper_release(&c->scraper);
	informers_release(&c->inf);
	reconciler_release(&c->rec);
	release_caches(&c->caches);
	if (o->leader_elect)
		leader_release(&c->le);
	im_free(c->identity);
	podcache_release(&c->cache);
	kubeclient_release(&c->kc);
	log_kv(LOG_INFO, "stopped", NULL);
	rc = c->exit_code;
out:
	if (c && rc) { /* start-up failed: nothing else was set up */
		httpserver_stop(c->hs);
		metricsauth_free(c->auth);
		tlscert_release(&c->cert);
	}
	buf_release(&err);
	im_free(c);
	return rc;
}
