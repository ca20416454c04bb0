// Package outbox is the agent's durable, ordered, bounded buffer of sealed
// records.
//
// It is kept in a bbolt file on the box.
//
// # Storing
//
// Append seals an event (package record) and stores it in one bbolt write
// transaction that also advances the device's chain head (last seq and
// hash, kept in the "meta" bucket). Sealing and storing are therefore one
// atomic step: after a crash the head and the records always agree, no
// sequence number is burned and no record is chained twice. Append returns
// only after that transaction committed, that is after fsync: only then is
// the record "stored" and may the agent report success.
//
// Concurrent Appends share commits: a single writer goroutine takes every
// request waiting when the previous commit ends and writes them in one
// transaction (group commit, like a database log). Unlike bbolt's DB.Batch,
// it never waits for a timer and never re-runs a function, so a lone Append
// costs one fsync and a failing request cannot affect its neighbours.
// An Append whose context ends before the writer took it is not stored and
// returns the context's error; once taken, Append waits for the commit. An
// error from Append therefore always means "not stored".
//
// # Reading, acknowledging and the archive
//
// The uplink reads pending records in sequence order (Peek, Next),
// publishes them, and acknowledges each one only after the broker
// acknowledged it (Ack). An acknowledged record is no longer pending but
// stays in the outbox's archive, so that a receiver that finds a gap (the
// broker lost a record it had acknowledged) can get it again with
// `resend` (Range). Acknowledging does not copy the record: the records
// bucket keeps it and a watermark in the state says which records are
// archived, so the drain costs no more with the archive than without it.
// Records it cannot publish (for example larger than the broker accepts)
// are moved by Quarantine to a quarantine bucket with a reason: not
// retried forever, not silently dropped, listed by List and kept in
// Export until an operator deals with them. Delivery is at-least-once: a
// crash between publish and Ack publishes the record again, and receivers
// de-duplicate by (device, seq).
//
// # Bound
//
// The outbox holds at most Options.MaxBytes bytes of records (wire bytes
// plus an 8-byte key each), pending, quarantined and archived together;
// the archive on its own holds at most Options.ArchiveMaxBytes (default 64
// MiB) and nothing sealed longer than Options.ArchiveMaxAge ago (default
// 30 days, judged by the record's own time and checked at every write).
// The oldest archived records go first, and only archived ones: when a new
// record needs room, archived records are dropped for it; when pending
// and quarantined records alone leave no room, Append returns an error
// matching ErrFull that states the sizes; the record is not stored and
// nothing pending is ever dropped to make room: job records are evidence.
// The caller must raise an alarm (LED, status topic) and refuse the
// technician's action. Space comes back only through Ack (broker
// reachable again) or an operator exporting and clearing quarantined
// records.
//
// The default bound, 64 MiB, stays far below what bbolt can map on 32-bit
// ARM: bbolt mmaps the whole file into the process's ~3 GiB address space
// (hard limit 2 GiB on arm, growing the mapping by doubling up to 1 GiB
// steps), and the file itself is larger than the live data (free pages,
// page slack, copy-on-write), so a cap of tens of MiB keeps the file and
// mapping in the low hundreds of MiB at worst, which also fits the RAM and
// SD card of a Pi-class box. At a few KiB per record that is tens of
// thousands of records, weeks of a busy bay without a network.
//
// # Corruption
//
// At Open, the file's bbolt meta pages are checked before bbolt maps it (a
// truncated file would otherwise fault on access), then bbolt's consistency
// check runs. A file that is not a bbolt database, is truncated, has bad
// meta pages or fails the check is corrupt: it is renamed to
// "<path>.corrupt-<UTC timestamp>" (kept for forensics), a new database is
// started, and its first record is an "outbox_reset" record naming the moved
// file and the error. Records still readable in the old file are not
// re-published automatically. The reset record starts a new hash chain
// (prev = record.Genesis) at the seq after the highest one found by
// scanning the old file's bytes for this device's signed records and
// chain-head entries, so sequence numbers are not reused as far as the
// damaged file allows. A file that cannot be opened for other reasons
// (permissions, missing directory, locked by another process) is an error,
// never "corruption": nothing is moved.
//
// # Losing the database
//
// A database can also be lost whole (deleted, emptied, or replaced by an
// older copy), and then nothing in it says which sequence numbers were
// used: starting again at seq 1 would make receivers, who de-duplicate by
// (device, seq), drop the new records as duplicates. So the outbox keeps
// its chain head outside the database too, through Options.Chain (the
// agent's chain file beside the device key). It does not write it for
// every record: it reserves sequence numbers ahead (ReserveAhead at a
// time, durably, before sealing beyond the last reservation), so that
// every seq ever used is at most the reservation. When Open finds the
// database new or empty although the chain was used, or holding a head
// older than the one the chain recorded (the exact head is recorded at
// Close, so a copy restored while the agent was stopped is noticed; after
// a crash only the head of the last reservation is known), it writes an "outbox_reset"
// record (cause "missing" or "rolled_back") at the seq after the
// reservation, carrying the last known seq and hash, and logs an error. A
// corrupt database's reset also starts after the reservation. The gap
// between the last record received and the reset is reported by
// `bayagent verify` as missing: records may have been lost there.
//
// # Sharing the file
//
// bbolt takes an exclusive flock on the file. A second writer (another agent)
// waits Options.Timeout (default 1 s) and then fails with ErrLocked instead
// of hanging. Read-only opens (Options.ReadOnly, for `bayagent outbox
// stats|ls|export`) take a shared lock, so they too fail with ErrLocked
// while the agent runs: those commands report "database is in use by a
// running agent" and must be run with the agent stopped (or on a copy).
package outbox

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bayagent/bayagent/agent/record"
	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// Errors returned by the outbox. Returned errors wrap these; compare with
// errors.Is.
var (
	// ErrFull: the record does not fit under Options.MaxBytes. Nothing was
	// stored; raise an alarm.
	ErrFull = errors.New("outbox: full")
	// ErrClosed: the outbox was closed.
	ErrClosed = errors.New("outbox: closed")
	// ErrLocked: another process (a running agent) holds the database file.
	ErrLocked = errors.New("outbox: database is in use by a running agent (file locked)")
	// ErrReadOnly: a write on an outbox opened with Options.ReadOnly.
	ErrReadOnly = errors.New("outbox: opened read-only")
	// ErrNotFound: no pending record with that seq.
	ErrNotFound = errors.New("outbox: no such record")
	// ErrCorrupt: the database file is damaged. A writable Open moves it
	// aside and starts anew; a read-only Open returns this error.
	ErrCorrupt = errors.New("outbox: database file is corrupt")
	// ErrDeviceMismatch: the database holds another device's chain.
	ErrDeviceMismatch = errors.New("outbox: database belongs to another device")
	// ErrConfig: invalid Options.
	ErrConfig = errors.New("outbox: invalid options")
	// ErrReserve: sequence numbers could not be reserved in the Chain (a
	// full disk, for example): nothing was stored.
	ErrReserve = errors.New("outbox: cannot reserve sequence numbers in the chain file")
)

// Defaults for Options.
const (
	DefaultMaxBytes        int64 = 64 << 20
	DefaultArchiveMaxBytes int64 = 64 << 20
	DefaultArchiveMaxAge         = 30 * 24 * time.Hour
	DefaultTimeout               = time.Second
	DefaultMaxBatch              = 512
)

// FileMode is the mode of a database file created by Open.
const FileMode fs.FileMode = 0o600

// Options configures an Outbox. The zero value of every field but Sealer is
// a sensible default.
type Options struct {
	// Sealer seals appended events. Required unless ReadOnly. The outbox
	// keeps the chain head itself (in the database) and ignores the
	// Sealer's own head.
	Sealer *record.Sealer
	// MaxBytes bounds the stored records, pending, quarantined and
	// archived together (see the package doc); 0 means DefaultMaxBytes.
	MaxBytes int64
	// ArchiveMaxBytes bounds the archive of acknowledged records on its
	// own (it is also held under MaxBytes); 0 means
	// DefaultArchiveMaxBytes, a negative value keeps no archive.
	ArchiveMaxBytes int64
	// ArchiveMaxAge drops archived records sealed longer ago than this;
	// 0 means DefaultArchiveMaxAge, a negative value sets no age limit.
	ArchiveMaxAge time.Duration
	// Timeout is how long Open waits for the file lock held by another
	// process before failing with ErrLocked; 0 means DefaultTimeout.
	Timeout time.Duration
	// ReadOnly opens the database for reading only (shared lock, no
	// writer, no corruption recovery).
	ReadOnly bool
	// MaxBatch bounds the records written per commit; 0 means
	// DefaultMaxBatch.
	MaxBatch int
	// Logger receives warnings (corruption recovery, repaired counters);
	// nil discards.
	Logger *slog.Logger
	// Now gives the time for the name of a moved corrupt file; nil means
	// time.Now.
	Now func() time.Time
	// Chain keeps the chain head outside the database (see "Losing the
	// database"); nil keeps none. Ignored when ReadOnly.
	Chain Chain
}

// Chain keeps a device's chain head outside the outbox database, so that a
// database that is lost, emptied or rolled back is noticed and its
// sequence numbers are never used again. The agent's chain file
// (devicekey.ChainFile) is one.
type Chain interface {
	// Known returns the head last recorded and the highest sequence number
	// reserved (every seq up to it may have been used); ok is false when
	// the chain was never used.
	Known() (head record.Head, reserved uint64, ok bool)
	// Reserve records durably the current head and that sequence numbers
	// up to upTo may be used. The outbox stores nothing beyond the last
	// reservation that succeeded.
	Reserve(head record.Head, upTo uint64) error
}

// ReserveAhead is how many sequence numbers the outbox reserves at a time
// in its Chain.
const ReserveAhead = 1024

func (o Options) withDefaults() (Options, error) {
	if o.MaxBytes == 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.MaxBytes < 0 {
		return o, fmt.Errorf("%w: MaxBytes must be positive: %d", ErrConfig, o.MaxBytes)
	}
	switch {
	case o.ArchiveMaxBytes == 0:
		o.ArchiveMaxBytes = DefaultArchiveMaxBytes
	case o.ArchiveMaxBytes < 0:
		o.ArchiveMaxBytes = 0
	}
	o.ArchiveMaxBytes = min(o.ArchiveMaxBytes, o.MaxBytes)
	if o.ArchiveMaxAge == 0 {
		o.ArchiveMaxAge = DefaultArchiveMaxAge
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Timeout < 0 {
		return o, fmt.Errorf("%w: Timeout must be positive: %v", ErrConfig, o.Timeout)
	}
	if o.MaxBatch == 0 {
		o.MaxBatch = DefaultMaxBatch
	}
	if o.MaxBatch < 0 {
		return o, fmt.Errorf("%w: MaxBatch must be positive: %d", ErrConfig, o.MaxBatch)
	}
	if !o.ReadOnly && o.Sealer == nil {
		return o, fmt.Errorf("%w: Sealer is required to write", ErrConfig)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o, nil
}

// Outbox is an open outbox. Its methods are safe for concurrent use.
type Outbox struct {
	db   *bolt.DB
	path string
	opts Options
	log  *slog.Logger

	mu      sync.Mutex
	pending []*request
	closed  bool

	wake chan struct{}
	quit chan struct{}
	wg   sync.WaitGroup

	notifyMu sync.Mutex
	notify   chan struct{} // closed and replaced after each commit that stored records

	appends atomic.Int64 // records committed since Open
	commits atomic.Int64 // write transactions committed by the writer

	// The writer's view of the chain (the writer goroutine, and init
	// before it starts): the head and the highest seq reserved in
	// opts.Chain.
	headSeq  uint64
	reserved uint64
}

// Open opens or creates the outbox database at path (see the package doc
// for what happens to a corrupt file and to a file locked by another
// process).
func Open(path string, opts Options) (*Outbox, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	// A database that did not exist or was empty before this Open holds no
	// record: if the Chain was used, the records it held are lost.
	fresh := true
	if st, err := os.Lstat(path); err == nil && st.Size() > 0 {
		fresh = false
	}
	db, openErr := openChecked(path, opts)
	var reset *resetInfo
	if openErr != nil {
		if opts.ReadOnly || !errors.Is(openErr, ErrCorrupt) {
			return nil, openErr
		}
		reset, err = moveAside(path, openErr, opts)
		if err != nil {
			return nil, err
		}
		db, err = openBolt(path, opts)
		if err != nil {
			return nil, fmt.Errorf("outbox: new database after moving the corrupt one aside: %w", err)
		}
	}
	o := &Outbox{
		db:     db,
		path:   path,
		opts:   opts,
		log:    opts.Logger,
		wake:   make(chan struct{}, 1),
		quit:   make(chan struct{}),
		notify: make(chan struct{}),
	}
	if opts.ReadOnly {
		close(o.quit)
		o.closed = true // no writer: Append fails with ErrReadOnly
		return o, nil
	}
	if err := o.init(reset, fresh); err != nil {
		db.Close()
		return nil, err
	}
	o.wg.Add(1)
	go o.run()
	return o, nil
}

// Path returns the database file's path.
func (o *Outbox) Path() string { return o.path }

// Close stops accepting appends, commits those already queued, waits for
// the writer to finish and closes the database. It is safe to call more
// than once.
func (o *Outbox) Close() error {
	o.mu.Lock()
	wasClosed := o.closed
	o.closed = true
	o.mu.Unlock()
	if !wasClosed {
		close(o.quit)
	}
	o.wg.Wait()
	if !wasClosed && !o.opts.ReadOnly && o.opts.Chain != nil {
		// The exact head, so that a database replaced by an older copy
		// while the agent was stopped is noticed (a "rolled_back" reset).
		if h, err := o.committedHead(); err == nil {
			if err := o.opts.Chain.Reserve(h, o.reserved); err != nil {
				o.log.Warn("outbox: chain head not recorded at close", "err", err)
			}
		}
	}
	if err := o.db.Close(); err != nil && !errors.Is(err, berrors.ErrDatabaseNotOpen) {
		return fmt.Errorf("outbox: close: %w", err)
	}
	return nil
}

func openBolt(path string, opts Options) (*bolt.DB, error) {
	_, statErr := os.Lstat(path)
	db, err := bolt.Open(path, FileMode, &bolt.Options{
		Timeout:  opts.Timeout,
		ReadOnly: opts.ReadOnly,
	})
	if err == nil {
		if errors.Is(statErr, fs.ErrNotExist) {
			// bbolt fsyncs the new file but not its directory entry: without
			// this, a power cut can take the whole file, records and all.
			if err := syncDir(filepath.Dir(path)); err != nil {
				db.Close()
				return nil, err
			}
		}
		return db, nil
	}
	switch {
	case errors.Is(err, berrors.ErrTimeout):
		return nil, fmt.Errorf("%w: %s: gave up after %v", ErrLocked, path, opts.Timeout)
	case errors.Is(err, berrors.ErrInvalid), errors.Is(err, berrors.ErrChecksum), errors.Is(err, berrors.ErrVersionMismatch):
		return nil, fmt.Errorf("%w: %s: %v", ErrCorrupt, path, err)
	}
	return nil, fmt.Errorf("outbox: open %s: %w", path, err)
}

// openChecked opens path after checking its meta pages, then runs bbolt's
// consistency check. Damage gives an error wrapping ErrCorrupt.
func openChecked(path string, opts Options) (db *bolt.DB, err error) {
	if err := checkFile(path); err != nil {
		return nil, err
	}
	defer func() {
		if p := recover(); p != nil { // bbolt panics on some damaged pages
			if db != nil {
				db.Close()
			}
			db, err = nil, fmt.Errorf("%w: %s: %v", ErrCorrupt, path, p)
		}
	}()
	db, err = openBolt(path, opts)
	if err != nil {
		return nil, err
	}
	if err := checkDB(db); err != nil {
		db.Close()
		return nil, fmt.Errorf("%w: %s: %v", ErrCorrupt, path, err)
	}
	return db, nil
}

// Check runs bbolt's consistency check on the database and returns the
// problems found (nil when consistent). It blocks writes while it runs.
func (o *Outbox) Check() error { return checkDB(o.db) }

func checkDB(db *bolt.DB) error {
	tx, err := db.Begin(!db.IsReadOnly()) // a write tx keeps writers out
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var errs []error
	for e := range tx.Check() {
		if len(errs) < 10 {
			errs = append(errs, e)
		}
	}
	return errors.Join(errs...)
}

// resetInfo says why the chain starts again.
type resetInfo struct {
	kind     string // ResetCorrupt, ResetMissing or ResetRolledBack
	movedTo  string
	cause    string
	salvaged uint64
	known    record.Head // the chain file's head
	reserved uint64      // the chain file's reservation
}

// start is the seq after which the new chain starts: beyond every seq that
// may have been used.
func (r *resetInfo) start() uint64 { return max(r.salvaged, r.reserved, r.known.Seq) }

// moveAside renames the corrupt file and looks in it for the last seq.
func moveAside(path string, cause error, opts Options) (*resetInfo, error) {
	base := path + ".corrupt-" + opts.Now().UTC().Format("20060102T150405Z")
	dst := base
	for i := 2; ; i++ {
		if _, err := os.Lstat(dst); errors.Is(err, fs.ErrNotExist) {
			break
		}
		if i > 100 {
			return nil, fmt.Errorf("outbox: no free name to move the corrupt database %s aside", path)
		}
		dst = fmt.Sprintf("%s-%d", base, i)
	}
	if err := os.Rename(path, dst); err != nil {
		return nil, fmt.Errorf("outbox: move corrupt database aside: %w", err)
	}
	if err := syncDir(filepath.Dir(path)); err != nil {
		return nil, err
	}
	seq := salvageLastSeq(dst, opts.Sealer)
	opts.Logger.Error("outbox database was corrupt: moved aside, starting a new one",
		"moved_to", dst, "error", cause, "salvaged_last_seq", seq)
	r := &resetInfo{kind: ResetCorrupt, movedTo: dst, cause: cause.Error(), salvaged: seq}
	if opts.Chain != nil {
		r.known, r.reserved, _ = opts.Chain.Known()
	}
	return r, nil
}
