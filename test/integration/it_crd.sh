#!/usr/bin/env bash
# The InferenceWorkload CRD (crds/) on the real API server: it installs (also
# the way hack/local-cluster.sh up does), the samples apply, defaults are
# filled in, bad objects are rejected with the field named, status is a
# subresource and the printer columns show it. docs/crd.md.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

ROOT=$(infermon_root)
CRD=inferenceworkloads.infermon.io

# install_crd: applies crds/ (server-side, as hack/local-cluster.sh does) and
# waits until the CRD is Established.
install_crd() {
	kubectl apply --server-side --force-conflicts --field-manager=it-crd -k "$ROOT/crds" >/dev/null
	kubectl wait --for=condition=Established --timeout=60s crd/$CRD >/dev/null
}

# iw NS NAME SPEC: an InferenceWorkload manifest with the given spec (flow YAML).
iw() {
	printf 'apiVersion: infermon.io/v1alpha1\nkind: InferenceWorkload\nmetadata:\n  name: %s\n  namespace: %s\nspec: %s\n' "$2" "$1" "$3"
}

test_kustomize_builds_offline() {
	# Proxies pointing at a closed port: any network fetch would fail.
	HTTP_PROXY=http://127.0.0.1:9 HTTPS_PROXY=http://127.0.0.1:9 http_proxy=http://127.0.0.1:9 \
		https_proxy=http://127.0.0.1:9 NO_PROXY='' no_proxy='' \
		kubectl kustomize "$ROOT/crds" > "$WORK/out.yaml" 2>"$WORK/err" ||
		fail "kubectl kustomize crds/ failed: $(cat "$WORK/err")"
	grep -q "^kind: CustomResourceDefinition$" "$WORK/out.yaml" || fail "no CRD in the kustomize output"
	grep -q "^  name: $CRD$" "$WORK/out.yaml" || fail "no $CRD in the kustomize output"
	[ "$(grep -c '^kind: ' "$WORK/out.yaml")" -eq 1 ] || fail "kustomize output has more than the CRD"
}

test_applies_client_and_server_side_and_is_established() {
	kubectl apply -k "$ROOT/crds" 2>"$WORK/err" >/dev/null || fail "kubectl apply -k crds/: $(cat "$WORK/err")"
	kubectl apply --server-side --force-conflicts -k "$ROOT/crds" 2>"$WORK/err" >/dev/null ||
		fail "kubectl apply --server-side -k crds/: $(cat "$WORK/err")"
	# another field manager applies without conflicts (no --force-conflicts), as
	# hack/local-cluster.sh does after a developer applied crds/ by hand
	kubectl apply --server-side --field-manager=it-crd-second -k "$ROOT/crds" 2>"$WORK/err" >/dev/null ||
		fail "apply by a second field manager conflicts: $(cat "$WORK/err")"
	kubectl wait --for=condition=Established --timeout=60s crd/$CRD >/dev/null || fail "not Established"
	# re-applying the same CRD is a no-op
	rv=$(kubectl get crd $CRD -o jsonpath='{.metadata.resourceVersion}')
	kubectl apply --server-side --field-manager=it-crd-second -k "$ROOT/crds" >/dev/null
	[ "$(kubectl get crd $CRD -o jsonpath='{.metadata.resourceVersion}')" = "$rv" ] ||
		fail "re-applying the same CRD changed it"
	# structural, names accepted, no CEL cost or schema complaint
	kubectl get crd $CRD -o jsonpath='{range .status.conditions[*]}{.type}={.status}{"\n"}{end}' > "$WORK/cond"
	grep -qx 'NamesAccepted=True' "$WORK/cond" || fail "names not accepted: $(cat "$WORK/cond")"
	! grep -q 'NonStructuralSchema' "$WORK/cond" || fail "schema not structural: $(cat "$WORK/cond")"
	kubectl api-resources --api-group=infermon.io --no-headers > "$WORK/res"
	grep -Eq '^inferenceworkloads +iw +infermon.io/v1alpha1 +true +InferenceWorkload$' "$WORK/res" ||
		fail "api-resources: $(cat "$WORK/res")"
	[ "$(kubectl get crd $CRD -o jsonpath='{.spec.names.categories}')" = '["infermon"]' ] || fail "categories"
	[ "$(kubectl get crd $CRD -o jsonpath='{.spec.versions[0].subresources}')" = '{"status":{}}' ] ||
		fail "no status subresource"
	# the schema is published: kubectl explain reads field docs from it
	wait_for 30 bash -c "kubectl explain iw.spec.metrics.scrapeTimeout | grep -q 'not longer than'" ||
		fail "kubectl explain iw.spec.metrics.scrapeTimeout: $(kubectl explain iw.spec.metrics.scrapeTimeout 2>&1)"
}

test_local_cluster_up_applied_crds() {
	# The fixture's `hack/local-cluster.sh up` applies crds/ with field manager
	# infermon-local-cluster when crds/kustomization.yaml exists.
	kubectl get crd $CRD >/dev/null 2>&1 ||
		fail "$CRD not installed by hack/local-cluster.sh up (a cluster started before crds/ existed needs down + up)"
	# up records what it applied (other tests of this file re-apply the CRD
	# with other field managers, so managedFields depend on test order)
	grep -qx "customresourcedefinition.apiextensions.k8s.io/$CRD" "$INFERMON_CLUSTER_DIR/applied.crds" ||
		fail "$CRD not in what hack/local-cluster.sh up applied: $(cat "$INFERMON_CLUSTER_DIR/applied.crds")"
	kubectl wait --for=condition=Established --timeout=60s crd/$CRD >/dev/null || fail "not Established"
}

test_samples_apply() {
	local ns=it-crd-samples f name n=0
	install_crd
	fresh_ns $ns
	for f in "$ROOT"/deploy/samples/*.yaml; do
		[ "$(basename "$f")" != kustomization.yaml ] || continue
		n=$((n + 1))
		name=$(sed -n 's/^  name: //p' "$f" | head -1)
		kubectl -n $ns apply --dry-run=server --validate=strict -f "$f" 2>"$WORK/err" >/dev/null ||
			fail "$f (dry run): $(cat "$WORK/err")"
		kubectl -n $ns get iw "$name" >/dev/null 2>&1 && fail "$f: the dry run created $name"
		kubectl -n $ns apply --validate=strict -f "$f" 2>"$WORK/err" >/dev/null || fail "$f: $(cat "$WORK/err")"
		kubectl -n $ns apply --server-side --validate=strict -f "$f" 2>"$WORK/err" >/dev/null ||
			fail "$f (server-side): $(cat "$WORK/err")"
		kubectl -n $ns get iw "$name" >/dev/null || fail "$f: $name not created"
	done
	[ $n -ge 4 ] || fail "only $n samples"
	# the samples' kustomization lists every one of them
	[ "$(kubectl kustomize "$ROOT/deploy/samples" | grep -c '^kind: InferenceWorkload$')" -eq $n ] ||
		fail "deploy/samples/kustomization.yaml does not list the $n samples"
	for b in vllm sglang vllm-pd sglang-pd; do
		[ -f "$ROOT/deploy/samples/$b.yaml" ] || fail "no sample for $b"
		[ "$(kubectl -n $ns get iw --field-selector spec.backend=$b -o name | wc -l)" -eq 1 ] ||
			fail "field selector spec.backend=$b does not find exactly its sample"
	done
	[ "$(kubectl -n $ns get iw llama-70b -o jsonpath='{.spec.metrics.port}')" = 30000 ] || fail "numeric port"
	[ "$(kubectl -n $ns get iw llama-70b -o jsonpath='{.spec.metrics.path}')" = /metrics ] ||
		fail "path not defaulted in a sample"
	kubectl delete ns $ns --wait=false >/dev/null
}

test_defaults_are_filled_in() {
	local ns=it-crd-defaults
	install_crd
	fresh_ns $ns
	# no spec at all
	printf 'apiVersion: infermon.io/v1alpha1\nkind: InferenceWorkload\nmetadata:\n  name: bare\n  namespace: %s\n' $ns |
		kubectl apply --validate=strict -f - >/dev/null
	# parents given, fields left out; tls given without insecureSkipVerify
	iw $ns partial '{metrics: {scheme: https, tls: {serverName: engine.example}}, monitor: {labels: {release: prom}}, limits: {maxNumSeqs: 8}}' |
		kubectl apply --validate=strict -f - >/dev/null
	local name path want got
	# scrapeTimeout has no default: the controller takes 10s or the interval
	[ -z "$(kubectl -n $ns get iw bare -o jsonpath='{.spec.metrics.scrapeTimeout}')" ] ||
		fail "scrapeTimeout got a default"
	for name in bare partial; do
		while read -r path want; do
			got=$(kubectl -n $ns get iw $name -o jsonpath="{$path}")
			[ "$got" = "$want" ] || fail "$name: $path is \"$got\", want \"$want\""
		done <<'EOF'
.spec.metrics.port http
.spec.metrics.path /metrics
.spec.metrics.interval 15s
.spec.monitor.kind ServiceMonitor
.spec.monitor.matchPrometheus false
.spec.scrapeConfig.enabled true
.spec.scrapeConfig.scrapeConfigResource false
.spec.dashboard.enabled true
.spec.alerts.enabled false
.spec.limits.driftTolerance 0.25
EOF
	done
	[ "$(kubectl -n $ns get iw bare -o jsonpath='{.spec.metrics.scheme}')" = http ] || fail "scheme default"
	[ "$(kubectl -n $ns get iw partial -o jsonpath='{.spec.metrics.scheme}')" = https ] || fail "scheme kept"
	[ "$(kubectl -n $ns get iw partial -o jsonpath='{.spec.metrics.tls.insecureSkipVerify}')" = false ] ||
		fail "tls.insecureSkipVerify default"
	[ "$(kubectl -n $ns get iw partial -o jsonpath='{.spec.limits.maxNumSeqs}')" = 8 ] || fail "maxNumSeqs kept"
	# optional fields without a default stay absent
	for path in .spec.workloadName .spec.backend .spec.slo .spec.metrics.tls .spec.metrics.bearerTokenSecret .spec.limits.maxNumSeqs; do
		[ -z "$(kubectl -n $ns get iw bare -o jsonpath="{$path}")" ] || fail "bare: $path was defaulted"
	done
	# a name that is no label value needs spec.workloadName
	long=$(printf 'w%.0s' $(seq 1 64))
	iw $ns "$long" '{}' | kubectl apply -f - >/dev/null 2>"$WORK/err" && fail "a 64-character name without workloadName was accepted"
	grep -q 'spec.workloadName' "$WORK/err" || fail "not named: $(cat "$WORK/err")"
	iw $ns "$long" '{workloadName: qwen}' | kubectl apply -f - >/dev/null 2>"$WORK/err" ||
		fail "a 64-character name with workloadName: $(cat "$WORK/err")"
	kubectl delete ns $ns --wait=false >/dev/null
}

# Each line: the field the message must name | the spec (flow YAML) | a
# phrase the message must contain (optional).
INVALID=$(cat <<'EOF'
spec.backend|{backend: tgi}|supported values
spec.backend|{backend: VLLM}|supported values
spec.workloadName|{workloadName: "-qwen"}|should match
spec.workloadName|{workloadName: ""}|at least 1
spec.metrics.port|{metrics: {port: 0}}|1 to 65535
spec.metrics.port|{metrics: {port: 70000}}|1 to 65535
spec.metrics.port|{metrics: {port: -1}}|1 to 65535
spec.metrics.port|{metrics: {port: HTTP}}|lower case
spec.metrics.port|{metrics: {port: "8000"}}|contain a letter
spec.metrics.port|{metrics: {port: metrics-port-name}}|at most 15
spec.metrics.port|{metrics: {port: "-http"}}|starts and ends
spec.metrics.port|{metrics: {port: "a--b"}}|'--'
spec.metrics.port|{metrics: {port: 80.5}}|
spec.metrics.path|{metrics: {path: metrics}}|should match
spec.metrics.path|{metrics: {path: "/metrics?x=1"}}|should match
spec.metrics.path|{metrics: {path: "/me trics"}}|should match
spec.metrics.interval|{metrics: {interval: 15x}}|should match
spec.metrics.interval|{metrics: {interval: 1d}}|should match
spec.metrics.interval|{metrics: {interval: 1.5s}}|should match
spec.metrics.interval|{metrics: {interval: 30s1m}}|should match
spec.metrics.interval|{metrics: {interval: 0s}}|greater than zero
spec.metrics.interval|{metrics: {interval: 25h}}|at most 24h
spec.metrics.interval|{metrics: {interval: 15}}|
spec.metrics.scrapeTimeout|{metrics: {scrapeTimeout: 1w}}|should match
spec.metrics.scrapeTimeout|{metrics: {interval: 10s, scrapeTimeout: 11s}}|longer than interval
spec.metrics.scrapeTimeout|{metrics: {interval: 1m, scrapeTimeout: 1m0s1ms}}|longer than interval
spec.metrics.scheme|{metrics: {scheme: HTTPS}}|supported values
spec.metrics.tls|{metrics: {tls: {insecureSkipVerify: true}}}|scheme https
spec.metrics.tls|{metrics: {scheme: http, tls: {serverName: a.example}}}|scheme https
spec.metrics.tls|{metrics: {scheme: https, tls: {insecureSkipVerify: true, ca: {secretKeyRef: {name: ca, key: ca.crt}}}}}|contradict
spec.metrics.tls.ca.secretKeyRef.key|{metrics: {scheme: https, tls: {ca: {secretKeyRef: {name: ca}}}}}|Required
spec.metrics.tls.ca.secretKeyRef.name|{metrics: {scheme: https, tls: {ca: {secretKeyRef: {name: Bad_Name, key: ca.crt}}}}}|should match
spec.metrics.bearerTokenSecret.name|{metrics: {bearerTokenSecret: {key: token}}}|Required
spec.metrics.bearerTokenSecret.key|{metrics: {bearerTokenSecret: {name: tok, key: "a/b"}}}|should match
spec.monitor.kind|{monitor: {kind: Probe}}|supported values
spec.monitor.labels|{monitor: {labels: {"-release": prom}}}|invalid label key -release
spec.monitor.labels|{monitor: {labels: {"Example.com/team": a}}}|invalid label key Example.com/team
spec.monitor.labels|{monitor: {labels: {"a/b/c": x}}}|invalid label key a/b/c
spec.monitor.labels|{monitor: {labels: {"example.com/0123456789012345678901234567890123456789012345678901234567890123": x}}}|invalid label key
spec.monitor.labels.release|{monitor: {labels: {release: "kube prometheus"}}}|should match
spec.monitor.labels.release|{monitor: {labels: {release: "0123456789012345678901234567890123456789012345678901234567890123"}}}|may not be more than 63
spec.monitor.matchPrometheus|{monitor: {matchPrometheus: "yes"}}|boolean
spec.scrapeConfig.enabled|{scrapeConfig: {enabled: "true"}}|boolean
spec.limits.driftTolerance|{limits: {driftTolerance: 0}}|greater than 0
spec.limits.driftTolerance|{limits: {driftTolerance: 11}}|less than or equal to 10
spec.limits.driftTolerance|{limits: {driftTolerance: "0.25"}}|number
spec.limits.maxNumSeqs|{limits: {maxNumSeqs: 0}}|greater than or equal to 1
spec.limits.maxNumSeqs|{limits: {maxNumSeqs: 2.5}}|integer
spec.slo.ttftP95Seconds|{slo: {ttftP95Seconds: 0}}|greater than 0
spec.slo.e2eP95Seconds|{slo: {e2eP95Seconds: -3}}|greater than 0
spec.slo.objectives[0].sli|{slo: {objectives: [{sli: ttfb, thresholdSeconds: 1, target: 99}]}}|supported values
spec.slo.objectives[0].target|{slo: {objectives: [{sli: ttft, thresholdSeconds: 1}]}}|Required
spec.slo.objectives[0].target|{slo: {objectives: [{sli: e2e, thresholdSeconds: 20, target: 100}]}}|less than 100
spec.slo.objectives[0].target|{slo: {objectives: [{sli: e2e, thresholdSeconds: 20, target: 0.99}]}}|greater than or equal to 50
spec.slo.objectives[0].thresholdSeconds|{slo: {objectives: [{sli: ttft, target: 99}]}}|required for ttft
spec.slo.objectives[0].thresholdSeconds|{slo: {objectives: [{sli: availability, thresholdSeconds: 1, target: 99}]}}|not allowed for availability
spec.slo.objectives[0].thresholdSeconds|{slo: {objectives: [{sli: tpot, thresholdSeconds: 3601, target: 99}]}}|at most 3600
spec.slo.objectives[0].thresholdSeconds|{slo: {objectives: [{sli: ttft, thresholdSeconds: 0.0001, target: 99}]}}|greater than or equal to 0.001
spec.slo.objectives[0].window|{slo: {objectives: [{sli: e2e, thresholdSeconds: 20, target: 99, window: 7d}]}}|28d to 90d
spec.slo.objectives[0].window|{slo: {objectives: [{sli: e2e, thresholdSeconds: 20, target: 99, window: 13w}]}}|28d to 90d
spec.slo.objectives[0].window|{slo: {objectives: [{sli: e2e, thresholdSeconds: 20, target: 99, window: 720h}]}}|may not be more than 3
spec.slo.objectives[0].window|{slo: {objectives: [{sli: e2e, thresholdSeconds: 20, target: 99, window: 1m}]}}|should match
spec.slo.objectives|{slo: {objectives: [{sli: e2e, thresholdSeconds: 20, target: 99}, {sli: e2e, thresholdSeconds: 20, target: 99}]}}|two objectives are the same
spec.bogus|{bogus: 1}|unknown field
spec.metrics.portName|{metrics: {portName: http}}|unknown field
EOF
)

test_invalid_crs_are_rejected_naming_the_field() {
	local ns=it-crd-invalid field spec phrase rc n=0
	install_crd
	fresh_ns $ns
	while IFS='|' read -r field spec phrase; do
		n=$((n + 1))
		set +e
		iw $ns bad "$spec" | kubectl create --validate=strict -f - >/dev/null 2>"$WORK/err"
		rc=$?
		set -e
		[ $rc -ne 0 ] || fail "accepted: spec: $spec"
		grep -qF "$field" "$WORK/err" || fail "spec: $spec: the message does not name $field: $(cat "$WORK/err")"
		[ -z "$phrase" ] || grep -qF -- "$phrase" "$WORK/err" ||
			fail "spec: $spec: the message does not say \"$phrase\": $(cat "$WORK/err")"
		kubectl -n $ns get iw bad >/dev/null 2>&1 && fail "spec: $spec: rejected, yet the object exists"
		# server-side apply is rejected the same way
		set +e
		iw $ns bad "$spec" | kubectl apply --server-side --validate=strict -f - >/dev/null 2>"$WORK/err"
		rc=$?
		set -e
		[ $rc -ne 0 ] || fail "accepted by server-side apply: spec: $spec"
		grep -qF "$field" "$WORK/err" || fail "server-side apply, spec: $spec: $field not named: $(cat "$WORK/err")"
	done <<<"$INVALID"
	echo "$n invalid objects rejected"
	# and the valid neighbours of the edge cases pass
	while IFS= read -r spec; do
		iw $ns good "$spec" | kubectl apply --dry-run=server --validate=strict -f - >/dev/null 2>"$WORK/err" ||
			fail "rejected a valid spec $spec: $(cat "$WORK/err")"
	done <<'EOF'
{metrics: {port: 1}}
{metrics: {port: 65535}}
{metrics: {port: metrics-port-na}}
{metrics: {port: 8080-http}}
{metrics: {interval: 1m30s, scrapeTimeout: 1m30s}}
{metrics: {interval: 500ms, scrapeTimeout: 250ms}}
{metrics: {interval: 24h, scrapeTimeout: 1h}}
{metrics: {interval: 5s, scrapeTimeout: 5s}}
{metrics: {interval: 5s}}
{metrics: {path: "/"}}
{metrics: {scheme: https, tls: {insecureSkipVerify: true}}}
{metrics: {scheme: https, tls: {serverName: "*.engines.example", ca: {secretKeyRef: {name: engines-ca, key: ca.crt}}}}}
{monitor: {labels: {"example.com/012345678901234567890123456789012345678901234567890123456789012": "", release: prom}}}
{limits: {driftTolerance: 10, maxNumSeqs: 1}}
{limits: {driftTolerance: 0.001}}
{workloadName: Qwen_3.32b}
{slo: {objectives: [{sli: e2e, thresholdSeconds: 86400, target: 50, window: 4w}, {sli: ttft, thresholdSeconds: 0.001, target: 99.999, window: 90d}, {sli: availability, target: 99.5, window: 12w}, {sli: tpot, thresholdSeconds: 3600, target: 99}]}}
EOF
	kubectl delete ns $ns --wait=false >/dev/null
}

test_status_is_a_subresource_and_validated() {
	local ns=it-crd-status
	install_crd
	fresh_ns $ns
	iw $ns qwen '{backend: vllm}' | kubectl apply -f - >/dev/null
	# status through the main resource is ignored, spec through /status too
	kubectl -n $ns patch iw qwen --type=merge -p '{"status":{"backend":"sglang"}}' >/dev/null
	[ -z "$(kubectl -n $ns get iw qwen -o jsonpath='{.status.backend}')" ] || fail "status written through the main resource"
	kubectl -n $ns patch iw qwen --subresource=status --type=merge -p '{"spec":{"backend":"sglang"},"status":{"backend":"vllm"}}' >/dev/null
	[ "$(kubectl -n $ns get iw qwen -o jsonpath='{.spec.backend}')" = vllm ] || fail "spec written through /status"
	[ "$(kubectl -n $ns get iw qwen -o jsonpath='{.status.backend}')" = vllm ] || fail "status not written"
	[ "$(kubectl -n $ns get iw qwen -o jsonpath='{.metadata.generation}')" = 1 ] || fail "a status write bumped the generation"
	# metav1.Condition rules hold
	set +e
	kubectl -n $ns patch iw qwen --subresource=status --type=merge -p \
		'{"status":{"conditions":[{"type":"LimitDrift","status":"Maybe","reason":"not a reason","message":"m","lastTransitionTime":"yesterday"}]}}' \
		>/dev/null 2>"$WORK/err"
	rc=$?
	set -e
	[ $rc -ne 0 ] || fail "a bad condition was accepted"
	for f in 'status.conditions[0].status' 'status.conditions[0].reason' 'status.conditions[0].lastTransitionTime'; do
		grep -qF "$f" "$WORK/err" || fail "$f not named: $(cat "$WORK/err")"
	done
	set +e
	kubectl -n $ns patch iw qwen --subresource=status --type=merge -p \
		'{"status":{"conditions":[{"type":"Ready","status":"True"}]}}' >/dev/null 2>"$WORK/err"
	rc=$?
	set -e
	[ $rc -ne 0 ] || fail "a condition without reason, message, lastTransitionTime was accepted"
	grep -qF 'status.conditions[0].reason: Required' "$WORK/err" || fail "missing reason not named: $(cat "$WORK/err")"
	# server-side apply of status by two managers: map lists merge by key
	cat > "$WORK/s1.yaml" <<EOF
apiVersion: infermon.io/v1alpha1
kind: InferenceWorkload
metadata: {name: qwen, namespace: $ns}
status:
  conditions:
  - {type: Ready, status: "True", reason: PodsScraped, message: "2 of 2 pods scraped", lastTransitionTime: "2026-01-02T03:04:05Z", observedGeneration: 1}
  podStatus:
  - {name: qwen-0, ready: true, running: 2, waiting: 1, maxNumSeqs: 2, maxNumSeqsSource: pod_args, kvConcurrency: 8.7, kvUsage: 0.02, saturation: 1, role: "", models: [qwen3-26b]}
EOF
	cat > "$WORK/s2.yaml" <<EOF
apiVersion: infermon.io/v1alpha1
kind: InferenceWorkload
metadata: {name: qwen, namespace: $ns}
status:
  conditions:
  - {type: LimitDrift, status: "True", reason: LimitBelowKVCapacity, message: "max-num-seqs 2 is 77% below 8.70", lastTransitionTime: "2026-01-02T03:04:05Z"}
  podStatus:
  - {name: qwen-1, ready: false}
EOF
	kubectl apply --server-side --subresource=status --field-manager=it-a -f "$WORK/s1.yaml" >/dev/null 2>"$WORK/err" ||
		fail "status apply: $(cat "$WORK/err")"
	kubectl apply --server-side --subresource=status --field-manager=it-b -f "$WORK/s2.yaml" >/dev/null 2>"$WORK/err" ||
		fail "status apply: $(cat "$WORK/err")"
	[ "$(kubectl -n $ns get iw qwen -o jsonpath='{.status.conditions[*].type}')" = "Ready LimitDrift" ] ||
		fail "conditions not merged by type: $(kubectl -n $ns get iw qwen -o jsonpath='{.status.conditions}')"
	[ "$(kubectl -n $ns get iw qwen -o jsonpath='{.status.podStatus[*].name}')" = "qwen-0 qwen-1" ] ||
		fail "podStatus not merged by name"
	[ "$(kubectl -n $ns get iw qwen -o jsonpath='{.status.podStatus[0].kvConcurrency}')" = 8.7 ] || fail "a number lost"
	kubectl delete ns $ns --wait=false >/dev/null
}

test_printer_columns_show_status() {
	local ns=it-crd-columns
	install_crd
	fresh_ns $ns
	iw $ns qwen3-26b '{backend: vllm, limits: {maxNumSeqs: 2}}' | kubectl apply -f - >/dev/null
	kubectl -n $ns patch iw qwen3-26b --subresource=status --type=merge -p '{"status":{
		"observedGeneration":1,"backend":"vllm","pods":3,"readyPods":2,"podsReady":"2/3",
		"models":["qwen3-26b"],"running":2,"limit":2,"runningLimit":"2/2","limitSource":"pod_args",
		"saturation":"100%","drift":"-77%",
		"generated":[{"apiVersion":"monitoring.coreos.com/v1","kind":"ServiceMonitor","namespace":"'$ns'","name":"qwen3-26b"}]}}' \
		>/dev/null 2>"$WORK/err" || fail "status patch: $(cat "$WORK/err")"
	kubectl -n $ns get iw > "$WORK/get"
	head -1 "$WORK/get" | grep -Eq '^NAME +BACKEND +PODS +RUNNING/LIMIT +SATURATION +DRIFT +AGE$' ||
		fail "columns: $(cat "$WORK/get")"
	grep -Eq '^qwen3-26b +vllm +2/3 +2/2 +100% +-77% +[0-9]+s$' "$WORK/get" || fail "row: $(cat "$WORK/get")"
	kubectl -n $ns get iw -o wide > "$WORK/wide"
	head -1 "$WORK/wide" | grep -Eq '^NAME +BACKEND +PODS +RUNNING/LIMIT +SOURCE +SATURATION +DRIFT +AGE$' ||
		fail "wide columns: $(cat "$WORK/wide")"
	grep -Eq '^qwen3-26b +vllm +2/3 +2/2 +pod_args +100% +-77% ' "$WORK/wide" || fail "wide row: $(cat "$WORK/wide")"
	# the long name, the short name and the category list it the same way
	for r in iw inferenceworkloads inferenceworkload.infermon.io infermon; do
		kubectl -n $ns get $r | grep -Eq '^(inferenceworkload.infermon.io/)?qwen3-26b +vllm +2/3 +2/2 ' ||
			fail "kubectl get $r: $(kubectl -n $ns get $r)"
	done
	kubectl delete ns $ns --wait=false >/dev/null
}

run_test "$@"
