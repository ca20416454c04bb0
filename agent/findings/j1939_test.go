package findings_test

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bayagent/bayagent/agent/findings"
	"github.com/bayagent/bayagent/agent/i18n"
	"github.com/bayagent/bayagent/agent/scan"
	"github.com/bayagent/bayagent/drivers/canbus"
	"github.com/bayagent/bayagent/drivers/j1939/j1939sim"
	"github.com/bayagent/bayagent/drivers/obd"
)

// TestTruckInInducement scans the simulated truck in SCR inducement
// through the J1939 scan (DM1 lamps and codes as the simulator encodes
// them) and checks what the technician is told.
func TestTruckInInducement(t *testing.T) {
	p, err := j1939sim.Load(filepath.Join("..", "..", "testdata", "vehicles", "diesel-truck-inducement.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	sim, err := j1939sim.New(p, j1939sim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	bus := canbus.NewMemBus()
	simConn := bus.Connect()
	stop := sim.Start(simConn)
	conn := bus.Connect()
	defer func() {
		stop()
		simConn.Close()
		conn.Close()
	}()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	snap, err := scan.ScanJ1939(ctx, conn, scan.Options{})
	if err != nil {
		t.Fatal(err)
	}
	res := findings.Evaluate(snap, findings.DefaultRules(), "")
	if res.Verdict != findings.Fail || !slices.Equal(res.Reasons, []findings.Code{findings.MILOn, findings.SCRInducement}) {
		t.Errorf("verdict %s %v", res.Verdict, res.Reasons)
	}
	ind, ok := res.Find(findings.SCRInducement)
	if !ok || !slices.Equal(ind.DTCs, []string{"SPN 5246 FMI 0"}) || !slices.Equal(ind.ECUs, []string{obd.ECU(0x3D).String()}) {
		t.Errorf("inducement %+v", ind)
	}
	if f, ok := res.Find(findings.AmberWarningLamp); !ok || !slices.Equal(f.ECUs, []string{obd.ECU(0x3D).String()}) {
		t.Errorf("amber warning lamp %+v", f)
	}
	if res.Has(findings.RedStopLamp) || res.Has(findings.ProtectLamp) {
		t.Errorf("lamps that are off raised: %v", codes(res))
	}
	if f, ok := res.Find(findings.SCRFault); !ok || !slices.Equal(f.DTCs, []string{"SPN 1761 FMI 18"}) {
		t.Errorf("SCR fault %+v", f)
	}
	if got := ind.Text(i18n.Chinese); !containsAll(got, "SCR", "SPN 5246 FMI 0", "限扭") {
		t.Errorf("Chinese text %q", got)
	}
}

func containsAll(s string, subs ...string) bool {
	for _, x := range subs {
		if !strings.Contains(s, x) {
			return false
		}
	}
	return true
}
