//go:build tools

// Package tools pins Prometheus and promtool, built from the Go module proxy:
// Debian's prometheus package is built without Kubernetes service discovery,
// which the generated scrape configs use.
package tools

import (
	_ "github.com/prometheus/prometheus/cmd/prometheus"
	_ "github.com/prometheus/prometheus/cmd/promtool"
)
