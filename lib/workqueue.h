/*
 * workqueue.h - keys waiting to be reconciled (client-go's workqueue).
 *
 * A key is in the queue at most once however often it is added (dedupe). A
 * key being processed is not handed out again; an add meanwhile marks it
 * dirty and it is queued again when wq_done is called, so no change is lost
 * and no key is reconciled twice at once. wq_add_rate_limited re-adds a key
 * after its own backoff (base doubling to max, with jitter) until
 * wq_forget. The queue holds at most max_keys keys; more are refused and
 * counted (a full queue means the controller is far behind).
 *
 * Loop thread only; delayed adds use a libuv timer.
 */
#ifndef INFERMON_WORKQUEUE_H
#define INFERMON_WORKQUEUE_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "backoff.h"
#include "hmap.h"

struct wq_delayed;

struct workqueue {
	char **fifo; /* queued keys, oldest first (ring) */
	size_t head, len, cap;
	struct hmap queued;         /* key -> 1 */
	struct hmap processing;     /* key -> 1 */
	struct hmap dirty;          /* key -> 1: added while processing */
	struct hmap failures;       /* key -> (void*)count */
	struct wq_delayed *delayed; /* sorted by due time */
	uv_timer_t timer;
	uv_loop_t *loop;
	uint64_t base_ms, max_ms;
	size_t max_keys;
	uint64_t adds, dropped, retries;
	bool closed; /* wq_shutdown ran: no more timers */
	struct backoff rng;
	void (*ready_cb)(void *ctx); /* called when a key becomes ready */
	void *ctx;
};

void wq_init(struct workqueue *q, uv_loop_t *loop, size_t max_keys, uint64_t base_ms,
	     uint64_t max_ms, void (*ready_cb)(void *ctx), void *ctx);
/* Stops the timer (close it) and frees every key; after the loop ran. */
void wq_shutdown(struct workqueue *q);
void wq_release(struct workqueue *q);

void wq_add(struct workqueue *q, const char *key);
void wq_add_after(struct workqueue *q, const char *key, uint64_t delay_ms);
void wq_add_rate_limited(struct workqueue *q, const char *key);
void wq_forget(struct workqueue *q, const char *key);
/* Next key to process (owned by the caller, im_free it after wq_done), or
 * NULL when none is ready. */
char *wq_get(struct workqueue *q);
void wq_done(struct workqueue *q, const char *key);
size_t wq_len(const struct workqueue *q);
int wq_failures(const struct workqueue *q, const char *key);

#endif
