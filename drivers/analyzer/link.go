package analyzer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/bayagent/bayagent/drivers/internal/pump"
)

// link turns an io.ReadWriter into a byte stream whose reads honour a
// context. Its pump owns the goroutine that reads the line and hands the
// chunks over; close stops it and waits for it.
//
// The pump treats a read error that is a timeout (os.ErrDeadlineExceeded,
// which serialport.ErrTimeout is, or any error with Timeout() == true) as "no
// data yet"; any other error, io.EOF included, ends the stream.
type link struct {
	rw   io.ReadWriter
	pump *pump.Pump

	// Used only by the goroutine holding the driver's lock.
	pending  []byte
	received int // bytes handed out since the last discard
}

func newLink(rw io.ReadWriter) *link {
	return &link{rw: rw, pump: pump.Start(rw, 256, 32)}
}

// streamErr is the error of a read after the stream ended.
func (l *link) streamErr() error {
	err := l.pump.Err()
	if err == nil {
		return ErrClosed
	}
	return fmt.Errorf("%w: line ended: %w", ErrClosed, err)
}

// discard drops everything received and not yet read and resets the count of
// received bytes. It returns how many bytes it dropped.
func (l *link) discard() int {
	n := len(l.pending)
	l.pending = nil
	for {
		select {
		case c, ok := <-l.pump.Chunks():
			if !ok {
				l.received = 0
				return n
			}
			n += len(c)
		default:
			l.received = 0
			return n
		}
	}
}

// fill waits until pending holds at least one byte.
func (l *link) fill(ctx context.Context) error {
	for len(l.pending) == 0 {
		select {
		case c, ok := <-l.pump.Chunks():
			if !ok {
				return l.streamErr()
			}
			l.pending = c
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

var errGap = errors.New("analyzer: pause inside a frame")

func (l *link) readByte(ctx context.Context) (byte, error) {
	if err := l.fill(ctx); err != nil {
		return 0, err
	}
	b := l.pending[0]
	l.pending = l.pending[1:]
	l.received++
	return b, nil
}

// readFull reads the rest of a frame: when no byte arrives for gap, the frame
// is truncated (ErrBadFrame), so the caller asks again instead of waiting out
// the whole deadline.
func (l *link) readFull(ctx context.Context, p []byte, gap time.Duration) error {
	want := len(p)
	for len(p) > 0 {
		if len(l.pending) == 0 {
			gctx, cancel := context.WithTimeoutCause(ctx, gap, errGap)
			err := l.fill(gctx)
			cancel()
			if err != nil {
				if ctx.Err() == nil && errors.Is(context.Cause(gctx), errGap) {
					return frameError("truncated: %d of %d more bytes, then a pause of %v", want-len(p), want, gap)
				}
				return err
			}
		}
		n := copy(p, l.pending)
		l.pending = l.pending[n:]
		l.received += n
		p = p[n:]
	}
	return nil
}

// readReply reads a whole reply into p: the first byte may take until ctx's
// deadline (the instrument is working out its answer), the rest must follow
// without a pause longer than gap.
func (l *link) readReply(ctx context.Context, p []byte, gap time.Duration) error {
	if len(p) == 0 {
		return nil
	}
	b, err := l.readByte(ctx)
	if err != nil {
		return err
	}
	p[0] = b
	return l.readFull(ctx, p[1:], gap)
}

// readWindow reads n bytes and, while valid refuses them, one more byte at
// a time, sliding the window over what came before (at most 4n bytes in
// all). It returns the accepted window and how many bytes it slid over; when
// the line pauses for gap, or the slide limit is reached, it returns valid's
// last error (an ErrBadFrame).
func (l *link) readWindow(ctx context.Context, n int, gap time.Duration, valid func([]byte) error) ([]byte, int, error) {
	buf := make([]byte, n, 4*n)
	if err := l.readReply(ctx, buf, gap); err != nil {
		return nil, 0, err
	}
	for skipped := 0; ; skipped++ {
		w := buf[skipped : skipped+n]
		err := valid(w)
		if err == nil {
			return w, skipped, nil
		}
		if len(buf) == cap(buf) {
			return nil, skipped, err
		}
		var one [1]byte
		if rerr := l.readFull(ctx, one[:], gap); rerr != nil {
			if errors.Is(rerr, ErrBadFrame) {
				return nil, skipped, err
			}
			return nil, skipped, rerr
		}
		buf = append(buf, one[0])
	}
}

// write sends b. When the line supports write deadlines (a net.Conn, a
// pollable os.File), ctx's deadline applies; a serial port write of a few
// bytes does not block.
func (l *link) write(ctx context.Context, b []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(b) == 0 {
		return nil
	}
	if d, ok := l.rw.(interface{ SetWriteDeadline(time.Time) error }); ok {
		dl, _ := ctx.Deadline()
		_ = d.SetWriteDeadline(dl) // best effort: not every os.File is pollable
	}
	_, err := l.rw.Write(b)
	return err
}

// close stops the pump, closes the line if it is an io.Closer and waits for
// the pump. A line that is not an io.Closer must end its Read on its own (an
// error or a timeout) for close to return.
func (l *link) close() error { return l.pump.Stop() }
