package agent_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/bayagent/bayagent/drivers/analyzer/analyzersim"
	"github.com/bayagent/bayagent/drivers/elm327/elmsim"
	"github.com/bayagent/bayagent/drivers/elm327/elmsim/elmsimtest"
)

// vehicleProfile is the path of testdata/vehicles/NAME.yaml.
func vehicleProfile(name string) string {
	return filepath.Join("..", "testdata", "vehicles", name+".yaml")
}

// elmPTY serves the vehicle profile NAME behind an ELM327 simulator on a
// pseudo-terminal until the test ends; it returns the device and the
// simulator.
func elmPTY(tb testing.TB, name string, o elmsim.Options) (string, *elmsim.Sim) {
	tb.Helper()
	sim := elmsimtest.Load(tb, vehicleProfile(name), o)
	return elmsimtest.PTY(tb, sim), sim
}

// loadReadings loads the readings file testdata/analyzers/FILE.
func loadReadings(tb testing.TB, file string) *analyzersim.Readings {
	tb.Helper()
	r, err := analyzersim.LoadFile(filepath.Join("..", "testdata", "analyzers", file))
	if err != nil {
		tb.Fatal(err)
	}
	return r
}

// analyzerPTY serves the readings file testdata/analyzers/FILE on a
// pseudo-terminal until the test ends, speaking protocol (the file's own
// when empty); it returns the device.
func analyzerPTY(tb testing.TB, file, protocol string) string {
	tb.Helper()
	readings := loadReadings(tb, file)
	if protocol != "" {
		readings.Protocol = protocol
	}
	dev, _ := servePTY(tb, readings, analyzersim.Options{})
	return dev
}

// servePTY serves a simulated instrument reporting r on a pseudo-terminal
// until the test ends; it returns the device and the simulator.
func servePTY(tb testing.TB, r *analyzersim.Readings, o analyzersim.Options) (string, *analyzersim.Sim) {
	tb.Helper()
	sim, err := analyzersim.New(r, o)
	if err != nil {
		tb.Fatal(err)
	}
	dev, stop, err := analyzersim.ServePTY(context.Background(), sim)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { stop() })
	return dev, sim
}
