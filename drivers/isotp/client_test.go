package isotp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/bayagent/bayagent/drivers/canbus"
	"github.com/bayagent/bayagent/drivers/internal/ctxtime"
	"github.com/bayagent/bayagent/drivers/obd"
)

var vin = []byte("\x49\x02\x011G1JC5444R7252367") // Mode 09 PID 02 answer, 20 bytes

func TestSingleFrameExpectReturnsEarly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		bus := canbus.NewMemBus()
		rec := &recorder{}
		startECU(t, bus, rec, ServerConfig{ECU: 0x7E8, Latency: 20 * time.Millisecond},
			answers(map[string][]byte{"0100": {0x41, 0x00, 0xBE, 0x3F, 0xA8, 0x13}}))
		c := newClient(t, bus, rec, Config{P2: 10 * time.Second})
		start := time.Now()
		resps, err := c.Do(t.Context(), obd.Request{Data: []byte{0x01, 0x00}, Expect: []obd.ECU{0x7E8}})
		if err != nil {
			t.Fatal(err)
		}
		if elapsed := time.Since(start); elapsed != 20*time.Millisecond {
			t.Errorf("Do took %v, want the ECU latency 20ms (P2 is 10s)", elapsed)
		}
		if len(resps) != 1 || resps[0].ECU != 0x7E8 || !bytes.Equal(resps[0].Data, []byte{0x41, 0x00, 0xBE, 0x3F, 0xA8, 0x13}) {
			t.Errorf("responses = %+v", resps)
		}
		req := rec.from(0x7DF)
		if len(req) != 1 || req[0].f.String() != "7DF#020100AAAAAAAAAA" {
			t.Errorf("request frames = %v", req)
		}
		if resp := rec.from(0x7E8); len(resp) != 1 || resp[0].f.Length != 8 {
			t.Errorf("response frames = %v, want one padded frame", resp)
		}
		st := c.Stats()
		if st.Requests != 1 || st.FramesSent != 1 || st.FramesReceived != 1 {
			t.Errorf("stats = %+v", st)
		}
	})
}

func TestEmptyExpectWaitsP2(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		bus := canbus.NewMemBus()
		startECU(t, bus, nil, ServerConfig{ECU: 0x7E8, Latency: 5 * time.Millisecond},
			answers(map[string][]byte{"0100": {0x41, 0x00, 1, 2, 3, 4}}))
		c := newClient(t, bus, nil, Config{})
		start := time.Now()
		resps, err := c.Do(t.Context(), obd.Request{Data: []byte{0x01, 0x00}})
		if err != nil {
			t.Fatal(err)
		}
		if elapsed := time.Since(start); elapsed != DefaultP2 {
			t.Errorf("Do took %v, want P2 = %v", elapsed, DefaultP2)
		}
		if len(resps) != 1 {
			t.Errorf("responses = %+v", resps)
		}
	})
}

func TestMultiFrame(t *testing.T) {
	tests := []struct {
		name string
		req  obd.Request
		resp []byte
		cfg  Config
	}{
		{"VIN functional", obd.Request{Data: []byte{0x09, 0x02}, Expect: []obd.ECU{0x7E8}}, vin, Config{}},
		{"VIN physical", obd.Request{Data: []byte{0x09, 0x02}, To: 0x7E8}, vin, Config{}},
		{"4095 bytes", obd.Request{Data: []byte{0x09, 0x02}, To: 0x7E8}, payload(0x09, 4095, 1), Config{}},
		{"4095 bytes BS 8 STmin 100us", obd.Request{Data: []byte{0x09, 0x02}, To: 0x7E8}, payload(0x09, 4095, 2),
			Config{BlockSize: 8, STmin: 0xF1}},
		{"8 bytes", obd.Request{Data: []byte{0x09, 0x02}, To: 0x7E8}, payload(0x09, 8, 3), Config{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				bus := canbus.NewMemBus()
				startECU(t, bus, nil, ServerConfig{ECU: 0x7E8}, answers(map[string][]byte{"0902": tt.resp}))
				c := newClient(t, bus, nil, tt.cfg)
				resps, err := c.Do(t.Context(), tt.req)
				if err != nil {
					t.Fatal(err)
				}
				if len(resps) != 1 || resps[0].ECU != 0x7E8 || !bytes.Equal(resps[0].Data, tt.resp) {
					t.Fatalf("got %d responses, want one of %d bytes", len(resps), len(tt.resp))
				}
			})
		})
	}
}

// TestFunctionalSeveralECUs has 2 or 3 ECUs answer one functional request
// with multi-frame answers sent at the same time.
func TestFunctionalSeveralECUs(t *testing.T) {
	for _, tt := range []struct {
		name   string
		ext    bool
		ecus   []obd.ECU
		expect bool
	}{
		{"two ECUs 11-bit, discovery", false, []obd.ECU{0x7E8, 0x7E9}, false},
		{"three ECUs 11-bit, expected", false, []obd.ECU{0x7E8, 0x7EA, 0x7EF}, true},
		{"two ECUs 29-bit, expected", true, []obd.ECU{0x18DAF110, 0x18DAF118}, true},
		{"three ECUs 29-bit, discovery", true, []obd.ECU{0x18DAF110, 0x18DAF118, 0x18DAF11A}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				bus := canbus.NewMemBus()
				rec := &recorder{}
				want := map[obd.ECU][]byte{}
				for i, e := range tt.ecus {
					want[e] = payload(0x09, 30+i*9, byte(i))
					startECU(t, bus, rec, ServerConfig{ECU: e}, answers(map[string][]byte{"0904": want[e]}))
				}
				c := newClient(t, bus, rec, Config{Extended: tt.ext, STmin: 2})
				req := obd.Request{Data: []byte{0x09, 0x04}}
				if tt.expect {
					req.Expect = tt.ecus
				}
				start := time.Now()
				resps, err := c.Do(t.Context(), req)
				if err != nil {
					t.Fatal(err)
				}
				elapsed := time.Since(start)
				if tt.expect && elapsed >= DefaultP2 {
					t.Errorf("Do took %v with every ECU expected", elapsed)
				}
				if !tt.expect && elapsed != DefaultP2 {
					t.Errorf("discovery took %v, want P2", elapsed)
				}
				got := byECU(resps)
				if len(resps) != len(tt.ecus) {
					t.Errorf("got %d responses, want %d", len(resps), len(tt.ecus))
				}
				for e, w := range want {
					if !bytes.Equal(got[e], w) {
						t.Errorf("ECU %s: got % X, want % X", e, got[e], w)
					}
				}
				// Each ECU got exactly one flow control, on its own physical id.
				fid := Functional11
				if tt.ext {
					fid = Functional29
				}
				for _, s := range rec.all() {
					if s.node != "tester" || s.f.ID == fid {
						continue
					}
					if kind(s.f) != FlowControlFrame {
						t.Errorf("tester sent %v", s.f)
					}
				}
				for _, e := range tt.ecus {
					id, ext, _ := RequestID(e)
					if fcs := rec.from(id); len(fcs) != 1 || fcs[0].f.IsExtended != ext || kind(fcs[0].f) != FlowControlFrame {
						t.Errorf("flow control to %X: %v", id, fcs)
					}
				}
				// The answers were interleaved on the bus: the first ECU's
				// last frame comes after every other ECU's first frame.
				all := rec.all()
				last := map[uint32]int{}
				first := map[uint32]int{}
				for i, s := range all {
					if _, ok := first[s.f.ID]; !ok {
						first[s.f.ID] = i
					}
					last[s.f.ID] = i
				}
				for _, e := range tt.ecus[1:] {
					if last[uint32(tt.ecus[0])] < first[uint32(e)] {
						t.Errorf("answers of %s and %s not interleaved", tt.ecus[0], e)
					}
				}
			})
		})
	}
}

// TestClientFlowControlRespected checks that the server sends at most
// BlockSize frames per flow control, STmin apart.
func TestClientFlowControlRespected(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		bus := canbus.NewMemBus()
		rec := &recorder{}
		resp := payload(0x09, 55, 0) // FF + 7 CFs
		startECU(t, bus, rec, ServerConfig{ECU: 0x7E8}, answers(map[string][]byte{"0902": resp}))
		c := newClient(t, bus, rec, Config{BlockSize: 2, STmin: 5})
		resps, err := c.Do(t.Context(), obd.Request{Data: []byte{0x09, 0x02}, To: 0x7E8})
		if err != nil || !bytes.Equal(resps[0].Data, resp) {
			t.Fatalf("Do = %v, %v", resps, err)
		}
		checkFlow(t, rec.all(), "7E8", "tester", 2, 5*time.Millisecond, 7)
	})
}

// TestServerFlowControlRespected checks the same for a multi-frame request
// sent by the client to a server with BS 3 and STmin 500 µs.
func TestServerFlowControlRespected(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		bus := canbus.NewMemBus()
		rec := &recorder{}
		req := payload(0x2E, 60, 0)[:60] // FF + 8 CFs
		req[0] = 0x2E
		var got []byte
		startECU(t, bus, rec, ServerConfig{ECU: 0x7E8, BlockSize: 3, STmin: 0xF5}, func(r []byte, functional bool) ([]byte, bool) {
			got = r
			return []byte{0x6E, 0xF1, 0x90}, !functional
		})
		c := newClient(t, bus, rec, Config{})
		resps, err := c.Do(t.Context(), obd.Request{Data: req, To: 0x7E8})
		if err != nil || len(resps) != 1 || resps[0].Data[0] != 0x6E {
			t.Fatalf("Do = %v, %v", resps, err)
		}
		if !bytes.Equal(got, req) {
			t.Errorf("server got % X, want % X", got, req)
		}
		checkFlow(t, rec.all(), "tester", "7E8", 3, 500*time.Microsecond, 8)
	})
}

// checkFlow verifies, in the recorded frames, that sender sent its
// consecutive frames in blocks of at most bs after each flow control from
// receiver, at least stmin apart within a block.
func checkFlow(t *testing.T, frames []sentFrame, sender, receiver string, bs int, stmin time.Duration, wantCF int) {
	t.Helper()
	inBlock, cfs, fcs := -1, 0, 0
	var prev time.Time
	for _, s := range frames {
		switch {
		case s.node == receiver && kind(s.f) == FlowControlFrame:
			fcs++
			inBlock = 0
		case s.node == sender && kind(s.f) == ConsecutiveFrame:
			cfs++
			if inBlock < 0 || inBlock >= bs {
				t.Fatalf("CF %d sent without flow control (block of %d)", cfs, inBlock)
			}
			if inBlock > 0 && s.at.Sub(prev) < stmin {
				t.Errorf("CF %d sent %v after the previous one, STmin %v", cfs, s.at.Sub(prev), stmin)
			}
			inBlock++
			prev = s.at
		}
	}
	if cfs != wantCF || fcs != (wantCF+bs-1)/bs {
		t.Errorf("%d consecutive frames, %d flow controls; want %d and %d", cfs, fcs, wantCF, (wantCF+bs-1)/bs)
	}
}

func TestFlowControlWait(t *testing.T) {
	for _, tt := range []struct {
		waits, max int
		err        error
	}{
		{3, 0, nil},
		{10, 0, nil},
		{11, 0, ErrTooManyWaits},
		{2, 1, ErrTooManyWaits},
	} {
		t.Run(fmt.Sprintf("%d waits max %d", tt.waits, tt.max), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				bus := canbus.NewMemBus()
				startECU(t, bus, nil, ServerConfig{ECU: 0x7E9, Faults: Faults{FCWait: tt.waits}},
					func([]byte, bool) ([]byte, bool) { return []byte{0x6E, 0x01}, true })
				c := newClient(t, bus, nil, Config{MaxWait: tt.max})
				req := payload(0x2E, 20, 0)
				req[0] = 0x2E // a request of service 2E, answered by 6E
				_, err := c.Do(t.Context(), obd.Request{Data: req, To: 0x7E9})
				if !errors.Is(err, tt.err) {
					t.Fatalf("Do err = %v, want %v", err, tt.err)
				}
			})
		})
	}
}

// TestSendFlowControlErrors scripts an ECU that answers a multi-frame
// request with OVFLW, or not at all (N_Bs).
func TestSendFlowControlErrors(t *testing.T) {
	for _, tt := range []struct {
		name string
		fc   string // "" for silence
		err  error
	}{
		{"overflow", "32000000", ErrFlowOverflow},
		{"no flow control", "", ErrTimeoutBs},
		{"reserved flow status", "3F0000", ErrTimeoutBs},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				bus := canbus.NewMemBus()
				script(t, bus, func(ctx context.Context, c canbus.Conn) {
					p, err := recvPDU(ctx, c, 0x7E0)
					if err != nil || p.Kind != FirstFrame {
						return
					}
					if tt.fc != "" {
						_ = sendHex(ctx, c, 0x7E8, tt.fc)
					}
				})
				c := newClient(t, bus, nil, Config{})
				start := time.Now()
				_, err := c.Do(t.Context(), obd.Request{Data: payload(0x2E, 20, 0), To: 0x7E8})
				if !errors.Is(err, tt.err) {
					t.Fatalf("Do err = %v, want %v", err, tt.err)
				}
				if errors.Is(err, ErrTimeoutBs) && time.Since(start) != DefaultNBs {
					t.Errorf("timed out after %v, want N_Bs %v", time.Since(start), DefaultNBs)
				}
			})
		})
	}
}

// TestReceiveErrors covers faults in an ECU's multi-frame answer.
func TestReceiveErrors(t *testing.T) {
	for _, tt := range []struct {
		name   string
		faults Faults
		resp   []byte
		cfg    Config
		err    error
		after  time.Duration // how long Do must take
	}{
		{"wrong SN", Faults{WrongSN: true}, vin, Config{}, ErrWrongSN, 0},
		{"wrong SN long answer", Faults{WrongSN: true}, payload(0x09, 100, 0), Config{}, ErrWrongSN, 0},
		{"dropped CF", Faults{DropFrame: true}, vin, Config{}, ErrTimeoutCr, DefaultNCr},
		{"dropped CF long answer", Faults{DropFrame: true}, payload(0x09, 100, 0), Config{NCr: 200 * time.Millisecond},
			ErrTimeoutCr, 200 * time.Millisecond},
		{"late CF", Faults{LateCF: 300 * time.Millisecond}, vin, Config{NCr: 250 * time.Millisecond}, ErrTimeoutCr,
			250 * time.Millisecond},
		{"overflow", Faults{}, payload(0x09, 5000, 0), Config{}, ErrOverflow, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				bus := canbus.NewMemBus()
				rec := &recorder{}
				startECU(t, bus, rec, ServerConfig{ECU: 0x7E8, Faults: tt.faults}, answers(map[string][]byte{"0902": tt.resp}))
				c := newClient(t, bus, rec, tt.cfg)
				start := time.Now()
				resps, err := c.Do(t.Context(), obd.Request{Data: []byte{0x09, 0x02}, To: 0x7E8})
				if !errors.Is(err, tt.err) || !errors.Is(err, obd.ErrNoResponse) {
					t.Fatalf("Do = %v, %v; want %v", resps, err, tt.err)
				}
				if d := time.Since(start); d != tt.after {
					t.Errorf("Do took %v, want %v", d, tt.after)
				}
				if tt.err == ErrOverflow {
					var fc []sentFrame
					for _, s := range rec.from(0x7E0) {
						if kind(s.f) == FlowControlFrame {
							fc = append(fc, s)
						}
					}
					if len(fc) != 1 || fc[0].f.String() != "7E0#320000AAAAAAAAAA" {
						t.Errorf("flow control = %v, want one OVFLW", fc)
					}
				}
				st := c.Stats()
				if tt.err == ErrTimeoutCr && st.Timeouts != 1 {
					t.Errorf("Timeouts = %d", st.Timeouts)
				}
				if tt.err == ErrWrongSN && st.Malformed == 0 {
					t.Errorf("Malformed = 0")
				}
			})
		})
	}
}

// TestLateCFWithinNCr: a slow but timely ECU is fine.
func TestLateCFWithinNCr(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		bus := canbus.NewMemBus()
		resp := payload(0x09, 40, 0) // FF + 5 CF
		startECU(t, bus, nil, ServerConfig{ECU: 0x7E8, Faults: Faults{LateCF: 200 * time.Millisecond}},
			answers(map[string][]byte{"0902": resp}))
		c := newClient(t, bus, nil, Config{NCr: 250 * time.Millisecond})
		start := time.Now()
		resps, err := c.Do(t.Context(), obd.Request{Data: []byte{0x09, 0x02}, To: 0x7E8})
		if err != nil || !bytes.Equal(resps[0].Data, resp) {
			t.Fatalf("Do = %v, %v", resps, err)
		}
		if d := time.Since(start); d != 800*time.Millisecond {
			t.Errorf("Do took %v, want 4 late frames = 800ms", d)
		}
	})
}

// TestFailedECUDoesNotHideOthers: one ECU's broken answer does not stop
// another's from being returned.
func TestFailedECUDoesNotHideOthers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		bus := canbus.NewMemBus()
		startECU(t, bus, nil, ServerConfig{ECU: 0x7E8, Faults: Faults{DropFrame: true}}, answers(map[string][]byte{"0902": vin}))
		startECU(t, bus, nil, ServerConfig{ECU: 0x7E9}, answers(map[string][]byte{"0902": vin}))
		c := newClient(t, bus, nil, Config{NCr: 100 * time.Millisecond})
		resps, err := c.Do(t.Context(), obd.Request{Data: []byte{0x09, 0x02}, Expect: []obd.ECU{0x7E8, 0x7E9}})
		if err != nil || len(resps) != 1 || resps[0].ECU != 0x7E9 {
			t.Fatalf("Do = %v, %v", resps, err)
		}
		if c.Stats().Timeouts != 1 {
			t.Errorf("stats = %+v", c.Stats())
		}
	})
}

func TestResponsePending(t *testing.T) {
	for _, tt := range []struct {
		name  string
		final string        // "" for none
		delay time.Duration // pending to final
		want  []byte
		err   error
		took  time.Duration
	}{
		{"final after 2s", "0441000000", 2 * time.Second, []byte{0x41, 0, 0, 0}, nil, 2*time.Second + 10*time.Millisecond},
		{"final multi-frame", "1008410001020304", time.Second, nil, nil, time.Second + 10*time.Millisecond},
		{"never", "", 0, nil, ErrTimeoutP2Star, DefaultP2Star + 10*time.Millisecond},
		{"other NRC is an answer", "037F0111", 0, []byte{0x7F, 0x01, 0x11}, nil, 10 * time.Millisecond},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				bus := canbus.NewMemBus()
				script(t, bus, func(ctx context.Context, c canbus.Conn) {
					if _, err := recvPDU(ctx, c, 0x7DF); err != nil {
						return
					}
					_ = ctxtime.Sleep(ctx, 10*time.Millisecond)
					if tt.final == "037F0111" {
						_ = sendHex(ctx, c, 0x7E8, tt.final)
						return
					}
					_ = sendHex(ctx, c, 0x7E8, "037F0178AAAAAAAA")
					if tt.final == "" || ctxtime.Sleep(ctx, tt.delay) != nil {
						return
					}
					_ = sendHex(ctx, c, 0x7E8, tt.final)
					if tt.final[0] == '1' { // multi-frame: wait for FC, then the CF
						if _, err := recvPDU(ctx, c, 0x7E0); err == nil {
							_ = sendHex(ctx, c, 0x7E8, "210506")
						}
					}
				})
				c := newClient(t, bus, nil, Config{})
				start := time.Now()
				resps, err := c.Do(t.Context(), obd.Request{Data: []byte{0x01, 0x00}, Expect: []obd.ECU{0x7E8}})
				if !errors.Is(err, tt.err) {
					t.Fatalf("Do err = %v, want %v", err, tt.err)
				}
				if d := time.Since(start); d != tt.took {
					t.Errorf("Do took %v, want %v", d, tt.took)
				}
				if tt.err != nil {
					return
				}
				if len(resps) != 1 {
					t.Fatalf("responses = %+v, want only the final one", resps)
				}
				if tt.want != nil && !bytes.Equal(resps[0].Data, tt.want) {
					t.Errorf("response = % X, want % X", resps[0].Data, tt.want)
				}
			})
		})
	}
}

func TestPhysical29Bit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		bus := canbus.NewMemBus()
		rec := &recorder{}
		startECU(t, bus, rec, ServerConfig{ECU: 0x18DAF110}, answers(map[string][]byte{"0902": vin}))
		startECU(t, bus, rec, ServerConfig{ECU: 0x18DAF118}, answers(map[string][]byte{"0902": vin}))
		c := newClient(t, bus, rec, Config{Extended: true})
		resps, err := c.Do(t.Context(), obd.Request{Data: []byte{0x09, 0x02}, To: 0x18DAF118})
		if err != nil || len(resps) != 1 || resps[0].ECU != 0x18DAF118 || !bytes.Equal(resps[0].Data, vin) {
			t.Fatalf("Do = %v, %v", resps, err)
		}
		for _, s := range rec.all() {
			if s.node == "tester" && (s.f.ID != 0x18DA18F1 || !s.f.IsExtended) {
				t.Errorf("tester sent %v, want only 18DA18F1", s.f)
			}
		}
	})
}

// TestGarbageAndNoiseIgnored: malformed frames from the answering ECU and
// traffic on unrelated identifiers do not disturb the answer.
func TestGarbageAndNoiseIgnored(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		bus := canbus.NewMemBus()
		startECU(t, bus, nil, ServerConfig{ECU: 0x7E8, Faults: Faults{Garbage: true}, Latency: time.Millisecond},
			answers(map[string][]byte{"0902": vin}))
		script(t, bus, func(ctx context.Context, c canbus.Conn) {
			for _, s := range []string{"123#0102", "7E0#0201", "7E9#21", "7E9#", "7DF#0100"} {
				var id uint32
				var data string
				fmt.Sscanf(s, "%x#%s", &id, &data)
				_ = sendHex(ctx, c, id, data)
			}
		})
		c := newClient(t, bus, nil, Config{})
		resps, err := c.Do(t.Context(), obd.Request{Data: []byte{0x09, 0x02}, Expect: []obd.ECU{0x7E8}})
		if err != nil || len(resps) != 1 || !bytes.Equal(resps[0].Data, vin) {
			t.Fatalf("Do = %v, %v", resps, err)
		}
		if st := c.Stats(); st.Malformed < 1 {
			t.Errorf("stats = %+v, want the garbage frame counted", st)
		}
	})
}

func TestNoResponse(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		bus := canbus.NewMemBus()
		startECU(t, bus, nil, ServerConfig{ECU: 0x7E8}, answers(nil)) // silent
		c := newClient(t, bus, nil, Config{P2: 100 * time.Millisecond})
		start := time.Now()
		_, err := c.Do(t.Context(), obd.Request{Data: []byte{0x01, 0x00}, Expect: []obd.ECU{0x7E8}})
		if !errors.Is(err, obd.ErrNoResponse) {
			t.Fatalf("Do err = %v", err)
		}
		if d := time.Since(start); d != 100*time.Millisecond {
			t.Errorf("Do took %v, want P2", d)
		}
	})
}

func TestBadRequests(t *testing.T) {
	bus := canbus.NewMemBus()
	c := newClient(t, bus, nil, Config{})
	for _, tt := range []struct {
		name string
		req  obd.Request
		err  error
	}{
		{"empty", obd.Request{}, ErrBadRequest},
		{"too long", obd.Request{Data: make([]byte, 4096), To: 0x7E8}, ErrBadRequest},
		{"functional multi-frame", obd.Request{Data: make([]byte, 8)}, ErrBadRequest},
		{"bad ECU", obd.Request{Data: []byte{1, 0}, To: 0x7E0}, ErrBadAddress},
		{"bad 29-bit ECU", obd.Request{Data: []byte{1, 0}, To: 0x18DA10F1}, ErrBadAddress},
	} {
		if _, err := c.Do(t.Context(), tt.req); !errors.Is(err, tt.err) {
			t.Errorf("%s: err = %v, want %v", tt.name, err, tt.err)
		}
	}
	if c.Stats().Requests != 0 {
		t.Errorf("bad requests were counted as sent")
	}
}

func TestRequestID(t *testing.T) {
	for _, tt := range []struct {
		ecu obd.ECU
		id  uint32
		ext bool
		err error
	}{
		{0x7E8, 0x7E0, false, nil},
		{0x7EF, 0x7E7, false, nil},
		{0x18DAF110, 0x18DA10F1, true, nil},
		{0x18DAF100, 0x18DA00F1, true, nil},
		{0x7E7, 0, false, ErrBadAddress},
		{0x7F0, 0, false, ErrBadAddress},
		{0x18DB33F1, 0, false, ErrBadAddress},
		{0, 0, false, ErrBadAddress},
	} {
		id, ext, err := RequestID(tt.ecu)
		if id != tt.id || ext != tt.ext || !errors.Is(err, tt.err) {
			t.Errorf("RequestID(%s) = %X, %v, %v", tt.ecu, id, ext, err)
		}
	}
}

func TestStaleFramesDrained(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		bus := canbus.NewMemBus()
		answerEach(t, bus, func(ctx context.Context, c canbus.Conn, p PDU) {
			if p.Data[1] == 0x00 { // answered after P2
				_ = ctxtime.Sleep(ctx, 80*time.Millisecond)
			}
			_ = sendHex(ctx, c, 0x7E8, fmt.Sprintf("0441%02X0102", p.Data[1]))
		})
		c := newClient(t, bus, nil, Config{})
		// The first answer comes after P2: Do gives up, the answer arrives later.
		if _, err := c.Do(t.Context(), obd.Request{Data: []byte{0x01, 0x00}}); !errors.Is(err, obd.ErrNoResponse) {
			t.Fatalf("first Do err = %v", err)
		}
		synctest.Wait()
		time.Sleep(50 * time.Millisecond) // fake time: let the late answer arrive
		synctest.Wait()
		resps, err := c.Do(t.Context(), obd.Request{Data: []byte{0x01, 0x0C}, Expect: []obd.ECU{0x7E8}})
		if err != nil || len(resps) != 1 || resps[0].Data[1] != 0x0C {
			t.Fatalf("second Do = %v, %v; want the 010C answer only", resps, err)
		}
		if c.Stats().Ignored == 0 {
			t.Errorf("stale answer not counted as ignored")
		}
	})
}

// TestLateAnswerDuringNextRequest: an ECU slower than P2 answers service 03
// while the tester already waits for its 07 answer. The 43 answer is not
// taken for the 07 one: it is dropped and the wait goes on.
func TestLateAnswerDuringNextRequest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		bus := canbus.NewMemBus()
		answerEach(t, bus, func(ctx context.Context, c canbus.Conn, p PDU) {
			switch p.Data[0] {
			case 0x03: // too late for this request: sent after the next one began
				_ = ctxtime.Sleep(ctx, 60*time.Millisecond)
				_ = sendHex(ctx, c, 0x7E8, "03430101")
			case 0x07:
				_ = ctxtime.Sleep(ctx, 20*time.Millisecond)
				_ = sendHex(ctx, c, 0x7E8, "024700")
			}
		})
		c := newClient(t, bus, nil, Config{})
		if _, err := c.Do(t.Context(), obd.Request{Data: []byte{0x03}, Expect: []obd.ECU{0x7E8}}); !errors.Is(err, obd.ErrNoResponse) {
			t.Fatalf("03: err = %v, want no response within P2", err)
		}
		resps, err := c.Do(t.Context(), obd.Request{Data: []byte{0x07}, Expect: []obd.ECU{0x7E8}})
		if err != nil || len(resps) != 1 || !bytes.Equal(resps[0].Data, []byte{0x47, 0x00}) {
			t.Fatalf("07 = %x, %v; want the 47 00 answer, not the late 43", resps, err)
		}
		if c.Stats().Ignored == 0 {
			t.Errorf("late answer not counted as ignored: %+v", c.Stats())
		}
	})
}

func TestCloseAndCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		bus := canbus.NewMemBus()
		answerEach(t, bus, func(ctx context.Context, c canbus.Conn, _ PDU) {
			_ = sendHex(ctx, c, 0x7E8, "037F0178") // pending, forever
		})
		conn := bus.Connect()
		defer conn.Close()
		c := NewClient(conn, Config{})
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		if _, err := c.Do(ctx, obd.Request{Data: []byte{0x01, 0x00}}); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Do with deadline: err = %v", err)
		}
		done := make(chan error, 1)
		go func() {
			_, err := c.Do(t.Context(), obd.Request{Data: []byte{0x01, 0x00}})
			done <- err
		}()
		synctest.Wait() // Do is waiting on the pending answer
		c.Close()
		if err := <-done; !errors.Is(err, ErrClosed) {
			t.Errorf("Do during Close: err = %v", err)
		}
		if _, err := c.Do(t.Context(), obd.Request{Data: []byte{0x01, 0x00}}); !errors.Is(err, ErrClosed) {
			t.Errorf("Do after Close: err = %v", err)
		}
	})
}

func TestConnClosedUnderClient(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		conn := canbus.NewMemBus().Connect()
		c := NewClient(conn, Config{})
		defer c.Close()
		conn.Close()
		_, err := c.Do(t.Context(), obd.Request{Data: []byte{0x01, 0x00}})
		if !errors.Is(err, canbus.ErrClosed) {
			t.Errorf("err = %v, want canbus.ErrClosed", err)
		}
	})
}
