//go:build wasip1 && go1.21

// This file is copied into the SDK's proxywasm package by `make build`; see
// README.md beside it.

package proxywasm

import "github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/internal"

// LendNextAllocation offers buf for the memory the host asks for in the next
// host call (proxy_on_memory_allocate), when it fits; LendNextAllocation(nil)
// after the call withdraws it. The caller must not reuse buf while anything
// read into it is in use.
func LendNextAllocation(buf []byte) { internal.Lend(buf) }
