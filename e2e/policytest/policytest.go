// Package policytest runs a policy's test file through plugin.wasm in the e2e
// host, with no network: each case's request goes through one worker VM, its
// upstream is a function that answers 200, and every identity provider's keys
// (inline or remote) are replaced by a key the runner makes, so that the
// tokens the cases describe by their claims can be signed at test time and no
// test needs a secret or an identity provider.
package policytest

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"

	"github.com/apiguard/apiguard/e2e/gateway"
	"github.com/apiguard/apiguard/e2e/host"
	"github.com/apiguard/apiguard/e2e/jose"
)

// Outcome is one case's result.
type Outcome struct {
	Case, Want, Got string
	// Mismatches say what differed; none when the case passed.
	Mismatches []string
}

// OK reports whether the case passed.
func (o Outcome) OK() bool { return len(o.Mismatches) == 0 }

// provider is what the runner needs of a policy's identity provider.
type provider struct {
	key              *jose.Key
	issuer, audience string
	typ              string
	from             gjson.Result
}

// Run loads policy into module with its providers' keys replaced, then runs
// the cases in order on one worker whose clock stands still at now (so rate
// limits and token lifetimes are deterministic). A policy the plugin refuses,
// as written or with its keys replaced, is an error (a *gateway.ConfigError
// naming each JSON path).
func Run(module, policy []byte, s *Suite, now time.Time) ([]Outcome, error) {
	// The policy as written first: the keys replaced below could hide a
	// mistake in its own.
	if err := gateway.Check(module, policy); err != nil {
		return nil, err
	}
	policy, providers, err := replaceKeys(policy)
	if err != nil {
		return nil, err
	}
	g, err := gateway.New(gateway.Options{Module: module, Config: policy, Workers: 1, Clock: host.NewFakeClock(now)})
	if err != nil {
		return nil, err
	}
	defer g.Close()
	out := make([]Outcome, 0, len(s.Cases))
	for _, c := range s.Cases {
		out = append(out, runCase(g, providers, c, now))
	}
	return out, nil
}

// replaceKeys gives every provider of the policy a fresh key, as an inline
// JWKS in place of its own; the rest of the document is kept byte for byte.
func replaceKeys(policy []byte) ([]byte, map[string]*provider, error) {
	providers := map[string]*provider{}
	var err error
	gjson.GetBytes(policy, "providers").ForEach(func(name, p gjson.Result) bool {
		var key *jose.Key
		if key, err = jose.NewKey("apiguard-test-" + name.String()); err != nil {
			return false
		}
		providers[name.String()] = &provider{
			key: key, issuer: p.Get("issuer").String(), audience: p.Get("audiences.0").String(),
			typ: p.Get("typ").String(), from: p.Get("from.0"),
		}
		inline := append(append([]byte(`{"inline": `), jose.JWKS(key)...), '}')
		policy, err = sjson.SetRawBytes(policy, "providers."+escapePath(name.String())+".jwks", inline)
		return err == nil
	})
	return policy, providers, err
}

// escapePath escapes sjson's path syntax in a provider name.
func escapePath(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`.*?|#@\!=<>%:`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

func runCase(g *gateway.Gateway, providers map[string]*provider, c Case, now time.Time) Outcome {
	o := Outcome{Case: c.Name, Want: outcome(c.Expect.Status, c.Expect.Reason)}
	req := host.Request{Method: c.Request.Method, Path: c.Request.Path, Body: c.Request.body(), Source: c.Request.Source}
	for _, name := range slices.Sorted(maps.Keys(c.Request.Headers)) {
		for _, v := range c.Request.Headers[name] {
			req.Headers.Add(strings.ToLower(name), v)
		}
	}
	if t := c.Request.Token; t != nil {
		p, ok := providers[t.Provider]
		if !ok {
			o.Got = "-"
			o.Mismatches = []string{fmt.Sprintf("token.provider: the policy has no provider %q", t.Provider)}
			return o
		}
		token, err := p.sign(t, now)
		if err != nil {
			o.Got = "-"
			o.Mismatches = []string{"token: " + err.Error()}
			return o
		}
		p.place(&req, token)
	}
	var upstream *host.UpstreamRequest
	var res *host.Result
	for range max(c.Request.Repeat, 1) {
		upstream = nil
		res = g.RoundTrip(req, func(r *host.UpstreamRequest) *host.Response {
			upstream = r
			return &host.Response{Status: 200, Headers: host.Headers{{"content-type", "application/json"}}, Body: []byte(`{"ok":true}`)}
		})
		if res.Err != nil {
			break
		}
	}
	if res.Err != nil {
		o.Got = "plugin failed"
		o.Mismatches = []string{res.Err.Error()}
		return o
	}
	reason := res.FilterState["apiguard_decision"]
	o.Got = outcome(res.Status, reason)
	if res.Status != c.Expect.Status || reason != c.Expect.Reason {
		o.Mismatches = append(o.Mismatches, fmt.Sprintf("status and reason: got %s, want %s", o.Got, o.Want))
	}
	o.Mismatches = append(o.Mismatches, c.Expect.upstreamMismatches(upstream)...)
	return o
}

// upstreamMismatches compares what reached the upstream (nil if nothing did)
// with the expectations about it.
func (e Expect) upstreamMismatches(up *host.UpstreamRequest) []string {
	if up == nil {
		if len(e.UpstreamHeaders) > 0 || e.UpstreamPath != "" {
			return []string{"nothing reached the upstream"}
		}
		return nil
	}
	var out []string
	for _, name := range slices.Sorted(maps.Keys(e.UpstreamHeaders)) {
		want := e.UpstreamHeaders[name]
		got := up.Headers.Values(strings.ToLower(name))
		if len(got) == 0 {
			out = append(out, fmt.Sprintf("upstream header %s: missing, want %q", name, want))
		} else if strings.Join(got, ",") != want {
			out = append(out, fmt.Sprintf("upstream header %s: %q, want %q", name, strings.Join(got, ","), want))
		}
	}
	for _, name := range e.UpstreamHeadersAbsent {
		if got := up.Headers.Values(strings.ToLower(name)); len(got) > 0 {
			out = append(out, fmt.Sprintf("upstream header %s: %q reached the upstream", name, strings.Join(got, ",")))
		}
	}
	if e.UpstreamPath != "" {
		if got, _ := up.Headers.Get(":path"); got != e.UpstreamPath {
			out = append(out, fmt.Sprintf("upstream path: %q, want %q", got, e.UpstreamPath))
		}
	}
	return out
}

func outcome(status int, reason string) string {
	if reason == "" {
		return strconv.Itoa(status)
	}
	return strconv.Itoa(status) + " " + reason
}

// sign makes the token: the provider's issuer, first audience, now as iat
// and exp in five minutes, unless the case's claims say otherwise (a null
// claim removes the default).
func (p *provider) sign(t *Token, now time.Time) (string, error) {
	exp := int64(300)
	if t.ExpiresInS != nil {
		exp = *t.ExpiresInS
	}
	claims := map[string]json.RawMessage{
		"iss": quote(p.issuer), "aud": quote(p.audience),
		"iat": json.RawMessage(strconv.FormatInt(now.Unix(), 10)),
		"exp": json.RawMessage(strconv.FormatInt(now.Unix()+exp, 10)),
	}
	for k, v := range t.Claims {
		if string(v) == "null" {
			delete(claims, k)
		} else {
			claims[k] = v
		}
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	typ := t.Typ
	if typ == "" {
		typ = p.typ
	}
	return p.key.Sign(typ, payload)
}

func quote(s string) json.RawMessage {
	b, _ := json.Marshal(s)
	return b
}

// place puts the token where the provider's first token source looks.
func (p *provider) place(req *host.Request, token string) {
	switch {
	case p.from.Get("query").Exists():
		sep := "?"
		if strings.Contains(req.Path, "?") {
			sep = "&"
		}
		req.Path += sep + url.QueryEscape(p.from.Get("query").String()) + "=" + token
	case p.from.Get("cookie").Exists():
		req.Headers.Add("cookie", p.from.Get("cookie").String()+"="+token)
	case p.from.Get("header").Exists():
		req.Headers.Add(strings.ToLower(p.from.Get("header").String()), p.from.Get("prefix").String()+token)
	default:
		req.Headers.Add("authorization", "Bearer "+token)
	}
}

// Print writes the outcomes as a table (case, expected, got, ok), what
// differed for each failed case, and a closing count; it returns how many
// failed.
func Print(w io.Writer, outcomes []Outcome) (failed int) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CASE\tEXPECTED\tGOT\tOK")
	for _, o := range outcomes {
		ok := "ok"
		if !o.OK() {
			ok, failed = "FAIL", failed+1
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", o.Case, o.Want, o.Got, ok)
	}
	_ = tw.Flush()
	for _, o := range outcomes {
		for _, m := range o.Mismatches {
			fmt.Fprintf(w, "%s: %s\n", o.Case, m)
		}
	}
	fmt.Fprintf(w, "%d passed, %d failed\n", len(outcomes)-failed, failed)
	return failed
}
