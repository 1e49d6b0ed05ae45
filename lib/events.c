#include "events.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "log.h"

void events_init(struct events *e, struct kubeclient *kc, const char *instance)
{
	memset(e, 0, sizeof(*e));
	e->kc = kc;
	if (instance)
		snprintf(e->instance, sizeof(e->instance), "%s", instance);
	else if (gethostname(e->instance, sizeof(e->instance) - 1) != 0)
		snprintf(e->instance, sizeof(e->instance), "infermon");
}

static void done(struct http_call *call, im_result transport, void *data)
{
	struct events *e = data;
	struct buf err;

	e->in_flight--;
	buf_init(&err, 1024);
	if (kubeclient_result(call, transport, &err)) {
		e->failed++;
		log_kv(LOG_WARN, "cannot post event", "error", buf_str(&err), NULL);
	} else {
		e->posted++;
	}
	buf_release(&err);
	http_call_free(call);
}

void events_post(struct events *e, const struct event_ref *about, bool warning, const char *action,
		 const char *reason, const char *note)
{
	cJSON *ev, *md, *reg;
	char stamp[64], *body;
	struct timespec ts;
	struct tm tm;
	struct buf path, name;
	struct http_call *call;

	if (e->in_flight >= EVENTS_MAX_IN_FLIGHT) {
		e->dropped++;
		return;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(stamp + strlen(stamp), sizeof(stamp) - strlen(stamp), ".%06ldZ", ts.tv_nsec / 1000);

	ev = cJSON_CreateObject();
	cJSON_AddStringToObject(ev, "apiVersion", "events.k8s.io/v1");
	cJSON_AddStringToObject(ev, "kind", "Event");
	md = cJSON_AddObjectToObject(ev, "metadata");
	/* Named as client-go's recorder names them, <object>.<hex ns>:
	 * events.k8s.io validates generateName and rejects "pod." */
	buf_init(&name, 512);
	buf_printf(&name, "%s.%llx", about->name,
		   (unsigned long long)ts.tv_sec * 1000000000ULL + (unsigned long long)ts.tv_nsec);
	cJSON_AddStringToObject(md, "name", buf_str(&name));
	buf_release(&name);
	cJSON_AddStringToObject(md, "namespace", about->namespace);
	cJSON_AddStringToObject(ev, "eventTime", stamp);
	cJSON_AddStringToObject(ev, "reportingController", "infermon.io/controller");
	cJSON_AddStringToObject(ev, "reportingInstance", e->instance);
	cJSON_AddStringToObject(ev, "action", action);
	cJSON_AddStringToObject(ev, "reason", reason);
	{
		/* notes are at most 1 kB */
		char n[1024];
		snprintf(n, sizeof(n), "%s", note);
		cJSON_AddStringToObject(ev, "note", n);
	}
	cJSON_AddStringToObject(ev, "type", warning ? "Warning" : "Normal");
	reg = cJSON_AddObjectToObject(ev, "regarding");
	cJSON_AddStringToObject(reg, "apiVersion", about->api_version);
	cJSON_AddStringToObject(reg, "kind", about->kind);
	cJSON_AddStringToObject(reg, "namespace", about->namespace);
	cJSON_AddStringToObject(reg, "name", about->name);
	if (about->uid && *about->uid)
		cJSON_AddStringToObject(reg, "uid", about->uid);
	body = cJSON_PrintUnformatted(ev);
	cJSON_Delete(ev);

	buf_init(&path, BUF_MAX_SMALL);
	buf_adds(&path, "/apis/events.k8s.io/v1/namespaces/");
	kubeclient_escape(&path, about->namespace);
	buf_adds(&path, "/events");
	call = kubeclient_call(e->kc, "POST", buf_str(&path));
	buf_release(&path);
	kubeclient_set_body(call, "application/json", body, strlen(body));
	im_free(body);
	http_call_timeouts(call, 10000, 30000, 0);
	if (http_call_start(call, done, e)) {
		http_call_free(call);
		e->failed++;
		return;
	}
	e->in_flight++;
}
