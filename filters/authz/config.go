package authz

import (
	"slices"
	"strconv"
	"strings"

	"github.com/tidwall/gjson"

	"github.com/apiguard/apiguard/filters/claims"
	"github.com/apiguard/apiguard/filters/config"
	"github.com/apiguard/apiguard/filters/httpsyntax"
	"github.com/apiguard/apiguard/filters/spiffe"
	"github.com/apiguard/apiguard/filters/stage"
	"github.com/apiguard/apiguard/filters/verdict"
	"github.com/apiguard/apiguard/internal/pattern"
)

// Limits of a route's conditions, checked at start.
const (
	// maxDepth bounds the nesting of all, any and not.
	maxDepth = 16
	// maxNames bounds the roles or scopes one condition lists.
	maxNames = 64
	// maxPatternLength bounds a "matches" regular expression's source.
	maxPatternLength = 1024
	// maxMatchedLength bounds the claim string a regular expression runs
	// on; a longer one makes the evaluation indeterminate.
	maxMatchedLength = 4096
)

// Settings are the top-level "authz" field: what every route's policy
// starts from.
type Settings struct {
	// rolesFrom says, per identity provider, which claims hold roles.
	rolesFrom []providerRoles
	// dryRun makes every route's policy decide without enforcing.
	dryRun bool
}

// roleSources is the index in s.rolesFrom of provider's role claims, -1
// if s lists none for it (or s is nil).
func (s *Settings) roleSources(provider string) int {
	if s == nil {
		return -1
	}
	for k := range s.rolesFrom {
		if s.rolesFrom[k].provider == provider {
			return k
		}
	}
	return -1
}

type providerRoles struct {
	provider string
	sources  []roleSource
}

// roleSource is a claim holding roles: a string (one role, or, with words,
// a space-delimited list) or an array of strings.
type roleSource struct {
	claim claims.Pointer
	words bool
}

// ReadSettings reads the top-level "authz" field.
func ReadSettings(r *config.Reader, path string, v gjson.Result) any {
	st := &Settings{}
	r.Object(path, v, config.Fields{
		"roles_from": {Read: func(p string, v gjson.Result) {
			r.EachKey(p, v, func(p, provider string, v gjson.Result) {
				pr := providerRoles{provider: provider}
				r.Array(p, v, func(p string, _ int, v gjson.Result) {
					if src, ok := readRoleSource(r, p, v); ok {
						pr.sources = append(pr.sources, src)
					}
				})
				if v.IsArray() && len(v.Array()) == 0 {
					r.Errorf(p, "must list at least one claim")
				}
				st.rolesFrom = append(st.rolesFrom, pr)
			})
		}},
		"dry_run": {Read: func(p string, v gjson.Result) { st.dryRun = r.Bool(p, v) }},
	})
	return st
}

// readRoleSource reads "/claim/path" or {"claim": "/scope", "space_delimited": true}.
func readRoleSource(r *config.Reader, path string, v gjson.Result) (roleSource, bool) {
	var src roleSource
	ok := true
	readClaim := func(p string, v gjson.Result) {
		s, isStr := r.Str(p, v)
		if !isStr {
			ok = false
			return
		}
		var err error
		if src.claim, err = claims.Parse(s); err != nil {
			r.Errorf(p, "%v", err)
			ok = false
		}
	}
	if v.Type == gjson.String {
		readClaim(path, v)
		return src, ok
	}
	r.Object(path, v, config.Fields{
		"claim":           {Required: true, Read: readClaim},
		"space_delimited": {Read: func(p string, v gjson.Result) { src.words = r.Bool(p, v) }},
	})
	return src, ok && v.IsObject() && src.claim != nil
}

// parser reads the routes' "authz" fields of one document, one route at a
// time. Its Fields are built once for all routes (config.Reader.Memo): a
// policy's, a method's, a condition's at each depth, a claim test's.
type parser struct {
	r *config.Reader
	// uses are the bindings the conditions make, checked against what the
	// route declares once the whole field is read.
	uses []use
	// tokenUse and roleUse are the paths of the first condition that needs
	// a verified token, and of the first that needs roles; peerUse of the
	// first that needs a verified peer identity.
	tokenUse, roleUse, peerUse string
	// pol, queries, headers and status are the route's field as read;
	// has* tell which rules it has.
	pol                                      *rules
	queries, headers                         []string
	status                                   int64
	hasAllow, hasDeny, hasMethods, hasStatus bool
	// method is the "methods" entry being read.
	method                     methodRules
	policyFields, methodFields *config.FieldSet
	// conds are the readers of conditions by depth; tests are the claim
	// tests being read.
	conds       []*condReader
	tests       []test
	testsFields *config.FieldSet
	// vocab numbers the document's role and scope names and claim paths.
	vocab *vocabulary
	// compiled are the rules compiled without an error, by their field's
	// JSON text: routes with the same rules, common in a policy generated
	// from an OpenAPI document, share them instead of reading and
	// compiling them again, which for 1,000 routes cost a third of
	// configure in wasm. Rules are immutable; what differs per route is
	// its Policy: its path and what ForRoute adds.
	compiled map[string]*rules
}

type parserKey struct{}

// condReader reads the conditions at one depth, into parts.
type condReader struct {
	parts  []*cond
	fields *config.FieldSet
}

type use struct {
	b    binding
	path string
}

func newParser(r *config.Reader) *parser {
	p := &parser{r: r, vocab: newVocabulary()}
	p.policyFields = config.NewFieldSet(config.Fields{
		"allow": {Read: func(p2 string, v gjson.Result) { p.hasAllow, p.pol.allow = true, p.cond(p2, v, 0) }},
		"deny":  {Read: func(p2 string, v gjson.Result) { p.hasDeny, p.pol.deny = true, p.cond(p2, v, 0) }},
		"methods": {Read: func(p2 string, v gjson.Result) {
			p.hasMethods = true
			r.EachKey(p2, v, func(p3, method string, v gjson.Result) {
				if !isMethod(method) || method == "HEAD" {
					r.Errorf(p3, "must be an upper-case HTTP method other than HEAD (HEAD is checked as GET)")
				}
				p.method = methodRules{method: method}
				r.ObjectOf(p3, v, p.methodFields)
				p.pol.methods = append(p.pol.methods, p.method)
			})
		}},
		"query_params":          {Read: func(p2 string, v gjson.Result) { p.queries = readNames(r, p2, v, false) }},
		"headers":               {Read: func(p2 string, v gjson.Result) { p.headers = readNames(r, p2, v, true) }},
		"allow_method_override": {Read: func(p2 string, v gjson.Result) { p.pol.overrides = r.Bool(p2, v) }},
		"dry_run":               {Read: func(p2 string, v gjson.Result) { p.pol.dryRun = r.Bool(p2, v) }},
		"deny_all":              {Read: func(p2 string, v gjson.Result) { p.pol.denyAll = r.Bool(p2, v) }},
		"status":                {Read: func(p2 string, v gjson.Result) { p.hasStatus, p.status = true, r.Count(p2, v, 403, 404) }},
	})
	p.methodFields = config.NewFieldSet(config.Fields{
		"allow": {Required: true, Read: func(p4 string, v gjson.Result) { p.method.allow = p.cond(p4, v, 0) }},
		"deny":  {Read: func(p4 string, v gjson.Result) { p.method.deny = p.cond(p4, v, 0) }},
	})
	p.testsFields = config.NewFieldSet(p.newTestsFields())
	return p
}

// Compile reads a route's "authz" field; global is what ReadSettings
// returned, nil without a top-level field. Routes without their own field
// do not run the stage. A field written as an earlier route's was, byte for
// byte, shares that route's compiled rules (parser.compiled).
func Compile(r *config.Reader, path string, v gjson.Result, global any) stage.Stage {
	if !v.Exists() {
		return nil
	}
	p := r.Memo(parserKey{}, func() any { return newParser(r) }).(*parser)
	st, _ := global.(*Settings)
	// The paths the rules keep are copies: the reader's own live in chunks
	// of many, which one kept path would keep whole. The route's own path
	// is the reader's until ForRoute copies it with the route's names.
	if prev := p.compiled[v.Raw]; prev != nil && prev.settings == st {
		return &Policy{rules: prev, path: path}
	}
	pol := &rules{forbidden: verdict.Forbidden, vocab: p.vocab}
	if st != nil {
		pol.settings = st
		pol.dryRun = st.dryRun
	}
	errs := len(r.Errors())
	p.uses, p.tokenUse, p.roleUse, p.peerUse = nil, "", "", ""
	p.pol, p.queries, p.headers, p.status = pol, nil, nil, 0
	p.hasAllow, p.hasDeny, p.hasMethods, p.hasStatus = false, false, false, false
	r.ObjectOf(path, v, p.policyFields)
	queries, headers, status := p.queries, p.headers, p.status
	p.pol = nil
	if !v.IsObject() {
		return nil
	}
	switch {
	case pol.denyAll && (p.hasAllow || p.hasDeny || p.hasMethods):
		r.Errorf(path+".deny_all", "a route that is always denied has no allow, deny or methods rules")
	case !pol.denyAll && p.hasStatus:
		r.Errorf(path+".status", "only a route with deny_all has a status")
	case !pol.denyAll && !p.hasAllow && !p.hasMethods:
		r.Errorf(path, "needs allow, methods or deny_all: a policy that allows nothing must say so")
	}
	if status == 404 {
		// Hidden: the answer is the one a path without a route gets.
		pol.forbidden = verdict.NoRoute
	}
	// The paths the policy keeps are below its field's, which another
	// route sharing it replaces.
	for _, u := range p.uses {
		switch {
		case u.b.from == bindQuery && !slices.Contains(queries, u.b.name):
			r.Errorf(u.path, "query parameter %q is not declared in query_params", u.b.name)
		case u.b.from == bindHeader && !slices.Contains(headers, u.b.name):
			r.Errorf(u.path, "header %q is not declared in headers", u.b.name)
		case u.b.from == bindParam:
			pol.params = append(pol.params, use{u.b, strings.Clone(strings.TrimPrefix(u.path, path))})
		}
	}
	pol.tokenUse = strings.Clone(strings.TrimPrefix(p.tokenUse, path))
	pol.roleUse = strings.Clone(strings.TrimPrefix(p.roleUse, path))
	pol.peerUse = strings.Clone(strings.TrimPrefix(p.peerUse, path))
	// A field with errors is read again where it repeats, so that each
	// route reports its own.
	if len(r.Errors()) == errs {
		if p.compiled == nil {
			p.compiled = map[string]*rules{}
		}
		p.compiled[v.Raw] = pol
	}
	return &Policy{rules: pol, path: path}
}

type methodRules struct {
	method      string
	allow, deny *cond
}

// readNames reads declared query parameter or header names.
func readNames(r *config.Reader, path string, v gjson.Result, header bool) []string {
	names := r.Strings(path, v)
	for i, n := range names {
		p := path + "[" + strconv.Itoa(i) + "]"
		switch {
		case n == "":
			r.Errorf(p, "must not be empty")
		case header && !isHeaderName(n):
			r.Errorf(p, "%q must be a lower-case header name", n)
		case slices.Contains(names[:i], n):
			r.Errorf(p, "%q is listed twice", n)
		}
	}
	return names
}

// cond reads a condition: "authenticated", or an object whose every key
// must hold.
func (p *parser) cond(path string, v gjson.Result, depth int) *cond {
	r := p.r
	if v.Type == gjson.String {
		if v.Str != "authenticated" {
			r.Errorf(path, `must be "authenticated" or an object`)
			return nil
		}
		p.needsToken(path)
		return &cond{kind: condAuthenticated}
	}
	if depth >= maxDepth {
		r.Errorf(path, "conditions nest at most %d deep", maxDepth)
		return nil
	}
	empty := v.IsObject() && config.Empty(v)
	cr := p.condAt(depth)
	cr.parts = nil
	r.ObjectOf(path, v, cr.fields)
	parts := cr.parts
	cr.parts = nil
	if empty {
		r.Errorf(path, `an empty condition names nothing to check; write "authenticated" to allow any verified caller`)
	}
	if len(parts) == 1 {
		return parts[0]
	}
	return &cond{kind: condAll, subs: parts}
}

// condAt is the reader of conditions at depth: a condition's subconditions
// are read while its own reading is under way, one depth down.
func (p *parser) condAt(depth int) *condReader {
	for len(p.conds) <= depth {
		p.conds = append(p.conds, p.newCondReader(len(p.conds)))
	}
	return p.conds[depth]
}

func (p *parser) newCondReader(depth int) *condReader {
	r := p.r
	cr := &condReader{}
	add := func(c *cond) {
		if c != nil {
			cr.parts = append(cr.parts, c)
		}
	}
	list := func(kind condKind) func(string, gjson.Result) {
		return func(p2 string, v gjson.Result) {
			c := &cond{kind: kind}
			r.Array(p2, v, func(p3 string, _ int, v gjson.Result) {
				if sub := p.cond(p3, v, depth+1); sub != nil {
					c.subs = append(c.subs, sub)
				}
			})
			if v.IsArray() && len(v.Array()) == 0 {
				r.Errorf(p2, "must not be empty")
			}
			add(c)
		}
	}
	cr.fields = config.NewFieldSet(config.Fields{
		"any_role":  {Read: func(p2 string, v gjson.Result) { add(p.names(p2, v, condAnyRole)) }},
		"all_roles": {Read: func(p2 string, v gjson.Result) { add(p.names(p2, v, condAllRoles)) }},
		"scopes":    {Read: func(p2 string, v gjson.Result) { add(p.names(p2, v, condScopes)) }},
		"claims": {Read: func(p2 string, v gjson.Result) {
			r.EachKey(p2, v, func(p3, key string, v gjson.Result) {
				ptr, err := claims.Parse(key)
				if err != nil {
					r.Errorf(p3, "%v", err)
				}
				tests := p.readTests(p3, v)
				if err == nil && tests != nil {
					add(&cond{kind: condClaim, claim: ptr, claimNo: number(p.vocab.claims, key), tests: tests})
				}
			})
			if v.IsObject() && config.Empty(v) {
				r.Errorf(p2, "must not be empty")
			}
			p.needsToken(p2)
		}},
		"peers": {Read: func(p2 string, v gjson.Result) {
			add(&cond{kind: condPeers, peers: spiffe.ReadMatcher(r, p2, v, nil)})
			if p.peerUse == "" {
				p.peerUse = p2
			}
		}},
		"all": {Read: list(condAll)},
		"any": {Read: list(condAny)},
		"not": {Read: func(p2 string, v gjson.Result) {
			if sub := p.cond(p2, v, depth+1); sub != nil {
				add(&cond{kind: condNot, subs: []*cond{sub}})
			}
		}},
	})
	return cr
}

// names reads the roles or scopes of an any_role, all_roles or scopes
// condition.
func (p *parser) names(path string, v gjson.Result, kind condKind) *cond {
	r := p.r
	names := r.Strings(path, v)
	switch {
	case v.IsArray() && len(names) == 0 && len(v.Array()) == 0:
		r.Errorf(path, "must not be empty")
	case len(names) > maxNames:
		r.Errorf(path, "lists at most %d names", maxNames)
		return nil
	}
	for i, n := range names {
		p2 := path + "[" + strconv.Itoa(i) + "]"
		switch {
		case kind == condScopes && !isScopeToken(n):
			r.Errorf(p2, "%q is not an OAuth scope (RFC 6749 section 3.3)", n)
		case n == "":
			r.Errorf(p2, "must not be empty")
		case slices.Contains(names[:i], n):
			r.Errorf(p2, "%q is listed twice", n)
		}
	}
	p.needsToken(path)
	c := &cond{kind: kind}
	if kind == condScopes {
		c.names = mask(p.vocab.scopes, names)
		c.challenge = &verdict.Denial{Headers: [][2]string{{"www-authenticate", `Bearer realm="apiguard", error="insufficient_scope", scope="` + strings.Join(names, " ") + `"`}}}
		return c
	}
	c.names = mask(p.vocab.roles, names)
	if p.roleUse == "" {
		p.roleUse = path
	}
	return c
}

func (p *parser) needsToken(path string) {
	if p.tokenUse == "" {
		p.tokenUse = path
	}
}

// readTests reads what a claim must be: a string (equal to it, or bound to
// a request value when written "{param}", "{query:name}" or
// "{header:name}"), a number or boolean (equal to it), or an object of
// tests that must all pass.
func (p *parser) readTests(path string, v gjson.Result) []test {
	r := p.r
	switch v.Type {
	case gjson.String:
		if inner, ok := strings.CutPrefix(v.Str, "{"); ok {
			if inner, ok = strings.CutSuffix(inner, "}"); ok {
				b, ok := parseBinding(inner)
				if !ok {
					r.Errorf(path, `%q: a binding is "{param}", "{query:name}" or "{header:name}"; compare with a literal string with {"equals": ...}`, v.Str)
					return nil
				}
				p.uses = append(p.uses, use{b, path})
				return []test{{op: opBound, bound: b}}
			}
		}
		return []test{{op: opEqualsString, str: v.Str}}
	case gjson.Number:
		return []test{{op: opEqualsNumber, num: v.Num}}
	case gjson.True, gjson.False:
		return []test{{op: opEqualsBool, num: boolNum(v.Bool())}}
	}
	p.tests = nil
	r.ObjectOf(path, v, p.testsFields)
	tests := p.tests
	p.tests = nil
	if v.IsObject() && config.Empty(v) {
		r.Errorf(path, "must not be empty")
	}
	return tests
}

// newTestsFields are the fields of an object of claim tests, read into
// p.tests.
func (p *parser) newTestsFields() config.Fields {
	r := p.r
	number := func(op testOp) func(string, gjson.Result) {
		return func(p2 string, v gjson.Result) {
			if v.Type != gjson.Number {
				r.Errorf(p2, "must be a number, got %s", config.Kind(v))
				return
			}
			p.tests = append(p.tests, test{op: op, num: v.Num})
		}
	}
	flag := func(op testOp) func(string, gjson.Result) {
		return func(p2 string, v gjson.Result) {
			if v.Type != gjson.True {
				r.Errorf(p2, "must be true (omit it otherwise)")
				return
			}
			p.tests = append(p.tests, test{op: op})
		}
	}
	return config.Fields{
		"equals": {Read: func(p2 string, v gjson.Result) {
			switch v.Type {
			case gjson.String:
				p.tests = append(p.tests, test{op: opEqualsString, str: v.Str})
			case gjson.Number:
				p.tests = append(p.tests, test{op: opEqualsNumber, num: v.Num})
			case gjson.True, gjson.False:
				p.tests = append(p.tests, test{op: opEqualsBool, num: boolNum(v.Bool())})
			default:
				r.Errorf(p2, "must be a string, number or boolean, got %s", config.Kind(v))
			}
		}},
		"one_of": {Read: func(p2 string, v gjson.Result) {
			if strs := r.Strings(p2, v); len(strs) > 0 {
				p.tests = append(p.tests, test{op: opOneOf, strs: strs})
			} else if v.IsArray() {
				r.Errorf(p2, "must not be empty")
			}
		}},
		"present": {Read: flag(opPresent)},
		"absent":  {Read: flag(opAbsent)},
		"gt":      {Read: number(opGreater)},
		"gte":     {Read: number(opGreaterOrEqual)},
		"lt":      {Read: number(opLess)},
		"lte":     {Read: number(opLessOrEqual)},
		"matches": {Read: func(p2 string, v gjson.Result) {
			src, ok := r.Str(p2, v)
			if !ok {
				return
			}
			if len(src) > maxPatternLength {
				r.Errorf(p2, "a pattern has at most %d bytes", maxPatternLength)
				return
			}
			// RE2 (internal/pattern): matching is linear in the input, whatever
			// the pattern.
			re, err := pattern.Compile(src)
			if err != nil {
				r.Errorf(p2, "invalid regular expression (RE2 syntax): %v", err)
				return
			}
			p.tests = append(p.tests, test{op: opMatches, re: re})
		}},
	}
}

// parseBinding reads what is between the braces of a binding.
func parseBinding(s string) (binding, bool) {
	from, name := bindParam, s
	if kind, rest, ok := strings.Cut(s, ":"); ok {
		switch kind {
		case "query":
			from = bindQuery
		case "header":
			from = bindHeader
		default:
			return binding{}, false
		}
		name = rest
	}
	return binding{from: from, name: name}, name != "" && !strings.ContainsAny(name, "{}:")
}

func boolNum(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// isMethod reports an upper-case RFC 9110 token.
func isMethod(s string) bool { return httpsyntax.IsToken(s) && s == strings.ToUpper(s) }

// isHeaderName reports a lower-case RFC 9110 token (never a pseudo-header).
func isHeaderName(s string) bool { return httpsyntax.IsToken(s) && s == strings.ToLower(s) }

// isScopeToken reports an RFC 6749 scope-token.
func isScopeToken(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		if c < 0x21 || c == '"' || c == '\\' || c >= 0x7f {
			return false
		}
	}
	return true
}
