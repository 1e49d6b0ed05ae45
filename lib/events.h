/*
 * events.h - posts Kubernetes Events (events.k8s.io/v1) about an object.
 *
 * Fire and forget: at most EVENTS_MAX_IN_FLIGHT posts at once, more are
 * dropped and counted (an event storm must not pile up requests). A
 * failure is logged, never retried. Loop thread only.
 */
#ifndef INFERMON_EVENTS_H
#define INFERMON_EVENTS_H

#include <stdbool.h>
#include <stdint.h>

#include "kubeclient.h"

#define EVENTS_MAX_IN_FLIGHT 16

struct events {
	struct kubeclient *kc;
	char instance[128]; /* reportingInstance */
	int in_flight;
	uint64_t posted, failed, dropped;
};

/* The object an event is about. */
struct event_ref {
	const char *api_version, *kind, *namespace, *name, *uid; /* uid may be NULL */
};

void events_init(struct events *e, struct kubeclient *kc, const char *instance);
/* action: what infermon was doing ("Check", "Apply"); reason: CamelCase. */
void events_post(struct events *e, const struct event_ref *about, bool warning, const char *action,
		 const char *reason, const char *note);

#endif
