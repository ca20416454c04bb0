package agent_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/bayagent/bayagent/drivers/analyzer/analyzersim"
	"github.com/bayagent/bayagent/drivers/elm327/elmsim"
	"github.com/bayagent/bayagent/drivers/obd/obdsim"
)

// vehicleProfile is the path of testdata/vehicles/NAME.yaml.
func vehicleProfile(name string) string {
	return filepath.Join("..", "testdata", "vehicles", name+".yaml")
}

// elmPTY serves the vehicle profile NAME behind an ELM327 simulator on a
// pseudo-terminal until the test ends; it returns the device, the
// simulator and the profile.
func elmPTY(tb testing.TB, name string, o elmsim.Options) (string, *elmsim.Sim, *obdsim.Profile) {
	tb.Helper()
	p, err := obdsim.Load(vehicleProfile(name))
	if err != nil {
		tb.Fatal(err)
	}
	sim, err := elmsim.New(p, o)
	if err != nil {
		tb.Fatal(err)
	}
	dev, stop, err := elmsim.ServePTY(context.Background(), sim)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { stop() })
	return dev, sim, p
}

// analyzerPTY serves the readings file testdata/analyzers/FILE on a
// pseudo-terminal until the test ends, speaking protocol (the file's own
// when empty); it returns the device.
func analyzerPTY(tb testing.TB, file, protocol string) string {
	tb.Helper()
	readings, err := analyzersim.LoadFile(filepath.Join("..", "testdata", "analyzers", file))
	if err != nil {
		tb.Fatal(err)
	}
	if protocol != "" {
		readings.Protocol = protocol
	}
	sim, err := analyzersim.New(readings, analyzersim.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	dev, stop, err := analyzersim.ServePTY(context.Background(), sim)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { stop() })
	return dev
}
