#!/usr/bin/env bash
# it: no cluster
# The dashboard's recording rules (deploy/prometheus/dashboard_rules.yaml)
# in promtool: they load, and every recording a panel reads equals the raw
# query it stands for, on synthetic series of every engine naming
# (test/dashboard/rulecheck.py has the series and the checks; the queries
# come from dashboards/generate.py). docs/dashboard.md, "At fleet scale".
set -euo pipefail
. "$(dirname "$0")/lib.sh"

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
RULES=$ROOT/deploy/prometheus/dashboard_rules.yaml

test_dashboard_rules_equal_the_raw_queries() {
	local p n=0 want
	python3 "$ROOT/dashboards/generate.py" --check || fail "the rules or the dashboard are not what dashboards/generate.py writes"
	python3 "$ROOT/test/dashboard/rulecheck.py" "$WORK" "$RULES" || fail "rulecheck.py"
	want=$(grep -c '^    - record: ' "$RULES")
	for p in $(promtools); do
		n=$((n + 1))
		echo "$p"
		"$p" check rules "$WORK/rules.yml" >"$WORK/check.out" 2>&1 || fail "$p check rules: $(cat "$WORK/check.out")"
		grep -q "SUCCESS: $want rules found" "$WORK/check.out" || fail "$p: want $want rules: $(cat "$WORK/check.out")"
		(cd "$WORK" && "$p" test rules rules.test.yml) >"$WORK/test.out" 2>&1 ||
			fail "$p test rules: $(head -c 20000 "$WORK/test.out")"
		grep -q SUCCESS "$WORK/test.out" || fail "$p: $(cat "$WORK/test.out")"
	done
	[ $n -gt 0 ] || fail "no promtool found"
}

run_test "$1"
