package stage

import (
	"errors"

	"github.com/apiguard/apiguard/filters/verdict"
)

// Host is what a stage may ask of the proxy beyond a phase's headers: its
// properties, the data every worker shares, counters and logs. The glue
// implements it over proxy-wasm; native tests use a fake. Each call may fail:
// a stage that cannot decide without the answer fails closed, unless its
// configuration says otherwise.
type Host interface {
	// Property reads a host attribute by path, e.g. ("source", "address")
	// for the peer's address, or ("connection", "mtls"). The value is valid
	// until the next Property or SharedData call: the glue reads every value
	// into one buffer, so a stage copies what it keeps.
	Property(path ...string) ([]byte, error)
	// SharedData reads a key every worker of the plugin shares: its value
	// and its version, ErrNotFound when it was never written. The value is
	// valid until the next Property or SharedData call, as Property's.
	SharedData(key string) (value []byte, cas uint32, err error)
	// SetSharedData writes key if its version is still cas (0 writes
	// whatever the version); ErrCASMismatch when another worker wrote it
	// first. Shared data is never deleted: a stage bounds its key space.
	// The host copies key and value (proxy-wasm copies them out of the
	// module's memory): the caller may reuse their bytes once it returns.
	SetSharedData(key string, value []byte, cas uint32) error
	// DefineCounter defines the counter named name and returns its id for
	// Count. A worker defines every counter once, when it starts
	// (Worker.Define); names come from configuration, never from request
	// data, so their number stays bounded.
	DefineCounter(name string) uint32
	// Count adds n to the counter DefineCounter returned id for.
	Count(id uint32, n uint64)
	// Log writes an info line; it must not contain secrets or claim values.
	Log(msg string)
}

// Errors a Host returns for shared data.
var (
	ErrNotFound    = errors.New("shared data key not found")
	ErrCASMismatch = errors.New("shared data was written by another worker (CAS mismatch)")
)

// EarlyStage is a Stage with a part that runs before authentication, on
// every request of its routes: checks that must not wait for a signature
// (a per-address rate limit, so a flood of bad tokens cannot burn CPU) or
// that answer without a token (a CORS preflight). Its RequestHeaders then
// runs in its place after authentication, with the verified principal.
type EarlyStage interface {
	Stage
	BeforeAuthentication(s *Stream, in *Input) verdict.Decision
}

// UnmatchedStage is a Stage with a check that holds for the whole API, not
// one route: compiled from the global settings alone (Spec.Compile's last
// call), it also decides the streams no route matched, before the 404 or
// 405 they get or the "default": "allow" that lets them through, as Envoy
// checks a virtual host's require_tls before it matches a route. A matched
// route runs its own stage, which may have overridden the setting.
type UnmatchedStage interface {
	Stage
	Unmatched(s *Stream) verdict.Decision
}

// PreflightStage is an EarlyStage that answers CORS preflights. A route
// with one matches a preflight (OPTIONS with Origin and
// Access-Control-Request-Method) as the request it announces, so the
// announced method's route decides, and sets Stream.Preflight; its early
// part then answers it (Stream.Answer) or refuses it, before
// authentication. On other routes a preflight is an ordinary OPTIONS.
type PreflightStage interface {
	EarlyStage
	// AnswersPreflights reports whether the stage answers them (a CORS
	// policy with origins).
	AnswersPreflights() bool
}

// Keep records v in the stream for stage st, replacing what it kept before:
// what one phase of a stage learns and a later phase needs (a rate limit's
// remaining budget for the response's headers).
func (s *Stream) Keep(st Stage, v any) {
	for i := range s.kept {
		if s.kept[i].stage == st {
			s.kept[i].value = v
			return
		}
	}
	s.kept = append(s.kept, kept{st, v})
}

// Kept returns what st kept in the stream, nil when nothing.
func (s *Stream) Kept(st Stage) any {
	for _, k := range s.kept {
		if k.stage == st {
			return k.value
		}
	}
	return nil
}

type kept struct {
	stage Stage
	value any
}

// maxSpare bounds the values a Stream keeps from its last stream.
const maxSpare = 4

// Spare returns a value a stage kept (Keep) in the last stream of s, of
// type T, and forgets it; false when there is none. The glue reuses a
// Stream for the streams of one context, one after the other, so a stage
// whose state per stream is large can take an ended stream's back and
// reset it rather than allocate anew, which costs more in wasm than the
// stage's decision.
func Spare[T any](s *Stream) (T, bool) {
	for i, v := range s.spare {
		if t, ok := v.(T); ok {
			last := len(s.spare) - 1
			s.spare[i], s.spare[last] = s.spare[last], nil
			s.spare = s.spare[:last]
			return t, true
		}
	}
	var zero T
	return zero, false
}
