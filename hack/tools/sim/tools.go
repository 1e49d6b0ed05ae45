//go:build tools

// Package tools pins llm-d-inference-sim, the vLLM-compatible engine
// simulator tests and the demo run, so go.sum records what it needs.
package tools

import _ "github.com/llm-d/llm-d-inference-sim/cmd/llm-d-inference-sim"
