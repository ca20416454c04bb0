package analyzersim_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bayagent/bayagent/drivers/analyzer"
	"github.com/bayagent/bayagent/drivers/analyzer/analyzersim"
)

const testdata = "../../../testdata/analyzers"

func load(t *testing.T, name string) *analyzersim.Readings {
	t.Helper()
	rd, err := analyzersim.LoadFile(filepath.Join(testdata, name))
	if err != nil {
		t.Fatal(err)
	}
	return rd
}

// fast keeps the driver's polls and waits short.
var fast = analyzer.Options{Timeout: 2 * time.Second, PollInterval: time.Millisecond, ZeroWait: time.Millisecond}

// servePTY starts a simulator for rd on a pseudo-terminal and opens the real
// driver on its device path through analyzer.Open.
func servePTY(t *testing.T, rd *analyzersim.Readings, so analyzersim.Options, ao analyzer.Options) (*analyzersim.Sim, analyzer.Instrument, string) {
	t.Helper()
	sim, err := analyzersim.New(rd, so)
	if err != nil {
		t.Fatal(err)
	}
	path, stop, err := analyzersim.ServePTY(t.Context(), sim)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("simulator: %v", err)
		}
	})
	if ao.Timeout == 0 {
		ao.Timeout = fast.Timeout
	}
	inst, err := analyzer.Open(rd.Protocol+":"+path, ao)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { inst.Close() })
	return sim, inst, path
}

func value(t *testing.T, r analyzer.Reading, name string) float64 {
	t.Helper()
	q, ok := r.Value(name)
	if !ok {
		t.Fatalf("no %s in %v", name, r.Values)
	}
	return q.Value
}

// gasProtocols are the gas analyzers, each with a sample every one of them
// can encode exactly.
var gasProtocols = []string{
	analyzersim.ProtocolNHA506, analyzersim.ProtocolFLA502, analyzersim.ProtocolNHA503, analyzersim.ProtocolNHA503V,
	analyzersim.ProtocolMQW511, analyzersim.ProtocolNHA501A, analyzersim.ProtocolFLA501, analyzersim.ProtocolMQW50A,
	analyzersim.ProtocolFGA4100,
}

// TestEveryGasProtocolRoundTrips runs each real driver against the
// simulator of its protocol: both sides were written from the documents
// separately, so agreeing on the exact values checks each against the
// other. The second sample is the probe in air after a zero: negative.
func TestEveryGasProtocolRoundTrips(t *testing.T) {
	samples := []analyzersim.GasSample{
		{HC: 120, CO: 0.65, CO2: 13.8, O2: 0.8, NO: 300, Lambda: 0.99, RPM: 760, OilTemperature: 87},
		{HC: -3, CO: -0.01, CO2: 0, O2: 20.8, NO: -1, Lambda: 0, RPM: 0, OilTemperature: 25},
	}
	for _, p := range gasProtocols {
		t.Run(p, func(t *testing.T) {
			rd := &analyzersim.Readings{Protocol: p, Gas: samples}
			if p == analyzersim.ProtocolMQW511 || p == analyzersim.ProtocolNHA501A {
				rd.Gas[1].OilTemperature = 25 // unsigned on these
			}
			_, inst, path := servePTY(t, rd, analyzersim.Options{}, fast)
			for i, g := range samples {
				r, err := inst.Read(t.Context())
				if err != nil {
					t.Fatalf("read %d: %v", i, err)
				}
				for name, want := range map[string]float64{"hc": g.HC, "co": g.CO, "co2": g.CO2, "o2": g.O2, "no": g.NO,
					"lambda": g.Lambda, "rpm": g.RPM, "oil_temperature": g.OilTemperature} {
					if got := value(t, r, name); got != want {
						t.Errorf("read %d: %s = %v, want %v", i, name, got, want)
					}
				}
				if r.Instrument.Port != path || r.Instrument.Protocol != p {
					t.Errorf("instrument %+v", r.Instrument)
				}
			}
		})
	}
}

func TestOpacimetersRoundTrip(t *testing.T) {
	oil := 85.0
	samples := []analyzersim.OpacitySample{{N: 35.5, K: 1.02, RPM: 720, OilTemperature: &oil}, {N: 62.3, K: 2.27, RPM: 3150}}
	for _, p := range []string{analyzersim.ProtocolNHT6, analyzersim.ProtocolMQY200, analyzersim.ProtocolFTY100} {
		t.Run(p, func(t *testing.T) {
			rd := &analyzersim.Readings{Protocol: p, Opacity: &analyzersim.Opacity{Realtime: samples}}
			o := fast
			o.Method = analyzer.MethodRealtime
			_, inst, _ := servePTY(t, rd, analyzersim.Options{}, o)
			for i, s := range samples {
				r, err := inst.Read(t.Context())
				if err != nil {
					t.Fatalf("read %d: %v", i, err)
				}
				if n := value(t, r, "opacity_n"); n != s.N {
					t.Errorf("read %d: n %v", i, n)
				}
				k := value(t, r, "opacity_k")
				if p != analyzersim.ProtocolFTY100 && k != s.K {
					t.Errorf("read %d: k %v", i, k)
				}
				if p == analyzersim.ProtocolFTY100 && (k < s.K-0.1 || k > s.K+0.1) { // computed from N over 430 mm
					t.Errorf("read %d: computed k %v far from %v", i, k, s.K)
				}
				if _, has := r.Value("oil_temperature"); has != (s.OilTemperature != nil) {
					t.Errorf("read %d: oil temperature %v, sensor %v", i, r.Values, s.OilTemperature != nil)
				}
			}
		})
	}
	rd := load(t, "nht6-free-accel.yaml")
	_, inst, _ := servePTY(t, rd, analyzersim.Options{}, fast)
	r, err := inst.Read(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if k := value(t, r, "k_mean"); k != rd.Opacity.FreeAcceleration.KMean || r.Method != analyzer.MethodFreeAcceleration {
		t.Fatalf("result %v", r)
	}
}

// engine is a settable engine speed.
type engine struct{ rpm atomic.Int64 }

func (e *engine) RPM() float64 { return float64(e.rpm.Load()) }

func TestFollowsTheEngine(t *testing.T) {
	rd := load(t, "nha506-p0420.yaml")
	var e engine
	_, inst, _ := servePTY(t, rd, analyzersim.Options{Engine: &e}, fast)
	for _, tt := range []struct {
		rpm    int64
		hc, co float64
	}{{0, -3, -0.01}, {780, 180, 1.20}, {2500, 110, 0.90}, {3500, 110, 0.90}, {760, 180, 1.20}} {
		e.rpm.Store(tt.rpm)
		r, err := inst.Read(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if value(t, r, "rpm") != float64(tt.rpm) || value(t, r, "hc") != tt.hc || value(t, r, "co") != tt.co {
			t.Errorf("at %d rpm: %v", tt.rpm, r.Values)
		}
	}

	ord := load(t, "nht6-diesel.yaml")
	o := fast
	o.Method = analyzer.MethodRealtime
	_, oinst, _ := servePTY(t, ord, analyzersim.Options{Engine: &e}, o)
	d := oinst.(analyzer.PeakReader)
	e.rpm.Store(750)
	if err := d.ClearPeak(t.Context()); err != nil {
		t.Fatal(err)
	}
	e.rpm.Store(3900)
	if r, err := oinst.Read(t.Context()); err != nil || value(t, r, "opacity_k") != 0.95 {
		t.Fatalf("accelerating: %v %v", r, err)
	}
	e.rpm.Store(750)
	if r, err := oinst.Read(t.Context()); err != nil || value(t, r, "opacity_k") != 0.15 {
		t.Fatalf("idle: %v %v", r, err)
	}
	p, err := d.Peak(t.Context())
	if err != nil || value(t, p, "opacity_k") != 0.95 || value(t, p, "rpm") != 3900 {
		t.Fatalf("peak %v %v", p, err)
	}
}

func TestInstrumentDay(t *testing.T) {
	for _, p := range []string{analyzersim.ProtocolNHA506, analyzersim.ProtocolFLA502, analyzersim.ProtocolNHA503, analyzersim.ProtocolMQW50A} {
		t.Run(p, func(t *testing.T) {
			rd := &analyzersim.Readings{Protocol: p, Gas: []analyzersim.GasSample{{HC: 10, CO: 0.1}},
				Behaviour: analyzersim.Behaviour{WarmUpPolls: 2, ZeroPolls: 3, LeakPolls: 1}}
			sim, inst, _ := servePTY(t, rd, analyzersim.Options{}, fast)
			sr := inst.(analyzer.StateReader)
			for i := range 2 {
				st, err := sr.State(t.Context())
				if err != nil || st.Mode != analyzer.ModeWarmingUp {
					t.Fatalf("poll %d: %+v %v", i, st, err)
				}
			}
			if st, err := sr.State(t.Context()); err != nil || st.Mode != analyzer.ModeReady {
				t.Fatalf("after warm-up: %+v %v", st, err)
			}
			before := sim.Requests()
			if err := inst.(analyzer.Zeroer).Zero(t.Context()); err != nil {
				t.Fatal(err)
			}
			if n := sim.Requests() - before; n < 4 {
				t.Errorf("zero done after %d requests, want the running polls first", n)
			}
			if err := inst.(analyzer.LeakChecker).LeakCheck(t.Context()); err != nil {
				t.Fatal(err)
			}
			if err := inst.(analyzer.Pumper).Pump(t.Context(), analyzer.PumpProbe); err != nil {
				t.Fatal(err)
			}
			if p != analyzersim.ProtocolMQW50A {
				if st, err := sr.State(t.Context()); err != nil || st.Mode != analyzer.ModeMeasuring {
					t.Fatalf("pumping: %+v %v", st, err)
				}
			}
			rd.Behaviour = analyzersim.Behaviour{ZeroPolls: 1, ZeroFails: true, Leak: true}
			if err := sim.SetReadings(rd); err != nil {
				t.Fatal(err)
			}
			if err := inst.(analyzer.Zeroer).Zero(t.Context()); !errors.Is(err, analyzer.ErrZeroFailed) {
				t.Fatalf("zero: %v, want ErrZeroFailed", err)
			}
			if err := inst.(analyzer.LeakChecker).LeakCheck(t.Context()); !errors.Is(err, analyzer.ErrLeak) {
				t.Fatalf("leak check: %v, want ErrLeak", err)
			}
		})
	}
	t.Run("nht6 calibration", func(t *testing.T) {
		rd := load(t, "nht6-diesel.yaml")
		rd.Behaviour.WarmUpPolls = 1
		_, inst, _ := servePTY(t, rd, analyzersim.Options{}, fast)
		if st, err := inst.(analyzer.StateReader).State(t.Context()); err != nil || st.Mode != analyzer.ModeWarmingUp {
			t.Fatalf("%+v %v", st, err)
		}
		if err := inst.(analyzer.Zeroer).Zero(t.Context()); err != nil {
			t.Fatal(err)
		}
		rd.Opacity.CalibrationFails = true
		rd.Behaviour.WarmUpPolls = 0
		_, inst, _ = servePTY(t, rd, analyzersim.Options{}, fast)
		if err := inst.(analyzer.Zeroer).Zero(t.Context()); !errors.Is(err, analyzer.ErrZeroFailed) {
			t.Fatalf("calibration: %v, want ErrZeroFailed", err)
		}
	})
	for _, p := range []string{analyzersim.ProtocolNHA501A, analyzersim.ProtocolFLA501, analyzersim.ProtocolFGA4100, analyzersim.ProtocolFTY100} {
		t.Run(p+" zero", func(t *testing.T) {
			rd := &analyzersim.Readings{Protocol: p, Gas: []analyzersim.GasSample{{HC: 10}}}
			if p == analyzersim.ProtocolFTY100 {
				rd = &analyzersim.Readings{Protocol: p, Opacity: &analyzersim.Opacity{Realtime: []analyzersim.OpacitySample{{N: 1}}, CalibrationPolls: 1}}
			}
			_, inst, _ := servePTY(t, rd, analyzersim.Options{}, fast)
			if err := inst.(analyzer.Zeroer).Zero(t.Context()); err != nil {
				t.Fatal(err)
			}
			if pu, ok := inst.(analyzer.Pumper); ok {
				if err := pu.Pump(t.Context(), analyzer.PumpProbe); err != nil {
					t.Fatal(err)
				}
				if err := pu.Pump(t.Context(), analyzer.PumpStop); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

func TestFaults(t *testing.T) {
	rd := &analyzersim.Readings{Protocol: analyzersim.ProtocolNHA506, Gas: []analyzersim.GasSample{{HC: 180, CO: 1.2}}}
	t.Run("bad checksum counted and re-sent", func(t *testing.T) {
		sim, inst, _ := servePTY(t, rd, analyzersim.Options{Faults: analyzersim.Faults{BadChecksum: 1}}, fast)
		r, err := inst.Read(t.Context())
		if err != nil || value(t, r, "hc") != 180 {
			t.Fatalf("%v %v", r, err)
		}
		if st := inst.(*analyzer.NHA).Stats(); st.BadFrames != 1 || st.Frames != 1 || sim.Requests() != 2 {
			t.Fatalf("stats %+v, %d requests", st, sim.Requests())
		}
	})
	t.Run("garbage before the reply", func(t *testing.T) {
		for _, p := range []string{analyzersim.ProtocolNHA506, analyzersim.ProtocolMQW50A, analyzersim.ProtocolFGA4100, analyzersim.ProtocolNHT6} {
			rd := &analyzersim.Readings{Protocol: p, Gas: []analyzersim.GasSample{{HC: 42}}}
			o := fast
			if p == analyzersim.ProtocolNHT6 {
				rd = &analyzersim.Readings{Protocol: p, Opacity: &analyzersim.Opacity{Realtime: []analyzersim.OpacitySample{{N: 1, K: 0.5}}}}
				o.Method = analyzer.MethodRealtime
			}
			_, inst, _ := servePTY(t, rd, analyzersim.Options{Faults: analyzersim.Faults{Garbage: []byte{0x00, 0xFF, 0x13}}}, o)
			if _, err := inst.Read(t.Context()); err != nil {
				t.Fatalf("%s: %v", p, err)
			}
			if st := inst.(interface{ Stats() analyzer.Stats }).Stats(); st.Discarded == 0 && st.BadFrames == 0 {
				t.Fatalf("%s: garbage unnoticed: %+v", p, st)
			}
		}
	})
	t.Run("busy and NAK", func(t *testing.T) {
		sim, inst, _ := servePTY(t, rd, analyzersim.Options{}, fast)
		pu := inst.(analyzer.Pumper)
		sim.Inject(analyzersim.Faults{Busy: 1})
		if err := pu.Pump(t.Context(), analyzer.PumpProbe); !errors.Is(err, analyzer.ErrBusy) {
			t.Fatalf("busy: %v", err)
		}
		sim.Inject(analyzersim.Faults{NAK: 1})
		if err := pu.Pump(t.Context(), analyzer.PumpProbe); !errors.Is(err, analyzer.ErrNAK) {
			t.Fatalf("nak: %v", err)
		}
		if err := pu.Pump(t.Context(), analyzer.PumpProbe); err != nil {
			t.Fatal(err)
		}
		osim, oinst, _ := servePTY(t, load(t, "nht6-free-accel.yaml"), analyzersim.Options{}, fast)
		osim.Inject(analyzersim.Faults{NAK: 1, NAKCode: 0x42})
		_, err := oinst.Read(t.Context())
		var nak *analyzer.NAKError
		if !errors.As(err, &nak) || nak.Code != 0x42 {
			t.Fatalf("err = %v, want NAK code 0x42", err)
		}
	})
	t.Run("silent, then back", func(t *testing.T) {
		sim, inst, path := servePTY(t, rd, analyzersim.Options{Silent: true}, fast)
		ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
		defer cancel()
		if _, err := inst.Read(ctx); !errors.Is(err, analyzer.ErrNoResponse) || !strings.Contains(err.Error(), path) {
			t.Fatalf("err = %v, want ErrNoResponse naming %s", err, path)
		}
		sim.SetSilent(false)
		if _, err := inst.Read(t.Context()); err != nil {
			t.Fatalf("after silence: %v", err)
		}
	})
}

func TestLoadRejects(t *testing.T) {
	tests := []struct{ name, yaml, field string }{
		{"unknown field", "protocol: nha506\ngas: [{hc: 1, carbon: 2}]\n", "carbon"},
		{"unknown protocol", "protocol: xyz\n", "protocol"},
		{"not exact", "protocol: nha506\ngas: [{co: 1.205}]\n", "gas[0].co"},
		{"negative unsigned oil", "protocol: mqw511\ngas: [{oil_temperature: -1}]\n", "gas[0].oil_temperature"},
		{"too big", "protocol: fga4100\ngas: [{rpm: 10000}]\n", "gas[0].rpm"},
		{"fga 0.1 resolution", "protocol: fga4100\ngas: [{co2: 13.15}]\n", "gas[0].co2"},
		{"flow on mqw", "protocol: mqw511\ngas: [{flow: 3}]\n", "flow"},
		{"no samples", "protocol: nha506\n", "gas samples"},
		{"idle without high idle", "protocol: nha506\nidle: {hc: 1}\n", "high_idle"},
		{"not whole kelvin", "protocol: nht6\nopacity: {realtime: [{oil_temperature: 84.85}]}\n", "oil_temperature"},
		{"opacity without samples", "protocol: nht6\nopacity: {calibration_polls: 1}\n", "realtime"},
		{"result on mqy200", "protocol: mqy200\nopacity: {realtime: [{n: 1}], free_acceleration: {k1: 1}}\n", "free_acceleration"},
		{"negative polls", "protocol: nha506\ngas: [{hc: 1}]\nbehaviour: {zero_polls: -1}\n", "behaviour"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := analyzersim.Load(strings.NewReader(tt.yaml))
			if !errors.Is(err, analyzersim.ErrInvalid) || !strings.Contains(err.Error(), tt.field) {
				t.Fatalf("err = %v, want ErrInvalid naming %q", err, tt.field)
			}
		})
	}
}

func TestEveryTestdataFileLoads(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(testdata, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no readings files: %v", err)
	}
	for _, f := range files {
		if _, err := analyzersim.LoadFile(f); err != nil {
			t.Error(err)
		}
	}
}

func FuzzLoad(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join(testdata, "*.yaml"))
	for _, p := range files {
		f.Add(p)
	}
	f.Add("protocol: nha506\ngas: [{hc: 1, co: 0.5}]\n")
	f.Add("protocol: nht6\nopacity: {realtime: [{n: 1, k: 2, oil_temperature: 85}]}\n")
	f.Add("protocol: fga4100\ngas: [{co2: 13.1, oil_temperature: -0.5}]\n")
	f.Fuzz(func(t *testing.T, s string) {
		rd, err := analyzersim.Load(strings.NewReader(s))
		if err != nil {
			if !errors.Is(err, analyzersim.ErrInvalid) {
				t.Fatalf("error not ErrInvalid: %v", err)
			}
			return
		}
		if _, err := analyzersim.New(rd, analyzersim.Options{}); err != nil {
			t.Fatalf("loaded but New fails: %v", err)
		}
	})
}

// TestSetReadings: the simulator switches to other readings while it
// serves; readings of another protocol are refused.
func TestSetReadings(t *testing.T) {
	before, after := load(t, "nha506-before.yaml"), load(t, "nha506-after.yaml")
	sim, inst, _ := servePTY(t, before, analyzersim.Options{}, fast)
	r, err := inst.Read(t.Context())
	if err != nil || value(t, r, "hc") != before.Gas[0].HC {
		t.Fatalf("before: %v %v", r, err)
	}
	if err := sim.SetReadings(after); err != nil {
		t.Fatal(err)
	}
	r, err = inst.Read(t.Context())
	if err != nil || value(t, r, "hc") != after.Gas[0].HC {
		t.Fatalf("after: %v %v", r, err)
	}
	if err := sim.SetReadings(load(t, "fga4100-after.yaml")); err == nil {
		t.Error("readings of another protocol accepted")
	}
}
