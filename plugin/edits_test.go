package main

import (
	"slices"
	"strings"
	"testing"

	"github.com/apiguard/apiguard/filters/stage"
)

// TestEditHeadersSkipsWhatChangesNothing: with the map known, removing an
// absent header and setting one it has once with that value make no host
// call; anything else, and everything when the map is unknown, does.
func TestEditHeadersSkipsWhatChangesNothing(t *testing.T) {
	edits := stage.Edits{Remove: []string{"server", "x-auth-sub"},
		Set: [][2]string{{"x-auth-sub", "alice"}, {"cache-control", "no-store"}, {"x-frame-options", "DENY"}}}
	cases := []struct {
		name string
		// current is the map as read; nil: unread.
		current [][2]string
		want    []string
	}{
		{name: "unknown map", current: nil,
			want: []string{"remove server", "remove x-auth-sub", "set x-auth-sub", "set cache-control", "set x-frame-options"}},
		{name: "nothing there", current: [][2]string{{":status", "200"}},
			want: []string{"set x-auth-sub", "set cache-control", "set x-frame-options"}},
		{name: "a removed header is set again, even when equal", current: [][2]string{{":status", "200"}, {"x-auth-sub", "alice"}, {"cache-control", "no-store"}, {"x-frame-options", "DENY"}},
			want: []string{"remove x-auth-sub", "set x-auth-sub"}},
		{name: "already as set, nothing removed", current: [][2]string{{"cache-control", "no-store"}, {"x-frame-options", "DENY"}},
			want: []string{"set x-auth-sub"}},
		{name: "another value or a second line", current: [][2]string{{"server", "nginx"}, {"cache-control", "public"}, {"x-frame-options", "DENY"}, {"x-frame-options", "DENY"}},
			want: []string{"remove server", "set x-auth-sub", "set cache-control", "set x-frame-options"}},
		// Names of the lengths of the edited ones (6, 10, 13 and 15, and 13+64)
		// are other headers: each edit still looks for its own name.
		{name: "others of the same lengths", current: [][2]string{{"origin", "a"}, {"x-trace-id", "alice"}, {"content-range", "no-store"},
			{"x-request-start", "DENY"}, {"x-" + strings.Repeat("a", 75), "no-store"}},
			want: []string{"set x-auth-sub", "set cache-control", "set x-frame-options"}},
		{name: "the same lengths, and the names", current: [][2]string{{"origin", "a"}, {"server", "b"}, {"x-trace-id", "c"}, {"cache-control", "no-store"},
			{"content-range", "d"}, {"x-frame-options", "DENY"}},
			want: []string{"remove server", "set x-auth-sub"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var m *headerMap
			if tc.current != nil {
				m = &headerMap{pairs: tc.current, read: true}
			}
			var calls []string
			err := editHeaders(&edits, m,
				func(name string) error { calls = append(calls, "remove "+name); return nil },
				func(name, _ string) error { calls = append(calls, "set "+name); return nil })
			if err != nil || !slices.Equal(calls, tc.want) {
				t.Fatalf("calls %q, err %v; want %q", calls, err, tc.want)
			}
		})
	}
}

// TestEditPairsMakesTheHostsEdits: a reply's list edited in the guest ends
// as the host's map would after the same removals and replace calls: each
// removed name gone, each set name once, at the end, in the order set.
func TestEditPairsMakesTheHostsEdits(t *testing.T) {
	edits := stage.Edits{Remove: []string{"server"}, Set: [][2]string{{"x-content-type-options", "nosniff"}, {"cache-control", "no-store"}}}
	cases := []struct {
		name       string
		reply, out [][2]string
	}{
		{name: "none of them there",
			reply: [][2]string{{"content-type", "application/problem+json"}},
			out:   [][2]string{{"content-type", "application/problem+json"}, {"x-content-type-options", "nosniff"}, {"cache-control", "no-store"}}},
		{name: "set ones there, moved to the end once",
			reply: [][2]string{{"cache-control", "private"}, {"content-type", "a"}, {"cache-control", "no-cache"}, {"x-content-type-options", "nosniff"}},
			out:   [][2]string{{"content-type", "a"}, {"x-content-type-options", "nosniff"}, {"cache-control", "no-store"}}},
		{name: "removed ones gone, every line",
			reply: [][2]string{{"server", "a"}, {"retry-after", "1"}, {"server", "b"}},
			out:   [][2]string{{"retry-after", "1"}, {"x-content-type-options", "nosniff"}, {"cache-control", "no-store"}}},
		{name: "others of the same lengths kept",
			reply: [][2]string{{"origin", "a"}, {"content-range", "b"}},
			out:   [][2]string{{"origin", "a"}, {"content-range", "b"}, {"x-content-type-options", "nosniff"}, {"cache-control", "no-store"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := editPairs(slices.Clone(tc.reply), &edits); !slices.Equal(got, tc.out) {
				t.Fatalf("edited %q, want %q", got, tc.out)
			}
		})
	}
}
