package obdsim

import (
	"bytes"
	"encoding/hex"
	"strings"
	"sync"
	"testing"

	"github.com/bayagent/bayagent/drivers/obd"
)

// hx parses space-separated hex bytes; "" is nil (silence).
func hx(t *testing.T, s string) []byte {
	t.Helper()
	if s == "" {
		return nil
	}
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

type exchange struct {
	ecu        obd.ECU
	req        string
	functional bool
	want       string // "" = silent
}

func runExchanges(t *testing.T, v *Vehicle, tests []exchange) {
	t.Helper()
	for _, tt := range tests {
		kind := "physical"
		if tt.functional {
			kind = "functional"
		}
		t.Run(tt.ecu.String()+" "+tt.req+" "+kind, func(t *testing.T) {
			e := v.ECU(tt.ecu)
			if e == nil {
				t.Fatalf("no ECU %s", tt.ecu)
			}
			resp, ok := e.Handle(hx(t, tt.req), tt.functional)
			want := hx(t, tt.want)
			if ok != (want != nil) || !bytes.Equal(resp, want) {
				t.Errorf("Handle(% X) = % X, %t; want % X", hx(t, tt.req), resp, ok, want)
			}
		})
	}
}

const (
	engine obd.ECU = 0x7E8
	tcm    obd.ECU = 0x7E9
)

// vinBytes is "LFV2A21K8A4052691" in hex.
const vinBytes = "4C 46 56 32 41 32 31 4B 38 41 34 30 35 32 36 39 31"

func TestHandleMode01(t *testing.T) {
	v := newVehicle(t, "petrol-p0420")
	runExchanges(t, v, []exchange{
		{engine, "01 00", true, "41 00 BE 3F B8 13"},
		{engine, "01 20", true, "41 20 80 03 A0 11"},
		{engine, "01 A0", true, "41 A0 04 00 00 00"},
		{engine, "01 C0", true, ""}, // no PID above C0
		{engine, "01 01", true, "41 01 82 07 E5 01"},
		{engine, "01 0C", true, "41 0C 0C 30"},
		{engine, "01 0C 0D 05", true, "41 0C 0C 30 0D 00 05 80"},
		{engine, "01 1C 21 31 30 4D 4E", true, "41 1C 29 21 01 9C 31 09 4C 30 FF 4D 01 81 4E 0C 30"},
		{engine, "01 A6", true, "41 A6 00 12 D6 87"},
		{engine, "01 0A 0C", false, "41 0C 0C 30"}, // unsupported PIDs left out
		{engine, "01 0A", true, ""},
		{engine, "01 0A", false, "7F 01 12"},
		{engine, "01", false, "7F 01 12"},
		{engine, "01 0C 0C 0C 0C 0C 0C 0C", false, "7F 01 12"}, // more than 6 PIDs
		{engine, "01 0C 0C 0C 0C 0C 0C 0C", true, ""},
		{tcm, "01 00", true, "41 00 80 08 00 01"},
		{tcm, "01 01", true, "41 01 81 04 00 00"},
		{tcm, "01 0C 0D 05", true, "41 0D 00"},
		{tcm, "01 0C", true, ""},
		{tcm, "01 0C", false, "7F 01 12"},
		{tcm, "01 A4", true, "41 A4 02 10 11 6B"}, // gear 1, ratio 4.459
	})
}

// TestSetLive: a live value changed while the vehicle runs is what the
// next Mode 01 answer reports; a value the profile does not have is refused.
func TestSetLive(t *testing.T) {
	v := newVehicle(t, "petrol-p0420")
	e := v.ECU(engine)
	if !e.SetLive("engine_speed", 2500) || e.SetLive("no_such_value", 1) {
		t.Fatal("SetLive accepted the wrong names")
	}
	if rpm, ok := e.Live("engine_speed"); !ok || rpm != 2500 {
		t.Fatalf("Live: %v %v", rpm, ok)
	}
	runExchanges(t, v, []exchange{{engine, "01 0C", true, "41 0C 27 10"}}) // 2500 rpm = 0x2710 / 4
}

func TestHandleMode02(t *testing.T) {
	v := newVehicle(t, "petrol-p0420")
	runExchanges(t, v, []exchange{
		{engine, "02 00 00", true, "42 00 00 7E 3A 80 00"},
		{engine, "02 02 00", true, "42 02 00 04 20"},
		{engine, "02 0C 00", true, "42 0C 00 21 98"},
		{engine, "02 02 00 0C 00 0D 00", true, "42 02 00 04 20 0C 00 21 98 0D 00 48"},
		{engine, "02 0C 01", true, ""}, // only frame 0 is stored
		{engine, "02 0C 01", false, "7F 02 12"},
		{engine, "02 0C", false, "7F 02 12"},                      // odd length
		{engine, "02 02 00 0C 00 0D 00 05 00", false, "7F 02 12"}, // more than 3 pairs
		{engine, "02 A6 00", true, ""},
		{tcm, "02 00 00", true, "42 00 00 40 00 00 00"},
		{tcm, "02 02 00", true, "42 02 00 00 00"}, // no freeze frame stored
		{tcm, "02 0D 00", true, ""},
	})
}

func TestHandleDTCs(t *testing.T) {
	v := newVehicle(t, "petrol-p0420")
	runExchanges(t, v, []exchange{
		{engine, "03", true, "43 02 04 20 01 71"},
		{engine, "07", true, "47 01 03 00"},
		{engine, "0A", true, "4A 01 04 20"},
		{tcm, "03", true, "43 01 07 00"},
		{tcm, "07", true, "47 00"}, // CAN ECUs answer with a zero count
		{tcm, "0A", true, "4A 00"},
		{engine, "03 00", false, "7F 03 12"},
		{engine, "03 00", true, ""},
	})
}

func TestHandleMode09(t *testing.T) {
	v := newVehicle(t, "petrol-p0420")
	runExchanges(t, v, []exchange{
		{engine, "09 00", true, "49 00 55 40 00 00"},
		{engine, "09 02", true, "49 02 01 " + vinBytes},
		{engine, "09 04", true, "49 04 01 46 30 31 52 30 41 44 36 51 34 42 31 32 00 00 00"},
		{engine, "09 06", true, "49 06 01 2A 4F 9C 1B"},
		{engine, "09 08", true, "49 08 14 00 76 01 56 00 29 00 76 00 00 00 00 00 60 00 76 00 00 00 00" +
			"00 67 00 76 00 00 00 00 00 25 00 76 00 58 00 76 00 00 00 00"},
		{engine, "09 0A", true, "49 0A 01 45 43 4D 00 2D 45 6E 67 69 6E 65 43 6F 6E 74 72 6F 6C 00 00"},
		{engine, "09 0B", true, ""},
		{engine, "09 0B", false, "7F 09 12"},
		{engine, "09 02 04", false, "7F 09 12"},
		{tcm, "09 00", true, "49 00 14 40 00 00"},
		{tcm, "09 02", true, ""}, // the VIN lives in the engine ECU
		{tcm, "09 02", false, "7F 09 12"},
		{tcm, "09 0A", true, "49 0A 01 54 43 4D 00 2D 54 72 61 6E 73 6D 69 73 73 69 6F 6E 43 74 6C"},
	})
}

// TestHandleMode06: supported-MID bitmaps (several in one request), each
// monitor's tests in the SAE J1979 CAN layout, refusals, and Mode 04
// resetting the results to zero (not run since cleared).
func TestHandleMode06(t *testing.T) {
	v := newVehicle(t, "petrol-p0420")
	runExchanges(t, v, []exchange{
		{engine, "06 00", true, "46 00 C0 00 00 01"},
		{engine, "06 20", true, "46 20 80 00 00 00"},
		{engine, "06 00 20 40", false, "46 00 C0 00 00 01 20 80 00 00 00"},
		{engine, "06 01", true, "46 01 8E 0B 02 27 00 64 03 E8"},
		{engine, "06 21", true, "46 21 01 20 00 C9 00 00 00 C0"},
		{engine, "06 22", false, "7F 06 12"},
		{engine, "06 22", true, ""},
		{engine, "06 00 21", false, "7F 06 12"},
		{tcm, "06 00", true, ""},
		{engine, "04", false, "44"},
		{engine, "06 21", true, "46 21 01 20 00 00 00 00 00 00"},
	})
}

func TestHandleUnknownService(t *testing.T) {
	v := newVehicle(t, "petrol-p0420")
	runExchanges(t, v, []exchange{
		{engine, "22 F1 90", false, "7F 22 11"},
		{engine, "22 F1 90", true, ""},
		{tcm, "06 00", false, "7F 06 11"},
		{engine, "", false, ""},
		{engine, "", true, ""},
	})
}

func TestHandle29Bit(t *testing.T) {
	v := newVehicle(t, "petrol-29bit")
	runExchanges(t, v, []exchange{
		{0x18DAF110, "09 02", true, "49 02 01 4C 47 42 48 35 32 45 30 30 4B 59 30 30 30 31 31 37"},
		{0x18DAF110, "03", true, "43 02 04 20 01 71"},
		{0x18DAF118, "03", true, "43 01 07 00"},
	})
}

func TestClear(t *testing.T) {
	v := newVehicle(t, "petrol-p0420")
	if resp, ok := v.ECU(engine).Handle([]byte{0x04}, true); !ok || !bytes.Equal(resp, []byte{0x44}) {
		t.Fatalf("clear: % X %t, want 44", resp, ok)
	}
	runExchanges(t, v, []exchange{
		{engine, "03", true, "43 00"},
		{engine, "07", true, "47 00"},
		{engine, "0A", true, "4A 01 04 20"}, // permanent codes survive Mode 04
		// MIL off, no codes; continuous monitors stay complete, the others
		// (catalyst, EVAP, O2 sensor, O2 heater, EGR/VVT) become incomplete.
		{engine, "01 01", true, "41 01 00 07 E5 E5"},
		{engine, "01 21 4D 31 30 4E", true, "41 21 00 00 4D 00 00 31 00 00 30 00 4E 00 00"},
		{engine, "01 A6 0C", true, "41 A6 00 12 D6 87 0C 0C 30"}, // odometer and live data unchanged
		{engine, "02 02 00", true, "42 02 00 00 00"},
		{engine, "02 0C 00", true, ""},
		{engine, "02 0C 00", false, "7F 02 12"},
		{engine, "02 00 00", true, "42 00 00 40 00 00 00"},
		{tcm, "03", true, "43 01 07 00"}, // another ECU is untouched until it is cleared too
		{engine, "04 00", false, "7F 04 12"},
	})
	if _, ok := v.ECU(tcm).Handle([]byte{0x04}, false); !ok {
		t.Fatal("TCM did not answer the clear")
	}
	runExchanges(t, v, []exchange{
		{tcm, "03", true, "43 00"},
		{tcm, "01 01", true, "41 01 00 04 00 00"}, // comprehensive components is continuous
	})
}

func TestNewCopiesProfile(t *testing.T) {
	p := loadProfile(t, "petrol-p0420")
	v, err := New(p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	p.ECUs[0].Live["engine_speed"] = 3000
	p.ECUs[0].DTCs.Stored[0] = "P0101"
	p.ECUs[0].Readiness["catalyst"] = "complete"
	runExchanges(t, v, []exchange{
		{engine, "01 0C", true, "41 0C 0C 30"},
		{engine, "03", true, "43 02 04 20 01 71"},
		{engine, "01 01", true, "41 01 82 07 E5 01"},
	})
	v.ECU(engine).Handle([]byte{0x04}, true)
	if p.ECUs[0].Live["distance_since_clear"] != 2380 {
		t.Error("clearing the vehicle changed the profile")
	}
}

func TestHandleConcurrentWithClear(t *testing.T) {
	v := newVehicle(t, "petrol-p0420")
	e := v.ECU(engine)
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			for range 200 {
				for _, req := range [][]byte{{0x01, 0x01, 0x31}, {0x02, 0x02, 0x00}, {0x03}, {0x09, 0x02}} {
					if _, ok := e.Handle(req, true); !ok && req[0] != 0x02 {
						t.Errorf("worker %d: no answer to % X", i, req)
						return
					}
				}
			}
		})
	}
	wg.Go(func() {
		for range 50 {
			e.Handle([]byte{0x04}, true)
		}
	})
	wg.Wait()
	if resp, _ := e.Handle([]byte{0x03}, true); !bytes.Equal(resp, []byte{0x43, 0}) {
		t.Errorf("after clears: % X, want 43 00", resp)
	}
}

func TestVehicleAccessors(t *testing.T) {
	v := newVehicle(t, "petrol-p0420")
	if v.Name() != "petrol-p0420" || v.VIN() != "LFV2A21K8A4052691" {
		t.Errorf("name %q VIN %q", v.Name(), v.VIN())
	}
	var got []obd.ECU
	for _, e := range v.ECUs() {
		got = append(got, e.Address())
	}
	if len(got) != 2 || got[0] != engine || got[1] != tcm {
		t.Errorf("ECUs %v, want [7E8 7E9]", got)
	}
	if v.ECU(0x7EA) != nil {
		t.Error("ECU(7EA) found")
	}
}

// FuzzHandle checks that no request bytes make an ECU panic and that every
// answer is a positive response to the request's service or a negative
// response.
func FuzzHandle(f *testing.F) {
	for _, s := range []string{"0100", "010C0D05", "0101", "02020000", "020C01", "03", "04", "07", "0A",
		"0900", "0902", "0908", "22F190", "", "01000000000000000000", "0220"} {
		b, _ := hex.DecodeString(s)
		f.Add(b, false)
		f.Add(b, true)
	}
	p, err := Parse(strings.NewReader(minimalProfile))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, req []byte, functional bool) {
		v, err := New(p, Options{})
		if err != nil {
			t.Fatal(err)
		}
		resp, ok := v.ECUs()[0].Handle(req, functional)
		if !ok {
			return
		}
		if len(resp) == 0 {
			t.Fatalf("% X: ok with an empty response", req)
		}
		switch resp[0] {
		case req[0] + 0x40:
		case 0x7F:
			if functional || len(resp) != 3 || resp[1] != req[0] {
				t.Fatalf("% X (functional %t): bad negative response % X", req, functional, resp)
			}
		default:
			t.Fatalf("% X: response % X", req, resp)
		}
	})
}
