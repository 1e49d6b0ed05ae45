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
cd "$work"
"$bin" "${dictarg[@]}" -max_total_time="$secs" -max_len=65536 -rss_limit_mb=2048 -timeout=10 \
	-print_final_stats=1 "$work/corpus" 2>&1 | tail -n 20
