package embedbroker

import (
	"sync"
	"testing"

	"github.com/bayagent/bayagent/agent/internal/mosquittotest"
)

// TestCloseWhileClientsLeave closes the broker while its clients are
// disconnecting, many times: with mochi-mqtt's own listener close this
// could deadlock (a read lock taken twice around a waiting Delete).
func TestCloseWhileClientsLeave(t *testing.T) {
	for range 20 {
		b, err := Start(Options{Plain: true})
		if err != nil {
			t.Fatal(err)
		}
		var clients []func()
		for range 8 {
			c := mosquittotest.Connect(t, mosquittotest.ClientOptions(b.PlainURL(), nil).SetAutoReconnect(false))
			clients = append(clients, func() { c.Disconnect(0) })
		}
		var wg sync.WaitGroup
		for _, leave := range clients {
			wg.Go(leave)
		}
		b.Close() // the test's timeout catches a deadlock
		wg.Wait()
	}
}
