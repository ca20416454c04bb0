// Package obd speaks the emission-related diagnostic services of SAE J1979
// (OBD-II).
//
// These are the services of ISO 15031-5 over ISO 15765-4 (OBD-II, EOBD, China
// 6 OBD): the package decodes and encodes Mode 01/02 PIDs into SI values,
// readiness (monitor status), Mode 09 vehicle information (VIN, CALID, CVN,
// ECU name, in-use performance ratios) and checks responses, on top of a
// Transport that carries the bytes (ISO-TP over CAN or an ELM327 adapter).
//
// The decoders take the bytes of one ECU's response and never panic on bad
// input: they return errors that wrap the sentinels in errors.go. Every
// decoder has an encoder beside it, so a simulated vehicle builds its
// answers with the same table that the scanner reads them with.
//
// Trouble codes are described from an embedded table, dtc_generic.tsv: every
// generic (SAE-controlled) SAE J2012 / ISO 15031-6 code that public
// references list (P0xxx with the hex extensions and the P0Axx hybrid codes,
// P2xxx, P34xx, generic C0xxx and B0xxx, U0xxx-U04xx, U30xx), in English and
// in Chinese (zh-CN). The English wording is taken from python-OBD, AndrOBD,
// OBDIICodes and an all-maker restraint-code list (the file's header says
// which ranges come from where); the Chinese is written for the table in the
// terms of Chinese service manuals (bank = 列). DescribeDTCIn answers in
// either language; manufacturer ranges say so instead of "unknown".
package obd

import (
	"encoding/hex"
	"fmt"
	"math"
	"slices"
	"strings"
)

// PID is a Mode 01/02 parameter identifier (or, in Mode 09, an InfoType).
type PID byte

// String formats the PID as two upper-case hex digits, e.g. "0C".
func (p PID) String() string { return fmt.Sprintf("%02X", byte(p)) }

// Value is one decoded quantity.
type Value struct {
	PID   PID     `json:"pid"`
	Name  string  `json:"name"`           // stable snake_case key, unique across all PIDs, e.g. "engine_speed"
	Label string  `json:"label"`          // human label, e.g. "Engine speed"
	Value float64 `json:"value"`          // in Unit; the raw code for enumerations and bit fields
	Unit  string  `json:"unit,omitempty"` // "rpm", "km/h", "°C", "kPa", "Pa", "%", "V", "mA", "g/s", "s", "min", "km", ...
	Text  string  `json:"text,omitempty"` // meaning of an enumeration or bit field; hex data for undecoded PIDs
}

// PIDDef describes a Mode 01/02 PID.
type PIDDef struct {
	PID    PID
	Name   string // snake_case name of the PID itself, e.g. "engine_speed" or "o2_sensor_1"
	Label  string // human label, e.g. "Engine speed"
	Length int    // number of data bytes after the PID byte in a response
	// Fields lists the values DecodePID yields, in order, when the PID has a
	// generic (table) layout. It is empty for the supported-PID bitmaps, for
	// the monitor status PIDs 01 and 41 (see DecodeMonitorStatus), and for
	// Raw PIDs.
	Fields []FieldDef
	// Raw marks PIDs whose length is known (so that multi-PID responses can
	// be split) but whose layout this package does not decode: DecodePID
	// returns one Value holding the data as hex in Text.
	Raw bool

	special func(d *PIDDef, data []byte) ([]Value, error)
}

// Encodable reports whether EncodePID can build this PID's data.
func (d PIDDef) Encodable() bool { return len(d.Fields) > 0 }

// FieldDef describes one value inside a PID's data: a big-endian integer of
// Size bytes at byte Offset (optionally a bit field of it), scaled linearly:
// value = raw*mul/div + add. Min and Max are the representable range.
type FieldDef struct {
	Name, Label, Unit string
	Min, Max          float64
	// Support is the bit of the PID's first data byte that says whether this
	// field is supported, or -1 when the field is always present. Fields
	// whose bit is clear are left out by DecodePID.
	Support int

	off, size   int
	shift, bits uint // bit field (raw>>shift)&(1<<bits-1); bits 0 = whole integer
	signed      bool
	mul, div    float64
	add         float64
	text        func(raw uint32) string
}

// width is the field's width in bits.
func (f *FieldDef) width() uint {
	if f.bits > 0 {
		return f.bits
	}
	return uint(f.size) * 8
}

// rawRange is the raw integer range of the field.
func (f *FieldDef) rawRange() (lo, hi int64) {
	w := f.width()
	if f.signed {
		return -(int64(1) << (w - 1)), int64(1)<<(w-1) - 1
	}
	return 0, int64(1)<<w - 1
}

func (f *FieldDef) phys(raw int64) float64 {
	return float64(raw)*f.mul/f.div + f.add
}

// extract reads the field's raw value from data (len(data) >= off+size).
func (f *FieldDef) extract(data []byte) (int64, uint32) {
	var u uint32
	for _, b := range data[f.off : f.off+f.size] {
		u = u<<8 | uint32(b)
	}
	if f.bits > 0 {
		u = (u >> f.shift) & (1<<f.bits - 1)
	}
	if f.signed {
		w := f.width()
		if u&(1<<(w-1)) != 0 {
			return int64(u) - int64(1)<<w, u
		}
	}
	return int64(u), u
}

// put encodes physical value v into data.
func (f *FieldDef) put(data []byte, v float64) error {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return fmt.Errorf("%w: %s = %v", ErrValueRange, f.Name, v)
	}
	raw := math.Round((v - f.add) * f.div / f.mul)
	lo, hi := f.rawRange()
	if raw < float64(lo) || raw > float64(hi) {
		return fmt.Errorf("%w: %s = %v, want %v..%v", ErrValueRange, f.Name, v, f.Min, f.Max)
	}
	u := uint32(int64(raw)) & uint32(uint64(1)<<f.width()-1)
	u <<= f.shift
	for i := f.size - 1; i >= 0; i-- {
		data[f.off+i] |= byte(u)
		u >>= 8
	}
	return nil
}

// LookupPID returns the definition of a Mode 01/02 PID (a copy: changing it
// does not change the table).
func LookupPID(pid PID) (PIDDef, bool) {
	d := pidTable[pid]
	if d == nil {
		return PIDDef{}, false
	}
	c := *d
	c.Fields = slices.Clone(d.Fields)
	return c, true
}

// PIDs returns every PID in the table, in ascending order.
func PIDs() []PID {
	var out []PID
	for i, d := range pidTable {
		if d != nil {
			out = append(out, PID(i))
		}
	}
	return out
}

// DecodePID decodes the data bytes of one Mode 01/02 PID (the bytes after the
// PID in the response, exactly Length of them) into values in SI units.
// Fields that the PID's own support byte marks unsupported are left out.
func DecodePID(pid PID, data []byte) ([]Value, error) {
	d := pidTable[pid]
	if d == nil {
		return nil, fmt.Errorf("%w: %s", ErrUnknownPID, pid)
	}
	if len(data) < d.Length {
		return nil, fmt.Errorf("%w: PID %s needs %d bytes, got %d", ErrShortData, pid, d.Length, len(data))
	}
	if len(data) > d.Length {
		return nil, fmt.Errorf("%w: PID %s has %d bytes, got %d", ErrLength, pid, d.Length, len(data))
	}
	switch {
	case d.special != nil:
		return d.special(d, data)
	case d.Raw:
		return []Value{{PID: pid, Name: d.Name, Label: d.Label, Text: strings.ToUpper(hex.EncodeToString(data))}}, nil
	}
	out := make([]Value, 0, len(d.Fields))
	for i := range d.Fields {
		f := &d.Fields[i]
		if f.Support >= 0 && data[0]&(1<<f.Support) == 0 {
			continue
		}
		raw, u := f.extract(data)
		v := Value{PID: pid, Name: f.Name, Label: f.Label, Value: f.phys(raw), Unit: f.Unit}
		if f.text != nil {
			v.Text = f.text(u)
		}
		out = append(out, v)
	}
	return out, nil
}

// EncodePID builds the data bytes of a PID from values keyed by Value.Name:
// the inverse of DecodePID for every PID with a table layout (Encodable).
// Keys that do not belong to the PID are ignored, so one map can hold a whole
// vehicle state. A field with a support bit is marked supported when its key
// is present and left unsupported (zero) otherwise; a missing key for a field
// without a support bit is an error (ErrMissingValue), as is a value outside
// the field's range (ErrValueRange). Values are rounded to the field's
// resolution. Bitmaps and the monitor status have their own encoders
// (EncodeSupported, EncodeMonitorStatus) and give ErrNoEncoder here.
func EncodePID(pid PID, values map[string]float64) ([]byte, error) {
	d := pidTable[pid]
	if d == nil {
		return nil, fmt.Errorf("%w: %s", ErrUnknownPID, pid)
	}
	if !d.Encodable() {
		return nil, fmt.Errorf("%w: %s (%s)", ErrNoEncoder, pid, d.Name)
	}
	data := make([]byte, d.Length)
	for i := range d.Fields {
		f := &d.Fields[i]
		v, ok := values[f.Name]
		if !ok {
			if f.Support >= 0 {
				continue
			}
			return nil, fmt.Errorf("%w: PID %s needs %q", ErrMissingValue, pid, f.Name)
		}
		if err := f.put(data, v); err != nil {
			return nil, fmt.Errorf("PID %s: %w", pid, err)
		}
		if f.Support >= 0 {
			data[0] |= 1 << f.Support
		}
	}
	return data, nil
}

// PIDSet is a set of PIDs (or Mode 09 InfoTypes), as reported by the
// "supported PIDs" bitmaps 00, 20, 40, ... E0. The zero value is empty.
type PIDSet [256 / 8]byte

// Has reports whether pid is in the set.
func (s *PIDSet) Has(pid PID) bool { return s[pid>>3]&(1<<(pid&7)) != 0 }

// Add puts pid in the set.
func (s *PIDSet) Add(pid PID) { s[pid>>3] |= 1 << (pid & 7) }

// Merge adds every PID of o to s.
func (s *PIDSet) Merge(o PIDSet) {
	for i := range s {
		s[i] |= o[i]
	}
}

// Len returns the number of PIDs in the set.
func (s *PIDSet) Len() int {
	n := 0
	for p := 0; p < 256; p++ {
		if s.Has(PID(p)) {
			n++
		}
	}
	return n
}

// List returns the PIDs in the set in ascending order.
func (s *PIDSet) List() []PID {
	var out []PID
	for p := 0; p < 256; p++ {
		if s.Has(PID(p)) {
			out = append(out, PID(p))
		}
	}
	return out
}

// Bitmap returns the 4-byte "supported" bitmap of s for the range
// base+1..base+0x20. The bit of base+0x20 (the next bitmap) is also set when
// s holds any PID above base+0x20, as J1979 requires.
func (s *PIDSet) Bitmap(base PID) []byte {
	out := EncodeSupported(base, s.List())
	if int(base)+0x20 < 256 {
		for p := int(base) + 0x21; p < 256; p++ {
			if s.Has(PID(p)) {
				out[3] |= 1
				break
			}
		}
	}
	return out
}

// DecodeSupported decodes a 4-byte "supported PIDs" bitmap answering PID
// base (0x00, 0x20, ... 0xE0): bit 7 of the first byte is base+1, bit 0 of the
// last byte is base+0x20 (which says that the next bitmap is supported).
func DecodeSupported(base PID, data []byte) (PIDSet, error) {
	var s PIDSet
	if base%0x20 != 0 {
		return s, fmt.Errorf("%w: %s is not a supported-PIDs bitmap", ErrUnknownPID, base)
	}
	if len(data) != 4 {
		if len(data) < 4 {
			return s, fmt.Errorf("%w: bitmap needs 4 bytes, got %d", ErrShortData, len(data))
		}
		return s, fmt.Errorf("%w: bitmap has 4 bytes, got %d", ErrLength, len(data))
	}
	for i := 0; i < 32; i++ {
		if data[i/8]&(0x80>>(i%8)) != 0 {
			p := int(base) + 1 + i
			if p < 256 {
				s.Add(PID(p))
			}
		}
	}
	return s, nil
}

// EncodeSupported builds the 4-byte bitmap for PID base from a list of PIDs;
// PIDs outside base+1..base+0x20 are ignored.
func EncodeSupported(base PID, pids []PID) []byte {
	out := make([]byte, 4)
	for _, p := range pids {
		i := int(p) - int(base) - 1
		if i < 0 || i >= 32 {
			continue
		}
		out[i/8] |= 0x80 >> (i % 8)
	}
	return out
}

// decodeBitmapPID is DecodePID for PIDs 00, 20, ... E0.
func decodeBitmapPID(d *PIDDef, data []byte) ([]Value, error) {
	pid := d.PID
	s, err := DecodeSupported(pid, data)
	if err != nil {
		return nil, err
	}
	list := s.List()
	parts := make([]string, len(list))
	for i, p := range list {
		parts[i] = p.String()
	}
	return []Value{{PID: pid, Name: d.Name, Label: d.Label, Value: float64(len(list)), Unit: "count", Text: strings.Join(parts, " ")}}, nil
}
