package peer

import (
	"errors"
	"slices"
	"testing"

	"github.com/tidwall/gjson"

	"github.com/apiguard/apiguard/filters/config"
	"github.com/apiguard/apiguard/filters/stage"
	"github.com/apiguard/apiguard/filters/verdict"
	"github.com/apiguard/apiguard/internal/testkit/hosttest"
)

const billing = "spiffe://cluster.local/ns/orders/sa/billing"

func read(t *testing.T, cfg string) *Requirement {
	t.Helper()
	r := &config.Reader{}
	q := Read(r, "routes[0].peer", gjson.Parse(cfg))
	if errs := r.Errors(); len(errs) > 0 {
		t.Fatal(errs)
	}
	return q
}

// mtls is the properties Envoy serves for a connection whose peer presented
// a certificate with uriSAN (none when ""), encoded as Envoy encodes them.
func mtls(uriSAN string) map[string][]byte {
	p := map[string][]byte{"connection.mtls": {1}, "connection.tls_version": []byte("TLSv1.3")}
	if uriSAN != "" {
		p["connection.uri_san_peer_certificate"] = []byte(uriSAN)
	}
	return p
}

func TestRequirement(t *testing.T) {
	plainTLS := map[string][]byte{"connection.mtls": {0}, "connection.tls_version": []byte("TLSv1.3"), "connection.subject_peer_certificate": {}}
	plaintext := map[string][]byte{"connection.mtls": {0}}
	const route = `{"spiffe_ids": ["` + billing + `"]}`
	for _, tc := range []struct {
		name, config string
		props        map[string][]byte
		headers      hosttest.Headers
		want         verdict.Reason
		detail       string
		wantPeer     string
		wantRemoved  []string
	}{
		{name: "the listed service", config: route, props: mtls(billing), wantPeer: billing},
		{name: "another service", config: route, props: mtls("spiffe://cluster.local/ns/orders/sa/shipping"),
			want: verdict.PeerIdentity, detail: "the peer identity is not accepted on this route"},
		{name: "plain TLS", config: route, props: plainTLS, want: verdict.PeerIdentity, detail: "the connection is not mutual TLS"},
		{name: "plaintext", config: route, props: plaintext, want: verdict.PeerIdentity, detail: "the connection is not mutual TLS"},
		{name: "no connection properties at all", config: route, props: map[string][]byte{}, want: verdict.PeerIdentity, detail: "the connection is not mutual TLS"},
		{name: "a certificate without a URI SAN", config: route, props: mtls(""), want: verdict.PeerIdentity, detail: "the peer certificate has no URI SAN"},
		{name: "a URI SAN that is not SPIFFE", config: route, props: mtls("https://billing.example.com/"),
			want: verdict.PeerIdentity, detail: "the peer certificate's URI SAN is not a workload's SPIFFE ID"},
		{name: "a malformed SPIFFE ID", config: route, props: mtls("spiffe://cluster.local/ns/orders/sa/../billing"),
			want: verdict.PeerIdentity, detail: "the peer certificate's URI SAN is not a workload's SPIFFE ID"},
		{name: "a trust domain's own ID", config: `{"trust_domains": ["cluster.local"]}`, props: mtls("spiffe://cluster.local"),
			want: verdict.PeerIdentity, detail: "the peer certificate's URI SAN is not a workload's SPIFFE ID"},
		{name: "an mtls property that is not a bool", config: route, props: map[string][]byte{"connection.mtls": []byte("true"), "connection.uri_san_peer_certificate": []byte(billing)},
			want: verdict.PeerIdentity, detail: "the connection is not mutual TLS"},
		{name: "a spoofed XFCC on plaintext", config: route, props: plaintext,
			headers: hosttest.Headers{{"x-forwarded-client-cert", "By=spiffe://cluster.local/ns/api/sa/api;URI=" + billing}},
			want:    verdict.PeerIdentity, detail: "the connection is not mutual TLS"},
		{name: "client-certificate headers removed", config: route, props: mtls(billing), wantPeer: billing,
			headers: hosttest.Headers{{"x-forwarded-client-cert", "URI=" + billing}, {"x-ssl-client-s-dn", "CN=billing"}, {"x-ssl-client-verify", "SUCCESS"},
				{"client-cert", ":MIIB:"}, {"x-client-cert", "x"}, {"x-forwarded-client-cert", "again"}, {"accept", "*/*"}},
			wantRemoved: []string{"x-forwarded-client-cert", "x-ssl-client-s-dn", "x-ssl-client-verify", "client-cert", "x-client-cert"}},
		{name: "client-certificate headers forwarded when asked", config: `{"spiffe_ids": ["` + billing + `"], "forward_client_cert_headers": true}`,
			props: mtls(billing), wantPeer: billing, headers: hosttest.Headers{{"x-forwarded-client-cert", "URI=" + billing}}},
		{name: "or_token: no identity is not denied here", config: `{"spiffe_ids": ["` + billing + `"], "or_token": true}`, props: plaintext,
			headers: hosttest.Headers{{"x-forwarded-client-cert", "URI=" + billing}}, wantRemoved: []string{"x-forwarded-client-cert"}},
		{name: "or_token: the listed service", config: `{"spiffe_ids": ["` + billing + `"], "or_token": true}`, props: mtls(billing), wantPeer: billing},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := read(t, tc.config)
			var s stage.Stream
			in := s.Begin(tc.headers, &stage.Worker{Host: &hosttest.Host{Properties: tc.props}})
			d := q.RequestHeaders(&s, in)
			if d.Reason != tc.want || d.Detail() != tc.detail {
				t.Errorf("decision %s %q, want %s %q", d.Reason.Code(), d.Detail(), tc.want.Code(), tc.detail)
			}
			if s.Peer.String() != tc.wantPeer {
				t.Errorf("stream's peer %q, want %q", s.Peer, tc.wantPeer)
			}
			if !slices.Equal(s.Edits.Remove, tc.wantRemoved) {
				t.Errorf("removed %v, want %v", s.Edits.Remove, tc.wantRemoved)
			}
		})
	}
}

func TestAHostFailureIsInternal(t *testing.T) {
	q := read(t, `{"spiffe_ids": ["`+billing+`"], "or_token": true}`)
	var s stage.Stream
	in := s.Begin(hosttest.Headers{}, &stage.Worker{Host: &failingHost{}})
	if d := q.RequestHeaders(&s, in); d.Reason != verdict.Internal {
		t.Errorf("decision %s, want internal", d.Reason.Code())
	}
}

// failingHost fails every property read as a broken host would.
type failingHost struct{ hosttest.Host }

func (*failingHost) Property(...string) ([]byte, error) {
	return nil, errors.New("property read failed")
}
