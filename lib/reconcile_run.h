/*
 * reconcile_run.h - one reconcile in flight, shared by the reconciler's
 * own files (reconcile.c runs the queue and the writes,
 * reconcile_workload.c decides what a key's reconcile writes); not for
 * other modules. Loop thread only.
 */
#ifndef INFERMON_RECONCILE_RUN_H
#define INFERMON_RECONCILE_RUN_H

#include "reconcile.h"

struct run {
	struct reconciler *r;
	char *key;
	uint64_t start_ms;
	int pending; /* writes not answered yet, +1 while the reconcile queues them */
	bool failed;
	cJSON *status;       /* status to write after the applies, or NULL */
	cJSON *cr;           /* copy of the CR (for events), or NULL */
	cJSON *losers;       /* copies of the CRs in conflict with cr (desired.h), or NULL */
	cJSON *loser_status; /* their status, in the same order */
	struct buf errors;   /* first failure */
};

uint64_t reconcile_now_ms(const struct reconciler *r);

/* Server-side applies obj (a generated object) unless its live copy in the
 * caches already holds it (applydiff.h). A Secret's stringData becomes
 * data. */
void reconcile_apply(struct run *run, cJSON *obj);
/* Deletes live, a generated object of kind k. */
void reconcile_delete(struct run *run, enum owned_kind k, const cJSON *live);
/* An Event about InferenceWorkload cr (NULL: the run's CR; no Event when
 * the run has none or Events are off). */
void reconcile_event(struct run *run, const cJSON *cr, bool warning, const char *reason,
		     const char *note);

/* What a key's reconcile does (reconcile_workload.c): queues its writes on
 * run and, for a workload, sets run->cr, run->status and the losers. */
void reconcile_workload(struct run *run, const char *ns, const char *workload);
void reconcile_secret(struct run *run);
void reconcile_dashboard(struct run *run);
/* Drops the parsed specs of ns/workload (reconciler_spec); of every
 * workload, and the index with them. */
void reconcile_forget_spec(struct reconciler *r, const char *ns, const char *workload);
void reconcile_forget_specs(struct reconciler *r);

#endif
