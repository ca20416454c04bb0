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

	"github.com/bayagent/bayagent/drivers/internal/ctxtime"
)

// Defaults for Options fields left zero.
const (
	DefaultTimeout          = time.Second
	DefaultRetries          = 2
	DefaultGap              = 200 * time.Millisecond
	DefaultPollInterval     = time.Second
	DefaultOperationTimeout = 3 * time.Minute
	DefaultZeroWait         = 30 * time.Second
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
	poll    time.Duration
	opLimit time.Duration
	zeroFor time.Duration
	ranges  map[string]Range
	log     *slog.Logger

	frames, badFrames, discarded, implausible atomic.Int64
	loggedBad, loggedImplausible              atomic.Bool
	closeOnce                                 sync.Once
	closeErr                                  error
}

func newConn(rw io.ReadWriter, port, protocol, model, method string, o Options) *conn {
	c := &conn{
		link:    newLink(rw),
		id:      InstrumentID{Model: model, Port: port, Protocol: protocol},
		method:  method,
		timeout: orDefault(o.Timeout, DefaultTimeout),
		gap:     orDefault(o.Gap, DefaultGap),
		retries: o.Retries,
		poll:    orDefault(o.PollInterval, DefaultPollInterval),
		opLimit: orDefault(o.OperationTimeout, DefaultOperationTimeout),
		zeroFor: orDefault(o.ZeroWait, DefaultZeroWait),
		ranges:  DefaultRanges(),
		log:     o.Logger,
	}
	if o.Model != "" {
		c.id.Model = o.Model
	}
	for name, r := range o.Ranges {
		c.ranges[name] = r
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

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

func (c *conn) stats() Stats {
	return Stats{Frames: c.frames.Load(), BadFrames: c.badFrames.Load(), Discarded: c.discarded.Load(), Implausible: c.implausible.Load()}
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

// reading checks values against the plausible ranges and returns them as a
// Reading, or an error wrapping an *ImplausibleError.
func (c *conn) reading(method string, values []Quantity, status []string) (Reading, error) {
	if err := checkPlausible(values, c.ranges); err != nil {
		n := c.implausible.Add(1)
		if c.loggedImplausible.CompareAndSwap(false, true) {
			c.log.Warn("analyzer: implausible reading refused; further ones are only counted",
				"port", c.id.Port, "protocol", c.id.Protocol, "implausible", n, "err", err)
		}
		return Reading{}, fmt.Errorf("%s %s: %w", c.id.Protocol, c.id.Port, err)
	}
	return Reading{Method: method, Instrument: c.id, Time: time.Now(), Values: values, Status: status}, nil
}

// skip counts bytes thrown away while looking for a frame.
func (c *conn) skip(n int) { c.discarded.Add(int64(n)) }

func (c *conn) badFrame(err error) {
	n := c.badFrames.Add(1)
	if c.loggedBad.CompareAndSwap(false, true) {
		c.log.Warn("analyzer: bad frame from instrument; further bad frames are only counted",
			"port", c.id.Port, "protocol", c.id.Protocol, "bad_frames", n, "err", err)
	}
}

// exchange sends req and reads the reply with read, re-sending after a bad
// frame. The deadline is the earlier of ctx's and c.timeout. A nil req
// reads without sending.
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
	case errors.Is(err, ErrClosed), errors.Is(err, ErrNAK), errors.Is(err, ErrBusy):
		return fmt.Errorf("%s: %w", where, err)
	}
	return fmt.Errorf("%s: %w", where, err)
}

// fixed reads an n-byte reply with no way to find its start: it takes the
// first n bytes after the request (what the station code does).
func fixed(c *conn, n int) func(context.Context, *link) ([]byte, error) {
	return func(ctx context.Context, l *link) ([]byte, error) {
		b := make([]byte, n)
		if err := l.readReply(ctx, b, c.gap); err != nil {
			return nil, err
		}
		return b, nil
	}
}

// checked reads an n-byte reply that valid accepts, sliding over bytes that
// do not start one (counted as discarded) for as long as bytes keep coming.
func checked(c *conn, n int, valid func([]byte) error) func(context.Context, *link) ([]byte, error) {
	return func(ctx context.Context, l *link) ([]byte, error) {
		b, skipped, err := l.readWindow(ctx, n, c.gap, valid)
		c.skip(skipped)
		return b, err
	}
}

// operation runs step every poll interval until it reports done, for at
// most the operation timeout (or ctx). step returns done=true with the
// outcome, or done=false to poll again.
func (c *conn) operation(ctx context.Context, what string, step func(context.Context) (bool, error)) error {
	opCtx, cancel := context.WithTimeout(ctx, c.opLimit)
	defer cancel()
	notFinished := func() error {
		return fmt.Errorf("%s %s: %s still running after %v: %w", c.id.Protocol, c.id.Port, what, c.opLimit, ErrNotFinished)
	}
	for {
		done, err := step(opCtx)
		if opCtx.Err() != nil && ctx.Err() == nil {
			return notFinished()
		}
		if done || (err != nil && !errors.Is(err, ErrBusy)) {
			return err
		}
		if err := c.wait(opCtx); err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("%s %s: %s: %w", c.id.Protocol, c.id.Port, what, ctx.Err())
			}
			return notFinished()
		}
	}
}

// settle waits the fixed time an instrument that reports no completion
// needs (the station code's 30 s timer after a zero).
func (c *conn) settle(ctx context.Context, what string) error {
	if err := ctxtime.Sleep(ctx, c.zeroFor); err != nil {
		return fmt.Errorf("%s %s: %s: %w: %w", c.id.Protocol, c.id.Port, what, ErrNotFinished, err)
	}
	return nil
}

func (c *conn) wait(ctx context.Context) error { return ctxtime.Sleep(ctx, c.poll) }

// oneByte sends a one-byte command answered by 0x06 (NHA family, MQW-511).
func (c *conn) oneByte(ctx context.Context, cmd byte) error {
	_, err := exchange(ctx, c, []byte{cmd}, func(ctx context.Context, l *link) (struct{}, error) {
		b, err := l.readByte(ctx)
		if err != nil {
			return struct{}{}, err
		}
		return struct{}{}, nhaCommandReply(b)
	})
	return err
}

func unsupported(c *conn, what string) error {
	return fmt.Errorf("%s (%s): %s: %w", c.id.Model, c.id.Protocol, what, ErrUnsupported)
}

// wrap names the port on an outcome error.
func (c *conn) wrap(err error) error { return fmt.Errorf("%s %s: %w", c.id.Protocol, c.id.Port, err) }

func errorsIs(err, target error) bool { return errors.Is(err, target) }
