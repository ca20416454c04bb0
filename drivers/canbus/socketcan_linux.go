package canbus

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"syscall"
	"time"

	"go.einride.tech/can"
	"go.einride.tech/can/pkg/socketcan"
)

// canUpHint tells the user how to bring a CAN interface up.
const canUpHint = "bring it up with scripts/can-up.sh"

// dialSocketCAN opens the SocketCAN interface ifname.
func dialSocketCAN(ctx context.Context, addr, ifname string, log *slog.Logger) (Conn, error) {
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		return nil, fmt.Errorf("%w: open %s: no such network interface (%s)", ErrNoInterface, addr, canUpHint)
	}
	if ifi.Flags&net.FlagUp == 0 {
		return nil, fmt.Errorf("%w: open %s: interface is down (%s)", ErrNoInterface, addr, canUpHint)
	}
	conn, err := socketcan.DialContext(ctx, "can", ifname)
	if err != nil {
		if errors.Is(err, syscall.EAFNOSUPPORT) {
			return nil, fmt.Errorf("canbus: open %s: kernel has no SocketCAN support (modprobe can-raw): %w", addr, err)
		}
		return nil, fmt.Errorf("canbus: open %s: %w", addr, err)
	}
	return newSockConn(addr, &socketcanIO{
		conn: conn,
		rx:   socketcan.NewReceiver(conn),
		tx:   socketcan.NewTransmitter(conn),
		addr: addr,
		log:  log,
	}, log), nil
}

// socketcanIO is a raw SocketCAN socket. The kernel does not deliver a
// socket's own frames back to it by default, so no filtering is needed.
type socketcanIO struct {
	conn net.Conn
	rx   *socketcan.Receiver
	tx   *socketcan.Transmitter
	addr string
	log  *slog.Logger
}

func (s *socketcanIO) readFrame() (can.Frame, error) {
	for s.rx.Receive() {
		if s.rx.HasErrorFrame() {
			s.log.Debug("canbus: error frame", "bus", s.addr, "frame", s.rx.ErrorFrame())
			continue
		}
		return s.rx.Frame(), nil
	}
	if err := s.rx.Err(); err != nil {
		return can.Frame{}, err
	}
	return can.Frame{}, io.EOF
}

func (s *socketcanIO) writeFrame(f can.Frame) error {
	// The deadline is managed by sockConn.Send; a context without one
	// keeps the transmitter from touching it.
	return s.tx.TransmitFrame(context.Background(), f)
}

func (s *socketcanIO) SetWriteDeadline(t time.Time) error { return s.conn.SetWriteDeadline(t) }

func (s *socketcanIO) Close() error { return s.conn.Close() }
