package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apiguard/apiguard/internal/testkit/jwttest"
)

// ca is a certificate authority made for one test: a mesh's, or a rogue one.
type ca struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func newCA(t *testing.T, name string) *ca {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &ca{cert: cert, key: key}
}

func newKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// issue signs a leaf: a server certificate for 127.0.0.1, or a workload's
// X.509-SVID carrying its SPIFFE ID as its one URI SAN.
func (c *ca) issue(t *testing.T, spiffeID string, server bool) tls.Certificate {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()),
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature}
	if server {
		tmpl.Subject.CommonName = "gateway"
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	} else {
		u, err := url.Parse(spiffeID)
		if err != nil {
			t.Fatal(err)
		}
		tmpl.URIs = []*url.URL{u}
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.cert, &key.PublicKey, c.key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// writePEM writes a certificate, and its key if it has one, to dir.
func writePEM(t *testing.T, dir, name string, der []byte, key *ecdsa.PrivateKey) (certFile, keyFile string) {
	t.Helper()
	certFile = filepath.Join(dir, name+".crt")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if key == nil {
		return certFile, ""
	}
	b, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	keyFile = filepath.Join(dir, name+".key")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: b}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// TestMeshPoliciesWithRealClientCertificates: the gateway terminates TLS,
// verifies client certificates against the mesh's CA and hands the verified
// SPIFFE ID to the plugin as Envoy does. The billing service may POST
// /payments, the shipping service may not, nor a caller without a client
// certificate; a certificate from another CA never gets through the
// handshake; /refunds needs the billing service and a user's token; a
// forwarded-client-cert header a client wrote never reaches the upstream.
func TestMeshPoliciesWithRealClientCertificates(t *testing.T) {
	const (
		billing  = "spiffe://cluster.local/ns/orders/sa/billing"
		shipping = "spiffe://cluster.local/ns/shipping/sa/shipping"
	)
	mesh, rogue := newCA(t, "mesh"), newCA(t, "rogue")
	dir := t.TempDir()
	server := mesh.issue(t, "", true)
	certFile, keyFile := writePEM(t, dir, "server", server.Certificate[0], server.PrivateKey.(*ecdsa.PrivateKey))
	caFile, _ := writePEM(t, dir, "mesh-ca", mesh.cert.Raw, nil)

	seen := make(chan http.Header, 16)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen <- r.Header.Clone()
		w.Header().Set("content-type", "application/json")
		_, _ = io.WriteString(w, `{"ok":true}`)
	}))
	defer up.Close()

	k := jwttest.HMAC("k", "HS256", 32)
	user := "Bearer " + k.Token(jwttest.Claims("https://idp.example/", "payments", time.Now().Add(time.Hour).Unix(), "sub", `"alice"`))
	config := writeConfig(t, fmt.Sprintf(`{
	  "providers": {"idp": {"issuer": "https://idp.example/", "audiences": ["payments"], "jwks": {"inline": %s}}},
	  "routes": [
	    {"name": "payments", "match": {"path": "/payments", "methods": ["POST"]}, "auth": "none", "peer": {"spiffe_ids": [%q]}},
	    {"name": "refunds", "match": {"path": "/refunds", "methods": ["POST"]}, "auth": {"providers": ["idp"]}, "peer": {"spiffe_ids": [%q]}}
	  ]}`, jwttest.JWKS(k), billing, billing))
	addr, stop := serve(t, flags{configPath: config, wasmPath: wasm, listen: "127.0.0.1:0", upstream: up.URL, workers: 1,
		logLevel: "warn", profile: "envoy-1.33", clusters: clusterFlags{}, tlsCert: certFile, tlsKey: keyFile, clientCA: caFile}, io.Discard)
	defer stop()

	roots := x509.NewCertPool()
	roots.AddCert(mesh.cert)
	client := func(cert *tls.Certificate) *http.Client {
		cfg := &tls.Config{RootCAs: roots}
		if cert != nil {
			// Sent whatever CAs the server names, as a forger would.
			cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return cert, nil }
		}
		return &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}, Timeout: 10 * time.Second}
	}
	billingCert, shippingCert, forged := mesh.issue(t, billing, false), mesh.issue(t, shipping, false), rogue.issue(t, billing, false)

	for _, tc := range []struct {
		name       string
		cert       *tls.Certificate
		path       string
		token      string
		wantStatus int
		wantReason string
	}{
		{name: "the billing service pays", cert: &billingCert, path: "/payments", wantStatus: 200},
		{name: "the shipping service may not", cert: &shippingCert, path: "/payments", wantStatus: 403, wantReason: "peer_identity"},
		{name: "plain TLS may not", path: "/payments", wantStatus: 403, wantReason: "peer_identity"},
		{name: "a user's token is no service identity", path: "/payments", token: user, wantStatus: 403, wantReason: "peer_identity"},
		{name: "billing refunds for a user", cert: &billingCert, path: "/refunds", token: user, wantStatus: 200},
		{name: "billing refunds without a user", cert: &billingCert, path: "/refunds", wantStatus: 401, wantReason: "token_missing"},
		{name: "a user refunds without billing", cert: &shippingCert, path: "/refunds", token: user, wantStatus: 403, wantReason: "peer_identity"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("POST", "https://"+addr+tc.path, strings.NewReader(`{"amount": 5}`))
			req.Header.Set("content-type", "application/json")
			req.Header.Set("x-forwarded-client-cert", "By=spiffe://cluster.local/ns/api/sa/api;URI="+billing)
			if tc.token != "" {
				req.Header.Set("authorization", tc.token)
			}
			resp, err := client(tc.cert).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("status %d %s, want %d", resp.StatusCode, body, tc.wantStatus)
			}
			if tc.wantReason != "" {
				var p struct{ Type string }
				if err := json.Unmarshal(body, &p); err != nil || p.Type != "urn:apiguard:problem:"+tc.wantReason {
					t.Errorf("problem %s, want reason %s", body, tc.wantReason)
				}
				return
			}
			if h := <-seen; h.Get("x-forwarded-client-cert") != "" {
				t.Errorf("the upstream got the client's x-forwarded-client-cert %q", h.Get("x-forwarded-client-cert"))
			}
		})
	}

	t.Run("a certificate from another CA fails the handshake", func(t *testing.T) {
		resp, err := client(&forged).Post("https://"+addr+"/payments", "application/json", strings.NewReader("{}"))
		if err == nil {
			resp.Body.Close()
			t.Fatalf("status %d, want a failed handshake", resp.StatusCode)
		}
	})
	t.Run("plaintext gets no answer from a TLS listener", func(t *testing.T) {
		resp, err := http.Post("http://"+addr+"/payments", "application/json", strings.NewReader("{}"))
		if err == nil {
			resp.Body.Close()
			t.Fatalf("status %d, want a failed handshake", resp.StatusCode)
		}
	})
}

func TestTLSFlagsGoTogether(t *testing.T) {
	for _, f := range []flags{{tlsCert: "c.pem"}, {tlsKey: "k.pem"}, {clientCA: "ca.pem"}, {tlsCert: "c.pem", clientCA: "ca.pem"}} {
		if _, err := f.tls(); err == nil || !strings.Contains(err.Error(), "-tls-cert and -tls-key go together") {
			t.Errorf("%+v: error %v", f, err)
		}
	}
}
