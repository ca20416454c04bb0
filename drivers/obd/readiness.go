package obd

import (
	"fmt"
)

// Ignition types reported in bit B3 of PIDs 01 and 41.
const (
	IgnitionSpark       = "spark"
	IgnitionCompression = "compression"
)

// Readiness codes used by inspection systems (Monitor.Code).
const (
	MonitorNotSupported = 0
	MonitorComplete     = 1
	MonitorNotComplete  = 2
)

// MonitorStatus is the decoded PID 01 (since DTCs were cleared) or PID 41
// (this drive cycle; there MIL and DTCCount are not used and stay zero, and
// Supported means "enabled this drive cycle").
type MonitorStatus struct {
	MIL      bool      `json:"mil"`
	DTCCount int       `json:"dtc_count"`
	Ignition string    `json:"ignition"` // IgnitionSpark or IgnitionCompression
	Monitors []Monitor `json:"monitors"` // every monitor of the ignition type, in a fixed order
}

// Monitor is one readiness item.
type Monitor struct {
	Name      string `json:"name"` // snake_case, e.g. "catalyst", "egr_vvt"
	Label     string `json:"label"`
	Supported bool   `json:"supported"`
	Complete  bool   `json:"complete"` // meaningful only when Supported
	Code      int    `json:"code"`     // MonitorNotSupported, MonitorComplete or MonitorNotComplete
}

// monitorBit places a monitor in the PID: in byte B (bits 0-2 supported,
// 4-6 not complete) when inB, else bit in byte C (supported) and D (not
// complete).
type monitorBit struct {
	name, label string
	inB         bool
	bit         uint
}

var commonMonitors = []monitorBit{
	{"misfire", "Misfire", true, 0},
	{"fuel_system", "Fuel system", true, 1},
	{"components", "Comprehensive components", true, 2},
}

var sparkMonitors = append(append([]monitorBit(nil), commonMonitors...),
	monitorBit{"catalyst", "Catalyst", false, 0},
	monitorBit{"heated_catalyst", "Heated catalyst", false, 1},
	monitorBit{"evap", "Evaporative system", false, 2},
	monitorBit{"secondary_air", "Secondary air system", false, 3},
	monitorBit{"o2_sensor", "Oxygen sensor", false, 5},
	monitorBit{"o2_heater", "Oxygen sensor heater", false, 6},
	monitorBit{"egr_vvt", "EGR/VVT system", false, 7},
)

var compressionMonitors = append(append([]monitorBit(nil), commonMonitors...),
	monitorBit{"nmhc_catalyst", "NMHC catalyst", false, 0},
	monitorBit{"nox_scr", "NOx/SCR aftertreatment", false, 1},
	monitorBit{"boost_pressure", "Boost pressure", false, 3},
	monitorBit{"exhaust_gas_sensor", "Exhaust gas sensor", false, 5},
	monitorBit{"pm_filter", "PM filter", false, 6},
	monitorBit{"egr_vvt", "EGR/VVT system", false, 7},
)

func monitorsFor(ignition string) ([]monitorBit, bool) {
	switch ignition {
	case IgnitionSpark:
		return sparkMonitors, true
	case IgnitionCompression:
		return compressionMonitors, true
	}
	return nil, false
}

// DecodeMonitorStatus decodes the 4 data bytes of PID 01 or 41: A7 MIL,
// A6-A0 confirmed emission DTC count, B3 ignition type, B0-B2 misfire, fuel
// system and comprehensive components supported and B4-B6 their
// not-complete bits, C the other monitors supported and D not complete
// (spark: C0 catalyst, C1 heated catalyst, C2 EVAP, C3 secondary air, C5 O2
// sensor, C6 O2 heater, C7 EGR/VVT; compression: C0 NMHC catalyst, C1
// NOx/SCR, C3 boost pressure, C5 exhaust gas sensor, C6 PM filter, C7
// EGR/VVT). All ten (spark) or nine (compression) monitors are listed, in
// that order, unsupported ones with Code 0.
func DecodeMonitorStatus(data []byte) (MonitorStatus, error) {
	if len(data) < 4 {
		return MonitorStatus{}, fmt.Errorf("%w: monitor status needs 4 bytes, got %d", ErrShortData, len(data))
	}
	if len(data) > 4 {
		return MonitorStatus{}, fmt.Errorf("%w: monitor status has 4 bytes, got %d", ErrLength, len(data))
	}
	a, b, c, d := data[0], data[1], data[2], data[3]
	st := MonitorStatus{MIL: a&0x80 != 0, DTCCount: int(a & 0x7F), Ignition: IgnitionSpark}
	if b&0x08 != 0 {
		st.Ignition = IgnitionCompression
	}
	defs, _ := monitorsFor(st.Ignition)
	st.Monitors = make([]Monitor, len(defs))
	for i, m := range defs {
		var sup, inc bool
		if m.inB {
			sup, inc = b&(1<<m.bit) != 0, b&(1<<(m.bit+4)) != 0
		} else {
			sup, inc = c&(1<<m.bit) != 0, d&(1<<m.bit) != 0
		}
		mon := Monitor{Name: m.name, Label: m.label, Supported: sup}
		switch {
		case !sup:
			mon.Code = MonitorNotSupported
		case inc:
			mon.Code = MonitorNotComplete
		default:
			mon.Complete, mon.Code = true, MonitorComplete
		}
		st.Monitors[i] = mon
	}
	return st, nil
}

// EncodeMonitorStatus builds the 4 data bytes of PID 01 or 41 from st. Each
// monitor is given either by Supported/Complete or by Code alone (Supported
// and Complete left false); monitors not listed are encoded as not
// supported. Unknown ignition types or monitor names, duplicates, a Code
// that contradicts Supported/Complete and a DTC count outside 0..127 give an
// error wrapping ErrMonitorStatus.
func EncodeMonitorStatus(st MonitorStatus) ([]byte, error) {
	defs, ok := monitorsFor(st.Ignition)
	if !ok {
		return nil, fmt.Errorf("%w: ignition type %q", ErrMonitorStatus, st.Ignition)
	}
	if st.DTCCount < 0 || st.DTCCount > 0x7F {
		return nil, fmt.Errorf("%w: DTC count %d, want 0..127", ErrMonitorStatus, st.DTCCount)
	}
	out := make([]byte, 4)
	out[0] = byte(st.DTCCount)
	if st.MIL {
		out[0] |= 0x80
	}
	if st.Ignition == IgnitionCompression {
		out[1] |= 0x08
	}
	seen := map[string]bool{}
	for _, m := range st.Monitors {
		idx := -1
		for i, d := range defs {
			if d.name == m.Name {
				idx = i
				break
			}
		}
		if idx < 0 {
			return nil, fmt.Errorf("%w: no %s monitor %q", ErrMonitorStatus, st.Ignition, m.Name)
		}
		if seen[m.Name] {
			return nil, fmt.Errorf("%w: monitor %q listed twice", ErrMonitorStatus, m.Name)
		}
		seen[m.Name] = true
		c, err := monitorCode(m)
		if err != nil {
			return nil, err
		}
		d := defs[idx]
		if c == MonitorNotSupported {
			continue
		}
		if d.inB {
			out[1] |= 1 << d.bit
			if c == MonitorNotComplete {
				out[1] |= 1 << (d.bit + 4)
			}
		} else {
			out[2] |= 1 << d.bit
			if c == MonitorNotComplete {
				out[3] |= 1 << d.bit
			}
		}
	}
	return out, nil
}

func monitorCode(m Monitor) (int, error) {
	if m.Code < MonitorNotSupported || m.Code > MonitorNotComplete {
		return 0, fmt.Errorf("%w: monitor %q code %d, want 0..2", ErrMonitorStatus, m.Name, m.Code)
	}
	if !m.Supported && !m.Complete {
		return m.Code, nil
	}
	want := MonitorNotComplete
	switch {
	case !m.Supported:
		return 0, fmt.Errorf("%w: monitor %q complete but not supported", ErrMonitorStatus, m.Name)
	case m.Complete:
		want = MonitorComplete
	}
	if m.Code != 0 && m.Code != want {
		return 0, fmt.Errorf("%w: monitor %q code %d contradicts supported=%t complete=%t",
			ErrMonitorStatus, m.Name, m.Code, m.Supported, m.Complete)
	}
	return want, nil
}

var readinessText = [...]string{"not supported", "complete", "not complete"}

// decodeMonitorPID is DecodePID for PIDs 01 and 41: PID 01 yields "mil",
// "dtc_count", "ignition_type" and "readiness_<monitor>" values, PID 41
// "drive_cycle_<monitor>" values; monitor values carry the readiness code
// (0 not supported, 1 complete, 2 not complete).
func decodeMonitorPID(d *PIDDef, data []byte) ([]Value, error) {
	pid := d.PID
	st, err := DecodeMonitorStatus(data)
	if err != nil {
		return nil, err
	}
	out := make([]Value, 0, 3+len(st.Monitors))
	prefix := "drive_cycle_"
	if pid == 0x01 {
		prefix = "readiness_"
		mil := Value{PID: pid, Name: "mil", Label: "Malfunction indicator lamp", Text: "off"}
		if st.MIL {
			mil.Value, mil.Text = 1, "on"
		}
		ign := Value{PID: pid, Name: "ignition_type", Label: "Ignition type", Text: st.Ignition}
		if st.Ignition == IgnitionCompression {
			ign.Value = 1
		}
		out = append(out, mil,
			Value{PID: pid, Name: "dtc_count", Label: "Confirmed emission DTCs", Value: float64(st.DTCCount), Unit: "count"},
			ign)
	}
	for _, m := range st.Monitors {
		label := m.Label + " monitor"
		if pid != 0x01 {
			label = m.Label + " monitor (this drive cycle)"
		}
		out = append(out, Value{PID: pid, Name: prefix + m.Name, Label: label, Value: float64(m.Code), Text: readinessText[m.Code]})
	}
	return out, nil
}
