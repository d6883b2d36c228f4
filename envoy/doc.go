// Package envoy holds the shipped deployment files: envoy.yaml (an Envoy
// bootstrap), wasmplugin.yaml (an Istio WasmPlugin), apiguard.json (the
// policy both embed) and its test file. Its tests prove the YAML files
// against Envoy's and Istio's own schemas, so a misspelt field, extension
// type or enum value fails `make test` rather than a deployment. The Go code
// here is tests only: the large schema modules never reach a shipped binary.
package envoy
