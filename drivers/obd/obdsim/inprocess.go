package obdsim

import (
	"context"
	"errors"
	"sync"

	"github.com/bayagent/bayagent/drivers/canbus"
)

// Start serves the vehicle on an in-process bus in the background. Every
// ECU's node is attached before Start returns, so a request sent afterwards
// is heard. stop ends the simulator, waits for it and returns the error that
// stopped it early, if any.
func (v *Vehicle) Start(ctx context.Context, bus *canbus.MemBus) (stop func() error) {
	nodes := make([]canbus.Conn, len(v.ecus))
	for i := range nodes {
		nodes[i] = bus.Connect()
	}
	var mu sync.Mutex
	open := func() (canbus.Conn, error) {
		mu.Lock()
		defer mu.Unlock()
		if len(nodes) == 0 {
			return bus.Connect(), nil
		}
		c := nodes[0]
		nodes = nodes[1:]
		return c, nil
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- v.ServeCAN(ctx, open) }()
	return func() error {
		cancel()
		err := <-done
		if errors.Is(err, context.Canceled) {
			return nil
		}
		return err
	}
}
