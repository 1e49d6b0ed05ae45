/*
 * watchstream.h - splits a Kubernetes watch response into events.
 *
 * The API server sends one JSON object per line:
 *   {"type":"ADDED","object":{...}}\n
 * Bytes arrive in arbitrary chunks. watchstream_feed scans only the new bytes
 * for newlines: complete lines are decoded straight from the chunk, and only
 * the partial tail is carried to the next call, so nothing is ever scanned
 * twice. A line longer than the cap is an error (IM_TOOBIG), as is a line
 * that is not a watch event (IM_PARSE); both stop the stream, whose owner
 * then restarts the watch. The message says what and where (event number).
 *
 * Single-threaded; the callback gets an event whose object it may keep by
 * detaching it (ev->object = NULL) — otherwise it is freed after the call.
 */
#ifndef INFERMON_WATCHSTREAM_H
#define INFERMON_WATCHSTREAM_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

enum watch_type { WATCH_ADDED, WATCH_MODIFIED, WATCH_DELETED, WATCH_BOOKMARK, WATCH_ERROR };

struct watch_event {
	enum watch_type type;
	cJSON *object;                /* the "object" member (detachable) */
	const char *resource_version; /* object.metadata.resourceVersion or NULL */
	long error_code;              /* WATCH_ERROR: object.code (e.g. 410), else 0 */
	const char *error_message;    /* WATCH_ERROR: object.message or NULL */
};

typedef im_result (*watch_event_cb)(void *ctx, struct watch_event *ev);

struct watchstream {
	struct buf carry; /* partial last line */
	size_t max_line;
	uint64_t events; /* events decoded so far */
	struct buf err;  /* message of the last failure */
	watch_event_cb cb;
	void *ctx;
};

#define WATCHSTREAM_MAX_LINE ((size_t)16 * 1024 * 1024)

void watchstream_init(struct watchstream *ws, size_t max_line, watch_event_cb cb, void *ctx);
void watchstream_release(struct watchstream *ws);
/* Forgets a carried partial line (a new watch starts). */
void watchstream_reset(struct watchstream *ws);
/* Feeds bytes; calls cb for each complete event. Returns the first error:
 * the callback's, IM_TOOBIG, or IM_PARSE (message in ws->err). */
im_result watchstream_feed(struct watchstream *ws, const char *p, size_t n);
/* True when a partial line is pending (a stream that ends here was cut). */
int watchstream_pending(const struct watchstream *ws);

/* Decodes one line into ev (ev->object owned by the caller afterwards; free
 * with cJSON_Delete). Exposed for tests and the fuzz target. */
im_result watchstream_decode(const char *line, size_t n, struct watch_event *ev, struct buf *err);

const char *watch_type_name(enum watch_type t);

#endif
