#!/usr/bin/env bash
# infermon on your machine, one command, installed the way users install it:
# a real local cluster with a real node (docs/real-node.md: etcd,
# kube-apiserver, controller-manager, scheduler, containerd, a kubelet and
# kube-proxy, in a network namespace of its own), the infermon image built
# from the Dockerfile and installed with `kubectl apply -k deploy/` (two
# replicas, one leading), three simulated vLLM engines running as pods
# (llm-d-inference-sim), one of them misconfigured like the incident in
# docs/ (max-num-seqs 2 where the KV cache holds 8.70 sequences), some
# traffic, prometheus-operator running a kube-prometheus-stack-like
# Prometheus on the node that scrapes the engines through the generated
# ServiceMonitors (and the controller through its shipped one), a
# Prometheus without the operator scraping through the generated scrape
# config, and what to look at.
#
#   hack/demo.sh           run, show, and keep everything up until Ctrl-C
#   hack/demo.sh --check   run, verify the expected outcome, tear down, exit 0/1
#
# Needs root (or sudo): the node's containers, network namespace and image
# builds. The first run builds the images (a few minutes); later runs reuse them.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
. hack/lib.sh

check=0
[ "${1:-}" = "--check" ] && check=1
[ $# -le 1 ] && { [ $# -eq 0 ] || [ $check -eq 1 ]; } || die "usage: hack/demo.sh [--check]"

export INFERMON_CLUSTER_DIR=${INFERMON_DEMO_CLUSTER_DIR:-$(infermon_cache)/demo-node}
export INFERMON_CLUSTER_NODE=1
export PATH=$PATH:/usr/local/go/bin

# ---- outside the cluster's network namespace: install, cluster up ----
if [ "${INFERMON_DEMO_INSIDE:-}" != 1 ]; then
	if [ "$(id -u)" -ne 0 ]; then
		command -v sudo > /dev/null && sudo -n true 2> /dev/null ||
			die "demo: needs root or sudo (containers, a network namespace, image builds)"
		exec sudo -n env XDG_CACHE_HOME="$(dirname "$(infermon_cache)")" PATH="$PATH" "$0" "$@"
	fi
	log "installing what is missing (Debian packages, Go-built components)"
	install_debs demo
	hack/tools/build.sh kube sim crds prometheus operator
	log "starting the local cluster with a real node (images, control plane, kubelet)"
	hack/local-cluster.sh up
	rc=0
	INFERMON_DEMO_INSIDE=1 hack/local-cluster.sh exec bash "$0" "$@" || rc=$?
	if [ $check -eq 1 ]; then hack/local-cluster.sh down > /dev/null 2>&1 || true; fi
	exit $rc
fi

# ---- inside: everything below talks to the cluster and its pods ----
WORK=$(mktemp -d)
CLEANUP_PIDS=
ns=llm-demo
sys=infermon-system
teardown() {
	local p
	for p in $CLEANUP_PIDS; do kill "$p" 2> /dev/null || true; done
	wait 2> /dev/null || true
	rm -rf "$WORK"
}
trap teardown EXIT

log "installing infermon: kubectl apply --server-side -k deploy/ (image localhost/infermon:dev)"
kubectl create ns monitoring --dry-run=client -o yaml | kubectl apply -f - > /dev/null
kubectl apply --server-side --force-conflicts -k hack/node-manifests > /dev/null
# as deploy/manager/deployment.yaml suggests for kube-prometheus-stack: the
# workloads without a CR get the labels its Prometheus selects
kubectl -n $sys patch deploy infermon --type=json \
	-p '[{"op": "add", "path": "/spec/template/spec/containers/0/args/-", "value": "--match-prometheus"}]' > /dev/null
kubectl -n $sys rollout status deploy/infermon --timeout=180s > /dev/null ||
	die "the controller did not roll out: $(kubectl -n $sys get pods -o wide)"

log "starting three simulated vLLM engines as pods"
kubectl delete ns $ns --ignore-not-found --wait=true > /dev/null
kubectl create ns $ns > /dev/null
kubectl -n $ns apply -f hack/node-manifests/engines.yaml > /dev/null
# qwen-chat gets an InferenceWorkload; llama-batch runs on pod labels alone.
kubectl apply -f - > /dev/null <<YAML
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
kubectl -n $ns rollout status deploy/llama-batch --timeout=180s > /dev/null || die "engines did not start: $(kubectl -n $ns get pods)"
kubectl -n $ns wait --for=condition=Ready pod/qwen-chat-0 --timeout=120s > /dev/null || die "qwen-chat-0 did not start"

leader() { lease_holder_pod $sys infermon; }
wait_for 60 leader || die "no controller replica holds the Lease"
lead=$(leader)
lead_ip=$(pod_ip $sys "$lead")
q_ip=$(pod_ip $ns qwen-chat-0)
l_ip=$(pod_ip $ns "$(kubectl -n $ns get pods -l app=llama-batch -o jsonpath='{.items[0].metadata.name}')")

log "three chat sessions against qwen-chat (two batch slots), light load on llama-batch"
start_clients_at "$q_ip" 8000 qwen3-26b 3
start_clients_at "$l_ip" 8000 llama-8b 1

log "starting Prometheus with the scrape config the controller generated"
secret_lists() {
	kubectl -n monitoring get secret infermon-scrape-configs -o jsonpath='{.data.scrape-configs\.yaml}' |
		base64 -d | grep -Eq "(regex: |\|)$ns;llama-batch;"
}
wait_for 60 secret_lists || die "the controller did not write the scrape-config Secret"
kubectl -n monitoring get secret infermon-scrape-configs -o jsonpath='{.data.scrape-configs\.yaml}' | base64 -d > "$WORK/jobs.yaml"
pport=$(free_port)
reader_token=$(metrics_reader_token) || die "cannot make a /metrics reader's token"
printf '%s' "$reader_token" > "$WORK/reader.token"
# The generated jobs use in-cluster credentials; this Prometheus runs on the
# node, outside any pod, so they get the API server's address and the
# cluster's admin certificate. The controller's own /metrics (the leader's)
# is a job too: the live-limit panels read it.
python3 - "$WORK/jobs.yaml" "$WORK/prometheus.yml" "$(kubectl config view --minify -o jsonpath='{.clusters[0].cluster.server}')" \
	"$INFERMON_CLUSTER_DIR/pki" "$lead_ip:8443" "$WORK/reader.token" << 'PY'
import sys, yaml
jobs = yaml.safe_load(open(sys.argv[1]))
for j in jobs:
    for sd in j["kubernetes_sd_configs"]:
        sd["api_server"] = sys.argv[3]
        sd["tls_config"] = {"ca_file": sys.argv[4] + "/ca.crt", "cert_file": sys.argv[4] + "/admin.crt",
                            "key_file": sys.argv[4] + "/admin.key"}
# HTTPS (a self-signed certificate), with a token the controller's reviews accept
jobs.append({"job_name": "infermon", "honor_labels": True, "scheme": "https",
             "tls_config": {"insecure_skip_verify": True},
             "authorization": {"credentials_file": sys.argv[6]},
             "static_configs": [{"targets": [sys.argv[5]]}]})
yaml.safe_dump({"global": {"scrape_interval": "5s", "evaluation_interval": "5s"}, "scrape_configs": jobs},
               open(sys.argv[2], "w"), sort_keys=False)
PY
"$(infermon_cache)/bin/prometheus" --config.file="$WORK/prometheus.yml" --storage.tsdb.path="$WORK/tsdb" \
	--web.listen-address="127.0.0.1:$pport" > "$WORK/prometheus.log" 2>&1 &
CLEANUP_PIDS="$CLEANUP_PIDS $!"
wait_for 30 curl -sf "http://127.0.0.1:$pport/-/ready" || die "Prometheus did not start: $(tail -5 "$WORK/prometheus.log")"

log "starting prometheus-operator and its Prometheus (a StatefulSet on the node, hack/node-manifests/prometheus.yaml)"
node_prometheus_up "$WORK/operator.log" || die "the operator's Prometheus did not come up (above)"
kps=$NODE_PROMETHEUS_URL

# the leader's log, JSON lines, for what it saw
leader_log() { kubectl -n $sys logs "$lead" > "$WORK/infermon.log" 2> /dev/null; }
saw_check() { # saw_check POD CHECK: the leader logged CHECK turning true for POD
	leader_log && jq -n -e --arg p "$1" --arg c "$2" 'any(inputs; .msg == "check became true" and .pod == $p and .check == $c)' \
		"$WORK/infermon.log" > /dev/null
}
wait_for 120 saw_check qwen-chat-0 AdmissionBound || die "the controller did not call the incident: $(tail -20 "$WORK/infermon.log")"
sleep 4
leader_log

cat << MSG

==== kubectl get pods -o wide: the controller (two replicas) and the engines, on the node ====
MSG
kubectl get pods -n $sys -o wide
kubectl get pods -n $ns -o wide
echo "Lease infermon-system/infermon held by: $(kubectl -n $sys get lease infermon -o jsonpath='{.spec.holderIdentity}')"
cat << MSG

==== what infermon saw (the leader's log) ====
MSG
jq -r 'select(.msg == "workload appeared" or .msg == "check became true") |
	[.msg, .namespace, (.workload // .name // ""), (.pod // ""), (.check // "")] | join(" ")' "$WORK/infermon.log"
cat << MSG

==== kubectl -n $ns get events (Warnings go to the pod concerned) ====
MSG
kubectl -n $ns get events.events.k8s.io --field-selector reportingController=infermon.io/controller \
	-o custom-columns=TYPE:.type,REASON:.reason,POD:.regarding.name,NOTE:.note --no-headers | sort -u
iw_drift() { kubectl -n $ns get iw qwen-chat -o jsonpath='{.status.conditions[?(@.type=="LimitDrift")].status}' | grep -qx True; }
wait_for 30 iw_drift || true
cat << MSG

==== kubectl -n $ns get inferenceworkloads ====
MSG
kubectl -n $ns get inferenceworkloads -o wide
cat << MSG

==== what the controller generated (server-side apply, owned by the CR or the pods' workload) ====
MSG
kubectl get services,servicemonitors,prometheusrules -A -l app.kubernetes.io/managed-by=infermon
kubectl -n monitoring get configmaps -l app.kubernetes.io/managed-by=infermon -L grafana_dashboard
kubectl -n monitoring get secret infermon-scrape-configs -o jsonpath='{.data.scrape-configs\.yaml}' | base64 -d | grep job_name
echo "EndpointSlices of the generated Services (the engines' pod IPs, from the endpointslice controller):"
kubectl -n $ns get endpointslices -o wide
cat << MSG

==== the leader's /metrics: live limits and where they came from ====
MSG
controller_metrics "$lead_ip" "$reader_token" | grep -E '^infermon_engine_(max_num_seqs|kv_max_concurrency|saturation_ratio)'
promq() { # promq QUERY: prints "labels value" lines from the demo's Prometheus
	curl -sfG "http://127.0.0.1:$pport/api/v1/query" --data-urlencode "query=$1" |
		python3 -c 'import json,sys
for r in json.load(sys.stdin)["data"]["result"]:
    m = r["metric"]; print(" ".join("%s=%s" % (k, m[k]) for k in ("job", "pod", "workload_name", "backend") if k in m), r["value"][1])'
}
three_up() { [ "$(promq 'up{job=~"infermon/.*"} == 1' | wc -l)" = 3 ]; }
wait_for 60 three_up || true
# kps_targets [--check]: the operator's Prometheus' active targets, one line
# each: scrape pool (the monitor it comes from), pod, health; with --check,
# succeeds when both engine workloads' ServiceMonitors have their pods up
# (3) and the shipped one both controller replicas (2).
kps_targets() {
	curl -sf "$kps/api/v1/targets?state=active" | python3 -c '
import collections, json, sys
ts = json.load(sys.stdin)["data"]["activeTargets"]
up = collections.Counter(t["scrapePool"] for t in ts if t["health"] == "up")
if sys.argv[1:] == ["--check"]:
    ok = (up["serviceMonitor/llm-demo/infermon-qwen-chat/0"] == 1 and
          up["serviceMonitor/llm-demo/infermon-llama-batch/0"] == 2 and
          up["serviceMonitor/infermon-system/infermon/0"] == 2)
    sys.exit(0 if ok else 1)
for t in sorted(ts, key=lambda t: (t["scrapePool"], t["labels"].get("pod", ""))):
    l = t["labels"]
    print("  %-48s %-34s %-5s %s" % (t["scrapePool"], l.get("pod", ""), t["health"],
          " ".join("%s=%s" % (k, l[k]) for k in ("workload_name", "backend") if k in l)))' "$@"
}
wait_for 90 kps_targets --check || true
cat << MSG

==== prometheus-operator's Prometheus (pod monitoring/prometheus-kps-0 at $kps) ====
MSG
echo "scrapes the engines through the ServiceMonitors infermon generated (llama-batch has no CR:"
echo "--match-prometheus gave its monitor release=kube-prometheus-stack), and the controller"
echo "through its shipped ServiceMonitor:"
kps_targets
cat << MSG

==== Prometheus without the operator, at http://127.0.0.1:$pport: the generated scrape config ====
MSG
promq 'up{job=~"infermon.*"}'
echo "running / live max-num-seqs per pod, as the dashboard's live-limit panel reads it:"
promq 'infermon_engine_saturation_ratio'
cat << MSG

==== infermon check, the gate a deploy pipeline runs after rollout (here from inside the controller's pod) ====
MSG
set +e
kubectl -n $sys exec "$lead" -- infermon check "http://$q_ip:8000" --args "vllm serve qwen3-26b --max-num-seqs 2"
bad_rc=$?
kubectl -n $sys exec "$lead" -- infermon check "http://$l_ip:8000" --args "--max-num-seqs 8" > /dev/null
ok_rc=$?
set -e
echo "(exit $bad_rc for qwen-chat, $ok_rc for llama-batch)"

if [ $check -eq 1 ]; then
	fail=0
	saw_check qwen-chat-0 LimitDrift || { echo "demo: no LimitDrift" >&2; fail=1; }
	saw_check qwen-chat-0 AdmissionBound || { echo "demo: no AdmissionBound" >&2; fail=1; }
	! jq -n -e 'any(inputs; .msg == "check became true" and (.pod // "" | startswith("llama-batch-")) and
		(.check == "LimitDrift" or .check == "Saturated" or .check == "AdmissionBound"))' "$WORK/infermon.log" > /dev/null ||
		{ echo "demo: llama-batch flagged" >&2; fail=1; }
	kubectl -n $ns get events.events.k8s.io -o jsonpath='{.items[*].reason}' | grep -q LimitDrift || { echo "demo: no LimitDrift event" >&2; fail=1; }
	[ $bad_rc -eq 1 ] && [ $ok_rc -eq 0 ] || { echo "demo: infermon check exits $bad_rc/$ok_rc, want 1/0" >&2; fail=1; }
	[ "$(kubectl -n $ns get iw qwen-chat -o jsonpath='{.status.limit}/{.status.limitSource}/{.status.drift}')" = "2/pod_args/-77%" ] ||
		{ echo "demo: InferenceWorkload status: $(kubectl -n $ns get iw qwen-chat -o jsonpath='{.status}')" >&2; fail=1; }
	kubectl -n $ns get servicemonitor infermon-qwen-chat infermon-llama-batch > /dev/null ||
		{ echo "demo: generated ServiceMonitors missing" >&2; fail=1; }
	kubectl -n $ns get prometheusrule infermon-qwen-chat > /dev/null ||
		{ echo "demo: no PrometheusRule for qwen-chat" >&2; fail=1; }
	kubectl -n monitoring get configmap infermon-llm-inference > /dev/null ||
		{ echo "demo: no dashboard ConfigMap" >&2; fail=1; }
	[ "$(kubectl -n $ns get endpointslices -l kubernetes.io/service-name=infermon-llama-batch \
		-o jsonpath='{range .items[*].endpoints[*]}{.addresses[0]}{"\n"}{end}' | grep -c .)" = 2 ] ||
		{ echo "demo: the llama-batch Service has no two endpoints" >&2; fail=1; }
	[ "$(promq 'up{job=~"infermon/.*"} == 1' | wc -l)" = 3 ] ||
		{ echo "demo: Prometheus does not scrape the three engines through the generated jobs: $(promq 'up')" >&2; fail=1; }
	kps_targets --check ||
		{ echo "demo: the operator's Prometheus does not scrape through the ServiceMonitors: $(kps_targets)" >&2; fail=1; }
	[ $fail -eq 0 ] && echo "demo --check: OK" || echo "demo --check: FAILED" >&2
	exit $fail
fi

cat << MSG

==== keep exploring ====
  INFERMON_CLUSTER_DIR=$INFERMON_CLUSTER_DIR hack/local-cluster.sh exec kubectl get pods -A
                                              # kubectl inside the cluster's network namespace
  $kps (inside the namespace)   # prometheus-operator's Prometheus, through the ServiceMonitors
  http://127.0.0.1:$pport (inside the namespace) # Prometheus, scraping through the generated jobs
Press Ctrl-C to stop Prometheus, the operator and the clients (the cluster stays up;
INFERMON_CLUSTER_DIR=$INFERMON_CLUSTER_DIR hack/local-cluster.sh down removes it).
MSG
wait
