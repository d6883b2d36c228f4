package pattern

import (
	"regexp"
	"strings"
	"testing"
)

// expressions are those of the tests and the fuzzer's seeds: what schemas
// and claim conditions are written with, and the corners of the DFA.
var expressions = []string{
	`^[A-Z0-9-]{1,32}$`, `^[a-z]+$`, `[a-z]`, `^\d{4}-\d{2}-\d{2}$`, `^\+?[1-9]\d{1,14}$`, `^(admin|editor)$`,
	`^[^@\s]+@[^@\s]+\.[a-z]{2,}$`, `^.{3,8}$`, `(?i)^kelvin$`, `(?i)straße`, `^$`, `$^`, `a|^b`, `a$|b`, `(?s).`, `.`,
	`é+`, `^[\p{Greek}]+$`, `\bword\b`, `(?m)^x$`, `(a|b)*a(a|b){12}`, `x*`, `\A\z`, `[^a]`, `^\x{10FFFF}$`,
}

func TestMatchesAsRegexp(t *testing.T) {
	inputs := []string{"", "a", "b", "ab", "ba", "SKU-42", "sku-42", strings.Repeat("A", 33), "2026-12-03", "+4915112345678",
		"admin", "administrator", "buyer@example.com", "a@b", "\u212Aelvin", "KELVIN", "STRASSE", "straße", "\n", "a\nb",
		"éé", "αβγ", "word", "a word here", "x\n", "\xff", "\xe2\x82", "\U0010FFFF", "aaaaaaaaaaaaaaaa", "ababababababababab"}
	for _, expr := range expressions {
		want := regexp.MustCompile(expr)
		got := mustCompile(t, expr)
		for _, in := range inputs {
			if g, w := got.MatchString(in), want.MatchString(in); g != w {
				t.Errorf("%s on %q: %t, regexp says %t", expr, in, g, w)
			}
			if g, w := got.Match([]byte(in)), want.MatchString(in); g != w {
				t.Errorf("%s on %q as bytes: %t, regexp says %t", expr, in, g, w)
			}
		}
	}
}

// TestWhatBecomesADFA: the expressions policies are made of run as DFAs;
// those the DFA does not cover, or that would take too many states, run in
// regexp.
func TestWhatBecomesADFA(t *testing.T) {
	for expr, want := range map[string]bool{
		`^[A-Z0-9-]{1,32}$`: true, `^[A-Z0-9-]{1,64}$`: true, `^\d{4}-\d{2}-\d{2}$`: true, `^(admin|editor)$`: true, `(?i)^kelvin$`: true,
		`^[^@\s]+@[^@\s]+\.[a-z]{2,}$`: true, `^.{3,8}$`: true,
		`\bword\b`: false, `(?m)^x$`: false, `^[\p{L}]+$`: false, `(a|b)*a(a|b){12}`: false,
	} {
		if got := mustCompile(t, expr).dfa != nil; got != want {
			t.Errorf("%s: DFA %t, want %t", expr, got, want)
		}
	}
}

func TestCompileErrors(t *testing.T) {
	for _, expr := range []string{`(`, `(?=x)`, `\8`} {
		if _, err := Compile(expr); err == nil {
			t.Errorf("%s compiled", expr)
		}
	}
}

// FuzzMatch: a pattern matches exactly what regexp matches, on any
// expression and any input, UTF-8 or not.
func FuzzMatch(f *testing.F) {
	for _, expr := range expressions {
		f.Add(expr, "SKU-42 a@b.example 2026-12-03 \u212A\xff")
	}
	f.Fuzz(func(t *testing.T, expr, in string) {
		want, err := regexp.Compile(expr)
		if err != nil {
			return
		}
		got := mustCompile(t, expr)
		if g, w := got.MatchString(in), want.MatchString(in); g != w {
			t.Fatalf("%q on %q: %t, regexp says %t (DFA %t)", expr, in, g, w, got.dfa != nil)
		}
		if g := got.Match([]byte(in)); g != want.MatchString(in) {
			t.Fatalf("%q on %q as bytes: %t", expr, in, g)
		}
	})
}

func mustCompile(t testing.TB, expr string) *Pattern {
	t.Helper()
	p, err := Compile(expr)
	if err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	return p
}
