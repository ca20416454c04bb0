package emission

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/bayagent/bayagent/drivers/analyzer"
	"github.com/bayagent/bayagent/drivers/obd"
)

// Test is one procedure to run.
type Test struct {
	// Method is TwoSpeedIdle or FreeAcceleration.
	Method     string
	Instrument Instrument
	// Live reads the vehicle's OBD live data beside the instrument; nil
	// when no vehicle is connected.
	Live   LiveReader
	Config Config
	// LimitSet names the limits to judge against; "" is Config.LimitSet.
	LimitSet string
	// Heavy selects the heavy vehicles' high idle window.
	Heavy bool
}

// ErrTest is wrapped by Check's errors.
var ErrTest = errors.New("emission: cannot run the test")

// Check reports why t cannot run (unknown method, unknown limit set, bad
// configuration, no instrument); Run checks it first.
func (t *Test) Check() error {
	switch {
	case t.Method != TwoSpeedIdle && t.Method != FreeAcceleration:
		return fmt.Errorf("%w: method %q: want %s or %s", ErrTest, t.Method, TwoSpeedIdle, FreeAcceleration)
	case t.Instrument == nil:
		return fmt.Errorf("%w: no instrument", ErrTest)
	}
	if err := t.Config.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrTest, err)
	}
	if _, ok := t.Config.LimitSets[t.limitSet()]; !ok {
		return fmt.Errorf("%w: limit set %q is not configured (have %v)", ErrTest, t.limitSet(), t.Config.LimitSetNames())
	}
	return nil
}

func (t *Test) limitSet() string {
	if t.LimitSet != "" {
		return t.LimitSet
	}
	return t.Config.LimitSet
}

// Run runs the test until it ends, or until ctx ends (then aborted,
// reason cancelled). It returns an error only when the test cannot run at
// all (see Check); whatever the test finds is in the Result's Verdict.
func Run(ctx context.Context, t Test, o Options) (*Result, error) {
	if err := t.Check(); err != nil {
		return nil, err
	}
	set := t.limitSet()
	limits := t.Config.LimitSets[set]
	r := &runner{ctx: ctx, t: t, o: o, res: &Result{
		Method: t.Method, Started: o.now().UTC(), LimitSetName: set, Limits: limits, Samples: []Sample{},
	}}
	def := DefaultConfig()
	r.res.Settings.RPMSource = t.Config.RPMSource
	if t.Method == TwoSpeedIdle {
		s := t.Config.TwoSpeedIdle
		r.res.Settings.TwoSpeedIdle, r.common = &s, s.Common
		r.res.Settings.Unverified = s == def.TwoSpeedIdle
	} else {
		s := t.Config.FreeAcceleration
		r.res.Settings.FreeAcceleration, r.common = &s, s.Common
		r.res.Settings.Unverified = s == def.FreeAcceleration
	}
	r.tick = time.NewTicker(o.second())
	defer r.tick.Stop()

	var err error
	if t.Method == TwoSpeedIdle {
		err = r.twoSpeedIdle(limits.TwoSpeedIdle)
	} else {
		err = r.freeAcceleration(limits.FreeAcceleration)
	}
	var ab *abortError
	switch {
	case errors.As(err, &ab):
		r.res.Verdict = aborted(t.Method, ab)
	case err != nil: // not expected: every failure is an abortError
		r.res.Verdict = aborted(t.Method, abortf(ReasonInstrument, r.prog.Step, msg("emission.abort.instrument_error", "err", err.Error()), "%v", err))
	default:
		r.res.Verdict.Unverified = limits.Unverified
		r.res.Verdict.finish(t.Method, set)
	}
	r.stopPump()
	r.res.Ended = o.now().UTC()
	r.prog.Step, r.prog.Phase, r.prog.Target = StepDone, "", nil
	r.prog.Prompt = msg("emission.prompt.done." + r.res.Verdict.Result).i18n() // in every language; the verdict's text is in Verdict
	r.prog.Verdict = &r.res.Verdict
	r.prog.Changed = true
	r.guide()
	return r.res, nil
}

// runner is one run of a procedure.
type runner struct {
	ctx    context.Context
	t      Test
	o      Options
	common Common
	res    *Result
	tick   *time.Ticker
	sec    int // procedure seconds so far
	badRun int // samples in a row without values
	prog   Progress
	prompt message
}

func (r *runner) guide() {
	if r.o.Guide != nil {
		p := r.prog
		p.Method = r.t.Method
		r.o.Guide(p)
	}
	r.prog.Changed = false
}

// set starts a step (or a phase of it) and tells the technician.
func (r *runner) set(step, phase string, prompt message, target *Window) {
	r.prog.Step, r.prog.Phase, r.prog.Target = step, phase, target
	r.prog.Prompt, r.prompt = prompt.i18n(), prompt
	r.prog.Elapsed, r.prog.Needed = 0, 0
	r.prog.Changed = true
	r.guide()
}

func (r *runner) cancelled() *abortError {
	return abortf(ReasonCancelled, r.prog.Step, msg("emission.abort.cancelled"), "%v", r.ctx.Err())
}

// wait waits for the next tick of d (one second, or a fraction during a
// free acceleration).
func (r *runner) wait(t *time.Ticker) error {
	select {
	case <-t.C:
		return nil
	case <-r.ctx.Done():
		return r.cancelled()
	}
}

// second waits for the next procedure second and takes its sample.
func (r *runner) second() (*Sample, error) {
	if err := r.wait(r.tick); err != nil {
		return nil, err
	}
	s, err := r.sample(true)
	r.sec++
	return s, err
}

// sample reads the instrument once, and the vehicle's live data when
// withOBD (once a procedure second), and records it.
func (r *runner) sample(withOBD bool) (*Sample, error) {
	s := Sample{T: r.sec, At: r.o.now().UTC(), Step: r.prog.Step, Phase: r.prog.Phase}
	reading, err := r.t.Instrument.Read(r.ctx)
	if r.ctx.Err() != nil {
		return nil, r.cancelled()
	}
	if err != nil {
		s.Error = err.Error()
		r.badRun++
	} else {
		s.Values = reading.Values
		r.badRun = 0
		if r.res.Instrument == (analyzer.InstrumentID{}) {
			r.res.Instrument = reading.Instrument
		}
	}
	if r.t.Live != nil && withOBD {
		if vals, err := r.t.Live.Live(r.ctx); err == nil {
			s.OBD = vals
		}
	}
	rpm, src := r.rpmOf(&s)
	s.RPM, s.RPMSource = rpm, src
	r.res.Samples = append(r.res.Samples, s)
	p := &r.res.Samples[len(r.res.Samples)-1]
	r.prog.RPM = rpm
	if oil, ok := oilOf(p); ok {
		r.prog.OilTemperature = oil
	}
	if r.badRun > r.common.MaxBadSamples {
		return p, abortf(ReasonInstrument, r.prog.Step, msg("emission.abort.instrument_error", "err", s.Error),
			"%d samples in a row without values, the last: %s", r.badRun, s.Error)
	}
	return p, nil
}

// rpmOf is the engine speed of a sample and where it came from ("" when
// neither the instrument nor the vehicle gave one).
func (r *runner) rpmOf(s *Sample) (float64, string) {
	a, hasA := quantity(s.Values, analyzer.QuantityRPM)
	o, hasO := obdValue(s.OBD, "engine_speed")
	switch r.t.Config.RPMSource {
	case RPMAnalyzer:
		if hasA {
			return a, RPMAnalyzer
		}
		return 0, ""
	case RPMOBD:
		if hasO {
			return o, RPMOBD
		}
		return 0, ""
	}
	switch {
	case hasA && a > 0:
		return a, RPMAnalyzer
	case hasO:
		return o, RPMOBD
	case hasA:
		return a, RPMAnalyzer
	}
	return 0, ""
}

// oilOf is a sample's oil temperature: the instrument's probe, else the
// vehicle's oil temperature, else its coolant temperature.
func oilOf(s *Sample) (float64, bool) {
	if v, ok := quantity(s.Values, analyzer.QuantityOilTemperature); ok && v > 0 {
		return v, true
	}
	if v, ok := obdValue(s.OBD, "engine_oil_temperature"); ok {
		return v, true
	}
	return obdValue(s.OBD, "coolant_temperature")
}

func quantity(q []analyzer.Quantity, name string) (float64, bool) {
	for _, v := range q {
		if v.Name == name {
			return v.Value, true
		}
	}
	return 0, false
}

func obdValue(vals []obd.Value, name string) (float64, bool) {
	for _, v := range vals {
		if v.Name == name {
			return v.Value, true
		}
	}
	return 0, false
}

// check reads the instrument's state, zeroes (or calibrates) it and starts
// its pump.
func (r *runner) check(gas bool) error {
	r.set(StepCheck, "", msg("emission.prompt.check"), nil)
	inst := r.t.Instrument
	if sr, ok := inst.(analyzer.StateReader); ok {
		st, err := sr.State(r.ctx)
		if r.ctx.Err() != nil {
			return r.cancelled()
		}
		if err != nil {
			return abortf(ReasonInstrument, StepCheck, msg("emission.abort.instrument_error", "err", err.Error()), "state: %v", err)
		}
		if st.Mode == analyzer.ModeWarmingUp {
			left := int(st.WarmUpLeft / time.Second)
			return abortf(ReasonWarmingUp, StepCheck, msg("emission.abort.instrument_warming_up", "left", left), "warming up, %d s left", left)
		}
	}
	if z, ok := inst.(analyzer.Zeroer); ok {
		prompt := msg("emission.prompt.zero")
		if !gas {
			prompt = msg("emission.prompt.calibrate")
		}
		r.set(StepCheck, "zero", prompt, nil)
		err := z.Zero(r.ctx)
		switch {
		case r.ctx.Err() != nil:
			return r.cancelled()
		case errors.Is(err, analyzer.ErrZeroFailed):
			return abortf(ReasonZeroFailed, StepCheck, msg("emission.abort.zero_failed"), "%v", err)
		case err != nil:
			return abortf(ReasonInstrument, StepCheck, msg("emission.abort.instrument_error", "err", err.Error()), "zero: %v", err)
		}
		now := r.o.now().UTC()
		r.res.Zeroed = &now
	}
	if p, ok := inst.(analyzer.Pumper); ok && gas {
		if err := p.Pump(r.ctx, analyzer.PumpProbe); err != nil && !errors.Is(err, analyzer.ErrUnsupported) {
			if r.ctx.Err() != nil {
				return r.cancelled()
			}
			return abortf(ReasonInstrument, StepCheck, msg("emission.abort.instrument_error", "err", err.Error()), "pump: %v", err)
		}
	}
	return nil
}

// stopPump stops the pump after a test (best effort: the next test starts
// it again).
func (r *runner) stopPump() {
	if p, ok := r.t.Instrument.(analyzer.Pumper); ok && r.t.Method == TwoSpeedIdle {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.ctx), 2*time.Second)
		defer cancel()
		_ = p.Pump(ctx, analyzer.PumpStop)
	}
}

// warmUp waits until the oil temperature reaches min (0: no check).
func (r *runner) warmUp(min float64, limitS int) error {
	if min <= 0 {
		return nil
	}
	defer r.thinWarmUp()
	r.set(StepWarmUp, "", msg("emission.prompt.warm_up", "oil", "-", "min", min), nil)
	r.prog.Needed = limitS
	noOil := 0
	for {
		s, err := r.second()
		if err != nil {
			return err
		}
		r.prog.Elapsed++
		oil, ok := oilOf(s)
		switch {
		case ok && oil >= min:
			return nil
		case ok:
			noOil = 0
			r.prog.Prompt = msg("emission.prompt.warm_up", "oil", oil, "min", min).i18n()
		default:
			if noOil++; noOil > r.common.MaxBadSamples {
				return abortf(ReasonNoOilTemperature, StepWarmUp, msg("emission.abort.no_oil_temperature"), "no oil or coolant temperature in %d samples", noOil)
			}
		}
		if r.prog.Elapsed >= limitS {
			return abortf(ReasonOilTooCold, StepWarmUp, msg("emission.abort.oil_too_cold", "min", min, "s", limitS, "oil", oil),
				"oil %g degC after %d s, needs %g", oil, limitS, min)
		}
		r.guide()
	}
}

// warmUpKept is how many warm-up samples are all kept; later ones are
// kept one in ten.
const warmUpKept = 60

// thinWarmUp keeps, of a warm-up longer than warmUpKept seconds, the first
// warmUpKept samples, then one in ten and the last, so that a long wait for
// the oil temperature does not outgrow the test's record.
func (r *runner) thinWarmUp() {
	out := r.res.Samples[:0]
	n := 0
	for i, s := range r.res.Samples {
		last := i+1 == len(r.res.Samples) || r.res.Samples[i+1].Step != StepWarmUp
		if s.Step != StepWarmUp || n < warmUpKept || n%10 == 0 || last {
			out = append(out, s)
		}
		if s.Step == StepWarmUp {
			n++
		}
	}
	r.res.Samples = out
}

// hold is one timed phase of a step in its speed window.
type hold struct {
	phase   string
	seconds int
	collect bool // keep the phase's samples (the measured ones)
}

// window runs a step with a speed window: the technician brings the engine
// into it (at most ReachS), then each of holds in turn; once in the window
// the engine may leave it for at most GraceS seconds in a row. It returns
// the samples of the collected phases that were in the window and had
// values, and how many seconds those phases had.
func (r *runner) window(step string, w Window, prompt message, holds ...hold) ([]Sample, int, error) {
	target := w
	r.set(step, PhaseReach, prompt, &target)
	r.prog.Needed = r.common.ReachS
	last := 0.0
	for {
		s, err := r.second()
		if err != nil {
			return nil, 0, err
		}
		r.prog.Elapsed++
		last = s.RPM
		if s.RPMSource != "" && w.Contains(s.RPM) {
			break
		}
		if r.prog.Elapsed >= r.common.ReachS {
			if s.RPMSource == "" {
				return nil, 0, abortf(ReasonNoEngineSpeed, step, msg("emission.abort.no_engine_speed"), "no engine speed in the %s", step)
			}
			return nil, 0, abortf(ReasonNotInWindow, step, msg("emission.abort.engine_not_in_window", "min", w.Min, "max", w.Max,
				"s", r.common.ReachS, "step", stepName(step), "rpm", last), "%g rpm after %d s, window %g-%g", last, r.common.ReachS, w.Min, w.Max)
		}
		r.guide()
	}
	var kept []Sample
	collected := 0
	out := 0
	for _, h := range holds {
		r.set(step, h.phase, prompt, &target)
		r.prog.Needed = h.seconds
		if h.collect {
			collected += h.seconds
		}
		for range h.seconds {
			s, err := r.second()
			if err != nil {
				return nil, 0, err
			}
			r.prog.Elapsed++
			in := s.RPMSource != "" && w.Contains(s.RPM)
			r.prog.OutOfWindow = !in && s.RPMSource != ""
			switch {
			case in:
				out = 0
				if h.collect && s.Error == "" {
					kept = append(kept, *s)
				}
			case s.RPMSource == "" && s.Error != "":
				// No values at all: counted by the bad-sample limit.
			default:
				if out++; out > r.common.GraceS {
					r.prog.Changed = true
					r.guide()
					return nil, 0, abortf(ReasonOutOfWindow, step, msg("emission.abort.rpm_out_of_window", "min", w.Min, "max", w.Max,
						"step", stepName(step), "rpm", s.RPM), "%g rpm for %d s during %s %s, window %g-%g", s.RPM, out, step, h.phase, w.Min, w.Max)
				}
			}
			r.guide()
		}
	}
	r.prog.OutOfWindow = false
	return kept, collected, nil
}

// averages returns the mean of every quantity of the samples, in the order
// of the first sample, rounded to three decimals.
func averages(samples []Sample) []analyzer.Quantity {
	if len(samples) == 0 {
		return nil
	}
	var out []analyzer.Quantity
	for _, q := range samples[0].Values {
		sum, n := 0.0, 0
		for _, s := range samples {
			if v, ok := quantity(s.Values, q.Name); ok {
				sum += v
				n++
			}
		}
		out = append(out, analyzer.Quantity{Name: q.Name, Value: round3(sum / float64(n)), Unit: q.Unit})
	}
	return out
}

func round3(v float64) float64 { return math.Round(v*1000) / 1000 }

// enough checks that a measured phase kept at least 80 % of its seconds.
func enough(step string, kept []Sample, seconds int) error {
	if need := int(math.Ceil(0.8 * float64(seconds))); len(kept) < need {
		return abortf(ReasonTooFewReadings, step, msg("emission.abort.too_few_readings", "step", stepName(step), "valid", len(kept), "n", seconds),
			"%d valid samples of %d", len(kept), seconds)
	}
	return nil
}
