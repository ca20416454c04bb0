package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/bayagent/bayagent/agent/findings"
	"github.com/bayagent/bayagent/agent/i18n"
	"github.com/bayagent/bayagent/agent/scan"
	"github.com/bayagent/bayagent/agent/vehicle"
	"github.com/bayagent/bayagent/cmd/internal/cli"
	"github.com/bayagent/bayagent/drivers/canbus"
	"github.com/bayagent/bayagent/drivers/elm327/elmsim"
	"github.com/bayagent/bayagent/drivers/j1939/j1939sim"
	"github.com/bayagent/bayagent/drivers/obd/obdsim"
)

func runScan(ctx context.Context, e env, args []string) error {
	fs := newFlagSet(e, "scan", "(--iface ADDRESS | --sim PROFILE) [--json] [--lang zh|en]", addressHelp(),
		"examples:\n  bayagent scan --iface elm327:/dev/ttyUSB0\n  bayagent scan --iface can:can0 --json\n"+
			"  bayagent scan --sim testdata/vehicles/petrol-p0420.yaml --via elm327   (a simulated car, no hardware)\n")
	iface := fs.String("iface", "", "vehicle interface address: "+vehicle.Schemes()+" (see below)")
	sim := fs.String("sim", "", "scan an in-process simulated vehicle from this profile (testdata/vehicles/*.yaml)")
	latency := fs.Duration("latency", 0, "with --sim: override every ECU's response latency")
	via := fs.String("via", "can", "with --sim: reach the simulated vehicle over can (in-process bus) or elm327 (an ELM327 simulator on a pseudo-terminal)")
	asJSON := fs.Bool("json", false, "print the snapshot as JSON")
	idBits := fs.Int("id-bits", 0, "CAN identifier bits, 11 or 29 (default: detect)")
	expectVIN := fs.String("vin", "", "the job's VIN: flag the snapshot when the vehicle's differs")
	p2 := fs.Duration("p2", 0, "ECU response window (default 50ms; older ECUs may need 400ms)")
	timeout := fs.Duration("timeout", 30*time.Second, "give up after this long")
	verbose := fs.Bool("v", false, "log protocol problems to stderr")
	lang := addLangFlag(fs, "the report")
	if err := fs.ParseArgs(args); err != nil {
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
		if *via != "can" && *via != "elm327" {
			return usagef("--via must be can or elm327: %q", *via)
		}
		sv, err := startSim(ctx, *sim, *via, *latency, log)
		if err != nil {
			return err
		}
		defer sv.stop()
		addr, opts.Hub, opts.IDBits, opts.Protocol = sv.addr, sv.hub, sv.idBits, sv.protocol
	}
	link, err := vehicle.Open(ctx, addr, opts)
	if err != nil {
		return err
	}
	defer link.Close()
	if _, err := link.Probe(ctx); err != nil {
		return err
	}
	snap, err := link.Scan(ctx, scan.Options{ExpectedVIN: *expectVIN, Logger: log})
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
	return findings.WriteReport(e.stdout, snap, findings.Evaluate(snap, findings.DefaultRules(), *expectVIN), *lang)
}

// simVehicle is a simulated vehicle serving a scan in this process.
type simVehicle struct {
	addr     string // the vehicle interface address to open
	hub      *canbus.MemHub
	idBits   int
	protocol string
	stop     func()
}

// startSim serves a vehicle profile on an in-process CAN bus, or as an
// ELM327 on a pseudo-terminal, until stop is called.
func startSim(ctx context.Context, path, via string, latency time.Duration, log *slog.Logger) (*simVehicle, error) {
	p, err := obdsim.Load(path)
	if err != nil {
		return nil, err
	}
	if p.Protocol == obdsim.ProtocolJ1939 {
		if via != "can" {
			return nil, usagef("a J1939 vehicle is reached over CAN only, not --via %s", via)
		}
		tp, err := j1939sim.Load(path)
		if err != nil {
			return nil, err
		}
		truck, err := j1939sim.New(tp, j1939sim.Options{})
		if err != nil {
			return nil, fmt.Errorf("profile %s: %w", path, err)
		}
		hub := &canbus.MemHub{}
		stopTruck := truck.Start(hub.Bus("sim").Connect())
		return &simVehicle{addr: "mem:sim", hub: hub, protocol: vehicle.ProtocolJ1939, stop: func() { logStop(log, stopTruck()) }}, nil
	}
	if obdsim.Legacy(p.Protocol) && via != "elm327" {
		return nil, usagef("%s: the car speaks %s, not CAN: reach it with --via elm327", path, p.Protocol)
	}
	if via == "elm327" {
		s, err := elmsim.New(p, elmsim.Options{Latency: latency, Logger: log})
		if err != nil {
			return nil, fmt.Errorf("profile %s: %w", path, err)
		}
		dev, stopPTY, err := elmsim.ServePTY(ctx, s)
		if err != nil {
			return nil, err
		}
		return &simVehicle{addr: "elm327:" + dev, stop: func() { logStop(log, stopPTY()) }}, nil
	}
	v, err := obdsim.New(p, obdsim.Options{Latency: latency, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("profile %s: %w", path, err)
	}
	hub := &canbus.MemHub{}
	stopSim := v.Start(ctx, hub.Bus("sim"))
	return &simVehicle{addr: "mem:sim", hub: hub, idBits: p.Bus.IDBits, stop: func() { logStop(log, stopSim()) }}, nil
}

func logStop(log *slog.Logger, err error) {
	if err != nil && !errors.Is(err, context.Canceled) {
		log.Error("vehicle simulator stopped", "err", err)
	}
}

// addLangFlag adds --lang (zh or en) to fs, the language of what. The
// language it points to is the flag's once fs is parsed, else the
// locale's; a value that names no language is a usage error of the parse.
func addLangFlag(fs *cli.FlagSet, what string) *i18n.Lang {
	lang := localeLang()
	fs.Func("lang", "language of "+what+": `zh` (Chinese) or en (default: the locale, LANG)", func(s string) error {
		l, err := i18n.ParseLang(s)
		if err == nil {
			lang = l
		}
		return err
	})
	return &lang
}

// localeLang is the locale's language (LC_ALL, LC_MESSAGES, LANG), else
// English.
func localeLang() i18n.Lang {
	for _, v := range []string{"LC_ALL", "LC_MESSAGES", "LANG"} {
		if s := os.Getenv(v); s != "" {
			if l, err := i18n.ParseLang(s); err == nil {
				return l
			}
			break
		}
	}
	return i18n.English
}
