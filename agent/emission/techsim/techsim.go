// Package techsim simulates the technician at the pedal during an emission test.
//
// It is the demo's and the tests' stand-in for a person. A Technician follows a test's progress (emission.Options.Guide, or the
// agent's Deps.Guide) as a technician follows the bay's buzzer and screen:
// at every new step it sets the engine speed the step asks for, through the
// simulated car's accelerator (Set). Misbehave lets a test make it do
// otherwise: take the foot off the pedal at high idle, never press it.
package techsim

import (
	"sync"

	"github.com/bayagent/bayagent/agent/emission"
)

// Speeds a Technician holds where the step's window does not say.
const (
	IdleRPM     = 780  // the engine left alone
	GovernedRPM = 4200 // a diesel floored: its governed speed
)

// Technician presses and releases the pedal as a test asks. Set changes
// the simulated engine's speed; it is called from Guide.
type Technician struct {
	Set func(rpm float64)
	// Misbehave, when set, sees every progress first; when it reports
	// ok, the engine goes to rpm instead of what the step asks.
	Misbehave func(p emission.Progress) (rpm float64, ok bool)

	mu    sync.Mutex
	steps []string
}

// Guide is an emission.Options.Guide.
func (t *Technician) Guide(p emission.Progress) {
	if p.Changed {
		t.mu.Lock()
		if n := len(t.steps); n == 0 || t.steps[n-1] != p.Step {
			t.steps = append(t.steps, p.Step)
		}
		t.mu.Unlock()
	}
	if t.Misbehave != nil {
		if rpm, ok := t.Misbehave(p); ok {
			t.Set(rpm)
			return
		}
	}
	if !p.Changed {
		return
	}
	if rpm, ok := Wanted(p); ok {
		t.Set(rpm)
	}
}

// Steps returns the steps the technician was guided through, in order.
func (t *Technician) Steps() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]string(nil), t.steps...)
}

// Reset forgets the steps, for the next test.
func (t *Technician) Reset() {
	t.mu.Lock()
	t.steps = nil
	t.mu.Unlock()
}

// Wanted is the engine speed a step asks for: the middle of its window,
// idle while the engine warms up, the governed speed while a free
// acceleration waits for the pedal, idle once it is measured (the pedal
// released at once), 0 (engine off, probe in the air) while the
// instrument is zeroed and when the test is over.
func Wanted(p emission.Progress) (float64, bool) {
	switch p.Step {
	case emission.StepCheck, emission.StepDone:
		return 0, true
	case emission.StepWarmUp:
		return IdleRPM, true
	case emission.StepPurge, emission.StepAccelerate:
		if p.Phase == emission.PhaseReach {
			return GovernedRPM, true
		}
		return IdleRPM, true
	}
	if p.Target != nil {
		return (p.Target.Min + p.Target.Max) / 2, true
	}
	return 0, false
}
