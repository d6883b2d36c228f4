package policytest

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apiguard/apiguard/e2e/jose"
)

var now = time.Unix(1_800_000_000, 0)

func read(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run `make build` first for plugin.wasm)", err)
	}
	return b
}

// TestShippedPolicyPassesItsTests is `make test` running envoy/apiguard.json's
// test file, as a policy author's CI would with `gateway -test`.
func TestShippedPolicyPassesItsTests(t *testing.T) {
	suite, err := ParseSuite(read(t, "../../envoy/apiguard.test.json"))
	if err != nil {
		t.Fatal(err)
	}
	outcomes, err := Run(read(t, "../../build/plugin.wasm"), read(t, "../../envoy/apiguard.json"), suite, now)
	if err != nil {
		t.Fatal(err)
	}
	var table bytes.Buffer
	if failed := Print(&table, outcomes); failed > 0 || len(outcomes) != len(suite.Cases) {
		t.Errorf("envoy/apiguard.test.json:\n%s", table.String())
	}
}

// policy has a provider with remote keys (the runner must never fetch them)
// and one with inline keys that takes its token from a query parameter and
// wants typed tokens.
func policy(t *testing.T) string {
	key, err := jose.NewKey("partner-1")
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf(`{
  "providers": {
    "idp": {"issuer": "https://idp.example.com/", "audiences": ["orders-api", "other"],
            "jwks": {"remote": {"cluster": "nowhere", "authority": "idp.example.com", "path": "/jwks"}},
            "claim_to_headers": {"sub": "x-auth-sub"}},
    "partner": {"issuer": "https://partner.example/", "audiences": ["orders-api"], "typ": "at+jwt",
                "jwks": {"inline": %s}, "from": [{"query": "access_token"}],
                "claim_to_headers": {"sub": "x-partner-sub"}}
  },
  "routes": [
    {"name": "orders", "match": {"path": "/orders/**"}, "auth": {"providers": ["idp"]}},
    {"name": "shipments", "match": {"path": "/shipments/**"}, "auth": {"providers": ["partner"]}},
    {"name": "health", "match": {"path": "/healthz"}, "auth": "none"}
  ]
}`, jose.JWKS(key))
}

// TestRunnerReportsWhatDiffered: every kind of expectation is checked, both
// ways, and each failure says what differed.
func TestRunnerReportsWhatDiffered(t *testing.T) {
	tests := []struct {
		name    string
		caseDoc string
		want    []string // the mismatches; none for a passing case
	}{
		{name: "a token signed for a provider with remote keys",
			caseDoc: `{"method": "GET", "path": "/orders/1", "token": {"provider": "idp", "claims": {"sub": "alice"}}}, "expect": {"status": 200, "upstream_headers": {"x-auth-sub": "alice"}, "upstream_headers_absent": ["authorization"], "upstream_path": "/orders/1"}`},
		{name: "a token placed in the provider's query parameter, typed as it asks",
			caseDoc: `{"method": "GET", "path": "/shipments/1?x=1", "token": {"provider": "partner", "claims": {"sub": "acme"}}}, "expect": {"status": 200, "upstream_headers": {"x-partner-sub": "acme"}, "upstream_path": "/shipments/1?x=1"}`},
		{name: "a typ the provider does not accept",
			caseDoc: `{"method": "GET", "path": "/shipments/1", "token": {"provider": "partner", "typ": "JWT", "claims": {"sub": "acme"}}}, "expect": {"status": 401, "reason": "token_type"}`},
		{name: "a null claim removes the default exp",
			caseDoc: `{"method": "GET", "path": "/orders/1", "token": {"provider": "idp", "claims": {"exp": null}}}, "expect": {"status": 401, "reason": "token_expired"}`},
		{name: "expected a denial, got through",
			caseDoc: `{"method": "GET", "path": "/healthz"}, "expect": {"status": 401, "reason": "token_missing"}`,
			want:    []string{"status and reason: got 200, want 401 token_missing"}},
		{name: "expected through, got denied",
			caseDoc: `{"method": "GET", "path": "/orders/1"}, "expect": {"status": 200, "upstream_headers": {"x-auth-sub": "alice"}}`,
			want:    []string{"status and reason: got 401 token_missing, want 200", "nothing reached the upstream"}},
		{name: "upstream headers and path differ",
			caseDoc: `{"method": "GET", "path": "/healthz", "headers": {"x-a": ["1", "2"], "X-B": "b"}}, "expect": {"status": 200, "upstream_headers": {"x-a": "1", "x-c": "c"}, "upstream_headers_absent": ["x-b"], "upstream_path": "/other"}`,
			want: []string{`upstream header x-a: "1,2", want "1"`, `upstream header x-c: missing, want "c"`,
				`upstream header x-b: "b" reached the upstream`, `upstream path: "/healthz", want "/other"`}},
		{name: "a provider the policy lacks",
			caseDoc: `{"method": "GET", "path": "/orders/1", "token": {"provider": "nobody"}}, "expect": {"status": 200}`,
			want:    []string{`token.provider: the policy has no provider "nobody"`}},
	}
	// One run, as a test file runs: the cases share the VM, in order.
	var docs []string
	for _, tc := range tests {
		docs = append(docs, fmt.Sprintf(`{"name": %q, "request": %s}`, tc.name, tc.caseDoc))
	}
	suite, err := ParseSuite([]byte(`{"cases": [` + strings.Join(docs, ",") + `]}`))
	if err != nil {
		t.Fatal(err)
	}
	outcomes, err := Run(read(t, "../../build/plugin.wasm"), []byte(policy(t)), suite, now)
	if err != nil {
		t.Fatal(err)
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := outcomes[i].Mismatches; !slices.Equal(got, tc.want) {
				t.Errorf("mismatches:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(tc.want, "\n  "))
			}
		})
	}
}

func TestPrintTabulatesAndCounts(t *testing.T) {
	var out bytes.Buffer
	failed := Print(&out, []Outcome{
		{Case: "health", Want: "200", Got: "200"},
		{Case: "orders need a token", Want: "401 token_missing", Got: "200", Mismatches: []string{"status and reason: got 200, want 401 token_missing"}},
	})
	want := `CASE                 EXPECTED           GOT  OK
health               200                200  ok
orders need a token  401 token_missing  200  FAIL
orders need a token: status and reason: got 200, want 401 token_missing
1 passed, 1 failed
`
	if failed != 1 || out.String() != want {
		t.Errorf("Print = %d,\n%s\nwant 1,\n%s", failed, out.String(), want)
	}
}

func TestRefusedPolicyIsAnError(t *testing.T) {
	tests := []struct{ name, policy, want string }{
		{name: "a route without a match", policy: `{"routes": [{"name": "x"}]}`, want: "routes[0].match"},
		{name: "a mistake in keys the run replaces",
			policy: `{"providers": {"idp": {"issuer": "https://idp.example.com/", "audiences": ["a"], "jwks": {"remote": {"cluster": "c", "authority": "idp", "path": "jwks"}}}}, "routes": []}`,
			want:   "providers.idp.jwks.remote.path"},
	}
	suite, _ := ParseSuite([]byte(`{"cases": [{"name": "c", "request": {"method": "GET", "path": "/"}, "expect": {"status": 200}}]}`))
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Run(read(t, "../../build/plugin.wasm"), []byte(tc.policy), suite, now)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Run = %v, want the plugin's error at %s", err, tc.want)
			}
		})
	}
}

func TestParseSuiteIsStrict(t *testing.T) {
	tests := []struct {
		name, doc, want string
	}{
		{name: "unknown field", doc: `{"cases": [{"name": "a", "request": {"method": "GET", "path": "/"}, "expect": {"stauts": 200}}]}`, want: `unknown field "stauts"`},
		{name: "no cases", doc: `{"cases": []}`, want: "cases: none"},
		{name: "missing parts", doc: `{"cases": [{"request": {"path": "x", "token": {}}, "expect": {}}]}`,
			want: "cases[0].name: required\ncases[0].request.method: required\ncases[0].request.path: must start with /\ncases[0].request.token.provider: required\ncases[0].expect.status: want an HTTP status"},
		{name: "a negative repeat", doc: `{"cases": [{"name": "a", "request": {"method": "GET", "path": "/", "repeat": -1}, "expect": {"status": 200}}]}`,
			want: "cases[0].request.repeat: want 1 to 10000"},
		{name: "duplicate names", doc: `{"cases": [{"name": "a", "request": {"method": "GET", "path": "/"}, "expect": {"status": 200}}, {"name": "a", "request": {"method": "GET", "path": "/"}, "expect": {"status": 200}}]}`,
			want: `cases[1].name: "a" names another case too`},
		{name: "header value of a wrong type", doc: `{"cases": [{"name": "a", "request": {"method": "GET", "path": "/", "headers": {"x": 1}}, "expect": {"status": 200}}]}`,
			want: `header "x": want a string or a list of strings`},
		{name: "trailing data", doc: `{"cases": []} {}`, want: "data after the top-level object"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseSuite([]byte(tc.doc))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("ParseSuite = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestBodyIsSentAsWritten(t *testing.T) {
	tests := []struct{ name, body, want string }{
		{name: "a string as is", body: `"a=1&b=2"`, want: "a=1&b=2"},
		{name: "JSON as its text", body: `{"qty": 1}`, want: `{"qty": 1}`},
		{name: "none", body: `null`, want: ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := string(Request{Body: []byte(tc.body)}.body()); got != tc.want {
				t.Errorf("body = %q, want %q", got, tc.want)
			}
		})
	}
}

func FuzzParseSuite(f *testing.F) {
	f.Add([]byte(`{"cases": [{"name": "a", "request": {"method": "GET", "path": "/", "headers": {"x": ["1"]}, "body": "b", "token": {"provider": "p", "claims": {"sub": "s"}, "expires_in_s": -1}}, "expect": {"status": 200}}]}`))
	f.Add([]byte(`{"cases": [{"name": "a", "request": {"method": "GET", "path": "/"}, "expect": {"status": 401, "reason": "token_missing", "upstream_headers": {"a": "b"}, "upstream_headers_absent": ["c"], "upstream_path": "/"}}]}`))
	f.Add([]byte(`{"cases": null}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ParseSuite(b)
		if err == nil && len(s.Cases) == 0 {
			t.Error("a suite without cases was accepted")
		}
	})
}

// TestExamplePoliciesPassTheirTests runs every example policy under
// envoy/examples with its test file: each compiles, and decides what its
// cases say.
func TestExamplePoliciesPassTheirTests(t *testing.T) {
	policies, err := filepath.Glob("../../envoy/examples/*.json")
	if err != nil {
		t.Fatal(err)
	}
	wasm := read(t, "../../build/plugin.wasm")
	n := 0
	for _, p := range policies {
		if strings.HasSuffix(p, ".test.json") {
			continue
		}
		n++
		t.Run(filepath.Base(p), func(t *testing.T) {
			suite, err := ParseSuite(read(t, strings.TrimSuffix(p, ".json")+".test.json"))
			if err != nil {
				t.Fatal(err)
			}
			outcomes, err := Run(wasm, read(t, p), suite, now)
			if err != nil {
				t.Fatal(err)
			}
			var table bytes.Buffer
			if failed := Print(&table, outcomes); failed > 0 || len(outcomes) != len(suite.Cases) {
				t.Errorf("%s:\n%s", p, table.String())
			}
		})
	}
	if n < 4 {
		t.Errorf("%d example policies, want at least 4", n)
	}
}
