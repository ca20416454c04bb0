package outbox_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bayagent/bayagent/agent/outbox"
	"github.com/bayagent/bayagent/agent/outbox/outboxtest"
	"github.com/bayagent/bayagent/agent/record"
)

// clock is a settable time source shared by a sealer and an outbox.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func clockedSealer(t *testing.T, c *clock) *record.Sealer {
	t.Helper()
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := record.NewSealer(record.SealerConfig{Key: key, Device: outboxtest.Device, Shop: outboxtest.Shop, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func heldStates(hs []outbox.Held) string {
	var b strings.Builder
	for i, h := range hs {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%d:%s", h.Seq, h.State)
	}
	return b.String()
}

func listStates(t *testing.T, o *outbox.Outbox) string {
	t.Helper()
	var buf bytes.Buffer
	if err := o.List(&buf); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for i, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var l struct {
			Seq   uint64 `json:"seq"`
			State string `json:"state"`
		}
		if err := json.Unmarshal([]byte(line), &l); err != nil {
			t.Fatalf("List line %q: %v", line, err)
		}
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%d:%s", l.Seq, l.State)
	}
	return b.String()
}

func TestAckArchives(t *testing.T) {
	s := outboxtest.Sealer(t)
	o := outboxtest.Open(t, outbox.Options{Sealer: s})
	appendN(t, o, 5)
	if n, err := o.Ack(1, 2, 3); err != nil || n != 3 {
		t.Fatalf("Ack = %d, %v", n, err)
	}
	if es, _ := o.Peek(10); fmt.Sprint(seqs(es)) != "[4 5]" {
		t.Fatalf("Peek after Ack: %v", seqs(es))
	}
	if es, _ := o.Next(1, 10); fmt.Sprint(seqs(es)) != "[4 5]" {
		t.Fatalf("Next(1) offers archived records: %v", seqs(es))
	}
	st, err := o.Stats()
	if err != nil || st.Depth != 2 || st.Archived != 3 || st.ArchiveFirstSeq != 1 || st.FirstSeq != 4 || st.LastSeq != 5 || st.ArchiveBytes <= 0 {
		t.Fatalf("Stats = %+v, %v", st, err)
	}
	hs, err := o.Range(2, 4)
	if err != nil || heldStates(hs) != "2:archived 3:archived 4:pending" {
		t.Fatalf("Range(2, 4) = %s, %v", heldStates(hs), err)
	}
	if r, err := record.Decode(hs[0].Data); err != nil || r.Seq != 2 {
		t.Fatalf("archived record: %v", err)
	}
	if got := listStates(t, o); got != "1:archived 2:archived 3:archived 4:pending 5:pending" {
		t.Fatalf("List states: %s", got)
	}
	if rep := verifyExport(t, o, s); !rep.OK() || rep.Devices[0].Records != 5 {
		t.Fatalf("export with the archive:\n%s", rep)
	}
	// Acking again, or an archived seq, changes nothing.
	if n, _ := o.Ack(2, 3); n != 0 {
		t.Fatalf("re-Ack acknowledged %d", n)
	}
	if err := o.Quarantine(2, "x"); err == nil {
		t.Fatal("an archived record was quarantined")
	}
}

func TestAckOutOfOrder(t *testing.T) {
	s := outboxtest.Sealer(t)
	path := filepath.Join(t.TempDir(), "outbox.db")
	o, err := outbox.Open(path, outbox.Options{Sealer: s})
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, o, 6)
	if n, _ := o.Ack(5, 3); n != 2 {
		t.Fatalf("Ack(5, 3) = %d", n)
	}
	if es, _ := o.Peek(10); fmt.Sprint(seqs(es)) != "[1 2 4 6]" {
		t.Fatalf("Peek: %v", seqs(es))
	}
	if got := listStates(t, o); got != "1:pending 2:pending 3:archived 4:pending 5:archived 6:pending" {
		t.Fatalf("List: %s", got)
	}
	if err := o.Quarantine(2, "too large"); err != nil {
		t.Fatal(err)
	}
	// The out-of-order acks survive a reopen.
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
	if o, err = outbox.Open(path, outbox.Options{Sealer: s}); err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	if got := listStates(t, o); got != "1:pending 2:quarantined 3:archived 4:pending 5:archived 6:pending" {
		t.Fatalf("List after reopen: %s", got)
	}
	if n, _ := o.Ack(1, 4); n != 2 {
		t.Fatalf("Ack(1, 4) = %d", n)
	}
	if es, _ := o.Peek(10); fmt.Sprint(seqs(es)) != "[6]" {
		t.Fatalf("Peek after the gap closed: %v", seqs(es))
	}
	st, _ := o.Stats()
	if st.Depth != 1 || st.Archived != 4 || st.Quarantined != 1 || st.FirstSeq != 6 {
		t.Fatalf("Stats = %+v", st)
	}
	if err := o.Check(); err != nil {
		t.Fatal(err)
	}
}

func TestArchiveBoundedByBytes(t *testing.T) {
	s := outboxtest.Sealer(t)
	o := outboxtest.Open(t, outbox.Options{Sealer: s, ArchiveMaxBytes: 2000})
	body := map[string]string{"x": strings.Repeat("a", 300)}
	var all []uint64
	for range 12 {
		r, err := o.Append(context.Background(), record.KindNote, "J-1", body)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, r.Seq)
	}
	if _, err := o.Ack(all[:10]...); err != nil {
		t.Fatal(err)
	}
	st, _ := o.Stats()
	if st.ArchiveBytes > 2000 || st.Archived == 0 || st.Archived >= 10 || st.Depth != 2 {
		t.Fatalf("archive not bounded: %+v", st)
	}
	// The newest archived records are kept, the oldest went.
	first := uint64(10 - st.Archived + 1)
	if st.ArchiveFirstSeq != first {
		t.Fatalf("oldest archived seq %d, want %d", st.ArchiveFirstSeq, first)
	}
	hs, _ := o.Range(1, 12)
	if len(hs) != int(st.Archived)+2 || hs[0].Seq != first || hs[len(hs)-1].State != outbox.StatePending {
		t.Fatalf("Range = %s", heldStates(hs))
	}
}

func TestArchiveBoundedByAge(t *testing.T) {
	c := &clock{t: time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC)}
	s := clockedSealer(t, c)
	o := outboxtest.Open(t, outbox.Options{Sealer: s, Now: c.Now, ArchiveMaxAge: 30 * 24 * time.Hour})
	appendN(t, o, 3) // sealed on day 0
	c.Add(10 * 24 * time.Hour)
	appendN(t, o, 3) // day 10
	if _, err := o.Ack(1, 2, 3, 4, 5); err != nil {
		t.Fatal(err)
	}
	if st, _ := o.Stats(); st.Archived != 5 {
		t.Fatalf("archived %d records, want 5", st.Archived)
	}
	c.Add(25 * 24 * time.Hour) // day 35: records of day 0 are 35 days old
	if _, err := o.Ack(6); err != nil {
		t.Fatal(err)
	}
	st, _ := o.Stats()
	if st.Archived != 3 || st.ArchiveFirstSeq != 4 || st.Depth != 0 {
		t.Fatalf("after 35 days: %+v", st)
	}
	// An append checks the age too.
	c.Add(10 * 24 * time.Hour) // day 45
	appendN(t, o, 1)
	if st, _ := o.Stats(); st.Archived != 0 || st.Depth != 1 || st.ArchiveFirstSeq != 0 {
		t.Fatalf("after 45 days: %+v", st)
	}
}

func TestArchiveGivesRoomToNewRecords(t *testing.T) {
	s := outboxtest.Sealer(t)
	o := outboxtest.Open(t, outbox.Options{Sealer: s, MaxBytes: 3000})
	body := map[string]string{"x": strings.Repeat("b", 300)}
	ctx := context.Background()
	// Fill the outbox, acknowledging everything: the archive takes all
	// the room, and every new record makes room by dropping the oldest
	// archived one.
	for i := range 30 {
		r, err := o.Append(ctx, record.KindNote, "J-1", body)
		if err != nil {
			t.Fatalf("append %d with only archived records stored: %v", i, err)
		}
		if _, err := o.Ack(r.Seq); err != nil {
			t.Fatal(err)
		}
	}
	st, _ := o.Stats()
	if st.Bytes+st.ArchiveBytes > 3000 || st.Archived == 0 || st.HeadSeq != 30 || st.ArchiveFirstSeq <= 1 {
		t.Fatalf("Stats = %+v", st)
	}
	// Pending records are never dropped: once they fill the outbox,
	// appends fail with ErrFull and the archive is empty.
	var full error
	for range 30 {
		if _, full = o.Append(ctx, record.KindNote, "J-1", body); full != nil {
			break
		}
	}
	st, _ = o.Stats()
	if full == nil || !strings.Contains(full.Error(), "does not fit") || st.Archived != 0 || st.Depth == 0 {
		t.Fatalf("Stats = %+v, last append: %v", st, full)
	}
	if rep := verifyExport(t, o, s); rep.Devices[0].Missing != 0 || rep.Devices[0].LastSeq != st.HeadSeq {
		t.Fatalf("a pending record was dropped:\n%s", rep)
	}
}

func TestNoArchive(t *testing.T) {
	o := outboxtest.Open(t, outbox.Options{ArchiveMaxBytes: -1})
	appendN(t, o, 3)
	if _, err := o.Ack(1, 2); err != nil {
		t.Fatal(err)
	}
	if st, _ := o.Stats(); st.Archived != 0 || st.ArchiveBytes != 0 || st.Depth != 1 {
		t.Fatalf("Stats = %+v", st)
	}
	if hs, _ := o.Range(1, 3); heldStates(hs) != "3:pending" {
		t.Fatalf("Range = %s", heldStates(hs))
	}
}
