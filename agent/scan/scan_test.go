package scan_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bayagent/bayagent/agent/scan"
	"github.com/bayagent/bayagent/drivers/canbus"
	"github.com/bayagent/bayagent/drivers/isotp"
	"github.com/bayagent/bayagent/drivers/obd"
	"github.com/bayagent/bayagent/drivers/obd/obdsim"
)

func profilePath(name string) string {
	return filepath.Join("..", "..", "testdata", "vehicles", name+".yaml")
}

func loadProfile(t testing.TB, name string) *obdsim.Profile {
	t.Helper()
	p, err := obdsim.Load(profilePath(name))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

const testP2 = 500 * time.Millisecond

// rig is a simulated vehicle on an in-process bus and an ISO-TP tester.
type rig struct {
	client *isotp.Client
	stop   func() error
}

func startRig(t testing.TB, p *obdsim.Profile, latency, p2 time.Duration) *rig {
	t.Helper()
	v, err := obdsim.New(p, obdsim.Options{Latency: latency})
	if err != nil {
		t.Fatal(err)
	}
	bus := canbus.NewMemBus()
	stop := v.Start(context.Background(), bus)
	conn := bus.Connect()
	// A wide P2: the suite runs on loaded 2-core machines and under qemu,
	// where a 50 ms window would make answers late at random. Requests that
	// name their ECUs still return as soon as those have answered.
	// A short N_Cr: the fault tests wait it out for every dropped frame.
	c := isotp.NewClient(conn, isotp.Config{Extended: p.Bus.IDBits == 29, P2: p2, NCr: 250 * time.Millisecond})
	r := &rig{client: c, stop: stop}
	t.Cleanup(func() {
		c.Close()
		conn.Close()
		if err := stop(); err != nil {
			t.Errorf("simulator: %v", err)
		}
	})
	return r
}

func scanProfile(t *testing.T, name string, opts scan.Options) *scan.Snapshot {
	t.Helper()
	r := startRig(t, loadProfile(t, name), 0, testP2)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	snap, err := scan.Scan(ctx, r.client, opts)
	if err != nil {
		t.Fatalf("scan %s: %v", name, err)
	}
	return snap
}

func codes(d []obd.DTC) []string {
	out := []string{}
	for _, x := range d {
		out = append(out, x.Code)
	}
	return out
}

func ecu(t *testing.T, s *scan.Snapshot, addr obd.ECU) scan.ECU {
	t.Helper()
	for _, e := range s.ECUs {
		if e.Address == addr {
			return e
		}
	}
	t.Fatalf("no ECU %s in snapshot (have %v)", addr, s.ECUs)
	return scan.ECU{}
}

func readiness(s *scan.Snapshot) map[string]int {
	m := map[string]int{}
	for _, r := range s.Readiness {
		m[r.Name] = r.Code
	}
	return m
}

func approx(t *testing.T, what string, got *float64, want float64) {
	t.Helper()
	if got == nil {
		t.Errorf("%s: missing, want %g", what, want)
		return
	}
	if d := *got - want; d > 1e-6 || d < -1e-6 {
		t.Errorf("%s = %g, want %g", what, *got, want)
	}
}

// TestScanP0420 checks every fact of the petrol-p0420 profile, on 11-bit and
// on 29-bit identifiers.
func TestScanP0420(t *testing.T) {
	for _, tc := range []struct {
		profile         string
		vin             string
		engine, gearbox obd.ECU
	}{
		{"petrol-p0420", "LFV2A21K8A4052691", 0x7E8, 0x7E9},
		{"petrol-29bit", "LGBH52E00KY000117", 0x18DAF110, 0x18DAF118},
	} {
		t.Run(tc.profile, func(t *testing.T) {
			s := scanProfile(t, tc.profile, scan.Options{})
			if tc.profile == "petrol-p0420" {
				checkTests(t, s)
			}
			if s.VIN != tc.vin {
				t.Errorf("VIN = %q, want %q", s.VIN, tc.vin)
			}
			if !s.VINValid {
				t.Errorf("VIN %s not valid: %s", s.VIN, s.VINProblem)
			}
			if !s.MIL {
				t.Error("MIL off, want on")
			}
			if s.Ignition != "spark" {
				t.Errorf("ignition = %q, want spark", s.Ignition)
			}
			if len(s.ECUs) != 2 {
				t.Fatalf("%d ECUs, want 2", len(s.ECUs))
			}
			eng, tcm := ecu(t, s, tc.engine), ecu(t, s, tc.gearbox)
			for _, c := range []struct {
				what      string
				got, want []string
			}{
				{"engine stored", codes(eng.Stored), []string{"P0420", "P0171"}},
				{"engine pending", codes(eng.Pending), []string{"P0300"}},
				{"engine permanent", codes(eng.Permanent), []string{"P0420"}},
				{"transmission stored", codes(tcm.Stored), []string{"P0700"}},
				{"transmission pending", codes(tcm.Pending), []string{}},
				{"transmission permanent", codes(tcm.Permanent), []string{}},
			} {
				if !slices.Equal(c.got, c.want) {
					t.Errorf("%s = %v, want %v", c.what, c.got, c.want)
				}
			}
			if d := eng.Stored[0].Description; d != "Catalyst System Efficiency Below Threshold (Bank 1)" {
				t.Errorf("P0420 description = %q", d)
			}
			if s.DTCs != (scan.DTCCounts{Stored: 3, Pending: 1, Permanent: 1}) {
				t.Errorf("DTC counts = %+v", s.DTCs)
			}
			for _, e := range s.ECUs {
				if len(e.CALIDs) != 1 || len(e.CVNs) != 1 || e.Name == "" {
					t.Errorf("ECU %s: name %q CALIDs %v CVNs %v, want a name and one of each", e.Address, e.Name, e.CALIDs, e.CVNs)
				}
			}
			r := readiness(s)
			if r["catalyst"] != 2 {
				t.Errorf("catalyst readiness = %d, want 2 (not complete)", r["catalyst"])
			}
			for name, code := range r {
				if name != "catalyst" && code == 2 {
					t.Errorf("monitor %s not complete, want every supported monitor but the catalyst complete", name)
				}
			}
			approx(t, "odometer", s.Odometer, 123456.7)
			approx(t, "distance with MIL", s.DistanceWithMIL, 412)
			if ff := s.FreezeFrame; ff == nil || ff.DTC.Code != "P0420" || ff.ECU != tc.engine || len(ff.Values) == 0 {
				t.Errorf("freeze frame = %+v, want P0420 from the engine ECU with values", ff)
			}
			for _, want := range []string{scan.FlagMILOn, scan.FlagReadinessIncomplete} {
				if !s.HasFlag(want) {
					t.Errorf("flag %s missing: %v", want, s.Flags)
				}
			}
			if s.HasFlag(scan.FlagCodesClearedRecent) {
				t.Errorf("codes-cleared flag raised on a car that has not been cleared: %v", s.Flags)
			}
			if len(s.Problems) != 0 {
				t.Errorf("problems: %v", s.Problems)
			}
		})
	}
}

func TestScanClean(t *testing.T) {
	s := scanProfile(t, "petrol-clean", scan.Options{})
	if s.MIL || s.DTCCount != 0 || s.DTCs != (scan.DTCCounts{}) {
		t.Errorf("MIL %v, DTC count %d, DTCs %+v; want a clean car", s.MIL, s.DTCCount, s.DTCs)
	}
	for name, code := range readiness(s) {
		if code == 2 {
			t.Errorf("monitor %s not complete", name)
		}
	}
	if s.FreezeFrame != nil {
		t.Errorf("freeze frame %+v on a clean car", s.FreezeFrame)
	}
	if len(s.Flags) != 0 {
		t.Errorf("flags on a clean car: %v", s.Flags)
	}
}

func TestScanCleared(t *testing.T) {
	s := scanProfile(t, "petrol-cleared", scan.Options{})
	if s.MIL || s.DTCs != (scan.DTCCounts{}) {
		t.Errorf("MIL %v, DTCs %+v; want none", s.MIL, s.DTCs)
	}
	approx(t, "distance since clear", s.DistanceSinceClear, 3)
	approx(t, "warm-ups since clear", s.WarmupsSinceClear, 1)
	r := readiness(s)
	for _, m := range []string{"catalyst", "o2_sensor", "evap"} {
		if r[m] != 2 {
			t.Errorf("%s readiness = %d, want 2", m, r[m])
		}
	}
	for _, want := range []string{scan.FlagCodesClearedRecent, scan.FlagReadinessIncomplete} {
		if !s.HasFlag(want) {
			t.Errorf("flag %s missing: %v", want, s.Flags)
		}
	}
}

func TestScanVINMismatch(t *testing.T) {
	s := scanProfile(t, "petrol-clean", scan.Options{ExpectedVIN: "LGBH52E00KY000117"})
	if !s.HasFlag(scan.FlagVINMismatch) {
		t.Errorf("no VIN mismatch flag: %v", s.Flags)
	}
}

func TestScanNoVehicle(t *testing.T) {
	bus := canbus.NewMemBus()
	conn := bus.Connect()
	defer conn.Close()
	c := isotp.NewClient(conn, isotp.Config{P2: time.Millisecond})
	defer c.Close()
	_, err := scan.Scan(context.Background(), c, scan.Options{})
	if !errors.Is(err, scan.ErrNoVehicle) {
		t.Fatalf("err = %v, want ErrNoVehicle", err)
	}
}

// TestScanFaults injects each fault into the engine ECU: the scan completes,
// recovers what the protocol allows and lists the damaged answers as
// problems; it never hangs and never panics.
func TestScanFaults(t *testing.T) {
	for _, tc := range []struct {
		name   string
		faults obdsim.Faults
	}{
		{"drop_frame", obdsim.Faults{DropFrame: true}},
		{"late_cf", obdsim.Faults{LateCF: obdsim.Duration(30 * time.Millisecond)}},
		{"fc_wait", obdsim.Faults{FCWait: 2}},
		{"wrong_sn", obdsim.Faults{WrongSN: true}},
		{"garbage", obdsim.Faults{Garbage: true}},
		{"all", obdsim.Faults{DropFrame: true, WrongSN: true, Garbage: true, FCWait: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := loadProfile(t, "petrol-p0420")
			p.ECUs[0].Faults = tc.faults
			r := startRig(t, p, 0, testP2)
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			s, err := scan.Scan(ctx, r.client, scan.Options{})
			if errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("scan hung: %v", err)
			}
			if err != nil {
				// Only the engine is damaged: the scan must complete and
				// list what it lost.
				t.Fatalf("scan failed: %v", err)
			}
			if len(s.ECUs) == 0 {
				t.Fatal("snapshot without ECUs")
			}
			switch tc.name {
			case "late_cf", "fc_wait", "garbage":
				// Recoverable: the answers arrive whole.
				if s.VIN != "LFV2A21K8A4052691" {
					t.Errorf("VIN = %q after a recoverable fault; problems %v; stats %+v", s.VIN, s.Problems, r.client.Stats())
				}
			case "drop_frame", "wrong_sn":
				// Multi-frame answers from the engine are lost, and say so.
				if s.VIN != "" || len(s.Problems) == 0 {
					t.Errorf("VIN %q, problems %v: the damage went unnoticed", s.VIN, s.Problems)
				}
			}
		})
	}
}

// checkTests: petrol-p0420's engine reports its Mode 06 tests (scaled, with
// limits and a verdict: the catalyst failed, the downstream O2 sensor is
// close to its minimum) and the transmission, which has no Mode 06, none,
// without a problem.
func checkTests(t *testing.T, s *scan.Snapshot) {
	t.Helper()
	want := "[{MID:01 TID:142 UASID:11 Value:0.551 Min:0.1 Max:1 Unit:V Pass:true NotRun:false Margin:0.498889}" +
		" {MID:02 TID:7 UASID:11 Value:0.412 Min:0.4 Max:1.1 Unit:V Pass:true NotRun:false Margin:0.017143}" +
		" {MID:21 TID:1 UASID:32 Value:0.785156 Min:0 Max:0.75 Unit:ratio Pass:false NotRun:false Margin:-0.046875}]"
	if len(s.ECUs) != 2 || fmt.Sprintf("%+v", s.ECUs[0].Tests) != want || s.ECUs[1].Tests != nil {
		t.Errorf("Mode 06:\n got  %+v\n want %s", s.ECUs[0].Tests, want)
	}
	if !s.ECUs[0].Tests[1].Near() || s.ECUs[0].Tests[0].Near() {
		t.Errorf("near limit: %v, %v; want the downstream sensor only", s.ECUs[0].Tests[0].Near(), s.ECUs[0].Tests[1].Near())
	}
	for _, p := range s.Problems {
		if strings.Contains(p, "Mode 06") {
			t.Errorf("problem %q", p)
		}
	}
}
