package verdict

import "strconv"

// ProblemTypePrefix makes a problem code an RFC 9457 problem type URI.
const ProblemTypePrefix = "urn:apiguard:problem:"

// Problem renders an RFC 9457 problem document of type code. Every string
// in it is a fixed text chosen by apiguard, never request or upstream data,
// so nothing is reflected; each is still written as JSON (AppendJSONString),
// never with Go's quoting, so that any text makes a valid document. detail
// is left out when empty.
func Problem(code, title string, status int, detail string) []byte {
	return append(AppendProblem(make([]byte, 0, 160), code, title, status, detail), '}')
}

// AppendProblem appends a problem document's opening and its members, for
// a caller that adds more members before the closing brace.
func AppendProblem(b []byte, code, title string, status int, detail string) []byte {
	b = append(b, `{"type":`...)
	b = AppendJSONString(b, ProblemTypePrefix+code)
	b = append(b, `,"title":`...)
	b = AppendJSONString(b, title)
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(status), 10)
	return appendDetail(b, detail)
}

func appendDetail(b []byte, detail string) []byte {
	if detail != "" {
		b = append(b, `,"detail":`...)
		b = AppendJSONString(b, detail)
	}
	return b
}

// problemHeads are each reason's problem document up to its status,
// rendered on first use: a denial under a flood of bad requests is the
// hot path, and copying them is all it costs.
var problemHeads [numReasons][]byte

// AppendReasonProblem is AppendProblem for reason r's code, title and
// status.
func AppendReasonProblem(b []byte, r Reason, detail string) []byte {
	if r >= numReasons {
		r = Internal
	}
	head := problemHeads[r]
	if head == nil {
		head = AppendProblem(nil, r.Code(), r.Title(), r.Status(), "")
		problemHeads[r] = head
	}
	return appendDetail(append(b, head...), detail)
}
