// Package demo runs the whole bay on one machine, with no hardware and no
// outside service.
//
// It starts an embedded MQTT broker (mochi-mqtt, TLS with a CA generated for
// the run, on a free loopback port), a simulated vehicle on an in-process CAN
// bus, a simulated NHA-506 exhaust analyzer on a pseudo-terminal, and the
// agent itself configured in code. It then drives one emission-repair job over
// MQTT commands, exactly as the shop's software and a technician's app would,
// and shows what the health-record system received: a before/after comparison,
// the health-record upload form of the closed job, and the verification of the
// sealed record chain with the device's public key. `bayagent demo` (and `make
// demo`) call Run.
//
// What is simulated, and how:
//
//   - the car is testdata/vehicles/petrol-p0420.yaml (P0420 catalyst, lean
//     P0171, misfire pending, P0700 from the gearbox). After the repair it
//     is the same simulated car right after the technician's Mode 04
//     clear: MIL off, stored and pending codes gone, the non-continuous
//     monitors incomplete again and the permanent P0420 still there until
//     the catalyst monitor passes on a drive cycle. That is what a real car
//     shows when it leaves the bay, and what the re-test station will see.
//   - the analyzer on its pty measures the exhaust of nha506-p0420.yaml
//     before the repair and of nha506-repaired.yaml after it (the simulator
//     switches readings while it serves), at the speed the car's engine
//     runs: the two-speed idle test runs before and after the repair, the
//     agent guiding a simulated technician (package techsim) who sets the
//     car's engine speed as each step asks. A procedure second lasts
//     procedureSecond, so a test takes seconds; it is the same test sample
//     for sample.
package demo

import (
	"cmp"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/bayagent/bayagent/agent"
	"github.com/bayagent/bayagent/agent/config"
	"github.com/bayagent/bayagent/agent/devicekey"
	"github.com/bayagent/bayagent/agent/embedbroker"
	"github.com/bayagent/bayagent/agent/emission/techsim"
	"github.com/bayagent/bayagent/agent/i18n"
	"github.com/bayagent/bayagent/agent/job"
	"github.com/bayagent/bayagent/agent/record"
	"github.com/bayagent/bayagent/agent/uplink"
	"github.com/bayagent/bayagent/agent/web"
	"github.com/bayagent/bayagent/drivers/analyzer"
	"github.com/bayagent/bayagent/drivers/analyzer/analyzersim"
	"github.com/bayagent/bayagent/drivers/canbus"
	"github.com/bayagent/bayagent/drivers/obd/obdsim"
)

// The demo's shop, device and job.
const (
	Shop        = "330106000123456"
	CompanyName = "杭州西湖汽车维修有限公司"
	Device      = "bay-01"
	Bay         = "bay1"
	Prefix      = "bayagent"
	JobID       = "J-DEMO-0001"
	Technician  = "T007"
	Plate       = "浙A12345"
	TestNo      = "330106202603140012"

	vehicleProfile = "petrol-p0420"
	readingsBefore = "nha506-p0420.yaml"
	readingsAfter  = "nha506-repaired.yaml"
	// procedureSecond is one second of the emission test procedure.
	procedureSecond = 10 * time.Millisecond
)

// DefaultTimeout bounds the scripted job when Options.Timeout is zero.
const DefaultTimeout = 3 * time.Minute

// Errors of Run, compared with errors.Is.
var (
	// ErrNoData: the simulator profiles (the repository's testdata) were
	// not found.
	ErrNoData = errors.New("demo: simulator data not found")
	// ErrNotVerified: the records received do not verify.
	ErrNotVerified = errors.New("demo: the record chain the health-record side received does not verify")
)

// Options configures Run. The zero value runs the demo with the embedded
// broker and prints the human report.
type Options struct {
	// Broker is an outside MQTT broker URL (tcp:// is allowed, as a
	// development setting; ssl:// verifies the broker with CAFile or the
	// system roots). Empty starts the embedded broker.
	Broker string
	// CAFile holds the CAs of an outside ssl:// broker.
	CAFile string
	// DataDir is the repository's testdata directory (vehicle profiles and
	// analyzer readings). Empty looks for testdata in the working
	// directory and its parents.
	DataDir string
	// Screen is the bay screen's listen address (default 127.0.0.1 on a
	// free port); it gets a one-time PIN, printed with its address.
	Screen string
	// KeepRunning keeps broker, simulators and agent running after the
	// script, until ctx ends, and prints how to watch them.
	KeepRunning bool
	// StateDir is the agent's state directory (key, outbox, jobs), kept
	// after the run. Empty means a new temporary directory, removed after
	// the run unless KeepState is set.
	StateDir string
	// KeepState keeps the temporary state directory.
	KeepState bool
	// JSON prints one JSON document instead of the human report: the
	// records received (each its wire line in a JSON string, byte-exact),
	// the device's public key, the upload form with the M-station
	// extension, and the verification report.
	JSON bool
	// Lang is the language of the report (and of what the scripted
	// technician types); zero means English.
	Lang i18n.Lang
	// Logger receives the agent's and the embedded broker's logs; nil
	// discards them.
	Logger *slog.Logger
	// Timeout bounds the scripted job; zero means DefaultTimeout.
	Timeout time.Duration
}

// Result is what Run found, for callers that check it.
type Result struct {
	// Closed is the job as rebuilt from the records received.
	Closed job.Closed
	// Records are the records received, in arrival order.
	Records []record.Record
	// Report is the verification of the records received.
	Report *record.Report
	// Upload is what the receiver did with the job: the device's chain as
	// it verified it, and the job's upload state with the provincial
	// system's reply.
	Upload *Upload
	// StateDir is the agent's state directory (removed after the run
	// unless it was given or KeepState is set).
	StateDir string
}

// Run runs the demo and writes its report to w. It returns an error when
// any step failed; the report then stops at that step.
func Run(ctx context.Context, w io.Writer, o Options) (res *Result, err error) {
	d := &run{o: o, log: o.Logger}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	if d.o.Timeout <= 0 {
		d.o.Timeout = DefaultTimeout
	}
	if d.data, err = findData(o.DataDir); err != nil {
		return nil, err
	}
	d.p = newPrinter(w, cmp.Or(o.Lang, i18n.English), o.JSON)
	defer func() { err = errors.Join(err, d.stop()) }()
	for _, step := range []func(context.Context) error{
		d.stateDir,      // where the agent keeps its key, outbox and jobs
		d.startBroker,   // the embedded broker, or the one given
		d.startObserver, // the health-record side's MQTT client
		d.startVehicle,  // a simulated car on an in-process CAN bus
		d.startAnalyzer, // a simulated NHA-506 on a pseudo-terminal, measuring that car
		d.startAgent,    // the agent and the receiving side
		d.runScript,     // the emission-repair job, over MQTT commands
		d.checkReceived, // what the health-record side received verifies
		d.waitUpload,    // the receiving side uploaded the closed job
		d.keepRunning,   // with --keep-running, until ctx ends
	} {
		if err := step(ctx); err != nil {
			return d.res, err
		}
	}
	return d.res, nil
}

// run is one run of the demo: what it started, and the steps that start
// and use it. stops are undone in reverse order when Run returns.
type run struct {
	o    Options
	log  *slog.Logger
	data string // testdata directory
	p    *printer
	dir  string // the agent's state directory
	res  *Result

	brk       *embedbroker.Broker // nil with an outside broker
	brokerURL string
	tlsCfg    *tls.Config // for the demo's own clients; nil for tcp://
	caFile    string
	topics    uplink.Topics
	obs       *observer

	analyzer    *analyzersim.Sim
	after       *analyzersim.Readings // what the analyzer measures after the repair
	analyzerDev string
	hub         *canbus.MemHub
	car         *obdsim.Vehicle
	engine      *obdsim.ECU         // the car's engine ECU: its engine_speed
	tech        *techsim.Technician // at the pedal during the emission tests

	cfg       *config.Config
	pin       string
	agent     *agent.Agent
	rcv       *receiving
	scriptCtx context.Context // ends with ctx, or when the agent stops

	stops []func() error
}

// onStop registers what to undo when Run returns (last registered, first
// undone).
func (d *run) onStop(f func() error) { d.stops = append(d.stops, f) }

func (d *run) stop() error {
	var errs []error
	for i := len(d.stops) - 1; i >= 0; i-- {
		errs = append(errs, d.stops[i]())
	}
	return errors.Join(errs...)
}

func (d *run) stateDir(context.Context) error {
	dir := d.o.StateDir
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "bayagent-demo-"); err != nil {
			return fmt.Errorf("demo: state directory: %w", err)
		}
		if !d.o.KeepState {
			d.onStop(func() error { return os.RemoveAll(dir) })
		}
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("demo: state directory: %w", err)
	}
	d.dir, d.res = dir, &Result{StateDir: dir}
	return nil
}

func (d *run) startBroker(context.Context) error {
	d.brokerURL, d.caFile = d.o.Broker, d.o.CAFile
	switch {
	case d.brokerURL == "":
		brk, err := embedbroker.Start(embedbroker.Options{CAFile: filepath.Join(d.dir, "demo-ca.crt"), Logger: d.log.With("part", "broker")})
		if err != nil {
			return fmt.Errorf("demo: %w", err)
		}
		d.onStop(func() error { brk.Close(); return nil })
		d.brk, d.brokerURL, d.caFile = brk, brk.URL(), brk.CAFile
		d.tlsCfg = &tls.Config{RootCAs: brk.Pool, MinVersion: tls.VersionTLS12}
	case isTLSURL(d.brokerURL):
		d.tlsCfg = &tls.Config{MinVersion: tls.VersionTLS12}
		if d.caFile != "" {
			pool, err := uplink.ReadCA(d.caFile)
			if err != nil {
				return fmt.Errorf("demo: --ca: %w", err)
			}
			d.tlsCfg.RootCAs = pool
		}
	}
	d.topics = uplink.DeviceTopics(Prefix, Shop, Device)
	return nil
}

func (d *run) startObserver(ctx context.Context) error {
	obs, err := connectObserver(ctx, d.brokerURL, d.tlsCfg, d.topics)
	if err != nil {
		return err
	}
	d.onStop(func() error { obs.Close(); return nil })
	d.obs = obs
	return nil
}

// startAnalyzer serves the car as it came in; after the repair it
// measures the after readings (script.run switches them).
func (d *run) startAnalyzer(ctx context.Context) error {
	before, after, err := analyzerReadings(d.data)
	if err != nil {
		return err
	}
	engine := analyzersim.EngineFunc(func() float64 { rpm, _ := d.engine.Live("engine_speed"); return rpm })
	sim, err := analyzersim.New(before, analyzersim.Options{Engine: engine})
	if err != nil {
		return err
	}
	dev, stopAnalyzer, err := analyzersim.ServePTY(context.WithoutCancel(ctx), sim)
	if err != nil {
		return fmt.Errorf("demo: analyzer simulator: %w", err)
	}
	d.onStop(func() error {
		if err := stopAnalyzer(); err != nil {
			return fmt.Errorf("demo: analyzer simulator: %w", err)
		}
		return nil
	})
	d.analyzer, d.after, d.analyzerDev = sim, after, dev
	return nil
}

// startVehicle puts the car at the bay before the agent starts: its first
// look finds it. It stops after the agent.
func (d *run) startVehicle(ctx context.Context) error {
	prof, err := obdsim.Load(filepath.Join(d.data, "vehicles", vehicleProfile+".yaml"))
	if err != nil {
		return err
	}
	car, err := obdsim.New(prof, obdsim.Options{})
	if err != nil {
		return err
	}
	d.hub = &canbus.MemHub{}
	stopCar := car.Start(context.WithoutCancel(ctx), d.hub.Bus(Bay))
	d.onStop(func() error {
		if err := stopCar(); err != nil {
			return fmt.Errorf("demo: vehicle simulator: %w", err)
		}
		return nil
	})
	d.car, d.engine = car, car.ECUs()[0]
	d.tech = &techsim.Technician{Set: func(rpm float64) { d.engine.SetLive("engine_speed", rpm) }}
	return nil
}

// startAgent starts the receiving side, then the agent, and waits until
// the agent and its bay screen serve.
func (d *run) startAgent(ctx context.Context) error {
	d.cfg = agentConfig(d.dir, d.brokerURL, d.caFile, d.analyzerDev, d.o.Screen)
	// The operator key that signs the demo's commands (uplink.command_keys).
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	d.cfg.Uplink.CommandKeys = []config.CommandKey{{Name: operatorKeyName, PublicKey: base64.StdEncoding.EncodeToString(pub)}}
	d.obs.operator = priv
	d.pin = web.RandomPIN(web.MinPINDigits)
	if err := web.WritePINFile(d.cfg.Screen.PINFile, d.pin, 0); err != nil {
		return fmt.Errorf("demo: screen PIN: %w", err)
	}
	a, err := agent.New(d.cfg, agent.Deps{Version: "demo", Logger: d.log.With("part", "agent"), Hub: d.hub,
		Guide: d.tech.Guide, EmissionSecond: procedureSecond})
	if err != nil {
		return fmt.Errorf("demo: agent: %w", err)
	}
	// The receiving side subscribes before the agent publishes anything.
	rcv, err := startReceiving(ctx, d.dir, d.brokerURL, d.tlsCfg, d.brk, d.log)
	if err != nil {
		a.Close()
		return err
	}
	d.onStop(func() error {
		if err := rcv.close(); err != nil {
			return fmt.Errorf("demo: receiver: %w", err)
		}
		return nil
	})
	scriptCtx, stopScript := context.WithCancelCause(ctx)
	d.onStop(func() error { stopScript(nil); return nil })
	agentCtx, stopAgent := context.WithCancel(context.WithoutCancel(ctx))
	agentDone := make(chan error, 1)
	go func() {
		err := a.Run(agentCtx)
		agentDone <- err
		stopScript(fmt.Errorf("the agent stopped: %v", err))
	}()
	d.onStop(func() error {
		stopAgent()
		if err := <-agentDone; err != nil {
			return fmt.Errorf("demo: agent: %w", err)
		}
		return nil
	})
	d.agent, d.rcv, d.scriptCtx = a, rcv, scriptCtx
	select {
	case <-a.Ready():
	case <-scriptCtx.Done():
		return fmt.Errorf("demo: agent did not start: %w", context.Cause(scriptCtx))
	}
	select {
	case <-a.Screen().Listening():
	case <-scriptCtx.Done():
		return fmt.Errorf("demo: the bay screen did not start: %w", context.Cause(scriptCtx))
	}
	d.p.setup(d.brk, d.brokerURL, d.analyzerDev, d.cfg)
	d.p.screen(a.Screen().URL(), d.pin)
	return nil
}

func (d *run) runScript(context.Context) error {
	ctx, cancel := context.WithTimeoutCause(d.scriptCtx, d.o.Timeout, fmt.Errorf("the demo script took longer than %s", d.o.Timeout))
	defer cancel()
	s := &script{obs: d.obs, p: d.p, vin: d.car.VIN(), analyzer: d.analyzer, repaired: d.after, tech: d.tech}
	if err := s.run(ctx); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	return nil
}

// checkReceived rebuilds the job from what the health-record side
// received and verifies the record chain with the device's public key.
func (d *run) checkReceived(context.Context) error {
	recs, lines, err := d.obs.records()
	if err != nil {
		return err
	}
	res := d.res
	res.Records = recs
	if res.Closed, err = job.FromRecords(recs, JobID); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	keyFile := d.cfg.Device.KeyFile + ".pub.json"
	if res.Report, err = verify(lines, keyFile); err != nil {
		return err
	}
	if err := d.p.received(res, d.topics, keyFile, lines); err != nil {
		return err
	}
	if !res.Report.OK() {
		return fmt.Errorf("%w:\n%s", ErrNotVerified, res.Report)
	}
	return nil
}

func (d *run) waitUpload(context.Context) error {
	ctx, cancel := context.WithTimeoutCause(d.scriptCtx, d.o.Timeout, fmt.Errorf("no upload within %s", d.o.Timeout))
	defer cancel()
	var err error
	d.res.Upload, err = d.rcv.waitUpload(ctx)
	if perr := d.p.uploaded(d.res.Upload, d.rcv.sim.Counts()); perr != nil {
		return perr
	}
	return err
}

// keepRunning, with Options.KeepRunning, prints how to watch the bay and
// waits until ctx ends (or the agent stops).
func (d *run) keepRunning(ctx context.Context) error {
	if !d.o.KeepRunning {
		return nil
	}
	d.p.keepRunning(d.brk, d.brokerURL, d.topics, d.dir)
	d.p.screen(d.agent.Screen().URL(), d.pin)
	<-d.scriptCtx.Done() // ctx ended, or the agent stopped
	if ctx.Err() == nil {
		return fmt.Errorf("demo: %w", context.Cause(d.scriptCtx))
	}
	d.p.line(d.p.t("stopping"))
	return nil
}

func isTLSURL(u string) bool {
	for _, s := range []string{"ssl://", "tls://", "mqtts://"} {
		if strings.HasPrefix(u, s) {
			return true
		}
	}
	return false
}

// findData returns the testdata directory: dir, or the first testdata
// directory holding the demo's vehicle profile in the working directory or
// one of its parents.
func findData(dir string) (string, error) {
	probe := func(d string) bool {
		_, err := os.Stat(filepath.Join(d, "vehicles", vehicleProfile+".yaml"))
		return err == nil
	}
	if dir != "" {
		if !probe(dir) {
			return "", fmt.Errorf("%w: %s has no vehicles/%s.yaml", ErrNoData, dir, vehicleProfile)
		}
		return dir, nil
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := wd; ; d = filepath.Dir(d) {
		if probe(filepath.Join(d, "testdata")) {
			return filepath.Join(d, "testdata"), nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("%w: no testdata/vehicles/%s.yaml in %s or its parents: run the demo in the source tree, or give the repository's testdata directory", ErrNoData, vehicleProfile, wd)
		}
	}
}

// analyzerReadings loads the before and after readings, for the same
// instrument.
func analyzerReadings(data string) (before, after *analyzersim.Readings, err error) {
	if before, err = analyzersim.LoadFile(filepath.Join(data, "analyzers", readingsBefore)); err != nil {
		return nil, nil, err
	}
	if after, err = analyzersim.LoadFile(filepath.Join(data, "analyzers", readingsAfter)); err != nil {
		return nil, nil, err
	}
	if before.Protocol != after.Protocol {
		return nil, nil, fmt.Errorf("demo: %s and %s must be readings of the same instrument", readingsBefore, readingsAfter)
	}
	return before, after, nil
}

// operatorKeyName is the name of the demo's operator key.
const operatorKeyName = "demo-operator"

// agentConfig is the agent's configuration for the demo.
func agentConfig(dir, brokerURL, caFile, analyzerDev, screen string) *config.Config {
	cfg := config.Default()
	cfg.Device.ID, cfg.Device.Shop, cfg.Device.Bay = Device, Shop, Bay
	cfg.Device.CompanyName = CompanyName
	cfg.Device.StateDir = dir
	cfg.Device.KeyFile = filepath.Join(dir, "device.key")
	cfg.Outbox.Path = filepath.Join(dir, "outbox.db")
	cfg.Vehicle.Interface = "mem:" + Bay
	cfg.Vehicle.P2 = config.Duration(300 * time.Millisecond) // generous: the simulator answers in 15 ms, but machines get busy
	cfg.Vehicle.DetectInterval = config.Duration(100 * time.Millisecond)
	cfg.Analyzer.Interface = "nha506:" + analyzerDev
	cfg.Analyzer.Method = analyzer.MethodTwoSpeedIdle
	cfg.Uplink.Broker = brokerURL
	cfg.Uplink.TopicPrefix = Prefix
	cfg.Uplink.CAFile = caFile
	cfg.Uplink.AllowPlaintext = !isTLSURL(brokerURL)
	// The bay screen, for a browser on this machine; no shop software
	// drives the jobs here, so the page may open and close them.
	cfg.Screen.Listen = cmp.Or(screen, "127.0.0.1:0")
	cfg.Screen.PINFile = filepath.Join(dir, config.DefaultPINName)
	cfg.Screen.JobActions = true
	return cfg
}

// verify checks the record lines with the device's public key file.
func verify(lines [][]byte, keyFile string) (*record.Report, error) {
	data, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("demo: device public key: %w", err)
	}
	pub, dev, err := devicekey.ParsePublic(data)
	if err != nil {
		return nil, fmt.Errorf("demo: device public key %s: %w", keyFile, err)
	}
	if dev != Device {
		return nil, fmt.Errorf("demo: device public key %s names device %q, want %q", keyFile, dev, Device)
	}
	var all []byte
	for _, l := range lines {
		all = append(append(all, l...), '\n')
	}
	return record.Verify(strings.NewReader(string(all)), record.Keys{Device: ed25519.PublicKey(pub)}), nil
}
