package j1939

import (
	"bytes"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode"

	"github.com/bayagent/bayagent/drivers/obd"
)

func TestParseID(t *testing.T) {
	for _, tc := range []struct {
		id   uint32
		want Header
	}{
		{0x18FECA3D, Header{Priority: 6, PGN: PGNDM1, Source: 0x3D, Dest: AddressGlobal}},
		{0x18EA00F9, Header{Priority: 6, PGN: PGNRequest, Source: 0xF9, Dest: 0x00}},
		{0x1CECF900, Header{Priority: 7, PGN: PGNTPCM, Source: 0x00, Dest: 0xF9}},
		{0x18D3FF00, Header{Priority: 6, PGN: PGNDM19, Source: 0x00, Dest: AddressGlobal}},
		{0x0CF00400, Header{Priority: 3, PGN: 61444, Source: 0x00, Dest: AddressGlobal}},
		{0x19FECA00, Header{Priority: 6, PGN: 0x1FECA, Source: 0x00, Dest: AddressGlobal}}, // data page 1
	} {
		got := ParseID(tc.id)
		if got != tc.want {
			t.Errorf("ParseID(%08X) = %+v, want %+v", tc.id, got, tc.want)
		}
		if back := got.ID(); back != tc.id {
			t.Errorf("%+v.ID() = %08X, want %08X", got, back, tc.id)
		}
	}
	if PGNDM19.PDU1() != true || PGNDM1.PDU1() != false {
		t.Error("PDU1: DM19 is destination specific, DM1 is not")
	}
}

func TestName(t *testing.T) {
	f := ToolName.Fields()
	if !f.ArbitraryAddress || f.IndustryGroup != 0 || f.Function != FunctionOffboardTool || f.Identity != 1 {
		t.Errorf("ToolName fields %+v", f)
	}
	n := MakeName(NameFields{ArbitraryAddress: true, IndustryGroup: 7, VehicleSystemInstance: 15, VehicleSystem: 127, Function: 255, FunctionInstance: 31, ECUInstance: 7, Manufacturer: 2047, Identity: 0x1FFFFF})
	if uint64(n) != 0xFFFEFFFFFFFFFFFF {
		t.Errorf("all fields set = %016X", uint64(n))
	}
	got, err := ParseName(ToolName.Bytes())
	if err != nil || got != ToolName {
		t.Errorf("ParseName(Bytes) = %v, %v", got, err)
	}
	if _, err := ParseName([]byte{1, 2}); !errors.Is(err, ErrShortData) {
		t.Errorf("short NAME: %v", err)
	}
	if a := ToolAddresses(); a[0] != 0xF9 || a[1] != 0xFA || slices.Contains(a, AddressNull) {
		t.Errorf("tool addresses %v", a)
	}
}

func TestDM1(t *testing.T) {
	for _, tc := range []struct {
		name string
		data []byte
		want DiagnosticCodes
		err  error
	}{
		{"none", []byte{0x00, 0xFF, 0, 0, 0, 0, 0xFF, 0xFF}, DiagnosticCodes{Lamps: Lamps{MILFlash: 3, RedStopFlash: 3, AmberWarningFlash: 3, ProtectFlash: 3}, DTCs: []DTC{}}, nil},
		{"one, MIL on", []byte{0x40, 0xFF, 0x9A, 0x0C, 0x00, 0x03, 0xFF, 0xFF},
			DiagnosticCodes{Lamps: Lamps{MIL: LampOn, MILFlash: 3, RedStopFlash: 3, AmberWarningFlash: 3, ProtectFlash: 3}, DTCs: []DTC{{SPN: 3226, FMI: 0, Occurrences: 3}}}, nil},
		{"high SPN bits, CM 1", []byte{0x15, 0x00, 0xFF, 0xFF, 0xFF, 0xFE}, // 3 lamps on
			DiagnosticCodes{Lamps: Lamps{RedStop: LampOn, AmberWarning: LampOn, Protect: LampOn}, DTCs: []DTC{{SPN: 0x7FFFF, FMI: 31, Occurrences: 126, ConversionMethod: 1}}}, nil},
		{"short", []byte{0x40}, DiagnosticCodes{}, ErrShortData},
		{"ragged", []byte{0x40, 0xFF, 0x9A, 0x0C, 0x00, 0x03, 0x01}, DiagnosticCodes{}, ErrFormat},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseDM1(tc.data)
			if !errors.Is(err, tc.err) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			if err != nil {
				return
			}
			if got.Lamps != tc.want.Lamps || !slices.Equal(got.DTCs, tc.want.DTCs) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
	two := DiagnosticCodes{Lamps: Lamps{MIL: LampOn}, DTCs: []DTC{{SPN: 3226, Occurrences: 3}, {SPN: 4364, FMI: 18, Occurrences: 1}}}
	b := EncodeDM1(two)
	if len(b) != 10 {
		t.Errorf("two codes encode to %d bytes, want 10 (multi-packet)", len(b))
	}
	if got, err := ParseDM1(b); err != nil || !slices.Equal(got.DTCs, two.DTCs) {
		t.Errorf("round trip: %+v, %v", got, err)
	}
}

func TestDTCText(t *testing.T) {
	d := DTC{SPN: 3226, FMI: 0, Occurrences: 3}.OBD()
	if d.Code != "SPN 3226 FMI 0" || d.Description != "Aftertreatment 1 outlet NOx 1: data valid but above normal operational range - most severe level" {
		t.Errorf("%+v", d)
	}
	if d.J1939 != (obd.J1939Code{SPN: 3226, Occurrences: 3}) {
		t.Errorf("J1939 fields %+v", d.J1939)
	}
	if got := SPNName(999999); got != "unknown SPN 999999" {
		t.Error(got)
	}
	if got := FMIDescription(25); !strings.Contains(got, "reserved") {
		t.Error(got)
	}
	for _, spn := range []uint32{3226, 5246, 3251, 4364, 3364, 1761, 102, 110, 190, 91, 3719, 3720, 4094, 5394, 4765, 27, 412} {
		if strings.HasPrefix(SPNName(spn), "unknown") {
			t.Errorf("SPN %d has no name", spn)
		}
	}
}

// TestNamesInChinese checks that every named SPN and every FMI 0-31 has a
// Chinese text, and spot-checks the terms against the English.
func TestNamesInChinese(t *testing.T) {
	han := func(s string) bool {
		return strings.ContainsFunc(s, func(r rune) bool { return unicode.Is(unicode.Han, r) })
	}
	spns := make([]uint32, 0, len(spnNames))
	for spn := range spnNames {
		spns = append(spns, spn)
	}
	slices.Sort(spns)
	for _, spn := range spns {
		en, zh := SPNNameIn(spn, "en"), SPNNameIn(spn, "zh-CN")
		if en != SPNName(spn) || en == "" || strings.HasPrefix(en, "unknown") {
			t.Errorf("SPN %d: English name %q", spn, en)
		}
		if !han(zh) || zh == en {
			t.Errorf("SPN %d: Chinese name %q (English %q)", spn, zh, en)
		}
	}
	for fmi := uint8(0); fmi < 32; fmi++ {
		en, zh := FMIDescriptionIn(fmi, "en"), FMIDescriptionIn(fmi, "zh")
		if en != FMIDescription(fmi) || en == "" || !han(zh) {
			t.Errorf("FMI %d: %q / %q", fmi, en, zh)
		}
		if reserved := fmi >= 22 && fmi <= 30; reserved != strings.Contains(zh, "SAE预留") {
			t.Errorf("FMI %d: Chinese %q, reserved = %v", fmi, zh, reserved)
		}
	}
	for _, tt := range []struct {
		spn  uint32
		fmi  uint8
		want string
	}{
		{3226, 0, "后处理1出口NOx 1：数据有效但高于正常工作范围-最严重级别"},
		{110, 3, "发动机冷却液温度：电压高于正常值或对高电位短路"},
		{1761, 1, "后处理1尿素箱液位：数据有效但低于正常工作范围-最严重级别"},
		{5246, 31, "后处理SCR驾驶员诱导（限扭）严重等级：状况存在"},
		{999999, 25, "未知SPN 999999：FMI 25 为SAE预留"},
	} {
		d := DTC{SPN: tt.spn, FMI: tt.fmi}
		if got := d.DescriptionIn("zh-CN"); got != tt.want {
			t.Errorf("SPN %d FMI %d in zh-CN = %q, want %q", tt.spn, tt.fmi, got, tt.want)
		}
		if got := DescribeIn(tt.spn, tt.fmi, "en"); got != d.Description() {
			t.Errorf("SPN %d FMI %d: DescribeIn en %q, Description %q", tt.spn, tt.fmi, got, d.Description())
		}
		if got := DescribeIn(tt.spn, tt.fmi, "fr"); got != d.Description() {
			t.Errorf("SPN %d FMI %d: an unknown tag gives %q, want English", tt.spn, tt.fmi, got)
		}
	}
}

func TestDM5(t *testing.T) {
	r := Readiness{ActiveDTCs: 1, PreviousDTCs: 1, OBDCompliance: 43, Monitors: []DM5Monitor{
		{Name: "misfire", Supported: true, Complete: true},
		{Name: "components", Supported: true, Complete: true},
		{Name: "nox_scr", Supported: true},
		{Name: "pm_filter", Supported: true},
		{Name: "egr_vvt", Supported: true, Complete: true},
		{Name: "cold_start_aid", Supported: true, Complete: true},
	}}
	b, err := EncodeDM5(r)
	if err != nil {
		t.Fatal(err)
	}
	if want := []byte{1, 1, 43, 0x05, 0x80, 0x0D, 0x00, 0x0C}; !slices.Equal(b, want) {
		t.Errorf("EncodeDM5 = % X, want % X", b, want)
	}
	got, err := ParseDM5(b)
	if err != nil {
		t.Fatal(err)
	}
	if got.ComplianceText() != "China heavy duty stage VI (CN-HDOBD-VI)" {
		t.Errorf("compliance %q", got.ComplianceText())
	}
	st := got.MonitorStatus(true)
	codes := map[string]int{}
	for _, m := range st.Monitors {
		codes[m.Name] = m.Code
	}
	want := map[string]int{"misfire": 1, "fuel_system": 0, "components": 1, "nmhc_catalyst": 0, "nox_scr": 2, "boost_pressure": 0, "exhaust_gas_sensor": 0, "pm_filter": 2, "egr_vvt": 1}
	if !st.MIL || st.Ignition != obd.IgnitionCompression || st.DTCCount != 1 || len(codes) != len(want) {
		t.Errorf("status %+v", st)
	}
	for k, v := range want {
		if codes[k] != v {
			t.Errorf("%s = %d, want %d", k, codes[k], v)
		}
	}
	if _, err := EncodeDM5(Readiness{Monitors: []DM5Monitor{{Name: "catalyst_bank9"}}}); !errors.Is(err, ErrFormat) {
		t.Errorf("unknown monitor: %v", err)
	}
	if _, err := ParseDM5(b[:7]); !errors.Is(err, ErrShortData) {
		t.Errorf("short DM5: %v", err)
	}
}

func TestDM19(t *testing.T) {
	cals := []Calibration{{CALID: "EDC17CV44P1234", CVN: "1A2B3C4D"}, {CALID: "0123456789ABCDEF", CVN: "00000001"}}
	b, err := EncodeDM19(cals)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != 40 || b[0] != 0x4D || b[3] != 0x1A {
		t.Errorf("DM19 % X: want 40 bytes, CVN least significant byte first", b)
	}
	got, err := ParseDM19(b)
	if err != nil || !slices.Equal(got, cals) {
		t.Errorf("round trip %v, %v", got, err)
	}
	for _, bad := range [][]byte{nil, b[:39], append(append([]byte{}, b[:4]...), 0x01, 'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J', 'K', 'L', 'M', 'N', 'O')} {
		if _, err := ParseDM19(bad); err == nil {
			t.Errorf("ParseDM19(% X) accepted", bad)
		}
	}
	if _, err := EncodeDM19([]Calibration{{CALID: "X", CVN: "12"}}); !errors.Is(err, ErrFormat) {
		t.Errorf("bad CVN: %v", err)
	}
}

func TestDM20(t *testing.T) {
	r := MonitorRatios{IgnitionCycles: 842, OBDConditions: 611, Monitors: []MonitorRatio{{SPN: 27, Numerator: 410, Denominator: 611}, {SPN: 0x7FFFF, Numerator: 1, Denominator: 0}}}
	got, err := ParseDM20(EncodeDM20(r))
	if err != nil || got.IgnitionCycles != 842 || got.OBDConditions != 611 || !slices.Equal(got.Monitors, r.Monitors) {
		t.Errorf("round trip %+v, %v", got, err)
	}
	iupr := got.IUPR()
	if iupr.IgnCntr != 842 || iupr.Monitors[0].Name != "spn_27" || iupr.Monitors[0].Ratio < 0.67 || iupr.Monitors[1].Ratio != 0 {
		t.Errorf("IUPR %+v", iupr)
	}
	if got, err := ParseDM20(EncodeDM20(MonitorRatios{IgnitionCycles: 1})); err != nil || len(got.Monitors) != 0 {
		t.Errorf("no monitors: %+v %v", got, err)
	}
	if _, err := ParseDM20([]byte{1, 2, 3, 4, 5}); !errors.Is(err, ErrFormat) {
		t.Errorf("ragged DM20: %v", err)
	}
	// J1939-73 places the monitor SPN (SPN 3066) at bit 1 of the entry, 19
	// bits long: SPN 5322 (0x14CA, NMHC converting catalyst) is CA 14 F8 with
	// the undefined bits set; SPN 0x7FFFF is FF FF FF. The DM1 layout would
	// read byte 3's top bits instead.
	raw := []byte{0x4A, 0x03, 0x63, 0x02, 0xCA, 0x14, 0xF8, 0x10, 0x00, 0x20, 0x00, 0xFF, 0xFF, 0xFF, 0x01, 0x00, 0x02, 0x00}
	got, err = ParseDM20(raw)
	want := []MonitorRatio{{SPN: 5322, Numerator: 16, Denominator: 32}, {SPN: 0x7FFFF, Numerator: 1, Denominator: 2}}
	if err != nil || got.IgnitionCycles != 842 || got.OBDConditions != 611 || !slices.Equal(got.Monitors, want) {
		t.Errorf("ParseDM20(% X) = %+v, %v; want %+v", raw, got, err, want)
	}
	if enc := EncodeDM20(got); !bytes.Equal(enc, raw) {
		t.Errorf("EncodeDM20 = % X, want % X", enc, raw)
	}
}

func TestDM21(t *testing.T) {
	u := func(v uint16) *uint16 { return &v }
	val := func(p *uint16) string {
		if p == nil {
			return "n/a"
		}
		return strconv.Itoa(int(*p))
	}
	for _, tc := range []struct {
		name string
		data []byte
		want Readiness2
		err  error
	}{
		{"all set", []byte{86, 0, 0x7E, 0x3B, 140, 0, 0x80, 0xBB}, Readiness2{u(86), u(15230), u(140), u(48000)}, nil},
		{"MIL never on", []byte{0, 0, 0x7E, 0x3B, 0, 0, 0x80, 0xBB}, Readiness2{u(0), u(15230), u(0), u(48000)}, nil},
		{"largest valid", []byte{0xFF, 0xFA, 0, 0, 0, 0, 0, 0}, Readiness2{u(0xFAFF), u(0), u(0), u(0)}, nil},
		{"not available, error, reserved", []byte{0xFF, 0xFF, 0x00, 0xFE, 0x00, 0xFB, 0x10, 0x00}, Readiness2{nil, nil, nil, u(16)}, nil},
		{"longer than 8 bytes", []byte{1, 0, 2, 0, 3, 0, 4, 0, 0xFF}, Readiness2{u(1), u(2), u(3), u(4)}, nil},
		{"short", []byte{86, 0, 0x7E, 0x3B, 140, 0, 0x80}, Readiness2{}, ErrShortData},
		{"empty", nil, Readiness2{}, ErrShortData},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseDM21(tc.data)
			if !errors.Is(err, tc.err) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			for i, pair := range [][2]*uint16{
				{got.DistanceWithMIL, tc.want.DistanceWithMIL}, {got.DistanceSinceClear, tc.want.DistanceSinceClear},
				{got.MinutesWithMIL, tc.want.MinutesWithMIL}, {got.MinutesSinceClear, tc.want.MinutesSinceClear},
			} {
				if val(pair[0]) != val(pair[1]) {
					t.Errorf("parameter %d = %s, want %s", i+1, val(pair[0]), val(pair[1]))
				}
			}
			if err != nil {
				return
			}
			b, err := EncodeDM21(got)
			if err != nil {
				t.Fatal(err)
			}
			again, err := ParseDM21(b)
			if err != nil || !slices.Equal(again.Values(), got.Values()) {
				t.Errorf("round trip % X: %+v %v", b, again.Values(), err)
			}
		})
	}
	b, err := EncodeDM21(Readiness2{DistanceSinceClear: u(15230), MinutesSinceClear: u(48000)})
	if want := []byte{0xFF, 0xFF, 0x7E, 0x3B, 0xFF, 0xFF, 0x80, 0xBB}; err != nil || !slices.Equal(b, want) {
		t.Errorf("EncodeDM21 = % X, %v; want % X", b, err, want)
	}
	if _, err := EncodeDM21(Readiness2{MinutesWithMIL: u(0xFB00)}); !errors.Is(err, ErrFormat) {
		t.Errorf("minutes 0xFB00: %v, want ErrFormat", err)
	}
	r, _ := ParseDM21([]byte{86, 0, 0x7E, 0x3B, 0xFF, 0xFF, 0x80, 0xBB})
	want := []obd.Value{
		{Name: "distance_with_mil", Label: "Distance traveled with MIL on", Value: 86, Unit: "km"},
		{Name: "distance_since_clear", Label: "Distance traveled since codes cleared", Value: 15230, Unit: "km"},
		{Name: "time_since_clear", Label: "Time since codes cleared", Value: 48000, Unit: "min"},
	}
	if got := r.Values(); !slices.Equal(got, want) {
		t.Errorf("Values = %+v, want %+v", got, want)
	}
	// The names, labels and units are those of the OBD-II PIDs.
	for pid, v := range map[obd.PID]obd.Value{0x21: want[0], 0x31: want[1], 0x4E: want[2], 0x4D: {Name: "time_with_mil", Unit: "min"}} {
		got, err := obd.DecodePID(pid, []byte{0, 1})
		if err != nil || len(got) != 1 || got[0].Name != v.Name || got[0].Unit != v.Unit || (v.Label != "" && got[0].Label != v.Label) {
			t.Errorf("PID %s decodes to %+v %v, DM21 gives %+v", pid, got, err, v)
		}
	}
}

func TestVehicleMessages(t *testing.T) {
	if v, err := ParseVIN(EncodeVIN("LZZ1CLSB1KA000789")); v != "LZZ1CLSB1KA000789" || err != nil {
		t.Errorf("VIN %q %v", v, err)
	}
	if v, err := ParseVIN([]byte("LZZ1CLSB1KA000789*MAKE*")); v != "LZZ1CLSB1KA000789" || err != nil {
		t.Errorf("VIN with more fields %q %v", v, err)
	}
	for _, bad := range [][]byte{nil, []byte("*")} {
		if v, err := ParseVIN(bad); !errors.Is(err, ErrFormat) || v != "" {
			t.Errorf("ParseVIN(%q) = %q, %v", bad, v, err)
		}
	}
	// Bytes that are not printable stay visible, trailing padding too: the
	// caller sees what the controller sent, and is told it is malformed.
	for _, tc := range []struct {
		in   string
		want string
	}{
		{"AB\x01C*", `AB\x01C`},
		{"LZZ1CLSB1KA000789\x00\x00*", `LZZ1CLSB1KA000789\x00\x00`},
		{"LZZ1CLSB1KA000789\xFF", `LZZ1CLSB1KA000789\xFF`},
		{"LZZ1CLSB1KA000789  *", `LZZ1CLSB1KA000789\x20\x20`},
	} {
		v, err := ParseVIN([]byte(tc.in))
		if !errors.Is(err, ErrFormat) || v != tc.want {
			t.Errorf("ParseVIN(%q) = %q, %v; want %q and ErrFormat", tc.in, v, err, tc.want)
		}
	}
	if h, ok, err := ParseEngineHours(EncodeEngineHours(5123.45)); !ok || err != nil || h < 5123.449 || h > 5123.451 {
		t.Errorf("hours %g %t %v", h, ok, err)
	}
	if _, ok, err := ParseEngineHours([]byte{0xFF, 0xFF, 0xFF, 0xFF}); ok || err != nil {
		t.Errorf("hours not available: ok=%t %v", ok, err)
	}
	if km, ok, err := ParseVehicleDistance(EncodeVehicleDistance(234567.875)); !ok || err != nil || km != 234567.875 {
		t.Errorf("distance %g %t %v", km, ok, err)
	}
	if km, ok, err := ParseHighResDistance([]byte{0x40, 0x42, 0x0F, 0x00}); !ok || err != nil || km != 5000 {
		t.Errorf("high resolution distance %g %t %v", km, ok, err)
	}
	if _, _, err := ParseVehicleDistance([]byte{1, 2, 3}); !errors.Is(err, ErrShortData) {
		t.Errorf("short distance: %v", err)
	}
	if a, err := ParseAck(EncodeAck(Acknowledgement{Control: Nack, Address: 0xF9, PGN: PGNDM20})); err != nil || a.PGN != PGNDM20 || a.Control != Nack || a.Address != 0xF9 {
		t.Errorf("ack %+v %v", a, err)
	}
	if p, err := ParseRequest(RequestData(PGNDM19)); p != PGNDM19 || err != nil {
		t.Errorf("request %d %v", p, err)
	}
}

func TestTPCM(t *testing.T) {
	for _, c := range []tpCM{
		{control: cmRTS, size: 20, packets: 3, maxCTS: 255, pgn: PGNDM19},
		{control: cmCTS, packets: 2, next: 1, pgn: PGNDM19},
		{control: cmEoMA, size: 1785, packets: 255, pgn: PGNVehicleIdent},
		{control: cmBAM, size: 10, packets: 2, pgn: PGNDM1},
		{control: cmAbort, reason: ReasonTimeout, pgn: PGNDM20},
	} {
		got, err := decodeCM(encodeCM(c))
		if err != nil || got != c {
			t.Errorf("round trip %+v: %+v %v", c, got, err)
		}
	}
	for _, bad := range [][]byte{
		{cmRTS, 8, 0, 2, 255, 0, 0, 0},      // too small for TP
		{cmRTS, 20, 0, 4, 255, 0, 0, 0},     // wrong packet count
		{cmBAM, 0xFA, 0x06, 255, 255, 0, 0}, // short
		{cmRTS, 20, 0, 3, 0, 0, 0, 0},       // 0 packets per CTS
		{cmCTS, 1, 0, 255, 255, 0, 0, 0},    // sequence 0
		{7, 0, 0, 0, 0, 0, 0, 0},            // unknown control
	} {
		if _, err := decodeCM(bad); !errors.Is(err, ErrTransport) {
			t.Errorf("decodeCM(% X) = %v, want ErrTransport", bad, err)
		}
	}
	if _, err := decodeCM([]byte{cmRTS, 0xFA, 0x06, 0xFF, 255, 0, 0, 0}); !errors.Is(err, ErrTooLong) {
		t.Errorf("1786 bytes: %v", err)
	}
}
