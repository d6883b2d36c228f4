package envoystats

import (
	"bytes"
	"slices"
	"strconv"
	"strings"
)

// Type is a stat's type.
type Type uint8

// Stat types, in the order Envoy's admin renders them.
const (
	Counter Type = iota
	Gauge
)

// Stat is one stat of the proxy's store, by its full name
// ("wasmcustom.apiguard.requests.allowed").
type Stat struct {
	Name  string
	Type  Type
	Value uint64
}

// WasmNamespace is the custom stat namespace Envoy's wasm extension puts
// every metric a plugin defines in (stats_handler.h CustomStatNamespace),
// and registers, so that its Prometheus output drops it.
const WasmNamespace = "wasmcustom"

// Prometheus renders stats as Envoy's /stats/prometheus does in its text
// format (PrometheusStatsFormatter): counters, then gauges; within a type,
// one family per tag-extracted name, in name order, each with its
// "# TYPE" line and its stats in the order of their full names, one line
// each, "name{label="value",...} value" (with "{}" for a stat without
// tags). A family's name is the tag-extracted name with a registered custom
// namespace (namespaces) stripped and nothing added, or "envoy_" before
// any other; every character outside [a-zA-Z0-9_] becomes "_", and a custom
// family whose name would start with a digit is left out. Label names are
// sanitized the same way; values escape backslash, newline and quote.
func Prometheus(stats []Stat, t *Tagger, namespaces ...string) []byte {
	type tagged struct {
		Stat
		tags []Tag
	}
	var out bytes.Buffer
	for _, typ := range []Type{Counter, Gauge} {
		families := map[string][]tagged{}
		for _, s := range stats {
			if s.Type != typ {
				continue
			}
			extracted, tags := t.Extract(s.Name)
			families[extracted] = append(families[extracted], tagged{s, tags})
		}
		names := make([]string, 0, len(families))
		for n := range families {
			names = append(names, n)
		}
		slices.SortFunc(names, compareStatNames)
		for _, extracted := range names {
			name, ok := metricName(extracted, namespaces)
			if !ok {
				continue
			}
			group := families[extracted]
			slices.SortFunc(group, func(a, b tagged) int { return compareStatNames(a.Name, b.Name) })
			out.WriteString("# TYPE " + name + " " + [...]string{"counter", "gauge"}[typ] + "\n")
			for _, s := range group {
				out.WriteString(name + "{")
				for i, tag := range s.tags {
					if i > 0 {
						out.WriteByte(',')
					}
					out.WriteString(sanitizeName(tag.Name) + `="` + escapeValue(tag.Value) + `"`)
				}
				out.WriteString("} " + strconv.FormatUint(s.Value, 10) + "\n")
			}
		}
	}
	return out.Bytes()
}

// Text renders stats as Envoy's plain /stats does: "name: value" lines,
// counters and gauges together, ordered by full name. The custom
// namespace stays: only the Prometheus output strips it.
func Text(stats []Stat) []byte {
	sorted := slices.Clone(stats)
	slices.SortFunc(sorted, func(a, b Stat) int { return strings.Compare(a.Name, b.Name) })
	var out bytes.Buffer
	for _, s := range sorted {
		out.WriteString(s.Name + ": " + strconv.FormatUint(s.Value, 10) + "\n")
	}
	return out.Bytes()
}

// metricName is PrometheusStatsFormatter::metricName.
func metricName(extracted string, namespaces []string) (string, bool) {
	if first, rest, ok := strings.Cut(extracted, "."); ok && slices.Contains(namespaces, first) {
		name := sanitizeName(rest)
		if name == "" || name[0] >= '0' && name[0] <= '9' {
			return "", false
		}
		return name, true
	}
	return "envoy_" + sanitizeName(extracted), true
}

// sanitizeName replaces each byte outside [a-zA-Z0-9_] by "_", as Envoy's
// promRegex "[^a-zA-Z0-9_]" does (a multi-byte character becomes one "_"
// per byte).
func sanitizeName(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			b[i] = '_'
		}
	}
	return string(b)
}

var valueEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`)

// escapeValue is Envoy's sanitizeValue, as the Prometheus text format
// escapes a label value.
func escapeValue(s string) string { return valueEscaper.Replace(s) }

// compareStatNames orders names as Envoy's symbol table does
// (SymbolTable::lessThan): by their dot-separated tokens, each compared as
// a string, a name that is a prefix of another first.
func compareStatNames(a, b string) int {
	for {
		ta, resta, moreA := strings.Cut(a, ".")
		tb, restb, moreB := strings.Cut(b, ".")
		if c := strings.Compare(ta, tb); c != 0 {
			return c
		}
		switch {
		case !moreA && !moreB:
			return 0
		case !moreA:
			return -1
		case !moreB:
			return 1
		}
		a, b = resta, restb
	}
}
