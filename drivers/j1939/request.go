package j1939

import (
	"fmt"

	"go.einride.tech/can"
)

// RequestData is the 3-byte payload of a Request (PGN 59904) for pgn.
func RequestData(pgn PGN) []byte {
	return appendPGN(make([]byte, 0, 3), pgn)
}

// ParseRequest returns the PGN a Request asks for.
func ParseRequest(data []byte) (PGN, error) {
	if len(data) < 3 {
		return 0, fmt.Errorf("%w: request has %d bytes, want 3", ErrShortData, len(data))
	}
	return pgnField(data), nil
}

// AckControl is the control byte of an Acknowledgement (PGN 59392).
type AckControl uint8

// Acknowledgement control values.
const (
	Ack           AckControl = 0
	Nack          AckControl = 1
	AccessDenied  AckControl = 2
	CannotRespond AckControl = 3
)

func (c AckControl) String() string {
	switch c {
	case Ack:
		return "acknowledged"
	case Nack:
		return "not supported (NACK)"
	case AccessDenied:
		return "access denied"
	case CannotRespond:
		return "cannot respond"
	}
	return fmt.Sprintf("acknowledgement %d", uint8(c))
}

// Acknowledgement is a decoded PGN 59392.
type Acknowledgement struct {
	Control AckControl
	// Address is the node whose request is acknowledged (J1939-21 2006
	// and later; 0xFF when not filled in).
	Address uint8
	PGN     PGN
}

// EncodeAck builds the 8 data bytes of an acknowledgement.
func EncodeAck(a Acknowledgement) []byte {
	return appendPGN([]byte{byte(a.Control), 0xFF, 0xFF, 0xFF, a.Address}, a.PGN)
}

// ParseAck decodes an acknowledgement.
func ParseAck(data []byte) (Acknowledgement, error) {
	if len(data) < 8 {
		return Acknowledgement{}, fmt.Errorf("%w: acknowledgement has %d bytes, want 8", ErrShortData, len(data))
	}
	a := Acknowledgement{Control: AckControl(data[0]), Address: data[4], PGN: pgnField(data[5:])}
	if a.Control > CannotRespond {
		return Acknowledgement{}, fmt.Errorf("%w: acknowledgement control byte %d", ErrFormat, data[0])
	}
	return a, nil
}

// RequestFrame is the frame of a Request for pgn from src to dest, for
// callers that probe a bus without a Node (dest AddressGlobal and src
// AddressNull ask every node for its address claim).
func RequestFrame(src, dest uint8, pgn PGN) can.Frame {
	h := Header{Priority: PriorityDefault, PGN: PGNRequest, Source: src, Dest: dest}
	return h.frame(RequestData(pgn))
}
