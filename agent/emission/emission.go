// Package emission runs the national emission test procedures at the bay.
//
// They are two-speed idle for petrol cars and free acceleration for diesels.
//
// A procedure guides the technician step by step (Options.Guide receives
// every change, for the bay's lights and buzzer and the status topic),
// samples the instrument and the vehicle's OBD live data every second,
// checks that the engine stays in each step's speed window, averages what
// the standard averages, and judges the result against a limit set. Run
// never fails for what the test finds: an engine that leaves its window, a
// zero that fails, an instrument that stops answering all end the test as
// "aborted" with a reason; a dirty car ends it as "fail" naming the gas and
// the limit. Every sample is kept in the Result.
//
// # The procedures (GB 18285-2018, GB 3847-2018; unverified recollection)
//
// Two-speed idle: the instrument is zeroed; the engine must be warm (oil at
// least 80 degC); it is raised to about 70 % of its rated speed for 30 s;
// then held at high idle (2500 +/- 200 rpm, heavy vehicles 1800 +/- 200): 15
// s to settle, then 30 s averaged (HC, CO, CO2, O2, NO, lambda); then
// released to idle: 15 s, then 30 s averaged. HC and CO are judged at both
// speeds, lambda at high idle.
//
// Free acceleration: the opacimeter is calibrated; the engine warm and at
// idle; a number of purging accelerations, then three measured ones, each
// from idle to the governed speed with the pedal floored, then released and
// left at idle. The peak K of each measured acceleration is kept; their mean
// is judged.
//
// Every number of both procedures (windows, durations, temperatures, the
// limit sets) is configuration (Config, DefaultConfig); the defaults come
// from DOMAIN.md and are marked unverified in every result that uses them.
//
// # Time
//
// Durations are counted in samples, one per procedure second. A second is
// Options.Second long (time.Second at the bay); tests and the demo shorten
// it, and the procedure is the same sample for sample.
package emission

import (
	"context"
	"time"

	"github.com/bayagent/bayagent/agent/i18n"
	"github.com/bayagent/bayagent/drivers/analyzer"
	"github.com/bayagent/bayagent/drivers/obd"
)

// Methods.
const (
	TwoSpeedIdle     = analyzer.MethodTwoSpeedIdle
	FreeAcceleration = analyzer.MethodFreeAcceleration
)

// Methods returns the procedures this package runs.
func Methods() []string { return []string{TwoSpeedIdle, FreeAcceleration} }

// Instrument is what a procedure needs from the analyzer or opacimeter; it
// also uses analyzer.Zeroer, StateReader, Pumper and PeakReader when the
// instrument has them.
type Instrument interface {
	Read(ctx context.Context) (analyzer.Reading, error)
}

// LiveReader reads the vehicle's OBD live data beside the gas values: rpm,
// load, throttle, speed, lambda, temperatures, whatever the ECUs answer.
type LiveReader interface {
	Live(ctx context.Context) ([]obd.Value, error)
}

// Steps of the procedures, for Progress.Step and Sample.Step.
const (
	StepCheck        = "check"        // instrument state, zero or calibration
	StepWarmUp       = "warm_up"      // waiting for the oil temperature
	StepPrecondition = "precondition" // 70 % of rated speed
	StepHighIdle     = "high_idle"
	StepIdle         = "idle"
	StepPurge        = "purge"      // a purging free acceleration
	StepAccelerate   = "accelerate" // a measured free acceleration
	StepRelease      = "release"    // back to idle between accelerations
	StepDone         = "done"
)

// Phases of a step with a speed window.
const (
	PhaseReach   = "reach"   // waiting for the engine to enter the window
	PhaseHold    = "hold"    // preconditioning
	PhaseSettle  = "settle"  // in the window, not yet averaged
	PhaseMeasure = "measure" // averaged
)

// Window is an engine speed range, both ends included.
type Window struct {
	Min float64 `yaml:"min" json:"min"`
	Max float64 `yaml:"max" json:"max"`
}

// Contains reports whether rpm is in the window.
func (w Window) Contains(rpm float64) bool { return rpm >= w.Min && rpm <= w.Max }

// Progress is where a running procedure stands; Options.Guide receives one
// at every sample and at every change of step.
type Progress struct {
	Method string `json:"method"`
	Step   string `json:"step"`
	Phase  string `json:"phase,omitempty"`
	// Prompt is what the technician should do now.
	Prompt i18n.Message `json:"-"`
	// Target is the speed window of the step, if it has one.
	Target *Window `json:"target,omitempty"`
	RPM    float64 `json:"rpm"`
	// OilTemperature is the last oil temperature read (degC), 0 if none.
	OilTemperature float64 `json:"oil_temperature,omitempty"`
	// Elapsed and Needed count the seconds of the phase.
	Elapsed int `json:"elapsed_s"`
	Needed  int `json:"needed_s,omitempty"`
	// Acceleration counts the free accelerations, 1-based, of Of.
	Acceleration int `json:"acceleration,omitempty"`
	Of           int `json:"of,omitempty"`
	// OutOfWindow: the engine is outside the step's window right now.
	OutOfWindow bool `json:"out_of_window,omitempty"`
	// Changed: the step or phase changed with this progress (the
	// technician has something new to do).
	Changed bool `json:"-"`
	// Verdict is set on the last progress, when the test is over.
	Verdict *Verdict `json:"verdict,omitempty"`
}

// Options configure one run.
type Options struct {
	// Second is the length of one procedure second; zero is time.Second.
	Second time.Duration
	// Guide receives the progress; nil ignores it. It is called from the
	// procedure's goroutine and must not block for long.
	Guide func(Progress)
	// Now gives the time; nil is time.Now.
	Now func() time.Time
}

func (o Options) second() time.Duration {
	if o.Second <= 0 {
		return time.Second
	}
	return o.Second
}

func (o Options) now() time.Time {
	if o.Now == nil {
		return time.Now()
	}
	return o.Now()
}

// Sample is one sample of a procedure: the instrument's values and the
// vehicle's live data at one moment.
type Sample struct {
	// T is the procedure second the sample belongs to (0, 1, ...; free
	// accelerations are sampled faster, so T may repeat).
	T    int       `json:"t"`
	At   time.Time `json:"at"`
	Step string    `json:"step"`
	// Phase is the step's phase (reach, hold, settle, measure).
	Phase string `json:"phase,omitempty"`
	// RPM is the engine speed the procedure judged, from RPMSource
	// ("analyzer" or "obd").
	RPM       float64 `json:"rpm"`
	RPMSource string  `json:"rpm_source,omitempty"`
	// Values are the instrument's, OBD the ECUs' (engine ECU first).
	Values []analyzer.Quantity `json:"values,omitempty"`
	OBD    []obd.Value         `json:"obd,omitempty"`
	// Error says why the instrument gave no values (implausible, no
	// response); such a sample is not averaged.
	Error string `json:"error,omitempty"`
}

// ModeResult is what a two-speed idle speed gave: the average of its
// measured samples.
type ModeResult struct {
	Mode     string              `json:"mode"` // high_idle or idle
	Samples  int                 `json:"samples"`
	Averages []analyzer.Quantity `json:"averages"`
}

// Average returns the average of the named quantity.
func (m ModeResult) Average(name string) (float64, bool) {
	for _, q := range m.Averages {
		if q.Name == name {
			return q.Value, true
		}
	}
	return 0, false
}

// Acceleration is one free acceleration.
type Acceleration struct {
	N       int     `json:"n"`     // 1-based among its kind
	Purge   bool    `json:"purge"` // a purging acceleration, not judged
	K       float64 `json:"k"`     // peak light absorption coefficient, m^-1
	PeakRPM float64 `json:"peak_rpm"`
	// PeakFrom says where K came from: "instrument" (its highest-value
	// register) or "samples".
	PeakFrom string `json:"peak_from"`
}

// Result is a finished procedure.
type Result struct {
	Method     string                `json:"method"`
	Started    time.Time             `json:"started"`
	Ended      time.Time             `json:"ended"`
	Instrument analyzer.InstrumentID `json:"instrument"`
	// Zeroed is when the procedure zeroed (or calibrated) the instrument.
	Zeroed *time.Time `json:"zeroed,omitempty"`
	// Settings are the procedure's numbers as used.
	Settings Settings `json:"settings"`
	// LimitSet is the name and values of the limits judged against.
	LimitSetName string   `json:"limit_set"`
	Limits       LimitSet `json:"limits"`
	// Modes are the two-speed idle results (high idle, idle).
	Modes []ModeResult `json:"modes,omitempty"`
	// Accelerations are the free accelerations; KMean the mean K of the
	// measured ones.
	Accelerations []Acceleration `json:"accelerations,omitempty"`
	KMean         *float64       `json:"k_mean,omitempty"`
	// IdleRPM is the average idle speed between free accelerations.
	IdleRPM *float64 `json:"idle_rpm,omitempty"`
	// Samples are every second's samples (and a free acceleration's faster
	// ones), except that of a warm-up longer than a minute only one second
	// in ten is kept after the first minute.
	Samples []Sample `json:"samples"`
	Verdict Verdict  `json:"verdict"`
}
