/*
 * render_slo.h - a workload's SLO objectives (spec.slo.objectives) as
 * error-budget rules: one rule group, "infermon-slo.<namespace>.<workload>",
 * in the workload's PrometheusRule (render_alerts.h), evaluated in order so
 * that its alerts read the recordings of the same evaluation.
 *
 * Per distinct (sli, threshold), labels sli and threshold (latency SLIs):
 *   infermon:slo_sli_requests:rate5m, infermon:slo_sli_errors:rate5m
 *       requests and those that missed; good is the histogram's bucket at
 *       the threshold, total its count; availability's good is the requests
 *       that finished for a reason other than abort or error
 *       (vllm:request_success_total)
 *   infermon:slo_sli_error:ratio_rate<W>, W in 5m 30m 1h 2h 6h 1d 3d
 *       (total - good) / total over W; no sample (not NaN) without requests
 * Per distinct (sli, threshold, window):
 *   infermon:slo_sli_error:ratio_rate<window>
 *       the 5m error and request rates summed over the window: the ratio
 *       weighted by requests, without reading a window of engine samples
 * Per objective (labels sli, threshold, target, window):
 *   infermon:slo_error_budget_remaining:ratio   1 - error ratio / budget
 *   infermon:slo_burn_rate:ratio_rate1h         1h error ratio / budget
 *   LLMErrorBudgetBurnPage (critical)    2% of the budget spent in 1h (and
 *                                        in 5m) or 5% in 6h (and in 30m)
 *   LLMErrorBudgetBurnTicket (warning)   10% in 1d (and 2h) or in 3d (and
 *                                        6h); alerts only with alerts.enabled
 * A burn factor is the budget share × window / long window: 14.4, 6, 3 and
 * 1 for a 30d window, 13.44, 5.6, 2.8 and 0.933 for 28d (the SRE
 * Workbook's multiwindow, multi-burn-rate alerts).
 *
 * Latency SLIs read every engine variant as the p95 alerts do: vLLM and
 * SGLang under either prefix, tp_rank 0, TPOT's new name per pod before the
 * old one, prefill pods of a -pd pair left out. A histogram's bucket bounds
 * (le) are matched in both the exposition's form ("1", "2.5") and
 * Prometheus 3's ("1.0").
 *
 * Pure function; same spec, same bytes.
 */
#ifndef INFERMON_RENDER_SLO_H
#define INFERMON_RENDER_SLO_H

#include <cjson/cJSON.h>

#include "iwspec.h"

/* Appends the SLO group of s to groups when s has objectives. */
void render_slo_group(cJSON *groups, const struct iwspec *s);

/* The label value an objective's threshold or target takes ("2.5", "99"). */
void render_slo_number(char *out, size_t n, double v);

#endif
