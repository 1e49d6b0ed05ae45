#!/usr/bin/env bash
# it: node cluster
# The dashboard end to end through prometheus-operator on the real node
# (docs/operator.md, docs/real-node.md): the dashboard test's world
# (test/dashboard/scenario.py: llm-d-inference-sim engines, composed pages
# of every other engine variant, dcgm-exporters) as pods; infermon
# installed from deploy/ as users install it, generating a ServiceMonitor or
# PodMonitor per workload; the operator (out of cluster) running its
# Prometheus as a StatefulSet pod of our images, selecting monitors as a
# kube-prometheus-stack release does; the controller scraped through the
# shipped ServiceMonitor. Then every engine target is up with the dashboard's
# labels, and every panel of dashboards/llm-inference.json has data for
# every engine variant it claims, read from that Prometheus.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/prom.sh"

ROOT=$(infermon_root)
BIN=$(infermon_cache)/bin
. "$ROOT/hack/tools/versions.env"
MON=monitoring                 # where kube-prometheus-stack runs its Prometheus
. "$(dirname "$0")/operator.sh"
SCENARIO=$ROOT/test/dashboard/scenario.py
CHECK=$ROOT/test/dashboard/dashcheck.py
RELEASE=kube-prometheus-stack  # the selectors' release label
PROM=kps                       # hack/node-manifests/prometheus.yaml; its pod is prometheus-kps-0
K=(kubectl --request-timeout=30s)
URL=

[ -n "${INFERMON_NETNS:-}" ] || fail "not a node cluster: INFERMON_NETNS is not set (INFERMON_CLUSTER_NODE=1 hack/local-cluster.sh up)"

namespaces() { python3 "$SCENARIO" pod-names | awk '{print $1}' | sort -u; echo gpu-operator; }

# world_up: the controller, the scenario's pods and CRs, the operator and
# its Prometheus pod; URL is that pod's web address.
world_up() {
	local ns
	need_tools
	install_on_node
	for ns in $(namespaces); do
		"${K[@]}" delete ns "$ns" --ignore-not-found --wait=true --timeout=120s >/dev/null
		"${K[@]}" create ns "$ns" >/dev/null
		at_exit "${K[@]}" delete ns "$ns" --ignore-not-found --wait=true --timeout=120s
	done
	python3 "$SCENARIO" node-objects $RELEASE | "${K[@]}" apply -f - >/dev/null
	for ns in $(namespaces); do
		"${K[@]}" -n "$ns" wait --for=condition=Ready pod --all --timeout=180s >/dev/null ||
			fail "pods of $ns not Ready: $("${K[@]}" -n "$ns" get pods -o wide)"
	done
	echo "$(python3 "$SCENARIO" pod-names | wc -l) engine pods and 3 dcgm-exporter pods Ready on the node"

	# the Prometheus' version field names the Prometheus our image holds
	# (module v0.3xx.y is Prometheus 3.xx.y), which the operator picks flags by
	local v=${PROMETHEUS_VERSION#v0.}
	grep -qx "  version: v3.${v:1}" "$ROOT/hack/node-manifests/prometheus.yaml" ||
		fail "hack/node-manifests/prometheus.yaml: version is not v3.${v:1} ($PROMETHEUS_VERSION, hack/tools/versions.env)"
	at_exit node_prometheus_down
	node_prometheus_up "$WORK/operator.log" || fail "the operator's Prometheus did not come up (above)"
	URL=$NODE_PROMETHEUS_URL
	wait_for 60 prom_reconciled $PROM || fail "Prometheus $PROM not Reconciled"
	echo "prometheus-$PROM-0 Ready at $URL, $(pod_images $MON prometheus-$PROM-0)"
}

# pod_images NS POD: "container=image" of every container and init container
pod_images() {
	"${K[@]}" -n "$1" get pod "$2" \
		-o go-template='{{range .spec.initContainers}}{{.name}}={{.image}} {{end}}{{range .spec.containers}}{{.name}}={{.image}} {{end}}'
}

# targets_ok: every target of the operator's Prometheus up; each engine pod
# of the scenario scraped once, by the job of its workload's monitor (kind
# from the scenario), labelled namespace, pod, workload_name, backend and
# (prefill/decode) role; the controller by the shipped ServiceMonitor; each
# dcgm-exporter by its own. Prints jobs and up counts; for wait_for.
targets_ok() {
	python3 - "$URL" "$SCENARIO" <<'PY'
import collections, importlib.util, json, sys, urllib.parse, urllib.request
url, scen = sys.argv[1], sys.argv[2]
spec = importlib.util.spec_from_file_location("scenario", scen)
sc = importlib.util.module_from_spec(spec)
spec.loader.exec_module(sc)
def get(path):
    return json.load(urllib.request.urlopen(url + "/api/v1/" + path, timeout=10))["data"]
active = get("targets?state=active")["activeTargets"]
bad, by_pool = [], collections.defaultdict(list)
for t in active:
    by_pool[t["scrapePool"]].append(t)
    if t["health"] != "up":
        bad.append("%s %s: %s %s" % (t["scrapePool"], t["labels"].get("pod"), t["health"], t["lastError"]))
for name, ns, wl, be, role, model, how, args in sc.PODS:
    kind = "podMonitor" if wl in sc.POD_MONITOR_WORKLOADS else "serviceMonitor"
    pool = "%s/%s/infermon-%s/0" % (kind, ns, wl)
    mine = [t for t in by_pool.get(pool, []) if t["labels"].get("pod") == name]
    if len(mine) != 1:
        bad.append("%s: %d targets in %s (pools: %s)" % (name, len(mine), pool, sorted(by_pool)))
        continue
    l = mine[0]["labels"]
    want = {"namespace": ns, "pod": name, "workload_name": wl, "backend": be}
    if role:
        want["role"] = role
    for k, v in want.items():
        if l.get(k) != v:
            bad.append("%s: label %s=%r, want %r" % (name, k, l.get(k), v))
for pool in ["serviceMonitor/infermon-system/infermon/0"] + [
        "serviceMonitor/gpu-operator/%s/0" % d[0] for d in sc.DCGM]:
    if not by_pool.get(pool):
        bad.append("no target in %s" % pool)
up = get("query?query=" + urllib.parse.quote('count by (backend) (up{workload_name!=""} == 1)'))["result"]
print("jobs: %s" % ", ".join("%s (%d)" % (p, len(ts)) for p, ts in sorted(by_pool.items())))
print("up == 1 by backend: %s" % {r["metric"]["backend"]: r["value"][1] for r in up})
for b in bad:
    print("  " + b)
sys.exit(1 if bad else 0)
PY
}

# controller_series_named_for_engines: infermon_* series scraped through the
# shipped ServiceMonitor keep the engine pod's namespace and pod (its
# honorLabels), none is renamed exported_*.
controller_series_named_for_engines() {
	prom_equals "$URL" 'count(count by (namespace, pod) (infermon_pod_info{namespace=~"dash-.*"}))' \
		"$(python3 "$SCENARIO" pod-names | wc -l)" &&
		[ -z "$(prom_value "$URL" 'count({__name__=~"infermon_.*", exported_namespace!=""})')" ]
}

# translation_is_the_operators: test/integration/servicemonitor.py, the
# stand-in for the operator by which the loopback dashboard and alert tests
# scrape the controller through the shipped ServiceMonitor, gives for each
# controller pod the target labels and scrape settings the real operator's
# job has here.
translation_is_the_operators() {
	local sm=$ROOT/deploy/prometheus/service_monitor.yaml svc=$ROOT/deploy/prometheus/service.yaml
	local pool=serviceMonitor/infermon-system/infermon/0 p ip n=0
	curl -sf "$URL/api/v1/targets?state=active" >"$WORK/targets.json" || fail "no targets from $URL"
	curl -sf "$URL/api/v1/status/config" | python3 -c 'import json, sys; print(json.load(sys.stdin)["data"]["yaml"])' \
		>"$WORK/running.yaml" || fail "no config from $URL"
	python3 "$ROOT/test/integration/servicemonitor.py" job "$sm" "$svc" 127.0.0.1:1 x infermon >"$WORK/ours-job.json" ||
		fail "servicemonitor.py job"
	python3 - "$WORK/running.yaml" "$WORK/ours-job.json" $pool <<'PY' || fail "servicemonitor.py's job settings are not the operator's"
import json, sys, yaml
theirs = next(j for j in yaml.safe_load(open(sys.argv[1]))["scrape_configs"] if j["job_name"] == sys.argv[3])
ours = json.load(open(sys.argv[2]))
bad = []
for k in ("job_name", "honor_labels", "metrics_path", "scrape_interval", "scrape_timeout", "scheme"):
    a, b = ours.get(k, {"honor_labels": False, "scheme": "http"}.get(k)), theirs.get(k)
    print("  %-16s servicemonitor.py %-45r operator %r" % (k, a, b))
    if a != b:
        bad.append(k)
sys.exit(1 if bad else 0)
PY
	for p in $("${K[@]}" -n infermon-system get pods -l app.kubernetes.io/name=infermon -o jsonpath='{.items[*].metadata.name}'); do
		ip=$(pod_ip infermon-system "$p")
		python3 "$ROOT/test/integration/servicemonitor.py" labels "$sm" "$svc" "$ip:8443" "$p" infermon >"$WORK/ours.json" ||
			fail "servicemonitor.py labels"
		python3 - "$WORK/targets.json" "$WORK/ours.json" $pool "$p" <<'PY' || fail "servicemonitor.py's target labels for $p are not the operator's"
import json, sys
ts = json.load(open(sys.argv[1]))["data"]["activeTargets"]
theirs = [t["labels"] for t in ts if t["scrapePool"] == sys.argv[3] and t["labels"].get("pod") == sys.argv[4]]
ours = json.load(open(sys.argv[2]))
print("  %s: operator %s" % (sys.argv[4], json.dumps(theirs, sort_keys=True)))
sys.exit(0 if theirs == [ours] else 1)
PY
		n=$((n + 1))
	done
	[ $n -ge 1 ] || fail "no controller pod"
	echo "servicemonitor.py translates the shipped ServiceMonitor as the operator does: job settings and the labels of $n controller targets"
}

test_dashboard_through_the_operator() {
	local pod model seqs n ip sims='vllm:e2e_request_latency_seconds_count{namespace="dash-llm",workload_name=~"chat|code"}'
	world_up
	wait_for 120 targets_ok >/dev/null || { targets_ok || true; fail "the operator's Prometheus does not scrape every target as the monitors say"; }
	targets_ok
	wait_for 120 controller_series_named_for_engines ||
		fail "infermon_pod_info through the shipped ServiceMonitor: $(prom_value "$URL" 'count(infermon_pod_info)') series," \
			"$(prom_value "$URL" 'count({__name__=~"infermon_.*", exported_namespace!=""})') renamed exported_namespace"
	echo "the controller's series arrive through serviceMonitor/infermon-system/infermon/0 named for the engine pods (honorLabels)"
	translation_is_the_operators

	# code-0 (max-num-seqs 2) gets more clients than it admits: requests queue
	while read -r pod model seqs _; do
		ip=$(pod_ip dash-llm "$pod")
		drive_at "$ip" 8000 "$model" $((seqs < 4 ? 2 * seqs : 2))
	done < <(python3 "$SCENARIO" sims)
	n=$(python3 "$SCENARIO" pod-names | wc -l)
	wait_for 120 prom_equals "$URL" "count(rate($sims[1m]) > 0)" 3 ||
		fail "the simulators finish no requests: $(prom_value "$URL" "sum($sims)")"
	echo "$(prom_value "$URL" 'count(up == 1)') targets up, $(prom_value "$URL" "sum($sims)") requests finished on the simulators"
	python3 "$SCENARIO" variables >"$WORK/variables.json"
	echo "-- template variables, chained (label_values), per engine variant"
	python3 "$CHECK" variables "$URL" "$WORK/variables.json" || fail "a template variable misses a variant's values"
	echo "-- panel queries, $n engine pods"
	python3 "$CHECK" eval "$URL" "$WORK/variables.json" --wait 180 ||
		fail "a panel has no data for an engine it claims (the operator's Prometheus)"
}

run_test "$1"
