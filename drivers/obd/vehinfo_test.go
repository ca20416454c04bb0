package obd

import (
	"bytes"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func resp09(it PID, data ...[]byte) []byte {
	out := []byte{0x49, byte(it)}
	for _, d := range data {
		out = append(out, d...)
	}
	return out
}

func TestParseVIN(t *testing.T) {
	vin := []byte("LFV2A21K8A4052691")
	tests := []struct {
		resp []byte
		want string
		err  error
	}{
		{resp09(InfoVIN, []byte{1}, vin), "LFV2A21K8A4052691", nil},
		{resp09(InfoVIN, []byte{1, 0, 0, 0}, vin), "LFV2A21K8A4052691", nil},
		{resp09(InfoVIN, []byte{1}, vin, []byte{0}), "LFV2A21K8A4052691", nil},
		{resp09(InfoVIN, []byte{1}, vin[:16]), "", ErrVINLength},
		{resp09(InfoVIN, []byte{1}, []byte("LFV2A21K8A40526\x011")), "", ErrVINCharacter},
		{resp09(InfoVIN, []byte{1}, []byte("lfv2a21k8a4052691")), "", ErrVINCharacter},
		{resp09(InfoVIN, []byte{2}, vin), "", ErrUnexpectedResponse},
		{resp09(InfoVIN), "", ErrShortData},
		{resp09(InfoCALID, []byte{1}, vin), "", ErrUnexpectedResponse},
		{[]byte{0x49}, "", ErrShortData},
		{[]byte{0x7F, 0x09, 0x31}, "", ErrNegativeResponse},
	}
	for _, tc := range tests {
		got, err := ParseVIN(tc.resp)
		if got != tc.want || !errors.Is(err, tc.err) || (tc.err == nil && err != nil) {
			t.Errorf("ParseVIN(% X) = %q, %v; want %q, %v", tc.resp, got, err, tc.want, tc.err)
		}
	}
	// A VIN with a wrong check digit parses; ValidateVIN judges it.
	if got, err := ParseVIN(resp09(InfoVIN, []byte{1}, []byte("WVWZZZ1JZXW000001"))); err != nil || got != "WVWZZZ1JZXW000001" {
		t.Errorf("European VIN: %q, %v", got, err)
	}
	for _, bad := range []string{"SHORT", "1HGCM82633A0O4352"} {
		if _, err := EncodeVIN(bad); err == nil {
			t.Errorf("EncodeVIN(%q) accepted", bad)
		}
	}
}

func TestParseCALIDsCVNs(t *testing.T) {
	cal := []byte("JMB*36761500\x00\x00\x00\x00JMB*47872611\x00\x00\x00\x00")
	ids, err := ParseCALIDs(resp09(InfoCALID, []byte{2}, cal))
	if err != nil || !slices.Equal(ids, []string{"JMB*36761500", "JMB*47872611"}) {
		t.Errorf("ParseCALIDs = %q, %v", ids, err)
	}
	cvns, err := ParseCVNs(resp09(InfoCVN, []byte{2, 0x17, 0x91, 0xBC, 0x82, 0x16, 0xE0, 0x62, 0xBE}))
	if err != nil || !slices.Equal(cvns, []string{"1791BC82", "16E062BE"}) {
		t.Errorf("ParseCVNs = %q, %v", cvns, err)
	}
	errs := []struct {
		name string
		err  error
		want error
	}{
		{"CALID short", func() error { _, e := ParseCALIDs(resp09(InfoCALID, []byte{2}, cal[:31])); return e }(), ErrShortData},
		{"CALID long", func() error { _, e := ParseCALIDs(resp09(InfoCALID, []byte{1}, cal)); return e }(), ErrLength},
		{"CALID no count", func() error { _, e := ParseCALIDs(resp09(InfoCALID)); return e }(), ErrShortData},
		{"CALID control char", func() error {
			_, e := ParseCALIDs(resp09(InfoCALID, []byte{1}, []byte("ABC\x01DEF\x00\x00\x00\x00\x00\x00\x00\x00\x00")))
			return e
		}(), ErrBadText},
		{"CALID zero inside", func() error {
			_, e := ParseCALIDs(resp09(InfoCALID, []byte{1}, []byte("ABC\x00DEF\x00\x00\x00\x00\x00\x00\x00\x00\x00")))
			return e
		}(), ErrBadText},
		{"CVN short", func() error { _, e := ParseCVNs(resp09(InfoCVN, []byte{2, 1, 2, 3, 4, 5})); return e }(), ErrShortData},
		{"CVN wrong InfoType", func() error { _, e := ParseCVNs(resp09(InfoCALID, []byte{0})); return e }(), ErrUnexpectedResponse},
		{"encode CALID too long", func() error { _, e := EncodeCALIDs([]string{"12345678901234567"}); return e }(), ErrBadText},
		{"encode CALID non-ASCII", func() error { _, e := EncodeCALIDs([]string{"é"}); return e }(), ErrBadText},
		{"encode CVN odd", func() error { _, e := EncodeCVNs([]string{"1791BC8"}); return e }(), ErrBadCVN},
		{"encode CVN not hex", func() error { _, e := EncodeCVNs([]string{"1791BC8G"}); return e }(), ErrBadCVN},
	}
	for _, tc := range errs {
		if !errors.Is(tc.err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, tc.err, tc.want)
		}
	}
}

func TestParseECUName(t *testing.T) {
	tests := []struct {
		field string
		want  ECUName
	}{
		{"ECM\x00-EngineControl\x00\x00", ECUName{"ECM", "EngineControl"}},
		{"TCM\x00\x00TransmissionCtl", ECUName{"TCM", "TransmissionCtl"}},
		{"ABS-AntiLockBrake\x00\x00\x00", ECUName{"ABS", "AntiLockBrake"}},
		{"DCU1-DieselCtrlUnit", ECUName{"DCU1", "DieselCtrlUnit"}},
		{"ECM\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00", ECUName{"ECM", ""}},
	}
	for _, tc := range tests {
		field := []byte(tc.field)
		if len(field) < 20 {
			field = append(field, make([]byte, 20-len(field))...)
		}
		got, err := ParseECUName(resp09(InfoECUName, []byte{1}, field))
		if err != nil || got != tc.want {
			t.Errorf("ParseECUName(%q) = %+v, %v; want %+v", tc.field, got, err, tc.want)
		}
	}
	if s := (ECUName{"ECM", "EngineControl"}).String(); s != "ECM-EngineControl" {
		t.Errorf("String = %q", s)
	}
	for _, tc := range []struct {
		resp []byte
		want error
	}{
		{resp09(InfoECUName, []byte{1}, []byte("ECM-EngineControl")), ErrShortData},
		{resp09(InfoECUName, []byte{2}, make([]byte, 40)), ErrUnexpectedResponse},
		{resp09(InfoECUName, []byte{1}, []byte("EC\x07\x00-EngineControl\x00\x00")), ErrBadText},
		{resp09(InfoECUName, []byte{1}, []byte("ECM\x00-Engine\x01ontrol\x00\x00")), ErrBadText},
	} {
		if _, err := ParseECUName(tc.resp); !errors.Is(err, tc.want) {
			t.Errorf("ParseECUName(% X) = %v, want %v", tc.resp, err, tc.want)
		}
	}
	enc, err := EncodeECUName("ECM-EngineControl")
	if err != nil {
		t.Fatal(err)
	}
	if want := append([]byte("\x01ECM\x00-EngineControl"), 0, 0); !slices.Equal(enc, want) {
		t.Errorf("EncodeECUName = %q, want %q", enc, want)
	}
	for _, bad := range []string{"EngineControl", "-EngineControl", "ECMXY-Engine", "ECM-EngineControlUnitX"} {
		if _, err := EncodeECUName(bad); !errors.Is(err, ErrBadText) {
			t.Errorf("EncodeECUName(%q) = %v, want ErrBadText", bad, err)
		}
	}
}

func TestParseIUPR(t *testing.T) {
	counters := []byte{0, 20, 0, 40, 0, 5, 0, 10, 0, 6, 0, 0}
	u, err := ParseIUPR(resp09(InfoIUPRSpark, []byte{6}, counters))
	if err != nil {
		t.Fatal(err)
	}
	want := IUPR{Ignition: IgnitionSpark, OBDCond: 20, IgnCntr: 40, Monitors: []MonitorRatio{
		{Name: "catalyst_bank1", Label: "Catalyst bank 1", Numerator: 5, Denominator: 10, Ratio: 0.5},
		{Name: "catalyst_bank2", Label: "Catalyst bank 2", Numerator: 6, Denominator: 0, Ratio: 0},
	}}
	if !reflect.DeepEqual(u, want) {
		t.Errorf("ParseIUPR = %+v, want %+v", u, want)
	}
	u, err = ParseIUPR(resp09(InfoIUPRCompressed, []byte{4}, counters[:8]))
	if err != nil || u.Ignition != IgnitionCompression || u.Monitors[0].Name != "nmhc_catalyst" {
		t.Errorf("compression: %+v, %v", u, err)
	}
	// More pairs than the known list: generic names.
	long := make([]byte, 2*40)
	u, err = ParseIUPR(resp09(InfoIUPRCompressed, []byte{40}, long))
	if err != nil || len(u.Monitors) != 19 || u.Monitors[18].Name != "monitor_19" {
		t.Errorf("long: %d monitors, %v", len(u.Monitors), err)
	}
	for _, tc := range []struct {
		resp []byte
		want error
	}{
		{resp09(InfoIUPRSpark, []byte{3}, counters[:6]), ErrLength},
		{resp09(InfoIUPRSpark, []byte{0}), ErrLength},
		{resp09(InfoIUPRSpark, []byte{6}, counters[:10]), ErrShortData},
		{resp09(InfoECUName, []byte{1}), ErrUnexpectedResponse},
	} {
		if _, err := ParseIUPR(tc.resp); !errors.Is(err, tc.want) {
			t.Errorf("ParseIUPR(% X) = %v, want %v", tc.resp, err, tc.want)
		}
	}
	for _, bad := range []IUPR{
		{Ignition: "rotary"},
		{Ignition: IgnitionSpark, OBDCond: 70000},
		{Ignition: IgnitionSpark, Monitors: []MonitorRatio{{Name: "catalyst_bank2"}}},
		{Ignition: IgnitionSpark, Monitors: []MonitorRatio{{Name: "catalyst_bank1", Numerator: -1}}},
	} {
		if _, err := EncodeIUPR(bad); err == nil {
			t.Errorf("EncodeIUPR(%+v) accepted", bad)
		}
	}
}

func TestSupportedInfoTypes(t *testing.T) {
	for _, resp := range [][]byte{{0x49, 0x00, 0x55, 0x40, 0, 0}, {0x49, 0x00, 0x01, 0x55, 0x40, 0, 0}} {
		s, err := ParseSupportedInfoTypes(resp)
		if err != nil || !slices.Equal(s.List(), []PID{0x02, 0x04, 0x06, 0x08, 0x0A}) {
			t.Errorf("ParseSupportedInfoTypes(% X) = %v, %v", resp, s.List(), err)
		}
	}
	if got := EncodeSupportedInfoTypes([]PID{2, 4, 6, 8, 0x0A}); !slices.Equal(got, []byte{0x55, 0x40, 0, 0}) {
		t.Errorf("EncodeSupportedInfoTypes = % X", got)
	}
	if _, err := ParseSupportedInfoTypes([]byte{0x49, 0x00, 0x55}); !errors.Is(err, ErrShortData) {
		t.Errorf("short: %v", err)
	}
}

// TestMode09RoundTrip: every Encode function is the inverse of its Parse.
func TestMode09RoundTrip(t *testing.T) {
	vin, _ := EncodeVIN("LGBH52E00KY000117")
	if got, err := ParseVIN(resp09(InfoVIN, vin)); err != nil || got != "LGBH52E00KY000117" {
		t.Errorf("VIN: %q, %v", got, err)
	}
	ids := []string{"JMB*36761500", "", "0123456789ABCDEF"}
	b, err := EncodeCALIDs(ids)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := ParseCALIDs(resp09(InfoCALID, b)); err != nil || !slices.Equal(got, ids) {
		t.Errorf("CALIDs: %q, %v", got, err)
	}
	b, err = EncodeCVNs([]string{"1791bc82", "16E062BE"})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := ParseCVNs(resp09(InfoCVN, b)); err != nil || !slices.Equal(got, []string{"1791BC82", "16E062BE"}) {
		t.Errorf("CVNs: %q, %v", got, err)
	}
	b, err = EncodeECUName("DCU1-DieselCtrlUnit")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := ParseECUName(resp09(InfoECUName, b)); err != nil || got.String() != "DCU1-DieselCtrlUnit" {
		t.Errorf("ECU name: %+v, %v", got, err)
	}
	for _, it := range []PID{InfoIUPRSpark, InfoIUPRCompressed} {
		ign := IgnitionSpark
		if it == InfoIUPRCompressed {
			ign = IgnitionCompression
		}
		names, _, _ := ratioNames(ign)
		in := IUPR{Ignition: ign, OBDCond: 100, IgnCntr: 65535}
		for i := range names {
			in.Monitors = append(in.Monitors, MonitorRatio{Name: names[i].name, Label: names[i].label, Numerator: i, Denominator: 4})
			in.Monitors[i].Ratio = float64(i) / 4
		}
		b, err := EncodeIUPR(in)
		if err != nil {
			t.Fatal(err)
		}
		got, err := ParseIUPR(resp09(it, b))
		if err != nil || !reflect.DeepEqual(got, in) {
			t.Errorf("IUPR %s: %+v, %v; want %+v", ign, got, err, in)
		}
	}
}

func FuzzParseVehicleInfo(f *testing.F) {
	f.Add(resp09(InfoVIN, []byte{1}, []byte("LFV2A21K8A4052691")))
	f.Add(resp09(InfoVIN, []byte{1, 0, 0, 0}, []byte("1HGCM82633A004352")))
	f.Add(resp09(InfoCALID, []byte{1}, []byte("JMB*36761500\x00\x00\x00\x00")))
	f.Add(resp09(InfoCVN, []byte{1, 0x17, 0x91, 0xBC, 0x82}))
	f.Add(resp09(InfoECUName, []byte{1}, []byte("ECM\x00-EngineControl\x00\x00")))
	f.Add(resp09(InfoIUPRSpark, []byte{4, 0, 20, 0, 40, 0, 5, 0, 10}))
	f.Add(resp09(InfoIUPRCompressed, []byte{2, 0, 1, 0, 2}))
	f.Add(resp09(InfoSupported, []byte{0x55, 0x40, 0, 0}))
	f.Add([]byte{0x7F, 0x09, 0x31})
	// The legacy forms: a VIN of five joined messages, two CALIDs, CVNs,
	// an ECU name, IUPR counters.
	f.Add(append([]byte{0x49, 0x02, 0, 0, 0}, "LFV2A21K8A4052691"...))
	f.Add(append([]byte{0x49, 0x04}, "JMB*36761500\x00\x00\x00\x00JMB*47872611\x00\x00\x00\x00"...))
	f.Add([]byte{0x49, 0x06, 0x17, 0x91, 0xBC, 0x82, 0x16, 0xE0, 0x62, 0xBE})
	f.Add(append([]byte{0x49, 0x0A}, "ECM\x00-EngineControl\x00\x00"...))
	f.Add([]byte{0x49, 0x08, 0, 0x76, 1, 0x56, 0, 0x29, 0, 0x76})
	f.Fuzz(func(t *testing.T, resp []byte) {
		if vin, err := ParseVIN(resp); err == nil {
			b, err := EncodeVIN(vin)
			if err != nil {
				t.Fatalf("EncodeVIN(%q): %v", vin, err)
			}
			if again, err := ParseVIN(resp09(InfoVIN, b)); err != nil || again != vin {
				t.Fatalf("VIN round trip %q -> %q, %v", vin, again, err)
			}
		}
		if ids, err := ParseCALIDs(resp); err == nil {
			b, err := EncodeCALIDs(ids)
			if err != nil {
				t.Fatalf("EncodeCALIDs(%q): %v", ids, err)
			}
			if again, err := ParseCALIDs(resp09(InfoCALID, b)); err != nil || !slices.Equal(again, ids) {
				t.Fatalf("CALID round trip %q -> %q, %v", ids, again, err)
			}
		}
		if cvns, err := ParseCVNs(resp); err == nil {
			b, err := EncodeCVNs(cvns)
			if err != nil {
				t.Fatalf("EncodeCVNs(%q): %v", cvns, err)
			}
			if again, err := ParseCVNs(resp09(InfoCVN, b)); err != nil || !slices.Equal(again, cvns) {
				t.Fatalf("CVN round trip %q -> %q, %v", cvns, again, err)
			}
		}
		if name, err := ParseECUName(resp); err == nil && name.Acronym != "" && name.Name != "" && len(name.Acronym) <= 4 && len(name.Name) <= 15 &&
			!strings.Contains(name.Acronym, "-") {
			b, err := EncodeECUName(name.String())
			if err != nil {
				t.Fatalf("EncodeECUName(%q): %v", name, err)
			}
			if again, err := ParseECUName(resp09(InfoECUName, b)); err != nil || again != name {
				t.Fatalf("ECU name round trip %+v -> %+v, %v", name, again, err)
			}
		}
		if u, err := ParseIUPR(resp); err == nil {
			b, err := EncodeIUPR(u)
			if err != nil {
				t.Fatalf("EncodeIUPR(%+v): %v", u, err)
			}
			again, err := ParseIUPR(append([]byte{resp[0], resp[1]}, b...))
			if err != nil || !reflect.DeepEqual(again, u) {
				t.Fatalf("IUPR round trip %+v -> %+v, %v", u, again, err)
			}
		}
		if s, err := ParseSupportedInfoTypes(resp); err == nil {
			if got := EncodeSupportedInfoTypes(s.List()); !slices.Equal(got, resp[len(resp)-4:]) {
				t.Fatalf("InfoType bitmap round trip % X -> % X", resp, got)
			}
		}
	})
}

// TestParseLegacyMode09 decodes the legacy (non-CAN) form of Mode 09: the
// messages "49 InfoType SEQ d1 d2 d3 d4" joined without their headers and
// sequence bytes, as SAE J1979 lays them out for J1850 and ISO 9141/14230
// (the VIN as five messages whose first starts with three 00 bytes).
func TestParseLegacyMode09(t *testing.T) {
	// 49 02 01 00 00 00 4C / 49 02 02 46 56 32 41 / ... (VIN LFV2A21K8A4052691)
	vin, err := ParseVIN(append(h("49 02 00 00 00"), "LFV2A21K8A4052691"...))
	if err != nil || vin != "LFV2A21K8A4052691" {
		t.Errorf("legacy VIN = %q, %v", vin, err)
	}
	// Two CALIDs, four messages each.
	cals, err := ParseCALIDs(append(h("49 04"), "JMB*36761500\x00\x00\x00\x00JMB*47872611\x00\x00\x00\x00"...))
	if err != nil || !slices.Equal(cals, []string{"JMB*36761500", "JMB*47872611"}) {
		t.Errorf("legacy CALIDs = %q, %v", cals, err)
	}
	// Two CVNs, one message each.
	cvns, err := ParseCVNs(h("49 06 17 91 BC 82 16 E0 62 BE"))
	if err != nil || !slices.Equal(cvns, []string{"1791BC82", "16E062BE"}) {
		t.Errorf("legacy CVNs = %q, %v", cvns, err)
	}
	// One CVN in one message keeps its sequence byte 01: the CAN form.
	if cvns, err := ParseCVNs(h("49 06 01 17 91 BC 82")); err != nil || !slices.Equal(cvns, []string{"1791BC82"}) {
		t.Errorf("single-message CVN = %q, %v", cvns, err)
	}
	name, err := ParseECUName(append(h("49 0A"), "ECM\x00-EngineControl\x00\x00"...))
	if err != nil || name != (ECUName{"ECM", "EngineControl"}) {
		t.Errorf("legacy ECU name = %+v, %v", name, err)
	}
	// OBDCOND 118, IGNCNTR 342, catalyst bank 1 41/118, bank 2 0/0.
	iupr, err := ParseIUPR(h("49 08 00 76 01 56 00 29 00 76 00 00 00 00"))
	if err != nil || iupr.OBDCond != 118 || iupr.IgnCntr != 342 || len(iupr.Monitors) != 2 || iupr.Monitors[0].Numerator != 41 {
		t.Errorf("legacy IUPR = %+v, %v", iupr, err)
	}
	if set, err := ParseSupportedInfoTypes(h("49 00 01 54 40 00 00")); err != nil || !set.Has(InfoVIN) || !set.Has(InfoCALID) || set.Has(InfoIUPRSpark) {
		t.Errorf("legacy 09 00 = %v, %v", set.List(), err)
	}
	// LegacyInfoFrames splits the CAN form the way a K-line ECU sends it.
	can, err := EncodeVIN("LFV2A21K8A4052691")
	if err != nil {
		t.Fatal(err)
	}
	frames := LegacyInfoFrames(InfoVIN, can)
	if len(frames) != 5 || !bytes.Equal(frames[0], h("49 02 01 00 00 00 4C")) || !bytes.Equal(frames[4], h("49 02 05 32 36 39 31")) {
		t.Errorf("VIN frames % X", frames)
	}
	joined := h("49 02")
	for _, f := range frames {
		joined = append(joined, f[3:]...)
	}
	if got, err := ParseVIN(joined); err != nil || got != "LFV2A21K8A4052691" {
		t.Errorf("VIN from its frames = %q, %v", got, err)
	}
}
