package j1939

import (
	"encoding/binary"
	"fmt"

	"github.com/bayagent/bayagent/drivers/obd"
)

// Readiness2 is a decoded DM21 (diagnostic readiness 2): how far the
// vehicle went and how long the engine ran with the MIL on and since the
// trouble codes were last cleared, as SAE J1979 PIDs 21, 31, 4D and 4E say
// for OBD-II. A nil field was sent as not available (or as an error
// indicator).
type Readiness2 struct {
	// DistanceWithMIL is the distance traveled while the MIL is
	// activated, in km (SPN 3069).
	DistanceWithMIL *uint16
	// DistanceSinceClear is the distance since the trouble codes were
	// cleared, in km (SPN 3294).
	DistanceSinceClear *uint16
	// MinutesWithMIL is the time the engine ran while the MIL is
	// activated, in minutes (SPN 3295).
	MinutesWithMIL *uint16
	// MinutesSinceClear is the time since the trouble codes were cleared,
	// in minutes (SPN 3296).
	MinutesSinceClear *uint16
}

// maxParam16 is the largest 2-byte parameter value that is a measurement;
// 0xFB00 and above are reserved, error or not available indicators.
const maxParam16 = 0xFAFF

// ParseDM21 decodes the 8 bytes of a DM21: four little-endian 16-bit
// parameters of 1 km or 1 min per bit. A parameter of 0xFB00 or above (not
// available, error indicator) is left nil.
func ParseDM21(data []byte) (Readiness2, error) {
	if len(data) < 8 {
		return Readiness2{}, fmt.Errorf("%w: DM21 has %d bytes, want 8", ErrShortData, len(data))
	}
	param := func(at int) *uint16 {
		v := binary.LittleEndian.Uint16(data[at:])
		if v > maxParam16 {
			return nil
		}
		return &v
	}
	return Readiness2{DistanceWithMIL: param(0), DistanceSinceClear: param(2), MinutesWithMIL: param(4), MinutesSinceClear: param(6)}, nil
}

// EncodeDM21 builds a DM21; a nil parameter is sent as not available
// (0xFFFF). A value above 64255 (0xFAFF) gives ErrFormat.
func EncodeDM21(r Readiness2) ([]byte, error) {
	out := make([]byte, 0, 8)
	for _, p := range []struct {
		v    *uint16
		what string
	}{
		{r.DistanceWithMIL, "distance with MIL on"},
		{r.DistanceSinceClear, "distance since codes cleared"},
		{r.MinutesWithMIL, "minutes with MIL on"},
		{r.MinutesSinceClear, "time since codes cleared"},
	} {
		v := uint16(0xFFFF)
		if p.v != nil {
			if *p.v > maxParam16 {
				return nil, fmt.Errorf("%w: DM21 %s %d above %d", ErrFormat, p.what, *p.v, maxParam16)
			}
			v = *p.v
		}
		out = binary.LittleEndian.AppendUint16(out, v)
	}
	return out, nil
}

// Values maps DM21 onto the values an OBD-II controller gives with PIDs
// 21, 31, 4D and 4E, with their names, labels and units (distance_with_mil,
// distance_since_clear in km; time_with_mil, time_since_clear in min).
// Parameters not available are left out; PID is 0 (J1939 has none).
func (r Readiness2) Values() []obd.Value {
	var out []obd.Value
	add := func(p *uint16, name, label, unit string) {
		if p != nil {
			out = append(out, obd.Value{Name: name, Label: label, Value: float64(*p), Unit: unit})
		}
	}
	add(r.DistanceWithMIL, "distance_with_mil", "Distance traveled with MIL on", "km")
	add(r.DistanceSinceClear, "distance_since_clear", "Distance traveled since codes cleared", "km")
	add(r.MinutesWithMIL, "time_with_mil", "Time run with MIL on", "min")
	add(r.MinutesSinceClear, "time_since_clear", "Time since codes cleared", "min")
	return out
}
