package outbox

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/bayagent/bayagent/agent/record"
	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// Entry is one stored record.
type Entry struct {
	Seq  uint64
	Data []byte // the wire record, byte-exact; owned by the caller
}

// Peek returns up to n pending records with the lowest sequence numbers,
// in order. It does not remove them.
func (o *Outbox) Peek(n int) ([]Entry, error) { return o.Next(0, n) }

// Next returns up to n pending records with seq > after, in order: the
// uplink's way to take the next batch while earlier ones are in flight.
//
// A record whose bytes no longer match the hash chain (damaged inside the
// database: its hash is not the "prev" of the record after it, or not the
// chain head for the last one, or it no longer parses) is never returned:
// a writable outbox quarantines it with the reason and logs an error, a
// read-only one leaves it out.
func (o *Outbox) Next(after uint64, n int) ([]Entry, error) {
	for {
		var out []Entry
		var damaged []damage
		err := o.view(func(tx *bolt.Tx) error {
			b, ab := tx.Bucket(bucketRecords), tx.Bucket(bucketAcked)
			if b == nil || n <= 0 {
				return nil
			}
			st, head, err := loadHead(tx)
			if err != nil {
				return err
			}
			skip := outOfOrder(ab)
			c := b.Cursor()
			for k, v := c.Seek(seqKey(max(after, st.Acked) + 1)); k != nil && len(out) < n; k, v = c.Next() {
				if skip && ab.Get(k) != nil {
					continue
				}
				seq := binary.BigEndian.Uint64(k)
				if why := intact(b, head, seq, v); why != "" {
					damaged = append(damaged, damage{seq, why})
					continue
				}
				out = append(out, Entry{Seq: seq, Data: bytes.Clone(v)})
			}
			return nil
		})
		if err != nil || len(damaged) == 0 || o.opts.ReadOnly {
			return out, err
		}
		for _, d := range damaged {
			reason := "damaged in the database: " + d.why
			o.log.Error("outbox: record quarantined", "seq", d.seq, "reason", reason)
			if err := o.Quarantine(d.seq, reason); err != nil && !errors.Is(err, ErrNotFound) {
				return nil, err
			}
		}
		// Read again: the records after the damaged ones fill the batch.
	}
}

// damage is a record Next found damaged.
type damage struct {
	seq uint64
	why string
}

// intact checks the stored bytes v of record seq against the hash chain:
// they must parse as this record and hash to the "prev" of record seq+1
// (or to the chain head when seq is the head). It returns why not, or "".
// A record whose successor is not in the bucket (quarantined) or starts a
// new chain is checked for its form only.
func intact(b *bolt.Bucket, head record.Head, seq uint64, v []byte) string {
	// Where the chain gives the hash the record must have, its bytes are
	// hashed as they are, without parsing them: the drain reads every
	// record through here, and parsing would double its CPU per record.
	// Only a mismatch (for the reason) or no hash to compare with parses.
	if want, ok := wantHash(b, head, seq); ok {
		if h, ok := record.WireHash(v); ok && h == want {
			return ""
		}
	}
	r, err := record.Decode(v)
	if err != nil {
		return err.Error()
	}
	if r.Seq != seq {
		return fmt.Sprintf("stored under seq %d, carries seq %d", seq, r.Seq)
	}
	if seq == head.Seq {
		if r.Hash() != head.Hash {
			return "its hash is not the chain head's"
		}
		return ""
	}
	nv := b.Get(seqKey(seq + 1))
	if nv == nil {
		return ""
	}
	prev, ok := record.WirePrev(nv)
	if ok && prev != record.Genesis && r.Hash() != prev {
		return fmt.Sprintf("its hash is not the prev of seq %d", seq+1)
	}
	return ""
}

// wantHash returns the hash record seq must have: the chain head's, or
// the "prev" of the record after it; false when neither says (the
// successor is not in the bucket, or starts a new chain).
func wantHash(b *bolt.Bucket, head record.Head, seq uint64) (record.Hash, bool) {
	if seq == head.Seq {
		return head.Hash, true
	}
	nv := b.Get(seqKey(seq + 1))
	if nv == nil {
		return record.Hash{}, false
	}
	prev, ok := record.WirePrev(nv)
	if !ok || prev == record.Genesis {
		return record.Hash{}, false
	}
	return prev, true
}

// NextWait is Next that waits: it returns up to n pending records with
// seq > after, blocking until there is at least one, ctx ends (ctx's error)
// or the outbox is closed (ErrClosed). It suits the uplink's publish loop.
func (o *Outbox) NextWait(ctx context.Context, after uint64, n int) ([]Entry, error) {
	for {
		o.notifyMu.Lock()
		appended := o.notify // taken before reading: no append is missed
		o.notifyMu.Unlock()
		es, err := o.Next(after, n)
		if err != nil || len(es) > 0 || n <= 0 {
			return es, err
		}
		select {
		case <-appended:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-o.quit:
			return nil, ErrClosed
		}
	}
}

// Ack moves the records with these sequence numbers to the archive (the
// broker has them): they are no longer pending, and stay available to
// Range until the archive's bounds drop them. Seqs not pending (already
// acked, quarantined, never stored) are ignored. It returns how many
// records were acknowledged.
func (o *Outbox) Ack(seqs ...uint64) (int, error) {
	acked := 0
	err := o.update(func(tx *bolt.Tx) error {
		acked = 0
		st, err := loadState(tx)
		if err != nil {
			return err
		}
		b, ab := tx.Bucket(bucketRecords), tx.Bucket(bucketAcked)
		for _, seq := range seqs {
			if seq <= st.Acked {
				continue
			}
			k := seqKey(seq)
			v := b.Get(k)
			if v == nil || ab.Get(k) != nil {
				continue
			}
			if seq == st.Acked+1 {
				st.Acked = seq
				if err := advance(tx, &st); err != nil {
					return err
				}
			} else if err := ab.Put(k, nil); err != nil {
				return err
			}
			size := int64(keySize + len(v))
			st.Depth--
			st.Bytes -= size
			st.Archived++
			st.ArchiveBytes += size
			acked++
		}
		if acked == 0 {
			return nil
		}
		if err := o.pruneRoom(tx, &st, 0); err != nil {
			return err
		}
		if err := o.pruneAge(tx, &st); err != nil {
			return err
		}
		return saveState(tx, st)
	})
	return acked, err
}

// quarantineValue is how a quarantined record is stored.
type quarantineValue struct {
	Seq    uint64          `json:"seq"`
	At     time.Time       `json:"quarantined_at"`
	Reason string          `json:"reason"`
	Record json.RawMessage `json:"record"`
}

// QuarantineEntry is a record set aside by Quarantine.
type QuarantineEntry struct {
	Seq    uint64
	At     time.Time // when it was quarantined
	Reason string
	Data   []byte // the wire record, byte-exact
}

// Quarantine moves the pending record seq to the quarantine bucket with a
// reason: it will not be offered by Peek/Next again but stays in the
// outbox (and counts against MaxBytes) until an operator exports it. An
// error matching ErrNotFound means seq is not pending.
func (o *Outbox) Quarantine(seq uint64, reason string) error {
	return o.update(func(tx *bolt.Tx) error {
		st, err := loadState(tx)
		if err != nil {
			return err
		}
		b := tx.Bucket(bucketRecords)
		k := seqKey(seq)
		v := b.Get(k)
		if v == nil || archived(&st, tx.Bucket(bucketAcked), k) {
			return fmt.Errorf("%w: seq %d is not pending", ErrNotFound, seq)
		}
		q, err := json.Marshal(quarantineValue{Seq: seq, At: o.opts.Now().UTC(), Reason: reason, Record: v})
		if err != nil {
			return fmt.Errorf("outbox: quarantine seq %d: %w", seq, err)
		}
		st.Bytes += int64(len(q) - len(v))
		st.Depth--
		st.Quarantined++
		if err := b.Delete(k); err != nil {
			return err
		}
		if err := tx.Bucket(bucketQuarantine).Put(k, q); err != nil {
			return err
		}
		if err := advance(tx, &st); err != nil {
			return err
		}
		return saveState(tx, st)
	})
}

// Quarantined returns the quarantined records in seq order.
func (o *Outbox) Quarantined() ([]QuarantineEntry, error) {
	var out []QuarantineEntry
	err := o.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketQuarantine)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			var q quarantineValue
			if err := json.Unmarshal(v, &q); err != nil {
				return fmt.Errorf("%w: quarantine entry %x: %v", ErrCorrupt, k, err)
			}
			out = append(out, QuarantineEntry{Seq: q.Seq, At: q.At, Reason: q.Reason, Data: bytes.Clone(q.Record)})
			return nil
		})
	})
	return out, err
}

// Stats describes the outbox's contents.
type Stats struct {
	Depth       int64      `json:"depth"`       // pending records
	Bytes       int64      `json:"bytes"`       // bytes of pending and quarantined records (ErrFull counts these)
	MaxBytes    int64      `json:"max_bytes"`   // the bound
	Quarantined int64      `json:"quarantined"` // quarantined records
	FirstSeq    uint64     `json:"first_seq"`   // lowest pending seq, 0 if none
	LastSeq     uint64     `json:"last_seq"`    // highest pending seq, 0 if none
	HeadSeq     uint64     `json:"head_seq"`    // seq of the last record ever sealed
	Oldest      *time.Time `json:"oldest,omitempty"`
	// Archived and ArchiveBytes describe the archive of acknowledged
	// records; ArchiveFirstSeq is the oldest seq it holds (0 if none),
	// the lowest a resend can still give.
	Archived        int64  `json:"archived"`
	ArchiveBytes    int64  `json:"archive_bytes"`
	ArchiveMaxBytes int64  `json:"archive_max_bytes"`
	ArchiveFirstSeq uint64 `json:"archive_first_seq"`
	FileBytes       int64  `json:"file_bytes"` // bytes of database pages up to the high-water mark
	// Appends and Commits count records stored and write transactions
	// since Open (Appends/Commits is the mean group-commit size).
	Appends int64 `json:"appends"`
	Commits int64 `json:"commits"`
}

// Stats returns the current statistics.
func (o *Outbox) Stats() (Stats, error) {
	s := Stats{MaxBytes: o.opts.MaxBytes, ArchiveMaxBytes: o.opts.ArchiveMaxBytes, Appends: o.appends.Load(), Commits: o.commits.Load()}
	err := o.view(func(tx *bolt.Tx) error {
		st, err := loadState(tx)
		if err != nil {
			return err
		}
		s.Depth, s.Bytes, s.Quarantined, s.HeadSeq = st.Depth, st.Bytes, st.Quarantined, st.Seq
		s.Archived, s.ArchiveBytes = st.Archived, st.ArchiveBytes
		s.FileBytes = tx.Size()
		b, ab := tx.Bucket(bucketRecords), tx.Bucket(bucketAcked)
		if b == nil {
			return nil
		}
		c := b.Cursor()
		if k, _ := c.First(); k != nil && archived(&st, ab, k) {
			s.ArchiveFirstSeq = binary.BigEndian.Uint64(k)
		}
		for k, v := c.Seek(seqKey(st.Acked + 1)); k != nil; k, v = c.Next() {
			if archived(&st, ab, k) {
				continue
			}
			s.FirstSeq = binary.BigEndian.Uint64(k)
			if t, ok := sealedAt(v); ok {
				s.Oldest = &t
			}
			break
		}
		if s.FirstSeq != 0 {
			for k, _ := c.Last(); k != nil; k, _ = c.Prev() {
				if !archived(&st, ab, k) {
					s.LastSeq = binary.BigEndian.Uint64(k)
					break
				}
			}
		}
		return nil
	})
	return s, err
}

// listLine is one line of List.
type listLine struct {
	Seq    uint64 `json:"seq"`
	State  string `json:"state"` // "pending", "archived" or "quarantined"
	Time   string `json:"time,omitempty"`
	Kind   string `json:"kind,omitempty"`
	Job    string `json:"job,omitempty"`
	Bytes  int    `json:"bytes"`
	Reason string `json:"reason,omitempty"`
	Error  string `json:"error,omitempty"` // the stored bytes are not a valid record
}

// List writes one JSON line per stored record, pending, archived and
// quarantined, in seq order: {"seq","state","time","kind","job","bytes",
// "reason"}.
func (o *Outbox) List(w io.Writer) error {
	enc := json.NewEncoder(w)
	return o.each(func(seq uint64, state string, data []byte, q *quarantineValue) error {
		l := listLine{Seq: seq, State: state, Bytes: len(data)}
		if q != nil {
			l.Reason = q.Reason
		}
		if r, err := record.Decode(data); err != nil {
			l.Error = err.Error()
		} else {
			l.Time, l.Kind, l.Job = r.Time.Format(record.TimeLayout), r.Kind, r.Job
		}
		return enc.Encode(l)
	})
}

// Export writes every stored record, archived, pending and quarantined,
// as wire lines in seq order, byte-exact, so that the output can be
// checked with record.Verify or handed over by other means.
func (o *Outbox) Export(w io.Writer) error {
	bw := bufio.NewWriter(w)
	err := o.each(func(_ uint64, _ string, data []byte, _ *quarantineValue) error {
		bw.Write(data)
		return bw.WriteByte('\n')
	})
	if err != nil {
		return err
	}
	return bw.Flush()
}

// Each calls fn for every record the outbox holds (pending, archived and
// quarantined) in seq order, in one read transaction: the agent reads the
// records of its open jobs back with it at start (job.Manager.Recover).
// data is valid only during the call.
func (o *Outbox) Each(fn func(seq uint64, data []byte) error) error {
	return o.each(func(seq uint64, _ string, data []byte, _ *quarantineValue) error { return fn(seq, data) })
}

// each calls fn for every stored record in seq order with its state,
// merging the records and quarantine buckets. It runs in one read
// transaction.
func (o *Outbox) each(fn func(seq uint64, state string, data []byte, q *quarantineValue) error) error {
	return o.view(func(tx *bolt.Tx) error {
		rb, qb, ab := tx.Bucket(bucketRecords), tx.Bucket(bucketQuarantine), tx.Bucket(bucketAcked)
		if rb == nil || qb == nil {
			return nil
		}
		st, err := loadState(tx)
		if err != nil {
			return err
		}
		rc, qc := rb.Cursor(), qb.Cursor()
		rk, rv := rc.First()
		qk, qv := qc.First()
		for rk != nil || qk != nil {
			if qk == nil || rk != nil && bytes.Compare(rk, qk) < 0 {
				state := StatePending
				if archived(&st, ab, rk) {
					state = StateArchived
				}
				if err := fn(binary.BigEndian.Uint64(rk), state, rv, nil); err != nil {
					return err
				}
				rk, rv = rc.Next()
				continue
			}
			var q quarantineValue
			if err := json.Unmarshal(qv, &q); err != nil {
				return fmt.Errorf("%w: quarantine entry %x: %v", ErrCorrupt, qk, err)
			}
			if err := fn(binary.BigEndian.Uint64(qk), StateQuarantined, q.Record, &q); err != nil {
				return err
			}
			qk, qv = qc.Next()
		}
		return nil
	})
}

func (o *Outbox) view(fn func(*bolt.Tx) error) error {
	return mapClosed(o.db.View(fn))
}

func (o *Outbox) update(fn func(*bolt.Tx) error) error {
	if o.opts.ReadOnly {
		return ErrReadOnly
	}
	return mapClosed(o.db.Update(fn))
}

func mapClosed(err error) error {
	if errors.Is(err, berrors.ErrDatabaseNotOpen) {
		return ErrClosed
	}
	return err
}
