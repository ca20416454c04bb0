package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/bayagent/bayagent/agent/config"
	"github.com/bayagent/bayagent/agent/emission"
	"github.com/bayagent/bayagent/agent/emission/techsim"
	"github.com/bayagent/bayagent/agent/i18n"
	"github.com/bayagent/bayagent/drivers/analyzer"
	"github.com/bayagent/bayagent/drivers/analyzer/analyzersim"
)

// errNotPassed: the test ran and did not pass (exit 1, after the verdict).
var errNotPassed = errors.New("the test did not pass")

// runMeasure takes one reading from an exhaust analyzer or opacimeter, so a
// technician can check the wiring, and shows the instrument's state; it
// zeroes it, checks its sample line for leaks, or runs a whole test
// procedure with progress every second and the verdict.
func runMeasure(ctx context.Context, e env, args []string) error {
	fs := newFlagSet(e, "measure", "(--iface DRIVER:DEVICE[@BAUD] | --sim READINGS.yaml) [--zero | --leak-check | --test METHOD] [--json]", analyzerHelp(),
		"examples:\n  bayagent measure --iface nha506:/dev/ttyUSB1\n  bayagent measure --iface nht6:/dev/ttyS0@9600 --method free_acceleration\n"+
			"  bayagent measure --iface nha506:/dev/ttyUSB1 --leak-check     (cap the probe first)\n"+
			"  bayagent measure --iface nha506:/dev/ttyUSB1 --test two_speed_idle\n"+
			"  bayagent measure --sim testdata/analyzers/nha506-before.yaml   (a simulated analyzer, no hardware)\n"+
			"  bayagent measure --sim testdata/analyzers/nha506-repaired.yaml --test two_speed_idle --second 50ms\n"+
			"                                      (a simulated car and technician; a procedure second of 50 ms)\n")
	iface := fs.String("iface", "", "instrument address DRIVER:DEVICE[@BAUD], e.g. nha506:/dev/ttyUSB1 (drivers below)")
	sim := fs.String("sim", "", "serve a simulated instrument from this readings file (testdata/analyzers/*.yaml) on a pseudo-terminal and use it")
	method := fs.String("method", "", "test method stamped on gas readings (e.g. two_speed_idle); for opacimeters free_acceleration or realtime")
	asJSON := fs.Bool("json", false, "print the reading (or the test's result) as JSON")
	timeout := fs.Duration("timeout", 0, "give up after this long (default 5s for a reading, 5m for a zero or leak check, 15m for a test)")
	zero := fs.Bool("zero", false, "zero the instrument (probe in clean air) and report the outcome")
	leak := fs.Bool("leak-check", false, "run the instrument's leak check (cap the probe first) and report the outcome")
	test := fs.String("test", "", "run a test procedure: "+strings.Join(emission.Methods(), " or ")+"; progress every second, then the verdict")
	limitSet := fs.String("limit-set", "", "with --test: the limit set to judge against (default: the procedures file's, a)")
	heavy := fs.Bool("heavy", false, "with --test two_speed_idle: a heavy vehicle's high idle window")
	procedures := fs.String("procedures", "", "with --test: the procedures and limits file (analyzer.procedures; default: the built-in, unverified defaults)")
	second := fs.Duration("second", time.Second, "with --test and --sim: the length of one procedure second")
	stateDir := fs.String("state-dir", config.DefaultStateDir, "the agent's state directory, where the instrument's last zero and leak check are kept")
	lang := addLangFlag(fs, "prompts and the verdict")
	if err := fs.ParseArgs(args); err != nil {
		return err
	}
	switch {
	case (*iface == "") == (*sim == ""):
		return usagef("give exactly one of --iface or --sim")
	case fs.NArg() > 0:
		return usagef("unexpected argument %q", fs.Arg(0))
	case *method != "" && !slices.Contains(analyzer.Methods(), *method):
		return usagef("--method %q: want one of %s", *method, strings.Join(analyzer.Methods(), ", "))
	case btoi(*zero)+btoi(*leak)+btoi(*test != "") > 1:
		return usagef("give at most one of --zero, --leak-check and --test")
	case *test != "" && !slices.Contains(emission.Methods(), *test):
		return usagef("--test %q: want one of %s", *test, strings.Join(emission.Methods(), ", "))
	case *second != time.Second && (*sim == "" || *test == ""):
		return usagef("--second is for a simulated test (--sim with --test): a real test runs in real seconds")
	case *second <= 0:
		return usagef("--second must be above 0")
	}
	limit := *timeout
	if limit <= 0 {
		limit = map[bool]time.Duration{true: 5 * time.Minute, false: 5 * time.Second}[*zero || *leak]
		if *test != "" {
			limit = 15 * time.Minute
		}
	}
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	log := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))

	// With --sim and --test, a simulated car whose engine speed a
	// simulated technician sets as the test asks.
	var rpm atomic.Uint64
	tech := &techsim.Technician{Set: func(v float64) { rpm.Store(math.Float64bits(v)) }}
	addr := *iface
	if *sim != "" {
		r, err := analyzersim.LoadFile(*sim)
		if err != nil {
			return err
		}
		o := analyzersim.Options{}
		if *test != "" {
			o.Engine = analyzersim.EngineFunc(func() float64 { return math.Float64frombits(rpm.Load()) })
		}
		s, err := analyzersim.New(r, o)
		if err != nil {
			return fmt.Errorf("readings %s: %w", *sim, err)
		}
		path, stop, err := analyzersim.ServePTY(ctx, s)
		if err != nil {
			return err
		}
		defer stop()
		addr = r.Protocol + ":" + path
	}
	o := analyzer.Options{Method: *method, Logger: log}
	if *test != "" {
		o.Method = analyzer.MethodRealtime // a procedure samples the real-time values
	}
	inst, err := analyzer.Open(addr, o)
	if err != nil {
		return err
	}
	defer inst.Close()
	day := dayFile{path: filepath.Join(*stateDir, emission.DayFile), e: e}

	switch {
	case *zero:
		return day.operation(ctx, inst, emission.CheckZero)
	case *leak:
		return day.operation(ctx, inst, emission.CheckLeak)
	case *test != "":
		cfg, err := emission.LoadConfigFile(*procedures)
		if err != nil {
			return err
		}
		t := emission.Test{Method: *test, Instrument: inst, Config: cfg, LimitSet: *limitSet, Heavy: *heavy}
		if err := t.Check(); err != nil {
			return usagef("%v", err)
		}
		return runTest(ctx, e, t, *second, *lang, *asJSON, day, tech, *sim != "")
	}
	rd, err := inst.Read(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rd)
	}
	if err := writeReading(e, rd); err != nil {
		return err
	}
	return day.writeState(ctx, inst)
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// runTest runs a procedure, printing the prompt at every new step and the
// progress every second, then the verdict; the zero it did goes into the
// day file.
func runTest(ctx context.Context, e env, t emission.Test, second time.Duration, lang i18n.Lang, asJSON bool, day dayFile, tech *techsim.Technician, simulated bool) error {
	out := e.stdout
	if asJSON {
		out = e.stderr // progress for people, the result as JSON on stdout
	}
	lastPrompt := ""
	guide := func(p emission.Progress) {
		if simulated {
			tech.Guide(p)
		}
		if p.Verdict != nil {
			return
		}
		if prompt := p.Prompt.In(lang); p.Changed && prompt != lastPrompt {
			fmt.Fprintf(out, "-> %s\n", prompt)
			lastPrompt = prompt
		}
		line := fmt.Sprintf("   %-12s %-8s %3d", p.Step, p.Phase, p.Elapsed)
		if p.Needed > 0 {
			line += fmt.Sprintf("/%d", p.Needed)
		}
		line += fmt.Sprintf(" s  %5.0f rpm", p.RPM)
		if p.Target != nil {
			line += fmt.Sprintf(" (%g-%g)", p.Target.Min, p.Target.Max)
		}
		if p.OilTemperature != 0 {
			line += fmt.Sprintf("  oil %g °C", p.OilTemperature)
		}
		if p.OutOfWindow {
			line += "  OUT OF WINDOW"
		}
		fmt.Fprintln(out, line)
	}
	res, err := emission.Run(ctx, t, emission.Options{Second: second, Guide: guide})
	if err != nil {
		return err
	}
	day.afterTest(res)
	if asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(res); err != nil {
			return err
		}
	} else {
		for _, m := range res.Modes {
			fmt.Fprintf(out, "   %s averages:", m.Mode)
			for _, q := range m.Averages {
				fmt.Fprintf(out, "  %s", strings.TrimSpace(fmt.Sprintf("%s %g %s", q.Name, q.Value, q.Unit)))
			}
			fmt.Fprintln(out)
		}
		if res.KMean != nil {
			fmt.Fprintf(out, "   mean K %g m^-1\n", *res.KMean)
		}
		fmt.Fprintln(out, res.Verdict.Text[lang.String()])
	}
	if res.Verdict.Result != emission.Pass {
		return fmt.Errorf("%w: %s", errNotPassed, res.Verdict.Result)
	}
	return nil
}

// dayFile is the instrument's last zero and leak check in the agent's state
// directory: shown with a reading, updated by --zero, --leak-check and
// --test when the directory exists.
type dayFile struct {
	path string
	e    env
}

func (d dayFile) load() (emission.Day, bool) {
	if _, err := os.Stat(filepath.Dir(d.path)); err != nil {
		return emission.Day{}, false
	}
	day, err := emission.LoadDay(d.path)
	if err != nil {
		fmt.Fprintf(d.e.stderr, "bayagent measure: %v\n", err)
	}
	return day, true
}

func (d dayFile) update(f func(*emission.Day)) {
	day, ok := d.load()
	if !ok {
		return
	}
	f(&day)
	if err := day.Save(d.path); err != nil {
		fmt.Fprintf(d.e.stderr, "bayagent measure: the outcome is not kept for the agent: %v\n", err)
	}
}

func (d dayFile) afterTest(res *emission.Result) {
	if z := emission.ZeroOutcome(res); z != nil {
		d.update(func(day *emission.Day) { day.LastZero = z })
	}
}

// operation runs a zero or a leak check, prints and keeps its outcome.
func (d dayFile) operation(ctx context.Context, inst analyzer.Instrument, check string) error {
	fmt.Fprintf(d.e.stdout, "%s running...\n", check)
	o, err := emission.RunCheck(ctx, inst, check, time.Now)
	if err != nil {
		return err // no outcome: nothing to keep
	}
	d.update(func(day *emission.Day) {
		if check == emission.CheckZero {
			day.LastZero = &o
		} else {
			day.LastLeakCheck = &o
		}
	})
	if !o.OK {
		return fmt.Errorf("%s: %s", check, o.Error)
	}
	fmt.Fprintf(d.e.stdout, "%s: ok\n", check)
	return nil
}

// writeState prints what the instrument says it is doing and its day.
func (d dayFile) writeState(ctx context.Context, inst analyzer.Instrument) error {
	tw := tabwriter.NewWriter(d.e.stdout, 0, 4, 2, ' ', 0)
	if sr, ok := inst.(analyzer.StateReader); ok {
		st, err := sr.State(ctx)
		switch {
		case err != nil:
			fmt.Fprintf(tw, "  state\t(not read: %v)\n", err)
		case st.Mode == analyzer.ModeWarmingUp && st.WarmUpLeft > 0:
			fmt.Fprintf(tw, "  state\t%s, %v left\n", st.Mode, st.WarmUpLeft)
		default:
			fmt.Fprintf(tw, "  state\t%s\n", st.Mode)
		}
	}
	day, ok := d.load()
	if !ok {
		return tw.Flush()
	}
	st := emission.InstrumentState{LastZero: day.LastZero, LastLeakCheck: day.LastLeakCheck}
	_, hasLeak := inst.(analyzer.LeakChecker)
	st.Due(time.Now(), emission.DefaultConfig(), hasLeak)
	fmt.Fprintf(tw, "  last zero\t%s%s\n", outcomeText(day.LastZero), due(st.ZeroDue, "zero"))
	if hasLeak {
		fmt.Fprintf(tw, "  last leak check\t%s%s\n", outcomeText(day.LastLeakCheck), due(st.LeakCheckDue, "leak check"))
	}
	return tw.Flush()
}

func outcomeText(o *emission.Outcome) string {
	switch {
	case o == nil:
		return "never (here)"
	case o.OK:
		return o.At.Local().Format("2006-01-02 15:04") + ", ok"
	}
	return o.At.Local().Format("2006-01-02 15:04") + ", FAILED: " + o.Error
}

func due(d bool, what string) string {
	if d {
		return "  (" + what + " due)"
	}
	return ""
}

func writeReading(e env, rd analyzer.Reading) error {
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "%s on %s (%s), %s\n", rd.Instrument.Model, rd.Instrument.Port, rd.Instrument.Protocol, rd.Method)
	for _, q := range rd.Values {
		fmt.Fprintf(tw, "  %s\t%g\t%s\n", q.Name, q.Value, q.Unit)
	}
	if len(rd.Status) > 0 {
		fmt.Fprintf(tw, "  status\t%s\n", strings.Join(rd.Status, ", "))
	}
	return tw.Flush()
}
