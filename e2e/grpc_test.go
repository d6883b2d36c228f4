package e2e

import (
	"context"
	"crypto/elliptic"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/apiguard/apiguard/e2e/host"
	"github.com/apiguard/apiguard/internal/testkit/jwttest"
)

// grpcPolicy protects a gRPC service with the IdP.
func grpcPolicy() string {
	return fmt.Sprintf(`{
  "providers": {"idp": {"issuer": %q, "audiences": ["orders-api"], "jwks": {"inline": %s}}},
  "routes": [{"name": "orders", "match": {"path": "/orders.v1.Orders/**", "methods": ["POST"]}, "auth": {"providers": ["idp"]}}]
}`, idpIssuer, jwttest.JWKS(idpKeys()["ES256"]))
}

// serveGRPC puts apiguard, in the host, behind an HTTP/2 cleartext listener,
// as Envoy would sit in front of a gRPC service: every request runs through
// the plugin; one it lets through gets the service's answer, an empty
// message with grpc-status 0.
func serveGRPC(t *testing.T, g *apiGateway) string {
	t.Helper()
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		req := host.Request{Method: r.Method, Path: r.URL.RequestURI(), Authority: r.Host, Scheme: "http", Body: body}
		for k, vs := range r.Header {
			for _, v := range vs {
				req.Headers.Add(k, v)
			}
		}
		res := g.send(req)
		for _, kv := range res.Headers {
			if !strings.HasPrefix(kv[0], ":") {
				w.Header().Add(kv[0], kv[1])
			}
		}
		if res.Upstream != nil {
			w.Header().Set("content-type", "application/grpc")
			w.WriteHeader(200)
			_, _ = w.Write([]byte{0, 0, 0, 0, 0}) // an empty, uncompressed message
			w.Header().Set(http.TrailerPrefix+"grpc-status", "0")
			return
		}
		w.WriteHeader(res.Status)
		_, _ = w.Write(res.Body)
	})
	srv := &http.Server{Handler: handler, Protocols: new(http.Protocols)}
	srv.Protocols.SetUnencryptedHTTP2(true)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().String()
}

// TestGRPCClientsGetGRPCStatuses: a gRPC client sees apiguard's denials as
// gRPC statuses (Envoy answers a gRPC request's local reply trailers-only),
// with the problem document in the status message.
func TestGRPCClientsGetGRPCStatuses(t *testing.T) {
	g := startGateway(t, grpcPolicy(), 1, func(c *host.Config) { c.Clock = host.NewFakeClock(jwtNow) })
	conn, err := grpc.NewClient("passthrough:///"+serveGRPC(t, g), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	good := idpKeys()["ES256"].Token(idpClaims())
	forged := jwttest.EC("ec-256", elliptic.P256()).Token(idpClaims())
	tests := []struct {
		name     string
		method   string
		tokens   []string
		want     codes.Code
		wantType string
	}{
		{name: "a valid token calls the service", method: "/orders.v1.Orders/Get", tokens: []string{good}, want: codes.OK},
		{name: "no token is UNAUTHENTICATED", method: "/orders.v1.Orders/Get", want: codes.Unauthenticated, wantType: "token_missing"},
		{name: "a forged token is UNAUTHENTICATED", method: "/orders.v1.Orders/Get", tokens: []string{forged}, want: codes.Unauthenticated, wantType: "token_signature"},
		{name: "two tokens are INVALID_ARGUMENT", method: "/orders.v1.Orders/Get", tokens: []string{good, good}, want: codes.InvalidArgument, wantType: "token_duplicate"},
		{name: "a service apiguard does not route is UNIMPLEMENTED", method: "/billing.v1.Billing/Get", tokens: []string{good}, want: codes.Unimplemented, wantType: "no_route"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			for _, tok := range tc.tokens {
				ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+tok)
			}
			err := conn.Invoke(ctx, tc.method, &emptypb.Empty{}, &emptypb.Empty{})
			st, ok := status.FromError(err)
			if !ok || st.Code() != tc.want {
				t.Fatalf("%s: got %v, want %v", tc.method, err, tc.want)
			}
			if tc.wantType != "" && !strings.Contains(st.Message(), `"type":"urn:apiguard:problem:`+tc.wantType+`"`) {
				t.Errorf("status message %q does not carry the %s problem", st.Message(), tc.wantType)
			}
		})
	}
}

// TestGRPCClientsSeeTheStatusTheFilterChose: apiguard has no forbidden or
// rate-limited denial yet, so the probe module sends the replies it would
// (403 with PERMISSION_DENIED, 429 with RESOURCE_EXHAUSTED: plugin/problem.go's
// grpcStatus) and a real client reads them; without a grpc_status, Envoy's own
// mapping makes a 429 UNAVAILABLE, which gRPC clients retry.
func TestGRPCClientsSeeTheStatusTheFilterChose(t *testing.T) {
	env, vms, err := load(t, "probe.wasm", "", 1)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := grpc.NewClient("passthrough:///"+serveGRPC(t, &apiGateway{t: t, env: env, vms: vms}),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	tests := []struct {
		name, status, grpcStatus string
		want                     codes.Code
	}{
		{name: "forbidden", status: "403", grpcStatus: "7", want: codes.PermissionDenied},
		{name: "rate limited", status: "429", grpcStatus: "8", want: codes.ResourceExhausted},
		{name: "rate limited, Envoy's mapping", status: "429", want: codes.Unavailable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			md := []string{"x-probe-action", "reply-with", "x-probe-status", tc.status, "x-probe-body", "no"}
			if tc.grpcStatus != "" {
				md = append(md, "x-probe-grpc", tc.grpcStatus)
			}
			err := conn.Invoke(metadata.AppendToOutgoingContext(ctx, md...), "/orders.v1.Orders/Get", &emptypb.Empty{}, &emptypb.Empty{})
			if st, ok := status.FromError(err); !ok || st.Code() != tc.want || st.Message() != "no" {
				t.Fatalf("got %v, want %v with message no", err, tc.want)
			}
		})
	}
}
