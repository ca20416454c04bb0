package analyzer

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"sync"
	"testing"
)

// The instruments' days through the drivers: zero, calibration, status,
// warm-up, alarms and the ambient reading of the instruments the other
// tests leave out, each request checked byte for byte against the
// documented frame (DOMAIN.md section 3) and each answer written by hand.

// script answers the requests in turn with replies (the last repeats).
func script(replies ...string) func(int, []byte) []byte {
	var mu sync.Mutex
	return func(n int, _ []byte) []byte {
		mu.Lock()
		defer mu.Unlock()
		return unhexOrNil(replies[min(n, len(replies)-1)])
	}
}

func unhexOrNil(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil || len(b) == 0 {
		return nil
	}
	return b
}

func wantRequests(t *testing.T, l *line, want ...string) {
	t.Helper()
	got := l.requests()
	if len(got) != len(want) {
		t.Fatalf("requests % x, want %v", got, want)
	}
	for i := range want {
		if !bytes.Equal(got[i], unhex(t, want[i])) {
			t.Fatalf("request %d: % x, want %s", i, got[i], want[i])
		}
	}
}

func TestInstrumentDays(t *testing.T) {
	t.Run("fla501 zero: the documented frame, then the station's wait", func(t *testing.T) {
		l := newLine(script("06 01 20 00"))
		d := NewFLA501(l, "t", fast)
		defer d.Close()
		if err := d.Zero(ctxT(t)); err != nil {
			t.Fatal(err)
		}
		wantRequests(t, l, "02 01 20 dd")
	})
	t.Run("nha501a zero 0x0C answered 06; the mqw511 has none", func(t *testing.T) {
		l := newLine(script("06"))
		d := NewNHA501A(l, "t", fast)
		defer d.Close()
		if err := d.Zero(ctxT(t)); err != nil {
			t.Fatal(err)
		}
		wantRequests(t, l, "0c")
		refused := newLine(script("15"))
		d2 := NewNHA501A(refused, "t", fast)
		defer d2.Close()
		if err := d2.Zero(ctxT(t)); !errors.Is(err, ErrNAK) {
			t.Fatalf("refused zero: %v", err)
		}
		var m Instrument = NewMQW511(newLine(script("")), "t", fast)
		defer m.Close()
		if _, ok := m.(Zeroer); ok {
			t.Fatal("the MQW-511 has no zero command")
		}
	})
	t.Run("fty100 calibration until the status says measuring", func(t *testing.T) {
		l := newLine(script("667479 05", "667479 02 00 00 00", "667479 04 00 00 00"))
		d := NewFTY100(l, "t", fast)
		defer d.Close()
		if err := d.Zero(ctxT(t)); err != nil {
			t.Fatal(err)
		}
		wantRequests(t, l, "66 74 79 01 02 05 a5", "66 74 79 01 02 01 a9", "66 74 79 01 02 01 a9")
		st, err := d.State(ctxT(t))
		if err != nil || st.Mode != ModeMeasuring || st.Raw != "66747904000000" {
			t.Fatalf("state %+v %v", st, err)
		}
	})
	t.Run("nht6 stop warm-up a2 and the alarm word a3", func(t *testing.T) {
		l := newLine(func(_ int, req []byte) []byte {
			if req[0] == 0xA3 {
				return withNeg8(0xA3, 0x00, 0x05)
			}
			return withNeg8(req[0])
		})
		d := NewNHT6(l, "t", fast)
		defer d.Close()
		if err := d.StopWarmUp(ctxT(t)); err != nil {
			t.Fatal(err)
		}
		alarms, err := d.Alarms(ctxT(t))
		if err != nil || alarms != 0x0005 {
			t.Fatalf("alarms %#04x %v", alarms, err)
		}
		wantRequests(t, l, "a2 5e", "a3 5d")
	})
	t.Run("nht6 calibration that ends in an internal fault", func(t *testing.T) {
		l := newLine(func(n int, req []byte) []byte {
			if req[0] == 0xA4 {
				return withNeg8(0xA4)
			}
			return withNeg8(0xA1, []byte{2, 3}[min(n-1, 1)])
		})
		d := NewNHT6(l, "t", fast)
		defer d.Close()
		if err := d.Zero(ctxT(t)); !errors.Is(err, ErrZeroFailed) {
			t.Fatalf("calibration: %v", err)
		}
		wantRequests(t, l, "a4 5c", "a1 5f", "a1 5f")
	})
	t.Run("mqy200: calibrate is a2, highest values a9 cleared by a8, no stop warm-up or alarms", func(t *testing.T) {
		l := newLine(func(_ int, req []byte) []byte {
			switch req[0] {
			case 0xA1:
				return withNeg8(0xA1, 1)
			case 0xA9:
				return unhex(t, "a9 0078 001e 030c b2") // N 12.0, K 0.30, 780 rpm
			}
			return withNeg8(req[0])
		})
		d := NewMQY200(l, "t", fast)
		defer d.Close()
		if err := d.Zero(ctxT(t)); err != nil {
			t.Fatal(err)
		}
		if err := d.ClearPeak(ctxT(t)); err != nil {
			t.Fatal(err)
		}
		p, err := d.Peak(ctxT(t))
		if k, _ := p.Value(QuantityOpacityK); err != nil || k.Value != 0.30 {
			t.Fatalf("peak %v %v", p, err)
		}
		wantRequests(t, l, "a2 5e", "a1 5f", "a8 58", "a9 57")
		if err := d.StopWarmUp(ctxT(t)); !errors.Is(err, ErrUnsupported) {
			t.Fatal(err)
		}
		if _, err := d.Alarms(ctxT(t)); !errors.Is(err, ErrUnsupported) {
			t.Fatal(err)
		}
	})
	t.Run("nha506 ambient 0x02 and status 38 = 3, leak check", func(t *testing.T) {
		l := newLine(func(_ int, req []byte) []byte {
			if req[0] == 0x02 {
				return unhex(t, frameNHAAmbient)
			}
			return []byte{0x03}
		})
		d := NewNHA506(l, "t", fast)
		defer d.Close()
		r, err := d.Ambient(ctxT(t))
		if p, _ := r.Value(QuantityPressure); err != nil || p.Value != 101.3 || r.Method != MethodAmbient {
			t.Fatalf("ambient %v %v", r, err)
		}
		st, err := d.State(ctxT(t))
		if err != nil || st.Mode != ModeLeakCheck {
			t.Fatalf("state %+v %v", st, err)
		}
		wantRequests(t, l, "02", "26")
	})
}
