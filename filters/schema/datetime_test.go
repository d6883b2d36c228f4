package schema

import (
	"strings"
	"testing"
	"time"
)

// dateTimes are RFC 3339 section 5.6 date-times and near misses, with JSON
// Schema's test suite's cases for format "date-time" among them.
var dateTimes = []struct {
	name, s string
	want    bool
}{
	{name: "UTC", s: "1963-06-19T08:30:06Z", want: true},
	{name: "fraction and offset", s: "1963-06-19T08:30:06.283185-08:00", want: true},
	{name: "positive offset", s: "2026-12-02T10:00:00+05:30", want: true},
	{name: "lower-case t and z", s: "1963-06-19t08:30:06.283185z", want: true},
	{name: "29 February of a leap year", s: "2024-02-29T00:00:00Z", want: true},
	{name: "29 February of a 400th year", s: "2000-02-29T00:00:00Z", want: true},
	{name: "leap second, UTC", s: "1998-12-31T23:59:60Z", want: true},
	{name: "leap second with a minus offset", s: "1998-12-31T15:59:60.123-08:00", want: true},
	{name: "leap second with a plus offset", s: "1999-01-01T00:29:60+00:30", want: true},
	{name: "year 0", s: "0000-01-01T00:00:00Z", want: true},

	{name: "date only", s: "1963-06-19"},
	{name: "no offset", s: "1963-06-19T08:30:06"},
	{name: "31 June", s: "1963-06-31T08:30:06Z"},
	{name: "31 February", s: "1990-02-31T15:59:59.123-08:00"},
	{name: "29 February of a common year", s: "2023-02-29T00:00:00Z"},
	{name: "29 February of a 100th year", s: "1900-02-29T00:00:00Z"},
	{name: "month 13", s: "1963-13-19T08:30:06Z"},
	{name: "month 0", s: "1963-00-19T08:30:06Z"},
	{name: "day 0", s: "1963-06-00T08:30:06Z"},
	{name: "hour 24", s: "1963-06-19T24:00:00Z"},
	{name: "minute 60", s: "1963-06-19T08:60:06Z"},
	{name: "second 61", s: "1998-12-31T23:59:61Z"},
	{name: "leap second on the wrong minute", s: "1998-12-31T23:58:60Z"},
	{name: "leap second on the wrong hour", s: "1998-12-31T22:59:60Z"},
	{name: "leap second at the end of a local day", s: "1998-12-31T23:59:60+01:00"},
	{name: "offset hour 24", s: "1990-12-31T15:59:59-24:00"},
	{name: "offset minute 60", s: "1990-12-31T15:59:59+01:60"},
	{name: "offset without colon", s: "1990-12-31T15:59:59+0100"},
	{name: "offset and Z", s: "1963-06-19T08:30:06.28123+01:00Z"},
	{name: "empty fraction", s: "1963-06-19T08:30:06.Z"},
	{name: "comma fraction", s: "1963-06-19T08:30:06,5Z"},
	{name: "space for T", s: "1963-06-19 08:30:06Z"},
	{name: "ordinal date", s: "2013-350T01:01:01Z"},
	{name: "two-digit year", s: "63-06-19T08:30:06Z"},
	{name: "one-digit hour", s: "1963-06-19T8:30:06Z"},
	{name: "not ASCII digits", s: "1963-06-1৪T00:00:00Z"},
	{name: "another format", s: "06/19/1963 08:30:06 PST"},
	{name: "empty", s: ""},
}

func TestDateTimeFormat(t *testing.T) {
	for _, tc := range dateTimes {
		t.Run(tc.name, func(t *testing.T) {
			if got := FormatValid("date-time", tc.s); got != tc.want {
				t.Errorf("FormatValid(date-time, %q) = %v, want %v", tc.s, got, tc.want)
			}
		})
	}
}

// FuzzDateTime: what isDateTime accepts, time.Parse accepts too, once
// what RFC 3339 allows and Go does not is rewritten (a lower-case "t" or
// "z", a leap second). The other way does not hold: Go also accepts a
// one-digit hour, a comma before the fraction and offsets of 24 hours,
// which the table's near misses cover.
func FuzzDateTime(f *testing.F) {
	for _, tc := range dateTimes {
		f.Add(tc.s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !isDateTime(s) {
			return
		}
		goForm := strings.ToUpper(s)
		if goForm[17:19] == "60" {
			goForm = goForm[:17] + "59" + goForm[19:]
		}
		if _, err := time.Parse(time.RFC3339Nano, goForm); err != nil {
			t.Errorf("isDateTime(%q) but time.Parse(%q): %v", s, goForm, err)
		}
	})
}
