package canbus

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"go.einride.tech/can"
)

// memQueueLen is how many frames a MemConn holds before it drops the oldest,
// like a CAN controller's receive FIFO overrunning.
const memQueueLen = 4096

// MemHub holds named in-process buses ("mem:NAME"). The zero value is ready to
// use. A hub is owned by whoever creates it (a test, the demo); there is no
// global hub.
type MemHub struct {
	mu    sync.Mutex
	buses map[string]*MemBus
}

// Bus returns the bus with the given name, creating it on first use.
func (h *MemHub) Bus(name string) *MemBus {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.buses == nil {
		h.buses = make(map[string]*MemBus)
	}
	b, ok := h.buses[name]
	if !ok {
		b = &MemBus{name: name}
		h.buses[name] = b
	}
	return b
}

// MemBus is an in-process virtual CAN bus: every frame sent by one attached
// MemConn is delivered, in order, to every other attached MemConn.
type MemBus struct {
	name  string
	mu    sync.Mutex
	conns map[*MemConn]struct{}
}

// NewMemBus returns an unnamed bus not held by any hub.
func NewMemBus() *MemBus { return &MemBus{name: "anonymous"} }

// Connect attaches a new node to the bus.
func (b *MemBus) Connect() *MemConn {
	c := &MemConn{
		bus:    b,
		queue:  make(chan can.Frame, memQueueLen),
		closed: make(chan struct{}),
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.conns == nil {
		b.conns = make(map[*MemConn]struct{})
	}
	b.conns[c] = struct{}{}
	return c
}

func (b *MemBus) deliver(from *MemConn, f can.Frame) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for c := range b.conns {
		if c != from {
			c.push(f)
		}
	}
}

func (b *MemBus) detach(c *MemConn) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.conns, c)
}

// MemConn is one node on a MemBus. It implements Conn.
type MemConn struct {
	bus       *MemBus
	queue     chan can.Frame
	closed    chan struct{}
	closeOnce sync.Once
	overruns  atomic.Int64
}

var _ Conn = (*MemConn)(nil)

// push enqueues without blocking the sender; on overrun the oldest frame is
// dropped and counted. Called with the bus lock held, so pushes to one
// MemConn are serialised.
func (c *MemConn) push(f can.Frame) {
	for {
		select {
		case c.queue <- f:
			return
		default:
		}
		select {
		case <-c.queue:
			c.overruns.Add(1)
		default:
		}
	}
}

// Overruns reports how many received frames were dropped because the
// receiver did not keep up.
func (c *MemConn) Overruns() int64 { return c.overruns.Load() }

// Send implements Conn.
func (c *MemConn) Send(ctx context.Context, f can.Frame) error {
	if err := f.Validate(); err != nil {
		return fmt.Errorf("canbus: send on mem:%s: %w", c.bus.name, err)
	}
	select {
	case <-c.closed:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	default:
	}
	c.bus.deliver(c, f)
	return nil
}

// Receive implements Conn.
func (c *MemConn) Receive(ctx context.Context) (can.Frame, error) {
	select {
	case <-c.closed:
		return can.Frame{}, ErrClosed
	default:
	}
	select {
	case f := <-c.queue:
		return f, nil
	case <-c.closed:
		return can.Frame{}, ErrClosed
	case <-ctx.Done():
		return can.Frame{}, ctx.Err()
	}
}

// Close implements Conn.
func (c *MemConn) Close() error {
	c.closeOnce.Do(func() {
		c.bus.detach(c)
		close(c.closed)
	})
	return nil
}
