// Package stage is the contract between the pipeline and its stages: what a
// stage sees of a stream (Stream, Input) and what it may change (Edits).
// Stage packages and filters/pipeline import it.
package stage

import (
	"time"

	"github.com/tidwall/gjson"

	"github.com/apiguard/apiguard/filters/authn"
	"github.com/apiguard/apiguard/filters/config"
	"github.com/apiguard/apiguard/filters/jwt"
	"github.com/apiguard/apiguard/filters/route"
	"github.com/apiguard/apiguard/filters/spiffe"
	"github.com/apiguard/apiguard/filters/verdict"
)

// Stage is one policy step a route runs on its requests, compiled from the
// route's configuration and immutable.
type Stage interface {
	// RequestHeaders decides on the request's headers. It may read every
	// header (in.All) and record what later stages need in s. It denies, or
	// allows and adds its edits with s.Edits.Add; a denial that keys may
	// still lift sets s.Wait.
	RequestHeaders(s *Stream, in *Input) verdict.Decision
}

// ResponseHeadersStage is a Stage that also takes part in the
// response-headers phase. Only routes with such a stage pay for the phase:
// on the others the glue continues at once, reading nothing.
type ResponseHeadersStage interface {
	Stage
	// ResponseHeaders runs on the response's headers, the upstream's or
	// apiguard's own local reply, on every stream whose route has the stage,
	// allowed or denied. It may read them (in.All) and adds its edits with
	// s.Response.Add. It cannot deny: the response is already decided.
	ResponseHeaders(s *Stream, in *Input)
}

// RequestBodyStage is a Stage that may read a request's whole body. It asks
// for it per request, in RequestHeaders, with Stream.ReadBody; a request
// none of its stages asked for streams to the upstream untouched.
type RequestBodyStage interface {
	Stage
	// RequestBody runs once the whole body arrived (empty for a request
	// without one), on a request the headers phase allowed. It denies, or
	// allows; it cannot edit the body.
	RequestBody(s *Stream, body []byte, in *Input) verdict.Decision
}

// ParamStage is a Stage that names path parameters (a typed parameter, an
// authorization binding): the pipeline refuses a configuration in which its
// route's template captures no parameter of that name.
type ParamStage interface {
	Stage
	AppendPathParams(dst []ParamUse) []ParamUse
}

// ParamUse is a path parameter a stage names, and the JSON path where:
// Path followed by Sub, joined only for an error.
type ParamUse struct {
	Name, Path, Sub string
}

// RouteStage is a Stage whose configuration refers to its route beyond the
// parameters it captures (ParamStage): its name in metric names, the
// identity providers it accepts. Compile sees only the stage's own field;
// once the route is read, the pipeline calls ForRoute and runs the stage it
// returns in this one's place. Errors are reported like Compile's, each at
// its JSON path.
type RouteStage interface {
	Stage
	ForRoute(rt Route) (Stage, []config.Error)
}

// Route is what a RouteStage learns of its route.
type Route struct {
	// Name is the route's name, unique in the configuration.
	Name string
	// Providers are the identity providers it accepts; nil on a route
	// without authentication.
	Providers []string
	// Peer: the route verifies the calling service's identity ("peer"), so
	// Stream.Peer may be set on its streams.
	Peer bool
}

// Spec is a kind of optional route stage: the field it owns in a route and
// how it compiles.
type Spec struct {
	// Key is its field in a route, and in the document's top level when
	// the stage has global settings (Global).
	Key string
	// Global, when set, reads the top-level field once, before any route:
	// the settings every route's stage starts from (defaults a route may
	// override, rules that apply everywhere). nil means the stage has no
	// top-level field.
	Global func(r *config.Reader, path string, v gjson.Result) any
	// Always runs Global also when the document lacks the field (v not
	// Exists()): a stage that is on by default, as hardening is.
	Always bool
	// Compile reads a route's field (strictly, with r, every error at its
	// path) and returns the route's stage, or nil when the route does not
	// run it. global is what Global returned, nil without global settings;
	// when it is not nil, Compile runs for every route, with v not Exists()
	// on a route without its own field, and once more with path Key and v
	// not Exists() for the streams no route matched (see Stream.Responders).
	Compile func(r *config.Reader, path string, v gjson.Result, global any) Stage
}

// Headers reads a phase's headers (the request's, or the response's) from
// the host.
type Headers interface {
	// Get returns a header's value, "" when absent (or unreadable: every
	// stage then treats the message as one without it).
	Get(name string) string
	// All returns every header; an error means the host could not say.
	All() ([][2]string, error)
}

// Worker is one worker's state that stages read but never change: each
// provider's current keys, the verified-token cache, the clock and the host.
// The glue installs keys and the host, and clears the cache.
type Worker struct {
	// Keys are indexed like the providers (KeySource); nil while one has
	// none.
	Keys  []*jwt.KeySet
	Cache *jwt.Cache
	Now   func() time.Time
	Host  Host
	// counters are the host's ids of the pipeline's counters, indexed by
	// Counter id (Define).
	counters []uint32
}

// Input is what a stage may read in a phase: the phase's headers, read from
// the host at most once per phase and only when a stage asks, and the worker.
type Input struct {
	headers Headers
	worker  *Worker
	all     [][2]string
	read    bool
	err     error
	now     time.Time
}

// Begin starts a phase's run of stages on the stream and returns their input. The
// input lives in the stream, so a run allocates nothing for it.
func (s *Stream) Begin(h Headers, w *Worker) *Input {
	s.in.begin(h, w)
	s.Wait = nil
	return &s.in
}

// begin makes in a phase's fresh input, field by field as Stream.Reset
// writes: Input is more than four words.
func (in *Input) begin(h Headers, w *Worker) {
	in.headers, in.worker, in.all, in.read, in.err, in.now = h, w, nil, false, nil, time.Time{}
}

// All returns every header of the phase.
func (in *Input) All() ([][2]string, error) {
	if !in.read {
		in.all, in.err = in.headers.All()
		in.read = true
	}
	return in.all, in.err
}

// Get returns one header of the phase, "" when absent.
func (in *Input) Get(name string) string { return in.headers.Get(name) }

// Worker is the worker's state.
func (in *Input) Worker() *Worker { return in.worker }

// Now is the worker's clock, read once per phase: the phase's stages (a
// token's expiry, a rate limit's window) decide at one instant, and the
// host is asked once.
func (in *Input) Now() time.Time {
	if in.now.IsZero() {
		in.now = in.worker.Now()
	}
	return in.now
}

// Stream is one stream's state, carried from stage to stage and, for a
// stream that waits, across the wait. The glue keeps one per stream and
// calls Reset when the stream ends.
type Stream struct {
	// Route is the matched route's name; "" when none matched.
	Route string
	// Matched is the matched route's place in the configuration
	// (pipeline.Routes), counting from 1; 0 when none matched.
	Matched int
	// Params are what the route's template captured.
	Params route.Params
	// Principal is the caller a verified token names; its Token is nil on
	// an unauthenticated request.
	Principal authn.Principal
	// Peer is the calling service's SPIFFE ID, from the verified mTLS peer
	// certificate, once the route's peer requirement accepted it; zero
	// otherwise. The ID is all a stream keeps of the certificate.
	Peer spiffe.ID
	// Method is the client's :method, and Path its :path.
	Method string
	Path   string
	// HasBody: a body follows the request's headers (the glue knows it
	// from the headers callback; a content-length may say otherwise).
	HasBody bool
	// Scheme is the request's :scheme ("https", "http"), read when the
	// authority has a port or the policy has a stage in the response
	// phase (HSTS depends on it); "" otherwise.
	Scheme string
	// Preflight is set on a CORS preflight (OPTIONS with Origin and
	// Access-Control-Request-Method) that was matched as the request it
	// announces, on a route with a PreflightStage that answers it.
	Preflight bool
	// Answer, set by a stage, is a local reply that is not a denial (a
	// preflight's 204): the phase stops there and the glue sends it,
	// without a body.
	Answer *Answer
	// ReplaceBody, set in the response-headers phase, replaces the
	// response's body (an upstream's 5xx page by a generic problem); nil
	// keeps it. The glue applies it only to a response that has a body
	// and is not apiguard's own reply.
	ReplaceBody *Body
	// Edits are what the stages that ran change in the request, applied by
	// the glue once the phase allowed it: Remove, then Set, then Path ("" keeps
	// the client's). Any that fails denies the stream.
	Edits Edits
	// Response are what the response-headers phase changes in the
	// response's headers, applied by the glue like Edits (Path must stay "":
	// a response has none).
	Response Edits
	// Wait, after a denial, names the provider whose keys may still
	// arrive: the glue may pause the stream until they do and resume it.
	Wait *authn.KeyWait
	// Call, when a stage set it, is a call the stream waits for: the glue
	// makes it and resumes the stage that asked (CallStage) with the answer.
	Call *Call
	// Attempted names the provider whose verification decided, for
	// metrics; "" when none ran.
	Attempted string
	// CacheHit: the provider that Attempted names found the token in the
	// verified-token cache.
	CacheHit bool
	// The pipeline's bookkeeping: the matched route's stages and the next to
	// run (a stream that waited resumes there).
	Stages []Stage
	Next   int
	// Responders are the matched route's ResponseHeadersStages, in order,
	// or on a stream no route matched (denied before or at matching, or let
	// through by the default) those compiled from the global settings; nil
	// when there are none, and the response-headers phase is skipped.
	Responders []ResponseHeadersStage
	// BodyLimit is the most request body bytes the stream may carry, the
	// smallest a stage set (LimitBody, ReadBody); 0 when none did, and the
	// body streams through unseen.
	BodyLimit int64
	// BodyReaders are the stages that asked for the whole body (ReadBody).
	BodyReaders []RequestBodyStage
	// Outcomes are what stages decided that the audit record tells beyond
	// the stream's verdict (Note).
	Outcomes []Outcome
	// Denied is the reason the stream was answered with, None while it
	// was not; the glue sets it, for the audit record.
	Denied verdict.Reason
	in     Input
	kept   []kept
	// spare are values stages kept in the stream's last stream (Spare),
	// at most maxSpare.
	spare []any
}

// OutcomeKind says whether a stage's denial was enforced.
type OutcomeKind uint8

const (
	// Enforced: the stage denied the request.
	Enforced OutcomeKind = iota + 1
	// DryRun: a dry-run policy would have denied it.
	DryRun
	// Shadow: a shadow rate-limit rule would have refused it.
	Shadow
)

// Outcome is a denial a stage decided, enforced or not, and the rule that
// decided it: a name from configuration ("authz:orders",
// "rate_limit:per-user"), never request data.
type Outcome struct {
	Kind   OutcomeKind
	Reason verdict.Reason
	Rule   string
}

// Note records an outcome for the audit record.
func (s *Stream) Note(o Outcome) { s.Outcomes = append(s.Outcomes, o) }

// LimitBody caps the request body at n bytes (n > 0): a larger
// content-length is refused before any body is read, and a body that grows
// past n as it streams is refused as soon as it does. The smallest cap any
// stage sets wins.
func (s *Stream) LimitBody(n int64) {
	if s.BodyLimit == 0 || n < s.BodyLimit {
		s.BodyLimit = n
	}
}

// ReadBody asks for st's RequestBody to run on the whole body, which the
// glue then buffers, capped at n bytes (LimitBody).
func (s *Stream) ReadBody(st RequestBodyStage, n int64) {
	s.LimitBody(n)
	s.BodyReaders = append(s.BodyReaders, st)
}

// Reset forgets the stream, for reuse. Field by field, nested structs too:
// the captures are most of a Stream's size, and in wasm a struct literal
// of more than four words stored into the heap is built aside and copied
// through a call: the two Edits and the Input cost Reset 40% of its
// instructions (TestResetForgetsEveryField holds it to every field).
func (s *Stream) Reset() {
	s.Params.Reset()
	s.Route, s.Matched, s.Principal.Provider, s.Principal.Token, s.Peer = "", 0, "", nil, spiffe.ID{}
	s.Method, s.Path, s.HasBody, s.Scheme, s.Preflight = "", "", false, "", false
	s.Answer, s.ReplaceBody = nil, nil
	s.Edits.Remove, s.Edits.Set, s.Edits.Path, s.Response.Remove, s.Response.Set, s.Response.Path = nil, nil, "", nil, nil, ""
	s.Wait, s.Call, s.Attempted, s.CacheHit = nil, nil, "", false
	s.Stages, s.Next, s.Responders = nil, 0, nil
	s.in.begin(nil, nil)
	s.BodyLimit, s.BodyReaders = 0, s.BodyReaders[:0]
	s.Outcomes, s.Denied = s.Outcomes[:0], verdict.None
	// Only the ended stream's values are kept: one no stage takes back (a
	// CORS origin) must not hold its memory, or a slot, past the next.
	if len(s.spare) == 0 && len(s.kept) == 0 {
		return
	}
	clear(s.spare)
	s.spare = s.spare[:0]
	for _, k := range s.kept {
		if len(s.spare) < maxSpare {
			s.spare = append(s.spare, k.value)
		}
	}
	clear(s.kept)
	s.kept = s.kept[:0]
}

// Answer is a local reply that allows rather than denies: a status and its
// headers, no body.
type Answer struct {
	Status  int
	Headers [][2]string
}

// Body is a replacement body and the headers that describe it (its
// content type), which the glue sets with it; it drops the length header.
type Body struct {
	Headers [][2]string
	Data    []byte
}

// Edits are generic changes to a message's headers.
type Edits struct {
	Remove []string
	Set    [][2]string
	// Path is the :path to forward; "" keeps the client's.
	Path string
}

// Add merges a later stage's edits. The first stage's lists are taken as
// they are, without a copy: most routes have one stage that edits.
func (e *Edits) Add(later Edits) {
	if len(e.Remove) == 0 {
		e.Remove = later.Remove
	} else {
		e.Remove = append(e.Remove, later.Remove...)
	}
	if len(e.Set) == 0 {
		e.Set = later.Set
	} else {
		e.Set = append(e.Set, later.Set...)
	}
	if later.Path != "" {
		e.Path = later.Path
	}
}
