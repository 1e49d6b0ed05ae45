//go:build tools

// Package tools pins grafana/dashboard-linter, which lints
// dashboards/*.json (hack/tools/build.sh linter builds it into the cache).
package tools

import _ "github.com/grafana/dashboard-linter"
