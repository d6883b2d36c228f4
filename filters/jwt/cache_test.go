package jwt

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/apiguard/apiguard/internal/testkit/jwttest"
)

func checked(t testing.TB, v *Verifier, raw string) *Token {
	t.Helper()
	tok, d := v.Check(raw, now)
	if d.Denied() {
		t.Fatal(d)
	}
	return tok
}

func TestCacheHitsUntilExpiry(t *testing.T) {
	v := newVerifier(t)
	raw := testKeys()["HS256"].Token(jwttest.Claims(issuer, audience, now.Unix()+10))
	c := NewCache(0, 0)
	c.Put(v, checked(t, v, raw))
	if _, ok := c.Get(v, raw, now); !ok {
		t.Fatal("miss right after Put")
	}
	// exp + the 60 s skew is the last moment the token is accepted at all.
	if _, ok := c.Get(v, raw, now.Add(69*time.Second)); !ok {
		t.Fatal("miss within exp + skew")
	}
	if _, ok := c.Get(v, raw, now.Add(70*time.Second)); ok || c.Len() != 0 {
		t.Fatal("an entry outlived its exp")
	}
}

func TestCacheIsPerVerifier(t *testing.T) {
	v1, v2 := newVerifier(t), newVerifier(t)
	raw := testKeys()["HS256"].Token(claims())
	c := NewCache(0, 0)
	c.Put(v1, checked(t, v1, raw))
	if _, ok := c.Get(v2, raw, now); ok {
		t.Fatal("a token verified for one provider was served to another")
	}
}

func TestCacheEvictsLeastRecentlyUsed(t *testing.T) {
	v := newVerifier(t)
	var raws []string
	for i := 0; i < 4; i++ {
		raws = append(raws, testKeys()["HS256"].Token(claims("n", fmt.Sprint(i))))
	}
	c := NewCache(3, 0)
	for _, r := range raws[:3] {
		c.Put(v, checked(t, v, r))
	}
	c.Get(v, raws[0], now) // 1 is now the least recently used
	c.Put(v, checked(t, v, raws[3]))
	if _, ok := c.Get(v, raws[1], now); ok {
		t.Error("least recently used entry kept")
	}
	for _, i := range []int{0, 2, 3} {
		if _, ok := c.Get(v, raws[i], now); !ok {
			t.Errorf("entry %d evicted", i)
		}
	}
	byBytes := NewCache(100, 2*entrySize(checked(t, v, raws[0])))
	for _, r := range raws {
		byBytes.Put(v, checked(t, v, r))
	}
	if byBytes.Len() != 2 {
		t.Errorf("%d entries in a cache bounded to two tokens' bytes", byBytes.Len())
	}
	byBytes.Clear()
	if byBytes.Len() != 0 {
		t.Error("Clear left entries")
	}
}

// TestCacheCountsWhatEntriesHold: the byte bound covers the decoded payload
// and what the caller derived (a payload header is 4/3 of the payload), not
// only the raw token, so a bound of N bytes keeps about N bytes alive.
func TestCacheCountsWhatEntriesHold(t *testing.T) {
	v := newVerifier(t)
	pad := fmt.Sprintf("%q", strings.Repeat("x", 3000))
	var toks []*Token
	for i := 0; i < 8; i++ {
		tok := checked(t, v, testKeys()["HS256"].Token(claims("n", fmt.Sprint(i), "pad", pad)))
		tok.SetClaimHeaders(&ClaimHeaders{Set: [][2]string{{"x-payload", strings.Repeat("e", 4*len(tok.payload)/3)}}}) // a payload header's base64
		toks = append(toks, tok)
	}
	one := entrySize(toks[0])
	if raw := len(toks[0].raw); one < raw+len(toks[0].payload)+4*len(toks[0].payload)/3 {
		t.Fatalf("entry of %d bytes counted as %d", raw, one)
	}
	c := NewCache(100, 4*one)
	for _, tok := range toks {
		c.Put(v, tok)
	}
	if c.Len() != 4 || c.bytes > c.maxBytes {
		t.Errorf("%d entries, %d bytes counted, in a cache bounded to four entries (%d bytes)", c.Len(), c.bytes, c.maxBytes)
	}
	for c.Len() > 0 {
		c.remove(c.order.Back())
	}
	if c.bytes != 0 {
		t.Errorf("%d bytes counted in an empty cache", c.bytes)
	}
}

// TestDerivedDataCountsAgainstTheCache: what a stage keeps with a cached
// token (SetDerived), after Put, counts against the byte bound and evicts
// to stay within it; it is found only under its key; a token the cache no
// longer holds keeps its value without touching the cache's count.
func TestDerivedDataCountsAgainstTheCache(t *testing.T) {
	v := newVerifier(t)
	var toks []*Token
	for i := 0; i < 3; i++ {
		toks = append(toks, checked(t, v, testKeys()["HS256"].Token(claims("n", fmt.Sprint(i)))))
	}
	one := entrySize(toks[0])
	c := NewCache(100, 3*one+100)
	for _, tok := range toks {
		c.Put(v, tok)
	}
	type key struct{ name string }
	mine, theirs := &key{"mine"}, &key{"theirs"}
	toks[2].SetDerived(mine, "value", 50)
	if got := toks[2].Derived(mine); got != "value" || toks[2].Derived(theirs) != nil || toks[1].Derived(mine) != nil {
		t.Fatalf("Derived: %v under its key, %v under another, %v on another token", got, toks[2].Derived(theirs), toks[1].Derived(mine))
	}
	if c.Len() != 3 || c.bytes != 3*one+50 {
		t.Fatalf("%d entries, %d bytes after 50 derived, want 3 and %d", c.Len(), c.bytes, 3*one+50)
	}
	toks[2].SetDerived(theirs, "other", 80) // replaces mine's, 30 bytes more
	if toks[2].Derived(mine) != nil || c.bytes != 3*one+80 {
		t.Fatalf("replaced value: mine %v, %d bytes, want %d", toks[2].Derived(mine), c.bytes, 3*one+80)
	}
	toks[2].SetDerived(theirs, "bigger", 200) // over the bound: the least recently used goes
	if _, ok := c.Get(v, toks[0].raw, now); ok || c.Len() != 2 || c.bytes != 2*one+200 {
		t.Fatalf("%d entries, %d bytes; want the first evicted, 2 entries and %d bytes", c.Len(), c.bytes, 2*one+200)
	}
	toks[0].SetDerived(mine, "after eviction", 1000)
	if c.bytes != 2*one+200 || toks[0].Derived(mine) != "after eviction" {
		t.Fatalf("an evicted token's value counted: %d bytes, want %d", c.bytes, 2*one+200)
	}
	toks[1].SetDerived(mine, "too big", 3*one) // the least recently used entry, now over the bound alone
	if _, ok := c.Get(v, toks[1].raw, now); ok || c.Len() != 1 || c.bytes != entrySize(toks[2]) {
		t.Fatalf("%d entries, %d bytes; want the grown entry evicted, the other kept (%d bytes)", c.Len(), c.bytes, entrySize(toks[2]))
	}
	c.Clear()
	toks[2].SetDerived(mine, "after Clear", 10)
	if c.bytes != 0 || c.Len() != 0 {
		t.Fatalf("%d bytes, %d entries after Clear", c.bytes, c.Len())
	}
}

// BenchmarkCacheGet is a hit on a cache of 512 tokens of about 800 bytes,
// the size of a typical access token.
func BenchmarkCacheGet(b *testing.B) {
	v := newVerifier(b)
	c := NewCache(0, 0)
	pad := fmt.Sprintf("%q", strings.Repeat("x", 500))
	var raws []string
	for i := range 512 {
		raw := testKeys()["HS256"].Token(claims("n", fmt.Sprint(i), "pad", pad))
		c.Put(v, checked(b, v, raw))
		raws = append(raws, raw)
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, ok := c.Get(v, raws[i%len(raws)], now); !ok {
			b.Fatal("miss")
		}
	}
}

// TestCacheComparesWholeTokens: a token that ends like a cached one (the
// cache's key) is not that token: no hit, and the cached one stays.
func TestCacheComparesWholeTokens(t *testing.T) {
	v := newVerifier(t)
	raw := testKeys()["HS256"].Token(claims())
	c := NewCache(0, 0)
	c.Put(v, checked(t, v, raw))
	lookalike := "x" + raw[1:]
	if _, ok := c.Get(v, lookalike, now); ok {
		t.Fatal("a different token with the same ending hit")
	}
	if _, ok := c.Get(v, raw, now); !ok {
		t.Fatal("the cached token was lost")
	}
}
