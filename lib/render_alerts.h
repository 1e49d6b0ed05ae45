/*
 * render_alerts.h - a workload's alerting rules as a prometheus-operator
 * PrometheusRule (monitoring.coreos.com/v1), in the workload's namespace,
 * named and labelled like its monitor (spec.monitor.labels too, since a
 * Prometheus' ruleSelector usually asks for the same labels as its
 * serviceMonitorSelector).
 *
 * One group, "infermon.<namespace>.<workload>", of alerts scoped to the
 * workload by the labels relabeling puts on every engine target
 * (namespace, workload_name):
 *   LLMTTFTAboveSLO, LLMTPOTAboveSLO, LLME2ELatencyAboveSLO
 *                       p95 over 5m above spec.slo.*P95Seconds (only the
 *                       targets that are set); decode pods only on -pd
 *   LLMLimitDrift       the controller's LimitDrift check
 *                       (infermon_check_active), valued by the drift ratio
 *   LLMAdmissionBound   the controller's AdmissionBound check
 *   LLMKVCachePressure  engine KV cache usage >= 90% on a pod
 *   LLMEngineDown       up == 0 for an engine target of the workload
 * Every expression reads every engine variant of docs/metrics.md: one selector
 * for the suffix vLLM and SGLang share under either SGLang prefix, and
 * renamed series resolved per pod, new name first (`or on (namespace, pod)`),
 * as the dashboard does; SGLang is read on tp_rank 0.
 *
 * SLO objectives (spec.slo.objectives): render_slo.h.
 *
 * Pure function; same spec, same bytes.
 */
#ifndef INFERMON_RENDER_ALERTS_H
#define INFERMON_RENDER_ALERTS_H

#include <cjson/cJSON.h>

#include "iwspec.h"

/* The PrometheusRule of s (caller owns it): the alert group when
 * s->alerts, then the SLO group of s->objectives (render_slo.h), whose
 * recordings come with or without alerts.enabled and its burn-rate alerts
 * only with it. */
cJSON *render_alerts(const struct iwspec *s);

#endif
