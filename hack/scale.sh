#!/usr/bin/env bash
# A fleet-scale benchmark, not a test: PODS labelled vLLM pods in WORKLOADS
# workloads over 10 namespaces, Running and Ready at 127.0.0.1 on one of 5
# llm-d-inference-sim engines, on a local control plane of its own; the
# Release build of `infermon run` (no leader election, 15 s interval) against
# them; then Prometheus alone scraping the same targets at the same interval.
# Prints one table; every ratio compares against a peer measured in this run:
#
#   writes/s         the API server taking the pods (16 client threads)
#   T_api, T_conv    `kubectl apply --server-side` of `infermon render`'s
#                    objects for these pods, and the controller from start to
#                    all of them in place; T_conv / T_api
#   scrapes/s        completed in a steady window, against PODS / 15 s
#   CPU per scrape   controller CPU (user+sys) per completed scrape, and
#                    Prometheus' per scrape on the same targets; the ratio
#   RSS              the controller's VmRSS and VmHWM
#   writes           at start-up (objects + Events) and in the idle window
#   /metrics         bytes of the controller's own page
#   churn            CHURN pods deleted and as many created under new
#                    workload names, 3 times: time until the controller
#                    scrapes exactly the new set and monitors every new
#                    workload, the API server's time for the same writes,
#                    and RSS after each round
#
#   hack/scale.sh [PODS] [WORKLOADS]      (default 5000 500)
#   SCALE_WINDOW=60 SCALE_CHURN=1000      steady window (s), pods per churn
#   SCALE_PROFILE=FILE                    perf profiles of the controller from
#                                         its start until every object is in
#                                         place (FILE.startup) and in
#                                         the steady window, written to FILE
#   SCALE_MASSIF=FILE                     the controller under valgrind's
#                                         massif instead: its heap profile
#                                         (ms_print) after the steady window
#                                         into FILE, and no churn, no
#                                         Prometheus, no table (valgrind
#                                         is too slow for 5,000 pods: use
#                                         1,000)
#   SCALE_LOG=FILE                        the controller's log at debug level
#                                         (every reconcile and API request,
#                                         timestamped) copied to FILE at the end
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
. hack/lib.sh

pods=${1:-5000}
workloads=${2:-500}
window=${SCALE_WINDOW:-60}
churn=${SCALE_CHURN:-1000}
interval=15
nns=10
nsims=5
[ "$workloads" -gt 0 ] && [ $((pods % workloads)) = 0 ] || die "PODS ($pods) must be a multiple of WORKLOADS ($workloads)"
per=$((pods / workloads))
[ $((churn % per)) = 0 ] && [ "$churn" -le "$pods" ] ||
	die "SCALE_CHURN ($churn) must be a multiple of the pods per workload ($per) and at most PODS"
export PATH=$PATH:/usr/local/go/bin

hack/tools/build.sh all
log "building the Release infermon in build/release"
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_FLAGS_RELEASE='-O3 -g -DNDEBUG' \
	-DINFERMON_INTEGRATION=OFF >/dev/null
cmake --build build/release -j"$(nproc)" --target infermon >/dev/null
prom=$(infermon_cache)/bin/prometheus

export INFERMON_CLUSTER_DIR=$(infermon_cache)/scale-cluster
WORK=$(mktemp -d)
# a copy: a rebuild of build/release during the run changes neither what
# runs nor the symbols the profile is read with
cp "$root/build/release/infermon" "$WORK/infermon"
bin=$WORK/infermon
CLEANUP_PIDS=
cleanup() {
	local p
	[ -z "${SCALE_LOG:-}" ] || cp "$WORK/infermon.log" "$SCALE_LOG" 2>/dev/null || true
	for p in $CLEANUP_PIDS; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	hack/local-cluster.sh down >/dev/null 2>&1 || true
	rm -rf "$WORK"
}
trap cleanup EXIT
trap "exit 130" INT TERM
hack/local-cluster.sh down >/dev/null 2>&1 || true
hack/local-cluster.sh up
eval "$(hack/local-cluster.sh env)"
state=$INFERMON_CLUSTER_DIR
hz=$(getconf CLK_TCK)

# cpu_ticks PID: user+system clock ticks of a process
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
# status_kb PID FIELD: VmRSS/VmHWM in kB
status_kb() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f MiB", k / 1024 }'; }
div() { awk -v a="$1" -v b="$2" -v f="${3:-%.2f}" 'BEGIN { printf f, (b > 0) ? a / b : 0 }'; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

SIM_LOG_DIR=$WORK
sims=()
for i in $(seq 1 $nsims); do
	p=$(free_port)
	start_sim "$p" qwen3-26b --max-num-seqs 8
	sims+=("$p")
done
for i in $(seq 0 $((nns - 1))); do kubectl create ns "scale-$i" >/dev/null; done
kubectl create ns monitoring >/dev/null 2>&1 || true

# spec_for PREFIX FIRST COUNT: pod lines "ns name workload port" for COUNT
# workloads named PREFIX-N from FIRST on
spec_for() {
	local prefix=$1 first=$2 count=$3 w j
	for ((w = first; w < first + count; w++)); do
		for ((j = 0; j < per; j++)); do
			echo "scale-$((w % nns)) $prefix-$w-$j $prefix-$w ${sims[$(((w * per + j) % nsims))]}"
		done
	done
}
spec_for wl 0 "$workloads" > "$WORK/pods.spec"

log "creating $pods pods in $workloads workloads"
out=$(python3 hack/tools/scale_pods.py create "$state" "$WORK/pods.spec")
pod_writes=$(sed -n 's/.*writes=\([0-9]*\).*/\1/p' <<<"$out")
pod_secs=$(sed -n 's/.*seconds=\([0-9.]*\).*/\1/p' <<<"$out")

log "the API server applying render's objects for these pods"
python3 hack/tools/scale_pods.py yaml "$WORK/pods.spec" > "$WORK/pods.json"
"$bin" render -f "$WORK/pods.json" > "$WORK/rendered.yaml"
objects=$(grep -c '^kind:' "$WORK/rendered.yaml")
t=$(now)
kubectl apply --server-side --field-manager=scale-peer -f "$WORK/rendered.yaml" >/dev/null
t_api=$(since "$t")
# gone again before the controller starts: kubectl deletes object by
# object, so one kubectl per namespace, all at once (minutes otherwise)
dels=
for i in $(seq 0 $((nns - 1))); do
	kubectl -n "scale-$i" delete --wait=false services,servicemonitors --all >/dev/null &
	dels="$dels $!"
done
kubectl -n monitoring delete secrets,configmaps -l app.kubernetes.io/managed-by=infermon >/dev/null
for p in $dels; do wait "$p" || die "deleting render's objects failed"; done
[ -z "$(kubectl get services,servicemonitors -A -l app.kubernetes.io/managed-by=infermon -o name)" ] ||
	die "render's objects are still there"

# The generated objects as the API server's watches show them. Listing
# thousands of objects every quarter second (as this did before) loaded the
# API server while the controller's writes were timed, and T_api has no
# such load; a watch costs it next to nothing.
for kind in servicemonitors services; do
	kubectl get "$kind" -A -l app.kubernetes.io/managed-by=infermon --watch -o name \
		>"$WORK/$kind.watch" 2>"$WORK/$kind.watch.err" &
	CLEANUP_PIDS="$CLEANUP_PIDS $!"
done
mp=$(free_port)
log "starting the controller"
t=$(now)
massif=()
loglevel=info
[ -z "${SCALE_LOG:-}" ] || loglevel=debug
[ -z "${SCALE_MASSIF:-}" ] ||
	massif=(valgrind --tool=massif --massif-out-file="$WORK/massif.out" --detailed-freq=4 --max-snapshots=200)
"${massif[@]}" "$bin" run --leader-elect=false --metrics-secure=false --log-level "$loglevel" --metrics-bind-address "127.0.0.1:$mp" >"$WORK/infermon.log" 2>&1 &
ipid=$!
CLEANUP_PIDS="$CLEANUP_PIDS $ipid"
if [ -n "${SCALE_PROFILE:-}" ]; then
	perf record -F 499 -g -p "$ipid" -o "$WORK/perf-startup.data" >/dev/null 2>&1 &
	perf_start=$!
fi
metric() { # NAME [LABELS]: a sample's value from the controller's /metrics
	# awk reads the whole page: an early exit would fail curl (pipefail)
	local series=$1
	[ -z "${2:-}" ] || series="$1{$2}"
	curl -sf "http://127.0.0.1:$mp/metrics" | S=$series awk '$1 == ENVIRON["S"] && v == "" { v = $2 } END { print v }'
}
# monitored PREFIX FIRST COUNT: ServiceMonitors and Services exist for each
# of those workloads, and the scrape Secret lists each
monitored() {
	local want=$3 sm svc sec
	sm=$(grep -- "/infermon-$1-" "$WORK/servicemonitors.watch" | sort -u | wc -l || true)
	svc=$(grep -- "/infermon-$1-" "$WORK/services.watch" | sort -u | wc -l || true)
	[ "$sm" -ge "$want" ] && [ "$svc" -ge "$want" ] || return 1
	sec=$(kubectl -n monitoring get secret infermon-scrape-configs -o jsonpath='{.data.scrape-configs\.yaml}' 2>/dev/null |
		base64 -d | grep -o ";$1-[0-9]*;" | sort -u | wc -l)
	[ "$sec" -ge "$want" ]
}
wait_for 600 monitored wl 0 "$workloads" || die "the controller never converged: $(tail -5 "$WORK/infermon.log")"
t_conv=$(since "$t")
conv_cpu=$(div "$(cpu_ticks "$ipid")" "$hz" %.1f) # its CPU seconds from its start
if [ -n "${SCALE_PROFILE:-}" ]; then
	kill -INT "$perf_start" && wait "$perf_start" || true
	perf report -i "$WORK/perf-startup.data" --stdio --no-children --percent-limit 1 \
		--sort symbol 2>/dev/null | grep -v '^$' > "$SCALE_PROFILE.startup"
	log "profile of the start-up: $SCALE_PROFILE.startup"
fi

# scraped COUNT PREFIX: the controller scrapes COUNT targets and PREFIX's
# pods are all up
scraped() {
	local page
	page=$(curl -sf "http://127.0.0.1:$mp/metrics") || return 1
	[ "$(awk '$1 == "infermon_scrape_targets" { print $2 }' <<<"$page")" = "$1" ] || return 1
	[ "$(grep -c "^infermon_scrape_up{.*pod=\"$2-.*} 1\$" <<<"$page")" -ge "$3" ]
}
log "waiting for every engine to be scraped, then two intervals"
wait_for 300 scraped "$pods" wl "$pods" || die "not every pod was scraped"
sleep $((2 * interval))
writes0=$(metric infermon_api_requests_total 'verb="write"')
scrapes0=$(metric infermon_scrapes_total)
late0=$(metric infermon_scrapes_late_total)
# the controller's own page is built when read: read it as a Prometheus at
# 15 s would (the shipped ServiceMonitor reads it every 30 s), so its cost
# is in the window; asking for gzip, as Prometheus does (the page is kept
# gzipped: a client that does not take gzip costs an inflate on top)
(while :; do curl -sf --compressed -o /dev/null "http://127.0.0.1:$mp/metrics" || true; sleep 15; done) &
reader=$!
CLEANUP_PIDS="$CLEANUP_PIDS $reader"
cpu0=$(cpu_ticks "$ipid")
log "steady window of $window s (its /metrics read every 15 s)"
if [ -n "${SCALE_PROFILE:-}" ]; then
	# where the controller's CPU goes in the window (perf adds a little)
	perf record -F 499 -g -p "$ipid" -o "$WORK/perf.data" -- sleep "$window" >/dev/null 2>&1
	perf report -i "$WORK/perf.data" --stdio --no-children --percent-limit 1 \
		--sort symbol 2>/dev/null | grep -v '^$' > "$SCALE_PROFILE"
	log "profile: $SCALE_PROFILE"
else
	sleep "$window"
fi
writes1=$(metric infermon_api_requests_total 'verb="write"')
scrapes1=$(metric infermon_scrapes_total)
late1=$(metric infermon_scrapes_late_total)
cpu1=$(cpu_ticks "$ipid")
kill "$reader" 2>/dev/null || true
rss=$(status_kb "$ipid" VmRSS)
hwm=$(status_kb "$ipid" VmHWM)
page_bytes=$(curl -sf "http://127.0.0.1:$mp/metrics" | wc -c)
events=$(metric infermon_events_total 'outcome="posted"')
dropped=$(metric infermon_events_total 'outcome="dropped"')
scrape_rate=$(div "$((scrapes1 - scrapes0))" "$window" %.1f)
need_rate=$(div "$pods" "$interval" %.1f)
ms_ours=$(div "$(((cpu1 - cpu0) * 1000))" "$((hz * (scrapes1 - scrapes0)))" %.3f)
if [ -n "${SCALE_MASSIF:-}" ]; then
	kill -TERM "$ipid"
	wait "$ipid" && rc=0 || rc=$?
	{
		echo "# $pods pods / $workloads workloads, scrapes $scrape_rate/s of $need_rate/s needed under valgrind;"
		echo "# RSS at the window's end $(mib "$rss") (VmHWM $(mib "$hwm")), valgrind's own included; exit $rc"
		ms_print "$WORK/massif.out"
	} > "$SCALE_MASSIF"
	log "massif profile: $SCALE_MASSIF"
	exit 0
fi

log "churn: $churn pods replaced under new workload names, 3 times"
churn_rows=()
cw=$((churn / per))
for r in 1 2 3; do
	first=$(((r - 1) * cw))
	spec_for wl "$first" "$cw" > "$WORK/old.spec"
	[ "$r" = 1 ] || spec_for "r$((r - 1))" "$((first - cw))" "$cw" > "$WORK/old.spec"
	spec_for "r$r" "$first" "$cw" > "$WORK/new.spec"
	t=$(now)
	d=$(python3 hack/tools/scale_pods.py delete "$state" "$WORK/old.spec")
	c=$(python3 hack/tools/scale_pods.py create "$state" "$WORK/new.spec")
	wait_for 600 monitored "r$r" "$first" "$cw" || die "churn round $r never converged"
	conv=$(since "$t")
	# a new target's first scrape comes at a random phase within the
	# interval, as in Prometheus
	wait_for 300 scraped "$pods" "r$r" "$churn" || die "churn round $r: new pods not scraped"
	first_scrape=$(since "$t")
	api=$(awk -v a="$(sed -n 's/.*seconds=\([0-9.]*\).*/\1/p' <<<"$d")" \
		-v b="$(sed -n 's/.*seconds=\([0-9.]*\).*/\1/p' <<<"$c")" 'BEGIN { printf "%.1f", a + b }')
	churn_rows+=("$r $conv $api $(status_kb "$ipid" VmRSS) $first_scrape")
done
# the first round replaced wl-0.., the next ones r1-.., r2-..: the last
# round's old set was r2's; the controller must still hold exactly PODS
restarts=0
kill -0 "$ipid" 2>/dev/null || restarts=1
kill -TERM "$ipid"
wait "$ipid" && rc=0 || rc=$?

log "Prometheus alone on the same $pods targets, $interval s interval"
python3 - "$WORK/pods.spec" "$WORK/prometheus.yml" "$interval" <<'PY'
import sys, yaml
groups = []
for line in open(sys.argv[1]):
    ns, name, wl, port = line.split()
    groups.append({"targets": ["127.0.0.1:%s" % port],
                   "labels": {"namespace": ns, "pod": name, "workload_name": wl}})
cfg = {"global": {"scrape_interval": "%ss" % sys.argv[3], "scrape_timeout": "10s"},
       "scrape_configs": [{"job_name": "engines", "static_configs": groups}]}
yaml.safe_dump(cfg, open(sys.argv[2], "w"))
PY
pp=$(free_port)
"$prom" --config.file="$WORK/prometheus.yml" --storage.tsdb.path="$WORK/tsdb" \
	--web.listen-address="127.0.0.1:$pp" >"$WORK/prom.log" 2>&1 &
ppid=$!
CLEANUP_PIDS="$CLEANUP_PIDS $ppid"
prom_up() {
	[ "$(curl -sf "http://127.0.0.1:$pp/api/v1/query?query=count(up%3D%3D1)" |
		python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else 0)')" = "$pods" ]
}
wait_for 300 prom_up || die "Prometheus never had all $pods targets up: $(tail -3 "$WORK/prom.log")"
sleep "$interval"
prom_scrapes() {
	curl -sf "http://127.0.0.1:$pp/metrics" |
		awk '$1 ~ /^prometheus_target_interval_length_seconds_count/ { s += $2 } END { printf "%d", s }'
}
ps0=$(prom_scrapes)
pc0=$(cpu_ticks "$ppid")
sleep "$window"
ps1=$(prom_scrapes)
pc1=$(cpu_ticks "$ppid")
prss=$(status_kb "$ppid" VmRSS)
kill -TERM "$ppid"
wait "$ppid" || true
ms_prom=$(div "$(((pc1 - pc0) * 1000))" "$((hz * (ps1 - ps0)))" %.3f)
prom_rate=$(div "$((ps1 - ps0))" "$window" %.1f)

echo
echo "## infermon at $pods pods / $workloads workloads ($(date -u +%Y-%m-%d), $(nproc) cores)"
echo
echo "| figure | measured | peer in the same run | ratio |"
echo "|---|---|---|---|"
printf '| pod writes | %s writes/s | | |\n' "$(div "$pod_writes" "$pod_secs" %.0f)"
printf '| objects in place (%s objects) | T_conv %s s (controller CPU meanwhile %s s) | T_api %s s (apply --server-side) | %s |\n' \
	"$objects" "$t_conv" "$conv_cpu" "$t_api" "$(div "$t_conv" "$t_api" %.2fx)"
printf '| scrapes completed, %s s window | %s/s (late: %s) | needed %s/s; Prometheus %s/s | %s of needed |\n' \
	"$window" "$scrape_rate" "$((late1 - late0))" "$need_rate" "$prom_rate" "$(div "$((100 * (scrapes1 - scrapes0)))" "$((pods * window / interval))" %.0f%%)"
printf '| CPU per completed scrape | %s ms | Prometheus %s ms | %s |\n' "$ms_ours" "$ms_prom" "$(div "$ms_ours" "$ms_prom" %.2fx)"
printf '| RSS | %s (VmHWM %s) | Prometheus %s | |\n' "$(mib "$rss")" "$(mib "$hwm")" "$(mib "$prss")"
printf '| writes at start-up | %s (%s objects + Events; %s Events posted, %s dropped) | | |\n' \
	"$writes0" "$objects" "${events:-0}" "${dropped:-0}"
printf '| writes in the idle %s s | %s | | |\n' "$window" "$((writes1 - writes0))"
printf '| own /metrics | %s bytes | | |\n' "$page_bytes"
for row in "${churn_rows[@]}"; do
	set -- $row
	printf '| churn round %s: %s pods replaced | objects in place %s s, every new pod scraped %s s | API server %s s for the writes | RSS after %s |\n' \
		"$1" "$churn" "$2" "$5" "$3" "$(mib "$4")"
done
printf '| controller exit | %s (restarts %s) | | |\n' "$rc" "$restarts"
[ "$rc" = 0 ] || die "the controller exited $rc: $(tail -5 "$WORK/infermon.log")"
