// Package bayiotest provides a fake GPIO pin for testing code that drives
// drivers/bayio.
//
// The code under test drives the bay's button, LEDs and buzzer, with no
// hardware.
//
// Unlike periph's gpiotest.Pin, which keeps only the last level, Pin records
// every Out call with its time, so a test can check blink and beep timing
// (run it under testing/synctest to get a fake, deterministic clock).
package bayiotest

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/physic"
	"periph.io/x/conn/v3/pin"
)

// ErrNoEdges is returned by In when edge detection is requested on a Pin
// whose EdgesChan is nil.
var ErrNoEdges = errors.New("bayiotest: In with edge detection needs Pin.EdgesChan")

// Change is one recorded Out call.
type Change struct {
	At    time.Time
	Level gpio.Level
}

// Pin implements gpio.PinIO. Set the exported fields before handing the pin
// to the code under test; read what happened through the methods, which are
// safe for concurrent use.
type Pin struct {
	// N is the pin's name, as in "GPIO17".
	N string
	// EdgesChan simulates the wire for an input: each level sent on it is
	// one edge that WaitForEdge reports, after which Read returns that level.
	EdgesChan chan gpio.Level
	// InErr and OutErr, when set, are returned by In and Out (which then
	// change nothing).
	InErr, OutErr error

	mu    sync.Mutex
	level gpio.Level
	pull  gpio.Pull
	edge  gpio.Edge
	outs  []Change
}

// String implements conn.Resource.
func (p *Pin) String() string { return p.N }

// Halt implements conn.Resource; it does nothing.
func (p *Pin) Halt() error { return nil }

// Name implements pin.Pin.
func (p *Pin) Name() string { return p.N }

// Number implements pin.Pin; the fake has no number.
func (p *Pin) Number() int { return -1 }

// Function implements pin.Pin.
func (p *Pin) Function() string { return string(p.Func()) }

// Func implements pin.PinFunc.
func (p *Pin) Func() pin.Func {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.outs) > 0 {
		return gpio.OUT
	}
	return gpio.IN
}

// SupportedFuncs implements pin.PinFunc.
func (p *Pin) SupportedFuncs() []pin.Func { return []pin.Func{gpio.IN, gpio.OUT} }

// SetFunc implements pin.PinFunc; use In or Out instead.
func (p *Pin) SetFunc(pin.Func) error {
	return errors.New("bayiotest: SetFunc not supported")
}

// In implements gpio.PinIn: it records pull and edge, and a pull-up or
// pull-down sets the level an idle wire reads.
func (p *Pin) In(pull gpio.Pull, edge gpio.Edge) error {
	if p.InErr != nil {
		return p.InErr
	}
	if edge != gpio.NoEdge && p.EdgesChan == nil {
		return fmt.Errorf("%w (pin %s)", ErrNoEdges, p.N)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pull, p.edge = pull, edge
	switch pull {
	case gpio.PullUp:
		p.level = gpio.High
	case gpio.PullDown:
		p.level = gpio.Low
	}
	return nil
}

// Read implements gpio.PinIn.
func (p *Pin) Read() gpio.Level {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.level
}

// WaitForEdge implements gpio.PinIn: it returns true when a level arrives on
// EdgesChan within timeout (a negative timeout waits forever).
func (p *Pin) WaitForEdge(timeout time.Duration) bool {
	var expired <-chan time.Time
	if timeout >= 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		expired = t.C
	}
	select {
	case l := <-p.EdgesChan:
		p.mu.Lock()
		p.level = l
		p.mu.Unlock()
		return true
	case <-expired:
		return false
	}
}

// Pull implements gpio.PinIn: the pull given to the last In call.
func (p *Pin) Pull() gpio.Pull {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pull
}

// DefaultPull implements gpio.PinIn.
func (p *Pin) DefaultPull() gpio.Pull { return gpio.Float }

// Edge returns the edge detection given to the last In call.
func (p *Pin) Edge() gpio.Edge {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.edge
}

// Out implements gpio.PinOut and records the call.
func (p *Pin) Out(l gpio.Level) error {
	if p.OutErr != nil {
		return p.OutErr
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.level = l
	p.outs = append(p.outs, Change{At: time.Now(), Level: l})
	return nil
}

// PWM implements gpio.PinOut; the fake does not support it.
func (p *Pin) PWM(gpio.Duty, physic.Frequency) error {
	return errors.New("bayiotest: PWM not supported")
}

// Outs returns a copy of every Out call so far, oldest first.
func (p *Pin) Outs() []Change {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Change(nil), p.outs...)
}

// Pulses counts the Low-to-High transitions among the recorded Out calls
// (the first Out counts when it is High): how many times an LED lit or a
// buzzer sounded.
func (p *Pin) Pulses() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n, prev := 0, gpio.Low
	for _, c := range p.outs {
		if c.Level == gpio.High && prev == gpio.Low {
			n++
		}
		prev = c.Level
	}
	return n
}

var (
	_ gpio.PinIO  = (*Pin)(nil)
	_ pin.PinFunc = (*Pin)(nil)
)
