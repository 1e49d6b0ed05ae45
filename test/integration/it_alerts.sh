#!/usr/bin/env bash
# it: no cluster
# The PrometheusRules infermon renders, in promtool: they load (templates
# included), and on synthetic series of every engine naming the alerts fire
# where they must and nowhere else.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
TOOL=$ROOT/test/integration/alerts_test.py

test_rendered_rules_pass_promtool_check() {
	local p n=0
	"$INFERMON_BIN" render -f "$ROOT/test/data/render/workloads.yaml" -f "$ROOT/test/data/alerts/workloads.yaml" \
		> "$WORK/r.yaml"
	python3 "$TOOL" rules "$WORK/r.yaml" "$WORK/rules.yml"
	[ "$(grep -c '^- name: infermon\.' "$WORK/rules.yml")" -eq 7 ] || fail "want 7 rule groups: $(grep 'name: infermon' "$WORK/rules.yml")"
	for p in $(promtools); do
		n=$((n + 1))
		"$p" check rules "$WORK/rules.yml" > "$WORK/check.out" 2>&1 || fail "$p check rules: $(cat "$WORK/check.out")"
		grep -q 'SUCCESS: 42 rules found' "$WORK/check.out" || fail "$p: $(cat "$WORK/check.out")"
		echo "$p: $(grep SUCCESS "$WORK/check.out")"
	done
	[ $n -gt 0 ] || fail "no promtool found"
}

# vLLM >= 0.11 and 0.9 names, the simulator's double TPOT export, SGLang
# with both prefixes and TP ranks, a prefill/decode pair, end-to-end
# latency against spec.slo.e2eP95Seconds, the controller's LimitDrift and
# AdmissionBound series as the shipped ServiceMonitor has Prometheus store
# them, a target down. Every alert fires for some workload.
test_alerts_fire_for_every_engine_naming() {
	local p
	"$INFERMON_BIN" render -f "$ROOT/test/data/alerts/workloads.yaml" > "$WORK/r.yaml"
	grep -q 'alert: LLME2ELatencyAboveSLO' "$WORK/r.yaml" || fail "no LLME2ELatencyAboveSLO rule rendered"
	# annotations hold $value templates: promtool test would compare their text
	(cd "$WORK" && python3 "$TOOL" rules r.yaml rules.yml --no-annotations &&
		python3 "$TOOL" unittest rules.yml alerts.test.yml \
			"$ROOT/deploy/prometheus/service_monitor.yaml" "$ROOT/deploy/prometheus/service.yaml")
	python3 - "$WORK/alerts.test.yml" <<'PY' || fail "an alert is only ever expected silent"
import sys, yaml
t = yaml.safe_load(open(sys.argv[1]))["tests"][0]["alert_rule_test"]
silent = {a["alertname"] for a in t} - {a["alertname"] for a in t if a["exp_alerts"]}
assert not silent, sorted(silent)
print("every alert is expected to fire: %s" % ", ".join(sorted({a["alertname"] for a in t})))
PY
	for p in $(promtools); do
		echo "$p"
		(cd "$WORK" && "$p" test rules alerts.test.yml) || fail "$p test rules"
	done
}

run_test "$1"
