package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/bayagent/bayagent/agent/scan"
	"github.com/bayagent/bayagent/agent/vehicle"
	"github.com/bayagent/bayagent/drivers/canbus"
	"github.com/bayagent/bayagent/drivers/obd/obdsim"
)

func runScan(ctx context.Context, e env, args []string) error {
	fs := newFlagSet(e, "scan", "(--iface ADDRESS | --sim PROFILE) [--json]")
	iface := fs.String("iface", "", "vehicle interface: can:can0, udp:239.64.142.206:20000, mem:NAME")
	sim := fs.String("sim", "", "scan an in-process simulated vehicle from this profile (testdata/vehicles/*.yaml)")
	latency := fs.Duration("latency", 0, "with --sim: override every ECU's response latency")
	asJSON := fs.Bool("json", false, "print the snapshot as JSON")
	idBits := fs.Int("id-bits", 0, "CAN identifier bits, 11 or 29 (default: detect)")
	expectVIN := fs.String("vin", "", "the job's VIN: flag the snapshot when the vehicle's differs")
	p2 := fs.Duration("p2", 0, "ECU response window (default 50ms; older ECUs may need 400ms)")
	timeout := fs.Duration("timeout", 30*time.Second, "give up after this long")
	verbose := fs.Bool("v", false, "log protocol problems to stderr")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if (*iface == "") == (*sim == "") {
		return usagef("give exactly one of --iface or --sim")
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	level := slog.LevelError
	if *verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: level}))

	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()

	addr := *iface
	opts := vehicle.Options{IDBits: *idBits, P2: *p2, Logger: log}
	if *sim != "" {
		stop, hub, bits, err := startSim(ctx, *sim, *latency, log)
		if err != nil {
			return err
		}
		defer stop()
		addr, opts.Hub, opts.IDBits = "mem:sim", hub, bits
	}
	link, err := vehicle.Open(ctx, addr, opts)
	if err != nil {
		return err
	}
	defer link.Close()
	snap, err := scan.Scan(ctx, link, scan.Options{ExpectedVIN: *expectVIN, Protocol: link.Protocol, Logger: log})
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("scan did not finish within %s: %w", *timeout, err)
	}
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(snap)
	}
	return scan.WriteReport(e.stdout, snap)
}

// startSim serves a vehicle profile on an in-process bus and returns a stop
// function that ends the simulator and waits for it.
func startSim(ctx context.Context, path string, latency time.Duration, log *slog.Logger) (stop func(), hub *canbus.MemHub, idBits int, err error) {
	p, err := obdsim.Load(path)
	if err != nil {
		return nil, nil, 0, err
	}
	v, err := obdsim.New(p, obdsim.Options{Latency: latency, Logger: log})
	if err != nil {
		return nil, nil, 0, fmt.Errorf("profile %s: %w", path, err)
	}
	hub = &canbus.MemHub{}
	stopSim := v.Start(ctx, hub.Bus("sim"))
	stop = func() {
		if err := stopSim(); err != nil {
			log.Error("vehicle simulator stopped", "err", err)
		}
	}
	return stop, hub, p.Bus.IDBits, nil
}
