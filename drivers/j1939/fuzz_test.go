package j1939

import (
	"slices"
	"testing"
	"time"

	"go.einride.tech/can"

	"github.com/bayagent/bayagent/drivers/canbus"
)

// FuzzTransport feeds frames to a node's protocol handling (no goroutines):
// every 10 bytes of input are one frame (kind, source, destination, 7 data
// bytes after a first data byte). Delivered messages must match the size
// their transfer announced, and nothing may panic.
func FuzzTransport(f *testing.F) {
	rts := encodeCM(tpCM{control: cmRTS, size: 20, packets: 3, maxCTS: 2, pgn: PGNDM19})
	bam := encodeCM(tpCM{control: cmBAM, size: 10, packets: 2, pgn: PGNDM1})
	frame := func(kind byte, src, dst byte, data []byte) []byte {
		out := []byte{kind, src, dst}
		return append(out, append(data, make([]byte, 8)...)[:8]...)
	}
	var seed []byte
	seed = append(seed, frame(0, 0x00, 0xF9, rts)...)
	for seq := byte(1); seq <= 3; seq++ {
		seed = append(seed, frame(1, 0x00, 0xF9, []byte{seq, 1, 2, 3, 4, 5, 6, 7})...)
	}
	f.Add(seed)
	var bseed []byte
	bseed = append(bseed, frame(0, 0x3D, 0xFF, bam)...)
	bseed = append(bseed, frame(1, 0x3D, 0xFF, []byte{2, 9, 9, 9, 9, 9, 9, 9})...)
	bseed = append(bseed, frame(2, 0, 0, nil)...) // expire
	bseed = append(bseed, frame(1, 0x3D, 0xFF, []byte{1, 9, 9, 9, 9, 9, 9, 9})...)
	f.Add(bseed)
	f.Add(frame(0, 0x00, 0xF9, []byte{cmAbort, 3, 0xFF, 0xFF, 0xFF, 0x00, 0xD3, 0x00}))
	f.Fuzz(func(t *testing.T, in []byte) {
		conn := canbus.NewMemBus().Connect()
		defer conn.Close()
		n := newNode(conn, Config{Name: ToolName, Addresses: []uint8{0xF9}, PacketsPerCTS: 2, QueueLen: 4096})
		n.state, n.addr = stateClaimed, 0xF9
		rx := sessions{n: n, m: map[rxKey]*rxSession{}}
		announced := map[rxKey]int{}
		now := time.Now()
		for ; len(in) >= 11; in = in[11:] {
			kind, src, dst, data := in[0]%3, in[1], in[2], in[3:11]
			if kind == 2 {
				now = now.Add(2 * time.Second)
				n.expire(rx, now)
				continue
			}
			pgn := PGNTPCM
			if kind == 1 {
				pgn = PGNTPDT
			}
			h := Header{Priority: 7, PGN: pgn, Source: src, Dest: dst}
			if kind == 0 {
				if c, err := decodeCM(data); err == nil && (c.control == cmRTS || c.control == cmBAM) {
					announced[rxKey{src, dst}] = c.size
				}
			}
			fr := can.Frame{ID: h.ID(), IsExtended: true, Length: 8}
			copy(fr.Data[:], data)
			n.handle(fr, rx)
		}
		for {
			select {
			case ev := <-n.events:
				if ev.err == nil && len(ev.msg.Data) != announced[rxKey{ev.msg.Source, ev.msg.Dest}] {
					t.Fatalf("message of %d bytes, transfer announced %d", len(ev.msg.Data), announced[rxKey{ev.msg.Source, ev.msg.Dest}])
				}
				if len(ev.msg.Data) > MaxMessageLen {
					t.Fatal("message too long")
				}
				continue
			default:
			}
			break
		}
	})
}

func FuzzDM1(f *testing.F) {
	f.Add([]byte{0x40, 0xFF, 0x9A, 0x0C, 0x00, 0x03, 0xFF, 0xFF})
	f.Add([]byte{0x00, 0xFF, 0, 0, 0, 0, 0xFF, 0xFF})
	f.Add([]byte{0x44, 0xFF, 0x9A, 0x0C, 0x00, 0x03, 0x7E, 0x14, 0x12, 0x81})
	f.Fuzz(func(t *testing.T, b []byte) {
		dc, err := ParseDM1(b)
		if err != nil {
			return
		}
		again, err := ParseDM1(EncodeDM1(dc))
		if err != nil || again.Lamps != dc.Lamps || !slices.Equal(again.DTCs, dc.DTCs) {
			t.Fatalf("round trip of %+v: %+v %v", dc, again, err)
		}
		for _, d := range dc.DTCs {
			_ = d.OBD()
		}
	})
}

func FuzzDM5(f *testing.F) {
	f.Add([]byte{1, 1, 43, 0x05, 0x80, 0x0D, 0x00, 0x0C})
	f.Add([]byte{0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseDM5(b)
		if err != nil {
			return
		}
		st := r.MonitorStatus(true)
		if len(st.Monitors) != 9 {
			t.Fatalf("%d compression monitors", len(st.Monitors))
		}
		_ = r.ComplianceText()
		enc, err := EncodeDM5(r)
		if err != nil {
			t.Fatal(err)
		}
		again, err := ParseDM5(enc)
		if err != nil || !slices.Equal(again.Monitors, r.Monitors) {
			t.Fatalf("round trip: %v", err)
		}
	})
}

func FuzzDM19(f *testing.F) {
	b, _ := EncodeDM19([]Calibration{{CALID: "EDC17CV44P1234", CVN: "1A2B3C4D"}, {CALID: "SCR-ATS-0417-B2", CVN: "5E6F7081"}})
	f.Add(b)
	f.Add(b[:20])
	f.Fuzz(func(t *testing.T, b []byte) {
		cals, err := ParseDM19(b)
		if err != nil {
			return
		}
		enc, err := EncodeDM19(cals)
		if err != nil {
			t.Fatalf("re-encode %v: %v", cals, err)
		}
		again, err := ParseDM19(enc)
		if err != nil || !slices.Equal(again, cals) {
			t.Fatalf("round trip %v: %v %v", cals, again, err)
		}
	})
}

func FuzzDM20(f *testing.F) {
	f.Add(EncodeDM20(MonitorRatios{IgnitionCycles: 842, OBDConditions: 611, Monitors: []MonitorRatio{{SPN: 27, Numerator: 410, Denominator: 611}}}))
	f.Add([]byte{1, 0, 2, 0, 0xFF, 0xFF, 0xFF, 0xFF})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseDM20(b)
		if err != nil {
			return
		}
		_ = r.IUPR()
		again, err := ParseDM20(EncodeDM20(r))
		if err != nil || !slices.Equal(again.Monitors, r.Monitors) {
			t.Fatalf("round trip: %v", err)
		}
	})
}

func FuzzDM21(f *testing.F) {
	f.Add([]byte{86, 0, 0x7E, 0x3B, 140, 0, 0x80, 0xBB})
	f.Add([]byte{0xFF, 0xFF, 0x00, 0xFE, 0xFF, 0xFA, 0x00, 0xFB})
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseDM21(b)
		if err != nil {
			return
		}
		vals := r.Values()
		if len(vals) > 4 {
			t.Fatalf("%d values", len(vals))
		}
		for _, v := range vals {
			if v.Value < 0 || v.Value > 0xFAFF {
				t.Fatalf("value %+v out of range", v)
			}
		}
		enc, err := EncodeDM21(r)
		if err != nil {
			t.Fatal(err)
		}
		again, err := ParseDM21(enc)
		if err != nil || !slices.Equal(again.Values(), vals) {
			t.Fatalf("round trip % X: %+v %v", b, again.Values(), err)
		}
	})
}

func FuzzVIN(f *testing.F) {
	f.Add([]byte("LZZ1CLSB1KA000789*"))
	f.Add([]byte("LZZ1CLSB1KA000789"))
	f.Add([]byte("*"))
	f.Fuzz(func(t *testing.T, b []byte) {
		vin, err := ParseVIN(b)
		for i := 0; i < len(vin); i++ {
			if vin[i] < 0x21 || vin[i] > 0x7E || vin[i] == '*' {
				t.Fatalf("VIN %q holds an invisible byte or the delimiter", vin)
			}
		}
		if err != nil {
			return
		}
		if vin == "" {
			t.Fatalf("VIN %q", vin)
		}
		if again, err := ParseVIN(EncodeVIN(vin)); err != nil || again != vin {
			t.Fatalf("round trip %q: %q %v", vin, again, err)
		}
		_, _, _ = ParseEngineHours(b)
		_, _, _ = ParseVehicleDistance(b)
		_, _, _ = ParseHighResDistance(b)
		_, _ = ParseAck(b)
		_, _ = ParseName(b)
	})
}
