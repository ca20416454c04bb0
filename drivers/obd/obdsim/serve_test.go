package obdsim

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.einride.tech/can"

	"github.com/bayagent/bayagent/drivers/canbus"
	"github.com/bayagent/bayagent/drivers/isotp"
	"github.com/bayagent/bayagent/drivers/obd"
)

// guard bounds how long a test waits for something that should happen at
// once; reaching it means a deadlock.
const guard = 10 * time.Second

// trackedConn records whether ServeCAN closed it.
type trackedConn struct {
	canbus.Conn
	closed atomic.Bool
}

func (c *trackedConn) Close() error {
	c.closed.Store(true)
	return c.Conn.Close()
}

// served is a vehicle running ServeCAN on an in-process bus.
type served struct {
	bus    *canbus.MemBus
	cancel context.CancelFunc
	done   chan error
	conns  []*trackedConn
}

// serve starts v on a new bus and returns once every ECU has its node (the
// bus queues frames from then on, so requests cannot be missed).
func serve(t *testing.T, v *Vehicle) *served {
	t.Helper()
	s := &served{bus: canbus.NewMemBus(), done: make(chan error, 1)}
	ready := make(chan struct{})
	var mu sync.Mutex
	open := func() (canbus.Conn, error) {
		mu.Lock()
		defer mu.Unlock()
		c := &trackedConn{Conn: s.bus.Connect()}
		s.conns = append(s.conns, c)
		if len(s.conns) == len(v.ecus) {
			close(ready)
		}
		return c, nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	go func() { s.done <- v.ServeCAN(ctx, open) }()
	select {
	case <-ready:
	case err := <-s.done:
		t.Fatalf("ServeCAN returned early: %v", err)
	}
	t.Cleanup(func() { s.stop(t) })
	return s
}

// stop cancels ServeCAN, waits for it and checks that it closed every node.
func (s *served) stop(t *testing.T) {
	t.Helper()
	s.cancel()
	select {
	case err, ok := <-s.done:
		if ok && err != nil {
			t.Errorf("ServeCAN: %v", err)
		}
		if ok {
			close(s.done)
		}
	case <-time.After(guard):
		t.Fatal("ServeCAN did not return after its context ended")
	}
	for i, c := range s.conns {
		if !c.closed.Load() {
			t.Errorf("node %d not closed", i)
		}
	}
}

func client(t *testing.T, bus *canbus.MemBus, extended bool) *isotp.Client {
	t.Helper()
	conn := bus.Connect()
	// P2 is generous because every request names the ECUs it expects, so
	// Do returns as soon as they answered.
	c := isotp.NewClient(conn, isotp.Config{Extended: extended, P2: 2 * time.Second})
	t.Cleanup(func() {
		c.Close()
		conn.Close()
	})
	return c
}

func do(t *testing.T, c *isotp.Client, req obd.Request) map[obd.ECU][]byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	resps, err := c.Do(ctx, req)
	if err != nil {
		t.Fatalf("Do(% X to %s): %v", req.Data, req.To, err)
	}
	out := make(map[obd.ECU][]byte)
	for _, r := range resps {
		if _, dup := out[r.ECU]; dup {
			t.Errorf("%s answered twice", r.ECU)
		}
		out[r.ECU] = r.Data
	}
	return out
}

func checkAnswers(t *testing.T, got map[obd.ECU][]byte, want map[obd.ECU]string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%d ECUs answered, want %d: %X", len(got), len(want), got)
	}
	for ecu, w := range want {
		if !bytes.Equal(got[ecu], hx(t, w)) {
			t.Errorf("%s answered % X, want %s", ecu, got[ecu], w)
		}
	}
}

func TestServeCAN(t *testing.T) {
	v, err := New(loadProfile(t, "petrol-p0420"), Options{Latency: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	s := serve(t, v)
	c := client(t, s.bus, false)
	both := []obd.ECU{engine, tcm}

	t.Run("functional 0100 answered by both ECUs", func(t *testing.T) {
		got := do(t, c, obd.Request{Data: []byte{0x01, 0x00}, Expect: both})
		checkAnswers(t, got, map[obd.ECU]string{engine: "41 00 BE 3F B8 13", tcm: "41 00 80 08 00 01"})
	})
	t.Run("functional multi-PID", func(t *testing.T) {
		got := do(t, c, obd.Request{Data: []byte{0x01, 0x0C, 0x0D, 0x05}, Expect: both})
		checkAnswers(t, got, map[obd.ECU]string{engine: "41 0C 0C 30 0D 00 05 80", tcm: "41 0D 00"})
	})
	t.Run("VIN multi-frame, physical", func(t *testing.T) {
		got := do(t, c, obd.Request{Data: []byte{0x09, 0x02}, To: engine})
		vin, err := obd.ParseVIN(got[engine])
		if err != nil || vin != "LFV2A21K8A4052691" {
			t.Errorf("VIN %q, %v", vin, err)
		}
	})
	t.Run("VIN multi-frame, functional", func(t *testing.T) {
		got := do(t, c, obd.Request{Data: []byte{0x09, 0x02}, Expect: []obd.ECU{engine}})
		checkAnswers(t, got, map[obd.ECU]string{engine: "49 02 01 " + vinBytes})
	})
	t.Run("DTCs from both ECUs", func(t *testing.T) {
		got := do(t, c, obd.Request{Data: []byte{0x03}, Expect: both})
		checkAnswers(t, got, map[obd.ECU]string{engine: "43 02 04 20 01 71", tcm: "43 01 07 00"})
	})
	t.Run("negative response to a physical request", func(t *testing.T) {
		got := do(t, c, obd.Request{Data: []byte{0x22, 0xF1, 0x90}, To: tcm})
		checkAnswers(t, got, map[obd.ECU]string{tcm: "7F 22 11"})
	})
	t.Run("clear over the bus", func(t *testing.T) {
		checkAnswers(t, do(t, c, obd.Request{Data: []byte{0x04}, Expect: both}),
			map[obd.ECU]string{engine: "44", tcm: "44"})
		checkAnswers(t, do(t, c, obd.Request{Data: []byte{0x03}, Expect: both}),
			map[obd.ECU]string{engine: "43 00", tcm: "43 00"})
	})
}

func TestServeCAN29Bit(t *testing.T) {
	v, err := New(loadProfile(t, "petrol-29bit"), Options{Latency: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	s := serve(t, v)
	c := client(t, s.bus, true)
	got := do(t, c, obd.Request{Data: []byte{0x09, 0x02}, Expect: []obd.ECU{0x18DAF110}})
	if vin, err := obd.ParseVIN(got[0x18DAF110]); err != nil || vin != "LGBH52E00KY000117" {
		t.Errorf("VIN %q, %v", vin, err)
	}
	got = do(t, c, obd.Request{Data: []byte{0x01, 0x00}, Expect: []obd.ECU{0x18DAF110, 0x18DAF118}})
	if len(got) != 2 {
		t.Errorf("answers %X, want two", got)
	}
}

// TestServeCANFaultsShutdown stops ServeCAN while a faulty ECU is in the
// middle of an answer: it must return, with every server joined.
func TestServeCANFaultsShutdown(t *testing.T) {
	tests := []struct {
		name    string
		faults  Faults
		req     []byte
		wantErr error // nil: the tester copes with the fault
	}{
		{"drop frame", Faults{DropFrame: true}, []byte{0x09, 0x02}, isotp.ErrTimeoutCr},
		{"late consecutive frame", Faults{LateCF: Duration(time.Hour)}, []byte{0x09, 0x02}, isotp.ErrTimeoutCr},
		{"wrong sequence number", Faults{WrongSN: true}, []byte{0x09, 0x02}, isotp.ErrWrongSN},
		{"garbage", Faults{Garbage: true}, []byte{0x09, 0x02}, nil},
		{"flow control wait", Faults{FCWait: 3}, append([]byte{0x22}, make([]byte, 20)...), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := loadProfile(t, "petrol-p0420")
			p.ECUs[0].Faults = tt.faults
			v, err := New(p, Options{Latency: time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			s := serve(t, v)
			conn := s.bus.Connect()
			defer conn.Close()
			c := isotp.NewClient(conn, isotp.Config{P2: time.Second, NCr: 100 * time.Millisecond})
			defer c.Close()
			ctx, cancel := context.WithTimeout(context.Background(), guard)
			defer cancel()
			_, err = c.Do(ctx, obd.Request{Data: tt.req, To: engine})
			if tt.wantErr == nil && err != nil || !errors.Is(err, tt.wantErr) {
				t.Errorf("Do: %v, want %v", err, tt.wantErr)
			}
			// The faulty ECU may still be inside its answer (a late
			// frame is an hour away): stopping must not wait for it.
			s.stop(t)
		})
	}
}

// TestServeCANStopWhileWaitingForFlowControl stops ServeCAN while an ECU
// waits for the flow control of a multi-frame answer that nobody sends.
func TestServeCANStopWhileWaitingForFlowControl(t *testing.T) {
	v := newVehicle(t, "petrol-p0420")
	s := serve(t, v)
	raw := s.bus.Connect()
	defer raw.Close()
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	req := can.Frame{ID: 0x7DF, Length: 8, Data: can.Data{0x02, 0x09, 0x02, 0xAA, 0xAA, 0xAA, 0xAA, 0xAA}}
	if err := raw.Send(ctx, req); err != nil {
		t.Fatal(err)
	}
	for {
		f, err := raw.Receive(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if f.ID == uint32(engine) && f.Data[0]>>4 == 1 { // first frame of the VIN
			break
		}
	}
	s.stop(t)
}

// failingConn is a node whose receiver breaks at once.
type failingConn struct{ canbus.Conn }

var errBusOff = errors.New("bus off")

func (failingConn) Receive(context.Context) (can.Frame, error) { return can.Frame{}, errBusOff }

func TestServeCANServerErrorStopsAll(t *testing.T) {
	v := newVehicle(t, "petrol-p0420")
	bus := canbus.NewMemBus()
	n := 0
	open := func() (canbus.Conn, error) {
		n++
		if n == 2 {
			return failingConn{bus.Connect()}, nil
		}
		return bus.Connect(), nil
	}
	done := make(chan error, 1)
	go func() { done <- v.ServeCAN(context.Background(), open) }()
	select {
	case err := <-done:
		if !errors.Is(err, errBusOff) {
			t.Errorf("ServeCAN: %v, want bus off", err)
		}
	case <-time.After(guard):
		t.Fatal("ServeCAN did not stop after a server failed")
	}
}

func TestServeCANOpenError(t *testing.T) {
	v := newVehicle(t, "petrol-p0420")
	bus := canbus.NewMemBus()
	var first *trackedConn
	errNoIface := errors.New("no such interface")
	open := func() (canbus.Conn, error) {
		if first == nil {
			first = &trackedConn{Conn: bus.Connect()}
			return first, nil
		}
		return nil, errNoIface
	}
	err := v.ServeCAN(context.Background(), open)
	if !errors.Is(err, errNoIface) {
		t.Fatalf("ServeCAN: %v, want the open error", err)
	}
	if !first.closed.Load() {
		t.Error("the node opened before the failure was not closed")
	}
}
