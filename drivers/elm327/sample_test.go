package elm327_test

import (
	"context"
	"testing"
	"time"

	"github.com/bayagent/bayagent/agent/scan"
	"github.com/bayagent/bayagent/drivers/elm327"
	"github.com/bayagent/bayagent/drivers/elm327/elmsim"
	"github.com/bayagent/bayagent/drivers/obd"
)

// TestSampleThroughAdapters: the live feed's sample of six PIDs comes back
// whole from a K-line car (one PID per request) and through adapters that
// refuse batches or answer only their first PID, and after the first sample
// each takes one request per PID and wastes none.
func TestSampleThroughAdapters(t *testing.T) {
	pids := []obd.PID{0x0C, 0x0D, 0x05, 0x0B, 0x11, 0x04}
	for _, tc := range []struct {
		profile, personality string
		engine               obd.ECU
		requests             int64 // per sample once learnt
	}{
		{"petrol-p0420", elmsim.PersonalityGenuine, 0x7E8, 1},
		{"petrol-p0420", elmsim.PersonalityRefusesBatches, 0x7E8, 6},
		{"petrol-p0420", elmsim.PersonalityFirstPIDOnly, 0x7E8, 6},
		{"petrol-iso9141", elmsim.PersonalityGenuine, 0x10, 6},
	} {
		t.Run(tc.profile+"/"+tc.personality, func(t *testing.T) {
			so, err := elmsim.Personality(tc.personality)
			if err != nil {
				t.Fatal(err)
			}
			a, sim, stop := simRigProfile(t, loadProfile(t, tc.profile), so, elm327.Options{})
			defer stop()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			sess := &scan.Session{}
			for i := range 3 {
				r0 := sim.Requests()
				got, err := scan.Sample(ctx, a, sess, []obd.ECU{tc.engine}, pids)
				if err != nil || len(got) != 1 || got[0].ECU != tc.engine || len(got[0].Values) != len(pids) {
					t.Fatalf("sample %d: %+v, %v; want the six values of %s", i, got, err, tc.engine)
				}
				if n := sim.Requests() - r0; i > 0 && n != tc.requests {
					t.Errorf("sample %d took %d requests, want %d", i, n, tc.requests)
				}
			}
		})
	}
}
