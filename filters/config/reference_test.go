package config_test

import (
	"bufio"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/tidwall/gjson"

	"github.com/apiguard/apiguard/filters/config"
	"github.com/apiguard/apiguard/filters/pipeline"
)

// The configuration reference is CONFIG.md; everything.json is a valid
// policy that reaches every object the parser reads, so that tracing its
// loading shows every field the parser knows.
const (
	reference  = "../../CONFIG.md"
	everything = "testdata/everything.json"
	repoRoot   = "../.."
	modulePath = "github.com/apiguard/apiguard/"
	configPkg  = modulePath + "filters/config"
)

// traceEverything loads everything.json through pipeline.Load, the plugin's
// own entry point, with the trace on; it must load without an error.
func traceEverything(t *testing.T) *config.Recording {
	t.Helper()
	raw, err := os.ReadFile(everything)
	if err != nil {
		t.Fatal(err)
	}
	var errs []config.Error
	rec := config.Trace(func() { _, errs = pipeline.Load(raw) })
	for _, e := range errs {
		t.Errorf("%s: %v", everything, e)
	}
	if len(errs) > 0 {
		t.FailNow()
	}
	for _, p := range rec.Problems {
		t.Errorf("an object was read at %s, which no traced object, map or array led to: its path cannot be normalized", p)
	}
	return rec
}

// TestReferenceNamesEveryField compares the fields CONFIG.md names with those
// the parser knows, both ways.
func TestReferenceNamesEveryField(t *testing.T) {
	rec := traceEverything(t)
	doc := readReference(t, reference)
	for _, field := range slices.Sorted(maps.Keys(rec.Fields)) {
		if _, ok := doc[field]; !ok {
			file, line := relative(rec.Fields[field][0])
			t.Errorf("the parser knows %s (read at %s:%d), which CONFIG.md does not name", field, file, line)
		}
	}
	for _, field := range slices.Sorted(maps.Keys(doc)) {
		if _, ok := rec.Fields[field]; !ok {
			t.Errorf("CONFIG.md:%d names %s, which the parser does not know (or %s does not reach it)", doc[field].line, field, everything)
		}
	}
}

// TestEverythingShowsEveryRow keeps everything.json an example of every
// field: each row of CONFIG.md is written in it somewhere, at the row's path
// or at one an alias line carries the row to (a route's own section for the
// top-level one).
func TestEverythingShowsEveryRow(t *testing.T) {
	rec := traceEverything(t)
	doc := readReference(t, reference)
	raw, err := os.ReadFile(everything)
	if err != nil {
		t.Fatal(err)
	}
	shown := map[string]bool{}
	var walk func(path string, v gjson.Result)
	walk = func(path string, v gjson.Result) {
		if v.IsArray() {
			for i, el := range v.Array() {
				walk(path+"["+strconv.Itoa(i)+"]", el)
			}
			return
		}
		// Only into what the parser read field by field: not into a JSON
		// Schema or a JWKS.
		v.ForEach(func(k, el gjson.Result) bool {
			p := config.Join(path, k.String())
			if n, ok := rec.Normalized[p]; ok {
				if at, ok := doc[n]; ok {
					shown[at.row] = true
				}
				walk(p, el)
			}
			return true
		})
	}
	walk("", gjson.ParseBytes(raw))
	for _, field := range slices.Sorted(maps.Keys(doc)) {
		if at := doc[field]; at.row == field && !shown[field] {
			t.Errorf("CONFIG.md:%d: %s is used nowhere in %s, which is meant to show every field", at.line, field, everything)
		}
	}
}

// TestEverythingReachesEveryReader is what makes the comparison complete: a
// field the trace never sees is a field the reference need not name. Every
// Object, ObjectOf and EachKey call in the source must have run while
// everything.json loaded, and every key of every config.Fields literal (and
// of every field added to one by index) must have been in an object read.
func TestEverythingReachesEveryReader(t *testing.T) {
	rec := traceEverything(t)
	calls, entries := scanSource(t, repoRoot)
	if len(calls) == 0 || len(entries) == 0 {
		t.Fatalf("found %d Object and EachKey calls and %d config.Fields entries in the source: the scan is broken", len(calls), len(entries))
	}
	reached := map[string][]int{}
	for c := range rec.Calls {
		f, l := relative(c)
		reached[f] = append(reached[f], l)
	}
	for _, c := range calls {
		if !slices.ContainsFunc(reached[c.file], c.covers) {
			t.Errorf("%s:%d: %s is never called while %s loads: make it reach this, and name the fields in CONFIG.md", c.file, c.from, c.what, everything)
		}
	}
	read := map[string][]config.Read{}
	for _, r := range rec.Reads {
		f, _ := relative(r.At)
		read[f] = append(read[f], r)
	}
	for _, e := range entries {
		ok := slices.ContainsFunc(read[e.file], func(r config.Read) bool {
			_, line := relative(r.At)
			return r.Key == e.what && (!e.funcLit || e.covers(line))
		})
		if !ok {
			t.Errorf("%s:%d: field %q is in no object read while %s loads: make it reach this, and name the field in CONFIG.md", e.file, e.from, e.what, everything)
		}
	}
}

// relative is a site's file relative to the repository (slash-separated)
// and its line, whether the test binary was built with -trimpath or not.
func relative(s config.Site) (string, int) {
	if rest, ok := strings.CutPrefix(s.File, modulePath); ok {
		return rest, s.Line
	}
	root, err := filepath.Abs(repoRoot)
	if err != nil {
		return s.File, s.Line
	}
	rel, err := filepath.Rel(root, s.File)
	if err != nil {
		return s.File, s.Line
	}
	return filepath.ToSlash(rel), s.Line
}

// span is a stretch of one source file: a call, or one entry of a
// config.Fields literal.
type span struct {
	file     string
	from, to int
	// what is the call ("r.Object") or the entry's key.
	what string
	// funcLit: the entry's Read is a function literal written in the
	// entry, so the function that ran must be defined within it.
	funcLit bool
}

func (s span) covers(line int) bool { return s.from <= line && line <= s.to }

// scanSource finds, in every non-test Go file of the module that imports
// filters/config, the Object, ObjectOf and EachKey calls and the entries of
// config.Fields literals (and fields assigned by index, fields["x"] =
// config.Field{...}).
func scanSource(t *testing.T, root string) (calls, entries []span) {
	t.Helper()
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if path != root && (name == "build" || name == "testdata" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		pkg := configName(f)
		if pkg == "" {
			return nil
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		at := func(n ast.Node, what string, funcLit bool) span {
			return span{rel, fset.Position(n.Pos()).Line, fset.Position(n.End()).Line, what, funcLit}
		}
		isType := func(e ast.Expr, typ string) bool {
			sel, ok := e.(*ast.SelectorExpr)
			if !ok {
				return false
			}
			x, ok := sel.X.(*ast.Ident)
			return ok && x.Name == pkg && sel.Sel.Name == typ
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.CallExpr:
				if sel, ok := n.Fun.(*ast.SelectorExpr); ok && len(n.Args) == 3 && (sel.Sel.Name == "Object" || sel.Sel.Name == "ObjectOf" || sel.Sel.Name == "EachKey") {
					calls = append(calls, at(n, sel.Sel.Name, false))
				}
			case *ast.CompositeLit:
				if !isType(n.Type, "Fields") {
					return true
				}
				for _, el := range n.Elts {
					if kv, ok := el.(*ast.KeyValueExpr); ok {
						if key, ok := stringLit(kv.Key); ok {
							entries = append(entries, at(kv, key, readsFuncLit(kv.Value)))
						}
					}
				}
			case *ast.AssignStmt:
				if len(n.Lhs) != 1 || len(n.Rhs) != 1 {
					return true
				}
				ix, isIndex := n.Lhs[0].(*ast.IndexExpr)
				lit, isLit := n.Rhs[0].(*ast.CompositeLit)
				if !isIndex || !isLit || !isType(lit.Type, "Field") {
					return true
				}
				if key, ok := stringLit(ix.Index); ok {
					entries = append(entries, at(n, key, readsFuncLit(lit)))
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return calls, entries
}

// configName is the name under which f imports filters/config, "" if it
// does not.
func configName(f *ast.File) string {
	for _, imp := range f.Imports {
		if p, _ := strconv.Unquote(imp.Path.Value); p == configPkg {
			if imp.Name != nil {
				return imp.Name.Name
			}
			return "config"
		}
	}
	return ""
}

func stringLit(e ast.Expr) (string, bool) {
	lit, ok := e.(*ast.BasicLit)
	if !ok || lit.Kind != token.STRING {
		return "", false
	}
	s, err := strconv.Unquote(lit.Value)
	return s, err == nil
}

// readsFuncLit reports a Field literal whose Read is a function literal.
func readsFuncLit(e ast.Expr) bool {
	lit, ok := e.(*ast.CompositeLit)
	if !ok {
		return false
	}
	for _, el := range lit.Elts {
		if kv, ok := el.(*ast.KeyValueExpr); ok {
			if id, ok := kv.Key.(*ast.Ident); ok && id.Name == "Read" {
				_, isFunc := kv.Value.(*ast.FuncLit)
				return isFunc
			}
		}
	}
	return false
}

var (
	// A field row: its first cell is one path in backquotes.
	fieldRow = regexp.MustCompile("^\\| `([^`]+)` \\|")
	// "The fields of `X` are also fields of `Y`, `Z` and `W`."
	alias       = regexp.MustCompile("^The fields of `([^`]+)` are also fields of (.+)$")
	quoted      = regexp.MustCompile("`([^`]+)`")
	placeholder = regexp.MustCompile(`<[^>]*>`)
)

// named is where the reference names a field path: the line (a row's, or
// the alias line that carries a row to another place) and the row.
type named struct {
	line int
	row  string
}

// readReference returns the field paths the reference names, normalized as
// the trace normalizes them (a key the user chooses, written <provider> or
// <name>, is <>): those its tables' rows name, and those its alias lines
// carry them to.
func readReference(t *testing.T, path string) map[string]named {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	norm := func(p string) string { return placeholder.ReplaceAllString(p, config.AnyKey) }
	fields := map[string]named{}
	aliases := map[string][]string{}
	aliasLine := map[string]int{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if m := fieldRow.FindStringSubmatch(line); m != nil {
			p := norm(m[1])
			if prev, dup := fields[p]; dup {
				t.Errorf("%s:%d: %s is already named at line %d", path, n, m[1], prev.line)
			}
			fields[p] = named{n, p}
			if cells := strings.Split(strings.Trim(line, "|"), " | "); len(cells) != 4 || slices.Contains(cells, "") {
				t.Errorf("%s:%d: a field row has four cells, none empty: field, type, default, meaning", path, n)
			}
		}
		if m := alias.FindStringSubmatch(line); m != nil {
			from := norm(m[1])
			for _, q := range quoted.FindAllStringSubmatch(m[2], -1) {
				aliases[from] = append(aliases[from], norm(q[1]))
			}
			aliasLine[from] = n
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(fields) == 0 {
		t.Fatalf("%s names no field", path)
	}
	// Aliases may chain (a rule's fields are a fallback's, whose global
	// rule is also a route's): repeat until nothing is added.
	for added := true; added; {
		added = false
		for p, at := range fields {
			for from, tos := range aliases {
				rest, ok := strings.CutPrefix(p, from)
				if !ok || rest != "" && rest[0] != '.' && rest[0] != '[' {
					continue
				}
				for _, to := range tos {
					if _, seen := fields[to+rest]; !seen {
						fields[to+rest] = named{aliasLine[from], at.row}
						added = true
					}
				}
			}
		}
	}
	return fields
}
