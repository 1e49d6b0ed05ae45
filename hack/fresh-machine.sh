#!/usr/bin/env bash
# The fresh-machine check: hack/lib.sh's package lists are all a bare Debian
# bookworm needs to build infermon and run its scripts. It makes a minimal
# bookworm root file system (mmdebstrap --variant=minbase, from this host's
# own apt sources and settings; cached as a tarball under
# $(infermon_cache)/fresh-machine, one a month), copies the checkout's files
# into it (git ls-files: tracked and untracked, not build/ or other ignored
# files), and inside a chroot runs the project's own steps:
#
#   hack/install-deps.sh demo    then checks the commands hack/demo.sh calls
#   hack/install-deps.sh test    then checks the commands and Python modules
#                                the tests use
#   hack/build-trees.sh          release, fuzz, tsan and asan, as hack/test.sh
#
# No Go toolchain and no tests run inside. When a step fails for want of a
# file or a command, it names the Debian package that has it (asked of this
# host's dpkg), to be added to the lists.
#
# Needs root, or sudo without a password (mmdebstrap, mount, chroot). It
# fails, never skips, when it cannot run. ctest runs it as fresh.machine
# (label fresh).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/hack/lib.sh"

[ $# -eq 0 ] || die "usage: hack/fresh-machine.sh"
if [ "$(id -u)" -ne 0 ]; then
	command -v sudo >/dev/null && sudo -n true 2>/dev/null ||
		die "fresh-machine: needs root or sudo without a password (mmdebstrap, mount and chroot)"
	exec sudo -n env XDG_CACHE_HOME="$(dirname "$(infermon_cache)")" "$0"
fi

t0=$SECONDS
# shellcheck source=/dev/null
. /etc/os-release
[ "${VERSION_CODENAME:-}" = bookworm ] ||
	die "fresh-machine: makes a bookworm chroot from this host's apt sources; this host is ${PRETTY_NAME:-not Debian}"
git -C "$root" rev-parse --git-dir >/dev/null 2>&1 ||
	die "fresh-machine: copies the checkout with git ls-files; $root is not a git work tree"
for c in mmdebstrap chroot mount umount flock; do
	command -v "$c" >/dev/null && continue
	ensure_debs mmdebstrap
	command -v "$c" >/dev/null || die "fresh-machine: no $c on this host, and installing mmdebstrap did not bring it"
done

cache=$(infermon_cache)/fresh-machine
mkdir -p "$cache/archives/partial"
# One run at a time: the base tarball and the downloaded packages are shared.
exec 9>"$cache/lock"
flock -w 1500 9 || die "fresh-machine: another run has held $cache/lock for 25 minutes"

base=$(bookworm_base_tar) || die "fresh-machine: no bookworm root file system (output above)"

# The chroot lives in the cache dir, one at a time (the lock above).
work=$cache/run
sysroot=$work/root
# release_work: unmounts whatever is mounted under $work, deepest first, and
# removes it; never rm -rf across a mount (the package cache is bound in).
release_work() {
	unmount_under "$work" || { echo "fresh-machine: left $work there" >&2; return 1; }
	rm -rf "$work"
}
cleanup() {
	local rc=$?
	release_work || rc=1
	exit $rc
}
# A run killed outright (SIGKILL, a ctest timeout) left its chroot behind.
release_work || die "fresh-machine: cannot clear $work, left by an earlier run"
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

mkdir -p "$sysroot"
tar -xf "$base" -C "$sysroot"
mkdir "$sysroot/src"
git -C "$root" ls-files -z -co --exclude-standard |
	while IFS= read -r -d '' f; do [ -e "$root/$f" ] && printf '%s\0' "$f"; done |
	tar -C "$root" --null -T - -cf - | tar -xf - -C "$sysroot/src"
rm -f "$sysroot/etc/resolv.conf"
cp /etc/resolv.conf "$sysroot/etc/resolv.conf"
# bind DIR ARGS... : mounts into the chroot (cleanup unmounts it).
bind() {
	local dir=$sysroot$1
	shift
	mount "$@" "$dir" || die "fresh-machine: cannot mount $* on $dir"
}
bind /proc -t proc proc
bind /dev --bind /dev
bind /dev/pts --bind /dev/pts
bind /var/cache/apt/archives --bind "$cache/archives"
log "fresh-machine: bare bookworm ready in $((SECONDS - t0)) s; installing and building inside it"

# What runs inside. Commands are checked with command -v, Python modules by
# importing every top-level import of the tree's *.py files.
cat >"$sysroot/fresh-check.sh" <<'SH'
set -euo pipefail
cd /src
status=0
need_commands() {
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null || { echo "fresh-machine: missing command $c"; status=1; }
	done
}
s=$SECONDS
hack/install-deps.sh demo
# hack/demo.sh and hack/local-cluster.sh; demo.sh's Python needs yaml
need_commands cmake cc curl jq openssl python3 ss setsid flock base64
# the real node (hack/local-cluster.sh with INFERMON_CLUSTER_NODE=1, hack/images.sh)
need_commands buildah mmdebstrap containerd containerd-shim-runc-v2 runc ctr iptables conntrack nsenter ip
for f in ptp host-local portmap; do
	[ -x "/usr/lib/cni/$f" ] || { echo "fresh-machine: missing CNI plugin /usr/lib/cni/$f"; status=1; }
done
python3 -c 'import yaml' 2>/dev/null || { echo "fresh-machine: missing python module yaml"; status=1; }
hack/install-deps.sh test
# hack/test.sh, hack/check-style.sh and the tests' scripts
need_commands clang clang-format valgrind promtool git readelf ldd cmp pkill
mapfile -d '' pyfiles < <(find . -name '*.py' -not -path './build*' -print0)
python3 - "${pyfiles[@]}" <<'PY' || status=1
import ast, importlib, os, sys
bad = 0
# modules of the tree itself, imported next to them or through sys.path
# (test/dashboard/rulecheck.py imports dashboards/generate.py)
tree = {os.path.basename(p)[:-3] for p in sys.argv[1:]}
for path in sys.argv[1:]:
    for node in ast.walk(ast.parse(open(path).read())):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names = [node.module]
        else:
            continue
        for name in names:
            if name.split(".")[0] in tree:
                continue  # a module of the tree itself
            try:
                importlib.import_module(name)
            except ImportError:
                print("fresh-machine: missing python module %s (%s)" % (name, path))
                bad = 1
sys.exit(bad)
PY
[ $status -eq 0 ] || exit 1
echo "fresh-machine: installed in $((SECONDS - s)) s"
s=$SECONDS
hack/build-trees.sh
echo "fresh-machine: built release, fuzz, tsan and asan in $((SECONDS - s)) s"
SH

# owner PATH: the Debian package that has PATH on this host, if any.
owner() {
	local p=$1 o q
	for q in "$p" "$(readlink -f "$p" 2>/dev/null)" "${p#/usr}" "/usr$p"; do
		[ -n "$q" ] || continue
		o=$(dpkg -S "$q" 2>/dev/null | head -1) && [ -n "$o" ] && { echo "${o%%:*}"; return 0; }
	done
	return 1
}
# owner_glob PATTERN: the package that has a file matching */PATTERN.
owner_glob() {
	local o
	o=$(dpkg -S "*/$1" 2>/dev/null | head -1) && [ -n "$o" ] && echo "${o%%:*}"
}
owner_command() {
	local p
	p=$(PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin command -v "$1") && owner "$p"
}
owner_python() {
	local f
	f=$(/usr/bin/python3 -c 'import importlib.util, sys; print(importlib.util.find_spec(sys.argv[1]).origin)' "$1" 2>/dev/null) &&
		owner "$f"
}

# diagnose LOG: one line per thing the chroot lacked, with its package.
diagnose() {
	local log=$1 what pkg
	{
		sed -n 's/^fresh-machine: missing command \([^ ]*\).*/command \1/p' "$log"
		sed -n 's/^fresh-machine: missing python module \([^ ]*\).*/python \1/p' "$log"
		sed -n "s/.*Package '\\([^']*\\)', required by .*, not found.*/pc \\1.pc/p" "$log"
		sed -n 's/.*cannot find \(\/[^: ]*\).*/file \1/p' "$log"
		sed -n 's/.*cannot find -l\([^: ]*\).*/lib \1/p' "$log"
		sed -n 's/.*fatal error: \([^:]*\): No such file or directory.*/header \1/p' "$log"
		sed -n 's/.*[: ]\([A-Za-z0-9_.+-]*\): command not found.*/command \1/p' "$log"
		grep -A2 'The CMAKE_C_COMPILER:' "$log" | sed -n '3s/^[[:space:]]*\([^[:space:]]*\).*/command \1/p'
		grep -q 'Could NOT find PkgConfig' "$log" && echo "command pkg-config"
		grep -q 'unable to find a build program' "$log" && echo "command make"
		sed -n 's/^E: Unable to locate package \(.*\)/nopkg \1/p' "$log"
	} | sort -u | while read -r kind what; do
		pkg=
		case $kind in
		command) pkg=$(owner_command "$what") || true ;;
		python) pkg=$(owner_python "$what") || true ;;
		pc | header) pkg=$(owner_glob "$what") || true ;;
		file) pkg=$(owner "$what") || true ;;
		lib) pkg=$(owner_glob "lib$what.so" || owner_glob "lib$what.a") || true ;;
		nopkg)
			printf '!\thack/lib.sh lists %s, which this bookworm'"'"'s apt sources do not have\n' "$what"
			continue
			;;
		esac
		echo "${pkg:--}	$kind $what"
	done | awk -F'\t' '
		$1 == "-" { print "needs " $2 ", which no package on this host has either"; next }
		$1 == "!" { print $2; next }
		{ if ($1 in why) why[$1] = why[$1] ", " $2; else why[$1] = $2 }
		END { for (p in why) print "needs Debian package " p " (for " why[p] "), which hack/lib.sh'"'"'s lists do not bring" }'
}

rc=0
nice -n 10 chroot "$sysroot" /usr/bin/env -i HOME=/root LANG=C.UTF-8 \
	PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
	bash /fresh-check.sh 2>&1 | tee "$cache/last.log" || rc=$?
find "$sysroot/src/build/logs" -name '*.log' -exec cat {} + >>"$cache/last.log" 2>/dev/null || true
if [ $rc -ne 0 ]; then
	found=$(diagnose "$cache/last.log")
	[ -z "$found" ] || sed 's/^/fresh-machine: /' <<<"$found" >&2
	die "fresh-machine: FAILED on a bare Debian bookworm after $((SECONDS - t0)) s: add what it names to INFERMON_BUILD_DEBS, INFERMON_RUN_DEBS or INFERMON_TEST_DEBS in hack/lib.sh (whole log: $cache/last.log)"
fi
log "fresh-machine: passed in $((SECONDS - t0)) s (a bare Debian bookworm with only hack/lib.sh's packages builds every tree)"
