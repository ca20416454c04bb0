package uplink

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bayagent/bayagent/agent/i18n"
	"github.com/bayagent/bayagent/agent/internal/mosquittotest"
	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// memQueue is an in-memory Queue for tests and benchmarks.
type memQueue struct {
	mu          sync.Mutex
	seqs        []uint64 // every seq ever added, ascending
	head        int      // seqs[:head] are no longer pending
	pending     map[uint64][]byte
	acks        map[uint64]int
	ackCalls    int
	quarantined map[uint64]string
	changed     chan struct{}
	last        uint64
}

func newMemQueue() *memQueue {
	return &memQueue{pending: map[uint64][]byte{}, acks: map[uint64]int{}, quarantined: map[uint64]string{}, changed: make(chan struct{})}
}

func (q *memQueue) notifyLocked() {
	close(q.changed)
	q.changed = make(chan struct{})
}

// add appends payloads with the next sequence numbers.
func (q *memQueue) add(payloads ...[]byte) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, p := range payloads {
		q.last++
		q.seqs = append(q.seqs, q.last)
		q.pending[q.last] = p
	}
	q.notifyLocked()
}

// addRecords appends n record-like payloads of about size bytes.
func (q *memQueue) addRecords(n, size int) {
	ps := make([][]byte, n)
	q.mu.Lock()
	first := q.last + 1
	q.mu.Unlock()
	for i := range ps {
		ps[i] = fakeRecord(first+uint64(i), size)
	}
	q.add(ps...)
}

func fakeRecord(seq uint64, size int) []byte {
	b := fmt.Appendf(nil, `{"schema":2,"device":"dev-a","shop":"s1","seq":%d,"time":"2026-01-02T03:04:05.000Z","clock":{"synced":true,"boot":"","mono_ms":0},"kind":"scan","job":"J-1","body":{"pad":"`, seq)
	pad := max(0, size-len(b)-160)
	b = append(b, bytes.Repeat([]byte("x"), pad)...)
	b = append(b, `"},"prev":"0000000000000000000000000000000000000000000000000000000000000000","sig":"AAAA"}`...)
	return b
}

func seqOf(t testing.TB, payload []byte) uint64 {
	var r struct{ Seq uint64 }
	if err := json.Unmarshal(payload, &r); err != nil {
		t.Fatalf("record payload %q: %v", payload, err)
	}
	return r.Seq
}

func (q *memQueue) Next(ctx context.Context, after uint64, n int) ([]Item, error) {
	for {
		q.mu.Lock()
		var out []Item
		i := q.head + sort.Search(len(q.seqs)-q.head, func(i int) bool { return q.seqs[q.head+i] > after })
		for ; i < len(q.seqs) && len(out) < n; i++ {
			if p, ok := q.pending[q.seqs[i]]; ok {
				out = append(out, Item{Seq: q.seqs[i], Payload: p})
			}
		}
		ch := q.changed
		q.mu.Unlock()
		if len(out) > 0 {
			return out, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

func (q *memQueue) removeLocked(seq uint64) {
	delete(q.pending, seq)
	for q.head < len(q.seqs) {
		if _, ok := q.pending[q.seqs[q.head]]; ok {
			break
		}
		q.head++
	}
	q.notifyLocked()
}

func (q *memQueue) Ack(seqs ...uint64) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.ackCalls++
	for _, s := range seqs {
		if _, ok := q.pending[s]; ok {
			q.acks[s]++
			q.removeLocked(s)
		}
	}
	return nil
}

func (q *memQueue) Quarantine(seq uint64, reason string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.quarantined[seq] = reason
	q.removeLocked(seq)
	return nil
}

func (q *memQueue) depth() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.pending)
}

// waitEmpty waits until no record is pending.
func (q *memQueue) waitEmpty(t testing.TB, timeout time.Duration) {
	t.Helper()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		q.mu.Lock()
		n, ch := len(q.pending), q.changed
		q.mu.Unlock()
		if n == 0 {
			return
		}
		select {
		case <-ch:
		case <-timer.C:
			t.Fatalf("queue not drained after %v: %d pending", timeout, n)
		}
	}
}

// commander answers "echo" with its args, "fail" with an error and
// anything else with ErrUnknownCommand.
type commander struct{}

func (commander) Lane(string) string { return "bay" }

func (commander) Command(ctx context.Context, name string, args json.RawMessage) (any, error) {
	switch name {
	case "echo":
		if args == nil {
			return nil, nil
		}
		return args, nil
	case "fail":
		return nil, errors.New("the bay is closed")
	}
	return nil, fmt.Errorf("%w: %q", ErrUnknownCommand, name)
}

// plainOptions are options for the broker's plain listener with quick
// retries.
func plainOptions(b *mosquittotest.Broker, device string) Options {
	return Options{
		Broker: b.PlainURL, AllowPlaintext: true, Shop: "s1", Device: device,
		BackoffMin: 20 * time.Millisecond, BackoffMax: 200 * time.Millisecond,
		ProbeTimeout: 3 * time.Second, ShutdownTimeout: 3 * time.Second, ConnectTimeout: 3 * time.Second,
	}
}

// run starts u.Run and returns a function that stops it and waits for Run
// to return (also called at cleanup).
// wantMessage fails the test unless r carries its code's message in every
// language, filled with args (name/value pairs).
func wantMessage(t testing.TB, what string, r Reply, args ...any) {
	t.Helper()
	for _, l := range i18n.Langs() {
		want := i18n.Text(l, r.Code.MessageKey(), args...)
		if r.Code == "" || want == r.Code.MessageKey() || strings.Contains(want, "{") || r.Message[l] != want {
			t.Errorf("%s: %s message %q, want %q (code %q)", what, l, r.Message[l], want, r.Code)
		}
	}
}

// await waits for tok (up to wait10) and fails the test when it is not
// done in time or failed.
func await(t testing.TB, what string, tok mqtt.Token) {
	t.Helper()
	if !tok.WaitTimeout(wait10) {
		t.Fatalf("%s: not done within %v", what, wait10)
	}
	if err := tok.Error(); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func run(t testing.TB, u *Uplink) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- u.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run: %v", err)
				}
			case <-time.After(20 * time.Second):
				t.Errorf("Run did not return after cancel")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

func newUplink(t testing.TB, opts Options, q Queue) *Uplink {
	t.Helper()
	return newUplinkFor(t, opts, q, commander{})
}

// newUplinkFor is newUplink with the commands going to cmds.
func newUplinkFor(t testing.TB, opts Options, q Queue, cmds Commander) *Uplink {
	t.Helper()
	u, err := New(opts, q, cmds, slog.New(slog.NewTextHandler(testWriter{t}, nil)))
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// testWriter sends log lines to t.Log.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(bytes.TrimRight(p, "\n")))
	return len(p), nil
}

// waitStats waits until cond holds for u's stats.
func waitStats(t testing.TB, u *Uplink, timeout time.Duration, desc string, cond func(Stats) bool) Stats {
	t.Helper()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		ch := u.Changed()
		s := u.Stats()
		if cond(s) {
			return s
		}
		select {
		case <-ch:
		case <-timer.C:
			t.Fatalf("timeout after %v waiting for %s; stats %+v", timeout, desc, s)
		}
	}
}

// lockedWriter serialises writes to w.
type lockedWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
