// Command apiguard-openapi turns an OpenAPI 3.0 or 3.1 document (YAML or
// JSON) into apiguard routes and prints the filter JSON: one route per
// operation, its security requirements mapped to the base policy's
// providers, its parameters and request body checked by the validate stage.
// What apiguard cannot check is listed on stderr as warnings; the policy it
// prints always passes apiguard-check (see internal/openapi).
//
//	apiguard-openapi -base base.json -provider bearerAuth=idp openapi.yaml > policy.json
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/apiguard/apiguard/internal/openapi"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// providerFlags collects repeated -provider SCHEME=PROVIDER flags.
type providerFlags map[string]string

func (p providerFlags) String() string { return "" }

func (p providerFlags) Set(v string) error {
	scheme, provider, ok := strings.Cut(v, "=")
	if !ok || scheme == "" || provider == "" {
		return fmt.Errorf("%q is not SCHEME=PROVIDER", v)
	}
	if _, dup := p[scheme]; dup {
		return fmt.Errorf("security scheme %q is mapped twice", scheme)
	}
	p[scheme] = provider
	return nil
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("apiguard-openapi", flag.ContinueOnError)
	fs.SetOutput(stderr)
	providers := providerFlags{}
	base := fs.String("base", "", "a policy (filter JSON) whose providers and settings the routes are added to")
	fs.Var(providers, "provider", "SCHEME=PROVIDER: tokens for the document's security scheme SCHEME come from the base policy's provider PROVIDER (repeatable)")
	basePath := fs.String("base-path", "", "put before every path: the path of the server URL as clients reach the gateway, e.g. /api/v3")
	unknownQuery := fs.String("unknown-query", "allow", "query parameters an operation does not declare: allow (as OpenAPI does) or reject")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: apiguard-openapi [flags] OPENAPI.yaml > policy.json")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 1 || *unknownQuery != "allow" && *unknownQuery != "reject" {
		fs.Usage()
		return 2
	}
	opts := openapi.Options{Providers: providers, BasePath: *basePath, RejectUnknownQuery: *unknownQuery == "reject"}
	if *base != "" {
		raw, err := os.ReadFile(*base)
		if err != nil {
			fmt.Fprintln(stderr, "apiguard-openapi:", err)
			return 1
		}
		opts.Base = raw
	}
	doc, err := openapi.Load(fs.Arg(0))
	if err != nil {
		fmt.Fprintln(stderr, "apiguard-openapi:", err)
		return 1
	}
	res, err := openapi.Convert(doc, opts)
	if err != nil {
		fmt.Fprintf(stderr, "apiguard-openapi: %s:\n%s\n", fs.Arg(0), err)
		return 1
	}
	for _, w := range res.Warnings {
		fmt.Fprintln(stderr, "apiguard-openapi: warning:", w)
	}
	if _, err := stdout.Write(res.Policy); err != nil {
		fmt.Fprintln(stderr, "apiguard-openapi:", err)
		return 1
	}
	return 0
}
