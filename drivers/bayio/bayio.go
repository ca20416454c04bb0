package bayio

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"periph.io/x/conn/v3/gpio"
)

// Default timings, used when the Options field is zero.
const (
	DefaultDebounce  = 50 * time.Millisecond
	DefaultLongPress = 2 * time.Second
)

// pollInterval bounds each WaitForEdge call so the watcher notices Halt.
const pollInterval = 100 * time.Millisecond

// Pins are the box's GPIO lines. A nil field means the part is not fitted.
type Pins struct {
	Button                                 gpio.PinIn
	Ready, Vehicle, Stored, Offline, Fault gpio.PinOut
	Buzzer                                 gpio.PinOut
}

// Options tune a Bay. The zero value is the standard box: active-low button
// with pull-up, 50 ms debounce, 2 s long press, no logging.
type Options struct {
	// ActiveHigh: the button connects the line to 3.3 V when pressed (the
	// pin gets a pull-down). The default (false) is active-low with pull-up.
	ActiveHigh bool
	// Debounce is how long the button line must hold a level before it
	// counts. Zero means DefaultDebounce.
	Debounce time.Duration
	// LongPress is how long a press must be held to be a long press. Zero
	// means DefaultLongPress. It must exceed Debounce.
	LongPress time.Duration
	// Logger receives GPIO errors and dropped presses; nil discards them.
	Logger *slog.Logger
}

// Press is one debounced button press.
type Press struct {
	// At is when the press began (the last edge of its debounce window).
	At time.Time
	// Long reports that the button was held for at least Options.LongPress.
	Long bool
}

// Bay is the box at one bay. Its methods are safe for concurrent use and
// never block on the hardware's timing.
type Bay struct {
	btn      gpio.PinIn
	out      [numOutputs]gpio.PinOut
	pressed  gpio.Level // line level while the button is pressed
	debounce time.Duration
	long     time.Duration
	log      *slog.Logger

	presses chan Press
	wake    chan struct{} // cap 1: indicator state changed
	stop    chan struct{}
	wg      sync.WaitGroup

	mu     sync.Mutex
	halted bool
	steady [numOutputs]bool
	pat    [numOutputs]pattern

	haltOnce sync.Once
	haltErr  error
}

// New configures the pins (the button as an input with pull resistor and
// edge detection, every output off) and starts the Bay's goroutines. On error
// nothing is started.
func New(p Pins, opts Options) (*Bay, error) {
	b := &Bay{
		btn:      p.Button,
		out:      [numOutputs]gpio.PinOut{p.Ready, p.Vehicle, p.Stored, p.Offline, p.Fault, p.Buzzer},
		pressed:  gpio.Low,
		debounce: opts.Debounce,
		long:     opts.LongPress,
		log:      opts.Logger,
		presses:  make(chan Press, 1),
		wake:     make(chan struct{}, 1),
		stop:     make(chan struct{}),
	}
	if b.debounce <= 0 {
		b.debounce = DefaultDebounce
	}
	if b.long <= 0 {
		b.long = DefaultLongPress
	}
	if b.long <= b.debounce {
		return nil, fmt.Errorf("%w: long press %v must be longer than debounce %v", ErrInvalidOptions, b.long, b.debounce)
	}
	if b.log == nil {
		b.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	pull := gpio.PullUp
	if opts.ActiveHigh {
		pull, b.pressed = gpio.PullDown, gpio.High
	}
	if b.btn != nil {
		if err := b.btn.In(pull, gpio.BothEdges); err != nil {
			return nil, fmt.Errorf("bayio: configure button %s: %w", b.btn, err)
		}
	}
	if err := b.allOff(); err != nil {
		return nil, err
	}
	b.wg.Add(1)
	go b.drive()
	if b.btn != nil {
		b.wg.Add(1)
		go b.watch()
	}
	return b, nil
}

// Presses delivers debounced button presses. It holds at most one unread
// Press: a newer press replaces an unread older one. The channel is closed by
// Halt. Without a button it never delivers.
func (b *Bay) Presses() <-chan Press { return b.presses }

// Halt stops the button watcher and the pattern driver, waits for both,
// closes Presses and turns every output off. Later indicator calls do
// nothing. Halt is idempotent; it returns the errors of turning outputs off.
func (b *Bay) Halt() error {
	b.haltOnce.Do(func() {
		b.mu.Lock()
		b.halted = true
		b.mu.Unlock()
		close(b.stop)
		b.wg.Wait()
		close(b.presses)
		b.haltErr = b.allOff()
	})
	return b.haltErr
}

// allOff turns every output off, going on past one that fails; it returns
// the errors joined.
func (b *Bay) allOff() error {
	var errs []error
	for i, o := range b.out {
		if o == nil {
			continue
		}
		if err := o.Out(gpio.Low); err != nil {
			errs = append(errs, fmt.Errorf("bayio: turn off %s (%s): %w", output(i), o, err))
		}
	}
	return errors.Join(errs...)
}

// watch turns edges on the button line into debounced presses.
func (b *Bay) watch() {
	defer b.wg.Done()
	var (
		raw       = b.btn.Read() == b.pressed // last level seen
		changedAt = time.Now()                // when raw last changed (or bounced)
		down      = raw                       // debounced state
		downAt    time.Time                   // start of the current press
		reported  = raw                       // current press already delivered (or held since start)
	)
	for {
		select {
		case <-b.stop:
			return
		default:
		}
		now := time.Now()
		wait := pollInterval
		if raw != down {
			wait = min(wait, changedAt.Add(b.debounce).Sub(now))
		}
		if down && !reported && raw == down {
			wait = min(wait, downAt.Add(b.long).Sub(now))
		}
		edge := false
		if wait > 0 {
			// Never 0: gpioioctl treats a zero timeout as "wait forever".
			edge = b.btn.WaitForEdge(max(wait, time.Millisecond))
		}
		now = time.Now()
		// Read even without an edge, so a missed interrupt is caught on
		// the next poll.
		if lvl := b.btn.Read() == b.pressed; edge || lvl != raw {
			raw, changedAt = lvl, now
		}
		if raw != down && now.Sub(changedAt) >= b.debounce {
			down = raw
			if down {
				downAt, reported = changedAt, false
			} else if !reported {
				// Released (changedAt) before the long threshold could fire
				// while held, e.g. a release pending debounce at 2 s.
				b.deliver(Press{At: downAt, Long: changedAt.Sub(downAt) >= b.long})
				reported = true
			}
		}
		// Long while held, but not while a release is being debounced.
		if down && !reported && raw == down && now.Sub(downAt) >= b.long {
			b.deliver(Press{At: downAt, Long: true})
			reported = true
		}
	}
}

// deliver hands p to Presses without blocking, replacing an unread press.
// Only the watcher sends, so the loop ends within two rounds.
func (b *Bay) deliver(p Press) {
	for {
		select {
		case b.presses <- p:
			return
		default:
		}
		select {
		case old := <-b.presses:
			b.log.Debug("bayio: unread button press replaced", "at", old.At, "long", old.Long)
		default:
		}
	}
}
