package config

import (
	"slices"
	"strconv"
	"unsafe"

	"github.com/tidwall/gjson"
)

// doc is the document a Reader parsed, with where each of its objects and
// arrays ends, which the syntax check finds on its way. gjson finds the end
// of a nested value by scanning it: walking an object member by member scans
// each member whole, and reading that member scans it again, so the bytes of
// a route, four levels down, were scanned five times. With the ends known,
// a walk scans only keys and scalars, and jumps over objects and arrays.
type doc struct {
	json string
	// bytes are json's, never written: the syntax check's scanners find
	// where the document's strings and numbers end for the walk too.
	bytes []byte
	// starts are the offsets of the containers' opening brackets, in
	// document order; boxes[k] is the rest of what is known of container k.
	starts []int32
	boxes  []box
	open   []int32 // while checking: the containers not yet closed
	// last is the container each last yielded: the one a reader walks
	// next, nearly always, so container finds it without a search.
	last int
}

// box is where one object or array of the document ends: the offset
// after its closing bracket, and the first container after it (len(boxes)
// if none).
type box struct{ end, next int32 }

// bytesPerBox is the fewest bytes of document per container that the
// index is first sized for: a policy's routes have a container every 24
// to 32 bytes, and configure for 1,000 of them indexes thousands, which
// lists grown from empty copied ten times. A denser document grows them.
const bytesPerBox = 16

// newDoc is the document of raw, which it keeps, its index sized for it.
func newDoc(raw []byte) doc {
	n := len(raw)/bytesPerBox + 8
	return doc{json: unsafe.String(unsafe.SliceData(raw), len(raw)), bytes: raw,
		starts: make([]int32, 0, n), boxes: make([]box, 0, n)}
}

func (d *doc) opened(i int) {
	d.open = append(d.open, int32(len(d.boxes)))
	d.starts = append(d.starts, int32(i))
	d.boxes = append(d.boxes, box{})
}

func (d *doc) closed(i int) {
	k := d.open[len(d.open)-1]
	d.open = d.open[:len(d.open)-1]
	d.boxes[k].end, d.boxes[k].next = int32(i+1), int32(len(d.boxes))
}

// container is the index of v's object or array, if v is one of the
// document's and not a copy or a value from elsewhere.
func (d *doc) container(v gjson.Result) (int, bool) {
	if v.Type != gjson.JSON || len(v.Raw) == 0 || v.Index < 0 || v.Index+len(v.Raw) > len(d.json) ||
		unsafe.StringData(v.Raw) != unsafe.StringData(d.json[v.Index:]) {
		return 0, false
	}
	k := d.last
	if k >= len(d.starts) || int(d.starts[k]) != v.Index {
		var found bool
		if k, found = slices.BinarySearch(d.starts, int32(v.Index)); !found {
			return 0, false
		}
	}
	// The root's Raw runs to the end of the document, spaces included
	// (gjson.Parse).
	if end := v.Index + len(v.Raw); int(d.boxes[k].end) != end && (k != 0 || end != len(d.json)) {
		return 0, false
	}
	return k, true
}

// each calls fn for every member of container k, with its key ("" in an
// array), as gjson's ForEach would give them, until fn returns false.
func (d *doc) each(k int, fn func(key string, v gjson.Result) bool) {
	json, bytes := d.json, d.bytes
	i, end := int(d.starts[k])+1, int(d.boxes[k].end)-1
	object := json[i-1] == '{'
	child := k + 1
	for {
		for i < end && (json[i] <= ' ' || json[i] == ',') {
			i++
		}
		if i >= end {
			return
		}
		var key string
		if object {
			j, escaped, _ := scanString(bytes, i+1)
			key, i = unquote(json[i:j], escaped), j
			for json[i] <= ' ' || json[i] == ':' {
				i++
			}
		}
		v := gjson.Result{Index: i}
		switch c := json[i]; c {
		case '{', '[':
			v.Type, v.Raw = gjson.JSON, json[i:d.boxes[child].end]
			d.last, child = child, int(d.boxes[child].next)
		case '"':
			j, escaped, _ := scanString(bytes, i+1)
			v.Type, v.Raw = gjson.String, json[i:j]
			v.Str = unquote(v.Raw, escaped)
		case 't':
			v.Type, v.Raw = gjson.True, json[i:i+4]
		case 'f':
			v.Type, v.Raw = gjson.False, json[i:i+5]
		case 'n':
			v.Type, v.Raw = gjson.Null, json[i:i+4]
		default:
			j, _ := scanNumber(bytes, i)
			v.Type, v.Raw = gjson.Number, json[i:j]
			v.Num, _ = strconv.ParseFloat(v.Raw, 64)
		}
		i += len(v.Raw)
		if !fn(key, v) {
			return
		}
	}
}

// unquote is the value of a quoted JSON string: its bytes if it has no
// escapes (scanString says, which spares a search for a backslash in each
// string, a call that costs hundreds of instructions in wasm), else decoded
// by gjson.
func unquote(raw string, escaped bool) string {
	if !escaped {
		return raw[1 : len(raw)-1]
	}
	return gjson.Parse(raw).Str
}
