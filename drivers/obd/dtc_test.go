package obd

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// dtcTableEntries is the number of codes in dtc_generic.tsv. Lower it only
// when removing a wrong entry on purpose.
const dtcTableEntries = 1606

var dtcCodeRE = regexp.MustCompile(`^[PCBU][0-3][0-9A-F]{3}$`)

// mustHex turns "43 02 04 20" into bytes.
func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

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
		if len(fields) != 2 {
			t.Errorf("line %d: want 2 tab-separated fields, got %d: %q", line, len(fields), text)
			continue
		}
		code, desc := fields[0], fields[1]
		if !dtcCodeRE.MatchString(code) {
			t.Errorf("line %d: invalid code %q", line, code)
		}
		if desc == "" || strings.TrimSpace(desc) != desc || strings.Contains(desc, "  ") {
			t.Errorf("line %d: %s: bad description %q", line, code, desc)
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
			if m[fmt.Sprintf("P0%d%02d", block, i)] != "" {
				n++
			}
		}
		if n < 90 {
			t.Errorf("P0%d00-P0%d99: only %d codes", block, block, n)
		}
	}
}

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

func TestDescribeDTCUnknown(t *testing.T) {
	tests := []struct {
		code string
		want string
	}{
		{"P1234", descManufacturer},
		{"P1000", descManufacturer},
		{"P1FFF", descManufacturer},
		{"P3000", descManufacturer},
		{"P33FF", descManufacturer},
		{"C1234", descManufacturer},
		{"C2345", descManufacturer},
		{"B1000", descManufacturer},
		{"B2FFF", descManufacturer},
		{"U1000", descManufacturer},
		{"U2ABC", descManufacturer},
		{"P3400", descUnknown}, // P34xx-P3Fxx are SAE-controlled
		{"P3A00", descUnknown},
		{"P0000", descUnknown}, // "no code", not a fault
		{"P0FFF", descUnknown},
		{"P2FFF", descUnknown},
		{"C0FFF", descUnknown},
		{"C3000", descUnknown},
		{"B3000", descUnknown},
		{"U0FFF", descUnknown},
		{"U3FFF", descUnknown},
		{"", descUnknown},
		{"p1234", descUnknown}, // malformed: not claimed as manufacturer-specific
		{"P12345", descUnknown},
		{"hello", descUnknown},
	}
	for _, tt := range tests {
		desc, known := DescribeDTC(tt.code)
		if known || desc != tt.want {
			t.Errorf("DescribeDTC(%q) = %q, %v; want %q, false", tt.code, desc, known, tt.want)
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
			got, err := ParseDTCs(mustHex(t, tt.resp))
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
			got, err := ParseDTCs(mustHex(t, tt.resp))
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
	_, err := ParseDTCs(mustHex(t, "7F 0A 11"))
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
		if want := mustHex(t, tt.want); !bytes.Equal(got, want) {
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
		{"no tab", "P0420 Catalyst\n"},
		{"empty description", "P0420\t\n"},
		{"padded description", "P0420\t Catalyst\n"},
		{"two tabs", "P0420\tCatalyst\tBank 1\n"},
		{"bad code", "P042\tCatalyst\n"},
		{"lower case code", "p0420\tCatalyst\n"},
		{"duplicate", "P0420\tA\nP0420\tB\n"},
		{"unsorted", "P0420\tA\nP0171\tB\n"},
		{"unsorted letters", "U0100\tA\nP0171\tB\n"},
	}
	for _, tt := range tests {
		if m, err := parseDTCTable(tt.in); err == nil {
			t.Errorf("%s: parseDTCTable accepted %q: %v", tt.name, tt.in, m)
		}
	}
	m, err := parseDTCTable("# header\n\nP0171\tLean\nP0420\tCat\nC0035\tWheel\nB0001\tAir bag\nU0100\tECM\n")
	if err != nil || len(m) != 5 || m["C0035"] != "Wheel" {
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
		f.Add(mustHex(f, s))
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
		if desc == "" {
			t.Fatalf("DescribeDTC(%q) gave no text", code)
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
