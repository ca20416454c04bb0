package canbus_test

import (
	"context"
	"fmt"

	"go.einride.tech/can"

	"github.com/bayagent/bayagent/drivers/canbus"
)

// Two nodes on an in-process bus: what one sends, the other receives (a
// node never receives its own frames). The same code runs on a real
// interface with the address can:can0.
func Example() {
	ctx := context.Background()
	hub := &canbus.MemHub{}
	tester, err := canbus.Open(ctx, "mem:bay1", canbus.Options{Hub: hub})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer tester.Close()
	ecu, _ := canbus.Open(ctx, "mem:bay1", canbus.Options{Hub: hub})
	defer ecu.Close()

	// A functional OBD-II request: Mode 01 PID 0C (engine speed).
	req := can.Frame{ID: 0x7DF, Length: 8, Data: can.Data{0x02, 0x01, 0x0C, 0x55, 0x55, 0x55, 0x55, 0x55}}
	if err := tester.Send(ctx, req); err != nil {
		fmt.Println(err)
		return
	}
	f, err := ecu.Receive(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(f.String())
	// Output:
	// 7DF#02010C5555555555
}
