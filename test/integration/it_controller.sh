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
	start_infermon "$WORK/log" run --namespace $ns --metrics-secure=false --metrics-bind-address 127.0.0.1:0 \
		--scrape-interval 2s --log-format json
	wait_for 60 grep -q '"check":"AdmissionBound"' "$WORK/log" || fail "no AdmissionBound: $(cat "$WORK/log")"
	# LimitDrift needs one scrape. AdmissionBound needs two saturated scrapes
	# in a row: it comes at most one scrape after Saturated (whether a given
	# scrape catches a request waiting depends on request timing).
	grep -q '"check became true".*"check":"LimitDrift","scrape":"1"' "$WORK/log" ||
		fail "LimitDrift not on the first scrape: $(grep check "$WORK/log")"
	# Saturated may clear and return before (a scrape between one client's
	# request and its next sees nobody waiting): the bound is on the
	# Saturated spell AdmissionBound came in, which began at most one
	# scrape before it
	local sat ab
	ab=$(grep -o '"check":"AdmissionBound","scrape":"[0-9]*"' "$WORK/log" | head -1 | grep -o '[0-9]*')
	sat=$(grep '"check became true".*"check":"Saturated"' "$WORK/log" | grep -o '"scrape":"[0-9]*"' | grep -o '[0-9]*' |
		awk -v ab="${ab:-0}" '$1 <= ab { s = $1 } END { print s }' || true)
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
	start_infermon "$WORK/log" run --namespace $ns --metrics-secure=false --metrics-bind-address 127.0.0.1:0 \
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

# unhold_pod NS POD: drops the test's finalizer from POD if it is still there
# (at exit: a failing at_exit step fails the test, and after a pass the pod
# is gone)
unhold_pod() {
	! kubectl -n "$1" get pod "$2" >/dev/null 2>&1 ||
		kubectl -n "$1" patch pod "$2" --type=merge -p '{"metadata":{"finalizers":null}}' >/dev/null
}

# A pod's life as a kubelet writes it, which no other test plays: Ready
# going False and back, a new pod IP, and graceful deletion (the pod lingers
# with a deletionTimestamp while a finalizer holds it). The controller
# scrapes a pod only while it is Running, Ready and not being deleted, and
# always at its current IP. engines.py binds 127.0.0.1 only, so a scrape at
# 127.0.0.2 fails and says where it went. A second pod on an engine of its
# own, always Ready, is the clock: its scrapes show the controller at work
# while the first is checked for having none.
test_not_ready_new_ip_and_graceful_deletion() {
	local ns=it-lifecycle port mport mp g0 m0
	fresh_ns $ns
	start_engines vllm-fork vllm-fork-nodev
	port=$(engine_port vllm-fork)
	mport=$(engine_port vllm-fork-nodev)
	engine_pod $ns p-0 w vllm "$port"
	engine_pod $ns clock-0 clock vllm "$mport"
	start_infermon "$WORK/log" run --namespace $ns --metrics-secure=false --metrics-bind-address 127.0.0.1:0 \
		--scrape-interval 1s --log-format json
	wait_for 30 bash -c "grep -q 'serving /metrics' '$WORK/log'" || fail "no /metrics: $(cat "$WORK/log")"
	mp=$(metrics_port)
	status() { kubectl -n $ns patch pod p-0 --subresource=status --type=merge -p "$1" >/dev/null; }
	clock_ticked() { [ "$(engine_gets "$mport")" -ge $((m0 + 3)) ]; }
	wait_for 30 scrape_up_is "$mp" $ns p-0 1 || fail "p-0 is not scraped: up=$(scrape_up "$mp" $ns p-0)"

	# NotReady: no longer a target (its series go), and the engine is not asked
	status '{"status":{"conditions":[{"type":"Ready","status":"False"}]}}'
	wait_for 30 scrape_up_is "$mp" $ns p-0 "" ||
		fail "a NotReady pod is still a target: up=$(scrape_up "$mp" $ns p-0)"
	g0=$(engine_gets "$port") m0=$(engine_gets "$mport")
	wait_for 30 clock_ticked || fail "the clock pod is not scraped either"
	[ "$(engine_gets "$port")" = "$g0" ] ||
		fail "a NotReady pod was scraped ($g0, then $(engine_gets "$port") requests)"
	status '{"status":{"conditions":[{"type":"Ready","status":"True"}]}}'
	wait_for 30 scrape_up_is "$mp" $ns p-0 1 ||
		fail "Ready again, not scraped again: up=$(scrape_up "$mp" $ns p-0)"

	# a new IP: scraped there (and failing there, where nothing listens)
	status '{"status":{"podIP":"127.0.0.2","podIPs":[{"ip":"127.0.0.2"}]}}'
	wait_for 30 grep -q "\"check\":\"ScrapeFailed\".*127.0.0.2:$port" "$WORK/log" ||
		fail "the new IP is not scraped: $(grep -i scrape "$WORK/log" | tail -5)"
	wait_for 30 scrape_up_is "$mp" $ns p-0 0 || fail "up is not 0 at the new IP: up=$(scrape_up "$mp" $ns p-0)"
	status '{"status":{"podIP":"127.0.0.1","podIPs":[{"ip":"127.0.0.1"}]}}'
	wait_for 30 grep -q '"check cleared".*"pod":"p-0".*"check":"ScrapeFailed"' "$WORK/log" ||
		fail "back at 127.0.0.1, ScrapeFailed does not clear: $(grep ScrapeFailed "$WORK/log" | tail -3)"

	# graceful deletion: the pod stays (a finalizer), deletionTimestamp set
	kubectl -n $ns patch pod p-0 --type=merge -p '{"metadata":{"finalizers":["infermon.io/it-hold"]}}' >/dev/null
	at_exit unhold_pod $ns p-0
	kubectl -n $ns delete pod p-0 --wait=false >/dev/null
	[ -n "$(kubectl -n $ns get pod p-0 -o jsonpath='{.metadata.deletionTimestamp}')" ] ||
		fail "the pod has no deletionTimestamp"
	wait_for 30 scrape_up_is "$mp" $ns p-0 "" ||
		fail "a pod being deleted is still a target: up=$(scrape_up "$mp" $ns p-0)"
	kubectl -n $ns get pod p-0 >/dev/null || fail "the pod went before the check"
	kubectl -n $ns patch pod p-0 --type=merge -p '{"metadata":{"finalizers":null}}' >/dev/null
	stop_infermon
	kubectl delete ns $ns --wait=false >/dev/null
}

# HTTPS engines (engines.py's vllm-tls: a self-signed certificate for
# 127.0.0.1). The built-in scraper verifies certificates unless the CR says
# insecureSkipVerify; an engine whose CA is in a Secret is left to
# Prometheus (the scraper reads no Secrets), whose monitor carries the CA.
test_https_engines() {
	local ns=it-https port mp
	fresh_ns $ns
	start_engines vllm-tls
	port=$(engine_port vllm-tls)
	kubectl -n $ns create secret generic engine-ca --from-file=ca.crt="$(dirname "$0")/../data/tls/engine.crt" >/dev/null
	apply_iw $ns skip '{backend: vllm, metrics: {scheme: https, tls: {insecureSkipVerify: true}}}'
	apply_iw $ns verify '{backend: vllm, metrics: {scheme: https}}'
	apply_iw $ns ca '{backend: vllm, metrics: {scheme: https, tls: {ca: {secretKeyRef: {name: engine-ca, key: ca.crt}}}}}'
	engine_pod $ns skip-0 skip vllm "$port"
	engine_pod $ns verify-0 verify vllm "$port"
	engine_pod $ns ca-0 ca vllm "$port"
	start_infermon "$WORK/log" run --namespace $ns --metrics-secure=false --metrics-bind-address 127.0.0.1:0 \
		--scrape-interval 1s --log-format json --log-level debug
	wait_for 30 bash -c "grep -q 'serving /metrics' '$WORK/log'" || fail "no /metrics: $(cat "$WORK/log")"
	mp=$(metrics_port)
	wait_for 30 scrape_up_is "$mp" $ns skip-0 1 ||
		fail "insecureSkipVerify: not scraped over https: $(grep skip-0 "$WORK/log" | tail -3)"
	wait_for 10 bash -c "curl -sf http://127.0.0.1:$mp/metrics | grep -q '^infermon_engine_max_num_seqs{namespace=\"$ns\",pod=\"skip-0\",.*} 48\$'" ||
		fail "the limit was not read over https: $(curl -sf "http://127.0.0.1:$mp/metrics" | grep max_num_seqs)"
	wait_for 30 grep -q '"check became true".*"pod":"verify-0".*"check":"ScrapeFailed".*https://127.0.0.1:'"$port"'.*certificate' "$WORK/log" ||
		fail "a self-signed engine without insecureSkipVerify was not refused: $(grep verify-0 "$WORK/log" | tail -3)"
	# the page is at most a second old: wait for the one after that scrape
	wait_for 10 scrape_up_is "$mp" $ns verify-0 0 || fail "verify-0 up: $(scrape_up "$mp" $ns verify-0)"
	wait_for 30 grep -q '"msg":"engine needs credentials from a Secret.*"pod":"'$ns'/ca-0"' "$WORK/log" ||
		fail "the CA-from-a-Secret engine is not left to Prometheus: $(grep ca-0 "$WORK/log" | tail -3)"
	[ -z "$(scrape_up "$mp" $ns ca-0)" ] || fail "the built-in scraper scrapes ca-0"
	wait_for 30 bash -c "kubectl -n $ns get servicemonitor -o json | python3 -c '
import json, sys
for m in json.load(sys.stdin)[\"items\"]:
    for e in m[\"spec\"][\"endpoints\"]:
        t = e.get(\"tlsConfig\", {})
        if e.get(\"scheme\") == \"https\" and t.get(\"ca\", {}).get(\"secret\", {}).get(\"name\") == \"engine-ca\" \
           and t[\"ca\"][\"secret\"].get(\"key\") == \"ca.crt\":
            sys.exit(0)
sys.exit(1)'" || fail "no ServiceMonitor carries the CA: $(kubectl -n $ns get servicemonitor -o yaml | grep -A6 endpoints)"
	stop_infermon
	kubectl delete ns $ns --wait=false >/dev/null
}

run_test "$1"
