package canbus

import (
	"context"
	"testing"

	"go.einride.tech/can"
)

func TestMemConn(t *testing.T) {
	runConnSuite(t, func(t *testing.T) (Conn, Conn) {
		b := NewMemBus()
		return b.Connect(), b.Connect()
	})
}

func TestMemDeliversToEveryOtherNode(t *testing.T) {
	b := NewMemBus()
	a, c1, c2 := b.Connect(), b.Connect(), b.Connect()
	defer a.Close()
	defer c1.Close()
	defer c2.Close()
	f := can.Frame{ID: 0x7E8, Length: 2, Data: can.Data{1, 2}}
	sendAll(t, a, f)
	for i, c := range []Conn{c1, c2} {
		if got := receiveOne(t, c); got != f {
			t.Errorf("node %d got %v, want %v", i, got, f)
		}
	}
}

func TestMemHubSeparatesBuses(t *testing.T) {
	var h MemHub
	if h.Bus("bay1") != h.Bus("bay1") {
		t.Fatal("same name gave two buses")
	}
	ctx := t.Context()
	a, err := Open(ctx, "mem:bay1", Options{Hub: &h})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	x, err := Open(ctx, "mem:bay2", Options{Hub: &h})
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	y, err := Open(ctx, "mem:bay2", Options{Hub: &h})
	if err != nil {
		t.Fatal(err)
	}
	defer y.Close()
	onBay1 := can.Frame{ID: 1}
	onBay2 := can.Frame{ID: 2}
	sendAll(t, a, onBay1)
	sendAll(t, y, onBay2)
	if got := receiveOne(t, x); got != onBay2 {
		t.Fatalf("bay2 node got %v, want %v (a frame from bay1 leaked?)", got, onBay2)
	}
}

func TestMemOverrunDropsOldest(t *testing.T) {
	b := NewMemBus()
	tx, rx := b.Connect(), b.Connect()
	defer tx.Close()
	defer rx.Close()
	const extra = 10
	for i := range rxQueueLen + extra {
		f := can.Frame{ID: 0x18DAF110, IsExtended: true, Length: 4}
		f.Data.SetUnsignedBitsLittleEndian(0, 32, uint64(i))
		sendAll(t, tx, f)
	}
	if got := rx.Overruns(); got != extra {
		t.Fatalf("Overruns() = %d, want %d", got, extra)
	}
	if got := tx.Overruns(); got != 0 {
		t.Fatalf("sender Overruns() = %d, want 0", got)
	}
	for i := extra; i < rxQueueLen+extra; i++ {
		f := receiveOne(t, rx)
		if n := f.Data.UnsignedBitsLittleEndian(0, 32); n != uint64(i) {
			t.Fatalf("got frame %d, want %d: oldest frames must go first", n, i)
		}
	}
}

func BenchmarkMemBusRoundTrip(b *testing.B) {
	bus := NewMemBus()
	tester, ecu := bus.Connect(), bus.Connect()
	defer tester.Close()
	defer ecu.Close()
	ctx := context.Background()
	done := make(chan struct{})
	go func() { // the ECU echoes every request as a response
		defer close(done)
		for {
			f, err := ecu.Receive(ctx)
			if err != nil {
				return
			}
			f.ID += 8
			if err := ecu.Send(ctx, f); err != nil {
				return
			}
		}
	}()
	req := can.Frame{ID: 0x7E0, Length: 8, Data: can.Data{0x02, 0x01, 0x0C}}
	b.ReportAllocs()
	for b.Loop() {
		if err := tester.Send(ctx, req); err != nil {
			b.Fatal(err)
		}
		if _, err := tester.Receive(ctx); err != nil {
			b.Fatal(err)
		}
	}
	ecu.Close()
	<-done
}
