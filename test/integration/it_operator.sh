#!/usr/bin/env bash
# The generated monitors read by the real prometheus-operator (v0.85.0,
# built by hack/tools/build.sh operator from the Go module proxy), run out
# of cluster against the test API server (docs/operator.md):
#   - the CRDs on the test API server are the operator's own, from the same
#     module version and hash the binary was built from;
#   - for every backend and every monitor kind (ServiceMonitor, PodMonitor,
#     ScrapeConfig) the operator accepts what `infermon run` generates: no
#     rejection in its log, Reconciled=True on the Prometheus, each
#     workload's job in prometheus-<name> (prometheus.yaml.gz), promtool
#     check config on that file as the Prometheus pod would see it, the
#     PrometheusRules in the rules ConfigMap, promtool check rules on them;
#   - MonitorSelected=False exactly where the operator leaves the monitor
#     out of its config, the same cases on both sides;
#   - a test-only monitor with a broken relabeling is dropped, and the
#     check that passes for ours reports it;
#   - a real Prometheus runs the operator's configuration (expanded as its
#     config reloader does, nothing else changed) in its pod's environment
#     and scrapes the engines behind the PodMonitor and ScrapeConfig jobs.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

ROOT=$(infermon_root)
BIN=$(infermon_cache)/bin
. "$ROOT/hack/tools/versions.env"
MON=it-op-mon     # the Prometheus objects, and what the operator writes for them
BACKENDS=(vllm sglang vllm-pd sglang-pd)

. "$(dirname "$0")/operator.sh"

# ---- workloads ----

# pod NS NAME WORKLOAD BACKEND PORT [ROLE-LABEL=ROLE]: a labelled pod with
# container port "http" PORT, Running and Ready at 127.0.0.1.
pod() {
	local role=""
	[ $# -lt 6 ] || role="    ${6%%=*}: ${6#*=}"
	kubectl apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Pod
metadata:
  name: $2
  namespace: $1
  labels:
    alibabacloud.com/inference-workload: $3
    alibabacloud.com/inference-backend: $4
$role
spec:
  containers:
  - name: engine
    image: engine:test
    ports:
    - name: http
      containerPort: $5
YAML
	kubectl -n "$1" patch pod "$2" --subresource=status --type=merge -p \
		'{"status":{"phase":"Running","podIP":"127.0.0.1","podIPs":[{"ip":"127.0.0.1"}],"conditions":[{"type":"Ready","status":"True"}]}}' >/dev/null
}

# The workloads of the acceptance test: for each backend, one with a
# ServiceMonitor and one with a PodMonitor (kind sm / pm), each also with
# a ScrapeConfig and PrometheusRules, labels stamped by matchPrometheus.
# Lines: workload backend kind.
workloads() {
	local b
	for b in "${BACKENDS[@]}"; do
		echo "$b-sm $b ServiceMonitor"
		echo "$b-pm $b PodMonitor"
	done
}

# pods_of WORKLOAD BACKEND: its pods, "name role-label=role" (no role for
# the aggregated backends; the two -pd backends use the two role labels
# the generated relabelings read).
pods_of() {
	case $2 in
	vllm-pd) echo "$1-prefill-0 llm-d.ai/role=prefill"; echo "$1-decode-0 llm-d.ai/role=decode" ;;
	sglang-pd) echo "$1-prefill-0 rolebasedgroup.workloads.x-k8s.io/role=prefill"
		echo "$1-decode-0 rolebasedgroup.workloads.x-k8s.io/role=decode" ;;
	*) echo "$1-0" ;;
	esac
}

monitor_job() { # monitor_job NS WORKLOAD KIND: the operator's job name for the monitor
	case $3 in
	ServiceMonitor) echo "serviceMonitor/$1/infermon-$2/0" ;;
	PodMonitor) echo "podMonitor/$1/infermon-$2/0" ;;
	esac
}
scrapeconfig_job() { echo "scrapeConfig/$1/infermon-$2"; }

# ---- tests ----

# The CRDs hack/local-cluster.sh applied are the operator's own: each file
# of example/prometheus-operator-crd/ of the module hack/tools/operator
# builds the operator from (same version, same go.sum hash as the binary's
# build info) is on the server with that schema.
test_crds_are_the_operators() {
	need_tools
	local dir sum bin_sum
	dir=$(promop_crd_dir)
	sum=$(cd "$ROOT/hack/tools/operator" && GOFLAGS=-mod=mod go mod download -json \
		"github.com/prometheus-operator/prometheus-operator@$PROMETHEUS_OPERATOR_VERSION" | jq -r .Sum)
	bin_sum=$(go version -m "$OPERATOR" |
		awk '($1 == "mod" || $1 == "dep") && $2 == "github.com/prometheus-operator/prometheus-operator" { print $3, $4 }')
	[ "$bin_sum" = "$PROMETHEUS_OPERATOR_VERSION $sum" ] ||
		fail "the operator binary was built from prometheus-operator $bin_sum, the CRDs are $PROMETHEUS_OPERATOR_VERSION $sum"
	echo "operator binary: prometheus-operator $bin_sum; CRDs from $dir"
	"$OPERATOR" --version | head -1
	# build.sh stamps the version in; another build (INFERMON_OPERATOR) may not
	[ -n "${INFERMON_OPERATOR:-}" ] || "$OPERATOR" --version | grep -q "version ${PROMETHEUS_OPERATOR_VERSION#v} " ||
		fail "the operator does not report version ${PROMETHEUS_OPERATOR_VERSION#v}: $("$OPERATOR" --version | head -1)"
	python3 - "$dir" "${PROMETHEUS_OPERATOR_VERSION#v}" <<'PY' || fail "the cluster's CRDs are not the operator's"
import glob, json, subprocess, sys
d, want = sys.argv[1], sys.argv[2]
n = 0
for f in sorted(glob.glob(d + "/*.yaml")):
    # (kubectl reads the YAML: PyYAML's safe loader refuses a bare "=")
    crd = json.loads(subprocess.check_output(["kubectl", "create", "--dry-run=client", "-o", "json", "-f", f]))
    name = crd["metadata"]["name"]
    live = json.loads(subprocess.check_output(["kubectl", "get", "crd", name, "-o", "json"]))
    ver = live["metadata"].get("annotations", {}).get("operator.prometheus.io/version")
    assert ver == want, "%s: operator.prometheus.io/version %r, want %r" % (name, ver, want)
    a = {v["name"]: v["schema"] for v in crd["spec"]["versions"]}
    b = {v["name"]: v["schema"] for v in live["spec"]["versions"]}
    assert a == b, "%s: the served schema differs from %s" % (name, f)
    n += 1
assert n >= 10, n
print("%d CRDs on the API server, each with the schema of its file (operator.prometheus.io/version %s)" % (n, want))
PY
}

# setup_workloads NS PROM [engines]: Prometheus PROM in $MON with
# kube-prometheus-stack selectors (release=PROM) and the controller's
# scrape-config Secret as additionalScrapeConfigs; the workloads of
# `workloads` in NS, their pods Running and Ready at 127.0.0.1 (with
# "engines": each pod's port served, llm-d-inference-sim for vLLM pods,
# engines.py's SGLang page for SGLang pods); the controller and the
# operator started; returns once the operator's config has every job.
# Sets JOBS (the jobs expected), NRULES (PrometheusRules).
setup_workloads() {
	local ns=$1 prom=$2 engines=${3:-} wl b kind p role port sg=() i=0
	JOBS=()
	NRULES=0
	fresh_ns_here "$ns"
	fresh_mon
	prometheus "$prom" "{version: v3.${PROMETHEUS_VERSION#v0.3}, replicas: 1, serviceAccountName: prometheus-$prom, $(kps_selectors "$prom"), additionalScrapeConfigs: {name: infermon-scrape-configs, key: scrape-configs.yaml}}"
	if [ "$engines" = engines ]; then
		while read -r wl b kind; do
			while read -r p role; do
				[[ $b == sglang* ]] && sg+=(sglang)
			done < <(pods_of "$wl" "$b")
		done < <(workloads)
		start_engines "${sg[@]}"
	fi
	while read -r wl b kind; do
		while read -r p role; do
			if [ "$engines" != engines ]; then
				port=$(free_port)
			elif [[ $b == sglang* ]]; then
				i=$((i + 1))
				port=$(awk -v n=$i '$1 == "sglang" && ++k == n { print $2 }' "$WORK/engines")
			else
				port=$(free_port)
				start_sim "$port" "$wl" --max-num-seqs 4
			fi
			echo "$p $port" >>"$WORK/pod-ports"
			pod "$ns" "$p" "$wl" "$b" "$port" $role
		done < <(pods_of "$wl" "$b")
		apply_iw "$ns" "$wl" "{backend: $b, metrics: {port: http, interval: 2s}, monitor: {kind: $kind, matchPrometheus: true}, scrapeConfig: {scrapeConfigResource: true}, alerts: {enabled: true}, slo: {ttftP95Seconds: 2}}"
		JOBS+=("$(monitor_job "$ns" "$wl" "$kind")" "$(scrapeconfig_job "$ns" "$wl")")
		NRULES=$((NRULES + 1))
	done < <(workloads)
	if [ "$engines" != engines ]; then
		# HTTPS with a private CA and a bearer token, both from Secrets
		# the operator must find (it drops a monitor whose Secret is
		# missing); no engine serves them here
		kubectl -n "$ns" create secret generic engine-ca --from-file=ca.crt="$ROOT/test/data/tls/engine.crt" >/dev/null
		kubectl -n "$ns" create secret generic engine-token --from-literal=token=it-op-token >/dev/null
		for kind in ServiceMonitor PodMonitor; do
			wl=tls-$(tr -d 'a-z' <<<"$kind" | tr 'A-Z' 'a-z')
			pod "$ns" "$wl-0" "$wl" vllm "$(free_port)"
			apply_iw "$ns" "$wl" "{backend: vllm, metrics: {port: http, interval: 2s, scheme: https, tls: {serverName: engine.example, ca: {secretKeyRef: {name: engine-ca, key: ca.crt}}}, bearerTokenSecret: {name: engine-token, key: token}}, monitor: {kind: $kind, matchPrometheus: true}, scrapeConfig: {scrapeConfigResource: true}}"
			JOBS+=("$(monitor_job "$ns" "$wl" "$kind")" "$(scrapeconfig_job "$ns" "$wl")")
		done
	fi
	start_controller --namespace "$ns" --scrape-secret $MON/infermon-scrape-configs
	start_operator
	wait_for 120 op_has_jobs "$prom" "${JOBS[@]}" ||
		fail "jobs missing from the operator's config: want ${JOBS[*]}; have $(op_jobs "$prom" | tr '\n' ' '); rejections: $(op_rejections "$ns")"
}

# Every backend, every monitor kind: the operator accepts what the
# controller generates, and its config and rules pass promtool.
test_operator_accepts_generated_objects() {
	local ns=it-op prom=it-op wl b kind
	need_tools
	setup_workloads $ns $prom
	wait_for 60 prom_reconciled $prom ||
		fail "Prometheus $prom not Reconciled: $(kubectl -n $MON get prometheus $prom -o jsonpath='{.status.conditions}')"
	echo "Prometheus $MON/$prom: Reconciled=True ($(kubectl -n $MON get prometheus $prom -o jsonpath='{.status.conditions[?(@.type=="Reconciled")].message}'))"
	[ -z "$(op_rejections $ns)" ] || fail "the operator rejects generated objects: $(op_rejections $ns)"
	op_config $prom >"$WORK/prometheus.yaml"
	python3 - "$WORK/prometheus.yaml" $ns <<'PY' || fail "the operator's jobs are not what the workloads ask for"
import sys, yaml
cfg, ns = yaml.safe_load(open(sys.argv[1])), sys.argv[2]
want = {"namespace", "pod", "workload_name", "backend"}
n = 0
for j in cfg["scrape_configs"]:
    name = j["job_name"]
    if f"/{ns}/" not in name:
        continue
    n += 1
    rcs = j.get("relabel_configs", [])
    targets = {r.get("target_label") for r in rcs}
    missing = (want | ({"role"} if "-pd-" in name else set())) - targets
    assert not missing, (name, missing)
    # the last word on each label is ours (the operator's own namespace
    # and pod relabelings come first)
    for label, src in (("workload_name", "__meta_kubernetes_pod_label_alibabacloud_com_inference_workload"),
                       ("backend", "__meta_kubernetes_pod_label_alibabacloud_com_inference_backend")):
        last = [r for r in rcs if r.get("target_label") == label][-1]
        assert last["source_labels"] == [src], (name, label, last)
    # the HTTPS workloads: every job of theirs verifies the engines with
    # the CA and server name, and sends the bearer token
    if "/infermon-tls-" in name:
        tls, auth = j.get("tls_config") or {}, j.get("authorization") or {}
        got = (j.get("scheme"), bool(tls.get("ca_file") or tls.get("ca")), tls.get("server_name"),
               auth.get("type", "Bearer") if auth else None, bool(auth.get("credentials") or auth.get("credentials_file")))
        assert got == ("https", True, "engine.example", "Bearer", True), (name, got, tls, auth)
assert n == 20, n
print("each of the operator's %d jobs for %s relabels namespace, pod, workload_name, backend (and role for -pd);" % (n, ns))
print("the HTTPS workloads' jobs verify with the CA and server name and send the bearer token")
PY
	for b in "${BACKENDS[@]}"; do
		echo "$b: $(op_jobs $prom | grep -E "/$ns/infermon-$b-(sm|pm)(/|$)" | tr '\n' ' ')"
	done
	echo "side path (additionalScrapeConfigs): $(op_jobs $prom | grep '^infermon/' | tr '\n' ' ')"
	# MonitorSelected as the operator: each monitor is in the config
	while read -r wl b kind; do
		wait_for 30 iw_condition_is $ns "$wl" MonitorSelected True ||
			fail "$wl: the operator selects its $kind, MonitorSelected is $(kubectl -n $ns get iw "$wl" -o jsonpath='{.status.conditions[?(@.type=="MonitorSelected")]}')"
	done < <(workloads)
	# the rules: each PrometheusRule in the operator's rules ConfigMap
	wait_for 60 rules_in_configmap $prom $ns $NRULES ||
		fail "rules ConfigMap prometheus-$prom-rulefiles-0 lacks our PrometheusRules: $(kubectl -n $MON get cm "prometheus-$prom-rulefiles-0" -o json | jq -c '.data | keys')"
	echo "rules ConfigMap prometheus-$prom-rulefiles-0: $NRULES PrometheusRules of $ns"
	check_as_the_pod $prom
	stop_infermon
	stop_operator
}

# rules_in_configmap PROM NS N: the operator's rules ConfigMap holds N rule
# files of namespace NS (one per PrometheusRule: NS-NAME-UID.yaml); for wait_for.
rules_in_configmap() {
	local n
	n=$(kubectl -n $MON get cm "prometheus-$1-rulefiles-0" -o json |
		jq --arg p "$2-infermon-" '[.data | keys[] | select(startswith($p))] | length') || return 1
	[ "$n" -eq "$3" ]
}

# check_as_the_pod PROM: promtool check config on the operator's config and
# promtool check rules on its rules, with the files where the Prometheus
# pod would have them (/etc/prometheus/rules/prometheus-PROM-rulefiles-0/,
# /etc/prometheus/certs/ from the tls-assets Secret): a private mount
# namespace with a tmpfs on /etc/prometheus.
check_as_the_pod() {
	local prom=$1 d=$WORK/etc-prometheus
	pod_files "$prom" "$d"
	unshare -m bash -c "$(in_pod_mounts "$d") && cd /etc/prometheus &&
		'$BIN/promtool' check config config_out/prometheus.env.yaml >'$WORK/promtool-config.out' 2>&1 &&
		'$BIN/promtool' check rules rules/prometheus-$prom-rulefiles-0/*.yaml >'$WORK/promtool-rules.out' 2>&1" ||
		fail "promtool on the operator's output: $(cat "$WORK"/promtool-*.out)"
	echo "promtool check config: $(grep -m1 'SUCCESS: config_out' "$WORK/promtool-config.out" | sed 's/^ *//') ($(grep -m1 'rule files found' "$WORK/promtool-config.out" | sed 's/^ *SUCCESS: //'))"
	echo "promtool check rules: $(grep -c 'SUCCESS: [0-9]* rules found' "$WORK/promtool-rules.out") rule files, each SUCCESS"
}

# pod_files PROM DIR: what pod 0 of Prometheus PROM mounts under
# /etc/prometheus, into DIR: config_out/prometheus.env.yaml (the
# operator's config with each $(VAR) expanded, as the config-reloader
# container does, from the environment the operator's StatefulSet gives it:
# POD_NAME, SHARD), rules/prometheus-PROM-rulefiles-0/ (the rules
# ConfigMap), certs/ (the tls-assets Secret).
pod_files() {
	local prom=$1 d=$2
	mkdir -p "$d/config_out" "$d/rules/prometheus-$prom-rulefiles-0" "$d/certs"
	op_config "$prom" >"$d/prometheus.yaml"
	kubectl -n $MON get statefulset "prometheus-$prom" -o json | python3 -c '
import json, re, sys
sts, pod = json.load(sys.stdin), sys.argv[2]
c = [c for c in sts["spec"]["template"]["spec"]["containers"] if c["name"] == "config-reloader"][0]
env = {}
for e in c.get("env", []):
    ref = e.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath")
    env[e["name"]] = e["value"] if "value" in e else {"metadata.name": pod, "metadata.namespace": sts["metadata"]["namespace"]}[ref]
text = open(sys.argv[1]).read()
out = re.sub(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", lambda m: env[m.group(1)], text)
sys.stderr.write("config-reloader env: %s\n" % ", ".join("%s=%s" % kv for kv in sorted(env.items())))
sys.stdout.write(out)' "$d/prometheus.yaml" "prometheus-$prom-0" >"$d/config_out/prometheus.env.yaml" ||
		fail "cannot expand the operator's config as its config reloader would"
	rm "$d/prometheus.yaml"
	kubectl -n $MON get cm "prometheus-$prom-rulefiles-0" -o json | python3 -c '
import json, os, sys
for k, v in (json.load(sys.stdin).get("data") or {}).items():
    open(os.path.join(sys.argv[1], k), "w").write(v)' "$d/rules/prometheus-$prom-rulefiles-0"
	kubectl -n $MON get secret "prometheus-$prom-tls-assets-0" -o json | python3 -c '
import base64, json, os, sys
for k, v in (json.load(sys.stdin).get("data") or {}).items():
    open(os.path.join(sys.argv[1], k), "wb").write(base64.b64decode(v))' "$d/certs"
}

# in_pod_mounts DIR [SA-DIR]: shell commands for a private mount namespace
# (unshare -m) that put DIR at /etc/prometheus and SA-DIR at
# /var/run/secrets/kubernetes.io/serviceaccount, each on a tmpfs of its own
# (a tmpfs on /run: nothing is created outside the namespace).
in_pod_mounts() {
	local c="mount --make-rprivate / && mount -t tmpfs tmpfs /etc/prometheus && cp -r '$1'/. /etc/prometheus/"
	[ -d /etc/prometheus ] || fail "no /etc/prometheus to mount over (Debian package prometheus)"
	if [ -n "${2:-}" ]; then
		c="$c && mount -t tmpfs tmpfs /run && mkdir -p /run/secrets/kubernetes.io/serviceaccount &&
			cp '$2'/* /run/secrets/kubernetes.io/serviceaccount/ &&
			[ -f /var/run/secrets/kubernetes.io/serviceaccount/token ]"
	fi
	echo "$c"
}

# A real Prometheus with the operator's configuration, unchanged but for
# what its config reloader expands ($(POD_NAME)), in the environment of
# its pod: the operator's files at /etc/prometheus, a ServiceAccount token
# and the cluster CA at /var/run/secrets/kubernetes.io/serviceaccount,
# KUBERNETES_SERVICE_HOST/PORT naming the test API server (in-cluster
# service discovery, as the config has no api_server). The PodMonitor and
# ScrapeConfig jobs discover the pods (at 127.0.0.1) and scrape their
# engines: every target up, with the workload labels. ServiceMonitor jobs
# find no target here: EndpointSlices refuse loopback addresses (that waits
# for pods at non-loopback addresses on a real node).
test_prometheus_scrapes_through_the_operators_config() {
	local ns=it-op-e2e prom=it-op-e2e d=$WORK/etc-prometheus sa=$WORK/sa server port pport
	need_tools
	setup_workloads $ns $prom engines
	wait_for 60 prom_reconciled $prom || fail "Prometheus $prom not Reconciled"
	wait_for 60 rules_in_configmap $prom $ns $NRULES || fail "rules ConfigMap incomplete"
	# the ServiceAccount the Prometheus names, with what kube-prometheus-stack grants it
	kubectl -n $MON create sa "prometheus-$prom" >/dev/null
	kubectl create clusterrole it-op-prometheus --verb=get,list,watch \
		--resource=pods,services,endpoints,endpointslices.discovery.k8s.io,nodes >/dev/null
	at_exit kubectl delete clusterrole it-op-prometheus --ignore-not-found
	kubectl create clusterrolebinding it-op-prometheus --clusterrole=it-op-prometheus \
		--serviceaccount=$MON:prometheus-$prom >/dev/null
	at_exit kubectl delete clusterrolebinding it-op-prometheus --ignore-not-found
	mkdir -p "$sa"
	kubectl -n $MON create token "prometheus-$prom" --duration=1h >"$sa/token"
	kubectl config view --raw --minify -o jsonpath='{.clusters[0].cluster.certificate-authority-data}' | base64 -d >"$sa/ca.crt"
	echo $MON >"$sa/namespace"
	server=$(kubectl config view --raw --minify -o jsonpath='{.clusters[0].cluster.server}')
	[[ $server =~ ^https://127\.0\.0\.1:([0-9]+)$ ]] || fail "the test API server is not on 127.0.0.1: $server"
	port=${BASH_REMATCH[1]}
	pod_files $prom "$d"
	pport=$(free_port)
	unshare -m bash -c "$(in_pod_mounts "$d" "$sa") &&
		exec env KUBERNETES_SERVICE_HOST=127.0.0.1 KUBERNETES_SERVICE_PORT=$port '$BIN/prometheus' \
		--config.file=/etc/prometheus/config_out/prometheus.env.yaml --storage.tsdb.path='$WORK/tsdb' \
		--storage.tsdb.retention.time=1h --web.listen-address=127.0.0.1:$pport --log.level=warn" \
		>"$WORK/prometheus.log" 2>&1 &
	CLEANUP_PIDS="${CLEANUP_PIDS:-} $!"
	wait_for 60 curl -sf "http://127.0.0.1:$pport/-/ready" || fail "prometheus: $(cat "$WORK/prometheus.log")"
	echo "prometheus (module $(go version -m "$BIN/prometheus" | awk '$1 == "mod" { print $2, $3 }')) on 127.0.0.1:$pport, the operator's config"
	wait_for 120 targets_ok $pport $ns >/dev/null || { targets_ok $pport $ns; fail "targets: $(tail -5 "$WORK/prometheus.log")"; }
	targets_ok $pport $ns
}

# targets_ok PORT NS: the Prometheus on PORT has every PodMonitor,
# ScrapeConfig and side-path target of NS's pods up, labelled namespace,
# pod, workload_name, backend (role for -pd), each pod once per job; the
# engines' own series arrived. Prints a summary; for wait_for.
targets_ok() {
	python3 - "$1" "$2" "$WORK/pod-ports" <<'PY'
import collections, json, sys, urllib.parse, urllib.request
port, ns, pods = sys.argv[1], sys.argv[2], dict(l.split() for l in open(sys.argv[3]))
base = "http://127.0.0.1:%s/api/v1/" % port
def get(path):
    return json.load(urllib.request.urlopen(base + path, timeout=10))["data"]
active = [t for t in get("targets?state=active")["activeTargets"] if t["labels"].get("namespace") == ns]
bad, seen, per_kind = [], collections.defaultdict(set), collections.Counter()
for t in active:
    # the scrape pool is the config's job_name; the job label is the
    # operator's (namespace/name for a PodMonitor)
    l, job = t["labels"], t["scrapePool"]
    kind = job.split("/")[0]
    if t["health"] != "up":
        bad.append("%s %s: %s %s" % (job, l.get("pod"), t["health"], t["lastError"]))
        continue
    for k in ("namespace", "pod", "workload_name", "backend"):
        if not l.get(k):
            bad.append("%s %s: no %s label" % (job, l.get("pod"), k))
    if l.get("backend", "").endswith("-pd") and l.get("role") not in ("prefill", "decode"):
        bad.append("%s %s: role %r" % (job, l.get("pod"), l.get("role")))
    if l.get("role") and not l["pod"].startswith(l["workload_name"] + "-" + l["role"]):
        bad.append("%s %s: role %s" % (job, l["pod"], l["role"]))
    if t["scrapeUrl"] != "http://127.0.0.1:%s/metrics" % pods.get(l.get("pod"), "?"):
        bad.append("%s %s: scrapes %s" % (job, l.get("pod"), t["scrapeUrl"]))
    seen[job].add(l["pod"])
    per_kind[kind] += 1
want = collections.Counter()
for p in pods:
    wl = p.rsplit("-", 2)[0] if ("-prefill-" in p or "-decode-" in p) else p.rsplit("-", 1)[0]
    want["scrapeConfig"] += 1
    want["infermon"] += 1
    if wl.endswith("-pm"):
        want["podMonitor"] += 1
for k, n in want.items():
    if per_kind[k] != n:
        bad.append("%s: %d targets up, want %d" % (k, per_kind[k], n))
up = get("query?query=" + urllib.parse.quote('count by (backend) (up{namespace="%s"} == 1)' % ns))["result"]
series = get("query?query=" + urllib.parse.quote(
    'count by (backend) ({__name__=~"vllm:num_requests_running|sglang:num_running_reqs", namespace="%s"})' % ns))["result"]
print("targets up by job kind: %s (ServiceMonitor jobs: %d targets)" % (dict(sorted(per_kind.items())),
      sum(1 for t in active if t["scrapePool"].startswith("serviceMonitor/"))))
print("up == 1 by backend: %s" % {r["metric"]["backend"]: r["value"][1] for r in up})
print("running-requests series by backend: %s" % {r["metric"]["backend"]: r["value"][1] for r in series})
if len(series) != 4:
    bad.append("engine series for %d backends, want 4" % len(series))
for b in bad:
    print("  " + b)
sys.exit(1 if bad else 0)
PY
}

# MonitorSelected=False exactly where the operator leaves the monitor out,
# and True exactly where it puts it in, on the same cases: label
# selectors with matchLabels, In, NotIn, Exists; namespace selectors with
# matchLabels and Exists; matchPrometheus stamping, a conflict with the
# CR's own labels, a namespace not admitted, a ServiceMonitor naming a
# missing CA Secret (selected, but rejected: the operator says so in the
# monitor's status.bindings with its StatusForConfigurationResources
# gate); then the namespace labelled and both sides change together.
# (A PodMonitor naming a missing Secret is left out: v0.85 writes no
# PodMonitor status, so MonitorSelected cannot see that rejection.)
test_monitor_selected_agrees_with_the_operator() {
	local a=it-op-sel-a b=it-op-sel-b prom=it-op-sel ns wl kind labels
	need_tools
	fresh_ns_here $a
	fresh_ns_here $b
	fresh_mon
	kubectl label ns $a infermon-test=on >/dev/null
	# MonitorSelected counts every Prometheus in the cluster, the
	# operator here only those in $MON: no other may exist
	[ -z "$(kubectl get prometheus -A --no-headers 2>/dev/null)" ] ||
		fail "Prometheus objects left by another test: $(kubectl get prometheus -A --no-headers)"
	prometheus $prom "{serviceMonitorSelector: {matchExpressions: [{key: release, operator: In, values: [it-op, kp]}]}, serviceMonitorNamespaceSelector: {matchLabels: {infermon-test: 'on'}}, podMonitorSelector: {matchLabels: {release: it-op}, matchExpressions: [{key: tier, operator: NotIn, values: [dev]}]}, podMonitorNamespaceSelector: {matchExpressions: [{key: infermon-test, operator: Exists}]}}"
	# NS WORKLOAD KIND SPEC-FIELDS (besides backend)
	cat >"$WORK/cases" <<CASES
$a sm-match ServiceMonitor monitor: {kind: ServiceMonitor, matchPrometheus: true}
$a sm-kp ServiceMonitor monitor: {kind: ServiceMonitor, labels: {release: kp}}
$a sm-none ServiceMonitor monitor: {kind: ServiceMonitor, matchPrometheus: false}
$a sm-other ServiceMonitor monitor: {kind: ServiceMonitor, labels: {release: other}}
$a sm-conflict ServiceMonitor monitor: {kind: ServiceMonitor, labels: {release: other}, matchPrometheus: true}
$a sm-nosecret ServiceMonitor monitor: {kind: ServiceMonitor, matchPrometheus: true}, metrics: {scheme: https, tls: {ca: {secretKeyRef: {name: no-such-secret, key: ca.crt}}}}
$b sm-match ServiceMonitor monitor: {kind: ServiceMonitor, matchPrometheus: true}
$b sm-kp ServiceMonitor monitor: {kind: ServiceMonitor, labels: {release: kp}}
$a pm-match PodMonitor monitor: {kind: PodMonitor, matchPrometheus: true}
$a pm-dev PodMonitor monitor: {kind: PodMonitor, labels: {release: it-op, tier: dev}}
$a pm-prod PodMonitor monitor: {kind: PodMonitor, labels: {release: it-op, tier: prod}}
$a pm-none PodMonitor monitor: {kind: PodMonitor, matchPrometheus: false}
$b pm-match PodMonitor monitor: {kind: PodMonitor, matchPrometheus: true}
$b pm-plain PodMonitor monitor: {kind: PodMonitor, labels: {release: it-op}}
CASES
	while read -r ns wl kind extra; do
		apply_iw "$ns" "$wl" "{backend: vllm, $extra}"
	done <"$WORK/cases"
	start_controller --namespace $a --namespace $b --scrape-secret $MON/infermon-scrape-configs
	while read -r ns wl kind _; do
		wait_for 30 kubectl -n "$ns" get "$kind" "infermon-$wl" || fail "no $kind $ns/infermon-$wl"
	done <"$WORK/cases"
	# the operator says on each monitor whether it loads it (status.bindings,
	# alpha in v0.85): what MonitorSelected reads for a monitor it rejects
	start_operator --feature-gates=StatusForConfigurationResources=true
	compare_selection $prom "" 1 $a
	[ "$(kubectl -n $a get iw sm-nosecret -o jsonpath='{.status.conditions[?(@.type=="MonitorSelected")].reason}')" = Rejected ] ||
		fail "sm-nosecret: not reason Rejected"
	echo "sm-nosecret: MonitorSelected=False, Rejected: $(kubectl -n $a get iw sm-nosecret -o jsonpath='{.status.conditions[?(@.type=="MonitorSelected")].message}')"
	# the namespace labelled: b's monitors are admitted now on both sides
	# (sm-kp, pm-plain, and the matchPrometheus ones stamped anew); the
	# markers go to b, which the operator selects only once it saw the label
	kubectl label ns $b infermon-test=on >/dev/null
	# the operator judges the monitors as the controller leaves them: let
	# it stamp b's matchPrometheus ones first (if it never does, the
	# comparison below says what each side made of that)
	wait_for 30 bash -c "kubectl -n $b get servicemonitor infermon-sm-match -o jsonpath='{.metadata.labels.release}' | grep -q . &&
		kubectl -n $b get podmonitor infermon-pm-match -o jsonpath='{.metadata.labels.release}' | grep -q ." ||
		echo "the controller did not stamp $b's matchPrometheus monitors"
	compare_selection $prom "after labelling namespace $b" 2 $b
	stop_infermon
	stop_operator
}

# compare_selection PROM WHEN ROUND MARKER-NS: applies a marker
# ServiceMonitor and PodMonitor workload (labelled release=it-op) in
# MARKER-NS and waits until the operator's config has both: its informers
# had every earlier monitor and the namespace's labels then, so the config
# is the operator's verdict on every case. Then, case by case of
# $WORK/cases, the controller's MonitorSelected must come to True where the
# job is in the config and to False where it is not (it is judged again on
# every change of a Prometheus or Namespace, so it is waited for).
compare_selection() {
	local prom=$1 when=$2 r=$3 mns=$4 ns wl kind bad=0 op want ctl n_in=0
	apply_iw "$mns" "mark-sm-$r" "{backend: vllm, monitor: {kind: ServiceMonitor, labels: {release: it-op}}}"
	apply_iw "$mns" "mark-pm-$r" "{backend: vllm, monitor: {kind: PodMonitor, labels: {release: it-op}}}"
	wait_for 120 op_has_jobs "$prom" "serviceMonitor/$mns/infermon-mark-sm-$r/0" "podMonitor/$mns/infermon-mark-pm-$r/0" ||
		fail "markers not in the operator's config: $(op_jobs "$prom" | tr '\n' ' ')"
	op_jobs "$prom" >"$WORK/jobs"
	printf '%-12s %-12s %-15s %-9s %s\n' namespace workload kind operator MonitorSelected
	while read -r ns wl kind _; do
		op=out want=False
		if grep -qxF "$(monitor_job "$ns" "$wl" "$kind")" "$WORK/jobs"; then op=in want=True n_in=$((n_in + 1)); fi
		wait_for 30 iw_condition_is "$ns" "$wl" MonitorSelected $want || true
		ctl=$(kubectl -n "$ns" get iw "$wl" -o jsonpath='{.status.conditions[?(@.type=="MonitorSelected")].status}')
		printf '%-12s %-12s %-15s %-9s %s\n' "$ns" "$wl" "$kind" "$op" "$ctl"
		if [ "$ctl" != $want ]; then
			bad=1
			echo "  disagree: $(kubectl -n "$ns" get iw "$wl" -o jsonpath='{.status.conditions[?(@.type=="MonitorSelected")].message}')"
		fi
	done <"$WORK/cases"
	# the one rejection: the case that names a missing Secret
	[ -z "$(op_rejections "$mns" | grep -v 'object="\?[^ ]*/infermon-sm-nosecret"\?$')" ] ||
		fail "rejections: $(op_rejections "$mns")"
	[ $bad -eq 0 ] || fail "MonitorSelected and the operator disagree${when:+ $when}"
	echo "MonitorSelected agrees with the operator on $(wc -l <"$WORK/cases") monitors${when:+ $when} ($n_in selected)"
}

# A test-only ServiceMonitor whose relabeling has an unbalanced regex,
# beside the same monitor intact: the operator drops the broken one, and
# the checks the acceptance test makes of ours (op_rejected, the job in
# the config) report it.
test_broken_relabeling_is_dropped_and_noticed() {
	local ns=it-op-broken prom=it-op-broken
	need_tools
	fresh_ns_here $ns
	fresh_mon
	prometheus $prom "{$(kps_selectors it-op)}"
	apply_iw $ns chat "{backend: vllm, monitor: {matchPrometheus: true}}"
	start_controller --namespace $ns --scrape-secret $MON/infermon-scrape-configs
	wait_for 30 kubectl -n $ns get servicemonitor infermon-chat || fail "no ServiceMonitor"
	wait_for 30 bash -c "kubectl -n $ns get servicemonitor infermon-chat -o jsonpath='{.metadata.labels.release}' | grep -qx it-op" ||
		fail "release label not stamped"
	stop_infermon
	# copies of the generated monitor; one with the workload_name
	# relabeling's regex unbalanced (the CRD schema takes any string)
	kubectl -n $ns get servicemonitor infermon-chat -o json | python3 -c '
import json, sys
m = json.load(sys.stdin)
for name, broken in (("test-broken", True), ("test-intact", False)):
    o = {"apiVersion": m["apiVersion"], "kind": m["kind"], "spec": json.loads(json.dumps(m["spec"])),
         "metadata": {"name": name, "namespace": m["metadata"]["namespace"], "labels": m["metadata"]["labels"]}}
    if broken:
        for r in o["spec"]["endpoints"][0]["relabelings"]:
            if r.get("targetLabel") == "workload_name":
                r["regex"] = "(.+"
    print(json.dumps(o))' >"$WORK/copies.json"
	grep -q '"regex": "(.+"' "$WORK/copies.json" || fail "no broken relabeling written"
	# one at a time, the broken one first
	head -1 "$WORK/copies.json" | kubectl apply -f - >/dev/null || fail "the API server refuses the broken copy"
	tail -1 "$WORK/copies.json" | kubectl apply -f - >/dev/null || fail "the API server refuses the intact copy"
	start_operator
	# test-broken was created first: once test-intact is in the config, the
	# operator's informer had test-broken too
	wait_for 120 op_has_jobs $prom "serviceMonitor/$ns/test-intact/0" "serviceMonitor/$ns/infermon-chat/0" ||
		fail "the intact copy is not in the config: $(op_jobs $prom | tr '\n' ' ')"
	wait_for 30 op_rejected $ns test-broken || fail "the operator's log does not reject test-broken: $(tail -20 "$WORK/operator.log")"
	op_rejections $ns | head -1
	! op_has_jobs $prom "serviceMonitor/$ns/test-broken/0" || fail "the broken monitor is in the config"
	! op_rejected $ns infermon-chat || fail "the generated monitor is rejected"
	! op_rejected $ns test-intact || fail "the intact copy is rejected"
	echo "noticed: test-broken rejected and left out of the config; test-intact and infermon-chat in it"
	stop_operator
}

run_test "$1"
