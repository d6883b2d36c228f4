package wasmbin

import (
	"bytes"
	"math"
	"testing"
)

func TestLEB128RoundTrips(t *testing.T) {
	for _, v := range []int32{0, 1, 63, 64, 127, 128, 8191, 8192, -1, -64, -65, math.MaxInt32, math.MinInt32} {
		r := Reader{B: AppendS32(nil, v)}
		if got := r.S32(); got != int(v) || r.Err != nil || r.Off != len(r.B) {
			t.Errorf("s32 %d: read %d (%v), %d of %d bytes", v, got, r.Err, r.Off, len(r.B))
		}
	}
	for _, v := range []uint32{0, 1, 127, 128, 16383, 16384, math.MaxUint32} {
		r := Reader{B: AppendU32(nil, v)}
		if got := r.U32(); got != int(v) || r.Err != nil || r.Off != len(r.B) {
			t.Errorf("u32 %d: read %d (%v), %d of %d bytes", v, got, r.Err, r.Off, len(r.B))
		}
	}
}

// TestSegmentsRoundTrip: a data section written by EncodeSegments reads
// back as the same segments, and lays out the memory they describe.
func TestSegmentsRoundTrip(t *testing.T) {
	segs := []Segment{{At: 16, Data: []byte("go")}, {At: 0x10000, Data: []byte{1, 2, 3}}, {At: 4, Data: nil}}
	got, err := Segments(EncodeSegments(segs))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(segs) {
		t.Fatalf("%d segments, want %d", len(got), len(segs))
	}
	for i := range segs {
		if got[i].At != segs[i].At || !bytes.Equal(got[i].Data, segs[i].Data) {
			t.Errorf("segment %d: %+v, want %+v", i, got[i], segs[i])
		}
	}
	image := Image(got)
	if len(image) != 0x10003 || string(image[16:18]) != "go" || image[0x10002] != 3 {
		t.Errorf("image of %d bytes: %q at 16, %d at 0x10002", len(image), image[16:18], image[0x10002])
	}
}

// FuzzSegments: any bytes decode to segments or an error, never a panic,
// and what decodes encodes back to a section that decodes the same.
func FuzzSegments(f *testing.F) {
	f.Add(EncodeSegments([]Segment{{At: 8, Data: []byte("abc")}}))
	f.Add([]byte{1, 0, 0x41, 0x7f, 0x0b, 1, 0})
	f.Add([]byte{2, 1, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		segs, err := Segments(b)
		if err != nil {
			return
		}
		again, err := Segments(EncodeSegments(segs))
		if err != nil || len(again) != len(segs) {
			t.Fatalf("re-encoded: %d segments, %v; want %d", len(again), err, len(segs))
		}
		for i := range segs {
			if again[i].At != segs[i].At || !bytes.Equal(again[i].Data, segs[i].Data) {
				t.Fatalf("segment %d: %+v, want %+v", i, again[i], segs[i])
			}
		}
	})
}

// FuzzSections: any bytes split into sections or an error, and sections
// encode back to a module that splits the same.
func FuzzSections(f *testing.F) {
	f.Add([]byte(Magic + "\x01\x04\x01\x60\x00\x00"))
	f.Add([]byte(Magic + "\x00\x05\x04name"))
	f.Fuzz(func(t *testing.T, b []byte) {
		secs, err := Sections(b)
		if err != nil {
			return
		}
		again, err := Sections(Encode(secs))
		if err != nil || len(again) != len(secs) {
			t.Fatalf("re-encoded: %d sections, %v; want %d", len(again), err, len(secs))
		}
		for i := range secs {
			if again[i].ID != secs[i].ID || !bytes.Equal(again[i].Body, secs[i].Body) {
				t.Fatalf("section %d differs", i)
			}
		}
	})
}
