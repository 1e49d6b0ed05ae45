#!/usr/bin/env bash
# The controller under pod churn on the real API server, with scrapes in
# flight against real engines: pods created and made Ready, deleted, replaced
# under new workload names, moved to another address and port, turned
# NotReady. The suite runs it on the ASan+UBSan build; the controller must
# keep up, drop no Event and exit cleanly (no sanitizer report, no leak).
# Bounded: 3 rounds of 15 replacements over 40 pods. hack/soak.sh runs the
# same churn on the Release build for a given time (CHURN_SECONDS) instead,
# and prints RSS and API writes per round.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

NS=it-churn

# churn_pods ROUND PORT NAMES...: labelled pods (workload = name without its
# last "-N"), Running and Ready at 127.0.0.1 with container port PORT.
churn_pods() {
	local round=$1 port=$2 n
	shift 2
	for n in "$@"; do
		cat <<YAML
---
apiVersion: v1
kind: Pod
metadata:
  name: $n
  namespace: $NS
  labels:
    alibabacloud.com/inference-workload: ${n%-*}
    alibabacloud.com/inference-backend: vllm
    churn-round: "$round"
spec:
  containers:
  - name: engine
    image: vllm/vllm-openai:test
    args: [--max-num-seqs, "5"]
    ports:
    - name: http
      containerPort: $port
YAML
	done | kubectl apply -f - >/dev/null
	printf '%s\n' "$@" | xargs -P 4 -I{} kubectl -n $NS patch pod {} --subresource=status --type=merge -p \
		'{"status":{"phase":"Running","podIP":"127.0.0.1","podIPs":[{"ip":"127.0.0.1"}],"conditions":[{"type":"Ready","status":"True"}]}}' >/dev/null
}

self_metric() { # NAME: the value of an unlabelled (or first) sample
	curl -sf "http://127.0.0.1:$(metrics_port)/metrics" | awk -v n="$1" '$1 == n || index($1, n "{") == 1 { print $2; exit }'
}

# waits until the controller scrapes exactly WANT engines and each of
# NAMES... has been scraped up at least once
converged() {
	local want=$1 page
	shift
	page=$(curl -sf "http://127.0.0.1:$(metrics_port)/metrics") || return 1
	[ "$(awk '$1 == "infermon_scrape_targets" { print $2 }' <<<"$page")" = "$want" ] || return 1
	local n
	for n in "$@"; do
		grep -q "^infermon_scrape_up{namespace=\"$NS\",pod=\"$n\",.*} 1\$" <<<"$page" || return 1
	done
}

test_pods_replaced_while_scrapes_are_in_flight() {
	local pa pb round i live=() names fresh moved notready
	pa=$(free_port); pb=$(free_port)
	start_sim "$pa" churn-a
	start_sim "$pb" churn-b
	fresh_ns $NS
	for i in $(seq 0 39); do live+=("wl-0-$((i / 5))-$i"); done
	churn_pods 0 "$pa" "${live[@]}"
	start_controller --namespace $NS
	wait_for 90 converged 40 "${live[@]}" || fail "first 40 pods not scraped: $(self_metric infermon_scrape_targets) targets"
	# the simulator exports no preemption series: one MetricsMissing Event
	# per workload (8), not per pod (40). Every pod has been scraped, so
	# every transition has happened; once the Events the controller counts
	# as posted are all in the API, there are exactly 8 (and one LimitDrift
	# Warning per workload, not per pod, for the same reason).
	all_posted() {
		[ "$(kubectl -n $NS get events.events.k8s.io -o custom-columns=C:.reportingController --no-headers | grep -cx infermon.io/controller)" = \
			"$(self_metric 'infermon_events_total{outcome="posted"}')" ]
	}
	wait_for 60 bash -c "[ \$(kubectl -n $NS get events.events.k8s.io --field-selector reason=MetricsMissing -o name | wc -l) -ge 8 ]" ||
		fail "MetricsMissing Events: $(kubectl -n $NS get events.events.k8s.io --field-selector reason=MetricsMissing -o name | wc -l), want 8"
	wait_for 60 all_posted || fail "Events posted $(self_metric 'infermon_events_total{outcome="posted"}'), in the API: $(kubectl -n $NS get events.events.k8s.io -o custom-columns=R:.reason,C:.reportingController,P:.regarding.name --no-headers)"
	[ "$(kubectl -n $NS get events.events.k8s.io --field-selector reason=MetricsMissing -o name | wc -l)" = 8 ] ||
		fail "MetricsMissing Events: $(kubectl -n $NS get events.events.k8s.io --field-selector reason=MetricsMissing -o custom-columns=POD:.regarding.name,NOTE:.note --no-headers)"
	[ "$(kubectl -n $NS get events.events.k8s.io --field-selector reason=LimitDrift -o name | wc -l)" = 8 ] ||
		fail "LimitDrift Events: $(kubectl -n $NS get events.events.k8s.io --field-selector reason=LimitDrift -o custom-columns=POD:.regarding.name --no-headers)"
	local t0=$SECONDS
	echo "start: RSS $(self_metric infermon_process_resident_memory_bytes) bytes"

	local rounds=${CHURN_ROUNDS:-3} until=$((SECONDS + ${CHURN_SECONDS:-0})) w0 w1
	round=0
	while [ $round -lt "$rounds" ] || [ $SECONDS -lt $until ]; do
		round=$((round + 1))
		w0=$(api_writes)
		# 15 pods go, 15 come under new workload names (half on the other engine)
		names=("${live[@]:0:15}")
		kubectl -n $NS delete pod "${names[@]}" --wait=false >/dev/null
		live=("${live[@]:15}")
		fresh=()
		for i in $(seq 0 14); do fresh+=("wl-$round-$((i / 3))-$i"); done
		churn_pods "$round" "$pa" "${fresh[@]:0:8}"
		churn_pods "$round" "$pb" "${fresh[@]:8}"
		live+=("${fresh[@]}")
		# 5 survivors move to another address (a new URL for their target)
		moved=("${live[@]:0:5}")
		printf '%s\n' "${moved[@]}" | xargs -P 4 -I{} kubectl -n $NS patch pod {} --subresource=status --type=merge -p \
			"{\"status\":{\"podIP\":\"127.0.0.$((round % 200 + 2))\",\"podIPs\":[{\"ip\":\"127.0.0.$((round % 200 + 2))\"}]}}" >/dev/null
		# 3 turn NotReady: their targets go
		notready=("${live[@]:5:3}")
		printf '%s\n' "${notready[@]}" | xargs -P 3 -I{} kubectl -n $NS patch pod {} --subresource=status --type=merge -p \
			'{"status":{"conditions":[{"type":"Ready","status":"False"}]}}' >/dev/null
		wait_for 90 converged 37 "${fresh[@]}" "${moved[@]}" ||
			fail "round $round: not converged to 37 targets: $(self_metric infermon_scrape_targets) targets"
		# and Ready again, for the next round's deletes
		printf '%s\n' "${notready[@]}" | xargs -P 3 -I{} kubectl -n $NS patch pod {} --subresource=status --type=merge -p \
			'{"status":{"conditions":[{"type":"Ready","status":"True"}]}}' >/dev/null
		wait_for 90 converged 40 "${notready[@]}" || fail "round $round: NotReady pods not back"
		kill -0 "$INFERMON_PID" 2>/dev/null || fail "round $round: the controller died: $(tail -40 "$WORK/log")"
		w1=$(api_writes)
		echo "round $round: converged at $((SECONDS - t0)) s; $((w1 - w0)) API writes;" \
			"RSS $(self_metric infermon_process_resident_memory_bytes) bytes;" \
			"$(self_metric infermon_scrapes_total) scrapes so far"
	done
	local mm
	mm=$(kubectl -n $NS get events.events.k8s.io --field-selector reason=MetricsMissing -o name | wc -l)
	# once per workload ever created (8 + 5 a round), never once per pod;
	# plus one a round for a workload whose pods all turned NotReady (its
	# check resolved, then true again)
	[ "$mm" -le $((8 + 6 * round)) ] || fail "$mm MetricsMissing Events for $((8 + 5 * round)) workloads"
	local dropped
	dropped=$(curl -sf "http://127.0.0.1:$(metrics_port)/metrics" | sed -n 's/^infermon_events_total{outcome="dropped"} //p')
	[ "$dropped" = 0 ] || fail "$dropped Events dropped under churn"
	stop_infermon # exits 0: no sanitizer report, no leak at exit
	! grep -qE 'AddressSanitizer|runtime error|LeakSanitizer' "$WORK/log" || fail "sanitizer report: $(grep -A30 -E 'Sanitizer|runtime error' "$WORK/log" | head -60)"
	kubectl delete ns $NS --wait=false >/dev/null
}

# writes_by_kind: "events status applies deletes all" so far, from the
# controller's counters
writes_by_kind() {
	local page
	page=$(curl -sf "http://127.0.0.1:$(metrics_port)/metrics") || return 1
	awk '$1 == "infermon_events_total{outcome=\"posted\"}" { e = $2 }
	     $1 == "infermon_reconcile_writes_total{kind=\"status\"}" { st = $2 }
	     $1 == "infermon_reconcile_writes_total{kind=\"apply\"}" { ap = $2 }
	     $1 == "infermon_reconcile_writes_total{kind=\"delete\"}" { de = $2 }
	     $1 == "infermon_api_requests_total{verb=\"write\"}" { all = $2 }
	     END { printf "%d %d %d %d %d\n", e, st, ap, de, all }' <<< "$page"
}

# quiet SECS: the controller's writes did not change for SECS seconds
quiet() {
	local a b
	a=$(writes_by_kind) || return 1
	sleep "$1"
	b=$(writes_by_kind) || return 1
	[ "$a" = "$b" ]
}

# scrapes_up N: exactly N engines scraped up (infermon_scrape_up 1)
scrapes_up() {
	local page
	page=$(curl -sf "http://127.0.0.1:$(metrics_port)/metrics") || return 1
	[ "$(grep -c "^infermon_scrape_up{namespace=\"$NS\",.*} 1\$" <<< "$page")" = "$1" ]
}

events_with_reason() {
	kubectl -n $NS get events.events.k8s.io --field-selector "reason=$1" -o name | wc -l
}

# The whole fleet unreachable at once (both engines frozen mid-connection,
# as a namespace losing its network looks to a scraper: every scrape times
# out), then back: the writes this costs are bounded by the workloads, not
# the pods. W workloads of P pods, C of them with an InferenceWorkload: per
# transition at most one Event per workload for each check that changes
# (ScrapeFailed, then ScrapeFailedResolved), at most four status writes per
# CR (the pods' scrapes fail within an interval plus a timeout, 1.5 scrape
# intervals here, and a CR's status is written at most twice per interval:
# reconciler_scrape_changed), and no generated object written. P is 10, so
# a status write per pod would fail it.
# bounded_writes WHAT W C: the writes between the arrays before and after
# (writes_by_kind) into d, printed; fails unless they are at most two Events
# per workload, four status writes per CR and no generated object.
bounded_writes() {
	local what=$1 w=$2 c=$3 i
	for i in 0 1 2 3 4; do d[$i]=$((after[i] - before[i])); done
	echo "$what: ${d[0]} Events, ${d[1]} status writes, ${d[2]} applies, ${d[3]} deletes; ${d[4]} API writes in all"
	[ "${d[0]}" -le $((w * 2)) ] || fail "$what: ${d[0]} Events for $w workloads (at most one per workload and changed check)"
	[ "${d[1]}" -le $((c * 4)) ] || fail "$what: ${d[1]} status writes for $c CRs"
	[ "${d[2]}" = 0 ] && [ "${d[3]}" = 0 ] || fail "$what: generated objects written: ${d[2]} applies, ${d[3]} deletes"
}

test_fleet_unreachable_at_once_costs_writes_per_workload() {
	local pa pb i live=() w=4 p=10 c=4 before after d fail_events
	pa=$(free_port); pb=$(free_port)
	start_sim "$pa" fleet-a
	start_sim "$pb" fleet-b
	local sims=($(pgrep -f -- "--model fleet-[ab] "))
	[ ${#sims[@]} = 2 ] || fail "cannot find the simulators' pids: ${sims[*]}"
	fresh_ns $NS
	for i in $(seq 0 $((w * p - 1))); do live+=("wl-0-$((i / p))-$i"); done
	churn_pods 0 "$pa" "${live[@]:0:20}"
	churn_pods 0 "$pb" "${live[@]:20}"
	for i in $(seq 0 $((c - 1))); do apply_iw $NS "wl-0-$i" "{backend: vllm}"; done
	start_controller --namespace $NS --scrape-interval 2s --scrape-timeout 1s --leader-elect=false
	wait_for 90 converged $((w * p)) "${live[@]}" || fail "the fleet was not scraped: $(self_metric infermon_scrape_targets) targets"
	wait_for 90 quiet 5 || fail "the controller never went quiet: $(writes_by_kind)"
	before=($(writes_by_kind))
	echo "healthy and quiet: events status applies deletes all = ${before[*]}"

	# every engine stops answering at once
	kill -STOP "${sims[@]}"
	wait_for 60 scrapes_up 0 || fail "scrapes still up after the engines froze"
	wait_for 60 bash -c "[ \$(kubectl -n $NS get events.events.k8s.io --field-selector reason=ScrapeFailed -o name | wc -l) -ge $w ]" ||
		fail "ScrapeFailed Events: $(events_with_reason ScrapeFailed), want $w"
	wait_for 60 quiet 5 || { kill -CONT "${sims[@]}"; fail "the controller never went quiet with the fleet down"; }
	after=($(writes_by_kind))
	kill -CONT "${sims[@]}"
	bounded_writes "fleet down ($((w * p)) pods, $w workloads, $c CRs)" $w $c
	fail_events=$(events_with_reason ScrapeFailed)
	[ "$fail_events" = "$w" ] || fail "$fail_events ScrapeFailed Events for $w workloads"
	[ "${d[4]}" = $((d[0] + d[1])) ] || fail "${d[4]} API writes, not just the Events and status writes"

	# and back
	before=("${after[@]}")
	wait_for 60 scrapes_up $((w * p)) || fail "the fleet did not come back: $(self_metric infermon_scrape_targets)"
	wait_for 60 quiet 5 || fail "the controller never went quiet after the fleet came back"
	after=($(writes_by_kind))
	bounded_writes "fleet back" $w $c
	[ "$(events_with_reason ScrapeFailedResolved)" = "$w" ] || fail "$(events_with_reason ScrapeFailedResolved) ScrapeFailedResolved Events for $w workloads"
	stop_infermon
	kubectl delete ns $NS --wait=false >/dev/null
}

run_test "$@"
