package pipeline

import (
	"cmp"
	"slices"
	"strings"

	"github.com/apiguard/apiguard/filters/authn"
	"github.com/apiguard/apiguard/filters/stage"
	"github.com/apiguard/apiguard/filters/verdict"
)

// authStage authenticates a route's requests (filters/authn).
type authStage struct {
	a   *authn.Authenticator
	req *authn.Requirement
	// ifPeer, on a route whose peer identity may stand in for the token
	// (peer.or_token), is the requirement once the peer was accepted: a
	// token may be absent, and one that is present must be valid.
	ifPeer *authn.Requirement
}

func (st *authStage) RequestHeaders(s *stage.Stream, in *stage.Input) verdict.Decision {
	headers, err := in.All()
	if err != nil {
		return verdict.Deny(verdict.Internal, "cannot read request headers")
	}
	w := in.Worker()
	_, query, _ := strings.Cut(s.Path, "?")
	req := st.req
	if st.ifPeer != nil && !s.Peer.IsZero() {
		req = st.ifPeer
	}
	var res authn.Result
	st.a.Authenticate(req, &authn.Input{Headers: headers, Query: query, Clock: in, Keys: w.Keys, Cache: w.Cache}, &res)
	s.Attempted, s.CacheHit = res.Attempted, res.Cached
	if res.Denied() {
		s.Wait = res.Wait
		return res.Decision
	}
	// Headers apiguard writes from claims never come from the client.
	edits := stage.Edits{Remove: res.Remove, Set: res.Set}
	protected := st.a.ProtectedHeaders()
	// By index: in wasm, copying a header pair is a call.
	for i := range headers {
		kv := &headers[i]
		if slices.Contains(protected, kv[0]) {
			edits.Remove = append(edits.Remove, kv[0])
		}
	}
	if res.QueryChanged {
		edits.Path = withQuery(cmp.Or(s.Edits.Path, s.Path), res.Query)
	}
	s.Edits.Add(edits)
	s.Principal = res.Principal
	return verdict.Decision{}
}

// withQuery replaces the query of a :path.
func withQuery(path, query string) string {
	path, _, _ = strings.Cut(path, "?")
	if query == "" {
		return path
	}
	return path + "?" + query
}

// beforeAuthentication runs a stage's early part in its place before
// authentication.
type beforeAuthentication struct{ st stage.EarlyStage }

func (b beforeAuthentication) RequestHeaders(s *stage.Stream, in *stage.Input) verdict.Decision {
	return b.st.BeforeAuthentication(s, in)
}

// afterOthers runs a stage's last part in its place after every other stage
// of the route, and takes the answers of the calls it asks for.
type afterOthers struct{ st stage.LastStage }

func (a afterOthers) RequestHeaders(s *stage.Stream, in *stage.Input) verdict.Decision {
	return a.st.AfterOthers(s, in)
}

// caller is the stage that answers a call asked in s.Stages[i]'s run.
func caller(st stage.Stage) (stage.CallStage, bool) {
	if a, ok := st.(afterOthers); ok {
		st = a.st
	}
	cs, ok := st.(stage.CallStage)
	return cs, ok
}
