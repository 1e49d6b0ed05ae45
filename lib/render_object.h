/*
 * render_object.h - what every generated object shares: its skeleton
 * (apiVersion, kind, metadata), its name and its labels. The lowest render
 * module: render.c, render_alerts.c and render_dashboard.c include it, it
 * includes none of them.
 *
 * Pure functions.
 */
#ifndef INFERMON_RENDER_OBJECT_H
#define INFERMON_RENDER_OBJECT_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#include "iwspec.h"
#include "kube.h"

#define LABEL_MANAGED_BY "app.kubernetes.io/managed-by"
#define LABEL_IW_WORKLOAD "infermon.io/workload"
#define MANAGER_NAME "infermon"

/* Name of the generated objects of a workload: "infermon-<workload>", made a
 * valid DNS-1035 label (with a hash suffix when that changed it). Written
 * into name (at least 64 bytes). */
void render_object_name(const char *workload, char *name, size_t len);

/* A new object {apiVersion, kind, metadata {name, namespace (unless NULL),
 * labels}} of kind k (kube.h's table), taking ownership of labels. */
cJSON *render_object(enum owned_kind k, const char *ns, const char *name, cJSON *labels);

/* The labels of a workload's generated objects: managed-by, the workload
 * and, with monitor, spec.monitor.labels (what a Prometheus selects by). */
cJSON *render_labels(const struct iwspec *s, bool monitor);

#endif
