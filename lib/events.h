/*
 * events.h - posts Kubernetes Events (events.k8s.io/v1) about an object.
 *
 * Events wait in a bounded queue and at most EVENTS_MAX_IN_FLIGHT posts run
 * at once, as client-go's broadcaster does, so an event storm neither piles
 * up requests nor loses facts:
 * - the same event (object, type, reason) posted again while the first still
 *   waits is folded into it: one Event with series.count;
 * - when the queue is full, a new event is folded into a waiting one with the
 *   same namespace, kind, type and reason, whose note then says how many
 *   objects it stands for ("combined from N similar events"), as client-go's
 *   aggregator does;
 * - only when nothing similar waits either is it dropped, counted and logged
 *   (one line per EVENTS_DROP_LOG_EVERY drops, and the first).
 * A post that fails for a reason that may pass (no connection, timeout, 429,
 * 5xx) is retried with jittered exponential backoff, up to EVENTS_MAX_TRIES
 * tries; other failures (403, 422, a namespace being deleted) are logged and
 * counted as failed.
 *
 * Events come second to the writes they are about: while the busy callback
 * (events_set_busy) says the controller has objects to write, at most
 * EVENTS_BUSY_IN_FLIGHT posts run, so a start-up that posts a thousand
 * Events does not slow the writes of a thousand generated objects. Loop
 * thread only.
 */
#ifndef INFERMON_EVENTS_H
#define INFERMON_EVENTS_H

#include <stdbool.h>
#include <stdint.h>

#include "backoff.h"
#include "kubeclient.h"

#define EVENTS_MAX_IN_FLIGHT 16
#define EVENTS_BUSY_IN_FLIGHT 2
#define EVENTS_QUEUE_MAX 1024
#define EVENTS_MAX_TRIES 12
#define EVENTS_DROP_LOG_EVERY 100

struct event_item;

struct events {
	struct kubeclient *kc;
	char instance[128]; /* reportingInstance */
	int in_flight;
	struct event_item *head, *tail; /* waiting, oldest first */
	size_t queued;
	uv_timer_t retry; /* wakes the queue when a retry comes due */
	struct backoff rng;
	uint64_t retry_initial_ms, retry_max_ms; /* 1 s and 30 s; tests shorten them */
	bool stopped;
	bool (*busy)(void *ctx); /* NULL: never busy */
	void *busy_ctx;
	/* Event objects written, given up (after their tries, or refused) and
	 * dropped (queue full, or stopping); occurrences folded into a waiting
	 * Event; posts retried */
	uint64_t posted, failed, dropped, folded, retries;
};

/* The object an event is about. */
struct event_ref {
	const char *api_version, *kind, *namespace, *name, *uid; /* uid may be NULL */
};

/* Cannot fail; the retry timer lives on kc's loop. */
void events_init(struct events *e, struct kubeclient *kc, const char *instance);
/* busy(ctx) true: other writes come first (EVENTS_BUSY_IN_FLIGHT posts at
 * a time). Read before each post; when it turns false, the next answer
 * or event posted lets the others go. */
void events_set_busy(struct events *e, bool (*busy)(void *ctx), void *ctx);
/* action: what infermon was doing ("Check", "Apply"); reason: CamelCase.
 * Everything is copied. */
void events_post(struct events *e, const struct event_ref *about, bool warning, const char *action,
		 const char *reason, const char *note);
/* Stops posting: waiting events are discarded (logged with their count) and
 * the timer is closed; posts in flight finish (http_release cancels them).
 * Later events_post calls are dropped. */
void events_stop(struct events *e);

#endif
