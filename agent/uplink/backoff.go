package uplink

import (
	"context"
	"math/rand/v2"
	"time"
)

// backoff is a capped exponential backoff with jitter: the n-th wait
// (counting from 0) lasts a random duration in [d/2, d] where
// d = min(max, min·2ⁿ). The jitter spreads reconnections of a fleet of
// boxes after a broker outage.
type backoff struct {
	min, max time.Duration
	attempt  int
	// int64n returns a random number in [0, n); nil means math/rand/v2.
	int64n func(n int64) int64
}

// next returns the next wait and advances the attempt counter.
func (b *backoff) next() time.Duration {
	d := b.max
	if b.attempt < 62 {
		if s := b.min << b.attempt; s > 0 && s < b.max && s>>b.attempt == b.min {
			d = s
		}
	}
	b.attempt++
	half := d / 2
	rnd := b.int64n
	if rnd == nil {
		rnd = rand.Int64N
	}
	return half + time.Duration(rnd(int64(d-half)+1))
}

// reset starts the sequence again from min.
func (b *backoff) reset() { b.attempt = 0 }

// wait sleeps for the next backoff duration or until ctx ends, whichever is
// first; it returns ctx.Err() in the latter case.
func (b *backoff) wait(ctx context.Context) error {
	t := time.NewTimer(b.next())
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
