package agent

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/bayagent/bayagent/agent/command"
	"github.com/bayagent/bayagent/agent/emission"
	"github.com/bayagent/bayagent/agent/job"
	"github.com/bayagent/bayagent/drivers/analyzer"
	"github.com/bayagent/bayagent/drivers/bayio"
	"github.com/bayagent/bayagent/drivers/obd"
)

// ErrAnalyzerBusy: the analyzer was in use (a test ran) until the action
// gave up; it was not started.
var ErrAnalyzerBusy = errors.New("agent: the analyzer is busy (an emission test runs)")

// testPIDs are the OBD live data sampled beside the gas values of an
// emission test, one Mode 01 request: engine speed, load, throttle,
// vehicle speed, commanded lambda, coolant temperature.
var testPIDs = []obd.PID{0x0C, 0x04, 0x11, 0x0D, 0x44, 0x05}

// instrument is what the agent knows of the analyzer's day (last zero and
// leak check, kept in <state_dir>/analyzer-state.json across restarts, and
// what it reported last) and the emission test that runs, if one does.
type instrument struct {
	path string
	cfg  emission.Config

	busy chan struct{} // holds a token while someone uses the analyzer's port

	mu      sync.Mutex
	st      emission.InstrumentState
	hasLeak bool
	running *emission.Progress
	loaded  time.Time // modification time of the day file last read or written
}

func newInstrument(stateDir, iface string, cfg emission.Config) (*instrument, error) {
	in := &instrument{path: filepath.Join(stateDir, emission.DayFile), cfg: cfg, busy: make(chan struct{}, 1)}
	if addr, err := analyzer.ParseAddress(iface); err == nil {
		in.st.Instrument = analyzer.InstrumentID{Protocol: addr.Driver, Port: addr.Port}
	}
	d, err := emission.LoadDay(in.path)
	if err != nil {
		// Not worth stopping the bay for: the zero and leak check are due again.
		return in, fmt.Errorf("agent: analyzer state, starting afresh: %w", err)
	}
	in.st.LastZero, in.st.LastLeakCheck = d.LastZero, d.LastLeakCheck
	return in, nil
}

// state returns the instrument's state as of now. A day file changed
// by someone else (`bayagent measure --leak-check` beside the agent) is
// read again.
func (in *instrument) state(now time.Time) emission.InstrumentState {
	in.mu.Lock()
	defer in.mu.Unlock()
	if fi, err := os.Stat(in.path); err == nil && !fi.ModTime().Equal(in.loaded) {
		if d, err := emission.LoadDay(in.path); err == nil {
			in.st.LastZero, in.st.LastLeakCheck, in.loaded = d.LastZero, d.LastLeakCheck, fi.ModTime()
		}
	}
	st := in.st
	st.Due(now, in.cfg, in.hasLeak)
	return st
}

// save writes what survives a restart (best effort: the outcome is in the
// records too).
func (in *instrument) save() error {
	in.mu.Lock()
	defer in.mu.Unlock()
	d := emission.Day{LastZero: in.st.LastZero, LastLeakCheck: in.st.LastLeakCheck}
	if err := d.Save(in.path); err != nil {
		return err
	}
	if fi, err := os.Stat(in.path); err == nil {
		in.loaded = fi.ModTime()
	}
	return nil
}

// observe takes what one use of the analyzer told: its state, its
// counters, and the identity its readings carry.
func (in *instrument) observe(inst analyzer.Instrument, id analyzer.InstrumentID, st *analyzer.State, now time.Time) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if id != (analyzer.InstrumentID{}) {
		in.st.Instrument = id
	}
	_, in.hasLeak = inst.(analyzer.LeakChecker)
	if st != nil {
		in.st.Mode, in.st.WarmUpLeftS = st.Mode, int(st.WarmUpLeft/time.Second)
		t := now.UTC()
		in.st.Checked = &t
	}
	if s, ok := inst.(interface{ Stats() analyzer.Stats }); ok {
		in.st.Implausible += s.Stats().Implausible
	}
}

func (in *instrument) setZero(o emission.Outcome) {
	in.mu.Lock()
	in.st.LastZero = &o
	in.mu.Unlock()
}

func (in *instrument) setLeakCheck(o emission.Outcome) {
	in.mu.Lock()
	in.st.LastLeakCheck = &o
	in.mu.Unlock()
}

func (in *instrument) progress() *emission.Progress {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.running
}

func (in *instrument) setRunning(p *emission.Progress) {
	in.mu.Lock()
	in.running = p
	in.mu.Unlock()
}

// testStatus is the running test in the status: the progress, with the
// prompt in every language.
type testStatus struct {
	emission.Progress
	Prompt map[string]string `json:"prompt"`
}

func (in *instrument) runningStatus() *testStatus {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.running == nil {
		return nil
	}
	ts := &testStatus{Progress: *in.running, Prompt: map[string]string{}}
	for l, t := range in.running.Prompt.All() {
		ts.Prompt[l.String()] = t
	}
	return ts
}

// openAnalyzer opens the configured analyzer for one use, holding it until
// release: a command waits for the one before it (or ctx); the state poll
// (wait false) gets ErrAnalyzerBusy instead. A non-empty method replaces
// analyzer.method (a procedure samples real-time values).
func (a *Agent) openAnalyzer(ctx context.Context, method string, wait bool) (analyzer.Instrument, func(), error) {
	if a.cfg.Analyzer.Interface == "" {
		return nil, nil, ErrNoAnalyzer
	}
	if wait {
		select {
		case a.inst.busy <- struct{}{}:
		case <-ctx.Done():
			return nil, nil, fmt.Errorf("%w: %w", ErrAnalyzerBusy, ctx.Err())
		}
	} else {
		select {
		case a.inst.busy <- struct{}{}:
		default:
			return nil, nil, ErrAnalyzerBusy
		}
	}
	free := func() { <-a.inst.busy }
	o := a.cfg.AnalyzerOptions()
	if method != "" {
		o.Method = method
	}
	o.Drivers, o.Logger = a.deps.AnalyzerDrivers, a.log.With("part", "analyzer")
	inst, err := analyzer.Open(a.cfg.Analyzer.Interface, o)
	if err != nil {
		free()
		return nil, nil, fmt.Errorf("%w: %w", ErrAnalyzer, err)
	}
	return inst, func() { inst.Close(); free() }, nil
}

// runEmissionTest runs a test procedure with the analyzer and the
// vehicle's live data, guides the technician (buzzer, status, Deps.Guide),
// and stores the result in the open job, whatever the verdict.
func (a *Agent) runEmissionTest(ctx context.Context, c *command.RunEmissionTestArgs) (job.Event, error) {
	if a.cfg.Analyzer.Interface == "" {
		return job.Event{}, ErrNoAnalyzer
	}
	j, ok := a.jobs.Current(a.bay)
	if !ok {
		return job.Event{}, fmt.Errorf("%w: an emission test belongs to a job", job.ErrNoJob)
	}
	phase, err := j.ReadingPhase(c.Phase)
	if err != nil {
		return job.Event{}, err
	}
	test := emission.Test{Method: c.Method, Config: a.inst.cfg, LimitSet: c.LimitSet, Heavy: c.Heavy, Live: vehicleLive{a}}
	inst, release, err := a.openAnalyzer(ctx, analyzer.MethodRealtime, true)
	if err != nil {
		return job.Event{}, err
	}
	defer release()
	test.Instrument = inst
	if err := test.Check(); err != nil {
		return job.Event{}, fmt.Errorf("%w: %w", errBadTest, err)
	}
	before := a.inst.state(a.now())
	a.log.Info("emission test started", "method", c.Method, "job", j.ID, "phase", phase)
	res, err := emission.Run(ctx, test, emission.Options{Second: a.deps.EmissionSecond, Guide: a.guide, Now: a.now})
	a.inst.setRunning(nil)
	if err != nil { // not reached: Check passed
		return job.Event{}, fmt.Errorf("%w: %w", errBadTest, err)
	}
	a.afterTest(inst, res)
	a.up.NotifyStatus()
	a.log.Info("emission test over", "method", c.Method, "verdict", res.Verdict.Result, "reason", res.Verdict.Reason, "text", res.Verdict.Text["en"])
	// The attempt is recorded even when the command's asker went away.
	return a.jobs.EmissionTest(context.WithoutCancel(ctx), a.bay, phase, c.Technician, before, res)
}

// errBadTest: the test cannot run as asked (a limit set that is not
// configured).
var errBadTest = errors.New("agent: bad emission test")

// afterTest updates the instrument's state from a finished test: its zero,
// what its readings said it is, its counters.
func (a *Agent) afterTest(inst analyzer.Instrument, res *emission.Result) {
	if z := emission.ZeroOutcome(res); z != nil {
		a.inst.setZero(*z)
	}
	var st *analyzer.State
	if res.Verdict.Reason == emission.ReasonWarmingUp {
		st = &analyzer.State{Mode: analyzer.ModeWarmingUp}
	}
	a.inst.observe(inst, res.Instrument, st, a.now())
	if err := a.inst.save(); err != nil {
		a.log.Warn("analyzer state not saved", "err", err)
	}
}

// guide follows a running test: the buzzer sounds at every new step (and
// three times when the engine leaves its window), the status shows the
// step, and Deps.Guide (the demo's technician) sees every progress.
func (a *Agent) guide(p emission.Progress) {
	prev := a.inst.progress()
	wasOut := prev != nil && prev.OutOfWindow
	if p.Verdict == nil {
		pp := p
		a.inst.setRunning(&pp)
	}
	if a.io != nil {
		switch {
		case p.OutOfWindow && !wasOut:
			a.io.Beep(bayio.BeepError)
		case p.Changed:
			a.io.Beep(bayio.BeepLong)
		}
	}
	if p.Changed || p.OutOfWindow != wasOut {
		a.up.NotifyStatus()
	}
	a.screen.Changed() // the Job page follows every second: speed, time, prompt
	if a.deps.Guide != nil {
		a.deps.Guide(p)
	}
}

// DefaultAnalyzerPoll is how often the agent asks the idle analyzer its
// state.
const DefaultAnalyzerPoll = time.Minute

// watchAnalyzer asks the analyzer its state (warming up, ready, leak
// check running) now and then while nobody uses it, for the status.
func (a *Agent) watchAnalyzer(ctx context.Context) {
	if a.cfg.Analyzer.Interface == "" {
		return
	}
	every := a.deps.AnalyzerPoll
	if every <= 0 {
		every = DefaultAnalyzerPoll
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		a.pollAnalyzer(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// pollAnalyzer reads the analyzer's state once, unless it is in use.
func (a *Agent) pollAnalyzer(ctx context.Context) {
	inst, release, err := a.openAnalyzer(ctx, "", false)
	if errors.Is(err, ErrAnalyzerBusy) {
		return
	}
	if err != nil {
		a.log.Debug("analyzer state", "err", err)
		return
	}
	defer release()
	sr, ok := inst.(analyzer.StateReader)
	if !ok {
		a.inst.observe(inst, analyzer.InstrumentID{}, nil, a.now())
		return
	}
	st, err := sr.State(ctx)
	if err != nil {
		a.log.Debug("analyzer state", "err", err)
		return
	}
	before := a.inst.state(a.now()).Mode
	a.inst.observe(inst, analyzer.InstrumentID{}, &st, a.now())
	if st.Mode != before || st.Mode == analyzer.ModeWarmingUp { // the time left counts down
		a.up.NotifyStatus()
	}
}

// analyzerCheck runs a zero or a leak check (the technician capped the
// probe) and keeps its outcome for the status and the next tests' records.
func (a *Agent) analyzerCheck(ctx context.Context, c *command.AnalyzerCheckArgs) (any, error) {
	inst, release, err := a.openAnalyzer(ctx, "", true)
	if err != nil {
		return nil, err
	}
	defer release()
	a.log.Info("analyzer check started", "check", c.Check, "technician", c.Technician)
	o, err := emission.RunCheck(ctx, inst, c.Check, a.now)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrAnalyzer, err) // no outcome: nothing to keep
	}
	if c.Check == emission.CheckZero {
		a.inst.setZero(o)
	} else {
		a.inst.setLeakCheck(o)
	}
	a.inst.observe(inst, analyzer.InstrumentID{}, nil, a.now())
	if serr := a.inst.save(); serr != nil {
		a.log.Warn("analyzer state not saved", "err", serr)
	}
	a.up.NotifyStatus()
	return map[string]any{"check": c.Check, "ok": o.OK, "error": o.Error, "analyzer": a.inst.state(a.now())}, nil
}

// testResult is run_emission_test's reply: the stored event and the
// verdict.
func testResult(ev job.Event, err error) (any, error) {
	if err != nil {
		return nil, err
	}
	b := ev.Body.(job.EmissionTestBody)
	v := b.Test.Verdict
	res := map[string]any{
		"kind": ev.Kind, "job": ev.Job, "stored": true, "phase": b.Phase, "method": b.Test.Method,
		"verdict": v.Result, "limit_set": b.Test.LimitSetName, "unverified": v.Unverified, "text": v.Text,
	}
	if len(v.Failures) > 0 {
		res["failures"] = v.Failures
	}
	if v.Reason != "" {
		res["reason"], res["step"] = v.Reason, v.Step
	}
	return res, nil
}

// vehicleLive is the connected vehicle's OBD live data for an emission
// test (emission.LiveReader): the engine ECU's values first.
type vehicleLive struct{ a *Agent }

func (v vehicleLive) Live(ctx context.Context) ([]obd.Value, error) {
	c := v.a.current()
	switch {
	case c == nil:
		return nil, ErrNoVehicle
	case c.link.J1939():
		return nil, ErrLiveJ1939
	}
	samples, err := sample(ctx, c, testPIDs)
	var out []obd.Value
	for _, s := range samples {
		for _, val := range s.Values {
			val.Label = "" // the name says it; the record keeps every second
			out = append(out, val)
		}
	}
	return out, err
}
