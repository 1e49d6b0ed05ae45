#include "events.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "kube.h"
#include "log.h"

struct event_item {
	struct event_item *next;
	struct events *e;
	char *api_version, *kind, *namespace, *name, *uid, *action, *reason, *note;
	bool warning;
	uint32_t count;   /* occurrences folded into this event */
	uint32_t objects; /* distinct objects it stands for (1 unless the queue was full) */
	int tries;
	uint64_t due_ms; /* not posted before (a retry's backoff) */
	char first[40];  /* eventTime: the first occurrence */
	char last[40];   /* series.lastObservedTime */
};

static void stamp_now(char *out, size_t n)
{
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(out, n, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + strlen(out), n - strlen(out), ".%06ldZ", ts.tv_nsec / 1000);
}

static uint64_t now_ms(struct events *e)
{
	return loop_now_ms(e->kc->http->loop);
}

void events_init(struct events *e, struct kubeclient *kc, const char *instance)
{
	memset(e, 0, sizeof(*e));
	e->kc = kc;
	if (instance)
		snprintf(e->instance, sizeof(e->instance), "%s", instance);
	else if (gethostname(e->instance, sizeof(e->instance) - 1) != 0)
		snprintf(e->instance, sizeof(e->instance), "infermon");
	e->retry_initial_ms = 1000;
	e->retry_max_ms = 30000;
	backoff_init_default(&e->rng, (uint32_t)(uintptr_t)e ^ (uint32_t)time(NULL));
	uv_timer_init(&kc->http->loop->uv, &e->retry);
	e->retry.data = e;
}

void events_set_busy(struct events *e, bool (*busy)(void *ctx), void *ctx)
{
	e->busy = busy;
	e->busy_ctx = ctx;
}

static void item_free(struct event_item *it)
{
	im_free(it->api_version);
	im_free(it->kind);
	im_free(it->namespace);
	im_free(it->name);
	im_free(it->uid);
	im_free(it->action);
	im_free(it->reason);
	im_free(it->note);
	im_free(it);
}

static void enqueue(struct events *e, struct event_item *it)
{
	it->next = NULL;
	if (e->tail)
		e->tail->next = it;
	else
		e->head = it;
	e->tail = it;
	e->queued++;
}

static bool same_kind(const struct event_item *it, const struct event_ref *about, bool warning,
		      const char *reason)
{
	return it->warning == warning && strcmp(it->reason, reason) == 0 &&
	       strcmp(it->namespace, about->namespace) == 0 && strcmp(it->kind, about->kind) == 0;
}

static bool same_object(const struct event_item *it, const struct event_ref *about)
{
	return it->objects == 1 && strcmp(it->name, about->name) == 0 &&
	       strcmp(it->uid, about->uid ? about->uid : "") == 0;
}

static char *body_of(const struct events *e, const struct event_item *it)
{
	cJSON *ev = cJSON_CreateObject(), *md, *reg;
	struct buf s;
	char *out;

	cJSON_AddStringToObject(ev, "apiVersion", KUBE_GV_EVENTS);
	cJSON_AddStringToObject(ev, "kind", "Event");
	md = cJSON_AddObjectToObject(ev, "metadata");
	/* Named as client-go's recorder names them, <object>.<hex ns>:
	 * events.k8s.io validates generateName and rejects "pod." */
	{
		struct timespec ts;
		buf_init(&s, 512);
		clock_gettime(CLOCK_REALTIME, &ts);
		buf_printf(&s, "%s.%llx", it->name,
			   (unsigned long long)ts.tv_sec * 1000000000ULL +
				   (unsigned long long)ts.tv_nsec);
		cJSON_AddStringToObject(md, "name", buf_str(&s));
		buf_release(&s);
	}
	cJSON_AddStringToObject(md, "namespace", it->namespace);
	cJSON_AddStringToObject(ev, "eventTime", it->first);
	cJSON_AddStringToObject(ev, "reportingController", "infermon.io/controller");
	cJSON_AddStringToObject(ev, "reportingInstance", e->instance);
	cJSON_AddStringToObject(ev, "action", it->action);
	cJSON_AddStringToObject(ev, "reason", it->reason);
	/* notes are at most 1 kB */
	buf_init(&s, 1024);
	if (it->objects > 1)
		buf_printf(&s, "(combined from %u similar events for %u %ss) ", it->count,
			   it->objects, it->kind);
	buf_adds(&s, it->note);
	{
		char n[1024];
		snprintf(n, sizeof(n), "%s", buf_str(&s));
		cJSON_AddStringToObject(ev, "note", n);
	}
	buf_release(&s);
	cJSON_AddStringToObject(ev, "type", it->warning ? "Warning" : "Normal");
	if (it->count > 1) {
		cJSON *series = cJSON_AddObjectToObject(ev, "series");
		cJSON_AddNumberToObject(series, "count", it->count);
		cJSON_AddStringToObject(series, "lastObservedTime", it->last);
	}
	reg = cJSON_AddObjectToObject(ev, "regarding");
	cJSON_AddStringToObject(reg, "apiVersion", it->api_version);
	cJSON_AddStringToObject(reg, "kind", it->kind);
	cJSON_AddStringToObject(reg, "namespace", it->namespace);
	cJSON_AddStringToObject(reg, "name", it->name);
	if (*it->uid && it->objects == 1)
		cJSON_AddStringToObject(reg, "uid", it->uid);
	out = cJSON_PrintUnformatted(ev);
	cJSON_Delete(ev);
	return out;
}

static void pump(struct events *e);

/* Worth another try: the API server may answer later. */
static bool retryable(const struct http_call *call, im_result transport)
{
	long s = http_call_status(call);

	if (transport)
		return transport != IM_CANCELED;
	return s == 429 || s >= 500;
}

static void done(struct http_call *call, im_result transport, void *data)
{
	struct event_item *it = data;
	struct events *e = it->e;
	struct buf err;
	im_result result;

	e->in_flight--;
	buf_init(&err, 1024);
	result = kubeclient_result(call, transport, &err);
	if (result == IM_OK) {
		e->posted++;
		item_free(it);
	} else if (!e->stopped && retryable(call, transport) && it->tries < EVENTS_MAX_TRIES) {
		uint64_t d = e->retry_initial_ms << (it->tries - 1 < 16 ? it->tries - 1 : 16);
		if (d > e->retry_max_ms)
			d = e->retry_max_ms;
		it->due_ms = now_ms(e) + backoff_rand(&e->rng, d / 2, d);
		e->retries++;
		log_kv(LOG_DEBUG, "cannot post event; will retry", "reason", it->reason, "name",
		       it->name, "error", buf_str(&err), NULL);
		enqueue(e, it);
	} else {
		char tries[16];
		snprintf(tries, sizeof(tries), "%d", it->tries);
		e->failed++;
		log_kv(LOG_WARN, "cannot post event", "namespace", it->namespace, "name", it->name,
		       "reason", it->reason, "tries", tries, "error", buf_str(&err), NULL);
		item_free(it);
	}
	buf_release(&err);
	http_call_free(call);
	pump(e);
}

static void post(struct events *e, struct event_item *it)
{
	struct buf path;
	struct http_call *call;
	char *body = body_of(e, it);

	it->tries++;
	buf_init(&path, BUF_MAX_SMALL);
	buf_adds(&path, KUBE_PATH(KUBE_GV_EVENTS) "/namespaces/");
	kubeclient_escape(&path, it->namespace);
	buf_adds(&path, "/events");
	call = kubeclient_call(e->kc, "POST", buf_str(&path));
	buf_release(&path);
	kubeclient_set_body(call, "application/json", body, strlen(body));
	im_free(body);
	http_call_timeouts(call, 10000, 30000, 0);
	if (http_call_start(call, done, it)) {
		http_call_free(call);
		e->failed++;
		log_kv(LOG_WARN, "cannot post event", "namespace", it->namespace, "name", it->name,
		       "reason", it->reason, "error", "cannot start the request", NULL);
		item_free(it);
		return;
	}
	e->in_flight++;
}

static void retry_cb(uv_timer_t *t)
{
	pump(t->data);
}

/* Posts what is due while slots are free; arms the timer for the rest. */
static void pump(struct events *e)
{
	uint64_t now = now_ms(e), next = UINT64_MAX;
	struct event_item **pp = &e->head, *prev = NULL;
	int limit;

	if (e->stopped)
		return;
	limit = e->busy && e->busy(e->busy_ctx) ? EVENTS_BUSY_IN_FLIGHT : EVENTS_MAX_IN_FLIGHT;
	while (*pp && e->in_flight < limit) {
		struct event_item *it = *pp;
		if (it->due_ms > now) {
			if (it->due_ms < next)
				next = it->due_ms;
			prev = it;
			pp = &it->next;
			continue;
		}
		*pp = it->next;
		if (e->tail == it)
			e->tail = prev;
		e->queued--;
		post(e, it);
	}
	for (struct event_item *it = *pp; it; it = it->next)
		if (it->due_ms > now && it->due_ms < next)
			next = it->due_ms;
	if (next != UINT64_MAX)
		uv_timer_start(&e->retry, retry_cb, next - now, 0);
	else
		uv_timer_stop(&e->retry);
}

static void fold(struct event_item *it, const struct event_ref *about, const char *note)
{
	it->count++;
	if (!same_object(it, about))
		it->objects++;
	im_free(it->note);
	it->note = im_xstrdup(note);
	stamp_now(it->last, sizeof(it->last));
}

void events_post(struct events *e, const struct event_ref *about, bool warning, const char *action,
		 const char *reason, const char *note)
{
	struct event_item *it, *similar = NULL;

	if (e->stopped) {
		e->dropped++;
		return;
	}
	/* waiting (not yet posted, or waiting for a retry) */
	for (it = e->head; it; it = it->next) {
		if (!same_kind(it, about, warning, reason))
			continue;
		if (same_object(it, about)) {
			fold(it, about, note);
			e->folded++;
			return;
		}
		if (!similar)
			similar = it;
	}
	if (e->queued >= EVENTS_QUEUE_MAX) {
		if (similar) {
			fold(similar, about, note);
			e->folded++;
			return;
		}
		if (e->dropped++ % EVENTS_DROP_LOG_EVERY == 0) {
			char n[24];
			snprintf(n, sizeof(n), "%llu", (unsigned long long)e->dropped);
			log_kv(LOG_WARN, "event queue full; event dropped", "namespace",
			       about->namespace, "name", about->name, "reason", reason,
			       "dropped_total", n, NULL);
		}
		return;
	}
	it = im_xcalloc(1, sizeof(*it));
	it->e = e;
	it->api_version = im_xstrdup(about->api_version);
	it->kind = im_xstrdup(about->kind);
	it->namespace = im_xstrdup(about->namespace);
	it->name = im_xstrdup(about->name);
	it->uid = im_xstrdup(about->uid ? about->uid : "");
	it->action = im_xstrdup(action);
	it->reason = im_xstrdup(reason);
	it->note = im_xstrdup(note);
	it->warning = warning;
	it->count = 1;
	it->objects = 1;
	stamp_now(it->first, sizeof(it->first));
	memcpy(it->last, it->first, sizeof(it->last));
	enqueue(e, it);
	pump(e);
}

void events_stop(struct events *e)
{
	uint64_t waiting = 0;

	if (e->stopped)
		return;
	e->stopped = true;
	while (e->head) {
		struct event_item *it = e->head;
		e->head = it->next;
		waiting++;
		item_free(it);
	}
	e->tail = NULL;
	e->queued = 0;
	e->dropped += waiting;
	if (waiting) {
		char n[24];
		snprintf(n, sizeof(n), "%llu", (unsigned long long)waiting);
		log_kv(LOG_INFO, "stopping: events not posted", "count", n, NULL);
	}
	uv_timer_stop(&e->retry);
	loop_close_handle((uv_handle_t *)&e->retry, NULL);
}
