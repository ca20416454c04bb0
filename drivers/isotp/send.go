package isotp

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/bayagent/bayagent/drivers/canbus"
	"github.com/bayagent/bayagent/drivers/internal/ctxtime"
)

// fcSource waits up to timeout for the next flow-control frame from the
// receiver; it returns ErrTimeoutBs when none arrives.
type fcSource func(ctx context.Context, timeout time.Duration) (PDU, error)

// sender transmits messages from one CAN identifier (ISO 15765-2 sending
// state machine), shared by Client and Serve.
type sender struct {
	conn    canbus.Conn
	id      uint32
	ext     bool
	pad     byte
	nbs     time.Duration // N_Bs: wait for flow control
	maxWait int           // WAIT frames accepted in a row
	faults  Faults        // injected faults (simulated ECUs only)
	sent    *atomic.Int64 // frames sent counter; may be nil
}

func (s *sender) sendPDU(ctx context.Context, p PDU) error {
	d, err := Encode(p, s.pad)
	if err != nil {
		return err
	}
	if err := s.conn.Send(ctx, frame(s.id, s.ext, d)); err != nil {
		return fmt.Errorf("isotp: send %s: %w", p.Kind, err)
	}
	if s.sent != nil {
		s.sent.Add(1)
	}
	return nil
}

// send transmits one message, segmenting it and honouring the receiver's
// flow control (block size, STmin, WAIT, OVFLW) when it needs more than one
// frame.
func (s *sender) send(ctx context.Context, msg []byte, nextFC fcSource) error {
	if len(msg) <= MaxSingle {
		return s.sendPDU(ctx, PDU{Kind: SingleFrame, Data: msg})
	}
	off := 6
	if len(msg) > MaxShortLength {
		off = 2
	}
	if err := s.sendPDU(ctx, PDU{Kind: FirstFrame, Length: uint32(len(msg)), Data: msg[:off]}); err != nil {
		return err
	}
	sn := uint8(1)
	cf := 0 // consecutive frames sent so far
	waits := 0
	for off < len(msg) {
		fc, err := nextFC(ctx, s.nbs)
		if err != nil {
			return err
		}
		switch fc.Status {
		case FlowWait:
			waits++
			if waits > s.maxWait {
				return fmt.Errorf("%w: %d in a row, limit %d", ErrTooManyWaits, waits, s.maxWait)
			}
			continue
		case FlowOverflow:
			return fmt.Errorf("%w: after %d of %d bytes", ErrFlowOverflow, off, len(msg))
		}
		waits = 0
		stmin := STminDuration(fc.STmin)
		for n := 0; off < len(msg) && (fc.BlockSize == 0 || n < int(fc.BlockSize)); n++ {
			if n > 0 {
				if err := ctxtime.Sleep(ctx, stmin); err != nil {
					return err
				}
			}
			if cf > 0 {
				if err := ctxtime.Sleep(ctx, s.faults.LateCF); err != nil {
					return err
				}
			}
			end := min(off+7, len(msg))
			cf++
			if cf == 2 && s.faults.DropFrame {
				return nil // the rest of the message is never sent
			}
			p := PDU{Kind: ConsecutiveFrame, SN: sn, Data: msg[off:end]}
			if cf == 2 && s.faults.WrongSN {
				p.SN = (sn + 5) & 0x0F
			}
			if err := s.sendPDU(ctx, p); err != nil {
				return err
			}
			off = end
			sn = (sn + 1) & 0x0F
		}
	}
	return nil
}
