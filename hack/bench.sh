#!/usr/bin/env bash
# Benchmarks the exposition parser (lib/promtext.c) against Prometheus' own
# Go parsers, measured in the same run on the same pages, and prints ratios:
#   - github.com/prometheus/common/expfmt TextParser
#   - github.com/prometheus/prometheus/model/textparse PromParser (the scrape
#     loop's parser), with and without Labels() per sample
# (versions: PROMETHEUS_COMMON_VERSION / PROMETHEUS_VERSION in
# hack/tools/versions.env, built by hack/tools/build.sh bench).
#
# Pages: a vLLM V1 engine page and an SGLang page as engines serve them
# (test/data/promtext/), and a ~20 MB vLLM fork page whose
# vllm:vllm_config_info sample carries three multi-megabyte label values
# (generated into a temp dir). Every parser gets the same protocol: one
# untimed parse, then BENCH_RUNS runs that each parse the page until
# BENCH_BUDGET seconds have passed (at least once); the median run counts.
#
#   hack/bench.sh               (BENCH_RUNS=5 BENCH_BUDGET=0.2 BENCH_HUGE_MB=20)
#
# This prints numbers; nothing here asserts on time.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
. hack/lib.sh
. hack/tools/versions.env

runs=${BENCH_RUNS:-5}
budget=${BENCH_BUDGET:-0.2}
huge_mb=${BENCH_HUGE_MB:-20}
raised=$((64 * 1024 * 1024))

gomod=hack/tools/bench/go.mod
grep -q "github.com/prometheus/common $PROMETHEUS_COMMON_VERSION\$" "$gomod" ||
	die "$gomod does not pin github.com/prometheus/common $PROMETHEUS_COMMON_VERSION (versions.env)"
grep -q "github.com/prometheus/prometheus $PROMETHEUS_VERSION\$" "$gomod" ||
	die "$gomod does not pin github.com/prometheus/prometheus $PROMETHEUS_VERSION (versions.env)"

hack/tools/build.sh bench
peer=$(infermon_cache)/bin/promparse-peer
[ -x "$peer" ] || die "hack/tools/build.sh bench did not produce $peer"

# -D__NO_INLINE__: lib/banned.h is force-included before the system headers,
# and its atoi() macro breaks glibc's extern-inline atoi at -O2. The flag
# only turns off glibc's extern inlines (atoi, bsearch, a few stdio/math
# helpers), none of which the parser uses. Drop it once banned.h is fixed.
log "building bench_promtext (Release) in build-bench/"
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DINFERMON_INTEGRATION=OFF \
	-DCMAKE_C_FLAGS=-D__NO_INLINE__ >/dev/null
cmake --build build-bench --target bench_promtext -j2 >/dev/null
ours=build-bench/test/bench_promtext

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$ours" -gen-huge "$tmp/vllm_fork_huge.txt" test/data/promtext/vllm_v1_dp.txt "$huge_mb"

# field NAME LINE: the value of NAME=... in a result line
field() { sed -n "s/.*[[:space:]]$1=\([^[:space:]]*\).*/\1/p" <<<"$2"; }
human() {
	awk -v b="$1" 'BEGIN {
		if (b >= 1e6) printf "%.1f MB", b / 1e6
		else if (b >= 1e3) printf "%.1f kB", b / 1e3
		else printf "%d B", b
	}'
}
# ratio A B: A / B as "N.NNx"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2fx", (b > 0) ? a / b : 0 }'; }

# row LABEL RESULT BASE [BASE2]: one table line; ratios are BASE's MB/s over this row's.
row() {
	local label=$1 r=$2 base=$3 base2=${4:-} err x1 x2='' how skipped
	err=$(sed -n 's/.* error="\(.*\)"$/\1/p' <<<"$r")
	if [ -n "$err" ]; then
		printf '  %-34s failed: %s\n' "$label" "$err"
		return
	fi
	x1=$(ratio "$(field mb_s "$base")" "$(field mb_s "$r")")
	[ -n "$base2" ] && x2=$(ratio "$(field mb_s "$base2")" "$(field mb_s "$r")")
	how="longest label value read: $(human "$(field longest_label "$r")")"
	skipped=$(field skipped "$r")
	if [ -n "$skipped" ] && [ "$skipped" != 0 ]; then
		how="skipped $skipped sample(s) over a cap; $how"
	fi
	printf '  %-34s %8s %10s %12s %11s %11s  %s\n' "$label" "$(field samples "$r")" \
		"$(field mb_s "$r")" "$(field samples_s "$r")" "$x1" "${x2:--}" "$how"
}

bench_page() {
	local title=$1 file=$2 huge=${3:-} c c2='' peer_out e t tn
	c=$("$ours" -runs "$runs" -budget "$budget" "$file")
	[ -n "$huge" ] && c2=$("$ours" -runs "$runs" -budget "$budget" -max-line $raised -max-label $raised "$file")
	peer_out=$("$peer" -runs "$runs" -budget "$budget" "$file")
	e=$(grep '^expfmt ' <<<"$peer_out")
	t=$(grep '^textparse ' <<<"$peer_out")
	tn=$(grep '^textparse-nolabels ' <<<"$peer_out")
	printf '\n%s: %s, %s\n' "$title" "${file#"$root"/}" "$(human "$(field bytes "$c")")"
	printf '  %-34s %8s %10s %12s %11s %11s  %s\n' parser samples MB/s samples/s \
		"promtext÷" "raised÷" "notes"
	row "promtext (C), default caps" "$c" "$c" "$c2"
	[ -n "$huge" ] && row "promtext (C), caps raised to 64MiB" "$c2" "$c" "$c2"
	row "expfmt TextParser (Go)" "$e" "$c" "$c2"
	row "textparse PromParser (Go)" "$t" "$c" "$c2"
	row "textparse, no Labels() (Go)" "$tn" "$c" "$c2"
}

printf 'exposition parsers: median of %s runs x %s s each; MB = 10^6 bytes\n' "$runs" "$budget"
printf 'prometheus/common %s, prometheus %s, %s\n' "$PROMETHEUS_COMMON_VERSION" "$PROMETHEUS_VERSION" \
	"$(go version | awk '{print $3}')"
printf 'promtext is fed 16 KiB chunks as libcurl delivers them; the Go parsers get the page as their\n'
printf 'callers do (textparse: the whole []byte, as the scrape loop; expfmt: an io.Reader).\n'
printf 'promtext÷: promtext (default caps) MB/s over the row; raised÷: promtext with caps raised so it\n'
printf 'parses the same samples as the Go parsers, over the row.\n'
bench_page "vLLM V1 engine page (DP=2)" "$root/test/data/promtext/vllm_v1_dp.txt"
bench_page "SGLang engine page (sglang_ prefix, DP ranks)" "$root/test/data/promtext/sglang_underscore.txt"
bench_page "vLLM fork page with a huge vllm:vllm_config_info" "$tmp/vllm_fork_huge.txt" huge
printf '\nOn the huge page promtext skips the info sample by design (its line exceeds the 1 MiB line\n'
printf 'cap, 64 KiB label cap): it counts it and discards bytes up to the newline without buffering\n'
printf 'them. The Go parsers have no such caps and read it whole; the "caps raised" row parses it too.\n'
