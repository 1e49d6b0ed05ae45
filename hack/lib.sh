# Shared helpers for hack/ scripts. Source it; it defines functions only.

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

infermon_root() { (cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd); }

# The cache for Go-built binaries and cluster state lives outside the checkout
# so that fresh clones reuse it.
infermon_cache() {
	local d=${XDG_CACHE_HOME:-$HOME/.cache}/infermon
	mkdir -p "$d"
	echo "$d"
}

# Directory of prometheus-operator's example CRDs in the Go module cache.
promop_crd_dir() {
	local root ver dir
	root=$(infermon_root)
	ver=$(sed -n 's/^PROMETHEUS_OPERATOR_VERSION=//p' "$root/hack/tools/versions.env")
	dir=$(cd "$root/hack/tools/kube" && GOFLAGS=-mod=mod go mod download -json \
		"github.com/prometheus-operator/prometheus-operator@$ver" |
		sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
	[ -d "$dir/example/prometheus-operator-crd" ] ||
		die "prometheus-operator $ver has no example/prometheus-operator-crd in the module cache"
	echo "$dir/example/prometheus-operator-crd"
}

# Debian packages the build and tests need; installs the missing ones.
ensure_debs() {
	local missing=() p
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	log "installing Debian packages: ${missing[*]}"
	local sudo=
	[ "$(id -u)" -eq 0 ] || sudo=sudo
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

INFERMON_BUILD_DEBS=(build-essential cmake pkg-config libcurl4-openssl-dev libcjson-dev
	libyaml-dev libssl-dev libwebsockets-dev libuv1-dev openssl ca-certificates)
INFERMON_TEST_DEBS=(clang valgrind prometheus python3 python3-prometheus-client curl jq)

# State dir of the local control plane hack/local-cluster.sh runs (certs,
# kubeconfigs, etcd data, logs, pids, ports); INFERMON_CLUSTER_DIR overrides.
infermon_cluster_dir() {
	echo "${INFERMON_CLUSTER_DIR:-$(infermon_cache)/cluster}"
}
