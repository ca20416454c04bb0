package canbus

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"go.einride.tech/can"
)

// frameIO is one socket-backed bus endpoint (SocketCAN or the UDP emulator).
type frameIO interface {
	// readFrame blocks until a frame for this node arrives; it skips
	// anything that is not one. It fails once Close has been called.
	readFrame() (can.Frame, error)
	writeFrame(f can.Frame) error
	SetWriteDeadline(t time.Time) error
	Close() error
}

// sockConn adapts a frameIO to Conn. It owns one reader goroutine that feeds
// a bounded queue and is joined by Close.
type sockConn struct {
	addr     string
	io       frameIO
	log      *slog.Logger
	rx       *rxQueue // pushed by the reader, stopped when it exits
	closed   chan struct{}
	sendMu   sync.Mutex
	wg       sync.WaitGroup
	once     sync.Once
	closeErr error
}

var _ Conn = (*sockConn)(nil)

func newSockConn(addr string, fio frameIO, log *slog.Logger) *sockConn {
	c := &sockConn{
		addr:   addr,
		io:     fio,
		log:    log,
		rx:     newRxQueue(),
		closed: make(chan struct{}),
	}
	c.wg.Add(1)
	go c.readLoop()
	return c
}

func (c *sockConn) readLoop() {
	defer c.wg.Done()
	for {
		f, err := c.io.readFrame()
		if err != nil {
			select {
			case <-c.closed:
				err = ErrClosed
			default:
				c.log.Error("canbus: receiver stopped", "bus", c.addr, "err", err)
				err = fmt.Errorf("canbus: receive on %s: %w", c.addr, err)
			}
			c.rx.stop(err)
			return
		}
		if c.rx.push(f) {
			c.log.Warn("canbus: receive queue overrun, dropping oldest frames", "bus", c.addr)
		}
	}
}

// Overruns reports how many received frames were dropped because the
// receiver did not keep up.
func (c *sockConn) Overruns() int64 { return c.rx.overruns.Load() }

// aLongTimeAgo is a deadline in the past that makes a pending write fail.
var aLongTimeAgo = time.Unix(1, 0)

func (c *sockConn) Send(ctx context.Context, f can.Frame) error {
	if err := checkSend(ctx, c.addr, c.closed, f); err != nil {
		return err
	}
	c.sendMu.Lock()
	defer c.sendMu.Unlock()
	deadline, _ := ctx.Deadline() // zero: no deadline
	err := c.io.SetWriteDeadline(deadline)
	if err == nil {
		fired := make(chan struct{})
		stop := context.AfterFunc(ctx, func() {
			_ = c.io.SetWriteDeadline(aLongTimeAgo)
			close(fired)
		})
		err = c.io.writeFrame(f)
		if !stop() {
			<-fired // do not let it move the next Send's deadline
		}
	}
	if err != nil {
		select {
		case <-c.closed:
			return ErrClosed
		default:
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("canbus: send on %s: %w", c.addr, err)
	}
	return nil
}

func (c *sockConn) Receive(ctx context.Context) (can.Frame, error) {
	return c.rx.receive(ctx, c.closed)
}

// Close stops the reader: it marks the Conn closed, closes the sockets (which
// unblocks the reader and any pending Send) and waits for the reader to exit.
func (c *sockConn) Close() error {
	c.once.Do(func() {
		close(c.closed)
		if err := c.io.Close(); err != nil {
			c.closeErr = fmt.Errorf("canbus: close %s: %w", c.addr, err)
		}
		c.wg.Wait()
	})
	return c.closeErr
}
