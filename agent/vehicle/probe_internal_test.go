package vehicle

import (
	"context"
	"errors"
	"testing"

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
		if got := errors.Is(err, ErrNotDetected); got != tc.notDetected {
			t.Errorf("%v: Probe error %v, not-detected %v, want %v", tc.err, err, got, tc.notDetected)
		}
		if err == nil {
			t.Errorf("%v: Probe succeeded", tc.err)
		}
	}
}
