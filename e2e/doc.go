// Package e2e holds apiguard's end-to-end tests: they load the built
// build/plugin.wasm into the Envoy-faithful host (e2e/host) and tell user
// stories: a request goes in, and the test checks what the client saw, what
// the upstream received, and the logs and metrics. A missing module fails the
// tests; run `make build` (or `make test`, which builds first).
package e2e
