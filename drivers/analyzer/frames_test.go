package analyzer_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/bayagent/bayagent/drivers/analyzer"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Golden frames written by hand from the layouts in the package doc.
const (
	// HC 180, CO 1.20, CO2 13.10, O2 1.10, NO 420, 780 rpm, 85 degC, flow 52,
	// O2 sensor aged, lambda 0.97; checksum 0x62 = sum of the 20 bytes.
	goldenNHA506 = "06 00b4 0078 051e 006e 01a4 030c 0055 0034 01 0061 62"
	// 23.5 degC, 101.3 kPa, 55.0 %.
	goldenAmbient = "06 00eb 03f5 0226 11"
	// HC 240, CO 1.85, CO2 12.60, O2 0.80, NO 380, 800 rpm, 82 degC, lambda
	// 0.95, NO sensor aged.
	goldenMQW511 = "06 00f0 00b9 04ec 0050 017c 0320 0052 005f 02 42"
	// N 35.5 %, K 1.02, 720 rpm, 358 K; the frame sums to zero.
	goldenNHT6Realtime = "a5 0163 0066 02d0 0166 58"
	// K1 1.05, K2 0.98, K3 1.01, mean 1.01, idle 720 rpm.
	goldenNHT6Free = "b1 0069 0062 0065 0065 02d0 e8"
)

// goldenFGA is HC 42, CO 0.15, CO2 14.6, O2 0.5, NO 75, lambda 1.01, 770 rpm,
// oil 86.5 degC.
var goldenFGA = "\x7e\x01\x60" + "000000000000000" + "  42  15 146   5  75 101 770 865"

func fgaGolden(t testing.TB) []byte {
	b := []byte(goldenFGA)
	var s byte
	for _, c := range b[18:] {
		s += c
	}
	return append(b, ^s)
}

func TestParseNHA506Golden(t *testing.T) {
	f, err := analyzer.ParseNHA506(unhex(t, goldenNHA506))
	if err != nil {
		t.Fatal(err)
	}
	want := analyzer.GasFrame{HC: 180, CO: 120, CO2: 1310, O2: 110, NO: 420, RPM: 780, OilTemperature: 85, Flow: 52, Status: 1, Lambda: 97}
	if f != want {
		t.Fatalf("got %+v, want %+v", f, want)
	}
	q, status := f.Quantities(true)
	if q[1] != (analyzer.Quantity{Name: "co", Value: 1.20, Unit: "%vol"}) || q[5].Value != 0.97 || status[0] != "o2_sensor_aged" {
		t.Fatalf("quantities %v %v", q, status)
	}
	if got := analyzer.AppendNHA506(nil, want); !bytes.Equal(got, unhex(t, goldenNHA506)) {
		t.Fatalf("append % x", got)
	}
}

func TestParseGolden(t *testing.T) {
	a, err := analyzer.ParseNHA506Ambient(unhex(t, goldenAmbient))
	if err != nil || a != (analyzer.AmbientFrame{Temperature: 235, Pressure: 1013, Humidity: 550}) {
		t.Fatalf("ambient %+v, %v", a, err)
	}
	m, err := analyzer.ParseMQW511(unhex(t, goldenMQW511))
	if err != nil || m != (analyzer.GasFrame{HC: 240, CO: 185, CO2: 1260, O2: 80, NO: 380, RPM: 800, OilTemperature: 82, Status: 2, Lambda: 95}) {
		t.Fatalf("mqw511 %+v, %v", m, err)
	}
	g, err := analyzer.ParseFGA4100(fgaGolden(t))
	if err != nil || g.HC != 42 || g.CO != 15 || g.CO2 != 146 || g.O2 != 5 || g.NO != 75 || g.Lambda != 101 || g.RPM != 770 || g.OilTemperature != 865 {
		t.Fatalf("fga %+v, %v", g, err)
	}
	if q := g.Quantities(); q[2].Value != 14.6 || q[7].Value != 86.5 || q[1].Value != 0.15 {
		t.Fatalf("fga quantities %v", q)
	}
	o, err := analyzer.ParseNHT6Realtime(unhex(t, goldenNHT6Realtime))
	if err != nil || o != (analyzer.OpacityFrame{N: 355, K: 102, RPM: 720, OilTemperature: 358}) {
		t.Fatalf("nht6 realtime %+v, %v", o, err)
	}
	if q, _ := o.Quantities(); q[3].Value != 84.85 || q[0].Value != 35.5 {
		t.Fatalf("nht6 quantities %v", q)
	}
	fa, err := analyzer.ParseNHT6FreeAcceleration(unhex(t, goldenNHT6Free))
	if err != nil || fa != (analyzer.FreeAccelerationFrame{K1: 105, K2: 98, K3: 101, KMean: 101, IdleRPM: 720}) {
		t.Fatalf("nht6 free %+v, %v", fa, err)
	}
	if q := (analyzer.OpacityFrame{OilTemperature: analyzer.NHT6NoTemperature}); len(mustQ(q)) != 3 {
		t.Fatal("no-sensor temperature reported")
	}
	if got := analyzer.NHT6Request(analyzer.NHT6Realtime); !bytes.Equal(got, []byte{0xA5, 0x5B}) {
		t.Fatalf("request % x", got)
	}
	if got := analyzer.FGARequest(1); !bytes.Equal(got, []byte{0x7E, 0x01, 0x60, 0x9E}) {
		t.Fatalf("fga request % x", got)
	}
}

func mustQ(f analyzer.OpacityFrame) []analyzer.Quantity { q, _ := f.Quantities(); return q }

func TestParseRejects(t *testing.T) {
	nha := unhex(t, goldenNHA506)
	flip := func(b []byte, i int) []byte { c := bytes.Clone(b); c[i] ^= 0x40; return c }
	fga := fgaGolden(t)
	fgaBadDigit := bytes.Clone(fga)
	fgaBadDigit[20] = 'x'
	fgaBadDigit[50] = 0 // recomputed below
	var s byte
	for _, c := range fgaBadDigit[18:50] {
		s += c
	}
	fgaBadDigit[50] = ^s
	tests := []struct {
		name     string
		parse    func() error
		checksum bool
	}{
		{"nha short", func() error { _, err := analyzer.ParseNHA506(nha[:20]); return err }, false},
		{"nha header", func() error { _, err := analyzer.ParseNHA506(flip(nha, 0)); return err }, false},
		{"nha checksum", func() error { _, err := analyzer.ParseNHA506(flip(nha, 5)); return err }, true},
		{"nha empty", func() error { _, err := analyzer.ParseNHA506(nil); return err }, false},
		{"mqw checksum", func() error { _, err := analyzer.ParseMQW511(flip(unhex(t, goldenMQW511), 18)); return err }, true},
		{"ambient checksum", func() error { _, err := analyzer.ParseNHA506Ambient(flip(unhex(t, goldenAmbient), 3)); return err }, true},
		{"fga checksum", func() error { _, err := analyzer.ParseFGA4100(flip(fga, 30)); return err }, true},
		{"fga delimiter", func() error { _, err := analyzer.ParseFGA4100(flip(fga, 0)); return err }, false},
		{"fga digit", func() error { _, err := analyzer.ParseFGA4100(fgaBadDigit); return err }, false},
		{"fga long", func() error { _, err := analyzer.ParseFGA4100(append(bytes.Clone(fga), 0)); return err }, false},
		{"nht6 checksum", func() error { _, err := analyzer.ParseNHT6Realtime(flip(unhex(t, goldenNHT6Realtime), 2)); return err }, true},
		{"nht6 wrong reply", func() error { _, err := analyzer.ParseNHT6Realtime(unhex(t, goldenNHT6Free)); return err }, false},
		{"nht6 nak checksum", func() error { _, err := analyzer.ParseNHT6FreeAcceleration([]byte{0x15, 0x02, 0x00}); return err }, true},
		{"fga request checksum", func() error { _, _, err := analyzer.ParseFGARequest([]byte{0x7E, 1, 0x60, 0}); return err }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.parse()
			if !errors.Is(err, analyzer.ErrBadFrame) || errors.Is(err, analyzer.ErrChecksum) != tt.checksum {
				t.Fatalf("err = %v, want ErrBadFrame (checksum %v)", err, tt.checksum)
			}
		})
	}
	_, err := analyzer.ParseNHT6FreeAcceleration(analyzer.AppendNHT6NAK(nil, 7))
	var nak *analyzer.NAKError
	if !errors.As(err, &nak) || nak.Code != 7 || errors.Is(err, analyzer.ErrBadFrame) {
		t.Fatalf("NAK frame: %v", err)
	}
}

func FuzzParseNHA506(f *testing.F) {
	f.Add(unhex(f, goldenNHA506))
	f.Add(analyzer.AppendNHA506(nil, analyzer.GasFrame{OilTemperature: -12, Lambda: 0xFFFF}))
	f.Add([]byte{0x06})
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, err := analyzer.ParseNHA506(b)
		if err != nil {
			if !errors.Is(err, analyzer.ErrBadFrame) {
				t.Fatalf("error not ErrBadFrame: %v", err)
			}
			return
		}
		if got := analyzer.AppendNHA506(nil, fr); !bytes.Equal(got, b) {
			t.Fatalf("round trip: % x -> %+v -> % x", b, fr, got)
		}
	})
}

func FuzzParseNHA506Ambient(f *testing.F) {
	f.Add(unhex(f, goldenAmbient))
	f.Add(analyzer.AppendNHA506Ambient(nil, analyzer.AmbientFrame{Temperature: -150}))
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, err := analyzer.ParseNHA506Ambient(b)
		if err != nil {
			if !errors.Is(err, analyzer.ErrBadFrame) {
				t.Fatalf("error not ErrBadFrame: %v", err)
			}
			return
		}
		if got := analyzer.AppendNHA506Ambient(nil, fr); !bytes.Equal(got, b) {
			t.Fatalf("round trip: % x -> % x", b, got)
		}
	})
}

func FuzzParseMQW511(f *testing.F) {
	f.Add(unhex(f, goldenMQW511))
	f.Add(analyzer.AppendMQW511(nil, analyzer.GasFrame{HC: 0xFFFF, Status: 0xFF}))
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, err := analyzer.ParseMQW511(b)
		if err != nil {
			if !errors.Is(err, analyzer.ErrBadFrame) {
				t.Fatalf("error not ErrBadFrame: %v", err)
			}
			return
		}
		if got := analyzer.AppendMQW511(nil, fr); !bytes.Equal(got, b) {
			t.Fatalf("round trip: % x -> % x", b, got)
		}
	})
}

func FuzzParseFGA4100(f *testing.F) {
	f.Add(fgaGolden(f))
	f.Add(analyzer.AppendFGA4100(nil, analyzer.FGAFrame{Address: 1, HC: -999, RPM: 9999}))
	f.Add([]byte(goldenFGA + "\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, err := analyzer.ParseFGA4100(b)
		if err != nil {
			if !errors.Is(err, analyzer.ErrBadFrame) {
				t.Fatalf("error not ErrBadFrame: %v", err)
			}
			return
		}
		again, err := analyzer.ParseFGA4100(analyzer.AppendFGA4100(nil, fr))
		if err != nil {
			t.Fatalf("re-encoded frame fails: %v", err)
		}
		again.Status = fr.Status
		if again != fr {
			t.Fatalf("round trip: %+v -> %+v", fr, again)
		}
	})
}

func FuzzParseNHT6(f *testing.F) {
	f.Add(unhex(f, goldenNHT6Realtime))
	f.Add(unhex(f, goldenNHT6Free))
	f.Add(analyzer.AppendNHT6NAK(nil, 3))
	f.Add(analyzer.AppendNHT6Status(nil, analyzer.NHT6GetStatus, 1))
	f.Fuzz(func(t *testing.T, b []byte) {
		check := func(what string, err error, re []byte) {
			var nak *analyzer.NAKError
			switch {
			case errors.As(err, &nak):
				if !bytes.Equal(analyzer.AppendNHT6NAK(nil, nak.Code), b) {
					t.Fatalf("%s: NAK from % x", what, b)
				}
			case err != nil:
				if !errors.Is(err, analyzer.ErrBadFrame) {
					t.Fatalf("%s: error not ErrBadFrame: %v", what, err)
				}
			case !bytes.Equal(re, b):
				t.Fatalf("%s: round trip % x -> % x", what, b, re)
			}
		}
		rt, err := analyzer.ParseNHT6Realtime(b)
		check("realtime", err, analyzer.AppendNHT6Realtime(nil, rt))
		fa, err := analyzer.ParseNHT6FreeAcceleration(b)
		check("free acceleration", err, analyzer.AppendNHT6FreeAcceleration(nil, fa))
		st, err := analyzer.ParseNHT6Status(b, analyzer.NHT6GetStatus)
		check("status", err, analyzer.AppendNHT6Status(nil, analyzer.NHT6GetStatus, st))
	})
}

func FuzzParseFGARequest(f *testing.F) {
	f.Add(analyzer.FGARequest(1))
	f.Fuzz(func(t *testing.T, b []byte) {
		addr, cmd, err := analyzer.ParseFGARequest(b)
		if err != nil {
			if !errors.Is(err, analyzer.ErrBadFrame) {
				t.Fatalf("error not ErrBadFrame: %v", err)
			}
			return
		}
		if cmd == analyzer.FGACommandMeasure && !bytes.Equal(analyzer.FGARequest(addr), b) {
			t.Fatalf("round trip % x", b)
		}
	})
}
