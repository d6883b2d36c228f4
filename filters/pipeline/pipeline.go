// Package pipeline runs a stream through the stages its route asks for. It is
// compiled once (Load) and immutable, so every worker shares one decision
// function; what changes per stream lives in a Stream, per worker in a Worker.
//
// The request-headers phase, in this order, the only place it is written:
//
//  1. :authority canonicalized (400 when malformed) and :path normalized
//     (400 for what must not reach an upstream);
//  2. the route matched; a stream none matched is first decided by the
//     global settings' stage.UnmatchedStages (require_https), then gets a
//     404 or 405, or the host's default;
//  3. headers apiguard writes from claims removed, on every route;
//  4. the calling service's identity (mutual TLS, a SPIFFE ID), on routes
//     with "peer" (filters/peer), so that every later stage may read it;
//  5. the early part of the route's stages that have one
//     (stage.EarlyStage), in the order of Stages: what must run before a
//     signature is checked, or without a token (a CORS preflight, which a
//     route with a stage.PreflightStage matches as the method it announces
//     and answers here, a local reply that is not a denial: Stream.Answer);
//  6. authentication, on routes with "auth" providers (filters/authn);
//  7. the optional stages of Stages, in their order;
//  8. the last part of the route's stages that have one (stage.LastStage),
//     in the order of Stages: checks that cost a callout, which a request
//     any cheaper check refused never reaches.
//
// A stage may ask for a gRPC call (stage.Stream.Call, stage.CallStage): the
// phase stops there, the glue makes the call, and CallAnswered resumes the
// stage with the answer and then the stages after it.
//
// Stages speak filters/stage: what they see of a stream and what they answer.
//
// The response-headers phase follows, on the upstream's response or on
// apiguard's own local reply (which Envoy passes through the filter's response
// callbacks, as it does Envoy's own: 503 upstream unreachable, 504): the
// route's stages that implement stage.ResponseHeadersStage, in the order of
// Stages, allowed or denied; on a stream no route matched, those compiled
// from the global settings alone. A stream without such a stage skips it:
// the glue reads nothing. A stage there may replace the response's body
// (Stream.ReplaceBody), which the glue then drops chunk by chunk and
// writes at its end.
//
// The request-body phase runs on a request whose stages asked for it in the
// headers phase (stage.Stream.LimitBody, ReadBody): its content-length is
// checked against the smallest limit asked when the headers phase ends, the
// bytes are counted as they arrive, and the stages that asked to read it get
// the whole body once it arrived (stage.RequestBodyStage). Any other request
// streams its body to the upstream untouched, unread and uncopied.
//
// Adding a stage, the files to touch in order:
//
//  1. a package under filters/ with its Compile, which reads its field of a
//     route with a config.Reader (its defaults and ranges are its own) and
//     returns a value implementing stage.Stage (and
//     stage.ResponseHeadersStage to edit the response's headers);
//  2. its denial reasons in filters/verdict (the closed set of codes);
//  3. one line in Stages: {Key: "its_field", Compile: itspkg.Compile}.
//
// The glue (plugin/) does not change: it applies any stage's edits
// generically. TestAddingAStage shows one.
package pipeline

import (
	"errors"
	"slices"
	"strconv"
	"time"

	"github.com/apiguard/apiguard/filters/audit"
	"github.com/apiguard/apiguard/filters/authn"
	"github.com/apiguard/apiguard/filters/authz"
	"github.com/apiguard/apiguard/filters/config"
	"github.com/apiguard/apiguard/filters/cors"
	"github.com/apiguard/apiguard/filters/harden"
	"github.com/apiguard/apiguard/filters/jwks"
	"github.com/apiguard/apiguard/filters/jwt"
	"github.com/apiguard/apiguard/filters/peer"
	"github.com/apiguard/apiguard/filters/ratelimit"
	"github.com/apiguard/apiguard/filters/route"
	"github.com/apiguard/apiguard/filters/stage"
	"github.com/apiguard/apiguard/filters/validate"
	"github.com/apiguard/apiguard/filters/verdict"
	"github.com/apiguard/apiguard/internal/slab"
)

// Route is one configured route.
type Route struct {
	// Name is unique; it names the route in logs, metrics and problem bodies.
	Name string
	// Match selects the requests the route governs.
	Match route.Spec
	// Auth says whether and how the route's requests are authenticated.
	Auth authn.RouteAuth
	// Peer is the calling service's identity the route requires; nil when
	// it requires none.
	Peer *peer.Requirement
	// Stages are the route's optional stages (Stages), in their order.
	Stages []stage.Stage
}

// Config is the whole policy.
type Config struct {
	Providers []authn.ProviderConfig
	Routes    []Route
	// DefaultAllow lets requests that match no route through. The default,
	// false, denies them: an API that forgot a route stays closed.
	DefaultAllow bool
	// Hosts are per-host settings, in configuration order.
	Hosts []Host
	// Audit is the audit record's settings; nil writes none.
	Audit *audit.Policy
	// Unmatched are the stages compiled from the global settings alone
	// (Spec.Global): their response phase runs on the streams no route
	// matched.
	Unmatched []stage.Stage
}

// Host is the settings of one host pattern ("hosts" in the filter JSON).
type Host struct {
	// Pattern is as in routes[].match.hosts.
	Pattern string
	// DefaultAllow replaces Config.DefaultAllow for the requests of this
	// host that match none of its routes.
	DefaultAllow bool
}

// Stages are the optional route stages, in the order they run on a route's
// requests, after authentication (their early parts before it). Adding a
// stage is one line here.
var Stages = []stage.Spec{
	{Key: "validate", Global: validate.Global, Compile: validate.Compile},
	{Key: "authz", Global: authz.ReadSettings, Compile: authz.Compile},
	{Key: "response", Global: harden.Global, Always: true, Compile: harden.Compile},
	{Key: "rate_limit", Global: ratelimit.Global, Compile: ratelimit.Compile},
	{Key: "cors", Global: cors.Global, Compile: cors.Compile},
}

// Pipeline is a compiled Config.
type Pipeline struct {
	table  *route.Table
	routes []compiledRoute
	// defaultAllow is each host group's default, by group number.
	defaultAllow []bool
	authn        *authn.Authenticator
	// protected are the headers apiguard writes from claims, capacity
	// capped so that appending to them copies.
	protected []string
	warnings  []Warning
	audit     *audit.Policy
	// unmatched are the responders of the streams no route matched, and
	// unmatchedChecks what decides them before their 404, 405 or default.
	unmatched       []stage.ResponseHeadersStage
	unmatchedChecks []stage.UnmatchedStage
	// readScheme is set when a stage takes part in the response phase,
	// which may depend on the request's scheme (Stream.Scheme).
	readScheme bool
	// preflights is set when a route answers CORS preflights.
	preflights bool
	// counters are the names of the stages' counters, which every worker
	// defines; the map that numbered those a route does not own
	// (stage.Counters) is not kept.
	counters []string
}

type compiledRoute struct {
	name string
	// stages run in order: the early parts of those of Stages that have one
	// (stage.EarlyStage), authentication, then those of Stages.
	stages []stage.Stage
	// responders are those of stages that take part in the
	// response-headers phase; nil when none does.
	responders []stage.ResponseHeadersStage
	// public routes remove the protected headers by name, as no stage
	// reads every header to find them.
	public bool
	// preflight is set when a stage answers CORS preflights.
	preflight bool
}

// Compile validates cfg and returns the pipeline, or every error found, each
// at its JSON path in the filter configuration.
func Compile(cfg Config) (*Pipeline, []config.Error) {
	a, errs := authn.Compile(cfg.Providers)
	known := map[string]bool{}
	for _, pc := range cfg.Providers {
		known[pc.Name] = true
	}
	specs := make([]route.Spec, len(cfg.Routes))
	for i := range cfg.Routes {
		specs[i] = cfg.Routes[i].Match
		specs[i].Name = cfg.Routes[i].Name
	}
	// The table first, its errors reported after the routes': each route's
	// stages are checked against the path parameters it parsed.
	patterns, settings, hostErrs := hostSettings(cfg.Hosts)
	table, routeErrs := route.Compile(specs, patterns...)
	firstByName := make(map[string]int, len(cfg.Routes))
	p := &Pipeline{routes: make([]compiledRoute, len(cfg.Routes))}
	var lists routeLists
	// By index: a Route is many words, and copies of it cost in wasm.
	for i := range cfg.Routes {
		r := &cfg.Routes[i]
		switch prev, dup := firstByName[r.Name]; {
		case r.Name == "":
			errs = append(errs, config.Errorf(routePath(i, ".name"), "must not be empty"))
		case dup:
			errs = append(errs, config.Errorf(routePath(i, ".name"), "%q duplicates routes[%d].name", r.Name, prev))
		default:
			firstByName[r.Name] = i
		}
		errs = p.compileRoute(errs, i, r, table, a, known, &lists)
	}
	errs = append(errs, sharedCounters(cfg.Routes, firstByName)...)
	if cfg.Audit != nil {
		headers, params := credentialSources(cfg.Providers)
		errs = append(errs, cfg.Audit.ExcludeCredentials("audit", headers, params)...)
	}
	errs = append(errs, hostErrs...)
	errs = append(errs, routeErrs...)
	if len(errs) > 0 {
		return nil, errs
	}
	var counters stage.Counters
	for i := range p.routes {
		for _, st := range p.routes[i].stages {
			counters.Add(st)
		}
	}
	for _, st := range cfg.Unmatched {
		counters.Add(st)
		if rs, ok := st.(stage.ResponseHeadersStage); ok {
			p.unmatched = append(p.unmatched, rs)
			p.readScheme = true
		}
		if us, ok := st.(stage.UnmatchedStage); ok {
			p.unmatchedChecks = append(p.unmatchedChecks, us)
			p.readScheme = true
		}
	}
	p.table, p.authn, p.audit, p.counters = table, a, cfg.Audit, counters.Names()
	protected := a.ProtectedHeaders()
	p.protected = protected[:len(protected):len(protected)]
	for _, pattern := range table.Hosts() {
		h, ok := settings[pattern]
		p.defaultAllow = append(p.defaultAllow, h.DefaultAllow || !ok && cfg.DefaultAllow)
	}
	if p.mayWarn(cfg) {
		p.warnings = p.findWarnings(cfg, settings)
	}
	return p, nil
}

// sharedCounters refuses a route whose name, with its dots made underscores
// for its counters (stage.MetricSegment), is another route's: the two would
// count as one. Names without dots, nearly all, cost no lookup.
func sharedCounters(routes []Route, firstByName map[string]int) []config.Error {
	var errs []config.Error
	var dotted map[string]int
	for i, r := range routes {
		seg := stage.MetricSegment(r.Name)
		if seg == r.Name {
			continue
		}
		if j, ok := firstByName[seg]; ok {
			errs = append(errs, config.Errorf(routePath(i, ".name"), "%q counts in the metrics of routes[%d].name %q: dots in a route's name become underscores in metric names", r.Name, j, seg))
			continue
		}
		if j, ok := dotted[seg]; ok {
			errs = append(errs, config.Errorf(routePath(i, ".name"), "%q and routes[%d].name %q would share the metric name %q: dots in a route's name become underscores there", r.Name, j, routes[j].Name, seg))
			continue
		}
		if dotted == nil {
			dotted = map[string]int{}
		}
		dotted[seg] = i
	}
	return errs
}

// routePath is the JSON path of route i's field sub (".auth"; "" for the
// route), built only for an error: most routes have none.
func routePath(i int, sub string) string { return "routes[" + strconv.Itoa(i) + "]" + sub }

// routeLists hand out the compiled routes' lists of stages, and know the
// roles of the stage types met so far (stageTypes); params is the
// list each route's stages append their path parameters to, reused. auth
// is the authentication stage the last token route compiled, which the
// next route shares if it requires the same: routes are mostly written in
// runs that accept the same providers, and a stage each, with its
// requirement and the path its errors would have had, was five of the
// allocations of a route.
type routeLists struct {
	types      stageTypes
	stages     slab.Slab[stage.Stage]
	responders slab.Slab[stage.ResponseHeadersStage]
	params     []stage.ParamUse
	auth       *authStage
	authOf     authKey
}

// authKey is what a route's authentication stage is compiled from.
type authKey struct {
	providers        []string
	optional, ifPeer bool
}

// compileRoute compiles route i into p.routes[i]: its stages in the order
// they run, and its responders, with its errors appended to errs. table is
// nil when the routes' table has errors.
func (p *Pipeline) compileRoute(errs []config.Error, i int, r *Route, table *route.Table, a *authn.Authenticator, known map[string]bool, lists *routeLists) []config.Error {
	cr := &p.routes[i]
	*cr = compiledRoute{name: r.Name, public: r.Auth.Public}
	// The route's own stages replace what Compile returned (the caller's
	// Config keeps those), on the stack: the route's list is built at the
	// end, in one allocation.
	var buf [8]stage.Stage
	own := append(buf[:0], r.Stages...)
	for j, st := range own {
		if lists.types.of(st)&routeStage != 0 {
			var stErrs []config.Error
			own[j], stErrs = st.(stage.RouteStage).ForRoute(stage.Route{Name: r.Name, Providers: r.Auth.Providers, Peer: r.Peer != nil})
			errs = append(errs, stErrs...)
		}
	}
	var early, last []stage.Stage
	var respBuf [8]stage.ResponseHeadersStage
	responders := respBuf[:0]
	if r.Peer != nil {
		early = append(early, r.Peer)
		errs = append(errs, checkOrToken(routePath(i, ""), r)...)
	}
	var captured []string
	if table != nil {
		captured = table.ParamNames(i)
	}
	for _, st := range own {
		roles := lists.types.of(st)
		if roles&paramStage != 0 {
			if table == nil && captured == nil {
				captured = r.Match.Params()
			}
			lists.params = st.(stage.ParamStage).AppendPathParams(lists.params[:0])
			for _, u := range lists.params {
				if !slices.Contains(captured, u.Name) {
					errs = append(errs, config.Errorf(u.Path+u.Sub, "the route's path template captures no parameter {%s}", u.Name))
				}
			}
		}
		if roles&responder != 0 {
			responders = append(responders, st.(stage.ResponseHeadersStage))
		}
		if roles&earlyStage != 0 {
			early = append(early, beforeAuthentication{st.(stage.EarlyStage)})
		}
		if roles&preflightStage != 0 && st.(stage.PreflightStage).AnswersPreflights() {
			cr.preflight, p.preflights = true, true
		}
		if roles&lastStage != 0 {
			last = append(last, afterOthers{st.(stage.LastStage)})
		}
	}
	cr.responders = lists.responders.Clone(responders)
	p.readScheme = p.readScheme || cr.responders != nil
	var auth []stage.Stage
	if !r.Auth.Public {
		key := authKey{r.Auth.Providers, r.Auth.Optional, r.Peer != nil && r.Peer.OrToken()}
		st := lists.auth
		if st == nil || !slices.Equal(key.providers, lists.authOf.providers) || key.optional != lists.authOf.optional || key.ifPeer != lists.authOf.ifPeer {
			n := len(errs)
			st, errs = authenticate(errs, i, r, a, known)
			lists.auth, lists.authOf = nil, authKey{}
			if st != nil && len(errs) == n {
				lists.auth, lists.authOf = st, key
			}
		}
		if st != nil {
			auth = []stage.Stage{st}
		}
	}
	cr.stages = lists.stages.Make(len(early) + len(auth) + len(own) + len(last))[:0]
	for _, part := range [...][]stage.Stage{early, auth, own, last} {
		cr.stages = append(cr.stages, part...)
	}
	return errs
}

// authenticate is the authentication stage of route i, which requires a
// token, nil when its providers are unknown or failed to compile.
func authenticate(errs []config.Error, i int, r *Route, a *authn.Authenticator, known map[string]bool) (*authStage, []config.Error) {
	// Checked here too, so that a route naming an unknown provider is
	// reported even when the providers themselves failed to compile.
	unknown := false
	for j, name := range r.Auth.Providers {
		if !known[name] {
			errs = append(errs, config.Errorf(routePath(i, ".auth.providers["+strconv.Itoa(j)+"]"), "unknown provider %q", name))
			unknown = true
		}
	}
	if a == nil || unknown {
		return nil, errs
	}
	path := routePath(i, ".auth")
	req, reqErrs := a.Require(path, r.Auth.Providers, r.Auth.Optional)
	errs = append(errs, reqErrs...)
	st := &authStage{a: a, req: req}
	if r.Peer != nil && r.Peer.OrToken() {
		st.ifPeer, _ = a.Require(path, r.Auth.Providers, true)
	}
	return st, errs
}

// credentialSources are the headers (by name, to the provider reading them)
// and query parameters providers read tokens from, for the audit record to
// leave out.
func credentialSources(providers []authn.ProviderConfig) (map[string]string, []string) {
	headers := map[string]string{}
	var params []string
	for _, pc := range providers {
		sources := pc.Sources
		if len(sources) == 0 {
			sources = authn.DefaultSources
		}
		for _, src := range sources {
			switch {
			case src.Header != "":
				headers[src.Header] = pc.Name
			case src.Query != "" && !slices.Contains(params, src.Query):
				params = append(params, src.Query)
			}
		}
	}
	return headers, params
}

// checkOrToken refuses or_token where no token could stand in for the peer.
func checkOrToken(path string, r *Route) []config.Error {
	switch {
	case !r.Peer.OrToken():
	case r.Auth.Public:
		return []config.Error{config.Errorf(path+".peer.or_token", `the route's "auth" is "none": there is no token to accept instead of the peer identity`)}
	case r.Auth.Optional:
		return []config.Error{config.Errorf(path+".peer.or_token", "the route's token is optional, so the peer identity would be too: drop or_token, or auth.optional")}
	}
	return nil
}

// hostSettings checks the per-host settings and returns their canonical
// patterns, and the settings by canonical pattern.
func hostSettings(hosts []Host) ([]string, map[string]Host, []config.Error) {
	if len(hosts) == 0 {
		return nil, nil, nil
	}
	var errs []config.Error
	var patterns []string
	settings := map[string]Host{}
	for _, h := range hosts {
		path := "hosts." + h.Pattern
		canon, err := route.ParseHostPattern(h.Pattern)
		switch prev, dup := settings[canon]; {
		case err != nil:
			errs = append(errs, config.Errorf(path, "%v", err))
		case dup:
			errs = append(errs, config.Errorf(path, "the same host as hosts.%s", prev.Pattern))
		default:
			patterns = append(patterns, canon)
			settings[canon] = h
		}
	}
	return patterns, settings, errs
}

// Audit is the audit record's policy, nil when none is configured.
func (p *Pipeline) Audit() *audit.Policy { return p.audit }

// Providers lists the identity providers' names, in configuration order.
func (p *Pipeline) Providers() []string { return p.authn.Providers() }

// KeySource is where provider i's keys come from: its inline key set, or the
// remote JWKS the glue fetches.
func (p *Pipeline) KeySource(i int) (*jwt.KeySet, *jwks.Remote) { return p.authn.KeySource(i) }

// Routes lists the routes' names, in configuration order: a stream's
// Stream.Matched counts in it from 1.
func (p *Pipeline) Routes() []string {
	out := make([]string, len(p.routes))
	for i := range p.routes {
		out[i] = p.routes[i].name
	}
	return out
}

// NewWorker returns a worker's state on host h: the inline key sets, a
// verified-token cache, the wall clock, and the stages' counters, defined
// on h.
func (p *Pipeline) NewWorker(h stage.Host) *stage.Worker {
	w := &stage.Worker{Keys: make([]*jwt.KeySet, len(p.authn.Providers())), Cache: jwt.NewCache(0, 0), Now: time.Now, Host: h}
	for i := range w.Keys {
		w.Keys[i], _ = p.authn.KeySource(i)
	}
	w.Define(p.counters)
	return w
}

// RequestHeaders runs the request-headers phase (see the package
// documentation) for a new stream. When it allows the stream, s.Edits are
// what to change in the request.
func (p *Pipeline) RequestHeaders(s *stage.Stream, h stage.Headers, w *stage.Worker) verdict.Decision {
	method, path := h.Get(":method"), h.Get(":path")
	// Envoy puts HTTP/1's Host in :authority, so one read serves both.
	authority := h.Get(":authority")
	var scheme string
	if p.readScheme || route.HasPort(authority) {
		scheme = h.Get(":scheme")
	}
	s.Method, s.Path, s.Scheme, s.Responders = method, path, scheme, p.unmatched
	if d := p.match(s, h, method, path, authority, scheme); d.Denied() || len(s.Stages) == 0 {
		return d
	}
	return p.Resume(s, h, w)
}

// Resume runs the route's stages from the one that last denied with a Wait
// (or the first), for a stream that waited for keys. A stage that answers
// the stream (Stream.Answer) ends the run; one that asks for a call (s.Call
// set) stops it, to go on in CallAnswered.
func (p *Pipeline) Resume(s *stage.Stream, h stage.Headers, w *stage.Worker) verdict.Decision {
	in := s.Begin(h, w)
	for ; s.Next < len(s.Stages); s.Next++ {
		if d := s.Stages[s.Next].RequestHeaders(s, in); d.Denied() || s.Answer != nil || s.Call != nil {
			return d
		}
	}
	return p.endHeaders(in, s)
}

// CallAnswered resumes a stream whose stage asked for s.Call with its
// answer: that stage decides on it, and the stages after it run, unless it
// asks for another call.
func (p *Pipeline) CallAnswered(s *stage.Stream, h stage.Headers, w *stage.Worker, res stage.CallResult) verdict.Decision {
	s.Call = nil
	cs, ok := caller(s.Stages[s.Next])
	if !ok {
		return verdict.Deny(verdict.Internal, "a call was answered to a stage that made none")
	}
	in := s.Begin(h, w)
	if d := cs.OnCallResponse(s, in, res); d.Denied() || s.Call != nil {
		return d
	}
	s.Next++
	return p.Resume(s, h, w)
}

// endHeaders ends an allowed request-headers phase.
func (p *Pipeline) endHeaders(in *stage.Input, s *stage.Stream) verdict.Decision {
	if s.BodyLimit > 0 {
		return checkContentLength(in.Get("content-length"), s.BodyLimit)
	}
	return verdict.Decision{}
}

// checkContentLength refuses a declared body larger than limit before any of
// it is read. The bytes are counted as they arrive too: a chunked body has
// no content-length, and a declared one may lie.
func checkContentLength(v string, limit int64) verdict.Decision {
	if v == "" {
		return verdict.Decision{}
	}
	n, err := strconv.ParseUint(v, 10, 63)
	switch {
	case err != nil && errors.Is(err, strconv.ErrRange):
		return verdict.Deny(verdict.BodyTooLarge, "content-length exceeds the route's body limit")
	case err != nil:
		return verdict.Deny(verdict.BadRequest, "malformed content-length")
	case int64(n) > limit:
		return verdict.Deny(verdict.BodyTooLarge, "content-length exceeds the route's body limit")
	}
	return verdict.Decision{}
}

// RequestBody runs the request-body phase on a stream whose stages asked
// for it (s.BodyLimit > 0), once the whole body arrived: the stages that
// asked to read it (s.BodyReaders), in order. The request's headers are
// gone by then (Envoy releases them once the headers phase continued): a
// stage keeps what it needs of them in the stream.
func (p *Pipeline) RequestBody(s *stage.Stream, body []byte, w *stage.Worker) verdict.Decision {
	if int64(len(body)) > s.BodyLimit {
		return verdict.Deny(verdict.BodyTooLarge, "the body exceeds the route's body limit")
	}
	in := s.Begin(noHeaders{}, w)
	for _, st := range s.BodyReaders {
		if d := st.RequestBody(s, body, in); d.Denied() {
			return d
		}
	}
	return verdict.Decision{}
}

// noHeaders is a phase without headers to read.
type noHeaders struct{}

func (noHeaders) Get(string) string { return "" }

func (noHeaders) All() ([][2]string, error) {
	return nil, errors.New("the request headers were released when the headers phase continued")
}

// ResponseHeaders runs the response-headers phase: the route's
// ResponseHeadersStages, in order, on the response's headers h. Afterwards
// s.Response are what to change in them, and s.ReplaceBody the body that
// replaces the response's, if any. The glue calls it only when s.Responders
// is not empty.
func (p *Pipeline) ResponseHeaders(s *stage.Stream, h stage.Headers, w *stage.Worker) {
	in := s.Begin(h, w)
	for _, st := range s.Responders {
		st.ResponseHeaders(s, in)
	}
}

// match canonicalizes the authority, normalizes the path and matches the
// route, recording it in s.
func (p *Pipeline) match(s *stage.Stream, h stage.Headers, method, path, authority, scheme string) verdict.Decision {
	if method == "" {
		return verdict.Deny(verdict.BadRequest, "missing :method")
	}
	host, d := route.CanonicalHost(authority, scheme)
	if d.Denied() {
		return d
	}
	norm, d := route.Normalize(path)
	if d.Denied() {
		return d
	}
	s.Edits.Path = forwardPath(path, norm)
	g := p.table.Host(host)
	if method == "OPTIONS" && p.preflights {
		if announced := preflightMethod(h); announced != "" {
			if i, _ := p.table.Match(g, announced, norm.Decoded, &s.Params); i >= 0 && p.routes[i].preflight {
				s.Preflight = true
				p.matched(s, i)
				return verdict.Decision{}
			}
		}
	}
	i, d := p.table.Match(g, method, norm.Decoded, &s.Params)
	if i < 0 {
		for _, st := range p.unmatchedChecks {
			if d := st.Unmatched(s); d.Denied() {
				return d
			}
		}
		if d.Reason == verdict.NoRoute && p.defaultAllow[g] {
			s.Edits.Remove = p.protected
			return verdict.Decision{}
		}
		return d
	}
	p.matched(s, i)
	return verdict.Decision{}
}

// matched records route i in s.
func (p *Pipeline) matched(s *stage.Stream, i int) {
	rt := &p.routes[i]
	s.Route, s.Matched, s.Stages, s.Responders = rt.name, i+1, rt.stages, rt.responders
	if rt.public {
		s.Edits.Remove = p.protected
	}
}

// preflightMethod is the method a CORS preflight announces (Fetch,
// section 3.2.2: OPTIONS with Origin and Access-Control-Request-Method), ""
// when the request is not one. An Origin that is present counts, even
// empty or repeated: the route's CORS policy refuses those.
func preflightMethod(h stage.Headers) string {
	all, err := h.All()
	if err != nil {
		return ""
	}
	origin, announced := false, ""
	for _, kv := range all {
		switch kv[0] {
		case "origin":
			origin = true
		case "access-control-request-method":
			if announced == "" {
				announced = kv[1]
			}
		}
	}
	if !origin {
		return ""
	}
	return announced
}

// forwardPath is the :path to send upstream, or "" when the client's path is
// already canonical. The query is forwarded byte for byte.
func forwardPath(raw string, n route.Path) string {
	if len(raw) >= len(n.Escaped) && raw[:len(n.Escaped)] == n.Escaped &&
		(len(raw) == len(n.Escaped) || raw[len(n.Escaped)] == '?') {
		return ""
	}
	if len(n.Query) > 0 || len(raw) > 0 && raw[len(raw)-1] == '?' {
		return n.Escaped + "?" + n.Query
	}
	return n.Escaped
}
