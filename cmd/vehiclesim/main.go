// Command vehiclesim serves a simulated vehicle for the agent or a scan tool
// to talk to.
//
// The vehicle is described by a YAML profile (testdata/vehicles/) and served
// on a CAN bus, as an ELM327 adapter, or with analyzers, as to a real car:
//
//	vehiclesim --profile testdata/vehicles/petrol-p0420.yaml --iface udp:239.64.142.206:20000
//	vehiclesim --profile testdata/vehicles/petrol-29bit.yaml --iface can:vcan0 --latency 10ms
//	vehiclesim --profile testdata/vehicles/petrol-p0420.yaml --elm327 --baud 38400
//	vehiclesim --profile testdata/vehicles/petrol-iso9141.yaml --elm327 --personality clone
//	vehiclesim --profile testdata/vehicles/petrol-p0420.yaml --elm327 --tcp 127.0.0.1:35000
//	vehiclesim --profile testdata/vehicles/diesel-truck-j1939.yaml --iface udp:239.64.142.206:20000
//	vehiclesim --analyzer testdata/analyzers/nha506-before.yaml [--profile ... --iface ...]
//
// Each ECU of the profile is its own node on the bus, answering OBD-II
// requests over ISO-TP. The udp: bus (einride's emulator, kept on the
// loopback interface) lets the agent run as another process; can:vcan0 uses
// a virtual SocketCAN interface. With --elm327 the vehicle sits behind a
// simulated ELM327 adapter on a pseudo-terminal instead (drivers/elm327/elmsim),
// whose device path is printed; --baud paces its output like a serial line,
// --personality plays an adapter found in the field (refuses-batches,
// first-pid-only, clone, slow-ecu, stn, real-timing), and --tcp serves it on
// a TCP listener instead, as a Wi-Fi dongle. A K-line or J1850 car (protocol
// iso9141, kwp_5baud, kwp_fast, j1850_vpw, j1850_pwm) is served this way only.
// A J1939 profile (protocol: j1939) is a truck on the bus (drivers/j1939/j1939sim).
// Each --analyzer serves a simulated exhaust analyzer or opacimeter from a
// readings file (testdata/analyzers/) on a pseudo-terminal beside the
// vehicle, and prints its device path.
// SIGINT or SIGTERM stops it cleanly; a second signal kills it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/bayagent/bayagent/drivers/analyzer/analyzersim"
	"github.com/bayagent/bayagent/drivers/canbus"
	"github.com/bayagent/bayagent/drivers/elm327/elmsim"
	"github.com/bayagent/bayagent/drivers/j1939/j1939sim"
	"github.com/bayagent/bayagent/drivers/obd/obdsim"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop() // a second signal gets the default behaviour: exit at once
	}()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
	case errors.Is(err, errUsage):
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "vehiclesim:", err)
		os.Exit(1)
	}
}

// errUsage marks bad command-line arguments; the flag package has already
// printed the problem and the usage.
var errUsage = errors.New("usage")

// config is the parsed command line.
type config struct {
	analyzers []string
	profile   string
	iface     string
	latency   time.Duration
	verbose   bool
	elm327    bool
	baud      int
	tcp       string
	persona   string
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("vehiclesim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.profile, "profile", "", "vehicle profile `FILE` (YAML, see testdata/vehicles)")
	fs.StringVar(&c.iface, "iface", "", "bus `ADDRESS`: udp:239.64.142.206:20000 or can:vcan0")
	fs.DurationVar(&c.latency, "latency", 0, "answer latency of every ECU, replacing the profile's (0 keeps the profile's)")
	fs.BoolVar(&c.verbose, "v", false, "log ISO-TP details (debug level)")
	fs.BoolVar(&c.elm327, "elm327", false, "serve as an ELM327 adapter on a pseudo-terminal instead of on a bus")
	fs.IntVar(&c.baud, "baud", 0, "with --elm327: pace the adapter's output to this baud `RATE` (0: no pacing)")
	fs.StringVar(&c.tcp, "tcp", "", "with --elm327: serve on this TCP `ADDRESS` (host:port) as a Wi-Fi adapter instead of on a pseudo-terminal")
	fs.StringVar(&c.persona, "personality", "", "with --elm327: play this adapter `NAME`: "+strings.Join(elmsim.Personalities(), ", "))
	fs.Func("analyzer", "serve a simulated analyzer from this readings `FILE` (testdata/analyzers) on a pseudo-terminal; repeatable", func(s string) error {
		c.analyzers = append(c.analyzers, s)
		return nil
	})
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: vehiclesim --profile FILE --iface ADDRESS [--latency 10ms] [-v]")
		fmt.Fprintln(fs.Output(), "       vehiclesim --profile FILE --elm327 [--baud 38400 | --tcp HOST:PORT] [--personality NAME] [--latency 10ms] [-v]")
		fmt.Fprintln(fs.Output(), "       vehiclesim --analyzer READINGS [--analyzer READINGS]... [--profile FILE (--iface ADDRESS | --elm327)]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return c, err
		}
		return c, fmt.Errorf("%w: %w", errUsage, err)
	}
	bad := func(format string, args ...any) (config, error) {
		msg := fmt.Sprintf(format, args...)
		fmt.Fprintln(stderr, "vehiclesim:", msg)
		fs.Usage()
		return c, fmt.Errorf("%w: %s", errUsage, msg)
	}
	switch {
	case c.profile == "" && len(c.analyzers) == 0:
		return bad("missing --profile")
	case c.profile == "" && (c.iface != "" || c.elm327):
		return bad("--iface and --elm327 need --profile")
	case c.profile == "":
		return c, nil // analyzers only
	case c.elm327 && c.iface != "":
		return bad("--elm327 and --iface exclude each other")
	case !c.elm327 && c.iface == "":
		return bad("missing --iface")
	case c.baud < 0:
		return bad("--baud must not be negative")
	case c.baud != 0 && !c.elm327:
		return bad("--baud needs --elm327")
	case (c.tcp != "" || c.persona != "") && !c.elm327:
		return bad("--tcp and --personality need --elm327")
	case c.tcp != "" && c.baud != 0:
		return bad("--baud paces a serial line; a TCP listener has none")
	case fs.NArg() > 0:
		return bad("unexpected argument %q", fs.Arg(0))
	case strings.HasPrefix(c.iface, "replay:"):
		return bad("--iface %s: a replay: bus is read-only, and a vehicle must answer", c.iface)
	case c.latency < 0:
		return bad("--latency must not be negative")
	}
	return c, nil
}

// run is the whole command: it returns when ctx ends (nil) or on the first
// error.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return runOn(ctx, args, stdout, stderr, nil)
}

// runOn is run with the hub that mem: addresses name; with a nil hub, mem:
// addresses are refused (an in-process bus is useless to other processes).
func runOn(ctx context.Context, args []string, stdout, stderr io.Writer, hub *canbus.MemHub) error {
	c, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	level := slog.LevelInfo
	if c.verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	for _, file := range c.analyzers {
		stop, err := serveAnalyzer(ctx, file, stdout, log)
		if err != nil {
			return err
		}
		defer stop()
	}
	if c.profile == "" {
		<-ctx.Done()
		return nil
	}
	p, err := obdsim.Load(c.profile)
	if err != nil {
		return err
	}
	if p.Protocol == obdsim.ProtocolJ1939 {
		if c.elm327 {
			return fmt.Errorf("%s is a J1939 vehicle: an ELM327 does not speak J1939, give --iface", c.profile)
		}
		return serveJ1939(ctx, c, hub, stdout, log)
	}
	if c.elm327 {
		return serveELM327(ctx, c, p, stdout, log)
	}
	if obdsim.Legacy(p.Protocol) {
		return fmt.Errorf("%s speaks %s, not CAN: serve it with --elm327", c.profile, p.Protocol)
	}
	v, err := obdsim.New(p, obdsim.Options{Latency: c.latency, Logger: log})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "vehiclesim: %s (VIN %s, ECUs %s) on %s\n", v.Name(), v.VIN(), ecuList(v), c.iface)

	// Every scheme canbus.Open knows carries ISO-TP; the ELM327 on a pty
	// was chosen above (serveELM327).
	opts := canbus.Options{Hub: hub, Logger: log}
	open := func() (canbus.Conn, error) { return canbus.Open(ctx, c.iface, opts) }
	if err := v.ServeCAN(ctx, open); err != nil {
		return err
	}
	log.Info("stopped")
	return nil
}

// serveELM327 serves the vehicle behind a simulated ELM327 on a
// pseudo-terminal until ctx ends, printing the device path.
func serveELM327(ctx context.Context, c config, p *obdsim.Profile, stdout io.Writer, log *slog.Logger) error {
	so, err := elmsim.Personality(c.persona)
	if err != nil {
		return err
	}
	if c.latency > 0 {
		so.Latency = c.latency
	}
	so.Baud, so.Logger = c.baud, log
	sim, err := elmsim.New(p, so)
	if err != nil {
		return err
	}
	if c.tcp != "" {
		return serveELM327TCP(ctx, c, p, sim, stdout, log)
	}
	path, stop, err := elmsim.ServePTY(ctx, sim)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "vehiclesim: %s (VIN %s, ECUs %s) as ELM327 on %s\n", p.Name, p.VIN, ecuList(sim.Vehicle()), path)
	log.Info("ELM327 on a pseudo-terminal", "device", path, "baud", c.baud)
	return untilDone(ctx, stop, log)
}

// serveELM327TCP serves the adapter on a TCP listener until ctx ends,
// printing its address.
func serveELM327TCP(ctx context.Context, c config, p *obdsim.Profile, sim *elmsim.Sim, stdout io.Writer, log *slog.Logger) error {
	addr, stop, err := elmsim.ServeTCP(ctx, sim, c.tcp)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "vehiclesim: %s (VIN %s) as a Wi-Fi ELM327 on tcp://%s\n", p.Name, p.VIN, addr)
	log.Info("ELM327 on TCP", "address", addr, "personality", c.persona)
	return untilDone(ctx, stop, log)
}

// serveJ1939 serves a J1939 truck profile on the bus until ctx ends.
func serveJ1939(ctx context.Context, c config, hub *canbus.MemHub, stdout io.Writer, log *slog.Logger) error {
	tp, err := j1939sim.Load(c.profile)
	if err != nil {
		return err
	}
	truck, err := j1939sim.New(tp, j1939sim.Options{Logger: log})
	if err != nil {
		return err
	}
	conn, err := canbus.Open(ctx, c.iface, canbus.Options{Hub: hub, Logger: log})
	if err != nil {
		return err
	}
	defer conn.Close()
	stop := truck.Start(conn)
	fmt.Fprintf(stdout, "vehiclesim: %s (J1939) on %s\n", tp.Name, c.iface)
	return untilDone(ctx, stop, log)
}

// untilDone serves until ctx ends, then stops the simulator (its error is
// the command's) and logs that it stopped.
func untilDone(ctx context.Context, stop func() error, log *slog.Logger) error {
	<-ctx.Done()
	if err := stop(); err != nil {
		return err
	}
	log.Info("stopped")
	return nil
}

// ecuList names the vehicle's ECUs for the start-up line: "7E8 7E9".
func ecuList(v *obdsim.Vehicle) string {
	var ecus []string
	for _, e := range v.ECUs() {
		ecus = append(ecus, e.Address().String())
	}
	return strings.Join(ecus, " ")
}

// serveAnalyzer serves a simulated analyzer from a readings file on a
// pseudo-terminal and prints how to read it.
func serveAnalyzer(ctx context.Context, file string, stdout io.Writer, log *slog.Logger) (stop func() error, err error) {
	r, err := analyzersim.LoadFile(file)
	if err != nil {
		return nil, err
	}
	sim, err := analyzersim.New(r, analyzersim.Options{Logger: log})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	path, stop, err := analyzersim.ServePTY(ctx, sim)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(stdout, "vehiclesim: analyzer %s (%s) on %s: bayagent measure --iface %s:%s\n", r.Protocol, file, path, r.Protocol, path)
	return stop, nil
}
