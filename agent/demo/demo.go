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
//   - the analyzer on its pty measures the exhaust of nha506-before.yaml
//     before the repair and of nha506-after.yaml after it (the simulator
//     switches readings while it serves). Two readings are taken in each
//     phase (the two-speed idle test's idle and high idle).
package demo

import (
	"cmp"
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"crypto/x509"
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
	readingsBefore = "nha506-before.yaml"
	readingsAfter  = "nha506-after.yaml"
	// samplesPerPhase: two-speed idle, idle then high idle.
	samplesPerPhase = 2
)

// DefaultTimeout bounds the scripted job when Options.Timeout is zero.
const DefaultTimeout = 60 * time.Second

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
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	data, err := findData(o.DataDir)
	if err != nil {
		return nil, err
	}
	p := newPrinter(w, o.JSON)

	dir := o.StateDir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "bayagent-demo-"); err != nil {
			return nil, fmt.Errorf("demo: state directory: %w", err)
		}
		if !o.KeepState {
			defer func() { err = errors.Join(err, os.RemoveAll(dir)) }()
		}
	}
	if dir, err = filepath.Abs(dir); err != nil {
		return nil, fmt.Errorf("demo: state directory: %w", err)
	}
	res = &Result{StateDir: dir}

	// The broker.
	brokerURL, tlsCfg, caFile := o.Broker, (*tls.Config)(nil), o.CAFile
	var brk *embedbroker.Broker
	if brokerURL == "" {
		if brk, err = embedbroker.Start(embedbroker.Options{CAFile: filepath.Join(dir, "demo-ca.crt"), Logger: log.With("part", "broker")}); err != nil {
			return res, fmt.Errorf("demo: %w", err)
		}
		defer brk.Close()
		brokerURL, caFile = brk.URL(), brk.CAFile
		tlsCfg = &tls.Config{RootCAs: brk.Pool, MinVersion: tls.VersionTLS12}
	} else if isTLSURL(brokerURL) {
		tlsCfg = &tls.Config{MinVersion: tls.VersionTLS12}
		if caFile != "" {
			pem, err := os.ReadFile(caFile)
			if err != nil {
				return res, fmt.Errorf("demo: --ca: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return res, fmt.Errorf("demo: --ca %s: no PEM certificate in it", caFile)
			}
			tlsCfg.RootCAs = pool
		}
	}
	t := uplink.DeviceTopics(Prefix, Shop, Device)
	obs, err := connectObserver(ctx, brokerURL, tlsCfg, t)
	if err != nil {
		return res, err
	}
	defer obs.Close()

	// The analyzer: the car as it came in; after the repair it measures
	// the after readings (script.run switches them).
	before, after, err := analyzerReadings(data)
	if err != nil {
		return res, err
	}
	sim, err := analyzersim.New(before, analyzersim.Options{})
	if err != nil {
		return res, err
	}
	dev, stopAnalyzer, err := analyzersim.ServePTY(context.WithoutCancel(ctx), sim)
	if err != nil {
		return res, fmt.Errorf("demo: analyzer simulator: %w", err)
	}
	defer func() {
		if serr := stopAnalyzer(); serr != nil {
			err = errors.Join(err, fmt.Errorf("demo: analyzer simulator: %w", serr))
		}
	}()

	hub := &canbus.MemHub{}
	// The vehicle, at the bay before the agent starts: its first look
	// finds it. It stops after the agent (deferred first).
	prof, err := obdsim.Load(filepath.Join(data, "vehicles", vehicleProfile+".yaml"))
	if err != nil {
		return res, err
	}
	car, err := obdsim.New(prof, obdsim.Options{})
	if err != nil {
		return res, err
	}
	stopCar := car.Start(context.WithoutCancel(ctx), hub.Bus(Bay))
	defer func() {
		if cerr := stopCar(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("demo: vehicle simulator: %w", cerr))
		}
	}()

	// The agent.
	cfg := agentConfig(dir, brokerURL, caFile, dev, o.Screen)
	pin := web.RandomPIN(web.MinPINDigits)
	if err := web.WritePINFile(cfg.Screen.PINFile, pin, 0); err != nil {
		return res, fmt.Errorf("demo: screen PIN: %w", err)
	}
	a, err := agent.New(cfg, agent.Deps{Version: "demo", Logger: log.With("part", "agent"), Hub: hub})
	if err != nil {
		return res, fmt.Errorf("demo: agent: %w", err)
	}
	// The receiving side subscribes before the agent publishes anything.
	rcv, err := startReceiving(ctx, dir, brokerURL, tlsCfg, brk, log)
	if err != nil {
		a.Close()
		return res, err
	}
	defer func() {
		if rerr := rcv.close(); rerr != nil {
			err = errors.Join(err, fmt.Errorf("demo: receiver: %w", rerr))
		}
	}()
	scriptCtx, stopScript := context.WithCancelCause(ctx)
	defer stopScript(nil)
	agentCtx, stopAgent := context.WithCancel(context.WithoutCancel(ctx))
	agentDone := make(chan error, 1)
	go func() {
		err := a.Run(agentCtx)
		agentDone <- err
		stopScript(fmt.Errorf("the agent stopped: %v", err))
	}()
	defer func() {
		stopAgent()
		if aerr := <-agentDone; aerr != nil {
			err = errors.Join(err, fmt.Errorf("demo: agent: %w", aerr))
		}
	}()
	select {
	case <-a.Ready():
	case <-scriptCtx.Done():
		return res, fmt.Errorf("demo: agent did not start: %w", context.Cause(scriptCtx))
	}

	select {
	case <-a.Screen().Listening():
	case <-scriptCtx.Done():
		return res, fmt.Errorf("demo: the bay screen did not start: %w", context.Cause(scriptCtx))
	}
	p.setup(brk, brokerURL, dev, cfg)
	p.screen(a.Screen().URL(), pin)

	sctx, cancel := context.WithTimeoutCause(scriptCtx, o.Timeout, fmt.Errorf("the demo script took longer than %s", o.Timeout))
	defer cancel()
	s := &script{obs: obs, p: p, vin: car.VIN(), analyzer: sim, repaired: after}
	if err := s.run(sctx); err != nil {
		return res, fmt.Errorf("demo: %w", err)
	}

	// What the health-record side received.
	recs, lines, err := obs.records()
	if err != nil {
		return res, err
	}
	res.Records = recs
	if res.Closed, err = job.FromRecords(recs, JobID); err != nil {
		return res, fmt.Errorf("demo: %w", err)
	}
	keyFile := cfg.Device.KeyFile + ".pub.json"
	if res.Report, err = verify(lines, keyFile); err != nil {
		return res, err
	}
	if err := p.received(res, t, keyFile, lines); err != nil {
		return res, err
	}
	if !res.Report.OK() {
		return res, fmt.Errorf("%w:\n%s", ErrNotVerified, res.Report)
	}
	uctx, cancelUpload := context.WithTimeoutCause(scriptCtx, o.Timeout, fmt.Errorf("no upload within %s", o.Timeout))
	defer cancelUpload()
	res.Upload, err = rcv.waitUpload(uctx)
	if perr := p.uploaded(res.Upload, rcv.sim.Counts()); perr != nil {
		return res, perr
	}
	if err != nil {
		return res, err
	}

	if o.KeepRunning {
		p.keepRunning(brk, brokerURL, t, dir)
		p.screen(a.Screen().URL(), pin)
		<-scriptCtx.Done() // ctx ended, or the agent stopped
		if ctx.Err() == nil {
			return res, fmt.Errorf("demo: %w", context.Cause(scriptCtx))
		}
		p.line("stopping")
	}
	return res, nil
}

// isTLSURL reports whether an MQTT broker URL uses TLS.
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

// analyzerReadings loads the before and after readings: samplesPerPhase
// of each, for the same instrument.
func analyzerReadings(data string) (before, after *analyzersim.Readings, err error) {
	if before, err = analyzersim.LoadFile(filepath.Join(data, "analyzers", readingsBefore)); err != nil {
		return nil, nil, err
	}
	if after, err = analyzersim.LoadFile(filepath.Join(data, "analyzers", readingsAfter)); err != nil {
		return nil, nil, err
	}
	if before.Protocol != after.Protocol || len(before.Gas) != samplesPerPhase || len(after.Gas) != samplesPerPhase {
		return nil, nil, fmt.Errorf("demo: %s and %s must hold %d gas samples each, for the same instrument", readingsBefore, readingsAfter, samplesPerPhase)
	}
	return before, after, nil
}

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
