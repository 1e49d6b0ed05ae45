#!/usr/bin/env bash
# it: no cluster
# SLO objectives (spec.slo.objectives) as `infermon render` writes their
# rules, in promtool: they load, and on synthetic series of every engine
# naming the error ratios, budget left and burn rates come out as computed
# by hand and the burn-rate alerts fire where they must.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
TOOL=$ROOT/test/integration/alerts_test.py
DATA=$ROOT/test/data/slo

test_rendered_slo_rules_pass_promtool_check() {
	local p n=0 want
	"$INFERMON_BIN" render -f "$DATA/objectives.yaml" > "$WORK/r.yaml"
	python3 "$TOOL" rules "$WORK/r.yaml" "$WORK/rules.yml"
	# chat: 3 SLIs x (2 rates + 7 ratios) + 3 window ratios + 3 x 2
	# per objective + 3 x 2 alerts; sgl, sglu: 9 + 1 + 2 + 2; idle
	# (alerts off): 9 + 1 + 2; plus the 4 always-on alerts of the three
	# with alerts.enabled
	want=$((27 + 3 + 6 + 6 + 2 * 14 + 12 + 3 * 4))
	for p in $(promtools); do
		n=$((n + 1))
		"$p" check rules "$WORK/rules.yml" > "$WORK/check.out" 2>&1 || fail "$p check rules: $(cat "$WORK/check.out")"
		grep -q "SUCCESS: $want rules found" "$WORK/check.out" || fail "$p: want $want rules: $(cat "$WORK/check.out")"
		echo "$p: $(grep SUCCESS "$WORK/check.out")"
	done
	[ $n -gt 0 ] || fail "no promtool found"
	[ "$(grep -c '^- name: infermon-slo\.' "$WORK/rules.yml")" -eq 4 ] || fail "want 4 SLO groups"
	python3 - "$WORK/rules.yml" <<'PY' || fail "burn alerts where alerts are off, or none where on"
import sys, yaml
for g in yaml.safe_load(open(sys.argv[1]))["groups"]:
    if g["name"].startswith("infermon-slo."):
        alerts = [r["alert"] for r in g["rules"] if "alert" in r]
        want = [] if g["name"] == "infermon-slo.llm.idle" else None
        assert alerts == want if want is not None else alerts, (g["name"], alerts)
PY
}

# vLLM >= 0.11 names, a whole-second bound as Prometheus 3 stores it
# ("1.0") and as engines write it ("1"), TPOT's old name per pod and the
# simulator's double export, SGLang with both prefixes and two TP ranks, a
# prefill pod, finished reasons, an idle workload: the values of
# test/data/slo/objectives.test.yml, worked out by hand there.
test_slo_rules_compute_every_engine_naming() {
	local p
	"$INFERMON_BIN" render -f "$DATA/objectives.yaml" > "$WORK/r.yaml"
	python3 "$TOOL" rules "$WORK/r.yaml" "$WORK/rules.yml" --no-annotations
	cp "$DATA/objectives.test.yml" "$WORK/"
	for p in $(promtools); do
		echo "$p"
		(cd "$WORK" && "$p" test rules objectives.test.yml) > "$WORK/test.out" 2>&1 ||
			fail "$p test rules: $(cat "$WORK/test.out")"
		grep -q SUCCESS "$WORK/test.out" || fail "$p: $(cat "$WORK/test.out")"
	done
}

run_test "$1"
