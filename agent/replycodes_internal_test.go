package agent

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/bayagent/bayagent/agent/job"
	"github.com/bayagent/bayagent/agent/outbox"
	"github.com/bayagent/bayagent/agent/uplink"
)

// TestReplyCodeTable: errors get the codes of the table, in its order
// (each code is also produced for real by a command: TestReplyCodes and the
// tests it names, and the uplink's tests), and every code of package uplink
// is given by the uplink itself or by this table: no code is dead.
func TestReplyCodeTable(t *testing.T) {
	for _, c := range []struct {
		err  error
		want uplink.Code
	}{
		{fmt.Errorf("%w: job %q has 500 events", job.ErrJobFull, "J"), uplink.CodeJobFull},
		{fmt.Errorf("%w: note for job %q: %w", job.ErrNotStored, "J", outbox.ErrFull), uplink.CodeStorageFull},
		{fmt.Errorf("%w: note for job %q: %w", job.ErrNotStored, "J", outbox.ErrClosed), uplink.CodeNotStored},
		{fmt.Errorf("%w: job %q: disk full", job.ErrStateNotSaved, "J"), uplink.CodeJobNotSaved},
		{fmt.Errorf("%w: scan: %w", ErrVehicle, errors.New("elm327: no prompt")), uplink.CodeVehicleError},
		{fmt.Errorf("%w: %w", job.ErrClearFailed, errors.New("no ECU acknowledged")), uplink.CodeVehicleError},
		{ErrLiveJ1939, uplink.CodeNotSupported},
		{fmt.Errorf("%w: job %q cannot close yet", job.ErrClearing, "J"), uplink.CodeVehicleBusy},
		{fmt.Errorf("scan: %w", context.Canceled), uplink.CodeShuttingDown},
		{job.ErrPhase, uplink.CodePhaseNotAllowed},
		{errors.New("something new"), uplink.CodeInternal},
	} {
		if got := replyCode(withReplyCode("x", c.err)); got != c.want {
			t.Errorf("%v: code %s, want %s", c.err, got, c.want)
		}
	}
	given := map[uplink.Code]bool{
		// The uplink's own codes (package uplink, TestUplinkCodes).
		uplink.CodeBadCommand: true, uplink.CodeCommandTooLarge: true, uplink.CodeRetainedCommand: true,
		uplink.CodeBusy: true, uplink.CodeShuttingDown: true, uplink.CodeInternal: true, uplink.CodeUnknownCommand: true,
		// The signature check (authoriser; TestSignedCommands).
		uplink.CodeNotAuthorised: true, uplink.CodeReplayed: true,
	}
	for _, rc := range replyCodes {
		given[rc.code] = true
	}
	for _, c := range uplink.Codes() {
		if !given[c] {
			t.Errorf("reply code %s is given by nothing", c)
		}
	}
	if !slices.Contains(uplink.Codes(), uplink.CodeWrongBay) {
		t.Error("no wrong_bay")
	}
}
