// A minimal proxy-wasm host on V8 (Node's WebAssembly), to measure the plugin
// in the engine Envoy uses by default. It is a measuring instrument, not a
// second e2e host: it reproduces the Envoy facts of e2e/host (the Go host on
// wazero, see ../../../shared/ENVOY-HOST.md) that the benchmark scenarios
// reach, and nothing else: Envoy 1.33's WASI subset (poll_oneoff fails with
// ENOSYS), header maps with lower-case keys, properties, shared data with CAS,
// metrics, logs, buffers, local replies encoded through the filter's own
// response callbacks, and the restricted calls during _initialize and
// proxy_on_memory_allocate. No http calls, ticks or trailers.
//
// The scenarios (configurations, request headers as the filter sees them,
// tokens, expected status) come from a JSON file the Go side writes
// (writeV8Scenarios in e2e/benchscenarios_test.go), so both engines run
// the same streams. Usage:
//
//   node [--no-liftoff] host.mjs SCENARIOS.json [--only NAME] [--streams N]
//        [--rounds R] [--seconds S] [--startup NAME] [--json OUT]
//
// Without --startup it runs every stream scenario (or NAME), checks each
// stream's status and whether it reached the upstream, and then measures each
// start-up scenario in a fresh node process (V8 caches compiled modules per
// process). It exits non-zero on any failed check.

import { readFileSync, writeFileSync } from 'node:fs';
import { randomFillSync } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, resolve } from 'node:path';

// proxy-wasm ABI 0.2.1 status codes.
const OK = 0, NOT_FOUND = 1, BAD_ARGUMENT = 2, INVALID_MEMORY = 6, CAS_MISMATCH = 8, UNIMPLEMENTED = 12;
// WASI errno values Envoy returns.
const ESUCCESS = 0, EBADF = 8, EINVAL = 28, ENOENT = 44, ENOSYS = 52, ENOTSUP = 58;

const NORMAL = 0, INITIALIZE = 1, ALLOCATE = 2;
// proxy-wasm-cpp-host's allow-lists while _initialize and
// proxy_on_memory_allocate run; anything else traps (restricted_callback).
const allowedDuringInitialize = new Set(['proxy_log', 'fd_write', 'args_get', 'args_sizes_get', 'environ_get',
  'environ_sizes_get', 'fd_prestat_get', 'fd_prestat_dir_name', 'clock_time_get', 'random_get', 'fd_fdstat_get',
  'fd_fdstat_set_flags']);
const allowedDuringAllocate = new Set(['proxy_log', 'fd_write', 'clock_time_get']);

const latin1 = (u8, ptr, len) => Buffer.from(u8.buffer, u8.byteOffset + ptr, len).toString('latin1');

// serialize encodes header pairs in the proxy-wasm map format: a u32 count,
// a (key length, value length) u32 pair per entry, then each key and value
// followed by a NUL.
function serialize(h) {
  let size = 4 + 8 * h.length;
  for (const [k, v] of h) size += k.length + v.length + 2;
  const out = Buffer.allocUnsafe(size);
  out.writeUInt32LE(h.length, 0);
  let off = 4 + 8 * h.length;
  h.forEach(([k, v], i) => {
    out.writeUInt32LE(k.length, 4 + 8 * i);
    out.writeUInt32LE(v.length, 8 + 8 * i);
    off += out.write(k, off, 'latin1'); out[off++] = 0;
    off += out.write(v, off, 'latin1'); out[off++] = 0;
  });
  return out;
}

// deserialize is PairsUtil::toPairs: malformed input is an empty map.
function deserialize(b) {
  if (b.length < 4 || b.length > 1 << 20) return [];
  const dv = new DataView(b.buffer, b.byteOffset, b.length);
  const n = dv.getUint32(0, true);
  if (n > 1024 || 4 + 8 * n > b.length) return [];
  const out = [];
  let off = 4 + 8 * n;
  for (let i = 0; i < n; i++) {
    const kl = dv.getUint32(4 + 8 * i, true), vl = dv.getUint32(8 + 8 * i, true);
    if (off + kl + 1 > b.length || b[off + kl] !== 0) return [];
    const k = latin1(b, off, kl); off += kl + 1;
    if (off + vl + 1 > b.length || b[off + vl] !== 0) return [];
    out.push([k, latin1(b, off, vl)]); off += vl + 1;
  }
  return off === b.length ? out : [];
}

const get = (h, k) => { for (const kv of h) if (kv[0] === k) return kv[1]; return undefined; };
const del = (h, k) => { for (let i = h.length - 1; i >= 0; i--) if (h[i][0] === k) h.splice(i, 1); };
const i64 = (v) => { const b = Buffer.alloc(8); b.writeBigInt64LE(BigInt(v)); return b; };

// Process is what an Envoy process shares between VMs: shared data (one CAS
// counter, starting at 1 and skipping 0) and stats by name.
class Process {
  constructor(nowNs) {
    this.nowNs = BigInt(nowNs);
    // A frozen clock, like the Go host's fake clock; monotonic time is an
    // hour of uptime, never zero (the Go runtime treats 0 as unset).
    this.monoNs = 3600n * 1000000000n;
    this.shared = new Map();
    this.cas = 0;
    this.stats = new Map();
  }
  nextCAS() { this.cas = (this.cas + 1) >>> 0; if (this.cas === 0) this.cas = 1; return this.cas; }
}

class Stream {
  // peerUriSan is the client certificate's first URI SAN on a mutual-TLS
  // connection, undefined otherwise.
  constructor(id, root, source, peerUriSan) {
    this.id = id; this.root = root; this.source = source; this.peerUriSan = peerUriSan;
    this.reqHeaders = []; this.respHeaders = [];
    this.reqHeadersOpen = false; this.respHeadersOpen = false;
    this.reqBody = null; this.reqBodyOpen = false; this.respBody = null; this.respBodyOpen = false;
    this.logPhase = false; this.reply = null; this.replySent = false; this.resumed = false;
    this.respTrailers = [];
    this.respCode = 0; this.respDetails = ''; this.upstreamResponded = false;
    this.filterState = new Map();
  }
}

// VM is one instance of the module, as one Envoy worker runs it.
class VM {
  constructor(proc, logs) {
    this.proc = proc; this.logs = logs;
    this.phase = NORMAL; this.hostCalls = 0; this.pollOneoff = 0;
    this.nextID = 1; this.effective = 0; this.rootID = 0; this.configuring = null;
    this.streams = new Map(); this.metricIDs = new Map(); this.nextMetric = [0, 1, 2];
    this.stdio = ['', '', ''];
  }

  // instantiate links the module against Envoy's imports and runs _initialize
  // under its restrictions.
  async instantiate(module) {
    const imports = { env: this.proxyFunctions(), wasi_snapshot_preview1: this.wasiFunctions(), wasi_unstable: this.wasiFunctions() };
    this.instance = await WebAssembly.instantiate(module, imports);
    this.x = this.instance.exports;
    this.memory = this.x.memory;
    this.buf = null;
    if (this.x._initialize) {
      this.phase = INITIALIZE;
      try { this.x._initialize(); } finally { this.phase = NORMAL; }
    }
  }

  // views are refreshed after memory.grow, which detaches the old buffer.
  get u8() {
    if (this.buf !== this.memory.buffer) { this.buf = this.memory.buffer; this._u8 = new Uint8Array(this.buf); this._dv = new DataView(this.buf); }
    return this._u8;
  }
  get dv() { this.u8; return this._dv; }
  str(ptr, len) { return latin1(this.u8, ptr, len); }
  bytes(ptr, len) { return this.u8.subarray(ptr, ptr + len); }
  u32(ptr, v) { this.dv.setUint32(ptr, v >>> 0, true); }

  log(level, msg) {
    this.logs.push([level, msg]);
    if (this.logs.length > 200) this.logs.splice(0, 100);
  }

  // copyOut is copyToPointerSize: the guest allocates, the host copies and
  // stores address and size; empty data is pointer 0, size 0.
  copyOut(data, retPtr, retSize) {
    let ptr = 0;
    if (data.length > 0) {
      const prev = this.phase;
      this.phase = ALLOCATE;
      try { ptr = this.x.proxy_on_memory_allocate(data.length) >>> 0; } finally { this.phase = prev; }
      this.u8.set(data, ptr);
    }
    this.u32(retPtr, ptr); this.u32(retSize, data.length);
    return OK;
  }

  stream() { return this.streams.get(this.effective); }

  // guard counts the call and enforces the phase restrictions. Its
  // parameters are listed, not gathered (...args, apply): an array per host
  // call would be this host's cost, counted as the plugin's. No proxy-wasm
  // or WASI import takes more than 12.
  guard(name, fn) {
    const vm = this;
    return function (a, b, c, d, e, f, g, h, i, j, k, l) {
      vm.hostCalls++;
      if (vm.phase !== NORMAL) {
        const ok = vm.phase === INITIALIZE ? allowedDuringInitialize.has(name) : allowedDuringAllocate.has(name);
        if (!ok) throw new Error(`restricted_callback: ${name} called during ${vm.phase === INITIALIZE ? '_initialize' : 'proxy_on_memory_allocate'}`);
      }
      return fn.call(vm, a, b, c, d, e, f, g, h, i, j, k, l);
    };
  }

  guarded(table) {
    const out = {};
    for (const [name, fn] of Object.entries(table)) out[name] = this.guard(name, fn);
    return out;
  }

  proxyFunctions() {
    const unimplemented = () => UNIMPLEMENTED;
    return this.guarded({
      proxy_log(level, ptr, len) {
        if (level >>> 0 > 5) return BAD_ARGUMENT;
        this.log(level, this.str(ptr, len));
        return OK;
      },
      proxy_get_log_level(ret) { this.u32(ret, 0); return OK; },
      proxy_get_status(code, ptr, len) { this.u32(code, 0); return this.copyOut(new Uint8Array(0), ptr, len); },
      proxy_get_current_time_nanoseconds(ret) { this.dv.setBigUint64(ret, this.proc.nowNs, true); return OK; },
      proxy_get_property(pathPtr, pathLen, retPtr, retLen) {
        const v = this.property(this.str(pathPtr, pathLen));
        return v === undefined ? NOT_FOUND : this.copyOut(v, retPtr, retLen);
      },
      proxy_set_property(pathPtr, pathLen, valPtr, valLen) {
        const s = this.stream();
        if (!s) return NOT_FOUND;
        s.filterState.set(this.str(pathPtr, pathLen), Buffer.from(this.bytes(valPtr, valLen)));
        return OK;
      },
      proxy_send_local_response(status, detPtr, detLen, bodyPtr, bodyLen, hdrPtr, hdrLen, grpcStatus) {
        const s = this.stream();
        if (!s) return BAD_ARGUMENT;
        if (!s.reply && !s.replySent) {
          s.reply = { status: status >>> 0, details: this.str(detPtr, detLen).replace(/\s/g, '_'),
            headers: deserialize(this.bytes(hdrPtr, hdrLen)), body: Buffer.from(this.bytes(bodyPtr, bodyLen)), grpcStatus };
        }
        return OK;
      },
      proxy_get_shared_data(keyPtr, keyLen, retPtr, retLen, casPtr) {
        const e = this.proc.shared.get(this.str(keyPtr, keyLen));
        if (!e) return NOT_FOUND;
        this.copyOut(e.value, retPtr, retLen);
        this.u32(casPtr, e.cas);
        return OK;
      },
      proxy_set_shared_data(keyPtr, keyLen, valPtr, valLen, cas) {
        const key = this.str(keyPtr, keyLen);
        const e = this.proc.shared.get(key);
        if (e && cas !== 0 && cas >>> 0 !== e.cas) return CAS_MISMATCH;
        this.proc.shared.set(key, { value: Buffer.from(this.bytes(valPtr, valLen)), cas: this.proc.nextCAS() });
        return OK;
      },
      proxy_register_shared_queue: unimplemented, proxy_resolve_shared_queue: unimplemented,
      proxy_dequeue_shared_queue: unimplemented, proxy_enqueue_shared_queue: unimplemented,
      proxy_get_header_map_value(type, keyPtr, keyLen, retPtr, retLen) {
        if (type > 7) return BAD_ARGUMENT;
        const h = this.constMap(type);
        if (!h) return this.stream()?.logPhase ? NOT_FOUND : BAD_ARGUMENT;
        const v = get(h, this.mapKey(type, this.str(keyPtr, keyLen)));
        return v === undefined ? NOT_FOUND : this.copyOut(Buffer.from(v, 'latin1'), retPtr, retLen);
      },
      proxy_add_header_map_value(type, keyPtr, keyLen, valPtr, valLen) {
        const h = this.mutableMap(type);
        if (!h) return BAD_ARGUMENT;
        h.push([this.mapKey(type, this.str(keyPtr, keyLen)), this.str(valPtr, valLen)]);
        return OK;
      },
      proxy_replace_header_map_value(type, keyPtr, keyLen, valPtr, valLen) {
        const h = this.mutableMap(type);
        if (!h) return BAD_ARGUMENT;
        const k = this.mapKey(type, this.str(keyPtr, keyLen));
        del(h, k); h.push([k, this.str(valPtr, valLen)]);
        return OK;
      },
      proxy_remove_header_map_value(type, keyPtr, keyLen) {
        const h = this.mutableMap(type);
        if (!h) return BAD_ARGUMENT;
        del(h, this.mapKey(type, this.str(keyPtr, keyLen)));
        return OK;
      },
      proxy_get_header_map_pairs(type, retPtr, retLen) {
        if (type > 7) return BAD_ARGUMENT;
        const h = this.constMap(type);
        return this.copyOut(h && h.length > 0 ? serialize(h) : new Uint8Array(0), retPtr, retLen);
      },
      proxy_set_header_map_pairs(type, ptr, len) {
        const h = this.mutableMap(type);
        if (!h) return BAD_ARGUMENT;
        h.length = 0;
        for (const [k, v] of deserialize(this.bytes(ptr, len))) h.push([this.mapKey(type, k), v]);
        return OK;
      },
      proxy_get_header_map_size(type, ret) {
        const h = this.mutableMap(type);
        if (!h) return BAD_ARGUMENT;
        let n = 0;
        for (const [k, v] of h) n += k.length + v.length;
        this.u32(ret, n);
        return OK;
      },
      proxy_get_buffer_status(type, lenPtr, flagsPtr) {
        if (type > 8) return BAD_ARGUMENT;
        const b = this.buffer(type);
        if (!b) return NOT_FOUND;
        this.u32(lenPtr, b.data.length); this.u32(flagsPtr, 0);
        return OK;
      },
      proxy_get_buffer_bytes(type, start, size, retPtr, retLen) {
        if (type > 8) return BAD_ARGUMENT;
        const b = this.buffer(type);
        if (!b) return NOT_FOUND;
        const n = b.data.length, from = Math.min(start >>> 0, n), to = Math.min(from + (size >>> 0), n);
        return this.copyOut(b.data.subarray(from, to), retPtr, retLen);
      },
      proxy_set_buffer_bytes(type, start, size, ptr, len) {
        if (type > 8) return BAD_ARGUMENT;
        const b = this.buffer(type);
        if (!b) return NOT_FOUND;
        if (!b.set) return BAD_ARGUMENT;
        const data = Buffer.from(this.bytes(ptr, len)), n = b.data.length;
        start >>>= 0; size >>>= 0;
        if (start === 0 && size === 0) b.set(Buffer.concat([data, b.data]));
        else if (start === 0 && size >= n) b.set(data);
        else if (start >= n) b.set(Buffer.concat([b.data, data]));
        else return BAD_ARGUMENT;
        return OK;
      },
      // Envoy answers an http call to a cluster it does not know with
      // BAD_ARGUMENT; the scenarios need none.
      proxy_http_call() { return BAD_ARGUMENT; },
      proxy_grpc_call: unimplemented, proxy_grpc_stream: unimplemented, proxy_grpc_send: unimplemented,
      proxy_grpc_cancel: unimplemented, proxy_grpc_close: unimplemented,
      proxy_set_tick_period_milliseconds() { return OK; },
      proxy_define_metric(type, namePtr, nameLen, idPtr) {
        if (type > 2) return BAD_ARGUMENT;
        const key = `${type}/${this.str(namePtr, nameLen)}`;
        let stat = this.proc.stats.get(key);
        if (!stat) { stat = { value: 0n }; this.proc.stats.set(key, stat); }
        // Envoy steps ids by 4 with the type in the low bits, a new id each call.
        this.nextMetric[type] += 4;
        this.metricIDs.set(this.nextMetric[type], stat);
        this.u32(idPtr, this.nextMetric[type]);
        return OK;
      },
      proxy_increment_metric(id, delta) {
        const kind = id & 3, stat = this.metricIDs.get(id);
        if (kind > 1) return BAD_ARGUMENT;
        if (!stat) return NOT_FOUND;
        if (kind === 0 && delta <= 0n) return BAD_ARGUMENT;
        stat.value += delta;
        return OK;
      },
      proxy_record_metric(id, value) {
        const stat = this.metricIDs.get(id);
        if (!stat) return NOT_FOUND;
        stat.value = (id & 3) === 0 ? stat.value + value : value;
        return OK;
      },
      proxy_get_metric(id, ret) {
        const kind = id & 3, stat = this.metricIDs.get(id);
        if (kind > 1) return BAD_ARGUMENT;
        if (!stat) return NOT_FOUND;
        this.dv.setBigUint64(ret, BigInt.asUintN(64, stat.value), true);
        return OK;
      },
      proxy_set_effective_context(id) {
        if (!this.streams.has(id) && id !== this.rootID) return BAD_ARGUMENT;
        this.effective = id;
        return OK;
      },
      proxy_done() { return NOT_FOUND; },
      proxy_call_foreign_function: unimplemented,
      proxy_continue_stream(kind) {
        const s = this.stream();
        if (kind === 2) return OK;
        if (kind === 3) return UNIMPLEMENTED;
        if (!s || kind > 3) return BAD_ARGUMENT;
        s.reqHeadersOpen = s.reqBodyOpen = false;
        s.resumed = true;
        return OK;
      },
      proxy_close_stream(kind) {
        const s = this.stream();
        if (!s || kind > 3) return BAD_ARGUMENT;
        if (kind < 2) s.reset = true;
        return OK;
      },
    });
  }

  wasiFunctions() {
    return this.guarded({
      fd_write(fd, iovs, n, nwritten) {
        if (fd !== 1 && fd !== 2) return EBADF;
        let msg = '';
        for (let i = 0; i < n; i++) msg += this.str(this.dv.getUint32(iovs + 8 * i, true), this.dv.getUint32(iovs + 8 * i + 4, true));
        this.u32(nwritten, msg.length);
        const lines = (this.stdio[fd] + msg).split('\n');
        this.stdio[fd] = lines.pop();
        for (const l of lines) this.log(fd === 1 ? 2 : 4, l);
        return ESUCCESS;
      },
      fd_read() { return ENOSYS; },
      fd_seek() { this.log(4, 'wasi: fd_seek is not supported'); return ESUCCESS; },
      fd_close() { this.log(4, 'wasi: fd_close is not supported'); return ESUCCESS; },
      fd_fdstat_get(fd, buf) {
        if (fd !== 1 && fd !== 2) return EBADF;
        this.u8.fill(0, buf, buf + 24);
        return ESUCCESS;
      },
      fd_fdstat_set_flags() { return ENOSYS; },
      environ_get() { return ESUCCESS; },
      environ_sizes_get(count, size) { this.u32(count, 0); this.u32(size, 0); return ESUCCESS; },
      args_get() { return ESUCCESS; },
      args_sizes_get(count, size) { this.u32(count, 0); this.u32(size, 0); return ESUCCESS; },
      clock_time_get(id, _precision, ret) {
        if (id > 1) return ENOTSUP;
        this.dv.setBigUint64(ret, id === 0 ? this.proc.nowNs : this.proc.monoNs, true);
        return ESUCCESS;
      },
      random_get(buf, n) {
        if (n >>> 0 > 64 << 10) return EINVAL;
        randomFillSync(this.u8, buf, n);
        return ESUCCESS;
      },
      sched_yield() { return ESUCCESS; },
      // Envoy 1.33-1.38: ENOSYS without writing nevents.
      poll_oneoff() { this.pollOneoff++; return ENOSYS; },
      proc_exit() { this.log(4, 'wasi: proc_exit is not supported'); },
      path_open() { return ENOENT; },
      fd_prestat_get() { return EBADF; },
      fd_prestat_dir_name() { return ENOSYS; },
    });
  }

  // mapKey lower-cases a key; "host" is ":authority" in a request map. Envoy's
  // inline headers, which join a repeated value with a comma, are not
  // modelled: an add appends, as for any other header.
  mapKey(type, k) {
    k = k.toLowerCase();
    return type === 0 && k === 'host' ? ':authority' : k;
  }

  // mutableMap is Context::getMap: a map a callback may still change.
  mutableMap(type) {
    const s = this.stream();
    if (!s) return null;
    if (type === 0 && s.reqHeadersOpen) return s.reqHeaders;
    if (type === 2 && s.respHeadersOpen) return s.respHeaders;
    if (type === 3) return s.respTrailers;
    return null;
  }

  // constMap is Context::getConstMap: on_log reads both maps as they ended.
  constMap(type) {
    const s = this.stream();
    if (s?.logPhase) return type === 0 ? s.reqHeaders : type === 2 ? s.respHeaders : null;
    return this.mutableMap(type);
  }

  // buffer is Context::getBuffer: a body only inside its callback (else an
  // empty, read-only buffer), the plugin configuration only during
  // proxy_on_configure, no http-call body.
  buffer(type) {
    const s = this.stream();
    if (type === 0 && s?.reqBodyOpen) return { data: s.reqBody, set: (b) => { s.reqBody = b; } };
    if (type === 1 && s?.respBodyOpen) return { data: s.respBody, set: (b) => { s.respBody = b; } };
    if (type === 4) return null;
    if (type === 7) return this.configuring ? { data: this.configuring } : null;
    return { data: new Uint8Array(0) };
  }

  // property is Context::getProperty for the attributes a stream has here.
  property(path) {
    const segs = path.replace(/\0$/, '').split('\0');
    const [top, name] = segs;
    const leaf = (v) => (v === undefined || segs.length > 2 ? undefined : typeof v === 'string' ? Buffer.from(v, 'latin1') : v);
    switch (top) {
      case 'plugin_name': case 'plugin_root_id': case 'plugin_vm_id':
        return segs.length === 1 ? Buffer.from('apiguard') : undefined;
    }
    const s = this.stream();
    if (!s) return undefined;
    const live = s.reqHeadersOpen || s.logPhase;
    const req = live ? s.reqHeaders : [];
    const rpath = get(req, ':path');
    // request.headers and response.headers: the map, one pair per name with
    // repeated values joined by ",", or one name's joined values.
    const headers = (h) => {
      if (segs.length === 3) { const vs = h.filter((kv) => kv[0] === segs[2]).map((kv) => kv[1]); return vs.length ? Buffer.from(vs.join(','), 'latin1') : undefined; }
      if (segs.length > 3) return undefined;
      const joined = new Map();
      for (const [k, v] of h) joined.set(k, joined.has(k) ? `${joined.get(k)},${v}` : v);
      return serialize([...joined]);
    };
    switch (top) {
      case 'request':
        switch (name) {
          case 'headers': return headers(req);
          case 'path': return leaf(get(req, ':path'));
          case 'url_path': return leaf(rpath?.split('?')[0]);
          case 'query': return leaf(rpath === undefined ? undefined : (rpath.split('?')[1] ?? '').split('#')[0]);
          case 'host': return leaf(get(req, ':authority'));
          case 'scheme': return leaf(get(req, ':scheme'));
          case 'method': return leaf(get(req, ':method'));
          case 'id': return leaf(get(req, 'x-request-id'));
          case 'useragent': return leaf(get(req, 'user-agent'));
          case 'referer': return leaf(get(req, 'referer'));
          case 'protocol': return leaf('HTTP/1.1');
          case 'time': return leaf(i64(this.proc.nowNs));
        }
        return undefined;
      case 'response':
        if (name === 'headers') return headers(s.respHeadersOpen || s.logPhase ? s.respHeaders : []);
        if (name === 'code') return leaf(s.respCode ? i64(s.respCode) : undefined);
        if (name === 'code_details') return leaf(s.respDetails || undefined);
        return undefined;
      case 'source':
        if (name === 'address') return leaf(s.source);
        if (name === 'port') return leaf(i64(Number(s.source.split(':').pop())));
        return undefined;
      case 'connection':
        // A mutual-TLS stream knows its client certificate's first URI SAN
        // (uri_san_peer_certificate); the other certificate fields are not
        // modelled here.
        if (name === 'mtls') return leaf(Buffer.from([s.peerUriSan ? 1 : 0]));
        if (name === 'requested_server_name') return leaf('');
        if (name === 'uri_san_peer_certificate') return leaf(s.peerUriSan || undefined);
        return undefined;
      case 'destination': case 'upstream': case 'xds':
        return undefined;
    }
    return segs.length === 1 ? s.filterState.get(top) : undefined;
  }

  // call runs an exported callback; a missing one is a no-op returning 0.
  // Listed parameters, as in guard: no callback takes more than five, and
  // a missing one reaches the module as 0.
  call(name, a, b, c, d, e) {
    const fn = this.x[name];
    if (!fn) return 0;
    this.effective = a;
    return fn(a, b, c, d, e) >>> 0;
  }

  // start is WasmBase::start and configure: the root context,
  // proxy_on_vm_start, then proxy_on_configure with the plugin configuration.
  startRoot() {
    this.rootID = this.nextID++;
    this.call('proxy_on_context_create', this.rootID, 0);
    if (!this.call('proxy_on_vm_start', this.rootID, 0)) throw new Error('proxy_on_vm_start returned false');
  }

  configure(config) {
    this.configuring = Buffer.from(config);
    try {
      if (!this.call('proxy_on_configure', this.rootID, this.configuring.length)) throw new Error('proxy_on_configure returned false: configuration rejected');
    } finally { this.configuring = null; }
  }

  // outcome turns a callback's result into what Envoy does next: a local
  // reply overrides it; a pause not resumed in the callback stalls the stream.
  outcome(s, ret) {
    if (s.reset) throw new Error('stream reset');
    if (s.reply && !s.replySent) return 'reply';
    if (ret === 1 && !s.resumed) throw new Error('stream paused and never resumed');
    s.resumed = false;
    return 'continue';
  }

  // roundTrip runs one stream in Envoy's order and returns what the client
  // saw: request headers, body, the upstream's response or the local reply
  // (encoded through the filter's own response callbacks, as Envoy's
  // sendLocalReplyViaFilterChain does), then log, done and delete.
  roundTrip(req, response) {
    const s = new Stream(this.nextID++, this.rootID, req.source, req.peerUriSan);
    this.streams.set(s.id, s);
    const result = { status: 0, upstream: false };
    try {
      this.call('proxy_on_context_create', s.id, this.rootID);
      s.reqHeaders = req.headers.map((kv) => [kv[0], kv[1]]);
      s.reqHeadersOpen = true;
      const hasBody = req.body.length > 0;
      let act = this.outcome(s, this.call('proxy_on_request_headers', s.id, s.reqHeaders.length, hasBody ? 0 : 1));
      if (act === 'continue') s.reqHeadersOpen = false;
      if (act === 'continue' && hasBody) {
        s.reqBody = req.body; s.reqBodyOpen = true;
        act = this.outcome(s, this.call('proxy_on_request_body', s.id, s.reqBody.length, 1));
        s.reqBodyOpen = false;
      }
      if (act === 'reply') {
        this.encodeLocalReply(s, result);
      } else {
        result.upstream = true;
        s.upstreamResponded = true; s.respDetails = 'via_upstream';
        this.responseHeaders(s, response.headers, true, result);
        if (s.reply && !s.replySent) {
          // A reply from on_response_headers goes straight to the client.
          s.replySent = true;
          result.status = s.reply.status;
        }
      }
      s.logPhase = true;
      this.call('proxy_on_log', s.id);
      s.logPhase = false;
      this.call('proxy_on_done', s.id);
      this.call('proxy_on_delete', s.id);
    } finally {
      this.streams.delete(s.id);
    }
    return result;
  }

  responseHeaders(s, headers, end, result) {
    s.respHeaders = headers.map((kv) => [kv[0], kv[1]]);
    s.respHeadersOpen = true;
    s.respCode = Number(get(s.respHeaders, ':status'));
    const act = this.outcome(s, this.call('proxy_on_response_headers', s.id, s.respHeaders.length, end ? 1 : 0));
    if (act === 'continue') s.respHeadersOpen = false;
    result.status = Number(get(s.respHeaders, ':status'));
  }

  // encodeLocalReply is Utility::prepareLocalReply for an HTTP (not gRPC,
  // not HEAD) request: the plugin's headers, then content-length and a
  // text/plain content-type for a body, or neither without one.
  encodeLocalReply(s, result) {
    const r = s.reply;
    s.replySent = true;
    s.respDetails = r.details;
    const h = [[':status', String(r.status)]];
    for (const [k, v] of r.headers) h.push([k.toLowerCase(), v]);
    if (r.body.length > 0) {
      del(h, 'content-length'); h.push(['content-length', String(r.body.length)]);
      if (get(h, 'content-type') === undefined) h.push(['content-type', 'text/plain']);
    } else {
      del(h, 'content-length'); del(h, 'content-type');
    }
    this.responseHeaders(s, h, r.body.length === 0, result);
    if (r.body.length > 0) {
      s.respBody = r.body; s.respBodyOpen = true;
      this.outcome(s, this.call('proxy_on_response_body', s.id, r.body.length, 1));
      s.respBodyOpen = false;
    }
  }
}

// startVM compiles (unless given a compiled module), instantiates and
// configures one VM, timing each phase in milliseconds.
async function startVM(proc, bytes, config, logs) {
  const t = [performance.now()];
  const module = await WebAssembly.compile(bytes);
  t.push(performance.now());
  const vm = new VM(proc, logs);
  await vm.instantiate(module);
  t.push(performance.now());
  vm.startRoot();
  t.push(performance.now());
  vm.configure(config);
  t.push(performance.now());
  return { vm, module, ms: { compile: t[1] - t[0], initialize: t[2] - t[1], vm_start: t[3] - t[2], configure: t[4] - t[3] } };
}

function decodeRequest(r) {
  return { headers: r.headers, source: r.source, peerUriSan: r.peer_uri_san, body: Buffer.from(r.body ?? '', 'base64') };
}

function check(sc, i, res) {
  if (res.status !== sc.status || res.upstream !== sc.status < 300) {
    throw new Error(`${sc.name}: stream ${i}: status ${res.status} (want ${sc.status}), reached upstream ${res.upstream}`);
  }
}

// runStreams times each stream of every scenario, each in a warm VM of its
// own, in opts.rounds rounds: every round runs each scenario's share of the
// streams (and of the time budget) in turn, so that a change in the
// machine's speed weighs on every row alike. The mean is over every stream;
// p50 and p99 are the median of each round's own (as in the Go host's
// measureWazero).
async function runStreams(file, modules, opts) {
  const compiled = new Map();
  const runs = [];
  for (const sc of file.streams) {
    if (opts.only && sc.name !== opts.only) continue;
    const logs = [];
    if (!compiled.has(sc.module)) compiled.set(sc.module, await WebAssembly.compile(modules(sc.module)));
    const run = { sc, logs, vm: new VM(new Process(file.now_ns), logs), reqs: sc.requests.map(decodeRequest),
      response: { headers: sc.response.headers }, times: new Float64Array(opts.streams), n: 0, total: 0, ends: [] };
    await guarded(run, async () => {
      await run.vm.instantiate(compiled.get(sc.module));
      run.vm.startRoot();
      run.vm.configure(sc.config);
      for (let i = 0; i < (sc.prime ?? 0); i++) check({ name: `${sc.name} priming`, status: 200 }, i, run.vm.roundTrip(run.reqs[0], run.response));
      // Warm-up: V8's default tiering moves hot functions from Liftoff to
      // TurboFan as they run.
      const warm = Math.max(1, Math.min(2000, opts.streams >> 3)), warmUntil = performance.now() + opts.seconds * 100;
      for (let i = 0; i < warm && performance.now() < warmUntil; i++) check(sc, i, run.vm.roundTrip(run.reqs[i % run.reqs.length], run.response));
    });
    run.calls0 = run.vm.hostCalls;
    runs.push(run);
  }
  const perRound = Math.ceil(opts.streams / opts.rounds), roundMs = opts.seconds * 1000 / opts.rounds;
  for (let round = 0; round < opts.rounds; round++) {
    for (const run of runs) {
      const { sc, vm, reqs, response, times } = run;
      await guarded(run, async () => {
        const deadline = performance.now() + roundMs;
        const t0 = process.hrtime.bigint();
        for (let k = 0; k < perRound && run.n < opts.streams; k++) {
          const n = run.n++;
          const a = process.hrtime.bigint();
          const res = vm.roundTrip(reqs[n % reqs.length], response);
          times[n] = Number(process.hrtime.bigint() - a);
          check(sc, n, res);
          if ((k & 255) === 255 && performance.now() > deadline) break;
        }
        run.total += Number(process.hrtime.bigint() - t0);
        run.ends.push(run.n);
      });
    }
  }
  return runs.map(({ sc, vm, times, n, total, calls0, ends }) => {
    const p50s = [], p99s = [];
    let from = 0;
    for (const end of ends) {
      if (end === from) continue;
      const round = times.subarray(from, end).sort(), k = end - from;
      p50s.push(round[Math.floor(k * 0.5)]);
      p99s.push(round[Math.min(k - 1, Math.floor(k * 0.99))]);
      from = end;
    }
    const r = { name: sc.name, streams: n, ns_per_stream: total / n, p50_ns: median(p50s),
      p99_ns: median(p99s), host_calls_per_stream: (vm.hostCalls - calls0) / n,
      linear_bytes: vm.memory.buffer.byteLength, poll_oneoff_calls: vm.pollOneoff };
    console.log(`${sc.name.padEnd(34)} ${r.ns_per_stream.toFixed(0).padStart(10)} ns/stream  p50 ${r.p50_ns.toFixed(0)}  p99 ${r.p99_ns.toFixed(0)}  ${r.host_calls_per_stream.toFixed(1)} host calls  ${(r.linear_bytes / (1 << 20)).toFixed(1)} MiB  (${n} streams)`);
    return r;
  });
}

// median is the middle of v (the mean of the two middles of an even count).
function median(v) {
  const s = [...v].sort((a, b) => a - b), n = s.length;
  return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

// guarded runs f, printing the scenario's last log lines if it throws.
async function guarded(run, f) {
  try {
    await f();
  } catch (e) {
    for (const [level, msg] of run.logs.slice(-20)) console.error(`[${level}] ${msg}`);
    throw e;
  }
}

async function runStartup(file, modules, name) {
  const su = file.startup.find((s) => s.name === name);
  if (!su) throw new Error(`no start-up scenario ${name}`);
  const logs = [];
  try {
    const { vm, ms } = await startVM(new Process(file.now_ns), modules(su.module), su.config, logs);
    const linear = vm.memory.buffer.byteLength;
    const t = performance.now();
    check(su, 0, vm.roundTrip(decodeRequest(su.request), { headers: su.response.headers }));
    ms.first_request = performance.now() - t;
    return { name, ms, linear_bytes: linear };
  } catch (e) {
    for (const [level, msg] of logs.slice(-20)) console.error(`[${level}] ${msg}`);
    throw e;
  }
}

function parseArgs(argv) {
  const opts = { streams: 100000, rounds: 1, seconds: 20, only: '', startup: '', json: '' };
  const rest = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--streams') opts.streams = Number(argv[++i]);
    else if (a === '--rounds') opts.rounds = Number(argv[++i]);
    else if (a === '--seconds') opts.seconds = Number(argv[++i]);
    else if (a === '--only') opts.only = argv[++i];
    else if (a === '--startup') opts.startup = argv[++i];
    else if (a === '--json') opts.json = argv[++i];
    else rest.push(a);
  }
  if (rest.length !== 1 || !(opts.streams > 0) || !(opts.rounds >= 1)) {
    console.error('usage: node [--no-liftoff] host.mjs SCENARIOS.json [--only NAME] [--streams N] [--rounds R] [--seconds S] [--startup NAME] [--json OUT]');
    process.exit(2);
  }
  opts.file = rest[0];
  return opts;
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const file = JSON.parse(readFileSync(opts.file, 'utf8'));
  const base = dirname(resolve(opts.file));
  const cache = new Map();
  const modules = (name) => {
    if (!cache.has(name)) cache.set(name, readFileSync(resolve(base, file.modules[name])));
    return cache.get(name);
  };
  const engine = process.execArgv.includes('--no-liftoff') ? 'v8-turbofan' : 'v8-default';
  if (opts.startup) {
    const r = await runStartup(file, modules, opts.startup);
    process.stdout.write(JSON.stringify(r));
    return;
  }
  console.log(`# ${engine}: node ${process.version} ${process.execArgv.join(' ')}`);
  const streams = await runStreams(file, modules, opts);
  const startup = [];
  for (const su of file.startup) {
    if (opts.only) break;
    const out = execFileSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), opts.file, '--startup', su.name], { encoding: 'utf8' });
    const r = JSON.parse(out);
    startup.push(r);
    const ms = Object.entries(r.ms).map(([k, v]) => `${k} ${v.toFixed(1)} ms`).join(', ');
    console.log(`start-up ${su.name}: ${ms}; linear memory after start ${(r.linear_bytes / (1 << 20)).toFixed(1)} MiB`);
  }
  if (opts.json) writeFileSync(opts.json, JSON.stringify({ engine, node: process.version, flags: process.execArgv, streams, startup }, null, 1));
}

main().catch((e) => { console.error(e?.stack ?? String(e)); process.exit(1); });
