package obd

import (
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
			if err != nil || !slices.Equal(resp09(InfoCVN, b), resp) {
				t.Fatalf("CVN round trip %q -> % X, %v", cvns, b, err)
			}
		}
		if name, err := ParseECUName(resp); err == nil && name.Acronym != "" && len(name.Acronym) <= 4 && len(name.Name) <= 15 &&
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
			if !slices.Equal(resp[2:], b) {
				t.Fatalf("IUPR round trip % X -> % X", resp[2:], b)
			}
		}
		if s, err := ParseSupportedInfoTypes(resp); err == nil {
			if got := EncodeSupportedInfoTypes(s.List()); !slices.Equal(got, resp[len(resp)-4:]) {
				t.Fatalf("InfoType bitmap round trip % X -> % X", resp, got)
			}
		}
	})
}
