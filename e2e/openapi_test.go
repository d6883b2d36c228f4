package e2e

import (
	"crypto/elliptic"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/apiguard/apiguard/e2e/host"
	"github.com/apiguard/apiguard/internal/openapi"
	"github.com/apiguard/apiguard/internal/testkit/jwttest"
)

// TestThePetstoreOpenAPIDocumentGuardsThePetstore converts the Swagger
// Petstore's OpenAPI 3.0 document, as apiguard-openapi does, with a base
// policy whose IdP signs the tokens of both its security schemes, and sends
// requests through plugin.wasm: what the document describes passes, what it
// does not is refused before the upstream with the place that broke it.
func TestThePetstoreOpenAPIDocumentGuardsThePetstore(t *testing.T) {
	const issuer = "https://idp.example.com/"
	key := jwttest.EC("pets-1", elliptic.P256())
	base := fmt.Sprintf(`{"providers": {"idp": {"issuer": %q, "audiences": ["petstore"], "jwks": {"inline": %s}}}, "routes": []}`,
		issuer, jwttest.JWKS(key))
	doc, err := openapi.Load("../internal/openapi/testdata/petstore.yaml")
	if err != nil {
		t.Fatal(err)
	}
	res, err := openapi.Convert(doc, openapi.Options{Base: []byte(base), Providers: map[string]string{"petstore_auth": "idp", "api_key": "idp"}})
	if err != nil {
		t.Fatal(err)
	}
	g := startGateway(t, string(res.Policy), 1, func(c *host.Config) { c.Clock = host.NewFakeClock(jwtNow) })
	exp := jwtNow.Add(10 * time.Minute).Unix()
	// The document's petstore_auth requirements name OAuth scopes, which
	// the converted policy checks.
	token := bearer(key.Token(jwttest.Claims(issuer, "petstore", exp, "scope", `"write:pets read:pets"`)))
	readOnly := bearer(key.Token(jwttest.Claims(issuer, "petstore", exp, "scope", `"read:pets"`)))
	asJSON := append([]string{"content-type", "application/json"}, token...)

	type violation struct{ In, Pointer, Rule string }
	tests := []struct {
		name    string
		method  string
		path    string
		headers []string
		body    string
		status  int
		// reason and errors describe a denial.
		reason string
		errors []violation
		allow  string
	}{
		{name: "a valid pet is added", method: "POST", path: "/pet", headers: asJSON,
			body:   `{"name": "doggie", "photoUrls": ["https://img.example/1.jpg"], "category": {"id": 1, "name": "Dogs"}, "tags": [{"id": 2, "name": "good"}], "status": "available"}`,
			status: 200},
		{name: "a pet without its required photoUrls", method: "POST", path: "/pet", headers: asJSON,
			body:   `{"name": "doggie"}`,
			status: 400, reason: "request_invalid", errors: []violation{{"body", "/photoUrls", "required"}}},
		{name: "a pet whose tag id is beyond int64", method: "POST", path: "/pet", headers: asJSON,
			body:   `{"name": "doggie", "photoUrls": [], "tags": [{"id": 9223372036854775808}]}`,
			status: 400, reason: "request_invalid", errors: []violation{{"body", "/tags/0/id", "maximum"}}},
		{name: "a pet with a status the enum lacks", method: "POST", path: "/pet", headers: asJSON,
			body:   `{"name": "doggie", "photoUrls": [], "status": "lost"}`,
			status: 400, reason: "request_invalid", errors: []violation{{"body", "/status", "enum"}}},
		{name: "a pet in a media type the document does not list", method: "POST", path: "/pet",
			headers: append([]string{"content-type", "text/plain"}, token...), body: "doggie",
			status: 415, reason: "unsupported_media_type"},
		{name: "a pet added with a token lacking write:pets", method: "POST", path: "/pet", headers: append([]string{"content-type", "application/json"}, readOnly...),
			body: `{"name": "doggie", "photoUrls": []}`, status: 403, reason: "insufficient_scope"},
		{name: "a pet read by id with that token: its api_key alternative needs no scope", method: "GET", path: "/pet/42", headers: readOnly, status: 200},
		{name: "a pet added without a token", method: "POST", path: "/pet", headers: []string{"content-type", "application/json"},
			body: `{"name": "doggie", "photoUrls": []}`, status: 401, reason: "token_missing"},
		{name: "a pet read by its int64 id", method: "GET", path: "/pet/42", headers: token, status: 200},
		{name: "a pet id that is not an integer", method: "GET", path: "/pet/abc", headers: token,
			status: 400, reason: "request_invalid", errors: []violation{{"path", "/petId", "type"}}},
		{name: "pets found by a listed status", method: "GET", path: "/pet/findByStatus?status=sold", headers: token, status: 200},
		{name: "pets found by a status the enum lacks", method: "GET", path: "/pet/findByStatus?status=lost", headers: token,
			status: 400, reason: "request_invalid", errors: []violation{{"query", "/status", "enum"}}},
		{name: "an order read without a token, as the document allows", method: "GET", path: "/store/order/7", status: 200},
		{name: "a path the document does not describe", method: "GET", path: "/pets", headers: token, status: 404, reason: "no_route"},
		{name: "a method the document does not describe", method: "PATCH", path: "/pet", headers: token,
			status: 405, reason: "method_not_allowed", allow: "POST, PUT"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := request(tc.method, tc.path, tc.headers...)
			req.Body = []byte(tc.body)
			res := g.send(req)
			if tc.reason == "" {
				if res.Status != tc.status || res.Upstream == nil {
					t.Fatalf("status %d, want %d from the upstream: %s", res.Status, tc.status, res.Body)
				}
				return
			}
			expectProblem(t, res, tc.status, tc.reason)
			var body struct{ Errors []violation }
			if err := json.Unmarshal(res.Body, &body); err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(body.Errors) != fmt.Sprint(tc.errors) {
				t.Errorf("errors %+v, want %+v", body.Errors, tc.errors)
			}
			if allow, _ := res.Headers.Get("allow"); allow != tc.allow {
				t.Errorf("allow %q, want %q", allow, tc.allow)
			}
		})
	}
}
