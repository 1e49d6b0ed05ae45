/*
 * promselect.h - which prometheus-operator `Prometheus` objects would pick
 * up a generated monitor, and which labels would make them.
 *
 * The most common reason a ServiceMonitor is silently ignored: the
 * Prometheus object selects monitors by labels the monitor lacks, or only
 * looks in some namespaces. prometheus-operator's rules, per monitor kind
 * (ServiceMonitor, PodMonitor, ScrapeConfig, and PrometheusRule through
 * ruleSelector / ruleNamespaceSelector):
 *   spec.<kind>Selector           null: selects nothing; {}: everything;
 *                                 else a metav1.LabelSelector on the
 *                                 monitor's labels
 *   spec.<kind>NamespaceSelector  null: only the Prometheus' own namespace;
 *                                 {}: every namespace; else a LabelSelector
 *                                 on the namespace's labels
 * Namespace labels come from the Namespace object when it is known, else
 * from the label every namespace carries, kubernetes.io/metadata.name.
 *
 * Pure functions on cJSON objects: the controller passes its caches,
 * `infermon render` the Prometheus objects it was given.
 */
#ifndef INFERMON_PROMSELECT_H
#define INFERMON_PROMSELECT_H

#include <cjson/cJSON.h>
#include <stdbool.h>

#include "buf.h"

enum promsel_kind {
	PROMSEL_SERVICEMONITOR,
	PROMSEL_PODMONITOR,
	PROMSEL_SCRAPECONFIG,
	PROMSEL_RULE
};

/* The kind a generated object's "kind" names, or -1. */
int promsel_kind_of(const char *kind);

/* A metav1.LabelSelector against labels (a JSON object of strings; NULL
 * means no labels). A NULL selector matches nothing; {} matches all. An
 * unknown operator matches nothing (the API server would have refused it). */
bool labelsel_matches(const cJSON *sel, const cJSON *labels);

/* True when prom would select an object of kind k with the given labels in
 * namespace ns, whose Namespace object is nsobj (NULL when unknown). */
bool promsel_selects(const cJSON *prom, enum promsel_kind k, const char *ns, const cJSON *nsobj,
		     const cJSON *labels);

/* Adds to labels (a JSON object) what prom's selector of kind k needs:
 * matchLabels, the first value of an In, "true" for Exists. Returns false
 * and leaves labels unchanged when no labels can make prom select it: the
 * namespace is not admitted, the selector is null, or it conflicts with a
 * label already set (labels set by the user win). */
bool promsel_stamp(const cJSON *prom, enum promsel_kind k, const char *ns, const cJSON *nsobj,
		   cJSON *labels);

/* The generated monitor among objs (a cJSON array of objects): the
 * ServiceMonitor or PodMonitor, with its kind in *k; NULL when none. */
cJSON *promsel_find_monitor(cJSON *objs, enum promsel_kind *k);

/* Labels of a monitor object, created empty when it has none. */
cJSON *promsel_monitor_labels(cJSON *monitor);

/* spec.monitor.matchPrometheus: stamps on the monitor's labels what each of
 * proms[0..n) needs, in that order (put them in a stable order). */
void promsel_stamp_all(cJSON *monitor, enum promsel_kind k, const cJSON *const *proms, size_t n,
		       const char *ns, const cJSON *nsobj);
/* The same for every object in objs that a Prometheus selects by labels
 * (monitors, ScrapeConfigs, PrometheusRules). */
void promsel_stamp_objects(cJSON *objs, const cJSON *const *proms, size_t n, const char *ns,
			   const cJSON *nsobj);

/* One line on what prom wants, for conditions and events:
 *   monitoring/k8s selects ServiceMonitors {release=kube-prom} in namespaces {team=ml}
 */
void promsel_describe(const cJSON *prom, enum promsel_kind k, struct buf *out);

#endif
