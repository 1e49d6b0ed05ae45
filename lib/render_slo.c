#include "render_slo.h"

#include <stdio.h>
#include <string.h>

#include "promql.h"

/* The SRE Workbook's windows: every short and long window of the alerts. */
static const char *const windows[] = {"5m", "30m", "1h", "2h", "6h", "1d", "3d"};

/* A multiwindow burn-rate condition: pct percent of the budget spent
 * within the long window, confirmed by the short one. */
struct burn {
	const char *long_w, *short_w;
	uint64_t long_s;
	int pct;
};
static const struct burn page[] = {{"1h", "5m", 3600, 2}, {"6h", "30m", 21600, 5}};
static const struct burn ticket[] = {{"1d", "2h", 86400, 10}, {"3d", "6h", 259200, 10}};

void render_slo_number(char *out, size_t n, double v)
{
	snprintf(out, n, "%.15g", v);
}

/* A regular expression matching a bucket bound as engines write it ("1",
 * "2.5") and as Prometheus 3 stores it ("1.0", "2.5"). */
static void le_regex(struct buf *b, double threshold)
{
	char num[32];

	render_slo_number(num, sizeof(num), threshold);
	for (const char *p = num; *p; p++) {
		if (*p == '.')
			buf_adds(b, "\\\\.");
		else
			buf_addc(b, *p);
	}
	buf_adds(b, strchr(num, '.') ? "0*" : "(\\\\.0*)?");
}

/* sum by (namespace, workload_name[, pod]) (rate(<series>[w])) of one
 * histogram's _count or its bucket at the threshold (bucket). */
static void hist_rate(struct buf *b, const struct iwspec *s, const char *suffix, bool bucket,
		      double threshold, const char *w, bool by_pod)
{
	buf_printf(
		b,
		"sum by (namespace, workload_name%s) (rate({__name__=~\"(vllm:|sglang[:_])%s_%s\", ",
		by_pod ? ", pod" : "", suffix, bucket ? "bucket" : "count");
	promql_scope(b, s->namespace, s->workload);
	buf_adds(b, ", role!=\"prefill\", tp_rank=~\"|0\"");
	if (bucket) {
		buf_adds(b, ", le=~\"");
		le_regex(b, threshold);
		buf_addc(b, '"');
	}
	buf_printf(b, "}[%s]))", w);
}

/* The requests of a window (good: only the good ones) of objective o. */
static void events(struct buf *b, const struct iwspec *s, const struct iw_objective *o, bool good,
		   const char *w)
{
	const char *suffix, *old_suffix;

	if (o->sli == SLI_AVAILABILITY) {
		buf_adds(b, "sum by (namespace, workload_name) (rate(vllm:request_success_total{");
		promql_scope(b, s->namespace, s->workload);
		buf_printf(b, ", role!=\"prefill\"%s}[%s]))",
			   good ? ", finished_reason!~\"abort|error\"" : "", w);
		return;
	}
	/* the suffix vLLM and SGLang share; TPOT falls back per pod to its
	 * older name */
	suffix = hist_kind_name(slo_sli_hist(o->sli));
	old_suffix = o->sli == SLI_TPOT ? "time_per_output_token_seconds" : NULL;
	if (!old_suffix) {
		hist_rate(b, s, suffix, good, o->threshold, w, false);
		return;
	}
	buf_adds(b, "sum by (namespace, workload_name) (\n    ");
	hist_rate(b, s, suffix, good, o->threshold, w, true);
	buf_adds(b, "\n    or on (namespace, pod)\n    ");
	hist_rate(b, s, old_suffix, good, o->threshold, w, true);
	buf_adds(b, "\n  )");
}

/* namespace="…", workload_name="…", sli="…"[, threshold="…"]: the series of
 * one SLI as the recordings label them. */
static void sli_sel(struct buf *b, const struct iwspec *s, const struct iw_objective *o)
{
	char num[32];

	promql_scope(b, s->namespace, s->workload);
	buf_printf(b, ", sli=\"%s\"", slo_sli_name(o->sli));
	if (o->sli != SLI_AVAILABILITY) {
		render_slo_number(num, sizeof(num), o->threshold);
		buf_printf(b, ", threshold=\"%s\"", num);
	}
}

/* The rule labels of an objective: sli, threshold (latency), and with
 * objective, target and window. */
static cJSON *objective_labels(cJSON *r, const struct iw_objective *o, bool objective)
{
	cJSON *l = cJSON_AddObjectToObject(r, "labels");
	char num[32];

	cJSON_AddStringToObject(l, "sli", slo_sli_name(o->sli));
	if (o->sli != SLI_AVAILABILITY) {
		render_slo_number(num, sizeof(num), o->threshold);
		cJSON_AddStringToObject(l, "threshold", num);
	}
	if (objective) {
		render_slo_number(num, sizeof(num), o->target);
		cJSON_AddStringToObject(l, "target", num);
		cJSON_AddStringToObject(l, "window", o->window);
	}
	return l;
}

/* namespace and workload_name come from the expression already; as rule
 * labels too they keep two workloads' rules apart when one file holds both
 * (promtool check rules reports same-named rules with the same labels) */
/* Returns the rule's labels, for a caller to add to. */
static cJSON *record(cJSON *rules, const struct iwspec *s, const char *name, const struct buf *expr,
		     const struct iw_objective *o, bool objective)
{
	cJSON *r = cJSON_CreateObject(), *l;

	cJSON_AddStringToObject(r, "record", name);
	cJSON_AddStringToObject(r, "expr", buf_str(expr));
	l = objective_labels(r, o, objective);
	cJSON_AddStringToObject(l, "namespace", s->namespace);
	cJSON_AddStringToObject(l, "workload_name", s->workload);
	cJSON_AddItemToArray(rules, r);
	return l;
}

/* The index of the first objective with o's SLI (and threshold; with
 * window, also its window). */
static size_t first_alike(const struct iwspec *s, size_t i, bool window)
{
	const struct iw_objective *o = &s->objectives[i];

	for (size_t j = 0; j < i; j++) {
		const struct iw_objective *p = &s->objectives[j];
		if (p->sli == o->sli && p->threshold == o->threshold &&
		    (!window || p->window_s == o->window_s))
			return j;
	}
	return i;
}

/* (total - good) over total, with no sample rather than NaN when there
 * were no requests: an idle night must not poison a month's average. */
static void error_ratio(struct buf *e, const struct iwspec *s, const struct iw_objective *o,
			const char *w)
{
	buf_adds(e, "(\n  ");
	events(e, s, o, false, w);
	buf_adds(e, "\n  -\n  ");
	events(e, s, o, true, w);
	buf_adds(e, "\n)\n/\n(\n  ");
	events(e, s, o, false, w);
	buf_adds(e, " > 0\n)");
}

/* The 5m rates of requests and errors (the window ratio sums them), then
 * the error ratio over each window of the alerts. */
static void sli_recordings(cJSON *rules, const struct iwspec *s, const struct iw_objective *o)
{
	struct buf e, name;

	buf_init(&e, BUF_MAX_SMALL);
	buf_init(&name, BUF_MAX_SMALL);
	events(&e, s, o, false, "5m");
	record(rules, s, "infermon:slo_sli_requests:rate5m", &e, o, false);
	buf_reset(&e);
	events(&e, s, o, false, "5m");
	buf_adds(&e, "\n-\n");
	events(&e, s, o, true, "5m");
	record(rules, s, "infermon:slo_sli_errors:rate5m", &e, o, false);
	for (size_t w = 0; w < sizeof(windows) / sizeof(windows[0]); w++) {
		buf_reset(&e), buf_reset(&name);
		if (w == 0) {
			buf_adds(&e, "infermon:slo_sli_errors:rate5m{");
			sli_sel(&e, s, o);
			buf_adds(&e, "}\n/\n(infermon:slo_sli_requests:rate5m{");
			sli_sel(&e, s, o);
			buf_adds(&e, "} > 0)");
		} else {
			error_ratio(&e, s, o, windows[w]);
		}
		buf_printf(&name, "infermon:slo_sli_error:ratio_rate%s", windows[w]);
		record(rules, s, buf_str(&name), &e, o, false);
	}
	buf_release(&e);
	buf_release(&name);
}

/* The window's error ratio, weighted by requests: the 5m rates of errors
 * and requests summed over the window (a rate over 28 days of every engine
 * series would read a month of samples at each evaluation). */
static void window_recording(cJSON *rules, const struct iwspec *s, const struct iw_objective *o)
{
	struct buf e, name;
	cJSON *l;

	buf_init(&e, BUF_MAX_SMALL);
	buf_init(&name, BUF_MAX_SMALL);
	buf_adds(&e, "sum_over_time(infermon:slo_sli_errors:rate5m{");
	sli_sel(&e, s, o);
	buf_printf(&e, "}[%s])\n/\n(sum_over_time(infermon:slo_sli_requests:rate5m{", o->window);
	sli_sel(&e, s, o);
	buf_printf(&e, "}[%s]) > 0)", o->window);
	buf_printf(&name, "infermon:slo_sli_error:ratio_rate%s", o->window);
	l = record(rules, s, buf_str(&name), &e, o, false);
	cJSON_AddStringToObject(l, "window", o->window);
	buf_release(&e);
	buf_release(&name);
}

static void objective_recordings(cJSON *rules, const struct iwspec *s, const struct iw_objective *o,
				 const char *budget)
{
	struct buf e;

	buf_init(&e, BUF_MAX_SMALL);
	buf_printf(&e, "1 - infermon:slo_sli_error:ratio_rate%s{", o->window);
	sli_sel(&e, s, o);
	buf_printf(&e, ", window=\"%s\"} / %s", o->window, budget);
	record(rules, s, "infermon:slo_error_budget_remaining:ratio", &e, o, true);
	buf_reset(&e);
	buf_adds(&e, "infermon:slo_sli_error:ratio_rate1h{");
	sli_sel(&e, s, o);
	buf_printf(&e, "} / %s", budget);
	record(rules, s, "infermon:slo_burn_rate:ratio_rate1h", &e, o, true);
	buf_release(&e);
}

/* One side of a multiwindow condition: the window's ratio above factor ×
 * budget. */
static void above(struct buf *b, const struct iwspec *s, const struct iw_objective *o,
		  const char *w, const char *factor, const char *budget)
{
	buf_printf(b, "infermon:slo_sli_error:ratio_rate%s{", w);
	sli_sel(b, s, o);
	buf_printf(b, "} > (%s * %s)", factor, budget);
}

static void burn_alert(cJSON *rules, const struct iwspec *s, const struct iw_objective *o,
		       const char *budget, const struct burn *burns, const char *alert,
		       const char *severity)
{
	cJSON *r = cJSON_CreateObject(), *l, *a;
	struct buf e, sum, desc;
	char factor[2][32], num[32], target[32];

	buf_init(&e, BUF_MAX_SMALL);
	buf_init(&sum, BUF_MAX_SMALL);
	buf_init(&desc, BUF_MAX_SMALL);
	for (int i = 0; i < 2; i++) {
		/* exact integers divided once: 2 × 28d / (100 × 1h) prints 13.44 */
		render_slo_number(factor[i], sizeof(factor[i]),
				  (double)((uint64_t)burns[i].pct * o->window_s) /
					  (double)(100 * burns[i].long_s));
		buf_adds(&e, i ? "\nor\n(\n  " : "(\n  ");
		above(&e, s, o, burns[i].long_w, factor[i], budget);
		buf_adds(&e, "\n  and\n  ");
		above(&e, s, o, burns[i].short_w, factor[i], budget);
		buf_adds(&e, "\n)");
	}
	render_slo_number(target, sizeof(target), o->target);
	render_slo_number(num, sizeof(num), o->threshold);
	if (o->sli == SLI_AVAILABILITY)
		buf_printf(&sum, "%s/%s burns its availability budget (%s%% over %s)", s->namespace,
			   s->workload, target, o->window);
	else
		buf_printf(&sum, "%s/%s burns its %s <= %ss budget (%s%% over %s)", s->namespace,
			   s->workload, slo_sli_name(o->sli), num, target, o->window);
	buf_printf(&desc,
		   "{{ $value | humanizePercentage }} of the requests of workload %s in namespace "
		   "%s missed the objective over the alert's long window: %d%% of the %s error "
		   "budget spent within %s (burn rate %s) or %d%% within %s (%s), or faster.",
		   s->workload, s->namespace, burns[0].pct, o->window, burns[0].long_w, factor[0],
		   burns[1].pct, burns[1].long_w, factor[1]);
	cJSON_AddStringToObject(r, "alert", alert);
	cJSON_AddStringToObject(r, "expr", buf_str(&e));
	l = objective_labels(r, o, true);
	cJSON_AddStringToObject(l, "severity", severity);
	cJSON_AddStringToObject(l, "namespace", s->namespace);
	cJSON_AddStringToObject(l, "workload_name", s->workload);
	a = cJSON_AddObjectToObject(r, "annotations");
	cJSON_AddStringToObject(a, "summary", buf_str(&sum));
	cJSON_AddStringToObject(a, "description", buf_str(&desc));
	cJSON_AddItemToArray(rules, r);
	buf_release(&e);
	buf_release(&sum);
	buf_release(&desc);
}

/* The share of requests that may miss: 1 - target. Twelve digits, so that
 * 99.9 gives 0.001 rather than 100 - 99.9's 0.000999999999999943. */
static void error_budget(char *out, size_t n, const struct iw_objective *o)
{
	snprintf(out, n, "%.12g", (100 - o->target) / 100);
}

void render_slo_group(cJSON *groups, const struct iwspec *s)
{
	cJSON *g, *rules;
	struct buf name;
	char budget[32];

	if (!s->nobjectives)
		return;
	g = cJSON_CreateObject();
	buf_init(&name, BUF_MAX_SMALL);
	buf_printf(&name, "infermon-slo.%s.%s", s->namespace, s->workload);
	cJSON_AddStringToObject(g, "name", buf_str(&name));
	buf_release(&name);
	rules = cJSON_AddArrayToObject(g, "rules");
	cJSON_AddItemToArray(groups, g);

	for (size_t i = 0; i < s->nobjectives; i++)
		if (first_alike(s, i, false) == i)
			sli_recordings(rules, s, &s->objectives[i]);
	for (size_t i = 0; i < s->nobjectives; i++)
		if (first_alike(s, i, true) == i)
			window_recording(rules, s, &s->objectives[i]);
	for (size_t i = 0; i < s->nobjectives; i++) {
		const struct iw_objective *o = &s->objectives[i];
		error_budget(budget, sizeof(budget), o);
		objective_recordings(rules, s, o, budget);
	}
	if (!s->alerts)
		return;
	for (size_t i = 0; i < s->nobjectives; i++) {
		const struct iw_objective *o = &s->objectives[i];
		error_budget(budget, sizeof(budget), o);
		burn_alert(rules, s, o, budget, page, "LLMErrorBudgetBurnPage", "critical");
		burn_alert(rules, s, o, budget, ticket, "LLMErrorBudgetBurnTicket", "warning");
	}
}
