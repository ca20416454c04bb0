package analyzer

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"testing/iotest"
	"time"
)

// line is a scripted instrument: it answers each request with reply(n,
// req), n counting requests from 0, and records the requests. Its Read
// blocks until a reply is due or it is closed.
type line struct {
	reply   func(n int, req []byte) []byte
	mu      sync.Mutex
	reqs    [][]byte
	ch      chan []byte
	done    chan struct{}
	once    sync.Once
	pending []byte // used by the single reader only
}

func newLine(reply func(n int, req []byte) []byte) *line {
	return &line{reply: reply, ch: make(chan []byte, 64), done: make(chan struct{})}
}

func (s *line) Write(b []byte) (int, error) {
	s.mu.Lock()
	n := len(s.reqs)
	s.reqs = append(s.reqs, bytes.Clone(b))
	s.mu.Unlock()
	if r := s.reply(n, bytes.Clone(b)); len(r) > 0 {
		s.ch <- r
	}
	return len(b), nil
}

func (s *line) Read(p []byte) (int, error) {
	for len(s.pending) == 0 {
		select {
		case s.pending = <-s.ch:
		case <-s.done:
			return 0, io.EOF
		}
	}
	n := copy(p, s.pending)
	s.pending = s.pending[n:]
	return n, nil
}

func (s *line) Close() error { s.once.Do(func() { close(s.done) }); return nil }

func (s *line) requests() [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.reqs)
}

// fragmented gives the driver the line with reads cut into fragments, as a
// serial port delivers them.
type fragmented struct {
	io.Reader
	*line
}

func (f fragmented) Read(p []byte) (int, error) { return f.Reader.Read(p) }

// fast are options that keep polls and waits short.
var fast = Options{PollInterval: time.Millisecond, ZeroWait: time.Millisecond, Timeout: 2 * time.Second}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// always answers every request with the same bytes.
func always(b []byte) func(int, []byte) []byte { return func(int, []byte) []byte { return b } }

type reader interface {
	Read(context.Context) (Reading, error)
	Close() error
}

func TestDriversReadDocumentedFrames(t *testing.T) {
	tests := []struct {
		name    string
		open    func(io.ReadWriter) reader
		req     string
		reply   string
		wantCO  float64
		wantRPM float64
	}{
		{"nha506", func(rw io.ReadWriter) reader { return NewNHA506(rw, "t", fast) }, "01", frameNHA506Idle, 1.20, 780},
		{"fla502", func(rw io.ReadWriter) reader { return NewFLA502(rw, "t", fast) }, "01", frameFLA502, 1.205, 2510},
		{"nha503", func(rw io.ReadWriter) reader { return NewNHA503(rw, "t", fast) }, "2c", frameNHA503, 0.45, 2480},
		{"mqw511", func(rw io.ReadWriter) reader { return NewMQW511(rw, "t", fast) }, "03", frameMQW511, 0.03, 2520},
		{"nha501a", func(rw io.ReadWriter) reader { return NewNHA501A(rw, "t", fast) }, "03", frameMQW511, 0.03, 2520},
		{"fla501", func(rw io.ReadWriter) reader { return NewFLA501(rw, "t", fast) }, "02 01 40 bd", frameFLA501, 0.65, 760},
		{"mqw50a", func(rw io.ReadWriter) reader { return NewMQW50A(rw, "t", fast) }, "02 60 03 9b", frameMQW50A, 0.95, 790},
		{"fga4100", func(rw io.ReadWriter) reader { return NewFGA4100(rw, "t", fast) }, "7e 01 f4 0a 7e 04 00 01 02 02 f6", frameFGA, 0.15, 770},
		{"nht6 realtime", func(rw io.ReadWriter) reader { o := fast; o.Method = MethodRealtime; return NewNHT6(rw, "t", o) }, "a5 5b", frameNHT6Realtime, 0, 720},
		{"mqy200", func(rw io.ReadWriter) reader { return NewMQY200(rw, "t", fast) }, "a6 5a", frameMQY200Realtime, 0, 780},
		{"fty100", func(rw io.ReadWriter) reader { return NewFTY100(rw, "t", fast) }, "66 74 79 01 02 02 a8", frameFTY100Realtime, 0, 720},
	}
	for _, tt := range tests {
		for _, w := range []struct {
			name string
			wrap func(io.Reader) io.Reader
		}{{"whole", func(r io.Reader) io.Reader { return r }}, {"OneByteReader", iotest.OneByteReader}, {"HalfReader", iotest.HalfReader}} {
			t.Run(tt.name+"/"+w.name, func(t *testing.T) {
				l := newLine(always(unhex(t, tt.reply)))
				d := tt.open(fragmented{w.wrap(l), l})
				defer d.Close()
				r, err := d.Read(ctxT(t))
				if err != nil {
					t.Fatal(err)
				}
				if co, ok := r.Value(QuantityCO); tt.wantCO != 0 && (!ok || co.Value != tt.wantCO) {
					t.Errorf("co %v", co)
				}
				if rpm, _ := r.Value(QuantityRPM); rpm.Value != tt.wantRPM {
					t.Errorf("rpm %v", rpm)
				}
				if reqs := l.requests(); len(reqs) != 1 || !bytes.Equal(reqs[0], unhex(t, tt.req)) {
					t.Errorf("requests % x, want %s", reqs, tt.req)
				}
			})
		}
	}
}

func TestResyncAndRetry(t *testing.T) {
	good := unhex(t, frameNHA506Idle)
	bad := bytes.Clone(good)
	bad[20]++
	t.Run("garbage before a checksummed reply", func(t *testing.T) {
		l := newLine(always(append([]byte{0xFF, 0x00, 0x42}, good...)))
		d := NewNHA506(l, "t", fast)
		defer d.Close()
		if _, err := d.Read(ctxT(t)); err != nil {
			t.Fatal(err)
		}
		if st := d.Stats(); st.Discarded != 3 || st.Frames != 1 || st.BadFrames != 0 {
			t.Fatalf("stats %+v", st)
		}
	})
	t.Run("bad checksum, then good", func(t *testing.T) {
		l := newLine(func(n int, _ []byte) []byte {
			if n == 0 {
				return bad
			}
			return good
		})
		d := NewNHA506(l, "t", fast)
		defer d.Close()
		if _, err := d.Read(ctxT(t)); err != nil {
			t.Fatal(err)
		}
		if st := d.Stats(); st.BadFrames != 1 || st.Frames != 1 || len(l.requests()) != 2 {
			t.Fatalf("stats %+v, %d requests", st, len(l.requests()))
		}
	})
	t.Run("bad checksum every time", func(t *testing.T) {
		l := newLine(always(bad))
		o := fast
		o.Retries = 3
		d := NewNHA506(l, "t", o)
		defer d.Close()
		_, err := d.Read(ctxT(t))
		if !errors.Is(err, ErrChecksum) {
			t.Fatal(err)
		}
		if st := d.Stats(); st.BadFrames != 4 || len(l.requests()) != 4 {
			t.Fatalf("stats %+v", st)
		}
	})
	t.Run("silent", func(t *testing.T) {
		l := newLine(always(nil))
		o := fast
		o.Timeout = 50 * time.Millisecond
		d := NewNHA506(l, "/dev/ttyX", o)
		defer d.Close()
		if _, err := d.Read(ctxT(t)); !errors.Is(err, ErrNoResponse) {
			t.Fatal(err)
		}
	})
	// An NHA-503 that does not answer 0x2C is read with the 21-byte 0x81
	// request from then on, at the NHA-503's scales.
	nha503Short := unhex(t, frameNHA503)[:21]
	nha503Short[20] = sum8(nha503Short[:20])
	for _, tc := range []struct {
		name  string
		reply []byte
		q     string
		want  float64
	}{
		{"nha503 falls back to 0x81: oil in tenths", unhex(t, frameNHA506Idle), QuantityOilTemperature, 8.5},
		{"nha503 falls back to 0x81: its own frame, short", nha503Short, QuantityCO, 0.45},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newLine(func(_ int, req []byte) []byte {
				if req[0] == 0x81 {
					return tc.reply
				}
				return nil
			})
			o := fast
			o.Timeout = 50 * time.Millisecond
			d := NewNHA503(l, "t", o)
			defer d.Close()
			for range 2 {
				r, err := d.Read(ctxT(t))
				if v, _ := r.Value(tc.q); err != nil || v.Value != tc.want {
					t.Fatalf("reading %v %v: want %s %v", r, err, tc.q, tc.want)
				}
			}
			wantRequests(t, l, "2c", "81", "81")
		})
	}
}

func TestImplausibleReadingRefusedAndCounted(t *testing.T) {
	var logs bytes.Buffer
	l := newLine(always(unhex(t, frameNHA506CO7FFF)))
	o := fast
	o.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	d := NewNHA506(l, "t", o)
	defer d.Close()
	for range 2 {
		r, err := d.Read(ctxT(t))
		var ie *ImplausibleError
		if !errors.As(err, &ie) || ie.Values[0].Quantity.Name != QuantityCO || r.Values != nil {
			t.Fatalf("reading %v, err %v", r, err)
		}
	}
	if st := d.Stats(); st.Implausible != 2 || st.Frames != 2 {
		t.Fatalf("stats %+v", st)
	}
	if n := bytes.Count(logs.Bytes(), []byte("\n")); n != 1 {
		t.Fatalf("%d log lines:\n%s", n, logs.String())
	}
	// A range from the options replaces the default.
	o.Ranges = map[string]Range{QuantityCO: {-1, 400}}
	d2 := NewNHA506(newLine(always(unhex(t, frameNHA506CO7FFF))), "t", o)
	defer d2.Close()
	if _, err := d2.Read(ctxT(t)); err != nil {
		t.Fatal(err)
	}
}

// codes answers a one-byte command with the next of replies (the last
// repeats) and data requests with data.
func codes(replies ...byte) func(int, []byte) []byte {
	var mu sync.Mutex
	return func(int, []byte) []byte {
		mu.Lock()
		defer mu.Unlock()
		b := replies[0]
		if len(replies) > 1 {
			replies = replies[1:]
		}
		return []byte{b}
	}
}

func TestNHAZeroAndLeakCheck(t *testing.T) {
	tests := []struct {
		name    string
		replies []byte
		op      func(*NHA, context.Context) error
		cmd     byte
		want    error
		polls   int
	}{
		{"zero runs, then done", []byte{0x05, 0x05, 0x00}, (*NHA).Zero, 8, nil, 3},
		{"zero accepted (06), then done", []byte{0x06, 0x00}, (*NHA).Zero, 8, nil, 2},
		{"zero fails", []byte{0x05, 0x01}, (*NHA).Zero, 8, ErrZeroFailed, 2},
		{"leak check tight", []byte{0x05, 0x00}, (*NHA).LeakCheck, 7, nil, 2},
		{"leak found", []byte{0x01}, (*NHA).LeakCheck, 7, ErrLeak, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newLine(codes(tt.replies...))
			d := NewNHA506(l, "t", fast)
			defer d.Close()
			err := tt.op(d, ctxT(t))
			if !errors.Is(err, tt.want) || (tt.want == nil && err != nil) {
				t.Fatalf("err %v, want %v", err, tt.want)
			}
			reqs := l.requests()
			if len(reqs) != tt.polls {
				t.Fatalf("%d requests, want %d", len(reqs), tt.polls)
			}
			for _, r := range reqs {
				if !bytes.Equal(r, []byte{tt.cmd}) {
					t.Fatalf("request % x, want %02x", r, tt.cmd)
				}
			}
		})
	}
	t.Run("still running at the deadline", func(t *testing.T) {
		l := newLine(codes(0x05))
		o := fast
		o.OperationTimeout = 30 * time.Millisecond
		d := NewNHA506(l, "t", o)
		defer d.Close()
		if err := d.Zero(ctxT(t)); !errors.Is(err, ErrNotFinished) {
			t.Fatal(err)
		}
	})
	t.Run("unknown answer is a bad frame", func(t *testing.T) {
		l := newLine(codes(0x42))
		d := NewNHA506(l, "t", fast)
		defer d.Close()
		if err := d.Zero(ctxT(t)); !errors.Is(err, ErrBadFrame) {
			t.Fatal(err)
		}
	})
}

func TestNHAStateAndPump(t *testing.T) {
	t.Run("nha506 warming up", func(t *testing.T) {
		l := newLine(func(_ int, req []byte) []byte {
			switch req[0] {
			case 38:
				return []byte{0x02}
			case 39:
				return []byte{0x00, 0x78}
			}
			return nil
		})
		d := NewNHA506(l, "t", fast)
		defer d.Close()
		st, err := d.State(ctxT(t))
		if err != nil || st.Mode != ModeWarmingUp || st.WarmUpLeft != 120*time.Second || st.Raw != "02" {
			t.Fatalf("%+v %v", st, err)
		}
	})
	t.Run("fla502 status 34, F1", func(t *testing.T) {
		l := newLine(codes(0xF1))
		d := NewFLA502(l, "t", fast)
		defer d.Close()
		st, err := d.State(ctxT(t))
		if err != nil || st.Mode != ModeMeasuring || !bytes.Equal(l.requests()[0], []byte{34}) {
			t.Fatalf("%+v %v % x", st, err, l.requests())
		}
	})
	for _, tt := range []struct {
		name string
		new  func(io.ReadWriter) Pumper
		want map[PumpAction]string
	}{
		{"nha506", func(rw io.ReadWriter) Pumper { return NewNHA506(rw, "t", fast) }, map[PumpAction]string{PumpProbe: "23", PumpAmbient: "22", PumpBackFlush: "05", PumpStop: "06"}},
		{"fla502", func(rw io.ReadWriter) Pumper { return NewFLA502(rw, "t", fast) }, map[PumpAction]string{PumpProbe: "04", PumpAmbient: "03", PumpBackFlush: "05", PumpStop: "06"}},
		{"mqw511", func(rw io.ReadWriter) Pumper { return NewMQW511(rw, "t", fast) }, map[PumpAction]string{PumpProbe: "01", PumpStop: "02"}},
		{"mqw50a", func(rw io.ReadWriter) Pumper { return NewMQW50A(rw, "t", fast) }, map[PumpAction]string{PumpProbe: "02 7b 03 80", PumpAmbient: "02 7c 03 7f", PumpBackFlush: "02 80 03 7b", PumpStop: "02 78 03 83"}},
		{"fla501", func(rw io.ReadWriter) Pumper { return NewFLA501(rw, "t", fast) }, map[PumpAction]string{PumpProbe: "02 02 a5 01 56", PumpStop: "02 02 a5 00 57"}},
		{"fga4100", func(rw io.ReadWriter) Pumper { return NewFGA4100(rw, "t", fast) }, map[PumpAction]string{
			PumpProbe: "7e 01 f4 0a 7e 0a 00 01 0e 02 01 00 00 00 00 00 e3", PumpStop: "7e 01 f4 0a 7e 0a 00 01 0e 02 00 00 00 00 00 00 e4"}},
	} {
		for _, a := range []PumpAction{PumpProbe, PumpAmbient, PumpBackFlush, PumpStop} {
			t.Run(tt.name+" "+string(a), func(t *testing.T) {
				l := newLine(func(_ int, req []byte) []byte {
					switch {
					case tt.name == "fga4100" && req[len(req)-1] == 0xe3:
						return bytes.Clone(fgaPumpOK)
					case tt.name == "fga4100":
						return bytes.Clone(fgaStopOK)
					case tt.name == "mqw50a", tt.name == "fla501":
						return []byte{0x06, req[1], 0x03, 0x00}
					}
					return []byte{0x06}
				})
				p := tt.new(l)
				defer p.(io.Closer).Close()
				err := p.Pump(ctxT(t), a)
				want, ok := tt.want[a]
				if !ok {
					if !errors.Is(err, ErrUnsupported) {
						t.Fatalf("err %v, want ErrUnsupported", err)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				if reqs := l.requests(); len(reqs) != 1 || !bytes.Equal(reqs[0], unhex(t, want)) {
					t.Fatalf("requests % x, want %s", reqs, want)
				}
			})
		}
	}
	t.Run("command refused", func(t *testing.T) {
		l := newLine(codes(0x15))
		d := NewNHA506(l, "t", fast)
		defer d.Close()
		if err := d.Pump(ctxT(t), PumpProbe); !errors.Is(err, ErrNAK) {
			t.Fatal(err)
		}
	})
}

func TestMQW50AZeroAndLeakCheck(t *testing.T) {
	status := func(b3, b4, b5 byte) []byte { return []byte{0x06, 0x61, 0x0a, b3, b4, b5, 0, 0, 0, 0, 0} }
	run := func(t *testing.T, statuses [][]byte) (*line, *MQW50A) {
		var mu sync.Mutex
		l := newLine(func(_ int, req []byte) []byte {
			if req[1] != mqw50aStatus {
				return []byte{0x06, req[1], 0x03, 0}
			}
			mu.Lock()
			defer mu.Unlock()
			s := statuses[0]
			if len(statuses) > 1 {
				statuses = statuses[1:]
			}
			return s
		})
		d := NewMQW50A(l, "t", fast)
		t.Cleanup(func() { d.Close() })
		return l, d
	}
	l, d := run(t, [][]byte{status(0x40, 0x80, 0), status(0x40, 0x80, 0), status(0, 0, 0)})
	if err := d.Zero(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if reqs := l.requests(); len(reqs) != 4 || !bytes.Equal(reqs[0], unhex(t, "02 67 03 94")) {
		t.Fatalf("requests % x", reqs)
	}
	_, d = run(t, [][]byte{status(0x40, 0x80, 0), status(0, 0, 0x04)})
	if err := d.Zero(ctxT(t)); !errors.Is(err, ErrZeroFailed) {
		t.Fatal(err)
	}
	_, d = run(t, [][]byte{status(0x10, 0x80, 0), status(0, 0, 0x01)})
	if err := d.LeakCheck(ctxT(t)); !errors.Is(err, ErrLeak) {
		t.Fatal(err)
	}
	_, d = run(t, [][]byte{status(0x01, 0x80, 0)})
	if st, err := d.State(ctxT(t)); err != nil || st.Mode != ModeWarmingUp {
		t.Fatalf("%+v %v", st, err)
	}
}

func TestOpacimeters(t *testing.T) {
	t.Run("nht6 NAK is two bytes with the code", func(t *testing.T) {
		l := newLine(always([]byte{0x15, 0x02}))
		d := NewNHT6(l, "t", fast)
		defer d.Close()
		_, err := d.Read(ctxT(t))
		var nak *NAKError
		if !errors.As(err, &nak) || nak.Code != 0x02 || !errors.Is(err, ErrNAK) {
			t.Fatal(err)
		}
		if reqs := l.requests(); len(reqs) != 1 || !bytes.Equal(reqs[0], unhex(t, "b1 4f")) {
			t.Fatalf("requests % x", reqs)
		}
	})
	t.Run("nht6 result, peak, set status", func(t *testing.T) {
		l := newLine(func(_ int, req []byte) []byte {
			switch req[0] {
			case 0xB1:
				return unhex(t, frameNHT6Result)
			case 0xA6:
				return unhex(t, frameNHT6Peak)
			case 0xA7, 0xA0:
				return withNeg8(req[0])
			}
			return nil
		})
		d := NewNHT6(l, "t", fast)
		defer d.Close()
		r, err := d.Read(ctxT(t))
		if k, _ := r.Value(QuantityKMean); err != nil || k.Value != 1.01 || r.Method != MethodFreeAcceleration {
			t.Fatalf("%v %v", r, err)
		}
		if err := d.ClearPeak(ctxT(t)); err != nil {
			t.Fatal(err)
		}
		p, err := d.Peak(ctxT(t))
		if k, _ := p.Value(QuantityOpacityK); err != nil || k.Value != 2.27 {
			t.Fatalf("%v %v", p, err)
		}
		if err := d.SetStatus(ctxT(t), 2); err != nil {
			t.Fatal(err)
		}
		if reqs := l.requests(); !bytes.Equal(reqs[3], unhex(t, "a0 02 5e")) {
			t.Fatalf("set status request % x", reqs[3])
		}
	})
	t.Run("nht6 calibration", func(t *testing.T) {
		statuses := []byte{2, 2, 1}
		var mu sync.Mutex
		l := newLine(func(_ int, req []byte) []byte {
			if req[0] == 0xA4 {
				return withNeg8(0xA4)
			}
			mu.Lock()
			defer mu.Unlock()
			s := statuses[0]
			statuses = statuses[1:]
			return withNeg8(0xA1, s)
		})
		d := NewNHT6(l, "t", fast)
		defer d.Close()
		if err := d.Zero(ctxT(t)); err != nil {
			t.Fatal(err)
		}
		if reqs := l.requests(); len(reqs) != 4 || !bytes.Equal(reqs[0], unhex(t, "a4 5c")) {
			t.Fatalf("requests % x", reqs)
		}
	})
	t.Run("mqy200 has no result", func(t *testing.T) {
		d := NewMQY200(newLine(always(nil)), "t", fast)
		defer d.Close()
		if _, err := d.FreeAcceleration(ctxT(t)); !errors.Is(err, ErrUnsupported) {
			t.Fatal(err)
		}
	})
}

func TestCloseUnblocksAndLineEnd(t *testing.T) {
	asked := make(chan struct{})
	var once sync.Once
	l := newLine(func(int, []byte) []byte { once.Do(func() { close(asked) }); return nil })
	d := NewNHA506(l, "t", Options{Timeout: time.Minute})
	done := make(chan error, 1)
	go func() { _, err := d.Read(context.Background()); done <- err }()
	<-asked
	d.Close()
	if err := <-done; !errors.Is(err, ErrClosed) {
		t.Fatal(err)
	}
	if _, err := d.Read(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatal(err)
	}
}
