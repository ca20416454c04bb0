package healthrecord

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/bayagent/bayagent/agent/emission"
	"github.com/bayagent/bayagent/agent/job"
	"github.com/bayagent/bayagent/agent/scan"
	"github.com/bayagent/bayagent/drivers/analyzer"
	"github.com/bayagent/bayagent/drivers/obd"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/jobs")

const (
	exampleJob    = "../../testdata/jobs/emission-repair.json"
	exampleUpload = "../../testdata/jobs/emission-repair.upload.json"
	companyName   = "杭州西湖汽车维修有限公司"
)

// TestExampleJob builds the example emission repair through job.Manager and
// checks that testdata/jobs/emission-repair.json is exactly the closed job
// file it writes, so that the golden mapping below starts from real output.
func TestExampleJob(t *testing.T) {
	dir := t.TempDir()
	c := buildExample(t, dir)
	got, err := os.ReadFile(filepath.Join(dir, "closed", c.ID+".json"))
	if err != nil {
		t.Fatal(err)
	}
	compareGolden(t, exampleJob, got)
}

// TestGoldenUpload maps the example closed job onto the shared API.
func TestGoldenUpload(t *testing.T) {
	c := readExample(t)
	var buf bytes.Buffer
	if err := Export(&buf, c, Options{CompanyName: companyName}); err != nil {
		t.Fatal(err)
	}
	compareGolden(t, exampleUpload, buf.Bytes())

	var u map[string]any
	if err := json.Unmarshal(buf.Bytes(), &u); err != nil {
		t.Fatal(err)
	}
	// Every value of the shared API is a string.
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				walk(path+"."+k, e)
			}
		case []any:
			for _, e := range x {
				walk(path+"[]", e)
			}
		case string:
		default:
			t.Errorf("%s is %T, not a string", path, v)
		}
	}
	for _, k := range []string{"basicInfo", "vehiclepartslist", "repairprojectlist"} {
		walk(k, u[k])
	}
}

func compareGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s (go test -update rewrites it):\n%s", path, got)
	}
}

func readExample(t *testing.T) job.Closed {
	t.Helper()
	f, err := os.Open(exampleJob)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c, err := job.DecodeClosed(f)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestMapping(t *testing.T) {
	c := readExample(t)
	longName := c.Settlement.Parts[0].Name
	if n := utf8.RuneCountInString(longName); n <= 50 {
		t.Fatalf("the example's first part name has %d characters; it should exercise truncation", n)
	}
	tests := []struct {
		name  string
		edit  func(*job.Closed)
		opts  Options
		check func(t *testing.T, u Upload)
		err   error
	}{
		{"part name truncated at 50 characters", nil, Options{CompanyName: "X"}, func(t *testing.T, u Upload) {
			got := u.VehiclePartsList[0].PartsName
			if utf8.RuneCountInString(got) != 50 || !strings.HasPrefix(longName, got) || !utf8.ValidString(got) {
				t.Errorf("partsname %q", got)
			}
		}, nil},
		{"limits configurable", nil, Options{CompanyName: "X", Dialect: Shared{FieldLimits: map[string]int{"partsname": 0, "repairproject": 2}}},
			func(t *testing.T, u Upload) {
				if u.VehiclePartsList[0].PartsName != longName {
					t.Errorf("partsname truncated with limit 0: %q", u.VehiclePartsList[0].PartsName)
				}
				if got := u.RepairProjectList[0].RepairProject; utf8.RuneCountInString(got) != 2 {
					t.Errorf("repairproject %q", got)
				}
			}, nil},
		{"fields", nil, Options{CompanyName: "X"}, func(t *testing.T, u Upload) {
			b := u.BasicInfo
			if b.RepairDate != "20260314" || b.SettleDate != "20260314" || b.RepairMileage != "123457" ||
				b.VIN != "LFV2A21K8A4052691" || b.CostListCode != "JS-20260314-0007" || b.TestNo != "330106202603140012" ||
				b.FaultDescription != c.Complaint || b.CompanyName != "X" || b.VehiclePlateNumber != "浙A12345" {
				t.Errorf("basicInfo %+v", b)
			}
			ms := u.MStation
			if ms == nil || ms.Before.OBD.MIL != "1" || ms.After.OBD.MIL != "0" || len(ms.Before.Readings) != 1 ||
				len(ms.After.Readings) != 1 || len(ms.DTCClears) != 2 || ms.Before.OBD.StoredDTCs[0] != "P0420" {
				t.Errorf("extension %+v", ms)
			}
		}, nil},
		{"fault description override", func(c *job.Closed) { c.Settlement.FaultDescription = "催化器失效" }, Options{CompanyName: "X"},
			func(t *testing.T, u Upload) {
				if u.BasicInfo.FaultDescription != "催化器失效" {
					t.Errorf("faultdescription %q", u.BasicInfo.FaultDescription)
				}
			}, nil},
		{"extension omitted", nil, Options{CompanyName: "X", Dialect: Shared{OmitExtension: true}}, func(t *testing.T, u Upload) {
			if u.MStation != nil {
				t.Error("extension present")
			}
		}, nil},
		{"repair job has neither test_no nor extension", func(c *job.Closed) { c.Type = job.TypeRepair; c.TestNo = "" },
			Options{CompanyName: "X"}, func(t *testing.T, u Upload) {
				if u.BasicInfo.TestNo != "" || u.MStation != nil {
					t.Errorf("test_no %q, extension %v", u.BasicInfo.TestNo, u.MStation)
				}
			}, nil},
		{"no parts", func(c *job.Closed) { c.Settlement.Parts = nil }, Options{CompanyName: "X"}, func(t *testing.T, u Upload) {
			if u.VehiclePartsList == nil {
				t.Error("vehiclepartslist is null, want []")
			}
		}, nil},
		{"company name required", nil, Options{}, nil, ErrIncomplete},
		{"VIN required", func(c *job.Closed) { c.VIN = "" }, Options{CompanyName: "X"}, nil, ErrIncomplete},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := readExample(t)
			if tt.edit != nil {
				tt.edit(&c)
			}
			var buf bytes.Buffer
			err := Export(&buf, c, tt.opts)
			if tt.err != nil {
				if !errors.Is(err, tt.err) || buf.Len() != 0 {
					t.Fatalf("err %v, output %d bytes", err, buf.Len())
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var u Upload
			dec := json.NewDecoder(&buf)
			dec.DisallowUnknownFields()
			if err := dec.Decode(&u); err != nil {
				t.Fatal(err)
			}
			tt.check(t, u)
		})
	}
}

// buildExample runs the example emission repair through a job.Manager with
// a fixed clock and returns the closed job.
func buildExample(t *testing.T, dir string) job.Closed {
	t.Helper()
	now := time.Date(2026, 3, 14, 1, 30, 0, 0, time.UTC)
	m, err := job.Open(dir, job.Options{
		Emit: func(context.Context, job.Event) error { return nil },
		Now:  func() time.Time { now = now.Add(7 * time.Minute); return now },
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(m.OpenJob(ctx, "bay1", job.Opening{
		ID: "J-2026-0314-01", Type: job.TypeEmissionRepair, Shop: "330106000123456",
		Plate: "浙A12345", PlateColor: job.PlateBlue, MileageKM: 123457,
		Complaint:  "排放检验不合格：双怠速法 CO、HC 超标 (failed two-speed idle: CO and HC above limit)",
		Technician: "T007", TestNo: "330106202603140012",
	}))
	must(m.Scan(ctx, "bay1", "", exampleSnapshot(true)))
	must(m.Reading(ctx, "bay1", "", exampleReading(time.Date(2026, 3, 14, 1, 45, 0, 0, time.UTC),
		[]float64{180, 1.2, 13.1, 1.1, 420, 0.97, 780, 85}, analyzer.StatusO2SensorAged)))
	must(m.Note(ctx, "bay1", job.Note{Author: "T007", Text: "三元催化器效率低，更换催化器 (catalyst below threshold, replacing it)", RepairStarted: true}))
	must(m.ClearDTCs(ctx, "bay1", job.DTCClear{Technician: "T007", Reason: "catalytic converter replaced"},
		func(context.Context) ([]obd.ECU, error) { return []obd.ECU{0x7E8}, nil }))
	must(m.Scan(ctx, "bay1", "", exampleSnapshot(false)))
	must(m.Reading(ctx, "bay1", "", exampleReading(time.Date(2026, 3, 14, 3, 10, 0, 0, time.UTC),
		[]float64{35, 0.15, 14.8, 0.4, 60, 1, 790, 88})))
	must(m.EmissionTest(ctx, "bay1", "", "T007", emission.InstrumentState{}, exampleTest()))
	c, _, err := m.CloseJob(ctx, "bay1", "T007", job.Settlement{
		SettlementNo: "JS-20260314-0007", SettleDate: "2026-03-14", RepairDate: "2026-03-14",
		Items: []job.RepairItem{
			{Name: "更换三元催化器 (replace catalytic converter)", WorkingHours: "1.5"},
			{Name: "清除故障码并路试 (clear codes, road test)", WorkingHours: "0.5"},
		},
		Parts: []job.Part{
			{Name: "三元催化转化器总成（含前排气管、密封垫及安装螺栓）原厂件 three-way catalytic converter assembly", Code: "06A131701", Quantity: "1"},
			{Name: "排气管密封垫", Code: "1K0253115", Quantity: "2"},
			{Name: "发动机机油 5W-30", Quantity: "4.5"},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// exampleTest is the after-repair two-speed idle test, cut to its
// averages and verdict.
func exampleTest() *emission.Result {
	at := time.Date(2026, 3, 14, 3, 5, 0, 0, time.UTC)
	q := func(name string, v float64, unit string) analyzer.Quantity {
		return analyzer.Quantity{Name: name, Value: v, Unit: unit}
	}
	return &emission.Result{
		Method: emission.TwoSpeedIdle, Started: at, Ended: at.Add(140 * time.Second),
		Instrument:   analyzer.InstrumentID{Model: "NHA-506I", Port: "/dev/ttyUSB1", Protocol: "nha506"},
		LimitSetName: "a", Limits: emission.DefaultConfig().LimitSets["a"], Samples: []emission.Sample{},
		Modes: []emission.ModeResult{
			{Mode: "high_idle", Samples: 30, Averages: []analyzer.Quantity{q("hc", 20, "ppm"), q("co", 0.1, "%vol"), q("lambda", 1, "")}},
			{Mode: "idle", Samples: 30, Averages: []analyzer.Quantity{q("hc", 35, "ppm"), q("co", 0.15, "%vol")}},
		},
		Verdict: emission.Verdict{Result: emission.Pass, Unverified: true, Text: map[string]string{
			"en": "two-speed idle: PASS (limit set a)", "zh-CN": "双怠速法：合格（限值 a）"}},
	}
}

func exampleSnapshot(broken bool) scan.Snapshot {
	f := func(v float64) *float64 { return &v }
	mon := func(name, label string, code int) obd.Monitor {
		return obd.Monitor{Name: name, Label: label, Supported: code != obd.MonitorNotSupported, Complete: code == obd.MonitorComplete, Code: code}
	}
	s := scan.Snapshot{
		Protocol: "ISO 15765-4 CAN 11-bit", VIN: "LFV2A21K8A4052691", VINValid: true,
		Ignition: "spark", OBDStandard: "China nationwide stage 6 (CN-OBD-6)",
		Readiness: []obd.Monitor{
			mon("misfire", "Misfire", obd.MonitorComplete),
			mon("fuel_system", "Fuel system", obd.MonitorComplete),
			mon("components", "Comprehensive components", obd.MonitorComplete),
			mon("catalyst", "Catalyst", obd.MonitorNotComplete),
			mon("evap", "Evaporative system", obd.MonitorComplete),
			mon("o2_sensor", "Oxygen sensor", obd.MonitorComplete),
		},
		Odometer: f(123456.7),
		Stats:    scan.Stats{Started: time.Date(2026, 3, 14, 1, 40, 0, 0, time.UTC), Duration: 850 * time.Millisecond, Requests: 22},
	}
	ecm := scan.ECU{Address: 0x7E8, Name: "ECM-EngineControl", CALIDs: []string{"06A906032HN"}, CVNs: []string{"8F2C41D0"},
		Stored: []obd.DTC{}, Pending: []obd.DTC{}, Permanent: []obd.DTC{}, SupportedPIDs: []string{"01", "0C", "0D", "A6"}}
	if broken {
		s.MIL, s.DTCCount = true, 1
		s.DTCs = scan.DTCCounts{Stored: 1, Permanent: 1}
		ecm.MIL, ecm.DTCCount = true, 1
		ecm.Stored = []obd.DTC{obd.NewDTC("P0420")}
		ecm.Permanent = []obd.DTC{obd.NewDTC("P0420")}
		s.DistanceWithMIL, s.DistanceSinceClear, s.WarmupsSinceClear = f(312), f(5830), f(140)
		s.Flags = []scan.Flag{
			{Code: scan.FlagMILOn, Message: "malfunction indicator lamp is on (1 confirmed DTC)"},
			{Code: scan.FlagReadinessIncomplete, Message: "readiness not complete: Catalyst"},
		}
	} else {
		s.Odometer = f(123461.2)
		s.DistanceWithMIL, s.DistanceSinceClear, s.WarmupsSinceClear = f(0), f(4), f(1)
		s.Stats.Started = time.Date(2026, 3, 14, 3, 5, 0, 0, time.UTC)
		s.Flags = []scan.Flag{
			{Code: scan.FlagCodesClearedRecent, Message: "codes cleared recently: 4 km, 1 warm-up since clear"},
			{Code: scan.FlagReadinessIncomplete, Message: "readiness not complete: Catalyst"},
		}
	}
	s.ECUs = []scan.ECU{ecm}
	return s
}

// exampleReading is a two-speed idle reading with hc, co, co2, o2, no,
// lambda, rpm and oil temperature.
func exampleReading(at time.Time, v []float64, status ...string) analyzer.Reading {
	return analyzer.Reading{
		Method:     analyzer.MethodTwoSpeedIdle,
		Instrument: analyzer.InstrumentID{Model: "NHA-506", Port: "/dev/ttyUSB1", Protocol: "nha506"},
		Time:       at,
		Values: []analyzer.Quantity{
			{Name: analyzer.QuantityHC, Value: v[0], Unit: analyzer.UnitPPM},
			{Name: analyzer.QuantityCO, Value: v[1], Unit: analyzer.UnitVol},
			{Name: analyzer.QuantityCO2, Value: v[2], Unit: analyzer.UnitVol},
			{Name: analyzer.QuantityO2, Value: v[3], Unit: analyzer.UnitVol},
			{Name: analyzer.QuantityNO, Value: v[4], Unit: analyzer.UnitPPM},
			{Name: analyzer.QuantityLambda, Value: v[5], Unit: analyzer.UnitNone},
			{Name: analyzer.QuantityRPM, Value: v[6], Unit: analyzer.UnitRPM},
			{Name: analyzer.QuantityOilTemperature, Value: v[7], Unit: analyzer.UnitCelsius},
		},
		Status: status,
	}
}

// TestExportSaysClockUnsynced: a job settled while the box's clock was not
// synchronised says so in its close record and its export (issue 12,
// trusted time); one settled with a synchronised clock says nothing.
func TestExportSaysClockUnsynced(t *testing.T) {
	for _, synced := range []bool{false, true} {
		var closeBody job.JobCloseBody
		m, err := job.Open(t.TempDir(), job.Options{
			Emit: func(_ context.Context, ev job.Event) error {
				if b, ok := ev.Body.(job.JobCloseBody); ok {
					closeBody = b
				}
				return nil
			},
			ClockSynced: func() bool { return synced },
		})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		if _, err := m.OpenJob(ctx, "bay1", job.Opening{ID: "J-1", Type: job.TypeRepair, Shop: "330106000123456",
			Plate: "浙A12345", VIN: "LFV2A21K8A4052691", MileageKM: 1000, Complaint: "noise", Technician: "T007"}); err != nil {
			t.Fatal(err)
		}
		c, _, err := m.CloseJob(ctx, "bay1", "T007", job.Settlement{SettlementNo: "JS-1", SettleDate: "2026-03-14", RepairDate: "2026-03-14",
			Items: []job.RepairItem{{Name: "brake pads", WorkingHours: "1"}}, Parts: []job.Part{}})
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		if err := Export(&out, c, Options{CompanyName: "Test Motors"}); err != nil {
			t.Fatal(err)
		}
		says := strings.Contains(out.String(), `"x_bayagent_clock_unsynchronised": "true"`)
		if c.ClockUnsynced == synced || closeBody.ClockUnsynced == synced || says == synced {
			t.Errorf("clock synchronised %v: Closed.ClockUnsynced %v, job_close body %v, export says so %v:\n%s",
				synced, c.ClockUnsynced, closeBody.ClockUnsynced, says, out.String())
		}
	}
}
