// Package boltstore is the receiver's store in one bbolt file.
//
// It is the default for a single receiver (see package store for what it
// keeps).
//
// Layout: bucket "records" maps device NUL seq (8 bytes, big-endian) to a
// small binary header (hash, prev, times, kind, job, shop) followed by the
// wire record; "jobidx" indexes device NUL job NUL seq; "chains" and
// "jobs" hold JSON states; "quarantine" maps an 8-byte id to JSON; "keys"
// maps a device to its 32-byte public key; "meta" keeps counters. Every
// method is one bbolt transaction, so a crash leaves the file as of the
// last commit (fsync). bbolt serialises writers, which is what
// UpdateChain's lock needs; a second process cannot open the file
// (ErrLocked): several receivers need pgstore.
package boltstore

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/bayagent/bayagent/agent/record"
	"github.com/bayagent/bayagent/cmd/bayreceiver/store"
	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// ErrLocked: another process holds the database file.
var ErrLocked = errors.New("boltstore: database is in use by another receiver (file locked)")

var (
	bRecords    = []byte("records")
	bJobIdx     = []byte("jobidx")
	bChains     = []byte("chains")
	bJobs       = []byte("jobs")
	bQuarantine = []byte("quarantine")
	bKeys       = []byte("keys")
	bMeta       = []byte("meta")
	kCounts     = []byte("counts")
)

// Store is a bbolt-backed store.Store.
type Store struct {
	db *bolt.DB
}

var _ store.Store = (*Store)(nil)

// Open opens or creates the database at path (its directory is created,
// mode 0700).
func Open(path string) (*Store, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("boltstore: %w", err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("%w: %s", ErrLocked, path)
	}
	if err != nil {
		return nil, fmt.Errorf("boltstore: open %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bRecords, bJobIdx, bChains, bJobs, bQuarantine, bKeys, bMeta} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("boltstore: %s: %w", path, err)
	}
	return &Store{db: db}, nil
}

// Close closes the file.
func (s *Store) Close() error { return s.db.Close() }

func (s *Store) view(fn func(*bolt.Tx) error) error   { return mapErr(s.db.View(fn)) }
func (s *Store) update(fn func(*bolt.Tx) error) error { return mapErr(s.db.Update(fn)) }

func mapErr(err error) error {
	if errors.Is(err, berrors.ErrDatabaseNotOpen) {
		return store.ErrClosed
	}
	return err
}

func recKey(device string, seq uint64) []byte {
	k := make([]byte, 0, len(device)+9)
	k = append(k, device...)
	k = append(k, 0)
	return binary.BigEndian.AppendUint64(k, seq)
}

func jobPrefix(device, job string) []byte {
	k := make([]byte, 0, len(device)+len(job)+2)
	k = append(append(k, device...), 0)
	return append(append(k, job...), 0)
}

func jobKey(device, job string) []byte { return jobPrefix(device, job)[:len(device)+len(job)+1] }

// counts are the totals kept in the meta bucket.
type counts struct {
	Records     int64            `json:"records"`
	Quarantined map[string]int64 `json:"quarantined"`
}

func loadCounts(tx *bolt.Tx) counts {
	var c counts
	if v := tx.Bucket(bMeta).Get(kCounts); v != nil {
		_ = json.Unmarshal(v, &c) // counters only: a damaged value restarts them
	}
	if c.Quarantined == nil {
		c.Quarantined = map[string]int64{}
	}
	return c
}

func saveCounts(tx *bolt.Tx, c counts) error {
	b, _ := json.Marshal(c)
	return tx.Bucket(bMeta).Put(kCounts, b)
}

// Record value: version 1, hash, prev, time ms, received ms, then kind,
// job and shop each as a length byte and bytes, then the wire record.
const hdrFixed = 1 + 32 + 32 + 8 + 8

func encode(r *store.Record) []byte {
	b := make([]byte, 0, hdrFixed+3+len(r.Kind)+len(r.Job)+len(r.Shop)+len(r.Wire))
	b = append(b, 1)
	b = append(b, r.Hash[:]...)
	b = append(b, r.Prev[:]...)
	b = binary.BigEndian.AppendUint64(b, uint64(r.Time.UnixMilli()))
	b = binary.BigEndian.AppendUint64(b, uint64(r.ReceivedAt.UnixMilli()))
	for _, s := range []string{r.Kind, r.Job, r.Shop} {
		b = append(b, byte(len(s)))
		b = append(b, s...)
	}
	return append(b, r.Wire...)
}

func decode(device string, seq uint64, v []byte, withWire bool) (store.Record, error) {
	r := store.Record{Device: device, Seq: seq}
	if len(v) < hdrFixed+3 || v[0] != 1 {
		return r, fmt.Errorf("boltstore: record %s/%d: bad stored value", device, seq)
	}
	copy(r.Hash[:], v[1:33])
	copy(r.Prev[:], v[33:65])
	r.Time = time.UnixMilli(int64(binary.BigEndian.Uint64(v[65:73]))).UTC()
	r.ReceivedAt = time.UnixMilli(int64(binary.BigEndian.Uint64(v[73:81]))).UTC()
	rest := v[hdrFixed:]
	var strs [3]string
	for i := range strs {
		if len(rest) < 1 || len(rest) < 1+int(rest[0]) {
			return r, fmt.Errorf("boltstore: record %s/%d: bad stored value", device, seq)
		}
		n := int(rest[0])
		strs[i] = string(rest[1 : 1+n])
		rest = rest[1+n:]
	}
	r.Kind, r.Job, r.Shop = strs[0], strs[1], strs[2]
	if withWire {
		r.Wire = bytes.Clone(rest)
	}
	return r, nil
}

// PutRecords implements store.Store.
func (s *Store) PutRecords(_ context.Context, recs []store.Record) ([]store.Outcome, error) {
	out := make([]store.Outcome, len(recs))
	err := s.update(func(tx *bolt.Tx) error {
		rb, jb := tx.Bucket(bRecords), tx.Bucket(bJobIdx)
		c := loadCounts(tx)
		added := 0
		for i := range recs {
			r := &recs[i]
			k := recKey(r.Device, r.Seq)
			if v := rb.Get(k); v != nil {
				out[i] = store.Conflict
				if len(v) >= 33 && bytes.Equal(v[1:33], r.Hash[:]) {
					out[i] = store.Duplicate
				}
				continue
			}
			if err := rb.Put(k, encode(r)); err != nil {
				return err
			}
			if r.Job != "" {
				if err := jb.Put(binary.BigEndian.AppendUint64(jobPrefix(r.Device, r.Job), r.Seq), nil); err != nil {
					return err
				}
			}
			out[i] = store.Stored
			added++
		}
		if added == 0 {
			return nil
		}
		c.Records += int64(added)
		return saveCounts(tx, c)
	})
	return out, err
}

// Record implements store.Store.
func (s *Store) Record(_ context.Context, device string, seq uint64) (store.Record, bool, error) {
	var r store.Record
	found := false
	err := s.view(func(tx *bolt.Tx) error {
		v := tx.Bucket(bRecords).Get(recKey(device, seq))
		if v == nil {
			return nil
		}
		var err error
		r, err = decode(device, seq, v, true)
		found = err == nil
		return err
	})
	return r, found, err
}

// Records implements store.Store.
func (s *Store) Records(_ context.Context, device string, from, to uint64, limit int) ([]store.Record, error) {
	var out []store.Record
	err := s.view(func(tx *bolt.Tx) error {
		c := tx.Bucket(bRecords).Cursor()
		prefix := append([]byte(device), 0)
		for k, v := c.Seek(recKey(device, from)); k != nil && bytes.HasPrefix(k, prefix) && len(out) < limit; k, v = c.Next() {
			seq := binary.BigEndian.Uint64(k[len(prefix):])
			if seq > to {
				break
			}
			r, err := decode(device, seq, v, true)
			if err != nil {
				return err
			}
			out = append(out, r)
		}
		return nil
	})
	return out, err
}

// JobRecords implements store.Store.
func (s *Store) JobRecords(_ context.Context, device, job string) ([]store.Record, error) {
	var out []store.Record
	err := s.view(func(tx *bolt.Tx) error {
		rb := tx.Bucket(bRecords)
		prefix := jobPrefix(device, job)
		c := tx.Bucket(bJobIdx).Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			if len(k) != len(prefix)+8 {
				continue
			}
			seq := binary.BigEndian.Uint64(k[len(prefix):])
			v := rb.Get(recKey(device, seq))
			if v == nil {
				continue
			}
			r, err := decode(device, seq, v, true)
			if err != nil {
				return err
			}
			out = append(out, r)
		}
		return nil
	})
	return out, err
}

type quarantineValue struct {
	Device     string    `json:"device"`
	Seq        uint64    `json:"seq"`
	Reason     string    `json:"reason"`
	Detail     string    `json:"detail"`
	Topic      string    `json:"topic"`
	Wire       []byte    `json:"wire"`
	ReceivedAt time.Time `json:"received_at"`
}

// Quarantine implements store.Store.
func (s *Store) Quarantine(_ context.Context, qs []store.Quarantined) error {
	return s.update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bQuarantine)
		c := loadCounts(tx)
		for i := range qs {
			id, err := b.NextSequence()
			if err != nil {
				return err
			}
			qs[i].ID = int64(id)
			q := qs[i]
			v, err := json.Marshal(quarantineValue{q.Device, q.Seq, q.Reason, q.Detail, q.Topic, q.Wire, q.ReceivedAt.UTC()})
			if err != nil {
				return err
			}
			if err := b.Put(binary.BigEndian.AppendUint64(nil, id), v); err != nil {
				return err
			}
			c.Quarantined[q.Reason]++
		}
		return saveCounts(tx, c)
	})
}

// QuarantinedRecords implements store.Store.
func (s *Store) QuarantinedRecords(_ context.Context, device string, limit int) ([]store.Quarantined, error) {
	var out []store.Quarantined
	err := s.view(func(tx *bolt.Tx) error {
		c := tx.Bucket(bQuarantine).Cursor()
		for k, v := c.Last(); k != nil && len(out) < limit; k, v = c.Prev() {
			var q quarantineValue
			if err := json.Unmarshal(v, &q); err != nil {
				return fmt.Errorf("boltstore: quarantine entry %x: %w", k, err)
			}
			if device != "" && q.Device != device {
				continue
			}
			out = append(out, store.Quarantined{ID: int64(binary.BigEndian.Uint64(k)), Device: q.Device, Seq: q.Seq,
				Reason: q.Reason, Detail: q.Detail, Topic: q.Topic, Wire: q.Wire, ReceivedAt: q.ReceivedAt})
		}
		return nil
	})
	return out, err
}

// EnrollKey implements store.Store.
func (s *Store) EnrollKey(_ context.Context, device string, pub ed25519.PublicKey) error {
	if len(pub) != ed25519.PublicKeySize {
		return fmt.Errorf("%w: %d bytes for %s", store.ErrKey, len(pub), device)
	}
	if err := record.ValidDevice(device); err != nil {
		return fmt.Errorf("%w: %v", store.ErrKey, err)
	}
	return s.update(func(tx *bolt.Tx) error { return tx.Bucket(bKeys).Put([]byte(device), pub) })
}

// Keys implements store.Store.
func (s *Store) Keys(context.Context) (map[string]ed25519.PublicKey, error) {
	out := map[string]ed25519.PublicKey{}
	err := s.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bKeys).ForEach(func(k, v []byte) error {
			if len(v) == ed25519.PublicKeySize {
				out[string(k)] = ed25519.PublicKey(bytes.Clone(v))
			}
			return nil
		})
	})
	return out, err
}

type chainTx struct {
	store.ChainState
	tx     *bolt.Tx
	device string
	prefix []byte
}

func (c *chainTx) Links(after uint64, n int) ([]store.Link, error) {
	var out []store.Link
	cur := c.tx.Bucket(bRecords).Cursor()
	for k, v := cur.Seek(recKey(c.device, after+1)); k != nil && bytes.HasPrefix(k, c.prefix) && len(out) < n; k, v = cur.Next() {
		r, err := decode(c.device, binary.BigEndian.Uint64(k[len(c.prefix):]), v, false)
		if err != nil {
			return nil, err
		}
		out = append(out, store.Link{Seq: r.Seq, Hash: r.Hash, Prev: r.Prev, Kind: r.Kind, Job: r.Job, Shop: r.Shop})
	}
	return out, nil
}

func (c *chainTx) AddJob(j store.Job) error {
	b := c.tx.Bucket(bJobs)
	k := jobKey(j.Device, j.Job)
	if b.Get(k) != nil {
		return nil
	}
	v, err := json.Marshal(j)
	if err != nil {
		return err
	}
	return b.Put(k, v)
}

// UpdateChain implements store.Store.
func (s *Store) UpdateChain(_ context.Context, device string, fn func(store.ChainTx) error) error {
	return s.update(func(tx *bolt.Tx) error {
		state, err := store.LoadChainState(device, tx.Bucket(bChains).Get([]byte(device)))
		if err != nil {
			return fmt.Errorf("boltstore: %w", err)
		}
		ct := &chainTx{ChainState: state, tx: tx, device: device, prefix: append([]byte(device), 0)}
		if err := fn(ct); err != nil {
			return err
		}
		v, err := ct.Encoded()
		if err != nil || v == nil {
			return err
		}
		return tx.Bucket(bChains).Put([]byte(device), v)
	})
}

// Chain implements store.Store.
func (s *Store) Chain(_ context.Context, device string) (store.Chain, bool, error) {
	var ch store.Chain
	found := false
	err := s.view(func(tx *bolt.Tx) error {
		v := tx.Bucket(bChains).Get([]byte(device))
		if v == nil {
			return nil
		}
		found = true
		return json.Unmarshal(v, &ch)
	})
	return ch, found, err
}

// Chains implements store.Store.
func (s *Store) Chains(context.Context) ([]store.Chain, error) {
	var out []store.Chain
	err := s.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bChains).ForEach(func(_, v []byte) error {
			var ch store.Chain
			if err := json.Unmarshal(v, &ch); err != nil {
				return err
			}
			out = append(out, ch)
			return nil
		})
	})
	return out, err
}

// Devices implements store.Store.
func (s *Store) Devices(context.Context) ([]string, error) {
	var out []string
	err := s.view(func(tx *bolt.Tx) error {
		c := tx.Bucket(bRecords).Cursor()
		for k, _ := c.First(); k != nil; {
			i := bytes.IndexByte(k, 0)
			if i < 0 {
				k, _ = c.Next()
				continue
			}
			out = append(out, string(k[:i]))
			// Skip to the next device: its prefix sorts after device NUL 0xFF...
			k, _ = c.Seek(append(append([]byte{}, k[:i]...), 1))
		}
		return nil
	})
	return out, err
}

// StoredCount implements store.Store.
func (s *Store) StoredCount(_ context.Context, device string) (int64, error) {
	var n int64
	err := s.view(func(tx *bolt.Tx) error {
		prefix := append([]byte(device), 0)
		c := tx.Bucket(bRecords).Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			n++
		}
		return nil
	})
	return n, err
}

func getJob(tx *bolt.Tx, device, job string) (store.Job, bool, error) {
	var j store.Job
	v := tx.Bucket(bJobs).Get(jobKey(device, job))
	if v == nil {
		return j, false, nil
	}
	err := json.Unmarshal(v, &j)
	return j, err == nil, err
}

func putJob(tx *bolt.Tx, j store.Job) error {
	v, err := json.Marshal(j)
	if err != nil {
		return err
	}
	return tx.Bucket(bJobs).Put(jobKey(j.Device, j.Job), v)
}

// Job implements store.Store.
func (s *Store) Job(_ context.Context, device, job string) (store.Job, bool, error) {
	var j store.Job
	var found bool
	err := s.view(func(tx *bolt.Tx) error {
		var err error
		j, found, err = getJob(tx, device, job)
		return err
	})
	return j, found, err
}

func (s *Store) jobs(keep func(*store.Job) bool) ([]store.Job, error) {
	var out []store.Job
	err := s.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bJobs).ForEach(func(_, v []byte) error {
			var j store.Job
			if err := json.Unmarshal(v, &j); err != nil {
				return err
			}
			if keep(&j) {
				out = append(out, j)
			}
			return nil
		})
	})
	sort.Slice(out, func(a, b int) bool {
		if out[a].Device != out[b].Device {
			return out[a].Device < out[b].Device
		}
		return out[a].Job < out[b].Job
	})
	return out, err
}

// Jobs implements store.Store.
func (s *Store) Jobs(_ context.Context, state store.JobState) ([]store.Job, error) {
	return s.jobs(func(j *store.Job) bool { return state == "" || j.State == state })
}

// JobsByID implements store.Store.
func (s *Store) JobsByID(_ context.Context, job string) ([]store.Job, error) {
	return s.jobs(func(j *store.Job) bool { return j.Job == job })
}

// SetJob implements store.Store.
func (s *Store) SetJob(_ context.Context, j store.Job, owner string) error {
	return s.update(func(tx *bolt.Tx) error {
		old, found, err := getJob(tx, j.Device, j.Job)
		if err != nil {
			return err
		}
		if found && old.LeaseOwner != "" && old.LeaseOwner != owner && time.Now().Before(old.LeaseUntil) {
			return fmt.Errorf("%w: job %s/%s is leased to %s", store.ErrNotOwner, j.Device, j.Job, old.LeaseOwner)
		}
		return putJob(tx, j)
	})
}

// SwapJob implements store.Store.
func (s *Store) SwapJob(_ context.Context, j store.Job, from store.JobState) (bool, error) {
	swapped := false
	err := s.update(func(tx *bolt.Tx) error {
		old, found, err := getJob(tx, j.Device, j.Job)
		if err != nil || !found || old.State != from {
			return err
		}
		swapped = true
		return putJob(tx, j)
	})
	return swapped, err
}

// ClaimUpload implements store.Store.
func (s *Store) ClaimUpload(_ context.Context, owner string, now time.Time, lease time.Duration) (store.Job, bool, error) {
	var claimed store.Job
	found := false
	err := s.update(func(tx *bolt.Tx) error {
		c := tx.Bucket(bJobs).Cursor()
		var best *store.Job
		for k, v := c.First(); k != nil; k, v = c.Next() {
			var j store.Job
			if err := json.Unmarshal(v, &j); err != nil {
				return err
			}
			if j.State != store.JobPending || j.NextAttempt.After(now) || (j.LeaseOwner != "" && j.LeaseOwner != owner && now.Before(j.LeaseUntil)) {
				continue
			}
			if best == nil || j.NextAttempt.Before(best.NextAttempt) {
				best = &j
			}
		}
		if best == nil {
			return nil
		}
		best.LeaseOwner, best.LeaseUntil = owner, now.Add(lease)
		claimed, found = *best, true
		return putJob(tx, *best)
	})
	return claimed, found, err
}

// Counts implements store.Store.
func (s *Store) Counts(context.Context) (store.Counts, error) {
	out := store.Counts{Jobs: map[store.JobState]int64{}}
	err := s.view(func(tx *bolt.Tx) error {
		c := loadCounts(tx)
		out.Records, out.Quarantined = c.Records, c.Quarantined
		out.Devices = int64(tx.Bucket(bChains).Stats().KeyN)
		return tx.Bucket(bJobs).ForEach(func(_, v []byte) error {
			var j store.Job
			if json.Unmarshal(v, &j) == nil {
				out.Jobs[j.State]++
			}
			return nil
		})
	})
	return out, err
}
