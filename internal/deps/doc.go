// Package deps holds the test that enforces the dependency rules between
// apiguard's parts (see README, Layout): policy in filters/, proxy-wasm glue in
// plugin/, the host side in e2e/, and test fixtures in internal/testkit.
package deps
