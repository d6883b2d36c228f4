// Package audit writes the audit record: one JSON line per request at the
// stream's end, saying who called what and what was decided, for security
// teams to search. It never holds a token, and every value a client chose
// is escaped so that it cannot split or forge a record.
package audit

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tidwall/gjson"

	"github.com/apiguard/apiguard/filters/claims"
	"github.com/apiguard/apiguard/filters/config"
	"github.com/apiguard/apiguard/filters/httpsyntax"
	"github.com/apiguard/apiguard/filters/stage"
	"github.com/apiguard/apiguard/filters/verdict"
	"github.com/apiguard/apiguard/internal/rfc3339"
)

// Policy is the compiled "audit" section.
type Policy struct {
	// Level is the proxy log level records are written at (Envoy's: trace
	// 0 to critical 5).
	Level int
	// allowed and denied are the fractions of allowed and of other
	// requests recorded.
	allowed, denied float64
	headers         []string
	claims          []claimField
	redact          map[string]bool
	query           string
	// tokenParams are the query parameters providers read tokens from:
	// their values are dropped even when the query is kept.
	tokenParams []string
}

type claimField struct {
	name string
	path claims.Pointer
}

var levels = []string{"trace", "debug", "info", "warn", "error", "critical"}

// Read compiles the top-level "audit" section.
func Read(r *config.Reader, path string, v gjson.Result) *Policy {
	p := &Policy{Level: 2, allowed: 1, denied: 1, redact: map[string]bool{}, query: "drop"}
	rate := func(path string, v gjson.Result) float64 {
		if v.Type != gjson.Number || v.Float() < 0 || v.Float() > 1 {
			r.Errorf(path, "must be a number from 0 to 1")
			return 0
		}
		return v.Float()
	}
	r.Object(path, v, config.Fields{
		"level": {Read: func(p2 string, v gjson.Result) {
			s, _ := r.Enum(p2, v, levels...)
			for i, l := range levels {
				if l == s {
					p.Level = i
				}
			}
		}},
		"sample_allowed": {Read: func(p2 string, v gjson.Result) { p.allowed = rate(p2, v) }},
		"sample_denied":  {Read: func(p2 string, v gjson.Result) { p.denied = rate(p2, v) }},
		"headers": {Read: func(p2 string, v gjson.Result) {
			for i, h := range r.Strings(p2, v) {
				if h != strings.ToLower(h) || h == "" || h == "authorization" || h == "cookie" || h == "proxy-authorization" {
					r.Errorf(p2+"["+strconv.Itoa(i)+"]", "%q: a lower-case header name, never one that carries credentials", h)
				}
				p.headers = append(p.headers, h)
			}
		}},
		"claims": {Read: func(p2 string, v gjson.Result) {
			for i, c := range r.Strings(p2, v) {
				ptr, err := claims.Parse(c)
				if err != nil {
					r.Errorf(p2+"["+strconv.Itoa(i)+"]", "%v", err)
					continue
				}
				p.claims = append(p.claims, claimField{c, ptr})
			}
		}},
		"redact": {Read: func(p2 string, v gjson.Result) {
			for _, name := range r.Strings(p2, v) {
				p.redact[name] = true
			}
		}},
		"query": {Read: func(p2 string, v gjson.Result) { p.query, _ = r.Enum(p2, v, "drop", "names", "keep") }},
	})
	return p
}

// ExcludeCredentials tells the policy where providers read tokens: headers
// (header name to provider name) and query parameters. A token parameter's
// value never reaches a record, even with "query": "keep"; a token header
// among "headers" must also be in "redact", or it is an error at its path
// under section ("audit").
func (p *Policy) ExcludeCredentials(section string, headers map[string]string, params []string) []config.Error {
	p.tokenParams = params
	var errs []config.Error
	for i, h := range p.headers {
		if provider, ok := headers[h]; ok && !p.redact[h] {
			errs = append(errs, config.Errorf(section+".headers["+strconv.Itoa(i)+"]",
				"%q carries provider %s's tokens: list it in %s.redact too, or leave it out", h, provider, section))
		}
	}
	return errs
}

// Sampled reports whether a request is recorded, x uniform in [0, 1).
func (p *Policy) Sampled(denied bool, x float64) bool {
	if denied {
		return x < p.denied
	}
	return x < p.allowed
}

// Input is what the glue reads from the host at the stream's end.
type Input struct {
	Start     time.Time
	Duration  time.Duration
	RequestID string
	Method    string
	Client    string
	// Status is the response's, 0 when the stream ended without one.
	Status int
	// Header reads a request header; nil when none can be read.
	Header func(name string) string
}

// Outcome is a stream's outcome as the record names it ("allowed",
// "denied", "dry_run_denied", "shadow_limited"), its reason and the rule
// that decided.
type Outcome struct {
	Decision string
	Reason   verdict.Reason
	Rule     string
}

// Decide is the stream's outcome.
func Decide(s *stage.Stream) Outcome {
	if s.Denied != verdict.None {
		for i := len(s.Outcomes) - 1; i >= 0; i-- {
			if o := s.Outcomes[i]; o.Kind == stage.Enforced && o.Reason == s.Denied {
				return Outcome{"denied", s.Denied, o.Rule}
			}
		}
		return Outcome{"denied", s.Denied, ""}
	}
	for _, o := range s.Outcomes {
		if o.Kind == stage.DryRun {
			return Outcome{"dry_run_denied", o.Reason, o.Rule}
		}
	}
	for _, o := range s.Outcomes {
		if o.Kind == stage.Shadow {
			return Outcome{"shadow_limited", o.Reason, o.Rule}
		}
	}
	return Outcome{Decision: "allowed"}
}

// Append writes the stream's record, of outcome o (Decide), to b, without
// a newline.
func (p *Policy) Append(b []byte, s *stage.Stream, in *Input, o Outcome) []byte {
	b = append(b, `{"time":"`...)
	b = rfc3339.Append(b, in.Start)
	b = append(b, `","duration_us":`...)
	b = strconv.AppendInt(b, in.Duration.Microseconds(), 10)
	b = field(b, "request_id", in.RequestID)
	b = field(b, "route", s.Route)
	b = field(b, "method", in.Method)
	b = field(b, "path", p.path(s.Path))
	b = field(b, "client", in.Client)
	if tok := s.Principal.Token; tok != nil {
		b = append(b, `,"principal":{"provider":`...)
		b = verdict.AppendJSONString(b, s.Principal.Provider)
		for _, name := range []string{"iss", "sub", "client_id", "azp"} {
			if v, ok := tok.Claim(name); ok && v.Type == gjson.String {
				b = field(b, name, v.Str)
			}
		}
		b = append(b, '}')
	}
	// The calling service, by the SPIFFE ID its route's peer requirement
	// accepted: never its certificate.
	b = field(b, "peer", s.Peer.String())
	b = field(b, "decision", o.Decision)
	if o.Reason != verdict.None {
		b = field(b, "reason", o.Reason.Code())
	}
	b = field(b, "rule", o.Rule)
	if in.Status > 0 {
		b = append(b, `,"status":`...)
		b = strconv.AppendInt(b, int64(in.Status), 10)
	}
	if len(p.headers) > 0 && in.Header != nil {
		b = append(b, `,"headers":{`...)
		n := 0
		for _, h := range p.headers {
			if v := in.Header(h); v != "" {
				b = p.member(b, &n, h, v)
			}
		}
		b = append(b, '}')
	}
	if len(p.claims) > 0 && s.Principal.Token != nil {
		b = append(b, `,"claims":{`...)
		n := 0
		for _, c := range p.claims {
			if v, ok, _ := c.path.Lookup(s.Principal.Token); ok && v.Type != gjson.Null {
				text := v.Str
				if v.Type != gjson.String {
					text = v.Raw
				}
				b = p.member(b, &n, c.name, text)
			}
		}
		b = append(b, '}')
	}
	return append(b, '}')
}

// member writes one "name":"value" of an object, the value redacted when
// configured.
func (p *Policy) member(b []byte, n *int, name, value string) []byte {
	if *n > 0 {
		b = append(b, ',')
	}
	*n++
	b = verdict.AppendJSONString(b, name)
	b = append(b, ':')
	if p.redact[name] {
		value = "[redacted]"
	}
	return verdict.AppendJSONString(b, value)
}

// field writes ,"name":"value" when value is not empty.
func field(b []byte, name, value string) []byte {
	if value == "" {
		return b
	}
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, '"', ':')
	return verdict.AppendJSONString(b, value)
}

// path is the request's path as recorded: its query dropped (it may carry
// secrets, tokens included), kept as parameter names only, or kept without
// the values of token parameters.
func (p *Policy) path(raw string) string {
	path, query, found := strings.Cut(raw, "?")
	switch {
	case !found:
		return raw
	case p.query == "keep":
		return path + "?" + p.withoutTokens(query)
	case p.query == "names":
		var names []string
		for pair := range httpsyntax.QueryPairs(query) {
			name, _, _ := strings.Cut(pair, "=")
			names = append(names, name+"=")
		}
		return path + "?" + strings.Join(names, "&")
	}
	return path
}

// withoutTokens is a query with the values of the token parameters
// dropped, each parameter read as the providers read it
// (httpsyntax.QueryPairs, its name form-decoded), so that whatever a
// provider took for a token is what is hidden; and, inside the pairs, as
// an upstream that splits on ";" too reads it (httpsyntax.SemicolonSplit),
// so that no token hides behind one: the providers refuse such a request,
// and its record is written all the same.
func (p *Policy) withoutTokens(query string) string {
	if len(p.tokenParams) == 0 {
		return query
	}
	var pairs []string
	for pair := range httpsyntax.QueryPairs(query) {
		if split, ok := httpsyntax.SemicolonSplit(pair); ok && !p.isToken(pair) {
			var pieces []string
			for piece := range httpsyntax.QueryPairs(split) {
				pieces = append(pieces, p.blank(piece))
			}
			pair = strings.Join(pieces, ";")
		}
		pairs = append(pairs, p.blank(pair))
	}
	return strings.Join(pairs, "&")
}

// isToken reports whether a raw pair is a token parameter's.
func (p *Policy) isToken(pair string) bool {
	name, _, _ := strings.Cut(pair, "=")
	key, ok := httpsyntax.Unescape(name, true)
	return ok && slices.Contains(p.tokenParams, key)
}

// blank is a raw pair without its value if it is a token parameter's.
func (p *Policy) blank(pair string) string {
	if p.isToken(pair) {
		name, _, _ := strings.Cut(pair, "=")
		return name + "="
	}
	return pair
}
