#!/usr/bin/env python3
"""The dashboard test's world: which engine pods exist, what serves them,
how Prometheus scrapes them, and which dashboard variable values select each
engine variant (test/integration/it_dashboard.sh).

    scenario.py targets                  spec for dashboard_targets.py (JSON)
    scenario.py sims                     "POD MODEL MAX_NUM_SEQS [FLAG...]" per simulator pod
    scenario.py pods [--max-num-seqs N] PORTS.json [POD...]
                                         the labelled pods (YAML for kubectl apply);
                                         N replaces the pods' --max-num-seqs value
    scenario.py pod-names                "NAMESPACE NAME" per pod
    scenario.py crs                      an InferenceWorkload per workload with its SLO
                                         objectives (OBJECTIVES) and 1 s scrapes (YAML)
    scenario.py prometheus PORTS.json CONTROLLER_JOB.json [RULES.yml]
                                         prometheus.yml (static targets + relabeling
                                         labels) for the targets PORTS.json names, and
                                         the controller's scrape job as given (what
                                         test/integration/servicemonitor.py derives
                                         from deploy/prometheus/service_monitor.yaml);
                                         RULES.yml (the groups of the PrometheusRules
                                         `infermon render` writes for the crs) as its
                                         rule file
    scenario.py variables                variant -> dashboard variable values (JSON)
    scenario.py node-objects RELEASE     the same world as real pods of the real node
                                         (test/integration/it_node_dashboard.sh): the
                                         simulators (localhost/engine-sim:dev) and the
                                         composed pages (localhost/engine-pages:dev) as
                                         labelled pods, an InferenceWorkload per workload
                                         whose monitor matches the operator's Prometheus
                                         (and whose SLO objectives' PrometheusRule its
                                         ruleSelector),
                                         and dcgm-exporter pods with the Service and
                                         ServiceMonitor a dcgm-exporter install brings,
                                         labelled release=RELEASE (YAML)

PORTS.json maps a target name (the pod name, or a dcgm exporter's name) to
its port on 127.0.0.1. Python 3 standard library only.
"""

import json
import sys

# name, namespace, workload, backend, role, model, how it is served, pod args
SIM = "sim"
PODS = [
    # llm-d-inference-sim: two workloads, two models
    ("chat-0", "dash-llm", "chat", "vllm", "", "qwen3-8b", SIM, ["--max-num-seqs", "4"]),
    ("chat-1", "dash-llm", "chat", "vllm", "", "qwen3-8b", SIM, ["--max-num-seqs", "4"]),
    ("code-0", "dash-llm", "code", "vllm", "", "coder-7b", SIM, ["--max-num-seqs=2"]),
    # composed pages (dashboard_targets.py)
    ("dp-0", "dash-llm", "dp", "vllm", "", "qwen3-32b", "vllm-dp",
     ["--data-parallel-size", "2", "--max-num-seqs", "64"]),
    ("legacy-0", "dash-llm", "legacy", "vllm", "", "llama-3-8b", "vllm-0.9", ["--max-num-seqs", "32"]),
    ("vzero-0", "dash-llm", "vzero", "vllm", "", "llama-2-13b", "vllm-v0", []),
    ("sgl-0", "dash-research", "sgl", "sglang", "", "deepseek-r1", "sglang",
     ["--tp-size", "2", "--dp-size", "2"]),
    ("sglu-0", "dash-research", "sglu", "sglang", "", "qwen2.5-72b", "sglang_",
     ["--tp-size", "2", "--dp-size", "2"]),
    ("vpd-prefill-0", "dash-research", "vpd", "vllm-pd", "prefill", "llama-3-70b", "vllm-pd",
     ["--max-num-seqs", "16", "--kv-transfer-config",
      '{"kv_connector":"NixlConnector","kv_role":"kv_producer"}']),
    ("vpd-decode-0", "dash-research", "vpd", "vllm-pd", "decode", "llama-3-70b", "vllm-pd",
     ["--max-num-seqs", "128", "--kv-transfer-config",
      '{"kv_connector":"NixlConnector","kv_role":"kv_consumer"}']),
    ("spd-prefill-0", "dash-research", "spd", "sglang-pd", "prefill", "deepseek-v3", "sglang-pd",
     ["--disaggregation-mode", "prefill", "--tp-size", "2"]),
    ("spd-decode-0", "dash-research", "spd", "sglang-pd", "decode", "deepseek-v3", "sglang-pd",
     ["--disaggregation-mode", "decode", "--tp-size", "2"]),
]

# dcgm-exporters. "honor": scraped with honor_labels true (labels stay
# pod/namespace); the others with honor_labels false (exported_pod/...).
DCGM = [
    ("dcgm-a", True, [("chat-0", 1), ("chat-1", 1), ("code-0", 1), ("legacy-0", 1),
                      ("vzero-0", 1), ("vpd-prefill-0", 1), ("vpd-decode-0", 1), ("", 1)]),
    ("dcgm-b", False, [("dp-0", 2), ("sgl-0", 4), ("sglu-0", 2)]),
    ("dcgm-c", False, [("spd-prefill-0", 2), ("spd-decode-0", 2), ("", 4)]),
]

# variant -> (namespace, workloads, note)
VARIANTS = {
    "vllm-sim": ("dash-llm", ["chat", "code"]),
    "vllm-dp": ("dash-llm", ["dp"]),
    "vllm-0.9": ("dash-llm", ["legacy"]),
    "vllm-v0": ("dash-llm", ["vzero"]),
    "sglang": ("dash-research", ["sgl"]),
    "sglang_": ("dash-research", ["sglu"]),
    "vllm-pd": ("dash-research", ["vpd"]),
    "sglang-pd": ("dash-research", ["spd"]),
}


# The SLO objectives of every workload's InferenceWorkload (the dashboard's
# SLO row; dashboards/generate.py SLO_SLIS claims them): TTFT and TPOT at
# bucket bounds every engine variant's histograms have (2.5 s, 0.1 s), and
# availability for vLLM, whose request_success_total SGLang lacks. Two
# windows, so that the window label is not a constant.
OBJECTIVES = {
    "vllm": [{"sli": "ttft", "thresholdSeconds": 2.5, "target": 99},
             {"sli": "tpot", "thresholdSeconds": 0.1, "target": 99.5, "window": "30d"},
             {"sli": "availability", "target": 99.9}],
    "sglang": [{"sli": "ttft", "thresholdSeconds": 2.5, "target": 99},
               {"sli": "tpot", "thresholdSeconds": 0.1, "target": 99.5, "window": "30d"}],
}


def crs():
    """An InferenceWorkload per workload: its objectives, and the 1 s scrapes
    the controller's flag gives pods without a CR (a CR's own interval
    replaces the flag)."""
    docs, seen = [], set()
    for name, ns, wl, be, role, model, how, args in PODS:
        if (ns, wl) in seen:
            continue
        seen.add((ns, wl))
        docs.append({"apiVersion": "infermon.io/v1alpha1", "kind": "InferenceWorkload",
                     "metadata": {"name": wl, "namespace": ns},
                     "spec": {"metrics": {"interval": "1s"},
                              "slo": {"objectives": OBJECTIVES[be.split("-")[0]]}}})
    return "".join("---\n" + obj(d) + "\n" for d in docs)


def pod_ns(name):
    return next(p[1] for p in PODS if p[0] == name)


def engine_target(name, role, model, how):
    """dashboard_targets.py's spec of a composed engine page."""
    t = {"name": name, "mode": how, "model": model}
    if role:
        t["role"] = role
    return t


def dcgm_target(name, gpus):
    """dashboard_targets.py's spec of a dcgm-exporter: each (pod, n) is n GPUs
    of that pod ("" : idle GPUs)."""
    lst, i = [], 0
    for pod, n in gpus:
        for _ in range(n):
            lst.append({"namespace": pod_ns(pod) if pod else "", "pod": pod, "gpu": str(i)})
            i += 1
    return {"name": name, "mode": "dcgm", "gpus": lst}


def targets():
    out = [engine_target(name, role, model, how)
           for name, ns, wl, be, role, model, how, args in PODS if how != SIM]
    return out + [dcgm_target(name, gpus) for name, _, gpus in DCGM]


def max_num_seqs(args):
    for i, a in enumerate(args):
        if a.startswith("--max-num-seqs="):
            return a.split("=", 1)[1]
        if a == "--max-num-seqs":
            return args[i + 1]
    return ""


def sims():
    """POD MODEL MAX_NUM_SEQS [other simulator flags from the pod's args]"""
    out = []
    for p in PODS:
        if p[6] != SIM:
            continue
        args, rest, skip = p[7], [], False
        for i, a in enumerate(args):
            if skip:
                skip = False
            elif a == "--max-num-seqs":
                skip = True
            elif not a.startswith("--max-num-seqs="):
                rest.append(a)
        out.append(" ".join([p[0], p[5], max_num_seqs(args)] + rest))
    return out


def yq(s):
    return json.dumps(s)


def engine_args(be, model, args):
    """The engine's command line as its pod spec carries it."""
    return (["serve", model] if be.startswith("vllm") else
            ["-m", "sglang.launch_server", "--model-path", "/models/" + model,
             "--enable-metrics"]) + args


def pod_labels(wl, be, role):
    labels = {"alibabacloud.com/inference-workload": wl,
              "alibabacloud.com/inference-backend": be}
    if role and be == "vllm-pd":
        labels["llm-d.ai/role"] = role
    return labels


def pods_yaml(ports, only=None, max_num_seqs_override=None):
    docs = []
    for name, ns, wl, be, role, model, how, args in PODS:
        if only and name not in only:
            continue
        if max_num_seqs_override:
            args = ["--max-num-seqs=" + max_num_seqs_override if a.startswith("--max-num-seqs=")
                    else max_num_seqs_override if i and args[i - 1] == "--max-num-seqs" else a
                    for i, a in enumerate(args)]
        labels = pod_labels(wl, be, role)
        docs.append("\n".join([
            "apiVersion: v1",
            "kind: Pod",
            "metadata:",
            "  name: %s" % name,
            "  namespace: %s" % ns,
            "  labels:",
        ] + ["    %s: %s" % (k, yq(v)) for k, v in sorted(labels.items())] + [
            "spec:",
            "  containers:",
            "  - name: engine",
            "    image: %s" % ("vllm/vllm-openai:test" if be.startswith("vllm") else "lmsysorg/sglang:test"),
            "    args: [%s]" % ", ".join(yq(a) for a in engine_args(be, model, args)),
            "    ports:",
            "    - name: http",
            "      containerPort: %d" % ports[name],
        ]))
    return "---\n".join(d + "\n" for d in docs)


def prometheus(ports, controller_job, rules=None):
    lines = [
        "global:",
        "  scrape_interval: 1s",
        "  scrape_timeout: 1s",
        "  evaluation_interval: 1s",
    ] + (["rule_files: [%s]" % yq(rules)] if rules else []) + [
        "scrape_configs:",
        # What the generated kubernetes_sd job will do by relabeling, as
        # static target labels.
        "- job_name: engines",
        "  static_configs:",
    ]
    for name, ns, wl, be, role, model, how, args in PODS:
        if name not in ports:
            continue
        lines += [
            "  - targets: ['127.0.0.1:%d']" % ports[name],
            "    labels: {namespace: %s, pod: %s, workload_name: %s, backend: %s, role: %s}" % (
                yq(ns), yq(name), yq(wl), yq(be), yq(role)),
        ]
    lines += [
        # The controller: the job prometheus-operator makes of the shipped
        # ServiceMonitor (its series carry the engine pods' namespace/pod,
        # which only honor_labels keeps). JSON is YAML.
        "- " + json.dumps(controller_job, sort_keys=True),
    ]
    for name, honor, _ in DCGM:
        if name not in ports:
            continue
        lines += [
            "- job_name: %s" % name,
            "  honor_labels: %s" % ("true" if honor else "false"),
            "  static_configs:",
            "  - targets: ['127.0.0.1:%d']" % ports[name],
            "    labels: {namespace: gpu-operator, pod: %s-exporter-x7k2p}" % name,
        ]
    return "\n".join(lines) + "\n"


# The real node's world (node_objects): PodMonitor for these workloads,
# ServiceMonitor (the default) for the others, so both kinds are scraped
# through the operator.
POD_MONITOR_WORKLOADS = {"legacy", "sglu"}
SIM_FLAGS = ["--force-dummy-tokenizer", "--time-to-first-token", "200ms",
             "--inter-token-latency", "50ms"]


def obj(d):
    """One YAML document (JSON is YAML)."""
    return json.dumps(d, sort_keys=True)


def node_objects(release):
    docs = []
    workloads = {}
    for name, ns, wl, be, role, model, how, args in PODS:
        workloads[(ns, wl)] = be
        port = {"name": "http", "containerPort": 8000}
        if how == SIM:
            c = {"name": "engine", "image": "localhost/engine-sim:dev",
                 "args": ["--port", "8000", "--model", model] + SIM_FLAGS + args,
                 "readinessProbe": {"httpGet": {"path": "/health", "port": "http"},
                                    "periodSeconds": 2}}
        else:
            t = engine_target(name, role, model, how)
            c = {"name": "engine", "image": "localhost/engine-pages:dev",
                 "env": [{"name": "DASHBOARD_TARGET", "value": json.dumps(t, sort_keys=True)}],
                 "args": engine_args(be, model, args),
                 "readinessProbe": {"httpGet": {"path": "/metrics", "port": "http"},
                                    "periodSeconds": 2}}
        c.update({"imagePullPolicy": "IfNotPresent", "ports": [port]})
        labels = pod_labels(wl, be, role)
        if role and be == "sglang-pd":
            # RoleBasedGroup's role label, which the generated relabeling reads
            labels["rolebasedgroup.workloads.x-k8s.io/role"] = role
        docs.append({"apiVersion": "v1", "kind": "Pod",
                     "metadata": {"name": name, "namespace": ns, "labels": labels},
                     "spec": {"terminationGracePeriodSeconds": 2, "containers": [c]}})
    for (ns, wl), be in sorted(workloads.items()):
        kind = "PodMonitor" if wl in POD_MONITOR_WORKLOADS else "ServiceMonitor"
        docs.append({"apiVersion": "infermon.io/v1alpha1", "kind": "InferenceWorkload",
                     "metadata": {"name": wl, "namespace": ns},
                     "spec": {"backend": be,
                              "metrics": {"interval": "5s", "scrapeTimeout": "4s"},
                              "monitor": {"kind": kind, "matchPrometheus": True},
                              # the controller's PrometheusRule, which
                              # matchPrometheus labels for the ruleSelector
                              "slo": {"objectives": OBJECTIVES[be.split("-")[0]]}}})
    for name, honor, gpus in DCGM:
        t = dcgm_target(name, gpus)
        labels = {"app.kubernetes.io/name": "dcgm-exporter", "app.kubernetes.io/instance": name}
        docs.append({"apiVersion": "v1", "kind": "Pod",
                     "metadata": {"name": name + "-exporter", "namespace": "gpu-operator",
                                  "labels": labels},
                     "spec": {"terminationGracePeriodSeconds": 2, "containers": [{
                         "name": "exporter", "image": "localhost/engine-pages:dev",
                         "imagePullPolicy": "IfNotPresent",
                         "env": [{"name": "DASHBOARD_TARGET", "value": json.dumps(t, sort_keys=True)},
                                 {"name": "DASHBOARD_PORT", "value": "9400"}],
                         "ports": [{"name": "metrics", "containerPort": 9400}],
                         "readinessProbe": {"httpGet": {"path": "/metrics", "port": "metrics"},
                                            "periodSeconds": 2}}]}})
        docs.append({"apiVersion": "v1", "kind": "Service",
                     "metadata": {"name": name, "namespace": "gpu-operator", "labels": labels},
                     "spec": {"selector": labels,
                              "ports": [{"name": "metrics", "port": 9400, "targetPort": "metrics"}]}})
        docs.append({"apiVersion": "monitoring.coreos.com/v1", "kind": "ServiceMonitor",
                     "metadata": {"name": name, "namespace": "gpu-operator",
                                  "labels": {"release": release}},
                     "spec": {"selector": {"matchLabels": labels},
                              "endpoints": [{"port": "metrics", "interval": "5s",
                                             "honorLabels": honor}]}})
    return "".join("---\n" + obj(d) + "\n" for d in docs)


def variables():
    out = {}
    for v, (ns, wls) in VARIANTS.items():
        pods = [p for p in PODS if p[1] == ns and p[2] in wls]
        out[v] = {
            "namespace": ns,
            "workload_name": "(%s)" % "|".join(wls) if len(wls) > 1 else wls[0],
            "model_name": ".*",
            "backend": ".*",
            "role": ".*",
            "pod": "(%s)" % "|".join(p[0] for p in pods),
            # the hidden variable with no recording rules installed: the
            # panels run their raw queries (dashboards/generate.py, GUARD)
            "rules": "",
            "_models": sorted({p[5] for p in pods}),
            "_pods": [p[0] for p in pods],
        }
    return out


def main():
    a = sys.argv[1:]
    if a == ["targets"]:
        print(json.dumps(targets(), indent=1))
    elif a == ["sims"]:
        print("\n".join(sims()))
    elif len(a) >= 2 and a[0] == "pods":
        override = None
        if len(a) >= 4 and a[1] == "--max-num-seqs":
            override, a = a[2], a[:1] + a[3:]
        with open(a[1]) as f:
            ports = json.load(f)
        sys.stdout.write(pods_yaml(ports, set(a[2:]) or None, override))
    elif a == ["pod-names"]:
        print("\n".join("%s %s" % (p[1], p[0]) for p in PODS))
    elif len(a) in (3, 4) and a[0] == "prometheus":
        with open(a[1]) as f:
            ports = json.load(f)
        with open(a[2]) as f:
            controller_job = json.load(f)
        sys.stdout.write(prometheus(ports, controller_job, a[3] if len(a) == 4 else None))
    elif a == ["crs"]:
        sys.stdout.write(crs())
    elif len(a) == 2 and a[0] == "node-objects":
        sys.stdout.write(node_objects(a[1]))
    elif a == ["variables"]:
        print(json.dumps(variables(), indent=1, sort_keys=True))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
