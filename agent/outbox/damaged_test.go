package outbox_test

import (
	"bytes"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/bayagent/bayagent/agent/outbox"
	"github.com/bayagent/bayagent/agent/outbox/outboxtest"
	bolt "go.etcd.io/bbolt"
)

// damageRecord changes one byte of record seq's stored bytes, as a failing
// SD card would, without bbolt noticing (its pages carry no checksum).
func damageRecord(t *testing.T, path string, seq uint64, old, new string) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("records"))
		k := make([]byte, 8)
		for i := range 8 {
			k[7-i] = byte(seq >> (8 * i))
		}
		v := b.Get(k)
		if !bytes.Contains(v, []byte(old)) {
			t.Fatalf("record %d does not contain %q: %s", seq, old, v)
		}
		return b.Put(k, bytes.Replace(v, []byte(old), []byte(new), 1))
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestDamagedRecordIsQuarantined: record bytes damaged inside the database
// (hole 5 of issue 12: they were published as they were) no longer match
// the hash chain, so they are quarantined with the reason, never handed to
// the uplink; the records around them still are.
func TestDamagedRecordIsQuarantined(t *testing.T) {
	path := filepath.Join(t.TempDir(), "outbox.db")
	s := outboxtest.Sealer(t)
	fillOutbox(t, path, s, 6, 0)
	damageRecord(t, path, 3, "pppp", "pxpp")               // inside the body
	damageRecord(t, path, 6, `"job":"J-1"`, `"job":"J-7"`) // the chain head

	// A read-only outbox (bayagent outbox ls) leaves them out.
	ro, err := outbox.Open(path, outbox.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	es, err := ro.Peek(10)
	ro.Close()
	if err != nil || !reflect.DeepEqual(seqs(es), []uint64{1, 2, 4, 5}) {
		t.Fatalf("read-only Peek: %v, %v; want 1 2 4 5", seqs(es), err)
	}

	o, err := outbox.Open(path, outbox.Options{Sealer: s})
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	es, err = o.Next(0, 10)
	if err != nil || !reflect.DeepEqual(seqs(es), []uint64{1, 2, 4, 5}) {
		t.Fatalf("Next: %v, %v; want 1 2 4 5", seqs(es), err)
	}
	q, err := o.Quarantined()
	if err != nil || len(q) != 2 || q[0].Seq != 3 || q[1].Seq != 6 {
		t.Fatalf("quarantined: %+v, %v; want seq 3 and 6", q, err)
	}
	for _, e := range q {
		if !strings.Contains(e.Reason, "damaged in the database") {
			t.Errorf("seq %d quarantined for %q", e.Seq, e.Reason)
		}
	}
	if !strings.Contains(q[0].Reason, "prev of seq 4") || !strings.Contains(q[1].Reason, "chain head") {
		t.Errorf("reasons: %q, %q", q[0].Reason, q[1].Reason)
	}
	st, err := o.Stats()
	if err != nil || st.Quarantined != 2 || st.Depth != 4 {
		t.Fatalf("stats %+v, %v; want 2 quarantined, 4 pending", st, err)
	}
	// New records continue the chain; the damaged ones stay aside.
	appendN(t, o, 1)
	if es, _ := o.Next(5, 10); !reflect.DeepEqual(seqs(es), []uint64{7}) {
		t.Fatalf("after a new record: %v; want 7", seqs(es))
	}
}
