package outbox

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/bayagent/bayagent/agent/record"
	bolt "go.etcd.io/bbolt"
)

// Buckets and meta keys.
var (
	bucketRecords    = []byte("records")    // seq (8 bytes, big-endian) -> wire record
	bucketQuarantine = []byte("quarantine") // seq -> quarantineValue JSON
	bucketAcked      = []byte("acked")      // seq -> empty: acknowledged out of order, above state.Acked
	bucketMeta       = []byte("meta")
	keyState         = []byte("state") // state JSON
)

// keySize is the size of a record key, counted in the byte bound.
const keySize = 8

const stateMarker = "bayagent_outbox"

// state is the outbox's persistent state, rewritten by every write
// transaction. Its JSON starts with `{"bayagent_outbox":1,` so that the
// newest head can be found in the bytes of a damaged file.
type state struct {
	Marker      int    `json:"bayagent_outbox"`
	Device      string `json:"device"`
	Seq         uint64 `json:"seq"`   // last sealed seq
	Hash        string `json:"hash"`  // hash of the last sealed record
	Depth       int64  `json:"depth"` // pending records
	Bytes       int64  `json:"bytes"` // bytes of pending and quarantined records
	Quarantined int64  `json:"quarantined"`
	// Acked is the archive's watermark: every record still in the records
	// bucket with a seq up to Acked was acknowledged (archived); so is
	// every seq listed in the acked bucket. Files written before the
	// archive have none: all their records are pending.
	Acked        uint64 `json:"acked,omitempty"`
	Archived     int64  `json:"archived,omitempty"`      // archived records
	ArchiveBytes int64  `json:"archive_bytes,omitempty"` // their bytes
}

func (s *state) head() (record.Head, error) {
	if s.Seq == 0 && s.Hash == "" {
		return record.Head{}, nil
	}
	h, err := record.ParseHash(s.Hash)
	if err != nil {
		return record.Head{}, fmt.Errorf("%w: chain head: %v", ErrCorrupt, err)
	}
	return record.Head{Seq: s.Seq, Hash: h}, nil
}

// loadHead loads the state and its chain head.
func loadHead(tx *bolt.Tx) (state, record.Head, error) {
	st, err := loadState(tx)
	if err != nil {
		return st, record.Head{}, err
	}
	h, err := st.head()
	return st, h, err
}

func (s *state) setHead(h record.Head) {
	s.Seq = h.Seq
	s.Hash = h.Hash.String()
}

func seqKey(seq uint64) []byte {
	var k [keySize]byte
	binary.BigEndian.PutUint64(k[:], seq)
	return k[:]
}

func loadState(tx *bolt.Tx) (state, error) {
	st := state{Marker: 1}
	m := tx.Bucket(bucketMeta)
	if m == nil {
		return st, nil
	}
	v := m.Get(keyState)
	if v == nil {
		return st, nil
	}
	if err := json.Unmarshal(v, &st); err != nil || st.Marker != 1 {
		return st, fmt.Errorf("%w: meta state %.80q", ErrCorrupt, v)
	}
	return st, nil
}

func saveState(tx *bolt.Tx, st state) error {
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	return tx.Bucket(bucketMeta).Put(keyState, b)
}

// init creates the buckets, checks the device, recounts the stored bytes
// and, after a corruption reset, writes the outbox_reset record.
func (o *Outbox) init(reset *resetInfo, fresh bool) error {
	dev := o.opts.Sealer.Device()
	if o.opts.Chain != nil {
		_, o.reserved, _ = o.opts.Chain.Known()
	}
	return o.db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketRecords, bucketQuarantine, bucketAcked, bucketMeta} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return fmt.Errorf("outbox: %w", err)
			}
		}
		st, err := loadState(tx)
		if err != nil {
			return err
		}
		if st.Device != "" && st.Device != dev {
			return fmt.Errorf("%w: %s holds records of %q, this agent is %q", ErrDeviceMismatch, o.path, st.Device, dev)
		}
		st.Device = dev
		if _, err := st.head(); err != nil {
			return err
		}
		var depth, size, qn, arch, archSize int64
		var last uint64
		acked := tx.Bucket(bucketAcked)
		c := tx.Bucket(bucketRecords).Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			seq := binary.BigEndian.Uint64(k)
			if seq <= st.Acked || acked.Get(k) != nil {
				arch++
				archSize += int64(len(k) + len(v))
			} else {
				depth++
				size += int64(len(k) + len(v))
			}
			last = seq
		}
		c = tx.Bucket(bucketQuarantine).Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			qn++
			size += int64(len(k) + len(v))
			last = max(last, binary.BigEndian.Uint64(k))
		}
		if last > st.Seq || st.Acked > st.Seq {
			return fmt.Errorf("%w: %s: stored seq %d (acknowledged up to %d) is beyond the chain head %d",
				ErrCorrupt, o.path, last, st.Acked, st.Seq)
		}
		if depth != st.Depth || size != st.Bytes || qn != st.Quarantined || arch != st.Archived || archSize != st.ArchiveBytes {
			if st.Seq > 0 {
				o.log.Warn("outbox counters repaired", "depth", depth, "bytes", size, "quarantined", qn,
					"archived", arch, "archive_bytes", archSize,
					"were_depth", st.Depth, "were_bytes", st.Bytes, "were_quarantined", st.Quarantined,
					"were_archived", st.Archived, "were_archive_bytes", st.ArchiveBytes)
			}
			st.Depth, st.Bytes, st.Quarantined, st.Archived, st.ArchiveBytes = depth, size, qn, arch, archSize
		}
		if err := o.pruneRoom(tx, &st, 0); err != nil {
			return err
		}
		if err := o.pruneAge(tx, &st); err != nil {
			return err
		}
		if reset == nil {
			reset = o.lost(st.Seq, fresh)
		}
		if reset != nil && (st.Seq == 0 || reset.kind == ResetRolledBack) {
			body := ResetBody{Cause: reset.kind, MovedTo: reset.movedTo, Error: reset.cause, SalvagedLastSeq: reset.salvaged,
				LastKnownSeq: reset.known.Seq, ReservedTo: reset.reserved}
			if reset.known.Seq > 0 {
				body.LastKnownHash = reset.known.Hash.String()
			}
			start := reset.start()
			if err := o.reserve(record.Head{Seq: start}, start+1); err != nil {
				return err
			}
			// A new chain (prev = Genesis) after every seq that may have
			// been used.
			rec, wire, h, err := o.opts.Sealer.SealNext(record.Head{Seq: start}, record.KindOutboxReset, "", body)
			if err != nil {
				return fmt.Errorf("outbox: seal reset record: %w", err)
			}
			o.log.Error("outbox: the database lost records; a new chain starts with an outbox_reset record",
				"cause", reset.kind, "reset_seq", rec.Seq, "last_known_seq", reset.known.Seq, "reserved_to", reset.reserved,
				"database_head", st.Seq)
			if err := tx.Bucket(bucketRecords).Put(seqKey(rec.Seq), wire); err != nil {
				return fmt.Errorf("outbox: %w", err)
			}
			st.setHead(h)
			st.Depth++
			st.Bytes += int64(keySize + len(wire))
		}
		head, err := st.head()
		if err != nil {
			return err
		}
		o.headSeq = head.Seq
		return saveState(tx, st)
	})
}

// ResetBody is the body of an "outbox_reset" record: why the chain starts
// again, and what was known of the one before.
type ResetBody struct {
	// Cause is "corrupt" (the database was damaged and moved aside),
	// "missing" (it was gone or empty although the chain was used) or
	// "rolled_back" (it held an older head than the chain recorded).
	Cause string `json:"cause"`
	// MovedTo and Error: where a corrupt database was moved, and why.
	MovedTo string `json:"moved_to,omitempty"`
	Error   string `json:"error,omitempty"`
	// SalvagedLastSeq is the highest seq found in a corrupt database.
	SalvagedLastSeq uint64 `json:"salvaged_last_seq,omitempty"`
	// LastKnownSeq and LastKnownHash are the last head the chain file
	// recorded; ReservedTo the highest seq that may have been used.
	LastKnownSeq  uint64 `json:"last_known_seq"`
	LastKnownHash string `json:"last_known_hash,omitempty"`
	ReservedTo    uint64 `json:"reserved_to"`
}

// Reset causes (ResetBody.Cause).
const (
	ResetCorrupt    = "corrupt"
	ResetMissing    = "missing"
	ResetRolledBack = "rolled_back"
)

// lost reports a database that lost records as a whole: fresh (it did not
// exist or was empty before Open) although the chain reserved sequence
// numbers (a reservation precedes the first record), or behind the
// chain's recorded head.
func (o *Outbox) lost(dbSeq uint64, fresh bool) *resetInfo {
	if o.opts.Chain == nil {
		return nil
	}
	known, reserved, ok := o.opts.Chain.Known()
	switch {
	case !ok:
		return nil
	case fresh && dbSeq == 0:
		return &resetInfo{kind: ResetMissing, known: known, reserved: reserved}
	case dbSeq < known.Seq:
		return &resetInfo{kind: ResetRolledBack, known: known, reserved: reserved}
	}
	return nil
}

// reserve records head and the reservation upTo in the Chain.
func (o *Outbox) reserve(head record.Head, upTo uint64) error {
	if o.opts.Chain == nil {
		return nil
	}
	if err := o.opts.Chain.Reserve(head, upTo); err != nil {
		return fmt.Errorf("%w: %w", ErrReserve, err)
	}
	o.reserved = upTo
	return nil
}

// request is one Append waiting for the writer.
type request struct {
	kind, job string
	body      json.RawMessage
	// claimed is set by whichever comes first: the writer taking the
	// request into a transaction, or the caller giving up (context).
	claimed atomic.Bool
	done    chan struct{}
	rec     record.Record
	err     error
}

// Append seals an event as the next record and stores it. It returns the
// sealed record only once the transaction holding it has committed (fsync).
// body is marshalled to a JSON object (see record.MarshalBody). An error
// means the record was not stored: ErrFull when it does not fit, ErrClosed
// after Close, ErrReadOnly, the context's error if ctx ended before the
// record was taken, or a record or database error.
func (o *Outbox) Append(ctx context.Context, kind, job string, body any) (record.Record, error) {
	if o.opts.ReadOnly {
		return record.Record{}, ErrReadOnly
	}
	b, err := record.MarshalBody(body)
	if err != nil {
		return record.Record{}, fmt.Errorf("outbox: append %s: %w", kind, err)
	}
	if err := ctx.Err(); err != nil {
		return record.Record{}, fmt.Errorf("outbox: append %s not stored: %w", kind, err)
	}
	r := &request{kind: kind, job: job, body: b, done: make(chan struct{})}
	o.mu.Lock()
	if o.closed {
		o.mu.Unlock()
		return record.Record{}, ErrClosed
	}
	o.pending = append(o.pending, r)
	o.mu.Unlock()
	select {
	case o.wake <- struct{}{}:
	default:
	}
	select {
	case <-r.done:
	case <-ctx.Done():
		if r.claimed.CompareAndSwap(false, true) {
			return record.Record{}, fmt.Errorf("outbox: append %s not stored: %w", kind, ctx.Err())
		}
		<-r.done // already in a transaction: wait for its outcome
	}
	return r.rec, r.err
}

// run is the writer goroutine: it commits queued requests in groups until
// Close, then commits what is still queued and returns.
func (o *Outbox) run() {
	defer o.wg.Done()
	for {
		quitting := false
		select {
		case <-o.wake:
		case <-o.quit:
			quitting = true
		}
		for {
			batch := o.take()
			if len(batch) == 0 {
				break
			}
			o.commit(batch)
		}
		if quitting {
			return
		}
	}
}

func (o *Outbox) take() []*request {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := min(len(o.pending), o.opts.MaxBatch)
	if n == 0 {
		return nil
	}
	batch := make([]*request, n)
	copy(batch, o.pending)
	rest := copy(o.pending, o.pending[n:])
	clear(o.pending[rest:])
	o.pending = o.pending[:rest]
	return batch
}

// commit seals and stores the requests of batch in one transaction. Each
// request gets its own result: a request that cannot be sealed or does not
// fit fails alone; a failed commit fails all.
func (o *Outbox) commit(batch []*request) {
	claimed := batch[:0]
	for _, r := range batch {
		if r.claimed.CompareAndSwap(false, true) {
			claimed = append(claimed, r)
		}
	}
	if len(claimed) == 0 {
		return
	}
	stored := 0
	if o.opts.Chain != nil && o.headSeq+uint64(len(claimed)) > o.reserved {
		// Reserve before sealing beyond the reservation; the head is the
		// last committed one (the writer is the only one changing it).
		h, err := o.committedHead()
		if err == nil {
			err = o.reserve(h, h.Seq+uint64(len(claimed))+ReserveAhead)
		}
		if err != nil {
			for _, r := range claimed {
				r.rec, r.err = record.Record{}, fmt.Errorf("outbox: append %s not stored: %w", r.kind, err)
				close(r.done)
			}
			return
		}
	}
	err := o.db.Update(func(tx *bolt.Tx) error {
		stored = 0
		st, head, err := loadHead(tx)
		if err != nil {
			return err
		}
		recs := tx.Bucket(bucketRecords)
		for _, r := range claimed {
			r.rec, r.err = record.Record{}, nil
			rec, wire, next, err := o.opts.Sealer.SealNext(head, r.kind, r.job, r.body)
			if err != nil {
				r.err = fmt.Errorf("outbox: append %s: %w", r.kind, err)
				continue
			}
			size := int64(keySize + len(wire))
			if st.Bytes+size > o.opts.MaxBytes {
				r.err = fmt.Errorf("%w: %s record of %d bytes does not fit: %d of %d bytes used by %d pending and %d quarantined records",
					ErrFull, r.kind, size, st.Bytes, o.opts.MaxBytes, st.Depth, st.Quarantined)
				continue
			}
			// Room for a new record comes out of the archive.
			if err := o.pruneRoom(tx, &st, size); err != nil {
				return err
			}
			if err := recs.Put(seqKey(rec.Seq), wire); err != nil {
				return err
			}
			head = next
			st.Depth++
			st.Bytes += size
			r.rec = rec
			stored++
		}
		if stored == 0 {
			return errNothingStored
		}
		if err := o.pruneAge(tx, &st); err != nil {
			return err
		}
		st.setHead(head)
		return saveState(tx, st)
	})
	if err != nil && !errors.Is(err, errNothingStored) {
		for _, r := range claimed {
			r.rec, r.err = record.Record{}, fmt.Errorf("outbox: commit: %w", err)
		}
	} else if err == nil {
		for _, r := range claimed {
			if r.err == nil {
				o.headSeq = max(o.headSeq, r.rec.Seq)
			}
		}
		o.appends.Add(int64(stored))
		o.commits.Add(1)
		o.notifyMu.Lock()
		close(o.notify)
		o.notify = make(chan struct{})
		o.notifyMu.Unlock()
	}
	for _, r := range claimed {
		close(r.done)
	}
}

// committedHead reads the chain head from the database.
func (o *Outbox) committedHead() (record.Head, error) {
	var h record.Head
	err := o.db.View(func(tx *bolt.Tx) error {
		var err error
		_, h, err = loadHead(tx)
		return err
	})
	return h, err
}

// errNothingStored rolls back a transaction in which every request failed.
var errNothingStored = errors.New("nothing stored")
