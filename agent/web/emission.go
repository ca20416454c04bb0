package web

import (
	"encoding/json"
	"time"

	"github.com/bayagent/bayagent/agent/emission"
	"github.com/bayagent/bayagent/agent/findings"
	"github.com/bayagent/bayagent/agent/i18n"
	"github.com/bayagent/bayagent/agent/job"
)

// testRow is one emission test of a job, as the Job page and the report
// show it.
type testRow struct {
	N          int
	At         time.Time
	Phase      string
	Method     string
	Technician string
	Result     string // pass, fail, aborted
	Verdict    string // the verdict's sentence in the reader's language
	LimitSet   string
	Unverified bool
	Instrument string
	Modes      []testMode
	KMean      string
	State      *instrumentView // the instrument's state when the test began
}

// testMode is one measured mode of a test (high idle, idle; the free
// accelerations' mean K) with its averages.
type testMode struct {
	Label  string
	Values []valueRow
}

// instrumentView is an analyzer's state: what it reported last, its last
// zero and leak check, what is due.
type instrumentView struct {
	Model        string
	Mode         string // the catalogue label of its mode
	WarmUpLeftS  int
	LastZero     *outcomeView
	LastLeak     *outcomeView
	ZeroDue      bool
	LeakCheckDue bool
	Implausible  int64
}

type outcomeView struct {
	At    time.Time
	OK    bool
	Error string
}

// progressView is the running test: its step, what to do, the speed window.
type progressView struct {
	StepCode             string
	Method, Step, Prompt string
	Target               *emission.Window
	RPM                  string
	OutOfWindow          bool
	Elapsed, Needed      int
	Acceleration, Of     int
}

// runView is the emission test the page started, while the agent has not
// taken it up, or when it refused it.
type runView struct {
	Running    bool
	Technician string
	Started    time.Time
	Error      shown
}

func tests(ts []job.EmissionTestBody, l i18n.Lang) []testRow {
	var out []testRow
	for _, t := range ts {
		v := t.Test.Verdict
		row := testRow{
			N: t.N, At: t.At, Phase: string(t.Phase), Method: methodText(t.Test.Method, l), Technician: t.Technician,
			Result: v.Result, Verdict: v.Text[string(l)], LimitSet: t.Test.LimitSetName, Unverified: v.Unverified,
			Instrument: t.Test.Instrument.Model, State: instrument(t.Instrument, l),
		}
		if row.Verdict == "" {
			row.Verdict = v.Text[string(i18n.English)]
		}
		for _, m := range t.Test.Modes {
			tm := testMode{Label: i18n.Text(l, "emission.step."+m.Mode)}
			for _, q := range m.Averages {
				tm.Values = append(tm.Values, valueRow{Label: quantityLabel(q, l), Value: quantityText(q)})
			}
			row.Modes = append(row.Modes, tm)
		}
		if t.Test.KMean != nil {
			row.KMean = findings.FormatNumber(*t.Test.KMean) + " m⁻¹"
		}
		out = append(out, row)
	}
	return out
}

func methodText(method string, l i18n.Lang) string {
	if e, ok := i18n.Lookup("emission.method." + method); ok {
		return e.In(l)
	}
	return findings.MethodText(method, l)
}

func instrument(s emission.InstrumentState, l i18n.Lang) *instrumentView {
	v := &instrumentView{
		Model: s.Instrument.Model, WarmUpLeftS: s.WarmUpLeftS, ZeroDue: s.ZeroDue, LeakCheckDue: s.LeakCheckDue,
		Implausible: s.Implausible, LastZero: outcome(s.LastZero), LastLeak: outcome(s.LastLeakCheck),
	}
	if s.Mode != "" {
		v.Mode = i18n.Text(l, "web.analyzer.mode."+string(s.Mode))
	}
	return v
}

func outcome(o *emission.Outcome) *outcomeView {
	if o == nil {
		return nil
	}
	return &outcomeView{At: o.At, OK: o.OK, Error: o.Error}
}

// statusMember decodes a member of the agent's status into v (the status
// holds the agent's own types; their JSON is the contract); false when
// absent or not of that shape.
func statusMember(st map[string]any, name string, v any) bool {
	m, ok := st[name]
	if !ok || m == nil {
		return false
	}
	b, err := json.Marshal(m)
	return err == nil && string(b) != "null" && json.Unmarshal(b, v) == nil
}

// analyzerState is the analyzer's state in the status, nil without one.
func analyzerState(st map[string]any, l i18n.Lang) *instrumentView {
	var s emission.InstrumentState
	if !statusMember(st, "analyzer", &s) {
		return nil
	}
	return instrument(s, l)
}

// progress is the running emission test in the status, nil when none
// runs.
func progress(st map[string]any, l i18n.Lang) *progressView {
	var p struct {
		emission.Progress
		Prompt map[string]string `json:"prompt"`
	}
	if !statusMember(st, "emission_test", &p) {
		return nil
	}
	v := &progressView{
		StepCode: p.Step, Method: methodText(p.Method, l), Step: i18n.Text(l, "emission.step."+p.Step), Prompt: p.Prompt[string(l)],
		Target: p.Target, RPM: findings.FormatNumber(p.RPM), OutOfWindow: p.OutOfWindow,
		Elapsed: p.Elapsed, Needed: p.Needed, Acceleration: p.Acceleration, Of: p.Of,
	}
	if v.Prompt == "" {
		v.Prompt = p.Prompt[string(i18n.English)]
	}
	return v
}

// testRun is the page's background test as the Job page shows it: starting
// (before the agent reports its progress), or refused with the reason;
// nil once it is under way or done.
func (s *Server) testRun(l i18n.Lang, running bool) *runView {
	bg := s.lastBackground()
	switch {
	case bg == nil:
		return nil
	case !bg.Done && !running:
		return &runView{Running: true, Technician: bg.Technician, Started: bg.Started}
	case bg.Done && bg.Err != nil:
		return &runView{Technician: bg.Technician, Started: bg.Started,
			Error: failed(l, bg.Action, bg.Err)}
	}
	return nil
}
