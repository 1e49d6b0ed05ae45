//go:build tools

// Package tools pins Sloth, built from the Go module proxy: test/integration/
// it_slo_sloth.sh compares infermon's SLO burn-rate alerts with the rules
// Sloth generates for the same objectives.
package tools

import (
	_ "github.com/slok/sloth/cmd/sloth"
)
