package receiver

import (
	"fmt"
	"testing"
)

// FuzzResendRange: the id of a box's reply, which anyone on the broker
// can send, parses without a panic into a range that is never backwards,
// and an id this receiver built gives back its range.
func FuzzResendRange(f *testing.F) {
	f.Add("bayreceiver-resend-rx-2-1-222-222")
	f.Add("bayreceiver-resend-rx-1-5-277-278")
	f.Add("bayreceiver-resend-rx-1-5-278-277")
	f.Add("bayreceiver-resend--18446744073709551615-18446744073709551615")
	f.Add("bayreceiver-resend-rx-1-5-18446744073709551616-1")
	f.Add("bayreceiver-resend-x-+1-2")
	f.Add("1-2")
	f.Fuzz(func(t *testing.T, id string) {
		from, to, ok := resendRange(id)
		if ok && from > to {
			t.Fatalf("%q: range %d-%d is backwards", id, from, to)
		}
		built := fmt.Sprintf("%s%s-%d-%d-%d", resendIDPrefix, id, 7, from, to)
		if ok {
			if f2, t2, ok2 := resendRange(built); !ok2 || f2 != from || t2 != to {
				t.Fatalf("built %q: %d-%d %v, want %d-%d", built, f2, t2, ok2, from, to)
			}
		}
	})
}
