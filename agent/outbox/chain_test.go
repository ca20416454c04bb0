package outbox_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/bayagent/bayagent/agent/outbox"
	"github.com/bayagent/bayagent/agent/record"
)

// memChain is an outbox.Chain in memory, like the chain file beside the
// device key.
type memChain struct {
	mu       sync.Mutex
	head     record.Head
	reserved uint64
	calls    int
	fail     error
}

func (c *memChain) Known() (record.Head, uint64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.head, c.reserved, c.reserved > 0 || c.head.Seq > 0
}

func (c *memChain) Reserve(h record.Head, upTo uint64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fail != nil {
		return c.fail
	}
	c.calls++
	c.head, c.reserved = h, max(c.reserved, upTo)
	return nil
}

func firstRecord(t *testing.T, o *outbox.Outbox) record.Record {
	t.Helper()
	es, err := o.Peek(1)
	if err != nil || len(es) != 1 {
		t.Fatalf("peek: %v, %v", es, err)
	}
	r, err := record.Decode(es[0].Data)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestLostDatabase is hole 2 of issue 12: a database that is gone or empty
// while the chain was used must not start again at seq 1.
func TestLostDatabase(t *testing.T) {
	for _, how := range []string{"deleted", "emptied"} {
		t.Run(how, func(t *testing.T) {
			s := crashSealer(t)
			ch := &memChain{}
			path := filepath.Join(t.TempDir(), "outbox.db")
			o, err := outbox.Open(path, outbox.Options{Sealer: s, Chain: ch})
			if err != nil {
				t.Fatal(err)
			}
			recs := appendN(t, o, 10)
			if err := o.Close(); err != nil {
				t.Fatal(err)
			}
			_, reserved, _ := ch.Known()
			if reserved < 10 {
				t.Fatalf("reserved up to %d after 10 records", reserved)
			}
			if how == "deleted" {
				err = os.Remove(path)
			} else {
				err = os.Truncate(path, 0)
			}
			if err != nil {
				t.Fatal(err)
			}
			o, err = outbox.Open(path, outbox.Options{Sealer: s, Chain: ch})
			if err != nil {
				t.Fatal(err)
			}
			defer o.Close()
			r := firstRecord(t, o)
			var b outbox.ResetBody
			if err := json.Unmarshal(r.Body, &b); err != nil {
				t.Fatal(err)
			}
			last := recs[len(recs)-1]
			if r.Kind != record.KindOutboxReset || r.Seq != reserved+1 || r.Prev != record.Genesis ||
				b.Cause != outbox.ResetMissing || b.LastKnownSeq != last.Seq || b.LastKnownHash != last.Hash().String() || b.ReservedTo != reserved {
				t.Fatalf("first record after the loss: %s seq %d prev %v body %s; want an outbox_reset at %d carrying seq %d and its hash",
					r.Kind, r.Seq, r.Prev, r.Body, reserved+1, last.Seq)
			}
			next := appendN(t, o, 1)[0]
			if next.Seq != r.Seq+1 || next.Prev != r.Hash() {
				t.Fatalf("the record after the reset: seq %d", next.Seq)
			}
			// The stream before and after verifies as one device with a
			// reported reset, not as conflicting duplicates.
			var all []byte
			for _, x := range append(recs, r, next) {
				all = append(append(all, x.Wire()...), '\n')
			}
			rep := record.Verify(bytesReader(all), record.Keys{s.Device(): s.PublicKey()})
			d := rep.Devices[0]
			if d.Conflicts.Count != 0 || d.Resets.Count != 1 || d.BadSignatures.Count != 0 {
				t.Fatalf("verify:\n%s", rep)
			}
		})
	}
}

// TestRolledBackDatabase: an older copy of the database put back while the
// agent was stopped is a reset too.
func TestRolledBackDatabase(t *testing.T) {
	s := crashSealer(t)
	ch := &memChain{}
	dir := t.TempDir()
	path := filepath.Join(dir, "outbox.db")
	o, err := outbox.Open(path, outbox.Options{Sealer: s, Chain: ch})
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, o, 3)
	o.Close()
	old, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	o, err = outbox.Open(path, outbox.Options{Sealer: s, Chain: ch})
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, o, 5)
	o.Close()
	if err := os.WriteFile(path, old, 0o600); err != nil {
		t.Fatal(err)
	}
	o, err = outbox.Open(path, outbox.Options{Sealer: s, Chain: ch})
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	st, _ := o.Stats()
	es, _ := o.Peek(10)
	r, _ := record.Decode(es[len(es)-1].Data)
	var b outbox.ResetBody
	json.Unmarshal(r.Body, &b)
	if r.Kind != record.KindOutboxReset || b.Cause != outbox.ResetRolledBack || b.LastKnownSeq != 8 || r.Seq <= 8 || st.HeadSeq != r.Seq {
		t.Fatalf("after the rollback: last record %s seq %d body %s (head %d); want an outbox_reset beyond seq 8", r.Kind, r.Seq, r.Body, st.HeadSeq)
	}
}

// TestReserveAhead: the chain is written once per ReserveAhead records, not
// once per record, and nothing is stored when it cannot be written.
func TestReserveAhead(t *testing.T) {
	s := crashSealer(t)
	ch := &memChain{}
	o, err := outbox.Open(filepath.Join(t.TempDir(), "outbox.db"), outbox.Options{Sealer: s, Chain: ch})
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	recs := appendN(t, o, 2*outbox.ReserveAhead)
	_, reserved, _ := ch.Known()
	if last := recs[len(recs)-1].Seq; reserved < last || ch.calls > 4 {
		t.Fatalf("%d records: reserved up to %d in %d writes", len(recs), reserved, ch.calls)
	}
	// Full disk: the next reservation fails, and so does the append that
	// needs it.
	ch.mu.Lock()
	ch.fail = errors.New("no space left on device")
	left := int(reserved - recs[len(recs)-1].Seq)
	ch.mu.Unlock()
	appendN(t, o, left)
	if _, err := o.Append(context.Background(), record.KindNote, "J-1", nil); !errors.Is(err, outbox.ErrReserve) {
		t.Fatalf("append beyond the reservation with the chain file unwritable: %v, want ErrReserve", err)
	}
	ch.mu.Lock()
	ch.fail = nil
	ch.mu.Unlock()
	if _, err := o.Append(context.Background(), record.KindNote, "J-1", nil); err != nil {
		t.Fatalf("append once the chain file can be written again: %v", err)
	}
}

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }
