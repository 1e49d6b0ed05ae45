#!/usr/bin/env python3
"""it_slo_sloth.sh's helper: infermon's SLO burn-rate alerts against Sloth's.

  slo_sloth.py specs RENDERED RULES_OUT DIR
      infermon's rules (no annotations) to RULES_OUT; one Sloth
      prometheus/v1 spec per SLO period to DIR/sloth-<period>.yaml, whose
      SLIs are the error (total - good) and total queries of infermon's own
      ratio_rate30m recording with the window templated.
  slo_sloth.py merge OUT FILES...      Sloth's outputs as one rules file
  slo_sloth.py test OUT INFERMON SLOTH SCENARIO
      a promtool unit test on SCENARIO's series: at the last minute, probes
      of the first and last minute each page/ticket alert of either rule set
      fired and in how many minutes (expected -2, so promtool prints them),
      and per alert that no minute had one firing without the other.
  slo_sloth.py parse PROMTOOL_OUTPUT INFERMON SLOTH SCENARIO
      prints the table row of each alert; fails when the two differ, the
      page (fast) or ticket (slow) never fired, or anything fired in none.
"""
import json
import re
import sys

import yaml

HOURS = 24
N = HOURS * 60       # minutes: the rules are evaluated once a minute
SAMPLE = 2           # a sample every 2 minutes (enough for rate()[5m])
PER_MIN = 600        # requests a minute

HIST = {"ttft": "vllm:time_to_first_token_seconds", "e2e": "vllm:e2e_request_latency_seconds"}
LE = {"ttft": "2.5", "e2e": "10.0"}
SLOS = None


def load(rendered):
    groups = []
    for d in yaml.safe_load_all(open(rendered)):
        if d and d["kind"] == "PrometheusRule":
            groups += d["spec"]["groups"]
    return groups


def objectives(groups):
    """(sli, target, window, error query, total query) per objective."""
    out = []
    for g in groups:
        if not g["name"].startswith("infermon-slo."):
            continue
        for r in g["rules"]:
            if r.get("alert") == "LLMErrorBudgetBurnPage":
                l = r["labels"]
                out.append([l["sli"], float(l["target"]), l["window"]])
        for o in out:
            for r in g["rules"]:
                if r.get("record") == "infermon:slo_sli_error:ratio_rate30m" and r["labels"]["sli"] == o[0]:
                    err, tot = r["expr"].split("\n/\n")
                    tot = tot.strip()
                    m = re.fullmatch(r"\(\s*(.*?)\s*> 0\s*\)", tot, re.S)
                    tot = m.group(1) if m else tot
                    o += [err.replace("[30m]", "[{{.window}}]"), tot.replace("[30m]", "[{{.window}}]")]
    for o in out:
        assert len(o) == 5, o
    return out


def specs(rendered, rules_out, d):
    groups = load(rendered)
    for g in groups:
        for r in g["rules"]:
            r.pop("annotations", None)
    yaml.safe_dump({"groups": groups}, open(rules_out, "w"), sort_keys=False)
    by_period = {}
    for sli, target, window, err, tot in objectives(groups):
        by_period.setdefault(window, []).append({
            "name": sli,
            "objective": target,
            "sli": {"events": {"error_query": err, "total_query": tot}},
            "alerting": {"name": "Sloth" + sli.upper(),
                         "page_alert": {"labels": {"severity": "critical"}},
                         "ticket_alert": {"labels": {"severity": "warning"}}},
        })
    for period, slos in by_period.items():
        yaml.safe_dump({"version": "prometheus/v1", "service": "chat", "slos": slos},
                       open("%s/sloth-%s.yaml" % (d, period), "w"), sort_keys=False)
        print(period)


def merge(out, files):
    groups = []
    for f in files:
        groups += yaml.safe_load(open(f))["groups"]
    yaml.safe_dump({"groups": groups}, open(out, "w"), sort_keys=False)


# error ratio as a multiple of the budget, per phase (start minute, multiple):
# fast: 40x for an hour (page); slow: 5x for 18 h (ticket, under the page
# factors 13.44/5.6 and 14.4/6); none: half the budget throughout.
# Phases start at multiples of SAMPLE.
SCENARIOS = {
    "fast": [(0, 0), (4 * 60, 40), (5 * 60, 0)],
    "slow": [(0, 0), (4 * 60, 5), (16 * 60, 0)],
    "none": [(0, 0.5)],
}
BUDGET = {"ttft": 0.01, "e2e": 0.005}


def series(sli, scenario):
    """count and good-bucket values, one every SAMPLE minutes, as promtool
    expands them."""
    phases = SCENARIOS[scenario] + [(N, None)]
    count, good, segs_c, segs_g = 0, 0, [], []
    for (start, mult), (end, _) in zip(phases, phases[1:]):
        inc = PER_MIN * SAMPLE
        bad = round(inc * mult * BUDGET[sli])
        n = (end - start) // SAMPLE
        segs_c.append("%d+%dx%d" % (count, inc, n - 1))
        segs_g.append("%d+%dx%d" % (good, inc - bad, n - 1))
        count += inc * n
        good += (inc - bad) * n
    return " ".join(segs_c), " ".join(segs_g)


def alerts(rules):
    """(sli, kind, alertname) of each page/ticket alert in a rules file."""
    out = []
    for g in yaml.safe_load(open(rules))["groups"]:
        for r in g["rules"]:
            if not r.get("alert", "").startswith(("LLMErrorBudgetBurn", "Sloth")):
                continue
            sev = r["labels"]["severity"]
            # Sloth's alert takes sloth_slo from the recordings it reads
            sli = r["labels"].get("sli") or re.search(r'sloth_slo="([^"]*)"', r["expr"]).group(1)
            out.append((sli, "page" if sev == "critical" else "ticket", r["alert"]))
    return out


def firing(name, who, sli, kind):
    return 'ALERTS{alertname="%s", alertstate="firing", severity="%s", %s="%s"}' % (
        name, "critical" if kind == "page" else "warning", "sli" if who == "infermon" else "sloth_slo", sli)


def probes(rules, who):
    """((who, sli, kind, what), expr) at the last minute: the first and last
    minute the alert was firing and in how many minutes (-1: never)."""
    out = []
    end = "%dm" % (N - 1)
    for sli, kind, name in alerts(rules):
        sel = firing(name, who, sli, kind)
        for what, e in (
            ("first", "min_over_time((timestamp(count(%s)) / 60)[%s:1m])" % (sel, end)),
            ("last", "max_over_time((timestamp(count(%s)) / 60)[%s:1m])" % (sel, end)),
            ("minutes", "count_over_time(count(%s)[%s:1m])" % (sel, end)),
        ):
            out.append(((who, sli, kind, what), "(%s) or vector(-1)" % e))
    return out


def pairs(infermon, sloth):
    """(sli, kind, infermon alertname, Sloth's alertname) of each alert."""
    s = {(sli, kind): name for sli, kind, name in alerts(sloth)}
    return [(sli, kind, name, s[(sli, kind)]) for sli, kind, name in alerts(infermon)]


def test(out, infermon, sloth, scenario):
    ser = []
    for sli in HIST:
        c, g = series(sli, scenario)
        l = 'namespace="llm", workload_name="chat", pod="chat-0"'
        ser.append({"series": "%s_count{%s}" % (HIST[sli], l), "values": c})
        ser.append({"series": '%s_bucket{%s, le="%s"}' % (HIST[sli], l, LE[sli]), "values": g})
        ser.append({"series": '%s_bucket{%s, le="+Inf"}' % (HIST[sli], l), "values": c})
    end = "%dm" % (N - 1)
    exprs = []
    # the probes expect an impossible -2: promtool prints what they got
    for key, e in probes(infermon, "infermon") + probes(sloth, "sloth"):
        exprs.append({"expr": e, "eval_time": end, "exp_samples": [{"labels": "{}", "value": -2}]})
    # and minute by minute, infermon's alert fires exactly when Sloth's does
    for sli, kind, a, b in pairs(infermon, sloth):
        i = "count(%s)" % firing(a, "infermon", sli, kind)
        j = "count(%s)" % firing(b, "sloth", sli, kind)
        exprs.append({"expr": "count_over_time(((%s unless %s) or (%s unless %s))[%s:1m]) or vector(0)"
                      % (i, j, j, i, end), "eval_time": end, "exp_samples": [{"labels": "{}", "value": 0}]})
    # promtool evaluates groups in a random order unless told: Sloth keeps
    # its recordings and alerts in separate groups, and an alert group run
    # before its recordings reads them a minute old. Recordings first, as
    # infermon's one group runs them.
    names = [g["name"] for f in (infermon, sloth) for g in yaml.safe_load(open(f))["groups"]]
    order = sorted(names, key=lambda n: ("alerts" in n, n))
    t = {"rule_files": [infermon, sloth], "evaluation_interval": "1m", "group_eval_order": order,
         "tests": [{"interval": "%dm" % SAMPLE, "input_series": ser, "promql_expr_test": exprs}]}
    yaml.safe_dump(t, open(out, "w"), sort_keys=False, width=1 << 20)


def parse(out, infermon, sloth, scenario):
    """Reads promtool's output: every probe's value; fails on any other
    failure (a minute where the two disagree) or a differing probe."""
    text = open(out).read()
    got, other = {}, []
    for m in re.finditer(r'expr: ("(?:[^"\\]|\\.)*"), time: [^,]*,(?:\s*exp: [^\n]*\n\s*got: \{\} (\S+)|(.*))', text):
        e = json.loads(m.group(1))
        if m.group(2) is None:
            other.append("%s: %s" % (e, m.group(3)))
        else:
            got[e] = float(m.group(2))
    probe = dict((e, k) for k, e in probes(infermon, "infermon") + probes(sloth, "sloth"))
    vals = {}
    for e, v in got.items():
        if e in probe:
            vals[probe[e]] = v
        else:
            other.append("%s: got %s" % (e, v))
    missing = [k for k in probe.values() if k not in vals]
    bad = list(other) + ["no value for %s" % (k,) for k in missing]

    def when(who, sli, kind):
        f, l, n = (vals.get((who, sli, kind, w), -1) for w in ("first", "last", "minutes"))
        if f < 0:
            return "never"
        # resolved the minute after the last one firing, if before the end
        r = "%dm" % (l + 1) if l + 1 < N else "-"
        return "%dm..%s (%d min%s)" % (f, r, n, "" if n == l - f + 1 else ", not contiguous")

    for sli, kind, _, _ in pairs(infermon, sloth):
        a, b = when("infermon", sli, kind), when("sloth", sli, kind)
        print("%-5s %-4s %-6s infermon %-30s sloth %s" % (scenario, sli, kind, a, b))
        if a != b:
            bad.append("%s %s %s: infermon %s, sloth %s" % (scenario, sli, kind, a, b))
        must = {"fast": "page", "slow": "ticket"}.get(scenario)
        if kind == must and a == "never":
            bad.append("%s %s: the %s alert never fired" % (scenario, sli, kind))
        if scenario == "none" and a != "never":
            bad.append("none %s: %s fired" % (sli, kind))
        if scenario == "slow" and kind == "page" and a != "never":
            bad.append("slow %s: page fired" % sli)
    if bad:
        sys.exit("\n".join(bad))


if __name__ == "__main__":
    a = sys.argv
    if a[1] == "specs":
        specs(a[2], a[3], a[4])
    elif a[1] == "merge":
        merge(a[2], a[3:])
    elif a[1] == "test":
        test(a[2], a[3], a[4], a[5])
    elif a[1] == "parse":
        parse(a[2], a[3], a[4], a[5])
    else:
        sys.exit(__doc__)
