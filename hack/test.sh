#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test: unit tests, the
# integration tests on a real local control plane, bounded fuzz runs, and
# valgrind over a controller run. It ends with ctest's summary line.
#
#   hack/test.sh            everything
#   hack/test.sh -L unit    only tests with a ctest label (unit, integration,
#                           fuzz, valgrind, fresh)
#
# Build trees (hack/build-trees.sh): build/release (the default -Werror
# build, also run under valgrind), build/fuzz (clang + libFuzzer), build/tsan
# (the controller under ThreadSanitizer, for it_tsan), build/asan (ASan+UBSan;
# ctest runs from here, so the suite passes under the sanitizers). The
# "fresh" test (hack/fresh-machine.sh) installs and builds the same in a bare
# Debian chroot, so a package missing from hack/lib.sh's lists fails here.
#
# Every test runs or fails: build/asan is configured with INFERMON_ALL_TESTS
# (a missing prerequisite fails the build step naming it), no test has a
# skip code, and a test ctest reports as not run (skipped, disabled) fails
# this script after the summary.
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

hack/build-trees.sh
log "built in $((SECONDS - t0)) s"

# Integration tests share one cluster (resource lock); unit and fuzz tests
# run beside them.
cd build/asan
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
rc=0
ctest --output-on-failure -j2 "$@" 2>&1 | tee "$root/build/logs/ctest.log" || rc=$?
if grep -q '^The following tests did not run:' "$root/build/logs/ctest.log"; then
	echo "error: the tests listed above did not run; every test must run or fail" >&2
	rc=1
fi
exit $rc
