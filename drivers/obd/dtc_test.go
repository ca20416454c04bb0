package obd

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode"
)

// dtcTableEntries is the number of codes in dtc_generic.tsv. Lower it only
// when removing a wrong entry on purpose.
const dtcTableEntries = 3475

var dtcCodeRE = regexp.MustCompile(`^[PCBU][0-3][0-9A-F]{3}$`)

// zhAbbrev are the Latin-letter words a Chinese description may keep: the
// abbreviations a technician reads as such. Any other Latin word in the
// Chinese column is an untranslated leftover.
var zhAbbrev = map[string]bool{
	"ABS": true, "CAN": true, "COP": true, "DC": true, "ECM": true, "EEPROM": true, "EVAP": true,
	"HC": true, "HVAC": true, "IMT": true, "IPC": true, "KAM": true, "MAF": true, "MAP": true,
	"MIL": true, "NOx": true, "PCM": true, "PRNDL": true, "PTO": true, "PWM": true, "RAM": true,
	"ROM": true, "TCM": true, "TCS": true, "VIN": true, "WD": true,
}

var latinWordRE = regexp.MustCompile(`[A-Za-z][A-Za-z0-9]+`)

func TestDTCTableFile(t *testing.T) {
	// Check the file line by line, independently of parseDTCTable.
	seen := map[string]bool{}
	prev, entries, line := "", 0, 0
	sc := bufio.NewScanner(strings.NewReader(dtcGenericTSV))
	for sc.Scan() {
		line++
		text := sc.Text()
		if line == 1 && !strings.HasPrefix(text, "#") {
			t.Errorf("line 1 should be a header comment, got %q", text)
		}
		if strings.HasPrefix(text, "#") {
			continue
		}
		fields := strings.Split(text, "\t")
		if len(fields) != 3 {
			t.Errorf("line %d: want 3 tab-separated fields, got %d: %q", line, len(fields), text)
			continue
		}
		code, en, zh := fields[0], fields[1], fields[2]
		if !dtcCodeRE.MatchString(code) {
			t.Errorf("line %d: invalid code %q", line, code)
		}
		for _, desc := range []string{en, zh} {
			if desc == "" || strings.TrimSpace(desc) != desc || strings.Contains(desc, "  ") {
				t.Errorf("line %d: %s: bad description %q", line, code, desc)
			}
		}
		if strings.ContainsFunc(en, func(r rune) bool { return r > unicode.MaxASCII }) {
			t.Errorf("line %d: %s: English description %q has non-ASCII text", line, code, en)
		}
		if !strings.ContainsFunc(zh, func(r rune) bool { return unicode.Is(unicode.Han, r) }) {
			t.Errorf("line %d: %s: Chinese description %q has no Chinese text", line, code, zh)
		}
		for _, w := range latinWordRE.FindAllString(zh, -1) {
			if !zhAbbrev[w] {
				t.Errorf("line %d: %s: Chinese description %q keeps the English word %q", line, code, zh, w)
			}
		}
		if seen[code] {
			t.Errorf("line %d: duplicate %s", line, code)
		}
		if prev != "" && !dtcLess(prev, code) {
			t.Errorf("line %d: %s not sorted after %s", line, code, prev)
		}
		if isManufacturerDTC(code) {
			t.Errorf("line %d: %s is in a manufacturer-controlled range", line, code)
		}
		seen[code] = true
		prev = code
		entries++
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if entries != dtcTableEntries {
		t.Errorf("table has %d entries, want %d", entries, dtcTableEntries)
	}

	m, err := parseDTCTable(dtcGenericTSV)
	if err != nil {
		t.Fatalf("parseDTCTable: %v", err)
	}
	if len(m) != entries {
		t.Errorf("parsed %d entries, file has %d", len(m), entries)
	}

	// The generic powertrain range must be broad: every block of a hundred
	// in P0000-P0999 is nearly complete.
	for block := 0; block < 10; block++ {
		n := 0
		for i := 0; i < 100; i++ {
			if _, ok := m[fmt.Sprintf("P0%d%02d", block, i)]; ok {
				n++
			}
		}
		if n < 90 {
			t.Errorf("P0%d00-P0%d99: only %d codes", block, block, n)
		}
	}
	// Each letter has its generic codes.
	for letter, min := range map[byte]int{'P': 2500, 'C': 250, 'B': 350, 'U': 300} {
		n := 0
		for code := range m {
			if code[0] == letter {
				n++
			}
		}
		if n < min {
			t.Errorf("%c codes: %d, want at least %d", letter, n, min)
		}
	}
}

// TestDTCRangesResolve checks the ranges that used to come back as "unknown
// code": every code of each run below is in the table, in both languages.
func TestDTCRangesResolve(t *testing.T) {
	runs := []struct{ first, last string }{
		{"P0A00", "P0AFB"}, // hybrid (hex run)
		{"P2500", "P2590"},
		{"P2600", "P2689"},
		{"P2700", "P2799"},
		{"P2800", "P2830"}, // hex run
		{"P2A00", "P2A09"},
		{"P3400", "P3497"},
		{"U0170", "U017D"}, // hex run
		{"U0180", "U0199"},
		{"U0200", "U0252"},
		{"U0291", "U0299"},
		{"U0300", "U0331"},
		{"U0400", "U0439"},
		{"B0001", "B0005"},
		{"B0050", "B0058"},
		{"B0100", "B0103"},
		{"C0030", "C003E"}, // hex run
		{"C0200", "C0203"},
	}
	for _, r := range runs {
		hex := strings.ContainsAny(r.first[1:]+r.last[1:], "ABCDEF") || r.first == "P0A00"
		a, _ := EncodeDTC(r.first)
		b, _ := EncodeDTC(r.last)
		lo, hi := int(a[0])<<8|int(a[1]), int(b[0])<<8|int(b[1])
		if lo > hi {
			t.Fatalf("run %s-%s is backwards", r.first, r.last)
		}
		for v := lo; v <= hi; v++ {
			code := DecodeDTC(byte(v>>8), byte(v))
			if !hex && strings.ContainsAny(code[2:], "ABCDEF") {
				continue // a decimal run: P2590 follows P2589, not P258A
			}
			for _, tag := range []string{"en", "zh-CN"} {
				if desc, known := DescribeDTCIn(code, tag); !known {
					t.Errorf("DescribeDTCIn(%s, %s) = %q, unknown", code, tag, desc)
				}
			}
		}
	}
}

// TestDescribeDTCKnown spot-checks codes against the public references the
// table is written from (see the header of dtc_generic.tsv): python-OBD
// codes.py, AndrOBD codes.properties, OBDIICodes 24.h, and the all-maker B0
// restraint list.
func TestDescribeDTCKnown(t *testing.T) {
	tests := []struct {
		code  string
		words []string
	}{
		{"P0420", []string{"Catalyst System Efficiency Below Threshold", "Bank 1"}},
		{"P0430", []string{"Catalyst System Efficiency Below Threshold", "Bank 2"}},
		{"P0171", []string{"System Too Lean", "Bank 1"}},
		{"P0174", []string{"System Too Lean", "Bank 2"}},
		{"P0300", []string{"Random/Multiple Cylinder Misfire Detected"}},
		{"P0304", []string{"Cylinder 4 Misfire Detected"}},
		{"P0700", []string{"Transmission Control System"}},
		{"P0128", []string{"Coolant Thermostat", "Below Thermostat Regulating Temperature"}},
		{"P0442", []string{"Evaporative Emission", "Leak Detected", "small leak"}},
		{"P0455", []string{"Evaporative Emission", "Leak Detected", "large leak"}},
		{"P0456", []string{"very small leak"}},
		{"P0101", []string{"Air Flow", "Range/Performance"}},
		{"P0135", []string{"O2 Sensor Heater", "Bank 1 Sensor 1"}},
		{"P0141", []string{"O2 Sensor Heater", "Bank 1 Sensor 2"}},
		{"P0401", []string{"Exhaust Gas Recirculation Flow Insufficient"}},
		{"P0500", []string{"Vehicle Speed Sensor"}},
		{"P0562", []string{"System Voltage Low"}},
		{"P0606", []string{"Processor"}},
		{"P0741", []string{"Torque Converter Clutch", "Stuck Off"}},
		{"P2096", []string{"Post Catalyst Fuel Trim System Too Lean", "Bank 1"}},
		{"P2135", []string{`"A"/"B" Voltage Correlation`}},
		{"P2187", []string{"System Too Lean at Idle", "Bank 1"}},
		{"U0001", []string{"High Speed CAN Communication Bus"}},
		{"U0100", []string{"Lost Communication With ECM/PCM"}},
		{"U0121", []string{"Lost Communication With Anti-Lock Brake System"}},
		{"U0155", []string{"Instrument Panel Cluster"}},
		// python-OBD codes.py
		{"P2510", []string{"ECM/PCM Power Relay Sense Circuit Range/Performance"}},
		{"P2563", []string{"Turbocharger Boost Control Position Sensor", "Range/Performance"}},
		{"P2635", []string{"Fuel Pump \"A\" Low Flow/Performance"}},
		{"P2700", []string{"Transmission Friction Element \"A\" Apply Time Range/Performance"}},
		{"P2795", []string{"Gear Shift Direction Circuit High"}},
		{"P2A00", []string{"O2 Sensor Circuit Range/Performance", "Bank 1 Sensor 1"}},
		{"P3400", []string{"Cylinder Deactivation System", "Bank 1"}},
		{"P3401", []string{"Cylinder 1 Deactivation/Intake Valve Control Circuit/Open"}},
		{"P3496", []string{"Cylinder 12 Exhaust Valve Control Circuit High"}},
		{"U0170", []string{"Lost Communication With Restraints System Sensor \"A\""}},
		{"U0199", []string{"Lost Communication With Door Control Module \"A\""}},
		{"U0235", []string{"Cruise Control Front Distance Range Sensor"}},
		// AndrOBD codes.properties
		{"P0A00", []string{"Motor Electronics Coolant Temperature Sensor Circuit"}},
		{"P0A0F", []string{"Engine Failed to Start"}},
		{"P0A29", []string{"Hybrid Battery Power Off Circuit High"}},
		{"P0A80", []string{"Replace Hybrid Battery Pack"}},
		{"P2830", []string{"Pressure Control Solenoid \"K\" Control Circuit High"}},
		{"C0031", []string{"Left Front Wheel Speed Sensor"}},
		{"C003A", []string{"Right Rear Wheel Speed Sensor"}},
		{"C0200", []string{"Right Front Wheel Speed Sensor Circuit"}},
		{"B0100", []string{"Driver Air Bag Circuit"}},
		{"B0860", []string{"System Voltage High"}},
		{"U0293", []string{"Lost Communication With Hybrid Powertrain Control Module"}},
		{"U3003", []string{"Battery Voltage"}},
		// OBDIICodes 24.h
		{"P00A0", []string{"Charge Air Cooler Temperature Sensor Circuit", "Bank 2"}},
		// all-maker B0 restraint list
		{"B0001", []string{"Driver Frontal Stage 1 Deployment Control"}},
		{"B00E8", []string{"Third Row Center Seatbelt Pretensioner \"C\" Deployment Control"}},
	}
	for _, tt := range tests {
		desc, known := DescribeDTC(tt.code)
		if !known {
			t.Errorf("DescribeDTC(%s) known = false, desc %q", tt.code, desc)
			continue
		}
		for _, w := range tt.words {
			if !strings.Contains(desc, w) {
				t.Errorf("DescribeDTC(%s) = %q, want it to contain %q", tt.code, desc, w)
			}
		}
	}
}

func TestDescribeDTCInChinese(t *testing.T) {
	tests := []struct {
		code  string
		words []string
	}{
		{"P0420", []string{"催化转化器系统效率低于阈值（第1列）"}},
		{"P0430", []string{"催化转化器系统效率低于阈值（第2列）"}},
		{"P0171", []string{"系统过稀（第1列）"}},
		{"P0300", []string{"检测到随机/多缸失火"}},
		{"P0304", []string{"检测到气缸4失火"}},
		{"P0135", []string{"氧传感器加热器", "电路", "（第1列传感器1）"}},
		{"P0113", []string{"进气温度", "电路", "输入高"}},
		{"P0122", []string{"节气门/踏板位置传感器/开关“A”电路", "低"}},
		{"P0442", []string{"蒸发排放", "泄漏", "小泄漏"}},
		{"P0A0F", []string{"发动机起动失败"}},
		{"P0A80", []string{"更换混合动力电池组"}},
		{"P3401", []string{"气缸1停缸/进气门控制电路/开路"}},
		{"C0031", []string{"左前轮速传感器"}},
		{"B0001", []string{"驾驶员正面第1级展开控制"}},
		{"U0100", []string{"与ECM/PCM“A”失去通信"}},
		{"U0401", []string{"从ECM/PCM“A”接收的数据无效"}},
	}
	for _, tt := range tests {
		for _, tag := range []string{"zh-CN", "zh", "zh_CN", "zh-Hans"} {
			desc, known := DescribeDTCIn(tt.code, tag)
			if !known {
				t.Errorf("DescribeDTCIn(%s, %s) known = false, desc %q", tt.code, tag, desc)
				continue
			}
			for _, w := range tt.words {
				if !strings.Contains(desc, w) {
					t.Errorf("DescribeDTCIn(%s, %s) = %q, want it to contain %q", tt.code, tag, desc, w)
				}
			}
		}
		en, _ := DescribeDTCIn(tt.code, "en")
		if want, _ := DescribeDTC(tt.code); en != want {
			t.Errorf("DescribeDTCIn(%s, en) = %q, DescribeDTC = %q", tt.code, en, want)
		}
		for _, tag := range []string{"", "en-US", "fr", "xx"} {
			if got, _ := DescribeDTCIn(tt.code, tag); got != en {
				t.Errorf("DescribeDTCIn(%s, %q) = %q, want the English %q", tt.code, tag, got, en)
			}
		}
	}
}

func TestDescribeDTCUnknown(t *testing.T) {
	tests := []struct {
		code   string
		want   string
		wantZH string
	}{
		{"P1234", descManufacturer, descManufacturerZH},
		{"P1000", descManufacturer, descManufacturerZH},
		{"P1FFF", descManufacturer, descManufacturerZH},
		{"P3000", descManufacturer, descManufacturerZH},
		{"P33FF", descManufacturer, descManufacturerZH},
		{"C1234", descManufacturer, descManufacturerZH},
		{"C2345", descManufacturer, descManufacturerZH},
		{"B1000", descManufacturer, descManufacturerZH},
		{"B2FFF", descManufacturer, descManufacturerZH},
		{"U1000", descManufacturer, descManufacturerZH},
		{"U2ABC", descManufacturer, descManufacturerZH},
		{"P3498", descUnknown, descUnknownZH}, // P34xx-P3Fxx are SAE-controlled
		{"P3A00", descUnknown, descUnknownZH},
		{"P0000", descUnknown, descUnknownZH}, // "no code", not a fault
		{"P0FFF", descUnknown, descUnknownZH},
		{"P2FFF", descUnknown, descUnknownZH},
		{"C0FFF", descUnknown, descUnknownZH},
		{"C3000", descUnknown, descUnknownZH},
		{"B3000", descUnknown, descUnknownZH},
		{"U0FFF", descUnknown, descUnknownZH},
		{"U3FFF", descUnknown, descUnknownZH},
		{"", descUnknown, descUnknownZH},
		{"p1234", descUnknown, descUnknownZH}, // malformed: not claimed as manufacturer-specific
		{"P12345", descUnknown, descUnknownZH},
		{"hello", descUnknown, descUnknownZH},
	}
	for _, tt := range tests {
		desc, known := DescribeDTC(tt.code)
		if known || desc != tt.want {
			t.Errorf("DescribeDTC(%q) = %q, %v; want %q, false", tt.code, desc, known, tt.want)
		}
		desc, known = DescribeDTCIn(tt.code, "zh-CN")
		if known || desc != tt.wantZH {
			t.Errorf("DescribeDTCIn(%q, zh-CN) = %q, %v; want %q, false", tt.code, desc, known, tt.wantZH)
		}
	}
}

func TestNewDTC(t *testing.T) {
	d := NewDTC("P0420")
	if d.Code != "P0420" || d.Description != "Catalyst System Efficiency Below Threshold (Bank 1)" {
		t.Errorf("NewDTC(P0420) = %+v", d)
	}
	if d := NewDTC("P1456"); d.Description != descManufacturer {
		t.Errorf("NewDTC(P1456) = %+v", d)
	}
	if d := NewDTC("U3FFF"); d.Description != descUnknown {
		t.Errorf("NewDTC(U3FFF) = %+v", d)
	}
	got, err := json.Marshal(NewDTC("P0171"))
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"code":"P0171","description":"System Too Lean (Bank 1)"}`; string(got) != want {
		t.Errorf("json = %s, want %s", got, want)
	}
}

func TestDecodeEncodeDTC(t *testing.T) {
	tests := []struct {
		hi, lo byte
		code   string
	}{
		{0x00, 0x00, "P0000"},
		{0x04, 0x20, "P0420"},
		{0x01, 0x71, "P0171"},
		{0x03, 0x00, "P0300"},
		{0x07, 0x00, "P0700"},
		{0x12, 0x34, "P1234"},
		{0x20, 0x96, "P2096"},
		{0x3F, 0xFF, "P3FFF"},
		{0x00, 0x0A, "P000A"},
		{0x41, 0x23, "C0123"},
		{0x5A, 0xBC, "C1ABC"},
		{0x80, 0x01, "B0001"},
		{0x9F, 0xED, "B1FED"},
		{0xC1, 0x00, "U0100"},
		{0xC0, 0x01, "U0001"},
		{0xFF, 0xFF, "U3FFF"},
	}
	for _, tt := range tests {
		if got := DecodeDTC(tt.hi, tt.lo); got != tt.code {
			t.Errorf("DecodeDTC(%02X, %02X) = %q, want %q", tt.hi, tt.lo, got, tt.code)
		}
		b, err := EncodeDTC(tt.code)
		if err != nil || b != [2]byte{tt.hi, tt.lo} {
			t.Errorf("EncodeDTC(%q) = % X, %v; want %02X %02X", tt.code, b, err, tt.hi, tt.lo)
		}
	}
}

func TestEncodeDTCErrors(t *testing.T) {
	for _, code := range []string{
		"", "P", "P042", "P04200", "P0420 ", " P0420",
		"p0420", "X0420", "A0420", "P4420", "P9000", "P-420",
		"P042G", "P042a", "Pabcd", "P 420", "P0\x0020", "U0１00",
	} {
		b, err := EncodeDTC(code)
		if !errors.Is(err, ErrDTCFormat) {
			t.Errorf("EncodeDTC(%q) = % X, %v; want ErrDTCFormat", code, b, err)
		}
	}
}

// TestDTCRoundTripAll checks every 2-byte value: DecodeDTC gives a well
// formed, distinct code and EncodeDTC gives the bytes back.
func TestDTCRoundTripAll(t *testing.T) {
	seen := make(map[string]bool, 1<<16)
	for v := 0; v < 1<<16; v++ {
		hi, lo := byte(v>>8), byte(v)
		code := DecodeDTC(hi, lo)
		if !dtcCodeRE.MatchString(code) {
			t.Fatalf("DecodeDTC(%02X, %02X) = %q: not a valid code", hi, lo, code)
		}
		if seen[code] {
			t.Fatalf("DecodeDTC(%02X, %02X) = %q: already produced by another value", hi, lo, code)
		}
		seen[code] = true
		b, err := EncodeDTC(code)
		if err != nil || b != [2]byte{hi, lo} {
			t.Fatalf("EncodeDTC(%q) = % X, %v; want %02X %02X", code, b, err, hi, lo)
		}
	}
}

func codesOf(ds []DTC) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.Code
	}
	return out
}

func TestParseDTCs(t *testing.T) {
	tests := []struct {
		name string
		resp string
		want []string
	}{
		{"CAN mode 03 two codes", "43 02 04 20 01 71", []string{"P0420", "P0171"}},
		{"CAN mode 07 one code", "47 01 03 00", []string{"P0300"}},
		{"CAN mode 0A none", "4A 00", []string{}},
		{"CAN mode 03 none", "43 00", []string{}},
		{"CAN keeps order and all letters", "43 04 C1 00 41 23 81 23 12 34", []string{"U0100", "C0123", "B0123", "P1234"}},
		{"CAN three codes", "43 03 01 33 04 42 07 00", []string{"P0133", "P0442", "P0700"}},
		{"non-CAN three codes", "43 01 71 04 20 03 01", []string{"P0171", "P0420", "P0301"}},
		{"non-CAN padded", "43 01 71 00 00 00 00", []string{"P0171"}},
		{"non-CAN padding in the middle", "47 00 00 04 55 00 00", []string{"P0455"}},
		{"non-CAN all padding", "43 00 00 00 00 00 00", []string{}},
		{"non-CAN two messages joined", "43 01 71 04 20 03 01 07 00 00 00 00 00", []string{"P0171", "P0420", "P0301", "P0700"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseDTCs(h(tt.resp))
			if err != nil {
				t.Fatalf("ParseDTCs(%s): %v", tt.resp, err)
			}
			if got == nil {
				t.Fatalf("ParseDTCs(%s) = nil, want non-nil slice", tt.resp)
			}
			if !slices.Equal(codesOf(got), tt.want) {
				t.Errorf("ParseDTCs(%s) = %v, want %v", tt.resp, codesOf(got), tt.want)
			}
			for _, d := range got {
				if want, _ := DescribeDTC(d.Code); d.Description != want {
					t.Errorf("%s description %q, want %q", d.Code, d.Description, want)
				}
			}
		})
	}
}

func TestParseDTCsErrors(t *testing.T) {
	tests := []struct {
		name string
		resp string
		msg  string // part of the error text that names the problem
	}{
		{"empty", "", "empty"},
		{"wrong SID mode 01", "41 00 BE 3F A8 13", "service id 0x41"},
		{"request SID instead of response", "03", "service id 0x03"},
		{"negative response", "7F 0A 11", "negative response"},
		{"short negative response", "7F 03", "negative response"},
		{"SID only", "43", "no DTC count"},
		{"odd data bytes", "43 01 04 20 01", "odd"},
		{"odd data bytes 2", "43 02 04", "odd"},
		{"count too high", "43 02 04 20", "count byte says 2"},
		{"count too low", "43 01 04 20 01 71 02 02", "count byte says 1"},
		{"count without data", "47 05", "count byte says 5"},
		{"zero count with data", "4A 00 04 20", "count byte says 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseDTCs(h(tt.resp))
			if !errors.Is(err, ErrDTCResponse) {
				t.Fatalf("ParseDTCs(%s) = %v, %v; want ErrDTCResponse", tt.resp, got, err)
			}
			if got != nil {
				t.Errorf("ParseDTCs(%s) returned codes %v with an error", tt.resp, got)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("ParseDTCs(%s) error %q, want it to mention %q", tt.resp, err, tt.msg)
			}
		})
	}
}

func TestParseDTCsNegativeResponse(t *testing.T) {
	_, err := ParseDTCs(h("7F 0A 11"))
	var nr NegativeResponseError
	if !errors.Is(err, ErrDTCResponse) || !errors.As(err, &nr) {
		t.Fatalf("err %v: want ErrDTCResponse and a NegativeResponseError", err)
	}
	if nr.Service != 0x0A || nr.Code != NRCServiceNotSupported {
		t.Errorf("negative response %+v, want service 0x0A code 0x11", nr)
	}
}

func TestEncodeDTCResponse(t *testing.T) {
	tests := []struct {
		service byte
		codes   []string
		want    string
	}{
		{0x03, []string{"P0420", "P0171"}, "43 02 04 20 01 71"},
		{0x07, []string{"P0300"}, "47 01 03 00"},
		{0x0A, nil, "4A 00"},
		{0x03, []string{"U0100", "C0123", "B1FED"}, "43 03 C1 00 41 23 9F ED"},
	}
	for _, tt := range tests {
		got, err := EncodeDTCResponse(tt.service, tt.codes)
		if err != nil {
			t.Fatalf("EncodeDTCResponse(%02X, %v): %v", tt.service, tt.codes, err)
		}
		if want := h(tt.want); !bytes.Equal(got, want) {
			t.Errorf("EncodeDTCResponse(%02X, %v) = % X, want % X", tt.service, tt.codes, got, want)
		}
		back, err := ParseDTCs(got)
		if err != nil {
			t.Fatalf("ParseDTCs(% X): %v", got, err)
		}
		if !slices.Equal(codesOf(back), append([]string{}, tt.codes...)) {
			t.Errorf("round trip: got %v, want %v", codesOf(back), tt.codes)
		}
	}

	// The maximum the count byte can carry, and one more.
	many := make([]string, 255)
	for i := range many {
		many[i] = DecodeDTC(0, byte(i))
	}
	resp, err := EncodeDTCResponse(0x07, many)
	if err != nil || len(resp) != 2+2*255 || resp[1] != 255 {
		t.Fatalf("255 codes: len %d, err %v", len(resp), err)
	}
	if back, err := ParseDTCs(resp); err != nil || !slices.Equal(codesOf(back), many) {
		t.Fatalf("255 codes round trip: %v", err)
	}
	if _, err := EncodeDTCResponse(0x07, append(many, "P0420")); !errors.Is(err, ErrDTCResponse) {
		t.Errorf("256 codes: err %v, want ErrDTCResponse", err)
	}

	if _, err := EncodeDTCResponse(0x01, []string{"P0420"}); !errors.Is(err, ErrDTCResponse) {
		t.Errorf("service 01: err %v, want ErrDTCResponse", err)
	}
	if _, err := EncodeDTCResponse(0x43, nil); !errors.Is(err, ErrDTCResponse) {
		t.Errorf("service 43: err %v, want ErrDTCResponse", err)
	}
	if _, err := EncodeDTCResponse(0x03, []string{"P0420", "P042"}); !errors.Is(err, ErrDTCFormat) {
		t.Errorf("bad code: err %v, want ErrDTCFormat", err)
	}
}

func TestParseDTCTableErrors(t *testing.T) {
	tests := []struct {
		name, in string
	}{
		{"no tab", "P0420 Catalyst 催化\n"},
		{"no Chinese", "P0420\tCatalyst\n"},
		{"empty English", "P0420\t\t催化\n"},
		{"empty Chinese", "P0420\tCatalyst\t\n"},
		{"padded English", "P0420\t Catalyst\t催化\n"},
		{"padded Chinese", "P0420\tCatalyst\t催化 \n"},
		{"three tabs", "P0420\tCatalyst\t催化\tBank 1\n"},
		{"bad code", "P042\tCatalyst\t催化\n"},
		{"lower case code", "p0420\tCatalyst\t催化\n"},
		{"duplicate", "P0420\tA\t甲\nP0420\tB\t乙\n"},
		{"unsorted", "P0420\tA\t甲\nP0171\tB\t乙\n"},
		{"unsorted letters", "U0100\tA\t甲\nP0171\tB\t乙\n"},
		{"CRLF line", "P0420\tA\t甲\r\n"},
	}
	for _, tt := range tests {
		if m, err := parseDTCTable(tt.in); err == nil {
			t.Errorf("%s: parseDTCTable accepted %q: %v", tt.name, tt.in, m)
		}
	}
	m, err := parseDTCTable("# header\n\nP0171\tLean\t过稀\nP0420\tCat\t催化\nC0035\tWheel\t车轮\nB0001\tAir bag\t气囊\nU0100\tECM\t发动机\n")
	if err != nil || len(m) != 5 || m["C0035"] != (dtcEntry{en: "Wheel", zh: "车轮"}) {
		t.Errorf("valid table: %v, %v", m, err)
	}
}

func FuzzParseDTCs(f *testing.F) {
	for _, s := range []string{
		"43 02 04 20 01 71",
		"47 01 03 00",
		"4A 00",
		"43 01 71 04 20 00 00",
		"43 00 00 00 00 00 00",
		"43 04 C1 00 41 23 81 23 12 34",
		"7F 03 11",
		"43 02 04 20",
		"43",
		"",
	} {
		f.Add(h(s))
	}
	f.Fuzz(func(t *testing.T, resp []byte) {
		dtcs, err := ParseDTCs(resp)
		if err != nil {
			if !errors.Is(err, ErrDTCResponse) {
				t.Fatalf("error %v does not wrap ErrDTCResponse", err)
			}
			if dtcs != nil {
				t.Fatalf("codes %v returned with error", dtcs)
			}
			return
		}
		if dtcs == nil {
			t.Fatal("nil slice without error")
		}
		if len(dtcs) > len(resp)/2 {
			t.Fatalf("%d codes from %d bytes", len(dtcs), len(resp))
		}
		codes := codesOf(dtcs)
		for _, d := range dtcs {
			if _, err := EncodeDTC(d.Code); err != nil {
				t.Fatalf("code %q does not encode: %v", d.Code, err)
			}
			if d.Description == "" {
				t.Fatalf("code %q without description", d.Code)
			}
		}
		// A CAN-form response (odd length after the SID) re-encodes to itself.
		if (len(resp)-1)%2 == 1 {
			again, err := EncodeDTCResponse(resp[0]-0x40, codes)
			if err != nil {
				t.Fatalf("EncodeDTCResponse(%v): %v", codes, err)
			}
			if !bytes.Equal(again, resp) {
				t.Fatalf("re-encoded % X, parsed from % X", again, resp)
			}
		}
	})
}

func FuzzEncodeDTC(f *testing.F) {
	for _, s := range []string{"P0420", "U0100", "C1ABC", "B3FFF", "p0420", "P4420", "P042G", "", "P04200"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, code string) {
		desc, known := DescribeDTC(code)
		zh, knownZH := DescribeDTCIn(code, "zh-CN")
		if desc == "" || zh == "" || known != knownZH {
			t.Fatalf("DescribeDTC(%q) = %q, %v; zh-CN %q, %v", code, desc, known, zh, knownZH)
		}
		b, err := EncodeDTC(code)
		if err != nil {
			if !errors.Is(err, ErrDTCFormat) {
				t.Fatalf("EncodeDTC(%q): %v does not wrap ErrDTCFormat", code, err)
			}
			if known {
				t.Fatalf("malformed %q is known", code)
			}
			return
		}
		if got := DecodeDTC(b[0], b[1]); got != code {
			t.Fatalf("EncodeDTC(%q) = % X, decodes to %q", code, b, got)
		}
	})
}
