#!/usr/bin/env bash
# `infermon run --config FILE`: the file's settings take effect, flags
# override them, and a bad file stops everything before it starts.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

# The file picks json logs, namespaces, a Lease name and a bind address;
# the flags override the namespaces and the bind address.
test_config_file_applies_and_flags_override() {
	local ns=it-config mp
	kubectl delete ns $ns --ignore-not-found --wait=true >/dev/null
	kubectl create ns $ns >/dev/null
	cat > "$WORK/run.yaml" <<-YAML
		# infermon run settings
		namespaces: [it-config-not-this-one]
		metricsBindAddress: "127.0.0.1:1"
		scrapeInterval: 1s
		logFormat: json
		leaderElection:
		  resourceNamespace: $ns
		  resourceName: from-config
		  retryPeriod: 1
	YAML
	start_infermon "$WORK/log" run --config "$WORK/run.yaml" --namespace $ns --metrics-secure=false --metrics-bind-address 127.0.0.1:0
	wait_for 30 grep -q '"became leader"' "$WORK/log" || fail "did not lead: $(cat "$WORK/log")"
	# the file's settings
	grep -q '^{"ts":' <<<"$(head -1 "$WORK/log")" || fail "logFormat: json from the file not applied: $(head -1 "$WORK/log")"
	kubectl -n $ns get lease from-config >/dev/null || fail "resourceName/resourceNamespace from the file not applied"
	# the flags over the file
	grep -q '"pod list complete","namespace":"it-config"' "$WORK/log" || fail "--namespace did not override: $(cat "$WORK/log")"
	! grep -q 'it-config-not-this-one' "$WORK/log" || fail "the file's namespaces were watched too"
	mp=$(grep -o '"msg":"serving /metrics, /healthz, /readyz","address":"[^"]*","port":"[0-9]*"' "$WORK/log" | grep -o '[0-9]*"$' | tr -d '"')
	[ -n "$mp" ] && [ "$mp" != 1 ] || fail "--metrics-bind-address did not override: port $mp"
	curl -sf "http://127.0.0.1:$mp/healthz" >/dev/null || fail "no /healthz on the flag's port"
	stop_infermon
	kubectl delete ns $ns --wait=false >/dev/null
}

# expect_refused FILE-CONTENT WANT: exit 2, one line on stderr matching WANT
# (a grep -E pattern), nothing on stdout, nothing done on the cluster.
expect_refused() {
	local rc=0
	printf '%s' "$1" > "$WORK/bad.yaml"
	"$INFERMON_BIN" run --config "$WORK/bad.yaml" --leader-elect-namespace it-config-bad \
		>"$WORK/out" 2>"$WORK/err" || rc=$?
	[ $rc -eq 2 ] || fail "exit $rc, want 2, for: $1 ($(cat "$WORK/err"))"
	[ ! -s "$WORK/out" ] || fail "stdout not empty: $(cat "$WORK/out")"
	[ "$(wc -l < "$WORK/err")" -eq 1 ] || fail "want one line on stderr: $(cat "$WORK/err")"
	grep -Eq "$2" "$WORK/err" || fail "message $(cat "$WORK/err") does not match $2"
}

test_bad_config_file_is_named_with_file_and_line() {
	kubectl delete ns it-config-bad --ignore-not-found --wait=true >/dev/null
	kubectl create ns it-config-bad >/dev/null
	expect_refused $'scrapeInterval: 15s\nleaderElection:\n  leaseDurations: 15s\n' \
		'^infermon run: .*/bad\.yaml:3: unknown key "leaderElection\.leaseDurations"$'
	expect_refused $'logFormat: json\nscrapeInterval: [15s]\n' \
		'^infermon run: .*/bad\.yaml:2: scrapeInterval must be a duration .*, not a list$'
	expect_refused $'events: "false"\n' '^infermon run: .*/bad\.yaml:1: events must be true or false, not a string$'
	expect_refused $'\n\nlogLevel: loud\n' '^infermon run: .*/bad\.yaml:3: invalid logLevel "loud" \(debug, info, warn, error\)$'
	expect_refused $'watchTimeout: 1500ms\n' \
		'^infermon run: .*/bad\.yaml:1: invalid watchTimeout "1500ms" \(whole seconds from 1s to 30m, such as 5m\)$'
	expect_refused $'namespaces: [a\n' '^infermon run: .*/bad\.yaml:2:1: did not find expected'
	expect_refused $'leaderElection:\n  leaseDuration: 5s\n  renewDeadline: 10s\n' \
		'lease duration \(5000ms\) must be at least 1s and longer than the renew deadline \(10000ms\)'
	# nothing was started: no Lease in the namespace the flags named
	[ -z "$(kubectl -n it-config-bad get leases -o name)" ] || fail "a refused run created a Lease"
	"$INFERMON_BIN" run --config "$WORK/missing.yaml" 2>"$WORK/err" && fail "exit 0 on a missing file"
	grep -q 'missing.yaml' "$WORK/err" || fail "missing file not named: $(cat "$WORK/err")"
	kubectl delete ns it-config-bad --wait=false >/dev/null
}

run_test "$1"
