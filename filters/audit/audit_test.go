package audit

import (
	"strings"
	"testing"
	"time"

	"github.com/tidwall/gjson"

	"github.com/apiguard/apiguard/filters/config"
	"github.com/apiguard/apiguard/filters/stage"
	"github.com/apiguard/apiguard/filters/verdict"
)

func read(t testing.TB, section string) (*Policy, []config.Error) {
	t.Helper()
	r := &config.Reader{}
	p := Read(r, "audit", gjson.Parse(section))
	return p, r.Errors()
}

func TestPathQueryModes(t *testing.T) {
	for _, tc := range []struct{ mode, want string }{
		{"drop", "/orders"}, {"names", "/orders?token=&page="}, {"keep", "/orders?token=abc&page=2"},
	} {
		p, errs := read(t, `{"query": "`+tc.mode+`"}`)
		if errs != nil {
			t.Fatal(errs)
		}
		if got := p.path("/orders?token=abc&page=2"); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.mode, got, tc.want)
		}
	}
}

// TestKeptQueryHoldsNoToken: "query": "keep" records the query without the
// values of the parameters providers read tokens from, each name read as
// the providers read it (form-decoded), every occurrence, and none hidden
// behind a ";" from them.
func TestKeptQueryHoldsNoToken(t *testing.T) {
	p, errs := read(t, `{"query": "keep"}`)
	if errs != nil {
		t.Fatal(errs)
	}
	if errs := p.ExcludeCredentials("audit", nil, []string{"access_token", "sig"}); errs != nil {
		t.Fatal(errs)
	}
	for _, tc := range []struct{ name, raw, want string }{
		{name: "token and another parameter", raw: "/o?access_token=eyJ.x.y&page=2", want: "/o?access_token=&page=2"},
		{name: "encoded name", raw: "/o?access%5Ftoken=eyJ.x.y", want: "/o?access%5Ftoken="},
		{name: "every occurrence", raw: "/o?sig=a&x=1&sig=b&access_token", want: "/o?sig=&x=1&sig=&access_token="},
		{name: "a name that only contains it", raw: "/o?my_access_token=1&access_token2=2", want: "/o?my_access_token=1&access_token2=2"},
		{name: "no query", raw: "/o", want: "/o"},
		{name: "behind a semicolon", raw: "/o?x=1;access_token=eyJ.x.y;y=2&page=2", want: "/o?x=1;access_token=;y=2&page=2"},
		{name: "a semicolon inside the token", raw: "/o?access_token=eyJ.x.y;sig=1", want: "/o?access_token="},
	} {
		if got := p.path(tc.raw); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestDecisionPrefersTheVerdict(t *testing.T) {
	s := &stage.Stream{}
	s.Note(stage.Outcome{Kind: stage.Shadow, Reason: verdict.RateLimited, Rule: "rate_limit:a"})
	s.Note(stage.Outcome{Kind: stage.DryRun, Reason: verdict.Forbidden, Rule: "authz:r"})
	if o := Decide(s); o.Decision != "dry_run_denied" || o.Reason != verdict.Forbidden || o.Rule != "authz:r" {
		t.Errorf("%+v", o)
	}
	s.Note(stage.Outcome{Kind: stage.Enforced, Reason: verdict.RateLimited, Rule: "rate_limit:b"})
	s.Denied = verdict.RateLimited
	if o := Decide(s); o.Decision != "denied" || o.Reason != verdict.RateLimited || o.Rule != "rate_limit:b" {
		t.Errorf("%+v", o)
	}
	s.Denied = verdict.TokenMissing
	if o := Decide(s); o.Decision != "denied" || o.Rule != "" {
		t.Errorf("a denial no stage noted names rule %q (%s)", o.Rule, o.Decision)
	}
}

func TestSampling(t *testing.T) {
	p, _ := read(t, `{"sample_allowed": 0.25, "sample_denied": 1}`)
	if !p.Sampled(false, 0.2) || p.Sampled(false, 0.3) || !p.Sampled(true, 0.99) {
		t.Error("sampling does not follow the rates")
	}
}

func TestConfigErrors(t *testing.T) {
	for section, want := range map[string]string{
		`{"level": "loud"}`:              "audit.level: must be one of",
		`{"sample_allowed": 2}`:          "audit.sample_allowed: must be a number from 0 to 1",
		`{"headers": ["authorization"]}`: `audit.headers[0]: "authorization": a lower-case header name, never one that carries credentials`,
		`{"headers": ["User-Agent"]}`:    `audit.headers[0]: "User-Agent"`,
		`{"claims": ["tenant_id"]}`:      "audit.claims[0]: claim paths are JSON pointers",
		`{"query": "all"}`:               "audit.query: must be one of",
		`{"sample": 1}`:                  "audit.sample: unknown field",
	} {
		_, errs := read(t, section)
		if len(errs) != 1 || !strings.HasPrefix(errs[0].Error(), want) {
			t.Errorf("%s: %v, want %q", section, errs, want)
		}
	}
}

// TestAppendAllocatesNothing: a record is written into the caller's buffer,
// its timestamp included, with no garbage per audited stream.
func TestAppendAllocatesNothing(t *testing.T) {
	p, s, in := sampleRecord(t)
	b := make([]byte, 0, 1024)
	b = p.Append(b[:0], s, in, Decide(s))
	if !strings.HasPrefix(string(b), `{"time":"2026-12-04T23:05:09.120345Z","duration_us":1250,"request_id":"r-1","route":"orders"`) {
		t.Errorf("record %s", b)
	}
	if n := testing.AllocsPerRun(100, func() { b = p.Append(b[:0], s, in, Decide(s)) }); n > 0 {
		t.Errorf("Append allocates %v objects per record", n)
	}
}

func BenchmarkAppend(b *testing.B) {
	p, s, in := sampleRecord(b)
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		buf = p.Append(buf[:0], s, in, Decide(s))
	}
}

// sampleRecord is a policy that drops the query and a stream to record.
func sampleRecord(tb testing.TB) (*Policy, *stage.Stream, *Input) {
	p, errs := read(tb, `{"query": "drop"}`)
	if errs != nil {
		tb.Fatal(errs)
	}
	s := &stage.Stream{Route: "orders", Path: "/orders/7?page=2"}
	in := &Input{Start: time.Date(2026, 12, 4, 23, 5, 9, 120_345_000, time.UTC), Duration: 1250 * time.Microsecond,
		RequestID: "r-1", Method: "GET", Client: "10.0.0.7", Status: 200}
	return p, s, in
}
