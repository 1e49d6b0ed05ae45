#include "reflector.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "kube.h"
#include "log.h"

static void start_list(struct reflector *r);
static void start_watch(struct reflector *r);

const char *reflector_state_name(enum reflector_state s)
{
	static const char *const names[] = {"idle", "listing", "watching", "backoff", "stopped"};
	return (unsigned)s < 5 ? names[s] : "unknown";
}

static const char *scope(const struct reflector *r)
{
	return r->namespace ? r->namespace : "(all)";
}

void reflector_init(struct reflector *r, struct kubeclient *kc, const struct reflector_store *store,
		    const struct reflector_opts *o)
{
	struct timespec ts;
	uint32_t seed = o->seed;

	memset(r, 0, sizeof(*r));
	r->kc = kc;
	r->store = *store;
	r->api = im_xstrdup(o->api ? o->api : KUBE_PATH_CORE);
	r->resource = im_xstrdup(o->resource ? o->resource : "pods");
	r->namespace = o->namespace ? im_xstrdup(o->namespace) : NULL;
	r->selector = o->label_selector ? im_xstrdup(o->label_selector) : NULL;
	r->field_selector = o->field_selector ? im_xstrdup(o->field_selector) : NULL;
	r->page_size = o->page_size ? o->page_size : 500;
	r->watch_min_s = o->watch_min_s ? o->watch_min_s : 300;
	r->watch_max_s = o->watch_max_s ? o->watch_max_s : 600;
	if (r->watch_max_s < r->watch_min_s)
		r->watch_max_s = r->watch_min_s;
	r->idle_timeout_s = o->idle_timeout_s ? o->idle_timeout_s : 180;
	if (!seed) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		seed = (uint32_t)(ts.tv_nsec ^ ts.tv_sec ^ (long)(uintptr_t)r);
	}
	backoff_init_default(&r->bo, seed);
	snprintf(r->kind_msg_failed, sizeof(r->kind_msg_failed), "%s watch failed; retrying",
		 strcmp(r->resource, "pods") == 0 ? "pod" : r->resource);
	snprintf(r->kind_msg_listed, sizeof(r->kind_msg_listed), "%s list complete",
		 strcmp(r->resource, "pods") == 0 ? "pod" : r->resource);
	r->state = REFLECTOR_IDLE;
	buf_init(&r->errbody, BUF_MAX_SMALL);
}

static void drop_listed(struct reflector *r)
{
	for (size_t i = 0; i < r->nlisted; i++)
		r->store.discard(r->store.ctx, r->listed[i]);
	r->nlisted = 0;
}

static void set_str(char **dst, const char *s)
{
	im_free(*dst);
	*dst = s ? im_xstrdup(s) : NULL;
}

static void timer_fire(uv_timer_t *t)
{
	struct reflector *r = t->data;

	if (r->state != REFLECTOR_BACKOFF)
		return;
	if (r->rv && r->synced)
		start_watch(r);
	else
		start_list(r);
}

static void backoff(struct reflector *r, const char *why)
{
	uint64_t delay = backoff_next(&r->bo, loop_now_ms(r->kc->http->loop));
	char ms[32];

	r->stats.failures++;
	r->state = REFLECTOR_BACKOFF;
	r->cut = true;
	snprintf(ms, sizeof(ms), "%llu", (unsigned long long)delay);
	log_kv(LOG_WARN, r->kind_msg_failed, "namespace", scope(r), "error", why, "retry_in_ms", ms,
	       NULL);
	uv_timer_start(&r->timer, timer_fire, delay, 0);
}

static void relist(struct reflector *r, const char *why)
{
	r->stats.gone++;
	r->cut = true;
	log_kv(LOG_INFO, "resource version too old; relisting", "namespace", scope(r),
	       "resource_version", r->rv ? r->rv : "", "reason", why, NULL);
	set_str(&r->rv, NULL);
	start_list(r);
}

static void base_path(struct reflector *r, struct buf *b)
{
	buf_adds(b, r->api);
	if (r->namespace) {
		buf_adds(b, "/namespaces/");
		kubeclient_escape(b, r->namespace);
	}
	buf_printf(b, "/%s?", r->resource);
	if (r->selector) {
		buf_adds(b, "labelSelector=");
		kubeclient_escape(b, r->selector);
		buf_addc(b, '&');
	}
	if (r->field_selector) {
		buf_adds(b, "fieldSelector=");
		kubeclient_escape(b, r->field_selector);
		buf_addc(b, '&');
	}
}

/* ---- LIST ---- */

static void list_done(struct http_call *c, im_result transport, void *data)
{
	struct reflector *r = data;
	struct buf err;
	im_result result;
	const struct buf *body = http_call_body_buf(c);
	cJSON *root = NULL;
	const cJSON *md;
	const char *rv, *cont;

	buf_init(&err, 4096);
	result = kubeclient_result(c, transport, &err);
	r->call = NULL;
	if (result == IM_GONE && r->cont) {
		/* The continue token expired: start the whole list again. */
		drop_listed(r);
		set_str(&r->cont, NULL);
		relist(r, "continue token expired");
		goto out;
	}
	if (result) {
		drop_listed(r);
		set_str(&r->cont, NULL);
		backoff(r, buf_str(&err));
		goto out;
	}
	root = cJSON_ParseWithLength(body->ptr ? body->ptr : "", body->len);
	md = cJSON_GetObjectItemCaseSensitive(root, "metadata");
	if (!root || !cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(root, "items")) || !md) {
		drop_listed(r);
		set_str(&r->cont, NULL);
		backoff(r, "list response is not a list");
		goto out;
	}
	/* kept as the store keeps it, page by page */
	for (const cJSON *o = cJSON_GetObjectItemCaseSensitive(root, "items")->child; o;
	     o = o->next) {
		void *item = r->store.decode(r->store.ctx, o);

		if (!item) {
			r->stats.decode_errors++;
			continue;
		}
		if (r->nlisted == r->caplisted) {
			r->caplisted = r->caplisted ? r->caplisted * 2 : 64;
			r->listed = im_xrealloc(r->listed, r->caplisted * sizeof(*r->listed));
		}
		r->listed[r->nlisted++] = item;
	}
	rv = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(md, "resourceVersion"));
	cont = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(md, "continue"));
	if (cont && *cont) {
		set_str(&r->cont, cont);
		start_list(r);
		goto out;
	}
	set_str(&r->cont, NULL);
	set_str(&r->rv, rv);
	cJSON_Delete(root); /* the last page's tree: gone before the store works */
	root = NULL;
	r->stats.decode_errors += r->store.replace(r->store.ctx, r->namespace, r->listed,
						   r->nlisted);
	r->nlisted = 0; /* the store has them */
	{
		char n[32];
		snprintf(n, sizeof(n), "%zu", r->store.count(r->store.ctx));
		log_kv(LOG_INFO, r->kind_msg_listed, "namespace", scope(r), "resource_version",
		       r->rv ? r->rv : "", "cached", n, NULL);
	}
	if (r->synced)
		r->stats.relists++;
	r->synced = true;
	r->cut = false;
	if (r->synced_cb)
		r->synced_cb(r, r->synced_data);
	if (r->state == REFLECTOR_LISTING)
		start_watch(r);
out:
	cJSON_Delete(root);
	buf_release(&err);
	http_call_free(c); /* last: body points into it */
}

static void start_list(struct reflector *r)
{
	struct buf path;
	im_result result;

	if (r->state == REFLECTOR_STOPPED)
		return;
	buf_init(&path, BUF_MAX_SMALL);
	base_path(r, &path);
	buf_printf(&path, "limit=%u", r->page_size);
	if (r->cont) {
		buf_adds(&path, "&continue=");
		kubeclient_escape(&path, r->cont);
	}
	r->state = REFLECTOR_LISTING;
	r->stats.lists++;
	r->call = kubeclient_call(r->kc, "GET", buf_str(&path));
	http_call_timeouts(r->call, 10000, 60000, 30);
	buf_release(&path);
	result = http_call_start(r->call, list_done, r);
	if (result) {
		http_call_free(r->call);
		r->call = NULL;
		backoff(r, im_strerror(result));
	}
}

/* ---- WATCH ---- */

static im_result on_event(void *ctx, struct watch_event *ev)
{
	struct reflector *r = ctx;

	if (ev->type != WATCH_ERROR)
		r->cut = false; /* the watch delivers */
	switch (ev->type) {
	case WATCH_ERROR:
		if (ev->error_code == 410) {
			r->gone = true;
			return IM_GONE;
		}
		log_kv(LOG_WARN, "watch error event", "namespace", scope(r), "message",
		       ev->error_message ? ev->error_message : "", NULL);
		return IM_HTTP;
	case WATCH_BOOKMARK:
		r->stats.bookmarks++;
		if (ev->resource_version)
			set_str(&r->rv, ev->resource_version);
		return IM_OK;
	default:
		break;
	}
	r->stats.events++;
	if (ev->type == WATCH_DELETED)
		r->stats.decode_errors += r->store.remove(r->store.ctx, ev->object);
	else
		r->stats.decode_errors += r->store.upsert(r->store.ctx, ev->object);
	if (ev->resource_version)
		set_str(&r->rv, ev->resource_version);
	return IM_OK;
}

static im_result watch_chunk(struct http_call *c, const char *p, size_t n, void *data)
{
	struct reflector *r = data;
	long status = 0;

	curl_easy_getinfo(http_call_easy(c), CURLINFO_RESPONSE_CODE, &status);
	if (status != 200) {
		/* An error Status object, not a stream: keep it for the message. */
		if (buf_add(&r->errbody, p, n))
			return IM_TOOBIG;
		return IM_OK;
	}
	return watchstream_feed(&r->ws, p, n);
}

static void watch_done(struct http_call *c, im_result transport, void *data)
{
	struct reflector *r = data;
	long status = http_call_status(c);
	struct buf err;

	buf_init(&err, 4096);
	r->call = NULL;
	if (r->gone || status == 410) {
		http_call_free(c);
		relist(r, "watch returned 410 Gone");
		goto out;
	}
	if (transport == IM_OK && status == 200) {
		/* The server ended the watch (timeoutSeconds): resume from rv. */
		http_call_free(c);
		r->cut = false;
		log_kv(LOG_DEBUG, "watch ended; resuming", "resource", r->resource, "namespace",
		       scope(r), "resource_version", r->rv ? r->rv : "", NULL);
		start_watch(r);
		goto out;
	}
	if (transport == IM_PARSE || transport == IM_TOOBIG)
		buf_printf(&err, "watch stream: %s", buf_str(&r->ws.err));
	else if (transport == IM_OK && status != 200) {
		cJSON *st = cJSON_ParseWithLength(buf_str(&r->errbody), r->errbody.len);
		const char *m = cJSON_GetStringValue(
			cJSON_GetObjectItemCaseSensitive(st, "message"));
		buf_printf(&err, "watch: HTTP %ld%s%.512s", status, m ? ": " : "", m ? m : "");
		if (status == 403)
			kubeclient_log_forbidden(c, st);
		cJSON_Delete(st);
	} else
		kubeclient_result(c, transport, &err);
	http_call_free(c);
	backoff(r, buf_str(&err));
out:
	buf_release(&err);
}

static void start_watch(struct reflector *r)
{
	struct buf path;
	unsigned timeout_s;
	im_result result;

	if (r->state == REFLECTOR_STOPPED)
		return;
	timeout_s = (unsigned)backoff_rand(&r->bo, r->watch_min_s, r->watch_max_s);
	buf_init(&path, BUF_MAX_SMALL);
	base_path(r, &path);
	buf_printf(&path, "watch=1&allowWatchBookmarks=true&timeoutSeconds=%u&resourceVersion=",
		   timeout_s);
	kubeclient_escape(&path, r->rv ? r->rv : "");
	r->state = REFLECTOR_WATCHING;
	r->watch_started_ms = loop_now_ms(r->kc->http->loop);
	r->gone = false;
	r->stats.watches++;
	watchstream_reset(&r->ws);
	buf_reset(&r->errbody);
	r->call = kubeclient_call(r->kc, "GET", buf_str(&path));
	buf_release(&path);
	http_call_stream(r->call, watch_chunk);
	/* The server closes at timeoutSeconds; the total timeout is a backstop. */
	http_call_timeouts(r->call, 10000, (long)(timeout_s + 30) * 1000, (long)r->idle_timeout_s);
	result = http_call_start(r->call, watch_done, r);
	if (result) {
		http_call_free(r->call);
		r->call = NULL;
		backoff(r, im_strerror(result));
	}
}

im_result reflector_start(struct reflector *r, reflector_synced_cb cb, void *data)
{
	if (r->state != REFLECTOR_IDLE)
		return IM_INVAL;
	uv_timer_init(&r->kc->http->loop->uv, &r->timer);
	r->timer.data = r;
	watchstream_init(&r->ws, 0, on_event, r);
	r->synced_cb = cb;
	r->synced_data = data;
	start_list(r);
	return IM_OK;
}

void reflector_stop(struct reflector *r)
{
	if (r->state == REFLECTOR_IDLE) {
		r->state = REFLECTOR_STOPPED;
		return;
	}
	r->state = REFLECTOR_STOPPED;
	if (r->call) {
		http_call_free(r->call);
		r->call = NULL;
	}
	uv_timer_stop(&r->timer);
	loop_close_handle((uv_handle_t *)&r->timer, NULL);
}

void reflector_force_resume(struct reflector *r, const char *rv)
{
	if (r->state == REFLECTOR_STOPPED || r->state == REFLECTOR_IDLE)
		return;
	if (r->call) {
		http_call_free(r->call);
		r->call = NULL;
	}
	uv_timer_stop(&r->timer);
	set_str(&r->rv, rv);
	start_watch(r);
}

void reflector_release(struct reflector *r)
{
	if (r->call)
		http_call_free(r->call);
	r->call = NULL;
	drop_listed(r);
	im_free(r->listed);
	im_free(r->api);
	im_free(r->resource);
	im_free(r->namespace);
	im_free(r->selector);
	im_free(r->field_selector);
	im_free(r->rv);
	im_free(r->cont);
	watchstream_release(&r->ws);
	buf_release(&r->errbody);
}
