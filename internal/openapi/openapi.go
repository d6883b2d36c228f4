// Package openapi turns an OpenAPI 3.0 or 3.1 document into apiguard routes
// (cmd/apiguard-openapi): one route per operation, with its method, its path
// as a template, its security requirements as providers, and a validate
// section for its typed path and query parameters, required headers and
// request body. What apiguard cannot check is dropped with a warning naming
// the operation, never silently and never so that a valid request would be
// refused; the result always passes pipeline.Load.
//
// The document is read with kin-openapi, natively: nothing here is part of
// plugin.wasm.
package openapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/tidwall/gjson"

	"github.com/apiguard/apiguard/filters/config"
	"github.com/apiguard/apiguard/filters/pipeline"
)

// Options steer a conversion.
type Options struct {
	// Base is a filter JSON document the routes are added to, after its own:
	// its providers, global sections and other fields are kept as they are.
	// Nil for none.
	Base []byte
	// Providers maps security scheme names of the document to providers of
	// Base that accept its tokens.
	Providers map[string]string
	// BasePath is put before every path: the path of the server URL as
	// clients reach the gateway ("/api/v3"). Empty for none.
	BasePath string
	// RejectUnknownQuery refuses query parameters an operation does not
	// declare. OpenAPI itself allows them, so the default accepts them.
	RejectUnknownQuery bool
}

// Result is a converted document.
type Result struct {
	// Policy is the filter JSON, indented.
	Policy []byte
	// Warnings say what of the document apiguard does not check, each
	// naming its operation.
	Warnings []string
}

// Load reads an OpenAPI 3.0 or 3.1 document, YAML or JSON, and the files it
// refers to (read from disk, never fetched), and validates it.
func Load(path string) (*openapi3.T, error) {
	loader := openapi3.NewLoader()
	loader.IsExternalRefsAllowed = true
	loader.ReadFromURIFunc = openapi3.ReadFromFile
	doc, err := loader.LoadFromFile(path)
	if err == nil {
		err = check(doc)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return doc, nil
}

// Parse reads a document that refers to no other file.
func Parse(data []byte) (*openapi3.T, error) {
	doc, err := openapi3.NewLoader().LoadFromData(data)
	if err != nil {
		return nil, err
	}
	return doc, check(doc)
}

func check(doc *openapi3.T) error {
	// Patterns are ECMA-262 regular expressions: one RE2 cannot read is
	// dropped with a warning, not a reason to refuse the document.
	opts := []openapi3.ValidationOption{openapi3.DisableExamplesValidation(), openapi3.DisableSchemaPatternValidation()}
	switch {
	case doc.IsOpenAPI30():
	case doc.OpenAPIMajorMinor() == "3.1":
		opts = append(opts, openapi3.IsOpenAPI31OrLater())
	default:
		return fmt.Errorf("OpenAPI version %q: only 3.0 and 3.1 are supported", doc.OpenAPI)
	}
	if err := doc.Validate(context.Background(), opts...); err != nil {
		return fmt.Errorf("not a valid OpenAPI document: %w", err)
	}
	return nil
}

type converter struct {
	doc  *openapi3.T
	opts Options
	base gjson.Result
	// names are the route names taken.
	names          map[string]bool
	warnings, errs []string
}

// Convert converts doc. It fails, naming each operation, when a path
// cannot be a route template or no security requirement of an operation
// maps to a provider.
func Convert(doc *openapi3.T, opts Options) (*Result, error) {
	c := &converter{doc: doc, opts: opts, names: map[string]bool{}}
	if err := c.checkOptions(); err != nil {
		return nil, err
	}
	var routes []*route
	var labels []string
	paths := doc.Paths.Map()
	for _, path := range sortedKeys(paths) {
		item := paths[path]
		if item == nil {
			continue
		}
		ops := item.Operations()
		for _, method := range methods(ops) {
			op := ops[method]
			o := &operation{c: c, path: path, method: method, op: op, label: method + " " + path}
			if op.OperationID != "" {
				o.label = op.OperationID + " (" + o.label + ")"
			}
			if rt := o.route(item); rt != nil {
				routes, labels = append(routes, rt), append(labels, o.label)
			}
		}
	}
	if len(c.errs) > 0 {
		return nil, errors.New(strings.Join(c.errs, "\n"))
	}
	c.notes()
	policy, err := c.write(routes)
	if err != nil {
		return nil, err
	}
	if _, errs := pipeline.Load(policy); len(errs) > 0 {
		return nil, c.refused(errs, labels)
	}
	return &Result{Policy: policy, Warnings: c.warnings}, nil
}

func (c *converter) checkOptions() error {
	var errs []string
	if p := c.opts.BasePath; p != "" {
		c.opts.BasePath = strings.TrimSuffix(p, "/")
		if !strings.HasPrefix(p, "/") {
			errs = append(errs, fmt.Sprintf("base path %q must start with /", p))
		}
	}
	if c.opts.Base != nil {
		if !gjson.ValidBytes(c.opts.Base) || !gjson.ParseBytes(c.opts.Base).IsObject() {
			return errors.New("base policy: not a JSON object")
		}
		c.base = gjson.ParseBytes(c.opts.Base)
		for _, rt := range c.base.Get("routes").Array() {
			c.names[rt.Get("name").String()] = true
		}
	}
	for _, scheme := range sortedKeys(c.opts.Providers) {
		provider := c.opts.Providers[scheme]
		if c.doc.Components == nil || c.doc.Components.SecuritySchemes[scheme] == nil {
			errs = append(errs, fmt.Sprintf("-provider %s=%s: the document defines no security scheme %q (components.securitySchemes)", scheme, provider, scheme))
		}
		if !c.base.Get("providers").Get(gjsonKey(provider)).Exists() {
			errs = append(errs, fmt.Sprintf("-provider %s=%s: the base policy defines no provider %q", scheme, provider, provider))
		}
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "\n"))
	}
	return nil
}

// gjsonKey escapes a member name for a gjson path.
func gjsonKey(name string) string { return gjsonSpecial.ReplaceAllString(name, `\$0`) }

var gjsonSpecial = regexp.MustCompile(`[.*?|#@!\\]`)

// methods are the methods of a path's operations, in the order of their
// routes.
func methods(ops map[string]*openapi3.Operation) []string {
	out := sortedKeys(ops)
	rank := func(m string) int {
		if i := slices.Index(methodOrder, m); i >= 0 {
			return i
		}
		return len(methodOrder)
	}
	sort.SliceStable(out, func(i, j int) bool { return rank(out[i]) < rank(out[j]) })
	return out
}

// notes are the warnings about the document as a whole.
func (c *converter) notes() {
	if c.opts.BasePath == "" && len(c.doc.Servers) > 0 {
		if u, err := url.Parse(c.doc.Servers[0].URL); err == nil && strings.Trim(u.Path, "/") != "" {
			c.warnings = append(c.warnings, fmt.Sprintf("the server URL's path is %s, and the routes are written without it: pass -base-path %s if clients send it", u.Path, strings.TrimSuffix(u.Path, "/")))
		}
	}
}

// routeName is a unique route name from the operationId, else from the
// method and path, with only the characters a metric name takes.
func (c *converter) routeName(operationID, method, path string) string {
	clean := func(s string) string {
		b := []byte(s)
		for i, ch := range b {
			if ch != '_' && ch != '-' && !('a' <= ch && ch <= 'z') && !('A' <= ch && ch <= 'Z') && !('0' <= ch && ch <= '9') {
				b[i] = '-'
			}
		}
		return strings.Trim(strings.ReplaceAll(string(b), "--", "-"), "-")
	}
	name := clean(operationID)
	if name == "" {
		name = clean(strings.ToLower(method) + "-" + strings.NewReplacer("{", "", "}", "").Replace(path))
	}
	unique := name
	for i := 2; c.names[unique]; i++ {
		unique = name + "-" + strconv.Itoa(i)
	}
	c.names[unique] = true
	return unique
}

// overGlobal starts each of a route's validate sections from the base
// policy's global one: a route's section replaces the global one whole, so
// without this the route would lose the global limits. Required headers
// and query parameters are the union of both.
func (c *converter) overGlobal(v map[string]any) map[string]any {
	for _, name := range []string{"headers", "query", "body"} {
		own, ok := v[name].(map[string]any)
		global := c.base.Get("validate." + name)
		if !ok || !global.IsObject() {
			continue
		}
		d := json.NewDecoder(strings.NewReader(global.Raw))
		d.UseNumber()
		var g map[string]any
		if d.Decode(&g) != nil {
			continue // pipeline.Load reports it
		}
		for k, gv := range g {
			switch ov, has := own[k]; {
			case !has:
				own[k] = gv
			case name == "headers" && k == "required":
				req := slices.Clone(ov.([]string))
				for _, h := range gv.([]any) {
					if s, _ := h.(string); !slices.Contains(req, s) {
						req = append(req, s)
					}
				}
				own[k] = req
			case name == "query" && k == "params":
				for pn, pv := range gv.(map[string]any) {
					if _, dup := ov.(map[string]any)[pn]; !dup {
						ov.(map[string]any)[pn] = pv
					}
				}
			}
		}
	}
	return v
}

// write writes the policy: the base's members in its order, its routes
// followed by the new ones.
func (c *converter) write(routes []*route) ([]byte, error) {
	var members object
	all := make([]any, 0, len(routes))
	if c.base.Exists() {
		c.base.ForEach(func(k, v gjson.Result) bool {
			if k.String() == "routes" {
				for _, rt := range v.Array() {
					all = append(all, json.RawMessage(rt.Raw))
				}
			}
			members = append(members, member{k.String(), json.RawMessage(v.Raw)})
			return true
		})
	}
	for _, rt := range routes {
		all = append(all, rt)
	}
	i := slices.IndexFunc(members, func(m member) bool { return m.key == "routes" })
	if i < 0 {
		members, i = append(members, member{key: "routes"}), len(members)
	}
	members[i].value = all
	compact, err := marshal(members)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	if err := json.Indent(&out, compact, "", "  "); err != nil {
		return nil, err
	}
	out.WriteByte('\n')
	return out.Bytes(), nil
}

// refused reports pipeline.Load's errors, which a correct conversion never
// meets but a base policy may, naming the operation of each new route.
func (c *converter) refused(errs []config.Error, labels []string) error {
	first := len(c.base.Get("routes").Array())
	var lines []string
	for _, e := range errs {
		msg := e.Error()
		if m := routeIndex.FindStringSubmatch(msg); m != nil {
			if i, _ := strconv.Atoi(m[1]); i >= first && i-first < len(labels) {
				msg = labels[i-first] + ": " + msg
			}
		}
		lines = append(lines, msg)
	}
	return fmt.Errorf("the converted policy does not load:\n%s", strings.Join(lines, "\n"))
}

var routeIndex = regexp.MustCompile(`^routes\[(\d+)\]`)

// member is one member of a JSON object whose order is kept.
type member struct {
	key   string
	value any
}

type object []member

func (o object) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, m := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := marshal(m.key)
		v, err := marshal(m.value)
		if err != nil {
			return nil, err
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// marshal is json.Marshal without escaping <, > and &, which patterns hold.
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	e := json.NewEncoder(&b)
	e.SetEscapeHTML(false)
	if err := e.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

func itoa(i int) string { return strconv.Itoa(i) }

func quote(s string) string { return strconv.Quote(s) }
