package e2e

import (
	"crypto/elliptic"
	"crypto/sha256"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/apiguard/apiguard/e2e/host"
	"github.com/apiguard/apiguard/internal/testkit/jwttest"
)

// FuzzStream sends whole hostile streams through plugin.wasm in the e2e host,
// one VM per fuzzing process, under a policy that turns every stage on, and
// checks the invariants of checkStream on each: the VM never traps, every
// stream ends with the upstream's response or apiguard's local reply, a
// denial is a precise problem document, no token leaks, the claim headers
// the upstream receives are the plugin's own, linear memory stays bounded.
//
// An input is a stream (see fuzzInput): the request's method, raw :path,
// :authority, headers, a token and where it goes, body and trailers, then
// the upstream's status, headers and body. Its seeds are in
// testdata/fuzz/FuzzStream, one file per kind of stream, named for it;
// `make test` runs them, `make fuzz` mutates them.
func FuzzStream(f *testing.F) {
	g := newFuzzGateway(f)
	f.Cleanup(g.close)
	f.Fuzz(func(t *testing.T, method, path, authority, headers string, tokenMode uint8, token string,
		body []byte, trailers string, status uint16, respHeaders string, respBody []byte, chunking uint16, flags uint8) {
		in := fuzzInput{method: method, path: path, authority: authority, headers: headers, tokenMode: tokenMode, token: token,
			body: body, trailers: trailers, status: status, respHeaders: respHeaders, respBody: respBody, chunking: chunking, flags: flags}
		for _, v := range g.run(in) {
			t.Error(v)
		}
	})
}

// fuzzInput is one fuzzed stream, as the fuzzer's arguments hold it.
//   - headers, trailers and respHeaders: lines "name: value" (split at the
//     first ": "; a line without one is a name with an empty value, a line
//     starting with ": " a header with an empty name). Envoy's codecs refuse
//     NUL, CR and LF in header values and pseudo-headers the client repeats,
//     so those never reach a filter and are dropped here; the :path keeps
//     every byte.
//   - tokenMode: its low nibble is the token's kind (tokenKind), its high
//     nibble where it goes (tokenPlace).
//   - chunking: the request body's chunk size in its low byte, the
//     response body's in its high byte (0: one chunk).
//   - status: the upstream's status, folded into 200-599 (Envoy handles
//     1xx apart).
//   - flags: bit 0 plain http instead of https; bit 1 the client goes away
//     after its request headers and first body chunk; bits 4-7 k > 0 pad
//     the last request header's value to 2^(k+6) bytes (Envoy's header
//     limits are 60 KiB).
type fuzzInput struct {
	method, path, authority, headers string
	tokenMode                        uint8
	token                            string
	body                             []byte
	trailers                         string
	status                           uint16
	respHeaders                      string
	respBody                         []byte
	chunking                         uint16
	flags                            uint8
}

// The token kinds: what the token string of an input means.
const (
	tokenNone = iota
	// tokenClaims: members added to the IdP's iss, aud and exp, signed with
	// its HS256 key ("sub":"alice","tenant_id":"acme").
	tokenClaims
	// tokenPartnerClaims: the same for the partner (typ at+jwt).
	tokenPartnerClaims
	// tokenSigned: a JOSE header, a newline, and a payload, both raw, signed
	// with the IdP's HS256 key whatever the header says (alg none, nested
	// JSON, duplicate members).
	tokenSigned
	// tokenRaw: the credential as it is (truncated and mutated tokens; the
	// HS256 key is fixed, so a stored one may be valid).
	tokenRaw
	// tokenES256Claims: tokenClaims signed with the IdP's ES256 key.
	tokenES256Claims
	numTokenKinds
)

// The places a token goes.
const (
	placeBearer = iota
	placeQuery
	placeCookie
	placePartnerHeader
	// placeBearerAndQuery: two credentials, an Authorization header and a
	// query parameter.
	placeBearerAndQuery
	// placeTwoBearers: two Authorization headers.
	placeTwoBearers
	numPlaces
)

const (
	fuzzIdPIssuer     = "https://idp.example.com/"
	fuzzPartnerIssuer = "https://partner.example.net"
	// fuzzMemoryLimit bounds the VM's linear memory over a fuzzing run: the
	// largest body the policy reads is 64 KiB, Envoy's buffer 1 MiB, and a
	// steady plugin stays near its start-up size (TestSoak).
	fuzzMemoryLimit = 64 << 20
)

// fuzzNow is the fake clock's start; every stream advances it by
// fuzzTimeStep, so rate limits refill and tokens of a stored input
// (tokenRaw, exp a year later) stay valid through a long run.
var fuzzNow = time.Unix(1_800_000_000, 0)

const fuzzTimeStep = 50 * time.Millisecond

// fuzzKeys are the providers' keys: HS256 with fixed secrets (derived from a
// label, not credentials), ES256 generated per process.
type fuzzKeys struct {
	hs, partner, es *jwttest.Key
}

func newFuzzKeys() fuzzKeys {
	secret := func(label string) []byte { s := sha256.Sum256([]byte(label)); return s[:] }
	return fuzzKeys{
		hs:      jwttest.HMACSecret("fuzz-hs", "HS256", secret("apiguard FuzzStream idp")),
		partner: jwttest.HMACSecret("partner-hs", "HS256", secret("apiguard FuzzStream partner")),
		es:      jwttest.EC("fuzz-es", elliptic.P256()),
	}
}

// fuzzGateway is the fuzzing process's one VM, started again after a
// failure (a trap leaves it failed, and the fuzzer's minimization reruns
// inputs in the same process).
type fuzzGateway struct {
	module []byte
	keys   fuzzKeys
	policy string
	env    *host.Env
	vm     *host.VM
	clock  *host.FakeClock
	broken bool
	// peakMemory is the largest linear memory seen.
	peakMemory uint32
}

func newFuzzGateway(tb testing.TB) *fuzzGateway {
	g := &fuzzGateway{module: module(tb, "plugin.wasm"), keys: newFuzzKeys()}
	g.policy = fuzzPolicy(g.keys)
	if err := g.start(); err != nil {
		tb.Fatal(err)
	}
	return g
}

// start loads the policy into a new VM under Envoy 1.33's WASI (where a
// Go runtime that sleeps dies), as Envoy's worker would.
func (g *fuzzGateway) start() error {
	g.close()
	g.clock = host.NewFakeClock(fuzzNow)
	env, err := host.NewEnv(host.Config{Module: g.module, Name: "apiguard", RootID: "apiguard", VMID: "apiguard",
		Configuration: []byte(g.policy), Profile: host.Envoy133, Clock: g.clock, CountCalls: guestPackages})
	if err != nil {
		return err
	}
	g.env = env
	if err := env.Canary(); err != nil {
		env.WriteLogs(os.Stderr)
		return fmt.Errorf("the fuzz policy is refused: %w", err)
	}
	if g.vm, err = env.StartVM(); err != nil {
		env.WriteLogs(os.Stderr)
		return fmt.Errorf("the fuzz policy is refused: %w", err)
	}
	env.ResetLogs()
	ran := 0
	for _, n := range g.vm.TakeCallCounts() {
		if n > 0 {
			ran++
		}
	}
	if ran < 100 {
		// Loading the policy runs hundreds of the plugin's functions: the
		// prefixes no longer match the module's names.
		return fmt.Errorf("guest coverage sees %d functions run at start-up: check guestPackages", ran)
	}
	g.broken = false
	return nil
}

func (g *fuzzGateway) close() {
	if g.env != nil {
		g.env.Close()
		g.env = nil
	}
}

// run sends one stream and returns the invariants it broke.
func (g *fuzzGateway) run(in fuzzInput) []string {
	if g.broken {
		if err := g.start(); err != nil {
			return []string{err.Error()}
		}
	}
	g.env.Advance(fuzzTimeStep)
	s := g.stream(in)
	var res *host.Result
	if in.flags&2 != 0 {
		res = g.resetEarly(s)
	} else {
		res = g.vm.RoundTrip(s.req, func(*host.UpstreamRequest) *host.Response { return s.resp })
	}
	logs := g.env.Logs()
	g.env.ResetLogs()
	guestCoverage(g.vm.TakeCallCounts())
	mem := g.vm.MemorySize()
	g.peakMemory = max(g.peakMemory, mem)
	var violations []string
	if in.flags&2 != 0 {
		violations = checkReset(s, res, logs)
	} else {
		violations = checkStream(s, res, logs)
	}
	if mem > fuzzMemoryLimit {
		violations = append(violations, fmt.Sprintf("linear memory is %d MiB, over the %d MiB bound", mem>>20, fuzzMemoryLimit>>20))
	}
	if len(violations) > 0 {
		// Whatever broke may have left state behind: the next input gets
		// a fresh VM, so that each failure reproduces alone.
		g.broken = true
		var b strings.Builder
		for _, l := range logs {
			fmt.Fprintf(&b, "\n  %s: %q", l.Level, l.Message)
		}
		violations = append(violations, fmt.Sprintf("request %q %q, token %q; status %d; logs:%s", s.req.Method, s.req.Path, s.token, res.Status, b.String()))
	}
	return violations
}

// resetEarly plays a client that goes away once its request headers, and
// the first chunk of its body, reached the plugin: Envoy then calls only
// on_log, on_done and on_delete (Stream.Reset). Its Result holds the error
// of the first callback that failed, if any.
func (g *fuzzGateway) resetEarly(s fuzzStream) *host.Result {
	h, source, err := g.env.FilterRequestHeaders(s.req)
	if err != nil {
		// Envoy refused the request before the filter: nothing to reset.
		return g.vm.RoundTrip(s.req, func(*host.UpstreamRequest) *host.Response { return s.resp })
	}
	st, err := g.vm.NewStream(host.StreamInfo{SourceAddress: source})
	if err != nil {
		return &host.Result{Err: err}
	}
	hasBody := len(s.req.Body) > 0
	act, err := st.RequestHeaders(h, !hasBody && len(s.req.Trailers) == 0)
	if err == nil && act == host.Continue && hasBody {
		n := len(s.req.Body)
		if s.req.ChunkSize > 0 {
			n = min(n, s.req.ChunkSize)
		}
		_, _, err = st.RequestBody(s.req.Body[:n], false)
	}
	if rerr := st.Reset(); err == nil {
		err = rerr
	}
	return &host.Result{Err: err, LocalReply: st.Reply()}
}

// guestPackages are the plugin's own code, as the name section spells it
// ("/" written "_"): the glue (main) and the modules it links (filters/,
// gjson, the SDK).
var guestPackages = []string{"main.", "github.com_"}

// guestCoverage makes the guest's function calls coverage the fuzzer sees:
// Go's instrumentation reaches only native code, so without it the fuzzer
// would be blind to which of the plugin's paths an input took. Each of the
// plugin's own functions has a counter, run as many times as the function
// was (up to 128: the fuzzer keeps a counter's power of two), so a new
// function, or a function run a new number of times, is a new path.
//
//go:generate go run gen_guestcover.go
func guestCoverage(counts []uint32) {
	for rank, n := range counts {
		for range min(n, 128) {
			guestEdge(rank % guestSlots)
		}
	}
}

// fuzzStream is an input decoded: the request, the upstream's response,
// and what the checks need to know of the token.
type fuzzStream struct {
	req  host.Request
	resp *host.Response
	// token is the credential as sent ("" when none), place where;
	// inQuery is the access_token parameter's value, when there is one.
	token, inQuery string
	place          int
	// payload is the token's payload as signed (nil for a raw token).
	payload []byte
}

func (g *fuzzGateway) stream(in fuzzInput) fuzzStream {
	s := fuzzStream{place: int(in.tokenMode>>4) % numPlaces}
	req := host.Request{Method: codecValue(in.method), Path: in.path, Authority: codecValue(in.authority), Scheme: "https",
		Headers: fuzzHeaders(in.headers), Body: in.body, Trailers: fuzzHeaders(in.trailers), ChunkSize: int(in.chunking & 0xff)}
	if in.flags&1 != 0 {
		req.Scheme = "http"
	}
	if k := in.flags >> 4; k > 0 && len(req.Headers) > 0 {
		last := &req.Headers[len(req.Headers)-1]
		last[1] = padTo(last[1], 1<<(k+6))
	}
	if tok, payload := g.token(int(in.tokenMode&0x0f)%numTokenKinds, in.token); tok != "" {
		s.token, s.inQuery = place(&req, s.place, tok)
		s.payload = payload
	}
	s.req = req
	s.resp = &host.Response{Status: foldStatus(in.status), Headers: fuzzHeaders(in.respHeaders), Body: in.respBody,
		ChunkSize: int(in.chunking >> 8)}
	return s
}

// token builds the credential of a kind from the input's token string, and
// the payload it signed.
func (g *fuzzGateway) token(kind int, spec string) (string, []byte) {
	exp := g.clock.Now().Add(time.Hour).Unix()
	claims := func(iss, aud string) string {
		p := fmt.Sprintf(`{"iss":%q,"aud":%q,"exp":%d`, iss, aud, exp)
		if spec != "" {
			p += "," + spec
		}
		return p + "}"
	}
	switch kind {
	case tokenClaims:
		p := claims(fuzzIdPIssuer, "orders-api")
		return g.keys.hs.Token(p), []byte(p)
	case tokenPartnerClaims:
		p := claims(fuzzPartnerIssuer, "partner-api")
		return g.keys.partner.Sign("HS256", `{"alg":"HS256","typ":"at+jwt","kid":"partner-hs"}`, p), []byte(p)
	case tokenSigned:
		header, payload, ok := strings.Cut(spec, "\n")
		if !ok {
			header, payload = g.keys.hs.Header(), spec
		}
		return g.keys.hs.Sign("HS256", header, payload), []byte(payload)
	case tokenRaw:
		return spec, nil
	case tokenES256Claims:
		p := claims(fuzzIdPIssuer, "orders-api")
		return g.keys.es.Token(p), []byte(p)
	}
	return "", nil
}

// place puts the token where the input says: in a header as Envoy's codecs
// deliver it (codecValue), in the query raw, as the whole :path is. It
// returns the token as the plugin gets it (from the header, if there is
// one), and the query parameter's value ("" if not in the query), which an
// "&" in the token ends: what follows is another parameter. A ";" does not
// (httpsyntax.QueryPairs); the plugin refuses a token it would end for an
// upstream that splits on it too.
func place(req *host.Request, where int, tok string) (token, inQuery string) {
	query := func() {
		sep := "?"
		if strings.Contains(req.Path, "?") {
			sep = "&"
		}
		req.Path += sep + "access_token=" + tok
		inQuery, _, _ = strings.Cut(tok, "&")
	}
	header := codecValue(tok)
	switch where {
	case placeBearer:
		req.Headers.Add("authorization", "Bearer "+header)
	case placeQuery:
		query()
		return inQuery, inQuery
	case placeCookie:
		req.Headers.Add("cookie", "session="+header)
	case placePartnerHeader:
		req.Headers.Add("x-partner-token", header)
	case placeBearerAndQuery:
		req.Headers.Add("authorization", "Bearer "+header)
		query()
	case placeTwoBearers:
		req.Headers.Add("authorization", "Bearer "+header)
		req.Headers.Add("authorization", "Bearer "+header)
	}
	return header, inQuery
}

// fuzzHeaders decodes an input's header lines (see fuzzInput).
func fuzzHeaders(s string) host.Headers {
	var h host.Headers
	if s == "" {
		return nil
	}
	for line := range strings.SplitSeq(s, "\n") {
		name, value, _ := strings.Cut(line, ": ")
		if strings.HasPrefix(name, ":") {
			continue
		}
		h = append(h, [2]string{strings.ToLower(codecValue(name)), codecValue(value)})
	}
	return h
}

// codecValue drops what every Envoy codec refuses in a header value (HTTP/1
// and HTTP/2 alike): NUL, CR and LF.
func codecValue(s string) string {
	return strings.Map(func(r rune) rune {
		if r == 0 || r == '\r' || r == '\n' {
			return -1
		}
		return r
	}, s)
}

func foldStatus(s uint16) int {
	if s >= 200 && s <= 599 {
		return int(s)
	}
	return int(s)%400 + 200
}

func padTo(s string, n int) string {
	if s == "" {
		s = "a"
	}
	return strings.Repeat(s, n/len(s)+1)[:n]
}
