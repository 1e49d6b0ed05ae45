#!/usr/bin/env bash
# Runs a command with the test cluster's KUBECONFIG and the cached kubectl
# first on PATH (INFERMON_CLUSTER_DIR picks the cluster), inside the
# cluster's network namespace when it has the real node.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
# (env waits for a restore of the cluster a failed test left running; a
# failure of it must stop this, which eval "$(...)" would not)
env=$("$root/hack/local-cluster.sh" env)
eval "$env"
cd "$root"
# a node cluster's API server and pods are reachable only inside its
# network namespace (hack/local-cluster.sh env sets INFERMON_NETNS)
if [ -n "${INFERMON_NETNS:-}" ]; then
	exec nsenter --net="/run/netns/$INFERMON_NETNS" "$@"
fi
exec "$@"
