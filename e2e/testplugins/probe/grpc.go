//go:build wasip1

package main

import (
	"strconv"
	"unsafe"
)

// The SDK has no gRPC calls: the probe exports their callbacks itself and
// logs what each one sees, for the host's tests to read.

//go:wasmexport proxy_on_grpc_receive
func onGrpcReceive(root, token, size uint32) {
	var p unsafe.Pointer
	var n uint32
	st := rawGetBufferBytes(5, 0, size, unsafe.Pointer(&p), &n)
	msg := ""
	if st == 0 && p != nil {
		msg = string(hostBytes(p, n))
	}
	probeLog("probe: grpc_receive root=" + itoa(root) + " token=" + itoa(token) + " size=" + itoa(size) + " message=" + msg)
}

//go:wasmexport proxy_on_grpc_close
func onGrpcClose(root, token, code uint32) {
	var p unsafe.Pointer
	var n, status uint32
	rawGetStatus(&status, unsafe.Pointer(&p), &n)
	msg := ""
	if p != nil {
		msg = string(hostBytes(p, n))
	}
	probeLog("probe: grpc_close root=" + itoa(root) + " token=" + itoa(token) + " code=" + itoa(code) +
		" status=" + itoa(status) + " message=" + msg)
}

func probeLog(msg string) { rawLog(2, ptr(msg), uint32(len(msg))) }

func itoa(v uint32) string { return strconv.FormatUint(uint64(v), 10) }

// grpcCall is the script's "grpc,CLUSTER,SERVICE,METHOD,MESSAGE,TIMEOUT_MS[,k=v/k=v]".
func grpcCall(f []string) string {
	arg := func(i int) string {
		if i < len(f) {
			return f[i]
		}
		return ""
	}
	md := []byte{0, 0, 0, 0}
	if arg(6) != "" {
		md = marshalPairs(arg(6))
	}
	timeout, _ := strconv.ParseUint(arg(5), 10, 32)
	msg := arg(4) + "\x00" // never empty: a zero-length string has no data pointer
	var token uint32
	st := rawGrpcCall(ptr(arg(1)), uint32(len(arg(1))), ptr(arg(2)), uint32(len(arg(2))), ptr(arg(3)), uint32(len(arg(3))),
		&md[0], uint32(len(md)), ptr(msg), uint32(len(msg)-1), uint32(timeout), &token)
	if st != 0 {
		return itoa(st)
	}
	return "0=" + itoa(token)
}
