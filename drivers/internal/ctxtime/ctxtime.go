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
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
