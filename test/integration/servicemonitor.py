#!/usr/bin/env python3
"""A ServiceMonitor as prometheus-operator turns it into a Prometheus scrape
job, for tests that have no operator and no kubernetes_sd: the controller's
own monitor (deploy/prometheus/service_monitor.yaml) scraped by the
dashboard test's Prometheus (it_dashboard.sh) and, label for label, by the
alert tests' synthetic series (alerts_test.py).

  servicemonitor.py job MONITOR.yaml SERVICE.yaml TARGET POD CONTAINER [--interval D]
      the scrape job (JSON, which Prometheus reads as YAML) for one
      endpoint address TARGET (host:port) of the Service, backed by pod POD
      and its container CONTAINER; --interval D shortens interval and
      scrapeTimeout for a test (said on stderr), nothing else changes
  servicemonitor.py labels MONITOR.yaml SERVICE.yaml TARGET POD CONTAINER
      the target's labels after relabeling (JSON)

What it translates, per endpoint (the operator's mapping): honorLabels ->
honor_labels (false when absent), honorTimestamps -> honor_timestamps,
path -> metrics_path, interval -> scrape_interval, scrapeTimeout ->
scrape_timeout, scheme, params, relabelings -> relabel_configs (after the
operator's own), metricRelabelings -> metric_relabel_configs. The job's
name is serviceMonitor/NAMESPACE/NAME/INDEX. The operator's own relabeling
keeps the Service when spec.selector.matchLabels match its labels and the
endpoint when its port name matches, then sets the target labels namespace,
service, pod, container, job (the Service's name, or its jobLabel label)
and endpoint (the port name). Endpoints discovery is stood in for by one
static target carrying the __meta_kubernetes_* labels it would carry.
bearerTokenFile and tlsConfig say how the target is reached, not what it
is labelled: they are accepted and left out of the job (the operator's
Prometheus scraping the controller through them proves them, in
it_node_dashboard.sh). Anything else in an endpoint (authorization, a
targetPort instead of a port, matchExpressions, shards) is refused, so a new
field in the shipped monitor cannot be silently ignored. Only one endpoint is supported.

scrape_labels() applies the job to a scraped series the way Prometheus
does: with honor_labels the series' own labels win; without, each
conflicting label is kept as exported_<name> and the target's value takes
its place. Needs PyYAML.
"""
import json
import re
import sys

import yaml

ENDPOINT_FIELDS = {"port", "path", "interval", "scrapeTimeout", "scheme", "params", "honorLabels",
                   "honorTimestamps", "relabelings", "metricRelabelings",
                   "bearerTokenFile", "tlsConfig"}  # connection only: no label
RELABEL_FIELDS = {"sourceLabels": "source_labels", "separator": "separator", "targetLabel": "target_label",
                  "regex": "regex", "modulus": "modulus", "replacement": "replacement", "action": "action"}


def sanitize(name):
    """A Kubernetes label name as kubernetes_sd writes it in a meta label."""
    return re.sub(r"[^a-zA-Z0-9_]", "_", name)


def relabel_config(r):
    bad = set(r) - set(RELABEL_FIELDS)
    if bad:
        sys.exit("servicemonitor.py: relabeling field(s) %s not translated" % sorted(bad))
    out = {RELABEL_FIELDS[k]: v for k, v in r.items()}
    if "action" in out:
        out["action"] = out["action"].lower()
    return out


def load(path):
    docs = [d for d in yaml.safe_load_all(open(path)) if d]
    if len(docs) != 1:
        sys.exit("servicemonitor.py: want one object in %s" % path)
    return docs[0]


def job(monitor, service, target, pod, container, interval=None):
    """The scrape job prometheus-operator writes for the monitor, its
    endpoint discovered at TARGET through the Service."""
    if monitor.get("kind") != "ServiceMonitor" or service.get("kind") != "Service":
        sys.exit("servicemonitor.py: want a ServiceMonitor and a Service")
    spec = monitor["spec"]
    bad = set(spec) - {"selector", "endpoints", "jobLabel"}
    bad |= set(spec["selector"]) - {"matchLabels"}
    if bad:
        sys.exit("servicemonitor.py: spec field(s) %s not translated" % sorted(bad))
    if len(spec["endpoints"]) != 1:
        sys.exit("servicemonitor.py: want one endpoint")
    ep = spec["endpoints"][0]
    bad = set(ep) - ENDPOINT_FIELDS
    if bad or "port" not in ep:
        sys.exit("servicemonitor.py: endpoint field(s) %s not translated (or no port)" % sorted(bad))
    ns, name = monitor["metadata"]["namespace"], monitor["metadata"]["name"]
    svc_ns = service["metadata"].get("namespace", ns)

    # endpoints discovery, for the one address: the Service's labels and
    # port names as meta labels
    meta = {"__address__": target,
            "__meta_kubernetes_namespace": svc_ns,
            "__meta_kubernetes_service_name": service["metadata"]["name"],
            "__meta_kubernetes_pod_name": pod,
            "__meta_kubernetes_pod_container_name": container,
            "__meta_kubernetes_endpoint_address_target_kind": "Pod",
            "__meta_kubernetes_endpoint_address_target_name": pod,
            "__meta_kubernetes_endpoint_port_name": service["spec"]["ports"][0].get("name", "")}
    for k, v in service["metadata"].get("labels", {}).items():
        meta["__meta_kubernetes_service_label_" + sanitize(k)] = v
        meta["__meta_kubernetes_service_labelpresent_" + sanitize(k)] = "true"

    relabel = []
    for k, v in sorted(spec["selector"].get("matchLabels", {}).items()):
        relabel.append({"action": "keep", "regex": "(%s);true" % v,
                        "source_labels": ["__meta_kubernetes_service_label_" + sanitize(k),
                                          "__meta_kubernetes_service_labelpresent_" + sanitize(k)]})
    relabel.append({"action": "keep", "regex": ep["port"],
                    "source_labels": ["__meta_kubernetes_endpoint_port_name"]})
    for kind, label in (("Node", "node"), ("Pod", "pod")):
        relabel.append({"source_labels": ["__meta_kubernetes_endpoint_address_target_kind",
                                          "__meta_kubernetes_endpoint_address_target_name"],
                        "separator": ";", "regex": kind + ";(.*)", "replacement": "$1", "target_label": label})
    for meta_label, label in (("namespace", "namespace"), ("service_name", "service"),
                              ("pod_name", "pod"), ("pod_container_name", "container")):
        relabel.append({"source_labels": ["__meta_kubernetes_" + meta_label], "target_label": label})
    job_src = "__meta_kubernetes_service_name"
    if spec.get("jobLabel"):
        job_src = "__meta_kubernetes_service_label_" + sanitize(spec["jobLabel"])
    relabel.append({"source_labels": [job_src], "target_label": "job", "replacement": "${1}"})
    relabel.append({"target_label": "endpoint", "replacement": ep["port"]})
    relabel += [relabel_config(r) for r in ep.get("relabelings", [])]

    out = {"job_name": "serviceMonitor/%s/%s/0" % (ns, name),
           "honor_labels": bool(ep.get("honorLabels", False))}
    if "honorTimestamps" in ep:
        out["honor_timestamps"] = bool(ep["honorTimestamps"])
    for src, dst in (("interval", "scrape_interval"), ("scrapeTimeout", "scrape_timeout"),
                     ("path", "metrics_path"), ("scheme", "scheme"), ("params", "params")):
        if src in ep:
            out[dst] = ep[src]
    if interval:
        print("servicemonitor.py: interval %s and scrapeTimeout %s shortened to %s for the test" %
              (ep.get("interval"), ep.get("scrapeTimeout"), interval), file=sys.stderr)
        out["scrape_interval"] = out["scrape_timeout"] = interval
    out["static_configs"] = [{"targets": [target],
                              "labels": {k: v for k, v in meta.items() if k != "__address__"}}]
    out["relabel_configs"] = relabel
    if ep.get("metricRelabelings"):
        out["metric_relabel_configs"] = [relabel_config(r) for r in ep["metricRelabelings"]]
    return out


def expand(template, m):
    """A replacement with $1, ${1} or ${name} references, as Go's Expand."""
    def ref(g):
        r = g.group(1) or g.group(2)
        try:
            return m.group(int(r) if r.isdigit() else r) or ""
        except (IndexError, re.error):
            return ""
    return re.sub(r"\$(?:\{(\w+)\}|(\w+))", ref, template)


def relabel(labels, configs):
    """Prometheus' relabeling, for the actions the translation emits
    (replace, keep, drop); None when the target is dropped."""
    labels = dict(labels)
    for c in configs:
        action = c.get("action", "replace")
        value = c.get("separator", ";").join(labels.get(s, "") for s in c.get("source_labels", []))
        m = re.fullmatch(c.get("regex", "(.*)"), value)
        if action == "keep":
            if not m:
                return None
        elif action == "drop":
            if m:
                return None
        elif action == "replace":
            if m:
                v = expand(c.get("replacement", "$1"), m)
                if v:
                    labels[expand(c["target_label"], m)] = v
                else:
                    labels.pop(expand(c["target_label"], m), None)
        else:
            sys.exit("servicemonitor.py: relabel action %s not modelled" % action)
    return labels


def target_labels(j):
    """The target's labels after relabeling, as the targets page shows them
    (no __ labels); None when the job drops it."""
    sc = j["static_configs"][0]
    labels = dict(sc["labels"], __address__=sc["targets"][0], job=j["job_name"])
    labels = relabel(labels, j["relabel_configs"])
    if labels is None:
        return None
    labels.setdefault("instance", labels["__address__"])
    return {k: v for k, v in labels.items() if not k.startswith("__")}


def scrape_labels(j, exposed):
    """The labels Prometheus stores for a series exposed with labels EXPOSED
    (a dict, without __name__) by the job's target."""
    target = target_labels(j)
    if target is None:
        sys.exit("servicemonitor.py: the monitor does not select the Service's endpoint")
    out = dict(exposed)
    for k, v in target.items():
        if k not in out or out[k] == "":
            out[k] = v
        elif not j["honor_labels"]:
            name = "exported_" + k
            while name in out:
                name = "exported_" + name
            out[name] = out[k]
            out[k] = v
    return out


def main():
    a = sys.argv[1:]
    interval = None
    if len(a) >= 2 and a[-2] == "--interval":
        interval, a = a[-1], a[:-2]
    if len(a) != 6 or a[0] not in ("job", "labels"):
        sys.exit(__doc__)
    j = job(load(a[1]), load(a[2]), a[3], a[4], a[5], interval)
    print(json.dumps(j if a[0] == "job" else target_labels(j), indent=1, sort_keys=True))


if __name__ == "__main__":
    main()
