#!/usr/bin/env bash
# A real, local Kubernetes control plane on loopback for tests and the demo:
# etcd + kube-apiserver (RBAC, TLS, ServiceAccount tokens) +
# kube-controller-manager (garbage collector, namespaces, service accounts,
# endpoint slices). No kubelet, no scheduler: pods are API objects whose
# status tests patch themselves. See docs/local-cluster.md.
#
# With INFERMON_CLUSTER_NODE=1 at its first up, the cluster has a real node
# instead (docs/real-node.md): everything runs inside a network namespace
# of its own (198.18.0.0/15), with kube-scheduler, containerd, a kubelet,
# kube-proxy and the controllers Deployments need; pods really run. Run
# commands against it inside that namespace: hack/local-cluster.sh exec CMD.
#
#   hack/local-cluster.sh up|down|env|status
#   hack/local-cluster.sh kill-apiserver|start-apiserver|restart-apiserver
#   hack/local-cluster.sh dir        the state dir
#   hack/local-cluster.sh exec CMD.. runs CMD with the cluster's KUBECONFIG
#                                    (inside its network namespace, if any)
#   hack/local-cluster.sh settings   the recorded API server settings, as the
#                                    environment assignments that give them to up
#
# A test that changes the cluster for everyone (test/integration/it.h,
# it_restore_on_exit) leaves a guard process that puts it back if the test
# dies; the guard holds a shared flock on $INFERMON_CLUSTER_DIR.guard.lock
# while it may restore, and env and down wait for it, so the next test (whose
# with-cluster.sh runs env) and the teardown see the restored cluster.
#
# Environment:
#   INFERMON_CLUSTER_DIR               state dir (default $(infermon_cache)/cluster)
#   INFERMON_ETCD_COMPACTION_INTERVAL  kube-apiserver --etcd-compaction-interval (default 5m)
#   INFERMON_APISERVER_EXTRA_ARGS      extra kube-apiserver flags, split on spaces
#   INFERMON_CLUSTER_TIMEOUT           seconds any single wait may take (default 120)
#   INFERMON_CLUSTER_NODE=1            a new cluster gets the real node
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=hack/lib.sh
. "$here/lib.sh"

ROOT=$(infermon_root)
CACHE=$(infermon_cache)
BIN=$CACHE/bin
STATE=$(infermon_cluster_dir)
TIMEOUT=${INFERMON_CLUSTER_TIMEOUT:-120}
MARKER=.infermon-cluster
COMPONENTS=(etcd kube-apiserver kube-controller-manager)
# The kube-controller-manager controllers the tests rely on (names as
# `kube-controller-manager --help` lists them for this version).
KCM_CONTROLLERS=garbage-collector-controller,endpointslice-controller,namespace-controller,serviceaccount-controller,serviceaccount-token-controller
# and on the real node: the node's not-ready taint lifted once it is Ready, and
# what Deployments, kubectl rollout status, the pods'
# kube-api-access volumes and the PodDisruptionBudget need, and the
# StatefulSet prometheus-operator runs its Prometheus as
KCM_NODE_CONTROLLERS=node-lifecycle-controller,deployment-controller,replicaset-controller,statefulset-controller,root-ca-certificate-publisher-controller,endpoints-controller,disruption-controller,pod-garbage-collector-controller,ttl-after-finished-controller
SERVICE_CIDR=10.96.0.0/12
FIRST_SERVICE_IP=10.96.0.1
ISSUER=https://kubernetes.default.svc.cluster.local

case $STATE in /*) ;; *) STATE=$PWD/$STATE ;; esac
STATE=${STATE%/}
if [ -z "$STATE" ] || [ "$STATE" = / ]; then die "INFERMON_CLUSTER_DIR must not be /"; fi
PKI=$STATE/pki
LOGS=$STATE/logs
RUN=$STATE/run

# shellcheck source=hack/node.sh
. "$here/node.sh"
node_names
# NODE: 1 when this cluster has the real node (recorded in cluster.env by
# its first up, from INFERMON_CLUSTER_NODE)
NODE=
if [ -f "$STATE/cluster.env" ]; then
	NODE=$(sed -n 's/^NODE=//p' "$STATE/cluster.env")
elif [ "${INFERMON_CLUSTER_NODE:-}" = 1 ]; then
	NODE=1
fi
if [ "$NODE" = 1 ]; then
	COMPONENTS+=(kube-scheduler containerd kubelet kube-proxy)
	KCM_CONTROLLERS=$KCM_CONTROLLERS,$KCM_NODE_CONTROLLERS
	SERVICE_CIDR=$NODE_SERVICE_CIDR
	FIRST_SERVICE_IP=$NODE_FIRST_SERVICE_IP
fi

usage() {
	sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0" >&2
	exit 2
}

# ---------------------------------------------------------------- processes

# pid_of NAME: prints the pid of our running NAME and succeeds, or fails.
# "Ours" means the pid file's process is alive (not a zombie), runs the NAME
# binary and has this state dir on its command line, so a stale pid file
# never leads to signalling an unrelated process.
pid_of() {
	local name=$1 pid stat exe cmd
	[ -f "$RUN/$name.pid" ] || return 1
	pid=$(cat "$RUN/$name.pid" 2>/dev/null) || return 1
	[[ $pid =~ ^[0-9]+$ ]] || return 1
	stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
	stat=${stat##*) }
	[ "${stat%% *}" != Z ] || return 1
	exe=$(readlink "/proc/$pid/exe" 2>/dev/null) || return 1
	[ "${exe##*/}" = "$name" ] || return 1
	cmd=$(tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null) || return 1
	[[ $cmd == *"$STATE/"* ]] || return 1
	echo "$pid"
}

running() { pid_of "$1" > /dev/null; }

# launch NAME ARGS...: starts $BIN/NAME detached from the caller: its own
# session, stdin from /dev/null, stdout+stderr appended to logs/NAME.log, and
# every other inherited file descriptor closed (a pipe or lock a test runner
# passed down must not be held open by a daemon). The process writes its own
# pid file before exec, so the pid is right whether or not setsid forks.
launch() {
	local name=$1
	shift
	launch_path "$name" "$BIN/$name" "$@"
}

# launch_path NAME PATH ARGS...: launch, for a binary not in $BIN.
launch_path() {
	local name=$1 path=$2 pidf=$RUN/$1.pid log=$LOGS/$1.log i
	shift 2
	mkdir -p "$RUN" "$LOGS"
	rm -f "$pidf"
	printf '==== %s starting %s\n' "$(date '+%F %T')" "$name" >> "$log"
	STARTED+=("$name")
	# shellcheck disable=SC2016
	setsid bash -c '
		for fd in /proc/$$/fd/*; do
			n=${fd##*/}
			if [ "$n" -gt 2 ]; then eval "exec $n>&-"; fi
		done
		echo $$ > "$0.tmp" && mv "$0.tmp" "$0"
		exec "$@"' "$pidf" "$path" "$@" < /dev/null >> "$log" 2>&1 &
	# Done once the pid file's process runs the binary (exec happened) or
	# is already gone (then the caller's wait reports its log).
	local pid=
	for ((i = 0; i < 100; i++)); do
		running "$name" && return 0
		[ -s "$pidf" ] && pid=$(cat "$pidf") && [ ! -d "/proc/$pid" ] && return 0
		sleep 0.05
	done
	die "$name did not start within 5s; see $log"
}

# stop NAME [GRACE]: SIGTERM, then SIGKILL after GRACE seconds (default 15).
stop() {
	local name=$1 grace=${2:-15} pid i
	pid=$(pid_of "$name") || { rm -f "$RUN/$name.pid"; return 0; }
	log "stopping $name (pid $pid)"
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < grace * 10; i++)); do
		running "$name" || break
		sleep 0.1
	done
	if running "$name"; then
		log "$name did not exit after ${grace}s: SIGKILL"
		kill -KILL "$pid" 2>/dev/null || true
		for ((i = 0; i < 50; i++)); do running "$name" || break; sleep 0.1; done
		! running "$name" || die "$name (pid $pid) survives SIGKILL"
	fi
	rm -f "$RUN/$name.pid"
}

log_tail() {
	local name=$1
	printf -- '---- last lines of %s ----\n' "$LOGS/$name.log" >&2
	tail -n 40 "$LOGS/$name.log" >&2 2>/dev/null || true
	printf -- '----\n' >&2
}

# wait_until NAME WHAT CMD...: polls CMD until it succeeds; fails with the
# tail of NAME's log when NAME exits or after $TIMEOUT seconds.
wait_until() {
	local name=$1 what=$2 deadline
	shift 2
	deadline=$((SECONDS + TIMEOUT))
	until "$@"; do
		if ! running "$name"; then
			log_tail "$name"
			die "$name exited while waiting for $what"
		fi
		if ((SECONDS >= deadline)); then
			log_tail "$name"
			die "timed out after ${TIMEOUT}s waiting for $what"
		fi
		sleep 0.25
	done
}

# ---------------------------------------------------------------- state

# load_state: reads cluster.env (ports and the settings up recorded).
load_state() {
	if [ ! -f "$STATE/$MARKER" ] || [ ! -f "$STATE/cluster.env" ]; then
		die "no cluster in $STATE: run hack/local-cluster.sh up"
	fi
	# shellcheck disable=SC1091
	. "$STATE/cluster.env"
}

save_state() {
	{
		echo "# written by hack/local-cluster.sh up; ports are on 127.0.0.1"
		printf 'ETCD_PORT=%q\nETCD_PEER_PORT=%q\nAPISERVER_PORT=%q\nKCM_PORT=%q\n' \
			"$ETCD_PORT" "$ETCD_PEER_PORT" "$APISERVER_PORT" "$KCM_PORT"
		printf 'ETCD_COMPACTION_INTERVAL=%q\nAPISERVER_EXTRA_ARGS=%q\n' \
			"$ETCD_COMPACTION_INTERVAL" "$APISERVER_EXTRA_ARGS"
		printf 'NODE=%q\n' "$NODE"
	} > "$STATE/cluster.env.tmp"
	mv "$STATE/cluster.env.tmp" "$STATE/cluster.env"
}

# port_busy PORT: something listens on 127.0.0.1/any address at PORT.
port_busy() { [ -n "$(ss -Htln "sport = :$1" 2>/dev/null)" ]; }

# pick_ports: four distinct free ports below the kernel's ephemeral range
# (so outgoing connections never squat on them), chosen at random so that
# clusters with different state dirs coexist.
pick_ports() {
	local lo=20000 hi=32000 eph p picked=() tries=0
	eph=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
	((hi < eph)) || hi=$eph
	while ((${#picked[@]} < 4)); do
		((tries++ < 1000)) || die "no free loopback port found in $lo-$hi"
		p=$((lo + (RANDOM * 32768 + RANDOM) % (hi - lo)))
		[[ " ${picked[*]} " == *" $p "* ]] && continue
		port_busy "$p" && continue
		picked+=("$p")
	done
	ETCD_PORT=${picked[0]} ETCD_PEER_PORT=${picked[1]}
	APISERVER_PORT=${picked[2]} KCM_PORT=${picked[3]}
}

# ---------------------------------------------------------------- pki

# make_ca NAME CN: a self-signed CA (NAME.crt, NAME.key).
make_ca() {
	local name=$1 cn=$2
	cat > "$PKI/$name.cnf" <<-EOF
		[req]
		distinguished_name = dn
		x509_extensions = v3
		prompt = no
		[dn]
		CN = $cn
		[v3]
		basicConstraints = critical,CA:TRUE
		keyUsage = critical,keyCertSign,cRLSign,digitalSignature
		subjectKeyIdentifier = hash
	EOF
	openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -config "$PKI/$name.cnf" \
		-keyout "$PKI/$name.key" -out "$PKI/$name.crt" -days 3650 -sha256 2>/dev/null
	rm -f "$PKI/$name.cnf"
}

# sign NAME SUBJECT EXTENSIONS [CA]: key + certificate signed by CA (default ca).
sign() {
	local name=$1 subj=$2 ext=$3 ca=${4:-ca}
	printf '[v3]\n%s\n' "$ext" > "$PKI/$name.ext"
	openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -keyout "$PKI/$name.key" \
		-subj "$subj" -out "$PKI/$name.csr" 2>/dev/null
	openssl x509 -req -in "$PKI/$name.csr" -CA "$PKI/$ca.crt" -CAkey "$PKI/$ca.key" \
		-set_serial "0x$(openssl rand -hex 16)" -days 3650 -sha256 \
		-extfile "$PKI/$name.ext" -extensions v3 -out "$PKI/$name.crt" 2>/dev/null
	rm -f "$PKI/$name.csr" "$PKI/$name.ext"
}

make_pki() {
	[ -f "$PKI/.done" ] && return 0
	log "creating certificates in $PKI"
	rm -rf "$PKI"
	mkdir -p "$PKI"
	chmod 700 "$PKI"
	make_ca ca infermon-local-ca
	make_ca front-proxy-ca infermon-local-front-proxy-ca
	local common='basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
authorityKeyIdentifier = keyid'
	sign apiserver "/CN=kube-apiserver" "$common
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1,IP:::1,IP:$FIRST_SERVICE_IP,${NODE:+IP:$NODE_IP,}DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
	sign admin "/O=system:masters/CN=kubernetes-admin" "$common
extendedKeyUsage = clientAuth"
	sign kube-controller-manager "/CN=system:kube-controller-manager" "$common
extendedKeyUsage = clientAuth"
	# The aggregation layer's client (requestheader authentication): with it
	# the apiserver publishes a complete extension-apiserver-authentication
	# ConfigMap, which kube-controller-manager's delegated authn reads.
	sign front-proxy-client "/CN=front-proxy-client" "$common
extendedKeyUsage = clientAuth" front-proxy-ca
	if [ "$NODE" = 1 ]; then node_pki; fi
	# ServiceAccount token signing key pair (RS256).
	openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$PKI/sa.key" 2>/dev/null
	openssl pkey -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub" 2>/dev/null
	chmod 600 "$PKI"/*.key
	touch "$PKI/.done"
}

# write_kubeconfig FILE USER CERTNAME: kubeconfig with embedded credentials.
write_kubeconfig() {
	local file=$1 user=$2 cert=$3
	cat > "$file.tmp" <<-EOF
		apiVersion: v1
		kind: Config
		clusters:
		- name: infermon-local
		  cluster:
		    server: https://127.0.0.1:$APISERVER_PORT
		    certificate-authority-data: $(base64 -w0 < "$PKI/ca.crt")
		users:
		- name: $user
		  user:
		    client-certificate-data: $(base64 -w0 < "$PKI/$cert.crt")
		    client-key-data: $(base64 -w0 < "$PKI/$cert.key")
		contexts:
		- name: infermon-local
		  context:
		    cluster: infermon-local
		    user: $user
		current-context: infermon-local
	EOF
	chmod 600 "$file.tmp"
	mv "$file.tmp" "$file"
}

# ---------------------------------------------------------------- components

start_etcd() {
	running etcd && return 0
	port_busy "$ETCD_PORT" && die "etcd port $ETCD_PORT is taken by another process; run hack/local-cluster.sh down, then up"
	port_busy "$ETCD_PEER_PORT" && die "etcd peer port $ETCD_PEER_PORT is taken by another process; run down, then up"
	log "starting etcd on 127.0.0.1:$ETCD_PORT"
	mkdir -p "$STATE/etcd"
	chmod 700 "$STATE/etcd"
	launch etcd \
		--name=infermon \
		--data-dir="$STATE/etcd" \
		--listen-client-urls="http://127.0.0.1:$ETCD_PORT" \
		--advertise-client-urls="http://127.0.0.1:$ETCD_PORT" \
		--listen-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" \
		--initial-advertise-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" \
		--initial-cluster="infermon=http://127.0.0.1:$ETCD_PEER_PORT" \
		--unsafe-no-fsync=true \
		--quota-backend-bytes=2147483648 \
		--log-level=warn
	wait_until etcd "etcd health on 127.0.0.1:$ETCD_PORT" etcd_healthy
}

etcd_healthy() {
	local out
	out=$(curl -sf --max-time 2 "http://127.0.0.1:$ETCD_PORT/health" 2>/dev/null) || return 1
	[[ $out == *'"health":"true"'* ]]
}

apiserver_args() {
	APISERVER_ARGS=(
		--secure-port="$APISERVER_PORT"
		--tls-cert-file="$PKI/apiserver.crt"
		--tls-private-key-file="$PKI/apiserver.key"
		--client-ca-file="$PKI/ca.crt"
		--etcd-servers="http://127.0.0.1:$ETCD_PORT"
		--etcd-compaction-interval="$ETCD_COMPACTION_INTERVAL"
		--service-cluster-ip-range="$SERVICE_CIDR"
		--service-account-issuer="$ISSUER"
		--service-account-key-file="$PKI/sa.pub"
		--service-account-signing-key-file="$PKI/sa.key"
		--api-audiences="$ISSUER"
		--requestheader-client-ca-file="$PKI/front-proxy-ca.crt"
		--requestheader-allowed-names=front-proxy-client
		--requestheader-username-headers=X-Remote-User
		--requestheader-group-headers=X-Remote-Group
		--requestheader-extra-headers-prefix=X-Remote-Extra-
		--proxy-client-cert-file="$PKI/front-proxy-client.crt"
		--proxy-client-key-file="$PKI/front-proxy-client.key"
		--enable-aggregator-routing=true
		--shutdown-watch-termination-grace-period=3s
		--allow-privileged=true
		--profiling=false
		--cert-dir="$STATE/apiserver-certs"
	)
	if [ "$NODE" = 1 ]; then
		# pods reach it through the kubernetes Service at its advertised
		# node address; the kubelet's pods get their ServiceAccount token
		# volume (admission plugin ServiceAccount); kubelets are authorized
		# by the Node authorizer; logs and exec go to the node's InternalIP
		APISERVER_ARGS+=(
			--bind-address=0.0.0.0
			--advertise-address="$NODE_IP"
			--authorization-mode=Node,RBAC
			--enable-admission-plugins=NodeRestriction
			--kubelet-preferred-address-types=InternalIP
			--kubelet-client-certificate="$PKI/apiserver-kubelet-client.crt"
			--kubelet-client-key="$PKI/apiserver-kubelet-client.key")
	else
		APISERVER_ARGS+=(
			--bind-address=127.0.0.1
			--advertise-address=127.0.0.1
			--authorization-mode=RBAC
			--disable-admission-plugins=ServiceAccount
			--endpoint-reconciler-type=none)
	fi
	if [ -n "$APISERVER_EXTRA_ARGS" ]; then
		local extra
		read -r -a extra <<< "$APISERVER_EXTRA_ARGS"
		APISERVER_ARGS+=("${extra[@]}")
	fi
}

apiserver_ready() {
	local out
	out=$(curl -sf --max-time 3 --cacert "$PKI/ca.crt" --cert "$PKI/admin.crt" --key "$PKI/admin.key" \
		"https://127.0.0.1:$APISERVER_PORT/readyz" 2>/dev/null) || return 1
	[ "$out" = ok ]
}

start_apiserver() {
	if running kube-apiserver; then
		wait_until kube-apiserver "kube-apiserver /readyz on 127.0.0.1:$APISERVER_PORT" apiserver_ready
		return 0
	fi
	running etcd || die "etcd is not running; run hack/local-cluster.sh up"
	# an API server just killed or stopped may hold its port a moment after
	# its pid looks gone (the kernel releases its memory before its files)
	local i
	for ((i = 0; i < 100; i++)); do port_busy "$APISERVER_PORT" || break; sleep 0.1; done
	port_busy "$APISERVER_PORT" && die "kube-apiserver port $APISERVER_PORT is taken by another process; run down, then up"
	log "starting kube-apiserver on https://127.0.0.1:$APISERVER_PORT"
	apiserver_args
	launch kube-apiserver "${APISERVER_ARGS[@]}"
	wait_until kube-apiserver "kube-apiserver /readyz on 127.0.0.1:$APISERVER_PORT" apiserver_ready
}

kcm_healthy() {
	local out
	out=$(curl -sfk --max-time 2 "https://127.0.0.1:$KCM_PORT/healthz" 2>/dev/null) || return 1
	[ "$out" = ok ]
}

start_kcm() {
	running kube-controller-manager && return 0
	port_busy "$KCM_PORT" && die "kube-controller-manager port $KCM_PORT is taken by another process; run down, then up"
	log "starting kube-controller-manager ($KCM_CONTROLLERS)"
	local kc=$STATE/kube-controller-manager.kubeconfig
	launch kube-controller-manager \
		--kubeconfig="$kc" \
		--authentication-kubeconfig="$kc" \
		--authorization-kubeconfig="$kc" \
		--controllers="$KCM_CONTROLLERS" \
		--use-service-account-credentials=true \
		--leader-elect=false \
		--root-ca-file="$PKI/ca.crt" \
		--service-account-private-key-file="$PKI/sa.key" \
		--service-cluster-ip-range="$SERVICE_CIDR" \
		--bind-address=127.0.0.1 \
		--secure-port="$KCM_PORT" \
		--cert-dir="$STATE/kcm-certs" \
		--profiling=false
	wait_until kube-controller-manager "kube-controller-manager /healthz on 127.0.0.1:$KCM_PORT" kcm_healthy
}

kctl() { "$BIN/kubectl" --kubeconfig="$STATE/admin.kubeconfig" "$@"; }

apply_crds() {
	local dir
	dir=$(promop_crd_dir)
	log "applying prometheus-operator CRDs (server-side) from $dir"
	# applied.crds records what up applied, one object per line, for tests
	kctl apply --server-side --force-conflicts --field-manager=infermon-local-cluster \
		--request-timeout=60s -f "$dir" -o name > "$STATE/applied.crds"
	if [ -f "$ROOT/crds/kustomization.yaml" ]; then
		log "applying $ROOT/crds (server-side)"
		kctl apply --server-side --force-conflicts --field-manager=infermon-local-cluster \
			--request-timeout=60s -k "$ROOT/crds" -o name >> "$STATE/applied.crds"
	fi
	# a CRD created a moment ago may have no status.conditions yet, and
	# kubectl wait then fails at once ("conditions accessor error"): retry
	local end=$((SECONDS + TIMEOUT))
	until kctl wait --for=condition=Established --timeout="${TIMEOUT}s" crd --all >/dev/null 2>"$STATE/crd-wait.err"; do
		[ $SECONDS -lt $end ] || die "CRDs not Established within ${TIMEOUT} s: $(cat "$STATE/crd-wait.err")"
		sleep 1
	done
}

# The controller's namespace, where its leader-election Lease lives
# (infermon run's default --leader-elect-namespace; deploy/ creates it in a
# real cluster).
ensure_controller_namespace() {
	kctl --request-timeout=30s get namespace infermon-system > /dev/null 2>&1 ||
		kctl --request-timeout=30s create namespace infermon-system > /dev/null 2>&1 ||
		kctl --request-timeout=30s get namespace infermon-system > /dev/null
}

default_sa_exists() { kctl --request-timeout=5s -n default get serviceaccount default > /dev/null 2>&1; }

healthy() {
	local c
	for c in "${COMPONENTS[@]}"; do running "$c" || return 1; done
	apiserver_ready || return 1
	[ "$NODE" != 1 ] || node_ready
}

# settings_requested: sets ETCD_COMPACTION_INTERVAL / APISERVER_EXTRA_ARGS
# from the environment when given there; fails if that changed the recorded
# values (the API server must then be restarted with them).
settings_requested() {
	local changed=
	if [ -n "${INFERMON_ETCD_COMPACTION_INTERVAL:-}" ] &&
		[ "$INFERMON_ETCD_COMPACTION_INTERVAL" != "$ETCD_COMPACTION_INTERVAL" ]; then
		ETCD_COMPACTION_INTERVAL=$INFERMON_ETCD_COMPACTION_INTERVAL changed=1
	fi
	if [ -n "${INFERMON_APISERVER_EXTRA_ARGS+x}" ] &&
		[ "$INFERMON_APISERVER_EXTRA_ARGS" != "$APISERVER_EXTRA_ARGS" ]; then
		APISERVER_EXTRA_ARGS=$INFERMON_APISERVER_EXTRA_ARGS changed=1
	fi
	[ -z "$changed" ]
}

# wait_for_guards: waits until no test's restore guard holds the guard lock.
wait_for_guards() {
	[ -e "$STATE.guard.lock" ] || return 0
	exec 8< "$STATE.guard.lock"
	flock -x -w 300 8 || die "a test's restore of the cluster still runs after 300 s (see $LOGS/it-guard.log)"
	exec 8<&-
}

lock() {
	mkdir -p "$(dirname "$STATE")"
	exec 9> "$STATE.lock"
	flock -w "$TIMEOUT" 9 || die "another hack/local-cluster.sh holds $STATE.lock"
}

# ---------------------------------------------------------------- commands

# On a failed up, stop what this run started (logs stay for a look); what
# was already running before is left alone.
STARTED=()
stop_started_on_failure() {
	local rc=$? i
	[ "$rc" -ne 0 ] && [ ${#STARTED[@]} -gt 0 ] || return 0
	log "up failed: stopping what this run started (${STARTED[*]}); logs are in $LOGS"
	for ((i = ${#STARTED[@]} - 1; i >= 0; i--)); do stop "${STARTED[i]}" 5 || true; done
}

cmd_up() {
	trap stop_started_on_failure EXIT
	lock
	if [ -f "$STATE/$MARKER" ] && [ -f "$STATE/cluster.env" ]; then
		load_state
		if healthy && settings_requested; then
			# the checkout's CRDs may be newer than the running cluster's
			apply_crds
			ensure_controller_namespace
			# and its images may be newer than the node's
			if [ "$NODE" = 1 ]; then node_import_images; fi
			log "cluster in $STATE is already up (https://127.0.0.1:$APISERVER_PORT)"
			return 0
		fi
	fi
	"$here/tools/build.sh" kube crds
	local k
	for k in etcd kube-apiserver kube-controller-manager kubectl; do
		[ -x "$BIN/$k" ] || die "$BIN/$k missing after hack/tools/build.sh kube"
	done

	if [ -f "$STATE/$MARKER" ] && [ -f "$STATE/cluster.env" ]; then
		load_state
		if ! settings_requested; then
			log "apiserver settings changed: compaction=$ETCD_COMPACTION_INTERVAL extra=[$APISERVER_EXTRA_ARGS]"
			save_state
			stop kube-apiserver
		fi
	else
		[ ! -e "$STATE" ] || [ -z "$(ls -A "$STATE")" ] ||
			die "$STATE exists, is not empty and is not a local cluster; refusing to use it"
		mkdir -p "$STATE"
		touch "$STATE/$MARKER"
		pick_ports
		ETCD_COMPACTION_INTERVAL=${INFERMON_ETCD_COMPACTION_INTERVAL:-5m}
		APISERVER_EXTRA_ARGS=${INFERMON_APISERVER_EXTRA_ARGS:-}
		save_state
		log "new cluster in $STATE: etcd :$ETCD_PORT (peer :$ETCD_PEER_PORT), apiserver :$APISERVER_PORT, kcm :$KCM_PORT"
	fi
	make_pki
	write_kubeconfig "$STATE/admin.kubeconfig" kubernetes-admin admin
	write_kubeconfig "$STATE/kube-controller-manager.kubeconfig" system:kube-controller-manager kube-controller-manager
	if [ "$NODE" = 1 ]; then node_kubeconfigs; fi

	start_etcd
	start_apiserver
	# CRDs before the controller manager, so its garbage collector sees their
	# resources at its first discovery instead of after its 30s resync.
	apply_crds
	start_kcm
	log "waiting for the default ServiceAccount (serviceaccount controller)"
	wait_until kube-controller-manager "ServiceAccount default/default" default_sa_exists
	ensure_controller_namespace
	if [ "$NODE" = 1 ]; then node_up; fi
	log "cluster up: KUBECONFIG=$STATE/admin.kubeconfig (https://127.0.0.1:$APISERVER_PORT)"
}

cmd_down() {
	wait_for_guards
	lock
	if [ -e "$STATE" ]; then
		if [ ! -f "$STATE/$MARKER" ] && [ -n "$(ls -A "$STATE")" ]; then
			die "$STATE is not a local cluster state dir (no $MARKER); not touching it"
		fi
		if [ "$NODE" = 1 ] && [ -f "$STATE/cluster.env" ]; then load_state; node_down; fi
		stop kube-controller-manager
		stop kube-apiserver
		stop etcd
		rm -rf "$STATE"
		log "cluster in $STATE removed"
	fi
	rm -f "$STATE.lock" "$STATE.guard.lock"
}

cmd_env() {
	wait_for_guards
	printf 'export KUBECONFIG=%q\n' "$STATE/admin.kubeconfig"
	# a node cluster's API server is reachable only inside its namespace
	if [ "$NODE" = 1 ]; then
		printf 'export INFERMON_NETNS=%q INFERMON_CONTAINERD=%q\n' "$NETNS" "$CONTAINERD_SOCK"
	fi
	# shellcheck disable=SC2016 # $PATH expands where the output is eval'd
	printf 'export PATH=%q:"$PATH"\n' "$BIN"
}

cmd_status() {
	if [ ! -f "$STATE/$MARKER" ] || [ ! -f "$STATE/cluster.env" ]; then
		echo "no cluster in $STATE"
		return 1
	fi
	load_state
	local c pid port
	echo "state dir: $STATE"
	for c in "${COMPONENTS[@]}"; do
		case $c in
		etcd) port="127.0.0.1:$ETCD_PORT (peer $ETCD_PEER_PORT)" ;;
		kube-apiserver) port="https://127.0.0.1:$APISERVER_PORT" ;;
		kube-controller-manager) port="https://127.0.0.1:$KCM_PORT" ;;
		esac
		if pid=$(pid_of "$c"); then
			printf '%-24s running  pid %-8s %s\n' "$c" "$pid" "$port"
		else
			printf '%-24s stopped  %-12s %s\n' "$c" "" "$port"
		fi
	done
	echo "etcd compaction interval: $ETCD_COMPACTION_INTERVAL"
	echo "kubeconfig: $STATE/admin.kubeconfig"
	if apiserver_ready; then
		echo "kube-apiserver: ready"
	else
		echo "kube-apiserver: NOT ready"
		return 1
	fi
}

cmd_settings() {
	load_state
	printf 'INFERMON_ETCD_COMPACTION_INTERVAL=%q INFERMON_APISERVER_EXTRA_ARGS=%q\n' \
		"$ETCD_COMPACTION_INTERVAL" "$APISERVER_EXTRA_ARGS"
}

cmd_kill_apiserver() {
	load_state
	local pid i
	pid=$(pid_of kube-apiserver) || { log "kube-apiserver is not running"; return 0; }
	log "kill -9 kube-apiserver (pid $pid)"
	kill -KILL "$pid"
	for ((i = 0; i < 100; i++)); do running kube-apiserver || break; sleep 0.1; done
	! running kube-apiserver || die "kube-apiserver (pid $pid) survived SIGKILL"
	rm -f "$RUN/kube-apiserver.pid"
}

cmd_start_apiserver() {
	lock
	load_state
	if running kube-apiserver; then
		wait_until kube-apiserver "kube-apiserver /readyz" apiserver_ready
		return 0
	fi
	start_apiserver
	log "kube-apiserver ready on https://127.0.0.1:$APISERVER_PORT"
}

cmd_restart_apiserver() {
	lock
	load_state
	stop kube-apiserver
	start_apiserver
	log "kube-apiserver ready on https://127.0.0.1:$APISERVER_PORT"
}

# exec CMD...: CMD with the cluster's KUBECONFIG and kubectl on PATH.
cmd_exec() {
	[ $# -gt 0 ] || usage
	export KUBECONFIG=$STATE/admin.kubeconfig PATH=$BIN:$PATH
	if [ "$NODE" = 1 ]; then export INFERMON_NETNS=$NETNS INFERMON_CONTAINERD=$CONTAINERD_SOCK; fi
	exec "$@"
}

[ $# -ge 1 ] || usage
# A node cluster's commands run inside its network namespace: up makes it
# first, down removes it last (after everything in it has stopped).
if [ "$NODE" = 1 ] && ! in_netns; then
	case $1 in
	up)
		# the images are built out here: inside, nothing reaches Debian's mirror
		"$here/images.sh" build
		node_netns_up
		node_enter "$@"
		;;
	down)
		if [ -e "/run/netns/$NETNS" ]; then
			nsenter --net="/run/netns/$NETNS" "$0" "$@"
			node_netns_down
			rm -rf "$STATE"
			exit 0
		fi
		;;
	exec | status | kill-apiserver | start-apiserver | restart-apiserver)
		[ -e "/run/netns/$NETNS" ] || die "the cluster in $STATE has a node but no network namespace $NETNS: run hack/local-cluster.sh up"
		node_enter "$@"
		;;
	esac
fi
[ "$1" = exec ] || [ $# -eq 1 ] || usage
case $1 in
exec) shift; cmd_exec "$@" ;;
up) cmd_up ;;
down) cmd_down ;;
env) cmd_env ;;
status) cmd_status ;;
dir) echo "$STATE" ;;
settings) cmd_settings ;;
kill-apiserver) cmd_kill_apiserver ;;
start-apiserver) cmd_start_apiserver ;;
restart-apiserver) cmd_restart_apiserver ;;
-h|--help|help) usage ;;
*) usage ;;
esac
