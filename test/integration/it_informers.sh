#!/usr/bin/env bash
# Every informer of `infermon run` (lib/informers.c: pods, InferenceWorkloads,
# each generated kind, Prometheus objects, Namespaces) on the real API
# server, counted by kind on /metrics (infermon_watch_*{resource=...}):
#   - watches that the server ends at their timeout (--watch-timeout 3s:
#     every 3-6 s) resume from the last resourceVersion, a bookmark's or an
#     event's, without a list, and lose no event across the resume;
#   - a controller cut off long enough for etcd to compact past every
#     version it holds gets 410 Gone on each informer, relists each, and
#     converges: changes made while it was cut off (deletions included,
#     which no watch event can bring back) are in, nothing is doubled.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

# page: the controller's /metrics (a snapshot published every 2 s)
page() { curl -sf -m 5 "http://127.0.0.1:$(metrics_port)/metrics"; }
# wm FAMILY RESOURCE: infermon_watch_FAMILY_total{resource="RESOURCE"}
wm() {
	local p
	p=$(page) && awk -v s="infermon_watch_$1_total{resource=\"$2\"}" '$1 == s { print $2 }' <<<"$p"
}
self_metric() { local p; p=$(page) && awk -v n="$1" '$1 == n { print $2 }' <<<"$p"; }
# resources: every kind the controller watches, from its /metrics
resources() {
	local p
	p=$(page) && sed -n 's/^infermon_watch_requests_total{resource="\([^"]*\)"} .*/\1/p' <<<"$p"
}
# counters FAMILY...: "resource family value" lines of those families
counters() {
	local p f
	p=$(page) || return 1
	for f in "$@"; do
		sed -n "s/^infermon_watch_${f}_total{resource=\"\\([^\"]*\\)\"} \\(.*\\)/\\1 $f \\2/p" <<<"$p"
	done
}
# all_above FAMILY BASE: for every resource, FAMILY exceeds its value in
# BASE (a "counters FAMILY" output) by at least MIN (default 1)
all_above() {
	local now
	now=$(counters "$1") || return 1
	awk -v min="${3:-1}" 'NR == FNR { base[$1] = $3; next }
		{ n++; if (!($1 in base) || $3 < base[$1] + min) bad = 1 }
		END { exit bad || !n }' <(printf '%s\n' "$2") <(printf '%s\n' "$now")
}

all_watching() {
	local now
	now=$(counters requests) && [ -n "$now" ] && awk '$3 < 1 { bad = 1 } END { exit bad }' <<<"$now"
}

pod_yaml() { # NS NAME WORKLOAD: a labelled pod
	cat <<YAML
apiVersion: v1
kind: Pod
metadata:
  name: $2
  namespace: $1
  labels: {alibabacloud.com/inference-workload: $3, alibabacloud.com/inference-backend: vllm}
spec:
  containers:
  - {name: engine, image: engine:test, args: [--max-num-seqs, "8"], ports: [{name: http, containerPort: 8000}]}
YAML
}
secret_lacks() { ! scrape_secret_lists "$@"; }
mkpod() { pod_yaml "$@" | kubectl apply -f - >/dev/null; }
iw_ready() { kubectl -n "$1" get servicemonitor "infermon-$2" >/dev/null && iw_condition_is "$1" "$2" Ready True; }
# cache_is PODS WORKLOADS: the controller's pod cache holds that many
cache_is() { [ "$(self_metric infermon_cache_pods)" = "$1" ] && [ "$(self_metric infermon_cache_workloads)" = "$2" ]; }
# resumed_past LOG RESOURCE NS RV: a watch of RESOURCE in NS resumed from a
# version newer than RV
resumed_past() {
	awk -v m="msg=\"watch ended; resuming\" resource=$2 namespace=$3 resource_version=" -v rv="$4" '
		(i = index($0, m)) && substr($0, i + length(m)) + 0 > rv + 0 { found = 1; exit }
		END { exit !found }' "$1"
}
# reconciled_after_relist LOG NS: a reconcile of NS/a finished after the
# second "inferenceworkloads list complete" of NS (the relist)
reconciled_after_relist() {
	awk -v l="msg=\"inferenceworkloads list complete\" namespace=$2 " -v r="msg=reconciled key=$2/a " '
		index($0, l) { lists++; next }
		lists >= 2 && index($0, r) { found = 1; exit }
		END { exit !found }' "$1"
}
listed_at() { # LOG MESSAGE NS: the resourceVersion of the first "MESSAGE" list of NS
	sed -n "s/.*msg=\"$2\" namespace=$3 resource_version=\\([0-9]*\\).*/\\1/p" "$1" | head -1
}

test_watch_timeouts_resume_from_bookmarks_without_relisting() {
	local ns=it-inf-resume side=it-inf-side base cycles lrv irv r
	fresh_ns $ns
	fresh_ns $side
	start_controller --namespace $ns --watch-timeout 3s --leader-elect=false --log-level debug
	wait_for 30 page || fail "no /metrics: $(tail -20 "$WORK/log")"
	[ "$(resources | wc -l)" -ge 8 ] || fail "watched kinds on /metrics: $(resources)"
	# the baseline once every informer has listed and watches (a list
	# refused while a freshly started API server initialises its watch
	# cache is a failure, retried, before it)
	wait_for 60 all_watching || fail "not every informer watches: $(counters requests)"
	base=$(counters list_requests relists gone failures)

	# 1. Nothing happens in $ns; pods and InferenceWorkloads change in
	# another namespace. The server's bookmarks carry those newer versions
	# to the watches of $ns, which resume from them: from a version past
	# the list's, with no event of their own.
	kubectl -n $side run side --image=x --restart=Never >/dev/null
	apply_iw $side side "{backend: vllm}"
	cycles=$(counters requests)
	for r in $(seq 1 60); do
		kubectl -n $side annotate pod side --overwrite tick=$r >/dev/null
		kubectl -n $side annotate iw side --overwrite tick=$r >/dev/null
		[ "$(wm bookmarks pods)" -gt 0 ] && [ "$(wm bookmarks inferenceworkloads.infermon.io)" -gt 0 ] &&
			all_above requests "$cycles" 2 && break
		sleep 0.5
	done
	[ "$(wm bookmarks pods)" -gt 0 ] && [ "$(wm bookmarks inferenceworkloads.infermon.io)" -gt 0 ] ||
		fail "no bookmarks: $(counters bookmarks)"
	all_above requests "$cycles" 2 || fail "watches did not end and resume: $(counters requests)"
	[ "$(wm events pods)" = 0 ] && [ "$(wm events inferenceworkloads.infermon.io)" = 0 ] ||
		fail "events in the empty namespace: $(counters events)"
	lrv=$(listed_at "$WORK/log" "pod list complete" $ns)
	irv=$(listed_at "$WORK/log" "inferenceworkloads list complete" $ns)
	[ -n "$lrv" ] && [ -n "$irv" ] || fail "no list lines: $(grep 'list complete' "$WORK/log")"
	wait_for 30 resumed_past "$WORK/log" pods $ns "$lrv" ||
		fail "pod watches resumed only from the list's version $lrv: $(grep 'resuming" resource=pods' "$WORK/log" | tail -5)"
	wait_for 30 resumed_past "$WORK/log" inferenceworkloads $ns "$irv" ||
		fail "InferenceWorkload watches resumed only from the list's version $irv: $(grep 'resuming" resource=inferenceworkloads' "$WORK/log" | tail -5)"

	# 2. Pods and InferenceWorkloads come and go in $ns while the watches
	# keep ending: each change lands after at least one more resume.
	local prev=
	for r in 1 2 3 4; do
		cycles=$(counters requests)
		wait_for 30 all_above requests "$cycles" || fail "round $r: watches stopped resuming: $(counters requests)"
		mkpod $ns p-$r w
		apply_iw $ns iw-$r "{backend: vllm}"
		if [ -n "$prev" ]; then
			kubectl -n $ns delete pod p-$prev --wait=false >/dev/null
			kubectl -n $ns delete iw iw-$prev >/dev/null
		fi
		prev=$r
	done
	wait_for 60 iw_ready $ns iw-4 || fail "iw-4 not reconciled: $(kubectl -n $ns get iw iw-4 -o yaml)"
	wait_for 30 cache_is 1 1 ||
		fail "pod cache: $(self_metric infermon_cache_pods) pods, $(self_metric infermon_cache_workloads) workloads; want 1, 1"
	wait_for 60 bash -c "! kubectl -n $ns get servicemonitor infermon-iw-1 infermon-iw-2 infermon-iw-3 -o name 2>/dev/null | grep -q ." ||
		fail "objects of deleted InferenceWorkloads remain: $(kubectl -n $ns get servicemonitor -o name)"
	wait_for 30 scrape_secret_lists $ns w || fail "the scrape Secret lacks workload w"
	[ "$(wm events pods)" -ge 7 ] && [ "$(wm events inferenceworkloads.infermon.io)" -ge 7 ] ||
		fail "watch events: $(counters events)"
	# resumed, never listed again
	[ "$(counters list_requests relists gone failures)" = "$base" ] ||
		fail "lists, relists, 410s or failures changed: $(diff <(printf '%s\n' "$base") <(counters list_requests relists gone failures))"
	echo "per kind: $(counters requests bookmarks events | awk '{ v[$1] = v[$1] " " $2 "=" $3 } END { for (r in v) printf "\n  %s:%s", r, v[r] }')"
	stop_infermon
	kubectl delete ns $ns $side --wait=false >/dev/null
}

# The API server without its watch cache and with etcd compacting every
# 2 s, as it_watch's pod test: a watch from a compacted version then gets
# 410. The controller reaches it through a TCP proxy; killing the proxy cuts
# it off (its watches fail and back off, resuming from their versions),
# and the proxy back on the same port lets it resume.
test_gone_relists_every_informer_and_converges() {
	local ns=it-inf-gone aport pport proxy settings base cut_rv cut_line
	# (before the restart: kube-controller-manager's namespace controller,
	# which deletes a leftover namespace, is slow to pick up after one)
	fresh_ns $ns
	settings=$(hack/local-cluster.sh settings)
	restore_cluster_on_exit bash -c "$settings hack/local-cluster.sh up >/dev/null"
	# however the test ends, its namespace (and the Prometheus in it, which
	# it_operator would take for another test's leftover) goes before the
	# restore (at_exit runs the last registered first)
	at_exit kubectl delete ns $ns --ignore-not-found --wait=true --timeout=120s
	INFERMON_APISERVER_EXTRA_ARGS=--watch-cache=false INFERMON_ETCD_COMPACTION_INTERVAL=2s \
		hack/local-cluster.sh up >/dev/null || fail "cannot restart the API server"
	aport=$(kubectl config view --minify -o jsonpath='{.clusters[0].cluster.server}' | grep -o '[0-9]*$')
	pport=$(free_port)
	start_proxy() {
		python3 "$(dirname "$0")/tcpproxy.py" "$pport" "$aport" &
		proxy=$!
		CLEANUP_PIDS="${CLEANUP_PIDS:-} $proxy"
		wait_for 10 kubectl --kubeconfig "$WORK/kc" get ns $ns || fail "proxy does not forward"
	}
	kubectl config view --raw --minify > "$WORK/kc"
	KUBECONFIG="$WORK/kc" kubectl config set-cluster "$(kubectl config view --minify -o jsonpath='{.clusters[0].name}')" \
		--server="https://127.0.0.1:$pport" >/dev/null
	start_proxy

	# before: a CR without pods (a), a pod-only workload (b-0, b-1)
	apply_iw $ns a "{backend: vllm}"
	mkpod $ns b-0 b
	mkpod $ns b-1 b
	start_controller --namespace $ns --kubeconfig "$WORK/kc" --leader-elect=false --log-level debug
	wait_for 60 iw_ready $ns a || fail "a not reconciled: $(tail -20 "$WORK/log")"
	wait_for 30 scrape_secret_lists $ns b || fail "the scrape Secret lacks b"
	wait_for 30 cache_is 2 1 || fail "pod cache before the cut: $(self_metric infermon_cache_pods) pods"
	wait_for 30 kubectl -n $ns get servicemonitor infermon-b || fail "no ServiceMonitor for b"
	base=$(counters gone relists failures)

	# cut off; every informer notices (a failed request each)
	cut_line=$(wc -l < "$WORK/log")
	kill -KILL $proxy
	wait $proxy 2>/dev/null || true
	wait_for 60 all_above failures "$(grep ' failures ' <<<"$base")" ||
		fail "not every informer saw the cut: $(counters failures)"
	# meanwhile: b-1 goes, c-0 comes with its CR c, CR a goes (the garbage
	# collector takes its objects), a Prometheus appears, the namespace
	# changes,
	# and someone deletes b's ServiceMonitor and the scrape Secret
	kubectl -n $ns delete servicemonitor infermon-b >/dev/null
	kubectl -n monitoring delete secret infermon-scrape-configs >/dev/null
	kubectl -n $ns delete pod b-1 --wait=false >/dev/null
	mkpod $ns c-0 c
	apply_iw $ns c "{backend: vllm}"
	kubectl -n $ns delete iw a >/dev/null
	kubectl apply -f - >/dev/null <<YAML
apiVersion: monitoring.coreos.com/v1
kind: Prometheus
metadata: {name: p, namespace: $ns}
spec: {serviceMonitorSelector: {}}
YAML
	kubectl label ns $ns infermon-test=cut >/dev/null
	# every version the controller holds is older than this write; once a
	# watch from it is refused, compaction has passed all of them
	cut_rv=$(kubectl -n $ns create configmap cut -o jsonpath='{.metadata.resourceVersion}')
	compacted() {
		kubectl -n $ns create configmap "tick-$RANDOM$RANDOM" >/dev/null
		kubectl get --raw "/api/v1/namespaces/$ns/configmaps?watch=1&resourceVersion=$cut_rv&timeoutSeconds=1" |
			grep -q '"code":410'
	}
	wait_for 60 compacted || fail "etcd never compacted past $cut_rv"

	# back online: each informer gets 410, relists and converges
	start_proxy
	wait_for 120 all_above gone "$(grep ' gone ' <<<"$base")" ||
		fail "not every informer got 410 Gone: $(counters gone)"
	wait_for 60 all_above relists "$(grep ' relists ' <<<"$base")" ||
		fail "not every informer relisted: $(counters relists)"
	wait_for 60 iw_ready $ns c || fail "c not reconciled after the relist: $(tail -30 "$WORK/log")"
	wait_for 30 cache_is 2 2 ||
		fail "pod cache after the relist: $(self_metric infermon_cache_pods) pods, $(self_metric infermon_cache_workloads) workloads; want 2 (b-0, c-0), 2"
	# a's deletion was seen (only the relist could tell): once a reconcile
	# of a has run after the CRs were listed again, a leaves the Secret and
	# the controller writes none of a's objects (the garbage collector, not
	# the controller, removes them, at its own pace). Nor before: while the
	# CR watch was cut off, reconciles waited (a fresh-clone run caught the
	# controller re-creating a's Service from its stale CR cache, four
	# times in half a second, each deleted again by the garbage collector)
	wait_for 60 reconciled_after_relist "$WORK/log" $ns ||
		fail "no reconcile of $ns/a after the InferenceWorkloads were listed again: $(grep "key=$ns/a\|inferenceworkloads list" "$WORK/log" | tail)"
	wait_for 30 secret_lacks $ns a || fail "the scrape Secret still lists a"
	! tail -n +"$cut_line" "$WORK/log" | grep -q 'method=PATCH path="[^"]*/infermon-a?' ||
		fail "a's objects written after its CR was deleted: $(tail -n +"$cut_line" "$WORK/log" | grep 'infermon-a')"
	# generated objects deleted while it was cut off are made again
	wait_for 60 kubectl -n $ns get servicemonitor infermon-b ||
		fail "b's ServiceMonitor, deleted during the cut, not made again: $(grep -i 'servicemonitor\|secret' "$WORK/log" | tail -10)"
	wait_for 30 scrape_secret_lists $ns b || fail "the scrape Secret, deleted during the cut, lacks b"
	wait_for 30 scrape_secret_lists $ns c || fail "the scrape Secret lacks c"
	wait_for 30 secret_lacks $ns a ||
		fail "the scrape Secret still lists a"
	# nothing doubled: each job once in the Secret
	kubectl -n monitoring get secret infermon-scrape-configs -o jsonpath='{.data.scrape-configs\.yaml}' | base64 -d > "$WORK/secret"
	grep "job_name" "$WORK/secret" | sort | uniq -d > "$WORK/doubled"
	[ ! -s "$WORK/doubled" ] || fail "doubled jobs: $(cat "$WORK/doubled")"
	grep -q "resource version too old; relisting" "$WORK/log" || fail "no relist logged"
	grep -q 'InferenceWorkload watch cut off; reconciles wait' "$WORK/log" || fail "reconciles did not wait for the CR watch"
	echo "per kind: $(counters gone relists failures | awk '{ v[$1] = v[$1] " " $2 "=" $3 } END { for (r in v) printf "\n  %s:%s", r, v[r] }')"
	stop_infermon
	# gone before the API server restarts (see fresh_ns above)
	kubectl delete ns $ns --wait=true --timeout=120s >/dev/null
	run_at_exit || fail "cannot restore the API server's settings"
}

run_test "$@"
