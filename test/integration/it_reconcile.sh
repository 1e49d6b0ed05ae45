#!/usr/bin/env bash
# The reconciler on the real API server with the prometheus-operator CRDs and
# kube-controller-manager's garbage collector.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

test_cr_yields_service_and_monitor_which_gc_follows() {
	local ns=it-rec-gc
	fresh_ns $ns
	start_controller
	apply_iw $ns qwen "{backend: vllm, monitor: {labels: {release: prom}}}"
	apply_iw $ns llama "{backend: sglang, monitor: {kind: PodMonitor}, scrapeConfig: {scrapeConfigResource: true}}"
	wait_for 30 kubectl -n $ns get servicemonitor infermon-qwen || fail "no ServiceMonitor"
	kubectl -n $ns get service infermon-qwen -o jsonpath='{.spec.clusterIP}' | grep -qx None || fail "Service not headless"
	[ "$(kubectl -n $ns get servicemonitor infermon-qwen -o jsonpath='{.metadata.labels.release}')" = prom ] ||
		fail "monitor labels missing"
	[ "$(kubectl -n $ns get servicemonitor infermon-qwen -o jsonpath='{.metadata.ownerReferences[0].kind}')" = InferenceWorkload ] ||
		fail "no ownerReference"
	wait_for 30 kubectl -n $ns get podmonitor infermon-llama || fail "no PodMonitor"
	wait_for 30 kubectl -n $ns get scrapeconfig infermon-llama || fail "no ScrapeConfig"
	! kubectl -n $ns get service infermon-llama >/dev/null 2>&1 || fail "a PodMonitor workload got a Service"
	wait_for 30 scrape_secret_lists $ns llama ||
		fail "scrape-config Secret lacks the jobs"
	# status: observedGeneration and a Ready condition
	wait_for 30 iw_condition_is $ns qwen Ready True ||
		fail "no Ready condition: $(kubectl -n $ns get iw qwen -o yaml)"
	[ "$(kubectl -n $ns get iw qwen -o jsonpath='{.status.observedGeneration}')" = 1 ] || fail "observedGeneration"
	# delete the CR: the garbage collector removes what it owned
	kubectl -n $ns delete iw qwen llama >/dev/null
	wait_for 60 bash -c "! kubectl -n $ns get servicemonitor infermon-qwen >/dev/null 2>&1 && ! kubectl -n $ns get service infermon-qwen >/dev/null 2>&1 && ! kubectl -n $ns get podmonitor infermon-llama >/dev/null 2>&1" ||
		fail "generated objects outlived their CR"
	wait_for 30 bash -c "! kubectl -n monitoring get secret infermon-scrape-configs -o jsonpath='{.data.scrape-configs\\.yaml}' | base64 -d | grep -Eq '(regex: |\\|)$ns;'" ||
		fail "jobs of deleted CRs stay in the Secret"
	stop_infermon
}

test_deleted_or_edited_objects_are_restored() {
	local ns=it-rec-restore
	fresh_ns $ns
	start_controller
	apply_iw $ns qwen "{backend: vllm, metrics: {interval: 30s}}"
	wait_for 30 kubectl -n $ns get servicemonitor infermon-qwen || fail "no ServiceMonitor"
	kubectl -n $ns delete servicemonitor infermon-qwen >/dev/null
	wait_for 30 kubectl -n $ns get servicemonitor infermon-qwen || fail "deleted ServiceMonitor not restored"
	kubectl -n $ns patch servicemonitor infermon-qwen --type=json \
		-p '[{"op":"replace","path":"/spec/endpoints/0/interval","value":"99s"}]' >/dev/null
	wait_for 30 bash -c "kubectl -n $ns get servicemonitor infermon-qwen -o jsonpath='{.spec.endpoints[0].interval}' | grep -qx 30s" ||
		fail "edited ServiceMonitor not restored"
	kubectl -n $ns delete service infermon-qwen >/dev/null
	wait_for 30 kubectl -n $ns get service infermon-qwen || fail "deleted Service not restored"
	# the log says what was put back: created again (at least twice in all), and updated
	[ "$(grep -c 'msg="created generated object" what="create ServiceMonitor it-rec-restore/infermon-qwen"' "$WORK/log")" -ge 2 ] ||
		fail "the ServiceMonitor's re-creation is not logged: $(grep 'generated object' "$WORK/log")"
	grep -q 'msg="wrote generated object" what="update ServiceMonitor it-rec-restore/infermon-qwen"' "$WORK/log" ||
		fail "the ServiceMonitor's repair is not logged: $(grep 'generated object' "$WORK/log")"
	stop_infermon
}

test_spec_changes_update_and_prune() {
	local ns=it-rec-change
	fresh_ns $ns
	start_controller
	apply_iw $ns qwen "{backend: vllm}"
	wait_for 30 kubectl -n $ns get servicemonitor infermon-qwen || fail "no ServiceMonitor"
	apply_iw $ns qwen "{backend: vllm, metrics: {interval: 45s, path: /stats}}"
	wait_for 30 bash -c "kubectl -n $ns get servicemonitor infermon-qwen -o jsonpath='{.spec.endpoints[0].interval}{.spec.endpoints[0].path}' | grep -qx 45s/stats" ||
		fail "spec change not applied"
	apply_iw $ns qwen "{backend: vllm, monitor: {kind: PodMonitor}}"
	wait_for 30 kubectl -n $ns get podmonitor infermon-qwen || fail "no PodMonitor after the switch"
	wait_for 30 bash -c "! kubectl -n $ns get servicemonitor infermon-qwen >/dev/null 2>&1 && ! kubectl -n $ns get service infermon-qwen >/dev/null 2>&1" ||
		fail "ServiceMonitor and Service not pruned after the switch"
	wait_for 30 bash -c "kubectl -n $ns get iw qwen -o jsonpath='{.status.observedGeneration}' | grep -qx 3" ||
		fail "observedGeneration did not follow: $(kubectl -n $ns get iw qwen -o jsonpath='{.status.observedGeneration}')"
	stop_infermon
}

# Labelled pods without a CR get the defaults; their objects go a grace
# period after the last pod. Not before: judged on the controller's own
# clock (its log), not by looking once after a sleep, which a slow machine
# passes whatever the controller does.
test_pod_only_workload_is_pruned_after_grace() {
	local ns=it-rec-pods port t0 t1
	fresh_ns $ns
	port=$(free_port)
	start_sim "$port" m --max-num-seqs 8
	start_controller --prune-grace 3s
	engine_pod $ns solo-0 solo vllm "$port" --max-num-seqs 8
	wait_for 30 kubectl -n $ns get servicemonitor infermon-solo || fail "no ServiceMonitor for a labelled pod"
	kubectl -n $ns delete pod solo-0 --wait=false >/dev/null
	# the reconcile that saw the last pod go starts the grace period
	wait_for 30 grep -q "msg=\"workload has no pods; its objects go after the grace period\" namespace=$ns workload=solo grace=3.000s" "$WORK/log" ||
		fail "the grace period did not start: $(tail -20 "$WORK/log")"
	wait_for 30 bash -c "! kubectl -n $ns get servicemonitor infermon-solo >/dev/null 2>&1" ||
		fail "not pruned after the grace period"
	t0=$(log_time "$WORK/log" "msg=\"workload has no pods;") || fail "no time for the grace period's start"
	t1=$(log_time "$WORK/log" "what=\"delete ServiceMonitor $ns/infermon-solo\"") ||
		fail "the ServiceMonitor's deletion is not logged: $(grep 'generated object' "$WORK/log")"
	echo "ServiceMonitor deleted $(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }') s after the grace period started (grace 3 s)"
	# 0.5 s below the grace: the controller times the grace on its loop's
	# cached clock, which lags the log's clock by up to one loop iteration;
	# pruning at once or at half the grace still fails
	awk -v a="$t0" -v b="$t1" 'BEGIN { exit !(b - a >= 2.5) }' ||
		fail "pruned $(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }') s after the grace period started, before its 3 s"
	stop_infermon
}

# The incident, seen through the CR: limit and its source, drift, conditions,
# printer columns; and an idle cluster gets no writes.
test_status_reports_live_limits_and_idle_means_no_writes() {
	local ns=it-rec-status port w1 w2
	fresh_ns $ns
	port=$(free_port)
	start_sim "$port" qwen3-26b --max-num-seqs 2 --max-model-len 1024 --block-size 16 --kv-cache-size 557
	engine_pod $ns qwen-0 qwen vllm "$port" --max-num-seqs 2
	apply_iw $ns qwen "{backend: vllm, limits: {maxNumSeqs: 2}}"
	start_controller
	wait_for 60 iw_condition_is $ns qwen LimitDrift True ||
		fail "no LimitDrift condition: $(kubectl -n $ns get iw qwen -o yaml)"
	[ "$(kubectl -n $ns get iw qwen -o jsonpath='{.status.limit}/{.status.limitSource}/{.status.drift}/{.status.podsReady}')" = "2/pod_args/-77%/1/1" ] ||
		fail "status: $(kubectl -n $ns get iw qwen -o jsonpath='{.status}')"
	kubectl -n $ns get iw qwen | tee "$WORK/get"
	grep -q 'qwen *vllm *1/1 .*-77%' "$WORK/get" || fail "printer columns"
	# idle: nothing changes, so nothing is written for 60 s
	sleep 5
	w1=$(api_writes)
	sleep 60
	w2=$(api_writes)
	echo "API writes over 60 s idle: $w1 -> $w2"
	[ "$w1" = "$w2" ] || fail "idle controller wrote $((w2 - w1)) times in 60 s"
	# the controller's own health: reconcile latency histogram, queue depth
	curl -sf "http://127.0.0.1:$(metrics_port)/metrics" > "$WORK/self"
	grep -q '^infermon_reconcile_duration_seconds_bucket{le="+Inf"} [1-9]' "$WORK/self" ||
		fail "no reconcile latency histogram: $(grep reconcile "$WORK/self")"
	grep -q '^infermon_workqueue_depth 0$' "$WORK/self" || fail "queue not drained"
	# promtool's lint: every finding fails the test but the counter-suffix
	# one. Its output is kept and judged apart from its exit status, which
	# is non-zero on any finding.
	local rc=0
	"$(infermon_cache)/bin/promtool" check metrics < "$WORK/self" > "$WORK/lint" 2>&1 || rc=$?
	grep -v 'counter metrics should have "_total" suffix' "$WORK/lint" > "$WORK/findings" || true
	[ ! -s "$WORK/findings" ] || fail "promtool check metrics (exit $rc): $(cat "$WORK/findings")"
	[ $rc -eq 0 ] || [ -s "$WORK/lint" ] || fail "promtool check metrics exited $rc and said nothing"
	echo "promtool check metrics: exit $rc, $(wc -l < "$WORK/lint") line(s), none but the counter-suffix lint"
	stop_infermon
}

run_test "$1"
