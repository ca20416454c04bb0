package job

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"testing"

	"github.com/bayagent/bayagent/agent/check"
	"github.com/bayagent/bayagent/agent/emission"
	"github.com/bayagent/bayagent/agent/record"
	"github.com/bayagent/bayagent/drivers/obd"
)

// sealed runs an emission repair through a Manager and returns the
// records it emitted, sealed as the outbox seals them, with the job as
// the Manager closed it.
func sealed(t *testing.T) ([]record.Record, Closed) {
	t.Helper()
	m, rec := newManager(t, "")
	ctx := context.Background()
	const bay = "bay1"
	if _, err := m.OpenJob(ctx, bay, emissionOpening("J-R1")); err != nil {
		t.Fatal(err)
	}
	steps := []func() (Event, error){
		func() (Event, error) { return m.Scan(ctx, bay, "", snapshot(testVIN, true, "P0420")) },
		func() (Event, error) { return m.Reading(ctx, bay, "", reading(1.2)) },
		func() (Event, error) {
			return m.ClearDTCs(ctx, bay, DTCClear{Technician: "T007", Reason: "catalyst replaced"},
				func(context.Context) ([]obd.ECU, error) { return []obd.ECU{0x7E8}, nil })
		},
		func() (Event, error) { return m.Note(ctx, bay, Note{Author: "T007", Text: "road test done"}) },
		func() (Event, error) { return m.Scan(ctx, bay, "", snapshot(testVIN, false)) },
		func() (Event, error) { return m.Reading(ctx, bay, "", reading(0.2)) },
		func() (Event, error) {
			return m.EmissionTest(ctx, bay, "", "T007", emission.InstrumentState{}, testResult(emission.Pass))
		},
	}
	for i, f := range steps {
		if _, err := f(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	closed, _, err := m.CloseJob(ctx, bay, "T007", settlement())
	if err != nil {
		t.Fatal(err)
	}
	_, key, _ := ed25519.GenerateKey(nil)
	s, err := record.NewSealer(record.SealerConfig{Key: key, Device: "bay-01", Shop: testShop})
	if err != nil {
		t.Fatal(err)
	}
	var out []record.Record
	// A record of no job and a presence record naming the job travel
	// among the job's records.
	for _, ev := range append([]Event{{Kind: record.KindScan, Body: map[string]any{"phase": "intake"}}, {Kind: "presence", Job: "J-R1", Body: map[string]any{"event": "left"}}}, rec.events...) {
		r, _, err := s.Seal(ev.Kind, ev.Job, ev.Body)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out, closed
}

func TestFromRecords(t *testing.T) {
	recs, want := sealed(t)
	without := func(kind string) []record.Record {
		i := slices.IndexFunc(recs, func(r record.Record) bool { return r.Kind == kind })
		return slices.Delete(slices.Clone(recs), i, i+1)
	}
	reversed := slices.Clone(recs)
	slices.Reverse(reversed)
	for _, tc := range []struct {
		name string
		recs []record.Record
		err  error
	}{
		{"in order", recs, nil},
		{"every record twice", append(slices.Clone(recs), recs...), nil},
		{"reversed", reversed, nil},
		{"an emission reading lost", without(record.KindEmission), ErrIncomplete},
		{"a note lost", without(record.KindNote), ErrIncomplete},
		{"no job_open", without(record.KindJobOpen), ErrIncomplete},
		{"no job_close", without(record.KindJobClose), ErrIncomplete},
		{"another job", nil, ErrIncomplete},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := FromRecords(tc.recs, "J-R1")
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("FromRecords: %v, want %v", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			// The rebuilt job is the one the Manager closed, field for field.
			gj, _ := json.Marshal(got)
			wj, _ := json.Marshal(want)
			if string(gj) != string(wj) {
				t.Fatalf("rebuilt job differs:\n got %s\nwant %s", gj, wj)
			}
		})
	}
}

func TestFromRecordsCancelledAndBroken(t *testing.T) {
	m, rec := newManager(t, "")
	ctx := context.Background()
	if _, err := m.OpenJob(ctx, "bay1", repairOpening("J-C")); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Cancel(ctx, "bay1", "T007", "wrong plate"); err != nil {
		t.Fatal(err)
	}
	_, key, _ := ed25519.GenerateKey(nil)
	s, _ := record.NewSealer(record.SealerConfig{Key: key, Device: "bay-01", Shop: testShop})
	var recs []record.Record
	for _, ev := range rec.events {
		r, _, _ := s.Seal(ev.Kind, ev.Job, ev.Body)
		recs = append(recs, r)
	}
	if _, err := FromRecords(recs, "J-C"); !errors.Is(err, ErrCancelled) {
		t.Fatalf("cancelled job: %v", err)
	}
	// A body that does not decode is reported with its record.
	bad := recs[0]
	bad.Body = json.RawMessage(`{"n":"one"}`)
	if _, err := FromRecords([]record.Record{bad}, "J-C"); !errors.Is(err, ErrIncomplete) {
		t.Fatalf("undecodable body: %v", err)
	}
}

func TestFromRecordsChecksTheJob(t *testing.T) {
	recs, _ := sealed(t)
	// An emission repair whose readings were all lost cannot be a
	// complete record even if the close says it has fewer events.
	var kept []record.Record
	for _, r := range recs {
		if r.Kind == record.KindEmission || r.Kind == record.KindEmissionTest {
			continue
		}
		if r.Kind == record.KindJobClose {
			var b JobCloseBody
			json.Unmarshal(r.Body, &b)
			b.Events = 1
			r.Body, _ = json.Marshal(b)
		}
		kept = append(kept, r)
	}
	_, err := FromRecords(kept, "J-R1")
	if !errors.Is(err, check.ErrInvalid) || !reflect.DeepEqual(fieldsOf(err), []string{"readings", "readings"}) {
		t.Fatalf("FromRecords: %v (fields %v)", err, fieldsOf(err))
	}
}
