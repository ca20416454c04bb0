package isotp

import "fmt"

// FlowNeed tells the caller of Reassembler.Feed which flow-control frame it
// must send now, if any.
type FlowNeed uint8

// Flow-control needs.
const (
	NoFlow       FlowNeed = iota // nothing to send
	SendContinue                 // send CTS with the receiver's block size and STmin
	SendOverflow                 // send OVFLW: the message is too long
)

// Result is what one frame fed to a Reassembler produced.
type Result struct {
	// Message is the complete message when this frame finished one; the
	// caller owns it.
	Message []byte
	// Flow is the flow control the caller must send now.
	Flow FlowNeed
	// Aborted is non-nil (wrapping ErrInterrupted) when this frame, a new
	// single or first frame, ended a message that was still being received.
	Aborted error
}

// Reassembler receives the frames of one sender and yields complete
// messages (ISO 15765-2 reception state machine). It keeps no timers: the
// caller applies N_Cr while InProgress reports true and calls Reset when it
// expires. The zero value is ready to use. A Reassembler is not safe for
// concurrent use.
type Reassembler struct {
	// MaxLen is the longest message accepted; longer messages are refused
	// with ErrOverflow (and, for a first frame, SendOverflow). Zero means
	// 4095.
	MaxLen int
	// BlockSize is the block size this receiver announces in its flow
	// control: after that many consecutive frames Feed asks for another
	// CTS. Zero means one flow control for the whole message.
	BlockSize uint8

	buf     []byte // message being received; nil when idle
	total   int    // its declared length
	sn      uint8  // next expected sequence number
	inBlock int    // consecutive frames received in the current block
}

// InProgress reports whether a segmented message is being received.
func (r *Reassembler) InProgress() bool { return r.buf != nil }

// Reset abandons any message in progress.
func (r *Reassembler) Reset() {
	r.buf, r.total, r.sn, r.inBlock = nil, 0, 0, 0
}

func (r *Reassembler) maxLen() int {
	if r.MaxLen <= 0 {
		return MaxShortLength
	}
	return r.MaxLen
}

// Feed processes the data bytes of one frame from this sender. A non-nil
// error means the frame was rejected: malformed (see Parse), ErrOverflow
// (with Flow SendOverflow), ErrWrongSN or a short consecutive frame (the
// message in progress is abandoned), or ErrUnexpectedFrame (a consecutive
// frame with nothing in progress, which is ignored, or a flow-control frame,
// which belongs to the sending side).
func (r *Reassembler) Feed(data []byte) (Result, error) {
	p, err := Parse(data)
	if err != nil {
		return Result{}, err
	}
	var res Result
	switch p.Kind {
	case SingleFrame, FirstFrame:
		if r.InProgress() {
			res.Aborted = fmt.Errorf("%w: %d of %d bytes received", ErrInterrupted, len(r.buf), r.total)
			r.Reset()
		}
		if p.Kind == SingleFrame {
			if int(p.Length) > r.maxLen() {
				return res, fmt.Errorf("%w: single frame of %d bytes, limit %d", ErrOverflow, p.Length, r.maxLen())
			}
			res.Message = append([]byte(nil), p.Data...)
			return res, nil
		}
		if uint64(p.Length) > uint64(r.maxLen()) {
			res.Flow = SendOverflow
			return res, fmt.Errorf("%w: first frame declares %d bytes, limit %d", ErrOverflow, p.Length, r.maxLen())
		}
		r.total = int(p.Length)
		r.buf = make([]byte, 0, r.total)
		r.buf = append(r.buf, p.Data...)
		r.sn = 1
		r.inBlock = 0
		res.Flow = SendContinue
		return res, nil
	case ConsecutiveFrame:
		if !r.InProgress() {
			return res, fmt.Errorf("%w: consecutive frame SN %d with no message in progress", ErrUnexpectedFrame, p.SN)
		}
		if p.SN != r.sn {
			want := r.sn
			got, total := len(r.buf), r.total
			r.Reset()
			return res, fmt.Errorf("%w: got %d, want %d (%d of %d bytes received)", ErrWrongSN, p.SN, want, got, total)
		}
		need := r.total - len(r.buf)
		chunk := p.Data
		if len(chunk) > need {
			chunk = chunk[:need]
		} else if len(chunk) < need && len(chunk) < 7 {
			r.Reset()
			return res, fmt.Errorf("%w: consecutive frame carries %d bytes, %d still due", ErrBadLength, len(chunk), need)
		}
		r.buf = append(r.buf, chunk...)
		r.sn = (r.sn + 1) & 0x0F
		if len(r.buf) == r.total {
			res.Message = r.buf
			r.Reset()
			return res, nil
		}
		r.inBlock++
		if r.BlockSize != 0 && r.inBlock >= int(r.BlockSize) {
			r.inBlock = 0
			res.Flow = SendContinue
		}
		return res, nil
	default: // FlowControlFrame; Parse returns no other kind.
		return res, fmt.Errorf("%w: flow control (%s) given to a receiver", ErrUnexpectedFrame, p.Status)
	}
}
