package isotp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/bayagent/bayagent/drivers/canbus"
	"github.com/bayagent/bayagent/drivers/internal/ctxtime"
	"github.com/bayagent/bayagent/drivers/obd"
	"go.einride.tech/can"
)

// Handler answers one reassembled request; ok=false means "stay silent".
// functional reports whether the request came on the functional identifier.
type Handler func(req []byte, functional bool) (resp []byte, ok bool)

// ServerConfig configures one simulated ECU for Serve.
type ServerConfig struct {
	// Conn is this ECU's own node on the bus.
	Conn canbus.Conn
	// ECU is the response identifier this ECU answers from: 0x7E8-0x7EF or
	// 0x18DAF1xx (29-bit addressing is implied by a value above 0x7FF).
	ECU obd.ECU
	// Latency is the delay before the first frame of each response.
	Latency time.Duration
	// BlockSize and STmin are the server's flow control when it receives a
	// multi-frame request (raw STmin byte, see Config.STmin).
	BlockSize, STmin byte
	// Pad is the padding byte; zero means 0xAA.
	Pad byte
	// Faults injects errors into the responses.
	Faults Faults
	// Logger receives reports of bad frames and failed sends. Nil discards.
	Logger *slog.Logger
}

// Faults are errors a simulated ECU injects to exercise the tester.
type Faults struct {
	// DropFrame drops the 2nd consecutive frame of each multi-frame
	// response and everything after it, so the tester must time out with
	// N_Cr rather than hang.
	DropFrame bool
	// LateCF adds this delay before each consecutive frame after the first.
	LateCF time.Duration
	// FCWait sends this many FC WAIT frames before the first CTS when
	// receiving a multi-frame request.
	FCWait int
	// WrongSN sends the 2nd consecutive frame with a wrong sequence number
	// (the rest follow with their normal numbers).
	WrongSN bool
	// Garbage sends a malformed frame (bad PCI) from this ECU's identifier
	// before each response.
	Garbage bool
}

// Serve answers requests until ctx ends; it listens on the functional id and
// the ECU's physical request id. Functional requests must be single frames;
// physical requests may be segmented (up to 4095 bytes). While a response is
// being sent, Serve honours the tester's flow control (BS, STmin, WAIT up to
// 10 in a row, OVFLW, N_Bs 1000 ms) and ignores other requests. Serve
// returns nil when ctx ends, ErrBadAddress for an invalid ECU, and the
// Conn's error if receiving fails. Serve does not close the Conn.
func Serve(ctx context.Context, cfg ServerConfig, h Handler) error {
	rxID, ext, err := RequestID(cfg.ECU)
	if err != nil {
		return err
	}
	if cfg.Pad == 0 {
		cfg.Pad = DefaultPad
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &server{
		cfg:   cfg,
		log:   log.With("ecu", cfg.ECU),
		rxID:  rxID,
		funID: functionalID(ext),
		ext:   ext,
		r:     Reassembler{BlockSize: cfg.BlockSize},
		h:     h,
	}
	s.tx = sender{conn: cfg.Conn, id: uint32(cfg.ECU), ext: ext, pad: cfg.Pad, nbs: DefaultNBs,
		maxWait: DefaultMaxWait, faults: cfg.Faults}
	err = s.run(ctx)
	if ctx.Err() != nil {
		return nil
	}
	return err
}

type server struct {
	cfg         ServerConfig
	log         *slog.Logger
	rxID, funID uint32
	ext         bool
	r           Reassembler // physical requests
	tx          sender
	h           Handler
}

// mine classifies a received frame: physical, functional, or neither.
func (s *server) mine(f can.Frame) (physical, functional bool) {
	if f.IsExtended != s.ext || f.IsRemote {
		return false, false
	}
	return f.ID == s.rxID, f.ID == s.funID
}

func (s *server) run(ctx context.Context) error {
	for {
		f, err := s.receive(ctx)
		if errors.Is(err, ErrTimeoutCr) {
			s.log.Warn("isotp server: request abandoned", "err", err)
			s.r.Reset()
			continue
		}
		if err != nil {
			return err
		}
		phys, fun := s.mine(f)
		data := f.Data[:f.Length]
		var req []byte
		switch {
		case fun:
			p, err := Parse(data)
			if err != nil || p.Kind != SingleFrame {
				s.log.Warn("isotp server: ignored functional frame", "frame", f.String(), "err", err)
				continue
			}
			req = append([]byte(nil), p.Data...)
		case phys:
			res, err := s.r.Feed(data)
			if res.Aborted != nil {
				s.log.Warn("isotp server: request interrupted", "err", res.Aborted)
			}
			if err != nil {
				s.log.Warn("isotp server: bad frame", "frame", f.String(), "err", err)
			}
			first := len(data) > 0 && data[0]>>4 == byte(FirstFrame)
			if err := s.flow(ctx, res.Flow, first); err != nil {
				return err
			}
			req = res.Message
		}
		if req == nil {
			continue
		}
		resp, ok := s.answer(req, fun)
		if !ok {
			continue
		}
		if err := s.respond(ctx, resp); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			s.log.Warn("isotp server: response failed", "err", err)
		}
	}
}

// answer calls the handler, turning a panic-free but empty answer into silence.
func (s *server) answer(req []byte, functional bool) ([]byte, bool) {
	resp, ok := s.h(req, functional)
	if ok && len(resp) == 0 {
		s.log.Warn("isotp server: handler returned an empty response; staying silent")
		return nil, false
	}
	return resp, ok
}

// receive reads the next frame, within N_Cr while a request is in progress.
func (s *server) receive(ctx context.Context) (can.Frame, error) {
	if !s.r.InProgress() {
		f, err := s.cfg.Conn.Receive(ctx)
		return clamp(f), err
	}
	rctx, cancel := context.WithTimeout(ctx, DefaultNCr)
	defer cancel()
	f, err := s.cfg.Conn.Receive(rctx)
	if err != nil && ctx.Err() == nil && rctx.Err() != nil {
		return f, fmt.Errorf("%w: after %v", ErrTimeoutCr, DefaultNCr)
	}
	return clamp(f), err
}

// flow sends the flow control the reassembler asked for; before the CTS
// that answers a first frame it sends Faults.FCWait WAIT frames.
func (s *server) flow(ctx context.Context, need FlowNeed, first bool) error {
	fc := PDU{Kind: FlowControlFrame, BlockSize: s.cfg.BlockSize, STmin: s.cfg.STmin}
	switch need {
	case NoFlow:
		return nil
	case SendOverflow:
		fc.Status = FlowOverflow
	case SendContinue:
		if first {
			for range s.cfg.Faults.FCWait {
				if err := s.tx.sendPDU(ctx, PDU{Kind: FlowControlFrame, Status: FlowWait}); err != nil {
					return err
				}
			}
		}
	}
	return s.tx.sendPDU(ctx, fc)
}

// respond sends one response after the configured latency.
func (s *server) respond(ctx context.Context, resp []byte) error {
	if s.cfg.Faults.Garbage {
		d := can.Data{0xF5, 0xDE, 0xAD, 0xBE, 0xEF, s.cfg.Pad, s.cfg.Pad, s.cfg.Pad}
		if err := s.cfg.Conn.Send(ctx, frame(uint32(s.cfg.ECU), s.ext, d)); err != nil {
			return err
		}
	}
	if err := ctxtime.Sleep(ctx, s.cfg.Latency); err != nil {
		return err
	}
	return s.tx.send(ctx, resp, s.nextFC)
}

// nextFC reads the tester's flow control for the response being sent.
func (s *server) nextFC(ctx context.Context, timeout time.Duration) (PDU, error) {
	rctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		f, err := s.cfg.Conn.Receive(rctx)
		f = clamp(f)
		if err != nil {
			if ctx.Err() == nil && rctx.Err() != nil {
				return PDU{}, fmt.Errorf("%w: after %v", ErrTimeoutBs, timeout)
			}
			return PDU{}, err
		}
		if phys, _ := s.mine(f); !phys {
			continue
		}
		p, err := Parse(f.Data[:f.Length])
		if err == nil && p.Kind == FlowControlFrame {
			return p, nil
		}
		s.log.Warn("isotp server: ignored frame while sending", "frame", f.String(), "err", err)
	}
}
