package canbus

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"testing/synctest"
	"time"

	"go.einride.tech/can"
)

// writeLog writes a candump log into a temporary file and returns its replay: address.
func writeLog(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "trace.log")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return "replay:" + path
}

const replayLog = `(1700000000.000000) can0 7DF#0201000000000000
(1700000001.000000) can0 7E8#06410098180001

(1700000003.500000) can0 18DAF110#03410D00
(1700000002.000000) can0 123#R
`

var replayFrames = []can.Frame{
	{ID: 0x7DF, Length: 8, Data: can.Data{0x02, 0x01}},
	{ID: 0x7E8, Length: 7, Data: can.Data{0x06, 0x41, 0x00, 0x98, 0x18, 0x00, 0x01}},
	{ID: 0x18DAF110, IsExtended: true, Length: 4, Data: can.Data{0x03, 0x41, 0x0D}},
	{ID: 0x123, IsRemote: true},
}

func TestReplayInOrderThenEOF(t *testing.T) {
	c, err := Open(t.Context(), writeLog(t, replayLog), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i, want := range replayFrames {
		if got := receiveOne(t, c); got != want {
			t.Fatalf("frame %d: got %v, want %v", i, got, want)
		}
	}
	for range 2 {
		if _, err := c.Receive(t.Context()); !errors.Is(err, io.EOF) {
			t.Fatalf("after the last frame: %v, want io.EOF", err)
		}
	}
	if err := c.Send(t.Context(), replayFrames[0]); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("Send: %v, want ErrReadOnly", err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := c.Receive(t.Context()); !errors.Is(err, ErrClosed) {
		t.Fatalf("Receive after Close: %v, want ErrClosed", err)
	}
	if err := c.Send(t.Context(), replayFrames[0]); !errors.Is(err, ErrClosed) {
		t.Fatalf("Send after Close: %v, want ErrClosed", err)
	}
}

func TestReplayBadLineThenContinues(t *testing.T) {
	c, err := Open(t.Context(), writeLog(t, "(1.0) can0 7E8#01\nnot a frame\n(1.0) can0 7E8##01\n(2.0) can0 7E9#02\n"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	want := []error{nil, ErrBadCandump, ErrCANFD, nil, io.EOF}
	for i, w := range want {
		_, err := c.Receive(t.Context())
		if (w == nil) != (err == nil) || (w != nil && !errors.Is(err, w)) {
			t.Fatalf("Receive %d: %v, want %v", i, err, w)
		}
	}
}

func TestReplayRealtime(t *testing.T) {
	addr := writeLog(t, replayLog)
	synctest.Test(t, func(t *testing.T) {
		c, err := Open(t.Context(), addr, Options{Realtime: true})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		start := time.Now()
		// Due 0, 1 s and 3.5 s after the first; the last is stamped
		// before its predecessor and so is due at once.
		for i, due := range []time.Duration{0, time.Second, 3500 * time.Millisecond, 3500 * time.Millisecond} {
			if got := receiveOne(t, c); got != replayFrames[i] {
				t.Fatalf("frame %d: got %v, want %v", i, got, replayFrames[i])
			}
			if el := time.Since(start); el != due {
				t.Fatalf("frame %d returned after %v, want %v", i, el, due)
			}
		}
	})
}

func TestReplayRealtimeContextAndClose(t *testing.T) {
	addr := writeLog(t, replayLog)
	synctest.Test(t, func(t *testing.T) {
		c, err := Open(t.Context(), addr, Options{Realtime: true})
		if err != nil {
			t.Fatal(err)
		}
		receiveOne(t, c)
		// The context ends before the next frame is due: it is not lost.
		ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
		defer cancel()
		if _, err := c.Receive(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Receive: %v, want DeadlineExceeded", err)
		}
		if got := receiveOne(t, c); got != replayFrames[1] {
			t.Fatalf("got %v, want the frame that was pending %v", got, replayFrames[1])
		}
		// Close unblocks a Receive waiting for the next frame's time.
		errc := make(chan error, 1)
		go func() {
			_, err := c.Receive(context.Background())
			errc <- err
		}()
		synctest.Wait()
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
		if err := <-errc; !errors.Is(err, ErrClosed) {
			t.Fatalf("pending Receive: %v, want ErrClosed", err)
		}
	})
}
