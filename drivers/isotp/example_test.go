package isotp_test

import (
	"context"
	"fmt"

	"github.com/bayagent/bayagent/drivers/canbus"
	"github.com/bayagent/bayagent/drivers/isotp"
	"github.com/bayagent/bayagent/drivers/obd"
)

// A tester asks an ECU on an in-process bus for its VIN (Mode 09 PID 02):
// the 20-byte answer comes in a first frame and consecutive frames, which
// the client reassembles after sending its flow control.
func Example() {
	ctx, cancel := context.WithCancel(context.Background())
	bus := canbus.NewMemBus()
	vin := "LFV2A21K8A4052691"
	ecu := bus.Connect() // a simulated engine ECU, on the bus before the request
	served := make(chan error, 1)
	go func() {
		served <- isotp.Serve(ctx, isotp.ServerConfig{Conn: ecu, ECU: 0x7E8}, func(req []byte, _ bool) ([]byte, bool) {
			if len(req) == 2 && req[0] == 0x09 && req[1] == 0x02 {
				return append([]byte{0x49, 0x02, 0x01}, vin...), true
			}
			return nil, false
		})
	}()
	defer func() { cancel(); <-served }()

	c := isotp.NewClient(bus.Connect(), isotp.Config{})
	defer c.Close()
	resps, err := c.Do(ctx, obd.Request{Data: []byte{0x09, 0x02}, Expect: []obd.ECU{0x7E8}})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, r := range resps {
		fmt.Printf("%s: % X\n%s: %q\n", r.ECU, r.Data[:3], r.ECU, r.Data[3:])
	}
	// Output:
	// 7E8: 49 02 01
	// 7E8: "LFV2A21K8A4052691"
}
