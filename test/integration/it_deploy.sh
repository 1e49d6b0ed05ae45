#!/usr/bin/env bash
# deploy/ and the Dockerfile: the kustomization renders offline and the real
# API server accepts every object (server-side dry run), the image is set
# through kustomize, the pod passes the restricted Pod Security Standard,
# the Deployment's flags exist, and the image's package lists match the
# binary. No container engine runs here, so the Dockerfile is checked against
# what can be checked without one: its runtime packages are exactly those of
# the built binary's NEEDED libraries. The RBAC proof is it_rbac.sh.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

ROOT=$(infermon_root)

# Flags of the Deployment that a feature not merged yet adds (shrink as they
# merge): FLAG|feature
PENDING_FLAGS=()

render() { kubectl kustomize "$ROOT/deploy" > "$WORK/deploy.yaml"; }

# obj KIND NAME: the rendered object as JSON.
obj() {
	kubectl create --dry-run=client -o json -f "$WORK/deploy.yaml" 2>/dev/null |
		jq -s --arg k "$1" --arg n "$2" '[.[] | (.items // [.])[] | select(.kind == $k and .metadata.name == $n)] | first'
}

test_kustomize_renders_and_the_api_server_accepts_it() {
	render
	grep -q '^kind: ' "$WORK/deploy.yaml" || fail "kubectl kustomize deploy/ rendered nothing"
	kubectl create --dry-run=client -o json -f "$WORK/deploy.yaml" |
		jq -rs '.[] | (.items // [.])[] | "\(.kind)/\(.metadata.namespace // "-")/\(.metadata.name)"' | sort > "$WORK/objects"
	cat "$WORK/objects"
	local want
	for want in Namespace/-/infermon-system CustomResourceDefinition/-/inferenceworkloads.infermon.io \
		ServiceAccount/infermon-system/infermon ClusterRole/-/infermon ClusterRoleBinding/-/infermon \
		Role/monitoring/infermon-scrape-config RoleBinding/monitoring/infermon-scrape-config \
		Role/monitoring/infermon-dashboards RoleBinding/monitoring/infermon-dashboards \
		Role/infermon-system/infermon-leader-election RoleBinding/infermon-system/infermon-leader-election \
		Deployment/infermon-system/infermon PodDisruptionBudget/infermon-system/infermon \
		Service/infermon-system/infermon-metrics ServiceMonitor/infermon-system/infermon \
		ClusterRole/-/infermon-metrics-reader ClusterRoleBinding/-/infermon-metrics-reader \
		NetworkPolicy/infermon-system/infermon-metrics; do
		grep -qx "$want" "$WORK/objects" || fail "deploy/ lacks $want"
	done
	! grep -q '^InferenceWorkload/' "$WORK/objects" || fail "deploy/ applies sample CRs"
	# the RBAC never reaches every Secret: the one in the scrape-config Role is named
	kubectl create --dry-run=client -o json -f "$WORK/deploy.yaml" |
		jq -e -s '[.[] | (.items // [.])[] | select(.kind == "ClusterRole" or .kind == "Role") | .rules[]
			| select(.resources | index("secrets")) | select((.resourceNames // []) | length == 0)] | length == 0' >/dev/null ||
		fail "a rule grants Secrets without resourceNames"
	# Namespaces must exist for a server dry run of what lives in them
	# (apply creates infermon-system first; monitoring is Prometheus' own).
	kubectl create ns infermon-system --dry-run=client -o yaml | kubectl apply -f - >/dev/null
	kubectl create ns monitoring --dry-run=client -o yaml | kubectl apply -f - >/dev/null
	kubectl apply -k "$ROOT/deploy" --dry-run=server > "$WORK/dry" 2>&1 || fail "server dry run: $(cat "$WORK/dry")"
	cat "$WORK/dry"
	[ "$(grep -c '(server dry run)' "$WORK/dry")" -eq "$(wc -l < "$WORK/objects")" ] ||
		fail "not every object went through the server dry run: $(cat "$WORK/dry")"
	! grep -qi 'PodSecurity' "$WORK/dry" || fail "Pod Security warnings: $(cat "$WORK/dry")"
	# (forced: it_rbac.sh may have applied the RBAC objects with its own field manager)
	kubectl apply --server-side --force-conflicts -k "$ROOT/deploy" --dry-run=server >/dev/null 2>"$WORK/ssa" ||
		fail "server-side apply dry run: $(cat "$WORK/ssa")"
}

test_deployment_is_hardened_and_probed() {
	local d c
	render
	d=$(obj Deployment infermon)
	c=$(jq '.spec.template.spec.containers[0]' <<< "$d")
	[ "$(jq '.spec.replicas' <<< "$d")" = 2 ] || fail "replicas"
	[ "$(jq -r '.image' <<< "$c")" = infermon:latest ] || fail "image: $(jq -r .image <<< "$c")"
	[ "$(jq -r '.args[0]' <<< "$c")" = run ] || fail "args do not start with run"
	jq -e '.args | index("--leader-elect")' <<< "$c" >/dev/null || fail "no --leader-elect"
	jq -e '.spec.template.spec.serviceAccountName == "infermon" and .spec.template.spec.automountServiceAccountToken == true' <<< "$d" >/dev/null ||
		fail "service account"
	jq -e '[.env[] | select(.name == "POD_NAME" and .valueFrom.fieldRef.fieldPath == "metadata.name"),
		 select(.name == "POD_NAMESPACE" and .valueFrom.fieldRef.fieldPath == "metadata.namespace")] | length == 2' <<< "$c" >/dev/null ||
		fail "POD_NAME/POD_NAMESPACE from the downward API"
	jq -e '.ports[] | select(.name == "metrics" and .containerPort == 8443)' <<< "$c" >/dev/null || fail "port metrics 8443"
	jq -e '.args | index("--metrics-bind-address=:8443")' <<< "$c" >/dev/null || fail "metrics not bound to :8443"
	! jq -e '.args | index("--metrics-secure=false")' <<< "$c" >/dev/null || fail "the Deployment turns off --metrics-secure"
	jq -e '.livenessProbe.httpGet.path == "/healthz" and .livenessProbe.httpGet.port == "metrics" and
		.readinessProbe.httpGet.path == "/readyz" and .readinessProbe.httpGet.port == "metrics" and
		.livenessProbe.httpGet.scheme == "HTTPS" and .readinessProbe.httpGet.scheme == "HTTPS"' <<< "$c" >/dev/null ||
		fail "probes: $(jq -c '[.livenessProbe, .readinessProbe]' <<< "$c")"
	jq -e '.resources.requests.cpu and .resources.requests.memory and .resources.limits.memory' <<< "$c" >/dev/null || fail "resources"
	jq -e '.securityContext | .runAsNonRoot == true and .runAsUser == 65532 and .readOnlyRootFilesystem == true and
		.allowPrivilegeEscalation == false and .capabilities.drop == ["ALL"] and .seccompProfile.type == "RuntimeDefault"' <<< "$c" >/dev/null ||
		fail "container securityContext: $(jq -c .securityContext <<< "$c")"
	# the metrics Service selects the Deployment's pods on the named port
	jq -e --argjson l "$(jq '.spec.template.metadata.labels' <<< "$d")" \
		'.spec.selector | to_entries | all(.value == $l[.key])' <<< "$(obj Service infermon-metrics)" >/dev/null ||
		fail "the metrics Service does not select the controller's pods"
	# the controller's ServiceMonitor selects that Service, on its port, at
	# the controller's path, and keeps the engine pods' namespace/pod labels
	# of the infermon_* series (docs/dashboard.md, docs/crd.md)
	local m
	m=$(obj ServiceMonitor infermon)
	jq -e --argjson l "$(jq '.metadata.labels' <<< "$(obj Service infermon-metrics)")" \
		'.spec.selector.matchLabels | to_entries | all(.value == $l[.key])' <<< "$m" >/dev/null ||
		fail "the ServiceMonitor does not select the metrics Service"
	jq -e '.spec.endpoints | length == 1' <<< "$m" >/dev/null || fail "ServiceMonitor endpoints: $(jq -c .spec.endpoints <<< "$m")"
	jq -e '.spec.endpoints[0].port == "metrics"' <<< "$m" >/dev/null || fail "ServiceMonitor port"
	jq -e '.spec.endpoints[0].path == "/metrics"' <<< "$m" >/dev/null || fail "ServiceMonitor path"
	jq -e '.spec.endpoints[0].honorLabels == true' <<< "$m" >/dev/null ||
		fail "ServiceMonitor without honorLabels: true: $(jq -c '.spec.endpoints[0]' <<< "$m")"
	# HTTPS with the scraping Prometheus' ServiceAccount token, which the
	# shipped binding lets read /metrics
	jq -e '.spec.endpoints[0] | .scheme == "https" and
		.bearerTokenFile == "/var/run/secrets/kubernetes.io/serviceaccount/token"' <<< "$m" >/dev/null ||
		fail "ServiceMonitor not HTTPS with the ServiceAccount token: $(jq -c '.spec.endpoints[0]' <<< "$m")"
	jq -e '.roleRef.name == "infermon-metrics-reader" and .subjects[0].kind == "ServiceAccount"' \
		<<< "$(obj ClusterRoleBinding infermon-metrics-reader)" >/dev/null || fail "metrics-reader binding"
	jq -e '.rules == [{"nonResourceURLs": ["/metrics"], "verbs": ["get"]}]' \
		<<< "$(obj ClusterRole infermon-metrics-reader)" >/dev/null || fail "metrics-reader role"
	# the NetworkPolicy admits the monitoring namespace to the metrics port
	# of the controller's pods, and nothing else
	jq -e --argjson l "$(jq '.spec.template.metadata.labels' <<< "$d")" \
		'(.spec.podSelector.matchLabels | to_entries | all(.value == $l[.key])) and .spec.policyTypes == ["Ingress"] and
		 (.spec.ingress | length == 1) and .spec.ingress[0].ports == [{"port": "metrics", "protocol": "TCP"}] and
		 .spec.ingress[0].from == [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}]' \
		<<< "$(obj NetworkPolicy infermon-metrics)" >/dev/null || fail "NetworkPolicy: $(obj NetworkPolicy infermon-metrics)"
}

# The pod the Deployment makes, dry-run created in a namespace that enforces
# the restricted Pod Security Standard; a copy that escalates is refused
# there, so the enforcement is real.
test_pod_passes_restricted_pod_security() {
	local ns=it-deploy-psa
	render
	kubectl delete ns $ns --ignore-not-found --wait=true >/dev/null
	kubectl create ns $ns >/dev/null
	kubectl label ns $ns pod-security.kubernetes.io/enforce=restricted >/dev/null
	obj Deployment infermon | jq --arg ns $ns '{apiVersion: "v1", kind: "Pod",
		metadata: {name: "infermon-psa", namespace: $ns, labels: .spec.template.metadata.labels},
		spec: .spec.template.spec}' > "$WORK/pod.json"
	kubectl create --dry-run=server -f "$WORK/pod.json" > "$WORK/out" 2>&1 || fail "restricted PSS refused the pod: $(cat "$WORK/out")"
	jq '.spec.containers[0].securityContext.allowPrivilegeEscalation = true' "$WORK/pod.json" > "$WORK/bad.json"
	! kubectl create --dry-run=server -f "$WORK/bad.json" > "$WORK/out" 2>&1 || fail "an escalating pod was admitted: PSS not enforced"
	grep -q 'violates PodSecurity' "$WORK/out" || fail "unexpected refusal: $(cat "$WORK/out")"
	kubectl delete ns $ns --wait=false >/dev/null
}

test_image_is_set_through_kustomize() {
	mkdir -p "$WORK/overlay"
	cat > "$WORK/overlay/kustomization.yaml" <<EOF
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
- $(realpath --relative-to="$WORK/overlay" "$ROOT/deploy")
images:
- name: infermon
  newName: registry.example.com/infermon
  newTag: v0.1.0
EOF
	kubectl kustomize "$WORK/overlay" > "$WORK/deploy.yaml"
	[ "$(obj Deployment infermon | jq -r '.spec.template.spec.containers[0].image')" = registry.example.com/infermon:v0.1.0 ] ||
		fail "kustomize images did not set the image"
}

test_deployment_flags_are_known_to_infermon_run() {
	local f p reason
	render
	"$INFERMON_BIN" run --help > "$WORK/help"
	for f in $(obj Deployment infermon | jq -r '.spec.template.spec.containers[0].args[1:][]' | sed 's/=.*//'); do
		reason=
		for p in ${PENDING_FLAGS[@]+"${PENDING_FLAGS[@]}"}; do [ "${p%%|*}" != "$f" ] || reason=${p#*|}; done
		if grep -q -- "^  $f\b" "$WORK/help"; then
			[ -z "$reason" ] || echo "NOTE: $f is in PENDING_FLAGS ($reason) but infermon run knows it now: drop it from $0"
			echo "$f: known"
		elif [ -n "$reason" ]; then
			echo "$f: not known yet (pending: $reason)"
		else
			fail "the Deployment passes $f, which infermon run --help does not list"
		fi
	done
}

# The binary is built as the Dockerfile's build stage builds it, from only
# what that stage COPYs (so a file the build needs and the image lacks fails
# here); then readelf -d NEEDED -> path (ldd) -> Debian package (dpkg -S).
# The runtime stage installs exactly those packages and ca-certificates; the
# build stage installs what hack/lib.sh builds the test suite with.
test_image_packages_match_the_binary() {
	local bin lib path pkg runtime build p src dst ctx=$WORK/context
	grep -q -- '-DCMAKE_BUILD_TYPE=Release -DINFERMON_INTEGRATION=OFF' "$ROOT/Dockerfile" &&
		grep -q -- '--target infermon' "$ROOT/Dockerfile" || fail "the Dockerfile's build changed: update this test"
	mkdir -p "$ctx"
	awk '/^FROM .* AS build$/ { b = 1; next } /^FROM / { b = 0 } b && /^COPY / { print $2, $3 }' "$ROOT/Dockerfile" > "$WORK/copies"
	[ -s "$WORK/copies" ] || fail "the build stage COPYs nothing"
	while read -r src dst; do
		mkdir -p "$ctx/$dst"
		if [ -d "$ROOT/$src" ]; then cp -r "$ROOT/$src/." "$ctx/$dst"; else cp "$ROOT/$src" "$ctx/$dst"; fi
	done < "$WORK/copies"
	cmake -S "$ctx" -B "$WORK/build" -DCMAKE_BUILD_TYPE=Release -DINFERMON_INTEGRATION=OFF \
		-DINFERMON_GIT_COMMIT=it-deploy > "$WORK/cmake.log" 2>&1 || fail "configure from the build stage's files: $(tail -20 "$WORK/cmake.log")"
	cmake --build "$WORK/build" --target infermon -j"$(nproc)" > "$WORK/cmake.log" 2>&1 || fail "build: $(tail -20 "$WORK/cmake.log")"
	bin=$WORK/build/infermon
	"$bin" version | grep -q 'commit it-deploy' || fail "-DINFERMON_GIT_COMMIT not in infermon version"
	runtime=$(sed -n 's/^ARG RUNTIME_PACKAGES="\(.*\)"$/\1/p' "$ROOT/Dockerfile")
	build=$(sed -n 's/^ARG BUILD_PACKAGES="\(.*\)"$/\1/p' "$ROOT/Dockerfile")
	[ -n "$runtime" ] && [ -n "$build" ] || fail "no RUNTIME_PACKAGES / BUILD_PACKAGES in the Dockerfile"
	: > "$WORK/needed-pkgs"
	for lib in $(readelf -d "$bin" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
		path=$(ldd "$bin" | awk -v l="$lib" '$1 == l { print $3 }')
		[ -n "$path" ] || fail "ldd does not resolve $lib"
		pkg=$(dpkg -S "$path" 2>/dev/null || dpkg -S "$(readlink -f "$path")" 2>/dev/null ||
			dpkg -S "/usr$path" 2>/dev/null || dpkg -S "${path#/usr}" 2>/dev/null || true)
		pkg=${pkg%%:*}
		[ -n "$pkg" ] || fail "no Debian package owns $path ($lib)"
		echo "$lib -> $pkg"
		echo "$pkg" >> "$WORK/needed-pkgs"
		[[ " $runtime " == *" $pkg "* ]] || fail "the Dockerfile's RUNTIME_PACKAGES lack $pkg (for $lib)"
	done
	for p in $runtime; do
		[ "$p" = ca-certificates ] || grep -qx "$p" "$WORK/needed-pkgs" ||
			fail "RUNTIME_PACKAGES has $p, which no NEEDED library of the binary comes from"
	done
	for p in "${INFERMON_BUILD_DEBS[@]}"; do
		case $p in openssl | ca-certificates) continue ;; esac # tools of the test suite, not the build
		[[ " $build " == *" $p "* ]] || fail "the Dockerfile's BUILD_PACKAGES lack $p (hack/lib.sh builds with it)"
	done
	grep -q '^FROM debian:bookworm AS build$' "$ROOT/Dockerfile" || fail "build stage is not debian:bookworm"
	grep -q '^FROM debian:bookworm-slim$' "$ROOT/Dockerfile" || fail "runtime stage is not debian:bookworm-slim"
	grep -q '^USER 65532:65532$' "$ROOT/Dockerfile" || fail "not user 65532"
	grep -q '^ENTRYPOINT \["/usr/local/bin/infermon"\]$' "$ROOT/Dockerfile" || fail "ENTRYPOINT"
}

test_samples_pass_the_crd_schema() {
	local ns=it-deploy-samples
	kubectl delete ns $ns --ignore-not-found --wait=true >/dev/null
	kubectl create ns $ns >/dev/null
	kubectl apply -k "$ROOT/deploy/samples" -n $ns --dry-run=server > "$WORK/out" 2>&1 || fail "samples: $(cat "$WORK/out")"
	cat "$WORK/out"
	[ "$(grep -c 'inferenceworkload.infermon.io/.* created (server dry run)' "$WORK/out")" -eq 4 ] || fail "not 4 samples"
	kubectl delete ns $ns --wait=false >/dev/null
}

run_test "$1"
