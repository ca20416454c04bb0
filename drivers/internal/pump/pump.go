// Package pump reads an adapter's or instrument's line in one goroutine and hands over what arrives.
//
// A serial port (or a TCP link to a Wi-Fi dongle) answers Read with any
// fragment, and with a timeout when nothing came; the drivers want to wait
// for bytes with a context instead. A Pump owns the goroutine that reads the
// line: it passes each fragment on a channel, takes a timeout for "no data
// yet" and any other error, io.EOF included, for the end of the line. The
// ELM327 and exhaust-analyzer drivers frame their exchanges on top of it.
package pump

import (
	"bytes"
	"errors"
	"io"
	"os"
	"sync"
	"sync/atomic"
)

// Pump reads one line until Stop or the line's end.
type Pump struct {
	r      io.Reader
	chunks chan []byte
	stop   chan struct{}
	once   sync.Once
	wg     sync.WaitGroup
	err    error // why reading ended; written before chunks is closed
	read   atomic.Int64
}

// Start reads r in a new goroutine, at most size bytes a Read, keeping up
// to depth fragments that nobody has taken yet.
func Start(r io.Reader, size, depth int) *Pump {
	p := &Pump{r: r, chunks: make(chan []byte, depth), stop: make(chan struct{})}
	p.wg.Go(func() { p.run(size) })
	return p
}

func (p *Pump) run(size int) {
	defer close(p.chunks)
	b := make([]byte, size)
	for {
		n, err := p.r.Read(b)
		if n > 0 {
			p.read.Add(int64(n))
			select {
			case p.chunks <- bytes.Clone(b[:n]):
			case <-p.stop:
				return
			}
		}
		if err != nil && !IsTimeout(err) {
			p.err = err
			return
		}
		select {
		case <-p.stop:
			return
		default:
		}
	}
}

// Chunks are the fragments in the order they came. The channel is closed
// when reading ended; Err then says why.
func (p *Pump) Chunks() <-chan []byte { return p.chunks }

// Err is why reading ended, once Chunks is closed: the line's error (io.EOF
// when it hung up), or nil when Stop ended it.
func (p *Pump) Err() error { return p.err }

// BytesRead counts the bytes read from the line so far.
func (p *Pump) BytesRead() int64 { return p.read.Load() }

// Stop ends reading and waits for the goroutine. It closes the line first
// when the line is an io.Closer (which unblocks a pending Read) and returns
// that Close's error; later calls do nothing and return nil.
func (p *Pump) Stop() error {
	var err error
	p.once.Do(func() {
		close(p.stop)
		if c, ok := p.r.(io.Closer); ok {
			err = c.Close()
		}
		p.wg.Wait()
	})
	return err
}

// IsTimeout reports whether a Read error only means "no data yet":
// serialport.ErrTimeout, a deadline on a file or connection, or any error
// whose Timeout method says so.
func IsTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &t) && t.Timeout())
}
