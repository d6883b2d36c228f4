package main

import (
	"errors"
	"strconv"

	"github.com/apiguard/apiguard/filters/stage"
)

// applyEdits makes the pipeline's edits to the request headers, m being
// the map as the phase read it. A failure fails the stream closed: a
// spoofed claim header left in place, or a path other than the one
// authorized, must never reach the upstream.
func applyEdits(e *stage.Edits, m *headerMap) error {
	if err := editHeaders(e, m, removeRequestHeader, replaceRequestHeader); err != nil {
		return err
	}
	if e.Path != "" {
		return replaceRequestHeader(":path", e.Path)
	}
	return nil
}

// minEditsToRead is how many response edits make reading the response's
// headers first worth a host call: each edit the map makes pointless is a
// host call saved (editHeaders).
const minEditsToRead = 3

// applyResponseEdits makes the response-headers phase's edits, m being the
// response's map. A failure fails the stream closed, as on the request: a
// response missing the headers a stage hardens it with must not reach the
// client.
func applyResponseEdits(e *stage.Edits, m *headerMap) error {
	if e.Path != "" {
		return errors.New("a response has no :path")
	}
	if len(e.Remove)+len(e.Set) >= minEditsToRead {
		m.load()
	}
	return editHeaders(e, m, removeResponseHeader, replaceResponseHeader)
}

// editHeaders removes, then sets, the headers e names, through the host
// calls of one header map; it stops at the first call that fails. Where m
// holds the map as it is (read; nil or unread: unknown), a call that would
// change nothing is not made: removing a header the map lacks, or setting
// one the map has once with that value and that e does not remove: most of
// what hardening removes is absent from a response, and apiguard's own
// replies already carry some of what it sets.
func editHeaders(e *stage.Edits, m *headerMap, remove func(string) error, replace func(string, string) error) error {
	var current [][2]string
	var lengths nameLengths
	known := m != nil && m.read && m.err == nil
	if known {
		current = m.pairs
		lengths = lengthsOf(current)
	}
	for _, name := range e.Remove {
		if known && (!lengths.mayHave(name) || !hasHeader(current, name)) {
			continue
		}
		if err := remove(name); err != nil {
			return err
		}
	}
	for i := range e.Set {
		kv := &e.Set[i]
		if known && lengths.mayHave(kv[0]) && hasOnly(current, kv) && !removes(e, kv[0]) {
			continue
		}
		if err := replace(kv[0], kv[1]); err != nil {
			return err
		}
	}
	return nil
}

// nameLengths has bit len(name)%64 set for every name a list of headers
// may hold: a name whose bit is clear is absent, without a scan. Most of
// what hardening removes and sets is absent from a response, and few of
// its names share a length with the response's; in wasm, the scans of
// every edit cost more than the host calls they save.
type nameLengths uint64

func lengthsOf(headers [][2]string) nameLengths {
	var l nameLengths
	for i := range headers {
		l.add(headers[i][0])
	}
	return l
}

func (l *nameLengths) add(name string) { *l |= 1 << (len(name) % 64) }

func (l nameLengths) mayHave(name string) bool { return l&(1<<(len(name)%64)) != 0 }

// hasHeader reports whether headers has an entry named name. Plain loops,
// by index, here and below: in wasm, a closure per comparison, or a copy of
// each pair (a call), costs more than the comparison.
func hasHeader(headers [][2]string, name string) bool {
	for i := range headers {
		if headers[i][0] == name {
			return true
		}
	}
	return false
}

// removes reports whether e removes the header name.
func removes(e *stage.Edits, name string) bool {
	for _, r := range e.Remove {
		if r == name {
			return true
		}
	}
	return false
}

// hasOnly reports whether kv is the one entry of its name in headers.
func hasOnly(headers [][2]string, kv *[2]string) bool {
	n := 0
	for i := range headers {
		h := &headers[i]
		if h[0] == kv[0] {
			if h[1] != kv[1] {
				return false
			}
			n++
		}
	}
	return n == 1
}

// editPairs makes e's edits to headers, a reply's own list, as the host's
// calls would make them to its map: each removed name's entries go, then
// each set replaces every entry of its name with one at the end (Envoy's
// setCopy).
func editPairs(headers [][2]string, e *stage.Edits) [][2]string {
	lengths := lengthsOf(headers)
	for _, name := range e.Remove {
		if lengths.mayHave(name) {
			headers = without(headers, name)
		}
	}
	for i := range e.Set {
		kv := &e.Set[i]
		if lengths.mayHave(kv[0]) {
			headers = without(headers, kv[0])
		} else {
			lengths.add(kv[0])
		}
		headers = appendPair(headers, kv[0], kv[1])
	}
	return headers
}

// without removes the entries named name from headers, in place; most of
// what hardening sets is absent from a reply, and a list without the name
// is left unwritten (each write of a string pair costs write barriers).
func without(headers [][2]string, name string) [][2]string {
	first := -1
	for i := range headers {
		if headers[i][0] == name {
			first = i
			break
		}
	}
	if first < 0 {
		return headers
	}
	n := first
	for i := first + 1; i < len(headers); i++ {
		if headers[i][0] != name {
			headers[n][0], headers[n][1] = headers[i][0], headers[i][1]
			n++
		}
	}
	clear(headers[n:])
	return headers[:n]
}

// statusCode is a status as the :status header carries it, without an
// allocation for the statuses apiguard answers with.
func statusCode(status int) string {
	switch status {
	case 204:
		return "204"
	case 400:
		return "400"
	case 401:
		return "401"
	case 403:
		return "403"
	case 404:
		return "404"
	case 405:
		return "405"
	case 429:
		return "429"
	case 500:
		return "500"
	case 503:
		return "503"
	}
	return strconv.Itoa(status)
}
