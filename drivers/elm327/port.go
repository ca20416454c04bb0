package elm327

import (
	"bytes"
	"context"
	"errors"
	"io"
	"sync/atomic"
	"time"

	"github.com/bayagent/bayagent/drivers/internal/pump"
)

// port is the byte stream to the adapter: the line's reader (a pump, which
// turns Read calls that may return any fragment, or time out, into chunks)
// and the prompt-delimited exchange on top of it. Only one goroutine at a
// time calls exchange (the Adapter's mutex).
type port struct {
	rw      io.ReadWriter
	pump    *pump.Pump
	buf     []byte // received, not yet consumed
	written atomic.Int64
}

func newPort(rw io.ReadWriter) *port {
	return &port{rw: rw, pump: pump.Start(rw, 512, 64)}
}

// close stops the reader: it closes rw when it is an io.Closer (which
// unblocks a pending Read), then waits for the reader goroutine.
func (p *port) close() error { return p.pump.Stop() }

// discard drops everything received so far and returns it.
func (p *port) discard() []byte {
	stale := p.buf
	p.buf = nil
	for {
		select {
		case c, ok := <-p.pump.Chunks():
			if !ok {
				return stale
			}
			stale = append(stale, c...)
		default:
			return stale
		}
	}
}

func (p *port) write(s string) error {
	n, err := io.WriteString(p.rw, s)
	p.written.Add(int64(n))
	return err
}

// untilPrompt returns the text received up to the next prompt '>' and keeps
// what follows it. It fails with ErrTimeout (and the text received so far)
// when no prompt arrives by deadline, with ctx's error, or with ErrClosed
// when the line ended.
func (p *port) untilPrompt(ctx context.Context, deadline time.Time) (string, error) {
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	for {
		if i := bytes.IndexByte(p.buf, '>'); i >= 0 {
			text := string(p.buf[:i])
			p.buf = p.buf[i+1:]
			return text, nil
		}
		select {
		case c, ok := <-p.pump.Chunks():
			if !ok {
				if err := p.pump.Err(); err != nil {
					return string(p.buf), errors.Join(ErrClosed, err)
				}
				return string(p.buf), ErrClosed
			}
			p.buf = append(p.buf, c...)
		case <-t.C:
			return string(p.buf), ErrTimeout
		case <-ctx.Done():
			return string(p.buf), ctx.Err()
		}
	}
}
