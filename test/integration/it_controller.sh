#!/usr/bin/env bash
# The controller end to end: real API server, real llm-d-inference-sim
# engines behind labelled pods, infermon run scraping them.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

metrics_port() {
	grep -o '"msg":"serving /metrics, /healthz, /readyz","address":"[^"]*","port":"[0-9]*"' "$WORK/log" |
		grep -o '[0-9]*"$' | tr -d '"'
}

# The incident in DESIGN.md: max-num-seqs 2 where the KV cache holds 8.70.
test_incident_is_reported_within_two_scrapes() {
	local ns=it-incident port mp
	port=$(free_port)
	start_sim "$port" qwen3-26b --max-num-seqs 2 --max-model-len 1024 --block-size 16 --kv-cache-size 557
	start_clients "$port" qwen3-26b 3
	wait_for 30 bash -c "curl -s http://127.0.0.1:$port/metrics | grep -q '^vllm:num_requests_waiting{.*} [1-9]'" ||
		fail "the simulator never queued a request"
	kubectl delete ns $ns --ignore-not-found --wait=true >/dev/null
	kubectl create ns $ns >/dev/null
	engine_pod $ns qwen-0 qwen vllm "$port" serve qwen3-26b --max-num-seqs 2 --api-key TOPSECRET
	start_infermon "$WORK/log" run --namespace $ns --metrics-bind-address 127.0.0.1:0 \
		--scrape-interval 2s --log-format json
	wait_for 60 grep -q '"check":"AdmissionBound"' "$WORK/log" || fail "no AdmissionBound: $(cat "$WORK/log")"
	# LimitDrift needs one scrape. AdmissionBound needs two saturated scrapes
	# in a row: it comes at most one scrape after Saturated (whether a given
	# scrape catches a request waiting depends on request timing).
	grep -q '"check became true".*"check":"LimitDrift","scrape":"1"' "$WORK/log" ||
		fail "LimitDrift not on the first scrape: $(grep check "$WORK/log")"
	local sat ab
	sat=$(grep -o '"check":"Saturated","scrape":"[0-9]*"' "$WORK/log" | head -1 | grep -o '[0-9]*')
	ab=$(grep -o '"check":"AdmissionBound","scrape":"[0-9]*"' "$WORK/log" | head -1 | grep -o '[0-9]*')
	[ -n "$sat" ] && [ -n "$ab" ] && [ "$ab" -le $((sat + 1)) ] ||
		fail "AdmissionBound (scrape $ab) more than one scrape after Saturated (scrape $sat): $(grep check "$WORK/log")"
	grep -q '"check":"LimitDrift".*77% below the KV-derived concurrency 8.70' "$WORK/log" || fail "drift message"
	# Warning events on the pod, once per transition
	wait_for 30 bash -c "kubectl -n $ns get events.events.k8s.io -o jsonpath='{range .items[*]}{.reason}/{.type}/{.regarding.name}{\"\\n\"}{end}' | grep -q '^LimitDrift/Warning/qwen-0$'" ||
		fail "no LimitDrift event: $(kubectl -n $ns get events.events.k8s.io -o wide)"
	kubectl -n $ns get events.events.k8s.io -o jsonpath='{range .items[*]}{.reason}{"\n"}{end}' > "$WORK/reasons"
	grep -qx AdmissionBound "$WORK/reasons" || fail "no AdmissionBound event"
	[ "$(grep -cx LimitDrift "$WORK/reasons")" -eq 1 ] || fail "LimitDrift event posted more than once"
	# the controller's own /metrics carry the live limit and its source
	mp=$(metrics_port)
	wait_for 10 bash -c "curl -sf http://127.0.0.1:$mp/metrics | grep -q 'infermon_check_active{.*check=\"AdmissionBound\"} 1'" ||
		fail "metrics: $(curl -s http://127.0.0.1:$mp/metrics | grep infermon_check)"
	curl -sf "http://127.0.0.1:$mp/metrics" > "$WORK/metrics"
	grep -q 'infermon_engine_max_num_seqs{namespace="it-incident",pod="qwen-0",workload_name="qwen",backend="vllm",source="pod_args"} 2$' "$WORK/metrics" ||
		fail "max_num_seqs series: $(grep max_num_seqs "$WORK/metrics")"
	grep -q 'infermon_engine_kv_max_concurrency{.*source="cache_config_info"} 8.703125$' "$WORK/metrics" || fail "kv concurrency series"
	grep -q 'infermon_pod_info{namespace="it-incident",pod="qwen-0",workload_name="qwen",backend="vllm",role="",model_name="qwen3-26b"} 1$' "$WORK/metrics" ||
		fail "pod_info: $(grep pod_info "$WORK/metrics")"
	curl -sf "http://127.0.0.1:$mp/readyz" >/dev/null || fail "not ready"
	curl -sf "http://127.0.0.1:$mp/healthz" >/dev/null || fail "not healthy"
	! grep -q TOPSECRET "$WORK/log" "$WORK/metrics" || fail "a secret argument leaked"
	# the pod goes away: its series go with it
	kubectl -n $ns delete pod qwen-0 --wait=false >/dev/null
	wait_for 30 bash -c "! curl -sf http://127.0.0.1:$mp/metrics | grep -q 'pod=\"qwen-0\"'" ||
		fail "series of a deleted pod remain"
	stop_infermon
	kubectl delete ns $ns --wait=false >/dev/null
}

# max-num-seqs 8 (within 25% of 8.70) clears; 64 over-commits.
test_limit_drift_follows_the_live_limit() {
	local ns=it-drift p8 p64 mp
	p8=$(free_port); p64=$(free_port)
	start_sim "$p8" m8 --max-num-seqs 8 --max-model-len 1024 --block-size 16 --kv-cache-size 557
	start_sim "$p64" m64 --max-num-seqs 64 --max-model-len 1024 --block-size 16 --kv-cache-size 557
	kubectl delete ns $ns --ignore-not-found --wait=true >/dev/null
	kubectl create ns $ns >/dev/null
	engine_pod $ns e8-0 e8 vllm "$p8" --max-num-seqs=8
	engine_pod $ns e64-0 e64 vllm "$p64" --max-num-seqs 64
	start_infermon "$WORK/log" run --namespace $ns --metrics-bind-address 127.0.0.1:0 \
		--scrape-interval 1s --log-format json
	wait_for 60 grep -q '"pod":"e64-0".*"check":"LimitDrift"' "$WORK/log" || fail "no drift for 64: $(cat "$WORK/log")"
	grep -q '"pod":"e64-0".*"check":"LimitDrift".*635% above' "$WORK/log" || fail "not called over-commit"
	mp=$(metrics_port)
	wait_for 30 bash -c "curl -sf http://127.0.0.1:$mp/metrics | grep -q 'infermon_check_active{namespace=\"$ns\",pod=\"e8-0\",workload_name=\"e8\",check=\"LimitDrift\"} 0'" ||
		fail "e8 not judged"
	! grep -q '"pod":"e8-0".*"check":"\(LimitDrift\|Saturated\|AdmissionBound\)"' "$WORK/log" || fail "e8 flagged"
	stop_infermon
	kubectl delete ns $ns --wait=false >/dev/null
}

run_test "$1"
