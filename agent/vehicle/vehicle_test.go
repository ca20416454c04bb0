package vehicle_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bayagent/bayagent/agent/scan"
	"github.com/bayagent/bayagent/agent/scan/scantest"
	"github.com/bayagent/bayagent/agent/vehicle"
	"github.com/bayagent/bayagent/drivers/canbus"
	"github.com/bayagent/bayagent/drivers/elm327/elmsim"
	"github.com/bayagent/bayagent/drivers/obd/obdsim"
)

func serve(t *testing.T, hub *canbus.MemHub, profile string) func() error {
	t.Helper()
	p, err := obdsim.Load(filepath.Join("..", "..", "testdata", "vehicles", profile+".yaml"))
	if err != nil {
		t.Fatal(err)
	}
	v, err := obdsim.New(p, obdsim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return v.Start(context.Background(), hub.Bus("bay"))
}

// TestProbeDetectsAddressing: the link finds 11-bit and 29-bit vehicles by
// itself, and says so when nothing answers.
func TestProbeDetectsAddressing(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		profile string
		proto   string
		ecus    int
	}{
		{"petrol-p0420", "ISO 15765-4 CAN 11-bit", 2},
		{"petrol-29bit", "ISO 15765-4 CAN 29-bit", 2},
	} {
		t.Run(tc.profile, func(t *testing.T) {
			hub := &canbus.MemHub{}
			stop := serve(t, hub, tc.profile)
			defer stop()
			l, err := vehicle.Open(ctx, "mem:bay", vehicle.Options{Hub: hub, P2: 300 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			ecus, err := l.Probe(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(ecus) != tc.ecus || !strings.HasPrefix(l.Protocol, tc.proto) {
				t.Errorf("ECUs %v, protocol %q; want %d ECUs on %s", ecus, l.Protocol, tc.ecus, tc.proto)
			}
			if !l.Present(ctx, ecus) {
				t.Error("Present = false with the vehicle there")
			}
			if _, err := l.Voltage(ctx); !errors.Is(err, vehicle.ErrNoVoltage) {
				t.Errorf("Voltage on CAN: %v, want ErrNoVoltage", err)
			}
		})
	}
	t.Run("nothing there", func(t *testing.T) {
		l, err := vehicle.Open(ctx, "mem:empty", vehicle.Options{Hub: &canbus.MemHub{}, P2: 10 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		if _, err := l.Probe(ctx); !errors.Is(err, scan.ErrNoVehicle) {
			t.Errorf("Probe = %v, want ErrNotDetected", err)
		}
	})
}

func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	if _, err := vehicle.Open(ctx, "mem:x", vehicle.Options{IDBits: 12, Hub: &canbus.MemHub{}}); err == nil || !strings.Contains(err.Error(), "11, 29 or 0") {
		t.Errorf("IDBits 12: %v", err)
	}
	if _, err := vehicle.Open(ctx, "bogus", vehicle.Options{}); !errors.Is(err, canbus.ErrBadAddress) {
		t.Errorf("bad address: %v", err)
	}
	if _, err := vehicle.Open(ctx, "elm327:/dev/nonexistent-elm", vehicle.Options{}); err == nil || !strings.Contains(err.Error(), "nonexistent-elm") {
		t.Errorf("missing ELM327: %v", err)
	}
}

// TestELM327SearchServesDiscovery: the first scan on an ELM327 link takes
// the protocol search's answers for its discovery instead of asking 0100
// again (the request costs the adapter's whole timeout); a later scan on the
// link asks. Both give the same snapshot, the same request count included.
func TestELM327SearchServesDiscovery(t *testing.T) {
	p, err := obdsim.Load(filepath.Join("..", "..", "testdata", "vehicles", "petrol-p0420.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	sim, err := elmsim.New(p, elmsim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	addr, stop, err := elmsim.ServeTCP(context.Background(), sim, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := stop(); err != nil {
			t.Errorf("simulator: %v", err)
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	l, err := vehicle.Open(ctx, "elm327:tcp://"+addr, vehicle.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if _, err := l.Probe(ctx); err != nil {
		t.Fatal(err)
	}
	var sent [2]int64
	var snaps [2]*scan.Snapshot
	for i := range 2 {
		r0 := sim.Requests()
		snaps[i], err = l.Scan(ctx, scan.Options{})
		if err != nil {
			t.Fatal(err)
		}
		sent[i] = sim.Requests() - r0
	}
	if int(sent[0]) != snaps[0].Stats.Requests-1 || int(sent[1]) != snaps[1].Stats.Requests {
		t.Errorf("the simulator got %v requests for scans counting %d and %d: want the first scan's 0100 taken from the search",
			sent, snaps[0].Stats.Requests, snaps[1].Stats.Requests)
	}
	if d := scantest.Diff(scantest.FactsOf(snaps[0]), scantest.FactsOf(snaps[1])); len(d) > 0 || snaps[0].Stats.Requests != snaps[1].Stats.Requests {
		t.Errorf("the scans differ: %v; requests %d and %d", d, snaps[0].Stats.Requests, snaps[1].Stats.Requests)
	}
}
