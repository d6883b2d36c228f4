package ratelimit

import (
	"net/netip"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/tidwall/gjson"

	"github.com/apiguard/apiguard/filters/config"
	"github.com/apiguard/apiguard/filters/rls"
	"github.com/apiguard/apiguard/filters/stage"
	"github.com/apiguard/apiguard/filters/verdict"
)

// Defaults and ranges of a global rule.
const (
	// DefaultGlobalTimeout is Envoy's own rate limit filter's default.
	DefaultGlobalTimeout = 20 * time.Millisecond
	maxGlobalTimeoutMS   = 10_000
	maxEntries           = 16
	// maxEntryValue bounds a value sent to the service, which makes it part
	// of a Redis key: a longer header or claim is a missing entry.
	maxEntryValue = 256
)

// globalRule is a limit the Envoy rate limit service (envoyproxy/ratelimit)
// keeps for every Envoy at once, asked per request with one descriptor.
type globalRule struct {
	name            string
	cluster, domain string
	entries         []entrySource
	timeout         time.Duration
	// failOpen admits requests the service cannot decide (failure_mode
	// allow); fallback, if set, is the local rule applied to them then.
	failOpen bool
	fallback *rule
	// counters.
	allowed, limited, errors *stage.Counter
}

// entrySource is where one descriptor entry's value comes from: a literal,
// the request's method, or a key part.
type entrySource struct {
	key, value string
	method     bool
	from       part
}

func (g *settings) readGlobal(r *config.Reader, path string, v gjson.Result) {
	r.Array(path, v, func(p string, _ int, v gjson.Result) {
		gr := readGlobalRule(r, p, v)
		if gr == nil {
			return
		}
		for _, prev := range g.global {
			if prev.name == gr.name {
				r.Errorf(config.Join(p, "name"), "%q names another global rule of this route", gr.name)
			}
		}
		g.global = append(g.global, gr)
	})
}

func readGlobalRule(r *config.Reader, path string, v gjson.Result) *globalRule {
	gr := &globalRule{timeout: DefaultGlobalTimeout}
	var fallback gjson.Result
	before := len(r.Errors())
	r.Object(path, v, config.Fields{
		"name":    {Required: true, Read: func(p string, v gjson.Result) { gr.name = readName(r, p, v) }},
		"cluster": {Required: true, Read: func(p string, v gjson.Result) { gr.cluster = nonEmpty(r, p, v) }},
		"domain":  {Required: true, Read: func(p string, v gjson.Result) { gr.domain = nonEmpty(r, p, v) }},
		"descriptors": {Required: true, Read: func(p string, v gjson.Result) {
			r.Array(p, v, func(p string, _ int, v gjson.Result) {
				if e, ok := readEntry(r, p, v); ok {
					gr.entries = append(gr.entries, e)
				}
			})
			if n := len(v.Array()); v.IsArray() && (n == 0 || n > maxEntries) {
				r.Errorf(p, "must have 1 to %d entries", maxEntries)
			}
		}},
		"timeout_ms": {Read: func(p string, v gjson.Result) {
			gr.timeout = time.Duration(r.Count(p, v, 1, maxGlobalTimeoutMS)) * time.Millisecond
		}},
		"failure_mode": {Read: func(p string, v gjson.Result) {
			s, _ := r.Enum(p, v, "deny", "allow")
			gr.failOpen = s == "allow"
		}},
		"fallback": {Read: func(p string, v gjson.Result) { fallback = v }},
	})
	if fallback.Exists() {
		p := config.Join(path, "fallback")
		if !gr.failOpen {
			r.Errorf(p, `applies only with "failure_mode": "allow" (deny refuses every request the service cannot decide)`)
		}
		gr.fallback = readRule(r, p, fallback)
	}
	if len(r.Errors()) > before {
		return nil
	}
	m := "apiguard.ratelimit.global." + gr.name + "."
	gr.allowed, gr.limited, gr.errors = stage.NewCounter(m+"allowed"), stage.NewCounter(m+"limited"), stage.NewCounter(m+"errors")
	return gr
}

func nonEmpty(r *config.Reader, path string, v gjson.Result) string {
	s, ok := r.Str(path, v)
	if ok && s == "" {
		r.Errorf(path, "must not be empty")
	}
	return s
}

// readEntry reads one descriptor entry: {"key", "value"} for a literal, or
// {"key", "from"} with "method" or a key part (parsePart).
func readEntry(r *config.Reader, path string, v gjson.Result) (entrySource, bool) {
	var e entrySource
	var hasValue, hasFrom bool
	before := len(r.Errors())
	r.Object(path, v, config.Fields{
		"key": {Required: true, Read: func(p string, v gjson.Result) { e.key = nonEmpty(r, p, v) }},
		"value": {Read: func(p string, v gjson.Result) {
			e.value, hasValue = nonEmpty(r, p, v), true
		}},
		"from": {Read: func(p string, v gjson.Result) {
			hasFrom = true
			s, ok := r.Str(p, v)
			if !ok {
				return
			}
			if s == "method" {
				e.method = true
				return
			}
			var err error
			if e.from, err = parsePart(s); err != nil {
				r.Errorf(p, `%v, or "method"`, err)
			}
		}},
	})
	if hasValue == hasFrom {
		r.Errorf(path, `needs exactly one of "value" and "from"`)
	}
	return e, len(r.Errors()) == before
}

// descriptor computes the rule's entries for a request; false when one of
// them is missing (no such claim or header), in which case the rule does not
// apply to the request, as Envoy's rate limit actions send no descriptor
// when one action produces no entry.
func (gr *globalRule) descriptor(s *stage.Stream, in *stage.Input, hops int, out []rls.Entry) ([]rls.Entry, bool) {
	for _, e := range gr.entries {
		v := e.value
		switch {
		case e.method:
			v = in.Get(":method")
		case e.from.kind != 0:
			v = entryValue(s, in, e.from, hops)
		}
		if v == "" || len(v) > maxEntryValue || !utf8.ValidString(v) {
			return out, false
		}
		out = append(out, rls.Entry{Key: e.key, Value: v})
	}
	return out, true
}

// entryValue is a key part's value as the service sees it: addresses in
// their canonical text form, a claim or header value as it is, "" when
// missing. Several values of one header are one value, comma-joined, as
// HTTP defines them.
func entryValue(s *stage.Stream, in *stage.Input, p part, hops int) string {
	switch p.kind {
	case partPeer, partForwarded:
		addr, ok := clientAddress(in, p.kind, hops)
		if !ok {
			return ""
		}
		var a16 [16]byte
		copy(a16[:], addr[1:])
		return netip.AddrFrom16(a16).Unmap().String()
	case partClaim:
		if s.Principal.Token == nil {
			return ""
		}
		return claimValue(s.Principal.Token, p.claim)
	case partHeader:
		v := ""
		for i, hv := range headerValues(in, p.name) {
			if i > 0 {
				v += ","
			}
			v += hv
		}
		return v
	case partRoute:
		return s.Route
	}
	return ""
}

// globalKept is the state of a stream's global rules: the next to ask.
type globalKept struct {
	next int
}

// AfterOthers asks the service about the route's global rules, after every
// other stage allowed the request: one call per rule, in order.
func (st *Stage) AfterOthers(s *stage.Stream, in *stage.Input) verdict.Decision {
	if len(st.global) == 0 {
		return verdict.Decision{}
	}
	return st.ask(s, in, st.keep(s), 0)
}

// keep returns what the stream kept for the stage, kept anew if nothing.
func (st *Stage) keep(s *stage.Stream) *kept {
	k, _ := s.Kept(st).(*kept)
	if k == nil {
		k = newKept(s)
		s.Keep(st, k)
	}
	return k
}

// ask asks for the call of the first rule from i on that applies to the
// request.
func (st *Stage) ask(s *stage.Stream, in *stage.Input, k *kept, i int) verdict.Decision {
	var entries [maxEntries]rls.Entry
	for ; i < len(st.global); i++ {
		gr := st.global[i]
		e, ok := gr.descriptor(s, in, st.hops, entries[:0])
		if !ok {
			continue
		}
		k.global.next = i
		s.Call = &stage.Call{Cluster: gr.cluster, Service: rls.Service, Method: rls.Method,
			Message: rls.AppendRequest(nil, gr.domain, e), Timeout: gr.timeout}
		return verdict.Decision{}
	}
	return verdict.Decision{}
}

// OnCallResponse decides on the service's answer for the rule asked: OK
// admits (and the next rule is asked), OVER_LIMIT refuses with 429, and no
// answer, or an error, is the rule's failure_mode.
func (st *Stage) OnCallResponse(s *stage.Stream, in *stage.Input, res stage.CallResult) verdict.Decision {
	k := st.keep(s)
	gr := st.global[k.global.next]
	w := in.Worker()
	h := w.Host
	var resp rls.Response
	err := error(nil)
	if res.Status == stage.CallOK {
		resp, err = rls.DecodeResponse(res.Message)
	}
	switch {
	case res.Status != stage.CallOK || err != nil || resp.Overall == rls.Unknown:
		w.Count(gr.errors, 1)
		if !gr.failOpen {
			refund(h, k.committed)
			return verdict.DenyWith(verdict.RateLimitUnavailable, unansweredDenial)
		}
		if gr.fallback != nil {
			if d := st.run(s, in, []*rule{gr.fallback}, k); d.Denied() {
				refund(h, k.committed)
				return d
			}
		}
	case resp.Overall == rls.OverLimit:
		w.Count(gr.limited, 1)
		refund(h, k.committed)
		return st.overLimit(k, gr, resp)
	default:
		w.Count(gr.allowed, 1)
		if it, ok := globalItem(gr, resp, rls.OK); ok {
			k.items = append(k.items, it)
		}
	}
	return st.ask(s, in, k, k.global.next+1)
}

// overLimit is the 429 for a rule the service refuses: Retry-After is the
// longest wait of the refusing limits, at least a second. Its headers'
// values are written in k's text.
func (st *Stage) overLimit(k *kept, gr *globalRule, resp rls.Response) verdict.Decision {
	var wait time.Duration
	for _, s := range resp.Statuses {
		if s.Code == rls.OverLimit {
			wait = max(wait, s.UntilReset)
		}
	}
	var items []item
	if it, ok := globalItem(gr, resp, rls.OverLimit); ok {
		items = []item{it}
	}
	return st.refuse(k, "global rate limit exceeded", max(ceilSeconds(wait), 1), items, wait)
}

// globalItem is the RateLimit header item of the first status with code
// that names its limit; false when none does.
func globalItem(gr *globalRule, resp rls.Response, code rls.Code) (item, bool) {
	for _, s := range resp.Statuses {
		if s.Code != code || !s.HasLimit || s.Unit.Seconds() == 0 {
			continue
		}
		w := s.Unit.Seconds()
		policy := strconv.Quote(gr.name) + ";q=" + strconv.FormatUint(uint64(s.RequestsPerUnit), 10) + ";w=" + strconv.FormatInt(w, 10)
		return item{gr.name, policy, int64(s.RequestsPerUnit), int64(s.Remaining), s.UntilReset}, true
	}
	return item{}, false
}
