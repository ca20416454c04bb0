package emission

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/bayagent/bayagent/drivers/analyzer"
)

// Outcome is the outcome of one zero or leak check.
type Outcome struct {
	At time.Time `json:"at"`
	OK bool      `json:"ok"`
	// Error says why it failed (zero failed, leak found, no answer).
	Error string `json:"error,omitempty"`
}

// InstrumentState is what the agent knows of an instrument's day: what it
// reported last, its last zero and leak check, and whether either is due.
// It is in the status and in every emission_test record.
type InstrumentState struct {
	Instrument analyzer.InstrumentID `json:"instrument"`
	// Mode is what the instrument last reported (warming_up, ready, ...);
	// empty when it has no status command or was not asked yet.
	Mode        analyzer.Mode `json:"mode,omitempty"`
	WarmUpLeftS int           `json:"warm_up_left_s,omitempty"`
	// Checked is when the instrument last answered.
	Checked       *time.Time `json:"checked,omitempty"`
	LastZero      *Outcome   `json:"last_zero,omitempty"`
	LastLeakCheck *Outcome   `json:"last_leak_check,omitempty"`
	// ZeroDue: no good zero within Config.ZeroValidMin (every procedure
	// zeroes first all the same). LeakCheckDue: no tight leak check within
	// Config.LeakCheckIntervalH, or the instrument has a leak check and
	// never ran one here.
	ZeroDue      bool `json:"zero_due"`
	LeakCheckDue bool `json:"leak_check_due"`
	// Implausible counts the readings the driver refused as implausible
	// since the agent started.
	Implausible int64 `json:"implausible"`
}

// Due sets ZeroDue and LeakCheckDue for the time now; hasLeakCheck says
// whether the instrument can run a leak check at all.
func (s *InstrumentState) Due(now time.Time, c Config, hasLeakCheck bool) {
	s.ZeroDue = !fresh(s.LastZero, now, time.Duration(c.ZeroValidMin)*time.Minute)
	s.LeakCheckDue = hasLeakCheck && !fresh(s.LastLeakCheck, now, time.Duration(c.LeakCheckIntervalH)*time.Hour)
}

func fresh(o *Outcome, now time.Time, valid time.Duration) bool {
	return o != nil && o.OK && now.Sub(o.At) < valid
}

// DayFile is the file, in the agent's state directory, that keeps an
// instrument's Day across restarts; the agent and `bayagent measure` both
// keep it.
const DayFile = "analyzer-state.json"

// Day is what survives a restart of an instrument's day: its last zero
// and leak check.
type Day struct {
	LastZero      *Outcome `json:"last_zero,omitempty"`
	LastLeakCheck *Outcome `json:"last_leak_check,omitempty"`
}

// LoadDay reads a day file; a missing file is an empty Day.
func LoadDay(path string) (Day, error) {
	var d Day
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return d, nil
	}
	if err != nil {
		return d, err
	}
	if err := json.Unmarshal(b, &d); err != nil {
		return Day{}, fmt.Errorf("%s is damaged: %w", path, err)
	}
	return d, nil
}

// Save writes the day file (a new file renamed over the old one).
func (d Day) Save(path string) error {
	b, err := json.Marshal(d)
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// Checks of an instrument's day.
const (
	CheckZero = "zero"       // zero with the probe in clean air (calibration on an opacimeter)
	CheckLeak = "leak_check" // the sample line's leak check, the probe capped
)

// Checks returns the checks RunCheck runs.
func Checks() []string { return []string{CheckZero, CheckLeak} }

// ErrNoCheck: the instrument has no such check.
var ErrNoCheck = errors.New("emission: the instrument has no such check")

// RunCheck runs a zero or a leak check on inst and returns its outcome: OK,
// or failed with the reason (the zero failed, the line leaks). An error
// means there is no outcome (no answer, no such check: ErrNoCheck wrapping
// analyzer.ErrUnsupported).
func RunCheck(ctx context.Context, inst Instrument, check string, now func() time.Time) (Outcome, error) {
	var run func(context.Context) error
	if z, ok := inst.(analyzer.Zeroer); ok && check == CheckZero {
		run = z.Zero
	}
	if l, ok := inst.(analyzer.LeakChecker); ok && check == CheckLeak {
		run = l.LeakCheck
	}
	if run == nil {
		return Outcome{}, fmt.Errorf("%w: %s: %w", ErrNoCheck, check, analyzer.ErrUnsupported)
	}
	err := run(ctx)
	o := Outcome{At: now().UTC(), OK: err == nil}
	switch {
	case err == nil:
	case errors.Is(err, analyzer.ErrZeroFailed), errors.Is(err, analyzer.ErrLeak):
		o.Error = err.Error()
	default:
		return Outcome{}, err
	}
	return o, nil
}

// ZeroOutcome is the zero a finished test did, if it did one.
func ZeroOutcome(res *Result) *Outcome {
	switch {
	case res.Zeroed != nil:
		return &Outcome{At: *res.Zeroed, OK: true}
	case res.Verdict.Reason == ReasonZeroFailed:
		return &Outcome{At: res.Ended, Error: res.Verdict.Detail}
	}
	return nil
}
