#!/usr/bin/env bash
# A soak outside CI: the churn of test/integration/it_churn.sh (15 of 40 pods
# replaced under new workload names, 5 moved, 3 NotReady and back, per
# round, with scrapes in flight) on the Release build, round after round for
# SECONDS (default 3600), on a local control plane of its own. Prints RSS
# and API writes per round; fails if the controller dies, drops an Event or
# does not exit cleanly.
#
#   hack/soak.sh [SECONDS]
#   SOAK_BIN=build/asan/infermon hack/soak.sh 900    another build (ASan+UBSan:
#                                                    a report ends the run)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
. hack/lib.sh

secs=${1:-3600}
if [ -n "${SOAK_BIN:-}" ]; then
	[ -x "$SOAK_BIN" ] || die "SOAK_BIN $SOAK_BIN is not an executable"
	INFERMON_BIN=$(cd "$(dirname "$SOAK_BIN")" && pwd)/$(basename "$SOAK_BIN")
	export INFERMON_BIN
else
	cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_FLAGS_RELEASE='-O3 -g -DNDEBUG' \
		-DINFERMON_INTEGRATION=OFF >/dev/null
	cmake --build build/release -j"$(nproc)" --target infermon >/dev/null
	export INFERMON_BIN=$root/build/release/infermon
fi
export INFERMON_CLUSTER_DIR=$(infermon_cache)/soak-cluster
export CHURN_SECONDS=$secs CHURN_ROUNDS=1
hack/local-cluster.sh up
trap 'hack/local-cluster.sh down' EXIT
log "churning for $secs s"
test/integration/with-cluster.sh bash test/integration/it_churn.sh pods_replaced_while_scrapes_are_in_flight
