package pipeline

import (
	"crypto/elliptic"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/apiguard/apiguard/filters/stage"
	"github.com/apiguard/apiguard/filters/verdict"
	"github.com/apiguard/apiguard/internal/testkit/hosttest"
	"github.com/apiguard/apiguard/internal/testkit/jwttest"
)

const (
	billingID  = "spiffe://cluster.local/ns/orders/sa/billing"
	shippingID = "spiffe://cluster.local/ns/shipping/sa/shipping"
)

// TestPeerAndTokenCombine runs the three ways a route combines a peer
// identity with a token: the peer alone, both, either.
func TestPeerAndTokenCombine(t *testing.T) {
	k := jwttest.EC("k", elliptic.P256())
	p, errs := Load(fmt.Appendf(nil, `{
	  "providers": {"idp": {"issuer": "i", "audiences": ["a"], "jwks": {"inline": %s}}},
	  "routes": [
	    {"name": "payments", "match": {"path": "/payments", "methods": ["POST"]}, "auth": "none",
	     "peer": {"spiffe_ids": [%q]}},
	    {"name": "refunds", "match": {"path": "/refunds", "methods": ["POST"]}, "auth": {"providers": ["idp"]},
	     "peer": {"spiffe_ids": [%q]}},
	    {"name": "orders", "match": {"path": "/orders"}, "auth": {"providers": ["idp"]},
	     "peer": {"spiffe_prefixes": ["spiffe://cluster.local/ns/orders"], "or_token": true}}
	  ]}`, jwttest.JWKS(k), billingID, billingID))
	if errs != nil {
		t.Fatal(errs)
	}
	user := "Bearer " + k.Token(jwttest.Claims("i", "a", time.Now().Add(time.Hour).Unix(), "sub", `"alice"`))
	forged := user[:len(user)-4] + "AAAA"
	for _, tc := range []struct {
		name, method, path string
		peer               string // the certificate's URI SAN; "" for plaintext
		token              string
		want               verdict.Reason
		wantPeer           string
		wantUser           bool
	}{
		{name: "peer alone: billing", method: "POST", path: "/payments", peer: billingID, wantPeer: billingID},
		{name: "peer alone: another service", method: "POST", path: "/payments", peer: shippingID, want: verdict.PeerIdentity},
		{name: "peer alone: plaintext", method: "POST", path: "/payments", want: verdict.PeerIdentity},
		{name: "peer alone: a user's token is no peer", method: "POST", path: "/payments", token: user, want: verdict.PeerIdentity},

		{name: "both: billing for a user", method: "POST", path: "/refunds", peer: billingID, token: user, wantPeer: billingID, wantUser: true},
		{name: "both: billing without a user", method: "POST", path: "/refunds", peer: billingID, want: verdict.TokenMissing},
		{name: "both: billing with a forged token", method: "POST", path: "/refunds", peer: billingID, token: forged, want: verdict.TokenSignature},
		{name: "both: a user without the service", method: "POST", path: "/refunds", token: user, want: verdict.PeerIdentity},
		{name: "both: a user through another service", method: "POST", path: "/refunds", peer: shippingID, token: user, want: verdict.PeerIdentity},

		{name: "either: a service of the namespace", method: "GET", path: "/orders", peer: billingID, wantPeer: billingID},
		{name: "either: a service and a user", method: "GET", path: "/orders", peer: billingID, token: user, wantPeer: billingID, wantUser: true},
		{name: "either: a service and a forged token", method: "GET", path: "/orders", peer: billingID, token: forged, want: verdict.TokenSignature},
		{name: "either: a user", method: "GET", path: "/orders", token: user, wantUser: true},
		{name: "either: a user through another service", method: "GET", path: "/orders", peer: shippingID, token: user, wantUser: true},
		{name: "either: another service alone", method: "GET", path: "/orders", peer: shippingID, want: verdict.TokenMissing},
		{name: "either: neither", method: "GET", path: "/orders", want: verdict.TokenMissing},
	} {
		t.Run(tc.name, func(t *testing.T) {
			props := map[string][]byte{"connection.mtls": {0}}
			if tc.peer != "" {
				props = map[string][]byte{"connection.mtls": {1}, "connection.uri_san_peer_certificate": []byte(tc.peer)}
			}
			h := headers{{":method", tc.method}, {":path", tc.path}, {":authority", "api.example"}}
			if tc.token != "" {
				h = append(h, [2]string{"authorization", tc.token})
			}
			var s stage.Stream
			d := p.RequestHeaders(&s, h, p.NewWorker(&hosttest.Host{Properties: props}))
			if d.Reason != tc.want {
				t.Fatalf("reason %s (%s), want %s", d.Reason.Code(), d.Detail(), tc.want.Code())
			}
			if d.Denied() {
				return
			}
			if s.Peer.String() != tc.wantPeer || (s.Principal.Token != nil) != tc.wantUser {
				t.Errorf("peer %q, user %v; want %q, %v", s.Peer, s.Principal.Token != nil, tc.wantPeer, tc.wantUser)
			}
		})
	}
}

func TestPeerConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name, route string
		want        []string
	}{
		{name: "or_token without a token", route: `"auth": "none", "peer": {"trust_domains": ["cluster.local"], "or_token": true}`,
			want: []string{`routes[0].peer.or_token: the route's "auth" is "none"`}},
		{name: "or_token with an optional token", route: `"auth": {"providers": ["idp"], "optional": true}, "peer": {"trust_domains": ["cluster.local"], "or_token": true}`,
			want: []string{"routes[0].peer.or_token: the route's token is optional"}},
		{name: "a malformed ID", route: `"auth": "none", "peer": {"spiffe_ids": ["spiffe://cluster.local/ns/orders/"]}`,
			want: []string{"routes[0].peer.spiffe_ids[0]: a SPIFFE ID's path has no empty segment"}},
		{name: "not an object", route: `"auth": "none", "peer": true`, want: []string{"routes[0].peer: must be an object"}},
		{name: "a misspelt option", route: `"auth": "none", "peer": {"trust_domains": ["cluster.local"], "forward_client_cert_header": true}`,
			want: []string{"routes[0].peer.forward_client_cert_header: unknown"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, errs := Load([]byte(`{"providers": {"idp": {"issuer": "i", "audiences": ["a"], "jwks": {"remote": {"cluster": "c", "authority": "idp", "path": "/k"}}}},
			  "routes": [{"name": "r", "match": {"path": "/r"}, ` + tc.route + `}]}`))
			if len(errs) != len(tc.want) {
				t.Fatalf("errors %v, want %v", errs, tc.want)
			}
			for i, e := range errs {
				if !strings.HasPrefix(e.Error(), tc.want[i]) {
					t.Errorf("error %q, want it to start with %q", e, tc.want[i])
				}
			}
		})
	}
}
