package clock

import (
	"sync"
	"time"
)

// Sync is the first synchronised reading of a boot: what a clock_sync
// record holds.
type Sync struct {
	// At is the first synchronised reading the Tracker saw in this boot.
	At Reading
	// Before is the last unsynchronised reading of the same boot the
	// Tracker saw before At, if any.
	Before *Reading
}

// Offset is how far the wall clock moved, beyond the time that passed,
// between Before and At: (At.Wall - At.Mono) - (Before.Wall - Before.Mono).
// Adding it to a time stamped between them gives the corrected time. ok is
// false without a Before.
func (s Sync) Offset() (d time.Duration, ok bool) {
	if s.Before == nil {
		return 0, false
	}
	return s.At.Wall.Sub(s.Before.Wall) - (s.At.Mono - s.Before.Mono), true
}

// Correct returns the wall time a record of the same boot stamped at
// monotonic time mono should have carried: At.Wall - (At.Mono - mono).
func (s Sync) Correct(mono time.Duration) time.Time {
	return s.At.Wall.Add(mono - s.At.Mono)
}

// Tracker watches readings for the first synchronised one of a boot. Its
// methods are safe for concurrent use.
type Tracker struct {
	mu       sync.Mutex
	reported string // the boot whose sync is on record
	before   *Reading
	first    *Reading
}

// NewTracker returns a Tracker for which the sync of boot reported is on
// record already ("" for none).
func NewTracker(reported string) *Tracker { return &Tracker{reported: reported} }

// Observe takes a reading. Once the clock is synchronised in a boot whose
// sync is not on record, it returns that boot's Sync (the same one until
// Reported is called) and true.
func (t *Tracker) Observe(r Reading) (Sync, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.first != nil && t.first.Boot != r.Boot {
		t.first, t.before = nil, nil // a new boot (cannot happen within one process, but cheap to get right)
	}
	if t.reported == r.Boot && r.Boot != "" {
		return Sync{}, false
	}
	if !r.Synced {
		if t.first == nil {
			rr := r
			t.before = &rr
		}
		return Sync{}, false
	}
	if t.first == nil {
		rr := r
		t.first = &rr
	}
	s := Sync{At: *t.first}
	if t.before != nil && t.before.Boot == r.Boot {
		b := *t.before
		s.Before = &b
	}
	return s, true
}

// Reported records that the sync of boot is on record: Observe stays
// quiet for the rest of that boot.
func (t *Tracker) Reported(boot string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.reported = boot
	if t.first != nil && t.first.Boot == boot {
		t.first, t.before = nil, nil
	}
}
