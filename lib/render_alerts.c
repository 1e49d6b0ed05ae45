#include "render_alerts.h"

#include <stdio.h>
#include <string.h>

#include "promql.h"
#include "render_object.h"
#include "render_slo.h"

#define RATE_WINDOW "5m"
#define KV_PRESSURE "0.9"

/* namespace="…", workload_name="…" */
static void scope(struct buf *b, const struct iwspec *s)
{
	promql_scope(b, s->namespace, s->workload);
}

/* The rate of one histogram's buckets, per pod, for a name suffix shared
 * by vLLM and SGLang (either prefix). Prefill pods are left out: on a
 * prefill/decode pair the decode pod sees the whole request. */
static void bucket_rate(struct buf *b, const struct iwspec *s, const char *suffix)
{
	buf_printf(
		b,
		"sum by (namespace, workload_name, pod, le) (rate({__name__=~\"(vllm:|sglang[:_])%s_bucket\", ",
		suffix);
	scope(b, s);
	buf_printf(b, ", role!=\"prefill\", tp_rank=~\"|0\"}[%s]))", RATE_WINDOW);
}

/* p95 of the workload over the histogram named by suffix (or, per pod where
 * the first is absent, by old_suffix), above target. */
static void p95_expr(struct buf *b, const struct iwspec *s, const char *suffix,
		     const char *old_suffix, double target)
{
	buf_adds(b, "histogram_quantile(0.95, sum by (namespace, workload_name, le) (\n  ");
	bucket_rate(b, s, suffix);
	if (old_suffix) {
		buf_adds(b, "\n  or on (namespace, pod)\n  ");
		bucket_rate(b, s, old_suffix);
	}
	buf_printf(b, "\n)) > %.15g", target);
}

static void check_expr(struct buf *b, const struct iwspec *s, const char *check)
{
	buf_adds(b, "max by (namespace, workload_name, pod) (infermon_check_active{check=\"");
	buf_adds(b, check);
	buf_adds(b, "\", ");
	scope(b, s);
	buf_adds(b, "}) == 1");
}

static void drift_expr(struct buf *b, const struct iwspec *s)
{
	buf_adds(b, "max by (namespace, workload_name, pod) (infermon_engine_limit_drift_ratio{");
	scope(b, s);
	buf_adds(b, "})\nand on (namespace, pod)\n");
	check_expr(b, s, "LimitDrift");
}

/* The fullest engine of each pod: vLLM's new name, its old one, SGLang's
 * token usage (either prefix, TP rank 0). */
static void kv_expr(struct buf *b, const struct iwspec *s)
{
	static const char *const sels[] = {
		"vllm:kv_cache_usage_perc{", "vllm:gpu_cache_usage_perc{",
		"{__name__=~\"sglang[:_]token_usage\", tp_rank=~\"|0\", "};

	buf_adds(b, "(\n");
	for (size_t i = 0; i < sizeof(sels) / sizeof(sels[0]); i++) {
		buf_printf(b, "%s  max by (namespace, workload_name, pod) (%s",
			   i ? "  or on (namespace, pod)\n" : "", sels[i]);
		scope(b, s);
		buf_adds(b, "})\n");
	}
	buf_adds(b, ") >= " KV_PRESSURE);
}

static void up_expr(struct buf *b, const struct iwspec *s)
{
	buf_adds(b, "up{");
	scope(b, s);
	buf_adds(b, "} == 0");
}

static void add_rule(cJSON *rules, const struct iwspec *s, const char *alert,
		     const struct buf *expr, const char *dur, const char *severity,
		     const char *summary, const char *description)
{
	cJSON *r = cJSON_CreateObject(), *l, *a;

	cJSON_AddStringToObject(r, "alert", alert);
	cJSON_AddStringToObject(r, "expr", buf_str(expr));
	cJSON_AddStringToObject(r, "for", dur);
	l = cJSON_AddObjectToObject(r, "labels");
	cJSON_AddStringToObject(l, "severity", severity);
	/* the series carry them already; as rule labels they also keep the
	 * rules of two workloads apart when one file holds both */
	cJSON_AddStringToObject(l, "namespace", s->namespace);
	cJSON_AddStringToObject(l, "workload_name", s->workload);
	a = cJSON_AddObjectToObject(r, "annotations");
	cJSON_AddStringToObject(a, "summary", summary);
	cJSON_AddStringToObject(a, "description", description);
	cJSON_AddItemToArray(rules, r);
}

static void slo_rule(cJSON *rules, const struct iwspec *s, const char *alert, const char *what,
		     const char *field, const char *suffix, const char *old_suffix, double target)
{
	struct buf e, sum, desc;

	buf_init(&e, BUF_MAX_SMALL);
	buf_init(&sum, BUF_MAX_SMALL);
	buf_init(&desc, BUF_MAX_SMALL);
	p95_expr(&e, s, suffix, old_suffix, target);
	buf_printf(&sum, "%s p95 of %s/%s above its SLO of %.15gs", what, s->namespace, s->workload,
		   target);
	buf_printf(
		&desc,
		"The %s p95 of workload %s in namespace %s has been {{ $value | humanizeDuration }} "
		"over the last " RATE_WINDOW ", above spec.slo.%s %.15gs of InferenceWorkload %s.",
		what, s->workload, s->namespace, field, target, *s->name ? s->name : s->workload);
	add_rule(rules, s, alert, &e, "5m", "critical", buf_str(&sum), buf_str(&desc));
	buf_release(&e);
	buf_release(&sum);
	buf_release(&desc);
}

static void alert_group(cJSON *groups, const struct iwspec *s)
{
	cJSON *g, *rules;
	struct buf e, group, sum, desc;

	g = cJSON_CreateObject();
	buf_init(&group, BUF_MAX_SMALL);
	buf_printf(&group, "infermon.%s.%s", s->namespace, s->workload);
	cJSON_AddStringToObject(g, "name", buf_str(&group));
	buf_release(&group);
	rules = cJSON_AddArrayToObject(g, "rules");
	cJSON_AddItemToArray(groups, g);

	if (s->slo_ttft_p95 > 0)
		slo_rule(rules, s, "LLMTTFTAboveSLO", "time to first token", "ttftP95Seconds",
			 "time_to_first_token_seconds", NULL, s->slo_ttft_p95);
	if (s->slo_tpot_p95 > 0)
		slo_rule(rules, s, "LLMTPOTAboveSLO", "time per output token", "tpotP95Seconds",
			 "inter_token_latency_seconds", "time_per_output_token_seconds",
			 s->slo_tpot_p95);
	if (s->slo_e2e_p95 > 0)
		slo_rule(rules, s, "LLME2ELatencyAboveSLO", "end-to-end latency", "e2eP95Seconds",
			 "e2e_request_latency_seconds", NULL, s->slo_e2e_p95);

	buf_init(&e, BUF_MAX_SMALL);
	buf_init(&sum, BUF_MAX_SMALL);
	buf_init(&desc, BUF_MAX_SMALL);
	drift_expr(&e, s);
	buf_printf(
		&sum,
		"max-num-seqs of pod {{ $labels.pod }} (%s/%s) drifts from what its KV cache holds",
		s->namespace, s->workload);
	buf_printf(&desc,
		   "The live max-num-seqs of pod {{ $labels.namespace }}/{{ $labels.pod }} is "
		   "{{ $value | humanizePercentage }} off the KV-derived concurrency (negative: "
		   "below it, the engine admits fewer requests than its KV cache holds). "
		   "kubectl -n %s get iw shows the limit and its source.",
		   s->namespace);
	add_rule(rules, s, "LLMLimitDrift", &e, "5m", "warning", buf_str(&sum), buf_str(&desc));

	buf_reset(&e), buf_reset(&sum), buf_reset(&desc);
	check_expr(&e, s, "AdmissionBound");
	buf_printf(
		&sum,
		"requests of pod {{ $labels.pod }} (%s/%s) queue at the batch limit, not for memory",
		s->namespace, s->workload);
	buf_adds(
		&desc,
		"Pod {{ $labels.namespace }}/{{ $labels.pod }} runs at its live max-num-seqs while "
		"requests wait and its KV cache is mostly free: admission-bound, not memory-bound. "
		"Raise max-num-seqs towards the KV-derived concurrency or add replicas.");
	add_rule(rules, s, "LLMAdmissionBound", &e, "5m", "warning", buf_str(&sum), buf_str(&desc));

	buf_reset(&e), buf_reset(&sum), buf_reset(&desc);
	kv_expr(&e, s);
	buf_printf(&sum, "KV cache of pod {{ $labels.pod }} (%s/%s) is nearly full", s->namespace,
		   s->workload);
	buf_adds(&desc,
		 "The fullest engine of pod {{ $labels.namespace }}/{{ $labels.pod }} has used "
		 "{{ $value | humanizePercentage }} of its KV cache for 10 minutes; expect "
		 "preemptions (SGLang: retractions) and longer queues.");
	add_rule(rules, s, "LLMKVCachePressure", &e, "10m", "warning", buf_str(&sum),
		 buf_str(&desc));

	buf_reset(&e), buf_reset(&sum), buf_reset(&desc);
	up_expr(&e, s);
	buf_printf(&sum, "engine pod {{ $labels.pod }} (%s/%s) cannot be scraped", s->namespace,
		   s->workload);
	buf_adds(&desc, "Job {{ $labels.job }} has failed to scrape {{ $labels.instance }} (pod "
			"{{ $labels.namespace }}/{{ $labels.pod }}) for 5 minutes.");
	add_rule(rules, s, "LLMEngineDown", &e, "5m", "critical", buf_str(&sum), buf_str(&desc));
	buf_release(&e);
	buf_release(&sum);
	buf_release(&desc);
}

cJSON *render_alerts(const struct iwspec *s)
{
	char name[80];
	cJSON *o, *spec, *groups;

	render_object_name(s->workload, name, sizeof(name));
	o = render_object(OWNED_PROMETHEUSRULE, s->namespace, name, render_labels(s, true));
	spec = cJSON_AddObjectToObject(o, "spec");
	groups = cJSON_AddArrayToObject(spec, "groups");
	if (s->alerts)
		alert_group(groups, s);
	render_slo_group(groups, s);
	return o;
}
