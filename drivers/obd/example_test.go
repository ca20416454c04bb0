package obd_test

import (
	"fmt"

	"github.com/bayagent/bayagent/drivers/obd"
)

// One ECU's answer to a Mode 01 request for two PIDs, decoded into SI
// values, and its stored trouble codes (Mode 03) with their descriptions.
func Example() {
	// 41 0C 1A F8 0D 32: engine speed 0x1AF8/4 rpm, vehicle speed 0x32 km/h.
	data, order, err := obd.ParsePIDResponse([]byte{0x41, 0x0C, 0x1A, 0xF8, 0x0D, 0x32})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, pid := range order {
		vals, err := obd.DecodePID(pid, data[pid])
		if err != nil {
			fmt.Println(err)
			return
		}
		for _, v := range vals {
			fmt.Printf("%s %s: %g %s\n", pid, v.Name, v.Value, v.Unit)
		}
	}

	// 43 02 04 20 01 71: two stored codes on CAN (count, then two bytes each).
	dtcs, err := obd.ParseDTCs([]byte{0x43, 0x02, 0x04, 0x20, 0x01, 0x71})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, d := range dtcs {
		fmt.Printf("%s %s\n", d.Code, d.Description)
	}
	fmt.Println(obd.ValidateVIN("LFV2A21K8A4052691"))
	// Output:
	// 0C engine_speed: 1726 rpm
	// 0D vehicle_speed: 50 km/h
	// P0420 Catalyst System Efficiency Below Threshold (Bank 1)
	// P0171 System Too Lean (Bank 1)
	// <nil>
}
