//go:build !wasip1

package main

// The probe runs only as wasm; this keeps native builds (go vet) compiling.

func runCalls(string, map[string]uint32) string { panic("probe: wasm only") }
