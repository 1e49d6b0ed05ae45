#include "watchstream.h"

#include <string.h>

#include "alloc.h"

static const char *const type_names[] = {"ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR"};

const char *watch_type_name(enum watch_type t)
{
	return (unsigned)t < 5 ? type_names[t] : "UNKNOWN";
}

void watchstream_init(struct watchstream *ws, size_t max_line, watch_event_cb cb, void *ctx)
{
	ws->max_line = max_line ? max_line : WATCHSTREAM_MAX_LINE;
	buf_init(&ws->carry, ws->max_line);
	buf_init(&ws->err, 1024);
	ws->events = 0;
	ws->cb = cb;
	ws->ctx = ctx;
}

void watchstream_release(struct watchstream *ws)
{
	buf_release(&ws->carry);
	buf_release(&ws->err);
}

void watchstream_reset(struct watchstream *ws)
{
	buf_release(&ws->carry);
	buf_reset(&ws->err);
}

int watchstream_pending(const struct watchstream *ws)
{
	return ws->carry.len > 0;
}

im_result watchstream_decode(const char *line, size_t n, struct watch_event *ev, struct buf *err)
{
	cJSON *root, *type, *obj, *md, *rv;
	const char *t;
	int i;

	memset(ev, 0, sizeof(*ev));
	root = cJSON_ParseWithLength(line, n);
	if (!root || !cJSON_IsObject(root)) {
		buf_printf(err, "watch event is not a JSON object");
		cJSON_Delete(root);
		return IM_PARSE;
	}
	type = cJSON_GetObjectItemCaseSensitive(root, "type");
	obj = cJSON_GetObjectItemCaseSensitive(root, "object");
	if (!cJSON_IsString(type) || !cJSON_IsObject(obj)) {
		buf_printf(err, "watch event lacks a string \"type\" or an object \"object\"");
		cJSON_Delete(root);
		return IM_PARSE;
	}
	t = type->valuestring;
	for (i = 0; i < 5; i++)
		if (strcmp(t, type_names[i]) == 0)
			break;
	if (i == 5) {
		buf_printf(err, "unknown watch event type \"%.40s\"", t);
		cJSON_Delete(root);
		return IM_PARSE;
	}
	ev->type = (enum watch_type)i;
	ev->object = cJSON_DetachItemViaPointer(root, obj);
	cJSON_Delete(root);

	md = cJSON_GetObjectItemCaseSensitive(ev->object, "metadata");
	rv = cJSON_GetObjectItemCaseSensitive(md, "resourceVersion");
	if (cJSON_IsString(rv))
		ev->resource_version = rv->valuestring;
	if (ev->type == WATCH_ERROR) {
		cJSON *code = cJSON_GetObjectItemCaseSensitive(ev->object, "code");
		cJSON *msg = cJSON_GetObjectItemCaseSensitive(ev->object, "message");
		if (cJSON_IsNumber(code) && code->valuedouble >= 0 && code->valuedouble < 1000)
			ev->error_code = (long)code->valuedouble;
		if (cJSON_IsString(msg))
			ev->error_message = msg->valuestring;
	}
	return IM_OK;
}

static im_result one_line(struct watchstream *ws, const char *line, size_t n)
{
	struct watch_event ev;
	im_result result;

	if (n && line[n - 1] == '\r')
		n--;
	if (n == 0)
		return IM_OK; /* keep-alive blank line */
	buf_reset(&ws->err);
	result = watchstream_decode(line, n, &ev, &ws->err);
	if (result) {
		struct buf msg;
		buf_init(&msg, 1024);
		buf_printf(&msg, "watch event %llu: %s", (unsigned long long)ws->events + 1,
			   buf_str(&ws->err));
		buf_release(&ws->err);
		ws->err = msg;
		return result;
	}
	ws->events++;
	result = ws->cb(ws->ctx, &ev);
	cJSON_Delete(ev.object);
	return result;
}

im_result watchstream_feed(struct watchstream *ws, const char *p, size_t n)
{
	const char *end = p + n, *nl;
	im_result result;

	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl) {
			result = buf_add(&ws->carry, p, (size_t)(end - p));
			if (result) {
				buf_printf(&ws->err, "watch event %llu: line longer than %zu bytes",
					   (unsigned long long)ws->events + 1, ws->max_line);
				return IM_TOOBIG;
			}
			return IM_OK;
		}
		if (ws->carry.len) {
			result = buf_add(&ws->carry, p, (size_t)(nl - p));
			if (result) {
				buf_printf(&ws->err, "watch event %llu: line longer than %zu bytes",
					   (unsigned long long)ws->events + 1, ws->max_line);
				return IM_TOOBIG;
			}
			result = one_line(ws, ws->carry.ptr, ws->carry.len);
			buf_reset(&ws->carry);
		} else {
			if ((size_t)(nl - p) > ws->max_line) {
				buf_printf(&ws->err, "watch event %llu: line longer than %zu bytes",
					   (unsigned long long)ws->events + 1, ws->max_line);
				return IM_TOOBIG;
			}
			result = one_line(ws, p, (size_t)(nl - p));
		}
		if (result)
			return result;
		p = nl + 1;
	}
	return IM_OK;
}
