package ratelimit

import (
	"encoding/binary"
	"errors"
	"math"
	"math/bits"
	"math/rand/v2"
	"strconv"
	"sync/atomic"

	"github.com/dchest/siphash"

	"github.com/apiguard/apiguard/filters/stage"
)

// The slot table. Envoy's shared data has no delete and no expiry, so a
// rule never writes a key per client: it owns a fixed table of Slots
// entries, "apiguard.ratelimit.<rule>.<slot>", each 16 bytes: a key's
// fingerprint and its TAT. A request's key is hashed, with a secret chosen
// at the proxy's start, into a slot number and a fingerprint.
//
// Memory per rule is at most Slots × (len of the entry's name + 16) bytes
// of shared data, plus the host's own bookkeeping per entry, whatever the
// number of clients.
//
// What a collision does: a key finding its own fingerprint has its exact
// state. A key finding another's fingerprint takes the slot over when that
// state is idle (its TAT at or before now: a state equal to a fresh one,
// so nothing is lost), and otherwise shares it: it is limited by the sum of
// both keys' requests, as one client. A collision can therefore only make a
// limit stricter, never let a request through that the key's own bucket
// would refuse. The secret keeps clients from choosing keys that land on a
// victim's slot; a client with many keys (addresses, API keys) still fills
// slots at random, so size Slots above the number of keys active within
// one burst's refill time.
const slotValueSize = 16

// slotPrefix starts every entry's name: Istio gives all WasmPlugins one
// shared-data table.
const slotPrefix = "apiguard.ratelimit."

// seedKey names the per-start secret every worker reads.
const seedKey = slotPrefix + "seed"

// slot is a key's place in a rule's table.
type slot struct {
	index       uint64
	fingerprint uint64
}

// keyHash hashes a key's parts with SipHash-2-4 (a keyed PRF made for
// this: an attacker who does not know the secret cannot find keys that
// collide) into a slot and a fingerprint. Parts are length-prefixed and
// tagged by kind, so that "a"+"bc" and "ab"+"c", or a user named like an
// address, never meet. The parts are gathered in a buffer on the stack for
// the usual short keys.
type keyHash struct {
	b   []byte
	arr [192]byte
}

func (h *keyHash) reset(rule string) {
	h.b = h.arr[:0]
	h.part(0, rule)
}

func (h *keyHash) part(kind byte, v string) {
	h.b = append(h.b, kind)
	h.b = binary.BigEndian.AppendUint32(h.b, uint32(len(v)))
	h.b = append(h.b, v...)
}

func (h *keyHash) bytes(kind byte, v []byte) {
	h.b = append(h.b, kind)
	h.b = binary.BigEndian.AppendUint32(h.b, uint32(len(v)))
	h.b = append(h.b, v...)
}

func (h *keyHash) slot(seed *[16]byte, slots uint64) slot {
	a, b := siphash.Hash128(binary.LittleEndian.Uint64(seed[:8]), binary.LittleEndian.Uint64(seed[8:]), h.b)
	clear(h.b) // header values (API keys) do not outlive the request
	hi, _ := bits.Mul64(a, slots)
	return slot{index: hi, fingerprint: b}
}

func encodeSlot(fingerprint uint64, tat int64) [slotValueSize]byte {
	var b [slotValueSize]byte
	binary.BigEndian.PutUint64(b[:8], fingerprint)
	binary.BigEndian.PutUint64(b[8:], uint64(tat))
	return b
}

func decodeSlot(b []byte) (fingerprint uint64, tat int64, ok bool) {
	if len(b) != slotValueSize {
		return 0, 0, false
	}
	return binary.BigEndian.Uint64(b[:8]), int64(binary.BigEndian.Uint64(b[8:])), true
}

// appendSlotName appends a slot's shared-data key to b.
func appendSlotName(b []byte, prefix string, index uint64) []byte {
	return strconv.AppendUint(append(b, prefix...), index, 10)
}

// seeds caches the secret per host: every worker (one host each in the
// proxy; simulated ones may share one in tests) reads it once.
type seeds struct {
	cur atomic.Pointer[seeded]
}

type seeded struct {
	host stage.Host
	key  [16]byte
}

// createOnly is the version a first writer passes: on an absent key any
// non-zero version creates it, and a racing worker's write then mismatches,
// as no entry has that version (the process-wide counter would have to
// reach exactly it).
const createOnly = math.MaxUint32

// get returns the secret every worker of h uses: the one in shared data,
// or a new random one that this worker writes first. Every worker reads
// the stored one back, so a lost race adopts the winner's.
func (s *seeds) get(h stage.Host) (*[16]byte, error) {
	if c := s.cur.Load(); c != nil && c.host == h {
		return &c.key, nil
	}
	for range maxCASTries {
		v, _, err := h.SharedData(seedKey)
		if err == nil && len(v) == 16 {
			c := &seeded{host: h}
			copy(c.key[:], v)
			s.cur.Store(c)
			return &c.key, nil
		}
		if err != nil && !errors.Is(err, stage.ErrNotFound) {
			return nil, err
		}
		// Not crypto/rand: its first use arms a one-minute timer, which
		// starts Go's netpoller in wasm, and every later garbage
		// collection then calls poll_oneoff, which Envoy 1.33 to 1.38
		// answer with ENOSYS: a fatal error. math/rand/v2's top-level
		// generator is the runtime's ChaCha8, seeded from the host's
		// random_get.
		var fresh [16]byte
		for i := 0; i < len(fresh); i += 8 {
			binary.BigEndian.PutUint64(fresh[i:], rand.Uint64())
		}
		if err := h.SetSharedData(seedKey, fresh[:], createOnly); err != nil && !errors.Is(err, stage.ErrCASMismatch) {
			return nil, err
		}
	}
	return nil, errors.New("no rate-limit secret after retries")
}
