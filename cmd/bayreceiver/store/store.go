// Package store is the receiver's storage, behind one interface.
//
// It keeps verified records once per (device, seq), quarantined records,
// enrolled device keys, each device's chain state and each job's upload state.
//
// Two implementations behave the same and pass one test suite
// (storetest): boltstore, a bbolt file for a single receiver, and pgstore,
// PostgreSQL for several receivers sharing the work. The logic that
// decides what a record is (verification, chain, gaps, uploads) lives
// above the store, in the receiver's other packages; the store offers the
// transactions it needs:
//
//   - PutRecords stores a batch of verified records in one transaction,
//     each (device, seq) once, and says for each whether it was new, an
//     exact duplicate or a conflict (another record holds the seq).
//   - UpdateChain runs a function with the device's chain state locked (a
//     bbolt write transaction; in PostgreSQL a transaction holding the
//     device's row lock), so that two receivers never advance one chain at
//     once.
//   - ClaimUpload leases one job that is due for an upload to one
//     receiver; the lease expires if that receiver dies.
//
// Errors wrap the sentinels of this package where one applies; compare
// with errors.Is.
package store

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/bayagent/bayagent/agent/record"
)

// Errors of the store.
var (
	// ErrClosed: the store was closed.
	ErrClosed = errors.New("store: closed")
	// ErrNotOwner: an upload result came from a receiver whose lease on
	// the job expired (another one took it over).
	ErrNotOwner = errors.New("store: the upload lease belongs to another receiver")
	// ErrKey: a device key is malformed.
	ErrKey = errors.New("store: invalid device key")
)

// Record is one verified record as stored.
type Record struct {
	Device string
	Seq    uint64
	Shop   string
	Kind   string
	Job    string
	Time   time.Time   // the record's own time (sealed at)
	Hash   record.Hash // SHA-256 of the canonical bytes
	Prev   record.Hash
	Wire   []byte // the wire record, byte-exact
	// ReceivedAt is when the receiver got it.
	ReceivedAt time.Time
}

// Outcome says what PutRecords did with one record.
type Outcome int

// Outcomes of PutRecords.
const (
	// Stored: the record is new and now stored.
	Stored Outcome = iota + 1
	// Duplicate: the same record (same hash) was already stored.
	Duplicate
	// Conflict: another record with a different hash holds (device, seq);
	// the stored one stays, the new one must be quarantined.
	Conflict
)

func (o Outcome) String() string {
	switch o {
	case Stored:
		return "stored"
	case Duplicate:
		return "duplicate"
	case Conflict:
		return "conflict"
	}
	return "unknown"
}

// Quarantine reasons.
const (
	// ReasonMalformed: the bytes are not a record in canonical wire form.
	ReasonMalformed = "malformed"
	// ReasonUnknownDevice: no key is enrolled for the device.
	ReasonUnknownDevice = "unknown_device"
	// ReasonBadSignature: the signature does not verify with the
	// enrolled key: forged, or edited after sealing.
	ReasonBadSignature = "bad_signature"
	// ReasonConflict: correctly signed, but another record holds the same
	// (device, seq): the device reused a sequence number.
	ReasonConflict = "conflict"
	// ReasonWrongTopic: published on a topic that names another shop or
	// device than the record.
	ReasonWrongTopic = "wrong_topic"
)

// Quarantined is a message that arrived as a record but is not stored as
// one: kept aside with the reason, reported, never used.
type Quarantined struct {
	ID         int64  // assigned by the store
	Device     string // "" when the bytes do not name one
	Seq        uint64 // 0 when the bytes do not give one
	Reason     string // one of the Reason constants
	Detail     string
	Topic      string
	Wire       []byte
	ReceivedAt time.Time
}

// Link is what the chain walk needs of a stored record.
type Link struct {
	Seq  uint64
	Hash record.Hash
	Prev record.Hash
	Kind string
	Job  string
	Shop string
}

// Gap is a range of sequence numbers missing below the highest one
// received.
type Gap struct {
	From uint64 `json:"from"`
	To   uint64 `json:"to"`
	// FirstSeen is when a walk first found (part of) it missing.
	FirstSeen time.Time `json:"first_seen"`
	// RequestedAt is when a resend for it was last sent (zero: never).
	RequestedAt time.Time `json:"requested_at,omitzero"`
	Attempts    int       `json:"attempts"`
	LastError   string    `json:"last_error,omitempty"`
}

// Chain is the state of one device's record chain.
type Chain struct {
	Device string `json:"device"`
	Shop   string `json:"shop"`
	// VerifiedThrough: every seq from 1 up to it is stored and linked to
	// the one before it, or lies in a permanent gap.
	VerifiedThrough uint64      `json:"verified_through"`
	VerifiedHash    record.Hash `json:"verified_hash"` // hash at VerifiedThrough; zero after a permanent gap
	// HighestSeq is the highest seq stored.
	HighestSeq uint64 `json:"highest_seq"`
	// Breaks are records whose prev is not the hash of the record before
	// them although both are correctly signed (the device broke its own
	// chain); Resets are outbox_reset records, which start a new chain.
	Breaks     []uint64 `json:"breaks,omitempty"`
	BreakCount int      `json:"break_count"`
	Resets     []uint64 `json:"resets,omitempty"`
	// Gaps are open; Permanent are the ranges the device said it no longer
	// has (answer to a resend).
	Gaps      []Gap             `json:"gaps,omitempty"`
	Permanent []record.SeqRange `json:"permanent,omitempty"`
	// SigCheckedThrough: every stored record up to it has had its own
	// signature verified, at its arrival or afterwards (a record
	// authenticated through the chain is stored before its own sig member
	// is looked at). SigFailures are stored records whose sig member does
	// not verify although their content is authenticated by the chain
	// (altered on the way, in the signature only).
	SigCheckedThrough uint64    `json:"sig_checked_through"`
	SigFailures       []uint64  `json:"sig_failures,omitempty"`
	SigFailureCount   int       `json:"sig_failure_count"`
	UpdatedAt         time.Time `json:"updated_at"`
}

// MaxListed bounds Chain.Breaks, Chain.Resets and Chain.SigFailures; the
// counts stay exact.
const MaxListed = 100

// JobState is where a job stands on its way to the provincial system.
type JobState string

// Job states.
const (
	// JobWaiting: the job is closed but its records, or the device's chain
	// below its close, are not complete yet.
	JobWaiting JobState = "waiting"
	// JobPending: ready; the upload is due at NextAttempt (first try, or a
	// retry after LastError).
	JobPending JobState = "pending"
	// JobUploaded: the provincial system accepted it; Reply holds its
	// answer.
	JobUploaded JobState = "uploaded"
	// JobRejected: refused for a reason that retrying cannot fix (the
	// province said so, or the job lacks what the dialect needs);
	// LastError says why.
	JobRejected JobState = "rejected"
	// JobCancelled: cancelled on the box (job_cancel): no health record.
	JobCancelled JobState = "cancelled"
)

// JobStates lists every state, in the order a job goes through them.
func JobStates() []JobState {
	return []JobState{JobWaiting, JobPending, JobUploaded, JobRejected, JobCancelled}
}

// Job is one job's upload state.
type Job struct {
	Device   string   `json:"device"`
	Job      string   `json:"job"`
	Shop     string   `json:"shop"`
	CloseSeq uint64   `json:"close_seq"` // seq of its job_close (or job_cancel)
	State    JobState `json:"state"`
	Attempts int      `json:"attempts"`
	// NextAttempt is when a pending job is due.
	NextAttempt time.Time `json:"next_attempt,omitzero"`
	LastError   string    `json:"last_error,omitempty"`
	// Reply is the provincial system's last answer, as received.
	Reply      string    `json:"reply,omitempty"`
	UploadedAt time.Time `json:"uploaded_at,omitzero"`
	UpdatedAt  time.Time `json:"updated_at"`
	// LeaseOwner and LeaseUntil: the receiver uploading it now.
	LeaseOwner string    `json:"lease_owner,omitempty"`
	LeaseUntil time.Time `json:"lease_until,omitzero"`
}

// Counts are totals for metrics.
type Counts struct {
	Records     int64
	Devices     int64
	Quarantined map[string]int64   // by reason
	Jobs        map[JobState]int64 // by state
}

// ChainTx is a device's chain inside UpdateChain.
type ChainTx interface {
	// Chain returns the state as loaded (Device set, the rest zero for a
	// device never walked).
	Chain() Chain
	// Links returns up to n stored records with seq > after, ascending.
	Links(after uint64, n int) ([]Link, error)
	// SetChain saves the state when the function returns nil.
	SetChain(Chain) error
	// AddJob registers a job found by the walk unless it is known.
	AddJob(Job) error
}

// ChainState is the state half of a ChainTx, which both stores embed: the
// device's chain as loaded and as SetChain leaves it, in the one encoding
// both store (JSON of Chain). The device never changes.
type ChainState struct {
	chain Chain
	set   bool
}

// LoadChainState decodes a device's stored chain state; raw nil is a device
// never walked (Device set, the rest zero).
func LoadChainState(device string, raw []byte) (ChainState, error) {
	c := ChainState{chain: Chain{Device: device}}
	if raw != nil {
		if err := json.Unmarshal(raw, &c.chain); err != nil {
			return ChainState{}, fmt.Errorf("chain of %s: %w", device, err)
		}
		c.chain.Device = device
	}
	return c, nil
}

// Chain implements ChainTx.
func (c *ChainState) Chain() Chain { return c.chain }

// SetChain implements ChainTx; the device stays the loaded one.
func (c *ChainState) SetChain(ch Chain) error {
	ch.Device = c.chain.Device
	c.chain, c.set = ch, true
	return nil
}

// Encoded is the state to store once UpdateChain's function returned nil:
// nil when SetChain was not called (nothing to write).
func (c *ChainState) Encoded() ([]byte, error) {
	if !c.set {
		return nil, nil
	}
	return json.Marshal(c.chain)
}

// Store is the receiver's storage. Its methods are safe for concurrent
// use; with pgstore, by several processes.
type Store interface {
	// PutRecords stores verified records in one transaction, each
	// (device, seq) once, and returns an Outcome per record in order.
	PutRecords(ctx context.Context, recs []Record) ([]Outcome, error)
	// Record returns the stored record (device, seq).
	Record(ctx context.Context, device string, seq uint64) (Record, bool, error)
	// Records returns the stored records of a device with from <= seq <=
	// to, ascending, at most limit.
	Records(ctx context.Context, device string, from, to uint64, limit int) ([]Record, error)
	// JobRecords returns the stored records of one job, ascending.
	JobRecords(ctx context.Context, device, job string) ([]Record, error)

	// Quarantine keeps messages aside (IDs are assigned).
	Quarantine(ctx context.Context, qs []Quarantined) error
	// QuarantinedRecords lists quarantined messages, the last stored first
	// (by ID; a receiver that commits batches at once may store a batch's
	// quarantine before the one of a batch that came earlier), of one
	// device ("" for all), at most limit.
	QuarantinedRecords(ctx context.Context, device string, limit int) ([]Quarantined, error)

	// EnrollKey stores (or replaces) a device's public key.
	EnrollKey(ctx context.Context, device string, pub ed25519.PublicKey) error
	// Keys returns every enrolled key.
	Keys(ctx context.Context) (map[string]ed25519.PublicKey, error)

	// UpdateChain runs fn with the device's chain locked; SetChain and
	// AddJob take effect only if fn returns nil.
	UpdateChain(ctx context.Context, device string, fn func(ChainTx) error) error
	// Chain returns a device's chain state.
	Chain(ctx context.Context, device string) (Chain, bool, error)
	// Chains returns every device's chain state, by device.
	Chains(ctx context.Context) ([]Chain, error)
	// Devices lists every device that has stored records, sorted.
	Devices(ctx context.Context) ([]string, error)
	// StoredCount counts a device's stored records.
	StoredCount(ctx context.Context, device string) (int64, error)

	// Job returns one job's upload state.
	Job(ctx context.Context, device, job string) (Job, bool, error)
	// Jobs lists jobs in a state ("" for all), by device and job.
	Jobs(ctx context.Context, state JobState) ([]Job, error)
	// JobsByID lists the jobs with this id (of any device).
	JobsByID(ctx context.Context, job string) ([]Job, error)
	// SetJob replaces a job's state unless it is leased to a receiver
	// other than owner ("" only for jobs nobody leases); ErrNotOwner then.
	SetJob(ctx context.Context, j Job, owner string) error
	// SwapJob replaces a job's state only if it is still in state from
	// (compare and swap), and reports whether it did: receivers that find
	// the same job ready move it on once.
	SwapJob(ctx context.Context, j Job, from JobState) (bool, error)
	// ClaimUpload leases to owner, until now+lease, one pending job whose
	// NextAttempt has come and that nobody else holds; false when none. A
	// job whose lease is owner's own is taken again: an owner (one upload
	// worker of one receiver) uploads one job at a time and claims only
	// when it holds none, so such a lease is left from a run of it that
	// died, and its restart need not wait out the lease.
	ClaimUpload(ctx context.Context, owner string, now time.Time, lease time.Duration) (Job, bool, error)

	// Counts returns totals for metrics.
	Counts(ctx context.Context) (Counts, error)
	// Close releases the store.
	Close() error
}
