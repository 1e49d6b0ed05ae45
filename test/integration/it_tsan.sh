#!/usr/bin/env bash
# ThreadSanitizer over a controller run: the loop thread (watches, scrapes,
# reconciles, Events, publishing /metrics) and the libwebsockets thread
# (serving /metrics, /healthz, /readyz over HTTPS, each /metrics token
# reviewed on the loop and its verdict handed back) share state in
# documented places (lib/httpserver.h, lib/metricsauth.h); TSan must report
# no race while both are busy.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

test_controller_run_has_no_data_race() {
	local ns=it-tsan port mp i loops=() tokens=()
	[ -n "${INFERMON_TSAN_BIN:-}" ] && [ -x "$INFERMON_TSAN_BIN" ] ||
		fail "no ThreadSanitizer build (INFERMON_TSAN_BIN=${INFERMON_TSAN_BIN:-}); hack/test.sh builds build/tsan"
	port=$(free_port)
	start_sim "$port" qwen3-26b --max-num-seqs 2 --max-model-len 1024 --block-size 16 --kv-cache-size 557
	start_clients "$port" qwen3-26b 3
	fresh_ns $ns
	engine_pod $ns qwen-0 qwen vllm "$port" --max-num-seqs 2
	engine_pod $ns qwen-1 qwen vllm "$(free_port)" --max-num-seqs 2 # nothing listens: scrape failures
	TSAN_OPTIONS="halt_on_error=0 exitcode=66 second_deadlock_stack=1" \
		"$INFERMON_TSAN_BIN" run --namespace $ns --metrics-bind-address 127.0.0.1:0 \
		--scrape-interval 1s --scrape-timeout 1s --log-format json --leader-elect-namespace $ns \
		>"$WORK/log" 2>&1 &
	INFERMON_PID=$!
	CLEANUP_PIDS="$CLEANUP_PIDS $INFERMON_PID"
	wait_for 120 grep -q '"check":"AdmissionBound"' "$WORK/log" || fail "no verdict under TSan: $(tail -40 "$WORK/log")"
	mp=$(grep -o '"port":"[0-9]*"' "$WORK/log" | head -1 | grep -o '[0-9]*')
	# tokens: readers' (each a new review), one without the role, garbage
	for i in 1 2 3; do tokens+=("$(metrics_reader_token)"); done
	kubectl -n $ns create sa nobody >/dev/null
	tokens+=("$(kubectl -n $ns create token nobody)" garbage)
	# the server thread answers while the loop publishes (every 2 s),
	# reviews tokens and the pods change: 3 clients, 150 requests each,
	# bounded in time
	for i in 1 2 3; do
		(for j in $(seq 1 50); do
			curl -sk -m 15 -H "Authorization: Bearer ${tokens[$(((i + j) % ${#tokens[@]}))]}" \
				"https://127.0.0.1:$mp/metrics" >/dev/null || true
			curl -sk -m 5 "https://127.0.0.1:$mp/healthz" >/dev/null || true
			curl -sk -m 5 "https://127.0.0.1:$mp/readyz" >/dev/null || true
		done) &
		loops+=($!)
		CLEANUP_PIDS="$CLEANUP_PIDS $!"
	done
	kubectl -n $ns delete pod qwen-1 --wait=false >/dev/null # a target goes away mid-run
	engine_pod $ns qwen-2 qwen vllm "$port" --max-num-seqs 2
	wait_for 60 grep -q '"msg":"became leader"' "$WORK/log" || fail "did not lead under TSan: $(tail -20 "$WORK/log")"
	wait_for 60 bash -c "curl -sfk -H 'Authorization: Bearer ${tokens[0]}' https://127.0.0.1:$mp/metrics | grep -q 'infermon_scrape_up{namespace=\"$ns\",pod=\"qwen-2\".*} 1'" ||
		fail "qwen-2 never scraped"
	wait "${loops[@]}" # the request loops (not the simulator)
	kill -TERM "$INFERMON_PID"
	local rc=0
	wait "$INFERMON_PID" || rc=$?
	! grep -q 'WARNING: ThreadSanitizer' "$WORK/log" || fail "ThreadSanitizer: $(grep -A40 'WARNING: ThreadSanitizer' "$WORK/log" | head -120)"
	[ $rc -eq 0 ] || fail "exit $rc under TSan: $(tail -40 "$WORK/log")"
	kubectl delete ns $ns --wait=false >/dev/null
}

run_test "$1"
