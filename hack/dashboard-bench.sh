#!/usr/bin/env bash
# Times every query of the dashboard (dashboards/llm-inference.json) on a
# real Prometheus holding a fleet's worth of data, before and after the
# dashboard's recording rules (deploy/prometheus/dashboard_rules.yaml).
#
#   hack/dashboard-bench.sh [PODS] [HOURS]        (default 5000 pods, 6 hours)
#
# 1. hack/tools/backfill (fleet-backfill, Prometheus' tsdb package) writes
#    TSDB blocks of PODS synthetic engine pods (vLLM, vLLM and SGLang
#    prefill/decode pairs), infermon's own series and dcgm-exporter's, with
#    the labels Prometheus stores after infermon's relabeling, one sample per
#    30 s (the shipped ServiceMonitor's interval), ending now.
# 2. Prometheus (hack/tools/build.sh prometheus) serves that TSDB on a free
#    loopback port; every dashboard query runs through /api/v1/query_range
#    over the last HOURS at a 30 s step (what Grafana picks for 6 h on a
#    ~700-pixel panel), $__rate_interval = 2m (4 x the scrape interval), all
#    variables ".*" (fleet-wide: the worst case), best of BENCH_RUNS runs
#    (3), next to Prometheus' own evaluation time.
# 3. promtool tsdb create-blocks-from rules evaluates the recording rules
#    over the same range through that Prometheus; the blocks join the TSDB,
#    Prometheus restarts, and the queries run again with the hidden `rules`
#    variable 1 (rules installed: the raw side of each fallback selects
#    nothing) and empty (what a plain `recorded or raw` would cost).
#
# BENCH_NAIVE=0 leaves out the third pass (the naive `or`, nearly as long as
# "before"), which measures PromQL's `or`, not the rules.
#
# BENCH_BEFORE=0 leaves out the "before" pass (the raw queries without
# rules; the table then has no rows, after.json holds the "after" pass).
#
# BENCH_OUT=DIR keeps each pass's results (before.json, after.json,
# naive-or.json, as hack/tools/dashboard_bench.py writes them) in DIR as the
# pass ends, so a run stopped later still leaves the passes it finished.
#
# BENCH_BLOCKS=DIR takes the blocks of an earlier `fleet-backfill -out DIR`
# (hard-linked; the range ends at their last sample) instead of writing new
# ones. Prometheus keeps the 2 h blocks as they are (no compaction while
# timing). The rule backfill's own Prometheus allows 500 M samples a query:
# it evaluates each rule over 2 h at once, where a live rule evaluates one
# instant; the timed one keeps the default 50 M, which a user meets.
#
# Everything runs under a mktemp dir (GBs at full size) removed at exit, and
# every process started here is stopped. This prints numbers; nothing here
# asserts on time. docs/dashboard.md has the method and the results.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
. hack/lib.sh

pods=${1:-5000}
if [ -n "${BENCH_OUT:-}" ]; then mkdir -p "$BENCH_OUT"; fi
hours=${2:-6}
runs=${BENCH_RUNS:-3}
step=30
rate_interval=2m

hack/tools/build.sh prometheus backfill
bin=$(infermon_cache)/bin
for b in prometheus promtool fleet-backfill; do
	[ -x "$bin/$b" ] || die "hack/tools/build.sh did not produce $bin/$b"
done

tmp=$(mktemp -d)
prom_pid=
stop_prometheus() {
	if [ -n "$prom_pid" ]; then
		kill "$prom_pid" 2>/dev/null || true
		wait "$prom_pid" 2>/dev/null || true
		prom_pid=
	fi
}
cleanup() { stop_prometheus; rm -rf "$tmp"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# seconds since $1 (date +%s.%N)
since() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }

end=$(($(date +%s) / step * step))
range=$(awk -v h="$hours" 'BEGIN { printf "%d", h * 3600 }')
mkdir -p "$tmp/data"

if [ -n "${BENCH_BLOCKS:-}" ]; then
	cp -al "$BENCH_BLOCKS"/* "$tmp/data/"
	# the newest block's maxTime is its last sample + 1 ms
	end=$(python3 -c 'import glob, json, sys
print(max(json.load(open(m))["maxTime"] for m in glob.glob(sys.argv[1] + "/*/meta.json")) // 1000)' "$tmp/data")
	read -r series samples < <(python3 -c 'import glob, json, sys
ms = [json.load(open(m))["stats"] for m in glob.glob(sys.argv[1] + "/*/meta.json")]
print(max(m["numSeries"] for m in ms), sum(m["numSamples"] for m in ms))' "$tmp/data")
	gen_s="(reused from $BENCH_BLOCKS)"
else
	log "writing $pods pods x $hours h at ${step}s into $tmp/data"
	t0=$(date +%s.%N)
	TMPDIR=$tmp nice -n 10 "$bin/fleet-backfill" -out "$tmp/data" -pods "$pods" -hours "$hours" \
		-step "${step}s" -end "$end" 2>"$tmp/backfill.log" || { cat "$tmp/backfill.log" >&2; die "fleet-backfill failed"; }
	gen_s=$(since "$t0")s
	series=$(sed -n 's/.* pods, \([0-9]*\) series.*/\1/p' "$tmp/backfill.log")
	samples=$(sed -n 's/.*: \([0-9]*\) samples written.*/\1/p' "$tmp/backfill.log")
fi
gen_size=$(du -sh "$tmp/data" | cut -f1)
log "$series series, $samples samples, $gen_size on disk, $gen_s"

port=$(free_port)
url=http://127.0.0.1:$port
printf 'global:\n  scrape_interval: %ss\n' "$step" >"$tmp/prometheus.yml"
start_prometheus() { # [FLAG...]
	"$bin/prometheus" --config.file="$tmp/prometheus.yml" --storage.tsdb.path="$tmp/data" \
		--storage.tsdb.retention.time=30d --web.listen-address="127.0.0.1:$port" \
		--storage.tsdb.min-block-duration=2h --storage.tsdb.max-block-duration=2h "$@" \
		>"$tmp/prometheus.log" 2>&1 &
	prom_pid=$!
	local i
	for i in $(seq 600); do
		if curl -fsS "$url/-/ready" >/dev/null 2>&1; then return 0; fi
		kill -0 "$prom_pid" 2>/dev/null || { cat "$tmp/prometheus.log" >&2; die "prometheus exited"; }
		sleep 0.5
	done
	die "prometheus not ready after 300 s"
}

bench() { # NAME RULES [guarded]
	log "timing the dashboard's queries ($1)"
	python3 hack/tools/dashboard_bench.py "$url" "$end" "$range" "$step" "$rate_interval" \
		"$runs" "$2" "$tmp/$1.json" "${3:-}" >&2
	if [ -n "${BENCH_OUT:-}" ]; then cp "$tmp/$1.json" "$BENCH_OUT/"; fi
}

start_prometheus
if [ "${BENCH_BEFORE:-1}" = 1 ]; then
	bench before ""
else
	echo '[]' >"$tmp/before.json"
fi

# Recording rules: the PrometheusRule's spec is a Prometheus rule file.
python3 - deploy/prometheus/dashboard_rules.yaml "$tmp/rules.yml" <<'PY'
import json, sys, yaml
with open(sys.argv[1]) as f:
    spec = yaml.safe_load(f)["spec"]
with open(sys.argv[2], "w") as f:
    json.dump(spec, f)
PY
nrules=$(python3 -c 'import json,sys; print(sum(len(g["rules"]) for g in json.load(open(sys.argv[1]))["groups"]))' "$tmp/rules.yml")
log "backfilling $nrules recording rules over the same range (promtool tsdb create-blocks-from rules)"
stop_prometheus
start_prometheus --query.max-samples=500000000
t0=$(date +%s.%N)
(cd "$tmp" && nice -n 10 "$bin/promtool" tsdb create-blocks-from rules --url "$url" \
	--start "$((end - range))" --end "$end" --eval-interval "${step}s" \
	--output-dir "$tmp/rule-blocks" "$tmp/rules.yml" >"$tmp/rules.log" 2>&1) ||
	{ cat "$tmp/rules.log" >&2; die "promtool tsdb create-blocks-from rules failed"; }
rules_s=$(since "$t0")
rules_size=$(du -sh "$tmp/rule-blocks" | cut -f1)
stop_prometheus
mv "$tmp"/rule-blocks/* "$tmp/data/"
start_prometheus
bench after 1
if [ "${BENCH_NAIVE:-1}" = 1 ]; then
	bench naive-or "" guarded
else
	echo '[]' >"$tmp/naive-or.json"
fi
stop_prometheus

printf '\ndashboard queries: %s pods (%s series), %s h at %ss, step %ss, $__rate_interval %s, all variables ".*"\n' \
	"$pods" "$series" "$hours" "$step" "$step" "$rate_interval"
printf 'data: %s samples written in %s, %s on disk; %s recording rules backfilled in %ss, %s\n' \
	"$samples" "$gen_s" "$gen_size" "$nrules" "$rules_s" "$rules_size"
printf 'wall: best of %s, the whole response read; eval: Prometheus evalTotalTime of that run\n' "$runs"
printf 'before: no rules (raw queries); after: rules installed (rules=1, the raw side selects nothing);\n'
printf 'naive or: rules installed but the raw side not guarded (rules empty): what `recorded or raw` costs\n'
printf 'rec: the answer came from the recording; answer vs before: as many points (bar the first two steps,\n'
printf 'which the backfilled rules lack) and "yes" when the sum of the values is within 1e-6 of\n'
printf 'before, else their relative difference\n\n'
python3 - "$tmp/before.json" "$tmp/after.json" "$tmp/naive-or.json" <<'PY'
import json, sys
b, a, n = (json.load(open(p)) for p in sys.argv[1:4])
naive = {(r["title"], r["refId"]): r for r in n}
print("| panel | ref | before s (eval s) | series | after s (eval s) | series | answer vs before | naive `or` s |")
print("|---|---|---|---|---|---|---|---|")
def cell(r):
    if r is None:
        return "-"
    if r["error"]:
        return "error: %s" % r["error"][:60]
    return "%.3f (%s)%s" % (r["wall"], "%.3f" % r["eval"] if r["eval"] is not None else "-",
                            " 1x" if r.get("once") else "")
def same(x, y):
    """points returned, and the sum of the values, after vs before"""
    if x["error"] or y["error"]:
        return "-"
    if x["points"] != y["points"]:
        return "%d vs %d points" % (y["points"], x["points"])
    d = abs(y["sum"] - x["sum"]) / max(abs(x["sum"]), 1e-300)
    return "yes" if d < 1e-6 else "sum %+.2g%%" % (100 * (y["sum"] - x["sum"]) / max(abs(x["sum"]), 1e-300))
for x, y in zip(b, a):
    print("| %s | %s | %s | %d | %s | %d | %s | %s |" % (
        x["title"], x["refId"], cell(x), x["series"], cell(y) + (" rec" if y["fallback"] else ""),
        y["series"], same(x, y), cell(naive.get((x["title"], x["refId"])))))
print("\ntotal wall: before %.1f s, after %.1f s; the %d queries with a fallback: before %.1f s, after %.1f s, naive or %.1f s" % (
    sum(r["wall"] for r in b), sum(r["wall"] for r in a), sum(1 for r in b if r["fallback"]),
    sum(r["wall"] for r in b if r["fallback"]), sum(r["wall"] for r in a if r["fallback"]),
    sum(r["wall"] for r in n)))
print("queries over 1 s: before %d, after %d" % (sum(r["wall"] > 1 for r in b), sum(r["wall"] > 1 for r in a)))
PY
