package j1939

import (
	"encoding/binary"
	"fmt"
)

// MaxMessageLen is the longest message the transport protocol carries
// (255 packets of 7 bytes).
const MaxMessageLen = 255 * 7

// TP.CM control bytes.
const (
	cmRTS   = 16
	cmCTS   = 17
	cmEoMA  = 19
	cmBAM   = 32
	cmAbort = 255
)

// tpCM is a decoded TP.CM frame. Fields not used by a control byte are 0.
type tpCM struct {
	control uint8
	size    int         // RTS, EoMA, BAM
	packets int         // RTS, EoMA, BAM: total; CTS: packets that may be sent
	maxCTS  int         // RTS: most packets per CTS (255 no limit)
	next    int         // CTS: next sequence number
	reason  AbortReason // Abort
	pgn     PGN
}

func encodeCM(c tpCM) []byte {
	b := appendPGN([]byte{c.control, 0xFF, 0xFF, 0xFF, 0xFF}, c.pgn)
	switch c.control {
	case cmRTS:
		binary.LittleEndian.PutUint16(b[1:], uint16(c.size))
		b[3], b[4] = byte(c.packets), byte(c.maxCTS)
	case cmEoMA, cmBAM:
		binary.LittleEndian.PutUint16(b[1:], uint16(c.size))
		b[3] = byte(c.packets)
	case cmCTS:
		b[1], b[2] = byte(c.packets), byte(c.next)
	case cmAbort:
		b[1] = byte(c.reason)
	}
	return b
}

// decodeCM checks a TP.CM frame. A size that does not fit the packet count
// or exceeds MaxMessageLen gives ErrTransport (ErrTooLong for the latter).
func decodeCM(data []byte) (tpCM, error) {
	if len(data) < 8 {
		return tpCM{}, fmt.Errorf("%w: TP.CM has %d bytes, want 8", ErrTransport, len(data))
	}
	c := tpCM{control: data[0], pgn: pgnField(data[5:])}
	switch c.control {
	case cmRTS, cmBAM, cmEoMA:
		c.size = int(binary.LittleEndian.Uint16(data[1:]))
		c.packets = int(data[3])
		if c.control == cmRTS {
			c.maxCTS = int(data[4])
		}
		if c.size > MaxMessageLen {
			return tpCM{}, fmt.Errorf("%w: TP.CM announces %d bytes", ErrTooLong, c.size)
		}
		if c.size < 9 || c.packets != (c.size+6)/7 {
			return tpCM{}, fmt.Errorf("%w: TP.CM control %d: %d bytes in %d packets", ErrTransport, c.control, c.size, c.packets)
		}
		if c.control == cmRTS && c.maxCTS == 0 {
			return tpCM{}, fmt.Errorf("%w: RTS allows 0 packets per CTS", ErrTransport)
		}
	case cmCTS:
		c.packets, c.next = int(data[1]), int(data[2])
		if c.packets > 0 && c.next == 0 {
			return tpCM{}, fmt.Errorf("%w: CTS for sequence number 0", ErrTransport)
		}
	case cmAbort:
		c.reason = AbortReason(data[1])
	default:
		return tpCM{}, fmt.Errorf("%w: TP.CM control byte %d", ErrTransport, c.control)
	}
	return c, nil
}

// packetCount is how many TP.DT packets carry n bytes.
func packetCount(n int) int { return (n + 6) / 7 }

// dtPayload is TP.DT packet seq (1-based) of data, padded with 0xFF.
func dtPayload(data []byte, seq int) []byte {
	b := []byte{byte(seq), 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}
	start := (seq - 1) * 7
	copy(b[1:], data[start:min(start+7, len(data))])
	return b
}

// reassembly collects the packets of one transfer, in any order.
type reassembly struct {
	size    int
	data    []byte
	have    []bool // by sequence number; index 0 unused
	missing int
}

func newReassembly(size, packets int) *reassembly {
	return &reassembly{size: size, data: make([]byte, packets*7), have: make([]bool, packets+1), missing: packets}
}

// add stores a TP.DT payload (sequence number first). It reports whether
// the sequence number was new; ok is false for a number outside 1..packets.
func (r *reassembly) add(p []byte) (fresh, ok bool) {
	if len(p) < 1 {
		return false, false
	}
	seq := int(p[0])
	if seq < 1 || seq >= len(r.have) {
		return false, false
	}
	if r.have[seq] {
		return false, true
	}
	copy(r.data[(seq-1)*7:seq*7], p[1:])
	r.have[seq] = true
	r.missing--
	return true, true
}

// firstMissing is the lowest sequence number not received, or 0.
func (r *reassembly) firstMissing() int {
	for i := 1; i < len(r.have); i++ {
		if !r.have[i] {
			return i
		}
	}
	return 0
}

func (r *reassembly) complete() bool { return r.missing == 0 }

func (r *reassembly) message() []byte { return append([]byte(nil), r.data[:r.size]...) }
