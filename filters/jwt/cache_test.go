package jwt

import (
	"fmt"
	"testing"
	"time"

	"github.com/apiguard/apiguard/filters/jwt/jwttest"
)

func checked(t *testing.T, v *Verifier, raw string) *Token {
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
	byBytes := NewCache(100, 2*len(raws[0]))
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
