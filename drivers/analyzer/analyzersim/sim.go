// Package analyzersim simulates the exhaust gas analyzers and opacimeters
// that package analyzer drives: it speaks the instrument side of the NHA-506,
// MQW-511, FGA-4100 and NHT-6 protocols on an io.ReadWriter (Serve) or on a
// pseudo-terminal (ServePTY), so that the real driver opens a device path
// through its serial opener exactly as on a box.
//
// What the instrument reports comes from a readings file (Load, LoadFile;
// examples in testdata/analyzers). Faults can be injected: a corrupted
// checksum, garbage bytes before a reply, busy and NAK replies, and silence.
//
// Frames are built with package analyzer's Append functions, so the layouts
// chosen there are the only ones. Choices that only the simulator makes: an
// NHT-6 NAK carries NAKBadChecksum, NAKNoResult or NAKUnknownCommand; an
// unknown NHA-family command is answered with NAK; an FGA-4100 request that
// fails its checksum or names another address gets no reply.
package analyzersim

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bayagent/bayagent/drivers/analyzer"
)

// NAK codes the simulated NHT-6 sends.
const (
	NAKBadChecksum    = 0x01 // the request failed its checksum
	NAKNoResult       = 0x02 // no free-acceleration result yet
	NAKUnknownCommand = 0x03 // the command is not known
)

// Faults are injected into the replies that follow, in this order: garbage
// bytes go before the next reply; then each NAK, busy or bad-checksum count
// replaces or corrupts one reply.
type Faults struct {
	// Garbage is sent before the next reply.
	Garbage []byte
	// NAK answers the next NAK requests with a refusal (NHT-6: code NAKCode).
	NAK     int
	NAKCode byte
	// Busy answers the next Busy requests with busy (NHA family only).
	Busy int
	// BadChecksum corrupts the checksum of the next BadChecksum replies.
	BadChecksum int
}

// Options configures a Sim.
type Options struct {
	Faults Faults
	// Silent makes the instrument read requests and answer nothing.
	Silent bool
	// Logger receives one debug line per request; nil discards.
	Logger *slog.Logger
}

// Sim is one simulated instrument. Its methods may be called while Serve
// runs.
type Sim struct {
	protocol string
	fr       *frames
	log      *slog.Logger
	requests atomic.Int64

	mu      sync.Mutex
	faults  Faults
	silent  bool
	gasAt   int
	opaAt   int
	status  byte
	serving bool
}

// New returns a simulator reporting r.
func New(r *Readings, o Options) (*Sim, error) {
	fr, err := r.encode()
	if err != nil {
		return nil, err
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Sim{protocol: r.Protocol, fr: fr, log: log, faults: o.Faults, silent: o.Silent, status: fr.status}, nil
}

// Protocol returns the protocol the simulator speaks (an analyzer driver
// name).
func (s *Sim) Protocol() string { return s.protocol }

// Inject adds faults to those still pending.
func (s *Sim) Inject(f Faults) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.Garbage = append(s.faults.Garbage, f.Garbage...)
	s.faults.NAK += f.NAK
	if f.NAK > 0 {
		s.faults.NAKCode = f.NAKCode
	}
	s.faults.Busy += f.Busy
	s.faults.BadChecksum += f.BadChecksum
}

// SetReadings makes the instrument report r from now on, from r's first
// sample: the same instrument measuring another car, or the same car after
// its repair. r must be for the same protocol.
func (s *Sim) SetReadings(r *Readings) error {
	if r.Protocol != s.protocol {
		return fmt.Errorf("analyzersim: readings for %s, the simulator speaks %s", r.Protocol, s.protocol)
	}
	fr, err := r.encode()
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fr, s.gasAt, s.opaAt = fr, 0, 0
	return nil
}

// SetSilent makes the instrument stop (true) or resume (false) answering.
func (s *Sim) SetSilent(silent bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.silent = silent
}

// Requests returns how many requests the simulator has read.
func (s *Sim) Requests() int64 { return s.requests.Load() }

// ErrBusyServing is returned by Serve when the Sim already serves a line.
var ErrBusyServing = errors.New("analyzersim: already serving")

// Serve answers requests read from rw until ctx ends (nil) or rw fails (its
// error; io.EOF and the closed-file/pipe/conn errors count as the end of the
// line and give nil).
// When ctx ends, Serve unblocks its read with rw's SetReadDeadline if it has
// one, or else by closing rw if it is an io.Closer. A Sim serves one line at
// a time.
func (s *Sim) Serve(ctx context.Context, rw io.ReadWriter) error {
	s.mu.Lock()
	if s.serving {
		s.mu.Unlock()
		return ErrBusyServing
	}
	s.serving = true
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.serving = false
		s.mu.Unlock()
	}()

	fired := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		defer close(fired)
		if d, ok := rw.(interface{ SetReadDeadline(time.Time) error }); ok && d.SetReadDeadline(time.Unix(1, 0)) == nil {
			return
		}
		if c, ok := rw.(io.Closer); ok {
			_ = c.Close()
		}
	})
	defer func() {
		if !stop() {
			<-fired
		}
	}()

	r := bufio.NewReader(rw)
	for {
		reply, err := s.next(r)
		if err != nil {
			if ctx.Err() != nil || endOfLine(err) {
				return nil
			}
			return fmt.Errorf("analyzersim: read: %w", err)
		}
		if reply == nil {
			continue
		}
		if _, err := rw.Write(reply); err != nil {
			if ctx.Err() != nil || endOfLine(err) {
				return nil
			}
			return fmt.Errorf("analyzersim: write: %w", err)
		}
	}
}

func endOfLine(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, os.ErrClosed) || errors.Is(err, io.ErrClosedPipe) || errors.Is(err, net.ErrClosed)
}

// next reads one request and returns the bytes to send (nil: none).
func (s *Sim) next(r *bufio.Reader) ([]byte, error) {
	req, reply, err := s.answer(r)
	if err != nil {
		return nil, err
	}
	s.requests.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.log.Debug("analyzersim: request", "protocol", s.protocol, "request", fmt.Sprintf("% x", req), "silent", s.silent)
	if s.silent || reply == nil {
		return nil, nil
	}
	out := append([]byte(nil), s.faults.Garbage...)
	s.faults.Garbage = nil
	switch {
	case s.faults.NAK > 0:
		s.faults.NAK--
		if s.protocol == ProtocolNHT6 {
			return analyzer.AppendNHT6NAK(out, s.faults.NAKCode), nil
		}
		return append(out, analyzer.NHANAK), nil
	case s.faults.Busy > 0 && s.protocol != ProtocolNHT6 && s.protocol != ProtocolFGA4100:
		s.faults.Busy--
		return append(out, analyzer.NHABusy), nil
	case s.faults.BadChecksum > 0:
		s.faults.BadChecksum--
		reply[len(reply)-1] ^= 0xFF // every layout ends in its checksum
	}
	return append(out, reply...), nil
}

// answer reads one request and builds the correct reply (nil: no reply).
func (s *Sim) answer(r *bufio.Reader) (req, reply []byte, err error) {
	switch s.protocol {
	case ProtocolFGA4100:
		return s.answerFGA(r)
	case ProtocolNHT6:
		return s.answerNHT6(r)
	}
	b, err := r.ReadByte()
	if err != nil {
		return nil, nil, err
	}
	req = []byte{b}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case b == analyzer.NHA506RequestMain && s.protocol == ProtocolNHA506:
		return req, analyzer.AppendNHA506(nil, s.nextGas()), nil
	case b == analyzer.MQW511RequestMain && s.protocol == ProtocolMQW511:
		return req, analyzer.AppendMQW511(nil, s.nextGas()), nil
	case b == analyzer.NHA506RequestAmbient && s.protocol == ProtocolNHA506 && s.fr.ambient != nil:
		return req, analyzer.AppendNHA506Ambient(nil, *s.fr.ambient), nil
	case b >= byte(analyzer.CmdBackFlush) && b <= byte(analyzer.CmdZero):
		return req, []byte{analyzer.NHAHeader}, nil
	}
	return req, []byte{analyzer.NHANAK}, nil
}

// nextGas returns the current gas sample and moves on (the last repeats).
// Called with s.mu held.
func (s *Sim) nextGas() analyzer.GasFrame {
	f := s.fr.gas[s.gasAt]
	if s.gasAt < len(s.fr.gas)-1 {
		s.gasAt++
	}
	return f
}

func (s *Sim) answerFGA(r *bufio.Reader) (req, reply []byte, err error) {
	for {
		b, err := r.ReadByte()
		if err != nil {
			return nil, nil, err
		}
		if b == analyzer.FGADelimiter {
			break
		}
	}
	req = make([]byte, analyzer.FGARequestLen)
	req[0] = analyzer.FGADelimiter
	if _, err := io.ReadFull(r, req[1:]); err != nil {
		return nil, nil, err
	}
	addr, cmd, err := analyzer.ParseFGARequest(req)
	if err != nil || addr != analyzer.FGAAddress || cmd != analyzer.FGACommandMeasure {
		return req, nil, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.fr.fga[s.gasAt]
	if s.gasAt < len(s.fr.fga)-1 {
		s.gasAt++
	}
	copy(f.Status[:], "FGA4100 SIM    ")
	return req, analyzer.AppendFGA4100(nil, f), nil
}

func (s *Sim) answerNHT6(r *bufio.Reader) (req, reply []byte, err error) {
	cmd, err := r.ReadByte()
	if err != nil {
		return nil, nil, err
	}
	n := 2
	if cmd == analyzer.NHT6SetStatus {
		n = 3
	}
	req = make([]byte, n)
	req[0] = cmd
	if _, err := io.ReadFull(r, req[1:]); err != nil {
		return nil, nil, err
	}
	var sum byte
	for _, b := range req {
		sum += b
	}
	if sum != 0 {
		return req, analyzer.AppendNHT6NAK(nil, NAKBadChecksum), nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch cmd {
	case analyzer.NHT6Realtime:
		f := s.fr.opacity[s.opaAt]
		if s.opaAt < len(s.fr.opacity)-1 {
			s.opaAt++
		}
		return req, analyzer.AppendNHT6Realtime(nil, f), nil
	case analyzer.NHT6FreeAcceleration:
		if s.fr.free == nil {
			return req, analyzer.AppendNHT6NAK(nil, NAKNoResult), nil
		}
		return req, analyzer.AppendNHT6FreeAcceleration(nil, *s.fr.free), nil
	case analyzer.NHT6SetStatus:
		s.status = req[1]
		return req, analyzer.AppendNHT6Status(nil, cmd, s.status), nil
	case analyzer.NHT6GetStatus:
		return req, analyzer.AppendNHT6Status(nil, cmd, s.status), nil
	}
	return req, analyzer.AppendNHT6NAK(nil, NAKUnknownCommand), nil
}
