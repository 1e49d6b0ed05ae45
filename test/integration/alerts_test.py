#!/usr/bin/env python3
"""Builds promtool inputs from `infermon render` output (it_alerts.sh).

  alerts_test.py rules RENDERED OUT.yml [--no-annotations]
      the groups of every PrometheusRule, as a Prometheus rule file
  alerts_test.py unittest RULES.yml OUT.test.yml MONITOR.yaml SERVICE.yaml
      a `promtool test rules` file: synthetic series of every engine
      naming (vLLM >= 0.11, vLLM 0.9 / simulator double export, SGLang
      "sglang:" with TP ranks, SGLang "sglang_", a prefill/decode pair)
      and the alerts that must fire, and only those. The controller's own
      series are labelled as Prometheus stores them when it scrapes the
      controller through the job prometheus-operator makes of MONITOR
      (deploy/prometheus/service_monitor.yaml) and SERVICE
      (servicemonitor.py): its honorLabels decides whether they keep the
      engine pod's namespace and pod.
"""
import os
import sys
import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import servicemonitor  # noqa: E402


def rules(rendered, out, annotations=True):
    docs = [d for d in yaml.safe_load_all(open(rendered)) if d]
    groups = []
    for d in docs:
        if d["kind"] != "PrometheusRule":
            continue
        for g in d["spec"]["groups"]:
            if not annotations:
                for r in g["rules"]:
                    r.pop("annotations", None)
            groups.append(g)
    if not groups:
        sys.exit("no PrometheusRule in %s" % rendered)
    yaml.safe_dump({"groups": groups}, open(out, "w"), sort_keys=False)


def hist(name, labels, slow, n=30, per_min=10):
    """Buckets of a histogram observing per_min requests a minute, each at
    0.01 s, or (slow) each in (0.1 s, 1 s]: a p95 of 0.019 s or 0.955 s."""
    out = []
    for le in ("0.02", "0.1", "1", "+Inf"):
        inc = 0 if slow and le in ("0.02", "0.1") else per_min
        out.append({"series": sel(name, dict(labels, le=le)), "values": "0+%dx%d" % (inc, n)})
    return out


def sel(name, labels):
    return name + "{" + ", ".join('%s="%s"' % kv for kv in sorted(labels.items())) + "}"


def gauge(name, labels, v, n=30):
    return {"series": sel(name, labels), "values": "%sx%d" % (v, n)}


def unittest(rules_file, out, monitor, service):
    chat = {"namespace": "llm", "workload_name": "chat", "pod": "chat-0", "backend": "vllm",
            "model_name": "m", "engine": "0"}
    legacy = {"namespace": "llm", "workload_name": "legacy", "pod": "legacy-0", "backend": "vllm",
              "model_name": "m"}
    pre = {"namespace": "llm", "workload_name": "pd", "pod": "pd-prefill-0", "backend": "vllm-pd",
           "role": "prefill", "model_name": "m"}
    dec = dict(pre, pod="pd-decode-0", role="decode")
    sgl0 = {"namespace": "research", "workload_name": "sgl", "pod": "sgl-0", "backend": "sglang",
            "model_name": "m", "tp_rank": "0", "dp_rank": "0"}
    sgl1 = dict(sgl0, tp_rank="1")
    sglu = {"namespace": "research", "workload_name": "sglu", "pod": "sglu-0", "backend": "sglang",
            "model_name": "m", "tp_rank": "0"}
    ids = lambda l: {k: l[k] for k in ("namespace", "pod", "workload_name")}
    s = []
    # vLLM >= 0.11 (engine label): slow TTFT; TPOT under both names, the new
    # one fast (as the simulator and vLLM 0.11-0.12 export both): no TPOT alert
    s += hist("vllm:time_to_first_token_seconds_bucket", chat, slow=True)
    s += hist("vllm:inter_token_latency_seconds_bucket", chat, slow=False)
    s += hist("vllm:time_per_output_token_seconds_bucket", chat, slow=True)
    # KV: new name low, old name high on the same pod: the new name wins
    s += [gauge("vllm:kv_cache_usage_perc", chat, "0.2"), gauge("vllm:gpu_cache_usage_perc", chat, "0.95")]
    # vLLM 0.9: only the old TPOT and KV names
    s += hist("vllm:time_to_first_token_seconds_bucket", legacy, slow=False)
    s += hist("vllm:time_per_output_token_seconds_bucket", legacy, slow=True)
    s += [gauge("vllm:gpu_cache_usage_perc", legacy, "0.95")]
    # prefill/decode: the prefill pod's slow stub requests do not count
    s += hist("vllm:time_to_first_token_seconds_bucket", pre, slow=True)
    s += hist("vllm:time_to_first_token_seconds_bucket", dec, slow=False)
    # SGLang "sglang:", TP rank 0 slow, rank 1 fast and busier (summed
    # with rank 0 its p95 would be fast): rank 0 is read; KV high on rank 0
    s += hist("sglang:time_to_first_token_seconds_bucket", sgl0, slow=True)
    s += hist("sglang:time_to_first_token_seconds_bucket", sgl1, slow=False, per_min=1000)
    s += hist("sglang:inter_token_latency_seconds_bucket", sgl0, slow=False)
    s += [gauge("sglang:token_usage", sgl0, "0.95"), gauge("sglang:token_usage", sgl1, "0.1")]
    # SGLang "sglang_" (older): slow TTFT and TPOT under the old name
    s += hist("sglang_time_to_first_token_seconds_bucket", sglu, slow=True)
    s += hist("sglang_time_per_output_token_seconds_bucket", sglu, slow=True)
    s += [gauge("sglang_token_usage", sglu, "0.3")]
    # end-to-end latency: slow on chat (e2eP95Seconds 0.5: fires), fast on
    # sglu (0.5: silent), slow on legacy (no e2eP95Seconds: no rule); the
    # prefill pod's slow stub requests do not count (pd: silent)
    s += hist("vllm:e2e_request_latency_seconds_bucket", chat, slow=True)
    s += hist("vllm:e2e_request_latency_seconds_bucket", legacy, slow=True)
    s += hist("vllm:e2e_request_latency_seconds_bucket", pre, slow=True)
    s += hist("vllm:e2e_request_latency_seconds_bucket", dec, slow=False)
    s += hist("sglang_e2e_request_latency_seconds_bucket", sglu, slow=False)
    # the controller's series, as exposed (the engine pod's namespace and
    # pod) and then labelled by the scrape job of the shipped monitor
    job = servicemonitor.job(servicemonitor.load(monitor), servicemonitor.load(service),
                             "10.0.3.7:8443", "infermon-7d9f8b6c4-x2x8q", "infermon")
    ctl = lambda exposed: servicemonitor.scrape_labels(job, exposed)
    for l, drift, active, bound in ((chat, "-0.77", "1", "0"), (legacy, "0", "0", "1"),
                                    (sgl0, "0.1", "0", "0"), (sglu, "1.5", "1", "0")):
        s.append(gauge("infermon_engine_limit_drift_ratio", ctl(ids(l)), drift))
        s.append(gauge("infermon_check_active", ctl(dict(ids(l), check="LimitDrift")), active))
        s.append(gauge("infermon_check_active", ctl(dict(ids(l), check="AdmissionBound")), bound))
    # scrape health: sglu-0 is down
    for l, up in ((chat, "1"), (legacy, "1"), (sgl0, "1"), (sglu, "0")):
        s.append(gauge("up", dict(ids(l), job="engines", instance=l["pod"] + ":8000"), up))

    def alert(name, l, severity, pod=False, extra=None):
        lab = {"severity": severity, "namespace": l["namespace"], "workload_name": l["workload_name"]}
        if pod:
            lab["pod"] = l["pod"]
        lab.update(extra or {})
        return {"exp_labels": lab}

    t = 20
    tests = [
        ("LLMTTFTAboveSLO", [alert("", chat, "critical"), alert("", sgl0, "critical"),
                             alert("", sglu, "critical")]),
        ("LLMTPOTAboveSLO", [alert("", legacy, "critical"), alert("", sglu, "critical")]),
        ("LLMLimitDrift", [alert("", chat, "warning", True), alert("", sglu, "warning", True)]),
        ("LLMAdmissionBound", [alert("", legacy, "warning", True)]),
        ("LLMKVCachePressure", [alert("", legacy, "warning", True), alert("", sgl0, "warning", True)]),
        ("LLMEngineDown", [alert("", sglu, "critical", True,
                                 {"job": "engines", "instance": "sglu-0:8000"})]),
        ("LLME2ELatencyAboveSLO", [alert("", chat, "critical")]),
    ]
    doc = {
        "rule_files": [rules_file],
        "evaluation_interval": "1m",
        "tests": [{
            "interval": "1m",
            "input_series": s,
            "alert_rule_test": [{"eval_time": "%dm" % t, "alertname": n, "exp_alerts": a} for n, a in tests]
            # before "for:" has passed nothing fires
            + [{"eval_time": "3m", "alertname": n, "exp_alerts": []} for n, _ in tests],
        }],
    }
    yaml.safe_dump(doc, open(out, "w"), sort_keys=False)


if __name__ == "__main__":
    if sys.argv[1] == "rules":
        rules(sys.argv[2], sys.argv[3], "--no-annotations" not in sys.argv)
    elif sys.argv[1] == "unittest":
        unittest(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5])
    else:
        sys.exit(__doc__)
