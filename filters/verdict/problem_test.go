package verdict

import (
	"encoding/json"
	"testing"
	"unicode/utf8"
)

// FuzzAppendProblem: whatever text reaches the problem writers (a detail
// that one day quotes something, a title with a non-ASCII letter), the
// document is valid UTF-8 JSON whose members decode to that text, each
// invalid UTF-8 byte replaced: AppendProblem's, and AppendReasonProblem's
// for any reason. strconv's Go quoting is not JSON: it writes
// \x, \a, \v and \U escapes that no JSON parser reads.
func FuzzAppendProblem(f *testing.F) {
	for _, tc := range []struct{ code, title, detail string }{
		{"token_malformed", "The access token is malformed", "payload repeats a member name"},
		{"bad_path", "The request path is not acceptable", ""},
		{"x", "bell \a vertical tab \v", "invalid \xff UTF-8"},
		{"x", "unprintable \u00ad \U000e0001", "separators \u2028\u2029 and \x7f"},
		{`quote"back\slash`, "\x00\r\n\t", "é😀"},
	} {
		f.Add(tc.code, tc.title, 401, tc.detail)
	}
	f.Fuzz(func(t *testing.T, code, title string, status int, detail string) {
		b := Problem(code, title, status, detail)
		if !utf8.Valid(b) {
			t.Fatalf("%q is not valid UTF-8", b)
		}
		var p struct {
			Type, Title, Detail string
			Status              int
		}
		if err := json.Unmarshal(b, &p); err != nil {
			t.Fatalf("%q: %v", b, err)
		}
		// Each invalid byte is replaced by U+FFFD, as []rune does.
		if p.Type != string([]rune(ProblemTypePrefix+code)) || p.Title != string([]rune(title)) ||
			p.Detail != string([]rune(detail)) || p.Status != status {
			t.Fatalf("%q decodes to %+v", b, p)
		}
		// The rendered-once heads of AppendReasonProblem take any detail
		// (and any reason, an unknown one as internal) the same way.
		r := Reason(uint8(status))
		b = append(AppendReasonProblem(nil, r, detail), '}')
		p.Detail, p.Status = "", 0
		if !utf8.Valid(b) || json.Unmarshal(b, &p) != nil || p.Detail != string([]rune(detail)) || p.Status != r.Status() {
			t.Fatalf("reason %d: %q", r, b)
		}
	})
}
