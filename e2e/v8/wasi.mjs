// Runs a wasip1 command module (a Go test binary built with GOOS=wasip1
// GOARCH=wasm) under Node's built-in WASI, so that a benchmark of the
// filters measures V8 compiling the same Go code the plugin is made of:
//
//	node [--no-liftoff] e2e/v8/wasi.mjs jwt.wasm -test.bench ...
//
// The current directory is the module's root directory.
import { WASI } from 'node:wasi';
import { readFileSync } from 'node:fs';

const [file, ...args] = process.argv.slice(2);
const wasi = new WASI({ version: 'preview1', args: [file, ...args], env: {}, preopens: { '/': process.cwd() } });
const { instance } = await WebAssembly.instantiate(readFileSync(file), { wasi_snapshot_preview1: wasi.wasiImport });
process.exitCode = wasi.start(instance);
