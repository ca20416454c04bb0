package elm327

import (
	"cmp"
	"encoding/hex"
	"fmt"
	"slices"

	"github.com/bayagent/bayagent/drivers/obd"
)

// The non-CAN protocols (ELM327 protocols 1 to 5: SAE J1850 PWM and VPW,
// ISO 9141-2, ISO 14230-4 KWP with 5-baud and fast init) print, with headers
// on, one line per frame: three header bytes, up to seven data bytes, and
// the frame's check byte, e.g. the J1850 VPW frame
//
//	48 6B 10 41 00 BE 3E B8 11 FA
//
// Header byte 1 is the priority/type (J1850, ISO 9141-2) or the KWP format
// byte (0x80 | data length, or 0x80 with a length byte after the header);
// byte 2 the target (6B, F1: the tester); byte 3 the source, the address of
// the ECU that answers (10 for the engine). The check byte is the J1850
// CRC-8 (protocols 1 and 2) or the 8-bit sum of the earlier bytes (3 to 5).
//
// An ECU's answer may take several frames, put together here per service:
// Modes 03, 07 and 0A send up to three DTCs per frame right after the
// service id, with 00 00 as padding and no count byte: the pairs of every
// frame are joined and given back in the CAN form (service, count, pairs),
// so that callers see one format. Mode 09 answers carry a message sequence
// number after the InfoType ("49 02 01 ..." ... "49 02 05 ..."), one frame
// per 4 data bytes: the frames are sorted by it and joined without it, into
// "49 InfoType data..." (the legacy Mode 09 form, which drivers/obd
// decodes); a single-frame Mode 09 answer ("49 00 01 bitmap") is left as it
// is. Every other answer is one frame.

// legacyECU is the ECU a non-CAN answer is attributed to when headers are
// off: the engine's usual address.
const legacyECU obd.ECU = 0x10

// isLegacy reports whether a protocol number is a non-CAN OBD protocol.
func isLegacy(p byte) bool { return p >= '1' && p <= '5' }

// legacyFrame is one frame of a non-CAN answer.
type legacyFrame struct {
	ecu  obd.ECU
	data []byte // service id first; header and check byte removed
}

// parseLegacyLine decodes one line of a non-CAN answer. With headers, it
// checks the frame's shape (and KWP's length); a wrong check byte is
// reported in badCheck but the frame is kept: the adapter checks the byte
// itself and marks damaged frames with <DATA ERROR.
func parseLegacyLine(c string, headers bool, proto byte) (fr legacyFrame, badCheck bool, err error) {
	b, err := hex.DecodeString(c)
	if err != nil || len(b) == 0 {
		return fr, false, fmt.Errorf("%w: not hex", ErrBadResponse)
	}
	if !headers {
		if len(b) > 7 {
			return fr, false, fmt.Errorf("%w: %d data bytes in one frame", ErrBadResponse, len(b))
		}
		return legacyFrame{ecu: legacyECU, data: b}, false, nil
	}
	if len(b) < 5 {
		return fr, false, fmt.Errorf("%w: frame of %d bytes, want header, data and check byte", ErrBadResponse, len(b))
	}
	start, end := 3, len(b)-1
	if kwpFormat(b[0], proto) {
		n := int(b[0] & 0x3F)
		if n == 0 {
			n, start = int(b[3]), 4
		}
		if start+n != end {
			return fr, false, fmt.Errorf("%w: KWP format byte %02X says %d data bytes, the frame has %d", ErrBadResponse, b[0], n, end-start)
		}
	}
	if end-start > 7 && !kwpFormat(b[0], proto) {
		return fr, false, fmt.Errorf("%w: %d data bytes in one frame", ErrBadResponse, end-start)
	}
	if end <= start {
		return fr, false, fmt.Errorf("%w: frame without data", ErrBadResponse)
	}
	want := CheckByte(b[:end], proto)
	return legacyFrame{ecu: obd.ECU(b[2]), data: b[start:end:end]}, want != b[end], nil
}

// kwpFormat reports whether b is an ISO 14230 format byte carrying address
// information (0x80, 0xC0 with the length in the low six bits); on an
// unknown protocol it is recognised by its form alone.
func kwpFormat(b, proto byte) bool {
	if proto != 0 && proto != '4' && proto != '5' {
		return false
	}
	return b&0x80 != 0 && b != 0xFF
}

// CheckByte is the check byte that ends a non-CAN frame b (header and data)
// on ELM327 protocol proto ('1' to '5'): the SAE J1850 CRC-8 on protocols 1
// and 2, the 8-bit sum on the ISO ones. The simulator (elmsim) frames its
// answers with it.
func CheckByte(b []byte, proto byte) byte {
	if proto == '1' || proto == '2' {
		return crc8J1850(b)
	}
	var sum byte
	for _, x := range b {
		sum += x
	}
	return sum
}

// crc8J1850 is the SAE J1850 CRC: polynomial x^8+x^4+x^3+x^2+1 (0x1D),
// initial value FF, result inverted.
func crc8J1850(b []byte) byte {
	crc := byte(0xFF)
	for _, x := range b {
		crc ^= x
		for i := 0; i < 8; i++ {
			if crc&0x80 != 0 {
				crc = crc<<1 ^ 0x1D
			} else {
				crc <<= 1
			}
		}
	}
	return ^crc
}

// assembleLegacy puts the frames of a non-CAN answer together into one
// response per ECU and service (see the comment at the top of this file).
// ECUs come in the order of their first frame.
func assembleLegacy(frames []legacyFrame, p *parsed) {
	type key struct {
		ecu obd.ECU
		sid byte
		it  byte // Mode 09 InfoType
	}
	groups := map[key][]legacyFrame{}
	var order []key
	for _, f := range frames {
		k := key{ecu: f.ecu, sid: f.data[0]}
		switch k.sid {
		case 0x43, 0x47, 0x4A, 0x49:
			if k.sid == 0x49 && len(f.data) >= 2 {
				k.it = f.data[1]
			}
			if _, ok := groups[k]; !ok {
				order = append(order, k)
			}
			groups[k] = append(groups[k], f)
		default:
			if len(f.data) >= 3 && f.data[0] == 0x7F && f.data[2] == 0x78 {
				p.pending++
				continue
			}
			p.resps = append(p.resps, obd.Response{ECU: f.ecu, Data: f.data})
		}
	}
	for _, k := range order {
		fs := groups[k]
		if k.sid == 0x49 {
			if msg, ok := joinMode09(fs); ok {
				p.resps = append(p.resps, obd.Response{ECU: k.ecu, Data: msg})
			} else {
				p.incomplete = append(p.incomplete, k.ecu)
			}
			continue
		}
		var pairs []byte
		odd := false
		for _, f := range fs {
			d := f.data[1:]
			if len(d)%2 != 0 {
				odd = true
				d = d[:len(d)-1]
			}
			for i := 0; i < len(d); i += 2 {
				if d[i] != 0 || d[i+1] != 0 {
					pairs = append(pairs, d[i], d[i+1])
				}
			}
		}
		if odd && len(pairs) == 0 {
			p.malformed = append(p.malformed, fmt.Sprintf("% X", fs[0].data))
			continue
		}
		if len(pairs)/2 > 0xFF {
			pairs = pairs[:2*0xFF]
		}
		msg := append([]byte{k.sid, byte(len(pairs) / 2)}, pairs...)
		p.resps = append(p.resps, obd.Response{ECU: k.ecu, Data: msg})
	}
}

// joinMode09 joins the frames of one ECU's Mode 09 answer: sorted by their
// message sequence number, which must run from 1 without a gap; the result
// is "49 InfoType data...". A single frame is returned as it is.
func joinMode09(fs []legacyFrame) ([]byte, bool) {
	if len(fs) == 1 {
		return fs[0].data, true
	}
	for _, f := range fs {
		if len(f.data) < 3 {
			return nil, false
		}
	}
	fs = slices.Clone(fs)
	slices.SortStableFunc(fs, func(a, b legacyFrame) int { return cmp.Compare(a.data[2], b.data[2]) })
	msg := []byte{0x49, fs[0].data[1]}
	for i, f := range fs {
		if int(f.data[2]) != i+1 {
			return nil, false
		}
		msg = append(msg, f.data[3:]...)
	}
	return msg, true
}
