package verdict

import (
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unsafe"
)

func TestReasonsAreUniqueAndNamed(t *testing.T) {
	snake := regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	seen := map[string]Reason{}
	for _, r := range All() {
		code := r.Code()
		if !snake.MatchString(code) {
			t.Errorf("reason %d: code %q is not snake_case", r, code)
		}
		if prev, dup := seen[code]; dup {
			t.Errorf("reasons %d and %d share code %q", prev, r, code)
		}
		seen[code] = r
		if r.Title() == "" {
			t.Errorf("reason %q has no title", code)
		}
		if s := r.Status(); s < 400 || s > 599 {
			t.Errorf("reason %q has non-error status %d", code, s)
		}
	}
	if len(seen) != int(numReasons)-1 {
		t.Errorf("All() lists %d reasons, want %d", len(seen), numReasons-1)
	}
}

func TestZeroDecisionContinues(t *testing.T) {
	var d Decision
	if d.Denied() {
		t.Fatal("zero Decision must continue")
	}
	if !Deny(NoRoute, "x").Denied() {
		t.Fatal("Deny must deny")
	}
}

// TestADecisionCarriesWhatItWasGiven, in sixteen bytes: a larger one is
// copied through a call on every return in wasm.
func TestADecisionCarriesWhatItWasGiven(t *testing.T) {
	if size := unsafe.Sizeof(Decision{}); size != 16 {
		t.Errorf("a Decision is %d bytes, want 16", size)
	}
	headers := [][2]string{{"allow", "GET, HEAD"}}
	violations := []Violation{{In: "body", Pointer: "/qty", Rule: "maximum"}}
	tests := []struct {
		name       string
		d          Decision
		reason     Reason
		detail     string
		headers    [][2]string
		violations []Violation
	}{
		{name: "continue", d: Decision{}},
		{name: "no detail", d: Deny(Forbidden, ""), reason: Forbidden},
		{name: "detail", d: Deny(RequestInvalid, "encoded slash in path"), reason: RequestInvalid, detail: "encoded slash in path"},
		{name: "denial", d: DenyWith(MethodNotAllowed, &Denial{Detail: "d", Headers: headers}), reason: MethodNotAllowed, detail: "d", headers: headers},
		{name: "violations", d: DenyWith(RequestInvalid, &Denial{Violations: violations}), reason: RequestInvalid, violations: violations},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := tc.d
			if d.Reason != tc.reason || d.Denied() != (tc.reason != None) || d.Detail() != tc.detail ||
				!slices.Equal(d.Headers(), tc.headers) || !slices.Equal(d.Violations(), tc.violations) {
				t.Errorf("got %s %q %v %v, want %s %q %v %v", d.Reason.Code(), d.Detail(), d.Headers(), d.Violations(),
					tc.reason.Code(), tc.detail, tc.headers, tc.violations)
			}
		})
	}
}

// FuzzAppendJSONString: any text comes out as one JSON string that decodes
// to it (each invalid UTF-8 byte replaced), with no raw control character, DEL or
// line separator that could split or forge a log line.
func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"plain", "quote \" backslash \\", "\x00\r\n\x7f", "\u2028\u2029", "\xff\xfe", "é😀"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b := AppendJSONString(nil, s)
		var got string
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("%q: %v", b, err)
		}
		if want := string([]rune(s)); got != want { // each invalid byte replaced
			t.Fatalf("%q decodes to %q, want %q", b, got, want)
		}
		if strings.ContainsAny(string(b), "\r\n\x00\x7f\u2028\u2029") {
			t.Fatalf("%q holds a raw separator", b)
		}
	})
}

// TestReasonProblemIsTheReasonsDocument: the rendered-once heads give every
// reason the document AppendProblem writes from its code, title and status,
// with and without a detail, on first use and after.
func TestReasonProblemIsTheReasonsDocument(t *testing.T) {
	for _, r := range append(All(), numReasons+3) {
		for _, detail := range []string{"", `a "quoted" detail`} {
			want := r
			if r >= numReasons {
				want = Internal
			}
			for range 2 {
				got := append(AppendReasonProblem([]byte("x"), r, detail), '}')
				if string(got[1:]) != string(Problem(want.Code(), want.Title(), want.Status(), detail)) {
					t.Fatalf("reason %d, detail %q: %s", r, detail, got[1:])
				}
				var doc struct {
					Type, Title, Detail string
					Status              int
				}
				if err := json.Unmarshal(got[1:], &doc); err != nil {
					t.Fatalf("reason %d: %v", r, err)
				}
				if doc.Type != ProblemTypePrefix+want.Code() || doc.Title != want.Title() || doc.Status != want.Status() || doc.Detail != detail {
					t.Fatalf("reason %d, detail %q: decoded %+v", r, detail, doc)
				}
			}
		}
	}
}
