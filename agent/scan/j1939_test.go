package scan

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/bayagent/bayagent/drivers/canbus"
	"github.com/bayagent/bayagent/drivers/j1939/j1939sim"
	"github.com/bayagent/bayagent/drivers/obd"
)

var updateJ1939 = flag.Bool("update-j1939", false, "rewrite the J1939 candump trace")

var (
	truckProfile = filepath.Join("..", "..", "testdata", "vehicles", "diesel-truck-j1939.yaml")
	truckGolden  = filepath.Join("..", "..", "testdata", "golden", "scan-diesel-truck-j1939.json")
	truckTrace   = filepath.Join("..", "..", "testdata", "traces", "diesel-truck-j1939.log")
)

func loadTruck(t *testing.T) *j1939sim.Profile {
	t.Helper()
	p, err := j1939sim.Load(truckProfile)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// truckScan runs an active scan of the simulated truck on an in-process bus,
// inside a synctest bubble (the caller's), and returns the snapshot. rec,
// when set, records the scan's traffic.
func truckScan(t *testing.T, p *j1939sim.Profile, simOpts j1939sim.Options, rec *bytes.Buffer) *Snapshot {
	t.Helper()
	sim, err := j1939sim.New(p, simOpts)
	if err != nil {
		t.Fatal(err)
	}
	bus := canbus.NewMemBus()
	simConn := bus.Connect()
	stop := sim.Start(simConn)
	var conn canbus.Conn = bus.Connect()
	if rec != nil {
		conn = canbus.Record(conn, rec, "can0", nil)
	}
	defer func() {
		if err := stop(); err != nil {
			t.Errorf("simulator: %v", err)
		}
		simConn.Close()
		if err := conn.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	snap, err := ScanJ1939(ctx, conn, Options{})
	if err != nil {
		t.Fatalf("scan: %v", err)
	}
	return snap
}

func j1939ECU(t *testing.T, s *Snapshot, addr obd.ECU) ECU {
	t.Helper()
	for _, e := range s.ECUs {
		if e.Address == addr {
			return e
		}
	}
	t.Fatalf("no ECU %s in %v", addr, s.ECUs)
	return ECU{}
}

func dtcCodes(d []obd.DTC) []string {
	out := []string{}
	for _, x := range d {
		out = append(out, x.Code)
	}
	return out
}

// checkTruck checks every fact of diesel-truck-j1939.yaml.
func checkTruck(t *testing.T, s *Snapshot) {
	t.Helper()
	if s.VIN != "LZZ1CLSB1KA000789" || !s.VINValid {
		t.Errorf("VIN %q valid=%t, want LZZ1CLSB1KA000789 valid", s.VIN, s.VINValid)
	}
	if !s.MIL || s.DTCCount != 1 || s.DTCs.Stored != 1 || s.DTCs.Pending != 0 || s.DTCs.Permanent != 0 {
		t.Errorf("MIL %t, dtc_count %d, counts %+v; want MIL on, 1, {1 0 0}", s.MIL, s.DTCCount, s.DTCs)
	}
	if s.Ignition != obd.IgnitionCompression || s.OBDStandard != "China heavy duty stage VI (CN-HDOBD-VI)" {
		t.Errorf("ignition %q, OBD standard %q", s.Ignition, s.OBDStandard)
	}
	if len(s.ECUs) != 2 {
		t.Fatalf("%d ECUs, want 2: %+v", len(s.ECUs), s.ECUs)
	}
	eng, at := j1939ECU(t, s, 0x00), j1939ECU(t, s, 0x3D)
	if eng.Name != "Engine #1" || at.Name != "Exhaust Emission Controller" {
		t.Errorf("names %q, %q", eng.Name, at.Name)
	}
	if eng.MIL || !at.MIL {
		t.Errorf("MIL engine %t aftertreatment %t, want off/on", eng.MIL, at.MIL)
	}
	if got := dtcCodes(at.Stored); !slices.Equal(got, []string{"SPN 3226 FMI 0"}) {
		t.Errorf("aftertreatment active = %v", got)
	} else if d := at.Stored[0]; d.J1939 != (obd.J1939Code{SPN: 3226, FMI: 0, Occurrences: 3}) ||
		!strings.HasPrefix(d.Description, "Aftertreatment 1 outlet NOx 1: data valid but above normal") {
		t.Errorf("aftertreatment DTC = %+v", d)
	}
	if len(eng.Stored) != 0 || len(at.Pending) != 0 || len(at.Permanent) != 0 {
		t.Errorf("unexpected codes: engine %v, pending %v, permanent %v", eng.Stored, at.Pending, at.Permanent)
	}
	// DM2 (previously active) codes.
	if got := dtcCodes(at.Previous); !slices.Equal(got, []string{"SPN 5246 FMI 0"}) {
		t.Errorf("aftertreatment previously active = %v", got)
	}
	if got := dtcCodes(eng.Previous); len(got) != 0 {
		t.Errorf("engine previously active = %v", got)
	}
	if !slices.Equal(eng.CALIDs, []string{"EDC17CV44P1234"}) || !slices.Equal(eng.CVNs, []string{"1A2B3C4D"}) ||
		!slices.Equal(at.CALIDs, []string{"SCR-ATS-0417-B2"}) || !slices.Equal(at.CVNs, []string{"5E6F7081"}) {
		t.Errorf("CALIDs/CVNs: engine %v %v, aftertreatment %v %v", eng.CALIDs, eng.CVNs, at.CALIDs, at.CVNs)
	}
	want := map[string]int{
		"misfire": 1, "fuel_system": 1, "components": 1, "nmhc_catalyst": 1, "nox_scr": 2,
		"boost_pressure": 1, "exhaust_gas_sensor": 1, "pm_filter": 2, "egr_vvt": 1,
	}
	got := map[string]int{}
	for _, m := range s.Readiness {
		got[m.Name] = m.Code
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("readiness %s = %d, want %d (all: %v)", k, got[k], v, got)
		}
	}
	if s.Odometer == nil || *s.Odometer != 234567.875 {
		t.Errorf("odometer = %v, want 234567.875", s.Odometer)
	}
	hours := 0.0
	for _, v := range eng.Live {
		if v.Name == "engine_hours" {
			hours = v.Value
		}
	}
	if d := hours - 5123.45; d > 1e-6 || d < -1e-6 {
		t.Errorf("engine hours = %g, want 5123.45", hours)
	}
	if eng.IUPR == nil || eng.IUPR.IgnCntr != 842 || eng.IUPR.OBDCond != 611 || len(eng.IUPR.Monitors) != 2 {
		t.Errorf("engine DM20 = %+v", eng.IUPR)
	}
	// DM21, per controller and, from the engine (the lowest address), in
	// the snapshot.
	for _, tc := range []struct {
		ecu  ECU
		want []string
	}{
		{eng, []string{"distance_with_mil=0 km", "distance_since_clear=15230 km", "time_with_mil=0 min", "time_since_clear=48000 min"}},
		{at, []string{"distance_with_mil=86 km", "distance_since_clear=15230 km", "time_with_mil=140 min", "time_since_clear=48000 min"}},
	} {
		if got := dm21Values(tc.ecu); !slices.Equal(got, tc.want) {
			t.Errorf("ECU %s DM21 values %v, want %v", tc.ecu.Address, got, tc.want)
		}
	}
	if got, want := optValues(s.DistanceWithMIL, s.DistanceSinceClear, s.TimeWithMIL, s.TimeSinceClear), "86 15230 140 48000"; got != want {
		t.Errorf("snapshot distance/time with MIL, since clear = %s, want %s", got, want)
	}
	for _, f := range []string{FlagMILOn, FlagReadinessIncomplete} {
		if !s.HasFlag(f) {
			t.Errorf("flag %s missing: %v", f, s.Flags)
		}
	}
	if s.HasFlag(FlagCodesClearedRecent) {
		t.Errorf("flag %s raised 15230 km after the clear: %v", FlagCodesClearedRecent, s.Flags)
	}
}

// dm21Values lists an ECU's DM21 live values as name=value unit.
func dm21Values(e ECU) []string {
	var out []string
	for _, v := range e.Live {
		switch v.Name {
		case "distance_with_mil", "distance_since_clear", "time_with_mil", "time_since_clear":
			out = append(out, fmt.Sprintf("%s=%g %s", v.Name, v.Value, v.Unit))
		}
	}
	return out
}

// optValues prints optional snapshot numbers, "-" for nil.
func optValues(vs ...*float64) string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = "-"
		if v != nil {
			out[i] = fmt.Sprintf("%g", *v)
		}
	}
	return strings.Join(out, " ")
}

// TestScanJ1939DM21 checks where the snapshot's distance and time with the
// MIL on (the controller that reports the most) and since codes cleared (the
// least) come from, and that a recent clear on a truck raises
// codes_cleared_recently.
func TestScanJ1939DM21(t *testing.T) {
	km := func(v uint16) *uint16 { return &v }
	for _, tc := range []struct {
		name    string
		edit    func(p *j1939sim.Profile)
		want    string // distance with MIL, since clear, time with MIL, since clear
		cleared bool
	}{
		{"engine cleared 12 km ago", func(p *j1939sim.Profile) {
			p.J1939.ECUs[0].DM21.DistanceSinceClearKm, p.J1939.ECUs[0].DM21.MinutesSinceClear = km(12), km(25)
		}, "86 12 140 25", true},
		{"engine without DM21", func(p *j1939sim.Profile) { p.J1939.ECUs[0].DM21 = nil }, "86 15230 140 48000", false},
		{"not available from the engine", func(p *j1939sim.Profile) {
			p.J1939.ECUs[0].DM21 = &j1939sim.DM21{MinutesSinceClear: km(47000)}
			p.J1939.ECUs[1].DM21.DistanceSinceClearKm = km(30)
		}, "86 30 140 47000", true},
		{"no DM21", func(p *j1939sim.Profile) { p.J1939.ECUs[0].DM21, p.J1939.ECUs[1].DM21 = nil, nil }, "- - - -", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p := loadTruck(t)
				tc.edit(p)
				s := truckScan(t, p, j1939sim.Options{DM1Period: -1}, nil)
				if got := optValues(s.DistanceWithMIL, s.DistanceSinceClear, s.TimeWithMIL, s.TimeSinceClear); got != tc.want {
					t.Errorf("snapshot %s, want %s", got, tc.want)
				}
				if s.HasFlag(FlagCodesClearedRecent) != tc.cleared {
					t.Errorf("flag %s: %t, want %t (%v)", FlagCodesClearedRecent, s.HasFlag(FlagCodesClearedRecent), tc.cleared, s.Flags)
				}
				if len(s.Problems) != 0 {
					t.Errorf("problems: %v", s.Problems)
				}
			})
		})
	}
}

// TestScanJ1939Sim scans the simulated truck and checks every fact of its
// profile (the golden snapshot is cmd/bayagent's TestScanGolden). With
// -update-j1939 it rewrites the candump trace of the scan that
// TestScanJ1939Replay plays back.
func TestScanJ1939Sim(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var rec bytes.Buffer
		s := truckScan(t, loadTruck(t), j1939sim.Options{}, &rec)
		checkTruck(t, s)
		if len(s.Problems) != 0 {
			t.Errorf("problems: %v", s.Problems)
		}
		if *updateJ1939 {
			if err := os.WriteFile(truckTrace, rec.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// TestScanJ1939Replay scans the recorded trace passively: a replay cannot
// transmit, so the scan works from the broadcasts and answers in the log.
func TestScanJ1939Replay(t *testing.T) {
	conn, err := canbus.Open(context.Background(), "replay:"+truckTrace, canbus.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := ScanJ1939(ctx, conn, Options{})
	if err != nil {
		t.Fatal(err)
	}
	checkTruck(t, s)
	if s.Stats.Requests != 0 {
		t.Errorf("a passive scan sent %d requests", s.Stats.Requests)
	}
	var golden Snapshot
	b, err := os.ReadFile(truckGolden)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &golden); err != nil {
		t.Fatal(err)
	}
	for i := range golden.ECUs {
		g, r := golden.ECUs[i], j1939ECU(t, s, golden.ECUs[i].Address)
		if !slices.Equal(dtcCodes(g.Stored), dtcCodes(r.Stored)) || !slices.Equal(g.CALIDs, r.CALIDs) {
			t.Errorf("ECU %s: replay %v %v, golden %v %v", g.Address, dtcCodes(r.Stored), r.CALIDs, dtcCodes(g.Stored), g.CALIDs)
		}
	}
}

// TestScanJ1939Faults injects transport faults and a rival tool: the scan
// always ends, recovers what the protocol allows, and reports the rest.
func TestScanJ1939Faults(t *testing.T) {
	for _, tc := range []struct {
		name     string
		faults   j1939sim.Faults
		rival    bool
		complete bool // every fact still read
		problem  string
	}{
		{name: "lost DT", faults: j1939sim.Faults{LostDT: true}, complete: true},
		{name: "lost last DT", faults: j1939sim.Faults{LostLastDT: true}, complete: true},
		{name: "late DT within T1", faults: j1939sim.Faults{LateDT: j1939sim.Duration(500 * time.Millisecond)}, complete: true},
		{name: "late DT beyond T1", faults: j1939sim.Faults{LateDT: j1939sim.Duration(900 * time.Millisecond)}, problem: "timeout"},
		{name: "abort", faults: j1939sim.Faults{Abort: true}, problem: "aborted by peer"},
		{name: "rival tool", rival: true, complete: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p := loadTruck(t)
				for i := range p.J1939.ECUs {
					p.J1939.ECUs[i].Faults = tc.faults
				}
				start := time.Now()
				s := truckScan(t, p, j1939sim.Options{Rival: tc.rival}, nil)
				t.Logf("scan took %v (simulated), problems %v", time.Since(start), s.Problems)
				if tc.complete {
					checkTruck(t, s)
					if len(s.Problems) != 0 {
						t.Errorf("problems: %v", s.Problems)
					}
					return
				}
				if !strings.Contains(strings.Join(s.Problems, "\n"), tc.problem) {
					t.Errorf("problems %v, want one about %q", s.Problems, tc.problem)
				}
				// Single-frame messages are unaffected.
				if !s.MIL || s.DTCs.Stored != 1 {
					t.Errorf("MIL %t stored %d", s.MIL, s.DTCs.Stored)
				}
			})
		})
	}
}

// TestScanJ1939RivalMovesAddress checks that the tool yields its address to a
// stronger NAME and scans from the next one.
func TestScanJ1939RivalMovesAddress(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var rec bytes.Buffer
		truckScan(t, loadTruck(t), j1939sim.Options{Rival: true}, &rec)
		if !strings.Contains(rec.String(), "18EA00FA#") {
			t.Errorf("no request sent from address FA after losing F9:\n%s", rec.String())
		}
	})
}

func TestDetectJ1939(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sim, err := j1939sim.New(loadTruck(t), j1939sim.Options{DM1Period: -1})
		if err != nil {
			t.Fatal(err)
		}
		bus := canbus.NewMemBus()
		simConn := bus.Connect()
		stop := sim.Start(simConn)
		conn := bus.Connect()
		if !DetectJ1939(context.Background(), conn) {
			t.Error("truck not detected")
		}
		stop()
		simConn.Close()
		empty := canbus.NewMemBus().Connect()
		if DetectJ1939(context.Background(), empty) {
			t.Error("J1939 detected on an empty bus")
		}
		empty.Close()
		conn.Close()
	})
}

// TestScanJ1939NoVehicle: nobody on the bus.
func TestScanJ1939NoVehicle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		conn := canbus.NewMemBus().Connect()
		defer conn.Close()
		_, err := ScanJ1939(context.Background(), conn, Options{})
		if !errors.Is(err, ErrNoVehicle) {
			t.Errorf("err = %v, want ErrNoVehicle", err)
		}
	})
}
