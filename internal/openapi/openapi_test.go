package openapi

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apiguard/apiguard/filters/pipeline"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/ with what the converter writes now")

// golden compares got with a file of testdata/, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/openapi -update to write it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from what the converter writes now (go test ./internal/openapi -update rewrites it; review the diff):\n%s", path, got)
	}
}

func readFile(t *testing.T, name string) []byte {
	t.Helper()
	if name == "" {
		return nil
	}
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestConvert converts the documents of testdata/ (README.md there says what
// each one holds) and compares the policy and the warnings with their golden
// files. Each policy must load as the plugin loads it.
func TestConvert(t *testing.T) {
	tests := []struct {
		name, doc, base string
		opts            Options
	}{
		{name: "petstore", doc: "petstore.yaml", base: "petstore-base.json",
			opts: Options{Providers: map[string]string{"petstore_auth": "idp", "api_key": "keys"}}},
		{name: "features30", doc: "features30.yaml", base: "features30-base.json",
			opts: Options{Providers: map[string]string{"bearer": "idp", "apiKey": "partner"}}},
		{name: "features31", doc: "features31.yaml", base: "petstore-base.json",
			opts: Options{Providers: map[string]string{"bearer": "idp"}, BasePath: "/api/", RejectUnknownQuery: true}},
		{name: "public", doc: "public.json"},
		{name: "selfref", doc: "selfref.yaml"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			doc, err := Load(filepath.Join("testdata", tc.doc))
			if err != nil {
				t.Fatal(err)
			}
			opts := tc.opts
			opts.Base = readFile(t, tc.base)
			res, err := Convert(doc, opts)
			if err != nil {
				t.Fatal(err)
			}
			if _, errs := pipeline.Load(res.Policy); len(errs) > 0 {
				t.Errorf("pipeline.Load refuses the policy: %v", errs)
			}
			golden(t, tc.name+".golden.json", res.Policy)
			var warnings bytes.Buffer
			for _, w := range res.Warnings {
				warnings.WriteString(w + "\n")
			}
			golden(t, tc.name+".warnings", warnings.Bytes())
		})
	}
}

// TestConvertRefuses is what the converter cannot turn into a policy: each
// error names the operation and what to change.
func TestConvertRefuses(t *testing.T) {
	const header = "openapi: 3.0.3\ninfo: {title: t, version: '1'}\n"
	const schemes = "components:\n  securitySchemes:\n    bearer: {type: http, scheme: bearer}\n    key: {type: apiKey, in: header, name: x-key}\n"
	const base = `{"providers": {"idp": {"issuer": "https://idp.example.com/", "audiences": ["a"], "jwks": {"remote": {"cluster": "c", "authority": "idp.example.com", "path": "/jwks"}}}}, "routes": [{"name": "mine", "match": {"path": "/things", "methods": ["POST"]}, "auth": "none"}]}`
	tests := []struct {
		name, doc string
		opts      Options
		want      string
	}{
		{
			name: "a parameter that is part of a segment",
			doc: header + `paths:
  /files/{name}.json:
    get:
      parameters: [{name: name, in: path, required: true, schema: {type: string}}]
      responses: {"200": {description: ok}}`,
			want: `GET /files/{name}.json: path segment "{name}.json" mixes a parameter with other text`,
		},
		{
			name: "a scheme no provider stands for",
			doc: header + `security: [{key: []}]
paths:
  /things:
    get: {operationId: list, responses: {"200": {description: ok}}}
` + schemes,
			opts: Options{Base: []byte(base), Providers: map[string]string{"bearer": "idp"}},
			want: "list (GET /things): no security requirement maps to a provider: name one for key with -provider SCHEME=PROVIDER",
		},
		{
			name: "a provider the base policy lacks",
			doc: header + `paths:
  /things:
    get:
      security: [{bearer: [], key: []}]
      responses: {"200": {description: ok}}
` + schemes,
			opts: Options{Base: []byte(base + " "), Providers: map[string]string{"bearer": "idp", "key": "idp2"}},
			want: `-provider key=idp2: the base policy defines no provider "idp2"`,
		},
		{
			name: "a scheme the document lacks",
			doc:  header + "paths: {}\n" + schemes,
			opts: Options{Base: []byte(base), Providers: map[string]string{"bearer_auth": "idp"}},
			want: `-provider bearer_auth=idp: the document defines no security scheme "bearer_auth"`,
		},
		{
			name: "a base policy's route on the same path and method",
			doc: header + `paths:
  /things:
    post: {operationId: create, responses: {"200": {description: ok}}}`,
			opts: Options{Base: []byte(base)},
			want: "create (POST /things): routes[1].match.path: same path shape as routes[0] with overlapping methods",
		},
		{
			name: "a base policy that is not an object",
			doc:  header + "paths: {}\n",
			opts: Options{Base: []byte(`["routes"]`)},
			want: "base policy: not a JSON object",
		},
		{
			name: "a base path without its slash",
			doc:  header + "paths: {}\n",
			opts: Options{BasePath: "api"},
			want: `base path "api" must start with /`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			doc, err := Parse([]byte(tc.doc))
			if err != nil {
				t.Fatal(err)
			}
			res, err := Convert(doc, tc.opts)
			if err == nil {
				t.Fatalf("converted:\n%s", res.Policy)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q, want it to say %q", err, tc.want)
			}
		})
	}
}

func TestTwoTokensAtOnceCannotBeRequired(t *testing.T) {
	doc, err := Parse([]byte(`openapi: 3.0.3
info: {title: t, version: '1'}
paths:
  /things:
    get:
      security: [{bearer: [], key: []}]
      responses: {"200": {description: ok}}
components:
  securitySchemes:
    bearer: {type: http, scheme: bearer}
    key: {type: apiKey, in: header, name: x-key}
`))
	if err != nil {
		t.Fatal(err)
	}
	base := `{"providers": {"a": {"issuer": "https://a.example/", "audiences": ["a"], "jwks": {"remote": {"cluster": "a", "authority": "a.example", "path": "/jwks"}}},
	  "b": {"issuer": "https://b.example/", "audiences": ["b"], "jwks": {"remote": {"cluster": "b", "authority": "b.example", "path": "/jwks"}}}}, "routes": []}`
	_, err = Convert(doc, Options{Base: []byte(base), Providers: map[string]string{"bearer": "a", "key": "b"}})
	if want := "GET /things: no security requirement can be met with one token"; err == nil || err.Error() != want {
		t.Errorf("error %v, want %q", err, want)
	}
}

func TestDocumentsOtherThanOpenAPI30And31AreRefused(t *testing.T) {
	tests := []struct{ name, doc, want string }{
		{name: "Swagger 2.0", doc: `{"swagger": "2.0", "info": {"title": "t", "version": "1"}, "paths": {}}`, want: "only 3.0 and 3.1"},
		{name: "OpenAPI 3.2", doc: `{"openapi": "3.2.0", "info": {"title": "t", "version": "1"}, "paths": {}}`, want: `OpenAPI version "3.2.0": only 3.0 and 3.1 are supported`},
		{name: "invalid", doc: `{"openapi": "3.0.3", "info": {"title": "t", "version": "1"}, "paths": {"/a/{id}": {"get": {"responses": {"200": {"description": "ok"}}}}}}`, want: "not a valid OpenAPI document"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.doc))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
}

// FuzzConvert holds the converter to its promise: whatever valid document
// it is given, it refuses it with a message or writes a policy the plugin
// loads. Every security scheme maps to a provider, so that operations get
// converted.
func FuzzConvert(f *testing.F) {
	for _, name := range []string{"petstore.yaml", "features30.yaml", "features31.yaml", "public.json", "selfref.yaml"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	base := []byte(`{"providers": {"idp": {"issuer": "https://idp.example.com/", "audiences": ["a"], "jwks": {"remote": {"cluster": "c", "authority": "idp.example.com", "path": "/jwks"}}}}, "routes": []}`)
	f.Fuzz(func(t *testing.T, data []byte) {
		doc, err := Parse(data)
		if err != nil || doc.Components == nil {
			return
		}
		providers := map[string]string{}
		for name := range doc.Components.SecuritySchemes {
			providers[name] = "idp"
		}
		_, err = Convert(doc, Options{Base: base, Providers: providers})
		if err != nil && strings.Contains(err.Error(), "does not load") {
			t.Fatal(err)
		}
	})
}
