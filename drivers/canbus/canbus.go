// Package canbus sends and receives raw CAN frames over the bus an address
// names.
//
// Open takes the address:
//
//	can:can0                    real SocketCAN interface (Linux only; vcan0 on a laptop)
//	mem:bay1                    in-process virtual bus (tests, demo); needs Options.Hub
//	udp:239.64.142.206:20000    go.einride.tech/can UDP-multicast emulator, loopback only
//	replay:path/to/candump.log  a candump -L log played back, read-only
//
// Frames are go.einride.tech/can Frame values. A Conn is one node on a bus: it
// receives every frame other nodes send, never its own.
//
// The udp: bus is wire compatible with einride's socketcan emulator (one
// 16-byte SocketCAN frame per datagram), so a simulator and the agent can run
// as separate processes. It never leaves the host: the sockets are pinned to
// the loopback interface with TTL 0, and Open refuses to start (ErrNotLoopback)
// when the loopback interface cannot carry multicast; fix that with
// "ip link set lo multicast on" as root. The group must be an IPv4 multicast
// address; use the administratively scoped 239.0.0.0/8.
//
// ParseCandumpLine and WriteCandump read and write the candump -L log format
// ("(1436509052.249713) vcan0 7E8#0341..."); Record wraps a Conn so that every
// frame it sends or receives is appended to such a log, which a replay: bus
// plays back.
package canbus

import (
	"context"
	"errors"
	"fmt"

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

// checkSend is what every Conn that can transmit checks first: that f is a
// valid frame, that the Conn is not closed (ErrClosed) and that ctx has not
// ended.
func checkSend(ctx context.Context, addr string, closed <-chan struct{}, f can.Frame) error {
	if err := f.Validate(); err != nil {
		return fmt.Errorf("canbus: send on %s: %w", addr, err)
	}
	select {
	case <-closed:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	default:
		return nil
	}
}

// Errors returned by every Conn implementation; compare with errors.Is.
var (
	// ErrClosed is returned by Send and Receive once the Conn is closed.
	ErrClosed = errors.New("canbus: connection closed")
	// ErrReadOnly is returned by Send on a bus that cannot transmit (replay).
	ErrReadOnly = errors.New("canbus: bus is read-only")
	// ErrBadAddress is returned by Open for an address it cannot parse.
	ErrBadAddress = errors.New("canbus: bad bus address")
	// ErrNoHub is returned by Open for a mem: address when Options.Hub is nil.
	ErrNoHub = errors.New("canbus: mem: bus needs Options.Hub")
	// ErrNoInterface is returned by Open for a can: address whose network
	// interface does not exist or is down.
	ErrNoInterface = errors.New("canbus: CAN network interface not available")
	// ErrNotLoopback is returned by Open for a udp: address when the loopback
	// interface is down or cannot carry multicast, so the emulated bus
	// would leak onto a real network.
	ErrNotLoopback = errors.New("canbus: loopback interface cannot carry the UDP bus")
	// ErrBadCandump is returned for a line that is not in candump -L format
	// or a frame that cannot be written in it.
	ErrBadCandump = errors.New("canbus: bad candump line")
	// ErrCANFD is returned for a CAN FD ("##") candump line: only classic
	// CAN frames are supported.
	ErrCANFD = errors.New("canbus: CAN FD frames are not supported")
)
