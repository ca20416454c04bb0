package isotp

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/bayagent/bayagent/drivers/canbus"
	"github.com/bayagent/bayagent/drivers/obd"
)

// benchClient runs one zero-latency ECU and a Client on a MemBus and
// measures request round trips.
func benchClient(b *testing.B, req obd.Request, resp []byte) {
	bus := canbus.NewMemBus()
	ecu, tester := bus.Connect(), bus.Connect()
	defer ecu.Close()
	defer tester.Close()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		_ = Serve(ctx, ServerConfig{Conn: ecu, ECU: 0x7E8}, func([]byte, bool) ([]byte, bool) { return resp, true })
	})
	defer wg.Wait()
	defer cancel()
	// Expect makes Do return on the answer; the long P2 only keeps a
	// loaded machine (descheduled for tens of ms) from failing the run.
	c := NewClient(tester, Config{P2: 5 * time.Second})
	defer c.Close()
	b.ReportAllocs()
	for b.Loop() {
		resps, err := c.Do(ctx, req)
		if err != nil || len(resps) != 1 || len(resps[0].Data) != len(resp) {
			b.Fatalf("Do = %v, %v", resps, err)
		}
	}
	st := c.Stats()
	b.ReportMetric(float64(st.FramesSent+st.FramesReceived)/float64(st.Requests), "frames/op")
}

func BenchmarkClientSingleFrame(b *testing.B) {
	benchClient(b, obd.Request{Data: []byte{0x01, 0x0C}, Expect: []obd.ECU{0x7E8}}, []byte{0x41, 0x0C, 0x1A, 0xF8})
}

func BenchmarkClientVIN(b *testing.B) {
	benchClient(b, obd.Request{Data: []byte{0x09, 0x02}, Expect: []obd.ECU{0x7E8}}, vin)
}
