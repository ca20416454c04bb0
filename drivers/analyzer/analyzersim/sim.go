// Package analyzersim simulates the analyzers and opacimeters package analyzer
// drives.
//
// It speaks the instrument side of their serial protocols on an io.ReadWriter
// (Serve) or a pseudo-terminal (ServePTY), so that the real driver opens a
// device path exactly as on a box.
//
// The frames are built here, from DOMAIN.md section 3 and the station code it
// cites, independently of package analyzer's decoders: a test that runs the
// driver against the simulator checks two readings of the same documents
// against each other, and each side has its own tests against hand-written
// frames.
//
// What the instrument reports comes from a readings file (Load, LoadFile;
// examples in testdata/analyzers): a fixed sequence of samples, or samples
// that follow the simulated car's engine speed (Options.Engine), so that a
// test procedure runs end to end on one machine. The instrument warms up,
// zeroes, runs its leak check and calibrates as its Behaviour says, counted
// in polls. Faults can be injected: a corrupted checksum, garbage bytes
// before a reply, busy and NAK replies, and silence.
//
// Choices that only the simulator makes (the documents are silent): byte
// [0] of an NHA family reply is 0x06; an unknown one-byte command is
// answered 0x15; an NHT-6 NAK carries NAKBadChecksum, NAKNoResult or
// NAKUnknownCommand; the undocumented bytes of FLA-501, MQW-50A and FGA-4100
// replies are zero (the FGA-4100 data frame's header is chosen so that the
// frame's own checksum also holds); the highest-value register of an
// opacimeter is updated whenever the instrument is asked anything.
package analyzersim

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// NAK codes the simulated NHT-6 family sends.
const (
	NAKBadChecksum    = 0x01 // the request failed its checksum
	NAKNoResult       = 0x02 // no free-acceleration result yet
	NAKUnknownCommand = 0x03 // the command is not known
)

// Engine is the simulated car's engine as the instrument's rpm pick-up sees
// it. The simulator asks it on every reading.
type Engine interface {
	RPM() float64
}

// EngineFunc adapts a function to Engine.
type EngineFunc func() float64

// RPM implements Engine.
func (f EngineFunc) RPM() float64 { return f() }

// Faults are injected into the replies that follow, in this order: garbage
// bytes go before the next reply; then each NAK, busy or bad-checksum count
// replaces or corrupts one reply.
type Faults struct {
	// Garbage is sent before the next reply.
	Garbage []byte
	// NAK answers the next NAK requests with a refusal (NHT-6 family: code
	// NAKCode).
	NAK     int
	NAKCode byte
	// Busy answers the next Busy one-byte requests with 0x05 (NHA family).
	Busy int
	// BadChecksum corrupts the last byte of the next BadChecksum replies.
	BadChecksum int
}

// Options configures a Sim.
type Options struct {
	Faults Faults
	// Silent makes the instrument read requests and answer nothing.
	Silent bool
	// Engine, when set, gives the rpm the instrument reports, and chooses
	// the engine-following samples of the readings.
	Engine Engine
	// Logger receives one debug line per request; nil discards.
	Logger *slog.Logger
}

// Sim is one simulated instrument. Its methods may be called while Serve
// runs.
type Sim struct {
	protocol string
	engine   Engine
	log      *slog.Logger
	requests atomic.Int64

	mu      sync.Mutex
	c       *compiled
	faults  Faults
	silent  bool
	serving bool
	st      state
}

// state is what the instrument is doing.
type state struct {
	warmLeft   int  // status polls left in the warm-up
	pumping    bool // the pump runs (measuring)
	op         string
	opLeft     int
	zeroFailed bool // outcome of the last zero (MQW-50A status)
	leak       bool // outcome of the last leak check (MQW-50A status)
	calFault   bool // the last calibration ended in a fault (reported once)
	gasAt      int
	opaAt      int
	peak       [3]float64 // N, K, rpm since the last clear
	nhtStatus  byte
}

// New returns a simulator reporting r.
func New(r *Readings, o Options) (*Sim, error) {
	c, err := r.compile()
	if err != nil {
		return nil, err
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Sim{protocol: r.Protocol, engine: o.Engine, log: log, c: c, faults: o.Faults, silent: o.Silent}
	s.st.warmLeft = c.behaviour.WarmUpPolls
	return s, nil
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
// its repair. r must be for the same protocol. The instrument's state
// (warm-up, pump) is kept; r's behaviour applies to the next zero, leak
// check and calibration.
func (s *Sim) SetReadings(r *Readings) error {
	if r.Protocol != s.protocol {
		return fmt.Errorf("analyzersim: readings for %s, the simulator speaks %s", r.Protocol, s.protocol)
	}
	c, err := r.compile()
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.c, s.st.gasAt, s.st.opaAt = c, 0, 0
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
// line and give nil). When ctx ends, Serve unblocks its read with rw's
// SetReadDeadline if it has one, or else by closing rw if it is an
// io.Closer. A Sim serves one line at a time.
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
	req, err := s.readRequest(r)
	if err != nil {
		return nil, err
	}
	s.requests.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	reply := s.answer(req)
	s.log.Debug("analyzersim: request", "protocol", s.protocol, "request", fmt.Sprintf("% x", req), "reply", fmt.Sprintf("% x", reply), "silent", s.silent)
	if s.silent || reply == nil {
		return nil, nil
	}
	out := append([]byte(nil), s.faults.Garbage...)
	s.faults.Garbage = nil
	switch {
	case s.faults.NAK > 0:
		s.faults.NAK--
		if s.family() == familyNHT {
			return append(out, 0x15, s.faults.NAKCode), nil
		}
		return append(out, 0x15), nil
	case s.faults.Busy > 0 && len(req) == 1:
		s.faults.Busy--
		return append(out, 0x05), nil
	case s.faults.BadChecksum > 0:
		s.faults.BadChecksum--
		reply[len(reply)-1] ^= 0xFF
	}
	return append(out, reply...), nil
}

// Protocol families, by framing.
const (
	familyNHA = iota // one-byte requests: NHA family, MQW-511, NHA-501A
	familyFLA501
	familyMQW50A
	familyFGA
	familyNHT
	familyFTY
)

func (s *Sim) family() int {
	switch s.protocol {
	case ProtocolFLA501:
		return familyFLA501
	case ProtocolMQW50A:
		return familyMQW50A
	case ProtocolFGA4100:
		return familyFGA
	case ProtocolNHT6, ProtocolMQY200:
		return familyNHT
	case ProtocolFTY100:
		return familyFTY
	}
	return familyNHA
}

// readRequest reads one request frame as the instrument's firmware would.
func (s *Sim) readRequest(r *bufio.Reader) ([]byte, error) {
	switch s.family() {
	case familyFLA501:
		// 02 LEN CMD data CHK: read until the bytes sum to zero (the
		// literal frames differ on what LEN counts).
		if err := syncOn(r, 0x02); err != nil {
			return nil, err
		}
		req := []byte{0x02}
		for len(req) < 8 {
			b, err := r.ReadByte()
			if err != nil {
				return nil, err
			}
			req = append(req, b)
			if len(req) >= 4 && sum(req) == 0 {
				break
			}
		}
		return req, nil
	case familyMQW50A:
		// 02 CMD LEN ... with LEN the frame length less one.
		if err := syncOn(r, 0x02); err != nil {
			return nil, err
		}
		hdr := make([]byte, 2)
		if _, err := io.ReadFull(r, hdr); err != nil {
			return nil, err
		}
		n := max(int(hdr[1])-2, 1)
		rest := make([]byte, n)
		if _, err := io.ReadFull(r, rest); err != nil {
			return nil, err
		}
		return append(append([]byte{0x02}, hdr...), rest...), nil
	case familyFGA:
		// 7E LEN payload CHK frames; a select frame (F4) comes first.
		for {
			if err := syncOn(r, 0x7E); err != nil {
				return nil, err
			}
			n, err := r.ReadByte()
			if err != nil {
				return nil, err
			}
			rest := make([]byte, int(n)+1)
			if _, err := io.ReadFull(r, rest); err != nil {
				return nil, err
			}
			frame := append([]byte{0x7E, n}, rest...)
			if len(rest) == 2 && rest[0] == 0xF4 {
				continue
			}
			return frame, nil
		}
	case familyNHT:
		cmd, err := r.ReadByte()
		if err != nil {
			return nil, err
		}
		n := 1
		if cmd == 0xA0 {
			n = 2
		}
		rest := make([]byte, n)
		if _, err := io.ReadFull(r, rest); err != nil {
			return nil, err
		}
		return append([]byte{cmd}, rest...), nil
	case familyFTY:
		if err := syncOn(r, 'f'); err != nil {
			return nil, err
		}
		rest := make([]byte, 6)
		if _, err := io.ReadFull(r, rest); err != nil {
			return nil, err
		}
		return append([]byte{'f'}, rest...), nil
	}
	b, err := r.ReadByte()
	if err != nil {
		return nil, err
	}
	return []byte{b}, nil
}

func syncOn(r *bufio.Reader, start byte) error {
	for {
		b, err := r.ReadByte()
		if err != nil {
			return err
		}
		if b == start {
			return nil
		}
	}
}

func sum(b []byte) byte {
	var s byte
	for _, x := range b {
		s += x
	}
	return s
}

// neg appends the two's complement checksum.
func neg(b ...byte) []byte { return append(b, -sum(b)) }

func be(dst []byte, v uint16) []byte { return binary.BigEndian.AppendUint16(dst, v) }

// word encodes a value as a 16-bit field of 1/scale (readings were checked
// by compile, so the value fits).
func word(v float64, scale int64) uint16 { return uint16(int64(math.Round(v * float64(scale)))) }

// rpm is what the instrument's rpm pick-up reads: the engine's, or the
// sample's when no engine is followed.
func (s *Sim) rpm(sample float64) float64 {
	if s.engine == nil {
		return sample
	}
	return math.Round(max(0, s.engine.RPM()))
}

// nextSample returns the sample *at of a sequence and moves *at on to the next,
// staying at the last sample once it is reached.
func nextSample[T any](seq []T, at *int) T {
	v := seq[*at]
	if *at < len(seq)-1 {
		*at++
	}
	return v
}

// gasNow is the gas sample the instrument reads now.
func (s *Sim) gasNow() GasSample {
	c := s.c
	var g GasSample
	switch {
	case !c.following:
		g = nextSample(c.seqGas, &s.st.gasAt)
		g.RPM = s.rpm(g.RPM)
		return g
	case s.engine == nil:
		g = *c.idle
	default:
		rpm := s.rpm(0)
		switch {
		case rpm <= 0 && c.air != nil:
			g = *c.air
		case rpm < c.highIdleFrom:
			g = *c.idle
		default:
			g = *c.highIdle
		}
		g.RPM = rpm
	}
	return g
}

// opaNow is the opacity sample the instrument reads now.
func (s *Sim) opaNow() OpacitySample {
	c := s.c
	var o OpacitySample
	switch {
	case c.opaIdle == nil:
		o = nextSample(c.opaSeq, &s.st.opaAt)
		o.RPM = s.rpm(o.RPM)
		return o
	case s.engine == nil:
		o = *c.opaIdle
	default:
		rpm := s.rpm(0)
		o = *c.opaIdle
		if rpm >= c.accelFrom {
			o = *c.opaAccel
		}
		o.RPM = rpm
	}
	return o
}

// poll advances a running operation by one poll and reports whether it is
// still running.
func (s *Sim) poll(op string) (running bool) {
	if s.st.op != op {
		return false
	}
	if s.st.opLeft > 0 {
		s.st.opLeft--
		return true
	}
	s.st.op = ""
	return false
}

// start starts an operation that runs for polls polls.
func (s *Sim) start(op string, polls int) {
	s.st.op, s.st.opLeft = op, polls
}

func (s *Sim) answer(req []byte) []byte {
	switch s.family() {
	case familyFLA501:
		return s.answerFLA501(req)
	case familyMQW50A:
		return s.answerMQW50A(req)
	case familyFGA:
		return s.answerFGA(req)
	case familyNHT:
		return s.answerNHT(req)
	case familyFTY:
		return s.answerFTY(req)
	}
	if s.protocol == ProtocolMQW511 || s.protocol == ProtocolNHA501A {
		return s.answerMQW511(req[0])
	}
	return s.answerNHA(req[0])
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }
