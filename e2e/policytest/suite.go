package policytest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Suite is a policy's test file: its cases, run in order.
type Suite struct {
	Cases []Case `json:"cases"`
}

// Case is one request and what the policy must decide about it.
type Case struct {
	Name    string  `json:"name"`
	Request Request `json:"request"`
	Expect  Expect  `json:"expect"`
}

// Request is what the client sends.
type Request struct {
	Method  string  `json:"method"`
	Path    string  `json:"path"`
	Headers Headers `json:"headers"`
	// Body is sent as is if it is a JSON string, and as its JSON text
	// otherwise: "body": {"qty": 1} sends {"qty": 1}.
	Body  json.RawMessage `json:"body"`
	Token *Token          `json:"token"`
	// Source is the client's "ip:port"; 203.0.113.7:51000 if empty.
	Source string `json:"source"`
	// Repeat sends the request this many times (1 if omitted); the
	// expectation is about the last, e.g. the one a rate limit refuses.
	Repeat int `json:"repeat"`
}

// Token is a JWT the runner signs with the test key that replaced
// Provider's keys, and places where the provider's first "from" source
// looks (Authorization: Bearer by default).
type Token struct {
	Provider string `json:"provider"`
	// Claims are the payload; iss (the provider's issuer), aud (its first
	// audience), iat (now) and exp are filled in unless given.
	Claims map[string]json.RawMessage `json:"claims"`
	// ExpiresInS sets exp relative to the run's clock: 300 if omitted,
	// negative for a token already expired.
	ExpiresInS *int64 `json:"expires_in_s"`
	// Typ is the JOSE header's typ: the provider's "typ" if it has one, else
	// "JWT".
	Typ string `json:"typ"`
}

// Expect is the outcome the case asserts.
type Expect struct {
	Status int `json:"status"`
	// Reason is the denial's reason code (the problem type's last part,
	// e.g. token_missing); empty for a request let through.
	Reason string `json:"reason"`
	// UpstreamHeaders must reach the upstream with these values (repeated
	// values joined with ",").
	UpstreamHeaders map[string]string `json:"upstream_headers"`
	// UpstreamHeadersAbsent must not reach the upstream.
	UpstreamHeadersAbsent []string `json:"upstream_headers_absent"`
	// UpstreamPath, if set, is the :path the upstream must receive.
	UpstreamPath string `json:"upstream_path"`
}

// Headers are request headers: each name maps to a value or a list of values
// (sent as that many header lines, in order). Names are sent sorted.
type Headers map[string][]string

// UnmarshalJSON reads {"name": "value"} or {"name": ["v1", "v2"]}.
func (h *Headers) UnmarshalJSON(b []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	*h = Headers{}
	for k, v := range raw {
		var one string
		if err := json.Unmarshal(v, &one); err == nil {
			(*h)[k] = []string{one}
			continue
		}
		var many []string
		if err := json.Unmarshal(v, &many); err != nil {
			return fmt.Errorf("header %q: want a string or a list of strings", k)
		}
		(*h)[k] = many
	}
	return nil
}

// ParseSuite reads a test file strictly: an unknown field, a case without a
// name, method, path or status, or two cases of one name is an error, so a
// typo cannot turn an assertion off.
func ParseSuite(b []byte) (*Suite, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var s Suite
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("test file: %w", err)
	}
	if dec.More() {
		return nil, errors.New("test file: data after the top-level object")
	}
	var errs []error
	if len(s.Cases) == 0 {
		errs = append(errs, errors.New("cases: none"))
	}
	var names []string
	for i, c := range s.Cases {
		at := fmt.Sprintf("cases[%d]", i)
		switch {
		case c.Name == "":
			errs = append(errs, fmt.Errorf("%s.name: required", at))
		case slices.Contains(names, c.Name):
			errs = append(errs, fmt.Errorf("%s.name: %q names another case too", at, c.Name))
		}
		names = append(names, c.Name)
		if c.Request.Method == "" {
			errs = append(errs, fmt.Errorf("%s.request.method: required", at))
		}
		if !strings.HasPrefix(c.Request.Path, "/") {
			errs = append(errs, fmt.Errorf("%s.request.path: must start with /", at))
		}
		if c.Request.Repeat < 0 || c.Request.Repeat > 10000 {
			errs = append(errs, fmt.Errorf("%s.request.repeat: want 1 to 10000", at))
		}
		if t := c.Request.Token; t != nil && t.Provider == "" {
			errs = append(errs, fmt.Errorf("%s.request.token.provider: required", at))
		}
		if c.Expect.Status < 100 || c.Expect.Status > 599 {
			errs = append(errs, fmt.Errorf("%s.expect.status: want an HTTP status", at))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &s, nil
}

// body is the request body's bytes.
func (r Request) body() []byte {
	if len(r.Body) == 0 || string(r.Body) == "null" {
		return nil
	}
	var s string
	if json.Unmarshal(r.Body, &s) == nil {
		return []byte(s)
	}
	return r.Body
}
