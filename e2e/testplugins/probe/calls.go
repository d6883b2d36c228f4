//go:build wasip1

package main

import (
	"encoding/binary"
	"strconv"
	"strings"
	"unsafe"
)

// runCalls runs a script of raw host calls and returns what each answered,
// so host tests can check status codes and results call by call. Calls are
// separated by ";" and their fields by ","; each answer is the status, then
// "=" and the value for calls that return one ("<nil>" when the host wrote
// pointer 0). Header maps and buffers are named by their ABI numbers.
//
//	get,MAP,KEY  pairs,MAP  add,MAP,KEY,VALUE  replace,MAP,KEY,VALUE  remove,MAP,KEY
//	size,MAP  setpairs,MAP,k=v/k=v (or "garbage")  body,BUFFER,START,SIZE
//	prop,a.b  propint,a.b  propmap,a.b  setprop,a.b,VALUE  continue,STREAM  log,LEVEL
//	reply,STATUS,k=v/k=v  status  define,TYPE,NAME  inc,NAME,DELTA  record,NAME,VALUE  getmetric,NAME
//	grpc,CLUSTER,SERVICE,METHOD,MESSAGE,TIMEOUT_MS[,k=v/k=v]  grpccancel,TOKEN  grpcclose,TOKEN
func runCalls(script string, metricIDs map[string]uint32) string {
	var out []string
	for _, call := range strings.Split(script, ";") {
		f := strings.Split(call, ",")
		arg := func(i int) string {
			if i < len(f) {
				return f[i]
			}
			return ""
		}
		num := func(i int) uint32 {
			n, _ := strconv.ParseUint(arg(i), 10, 32)
			return uint32(n)
		}
		var st, n uint32
		var p unsafe.Pointer
		value := func(show func([]byte) string) string {
			if st != 0 {
				return strconv.Itoa(int(st))
			}
			if p == nil {
				return "0=<nil>"
			}
			return "0=" + show(hostBytes(p, n))
		}
		res := ""
		switch f[0] {
		case "get":
			st = rawGetHeaderMapValue(num(1), ptr(arg(2)), uint32(len(arg(2))), unsafe.Pointer(&p), &n)
			res = value(asString)
		case "pairs":
			st = rawGetHeaderMapPairs(num(1), unsafe.Pointer(&p), &n)
			res = value(asPairs)
		case "add":
			st = rawAddHeaderMapValue(num(1), ptr(arg(2)), uint32(len(arg(2))), ptr(arg(3)), uint32(len(arg(3))))
			res = strconv.Itoa(int(st))
		case "replace":
			st = rawReplaceHeaderMapValue(num(1), ptr(arg(2)), uint32(len(arg(2))), ptr(arg(3)), uint32(len(arg(3))))
			res = strconv.Itoa(int(st))
		case "remove":
			st = rawRemoveHeaderMapValue(num(1), ptr(arg(2)), uint32(len(arg(2))))
			res = strconv.Itoa(int(st))
		case "size":
			st = rawGetHeaderMapSize(num(1), &n)
			res = strconv.Itoa(int(st))
			if st == 0 {
				res += "=" + strconv.Itoa(int(n))
			}
		case "setpairs":
			b := []byte("garbage")
			if arg(2) != "garbage" {
				b = marshalPairs(arg(2))
			}
			st = rawSetHeaderMapPairs(num(1), &b[0], uint32(len(b)))
			res = strconv.Itoa(int(st))
		case "body":
			st = rawGetBufferBytes(num(1), num(2), num(3), unsafe.Pointer(&p), &n)
			res = value(asString)
		case "prop", "propint", "propmap":
			path := strings.ReplaceAll(arg(1), ".", "\x00")
			st = rawGetProperty(ptr(path), uint32(len(path)), unsafe.Pointer(&p), &n)
			show := map[string]func([]byte) string{"prop": asString, "propint": asInt, "propmap": asPairs}[f[0]]
			res = value(show)
		case "setprop":
			path := strings.ReplaceAll(arg(1), ".", "\x00")
			st = rawSetProperty(ptr(path), uint32(len(path)), ptr(arg(2)), uint32(len(arg(2))))
			res = strconv.Itoa(int(st))
		case "reply":
			h := []byte{0, 0, 0, 0}
			if arg(2) != "" {
				h = marshalPairs(arg(2))
			}
			res = strconv.Itoa(int(rawSendLocalResponse(num(1), h)))
		case "continue":
			res = strconv.Itoa(int(rawContinueStream(num(1))))
		case "log":
			msg := "probe: log call"
			res = strconv.Itoa(int(rawLog(num(1), ptr(msg), uint32(len(msg)))))
		case "status":
			var code uint32
			st = rawGetStatus(&code, unsafe.Pointer(&p), &n)
			res = value(asString) + "/code=" + strconv.Itoa(int(code))
		case "define":
			var id uint32
			st = rawDefineMetric(num(1), ptr(arg(2)), uint32(len(arg(2))), &id)
			res = strconv.Itoa(int(st))
			if st == 0 {
				metricIDs[arg(2)] = id
				res += "=" + strconv.Itoa(int(id))
			}
		case "inc":
			d, _ := strconv.ParseInt(arg(2), 10, 64)
			res = strconv.Itoa(int(rawIncrementMetric(metricIDs[arg(1)], d)))
		case "record":
			v, _ := strconv.ParseUint(arg(2), 10, 64)
			res = strconv.Itoa(int(rawRecordMetric(metricIDs[arg(1)], v)))
		case "getmetric":
			var v uint64
			st = rawGetMetric(metricIDs[arg(1)], &v)
			res = strconv.Itoa(int(st))
			if st == 0 {
				res += "=" + strconv.FormatUint(v, 10)
			}
		case "grpc":
			res = grpcCall(f)
		case "grpccancel":
			res = strconv.Itoa(int(rawGrpcCancel(num(1))))
		case "grpcclose":
			res = strconv.Itoa(int(rawGrpcClose(num(1))))
		default:
			res = "unknown call " + f[0]
		}
		out = append(out, res)
	}
	return strings.Join(out, ";")
}

func asString(b []byte) string { return string(b) }

func asInt(b []byte) string {
	if len(b) != 8 {
		return "bad int of " + strconv.Itoa(len(b)) + " bytes"
	}
	return strconv.FormatInt(int64(binary.LittleEndian.Uint64(b)), 10)
}

// asPairs shows a serialized map as k:v/k:v.
func asPairs(b []byte) string {
	if len(b) < 4 {
		return "short map"
	}
	n := int(binary.LittleEndian.Uint32(b))
	data := b[4+8*n:]
	var out []string
	for i := 0; i < n; i++ {
		kl := int(binary.LittleEndian.Uint32(b[4+8*i:]))
		vl := int(binary.LittleEndian.Uint32(b[8+8*i:]))
		out = append(out, string(data[:kl])+":"+string(data[kl+1:kl+1+vl]))
		data = data[kl+vl+2:]
	}
	return strings.Join(out, "/")
}

// marshalPairs serializes "k=v/k=v" in the proxy-wasm map format.
func marshalPairs(s string) []byte {
	var keys, vals []string
	for _, kv := range strings.Split(s, "/") {
		k, v, _ := strings.Cut(kv, "=")
		keys, vals = append(keys, k), append(vals, v)
	}
	b := binary.LittleEndian.AppendUint32(nil, uint32(len(keys)))
	for i := range keys {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(keys[i])))
		b = binary.LittleEndian.AppendUint32(b, uint32(len(vals[i])))
	}
	for i := range keys {
		b = append(append(b, keys[i]...), 0)
		b = append(append(b, vals[i]...), 0)
	}
	return b
}
