package ratelimit_test

import (
	"strings"
	"testing"
	"time"

	"github.com/apiguard/apiguard/filters/pipeline"
	"github.com/apiguard/apiguard/filters/stage"
	"github.com/apiguard/apiguard/filters/verdict"
	"github.com/apiguard/apiguard/internal/testkit/hosttest"
	"github.com/apiguard/apiguard/internal/testkit/jwttest"
)

// quietHost is one worker's host that allocates nothing once its keys
// exist, so that testing.AllocsPerRun counts the pipeline's allocations
// alone: hosttest.Host, safe for concurrent workers, copies every value it
// returns. Not safe for concurrent use.
type quietHost struct {
	*hosttest.Host // counters and logs
	peer           []byte
	shared         map[string]*quietEntry
}

type quietEntry struct {
	value []byte
	cas   uint32
}

func (h *quietHost) Property(path ...string) ([]byte, error) {
	if len(path) == 2 && path[0] == "source" && path[1] == "address" {
		return h.peer, nil
	}
	return h.Host.Property(path...)
}

// SharedData returns the stored value itself: the stage only reads it,
// before its next write.
func (h *quietHost) SharedData(key string) ([]byte, uint32, error) {
	e, ok := h.shared[key]
	if !ok {
		return nil, 0, stage.ErrNotFound
	}
	return e.value, e.cas, nil
}

// SetSharedData has hosttest.Host's compare-and-swap rules.
func (h *quietHost) SetSharedData(key string, value []byte, cas uint32) error {
	e, ok := h.shared[key]
	switch {
	case !ok:
		e = &quietEntry{}
		// A copy: the caller may reuse the key's memory.
		h.shared[strings.Clone(key)] = e
	case cas != 0 && e.cas != cas:
		return stage.ErrCASMismatch
	}
	e.value = append(e.value[:0], value...)
	e.cas++
	return nil
}

// quietGateway runs the streams of one client through a loaded pipeline
// on a quietHost, reusing one Stream as the glue reuses a context's.
type quietGateway struct {
	p             *pipeline.Pipeline
	w             *stage.Worker
	req, response stage.Headers
	s             stage.Stream
}

// newQuietGateway loads a route that authenticates its requests (all
// with one token, of subject alice) and limits them by rule, the route's
// only one, answering with headers.
func newQuietGateway(tb testing.TB, rule, headers string) *quietGateway {
	tb.Helper()
	k := jwttest.HMAC("k1", "HS256", 32)
	p, errs := pipeline.Load([]byte(`{"providers": {"idp": {"issuer": "https://idp/", "audiences": ["api"], "jwks": {"inline": ` + string(jwttest.JWKS(k)) + `}}},
		"rate_limit": {"headers": "` + headers + `", "rules": [` + rule + `]},
		"routes": [{"name": "orders", "match": {"path": "/orders"}, "auth": {"providers": ["idp"]}}]}`))
	if errs != nil {
		tb.Fatal(errs)
	}
	token := "Bearer " + k.Token(jwttest.Claims("https://idp/", "api", time.Now().Add(time.Hour).Unix(), "sub", `"alice"`))
	h := &quietHost{Host: &hosttest.Host{}, peer: []byte("192.0.2.1:4000"), shared: map[string]*quietEntry{}}
	return &quietGateway{p: p, w: p.NewWorker(h),
		req:      hosttest.Headers{{":method", "GET"}, {":path", "/orders"}, {":authority", "api.example"}, {"authorization", token}},
		response: hosttest.Headers{{":status", "200"}}}
}

// stream runs one request through the request phase and the response
// phase (of the upstream's response or of the refusal, as the glue runs
// it on its own reply), then ends it.
func (g *quietGateway) stream() verdict.Decision {
	d := g.p.RequestHeaders(&g.s, g.req, g.w)
	g.p.ResponseHeaders(&g.s, g.response, g.w)
	g.s.Reset()
	return d
}

// ruleKeys are a rule keyed before authentication, and one keyed by
// identity.
var ruleKeys = []struct{ name, part string }{{"peer", "peer"}, {"claim", "claim:/sub"}}

// Rules that admit every request, and that refuse all but the first.
const (
	admitsAll  = `"rate": 1000000000, "per": "second", "burst": 1000000000`
	refusesAll = `"rate": 1, "per": "hour"`
)

// TestAStreamAllocatesNothing: once a few streams have run, an admitted
// and a refused request on a route with one rule allocate nothing, keyed
// before authentication or by identity, with either header mode: the
// stream's buffers (kept) are an ended stream's, and the slot's name and
// the headers' values are written in them.
func TestAStreamAllocatesNothing(t *testing.T) {
	for _, key := range ruleKeys {
		for _, limit := range []struct {
			name, params string
			want         verdict.Reason
		}{{"admitted", admitsAll, verdict.None}, {"refused", refusesAll, verdict.RateLimited}} {
			for _, headers := range []string{"draft", "draft_and_x"} {
				t.Run(key.name+"/"+limit.name+"/"+headers, func(t *testing.T) {
					g := newQuietGateway(t, `{"name": "r", "key": ["`+key.part+`"], `+limit.params+`}`, headers)
					for range 3 {
						g.stream()
					}
					n := testing.AllocsPerRun(100, func() {
						if d := g.stream(); d.Reason != limit.want {
							t.Fatalf("%s, want %s", d.Reason.Code(), limit.want.Code())
						}
					})
					if n != 0 {
						t.Errorf("%.1f allocations per stream, want 0", n)
					}
				})
			}
		}
	}
}
