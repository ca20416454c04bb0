package obd

import (
	"fmt"
	"math"
	"strings"
)

// The Mode 01/02 PID table (SAE J1979 / ISO 15031-5 as summarised in the
// public "OBD-II PIDs" tables and the OBDb SAEJ1979 signal set). Every linear
// quantity is declared as a FieldDef so that EncodePID is the generic inverse
// of DecodePID.
//
// Notes on what is not decoded:
//   - PIDs marked raw (88, 8B, 8C, 8F-94, 98, 99, 9B, 9C, 9F, A1, A3) have a
//     known length, so multi-PID responses split correctly, but their inner
//     layout is not decoded; DecodePID returns their data as hex.
//   - 70 byte J (boost control status), 71 byte F (VGT control status) and
//     9A byte B (hybrid charging state) are not decoded; 50 bytes B-D are
//     reserved.
//   - 14-1B are named after the two-bank layout of PID 13 (14 = B1S1 ...
//     1B = B2S4). A vehicle that reports PID 1D (four banks) uses 14 = B1S1,
//     15 = B1S2, 16 = B2S1, 17 = B2S2, 18 = B3S1 ...; the same holds for 24-2B
//     and 34-3B.
//   - 06-09 are decoded as one byte (banks 1 and 2); J1979 lets an ECU with
//     banks 3 and 4 answer two bytes, which this table does not cover.
var pidTable = buildPIDTable()

func field(off, size int, name, label, unit string, mul, div, add float64) FieldDef {
	return FieldDef{Name: name, Label: label, Unit: unit, Support: -1, off: off, size: size, mul: mul, div: div, add: add}
}

// u8 and friends declare unsigned (or signed) big-endian integers of 1, 2 or
// 4 bytes at byte offset off.
func u8(off int, name, label, unit string, mul, div, add float64) FieldDef {
	return field(off, 1, name, label, unit, mul, div, add)
}

func u16(off int, name, label, unit string, mul, div, add float64) FieldDef {
	return field(off, 2, name, label, unit, mul, div, add)
}

func u32(off int, name, label, unit string, mul, div, add float64) FieldDef {
	return field(off, 4, name, label, unit, mul, div, add)
}

func s16(off int, name, label, unit string, mul, div, add float64) FieldDef {
	f := field(off, 2, name, label, unit, mul, div, add)
	f.signed = true
	return f
}

// code declares an enumeration or bit field: bits bits of the size-byte
// integer at off, starting at bit shift; Value is the raw code, Text its
// meaning.
func code(off, size int, shift, bits uint, name, label string, text func(uint32) string) FieldDef {
	f := field(off, size, name, label, "", 1, 1, 0)
	f.shift, f.bits, f.text = shift, bits, text
	return f
}

// sup marks the field as present only when bit b of the first data byte is set.
func (f FieldDef) sup(b int) FieldDef { f.Support = b; return f }

func (f FieldDef) withText(t func(uint32) string) FieldDef { f.text = t; return f }

// Common scalings.
const (
	pctMul, pctDiv   = 100, 255 // A*100/255 %
	trimMul, trimDiv = 100, 128 // A*100/128 - 100 %
)

func pct(off int, name, label string) FieldDef { return u8(off, name, label, "%", pctMul, pctDiv, 0) }
func trim(off int, name, label string) FieldDef {
	return u8(off, name, label, "%", trimMul, trimDiv, -100)
}
func temp(off int, name, label string) FieldDef { return u8(off, name, label, "°C", 1, 1, -40) }
func temp16(off int, name, label string) FieldDef {
	return u16(off, name, label, "°C", 1, 10, -40)
}
func torque(off int, name, label string) FieldDef { return u8(off, name, label, "%", 1, 1, -125) }

// Text helpers.

func mapText(m map[uint32]string) func(uint32) string {
	return func(u uint32) string {
		if s, ok := m[u]; ok {
			return s
		}
		return fmt.Sprintf("reserved (%d)", u)
	}
}

// bitsText lists the names of the set bits (bit 0 first), "none" if none.
func bitsText(names ...string) func(uint32) string {
	return func(u uint32) string {
		var parts []string
		for i, n := range names {
			if u&(1<<i) != 0 {
				parts = append(parts, n)
			}
		}
		if u>>len(names) != 0 {
			parts = append(parts, fmt.Sprintf("reserved bits 0x%02X", u>>len(names)<<len(names)))
		}
		if len(parts) == 0 {
			return "none"
		}
		return strings.Join(parts, ", ")
	}
}

func twoState(off, on string) func(uint32) string {
	return func(u uint32) string {
		if u != 0 {
			return on
		}
		return off
	}
}

// dtcText formats the DTC of the freeze-frame PID 02 ("P0133").
func dtcText(u uint32) string {
	if u == 0 {
		return "no freeze frame"
	}
	return DecodeDTC(byte(u>>8), byte(u))
}

var fuelSystemBits = bitsText(
	"open loop: conditions for closed loop not yet met",
	"closed loop: using oxygen sensor feedback",
	"open loop: driving conditions (power enrichment, deceleration)",
	"open loop: system fault",
	"closed loop: fault in at least one oxygen sensor",
	"open loop (bank 2): conditions for closed loop not yet met",
	"open loop (bank 2): driving conditions",
	"open loop (bank 2): system fault",
)

func fuelSystemStatus(u uint32) string {
	if u == 0 {
		return "off or not present"
	}
	return fuelSystemBits(u)
}

// OBDStandardText returns the meaning of a PID 1C value ("OBD requirements
// to which vehicle or engine is certified"), e.g. 41 "CN-OBD-6".
func OBDStandardText(v byte) string {
	switch {
	case v == 0:
		return "not available"
	case v >= 251:
		return fmt.Sprintf("not available for assignment (%d)", v)
	}
	return obdStandardMap(uint32(v))
}

var obdStandardMap = mapText(obdStandards)

var obdStandards = map[uint32]string{
	1:  "OBD-II as defined by CARB",
	2:  "OBD as defined by the EPA",
	3:  "OBD and OBD-II",
	4:  "OBD-I",
	5:  "not OBD compliant",
	6:  "EOBD (Europe)",
	7:  "EOBD and OBD-II",
	8:  "EOBD and OBD",
	9:  "EOBD, OBD and OBD-II",
	10: "JOBD (Japan)",
	11: "JOBD and OBD-II",
	12: "JOBD and EOBD",
	13: "JOBD, EOBD and OBD-II",
	14: "heavy duty vehicles (EURO IV) B1",
	15: "heavy duty vehicles (EURO V) B2",
	16: "heavy duty vehicles (EURO EEV) C",
	17: "engine manufacturer diagnostics (EMD)",
	18: "engine manufacturer diagnostics enhanced (EMD+)",
	19: "heavy duty OBD child/partial (HD OBD-C)",
	20: "heavy duty OBD (HD OBD)",
	21: "world wide harmonized OBD (WWH OBD)",
	23: "heavy duty Euro OBD stage I without NOx control (HD EOBD-I)",
	24: "heavy duty Euro OBD stage I with NOx control (HD EOBD-I N)",
	25: "heavy duty Euro OBD stage II without NOx control (HD EOBD-II)",
	26: "heavy duty Euro OBD stage II with NOx control (HD EOBD-II N)",
	27: "heavy duty zero emission vehicle (HD-ZEV)",
	28: "Brazil OBD phase 1 (OBDBr-1)",
	29: "Brazil OBD phase 2 (OBDBr-2)",
	30: "Korean OBD (KOBD)",
	31: "India OBD I (IOBD-I-BS4)",
	32: "India OBD II (IOBD-II-BS4)",
	33: "heavy duty Euro OBD stage VI (HD EOBD-VI)",
	34: "OBD, OBD-II and HD OBD",
	35: "Brazil OBD phase 3 (OBDBr-3)",
	36: "motorcycle Euro OBD-I (MC EOBD-I)",
	37: "motorcycle Euro OBD-II (MC EOBD-II)",
	38: "motorcycle China OBD-I (MC COBD-I)",
	39: "motorcycle Taiwan OBD-I (MC TOBD-I)",
	40: "motorcycle Japan OBD-I (MC JOBD-I)",
	41: "China nationwide stage 6 (CN-OBD-6)",
	42: "Brazil OBD phase 7 (OBDBr-P7)",
	43: "China heavy duty stage VI (CN-HDOBD-VI)",
	44: "India BS6 OBD I (IOBD-I-BS6)",
	45: "India BS6 OBD II (IOBD-II-BS6)",
	46: "India BS VI heavy duty OBD (IHDOBD-BSVI)",
	47: "Brazil OBD phase 8 (OBDBr-P8)",
	48: "Japan heavy duty OBD-II (HD-JOBD-II)",
	49: "Korea heavy duty OBD-II (HD-KOBD-II)",
	50: "China off-road stage IV OBD (CN-OROBD-IV)",
	51: "light duty ZEV, CARB ACC-II",
	52: "motorcycle Japan OBD-II (MC JOBD-II)",
	53: "motorcycle California (CARB) OBD",
	54: "motorcycle federal (EPA) OBD",
	55: "motorcycle 50-state (CARB and EPA) OBD",
	56: "heavy duty ZEV, CARB ZEP",
	57: "light duty ZEV, CARB ACC-II and EPA Tier 4",
	58: "light duty ZEV, EPA Tier 4",
	59: "EPA heavy duty OBD",
}

var fuelTypes = map[uint32]string{
	0:  "not available",
	1:  "gasoline",
	2:  "methanol",
	3:  "ethanol",
	4:  "diesel",
	5:  "LPG",
	6:  "CNG",
	7:  "propane",
	8:  "electric",
	9:  "bi-fuel running gasoline",
	10: "bi-fuel running methanol",
	11: "bi-fuel running ethanol",
	12: "bi-fuel running LPG",
	13: "bi-fuel running CNG",
	14: "bi-fuel running propane",
	15: "bi-fuel running electricity",
	16: "bi-fuel running electric and combustion engine",
	17: "hybrid gasoline",
	18: "hybrid ethanol",
	19: "hybrid diesel",
	20: "hybrid electric",
	21: "hybrid running electric and combustion engine",
	22: "hybrid regenerative",
	23: "bi-fuel running diesel",
	24: "bi-fuel running natural gas",
	25: "bi-fuel running diesel",
	26: "natural gas",
	27: "dual fuel diesel and CNG",
	28: "dual fuel diesel and LNG",
	29: "fuel cell (hydrogen)",
	30: "hydrogen internal combustion engine",
	31: "kerosene",
	32: "heavy fuel oil",
}

var emissionRequirements = map[uint32]string{
	14: "heavy duty vehicles (EURO IV) B1",
	15: "heavy duty vehicles (EURO V) B2",
	16: "heavy duty vehicles (EURO EEV) C",
	17: "heavy duty vehicles (EURO VI)",
}

func nteText(what string) func(uint32) string {
	return bitsText(
		"inside NTE control area",
		"outside NTE control area",
		"inside manufacturer-specific "+what+" NTE carve-out area",
		"NTE deficiency for "+what+" active area",
	)
}

// o2Name maps sensor index 0..7 of PIDs 14-1B, 24-2B, 34-3B onto the two-bank
// layout of PID 13.
func o2Name(i int) (key, label string) {
	b, s := i/4+1, i%4+1
	return fmt.Sprintf("b%ds%d", b, s), fmt.Sprintf("bank %d sensor %d", b, s)
}

func buildPIDTable() *[256]*PIDDef {
	var t [256]*PIDDef
	def := func(pid PID, name, label string, length int, fields ...FieldDef) {
		d := &PIDDef{PID: pid, Name: name, Label: label, Length: length, Fields: fields}
		for i := range d.Fields {
			f := &d.Fields[i]
			lo, hi := f.rawRange()
			f.Min, f.Max = f.phys(lo), f.phys(hi)
			if f.Min > f.Max {
				f.Min, f.Max = f.Max, f.Min
			}
		}
		t[pid] = d
	}
	raw := func(pid PID, name, label string, length int) {
		t[pid] = &PIDDef{PID: pid, Name: name, Label: label, Length: length, Raw: true}
	}
	for base := 0; base < 256; base += 0x20 {
		name := fmt.Sprintf("pids_supported_%02x_%02x", base+1, min(base+0x20, 0xff))
		label := fmt.Sprintf("PIDs supported %02X-%02X", base+1, min(base+0x20, 0xff))
		t[base] = &PIDDef{PID: PID(base), Name: name, Label: label, Length: 4, special: decodeBitmapPID}
	}
	t[0x01] = &PIDDef{PID: 0x01, Name: "monitor_status", Label: "Monitor status since DTCs cleared", Length: 4, special: decodeMonitorPID}
	t[0x41] = &PIDDef{PID: 0x41, Name: "monitor_status_drive_cycle", Label: "Monitor status this drive cycle", Length: 4, special: decodeMonitorPID}

	def(0x02, "freeze_frame_dtc", "DTC that caused freeze frame", 2,
		code(0, 2, 0, 16, "freeze_frame_dtc", "DTC that caused freeze frame", dtcText))
	def(0x03, "fuel_system_status", "Fuel system status", 2,
		code(0, 1, 0, 8, "fuel_system_1_status", "Fuel system 1 status", fuelSystemStatus),
		code(1, 1, 0, 8, "fuel_system_2_status", "Fuel system 2 status", fuelSystemStatus))
	def(0x04, "engine_load", "Calculated engine load", 1, pct(0, "engine_load", "Calculated engine load"))
	def(0x05, "coolant_temperature", "Engine coolant temperature", 1, temp(0, "coolant_temperature", "Engine coolant temperature"))
	def(0x06, "stft_bank1", "Short term fuel trim bank 1", 1, trim(0, "stft_bank1", "Short term fuel trim bank 1"))
	def(0x07, "ltft_bank1", "Long term fuel trim bank 1", 1, trim(0, "ltft_bank1", "Long term fuel trim bank 1"))
	def(0x08, "stft_bank2", "Short term fuel trim bank 2", 1, trim(0, "stft_bank2", "Short term fuel trim bank 2"))
	def(0x09, "ltft_bank2", "Long term fuel trim bank 2", 1, trim(0, "ltft_bank2", "Long term fuel trim bank 2"))
	def(0x0A, "fuel_pressure", "Fuel pressure (gauge)", 1, u8(0, "fuel_pressure", "Fuel pressure (gauge)", "kPa", 3, 1, 0))
	def(0x0B, "intake_manifold_pressure", "Intake manifold absolute pressure", 1,
		u8(0, "intake_manifold_pressure", "Intake manifold absolute pressure", "kPa", 1, 1, 0))
	def(0x0C, "engine_speed", "Engine speed", 2, u16(0, "engine_speed", "Engine speed", "rpm", 1, 4, 0))
	def(0x0D, "vehicle_speed", "Vehicle speed", 1, u8(0, "vehicle_speed", "Vehicle speed", "km/h", 1, 1, 0))
	def(0x0E, "timing_advance", "Timing advance", 1, u8(0, "timing_advance", "Timing advance (before TDC)", "°", 1, 2, -64))
	def(0x0F, "intake_air_temperature", "Intake air temperature", 1, temp(0, "intake_air_temperature", "Intake air temperature"))
	def(0x10, "maf_air_flow", "Mass air flow rate", 2, u16(0, "maf_air_flow", "Mass air flow rate", "g/s", 1, 100, 0))
	def(0x11, "throttle_position", "Throttle position", 1, pct(0, "throttle_position", "Throttle position"))
	def(0x12, "secondary_air_status", "Commanded secondary air status", 1,
		code(0, 1, 0, 8, "secondary_air_status", "Commanded secondary air status", bitsText(
			"upstream of first catalytic converter",
			"downstream of first catalytic converter inlet",
			"from the outside atmosphere or off",
			"pump commanded on for diagnostics")))
	def(0x13, "o2_sensors_present", "Oxygen sensors present (2 banks)", 1,
		code(0, 1, 0, 8, "o2_sensors_present", "Oxygen sensors present (2 banks)",
			bitsText("B1S1", "B1S2", "B1S3", "B1S4", "B2S1", "B2S2", "B2S3", "B2S4")))
	for i := 0; i < 8; i++ {
		k, l := o2Name(i)
		def(PID(0x14+i), fmt.Sprintf("o2_sensor_%d", i+1), "Oxygen sensor "+l+" voltage and trim", 2,
			u8(0, "o2_"+k+"_voltage", "O2 sensor "+l+" voltage", "V", 1, 200, 0),
			trim(1, "o2_"+k+"_stft", "O2 sensor "+l+" short term fuel trim").withText(func(u uint32) string {
				if u == 0xFF {
					return "sensor not used in trim calculation"
				}
				return ""
			}))
	}
	def(0x1C, "obd_standard", "OBD standard", 1,
		code(0, 1, 0, 8, "obd_standard", "OBD standard this vehicle conforms to", func(u uint32) string { return OBDStandardText(byte(u)) }))
	def(0x1D, "o2_sensors_present_4banks", "Oxygen sensors present (4 banks)", 1,
		code(0, 1, 0, 8, "o2_sensors_present_4banks", "Oxygen sensors present (4 banks)",
			bitsText("B1S1", "B1S2", "B2S1", "B2S2", "B3S1", "B3S2", "B4S1", "B4S2")))
	def(0x1E, "pto_status", "Auxiliary input status", 1,
		code(0, 1, 0, 1, "pto_status", "Power take-off (PTO) status", twoState("inactive", "active")))
	def(0x1F, "run_time_since_start", "Run time since engine start", 2,
		u16(0, "run_time_since_start", "Run time since engine start", "s", 1, 1, 0))
	def(0x21, "distance_with_mil", "Distance traveled with MIL on", 2,
		u16(0, "distance_with_mil", "Distance traveled with MIL on", "km", 1, 1, 0))
	def(0x22, "fuel_rail_pressure_relative", "Fuel rail pressure (relative to manifold vacuum)", 2,
		u16(0, "fuel_rail_pressure_relative", "Fuel rail pressure (relative to manifold vacuum)", "kPa", 79, 1000, 0))
	def(0x23, "fuel_rail_gauge_pressure", "Fuel rail gauge pressure", 2,
		u16(0, "fuel_rail_gauge_pressure", "Fuel rail gauge pressure (diesel or direct injection)", "kPa", 10, 1, 0))
	for i := 0; i < 8; i++ {
		k, l := o2Name(i)
		def(PID(0x24+i), fmt.Sprintf("o2_sensor_%d_wide_voltage", i+1), "Oxygen sensor "+l+" lambda and voltage", 4,
			u16(0, "o2_"+k+"_wr_lambda", "O2 sensor "+l+" equivalence ratio (voltage type)", "ratio", 2, 65536, 0),
			u16(2, "o2_"+k+"_wr_voltage", "O2 sensor "+l+" voltage (wide range)", "V", 8, 65536, 0))
	}
	def(0x2C, "commanded_egr", "Commanded EGR", 1, pct(0, "commanded_egr", "Commanded EGR"))
	def(0x2D, "egr_error", "EGR error", 1, trim(0, "egr_error", "EGR error"))
	def(0x2E, "commanded_evap_purge", "Commanded evaporative purge", 1, pct(0, "commanded_evap_purge", "Commanded evaporative purge"))
	def(0x2F, "fuel_tank_level", "Fuel tank level input", 1, pct(0, "fuel_tank_level", "Fuel tank level input"))
	def(0x30, "warmups_since_clear", "Warm-ups since codes cleared", 1,
		u8(0, "warmups_since_clear", "Warm-ups since codes cleared", "count", 1, 1, 0))
	def(0x31, "distance_since_clear", "Distance traveled since codes cleared", 2,
		u16(0, "distance_since_clear", "Distance traveled since codes cleared", "km", 1, 1, 0))
	def(0x32, "evap_vapor_pressure", "Evap system vapor pressure", 2,
		s16(0, "evap_vapor_pressure", "Evap system vapor pressure", "Pa", 1, 4, 0))
	def(0x33, "barometric_pressure", "Absolute barometric pressure", 1,
		u8(0, "barometric_pressure", "Absolute barometric pressure", "kPa", 1, 1, 0))
	for i := 0; i < 8; i++ {
		k, l := o2Name(i)
		def(PID(0x34+i), fmt.Sprintf("o2_sensor_%d_wide_current", i+1), "Oxygen sensor "+l+" lambda and current", 4,
			u16(0, "o2_"+k+"_wrc_lambda", "O2 sensor "+l+" equivalence ratio (current type)", "ratio", 2, 65536, 0),
			u16(2, "o2_"+k+"_wrc_current", "O2 sensor "+l+" current (wide range)", "mA", 1, 256, -128))
	}
	for i, bs := range []string{"b1s1", "b2s1", "b1s2", "b2s2"} {
		l := fmt.Sprintf("Catalyst temperature bank %c sensor %c", bs[1], bs[3])
		def(PID(0x3C+i), "catalyst_temp_"+bs, l, 2, temp16(0, "catalyst_temp_"+bs, l))
	}
	def(0x42, "control_module_voltage", "Control module voltage", 2,
		u16(0, "control_module_voltage", "Control module voltage", "V", 1, 1000, 0))
	def(0x43, "absolute_load", "Absolute load value", 2, u16(0, "absolute_load", "Absolute load value", "%", pctMul, pctDiv, 0))
	def(0x44, "commanded_lambda", "Commanded air-fuel equivalence ratio", 2,
		u16(0, "commanded_lambda", "Commanded air-fuel equivalence ratio", "ratio", 2, 65536, 0))
	def(0x45, "relative_throttle_position", "Relative throttle position", 1, pct(0, "relative_throttle_position", "Relative throttle position"))
	def(0x46, "ambient_air_temperature", "Ambient air temperature", 1, temp(0, "ambient_air_temperature", "Ambient air temperature"))
	for i, n := range []struct{ name, label string }{
		{"throttle_position_b", "Absolute throttle position B"},
		{"throttle_position_c", "Absolute throttle position C"},
		{"accelerator_pedal_d", "Accelerator pedal position D"},
		{"accelerator_pedal_e", "Accelerator pedal position E"},
		{"accelerator_pedal_f", "Accelerator pedal position F"},
		{"commanded_throttle_actuator", "Commanded throttle actuator"},
	} {
		def(PID(0x47+i), n.name, n.label, 1, pct(0, n.name, n.label))
	}
	def(0x4D, "time_with_mil", "Time run with MIL on", 2, u16(0, "time_with_mil", "Time run with MIL on", "min", 1, 1, 0))
	def(0x4E, "time_since_clear", "Time since codes cleared", 2,
		u16(0, "time_since_clear", "Time since codes cleared", "min", 1, 1, 0))
	def(0x4F, "maximum_values", "Maximum values for lambda, O2 voltage, O2 current and MAP", 4,
		u8(0, "max_lambda", "Maximum equivalence ratio", "ratio", 1, 1, 0),
		u8(1, "max_o2_voltage", "Maximum oxygen sensor voltage", "V", 1, 1, 0),
		u8(2, "max_o2_current", "Maximum oxygen sensor current", "mA", 1, 1, 0),
		u8(3, "max_intake_manifold_pressure", "Maximum intake manifold absolute pressure", "kPa", 10, 1, 0))
	def(0x50, "max_maf_air_flow", "Maximum mass air flow rate", 4,
		u8(0, "max_maf_air_flow", "Maximum mass air flow rate", "g/s", 10, 1, 0))
	def(0x51, "fuel_type", "Fuel type", 1, code(0, 1, 0, 8, "fuel_type", "Fuel type", mapText(fuelTypes)))
	def(0x52, "ethanol_percent", "Ethanol fuel percentage", 1, pct(0, "ethanol_percent", "Ethanol fuel percentage"))
	def(0x53, "evap_vapor_pressure_abs", "Absolute evap system vapor pressure", 2,
		u16(0, "evap_vapor_pressure_abs", "Absolute evap system vapor pressure", "kPa", 1, 200, 0))
	def(0x54, "evap_vapor_pressure_wide", "Evap system vapor pressure (wide range)", 2,
		s16(0, "evap_vapor_pressure_wide", "Evap system vapor pressure (wide range)", "Pa", 1, 1, 0))
	for i, n := range []struct{ kind, label string }{
		{"stft", "Short term"}, {"ltft", "Long term"},
	} {
		def(PID(0x55+i), n.kind+"_secondary_bank1_3", n.label+" secondary O2 sensor trim banks 1 and 3", 2,
			trim(0, n.kind+"_secondary_bank1", n.label+" secondary O2 sensor trim bank 1"),
			trim(1, n.kind+"_secondary_bank3", n.label+" secondary O2 sensor trim bank 3"))
		def(PID(0x57+i), n.kind+"_secondary_bank2_4", n.label+" secondary O2 sensor trim banks 2 and 4", 2,
			trim(0, n.kind+"_secondary_bank2", n.label+" secondary O2 sensor trim bank 2"),
			trim(1, n.kind+"_secondary_bank4", n.label+" secondary O2 sensor trim bank 4"))
	}
	def(0x59, "fuel_rail_absolute_pressure", "Fuel rail absolute pressure", 2,
		u16(0, "fuel_rail_absolute_pressure", "Fuel rail absolute pressure", "kPa", 10, 1, 0))
	def(0x5A, "relative_accelerator_pedal", "Relative accelerator pedal position", 1,
		pct(0, "relative_accelerator_pedal", "Relative accelerator pedal position"))
	def(0x5B, "hybrid_battery_remaining", "Hybrid battery pack remaining life", 1,
		pct(0, "hybrid_battery_remaining", "Hybrid battery pack remaining life"))
	def(0x5C, "engine_oil_temperature", "Engine oil temperature", 1, temp(0, "engine_oil_temperature", "Engine oil temperature"))
	def(0x5D, "fuel_injection_timing", "Fuel injection timing", 2,
		u16(0, "fuel_injection_timing", "Fuel injection timing", "°", 1, 128, -210))
	def(0x5E, "engine_fuel_rate", "Engine fuel rate", 2, u16(0, "engine_fuel_rate", "Engine fuel rate", "L/h", 1, 20, 0))
	def(0x5F, "emission_requirements", "Emission requirements to which vehicle is designed", 1,
		code(0, 1, 0, 8, "emission_requirements", "Emission requirements to which vehicle is designed", mapText(emissionRequirements)))
	def(0x61, "driver_demand_torque", "Driver's demand engine percent torque", 1,
		torque(0, "driver_demand_torque", "Driver's demand engine percent torque"))
	def(0x62, "actual_engine_torque", "Actual engine percent torque", 1, torque(0, "actual_engine_torque", "Actual engine percent torque"))
	def(0x63, "engine_reference_torque", "Engine reference torque", 2,
		u16(0, "engine_reference_torque", "Engine reference torque", "N·m", 1, 1, 0))
	def(0x64, "engine_torque_data", "Engine percent torque data", 5,
		torque(0, "engine_torque_idle", "Engine percent torque at idle"),
		torque(1, "engine_torque_point1", "Engine percent torque at point 1"),
		torque(2, "engine_torque_point2", "Engine percent torque at point 2"),
		torque(3, "engine_torque_point3", "Engine percent torque at point 3"),
		torque(4, "engine_torque_point4", "Engine percent torque at point 4"))
	def(0x65, "aux_io", "Auxiliary input/output", 2,
		code(1, 1, 0, 1, "pto_output_status", "Power take-off (PTO) output status", twoState("off", "on")).sup(0),
		code(1, 1, 1, 1, "auto_trans_neutral_drive_status", "Automatic transmission neutral/drive status", twoState("park or neutral", "drive or reverse")).sup(1),
		code(1, 1, 2, 1, "manual_trans_neutral_gear_status", "Manual transmission neutral/gear status", twoState("neutral or clutch depressed", "in gear")).sup(2),
		code(1, 1, 3, 1, "glow_plug_lamp_status", "Glow plug lamp status", twoState("off", "on")).sup(3),
		code(1, 1, 4, 4, "recommended_gear", "Recommended transmission gear", nil).sup(4))
	def(0x66, "maf_sensors", "Mass air flow sensors", 5,
		u16(1, "maf_sensor_a", "Mass air flow sensor A", "g/s", 1, 32, 0).sup(0),
		u16(3, "maf_sensor_b", "Mass air flow sensor B", "g/s", 1, 32, 0).sup(1))
	def(0x67, "coolant_temperature_sensors", "Engine coolant temperature sensors", 3,
		temp(1, "coolant_temperature_1", "Engine coolant temperature sensor 1").sup(0),
		temp(2, "coolant_temperature_2", "Engine coolant temperature sensor 2").sup(1))
	{
		var fs []FieldDef
		for i, bs := range []string{"b1s1", "b1s2", "b1s3", "b2s1", "b2s2", "b2s3"} {
			fs = append(fs, temp(1+i, "intake_air_temp_"+bs, fmt.Sprintf("Intake air temperature bank %c sensor %c", bs[1], bs[3])).sup(i))
		}
		def(0x68, "intake_air_temperature_sensors", "Intake air temperature sensors", 7, fs...)
	}
	def(0x69, "egr_data", "Commanded EGR and EGR error", 7,
		pct(1, "commanded_egr_a", "Commanded EGR A duty cycle/position").sup(0),
		pct(2, "actual_egr_a", "Actual EGR A duty cycle/position").sup(1),
		trim(3, "egr_a_error", "EGR A error").sup(2),
		pct(4, "commanded_egr_b", "Commanded EGR B duty cycle/position").sup(3),
		pct(5, "actual_egr_b", "Actual EGR B duty cycle/position").sup(4),
		trim(6, "egr_b_error", "EGR B error").sup(5))
	def(0x6A, "intake_air_flow_control", "Commanded diesel intake air flow control and position", 5,
		pct(1, "commanded_intake_air_flow_a", "Commanded intake air flow A control").sup(0),
		pct(2, "relative_intake_air_flow_a", "Relative intake air flow A position").sup(1),
		pct(3, "commanded_intake_air_flow_b", "Commanded intake air flow B control").sup(2),
		pct(4, "relative_intake_air_flow_b", "Relative intake air flow B position").sup(3))
	def(0x6B, "egr_temperature", "Exhaust gas recirculation temperature", 5,
		temp(1, "egr_temp_b1s1", "EGR temperature bank 1 sensor 1").sup(0),
		temp(2, "egr_temp_b1s2", "EGR temperature bank 1 sensor 2").sup(1),
		temp(3, "egr_temp_b2s1", "EGR temperature bank 2 sensor 1").sup(2),
		temp(4, "egr_temp_b2s2", "EGR temperature bank 2 sensor 2").sup(3))
	def(0x6C, "throttle_actuator_control", "Commanded throttle actuator control and relative throttle position", 5,
		pct(1, "commanded_throttle_a", "Commanded throttle actuator A").sup(0),
		pct(2, "relative_throttle_a", "Relative throttle A position").sup(1),
		pct(3, "commanded_throttle_b", "Commanded throttle actuator B").sup(2),
		pct(4, "relative_throttle_b", "Relative throttle B position").sup(3))
	def(0x6D, "fuel_pressure_control", "Fuel pressure control system", 11,
		u16(1, "commanded_fuel_rail_pressure_a", "Commanded fuel rail pressure A", "kPa", 10, 1, 0).sup(0),
		u16(3, "fuel_rail_pressure_a", "Fuel rail pressure A", "kPa", 10, 1, 0).sup(1),
		temp(5, "fuel_rail_temperature_a", "Fuel rail temperature A").sup(2),
		u16(6, "commanded_fuel_rail_pressure_b", "Commanded fuel rail pressure B", "kPa", 10, 1, 0).sup(3),
		u16(8, "fuel_rail_pressure_b", "Fuel rail pressure B", "kPa", 10, 1, 0).sup(4),
		temp(10, "fuel_rail_temperature_b", "Fuel rail temperature B").sup(5))
	def(0x6E, "injection_pressure_control", "Injection pressure control system", 9,
		u16(1, "commanded_injection_pressure_a", "Commanded injection control pressure A", "kPa", 10, 1, 0).sup(0),
		u16(3, "injection_pressure_a", "Injection control pressure A", "kPa", 10, 1, 0).sup(1),
		u16(5, "commanded_injection_pressure_b", "Commanded injection control pressure B", "kPa", 10, 1, 0).sup(2),
		u16(7, "injection_pressure_b", "Injection control pressure B", "kPa", 10, 1, 0).sup(3))
	def(0x6F, "turbo_inlet_pressure", "Turbocharger compressor inlet pressure", 3,
		u8(1, "turbo_inlet_pressure_a", "Turbocharger A compressor inlet pressure", "kPa", 1, 1, 0).sup(0),
		u8(2, "turbo_inlet_pressure_b", "Turbocharger B compressor inlet pressure", "kPa", 1, 1, 0).sup(1))
	def(0x70, "boost_pressure_control", "Boost pressure control", 10,
		u16(1, "commanded_boost_pressure_a", "Commanded boost pressure A", "kPa", 1, 32, 0).sup(0),
		u16(3, "boost_pressure_a", "Boost pressure sensor A", "kPa", 1, 32, 0).sup(1),
		u16(5, "commanded_boost_pressure_b", "Commanded boost pressure B", "kPa", 1, 32, 0).sup(2),
		u16(7, "boost_pressure_b", "Boost pressure sensor B", "kPa", 1, 32, 0).sup(3))
	def(0x71, "vgt_control", "Variable geometry turbo control", 6,
		pct(1, "commanded_vgt_a", "Commanded VGT A position").sup(0),
		pct(2, "vgt_position_a", "VGT A position").sup(1),
		pct(3, "commanded_vgt_b", "Commanded VGT B position").sup(2),
		pct(4, "vgt_position_b", "VGT B position").sup(3))
	def(0x72, "wastegate_control", "Wastegate control", 5,
		pct(1, "commanded_wastegate_a", "Commanded wastegate A position").sup(0),
		pct(2, "wastegate_position_a", "Wastegate A position").sup(1),
		pct(3, "commanded_wastegate_b", "Commanded wastegate B position").sup(2),
		pct(4, "wastegate_position_b", "Wastegate B position").sup(3))
	def(0x73, "exhaust_pressure", "Exhaust pressure", 5,
		u16(1, "exhaust_pressure_bank1", "Exhaust pressure bank 1", "kPa", 1, 100, 0).sup(0),
		u16(3, "exhaust_pressure_bank2", "Exhaust pressure bank 2", "kPa", 1, 100, 0).sup(1))
	def(0x74, "turbo_speed", "Turbocharger speed", 5,
		u16(1, "turbo_a_speed", "Turbocharger A speed", "rpm", 10, 1, 0).sup(0),
		u16(3, "turbo_b_speed", "Turbocharger B speed", "rpm", 10, 1, 0).sup(1))
	for i, tc := range []string{"a", "b"} {
		up := strings.ToUpper(tc)
		def(PID(0x75+i), "turbo_"+tc+"_temperature", "Turbocharger "+up+" temperature", 7,
			temp(1, "turbo_"+tc+"_compressor_inlet_temp", "Turbocharger "+up+" compressor inlet temperature").sup(0),
			temp(2, "turbo_"+tc+"_compressor_outlet_temp", "Turbocharger "+up+" compressor outlet temperature").sup(1),
			temp16(3, "turbo_"+tc+"_turbine_inlet_temp", "Turbocharger "+up+" turbine inlet temperature").sup(2),
			temp16(5, "turbo_"+tc+"_turbine_outlet_temp", "Turbocharger "+up+" turbine outlet temperature").sup(3))
	}
	def(0x77, "charge_air_cooler_temperature", "Charge air cooler temperature", 5,
		temp(1, "charge_air_temp_b1s1", "Charge air cooler temperature bank 1 sensor 1").sup(0),
		temp(2, "charge_air_temp_b1s2", "Charge air cooler temperature bank 1 sensor 2").sup(1),
		temp(3, "charge_air_temp_b2s1", "Charge air cooler temperature bank 2 sensor 1").sup(2),
		temp(4, "charge_air_temp_b2s2", "Charge air cooler temperature bank 2 sensor 2").sup(3))
	for bank := 1; bank <= 2; bank++ {
		var fs []FieldDef
		for s := 1; s <= 4; s++ {
			fs = append(fs, temp16(1+2*(s-1), fmt.Sprintf("egt_b%ds%d", bank, s),
				fmt.Sprintf("Exhaust gas temperature bank %d sensor %d", bank, s)).sup(s-1))
		}
		def(PID(0x77+bank), fmt.Sprintf("egt_bank%d", bank), fmt.Sprintf("Exhaust gas temperature bank %d", bank), 9, fs...)
		p := fmt.Sprintf("dpf_b%d_", bank)
		l := fmt.Sprintf("DPF bank %d ", bank)
		def(PID(0x79+bank), fmt.Sprintf("dpf_bank%d", bank), fmt.Sprintf("Diesel particulate filter bank %d", bank), 7,
			s16(1, p+"delta_pressure", l+"delta pressure", "kPa", 1, 100, 0).sup(0),
			u16(3, p+"inlet_pressure", l+"inlet pressure", "kPa", 1, 100, 0).sup(1),
			u16(5, p+"outlet_pressure", l+"outlet pressure", "kPa", 1, 100, 0).sup(2))
	}
	def(0x7C, "dpf_temperature", "Diesel particulate filter temperature", 9,
		temp16(1, "dpf_b1_inlet_temp", "DPF bank 1 inlet temperature").sup(0),
		temp16(3, "dpf_b1_outlet_temp", "DPF bank 1 outlet temperature").sup(1),
		temp16(5, "dpf_b2_inlet_temp", "DPF bank 2 inlet temperature").sup(2),
		temp16(7, "dpf_b2_outlet_temp", "DPF bank 2 outlet temperature").sup(3))
	def(0x7D, "nox_nte_status", "NOx NTE control area status", 1,
		code(0, 1, 0, 8, "nox_nte_status", "NOx NTE control area status", nteText("NOx")))
	def(0x7E, "pm_nte_status", "PM NTE control area status", 1,
		code(0, 1, 0, 8, "pm_nte_status", "PM NTE control area status", nteText("PM")))
	def(0x7F, "engine_run_time", "Engine run time", 13,
		u32(1, "engine_run_time_total", "Total engine run time", "s", 1, 1, 0).sup(0),
		u32(5, "engine_run_time_idle", "Total idle run time", "s", 1, 1, 0).sup(1),
		u32(9, "engine_run_time_pto", "Total run time with PTO active", "s", 1, 1, 0).sup(2))
	for _, a := range []struct {
		pid   PID
		first int
	}{{0x81, 1}, {0x82, 6}, {0x89, 11}, {0x8A, 16}} {
		var fs []FieldDef
		for k := 0; k < 5; k++ {
			n := a.first + k
			fs = append(fs,
				u32(1+8*k, fmt.Sprintf("aecd%d_timer1", n), fmt.Sprintf("EI-AECD #%d timer 1", n), "s", 1, 1, 0).sup(k),
				u32(5+8*k, fmt.Sprintf("aecd%d_timer2", n), fmt.Sprintf("EI-AECD #%d timer 2", n), "s", 1, 1, 0).sup(k))
		}
		def(a.pid, fmt.Sprintf("aecd_run_time_%d_%d", a.first, a.first+4),
			fmt.Sprintf("Engine run time for AECD #%d-#%d", a.first, a.first+4), 41, fs...)
	}
	def(0x83, "nox_sensor", "NOx sensor concentration", 9,
		u16(1, "nox_b1s1", "NOx concentration bank 1 sensor 1", "ppm", 1, 1, 0).sup(0),
		u16(3, "nox_b1s2", "NOx concentration bank 1 sensor 2", "ppm", 1, 1, 0).sup(1),
		u16(5, "nox_b2s1", "NOx concentration bank 2 sensor 1", "ppm", 1, 1, 0).sup(2),
		u16(7, "nox_b2s2", "NOx concentration bank 2 sensor 2", "ppm", 1, 1, 0).sup(3))
	def(0x84, "manifold_surface_temperature", "Manifold surface temperature", 1,
		temp(0, "manifold_surface_temperature", "Manifold surface temperature"))
	def(0x85, "nox_reagent_system", "NOx reagent system", 10,
		u16(1, "reagent_consumption_avg", "Average reagent consumption", "L/h", 5, 1000, 0).sup(0),
		u16(3, "reagent_demand_avg", "Average demanded reagent consumption", "L/h", 5, 1000, 0).sup(1),
		pct(5, "reagent_tank_level", "Reagent tank level").sup(2),
		u32(6, "nox_warning_time", "Time with NOx warning indicator active", "s", 1, 1, 0).sup(3))
	def(0x86, "pm_sensor", "Particulate matter sensor", 5,
		u16(1, "pm_bank1", "PM concentration bank 1", "mg/m³", 125, 10000, 0).sup(0),
		u16(3, "pm_bank2", "PM concentration bank 2", "mg/m³", 125, 10000, 0).sup(1))
	def(0x87, "intake_manifold_pressure_sensors", "Intake manifold absolute pressure sensors", 5,
		u16(1, "intake_manifold_pressure_a", "Intake manifold absolute pressure A", "kPa", 1, 32, 0).sup(0),
		u16(3, "intake_manifold_pressure_b", "Intake manifold absolute pressure B", "kPa", 1, 32, 0).sup(1))
	raw(0x88, "scr_inducement_system", "SCR inducement system", 13)
	raw(0x8B, "diesel_aftertreatment", "Diesel aftertreatment status", 7)
	raw(0x8C, "o2_sensor_wide_range", "O2 sensor (wide range)", 17)
	def(0x8D, "throttle_position_g", "Absolute throttle position G", 1, pct(0, "throttle_position_g", "Absolute throttle position G"))
	def(0x8E, "engine_friction_torque", "Engine friction percent torque", 1,
		torque(0, "engine_friction_torque", "Engine friction percent torque"))
	raw(0x8F, "pm_sensor_output", "PM sensor output banks 1 and 2", 7)
	raw(0x90, "wwh_obd_vehicle_info", "WWH-OBD vehicle OBD system information", 3)
	raw(0x91, "wwh_obd_ecu_info", "WWH-OBD ECU OBD system information", 5)
	raw(0x92, "fuel_system_control", "Fuel system control", 2)
	raw(0x93, "wwh_obd_counters", "WWH-OBD vehicle OBD counters support", 3)
	raw(0x94, "nox_warning_inducement", "NOx warning and inducement system", 12)
	raw(0x98, "egt_sensor_bank1_ext", "Exhaust gas temperature sensor (bank 1, further sensors)", 9)
	raw(0x99, "egt_sensor_bank2_ext", "Exhaust gas temperature sensor (bank 2, further sensors)", 9)
	def(0x9A, "hybrid_battery", "Hybrid/EV battery system data", 6,
		u16(2, "hybrid_battery_voltage", "Hybrid/EV battery system voltage", "V", 1, 64, 0).sup(1),
		s16(4, "hybrid_battery_current", "Hybrid/EV battery system current", "A", 1, 10, 0).sup(2))
	raw(0x9B, "def_sensor", "Diesel exhaust fluid sensor data", 4)
	raw(0x9C, "o2_sensor_data", "O2 sensor data", 17)
	def(0x9D, "engine_fuel_rate_mass", "Engine and vehicle fuel rate", 4,
		u16(0, "engine_fuel_rate_mass", "Engine fuel rate", "g/s", 1, 50, 0),
		u16(2, "vehicle_fuel_rate_mass", "Vehicle fuel rate", "g/s", 1, 50, 0))
	def(0x9E, "exhaust_flow_rate", "Engine exhaust flow rate", 2,
		u16(0, "exhaust_flow_rate", "Engine exhaust flow rate", "kg/h", 1, 5, 0))
	raw(0x9F, "fuel_system_percentage_use", "Fuel system percentage use", 9)
	raw(0xA1, "nox_sensor_corrected", "NOx sensor corrected data", 9)
	def(0xA2, "cylinder_fuel_rate", "Cylinder fuel rate", 2,
		u16(0, "cylinder_fuel_rate", "Cylinder fuel rate", "mg/stroke", 1, 32, 0))
	raw(0xA3, "evap_vapor_pressure_ext", "Evap system vapor pressure (extended)", 9)
	def(0xA4, "transmission_gear", "Transmission actual gear", 4,
		code(1, 1, 4, 4, "transmission_gear", "Transmission actual gear", nil).sup(1),
		u16(2, "transmission_gear_ratio", "Transmission actual gear ratio", "ratio", 1, 1000, 0).sup(1))
	def(0xA5, "commanded_def_dosing", "Commanded diesel exhaust fluid dosing", 4,
		u8(1, "commanded_def_dosing", "Commanded diesel exhaust fluid dosing", "%", 1, 2, 0).sup(0))
	def(0xA6, "odometer", "Odometer", 4, u32(0, "odometer", "Odometer", "km", 1, 10, 0))

	// Guard the declarative table against typing slips: fields inside the
	// data, names unique.
	names := map[string]PID{}
	for _, d := range t {
		if d == nil {
			continue
		}
		for _, f := range d.Fields {
			if f.off+f.size > d.Length || f.shift+f.width() > uint(f.size)*8 || f.mul <= 0 || f.div <= 0 ||
				math.IsInf(f.Max, 0) {
				panic(fmt.Sprintf("obd: bad field %s of PID %s", f.Name, d.PID))
			}
			if p, dup := names[f.Name]; dup {
				panic(fmt.Sprintf("obd: field name %s used by PIDs %s and %s", f.Name, p, d.PID))
			}
			names[f.Name] = d.PID
		}
	}
	return &t
}
