package canbus

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.einride.tech/can"
)

// testTimeout bounds every wait for a frame that should arrive.
const testTimeout = 5 * time.Second

// testFrames covers standard, extended, empty, full and remote frames.
var testFrames = []can.Frame{
	{ID: 0x7DF, Length: 8, Data: can.Data{0x02, 0x01, 0x0C, 0x55, 0x55, 0x55, 0x55, 0x55}},
	{ID: 0x7E8, Length: 4, Data: can.Data{0x03, 0x41, 0x0C, 0x1A}},
	{ID: 0x18DAF110, IsExtended: true, Length: 3, Data: can.Data{0x02, 0x41, 0x00}},
	{ID: 0x000, Length: 0},
	{ID: 0x123, IsRemote: true, Length: 2},
	{ID: 0x1FFFFFFF, IsExtended: true, IsRemote: true},
	{ID: 0x7FF, Length: 8, Data: can.Data{0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}},
}

func receiveOne(t *testing.T, c Conn) can.Frame {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	f, err := c.Receive(ctx)
	if err != nil {
		t.Fatalf("Receive: %v", err)
	}
	return f
}

func sendAll(t *testing.T, c Conn, frames ...can.Frame) {
	t.Helper()
	for _, f := range frames {
		if err := c.Send(t.Context(), f); err != nil {
			t.Fatalf("Send(%v): %v", f, err)
		}
	}
}

// runConnSuite checks the Conn contract on a bus made by newPair, which
// returns two nodes of one fresh bus; the suite closes them.
func runConnSuite(t *testing.T, newPair func(t *testing.T) (a, b Conn)) {
	t.Run("BothWaysInOrder", func(t *testing.T) {
		a, b := newPair(t)
		defer a.Close()
		defer b.Close()
		for _, pair := range [][2]Conn{{a, b}, {b, a}} {
			tx, rx := pair[0], pair[1]
			sendAll(t, tx, testFrames...)
			for i, want := range testFrames {
				if got := receiveOne(t, rx); got != want {
					t.Fatalf("frame %d: got %v, want %v", i, got, want)
				}
			}
		}
	})
	t.Run("NotSelf", func(t *testing.T) {
		a, b := newPair(t)
		defer a.Close()
		defer b.Close()
		own := can.Frame{ID: 0x100, Length: 1, Data: can.Data{1}}
		other := can.Frame{ID: 0x200, Length: 1, Data: can.Data{2}}
		sendAll(t, a, own)
		sendAll(t, b, other)
		if got := receiveOne(t, a); got != other {
			t.Fatalf("a received %v, want only b's frame %v", got, other)
		}
		if got := receiveOne(t, b); got != own {
			t.Fatalf("b received %v, want a's frame %v", got, own)
		}
	})
	t.Run("ReceiveHonoursContext", func(t *testing.T) {
		a, b := newPair(t)
		defer a.Close()
		defer b.Close()
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if _, err := a.Receive(ctx); !errors.Is(err, context.Canceled) {
			t.Fatalf("Receive with cancelled ctx: %v, want context.Canceled", err)
		}
		ctx, cancel = context.WithTimeout(t.Context(), 20*time.Millisecond)
		defer cancel()
		if _, err := a.Receive(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Receive on a quiet bus: %v, want context.DeadlineExceeded", err)
		}
	})
	t.Run("SendRejectsInvalidFrame", func(t *testing.T) {
		a, b := newPair(t)
		defer a.Close()
		defer b.Close()
		for _, f := range []can.Frame{
			{ID: 0x800},
			{ID: 0x20000000, IsExtended: true},
			{ID: 0x1, Length: 9},
		} {
			if err := a.Send(t.Context(), f); err == nil {
				t.Errorf("Send(%+v) succeeded, want error", f)
			}
		}
	})
	t.Run("CloseUnblocksReceive", func(t *testing.T) {
		a, b := newPair(t)
		defer b.Close()
		errc := make(chan error, 1)
		go func() {
			_, err := a.Receive(context.Background())
			errc <- err
		}()
		if err := a.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		select {
		case err := <-errc:
			if !errors.Is(err, ErrClosed) {
				t.Fatalf("blocked Receive returned %v, want ErrClosed", err)
			}
		case <-time.After(testTimeout):
			t.Fatal("Close did not unblock Receive")
		}
		if err := a.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}
		if _, err := a.Receive(t.Context()); !errors.Is(err, ErrClosed) {
			t.Fatalf("Receive after Close: %v, want ErrClosed", err)
		}
		if err := a.Send(t.Context(), testFrames[0]); !errors.Is(err, ErrClosed) {
			t.Fatalf("Send after Close: %v, want ErrClosed", err)
		}
		// The other node still works.
		if err := b.Send(t.Context(), testFrames[0]); err != nil {
			t.Fatalf("Send on the remaining node: %v", err)
		}
	})
}
