package authz

import (
	"github.com/tidwall/gjson"

	"github.com/apiguard/apiguard/filters/claims"
	"github.com/apiguard/apiguard/filters/jwt"
)

// vocabulary numbers the role names, the scope names and the claim paths
// that one configuration document's conditions mention. A condition's names
// become a mask of those numbers (nameMask) when it is compiled; the names a
// token holds become a set of them (heldNames), and the claims it has at
// those paths are looked up, the first time a request with the token needs
// them, and kept with the token (jwt.Token.SetDerived) as its tokenFacts. A
// request with a cached token then decides a role or scope condition with a
// few word operations and finds a claim without walking the claims again:
// a Keycloak token's roles cost a quarter of a cached-token request when
// they were read every time. The vocabulary is the key the facts are kept
// under, so a token never shows one configuration's facts to another's
// conditions.
type vocabulary struct {
	roles, scopes, claims map[string]int
}

func newVocabulary() *vocabulary {
	return &vocabulary{roles: map[string]int{}, scopes: map[string]int{}, claims: map[string]int{}}
}

// number returns name's number in words, numbering it if it has none.
func number(words map[string]int, name string) int {
	i, ok := words[name]
	if !ok {
		i = len(words)
		words[name] = i
	}
	return i
}

// mask numbers names in words, adding those it has not seen.
func mask(words map[string]int, names []string) nameMask {
	var m nameMask
	for _, name := range names {
		i := number(words, name)
		w, bit := i/64, uint64(1)<<(i%64)
		if j := m.word(w); j >= 0 {
			m[j].bits |= bit
		} else {
			m = append(m, maskWord{i: w, bits: bit})
		}
	}
	return m
}

// nameMask is a condition's names as bits of the vocabulary's numbering: the
// words of the set that have one of them, with their bits.
type nameMask []maskWord

type maskWord struct {
	i    int
	bits uint64
}

func (m nameMask) word(i int) int {
	for j := range m {
		if m[j].i == i {
			return j
		}
	}
	return -1
}

// in reports whether set holds every name of m (all) or any.
func (m nameMask) in(set []uint64, all bool) bool {
	for _, w := range m {
		got := set[w.i] & w.bits
		if all && got != w.bits {
			return false
		}
		if !all && got != 0 {
			return true
		}
	}
	return all
}

// tokenFacts are what a token's claims say to one vocabulary's conditions,
// each part read the first time a condition needs it: the roles its
// provider's sources hold, its scopes, and its claims at the paths claim
// conditions name.
type tokenFacts struct {
	// provider names the provider whose role sources roles were read
	// from: the facts of a token another provider verified are never read.
	provider      string
	roles, scopes heldNames
	// claims are the claims looked up so far: few, as a token is used on
	// few routes, where a slot for each of the document's paths would make
	// a large document's tokens large.
	claims []claimFact
}

// heldNames are the numbered names a token holds in a list of sources,
// read in order as a condition reads them: each source's string, or the
// strings of its array (words with space_delimited), up to claims.MaxScanned.
type heldNames struct {
	// read: the sources were read.
	read bool
	// all are the names found in any source.
	all []uint64
	// overflow: a source could not be read whole (an object on its path
	// wider than claims.MaxScanned, or more strings than that). A condition
	// reads the sources in order until its names are found; one that
	// reaches that source cannot be judged. beforeOverflow are the names
	// found up to that source, itself included: a condition they do not
	// satisfy is indeterminate.
	overflow       bool
	beforeOverflow []uint64
}

// claimFact is a claim looked up at the path the vocabulary numbers n.
type claimFact struct {
	n               int
	v               gjson.Result
	found, overflow bool
}

// has reports whether the token holds every name of m (all) or any, and
// whether that cannot be judged (then held is false, and the evaluation
// denies).
func (h *heldNames) has(m nameMask, all bool) (held, indeterminate bool) {
	if h.overflow && !m.in(h.beforeOverflow, all) {
		return false, true
	}
	return m.in(h.all, all), false
}

// scopeSources are where OAuth scopes are: "scope", a space-delimited string
// (RFC 8693 section 4.2, RFC 9068), and "scp", an array (or, as some
// identity providers write it, a space-delimited string).
var scopeSources = []roleSource{{claim: claims.Pointer{"scope"}, words: true}, {claim: claims.Pointer{"scp"}, words: true}}

// tokenFacts are the facts the token keeps for the evaluation's vocabulary
// and provider, or new ones, which it keeps from then on.
func (ev *evaluation) tokenFacts() *tokenFacts {
	if ev.facts != nil {
		return ev.facts
	}
	f, ok := ev.token.Derived(ev.policy.vocab).(*tokenFacts)
	if !ok || f.provider != ev.provider {
		f = &tokenFacts{provider: ev.provider}
	}
	ev.facts = f
	return f
}

// kept tells the token its facts grew.
func (ev *evaluation) kept() {
	f := ev.facts
	ev.token.SetDerived(ev.policy.vocab, f, factsSize+f.roles.size()+f.scopes.size()+cap(f.claims)*claimFactSize)
}

// Approximate sizes of a tokenFacts with its slices' headers, and of a
// claimFact.
const factsSize, claimFactSize = 160, 112

func (h *heldNames) size() int { return 8 * (len(h.all) + len(h.beforeOverflow)) }

// roleFacts are the names the token's roles hold, read from its
// provider's role sources.
func (ev *evaluation) roleFacts() *heldNames {
	f := ev.tokenFacts()
	if !f.roles.read {
		var sources []roleSource
		for _, pr := range ev.policy.roles {
			if pr.provider == ev.provider {
				sources = pr.sources
			}
		}
		f.roles = heldIn(ev.token, sources, ev.policy.vocab.roles)
		ev.kept()
	}
	return &f.roles
}

// scopeFacts are the names the token's scopes hold.
func (ev *evaluation) scopeFacts() *heldNames {
	f := ev.tokenFacts()
	if !f.scopes.read {
		f.scopes = heldIn(ev.token, scopeSources, ev.policy.vocab.scopes)
		ev.kept()
	}
	return &f.scopes
}

// heldIn finds the numbered names among the strings of sources.
func heldIn(tok *jwt.Token, sources []roleSource, words map[string]int) heldNames {
	h := heldNames{read: true, all: make([]uint64, (len(words)+63)/64)}
	for _, src := range sources {
		v, found, overflow := src.claim.Lookup(tok)
		if found {
			it := claims.NewStrings(v, src.words)
			for s, ok := it.Next(); ok; s, ok = it.Next() {
				if i, ok := words[s]; ok {
					h.all[i/64] |= 1 << (i % 64)
				}
			}
			overflow = it.Overflow
		}
		if overflow && !h.overflow {
			h.overflow, h.beforeOverflow = true, append([]uint64(nil), h.all...)
		}
	}
	return h
}

// claim is the token's claim at a claim condition's path, looked up the
// first time; an object too wide to search on the way makes the
// evaluation indeterminate.
func (ev *evaluation) claim(c *cond) (*gjson.Result, bool) {
	f := ev.tokenFacts()
	i := 0
	for i < len(f.claims) && f.claims[i].n != c.claimNo {
		i++
	}
	if i == len(f.claims) {
		v, found, overflow := c.claim.Lookup(ev.token)
		f.claims = append(f.claims, claimFact{n: c.claimNo, v: v, found: found, overflow: overflow})
		ev.kept()
	}
	cf := &f.claims[i]
	ev.indeterminate = ev.indeterminate || cf.overflow
	return &cf.v, cf.found
}
