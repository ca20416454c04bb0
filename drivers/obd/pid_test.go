package obd

import (
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
)

func TestDecodePID(t *testing.T) {
	type want struct {
		name  string
		value float64
		unit  string
		text  string // substring; "" = not checked
	}
	tests := []struct {
		pid  PID
		data []byte
		want []want
	}{
		{0x0C, []byte{0x1A, 0xF8}, []want{{"engine_speed", 1726, "rpm", ""}}},
		{0x0D, []byte{0x32}, []want{{"vehicle_speed", 50, "km/h", ""}}},
		{0x05, []byte{0x7B}, []want{{"coolant_temperature", 83, "°C", ""}}},
		{0x04, []byte{0xFF}, []want{{"engine_load", 100, "%", ""}}},
		{0x06, []byte{0x80}, []want{{"stft_bank1", 0, "%", ""}}},
		{0x07, []byte{0x00}, []want{{"ltft_bank1", -100, "%", ""}}},
		{0x0E, []byte{0x00}, []want{{"timing_advance", -64, "°", ""}}},
		{0x10, []byte{0x01, 0xF4}, []want{{"maf_air_flow", 5, "g/s", ""}}},
		{0x14, []byte{0x5A, 0x80}, []want{{"o2_b1s1_voltage", 0.45, "V", ""}, {"o2_b1s1_stft", 0, "%", ""}}},
		{0x1B, []byte{0x00, 0xFF}, []want{{"o2_b2s4_voltage", 0, "V", ""}, {"o2_b2s4_stft", 99.21875, "%", "not used"}}},
		{0x1C, []byte{0x29}, []want{{"obd_standard", 41, "", "CN-OBD-6"}}},
		{0x1C, []byte{0x06}, []want{{"obd_standard", 6, "", "EOBD"}}},
		{0x1C, []byte{0x01}, []want{{"obd_standard", 1, "", "OBD-II as defined by CARB"}}},
		{0x1C, []byte{0x16}, []want{{"obd_standard", 22, "", "reserved"}}},
		{0x1C, []byte{0xFB}, []want{{"obd_standard", 251, "", "not available for assignment"}}},
		{0x03, []byte{0x02, 0x00}, []want{
			{"fuel_system_1_status", 2, "", "closed loop: using oxygen sensor"},
			{"fuel_system_2_status", 0, "", "not present"}}},
		{0x12, []byte{0x04}, []want{{"secondary_air_status", 4, "", "outside atmosphere"}}},
		{0x13, []byte{0x33}, []want{{"o2_sensors_present", 0x33, "", "B1S1, B1S2, B2S1, B2S2"}}},
		{0x1D, []byte{0x05}, []want{{"o2_sensors_present_4banks", 5, "", "B1S1, B2S1"}}},
		{0x1E, []byte{0x01}, []want{{"pto_status", 1, "", "active"}}},
		{0x1F, []byte{0x01, 0x00}, []want{{"run_time_since_start", 256, "s", ""}}},
		{0x21, []byte{0x00, 0x0A}, []want{{"distance_with_mil", 10, "km", ""}}},
		{0x30, []byte{0x03}, []want{{"warmups_since_clear", 3, "count", ""}}},
		{0x31, []byte{0x01, 0x2C}, []want{{"distance_since_clear", 300, "km", ""}}},
		{0x4D, []byte{0x00, 0x3C}, []want{{"time_with_mil", 60, "min", ""}}},
		{0x4E, []byte{0x01, 0x00}, []want{{"time_since_clear", 256, "min", ""}}},
		{0x24, []byte{0x80, 0x00, 0x80, 0x00}, []want{{"o2_b1s1_wr_lambda", 1, "ratio", ""}, {"o2_b1s1_wr_voltage", 4, "V", ""}}},
		{0x34, []byte{0x80, 0x00, 0x80, 0x00}, []want{{"o2_b1s1_wrc_lambda", 1, "ratio", ""}, {"o2_b1s1_wrc_current", 0, "mA", ""}}},
		{0x32, []byte{0xFF, 0xFC}, []want{{"evap_vapor_pressure", -1, "Pa", ""}}},
		{0x54, []byte{0x80, 0x00}, []want{{"evap_vapor_pressure_wide", -32768, "Pa", ""}}},
		{0x3C, []byte{0x0F, 0xA0}, []want{{"catalyst_temp_b1s1", 360, "°C", ""}}},
		{0x3D, []byte{0x0F, 0xA0}, []want{{"catalyst_temp_b2s1", 360, "°C", ""}}},
		{0x42, []byte{0x36, 0xB0}, []want{{"control_module_voltage", 14, "V", ""}}},
		{0x44, []byte{0x80, 0x00}, []want{{"commanded_lambda", 1, "ratio", ""}}},
		{0x4F, []byte{1, 2, 3, 4}, []want{
			{"max_lambda", 1, "ratio", ""}, {"max_o2_voltage", 2, "V", ""},
			{"max_o2_current", 3, "mA", ""}, {"max_intake_manifold_pressure", 40, "kPa", ""}}},
		{0x50, []byte{0x20, 0, 0, 0}, []want{{"max_maf_air_flow", 320, "g/s", ""}}},
		{0x51, []byte{0x04}, []want{{"fuel_type", 4, "", "diesel"}}},
		{0x55, []byte{0x80, 0x00}, []want{{"stft_secondary_bank1", 0, "%", ""}, {"stft_secondary_bank3", -100, "%", ""}}},
		{0x58, []byte{0x80, 0x80}, []want{{"ltft_secondary_bank2", 0, "%", ""}, {"ltft_secondary_bank4", 0, "%", ""}}},
		{0x5D, []byte{0x69, 0x00}, []want{{"fuel_injection_timing", 0, "°", ""}}},
		{0x5E, []byte{0x00, 0x64}, []want{{"engine_fuel_rate", 5, "L/h", ""}}},
		{0x5F, []byte{0x11}, []want{{"emission_requirements", 17, "", "EURO VI"}}},
		{0x63, []byte{0x01, 0x90}, []want{{"engine_reference_torque", 400, "N·m", ""}}},
		{0x64, []byte{0x7D, 0x7E, 0x7F, 0x80, 0xFF}, []want{
			{"engine_torque_idle", 0, "%", ""}, {"engine_torque_point1", 1, "%", ""}, {"engine_torque_point2", 2, "%", ""},
			{"engine_torque_point3", 3, "%", ""}, {"engine_torque_point4", 130, "%", ""}}},
		// Support byte: PTO and N/D supported; N/D status 0.
		{0x65, []byte{0x03, 0x01}, []want{{"pto_output_status", 1, "", "on"}, {"auto_trans_neutral_drive_status", 0, "", "park"}}},
		{0x65, []byte{0x10, 0x30}, []want{{"recommended_gear", 3, "", ""}}},
		{0x66, []byte{0x01, 0x00, 0x40, 0xFF, 0xFF}, []want{{"maf_sensor_a", 2, "g/s", ""}}},
		{0x66, []byte{0x02, 0xFF, 0xFF, 0x00, 0x20}, []want{{"maf_sensor_b", 1, "g/s", ""}}},
		{0x67, []byte{0x03, 0x7B, 0x28}, []want{{"coolant_temperature_1", 83, "°C", ""}, {"coolant_temperature_2", 0, "°C", ""}}},
		{0x6D, []byte{0x3F, 0x27, 0x10, 0x27, 0x0F, 0x50, 0, 1, 0, 2, 0x28}, []want{
			{"commanded_fuel_rail_pressure_a", 100000, "kPa", ""}, {"fuel_rail_pressure_a", 99990, "kPa", ""},
			{"fuel_rail_temperature_a", 40, "°C", ""}, {"commanded_fuel_rail_pressure_b", 10, "kPa", ""},
			{"fuel_rail_pressure_b", 20, "kPa", ""}, {"fuel_rail_temperature_b", 0, "°C", ""}}},
		{0x78, []byte{0x05, 0x0F, 0xA0, 0xFF, 0xFF, 0x1F, 0x40, 0, 0}, []want{
			{"egt_b1s1", 360, "°C", ""}, {"egt_b1s3", 760, "°C", ""}}},
		{0x7A, []byte{0x01, 0xFF, 0x9C, 0, 0, 0, 0}, []want{{"dpf_b1_delta_pressure", -1, "kPa", ""}}},
		{0x7D, []byte{0x01}, []want{{"nox_nte_status", 1, "", "inside NTE control area"}}},
		{0x7F, []byte{0x01, 0, 0, 0x0E, 0x10, 0, 0, 0, 0, 0, 0, 0, 0}, []want{{"engine_run_time_total", 3600, "s", ""}}},
		{0x81, append([]byte{0x10}, make([]byte, 40)...), []want{{"aecd5_timer1", 0, "s", ""}, {"aecd5_timer2", 0, "s", ""}}},
		{0x8E, []byte{0x7D}, []want{{"engine_friction_torque", 0, "%", ""}}},
		{0x9A, []byte{0x06, 0x00, 0x60, 0x00, 0xFF, 0xF6}, []want{
			{"hybrid_battery_voltage", 384, "V", ""}, {"hybrid_battery_current", -1, "A", ""}}},
		{0x9D, []byte{0x00, 0x32, 0x00, 0x64}, []want{{"engine_fuel_rate_mass", 1, "g/s", ""}, {"vehicle_fuel_rate_mass", 2, "g/s", ""}}},
		{0x9E, []byte{0x00, 0x05}, []want{{"exhaust_flow_rate", 1, "kg/h", ""}}},
		{0xA2, []byte{0x00, 0x40}, []want{{"cylinder_fuel_rate", 2, "mg/stroke", ""}}},
		{0xA4, []byte{0x02, 0x30, 0x0F, 0xA0}, []want{{"transmission_gear", 3, "", ""}, {"transmission_gear_ratio", 4, "ratio", ""}}},
		{0xA5, []byte{0x01, 0x64, 0, 0}, []want{{"commanded_def_dosing", 50, "%", ""}}},
		{0xA6, []byte{0x00, 0x01, 0xE2, 0x40}, []want{{"odometer", 12345.6, "km", ""}}},
		{0xA6, []byte{0xFF, 0xFF, 0xFF, 0xFF}, []want{{"odometer", 429496729.5, "km", ""}}},
		{0x02, []byte{0x01, 0x33}, []want{{"freeze_frame_dtc", 0x0133, "", "P0133"}}},
		{0x02, []byte{0xC1, 0x00}, []want{{"freeze_frame_dtc", 0xC100, "", "U0100"}}},
		{0x00, []byte{0xBE, 0x1F, 0xA8, 0x13}, []want{{"pids_supported_01_20", 17, "count", "01 03 04 05 06 07 0C 0D 0E 0F 10 11 13 15 1C 1F 20"}}},
		{0x01, []byte{0x81, 0x07, 0x65, 0x04}, []want{
			{"mil", 1, "", "on"}, {"dtc_count", 1, "count", ""}, {"ignition_type", 0, "", "spark"},
			{"readiness_misfire", 1, "", "complete"}, {"readiness_fuel_system", 1, "", ""}, {"readiness_components", 1, "", ""},
			{"readiness_catalyst", 1, "", ""}, {"readiness_heated_catalyst", 0, "", "not supported"}, {"readiness_evap", 2, "", "not complete"},
			{"readiness_secondary_air", 0, "", ""}, {"readiness_o2_sensor", 1, "", ""}, {"readiness_o2_heater", 1, "", ""},
			{"readiness_egr_vvt", 0, "", ""}}},
		{0x41, []byte{0x00, 0x08, 0x01, 0x01}, []want{
			{"drive_cycle_misfire", 0, "", ""}, {"drive_cycle_fuel_system", 0, "", ""}, {"drive_cycle_components", 0, "", ""},
			{"drive_cycle_nmhc_catalyst", 2, "", "not complete"}, {"drive_cycle_nox_scr", 0, "", ""},
			{"drive_cycle_boost_pressure", 0, "", ""}, {"drive_cycle_exhaust_gas_sensor", 0, "", ""},
			{"drive_cycle_pm_filter", 0, "", ""}, {"drive_cycle_egr_vvt", 0, "", ""}}},
		{0x88, []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 0xAB}, []want{{"scr_inducement_system", 0, "", "0102030405060708090A0B0CAB"}}},
	}
	for _, tc := range tests {
		t.Run(tc.pid.String(), func(t *testing.T) {
			got, err := DecodePID(tc.pid, tc.data)
			if err != nil {
				t.Fatalf("DecodePID(%s, % X): %v", tc.pid, tc.data, err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %d values %+v, want %d", len(got), got, len(tc.want))
			}
			for i, w := range tc.want {
				g := got[i]
				if g.Name != w.name || math.Abs(g.Value-w.value) > 1e-9 || g.Unit != w.unit || g.PID != tc.pid || g.Label == "" {
					t.Errorf("value %d = %+v, want name %s value %v unit %q", i, g, w.name, w.value, w.unit)
				}
				if w.text != "" && !strings.Contains(g.Text, w.text) {
					t.Errorf("value %d text %q, want it to contain %q", i, g.Text, w.text)
				}
			}
		})
	}
}

func TestDecodePIDErrors(t *testing.T) {
	tests := []struct {
		pid  PID
		data []byte
		want error
	}{
		{0x0C, []byte{0x1A}, ErrShortData},
		{0x0C, nil, ErrShortData},
		{0x0C, []byte{1, 2, 3}, ErrLength},
		{0x95, []byte{1}, ErrUnknownPID},
		{0xFF, nil, ErrUnknownPID},
		{0x01, []byte{1, 2, 3}, ErrShortData},
		{0x00, []byte{1, 2, 3, 4, 5}, ErrLength},
	}
	for _, tc := range tests {
		if _, err := DecodePID(tc.pid, tc.data); !errors.Is(err, tc.want) {
			t.Errorf("DecodePID(%s, % X) = %v, want %v", tc.pid, tc.data, err, tc.want)
		}
	}
}

// midValues returns a mid-range value for every field of d.
func midValues(d PIDDef) map[string]float64 {
	m := map[string]float64{}
	for _, f := range d.Fields {
		lo, hi := f.rawRange()
		m[f.Name] = f.phys((lo + hi) / 2)
	}
	return m
}

func TestEncodePIDRoundTrip(t *testing.T) {
	n := 0
	for _, pid := range PIDs() {
		d, _ := LookupPID(pid)
		if !d.Encodable() {
			continue
		}
		n++
		for _, probe := range []string{"mid", "min", "max"} {
			values := midValues(d)
			for _, f := range d.Fields {
				switch probe {
				case "min":
					values[f.Name] = f.Min
				case "max":
					values[f.Name] = f.Max
				}
			}
			data, err := EncodePID(pid, values)
			if err != nil {
				t.Fatalf("EncodePID(%s, %s): %v", pid, probe, err)
			}
			if len(data) != d.Length {
				t.Fatalf("EncodePID(%s) gave %d bytes, want %d", pid, len(data), d.Length)
			}
			got, err := DecodePID(pid, data)
			if err != nil {
				t.Fatalf("DecodePID(%s, % X): %v", pid, data, err)
			}
			if len(got) != len(d.Fields) {
				t.Fatalf("PID %s %s: decoded %d values, want %d (support bits not set?)", pid, probe, len(got), len(d.Fields))
			}
			for _, v := range got {
				if w := values[v.Name]; math.Abs(v.Value-w) > 1e-9*math.Max(1, math.Abs(w)) {
					t.Errorf("PID %s %s: %s = %v, encoded %v", pid, probe, v.Name, v.Value, w)
				}
			}
		}
	}
	if n < 100 {
		t.Errorf("only %d encodable PIDs", n)
	}
}

func TestEncodePIDSupportBits(t *testing.T) {
	// Only MAF sensor B given: sensor A stays unsupported.
	data, err := EncodePID(0x66, map[string]float64{"maf_sensor_b": 1, "engine_speed": 800})
	if err != nil {
		t.Fatal(err)
	}
	if want := []byte{0x02, 0, 0, 0x00, 0x20}; !slices.Equal(data, want) {
		t.Fatalf("EncodePID(66) = % X, want % X", data, want)
	}
	// 65: bit fields of one byte are OR-ed together.
	data, err = EncodePID(0x65, map[string]float64{"pto_output_status": 1, "recommended_gear": 5, "glow_plug_lamp_status": 1})
	if err != nil {
		t.Fatal(err)
	}
	if want := []byte{0x19, 0x59}; !slices.Equal(data, want) {
		t.Fatalf("EncodePID(65) = % X, want % X", data, want)
	}
}

func TestEncodePIDErrors(t *testing.T) {
	tests := []struct {
		pid    PID
		values map[string]float64
		want   error
		naming string
	}{
		{0x04, map[string]float64{}, ErrMissingValue, "engine_load"},
		{0x14, map[string]float64{"o2_b1s1_voltage": 0.5}, ErrMissingValue, "o2_b1s1_stft"},
		{0x04, map[string]float64{"engine_load": 101}, ErrValueRange, "engine_load"},
		{0x05, map[string]float64{"coolant_temperature": -41}, ErrValueRange, "coolant_temperature"},
		{0x0C, map[string]float64{"engine_speed": math.NaN()}, ErrValueRange, "engine_speed"},
		{0x32, map[string]float64{"evap_vapor_pressure": 8192}, ErrValueRange, "evap_vapor_pressure"},
		{0x01, map[string]float64{}, ErrNoEncoder, "01"},
		{0x00, map[string]float64{}, ErrNoEncoder, "00"},
		{0x88, map[string]float64{}, ErrNoEncoder, "88"},
		{0x95, map[string]float64{}, ErrUnknownPID, "95"},
	}
	for _, tc := range tests {
		_, err := EncodePID(tc.pid, tc.values)
		if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.naming) {
			t.Errorf("EncodePID(%s, %v) = %v, want %v naming %q", tc.pid, tc.values, err, tc.want, tc.naming)
		}
	}
}

func TestSupportedBitmaps(t *testing.T) {
	s, err := DecodeSupported(0x00, []byte{0xBE, 0x1F, 0xA8, 0x13})
	if err != nil {
		t.Fatal(err)
	}
	want := []PID{0x01, 0x03, 0x04, 0x05, 0x06, 0x07, 0x0C, 0x0D, 0x0E, 0x0F, 0x10, 0x11, 0x13, 0x15, 0x1C, 0x1F, 0x20}
	if got := s.List(); !slices.Equal(got, want) || s.Len() != len(want) {
		t.Fatalf("List = %v, want %v", got, want)
	}
	if !s.Has(0x0C) || s.Has(0x0B) {
		t.Error("Has wrong")
	}
	if got := EncodeSupported(0x00, append(want, 0x21, 0x00)); !slices.Equal(got, []byte{0xBE, 0x1F, 0xA8, 0x13}) {
		t.Errorf("EncodeSupported = % X", got)
	}
	s, err = DecodeSupported(0xE0, []byte{0x80, 0, 0, 0x01})
	if err != nil || !slices.Equal(s.List(), []PID{0xE1}) {
		t.Errorf("DecodeSupported(E0) = %v, %v; bit of PID 0x100 must be dropped", s.List(), err)
	}
	for _, tc := range []struct {
		base PID
		data []byte
		want error
	}{
		{0x01, []byte{0, 0, 0, 0}, ErrUnknownPID},
		{0x20, []byte{0, 0, 0}, ErrShortData},
		{0x20, []byte{0, 0, 0, 0, 0}, ErrLength},
	} {
		if _, err := DecodeSupported(tc.base, tc.data); !errors.Is(err, tc.want) {
			t.Errorf("DecodeSupported(%s, % X) = %v, want %v", tc.base, tc.data, err, tc.want)
		}
	}
	var set PIDSet
	for _, p := range []PID{0x0C, 0x0D, 0x42, 0xA6} {
		set.Add(p)
	}
	for _, tc := range []struct {
		base PID
		want []byte
	}{
		{0x00, []byte{0x00, 0x18, 0x00, 0x01}},
		{0x20, []byte{0x00, 0x00, 0x00, 0x01}},
		{0x40, []byte{0x40, 0x00, 0x00, 0x01}},
		{0xA0, []byte{0x04, 0x00, 0x00, 0x00}},
		{0xE0, []byte{0x00, 0x00, 0x00, 0x00}},
	} {
		if got := set.Bitmap(tc.base); !slices.Equal(got, tc.want) {
			t.Errorf("Bitmap(%s) = % X, want % X", tc.base, got, tc.want)
		}
	}
	var other PIDSet
	other.Add(0x05)
	other.Merge(set)
	if other.Len() != 5 || !other.Has(0x05) || !other.Has(0xA6) {
		t.Errorf("Merge: %v", other.List())
	}
}

func FuzzDecodePID(f *testing.F) {
	f.Add(byte(0x0C), []byte{0x1A, 0xF8})
	f.Add(byte(0x01), []byte{0x81, 0x07, 0x65, 0x04})
	f.Add(byte(0x00), []byte{0xBE, 0x1F, 0xA8, 0x13})
	f.Add(byte(0x65), []byte{0x1F, 0xFF})
	f.Add(byte(0x6D), []byte{0x3F, 0x27, 0x10, 0x27, 0x0F, 0x50, 0, 1, 0, 2, 0x28})
	f.Add(byte(0x7A), []byte{0x07, 0xFF, 0x9C, 0, 0, 0, 0})
	f.Add(byte(0xA6), []byte{0xFF, 0xFF, 0xFF, 0xFF})
	f.Add(byte(0x88), make([]byte, 13))
	f.Add(byte(0x95), []byte{1})
	f.Fuzz(func(t *testing.T, pid byte, data []byte) {
		vals, err := DecodePID(PID(pid), data)
		if err != nil {
			return
		}
		d, _ := LookupPID(PID(pid))
		m := map[string]float64{}
		for _, v := range vals {
			if v.Name == "" || v.Label == "" || math.IsNaN(v.Value) || math.IsInf(v.Value, 0) {
				t.Fatalf("bad value %+v", v)
			}
			if _, dup := m[v.Name]; dup {
				t.Fatalf("value name %s twice", v.Name)
			}
			m[v.Name] = v.Value
		}
		if !d.Encodable() {
			return
		}
		enc, err := EncodePID(PID(pid), m)
		if err != nil {
			t.Fatalf("EncodePID of decoded %v: %v", m, err)
		}
		again, err := DecodePID(PID(pid), enc)
		if err != nil {
			t.Fatalf("DecodePID(% X): %v", enc, err)
		}
		if !slices.Equal(again, vals) {
			t.Fatalf("round trip: %+v, want %+v", again, vals)
		}
	})
}

func BenchmarkDecodePID(b *testing.B) {
	for _, bc := range []struct {
		name string
		pid  PID
		data []byte
	}{
		{"0C_engine_speed", 0x0C, []byte{0x1A, 0xF8}},
		{"14_o2_sensor", 0x14, []byte{0x5A, 0x80}},
		{"1C_obd_standard", 0x1C, []byte{0x29}},
		{"01_monitor_status", 0x01, []byte{0x81, 0x07, 0x65, 0x04}},
		{"6D_fuel_pressure_control", 0x6D, []byte{0x3F, 0x27, 0x10, 0x27, 0x0F, 0x50, 0, 1, 0, 2, 0x28}},
		{"A6_odometer", 0xA6, []byte{0x00, 0x01, 0xE2, 0x40}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := DecodePID(bc.pid, bc.data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
