package analyzer_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/bayagent/bayagent/drivers/analyzer"
	"github.com/bayagent/bayagent/drivers/analyzer/analyzersim"
)

// A gas analyzer opened by its address, driver and serial device (here a
// simulated NHA-506 on a pseudo-terminal): one reading, its values with
// their units.
func Example() {
	ctx := context.Background()
	r, err := analyzersim.LoadFile(filepath.Join("..", "..", "testdata", "analyzers", "nha506-before.yaml"))
	if err != nil {
		fmt.Println(err)
		return
	}
	sim, err := analyzersim.New(r, analyzersim.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	dev, stop, err := analyzersim.ServePTY(ctx, sim)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer stop()

	inst, err := analyzer.Open("nha506:"+dev, analyzer.Options{Method: analyzer.MethodRealtime})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer inst.Close()
	rd, err := inst.Read(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(rd.Instrument.Model, rd.Method)
	for _, q := range rd.Values {
		fmt.Println(strings.TrimSpace(fmt.Sprintf("%s %g %s", q.Name, q.Value, q.Unit)))
	}
	// Output:
	// NHA-506I realtime
	// hc 180 ppm
	// co 1.2 %vol
	// co2 13.1 %vol
	// o2 1.1 %vol
	// no 420 ppm
	// lambda 0.97
	// rpm 780 rpm
	// oil_temperature 85 °C
	// flow 52
}
