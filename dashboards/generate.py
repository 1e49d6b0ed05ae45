#!/usr/bin/env python3
"""Generates dashboards/llm-inference.json, infermon's LLM inference
dashboard, its recording rules deploy/prometheus/dashboard_rules.yaml, and refreshes the queries in test/dashboard/panel_claims.json,
the list of engine variants each query must return data for
(test/integration/it_dashboard.sh checks both). The variant lists in that
file are written by hand: this script fails, naming the query, when the
code here claims other variants than the reviewed file.

    dashboards/generate.py           write the three files
    dashboards/generate.py --check   fail when one is out of date

Rules the queries follow (docs/dashboard.md explains them):
- every engine selector carries namespace/workload_name/model_name/backend/
  role (set by relabeling; model_name from the engine) and tp_rank=~"|0",
  so SGLang is read on TP rank 0 only while vLLM (no tp_rank) passes;
- SGLang's prefix flipped between `sglang:` and `sglang_`: names are matched
  with {__name__=~"(vllm:|sglang[:_])…"};
- a vLLM rename (kv_cache_usage_perc / gpu_cache_usage_perc, …) is resolved
  per pod with `new or old` after aggregating each side, because builds of
  the transition export both: the new name wins, nothing is counted twice;
- vLLM's `engine` label (data parallelism) is summed away by every
  aggregation;
- every limit comes from an infermon_* series of the controller; none is
  typed in;
- the SLO row reads the recordings of the workload's PrometheusRule
  (lib/render_slo.h) and the controller's infermon_slo_objective, by
  namespace and workload only.
Python 3 standard library only; the output is deterministic.
"""

import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DASHBOARD = os.path.join(HERE, "llm-inference.json")
CLAIMS = os.path.join(ROOT, "test", "dashboard", "panel_claims.json")
RULES_FILE = os.path.join(ROOT, "deploy", "prometheus", "dashboard_rules.yaml")

# ---------------------------------------------------------------------------
# Engine variants (test/integration/it_dashboard.sh runs one fixture each).

VARIANTS = {
    "vllm-sim": "llm-d-inference-sim v0.10 (vLLM >= 0.11 names, no engine label)",
    "vllm-dp": "vLLM >= 0.11 names, data parallel (engine 0 and 1), prefix cache, NIXL-less",
    "vllm-0.9": "vLLM V1 0.8-0.10 names (gpu_cache_usage_perc, time_per_output_token_seconds, gpu_prefix_cache_*)",
    "vllm-v0": "vLLM V0 (num_requests_swapped, gpu_prefix_cache_hit_rate gauge)",
    "sglang": "SGLang with the `sglang:` prefix, DP 2 x TP 2",
    "sglang_": "SGLang with the `sglang_` prefix and older names",
    "vllm-pd": "vLLM prefill/decode pods with NIXL KV transfer",
    "sglang-pd": "SGLang prefill/decode pods (disaggregation queues, KV transfer)",
}
VLLM = ["vllm-sim", "vllm-dp", "vllm-0.9", "vllm-v0", "vllm-pd"]
SGLANG = ["sglang", "sglang_", "sglang-pd"]
ALL = VLLM + SGLANG
PREFIX_CACHE = ["vllm-dp", "vllm-0.9", "vllm-v0", "vllm-pd"] + SGLANG
PREEMPT_COUNTER = ["vllm-dp", "vllm-0.9", "vllm-v0", "vllm-pd", "sglang", "sglang-pd"]
PHASES = ["vllm-sim", "vllm-dp", "vllm-0.9", "vllm-pd"]
QUEUE_TIME = PHASES + ["vllm-v0"]

ENGINE_NOTE = {
    "all": "All engines: vLLM (old and new names) and SGLang (both prefixes).",
    "vllm": "vLLM only: SGLang exports no such series.",
}

# ---------------------------------------------------------------------------
# Selectors

RI = "$__rate_interval"
DS = {"type": "prometheus", "uid": "${datasource}"}

# Model level: the workload's engines, filtered by every variable but role
# and pod. Requests are counted once, on the pods that finish them: every
# role but prefill (on prefill/decode pairs the decode pod sees the whole
# request; the prefill pod finishes a one-token stub of it).
BASE = ('namespace=~"$namespace", workload_name=~"$workload_name", model_name=~"$model_name", '
        'backend=~"$backend", tp_rank=~"|0"')
M = BASE + ', role!="prefill"'
# Model level, every role (prefix caching happens where prompts are computed).
M_ALL = BASE
# Pod level: the selected roles and pods.
P = BASE + ', role=~"$role", pod=~"$pod"'
# infermon's own series (namespace, pod, workload_name; the pod variable
# carries the model/backend/role filters, being chained from pod_info).
IM = 'namespace=~"$namespace", workload_name=~"$workload_name", pod=~"$pod"'
# infermon_pod_info rows of the model-level selection (every role: tokens
# per GPU divide by all the GPUs serving the model, prefill pods included).
INFO = ('namespace=~"$namespace", workload_name=~"$workload_name", model_name=~"$model_name", '
        'backend=~"$backend"')
# ... of the pod-level selection.
INFO_ROLE = INFO + ', role=~"$role"'
INFO_POD = INFO_ROLE + ', pod=~"$pod"'

ENG = "(vllm:|sglang[:_])"  # metric name prefix of both engines


def names(regex, sel):
    return '{__name__=~"%s", %s}' % (regex, sel)


def series(regex, sel):
    """names(), or name{sel} when regex is one plain name."""
    if any(c in regex for c in "|()[]*+?."):
        return names(regex, sel)
    return "%s{%s}" % (regex, sel)


def rate(series):
    return "rate(%s[%s])" % (series, RI)


def by(labels):
    return ", ".join(labels)


def hsum(by_, series_regex, sel, suffix):
    """sum by (by_) (rate(<series>_<suffix>))."""
    return "sum by (%s) (%s)" % (by(by_), rate(names(series_regex + "_" + suffix, sel)))


def pref(*alts):
    """Alternatives of one quantity; the first present per label set wins."""
    return "\n or\n".join("(%s)" % a if " or " in a else a for a in alts)


def quantile(q, by_, alts_fn):
    """histogram_quantile over buckets resolved per pod (renames), then
    aggregated by by_. alts_fn(inner_by) returns the bucket-rate alternatives."""
    inner = ["namespace", "pod"] + [l for l in by_ if l not in ("namespace", "pod")] + ["le"]
    per_pod = pref(*alts_fn(inner))
    return "histogram_quantile(%s, sum by (%s) (\n%s\n))" % (q, by(by_ + ["le"]), per_pod)


def mean(by_, alts_fn):
    """sum(rate(_sum)) / sum(rate(_count)), renames resolved per pod."""
    inner = ["namespace", "pod"] + [l for l in by_ if l not in ("namespace", "pod")]
    s = pref(*alts_fn(inner, "sum"))
    c = pref(*alts_fn(inner, "count"))
    return "sum by (%s) (\n%s\n)\n/\nsum by (%s) (\n%s\n)" % (by(by_), s, by(by_), c)


def hist(regex, sel):
    """Bucket/sum/count alternatives of one histogram without renames."""
    def alts(inner, suffix="bucket"):
        return [hsum(inner, regex, sel, suffix)]
    return alts


def hist_renamed(new, old, sel):
    def alts(inner, suffix="bucket"):
        return [hsum(inner, new, sel, suffix), hsum(inner, old, sel, suffix)]
    return alts


def ttft(sel):
    return hist(ENG + "time_to_first_token_seconds", sel)


def tpot(sel):
    # vLLM >= 0.11 and SGLang: inter_token_latency_seconds; older:
    # time_per_output_token_seconds (llm-d-inference-sim exports both).
    return hist_renamed(ENG + "inter_token_latency_seconds",
                        ENG + "time_per_output_token_seconds", sel)


def e2e(sel):
    return hist(ENG + "e2e_request_latency_seconds", sel)


def kv_usage(by_, sel):
    return pref('max by (%s) (%s)' % (by(by_), names("vllm:kv_cache_usage_perc|sglang[:_]token_usage", sel)),
                'max by (%s) (vllm:gpu_cache_usage_perc{%s})' % (by(by_), sel))


def running(by_, sel):
    return "sum by (%s) (%s)" % (by(by_), names("vllm:num_requests_running|sglang[:_]num_running_reqs", sel))


def waiting(by_, sel):
    return "sum by (%s) (%s)" % (by(by_), names("vllm:num_requests_waiting|sglang[:_]num_queue_reqs", sel))


def prefix_hit_ratio(by_, sel):
    b = by(by_)
    return pref(
        "sum by (%s) (rate(vllm:prefix_cache_hits_total{%s}[%s]))\n/\n"
        "sum by (%s) (rate(vllm:prefix_cache_queries_total{%s}[%s]))" % (b, sel, RI, b, sel, RI),
        "sum by (%s) (rate(vllm:gpu_prefix_cache_hits_total{%s}[%s]))\n/\n"
        "sum by (%s) (rate(vllm:gpu_prefix_cache_queries_total{%s}[%s]))" % (b, sel, RI, b, sel, RI),
        "avg by (%s) (%s)" % (b, names("vllm:gpu_prefix_cache_hit_rate|sglang[:_]cache_hit_rate", sel)))


def tokens(kind, by_, sel):
    return "sum by (%s) (%s)" % (by(by_), rate(names(ENG + kind + "_tokens_total", sel)))


def length_mean(kind, by_, sel):
    """Average prompt/generation length: vLLM's request_*_tokens histogram,
    else (SGLang) tokens per finished request."""
    b = by(by_)
    return pref(
        "sum by (%s) (rate(vllm:request_%s_tokens_sum{%s}[%s]))\n/\n"
        "sum by (%s) (rate(vllm:request_%s_tokens_count{%s}[%s]))" % (b, kind, sel, RI, b, kind, sel, RI),
        "sum by (%s) (%s)\n/\nsum by (%s) (%s)" % (
            b, rate(names("sglang[:_]%s_tokens_total" % kind, sel)),
            b, rate(names("sglang[:_]e2e_request_latency_seconds_count", sel))))


def gpu_series(metric, ns, guard):
    """A dcgm-exporter series with its GPU's pod as pod/namespace. The
    exporter names the pod holding a GPU `pod`/`namespace`, or
    `exported_pod`/`exported_namespace` when Prometheus scrapes it with
    honorLabels false: copy the exported ones into pod/namespace and take
    the others as they are. ns: the namespace matcher (None: every
    namespace); guard: appended to both selectors."""
    exp_ns = ", exported_namespace%s" % ns if ns else ""
    pod_ns = ", namespace%s" % ns if ns else ""
    return (
        '  label_replace(label_replace(%s{exported_pod!=""%s%s},\n'
        '    "pod", "$1", "exported_pod", "(.+)"), "namespace", "$1", "exported_namespace", "(.+)")\n'
        "  or\n"
        '  %s{exported_pod="", pod!=""%s%s}\n' % (metric, exp_ns, guard, metric, pod_ns, guard))


def gpu(metric, sel_info, ns='=~"$namespace"', guard=""):
    """A dcgm-exporter series on the workload's pods (gpu_series), joined on
    (namespace, pod) with infermon_pod_info, deduplicated first (a pod
    serving several models has one pod_info row per model). ns, guard: as
    gpu_series; guard is appended to pod_info's selector too."""
    sel_info = ", ".join(x for x in (sel_info, guard.lstrip(", ")) if x)
    info = "infermon_pod_info{%s}" % sel_info if sel_info else "infermon_pod_info"
    return (
        "(\n%s)\n"
        "* on (namespace, pod) group_left (workload_name)\n"
        "  max by (namespace, pod, workload_name) (%s)" % (gpu_series(metric, ns, guard), info))


def gpu_count_by(by_, sel_info, ns='=~"$namespace"', guard=""):
    """GPUs per by_ (labels of infermon_pod_info), from dcgm-exporter. ns,
    guard: as gpu_series."""
    per_pod = "count by (namespace, pod) (\n%s)" % gpu_series("DCGM_FI_DEV_GPU_UTIL", ns, guard)
    inner = ["namespace", "pod"] + [l for l in by_ if l not in ("namespace", "pod")]
    info = "infermon_pod_info{%s}" % sel_info if sel_info else "infermon_pod_info"
    return ("sum by (%s) (\n%s\n* on (namespace, pod) group_right\n"
            "  max by (%s) (%s)\n)" % (by(by_), per_pod, by(inner), info))


# ---------------------------------------------------------------------------
# Recording rules (deploy/prometheus/dashboard_rules.yaml)
#
# At fleet scale the histogram panels are slow (hack/dashboard-bench.sh,
# docs/dashboard.md): they read every bucket of every pod. The rules record
# the same quantities once per evaluation, fleet-wide, keeping the labels the
# variables filter on; the panels read the recording first and fall back to
# the raw query:
#
#     <recorded query>  or  <raw query, every selector guarded>
#
# PromQL evaluates both sides of `or`, so an unguarded raw side would cost
# what it costs without rules. The guard is a matcher on a label no series
# has, infermon_rules=~".{${rules}0}": the hidden variable `rules` is 1 when
# the rules' marker series is there (".{10}" needs ten characters: the raw
# selectors match nothing, for nothing), else it has no value (".{0}"
# matches the missing label: the raw query runs as before).

RULE_WINDOW = "2m"  # 4 x the controller's and engines' 30 s scrape interval
RULES_MARKER = "infermon:dashboard_rules_loaded"
GUARD = ', infermon_rules=~".{${rules}0}"'
# What the rules read: every pod of every workload, TP rank 0; the
# model-level recordings leave prefill pods out as the model row does.
R_M = 'tp_rank=~"|0", role!="prefill"'
R_P = 'tp_rank=~"|0"'
WL = ["namespace", "workload_name", "model_name", "backend"]
POD = ["namespace", "pod", "workload_name", "model_name", "backend", "role"]
# The recordings' selectors: the variables the raw query filters on.
REC_M = INFO
REC_P = INFO_POD

RULES = []


def record(name, expr):
    if name not in [r[0] for r in RULES]:
        RULES.append((name, expr))
    return name


def fixed_window(fn):
    """fn() with rate() over RULE_WINDOW instead of $__rate_interval."""
    global RI
    saved, RI = RI, RULE_WINDOW
    try:
        return fn()
    finally:
        RI = saved


def rec_workload_hist(metric, alts_fn, suffixes):
    """Per workload and model: the rates of one histogram's series named by
    suffixes (bucket, sum, count), renames resolved per pod first. Returns
    the name stem."""
    stem = "infermon_workload:%s" % metric
    inner = ["namespace", "pod"] + WL[1:]
    for suffix in suffixes:
        extra = ["le"] if suffix == "bucket" else []
        record("%s_%s:rate%s" % (stem, suffix, RULE_WINDOW), fixed_window(lambda: "sum by (%s) (\n%s\n)" % (
            by(WL + extra), pref(*alts_fn(R_M)(inner + extra, suffix)))))
    return stem


def rec_pod_p95(metric, alts_fn):
    return record("infermon_pod:%s:p95_rate%s" % (metric, RULE_WINDOW),
                  fixed_window(lambda: quantile("0.95", POD, alts_fn(R_P))))


def rec_pod_avg(metric, alts_fn):
    return record("infermon_pod:%s:avg_rate%s" % (metric, RULE_WINDOW),
                  fixed_window(lambda: mean(POD, alts_fn(R_P))))


def vllm_hist(metric):
    """alts_fn of a vLLM-only histogram."""
    return lambda sel: hist("vllm:" + metric, sel)


def vllm_len(kind):
    return vllm_hist("request_%s_tokens" % kind)


# Every fallback query -> (recorded side, raw side): the test that each
# recording equals its raw query (test/dashboard/rulecheck.py) reads them.
FALLBACKS = {}


def fallback(recorded, raw):
    expr = "(%s)\n or\n(%s)" % (recorded, raw)
    FALLBACKS[expr] = (recorded, raw)
    return expr


def wl_quantile(q, metric, alts_fn, sel_raw):
    """Model-level quantile: the workload recording, else raw."""
    stem = rec_workload_hist(metric, alts_fn, ["bucket"])
    return fallback("histogram_quantile(%s, sum by (model_name, le) (%s_bucket:rate%s{%s}))" % (
        q, stem, RULE_WINDOW, REC_M), quantile(q, ["model_name"], alts_fn(sel_raw + GUARD)))


def wl_mean(metric, alts_fn, sel_raw):
    stem = rec_workload_hist(metric, alts_fn, ["sum", "count"])
    return fallback("sum by (model_name) (%s_sum:rate%s{%s})\n/\nsum by (model_name) (%s_count:rate%s{%s})" % (
        stem, RULE_WINDOW, REC_M, stem, RULE_WINDOW, REC_M), mean(["model_name"], alts_fn(sel_raw + GUARD)))


def pod_p95(metric, alts_fn, sel_raw):
    """Per pod p95: the pod recording (max over a pod's models), else raw."""
    return fallback("max by (namespace, pod) (%s{%s})" % (rec_pod_p95(metric, alts_fn), REC_P),
                    quantile("0.95", ["namespace", "pod"], alts_fn(sel_raw + GUARD)))


def pod_avg(metric, alts_fn, sel_raw):
    return fallback("max by (namespace, pod) (%s{%s})" % (rec_pod_avg(metric, alts_fn), REC_P),
                    mean(["namespace", "pod"], alts_fn(sel_raw + GUARD)))


def rec_workload_rate(metric, regex, sel=R_M, extra=(), keep=""):
    """Per workload and model: sum of rate(<regex>), by extra labels too;
    keep: a label_replace() around the rate, as "...%s..." of it."""
    return record("infermon_workload:%s:rate%s" % (metric, RULE_WINDOW), fixed_window(
        lambda: "sum by (%s) (%s)" % (by(WL + list(extra)), (keep or "%s") % rate(series(regex, sel)))))


def rec_gpus():
    """GPUs per workload and model (dcgm-exporter through infermon_pod_info,
    every role)."""
    return record("infermon_workload:dcgm_gpus:count", gpu_count_by(WL, "", ns=None))


# vllm:request_success_total's reason: llm-d-inference-sim's label
# finish_reason copied into finished_reason.
FINISHED_REASON = 'label_replace(%s,\n    "finished_reason", "$1", "finish_reason", "(.+)")'
SUCCESS = "vllm:request_success_total"


def success_rate():
    """Request success rate per model: the workload recording by reason."""
    rec = rec_workload_rate("request_success_total", SUCCESS, extra=["finished_reason"], keep=FINISHED_REASON)
    return fallback(
        'sum by (model_name) (%s{%s, finished_reason!~"abort|error"})\n/\nsum by (model_name) (%s{%s})' % (
            rec, REC_M, rec, REC_M),
        "sum by (model_name) (rate(vllm:request_success_total{%s, finished_reason!~\"abort|error\", finish_reason!~\"abort|error\"}[%s]))\n/\n"
        "sum by (model_name) (rate(vllm:request_success_total{%s}[%s]))" % (M + GUARD, RI, M + GUARD, RI))


def wl_tokens(kind, sel_raw):
    """Tokens per second per model."""
    rec = rec_workload_rate("%s_tokens_total" % kind, ENG + kind + "_tokens_total")
    return rec, fallback("sum by (model_name) (%s{%s})" % (rec, REC_M),
                         tokens(kind, ["model_name"], sel_raw + GUARD))


def wl_tokens_per_gpu(kind, sel_raw):
    rec = rec_workload_rate("%s_tokens_total" % kind, ENG + kind + "_tokens_total")
    return fallback("sum by (model_name) (%s{%s})\n/\nsum by (model_name) (%s{%s})" % (
        rec, REC_M, rec_gpus(), REC_M),
        "%s\n/\n%s" % (tokens(kind, ["model_name"], sel_raw + GUARD),
                       gpu_count_by(["model_name"], INFO + GUARD, guard=GUARD)))


def wl_length_mean(kind, sel_raw):
    """Average prompt/generation length per model: vLLM's histogram, else
    SGLang's tokens per finished request (the first per model, as raw)."""
    stem = rec_workload_hist("request_%s_tokens" % kind, vllm_len(kind), ["sum", "count"])
    sg_tokens = rec_workload_rate("sglang_%s_tokens_total" % kind, "sglang[:_]%s_tokens_total" % kind)
    sg_count = rec_workload_rate("sglang_e2e_request_latency_seconds_count",
                                 "sglang[:_]e2e_request_latency_seconds_count")
    w = RULE_WINDOW
    return fallback(
        "sum by (model_name) (%s_sum:rate%s{%s})\n/\nsum by (model_name) (%s_count:rate%s{%s})\n or\n"
        "sum by (model_name) (%s{%s})\n/\nsum by (model_name) (%s{%s})" % (
            stem, w, REC_M, stem, w, REC_M, sg_tokens, REC_M, sg_count, REC_M),
        length_mean(kind, ["model_name"], sel_raw + GUARD))


def wl_prefix_hit_ratio(sel_raw):
    """Prefix cache hit ratio per model, every role: hits and queries per
    workload under either name, and the hit-rate gauges' sum and count (for
    their average), the first present per model as in the raw query."""
    rr = []
    for c in ("prefix_cache_hits_total", "prefix_cache_queries_total",
              "gpu_prefix_cache_hits_total", "gpu_prefix_cache_queries_total"):
        rr.append(rec_workload_rate(c, "vllm:" + c, sel=R_P))
    gauges = "vllm:gpu_prefix_cache_hit_rate|sglang[:_]cache_hit_rate"
    for op in ("sum", "count"):
        rr.append(record("infermon_workload:prefix_cache_hit_rate:%s" % op,
                         "%s by (%s) (%s)" % (op, by(WL), names(gauges, R_P))))
    ratio = "sum by (model_name) (%s{%s})\n/\nsum by (model_name) (%s{%s})"
    return fallback(pref(*(ratio % (rr[i], REC_M, rr[i + 1], REC_M) for i in (0, 2, 4))),
                    prefix_hit_ratio(["model_name"], sel_raw + GUARD))


def pod_prefix_hit_ratio(sel_raw):
    """Prefix cache hit ratio per pod: the pod recording (max over a pod's
    models), else raw."""
    rec = record("infermon_pod:prefix_cache_hit:ratio_rate%s" % RULE_WINDOW,
                 fixed_window(lambda: prefix_hit_ratio(POD, R_P)))
    return fallback("max by (namespace, pod) (%s{%s})" % (rec, REC_P),
                    prefix_hit_ratio(["namespace", "pod"], sel_raw + GUARD))


def pod_gpu(metric, sel_raw):
    """A dcgm-exporter series per GPU of the selected pods: the recording
    (the GPU series joined with its pod's workload), else raw. The recording
    filters by namespace, workload and pod only: the pod variable carries
    the model, backend and role choice (it lists the pods that match them)."""
    rec = record("infermon_pod:%s:per_gpu" % metric, gpu(metric, "", ns=None))
    return fallback("%s{%s}" % (rec, IM), gpu(metric, sel_raw, guard=GUARD))


def kv_transfer_p95_expr(by_, sel):
    """p95 of the prefill->decode KV transfer: vLLM's NIXL histogram, else
    SGLang's (milliseconds)."""
    b = by(by_ + ["le"])
    return ("histogram_quantile(0.95, sum by (%s) (%s))\n or\n"
            "histogram_quantile(0.95, sum by (%s) (%s)) / 1000" % (
                b, rate("vllm:nixl_xfer_time_seconds_bucket{%s}" % sel),
                b, rate(names("sglang[:_]kv_transfer_latency_ms_bucket", sel))))


def kv_transfer_p95(sel_raw):
    """Per pod: the pod recording (max over a pod's models), else raw."""
    rec = record("infermon_pod:kv_transfer_latency_seconds:p95_rate%s" % RULE_WINDOW,
                 fixed_window(lambda: kv_transfer_p95_expr(POD, R_P)))
    return fallback("max by (namespace, pod, role) (%s{%s})" % (rec, REC_P),
                    kv_transfer_p95_expr(["namespace", "pod", "role"], sel_raw + GUARD))


def rules_yaml():
    """The PrometheusRule deploy/prometheus/dashboard_rules.yaml."""
    out = [
        "# Recording rules of the LLM inference dashboard (dashboards/llm-inference.json),",
        "# written by dashboards/generate.py: edit that, not this. Fleet-wide: one",
        "# copy per Prometheus, whatever the workloads. Without them every panel",
        "# still works (it falls back to the raw query); with them the histogram",
        "# panels read one recorded series per workload or pod instead of every",
        "# bucket of every pod (docs/dashboard.md, \"At fleet scale\").",
        "# A prometheus-operator Prometheus loads it when its ruleSelector matches",
        "# these labels: add yours (kube-prometheus-stack: release: <name>).",
        "apiVersion: monitoring.coreos.com/v1",
        "kind: PrometheusRule",
        "metadata:",
        "  name: infermon-dashboard",
        "  namespace: infermon-system",
        "  labels:",
        "    app.kubernetes.io/name: infermon",
        "    app.kubernetes.io/part-of: infermon",
        "spec:",
        "  groups:",
        "  - name: infermon-dashboard",
        "    interval: 30s",
        "    rules:",
        "    # the dashboard's hidden `rules` variable reads this to skip the raw queries",
        "    - record: %s" % RULES_MARKER,
        "      expr: vector(1)",
    ]
    for name, expr in RULES:
        out.append("    - record: %s" % name)
        out.append("      expr: |-")
        out.extend("        " + line for line in expr.split("\n"))
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------------------
# Panels


class Board:
    def __init__(self):
        self.panels = []
        self.claims = []
        self.next_id = 1
        self.y = 0
        self.x = 0
        self.row_h = 0

    def row(self, title):
        if self.x:
            self.y += self.row_h
            self.x = 0
        self.panels.append({"collapsed": False, "gridPos": {"h": 1, "w": 24, "x": 0, "y": self.y},
                            "id": self.next_id, "panels": [], "title": title, "type": "row"})
        self.next_id += 1
        self.y += 1
        self.row_h = 0

    def place(self, w, h):
        if self.x + w > 24:
            self.y += self.row_h
            self.x = 0
            self.row_h = 0
        pos = {"h": h, "w": w, "x": self.x, "y": self.y}
        self.x += w
        self.row_h = max(self.row_h, h)
        return pos

    def panel(self, kind, title, description, targets, unit="short", w=8, h=8,
              engines="all", extra=None, require=None, note=None, minimum=0):
        """targets: [(legend, expr, variants, opts)] — variants: the engine
        variants the query must return data for; opts["require"], not a
        Grafana field, is what that query's result must contain, as
        require for the panel. require: {variant: {label: [values]}} the
        panel's results together must also contain. minimum: the y axis'
        lower end (None: from the data)."""
        pid = self.next_id
        self.next_id += 1
        scope = note
        note = ENGINE_NOTE.get(engines, engines)
        p = {
            "datasource": DS,
            "description": description.strip() + ("\n\n" + scope if scope else "") + "\n\n" + note,
            "gridPos": self.place(w, h),
            "id": pid,
            "targets": [],
            "title": title,
            "type": kind,
        }
        refs = "ABCDEFGHIJ"
        claim = {"id": pid, "title": title, "type": kind, "targets": []}
        for i, t in enumerate(targets):
            legend, expr, variants = t[0], t[1], t[2]
            opts = dict(t[3]) if len(t) > 3 else {}
            t_require = opts.pop("require", None)
            tgt = {"datasource": DS, "editorMode": "code", "expr": expr,
                   "legendFormat": legend, "range": True, "refId": refs[i]}
            tgt.update(opts)
            p["targets"].append(tgt)
            claim["targets"].append({"refId": refs[i], "legend": legend, "expr": expr,
                                     "variants": variants})
            if t_require:
                claim["targets"][-1]["require"] = t_require
        if require:
            claim["require"] = require
        if kind == "timeseries":
            p["fieldConfig"] = {"defaults": {
                "custom": {"drawStyle": "line", "lineWidth": 1, "fillOpacity": 10,
                           "showPoints": "never", "spanNulls": False},
                "unit": unit}, "overrides": []}
            if minimum is not None:
                p["fieldConfig"]["defaults"]["min"] = minimum
            p["options"] = {"legend": {"calcs": ["mean", "max", "lastNotNull"],
                                       "displayMode": "table", "placement": "bottom",
                                       "showLegend": True},
                            "tooltip": {"mode": "multi", "sort": "desc"}}
        elif kind == "heatmap":
            p["fieldConfig"] = {"defaults": {"custom": {"hideFrom": {"legend": False,
                                                                    "tooltip": False,
                                                                    "viz": False},
                                                        "scaleDistribution": {"type": "linear"}}},
                                "overrides": []}
            p["options"] = {"calculate": False, "cellGap": 1,
                            "color": {"mode": "scheme", "scheme": "Spectral", "steps": 64,
                                      "exponent": 0.5, "fill": "dark-orange",
                                      "scale": "exponential", "reverse": False},
                            "yAxis": {"axisPlacement": "left", "unit": unit, "reverse": False},
                            "rowsFrame": {"layout": "auto"},
                            "legend": {"show": True},
                            "tooltip": {"mode": "single", "yHistogram": False,
                                        "showColorScale": False},
                            "exemplars": {"color": "rgba(255,0,255,0.7)"},
                            "filterValues": {"le": 1e-9},
                            "cellValues": {"unit": "reqps"}}
            for tgt in p["targets"]:
                tgt["format"] = "heatmap"
        if extra:
            for k, v in extra.items():
                p[k] = v
        self.panels.append(p)
        self.claims.append(claim)
        return p


REQUESTS_ONCE = ("Counted once per request: on every pod but the prefill pods of "
                 "prefill/decode pairs (the decode pod sees the whole request). The Role "
                 "and Pod variables do not apply to this row.")


def model_row(b):
    by_m = ["model_name"]
    b.row("Model level")
    panel = b.panel

    def mpanel(*a, **kw):
        kw.setdefault("note", REQUESTS_ONCE)
        return panel(*a, **kw)
    b.panel = mpanel
    b.panel("timeseries", "QPS",
            "Finished requests per second per model (count of the end-to-end latency "
            "histogram: vLLM and SGLang both export it).",
            [("{{model_name}}", fallback(
                "sum by (model_name) (%s_count:rate%s{%s})" % (
                    rec_workload_hist("e2e_request_latency_seconds", e2e, ["count"]), RULE_WINDOW, REC_M),
                "sum by (model_name) (%s)" % rate(names(ENG + "e2e_request_latency_seconds_count", M + GUARD))), ALL)],
            unit="reqps")
    b.panel("timeseries", "Request success rate",
            "Share of finished requests that ended normally (stop or length), not "
            "aborted or failed, from vllm:request_success_total (label finished_reason; "
            "llm-d-inference-sim spells it finish_reason; both are read).",
            [("{{model_name}}", success_rate(), VLLM)],
            unit="percentunit", engines="vllm")
    b.panel("timeseries", "E2E latency",
            "End-to-end request latency per model: average and quantiles of the engine's histogram.",
            [("{{model_name}} avg", wl_mean("e2e_request_latency_seconds", e2e, M), ALL)] +
            [("{{model_name}} p%s" % q[2:], wl_quantile(q, "e2e_request_latency_seconds", e2e, M), ALL)
             for q in ("0.50", "0.95", "0.99")],
            unit="s")
    b.panel("timeseries", "Token throughput",
            "Prompt (input) and generated (output) tokens per second per model.",
            [("{{model_name}} input", wl_tokens("prompt", M)[1], ALL),
             ("{{model_name}} output", wl_tokens("generation", M)[1], ALL)],
            unit="short")
    b.panel("timeseries", "Token throughput per GPU",
            "Tokens per second per model divided by the GPUs dcgm-exporter reports for all "
            "the model's pods, prefill pods included (joined through infermon_pod_info; "
            "exported_pod or pod). No data without dcgm-exporter.",
            [("{{model_name}} input / GPU", wl_tokens_per_gpu("prompt", M), ALL),
             ("{{model_name}} output / GPU", wl_tokens_per_gpu("generation", M), ALL)],
            unit="short")
    b.panel("timeseries", "Prompt length",
            "Prompt tokens per request. Average: vLLM's request_prompt_tokens histogram, "
            "SGLang's prompt tokens per finished request. Quantiles need the histogram: vLLM only.",
            [("{{model_name}} avg", wl_length_mean("prompt", M), ALL)] +
            [("{{model_name}} p%s" % q[2:], wl_quantile(q, "request_prompt_tokens", vllm_len("prompt"), M), VLLM)
             for q in ("0.50", "0.95", "0.99")],
            unit="short", engines="Average: all engines. Quantiles: vLLM only (SGLang has no prompt-length histogram).")
    b.panel("timeseries", "Generation length",
            "Generated tokens per request. Average: vLLM's request_generation_tokens histogram, "
            "SGLang's generated tokens per finished request. Quantiles: vLLM only.",
            [("{{model_name}} avg", wl_length_mean("generation", M), ALL)] +
            [("{{model_name}} p%s" % q[2:], wl_quantile(q, "request_generation_tokens", vllm_len("generation"), M), VLLM)
             for q in ("0.50", "0.95", "0.99")],
            unit="short", engines="Average: all engines. Quantiles: vLLM only (SGLang has no generation-length histogram).")
    b.panel("timeseries", "TTFT",
            "Time to first token per model: average and quantiles.",
            [("{{model_name}} avg", wl_mean("time_to_first_token_seconds", ttft, M), ALL)] +
            [("{{model_name}} p%s" % q[2:], wl_quantile(q, "time_to_first_token_seconds", ttft, M), ALL)
             for q in ("0.50", "0.95", "0.99")],
            unit="s")
    b.panel("timeseries", "TPOT",
            "Time per output token (inter-token latency) per model: average and quantiles. "
            "Reads inter_token_latency_seconds, else the older time_per_output_token_seconds, per pod.",
            [("{{model_name}} avg", wl_mean("inter_token_latency_seconds", tpot, M), ALL)] +
            [("{{model_name}} p%s" % q[2:], wl_quantile(q, "inter_token_latency_seconds", tpot, M), ALL)
             for q in ("0.50", "0.95", "0.99")],
            unit="s")
    b.panel("timeseries", "KV cache hit ratio",
            "Prefix cache hits over queries: vLLM prefix_cache_* (tokens), older "
            "gpu_prefix_cache_* (blocks), V0's gpu_prefix_cache_hit_rate; SGLang cache_hit_rate. "
            "llm-d-inference-sim exports none of them.",
            [("{{model_name}}", wl_prefix_hit_ratio(M_ALL), PREFIX_CACHE)],
            unit="percentunit",
            note="Every role, prefill pods included (prompts are computed and cached there). "
                 "The Role and Pod variables do not apply to this row.")
    b.panel("heatmap", "Prompt length distribution",
            "Requests per second by prompt length bucket (vllm:request_prompt_tokens).",
            [("{{le}}", fallback(
                "sum by (le) (%s_bucket:rate%s{%s})" % (
                    rec_workload_hist("request_prompt_tokens", vllm_len("prompt"), ["bucket"]), RULE_WINDOW, REC_M),
                "sum by (le) (%s)" % rate("vllm:request_prompt_tokens_bucket{%s}" % (M + GUARD))), VLLM)],
            unit="short", w=12, engines="vllm")
    b.panel("heatmap", "Generation length distribution",
            "Requests per second by generated length bucket (vllm:request_generation_tokens).",
            [("{{le}}", fallback(
                "sum by (le) (%s_bucket:rate%s{%s})" % (
                    rec_workload_hist("request_generation_tokens", vllm_len("generation"), ["bucket"]), RULE_WINDOW, REC_M),
                "sum by (le) (%s)" % rate("vllm:request_generation_tokens_bucket{%s}" % (M + GUARD))), VLLM)],
            unit="short", w=12, engines="vllm")
    b.panel = panel


def pod_row(b):
    by_p = ["namespace", "pod"]
    b.row("Pod level")
    b.panel("timeseries", "E2E latency per pod",
            "End-to-end latency per pod: p95 and average.",
            [("{{pod}} p95", pod_p95("e2e_request_latency_seconds", e2e, P), ALL),
             ("{{pod}} avg", pod_avg("e2e_request_latency_seconds", e2e, P), ALL)], unit="s")
    b.panel("timeseries", "Token throughput per pod",
            "Prompt (input) and generated (output) tokens per second per pod.",
            [("{{pod}} input", tokens("prompt", by_p, P), ALL),
             ("{{pod}} output", tokens("generation", by_p, P), ALL)], unit="short")
    b.panel("timeseries", "TTFT per pod",
            "Time to first token per pod: p95 and average.",
            [("{{pod}} p95", pod_p95("time_to_first_token_seconds", ttft, P), ALL),
             ("{{pod}} avg", pod_avg("time_to_first_token_seconds", ttft, P), ALL)], unit="s")
    b.panel("timeseries", "TPOT per pod",
            "Time per output token per pod: p95 and average (inter_token_latency_seconds, "
            "else time_per_output_token_seconds).",
            [("{{pod}} p95", pod_p95("inter_token_latency_seconds", tpot, P), ALL),
             ("{{pod}} avg", pod_avg("inter_token_latency_seconds", tpot, P), ALL)], unit="s")
    b.panel("timeseries", "KV cache utilisation",
            "KV cache usage 0..1 per pod, the fullest engine / DP rank: vllm:kv_cache_usage_perc, "
            "else vllm:gpu_cache_usage_perc; SGLang token_usage.",
            [("{{pod}}", kv_usage(by_p, P), ALL)], unit="percentunit")
    b.panel("timeseries", "Preemptions",
            "Preemptions per second (vllm:num_preemptions_total) and SGLang retractions "
            "(num_retracted_requests_total); older SGLang only has the gauge of retracted "
            "requests, shown as a count. llm-d-inference-sim exports no preemption metric.",
            [("{{pod}} preemptions/s",
              "sum by (namespace, pod) (%s)" % rate(names("vllm:num_preemptions_total|sglang[:_]num_retracted_requests_total", P)),
              PREEMPT_COUNTER),
             ("{{pod}} retracted (gauge)",
              "sum by (namespace, pod) (%s)" % names("sglang[:_]num_retracted_reqs", P), ["sglang_"])],
            unit="short", engines="vLLM (not llm-d-inference-sim) and SGLang.")
    b.panel("timeseries", "Scheduler state",
            "Requests running and waiting per pod (summed over vLLM engines / SGLang DP ranks), "
            "and swapped to CPU (vLLM V0 only).",
            [("{{pod}} running", running(by_p, P), ALL),
             ("{{pod}} waiting", waiting(by_p, P), ALL),
             ("{{pod}} swapped", "sum by (namespace, pod) (vllm:num_requests_swapped{%s})" % P, ["vllm-v0"])],
            unit="short", engines="Running and waiting: all engines. Swapped: vLLM V0 only.")
    b.panel("timeseries", "Finish reason",
            "Finished requests per second by reason (stop, length, abort, …) from "
            "vllm:request_success_total; the label is finished_reason (finish_reason in "
            "llm-d-inference-sim).",
            [("{{pod}} {{finished_reason}}",
              "sum by (namespace, pod, finished_reason) (\n"
              "  label_replace(rate(vllm:request_success_total{%s}[%s]),\n"
              '    "finished_reason", "$1", "finish_reason", "(.+)")\n)' % (P, RI), VLLM)],
            unit="reqps", engines="vllm")
    b.panel("timeseries", "Queue time",
            "Time requests spend waiting before they run: p95 and average "
            "(vllm:request_queue_time_seconds).",
            [("{{pod}} p95", pod_p95("request_queue_time_seconds", vllm_hist("request_queue_time_seconds"), P), QUEUE_TIME),
             ("{{pod}} avg", pod_avg("request_queue_time_seconds", vllm_hist("request_queue_time_seconds"), P), QUEUE_TIME)],
            unit="s", engines="vllm")
    b.panel("timeseries", "Prefill and decode time",
            "Average time per request in prefill and in decode (vllm:request_prefill_time_seconds, "
            "vllm:request_decode_time_seconds).",
            [("{{pod}} prefill", pod_avg("request_prefill_time_seconds", vllm_hist("request_prefill_time_seconds"), P), PHASES),
             ("{{pod}} decode", pod_avg("request_decode_time_seconds", vllm_hist("request_decode_time_seconds"), P), PHASES)],
            unit="s", engines="vllm")
    b.panel("timeseries", "KV cache hit ratio per pod",
            "Prefix cache hits over queries per pod (see the model-level panel for the series read).",
            [("{{pod}}", pod_prefix_hit_ratio(P), PREFIX_CACHE)], unit="percentunit")

    # Live limits, from the controller.
    b.panel("timeseries", "Running vs live max-num-seqs",
            "Running requests next to the limit the engine really runs with: "
            "infermon_engine_max_num_seqs (SGLang: effective max running requests × dp_size), "
            "legend shows where infermon read it (server_info, vllm_config_info, pod_args, "
            "get_server_info, observed, default_assumed); and the KV-derived concurrency "
            "(worst-case sequences the KV cache holds). Nothing here is typed in: restart the "
            "engine with another limit and the line moves.",
            [("{{pod}} running", running(by_p, P), ALL),
             ("{{pod}} max-num-seqs ({{source}})",
              "max by (namespace, pod, source) (infermon_engine_max_num_seqs{%s})" % IM, ALL),
             ("{{pod}} KV-derived concurrency ({{source}})",
              "max by (namespace, pod, source) (infermon_engine_kv_max_concurrency{%s})" % IM, ALL)],
            unit="short", w=12)
    b.panel("timeseries", "KV usage vs capacity",
            "KV cache usage next to capacity: running requests and the live max-num-seqs as "
            "fractions of the KV-derived concurrency (infermon_engine_kv_max_concurrency). A "
            "limit far below 100% of it while KV usage is low is an admission bound, not a "
            "memory bound.",
            [("{{pod}} KV cache usage", kv_usage(by_p, P), ALL),
             ("{{pod}} running / KV-derived concurrency",
              "%s\n/ on (namespace, pod)\nmax by (namespace, pod) (infermon_engine_kv_max_concurrency{%s})" % (running(by_p, P), IM), ALL),
             ("{{pod}} max-num-seqs / KV-derived concurrency",
              "max by (namespace, pod) (infermon_engine_max_num_seqs{%s})\n/ on (namespace, pod)\n"
              "max by (namespace, pod) (infermon_engine_kv_max_concurrency{%s})" % (IM, IM), ALL)],
            unit="percentunit", w=12)
    b.panel("timeseries", "Saturation and limit drift",
            "infermon_engine_saturation_ratio: running over the live max-num-seqs (1 = at the "
            "limit). infermon_engine_limit_drift_ratio: (max-num-seqs − KV-derived concurrency) / "
            "KV-derived concurrency; negative = limit below what the KV cache holds.",
            [("{{pod}} saturation", "max by (namespace, pod) (infermon_engine_saturation_ratio{%s})" % IM, ALL),
             ("{{pod}} limit drift", "max by (namespace, pod) (infermon_engine_limit_drift_ratio{%s})" % IM, ALL)],
            unit="percentunit")
    b.panel("stat", "Checks",
            "infermon's verdicts per pod (infermon_check_active): LimitDrift, AdmissionBound, "
            "Saturated, KVCachePressure, Preempting, MetricsMissing, ScrapeFailed. ACTIVE while "
            "the check holds.",
            [("{{pod}} {{check}}", "max by (namespace, pod, check) (infermon_check_active{%s})" % IM, ALL,
              {"instant": True, "range": False})],
            extra={
                "fieldConfig": {"defaults": {
                    "mappings": [{"type": "value", "options": {
                        "0": {"text": "clear", "color": "green", "index": 0},
                        "1": {"text": "ACTIVE", "color": "red", "index": 1}}}],
                    "color": {"mode": "thresholds"},
                    "thresholds": {"mode": "absolute", "steps": [{"color": "green", "value": None},
                                                                 {"color": "red", "value": 1}]},
                    "unit": "bool"}, "overrides": []},
                "options": {"colorMode": "background", "graphMode": "none", "justifyMode": "auto",
                            "orientation": "horizontal", "textMode": "value_and_name",
                            "wideLayout": True, "showPercentChange": False,
                            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False}}})
    b.panel("table", "Live limits",
            "The limits infermon reads from the live engine or the running pod, with their "
            "source: max-num-seqs, KV-derived concurrency, max model length.",
            [("max-num-seqs",
              'max by (namespace, pod, max_num_seqs_source) (label_replace(infermon_engine_max_num_seqs{%s}, '
              '"max_num_seqs_source", "$1", "source", "(.*)"))' % IM, ALL,
              {"instant": True, "range": False, "format": "table"}),
             ("KV-derived concurrency",
              'max by (namespace, pod, kv_concurrency_source) (label_replace(infermon_engine_kv_max_concurrency{%s}, '
              '"kv_concurrency_source", "$1", "source", "(.*)"))' % IM, ALL,
              {"instant": True, "range": False, "format": "table"}),
             ("max model len",
              'max by (namespace, pod, max_model_len_source) (label_replace(infermon_engine_max_model_len{%s}, '
              '"max_model_len_source", "$1", "source", "(.*)"))' % IM, ALL,
              {"instant": True, "range": False, "format": "table"})],
            unit="short", w=8,
            extra={
                "fieldConfig": {"defaults": {"unit": "short", "custom": {"align": "auto"}},
                                "overrides": [
                                    {"matcher": {"id": "byName", "options": "Value #A"},
                                     "properties": [{"id": "displayName", "value": "max-num-seqs"}]},
                                    {"matcher": {"id": "byName", "options": "Value #B"},
                                     "properties": [{"id": "displayName", "value": "KV-derived concurrency"},
                                                    {"id": "decimals", "value": 2}]},
                                    {"matcher": {"id": "byName", "options": "Value #C"},
                                     "properties": [{"id": "displayName", "value": "max model len"}]}]},
                "options": {"showHeader": True, "cellHeight": "sm", "footer": {"show": False}},
                "transformations": [{"id": "merge", "options": {}},
                                    {"id": "organize", "options": {"excludeByName": {"Time": True}}}]})

    # Prefill/decode.
    b.panel("timeseries", "Prefill vs decode queues",
            "Waiting requests on prefill and on decode pods; SGLang's disaggregation queues "
            "(prefill bootstrap/inflight, decode prealloc/transfer); vLLM NIXL sends pending. "
            "Only pods of the -pd backends (role prefill or decode).",
            [("{{pod}} ({{role}}) waiting",
              'sum by (namespace, pod, role) (%s)' % names("vllm:num_requests_waiting|sglang[:_]num_queue_reqs", P + ', role=~"prefill|decode"'),
              ["vllm-pd", "sglang-pd"]),
             ("{{pod}} ({{role}}) {{queue}}",
              "sum by (namespace, pod, role, queue) (\n  label_replace(%s,\n"
              '    "queue", "$1", "__name__", "sglang[:_]num_(.+)_queue_reqs")\n)' %
              names("sglang[:_]num_(prefill_bootstrap|prefill_prealloc|prefill_inflight|decode_prealloc|decode_transfer)_queue_reqs", P),
              ["sglang-pd"]),
             ("{{pod}} ({{role}}) NIXL pending sends",
              "sum by (namespace, pod, role) (vllm:nixl_num_pending_sends{%s})" % P, ["vllm-pd"])],
            unit="short", engines="vllm-pd and sglang-pd only.",
            require={"vllm-pd": {"role": ["prefill", "decode"]}, "sglang-pd": {"role": ["prefill", "decode"]}})
    b.panel("timeseries", "KV transfer latency",
            "Prefill→decode KV cache transfer: p95 and average of vllm:nixl_xfer_time_seconds "
            "(vLLM with a NIXL kv-transfer config) or sglang:kv_transfer_latency_ms (in seconds here).",
            [("{{pod}} ({{role}}) p95", kv_transfer_p95(P), ["vllm-pd", "sglang-pd"]),
             ("{{pod}} ({{role}}) avg",
              "sum by (namespace, pod, role) (%s) / sum by (namespace, pod, role) (%s)\n or\n"
              "sum by (namespace, pod, role) (%s) / sum by (namespace, pod, role) (%s) / 1000" % (
                  rate("vllm:nixl_xfer_time_seconds_sum{%s}" % P),
                  rate("vllm:nixl_xfer_time_seconds_count{%s}" % P),
                  rate(names("sglang[:_]kv_transfer_latency_ms_sum", P)),
                  rate(names("sglang[:_]kv_transfer_latency_ms_count", P))),
              ["vllm-pd", "sglang-pd"])],
            unit="s", engines="vllm-pd (NIXL) and sglang-pd only.")
    b.panel("timeseries", "KV transfer failures",
            "Failed bootstraps and KV transfers per second (sglang:num_bootstrap_failed_reqs_total, "
            "sglang:num_transfer_failed_reqs_total). vLLM exports no transfer-failure counter.",
            [("{{pod}} (%s) %s failed" % ("{{role}}", kind),
              "sum by (namespace, pod, role) (%s)" % rate(names("sglang[:_]num_%s_failed_reqs_total" % kind, P)),
              ["sglang-pd"]) for kind in ("bootstrap", "transfer")],
            unit="reqps", engines="sglang-pd only.")


def gpu_row(b):
    b.row("GPU per pod")
    spec = [
        ("Tensor core active", "DCGM_FI_PROF_PIPE_TENSOR_ACTIVE", "percentunit",
         "Fraction of cycles the tensor pipes were active (DCGM_FI_PROF_PIPE_TENSOR_ACTIVE, 0..1)."),
        ("GPU utilisation", "DCGM_FI_DEV_GPU_UTIL", "percent",
         "Time a kernel was running (DCGM_FI_DEV_GPU_UTIL, %). Busy is not saturated: compare "
         "with tensor and SM activity."),
        ("SM active", "DCGM_FI_PROF_SM_ACTIVE", "percentunit",
         "Fraction of cycles at least one warp was resident on an SM (DCGM_FI_PROF_SM_ACTIVE, 0..1; "
         "not in dcgm-exporter's default counter set)."),
        ("Memory copy utilisation", "DCGM_FI_DEV_MEM_COPY_UTIL", "percent",
         "Memory controller busy time (DCGM_FI_DEV_MEM_COPY_UTIL, %)."),
        ("GPU memory used", "DCGM_FI_DEV_FB_USED", "mbytes",
         "Framebuffer memory used (DCGM_FI_DEV_FB_USED, MiB)."),
        ("DRAM active", "DCGM_FI_PROF_DRAM_ACTIVE", "percentunit",
         "Fraction of cycles the device memory interface was busy (DCGM_FI_PROF_DRAM_ACTIVE, 0..1)."),
    ]
    for title, metric, unit, desc in spec:
        b.panel("timeseries", title,
                desc + " Per GPU of the selected pods, from dcgm-exporter, joined through "
                "infermon_pod_info whether the exporter's labels arrive as pod/namespace or as "
                "exported_pod/exported_namespace.",
                [("{{pod}} GPU {{gpu}}", pod_gpu(metric, INFO_POD), ALL)], unit=unit,
                engines="All engines, wherever dcgm-exporter runs.")


# The SLO series: recordings of the workload's PrometheusRule (lib/render_slo.h)
# and the controller's infermon_slo_objective, by namespace and workload.
SLO = 'namespace=~"$namespace", workload_name=~"$workload_name"'
# Every objective's labels: sli, threshold (latency SLIs), target, window.
SLO_BY = ["namespace", "workload_name", "sli", "threshold", "target", "window"]
# The SLI's error-ratio windows the burn-rate alerts read.
ALERT_WINDOWS = "5m|30m|1h|2h|6h|1d|3d"
# Which SLIs each variant's workload has objectives for and data to meet
# them with (test/dashboard/scenario.py OBJECTIVES): availability reads
# vllm:request_success_total, which SGLang does not export.
SLO_SLIS = {v: ["ttft", "tpot", "availability"] for v in VLLM}
SLO_SLIS.update({v: ["ttft", "tpot"] for v in SGLANG})
SLO_NOTE = ("Needs the workload's PrometheusRule (infermon applies it when the "
            "InferenceWorkload has spec.slo.objectives) loaded by the Prometheus, whose "
            "ruleSelector must select it: without the recordings these panels are empty. "
            "The Model, Backend, Role and Pod variables do not apply to this row.")
SLO_ENGINES = ("Latency SLIs (ttft, tpot, e2e): all engines. Availability: vLLM only "
               "(SGLang exports no finished reasons).")


def slo_threshold(expr):
    """Rewrites the threshold label of latency SLIs to " ≤ 2.5s" for the
    legend (availability has none and keeps none)."""
    return 'label_replace(%s, "threshold", " ≤ ${1}s", "threshold", "(.+)")' % expr


def slo_row(b):
    b.row("Service level objectives")
    req = {v: {"sli": SLO_SLIS[v]} for v in ALL}
    b.panel("timeseries", "SLO attainment vs objective",
            "Share of requests that met the objective over its compliance window (1 − the "
            "window's error ratio, infermon:slo_sli_error:ratio_rate<window>, weighted by "
            "requests), next to the objective itself (infermon_slo_objective: the CR's "
            "target, exported by the controller). Attainment below the objective line means "
            "the error budget is spent. The window's sums start when the recordings start: "
            "a window younger than its length shows the requests seen so far.",
            [("{{workload_name}} {{sli}}{{threshold}} over {{window}}",
              slo_threshold('1 - {__name__=~"infermon:slo_sli_error:ratio_rate[0-9]+d", window!="", %s}' % SLO),
              ALL, {"require": req}),
             ("{{workload_name}} {{sli}}{{threshold}} objective {{target}}% over {{window}}",
              slo_threshold("max by (%s) (infermon_slo_objective{%s})" % (by(SLO_BY), SLO)),
              ALL, {"require": req})],
            unit="percentunit", w=12, minimum=None, note=SLO_NOTE, engines=SLO_ENGINES)
    b.panel("timeseries", "Error budget remaining",
            "Share of the error budget (100 − target percent of the window's requests) still "
            "unspent over the compliance window: infermon:slo_error_budget_remaining:ratio. "
            "1 = untouched, 0 = spent, negative = overspent.",
            [("{{workload_name}} {{sli}}{{threshold}} {{target}}% over {{window}}",
              slo_threshold("infermon:slo_error_budget_remaining:ratio{%s}" % SLO),
              ALL, {"require": req})],
            unit="percentunit", w=12, minimum=None, note=SLO_NOTE, engines=SLO_ENGINES)
    b.panel("timeseries", "Burn rate (1h)",
            "How fast the budget burns: the last hour's error ratio over the budget "
            "(infermon:slo_burn_rate:ratio_rate1h). 1 spends exactly the budget over the "
            "window. LLMErrorBudgetBurnPage fires at 2% of the budget in 1h: a 1h burn rate "
            "of 0.48 × the window in days (13.44 for 28d, 14.4 for 30d), confirmed over 5m; "
            "the other page and ticket conditions read the 6h, 1d and 3d ratios (SLI error "
            "ratio panel).",
            [("{{workload_name}} {{sli}}{{threshold}} {{target}}% over {{window}}",
              slo_threshold("infermon:slo_burn_rate:ratio_rate1h{%s}" % SLO),
              ALL, {"require": req})],
            unit="short", w=12, note=SLO_NOTE, engines=SLO_ENGINES)
    b.panel("timeseries", "SLI error ratio by alert window",
            "Share of requests that missed the SLI over each window the burn-rate alerts "
            "read (infermon:slo_sli_error:ratio_rate5m … _rate3d): the short windows show a "
            "burn starting and stopping, the long ones what the tickets judge.",
            [("{{workload_name}} {{sli}}{{threshold}} over {{over}}",
              'label_replace(%s, "over", "$1", "__name__", "infermon:slo_sli_error:ratio_rate(.+)")' %
              slo_threshold('{__name__=~"infermon:slo_sli_error:ratio_rate(%s)", %s}' % (ALERT_WINDOWS, SLO)),
              ALL, {"require": req})],
            unit="percentunit", w=12, note=SLO_NOTE, engines=SLO_ENGINES)


def variable(name, label, query, multi=False, include_all=False, all_value=None, hide=0):
    v = {
        "current": {},
        "datasource": DS,
        "definition": query,
        "hide": hide,
        "includeAll": include_all,
        "label": label,
        "multi": multi,
        "name": name,
        "options": [],
        "query": {"qryType": 1, "query": query, "refId": "PrometheusVariableQueryEditor-VariableQuery"},
        "refresh": 2,
        "regex": "",
        "skipUrlSync": False,
        "sort": 1,
        "type": "query",
    }
    if all_value is not None:
        v["allValue"] = all_value
    return v


def rules_variable():
    v = variable("rules", "Recording rules", "query_result(max(%s))" % RULES_MARKER, hide=2)
    v["query"]["qryType"] = 3  # query result
    v["regex"] = "/^\\{\\} (1) /"
    return v


def dashboard():
    b = Board()
    model_row(b)
    pod_row(b)
    gpu_row(b)
    slo_row(b)
    ns = 'namespace=~"$namespace"'
    wl = ns + ', workload_name=~"$workload_name"'
    templating = [
        {"current": {}, "hide": 0, "includeAll": False, "label": "Data source", "multi": False,
         "name": "datasource", "options": [], "query": "prometheus", "refresh": 1, "regex": "",
         "skipUrlSync": False, "type": "datasource"},
        variable("namespace", "Namespace", "label_values(infermon_pod_info, namespace)"),
        variable("workload_name", "Workload", "label_values(infermon_pod_info{%s}, workload_name)" % ns,
                 multi=True, include_all=True, all_value=".+"),
        variable("model_name", "Model", "label_values(infermon_pod_info{%s}, model_name)" % wl,
                 multi=True, include_all=True, all_value=".*"),
        variable("backend", "Backend", "label_values(infermon_pod_info{%s}, backend)" % wl,
                 multi=True, include_all=True, all_value=".*"),
        variable("role", "Role", 'label_values(infermon_pod_info{%s, model_name=~"$model_name", backend=~"$backend"}, role)' % wl,
                 multi=True, include_all=True, all_value=".*"),
        # No allValue: "All" expands to the listed pods, so the pod filter
        # carries the model/backend/role choice to infermon_* series.
        variable("pod", "Pod", "label_values(infermon_pod_info{%s}, pod)" % INFO_ROLE,
                 multi=True, include_all=True),
        # 1 when deploy/prometheus/dashboard_rules.yaml is evaluated, else no
        # value: the raw side of each fallback then runs (see GUARD).
        rules_variable(),
    ]
    for t in templating[2:-1]:
        t["current"] = {"selected": True, "text": ["All"], "value": ["$__all"]}
    d = {
        "annotations": {"list": [{
            "builtIn": 1, "datasource": {"type": "grafana", "uid": "-- Grafana --"},
            "enable": True, "hide": True, "iconColor": "rgba(0, 211, 255, 1)",
            "name": "Annotations & Alerts", "type": "dashboard"}]},
        "description": "LLM inference services (vLLM, SGLang, prefill/decode) observed by infermon: "
                       "model, pod and GPU views; every limit read live from the engine.",
        "editable": False,
        "fiscalYearStartMonth": 0,
        "graphTooltip": 1,
        "id": None,
        "links": [],
        "panels": b.panels,
        "refresh": "30s",
        "schemaVersion": 39,
        "tags": ["infermon", "llm", "vllm", "sglang"],
        "templating": {"list": templating},
        "time": {"from": "now-1h", "to": "now"},
        "timepicker": {},
        "timezone": "browser",
        "title": "LLM inference (infermon)",
        "uid": "infermon-llm-inference",
        "version": 1,
        "weekStart": "",
    }
    claims = {"variants": VARIANTS, "panels": b.claims}
    return d, claims


def render(obj):
    return json.dumps(obj, indent=2, ensure_ascii=False, sort_keys=False) + "\n"


def reviewed_claims(generated):
    """The claims file with each query's expr refreshed from the dashboard.

    Which engine variants a query must return data for is decided by a
    reviewer in test/dashboard/panel_claims.json, not by this script: a
    panel whose code here stops covering a variant must not quietly check
    less. So the variant lists are never written from here; any difference
    between what the code claims and what the file says is an error naming
    the query, to be settled by editing the file by hand."""
    try:
        with open(CLAIMS, encoding="utf-8") as f:
            have = json.load(f)
    except FileNotFoundError:
        sys.exit("%s is missing: it is written by hand (see docs/dashboard.md)"
                 % os.path.relpath(CLAIMS, ROOT))
    reviewed = {}
    for p in have.get("panels", []):
        for t in p["targets"]:
            reviewed[(p["title"], t["refId"])] = t["variants"]
    problems = []
    if have.get("variants") != generated["variants"]:
        problems.append("the variant list differs from VARIANTS")
    seen = set()
    for p in generated["panels"]:
        for t in p["targets"]:
            key = (p["title"], t["refId"])
            seen.add(key)
            if key not in reviewed:
                problems.append("%s %s: a new query; add its variants by hand" % key)
            elif sorted(reviewed[key]) != sorted(t["variants"]):
                lost = sorted(set(reviewed[key]) - set(t["variants"]))
                gained = sorted(set(t["variants"]) - set(reviewed[key]))
                problems.append("%s %s: the code claims %s%s%s, the reviewed file %s" % (
                    key[0], key[1], t["variants"],
                    "; loses " + ", ".join(lost) if lost else "",
                    "; gains " + ", ".join(gained) if gained else "",
                    reviewed[key]))
            else:
                t["variants"] = reviewed[key]
    for key in reviewed:
        if key not in seen:
            problems.append("%s %s: in the reviewed file, not in the dashboard" % key)
    if problems:
        sys.exit("%s and the dashboard disagree (edit the file by hand once the "
                 "change is reviewed):\n  " % os.path.relpath(CLAIMS, ROOT)
                 + "\n  ".join(problems))
    return generated


def main():
    check = sys.argv[1:] == ["--check"]
    if sys.argv[1:] and not check:
        sys.exit("usage: dashboards/generate.py [--check]")
    d, claims = dashboard()
    claims = reviewed_claims(claims)
    stale = []
    for path, text in ((DASHBOARD, render(d)), (CLAIMS, render(claims)), (RULES_FILE, rules_yaml())):
        if check:
            try:
                with open(path, encoding="utf-8") as f:
                    if f.read() != text:
                        stale.append(path)
            except FileNotFoundError:
                stale.append(path)
        else:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
    if stale:
        sys.exit("out of date (run dashboards/generate.py): " + ", ".join(
            os.path.relpath(p, ROOT) for p in stale))


if __name__ == "__main__":
    main()
