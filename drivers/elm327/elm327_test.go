package elm327_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"testing/synctest"
	"time"

	"github.com/bayagent/bayagent/agent/scan"
	"github.com/bayagent/bayagent/drivers/elm327"
	"github.com/bayagent/bayagent/drivers/elm327/elmsim"
	"github.com/bayagent/bayagent/drivers/obd"
	"github.com/bayagent/bayagent/drivers/obd/obdsim"
)

// rwc is a line whose reads may be fragmented.
type rwc struct {
	io.Reader
	io.Writer
	io.Closer
}

// simRig serves profile name as an ELM327 on an in-memory pipe and opens
// the driver on it. wrap, if set, wraps the driver's side of the line (to
// fragment reads). stop closes the adapter and waits for the simulator.
func simRig(t *testing.T, name string, so elmsim.Options, do elm327.Options, wrap func(io.Reader) io.Reader) (a *elm327.Adapter, sim *elmsim.Sim, stop func()) {
	t.Helper()
	return simRigWith(t, loadProfile(t, name), so, do, wrap)
}

// simRigProfile is simRig for a profile built in the test.
func simRigProfile(t *testing.T, p *obdsim.Profile, so elmsim.Options, do elm327.Options) (*elm327.Adapter, *elmsim.Sim, func()) {
	t.Helper()
	return simRigWith(t, p, so, do, nil)
}

func simRigWith(t *testing.T, p *obdsim.Profile, so elmsim.Options, do elm327.Options, wrap func(io.Reader) io.Reader) (a *elm327.Adapter, sim *elmsim.Sim, stop func()) {
	t.Helper()
	sim, err := elmsim.New(p, so)
	if err != nil {
		t.Fatal(err)
	}
	client, server := net.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sim.Serve(ctx, server) }()
	var line io.ReadWriteCloser = client
	if wrap != nil {
		line = rwc{wrap(client), client, client}
	}
	a, err = elm327.New(context.Background(), line, do)
	stop = func() {
		if a != nil {
			a.Close()
		}
		cancel()
		if err := <-done; err != nil {
			t.Errorf("simulator: %v", err)
		}
		server.Close()
	}
	if err != nil {
		stop()
		t.Fatalf("New: %v", err)
	}
	return a, sim, stop
}

// TestScanQuirks reads the whole snapshot of petrol-p0420 through adapters
// with various quirks and fragmented reads; each must give the same
// snapshot as a well-behaved adapter.
func TestScanQuirks(t *testing.T) {
	var ref *scan.Snapshot
	synctest.Test(t, func(t *testing.T) {
		a, _, stop := simRig(t, "petrol-p0420", elmsim.Options{}, elm327.Options{}, nil)
		defer stop()
		s, err := scan.Scan(context.Background(), a, scan.Options{})
		if err != nil {
			t.Fatal(err)
		}
		ref = s
	})
	tests := []struct {
		name   string
		faults elmsim.Faults
		wrap   func(io.Reader) io.Reader
		check  func(t *testing.T, a *elm327.Adapter)
	}{
		{name: "one byte per read", wrap: iotest.OneByteReader},
		{name: "half reads", wrap: iotest.HalfReader},
		{name: "echo, spaces and linefeeds stay on", faults: elmsim.Faults{Unsupported: []string{"E0", "S0", "L0"}}},
		{name: "no ATDPN, no ATAT1", faults: elmsim.Faults{Unsupported: []string{"DPN", "AT1"}}},
		{name: "no ATDPN, no ATDP", faults: elmsim.Faults{Unsupported: []string{"DPN", "DP"}},
			check: func(t *testing.T, a *elm327.Adapter) {
				if !strings.Contains(a.Protocol(), "11-bit") {
					t.Errorf("protocol %q, want one inferred from 11-bit headers", a.Protocol())
				}
			}},
		{name: "garbage line", faults: elmsim.Faults{Garbage: 5}},
		{name: "reset mid-session", faults: elmsim.Faults{Reset: 7},
			check: func(t *testing.T, a *elm327.Adapter) {
				if s := a.Stats(); s.Resets != 1 || s.Retries != 1 {
					t.Errorf("stats %+v, want 1 reset and 1 retry", s)
				}
			}},
		{name: "dropped prompt", faults: elmsim.Faults{DropPrompt: 9},
			check: func(t *testing.T, a *elm327.Adapter) {
				if s := a.Stats(); s.Retries != 1 {
					t.Errorf("stats %+v, want 1 retry", s)
				}
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				a, _, stop := simRig(t, "petrol-p0420", elmsim.Options{Faults: tc.faults}, elm327.Options{Timeout: time.Second}, tc.wrap)
				defer stop()
				got, err := scan.Scan(context.Background(), a, scan.Options{})
				if err != nil {
					t.Fatal(err)
				}
				if tc.check != nil {
					tc.check(t, a)
				}
				g, w := *got, *ref
				g.Stats, w.Stats = scan.Stats{}, scan.Stats{}
				gj, wj := mustJSON(t, g), mustJSON(t, w)
				if !bytes.Equal(gj, wj) {
					t.Errorf("snapshot differs from a well-behaved adapter's\ngot:  %s\nwant: %s", gj, wj)
				}
			})
		})
	}
}

// TestStatusErrors checks that each status message the adapter prints
// becomes its own error.
func TestStatusErrors(t *testing.T) {
	tests := []struct {
		name    string
		faults  elmsim.Faults
		opts    elm327.Options
		data    []byte
		want    error
		also    error
		retries int64
	}{
		{name: "NO DATA", data: []byte{0x05, 0x00}, want: elm327.ErrNoData, also: obd.ErrNoResponse},
		{name: "CAN ERROR", faults: elmsim.Faults{CANError: 2}, data: []byte{0x01, 0x0C}, want: elm327.ErrCANError},
		{name: "BUFFER FULL", faults: elmsim.Faults{BufferFull: 2}, data: []byte{0x09, 0x02}, want: elm327.ErrBufferFull},
		{name: "BUS INIT", opts: elm327.Options{Protocol: "3"}, data: []byte{0x01, 0x0C}, want: elm327.ErrBusInit},
		{name: "wrong CAN protocol", opts: elm327.Options{Protocol: "8"}, data: []byte{0x01, 0x0C}, want: elm327.ErrCANError},
		{name: "request too long", data: make([]byte, 8), want: elm327.ErrBadRequest},
		{name: "empty request", data: nil, want: elm327.ErrBadRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				a, _, stop := simRig(t, "petrol-p0420", elmsim.Options{Faults: tc.faults}, tc.opts, nil)
				defer stop()
				resps, err := a.Do(context.Background(), obd.Request{Data: tc.data})
				if !errors.Is(err, tc.want) || (tc.also != nil && !errors.Is(err, tc.also)) {
					t.Fatalf("Do = %v, %v; want error %v", resps, err, tc.want)
				}
				if s := a.Stats(); s.Retries != tc.retries {
					t.Errorf("retries %d, want %d", s.Retries, tc.retries)
				}
			})
		})
	}
}

// TestUnableToConnect: with no vehicle, New still succeeds (the adapter is
// there, its voltage can be read for plug-in detection), the search error is
// kept, and the first request after plugging in finds the protocol.
func TestUnableToConnect(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sim, err := elmsim.New(loadProfile(t, "petrol-29bit"), elmsim.Options{Voltage: 12.3})
		if err != nil {
			t.Fatal(err)
		}
		sim.SetConnected(false)
		client, server := net.Pipe()
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		wg.Go(func() { sim.Serve(ctx, server) })
		defer func() { cancel(); wg.Wait(); server.Close() }()
		a, err := elm327.New(ctx, client, elm327.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		if !errors.Is(a.SearchErr(), elm327.ErrUnableToConnect) || a.Protocol() != "" {
			t.Fatalf("search error %v, protocol %q; want UNABLE TO CONNECT and none", a.SearchErr(), a.Protocol())
		}
		if v, err := a.Voltage(ctx); err != nil || v != 12.3 {
			t.Fatalf("Voltage = %v, %v; want 12.3", v, err)
		}
		if _, err := a.Do(ctx, obd.Request{Data: []byte{0x01, 0x00}}); !errors.Is(err, elm327.ErrUnableToConnect) {
			t.Fatalf("Do unplugged = %v, want UNABLE TO CONNECT", err)
		}
		sim.SetConnected(true)
		resps, err := a.Do(ctx, obd.Request{Data: []byte{0x01, 0x00}})
		if err != nil || len(resps) != 2 || resps[0].ECU != 0x18DAF110 {
			t.Fatalf("Do plugged in = %v, %v; want answers of 18DAF110 and 18DAF118", resps, err)
		}
		if a.Protocol() != "ISO 15765-4 (CAN 29-bit)" || a.SearchErr() != nil {
			t.Errorf("protocol %q, search error %v", a.Protocol(), a.SearchErr())
		}
	})
}

// TestResponseCount checks that the number of expected answers is appended
// and makes the adapter return at once, and that without it the adapter
// waits out its timeout.
func TestResponseCount(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, _, stop := simRig(t, "petrol-p0420", elmsim.Options{Latency: 10 * time.Millisecond}, elm327.Options{}, nil)
		defer stop()
		ctx := context.Background()
		for _, tc := range []struct {
			expect []obd.ECU
			took   time.Duration
		}{
			{nil, 10*time.Millisecond + elmsim.DefaultTimeout},
			{[]obd.ECU{0x7E8, 0x7E9}, 10 * time.Millisecond},
		} {
			w0 := a.Stats().BytesWritten
			start := time.Now()
			resps, err := a.Do(ctx, obd.Request{Data: []byte{0x01, 0x00}, Expect: tc.expect})
			if err != nil || len(resps) != 2 {
				t.Fatalf("Do = %v, %v", resps, err)
			}
			if took := time.Since(start); took != tc.took {
				t.Errorf("expect %v: took %v, want %v", tc.expect, took, tc.took)
			}
			wantBytes := int64(len("0100\r"))
			if tc.expect != nil {
				wantBytes++ // the count digit
			}
			if n := a.Stats().BytesWritten - w0; n != wantBytes {
				t.Errorf("expect %v: wrote %d bytes, want %d", tc.expect, n, wantBytes)
			}
		}
	})
}

// TestPhysicalAddressing sends a request to one ECU (ATSH to its request
// identifier) and then a functional one again.
func TestPhysicalAddressing(t *testing.T) {
	for _, tc := range []struct {
		profile string
		to      obd.ECU
		all     int
	}{{"petrol-p0420", 0x7E9, 2}, {"petrol-29bit", 0x18DAF118, 2}} {
		t.Run(tc.profile, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				a, _, stop := simRig(t, tc.profile, elmsim.Options{}, elm327.Options{}, nil)
				defer stop()
				ctx := context.Background()
				resps, err := a.Do(ctx, obd.Request{Data: []byte{0x09, 0x0A}, To: tc.to})
				if err != nil || len(resps) != 1 || resps[0].ECU != tc.to {
					t.Fatalf("physical Do = %v, %v; want one answer from %s", resps, err, tc.to)
				}
				if name, err := obd.ParseECUName(resps[0].Data); err != nil || name.String() != "TCM-TransmissionCtl" {
					t.Errorf("ECU name %q, %v", name, err)
				}
				resps, err = a.Do(ctx, obd.Request{Data: []byte{0x09, 0x0A}})
				if err != nil || len(resps) != tc.all {
					t.Fatalf("functional Do = %v, %v; want %d answers", resps, err, tc.all)
				}
				if _, err := a.Do(ctx, obd.Request{Data: []byte{0x01, 0x00}, To: 0x123}); !errors.Is(err, elm327.ErrBadRequest) {
					t.Errorf("Do to 0x123 = %v, want ErrBadRequest", err)
				}
			})
		})
	}
}

// TestHeadersOff: a clone that refuses ATH1 still works; answers, the
// multi-frame VIN in "0:"/"1:" lines included, are attributed to the engine
// ECU.
func TestHeadersOff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, _, stop := simRig(t, "petrol-clean", elmsim.Options{Faults: elmsim.Faults{Unsupported: []string{"H1"}}}, elm327.Options{}, nil)
		defer stop()
		resps, err := a.Do(context.Background(), obd.Request{Data: []byte{0x09, 0x02}, Expect: []obd.ECU{0x7E8}})
		if err != nil || len(resps) != 1 || resps[0].ECU != 0x7E8 {
			t.Fatalf("Do = %v, %v", resps, err)
		}
		vin, err := obd.ParseVIN(resps[0].Data)
		if err != nil || len(vin) != 17 {
			t.Errorf("VIN %q, %v", vin, err)
		}
	})
}

// TestClosed: Do after Close fails with ErrClosed, and Close is idempotent.
func TestClosed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, _, stop := simRig(t, "petrol-clean", elmsim.Options{}, elm327.Options{}, nil)
		defer stop()
		a.Close()
		if _, err := a.Do(context.Background(), obd.Request{Data: []byte{0x01, 0x00}}); !errors.Is(err, elm327.ErrClosed) {
			t.Errorf("Do after Close = %v, want ErrClosed", err)
		}
		if _, err := a.Voltage(context.Background()); !errors.Is(err, elm327.ErrClosed) {
			t.Errorf("Voltage after Close = %v, want ErrClosed", err)
		}
	})
}

// TestContextCancel: a request whose context ends returns its error, and
// the adapter still answers the next one.
func TestContextCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, _, stop := simRig(t, "petrol-clean", elmsim.Options{Latency: 50 * time.Millisecond}, elm327.Options{}, nil)
		defer stop()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		defer cancel()
		if _, err := a.Do(ctx, obd.Request{Data: []byte{0x01, 0x0C}}); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Do = %v, want deadline exceeded", err)
		}
		resps, err := a.Do(context.Background(), obd.Request{Data: []byte{0x01, 0x0D}, Expect: []obd.ECU{0x7E8}})
		if err != nil || len(resps) != 1 || !slices.Equal(resps[0].Data[:2], []byte{0x41, 0x0D}) {
			t.Fatalf("next Do = %v, %v", resps, err)
		}
	})
}
