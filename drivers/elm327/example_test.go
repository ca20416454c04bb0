package elm327_test

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/bayagent/bayagent/drivers/elm327"
	"github.com/bayagent/bayagent/drivers/elm327/elmsim"
	"github.com/bayagent/bayagent/drivers/obd"
	"github.com/bayagent/bayagent/drivers/obd/obdsim"
)

// An adapter opened by its device path, as a USB dongle is on a box (here
// a simulated one on a pseudo-terminal), asked for the vehicle speed (the
// car stands in the bay): the answer comes back with the ECU's address.
func Example() {
	ctx := context.Background()
	p, err := obdsim.Load(filepath.Join("..", "..", "testdata", "vehicles", "petrol-p0420.yaml"))
	if err != nil {
		fmt.Println(err)
		return
	}
	sim, err := elmsim.New(p, elmsim.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	dev, stop, err := elmsim.ServePTY(ctx, sim)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer stop()

	a, err := elm327.Open(ctx, dev+"@38400", elm327.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer a.Close()
	fmt.Println(a.Version())
	resps, err := a.Do(ctx, obd.Request{Data: []byte{0x01, 0x0D}, Expect: []obd.ECU{0x7E8}})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, r := range resps {
		fmt.Printf("%s: % X\n", r.ECU, r.Data)
	}
	// Output:
	// ELM327 v1.5
	// 7E8: 41 0D 00
}
