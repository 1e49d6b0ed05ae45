#!/usr/bin/env bash
# The long fuzzing regime, next to the 20 s runs ctest makes of every target
# (test/fuzz/run.sh). Builds the fuzz tree (build/fuzz, as hack/test.sh
# does), then runs each libFuzzer target for SECONDS in turn, one process at
# a time, with its dictionary (test/fuzz/dict/<target>.dict).
#
#   hack/fuzz.sh [-t TARGET]... [-m] [SECONDS]     (default 600 s a target)
#
#   -t TARGET  run only this target (render, yamljson, ...); repeatable
#   -m         after the runs, merge each grown corpus back into the
#              checked-in seeds, test/fuzz/corpus/<target>: libFuzzer's
#              -merge=1 adds only the inputs that reach new coverage, so
#              the seeds stay minimal and the hand-written ones stay
#   -M         merge only (no fuzzing)
#
# The corpus each target grows lives in the project cache,
# $(infermon_cache)/fuzz/<target> (~/.cache/infermon/fuzz/<target>), and is
# kept from run to run; the checked-in seeds are read, never written, while
# fuzzing. The first crash, leak, timeout or out-of-memory stops the script:
# the reproducer is saved under $(infermon_cache)/fuzz/crashes/<target>/ and
# its path printed, with the command that replays it. Logs are in
# $(infermon_cache)/fuzz/logs/. Exit status: 0 clean, 1 a target failed,
# 2 usage.
#
# INFERMON_FUZZ_TIMEOUT (seconds, default 10 as in ctest) is the time one
# input may take before it counts as a hang. Raise it when the fuzzers run
# at low priority next to other work: a fuzzer starved of CPU for 10 s
# reports a timeout that replays in milliseconds.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
. hack/lib.sh

usage() { sed -n '7,14p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

targets=() merge=0 fuzz=1
while getopts "t:mMh" opt; do
	case $opt in
	t) targets+=("$OPTARG") ;;
	m) merge=1 ;;
	M) merge=1 fuzz=0 ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
[ $# -le 1 ] || usage
secs=${1:-600}
[[ $secs =~ ^[0-9]+$ ]] && [ "$secs" -gt 0 ] || die "SECONDS must be a positive whole number, not \"$secs\""

if [ ${#targets[@]} -eq 0 ]; then
	for src in test/fuzz/fuzz_*.c; do
		t=$(basename "$src" .c)
		targets+=("${t#fuzz_}")
	done
fi
for t in "${targets[@]}"; do
	[ -f "test/fuzz/fuzz_$t.c" ] || die "no fuzz target \"$t\" (test/fuzz/fuzz_$t.c)"
	[ -f "test/fuzz/dict/$t.dict" ] || die "fuzz target \"$t\" has no dictionary test/fuzz/dict/$t.dict"
done

ensure_debs "${INFERMON_BUILD_DEBS[@]}" clang libclang-rt-dev
bindir=${INFERMON_FUZZ_BUILD:-$root/build/fuzz}
log "building the fuzz tree in $bindir"
cmake -S . -B "$bindir" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	-DINFERMON_FUZZ=ON -DINFERMON_INTEGRATION=OFF \
	-DCMAKE_C_FLAGS='-fsanitize=fuzzer-no-link,address,undefined' >/dev/null
cmake --build "$bindir" -j"$(nproc)" >/dev/null

cache=$(infermon_cache)/fuzz
mkdir -p "$cache/logs"
count() { find "$1" -maxdepth 1 -type f 2>/dev/null | wc -l; }

# The same limits as the ctest runs (test/fuzz/run.sh)
timeout=${INFERMON_FUZZ_TIMEOUT:-10}
[[ $timeout =~ ^[0-9]+$ ]] && [ "$timeout" -gt 0 ] ||
	die "INFERMON_FUZZ_TIMEOUT must be a positive whole number of seconds, not \"$timeout\""
common=(-max_len=65536 -rss_limit_mb=2048 -timeout="$timeout")
summary=()
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

if [ $fuzz -eq 1 ]; then
	for t in "${targets[@]}"; do
		bin=$bindir/test/fuzz/fuzz_$t
		corpus=$cache/$t
		crashes=$cache/crashes/$t
		logf=$cache/logs/$t.log
		mkdir -p "$corpus" "$crashes"
		before=$(count "$corpus")
		log "fuzz_$t: $secs s, corpus $corpus ($before inputs) + test/fuzz/corpus/$t ($(count "test/fuzz/corpus/$t") seeds)"
		status=0
		"$bin" -dict="$root/test/fuzz/dict/$t.dict" -max_total_time="$secs" "${common[@]}" \
			-artifact_prefix="$crashes/" -print_final_stats=1 \
			"$corpus" "$root/test/fuzz/corpus/$t" >"$logf" 2>&1 || status=$?
		runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$logf" | tail -n 1)
		after=$(count "$corpus")
		if [ $status -ne 0 ]; then
			repro=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$logf" | tail -n 1)
			grep -E '^==[0-9]+==|^SUMMARY|ERROR|#[0-9]+ .* in [a-z_]+ /' "$logf" | head -n 20 >&2 || true
			log "fuzz_$t FAILED (exit $status) after ${runs:-?} runs; log $logf"
			if [ -n "$repro" ] && [ -f "$repro" ]; then
				echo "reproducer: $repro"
				echo "replay:     $bin $repro"
			else
				echo "no reproducer written; see $logf"
			fi
			exit 1
		fi
		summary+=("$(printf '%-12s %6s s %10s runs   corpus %5s -> %5s' "$t" "$secs" "${runs:-?}" "$before" "$after")")
		log "fuzz_$t clean: ${runs:-?} runs, corpus $before -> $after"
	done
fi

if [ $merge -eq 1 ]; then
	for t in "${targets[@]}"; do
		seeds=$root/test/fuzz/corpus/$t
		[ -d "$cache/$t" ] || { log "fuzz_$t: no grown corpus in $cache/$t to merge"; continue; }
		mkdir -p "$seeds"
		before=$(count "$seeds")
		"$bindir/test/fuzz/fuzz_$t" -merge=1 "${common[@]}" "$seeds" "$cache/$t" \
			>"$cache/logs/$t.merge.log" 2>&1 ||
			die "merging fuzz_$t failed; see $cache/logs/$t.merge.log"
		summary+=("$(printf '%-12s merged: test/fuzz/corpus/%s %5s -> %5s' "$t" "$t" "$before" "$(count "$seeds")")")
	done
fi

printf '%s\n' "${summary[@]}"
