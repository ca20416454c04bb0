package ctxtime_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/bayagent/bayagent/drivers/internal/ctxtime"
)

func TestSleep(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name string
		ctx  context.Context
		d    time.Duration
		want error
	}{
		{"elapses", context.Background(), time.Millisecond, nil},
		{"zero is at once", context.Background(), 0, nil},
		{"negative is at once", context.Background(), -time.Hour, nil},
		{"zero ignores a cancelled context", cancelled, 0, nil},
		// An hour would time the test out if Sleep did not watch ctx.
		{"cancelled context ends an hour", cancelled, time.Hour, context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := ctxtime.Sleep(tt.ctx, tt.d); !errors.Is(err, tt.want) || (err == nil) != (tt.want == nil) {
				t.Errorf("Sleep(%v) = %v, want %v", tt.d, err, tt.want)
			}
		})
	}
}

func TestSleepWaits(t *testing.T) {
	const d = 20 * time.Millisecond
	start := time.Now()
	if err := ctxtime.Sleep(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	if got := time.Since(start); got < d {
		t.Errorf("returned after %v, want at least %v", got, d)
	}
}

func TestSleepDeadline(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	if err := ctxtime.Sleep(ctx, time.Hour); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Sleep past the deadline = %v, want %v", err, context.DeadlineExceeded)
	}
}

func TestSleepOr(t *testing.T) {
	stop := make(chan struct{})
	close(stop)
	// An hour would time the test out if SleepOr did not watch stop.
	if stopped, err := ctxtime.SleepOr(context.Background(), time.Hour, stop); !stopped || err != nil {
		t.Errorf("closed stop: %t, %v; want stopped, nil", stopped, err)
	}
	if stopped, err := ctxtime.SleepOr(context.Background(), time.Millisecond, make(chan struct{})); stopped || err != nil {
		t.Errorf("elapsed: %t, %v; want not stopped, nil", stopped, err)
	}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	if stopped, err := ctxtime.SleepOr(cancelled, time.Hour, nil); stopped || !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %t, %v; want not stopped, context.Canceled", stopped, err)
	}
}
