#!/usr/bin/env bash
# it: no cluster
# infermon's SLO burn-rate alerts against Sloth's (issue 15): for the same
# objectives, with Sloth's SLI being the same error (total - good) and total
# queries, both rule sets run in `promtool test rules` on the same series,
# and the page and ticket alerts fire and resolve in the same minutes for a
# fast burn, a slow burn and no burn. The grid is promtool's evaluation
# interval, one minute, over 30 hours of one-a-minute samples.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
TOOL=$ROOT/test/integration/slo_sloth.py
DATA=$ROOT/test/data/slo
SLOTH=$(infermon_cache)/bin/sloth

# infermon.yml: the rendered rules; sloth.yml: Sloth's for the same SLOs
rule_sets() {
	local period
	[ -x "$SLOTH" ] || fail "no $SLOTH: run hack/tools/build.sh sloth"
	"$INFERMON_BIN" render -f "$DATA/sloth.yaml" > "$WORK/r.yaml"
	python3 "$TOOL" specs "$WORK/r.yaml" "$WORK/infermon.yml" "$WORK" > "$WORK/periods"
	[ "$(sort "$WORK/periods" | tr '\n' ' ')" = "28d 30d " ] || fail "want objectives over 28d and 30d: $(cat "$WORK/periods")"
	while read -r period; do
		"$SLOTH" generate --default-slo-period "$period" -i "$WORK/sloth-$period.yaml" \
			-o "$WORK/sloth-$period.rules.yml" > "$WORK/sloth.out" 2>&1 ||
			fail "sloth generate ($period): $(cat "$WORK/sloth.out")"
	done < "$WORK/periods"
	python3 "$TOOL" merge "$WORK/sloth.yml" "$WORK"/sloth-*.rules.yml
}

test_both_rule_sets_pass_promtool_check() {
	local f
	rule_sets
	for f in infermon sloth; do
		"$(infermon_cache)/bin/promtool" check rules "$WORK/$f.yml" > "$WORK/check.out" 2>&1 ||
			fail "promtool check rules $f.yml: $(cat "$WORK/check.out")"
		echo "$f: $(grep SUCCESS "$WORK/check.out")"
	done
}

test_burn_alerts_match_sloth() {
	local s rc
	rule_sets
	for s in fast slow none; do
		python3 "$TOOL" test "$WORK/$s.test.yml" "$WORK/infermon.yml" "$WORK/sloth.yml" "$s"
		rc=0
		(cd "$WORK" && "$(infermon_cache)/bin/promtool" test rules "$s.test.yml") > "$WORK/$s.out" 2>&1 || rc=$?
		# the probes fail by design (promtool prints their values)
		[ "$rc" -eq 1 ] || fail "promtool test rules $s: exit $rc: $(cat "$WORK/$s.out")"
		python3 "$TOOL" parse "$WORK/$s.out" "$WORK/infermon.yml" "$WORK/sloth.yml" "$s" ||
			fail "scenario $s: infermon's alerts differ from Sloth's"
	done
}

run_test "$1"
