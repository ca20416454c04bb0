package canbus

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"go.einride.tech/can"
)

// rxQueueLen is how many received frames a socket Conn holds before it drops
// the oldest, like a CAN controller's receive FIFO overrunning.
const rxQueueLen = 4096

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
	frames   chan can.Frame
	closed   chan struct{}
	readDone chan struct{}
	readErr  error // written by the reader before readDone is closed
	sendMu   sync.Mutex
	overruns atomic.Int64
	wg       sync.WaitGroup
	once     sync.Once
	closeErr error
}

var _ Conn = (*sockConn)(nil)

func newSockConn(addr string, fio frameIO, log *slog.Logger) *sockConn {
	c := &sockConn{
		addr:     addr,
		io:       fio,
		log:      log,
		frames:   make(chan can.Frame, rxQueueLen),
		closed:   make(chan struct{}),
		readDone: make(chan struct{}),
	}
	c.wg.Add(1)
	go c.readLoop()
	return c
}

func (c *sockConn) readLoop() {
	defer c.wg.Done()
	defer close(c.readDone)
	for {
		f, err := c.io.readFrame()
		if err != nil {
			select {
			case <-c.closed:
				c.readErr = ErrClosed
			default:
				c.readErr = fmt.Errorf("canbus: receive on %s: %w", c.addr, err)
				c.log.Error("canbus: receiver stopped", "bus", c.addr, "err", err)
			}
			return
		}
		c.push(f)
	}
}

// push enqueues without blocking; on overrun the oldest frame is dropped and
// counted. Only the reader goroutine pushes.
func (c *sockConn) push(f can.Frame) {
	for {
		select {
		case c.frames <- f:
			return
		default:
		}
		select {
		case <-c.frames:
			if c.overruns.Add(1) == 1 {
				c.log.Warn("canbus: receive queue overrun, dropping oldest frames", "bus", c.addr)
			}
		default:
		}
	}
}

// Overruns reports how many received frames were dropped because the
// receiver did not keep up.
func (c *sockConn) Overruns() int64 { return c.overruns.Load() }

// aLongTimeAgo is a deadline in the past that makes a pending write fail.
var aLongTimeAgo = time.Unix(1, 0)

func (c *sockConn) Send(ctx context.Context, f can.Frame) error {
	if err := f.Validate(); err != nil {
		return fmt.Errorf("canbus: send on %s: %w", c.addr, err)
	}
	select {
	case <-c.closed:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	default:
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
	select {
	case <-c.closed:
		return can.Frame{}, ErrClosed
	default:
	}
	select {
	case f := <-c.frames:
		return f, nil
	case <-c.closed:
		return can.Frame{}, ErrClosed
	case <-ctx.Done():
		return can.Frame{}, ctx.Err()
	case <-c.readDone:
		select {
		case f := <-c.frames:
			return f, nil
		default:
			return can.Frame{}, c.readErr
		}
	}
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
