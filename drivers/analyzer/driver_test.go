package analyzer_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"testing/iotest"
	"time"

	"github.com/bayagent/bayagent/drivers/analyzer"
	"github.com/bayagent/bayagent/drivers/analyzer/analyzersim"
)

// scripted is an instrument that answers each request with reply(n, req),
// n counting requests from 0. Its Read blocks until a reply is due or it is
// closed.
type scripted struct {
	reply   func(n int, req []byte) []byte
	n       atomic.Int32
	ch      chan []byte
	done    chan struct{}
	once    sync.Once
	pending []byte // used by the single reader only
}

func newScripted(reply func(n int, req []byte) []byte) *scripted {
	return &scripted{reply: reply, ch: make(chan []byte, 16), done: make(chan struct{})}
}

func (s *scripted) Write(b []byte) (int, error) {
	if r := s.reply(int(s.n.Add(1)-1), bytes.Clone(b)); len(r) > 0 {
		s.ch <- r
	}
	return len(b), nil
}

func (s *scripted) Read(p []byte) (int, error) {
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

func (s *scripted) Close() error { s.once.Do(func() { close(s.done) }); return nil }

type readWriteCloser struct {
	io.Reader
	io.Writer
	io.Closer
}

var wrappers = []struct {
	name string
	wrap func(io.Reader) io.Reader
}{
	{"OneByteReader", iotest.OneByteReader},
	{"HalfReader", iotest.HalfReader},
}

// wrapped gives the driver the scripted instrument with its reads cut into
// fragments, as a serial port delivers them.
func wrapped(s *scripted, wrap func(io.Reader) io.Reader) io.ReadWriter {
	return readWriteCloser{wrap(s), s, s}
}

func TestStreamFragments(t *testing.T) {
	nha := unhex(t, goldenNHA506)
	tests := []struct {
		name    string
		open    func(io.ReadWriter) analyzer.Instrument
		reply   func(n int, req []byte) []byte
		wantHC  float64
		wantErr error
		stats   analyzer.Stats
	}{
		{
			name:   "nha506 clean",
			open:   func(rw io.ReadWriter) analyzer.Instrument { return analyzer.NewNHA506(rw, "test", analyzer.Options{}) },
			reply:  func(int, []byte) []byte { return nha },
			wantHC: 180, stats: analyzer.Stats{Frames: 1},
		},
		{
			name:   "nha506 garbage before the header",
			open:   func(rw io.ReadWriter) analyzer.Instrument { return analyzer.NewNHA506(rw, "test", analyzer.Options{}) },
			reply:  func(int, []byte) []byte { return append([]byte{0xFF, 0x00, 0x42}, nha...) },
			wantHC: 180, stats: analyzer.Stats{Frames: 1, Discarded: 3},
		},
		{
			name: "nha506 bad checksum then good",
			open: func(rw io.ReadWriter) analyzer.Instrument { return analyzer.NewNHA506(rw, "test", analyzer.Options{}) },
			reply: func(n int, _ []byte) []byte {
				if n == 0 {
					b := bytes.Clone(nha)
					b[20]++
					return b
				}
				return nha
			},
			wantHC: 180, stats: analyzer.Stats{Frames: 1, BadFrames: 1},
		},
		{
			name: "nha506 bad checksum every time",
			open: func(rw io.ReadWriter) analyzer.Instrument {
				return analyzer.NewNHA506(rw, "test", analyzer.Options{Retries: 3})
			},
			reply:   func(int, []byte) []byte { b := bytes.Clone(nha); b[20]++; return b },
			wantErr: analyzer.ErrChecksum, stats: analyzer.Stats{BadFrames: 4},
		},
		{
			name:    "nha506 busy",
			open:    func(rw io.ReadWriter) analyzer.Instrument { return analyzer.NewNHA506(rw, "test", analyzer.Options{}) },
			reply:   func(int, []byte) []byte { return []byte{0x05} },
			wantErr: analyzer.ErrBusy,
		},
		{
			name:    "mqw511 nak",
			open:    func(rw io.ReadWriter) analyzer.Instrument { return analyzer.NewMQW511(rw, "test", analyzer.Options{}) },
			reply:   func(int, []byte) []byte { return []byte{0x15} },
			wantErr: analyzer.ErrNAK,
		},
		{
			name: "mqw511 clean",
			open: func(rw io.ReadWriter) analyzer.Instrument { return analyzer.NewMQW511(rw, "test", analyzer.Options{}) },
			reply: func(_ int, req []byte) []byte {
				if !bytes.Equal(req, []byte{0x03}) {
					return nil
				}
				return unhex(t, goldenMQW511)
			},
			wantHC: 240, stats: analyzer.Stats{Frames: 1},
		},
		{
			name: "fga4100 garbage with a false delimiter",
			open: func(rw io.ReadWriter) analyzer.Instrument { return analyzer.NewFGA4100(rw, "test", analyzer.Options{}) },
			reply: func(n int, req []byte) []byte {
				if !bytes.Equal(req, analyzer.FGARequest(1)) {
					return nil
				}
				if n == 0 {
					return append([]byte{0x00, 0x7E, 0x01}, fgaGolden(t)[:30]...)
				}
				return fgaGolden(t)
			},
			wantHC: 42, stats: analyzer.Stats{Frames: 1, BadFrames: 1, Discarded: 1},
		},
		{
			name: "nht6 nak",
			open: func(rw io.ReadWriter) analyzer.Instrument { return analyzer.NewNHT6(rw, "test", analyzer.Options{}) },
			reply: func(int, []byte) []byte {
				return analyzer.AppendNHT6NAK(nil, 2)
			},
			wantErr: &analyzer.NAKError{Code: 2},
		},
		{
			name: "nht6 realtime",
			open: func(rw io.ReadWriter) analyzer.Instrument {
				return analyzer.NewNHT6(rw, "test", analyzer.Options{Method: analyzer.MethodRealtime})
			},
			reply: func(_ int, req []byte) []byte {
				if !bytes.Equal(req, []byte{0xA5, 0x5B}) {
					return nil
				}
				return append([]byte{0x01, 0x02}, unhex(t, goldenNHT6Realtime)...)
			},
			stats: analyzer.Stats{Frames: 1, Discarded: 2},
		},
	}
	for _, w := range wrappers {
		for _, tt := range tests {
			t.Run(w.name+"/"+tt.name, func(t *testing.T) {
				s := newScripted(tt.reply)
				inst := tt.open(wrapped(s, w.wrap))
				defer inst.Close()
				r, err := inst.Read(t.Context())
				var nak *analyzer.NAKError
				switch {
				case tt.wantErr == nil && err != nil:
					t.Fatal(err)
				case errors.As(tt.wantErr, &nak):
					var got *analyzer.NAKError
					if !errors.As(err, &got) || *got != *nak {
						t.Fatalf("err = %v, want %v", err, tt.wantErr)
					}
				case tt.wantErr != nil && !errors.Is(err, tt.wantErr):
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				if tt.wantErr == nil && tt.wantHC != 0 {
					if hc, _ := r.Value("hc"); hc.Value != tt.wantHC {
						t.Fatalf("hc = %v, want %v", hc, tt.wantHC)
					}
				}
				if got := inst.(interface{ Stats() analyzer.Stats }).Stats(); got != tt.stats {
					t.Fatalf("stats %+v, want %+v", got, tt.stats)
				}
			})
		}
	}
}

func TestBadFramesLoggedOnce(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	bad := bytes.Clone(unhex(t, goldenNHA506))
	bad[20]++
	s := newScripted(func(int, []byte) []byte { return bad })
	d := analyzer.NewNHA506(s, "/dev/ttyTEST", analyzer.Options{Logger: log, Retries: 2})
	defer d.Close()
	for range 2 {
		if _, err := d.Read(t.Context()); !errors.Is(err, analyzer.ErrChecksum) {
			t.Fatalf("err = %v", err)
		}
	}
	if st := d.Stats(); st.BadFrames != 6 {
		t.Fatalf("bad frames %d, want 6", st.BadFrames)
	}
	if n := bytes.Count(buf.Bytes(), []byte("\n")); n != 1 || !bytes.Contains(buf.Bytes(), []byte("/dev/ttyTEST")) {
		t.Fatalf("%d log lines, want 1 naming the port:\n%s", n, buf.String())
	}
}

func TestSilentGivesNoResponse(t *testing.T) {
	s := newScripted(func(int, []byte) []byte { return nil })
	d := analyzer.NewNHT6(s, "/dev/ttyTEST", analyzer.Options{Timeout: 50 * time.Millisecond})
	defer d.Close()
	_, err := d.Read(t.Context())
	if !errors.Is(err, analyzer.ErrNoResponse) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want ErrNoResponse", err)
	}
	// A partial reply is not silence.
	s2 := newScripted(func(int, []byte) []byte { return []byte{0xA5, 0x01} })
	d2 := analyzer.NewNHT6(s2, "/dev/ttyTEST", analyzer.Options{Timeout: 50 * time.Millisecond, Method: analyzer.MethodRealtime})
	defer d2.Close()
	if _, err := d2.Read(t.Context()); !errors.Is(err, analyzer.ErrIncomplete) {
		t.Fatalf("err = %v, want ErrIncomplete", err)
	}
}

func TestCancelAndClose(t *testing.T) {
	s := newScripted(func(int, []byte) []byte { return nil })
	d := analyzer.NewNHA506(s, "test", analyzer.Options{Timeout: time.Hour})

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := d.Read(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled read: %v", err)
	}

	// Close while a Read waits: the Read ends with ErrClosed.
	res := make(chan error, 1)
	started := make(chan struct{})
	s.reply = func(int, []byte) []byte { close(started); return nil }
	go func() {
		_, err := d.Read(t.Context())
		res <- err
	}()
	<-started
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-res; !errors.Is(err, analyzer.ErrClosed) {
		t.Fatalf("read during close: %v", err)
	}
	if _, err := d.Read(t.Context()); !errors.Is(err, analyzer.ErrClosed) {
		t.Fatalf("read after close: %v", err)
	}
	if err := d.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
}

func TestLineEnds(t *testing.T) {
	// A plain reader at EOF is the end of the line, not "no data yet".
	d := analyzer.NewNHA506(readWriteCloser{bytes.NewReader(nil), io.Discard, io.NopCloser(nil)}, "test", analyzer.Options{})
	defer d.Close()
	if _, err := d.Read(t.Context()); !errors.Is(err, analyzer.ErrClosed) || !errors.Is(err, io.EOF) {
		t.Fatalf("err = %v, want ErrClosed wrapping io.EOF", err)
	}
}

// TestSimulatorFragments runs each simulator through its driver on an
// in-memory line whose reads are cut into single bytes.
func TestSimulatorFragments(t *testing.T) {
	for _, tt := range []struct{ file, driver string }{
		{"nha506-before.yaml", "nha506"}, {"mqw511-before.yaml", "mqw511"},
		{"fga4100-after.yaml", "fga4100"}, {"nht6-free-accel.yaml", "nht6"},
	} {
		t.Run(tt.driver, func(t *testing.T) {
			rd, err := analyzersim.LoadFile("../../testdata/analyzers/" + tt.file)
			if err != nil {
				t.Fatal(err)
			}
			sim, err := analyzersim.New(rd, analyzersim.Options{Faults: analyzersim.Faults{Garbage: []byte{0, 1, 2}}})
			if err != nil {
				t.Fatal(err)
			}
			drv, ins := net.Pipe()
			serveErr := make(chan error, 1)
			go func() { serveErr <- sim.Serve(t.Context(), ins) }()
			defer func() {
				ins.Close()
				if err := <-serveErr; err != nil {
					t.Errorf("serve: %v", err)
				}
			}()
			open := map[string]func(io.ReadWriter) analyzer.Instrument{
				"nha506":  func(rw io.ReadWriter) analyzer.Instrument { return analyzer.NewNHA506(rw, "pipe", analyzer.Options{}) },
				"mqw511":  func(rw io.ReadWriter) analyzer.Instrument { return analyzer.NewMQW511(rw, "pipe", analyzer.Options{}) },
				"fga4100": func(rw io.ReadWriter) analyzer.Instrument { return analyzer.NewFGA4100(rw, "pipe", analyzer.Options{}) },
				"nht6":    func(rw io.ReadWriter) analyzer.Instrument { return analyzer.NewNHT6(rw, "pipe", analyzer.Options{}) },
			}[tt.driver]
			inst := open(readWriteCloser{iotest.OneByteReader(drv), drv, drv})
			defer inst.Close()
			for i := range 3 {
				r, err := inst.Read(t.Context())
				if err != nil {
					t.Fatalf("read %d: %v", i, err)
				}
				if len(r.Values) == 0 {
					t.Fatalf("read %d: no values", i)
				}
			}
		})
	}
}

func TestParseAddress(t *testing.T) {
	tests := []struct {
		in   string
		want analyzer.Address
		err  bool
	}{
		{in: "nha506:/dev/ttyUSB1", want: analyzer.Address{Driver: "nha506", Port: "/dev/ttyUSB1"}},
		{in: "mqw511:/dev/ttyS0@9600", want: analyzer.Address{Driver: "mqw511", Port: "/dev/ttyS0", Baud: 9600}},
		{in: "fga4100:/dev/serial/by-path/pci-0000:00:14.0-usb-0:1:1.0-port0@19200",
			want: analyzer.Address{Driver: "fga4100", Port: "/dev/serial/by-path/pci-0000:00:14.0-usb-0:1:1.0-port0", Baud: 19200}},
		{in: "nht6:/dev/odd@name", want: analyzer.Address{Driver: "nht6", Port: "/dev/odd@name"}},
		{in: "nha506", err: true},
		{in: ":/dev/ttyS0", err: true},
		{in: "NHA506:/dev/ttyS0", err: true},
		{in: "nha506:", err: true},
		{in: "nha506:@9600", err: true},
		{in: "nha506:/dev/x@0", err: true},
		{in: "nha506:/dev/x\n", err: true},
	}
	for _, tt := range tests {
		got, err := analyzer.ParseAddress(tt.in)
		if tt.err {
			if !errors.Is(err, analyzer.ErrBadAddress) {
				t.Errorf("ParseAddress(%q) err = %v, want ErrBadAddress", tt.in, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseAddress(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
		if again, err := analyzer.ParseAddress(got.String()); err != nil || again != got {
			t.Errorf("String round trip %q: %+v, %v", got.String(), again, err)
		}
	}
}

func FuzzParseAddress(f *testing.F) {
	for _, s := range []string{"nha506:/dev/ttyUSB1", "mqw511:/dev/ttyS0@9600", "x:@", "a:b@99999999999", "nht6:/dev/a@b@9600"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := analyzer.ParseAddress(s)
		if err != nil {
			if !errors.Is(err, analyzer.ErrBadAddress) {
				t.Fatalf("error not ErrBadAddress: %v", err)
			}
			return
		}
		if again, err := analyzer.ParseAddress(a.String()); err != nil || again != a {
			t.Fatalf("round trip %+v -> %q -> %+v, %v", a, a.String(), again, err)
		}
	})
}

type fakeInstrument struct{ addr analyzer.Address }

func (f *fakeInstrument) Read(context.Context) (analyzer.Reading, error) {
	return analyzer.Reading{Method: analyzer.MethodRealtime, Instrument: analyzer.InstrumentID{Model: "NHA-509", Port: f.addr.Port, Protocol: f.addr.Driver}}, nil
}
func (f *fakeInstrument) Close() error { return nil }

func TestOpen(t *testing.T) {
	vendor := analyzer.Driver{Name: "nha509", Baud: 115200, Open: func(a analyzer.Address, _ analyzer.Options) (analyzer.Instrument, error) {
		return &fakeInstrument{addr: a}, nil
	}}
	tests := []struct {
		addr     string
		opts     analyzer.Options
		wantBaud int
		wantErr  error
	}{
		{addr: "nha509:/dev/ttyUSB0", opts: analyzer.Options{Drivers: []analyzer.Driver{vendor}}, wantBaud: 115200},
		{addr: "nha509:/dev/ttyUSB0@9600", opts: analyzer.Options{Drivers: []analyzer.Driver{vendor}, Baud: 38400}, wantBaud: 9600},
		{addr: "nha509:/dev/ttyUSB0", opts: analyzer.Options{Drivers: []analyzer.Driver{vendor}, Baud: 38400}, wantBaud: 38400},
		{addr: "nha509:/dev/ttyUSB0", wantErr: analyzer.ErrUnknownDriver},
		{addr: "nha506", wantErr: analyzer.ErrBadAddress},
		{addr: "nht6:/dev/null", opts: analyzer.Options{Method: analyzer.MethodASM}, wantErr: analyzer.ErrBadOptions},
		{addr: "nha506:/nonexistent/ttyUSB9", wantErr: fs.ErrNotExist},
		{addr: "nha506:/dev/null@12345", wantErr: nil}, // checked below: bad baud
	}
	for _, tt := range tests {
		inst, err := analyzer.Open(tt.addr, tt.opts)
		if tt.addr == "nha506:/dev/null@12345" {
			if err == nil {
				inst.Close()
				t.Errorf("Open(%q) accepted baud 12345", tt.addr)
			}
			continue
		}
		if tt.wantErr != nil {
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("Open(%q) err = %v, want %v", tt.addr, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("Open(%q): %v", tt.addr, err)
			continue
		}
		f := inst.(*fakeInstrument)
		if f.addr.Baud != tt.wantBaud {
			t.Errorf("Open(%q) baud %d, want %d", tt.addr, f.addr.Baud, tt.wantBaud)
		}
		inst.Close()
	}
}

// FuzzReadStream feeds arbitrary instrument bytes to each driver: it must
// return (a reading or an error from this package) before its deadline and
// never panic.
func FuzzReadStream(f *testing.F) {
	f.Add(byte(0), unhex(f, goldenNHA506))
	f.Add(byte(0), append([]byte{0x06, 0x06}, unhex(f, goldenNHA506)...))
	f.Add(byte(1), unhex(f, goldenMQW511))
	f.Add(byte(2), fgaGolden(f))
	f.Add(byte(3), unhex(f, goldenNHT6Free))
	f.Add(byte(3), []byte{0x15, 0x01})
	f.Add(byte(0), []byte{0x05})
	f.Fuzz(func(t *testing.T, which byte, reply []byte) {
		s := newScripted(func(int, []byte) []byte { return reply })
		o := analyzer.Options{Timeout: 30 * time.Millisecond, Gap: 10 * time.Millisecond}
		rw := wrapped(s, iotest.HalfReader)
		var inst analyzer.Instrument
		switch which % 4 {
		case 0:
			inst = analyzer.NewNHA506(rw, "fuzz", o)
		case 1:
			inst = analyzer.NewMQW511(rw, "fuzz", o)
		case 2:
			inst = analyzer.NewFGA4100(rw, "fuzz", o)
		default:
			inst = analyzer.NewNHT6(rw, "fuzz", o)
		}
		defer inst.Close()
		start := time.Now()
		r, err := inst.Read(t.Context())
		if took := time.Since(start); took > 5*time.Second { // generous: shared CI cores
			t.Fatalf("read took %v", took)
		}
		if err == nil && len(r.Values) == 0 {
			t.Fatal("reading without values")
		}
		known := []error{analyzer.ErrNoResponse, analyzer.ErrIncomplete, analyzer.ErrBadFrame, analyzer.ErrBusy, analyzer.ErrNAK}
		if err != nil && !slices.ContainsFunc(known, func(e error) bool { return errors.Is(err, e) }) {
			t.Fatalf("unexpected error: %v", err)
		}
	})
}
