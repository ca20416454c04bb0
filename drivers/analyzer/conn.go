package analyzer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults for Options fields left zero.
const (
	DefaultTimeout = time.Second
	DefaultRetries = 2
	DefaultGap     = 200 * time.Millisecond
)

// conn is what every protocol driver shares: the line, one exchange at a
// time, deadlines, retries after bad frames, counters and the logger.
type conn struct {
	mu      sync.Mutex // one exchange at a time; guards closed and link reads
	closed  bool
	link    *link
	id      InstrumentID
	method  string
	timeout time.Duration
	gap     time.Duration
	retries int
	log     *slog.Logger

	frames, badFrames, discarded atomic.Int64
	loggedBad                    atomic.Bool
	closeOnce                    sync.Once
	closeErr                     error
}

func newConn(rw io.ReadWriter, port, protocol, model, method string, o Options) *conn {
	c := &conn{
		link:    newLink(rw),
		id:      InstrumentID{Model: model, Port: port, Protocol: protocol},
		method:  method,
		timeout: o.Timeout,
		gap:     o.Gap,
		retries: o.Retries,
		log:     o.Logger,
	}
	if o.Model != "" {
		c.id.Model = o.Model
	}
	if c.timeout <= 0 {
		c.timeout = DefaultTimeout
	}
	if c.gap <= 0 {
		c.gap = DefaultGap
	}
	switch {
	case c.retries == 0:
		c.retries = DefaultRetries
	case c.retries < 0:
		c.retries = 0
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	return c
}

func (c *conn) stats() Stats {
	return Stats{Frames: c.frames.Load(), BadFrames: c.badFrames.Load(), Discarded: c.discarded.Load()}
}

func (c *conn) close() error {
	c.closeOnce.Do(func() {
		c.closeErr = c.link.close() // unblocks the pump even while an exchange waits
		c.mu.Lock()
		c.closed = true
		c.mu.Unlock()
	})
	return c.closeErr
}

func (c *conn) reading(method string, values []Quantity, status []string) Reading {
	return Reading{Method: method, Instrument: c.id, Time: time.Now(), Values: values, Status: status}
}

// skip counts a byte thrown away while looking for a header.
func (c *conn) skip() { c.discarded.Add(1) }

func (c *conn) badFrame(err error) {
	n := c.badFrames.Add(1)
	if c.loggedBad.CompareAndSwap(false, true) {
		c.log.Warn("analyzer: bad frame from instrument; further bad frames are only counted",
			"port", c.id.Port, "protocol", c.id.Protocol, "bad_frames", n, "err", err)
	}
}

// exchange sends req and reads the reply with read, re-sending after a bad
// frame. The deadline is the earlier of ctx's and c.timeout.
func exchange[T any](ctx context.Context, c *conn, req []byte, read func(context.Context, *link) (T, error)) (T, error) {
	var zero T
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return zero, fmt.Errorf("%s %s: %w", c.id.Protocol, c.id.Port, ErrClosed)
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var lastBad error
	for attempt := 0; ; attempt++ {
		c.discarded.Add(int64(c.link.discard()))
		if err := c.link.write(ctx, req); err != nil {
			return zero, c.fail(fmt.Errorf("write: %w", err))
		}
		v, err := read(ctx, c.link)
		if err == nil {
			c.frames.Add(1)
			return v, nil
		}
		if !errors.Is(err, ErrBadFrame) {
			if lastBad != nil && errors.Is(err, context.DeadlineExceeded) {
				return zero, fmt.Errorf("%s %s: %w after %w", c.id.Protocol, c.id.Port, ErrIncomplete, lastBad)
			}
			return zero, c.fail(err)
		}
		c.badFrame(err)
		lastBad = err
		if attempt >= c.retries {
			return zero, fmt.Errorf("%s %s: %d bad frames in a row: %w", c.id.Protocol, c.id.Port, attempt+1, err)
		}
	}
}

// fail names the port and turns a deadline into ErrNoResponse (nothing came)
// or ErrIncomplete (something came, but no valid reply).
func (c *conn) fail(err error) error {
	where := c.id.Protocol + " " + c.id.Port
	switch {
	case errors.Is(err, context.DeadlineExceeded) && c.link.received == 0:
		return fmt.Errorf("%w from %s before the deadline: %w", ErrNoResponse, where, err)
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%w from %s (%d bytes): %w", ErrIncomplete, where, c.link.received, err)
	}
	return fmt.Errorf("%s: %w", where, err)
}
