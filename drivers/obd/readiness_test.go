package obd

import (
	"errors"
	"reflect"
	"testing"
)

func monitorCodes(st MonitorStatus) map[string]int {
	m := map[string]int{}
	for _, mon := range st.Monitors {
		m[mon.Name] = mon.Code
	}
	return m
}

func TestDecodeMonitorStatus(t *testing.T) {
	tests := []struct {
		name     string
		data     []byte
		mil      bool
		dtcs     int
		ignition string
		order    []string
		codes    map[string]int
	}{
		{
			name: "spark, MIL on, EVAP incomplete",
			data: []byte{0x81, 0x07, 0x65, 0x04}, mil: true, dtcs: 1, ignition: IgnitionSpark,
			order: []string{"misfire", "fuel_system", "components", "catalyst", "heated_catalyst", "evap", "secondary_air", "o2_sensor", "o2_heater", "egr_vvt"},
			codes: map[string]int{"misfire": 1, "fuel_system": 1, "components": 1, "catalyst": 1, "heated_catalyst": 0, "evap": 2,
				"secondary_air": 0, "o2_sensor": 1, "o2_heater": 1, "egr_vvt": 0},
		},
		{
			name: "spark, everything supported and incomplete",
			data: []byte{0x7F, 0x77, 0xFF, 0xFF}, dtcs: 127, ignition: IgnitionSpark,
			codes: map[string]int{"misfire": 2, "fuel_system": 2, "components": 2, "catalyst": 2, "heated_catalyst": 2, "evap": 2,
				"secondary_air": 2, "o2_sensor": 2, "o2_heater": 2, "egr_vvt": 2},
		},
		{
			name: "compression, PM filter and SCR incomplete",
			data: []byte{0x00, 0x0F, 0xEB, 0x42}, ignition: IgnitionCompression,
			order: []string{"misfire", "fuel_system", "components", "nmhc_catalyst", "nox_scr", "boost_pressure", "exhaust_gas_sensor", "pm_filter", "egr_vvt"},
			codes: map[string]int{"misfire": 1, "fuel_system": 1, "components": 1, "nmhc_catalyst": 1, "nox_scr": 2,
				"boost_pressure": 1, "exhaust_gas_sensor": 1, "pm_filter": 2, "egr_vvt": 1},
		},
		{
			name: "nothing supported, stray not-complete bits ignored",
			data: []byte{0x00, 0x70, 0x00, 0xFF}, ignition: IgnitionSpark,
			codes: map[string]int{"misfire": 0, "fuel_system": 0, "components": 0, "catalyst": 0, "heated_catalyst": 0, "evap": 0,
				"secondary_air": 0, "o2_sensor": 0, "o2_heater": 0, "egr_vvt": 0},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st, err := DecodeMonitorStatus(tc.data)
			if err != nil {
				t.Fatal(err)
			}
			if st.MIL != tc.mil || st.DTCCount != tc.dtcs || st.Ignition != tc.ignition {
				t.Errorf("got MIL %t DTCs %d ignition %s", st.MIL, st.DTCCount, st.Ignition)
			}
			if got := monitorCodes(st); !reflect.DeepEqual(got, tc.codes) || len(st.Monitors) != len(tc.codes) {
				t.Errorf("codes %v, want %v", got, tc.codes)
			}
			for i, name := range tc.order {
				if st.Monitors[i].Name != name {
					t.Errorf("monitor %d is %s, want %s", i, st.Monitors[i].Name, name)
				}
			}
			for _, m := range st.Monitors {
				if m.Label == "" || m.Supported != (m.Code != 0) || m.Complete != (m.Code == 1) {
					t.Errorf("inconsistent monitor %+v", m)
				}
			}
		})
	}
	for _, data := range [][]byte{nil, {1, 2, 3}} {
		if _, err := DecodeMonitorStatus(data); !errors.Is(err, ErrShortData) {
			t.Errorf("DecodeMonitorStatus(% X) = %v, want ErrShortData", data, err)
		}
	}
	if _, err := DecodeMonitorStatus([]byte{1, 2, 3, 4, 5}); !errors.Is(err, ErrLength) {
		t.Errorf("5 bytes: %v, want ErrLength", err)
	}
}

func TestEncodeMonitorStatus(t *testing.T) {
	for _, data := range [][]byte{{0x81, 0x07, 0x65, 0x04}, {0x7F, 0x77, 0xEF, 0xEF}, {0x00, 0x0F, 0xEB, 0x42}, {0, 0, 0, 0}, {0, 0x08, 0, 0}} {
		st, err := DecodeMonitorStatus(data)
		if err != nil {
			t.Fatal(err)
		}
		got, err := EncodeMonitorStatus(st)
		if err != nil {
			t.Fatalf("EncodeMonitorStatus(%+v): %v", st, err)
		}
		if !reflect.DeepEqual(got, data) {
			t.Errorf("round trip % X -> % X", data, got)
		}
	}
	// Given by Code only, or by Supported/Complete; unlisted = unsupported.
	got, err := EncodeMonitorStatus(MonitorStatus{Ignition: IgnitionCompression, DTCCount: 2, MIL: true, Monitors: []Monitor{
		{Name: "pm_filter", Code: MonitorNotComplete},
		{Name: "misfire", Supported: true, Complete: true},
		{Name: "nox_scr", Supported: true, Complete: true, Code: MonitorComplete},
		{Name: "egr_vvt", Code: MonitorNotSupported},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if want := []byte{0x82, 0x09, 0x42, 0x40}; !reflect.DeepEqual(got, want) {
		t.Errorf("EncodeMonitorStatus = % X, want % X", got, want)
	}
	bad := []MonitorStatus{
		{Ignition: "electric"},
		{Ignition: IgnitionSpark, DTCCount: 128},
		{Ignition: IgnitionSpark, DTCCount: -1},
		{Ignition: IgnitionSpark, Monitors: []Monitor{{Name: "pm_filter", Code: 1}}},
		{Ignition: IgnitionSpark, Monitors: []Monitor{{Name: "catalyst", Code: 1}, {Name: "catalyst", Code: 2}}},
		{Ignition: IgnitionSpark, Monitors: []Monitor{{Name: "catalyst", Code: 3}}},
		{Ignition: IgnitionSpark, Monitors: []Monitor{{Name: "catalyst", Complete: true}}},
		{Ignition: IgnitionSpark, Monitors: []Monitor{{Name: "catalyst", Supported: true, Code: MonitorComplete}}},
	}
	for _, st := range bad {
		if _, err := EncodeMonitorStatus(st); !errors.Is(err, ErrMonitorStatus) {
			t.Errorf("EncodeMonitorStatus(%+v) = %v, want ErrMonitorStatus", st, err)
		}
	}
}

func FuzzDecodeMonitorStatus(f *testing.F) {
	f.Add([]byte{0x81, 0x07, 0x65, 0x04})
	f.Add([]byte{0x00, 0x0F, 0xEB, 0x42})
	f.Add([]byte{0xFF, 0xFF, 0xFF, 0xFF})
	f.Add([]byte{0x00})
	f.Fuzz(func(t *testing.T, data []byte) {
		st, err := DecodeMonitorStatus(data)
		if err != nil {
			return
		}
		if n := len(st.Monitors); (st.Ignition == IgnitionSpark && n != 10) || (st.Ignition == IgnitionCompression && n != 9) {
			t.Fatalf("%s with %d monitors", st.Ignition, n)
		}
		enc, err := EncodeMonitorStatus(st)
		if err != nil {
			t.Fatalf("EncodeMonitorStatus(%+v): %v", st, err)
		}
		again, err := DecodeMonitorStatus(enc)
		if err != nil || !reflect.DeepEqual(again, st) {
			t.Fatalf("round trip %+v -> % X -> %+v, %v", st, enc, again, err)
		}
	})
}
