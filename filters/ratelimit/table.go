package ratelimit

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"math"
	"math/bits"
	"strconv"
	"sync/atomic"

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

// hasher hashes key parts with the shared secret. Parts are length-prefixed
// and tagged by kind, so that "a"+"bc" and "ab"+"c", or a user named like an
// address, never meet.
type hasher struct {
	h   [sha256.Size]byte
	buf []byte
}

func newHasher(seed *[32]byte, rule string) *hasher {
	h := &hasher{buf: make([]byte, 0, 128)}
	h.buf = append(h.buf, seed[:]...)
	h.part(0, rule)
	return h
}

func (h *hasher) part(kind byte, v string) {
	h.buf = append(h.buf, kind)
	h.buf = binary.BigEndian.AppendUint32(h.buf, uint32(len(v)))
	h.buf = append(h.buf, v...)
}

func (h *hasher) slot(slots uint64) slot {
	h.h = sha256.Sum256(h.buf)
	clear(h.buf) // header values (API keys) do not outlive the request
	hi, _ := bits.Mul64(binary.BigEndian.Uint64(h.h[:8]), slots)
	return slot{index: hi, fingerprint: binary.BigEndian.Uint64(h.h[8:16])}
}

func encodeSlot(fingerprint uint64, tat int64) []byte {
	var b [slotValueSize]byte
	binary.BigEndian.PutUint64(b[:8], fingerprint)
	binary.BigEndian.PutUint64(b[8:], uint64(tat))
	return b[:]
}

func decodeSlot(b []byte) (fingerprint uint64, tat int64, ok bool) {
	if len(b) != slotValueSize {
		return 0, 0, false
	}
	return binary.BigEndian.Uint64(b[:8]), int64(binary.BigEndian.Uint64(b[8:])), true
}

// slotName is a slot's shared-data key.
func slotName(prefix string, index uint64) string {
	var b [64]byte
	return string(strconv.AppendUint(append(b[:0], prefix...), index, 10))
}

// seeds caches the secret per host: every worker (one host each in the
// proxy; simulated ones may share one in tests) reads it once.
type seeds struct {
	cur atomic.Pointer[seeded]
}

type seeded struct {
	host stage.Host
	key  [32]byte
}

// createOnly is the version a first writer passes: on an absent key any
// non-zero version creates it, and a racing worker's write then mismatches,
// as no entry has that version (the process-wide counter would have to
// reach exactly it).
const createOnly = math.MaxUint32

// get returns the secret every worker of h uses: the one in shared data,
// or a new random one that this worker writes first. Every worker reads
// the stored one back, so a lost race adopts the winner's.
func (s *seeds) get(h stage.Host) (*[32]byte, error) {
	if c := s.cur.Load(); c != nil && c.host == h {
		return &c.key, nil
	}
	for range maxCASTries {
		v, _, err := h.SharedData(seedKey)
		if err == nil && len(v) == 32 {
			c := &seeded{host: h}
			copy(c.key[:], v)
			s.cur.Store(c)
			return &c.key, nil
		}
		if err != nil && !errors.Is(err, stage.ErrNotFound) {
			return nil, err
		}
		var fresh [32]byte
		if _, err := rand.Read(fresh[:]); err != nil {
			return nil, err
		}
		if err := h.SetSharedData(seedKey, fresh[:], createOnly); err != nil && !errors.Is(err, stage.ErrCASMismatch) {
			return nil, err
		}
	}
	return nil, errors.New("no rate-limit secret after retries")
}
