package uplink

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/bayagent/bayagent/agent/internal/mosquittotest"
)

func TestNewValidatesOptions(t *testing.T) {
	base := func() Options {
		return Options{Broker: "ssl://broker.example:8883", Shop: "330106000123456", Device: "bay-01"}
	}
	env := func(name string) (string, bool) {
		if name == "MQTT_PW" {
			return "s3cret", true
		}
		return "", false
	}
	for _, tc := range []struct {
		name    string
		edit    func(*Options)
		wantErr string // "" = valid
	}{
		{"defaults", func(*Options) {}, ""},
		{"mqtts default port", func(o *Options) { o.Broker = "mqtts://broker.example" }, ""},
		{"plain allowed", func(o *Options) { o.Broker, o.AllowPlaintext = "tcp://127.0.0.1", true }, ""},
		{"plain not allowed", func(o *Options) { o.Broker = "tcp://127.0.0.1:1883" }, "is plain text"},
		{"bad scheme", func(o *Options) { o.Broker = "http://x:1" }, "broker URL must be ssl://, tls://, mqtts:// or tcp://"},
		{"no host", func(o *Options) { o.Broker = "ssl://" }, "broker URL must be"},
		{"empty broker", func(o *Options) { o.Broker = "" }, "broker URL must be"},
		{"credentials in URL", func(o *Options) { o.Broker = "ssl://u:p@x:1" }, "must not carry credentials"},
		{"live qos", func(o *Options) { o.LiveQoS = 2 }, "live qos must be 0 or 1: 2"},
		{"missing shop", func(o *Options) { o.Shop = "" }, "shop"},
		{"bad device", func(o *Options) { o.Device = "dev/+" }, "device"},
		{"wildcard prefix", func(o *Options) { o.Prefix = "a/#" }, "wildcards"},
		{"slash prefix", func(o *Options) { o.Prefix = "/a" }, "must not start or end with /"},
		{"cert without key", func(o *Options) { o.CertFile = "c.pem" }, "cert_file and key_file must be given together"},
		{"missing CA file", func(o *Options) { o.CAFile = "/nonexistent/ca.pem" }, "ca_file"},
		{"password env unset", func(o *Options) { o.Username, o.PasswordEnv = "u", "NOPE" }, "environment variable NOPE is not set"},
		{"password without user", func(o *Options) { o.PasswordEnv = "MQTT_PW" }, "username is empty"},
		{"password env set", func(o *Options) { o.Username, o.PasswordEnv = "u", "MQTT_PW" }, ""},
		{"in-flight too large", func(o *Options) { o.InFlight = MaxInFlight + 1 }, "in-flight window must be between 1 and"},
		{"negative timeout", func(o *Options) { o.ConnectTimeout = -1 }, "connect timeout must not be negative"},
		{"backoff order", func(o *Options) { o.BackoffMin, o.BackoffMax = time.Second, time.Millisecond }, "backoff max"},
		{"payload beyond MQTT", func(o *Options) { o.MaxPayload = MaxPacket }, "max payload"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := base()
			o.LookupEnv = env
			tc.edit(&o)
			u, err := New(o, newMemQueue(), commander{}, nil)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				return
			}
			if err == nil || !errors.Is(err, ErrOptions) || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("New = %v, %v; want ErrOptions containing %q", u, err, tc.wantErr)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Fatalf("error leaks the password: %v", err)
			}
		})
	}
}

func TestTopics(t *testing.T) {
	u, err := New(Options{Broker: "ssl://b", Prefix: "ehr/v1", Shop: "S1", Device: "bay-01"}, newMemQueue(), commander{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	tp := u.Topics()
	if tp != DeviceTopics("ehr/v1", "S1", "bay-01") || tp.Root != "ehr/v1/S1/bay-01" {
		t.Fatalf("topics %+v", tp)
	}
	got := strings.Join([]string{tp.Records, tp.Status, tp.Cmd, tp.Reply, tp.Live}, " ")
	want := "ehr/v1/S1/bay-01/records ehr/v1/S1/bay-01/status ehr/v1/S1/bay-01/cmd ehr/v1/S1/bay-01/reply ehr/v1/S1/bay-01/live"
	if got != want {
		t.Fatalf("topics %s, want %s", got, want)
	}
	for _, c := range []struct {
		topic, shop, device, leaf string
		ok                        bool
	}{
		{tp.Reply, "S1", "bay-01", "reply", true},
		{tp.Records, "S1", "bay-01", "records", true},
		{"ehr/v2/S1/bay-01/records", "", "", "", false},
		{"ehr/v1/S1/records", "", "", "", false},
		{"ehr/v1/S1/bay-01/cmd/x", "", "", "", false},
	} {
		shop, device, leaf, ok := ParseTopic("ehr/v1", c.topic)
		if shop != c.shop || device != c.device || leaf != c.leaf || ok != c.ok {
			t.Errorf("ParseTopic(%q) = %q %q %q %v", c.topic, shop, device, leaf, ok)
		}
	}
	if every := DeviceTopics("ehr/v1", "+", "+"); every.Records != "ehr/v1/+/+/records" {
		t.Errorf("filter %s", every.Records)
	}
	req, err := json.Marshal(Request{ID: "1", Cmd: "resend", Args: map[string]int{"from_seq": 3}})
	if want := `{"id":"1","cmd":"resend","args":{"from_seq":3}}`; err != nil || string(req) != want {
		t.Errorf("request %s, want %s", req, want)
	}
}

// TestBrokerURLErrorHidesPassword is part of hole 6 of issue 12: a broker
// URL that fails to parse printed its password in the error.
func TestBrokerURLErrorHidesPassword(t *testing.T) {
	for _, broker := range []string{
		"ssl://bay:s3cret-pw@broker .example:8883",  // a space: url.Parse fails
		"ssl://bay:s3cret-pw@broker:88x3",           // a bad port
		"ssl://bay:s3cret-pw@[::1",                  // an open bracket
		"tcp://bay:s3cret-pw@broker.example:1883",   // plain text refused
		"ssl://bay:s3cret-pw@broker.example:8883/x", // a path
		"mqtt://bay:s3cret-pw@broker.example",       // a wrong scheme
		"bay:s3cret-pw@broker.example",              // no scheme
	} {
		_, err := New(Options{Broker: broker, Shop: "s1", Device: "d1"}, newMemQueue(), commander{}, nil)
		if err == nil || strings.Contains(err.Error(), "s3cret") {
			t.Errorf("%s: error %v; want one without the password", broker, err)
		}
	}
}

func TestPasswordNeverLogged(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens: every attempt fails and is logged
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&lockedWriter{w: &buf}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	o := Options{Broker: "tcp://" + addr, AllowPlaintext: true, Shop: "s1", Device: "d1", Username: "bay",
		PasswordEnv: "PW", LookupEnv: func(string) (string, bool) { return "s3cret-pw", true },
		BackoffMin: time.Millisecond, BackoffMax: 5 * time.Millisecond}
	u, err := New(o, newMemQueue(), commander{}, log)
	if err != nil {
		t.Fatal(err)
	}
	stop := run(t, u)
	waitStats(t, u, wait10, "a connection error", func(s Stats) bool { return errors.Is(s.LastError, ErrConnect) })
	stop()
	if out := buf.String(); strings.Contains(out, "s3cret-pw") || !strings.Contains(out, "cannot connect") {
		t.Fatalf("log:\n%s", out)
	}
}

func TestParseCommand(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    command
		wantErr error
		errText string
	}{
		{`{"id":"a","cmd":"open_job","args":{"plate":"ABC"}}`, command{ID: "a", Name: "open_job", Args: json.RawMessage(`{"plate":"ABC"}`)}, nil, ""},
		{` { "cmd" : "x1" , "id" : "b" } `, command{ID: "b", Name: "x1"}, nil, ""},
		{`{"id":"c","cmd":"x","args":null}`, command{ID: "c", Name: "x"}, nil, ""},
		{``, command{}, ErrCommandSyntax, "empty"},
		{`[]`, command{}, ErrCommandSyntax, "must be a JSON object"},
		{`"x"`, command{}, ErrCommandSyntax, "must be a JSON object"},
		{`{"id":"d","cmd":"x"`, command{ID: "d", Name: "x"}, ErrCommandSyntax, ""},
		{`{"id":"e","cmd":"x"} {}`, command{ID: "e", Name: "x"}, ErrCommandSyntax, "trailing data"},
		{`{"id":"f","cmd":"x","extra":1}`, command{ID: "f", Name: "x"}, ErrCommandField, `unknown member "extra"`},
		{`{"id":"g","ID":"h","cmd":"x"}`, command{ID: "g"}, ErrCommandField, `unknown member "ID"`},
		{`{"id":"i","id":"i","cmd":"x"}`, command{ID: "i"}, ErrCommandField, `duplicate member "id"`},
		{`{"cmd":"x"}`, command{Name: "x"}, ErrCommandField, `missing member "id"`},
		{`{"id":"j"}`, command{ID: "j"}, ErrCommandField, `missing member "cmd"`},
		{`{"id":7,"cmd":"x"}`, command{}, ErrCommandField, `"id" must be a JSON string`},
		{`{"id":"","cmd":"x"}`, command{}, ErrCommandField, `"id" must be 1 to 128`},
		{`{"id":"k\n","cmd":"x"}`, command{}, ErrCommandField, `printable ASCII`},
		{`{"id":"l","cmd":"Open"}`, command{ID: "l"}, ErrCommandField, `"cmd" must match`},
		{`{"id":"m","cmd":"x","args":"s"}`, command{ID: "m", Name: "x"}, ErrCommandField, `"args" must be a JSON object`},
		{"{\"id\":\"n\xff\",\"cmd\":\"x\"}", command{}, ErrCommandSyntax, "UTF-8"},
		{`{"id":"s1","cmd":"x","ts":"2026-11-29T05:00:00Z","nonce":"abcdefgh","key":"ops","sig":"AAAA"}`, command{ID: "s1", Name: "x"}, nil, ""},
		{`{"id":"s2","cmd":"x","ts":1}`, command{ID: "s2", Name: "x"}, ErrCommandField, `"ts" must be a JSON string`},
		{`{"id":"s3","cmd":"x","sig":"a","sig":"a"}`, command{ID: "s3", Name: "x"}, ErrCommandField, `duplicate member "sig"`},
		{`{"id":"o","cmd":"x","args":{` + strings.Repeat(`"k":1,`, 100) + `"k":1}}`, command{ID: "o"}, ErrCommandTooLarge, "limit 256"},
	} {
		got, err := parseCommand([]byte(tc.in), 256)
		if tc.wantErr == nil {
			if err != nil || got.ID != tc.want.ID || got.Name != tc.want.Name || string(got.Args) != string(tc.want.Args) {
				t.Errorf("parseCommand(%s) = %+v, %v; want %+v", tc.in, got, err, tc.want)
			}
			continue
		}
		if !errors.Is(err, tc.wantErr) || !strings.Contains(err.Error(), tc.errText) {
			t.Errorf("parseCommand(%s) error %v, want %v containing %q", tc.in, err, tc.wantErr, tc.errText)
		}
		if tc.wantErr != ErrCommandTooLarge && got.ID != tc.want.ID {
			t.Errorf("parseCommand(%s) id for the error reply = %q, want %q", tc.in, got.ID, tc.want.ID)
		}
	}
}

func FuzzParseCommand(f *testing.F) {
	for _, s := range []string{
		`{"id":"a","cmd":"open_job","args":{"plate":"ABC","vin":"1HGCM82633A004352"}}`,
		`{"id":"b","cmd":"start_scan"}`, `{"cmd":"x"}`, `{"id":"c","id":"c","cmd":"x"}`,
		`{"id":"d","cmd":"x","args":[1]}`, `[]`, ``, `{"id":"e","cmd":"x"} 1`, "{\"id\":\"\xff\"}",
		`{"id":"f","cmd":"x","args":{"a":{"b":[1,2,{"c":null}]}}}`,
		`{"id":"g","cmd":"clear_dtcs","args":{"technician":"T1"},"ts":"2026-11-29T05:00:00Z","nonce":"n0nce-123","key":"ops-1","sig":"c2ln"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		cmd, err := parseCommand(b, 4096)
		if err != nil {
			if !errors.Is(err, ErrCommandSyntax) && !errors.Is(err, ErrCommandField) && !errors.Is(err, ErrCommandTooLarge) {
				t.Fatalf("error %v wraps no sentinel", err)
			}
			if cmd.ID != "" && validID(cmd.ID) != nil {
				t.Fatalf("invalid id %q offered for the reply", cmd.ID)
			}
			return
		}
		if validID(cmd.ID) != nil || validName(cmd.Name) != nil {
			t.Fatalf("accepted invalid id/cmd: %+v", cmd)
		}
		if cmd.Args != nil && (!json.Valid(cmd.Args) || cmd.Args[0] != '{') {
			t.Fatalf("args not an object: %s", cmd.Args)
		}
		// A valid envelope survives a round trip.
		again, err := json.Marshal(Request{ID: cmd.ID, Cmd: cmd.Name, Args: cmd.Args})
		if err != nil {
			t.Fatal(err)
		}
		cmd2, err := parseCommand(again, 1<<20)
		if err != nil || cmd2.ID != cmd.ID || cmd2.Name != cmd.Name {
			t.Fatalf("round trip of %s: %+v, %v", again, cmd2, err)
		}
	})
}

func TestBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := backoff{min: 100 * time.Millisecond, max: 2 * time.Second}
		for i := range 12 {
			d := min(b.max, b.min<<i)
			start := time.Now()
			if err := b.wait(t.Context()); err != nil {
				t.Fatal(err)
			}
			if el := time.Since(start); el < d/2 || el > d {
				t.Fatalf("wait #%d took %v, want within [%v, %v]", i, el, d/2, d)
			}
		}
		b.reset()
		if d := b.next(); d > b.min {
			t.Fatalf("after reset: %v", d)
		}

		// A context that ends cuts a long wait short.
		b.attempt = 10
		ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
		defer cancel()
		start := time.Now()
		if err := b.wait(ctx); !errors.Is(err, context.DeadlineExceeded) || time.Since(start) != 300*time.Millisecond {
			t.Fatalf("wait = %v after %v", err, time.Since(start))
		}
	})
}

func TestBackoffJitterBoundsAndOverflow(t *testing.T) {
	for _, r := range []func(int64) int64{
		func(int64) int64 { return 0 },
		func(n int64) int64 { return n - 1 },
	} {
		b := backoff{min: time.Second, max: time.Hour, int64n: r}
		for i := range 200 { // far past 2^63 ns: must stay capped, never negative
			d := b.next()
			want := min(time.Hour, time.Second<<min(i, 20))
			if d < want/2 || d > want {
				t.Fatalf("next #%d = %v, want within [%v, %v]", i, d, want/2, want)
			}
		}
	}
}

// fakeToken is an mqtt.Token completed by the test.
type fakeToken struct {
	done chan struct{}
	err  error
}

func newFakeToken() *fakeToken                        { return &fakeToken{done: make(chan struct{})} }
func (f *fakeToken) complete(err error)               { f.err = err; close(f.done) }
func (f *fakeToken) Wait() bool                       { <-f.done; return true }
func (f *fakeToken) WaitTimeout(d time.Duration) bool { return true }
func (f *fakeToken) Done() <-chan struct{}            { return f.done }
func (f *fakeToken) Error() error                     { return f.err }

var _ mqtt.Token = (*fakeToken)(nil)

// runAckLoop runs ackLoop with its acker, as pump does, and returns when
// both are done.
func runAckLoop(u *Uplink, ctx context.Context, c *conn, flights <-chan flight, slots chan<- struct{}) {
	acks := make(chan []uint64, cap(slots))
	done := make(chan struct{})
	go func() { u.acker(acks); close(done) }()
	u.ackLoop(ctx, c, flights, slots, acks)
	close(acks)
	<-done
}

func TestAckLoop(t *testing.T) {
	newConn := func() *conn {
		ctx, lose := context.WithCancelCause(context.Background())
		return &conn{ctx: ctx, lose: lose}
	}
	t.Run("batches completed flights in order", func(t *testing.T) {
		u := &Uplink{log: slog.New(slog.DiscardHandler), changed: make(chan struct{})}
		q := newMemQueue()
		q.add([]byte("1"), []byte("2"), []byte("3"))
		u.q = q
		c := newConn()
		flights, slots := make(chan flight, 3), make(chan struct{}, 3)
		toks := []*fakeToken{newFakeToken(), newFakeToken(), newFakeToken()}
		for i, tk := range toks {
			tk.complete(nil)
			flights <- flight{seq: uint64(i + 1), tok: tk}
		}
		close(flights)
		runAckLoop(u, c.ctx, c, flights, slots)
		if q.depth() != 0 || q.ackCalls != 1 || len(slots) != 3 || u.acked.Load() != 3 {
			t.Fatalf("depth %d, %d Ack calls, %d slots back, acked %d", q.depth(), q.ackCalls, len(slots), u.acked.Load())
		}
	})
	t.Run("completion after the connection dropped does not ack", func(t *testing.T) {
		u := &Uplink{log: slog.New(slog.DiscardHandler), changed: make(chan struct{})}
		q := newMemQueue()
		q.add([]byte("1"))
		u.q = q
		c := newConn()
		flights, slots := make(chan flight, 1), make(chan struct{}, 1)
		tk := newFakeToken()
		flights <- flight{seq: 1, tok: tk}
		done := make(chan struct{})
		go func() { runAckLoop(u, c.ctx, c, flights, slots); close(done) }()
		c.lose(ErrConnectionLost)
		tk.complete(nil) // a PUBACK-looking completion, too late
		<-done
		if q.depth() != 1 || q.ackCalls != 0 {
			t.Fatalf("record acked after the connection was lost: depth %d, %d Ack calls", q.depth(), q.ackCalls)
		}
	})
	t.Run("a failed publish ends the connection", func(t *testing.T) {
		u := &Uplink{log: slog.New(slog.DiscardHandler), changed: make(chan struct{})}
		q := newMemQueue()
		q.add([]byte("1"), []byte("2"))
		u.q = q
		c := newConn()
		flights, slots := make(chan flight, 2), make(chan struct{}, 2)
		ok, bad := newFakeToken(), newFakeToken()
		ok.complete(nil)
		bad.complete(errors.New("publish was broken by timeout"))
		flights <- flight{seq: 1, tok: ok}
		flights <- flight{seq: 2, tok: bad}
		runAckLoop(u, c.ctx, c, flights, slots)
		if q.depth() != 1 || !errors.Is(context.Cause(c.ctx), ErrPublish) {
			t.Fatalf("depth %d (want the failed record kept), connection cause %v", q.depth(), context.Cause(c.ctx))
		}
	})
}

// TestReadCA: a CA file gives a pool with its certificate; a missing file
// and a file with no PEM certificate are errors that name the problem.
func TestReadCA(t *testing.T) {
	dir := t.TempDir()
	ca := mosquittotest.NewCA(t, dir, "ca")
	pool, err := ReadCA(ca.File)
	if err != nil || !pool.Equal(ca.Pool()) {
		t.Fatalf("ReadCA(%s) = %v, %v; want the CA's pool", ca.File, pool, err)
	}
	if _, err := ReadCA(filepath.Join(dir, "missing.pem")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v, want fs.ErrNotExist", err)
	}
	junk := filepath.Join(dir, "junk.pem")
	if err := os.WriteFile(junk, []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadCA(junk); err == nil || !strings.Contains(err.Error(), junk+": no PEM certificate in it") {
		t.Errorf("junk file: %v, want it to say there is no PEM certificate", err)
	}
}
