package schema

import (
	"math/big"
	"testing"
)

func TestDecimalCompare(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"0", "-0", 0},
		{"0.000", "0e5", 0},
		{"1", "1.0", 0},
		{"1", "0.1e1", 0},
		{"100", "1e2", 0},
		{"12.50", "1.25E+1", 0},
		{"0.0045", "45e-4", 0},
		{"-3", "2", -1},
		{"-3", "-2", -1},
		{"-0.5", "0", -1},
		{"19.99", "0", 1},
		{"999", "1000", -1},
		{"1.001", "1.01", -1},
		{"1.1", "1.10000000000000000001", -1},
		{"9007199254740993", "9007199254740992", 1},
		{"123456789012345678901234567890", "123456789012345678901234567891", -1},
		{"1e-400", "0", 1},
		{"-1e-400", "-1e-401", -1},
		{"1e999999", "9e999998", 1},
	}
	for _, tc := range tests {
		a, okA := parseDecimal([]byte(tc.a))
		b, okB := parseDecimal([]byte(tc.b))
		if !okA || !okB {
			t.Fatalf("%s or %s not read", tc.a, tc.b)
		}
		if got := a.cmp(&b); got != tc.want {
			t.Errorf("cmp(%s, %s) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
		if got := b.cmp(&a); got != -tc.want {
			t.Errorf("cmp(%s, %s) = %d, want %d", tc.b, tc.a, got, -tc.want)
		}
		if same := string(a.appendCanonical(nil)) == string(b.appendCanonical(nil)); same != (tc.want == 0) {
			t.Errorf("%s and %s spelled %s and %s", tc.a, tc.b, a.appendCanonical(nil), b.appendCanonical(nil))
		}
	}
}

func TestDecimalRefusesHugeExponents(t *testing.T) {
	for _, text := range []string{"1e1000000", "1e-1000000", "1e99999999999999999999", "", "-", "1e"} {
		if _, ok := parseDecimal([]byte(text)); ok {
			t.Errorf("%q read", text)
		}
	}
}

// FuzzDecimal: decimals order and spell numbers as exact rationals do.
func FuzzDecimal(f *testing.F) {
	for _, seed := range [][2]string{{"0", "-0"}, {"1.5e3", "1500"}, {"-0.001", "-1e-3"}, {"9007199254740993", "9007199254740992.5"}} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		if !isNumber([]byte(a)) || !isNumber([]byte(b)) || len(a) > 64 || len(b) > 64 {
			return
		}
		da, okA := parseDecimal([]byte(a))
		db, okB := parseDecimal([]byte(b))
		if !okA || !okB {
			return
		}
		ra, _ := new(big.Rat).SetString(a)
		rb, _ := new(big.Rat).SetString(b)
		if got, want := da.cmp(&db), ra.Cmp(rb); got != want {
			t.Fatalf("cmp(%s, %s) = %d, big.Rat says %d", a, b, got, want)
		}
		if same := string(da.appendCanonical(nil)) == string(db.appendCanonical(nil)); same != (ra.Cmp(rb) == 0) {
			t.Fatalf("%s and %s spelled %s and %s", a, b, da.appendCanonical(nil), db.appendCanonical(nil))
		}
	})
}
