package host

import (
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	grpcstatus "google.golang.org/grpc/status"
)

// echoServer is a real gRPC server on loopback whose methods the probe
// calls with raw bytes: Say answers "hello <request>/<x-probe-md>", Fail
// answers PERMISSION_DENIED, Hang answers nothing until the call ends.
func echoServer(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(grpc.ForceServerCodec(rawCodec{}), grpc.UnknownServiceHandler(func(_ any, stream grpc.ServerStream) error {
		var req []byte
		if err := stream.RecvMsg(&req); err != nil {
			return err
		}
		method, _ := grpc.MethodFromServerStream(stream)
		switch method {
		case "/test.Echo/Say":
			md, _ := metadata.FromIncomingContext(stream.Context())
			resp := []byte("hello " + string(req) + "/" + strings.Join(md.Get("x-probe-md"), ","))
			return stream.SendMsg(&resp)
		case "/test.Echo/Hang":
			<-stream.Context().Done()
			return stream.Context().Err()
		}
		return grpcstatus.Error(codes.PermissionDenied, "no")
	}))
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(srv.Stop)
	return "h2c://" + l.Addr().String()
}

// grpcLog waits for the probe's log line about token's callback.
func grpcLog(t *testing.T, env *Env, token string) string {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		for _, e := range env.Logs() {
			if strings.HasPrefix(e.Message, "probe: grpc_") && strings.Contains(e.Message, " token="+token+" ") {
				return e.Message
			}
		}
	}
	t.Fatalf("no gRPC callback for token %s", token)
	return ""
}

// TestGRPCCallsAsEnvoyMakesThem: proxy_grpc_call against a real gRPC server,
// checked against Envoy's Context::grpcCall and its handlers
// (source/extensions/common/wasm/context.cc) and proxy-wasm-cpp-host's
// exports::grpc_call (src/exports.cc): the callback runs on the root
// context, the response as buffer 5 (proxy_on_grpc_receive), a failure as
// proxy_on_grpc_close with the status also in proxy_get_status; a timeout
// and a refused connection are UNAVAILABLE; an unknown cluster is
// PARSE_FAILURE.
func TestGRPCCallsAsEnvoyMakesThem(t *testing.T) {
	refused := func() string {
		l, _ := net.Listen("tcp", "127.0.0.1:0")
		defer l.Close()
		return "h2c://" + l.Addr().String()
	}()
	env, vms := startProbe(t, Config{Clusters: map[string]string{"echo": echoServer(t), "down": refused, "empty": ""}}, 1)
	tests := []struct {
		name, call, wantStatus, wantLog string
	}{
		{name: "answer", call: "grpc,echo,test.Echo,Say,world,1000,x-probe-md=v1", wantStatus: "0",
			wantLog: "size=14 message=hello world/v1"},
		{name: "error status", call: "grpc,echo,test.Echo,Fail,x,1000", wantStatus: "0", wantLog: "code=7 status=7 message=no"},
		{name: "timeout", call: "grpc,echo,test.Echo,Hang,x,50", wantStatus: "0", wantLog: "code=14 status=14 message=" + upstreamTimeoutBody},
		{name: "refused connection", call: "grpc,down,test.Echo,Say,x,1000", wantStatus: "0", wantLog: "code=14 status=14 message=" + connectFailureBody},
		{name: "unknown cluster", call: "grpc,nowhere,test.Echo,Say,x,1000", wantStatus: "4"},
		{name: "cluster without hosts", call: "grpc,empty,test.Echo,Say,x,1000", wantStatus: "10"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := startCalls(t, vms[0], StreamInfo{}, callsHeaders(tc.call), true)
			got := answers(t, s, "probe_result")[0]
			st, token, _ := strings.Cut(got, "=")
			if st != tc.wantStatus {
				t.Fatalf("proxy_grpc_call: %q, want status %s", got, tc.wantStatus)
			}
			if tc.wantLog == "" {
				return
			}
			line := grpcLog(t, env, token)
			if !strings.HasSuffix(line, tc.wantLog) {
				t.Errorf("callback %q, want it to end %q", line, tc.wantLog)
			}
			if !strings.Contains(line, " root="+strconv.Itoa(int(s.root))+" ") {
				t.Errorf("callback %q, want it on the root context %d", line, s.root)
			}
		})
	}
}

// TestCancelledGRPCCallsAreNeverAnswered: proxy_grpc_cancel (and
// proxy_grpc_close on a unary call) cancels the request; no callback
// follows, and a second cancel is NOT_FOUND (Context::grpcCancel).
func TestCancelledGRPCCallsAreNeverAnswered(t *testing.T) {
	env, vms := startProbe(t, Config{Clusters: map[string]string{"echo": echoServer(t)}}, 1)
	for _, cancel := range []string{"grpccancel", "grpcclose"} {
		t.Run(cancel, func(t *testing.T) {
			s := startCalls(t, vms[0], StreamInfo{}, callsHeaders("grpc,echo,test.Echo,Hang,x,0"), true)
			_, token, _ := strings.Cut(answers(t, s, "probe_result")[0], "=")
			s = startCalls(t, vms[0], StreamInfo{}, callsHeaders(cancel+","+token+";"+cancel+","+token), true)
			expectAnswers(t, answers(t, s, "probe_result"), "0", "1")
			vms[0].WaitHTTPCalls()
			for _, e := range env.Logs() {
				if strings.Contains(e.Message, " token="+token+" ") {
					t.Fatalf("a cancelled call was answered: %q", e.Message)
				}
			}
		})
	}
}

// TestGRPCCallTimeoutsFollowTheFakeClock: on the host's fake clock a call
// times out when the clock passes its deadline, not before.
func TestGRPCCallTimeoutsFollowTheFakeClock(t *testing.T) {
	env, vms := startProbe(t, Config{Clusters: map[string]string{"echo": echoServer(t)}, Clock: NewFakeClock(time.Unix(1_700_000_000, 0))}, 1)
	s := startCalls(t, vms[0], StreamInfo{}, callsHeaders("grpc,echo,test.Echo,Hang,x,5000"), true)
	_, token, _ := strings.Cut(answers(t, s, "probe_result")[0], "=")
	env.Advance(4999 * time.Millisecond)
	time.Sleep(50 * time.Millisecond)
	for _, e := range env.Logs() {
		if strings.Contains(e.Message, " token="+token+" ") {
			t.Fatalf("answered before its deadline: %q", e.Message)
		}
	}
	env.Advance(time.Millisecond)
	if line := grpcLog(t, env, token); !strings.HasSuffix(line, "code=14 status=14 message="+upstreamTimeoutBody) {
		t.Errorf("callback %q, want UNAVAILABLE for the timeout", line)
	}
}
