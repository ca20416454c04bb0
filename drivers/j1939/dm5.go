package j1939

import (
	"encoding/binary"
	"fmt"

	"github.com/bayagent/bayagent/drivers/obd"
)

// Readiness is a decoded DM5 (diagnostic readiness 1).
type Readiness struct {
	// ActiveDTCs and PreviousDTCs count the controller's active and
	// previously active codes (0xFF: not available).
	ActiveDTCs   uint8
	PreviousDTCs uint8
	// OBDCompliance is the OBD requirement the controller was certified
	// to, with the values of SAE J1979 PID 1C (e.g. 43 China heavy duty
	// stage VI); 0xFF not available.
	OBDCompliance uint8
	// Monitors lists every monitor of DM5 in its bit order; a monitor
	// not supported has Supported false.
	Monitors []DM5Monitor
}

// DM5Monitor is one readiness item of DM5. Complete is meaningful only when
// Supported.
type DM5Monitor struct {
	Name       string
	Continuous bool
	Supported  bool
	Complete   bool
}

// dm5Bit places a monitor: continuous monitors in byte 4 (bits 0-2
// supported, 4-6 not complete), the others in bytes 5-6 (supported) and
// 7-8 (not complete) read as 16-bit little-endian words.
type dm5Bit struct {
	name       string
	continuous bool
	bit        uint
}

// dm5Monitors names the monitors of DM5 in bit order. The names shared with
// SAE J1979 compression-ignition readiness (misfire, fuel_system,
// components, nmhc_catalyst, nox_scr, boost_pressure, exhaust_gas_sensor,
// pm_filter, egr_vvt) map onto the snapshot's monitors.
var dm5Monitors = []dm5Bit{
	{"misfire", true, 0},
	{"fuel_system", true, 1},
	{"components", true, 2},
	{"catalyst", false, 0},
	{"heated_catalyst", false, 1},
	{"evap", false, 2},
	{"secondary_air", false, 3},
	{"ac_refrigerant", false, 4},
	{"exhaust_gas_sensor", false, 5},
	{"exhaust_gas_sensor_heater", false, 6},
	{"egr_vvt", false, 7},
	{"cold_start_aid", false, 8},
	{"boost_pressure", false, 9},
	{"pm_filter", false, 10},
	{"nox_scr", false, 11},
	{"nmhc_catalyst", false, 12},
}

// DM5MonitorNames lists the monitor names DM5 carries, in bit order.
func DM5MonitorNames() []string {
	out := make([]string, len(dm5Monitors))
	for i, m := range dm5Monitors {
		out[i] = m.name
	}
	return out
}

// ParseDM5 decodes the 8 bytes of a DM5.
func ParseDM5(data []byte) (Readiness, error) {
	if len(data) < 8 {
		return Readiness{}, fmt.Errorf("%w: DM5 has %d bytes, want 8", ErrShortData, len(data))
	}
	r := Readiness{ActiveDTCs: data[0], PreviousDTCs: data[1], OBDCompliance: data[2]}
	cont := data[3]
	sup := binary.LittleEndian.Uint16(data[4:])
	inc := binary.LittleEndian.Uint16(data[6:])
	// Reserved bits (byte 4 bits 3 and 7, bytes 5-8 bits 13-15) and the
	// status of unsupported monitors are ignored: controllers send 1s there.
	for _, m := range dm5Monitors {
		var s, i bool
		if m.continuous {
			s, i = cont&(1<<m.bit) != 0, cont&(1<<(m.bit+4)) != 0
		} else {
			s, i = sup&(1<<m.bit) != 0, inc&(1<<m.bit) != 0
		}
		r.Monitors = append(r.Monitors, DM5Monitor{Name: m.name, Continuous: m.continuous, Supported: s, Complete: s && !i})
	}
	return r, nil
}

// EncodeDM5 builds a DM5. Monitors not listed are not supported; an unknown
// monitor name gives ErrFormat.
func EncodeDM5(r Readiness) ([]byte, error) {
	var cont byte
	var sup, inc uint16
	for _, m := range r.Monitors {
		def, ok := dm5Bit{}, false
		for _, d := range dm5Monitors {
			if d.name == m.Name {
				def, ok = d, true
			}
		}
		if !ok {
			return nil, fmt.Errorf("%w: DM5 has no monitor %q", ErrFormat, m.Name)
		}
		if !m.Supported {
			continue
		}
		if def.continuous {
			cont |= 1 << def.bit
			if !m.Complete {
				cont |= 1 << (def.bit + 4)
			}
			continue
		}
		sup |= 1 << def.bit
		if !m.Complete {
			inc |= 1 << def.bit
		}
	}
	out := []byte{r.ActiveDTCs, r.PreviousDTCs, r.OBDCompliance, cont, 0, 0, 0, 0}
	binary.LittleEndian.PutUint16(out[4:], sup)
	binary.LittleEndian.PutUint16(out[6:], inc)
	return out, nil
}

// compressionBit is the bit of a J1979 compression-ignition monitor in PID
// 01 byte C/D.
var compressionBit = map[string]uint{
	"nmhc_catalyst": 0, "nox_scr": 1, "boost_pressure": 3,
	"exhaust_gas_sensor": 5, "pm_filter": 6, "egr_vvt": 7,
}

// MonitorStatus maps DM5 onto the SAE J1979 compression-ignition readiness
// that snapshots use (misfire, fuel_system, components, nmhc_catalyst,
// nox_scr, boost_pressure, exhaust_gas_sensor, pm_filter, egr_vvt, with
// their labels and 0/1/2 codes). DM5 monitors J1979 has no compression
// item for (catalyst, EVAP, A/C, heater, cold start aid...) are left out;
// DTCCount is ActiveDTCs (0 when not available).
func (r Readiness) MonitorStatus(mil bool) obd.MonitorStatus {
	count := r.ActiveDTCs
	if count > 0x7F {
		count = 0
	}
	a := count
	if mil {
		a |= 0x80
	}
	b := byte(0x08) // compression ignition
	var c, d byte
	for i, m := range r.Monitors {
		if !m.Supported {
			continue
		}
		if m.Continuous {
			b |= 1 << dm5Monitors[i].bit
			if !m.Complete {
				b |= 1 << (dm5Monitors[i].bit + 4)
			}
			continue
		}
		bit, ok := compressionBit[m.Name]
		if !ok {
			continue
		}
		c |= 1 << bit
		if !m.Complete {
			d |= 1 << bit
		}
	}
	st, err := obd.DecodeMonitorStatus([]byte{a, b, c, d})
	if err != nil {
		// Four bytes always decode; keep the zero status otherwise.
		return obd.MonitorStatus{MIL: mil, Ignition: obd.IgnitionCompression}
	}
	return st
}

// ComplianceText names the OBD compliance value (J1979 PID 1C table).
func (r Readiness) ComplianceText() string {
	if r.OBDCompliance == 0xFF || r.OBDCompliance == 0 {
		return ""
	}
	v, err := obd.DecodePID(0x1C, []byte{r.OBDCompliance})
	if err != nil || len(v) == 0 {
		return fmt.Sprintf("OBD compliance %d", r.OBDCompliance)
	}
	return v[0].Text
}
