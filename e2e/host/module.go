package host

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/tetratelabs/wazero"
)

// status is the proxy-wasm ABI 0.2.1 result code.
type status = uint32

const (
	statusOK               status = 0
	statusNotFound         status = 1
	statusBadArgument      status = 2
	statusSerialization    status = 3
	statusParseFailure     status = 4
	statusEmpty            status = 7
	statusCASMismatch      status = 8
	statusInternalFailure  status = 10
	statusBrokenConnection status = 11
	statusUnimplemented    status = 12
)

// EnvoyHostFunctions are the "env" imports proxy-wasm-cpp-host registers for
// every ABI version (include/proxy-wasm/exports.h,
// FOR_ALL_HOST_IMPLEMENTED_ABI_FUNCTIONS, registered in src/wasm.cc
// WasmBase::registerCallbacks), as in Envoy 1.33+.
var EnvoyHostFunctions = []string{
	"proxy_log", "proxy_get_status", "proxy_set_property", "proxy_get_property", "proxy_send_local_response",
	"proxy_get_shared_data", "proxy_set_shared_data",
	"proxy_register_shared_queue", "proxy_resolve_shared_queue", "proxy_dequeue_shared_queue", "proxy_enqueue_shared_queue",
	"proxy_get_header_map_value", "proxy_add_header_map_value", "proxy_replace_header_map_value",
	"proxy_remove_header_map_value", "proxy_get_header_map_pairs", "proxy_set_header_map_pairs", "proxy_get_header_map_size",
	"proxy_get_buffer_status", "proxy_get_buffer_bytes", "proxy_set_buffer_bytes",
	"proxy_http_call", "proxy_grpc_call", "proxy_grpc_stream", "proxy_grpc_close", "proxy_grpc_cancel", "proxy_grpc_send",
	"proxy_set_tick_period_milliseconds", "proxy_get_current_time_nanoseconds",
	"proxy_define_metric", "proxy_increment_metric", "proxy_record_metric", "proxy_get_metric",
	"proxy_set_effective_context", "proxy_done", "proxy_call_foreign_function",
}

// abiSpecificHostFunctions are registered only for modules of one ABI
// version: a 0.2.0 module (what the SDK exports) cannot import
// proxy_get_log_level, nor any module proxy_clear_route_cache (0.1.0 only).
var abiSpecificHostFunctions = map[string][]string{
	"proxy_abi_version_0_2_0": {"proxy_continue_stream", "proxy_close_stream"},
	"proxy_abi_version_0_2_1": {"proxy_continue_stream", "proxy_close_stream", "proxy_get_log_level"},
}

// EnvoyWASI133 is the WASI subset of proxy-wasm-cpp-host after PR #427
// (2024-12-19, first in Envoy 1.33): include/proxy-wasm/exports.h
// FOR_ALL_WASI_FUNCTIONS, registered in src/wasm.cc under both
// wasi_snapshot_preview1 and wasi_unstable. Anything else fails the load with
// "missing import".
var EnvoyWASI133 = []string{
	"fd_write", "fd_read", "fd_seek", "fd_close", "fd_fdstat_get", "fd_fdstat_set_flags",
	"environ_get", "environ_sizes_get", "args_get", "args_sizes_get",
	"clock_time_get", "random_get", "sched_yield", "poll_oneoff", "proc_exit",
	"path_open", "fd_prestat_get", "fd_prestat_dir_name",
}

// wasiModules are the two names Envoy registers every WASI function under.
var wasiModules = []string{"wasi_snapshot_preview1", "wasi_unstable"}

// requiredExports must exist for Envoy to load an HTTP filter module.
var requiredExports = []string{"_initialize", "proxy_on_memory_allocate", "proxy_on_context_create"}

// CheckModule reports whether a compiled module would load in Envoy under the
// profile: an ABI version export, an allocator, and imports drawn only from
// Envoy's host functions and WASI subset. It lists every offending import.
func CheckModule(m wazero.CompiledModule, _ Profile) error {
	var problems []string
	exports := m.ExportedFunctions()
	var abiFunctions []string
	for _, v := range []string{"proxy_abi_version_0_2_1", "proxy_abi_version_0_2_0"} {
		if _, ok := exports[v]; ok {
			abiFunctions = abiSpecificHostFunctions[v]
			break
		}
	}
	if abiFunctions == nil {
		problems = append(problems, "no proxy_abi_version_0_2_0 or proxy_abi_version_0_2_1 export")
	}
	for _, name := range requiredExports {
		if _, ok := exports[name]; !ok {
			problems = append(problems, "missing export "+name)
		}
	}
	for _, f := range m.ImportedFunctions() {
		mod, name, _ := f.Import()
		switch {
		case mod == "env" && (slices.Contains(EnvoyHostFunctions, name) || slices.Contains(abiFunctions, name)):
		case slices.Contains(wasiModules, mod) && slices.Contains(EnvoyWASI133, name):
		default:
			problems = append(problems, fmt.Sprintf("import %s.%s is not provided by Envoy", mod, name))
		}
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		return fmt.Errorf("module would not load in Envoy: %s", strings.Join(problems, "; "))
	}
	return nil
}

// ProxyCallbacks are the exports Envoy may call on an HTTP filter module.
var ProxyCallbacks = []string{
	"proxy_on_memory_allocate", "proxy_on_context_create", "proxy_on_vm_start", "proxy_on_configure",
	"proxy_on_request_headers", "proxy_on_request_body", "proxy_on_request_trailers",
	"proxy_on_response_headers", "proxy_on_response_body", "proxy_on_response_trailers",
	"proxy_on_http_call_response", "proxy_on_tick", "proxy_on_queue_ready",
	"proxy_on_log", "proxy_on_done", "proxy_on_delete",
}
