package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/bayagent/bayagent/drivers/analyzer"
	"github.com/bayagent/bayagent/drivers/analyzer/analyzersim"
)

// runMeasure takes one reading from an exhaust analyzer or opacimeter, so a
// technician can check the wiring.
func runMeasure(ctx context.Context, e env, args []string) error {
	fs := newFlagSet(e, "measure", "(--iface DRIVER:DEVICE[@BAUD] | --sim READINGS.yaml) [--json]", analyzerHelp(),
		"examples:\n  bayagent measure --iface nha506:/dev/ttyUSB1\n  bayagent measure --iface nht6:/dev/ttyS0@9600 --method free_acceleration\n"+
			"  bayagent measure --sim testdata/analyzers/nha506-before.yaml   (a simulated analyzer, no hardware)\n")
	iface := fs.String("iface", "", "instrument address DRIVER:DEVICE[@BAUD], e.g. nha506:/dev/ttyUSB1 (drivers below)")
	sim := fs.String("sim", "", "serve a simulated instrument from this readings file (testdata/analyzers/*.yaml) on a pseudo-terminal and read it")
	method := fs.String("method", "", "test method stamped on gas readings (e.g. two_speed_idle); for opacimeters free_acceleration or realtime")
	asJSON := fs.Bool("json", false, "print the reading as JSON")
	timeout := fs.Duration("timeout", 5*time.Second, "give up after this long")
	if err := fs.ParseArgs(args); err != nil {
		return err
	}
	if (*iface == "") == (*sim == "") {
		return usagef("give exactly one of --iface or --sim")
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	if *method != "" && !slices.Contains(analyzer.Methods(), *method) {
		return usagef("--method %q: want one of %s", *method, strings.Join(analyzer.Methods(), ", "))
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	log := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))

	addr := *iface
	if *sim != "" {
		r, err := analyzersim.LoadFile(*sim)
		if err != nil {
			return err
		}
		s, err := analyzersim.New(r, analyzersim.Options{})
		if err != nil {
			return fmt.Errorf("readings %s: %w", *sim, err)
		}
		path, stop, err := analyzersim.ServePTY(ctx, s)
		if err != nil {
			return err
		}
		defer stop()
		addr = r.Protocol + ":" + path
	}
	inst, err := analyzer.Open(addr, analyzer.Options{Method: *method, Logger: log})
	if err != nil {
		return err
	}
	defer inst.Close()
	rd, err := inst.Read(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rd)
	}
	return writeReading(e, rd)
}

func writeReading(e env, rd analyzer.Reading) error {
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "%s on %s (%s), %s\n", rd.Instrument.Model, rd.Instrument.Port, rd.Instrument.Protocol, rd.Method)
	for _, q := range rd.Values {
		fmt.Fprintf(tw, "  %s\t%g\t%s\n", q.Name, q.Value, q.Unit)
	}
	if len(rd.Status) > 0 {
		fmt.Fprintf(tw, "  status\t%s\n", strings.Join(rd.Status, ", "))
	}
	return tw.Flush()
}
