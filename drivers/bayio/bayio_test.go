package bayio_test

import (
	"errors"
	"runtime"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"periph.io/x/conn/v3/gpio"

	"github.com/bayagent/bayagent/drivers/bayio"
	"github.com/bayagent/bayagent/drivers/bayio/bayiotest"
)

// In these tests time.Sleep runs inside a synctest bubble: it advances the
// fake clock once every goroutine of the bubble is blocked, it never waits.

type box struct {
	btn                                    *bayiotest.Pin
	ready, vehicle, stored, offline, fault *bayiotest.Pin
	buzzer                                 *bayiotest.Pin
	bay                                    *bayio.Bay
}

func newPins() *box {
	return &box{
		btn:     &bayiotest.Pin{N: "GPIO17", EdgesChan: make(chan gpio.Level)},
		ready:   &bayiotest.Pin{N: "GPIO5"},
		vehicle: &bayiotest.Pin{N: "GPIO6"},
		stored:  &bayiotest.Pin{N: "GPIO13"},
		offline: &bayiotest.Pin{N: "GPIO19"},
		fault:   &bayiotest.Pin{N: "GPIO26"},
		buzzer:  &bayiotest.Pin{N: "GPIO21"},
	}
}

func (b *box) pins() bayio.Pins {
	return bayio.Pins{Button: b.btn, Ready: b.ready, Vehicle: b.vehicle, Stored: b.stored,
		Offline: b.offline, Fault: b.fault, Buzzer: b.buzzer}
}

// newBox starts a Bay on fake pins and halts it when the test ends.
func newBox(t *testing.T, opts bayio.Options) *box {
	t.Helper()
	b := newPins()
	bay, err := bayio.New(b.pins(), opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	b.bay = bay
	t.Cleanup(func() {
		if err := bay.Halt(); err != nil {
			t.Errorf("Halt: %v", err)
		}
	})
	return b
}

// step is one action on the button line: wait, then (unless noEdge) drive
// the line to level.
type step struct {
	wait   time.Duration
	level  gpio.Level
	noEdge bool
}

func press(d time.Duration) []step {
	return []step{{level: gpio.Low}, {wait: d, level: gpio.High}}
}

// play drives the button line through steps and returns the time of each
// step's edge.
func (b *box) play(steps []step) []time.Time {
	at := make([]time.Time, len(steps))
	for i, s := range steps {
		time.Sleep(s.wait)
		if !s.noEdge {
			b.btn.EdgesChan <- s.level
		}
		at[i] = time.Now()
	}
	return at
}

// drain returns the presses delivered so far, after the bubble settles.
func (b *box) drain() []bayio.Press {
	synctest.Wait()
	var got []bayio.Press
	for {
		select {
		case p := <-b.bay.Presses():
			got = append(got, p)
		default:
			return got
		}
	}
}

func TestNewConfiguresPins(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts bayio.Options
		pull gpio.Pull
	}{
		{"active-low default", bayio.Options{}, gpio.PullUp},
		{"active-high", bayio.Options{ActiveHigh: true}, gpio.PullDown},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				b := newBox(t, tc.opts)
				if got := b.btn.Pull(); got != tc.pull {
					t.Errorf("button pull = %v, want %v", got, tc.pull)
				}
				if got := b.btn.Edge(); got != gpio.BothEdges {
					t.Errorf("button edge = %v, want BothEdges", got)
				}
				for _, p := range []*bayiotest.Pin{b.ready, b.vehicle, b.stored, b.offline, b.fault, b.buzzer} {
					outs := p.Outs()
					if len(outs) != 1 || outs[0].Level != gpio.Low {
						t.Errorf("%s: Outs = %v, want one Low", p, outs)
					}
				}
			})
		})
	}
}

func TestPresses(t *testing.T) {
	ms := time.Millisecond
	for _, tc := range []struct {
		name  string
		opts  bayio.Options
		steps []step
		want  []bayio.Press // At is set from from
		from  []int         // per press: the step whose edge began it
	}{
		{
			name:  "clean short press",
			steps: press(300 * ms),
			want:  []bayio.Press{{}},
			from:  []int{0},
		},
		{
			name: "bouncy press and release coalesce",
			steps: []step{
				{level: gpio.Low}, {wait: 3 * ms, level: gpio.High}, {wait: 2 * ms, level: gpio.Low},
				{wait: 10 * ms, level: gpio.High}, {wait: 1 * ms, level: gpio.Low},
				{wait: 400 * ms, level: gpio.High}, {wait: 4 * ms, level: gpio.Low}, {wait: 4 * ms, level: gpio.High},
			},
			want: []bayio.Press{{}},
			from: []int{4},
		},
		{
			name:  "glitch shorter than debounce is ignored",
			steps: []step{{level: gpio.Low}, {wait: 20 * ms, level: gpio.High}},
		},
		{
			name:  "press just longer than debounce counts",
			steps: press(60 * ms),
			want:  []bayio.Press{{}},
			from:  []int{0},
		},
		{
			name: "press ended by a bounce within debounce still counts once",
			steps: []step{
				{level: gpio.Low}, {wait: 100 * ms, level: gpio.High}, {wait: 30 * ms, level: gpio.Low},
				{wait: 30 * ms, level: gpio.High},
			},
			want: []bayio.Press{{}},
			from: []int{0},
		},
		{
			name:  "custom debounce",
			opts:  bayio.Options{Debounce: 5 * ms},
			steps: press(20 * ms),
			want:  []bayio.Press{{}},
			from:  []int{0},
		},
		{
			name:  "long press",
			steps: press(2500 * ms),
			want:  []bayio.Press{{Long: true}},
			from:  []int{0},
		},
		{
			name:  "just short of long",
			steps: press(1990 * ms),
			want:  []bayio.Press{{}},
			from:  []int{0},
		},
		{
			name: "bounce near the threshold still makes a long press",
			steps: []step{
				{level: gpio.Low}, {wait: 1990 * ms, level: gpio.High}, {wait: 20 * ms, level: gpio.Low},
				{wait: 500 * ms, level: gpio.High},
			},
			// The 20 ms release is a glitch: the press still began at 0.
			want: []bayio.Press{{Long: true}},
			from: []int{0},
		},
		{
			name:  "custom long press",
			opts:  bayio.Options{LongPress: 500 * ms},
			steps: press(600 * ms),
			want:  []bayio.Press{{Long: true}},
			from:  []int{0},
		},
		{
			name: "active-high button",
			opts: bayio.Options{ActiveHigh: true},
			steps: []step{
				{level: gpio.High}, {wait: 200 * ms, level: gpio.Low},
			},
			want: []bayio.Press{{}},
			from: []int{0},
		},
		{
			name:  "active-high button ignores the idle level",
			opts:  bayio.Options{ActiveHigh: true},
			steps: []step{{level: gpio.Low}, {wait: 200 * ms, level: gpio.Low}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				b := newBox(t, tc.opts)
				at := b.play(append(tc.steps, step{wait: time.Second, noEdge: true}))
				got := b.drain()
				if len(got) != len(tc.want) {
					t.Fatalf("got %d presses %v, want %d", len(got), got, len(tc.want))
				}
				for i, w := range tc.want {
					w.At = at[tc.from[i]]
					if got[i] != w {
						t.Errorf("press %d = %+v, want %+v", i, got[i], w)
					}
				}
			})
		})
	}
}

func TestLongPressDeliveredWhileHeld(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBox(t, bayio.Options{})
		start := b.play([]step{{level: gpio.Low}})[0]
		time.Sleep(1900 * time.Millisecond)
		if got := b.drain(); len(got) != 0 {
			t.Fatalf("presses before the threshold: %v", got)
		}
		time.Sleep(100 * time.Millisecond)
		synctest.Wait()
		select {
		case p := <-b.bay.Presses():
			if !p.Long || !p.At.Equal(start) {
				t.Errorf("press = %+v, want long from %v", p, start)
			}
		default:
			t.Fatal("no long press at 2 s while still held")
		}
		// Releasing it does not report the same press again.
		b.play([]step{{wait: 3 * time.Second, level: gpio.High}, {wait: time.Second, noEdge: true}})
		if got := b.drain(); len(got) != 0 {
			t.Errorf("release after long press delivered %v", got)
		}
	})
}

func TestUnreadPressIsReplaced(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBox(t, bayio.Options{})
		b.play(press(100 * time.Millisecond))
		b.play(append(press(2100*time.Millisecond), step{wait: 200 * time.Millisecond, noEdge: true}))
		// The watcher did not block on the full channel: a third press
		// still gets through after the second replaced the first.
		at := b.play(append(press(100*time.Millisecond), step{wait: 200 * time.Millisecond, noEdge: true}))
		got := b.drain()
		want := []bayio.Press{{At: at[0]}}
		if len(got) != 1 || got[0] != want[0] {
			t.Errorf("presses = %v, want %v", got, want)
		}
	})
}

func TestHeldPressesAfterOnesRead(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBox(t, bayio.Options{})
		for i := range 3 {
			at := b.play(append(press(150*time.Millisecond), step{wait: 100 * time.Millisecond, noEdge: true}))
			got := b.drain()
			if len(got) != 1 || !got[0].At.Equal(at[0]) || got[0].Long {
				t.Fatalf("press %d: got %v, want one short press at %v", i, got, at[0])
			}
		}
	})
}

// pulse is an output level change relative to a start time.
type pulse struct {
	after time.Duration
	level gpio.Level
}

// since returns p's Out calls after the first (New's Low), relative to t0.
func since(p *bayiotest.Pin, t0 time.Time) []pulse {
	var out []pulse
	for _, c := range p.Outs()[1:] {
		out = append(out, pulse{c.At.Sub(t0), c.Level})
	}
	return out
}

func equalPulses(a, b []pulse) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestStored(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBox(t, bayio.Options{})
		time.Sleep(time.Second)
		t0 := time.Now()
		b.bay.Stored()
		time.Sleep(2 * time.Second)
		ms := time.Millisecond
		if got, want := since(b.stored, t0), []pulse{{0, gpio.High}, {200 * ms, gpio.Low}}; !equalPulses(got, want) {
			t.Errorf("stored LED = %v, want %v", got, want)
		}
		if got, want := since(b.buzzer, t0), []pulse{{0, gpio.High}, {80 * ms, gpio.Low}}; !equalPulses(got, want) {
			t.Errorf("buzzer = %v, want %v", got, want)
		}
		for _, p := range []*bayiotest.Pin{b.ready, b.vehicle, b.offline, b.fault} {
			if n := len(p.Outs()); n != 1 {
				t.Errorf("%s written %d times, want only New's", p, n)
			}
		}
	})
}

func TestBlink(t *testing.T) {
	ms := time.Millisecond
	for _, tc := range []struct {
		name   string
		steady bool
		n      int
		want   []pulse
	}{
		{"three blinks", false, 3, []pulse{
			{0, gpio.High}, {200 * ms, gpio.Low}, {400 * ms, gpio.High}, {600 * ms, gpio.Low},
			{800 * ms, gpio.High}, {1000 * ms, gpio.Low},
		}},
		{"blinks on a lit LED end lit", true, 2, []pulse{
			{0, gpio.High}, {200 * ms, gpio.Low}, {400 * ms, gpio.High}, {600 * ms, gpio.Low},
			{800 * ms, gpio.High},
		}},
		{"zero blinks do nothing", false, 0, nil},
		{"negative blinks do nothing", false, -4, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				b := newBox(t, bayio.Options{})
				t0 := time.Now()
				b.bay.Set(bayio.LightOffline, tc.steady)
				b.bay.Blink(bayio.LightOffline, tc.n)
				time.Sleep(5 * time.Second)
				if got := since(b.offline, t0); !equalPulses(got, tc.want) {
					t.Errorf("offline LED = %v, want %v", got, tc.want)
				}
			})
		})
	}
}

func TestBlinkRestarts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBox(t, bayio.Options{})
		b.bay.Blink(bayio.LightReady, 5)
		time.Sleep(250 * time.Millisecond) // inside the first dark phase
		b.bay.Blink(bayio.LightReady, 1)
		time.Sleep(5 * time.Second)
		if got := b.ready.Pulses(); got != 2 {
			t.Errorf("pulses = %d, want 2 (one of the first Blink, one of its replacement)", got)
		}
		if got := b.ready.Read(); got != gpio.Low {
			t.Errorf("ready LED ends %v, want Low", got)
		}
	})
}

func TestBeepPatterns(t *testing.T) {
	ms := time.Millisecond
	for _, tc := range []struct {
		p    bayio.Pattern
		want []pulse
	}{
		{bayio.BeepShort, []pulse{{0, gpio.High}, {80 * ms, gpio.Low}}},
		{bayio.BeepLong, []pulse{{0, gpio.High}, {600 * ms, gpio.Low}}},
		{bayio.BeepError, []pulse{
			{0, gpio.High}, {200 * ms, gpio.Low}, {350 * ms, gpio.High}, {550 * ms, gpio.Low},
			{700 * ms, gpio.High}, {900 * ms, gpio.Low},
		}},
		{0, nil},
		{99, nil},
	} {
		synctest.Test(t, func(t *testing.T) {
			b := newBox(t, bayio.Options{})
			t0 := time.Now()
			b.bay.Beep(tc.p)
			time.Sleep(3 * time.Second)
			if got := since(b.buzzer, t0); !equalPulses(got, tc.want) {
				t.Errorf("pattern %d: buzzer = %v, want %v", tc.p, got, tc.want)
			}
		})
	}
}

func TestSetState(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBox(t, bayio.Options{})
		check := func(when string, ready, vehicle, offline, fault gpio.Level) {
			t.Helper()
			synctest.Wait()
			for _, c := range []struct {
				p    *bayiotest.Pin
				want gpio.Level
			}{{b.ready, ready}, {b.vehicle, vehicle}, {b.offline, offline}, {b.fault, fault}} {
				if got := c.p.Read(); got != c.want {
					t.Errorf("%s: %s = %v, want %v", when, c.p, got, c.want)
				}
			}
		}
		b.bay.SetState(bayio.State{Ready: true, UplinkOffline: true})
		check("ready offline", gpio.High, gpio.Low, gpio.High, gpio.Low)
		b.bay.SetState(bayio.State{Ready: true, VehicleConnected: true})
		check("ready vehicle", gpio.High, gpio.High, gpio.Low, gpio.Low)
		if n := b.buzzer.Pulses(); n != 0 {
			t.Errorf("buzzer pulsed %d times without a fault", n)
		}

		b.bay.SetState(bayio.State{Ready: true, Fault: true})
		check("fault", gpio.High, gpio.Low, gpio.Low, gpio.High)
		time.Sleep(2 * time.Second)
		b.bay.SetState(bayio.State{Ready: true, Fault: true}) // still faulty: no new alarm
		time.Sleep(2 * time.Second)
		if n := b.buzzer.Pulses(); n != 3 {
			t.Errorf("buzzer pulsed %d times for one fault, want 3 (BeepError)", n)
		}
		b.bay.SetState(bayio.State{})
		check("all clear", gpio.Low, gpio.Low, gpio.Low, gpio.Low)
		b.bay.Set(bayio.LightFault, true) // a manual Set also counts as "fault on"
		b.bay.SetState(bayio.State{Fault: true})
		time.Sleep(2 * time.Second)
		if n := b.buzzer.Pulses(); n != 3 {
			t.Errorf("buzzer pulsed %d times, want still 3", n)
		}
		b.bay.Set(bayio.Light(200), true) // unknown light: ignored
	})
}

func TestAbsentPins(t *testing.T) {
	for _, tc := range []struct {
		name string
		pins func(b *box) bayio.Pins
	}{
		{"none", func(*box) bayio.Pins { return bayio.Pins{} }},
		{"stored LED only", func(b *box) bayio.Pins { return bayio.Pins{Stored: b.stored} }},
		{"button only", func(b *box) bayio.Pins { return bayio.Pins{Button: b.btn} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				b := newPins()
				bay, err := bayio.New(tc.pins(b), bayio.Options{})
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				bay.SetState(bayio.State{Ready: true, VehicleConnected: true, UplinkOffline: true, Fault: true})
				bay.Set(bayio.LightVehicle, true)
				bay.Blink(bayio.LightReady, 3)
				bay.Beep(bayio.BeepError)
				bay.Stored()
				time.Sleep(5 * time.Second)
				if got := b.stored.Pulses(); tc.name == "stored LED only" && got != 1 {
					t.Errorf("stored LED pulses = %d, want 1", got)
				}
				if err := bay.Halt(); err != nil {
					t.Fatalf("Halt: %v", err)
				}
				if _, ok := <-bay.Presses(); ok {
					t.Error("Presses delivered after Halt")
				}
			})
		})
	}
}

func TestHalt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newPins()
		bay, err := bayio.New(b.pins(), bayio.Options{})
		if err != nil {
			t.Fatal(err)
		}
		bay.SetState(bayio.State{Ready: true, VehicleConnected: true, Fault: true})
		bay.Blink(bayio.LightStored, 10)
		synctest.Wait()
		if err := bay.Halt(); err != nil {
			t.Fatalf("Halt: %v", err)
		}
		// synctest.Test itself fails if the Bay left a goroutine behind.
		outs := map[*bayiotest.Pin]int{}
		for _, p := range []*bayiotest.Pin{b.ready, b.vehicle, b.stored, b.offline, b.fault, b.buzzer} {
			if got := p.Read(); got != gpio.Low {
				t.Errorf("%s = %v after Halt, want Low", p, got)
			}
			outs[p] = len(p.Outs())
		}
		if _, ok := <-bay.Presses(); ok {
			t.Error("Presses not closed by Halt")
		}
		bay.Set(bayio.LightReady, true)
		bay.Stored()
		bay.Beep(bayio.BeepLong)
		time.Sleep(5 * time.Second)
		for p, n := range outs {
			if got := len(p.Outs()); got != n {
				t.Errorf("%s written after Halt", p)
			}
		}
		if err := bay.Halt(); err != nil {
			t.Errorf("second Halt: %v", err)
		}
	})
}

// TestHaltGoroutines checks with the real clock that the goroutine count
// returns to its baseline (Halt takes up to one 100 ms poll).
func TestHaltGoroutines(t *testing.T) {
	base := runtime.NumGoroutine()
	b := newPins()
	bay, err := bayio.New(b.pins(), bayio.Options{})
	if err != nil {
		t.Fatal(err)
	}
	bay.Stored()
	if got := runtime.NumGoroutine(); got != base+2 {
		t.Errorf("goroutines while running = %d, want %d", got, base+2)
	}
	if err := bay.Halt(); err != nil {
		t.Fatal(err)
	}
	// Halt has joined the goroutines, but one may still be between its
	// deferred wg.Done and its exit: give the scheduler a moment.
	deadline := time.Now().Add(time.Second)
	for runtime.NumGoroutine() != base && time.Now().Before(deadline) {
		runtime.Gosched()
	}
	if got := runtime.NumGoroutine(); got != base {
		t.Errorf("goroutines after Halt = %d, want %d", got, base)
	}
}

// flakyPin fails its next Out calls with err; New's first write succeeds.
type flakyPin struct {
	*bayiotest.Pin
	err   error
	mu    sync.Mutex
	outs  int
	fails int // Out calls 2..fails+1 fail
}

func (f *flakyPin) Out(l gpio.Level) error {
	f.mu.Lock()
	f.outs++
	fail := f.outs > 1 && f.fails > 0
	if fail {
		f.fails--
	}
	f.mu.Unlock()
	if fail {
		return f.err
	}
	return f.Pin.Out(l)
}

// fail makes the next n Out calls fail.
func (f *flakyPin) fail(n int) {
	f.mu.Lock()
	f.fails = n
	f.mu.Unlock()
}

func TestErrors(t *testing.T) {
	boom := errors.New("boom")
	t.Run("invalid options", func(t *testing.T) {
		_, err := bayio.New(bayio.Pins{}, bayio.Options{Debounce: time.Second, LongPress: time.Second})
		if !errors.Is(err, bayio.ErrInvalidOptions) {
			t.Errorf("err = %v, want ErrInvalidOptions", err)
		}
	})
	t.Run("button In fails", func(t *testing.T) {
		b := newPins()
		b.btn.InErr = boom
		if _, err := bayio.New(b.pins(), bayio.Options{}); !errors.Is(err, boom) {
			t.Errorf("err = %v, want boom", err)
		}
	})
	t.Run("LED Out fails in New", func(t *testing.T) {
		b := newPins()
		b.fault.OutErr = boom
		_, err := bayio.New(b.pins(), bayio.Options{})
		if !errors.Is(err, boom) {
			t.Errorf("err = %v, want boom", err)
		}
		if want := "bayio: turn off fault LED (GPIO26): boom"; err == nil || err.Error() != want {
			t.Errorf("err = %v, want %q", err, want)
		}
	})
	t.Run("LED Out fails later", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			b := newPins()
			flaky := &flakyPin{Pin: b.vehicle, fails: 3, err: boom}
			p := b.pins()
			p.Vehicle = flaky
			bay, err := bayio.New(p, bayio.Options{})
			if err != nil {
				t.Fatal(err)
			}
			bay.SetState(bayio.State{Ready: true, VehicleConnected: true})
			synctest.Wait()
			if got := b.ready.Read(); got != gpio.High {
				t.Errorf("ready LED = %v: one failing pin must not stop the others", got)
			}
			if got := b.vehicle.Read(); got != gpio.Low {
				t.Errorf("vehicle LED = %v while its writes fail", got)
			}
			time.Sleep(5 * time.Second)
			if got := b.vehicle.Read(); got != gpio.High {
				t.Errorf("vehicle LED = %v, want High once the pin works again (retried)", got)
			}
			flaky.fail(1)
			if err := bay.Halt(); !errors.Is(err, boom) {
				t.Errorf("Halt err = %v, want boom", err)
			}
		})
	})
}
