#!/usr/bin/env bash
# `infermon run` end to end, and its answers to bad input.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

test_logs_workloads_and_stops_on_sigterm() {
	local ns=it-run
	kubectl delete ns $ns --ignore-not-found --wait=true >/dev/null
	kubectl create ns $ns >/dev/null
	# A scrape-config Secret left by an earlier controller while no workload
	# exists: the reconciler must empty it (once sorted NULL jobs: UBSan).
	kubectl create ns monitoring --dry-run=client -o yaml | kubectl apply -f - >/dev/null
	kubectl -n monitoring create secret generic infermon-scrape-configs \
		--from-literal=scrape-configs.yaml='- job_name: infermon/gone/old' --dry-run=client -o yaml |
		kubectl label --local -f - app.kubernetes.io/managed-by=infermon -o yaml | kubectl apply -f - >/dev/null
	start_infermon "$WORK/log" run --metrics-secure=false --metrics-bind-address 127.0.0.1:0 --namespace $ns --log-format json
	wait_for 30 grep -q '"pod list complete"' "$WORK/log" || fail "no list: $(cat "$WORK/log")"
	kubectl -n $ns run qwen-0 --image=x --restart=Never \
		--labels=alibabacloud.com/inference-workload=qwen,alibabacloud.com/inference-backend=vllm \
		-- --max-num-seqs=2 --api-key=TOPSECRET >/dev/null
	wait_for 30 grep -q '"msg":"workload appeared","namespace":"it-run","workload":"qwen","backend":"vllm"' "$WORK/log" ||
		fail "no appeared line: $(cat "$WORK/log")"
	kubectl -n $ns run qwen-1 --image=x --restart=Never \
		--labels=alibabacloud.com/inference-workload=qwen,alibabacloud.com/inference-backend=vllm >/dev/null
	wait_for 30 grep -q '"workload changed".*"pods":"2"' "$WORK/log" || fail "no changed line"
	kubectl -n $ns delete pod qwen-0 qwen-1 --wait=false >/dev/null
	wait_for 30 grep -q '"workload disappeared","namespace":"it-run","workload":"qwen"' "$WORK/log" ||
		fail "no disappeared line: $(cat "$WORK/log")"
	wait_for 30 bash -c "kubectl -n monitoring get secret infermon-scrape-configs -o jsonpath='{.data.scrape-configs\\.yaml}' | base64 -d | grep -qx '\\[\\]'" ||
		fail "the stale scrape-config Secret was not emptied"
	stop_infermon
	grep -q '"msg":"stopped"' "$WORK/log" || fail "no clean stop"
	! grep -q TOPSECRET "$WORK/log" || fail "a pod argument leaked into the log"
	kubectl delete ns $ns --wait=false >/dev/null
}

CRD=inferenceworkloads.infermon.io

# restore_crd: the InferenceWorkload CRD as local-cluster.sh applies it
# (server-side, from crds/), Established again.
restore_crd() {
	kubectl apply --server-side --force-conflicts -k "$(infermon_root)/crds" >/dev/null
	kubectl wait --for=condition=Established --timeout=60s crd/$CRD >/dev/null
}

# Without the InferenceWorkload CRD (GET /apis/infermon.io/v1alpha1 is a
# 404) the controller warns once and goes on with the labelled pods: it
# scrapes them and serves their series. The CRD is deleted from the shared
# cluster for the test and put back on every exit path (at_exit).
test_keeps_running_with_a_warning_when_the_crd_is_missing() {
	local ns=it-run-nocrd port
	fresh_ns $ns
	kubectl get crd $CRD >/dev/null || fail "the cluster has no $CRD to remove"
	at_exit restore_crd
	kubectl delete crd $CRD --wait=true --timeout=60s >/dev/null
	wait_for 30 bash -c "! kubectl get --raw /apis/infermon.io/v1alpha1" ||
		fail "the API server still serves infermon.io/v1alpha1 after the CRD was deleted"
	port=$(free_port)
	start_sim "$port" qwen3-8b --max-num-seqs 3
	engine_pod $ns qwen-0 qwen vllm "$port" --max-num-seqs 3
	start_infermon "$WORK/log" run --metrics-secure=false --metrics-bind-address 127.0.0.1:0 --namespace $ns --scrape-interval 1s --no-events
	wait_for 30 grep -q 'CRD (infermon.io/v1alpha1) is not installed' "$WORK/log" ||
		fail "no CRD warning: $(cat "$WORK/log")"
	grep 'is not installed' "$WORK/log"
	# the pod is scraped: a successful scrape and the live limit it read
	self() { curl -sf "http://127.0.0.1:$(metrics_port)/metrics" > "$WORK/self"; }
	scraped() {
		self && grep -Eq '^infermon_scrape_up\{[^}]*pod="qwen-0"[^}]*\} 1$' "$WORK/self" &&
			grep -Eq '^infermon_engine_max_num_seqs\{[^}]*pod="qwen-0"[^}]*\} 3$' "$WORK/self"
	}
	wait_for 60 scraped || fail "qwen-0 not scraped without the CRD: $(grep qwen-0 "$WORK/self"; tail -20 "$WORK/log")"
	grep -E '^infermon_(scrape_up|engine_max_num_seqs)\{[^}]*pod="qwen-0"' "$WORK/self"
	kill -0 "$INFERMON_PID" || fail "infermon exited without the CRD"
	stop_infermon
	[ "$(grep -c 'is not installed' "$WORK/log")" -eq 1 ] || fail "the CRD warning is repeated: $(grep 'is not installed' "$WORK/log")"
	kubectl delete ns $ns --wait=false >/dev/null
}

test_malformed_kubeconfig_is_named() {
	printf 'apiVersion: v1\nclusters:\n- cluster:\n    server: [unclosed\n' > "$WORK/bad.yaml"
	set +e
	"$INFERMON_BIN" run --kubeconfig "$WORK/bad.yaml" 2>"$WORK/err"
	rc=$?
	set -e
	[ $rc -ne 0 ] || fail "exit 0 on a malformed kubeconfig"
	grep -q "bad.yaml" "$WORK/err" || fail "message does not name the file: $(cat "$WORK/err")"
	grep -Eq "line [0-9]+" "$WORK/err" || fail "message does not name the line: $(cat "$WORK/err")"
	"$INFERMON_BIN" run --kubeconfig "$WORK/missing.yaml" 2>"$WORK/err" && fail "exit 0 on a missing kubeconfig"
	grep -q "missing.yaml" "$WORK/err" || fail "message does not name the file: $(cat "$WORK/err")"
}

test_wrong_ca_is_a_tls_error_and_retried() {
	openssl req -x509 -newkey rsa:2048 -nodes -keyout "$WORK/k" -out "$WORK/ca.crt" \
		-subj /CN=wrong-ca -days 1 >/dev/null 2>&1
	kubectl config view --raw --minify > "$WORK/kc"
	KUBECONFIG="$WORK/kc" kubectl config set-cluster "$(kubectl config view --minify -o jsonpath='{.clusters[0].name}')" \
		--certificate-authority="$WORK/ca.crt" --embed-certs >/dev/null
	start_infermon "$WORK/log" run --metrics-secure=false --metrics-bind-address 127.0.0.1:0 --kubeconfig "$WORK/kc"
	wait_for 20 grep -q 'pod watch failed; retrying' "$WORK/log" || fail "no retry: $(cat "$WORK/log")"
	grep -Eiq 'tls|certificate' "$WORK/log" || fail "not named a TLS problem: $(cat "$WORK/log")"
	kill -0 "$INFERMON_PID" || fail "infermon exited on a TLS error"
	stop_infermon
}

test_unreachable_server_backs_off() {
	kubectl config view --raw --minify > "$WORK/kc"
	KUBECONFIG="$WORK/kc" kubectl config set-cluster "$(kubectl config view --minify -o jsonpath='{.clusters[0].name}')" \
		--server=https://127.0.0.1:1 >/dev/null
	start_infermon "$WORK/log" run --metrics-secure=false --metrics-bind-address 127.0.0.1:0 --kubeconfig "$WORK/kc"
	wait_for 20 bash -c "[ \$(grep -c 'pod watch failed; retrying' '$WORK/log') -ge 3 ]" ||
		fail "fewer than 3 retries: $(cat "$WORK/log")"
	grep -q 'cannot connect' "$WORK/log" || fail "not named a connection problem"
	# the delays grow: 0.8 s base doubling, with jitter
	delays=$(grep 'pod watch failed' "$WORK/log" | grep -o 'retry_in_ms=[0-9]*' | head -3 | cut -d= -f2 | tr '\n' ' ')
	set -- $delays
	[ "$1" -ge 800 ] && [ "$1" -lt 1600 ] && [ "$2" -ge 1600 ] && [ "$3" -ge 3200 ] ||
		fail "backoff delays not growing as 0.8 s doubling: $delays"
	stop_infermon
}

test_bad_flags_exit_2() {
	set +e
	"$INFERMON_BIN" run --log-level loud 2>"$WORK/err"; rc=$?
	set -e
	[ $rc -eq 2 ] || fail "exit $rc, want 2"
	grep -q 'invalid --log-level "loud"' "$WORK/err" || fail "unclear: $(cat "$WORK/err")"
	"$INFERMON_BIN" version | grep -q '^infermon ' || fail "version"
}

run_test "$1"
