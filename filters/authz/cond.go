package authz

import (
	"slices"
	"strings"

	"github.com/tidwall/gjson"

	"github.com/apiguard/apiguard/filters/claims"
	"github.com/apiguard/apiguard/filters/jwt"
	"github.com/apiguard/apiguard/filters/spiffe"
	"github.com/apiguard/apiguard/filters/stage"
	"github.com/apiguard/apiguard/filters/verdict"
	"github.com/apiguard/apiguard/internal/pattern"
)

// cond is a compiled condition on the verified caller and the request.
type cond struct {
	kind condKind
	// subs are all's, any's and not's operands.
	subs []*cond
	// names are the roles or scopes to look for, numbered by the
	// policy's vocabulary.
	names nameMask
	// claim is a claim condition's path, claimNo its number in the
	// policy's vocabulary, and tests what the claim must be.
	claim   claims.Pointer
	claimNo int
	tests   []test
	// challenge is a scopes condition's denial: its WWW-Authenticate
	// response header.
	challenge *verdict.Denial
	// peers are a peers condition's accepted service identities.
	peers *spiffe.Matcher
}

type condKind uint8

const (
	condAll condKind = iota
	condAny
	condNot
	condAuthenticated
	condAnyRole
	condAllRoles
	condScopes
	condClaim
	condPeers
)

// test is one test of a claim's value.
type test struct {
	op   testOp
	str  string
	strs []string
	num  float64
	// bound names the request value an equality binds the claim to.
	bound binding
	re    *pattern.Pattern
}

type testOp uint8

const (
	opEqualsString testOp = iota
	opEqualsNumber
	opEqualsBool
	opOneOf
	opPresent
	opAbsent
	opGreater
	opGreaterOrEqual
	opLess
	opLessOrEqual
	opMatches
	opBound
)

// binding is a request value a claim is compared with: a parameter the
// route's template captures, a declared query parameter or header.
type binding struct {
	from binds
	name string
}

type binds uint8

const (
	bindParam binds = iota
	bindQuery
	bindHeader
)

// evaluation is one request's evaluation of a route's conditions.
type evaluation struct {
	policy *Policy
	// token is the verified token, nil without one; provider verified it.
	token    *jwt.Token
	provider string
	// facts are the token's, once a condition needed them.
	facts  *tokenFacts
	stream *stage.Stream
	in     *stage.Input
	// indeterminate is set when the outcome cannot be trusted: a claim too
	// large to scan, a bound value missing, repeated or ambiguous, headers
	// the host could not read. It denies, whatever the conditions said.
	indeterminate bool
	// missingScope is the challenge of the first scopes condition that
	// failed where its failure could deny.
	missingScope *verdict.Denial
}

// holds evaluates c; negated tells it sits under an odd number of nots,
// where a failing scopes condition never causes a denial.
func (ev *evaluation) holds(c *cond, negated bool) bool {
	switch c.kind {
	case condAll:
		for _, sub := range c.subs {
			if !ev.holds(sub, negated) {
				return false
			}
		}
		return true
	case condAny:
		for _, sub := range c.subs {
			if ev.holds(sub, negated) {
				return true
			}
		}
		return false
	case condNot:
		return !ev.holds(c.subs[0], !negated)
	case condAuthenticated:
		return ev.token != nil
	case condAnyRole, condAllRoles:
		if ev.token == nil {
			return false
		}
		return ev.has(ev.roleFacts(), c.names, c.kind == condAllRoles)
	case condScopes:
		if ev.token != nil && ev.has(ev.scopeFacts(), c.names, true) {
			return true
		}
		if !negated && ev.missingScope == nil {
			ev.missingScope = c.challenge
		}
		return false
	case condPeers:
		// The route's peer requirement set the stream's ID; a stream
		// without one matches no peers condition.
		return c.peers.Match(ev.stream.Peer)
	case condClaim:
		// Claims exist only in a verified token: without one, no claim
		// condition holds, not even absent.
		if ev.token == nil {
			return false
		}
		v, ok := ev.claim(c)
		for i := range c.tests {
			if !ev.passes(&c.tests[i], v, ok) {
				return false
			}
		}
		return true
	}
	return false
}

// has reports whether h holds every name of m (all) or any; a source too
// large to read whole on the way makes the evaluation indeterminate.
func (ev *evaluation) has(h *heldNames, m nameMask, all bool) bool {
	held, indeterminate := h.has(m, all)
	ev.indeterminate = ev.indeterminate || indeterminate
	return held
}

// passes applies one test to a claim's value (ok false when absent).
func (ev *evaluation) passes(t *test, v *gjson.Result, ok bool) bool {
	present := ok && v.Type != gjson.Null
	switch t.op {
	case opPresent:
		return present
	case opAbsent:
		return !present
	}
	if !present {
		return false
	}
	switch t.op {
	case opEqualsNumber, opGreater, opGreaterOrEqual, opLess, opLessOrEqual:
		return ev.anyNumber(v, t)
	case opEqualsBool:
		return v.Type == gjson.True && t.num == 1 || v.Type == gjson.False && t.num == 0
	}
	want := t.str
	if t.op == opBound {
		var found bool
		if want, found = ev.boundValue(t.bound); !found {
			ev.indeterminate = true
			return false
		}
	}
	if v.Type == gjson.String {
		// Most claims tested are one string: no iterator for them.
		return ev.passesString(t, v.Str, want)
	}
	it := claims.NewStrings(*v, false)
	for {
		s, ok := it.Next()
		if !ok {
			ev.indeterminate = ev.indeterminate || it.Overflow
			return false
		}
		if ev.passesString(t, s, want) {
			return true
		}
	}
}

// passesString applies a string test to one string of a claim; want is
// what an equality compares with. A string too long to match a pattern on
// makes the evaluation indeterminate.
func (ev *evaluation) passesString(t *test, s, want string) bool {
	switch t.op {
	case opOneOf:
		return slices.Contains(t.strs, s)
	case opMatches:
		if len(s) > maxMatchedLength {
			ev.indeterminate = true
			return false
		}
		return t.re.MatchString(s)
	}
	return s == want
}

// anyNumber applies a number test to a number claim or, in an array, to
// each number element until one passes.
func (ev *evaluation) anyNumber(v *gjson.Result, t *test) bool {
	if v.Type == gjson.Number {
		return t.compare(v.Num)
	}
	if !v.IsArray() {
		return false
	}
	sc := claims.Elements(v.Raw)
	for n := 0; ; n++ {
		_, _, el, ok := sc.Next()
		if !ok {
			return false
		}
		if n == claims.MaxScanned {
			ev.indeterminate = true
			return false
		}
		if c := el[0]; (c == '-' || '0' <= c && c <= '9') && t.compare(gjson.Parse(el).Num) {
			return true
		}
	}
}

// compare applies a number test.
func (t *test) compare(x float64) bool {
	switch t.op {
	case opGreater:
		return x > t.num
	case opGreaterOrEqual:
		return x >= t.num
	case opLess:
		return x < t.num
	case opLessOrEqual:
		return x <= t.num
	}
	return x == t.num
}

// boundValue reads the request value a binding names; found is false when
// it is missing, repeated or ambiguous.
func (ev *evaluation) boundValue(b binding) (string, bool) {
	switch b.from {
	case bindParam:
		return ev.stream.Params.Get(b.name)
	case bindQuery:
		var query string
		if i := strings.IndexByte(ev.stream.Path, '?'); i >= 0 {
			query = ev.stream.Path[i+1:]
		}
		v, found := queryParam(query, b.name)
		return v, found == queryOne
	}
	headers, err := ev.in.All()
	if err != nil {
		return "", false
	}
	var value string
	n := 0
	// By index: in wasm, copying a header pair is a call.
	for i := range headers {
		kv := &headers[i]
		if kv[0] == b.name {
			value = kv[1]
			n++
		}
	}
	return value, n == 1
}
