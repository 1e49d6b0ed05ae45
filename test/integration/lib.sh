# Helpers for it_*.sh tests. Each test is a function test_<name>; the script
# runs the one named by its first argument. Fail with `fail MESSAGE`.

. "$(dirname "${BASH_SOURCE[0]}")/../../hack/lib.sh"

fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "ok: $*"; }

# start_infermon LOG ARGS...: runs `infermon ARGS` in the background, logging
# to LOG; sets INFERMON_PID.
start_infermon() {
	local log=$1; shift
	"$INFERMON_BIN" "$@" >"$log" 2>&1 &
	INFERMON_PID=$!
	INFERMON_LOG=$log
	# a failing test exits early: the EXIT trap must stop it too
	CLEANUP_PIDS="${CLEANUP_PIDS:-} $INFERMON_PID"
}

# stop_infermon: SIGTERM, and fail unless it exits 0 within 5 s.
stop_infermon() {
	local i
	kill -TERM "$INFERMON_PID" 2>/dev/null || true
	for i in $(seq 1 50); do
		kill -0 "$INFERMON_PID" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$INFERMON_PID" 2>/dev/null; then
		kill -9 "$INFERMON_PID"
		fail "infermon did not stop within 5 s of SIGTERM"
	fi
	local rc=0
	wait "$INFERMON_PID" || rc=$?
	[ $rc -eq 0 ] || fail "infermon exited $rc after SIGTERM: $(tail -60 "$INFERMON_LOG")"
}

run_test() {
	local name=$1
	declare -F "test_$name" >/dev/null || fail "no test named $name"
	WORK=$(mktemp -d)
	trap 'cleanup_pids; rm -rf "$WORK"' EXIT
	"test_$name"
	pass "$name"
}

cleanup_pids() {
	local p
	for p in ${CLEANUP_PIDS:-}; do kill "$p" 2>/dev/null || true; done
	pkill -P $$ curl 2>/dev/null || true
}
