# prometheus-operator run out of cluster, for the tests that read what it
# makes of the generated monitors (it_operator.sh, it_node_dashboard.sh).
# Sourced after lib.sh; the test sets MON (the namespace of its Prometheus
# objects) and BIN (the cache's bin directory). docs/operator.md.

# The operator binary; INFERMON_OPERATOR runs another build of it.
OPERATOR=${INFERMON_OPERATOR:-$BIN/operator}

# need_tools: the operator, promtool and prometheus built from the module proxy.
need_tools() {
	if [ -z "${INFERMON_OPERATOR:-}" ]; then
		"$ROOT/hack/tools/build.sh" operator >&2 || fail "hack/tools/build.sh operator failed"
	fi
	[ -x "$OPERATOR" ] || fail "no operator at $OPERATOR (hack/tools/build.sh operator)"
	local t
	for t in promtool prometheus; do
		[ -x "$BIN/$t" ] || fail "no $BIN/$t (hack/tools/build.sh prometheus)"
	done
}

# start_operator: the operator, out of cluster (KUBECONFIG, which
# with-cluster.sh sets: the admin client certificate), logging to
# $WORK/operator.log; its web server (metrics, admission webhook handlers
# nobody calls) on a free loopback port. No --kubelet-service: the kubelet
# endpoints controller stays off. Prometheus objects only in $MON. ARGS:
# more flags.
start_operator() {
	[ -n "${KUBECONFIG:-}" ] || fail "no KUBECONFIG (run through with-cluster.sh)"
	start_operator_for $MON "$WORK/operator.log" "$@" ||
		fail "operator did not connect: $(tail -20 "$WORK/operator.log")"
	grep -o 'msg="Starting Prometheus Operator" version="[^"]*"' "$WORK/operator.log" || true
}

# stop_operator: SIGTERM, wait for its exit.
stop_operator() {
	kill -TERM "$OPERATOR_PID" 2>/dev/null || true
	wait "$OPERATOR_PID" 2>/dev/null || true
}

# fresh_mon: a new namespace $MON (removed when the test exits, after
# the finalizer the operator puts on Prometheus objects with its
# StatusForConfigurationResources gate is taken off: it is stopped first).
fresh_mon() {
	kubectl delete ns $MON --ignore-not-found --wait=true --timeout=120s >/dev/null
	kubectl create ns $MON >/dev/null
	at_exit kubectl delete ns $MON --ignore-not-found --wait=true --timeout=120s
	at_exit unfinalize_prometheuses
}

unfinalize_prometheuses() {
	local p
	for p in $(kubectl -n $MON get prometheus -o name); do
		kubectl -n $MON patch "$p" --type=merge -p '{"metadata":{"finalizers":null}}' >/dev/null || return 1
	done
}

# fresh_ns_here NS: fresh_ns, and NS removed when the test exits.
fresh_ns_here() {
	fresh_ns "$1"
	at_exit kubectl delete ns "$1" --ignore-not-found --wait=true --timeout=120s
}

# prometheus NAME SPEC: a Prometheus in $MON (flow YAML spec).
prometheus() {
	kubectl apply -f - >/dev/null <<YAML
apiVersion: monitoring.coreos.com/v1
kind: Prometheus
metadata: {name: $1, namespace: $MON}
spec: $2
YAML
}

# The selectors of a kube-prometheus-stack install named $1: every kind of
# monitor and rules labelled release=$1, in every namespace.
kps_selectors() {
	local r="{matchLabels: {release: $1}}"
	echo "serviceMonitorSelector: $r, serviceMonitorNamespaceSelector: {}," \
		"podMonitorSelector: $r, podMonitorNamespaceSelector: {}," \
		"scrapeConfigSelector: $r, scrapeConfigNamespaceSelector: {}," \
		"probeSelector: $r, probeNamespaceSelector: {}," \
		"ruleSelector: $r, ruleNamespaceSelector: {}"
}

# op_config NAME: the configuration the operator generated for Prometheus
# NAME (Secret prometheus-NAME, key prometheus.yaml.gz), on stdout.
op_config() {
	kubectl -n $MON get secret "prometheus-$1" -o jsonpath='{.data.prometheus\.yaml\.gz}' | base64 -d | gunzip
}

# op_jobs NAME: its job names, one a line.
op_jobs() {
	op_config "$1" | python3 -c '
import sys, yaml
for j in (yaml.safe_load(sys.stdin) or {}).get("scrape_configs") or []:
    print(j["job_name"])'
}

# op_has_jobs NAME JOB...: every JOB is in the operator's config; for wait_for.
op_has_jobs() {
	local name=$1 j jobs
	shift
	jobs=$(op_jobs "$name") || return 1
	for j in "$@"; do grep -qxF "$j" <<<"$jobs" || return 1; done
}

# op_rejected NS NAME: the operator's log says it skipped object NS/NAME
# (resource_selector.go: msg="skipping object" error=... object=NS/NAME).
op_rejected() {
	grep 'msg="skipping object"' "$WORK/operator.log" | grep -qE "object=\"?$1/$2\"?( |$)"
}

# op_rejections NS: the operator's rejection lines for objects in NS.
op_rejections() {
	grep 'msg="skipping object"' "$WORK/operator.log" | grep -E "object=\"?$1/" || true
}

# prom_reconciled NAME: Prometheus NAME's Reconciled condition is True for
# its current generation; for wait_for.
prom_reconciled() {
	[ "$(kubectl -n $MON get prometheus "$1" -o jsonpath='{.status.conditions[?(@.type=="Reconciled")].status}/{.status.conditions[?(@.type=="Reconciled")].observedGeneration}')" = \
		"True/$(kubectl -n $MON get prometheus "$1" -o jsonpath='{.metadata.generation}')" ]
}
