// Package canbus sends and receives raw CAN frames over one of several
// buses selected by an address string:
//
//	can:can0                    real SocketCAN interface (Linux only; vcan0 on a laptop)
//	mem:bay1                    in-process virtual bus (tests, demo); needs a MemHub
//	udp:239.64.142.206:20000    go.einride.tech/can UDP-multicast emulator, loopback only
//	replay:path/to/candump.log  a candump log played back, read-only
//
// Frames are go.einride.tech/can Frame values. A Conn is one node on a bus: it
// receives every frame other nodes send, never its own.
package canbus

import (
	"context"
	"errors"

	"go.einride.tech/can"
)

// Conn is one node attached to a CAN bus. Send and Receive may be called from
// different goroutines; Close unblocks both and waits for any goroutine the
// Conn owns.
type Conn interface {
	// Send transmits one frame. It returns ErrClosed after Close, and
	// ErrReadOnly on a replay bus.
	Send(ctx context.Context, f can.Frame) error
	// Receive blocks until a frame arrives, ctx ends (ctx.Err() is
	// returned) or the Conn is closed (ErrClosed). A replay Conn returns
	// io.EOF at the end of its log.
	Receive(ctx context.Context) (can.Frame, error)
	// Close detaches the node from the bus.
	Close() error
}

// Errors returned by every Conn implementation; compare with errors.Is.
var (
	// ErrClosed is returned by Send and Receive once the Conn is closed.
	ErrClosed = errors.New("canbus: connection closed")
	// ErrReadOnly is returned by Send on a bus that cannot transmit (replay).
	ErrReadOnly = errors.New("canbus: bus is read-only")
	// ErrBadAddress is returned by Open for an address it cannot parse.
	ErrBadAddress = errors.New("canbus: bad bus address")
)
