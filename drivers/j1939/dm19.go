package j1939

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"

	"github.com/bayagent/bayagent/drivers/obd"
)

// Calibration is one DM19 entry.
type Calibration struct {
	// CALID is the calibration identification, up to 16 characters.
	CALID string
	// CVN is the calibration verification number as 8 hex digits: the
	// 32-bit value, which DM19 sends least significant byte first, written
	// most significant digit first.
	CVN string
}

const dm19Entry = 20

// ParseDM19 decodes a DM19: entries of a 4-byte CVN and a 16-byte CALID
// padded with NUL (0xFF and trailing spaces are also accepted). A length
// that is not a multiple of 20, or a CALID with other non-printable bytes,
// gives ErrFormat.
func ParseDM19(data []byte) ([]Calibration, error) {
	if len(data) == 0 {
		return nil, fmt.Errorf("%w: empty DM19", ErrShortData)
	}
	if len(data)%dm19Entry != 0 {
		return nil, fmt.Errorf("%w: DM19 of %d bytes is not a multiple of %d", ErrFormat, len(data), dm19Entry)
	}
	var out []Calibration
	for e := data; len(e) > 0; e = e[dm19Entry:] {
		id, err := calidText(e[4:dm19Entry])
		if err != nil {
			return nil, err
		}
		out = append(out, Calibration{CALID: id, CVN: fmt.Sprintf("%08X", binary.LittleEndian.Uint32(e))})
	}
	return out, nil
}

func calidText(b []byte) (string, error) {
	end := len(b)
	for end > 0 && (b[end-1] == 0 || b[end-1] == 0xFF || b[end-1] == ' ') {
		end--
	}
	for i, c := range b[:end] {
		if c < 0x20 || c > 0x7E {
			return "", fmt.Errorf("%w: CALID byte %d is 0x%02X, not printable", ErrFormat, i+1, c)
		}
	}
	return string(b[:end]), nil
}

// EncodeDM19 builds a DM19. A CALID longer than 16 characters or not
// printable, or a CVN that is not 8 hex digits, gives ErrFormat.
func EncodeDM19(cals []Calibration) ([]byte, error) {
	out := make([]byte, 0, len(cals)*dm19Entry)
	for _, c := range cals {
		if len(c.CALID) > 16 {
			return nil, fmt.Errorf("%w: CALID %q longer than 16 characters", ErrFormat, c.CALID)
		}
		if _, err := calidText([]byte(c.CALID)); err != nil {
			return nil, err
		}
		cvn, err := strconv.ParseUint(c.CVN, 16, 32)
		if err != nil || len(c.CVN) != 8 {
			return nil, fmt.Errorf("%w: CVN %q is not 8 hex digits", ErrFormat, c.CVN)
		}
		out = binary.LittleEndian.AppendUint32(out, uint32(cvn))
		id := make([]byte, 16)
		copy(id, c.CALID)
		out = append(out, id...)
	}
	return out, nil
}

// MonitorRatios is a decoded DM20 (monitor performance ratio).
type MonitorRatios struct {
	IgnitionCycles uint16
	// OBDConditions counts the times the general OBD monitoring
	// conditions were met.
	OBDConditions uint16
	Monitors      []MonitorRatio
}

// MonitorRatio is one monitor's counters, identified by the SPN of the
// monitor.
type MonitorRatio struct {
	SPN         uint32
	Numerator   uint16
	Denominator uint16
}

// ParseDM20 decodes a DM20: ignition cycles and OBD monitoring conditions
// (2 bytes each), then 7-byte entries of the monitor's SPN (3 bytes), its
// numerator and its denominator (2 bytes each).
//
// The monitor SPN (SPN 3066, "SPN of applicable system monitor") is a plain
// 19-bit parameter starting at the entry's first bit: (b1 | b2<<8 | b3<<16)
// & 0x7FFFF, the top 5 bits of b3 not defined (sent as 1s). That is how
// J1939-73 places SPN 3066 (start position 5.1 of the message, length 19
// bits) and how the public ETI J1939-84 reference tool reads it; it is NOT
// the layout of a DM1 trouble code, whose SPN has its 3 high bits in the top
// of byte 3 beside the FMI.
func ParseDM20(data []byte) (MonitorRatios, error) {
	if len(data) < 4 {
		return MonitorRatios{}, fmt.Errorf("%w: DM20 has %d bytes, want at least 4", ErrShortData, len(data))
	}
	rest := data[4:]
	if len(rest)%7 != 0 && !(len(data) == 8 && allBytes(rest, 0xFF)) {
		return MonitorRatios{}, fmt.Errorf("%w: DM20 of %d bytes does not end on a whole monitor", ErrFormat, len(data))
	}
	r := MonitorRatios{IgnitionCycles: binary.LittleEndian.Uint16(data), OBDConditions: binary.LittleEndian.Uint16(data[2:])}
	for ; len(rest) >= 7; rest = rest[7:] {
		r.Monitors = append(r.Monitors, MonitorRatio{
			SPN:         (uint32(rest[0]) | uint32(rest[1])<<8 | uint32(rest[2])<<16) & 0x7FFFF,
			Numerator:   binary.LittleEndian.Uint16(rest[3:]),
			Denominator: binary.LittleEndian.Uint16(rest[5:]),
		})
	}
	return r, nil
}

// EncodeDM20 builds a DM20 in the layout ParseDM20 reads (the undefined
// top 5 bits of each SPN's third byte set to 1).
func EncodeDM20(r MonitorRatios) []byte {
	out := binary.LittleEndian.AppendUint16(nil, r.IgnitionCycles)
	out = binary.LittleEndian.AppendUint16(out, r.OBDConditions)
	for _, m := range r.Monitors {
		out = append(out, byte(m.SPN), byte(m.SPN>>8), byte(m.SPN>>16&7)|0xF8)
		out = binary.LittleEndian.AppendUint16(out, m.Numerator)
		out = binary.LittleEndian.AppendUint16(out, m.Denominator)
	}
	if len(out) < 8 {
		out = append(out, 0xFF, 0xFF, 0xFF, 0xFF)
	}
	return out
}

// IUPR maps DM20 onto the in-use performance ratios snapshots carry; each
// monitor is named "spn_<SPN>" and labelled with the SPN's name.
func (r MonitorRatios) IUPR() obd.IUPR {
	out := obd.IUPR{Ignition: obd.IgnitionCompression, OBDCond: int(r.OBDConditions), IgnCntr: int(r.IgnitionCycles)}
	for _, m := range r.Monitors {
		ratio := 0.0
		if m.Denominator != 0 {
			ratio = float64(m.Numerator) / float64(m.Denominator)
		}
		out.Monitors = append(out.Monitors, obd.MonitorRatio{
			Name: "spn_" + strconv.FormatUint(uint64(m.SPN), 10), Label: SPNName(m.SPN),
			Numerator: int(m.Numerator), Denominator: int(m.Denominator), Ratio: ratio,
		})
	}
	return out
}

// ParseVIN decodes PGN 65260: the VIN, delimited by '*' (fields after the
// first '*' are not the VIN). Nothing is trimmed: a byte that is not
// printable ASCII (NUL, 0xFF or blank padding, garbage) is kept, written as
// \xNN, and ParseVIN then returns that visible text together with an error
// wrapping ErrFormat, so that a caller can show exactly what the controller
// sent (and obd.ValidateVIN will not pass it). An empty VIN gives ErrFormat
// and "". The VIN's own rules (length, check digit) are left to
// obd.ValidateVIN.
func ParseVIN(data []byte) (string, error) {
	if i := bytes.IndexByte(data, '*'); i >= 0 {
		data = data[:i]
	}
	if len(data) == 0 {
		return "", fmt.Errorf("%w: empty VIN", ErrFormat)
	}
	var b strings.Builder
	bad := -1
	for i, c := range data {
		if c < 0x21 || c > 0x7E {
			if bad < 0 {
				bad = i
			}
			fmt.Fprintf(&b, "\\x%02X", c)
			continue
		}
		b.WriteByte(c)
	}
	if bad >= 0 {
		return b.String(), fmt.Errorf("%w: VIN byte %d is 0x%02X, not printable: %s", ErrFormat, bad+1, data[bad], b.String())
	}
	return b.String(), nil
}

// EncodeVIN builds PGN 65260 for a VIN: the characters and '*'.
func EncodeVIN(vin string) []byte { return append([]byte(vin), '*') }

// notAvailable32 is the smallest 4-byte raw value that is not a measurement
// (0xFB000000 and above: error or not available indicators).
const notAvailable32 = 0xFB000000

func parameter32(data []byte, at int, what string) (uint32, bool, error) {
	if len(data) < at+4 {
		return 0, false, fmt.Errorf("%w: %s needs %d bytes, got %d", ErrShortData, what, at+4, len(data))
	}
	v := binary.LittleEndian.Uint32(data[at:])
	return v, v < notAvailable32, nil
}

// ParseEngineHours decodes PGN 65253 (HOURS): total engine hours at
// 0.05 h/bit; ok is false when the engine sends "not available".
func ParseEngineHours(data []byte) (hours float64, ok bool, err error) {
	v, ok, err := parameter32(data, 0, "engine hours")
	return float64(v) * 0.05, ok, err
}

// ParseVehicleDistance decodes PGN 65248 (VD): total vehicle distance at
// 0.125 km/bit (bytes 5-8).
func ParseVehicleDistance(data []byte) (km float64, ok bool, err error) {
	v, ok, err := parameter32(data, 4, "total vehicle distance")
	return float64(v) * 0.125, ok, err
}

// ParseHighResDistance decodes PGN 65217 (VDHR): high resolution total
// vehicle distance at 5 m/bit (bytes 1-4).
func ParseHighResDistance(data []byte) (km float64, ok bool, err error) {
	v, ok, err := parameter32(data, 0, "high resolution total vehicle distance")
	return float64(v) * 0.005, ok, err
}

// EncodeEngineHours builds PGN 65253 (total revolutions not available).
func EncodeEngineHours(hours float64) []byte {
	out := binary.LittleEndian.AppendUint32(nil, uint32(hours/0.05+0.5))
	return append(out, 0xFF, 0xFF, 0xFF, 0xFF)
}

// EncodeVehicleDistance builds PGN 65248 (trip distance not available).
func EncodeVehicleDistance(km float64) []byte {
	out := []byte{0xFF, 0xFF, 0xFF, 0xFF}
	return binary.LittleEndian.AppendUint32(out, uint32(km/0.125+0.5))
}
