#!/usr/bin/env python3
"""Checks dashboards/llm-inference.json against a real Prometheus.

    dashcheck.py rules VARIABLES.json OUT.yml
        one recording rule per panel query, every variable substituted with a
        concrete value (each variant's values in turn), for `promtool check rules`
    dashcheck.py eval PROM_URL VARIABLES.json [--wait SECONDS]
        evaluates every panel query through /api/v1/query with the variables of
        every engine variant the query claims (test/dashboard/panel_claims.json)
        and requires data: at least one sample, and a finite one; where the
        claim has a require, those label values among the finite samples (of
        the query, or of the panel's queries together). Prints
        panel -> query -> variant -> result and a matrix; exit 1 on any failure.
        --wait retries (every 2 s, bounded) until all pass, for rate windows to fill.
    dashcheck.py variables PROM_URL VARIABLES.json
        evaluates the template variables' label_values() queries, chained, for
        every variant and requires the variant's namespace, workload, models and
        pods among the values offered.
    dashcheck.py jointest DIR
        writes DIR/gpu-join.test.yml for `promtool test rules`: the GPU panels'
        join with infermon_pod_info on series labelled pod/namespace and
        exported_pod/exported_namespace, an idle GPU, a pod with two models
    dashcheck.py query PROM_URL VARIABLES.json VARIANT PANEL_TITLE LEGEND
        prints the result of one panel query (the target whose legend is LEGEND)
        as "LABELS VALUE" lines.

The dashboard and claims files are found relative to this script. Python 3
standard library only.
"""

import json
import math
import os
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
DASHBOARD = os.path.join(ROOT, "dashboards", "llm-inference.json")
CLAIMS = os.path.join(HERE, "panel_claims.json")
RATE_INTERVAL = "1m"

VAR_RE = re.compile(r"\$\{(\w+)\}|\$(\w+)")


def load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def substitute(expr, values):
    """Replaces $var and ${var} as Grafana does; $1 (label_replace
    references) and unknown names stay."""
    def rep(m):
        name = m.group(1) or m.group(2)
        if name == "__rate_interval":
            return RATE_INTERVAL
        if name in values and not name.startswith("_"):
            return values[name]
        return m.group(0)
    return VAR_RE.sub(rep, expr)


def dashboard_targets():
    """(panel title, refId, expr) of every query in the dashboard file."""
    out = []
    for p in load(DASHBOARD)["panels"]:
        for t in p.get("targets", []):
            out.append((p["title"], t["refId"], t["expr"]))
        for sub in p.get("panels", []):
            for t in sub.get("targets", []):
                out.append((sub["title"], t["refId"], t["expr"]))
    return out


def claims():
    c = load(CLAIMS)
    listed = [(p["title"], t["refId"], t["expr"]) for p in c["panels"] for t in p["targets"]]
    if listed != dashboard_targets():
        sys.exit("test/dashboard/panel_claims.json does not match dashboards/llm-inference.json: "
                 "run dashboards/generate.py")
    return c


class Prom:
    def __init__(self, url):
        self.url = url.rstrip("/")

    def get(self, path, params):
        q = urllib.parse.urlencode(params, doseq=True)
        try:
            with urllib.request.urlopen("%s%s?%s" % (self.url, path, q), timeout=30) as r:
                body = json.load(r)
        except urllib.error.HTTPError as e:
            try:
                body = json.load(e)
            except ValueError:
                return None, "HTTP %d" % e.code
        if body.get("status") != "success":
            return None, "%s: %s" % (body.get("errorType"), body.get("error"))
        return body["data"], None

    def query(self, expr):
        data, err = self.get("/api/v1/query", {"query": expr})
        if err:
            return None, err
        if data["resultType"] != "vector":
            return None, "result type %s" % data["resultType"]
        return [(r["metric"], float(r["value"][1])) for r in data["result"]], None

    def label_values(self, label, selector):
        data, err = self.get("/api/v1/label/%s/values" % label, {"match[]": selector})
        return (data or []), err


def fmt_labels(m, keep=("namespace", "pod", "model_name", "role", "source", "check",
                        "finished_reason", "queue", "gpu", "le", "max_num_seqs_source",
                        "workload_name", "sli", "threshold", "target", "window", "over")):
    return "{" + ",".join('%s="%s"' % (k, m[k]) for k in keep if k in m) + "}"


def evaluate(prom, c, variables):
    """[(panel, legend, variant, ok, text)]"""
    rows = []
    for p in c["panels"]:
        seen = {}  # variant -> {label: set(values)}
        for t in p["targets"]:
            for v in t["variants"]:
                res, err = prom.query(substitute(t["expr"], variables[v]))
                if err:
                    rows.append((p["title"], t["legend"], v, False, "query error: " + err))
                    continue
                finite = [(m, x) for m, x in res if math.isfinite(x)]
                mine = {}  # this query's label values
                for m, _ in finite:
                    for k, val in m.items():
                        seen.setdefault(v, {}).setdefault(k, set()).add(val)
                        mine.setdefault(k, set()).add(val)
                for label, values in sorted(t.get("require", {}).get(v, {}).items()):
                    got = mine.get(label, set())
                    missing = [x for x in values if x not in got]
                    rows.append((p["title"], "%s: %s values" % (t["legend"], label), v, not missing,
                                 "has %s=%s" % (label, ",".join(sorted(got))) +
                                 ("; missing %s" % ",".join(missing) if missing else "")))
                if not res:
                    rows.append((p["title"], t["legend"], v, False, "no data"))
                elif not finite:
                    rows.append((p["title"], t["legend"], v, False,
                                 "%d series, none finite (NaN/Inf)" % len(res)))
                else:
                    m, x = finite[0]
                    rows.append((p["title"], t["legend"], v, True,
                                 "%d series, e.g. %s %.4g" % (len(res), fmt_labels(m), x)))
        for v, need in sorted(p.get("require", {}).items()):
            for label, values in sorted(need.items()):
                got = seen.get(v, {}).get(label, set())
                missing = [x for x in values if x not in got]
                rows.append((p["title"], "(panel) %s values" % label, v, not missing,
                             "has %s=%s" % (label, ",".join(sorted(got))) +
                             ("; missing %s" % ",".join(missing) if missing else "")))
    return rows


def print_rows(rows, variants):
    print("panel -> query -> engine variant -> result")
    last = None
    for title, legend, v, ok, text in rows:
        if title != last:
            print("%s" % title)
            last = title
        print("  %-44s %-10s %-4s %s" % (legend, v, "ok" if ok else "FAIL", text))
    print()
    print("matrix (ok = every claimed query of the panel has data; - = not claimed)")
    w = max(len(r[0]) for r in rows)
    print("%-*s  %s" % (w, "panel", " ".join("%-9s" % v for v in variants)))
    panels = []
    for r in rows:
        if r[0] not in panels:
            panels.append(r[0])
    for title in panels:
        cells = []
        for v in variants:
            mine = [r for r in rows if r[0] == title and r[2] == v]
            cells.append("%-9s" % ("-" if not mine else "ok" if all(r[3] for r in mine) else "FAIL"))
        print("%-*s  %s" % (w, title, " ".join(cells)))


def cmd_eval(url, var_path, wait):
    prom = Prom(url)
    c = claims()
    variables = load(var_path)
    deadline = time.monotonic() + wait
    attempt = 0
    while True:
        attempt += 1
        rows = evaluate(prom, c, variables)
        bad = [r for r in rows if not r[3]]
        if not bad or time.monotonic() >= deadline:
            break
        print("attempt %d: %d of %d checks without data yet (e.g. %s / %s / %s: %s); retrying" % (
            attempt, len(bad), len(rows), bad[0][0], bad[0][1], bad[0][2], bad[0][4]), flush=True)
        time.sleep(2)
    print_rows(rows, list(c["variants"]))
    print()
    print("%d checks, %d failed" % (len(rows), len(bad)))
    return 1 if bad else 0


def cmd_variables(url, var_path):
    """Evaluates the dashboard's label_values() variable queries in order,
    each with the values chosen so far, for every variant."""
    prom = Prom(url)
    tmpl = load(DASHBOARD)["templating"]["list"]
    variables = load(var_path)
    failed = 0
    for v, vals in sorted(variables.items()):
        expect = {"namespace": [vals["namespace"]],
                  "workload_name": vals["workload_name"].strip("()").split("|"),
                  "model_name": vals["_models"],
                  "pod": vals["_pods"]}
        chosen = {}
        for t in tmpl:
            if t["type"] != "query" or t["name"] == "rules":
                continue
            q = t["query"]["query"] if isinstance(t["query"], dict) else t["query"]
            m = re.fullmatch(r"label_values\((.*),\s*(\w+)\)", q.strip())
            if not m:
                print("%-10s %-14s FAIL cannot read %r" % (v, t["name"], q))
                failed += 1
                continue
            sel, label = m.group(1), m.group(2)
            got, err = prom.label_values(label, substitute(sel, chosen))
            miss = [x for x in expect.get(t["name"], []) if x not in got]
            ok = not err and not miss and (got or t["name"] == "role")
            failed += not ok
            print("%-10s %-14s %-4s %s%s" % (v, t["name"], "ok" if ok else "FAIL",
                                               err or ",".join(got) or "(none)",
                                               "; missing " + ",".join(miss) if miss else ""))
            chosen[t["name"]] = vals[t["name"]]
    return 1 if failed else 0


def cmd_rules(var_path, out):
    variables = load(var_path)
    lines = ["groups:"]
    for n, (v, vals) in enumerate(sorted(variables.items())):
        lines.append("- name: %s" % json.dumps("dashboard " + v))
        lines.append("  rules:")
        for i, (title, ref, expr) in enumerate(dashboard_targets()):
            q = substitute(expr, vals)
            if "$" in re.sub(r'\$(\d+|\{\d+\})', "", q):
                sys.exit("unsubstituted variable in %s/%s: %s" % (title, ref, q))
            lines.append("  - record: dashboard_variant%d:panel_%03d:%s" % (n, i, ref.lower()))
            lines.append("    expr: %s" % json.dumps(q))
    with open(out, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    print("%d queries x %d variants written to %s" % (len(dashboard_targets()), len(variables), out))
    return 0


def panel_expr(title, legend):
    for p in claims()["panels"]:
        for t in p["targets"]:
            if p["title"] == title and t["legend"] == legend:
                return t["expr"]
    sys.exit("no query %r in panel %r" % (legend, title))


def cmd_jointest(out_dir):
    """A `promtool test rules` file for the dcgm-exporter join: GPUs labelled
    pod/namespace and exported_pod/exported_namespace, an idle GPU, and a
    pod with two infermon_pod_info rows (two models), which a plain
    group_left would refuse as many-to-many."""
    v = {"namespace": "ns", "workload_name": "w", "model_name": ".*", "backend": ".*",
         "role": ".*", "pod": "(a|b)", "rules": ""}  # no rules: the raw join
    info = 'infermon_pod_info{namespace="ns",pod="%s",workload_name="w",backend="vllm",model_name="%s"}'
    exp = ('{namespace="ns",pod="b",exported_namespace="ns",exported_pod="b",gpu="%s",'
           'instance="10.0.0.9:9400",job="dcgm",workload_name="w"}')
    test = {
        "rule_files": [],
        "evaluation_interval": "1m",
        "tests": [{
            "interval": "15s",
            "input_series": [
                {"series": info % ("a", "m1"), "values": "1x40"},
                {"series": info % ("a", "m1-lora"), "values": "1x40"},
                {"series": info % ("b", "m1"), "values": "1x40"},
                # honor_labels: true
                {"series": 'DCGM_FI_DEV_GPU_UTIL{job="dcgm-honor",instance="10.0.0.8:9400",gpu="0",'
                           'namespace="ns",pod="a",container="engine"}', "values": "50x40"},
                # honor_labels: false
                {"series": 'DCGM_FI_DEV_GPU_UTIL{job="dcgm",instance="10.0.0.9:9400",gpu="0",'
                           'namespace="gpu-operator",pod="dcgm-exporter-x",'
                           'exported_namespace="ns",exported_pod="b"}', "values": "70x40"},
                {"series": 'DCGM_FI_DEV_GPU_UTIL{job="dcgm",instance="10.0.0.9:9400",gpu="1",'
                           'namespace="gpu-operator",pod="dcgm-exporter-x",'
                           'exported_namespace="ns",exported_pod="b"}', "values": "90x40"},
                # idle GPU: no pod
                {"series": 'DCGM_FI_DEV_GPU_UTIL{job="dcgm",instance="10.0.0.9:9400",gpu="2",'
                           'namespace="gpu-operator",pod="dcgm-exporter-x"}', "values": "0x40"},
                {"series": 'vllm:prompt_tokens_total{namespace="ns",pod="a",workload_name="w",'
                           'backend="vllm",model_name="m1"}', "values": "0+15x40"},
                {"series": 'vllm:prompt_tokens_total{namespace="ns",pod="b",workload_name="w",'
                           'backend="vllm",model_name="m1"}', "values": "0+30x40"},
            ],
            "promql_expr_test": [
                {"expr": substitute(panel_expr("GPU utilisation", "{{pod}} GPU {{gpu}}"), v),
                 "eval_time": "5m",
                 "exp_samples": [
                     {"labels": '{namespace="ns",pod="a",gpu="0",instance="10.0.0.8:9400",'
                                'job="dcgm-honor",container="engine",workload_name="w"}', "value": 50},
                     {"labels": exp % "0", "value": 70},
                     {"labels": exp % "1", "value": 90}]},
                # m1: 1 + 2 tokens/s over 1 + 2 GPUs; m1-lora has no tokens
                # (round: rate's extrapolation leaves 0.9999…)
                {"expr": "round(%s, 0.001)" % substitute(
                    panel_expr("Token throughput per GPU", "{{model_name}} input / GPU"), v),
                 "eval_time": "5m",
                 "exp_samples": [{"labels": '{model_name="m1"}', "value": 1}]},
            ],
        }],
    }
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, "gpu-join.test.yml")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(test, f, indent=1)  # JSON is YAML
    print(path)
    return 0


def cmd_query(url, var_path, variant, title, legend):
    prom = Prom(url)
    variables = load(var_path)
    for p in claims()["panels"]:
        if p["title"] != title:
            continue
        for t in p["targets"]:
            if t["legend"] == legend:
                res, err = prom.query(substitute(t["expr"], variables[variant]))
                if err:
                    sys.exit("query error: " + err)
                for m, x in sorted(res, key=lambda r: sorted(r[0].items())):
                    print("%s %g" % (fmt_labels(m), x))
                return 0
    sys.exit("no query %r in panel %r" % (legend, title))


def main():
    a = sys.argv[1:]
    if len(a) == 3 and a[0] == "rules":
        return cmd_rules(a[1], a[2])
    if len(a) in (3, 5) and a[0] == "eval":
        wait = float(a[4]) if len(a) == 5 and a[3] == "--wait" else 0
        return cmd_eval(a[1], a[2], wait)
    if len(a) == 3 and a[0] == "variables":
        return cmd_variables(a[1], a[2])
    if len(a) == 2 and a[0] == "jointest":
        return cmd_jointest(a[1])
    if len(a) == 6 and a[0] == "query":
        return cmd_query(*a[1:])
    sys.exit(__doc__)


if __name__ == "__main__":
    sys.exit(main())
