# apiguard: see README.md. `make run` builds and starts the local gateway; `make test` runs every test.
SHELL := /bin/bash
GO ?= go
SDK_MOD := github.com/tetratelabs/proxy-wasm-go-sdk
PRETTY_MOD := github.com/tidwall/pretty
GJSON_MOD := github.com/tidwall/gjson
BUILD := $(CURDIR)/build
WASM_ENV := GOWORK=$(BUILD)/go.work GOOS=wasip1 GOARCH=wasm
WASM_FLAGS := -buildmode=c-shared -trimpath
GO_SOURCES := $(shell find plugin filters internal -name '*.go' -not -name '*_test.go') go.mod go.sum
# Every module is built the same way (wasm_module, the package to build): the linker writes X.wasm.linked, wasmshrink
# (e2e/wasmshrink: the runtime's findfunctab written by a start function, not 65,000 data segments) writes X.wasm from
# it, and wasmcheck refuses what Envoy would not load. The linker's file stays as it is: `go build` relinks only when
# that file's build ID is stale, and the rewrite keeps the build ID. POSTLINK are the sources of the last two steps.
POSTLINK := $(wildcard e2e/wasmbin/*.go e2e/wasmshrink/*.go e2e/cmd/wasmshrink/*.go e2e/cmd/wasmcheck/*.go)
define wasm_module
$(WASM_ENV) $(GO) build $(WASM_FLAGS) -o $@.linked $(1)
@$(GO) run ./e2e/cmd/wasmshrink $@.linked $@
@$(GO) run ./e2e/cmd/wasmcheck $@
endef
FUZZTIME ?= 10s
SOAK_STREAMS ?= 1000000

.PHONY: all build size test lint fuzz bench bench-table bench-v8 profile perf soak run check openapi oci clean stack redis prometheus

all: build

build: $(BUILD)/plugin.wasm $(BUILD)/nullplugin.wasm $(BUILD)/replayplugin.wasm $(BUILD)/probe.wasm

# The SDK copy patched with our upstream-Go ABI binding (plugin/_abi/README.md), a copy of tidwall/pretty that
# decodes a string without encoding/json (plugin/_pretty/README.md), and a copy of tidwall/gjson whose table of
# modifiers (@pretty, @group, ...) is empty, so that none of them is linked (RATIONALE, "Why does the build empty
# gjson's table of modifiers?"). `go mod download` first: on a fresh machine the module cache is empty and
# `go list -m` would print no directory. Each step says what failed.
$(BUILD)/sdk/.patched: Makefile go.mod go.sum plugin/_abi/hostcalls_wasip1.go plugin/_abi/exports_wasip1.go plugin/_abi/lend_wasip1.go plugin/_pretty/unquote.go
	@rm -rf $(BUILD)/sdk && mkdir -p $(BUILD)
	@$(GO) mod download || { echo "make: 'go mod download' failed: is the Go module proxy ($$($(GO) env GOPROXY)) reachable?" >&2; exit 1; }
	@src=$$($(GO) list -m -f '{{.Dir}}' $(SDK_MOD)) && test -n "$$src" && test -d "$$src" || \
	  { echo "make: the module cache has no copy of $(SDK_MOD) (go list -m printed '$$src')" >&2; exit 1; }; \
	  cp -r "$$src" $(BUILD)/sdk || { echo "make: cannot copy $$src to $(BUILD)/sdk" >&2; exit 1; }
	@chmod -R u+w $(BUILD)/sdk
	@rm $(BUILD)/sdk/proxywasm/internal/abi_hostcalls_mock.go $(BUILD)/sdk/proxywasm/internal/vmstate_test_export.go || \
	  { echo "make: $(SDK_MOD) changed shape: the two !tinygo mock files to delete are missing (plugin/_abi/README.md)" >&2; exit 1; }
	@cp plugin/_abi/hostcalls_wasip1.go plugin/_abi/exports_wasip1.go $(BUILD)/sdk/proxywasm/internal/
	@cp plugin/_abi/lend_wasip1.go $(BUILD)/sdk/proxywasm/
	@rm -rf $(BUILD)/pretty && src=$$($(GO) list -m -f '{{.Dir}}' $(PRETTY_MOD)) && test -n "$$src" && \
	  cp -r "$$src" $(BUILD)/pretty && chmod -R u+w $(BUILD)/pretty || { echo "make: cannot copy $(PRETTY_MOD) to $(BUILD)/pretty" >&2; exit 1; }
	@grep -q '^			json.Unmarshal(s, &str)$$' $(BUILD)/pretty/pretty.go && grep -q '^	"encoding/json"$$' $(BUILD)/pretty/pretty.go || \
	  { echo "make: $(PRETTY_MOD) changed shape: pretty.go no longer decodes a key with json.Unmarshal(s, &str) (plugin/_pretty/README.md)" >&2; exit 1; }
	@sed -i -e '/^	"encoding\/json"$$/d' -e 's/^			json.Unmarshal(s, &str)$$/			str = unquote(s)/' $(BUILD)/pretty/pretty.go
	@cp plugin/_pretty/unquote.go plugin/_pretty/unquote_test.go $(BUILD)/pretty/
	@rm -rf $(BUILD)/gjson && src=$$($(GO) list -m -f '{{.Dir}}' $(GJSON_MOD)) && test -n "$$src" && \
	  cp -r "$$src" $(BUILD)/gjson && chmod -R u+w $(BUILD)/gjson || { echo "make: cannot copy $(GJSON_MOD) to $(BUILD)/gjson" >&2; exit 1; }
	@grep -q '^	stockModifiers = map\[string\]func(json, arg string) string{$$' $(BUILD)/gjson/gjson.go && \
	  grep -q '^		"pretty":  modPretty,$$' $(BUILD)/gjson/gjson.go || \
	  { echo "make: $(GJSON_MOD) changed shape: gjson.go no longer fills stockModifiers in its init (RATIONALE, gjson's table of modifiers)" >&2; exit 1; }
	@sed -i '/^	stockModifiers = map\[string\]func(json, arg string) string{$$/,/^	}$$/c\	stockModifiers = map[string]func(json, arg string) string{}' $(BUILD)/gjson/gjson.go
	@! grep -q 'modPretty,' $(BUILD)/gjson/gjson.go || { echo "make: could not empty $(GJSON_MOD)'s stockModifiers" >&2; exit 1; }
	@v=$$($(GO) list -m -f '{{.Version}}' $(SDK_MOD)) && p=$$($(GO) list -m -f '{{.Version}}' $(PRETTY_MOD)) && \
	  j=$$($(GO) list -m -f '{{.Version}}' $(GJSON_MOD)) && \
	  printf 'go 1.25.0\n\nuse ..\n\nreplace $(SDK_MOD) %s => ./sdk\n\nreplace $(PRETTY_MOD) %s => ./pretty\n\nreplace $(GJSON_MOD) %s => ./gjson\n' \
	  "$$v" "$$p" "$$j" > $(BUILD)/go.work
	@touch $@

$(BUILD)/plugin.wasm: $(BUILD)/sdk/.patched $(GO_SOURCES) $(POSTLINK)
	$(call wasm_module,./plugin)

# The benchmark floors (the null plugin; a replay of a stream's host calls) and the host's own test module, built the
# same way.
$(BUILD)/nullplugin.wasm: $(BUILD)/sdk/.patched e2e/nullplugin/main.go $(POSTLINK)
	$(call wasm_module,./e2e/nullplugin)

$(BUILD)/replayplugin.wasm: $(BUILD)/sdk/.patched $(wildcard e2e/replayplugin/*.go e2e/replay/*.go) $(POSTLINK)
	$(call wasm_module,./e2e/replayplugin)

$(BUILD)/probe.wasm: $(BUILD)/sdk/.patched $(wildcard e2e/testplugins/probe/*.go) $(POSTLINK)
	$(call wasm_module,./e2e/testplugins/probe)

# What plugin.wasm is made of: its sections, then its code per Go package, largest first; and what it adds to the
# null plugin, per package. To measure a change: keep a copy of the module, rebuild, and
#   go run ./e2e/cmd/wasmsize -diff OLD.wasm build/plugin.wasm
size: build
	@$(GO) run ./e2e/cmd/wasmsize -top 40 $(BUILD)/plugin.wasm
	@echo
	@$(GO) run ./e2e/cmd/wasmsize -diff -top 25 $(BUILD)/nullplugin.wasm $(BUILD)/plugin.wasm

# apt_install: COMMAND, PACKAGE, what needs the command[, apt-get flags]: installs the Debian package that provides a
# command a target runs when the command is missing (as root, with apt-get), else says how to.
define apt_install
@command -v $(1) >/dev/null || { \
  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
    echo "make: installing $(2) (apt-get) for $(1)"; \
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(4) $(2) >/dev/null; } || \
      { echo "make: 'apt-get install $(2)' failed: $(3), and $(1) is not in PATH" >&2; exit 1; }; \
  else \
    echo "make: no $(1) in PATH, and cannot install it (not root, or no apt-get): install it (Debian: sudo apt-get install -y $(2)); $(3)" >&2; exit 1; \
  fi; }
endef

# The global rate limit's real stack, which the e2e tests start on loopback ports: Redis from the distribution's
# packages, and envoyproxy/ratelimit's service built from the Go module proxy (minutes on a fresh machine).
RATELIMIT_PKG := github.com/envoyproxy/ratelimit/src/service_cmd
RATELIMIT_VERSION := v1.4.1-0.20260122083618-3fb702589d36

stack: redis $(BUILD)/ratelimit

redis:
	$(call apt_install,redis-server,redis-server,the global rate limit tests run the real Redis)

# promtool checks and unit-tests envoy/monitoring/alerts.yaml: Prometheus from the distribution's packages, as Redis.
prometheus:
	$(call apt_install,promtool,prometheus,the alert rule tests run it,--no-install-recommends)

$(BUILD)/ratelimit:
	@mkdir -p $(BUILD)/gobin
	@echo "make: building envoyproxy/ratelimit $(RATELIMIT_VERSION) into $@"
	@GOBIN=$(BUILD)/gobin GOWORK=off GOFLAGS= $(GO) install $(RATELIMIT_PKG)@$(RATELIMIT_VERSION) || \
	  { echo "make: cannot build the rate limit service: is the Go module proxy ($$($(GO) env GOPROXY)) reachable?" >&2; exit 1; }
	@mv $(BUILD)/gobin/service_cmd $@

# Every test: unit tests and fuzz seed corpora natively, then the e2e suite against the built modules
# (which includes a short soak) and the global rate limit's real stack; then the alert rules and the dashboard
# (envoy/monitoring, a module of its own so that its PromQL parser's dependencies stay out of the main module) with
# promtool.
test: build lint stack prometheus
	$(GO) test -count=1 ./...
	cd envoy/monitoring && $(GO) test -count=1 ./...
	cd $(BUILD)/pretty && GOWORK=off $(GO) test -count=1 -run Unquote .

# gofmt and go vet, as CI applies them.
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './build/*')); \
	  if [ -n "$$out" ]; then echo "make: gofmt -l lists files to format:" >&2; echo "$$out" >&2; exit 1; fi
	$(GO) vet ./...
	cd envoy/monitoring && $(GO) vet ./...

# Every Fuzz target for FUZZTIME each, FuzzStream (./e2e) through the built plugin.wasm included; FUZZ_PARALLEL
# workers per target (the machine's cores by default).
FUZZ_PARALLEL ?= $(shell nproc 2>/dev/null || echo 2)
# Go 1.26's coordinator can fail a target with a bare "context deadline exceeded" as -fuzztime ends, writing no input
# (go.dev/issue/75804, fixed in Go 1.27): a run that fails so, with no new file in the target's corpus, is not a
# finding.
fuzz: build
	@for pkg in $$($(GO) list ./filters/... ./internal/swar ./internal/pattern ./internal/rfc3339 ./plugin/... ./e2e ./e2e/host ./e2e/gateway ./e2e/wasmbin ./e2e/wasmprof); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; corpus=$$($(GO) list -f '{{.Dir}}' $$pkg)/testdata/fuzz/$$f; \
	    before=$$(ls "$$corpus" 2>/dev/null | wc -l); \
	    $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) -parallel $(FUZZ_PARALLEL) $$pkg 2>&1 | tee $(BUILD)/fuzz.log; \
	    if [ "$${PIPESTATUS[0]}" != 0 ]; then \
	      if [ "$$(ls "$$corpus" 2>/dev/null | wc -l)" = "$$before" ] && grep -qx '    context deadline exceeded' $(BUILD)/fuzz.log; then \
	        echo "make: $$f ended on Go's -fuzztime race (go.dev/issue/75804) and wrote no failing input: not a finding"; \
	      else exit 1; fi; \
	    fi; \
	  done; \
	done

# Per-stream cost in the wasm host, then the filters natively and compiled to wasm in wazero, then the table of
# BENCHMARKS.md (wazero and V8).
bench: build
	$(GO) test -run '^$$' -bench . -benchmem ./e2e/ ./filters/... ./internal/swar
	$(GO) build -o $(BUILD)/wasirun ./e2e/cmd/wasirun
	GOOS=wasip1 GOARCH=wasm $(GO) test -exec $(BUILD)/wasirun -run '^$$' -bench . -benchmem ./filters/... ./internal/swar
	$(MAKE) bench-table

# Every BenchmarkStream scenario and the start-up phases in wazero and V8 (node --no-liftoff and default tiering):
# prints the table and writes BENCHMARKS.md. BENCH_STREAMS streams per scenario, or BENCH_SECONDS' worth, in BENCH_ROUNDS
# interleaved rounds (each round runs every scenario's share in turn, so the machine's changes of speed weigh on all alike).
BENCH_STREAMS ?= 100000
BENCH_ROUNDS ?= 5
BENCH_SECONDS ?= 20
bench-table: build
	APIGUARD_BENCH_TABLE=$(CURDIR)/BENCHMARKS.md APIGUARD_BENCH_STREAMS=$(BENCH_STREAMS) APIGUARD_BENCH_ROUNDS=$(BENCH_ROUNDS) \
	  APIGUARD_BENCH_SECONDS=$(BENCH_SECONDS) \
	  $(GO) test -count=1 -timeout 120m -run '^TestBenchmarkTable$$' -v ./e2e/

# The same scenarios in V8 only, through the JavaScript proxy-wasm host (e2e/v8/host.mjs).
bench-v8: build
	@command -v node >/dev/null || { echo "make: bench-v8 needs node (Node.js 20 or later, no packages)" >&2; exit 1; }
	APIGUARD_BENCH_SCENARIOS=$(BUILD)/bench-scenarios.json $(GO) test -count=1 -run '^TestWriteBenchScenarios$$' ./e2e/
	node --no-liftoff e2e/v8/host.mjs $(BUILD)/bench-scenarios.json --streams $(BENCH_STREAMS) --rounds $(BENCH_ROUNDS) --seconds $(BENCH_SECONDS)
	node e2e/v8/host.mjs $(BUILD)/bench-scenarios.json --streams $(BENCH_STREAMS) --rounds $(BENCH_ROUNDS) --seconds $(BENCH_SECONDS)

# Where a stream's time goes (TestProfileStream, e2e/profile_test.go): perf samples the e2e host while streams of the
# BenchmarkStream scenarios PROFILE matches run; wazero built with its perfmap tag names each compiled wasm function
# after the Go function it came from. A fresh compilation cache, as a cached module writes no perf map; a test binary
# built with -c, as `go test` runs one without the symbols perf names the host's functions by. PROFILE='^start-' or
# '^configure-' samples a worker's start-up or a configuration push of BenchmarkConfigure's 1,000 routes instead.
PROFILE ?= ^apiguard-(pass-through|no-route-404|jwt-cached|full-pipeline)$$
PROFILE_STREAMS ?= 50000
profile: build perf
	rm -rf $(BUILD)/profile-cache
	$(GO) test -tags perfmap -c -o $(BUILD)/e2e-profile.test ./e2e/
	cd e2e && XDG_CACHE_HOME=$(BUILD)/profile-cache APIGUARD_PROFILE='$(PROFILE)' APIGUARD_PROFILE_STREAMS=$(PROFILE_STREAMS) \
	  $(BUILD)/e2e-profile.test -test.run '^TestProfileStream$$' -test.v

perf:
	$(call apt_install,perf,linux-perf,make profile samples with it)

soak: build
	APIGUARD_SOAK_STREAMS=$(SOAK_STREAMS) $(GO) test -count=1 -timeout 60m -run 'TestSoak' -v ./e2e/ ./e2e/host/

run: build
	$(GO) run ./e2e/cmd/gateway -demo -config envoy/apiguard.json -admin 127.0.0.1:9901

# Lint a policy file: prints every config error with its JSON path, natively,
# through the same pipeline.Load the plugin calls.
check:
	$(GO) run ./cmd/apiguard-check $(or $(CONFIG),envoy/apiguard.json)

# Convert an OpenAPI 3.0/3.1 document into a policy, printed on stdout; warnings on stderr.
#   make openapi SPEC=openapi.yaml BASE=base.json PROVIDERS="bearerAuth=idp" > policy.json
openapi:
	@test -n "$(SPEC)" || { echo "make: set SPEC=openapi.yaml (and BASE=base.json PROVIDERS=\"scheme=provider ...\")" >&2; exit 2; }
	@$(GO) run ./cmd/apiguard-openapi $(if $(BASE),-base $(BASE)) $(foreach p,$(PROVIDERS),-provider $(p)) $(SPEC)

# plugin.wasm as an OCI image layout in build/oci, for Istio's WasmPlugin (README: push it with crane).
oci: $(BUILD)/plugin.wasm
	$(GO) run ./cmd/apiguard-oci -o $(BUILD)/oci $(if $(TAG),-tag $(TAG)) $(BUILD)/plugin.wasm

clean:
	rm -rf $(BUILD)
