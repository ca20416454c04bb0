package j1939sim

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/bayagent/bayagent/drivers/canbus"
	"github.com/bayagent/bayagent/drivers/j1939"
)

var profilePath = filepath.Join("..", "..", "..", "testdata", "vehicles", "diesel-truck-j1939.yaml")

func load(t *testing.T) *Profile {
	t.Helper()
	p, err := Load(profilePath)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestProfileErrors(t *testing.T) {
	p := load(t)
	if p.VIN != "LZZ1CLSB1KA000789" || len(p.J1939.ECUs) != 2 || time.Duration(p.J1939.DM1Period) != time.Second {
		t.Errorf("profile %+v", p)
	}
	for _, tc := range []struct {
		name, yaml string
		want       error
	}{
		{"unknown field", "name: x\nprotocol: j1939\nbogus: 1\n", ErrSyntax},
		{"wrong protocol", "name: x\nprotocol: iso15765\nbus: {id_bits: 29, bitrate: 250000}\nvin: LZZ1CLSB1KA000789\nj1939: {ecus: [{address: 0, vin: true}]}\n", ErrInvalid},
		{"bad DTC", "name: x\nprotocol: j1939\nbus: {id_bits: 29, bitrate: 250000}\nvin: LZZ1CLSB1KA000789\nj1939: {ecus: [{address: 0, vin: true, dtcs: {active: [{spn: 0, fmi: 40}]}}]}\n", ErrInvalid},
		{"bad monitor", "name: x\nprotocol: j1939\nbus: {id_bits: 29, bitrate: 250000}\nvin: LZZ1CLSB1KA000789\nj1939: {ecus: [{address: 0, vin: true, readiness: {catalyst_b9: complete}}]}\n", ErrInvalid},
		{"bad address", "name: x\nprotocol: j1939\nj1939: {ecus: [{address: zz}]}\n", ErrSyntax},
		{"DM21 not available value", "name: x\nprotocol: j1939\nbus: {id_bits: 29, bitrate: 250000}\nvin: LZZ1CLSB1KA000789\nj1939: {ecus: [{address: 0, vin: true, dm21: {minutes_since_clear: 65535}}]}\n", ErrInvalid},
		{"DM21 negative", "name: x\nprotocol: j1939\nj1939: {ecus: [{address: 0, dm21: {distance_with_mil_km: -1}}]}\n", ErrSyntax},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Parse(strings.NewReader(tc.yaml)); !errors.Is(err, tc.want) {
				t.Errorf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

// rig starts the truck and a tool node on an in-process bus, in the caller's
// synctest bubble.
func rig(t *testing.T, p *Profile, opts Options) (*Sim, *j1939.Client) {
	t.Helper()
	sim, err := New(p, opts)
	if err != nil {
		t.Fatal(err)
	}
	bus := canbus.NewMemBus()
	simConn, toolConn := bus.Connect(), bus.Connect()
	stop := sim.Start(simConn)
	tool := j1939.NewNode(toolConn, j1939.Config{Name: j1939.ToolName, Addresses: j1939.ToolAddresses()})
	t.Cleanup(func() {
		tool.Close()
		if err := stop(); err != nil {
			t.Errorf("sim: %v", err)
		}
		simConn.Close()
		toolConn.Close()
	})
	if _, err := tool.Claim(context.Background()); err != nil {
		t.Fatal(err)
	}
	return sim, &j1939.Client{Node: tool}
}

// TestBroadcastBAM: a DM1 with two codes is broadcast every period over BAM.
func TestBroadcastBAM(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := load(t)
		p.J1939.ECUs[1].DTCs.Active = append(p.J1939.ECUs[1].DTCs.Active, DTC{SPN: 4364, FMI: 18, Occurrences: 2})
		_, c := rig(t, p, Options{DM1Period: 200 * time.Millisecond})
		start := time.Now()
		for {
			m, err := c.Node.Receive(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if m.PGN != j1939.PGNDM1 || m.Source != 0x3D {
				continue
			}
			dm1, err := j1939.ParseDM1(m.Data)
			if err != nil || len(dm1.DTCs) != 2 || m.Dest != j1939.AddressGlobal || dm1.Lamps.MIL != j1939.LampOn {
				t.Fatalf("DM1 %v: %+v %v", m, dm1, err)
			}
			break
		}
		if d := time.Since(start); d > 400*time.Millisecond {
			t.Errorf("first broadcast after %v, want one period plus the BAM", d)
		}
	})
}

// TestGlobalRequestBAM: DM19 requested from everyone comes back over BAM.
func TestGlobalRequestBAM(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, c := rig(t, load(t), Options{DM1Period: -1})
		if err := c.Node.Send(context.Background(), j1939.Message{PGN: j1939.PGNRequest, Dest: j1939.AddressGlobal, Data: j1939.RequestData(j1939.PGNDM19)}); err != nil {
			t.Fatal(err)
		}
		got := map[uint8]string{}
		for len(got) < 2 {
			m, err := c.Node.Receive(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if m.PGN != j1939.PGNDM19 {
				continue
			}
			cals, err := j1939.ParseDM19(m.Data)
			if err != nil || m.Dest != j1939.AddressGlobal {
				t.Fatalf("DM19 %v: %v", m, err)
			}
			got[m.Source] = cals[0].CALID
		}
		if got[0x00] != "EDC17CV44P1234" || got[0x3D] != "SCR-ATS-0417-B2" {
			t.Errorf("CALIDs %v", got)
		}
	})
}

// TestClear: DM11 turns active codes into previously active ones, once
// acknowledged, and the result names what was cleared.
func TestClear(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sim, c := rig(t, load(t), Options{DM1Period: -1})
		res, err := c.ClearActive(context.Background(), j1939.ClearRequest{JobID: "JOB-42", Technician: "T-007", ECUs: []uint8{0x00, 0x3D}})
		if err != nil {
			t.Fatal(err)
		}
		at := res.ECUs[1]
		if at.Address != 0x3D || !at.Acknowledged || len(at.Cleared) != 1 || at.Cleared[0].SPN != 3226 || len(at.Remaining) != 0 {
			t.Errorf("aftertreatment clear %+v", at)
		}
		if sim.Cleared(0x3D) != 1 || sim.Cleared(0x00) != 1 {
			t.Errorf("cleared counts %d %d", sim.Cleared(0x00), sim.Cleared(0x3D))
		}
		ans, err := c.Request(context.Background(), j1939.PGNDM2, []uint8{0x3D})
		if err != nil {
			t.Fatal(err)
		}
		dm2, err := j1939.ParseDM1(ans[0x3D].Msg.Data)
		spns := []uint32{}
		for _, d := range dm2.DTCs {
			spns = append(spns, d.SPN)
		}
		if err != nil || !slices.Equal(spns, []uint32{5246, 3226}) || dm2.Lamps.MIL != j1939.LampOff {
			t.Errorf("DM2 after clear: %+v %v", dm2, err)
		}
	})
}

// TestDM21: each controller answers DM21 with its profile's values, one
// without DM21 NACKs it, and DM11 restarts the counters from 0.
func TestDM21(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := load(t)
		p.J1939.ECUs = append(p.J1939.ECUs, ECU{Address: 0x17, Function: 11, Identity: 0x3003})
		_, c := rig(t, p, Options{DM1Period: -1})
		read := func() map[uint8][]string {
			t.Helper()
			ans, err := c.Request(context.Background(), j1939.PGNDM21, []uint8{0x00, 0x3D, 0x17})
			if err != nil {
				t.Fatal(err)
			}
			if a := ans[0x17]; a.Ack == nil || a.Ack.Control != j1939.Nack {
				t.Errorf("controller without DM21: %+v, want a NACK", a)
			}
			out := map[uint8][]string{}
			for _, a := range []uint8{0x00, 0x3D} {
				r, err := j1939.ParseDM21(ans[a].Msg.Data)
				if err != nil {
					t.Fatalf("ECU %02X DM21 %+v: %v", a, ans[a], err)
				}
				for _, v := range r.Values() {
					out[a] = append(out[a], fmt.Sprintf("%s=%g", v.Name, v.Value))
				}
			}
			return out
		}
		got := read()
		for a, want := range map[uint8][]string{
			0x00: {"distance_with_mil=0", "distance_since_clear=15230", "time_with_mil=0", "time_since_clear=48000"},
			0x3D: {"distance_with_mil=86", "distance_since_clear=15230", "time_with_mil=140", "time_since_clear=48000"},
		} {
			if !slices.Equal(got[a], want) {
				t.Errorf("ECU %02X DM21 %v, want %v", a, got[a], want)
			}
		}
		if _, err := c.ClearActive(context.Background(), j1939.ClearRequest{JobID: "JOB-42", Technician: "T-007", ECUs: []uint8{0x3D}}); err != nil {
			t.Fatal(err)
		}
		got = read()
		if want := []string{"distance_with_mil=0", "distance_since_clear=0", "time_with_mil=0", "time_since_clear=0"}; !slices.Equal(got[0x3D], want) {
			t.Errorf("ECU 3D DM21 after DM11 %v, want %v", got[0x3D], want)
		}
		if want := "distance_since_clear=15230"; got[0x00][1] != want {
			t.Errorf("ECU 00 DM21 after a DM11 to 3D only %v, want %s", got[0x00], want)
		}
	})
}
