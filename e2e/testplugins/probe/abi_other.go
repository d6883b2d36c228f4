//go:build !wasip1

package main

// The probe runs only as wasm; these keep native builds (go vet) compiling.

func closeStream(uint32) uint32 { panic("probe: wasm only") }

func replyWithDetails(uint32, string) uint32 { panic("probe: wasm only") }
