#!/usr/bin/env bash
# Leader election with two replicas of `infermon run` on the real API
# server: exactly one writes; kill -9 of the leader hands over within the
# lease duration and loses no reconcile; a leader cut off from the API server
# stops writing before anyone else may take over. Default timings (lease
# 15 s, renew deadline 10 s, retry 2 s). Times are measured and printed;
# each wait is bounded by what those timings allow plus SLACK, so a
# regression that makes a hand-over several times slower fails.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

# lib/leader.h's defaults, which the replicas run with
LEASE=15 RENEW=10 RETRY=2
# Added to every bound below: API requests to a server on a loaded 2-core
# machine (the controller under ASan, another test beside it) take seconds,
# not milliseconds, and the logs are polled every 0.25 s.
SLACK=10

mport() { grep -o 'serving /metrics, /healthz, /readyz.*port=[0-9]*' "$1" | grep -o '[0-9]*$'; }
# page LOG: the /metrics page of the replica logging to LOG, asked for again
# (5 s at most) while the request fails or the page lacks infermon_leader
page() {
	local i out
	for i in $(seq 1 20); do
		out=$(curl -sf -m 5 "http://127.0.0.1:$(mport "$1")/metrics") &&
			grep -q '^infermon_leader{' <<<"$out" && { printf '%s\n' "$out"; return 0; }
		sleep 0.25
	done
	return 1
}
# metric LOG SERIES: the value of SERIES (name and labels, as printed)
metric() { local p; p=$(page "$1") && awk -v s="$2" '$1 == s { print $2 }' <<<"$p"; }
writes() { metric "$1" 'infermon_api_requests_total{verb="write"}'; }
# /metrics is a snapshot published every 2 s (and at leadership changes):
# wait_for these rather than test them once
# (never `curl | grep -q` under pipefail: grep's early exit fails curl)
is_leader() { local p; p=$(page "$1") && grep -q '^infermon_leader{identity="[^"]*"} 1$' <<<"$p"; }
not_leader() { local p; p=$(page "$1") && grep -q '^infermon_leader{identity="[^"]*"} 0$' <<<"$p"; }
wrote() { local w; w=$(writes "$1") && [ -n "$w" ] && [ "$w" -gt 0 ]; }
identity() { sed -n 's/.*msg="leader election started" identity=\([^ ]*\).*/\1/p' "$1"; }
ts_of() { grep -m1 "$2" "$1" | grep -o '^ts=[^ ]*' | cut -d= -f2; }
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

# replica LOG NS ARGS...: one `infermon run` whose Lease lives in NS (a
# fresh one per test, so no other test's leftover Lease is in the way).
replica() {
	local log=$1 ns=$2; shift 2
	start_infermon "$log" run --namespace "$ns" --leader-elect-namespace "$ns" \
		--metrics-secure=false --metrics-bind-address 127.0.0.1:0 --scrape-interval 1s "$@"
	wait_for 30 grep -q 'caches synced' "$log" || fail "never synced: $(cat "$log")"
}

stop_replica() { # stop_replica PID LOG
	INFERMON_PID=$1 INFERMON_LOG=$2
	stop_infermon
}

tracks_target() { [ "$(metric "$1" infermon_scrape_targets)" = 1 ]; }
scraped_since() { local n; n=$(metric "$1" infermon_scrapes_total) && [ "$n" -ge "$2" ]; }

ready_iw() { # ready_iw NS NAME: its objects exist and its status says Ready
	wait_for 60 bash -c "kubectl -n $1 get servicemonitor infermon-$2 >/dev/null && kubectl -n $1 get iw $2 -o jsonpath='{.status.conditions[?(@.type==\"Ready\")].status}' | grep -qx True"
}

test_one_replica_writes_and_a_follower_takes_over_after_kill9() {
	local ns=it-leader port pa pb L F Lpid Fpid t0 t1 wl
	fresh_ns $ns
	port=$(free_port)
	start_sim "$port" qwen3-26b --max-num-seqs 2 --max-model-len 1024 --block-size 16 --kv-cache-size 557
	engine_pod $ns qwen-0 qwen vllm "$port" --max-num-seqs 2
	replica "$WORK/a.log" $ns; pa=$INFERMON_PID
	replica "$WORK/b.log" $ns; pb=$INFERMON_PID
	wait_for 30 bash -c "grep -q 'became leader' '$WORK/a.log' || grep -q 'became leader' '$WORK/b.log'" ||
		fail "no leader: $(cat "$WORK/a.log" "$WORK/b.log")"
	if grep -q 'became leader' "$WORK/a.log"; then
		L=$WORK/a.log Lpid=$pa F=$WORK/b.log Fpid=$pb
	else
		L=$WORK/b.log Lpid=$pb F=$WORK/a.log Fpid=$pa
	fi
	wait_for 30 grep -q "following leader\" holder=$(identity "$L")" "$F" || fail "the follower does not follow: $(cat "$F")"
	[ "$(kubectl -n $ns get lease infermon -o jsonpath='{.spec.holderIdentity}')" = "$(identity "$L")" ] ||
		fail "the Lease does not name the leader: $(kubectl -n $ns get lease infermon -o yaml)"

	# the leader applies a CR's objects and status, judges the engine and
	# posts the Event; the follower keeps its caches warm
	# (the CR says 1 s: the CRD defaults an absent interval to 15 s, and the
	# scrape counts below assume the replicas' 1 s)
	apply_iw $ns qwen "{backend: vllm, metrics: {interval: 1s}}"
	ready_iw $ns qwen || fail "CR not reconciled: $(kubectl -n $ns get iw qwen -o yaml)"
	wait_for 30 grep -q 'check became true.*check=LimitDrift' "$L" || fail "leader did not judge"
	# the follower does not scrape (test_only_the_leader_scrapes)
	! grep -q 'check became true' "$F" || fail "the follower judged: $(cat "$F")"
	wait_for 30 bash -c "kubectl -n $ns get events.events.k8s.io -o jsonpath='{range .items[*]}{.reason}{\"\\n\"}{end}' | grep -qx LimitDrift" ||
		fail "no LimitDrift event"
	# not a fixed sleep before the negative check below: the follower
	# tracks the engine (it would scrape it if it did), and the leader,
	# scraping every 1 s as the follower would, scraped twice since; a
	# follower that scraped, judged and posted would have done it by then
	wait_for 30 tracks_target "$F" || fail "the follower does not track the engine: $(tail -20 "$F")"
	local s0
	s0=$(metric "$L" infermon_scrapes_total)
	wait_for 30 scraped_since "$L" $((s0 + 2)) ||
		fail "the leader stopped scraping ($s0 scrapes 30 s ago): $(tail -20 "$L")
its scraper on /metrics: $(page "$L" | grep -E '^infermon_(scrape|leader|engine_up)' | head -30)
the engine: $(curl -s -m 5 -o /dev/null -w '%{http_code} in %{time_total} s' "http://127.0.0.1:$port/metrics")"
	[ "$(metric "$F" infermon_scrapes_total)" = 0 ] || fail "the follower scraped: $(metric "$F" infermon_scrapes_total)"
	[ "$(kubectl -n $ns get events.events.k8s.io -o jsonpath='{range .items[*]}{.reason}{"\n"}{end}' | grep -cx LimitDrift)" = 1 ] ||
		fail "LimitDrift posted more than once: $(kubectl -n $ns get events.events.k8s.io -o wide)"
	# /metrics is a snapshot published every 2 s
	wait_for 10 wrote "$L" ||
		fail "the leader wrote nothing"
	wl=$(writes "$L")
	echo "writes: leader $wl, follower $(writes "$F")"
	[ "$(writes "$F")" = 0 ] || fail "the follower wrote $(writes "$F") times"
	wait_for 10 is_leader "$L" || fail "leader's infermon_leader is not 1"
	wait_for 10 not_leader "$F" || fail "follower's infermon_leader is not 0"
	[ "$(metric "$F" 'infermon_reconcile_writes_total{kind="apply"}')" = 0 ] || fail "the follower applied"
	[ "$(metric "$F" 'infermon_events_total{outcome="posted"}')" = 0 ] || fail "the follower posted Events"

	# kill -9 the leader; a CR created while no leader runs is reconciled
	# by the next one
	kill -9 "$Lpid"; wait "$Lpid" 2>/dev/null || true
	t0=$(now)
	apply_iw $ns llama "{backend: sglang}"
	# the follower sees the last renewal at its next look (<= RETRY), takes
	# the Lease at the first look LEASE after that (<= RETRY more)
	wait_for $((LEASE + 2 * RETRY + SLACK)) grep -q 'became leader' "$F" ||
		fail "no takeover within $((LEASE + 2 * RETRY + SLACK)) s: $(cat "$F")"
	t1=$(now)
	echo "takeover after kill -9: $(secs "$t0" "$t1") s (lease 15 s, retry 2 s)"
	grep -q "lease expired; taking it over\" holder=$(identity "$L")" "$F" || fail "not taken over as expired"
	ready_iw $ns llama || fail "the CR created while no leader ran was not reconciled: $(kubectl -n $ns get iw llama -o yaml)"
	echo "CR created during the outage reconciled $(secs "$t0" "$(now)") s after the kill"
	wait_for 10 wrote "$F" || fail "the new leader wrote nothing"
	# it did not scrape while following; leading, it scrapes, finds
	# LimitDrift true and reports it once (a second Event, from it)
	wait_for 30 bash -c "[ \$(kubectl -n $ns get events.events.k8s.io -o jsonpath='{range .items[*]}{.reason}{\"\\n\"}{end}' | grep -cx LimitDrift) = 2 ]" ||
		fail "the new leader did not report the LimitDrift it found while following: $(kubectl -n $ns get events.events.k8s.io -o wide)"
	wait_for 10 is_leader "$F" || fail "new leader's infermon_leader is not 1"
	[ "$(kubectl -n $ns get lease infermon -o jsonpath='{.spec.leaseTransitions}')" = 1 ] ||
		fail "leaseTransitions: $(kubectl -n $ns get lease infermon -o yaml)"
	wait_for 10 bash -c "curl -sf http://127.0.0.1:$(mport "$F")/metrics | grep -qx 'infermon_leader_lease_transitions 1'" ||
		fail "transitions metric"

	# SIGTERM hands the Lease back: a third replica takes the free Lease at
	# its next retry instead of waiting for it to expire
	replica "$WORK/c.log" $ns
	local pc=$INFERMON_PID
	wait_for 30 grep -q "following leader\" holder=$(identity "$F")" "$WORK/c.log" || fail "C does not follow"
	t0=$(now)
	stop_replica "$Fpid" "$F"
	grep -q 'released the lease' "$F" || fail "lease not released: $(tail -20 "$F")"
	# the released Lease is free: C takes it at its next look
	wait_for $((RETRY + SLACK)) grep -q 'became leader' "$WORK/c.log" ||
		fail "C did not take over within $((RETRY + SLACK)) s: $(cat "$WORK/c.log")"
	echo "takeover after SIGTERM of the leader: $(secs "$t0" "$(now)") s (retry 2 s)"
	grep -q 'lease is free' "$WORK/c.log" || fail "C did not take the released Lease: $(cat "$WORK/c.log")"
	! grep -q 'lease expired' "$WORK/c.log" || fail "C waited for expiry"
	stop_replica "$pc" "$WORK/c.log"
	[ "$(kubectl -n $ns get lease infermon -o jsonpath='{.spec.holderIdentity}')" = "" ] ||
		fail "holder after release: $(kubectl -n $ns get lease infermon -o yaml)"
	kubectl delete ns $ns --wait=false >/dev/null
}

# A leader cut off from the API server (a SIGSTOPped TCP proxy: connections
# hang) stops writing when its renew deadline passes, which is before the
# other replica, still connected, may take over; back online it follows.
test_partitioned_leader_stops_writing_before_a_takeover() {
	local ns=it-leader-part pport aport proxy pa pb lost took wa
	fresh_ns $ns
	aport=$(kubectl config view --minify -o jsonpath='{.clusters[0].cluster.server}' | grep -o '[0-9]*$')
	pport=$(free_port)
	python3 "$(dirname "$0")/tcpproxy.py" "$pport" "$aport" &
	proxy=$!
	CLEANUP_PIDS="${CLEANUP_PIDS:-} $proxy"
	trap 'kill -CONT '"$proxy"' 2>/dev/null; cleanup_pids; rm -rf "$WORK"' EXIT
	kubectl config view --raw --minify > "$WORK/kc"
	KUBECONFIG="$WORK/kc" kubectl config set-cluster "$(kubectl config view --minify -o jsonpath='{.clusters[0].name}')" \
		--server="https://127.0.0.1:$pport" >/dev/null
	wait_for 10 kubectl --kubeconfig "$WORK/kc" get ns $ns || fail "proxy does not forward"

	replica "$WORK/a.log" $ns --kubeconfig "$WORK/kc" --log-level debug; pa=$INFERMON_PID
	wait_for 30 grep -q 'became leader' "$WORK/a.log" || fail "A did not lead: $(cat "$WORK/a.log")"
	replica "$WORK/b.log" $ns; pb=$INFERMON_PID
	wait_for 30 grep -q 'following leader' "$WORK/b.log" || fail "B does not follow: $(cat "$WORK/b.log")"
	apply_iw $ns before "{backend: vllm}"
	ready_iw $ns before || fail "A did not reconcile"
	[ "$(writes "$WORK/b.log")" = 0 ] || fail "follower B wrote"

	kill -STOP $proxy
	local t0; t0=$(now)
	# A's last renewal was sent before the cut; the renew deadline counts
	# from there
	wait_for $((RENEW + SLACK)) grep -q 'lost leadership' "$WORK/a.log" ||
		fail "A kept leading $((RENEW + SLACK)) s after the cut: $(cat "$WORK/a.log")"
	lost=$(now)
	grep -q 'lost leadership" reason="renewal failed for [0-9.]*s"' "$WORK/a.log" ||
		fail "loss not explained: $(grep leadership "$WORK/a.log")"
	wait_for 10 not_leader "$WORK/a.log" || fail "A still reports infermon_leader 1"
	wa=$(writes "$WORK/a.log")
	# as after kill -9: A's last renewal, seen within RETRY, then LEASE
	# and at most one more RETRY, counted from the cut
	wait_for $((LEASE + 2 * RETRY + SLACK)) grep -q 'became leader' "$WORK/b.log" ||
		fail "B did not take over within $((LEASE + 2 * RETRY + SLACK)) s: $(cat "$WORK/b.log")"
	took=$(now)
	echo "cut off -> A stops writing: $(secs "$t0" "$lost") s (renew deadline 10 s); cut off -> B leads: $(secs "$t0" "$took") s (lease 15 s)"
	# the safety property, on one machine's clock: A stopped first
	[[ "$(ts_of "$WORK/a.log" 'lost leadership')" < "$(ts_of "$WORK/b.log" 'became leader')" ]] ||
		fail "B led before A stopped: $(grep -h 'leadership\|became leader' "$WORK/a.log" "$WORK/b.log")"
	apply_iw $ns during "{backend: vllm}"
	ready_iw $ns during || fail "B did not reconcile while A was cut off"

	kill -CONT $proxy
	# A's request in flight ends within its timeout (half the renew
	# deadline), its next look within RETRY
	wait_for $((RENEW / 2 + RETRY + SLACK)) grep -q "following leader\" holder=$(identity "$WORK/b.log")" "$WORK/a.log" ||
		fail "A back online does not follow B within $((RENEW / 2 + RETRY + SLACK)) s: $(tail -20 "$WORK/a.log")"
	apply_iw $ns after "{backend: vllm}"
	ready_iw $ns after || fail "B did not reconcile after A came back"
	# not a fixed sleep before checking A wrote nothing: A has seen the CR
	# with the status B wrote for it, after the CR's creation that an A
	# still writing would have reconciled
	local rv
	rv=$(iw_rv $ns after)
	wait_for 30 saw_iw "$WORK/a.log" $ns after "$rv" ||
		fail "A never saw $ns/after at resourceVersion $rv: $(grep 'InferenceWorkload' "$WORK/a.log" | tail -5)"
	[ "$(writes "$WORK/a.log")" = "$wa" ] || fail "A wrote after losing the Lease: $wa -> $(writes "$WORK/a.log")"
	kill -0 "$pa" || fail "A died: $(tail -40 "$WORK/a.log")"
	[ "$(grep -c 'became leader' "$WORK/a.log")" = 1 ] && [ "$(grep -c 'became leader' "$WORK/b.log")" = 1 ] ||
		fail "leadership changed again: $(grep -h 'leader\|lease' "$WORK/a.log" "$WORK/b.log")"
	not_leader "$WORK/a.log" || fail "A's infermon_leader is not 0: $(curl -sv -m 5 "http://127.0.0.1:$(mport "$WORK/a.log")/metrics" 2>&1 | head -40)"
	is_leader "$WORK/b.log" || fail "B's infermon_leader is not 1"
	stop_replica "$pa" "$WORK/a.log"
	stop_replica "$pb" "$WORK/b.log"
	kubectl delete ns $ns --wait=false >/dev/null
}

# Two replicas, one engine that counts the requests it gets: only the
# leader scrapes, so the engine sees one controller's requests (at a 1 s
# interval, at most one /metrics a second and one more for a scrape in
# flight at either end of the window), and only the leader's /metrics
# carries engine series. Stopping the leader hands the scraping over.
test_only_the_leader_scrapes() {
	local ns=it-leader-scrape port pa pb L F Fpid c0 c1 w=6 got want
	fresh_ns $ns
	start_engines vllm-fork
	port=$(engine_port vllm-fork)
	engine_pod $ns fork-0 fork vllm "$port"
	replica "$WORK/a.log" $ns; pa=$INFERMON_PID
	replica "$WORK/b.log" $ns; pb=$INFERMON_PID
	wait_for 30 bash -c "grep -q 'became leader' '$WORK/a.log' || grep -q 'became leader' '$WORK/b.log'" ||
		fail "no leader: $(cat "$WORK/a.log" "$WORK/b.log")"
	if grep -q 'became leader' "$WORK/a.log"; then L=$WORK/a.log F=$WORK/b.log Fpid=$pb; else
		L=$WORK/b.log F=$WORK/a.log Fpid=$pa; fi
	wait_for 30 grep -q 'following leader' "$F" || fail "no follower: $(cat "$F")"
	wait_for 30 scrape_up_is "$(mport "$L")" $ns fork-0 1 ||
		fail "the leader does not scrape: $(tail -20 "$L")"
	c0=$(engine_gets "$port")
	sleep $w
	c1=$(engine_gets "$port")
	got=$((c1 - c0)) want=$((w + 2))
	echo "engine /metrics requests in $w s with two replicas at a 1 s interval: $got"
	[ "$got" -ge 1 ] && [ "$got" -le "$want" ] || fail "$got requests in $w s: more than one replica scrapes (at most $want)"
	[ "$(metric "$F" infermon_scrapes_total)" = 0 ] || fail "the follower scraped: $(metric "$F" infermon_scrapes_total)"
	page "$F" >"$WORK/follower-page" || fail "the follower's /metrics did not answer"
	! grep -q '^infermon_scrape_up{' "$WORK/follower-page" || fail "the follower exports engine series"
	[ "$(metric "$F" infermon_scrape_targets)" = 1 ] || fail "the follower does not track the target"
	# the leader goes: the follower takes over and scrapes
	if [ "$L" = "$WORK/a.log" ]; then stop_replica "$pa" "$L"; else stop_replica "$pb" "$L"; fi
	wait_for 30 grep -q 'became leader' "$F" || fail "no takeover: $(tail -20 "$F")"
	wait_for 30 grep -q 'leading: reconciling every key.*after="every engine scraped once"' "$F" ||
		fail "the new leader did not reconcile after scraping: $(tail -20 "$F")"
	wait_for 30 scrape_up_is "$(mport "$F")" $ns fork-0 1 ||
		fail "the new leader does not scrape: $(tail -20 "$F")"
	stop_replica "$Fpid" "$F"
	kubectl delete ns $ns --wait=false >/dev/null
}

# Someone deletes the Lease under the leader: it notices at its next
# renewal, stops writing, creates the Lease again and leads on.
test_deleted_lease_is_recreated() {
	local ns=it-leader-del me
	fresh_ns $ns
	replica "$WORK/log" $ns
	wait_for 30 grep -q 'became leader' "$WORK/log" || fail "did not lead: $(cat "$WORK/log")"
	me=$(identity "$WORK/log")
	kubectl -n $ns delete lease infermon >/dev/null
	wait_for 30 grep -q 'lost leadership" reason="the lease was deleted"' "$WORK/log" ||
		fail "deletion not noticed: $(tail -20 "$WORK/log")"
	wait_for 30 bash -c "[ \"\$(kubectl -n $ns get lease infermon -o jsonpath='{.spec.holderIdentity}')\" = $me ]" ||
		fail "Lease not recreated: $(tail -20 "$WORK/log")"
	[ "$(grep -c 'became leader' "$WORK/log")" = 2 ] || fail "did not lead again: $(grep leader "$WORK/log")"
	wait_for 10 is_leader "$WORK/log" || fail "infermon_leader is not 1"
	stop_infermon
	kubectl delete ns $ns --wait=false >/dev/null
}

# --leader-elect=false: writes from the start, no Lease anywhere.
test_disabled_election_writes_without_a_lease() {
	local ns=it-leader-off
	fresh_ns $ns
	replica "$WORK/log" $ns --leader-elect=false
	grep -q 'leader election disabled' "$WORK/log" || fail "no disabled line"
	apply_iw $ns q "{backend: vllm}"
	ready_iw $ns q || fail "not reconciled"
	! kubectl -n $ns get lease infermon >/dev/null 2>&1 || fail "a Lease was created"
	wait_for 10 is_leader "$WORK/log" || fail "infermon_leader is not 1"
	stop_infermon
	kubectl delete ns $ns --wait=false >/dev/null
}

# A new leader applies the generated objects at once and holds only CR
# status until every engine has been scraped once: here the one engine
# never answers (engines.py hang), so the round lasts until its scrape
# times out (4 s), and the objects must come before its end, the status
# after it.
test_objects_at_once_status_after_the_round() {
	local ns=it-leader-round port created round
	fresh_ns $ns
	start_engines hang
	port=$(engine_port hang)
	apply_iw $ns slow '{backend: vllm}'
	engine_pod $ns slow-0 slow vllm "$port"
	replica "$WORK/a.log" $ns --scrape-interval 10s --scrape-timeout 4s
	wait_for 30 grep -q 'created generated object' "$WORK/a.log" || fail "no object: $(cat "$WORK/a.log")"
	[ -z "$(kubectl -n $ns get inferenceworkload slow -o jsonpath='{.status.conditions}')" ] ||
		fail "status written during the takeover round"
	wait_for 30 grep -q 'leading: reconciling every key' "$WORK/a.log" ||
		fail "the round did not end by its timeout: $(grep -i 'leading\|takeover' "$WORK/a.log")"
	created=$(grep -n -m1 'created generated object' "$WORK/a.log" | cut -d: -f1)
	round=$(grep -n -m1 'leading: reconciling every key' "$WORK/a.log" | cut -d: -f1)
	[ "$created" -lt "$round" ] || fail "objects only after the round (log lines $created, $round)"
	wait_for 30 bash -c "[ -n \"\$(kubectl -n $ns get inferenceworkload slow -o jsonpath='{.status.conditions}')\" ]" ||
		fail "no status after the round"
	stop_infermon
	kubectl delete ns $ns --wait=false >/dev/null
}

run_test "$1"
