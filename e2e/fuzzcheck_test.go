package e2e

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/tidwall/gjson"

	"github.com/apiguard/apiguard/e2e/host"
	"github.com/apiguard/apiguard/filters/harden"
	"github.com/apiguard/apiguard/filters/route"
	"github.com/apiguard/apiguard/filters/verdict"
)

// problemTypes are the problem types apiguard may answer with: each
// denial reason's, and a replaced 5xx body's.
var problemTypes = func() map[string]bool {
	m := map[string]bool{verdict.ProblemTypePrefix + harden.UpstreamError: true}
	for _, r := range verdict.All() {
		m[verdict.ProblemTypePrefix+r.Code()] = true
	}
	return m
}()

// claimHeader is a header the policy writes from a verified token: the
// provider whose token writes it and the claim ("" for the payload).
type claimHeader struct {
	issuer, claim string
}

// fuzzClaimHeaders are fuzzPolicy's claim_to_headers and payload_header.
var fuzzClaimHeaders = map[string]claimHeader{
	"x-auth-sub":    {fuzzIdPIssuer, "sub"},
	"x-auth-tenant": {fuzzIdPIssuer, "tenant_id"},
	"x-auth-roles":  {fuzzIdPIssuer, "roles"},
	"x-jwt-payload": {fuzzIdPIssuer, ""},
	"x-partner-sub": {fuzzPartnerIssuer, "sub"},
}

// checkStream returns the invariants a stream broke:
//   - the VM did not trap, stall or reset the stream, and logged nothing
//     at warning level or above (a recovered panic is logged critical);
//   - the stream ended with the upstream's response, or a local reply;
//   - every 4xx/5xx local reply of apiguard's (and every replaced 5xx
//     body) is an application/problem+json document of valid UTF-8 JSON
//     whose status is the reply's and whose type is a known one; none is
//     500 internal, which is the plugin failing, never a verdict on the
//     request;
//   - no header value either side carries NUL, CR or LF;
//   - the token never appears in a log line or in the response, unless
//     the client (or the upstream) put it elsewhere too;
//   - every claim header the upstream receives is the one the verified
//     token's claim makes, once: never the client's.
func checkStream(s fuzzStream, res *host.Result, logs []host.LogEntry) []string {
	var v []string
	bad := func(format string, args ...any) { v = append(v, fmt.Sprintf(format, args...)) }
	if res.Err != nil {
		bad("the stream failed: %v", res.Err)
	}
	for _, l := range logs {
		if l.Level >= 3 {
			bad("logged at %s: %q", l.Level, l.Message)
		}
	}
	ours := res.LocalReply != nil && res.LocalReply.Details == ""
	switch {
	case res.LocalReply == nil && res.Upstream == nil:
		bad("the stream ended with neither the upstream's response nor a local reply (status %d)", res.Status)
	case res.LocalReply == nil && res.Status != s.resp.Status:
		bad("the client got status %d, the upstream answered %d", res.Status, s.resp.Status)
	case ours && res.LocalReply.Status >= 400:
		v = append(v, checkProblem(res.LocalReply.Status, res.LocalReply.Body, headerValue(res.LocalReply.Headers, "content-type"))...)
		// The headers each status promises: Allow (RFC 9110 section
		// 15.5.6), WWW-Authenticate (RFC 6750 section 3), Retry-After.
		for status, name := range map[int]string{405: "allow", 401: "www-authenticate", 429: "retry-after"} {
			if res.LocalReply.Status == status && headerValue(res.LocalReply.Headers, name) == "" {
				bad("a %d reply without %s", status, name)
			}
		}
		if grpc := len(res.Headers.Values("grpc-status")) > 0; !grpc {
			if res.Status != res.LocalReply.Status {
				bad("the client got status %d for a %d reply", res.Status, res.LocalReply.Status)
			}
			if ct := headerValue(res.Headers, "content-type"); ct != "application/problem+json" {
				bad("the client got content-type %q for a problem", ct)
			}
		}
	case res.LocalReply == nil && s.resp.Status >= 500 && len(s.resp.Body) > 0:
		// replace_error_bodies: a replaced 5xx is a problem document too.
		v = append(v, checkProblem(res.Status, res.Body, headerValue(res.Headers, "content-type"))...)
	}
	for _, h := range []host.Headers{res.Headers, upstreamHeaders(res)} {
		for _, kv := range h {
			if strings.ContainsAny(kv[1], "\x00\r\n") {
				bad("header %q carries NUL, CR or LF: %q", kv[0], kv[1])
			}
		}
	}
	v = append(v, checkHardened(res)...)
	v = append(v, checkUpstreamRequest(s, res)...)
	v = append(v, checkAuditRecords(res, logs)...)
	v = append(v, checkTokenLeaks(s, res, logs)...)
	v = append(v, checkClaimHeaders(s, res)...)
	return v
}

// checkReset: a stream the client ended early fails no callback, logs no
// warning, leaves its one audit record and no token in the logs.
func checkReset(s fuzzStream, res *host.Result, logs []host.LogEntry) []string {
	var v []string
	if res.Err != nil {
		v = append(v, fmt.Sprintf("the stream failed: %v", res.Err))
	}
	for _, l := range logs {
		if l.Level >= 3 {
			v = append(v, fmt.Sprintf("logged at %s: %q", l.Level, l.Message))
		}
	}
	v = append(v, checkAuditRecords(res, logs)...)
	return append(v, checkTokenLeaks(s, res, logs)...)
}

// checkHardened: every response that passed through the plugin, the
// upstream's or a local reply, is hardened (fuzzPolicy's strict preset on
// every route and on unmatched streams): nosniff once, the leaky headers
// gone. Envoy's own replies before the filter never pass through it.
func checkHardened(res *host.Result) []string {
	if res.LocalReply != nil && res.LocalReply.Details == "http1.headers_too_large" {
		return nil
	}
	var v []string
	if got := res.Headers.Values("x-content-type-options"); len(got) != 1 || got[0] != "nosniff" {
		v = append(v, fmt.Sprintf("a %d response has x-content-type-options %q", res.Status, got))
	}
	for _, leaky := range []string{"server", "x-powered-by", "x-debug-trace"} {
		if got := res.Headers.Values(leaky); len(got) > 0 {
			v = append(v, fmt.Sprintf("a %d response keeps %s: %q", res.Status, leaky, got))
		}
	}
	return v
}

// checkUpstreamRequest: what reaches the upstream is what was authorized:
// its :path normal (normalizing it again changes nothing, a raw control
// character never passes), and no verified token left where it came from
// (forward is false).
func checkUpstreamRequest(s fuzzStream, res *host.Result) []string {
	if res.Upstream == nil {
		return nil
	}
	var v []string
	path := headerValue(res.Upstream.Headers, ":path")
	n, d := route.Normalize(path)
	switch forward := n.Escaped + "?" + n.Query; {
	case d.Denied():
		v = append(v, fmt.Sprintf("the upstream got a :path apiguard refuses (%s): %q", d.Detail(), path))
	case path != n.Escaped && path != forward:
		v = append(v, fmt.Sprintf("the upstream got a :path that is not normal: %q (normal: %q)", path, forward))
	}
	verified := len(res.Upstream.Headers.Values("x-jwt-payload")) > 0 || len(res.Upstream.Headers.Values("x-partner-sub")) > 0
	if verified && len(s.token) >= minLeakLen && !s.showsElsewhere(s.token) {
		for _, kv := range res.Upstream.Headers {
			if kv[0] != "x-jwt-payload" && strings.Contains(kv[1], s.token) {
				v = append(v, fmt.Sprintf("the verified token reached the upstream in %s", kv[0]))
			}
		}
	}
	return v
}

// checkAuditRecords: every stream the plugin saw leaves one audit record
// (fuzzPolicy records them all), a request Envoy refused before the filter
// none; each is one line of valid UTF-8 holding one JSON object, with no
// raw CR, LF, U+2028 or U+2029 to split it in a log viewer.
func checkAuditRecords(res *host.Result, logs []host.LogEntry) []string {
	var v []string
	records := 0
	for _, l := range logs {
		if !strings.HasPrefix(l.Message, `{"time":`) {
			continue
		}
		records++
		var record map[string]any
		switch {
		case !utf8.ValidString(l.Message):
			v = append(v, fmt.Sprintf("an audit record is not valid UTF-8: %q", l.Message))
		case strings.ContainsAny(l.Message, "\r\n\u2028\u2029"):
			v = append(v, fmt.Sprintf("an audit record holds a line break: %q", l.Message))
		case json.Unmarshal([]byte(l.Message), &record) != nil:
			v = append(v, fmt.Sprintf("an audit record is not a JSON object: %q", l.Message))
		}
	}
	want := 1
	if res.LocalReply != nil && res.LocalReply.Details == "http1.headers_too_large" {
		want = 0
	}
	if records != want {
		v = append(v, fmt.Sprintf("%d audit records, want %d", records, want))
	}
	return v
}

func upstreamHeaders(res *host.Result) host.Headers {
	if res.Upstream == nil {
		return nil
	}
	return res.Upstream.Headers
}

func headerValue(h host.Headers, name string) string {
	v, _ := h.Get(name)
	return v
}

// The bounds of a problem's errors: filters/schema's report limits, which
// every violation a problem lists must keep, body or not.
const (
	maxProblemErrors  = 8
	maxProblemPointer = 256
)

// checkProblem checks a problem document of status.
func checkProblem(status int, body []byte, contentType string) []string {
	var v []string
	if contentType != "application/problem+json" {
		v = append(v, fmt.Sprintf("a %d problem has content-type %q", status, contentType))
	}
	if !utf8.Valid(body) {
		v = append(v, fmt.Sprintf("a %d problem is not valid UTF-8: %q", status, body))
	}
	var p struct {
		Type   string `json:"type"`
		Title  string `json:"title"`
		Status int    `json:"status"`
		Errors []struct {
			Pointer string `json:"pointer"`
		} `json:"errors"`
	}
	if err := json.Unmarshal(body, &p); err != nil {
		return append(v, fmt.Sprintf("a %d problem is not JSON (%v): %q", status, err, body))
	}
	if p.Status != status || !problemTypes[p.Type] || p.Title == "" {
		v = append(v, fmt.Sprintf("a %d reply's problem has type %q, title %q and status %d", status, p.Type, p.Title, p.Status))
	}
	// A problem stays small: it says where a request broke a rule, in at
	// most 8 places, each a pointer of at most 256 bytes (the names in it
	// are the client's).
	if len(p.Errors) > maxProblemErrors {
		v = append(v, fmt.Sprintf("a %d problem lists %d errors", status, len(p.Errors)))
	}
	for _, e := range p.Errors {
		if n := utf8.RuneCountInString(e.Pointer); n > maxProblemPointer {
			v = append(v, fmt.Sprintf("a %d problem has a %d-character pointer: %.64q...", status, n, e.Pointer))
		}
	}
	if p.Type == verdict.ProblemTypePrefix+verdict.Internal.Code() {
		v = append(v, fmt.Sprintf("apiguard answered 500 internal: the plugin failed on the request: %s", body))
	}
	return v
}

// minLeakLen is the shortest token whose presence in a log or a response
// counts as a leak: a shorter one matches text by chance.
const minLeakLen = 16

// checkTokenLeaks looks for the token, and each of its dot-separated
// parts, in the stream's log lines and the response the client got.
func checkTokenLeaks(s fuzzStream, res *host.Result, logs []host.LogEntry) []string {
	var secrets []string
	for _, part := range append([]string{s.token}, strings.Split(s.token, ".")...) {
		if len(part) >= minLeakLen && !s.showsElsewhere(part) {
			secrets = append(secrets, part)
		}
	}
	leaks := func(text string) bool {
		return slices.ContainsFunc(secrets, func(secret string) bool { return strings.Contains(text, secret) })
	}
	var v []string
	for _, l := range logs {
		if leaks(l.Message) {
			v = append(v, fmt.Sprintf("a log line holds the token: %q", l.Message))
		}
	}
	if res.LocalReply == nil && (leaks(string(s.resp.Body)) || leaks(fmt.Sprint(s.resp.Headers))) {
		return v // the upstream sent it
	}
	if leaks(string(res.Body)) {
		v = append(v, "the response body holds the token")
	}
	for _, kv := range res.Headers {
		if leaks(kv[1]) {
			v = append(v, fmt.Sprintf("response header %s holds the token", kv[0]))
		}
	}
	return v
}

// showsElsewhere reports whether text appears in the request outside the
// token's own places: then the client sent it twice, and a log of, say,
// its user-agent is no leak.
func (s fuzzStream) showsElsewhere(text string) bool {
	path := s.req.Path
	if s.inQuery != "" {
		path = strings.Replace(path, "access_token="+s.inQuery, "access_token=", 1)
	}
	if strings.Contains(path, text) || strings.Contains(s.req.Authority, text) || strings.Contains(s.req.Method, text) ||
		bytes.Contains(s.req.Body, []byte(text)) {
		return true
	}
	own := map[string]string{"authorization": "Bearer " + s.token, "cookie": "session=" + s.token, "x-partner-token": s.token}
	for _, h := range []host.Headers{s.req.Headers, s.req.Trailers} {
		for _, kv := range h {
			if kv[1] != own[kv[0]] && strings.Contains(kv[1], text) {
				return true
			}
		}
	}
	return false
}

// checkClaimHeaders: a claim header the upstream receives holds, once, what
// the verified token's claim renders to (claim_to_headers: numbers and
// booleans as JSON, strings percent-encoded; payload_header: the payload,
// base64url), and comes from a token of its provider.
func checkClaimHeaders(s fuzzStream, res *host.Result) []string {
	if res.Upstream == nil {
		return nil
	}
	var v []string
	payload, decoded := s.presentedPayload()
	for name, ch := range fuzzClaimHeaders {
		got := res.Upstream.Headers.Values(name)
		if len(got) == 0 {
			continue
		}
		if len(got) > 1 {
			v = append(v, fmt.Sprintf("the upstream got %d %s headers: %q", len(got), name, got))
			continue
		}
		if !decoded {
			v = append(v, fmt.Sprintf("the upstream got %s: %q from a request without a readable token", name, got[0]))
			continue
		}
		claims := gjson.ParseBytes(payload)
		if iss := topLevel(claims, "iss"); iss.Str != ch.issuer {
			v = append(v, fmt.Sprintf("the upstream got %s: %q from a token of issuer %q", name, got[0], iss.Raw))
			continue
		}
		want, ok := renderClaim(payload, ch.claim)
		switch {
		case !ok:
			v = append(v, fmt.Sprintf("the upstream got %s: %q, and the token has no claim %q to make it", name, got[0], ch.claim))
		case got[0] != want:
			v = append(v, fmt.Sprintf("the upstream got %s: %q, the token's claim makes %q", name, got[0], want))
		}
	}
	return v
}

// presentedPayload is the payload of the token as the plugin read it.
func (s fuzzStream) presentedPayload() ([]byte, bool) {
	if s.payload != nil {
		return s.payload, true
	}
	tok := s.token
	if s.place == placeQuery || s.place == placeBearerAndQuery {
		var err error
		if tok, err = url.QueryUnescape(tok); err != nil {
			return nil, false
		}
	}
	parts := strings.Split(strings.Trim(tok, " \t"), ".")
	if len(parts) != 3 {
		return nil, false
	}
	p, err := base64.RawURLEncoding.DecodeString(parts[1])
	return p, err == nil
}

// topLevel is the top-level member name of claims, read literally ("a.b" is
// a name, not a path), as claim_to_headers reads it.
func topLevel(claims gjson.Result, name string) gjson.Result {
	var v gjson.Result
	claims.ForEach(func(k, val gjson.Result) bool {
		if k.String() == name {
			v = val
			return false
		}
		return true
	})
	return v
}

// renderClaim is the header value the README promises for a claim ("" is
// the payload header's).
func renderClaim(payload []byte, claim string) (string, bool) {
	if claim == "" {
		return base64.RawURLEncoding.EncodeToString(payload), true
	}
	c := topLevel(gjson.ParseBytes(payload), claim)
	if !c.Exists() {
		return "", false
	}
	var b strings.Builder
	scalar := func(x gjson.Result) {
		if x.Type == gjson.String {
			for i := 0; i < len(x.Str); i++ {
				if ch := x.Str[i]; ch == ' ' || ch == '%' || ch == ',' || ch >= 0x80 {
					fmt.Fprintf(&b, "%%%02X", ch)
				} else {
					b.WriteByte(ch)
				}
			}
			return
		}
		b.WriteString(x.Raw)
	}
	if !c.IsArray() {
		scalar(c)
		return b.String(), true
	}
	for i, el := range c.Array() {
		if i > 0 {
			b.WriteByte(',')
		}
		scalar(el)
	}
	return b.String(), true
}

// TestCheckStreamFlagsEachBrokenInvariant: the checks FuzzStream relies on
// fail on what they must, so that a silent fuzzer means a sound plugin and
// not a blind oracle.
func TestCheckStreamFlagsEachBrokenInvariant(t *testing.T) {
	const token = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLWJ5dGVz"
	s := fuzzStream{req: host.Request{Method: "GET", Path: "/healthz"}, resp: &host.Response{Status: 200}, token: token, place: placeBearer}
	s.req.Headers.Add("authorization", "Bearer "+token)
	upstream := func(h ...string) *host.Result {
		up := &host.UpstreamRequest{Headers: host.Headers{{":path", "/healthz"}}}
		for i := 0; i+1 < len(h); i += 2 {
			up.Headers.Add(h[i], h[i+1])
		}
		return &host.Result{Status: 200, Headers: host.Headers{{":status", "200"}, {"x-content-type-options", "nosniff"}}, Upstream: up}
	}
	problem := func(body string) *host.Result {
		r := &host.LocalReply{Status: 401, Headers: host.Headers{{"content-type", "application/problem+json"}, {"www-authenticate", "Bearer"}}, Body: []byte(body)}
		return &host.Result{Status: 401, Headers: host.Headers{{":status", "401"}, {"content-type", "application/problem+json"}, {"x-content-type-options", "nosniff"}},
			Body: r.Body, LocalReply: r}
	}
	record := host.LogEntry{Level: 2, Message: `{"time":"2027-01-15T08:00:00Z","decision":"allowed"}`}
	tests := []struct {
		name string
		res  *host.Result
		logs []host.LogEntry
		want string // a violation starting with it; "" for none
	}{
		{name: "a sound stream", res: upstream(), logs: []host.LogEntry{record}},
		{name: "a trap", res: &host.Result{Status: 503, Err: host.ErrVMFailed}, logs: []host.LogEntry{record}, want: "the stream failed"},
		{name: "proc_exit, as a Go panic ends", res: upstream(), logs: []host.LogEntry{record, {Level: 4, Message: "wasi: proc_exit is not supported"}}, want: "logged at error"},
		{name: "Go's quoting in a problem", res: problem(`{"type":"urn:apiguard:problem:token_missing","title":"\x41","status":401}`),
			logs: []host.LogEntry{record}, want: "a 401 problem is not JSON"},
		{name: "an unknown problem type", res: problem(`{"type":"about:blank","title":"t","status":401}`), logs: []host.LogEntry{record}, want: "a 401 reply's problem has type"},
		{name: "a client's claim header passed through", res: upstream("x-auth-sub", "root"), logs: []host.LogEntry{record}, want: "the upstream got x-auth-sub"},
		{name: "the token in a log line", res: upstream(), logs: []host.LogEntry{record, {Level: 2, Message: "apiguard: bearer " + token}}, want: "a log line holds the token"},
		{name: "no audit record", res: upstream(), want: "0 audit records"},
		{name: "a record split by a line separator", res: upstream(), logs: []host.LogEntry{{Level: 2, Message: "{\"time\":\"\u2028\"}"}}, want: "an audit record holds a line break"},
		{name: "an unnormalized path upstream", res: func() *host.Result { r := upstream(); r.Upstream.Headers[0][1] = "/a/../healthz"; return r }(),
			logs: []host.LogEntry{record}, want: "the upstream got a :path that is not normal"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := checkStream(s, tc.res, tc.logs)
			switch {
			case tc.want == "" && len(v) > 0:
				t.Errorf("violations %q", v)
			case tc.want != "" && !slices.ContainsFunc(v, func(x string) bool { return strings.HasPrefix(x, tc.want) }):
				t.Errorf("violations %q, want one starting %q", v, tc.want)
			}
		})
	}
}
