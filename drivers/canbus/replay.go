package canbus

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"go.einride.tech/can"

	"github.com/bayagent/bayagent/drivers/internal/ctxtime"
)

// replayConn plays back a candump -L log. It has no goroutine: Receive reads
// the next line itself, under mu.
type replayConn struct {
	addr     string
	rc       io.ReadCloser
	realtime bool
	closed   chan struct{}
	once     sync.Once
	closeErr error

	mu       sync.Mutex // serialises Receive; guards the fields below
	sc       *bufio.Scanner
	line     int
	pending  *timedFrame // parsed, not yet returned (ctx ended while pacing)
	started  bool
	wall0    time.Time // wall time the first frame was returned
	log0     time.Time // log time of the first frame
	finished error     // sticky io.EOF or read error
}

type timedFrame struct {
	t time.Time
	f can.Frame
}

var _ Conn = (*replayConn)(nil)

func newReplay(addr string, rc io.ReadCloser, realtime bool) *replayConn {
	return &replayConn{
		addr:     addr,
		rc:       rc,
		realtime: realtime,
		closed:   make(chan struct{}),
		sc:       bufio.NewScanner(rc),
	}
}

// Send always fails: a replayed log cannot transmit.
func (c *replayConn) Send(context.Context, can.Frame) error {
	select {
	case <-c.closed:
		return ErrClosed
	default:
		return ErrReadOnly
	}
}

// Receive returns the log's next frame, paced by the log's timestamps when
// Options.Realtime is set, and io.EOF after the last one. A malformed line
// gives an error wrapping ErrBadCandump (or ErrCANFD) naming the line; the
// next Receive goes on with the following line. Blank lines are skipped.
func (c *replayConn) Receive(ctx context.Context) (can.Frame, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.isClosed() {
		return can.Frame{}, ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return can.Frame{}, err
	}
	if c.pending == nil {
		if err := c.next(); err != nil {
			return can.Frame{}, err
		}
	}
	if c.realtime {
		if err := c.pace(ctx, c.pending.t); err != nil {
			return can.Frame{}, err
		}
	}
	f := c.pending.f
	c.pending = nil
	return f, nil
}

// next parses the next frame into c.pending.
func (c *replayConn) next() error {
	if c.finished != nil {
		return c.finished
	}
	for c.sc.Scan() {
		c.line++
		text := c.sc.Text()
		if strings.TrimSpace(text) == "" {
			continue
		}
		t, _, f, err := ParseCandumpLine(text)
		if err != nil {
			return fmt.Errorf("canbus: %s line %d: %w", c.addr, c.line, err)
		}
		c.pending = &timedFrame{t: t, f: f}
		return nil
	}
	if c.isClosed() {
		return ErrClosed
	}
	if err := c.sc.Err(); err != nil {
		c.finished = fmt.Errorf("canbus: %s after line %d: %w", c.addr, c.line, err)
	} else {
		c.finished = io.EOF
	}
	return c.finished
}

// pace waits until the frame stamped t is due: as long after the first
// frame as t is after the first frame's stamp. Frames stamped earlier than
// their predecessor are due at once.
func (c *replayConn) pace(ctx context.Context, t time.Time) error {
	if !c.started {
		c.started, c.wall0, c.log0 = true, time.Now(), t
		return nil
	}
	closed, err := ctxtime.SleepOr(ctx, time.Until(c.wall0.Add(t.Sub(c.log0))), c.closed)
	if closed {
		return ErrClosed
	}
	return err
}

func (c *replayConn) isClosed() bool {
	select {
	case <-c.closed:
		return true
	default:
		return false
	}
}

// Close closes the log file; a Receive waiting to pace a frame returns
// ErrClosed.
func (c *replayConn) Close() error {
	c.once.Do(func() {
		close(c.closed)
		if err := c.rc.Close(); err != nil {
			c.closeErr = fmt.Errorf("canbus: close %s: %w", c.addr, err)
		}
	})
	return c.closeErr
}
