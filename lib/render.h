/*
 * render.h - the objects infermon keeps for a workload: pure functions from
 * (spec, pods, config) to Kubernetes objects as cJSON, called by desired.h,
 * which decides the spec and what else an object needs (ownerReferences,
 * matchPrometheus labels) for both the controller (which server-side applies
 * them) and `infermon render` (which prints them). Same input, same bytes: keys are emitted in a fixed order
 * and lists are sorted.
 *
 * Per workload, in its namespace:
 *   Service        headless, selects the workload's pods, port "metrics"
 *   ServiceMonitor (or PodMonitor when spec.monitor.kind says so)
 *   ScrapeConfig   monitoring.coreos.com/v1alpha1, when asked
 *   PrometheusRule alerting rules, when spec.alerts.enabled (render_alerts.h)
 * and, shared by all workloads, one Secret key holding a Prometheus
 * scrape_configs list (one kubernetes_sd job per distinct scrape setting) for
 * additionalScrapeConfigs or a Prometheus without the operator, and the
 * dashboard ConfigMap (and GrafanaDashboard) of render_dashboard.h.
 *
 * Every path relabels targets to carry namespace, pod, workload_name,
 * backend and (for -pd backends) role, keeps only Running pods and drops
 * LeaderWorkerSet worker pods (only the leader serves engine metrics).
 */
#ifndef INFERMON_RENDER_H
#define INFERMON_RENDER_H

#include <cjson/cJSON.h>

#include "hmap.h"
#include "iwspec.h"
#include "pod.h"

#define LABEL_MANAGED_BY "app.kubernetes.io/managed-by"
#define LABEL_IW_WORKLOAD "infermon.io/workload"
#define MANAGER_NAME "infermon"

#define RENDER_MAX_SELECTOR 8

struct render_label {
	const char *key, *value;
};

struct render_config {
	const char *secret_namespace; /* "monitoring" */
	const char *secret_name;      /* "infermon-scrape-configs" */
	const char *secret_key;       /* "scrape-configs.yaml" */
	/* the dashboard (render_dashboard.h) */
	bool dashboard;                      /* false: none is delivered (--no-dashboard) */
	const char *dashboard_namespace;     /* "monitoring" */
	const char *dashboard_name;          /* "infermon-llm-inference" */
	const char *dashboard_key;           /* "llm-inference.json" */
	struct render_label dashboard_label; /* grafana_dashboard: "1", for the sidecar */
	const char *dashboard_folder;        /* "LLM Inference" */
	bool grafana_operator;               /* also a GrafanaDashboard */
	struct render_label grafana_instance[RENDER_MAX_SELECTOR]; /* its instanceSelector */
	size_t ngrafana_instance; /* default: dashboards: grafana */
};
void render_config_init(struct render_config *c);

/* Name of the generated objects of a workload: "infermon-<workload>", made a
 * valid DNS-1035 label (with a hash suffix when that changed it). Written
 * into name (at least 64 bytes). */
void render_object_name(const char *workload, char *name, size_t len);

/* Appends the workload's namespaced objects to out (a cJSON array), in the
 * order Service (ServiceMonitor only), monitor, ScrapeConfig, PrometheusRule. pods may be
 * NULL/0 (offline): the Service port number then falls back to the first
 * pod's port or 8000. */
void render_workload(const struct render_config *c, const struct iwspec *s,
		     const struct pod *const *pods, size_t npods, cJSON *out);

/* A new object {apiVersion, kind, metadata {name, namespace (unless NULL),
 * labels}}, taking ownership of labels. */
cJSON *render_object(const char *api, const char *kind, const char *ns, const char *name,
		     cJSON *labels);
/* The labels of a workload's generated objects: managed-by, the workload
 * and, with monitor, spec.monitor.labels (what a Prometheus selects by). */
cJSON *render_labels(const struct iwspec *s, bool monitor);

/* The shared Prometheus scrape_configs list (snake_case keys), built from
 * every workload that wants one. Workloads whose scrape settings are the
 * same (port, path, interval, timeout, scheme, TLS, role relabeling) share
 * one job, named for the settings ("infermon/port=http,path=/metrics,..."):
 * it discovers labelled pods in its workloads' namespaces and keeps only its
 * workloads' pods with a regex over "namespace;workload;backend". A fleet
 * adds one alternative to a regex per workload (~30 bytes), not a job
 * (~1.2 kB), so 5,000 workloads fit a Secret (Kubernetes refuses objects
 * over 1 MiB) and Prometheus runs one pod discovery per setting. */
struct scrape_jobs {
	struct hmap groups; /* job_name -> struct scrape_group */
};
void scrape_jobs_init(struct scrape_jobs *j);
void scrape_jobs_release(struct scrape_jobs *j);
/* Adds s's workload (s is not kept). */
void scrape_jobs_add(struct scrape_jobs *j, const struct iwspec *s);
/* A new cJSON array of the jobs, sorted by job_name, members sorted. */
cJSON *scrape_jobs_render(const struct scrape_jobs *j);
/* The shared Secret holding every job (scrape_jobs_render); takes ownership of jobs (a cJSON array). stringData, so diffs in
 * CI are readable. NULL on an internal error (message in err). */
cJSON *render_scrape_secret(const struct render_config *c, cJSON *jobs, struct buf *err);

#endif
