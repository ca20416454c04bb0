package isotp

import (
	"context"
	"testing"
	"testing/synctest"

	"github.com/bayagent/bayagent/drivers/canbus"
	"github.com/bayagent/bayagent/drivers/obd"
	"go.einride.tech/can"
)

// chanConn is a canbus.Conn whose received frames come from a channel
// unchecked, as from a driver that does not validate them.
type chanConn struct {
	in   chan can.Frame
	sent chan can.Frame
}

func (c chanConn) Send(ctx context.Context, f can.Frame) error {
	select {
	case c.sent <- f:
	default:
	}
	return nil
}

func (c chanConn) Receive(ctx context.Context) (can.Frame, error) {
	select {
	case f := <-c.in:
		return f, nil
	case <-ctx.Done():
		return can.Frame{}, ctx.Err()
	}
}

func (c chanConn) Close() error { return nil }

var _ canbus.Conn = chanConn{}

func invalidFrames(id uint32) []can.Frame {
	return []can.Frame{
		{ID: id},            // no data
		{ID: id, Length: 1}, // PCI 0x00
		{ID: id, Length: 12, Data: can.Data{0x10, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 1, 2}}, // DLC beyond 8, 4 GB first frame
		{ID: id, Length: 8, Data: can.Data{0x10, 0x00, 0, 0, 0, 0, 0, 0}},              // escape of zero length
		{ID: id, Length: 3, Data: can.Data{0x3F, 0xFF, 0xFF}},                          // reserved flow status
		{ID: id, Length: 8, Data: can.Data{0x2F, 1, 2, 3, 4, 5, 6, 7}},                 // stray CF
		{ID: id, IsRemote: true, Length: 8},
	}
}

func TestInvalidFramesNeverPanic(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// Server: garbage on the physical and functional ids, then a request.
		sc := chanConn{in: make(chan can.Frame, 32), sent: make(chan can.Frame, 32)}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		calls := 0
		go func() {
			done <- Serve(ctx, ServerConfig{Conn: sc, ECU: 0x7E8}, func([]byte, bool) ([]byte, bool) {
				calls++
				return []byte{0x41, 0x00, 1, 2, 3, 4}, true
			})
		}()
		for _, f := range append(invalidFrames(0x7E0), invalidFrames(0x7DF)...) {
			sc.in <- f
		}
		sc.in <- can.Frame{ID: 0x7DF, Length: 3, Data: can.Data{0x02, 0x01, 0x00}}
		synctest.Wait()
		if calls != 1 {
			t.Errorf("handler called %d times, want 1", calls)
		}
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve = %v", err)
		}

		// Client: garbage from the ECU, then its answer.
		cc := chanConn{in: make(chan can.Frame, 32), sent: make(chan can.Frame, 32)}
		c := NewClient(cc, Config{})
		defer c.Close()
		go func() {
			<-cc.sent // the request
			for _, f := range invalidFrames(0x7E8) {
				cc.in <- f
			}
			cc.in <- can.Frame{ID: 0x7E8, Length: 12, Data: can.Data{0x02, 0x41, 0x00}}
		}()
		// Discovery (no Expect): the overflow frame settles the ECU, yet
		// the answer that follows within P2 is still collected.
		resps, err := c.Do(t.Context(), obd.Request{Data: []byte{0x01, 0x00}})
		if err != nil || len(resps) != 1 || len(resps[0].Data) != 2 {
			t.Fatalf("Do = %v, %v", resps, err)
		}
		if st := c.Stats(); st.Malformed < 4 {
			t.Errorf("stats = %+v", st)
		}
	})
}
