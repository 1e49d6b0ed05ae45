#!/usr/bin/env bash
# Configures and builds the trees hack/test.sh runs its tests from; the one
# build step, shared with hack/fresh-machine.sh, so the two cannot drift.
#
#   build/release  -O3 -g, -Werror; valgrind runs its unit tests
#   build/fuzz     clang + libFuzzer + ASan/UBSan
#   build/tsan     the controller under ThreadSanitizer (it_tsan)
#   build/asan     ASan+UBSan; ctest runs from here and finds the others
#
# Each step's output goes to build/logs/<tree>-<step>.log; on failure the
# end of that log is printed and the script exits non-zero.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
. hack/lib.sh

jobs=$(nproc)
mkdir -p build/logs

# step TREE STEP COMMAND...: runs COMMAND with its output in the tree's log.
step() {
	local log=build/logs/$1-$2.log
	shift 2
	"$@" >"$log" 2>&1 && return 0
	tail -n 60 "$log" >&2
	die "$* failed (whole output: $root/$log)"
}

# Release optimisation (-O3) with symbols for valgrind: -O3's inlining finds
# format-truncation warnings that -O2 does not
step release configure cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release \
	-DCMAKE_C_FLAGS_RELEASE='-O3 -g -DNDEBUG' -DINFERMON_INTEGRATION=OFF
step release build cmake --build build/release -j"$jobs"
step fuzz configure cmake -S . -B build/fuzz -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	-DINFERMON_FUZZ=ON -DINFERMON_INTEGRATION=OFF \
	-DCMAKE_C_FLAGS='-fsanitize=fuzzer-no-link,address,undefined'
step fuzz build cmake --build build/fuzz -j"$jobs"
# ThreadSanitizer: only the controller, run once against the cluster (it_tsan)
step tsan configure cmake -S . -B build/tsan -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	-DINFERMON_SANITIZE_THREAD=ON -DINFERMON_INTEGRATION=OFF
step tsan build cmake --build build/tsan -j"$jobs" --target infermon
# INFERMON_ALL_TESTS: every test is registered here and runs; a missing
# prerequisite (another tree, valgrind, the reference parser) fails this step
step asan configure cmake -S . -B build/asan -DCMAKE_BUILD_TYPE=Debug -DINFERMON_SANITIZE=ON -DINFERMON_ALL_TESTS=ON \
	-DINFERMON_FUZZ_BIN_DIR="$root/build/fuzz" -DINFERMON_RELEASE_DIR="$root/build/release" \
	-DINFERMON_TSAN_DIR="$root/build/tsan"
step asan build cmake --build build/asan -j"$jobs"
