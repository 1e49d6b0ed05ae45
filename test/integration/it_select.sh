#!/usr/bin/env bash
# What the reconciler judges from the cluster: whether a Prometheus selects
# the generated monitor (and the labels that make it), a CR moving to
# another workload, and the CR's endpoint and expected limit applied to the
# built-in scraper. Real API server with the prometheus-operator CRDs.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

cond() { # cond NS NAME TYPE -> status/reason
	kubectl -n "$1" get iw "$2" -o jsonpath="{.status.conditions[?(@.type==\"$3\")].status}/{.status.conditions[?(@.type==\"$3\")].reason}"
}

cond_msg() {
	kubectl -n "$1" get iw "$2" -o jsonpath="{.status.conditions[?(@.type==\"$3\")].message}"
}

msg_has() { # msg_has NS NAME TYPE TEXT: the condition's message holds TEXT; for wait_for
	cond_msg "$1" "$2" "$3" | grep -qF "$4"
}

events_of() { # events_of NS NAME: "type reason" lines of the CR's events
	kubectl -n "$1" get events.events.k8s.io --field-selector "regarding.name=$2,regarding.kind=InferenceWorkload" \
		-o jsonpath='{range .items[*]}{.type} {.reason}{"\n"}{end}'
}

prometheus() { # prometheus NAME SPEC-YAML-FLOW (in namespace monitoring)
	kubectl apply -f - >/dev/null <<YAML
apiVersion: monitoring.coreos.com/v1
kind: Prometheus
metadata: {name: $1, namespace: monitoring}
spec: $2
YAML
}

test_monitor_selected_condition_and_match_prometheus() {
	local ns=it-sel
	fresh_ns $ns
	kubectl -n monitoring delete prometheus it-sel-kp it-sel-team --ignore-not-found >/dev/null
	# kube-prometheus-stack's habit: monitors labelled release=<name>, any namespace
	prometheus it-sel-kp "{serviceMonitorSelector: {matchLabels: {release: kp}}, serviceMonitorNamespaceSelector: {}, ruleSelector: {matchLabels: {role: alert-rules}}, ruleNamespaceSelector: {}}"
	start_controller
	apply_iw $ns qwen "{backend: vllm}"
	wait_for 30 iw_condition_is $ns qwen MonitorSelected False ||
		fail "no MonitorSelected=False: $(kubectl -n $ns get iw qwen -o yaml)"
	[ "$(cond $ns qwen MonitorSelected)" = False/NotSelected ] || fail "reason: $(cond $ns qwen MonitorSelected)"
	cond_msg $ns qwen MonitorSelected | tee "$WORK/msg"
	echo
	grep -q 'monitoring/it-sel-kp selects ServiceMonitors {release=kp} in every namespace' "$WORK/msg" ||
		fail "the message does not say what the Prometheus wants"
	grep -q 'matchPrometheus: true' "$WORK/msg" || fail "the message does not say how to fix it"
	wait_for 30 iw_has_event $ns qwen 'Warning NotSelected' ||
		fail "no Warning event: $(events_of $ns qwen)"
	# asked to match: the monitor gets release=kp and is selected
	apply_iw $ns qwen "{backend: vllm, monitor: {matchPrometheus: true}, alerts: {enabled: true}}"
	wait_for 30 bash -c "kubectl -n $ns get servicemonitor infermon-qwen -o jsonpath='{.metadata.labels.release}' | grep -qx kp" ||
		fail "label not stamped: $(kubectl -n $ns get servicemonitor infermon-qwen -o yaml)"
	wait_for 30 bash -c "kubectl -n $ns get prometheusrule infermon-qwen -o jsonpath='{.metadata.labels.role}' | grep -qx alert-rules" ||
		fail "ruleSelector label not stamped on the PrometheusRule: $(kubectl -n $ns get prometheusrule -o yaml)"
	wait_for 30 iw_condition_is $ns qwen MonitorSelected True ||
		fail "not selected after matchPrometheus: $(cond_msg $ns qwen MonitorSelected)"
	cond_msg $ns qwen MonitorSelected | grep -q 'selected by Prometheus monitoring/it-sel-kp' || fail "message"
	wait_for 30 iw_has_event $ns qwen 'Normal MonitorSelected' ||
		fail "no Normal event on recovery: $(events_of $ns qwen)"
	# a Prometheus that only looks in namespaces labelled team=ml, PodMonitors
	# labelled scrape=<anything>: selection follows the namespace's labels
	kubectl -n monitoring delete prometheus it-sel-kp >/dev/null
	prometheus it-sel-team "{podMonitorSelector: {matchExpressions: [{key: scrape, operator: Exists}]}, podMonitorNamespaceSelector: {matchLabels: {team: ml}}}"
	apply_iw $ns qwen "{backend: vllm, monitor: {kind: PodMonitor, matchPrometheus: true}}"
	wait_for 30 iw_condition_is $ns qwen MonitorSelected False ||
		fail "selected although the namespace is not admitted: $(cond_msg $ns qwen MonitorSelected)"
	# (False already held for the ServiceMonitor: wait for the PodMonitor's message)
	wait_for 30 msg_has $ns qwen MonitorSelected 'in namespaces {team=ml}' ||
		fail "message: $(cond_msg $ns qwen MonitorSelected)"
	kubectl label ns $ns team=ml >/dev/null
	wait_for 30 iw_condition_is $ns qwen MonitorSelected True ||
		fail "namespace label not seen: $(cond_msg $ns qwen MonitorSelected)"
	[ "$(kubectl -n $ns get podmonitor infermon-qwen -o jsonpath='{.metadata.labels.scrape}')" = true ] ||
		fail "Exists not stamped: $(kubectl -n $ns get podmonitor infermon-qwen -o yaml)"
	stop_infermon
	kubectl -n monitoring delete prometheus it-sel-team >/dev/null
	pass "MonitorSelected follows Prometheus selectors and namespace labels"
}

# infermon run --match-prometheus: a workload with no CR (labelled pods
# alone) gets the labels the Prometheus selects on its monitor, and keeps
# none without the flag.
test_match_prometheus_flag_for_workloads_without_a_cr() {
	local ns=it-sel-solo
	fresh_ns $ns
	kubectl -n monitoring delete prometheus it-sel-solo --ignore-not-found >/dev/null
	prometheus it-sel-solo "{serviceMonitorSelector: {matchLabels: {release: solo}}, serviceMonitorNamespaceSelector: {}}"
	at_exit kubectl -n monitoring delete prometheus it-sel-solo --ignore-not-found
	kubectl apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Pod
metadata:
  name: solo-0
  namespace: $ns
  labels: {alibabacloud.com/inference-workload: solo, alibabacloud.com/inference-backend: vllm}
spec:
  containers:
  - {name: engine, image: engine:test, ports: [{name: http, containerPort: 8000}]}
YAML
	sm_release() { kubectl -n $ns get servicemonitor infermon-solo -o jsonpath='{.metadata.labels.release}' 2>/dev/null; }
	has_sm() { kubectl -n $ns get servicemonitor infermon-solo >/dev/null 2>&1; }
	start_controller
	wait_for 30 has_sm || fail "no ServiceMonitor for the pod-only workload: $(tail -5 "$WORK/log")"
	[ -z "$(sm_release)" ] || fail "stamped without --match-prometheus: release=$(sm_release)"
	stop_infermon
	start_controller --match-prometheus
	release_is_solo() { [ "$(sm_release)" = solo ]; }
	wait_for 30 release_is_solo || fail "--match-prometheus did not stamp release=solo: $(kubectl -n $ns get servicemonitor infermon-solo -o yaml)"
	stop_infermon
	echo "ServiceMonitor $ns/infermon-solo (no CR): no release label without the flag, release=solo with --match-prometheus"
}

test_workload_rename_prunes_old_objects() {
	local ns=it-sel-rename
	fresh_ns $ns
	start_controller
	apply_iw $ns chat "{backend: vllm, workloadName: alpha}"
	wait_for 30 kubectl -n $ns get servicemonitor infermon-alpha || fail "no ServiceMonitor for alpha"
	wait_for 30 scrape_secret_lists $ns alpha ||
		fail "no job for alpha"
	apply_iw $ns chat "{backend: vllm, workloadName: beta}"
	wait_for 30 kubectl -n $ns get servicemonitor infermon-beta || fail "no ServiceMonitor for beta"
	wait_for 30 bash -c "! kubectl -n $ns get servicemonitor infermon-alpha >/dev/null 2>&1 && ! kubectl -n $ns get service infermon-alpha >/dev/null 2>&1" ||
		fail "alpha's objects outlived the rename"
	wait_for 30 bash -c "! { . test/integration/lib.sh; scrape_secret_lists $ns alpha; }" ||
		fail "alpha's job stays in the Secret"
	grep -q 'workload no longer selected by its InferenceWorkload' "$WORK/log" || fail "no log line"
	stop_infermon
	pass "a renamed workload's objects go at once"
}

# The built-in scraper follows the CR's endpoint (its path here). The CR expects 8 sequences,
# the engine runs 2: LimitMatchesSpec=False and a Warning event; fixing the
# CR clears it.
test_cr_endpoint_and_expected_limit() {
	local ns=it-sel-limit port
	fresh_ns $ns
	port=$(free_port)
	start_sim "$port" qwen --max-num-seqs 2 --max-model-len 1024 --block-size 16 --kv-cache-size 557
	engine_pod $ns qwen-0 qwen vllm "$port" --max-num-seqs 2
	apply_iw $ns qwen "{backend: vllm, metrics: {port: http, interval: 1s}, limits: {maxNumSeqs: 8}}"
	start_controller
	wait_for 60 iw_condition_is $ns qwen LimitMatchesSpec False ||
		fail "no LimitMatchesSpec=False: $(kubectl -n $ns get iw qwen -o yaml)"
	cond_msg $ns qwen LimitMatchesSpec | tee "$WORK/msg"
	echo
	grep -q 'pod qwen-0 runs max-num-seqs 2 (from pod_args); spec.limits.maxNumSeqs is 8' "$WORK/msg" || fail "message"
	[ "$(kubectl -n $ns get iw qwen -o jsonpath='{.status.expectedLimit}/{.status.limit}/{.status.runningLimit}/{.status.saturation}')" = "8/2/0/2/0%" ] ||
		fail "status: $(kubectl -n $ns get iw qwen -o jsonpath='{.status}')"
	[ "$(kubectl -n $ns get iw qwen -o jsonpath='{.status.models[0]}/{.status.podStatus[0].name}/{.status.podStatus[0].maxNumSeqs}/{.status.podStatus[0].maxNumSeqsSource}')" = "qwen/qwen-0/2/pod_args" ] ||
		fail "models/podStatus: $(kubectl -n $ns get iw qwen -o jsonpath='{.status}')"
	wait_for 30 iw_has_event $ns qwen 'Warning LimitMismatch' ||
		fail "no Warning event: $(events_of $ns qwen)"
	apply_iw $ns qwen "{backend: vllm, metrics: {port: http, interval: 1s}, limits: {maxNumSeqs: 2}}"
	wait_for 30 iw_condition_is $ns qwen LimitMatchesSpec True ||
		fail "LimitMatchesSpec did not clear: $(cond_msg $ns qwen LimitMatchesSpec)"
	# a new path replaces the scrape target (its bookkeeping must survive:
	# ASan's leak check at exit would catch a lost one) and fails to scrape
	apply_iw $ns qwen "{backend: vllm, metrics: {port: http, path: /no-such-path, interval: 1s}, limits: {maxNumSeqs: 2}}"
	wait_for 30 iw_condition_is $ns qwen ScrapeFailed True ||
		fail "the CR's path is not used: $(kubectl -n $ns get iw qwen -o yaml)"
	# the CR gone, the pod is scraped with the flags' path again
	kubectl -n $ns delete iw qwen >/dev/null
	wait_for 30 grep -q 'check cleared.*pod=qwen-0.*check=ScrapeFailed' "$WORK/log" ||
		fail "the flags' path is not used again: $(tail -20 "$WORK/log")"
	stop_infermon
	pass "the CR's endpoint and expected limit drive the built-in scraper"
}

# SLO thresholds against the live engine's buckets: before the simulator
# has served a request it shows no latency histogram (Unknown); then a TTFT
# threshold of 2 s, between its bounds 1 and 2.5, is reported
# (SLOMeasurable=False naming them) and 2.5 clears it.
test_slo_thresholds_checked_against_the_live_buckets() {
	local ns=it-sel-slo port
	fresh_ns $ns
	port=$(free_port)
	start_sim "$port" qwen
	engine_pod $ns qwen-0 qwen vllm "$port"
	apply_iw $ns qwen "{backend: vllm, metrics: {port: http, interval: 1s}, slo: {objectives: [{sli: availability, target: 99}, {sli: ttft, thresholdSeconds: 2, target: 99}]}}"
	start_controller
	wait_for 60 iw_condition_is $ns qwen SLOMeasurable Unknown ||
		fail "no SLOMeasurable=Unknown before any request: $(kubectl -n $ns get iw qwen -o yaml)"
	cond_msg $ns qwen SLOMeasurable | grep -q 'objectives\[1\] (ttft): no scraped pod shows time_to_first_token_seconds yet' ||
		fail "message: $(cond_msg $ns qwen SLOMeasurable)"
	curl -sf -m 30 "http://127.0.0.1:$port/v1/completions" -H 'Content-Type: application/json' \
		-d '{"model":"qwen","prompt":"hello","max_tokens":3}' >/dev/null || fail "the simulator did not answer"
	wait_for 30 iw_condition_is $ns qwen SLOMeasurable False ||
		fail "no SLOMeasurable=False: $(kubectl -n $ns get iw qwen -o yaml)"
	cond_msg $ns qwen SLOMeasurable | tee "$WORK/msg"
	echo
	grep -qF 'objectives[1] (ttft 2s): not a bucket bound of time_to_first_token_seconds on pod qwen-0 (nearest bounds 1 and 2.5)' "$WORK/msg" ||
		fail "message"
	wait_for 30 iw_has_event $ns qwen 'Warning ThresholdNotABucketBound' ||
		fail "no Warning event: $(events_of $ns qwen)"
	apply_iw $ns qwen "{backend: vllm, metrics: {port: http, interval: 1s}, slo: {objectives: [{sli: availability, target: 99}, {sli: ttft, thresholdSeconds: 2.5, target: 99}, {sli: e2e, thresholdSeconds: 30, target: 99}]}}"
	wait_for 30 iw_condition_is $ns qwen SLOMeasurable True ||
		fail "SLOMeasurable did not turn True: $(cond_msg $ns qwen SLOMeasurable)"
	wait_for 30 iw_has_event $ns qwen 'Normal SLOMeasurable' ||
		fail "no Normal event when it cleared: $(events_of $ns qwen)"
	kubectl -n $ns get prometheusrule infermon-qwen >/dev/null || fail "no PrometheusRule for the objectives"
	stop_infermon
	pass "SLO thresholds are judged by the live engine's buckets"
}

run_test "$1"
