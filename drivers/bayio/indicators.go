package bayio

import (
	"time"

	"periph.io/x/conn/v3/gpio"
)

// Light is one of the box's LEDs.
type Light uint8

// The LEDs; see the package documentation for their meanings.
const (
	LightReady Light = iota
	LightVehicle
	LightStored
	LightOffline
	LightFault
)

// buzzer is the output index after the lights.
const (
	buzzer     = 5
	numOutputs = 6
)

var outputNames = [numOutputs]string{"ready LED", "vehicle LED", "stored LED", "offline LED", "fault LED", "buzzer"}

type output int

func (o output) String() string { return outputNames[o] }

// String returns the LED's name, e.g. "ready LED".
func (l Light) String() string {
	if int(l) >= buzzer {
		return "unknown LED"
	}
	return outputNames[l]
}

// Pattern is a buzzer pattern.
type Pattern uint8

// Buzzer patterns. The zero Pattern is silence.
const (
	BeepShort Pattern = iota + 1 // one 80 ms beep: a record was stored
	BeepLong                     // one 600 ms beep: acknowledgement of a long press
	BeepError                    // three 200 ms beeps 150 ms apart: a fault
)

// Blink timing: each blink is blinkOn lit then blinkOff dark.
const (
	blinkOn  = 200 * time.Millisecond
	blinkOff = 200 * time.Millisecond
)

// State is what the agent knows; SetState maps it onto the LEDs.
type State struct {
	Ready            bool
	VehicleConnected bool
	UplinkOffline    bool
	Fault            bool
}

// pattern is n pulses of on then off, starting at start; n == 0 is none.
type pattern struct {
	start   time.Time
	on, off time.Duration
	n       int
}

func newPattern(p Pattern, start time.Time) pattern {
	switch p {
	case BeepShort:
		return pattern{start: start, on: 80 * time.Millisecond, n: 1}
	case BeepLong:
		return pattern{start: start, on: 600 * time.Millisecond, n: 1}
	case BeepError:
		return pattern{start: start, on: 200 * time.Millisecond, off: 150 * time.Millisecond, n: 3}
	}
	return pattern{}
}

// at reports the pattern's level at t and when it next changes, or done
// once the last pulse has ended.
func (p pattern) at(t time.Time) (on bool, next time.Time, done bool) {
	period := p.on + p.off
	elapsed := max(t.Sub(p.start), 0)
	k := int64(elapsed / period)
	if k >= int64(p.n) {
		return false, time.Time{}, true
	}
	cycle := p.start.Add(time.Duration(k) * period)
	if elapsed-time.Duration(k)*period < p.on {
		return true, cycle.Add(p.on), false
	}
	return false, cycle.Add(period), false
}

// Set turns a light steadily on or off (a running Blink finishes first).
// Unknown lights and absent pins are ignored.
func (b *Bay) Set(light Light, on bool) {
	if int(light) >= buzzer {
		return
	}
	b.update(func() { b.steady[light] = on })
}

// Blink blinks a light n times, then returns it to its steady state. A new
// Blink on the same light replaces a running one. n <= 0 does nothing.
func (b *Bay) Blink(light Light, n int) {
	if int(light) >= buzzer || n <= 0 {
		return
	}
	b.update(func() {
		b.pat[light] = pattern{start: time.Now(), on: blinkOn, off: blinkOff, n: n}
	})
}

// Beep sounds a buzzer pattern, replacing one that is still sounding.
// Unknown patterns do nothing.
func (b *Bay) Beep(p Pattern) {
	pat := newPattern(p, time.Now())
	if pat.n == 0 {
		return
	}
	b.update(func() { b.pat[buzzer] = pat })
}

// SetState sets the ready, vehicle, offline and fault LEDs from s (each
// overriding an earlier Set of that light). When the fault LED goes from off
// to on, the buzzer sounds BeepError.
func (b *Bay) SetState(s State) {
	b.update(func() {
		if s.Fault && !b.steady[LightFault] {
			b.pat[buzzer] = newPattern(BeepError, time.Now())
		}
		b.steady[LightReady] = s.Ready
		b.steady[LightVehicle] = s.VehicleConnected
		b.steady[LightOffline] = s.UplinkOffline
		b.steady[LightFault] = s.Fault
	})
}

// Stored signals that a record was durably stored: one short blink of the
// stored LED and a short beep.
func (b *Bay) Stored() {
	b.update(func() {
		now := time.Now()
		b.pat[LightStored] = pattern{start: now, on: blinkOn, off: blinkOff, n: 1}
		b.pat[buzzer] = newPattern(BeepShort, now)
	})
}

// update applies f to the indicator state unless halted, and wakes the
// driver.
func (b *Bay) update(f func()) {
	b.mu.Lock()
	if b.halted {
		b.mu.Unlock()
		return
	}
	f()
	b.mu.Unlock()
	select {
	case b.wake <- struct{}{}:
	default:
	}
}

// levels computes every output's wanted level at now and the next time one
// changes on its own (zero when none will), clearing finished patterns.
func (b *Bay) levels(now time.Time) (want [numOutputs]bool, next time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for i := range want {
		want[i] = b.steady[i]
		if b.pat[i].n == 0 {
			continue
		}
		on, at, done := b.pat[i].at(now)
		if done {
			b.pat[i] = pattern{}
			continue
		}
		want[i] = on
		if next.IsZero() || at.Before(next) {
			next = at
		}
	}
	return want, next
}

// retryInterval is how soon drive retries a failed output write.
const retryInterval = time.Second

// drive is the only writer of the outputs after New: it applies state
// changes and runs patterns until Halt.
func (b *Bay) drive() {
	defer b.wg.Done()
	var (
		cur     [numOutputs]bool // levels written (New wrote Low)
		failing [numOutputs]bool // last write failed: logged once, retried
	)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		now := time.Now()
		want, next := b.levels(now)
		for i, o := range b.out {
			if o == nil || want[i] == cur[i] {
				continue
			}
			if err := o.Out(gpio.Level(want[i])); err != nil {
				if !failing[i] {
					b.log.Warn("bayio: output write failed", "output", output(i).String(), "pin", o.String(), "err", err)
				}
				failing[i] = true
				continue
			}
			cur[i], failing[i] = want[i], false
		}
		for i := range failing {
			if failing[i] && (next.IsZero() || now.Add(retryInterval).Before(next)) {
				next = now.Add(retryInterval)
			}
		}
		var tick <-chan time.Time
		if !next.IsZero() {
			timer.Reset(next.Sub(now))
			tick = timer.C
		}
		select {
		case <-b.stop:
			return
		case <-b.wake:
		case <-tick:
		}
	}
}
