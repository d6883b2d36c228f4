package rls

import (
	"bytes"
	"errors"
	"testing"
	"time"

	ratelimitv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/common/ratelimit/v3"
	rlsv3 "github.com/envoyproxy/go-control-plane/envoy/service/ratelimit/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
)

func TestRequestDecodesAsTheGeneratedType(t *testing.T) {
	tests := []struct {
		name    string
		domain  string
		entries []Entry
	}{
		{name: "one entry", domain: "apiguard", entries: []Entry{{"sub", "alice"}}},
		{name: "several entries, in order", domain: "edge", entries: []Entry{{"sub", "alice"}, {"route", "orders"}, {"tier", "gold"}}},
		{name: "empty value", domain: "d", entries: []Entry{{"k", ""}}},
		{name: "long values", domain: string(bytes.Repeat([]byte("d"), 300)), entries: []Entry{{"k", string(bytes.Repeat([]byte("v"), 70000))}}},
		{name: "no entries", domain: "d"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			msg := AppendRequest([]byte("prefix"), tc.domain, tc.entries)
			if !bytes.HasPrefix(msg, []byte("prefix")) {
				t.Fatal("AppendRequest did not append")
			}
			msg = msg[len("prefix"):]
			var got rlsv3.RateLimitRequest
			if err := proto.Unmarshal(msg, &got); err != nil {
				t.Fatal(err)
			}
			want := &rlsv3.RateLimitRequest{Domain: tc.domain, Descriptors: []*ratelimitv3.RateLimitDescriptor{{}}}
			for _, e := range tc.entries {
				want.Descriptors[0].Entries = append(want.Descriptors[0].Entries, &ratelimitv3.RateLimitDescriptor_Entry{Key: e.Key, Value: e.Value})
			}
			if !proto.Equal(&got, want) {
				t.Fatalf("decoded %v, want %v", &got, want)
			}
			// Deterministic marshalling of the generated type gives the same bytes.
			again, _ := proto.MarshalOptions{Deterministic: true}.Marshal(want)
			if !bytes.Equal(again, msg) {
				t.Fatalf("bytes differ from the generated type's:\n%x\n%x", msg, again)
			}
		})
	}
}

func TestResponseReadsTheGeneratedType(t *testing.T) {
	tests := []struct {
		name string
		resp *rlsv3.RateLimitResponse
		want Response
	}{
		{name: "empty", resp: &rlsv3.RateLimitResponse{}, want: Response{}},
		{name: "ok with a limit",
			resp: &rlsv3.RateLimitResponse{OverallCode: rlsv3.RateLimitResponse_OK, Statuses: []*rlsv3.RateLimitResponse_DescriptorStatus{{
				Code:               rlsv3.RateLimitResponse_OK,
				CurrentLimit:       &rlsv3.RateLimitResponse_RateLimit{Name: "per-user", RequestsPerUnit: 100, Unit: rlsv3.RateLimitResponse_RateLimit_MINUTE},
				LimitRemaining:     42,
				DurationUntilReset: durationpb.New(17*time.Second + 500*time.Millisecond),
			}}},
			want: Response{Overall: OK, Statuses: []Status{{Code: OK, HasLimit: true, Name: "per-user", RequestsPerUnit: 100, Unit: Minute, Remaining: 42, UntilReset: 17500 * time.Millisecond}}}},
		{name: "over limit, no limit for a second descriptor",
			resp: &rlsv3.RateLimitResponse{OverallCode: rlsv3.RateLimitResponse_OVER_LIMIT, Statuses: []*rlsv3.RateLimitResponse_DescriptorStatus{
				{Code: rlsv3.RateLimitResponse_OVER_LIMIT, CurrentLimit: &rlsv3.RateLimitResponse_RateLimit{RequestsPerUnit: 5, Unit: rlsv3.RateLimitResponse_RateLimit_WEEK}, DurationUntilReset: durationpb.New(3 * time.Hour)},
				{Code: rlsv3.RateLimitResponse_OK},
			}},
			want: Response{Overall: OverLimit, Statuses: []Status{{Code: OverLimit, HasLimit: true, RequestsPerUnit: 5, Unit: Week, UntilReset: 3 * time.Hour}, {Code: OK}}}},
		{name: "fields apiguard skips",
			resp: &rlsv3.RateLimitResponse{OverallCode: rlsv3.RateLimitResponse_OK, RawBody: []byte("ignored"),
				Quota: &rlsv3.RateLimitResponse_Quota{Requests: 3, Id: "q"}},
			want: Response{Overall: OK}},
		{name: "negative reset is none",
			resp: &rlsv3.RateLimitResponse{Statuses: []*rlsv3.RateLimitResponse_DescriptorStatus{{DurationUntilReset: durationpb.New(-time.Second)}}},
			want: Response{Statuses: []Status{{}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			msg, err := proto.Marshal(tc.resp)
			if err != nil {
				t.Fatal(err)
			}
			got, err := DecodeResponse(msg)
			if err != nil {
				t.Fatal(err)
			}
			if !equal(got, tc.want) {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func equal(a, b Response) bool {
	if a.Overall != b.Overall || len(a.Statuses) != len(b.Statuses) {
		return false
	}
	for i := range a.Statuses {
		if a.Statuses[i] != b.Statuses[i] {
			return false
		}
	}
	return true
}

func TestMalformedResponsesAreErrors(t *testing.T) {
	ok, _ := proto.Marshal(&rlsv3.RateLimitResponse{OverallCode: rlsv3.RateLimitResponse_OK})
	many := &rlsv3.RateLimitResponse{}
	for range maxStatuses + 1 {
		many.Statuses = append(many.Statuses, &rlsv3.RateLimitResponse_DescriptorStatus{})
	}
	manyMsg, _ := proto.Marshal(many)
	tests := []struct {
		name string
		body []byte
		want error
	}{
		{name: "truncated varint", body: []byte{0x08, 0x80}, want: ErrMalformed},
		{name: "truncated tag", body: append(ok, 0x80), want: ErrMalformed},
		{name: "status longer than the message", body: []byte{0x12, 0x05, 0x08}, want: ErrMalformed},
		{name: "bad field inside a status", body: []byte{0x12, 0x02, 0x08, 0x80}, want: ErrMalformed},
		{name: "bad field inside a duration", body: []byte{0x12, 0x04, 0x22, 0x02, 0x08, 0x80}, want: ErrMalformed},
		{name: "too many statuses", body: manyMsg, want: ErrTooManyRows},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := DecodeResponse(tc.body); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

func TestUnitSeconds(t *testing.T) {
	for u, want := range map[Unit]int64{UnitUnknown: 0, Second: 1, Minute: 60, Hour: 3600, Day: 86400, Week: 604800, Month: 2592000, Year: 31536000} {
		if got := u.Seconds(); got != want {
			t.Errorf("%d: %d, want %d", u, got, want)
		}
	}
}

// FuzzDecodeResponse: any body decodes or fails without a panic, and what
// the generated type reads the same way, DecodeResponse does.
func FuzzDecodeResponse(f *testing.F) {
	for _, r := range []*rlsv3.RateLimitResponse{
		{OverallCode: rlsv3.RateLimitResponse_OVER_LIMIT, Statuses: []*rlsv3.RateLimitResponse_DescriptorStatus{{Code: 2, CurrentLimit: &rlsv3.RateLimitResponse_RateLimit{Name: "n", RequestsPerUnit: 9, Unit: 2}, LimitRemaining: 1, DurationUntilReset: durationpb.New(time.Second)}}},
		{OverallCode: rlsv3.RateLimitResponse_OK, RawBody: []byte("x")},
	} {
		msg, _ := proto.Marshal(r)
		f.Add(msg)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		got, err := DecodeResponse(body)
		var want rlsv3.RateLimitResponse
		if proto.Unmarshal(body, &want) != nil || err != nil || len(want.Statuses) > maxStatuses {
			return
		}
		if got.Overall != code(uint64(want.OverallCode)) || len(got.Statuses) != len(want.Statuses) {
			t.Fatalf("got %+v, generated type reads %v", got, &want)
		}
		for i, s := range want.Statuses {
			g := got.Statuses[i]
			if g.Code != code(uint64(s.Code)) || g.Remaining != s.LimitRemaining || g.HasLimit != (s.CurrentLimit != nil) ||
				g.RequestsPerUnit != s.CurrentLimit.GetRequestsPerUnit() || g.Name != s.CurrentLimit.GetName() {
				t.Fatalf("status %d: got %+v, generated type reads %v", i, g, s)
			}
		}
	})
}

// FuzzRequest: whatever the entries, the generated type reads them back.
func FuzzRequest(f *testing.F) {
	f.Add("apiguard", "sub", "alice", "route", "orders")
	f.Fuzz(func(t *testing.T, domain, k1, v1, k2, v2 string) {
		msg := AppendRequest(nil, domain, []Entry{{k1, v1}, {k2, v2}})
		var got rlsv3.RateLimitRequest
		if err := (proto.UnmarshalOptions{}).Unmarshal(msg, &got); err != nil {
			// Non-UTF-8 strings are invalid proto3 strings: the stage sends
			// only what it checked. The bytes must still parse as fields.
			if fields(msg, func(int, wireType, uint64, []byte) error { return nil }) != nil {
				t.Fatal(err)
			}
			return
		}
		e := got.GetDescriptors()[0].GetEntries()
		if got.Domain != domain || len(e) != 2 || e[0].Key != k1 || e[0].Value != v1 || e[1].Key != k2 || e[1].Value != v2 {
			t.Fatalf("read back %v", &got)
		}
	})
}
