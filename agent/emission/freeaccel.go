package emission

import (
	"math"
	"time"

	"github.com/bayagent/bayagent/drivers/analyzer"
)

// freeAcceleration runs the free acceleration test and judges it against l.
func (r *runner) freeAcceleration(l FreeAccelerationLimits) error {
	s := r.t.Config.FreeAcceleration
	if err := r.check(false); err != nil {
		return err
	}
	if err := r.warmUp(s.MinOilTemperature, s.WarmUpS); err != nil {
		return err
	}
	idlePrompt := msg("emission.prompt.fa_idle", "min", s.Idle.Min, "max", s.Idle.Max)
	idle, _, err := r.window(StepIdle, s.Idle, idlePrompt, hold{PhaseSettle, s.IdleS, true})
	if err != nil {
		return err
	}
	total := s.Purges + s.Accelerations
	var measured []float64
	for i := range total {
		purge := i < s.Purges
		n, of, step, prompt := i+1, s.Purges, StepPurge, "emission.prompt.purge"
		if !purge {
			n, of, step, prompt = i-s.Purges+1, s.Accelerations, StepAccelerate, "emission.prompt.accelerate"
		}
		a, err := r.accelerate(step, n, of, msg(prompt, "n", n, "of", of))
		if err != nil {
			return err
		}
		a.Purge = purge
		r.res.Accelerations = append(r.res.Accelerations, a)
		if !purge {
			measured = append(measured, a.K)
		}
		between, _, err := r.window(StepRelease, s.Idle, msg("emission.prompt.release", "min", s.Idle.Min, "max", s.Idle.Max),
			hold{PhaseSettle, s.IdleS, true})
		if err != nil {
			return err
		}
		idle = append(idle, between...)
	}
	sum := 0.0
	for _, k := range measured {
		sum += k
	}
	mean := math.Round(sum/float64(len(measured))*100) / 100
	r.res.KMean = &mean
	if len(idle) > 0 {
		rpm := 0.0
		for _, sm := range idle {
			rpm += sm.RPM
		}
		v := math.Round(rpm / float64(len(idle)))
		r.res.IdleRPM = &v
	}
	v := Verdict{Result: Pass}
	if mean > l.K {
		v.Result = Fail
		v.Failures = []Failure{{Mode: "k_mean", Quantity: "k_mean", Value: mean, Unit: analyzer.UnitPerMetre, Limit: l.K}}
	}
	r.res.Verdict = v
	return nil
}

// accelerate runs one free acceleration: it waits for the pedal (the
// engine above RiseRPM), samples SamplesPerSecond times a second until the
// engine is back at idle (or AccelerationS passed), and returns the peak K:
// the highest sampled, or the instrument's highest-value register when it
// has one and reads higher.
func (r *runner) accelerate(step string, n, of int, prompt message) (Acceleration, error) {
	s := r.t.Config.FreeAcceleration
	r.set(step, PhaseReach, prompt, &Window{Min: s.MinPeakRPM, Max: 10000})
	r.prog.Acceleration, r.prog.Of = n, of
	defer func() { r.prog.Acceleration, r.prog.Of = 0, 0 }()
	peaks, hasPeak := r.t.Instrument.(analyzer.PeakReader)
	if hasPeak {
		if err := peaks.ClearPeak(r.ctx); err != nil {
			if r.ctx.Err() != nil {
				return Acceleration{}, r.cancelled()
			}
			hasPeak = false // sample the peak instead
		}
	}
	r.prog.Needed = s.PressS
	for {
		sm, err := r.second()
		if err != nil {
			return Acceleration{}, err
		}
		r.prog.Elapsed++
		if sm.RPMSource != "" && sm.RPM > s.RiseRPM {
			break
		}
		if r.prog.Elapsed >= s.PressS {
			return Acceleration{}, abortf(ReasonNoAcceleration, step, msg("emission.abort.no_acceleration", "s", s.PressS),
				"acceleration %d: %g rpm after %d s", n, sm.RPM, s.PressS)
		}
		r.guide()
	}
	a := Acceleration{N: n, PeakFrom: "samples"}
	track := func(sm *Sample) {
		if k, ok := quantity(sm.Values, analyzer.QuantityOpacityK); ok && k > a.K {
			a.K = k
		}
		a.PeakRPM = math.Max(a.PeakRPM, sm.RPM)
	}
	track(&r.res.Samples[len(r.res.Samples)-1])
	r.set(step, PhaseMeasure, prompt, &Window{Min: s.MinPeakRPM, Max: 10000})
	r.prog.Acceleration, r.prog.Of = n, of
	fast := time.NewTicker(r.o.second() / time.Duration(s.SamplesPerSecond))
	defer fast.Stop()
	for i := 1; i <= s.AccelerationS*s.SamplesPerSecond; i++ {
		if err := r.wait(fast); err != nil {
			return Acceleration{}, err
		}
		sm, err := r.sample(i%s.SamplesPerSecond == 0)
		if err != nil {
			return Acceleration{}, err
		}
		if i%s.SamplesPerSecond == 0 {
			r.sec++
			r.prog.Elapsed++
			r.guide()
		}
		track(sm)
		if sm.RPMSource != "" && a.PeakRPM > s.RiseRPM && s.Idle.Contains(sm.RPM) {
			break // released and back at idle
		}
	}
	if hasPeak {
		if p, err := peaks.Peak(r.ctx); err == nil {
			if k, ok := quantity(p.Values, analyzer.QuantityOpacityK); ok && k > a.K {
				a.K, a.PeakFrom = k, "instrument"
			}
			if rpm, ok := quantity(p.Values, analyzer.QuantityRPM); ok {
				a.PeakRPM = math.Max(a.PeakRPM, rpm)
			}
		} else if r.ctx.Err() != nil {
			return Acceleration{}, r.cancelled()
		}
	}
	if a.PeakRPM < s.MinPeakRPM {
		return a, abortf(ReasonGovernedSpeed, step, msg("emission.abort.governed_speed_not_reached", "n", n, "rpm", a.PeakRPM, "min", s.MinPeakRPM),
			"acceleration %d peaked at %g rpm, needs %g", n, a.PeakRPM, s.MinPeakRPM)
	}
	return a, nil
}
