#!/usr/bin/env python3
"""The dashboard's recording rules (deploy/prometheus/dashboard_rules.yaml)
against the raw queries they stand for, in `promtool test rules`.

    rulecheck.py DIR [RULES_YAML]

writes DIR/rules.yml (the PrometheusRule's spec, RULES_YAML or the shipped
file) and DIR/rules.test.yml. For every dashboard query with a recorded
side (dashboards/generate.py's FALLBACKS: the expressions come from the
generator, not copied here), at two instants and for two selections of the
variables, the test asserts that:

- the recorded side and the raw side (`${rules}` empty, as without the
  rules) return the same label sets, values within 1e-9 relative, and no NaN;
- both return something fleet-wide (absent() of each is empty);
- the raw side guarded as with the rules loaded (`rules` = 1) selects nothing.

The input series cover every naming the raw queries read: vLLM >= 0.11
(with data-parallel `engine` 0 and 1), vLLM 0.8-0.10 (old names, and both
KV usage names), vLLM V0 (the prefix cache hit-rate gauge), llm-d-inference-sim's double TPOT export and its
`finish_reason` label, SGLang under `sglang:` and `sglang_` with TP ranks 0
and 1 (rank 1 differs, so reading it shows), vLLM and SGLang prefill/decode
pairs, several models in one workload, dcgm-exporter GPUs labelled either
way, and infermon's own series. Every counter has traffic, so no ratio is
0/0. A pod serving two models is left out on purpose: a pod-level
recording is per model and the panel takes the highest (docs/dashboard.md).
"""

import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "dashboards"))
import generate  # noqa: E402

RATE_INTERVAL = "2m"  # the rules' window: the recorded lines are 2 m rates
STEPS = 40            # 41 samples, 30 s apart: 0 .. 20 m
EVAL_TIMES = ["10m", "19m"]
# Fleet-wide, as the benchmark; one namespace and model, as a user picks;
# the decode pods of the prefill/decode pairs (the role filter).
SELECTIONS = [
    {"namespace": ".*", "workload_name": ".+", "model_name": ".*", "backend": ".*",
     "role": ".*"},
    {"namespace": "ns-a", "workload_name": ".+", "model_name": "m1", "backend": ".*",
     "role": ".*"},
    {"namespace": "ns-b", "workload_name": "vpd|spd", "model_name": ".*", "backend": "vllm-pd|sglang-pd",
     "role": "decode"},
]
VAR_RE = re.compile(r"\$(?:\{(\w+)\}|(\w+))")

# pod: (namespace, workload, backend, role, model, kind)
PODS = [
    ("chat-0", "ns-a", "chat", "vllm", "", "m1", "vllm-dp"),
    ("chat-1", "ns-a", "chat", "vllm", "", "m1", "vllm"),
    ("chat-2", "ns-a", "chat", "vllm", "", "m2", "vllm"),
    ("legacy-0", "ns-a", "legacy", "vllm", "", "m3", "vllm-old"),
    ("sim-0", "ns-a", "sim", "vllm", "", "m1", "vllm-sim"),
    ("vzero-0", "ns-a", "vzero", "vllm", "", "m7", "vllm-v0"),
    ("sgl-0", "ns-b", "sgl", "sglang", "", "m4", "sglang:"),
    ("sglu-0", "ns-b", "sglu", "sglang", "", "m4", "sglang_"),
    ("vpd-p", "ns-b", "vpd", "vllm-pd", "prefill", "m5", "vllm"),
    ("vpd-d", "ns-b", "vpd", "vllm-pd", "decode", "m5", "vllm"),
    ("spd-p", "ns-b", "spd", "sglang-pd", "prefill", "m6", "sglang:"),
    ("spd-d", "ns-b", "spd", "sglang-pd", "decode", "m6", "sglang:"),
]
BOUNDS = ["0.1", "1", "10", "+Inf"]


class Series:
    def __init__(self):
        self.out = []
        self.n = 0

    def seed(self):
        """A deterministic pseudo-random small integer per call."""
        self.n += 1
        return 1 + (self.n * 7919) % 23

    def counter(self, name, labels, scale=1.0):
        """Two rates, switching at 10 m, distinct per series."""
        a, b = self.seed() * scale, self.seed() * scale
        half = STEPS // 2
        self.out.append({"series": "%s{%s}" % (name, labels),
                         "values": "0+%gx%d %g+%gx%d" % (a, half - 1, a * (half - 1) + b, b, STEPS - half + 1)})

    def gauge(self, name, labels, scale=1.0):
        a, b = self.seed() * scale, self.seed() * scale
        half = STEPS // 2
        self.out.append({"series": "%s{%s}" % (name, labels),
                         "values": "%gx%d %gx%d" % (a, half - 1, b, STEPS - half)})

    def histogram(self, name, labels, sum_scale=0.3):
        """Cumulative buckets: each le's rate is the previous one's plus more."""
        half = STEPS // 2
        cum = [0, 0]
        for le in BOUNDS:
            if le != "+Inf":  # nothing over the last bound: every quantile interpolates
                cum = [cum[0] + self.seed(), cum[1] + self.seed()]
            self.out.append({"series": '%s_bucket{%s, le="%s"}' % (name, labels, le),
                             "values": "0+%dx%d %d+%dx%d" % (cum[0], half - 1, cum[0] * (half - 1) + cum[1],
                                                             cum[1], STEPS - half + 1)})
        for suffix, (a, b) in (("count", cum), ("sum", (cum[0] * sum_scale * self.seed(),
                                                        cum[1] * sum_scale * self.seed()))):
            self.out.append({"series": "%s_%s{%s}" % (name, suffix, labels),
                             "values": "0+%gx%d %g+%gx%d" % (a, half - 1, a * (half - 1) + b, b, STEPS - half + 1)})


def input_series():
    s = Series()
    for pod, ns, wl, backend, role, model, kind in PODS:
        base = ('namespace="%s", pod="%s", workload_name="%s", backend="%s", model_name="%s", '
                'job="engines", instance="%s:8000"' % (ns, pod, wl, backend, model, pod))
        if role:
            base += ', role="%s"' % role
        # label sets of one pod's engine series: vLLM DP ranks, SGLang TP ranks
        if kind == "vllm-dp":
            sets = [base + ', engine="0"', base + ', engine="1"']
        elif kind.startswith("sglang"):
            sets = [base + ', tp_rank="0"', base + ', tp_rank="1"']
        else:
            sets = [base]
        for ls in sets:
            if kind.startswith("sglang"):
                p = kind
                for h in ("e2e_request_latency_seconds", "time_to_first_token_seconds"):
                    s.histogram(p + h, ls)
                s.histogram(p + ("inter_token_latency_seconds" if p == "sglang:" else "time_per_output_token_seconds"), ls,
                            sum_scale=0.01)
                for c in ("prompt_tokens_total", "generation_tokens_total"):
                    s.counter(p + c, ls, 10)
                s.gauge(p + "token_usage", ls, 0.01)
                s.gauge(p + "cache_hit_rate", ls, 0.01)
                s.gauge(p + "num_running_reqs", ls)
                s.gauge(p + "num_queue_reqs", ls)
                if role:
                    s.histogram(p + "kv_transfer_latency_ms", ls, sum_scale=100)
                continue
            v = "vllm:"
            for h in ("e2e_request_latency_seconds", "time_to_first_token_seconds",
                      "request_queue_time_seconds", "request_prefill_time_seconds",
                      "request_decode_time_seconds"):
                s.histogram(v + h, ls)
            for h in ("request_prompt_tokens", "request_generation_tokens"):
                s.histogram(v + h, ls, sum_scale=40)
            if kind == "vllm-old":
                s.histogram(v + "time_per_output_token_seconds", ls, sum_scale=0.01)
                s.counter(v + "gpu_prefix_cache_hits_total", ls, 3)
                s.counter(v + "gpu_prefix_cache_queries_total", ls, 7)
                # 0.9-0.10 export both KV usage names
                s.gauge(v + "kv_cache_usage_perc", ls, 0.01)
                s.gauge(v + "gpu_cache_usage_perc", ls, 0.01)
            elif kind == "vllm-v0":
                s.histogram(v + "time_per_output_token_seconds", ls, sum_scale=0.01)
                s.gauge(v + "gpu_prefix_cache_hit_rate", ls, 0.01)
                s.gauge(v + "gpu_cache_usage_perc", ls, 0.01)
            else:
                s.histogram(v + "inter_token_latency_seconds", ls, sum_scale=0.01)
                if kind == "vllm-sim":
                    # the simulator exports both TPOT histograms
                    s.histogram(v + "time_per_output_token_seconds", ls, sum_scale=0.01)
                else:
                    s.counter(v + "prefix_cache_hits_total", ls, 3)
                    s.counter(v + "prefix_cache_queries_total", ls, 7)
                s.gauge(v + "kv_cache_usage_perc", ls, 0.01)
            for c in ("prompt_tokens_total", "generation_tokens_total", "num_preemptions_total"):
                s.counter(v + c, ls, 10)
            if role:
                s.histogram(v + "nixl_xfer_time_seconds", ls)
            s.gauge(v + "num_requests_running", ls)
            s.gauge(v + "num_requests_waiting", ls)
            reason = "finish_reason" if kind == "vllm-sim" else "finished_reason"
            for r in ("stop", "length", "abort", "error"):
                s.counter('%srequest_success_total' % v, ls + ', %s="%s"' % (reason, r))
        # infermon's own series (honor_labels: the engine pod's labels)
        im = ('namespace="%s", pod="%s", workload_name="%s", job="infermon", instance="10.0.0.2:8080"'
              % (ns, pod, wl))
        info = im + ', backend="%s", model_name="%s"' % (backend, model) + (', role="%s"' % role if role else "")
        s.out.append({"series": "infermon_pod_info{%s}" % info, "values": "1x%d" % STEPS})
        for g in ("infermon_engine_max_num_seqs", "infermon_engine_kv_max_concurrency"):
            s.gauge(g, im + ', source="server_info"', 8)
        # dcgm-exporter: even pods' GPUs as pod/namespace (honor_labels),
        # odd ones as exported_pod/exported_namespace; two GPUs on the decode pods
        gpus = 2 if role == "decode" else 1
        for g in range(gpus):
            for m in ("DCGM_FI_DEV_GPU_UTIL", "DCGM_FI_PROF_PIPE_TENSOR_ACTIVE", "DCGM_FI_PROF_SM_ACTIVE",
                      "DCGM_FI_DEV_MEM_COPY_UTIL", "DCGM_FI_DEV_FB_USED", "DCGM_FI_PROF_DRAM_ACTIVE"):
                if PODS.index(next(x for x in PODS if x[0] == pod)) % 2:
                    ls = ('job="dcgm", instance="10.0.0.9:9400", gpu="%d", namespace="gpu-operator", '
                          'pod="dcgm-exporter-x", exported_namespace="%s", exported_pod="%s"' % (g, ns, pod))
                else:
                    ls = 'job="dcgm-honor", instance="10.0.0.8:9400", gpu="%d", namespace="%s", pod="%s"' % (g, ns, pod)
                s.gauge(m, ls)
    # an idle GPU (no pod) and the exporter's own pod drop out of every join
    s.gauge("DCGM_FI_DEV_GPU_UTIL", 'job="dcgm", instance="10.0.0.9:9400", gpu="7", '
            'namespace="gpu-operator", pod="dcgm-exporter-x"')
    return s.out


def substitute(expr, values):
    def rep(m):
        name = m.group(1) or m.group(2)
        if name == "__rate_interval":
            return RATE_INTERVAL
        if name in values:
            return values[name]
        return m.group(0)
    return VAR_RE.sub(rep, expr)


def pod_values(sel):
    """The pod variable as Grafana expands "All": the pods whose
    infermon_pod_info matches the other variables (it has no custom All
    value, so it carries the model, backend and role choice)."""
    pods = [p[0] for p in PODS if all(re.fullmatch(sel[k], v) for k, v in (
        ("namespace", p[1]), ("workload_name", p[2]), ("backend", p[3]), ("role", p[4]),
        ("model_name", p[5])))]
    return "(%s)" % "|".join(pods)


def pairs():
    """(panel title, refId, recorded, raw) of every query with a recording."""
    if not PAIRS:
        PAIRS.extend(_pairs())
    return PAIRS


PAIRS = []


def _pairs():
    d, _ = generate.dashboard()
    out = []
    for p in d["panels"]:
        for t in p.get("targets", []):
            if t["expr"] in generate.FALLBACKS:
                rec, raw = generate.FALLBACKS[t["expr"]]
                out.append((p["title"], t["refId"], rec, raw))
    return out


def tests():
    checks = []
    for title, ref, rec, raw in pairs():
        for n, sel in enumerate(SELECTIONS):
            sel = dict(sel, pod=pod_values(sel))
            r = substitute(rec, dict(sel, rules=""))
            w = substitute(raw, dict(sel, rules=""))
            guarded = substitute(raw, dict(sel, rules="1"))
            for q in (r, w, guarded):
                if "$" in re.sub(r'"\$\d+"', "", q):
                    sys.exit("unsubstituted variable in %s %s: %s" % (title, ref, q))
            what = "%s %s (namespace %s, model %s, role %s)" % (
                title, ref, sel["namespace"], sel["model_name"], sel["role"])
            checks += [
                (what + ": recorded differs from raw",
                 "abs((%s)\n-\n(%s))\n> 1e-9 * abs(%s) + 1e-12" % (r, w, w)),
                (what + ": recorded has series raw lacks", "(%s)\nunless\n(%s)" % (r, w)),
                (what + ": raw has series recorded lacks", "(%s)\nunless\n(%s)" % (w, r)),
                (what + ": recorded NaN", "(%s) != (%s)" % (r, r)),
                (what + ": raw NaN", "(%s) != (%s)" % (w, w)),
                (what + ": raw side not guarded off with rules=1", guarded),
            ]
            if n == 0:  # fleet-wide, every query has data (a selection may have none)
                checks += [(what + ": recorded empty", "absent(%s)" % r),
                           (what + ": raw empty", "absent(%s)" % w)]
    return checks


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit("usage: rulecheck.py DIR [RULES_YAML]")
    out = sys.argv[1]
    src = sys.argv[2] if len(sys.argv) == 3 else generate.RULES_FILE
    import yaml
    with open(src, encoding="utf-8") as f:
        spec = yaml.safe_load(f)["spec"]
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "rules.yml"), "w", encoding="utf-8") as f:
        json.dump(spec, f, indent=1)
    checks = tests()
    # one promql_expr_test per check and instant; the check's name is a
    # comment in the file, and promtool prints the failing expression
    exprs = [{"expr": "# %s\n%s" % (what, e), "eval_time": t, "exp_samples": []}
             for what, e in checks for t in EVAL_TIMES]
    test = {
        "rule_files": ["rules.yml"],
        "evaluation_interval": "30s",
        "tests": [{"interval": "30s", "input_series": input_series(), "promql_expr_test": exprs}],
    }
    with open(os.path.join(out, "rules.test.yml"), "w", encoding="utf-8") as f:
        json.dump(test, f, indent=1)  # JSON is YAML
    print("%d queries with a recording, %d checks x %d instants, %d input series" % (
        len(pairs()), len(checks), len(EVAL_TIMES), len(test["tests"][0]["input_series"])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
