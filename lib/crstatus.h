/*
 * crstatus.h - an InferenceWorkload's status, built from its spec, its
 * pods and what the scraper knows of each: observedGeneration, pods and
 * readiness, models, running vs limit and its source, drift, the generated
 * objects, and conditions (Ready, one per check, MonitorSelected,
 * LimitMatchesSpec, SLOMeasurable) that follow metav1.Condition's rules: a condition's
 * lastTransitionTime is kept while its status holds.
 *
 * Pure but for the runtime callback; any thread that may call it.
 */
#ifndef INFERMON_CRSTATUS_H
#define INFERMON_CRSTATUS_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <time.h>

#include "checks.h"
#include "desired.h"
#include "engine.h"
#include "iwspec.h"
#include "podcache.h"

/* What the scraper knows about one pod. */
struct pod_runtime {
	bool known;
	struct resolved_limits limits;
	double engines; /* engines (vLLM DP) or DP ranks (SGLang) sharing the limit; >= 1 */
	bool up;        /* the last scrape succeeded */
	double running, waiting, kv_usage;
	char models[ENGINE_MAX_MODELS][ENGINE_MODEL_LEN];
	int nmodels;
	bool active[CHECK_COUNT];
	char message[CHECK_COUNT][320];
	const struct histbounds *bounds; /* its latency histograms' bucket bounds, or NULL */
};
/* Fills *out (zeroed: nothing known) for pod ns/pod. */
typedef void (*crstatus_runtime_cb)(void *ctx, const char *ns, const char *pod,
				    struct pod_runtime *out);

struct crstatus_in {
	const cJSON *cr;                   /* the CR: metadata.generation, its live status */
	const struct iwspec *spec;         /* its valid spec, or NULL */
	const char *not_ready, *message;   /* Ready=False with this reason and message, or NULL */
	const struct workload *w;          /* the workload's pods, or NULL */
	const cJSON *generated;            /* references to the generated objects (an array) */
	const struct desired_verdict *sel; /* MonitorSelected, or NULL */
	crstatus_runtime_cb runtime;       /* NULL: nothing is known of any pod */
	void *runtime_ctx;
	time_t now; /* lastTransitionTime of a condition whose status changes */
};

/* The status for in->cr (caller owns it). */
cJSON *crstatus_build(const struct crstatus_in *in);

/* The status ("True", "False", "Unknown") of condition type in a status
 * object, or NULL when it has none. */
const char *crstatus_condition(const cJSON *status, const char *type);

/* Condition type of status when it turned False (*warning set) or True
 * from False (*warning cleared) since was (the live status, may be NULL);
 * NULL when it did neither. For the Events a transition posts. */
const cJSON *crstatus_turned(const cJSON *was, const cJSON *status, const char *type,
			     bool *warning);

/* Whether status already says Ready=False with reason and message. */
bool crstatus_ready_false(const cJSON *status, const char *reason, const char *message);

#endif
