package analyzer

import (
	"encoding/binary"
	"encoding/hex"
)

// field is one value of a binary reply: a 16-bit big-endian integer at an
// offset, signed or not, divided by a power of ten.
type field struct {
	name   string
	at     int
	signed bool
	scale  int64
	unit   string
}

// Shorthands for the fields of the replies.
func s16(name string, at int, scale int64, unit string) field {
	return field{name, at, true, scale, unit}
}
func u16(name string, at int, scale int64, unit string) field {
	return field{name, at, false, scale, unit}
}

func (f field) raw(b []byte) int64 {
	v := binary.BigEndian.Uint16(b[f.at:])
	if f.signed {
		return int64(int16(v))
	}
	return int64(v)
}

func (f field) decode(b []byte) Quantity {
	return Quantity{Name: f.name, Value: dec(f.raw(b), f.scale), Unit: f.unit}
}

// decodeFields decodes every field of b, which must be long enough (the
// callers check the reply length first).
func decodeFields(b []byte, fs []field) []Quantity {
	q := make([]Quantity, len(fs))
	for i, f := range fs {
		q[i] = f.decode(b)
	}
	return q
}

// dec turns an integer field into its value: raw / scale, where scale is a
// power of ten. The division is correctly rounded, so the result equals the
// float64 that the decimal text of the value parses to (120 / 100 is the
// 1.20 of a readings file).
func dec(raw, scale int64) float64 { return float64(raw) / float64(scale) }

func be16(b []byte) uint16 { return binary.BigEndian.Uint16(b) }

// sum8 is the 8-bit sum of b.
func sum8(b []byte) byte {
	var s byte
	for _, x := range b {
		s += x
	}
	return s
}

// neg8 is the two's complement of the 8-bit sum of b: appending it makes the
// bytes sum to zero.
func neg8(b []byte) byte { return -sum8(b) }

// withNeg8 appends the two's complement checksum to b.
func withNeg8(b ...byte) []byte { return append(b, neg8(b)) }

func hexOf(b []byte) string { return hex.EncodeToString(b) }

// kelvin converts an opacimeter's oil temperature in whole kelvin to degC as
// the station code does (k - 273). It reports false for 0xFFFF, which the
// instruments send when no sensor is fitted.
func kelvin(k uint16) (float64, bool) {
	if k == 0xFFFF {
		return 0, false
	}
	return float64(int64(k) - 273), true
}
