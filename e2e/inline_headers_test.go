package e2e

import (
	"testing"

	"github.com/apiguard/apiguard/e2e/host"
)

// Envoy keeps some request headers in inline slots and joins a repeated one
// into a single comma-separated value (HeaderMapImpl::insertByKey).
// "authorization" gets a slot when a linked extension registers it (the oauth2
// and cache filters do, and the official build links them), so two
// Authorization headers reach apiguard either as two entries or as one
// "Bearer X,Bearer Y". Both are two credentials: 400 token_duplicate.
func TestDuplicateCredentialsAreRefusedWhateverEnvoyJoins(t *testing.T) {
	good := idpKeys()["RS256"].Token(idpClaims())
	other := idpKeys()["ES256"].Token(idpClaims())
	modes := []struct {
		name   string
		inline []string
	}{
		{name: "authorization not inline"},
		{name: "authorization inline, as with oauth2 or cache linked", inline: []string{"authorization"}},
	}
	requests := []struct {
		name    string
		headers []string
	}{
		{name: "the same token twice", headers: append(bearer(good), bearer(good)...)},
		{name: "two different tokens", headers: append(bearer(good), bearer(other)...)},
		{name: "two tokens in one header", headers: bearer(good + ",Bearer " + other)},
	}
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			g := startGateway(t, ordersPolicy(), 1, func(c *host.Config) {
				c.Clock = host.NewFakeClock(jwtNow)
				c.InlineRequestHeaders = m.inline
			})
			for _, r := range requests {
				t.Run(r.name, func(t *testing.T) {
					res := g.send(request("GET", "/orders/42", r.headers...))
					expectProblem(t, res, 400, "token_duplicate")
					want := `Bearer realm="apiguard", error="invalid_request"`
					if got, _ := res.Headers.Get("www-authenticate"); got != want {
						t.Errorf("www-authenticate %q, want %q", got, want)
					}
				})
			}
		})
	}
}
