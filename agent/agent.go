// Package agent is the bay agent daemon. It wires the configured vehicle
// interface, exhaust analyzer, bay button and lights, job manager, durable
// outbox and MQTT uplink, and runs them until its context ends.
//
// What it does on its own: it watches for a vehicle (Probe every
// vehicle.detect_interval); when one appears it takes a snapshot and
// attaches it to the bay's open job (phase from the job's state), or
// records it as an intake scan when no job is open; when the vehicle stops
// answering it records that it left. A press on the bay button takes a
// snapshot and, with an analyzer, a reading. Everything else arrives as
// commands on the MQTT command topic (see Command).
//
// Every record is stored (the outbox's bbolt commit) before the agent
// reports it anywhere: the stored light, the log, a command's reply.
//
// Shutdown, on the end of Run's context, in this order: the vehicle
// watcher, the button, the bay screen and the live feed stop (a running
// command sees its context end); the uplink publishes what is in flight for
// up to its shutdown timeout, answers waiting commands, publishes
// "offline" and disconnects; the bay's lights go off; the outbox closes,
// committing queued appends. Job files need no closing: each change is
// written when it is made.
package agent

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bayagent/bayagent/agent/clock"
	"github.com/bayagent/bayagent/agent/config"
	"github.com/bayagent/bayagent/agent/devicekey"
	"github.com/bayagent/bayagent/agent/emission"
	"github.com/bayagent/bayagent/agent/findings"
	"github.com/bayagent/bayagent/agent/i18n"
	"github.com/bayagent/bayagent/agent/job"
	"github.com/bayagent/bayagent/agent/outbox"
	"github.com/bayagent/bayagent/agent/record"
	"github.com/bayagent/bayagent/agent/uplink"
	"github.com/bayagent/bayagent/agent/web"
	"github.com/bayagent/bayagent/drivers/analyzer"
	"github.com/bayagent/bayagent/drivers/bayio"
	"github.com/bayagent/bayagent/drivers/canbus"
)

// Deps are what the agent takes from its surroundings rather than from the
// configuration: tests and the demo set them; the daemon uses the defaults.
type Deps struct {
	// Version is reported in the status.
	Version string
	// Logger; nil discards.
	Logger *slog.Logger
	// Hub holds in-process CAN buses for a mem: vehicle interface.
	Hub *canbus.MemHub
	// Pins are the bay's button and lights. Nil: opened from the
	// configuration's pin names on the host (none when no name is set).
	Pins *bayio.Pins
	// AnalyzerDrivers are vendor analyzer drivers (see analyzer.Options).
	AnalyzerDrivers []analyzer.Driver
	// Now gives the time; nil means time.Now.
	Now func() time.Time
	// Clock tells whether the wall clock is synchronised, the boot and the
	// time since boot; nil means the system's (package clock) with Now.
	Clock *clock.Clock
	// ClockPoll is how often the agent looks for the clock's first
	// synchronisation in this boot; 0 means DefaultClockPoll.
	ClockPoll time.Duration
	// EmissionSecond is the length of one second of an emission test
	// procedure; zero is time.Second. The demo and tests shorten it: the
	// procedure is the same sample for sample.
	EmissionSecond time.Duration
	// AnalyzerPoll is how often the idle analyzer is asked its state (for
	// the status: warming up, ready); zero is DefaultAnalyzerPoll.
	AnalyzerPoll time.Duration
	// Guide, when set, sees every progress of a running emission test
	// besides the buzzer and the status (the demo's simulated technician).
	// It is called from the test's goroutine and must not block for long.
	Guide func(emission.Progress)
}

// Agent is the daemon. Create it with New, run it with Run.
type Agent struct {
	cfg  *config.Config
	deps Deps
	log  *slog.Logger
	now  func() time.Time
	bay  string // the bay label used for jobs

	key   ed25519.PrivateKey
	chain *devicekey.ChainFile
	clock *clock.Clock
	// clockMu orders the clock readings of sealed records and of the
	// clock watch (see sealClock).
	clockMu      sync.Mutex
	clockTracker *clock.Tracker // the readings' sync of this boot
	sealUnsynced bool           // a record of this process was sealed unsynchronised
	box          *outbox.Outbox
	jobs         *job.Manager
	up           *uplink.Uplink
	// rules is the I/M pre-check rule set (precheck in the configuration).
	rules findings.Rules
	// inst is the analyzer's day (last zero, leak check) and the running
	// emission test.
	inst *instrument
	// screen is the bay screen, nil when screen.listen is not set.
	screen *web.Server
	io     *bayio.Bay // nil when no pin is fitted

	ready chan struct{}

	// vehicle is the connected vehicle, nil when none (guarded by mu).
	mu      sync.Mutex
	vehicle *connected
	live    *liveFeed
	// liveFeeds are the live feeds' goroutines, one running at a time;
	// Run waits for them (a stopped feed may still be ending).
	liveFeeds sync.WaitGroup
	lastErr   web.Problem // the status's last_error; its message is the English one on the wire
	fault     bool

	stored atomic.Int64 // records stored since start
}

// New opens what the agent keeps on disk (device key, outbox, jobs) and
// prepares the uplink; nothing runs before Run. Close what New opened with
// Run, or with Close when Run is never called.
func New(cfg *config.Config, deps Deps) (*Agent, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := deps.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	if deps.Clock == nil {
		deps.Clock = clock.New(clock.Options{Wall: deps.Now})
	}
	if deps.ClockPoll <= 0 {
		deps.ClockPoll = DefaultClockPoll
	}
	a := &Agent{
		cfg:   cfg,
		deps:  deps,
		log:   log,
		now:   deps.Now,
		clock: deps.Clock,
		bay:   cfg.Device.Bay,
		ready: make(chan struct{}),
	}
	if a.bay == "" {
		a.bay = "1"
	}
	if err := makeDir(cfg.Device.StateDir); err != nil {
		return nil, fmt.Errorf("agent: state directory: %w", err)
	}
	stored, err := hasStored(cfg)
	if err != nil {
		return nil, err
	}
	key, chain, created, err := devicekey.Open(cfg.Device.KeyFile, cfg.Device.ID, stored)
	if err != nil {
		return nil, err
	}
	a.key, a.chain = key, chain
	a.clockTracker = clock.NewTracker(chain.Get().ClockSyncBoot)
	if created {
		log.Info("generated the device key", "file", cfg.Device.KeyFile)
	}
	if err := writePublicKey(cfg, key.Public().(ed25519.PublicKey)); err != nil {
		return nil, err
	}
	sealer, err := record.NewSealer(record.SealerConfig{Key: key, Device: cfg.Device.ID, Shop: cfg.Device.Shop, Now: deps.Now,
		Clock: a.sealClock})
	if err != nil {
		return nil, err
	}
	bo := cfg.OutboxOptions()
	bo.Sealer, bo.Logger, bo.Chain = sealer, log.With("part", "outbox"), chain
	if a.box, err = outbox.Open(cfg.Outbox.Path, bo); err != nil {
		return nil, err
	}
	if err := checkSigner(a.box, key, chain.Get()); err != nil {
		a.box.Close()
		return nil, err
	}
	a.rules = cfg.Precheck.Rules()
	emCfg, err := cfg.EmissionConfig()
	if err != nil {
		a.box.Close()
		return nil, err
	}
	if a.inst, err = newInstrument(cfg.Device.StateDir, cfg.Analyzer.Interface, emCfg); err != nil {
		log.Warn("analyzer state", "err", err)
	}
	a.jobs, err = job.Open(jobsDir(cfg), job.Options{
		Emit:   a.emit,
		Assess: a.assess,
		Logger: log.With("part", "jobs"),
		Now:    deps.Now,
		// The clock as the records have it (every record carries it).
		ClockSynced: func() bool { return a.clock.Synced() },
	})
	if err != nil {
		a.box.Close()
		return nil, err
	}
	if err := a.recoverJobs(); errors.Is(err, job.ErrStateNotSaved) {
		log.Error("open jobs brought up to their records, but not saved: their bays are stopped until they are", "err", err)
	} else if err != nil {
		a.alarm(i18n.M("agent.jobs_not_recovered"), err)
	}
	uo := cfg.UplinkOptions()
	uo.Status = a.status
	uo.Authorise = a.authoriser()
	if a.up, err = uplink.New(uo, &queue{box: a.box}, a, log.With("part", "uplink")); err != nil {
		a.box.Close()
		return nil, err
	}
	if so := cfg.ScreenOptions(); so != nil {
		so.Logger, so.Now = log.With("part", "screen"), deps.Now
		if a.screen, err = web.New(*so, screenAgent{a}); err != nil {
			a.box.Close()
			return nil, err
		}
	}
	return a, nil
}

// Ready is closed once Run has started every part and the agent serves.
func (a *Agent) Ready() <-chan struct{} { return a.ready }

// Run runs the agent until ctx ends, then shuts down in the documented
// order and returns. It returns an error when a part cannot start.
func (a *Agent) Run(ctx context.Context) (err error) {
	defer func() { err = errors.Join(err, a.closeStores()) }()
	if err := a.openBay(); err != nil {
		return err
	}
	defer a.haltBay()

	var wg sync.WaitGroup
	upCtx, stopUplink := context.WithCancel(context.Background())
	defer stopUplink()
	upDone := make(chan struct{})
	go func() {
		defer close(upDone)
		_ = a.up.Run(upCtx) // nil once upCtx ends: New checked its options, and Run is called once
	}()

	workCtx, stopWork := context.WithCancel(ctx)
	defer stopWork()
	wg.Go(func() { a.watchVehicle(workCtx) })
	wg.Go(func() { a.watchButton(workCtx) })
	wg.Go(func() { a.watchUplink(workCtx) })
	wg.Go(func() { a.watchJobs(workCtx) })
	wg.Go(func() { a.runScreen(workCtx) })
	wg.Go(func() { a.watchClock(workCtx) })
	wg.Go(func() { a.watchAnalyzer(workCtx) })

	a.setLights()
	close(a.ready)
	a.log.Info("agent ready", "device", a.cfg.Device.ID, "vehicle", a.cfg.Vehicle.Interface, "broker", a.cfg.Uplink.Broker)

	<-ctx.Done()
	a.log.Info("agent stopping")
	stopWork()
	a.stopLive("agent stopping")
	wg.Wait()
	a.liveFeeds.Wait()
	stopUplink() // the uplink's own shutdown: flush in flight, offline, disconnect
	<-upDone
	return nil
}

// Close releases what New opened, for an agent whose Run was never called.
func (a *Agent) Close() error { return a.closeStores() }

func (a *Agent) closeStores() error {
	return errors.Join(a.box.Close())
}

// emit seals an event and stores it; it returns once the record is durable.
// It is the job manager's Emit and the path of every other record.
func (a *Agent) emit(ctx context.Context, ev job.Event) error {
	// A record that was asked for is stored even when the asker went away:
	// the caller's ctx bounds only the wait for the writer.
	rec, err := a.box.Append(context.WithoutCancel(ctx), ev.Kind, ev.Job, ev.Body)
	if err != nil {
		if errors.Is(err, outbox.ErrFull) {
			a.alarm(i18n.M("agent.outbox_full"), err)
		}
		return err
	}
	a.stored.Add(1)
	a.log.Info("record stored", "seq", rec.Seq, "kind", rec.Kind, "job", rec.Job)
	a.screen.Record(rec)
	if a.io != nil {
		a.io.Stored()
	}
	a.up.NotifyStatus()
	return nil
}

// alarm records a fault for the status and the fault light. msg is an
// "agent." message of package i18n: the bay screen shows it in the
// reader's language, the log and the status in English.
func (a *Agent) alarm(msg i18n.Message, err error) {
	a.log.Error(msg.In(i18n.English), "err", err)
	a.mu.Lock()
	a.lastErr = web.Problem{Message: msg, Detail: err.Error()}
	a.fault = true
	a.mu.Unlock()
	a.setLights()
}

// noteErr logs an error and remembers it for the status, without a fault.
func (a *Agent) noteErr(msg i18n.Message, err error) {
	a.log.Warn(msg.In(i18n.English), "err", err)
	a.setLastErr(msg, err)
}

// setLastErr remembers the last error for the status.
func (a *Agent) setLastErr(msg i18n.Message, err error) {
	a.mu.Lock()
	a.lastErr = web.Problem{Message: msg, Detail: err.Error()}
	a.mu.Unlock()
}

// lastError is the last error as the status message has it:
// "<message>: <error>" in English; "" when there was none.
func lastError(p web.Problem) string {
	if p.Message.Key == "" {
		return ""
	}
	return p.Message.In(i18n.English) + ": " + p.Detail
}
