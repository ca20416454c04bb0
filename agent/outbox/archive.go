package outbox

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	"github.com/bayagent/bayagent/agent/record"
	bolt "go.etcd.io/bbolt"
)

// The archive keeps acknowledged records where they are, in the records
// bucket: acknowledging a record only moves the watermark state.Acked (or,
// for a record acknowledged ahead of an earlier one, lists it in the acked
// bucket). An Ack therefore rewrites no record page, and the drain costs
// no more with the archive than without it. The oldest archived records
// are deleted from the front of the bucket when the archive exceeds its
// bounds or a new record needs the room.

// archived reports whether the stored record with key k is archived.
// acked may be nil (a read-only open of a file older than the archive).
func archived(st *state, acked *bolt.Bucket, k []byte) bool {
	return binary.BigEndian.Uint64(k) <= st.Acked || acked != nil && acked.Get(k) != nil
}

// outOfOrder reports whether any record is acked ahead of the watermark.
func outOfOrder(acked *bolt.Bucket) bool {
	if acked == nil {
		return false
	}
	k, _ := acked.Cursor().First()
	return k != nil
}

// advance moves the watermark over every following seq that is acked out
// of order or no longer in the records bucket (quarantined).
func advance(tx *bolt.Tx, st *state) error {
	recs, acked := tx.Bucket(bucketRecords), tx.Bucket(bucketAcked)
	for st.Acked < st.Seq {
		k := seqKey(st.Acked + 1)
		switch {
		case acked.Get(k) != nil:
			if err := acked.Delete(k); err != nil {
				return err
			}
		case recs.Get(k) != nil:
			return nil // pending
		}
		st.Acked++
	}
	return nil
}

// pruneRoom deletes the oldest archived records until the archive fits
// Options.ArchiveMaxBytes and the whole outbox, with extra more bytes,
// fits Options.MaxBytes. Only records below the watermark are deleted:
// the pending ones are never dropped.
func (o *Outbox) pruneRoom(tx *bolt.Tx, st *state, extra int64) error {
	if st.ArchiveBytes <= o.opts.ArchiveMaxBytes && st.Bytes+st.ArchiveBytes+extra <= o.opts.MaxBytes {
		return nil
	}
	c := tx.Bucket(bucketRecords).Cursor()
	for k, v := c.First(); k != nil && st.Archived > 0; k, v = c.First() {
		if st.ArchiveBytes <= o.opts.ArchiveMaxBytes && st.Bytes+st.ArchiveBytes+extra <= o.opts.MaxBytes {
			return nil
		}
		if binary.BigEndian.Uint64(k) > st.Acked {
			return nil // the oldest stored record is pending
		}
		if err := o.dropArchived(c, st, int64(len(k)+len(v))); err != nil {
			return err
		}
	}
	return nil
}

// pruneAge deletes the archived records sealed longer than
// Options.ArchiveMaxAge ago, oldest first.
func (o *Outbox) pruneAge(tx *bolt.Tx, st *state) error {
	if o.opts.ArchiveMaxAge < 0 || st.Archived == 0 {
		return nil
	}
	cutoff := o.opts.Now().Add(-o.opts.ArchiveMaxAge)
	c := tx.Bucket(bucketRecords).Cursor()
	for k, v := c.First(); k != nil && st.Archived > 0; k, v = c.First() {
		if binary.BigEndian.Uint64(k) > st.Acked {
			return nil
		}
		if t, ok := sealedAt(v); ok && !t.Before(cutoff) {
			return nil
		}
		if err := o.dropArchived(c, st, int64(len(k)+len(v))); err != nil {
			return err
		}
	}
	return nil
}

func (o *Outbox) dropArchived(c *bolt.Cursor, st *state, size int64) error {
	if err := c.Delete(); err != nil {
		return fmt.Errorf("outbox: drop archived record: %w", err)
	}
	st.Archived--
	st.ArchiveBytes -= size
	return nil
}

// sealedAt reads the "time" member of a wire record without decoding it
// (the envelope's fixed field order puts it right after "seq").
func sealedAt(wire []byte) (time.Time, bool) {
	const key = `,"time":"`
	i := bytes.Index(wire, []byte(key))
	if i < 0 || len(wire) < i+len(key)+len(record.TimeLayout) {
		return time.Time{}, false
	}
	s := wire[i+len(key) : i+len(key)+len(record.TimeLayout)]
	t, err := time.Parse(record.TimeLayout, string(s))
	return t, err == nil
}

// States of a stored record, as List and Range report them.
const (
	StatePending     = "pending"     // not yet acknowledged by the broker
	StateArchived    = "archived"    // acknowledged, kept for resend
	StateQuarantined = "quarantined" // set aside, never published
)

// Held is a stored record with its state.
type Held struct {
	Seq   uint64
	State string // StatePending, StateArchived or StateQuarantined
	Data  []byte // the wire record, byte-exact; owned by the caller
}

// Range returns the records the outbox still holds with from <= seq <= to,
// pending, archived and quarantined, in seq order: what a `resend` can
// give. Seqs in the range that it does not return are gone (dropped from
// the archive, or never sealed).
func (o *Outbox) Range(from, to uint64) ([]Held, error) {
	var out []Held
	err := o.view(func(tx *bolt.Tx) error {
		rb, qb, ab := tx.Bucket(bucketRecords), tx.Bucket(bucketQuarantine), tx.Bucket(bucketAcked)
		if rb == nil || qb == nil || from > to {
			return nil
		}
		st, err := loadState(tx)
		if err != nil {
			return err
		}
		c := rb.Cursor()
		for k, v := c.Seek(seqKey(from)); k != nil && binary.BigEndian.Uint64(k) <= to; k, v = c.Next() {
			h := Held{Seq: binary.BigEndian.Uint64(k), State: StatePending, Data: bytes.Clone(v)}
			if archived(&st, ab, k) {
				h.State = StateArchived
			}
			out = append(out, h)
		}
		var quar []Held
		c = qb.Cursor()
		for k, v := c.Seek(seqKey(from)); k != nil && binary.BigEndian.Uint64(k) <= to; k, v = c.Next() {
			var q quarantineValue
			if err := json.Unmarshal(v, &q); err != nil {
				return fmt.Errorf("%w: quarantine entry %x: %v", ErrCorrupt, k, err)
			}
			quar = append(quar, Held{Seq: q.Seq, State: StateQuarantined, Data: bytes.Clone(q.Record)})
		}
		out = mergeHeld(out, quar)
		return nil
	})
	return out, err
}

// mergeHeld merges two lists sorted by seq.
func mergeHeld(a, b []Held) []Held {
	if len(b) == 0 {
		return a
	}
	out := make([]Held, 0, len(a)+len(b))
	for len(a) > 0 && len(b) > 0 {
		if a[0].Seq < b[0].Seq {
			out, a = append(out, a[0]), a[1:]
		} else {
			out, b = append(out, b[0]), b[1:]
		}
	}
	return append(append(out, a...), b...)
}
