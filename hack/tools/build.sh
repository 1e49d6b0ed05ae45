#!/usr/bin/env bash
# Builds (once) the real components tests and the demo run, from the Go
# module proxy, into ${XDG_CACHE_HOME:-$HOME/.cache}/infermon/bin.
#
#   hack/tools/build.sh [kube|sim|prometheus|operator|bench|linter|sloth|backfill|crds|all]...
#
# Each component is rebuilt only when what pins it changes: a stamp file next
# to the binaries holds the hash of the pinning files it was built from.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lib.sh
. "$here/../lib.sh"
. "$here/versions.env"

export GOFLAGS=-mod=readonly
bin=$(infermon_cache)/bin
mkdir -p "$bin"
# one build at a time: two clusters' ups and hack/images.sh may ask at once
exec 9>"$bin/.build.lock"
flock -w 3600 9 || die "build.sh: another build has held $bin/.build.lock for an hour"

# stamp_ok NAME FILES... : true when NAME was built from these exact files.
stamp_hash() { cat "$@" | sha256sum | cut -d' ' -f1; }
stamp_ok() {
	local name=$1; shift
	[ -f "$bin/.$name.stamp" ] && [ "$(cat "$bin/.$name.stamp")" = "$(stamp_hash "$@")" ]
}
stamp_set() { local name=$1; shift; stamp_hash "$@" > "$bin/.$name.stamp"; }

build_kube() {
	local m=$here/kube pins=("$here/kube/go.mod" "$here/kube/go.sum" "$here/kube/cmd/etcd/main.go")
	if stamp_ok kube "${pins[@]}"; then return 0; fi
	grep -q "k8s.io/kubernetes $KUBERNETES_VERSION\$" "$m/go.mod" ||
		die "hack/tools/kube/go.mod does not pin $KUBERNETES_VERSION: run hack/tools/kube/update.sh"
	log "building kube-apiserver, kube-controller-manager, kube-scheduler, kubelet, kube-proxy, kubectl, etcd ($KUBERNETES_VERSION, etcd $ETCD_VERSION); this takes a while once"
	# the version the components report (a Node's kubeletVersion, kubectl
	# version) is stamped in, as Kubernetes' own build does
	local ver="-X k8s.io/component-base/version.gitVersion=$KUBERNETES_VERSION"
	ver="$ver -X k8s.io/component-base/version.gitTreeState=clean"
	ver="$ver -X k8s.io/client-go/pkg/version.gitVersion=$KUBERNETES_VERSION"
	(cd "$m" &&
		go build -trimpath -ldflags="-s -w $ver" -o "$bin/" \
			k8s.io/kubernetes/cmd/kube-apiserver \
			k8s.io/kubernetes/cmd/kube-controller-manager \
			k8s.io/kubernetes/cmd/kube-scheduler \
			k8s.io/kubernetes/cmd/kubelet \
			k8s.io/kubernetes/cmd/kube-proxy \
			k8s.io/kubernetes/cmd/kubectl &&
		go build -trimpath -ldflags="-s -w" -o "$bin/etcd" ./cmd/etcd)
	stamp_set kube "${pins[@]}"
}

# A wrapper module rather than `go install pkg@version`: the proxy serves the
# pinned version but not the module's version list, which go install asks for.
build_sim() {
	local m=$here/sim pins=("$here/sim/go.mod" "$here/sim/go.sum")
	if stamp_ok sim "${pins[@]}" && [ -x "$bin/llm-d-inference-sim" ]; then return 0; fi
	grep -q "llm-d-inference-sim $INFERENCE_SIM_VERSION\$" "$m/go.mod" ||
		die "hack/tools/sim/go.mod does not pin llm-d-inference-sim $INFERENCE_SIM_VERSION"
	log "building llm-d-inference-sim $INFERENCE_SIM_VERSION"
	(cd "$m" && go build -trimpath -ldflags="-s -w" -o "$bin/" \
		github.com/llm-d/llm-d-inference-sim/cmd/llm-d-inference-sim)
	stamp_set sim "${pins[@]}"
}

# crds: prints nothing, but makes sure the prometheus-operator module (and
# with it example/prometheus-operator-crd/) is in the module cache.
build_crds() {
	promop_crd_dir > /dev/null
}

# prometheus-operator, run out of cluster by test/integration/it_operator.sh
# (docs/operator.md). The wrapper module requires the root module and its
# pkg/apis/monitoring and pkg/client submodules at the same version: the
# root go.mod replaces those with local directories, so `go install
# ...@version` refuses it. The version is stamped in as the operator's own
# Makefile does, so `operator --version` and its log name it.
build_operator() {
	local m=$here/operator pins=("$here/operator/go.mod" "$here/operator/go.sum")
	if stamp_ok operator "${pins[@]}" && [ -x "$bin/operator" ] && [ -x "$bin/prometheus-config-reloader" ]; then
		return 0
	fi
	local v
	for v in "" /pkg/apis/monitoring /pkg/client; do
		grep -q "github.com/prometheus-operator/prometheus-operator$v $PROMETHEUS_OPERATOR_VERSION\( // indirect\)\?\$" "$m/go.mod" ||
			die "hack/tools/operator/go.mod does not pin prometheus-operator$v $PROMETHEUS_OPERATOR_VERSION"
	done
	log "building prometheus-operator and prometheus-config-reloader $PROMETHEUS_OPERATOR_VERSION"
	# the config reloader is the sidecar of the Prometheus pods the operator
	# makes on the real node (hack/images.sh puts it in an image)
	(cd "$m" && go build -trimpath \
		-ldflags="-s -w -X github.com/prometheus/common/version.Version=${PROMETHEUS_OPERATOR_VERSION#v}" \
		-o "$bin/" github.com/prometheus-operator/prometheus-operator/cmd/operator \
		github.com/prometheus-operator/prometheus-operator/cmd/prometheus-config-reloader)
	stamp_set operator "${pins[@]}"
}

build_bench() {
	local m=$here/bench pins=("$here/bench/go.mod" "$here/bench/go.sum" "$here/bench/main.go")
	[ -d "$m" ] || return 0
	if stamp_ok bench "${pins[@]}"; then return 0; fi
	log "building the Go exposition-parser peer for hack/bench.sh"
	(cd "$m" && go build -trimpath -o "$bin/promparse-peer" .)
	stamp_set bench "${pins[@]}"
}

# fleet-backfill: TSDB blocks of a synthetic fleet for hack/dashboard-bench.sh
# (which builds it; not in `all`: no test needs it),
# written with Prometheus' tsdb package at PROMETHEUS_VERSION.
build_backfill() {
	local m=$here/backfill pins=("$here/backfill/go.mod" "$here/backfill/go.sum" "$here/backfill/main.go")
	if stamp_ok backfill "${pins[@]}" && [ -x "$bin/fleet-backfill" ]; then return 0; fi
	grep -q "github.com/prometheus/prometheus $PROMETHEUS_VERSION\$" "$m/go.mod" ||
		die "hack/tools/backfill/go.mod does not pin prometheus $PROMETHEUS_VERSION"
	log "building fleet-backfill ($PROMETHEUS_VERSION tsdb)"
	(cd "$m" && go build -trimpath -ldflags="-s -w" -o "$bin/fleet-backfill" .)
	stamp_set backfill "${pins[@]}"
}

# Prometheus and promtool from the Go module proxy: Debian's build leaves out
# Kubernetes service discovery. Bound to PROMETHEUS_VERSION (v0.3xx.y is the
# Go module version of Prometheus 3.x).
build_prometheus() {
	local m=$here/prometheus pins=("$here/prometheus/go.mod" "$here/prometheus/go.sum")
	if stamp_ok prometheus "${pins[@]}" && [ -x "$bin/prometheus" ] && [ -x "$bin/promtool" ]; then return 0; fi
	grep -q "github.com/prometheus/prometheus $PROMETHEUS_VERSION\$" "$m/go.mod" ||
		die "hack/tools/prometheus/go.mod does not pin prometheus $PROMETHEUS_VERSION"
	log "building prometheus and promtool ($PROMETHEUS_VERSION)"
	(cd "$m" && go build -trimpath -ldflags="-s -w" -o "$bin/" \
		github.com/prometheus/prometheus/cmd/prometheus \
		github.com/prometheus/prometheus/cmd/promtool)
	stamp_set prometheus "${pins[@]}"
}

build_linter() {
	local m=$here/linter pins
	# every file of the module: its go.mod/go.sum and the local stub it replaces a dependency with
	mapfile -t pins < <(find "$here/linter" -type f | LC_ALL=C sort)
	[ -d "$m" ] || return 0
	if stamp_ok linter "${pins[@]}"; then return 0; fi
	log "building dashboard-linter"
	(cd "$m" && go build -trimpath -o "$bin/dashboard-linter" github.com/grafana/dashboard-linter)
	stamp_set linter "${pins[@]}"
}

# Sloth, whose rules test/integration/it_slo_sloth.sh compares infermon's
# SLO burn-rate alerts with.
build_sloth() {
	local m=$here/sloth pins=("$here/sloth/go.mod" "$here/sloth/go.sum")
	if stamp_ok sloth "${pins[@]}" && [ -x "$bin/sloth" ]; then return 0; fi
	grep -q "github.com/slok/sloth $SLOTH_VERSION\$" "$m/go.mod" ||
		die "hack/tools/sloth/go.mod does not pin sloth $SLOTH_VERSION"
	log "building sloth $SLOTH_VERSION"
	(cd "$m" && go build -trimpath -ldflags="-s -w" -o "$bin/" github.com/slok/sloth/cmd/sloth)
	stamp_set sloth "${pins[@]}"
}

[ $# -gt 0 ] || set -- all
for c in "$@"; do
	case $c in
	all) build_kube; build_sim; build_crds; build_prometheus; build_operator; build_bench; build_linter; build_sloth ;;
	kube|sim|crds|prometheus|operator|bench|linter|sloth|backfill) "build_$c" ;;
	*) die "build.sh: unknown component \"$c\" (kube, sim, prometheus, operator, bench, linter, sloth, backfill, crds, all)" ;;
	esac
done
