// Package authz decides whether an authenticated caller may do what a
// request asks: this method, on this route, on the object its path names.
// It runs after authentication, on the verified claims only (roles, scopes,
// claim conditions, claims bound to the request's path parameters, declared
// query parameters or headers), with explicit deny rules that win over any
// allow, routes that are always denied, method-override refusal and a
// dry-run mode that reports without enforcing.
package authz

import (
	"strings"
	"unsafe"

	"github.com/apiguard/apiguard/filters/config"
	"github.com/apiguard/apiguard/filters/stage"
	"github.com/apiguard/apiguard/filters/verdict"
)

// DryRunHeader is the request header a dry-run route's upstream receives
// with the reason the request would have been denied for. apiguard removes
// any the client sent.
const DryRunHeader = "x-apiguard-dry-run"

// isOverrideHeader reports a header that asks a server to treat a request as
// another method. A switch rather than a list: it runs on every header of
// every request, and Go compiles it to comparisons of lengths first, so that
// almost every header costs no comparison of bytes.
func isOverrideHeader(name string) bool {
	switch name {
	case "x-http-method-override", "x-http-method", "x-method-override":
		return true
	}
	return false
}

// Policy is one route's compiled authorization; immutable.
type Policy struct {
	*rules
	// path is the route's "authz" field, for ForRoute's errors.
	path string
	// Set by ForRoute.
	roles    []providerRoles
	outcomes []outcome
	// rule names the route's policy in the audit record.
	rule string
}

// rules are what a route's "authz" field compiles to, shared by the routes
// whose fields are the same text (parser.compiled): a route's own Policy
// is a few words around them.
type rules struct {
	settings *Settings
	// allow holds for the methods methods does not list; nil allows none
	// of them. deny applies to every method.
	allow, deny *cond
	methods     []methodRules
	// overrides lets a method-override header or _method parameter through,
	// authorizing the method it names.
	overrides bool
	dryRun    bool
	// denyAll denies every request with forbidden (verdict.Forbidden, or
	// verdict.NoRoute to hide the route).
	denyAll   bool
	forbidden verdict.Reason
	// params are the bindings to path parameters (AppendPathParams), each at
	// its path below the field's.
	params []use
	// tokenUse, roleUse and peerUse are the paths, below the field's, of
	// the first conditions needing a token, roles and a peer identity,
	// checked by ForRoute; "" for none (a condition is never the field
	// itself).
	tokenUse, roleUse, peerUse string
	// vocab numbers the document's role and scope names and claim paths;
	// tokens keep their facts under it.
	vocab *vocabulary
}

// outcome is what a route does for one denial reason it can give: its
// counter (denied, or dry_run on a dry-run route), and on a dry-run route
// its log line and edits, built once from configuration.
type outcome struct {
	reason  verdict.Reason
	counter stage.Counter
	dry     *dryOutcome
}

// dryOutcome is what a dry-run route does besides counting.
type dryOutcome struct {
	logLine string
	edits   stage.Edits
}

// dryRunRemove removes a client's DryRunHeader; capacity capped, so that
// a later stage's edits appended to it copy it. dryRunPass are the edits of
// a request a dry-run route allows.
var (
	dryRunRemove = []string{DryRunHeader}
	dryRunPass   = stage.Edits{Remove: dryRunRemove}
)

// AppendPathParams appends the path parameters the policy binds claims
// to; the pipeline checks that the route's template captures each.
func (p *Policy) AppendPathParams(dst []stage.ParamUse) []stage.ParamUse {
	for _, u := range p.params {
		dst = append(dst, stage.ParamUse{Name: u.b.name, Path: p.path, Sub: u.path})
	}
	return dst
}

// ForRoute checks the policy against its route (roles configured for each
// provider it accepts, a token to read claims from) and returns the route's
// stage, with its metric names.
func (p *Policy) ForRoute(rt stage.Route) (stage.Stage, []config.Error) {
	var errs []config.Error
	if p.tokenUse != "" && len(rt.Providers) == 0 {
		errs = append(errs, config.Errorf(p.path+p.tokenUse, "needs a verified token, but the route has no authentication"))
	}
	if p.peerUse != "" && !rt.Peer {
		errs = append(errs, config.Errorf(p.path+p.peerUse, `needs a verified peer identity, but the route has no "peer" requirement`))
	}
	bound := &boundPolicy{Policy: *p}
	q := &bound.Policy
	q.roles = nil
	for _, name := range rt.Providers {
		var pr providerRoles
		k := p.settings.roleSources(name)
		if k >= 0 {
			pr = p.settings.rolesFrom[k]
		} else {
			pr.provider = name
		}
		if p.roleUse != "" && pr.sources == nil {
			errs = append(errs, config.Errorf(p.path+p.roleUse, "provider %q has no roles: list its role claims in authz.roles_from.%s", name, name))
		}
		if len(rt.Providers) == 1 && k >= 0 {
			// The settings' own entry, capped so that nothing appends to
			// it: most routes accept one provider, and a list each was an
			// allocation.
			q.roles = p.settings.rolesFrom[k : k+1 : k+1]
			continue
		}
		q.roles = append(q.roles, pr)
	}
	// Only the reasons the route can give have a counter: a route that is
	// always denied gives one; the last is the fallback (outcome).
	reasons := []verdict.Reason{verdict.Forbidden, verdict.InsufficientScope, verdict.MethodOverride, verdict.Internal}
	if p.denyAll {
		reasons = []verdict.Reason{p.forbidden}
	}
	// The field's path, the rule and the counters' names share one
	// allocation: 1,000 routes keep 6,000 of them. Compile's path is the
	// reader's, which a kept one would keep whole. A dry-run route's log
	// lines and edits are built only for it.
	const rule, prefix = "authz:", "apiguard.authz."
	kind := func(r verdict.Reason) string {
		if p.dryRun && r != verdict.Internal {
			return ".dry_run."
		}
		return ".denied."
	}
	segment := stage.MetricSegment(rt.Name)
	size := len(p.path) + len(rule) + len(rt.Name)
	for _, r := range reasons {
		size += len(prefix) + len(segment) + len(kind(r)) + len(r.Code())
	}
	b := make([]byte, 0, size)
	b = append(b, p.path...)
	b = append(b, rule...)
	b = append(b, rt.Name...)
	names := len(b)
	for _, r := range reasons {
		b = append(b, prefix...)
		b = append(b, segment...)
		b = append(b, kind(r)...)
		b = append(b, r.Code()...)
	}
	all := unsafe.String(unsafe.SliceData(b), len(b))
	q.path, q.rule, all = all[:len(p.path)], all[len(p.path):names], all[names:]
	q.outcomes = bound.outcomes[:len(reasons)]
	for i, r := range reasons {
		n := len(prefix) + len(segment) + len(kind(r)) + len(r.Code())
		q.outcomes[i] = outcome{reason: r, counter: stage.NewRouteCounter(all[:n])}
		all = all[n:]
		if p.dryRun {
			q.outcomes[i].dry = &dryOutcome{
				logLine: "apiguard: authz dry run: route " + rt.Name + " would deny the request: " + r.Code(),
				edits:   stage.Edits{Remove: dryRunRemove, Set: [][2]string{{DryRunHeader, r.Code()}}},
			}
		}
	}
	return q, errs
}

// boundPolicy is a Policy bound to its route, with room for its outcomes:
// ForRoute returns the Policy inside, one allocation for both.
type boundPolicy struct {
	Policy
	outcomes [4]outcome
}

// RequestHeaders decides, and enforces unless the route is in dry run: then
// a denial is counted, logged and told to the upstream in DryRunHeader. A
// host that failed (headers unreadable) denies even in dry run: that is no
// decision of the policy's.
func (p *Policy) RequestHeaders(s *stage.Stream, in *stage.Input) verdict.Decision {
	d := p.decide(s, in)
	if !d.Denied() {
		if p.dryRun {
			s.Edits.Add(dryRunPass)
		}
		return d
	}
	o := p.outcome(d.Reason)
	w := in.Worker()
	w.Count(&o.counter, 1)
	if !p.dryRun || d.Reason == verdict.Internal {
		s.Note(stage.Outcome{Kind: stage.Enforced, Reason: d.Reason, Rule: p.rule})
		return d
	}
	s.Note(stage.Outcome{Kind: stage.DryRun, Reason: d.Reason, Rule: p.rule})
	w.Host.Log(o.dry.logLine)
	s.Edits.Add(o.dry.edits)
	return verdict.Decision{}
}

// AppendCounters appends the route's counters, one per reason it can give.
func (p *Policy) AppendCounters(dst []*stage.Counter) []*stage.Counter {
	for i := range p.outcomes {
		dst = append(dst, &p.outcomes[i].counter)
	}
	return dst
}

func (p *Policy) outcome(r verdict.Reason) *outcome {
	for i := range p.outcomes {
		if p.outcomes[i].reason == r {
			return &p.outcomes[i]
		}
	}
	return &p.outcomes[len(p.outcomes)-1] // Internal, or an always-denied route's one reason
}

// decide is the route's decision on a request, whether enforced or not.
func (p *Policy) decide(s *stage.Stream, in *stage.Input) verdict.Decision {
	if p.denyAll {
		return verdict.Deny(p.forbidden, "")
	}
	method, refused := p.method(s, in)
	switch refused {
	case verdict.None:
	case verdict.Internal:
		return verdict.Deny(refused, "cannot read request headers")
	default:
		return verdict.Deny(refused, "")
	}
	allow, deny := p.allow, p.deny
	var methodDeny *cond
	for i := range p.methods {
		if p.methods[i].method == method {
			allow, methodDeny = p.methods[i].allow, p.methods[i].deny
			break
		}
	}
	ev := evaluation{policy: p, token: s.Principal.Token, provider: s.Principal.Provider, stream: s, in: in}
	// A deny rule's failing scopes condition never denies: it is
	// evaluated as negated.
	denied := deny != nil && ev.holds(deny, true) || methodDeny != nil && ev.holds(methodDeny, true)
	allowed := !denied && allow != nil && ev.holds(allow, false)
	switch {
	case denied || ev.indeterminate:
		return verdict.Deny(verdict.Forbidden, "")
	case allowed:
		return verdict.Decision{}
	case ev.missingScope != nil:
		return verdict.DenyWith(verdict.InsufficientScope, ev.missingScope)
	}
	return verdict.Deny(verdict.Forbidden, "")
}

// method is the method to authorize: the request's, or the one an allowed
// override names; HEAD is authorized as GET. refused is why there is none:
// verdict.MethodOverride, or verdict.Internal when the headers cannot be
// read. A reason rather than a Decision: most requests need none, and
// making one for each cost more than the rest of this function.
func (p *Policy) method(s *stage.Stream, in *stage.Input) (method string, refused verdict.Reason) {
	headers, err := in.All()
	if err != nil {
		return "", verdict.Internal
	}
	override := ""
	const refuse = verdict.MethodOverride
	// By index: in wasm, copying a header pair is a call.
	for j := range headers {
		kv := &headers[j]
		if !isOverrideHeader(kv[0]) {
			continue
		}
		m := strings.ToUpper(kv[1])
		if !p.overrides || !isMethod(m) || override != "" && override != m {
			return "", refuse
		}
		override = m
	}
	if i := strings.IndexByte(s.Path, '?'); i >= 0 {
		v, found := queryParam(s.Path[i+1:], "_method")
		m := strings.ToUpper(v)
		switch {
		case found == queryAbsent:
		case !p.overrides || found == queryAmbiguous || !isMethod(m) || override != "" && override != m:
			return "", refuse
		default:
			override = m
		}
	}
	method = s.Method
	if override != "" {
		method = override
	}
	if method == "HEAD" {
		method = "GET"
	}
	return method, verdict.None
}
