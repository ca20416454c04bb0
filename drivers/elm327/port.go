package elm327

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// port is the byte stream to the adapter: a reader goroutine that turns
// Read calls (which may return any fragment, or time out) into chunks, and
// the prompt-delimited exchange on top of it. Only one goroutine at a time
// calls exchange (the Adapter's mutex).
type port struct {
	rw      io.ReadWriter
	chunks  chan []byte // from the reader; closed when it stops
	rerr    error       // why the reader stopped; written before chunks is closed
	stop    chan struct{}
	stopped sync.Once
	wg      sync.WaitGroup
	buf     []byte // received, not yet consumed

	written, read atomic.Int64
}

func newPort(rw io.ReadWriter) *port {
	p := &port{rw: rw, chunks: make(chan []byte, 64), stop: make(chan struct{})}
	p.wg.Add(1)
	go p.reader()
	return p
}

// isTimeout reports whether a Read error only means "no data yet", as
// serialport.ErrTimeout or a deadline on a file or connection.
func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &t) && t.Timeout())
}

func (p *port) reader() {
	defer p.wg.Done()
	defer close(p.chunks)
	b := make([]byte, 512)
	for {
		n, err := p.rw.Read(b)
		if n > 0 {
			p.read.Add(int64(n))
			select {
			case p.chunks <- bytes.Clone(b[:n]):
			case <-p.stop:
				p.rerr = ErrClosed
				return
			}
		}
		if err != nil && !isTimeout(err) {
			p.rerr = err
			return
		}
		select {
		case <-p.stop:
			p.rerr = ErrClosed
			return
		default:
		}
	}
}

// close stops the reader: it closes rw when it is an io.Closer (which
// unblocks a pending Read), then waits for the reader goroutine.
func (p *port) close() error {
	var err error
	p.stopped.Do(func() {
		close(p.stop)
		if c, ok := p.rw.(io.Closer); ok {
			err = c.Close()
		}
		p.wg.Wait()
	})
	return err
}

// discard drops everything received so far and returns it.
func (p *port) discard() []byte {
	stale := p.buf
	p.buf = nil
	for {
		select {
		case c, ok := <-p.chunks:
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
		case c, ok := <-p.chunks:
			if !ok {
				if p.rerr != nil && !errors.Is(p.rerr, ErrClosed) {
					return string(p.buf), errors.Join(ErrClosed, p.rerr)
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
