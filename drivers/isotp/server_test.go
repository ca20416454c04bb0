package isotp

import (
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/bayagent/bayagent/drivers/canbus"
	"github.com/bayagent/bayagent/drivers/obd"
)

func TestServeBadECU(t *testing.T) {
	conn := canbus.NewMemBus().Connect()
	defer conn.Close()
	for _, ecu := range []obd.ECU{0, 0x7E0, 0x7DF, 0x18DB33F1} {
		err := Serve(t.Context(), ServerConfig{Conn: conn, ECU: ecu}, answers(nil))
		if !errors.Is(err, ErrBadAddress) {
			t.Errorf("Serve(%s) = %v, want ErrBadAddress", ecu, err)
		}
	}
}

func TestServeConnClosed(t *testing.T) {
	conn := canbus.NewMemBus().Connect()
	conn.Close()
	if err := Serve(t.Context(), ServerConfig{Conn: conn, ECU: 0x7E8}, answers(nil)); !errors.Is(err, canbus.ErrClosed) {
		t.Errorf("Serve = %v, want canbus.ErrClosed", err)
	}
}

// TestServeFunctionalFlag checks the handler's functional argument and that
// functional first frames are ignored.
func TestServeFunctionalFlag(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		bus := canbus.NewMemBus()
		var calls []bool
		startECU(t, bus, nil, ServerConfig{ECU: 0x7E8}, func(req []byte, functional bool) ([]byte, bool) {
			calls = append(calls, functional)
			return []byte{0x41, 0x00}, true
		})
		tester := bus.Connect()
		defer tester.Close()
		ctx := t.Context()
		for _, s := range []struct {
			id   uint32
			data string
		}{{0x7DF, "020100"}, {0x7E0, "020100"}, {0x7DF, "100A010203040506"}, {0x7E1, "020100"}} {
			if err := sendHex(ctx, tester, s.id, s.data); err != nil {
				t.Fatal(err)
			}
			synctest.Wait()
		}
		if len(calls) != 2 || calls[0] != true || calls[1] != false {
			t.Errorf("handler calls (functional) = %v, want [true false]", calls)
		}
	})
}

// TestServeAbandonsStalledRequest: a multi-frame request whose consecutive
// frames never come is dropped after N_Cr and the server keeps serving.
func TestServeAbandonsStalledRequest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		bus := canbus.NewMemBus()
		var got [][]byte
		startECU(t, bus, nil, ServerConfig{ECU: 0x7E8}, func(req []byte, _ bool) ([]byte, bool) {
			got = append(got, req)
			return nil, false
		})
		tester := bus.Connect()
		defer tester.Close()
		ctx := t.Context()
		if err := sendHex(ctx, tester, 0x7E0, "100A2E0102030405"); err != nil {
			t.Fatal(err)
		}
		if p, err := recvPDU(ctx, tester, 0x7E8); err != nil || p.Kind != FlowControlFrame {
			t.Fatalf("flow control = %+v, %v", p, err)
		}
		time.Sleep(DefaultNCr + time.Millisecond) // fake time: N_Cr passes
		if err := sendHex(ctx, tester, 0x7E0, "2106070809"); err != nil {
			t.Fatal(err)
		}
		if err := sendHex(ctx, tester, 0x7E0, "022E01"); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if len(got) != 1 || len(got[0]) != 2 {
			t.Errorf("requests = % X, want only the single frame", got)
		}
	})
}

// TestServeHonoursTesterFlowControl: the server waits on WAIT, gives up its
// answer on OVFLW or when no flow control comes (N_Bs), and keeps serving.
func TestServeHonoursTesterFlowControl(t *testing.T) {
	for _, tt := range []struct {
		name string
		fcs  []string // flow control frames the tester sends after the first frame
		cfs  int      // consecutive frames the server must send
	}{
		{"wait then continue", []string{"310000", "300000"}, 2},
		{"block size 1", []string{"300100", "300100"}, 2},
		{"overflow", []string{"320000"}, 0},
		{"silence", nil, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				bus := canbus.NewMemBus()
				rec := &recorder{}
				startECU(t, bus, rec, ServerConfig{ECU: 0x7E8},
					answers(map[string][]byte{"0902": vin, "0100": {0x41, 0x00, 1, 2, 3, 4}}))
				tester := bus.Connect()
				defer tester.Close()
				ctx := t.Context()
				if err := sendHex(ctx, tester, 0x7DF, "020902"); err != nil {
					t.Fatal(err)
				}
				if p, err := recvPDU(ctx, tester, 0x7E8); err != nil || p.Kind != FirstFrame {
					t.Fatalf("first frame = %+v, %v", p, err)
				}
				for _, fc := range tt.fcs {
					time.Sleep(100 * time.Millisecond) // fake time: a slow tester
					if err := sendHex(ctx, tester, 0x7E0, fc); err != nil {
						t.Fatal(err)
					}
					synctest.Wait()
				}
				time.Sleep(2 * DefaultNBs) // fake time: let N_Bs pass
				cfs := 0
				for _, s := range rec.from(0x7E8) {
					if kind(s.f) == ConsecutiveFrame {
						cfs++
					}
				}
				if cfs != tt.cfs {
					t.Errorf("server sent %d consecutive frames, want %d", cfs, tt.cfs)
				}
				// Still serving.
				if err := sendHex(ctx, tester, 0x7DF, "020100"); err != nil {
					t.Fatal(err)
				}
				for {
					p, err := recvPDU(ctx, tester, 0x7E8)
					if err != nil {
						t.Fatal(err)
					}
					if p.Kind == SingleFrame {
						break
					}
				}
			})
		})
	}
}
