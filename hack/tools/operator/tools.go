//go:build tools

// Package tools pins prometheus-operator, built from the Go module proxy and
// run out of cluster by test/integration/it_operator.sh, and its config
// reloader, the sidecar of the Prometheus pods it makes on the real node
// (hack/images.sh). A wrapper module
// rather than `go install ...@version`: the operator's own go.mod replaces its
// pkg/apis/monitoring and pkg/client submodules with local directories, which
// go install refuses; here they are required at the same version instead.
package tools

import (
	_ "github.com/prometheus-operator/prometheus-operator/cmd/operator"
	_ "github.com/prometheus-operator/prometheus-operator/cmd/prometheus-config-reloader"
)
