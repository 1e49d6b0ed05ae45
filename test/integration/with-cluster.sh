#!/usr/bin/env bash
# Runs a command with the test cluster's KUBECONFIG and the cached kubectl
# first on PATH (INFERMON_CLUSTER_DIR picks the cluster).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
eval "$("$root/hack/local-cluster.sh" env)"
cd "$root"
exec "$@"
