# Helpers for it_*.sh tests. Each test is a function test_<name>; the script
# runs the one named by its first argument. Fail with `fail MESSAGE`.

. "$(dirname "${BASH_SOURCE[0]}")/../../hack/lib.sh"

fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "ok: $*"; }

# every distinct promtool: Debian's and the one hack/tools builds
promtools() {
	local p seen=" "
	for p in $(which -a promtool) "$(infermon_cache)/bin/promtool"; do
		[ -x "$p" ] || continue
		p=$(readlink -f "$p")
		[[ $seen == *" $p "* ]] && continue
		seen="$seen$p "
		echo "$p"
	done
}

# start_infermon LOG ARGS...: runs `infermon ARGS` in the background, logging
# to LOG; sets INFERMON_PID.
start_infermon() {
	local log=$1; shift
	"$INFERMON_BIN" "$@" >"$log" 2>&1 &
	INFERMON_PID=$!
	INFERMON_LOG=$log
	# a failing test exits early: the EXIT trap must stop it too
	CLEANUP_PIDS="${CLEANUP_PIDS:-} $INFERMON_PID"
}

# stop_infermon: SIGTERM, and fail unless it exits 0 within 5 s.
stop_infermon() {
	local i
	kill -TERM "$INFERMON_PID" 2>/dev/null || true
	for i in $(seq 1 50); do
		kill -0 "$INFERMON_PID" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$INFERMON_PID" 2>/dev/null; then
		kill -9 "$INFERMON_PID"
		fail "infermon did not stop within 5 s of SIGTERM"
	fi
	local rc=0
	wait "$INFERMON_PID" || rc=$?
	[ $rc -eq 0 ] || fail "infermon exited $rc after SIGTERM: $(tail -60 "$INFERMON_LOG")"
}

# ---- the controller against the test cluster ----

# fresh_ns NAME: a new, empty namespace NAME (and the namespace monitoring,
# where the scrape-config Secret goes).
fresh_ns() {
	kubectl delete ns "$1" --ignore-not-found --wait=true --timeout=60s >/dev/null
	kubectl create ns "$1" >/dev/null
	kubectl create ns monitoring --dry-run=client -o yaml | kubectl apply -f - >/dev/null
}

# apply_iw NS NAME SPEC: applies an InferenceWorkload with the given spec (flow YAML).
apply_iw() {
	kubectl apply -f - >/dev/null <<YAML
apiVersion: infermon.io/v1alpha1
kind: InferenceWorkload
metadata: {name: $2, namespace: $1}
spec: $3
YAML
}

# start_controller ARGS...: `infermon run` with text logs in $WORK/log,
# /metrics on a free loopback port, 1 s scrapes; waits for its caches.
start_controller() {
	start_infermon "$WORK/log" run --metrics-secure=false --metrics-bind-address 127.0.0.1:0 --scrape-interval 1s "$@"
	wait_for 30 grep -q 'caches synced' "$WORK/log" || fail "never synced: $(cat "$WORK/log")"
}

# iw_condition_is NS NAME TYPE STATUS: the InferenceWorkload's condition
# TYPE has status STATUS (True, False, Unknown); for wait_for.
iw_condition_is() {
	[ "$(kubectl -n "$1" get iw "$2" -o jsonpath="{.status.conditions[?(@.type==\"$3\")].status}")" = "$4" ]
}

# iw_has_event NS NAME "TYPE REASON": an Event of that type and reason is
# about the InferenceWorkload; for wait_for.
iw_has_event() {
	grep -qx "$3" <<<"$(kubectl -n "$1" get events.events.k8s.io \
		--field-selector "regarding.name=$2,regarding.kind=InferenceWorkload" \
		-o jsonpath='{range .items[*]}{.type} {.reason}{"\n"}{end}')"
}

# scrape_secret_lists NS WORKLOAD: the shared scrape-config Secret keeps
# WORKLOAD's pods (an alternative "NS;WORKLOAD;backend" of a job's regex);
# for wait_for.
scrape_secret_lists() {
	kubectl -n monitoring get secret infermon-scrape-configs -o jsonpath='{.data.scrape-configs\.yaml}' |
		base64 -d | grep -Eq "(regex: |\|)$1;$2;"
}

# ---- a positive marker before a negative check ----
# "X did not happen" checked after a fixed sleep passes on a machine too
# slow to have done X yet. Wait for the reconcile that would have done X
# instead, then check.

# iw_rv NS NAME: the InferenceWorkload's resourceVersion now.
iw_rv() { kubectl -n "$1" get iw "$2" -o jsonpath='{.metadata.resourceVersion}'; }

# saw_iw LOG NS NAME RV: the controller logging to LOG (text, --log-level
# debug) has seen InferenceWorkload NS/NAME at resourceVersion RV or later.
saw_iw() {
	awk -v seen_at="msg=\"InferenceWorkload changed\" namespace=$2 name=$3 resourceVersion=" -v rv="$4" '
		(i = index($0, seen_at)) && substr($0, i + length(seen_at)) + 0 >= rv + 0 { found = 1; exit }
		END { exit !found }' "$1"
}

# reconciled_after_iw LOG NS NAME RV KEY: the controller logging to LOG
# (text, --log-level debug) has seen InferenceWorkload NS/NAME at
# resourceVersion RV or later ("InferenceWorkload changed"), and a reconcile
# of KEY (NS/WORKLOAD, @dashboard, @secret) started after that line
# ("reconciling") and finished ("reconciled"): that reconcile saw the CR
# as it is at RV. For wait_for.
reconciled_after_iw() {
	awk -v seen_at="msg=\"InferenceWorkload changed\" namespace=$2 name=$3 resourceVersion=" \
		-v rv="$4" -v start="msg=reconciling key=$5" -v done="msg=reconciled key=$5 result=" '
		!seen {
			i = index($0, seen_at)
			if (i && substr($0, i + length(seen_at)) + 0 >= rv + 0) seen = 1
			next
		}
		!started { if (substr($0, length($0) - length(start) + 1) == start) started = 1; next }
		index($0, done) { found = 1; exit }
		END { exit !found }' "$1"
}

# log_time LOG TEXT: the time of LOG's first line containing TEXT (text
# format, ts=...), in seconds since the epoch; fails when there is none.
log_time() {
	local ts
	ts=$(grep -m1 -F -- "$2" "$1" | grep -o '^ts=[^ ]*' | cut -d= -f2) && [ -n "$ts" ] &&
		date -d "$ts" +%s.%3N
}

# metrics_port: the port of the controller started by start_controller.
metrics_port() {
	grep -o 'serving /metrics, /healthz, /readyz.*port=[0-9]*' "$WORK/log" | grep -o '[0-9]*$'
}

# api_writes: the controller's write requests to the API server so far.
api_writes() {
	curl -sf "http://127.0.0.1:$(metrics_port)/metrics" |
		sed -n 's/^infermon_api_requests_total{verb="write"} //p'
}

# start_engines MODE...: test/integration/engines.py serving each MODE on a
# port of its own on 127.0.0.1 (stopped when the test ends); engine_port
# MODE prints its port, engine_gets PORT how many /metrics it has answered.
start_engines() {
	python3 "$(dirname "${BASH_SOURCE[0]}")/engines.py" --max-seconds 300 "$@" >"$WORK/engines" 2>&1 &
	CLEANUP_PIDS="${CLEANUP_PIDS:-} $!"
	wait_for 30 grep -qx ready "$WORK/engines" || fail "engines.py did not start: $(cat "$WORK/engines")"
}
engine_port() { awk -v m="$1" '$1 == m { print $2 }' "$WORK/engines"; }
engine_gets() {
	curl -sf "http://127.0.0.1:$1/_requests" |
		python3 -c 'import json,sys; print(json.load(sys.stdin).get("/metrics", 0))'
}

# scrape_up MP NS POD: POD's infermon_scrape_up on the controller's /metrics
# at 127.0.0.1:MP, empty when it has none; scrape_up_is MP NS POD V for
# wait_for (awk reads the whole page: no early exit to fail curl).
scrape_up() {
	curl -sf "http://127.0.0.1:$1/metrics" |
		awk -v p="infermon_scrape_up{namespace=\"$2\",pod=\"$3\"," 'index($0, p) == 1 { print $2 }'
}
scrape_up_is() { [ "$(scrape_up "$1" "$2" "$3")" = "$4" ]; }

# at_exit COMMAND...: runs COMMAND when the test exits, however it exits
# (pass, fail, an error under set -e, SIGTERM/SIGINT), after the processes
# it started are stopped; the last registered runs first. For changes to
# the shared cluster that must be undone.
AT_EXIT=()
at_exit() { AT_EXIT=("$(printf '%q ' "$@")" "${AT_EXIT[@]}"); }

# run_at_exit: runs them all; fails if one failed (the test then fails: a
# cluster left changed is a failure of the test that changed it).
run_at_exit() {
	local c rc=0
	for c in ${AT_EXIT[@]+"${AT_EXIT[@]}"}; do
		eval "$c" || { echo "FAIL: at exit: '$c' failed" >&2; rc=1; }
	done
	AT_EXIT=()
	return $rc
}

# restore_cluster_on_exit COMMAND...: as at_exit, for a change to the
# shared cluster every later test would see (an API server restarted with
# other flags); and should the test be killed so that no trap runs (SIGKILL
# by ctest's timeout), a guard runs COMMAND then, as it_restore_on_exit does
# for the C tests (it.h): in a session of its own (ctest kills the test's
# process tree), it sees the test's end as EOF on a pipe, and holds a shared
# flock on the cluster's guard.lock until it is done, which
# hack/local-cluster.sh env (so the next test's with-cluster.sh) and down
# wait for. It logs to the cluster's logs/it-guard.log. One at a time.
restore_cluster_on_exit() {
	local dir fifo
	[ -z "${GUARD_FD:-}" ] || fail "a cluster restore is armed already"
	dir=$("$(infermon_root)/hack/local-cluster.sh" dir) || fail "hack/local-cluster.sh dir failed"
	GUARD_CMD=$(printf '%q ' "$@")
	fifo=$WORK/guard.fifo
	mkfifo "$fifo"
	# the guard takes the lock before it opens the pipe, and the open of
	# its write end below returns once the guard has opened the read end:
	# the lock is held from the moment this function returns
	setsid -f bash -c '
		exec 4>>"$1.guard.lock" && flock -s 4 || exit 1
		exec 3<"$2"
		c=; IFS= read -r -n1 c <&3 || true
		[ "$c" = d ] && exit 0
		echo "it-guard: the test ended without restoring the cluster; running: $3"
		cd "$4" && eval "$3"
		echo "it-guard: restore exited $?"' \
		it-guard "$dir" "$fifo" "$GUARD_CMD" "$PWD" </dev/null >>"$dir/logs/it-guard.log" 2>&1
	exec {GUARD_FD}>"$fifo"
	at_exit restore_cluster_now
}

# restore_cluster_now: runs the armed command, and disarms the guard when
# it succeeded (after a failure the guard gets EOF and tries once more).
restore_cluster_now() {
	local rc=0
	[ -n "${GUARD_FD:-}" ] || return 0
	echo "restoring the cluster: $GUARD_CMD" >&2
	eval "$GUARD_CMD" >&2 || rc=$?
	[ $rc -ne 0 ] || printf d >&"$GUARD_FD"
	exec {GUARD_FD}>&-
	GUARD_FD=
	return $rc
}

# ---- CRDs a test installs or removes on the shared cluster ----

# apply_crd FILE NAME: applies the CRD NAME from FILE; succeeds once it is
# Established and its resource is served.
apply_crd() {
	kubectl apply -f "$1" >/dev/null &&
		kubectl wait --for condition=established --timeout=60s "crd/$2" >/dev/null &&
		wait_for 30 kubectl get "$2" -A
}

# remove_crd NAME: deletes the CRD NAME and succeeds once it is gone and its
# group version is no longer served (kubectl delete --wait=false would leave
# it terminating for the next test to trip over).
remove_crd() {
	local path
	path=$(kubectl get crd "$1" -o jsonpath='/apis/{.spec.group}/{.spec.versions[0].name}' 2>/dev/null) ||
		return 0
	kubectl delete crd "$1" --wait=true --timeout=120s >/dev/null &&
		wait_for 30 bash -c "! kubectl get --raw '$path'"
}

# with_crd NAME FILE: the CRD NAME from FILE for this test; removed again
# when the test exits, however it exits, unless it was installed before.
with_crd() {
	kubectl get crd "$1" >/dev/null 2>&1 || at_exit remove_crd "$1"
	apply_crd "$2" "$1" || fail "CRD $1 from $2 not established and served"
}

# without_crd NAME FILE: no CRD NAME for this test; if there was one, it is
# put back from FILE when the test exits.
without_crd() {
	kubectl get crd "$1" >/dev/null 2>&1 || return 0
	at_exit apply_crd "$2" "$1"
	remove_crd "$1" || fail "cannot remove CRD $1"
}

run_test() {
	local name=$1
	declare -F "test_$name" >/dev/null || fail "no test named $name"
	WORK=$(mktemp -d)
	trap 'rc=$?; cleanup_pids; run_at_exit || rc=1; rm -rf "$WORK"; exit $rc' EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	"test_$name"
	pass "$name"
}

cleanup_pids() {
	local p
	for p in ${CLEANUP_PIDS:-}; do kill "$p" 2>/dev/null || true; done
	pkill -P $$ curl 2>/dev/null || true
}

# install_on_node: (real node) the shipped deploy/ as a user applies it,
# with only the image set (hack/node-manifests/); both replicas Ready
# through their own readiness probes.
install_on_node() {
	local k=(kubectl --request-timeout=30s) sys=infermon-system
	# deploy/ puts the dashboards and the scrape Secret's RBAC in the
	# namespace where kube-prometheus-stack runs, which it does not create
	"${k[@]}" create ns monitoring --dry-run=client -o yaml | "${k[@]}" apply -f - > /dev/null
	"${k[@]}" apply --server-side --force-conflicts -k "$(infermon_root)/hack/node-manifests" > /dev/null
	"${k[@]}" -n $sys rollout status deploy/infermon --timeout=180s > /dev/null ||
		fail "the controller Deployment did not roll out: $("${k[@]}" -n $sys get pods -o wide; "${k[@]}" -n $sys describe pods | tail -40)"
}
