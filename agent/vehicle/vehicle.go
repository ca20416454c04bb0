// Package vehicle opens the vehicle interface named by an address as an
// obd.Transport: ISO-TP over a CAN bus (can:, mem:, udp:), with the 11-bit or
// 29-bit identifiers of ISO 15765-4 detected when not configured.
package vehicle

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/bayagent/bayagent/drivers/canbus"
	"github.com/bayagent/bayagent/drivers/isotp"
	"github.com/bayagent/bayagent/drivers/obd"
)

// ErrNotDetected is returned by Open when IDBits is 0 and no ECU answers a
// functional 0100 on either 11-bit or 29-bit identifiers.
var ErrNotDetected = errors.New("vehicle: no ECU answered on 11-bit or 29-bit CAN identifiers (ignition off, wrong bit rate, or not connected?)")

// Options configures Open. The zero value detects the addressing.
type Options struct {
	// Hub holds in-process buses for mem: addresses.
	Hub *canbus.MemHub
	// IDBits is 11 or 29 to skip detection; 0 detects.
	IDBits int
	// P2 overrides the ECU response window (default 50 ms).
	P2     time.Duration
	Logger *slog.Logger
}

// Link is an open vehicle interface.
type Link struct {
	obd.Transport
	// Protocol describes the link for people and records, e.g.
	// "ISO 15765-4 CAN 11-bit (mem:bay1)".
	Protocol string
	client   *isotp.Client
	conn     canbus.Conn
}

// Open attaches to the bus at addr and returns a transport for OBD requests.
func Open(ctx context.Context, addr string, opts Options) (*Link, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	conn, err := canbus.Open(ctx, addr, canbus.Options{Hub: opts.Hub, Logger: log})
	if err != nil {
		return nil, err
	}
	cfg := isotp.Config{P2: opts.P2, Logger: log}
	switch opts.IDBits {
	case 11, 29:
		cfg.Extended = opts.IDBits == 29
		return newLink(conn, cfg, addr), nil
	case 0:
	default:
		conn.Close()
		return nil, fmt.Errorf("vehicle: CAN identifier bits must be 11, 29 or 0 (detect): %d", opts.IDBits)
	}
	for _, ext := range []bool{false, true} {
		cfg.Extended = ext
		l := newLink(conn, cfg, addr)
		_, err := l.client.Do(ctx, obd.Request{Data: []byte{0x01, 0x00}})
		if err == nil {
			log.Info("vehicle detected", "protocol", l.Protocol)
			return l, nil
		}
		l.client.Close()
		if !errors.Is(err, obd.ErrNoResponse) {
			conn.Close()
			return nil, fmt.Errorf("vehicle: detect on %s: %w", addr, err)
		}
	}
	conn.Close()
	return nil, ErrNotDetected
}

func newLink(conn canbus.Conn, cfg isotp.Config, addr string) *Link {
	bits := 11
	if cfg.Extended {
		bits = 29
	}
	c := isotp.NewClient(conn, cfg)
	return &Link{
		Transport: c,
		Protocol:  fmt.Sprintf("ISO 15765-4 CAN %d-bit (%s)", bits, addr),
		client:    c,
		conn:      conn,
	}
}

// Stats returns the ISO-TP traffic counters of the link.
func (l *Link) Stats() isotp.Stats { return l.client.Stats() }

// Close stops the transport and detaches from the bus.
func (l *Link) Close() error {
	err := l.client.Close()
	return errors.Join(err, l.conn.Close())
}
