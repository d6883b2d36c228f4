package verdict

import (
	"regexp"
	"testing"
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
