package canbus

import (
	"context"
	"sync"

	"go.einride.tech/can"
)

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
		b = &MemBus{addr: "mem:" + name}
		h.buses[name] = b
	}
	return b
}

// MemBus is an in-process virtual CAN bus: every frame sent by one attached
// MemConn is delivered, in order, to every other attached MemConn.
type MemBus struct {
	addr  string // "mem:NAME", for errors
	mu    sync.Mutex
	conns map[*MemConn]struct{}
}

// NewMemBus returns an unnamed bus not held by any hub.
func NewMemBus() *MemBus { return &MemBus{addr: "mem:anonymous"} }

// Connect attaches a new node to the bus.
func (b *MemBus) Connect() *MemConn {
	c := &MemConn{
		bus:    b,
		rx:     newRxQueue(),
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
			c.rx.push(f) // serialised by the bus lock
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
	rx        *rxQueue
	closed    chan struct{}
	closeOnce sync.Once
}

var _ Conn = (*MemConn)(nil)

// Overruns reports how many received frames were dropped because the
// receiver did not keep up.
func (c *MemConn) Overruns() int64 { return c.rx.overruns.Load() }

// Send implements Conn.
func (c *MemConn) Send(ctx context.Context, f can.Frame) error {
	if err := checkSend(ctx, c.bus.addr, c.closed, f); err != nil {
		return err
	}
	c.bus.deliver(c, f)
	return nil
}

// Receive implements Conn.
func (c *MemConn) Receive(ctx context.Context) (can.Frame, error) {
	return c.rx.receive(ctx, c.closed)
}

// Close implements Conn.
func (c *MemConn) Close() error {
	c.closeOnce.Do(func() {
		c.bus.detach(c)
		close(c.closed)
	})
	return nil
}
