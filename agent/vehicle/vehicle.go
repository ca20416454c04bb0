// Package vehicle opens the vehicle interface named by an address as an
// obd.Transport: ISO-TP over a CAN bus (can:, mem:, udp:), with the 11-bit or
// 29-bit identifiers of ISO 15765-4 detected when not configured, or an
// ELM327 adapter on a serial line (elm327:/dev/ttyUSB0[@baud]).
package vehicle

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/bayagent/bayagent/drivers/canbus"
	"github.com/bayagent/bayagent/drivers/elm327"
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
	// IDBits is 11 or 29 to skip detection on CAN; 0 detects.
	IDBits int
	// P2 overrides the ECU response window on CAN (default 50 ms).
	P2     time.Duration
	Logger *slog.Logger
}

// Link is an open vehicle interface.
type Link struct {
	obd.Transport
	// Protocol describes the link for people and records, e.g.
	// "ISO 15765-4 CAN 11-bit (can:can0)".
	Protocol string
	close    func() error
	voltage  func(context.Context) (float64, error)
}

// ErrNoVoltage is returned by Voltage on links that cannot measure the
// vehicle's battery (a bare CAN interface).
var ErrNoVoltage = errors.New("vehicle: this interface cannot read the battery voltage")

// Open attaches to the vehicle interface at addr.
func Open(ctx context.Context, addr string, opts Options) (*Link, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if spec, ok := strings.CutPrefix(addr, "elm327:"); ok {
		return openELM327(ctx, spec, opts)
	}
	return openCAN(ctx, addr, opts)
}

func openELM327(ctx context.Context, spec string, opts Options) (*Link, error) {
	a, err := elm327.Open(ctx, spec, elm327.Options{Logger: opts.Logger})
	if err != nil {
		return nil, err
	}
	return &Link{
		Transport: a,
		Protocol:  fmt.Sprintf("%s, %s (elm327:%s)", a.Version(), a.Protocol(), spec),
		close:     a.Close,
		voltage:   a.Voltage,
	}, nil
}

func openCAN(ctx context.Context, addr string, opts Options) (*Link, error) {
	log := opts.Logger
	conn, err := canbus.Open(ctx, addr, canbus.Options{Hub: opts.Hub, Logger: log})
	if err != nil {
		return nil, err
	}
	cfg := isotp.Config{P2: opts.P2, Logger: log}
	switch opts.IDBits {
	case 11, 29:
		cfg.Extended = opts.IDBits == 29
		return canLink(conn, cfg, addr), nil
	case 0:
	default:
		conn.Close()
		return nil, fmt.Errorf("vehicle: CAN identifier bits must be 11, 29 or 0 (detect): %d", opts.IDBits)
	}
	for _, ext := range []bool{false, true} {
		cfg.Extended = ext
		c := isotp.NewClient(conn, cfg)
		_, err := c.Do(ctx, obd.Request{Data: []byte{0x01, 0x00}})
		c.Close()
		if err == nil {
			l := canLink(conn, cfg, addr)
			log.Info("vehicle detected", "protocol", l.Protocol)
			return l, nil
		}
		if !errors.Is(err, obd.ErrNoResponse) {
			conn.Close()
			return nil, fmt.Errorf("vehicle: detect on %s: %w", addr, err)
		}
	}
	conn.Close()
	return nil, ErrNotDetected
}

func canLink(conn canbus.Conn, cfg isotp.Config, addr string) *Link {
	bits := 11
	if cfg.Extended {
		bits = 29
	}
	c := isotp.NewClient(conn, cfg)
	return &Link{
		Transport: c,
		Protocol:  fmt.Sprintf("ISO 15765-4 CAN %d-bit (%s)", bits, addr),
		close:     func() error { return errors.Join(c.Close(), conn.Close()) },
	}
}

// Voltage reads the vehicle's battery voltage where the interface can
// (an ELM327's ATRV); ErrNoVoltage otherwise.
func (l *Link) Voltage(ctx context.Context) (float64, error) {
	if l.voltage == nil {
		return 0, ErrNoVoltage
	}
	return l.voltage(ctx)
}

// Close stops the transport and detaches from the bus or adapter.
func (l *Link) Close() error { return l.close() }
