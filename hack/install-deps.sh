#!/usr/bin/env bash
# Installs the Debian packages hack/demo.sh or hack/test.sh needs, and
# nothing else: the same step those scripts run first, callable alone (as
# hack/fresh-machine.sh does inside a bare chroot). Needs root or sudo.
#
#   hack/install-deps.sh demo    build + what the demo calls
#   hack/install-deps.sh test    the above + clang and its runtimes, valgrind, ...
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/hack/lib.sh"

[ $# -eq 1 ] || die "usage: hack/install-deps.sh demo|test"
install_debs "$1"
