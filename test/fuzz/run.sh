#!/usr/bin/env bash
# Runs one libFuzzer target for a bounded time on a scratch copy of its seed
# corpus (the checked-in corpus is never written to), with the target's
# dictionary when it has one (test/fuzz/dict/<name>.dict).
#   run.sh FUZZ_BINARY CORPUS_DIR SECONDS [DICT]
set -euo pipefail
bin=$1 corpus=$2 secs=$3 dict=${4:-}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/corpus"
[ -d "$corpus" ] && cp -r "$corpus"/. "$work/corpus/"
dictarg=()
if [ -n "$dict" ]; then
	[ -f "$dict" ] || { echo "run.sh: no dictionary $dict" >&2; exit 1; }
	dictarg=(-dict="$(cd "$(dirname "$dict")" && pwd)/$(basename "$dict")")
fi
# a crash's reproducer outlives the scratch dir: next to the binary, in
# artifacts/, named by libFuzzer (crash-<sha1>, timeout-..., oom-...)
art=$(cd "$(dirname "$bin")" && pwd)/artifacts
mkdir -p "$art"
cd "$work"
rc=0
"$bin" "${dictarg[@]}" -max_total_time="$secs" -max_len=65536 -rss_limit_mb=2048 -timeout=10 \
	-artifact_prefix="$art/$(basename "$bin")-" -print_final_stats=1 "$work/corpus" > "$work/log" 2>&1 || rc=$?
if [ $rc -eq 0 ]; then
	tail -n 20 "$work/log"
else
	# the whole report: the top of the stack is what names the bug
	grep -v -E '^#[0-9]+[[:space:]]+(NEW|REDUCE|pulse|INITED|RELOAD)' "$work/log"
	echo "run.sh: $(basename "$bin") failed ($rc); reproducer in $art (run the binary on it)"
fi
exit $rc
