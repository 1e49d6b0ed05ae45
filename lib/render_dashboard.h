/*
 * render_dashboard.h - the LLM inference dashboard as Kubernetes objects.
 *
 * dashboards/llm-inference.json is compiled in (CMake embeds it, see
 * cmake/embed_dashboard.cmake; the build fails when it would not fit a
 * ConfigMap), so the controller reads no file at run time and `infermon
 * render` prints the same bytes.
 *
 * One dashboard serves every workload (it has namespace and workload
 * variables), so these objects are controller-wide, in the dashboards
 * namespace, labelled managed-by infermon and pruned by the controller (no
 * ownerReference: they outlive any one InferenceWorkload):
 *   ConfigMap        data[dashboard_key] = the JSON, the sidecar label
 *                    (grafana_dashboard: "1"), annotations grafana_folder
 *                    and k8s-sidecar-target-directory = the folder
 *   GrafanaDashboard grafana.integreatly.org/v1beta1, when grafana_operator:
 *                    spec.configMapRef to that ConfigMap, instanceSelector,
 *                    folder, allowCrossNamespaceImport
 *
 * Pure functions; same config, same bytes.
 */
#ifndef INFERMON_RENDER_DASHBOARD_H
#define INFERMON_RENDER_DASHBOARD_H

#include <stddef.h>

#include "render.h"

/* What flags say about the dashboard objects (`infermon run` and `render`
 * share them); zero values keep render_config_init's defaults. */
struct dashboard_opts {
	bool off;                                          /* --no-dashboard */
	const char *namespace;                             /* --dashboards-namespace */
	struct render_label label;                         /* --dashboard-label KEY=VALUE */
	const char *folder;                                /* --dashboard-folder */
	bool grafana_operator;                             /* --grafana-operator */
	struct render_label instance[RENDER_MAX_SELECTOR]; /* --grafana-instance-selector */
	size_t ninstance;
};

/* Sets c's dashboard fields from o (pointers are shared, not copied). */
void render_dashboard_apply_opts(struct render_config *c, const struct dashboard_opts *o);

/* The compiled-in dashboard JSON, NUL-terminated; len gets its size. Static
 * storage: never freed. */
const char *render_dashboard_json(size_t *len);

/* The dashboard ConfigMap (caller owns it). */
cJSON *render_dashboard_configmap(const struct render_config *c);

/* The GrafanaDashboard referring to that ConfigMap (caller owns it). */
cJSON *render_grafana_dashboard(const struct render_config *c);

#endif
