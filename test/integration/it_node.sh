#!/usr/bin/env bash
# it: node cluster
# infermon as users run it, on the real node (docs/real-node.md): the image
# built from the Dockerfile, `kubectl apply --server-side -k deploy/` with
# only the image changed (hack/node-manifests/), two controller pods that
# elect a leader through their Lease, and engines that run as pods, with
# pod IPs and readiness from the kubelet and Services whose EndpointSlices
# the endpointslice controller fills. Runs inside the node cluster's network
# namespace (with-cluster.sh enters it); every address is in 198.18.0.0/15.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
ROOT_DIR=$(cd "$(dirname "$0")/../.." && pwd)
WORK=$(mktemp -d)
CLEANUP_PIDS=
trap 'for p in $CLEANUP_PIDS; do kill $p 2>/dev/null || true; done; rm -rf "$WORK"' EXIT

SYS=infermon-system
ENG=node-engines
K=(kubectl --request-timeout=30s)

[ -n "${INFERMON_NETNS:-}" ] || fail "not a node cluster: INFERMON_NETNS is not set (INFERMON_CLUSTER_NODE=1 hack/local-cluster.sh up)"

# controller_pods: names of the controller's pods that are not terminating
controller_pods() {
	"${K[@]}" -n $SYS get pods -l app.kubernetes.io/name=infermon \
		-o go-template='{{range .items}}{{if not .metadata.deletionTimestamp}}{{.metadata.name}}{{"\n"}}{{end}}{{end}}'
}

# reader_token: a token that may read the controllers' /metrics (made once)
reader_token() {
	[ -s "$WORK/reader.token" ] || metrics_reader_token > "$WORK/reader.token" || fail "no /metrics reader token"
	cat "$WORK/reader.token"
}

holder() { "${K[@]}" -n $SYS get lease infermon -o jsonpath='{.spec.holderIdentity}' 2>/dev/null; }

leader_pod() { lease_holder_pod $SYS infermon; }

# leader_metrics: the leading controller's /metrics, read at its pod IP
leader_metrics() {
	local p ip
	p=$(leader_pod) && ip=$(pod_ip $SYS "$p") && [ -n "$ip" ] &&
		controller_metrics "$ip" "$(reader_token)"
}

# series_value NAME LABELS...: the value of NAME{LABELS...} on the leader's
# page (LABELS as k="v", in the page's label order, a prefix)
series_value() {
	local name=$1; shift
	local want
	want="$name{$(IFS=,; echo "$*")"
	leader_metrics | awk -v p="$want" 'index($0, p) == 1 { print $NF; exit }'
}
series_is() { local v=$1; shift; [ "$(series_value "$@")" = "$v" ]; }
series_absent() { local page; page=$(leader_metrics) && ! grep -qF "pod=\"$1\"" <<< "$page"; }

engines_up() {
	"${K[@]}" create ns $ENG --dry-run=client -o yaml | "${K[@]}" apply -f - > /dev/null
	"${K[@]}" -n $ENG apply -f "$ROOT_DIR/hack/node-manifests/engines.yaml" > /dev/null
	"${K[@]}" -n $ENG rollout status deploy/llama-batch --timeout=180s > /dev/null ||
		fail "engines did not roll out: $("${K[@]}" -n $ENG get pods -o wide)"
	"${K[@]}" -n $ENG wait --for=condition=Ready pod/qwen-chat-0 --timeout=120s > /dev/null ||
		fail "qwen-chat-0 not Ready: $("${K[@]}" -n $ENG describe pod qwen-chat-0 | tail -20)"
}

# pod_has_warning POD REASON: a Warning Event with REASON is about POD
pod_has_warning() {
	local reasons
	reasons=$("${K[@]}" -n $ENG get events.events.k8s.io --field-selector "type=Warning,regarding.name=$1" \
		-o jsonpath='{range .items[*]}{.reason}{"\n"}{end}') && grep -qx "$2" <<<"$reasons"
}

restart_count() { "${K[@]}" -n $ENG get pod "$1" -o jsonpath='{.status.containerStatuses[0].restartCount}'; }
restarted_since() { [ "$(restart_count "$1")" -gt "$2" ]; }
terminating() { [ -n "$("${K[@]}" -n $ENG get pod "$1" -o jsonpath='{.metadata.deletionTimestamp}' 2>/dev/null)" ]; }

engine_pods() {
	"${K[@]}" -n $ENG get pods -l app=llama-batch \
		-o go-template='{{range .items}}{{if not .metadata.deletionTimestamp}}{{.metadata.name}}{{"\n"}}{{end}}{{end}}' | sort
}

# every pod of the list has infermon_scrape_up 1 on the leader's page
all_scraped() {
	local p
	for p in "$@"; do series_is 1 infermon_scrape_up "namespace=\"$ENG\"" "pod=\"$p\"" || return 1; done
}

# slice_ips NS SERVICE: the ready addresses of SERVICE's EndpointSlices, sorted
slice_ips() {
	"${K[@]}" -n "$1" get endpointslices -l "kubernetes.io/service-name=$2" \
		-o go-template='{{range .items}}{{range .endpoints}}{{if .conditions.ready}}{{range .addresses}}{{.}}{{"\n"}}{{end}}{{end}}{{end}}{{end}}' | sort
}
pod_ips_sorted() {
	local p
	for p in "$@"; do pod_ip $ENG "$p"; echo; done | sed '/^$/d' | sort
}
slice_matches() { [ "$(slice_ips $ENG "$1")" = "$(pod_ips_sorted "${@:2}")" ] && [ -n "$(slice_ips $ENG "$1")" ]; }

test_deploy_runs_as_pods() {
	install_on_node
	local pods p n
	mapfile -t pods < <(controller_pods)
	[ ${#pods[@]} -eq 2 ] || fail "want 2 controller pods, have: ${pods[*]}"
	for p in "${pods[@]}"; do
		[ "$("${K[@]}" -n $SYS get pod "$p" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')" = True ] ||
			fail "$p is not Ready"
		[ "$("${K[@]}" -n $SYS get pod "$p" -o jsonpath='{.spec.nodeName}')" = infermon-node ] || fail "$p is not on the node"
	done
	wait_for 60 leader_pod || fail "no replica holds the Lease infermon-system/infermon"
	n=0
	for p in "${pods[@]}"; do [ "$(leader_pod)" = "$p" ] && n=$((n + 1)); done
	[ $n -eq 1 ] || fail "the Lease holder $(holder) is not exactly one of ${pods[*]}"
	# the leader reports leading on its own /metrics; the other follows
	for p in "${pods[@]}"; do
		local want=0 got
		[ "$p" = "$(leader_pod)" ] && want=1
		got=$(controller_metrics "$(pod_ip $SYS "$p")" "$(reader_token)" | awk 'index($1, "infermon_leader{") == 1 { print $2 }')
		[ "$got" = "$want" ] || fail "$p: infermon_leader $got, want $want"
	done
	p=${pods[0]}
	# the security context, as the kernel sees it inside the container
	local uid
	uid=$("${K[@]}" -n $SYS exec "$p" -- id -u) || fail "kubectl exec into $p failed"
	[ "$uid" = 65532 ] || fail "$p runs as uid $uid, want 65532"
	local out
	out=$("${K[@]}" -n $SYS exec "$p" -- sh -c 'echo x > /probe' 2>&1) && fail "$p: the root file system is writable"
	grep -q 'Read-only file system' <<< "$out" || fail "$p: writing / failed for another reason: $out"
	out=$("${K[@]}" -n $SYS exec "$p" -- infermon version) || fail "infermon version in $p failed"
	echo "infermon version in $p: $out"
	# in-cluster config: the kubernetes Service's address and the projected token
	"${K[@]}" -n $SYS exec "$p" -- sh -c 'test -s /var/run/secrets/kubernetes.io/serviceaccount/token && echo "$KUBERNETES_SERVICE_HOST"' \
		> "$WORK/svc" || fail "$p has no ServiceAccount token"
	[ "$(cat "$WORK/svc")" = "$("${K[@]}" -n default get svc kubernetes -o jsonpath='{.spec.clusterIP}')" ] ||
		fail "$p: KUBERNETES_SERVICE_HOST $(cat "$WORK/svc") is not the kubernetes Service"
	# (the log read whole first: `logs | grep -q` under pipefail fails when
	# grep stops reading a long log early)
	"${K[@]}" -n $SYS logs "$p" >"$WORK/log" || fail "no log of $p"
	grep -q '"in-cluster' "$WORK/log" || fail "$p did not log its in-cluster config: $(head -5 "$WORK/log")"
	"${K[@]}" -n $SYS get pods -o wide
}

test_engines_are_pods_and_scraped() {
	install_on_node
	engines_up
	local pods
	mapfile -t pods < <(engine_pods)
	[ ${#pods[@]} -eq 2 ] || fail "want 2 llama-batch pods, have ${pods[*]}"
	local p ip
	for p in "${pods[@]}" qwen-chat-0; do
		ip=$(pod_ip $ENG "$p")
		[[ $ip == 198.19.* ]] || fail "$p has pod IP $ip, not one of the pod network's (198.19.0.0/24)"
	done
	# the generated headless Services get their endpoints from the
	# endpointslice controller, the pods' real IPs
	wait_for 90 slice_matches infermon-llama-batch "${pods[@]}" ||
		fail "EndpointSlice of infermon-llama-batch: [$(slice_ips $ENG infermon-llama-batch)], pods: [$(pod_ips_sorted "${pods[@]}")]"
	wait_for 90 slice_matches infermon-qwen-chat qwen-chat-0 || fail "EndpointSlice of infermon-qwen-chat: [$(slice_ips $ENG infermon-qwen-chat)]"
	"${K[@]}" -n $ENG get endpointslices -l kubernetes.io/service-name=infermon-llama-batch -o wide
	wait_for 90 all_scraped "${pods[@]}" qwen-chat-0 || fail "the leader does not scrape every engine: $(leader_metrics | grep '^infermon_scrape_up')"
	# the incident engine is flagged as hack/demo.sh shows it: its live
	# limit (2, from its args) is far below what its KV cache holds
	# (LimitDrift), and three chat sessions queue behind two slots
	# (AdmissionBound); the healthy engines are not
	local c
	start_clients_at "$(pod_ip $ENG qwen-chat-0)" 8000 qwen3-26b 3
	for c in LimitDrift AdmissionBound; do
		wait_for 120 series_is 1 infermon_check_active "namespace=\"$ENG\"" 'pod="qwen-chat-0"' 'workload_name="qwen-chat"' "check=\"$c\"" ||
			fail "$c not active for qwen-chat-0: $(leader_metrics | grep 'infermon_check_active.*qwen')"
	done
	series_is 2 infermon_engine_max_num_seqs "namespace=\"$ENG\"" 'pod="qwen-chat-0"' ||
		fail "live max-num-seqs of qwen-chat-0: $(leader_metrics | grep 'max_num_seqs.*qwen')"
	for p in "${pods[@]}"; do
		for c in LimitDrift AdmissionBound Saturated; do
			series_is 0 infermon_check_active "namespace=\"$ENG\"" "pod=\"$p\"" 'workload_name="llama-batch"' "check=\"$c\"" ||
				fail "$p flagged $c"
		done
	done
	wait_for 60 pod_has_warning qwen-chat-0 LimitDrift || fail "no LimitDrift Warning Event on qwen-chat-0"
	"${K[@]}" -n $ENG get pods -o wide
}

test_engine_lifecycle_followed() {
	install_on_node
	engines_up
	local pods p old
	mapfile -t pods < <(engine_pods)
	wait_for 90 all_scraped "${pods[@]}" || fail "engines not scraped before the lifecycle steps"

	# 1. a container restart: the engine process dies (SIGKILL from the
	# runtime, as an OOM kill or a crash ends it), the kubelet starts it
	# again in the same pod; the target comes back
	p=${pods[0]}
	old=$(restart_count "$p")
	local cid
	cid=$("${K[@]}" -n $ENG get pod "$p" -o jsonpath='{.status.containerStatuses[0].containerID}')
	ctr --address "$INFERMON_CONTAINERD" --namespace k8s.io tasks kill --signal SIGKILL "${cid#containerd://}" ||
		fail "could not kill the engine container of $p ($cid)"
	wait_for 90 restarted_since "$p" "$old" ||
		fail "$p was not restarted by the kubelet"
	"${K[@]}" -n $ENG wait --for=condition=Ready "pod/$p" --timeout=90s > /dev/null || fail "$p not Ready after its restart"
	wait_for 90 all_scraped "$p" || fail "$p not scraped again after its container restart"

	# 2. a pod deleted with its grace period: Terminating (not Ready, its
	# preStop hook running) while the controller already dropped it
	p=${pods[1]}
	local deleted="$p $(date -u +%FT%TZ)"
	"${K[@]}" -n $ENG delete pod "$p" --wait=false > /dev/null
	wait_for 30 terminating "$p" ||
		fail "$p is not Terminating"
	wait_for 30 series_absent "$p" || fail "the controller still has $p while it terminates: $(leader_metrics | grep "pod=\"$p\"" | head -3)"
	"${K[@]}" -n $ENG get pod "$p" > /dev/null 2>&1 || fail "$p was gone before the check: the grace period was not observed"
	"${K[@]}" -n $ENG rollout status deploy/llama-batch --timeout=120s > /dev/null
	mapfile -t pods < <(engine_pods)
	wait_for 90 all_scraped "${pods[@]}" || fail "the replacement pod is not scraped"

	# 3. a rolling restart: every pod replaced; the controller ends with
	# exactly the new pods, and the workload is still there
	for p in "${pods[@]}"; do deleted="$deleted $p $(date -u +%FT%TZ)"; done
	"${K[@]}" -n $ENG rollout restart deploy/llama-batch > /dev/null
	"${K[@]}" -n $ENG rollout status deploy/llama-batch --timeout=180s > /dev/null || fail "rolling restart did not finish"
	local new
	mapfile -t new < <(engine_pods)
	wait_for 90 all_scraped "${new[@]}" || fail "new pods not scraped after the rolling restart"
	for p in "${pods[@]}"; do
		wait_for 60 series_absent "$p" || fail "old pod $p still a target after the rolling restart"
	done
	wait_for 60 slice_matches infermon-llama-batch "${new[@]}" || fail "EndpointSlice not following the restart"
	"${K[@]}" -n $ENG get service infermon-llama-batch > /dev/null || fail "the workload's Service is gone"
	# no Event from the controller about a pod after its deletion began
	# (the kubelet's own Events are not the controller's business)
	local stale
	stale=$("${K[@]}" -n $ENG get events.events.k8s.io --field-selector reportingController=infermon.io/controller \
		-o jsonpath='{range .items[*]}{.regarding.name} {.eventTime} {.reason}{"\n"}{end}' |
		awk -v gone="$deleted" 'BEGIN { n = split(gone, g, " "); for (i = 1; i <= n; i += 2) at[g[i]] = g[i + 1] }
			($1 in at) && $2 > at[$1] { print }')
	[ -z "$stale" ] || fail "Events about pods after their deletion began: $stale"
}

test_leader_pod_deleted_fails_over() {
	install_on_node
	wait_for 60 leader_pod || fail "no leader"
	local first dur t0 t1 second
	first=$(leader_pod)
	local others
	others=$(controller_pods | grep -vx "$first")
	dur=$("${K[@]}" -n $SYS get deploy infermon -o jsonpath='{.spec.template.spec.containers[0].args}' |
		grep -o 'lease-duration=[0-9]*' | cut -d= -f2 || true)
	dur=${dur:-15}
	t0=$(date +%s.%N)
	"${K[@]}" -n $SYS delete pod "$first" --wait=false > /dev/null
	new_leader() { local l; l=$(leader_pod) && [ "$l" != "$first" ]; }
	# the bound is the protocol's (the lease duration plus a retry), not a
	# speed: a follower must take over once the lease has run out
	wait_for $((dur * 2 + 10)) new_leader || fail "no other replica took the Lease within $((dur * 2 + 10)) s of deleting $first"
	t1=$(date +%s.%N)
	second=$(leader_pod)
	local who="the replica started in its place"
	grep -qx "$second" <<< "$others" && who="the standby replica"
	printf 'leader %s deleted; %s (%s) leads after %.1f s (lease duration %s s)\n' \
		"$first" "$second" "$who" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')" "$dur"
	"${K[@]}" -n $SYS rollout status deploy/infermon --timeout=180s > /dev/null || fail "the replacement replica did not become Ready"
}

"test_$1"
