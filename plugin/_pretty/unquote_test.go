package pretty

import (
	"encoding/json"
	"testing"
)

var literals = []string{
	`""`, `"plain"`, `"a\"b"`, `"\\\/\b\f\n\r\t"`, `"\u00e9\u00C9"`, `"é"`,
	`"\ud83d\ude00"`, `"\ud800"`, `"\ud800\u0041"`, `"\udc00\ud800"`, `"\ud800\uzzzz"`,
	`"\u00"`, `"\x41"`, `"\'"`, `"a\"`, `"a"b"`, "\"tab\there\"", "\"\xff\xfe\"", "\"\x7f\"",
	`"unterminated`, `plain`, `"`, `"\`, ` "spaced"` + "\n", `"x" "y"`,
}

// TestUnquoteDecodesAsEncodingJSON: unquote gives what json.Unmarshal into
// a string gives, and "" where json.Unmarshal fails.
func TestUnquoteDecodesAsEncodingJSON(t *testing.T) {
	for _, lit := range literals {
		var want string
		_ = json.Unmarshal([]byte(lit), &want)
		if got := unquote([]byte(lit)); got != want {
			t.Errorf("unquote(%q) = %q, want %q", lit, got, want)
		}
	}
}

func FuzzUnquote(f *testing.F) {
	for _, lit := range literals {
		f.Add(lit)
	}
	f.Fuzz(func(t *testing.T, lit string) {
		var want string
		_ = json.Unmarshal([]byte(lit), &want)
		if got := unquote([]byte(lit)); got != want {
			t.Errorf("unquote(%q) = %q, want %q", lit, got, want)
		}
	})
}
