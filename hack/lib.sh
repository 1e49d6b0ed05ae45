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

# Directory of prometheus-operator's example CRDs in the Go module cache:
# the same module, version and go.sum hash hack/tools/operator builds the
# operator from (build.sh operator), so the schema tests meet is its own.
promop_crd_dir() {
	local root ver dir
	root=$(infermon_root)
	ver=$(sed -n 's/^PROMETHEUS_OPERATOR_VERSION=//p' "$root/hack/tools/versions.env")
	dir=$(cd "$root/hack/tools/operator" && GOFLAGS=-mod=mod go mod download -json \
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

# The lists are all a fresh Debian bookworm needs beyond its required
# packages (hack/fresh-machine.sh proves it in a bare chroot). Name the
# package that owns the file or command, not one that happens to pull it in.
# Build: compiling infermon (the Dockerfile's BUILD_PACKAGES hold these too),
# plus openssl and ca-certificates for the local control plane's certificates.
INFERMON_BUILD_DEBS=(build-essential cmake pkg-config libcurl4-openssl-dev libcjson-dev
	libyaml-dev libssl-dev libwebsockets-dev libuv1-dev zlib1g-dev openssl ca-certificates)
# Run: what hack/demo.sh and hack/local-cluster.sh call beyond the build:
# curl, jq, python3 with yaml, ss (iproute2), pkill (procps).
INFERMON_RUN_DEBS=(curl jq python3 python3-yaml iproute2 procps)
# Test: clang with its sanitizer and libFuzzer runtimes (clang alone, without
# recommends, brings none) for build/fuzz and build/tsan; valgrind; promtool
# (prometheus); the reference parser (python3-prometheus-client); git and
# clang-format for hack/check-style.sh.
INFERMON_TEST_DEBS=(clang libclang-rt-dev valgrind prometheus python3-prometheus-client git clang-format)
# Node: the real node (docs/real-node.md) that hack/demo.sh and the
# it_node tests run: images built with buildah from mmdebstrap's root file
# system, containerd and runc, the CNI plugins (ptp, host-local, portmap),
# iptables for kube-proxy, conntrack for its UDP clean-up, nsenter
# (util-linux, required) to enter the namespace.
INFERMON_NODE_DEBS=(buildah mmdebstrap containerd runc containernetworking-plugins iptables conntrack)

# install_debs demo|test: installs what hack/demo.sh or hack/test.sh needs
# from Debian (hack/install-deps.sh runs it alone).
install_debs() {
	case ${1:-} in
	demo) ensure_debs "${INFERMON_BUILD_DEBS[@]}" "${INFERMON_RUN_DEBS[@]}" "${INFERMON_NODE_DEBS[@]}" ;;
	test) ensure_debs "${INFERMON_BUILD_DEBS[@]}" "${INFERMON_RUN_DEBS[@]}" "${INFERMON_NODE_DEBS[@]}" \
		"${INFERMON_TEST_DEBS[@]}" ;;
	*) die "install_debs: which set, demo or test? (got \"${1:-}\")" ;;
	esac
}

# unmount_under DIR: unmounts everything mounted below DIR, deepest first
# (lazily when busy); fails, naming it, when something stays mounted there.
# Before any rm -rf of DIR: never remove across a mount.
unmount_under() {
	local d=${1%/}/ m
	for m in $(awk -v d="$d" 'index($2, d) == 1 { print $2 }' /proc/self/mounts | sort -r); do
		umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || echo "cannot unmount $m" >&2
	done
	if awk -v d="$d" 'index($2, d) == 1 { found = 1 } END { exit !found }' /proc/self/mounts; then
		echo "something is still mounted under $d" >&2
		return 1
	fi
}

# bookworm_base_tar: prints the path of a bare Debian bookworm root file
# system (mmdebstrap --variant=minbase, a tarball) made from this host's own
# apt sources and settings: a source signed with a key other than Debian's is
# left out, and apt settings that say how to reach the mirror (Acquire::) go
# along. Cached under $(infermon_cache)/base, one a month (the key holds the
# month and the sources). hack/fresh-machine.sh builds inside it; hack/images.sh
# makes the images' debian:bookworm and debian:bookworm-slim from it.
bookworm_base_tar() {
	local sources=() aptopts=() f key dir base
	if ! command -v mmdebstrap >/dev/null; then ensure_debs mmdebstrap; fi
	# shellcheck source=/dev/null
	[ "$(. /etc/os-release && echo "${VERSION_CODENAME:-}")" = bookworm ] ||
		{ echo "error: a bookworm root file system is made from this host's apt sources; this host is not bookworm" >&2; return 1; }
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] && grep -qE '^[^#]*bookworm' "$f" || continue
		grep -iE '^[^#]*signed-by' "$f" | grep -qv debian-archive-keyring && continue
		sources+=("$f")
	done
	[ ${#sources[@]} -gt 0 ] ||
		{ echo "error: no apt source for bookworm signed by Debian's key in /etc/apt" >&2; return 1; }
	for f in /etc/apt/apt.conf /etc/apt/apt.conf.d/*; do
		[ -f "$f" ] && grep -qE '^[[:space:]]*Acquire' "$f" && aptopts+=("--aptopt=$f")
	done
	dir=$(infermon_cache)/base
	mkdir -p "$dir"
	key=$( (echo "minbase bookworm $(date +%Y-%m)"; cat "${sources[@]}" "${aptopts[@]#--aptopt=}") |
		sha256sum | cut -c1-16)
	base=$dir/bookworm-minbase-$key.tar
	(
		exec 8>"$dir/lock"
		flock -w 600 8 || { echo "error: another run has held $dir/lock for 10 minutes" >&2; exit 1; }
		[ -f "$base" ] && exit 0
		log "making a bare bookworm root file system (mmdebstrap --variant=minbase) into $base"
		mmdebstrap --quiet --variant=minbase --format=tar "${aptopts[@]}" bookworm "$base.new" "${sources[@]}" ||
			{ echo "error: mmdebstrap could not make a bookworm root file system (output above)" >&2; exit 1; }
		mv "$base.new" "$base"
		find "$dir" -maxdepth 1 -name 'bookworm-minbase-*.tar' ! -name "${base##*/}" -delete
	) || return 1
	echo "$base"
}

# State dir of the local control plane hack/local-cluster.sh runs (certs,
# kubeconfigs, etcd data, logs, pids, ports); INFERMON_CLUSTER_DIR overrides.
infermon_cluster_dir() {
	echo "${INFERMON_CLUSTER_DIR:-$(infermon_cache)/cluster}"
}

# ---- engines for tests and the demo ----

# wait_for SECONDS COMMAND...: retries COMMAND every 0.25 s until it succeeds.
wait_for() {
	local secs=$1; shift
	local end=$((SECONDS + secs))
	until "$@" >/dev/null 2>&1; do
		[ $SECONDS -lt $end ] || return 1
		sleep 0.25
	done
}


SIM=${INFERMON_SIM:-${XDG_CACHE_HOME:-$HOME/.cache}/infermon/bin/llm-d-inference-sim}

# free_port: prints a free TCP port on 127.0.0.1.
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# start_operator_for NS LOG [FLAG...]: prometheus-operator (hack/tools/build.sh
# operator; $OPERATOR if set) out of cluster against $KUBECONFIG, for the
# Prometheus, Alertmanager and ThanosRuler objects of NS only, logging to
# LOG (logfmt, debug); its web server on a free loopback port. Sets
# OPERATOR_PID and appends it to CLEANUP_PIDS; fails unless it reaches the
# API server within 60 s.
start_operator_for() {
	local ns=$1 log=$2
	shift 2
	"${OPERATOR:-$(infermon_cache)/bin/operator}" --web.listen-address="127.0.0.1:$(free_port)" \
		--log-format=logfmt --log-level=debug --prometheus-instance-namespaces="$ns" \
		--alertmanager-instance-namespaces="$ns" --thanos-ruler-instance-namespaces="$ns" "$@" >"$log" 2>&1 &
	OPERATOR_PID=$!
	CLEANUP_PIDS="${CLEANUP_PIDS:-} $OPERATOR_PID"
	wait_for 60 grep -q 'msg="connection established"' "$log"
}

# node_prometheus_up LOG: (the real node, inside its network namespace)
# hack/node-manifests/prometheus.yaml, a kube-prometheus-stack-like
# Prometheus that prometheus-operator, started here out of cluster
# (start_operator_for, log in LOG), runs as its StatefulSet pod of the
# images hack/images.sh builds; the controller's shipped ServiceMonitor
# labelled release=kube-prometheus-stack for it, as deploy/prometheus tells
# users to. Sets NODE_PROMETHEUS_URL, the pod's web address, once it is
# Ready; on failure says why on stderr and fails. node_prometheus_down
# removes what it made.
node_prometheus_up() {
	local log=$1 k=(kubectl --request-timeout=30s) pod=prometheus-kps-0 ip
	"${k[@]}" -n infermon-system label servicemonitor infermon release=kube-prometheus-stack --overwrite >/dev/null || return 1
	start_operator_for monitoring "$log" \
		--prometheus-config-reloader=localhost/prometheus-config-reloader:infermon ||
		{ echo "prometheus-operator did not reach the API server: $(tail -5 "$log")" >&2; return 1; }
	"${k[@]}" apply -f "$(infermon_root)/hack/node-manifests/prometheus.yaml" >/dev/null || return 1
	wait_for 120 "${k[@]}" -n monitoring get pod $pod ||
		{ echo "the operator made no pod $pod: $(grep -E 'level=(warn|error)' "$log" | tail -5)" >&2; return 1; }
	"${k[@]}" -n monitoring wait --for=condition=Ready pod/$pod --timeout=180s >/dev/null ||
		{ echo "$pod not Ready: $("${k[@]}" -n monitoring describe pod $pod | tail -20)" >&2; return 1; }
	ip=$(pod_ip monitoring $pod) && [ -n "$ip" ] || return 1
	NODE_PROMETHEUS_URL="http://$ip:9090"
}

# metrics_reader_token: prints a bearer token (valid for a day) that the
# controller's /metrics accepts: of ServiceAccount monitoring/infermon-reader,
# made and bound to deploy/'s ClusterRole infermon-metrics-reader on first use.
metrics_reader_token() {
	local k=(kubectl --request-timeout=30s)
	"${k[@]}" create ns monitoring --dry-run=client -o yaml | "${k[@]}" apply -f - >/dev/null &&
		"${k[@]}" apply --server-side --force-conflicts -f "$(infermon_root)/deploy/rbac/metrics_reader_role.yaml" >/dev/null &&
		"${k[@]}" -n monitoring create sa infermon-reader --dry-run=client -o yaml | "${k[@]}" apply -f - >/dev/null &&
		"${k[@]}" create clusterrolebinding infermon-reader --clusterrole=infermon-metrics-reader \
			--serviceaccount=monitoring:infermon-reader --dry-run=client -o yaml | "${k[@]}" apply -f - >/dev/null &&
		"${k[@]}" -n monitoring create token infermon-reader --duration=24h
}

# controller_metrics IP TOKEN: the /metrics page of the controller pod at IP
# (HTTPS, its self-signed certificate, the reader's token).
controller_metrics() {
	curl -sfk --max-time 5 -H "Authorization: Bearer $2" "https://$1:8443/metrics"
}

# node_prometheus_down: undoes node_prometheus_up but for the operator
# process (its caller's CLEANUP_PIDS stops it).
node_prometheus_down() {
	local k=(kubectl --request-timeout=30s)
	"${k[@]}" delete -f "$(infermon_root)/hack/node-manifests/prometheus.yaml" --ignore-not-found \
		--wait=true --timeout=120s >/dev/null &&
		"${k[@]}" -n infermon-system label servicemonitor infermon release- >/dev/null
}

# start_sim PORT MODEL ARGS...: runs llm-d-inference-sim on 127.0.0.1:PORT
# (killed when the test exits) and waits until it answers.
start_sim() {
	local port=$1 model=$2; shift 2
	"$SIM" --port "$port" --model "$model" --force-dummy-tokenizer \
		--time-to-first-token 200ms --inter-token-latency 50ms "$@" >"${SIM_LOG_DIR:-$WORK}/sim-$port.log" 2>&1 &
	CLEANUP_PIDS="${CLEANUP_PIDS:-} $!"
	wait_for 30 curl -sf "http://127.0.0.1:$port/v1/models" || die "simulator on $port did not start"
}

# start_clients PORT MODEL N: N concurrent streaming chat clients of the
# engine at 127.0.0.1:PORT, each a bounded loop of 40 requests (killed when
# the test exits); start_clients_at HOST PORT MODEL N, of HOST:PORT.
start_clients() { start_clients_at 127.0.0.1 "$@"; }
start_clients_at() {
	local host=$1 port=$2 model=$3 n=$4 i
	for i in $(seq 1 "$n"); do
		(for _ in $(seq 1 40); do
			curl -sN -m 30 "http://$host:$port/v1/chat/completions" \
				-H 'Content-Type: application/json' \
				-d "{\"model\":\"$model\",\"stream\":true,\"max_tokens\":80,\"messages\":[{\"role\":\"user\",\"content\":\"hello\"}]}" \
				>/dev/null || sleep 0.2
		done) &
		CLEANUP_PIDS="${CLEANUP_PIDS:-} $!"
	done
}

# pod_ip NS POD: the pod's IP as its status gives it (the real node's).
pod_ip() { kubectl --request-timeout=30s -n "$1" get pod "$2" -o jsonpath='{.status.podIP}'; }

# lease_holder_pod NS LEASE: the pod whose name the Lease's holder identity
# carries (infermon's is "POD_<random>"); fails while nobody holds it, or
# while the holder it names is terminating or gone.
lease_holder_pod() {
	local h gone
	h=$(kubectl --request-timeout=30s -n "$1" get lease "$2" -o jsonpath='{.spec.holderIdentity}' 2>/dev/null) &&
		[ -n "$h" ] || return 1
	# a Lease outlives its holder by up to its duration: after a rollout
	# it can name a pod that is terminating or gone, which is no leader
	gone=$(kubectl --request-timeout=30s -n "$1" get pod "${h%_*}" \
		-o jsonpath='{.metadata.deletionTimestamp}' 2>/dev/null) && [ -z "$gone" ] || return 1
	echo "${h%_*}"
}

# engine_pod NS NAME WORKLOAD BACKEND PORT ARGS...: a labelled pod whose
# status says Running and Ready at 127.0.0.1 (no kubelet runs here), its
# container port "http" being PORT, its args ARGS.
engine_pod() {
	local ns=$1 name=$2 wl=$3 be=$4 port=$5; shift 5
	local args="" a
	for a in "$@"; do args="$args\"$a\","; done
	kubectl apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Pod
metadata:
  name: $name
  namespace: $ns
  labels:
    alibabacloud.com/inference-workload: $wl
    alibabacloud.com/inference-backend: $be
spec:
  containers:
  - name: engine
    image: vllm/vllm-openai:test
    args: [${args%,}]
    ports:
    - name: http
      containerPort: $port
YAML
	kubectl -n "$ns" patch pod "$name" --subresource=status --type=merge -p \
		'{"status":{"phase":"Running","podIP":"127.0.0.1","podIPs":[{"ip":"127.0.0.1"}],"conditions":[{"type":"Ready","status":"True"}]}}' >/dev/null
}

