// Command nullplugin is the benchmark floor: a proxy-wasm module built exactly like
// plugin.wasm (same SDK, same binding) that only continues every stream.
package main

import (
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm"
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"
)

func init() { proxywasm.SetVMContext(&vm{}) }

// main never runs: a c-shared wasip1 reactor only runs init.
func main() {}

type vm struct{ types.DefaultVMContext }

func (*vm) NewPluginContext(uint32) types.PluginContext { return &pluginCtx{} }

type pluginCtx struct{ types.DefaultPluginContext }

func (*pluginCtx) NewHttpContext(uint32) types.HttpContext { return &types.DefaultHttpContext{} }
