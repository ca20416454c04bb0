package scan_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/bayagent/bayagent/agent/scan"
	"github.com/bayagent/bayagent/drivers/obd"
	"github.com/bayagent/bayagent/drivers/obd/obdsim"
)

// counting counts the requests that go through a transport.
type counting struct {
	obd.Transport
	n int
}

func (c *counting) Do(ctx context.Context, req obd.Request) ([]obd.Response, error) {
	c.n++
	return c.Transport.Do(ctx, req)
}

// TestSample reads six live PIDs of petrol-p0420's engine ECU with each
// batching quirk: every sample holds the same values as against a
// well-behaved ECU, a refused or partial batch is asked again one PID at a
// time, and the session remembers it, so that the next sample takes one
// request per PID and no wasted one.
func TestSample(t *testing.T) {
	pids := []obd.PID{0x0C, 0x0D, 0x05, 0x0B, 0x11, 0x04}
	ecus := []obd.ECU{0x7E8}
	var want string
	for _, tc := range []struct {
		batches  string
		first    int // requests of the first sample
		learnt   bool
		requests int // requests of the next ones
	}{
		{obdsim.BatchesAll, 1, false, 1},
		{obdsim.BatchesRefuse, 1 + 6, true, 6},
		{obdsim.BatchesFirst, 1 + 5, true, 6},
	} {
		t.Run(tc.batches, func(t *testing.T) {
			p := loadProfile(t, "petrol-p0420")
			p.ECUs[0].Quirks.Batches = tc.batches
			r := startRig(t, p, 0, testP2)
			tr := &counting{Transport: r.client}
			sess := &scan.Session{}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			for i := range 3 {
				tr.n = 0
				got, err := scan.Sample(ctx, tr, sess, ecus, pids)
				if err != nil {
					t.Fatalf("sample %d: %v", i, err)
				}
				if len(got) != 1 || got[0].ECU != 0x7E8 || len(got[0].Values) != len(pids) {
					t.Fatalf("sample %d: %+v, want the six values of 7E8", i, got)
				}
				s := fmt.Sprint(got)
				if want == "" {
					want = s
				}
				if s != want {
					t.Errorf("sample %d: %s, want %s", i, s, want)
				}
				n := tc.requests
				if i == 0 {
					n = tc.first
				}
				if tr.n != n {
					t.Errorf("sample %d took %d requests, want %d", i, tr.n, n)
				}
			}
			// A scan on the same session knows it too.
			snap, err := scan.Scan(ctx, tr, scan.Options{Session: sess})
			if err != nil {
				t.Fatal(err)
			}
			if learnt := len(snap.Stats.NoBatchECUs) > 0 || snap.Stats.NoBatch != ""; learnt != tc.learnt || snap.Stats.Retried != 0 {
				t.Errorf("scan after the samples: stats %+v, want learnt %v and nothing retried", snap.Stats, tc.learnt)
			}
		})
	}
}

// TestSampleUnavailable: a PID the ECU does not have is missing from the
// sample, with the others there and the error saying so; an ECU that is gone
// gives the error alone.
func TestSampleUnavailable(t *testing.T) {
	r := startRig(t, loadProfile(t, "petrol-p0420"), 0, testP2)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	got, err := scan.Sample(ctx, r.client, &scan.Session{}, []obd.ECU{0x7E8}, []obd.PID{0x0C, 0x5C})
	if !errors.Is(err, obd.ErrNoResponse) || len(got) != 1 || len(got[0].Values) != 1 || got[0].Values[0].Name != "engine_speed" {
		t.Errorf("Sample = %+v, %v; want engine speed alone and no answer for 5C", got, err)
	}
	got, err = scan.Sample(ctx, r.client, &scan.Session{}, []obd.ECU{0x7EF}, []obd.PID{0x0C})
	if !errors.Is(err, obd.ErrNoResponse) || len(got) != 0 {
		t.Errorf("Sample of an absent ECU = %+v, %v; want an error", got, err)
	}
}
