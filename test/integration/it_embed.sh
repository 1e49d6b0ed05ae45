#!/usr/bin/env bash
# it: no cluster
# The build step that compiles the dashboard into infermon
# (cmake/embed_dashboard.cmake) refuses a dashboard that is not JSON or that
# would not fit a ConfigMap, and embeds the file byte for byte.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
EMBED=$ROOT/cmake/embed_dashboard.cmake
JSON=$ROOT/dashboards/llm-inference.json

embed() { # embed IN MAX: runs the step, output in $WORK/out.c, messages (one line) in $WORK/err
	local rc=0
	cmake -DIN="$1" -DOUT="$WORK/out.c" -DMAX="$2" -P "$EMBED" > "$WORK/err.raw" 2>&1 || rc=$?
	tr -s ' \n' ' ' < "$WORK/err.raw" > "$WORK/err"
	return $rc
}

test_oversized_or_broken_dashboard_fails_the_build() {
	local size
	size=$(wc -c < "$JSON")
	# the real limit: 1 MiB minus 64 KiB
	embed "$JSON" 983040 || fail "the dashboard was refused: $(cat "$WORK/err")"
	grep -q "render_dashboard_size = $size;" "$WORK/out.c" || fail "size not embedded"
	# one byte over the cap
	! embed "$JSON" "$size" || fail "a dashboard of $size bytes passed a cap of $size"
	grep -q "is $size bytes; a dashboard ConfigMap must stay below $size" "$WORK/err" || fail "unclear: $(cat "$WORK/err")"
	embed "$JSON" $((size + 1)) || fail "refused at one byte under the cap"
	# not JSON
	printf '{"panels": [' > "$WORK/bad.json"
	! embed "$WORK/bad.json" 983040 || fail "broken JSON embedded"
	grep -q "bad.json is not valid JSON" "$WORK/err" || fail "unclear: $(cat "$WORK/err")"
	[ ! -e "$WORK/out.c.tmp" ] || fail "a half-written source left behind"
}

# The generated source holds the file's bytes: compiled and compared.
test_embedded_bytes_are_the_file() {
	embed "$JSON" 983040 || fail "$(cat "$WORK/err")"
	cat > "$WORK/main.c" <<'C'
#include <stdio.h>
#include <string.h>
extern const unsigned char render_dashboard_data[];
extern const size_t render_dashboard_size;
int main(void)
{
	fwrite(render_dashboard_data, 1, render_dashboard_size, stdout);
	return render_dashboard_data[render_dashboard_size] != 0;
}
C
	cc -Wall -Wextra -Werror -o "$WORK/dump" "$WORK/main.c" "$WORK/out.c" || fail "the generated source does not compile"
	"$WORK/dump" > "$WORK/dumped.json" || fail "no terminating NUL"
	cmp "$WORK/dumped.json" "$JSON" || fail "embedded bytes differ from the file"
}

run_test "$1"
