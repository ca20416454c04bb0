package analyzer

import (
	"fmt"
	"strconv"
	"testing"
)

// TestDecIsExact checks, for every 16-bit field value and every scale the
// protocols use, that the decoded float64 is the one its decimal text parses
// to (so 120 x 1/100 is exactly the 1.20 of a readings file).
func TestDecIsExact(t *testing.T) {
	for _, scale := range []int64{1, 10, 100} {
		digits := len(strconv.FormatInt(scale, 10)) - 1
		for raw := int64(-32768); raw <= 65535; raw++ {
			a := raw
			sign := ""
			if a < 0 {
				sign, a = "-", -a
			}
			text := fmt.Sprintf("%s%d", sign, a/scale)
			if digits > 0 {
				text += fmt.Sprintf(".%0*d", digits, a%scale)
			}
			want, err := strconv.ParseFloat(text, 64)
			if err != nil {
				t.Fatal(err)
			}
			if got := dec(raw, scale); got != want {
				t.Fatalf("dec(%d, %d) = %v, want %v (%s)", raw, scale, got, want, text)
			}
		}
	}
	for k := uint16(0); k < 0xFFFF; k++ {
		h := int64(k)*100 - 27315
		text := fmt.Sprintf("%d.%02d", h/100, h%100)
		if h < 0 {
			text = fmt.Sprintf("-%d.%02d", -h/100, -h%100)
		}
		want, err := strconv.ParseFloat(text, 64)
		if err != nil {
			t.Fatal(err)
		}
		if got := kelvinToCelsius(k); got != want {
			t.Fatalf("kelvinToCelsius(%d) = %v, want %v (%s)", k, got, want, text)
		}
	}
}
