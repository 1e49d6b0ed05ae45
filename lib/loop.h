/*
 * loop.h - the one event loop that owns network I/O.
 *
 * infermon runs libuv as its loop: libuv gives the timer heap with a cached
 * monotonic "now", fd polling for libcurl's multi-socket API (http.h), signal
 * watchers and a thread-safe wake-up (uv_async). docs/loop.md says why libuv
 * and not a loop of our own.
 *
 * Threads: everything here runs on the loop thread except loop_stop and
 * loop_call_sync, which other threads (the HTTP server thread, tests) use.
 * loop_call_sync is the one place where state crosses threads: the function
 * runs on the loop thread while the caller waits.
 */
#ifndef INFERMON_LOOP_H
#define INFERMON_LOOP_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "error.h"

typedef void (*loop_fn_cb)(void *arg);

struct loop_call;

struct loop {
	uv_loop_t uv;
	uv_async_t wake;
	pthread_mutex_t lock;    /* guards calls and stop_requested */
	struct loop_call *calls; /* pending cross-thread calls */
	bool stop_requested;
	loop_fn_cb on_stop; /* runs on the loop thread when stop is requested */
	void *on_stop_arg;
};

/* Initialises the loop. Fails only if libuv cannot (IM_INTERNAL). */
im_result loop_init(struct loop *l);
/* Runs until loop_stop and until every handle is closed. */
void loop_run(struct loop *l);
/* Asks the loop to stop: on_stop runs on the loop thread and must close the
 * owners' handles; uv_run then returns once nothing is left. Any thread. */
void loop_stop(struct loop *l);
/* Closes the loop's own handles; call after loop_run returned. */
void loop_release(struct loop *l);

/* Cached monotonic milliseconds of the current loop iteration. */
uint64_t loop_now_ms(struct loop *l);

/* From a thread other than the loop's: runs fn(arg) on the loop thread and
 * returns when it has run. Must not be called on the loop thread. Returns
 * IM_CANCELED (fn not run) when the loop is stopping. */
im_result loop_call_sync(struct loop *l, loop_fn_cb fn, void *arg);

/* Closes a libuv handle if it is open and not closing; the callback may be
 * NULL. Safe to call twice. */
void loop_close_handle(uv_handle_t *h, uv_close_cb cb);

#endif
