package outbox_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bayagent/bayagent/agent/outbox"
	"github.com/bayagent/bayagent/agent/outbox/outboxtest"
	"github.com/bayagent/bayagent/agent/record"
)

func appendN(t *testing.T, o *outbox.Outbox, n int) []record.Record {
	t.Helper()
	var out []record.Record
	for i := 0; i < n; i++ {
		r, err := o.Append(context.Background(), record.KindNote, "J-1", map[string]int{"i": i})
		if err != nil {
			t.Fatalf("Append %d: %v", i, err)
		}
		out = append(out, r)
	}
	return out
}

func verifyExport(t *testing.T, o *outbox.Outbox, s *record.Sealer) *record.Report {
	t.Helper()
	var buf bytes.Buffer
	if err := o.Export(&buf); err != nil {
		t.Fatalf("Export: %v", err)
	}
	return record.Verify(&buf, record.Keys{s.Device(): s.PublicKey()})
}

func seqs(es []outbox.Entry) []uint64 {
	var s []uint64
	for _, e := range es {
		s = append(s, e.Seq)
	}
	return s
}

func TestAppendPeekAck(t *testing.T) {
	s := outboxtest.Sealer(t)
	o := outboxtest.Open(t, outbox.Options{Sealer: s})
	ctx := context.Background()
	kinds := []string{record.KindJobOpen, record.KindScan, record.KindEmission, record.KindDTCClear, record.KindJobClose}
	for i, k := range kinds {
		r, err := o.Append(ctx, k, "J-2026-0001", map[string]any{"n": i})
		if err != nil {
			t.Fatal(err)
		}
		if r.Seq != uint64(i+1) || r.Kind != k || r.Device != outboxtest.Device {
			t.Fatalf("record %d: seq %d kind %s", i, r.Seq, r.Kind)
		}
	}
	es, err := o.Peek(3)
	if err != nil || fmt.Sprint(seqs(es)) != "[1 2 3]" {
		t.Fatalf("Peek(3) = %v, %v", seqs(es), err)
	}
	if r, err := record.Decode(es[1].Data); err != nil || r.Kind != record.KindScan {
		t.Fatalf("entry 2: %v %v", r.Kind, err)
	}
	if es, _ := o.Next(3, 10); fmt.Sprint(seqs(es)) != "[4 5]" {
		t.Fatalf("Next(3) = %v", seqs(es))
	}
	if rep := verifyExport(t, o, s); !rep.OK() || rep.Devices[0].LastSeq != 5 {
		t.Fatalf("export does not verify:\n%s", rep)
	}
	st, err := o.Stats()
	if err != nil || st.Depth != 5 || st.FirstSeq != 1 || st.LastSeq != 5 || st.HeadSeq != 5 || st.Oldest == nil || st.Bytes <= 0 {
		t.Fatalf("Stats = %+v, %v", st, err)
	}
	n, err := o.Ack(1, 2, 2, 99)
	if err != nil || n != 2 {
		t.Fatalf("Ack = %d, %v", n, err)
	}
	es, _ = o.Peek(10)
	if fmt.Sprint(seqs(es)) != "[3 4 5]" {
		t.Fatalf("after Ack: %v", seqs(es))
	}
	st2, _ := o.Stats()
	if st2.Depth != 3 || st2.Bytes >= st.Bytes || st2.FirstSeq != 3 || st2.HeadSeq != 5 {
		t.Fatalf("Stats after Ack = %+v", st2)
	}
	if _, err := o.Ack(3, 4, 5); err != nil {
		t.Fatal(err)
	}
	st3, _ := o.Stats()
	if st3.Depth != 0 || st3.Bytes != 0 || st3.Oldest != nil {
		t.Fatalf("Stats when empty = %+v", st3)
	}
	// The chain continues after the outbox emptied.
	if r := appendN(t, o, 1)[0]; r.Seq != 6 {
		t.Fatalf("seq after emptying: %d", r.Seq)
	}
}

func TestAppendBadInput(t *testing.T) {
	o := outboxtest.Open(t, outbox.Options{})
	ctx := context.Background()
	for _, tc := range []struct {
		kind, job string
		body      any
	}{
		{"Bad Kind", "", nil},
		{"note", "bad job", nil},
		{"note", "", []int{1}},
	} {
		if _, err := o.Append(ctx, tc.kind, tc.job, tc.body); !errors.Is(err, record.ErrField) {
			t.Errorf("Append(%q, %q, %v) = %v, want record.ErrField", tc.kind, tc.job, tc.body, err)
		}
	}
	// Failed appends burn no sequence number.
	if r := appendN(t, o, 1)[0]; r.Seq != 1 {
		t.Fatalf("seq after failures = %d", r.Seq)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := o.Append(cctx, "note", "", nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("Append with canceled ctx = %v", err)
	}
	if r := appendN(t, o, 1)[0]; r.Seq != 2 {
		t.Fatalf("a canceled append was stored: next seq %d", r.Seq)
	}
}

func TestReopenContinuesChain(t *testing.T) {
	s := outboxtest.Sealer(t)
	path := filepath.Join(t.TempDir(), "outbox.db")
	for round := 0; round < 3; round++ {
		o, err := outbox.Open(path, outbox.Options{Sealer: s})
		if err != nil {
			t.Fatal(err)
		}
		rs := appendN(t, o, 3)
		if rs[0].Seq != uint64(3*round+1) {
			t.Fatalf("round %d starts at seq %d", round, rs[0].Seq)
		}
		if err := o.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := o.Append(context.Background(), "note", "", nil); !errors.Is(err, outbox.ErrClosed) {
			t.Fatalf("Append after Close = %v", err)
		}
		if err := o.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}
	}
	o, err := outbox.Open(path, outbox.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	if rep := verifyExport(t, o, s); !rep.OK() || rep.Devices[0].Records != 9 {
		t.Fatalf("chain across reopen:\n%s", rep)
	}
	if _, err := o.Append(context.Background(), "note", "", nil); !errors.Is(err, outbox.ErrReadOnly) {
		t.Fatalf("Append read-only = %v", err)
	}
	if _, err := o.Ack(1); !errors.Is(err, outbox.ErrReadOnly) {
		t.Fatalf("Ack read-only = %v", err)
	}
	// Read-only opens share the lock.
	if err := outboxtest.CheckFile(path); err != nil {
		t.Fatalf("CheckFile next to a read-only handle: %v", err)
	}
}

func TestConcurrentAppendsShareCommits(t *testing.T) {
	s := outboxtest.Sealer(t)
	o := outboxtest.Open(t, outbox.Options{Sealer: s})
	const producers, each = 8, 40
	var wg sync.WaitGroup
	got := make(chan uint64, producers*each)
	for p := 0; p < producers; p++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				r, err := o.Append(context.Background(), record.KindScan, fmt.Sprintf("J-%d", p), map[string]int{"i": i})
				if err != nil {
					t.Error(err)
					return
				}
				got <- r.Seq
			}
		}()
	}
	wg.Wait()
	close(got)
	seen := map[uint64]bool{}
	for s := range got {
		if seen[s] {
			t.Fatalf("seq %d returned twice", s)
		}
		seen[s] = true
	}
	if len(seen) != producers*each {
		t.Fatalf("%d records", len(seen))
	}
	rep := verifyExport(t, o, s)
	if !rep.OK() || rep.Devices[0].FirstSeq != 1 || rep.Devices[0].LastSeq != producers*each {
		t.Fatalf("chain:\n%s", rep)
	}
	st, _ := o.Stats()
	t.Logf("%d appends in %d commits", st.Appends, st.Commits)
	if st.Appends != producers*each || st.Commits >= st.Appends {
		t.Fatalf("no group commit: %d appends, %d commits", st.Appends, st.Commits)
	}
}

func TestFull(t *testing.T) {
	s := outboxtest.Sealer(t)
	o := outboxtest.Open(t, outbox.Options{Sealer: s, MaxBytes: 2000})
	ctx := context.Background()
	body := map[string]string{"x": strings.Repeat("a", 200)}
	var stored []uint64
	var full error
	for i := 0; i < 20; i++ {
		r, err := o.Append(ctx, record.KindScan, "J-1", body)
		if err != nil {
			full = err
			break
		}
		stored = append(stored, r.Seq)
	}
	if !errors.Is(full, outbox.ErrFull) {
		t.Fatalf("no ErrFull after %d records: %v", len(stored), full)
	}
	if !strings.Contains(full.Error(), "of 2000 bytes") {
		t.Errorf("ErrFull message lacks the sizes: %v", full)
	}
	st, _ := o.Stats()
	if st.Bytes > 2000 || st.Depth != int64(len(stored)) {
		t.Fatalf("Stats when full: %+v", st)
	}
	// Nothing was dropped; acking one record makes room for one more,
	// with the next seq (the refused append burned none).
	if _, err := o.Ack(stored[0]); err != nil {
		t.Fatal(err)
	}
	r, err := o.Append(ctx, record.KindScan, "J-1", body)
	if err != nil || r.Seq != stored[len(stored)-1]+1 {
		t.Fatalf("after Ack: seq %d, %v", r.Seq, err)
	}
	if rep := verifyExport(t, o, s); rep.Devices[0].Records != len(stored) || rep.Devices[0].Missing != 0 {
		t.Fatalf("records lost:\n%s", rep)
	}
}

func TestQuarantine(t *testing.T) {
	s := outboxtest.Sealer(t)
	now := time.Date(2026, 11, 29, 6, 0, 0, 0, time.UTC)
	o := outboxtest.Open(t, outbox.Options{Sealer: s, Now: func() time.Time { return now }})
	appendN(t, o, 4)
	before, _ := o.Stats()
	if err := o.Quarantine(2, "payload rejected by broker"); err != nil {
		t.Fatal(err)
	}
	if err := o.Quarantine(2, "again"); !errors.Is(err, outbox.ErrNotFound) {
		t.Fatalf("second Quarantine = %v", err)
	}
	if err := o.Quarantine(77, "x"); !errors.Is(err, outbox.ErrNotFound) {
		t.Fatalf("Quarantine unknown = %v", err)
	}
	es, _ := o.Peek(10)
	if fmt.Sprint(seqs(es)) != "[1 3 4]" {
		t.Fatalf("Peek after quarantine: %v", seqs(es))
	}
	if n, _ := o.Ack(2); n != 0 {
		t.Fatal("Ack removed a quarantined record")
	}
	q, err := o.Quarantined()
	if err != nil || len(q) != 1 || q[0].Seq != 2 || q[0].Reason != "payload rejected by broker" || !q[0].At.Equal(now) {
		t.Fatalf("Quarantined = %+v, %v", q, err)
	}
	if r, err := record.Decode(q[0].Data); err != nil || r.Seq != 2 {
		t.Fatalf("quarantined data: %v", err)
	}
	st, _ := o.Stats()
	if st.Depth != 3 || st.Quarantined != 1 || st.Bytes <= before.Bytes {
		t.Fatalf("Stats = %+v (before %+v)", st, before)
	}
	// Export keeps quarantined records, in order: the chain still verifies.
	if rep := verifyExport(t, o, s); !rep.OK() || rep.Devices[0].Records != 4 {
		t.Fatalf("export with quarantine:\n%s", rep)
	}
	var ls bytes.Buffer
	if err := o.List(&ls); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(ls.String()), "\n")
	if len(lines) != 4 {
		t.Fatalf("List:\n%s", ls.String())
	}
	var l2 map[string]any
	if err := json.Unmarshal([]byte(lines[1]), &l2); err != nil {
		t.Fatal(err)
	}
	if l2["seq"] != 2.0 || l2["state"] != "quarantined" || l2["reason"] != "payload rejected by broker" || l2["kind"] != "note" {
		t.Fatalf("List line 2: %s", lines[1])
	}
}

func TestOptionsErrors(t *testing.T) {
	dir := t.TempDir()
	s := outboxtest.Sealer(t)
	for _, opts := range []outbox.Options{
		{},
		{Sealer: s, MaxBytes: -1},
		{Sealer: s, Timeout: -time.Second},
		{Sealer: s, MaxBatch: -1},
	} {
		if _, err := outbox.Open(filepath.Join(dir, "x.db"), opts); !errors.Is(err, outbox.ErrConfig) {
			t.Errorf("Open(%+v) = %v, want ErrConfig", opts, err)
		}
	}
}

func TestDeviceMismatch(t *testing.T) {
	path := filepath.Join(t.TempDir(), "outbox.db")
	o, err := outbox.Open(path, outbox.Options{Sealer: outboxtest.Sealer(t)})
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, o, 1)
	o.Close()
	_, key, _ := ed25519Key()
	other, _ := record.NewSealer(record.SealerConfig{Key: key, Device: "bay-99", Shop: "1"})
	if _, err := outbox.Open(path, outbox.Options{Sealer: other}); !errors.Is(err, outbox.ErrDeviceMismatch) {
		t.Fatalf("Open with another device = %v", err)
	}
}

func TestLocked(t *testing.T) {
	s := outboxtest.Sealer(t)
	o := outboxtest.Open(t, outbox.Options{Sealer: s})
	for _, ro := range []bool{false, true} {
		_, err := outbox.Open(o.Path(), outbox.Options{Sealer: s, ReadOnly: ro, Timeout: 20 * time.Millisecond})
		if !errors.Is(err, outbox.ErrLocked) {
			t.Fatalf("second Open (read-only %v) = %v, want ErrLocked", ro, err)
		}
	}
	// The file was not treated as corrupt.
	if m, _ := filepath.Glob(o.Path() + ".corrupt-*"); len(m) != 0 {
		t.Fatalf("locked file moved aside: %v", m)
	}
}

func TestOpenErrorIsNotCorruption(t *testing.T) {
	dir := t.TempDir()
	s := outboxtest.Sealer(t)
	if _, err := outbox.Open(filepath.Join(dir, "missing", "outbox.db"), outbox.Options{Sealer: s}); err == nil || errors.Is(err, outbox.ErrCorrupt) {
		t.Fatalf("Open in a missing directory = %v", err)
	}
	if os.Getuid() != 0 { // root reads any file
		p := filepath.Join(dir, "noperm.db")
		if err := os.WriteFile(p, []byte("data"), 0); err != nil {
			t.Fatal(err)
		}
		if _, err := outbox.Open(p, outbox.Options{Sealer: s}); err == nil || errors.Is(err, outbox.ErrCorrupt) {
			t.Fatalf("Open of an unreadable file = %v", err)
		}
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("unreadable file moved: %v", err)
		}
	}
	// A directory in place of the file.
	p := filepath.Join(dir, "isdir.db")
	os.Mkdir(p, 0o700)
	if _, err := outbox.Open(p, outbox.Options{Sealer: s}); err == nil || errors.Is(err, outbox.ErrCorrupt) {
		t.Fatalf("Open of a directory = %v", err)
	}
}

func TestNextWait(t *testing.T) {
	o := outboxtest.Open(t, outbox.Options{})
	ctx := context.Background()
	appendN(t, o, 2)
	if es, err := o.NextWait(ctx, 0, 10); err != nil || fmt.Sprint(seqs(es)) != "[1 2]" {
		t.Fatalf("NextWait with records = %v, %v", seqs(es), err)
	}
	got := make(chan []outbox.Entry)
	go func() {
		es, err := o.NextWait(ctx, 2, 10)
		if err != nil {
			t.Error(err)
		}
		got <- es
	}()
	appendN(t, o, 1)
	if es := <-got; fmt.Sprint(seqs(es)) != "[3]" {
		t.Fatalf("NextWait woke with %v", seqs(es))
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := o.NextWait(cctx, 3, 10); !errors.Is(err, context.Canceled) {
		t.Fatalf("NextWait canceled = %v", err)
	}
	done := make(chan error)
	go func() { _, err := o.NextWait(ctx, 3, 10); done <- err }()
	o.Close()
	if err := <-done; !errors.Is(err, outbox.ErrClosed) {
		t.Fatalf("NextWait at Close = %v", err)
	}
}
