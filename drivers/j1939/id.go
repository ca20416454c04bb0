package j1939

import (
	"fmt"

	"go.einride.tech/can"
)

// PGN is a parameter group number (18 bits).
type PGN uint32

// Parameter groups this package uses.
const (
	PGNDM21            PGN = 49408 // diagnostic readiness 2
	PGNDM20            PGN = 49664 // monitor performance ratio
	PGNDM19            PGN = 54016 // calibration information
	PGNAck             PGN = 59392 // acknowledgement
	PGNRequest         PGN = 59904 // request
	PGNTPDT            PGN = 60160 // transport protocol data transfer
	PGNTPCM            PGN = 60416 // transport protocol connection management
	PGNAddressClaimed  PGN = 60928 // address claimed / cannot claim
	PGNVDHR            PGN = 65217 // high resolution vehicle distance
	PGNDM1             PGN = 65226 // active diagnostic trouble codes
	PGNDM2             PGN = 65227 // previously active diagnostic trouble codes
	PGNDM5             PGN = 65230 // diagnostic readiness 1
	PGNDM11            PGN = 65235 // clear/reset of active DTCs
	PGNVehicleDistance PGN = 65248 // vehicle distance
	PGNEngineHours     PGN = 65253 // engine hours, revolutions
	PGNVehicleIdent    PGN = 65260 // vehicle identification (VIN)
	pgnMax             PGN = 1<<18 - 1
	pduFormatBoundary      = 240
)

// Special addresses.
const (
	// AddressNull is the source of a Cannot Claim message and of a
	// request for address claim sent before claiming.
	AddressNull uint8 = 254
	// AddressGlobal is the destination of broadcasts and global requests.
	AddressGlobal uint8 = 255
)

// PDU1 reports whether the PGN is destination specific (PDU format below
// 240): its identifier carries a destination address.
func (p PGN) PDU1() bool { return (p>>8)&0xFF < pduFormatBoundary }

// appendPGN appends the 3-byte PGN field of a request, an acknowledgement
// or a TP.CM frame: little endian, the third byte holding only the top 2
// bits of the 18-bit PGN.
func appendPGN(b []byte, p PGN) []byte {
	return append(b, byte(p), byte(p>>8), byte(p>>16)&3)
}

// pgnField reads the 3-byte PGN field that appendPGN writes.
func pgnField(b []byte) PGN {
	return PGN(b[0]) | PGN(b[1])<<8 | PGN(b[2]&3)<<16
}

// Header is what a 29-bit J1939 identifier says.
type Header struct {
	// Priority is 0 (highest) to 7.
	Priority uint8
	PGN      PGN
	Source   uint8
	// Dest is the destination address of a PDU1 message; AddressGlobal
	// for PDU2 messages.
	Dest uint8
}

// ParseID splits a 29-bit identifier. For PDU1 PGNs the PDU-specific byte is
// the destination and the PGN's low byte is zero; for PDU2 it is the group
// extension and Dest is AddressGlobal.
func ParseID(id uint32) Header {
	h := Header{
		Priority: uint8(id>>26) & 7,
		Source:   uint8(id),
	}
	pf, ps := (id>>16)&0xFF, (id>>8)&0xFF
	dp := (id >> 24) & 3 // extended data page and data page
	if pf < pduFormatBoundary {
		h.PGN = PGN(dp<<16 | pf<<8)
		h.Dest = uint8(ps)
	} else {
		h.PGN = PGN(dp<<16 | pf<<8 | ps)
		h.Dest = AddressGlobal
	}
	return h
}

// ID builds the 29-bit identifier. The destination is used only for PDU1
// PGNs; the priority is masked to 3 bits and the PGN to 18.
func (h Header) ID() uint32 {
	p := uint32(h.PGN & pgnMax)
	id := uint32(h.Priority&7)<<26 | p<<8 | uint32(h.Source)
	if h.PGN.PDU1() {
		id = id&^(0xFF<<8) | uint32(h.Dest)<<8
	}
	return id
}

// ParseFrame returns the header of a J1939 frame; ErrNotJ1939 for an 11-bit
// or remote frame.
func ParseFrame(f can.Frame) (Header, error) {
	if !f.IsExtended || f.IsRemote {
		return Header{}, fmt.Errorf("%w: %s", ErrNotJ1939, f)
	}
	return ParseID(f.ID), nil
}

// frame builds a CAN frame of at most 8 data bytes.
func (h Header) frame(data []byte) can.Frame {
	f := can.Frame{ID: h.ID(), IsExtended: true, Length: uint8(min(len(data), 8))}
	copy(f.Data[:], data)
	return f
}

// Message is one complete J1939 message, reassembled when it came in
// several packets.
type Message struct {
	Priority uint8
	PGN      PGN
	Source   uint8
	// Dest is the destination: the identifier's for single-frame PDU1
	// messages, the connection's for transport-protocol messages,
	// AddressGlobal for broadcasts.
	Dest uint8
	Data []byte
}

func (m Message) String() string {
	return fmt.Sprintf("PGN %d %02X->%02X % X", m.PGN, m.Source, m.Dest, m.Data)
}

// Default priorities (J1939-71/73).
const (
	PriorityControl = 3
	PriorityDefault = 6
)
