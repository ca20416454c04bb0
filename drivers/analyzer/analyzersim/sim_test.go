package analyzersim_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
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

// wantGas is what the driver must report for a gas sample: the file's
// values, exactly.
func wantGas(protocol string, g analyzersim.GasSample) ([]analyzer.Quantity, []string) {
	q := []analyzer.Quantity{
		{Name: "hc", Value: g.HC, Unit: "ppm"},
		{Name: "co", Value: g.CO, Unit: "%vol"},
		{Name: "co2", Value: g.CO2, Unit: "%vol"},
		{Name: "o2", Value: g.O2, Unit: "%vol"},
		{Name: "no", Value: g.NO, Unit: "ppm"},
		{Name: "lambda", Value: g.Lambda, Unit: ""},
		{Name: "rpm", Value: g.RPM, Unit: "rpm"},
		{Name: "oil_temperature", Value: g.OilTemperature, Unit: "°C"},
	}
	if protocol == analyzersim.ProtocolNHA506 {
		q = append(q, analyzer.Quantity{Name: "flow", Value: g.Flow, Unit: ""})
	}
	var s []string
	if g.O2SensorAged {
		s = append(s, "o2_sensor_aged")
	}
	if g.NOSensorAged {
		s = append(s, "no_sensor_aged")
	}
	return q, s
}

func sameValues(t *testing.T, what string, got analyzer.Reading, want []analyzer.Quantity, wantStatus []string) {
	t.Helper()
	if fmt.Sprint(got.Values) != fmt.Sprint(want) || len(got.Values) != len(want) {
		t.Fatalf("%s: values\n got %v\nwant %v", what, got.Values, want)
	}
	for i := range want {
		if got.Values[i] != want[i] { // exact float equality: the file's decimals
			t.Fatalf("%s: value %d: got %#v, want %#v", what, i, got.Values[i], want[i])
		}
	}
	if strings.Join(got.Status, ",") != strings.Join(wantStatus, ",") {
		t.Fatalf("%s: status %q, want %q", what, got.Status, wantStatus)
	}
}

// firstOnly keeps the first sample of a readings file, so that a re-request
// after an injected fault gets the same values.
func firstOnly(rd *analyzersim.Readings) *analyzersim.Readings {
	if len(rd.Gas) > 1 {
		rd.Gas = rd.Gas[:1]
	}
	if rd.Opacity != nil && len(rd.Opacity.Realtime) > 1 {
		rd.Opacity.Realtime = rd.Opacity.Realtime[:1]
	}
	return rd
}

// servePTY starts a simulator for the readings file on a pseudo-terminal and
// opens the real driver on its device path through analyzer.Open.
func servePTY(t *testing.T, rd *analyzersim.Readings, driver string, so analyzersim.Options, ao analyzer.Options) (*analyzersim.Sim, analyzer.Instrument, string) {
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
		ao.Timeout = 2 * time.Second
	}
	inst, err := analyzer.Open(driver+":"+path, ao)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { inst.Close() })
	return sim, inst, path
}

func TestPTYRoundTripGas(t *testing.T) {
	tests := []struct{ file, driver, model string }{
		{"nha506-before.yaml", "nha506", "NHA-506"},
		{"nha506-after.yaml", "nha506", "NHA-506"},
		{"nha506-after.yaml", "fla502", "FLA-502"},
		{"mqw511-before.yaml", "mqw511", "MQW-511"},
		{"fga4100-after.yaml", "fga4100", "FGA-4100"},
	}
	for _, tt := range tests {
		t.Run(tt.file+"/"+tt.driver, func(t *testing.T) {
			rd := load(t, tt.file)
			_, inst, path := servePTY(t, rd, tt.driver, analyzersim.Options{}, analyzer.Options{Method: analyzer.MethodTwoSpeedIdle})
			// One more read than samples: the last sample repeats.
			for i := 0; i <= len(rd.Gas); i++ {
				g := rd.Gas[min(i, len(rd.Gas)-1)]
				r, err := inst.Read(t.Context())
				if err != nil {
					t.Fatalf("read %d: %v", i, err)
				}
				want, status := wantGas(rd.Protocol, g)
				sameValues(t, fmt.Sprintf("read %d", i), r, want, status)
				wantID := analyzer.InstrumentID{Model: tt.model, Port: path, Protocol: rd.Protocol}
				if r.Instrument != wantID || r.Method != analyzer.MethodTwoSpeedIdle || r.Time.IsZero() {
					t.Fatalf("read %d: instrument %+v method %q time %v", i, r.Instrument, r.Method, r.Time)
				}
			}
			if a := rd.Ambient; a != nil {
				r, err := inst.(*analyzer.NHA506).Ambient(t.Context())
				if err != nil {
					t.Fatal(err)
				}
				sameValues(t, "ambient", r, []analyzer.Quantity{
					{Name: "ambient_temperature", Value: a.Temperature, Unit: "°C"},
					{Name: "ambient_pressure", Value: a.Pressure, Unit: "kPa"},
					{Name: "ambient_humidity", Value: a.Humidity, Unit: "%"},
				}, nil)
			}
		})
	}
}

func TestPTYRoundTripOpacimeter(t *testing.T) {
	rd := load(t, "nht6-free-accel.yaml")
	_, inst, path := servePTY(t, rd, "mqy200", analyzersim.Options{}, analyzer.Options{})
	r, err := inst.Read(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	fa := rd.Opacity.FreeAcceleration
	sameValues(t, "free acceleration", r, []analyzer.Quantity{
		{Name: "k1", Value: fa.K1, Unit: "m^-1"},
		{Name: "k2", Value: fa.K2, Unit: "m^-1"},
		{Name: "k3", Value: fa.K3, Unit: "m^-1"},
		{Name: "k_mean", Value: fa.KMean, Unit: "m^-1"},
		{Name: "idle_rpm", Value: fa.IdleRPM, Unit: "rpm"},
	}, nil)
	if r.Method != analyzer.MethodFreeAcceleration || r.Instrument != (analyzer.InstrumentID{Model: "MQY-200", Port: path, Protocol: "nht6"}) {
		t.Fatalf("method %q instrument %+v", r.Method, r.Instrument)
	}
	d := inst.(*analyzer.NHT6)
	for i, s := range rd.Opacity.Realtime {
		r, err := d.Realtime(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		sameValues(t, fmt.Sprintf("realtime %d", i), r, []analyzer.Quantity{
			{Name: "opacity_n", Value: s.N, Unit: "%"},
			{Name: "opacity_k", Value: s.K, Unit: "m^-1"},
			{Name: "rpm", Value: s.RPM, Unit: "rpm"},
			{Name: "oil_temperature", Value: *s.OilTemperature, Unit: "°C"},
		}, nil)
	}
	if st, err := d.SetStatus(t.Context(), 0x02); err != nil || st != 0x02 {
		t.Fatalf("SetStatus = %#x, %v", st, err)
	}
	if st, err := d.Status(t.Context()); err != nil || st != 0x02 {
		t.Fatalf("Status = %#x, %v", st, err)
	}
}

func TestPTYBadChecksumCountedAndResent(t *testing.T) {
	sim, inst, _ := servePTY(t, firstOnly(load(t, "nha506-before.yaml")), "nha506", analyzersim.Options{Faults: analyzersim.Faults{BadChecksum: 1}}, analyzer.Options{})
	r, err := inst.Read(t.Context())
	if err != nil {
		t.Fatalf("read after one bad frame: %v", err)
	}
	if hc, _ := r.Value("hc"); hc.Value != 180 {
		t.Fatalf("hc = %v", hc)
	}
	st := inst.(*analyzer.NHA506).Stats()
	if st.BadFrames != 1 || st.Frames != 1 || sim.Requests() != 2 {
		t.Fatalf("stats %+v, requests %d; want 1 bad frame, 1 good, 2 requests", st, sim.Requests())
	}
}

func TestPTYBadChecksumWithoutRetry(t *testing.T) {
	sim, inst, _ := servePTY(t, firstOnly(load(t, "nht6-free-accel.yaml")), "nht6", analyzersim.Options{}, analyzer.Options{Retries: -1})
	sim.Inject(analyzersim.Faults{BadChecksum: 1})
	if _, err := inst.Read(t.Context()); !errors.Is(err, analyzer.ErrChecksum) || !errors.Is(err, analyzer.ErrBadFrame) {
		t.Fatalf("err = %v, want ErrChecksum", err)
	}
	if _, err := inst.Read(t.Context()); err != nil {
		t.Fatalf("next read: %v", err)
	}
	if st := inst.(*analyzer.NHT6).Stats(); st.BadFrames != 1 || st.Frames != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestPTYGarbageResync(t *testing.T) {
	tests := []struct {
		file, driver string
		garbage      string
	}{
		{"nha506-before.yaml", "nha506", "\x00\xff\x13\x37noise"},
		{"nha506-before.yaml", "nha506", "\x06\x01\x02"}, // a false header: bad frame, re-request
		{"mqw511-before.yaml", "mqw511", "\xfe\xfd"},
		{"fga4100-after.yaml", "fga4100", "\x01\x02\x7e\x00"},
		{"nht6-free-accel.yaml", "nht6", "\x00\x11\x22"},
	}
	for _, tt := range tests {
		t.Run(tt.driver, func(t *testing.T) {
			rd := load(t, tt.file)
			_, inst, _ := servePTY(t, firstOnly(rd), tt.driver, analyzersim.Options{Faults: analyzersim.Faults{Garbage: []byte(tt.garbage)}}, analyzer.Options{})
			r, err := inst.Read(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if rd.Protocol == analyzersim.ProtocolNHT6 {
				if k, _ := r.Value("k_mean"); k.Value != rd.Opacity.FreeAcceleration.KMean {
					t.Fatalf("k_mean = %v", k)
				}
			} else {
				want, status := wantGas(rd.Protocol, rd.Gas[0])
				sameValues(t, "after garbage", r, want, status)
			}
			st := inst.(interface{ Stats() analyzer.Stats }).Stats()
			if st.Discarded == 0 && st.BadFrames == 0 {
				t.Fatalf("stats %+v: garbage neither discarded nor counted", st)
			}
		})
	}
}

func TestPTYSilent(t *testing.T) {
	for _, driver := range []string{"nha506", "fga4100"} {
		t.Run(driver, func(t *testing.T) {
			file := map[string]string{"nha506": "nha506-after.yaml", "fga4100": "fga4100-after.yaml"}[driver]
			sim, inst, path := servePTY(t, firstOnly(load(t, file)), driver, analyzersim.Options{Silent: true}, analyzer.Options{})
			const deadline = 300 * time.Millisecond
			ctx, cancel := context.WithTimeout(t.Context(), deadline)
			defer cancel()
			start := time.Now()
			_, err := inst.Read(ctx)
			if !errors.Is(err, analyzer.ErrNoResponse) || !strings.Contains(err.Error(), path) {
				t.Fatalf("err = %v, want ErrNoResponse naming %s", err, path)
			}
			if took := time.Since(start); took > deadline+time.Second {
				t.Fatalf("took %v with a %v deadline", took, deadline)
			}
			// The instrument comes back: the driver recovers.
			sim.SetSilent(false)
			if _, err := inst.Read(t.Context()); err != nil {
				t.Fatalf("after silence: %v", err)
			}
		})
	}
}

func TestPTYBusyAndNAK(t *testing.T) {
	sim, inst, _ := servePTY(t, firstOnly(load(t, "nha506-after.yaml")), "nha506", analyzersim.Options{}, analyzer.Options{})
	d := inst.(*analyzer.NHA506)
	sim.Inject(analyzersim.Faults{Busy: 1})
	if err := d.Command(t.Context(), analyzer.CmdZero); !errors.Is(err, analyzer.ErrBusy) {
		t.Fatalf("zero while busy: %v", err)
	}
	if err := d.Command(t.Context(), analyzer.CmdZero); err != nil {
		t.Fatalf("zero: %v", err)
	}
	sim.Inject(analyzersim.Faults{NAK: 1})
	if _, err := d.Read(t.Context()); !errors.Is(err, analyzer.ErrNAK) {
		t.Fatalf("read refused: %v", err)
	}
	if err := d.Command(t.Context(), analyzer.Command(0x7F)); !errors.Is(err, analyzer.ErrNAK) {
		t.Fatalf("unknown command: %v", err)
	}

	osim, oinst, _ := servePTY(t, firstOnly(load(t, "nht6-free-accel.yaml")), "nht6", analyzersim.Options{}, analyzer.Options{})
	osim.Inject(analyzersim.Faults{NAK: 1, NAKCode: 0x42})
	_, err := oinst.Read(t.Context())
	var nak *analyzer.NAKError
	if !errors.As(err, &nak) || nak.Code != 0x42 || !errors.Is(err, analyzer.ErrNAK) {
		t.Fatalf("err = %v, want NAK code 0x42", err)
	}
}

func TestLoadRejects(t *testing.T) {
	tests := []struct{ name, yaml, field string }{
		{"unknown field", "protocol: nha506\ngas: [{hc: 1, carbon: 2}]\n", "carbon"},
		{"unknown protocol", "protocol: xyz\n", "protocol"},
		{"not exact", "protocol: nha506\ngas: [{co: 1.205}]\n", "gas[0].co"},
		{"negative", "protocol: mqw511\ngas: [{hc: -1}]\n", "gas[0].hc"},
		{"too big", "protocol: fga4100\ngas: [{rpm: 10000}]\n", "gas[0].rpm"},
		{"fga 0.1 resolution", "protocol: fga4100\ngas: [{co2: 13.15}]\n", "gas[0].co2"},
		{"flow on mqw", "protocol: mqw511\ngas: [{flow: 3}]\n", "flow"},
		{"no samples", "protocol: nha506\n", "gas sample"},
		{"not whole kelvin", "protocol: nht6\nopacity: {realtime: [{oil_temperature: 85}]}\n", "oil_temperature"},
		{"opacity without realtime", "protocol: nht6\nopacity: {status: 1}\n", "realtime"},
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
		rd, err := analyzersim.LoadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		_ = rd
	}
	f.Add("protocol: nha506\ngas: [{hc: 1, co: 0.5}]\n")
	f.Add("protocol: nht6\nopacity: {realtime: [{n: 1, k: 2, oil_temperature: 84.85}]}\n")
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
// serves, from their first sample; readings of another protocol are refused.
func TestSetReadings(t *testing.T) {
	before, after := load(t, "nha506-before.yaml"), load(t, "nha506-after.yaml")
	sim, inst, _ := servePTY(t, before, "nha506", analyzersim.Options{}, analyzer.Options{})
	read := func() analyzer.Reading {
		t.Helper()
		r, err := inst.Read(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	want, status := wantGas(before.Protocol, before.Gas[0])
	sameValues(t, "before", read(), want, status)
	if err := sim.SetReadings(after); err != nil {
		t.Fatal(err)
	}
	want, status = wantGas(after.Protocol, after.Gas[0])
	sameValues(t, "after", read(), want, status)
	if err := sim.SetReadings(load(t, "fga4100-after.yaml")); err == nil {
		t.Error("readings of another protocol accepted")
	}
}
