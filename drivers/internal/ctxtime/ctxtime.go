// Package ctxtime waits for a duration unless a context ends first.
//
// The drivers and their simulators pause between polls, frames and answers;
// this is the one place that writes the timer and the select for it, so that
// every pause stops its timer and answers a cancelled context the same way.
package ctxtime

import (
	"context"
	"time"
)

// Sleep waits d and returns nil, or returns ctx.Err() as soon as ctx ends.
// A d of zero or less returns nil at once, without looking at ctx.
func Sleep(ctx context.Context, d time.Duration) error {
	_, err := SleepOr(ctx, d, nil)
	return err
}

// SleepOr is Sleep that also ends when stop is closed (a connection or node
// closing): stopped then reports it, with a nil error, for the caller to
// give its own. A nil stop never ends the wait.
func SleepOr(ctx context.Context, d time.Duration, stop <-chan struct{}) (stopped bool, err error) {
	if d <= 0 {
		return false, nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return false, nil
	case <-ctx.Done():
		return false, ctx.Err()
	case <-stop:
		return true, nil
	}
}
