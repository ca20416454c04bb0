package isotp

import (
	"context"
	"encoding/hex"
	"sync"
	"testing"
	"time"

	"github.com/bayagent/bayagent/drivers/canbus"
	"github.com/bayagent/bayagent/drivers/obd"
	"go.einride.tech/can"
)

// recorder logs every frame sent by the wrapped nodes, in send order, with
// the (fake, under synctest) time it was sent.
type recorder struct {
	mu     sync.Mutex
	frames []sentFrame
}

type sentFrame struct {
	at   time.Time
	node string
	f    can.Frame
}

func (r *recorder) add(node string, f can.Frame) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.frames = append(r.frames, sentFrame{time.Now(), node, f})
}

func (r *recorder) all() []sentFrame {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]sentFrame(nil), r.frames...)
}

// from returns the frames sent with identifier id.
func (r *recorder) from(id uint32) []sentFrame {
	var out []sentFrame
	for _, s := range r.all() {
		if s.f.ID == id {
			out = append(out, s)
		}
	}
	return out
}

// recConn is a canbus.Conn that records what it sends.
type recConn struct {
	canbus.Conn
	name string
	rec  *recorder
}

func (c recConn) Send(ctx context.Context, f can.Frame) error {
	c.rec.add(c.name, f)
	return c.Conn.Send(ctx, f)
}

func kind(f can.Frame) Kind { return Kind(f.Data[0] >> 4) }

// answers is a Handler that looks requests up by hex.
func answers(m map[string][]byte) Handler {
	return func(req []byte, _ bool) ([]byte, bool) {
		r, ok := m[hex.EncodeToString(req)]
		return r, ok
	}
}

// startECU runs Serve on its own node; cleanup stops it and checks it
// returned nil.
func startECU(t *testing.T, bus *canbus.MemBus, rec *recorder, cfg ServerConfig, h Handler) {
	t.Helper()
	var conn canbus.Conn = bus.Connect()
	if rec != nil {
		conn = recConn{conn, cfg.ECU.String(), rec}
	}
	cfg.Conn = conn
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, cfg, h) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve(%s) = %v", cfg.ECU, err)
		}
		conn.Close()
	})
}

// script runs fn as a hand-written ECU on its own node; cleanup waits for it.
func script(t *testing.T, bus *canbus.MemBus, fn func(ctx context.Context, c canbus.Conn)) {
	t.Helper()
	conn := bus.Connect()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { fn(ctx, conn) })
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		conn.Close()
	})
}

// answerEach is a script that runs answer for each functional request
// (0x7DF) it receives, until the test ends.
func answerEach(t *testing.T, bus *canbus.MemBus, answer func(ctx context.Context, c canbus.Conn, p PDU)) {
	t.Helper()
	script(t, bus, func(ctx context.Context, c canbus.Conn) {
		for {
			p, err := recvPDU(ctx, c, 0x7DF)
			if err != nil {
				return
			}
			answer(ctx, c, p)
		}
	})
}

// recvPDU waits for the next frame with identifier id and parses it.
func recvPDU(ctx context.Context, c canbus.Conn, id uint32) (PDU, error) {
	for {
		f, err := c.Receive(ctx)
		if err != nil {
			return PDU{}, err
		}
		if f.ID == id {
			return Parse(append([]byte(nil), f.Data[:f.Length]...))
		}
	}
}

func sendHex(ctx context.Context, c canbus.Conn, id uint32, s string) error {
	b, err := hex.DecodeString(s)
	if err != nil {
		return err
	}
	f := can.Frame{ID: id, IsExtended: id > can.MaxID, Length: uint8(len(b))}
	copy(f.Data[:], b)
	return c.Send(ctx, f)
}

// newClient starts a Client on its own node; cleanup closes it.
func newClient(t *testing.T, bus *canbus.MemBus, rec *recorder, cfg Config) *Client {
	t.Helper()
	var conn canbus.Conn = bus.Connect()
	if rec != nil {
		conn = recConn{conn, "tester", rec}
	}
	c := NewClient(conn, cfg)
	t.Cleanup(func() {
		c.Close()
		conn.Close()
	})
	return c
}

// payload returns n bytes starting with the positive response to sid.
func payload(sid byte, n int, seed byte) []byte {
	b := make([]byte, n)
	b[0] = sid + 0x40
	for i := 1; i < n; i++ {
		b[i] = byte(i)*7 + seed
	}
	return b
}

func byECU(resps []obd.Response) map[obd.ECU][]byte {
	m := make(map[obd.ECU][]byte)
	for _, r := range resps {
		m[r.ECU] = r.Data
	}
	return m
}
