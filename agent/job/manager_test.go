package job

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/bayagent/bayagent/agent/check"
	"github.com/bayagent/bayagent/agent/emission"
	"github.com/bayagent/bayagent/agent/findings"
	"github.com/bayagent/bayagent/agent/record"
	"github.com/bayagent/bayagent/agent/scan"
	"github.com/bayagent/bayagent/drivers/obd"
)

var ctx = context.Background()

func TestOpenJobValidation(t *testing.T) {
	tests := []struct {
		name   string
		bay    string
		edit   func(*Opening)
		fields []string
	}{
		{"valid repair", "bay1", func(*Opening) {}, nil},
		{"valid without VIN", "bay1", func(o *Opening) { o.VIN = ""; o.PlateColor = "" }, nil},
		{"bad bay", "bay 1", func(*Opening) {}, []string{"bay"}},
		{"empty job id", "bay1", func(o *Opening) { o.ID = "" }, []string{"job_id"}},
		{"job id with space", "bay1", func(o *Opening) { o.ID = "J 1" }, []string{"job_id"}},
		{"bad type", "bay1", func(o *Opening) { o.Type = "service" }, []string{"type"}},
		{"shop 14 digits", "bay1", func(o *Opening) { o.Shop = "33010600012345" }, []string{"shop"}},
		{"shop letters", "bay1", func(o *Opening) { o.Shop = "33010600012345A" }, []string{"shop"}},
		{"no plate", "bay1", func(o *Opening) { o.Plate = "" }, []string{"plate"}},
		{"plate with newline", "bay1", func(o *Opening) { o.Plate = "浙A\n12345" }, []string{"plate"}},
		{"plate spaces around", "bay1", func(o *Opening) { o.Plate = " 浙A12345" }, []string{"plate"}},
		{"bad plate colour", "bay1", func(o *Opening) { o.PlateColor = "red" }, []string{"plate_color"}},
		{"VIN check digit", "bay1", func(o *Opening) { o.VIN = "LFV2A21K9A4052691" }, []string{"vin"}},
		{"VIN with O", "bay1", func(o *Opening) { o.VIN = "LFV2A21K8A405269O" }, []string{"vin"}},
		{"mileage zero", "bay1", func(o *Opening) { o.MileageKM = 0 }, []string{"mileage_km"}},
		{"mileage negative", "bay1", func(o *Opening) { o.MileageKM = -5 }, []string{"mileage_km"}},
		{"no complaint", "bay1", func(o *Opening) { o.Complaint = "  " }, []string{"complaint"}},
		{"no technician", "bay1", func(o *Opening) { o.Technician = "" }, []string{"technician"}},
		{"technician with space", "bay1", func(o *Opening) { o.Technician = "T 7" }, []string{"technician"}},
		{"test_no on repair", "bay1", func(o *Opening) { o.TestNo = "X1" }, []string{"test_no"}},
		{"emission without test_no", "bay1", func(o *Opening) { o.Type = TypeEmissionRepair }, []string{"test_no"}},
		{"several", "bay1", func(o *Opening) { o.Plate = ""; o.MileageKM = 0; o.Technician = "" },
			[]string{"plate", "mileage_km", "technician"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, rec := newManager(t, "")
			o := repairOpening("J-1")
			tt.edit(&o)
			ev, err := m.OpenJob(ctx, tt.bay, o)
			if got := fieldsOf(err); !slices.Equal(got, tt.fields) {
				t.Fatalf("fields = %v, want %v (err %v)", got, tt.fields, err)
			}
			if tt.fields == nil {
				if err != nil || ev.Kind != record.KindJobOpen || ev.Job != "J-1" || len(rec.events) != 1 {
					t.Fatalf("OpenJob = %+v, %v; %d events", ev, err, len(rec.events))
				}
				return
			}
			if !errors.Is(err, check.ErrInvalid) && !errors.Is(err, check.ErrNoTechnician) {
				t.Errorf("err %v wraps neither check.ErrInvalid nor check.ErrNoTechnician", err)
			}
			if len(rec.events) != 0 {
				t.Errorf("an invalid opening emitted %d events", len(rec.events))
			}
			if _, ok := m.Current(tt.bay); ok {
				t.Error("an invalid opening left a job open")
			}
		})
	}
}

// TestLifecycle runs an emission repair through and checks the events,
// their order and numbering, the phases, and the closed job.
func TestLifecycle(t *testing.T) {
	m, rec := newManager(t, "")
	steps := []struct {
		name  string
		do    func() (Event, error)
		kind  string
		phase Phase // of the event, when it has one
		after Phase // the job's phase afterwards
	}{
		{"open", func() (Event, error) { return m.OpenJob(ctx, "bay1", emissionOpening("J-1")) }, record.KindJobOpen, "", PhaseBeforeRepair},
		{"intake scan", func() (Event, error) { return m.Scan(ctx, "bay1", PhaseIntake, snapshot(testVIN, true, "P0420")) }, record.KindScan, PhaseIntake, PhaseBeforeRepair},
		{"scan", func() (Event, error) { return m.Scan(ctx, "bay1", "", snapshot(testVIN, true, "P0420")) }, record.KindScan, PhaseBeforeRepair, PhaseBeforeRepair},
		{"reading", func() (Event, error) { return m.Reading(ctx, "bay1", "", reading(1.2)) }, record.KindEmission, PhaseBeforeRepair, PhaseBeforeRepair},
		{"note", func() (Event, error) { return m.Note(ctx, "bay1", Note{Author: "T007", Text: "catalyst worn"}) }, record.KindNote, "", PhaseBeforeRepair},
		{"repair started", func() (Event, error) {
			return m.Note(ctx, "bay1", Note{Author: "T007", Text: "replacing catalyst", RepairStarted: true})
		}, record.KindNote, "", PhaseAfterRepair},
		{"scan after", func() (Event, error) { return m.Scan(ctx, "bay1", "", snapshot(testVIN, false)) }, record.KindScan, PhaseAfterRepair, PhaseAfterRepair},
		{"reading after", func() (Event, error) { return m.Reading(ctx, "bay1", "", reading(0.2)) }, record.KindEmission, PhaseAfterRepair, PhaseAfterRepair},
		{"test after", func() (Event, error) {
			return m.EmissionTest(ctx, "bay1", "", "T007", emission.InstrumentState{}, testResult(emission.Pass))
		}, record.KindEmissionTest, PhaseAfterRepair, PhaseAfterRepair},
	}
	for i, st := range steps {
		ev, err := st.do()
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if ev.Kind != st.kind || ev.Job != "J-1" {
			t.Fatalf("%s: event %s/%s, want %s/J-1", st.name, ev.Kind, ev.Job, st.kind)
		}
		if n := reflect.ValueOf(ev.Body).FieldByName("N").Int(); n != int64(i+1) {
			t.Errorf("%s: n = %d, want %d", st.name, n, i+1)
		}
		if st.phase != "" {
			if got := Phase(reflect.ValueOf(ev.Body).FieldByName("Phase").String()); got != st.phase {
				t.Errorf("%s: phase %s, want %s", st.name, got, st.phase)
			}
		}
		j, _ := m.Current("bay1")
		if j.Phase() != st.after {
			t.Errorf("%s: job phase %s, want %s", st.name, j.Phase(), st.after)
		}
		if !reflect.DeepEqual(rec.events[len(rec.events)-1], ev) {
			t.Errorf("%s: returned event differs from the emitted one", st.name)
		}
	}
	c, ev, err := m.CloseJob(ctx, "bay1", "T007", settlement())
	if err != nil {
		t.Fatal(err)
	}
	body := ev.Body.(JobCloseBody)
	if ev.Kind != record.KindJobClose || body.N != 10 || body.Events != 10 || c.Events != 10 || body.VIN != testVIN ||
		body.FaultDescription != emissionOpening("").Complaint {
		t.Errorf("close event %+v", body)
	}
	if _, ok := m.Current("bay1"); ok {
		t.Error("job still open after Close")
	}
	if _, err := os.Stat(openPath(m.Dir(), "bay1")); !os.IsNotExist(err) {
		t.Errorf("open file still there: %v", err)
	}
	got, err := m.Closed("J-1")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, c) {
		t.Errorf("ReadClosed differs from Close's result:\n%+v\n%+v", got, c)
	}
	if len(got.ReadingsIn(PhaseBeforeRepair)) != 1 || len(got.ReadingsIn(PhaseAfterRepair)) != 1 ||
		got.LastScan(PhaseAfterRepair).Snapshot.MIL || !got.LastScan(PhaseBeforeRepair).Snapshot.MIL {
		t.Errorf("closed job content wrong: %+v", got.Job)
	}
	want := []string{"job_open", "scan", "scan", "emission", "note", "note", "scan", "emission", "emission_test", "job_close"}
	if !slices.Equal(rec.kinds(), want) {
		t.Errorf("kinds %v, want %v", rec.kinds(), want)
	}
	// Closed: the bay takes a new job, the id is never reused.
	if _, err := m.Scan(ctx, "bay1", "", snapshot(testVIN, false)); !errors.Is(err, ErrNoJob) {
		t.Errorf("scan after close: %v, want ErrNoJob", err)
	}
	if _, err := m.OpenJob(ctx, "bay1", repairOpening("J-1")); !errors.Is(err, ErrJobExists) {
		t.Errorf("reopening a closed id: %v, want ErrJobExists", err)
	}
}

func TestPhases(t *testing.T) {
	type step struct {
		op    string // scan, reading, start, clear
		phase Phase
		want  Phase // phase of the event
		err   error
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"default before", []step{{"scan", "", PhaseBeforeRepair, nil}, {"reading", "", PhaseBeforeRepair, nil}}},
		{"explicit intake then before", []step{{"scan", PhaseIntake, PhaseIntake, nil}, {"scan", "", PhaseBeforeRepair, nil}}},
		{"note marks start", []step{{"start", "", "", nil}, {"scan", "", PhaseAfterRepair, nil}, {"reading", "", PhaseAfterRepair, nil}}},
		{"clear marks start", []step{{"clear", "", "", nil}, {"scan", "", PhaseAfterRepair, nil}}},
		{"explicit after marks start", []step{{"scan", PhaseAfterRepair, PhaseAfterRepair, nil}, {"reading", "", PhaseAfterRepair, nil}}},
		{"after reading marks start", []step{{"reading", PhaseAfterRepair, PhaseAfterRepair, nil}, {"scan", "", PhaseAfterRepair, nil}}},
		{"no before after start", []step{{"start", "", "", nil}, {"scan", PhaseBeforeRepair, "", ErrPhase}, {"reading", PhaseBeforeRepair, "", ErrPhase}}},
		{"no intake after clear", []step{{"clear", "", "", nil}, {"scan", PhaseIntake, "", ErrPhase}}},
		{"reading has no intake", []step{{"reading", PhaseIntake, "", check.ErrInvalid}}},
		{"unknown phase", []step{{"scan", "later", "", check.ErrInvalid}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, _ := newManager(t, "")
			if _, err := m.OpenJob(ctx, "b", repairOpening("J")); err != nil {
				t.Fatal(err)
			}
			for i, st := range tt.steps {
				var ev Event
				var err error
				switch st.op {
				case "scan":
					ev, err = m.Scan(ctx, "b", st.phase, snapshot(testVIN, false))
				case "reading":
					ev, err = m.Reading(ctx, "b", st.phase, reading(0.3))
				case "start":
					ev, err = m.Note(ctx, "b", Note{Author: "T1", Text: "start", RepairStarted: true})
				case "clear":
					ev, err = m.ClearDTCs(ctx, "b", DTCClear{Technician: "T1", Reason: "after repair"}, clearOK)
				}
				if st.err != nil {
					if !errors.Is(err, st.err) {
						t.Fatalf("step %d: err %v, want %v", i, err, st.err)
					}
					continue
				}
				if err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
				if st.want != "" {
					if got := Phase(reflect.ValueOf(ev.Body).FieldByName("Phase").String()); got != st.want {
						t.Errorf("step %d: phase %s, want %s", i, got, st.want)
					}
				}
			}
		})
	}
}

func TestPhaseErrorMessage(t *testing.T) {
	m, _ := newManager(t, "")
	m.OpenJob(ctx, "b", repairOpening("J"))
	_, err := m.Scan(ctx, "b", "later", snapshot(testVIN, false))
	const want = `phase must be one of intake, before_repair, after_repair: "later"`
	if err == nil || err.Error() != want {
		t.Errorf("err = %v, want %s", err, want)
	}
}

func clearOK(context.Context) ([]obd.ECU, error) { return []obd.ECU{0x7E8}, nil }

func TestClearDTCs(t *testing.T) {
	vehicleErr := errors.New("negative response 0x22")
	tests := []struct {
		name      string
		open      bool
		clear     DTCClear
		fail      error // outbox failure
		vehicle   error // error of the clear function
		err       []error
		called    bool
		kinds     []string // events after the opening
		stage     string
		repairNow bool
	}{
		{"no job", false, DTCClear{Technician: "T1", Reason: "r"}, nil, nil, []error{ErrNoJob}, false, nil, "", false},
		{"no technician", true, DTCClear{Reason: "r"}, nil, nil, []error{check.ErrNoTechnician}, false, nil, "", false},
		{"no reason", true, DTCClear{Technician: "T1"}, nil, nil, []error{check.ErrInvalid}, false, nil, "", false},
		{"outbox full", true, DTCClear{Technician: "T1", Reason: "r"}, errOutboxFull, nil, []error{ErrNotStored, errOutboxFull}, false, nil, "", false},
		{"cleared", true, DTCClear{Technician: "T1", Reason: "catalyst replaced"}, nil, nil, nil, true,
			[]string{record.KindDTCClear, record.KindDTCClear}, ClearDone, true},
		{"vehicle refused", true, DTCClear{Technician: "T1", Reason: "r"}, nil, vehicleErr, []error{ErrClearFailed, vehicleErr}, true,
			[]string{record.KindDTCClear, record.KindDTCClear}, ClearFailed, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, rec := newManager(t, "")
			if tt.open {
				if _, err := m.OpenJob(ctx, "b", repairOpening("J")); err != nil {
					t.Fatal(err)
				}
			}
			rec.setFail(tt.fail)
			called := false
			ev, err := m.ClearDTCs(ctx, "b", tt.clear, func(context.Context) ([]obd.ECU, error) {
				called = true
				if got := rec.kinds(); len(got) == 0 || got[len(got)-1] != record.KindDTCClear {
					t.Error("vehicle cleared before the request was stored")
				}
				return []obd.ECU{0x7E8}, tt.vehicle
			})
			for _, w := range tt.err {
				if !errors.Is(err, w) {
					t.Errorf("err %v does not wrap %v", err, w)
				}
			}
			if tt.err == nil && err != nil {
				t.Fatalf("err %v", err)
			}
			if called != tt.called {
				t.Errorf("vehicle clear called = %v, want %v", called, tt.called)
			}
			kinds := rec.kinds()
			if tt.open {
				kinds = kinds[1:]
			}
			if !slices.Equal(kinds, tt.kinds) {
				t.Errorf("events %v, want %v", kinds, tt.kinds)
			}
			if tt.stage != "" {
				b := ev.Body.(DTCClearBody)
				req := rec.events[1].Body.(DTCClearBody)
				if b.Stage != tt.stage || req.Stage != ClearRequested || b.N != 3 || req.N != 2 || b.Technician != "T1" {
					t.Errorf("request %+v, outcome %+v", req, b)
				}
				if tt.vehicle != nil && b.Error != tt.vehicle.Error() {
					t.Errorf("outcome error %q", b.Error)
				}
			}
			if j, ok := m.Current("b"); ok && j.RepairStarted != tt.repairNow {
				t.Errorf("RepairStarted = %v, want %v", j.RepairStarted, tt.repairNow)
			}
		})
	}
}

// TestClearOutcomeAfterCancel: the outcome of a clear is recorded even when
// the command's context ended while the vehicle was being cleared.
func TestClearOutcomeAfterCancel(t *testing.T) {
	m, rec := newManager(t, "")
	m.OpenJob(ctx, "b", repairOpening("J"))
	cctx, cancel := context.WithCancel(ctx)
	_, err := m.ClearDTCs(cctx, "b", DTCClear{Technician: "T1", Reason: "r"}, func(c context.Context) ([]obd.ECU, error) {
		cancel()
		return nil, c.Err()
	})
	if !errors.Is(err, ErrClearFailed) || !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v", err)
	}
	if got := rec.kinds(); len(got) != 3 || rec.events[2].Body.(DTCClearBody).Stage != ClearFailed {
		t.Errorf("events %v", got)
	}
}

// TestClearDoesNotHoldTheJobs: while the vehicle is being cleared (a
// stuck adapter), notes and other bays go on; the job cannot be closed,
// cancelled or cleared again until the clear ends, and the outcome comes
// after the note in the job's numbering.
func TestClearDoesNotHoldTheJobs(t *testing.T) {
	m, rec := newManager(t, "")
	m.OpenJob(ctx, "b", repairOpening("J"))
	m.OpenJob(ctx, "other", repairOpening("K"))
	inClear, release := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		_, err := m.ClearDTCs(ctx, "b", DTCClear{Technician: "T1", Reason: "r"}, func(context.Context) ([]obd.ECU, error) {
			close(inClear)
			<-release
			return []obd.ECU{0x7E8}, nil
		})
		done <- err
	}()
	<-inClear
	if _, err := m.Note(ctx, "b", Note{Author: "T1", Text: "while clearing"}); err != nil {
		t.Errorf("a note during the clear: %v", err)
	}
	if _, err := m.Note(ctx, "other", Note{Author: "T2", Text: "other bay"}); err != nil {
		t.Errorf("another bay during the clear: %v", err)
	}
	if _, ok := m.Current("b"); !ok {
		t.Error("Current blocked or lost the job during the clear")
	}
	if _, _, err := m.CloseJob(ctx, "b", "T1", Settlement{}); !errors.Is(err, ErrClearing) {
		t.Errorf("Close during the clear: %v, want ErrClearing", err)
	}
	if _, err := m.Cancel(ctx, "b", "T1", "mistake"); !errors.Is(err, ErrClearing) {
		t.Errorf("Cancel during the clear: %v, want ErrClearing", err)
	}
	if _, err := m.ClearDTCs(ctx, "b", DTCClear{Technician: "T1", Reason: "again"}, clearOK); !errors.Is(err, ErrClearing) {
		t.Errorf("a second clear during the clear: %v, want ErrClearing", err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	var ns []string
	for _, ev := range rec.events {
		if ev.Job == "J" {
			switch b := ev.Body.(type) {
			case NoteBody:
				ns = append(ns, fmt.Sprintf("%d:note", b.N))
			case DTCClearBody:
				ns = append(ns, fmt.Sprintf("%d:%s", b.N, b.Stage))
			}
		}
	}
	if want := []string{"2:requested", "3:note", "4:cleared"}; !slices.Equal(ns, want) {
		t.Errorf("job J's events %v, want %v", ns, want)
	}
	if _, err := m.Cancel(ctx, "b", "T1", "done"); err != nil {
		t.Errorf("Cancel after the clear: %v", err)
	}
}

func TestCloseValidation(t *testing.T) {
	tests := []struct {
		name    string
		opening Opening
		events  func(m *Manager)
		tech    string
		edit    func(*Settlement)
		fields  []string
	}{
		{"valid repair", repairOpening("J"), nil, "T007", func(*Settlement) {}, nil},
		{"no technician", repairOpening("J"), nil, "", func(*Settlement) {}, []string{"technician"}},
		{"everything missing", repairOpening("J"), nil, "T007", func(s *Settlement) { *s = Settlement{} },
			[]string{"settlement_no", "settle_date", "repair_date", "items"}},
		{"bad dates", repairOpening("J"), nil, "T007", func(s *Settlement) { s.SettleDate = "2026-02-30"; s.RepairDate = "14.3.2026" },
			[]string{"settle_date", "repair_date"}},
		{"repair after settlement", repairOpening("J"), nil, "T007", func(s *Settlement) { s.RepairDate = "2026-03-15" },
			[]string{"repair_date"}},
		{"item problems", repairOpening("J"), nil, "T007", func(s *Settlement) {
			s.Items = append(s.Items, RepairItem{Name: "", WorkingHours: "-1"}, RepairItem{Name: "x", WorkingHours: "1.2345"})
		}, []string{"items[1].name", "items[1].working_hours", "items[2].working_hours"}},
		{"part problems", repairOpening("J"), nil, "T007", func(s *Settlement) {
			s.Parts = append(s.Parts, Part{Name: "oil", Quantity: "0"}, Part{Name: "filter", Code: "A B", Quantity: "1e3"})
		}, []string{"parts[1].quantity", "parts[2].code", "parts[2].quantity"}},
		{"part without code", repairOpening("J"), nil, "T007", func(s *Settlement) {
			s.Parts = []Part{{Name: "engine oil 5W-30", Quantity: "4.5"}}
		}, nil},
		{"no VIN", func() Opening { o := repairOpening("J"); o.VIN = ""; return o }(), nil, "T007", func(*Settlement) {}, []string{"vin"}},
		{"VIN from scan", func() Opening { o := repairOpening("J"); o.VIN = ""; return o }(), func(m *Manager) {
			m.Scan(ctx, "b", "", snapshot(testVIN, false))
		}, "T007", func(*Settlement) {}, nil},
		{"waiver on repair job", repairOpening("J"), nil, "T007", func(s *Settlement) { s.EmissionWaiver, s.EmissionWaiverBy = "analyzer broken", "T007" },
			[]string{"emission_waiver"}},
		{"waiver without technician", emissionOpening("J"), nil, "T007", func(s *Settlement) { s.EmissionWaiver = "analyzer broken" },
			[]string{"emission_waiver_by"}},
		{"waiver technician without reason", emissionOpening("J"), nil, "T007", func(s *Settlement) { s.EmissionWaiverBy = "T007" },
			[]string{"emission_waiver", "readings", "readings"}},
		{"emission without readings", emissionOpening("J"), nil, "T007", func(*Settlement) {}, []string{"readings", "readings"}},
		{"emission without after reading", emissionOpening("J"), func(m *Manager) {
			m.Reading(ctx, "b", "", reading(1.2))
		}, "T007", func(*Settlement) {}, []string{"readings"}},
		{"emission with both tests", emissionOpening("J"), func(m *Manager) {
			m.EmissionTest(ctx, "b", "", "", emission.InstrumentState{}, testResult(emission.Fail))
			m.EmissionTest(ctx, "b", PhaseAfterRepair, "", emission.InstrumentState{}, testResult(emission.Pass))
		}, "T007", func(*Settlement) {}, nil},
		{"a failed test, then readings, then a passing test", emissionOpening("J"), func(m *Manager) {
			m.Reading(ctx, "b", "", reading(1.2))
			m.EmissionTest(ctx, "b", PhaseAfterRepair, "", emission.InstrumentState{}, testResult(emission.Fail))
			m.EmissionTest(ctx, "b", PhaseAfterRepair, "", emission.InstrumentState{}, testResult(emission.Pass))
		}, "T007", func(*Settlement) {}, nil},
		{"emission waived", emissionOpening("J"), nil, "T007", func(s *Settlement) {
			s.EmissionWaiver = "analyzer out of service; re-test at the inspection station"
			s.EmissionWaiverBy = "T009"
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, rec := newManager(t, "")
			if _, err := m.OpenJob(ctx, "b", tt.opening); err != nil {
				t.Fatal(err)
			}
			if tt.events != nil {
				tt.events(m)
			}
			n := len(rec.events)
			s := settlement()
			tt.edit(&s)
			_, _, err := m.CloseJob(ctx, "b", tt.tech, s)
			if got := fieldsOf(err); !slices.Equal(got, tt.fields) {
				t.Fatalf("fields = %v, want %v\nerr: %v", got, tt.fields, err)
			}
			_, open := m.Current("b")
			if tt.fields != nil && (len(rec.events) != n || !open) {
				t.Errorf("a refused close emitted %d events, open=%v", len(rec.events)-n, open)
			}
			if tt.fields == nil && open {
				t.Error("job still open")
			}
		})
	}
}

// TestCloseNeedsAPassingTest: an emission repair whose last after-repair
// test failed, was aborted or is missing closes only with the override
// (reason and technician), which the close records; the refusal says why.
func TestCloseNeedsAPassingTest(t *testing.T) {
	for _, tt := range []struct {
		name    string
		results []string // after_repair tests, in order
		why     string
	}{
		{"no after-repair test", nil, "has no after_repair emission test"},
		{"the test failed", []string{emission.Fail}, "did not pass: two-speed idle: FAIL: idle CO 1.2% above the limit 0.6%"},
		{"the test was aborted", []string{emission.Aborted}, "(event 4) did not pass"},
		{"passed, then failed", []string{emission.Pass, emission.Fail}, "(event 5) did not pass"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m, rec := newManager(t, "")
			m.OpenJob(ctx, "b", emissionOpening("J"))
			if _, err := m.EmissionTest(ctx, "b", "", "T007", emission.InstrumentState{}, testResult(emission.Fail)); err != nil {
				t.Fatal(err)
			}
			m.Reading(ctx, "b", PhaseAfterRepair, reading(0.2))
			for _, r := range tt.results {
				if _, err := m.EmissionTest(ctx, "b", "", "T007", emission.InstrumentState{}, testResult(r)); err != nil {
					t.Fatal(err)
				}
			}
			n := len(rec.events)
			_, _, err := m.CloseJob(ctx, "b", "T007", settlement())
			if !errors.Is(err, ErrEmissionNotPassed) || !strings.Contains(err.Error(), tt.why) || !strings.Contains(err.Error(), "emission_waiver_by") {
				t.Fatalf("err %v, want ErrEmissionNotPassed saying %q", err, tt.why)
			}
			if _, open := m.Current("b"); !open || len(rec.events) != n {
				t.Fatal("a refused close changed the job")
			}
			s := settlement()
			s.EmissionWaiver, s.EmissionWaiverBy = "customer declines a second repair; re-test at the station", "T009"
			_, ev, err := m.CloseJob(ctx, "b", "T007", s)
			if err != nil {
				t.Fatal(err)
			}
			if b := ev.Body.(JobCloseBody); b.Settlement.EmissionWaiverBy != "T009" || b.Settlement.EmissionWaiver == "" {
				t.Fatalf("the override is not in the close record: %+v", b.Settlement)
			}
		})
	}
	// A test needs a method and a verdict the package knows.
	m, _ := newManager(t, "")
	m.OpenJob(ctx, "b", emissionOpening("J"))
	bad := testResult(emission.Pass)
	bad.Method, bad.Verdict.Result = "asm", "maybe"
	if _, err := m.EmissionTest(ctx, "b", "", "", emission.InstrumentState{}, bad); !slices.Equal(fieldsOf(err), []string{"test.method", "test.verdict.result"}) {
		t.Fatalf("bad test: %v", err)
	}
	if _, err := m.EmissionTest(ctx, "b", "", "", emission.InstrumentState{}, nil); !slices.Equal(fieldsOf(err), []string{"test"}) {
		t.Fatalf("no test: %v", err)
	}
}

func TestVINFromScan(t *testing.T) {
	m, _ := newManager(t, "")
	o := repairOpening("J")
	o.VIN = ""
	m.OpenJob(ctx, "b", o)
	bad := snapshot("LFV2A21K9A4052691", false) // wrong check digit: not adopted
	ev, _ := m.Scan(ctx, "b", "", bad)
	if ev.Body.(ScanBody).VINAdopted {
		t.Error("adopted a VIN with a bad check digit")
	}
	ev, _ = m.Scan(ctx, "b", "", snapshot(testVIN, false))
	if !ev.Body.(ScanBody).VINAdopted {
		t.Error("VIN not adopted")
	}
	ev, _ = m.Scan(ctx, "b", "", snapshot(otherVIN, false))
	if b := ev.Body.(ScanBody); !b.VINMismatch || b.VINAdopted {
		t.Errorf("other VIN: %+v", b)
	}
	j, _ := m.Current("b")
	if j.VIN != testVIN || !j.VINFromScan {
		t.Errorf("job VIN %q from scan %v", j.VIN, j.VINFromScan)
	}
}

func TestOneOpenJobPerBay(t *testing.T) {
	m, _ := newManager(t, "")
	if _, err := m.OpenJob(ctx, "bay1", repairOpening("J-1")); err != nil {
		t.Fatal(err)
	}
	if _, err := m.OpenJob(ctx, "bay1", repairOpening("J-2")); !errors.Is(err, ErrBayBusy) {
		t.Errorf("second job at bay1: %v, want ErrBayBusy", err)
	}
	if _, err := m.OpenJob(ctx, "bay2", repairOpening("J-1")); !errors.Is(err, ErrJobExists) {
		t.Errorf("same id at bay2: %v, want ErrJobExists", err)
	}
	if _, err := m.OpenJob(ctx, "bay2", repairOpening("J-2")); err != nil {
		t.Fatal(err)
	}
	if got := m.Bays(); !slices.Equal(got, []string{"bay1", "bay2"}) {
		t.Errorf("Bays = %v", got)
	}
	m.Note(ctx, "bay2", Note{Author: "T2", Text: "bay 2 only"})
	j1, _ := m.Current("bay1")
	j2, _ := m.Current("bay2")
	if len(j1.Notes) != 0 || len(j2.Notes) != 1 || j1.ID != "J-1" || j2.ID != "J-2" {
		t.Errorf("bays mixed up: %+v %+v", j1, j2)
	}
}

// TestEmitFailure: when the outbox refuses an event, the job is unchanged,
// in memory and on disk.
func TestEmitFailure(t *testing.T) {
	dir := t.TempDir()
	m, rec := newManager(t, dir)
	m.OpenJob(ctx, "b", emissionOpening("J"))
	m.Scan(ctx, "b", "", snapshot(testVIN, true, "P0420"))
	before, _ := m.Current("b")
	file, _ := os.ReadFile(openPath(dir, "b"))

	rec.setFail(errOutboxFull)
	ops := map[string]func() error{
		"scan":    func() error { _, err := m.Scan(ctx, "b", PhaseAfterRepair, snapshot(testVIN, false)); return err },
		"reading": func() error { _, err := m.Reading(ctx, "b", "", reading(1)); return err },
		"note": func() error {
			_, err := m.Note(ctx, "b", Note{Author: "T", Text: "x", RepairStarted: true})
			return err
		},
		"close": func() error {
			s := settlement()
			s.EmissionWaiver, s.EmissionWaiverBy = "w", "T"
			_, _, err := m.CloseJob(ctx, "b", "T", s)
			return err
		},
		"open": func() error { _, err := m.OpenJob(ctx, "c", repairOpening("K")); return err },
	}
	for name, op := range ops {
		if err := op(); !errors.Is(err, ErrNotStored) || !errors.Is(err, errOutboxFull) {
			t.Errorf("%s: err %v, want ErrNotStored wrapping the outbox error", name, err)
		}
	}
	after, ok := m.Current("b")
	if !ok || !reflect.DeepEqual(before, after) {
		t.Errorf("job changed by refused events:\n%+v\n%+v", before, after)
	}
	if _, ok := m.Current("c"); ok {
		t.Error("refused open left a job")
	}
	if f, _ := os.ReadFile(openPath(dir, "b")); !bytes.Equal(f, file) {
		t.Error("job file changed by refused events")
	}
	rec.setFail(nil)
	ev, err := m.Reading(ctx, "b", "", reading(1))
	if err != nil || ev.Body.(EmissionBody).N != 3 {
		t.Errorf("after the outbox recovered: n=%v err=%v", ev.Body, err)
	}
}

// TestFullDiskStopsTheBay is hole 1 of issue 12: a note is stored as a
// record but its job file cannot be saved. The bay is stopped (nothing is
// stored there, ErrUnsaved) until the file is saved again, and the event
// numbers go on without a gap or a reuse.
func TestFullDiskStopsTheBay(t *testing.T) {
	dir := t.TempDir()
	m, rec := newManager(t, dir)
	m.OpenJob(ctx, "b", repairOpening("J"))
	diskFull := errors.New("no space left on device")
	m.write = func(string, []byte) error { return diskFull }
	ev, err := m.Note(ctx, "b", Note{Author: "T", Text: "one"})
	if !errors.Is(err, ErrStateNotSaved) || !errors.Is(err, diskFull) || ev.Kind != record.KindNote {
		t.Fatalf("Note = %+v, %v", ev, err)
	}
	if j, _ := m.Current("b"); len(j.Notes) != 1 {
		t.Error("stored note not kept in memory")
	}
	if st := m.Stopped(); len(st) != 1 || !strings.Contains(st["b"], "no space left") {
		t.Errorf("Stopped() = %v", st)
	}
	// Refused, not stored, while the file cannot be saved.
	for _, do := range []func() error{
		func() error { _, err := m.Note(ctx, "b", Note{Author: "T", Text: "two"}); return err },
		func() error { _, err := m.Scan(ctx, "b", "", snapshot(testVIN, false)); return err },
		func() error { _, _, err := m.CloseJob(ctx, "b", "T007", settlement()); return err },
		func() error { _, err := m.Cancel(ctx, "b", "T007", "mistake"); return err },
	} {
		if err := do(); !errors.Is(err, ErrUnsaved) {
			t.Fatalf("event at a stopped bay: %v, want ErrUnsaved", err)
		}
	}
	if n := len(rec.kinds()); n != 2 {
		t.Fatalf("%d records stored; the stopped bay must store nothing more", n)
	}
	if m.Retry() != 1 {
		t.Fatal("Retry saved a file that cannot be written")
	}
	m.write = writeFileAtomic // room again
	if m.Retry() != 0 || len(m.Stopped()) != 0 {
		t.Fatal("Retry did not save the file once there is room")
	}
	ev, err = m.Note(ctx, "b", Note{Author: "T", Text: "two"})
	if err != nil || ev.Body.(NoteBody).N != 3 {
		t.Fatalf("note after the retry: %+v, %v", ev.Body, err)
	}
	m2, _ := newManager(t, dir)
	if j, _ := m2.Current("b"); len(j.Notes) != 2 || j.Events != 3 {
		t.Errorf("reloaded job: %d notes, %d events", len(j.Notes), j.Events)
	}
}

// sealAll seals events as a device would store them.
func sealAll(t *testing.T, evs []Event) []record.Record {
	t.Helper()
	seed := sha256.Sum256([]byte("job test key"))
	s, err := record.NewSealer(record.SealerConfig{Key: ed25519.NewKeyFromSeed(seed[:]), Device: "bay-t", Shop: testShop})
	if err != nil {
		t.Fatal(err)
	}
	var out []record.Record
	for _, ev := range evs {
		r, _, err := s.Seal(ev.Kind, ev.Job, ev.Body)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

// TestRecoverAfterRestart: the job file missed stored events (the disk was
// full when the box restarted, or a power cut hit between the outbox
// commit and the file's rename). Recover applies them from the records, so
// the event numbers are not used twice and the export has every event; a
// stored close completes, so the job is never closed twice.
func TestRecoverAfterRestart(t *testing.T) {
	dir := t.TempDir()
	m, rec := newManager(t, dir)
	m.OpenJob(ctx, "b", repairOpening("J"))
	m.Note(ctx, "b", Note{Author: "T", Text: "one"})
	m.write = func(string, []byte) error { return errors.New("no space left on device") }
	if _, err := m.Scan(ctx, "b", PhaseAfterRepair, snapshot(testVIN, false)); !errors.Is(err, ErrStateNotSaved) {
		t.Fatal(err)
	}
	m2, _ := newManager(t, dir) // the restart: the file still has two events
	if j, _ := m2.Current("b"); j.Events != 2 {
		t.Fatalf("the job file has %d events", j.Events)
	}
	recs := sealAll(t, rec.events)
	// Records of other jobs and duplicates are ignored.
	recs = append(recs, sealAll(t, []Event{{Kind: record.KindNote, Job: "OTHER", Body: NoteBody{N: 3, Author: "T", Text: "x"}}})...)
	n, err := m2.Recover(append(recs, recs[1]))
	if err != nil || n != 1 {
		t.Fatalf("Recover = %d, %v; want the scan applied", n, err)
	}
	j, _ := m2.Current("b")
	if j.Events != 3 || len(j.Scans) != 1 || !j.RepairStarted {
		t.Fatalf("recovered job: %d events, %d scans, repair started %v", j.Events, len(j.Scans), j.RepairStarted)
	}
	ev, err := m2.Note(ctx, "b", Note{Author: "T", Text: "two"})
	if err != nil || ev.Body.(NoteBody).N != 4 {
		t.Fatalf("next note: %+v, %v; want event 4", ev.Body, err)
	}
	// A recovered job file survives the next restart.
	m3, rec3 := newManager(t, dir)
	if j, _ := m3.Current("b"); j.Events != 4 {
		t.Fatalf("after the next restart: %d events", j.Events)
	}
	// The close is stored, the closed file is not.
	m3.write = func(string, []byte) error { return errors.New("no space left on device") }
	if _, _, err := m3.CloseJob(ctx, "b", "T007", settlement()); !errors.Is(err, ErrStateNotSaved) {
		t.Fatal(err)
	}
	m4, _ := newManager(t, dir)
	if _, ok := m4.Current("b"); !ok {
		t.Fatal("the job should still be open on disk")
	}
	if n, err := m4.Recover(sealAll(t, append(rec.events, rec3.events...))); err != nil || n != 1 {
		t.Fatalf("Recover of the close = %d, %v", n, err)
	}
	if _, ok := m4.Current("b"); ok {
		t.Fatal("the stored close was not completed")
	}
	c, err := m4.Closed("J")
	if err != nil || c.Events != 5 || c.ClosedBy != "T007" {
		t.Fatalf("closed job: %+v, %v", c.Events, err)
	}
	if _, err := m4.OpenJob(ctx, "b", repairOpening("J")); !errors.Is(err, ErrJobExists) {
		t.Fatalf("reopening the closed job: %v", err)
	}
}

// TestReopenAfterPowerCut: a Manager opened on the directory of one that
// was never closed (the process died) has the same open jobs and continues
// their numbering; the remains of interrupted writes are cleaned up.
func TestReopenAfterPowerCut(t *testing.T) {
	dir := t.TempDir()
	m1, _ := newManager(t, dir)
	m1.OpenJob(ctx, "bay1", emissionOpening("J/2026:1"))
	m1.Scan(ctx, "bay1", "", snapshot(testVIN, true, "P0420"))
	m1.Reading(ctx, "bay1", "", reading(1.2))
	m1.ClearDTCs(ctx, "bay1", DTCClear{Technician: "T007", Reason: "catalyst replaced"}, clearOK)
	m1.OpenJob(ctx, "bay2", repairOpening("J-2"))
	want1, _ := m1.Current("bay1")
	want2, _ := m1.Current("bay2")

	// A write interrupted before its rename leaves a temporary file.
	tmp := filepath.Join(dir, openDir, ".bay1.json"+tmpSuffix)
	os.WriteFile(tmp, []byte(`{"version":1,"bay":"ba`), 0o600)

	m2, rec := newManager(t, dir)
	got1, ok1 := m2.Current("bay1")
	got2, ok2 := m2.Current("bay2")
	if !ok1 || !ok2 || !reflect.DeepEqual(got1, want1) || !reflect.DeepEqual(got2, want2) {
		t.Fatalf("reloaded jobs differ:\n%+v\n%+v", got1, want1)
	}
	if _, err := os.Stat(tmp); !os.IsNotExist(err) {
		t.Errorf("temporary file left: %v", err)
	}
	if got1.Phase() != PhaseAfterRepair || len(got1.Clears) != 2 {
		t.Errorf("reloaded phase %s, %d clears", got1.Phase(), len(got1.Clears))
	}
	ev, err := m2.Reading(ctx, "bay1", "", reading(0.2))
	if err != nil || ev.Body.(EmissionBody).N != 6 || ev.Body.(EmissionBody).Phase != PhaseAfterRepair {
		t.Fatalf("reading after restart: %+v %v", ev.Body, err)
	}
	if _, err := m2.OpenJob(ctx, "bay2", repairOpening("J-3")); !errors.Is(err, ErrBayBusy) {
		t.Errorf("bay2 after restart: %v, want ErrBayBusy", err)
	}
	if _, err := m2.OpenJob(ctx, "bay3", repairOpening("J-2")); !errors.Is(err, ErrJobExists) {
		t.Errorf("J-2 after restart: %v, want ErrJobExists", err)
	}
	if _, err := m2.EmissionTest(ctx, "bay1", "", "T007", emission.InstrumentState{}, testResult(emission.Pass)); err != nil {
		t.Fatal(err)
	}
	if len(rec.events) != 2 {
		t.Errorf("%d events", len(rec.events))
	}

	// A power cut between writing the closed file and removing the open
	// one: the next start completes the close.
	c, _, err := m2.CloseJob(ctx, "bay1", "T007", settlement())
	if err != nil {
		t.Fatal(err)
	}
	b, _ := marshalFile(&c.Job)
	os.WriteFile(openPath(dir, "bay1"), b, 0o600)
	m3, _ := newManager(t, dir)
	if _, ok := m3.Current("bay1"); ok {
		t.Error("closed job open again after restart")
	}
	if _, err := os.Stat(openPath(dir, "bay1")); !os.IsNotExist(err) {
		t.Errorf("open file of the closed job left: %v", err)
	}
	if got, err := ReadClosed(dir, "J/2026:1"); err != nil || got.Events != 8 {
		t.Errorf("ReadClosed: %v, %d events", err, got.Events)
	}
	if _, err := os.Stat(filepath.Join(dir, closedDir, "J%2F2026%3A1.json")); err != nil {
		t.Errorf("closed file name: %v", err)
	}
}

func TestCorruptJobFileQuarantined(t *testing.T) {
	tests := map[string]string{
		"truncated":     `{"version":1,"bay":"b`,
		"not json":      "\x00\x01garbage",
		"wrong bay":     "", // filled below
		"unknown field": `{"version":1,"surprise":true}`,
		"bad version":   "", // filled below
	}
	for name, content := range tests {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			m, _ := newManager(t, dir)
			m.OpenJob(ctx, "good", repairOpening("J-good"))
			m.OpenJob(ctx, "b", repairOpening("J"))
			path := openPath(dir, "b")
			switch name {
			case "wrong bay":
				os.Rename(path, openPath(dir, "c"))
				path = openPath(dir, "c")
			case "bad version":
				b, _ := os.ReadFile(path)
				os.WriteFile(path, bytes.Replace(b, []byte(`"version": 1`), []byte(`"version": 7`), 1), 0o600)
			default:
				os.WriteFile(path, []byte(content), 0o600)
			}
			m2, _ := newManager(t, dir)
			q := m2.Quarantined()
			if len(q) != 1 || !strings.HasPrefix(q[0], path+".corrupt-") {
				t.Fatalf("quarantined %v", q)
			}
			if _, err := os.Stat(q[0]); err != nil {
				t.Error(err)
			}
			if got := m2.Bays(); !slices.Equal(got, []string{"good"}) {
				t.Errorf("open bays %v", got)
			}
		})
	}
}

func TestOpenNeedsEmit(t *testing.T) {
	if _, err := Open(t.TempDir(), Options{}); err == nil {
		t.Error("Open without Emit succeeded")
	}
}

func TestReadClosedErrors(t *testing.T) {
	dir := t.TempDir()
	newManager(t, dir)
	if _, err := ReadClosed(dir, "nope"); !errors.Is(err, ErrUnknownJob) {
		t.Errorf("unknown: %v", err)
	}
	if _, err := ReadClosed(dir, "../x"); !errors.Is(err, check.ErrInvalid) {
		t.Errorf("bad id: %v", err)
	}
	os.WriteFile(closedPath(dir, "bad"), []byte("{}"), 0o600)
	if _, err := ReadClosed(dir, "bad"); !errors.Is(err, ErrCorrupt) {
		t.Errorf("corrupt: %v", err)
	}
}

func TestMaxEvents(t *testing.T) {
	rec := &recorder{}
	m, err := Open(t.TempDir(), Options{Emit: rec.emit, MaxEvents: 3})
	if err != nil {
		t.Fatal(err)
	}
	m.OpenJob(ctx, "b", repairOpening("J"))
	m.Note(ctx, "b", Note{Author: "T", Text: "1"})
	m.Note(ctx, "b", Note{Author: "T", Text: "2"})
	if _, err := m.Note(ctx, "b", Note{Author: "T", Text: "3"}); !errors.Is(err, ErrJobFull) {
		t.Errorf("err %v, want ErrJobFull", err)
	}
	if _, _, err := m.CloseJob(ctx, "b", "T", settlement()); err != nil {
		t.Errorf("a full job must still close: %v", err)
	}
}

// TestCancel: a job opened by mistake is abandoned with a reason and a
// technician, recorded, and gone after a restart; its id stays used.
func TestCancel(t *testing.T) {
	dir := t.TempDir()
	m, rec := newManager(t, dir)
	if _, err := m.Cancel(ctx, "bay1", "T007", "wrong plate"); !errors.Is(err, ErrNoJob) {
		t.Errorf("cancel without a job: %v, want ErrNoJob", err)
	}
	if _, err := m.OpenJob(ctx, "bay1", repairOpening("J-1")); err != nil {
		t.Fatal(err)
	}
	_, err := m.Cancel(ctx, "bay1", "", "")
	if got := fieldsOf(err); !slices.Equal(got, []string{"technician", "reason"}) {
		t.Errorf("cancel without technician and reason: fields %v (%v)", got, err)
	}
	ev, err := m.Cancel(ctx, "bay1", "T007", "opened for the wrong plate")
	if err != nil {
		t.Fatal(err)
	}
	if b, ok := ev.Body.(JobCancelBody); !ok || ev.Kind != record.KindJobCancel || ev.Job != "J-1" || b.N != 2 || b.CancelledBy != "T007" {
		t.Errorf("event %+v", ev)
	}
	if got := rec.kinds(); !slices.Equal(got, []string{record.KindJobOpen, record.KindJobCancel}) {
		t.Errorf("records %v", got)
	}
	if _, ok := m.Current("bay1"); ok {
		t.Error("the bay still has the cancelled job")
	}
	if _, err := m.OpenJob(ctx, "bay1", repairOpening("J-1")); !errors.Is(err, ErrJobExists) {
		t.Errorf("reopening a cancelled id: %v, want ErrJobExists", err)
	}
	m2, _ := newManager(t, dir)
	if _, ok := m2.Current("bay1"); ok {
		t.Error("the cancelled job is open again after a restart")
	}
	if _, err := m2.OpenJob(ctx, "bay1", repairOpening("J-2")); err != nil {
		t.Errorf("a new job after the cancel: %v", err)
	}
}

// TestScanFindings: with Options.Assess, a job's scan carries the findings
// of its snapshot against the job's VIN, in the record and the job file.
func TestScanFindings(t *testing.T) {
	dir := t.TempDir()
	rec := &recorder{}
	var gotVIN string
	m, err := Open(dir, Options{Emit: rec.emit, Now: newClock().now, Assess: func(s *scan.Snapshot, jobVIN string) findings.Result {
		gotVIN = jobVIN
		return findings.Evaluate(s, findings.DefaultRules(), jobVIN)
	}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := m.OpenJob(ctx, "bay1", repairOpening("J-F-1")); err != nil {
		t.Fatal(err)
	}
	ev, err := m.Scan(ctx, "bay1", "", snapshot(otherVIN, true, "P0420"))
	if err != nil {
		t.Fatal(err)
	}
	body := ev.Body.(ScanBody)
	if body.Findings == nil || body.Findings.Verdict != findings.Fail || gotVIN != testVIN {
		t.Fatalf("findings %+v (job VIN given %q)", body.Findings, gotVIN)
	}
	if !body.Findings.Has(findings.VINMismatch) || !body.Findings.Has(findings.MILOn) {
		t.Errorf("findings %+v: want vin_mismatch and mil_on", body.Findings.Findings)
	}
	// The job file keeps them across a restart.
	m2, err := Open(dir, Options{Emit: rec.emit})
	if err != nil {
		t.Fatal(err)
	}
	j, _ := m2.Current("bay1")
	if len(j.Scans) != 1 || j.Scans[0].Findings == nil || j.Scans[0].Findings.Verdict != findings.Fail {
		t.Errorf("reopened job's scan findings: %+v", j.Scans)
	}
}
