#!/usr/bin/env bash
# Delivery of the dashboard (a ConfigMap for Grafana's sidecar) and of the
# workloads' PrometheusRules by the controller, on the real API server with
# the prometheus-operator CRDs and kube-controller-manager's garbage
# collector. Each test scopes the controller to its own namespace and puts
# the dashboard in a namespace of its own, so CRs other tests leave behind
# do not count.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
JSON=$ROOT/dashboards/llm-inference.json
CM=infermon-llm-inference

# start_scoped NS DASHBOARD-NS ARGS...: the controller watching NS only,
# its dashboard in DASHBOARD-NS; debug logs for reconciled_after_iw.
start_scoped() {
	local ns=$1 dns=$2; shift 2
	start_controller --namespace "$ns" --dashboards-namespace "$dns" --log-level debug "$@"
}

# dashboard_reconciled NS CR: the dashboard's reconcile ran after the
# controller saw CR as it is now (for the checks that it made no ConfigMap)
dashboard_reconciled() {
	local rv
	rv=$(iw_rv "$1" "$2") || fail "no InferenceWorkload $1/$2"
	wait_for 30 reconciled_after_iw "$WORK/log" "$1" "$2" "$rv" @dashboard ||
		fail "the dashboard was not reconciled after $1/$2 (resourceVersion $rv): $(grep -E 'InferenceWorkload|reconcil' "$WORK/log" | tail -20)"
}

ready() { # ready NS CR: the CR's Ready condition is True (its reconcile ran)
	wait_for 30 iw_condition_is $1 $2 Ready True
}

# cm_json DNS: the dashboard JSON in the ConfigMap, to $WORK/cm.json
cm_json() {
	kubectl -n "$1" get cm $CM -o json > "$WORK/cm.full.json"
	python3 -c 'import json,sys; sys.stdout.write(json.load(open(sys.argv[1]))["data"]["llm-inference.json"])' \
		"$WORK/cm.full.json" > "$WORK/cm.json"
}

test_configmap_is_delivered_restored_and_repaired() {
	local ns=it-dash-cm dns=it-dash-cm-mon size
	fresh_ns $ns
	fresh_ns $dns
	start_scoped $ns $dns
	apply_iw $ns qwen "{backend: vllm}"
	wait_for 30 kubectl -n $dns get cm $CM || fail "no dashboard ConfigMap: $(tail -20 "$WORK/log")"
	[ "$(kubectl -n $dns get cm $CM -o jsonpath='{.metadata.labels.grafana_dashboard}')" = 1 ] || fail "no grafana_dashboard label"
	[ "$(kubectl -n $dns get cm $CM -o jsonpath='{.metadata.labels.app\.kubernetes\.io/managed-by}')" = infermon ] ||
		fail "no managed-by label"
	[ "$(kubectl -n $dns get cm $CM -o jsonpath='{.metadata.annotations.grafana_folder}')" = "LLM Inference" ] ||
		fail "no grafana_folder annotation"
	[ "$(kubectl -n $dns get cm $CM -o jsonpath='{.metadata.annotations.k8s-sidecar-target-directory}')" = "LLM Inference" ] ||
		fail "no k8s-sidecar-target-directory annotation"
	[ -z "$(kubectl -n $dns get cm $CM -o jsonpath='{.metadata.ownerReferences}')" ] || fail "the shared ConfigMap has an owner"
	cm_json $dns
	cmp "$WORK/cm.json" "$JSON" || fail "the ConfigMap's JSON differs from dashboards/llm-inference.json"
	size=$(wc -c < "$WORK/cm.full.json")
	echo "ConfigMap: $(wc -c < "$WORK/cm.json") bytes of JSON, $size bytes as an object"
	[ "$size" -lt 1048576 ] || fail "ConfigMap is $size bytes"
	# server-side apply, no client-side annotation
	[ -z "$(kubectl -n $dns get cm $CM -o jsonpath='{.metadata.annotations.kubectl\.kubernetes\.io/last-applied-configuration}')" ] ||
		fail "last-applied-configuration annotation"
	kubectl -n $dns get cm $CM -o jsonpath='{.metadata.managedFields[*].manager}' | grep -qw infermon ||
		fail "not applied by field manager infermon"

	kubectl -n $dns delete cm $CM >/dev/null
	wait_for 30 kubectl -n $dns get cm $CM || fail "deleted ConfigMap not restored"
	cm_json $dns
	cmp -s "$WORK/cm.json" "$JSON" || fail "restored ConfigMap differs"

	kubectl -n $dns patch cm $CM --type=merge -p '{"data":{"llm-inference.json":"{}"}}' >/dev/null
	wait_for 30 bash -c "kubectl -n $dns get cm $CM -o json | python3 -c 'import json,sys; sys.exit(json.load(sys.stdin)[\"data\"][\"llm-inference.json\"] != open(\"$JSON\").read())'" ||
		fail "edited dashboard JSON not repaired"
	kubectl -n $dns label cm $CM grafana_dashboard- >/dev/null
	wait_for 30 bash -c "kubectl -n $dns get cm $CM -o jsonpath='{.metadata.labels.grafana_dashboard}' | grep -qx 1" ||
		fail "removed sidecar label not repaired"
	grep -q 'create ConfigMap' "$WORK/log" && grep -q 'update ConfigMap' "$WORK/log" || fail "no create/update in the log"
	stop_infermon
}

# One dashboard for all: there while any workload wants it, gone when none does.
test_dashboard_follows_what_the_workloads_want() {
	local ns=it-dash-want dns=it-dash-want-mon port
	fresh_ns $ns
	fresh_ns $dns
	start_scoped $ns $dns
	apply_iw $ns a "{backend: vllm, dashboard: {enabled: false}}"
	ready $ns a || fail "CR a never reconciled"
	dashboard_reconciled $ns a
	! kubectl -n $dns get cm $CM >/dev/null 2>&1 || fail "ConfigMap although no workload wants it"
	apply_iw $ns b "{backend: vllm}"
	wait_for 30 kubectl -n $dns get cm $CM || fail "no ConfigMap when CR b wants it"
	apply_iw $ns b "{backend: vllm, dashboard: {enabled: false}}"
	wait_for 30 bash -c "! kubectl -n $dns get cm $CM >/dev/null 2>&1" || fail "ConfigMap not pruned when none wants it"
	grep -q "delete ConfigMap $dns/$CM" "$WORK/log" || fail "no delete in the log"
	# a workload of pod labels alone takes the default: on
	port=$(free_port)
	start_sim "$port" m --max-num-seqs 4
	engine_pod $ns solo-0 solo vllm "$port" --max-num-seqs 4
	wait_for 30 kubectl -n $dns get cm $CM || fail "no ConfigMap for a workload of pod labels"
	stop_infermon

	# --no-dashboard: none, whatever the CRs say; one left behind stays untouched
	kubectl -n $dns delete cm $CM >/dev/null
	start_scoped $ns $dns --no-dashboard
	apply_iw $ns b "{backend: vllm, dashboard: {enabled: true}}"
	ready $ns b || fail "CR b never reconciled"
	dashboard_reconciled $ns b
	! kubectl -n $dns get cm $CM >/dev/null 2>&1 || fail "--no-dashboard delivered a ConfigMap"
	stop_infermon
}

# The label, folder and namespace are flags.
test_dashboard_flags_change_label_folder_and_namespace() {
	local ns=it-dash-flags dns=it-dash-flags-mon
	fresh_ns $ns
	fresh_ns $dns
	start_scoped $ns $dns --dashboard-label grafana.example.com/dashboard=llm --dashboard-folder Inference
	apply_iw $ns qwen "{backend: vllm}"
	wait_for 30 kubectl -n $dns get cm $CM || fail "no ConfigMap"
	[ "$(kubectl -n $dns get cm $CM -o jsonpath='{.metadata.labels.grafana\.example\.com/dashboard}')" = llm ] ||
		fail "label: $(kubectl -n $dns get cm $CM -o jsonpath='{.metadata.labels}')"
	[ -z "$(kubectl -n $dns get cm $CM -o jsonpath='{.metadata.labels.grafana_dashboard}')" ] || fail "default label too"
	[ "$(kubectl -n $dns get cm $CM -o jsonpath='{.metadata.annotations.grafana_folder}')" = Inference ] || fail "folder"
	stop_infermon
	# bad flags: exit 2 naming the flag and the value
	for bad in "--dashboard-label nolabel" "--dashboard-label bad key=x" "--dashboards-namespace Mon" \
		"--dashboard-folder a/b" "--grafana-instance-selector a=b,c" \
		"--dashboard-label app.kubernetes.io/managed-by=x"; do
		set +e
		# shellcheck disable=SC2086
		"$INFERMON_BIN" run $bad > "$WORK/out" 2> "$WORK/err"
		local rc=$?
		set -e
		[ $rc -eq 2 ] || fail "$bad: exit $rc, want 2"
		grep -q -- "invalid --${bad#--}" "$WORK/err" || grep -q -- "${bad%% *}" "$WORK/err" ||
			fail "$bad: unclear message: $(cat "$WORK/err")"
		echo "$bad -> $(head -1 "$WORK/err")"
	done
}

# --grafana-operator needs grafana-operator's CRD: without it, a clear error
# and exit 1. The test removes the CRD if another left it (and puts it back),
# so it runs whatever ran before.
test_grafana_operator_without_its_crd_is_a_clear_error() {
	local ns=it-dash-gop rc=0
	without_crd grafanadashboards.grafana.integreatly.org "$ROOT/test/data/crds/grafanadashboards.yaml"
	fresh_ns $ns
	"$INFERMON_BIN" run --metrics-secure=false --metrics-bind-address 127.0.0.1:0 --namespace $ns --grafana-operator > "$WORK/gop.log" 2>&1 &
	local pid=$!
	CLEANUP_PIDS="${CLEANUP_PIDS:-} $pid"
	wait_for 20 bash -c "! kill -0 $pid 2>/dev/null" || fail "infermon kept running without the GrafanaDashboard CRD"
	wait "$pid" || rc=$?
	[ $rc -eq 1 ] || fail "exit $rc, want 1: $(cat "$WORK/gop.log")"
	grep -q 'GrafanaDashboard CRD (grafanadashboards.grafana.integreatly.org, version v1beta1) is not installed' "$WORK/gop.log" ||
		fail "unclear error: $(cat "$WORK/gop.log")"
	grep 'GrafanaDashboard CRD' "$WORK/gop.log"
}

test_prometheusrule_follows_the_cr() {
	local ns=it-dash-rules dns=it-dash-rules-mon pr=infermon-qwen
	fresh_ns $ns
	fresh_ns $dns
	start_scoped $ns $dns
	apply_iw $ns qwen "{backend: vllm, monitor: {labels: {release: prom}}}"
	ready $ns qwen || fail "never reconciled"
	! kubectl -n $ns get prometheusrule $pr >/dev/null 2>&1 || fail "a PrometheusRule although alerts are off"
	apply_iw $ns qwen "{backend: vllm, monitor: {labels: {release: prom}}, alerts: {enabled: true}, slo: {ttftP95Seconds: 0.5}}"
	wait_for 30 kubectl -n $ns get prometheusrule $pr || fail "no PrometheusRule: $(tail -20 "$WORK/log")"
	[ "$(kubectl -n $ns get prometheusrule $pr -o jsonpath='{.metadata.ownerReferences[0].kind}/{.metadata.ownerReferences[0].name}')" = InferenceWorkload/qwen ] ||
		fail "no ownerReference"
	[ "$(kubectl -n $ns get prometheusrule $pr -o jsonpath='{.metadata.labels.release}')" = prom ] || fail "monitor labels missing"
	kubectl -n $ns get prometheusrule $pr -o jsonpath='{.spec.groups[0].rules[*].alert}' > "$WORK/alerts"
	[ "$(cat "$WORK/alerts")" = "LLMTTFTAboveSLO LLMLimitDrift LLMAdmissionBound LLMKVCachePressure LLMEngineDown" ] ||
		fail "alerts: $(cat "$WORK/alerts")"
	kubectl -n $ns get iw qwen -o jsonpath='{.status.generated[*].kind}' | grep -qw PrometheusRule ||
		fail "status.generated lacks the PrometheusRule"
	# deleted: restored; edited: repaired
	kubectl -n $ns delete prometheusrule $pr >/dev/null
	wait_for 30 kubectl -n $ns get prometheusrule $pr || fail "deleted PrometheusRule not restored"
	kubectl -n $ns patch prometheusrule $pr --type=json \
		-p '[{"op":"replace","path":"/spec/groups/0/rules/0/for","value":"99m"}]' >/dev/null
	wait_for 30 bash -c "kubectl -n $ns get prometheusrule $pr -o jsonpath='{.spec.groups[0].rules[0].for}' | grep -qx 5m" ||
		fail "edited PrometheusRule not repaired"
	# the SLO target is read again
	apply_iw $ns qwen "{backend: vllm, monitor: {labels: {release: prom}}, alerts: {enabled: true}, slo: {ttftP95Seconds: 2}}"
	wait_for 30 bash -c "kubectl -n $ns get prometheusrule $pr -o jsonpath='{.spec.groups[0].rules[0].expr}' | grep -q '> 2\$'" ||
		fail "new SLO target not applied"
	# alerts off: pruned; on again; the CR deleted: garbage-collected
	apply_iw $ns qwen "{backend: vllm, alerts: {enabled: false}}"
	wait_for 30 bash -c "! kubectl -n $ns get prometheusrule $pr >/dev/null 2>&1" || fail "PrometheusRule not pruned"
	apply_iw $ns qwen "{backend: vllm, alerts: {enabled: true}}"
	wait_for 30 kubectl -n $ns get prometheusrule $pr || fail "PrometheusRule not back"
	stop_infermon
	kubectl -n $ns delete iw qwen >/dev/null
	wait_for 60 bash -c "! kubectl -n $ns get prometheusrule $pr >/dev/null 2>&1" || fail "PrometheusRule outlived its CR"
}

# With the ConfigMap and a PrometheusRule in place, an idle controller
# writes nothing: no re-apply of the 100 kB dashboard.
test_idle_means_no_writes_with_dashboard_and_rules() {
	local ns=it-dash-idle dns=it-dash-idle-mon port w1 w2 n
	fresh_ns $ns
	fresh_ns $dns
	port=$(free_port)
	start_sim "$port" qwen3-26b --max-num-seqs 2 --max-model-len 1024 --block-size 16 --kv-cache-size 557
	engine_pod $ns qwen-0 qwen vllm "$port" --max-num-seqs 2
	apply_iw $ns qwen "{backend: vllm, alerts: {enabled: true}, slo: {ttftP95Seconds: 0.5, tpotP95Seconds: 0.05}}"
	start_scoped $ns $dns
	wait_for 30 kubectl -n $dns get cm $CM || fail "no ConfigMap"
	wait_for 30 kubectl -n $ns get prometheusrule infermon-qwen || fail "no PrometheusRule"
	wait_for 60 iw_condition_is $ns qwen LimitDrift True ||
		fail "no LimitDrift condition"
	sleep 5
	w1=$(api_writes)
	sleep 40
	w2=$(api_writes)
	echo "API writes over 40 s idle: $w1 -> $w2"
	[ "$w1" = "$w2" ] || fail "idle controller wrote $((w2 - w1)) times in 40 s: $(tail -30 "$WORK/log")"
	# (a second apply right after the first can happen: the key came back
	# before the watch showed the new object; never later)
	n=$(grep -Ec 'msg="(created|wrote) generated object" what="[a-z]+ ConfigMap' "$WORK/log")
	[ "$n" -le 2 ] || fail "the ConfigMap was written $n times: $(grep ConfigMap "$WORK/log")"
	stop_infermon
}

# infermon render: the dashboard flags, what --no-dashboard and the CRs'
# dashboard.enabled do, and the output applies on the real API server.
test_render_prints_the_dashboard_objects() {
	local dns=it-dash-render
	fresh_ns $dns
	kubectl create ns it-render --dry-run=client -o yaml | kubectl apply -f - >/dev/null
	"$INFERMON_BIN" render -f "$ROOT/test/data/render/workloads.yaml" --dashboards-namespace $dns \
		--dashboard-label team=llm --dashboard-folder "LLM" --grafana-operator \
		--grafana-instance-selector dashboards=llm,tier=ops > "$WORK/a.yaml"
	"$INFERMON_BIN" render -f "$ROOT/test/data/render/workloads.yaml" --dashboards-namespace $dns \
		--dashboard-label team=llm --dashboard-folder "LLM" --grafana-operator \
		--grafana-instance-selector dashboards=llm,tier=ops | cmp - "$WORK/a.yaml" || fail "two renders differ"
	python3 - "$WORK/a.yaml" "$ROOT/dashboards/llm-inference.json" "$dns" <<'PY' || fail "rendered dashboard objects"
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
kinds = [d["kind"] for d in docs]
assert kinds[-2:] == ["ConfigMap", "GrafanaDashboard"], kinds
cm, gd = docs[-2], docs[-1]
assert cm["metadata"]["namespace"] == sys.argv[3] == gd["metadata"]["namespace"]
assert cm["metadata"]["labels"] == {"app.kubernetes.io/managed-by": "infermon", "team": "llm"}, cm["metadata"]
assert cm["metadata"]["annotations"] == {"grafana_folder": "LLM", "k8s-sidecar-target-directory": "LLM"}
assert cm["data"]["llm-inference.json"] == open(sys.argv[2]).read()
assert gd["apiVersion"] == "grafana.integreatly.org/v1beta1"
assert gd["spec"] == {"instanceSelector": {"matchLabels": {"dashboards": "llm", "tier": "ops"}},
                      "allowCrossNamespaceImport": True, "folder": "LLM",
                      "configMapRef": {"name": cm["metadata"]["name"], "key": "llm-inference.json"}}, gd["spec"]
print("ConfigMap and GrafanaDashboard as asked")
PY
	# the ConfigMap (the GrafanaDashboard's CRD is not installed here)
	python3 -c 'import sys,yaml; d=[x for x in yaml.safe_load_all(open(sys.argv[1])) if x and x["kind"] != "GrafanaDashboard"]; yaml.safe_dump_all(d, open(sys.argv[2], "w"))' \
		"$WORK/a.yaml" "$WORK/b.yaml"
	kubectl apply --server-side --force-conflicts --dry-run=server -f "$WORK/b.yaml" > "$WORK/apply.out" 2>&1 || fail "$(cat "$WORK/apply.out")"
	grep -q "configmap/infermon-llm-inference serverside-applied (server dry run)" "$WORK/apply.out" || fail "$(cat "$WORK/apply.out")"
	# --no-dashboard; and no workload wanting it
	"$INFERMON_BIN" render -f "$ROOT/test/data/render/workloads.yaml" --no-dashboard > "$WORK/c.yaml"
	! grep -q '^kind: ConfigMap' "$WORK/c.yaml" || fail "--no-dashboard printed the ConfigMap"
	sed 's/^spec:$/spec:\n  dashboard: {enabled: false}/' "$ROOT/test/data/render/workloads.yaml" |
		grep -v 'kind: List' | python3 -c 'import sys,yaml; d=[x for x in yaml.safe_load_all(sys.stdin) if x and x.get("kind") == "InferenceWorkload"]; yaml.safe_dump_all(d, sys.stdout)' > "$WORK/off.yaml"
	grep -q 'enabled: false' "$WORK/off.yaml" || fail "test input"
	"$INFERMON_BIN" render -f "$WORK/off.yaml" > "$WORK/d.yaml"
	! grep -q '^kind: ConfigMap' "$WORK/d.yaml" || fail "a ConfigMap although no workload wants it"
	grep -q '^kind: PrometheusRule' "$WORK/d.yaml" || fail "rules gone with the dashboard"
}

# The --config file's dashboard keys; a flag overrides its key.
test_config_file_sets_the_dashboard() {
	local ns=it-dash-cfg dns=it-dash-cfg-mon
	fresh_ns $ns
	fresh_ns $dns
	cat > "$WORK/run.yaml" <<YAML
dashboard:
  namespace: $dns
  label: team=llm
  folder: From File
YAML
	start_controller --namespace $ns --config "$WORK/run.yaml" --dashboard-folder "From Flag"
	apply_iw $ns qwen "{backend: vllm}"
	wait_for 30 kubectl -n $dns get cm $CM || fail "no ConfigMap in the file's namespace: $(tail -20 "$WORK/log")"
	[ "$(kubectl -n $dns get cm $CM -o jsonpath='{.metadata.labels.team}')" = llm ] || fail "the file's label"
	[ "$(kubectl -n $dns get cm $CM -o jsonpath='{.metadata.annotations.grafana_folder}')" = "From Flag" ] ||
		fail "the flag does not override the file's folder"
	stop_infermon
	kubectl -n $dns delete cm $CM >/dev/null
	printf 'dashboard:\n  namespace: %s\n  enabled: false\n' $dns > "$WORK/off.yaml"
	start_controller --namespace $ns --config "$WORK/off.yaml" --log-level debug
	ready $ns qwen || fail "never reconciled"
	dashboard_reconciled $ns qwen
	! kubectl -n $dns get cm $CM >/dev/null 2>&1 || fail "dashboard.enabled: false delivered a ConfigMap"
	stop_infermon
	printf 'dashboard:\n  label: nolabel\n' > "$WORK/bad.yaml"
	! "$INFERMON_BIN" run --config "$WORK/bad.yaml" 2> "$WORK/err" || fail "a bad dashboard.label accepted"
	grep -q 'bad.yaml:2: invalid dashboard.label "nolabel" (KEY=VALUE)' "$WORK/err" || fail "unclear: $(cat "$WORK/err")"
}

# With grafana-operator's CRD (its GrafanaDashboard validation transcribed in
# test/data/crds/, since the module proxy does not serve grafana-operator v5):
# the GrafanaDashboard refers to the ConfigMap, is restored and repaired, is
# recreated when the immutable instanceSelector changes, and goes when no
# workload wants the dashboard. It installs the CRD and removes it on exit.
test_with_the_crd_a_grafana_dashboard_refers_to_the_configmap() {
	local ns=it-dash-gd dns=it-dash-gd-mon gd=infermon-llm-inference crd=grafanadashboards.grafana.integreatly.org uid1 uid2
	fresh_ns $ns
	fresh_ns $dns
	with_crd $crd "$ROOT/test/data/crds/grafanadashboards.yaml"
	start_scoped $ns $dns --grafana-operator --grafana-instance-selector dashboards=llm
	apply_iw $ns qwen "{backend: vllm}"
	wait_for 30 kubectl -n $dns get grafanadashboard $gd || fail "no GrafanaDashboard: $(tail -20 "$WORK/log")"
	kubectl -n $dns get grafanadashboard $gd -o json > "$WORK/gd.json"
	python3 - "$WORK/gd.json" "$CM" <<'PY' || fail "GrafanaDashboard fields: $(cat "$WORK/gd.json")"
import json, sys
gd = json.load(open(sys.argv[1]))
spec = gd["spec"]
assert spec["configMapRef"] == {"name": sys.argv[2], "key": "llm-inference.json"}, spec
assert spec["instanceSelector"] == {"matchLabels": {"dashboards": "llm"}}, spec
assert spec["folder"] == "LLM Inference" and spec["allowCrossNamespaceImport"] is True, spec
assert gd["metadata"]["labels"] == {"app.kubernetes.io/managed-by": "infermon"}, gd["metadata"]
assert "ownerReferences" not in gd["metadata"]
print("GrafanaDashboard:", json.dumps(spec, sort_keys=True))
PY
	kubectl -n $dns get cm "$(kubectl -n $dns get grafanadashboard $gd -o jsonpath='{.spec.configMapRef.name}')" >/dev/null ||
		fail "configMapRef names no ConfigMap"
	# the selector is immutable, as in grafana-operator
	! kubectl -n $dns patch grafanadashboard $gd --type=merge -p '{"spec":{"instanceSelector":{"matchLabels":{"dashboards":"x"}}}}' \
		> "$WORK/patch.out" 2>&1 || fail "instanceSelector could be changed"
	grep -q 'spec.instanceSelector is immutable' "$WORK/patch.out" || fail "$(cat "$WORK/patch.out")"
	kubectl -n $dns patch grafanadashboard $gd --type=merge -p '{"spec":{"folder":"Elsewhere"}}' >/dev/null
	wait_for 30 bash -c "kubectl -n $dns get grafanadashboard $gd -o jsonpath='{.spec.folder}' | grep -qx 'LLM Inference'" ||
		fail "edited GrafanaDashboard not repaired"
	kubectl -n $dns delete grafanadashboard $gd >/dev/null
	wait_for 30 kubectl -n $dns get grafanadashboard $gd || fail "deleted GrafanaDashboard not restored"
	uid1=$(kubectl -n $dns get grafanadashboard $gd -o jsonpath='{.metadata.uid}')
	stop_infermon
	# another selector: the controller deletes its GrafanaDashboard and makes a new one
	start_scoped $ns $dns --grafana-operator --grafana-instance-selector dashboards=other,team=llm
	wait_for 30 bash -c "kubectl -n $dns get grafanadashboard $gd -o jsonpath='{.spec.instanceSelector.matchLabels.team}' | grep -qx llm" ||
		fail "selector change not applied: $(tail -20 "$WORK/log")"
	uid2=$(kubectl -n $dns get grafanadashboard $gd -o jsonpath='{.metadata.uid}')
	[ "$uid1" != "$uid2" ] || fail "not recreated"
	grep -q "delete GrafanaDashboard $dns/$gd" "$WORK/log" || fail "no delete in the log"
	# no workload wants the dashboard: both go
	apply_iw $ns qwen "{backend: vllm, dashboard: {enabled: false}}"
	wait_for 30 bash -c "! kubectl -n $dns get grafanadashboard $gd >/dev/null 2>&1 && ! kubectl -n $dns get cm $CM >/dev/null 2>&1" ||
		fail "GrafanaDashboard or ConfigMap not pruned"
	stop_infermon
}

run_test "$1"
