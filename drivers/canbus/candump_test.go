package canbus

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"go.einride.tech/can"
)

func TestParseCandumpLine(t *testing.T) {
	tests := []struct {
		line  string
		t     time.Time
		iface string
		f     can.Frame
	}{
		{"(1436509052.249713) vcan0 7E8#0341000000000000", time.Unix(1436509052, 249713000), "vcan0",
			can.Frame{ID: 0x7E8, Length: 8, Data: can.Data{0x03, 0x41}}},
		{"(0000000001.000001) can0 18DAF110#024100", time.Unix(1, 1000), "can0",
			can.Frame{ID: 0x18DAF110, IsExtended: true, Length: 3, Data: can.Data{0x02, 0x41, 0x00}}},
		{"(1.5) can0 123#", time.Unix(1, 500000000), "can0", can.Frame{ID: 0x123}},
		{"(1.000000) can0 123#R", time.Unix(1, 0), "can0", can.Frame{ID: 0x123, IsRemote: true}},
		{"(1.000000) can0 00000123#R8", time.Unix(1, 0), "can0", can.Frame{ID: 0x123, IsExtended: true, IsRemote: true, Length: 8}},
		{"(1.000000)  can10  7df#deadBEEF  ", time.Unix(1, 0), "can10",
			can.Frame{ID: 0x7DF, Length: 4, Data: can.Data{0xDE, 0xAD, 0xBE, 0xEF}}},
		{"(1.000000) can0 7FF#11 T", time.Unix(1, 0), "can0", can.Frame{ID: 0x7FF, Length: 1, Data: can.Data{0x11}}},
		{"(1.000000) can0 1FFFFFFF#11 R\r\n", time.Unix(1, 0), "can0",
			can.Frame{ID: 0x1FFFFFFF, IsExtended: true, Length: 1, Data: can.Data{0x11}}},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			gt, giface, gf, err := ParseCandumpLine(tt.line)
			if err != nil {
				t.Fatal(err)
			}
			if !gt.Equal(tt.t) || giface != tt.iface || gf != tt.f {
				t.Fatalf("got %v %q %+v, want %v %q %+v", gt, giface, gf, tt.t, tt.iface, tt.f)
			}
		})
	}
}

func TestParseCandumpLineErrors(t *testing.T) {
	tests := []struct {
		line string
		want error
	}{
		{"", ErrBadCandump},
		{"(1.0) can0", ErrBadCandump},
		{"(1.0) can0 123#00 X", ErrBadCandump},
		{"(1.0) can0 123#00 T extra", ErrBadCandump},
		{"1.0 can0 123#00", ErrBadCandump},
		{"(1.0 can0 123#00", ErrBadCandump},
		{"(1) can0 123#00", ErrBadCandump},
		{"(-1.0) can0 123#00", ErrBadCandump},
		{"(+1.0) can0 123#00", ErrBadCandump},
		{"(1.0123456789) can0 123#00", ErrBadCandump},
		{"(99999999999999999999.0) can0 123#00", ErrBadCandump},
		{"(253402300800.0) can0 123#00", ErrBadCandump},
		{"(1.0) can0 12#00", ErrBadCandump},
		{"(1.0) can0 1234#00", ErrBadCandump},
		{"(1.0) can0 800#00", ErrBadCandump},
		{"(1.0) can0 20000000#00", ErrBadCandump},
		{"(1.0) can0 2000008C#0000000000000000", ErrBadCandump}, // error frame
		{"(1.0) can0 12G#00", ErrBadCandump},
		{"(1.0) can0 +12#00", ErrBadCandump},
		{"(1.0) can0 123", ErrBadCandump},
		{"(1.0) can0 123#0", ErrBadCandump},
		{"(1.0) can0 123#001122334455667788", ErrBadCandump},
		{"(1.0) can0 123#0G", ErrBadCandump},
		{"(1.0) can0 123#00.11", ErrBadCandump},
		{"(1.0) can0 123#1122334455667788_9", ErrBadCandump},
		{"(1.0) can0 123#R9", ErrBadCandump},
		{"(1.0) can0 123#R10", ErrBadCandump},
		{"(1.0) can0 123#Rx", ErrBadCandump},
		{"(1.0) can0 123#00#11", ErrBadCandump},
		{"(1.0) can0 123##0112233", ErrCANFD},
		{"(1.0) can0 18DAF110##311223344556677889900", ErrCANFD},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			_, _, _, err := ParseCandumpLine(tt.line)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestWriteCandump(t *testing.T) {
	var b bytes.Buffer
	ts := time.Unix(1436509052, 249713999)
	for _, f := range []can.Frame{
		{ID: 0x7E8, Length: 8, Data: can.Data{0x03, 0x41}},
		{ID: 0x18DAF110, IsExtended: true, Length: 2, Data: can.Data{0xAB, 0xCD}},
		{ID: 0x123, IsRemote: true, Length: 3, Data: can.Data{1, 2, 3}},
		{ID: 0x1},
	} {
		if err := WriteCandump(&b, ts, "vcan0", f); err != nil {
			t.Fatal(err)
		}
	}
	want := "(1436509052.249713) vcan0 7E8#0341000000000000\n" +
		"(1436509052.249713) vcan0 18DAF110#ABCD\n" +
		"(1436509052.249713) vcan0 123#R3\n" +
		"(1436509052.249713) vcan0 001#\n"
	if b.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", b.String(), want)
	}
}

func TestWriteCandumpErrors(t *testing.T) {
	ok := can.Frame{ID: 1}
	tests := []struct {
		name  string
		t     time.Time
		iface string
		f     can.Frame
	}{
		{"empty iface", time.Unix(1, 0), "", ok},
		{"blank in iface", time.Unix(1, 0), "can 0", ok},
		{"newline in iface", time.Unix(1, 0), "can0\n", ok},
		{"before 1970", time.Unix(-1, 0), "can0", ok},
		{"after 9999", time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), "can0", ok},
		{"bad id", time.Unix(1, 0), "can0", can.Frame{ID: 0x800}},
		{"bad length", time.Unix(1, 0), "can0", can.Frame{ID: 1, Length: 9}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := WriteCandump(&b, tt.t, tt.iface, tt.f); !errors.Is(err, ErrBadCandump) {
				t.Fatalf("err = %v, want ErrBadCandump", err)
			}
			if b.Len() != 0 {
				t.Fatalf("wrote %q despite the error", b.String())
			}
		})
	}
}

// randomFrame returns a valid frame whose bytes past Length are zero (the
// only kind a log can represent).
func randomFrame(r *rand.Rand) can.Frame {
	var f can.Frame
	f.IsExtended = r.IntN(2) == 0
	if f.IsExtended {
		f.ID = r.Uint32N(can.MaxExtendedID + 1)
	} else {
		f.ID = r.Uint32N(can.MaxID + 1)
	}
	f.Length = uint8(r.IntN(can.MaxDataLength + 1))
	f.IsRemote = r.IntN(8) == 0
	if !f.IsRemote {
		for i := range int(f.Length) {
			f.Data[i] = byte(r.Uint32())
		}
	}
	return f
}

func TestCandumpRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var b bytes.Buffer
	for range 10000 {
		f := randomFrame(r)
		ts := time.Unix(r.Int64N(maxCandumpSeconds+1), r.Int64N(1e9))
		b.Reset()
		if err := WriteCandump(&b, ts, "can0", f); err != nil {
			t.Fatalf("WriteCandump(%+v): %v", f, err)
		}
		gt, iface, gf, err := ParseCandumpLine(b.String())
		if err != nil {
			t.Fatalf("ParseCandumpLine(%q): %v", b.String(), err)
		}
		if gf != f || iface != "can0" || !gt.Equal(ts.Truncate(time.Microsecond)) {
			t.Fatalf("%q parsed as %v %q %+v, want %v can0 %+v", b.String(), gt, iface, gf, ts, f)
		}
	}
}

func FuzzParseCandumpLine(f *testing.F) {
	for _, s := range []string{
		"(1436509052.249713) vcan0 7E8#0341000000000000",
		"(0000000001.000001) can0 18DAF110#024100",
		"(1.000000) can0 123#R",
		"(1.000000) can0 00000123#R8",
		"(1.000000)  can10  7df#deadBEEF T",
		"(1.0) can0 123##0112233",
		"(1.0) can0 123#1122334455667788_9",
		"(1.0) can0 2000008C#0000000000000000",
		"(253402300799.999999999) x 000#",
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		ts, iface, fr, err := ParseCandumpLine(line)
		if err != nil {
			if !errors.Is(err, ErrBadCandump) && !errors.Is(err, ErrCANFD) {
				t.Fatalf("error %v wraps neither ErrBadCandump nor ErrCANFD", err)
			}
			return
		}
		if err := fr.Validate(); err != nil {
			t.Fatalf("parsed invalid frame %+v: %v", fr, err)
		}
		var b bytes.Buffer
		if err := WriteCandump(&b, ts, iface, fr); err != nil {
			t.Fatalf("cannot write back %q: %v", line, err)
		}
		ts2, iface2, fr2, err := ParseCandumpLine(b.String())
		if err != nil {
			t.Fatalf("cannot parse written line %q: %v", b.String(), err)
		}
		if fr2 != fr || iface2 != iface || !ts2.Equal(ts.Truncate(time.Microsecond)) {
			t.Fatalf("round trip of %q gave %q", line, b.String())
		}
	})
}

func TestRecordLogsBothDirections(t *testing.T) {
	bus := NewMemBus()
	raw, peer := bus.Connect(), bus.Connect()
	defer peer.Close()
	var log bytes.Buffer // the Recorder serialises writes and calls to now
	tick := time.Unix(1700000000, 0)
	now := func() time.Time { tick = tick.Add(time.Millisecond); return tick }
	c := Record(raw, &log, "can0", now)

	const n = 200
	var wg sync.WaitGroup
	wg.Go(func() { // concurrent sender through the recorder
		for i := range n {
			if err := c.Send(t.Context(), can.Frame{ID: 0x7E0, Length: 1, Data: can.Data{byte(i)}}); err != nil {
				t.Error(err)
				return
			}
		}
	})
	wg.Go(func() { // peer traffic received through the recorder
		for i := range n {
			if err := peer.Send(t.Context(), can.Frame{ID: 0x7E8, Length: 1, Data: can.Data{byte(i)}}); err != nil {
				t.Error(err)
				return
			}
		}
	})
	for range n {
		receiveOne(t, c)
	}
	wg.Wait()
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Receive(t.Context()); !errors.Is(err, ErrClosed) {
		t.Fatalf("Receive after Close: %v", err)
	}

	// Replay the log: every frame is there, each direction in its order.
	replay := newReplay("replay:test", io.NopCloser(strings.NewReader(log.String())), false)
	next := map[uint32]int{}
	for {
		f, err := replay.Receive(t.Context())
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if int(f.Data[0]) != next[f.ID] {
			t.Fatalf("frame %v out of order, want data %02X", f, next[f.ID])
		}
		next[f.ID]++
	}
	if next[0x7E0] != n || next[0x7E8] != n {
		t.Fatalf("log holds %d sent and %d received frames, want %d each", next[0x7E0], next[0x7E8], n)
	}
}

func TestRecordReportsWriteErrorOnClose(t *testing.T) {
	bus := NewMemBus()
	raw, peer := bus.Connect(), bus.Connect()
	defer peer.Close()
	errDisk := errors.New("disk full")
	c := Record(raw, failWriter{errDisk}, "can0", nil)
	f := can.Frame{ID: 0x7DF}
	if err := c.Send(context.Background(), f); err != nil {
		t.Fatalf("Send must not fail because recording did: %v", err)
	}
	if got := receiveOne(t, peer); got != f {
		t.Fatalf("peer got %v, want %v", got, f)
	}
	if err := c.Close(); !errors.Is(err, errDisk) {
		t.Fatalf("Close = %v, want the write error", err)
	}
}

type failWriter struct{ err error }

func (w failWriter) Write([]byte) (int, error) { return 0, w.err }
