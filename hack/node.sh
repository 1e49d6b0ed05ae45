# The real node of the local cluster (docs/real-node.md): a network
# namespace of the run's own with addresses from 198.18.0.0/15, containerd
# and runc from Debian, CNI ptp pods in 198.19.0.0/24, and kubelet,
# kube-scheduler and kube-proxy built from the same k8s.io/kubernetes pin as
# the control plane. Sourced by hack/local-cluster.sh, which calls these
# functions when the cluster was made with INFERMON_CLUSTER_NODE=1; they use
# its STATE, PKI, LOGS, RUN, BIN, launch, stop, running and wait_until.

NODE_NAME=infermon-node
NODE_IP=198.18.0.1
NODE_NET=198.18.0.0/24
POD_CIDR=198.19.0.0/24
# the Service range, inside 198.18.0.0/15 as well, so that nothing a pod or
# kube-proxy does is ever addressed outside the namespace
NODE_SERVICE_CIDR=198.18.96.0/20
NODE_FIRST_SERVICE_IP=198.18.96.1
# The kubelet changes these host-wide settings at start; down puts back what
# up found (node_save_host_settings).
NODE_HOST_SYSCTLS=(vm/overcommit_memory kernel/panic kernel/panic_on_oops)

# node_names: NETNS (the namespace), NODE_RUN (short paths for sockets and
# the pods' network namespaces), VETH; all derived from the state dir so
# that two node clusters (the tests' and the demo's) never share one.
node_names() {
	local h
	h=$(printf '%s' "$STATE" | sha256sum | cut -c1-8)
	NETNS=inm-$h
	NODE_RUN=/run/infermon/$h
	VETH=inm$h
	CGROUP_PARENT=/infermon-$h
	CONTAINERD_SOCK=$NODE_RUN/containerd.sock
}

# in_netns: this process runs inside the cluster's namespace.
in_netns() {
	[ -e "/run/netns/$NETNS" ] &&
		[ "$(stat -L -c %d:%i /proc/self/ns/net)" = "$(stat -L -c %d:%i "/run/netns/$NETNS")" ]
}

# node_netns_up: the namespace with a veth pair whose ends both live in it
# (the kernel here has no dummy links): one end carries NODE_IP and the
# default route, so the kubelet and kube-proxy find their node address.
node_netns_up() {
	if [ -e "/run/netns/$NETNS" ]; then return 0; fi
	log "creating network namespace $NETNS ($NODE_IP/24, pods $POD_CIDR)"
	ip netns add "$NETNS"
	ip link add "${VETH}a" type veth peer name "${VETH}b"
	ip link set "${VETH}a" netns "$NETNS"
	ip link set "${VETH}b" netns "$NETNS"
	nsenter --net="/run/netns/$NETNS" sh -ec "
		ip link set lo up
		ip addr add $NODE_IP/24 dev ${VETH}a
		ip link set ${VETH}a up
		ip link set ${VETH}b up
		ip route add default dev ${VETH}a
		sysctl -qw net.ipv4.ip_forward=1"
}

node_netns_down() {
	[ -e "/run/netns/$NETNS" ] || return 0
	ip netns del "$NETNS"
}

# node_enter ARGS...: re-runs this script with ARGS inside the namespace.
node_enter() {
	exec nsenter --net="/run/netns/$NETNS" "$0" "$@"
}

node_pki() {
	local common='basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
authorityKeyIdentifier = keyid'
	sign kube-scheduler "/CN=system:kube-scheduler" "$common
extendedKeyUsage = clientAuth"
	sign kube-proxy "/CN=system:kube-proxy" "$common
extendedKeyUsage = clientAuth"
	sign kubelet "/O=system:nodes/CN=system:node:$NODE_NAME" "$common
extendedKeyUsage = clientAuth"
	# the API server's client certificate for logs, exec and port-forward
	sign apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" "$common
extendedKeyUsage = clientAuth"
	sign kubelet-serving "/CN=$NODE_NAME" "$common
extendedKeyUsage = serverAuth
subjectAltName = IP:$NODE_IP,DNS:$NODE_NAME"
	chmod 600 "$PKI"/*.key
}

node_kubeconfigs() {
	write_kubeconfig "$STATE/kube-scheduler.kubeconfig" system:kube-scheduler kube-scheduler
	write_kubeconfig "$STATE/kube-proxy.kubeconfig" system:kube-proxy kube-proxy
	write_kubeconfig "$STATE/kubelet.kubeconfig" "system:node:$NODE_NAME" kubelet
}

# node_save_host_settings: records the host-wide sysctls the kubelet sets,
# before the first node cluster on this host starts its kubelet; every
# node cluster registers itself, and the last one down writes them back
# (node_restore_host_settings). Two node clusters at once (the tests' and
# the demo's) must not take each other's kubelet's values for the host's.
HOST_STATE=/run/infermon/host
node_save_host_settings() {
	local s
	mkdir -p "$HOST_STATE/users"
	(
		flock -w 60 8 || die "cannot lock $HOST_STATE/lock"
		if [ ! -f "$HOST_STATE/sysctls" ]; then
			for s in "${NODE_HOST_SYSCTLS[@]}"; do
				printf '%s=%s\n' "$s" "$(cat "/proc/sys/$s")"
			done > "$HOST_STATE/sysctls.tmp"
			mv "$HOST_STATE/sysctls.tmp" "$HOST_STATE/sysctls"
		fi
		echo "$STATE" > "$HOST_STATE/users/$NETNS"
	) 8> "$HOST_STATE/lock"
}

node_restore_host_settings() {
	[ -d "$HOST_STATE" ] || return 0
	(
		flock -w 60 8 || die "cannot lock $HOST_STATE/lock"
		rm -f "$HOST_STATE/users/$NETNS"
		local u line
		# registrations of clusters whose state dir is gone do not count
		for u in "$HOST_STATE"/users/*; do
			[ -f "$u" ] && [ ! -d "$(cat "$u")" ] && rm -f "$u"
		done
		if [ -z "$(ls -A "$HOST_STATE/users")" ] && [ -f "$HOST_STATE/sysctls" ]; then
			while IFS= read -r line; do
				[ -n "$line" ] || continue
				echo "${line#*=}" > "/proc/sys/${line%%=*}" ||
					echo "warning: cannot restore /proc/sys/${line%%=*} to ${line#*=}" >&2
			done < "$HOST_STATE/sysctls"
			rm -f "$HOST_STATE/sysctls"
		fi
	) 8> "$HOST_STATE/lock"
}

containerd_config() {
	mkdir -p "$STATE/containerd" "$STATE/cni/net.d" "$NODE_RUN"
	cat > "$STATE/containerd/config.toml" <<-EOF
		# written by hack/local-cluster.sh (docs/real-node.md)
		version = 2
		root = "$STATE/containerd/root"
		state = "$NODE_RUN/containerd"
		[grpc]
		  address = "$CONTAINERD_SOCK"
		[plugins."io.containerd.grpc.v1.cri"]
		  # no registry is reachable: hack/images.sh builds it, up imports it
		  sandbox_image = "localhost/pause:infermon"
		  # the sandbox lacks CAP_SYS_RESOURCE: without this every pod
		  # sandbox fails ("can't get final child's PID from pipe: EOF")
		  restrict_oom_score_adj = true
		  # the pods' network namespaces under the state dir above, not
		  # /run/netns, so that down finds and removes every one of them
		  netns_mounts_under_state_dir = true
		  [plugins."io.containerd.grpc.v1.cri".containerd]
		    snapshotter = "overlayfs"
		    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
		      runtime_type = "io.containerd.runc.v2"
		      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
		        SystemdCgroup = false
		  [plugins."io.containerd.grpc.v1.cri".cni]
		    bin_dir = "/usr/lib/cni"
		    conf_dir = "$STATE/cni/net.d"
	EOF
	cat > "$STATE/cni/net.d/10-infermon.conflist" <<-EOF
		{
		  "cniVersion": "0.4.0",
		  "name": "infermon-pods",
		  "plugins": [
		    {"type": "ptp", "ipMasq": false,
		     "ipam": {"type": "host-local", "ranges": [[{"subnet": "$POD_CIDR"}]],
		              "routes": [{"dst": "0.0.0.0/0"}], "dataDir": "$STATE/cni/ipam"}},
		    {"type": "portmap", "capabilities": {"portMappings": true}}
		  ]
		}
	EOF
}

ctr_k8s() { ctr --address "$CONTAINERD_SOCK" --namespace k8s.io "$@"; }

containerd_ready() { ctr --address "$CONTAINERD_SOCK" version > /dev/null 2>&1; }

start_containerd() {
	running containerd && return 0
	containerd_config
	log "starting containerd ($CONTAINERD_SOCK)"
	launch_path containerd /usr/bin/containerd --config "$STATE/containerd/config.toml"
	wait_until containerd "containerd on $CONTAINERD_SOCK" containerd_ready
}

# node_import_images: imports the images hack/images.sh built (up builds
# them before it enters the namespace) into containerd's k8s.io namespace,
# where the kubelet finds them.
node_import_images() {
	local dir=$STATE/images f
	"$here/images.sh" export "$dir"
	for f in "$dir"/*.tar; do
		ctr_k8s images import --no-unpack=false "$f" > /dev/null ||
			die "importing $f into containerd failed"
	done
	rm -rf "$dir"
}

kubelet_config() {
	mkdir -p "$STATE/kubelet" "$STATE/pod-logs"
	cat > "$STATE/kubelet/config.yaml" <<-EOF
		# written by hack/local-cluster.sh (docs/real-node.md)
		apiVersion: kubelet.config.k8s.io/v1beta1
		kind: KubeletConfiguration
		# the host's cgroups are v1 (hybrid); the kubelet refuses v1 unless told
		failCgroupV1: false
		cgroupDriver: cgroupfs
		# pods' cgroups under a parent of this cluster's own, so that two
		# node clusters never share /kubepods and teardown knows what it made
		cgroupRoot: $CGROUP_PARENT
		failSwapOn: false
		containerRuntimeEndpoint: unix://$CONTAINERD_SOCK
		podLogsDir: $STATE/pod-logs
		address: $NODE_IP
		port: 10250
		readOnlyPort: 0
		healthzBindAddress: 127.0.0.1
		healthzPort: 10248
		tlsCertFile: $PKI/kubelet-serving.crt
		tlsPrivateKeyFile: $PKI/kubelet-serving.key
		authentication:
		  anonymous: {enabled: false}
		  webhook: {enabled: true}
		  x509: {clientCAFile: $PKI/ca.crt}
		authorization:
		  mode: Webhook
		resolvConf: /etc/resolv.conf
		clusterDomain: cluster.local
		# images are imported, never pulled: garbage collection must not
		# remove them, and the node must not be evicted for a full disk
		imageGCHighThresholdPercent: 100
		evictionHard:
		  memory.available: 100Mi
		  nodefs.available: "1%"
		  imagefs.available: "1%"
		  nodefs.inodesFree: "1%"
		serializeImagePulls: false
		syncFrequency: 10s
		nodeStatusUpdateFrequency: 5s
		shutdownGracePeriod: 0s
	EOF
}

kubelet_healthy() { [ "$(curl -sf --max-time 2 http://127.0.0.1:10248/healthz 2>/dev/null)" = ok ]; }

node_cgroup_dirs() {
	local d
	for d in /sys/fs/cgroup/*/; do
		[ -d "$d" ] && [ ! -L "${d%/}" ] && echo "${d%/}$CGROUP_PARENT"
	done
}

start_kubelet() {
	running kubelet && return 0
	kubelet_config
	node_save_host_settings
	local d
	for d in $(node_cgroup_dirs); do mkdir -p "$d" 2>/dev/null || true; done
	log "starting kubelet (node $NODE_NAME at $NODE_IP)"
	launch kubelet \
		--config="$STATE/kubelet/config.yaml" \
		--kubeconfig="$STATE/kubelet.kubeconfig" \
		--root-dir="$STATE/kubelet/root" \
		--cert-dir="$STATE/kubelet/pki" \
		--hostname-override="$NODE_NAME" \
		--node-ip="$NODE_IP" \
		--v=1
	wait_until kubelet "kubelet /healthz" kubelet_healthy
	wait_until kubelet "node $NODE_NAME Ready" node_ready
}

node_ready() {
	[ "$(kctl --request-timeout=5s get node "$NODE_NAME" \
		-o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" = True ]
}

scheduler_healthy() { [ "$(curl -sfk --max-time 2 https://127.0.0.1:10259/healthz 2>/dev/null)" = ok ]; }

start_scheduler() {
	running kube-scheduler && return 0
	log "starting kube-scheduler"
	local kc=$STATE/kube-scheduler.kubeconfig
	launch kube-scheduler \
		--kubeconfig="$kc" \
		--authentication-kubeconfig="$kc" \
		--authorization-kubeconfig="$kc" \
		--leader-elect=false \
		--bind-address=127.0.0.1 \
		--secure-port=10259 \
		--cert-dir="$STATE/scheduler-certs" \
		--profiling=false
	wait_until kube-scheduler "kube-scheduler /healthz" scheduler_healthy
}

kube_proxy_healthy() { curl -sf --max-time 2 http://127.0.0.1:10256/healthz > /dev/null 2>&1; }

start_kube_proxy() {
	running kube-proxy && return 0
	cat > "$STATE/kube-proxy.yaml" <<-EOF
		# written by hack/local-cluster.sh (docs/real-node.md)
		apiVersion: kubeproxy.config.k8s.io/v1alpha1
		kind: KubeProxyConfiguration
		clientConnection:
		  kubeconfig: $STATE/kube-proxy.kubeconfig
		hostnameOverride: $NODE_NAME
		mode: iptables
		clusterCIDR: $POD_CIDR
		bindAddress: $NODE_IP
		healthzBindAddress: 127.0.0.1:10256
		metricsBindAddress: 127.0.0.1:10249
		# conntrack limits are host-wide: leave them as they are
		conntrack:
		  maxPerCore: 0
		  min: 0
		  tcpEstablishedTimeout: 0s
		  tcpCloseWaitTimeout: 0s
	EOF
	log "starting kube-proxy (iptables, Services in $NODE_SERVICE_CIDR)"
	launch kube-proxy --config="$STATE/kube-proxy.yaml"
	wait_until kube-proxy "kube-proxy /healthz" kube_proxy_healthy
}

# node_up: containerd, images, kube-scheduler, kubelet, kube-proxy (the
# control plane is already up).
node_up() {
	start_containerd
	node_import_images
	start_scheduler
	start_kubelet
	# its /healthz stays 503 until its Node exists
	start_kube_proxy
}

# node_down: pods first (the kubelet stops their containers and CNI tears
# their network down), then the node's processes, then whatever a killed
# run may have left: container shims, mounts under the state dir, the
# pods' network namespaces, cgroups, container log links, the namespace.
node_down() {
	local i d l
	# nothing may replace or place the pods deleted below
	stop kube-controller-manager
	stop kube-scheduler
	if running kubelet && running kube-apiserver; then
		kctl --request-timeout=20s delete pods --all --all-namespaces --grace-period=1 --wait=false > /dev/null 2>&1 || true
		for ((i = 0; i < 120; i++)); do
			[ -z "$(ctr_k8s tasks ls -q 2>/dev/null)" ] && break
			sleep 0.5
		done
	fi
	stop kubelet
	stop kube-proxy
	stop kube-scheduler
	if running containerd; then
		for i in $(ctr_k8s tasks ls -q 2>/dev/null); do ctr_k8s tasks kill -s KILL "$i" > /dev/null 2>&1 || true; done
	fi
	stop containerd
	# shims of this containerd (they outlive it by design)
	for d in /proc/[0-9]*; do
		[ "$(readlink "$d/exe" 2>/dev/null)" = /usr/bin/containerd-shim-runc-v2 ] || continue
		tr '\0' ' ' < "$d/cmdline" 2>/dev/null | grep -qF -- "$CONTAINERD_SOCK" || continue
		kill -KILL "${d#/proc/}" 2>/dev/null || true
	done
	unmount_under "$STATE" || echo "warning: mounts left under $STATE" >&2
	unmount_under "$NODE_RUN" || echo "warning: mounts left under $NODE_RUN" >&2
	rm -rf "$NODE_RUN"
	for d in $(node_cgroup_dirs); do
		[ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null || true
	done
	for l in /var/log/containers/*.log; do
		[ -L "$l" ] && [[ $(readlink "$l") == "$STATE/"* ]] && rm -f "$l"
	done
	rmdir /var/log/containers 2>/dev/null || true
	node_restore_host_settings
}
