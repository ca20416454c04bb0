package findings_test

import (
	"bytes"
	"strings"
	"testing"
	"unicode"

	"github.com/bayagent/bayagent/agent/findings"
	"github.com/bayagent/bayagent/agent/i18n"
	"github.com/bayagent/bayagent/agent/i18n/i18ntest"
	"github.com/bayagent/bayagent/drivers/j1939"
	"github.com/bayagent/bayagent/drivers/obd"
)

func hasHan(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return unicode.Is(unicode.Han, r) })
}

// TestValueText: every coded value drivers/obd decodes reads in English
// as drivers/obd words it (the catalogue's English is the driver's), and
// in Chinese in Chinese; so do the OBD standard and J1939 controller
// names.
func TestValueText(t *testing.T) {
	for _, tc := range []struct {
		pid   obd.PID
		field string
		max   int // the codes drivers/obd names without reserved bits
	}{
		{0x03, "fuel_system_1_status", 256},
		{0x12, "secondary_air_status", 16},
		{0x1C, "obd_standard", 251},
		{0x51, "fuel_type", 256},
	} {
		def, ok := obd.LookupPID(tc.pid)
		if !ok {
			t.Fatalf("PID %s unknown", tc.pid)
		}
		for code := range tc.max {
			data := make([]byte, def.Length)
			data[0] = byte(code)
			vals, err := obd.DecodePID(tc.pid, data)
			if err != nil {
				t.Fatal(err)
			}
			v := vals[0]
			if v.Name != tc.field {
				t.Fatalf("PID %s decodes %s first", tc.pid, v.Name)
			}
			en, zh := findings.ValueText(v, i18n.English), findings.ValueText(v, i18n.Chinese)
			if strings.HasPrefix(v.Text, "reserved") {
				if want := i18n.Text(i18n.English, "findings.enum.reserved", "n", code); en != want {
					t.Errorf("%s %d: %q, want %q", tc.field, code, en, want)
				}
			} else if en != v.Text {
				t.Errorf("%s %d: catalogue %q, drivers/obd %q", tc.field, code, en, v.Text)
			}
			if !hasHan(zh) {
				t.Errorf("%s %d: %q is not Chinese", tc.field, code, zh)
			}
			if tc.field == "obd_standard" {
				if got := findings.OBDStandardText(v.Text, i18n.Chinese); got != zh {
					t.Errorf("OBD standard %q: %q, want %q", v.Text, got, zh)
				}
			}
		}
	}
	if got := findings.ValueText(obd.Value{Name: "engine_speed", Value: 780.25, Unit: "rpm"}, i18n.Chinese); got != "780.25 rpm" {
		t.Errorf("a number: %q", got)
	}
	if got := findings.OBDStandardText("made up", i18n.Chinese); got != "made up" {
		t.Errorf("an unknown standard: %q", got)
	}
	for a := range 256 {
		name := j1939.AddressName(uint8(a))
		if name == "" {
			continue
		}
		if en, zh := findings.ECUName(name, i18n.English), findings.ECUName(name, i18n.Chinese); en != name || !hasHan(zh) {
			t.Errorf("J1939 address %d %q: en %q, zh-CN %q", a, name, en, zh)
		}
	}
	if got := findings.ECUName("ECM-EngineControl", i18n.Chinese); got != "ECM-EngineControl" {
		t.Errorf("an ECU's own name: %q", got)
	}
}

// TestChineseReportIsChinese: the Chinese scan report of every golden
// snapshot has no English phrase left in it (the vehicle's own texts
// aside: its ECU names and calibration ids).
func TestChineseReportIsChinese(t *testing.T) {
	for _, file := range []string{"scan-petrol-p0420.json", "scan-petrol-cleared.json", "scan-petrol-clean.json", "scan-diesel-truck-j1939.json"} {
		s := golden(t, file)
		var b bytes.Buffer
		if err := findings.WriteReport(&b, s, findings.Evaluate(s, findings.DefaultRules(), ""), i18n.Chinese); err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(b.String(), "\n") {
			if strings.Contains(line, "CALID") {
				continue
			}
			if m := i18ntest.English(line); m != "" {
				t.Errorf("%s: English %q in %q", file, m, line)
			}
		}
	}
}
