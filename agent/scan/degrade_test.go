package scan_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bayagent/bayagent/agent/scan"
	"github.com/bayagent/bayagent/agent/scan/scantest"
	"github.com/bayagent/bayagent/drivers/obd"
	"github.com/bayagent/bayagent/drivers/obd/obdsim"
)

// TestScanDegrades gives the engine ECU of petrol-p0420 each quirk found in
// the field: the scan completes with the same facts as against a
// well-behaved car, apart from what the quirk truly withholds (then listed
// in Problems), and the session learns who does not batch.
func TestScanDegrades(t *testing.T) {
	base := scanProfile(t, "petrol-p0420", scan.Options{})
	want := scantest.FactsOf(base)
	for _, tc := range []struct {
		name        string
		quirks      obdsim.Quirks
		noBatchECUs []obd.ECU
		noFreeze    bool     // the freeze frame is truly unavailable
		problems    []string // each must appear in some problem
	}{
		{name: "refuses batches", quirks: obdsim.Quirks{Batches: obdsim.BatchesRefuse}, noBatchECUs: []obd.ECU{0x7E8}},
		{name: "answers the first PID only", quirks: obdsim.Quirks{Batches: obdsim.BatchesFirst}, noBatchECUs: []obd.ECU{0x7E8}},
		{name: "no Mode 02", quirks: obdsim.Quirks{NoMode02: true}, noFreeze: true, problems: []string{"ECU 7E8: freeze frame (Mode 02) not available (obd: negative response to service 0x02: serviceNotSupported"}},
		{name: "09 00 refused", quirks: obdsim.Quirks{NoInfoTypeList: true}, problems: []string{"ECU 7E8: supported InfoTypes (09 00) not available"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := loadProfile(t, "petrol-p0420")
			p.ECUs[0].Quirks = tc.quirks
			r := startRig(t, p, 0, testP2)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			sess := &scan.Session{}
			s, err := scan.Scan(ctx, r.client, scan.Options{Session: sess})
			if err != nil {
				t.Fatalf("scan aborted: %v", err)
			}
			w := want
			if tc.noFreeze {
				w.Freeze = ""
			}
			if d := scantest.Diff(w, scantest.FactsOf(s)); len(d) > 0 {
				t.Errorf("facts differ:\n  %s\nproblems: %v", strings.Join(d, "\n  "), s.Problems)
			}
			for _, p := range tc.problems {
				if !slices.ContainsFunc(s.Problems, func(x string) bool { return strings.Contains(x, p) }) {
					t.Errorf("no problem %q in %v", p, s.Problems)
				}
			}
			if len(tc.problems) == 0 && !tc.noFreeze && len(s.Problems) > 0 {
				t.Errorf("problems: %v", s.Problems)
			}
			if !slices.Equal(s.Stats.NoBatchECUs, tc.noBatchECUs) || s.Stats.NoBatch != "" {
				t.Errorf("no-batch ECUs %v (adapter %q), want %v", s.Stats.NoBatchECUs, s.Stats.NoBatch, tc.noBatchECUs)
			}
			if tc.noBatchECUs != nil && s.Stats.Retried == 0 {
				t.Errorf("stats %+v: no request was retried", s.Stats)
			}
			// The session remembers: a second scan wastes no request on
			// batches that ECU will not take.
			again, err := scan.Scan(ctx, r.client, scan.Options{Session: sess})
			if err != nil {
				t.Fatal(err)
			}
			if d := scantest.Diff(scantest.FactsOf(s), scantest.FactsOf(again)); len(d) > 0 {
				t.Errorf("second scan: %v", d)
			}
			if tc.noBatchECUs != nil && again.Stats.Retried != 0 {
				t.Errorf("second scan retried %d requests: the session forgot", again.Stats.Retried)
			}
			// Nor does it wait again for the transmission's silence to 06 00.
			if again.Stats.FullWindow != s.Stats.FullWindow-1 {
				t.Errorf("full windows: %d, then %d; want one fewer (06 00 not asked of the transmission)", s.Stats.FullWindow, again.Stats.FullWindow)
			}
			t.Logf("%d requests (%d retried), second scan %d; problems %v", s.Stats.Requests, s.Stats.Retried, again.Stats.Requests, s.Problems)
		})
	}
}

// gateway passes only functional requests (a request to one ECU's
// physical address brings nothing back) and forwards only the first PID of
// a Mode 01 data request with several, as some gateways do.
type gateway struct {
	obd.Transport
	physical int
}

func (g *gateway) Do(ctx context.Context, req obd.Request) ([]obd.Response, error) {
	if req.To != 0 {
		g.physical++
		return nil, obd.ErrNoResponse
	}
	if d := req.Data; d[0] == 0x01 && len(d) > 2 && !slices.ContainsFunc(d[1:], func(p byte) bool { return p%0x20 == 0 }) {
		req.Data = d[:2]
	}
	return g.Transport.Do(ctx, req)
}

// TestFunctionalRetry: behind that gateway, each PID a batch left out that
// only the engine has is asked on the engine's physical address, then once
// on the functional address, and the snapshot is complete.
func TestFunctionalRetry(t *testing.T) {
	want := scantest.FactsOf(scanProfile(t, "petrol-p0420", scan.Options{}))
	r := startRig(t, loadProfile(t, "petrol-p0420"), 0, testP2)
	g := &gateway{Transport: r.client}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := scan.Scan(ctx, g, scan.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if d := scantest.Diff(want, scantest.FactsOf(s)); len(d) > 0 {
		t.Errorf("facts differ:\n  %s\nproblems: %v", strings.Join(d, "\n  "), s.Problems)
	}
	if g.physical == 0 || s.Stats.Retried < 2*g.physical {
		t.Errorf("%d physical requests, stats %+v: want each physical retry followed by a functional one", g.physical, s.Stats)
	}
	if len(s.Problems) > 0 {
		t.Errorf("problems: %v", s.Problems)
	}
	t.Logf("%d physical requests; stats %+v", g.physical, s.Stats)
}
