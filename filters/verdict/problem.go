package verdict

import "strconv"

// ProblemTypePrefix makes a problem code an RFC 9457 problem type URI.
const ProblemTypePrefix = "urn:apiguard:problem:"

// Problem renders an RFC 9457 problem document of type code. Every string
// in it is a fixed text chosen by apiguard, never request or upstream data,
// so no escaping beyond JSON's is needed and nothing is reflected. detail
// is left out when empty.
func Problem(code, title string, status int, detail string) []byte {
	return append(AppendProblem(make([]byte, 0, 160), code, title, status, detail), '}')
}

// AppendProblem appends a problem document's opening and its members, for
// a caller that adds more members before the closing brace.
func AppendProblem(b []byte, code, title string, status int, detail string) []byte {
	b = append(b, `{"type":`...)
	b = strconv.AppendQuote(b, ProblemTypePrefix+code)
	b = append(b, `,"title":`...)
	b = strconv.AppendQuote(b, title)
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(status), 10)
	if detail != "" {
		b = append(b, `,"detail":`...)
		b = strconv.AppendQuote(b, detail)
	}
	return b
}
