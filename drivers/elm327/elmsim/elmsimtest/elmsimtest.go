// Package elmsimtest serves the ELM327 simulator to a test until the test ends.
//
// Tests of the driver, the agent and the command line reach a simulated
// adapter the way a workshop reaches a real one: on a pseudo-terminal (a USB
// dongle) or on a loopback TCP port (a Wi-Fi dongle). The helpers fail the
// test on any set-up error (a missing pseudo-terminal included: the tests run
// on Linux, where there always is one) and, when the test ends, stop the
// simulator and fail the test if serving went wrong.
package elmsimtest

import (
	"context"
	"testing"

	"github.com/bayagent/bayagent/drivers/elm327/elmsim"
	"github.com/bayagent/bayagent/drivers/obd/obdsim"
)

// Load builds a simulator of the vehicle profile file at path.
func Load(tb testing.TB, path string, o elmsim.Options) *elmsim.Sim {
	tb.Helper()
	p, err := obdsim.Load(path)
	if err != nil {
		tb.Fatal(err)
	}
	return New(tb, p, o)
}

// New builds a simulator of the profile p.
func New(tb testing.TB, p *obdsim.Profile, o elmsim.Options) *elmsim.Sim {
	tb.Helper()
	sim, err := elmsim.New(p, o)
	if err != nil {
		tb.Fatal(err)
	}
	return sim
}

// PTY serves sim on a pseudo-terminal until tb ends and returns the path of
// its device side, to open like a USB dongle's serial port.
func PTY(tb testing.TB, sim *elmsim.Sim) string {
	tb.Helper()
	path, stop, err := elmsim.ServePTY(context.Background(), sim)
	if err != nil {
		tb.Fatalf("ELM327 simulator on a pseudo-terminal: %v", err)
	}
	cleanup(tb, "pseudo-terminal", stop)
	return path
}

// TCP serves sim on a loopback TCP port until tb ends and returns the
// address ("127.0.0.1:PORT"), to reach like a Wi-Fi dongle.
func TCP(tb testing.TB, sim *elmsim.Sim) string {
	tb.Helper()
	addr, stop, err := elmsim.ServeTCP(context.Background(), sim, "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("ELM327 simulator on TCP: %v", err)
	}
	cleanup(tb, "TCP", stop)
	return addr
}

func cleanup(tb testing.TB, on string, stop func() error) {
	tb.Cleanup(func() {
		if err := stop(); err != nil {
			tb.Errorf("ELM327 simulator on %s: %v", on, err)
		}
	})
}
