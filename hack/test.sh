#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test: unit tests, the
# integration tests on a real local control plane, bounded fuzz runs, and
# valgrind over a controller run. It ends with ctest's summary line.
#
#   hack/test.sh            everything
#   hack/test.sh -L unit    only tests with a ctest label (unit, integration, fuzz, valgrind)
#
# Build trees: build/release (the default -Werror build, also run under
# valgrind), build/fuzz (clang + libFuzzer), build/tsan (the controller under
# ThreadSanitizer, for it_tsan), build/asan (ASan+UBSan; ctest runs from
# here, so the suite passes under the sanitizers).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
. hack/lib.sh

install_debs test
command -v go >/dev/null || [ -x /usr/local/go/bin/go ] ||
	die "Go is needed to build the real control plane and simulator from the Go module proxy"
export PATH=$PATH:/usr/local/go/bin

t0=$SECONDS
log "building the real components (cached under $(infermon_cache)/bin)"
hack/tools/build.sh all
log "components ready in $((SECONDS - t0)) s"

hack/check-style.sh

jobs=$(nproc)
# Release optimisation (-O3) with symbols for valgrind: -O3's inlining finds
# format-truncation warnings that -O2 does not
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_FLAGS_RELEASE='-O3 -g -DNDEBUG' -DINFERMON_INTEGRATION=OFF >/dev/null
cmake --build build/release -j"$jobs" >/dev/null
cmake -S . -B build/fuzz -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	-DINFERMON_FUZZ=ON -DINFERMON_INTEGRATION=OFF \
	-DCMAKE_C_FLAGS='-fsanitize=fuzzer-no-link,address,undefined' >/dev/null
cmake --build build/fuzz -j"$jobs" >/dev/null
# ThreadSanitizer: only the controller, run once against the cluster (it_tsan)
cmake -S . -B build/tsan -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	-DINFERMON_SANITIZE_THREAD=ON -DINFERMON_INTEGRATION=OFF >/dev/null
cmake --build build/tsan -j"$jobs" --target infermon >/dev/null
cmake -S . -B build/asan -DCMAKE_BUILD_TYPE=Debug -DINFERMON_SANITIZE=ON \
	-DINFERMON_FUZZ_BIN_DIR="$root/build/fuzz" -DINFERMON_RELEASE_DIR="$root/build/release" \
	-DINFERMON_TSAN_DIR="$root/build/tsan" >/dev/null
cmake --build build/asan -j"$jobs" >/dev/null
log "built in $((SECONDS - t0)) s"

# Integration tests share one cluster (resource lock); unit and fuzz tests
# run beside them.
cd build/asan
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
exec ctest --output-on-failure -j2 "$@"
