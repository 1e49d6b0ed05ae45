#!/usr/bin/env bash
# infermon render for CI: its output applies on the real API server, its
# scrape configs pass promtool and make a real Prometheus discover exactly
# the labelled, running pods, and bad input is named by file and line.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

DATA=$(cd "$(dirname "$0")/../data/render" && pwd)
PROMBIN=$(infermon_cache)/bin

# scrape_jobs RENDERED OUT: writes the Secret's scrape-configs.yaml to OUT.
scrape_jobs() {
	python3 - "$1" "$2" <<'PY'
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
sec = [d for d in docs if d["kind"] == "Secret"][0]
open(sys.argv[2], "w").write(sec["stringData"]["scrape-configs.yaml"])
PY
}

test_output_is_deterministic_and_applies_server_side() {
	"$INFERMON_BIN" render -f "$DATA/workloads.yaml" > "$WORK/a.yaml"
	"$INFERMON_BIN" render -f "$DATA/workloads.yaml" > "$WORK/b.yaml"
	cmp "$WORK/a.yaml" "$WORK/b.yaml" || fail "two renders differ"
	[ "$(grep -c '^---$' "$WORK/a.yaml")" -eq 10 ] || fail "want 10 objects: $(grep '^kind' "$WORK/a.yaml")"
	! grep -q ownerReferences "$WORK/a.yaml" || fail "ownerReferences offline"
	grep -q '^stringData:' "$WORK/a.yaml" || fail "the Secret is not readable stringData"
	kubectl create ns it-render --dry-run=client -o yaml | kubectl apply -f - >/dev/null
	kubectl create ns monitoring --dry-run=client -o yaml | kubectl apply -f - >/dev/null
	kubectl apply --dry-run=server -f "$WORK/a.yaml" > "$WORK/apply.out" 2>&1 ||
		fail "server dry-run rejected the output: $(cat "$WORK/apply.out")"
	grep -q 'servicemonitor.monitoring.coreos.com/infermon-qwen-chat created (server dry run)' "$WORK/apply.out" ||
		fail "$(cat "$WORK/apply.out")"
	grep -q 'podmonitor.monitoring.coreos.com/infermon-sgl-pd created (server dry run)' "$WORK/apply.out" || fail "no PodMonitor"
	grep -q 'scrapeconfig.monitoring.coreos.com/infermon-sgl-pd created (server dry run)' "$WORK/apply.out" || fail "no ScrapeConfig"
	grep -q 'prometheusrule.monitoring.coreos.com/infermon-qwen-chat created (server dry run)' "$WORK/apply.out" || fail "no PrometheusRule"
	grep -q 'prometheusrule.monitoring.coreos.com/infermon-sgl-pd created (server dry run)' "$WORK/apply.out" || fail "no PrometheusRule"
	# (a controller of another test may have delivered the real one)
	grep -Eq 'configmap/infermon-llm-inference (created|configured|unchanged) \(server dry run\)' "$WORK/apply.out" ||
		fail "no dashboard ConfigMap: $(cat "$WORK/apply.out")"
	# -o DIR: one file per object, same content
	"$INFERMON_BIN" render -f "$DATA/workloads.yaml" -o "$WORK/out"
	[ "$(ls "$WORK/out" | wc -l)" -eq 10 ] || fail "-o wrote $(ls "$WORK/out")"
	[ -f "$WORK/out/monitoring_configmap_infermon-llm-inference.yaml" ] || fail "-o: no dashboard ConfigMap file"
	cat "$WORK/out"/*.yaml | kubectl apply --dry-run=server -f - >/dev/null || fail "-o files rejected"
	# stdin works too
	"$INFERMON_BIN" render -f - < "$DATA/workloads.yaml" | cmp - "$WORK/a.yaml" || fail "stdin differs"
}

# Prometheus and Namespace objects in the input: matchPrometheus stamps what
# their selectors need (ruleSelector for the PrometheusRule too); a monitor
# none selects is noted on stderr.
test_match_prometheus_offline() {
	"$INFERMON_BIN" render -f "$DATA/prometheus.yaml" > "$WORK/r.yaml" 2> "$WORK/err" ||
		fail "render failed: $(cat "$WORK/err")"
	python3 - "$WORK/r.yaml" <<'PY' || fail "labels: $(cat "$WORK/r.yaml")"
import sys, yaml
docs = {(d["kind"], d["metadata"]["name"]): d for d in yaml.safe_load_all(open(sys.argv[1])) if d}
sm = docs[("ServiceMonitor", "infermon-matched")]["metadata"]["labels"]
pm = docs[("PodMonitor", "infermon-matched-pm")]["metadata"]["labels"]
um = docs[("ServiceMonitor", "infermon-unmatched")]["metadata"]["labels"]
rule = docs[("PrometheusRule", "infermon-matched")]["metadata"]["labels"]
print(sm, pm, um, rule)
assert rule.get("role") == "alert-rules", rule
assert sm.get("release") == "kp", sm
assert pm.get("team") == "ml", pm
assert "release" not in um, um
assert not any(k in ("Prometheus", "Namespace") for k, _ in docs), "input objects printed"
PY
	grep -qx 'infermon render: note: no Prometheus in the input selects ServiceMonitor it-render/infermon-unmatched' "$WORK/err" ||
		fail "no note: $(cat "$WORK/err")"
	[ "$(grep -c note: "$WORK/err")" -eq 1 ] || fail "notes for selected monitors: $(cat "$WORK/err")"
	# the same input twice: byte-identical
	"$INFERMON_BIN" render -f "$DATA/prometheus.yaml" 2>/dev/null | cmp - "$WORK/r.yaml" || fail "not deterministic"
}

# --match-prometheus, as run's flag: a workload without a CR (pods alone)
# gets the labels the Prometheus in the input selects; without the flag its
# monitor keeps none and is noted as selected by no Prometheus.
test_match_prometheus_flag_for_workloads_without_a_cr() {
	{ cat "$DATA/prometheus.yaml"; echo ---; cat <<'YAML'; } >"$WORK/in.yaml"
apiVersion: v1
kind: Pod
metadata:
  name: solo-0
  namespace: it-render
  labels: {alibabacloud.com/inference-workload: solo, alibabacloud.com/inference-backend: vllm}
spec:
  containers:
  - {name: vllm, image: vllm/vllm-openai, ports: [{name: http, containerPort: 8000}]}
YAML
	solo_release() {
		python3 -c 'import sys, yaml
for d in yaml.safe_load_all(open(sys.argv[1])):
    if d and d["kind"] == "ServiceMonitor" and d["metadata"]["name"] == "infermon-solo":
        print(d["metadata"].get("labels", {}).get("release", "(none)"))' "$1"
	}
	"$INFERMON_BIN" render -f "$WORK/in.yaml" >"$WORK/off.yaml" 2>"$WORK/off.err" || fail "render: $(cat "$WORK/off.err")"
	[ "$(solo_release "$WORK/off.yaml")" = "(none)" ] || fail "without the flag: release $(solo_release "$WORK/off.yaml")"
	grep -q 'selects ServiceMonitor it-render/infermon-solo' "$WORK/off.err" || fail "no note: $(cat "$WORK/off.err")"
	"$INFERMON_BIN" render --match-prometheus -f "$WORK/in.yaml" >"$WORK/on.yaml" 2>"$WORK/on.err" ||
		fail "render --match-prometheus: $(cat "$WORK/on.err")"
	[ "$(solo_release "$WORK/on.yaml")" = kp ] || fail "with the flag: release $(solo_release "$WORK/on.yaml")"
	! grep -q 'infermon-solo' "$WORK/on.err" || fail "noted though selected: $(cat "$WORK/on.err")"
	# every other object is as without the flag (the CRs decide for themselves)
	python3 - "$WORK/off.yaml" "$WORK/on.yaml" <<'PY' || fail "the flag changed objects of workloads with a CR"
import sys, yaml
def docs(f):
    return {(d["kind"], d["metadata"]["namespace"], d["metadata"]["name"]): d
            for d in yaml.safe_load_all(open(f)) if d and d["metadata"]["name"] != "infermon-solo"}
off, on = docs(sys.argv[1]), docs(sys.argv[2])
diff = sorted(k for k in off.keys() | on.keys() if off.get(k) != on.get(k))
print("differ:", diff) if diff else None
sys.exit(1 if diff else 0)
PY
}

test_bad_input_names_file_and_line() {
	local f out
	for f in bad-interval:16:'spec.metrics.interval "15x" in llm/qwen-chat: not a duration' \
		bad-objective:17:'spec.slo.objectives[1].window "7d" in llm/slo-chat: must be 28d to 90d' \
		bad-syntax:6:"did not find expected" \
		bad-kind:1:'unsupported kind "Deployment"' \
		conflict:2:'InferenceWorkload it-render/qwen-dup selects workload "qwen-chat", as it-render/qwen-chat does ('"$DATA"'/workloads.yaml:2)'; do
		local file=${f%%:*} rest=${f#*:}
		local line=${rest%%:*} msg=${rest#*:}
		set +e
		"$INFERMON_BIN" render -f "$DATA/workloads.yaml" -f "$DATA/$file.yaml" > "$WORK/out" 2> "$WORK/err"
		local rc=$?
		set -e
		[ $rc -eq 2 ] || fail "$file: exit $rc, want 2"
		[ ! -s "$WORK/out" ] || fail "$file: printed something on stdout"
		grep -qF "$DATA/$file.yaml:$line" "$WORK/err" || fail "$file: no file:line $line in: $(cat "$WORK/err")"
		grep -qF "$msg" "$WORK/err" || fail "$file: unclear message: $(cat "$WORK/err")"
	done
	"$INFERMON_BIN" render -f "$WORK/none.yaml" 2> "$WORK/err" && fail "missing file accepted"
	grep -q 'none.yaml' "$WORK/err" || fail "missing file not named"
}

# A vLLM workload's latency threshold that is not a bound of vLLM's
# buckets measures nothing: render says so (naming the nearest bounds) and
# still renders; the shipped samples' thresholds are all bounds.
test_slo_thresholds_off_the_buckets_are_noted() {
	cat > "$WORK/slo.yaml" <<'YAML'
apiVersion: infermon.io/v1alpha1
kind: InferenceWorkload
metadata: {name: chat, namespace: llm}
spec:
  backend: vllm
  slo:
    objectives:
    - {sli: ttft, thresholdSeconds: 2, target: 99}
    - {sli: tpot, thresholdSeconds: 0.05, target: 99}
    - {sli: e2e, thresholdSeconds: 9000, target: 99}
    - {sli: availability, target: 99}
YAML
	"$INFERMON_BIN" render -f "$WORK/slo.yaml" > "$WORK/out" 2> "$WORK/err" || fail "render: $(cat "$WORK/err")"
	grep -q 'kind: PrometheusRule' "$WORK/out" || fail "no PrometheusRule"
	grep -qF "objectives[0] (ttft 2s) is not a bucket bound of vLLM's time_to_first_token_seconds histogram (nearest bounds 1 and 2.5)" "$WORK/err" ||
		fail "no note for ttft 2s: $(cat "$WORK/err")"
	grep -qF "objectives[2] (e2e 9000s) is not a bucket bound of vLLM's e2e_request_latency_seconds histogram (nearest bound 7680)" "$WORK/err" ||
		fail "no note for e2e 9000s: $(cat "$WORK/err")"
	[ "$(grep -c 'is not a bucket bound' "$WORK/err")" -eq 2 ] || fail "want 2 notes: $(cat "$WORK/err")"
	"$INFERMON_BIN" render -f "$DATA/../../../deploy/samples/vllm.yaml" -f "$DATA/../../../deploy/samples/vllm-pd.yaml" \
		> /dev/null 2> "$WORK/err" || fail "samples: $(cat "$WORK/err")"
	! grep -q 'bucket bound' "$WORK/err" || fail "a sample's threshold is off the buckets: $(cat "$WORK/err")"
}

test_scrape_configs_pass_promtool() {
	"$INFERMON_BIN" render -f "$DATA/workloads.yaml" > "$WORK/r.yaml"
	scrape_jobs "$WORK/r.yaml" "$WORK/jobs.yaml"
	{ echo "scrape_configs:"; sed 's/^/  /' "$WORK/jobs.yaml"; } > "$WORK/prometheus.yml"
	"$PROMBIN/promtool" check config "$WORK/prometheus.yml" || fail "promtool rejected the scrape configs"
	# --scrape-timeout as run's flag: every job without its own timeout (CRs
	# too: the CRD leaves it unset) takes it; the CR that sets 2s keeps it;
	# a bad value is refused, naming it
	"$INFERMON_BIN" render -f "$DATA/workloads.yaml" --scrape-timeout 7s > "$WORK/r7.yaml"
	scrape_jobs "$WORK/r7.yaml" "$WORK/jobs7.yaml"
	[ "$(grep '^  scrape_timeout:' "$WORK/jobs7.yaml" | sort | uniq -c | awk '{print $1, $3}' | tr '\n' ' ')" = "1 2s 2 7s " ] ||
		fail "--scrape-timeout 7s: the jobs' timeouts are $(grep '^  scrape_timeout:' "$WORK/jobs7.yaml" | tr '\n' ' ')"
	if "$INFERMON_BIN" render -f "$DATA/workloads.yaml" --scrape-timeout 7x > /dev/null 2> "$WORK/err7"; then
		fail "--scrape-timeout 7x was accepted"
	fi
	grep -q '"7x"' "$WORK/err7" || fail "the error does not name the bad timeout: $(cat "$WORK/err7")"
}

# render's promise: the objects the controller applies for the same pods and
# CRs, field for field (applied_vs_render.py: the fields the controller's
# field manager owns, so nothing the API server defaults or sets; no
# ownerReferences), for vllm, sglang, vllm-pd and sglang-pd with a
# ServiceMonitor (and Service), a PodMonitor, a ScrapeConfig, a
# PrometheusRule, pod labels alone, a CR without a backend and one with
# matchPrometheus; and the scrape Secret's jobs and the dashboard ConfigMap.
# render reads the cluster's Prometheus objects and the Namespace, as the
# README tells CI to.
test_render_matches_what_the_controller_applies() {
	local ns=it-render-cmp cr cmp
	cmp=$(dirname "$0")/applied_vs_render.py
	fresh_ns $ns
	kubectl apply -f - >/dev/null <<YAML
apiVersion: monitoring.coreos.com/v1
kind: Prometheus
metadata: {name: it-render-cmp, namespace: monitoring}
spec: {serviceMonitorSelector: {matchLabels: {release: cmp}}, serviceMonitorNamespaceSelector: {}, ruleSelector: {matchLabels: {role: cmp-rules}}, ruleNamespaceSelector: {}}
YAML
	at_exit kubectl -n monitoring delete prometheus it-render-cmp --ignore-not-found
	kubectl apply -f "$DATA/compare.yaml" >/dev/null
	start_controller
	kubectl get prometheus -A -o yaml > "$WORK/proms.yaml"
	kubectl get ns $ns -o yaml > "$WORK/ns.yaml"
	# the controller's --scrape-interval 1s (start_controller) is the default interval
	"$INFERMON_BIN" render --scrape-interval 1s -f "$DATA/compare.yaml" -f "$WORK/proms.yaml" \
		-f "$WORK/ns.yaml" > "$WORK/r.yaml" 2> "$WORK/render.err" || fail "render: $(cat "$WORK/render.err")"
	for cr in $(kubectl -n $ns get iw -o jsonpath='{.items[*].metadata.name}'); do
		wait_for 60 iw_condition_is $ns "$cr" Ready True ||
			fail "$cr never Ready: $(kubectl -n $ns get iw "$cr" -o yaml)"
	done
	# the controller converges: compare until it has applied everything
	wait_for 60 bash -c "kubectl get -f '$WORK/r.yaml' --ignore-not-found --show-managed-fields -o json > '$WORK/live.json' &&
		python3 '$cmp' '$WORK/r.yaml' '$WORK/live.json' $ns" ||
		fail "the controller applied other objects than render prints: $(python3 "$cmp" "$WORK/r.yaml" "$WORK/live.json" $ns)"
	python3 "$cmp" "$WORK/r.yaml" "$WORK/live.json" $ns
	# every backend and kind was there to compare
	python3 - "$WORK/r.yaml" <<'EOF' || fail "the input does not cover every backend and kind"
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
kinds = {d["kind"] for d in docs}
assert kinds == {"Service", "ServiceMonitor", "PodMonitor", "ScrapeConfig", "PrometheusRule", "Secret", "ConfigMap"}, kinds
names = {d["metadata"]["name"] for d in docs}
for b in ("vllm", "sglang", "vllm-pd", "sglang-pd"):
    assert {"infermon-sm-" + b, "infermon-pm-" + b, "infermon-po-" + b} <= names, (b, names)
sm = [d for d in docs if d["kind"] == "ServiceMonitor" and d["metadata"]["name"] == "infermon-auto"][0]
assert sm["metadata"]["labels"].get("release") == "cmp", sm["metadata"]["labels"]  # matchPrometheus
EOF
	# and the controller holds nothing in the namespace that render does not print
	python3 - "$WORK/r.yaml" $ns <<'EOF' | sort > "$WORK/want"
import sys, yaml
for d in yaml.safe_load_all(open(sys.argv[1])):
    if d and d["metadata"].get("namespace") == sys.argv[2]:
        print("%s/%s" % (d["kind"].lower(), d["metadata"]["name"]))
EOF
	kubectl -n $ns get service,servicemonitor,podmonitor,scrapeconfig,prometheusrule \
		-l app.kubernetes.io/managed-by=infermon -o jsonpath='{range .items[*]}{.kind}/{.metadata.name}{"\n"}{end}' |
		tr 'A-Z' 'a-z' | sort > "$WORK/have"
	diff "$WORK/have" "$WORK/want" || fail "the controller holds objects render does not print (<) or lacks some (>)"
	stop_infermon
}

# Two InferenceWorkloads selecting one workload: render refuses the input
# (test_bad_input_names_file_and_line); the controller follows the older,
# whatever the names, and marks the other Ready=False Conflict with a
# Warning Event naming the one it follows; deleting that one hands the
# workload over.
test_controller_follows_the_older_of_two_crs_and_reports_the_other() {
	local ns=it-render-conflict
	fresh_ns $ns
	start_controller
	apply_iw $ns zz-first "{workloadName: qwen, backend: vllm}"
	wait_for 30 iw_condition_is $ns zz-first Ready True || fail "zz-first never Ready"
	sleep 1.1 # creationTimestamp has one-second resolution
	apply_iw $ns aa-second "{workloadName: qwen, backend: vllm, monitor: {kind: PodMonitor}}"
	wait_for 30 iw_condition_is $ns aa-second Ready False ||
		fail "no conflict reported: $(kubectl -n $ns get iw aa-second -o yaml)"
	[ "$(kubectl -n $ns get iw aa-second -o jsonpath='{.status.conditions[?(@.type=="Ready")].reason}')" = Conflict ] ||
		fail "reason: $(kubectl -n $ns get iw aa-second -o yaml)"
	kubectl -n $ns get iw aa-second -o jsonpath='{.status.conditions[?(@.type=="Ready")].message}' |
		grep -qF "InferenceWorkload $ns/zz-first selects workload \"qwen\" too and is older" ||
		fail "message: $(kubectl -n $ns get iw aa-second -o yaml)"
	wait_for 30 iw_has_event $ns aa-second 'Warning Conflict' || fail "no Warning Conflict event"
	kubectl -n $ns get events.events.k8s.io --field-selector regarding.name=aa-second -o jsonpath='{.items[*].note}' |
		grep -qF "$ns/zz-first" || fail "the event does not name the CR followed"
	# the older one governs: its ServiceMonitor, not the younger's PodMonitor
	[ "$(kubectl -n $ns get servicemonitor infermon-qwen -o jsonpath='{.metadata.ownerReferences[0].name}')" = zz-first ] ||
		fail "ServiceMonitor not owned by zz-first"
	! kubectl -n $ns get podmonitor infermon-qwen >/dev/null 2>&1 || fail "the younger CR's PodMonitor was applied"
	iw_condition_is $ns zz-first Ready True || fail "the older CR lost Ready"
	# reconciles go on: still one Conflict event
	kubectl -n $ns label iw aa-second touched=1 >/dev/null
	sleep 2
	[ "$(kubectl -n $ns get events.events.k8s.io --field-selector regarding.name=aa-second,reason=Conflict -o name | wc -l)" -eq 1 ] ||
		fail "Conflict event repeated: $(kubectl -n $ns get events.events.k8s.io --field-selector regarding.name=aa-second -o yaml)"
	# the older goes: the younger takes the workload over
	kubectl -n $ns delete iw zz-first >/dev/null
	wait_for 30 iw_condition_is $ns aa-second Ready True ||
		fail "aa-second did not take over: $(kubectl -n $ns get iw aa-second -o yaml)"
	wait_for 30 kubectl -n $ns get podmonitor infermon-qwen || fail "no PodMonitor after the hand-over"
	wait_for 60 bash -c "! kubectl -n $ns get servicemonitor infermon-qwen >/dev/null 2>&1" ||
		fail "zz-first's ServiceMonitor stayed"
	stop_infermon
}

# A fleet of 5,000 single-pod workloads in 10 namespaces (every seventh a
# -pd backend): every rendered object fits Kubernetes' 1 MiB object limit,
# the scrape Secret stays small (one job per setting, ~30 bytes a workload)
# and promtool accepts the jobs.
test_a_fleet_of_5000_workloads_fits_in_kubernetes_objects() {
	python3 - "$WORK/fleet.yaml" <<'PY'
import sys
with open(sys.argv[1], "w") as out:
    for i in range(5000):
        out.write("---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: wl-%d-0\n  namespace: scale-%d\n"
                  "  labels: {alibabacloud.com/inference-workload: wl-%d, alibabacloud.com/inference-backend: %s}\n"
                  "spec:\n  containers:\n  - {name: engine, image: x, ports: [{name: http, containerPort: 8000}]}\n"
                  % (i, i % 10, i, "vllm-pd" if i % 7 == 0 else "vllm"))
PY
	"$INFERMON_BIN" render -f "$WORK/fleet.yaml" > "$WORK/r.yaml"
	python3 - "$WORK/r.yaml" "$WORK/jobs.yaml" <<'PY' || fail "the rendered fleet does not fit"
import json, sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
kinds = {}
for d in docs:
    kinds[d["kind"]] = kinds.get(d["kind"], 0) + 1
assert kinds == {"Service": 5000, "ServiceMonitor": 5000, "Secret": 1, "ConfigMap": 1}, kinds
big = max(docs, key=lambda d: len(json.dumps(d)))
print("largest object: %s %s, %d bytes" % (big["kind"], big["metadata"]["name"], len(json.dumps(big))))
assert len(json.dumps(big)) < 1024 * 1024
sec = [d for d in docs if d["kind"] == "Secret"][0]
text = sec["stringData"]["scrape-configs.yaml"]
jobs = yaml.safe_load(text)
print("scrape Secret: %d bytes, %d jobs" % (len(text), len(jobs)))
assert len(jobs) == 2, [j["job_name"] for j in jobs]  # plain and -pd (role relabeling)
assert len(text) < 200 * 1024, len(text)
members = sum(len(r["regex"].split("|")) for j in jobs for r in j["relabel_configs"] if len(r["source_labels"]) == 3)
assert members == 5000, members
open(sys.argv[2], "w").write(text)
PY
	{ echo "scrape_configs:"; sed 's/^/  /' "$WORK/jobs.yaml"; } > "$WORK/prometheus.yml"
	"$PROMBIN/promtool" check config "$WORK/prometheus.yml" || fail "promtool rejected the fleet's scrape configs"
}

# A real Prometheus with the rendered jobs, pointed at the real API server,
# discovers exactly the labelled, Running, Ready pods on the metrics port and
# attaches namespace/pod/workload_name/backend.
test_prometheus_discovers_exactly_the_labelled_running_pods() {
	local ns=it-render p1 p2 pp api pki
	p1=$(free_port); p2=$(free_port); pp=$(free_port)
	start_sim "$p1" qwen3-26b --max-num-seqs 8
	start_sim "$p2" qwen3-26b --max-num-seqs 8
	kubectl delete ns $ns --ignore-not-found --wait=true >/dev/null
	kubectl create ns $ns >/dev/null
	engine_pod $ns qwen-chat-0 qwen-chat vllm "$p1"
	engine_pod $ns qwen-chat-1 qwen-chat vllm "$p2"
	# not scraped: pending, unlabelled, a LeaderWorkerSet worker
	kubectl -n $ns run pending --image=x --restart=Never --port=8000 \
		--labels=alibabacloud.com/inference-workload=qwen-chat,alibabacloud.com/inference-backend=vllm >/dev/null
	kubectl -n $ns run plain --image=x --restart=Never --port=8000 >/dev/null
	kubectl -n $ns patch pod plain --subresource=status --type=merge -p \
		'{"status":{"phase":"Running","podIP":"127.0.0.1","conditions":[{"type":"Ready","status":"True"}]}}' >/dev/null
	engine_pod $ns qwen-chat-w1 qwen-chat vllm "$(free_port)"
	kubectl -n $ns label pod qwen-chat-w1 leaderworkerset.sigs.k8s.io/worker-index=1 >/dev/null
	"$INFERMON_BIN" render -f "$DATA/workloads.yaml" > "$WORK/r.yaml"
	scrape_jobs "$WORK/r.yaml" "$WORK/jobs.yaml"
	api=$(kubectl config view --minify -o jsonpath='{.clusters[0].cluster.server}')
	pki=$INFERMON_CLUSTER_DIR/pki
	# the rendered jobs assume in-cluster credentials; point them at this API server
	python3 - "$WORK/jobs.yaml" "$WORK/prometheus.yml" "$api" "$pki" <<'PY'
import sys, yaml
jobs = yaml.safe_load(open(sys.argv[1]))
for j in jobs:
    for sd in j["kubernetes_sd_configs"]:
        sd["api_server"] = sys.argv[3]
        sd["tls_config"] = {"ca_file": sys.argv[4] + "/ca.crt",
                            "cert_file": sys.argv[4] + "/admin.crt",
                            "key_file": sys.argv[4] + "/admin.key"}
    j["scrape_interval"] = "1s"; j["scrape_timeout"] = "1s"
yaml.safe_dump({"global": {"scrape_interval": "1s"}, "scrape_configs": jobs}, open(sys.argv[2], "w"))
PY
	"$PROMBIN/prometheus" --config.file="$WORK/prometheus.yml" --storage.tsdb.path="$WORK/tsdb" \
		--web.listen-address="127.0.0.1:$pp" >"$WORK/prom.log" 2>&1 &
	CLEANUP_PIDS="$CLEANUP_PIDS $!"
	wait_for 60 bash -c "curl -sf 'http://127.0.0.1:$pp/api/v1/query?query=up%7Bnamespace%3D%22it-render%22%2Cworkload_name%3D%22qwen-chat%22%7D%3D%3D1' | python3 -c 'import json,sys; sys.exit(0 if len(json.load(sys.stdin)[\"data\"][\"result\"])==2 else 1)'" ||
		fail "targets never came up: $(curl -s "http://127.0.0.1:$pp/api/v1/targets" | head -c 3000) $(tail -5 "$WORK/prom.log")"
	curl -sf "http://127.0.0.1:$pp/api/v1/targets?state=active" > "$WORK/targets.json"
	python3 - "$WORK/targets.json" "$p1" "$p2" <<'PY' || fail "discovered targets are not exactly the two engines"
import json, sys
t = json.load(open(sys.argv[1]))["data"]["activeTargets"]
mine = sorted((x["labels"]["pod"], x["labels"]["workload_name"], x["labels"]["backend"],
               x["labels"]["namespace"], x["scrapeUrl"]) for x in t
              if x["labels"].get("namespace") == "it-render")
want = sorted([("qwen-chat-0", "qwen-chat", "vllm", "it-render", "http://127.0.0.1:%s/metrics" % sys.argv[2]),
               ("qwen-chat-1", "qwen-chat", "vllm", "it-render", "http://127.0.0.1:%s/metrics" % sys.argv[3])])
print("discovered:", mine)
sys.exit(0 if mine == want else 1)
PY
	# engine series carry the relabeled labels
	wait_for 30 bash -c "curl -sf 'http://127.0.0.1:$pp/api/v1/query?query=vllm:num_requests_running%7Bworkload_name%3D%22qwen-chat%22%2Cbackend%3D%22vllm%22%2Cnamespace%3D%22it-render%22%7D' | grep -q qwen-chat-1" ||
		fail "engine series lack the workload labels"
	kubectl delete ns $ns --wait=false >/dev/null
}

run_test "$1"
