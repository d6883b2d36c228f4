//go:build !wasip1

package main

import (
	"time"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm"
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"
)

// The SDK's calls stand in for the direct bindings of hostabi_wasip1.go in
// native tests, where the SDK's proxytest emulates the host.

func headerPairs(mapType uint32, dst [][2]string, _ *[]byte) ([][2]string, error) {
	get := proxywasm.GetHttpRequestHeaders
	if mapType == mapResponseHeaders {
		get = proxywasm.GetHttpResponseHeaders
	}
	pairs, err := get()
	if err == types.ErrorStatusNotFound {
		// The SDK's word for an empty map.
		err = nil
	}
	return append(dst, pairs...), err
}

func setProperty(name, value string) error {
	return proxywasm.SetProperty([]string{name}, []byte(value))
}

func sendLocalResponse(status int, headers [][2]string, body []byte, grpcStatus int32) error {
	return proxywasm.SendHttpResponse(uint32(status), headers, body, grpcStatus)
}

func getProperty(path []string) ([]byte, error) { return proxywasm.GetProperty(path) }

func getSharedData(key string) ([]byte, uint32, error) { return proxywasm.GetSharedData(key) }

func wallClock() time.Time { return time.Now() }

var (
	removeRequestHeader   = proxywasm.RemoveHttpRequestHeader
	replaceRequestHeader  = proxywasm.ReplaceHttpRequestHeader
	removeResponseHeader  = proxywasm.RemoveHttpResponseHeader
	replaceResponseHeader = proxywasm.ReplaceHttpResponseHeader
)
