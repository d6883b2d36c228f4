package jwt

import (
	"container/list"
	"strings"
	"time"

	"github.com/apiguard/apiguard/internal/swar"
)

// Cache remembers tokens whose signature verified, per worker, so a client
// sending the same token again costs a map lookup instead of a signature
// check. It is bounded in entries and bytes and evicts the least recently used
// entry. Only successes are cached, and a hit re-checks the times, so an entry
// never outlives its exp. Entries are found by the last bytes of the
// token's signature, which are already random, and a hit compares the whole
// token: hashing an 800-byte token costs microseconds in wasm, where the
// runtime has no AES instructions to hash with. Not safe for concurrent use
// (a proxy-wasm VM is single-threaded).
type Cache struct {
	maxEntries, maxBytes, bytes int
	order                       *list.List // front: most recently used
	byKey                       map[cacheKey]*list.Element
}

// cacheKey is a token's last 16 characters, 96 bits of its signature,
// folded into 64 (swar.Tail): an integer key, which wasm hashes in a few
// operations. Two valid tokens sharing it only evict each other; a forged
// one is never cached, and a token that shares it with a cached one is not
// it.
type cacheKey uint64

func keyOf(raw string) cacheKey { return cacheKey(swar.Tail(raw)) }

// cacheEntry is a token and the verifier it was verified by. Its size is
// entrySize(t), which changes only through grow.
type cacheEntry struct {
	v *Verifier
	t *Token
}

// entryOverhead approximates what an entry holds besides its strings: the
// Token, the list element, the map slot and the parsed claims' header.
const entryOverhead = 256

// entrySize is what keeping t costs: the raw token,
// the decoded payload the claims are read from, what callers derived from
// them (claim headers, the payload header, SetDerived's value), the index of
// its claims, and fixed overhead.
func entrySize(t *Token) int {
	return len(t.raw) + len(t.payload) + len(t.members)*memberSize + t.headersSize + t.derived.size + entryOverhead
}

// NewCache bounds the cache; zero values take 512 entries and 1 MiB,
// counting all an entry keeps alive (entrySize).
func NewCache(maxEntries, maxBytes int) *Cache {
	if maxEntries <= 0 {
		maxEntries = 512
	}
	if maxBytes <= 0 {
		maxBytes = 1 << 20
	}
	return &Cache{maxEntries: maxEntries, maxBytes: maxBytes, order: list.New(), byKey: map[cacheKey]*list.Element{}}
}

// Get returns a token v verified earlier and still within its times.
func (c *Cache) Get(v *Verifier, raw string, now time.Time) (*Token, bool) {
	el, ok := c.byKey[keyOf(raw)]
	if !ok {
		return nil, false
	}
	e := el.Value.(cacheEntry)
	if !swar.Equal(e.t.raw, raw) {
		return nil, false
	}
	if e.v != v || !v.StillValid(e.t, now) {
		c.remove(el)
		return nil, false
	}
	c.order.MoveToFront(el)
	return e.t, true
}

// Put remembers a token whose signature v verified.
func (c *Cache) Put(v *Verifier, t *Token) {
	key := keyOf(t.raw)
	if el, ok := c.byKey[key]; ok {
		c.remove(el)
	}
	size := entrySize(t)
	if size > c.maxBytes {
		return
	}
	// The raw token usually aliases the buffer the host returned every
	// request header in; keeping that alive for the entry's lifetime would
	// make memory grow with the headers, not with the tokens.
	t.raw = strings.Clone(t.raw)
	c.byKey[key] = c.order.PushFront(cacheEntry{v: v, t: t})
	t.cache = c
	c.grow(size)
}

// grow counts delta more bytes kept by the entries, and evicts the least
// recently used ones while over a bound.
func (c *Cache) grow(delta int) {
	c.bytes += delta
	for c.order.Len() > c.maxEntries || c.bytes > c.maxBytes {
		c.remove(c.order.Back())
	}
}

// Clear forgets every entry, e.g. when a provider's keys change.
func (c *Cache) Clear() {
	for el := c.order.Front(); el != nil; el = el.Next() {
		el.Value.(cacheEntry).t.cache = nil
	}
	c.order.Init()
	clear(c.byKey)
	c.bytes = 0
}

// Len is the number of entries.
func (c *Cache) Len() int { return c.order.Len() }

func (c *Cache) remove(el *list.Element) {
	e := c.order.Remove(el).(cacheEntry)
	delete(c.byKey, keyOf(e.t.raw))
	c.bytes -= entrySize(e.t)
	e.t.cache = nil
}
