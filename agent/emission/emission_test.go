package emission_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bayagent/bayagent/agent/emission"
	"github.com/bayagent/bayagent/agent/emission/techsim"
	"github.com/bayagent/bayagent/drivers/analyzer"
	"github.com/bayagent/bayagent/drivers/analyzer/analyzersim"
	"github.com/bayagent/bayagent/drivers/obd"
)

// car is a simulated car's engine: the instrument's simulator reads its
// speed (the rpm pick-up) and so does the OBD live data.
type car struct {
	rpm atomic.Int64
	oil atomic.Int64
}

func (c *car) RPM() float64 { return float64(c.rpm.Load()) }

// Live implements emission.LiveReader: the engine ECU's live data.
func (c *car) Live(context.Context) ([]obd.Value, error) {
	return []obd.Value{
		{PID: 0x0C, Name: "engine_speed", Value: c.RPM(), Unit: "rpm"},
		{PID: 0x04, Name: "engine_load", Value: 18, Unit: "%"},
		{PID: 0x5C, Name: "engine_oil_temperature", Value: float64(c.oil.Load()), Unit: "°C"},
	}, nil
}

// technician is techsim's technician at the pedal of car. misbehave,
// when set, may override the speed for a progress.
type technician struct {
	car       *car
	misbehave func(p emission.Progress) (rpm float64, ok bool)
	sim       *techsim.Technician
}

func (t *technician) guide(p emission.Progress) {
	if t.sim == nil {
		t.sim = &techsim.Technician{Set: func(rpm float64) { t.car.rpm.Store(int64(rpm)) }, Misbehave: t.misbehave}
	}
	t.sim.Guide(p)
}

func (t *technician) steps() []string { return t.sim.Steps() }

// short is the procedures with the standard's times cut down, so that a
// test takes a fraction of a second; everything else is the default.
func short() emission.Config {
	c := emission.DefaultConfig()
	t := &c.TwoSpeedIdle
	t.PreconditionS, t.SettleS, t.MeasureS, t.ReachS, t.WarmUpS = 3, 2, 5, 20, 10
	f := &c.FreeAcceleration
	f.IdleS, f.Purges, f.PressS, f.AccelerationS, f.ReachS, f.WarmUpS, f.SamplesPerSecond = 2, 1, 10, 4, 20, 10, 4
	return c
}

const second = 10 * time.Millisecond

func instrument(t *testing.T, file string, c *car, edit func(*analyzersim.Readings)) analyzer.Instrument {
	t.Helper()
	rd, err := analyzersim.LoadFile(filepath.Join("..", "..", "testdata", "analyzers", file))
	if err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(rd)
	}
	sim, err := analyzersim.New(rd, analyzersim.Options{Engine: c})
	if err != nil {
		t.Fatal(err)
	}
	path, stop, err := analyzersim.ServePTY(t.Context(), sim)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stop() })
	o := analyzer.Options{PollInterval: time.Millisecond, Timeout: 2 * time.Second}
	if rd.Protocol == analyzersim.ProtocolNHT6 {
		o.Method = analyzer.MethodRealtime
	}
	inst, err := analyzer.Open(rd.Protocol+":"+path, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { inst.Close() })
	return inst
}

func run(t *testing.T, method, file string, tech *technician, edit func(*analyzersim.Readings), cfg emission.Config) *emission.Result {
	t.Helper()
	tech.car.oil.Store(88)
	inst := instrument(t, file, tech.car, edit)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	res, err := emission.Run(ctx, emission.Test{Method: method, Instrument: inst, Live: tech.car, Config: cfg},
		emission.Options{Second: second, Guide: tech.guide})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := json.Marshal(res); err != nil {
		t.Fatalf("result does not encode: %v", err)
	}
	return res
}

func average(t *testing.T, m emission.ModeResult, name string) float64 {
	t.Helper()
	v, ok := m.Average(name)
	if !ok {
		t.Fatalf("%s: no average of %s in %v", m.Mode, name, m.Averages)
	}
	return v
}

func TestTwoSpeedIdlePasses(t *testing.T) {
	tech := &technician{car: &car{}}
	res := run(t, emission.TwoSpeedIdle, "nha506-repaired.yaml", tech, nil, short())
	if res.Verdict.Result != emission.Pass || len(res.Verdict.Failures) != 0 {
		t.Fatalf("verdict %+v", res.Verdict)
	}
	if len(res.Modes) != 2 || res.Modes[0].Mode != emission.StepHighIdle || res.Modes[1].Mode != emission.StepIdle {
		t.Fatalf("modes %+v", res.Modes)
	}
	hi, idle := res.Modes[0], res.Modes[1]
	if average(t, hi, "co") != 0.10 || average(t, hi, "hc") != 20 || average(t, hi, "lambda") != 1.00 || average(t, hi, "rpm") != 2500 {
		t.Errorf("high idle averages %v", hi.Averages)
	}
	if average(t, idle, "co") != 0.25 || average(t, idle, "hc") != 45 || hi.Samples != 5 {
		t.Errorf("idle averages %v, %d samples", idle.Averages, hi.Samples)
	}
	if want := []string{"check", "warm_up", "precondition", "high_idle", "idle", "done"}; !slices.Equal(tech.steps(), want) {
		t.Errorf("steps %v, want %v", tech.steps(), want)
	}
	if res.Zeroed == nil || res.Instrument.Protocol != "nha506" || !res.Verdict.Unverified || res.LimitSetName != "a" {
		t.Errorf("zeroed %v instrument %+v unverified %v set %s", res.Zeroed, res.Instrument, res.Verdict.Unverified, res.LimitSetName)
	}
	// Every second has its sample, with the OBD live data beside it.
	var measured int
	for _, s := range res.Samples {
		if s.Phase == emission.PhaseMeasure {
			measured++
			if len(s.OBD) == 0 || s.RPMSource != emission.RPMAnalyzer {
				t.Fatalf("sample without OBD or rpm source: %+v", s)
			}
		}
	}
	if measured != 10 {
		t.Errorf("%d measured samples, want 10", measured)
	}
	if !strings.Contains(res.Verdict.Text["en"], "PASS") || !strings.Contains(res.Verdict.Text["zh-CN"], "合格") {
		t.Errorf("text %v", res.Verdict.Text)
	}
}

func TestTwoSpeedIdleFailsNamingGasAndLimit(t *testing.T) {
	tech := &technician{car: &car{}}
	res := run(t, emission.TwoSpeedIdle, "nha506-p0420.yaml", tech, nil, short())
	if res.Verdict.Result != emission.Fail {
		t.Fatalf("verdict %+v", res.Verdict)
	}
	var got []string
	for _, f := range res.Verdict.Failures {
		got = append(got, f.Mode+" "+f.Quantity)
	}
	want := []string{"high_idle co", "high_idle hc", "idle co", "idle hc"}
	if !slices.Equal(got, want) {
		t.Fatalf("failures %v, want %v", got, want)
	}
	if f := res.Verdict.Failures[2]; f.Value != 1.20 || f.Limit != 0.6 || f.Unit != "%vol" {
		t.Errorf("idle co failure %+v", f)
	}
	en, zh := res.Verdict.Text["en"], res.Verdict.Text["zh-CN"]
	for _, s := range []string{"FAIL", "idle CO 1.2% above the limit 0.6%", "high idle HC 110 ppm above the limit 50 ppm", "limit set a"} {
		if !strings.Contains(en, s) {
			t.Errorf("english %q lacks %q", en, s)
		}
	}
	for _, s := range []string{"不合格", "怠速CO 1.2%，超过限值 0.6%", "高怠速HC 110 ppm"} {
		if !strings.Contains(zh, s) {
			t.Errorf("chinese %q lacks %q", zh, s)
		}
	}
	// Limit b is stricter on the same car; a configured set may differ.
	cfg := short()
	cfg.LimitSet = "b"
	res = run(t, emission.TwoSpeedIdle, "nha506-repaired.yaml", &technician{car: &car{}}, nil, cfg)
	if v := res.Verdict; v.Result != emission.Fail || len(v.Failures) != 1 || v.Failures[0].Quantity != "hc" || v.Failures[0].Limit != 40 {
		t.Errorf("limit b verdict %+v", res.Verdict)
	}
}

func TestTwoSpeedIdleAborts(t *testing.T) {
	tests := []struct {
		name      string
		edit      func(*analyzersim.Readings)
		misbehave func(emission.Progress) (float64, bool)
		cfg       func(*emission.Config)
		oil       int64
		reason    string
		step      string
	}{
		{name: "the engine leaves the high idle window", reason: emission.ReasonOutOfWindow, step: emission.StepHighIdle,
			misbehave: func(p emission.Progress) (float64, bool) {
				if p.Step == emission.StepHighIdle && p.Phase == emission.PhaseMeasure && p.Elapsed >= 2 {
					return 1500, true // the foot comes off the pedal
				}
				return 0, false
			}},
		{name: "the engine never reaches preconditioning speed", reason: emission.ReasonNotInWindow, step: emission.StepPrecondition,
			misbehave: func(p emission.Progress) (float64, bool) {
				if p.Step == emission.StepPrecondition {
					return 2200, true
				}
				return 0, false
			}},
		{name: "the zero fails", reason: emission.ReasonZeroFailed, step: emission.StepCheck,
			edit: func(r *analyzersim.Readings) { r.Behaviour.ZeroFails = true }},
		{name: "the instrument is warming up", reason: emission.ReasonWarmingUp, step: emission.StepCheck,
			edit: func(r *analyzersim.Readings) { r.Behaviour.WarmUpPolls = 5 }},
		{name: "the oil stays cold", reason: emission.ReasonOilTooCold, step: emission.StepWarmUp, oil: 60,
			edit: func(r *analyzersim.Readings) {
				r.Idle.OilTemperature, r.Air.OilTemperature, r.HighIdle.OilTemperature = 60, 60, 60
			}},
		{name: "the probe is not in the exhaust", reason: emission.ReasonDiluted, step: emission.StepHighIdle,
			edit: func(r *analyzersim.Readings) { r.HighIdle.CO2, r.HighIdle.CO = 2.5, 0.1 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tech := &technician{car: &car{}, misbehave: tt.misbehave}
			cfg := short()
			if tt.cfg != nil {
				tt.cfg(&cfg)
			}
			inst := instrument(t, "nha506-repaired.yaml", tech.car, tt.edit)
			tech.car.oil.Store(88)
			if tt.oil != 0 {
				tech.car.oil.Store(tt.oil)
			}
			res, err := emission.Run(t.Context(), emission.Test{Method: emission.TwoSpeedIdle, Instrument: inst, Live: tech.car, Config: cfg},
				emission.Options{Second: second, Guide: tech.guide})
			if err != nil {
				t.Fatal(err)
			}
			v := res.Verdict
			if v.Result != emission.Aborted || v.Reason != tt.reason || v.Step != tt.step {
				t.Fatalf("verdict %+v, want aborted %s in %s", v, tt.reason, tt.step)
			}
			if !strings.Contains(v.Text["en"], "ABORTED") || !strings.Contains(v.Text["zh-CN"], "检测中止") || v.Detail == "" {
				t.Fatalf("text %v detail %q", v.Text, v.Detail)
			}
		})
	}
	t.Run("a long wait for the oil is kept one second in ten after a minute", func(t *testing.T) {
		tech := &technician{car: &car{}}
		cfg := short()
		cfg.TwoSpeedIdle.WarmUpS = 150
		inst := instrument(t, "nha506-repaired.yaml", tech.car, func(r *analyzersim.Readings) {
			r.Idle.OilTemperature, r.Air.OilTemperature, r.HighIdle.OilTemperature = 60, 60, 60
		})
		tech.car.oil.Store(60)
		res, err := emission.Run(t.Context(), emission.Test{Method: emission.TwoSpeedIdle, Instrument: inst, Live: tech.car, Config: cfg},
			emission.Options{Second: time.Millisecond, Guide: tech.guide})
		if err != nil || res.Verdict.Reason != emission.ReasonOilTooCold {
			t.Fatalf("%+v %v", res.Verdict, err)
		}
		var warm []int
		for _, s := range res.Samples {
			if s.Step == emission.StepWarmUp {
				warm = append(warm, s.T)
			}
		}
		if len(warm) != 60+9+1 || warm[59] != warm[0]+59 || warm[60] != warm[0]+60 || warm[61] != warm[0]+70 {
			t.Fatalf("%d warm-up samples kept: %v", len(warm), warm)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		tech := &technician{car: &car{}}
		ctx, cancel := context.WithCancel(t.Context())
		tech.misbehave = func(p emission.Progress) (float64, bool) {
			if p.Step == emission.StepHighIdle {
				cancel()
			}
			return 0, false
		}
		tech.car.oil.Store(88)
		inst := instrument(t, "nha506-repaired.yaml", tech.car, nil)
		res, err := emission.Run(ctx, emission.Test{Method: emission.TwoSpeedIdle, Instrument: inst, Live: tech.car, Config: short()},
			emission.Options{Second: second, Guide: tech.guide})
		if err != nil || res.Verdict.Reason != emission.ReasonCancelled {
			t.Fatalf("%+v %v", res.Verdict, err)
		}
	})
}

func TestFreeAcceleration(t *testing.T) {
	tech := &technician{car: &car{}}
	res := run(t, emission.FreeAcceleration, "nht6-diesel.yaml", tech, nil, short())
	if res.Verdict.Result != emission.Pass || res.KMean == nil || *res.KMean != 0.95 {
		t.Fatalf("verdict %+v k mean %v", res.Verdict, res.KMean)
	}
	if len(res.Accelerations) != 4 || !res.Accelerations[0].Purge || res.Accelerations[3].Purge {
		t.Fatalf("accelerations %+v", res.Accelerations)
	}
	for _, a := range res.Accelerations {
		if a.K != 0.95 || a.PeakRPM < 4000 {
			t.Errorf("acceleration %+v", a)
		}
	}
	if res.IdleRPM == nil || *res.IdleRPM != 800 {
		t.Errorf("idle rpm %v", res.IdleRPM)
	}

	res = run(t, emission.FreeAcceleration, "nht6-smoky.yaml", &technician{car: &car{}}, nil, short())
	if res.Verdict.Result != emission.Fail || res.Verdict.Failures[0].Quantity != "k_mean" || res.Verdict.Failures[0].Limit != 1.2 {
		t.Fatalf("smoky verdict %+v", res.Verdict)
	}
	if !strings.Contains(res.Verdict.Text["en"], "mean K 2.1 m⁻¹ above the limit 1.2 m⁻¹") {
		t.Errorf("text %q", res.Verdict.Text["en"])
	}

	lazy := &technician{car: &car{}, misbehave: func(p emission.Progress) (float64, bool) {
		if p.Step == emission.StepAccelerate {
			return 780, true // never presses the pedal
		}
		return 0, false
	}}
	res = run(t, emission.FreeAcceleration, "nht6-diesel.yaml", lazy, nil, short())
	if res.Verdict.Reason != emission.ReasonNoAcceleration {
		t.Fatalf("verdict %+v", res.Verdict)
	}

	timid := &technician{car: &car{}, misbehave: func(p emission.Progress) (float64, bool) {
		if p.Step == emission.StepPurge && p.Phase == emission.PhaseReach && p.Changed {
			return 1800, true // pressed, but not to governed speed
		}
		return 0, false
	}}
	res = run(t, emission.FreeAcceleration, "nht6-diesel.yaml", timid, nil, short())
	if res.Verdict.Reason != emission.ReasonGovernedSpeed {
		t.Fatalf("verdict %+v", res.Verdict)
	}

	// The engine leaves the idle window while it should idle before the
	// accelerations: aborted, naming the step and the speed.
	restless := &technician{car: &car{}, misbehave: func(p emission.Progress) (float64, bool) {
		if p.Step == emission.StepIdle && p.Phase == emission.PhaseSettle && p.Elapsed >= 1 {
			return 1500, true
		}
		return 0, false
	}}
	cfg := short()
	cfg.FreeAcceleration.IdleS = 6
	res = run(t, emission.FreeAcceleration, "nht6-diesel.yaml", restless, nil, cfg)
	if v := res.Verdict; v.Result != emission.Aborted || v.Reason != emission.ReasonOutOfWindow || v.Step != emission.StepIdle ||
		!strings.Contains(v.Text["en"], "1500 rpm") || !strings.Contains(v.Text["zh-CN"], "1500") {
		t.Fatalf("restless engine: verdict %+v", v)
	}

	res = run(t, emission.FreeAcceleration, "nht6-diesel.yaml", &technician{car: &car{}},
		func(r *analyzersim.Readings) { r.Opacity.CalibrationFails = true }, short())
	if res.Verdict.Reason != emission.ReasonZeroFailed {
		t.Fatalf("calibration: verdict %+v", res.Verdict)
	}
}

func TestCheckRefusesBadTests(t *testing.T) {
	cfg := emission.DefaultConfig()
	for _, tt := range []emission.Test{
		{Method: "asm", Instrument: fakeInstrument{}, Config: cfg},
		{Method: emission.TwoSpeedIdle, Config: cfg},
		{Method: emission.TwoSpeedIdle, Instrument: fakeInstrument{}, Config: cfg, LimitSet: "c"},
	} {
		if _, err := emission.Run(t.Context(), tt, emission.Options{}); err == nil {
			t.Errorf("%+v ran", tt)
		}
	}
	bad := emission.DefaultConfig()
	bad.TwoSpeedIdle.HighIdle = emission.Window{Min: 2700, Max: 2300}
	bad.LimitSets["a"] = emission.LimitSet{}
	err := bad.Validate()
	if err == nil || !strings.Contains(err.Error(), "emission.two_speed_idle.high_idle") || !strings.Contains(err.Error(), "emission.limit_sets.a.") {
		t.Fatalf("validate: %v", err)
	}
	if def := emission.DefaultConfig(); def.Validate() != nil {
		t.Fatal(def.Validate())
	}
}

type fakeInstrument struct{}

func (fakeInstrument) Read(context.Context) (analyzer.Reading, error) { return analyzer.Reading{}, nil }

// TestLoadConfig: the example procedures file loads, keeps what it does not
// give, and names a bad key or value.
func TestLoadConfig(t *testing.T) {
	c, err := emission.LoadConfigFile(filepath.Join("..", "..", "testdata", "emission", "procedures.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	def := emission.DefaultConfig()
	if c.TwoSpeedIdle != def.TwoSpeedIdle || c.LimitSets["b"] != def.LimitSets["b"] || c.LimitSets["a"] != def.LimitSets["a"] {
		t.Errorf("the example file differs from the defaults: %+v", c)
	}
	c, err = emission.LoadConfig(strings.NewReader("limit_sets:\n  c:\n    two_speed_idle: {idle: {co: 0.5, hc: 60}, high_idle: {co: 0.2, hc: 40}, lambda: {min: 0.97, max: 1.03}}\n    free_acceleration: {k: 0.8}\nlimit_set: c\n"))
	if err != nil || c.LimitSet != "c" || c.LimitSets["c"].Unverified || len(c.LimitSets) != 3 {
		t.Fatalf("%+v %v", c.LimitSets, err)
	}
	for in, want := range map[string]string{
		"limit_sets:\n  a: {free_acceleration: {k: 0}}\n": "emission.limit_sets.a",
		"two_speed_idle:\n  settle: 3\n":                  "field settle not found",
		"zero_valid_min: 0\n":                             "emission.zero_valid_min",
	} {
		if _, err := emission.LoadConfig(strings.NewReader(in)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", in, err, want)
		}
	}
	if c, err := emission.LoadConfigFile(""); err != nil || c.LimitSet != "a" {
		t.Fatalf("no file: %v", err)
	}
}
