package findings_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/bayagent/bayagent/agent/findings"
	"github.com/bayagent/bayagent/agent/scan"
	"github.com/bayagent/bayagent/drivers/obd"
)

// golden reads a snapshot the scan produced from a simulated vehicle
// (cmd/bayagent's TestScanGolden writes them).
func golden(t *testing.T, name string) *scan.Snapshot {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "golden", name))
	if err != nil {
		t.Fatal(err)
	}
	var s scan.Snapshot
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	return &s
}

func codes(r findings.Result) []findings.Code {
	var out []findings.Code
	for _, f := range r.Findings {
		out = append(out, f.Code)
	}
	return out
}

func TestGoldenSnapshots(t *testing.T) {
	for _, tc := range []struct {
		file    string
		verdict findings.Verdict
		reasons []findings.Code
		codes   []findings.Code
	}{
		{"scan-petrol-clean.json", findings.Pass, nil, nil},
		{"scan-petrol-p0420.json", findings.Fail, []findings.Code{findings.MILOn},
			[]findings.Code{findings.MILOn, findings.PermanentDTCs, findings.ReadinessIncomplete, findings.PendingDTCs}},
		{"scan-petrol-cleared.json", findings.NotReady, []findings.Code{findings.ReadinessIncomplete},
			[]findings.Code{findings.ReadinessIncomplete, findings.CodesClearedRecently}},
		{"scan-diesel-truck-j1939.json", findings.Fail, []findings.Code{findings.MILOn},
			[]findings.Code{findings.MILOn, findings.ReadinessIncomplete, findings.SCRInducementBefore}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			r := findings.Evaluate(golden(t, tc.file), findings.DefaultRules(), "")
			if r.Verdict != tc.verdict {
				t.Errorf("verdict %s, want %s (%+v)", r.Verdict, tc.verdict, r)
			}
			if !slices.Equal(r.Reasons, append([]findings.Code{}, tc.reasons...)) {
				t.Errorf("reasons %v, want %v", r.Reasons, tc.reasons)
			}
			if got := codes(r); !slices.Equal(got, tc.codes) {
				t.Errorf("findings %v, want %v", got, tc.codes)
			}
		})
	}
}

func TestP0420Details(t *testing.T) {
	r := findings.Evaluate(golden(t, "scan-petrol-p0420.json"), findings.DefaultRules(), "")
	mil, _ := r.Find(findings.MILOn)
	if mil.Effect != findings.EffectFail || mil.Severity != findings.Critical || !slices.Equal(mil.DTCs, []string{"P0420", "P0171", "P0700"}) {
		t.Errorf("mil_on = %+v", mil)
	}
	perm, _ := r.Find(findings.PermanentDTCs)
	if !slices.Equal(perm.DTCs, []string{"P0420"}) || perm.Effect != findings.EffectNotReady {
		t.Errorf("permanent_dtcs = %+v", perm)
	}
	ready, _ := r.Find(findings.ReadinessIncomplete)
	if !slices.Equal(ready.Monitors, []string{"catalyst"}) {
		t.Errorf("readiness monitors %v", ready.Monitors)
	}
	if pend, _ := r.Find(findings.PendingDTCs); !slices.Equal(pend.DTCs, []string{"P0300"}) {
		t.Errorf("pending %v", pend.DTCs)
	}
	// A confirmed code of an ECU that does not light the MIL.
	s := golden(t, "scan-petrol-p0420.json")
	s.ECUs[1].MIL = false
	quiet, _ := findings.Evaluate(s, findings.DefaultRules(), "").Find(findings.StoredDTCsNoMIL)
	if !slices.Equal(quiet.DTCs, []string{"P0700"}) {
		t.Errorf("stored_dtcs_without_mil %v", quiet.DTCs)
	}
}

func TestClearedRecentlyExplained(t *testing.T) {
	r := findings.Evaluate(golden(t, "scan-petrol-cleared.json"), findings.DefaultRules(), "")
	f, ok := r.Find(findings.CodesClearedRecently)
	if !ok {
		t.Fatal("no codes_cleared_recently")
	}
	want := []findings.Counter{
		{Name: "distance_since_clear", Value: 3, Unit: "km"},
		{Name: "warmups_since_clear", Value: 1},
		{Name: "time_since_clear", Value: 6, Unit: "min"},
	}
	if !slices.Equal(f.Counters, want) {
		t.Errorf("counters %+v, want %+v", f.Counters, want)
	}
	if f.Effect != findings.EffectAdvise {
		t.Errorf("effect %s", f.Effect)
	}
}

func TestSaturatedCounter(t *testing.T) {
	for _, tc := range []struct {
		name  string
		value float64
		sat   bool
	}{
		{"warmups_since_clear", 255, true},
		{"warmups_since_clear", 254, false},
		{"distance_since_clear", 65535, true},
		{"distance_since_clear", 65534, false},
		{"time_with_mil", 65535, true},
		{"engine_speed", 65535, false},
	} {
		if got := findings.NewCounter(tc.name, tc.value, "").Saturated; got != tc.sat {
			t.Errorf("%s %g: saturated %v, want %v", tc.name, tc.value, got, tc.sat)
		}
	}
	// The clean car has warmed up 255 times or more since its last clear.
	s := golden(t, "scan-petrol-clean.json")
	s.Flags = append(s.Flags, scan.Flag{Code: scan.FlagCodesClearedRecent})
	f, _ := findings.Evaluate(s, findings.DefaultRules(), "").Find(findings.CodesClearedRecently)
	if i := slices.IndexFunc(f.Counters, func(c findings.Counter) bool { return c.Name == "warmups_since_clear" }); i < 0 || !f.Counters[i].Saturated {
		t.Errorf("warm-ups 255 not saturated: %+v", f.Counters)
	}
}

func TestRules(t *testing.T) {
	cleared := golden(t, "scan-petrol-cleared.json") // catalyst, evap, o2_sensor incomplete
	p0420 := golden(t, "scan-petrol-p0420.json")
	for _, tc := range []struct {
		name    string
		snap    *scan.Snapshot
		rules   func(*findings.Rules)
		vin     string
		verdict findings.Verdict
		reasons []findings.Code
	}{
		{"three incomplete allowed", cleared, func(r *findings.Rules) { r.ReadinessAllowed = 3 }, "", findings.Pass, nil},
		{"two allowed is not enough", cleared, func(r *findings.Rules) { r.ReadinessAllowed = 2 }, "", findings.NotReady, []findings.Code{findings.ReadinessIncomplete}},
		{"exempt two, allow one", cleared, func(r *findings.Rules) {
			r.ReadinessAllowed, r.ReadinessExempt = 1, []string{"evap", "o2_sensor"}
		}, "", findings.Pass, nil},
		{"readiness fails", cleared, func(r *findings.Rules) { r.Readiness = findings.EffectFail }, "", findings.Fail, []findings.Code{findings.ReadinessIncomplete}},
		{"readiness off", cleared, func(r *findings.Rules) { r.Readiness = findings.EffectOff }, "", findings.Pass, nil},
		{"mil advise only", p0420, func(r *findings.Rules) { r.MILOn = findings.EffectAdvise }, "", findings.NotReady,
			[]findings.Code{findings.PermanentDTCs, findings.ReadinessIncomplete}},
		{"permanent codes fail", p0420, func(r *findings.Rules) { r.PermanentDTCs = findings.EffectFail }, "", findings.Fail,
			[]findings.Code{findings.MILOn, findings.PermanentDTCs}},
		{"vin mismatch", golden(t, "scan-petrol-clean.json"), nil, "LSVAU033512345678", findings.Fail, []findings.Code{findings.VINMismatch}},
		{"same vin, other case", golden(t, "scan-petrol-clean.json"), nil, strings.ToLower(golden(t, "scan-petrol-clean.json").VIN), findings.Pass, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := findings.DefaultRules()
			if tc.rules != nil {
				tc.rules(&r)
			}
			if err := r.Validate(); err != nil {
				t.Fatal(err)
			}
			res := findings.Evaluate(tc.snap, r, tc.vin)
			if res.Verdict != tc.verdict || !slices.Equal(res.Reasons, append([]findings.Code{}, tc.reasons...)) {
				t.Errorf("verdict %s %v, want %s %v", res.Verdict, res.Reasons, tc.verdict, tc.reasons)
			}
		})
	}
}

func TestVIN(t *testing.T) {
	s := golden(t, "scan-petrol-clean.json")
	res := findings.Evaluate(s, findings.DefaultRules(), s.VIN)
	if res.Has(findings.VINMismatch) {
		t.Error("mismatch for the same VIN")
	}
	mm, ok := findings.Evaluate(s, findings.DefaultRules(), "LSVAU033512345678").Find(findings.VINMismatch)
	if !ok || mm.VIN != s.VIN || mm.ExpectedVIN != "LSVAU033512345678" {
		t.Errorf("mismatch finding %+v", mm)
	}
	s.VIN, s.VINValid = "", false
	if res := findings.Evaluate(s, findings.DefaultRules(), ""); !res.Has(findings.VINMissing) || res.Verdict != findings.Pass {
		t.Errorf("no VIN: %+v", res)
	}
	s.VIN = "LSVAU033512345679" // check digit wrong
	if res := findings.Evaluate(s, findings.DefaultRules(), ""); !res.Has(findings.VINInvalid) {
		t.Errorf("invalid VIN: %+v", res)
	}
}

func TestNoAnswer(t *testing.T) {
	r := findings.NoAnswer(findings.DefaultRules())
	if r.Verdict != findings.Fail || !slices.Equal(r.Reasons, []findings.Code{findings.NoCommunication}) {
		t.Errorf("%+v", r)
	}
	if r := findings.Evaluate(nil, findings.DefaultRules(), ""); r.Verdict != findings.Fail {
		t.Errorf("nil snapshot: %+v", r)
	}
}

// j1939ECU is a truck controller as the J1939 scan maps it: DM1 active
// codes in Stored, DM2 in Previous, lamps from DM1's first byte.
func j1939ECU(addr obd.ECU, lamps scan.Lamps, active, previous []uint32) scan.ECU {
	dtcs := func(spns []uint32) []obd.DTC {
		out := []obd.DTC{}
		for _, s := range spns {
			d := obd.DTC{J1939: obd.J1939Code{SPN: s, FMI: 0, Occurrences: 1}}
			d.Code = fmt.Sprintf("SPN %d FMI 0", s)
			out = append(out, d)
		}
		return out
	}
	return scan.ECU{Address: addr, Lamps: &lamps, Stored: dtcs(active), Previous: dtcs(previous), MIL: lamps.MIL == scan.LampOn}
}

func TestJ1939(t *testing.T) {
	off := scan.Lamps{MIL: scan.LampOff, RedStop: scan.LampOff, AmberWarning: scan.LampOff, Protect: scan.LampOff}
	amber := off
	amber.AmberWarning = scan.LampOn
	red := off
	red.RedStop, red.MIL = scan.LampOn, scan.LampOn
	s := &scan.Snapshot{VIN: "LZZ1CLSB1KA000789", VINValid: true, MIL: true, ECUs: []scan.ECU{
		j1939ECU(0x00, amber, []uint32{1761}, nil),
		j1939ECU(0x3D, red, []uint32{5246, 3226}, nil),
	}}
	r := findings.Evaluate(s, findings.DefaultRules(), "")
	want := []findings.Code{findings.MILOn, findings.SCRInducement, findings.RedStopLamp, findings.AmberWarningLamp, findings.SCRFault, findings.StoredDTCsNoMIL}
	if got := codes(r); !slices.Equal(got, want) {
		t.Fatalf("findings %v, want %v", got, want)
	}
	if !slices.Equal(r.Reasons, []findings.Code{findings.MILOn, findings.SCRInducement}) {
		t.Errorf("reasons %v", r.Reasons)
	}
	ind, _ := r.Find(findings.SCRInducement)
	if !slices.Equal(ind.DTCs, []string{"SPN 5246 FMI 0"}) || !slices.Equal(ind.ECUs, []string{obd.ECU(0x3D).String()}) {
		t.Errorf("inducement %+v", ind)
	}
	scr, _ := r.Find(findings.SCRFault)
	if !slices.Equal(scr.DTCs, []string{"SPN 1761 FMI 0"}) {
		t.Errorf("scr fault %+v", scr)
	}
	// The inducement rule may be set to advise: the MIL still fails.
	rules := findings.DefaultRules()
	rules.Inducement = findings.EffectAdvise
	if r := findings.Evaluate(s, rules, ""); !slices.Equal(r.Reasons, []findings.Code{findings.MILOn}) {
		t.Errorf("reasons with inducement advise: %v", r.Reasons)
	}
	// An SPN list from the configuration replaces the default.
	rules = findings.DefaultRules()
	rules.InducementSPNs = []uint32{3226}
	if ind, _ := findings.Evaluate(s, rules, "").Find(findings.SCRInducement); !slices.Equal(ind.DTCs, []string{"SPN 3226 FMI 0"}) {
		t.Errorf("configured inducement SPNs: %+v", ind)
	}
}

func TestValidate(t *testing.T) {
	r := findings.DefaultRules()
	if err := r.Validate(); err != nil {
		t.Fatal(err)
	}
	r.MILOn = "maybe"
	r.ReadinessAllowed = -1
	r.ReadinessExempt = []string{"evap", "flux_capacitor"}
	r.SCRSPNs = []uint32{0}
	err := r.Validate()
	if !errors.Is(err, findings.ErrRule) {
		t.Fatalf("err = %v", err)
	}
	for _, s := range []string{"mil_on", "readiness_allowed", "flux_capacitor", "SPN 0"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error does not name %q: %v", s, err)
		}
	}
}

func TestParse(t *testing.T) {
	if got := findings.ParseList(" evap, ,secondary_air "); !slices.Equal(got, []string{"evap", "secondary_air"}) {
		t.Errorf("ParseList %v", got)
	}
	if got, err := findings.ParseSPNs("5245, 5246"); err != nil || !slices.Equal(got, []uint32{5245, 5246}) {
		t.Errorf("ParseSPNs %v %v", got, err)
	}
	for _, bad := range []string{"x", "0", "524288", "-1"} {
		if _, err := findings.ParseSPNs(bad); !errors.Is(err, findings.ErrRule) {
			t.Errorf("ParseSPNs(%q) err %v", bad, err)
		}
	}
	if _, err := findings.ParseEffect("not_ready"); err != nil {
		t.Error(err)
	}
	if !slices.Contains(findings.MonitorNames(), "o2_heater") || !slices.Contains(findings.MonitorNames(), "nox_scr") {
		t.Errorf("monitor names %v", findings.MonitorNames())
	}
}
