#!/usr/bin/env bash
# `infermon check URL` against the real llm-d-inference-sim under three
# streaming chat sessions: the incident of DESIGN.md ("The story it must get
# right"), the fixed limit, the opposite drift, and usage errors.
# it: no cluster
set -euo pipefail
. "$(dirname "$0")/lib.sh"

SIM_BIN=${INFERMON_SIM:-${XDG_CACHE_HOME:-$HOME/.cache}/infermon/bin/llm-d-inference-sim}
CK_PIDS=()

# Stops what this test started, by PID, and removes its work directory.
ck_cleanup() {
	local p
	for p in "${CK_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${CK_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$WORK"
}

ck_free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# ck_wait SECONDS COMMAND...: retries COMMAND every 0.25 s until it succeeds.
ck_wait() {
	local end=$((SECONDS + $1)); shift
	until "$@" >/dev/null 2>&1; do
		[ $SECONDS -lt $end ] || return 1
		sleep 0.25
	done
}

# ck_sim MAX_NUM_SEQS: the incident's engine, a 26B model whose KV cache
# (557 blocks of 16 tokens) holds 557 x 16 / 1024 = 8.70 worst-case
# sequences, run with the given --max-num-seqs. Sets URL.
ck_sim() {
	local port
	trap ck_cleanup EXIT
	[ -x "$SIM_BIN" ] || fail "no simulator at $SIM_BIN: run hack/tools/build.sh sim (or set INFERMON_SIM)"
	port=$(ck_free_port)
	"$SIM_BIN" --port "$port" --model qwen3-26b --force-dummy-tokenizer \
		--max-num-seqs "$1" --max-model-len 1024 --block-size 16 --kv-cache-size 557 \
		--time-to-first-token 200ms --inter-token-latency 50ms >"$WORK/sim.log" 2>&1 &
	CK_PIDS+=($!)
	URL=http://127.0.0.1:$port
	ck_wait 30 curl -sf "$URL/v1/models" || fail "the simulator did not start: $(tail -5 "$WORK/sim.log")"
}

# ck_holds N: the engine's running + waiting requests are N.
ck_holds() {
	local n
	n=$(curl -sf "$URL/metrics" |
		awk '/^vllm:num_requests_(running|waiting)[{ ]/ { n += $NF } END { print n + 0 }')
	[ "$n" = "$1" ]
}

# ck_load: three chat sessions. Each is one curl process sending 30 streaming
# requests of exactly 80 tokens (about 4 s each) back to back, so a session
# is never between requests for more than a moment; at most 30 s a request.
# Waits until the engine holds all three.
ck_load() {
	local body urls=() i
	body='{"model":"qwen3-26b","stream":true,"max_tokens":80,"ignore_eos":true,'
	body+='"messages":[{"role":"user","content":"Summarise the incident report."}]}'
	for i in $(seq 30); do urls+=("$URL/v1/chat/completions"); done
	for i in 1 2 3; do
		curl -sN -m 30 -H 'Content-Type: application/json' -d "$body" "${urls[@]}" >/dev/null 2>&1 &
		CK_PIDS+=($!)
	done
	ck_wait 30 ck_holds 3 || fail "the engine never held the three sessions"
}

# ck_check OUT ARGS...: runs `infermon check URL ARGS...`; stdout to OUT,
# stderr to OUT.err; sets RC.
ck_check() {
	local out=$1; shift
	set +e
	"$INFERMON_BIN" check "$URL" "$@" >"$out" 2>"$out.err"
	RC=$?
	set -e
}

# ck_check_until PATTERN... -- ARGS...: the verdicts that depend on load are
# read from sampled gauges; a session between two requests leaves the queue
# empty for a moment. Runs the check up to 3 times, until its output holds
# every pattern; the caller then asserts on the last run ($WORK/out).
ck_check_until() {
	local pats=() p ok i
	while [ "$1" != -- ]; do pats+=("$1"); shift; done
	shift
	for i in 1 2 3; do
		ck_check "$WORK/out" "$@"
		ok=1
		for p in "${pats[@]}"; do grep -q -- "$p" "$WORK/out" || ok=0; done
		[ $ok = 1 ] && return 0
		echo "check run $i lacked a load-dependent verdict; again" >&2
	done
}

ck_has() { grep -q -- "$2" "$1" || fail "no \"$2\" in: $(cat "$1" "$1.err" 2>/dev/null)"; }
ck_lacks() { ! grep -q -- "$2" "$1" || fail "unexpected \"$2\" in: $(cat "$1")"; }

# The incident: --max-num-seqs 2 on an engine whose KV cache holds 8.70
# sequences, three sessions. The limit comes from the command line given
# with --args, which also carries a secret that must never be printed.
test_incident_is_drift_saturation_and_admission_bound() {
	ck_sim 2
	ck_load
	ck_check_until "^  Saturated " "^  AdmissionBound " -- \
		--args "vllm serve m --max-num-seqs 2 --api-key TOPSECRET"
	[ $RC = 1 ] || fail "exit $RC, want 1: $(cat "$WORK/out" "$WORK/out.err")"
	ck_has "$WORK/out" "running       2 / max-num-seqs 2 (pod_args), saturation 100%"
	ck_has "$WORK/out" "kv-derived    max concurrency 8.70 (cache_config_info)"
	ck_has "$WORK/out" "max_model_len 1024 (v1_models)"
	ck_has "$WORK/out" "LimitDrift       max-num-seqs 2 (pod_args) is 77% below the KV-derived concurrency 8.70"
	ck_has "$WORK/out" "Saturated        running 2 of max-num-seqs 2 (pod_args) with 1 waiting"
	ck_has "$WORK/out" "AdmissionBound   queue 1 -> 1 while running sits at max-num-seqs 2 (pod_args)"
	ck_has "$WORK/out" "admission-bound, not memory-bound"
	ck_has "$WORK/out" "result        FAIL"
	! grep -q TOPSECRET "$WORK/out" "$WORK/out.err" || fail "the --args secret was printed"
}

test_incident_json_has_limits_and_sources() {
	ck_sim 2
	ck_load
	ck_check_until "running 2 of max-num-seqs 2 (pod_args) with" "admission-bound, not memory-bound" -- \
		-o json --args "--max-num-seqs 2 --api-key TOPSECRET"
	[ $RC = 1 ] || fail "exit $RC, want 1: $(cat "$WORK/out" "$WORK/out.err")"
	! grep -q TOPSECRET "$WORK/out" "$WORK/out.err" || fail "the --args secret was printed"
	python3 - "$WORK/out" <<'EOF' || fail "json: $(cat "$WORK/out")"
import json, sys
o = json.load(open(sys.argv[1]))
lim = o["limits"]
assert lim["maxNumSeqs"] == {"value": 2, "source": "pod_args"}, lim
assert lim["kvConcurrency"] == {"value": 8.7, "source": "cache_config_info"}, lim
assert lim["maxModelLen"] == {"value": 1024, "source": "v1_models"}, lim
assert o["models"] == ["qwen3-26b"], o["models"]
assert o["running"] == 2 and o["waiting"] >= 1, o
assert o["drift"] == -0.77, o["drift"]
assert o["healthy"] is False
checks = {c["type"]: c for c in o["checks"]}
for t in ("LimitDrift", "Saturated", "AdmissionBound"):
    assert checks[t]["status"] == "True", checks[t]
assert "77% below the KV-derived concurrency 8.70" in checks["LimitDrift"]["message"]
assert checks["KVCachePressure"]["status"] == "False"
EOF
}

# No --args: the engine default (256) would be an assumption; running pinned
# at 2 while requests wait, scrape after scrape, is what the engine shows.
test_incident_without_args_finds_the_observed_ceiling() {
	ck_sim 2
	ck_load
	ck_check_until "max-num-seqs 2 (observed_ceiling)" "^  AdmissionBound " --
	[ $RC = 1 ] || fail "exit $RC, want 1: $(cat "$WORK/out" "$WORK/out.err")"
	ck_has "$WORK/out" "running       2 / max-num-seqs 2 (observed_ceiling)"
	ck_has "$WORK/out" "LimitDrift       max-num-seqs 2 (observed_ceiling) is 77% below"
	ck_lacks "$WORK/out" "default_assumed"
}

# The fix: 8 is within 25% of 8.70, and three sessions fit.
test_limit_within_tolerance_is_healthy() {
	ck_sim 8
	ck_load
	ck_check "$WORK/out" --args "vllm serve m --max-num-seqs 8"
	[ $RC = 0 ] || fail "exit $RC, want 0: $(cat "$WORK/out" "$WORK/out.err")"
	ck_has "$WORK/out" "/ max-num-seqs 8 (pod_args)"
	ck_has "$WORK/out" "waiting       0"
	ck_has "$WORK/out" "result        healthy"
	ck_lacks "$WORK/out" "LimitDrift"
	ck_lacks "$WORK/out" "Saturated"
	ck_lacks "$WORK/out" "AdmissionBound"
}

# The opposite drift: 64 admitted against room for 8.70 over-commits the KV
# cache.
test_limit_far_above_kv_is_drift() {
	ck_sim 64
	ck_load
	ck_check "$WORK/out" --args "vllm serve m --max-num-seqs=64"
	[ $RC = 1 ] || fail "exit $RC, want 1: $(cat "$WORK/out" "$WORK/out.err")"
	ck_has "$WORK/out" "LimitDrift       max-num-seqs 64 (pod_args) is 635% above the KV-derived concurrency 8.70"
	ck_has "$WORK/out" "over-commit the KV cache"
	ck_lacks "$WORK/out" "Saturated"
}

# ck_engines MODE...: starts engines.py (composed SGLang and vLLM endpoints)
# with the given modes; ck_url MODE prints one's base URL.
ck_engines() {
	trap ck_cleanup EXIT
	python3 "$(dirname "$0")/engines.py" --max-seconds 300 "$@" >"$WORK/engines" 2>&1 &
	CK_PIDS+=($!)
	ck_wait 30 grep -qx ready "$WORK/engines" || fail "engines.py did not start: $(cat "$WORK/engines")"
}
ck_url() { echo "http://127.0.0.1:$(awk -v m="$1" '$1 == m { print $2 }' "$WORK/engines")"; }

# SGLang under both metric prefixes, dp_size 2: the cap is 24 per DP rank x 2
# from /get_server_info (the --max-running-requests in --args gives way),
# and the KV pool of both ranks over the context length holds 48.
test_sglang_limits_from_get_server_info() {
	local mode
	ck_engines sglang sglang-underscore
	for mode in sglang sglang-underscore; do
		URL=$(ck_url $mode)
		ck_check "$WORK/out" --backend sglang --samples 2 --interval 0.2 \
			--args "python -m sglang.launch_server --max-running-requests 200"
		[ $RC = 0 ] || fail "$mode: exit $RC, want 0: $(cat "$WORK/out" "$WORK/out.err")"
		ck_has "$WORK/out" "running       44 / max-num-seqs 48 (get_server_info)"
		ck_has "$WORK/out" "kv-derived    max concurrency 48.00 (kv_pool)"
		ck_has "$WORK/out" "max_model_len 4096 (get_server_info)"
		ck_has "$WORK/out" "result        healthy"
		ck_lacks "$WORK/out" "LimitDrift"
	done
}

# An engine that answers the first scrape and then goes away: a connection
# error, not a verdict on the last good numbers.
test_engine_gone_during_the_check_exits_2() {
	ck_engines once
	URL=$(ck_url once)
	ck_check "$WORK/out" --samples 3 --interval 0.2 --args "--max-num-seqs 48"
	[ $RC = 2 ] || fail "exit $RC, want 2: $(cat "$WORK/out" "$WORK/out.err")"
	grep -qF "GET $URL/metrics: cannot connect" "$WORK/out.err" ||
		fail "the error does not say so: $(cat "$WORK/out.err")"
}

# ck_err MESSAGE ARGS...: `infermon check ARGS` exits 2 with MESSAGE on
# stderr and prints no verdict.
ck_err() {
	local want=$1 rc; shift
	set +e
	"$INFERMON_BIN" check "$@" >"$WORK/out" 2>"$WORK/err"
	rc=$?
	set -e
	[ $rc = 2 ] || fail "check $*: exit $rc, want 2"
	grep -qF -- "$want" "$WORK/err" || fail "check $*: no \"$want\" in: $(cat "$WORK/err")"
	[ ! -s "$WORK/out" ] || fail "check $*: printed a verdict: $(cat "$WORK/out")"
}

test_usage_errors_exit_2() {
	local port
	trap ck_cleanup EXIT
	ck_err 'invalid --backend "tgi" (vllm, sglang, vllm-pd, sglang-pd)' \
		http://127.0.0.1:8000 --backend tgi
	ck_err 'URL "127.0.0.1:8000" must start with http:// or https://' 127.0.0.1:8000
	ck_err 'expected one URL' --backend vllm
	ck_err 'invalid --output "yaml" (text, json)' http://127.0.0.1:8000 -o yaml
	ck_err '--args has --max-num-seqs without a whole number after it' \
		http://127.0.0.1:8000 --args "--max-num-seqs lots"
	port=$(ck_free_port) # nothing listens there
	ck_err "GET http://127.0.0.1:$port/metrics: cannot connect" "http://127.0.0.1:$port"
}

run_test "$1"
