package elm327_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bayagent/bayagent/agent/scan"
	"github.com/bayagent/bayagent/agent/scan/scantest"
	"github.com/bayagent/bayagent/drivers/canbus"
	"github.com/bayagent/bayagent/drivers/elm327"
	"github.com/bayagent/bayagent/drivers/elm327/elmsim"
	"github.com/bayagent/bayagent/drivers/elm327/elmsim/elmsimtest"
	"github.com/bayagent/bayagent/drivers/isotp"
	"github.com/bayagent/bayagent/drivers/obd/obdsim"
)

func loadProfile(t testing.TB, name string) *obdsim.Profile {
	t.Helper()
	p, err := obdsim.Load(filepath.Join("..", "..", "testdata", "vehicles", name+".yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// scanCAN takes the snapshot over ISO-TP on an in-process CAN bus.
func scanCAN(t *testing.T, p *obdsim.Profile) *scan.Snapshot {
	t.Helper()
	v, err := obdsim.New(p, obdsim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	bus := canbus.NewMemBus()
	stop := v.Start(context.Background(), bus)
	conn := bus.Connect()
	// A wide P2: on a loaded machine a simulated ECU may answer discovery
	// later than the standard 50 ms, and the CAN snapshot would then miss
	// it. Requests that name their ECUs still return as soon as they answer.
	c := isotp.NewClient(conn, isotp.Config{Extended: p.Bus.IDBits == 29, P2: 500 * time.Millisecond})
	defer func() {
		c.Close()
		conn.Close()
		if err := stop(); err != nil {
			t.Errorf("CAN simulator: %v", err)
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	snap, err := scan.Scan(ctx, c, scan.Options{Protocol: "CAN"})
	if err != nil {
		t.Fatalf("scan over CAN: %v", err)
	}
	return snap
}

// openPTY serves the profile as an ELM327 on a pseudo-terminal and opens
// the driver on it by path (at opts.Baud when set, as a dongle's spec names
// its rate); the adapter is closed, then the simulator stopped, when the
// test ends.
func openPTY(t testing.TB, p *obdsim.Profile, opts elmsim.Options) (*elm327.Adapter, *elmsim.Sim) {
	t.Helper()
	sim := elmsimtest.New(t, p, opts)
	path := elmsimtest.PTY(t, sim)
	if opts.Baud != 0 {
		path += "@" + strconv.Itoa(opts.Baud)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	a, err := elm327.Open(ctx, path, elm327.Options{})
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	t.Cleanup(func() { a.Close() })
	return a, sim
}

// TestSnapshotELM327EqualsCAN reads each vehicle through the ELM327
// simulator on a real pty, opened by path through the driver's serial
// opener, and over CAN: the snapshots are the same apart from Protocol and
// Stats, multi-ECU answers and multi-frame VIN/CALID included.
func TestSnapshotELM327EqualsCAN(t *testing.T) {
	for _, name := range []string{"petrol-p0420", "petrol-clean", "petrol-cleared", "petrol-29bit"} {
		t.Run(name, func(t *testing.T) {
			p := loadProfile(t, name)
			want := scanCAN(t, p)

			a, _ := openPTY(t, p, elmsim.Options{})
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			got, err := scan.Scan(ctx, a, scan.Options{Protocol: a.Protocol()})
			if err != nil {
				t.Fatalf("scan over ELM327: %v", err)
			}
			wantProto := map[int]string{11: "ISO 15765-4 (CAN 11-bit)", 29: "ISO 15765-4 (CAN 29-bit)"}[p.Bus.IDBits]
			if got.Protocol != wantProto {
				t.Errorf("protocol %q, want %q", got.Protocol, wantProto)
			}
			if got.VIN == "" || len(got.ECUs) == 0 || len(got.ECUs[0].CALIDs) == 0 {
				t.Errorf("snapshot lacks VIN, ECUs or CALIDs: %+v", got)
			}
			w, g := *want, *got
			w.Protocol, g.Protocol = "", ""
			w.Stats, g.Stats = scan.Stats{}, scan.Stats{}
			if !reflect.DeepEqual(w, g) {
				wj, _ := json.MarshalIndent(w, "", " ")
				gj, _ := json.MarshalIndent(g, "", " ")
				t.Errorf("snapshots differ\nCAN:\n%s\nELM327:\n%s", wj, gj)
			}
			t.Logf("%s: %d requests, %v over ELM327 (%d bytes out, %d in); %d requests, %v over CAN",
				name, got.Stats.Requests, got.Stats.Duration.Round(time.Millisecond), a.Stats().BytesWritten, a.Stats().BytesRead,
				want.Stats.Requests, want.Stats.Duration.Round(time.Millisecond))
		})
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestSnapshotClonesEqualCAN reads petrol-p0420 through adapters that
// refuse several PIDs in one request ("?") or answer only the first: the
// facts are those read over CAN, and the stats say the adapter does not
// batch.
func TestSnapshotClonesEqualCAN(t *testing.T) {
	p := loadProfile(t, "petrol-p0420")
	want := scantest.FactsOf(scanCAN(t, p))
	for _, tc := range []struct {
		name   string
		quirks elmsim.Quirks
	}{
		{"refuses batches", elmsim.Quirks{RefuseBatches: true}},
		{"first PID only", elmsim.Quirks{FirstPIDOnly: true}},
		{"stray bytes after reset", elmsim.Quirks{AfterReset: "\xFC\x00"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, _ := openPTY(t, p, elmsim.Options{Quirks: tc.quirks})
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			got, err := scan.Scan(ctx, a, scan.Options{})
			if err != nil {
				t.Fatalf("scan: %v", err)
			}
			if d := scantest.Diff(want, scantest.FactsOf(got)); len(d) > 0 {
				t.Errorf("facts differ from CAN:\n  %s\nproblems %v", strings.Join(d, "\n  "), got.Problems)
			}
			if len(got.Problems) > 0 {
				t.Errorf("problems: %v", got.Problems)
			}
			batching := tc.quirks.AfterReset != ""
			if batching != (got.Stats.NoBatch == "") {
				t.Errorf("stats %+v", got.Stats)
			}
			t.Logf("%d requests (%d retried), %v", got.Stats.Requests, got.Stats.Retried, got.Stats.Duration.Round(time.Millisecond))
		})
	}
}
