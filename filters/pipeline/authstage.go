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
}

func (st authStage) RequestHeaders(s *stage.Stream, in *stage.Input) stage.Outcome {
	headers, err := in.All()
	if err != nil {
		return stage.Outcome{Decision: verdict.Deny(verdict.Internal, "cannot read request headers")}
	}
	w := in.Worker()
	_, query, _ := strings.Cut(s.Path, "?")
	res := st.a.Authenticate(st.req, authn.Input{Headers: headers, Query: query, Now: w.Now(), Keys: w.Keys, Cache: w.Cache})
	out := stage.Outcome{Decision: res.Decision, Wait: res.Wait, Attempted: res.Attempted}
	if res.Denied() {
		return out
	}
	// Headers apiguard writes from claims never come from the client.
	protected := st.a.ProtectedHeaders()
	for _, kv := range headers {
		if slices.Contains(protected, kv[0]) {
			out.Edits.Remove = append(out.Edits.Remove, kv[0])
		}
	}
	out.Edits.Remove = append(out.Edits.Remove, res.Remove...)
	out.Edits.Set = res.Set
	if res.QueryChanged {
		out.Edits.Path = withQuery(cmp.Or(s.Edits.Path, s.Path), res.Query)
	}
	s.Principal = res.Principal
	return out
}

// withQuery replaces the query of a :path.
func withQuery(path, query string) string {
	path, _, _ = strings.Cut(path, "?")
	if query == "" {
		return path
	}
	return path + "?" + query
}
