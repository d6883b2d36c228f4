// Package stage is the contract between the pipeline and its stages: what a
// stage sees of a stream (Stream, Input) and what it answers (Outcome, Edits).
// Stage packages and filters/pipeline import it.
package stage

import (
	"time"

	"github.com/tidwall/gjson"

	"github.com/apiguard/apiguard/filters/authn"
	"github.com/apiguard/apiguard/filters/config"
	"github.com/apiguard/apiguard/filters/jwt"
	"github.com/apiguard/apiguard/filters/route"
	"github.com/apiguard/apiguard/filters/verdict"
)

// Stage is one policy step a route runs on its requests, compiled from the
// route's configuration and immutable.
type Stage interface {
	// RequestHeaders decides on the request's headers. It may read every
	// header (in.All), record what later stages need in s, and return a
	// denial, edits to apply, or a denial with a Wait.
	RequestHeaders(s *Stream, in *Input) Outcome
}

// Spec is a kind of optional route stage: the field it owns in a route and
// how it compiles.
type Spec struct {
	// Key is its field in a route; a route without it does not run it.
	Key string
	// Compile reads the field (strictly, with r, every error at its path)
	// and returns the stage.
	Compile func(r *config.Reader, path string, v gjson.Result) Stage
}

// Headers reads the request's headers from the host.
type Headers interface {
	// Get returns a header's value, "" when absent (or unreadable: every
	// stage then treats the request as one without it).
	Get(name string) string
	// All returns every header; an error means the host could not say.
	All() ([][2]string, error)
}

// Worker is one worker's state that stages read but never change: each
// provider's current keys, the verified-token cache and the clock. The glue
// installs keys and clears the cache.
type Worker struct {
	// Keys are indexed like the providers (KeySource); nil while one has
	// none.
	Keys  []*jwt.KeySet
	Cache *jwt.Cache
	Now   func() time.Time
}

// Input is what a stage may read of a request: its headers, read from the
// host at most once per phase and only when a stage asks, and the worker.
type Input struct {
	headers Headers
	worker  *Worker
	all     [][2]string
	read    bool
	err     error
}

// NewInput is the input of one run of stages.
func NewInput(h Headers, w *Worker) Input { return Input{headers: h, worker: w} }

// All returns every request header.
func (in *Input) All() ([][2]string, error) {
	if !in.read {
		in.all, in.err = in.headers.All()
		in.read = true
	}
	return in.all, in.err
}

// Worker is the worker's state.
func (in *Input) Worker() *Worker { return in.worker }

// Stream is one stream's state, carried from stage to stage and, for a
// stream that waits, across the wait. The glue keeps one per stream and
// calls Reset when the stream ends.
type Stream struct {
	// Route is the matched route's name; "" when none matched.
	Route string
	// Params are what the route's template captured.
	Params route.Params
	// Principal is the caller a verified token names; its Token is nil on
	// an unauthenticated request.
	Principal authn.Principal
	// Path is the client's :path.
	Path string
	// The pipeline's bookkeeping: the matched route's stages, the next to
	// run (a stream that waited resumes there), and the edits of those
	// that ran (Edits.Path "" keeps the client's).
	Stages []Stage
	Next   int
	Edits  Edits
}

// Reset forgets the stream, for reuse.
func (s *Stream) Reset() {
	s.Params.Reset()
	*s = Stream{Params: s.Params}
}

// Outcome is the pipeline's answer for one phase of a stream.
type Outcome struct {
	verdict.Decision
	// Edits are applied by the glue when the stream is allowed: Remove,
	// then Set, then Path. Any that fails denies the stream.
	Edits Edits
	// Wait, on a denial, names the provider whose keys may still arrive:
	// the glue may pause the stream until they do and call Resume.
	Wait *authn.KeyWait
	// Attempted names the provider whose verification decided, for
	// metrics; "" when none ran.
	Attempted string
}

// Edits are generic changes to the request.
type Edits struct {
	Remove []string
	Set    [][2]string
	// Path is the :path to forward; "" keeps the client's.
	Path string
}

// Add merges a later stage's edits.
func (e *Edits) Add(later Edits) {
	e.Remove = append(e.Remove, later.Remove...)
	e.Set = append(e.Set, later.Set...)
	if later.Path != "" {
		e.Path = later.Path
	}
}
