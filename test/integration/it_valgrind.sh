#!/usr/bin/env bash
# valgrind over a full controller run: the release build of infermon watches
# the real API server, scrapes a real simulator, posts Events, serves
# /metrics over HTTPS to reviewed tokens (allowed, forbidden, garbage, and
# one still under review when it stops), leads through a Lease it hands back on SIGTERM; valgrind must
# find no error and no leak.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

test_controller_run_has_no_leaks() {
	local ns=it-valgrind port mp reader nobody
	[ -n "${INFERMON_RELEASE_BIN:-}" ] && [ -x "$INFERMON_RELEASE_BIN" ] ||
		fail "no release build (INFERMON_RELEASE_BIN=${INFERMON_RELEASE_BIN:-}); hack/build-trees.sh builds build/release"
	command -v valgrind >/dev/null || fail "no valgrind (Debian: valgrind, in hack/lib.sh's test packages)"
	port=$(free_port)
	start_sim "$port" qwen3-26b --max-num-seqs 2 --max-model-len 1024 --block-size 16 --kv-cache-size 557
	start_clients "$port" qwen3-26b 3
	kubectl delete ns $ns --ignore-not-found --wait=true >/dev/null
	kubectl create ns $ns >/dev/null
	engine_pod $ns qwen-0 qwen vllm "$port" --max-num-seqs 2
	engine_pod $ns qwen-1 qwen vllm "$(free_port)" --max-num-seqs 2   # nothing listens: scrape failures
	valgrind --fair-sched=yes --leak-check=full --errors-for-leak-kinds=definite,indirect --error-exitcode=97 \
		--log-file="$WORK/valgrind.log" \
		"$INFERMON_RELEASE_BIN" run --namespace $ns --metrics-bind-address 127.0.0.1:0 \
		--scrape-interval 1s --scrape-timeout 1s --log-format json --leader-elect-namespace $ns \
		>"$WORK/log" 2>&1 &
	INFERMON_PID=$!
	wait_for 120 grep -q '"check":"AdmissionBound"' "$WORK/log" || fail "no verdict under valgrind: $(cat "$WORK/log")"
	mp=$(grep -o '"port":"[0-9]*"' "$WORK/log" | head -1 | grep -o '[0-9]*')
	reader=$(metrics_reader_token) || fail "no reader token"
	kubectl -n $ns create sa nobody >/dev/null
	nobody=$(kubectl -n $ns create token nobody)
	wait_for 30 bash -c "curl -sfk -H 'Authorization: Bearer $reader' https://127.0.0.1:$mp/metrics | grep -q infermon_engine_max_num_seqs" ||
		fail "no /metrics"
	[ "$(curl -sk -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $nobody" "https://127.0.0.1:$mp/metrics")" = 403 ] ||
		fail "a token without the role was not refused"
	[ "$(curl -sk -o /dev/null -w '%{http_code}' -H "Authorization: Bearer garbage" "https://127.0.0.1:$mp/metrics")" = 401 ] ||
		fail "a garbage token was not refused"
	kubectl -n $ns delete pod qwen-1 --wait=false >/dev/null   # a target goes away mid-run
	wait_for 60 grep -q '"msg":"became leader"' "$WORK/log" || fail "did not lead under valgrind: $(cat "$WORK/log")"
	sleep 3
	# a request whose token is still under review as the controller stops
	reader=$(metrics_reader_token) || fail "no reader token"
	curl -sk -m 20 -o /dev/null -H "Authorization: Bearer $reader" "https://127.0.0.1:$mp/metrics" &
	sleep 0.2
	kill -TERM "$INFERMON_PID"
	local rc=0
	wait "$INFERMON_PID" || rc=$?
	grep -E 'ERROR SUMMARY|definitely lost|indirectly lost' "$WORK/valgrind.log" || true
	[ $rc -eq 0 ] || fail "exit $rc under valgrind: $(tail -40 "$WORK/valgrind.log")"
	grep -q 'ERROR SUMMARY: 0 errors' "$WORK/valgrind.log" || fail "valgrind errors: $(cat "$WORK/valgrind.log")"
	grep -q '"msg":"released the lease"' "$WORK/log" || fail "the Lease was not handed back: $(tail -20 "$WORK/log")"
	kubectl delete ns $ns --wait=false >/dev/null
}

run_test "$1"
