package isotp

import (
	"encoding/binary"
	"fmt"
	"time"

	"go.einride.tech/can"
)

// Kind is the frame type carried in the high nibble of the first data byte
// (the protocol control information, PCI).
type Kind uint8

// Frame types.
const (
	SingleFrame      Kind = 0 // the whole message in one frame (up to 7 bytes)
	FirstFrame       Kind = 1 // first frame of a segmented message, with its length
	ConsecutiveFrame Kind = 2 // following segment, with a 4-bit sequence number
	FlowControlFrame Kind = 3 // receiver to sender: continue, wait or overflow
)

// String names the frame type as the standard abbreviates it.
func (k Kind) String() string {
	switch k {
	case SingleFrame:
		return "SF"
	case FirstFrame:
		return "FF"
	case ConsecutiveFrame:
		return "CF"
	case FlowControlFrame:
		return "FC"
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// FlowStatus is the flow status of a flow-control frame.
type FlowStatus uint8

// Flow statuses.
const (
	FlowContinue FlowStatus = 0 // CTS: send the next block
	FlowWait     FlowStatus = 1 // WAIT: wait for another flow-control frame
	FlowOverflow FlowStatus = 2 // OVFLW: message too long, abort
)

// String names the flow status.
func (s FlowStatus) String() string {
	switch s {
	case FlowContinue:
		return "CTS"
	case FlowWait:
		return "WAIT"
	case FlowOverflow:
		return "OVFLW"
	}
	return fmt.Sprintf("FlowStatus(%d)", uint8(s))
}

// Limits of classic CAN (8 data bytes) ISO-TP.
const (
	// MaxSingle is the longest message that fits in a single frame.
	MaxSingle = 7
	// MaxShortLength is the longest message the 12-bit first-frame length
	// can declare; longer messages use the 32-bit escape form.
	MaxShortLength = 4095
	// DefaultPad is the padding byte used when none is configured.
	DefaultPad byte = 0xAA
)

// PDU is one decoded ISO-TP frame.
type PDU struct {
	Kind Kind
	// Length is the message length declared by a single or first frame.
	Length uint32
	// Data holds the payload bytes carried by this frame: for a single
	// frame exactly Length bytes; for a first frame the first 6 bytes (2 in
	// the escape form); for a consecutive frame every byte after the PCI,
	// padding included (the receiver knows how many it still needs).
	// After Parse it aliases the parsed slice.
	Data []byte
	// SN is the sequence number (0-15) of a consecutive frame.
	SN uint8
	// Status, BlockSize and STmin are the fields of a flow-control frame.
	// STmin is the raw byte; see STminDuration.
	Status    FlowStatus
	BlockSize uint8
	STmin     uint8
}

// Parse decodes the data bytes (at most 8) of one CAN frame. Padding after a single
// frame's payload and after a flow-control frame is ignored, and frames sent
// without padding are accepted, except first frames, which the standard
// requires to be full (8 bytes). Errors wrap ErrEmptyFrame, ErrBadPCI,
// ErrBadLength or ErrBadFlowStatus.
func Parse(data []byte) (PDU, error) {
	if len(data) == 0 {
		return PDU{}, ErrEmptyFrame
	}
	if len(data) > can.MaxDataLength {
		return PDU{}, fmt.Errorf("%w: %d data bytes, classic CAN carries at most %d", ErrBadLength, len(data), can.MaxDataLength)
	}
	pci := data[0]
	switch Kind(pci >> 4) {
	case SingleFrame:
		n := int(pci & 0x0F)
		if n == 0 || n > MaxSingle {
			// SF_DL 0 is the CAN FD escape, invalid with 8-byte frames.
			return PDU{}, fmt.Errorf("%w: single frame length %d", ErrBadLength, n)
		}
		if len(data)-1 < n {
			return PDU{}, fmt.Errorf("%w: single frame declares %d bytes, carries %d", ErrBadLength, n, len(data)-1)
		}
		return PDU{Kind: SingleFrame, Length: uint32(n), Data: data[1 : 1+n]}, nil
	case FirstFrame:
		if len(data) < can.MaxDataLength {
			return PDU{}, fmt.Errorf("%w: first frame has %d bytes, want %d", ErrBadLength, len(data), can.MaxDataLength)
		}
		n := uint32(pci&0x0F)<<8 | uint32(data[1])
		if n != 0 {
			if n <= MaxSingle {
				return PDU{}, fmt.Errorf("%w: first frame declares %d bytes, fits a single frame", ErrBadLength, n)
			}
			return PDU{Kind: FirstFrame, Length: n, Data: data[2:8]}, nil
		}
		n = binary.BigEndian.Uint32(data[2:6])
		if n <= MaxShortLength {
			return PDU{}, fmt.Errorf("%w: escaped first frame declares %d bytes, fits 12 bits", ErrBadLength, n)
		}
		return PDU{Kind: FirstFrame, Length: n, Data: data[6:8]}, nil
	case ConsecutiveFrame:
		return PDU{Kind: ConsecutiveFrame, SN: pci & 0x0F, Data: data[1:]}, nil
	case FlowControlFrame:
		if len(data) < 3 {
			return PDU{}, fmt.Errorf("%w: flow control has %d bytes, want 3", ErrBadLength, len(data))
		}
		st := FlowStatus(pci & 0x0F)
		if st > FlowOverflow {
			return PDU{}, fmt.Errorf("%w: %d", ErrBadFlowStatus, uint8(st))
		}
		return PDU{Kind: FlowControlFrame, Status: st, BlockSize: data[1], STmin: data[2]}, nil
	}
	return PDU{}, fmt.Errorf("%w: 0x%02X", ErrBadPCI, pci)
}

// Encode builds the 8 data bytes of one frame, padding unused bytes with
// pad. Length is taken from p.Length for first frames and from len(p.Data)
// for single frames. A first frame uses the 32-bit escape form when Length
// exceeds 4095. Encode returns ErrBadLength when p.Data does not fit the
// frame (a single frame of more than 7 bytes, a first frame whose Data is not
// exactly 6, or 2 in the escape form, bytes, a consecutive frame of more than
// 7 bytes) and ErrBadPCI or ErrBadFlowStatus for an unknown Kind or Status.
func Encode(p PDU, pad byte) (can.Data, error) {
	var d can.Data
	for i := range d {
		d[i] = pad
	}
	switch p.Kind {
	case SingleFrame:
		if len(p.Data) == 0 || len(p.Data) > MaxSingle {
			return d, fmt.Errorf("%w: single frame of %d bytes", ErrBadLength, len(p.Data))
		}
		d[0] = byte(len(p.Data))
		copy(d[1:], p.Data)
	case FirstFrame:
		if p.Length <= MaxShortLength {
			if p.Length <= MaxSingle || len(p.Data) != 6 {
				return d, fmt.Errorf("%w: first frame of %d bytes with %d data bytes", ErrBadLength, p.Length, len(p.Data))
			}
			d[0] = 0x10 | byte(p.Length>>8)
			d[1] = byte(p.Length)
			copy(d[2:], p.Data)
			break
		}
		if len(p.Data) != 2 {
			return d, fmt.Errorf("%w: escaped first frame with %d data bytes", ErrBadLength, len(p.Data))
		}
		d[0], d[1] = 0x10, 0
		binary.BigEndian.PutUint32(d[2:6], p.Length)
		copy(d[6:], p.Data)
	case ConsecutiveFrame:
		if len(p.Data) == 0 || len(p.Data) > 7 {
			return d, fmt.Errorf("%w: consecutive frame of %d bytes", ErrBadLength, len(p.Data))
		}
		d[0] = 0x20 | p.SN&0x0F
		copy(d[1:], p.Data)
	case FlowControlFrame:
		if p.Status > FlowOverflow {
			return d, fmt.Errorf("%w: %d", ErrBadFlowStatus, uint8(p.Status))
		}
		d[0] = 0x30 | byte(p.Status)
		d[1] = p.BlockSize
		d[2] = p.STmin
	default:
		return d, fmt.Errorf("%w: kind %d", ErrBadPCI, uint8(p.Kind))
	}
	return d, nil
}

// STminDuration converts a raw STmin byte to a duration: 0x00-0x7F are
// milliseconds, 0xF1-0xF9 are 100-900 µs. Reserved values are treated as
// 0x7F (127 ms), as ISO 15765-2 tells a sender to do.
func STminDuration(b uint8) time.Duration {
	switch {
	case b <= 0x7F:
		return time.Duration(b) * time.Millisecond
	case b >= 0xF1 && b <= 0xF9:
		return time.Duration(b-0xF0) * 100 * time.Microsecond
	}
	return 127 * time.Millisecond
}

// frame wraps 8 data bytes into a CAN frame with DLC 8.
func frame(id uint32, ext bool, d can.Data) can.Frame {
	return can.Frame{ID: id, IsExtended: ext, Length: can.MaxDataLength, Data: d}
}

// clamp bounds a received frame's Length to 8 so that slicing its data (and
// can.Frame.String) cannot panic on a frame a driver failed to validate.
func clamp(f can.Frame) can.Frame {
	f.Length = min(f.Length, can.MaxDataLength)
	return f
}
