package emission

import (
	"fmt"

	"github.com/bayagent/bayagent/drivers/analyzer"
)

// twoSpeedIdle runs the two-speed idle test and judges it against l.
func (r *runner) twoSpeedIdle(l TwoSpeedIdleLimits) error {
	s := r.t.Config.TwoSpeedIdle
	if err := r.check(true); err != nil {
		return err
	}
	if err := r.warmUp(s.MinOilTemperature, s.WarmUpS); err != nil {
		return err
	}
	pre := msg("emission.prompt.precondition", "min", s.Precondition.Min, "max", s.Precondition.Max, "s", s.PreconditionS)
	if _, _, err := r.window(StepPrecondition, s.Precondition, pre, hold{PhaseHold, s.PreconditionS, false}); err != nil {
		return err
	}
	high := s.HighIdle
	if r.t.Heavy {
		high = s.HeavyHighIdle
	}
	for _, m := range []struct {
		step   string
		w      Window
		prompt string
	}{{StepHighIdle, high, "emission.prompt.high_idle"}, {StepIdle, s.Idle, "emission.prompt.idle"}} {
		kept, seconds, err := r.window(m.step, m.w, msg(m.prompt, "min", m.w.Min, "max", m.w.Max),
			hold{PhaseSettle, s.SettleS, false}, hold{PhaseMeasure, s.MeasureS, true})
		if err != nil {
			return err
		}
		if err := enough(m.step, kept, seconds); err != nil {
			return err
		}
		res := ModeResult{Mode: m.step, Samples: len(kept), Averages: averages(kept)}
		co, _ := res.Average(analyzer.QuantityCO)
		co2, _ := res.Average(analyzer.QuantityCO2)
		if s.MinCOCO2 > 0 && co+co2 < s.MinCOCO2 {
			return abortf(ReasonDiluted, m.step, msg("emission.abort.diluted", "step", stepName(m.step), "value", round3(co+co2), "min", s.MinCOCO2),
				"CO+CO2 %g %%vol at %s, below %g", round3(co+co2), m.step, s.MinCOCO2)
		}
		r.res.Modes = append(r.res.Modes, res)
	}
	r.res.Verdict = judgeTwoSpeedIdle(r.res.Modes, l)
	return nil
}

// judgeTwoSpeedIdle judges the averages: CO and HC at both speeds, lambda
// at high idle.
func judgeTwoSpeedIdle(modes []ModeResult, l TwoSpeedIdleLimits) Verdict {
	v := Verdict{Result: Pass}
	for _, m := range modes {
		lim := l.Idle
		if m.Mode == StepHighIdle {
			lim = l.HighIdle
		}
		for _, g := range []struct {
			name, unit string
			limit      float64
		}{{analyzer.QuantityCO, analyzer.UnitVol, lim.CO}, {analyzer.QuantityHC, analyzer.UnitPPM, lim.HC}} {
			val, ok := m.Average(g.name)
			switch {
			case !ok:
				v.Notes = append(v.Notes, fmt.Sprintf("%s: the instrument reports no %s; not judged", m.Mode, g.name))
			case val > g.limit:
				v.Failures = append(v.Failures, Failure{Mode: m.Mode, Quantity: g.name, Value: val, Unit: g.unit, Limit: g.limit})
			}
		}
		if m.Mode != StepHighIdle {
			continue
		}
		lambda, ok := m.Average(analyzer.QuantityLambda)
		switch {
		case !ok || lambda == 0:
			v.Notes = append(v.Notes, "high_idle: the instrument reports no lambda; lambda not judged")
		case !l.Lambda.Contains(lambda):
			v.Failures = append(v.Failures, Failure{Mode: m.Mode, Quantity: analyzer.QuantityLambda, Value: lambda, Min: l.Lambda.Min, Max: l.Lambda.Max})
		}
	}
	if len(v.Failures) > 0 {
		v.Result = Fail
	}
	return v
}
