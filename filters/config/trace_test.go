package config

import (
	"reflect"
	"regexp"
	"runtime"
	"strconv"
	"strings"

	"github.com/tidwall/gjson"
)

// Placeholders of normalized field paths: every element of an array, and
// every key the user chooses (a provider's name, a host pattern, a header).
const (
	element = "[]"
	AnyKey  = "<>"
)

// Recording is what the parser did while the trace was on.
type Recording struct {
	// Fields are the normalized paths of every field the parser knows in
	// the objects it read (routes[].match.path), and of the entries of
	// every map it walked (providers.<>), each with the Object or EachKey
	// calls that name it. A value inside a structure that contains itself
	// (a condition nested in a condition) counts as the outermost one.
	Fields map[string][]Site
	// Calls are the Object and EachKey calls reached.
	Calls map[Site]bool
	// Reads are the Read functions of the fields of every object read:
	// which key, and where the function is defined.
	Reads []Read
	// Problems are paths the trace could not normalize: an object read at
	// a path that no traced object, map or array led to.
	Problems []string
	// Normalized maps the concrete path of every value the trace met
	// (routes[1].match) to its normalized path (routes[].match).
	Normalized map[string]string
}

// Site is a place in the source.
type Site struct {
	File string
	Line int
}

// Read is one field's Read function.
type Read struct {
	Key string
	At  Site
}

// Trace runs read (which calls the parser) with the trace on. It must not
// run concurrently with any other reading of a configuration.
func Trace(read func()) *Recording {
	t := &tracer{
		nodes: map[string]*node{},
		rec:   &Recording{Fields: map[string][]Site{}, Calls: map[Site]bool{}},
	}
	trace = t
	defer func() { trace = nil }()
	read()
	t.rec.Normalized = map[string]string{}
	for path, n := range t.nodes {
		t.rec.Normalized[path] = n.field
	}
	return t.rec
}

type tracer struct {
	// nodes are the values met so far, by concrete path
	// (routes[2].match), each created by its parent when the parent was
	// read: the only place that knows which part of a path is one key.
	nodes map[string]*node
	rec   *Recording
}

type node struct {
	// field is the value's normalized path as its parent names it;
	// norm, the path its own fields are under: the same, unless the value
	// is a structure nested in itself (below).
	field, norm string
	parent      *node
	// read is the Object or EachKey call that read this value, if one did.
	read Site
}

var index = regexp.MustCompile(`\[[0-9]+\]`)

// node returns the value at path. A path no traced parent led to is only
// right for a top-level section, which the pipeline reads before the
// document's frame; anything deeper could hide a key the user chose.
func (t *tracer) node(path string) *node {
	if n, ok := t.nodes[path]; ok {
		return n
	}
	if strings.ContainsAny(path, ".[") {
		t.rec.Problems = append(t.rec.Problems, path)
	}
	norm := index.ReplaceAllString(path, element)
	n := &node{field: norm, norm: norm}
	t.nodes[path] = n
	return n
}

func (t *tracer) child(parent *node, path, norm string) {
	if _, ok := t.nodes[path]; !ok {
		t.nodes[path] = &node{field: norm, norm: norm, parent: parent}
	}
}

// read marks n as read by the call at site. A value inside a structure that
// contains itself (a condition nested in a condition) has its fields under
// the path of the outermost value that call read: what the parser knows of
// them is known there, and the set of paths stays finite.
func read(n *node, site Site) {
	n.read = site
	for a := n.parent; a != nil; a = a.parent {
		if a.read == site {
			n.norm = a.norm
		}
	}
}

// caller is where the parser was called from: the first frame outside this
// package, however the Reader's methods call one another.
func caller() Site {
	pcs := make([]uintptr, 32)
	frames := runtime.CallersFrames(pcs[:runtime.Callers(2, pcs)])
	for {
		f, more := frames.Next()
		if !strings.HasPrefix(f.Function, self) || !more {
			return Site{f.File, f.Line}
		}
	}
}

// self prefixes the names of this package's functions and methods.
var self = reflect.TypeFor[Reader]().PkgPath() + "."

func (t *tracer) object(path string, keys []string, reads []func(string, gjson.Result)) {
	n := t.node(path)
	read(n, caller())
	t.rec.Calls[n.read] = true
	for i, key := range keys {
		fn := runtime.FuncForPC(reflect.ValueOf(reads[i]).Pointer())
		file, line := fn.FileLine(fn.Entry())
		t.rec.Reads = append(t.rec.Reads, Read{key, Site{file, line}})
		field := Join(n.norm, key)
		t.child(n, Join(path, key), field)
		t.rec.Fields[field] = append(t.rec.Fields[field], n.read)
	}
}

func (t *tracer) keys(path string, v gjson.Result) {
	n := t.node(path)
	read(n, caller())
	t.rec.Calls[n.read] = true
	entry := n.norm + "." + AnyKey
	v.ForEach(func(k, _ gjson.Result) bool {
		t.child(n, Join(path, k.String()), entry)
		return true
	})
	t.rec.Fields[entry] = append(t.rec.Fields[entry], n.read)
}

// elements names the elements of an array. An array no traced parent led
// to is inside a value the parser does not read field by field (a JSON
// Schema): it holds no configuration fields.
func (t *tracer) elements(path string, v gjson.Result) {
	n, ok := t.nodes[path]
	if !ok {
		return
	}
	for i := range v.Array() {
		t.child(n, path+"["+strconv.Itoa(i)+"]", n.norm+element)
	}
}
