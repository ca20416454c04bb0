package elm327_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/bayagent/bayagent/agent/scan"
	"github.com/bayagent/bayagent/agent/scan/scantest"
	"github.com/bayagent/bayagent/drivers/elm327"
	"github.com/bayagent/bayagent/drivers/elm327/elmsim"
	"github.com/bayagent/bayagent/drivers/obd"
	"github.com/bayagent/bayagent/drivers/obd/obdsim"
)

// matrixProfiles are the vehicles of the must-show matrix: the four petrol
// cars and the CAN car whose ECU refuses batches (read over CAN for the
// reference), and the ISO 9141-2 car on every non-CAN protocol (whose
// reference is its profile). The J1939 truck does not apply: an ELM327 does
// not speak J1939 (agent/scan's J1939 tests cover it over CAN).
var matrixProfiles = []struct {
	name     string
	protocol string // replaces the profile's, for the legacy variants
}{
	{"petrol-p0420", ""}, {"petrol-clean", ""}, {"petrol-cleared", ""}, {"petrol-29bit", ""}, {"petrol-nobatch", ""},
	{"petrol-iso9141", ""},
	{"petrol-iso9141", obdsim.ProtocolKWP5Baud}, {"petrol-iso9141", obdsim.ProtocolKWPFast},
	{"petrol-iso9141", obdsim.ProtocolJ1850VPW}, {"petrol-iso9141", obdsim.ProtocolJ1850PWM},
}

// profileFacts are the facts a profile declares, for vehicles that have no
// CAN path to read a reference snapshot over.
func profileFacts(t *testing.T, p *obdsim.Profile) (vin string, stored map[obd.ECU][]string) {
	t.Helper()
	stored = map[obd.ECU][]string{}
	for _, e := range p.ECUs {
		stored[obd.ECU(e.Address)] = append([]string{}, e.DTCs.Stored...)
	}
	return p.VIN, stored
}

// TestMatrix reads each vehicle through the ELM327 simulator with each
// adapter personality (under synctest, so that the slow ECU and the real
// reset and search times cost no wall time) and checks that every
// combination completes with the same facts (VIN, DTCs per ECU, readiness,
// CALID/CVN, freeze frame) and the same problems as the reference: over CAN
// for the CAN cars, the genuine adapter for the K-line and J1850 car, whose
// facts are also checked against its profile.
func TestMatrix(t *testing.T) {
	for _, mp := range matrixProfiles {
		name := mp.name
		if mp.protocol != "" {
			name += "/" + mp.protocol
		}
		t.Run(name, func(t *testing.T) {
			p := loadProfile(t, mp.name)
			if mp.protocol != "" {
				p.Protocol = mp.protocol
			}
			var want scantest.Facts
			var wantProblems []string
			legacy := obdsim.Legacy(p.Protocol)
			if !legacy {
				ref := scanCAN(t, p)
				want, wantProblems = scantest.FactsOf(ref), ref.Problems
			}
			for _, pers := range elmsim.Personalities() {
				t.Run(pers, func(t *testing.T) {
					so, err := elmsim.Personality(pers)
					if err != nil {
						t.Fatal(err)
					}
					synctest.Test(t, func(t *testing.T) {
						a, _, stop := simRigProfile(t, p, so, elm327.Options{})
						defer stop()
						ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
						defer cancel()
						start := time.Now()
						got, err := scan.Scan(ctx, a, scan.Options{})
						if err != nil {
							t.Fatalf("scan aborted: %v", err)
						}
						gf := scantest.FactsOf(got)
						if legacy && pers == elmsim.PersonalityGenuine {
							vin, stored := profileFacts(t, p)
							if gf.VIN != vin {
								t.Errorf("VIN %q, profile says %q", gf.VIN, vin)
							}
							for _, e := range got.ECUs {
								if codes := dtcCodes(e.Stored); !slices.Equal(codes, stored[e.Address]) {
									t.Errorf("ECU %s stored %v, profile says %v", e.Address, codes, stored[e.Address])
								}
							}
							if got.Stats.NoBatch != scan.NoBatchProtocol {
								t.Errorf("stats %+v: a K-line/J1850 car takes one PID per request", got.Stats)
							}
						}
						if legacy && want.VIN == "" {
							want, wantProblems = gf, got.Problems
						}
						if d := scantest.Diff(want, gf); len(d) > 0 {
							t.Errorf("facts differ from the reference:\n  %s\nproblems: %v", strings.Join(d, "\n  "), got.Problems)
						}
						if fmt.Sprint(got.Problems) != fmt.Sprint(wantProblems) {
							t.Errorf("problems %v, want %v", got.Problems, wantProblems)
						}
						t.Logf("%s: %d requests (%d retried), %v (virtual); protocol %s; %s", pers, got.Stats.Requests, got.Stats.Retried,
							time.Since(start).Round(time.Millisecond), a.Protocol(), a.Version())
					})
				})
			}
		})
	}
}

func dtcCodes(d []obd.DTC) []string {
	out := []string{}
	for _, x := range d {
		out = append(out, x.Code)
	}
	return out
}
