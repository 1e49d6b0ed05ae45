/*
 * iwspec.h - an InferenceWorkload's spec, defaulted and validated.
 *
 * The CRD schema (crds/) rejects most bad input at the API server; this
 * module applies the same defaults and checks again, because `infermon
 * render` reads files no API server has seen, and because some things only
 * the controller can judge. Labelled pods without a CR get the controller's
 * defaults through iwspec_default.
 *
 * Every error names the field, the value and the object:
 *   spec.metrics.interval "15x" in llm/qwen-chat: not a duration (e.g. 15s, 1m)
 */
#ifndef INFERMON_IWSPEC_H
#define INFERMON_IWSPEC_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "engine.h"
#include "pod.h"

#define IW_MAX_LABELS 32
#define IW_MAX_OBJECTIVES 16

enum monitor_kind { MONITOR_SERVICE, MONITOR_POD };

/* What an SLO objective measures (spec.slo.objectives[].sli). */
enum slo_sli { SLI_TTFT, SLI_TPOT, SLI_E2E, SLI_AVAILABILITY };
const char *slo_sli_name(enum slo_sli sli); /* "ttft", ... */
/* The histogram a latency SLI reads (availability: none; HIST_E2E). */
enum hist_kind slo_sli_hist(enum slo_sli sli);

/* One spec.slo.objectives[] entry: "target percent of requests within
 * threshold seconds (availability: finished without error) over window". */
struct iw_objective {
	enum slo_sli sli;
	double threshold; /* seconds; 0 for availability */
	double target;    /* percent, 0 < target < 100 */
	char window[16];  /* in days: "28d" (also for "4w") */
	uint64_t window_s;
};

struct iw_secret_ref {
	char *name; /* NULL when unset */
	char *key;
};

struct iwspec {
	char *namespace;
	char *name; /* metadata.name; "" for a workload without a CR */
	char *uid;  /* metadata.uid, NULL offline */
	int64_t generation;
	char *workload;       /* spec.workloadName or metadata.name */
	enum backend backend; /* BACKEND_UNKNOWN: from the pods' label */
	char *port;           /* name or decimal number */
	char *path;
	uint64_t interval_ms;
	uint64_t timeout_ms;
	char *interval; /* as written (defaulted), for the generated objects */
	char *timeout;
	bool https;
	char *tls_server_name;
	bool tls_insecure;
	struct iw_secret_ref tls_ca;
	struct iw_secret_ref bearer;
	enum monitor_kind monitor;
	struct kv monitor_labels[IW_MAX_LABELS]; /* sorted by key */
	size_t nmonitor_labels;
	bool match_prometheus;
	bool scrape_config;
	bool scrape_config_resource;
	bool dashboard;
	bool alerts;
	uint64_t expected_max_num_seqs; /* 0: not given */
	double drift_tolerance;
	double slo_ttft_p95, slo_tpot_p95, slo_e2e_p95; /* 0: not given (deprecated) */
	struct iw_objective objectives[IW_MAX_OBJECTIVES];
	size_t nobjectives;
};

/* Controller-wide defaults for workloads without a CR (flags);
 * iw_defaults_init gives the CRD schema's defaults. */
struct iw_defaults {
	const char *port;     /* "http" */
	const char *path;     /* "/metrics" */
	const char *interval; /* "15s" */
	const char *timeout;  /* "10s" */
	double drift_tolerance;
	/* spec.monitor.matchPrometheus for workloads without a CR: their
	 * monitors get the labels the cluster's Prometheus objects select
	 * (--match-prometheus; false) */
	bool match_prometheus;
};
void iw_defaults_init(struct iw_defaults *d);

/* Decodes an InferenceWorkload object. Absent fields take the CRD schema's
 * defaults, as the API server fills them in (so a CR from a file decodes as
 * the same CR from the cluster); of d only the timeout applies, which the
 * schema leaves unset. On failure returns IM_PARSE or IM_CONFIG with one
 * message in err naming the field; s is then released. */
im_result iwspec_parse(const cJSON *obj, const struct iw_defaults *d, struct iwspec *s,
		       struct buf *err);
/* The spec of a workload that exists only through pod labels. */
void iwspec_default(struct iwspec *s, const struct iw_defaults *d, const char *ns,
		    const char *workload, enum backend b);
void iwspec_release(struct iwspec *s);

#endif
