package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestRun(t *testing.T) {
	const spec = "../../internal/openapi/testdata/petstore.yaml"
	const base = "../../internal/openapi/testdata/petstore-base.json"
	tests := []struct {
		name         string
		args         []string
		code         int
		stdout       string
		stderr       string
		stderrAbsent string
	}{
		{name: "the petstore with its providers", args: []string{"-base", base, "-provider", "petstore_auth=idp", "-provider", "api_key=keys", "-base-path", "/api/v3", spec},
			stdout: `"path": "/api/v3/pet/{petId}"`, stderrAbsent: "server URL"},
		{name: "scopes become authorization", args: []string{"-base", base, "-provider", "petstore_auth=idp", "-provider", "api_key=keys", spec},
			stdout: `"write:pets"`, stderrAbsent: "scopes"},
		{name: "a scheme without a provider", args: []string{"-base", base, "-provider", "petstore_auth=idp", spec}, code: 1,
			stderr: "getInventory (GET /store/inventory): no security requirement maps to a provider: name one for api_key with -provider SCHEME=PROVIDER"},
		{name: "a provider flag without its provider", args: []string{"-provider", "petstore_auth", spec}, code: 2, stderr: `"petstore_auth" is not SCHEME=PROVIDER`},
		{name: "a scheme mapped twice", args: []string{"-provider", "a=b", "-provider", "a=c", spec}, code: 2, stderr: `security scheme "a" is mapped twice`},
		{name: "no document", args: nil, code: 2, stderr: "usage: apiguard-openapi"},
		{name: "a missing document", args: []string{"missing.yaml"}, code: 1, stderr: "missing.yaml"},
		{name: "an unknown query choice", args: []string{"-unknown-query", "deny", spec}, code: 2, stderr: "usage: apiguard-openapi"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := run(tc.args, &stdout, &stderr); code != tc.code {
				t.Fatalf("exit %d, want %d; stderr:\n%s", code, tc.code, stderr.String())
			}
			if !strings.Contains(stdout.String(), tc.stdout) || tc.code != 0 && stdout.Len() > 0 {
				t.Errorf("stdout lacks %q or printed a policy on failure:\n%s", tc.stdout, stdout.String())
			}
			if !strings.Contains(stderr.String(), tc.stderr) {
				t.Errorf("stderr lacks %q:\n%s", tc.stderr, stderr.String())
			}
			if tc.stderrAbsent != "" && strings.Contains(stderr.String(), tc.stderrAbsent) {
				t.Errorf("stderr says %q:\n%s", tc.stderrAbsent, stderr.String())
			}
		})
	}
}
