package elm327

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/bayagent/bayagent/drivers/serialport"
)

// Opener opens a serial device at a baud rate (8N1, raw). Its Read must
// return within a bounded time (a timeout error such as
// serialport.ErrTimeout is "no data yet"); io.EOF means the line ended. An
// error wrapping serialport.ErrBadBaud makes Open skip that rate.
type Opener func(name string, baud int) (io.ReadWriteCloser, error)

// serialOpener opens the device with drivers/serialport.
func serialOpener(name string, baud int) (io.ReadWriteCloser, error) {
	p, err := serialport.Open(name, baud)
	if err != nil {
		return nil, err
	}
	return p, nil
}

// defaultBauds are the rates adapters ship with, most common first.
func defaultBauds() []int { return []int{38400, 9600, 115200, 57600, 230400, 500000} }

// ParseSpec splits a device spec "/dev/ttyUSB0" or "/dev/ttyUSB0@38400"
// into the device name and the baud rate (zero when the spec names none).
func ParseSpec(spec string) (name string, baud int, err error) {
	name = spec
	if i := strings.LastIndexByte(spec, '@'); i >= 0 {
		b, err := strconv.Atoi(spec[i+1:])
		if err != nil || b <= 0 {
			return "", 0, fmt.Errorf("%w: %q: baud rate after @ must be a positive number", ErrBadSpec, spec)
		}
		name, baud = spec[:i], b
	}
	if name == "" {
		return "", 0, fmt.Errorf("%w: %q: empty device name", ErrBadSpec, spec)
	}
	return name, baud, nil
}

// DefaultDialTimeout bounds the TCP connection to a Wi-Fi adapter.
const DefaultDialTimeout = 5 * time.Second

// Open opens the adapter and initialises it (see New).
//
// A spec "tcp://host:port" is a Wi-Fi adapter: an ELM327 behind a TCP
// socket speaking the same text protocol, typically tcp://192.168.0.10:35000
// once the box has joined the dongle's network. There is no baud rate to
// find.
//
// Any other spec is a serial device, "/dev/ttyUSB0[@baud]": a USB adapter,
// or a Bluetooth one bound as /dev/rfcommN (rfcomm bind 0 <address>, the
// SPP channel of the dongle). Open finds its baud rate: it tries the spec's
// rate (or Options.Baud, or 38400) first, then Options.Bauds; at each it
// sends ATI and accepts the rate when a prompt comes back after printable
// text. It returns ErrNoAdapter when no rate works, and the opener's error
// when the device cannot be opened at all.
func Open(ctx context.Context, spec string, opts Options) (*Adapter, error) {
	if addr, ok := strings.CutPrefix(spec, "tcp://"); ok {
		return openTCP(ctx, addr, opts)
	}
	name, baud, err := ParseSpec(spec)
	if err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	open := opts.Opener
	if open == nil {
		open = serialOpener
	}
	first := baud
	if first == 0 {
		first = opts.Baud
	}
	if first == 0 {
		first = 38400
	}
	rest := opts.Bauds
	if rest == nil {
		rest = defaultBauds()
	}
	order := []int{first}
	for _, b := range rest {
		if b > 0 && !contains(order, b) {
			order = append(order, b)
		}
	}
	for _, b := range order {
		rw, err := open(name, b)
		if errors.Is(err, serialport.ErrBadBaud) {
			opts.Logger.Debug("elm327: baud rate not supported by the port", "device", name, "baud", b)
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("elm327: %w", err)
		}
		p := newPort(rw)
		ok, err := probe(ctx, p, opts.ProbeTimeout)
		if err != nil {
			p.close()
			return nil, err
		}
		if !ok {
			p.close()
			opts.Logger.Debug("elm327: no adapter at this baud rate", "device", name, "baud", b)
			continue
		}
		a, err := newAdapter(ctx, p, opts)
		if err != nil {
			return nil, err
		}
		a.info.Lock()
		a.baudRate = b
		a.info.Unlock()
		opts.Logger.Info("elm327: adapter found", "device", name, "baud", b, "version", a.Version(), "protocol", a.Protocol())
		return a, nil
	}
	return nil, fmt.Errorf("%w on %s at %v baud", ErrNoAdapter, name, order)
}

func contains(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// probe sends ATI and reports whether an adapter answered at this rate:
// printable text followed by a prompt. At a wrong rate the adapter prints
// garbage or nothing. Only ctx ending or the line failing is an error.
func probe(ctx context.Context, p *port, timeout time.Duration) (bool, error) {
	p.discard()
	if err := p.write("ATI\r"); err != nil {
		return false, nil
	}
	deadline := time.Now().Add(timeout)
	for {
		text, err := p.untilPrompt(ctx, deadline)
		switch {
		case ctx.Err() != nil:
			return false, ctx.Err()
		case err != nil:
			return false, nil
		case !printable(text):
			return false, nil
		case len(stripEcho(splitLines(text), "ATI")) > 0:
			return true, nil
		}
	}
}

// printable reports whether s holds only printable ASCII, CR and LF.
func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 0x20 || c > 0x7E) && c != '\r' && c != '\n' {
			return false
		}
	}
	return true
}

// openTCP connects to a Wi-Fi adapter at host:port.
func openTCP(ctx context.Context, addr string, opts Options) (*Adapter, error) {
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return nil, fmt.Errorf("%w: tcp://%s: want tcp://host:port, e.g. tcp://192.168.0.10:35000", ErrBadSpec, addr)
	}
	opts = opts.withDefaults()
	d := net.Dialer{Timeout: DefaultDialTimeout}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("elm327: Wi-Fi adapter at %s: %w", addr, err)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true) // one command line per segment, at once
	}
	a, err := newAdapter(ctx, newPort(conn), opts)
	if err != nil {
		return nil, fmt.Errorf("elm327: Wi-Fi adapter at %s: %w", addr, err)
	}
	opts.Logger.Info("elm327: adapter found", "address", addr, "version", a.Version(), "protocol", a.Protocol())
	return a, nil
}
