// Package serialport opens RS-232 and USB serial lines (8N1) for the serial
// drivers.
//
// The drivers are those of analyzers, opacimeters and ELM327 adapters; the
// lines are opened through github.com/tarm/serial, with the one surprise of
// that library fixed: with a read timeout set, tarm/serial returns io.EOF when
// no byte arrived within the timeout. A Port returns ErrTimeout instead (which
// is os.ErrDeadlineExceeded and has Timeout() == true, like a net.Conn), so
// that a caller can tell "no data yet" from "end of stream", and io.EOF never
// appears on a Port.
//
// Reads therefore return at least every PollInterval, which lets a reader
// goroutine notice Close without the port ever blocking forever.
package serialport

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"

	"github.com/tarm/serial"
)

// PollInterval is the read timeout a Port is opened with: the longest a Read
// blocks when nothing arrives. The line discipline counts in tenths of a
// second, so this is the shortest possible value.
const PollInterval = 100 * time.Millisecond

// Errors returned by this package.
var (
	// ErrTimeout is returned by Read when nothing arrived within
	// PollInterval. errors.Is(ErrTimeout, os.ErrDeadlineExceeded) holds.
	ErrTimeout error = timeoutError{}
	// ErrBadBaud is returned by Open for a baud rate outside Bauds.
	ErrBadBaud = errors.New("serialport: unsupported baud rate")
	// ErrNoName is returned by Open for an empty device name.
	ErrNoName = errors.New("serialport: empty device name")
)

type timeoutError struct{}

func (timeoutError) Error() string        { return "serialport: read timeout, no data yet" }
func (timeoutError) Timeout() bool        { return true }
func (timeoutError) Is(target error) bool { return target == os.ErrDeadlineExceeded }

// Bauds lists the baud rates Open accepts.
var bauds = []int{1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200, 230400, 460800, 921600}

// ValidBaud reports whether Open accepts the baud rate.
func ValidBaud(baud int) bool {
	for _, b := range bauds {
		if b == baud {
			return true
		}
	}
	return false
}

// Port is an open serial line. Read and Write may be called from different
// goroutines. Close makes a pending Read return within PollInterval.
type Port struct {
	name string
	p    *serial.Port
}

var _ io.ReadWriteCloser = (*Port)(nil)

// Open opens the device (for example /dev/ttyUSB0) at baud, 8 data bits, no
// parity, one stop bit, in raw mode.
func Open(name string, baud int) (*Port, error) {
	if name == "" {
		return nil, ErrNoName
	}
	if !ValidBaud(baud) {
		return nil, fmt.Errorf("%w: %d (want one of %v)", ErrBadBaud, baud, bauds)
	}
	p, err := serial.OpenPort(&serial.Config{Name: name, Baud: baud, ReadTimeout: PollInterval})
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err // the path is said once, here
		}
		return nil, fmt.Errorf("serialport: open %s: %w", name, err)
	}
	return &Port{name: name, p: p}, nil
}

// Name returns the device name the port was opened with.
func (p *Port) Name() string { return p.name }

// Read reads what has arrived, waiting at most PollInterval. It returns
// ErrTimeout when nothing arrived.
func (p *Port) Read(b []byte) (int, error) {
	n, err := p.p.Read(b)
	if errors.Is(err, io.EOF) {
		if n == 0 {
			return 0, ErrTimeout
		}
		err = nil
	}
	return n, err
}

// Write writes b to the line.
func (p *Port) Write(b []byte) (int, error) { return p.p.Write(b) }

// Flush discards bytes received but not read and bytes written but not sent.
func (p *Port) Flush() error { return p.p.Flush() }

// Close closes the port.
func (p *Port) Close() error { return p.p.Close() }
