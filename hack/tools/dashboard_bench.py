#!/usr/bin/env python3
"""Times every query of dashboards/llm-inference.json through a Prometheus'
HTTP API, as Grafana sends them (hack/dashboard-bench.sh runs it).

    dashboard_bench.py URL END RANGE STEP RATE_INTERVAL RUNS RULES OUT.json [guarded]

Every template variable is ".*" (RULES is the value of the hidden `rules`
variable: empty = no recording rules, the raw queries run; 1 = they are
installed). A range target runs /api/v1/query_range over [END-RANGE, END]
at STEP; an instant one (stat, table) /api/v1/query at END. Each query runs
RUNS times (once when the first run took over BENCH_REPEAT_MAX seconds,
default 10: marked "1x"); the best wall time counts (time until the whole
response body is read), next to Prometheus' own evalTotalTime of that run
(stats=all). With "guarded", only the queries with a recording-rule fallback
run.
Writes [{title, refId, wall, eval, series, error, points, sum}] to OUT.json
(and a copy into $BENCH_OUT when set) and prints a table; points and sum
(of the finite values returned) compare the answers of two runs. Python 3 standard library only.
"""

import json
import math
import os
import shutil
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DASHBOARD = os.path.join(ROOT, "dashboards", "llm-inference.json")
VAR_RE = re.compile(r"\$\{(\w+)\}|\$(\w+)")


def substitute(expr, values):
    def rep(m):
        name = m.group(1) or m.group(2)
        return values.get(name, m.group(0))
    return VAR_RE.sub(rep, expr)


def run(url, path, params, edges):
    body = urllib.parse.urlencode(params).encode()
    t0 = time.monotonic()
    try:
        with urllib.request.urlopen(url + path, data=body, timeout=600) as r:
            raw = r.read()
    except urllib.error.HTTPError as e:
        raw = e.read()
    wall = time.monotonic() - t0
    d = json.loads(raw)
    if d.get("status") != "success":
        return wall, None, 0, d.get("error", "failed"), (0, 0.0)
    ev = d["data"].get("stats", {}).get("timings", {}).get("evalTotalTime")
    return wall, ev, len(d["data"]["result"]), None, digest(d["data"]["result"], edges)


def digest(result, edges):
    """(points, sum of the finite values), leaving out the range's first two
    steps (promtool's rule backfill evaluates from the second step on, when
    rate() over raw series has its first value):
    compares the recorded and the raw answer of one query."""
    n, total = 0, 0.0
    for r in result:
        for ts, v in r.get("values", [r.get("value")] if "value" in r else []):
            f = float(v)
            if math.isfinite(f) and float(ts) not in edges:
                n += 1
                total += f
    return n, total


def main():
    url, end, rng, step, ri, runs, rules, out = sys.argv[1:9]
    guarded_only = sys.argv[9:] == ["guarded"]
    repeat_max = float(os.environ.get("BENCH_REPEAT_MAX", "10"))
    end, rng, runs = float(end), float(rng), int(runs)
    values = {"namespace": ".*", "workload_name": ".*", "model_name": ".*", "backend": ".*",
              "role": ".*", "pod": ".*", "rules": rules, "__rate_interval": ri}
    with open(DASHBOARD, encoding="utf-8") as f:
        d = json.load(f)
    rows = []
    print("%-34s %-3s %9s %9s %7s" % ("panel", "ref", "wall s", "eval s", "series"), flush=True)
    for p in d["panels"]:
        for t in p.get("targets", []):
            if guarded_only and "infermon_rules" not in t["expr"]:
                continue
            q = substitute(t["expr"], values)
            if "$" in re.sub(r'\$(\d+|\{\d+\})', "", q):  # label_replace references stay
                sys.exit("unsubstituted variable in %s/%s: %s" % (p["title"], t["refId"], q))
            if t.get("instant"):
                path, params = "/api/v1/query", {"query": q, "time": end, "stats": "all"}
            else:
                path, params = "/api/v1/query_range", {"query": q, "start": end - rng, "end": end,
                                                       "step": step, "stats": "all"}
            best = None  # (wall, eval, series, error, digest)
            for _ in range(runs):
                r = run(url, path, params, (end - rng, end - rng + float(step)) if "step" in params else ())
                if best is None or (r[3] is None and r[0] < best[0]):
                    best = r
                if r[3] or r[0] > repeat_max:
                    break
            wall, ev, n, err, dig = best
            rows.append({"title": p["title"], "refId": t["refId"], "wall": wall, "eval": ev,
                         "series": n, "error": err, "points": dig[0], "sum": dig[1], "once": runs > 1 and wall > repeat_max,
                         "fallback": "infermon_rules" in t["expr"]})
            print("%-34s %-3s %9.3f %9s %7d%s" % (p["title"][:34], t["refId"], wall,
                                                  "%.3f" % ev if ev is not None else "-", n,
                                                  "  error: " + err if err else ""), flush=True)
    with open(out, "w", encoding="utf-8") as f:
        json.dump(rows, f, indent=1)
    keep = os.environ.get("BENCH_OUT")
    if keep:
        os.makedirs(keep, exist_ok=True)
        shutil.copy(out, keep)


if __name__ == "__main__":
    main()
