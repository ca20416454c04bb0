package vehicle

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/bayagent/bayagent/agent/scan"
	"github.com/bayagent/bayagent/drivers/elm327"
	"github.com/bayagent/bayagent/drivers/obd"
)

type failing struct{ err error }

func (f failing) Do(context.Context, obd.Request) ([]obd.Response, error) { return nil, f.err }

// TestProbeELM327Errors: what an adapter says with no car behind it means
// "no vehicle"; an adapter that stops answering is a failed interface,
// which the agent reopens.
func TestProbeELM327Errors(t *testing.T) {
	for _, tc := range []struct {
		err         error
		notDetected bool
	}{
		{elm327.ErrNoData, true},
		{elm327.ErrUnableToConnect, true},
		{elm327.ErrCANError, true},
		{elm327.ErrBusInit, true},
		{elm327.ErrTimeout, false},
		{elm327.ErrNoAdapter, false},
	} {
		l := &Link{Transport: failing{tc.err}}
		_, err := l.Probe(context.Background())
		if got := errors.Is(err, scan.ErrNoVehicle); got != tc.notDetected {
			t.Errorf("%v: Probe error %v, not-detected %v, want %v", tc.err, err, got, tc.notDetected)
		}
		if err == nil {
			t.Errorf("%v: Probe succeeded", tc.err)
		}
	}
}

// answers replies to every request with one response per ECU, in the
// order given: the arrival order of a real bus varies with the ECUs'
// timing.
type answers []obd.ECU

func (a answers) Do(_ context.Context, req obd.Request) ([]obd.Response, error) {
	var out []obd.Response
	for _, e := range a {
		out = append(out, obd.Response{ECU: e, Data: []byte{req.Data[0] + 0x40, 0x00, 0xBE, 0x1F, 0xA8, 0x13}})
	}
	return out, nil
}

// TestECUsInAddressOrder: the ECUs that answered a probe and that
// acknowledged a clear are listed in address order, whatever order they
// answered in (the demo printed "cleared by ECUs 7E9, 7E8" under load).
func TestECUsInAddressOrder(t *testing.T) {
	want := []obd.ECU{0x7E8, 0x7E9, 0x7EA}
	for _, order := range []answers{{0x7E9, 0x7E8, 0x7EA}, {0x7EA, 0x7E9, 0x7E8}, {0x7E8, 0x7E9, 0x7EA}} {
		l := &Link{Transport: order}
		got, err := l.Probe(context.Background())
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("answers %v: Probe = %v, %v; want %v", order, got, err, want)
		}
		got, err = l.ClearDTCs(context.Background(), []obd.ECU(order), "J-1", "T007")
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("answers %v: ClearDTCs = %v, %v; want %v", order, got, err, want)
		}
	}
}
