#!/usr/bin/env bash
# infermon on your machine, one command: a real local control plane
# (etcd + kube-apiserver + kube-controller-manager on loopback), three
# simulated vLLM engines (llm-d-inference-sim) behind labelled pods, one of
# them misconfigured like the incident in docs/ (max-num-seqs 2 where the KV
# cache holds 8.70 sequences), the controller, some traffic, a Prometheus on
# loopback that scrapes the engines through the scrape config the controller
# generated, and what to look at.
#
#   hack/demo.sh           run, show, and keep everything up until Ctrl-C
#   hack/demo.sh --check   run, verify the expected outcome, tear down, exit 0/1
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
. hack/lib.sh

check=0
[ "${1:-}" = "--check" ] && check=1
[ $# -le 1 ] && { [ $# -eq 0 ] || [ $check -eq 1 ]; } || die "usage: hack/demo.sh [--check]"

export INFERMON_CLUSTER_DIR=${INFERMON_DEMO_CLUSTER_DIR:-$(infermon_cache)/demo-cluster}
export PATH=$PATH:/usr/local/go/bin
SIM_LOG_DIR=$(mktemp -d)
CLEANUP_PIDS=
ns=llm-demo

teardown() {
	local p
	for p in $CLEANUP_PIDS; do kill "$p" 2>/dev/null || true; done
	[ -n "${INFERMON_PID:-}" ] && kill "$INFERMON_PID" 2>/dev/null || true
	wait 2>/dev/null || true
	if [ $check -eq 1 ]; then
		hack/local-cluster.sh down >/dev/null 2>&1 || true
		rm -rf "$SIM_LOG_DIR"
	fi
}
trap teardown EXIT

log "installing what is missing (Debian packages, Go-built components)"
install_debs demo
hack/tools/build.sh kube sim crds prometheus
log "building infermon"
cmake -S . -B build/demo -DCMAKE_BUILD_TYPE=RelWithDebInfo -DINFERMON_INTEGRATION=OFF >/dev/null
cmake --build build/demo -j"$(nproc)" --target infermon >/dev/null
bin=$root/build/demo/infermon

log "starting the local control plane"
hack/local-cluster.sh up
eval "$(hack/local-cluster.sh env)"

log "starting three simulated vLLM engines"
p_bad=$(free_port); start_sim "$p_bad" qwen3-26b --max-num-seqs 2 --max-model-len 1024 --block-size 16 --kv-cache-size 557
p_ok=$(free_port); start_sim "$p_ok" llama-8b --max-num-seqs 8 --max-model-len 1024 --block-size 16 --kv-cache-size 557
p_ok2=$(free_port); start_sim "$p_ok2" llama-8b --max-num-seqs 8 --max-model-len 1024 --block-size 16 --kv-cache-size 557

kubectl delete ns $ns --ignore-not-found --wait=true >/dev/null
kubectl create ns $ns >/dev/null
# Pods carry only the two labels; no kubelet runs, so their status is set
# to Running/Ready at 127.0.0.1 by hand.
engine_pod $ns qwen-chat-0 qwen-chat vllm "$p_bad" serve qwen3-26b --max-num-seqs 2
engine_pod $ns llama-batch-0 llama-batch vllm "$p_ok" serve llama-8b --max-num-seqs 8
engine_pod $ns llama-batch-1 llama-batch vllm "$p_ok2" serve llama-8b --max-num-seqs 8
# qwen-chat gets an InferenceWorkload; llama-batch runs on pod labels alone.
kubectl create ns monitoring --dry-run=client -o yaml | kubectl apply -f - >/dev/null
kubectl apply -f - >/dev/null <<YAML
apiVersion: infermon.io/v1alpha1
kind: InferenceWorkload
metadata: {name: qwen-chat, namespace: $ns}
spec:
  backend: vllm
  metrics: {interval: 15s}
  monitor: {labels: {release: kube-prometheus-stack}}
  alerts: {enabled: true}
  slo: {ttftP95Seconds: 0.5}
YAML

log "starting the controller"
"$bin" run --metrics-bind-address 127.0.0.1:0 --scrape-interval 3s --log-format text \
	> "$SIM_LOG_DIR/infermon.log" 2>&1 &
INFERMON_PID=$!
wait_for 30 grep -q 'serving /metrics' "$SIM_LOG_DIR/infermon.log" || die "controller did not start: $(cat "$SIM_LOG_DIR/infermon.log")"
mport=$(grep -o 'serving /metrics.* port=[0-9]*' "$SIM_LOG_DIR/infermon.log" | grep -o '[0-9]*$')

log "three chat sessions against qwen-chat (two batch slots), light load on llama-batch"
start_clients "$p_bad" qwen3-26b 3
start_clients "$p_ok" llama-8b 1

log "starting Prometheus with the scrape config the controller generated"
wait_for 30 bash -c "kubectl -n monitoring get secret infermon-scrape-configs -o jsonpath='{.data.scrape-configs\\.yaml}' | base64 -d | grep -Eq '(regex: |\\|)$ns;llama-batch;'" ||
	die "the controller did not write the scrape-config Secret"
kubectl -n monitoring get secret infermon-scrape-configs -o jsonpath='{.data.scrape-configs\.yaml}' | base64 -d > "$SIM_LOG_DIR/jobs.yaml"
pport=$(free_port)
# The generated jobs use in-cluster credentials; outside the cluster they
# get the API server's address and the demo cluster's admin certificate.
# The controller's own /metrics is a job too (the live-limit panels read it).
python3 - "$SIM_LOG_DIR/jobs.yaml" "$SIM_LOG_DIR/prometheus.yml" "$(kubectl config view --minify -o jsonpath='{.clusters[0].cluster.server}')" \
	"$INFERMON_CLUSTER_DIR/pki" "127.0.0.1:$mport" <<'PY'
import sys, yaml
jobs = yaml.safe_load(open(sys.argv[1]))
for j in jobs:
    for sd in j["kubernetes_sd_configs"]:
        sd["api_server"] = sys.argv[3]
        sd["tls_config"] = {"ca_file": sys.argv[4] + "/ca.crt", "cert_file": sys.argv[4] + "/admin.crt",
                            "key_file": sys.argv[4] + "/admin.key"}
jobs.append({"job_name": "infermon", "static_configs": [{"targets": [sys.argv[5]]}]})
yaml.safe_dump({"global": {"scrape_interval": "5s", "evaluation_interval": "5s"}, "scrape_configs": jobs},
               open(sys.argv[2], "w"), sort_keys=False)
PY
"$(infermon_cache)/bin/prometheus" --config.file="$SIM_LOG_DIR/prometheus.yml" --storage.tsdb.path="$SIM_LOG_DIR/tsdb" \
	--web.listen-address="127.0.0.1:$pport" > "$SIM_LOG_DIR/prometheus.log" 2>&1 &
CLEANUP_PIDS="$CLEANUP_PIDS $!"
wait_for 30 curl -sf "http://127.0.0.1:$pport/-/ready" || die "Prometheus did not start: $(tail -5 "$SIM_LOG_DIR/prometheus.log")"

wait_for 90 grep -q 'check=AdmissionBound' "$SIM_LOG_DIR/infermon.log" ||
	die "the controller did not call the incident: $(cat "$SIM_LOG_DIR/infermon.log")"
sleep 4

cat <<MSG

==== what infermon saw ====
MSG
grep -E 'workload appeared|check became true' "$SIM_LOG_DIR/infermon.log" | sed 's/^ts=[^ ]* //'
cat <<MSG

==== kubectl -n $ns get events (Warnings go to the pod concerned) ====
MSG
kubectl -n $ns get events.events.k8s.io -o custom-columns=TYPE:.type,REASON:.reason,POD:.regarding.name,NOTE:.note --no-headers | sort -u
wait_for 30 bash -c "kubectl -n $ns get iw qwen-chat -o jsonpath='{.status.conditions[?(@.type==\"LimitDrift\")].status}' | grep -qx True" || true
cat <<MSG

==== kubectl -n $ns get inferenceworkloads ====
MSG
kubectl -n $ns get inferenceworkloads -o wide
cat <<MSG

==== what the controller generated (server-side apply, owned by the CR or the pods' workload) ====
MSG
kubectl get services,servicemonitors,prometheusrules -A -l app.kubernetes.io/managed-by=infermon
kubectl -n monitoring get configmaps -l app.kubernetes.io/managed-by=infermon -L grafana_dashboard
kubectl -n monitoring get secret infermon-scrape-configs -o jsonpath='{.data.scrape-configs\.yaml}' | base64 -d | grep job_name
cat <<MSG

==== the controller's /metrics: live limits and where they came from ====
MSG
curl -s "http://127.0.0.1:$mport/metrics" | grep -E '^infermon_engine_(max_num_seqs|kv_max_concurrency|saturation_ratio)' 
promq() { # promq QUERY: prints "labels value" lines from the demo's Prometheus
	curl -sfG "http://127.0.0.1:$pport/api/v1/query" --data-urlencode "query=$1" |
		python3 -c 'import json,sys
for r in json.load(sys.stdin)["data"]["result"]:
    m = r["metric"]; print(" ".join("%s=%s" % (k, m[k]) for k in ("job", "pod", "workload_name", "backend") if k in m), r["value"][1])'
}
wait_for 60 bash -c "curl -sfG 'http://127.0.0.1:$pport/api/v1/query' --data-urlencode 'query=count(up{job=~\"infermon/.*\"} == 1)' | grep -q '\"3\"'" || true
cat <<MSG

==== Prometheus at http://127.0.0.1:$pport scrapes the engines through the generated jobs ====
MSG
promq 'up{job=~"infermon.*"}'
echo "running / live max-num-seqs per pod, as the dashboard's live-limit panel reads it:"
promq 'infermon_engine_saturation_ratio'
cat <<MSG

==== infermon check, the gate a deploy pipeline runs after rollout ====
MSG
set +e
"$bin" check "http://127.0.0.1:$p_bad" --args "vllm serve qwen3-26b --max-num-seqs 2"
bad_rc=$?
"$bin" check "http://127.0.0.1:$p_ok" --args "--max-num-seqs 8" >/dev/null
ok_rc=$?
set -e
echo "(exit $bad_rc for qwen-chat, $ok_rc for llama-batch)"

if [ $check -eq 1 ]; then
	fail=0
	grep -q 'check became true.*pod=qwen-chat-0.*check=LimitDrift' "$SIM_LOG_DIR/infermon.log" || { echo "demo: no LimitDrift" >&2; fail=1; }
	grep -q 'check became true.*pod=qwen-chat-0.*check=AdmissionBound' "$SIM_LOG_DIR/infermon.log" || { echo "demo: no AdmissionBound" >&2; fail=1; }
	! grep -q 'check became true.*pod=llama-batch-.*check=\(LimitDrift\|Saturated\|AdmissionBound\)' "$SIM_LOG_DIR/infermon.log" || { echo "demo: llama-batch flagged" >&2; fail=1; }
	kubectl -n $ns get events.events.k8s.io -o jsonpath='{.items[*].reason}' | grep -q LimitDrift || { echo "demo: no LimitDrift event" >&2; fail=1; }
	[ $bad_rc -eq 1 ] && [ $ok_rc -eq 0 ] || { echo "demo: infermon check exits $bad_rc/$ok_rc, want 1/0" >&2; fail=1; }
	[ "$(kubectl -n $ns get iw qwen-chat -o jsonpath='{.status.limit}/{.status.limitSource}/{.status.drift}')" = "2/pod_args/-77%" ] ||
		{ echo "demo: InferenceWorkload status: $(kubectl -n $ns get iw qwen-chat -o jsonpath='{.status}')" >&2; fail=1; }
	kubectl -n $ns get servicemonitor infermon-qwen-chat infermon-llama-batch >/dev/null ||
		{ echo "demo: generated ServiceMonitors missing" >&2; fail=1; }
	kubectl -n $ns get prometheusrule infermon-qwen-chat >/dev/null ||
		{ echo "demo: no PrometheusRule for qwen-chat" >&2; fail=1; }
	kubectl -n monitoring get configmap infermon-llm-inference >/dev/null ||
		{ echo "demo: no dashboard ConfigMap" >&2; fail=1; }
	[ "$(promq 'up{job=~"infermon/.*"} == 1' | wc -l)" = 3 ] ||
		{ echo "demo: Prometheus does not scrape the three engines through the generated jobs: $(promq 'up')" >&2; fail=1; }
	[ $fail -eq 0 ] && echo "demo --check: OK" || echo "demo --check: FAILED" >&2
	exit $fail
fi

cat <<MSG

==== keep exploring ====
  eval "\$(hack/local-cluster.sh env)"        # kubectl against the demo cluster (INFERMON_CLUSTER_DIR=$INFERMON_CLUSTER_DIR)
  curl -s http://127.0.0.1:$mport/metrics     # the controller's own metrics
  http://127.0.0.1:$pport                     # Prometheus, scraping through the generated jobs
  tail -f $SIM_LOG_DIR/infermon.log
Press Ctrl-C to stop the engines and the controller (the cluster stays up;
hack/local-cluster.sh down removes it).
MSG
wait "$INFERMON_PID"
