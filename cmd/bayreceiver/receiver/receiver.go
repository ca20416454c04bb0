// Package receiver is the health-record operator's side of Bayagent.
//
// It takes the sealed records every box publishes, keeps each one verified and
// once, makes sure every device's chain is complete, and uploads each closed
// job to the provincial system.
//
// # Records
//
// It subscribes to <prefix>/+/+/records, through an MQTT shared
// subscription ($share/<group>/...) when Options.MQTT.ShareGroup is set,
// so that several receivers split the load, with a persistent session so
// that the broker keeps what arrives while a receiver reconnects. Each
// message is checked in turn: it must be one record in canonical wire form
// (record.Decode), published on its own shop's and device's topic, by a
// device whose public key is enrolled (a directory of device.key.pub.json
// files, or the store: Keys), and authenticated by that key (see
// Verification). Records that pass are stored once per (device, seq); an
// exact duplicate (normal: delivery is at-least-once) is counted and
// dropped. Everything else is
// quarantined with its reason (malformed, wrong topic, unknown device,
// bad signature: forged or edited; conflict: a second, different record
// for a stored (device, seq)) and reported; nothing quarantined is ever
// used. A message is acknowledged to the broker (PUBACK) only after its
// batch is committed to the store, so a receiver that dies loses nothing.
// Verification runs on every core; the store takes Options.Commits
// batches at once, and they are acknowledged in the order they came.
//
// # Verification
//
// A record is stored as verified only when its canonical bytes (the wire
// form without its "sig" member; package record) are authenticated by the
// enrolled key of its device, in one of two ways:
//
//   - by signature: its own signature verifies (ed25519) over them;
//   - by chain: a record of the same device in the same batch, with the
//     next seq, has as its prev the SHA-256 of these canonical bytes, and
//     is itself authenticated (by signature, or by chain in turn). The
//     device signed that record, the hash included, so no other bytes
//     than the ones it hashed can match it.
//
// Each device's records in a batch are cut into runs: consecutive seqs,
// each record's prev the hash of the one before it (a seq present twice in
// the batch, as a duplicate or beside a forgery, is a run of its own; an
// outbox_reset record, prev genesis, starts one). The newest record of a
// run has its signature verified; when it holds, the rest of the run is
// authenticated by chain; when it fails, that record is quarantined and
// every other record of the run is verified by its own signature, as a
// record that arrives alone is. So a forged or edited record is never
// stored: its content does not hash to the prev of the genuine record
// after it, and its own signature fails. Links are taken only inside a
// batch, between records this receiver authenticates itself; a receiver
// that gets every other record of a device (a shared subscription spreads
// messages one by one) verifies each by its own signature.
//
// What a chain does not cover is a record's own "sig" member, which the
// canonical bytes exclude: a record authenticated by chain is the
// device's, but the signature stored with it may have been altered on the
// way. The receiver therefore checks those later: whenever it is idle (no
// message waits or is being verified or stored, and none was stored for
// Options.WalkInterval), it verifies the own signature of every stored
// record up to each device's verified watermark (store.Chain.
// SigCheckedThrough; the records verified by signature on arrival are
// verified again). A record whose sig member fails there is reported in
// its device's status (sig_failures) and metrics, and stays stored: its
// content is authenticated. Under a load above what the signatures alone
// allow, that check falls behind and catches up when the load drops.
// Stats.BySignature and Stats.ByChain count the records verified each way
// on arrival.
//
// # Chains, gaps and resend
//
// After each batch the devices it touched are walked (package chain):
// the chain is verified whatever order the records came in, and the
// missing ranges are kept as open gaps. A gap still open
// Options.GapTimeout after it was first seen is asked for with the box's
// resend command on <prefix>/<shop>/<device>/cmd, and again with a capped
// backoff while it stays open; the box publishes again what its archive
// still holds and answers on its reply topic with what it no longer has,
// which becomes a permanent gap (reported, stepped over by the chain).
// Which receiver asks, and when, is decided under the device's lock in
// the store, so two receivers never ask twice. Every device is walked
// again every Options.SweepInterval.
//
// # Jobs and uploads
//
// Each job_close the chain passes registers the job. Once the chain is
// verified through the close, the job is rebuilt from its records
// (job.FromRecords, the one implementation) and, when it is complete and
// valid, becomes pending; a cancelled job yields nothing, and a job that
// can never be complete (an event in a permanent gap) or does not satisfy
// the health record is rejected with the reason. Pending jobs are leased
// one at a time (several receivers never upload the same job), mapped
// onto the health record (agent/healthrecord) and sent through the
// configured dialect (package upload). An accepted upload keeps the
// system's reply; a rejected one its reason; a temporary failure is
// retried with a capped, jittered backoff.
//
// # Status
//
// Handler serves, for operators: GET /devices and /devices/{device}
// (received, verified, gaps, permanent gaps, breaks, quarantined), GET
// /jobs and /jobs/{job} (upload state per job), GET /quarantine, POST
// /jobs/{device}/{job}/retry (a rejected job again, after a fix), and GET
// /metrics in the Prometheus text format. Replies are JSON, in English:
// the receiver is for the operator.
package receiver

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bayagent/bayagent/cmd/bayreceiver/store"
	"github.com/bayagent/bayagent/cmd/bayreceiver/upload"
)

// ErrOptions: New was given invalid options.
var ErrOptions = errors.New("receiver: invalid options")

// Defaults for Options.
const (
	DefaultPrefix            = "bayagent"
	DefaultBatch             = 1024
	DefaultCommits           = 2
	DefaultGapTimeout        = 30 * time.Second
	DefaultResendInterval    = time.Minute
	DefaultResendMaxInterval = 30 * time.Minute
	DefaultWalkInterval      = 200 * time.Millisecond
	DefaultSweepInterval     = 10 * time.Second
	DefaultUploadPoll        = time.Second
	DefaultUploadLease       = 5 * time.Minute
	DefaultUploadBackoffMin  = 5 * time.Second
	DefaultUploadBackoffMax  = 30 * time.Minute
	DefaultUploadWorkers     = 2
)

// MQTTOptions configures the broker connection.
type MQTTOptions struct {
	// Broker is the URL: ssl://, tls:// or mqtts:// host[:port], or
	// tcp:// (then TLS is nil).
	Broker string
	// ClientID identifies this receiver's persistent session; it must
	// differ between receivers.
	ClientID string
	// Prefix is the topic prefix of the boxes (default DefaultPrefix).
	Prefix string
	// ShareGroup, when set, subscribes through $share/<ShareGroup>/...
	ShareGroup string
	// TLS verifies the broker (and may carry a client certificate); nil
	// for tcp://.
	TLS *tls.Config
	// Username and Password, when the broker wants them.
	Username, Password string
	// CleanSession drops the session at every connection (tests);
	// receivers keep theirs.
	CleanSession bool
	// KeepAlive; 0 means 30 s.
	KeepAlive time.Duration
}

// Options configures a Receiver. Store and MQTT.Broker are required.
type Options struct {
	// ID names this receiver in upload leases and resend command ids;
	// default the MQTT client id.
	ID    string
	Store store.Store
	MQTT  MQTTOptions
	// KeysDir holds device.key.pub.json files (any *.json); "" uses only
	// the keys enrolled in the store.
	KeysDir string
	// Uploader sends the health records; nil keeps jobs pending without
	// sending them (a receiver that only collects).
	Uploader upload.Uploader
	// CompanyName gives a shop's registered name for the health record
	// (by its 15-digit code); false when unknown.
	CompanyName func(shop string) (string, bool)

	// Batch is the largest number of messages committed at once.
	Batch int
	// Commits is how many batches are stored at once (each on its own
	// PostgreSQL connection; bbolt takes them one after the other). 1
	// stores one batch after the other.
	Commits int
	// GapTimeout is how long a gap stays open before a resend asks for
	// it; ResendInterval the wait before asking again, doubling up to
	// ResendMaxInterval.
	GapTimeout, ResendInterval, ResendMaxInterval time.Duration
	// WalkInterval is how often devices with new records are walked;
	// SweepInterval how often every device is.
	WalkInterval, SweepInterval time.Duration
	// UploadPoll is how often due uploads are looked for; UploadLease how
	// long one receiver holds a job it uploads; UploadBackoffMin/Max bound
	// the retry backoff; UploadWorkers uploads at once.
	UploadPoll, UploadLease            time.Duration
	UploadBackoffMin, UploadBackoffMax time.Duration
	UploadWorkers                      int

	// Logger; nil discards.
	Logger *slog.Logger
	// Now gives the time; nil means time.Now.
	Now func() time.Time
}

func (o *Options) defaults() error {
	if o.Store == nil {
		return fmt.Errorf("%w: a store is required", ErrOptions)
	}
	if o.MQTT.Broker == "" {
		return fmt.Errorf("%w: a broker URL is required", ErrOptions)
	}
	if o.MQTT.ClientID == "" {
		return fmt.Errorf("%w: an MQTT client id is required (one per receiver)", ErrOptions)
	}
	if o.MQTT.Prefix == "" {
		o.MQTT.Prefix = DefaultPrefix
	}
	if o.MQTT.KeepAlive <= 0 {
		o.MQTT.KeepAlive = 30 * time.Second
	}
	if o.ID == "" {
		o.ID = o.MQTT.ClientID
	}
	if o.CompanyName == nil {
		o.CompanyName = func(string) (string, bool) { return "", false }
	}
	for _, d := range []struct {
		p *time.Duration
		v time.Duration
	}{
		{&o.GapTimeout, DefaultGapTimeout}, {&o.ResendInterval, DefaultResendInterval},
		{&o.ResendMaxInterval, DefaultResendMaxInterval}, {&o.WalkInterval, DefaultWalkInterval},
		{&o.SweepInterval, DefaultSweepInterval}, {&o.UploadPoll, DefaultUploadPoll}, {&o.UploadLease, DefaultUploadLease},
		{&o.UploadBackoffMin, DefaultUploadBackoffMin}, {&o.UploadBackoffMax, DefaultUploadBackoffMax},
	} {
		if *d.p <= 0 {
			*d.p = d.v
		}
	}
	if o.Batch <= 0 {
		o.Batch = DefaultBatch
	}
	if o.Commits <= 0 {
		o.Commits = DefaultCommits
	}
	if o.UploadWorkers <= 0 {
		o.UploadWorkers = DefaultUploadWorkers
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return nil
}

// Receiver is the receiving service. Create it with New, run it with Run.
type Receiver struct {
	o   Options
	st  store.Store
	log *slog.Logger

	keys *keys
	in   chan inbound // messages from the broker

	dirtyMu sync.Mutex
	dirty   map[string]bool
	wake    chan struct{} // walk soon
	upWake  chan struct{} // a job became pending

	pubMu sync.Mutex
	pub   publisher // the connection, for resend commands; nil while down

	inflight  atomic.Int64 // batches taken by the verifier and not yet committed
	lastBatch atomic.Int64 // when the last batch was committed (Unix ns)
	resendSeq atomic.Uint64
	stats     counters

	started  atomic.Bool
	ready    chan struct{}
	stopping chan struct{} // closed when Run's context ends
}

// publisher sends one QoS 1 message and waits for its PUBACK.
type publisher interface {
	publish(ctx context.Context, topic string, payload []byte) error
}

// New checks o and returns a Receiver.
func New(o Options) (*Receiver, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	r := &Receiver{
		o: o, st: o.Store, log: o.Logger,
		keys:     &keys{dir: o.KeysDir, st: o.Store, log: o.Logger},
		in:       make(chan inbound, 2*o.Batch),
		dirty:    map[string]bool{},
		wake:     make(chan struct{}, 1),
		upWake:   make(chan struct{}, 1),
		ready:    make(chan struct{}),
		stopping: make(chan struct{}),
	}
	return r, nil
}

// Ready is closed once Run is connected and subscribed.
func (r *Receiver) Ready() <-chan struct{} { return r.ready }

// Run connects to the broker and serves until ctx ends; then it stops
// taking messages, commits and acknowledges those it has, and returns.
func (r *Receiver) Run(ctx context.Context) error {
	if !r.started.CompareAndSwap(false, true) {
		return errors.New("receiver: Run called twice")
	}
	if err := r.keys.load(ctx); err != nil {
		return err
	}
	// The verifier and the committer run before the connection: a
	// persistent session's backlog arrives right after CONNACK, before the
	// SUBACK, and must not fill the inbound queue while nothing takes
	// from it (paho would stop reading, the SUBACK with it).
	var wg sync.WaitGroup
	batches := make(chan *batch, 2)
	inCtx, stopIn := context.WithCancel(ctx)
	defer stopIn()
	wg.Go(func() { r.verifyLoop(inCtx, batches) })
	wg.Go(func() { r.commitLoop(batches) })
	conn, err := r.connect(ctx)
	if err != nil {
		close(r.stopping)
		stopIn()
		wg.Wait()
		return err
	}
	wg.Go(func() { r.walkLoop(ctx) })
	wg.Go(func() { r.sigCheckLoop(ctx) })
	for w := range r.o.UploadWorkers {
		wg.Go(func() { r.uploadLoop(ctx, r.uploader(w)) })
	}
	close(r.ready)
	<-ctx.Done()
	// No more messages are taken; the ones in hand are committed and
	// acknowledged before the connection closes.
	close(r.stopping)
	wg.Wait()
	conn.close()
	r.log.Info("receiver: stopped")
	return nil
}

func (r *Receiver) markDirty(devices map[string]bool) {
	if len(devices) == 0 {
		return
	}
	r.dirtyMu.Lock()
	for d := range devices {
		r.dirty[d] = true
	}
	r.dirtyMu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

func (r *Receiver) takeDirty() []string {
	r.dirtyMu.Lock()
	defer r.dirtyMu.Unlock()
	out := make([]string, 0, len(r.dirty))
	for d := range r.dirty {
		out = append(out, d)
	}
	clear(r.dirty)
	return out
}

// counters are this receiver's own counts (the store's totals are in
// Counts).
type counters struct {
	received, stored, duplicates, verifiedLinks atomic.Uint64
	resendsSent, resendReplies, resendErrors    atomic.Uint64
	uploadsOK, uploadsRejected, uploadsFailed   atomic.Uint64
	batches, bySignature, byChain               atomic.Uint64
	sigChecked, sigFailures                     atomic.Uint64
	mu                                          sync.Mutex
	rejected                                    map[string]uint64 // by reason
}

func (c *counters) reject(reason string) {
	c.mu.Lock()
	if c.rejected == nil {
		c.rejected = map[string]uint64{}
	}
	c.rejected[reason]++
	c.mu.Unlock()
}

// Stats are this receiver's counters since it started.
type Stats struct {
	Received   uint64            `json:"received"`   // record messages taken from the broker
	Stored     uint64            `json:"stored"`     // verified and stored for the first time
	Duplicates uint64            `json:"duplicates"` // verified, already stored
	Rejected   map[string]uint64 `json:"rejected"`   // quarantined, by reason
	Batches    uint64            `json:"batches"`
	// BySignature counts the records whose own signature was verified
	// (whatever the outcome); ByChain those authenticated through the
	// hash chain by a record whose signature was (see Verification).
	BySignature uint64 `json:"by_signature"`
	ByChain     uint64 `json:"by_chain"`
	// SigChecked counts the stored records whose own signature the idle
	// check verified; SigFailures those of them that failed.
	SigChecked    uint64 `json:"sig_checked"`
	SigFailures   uint64 `json:"sig_failures"`
	ResendsSent   uint64 `json:"resends_sent"`
	ResendReplies uint64 `json:"resend_replies"`
	ResendErrors  uint64 `json:"resend_errors"`
	UploadsOK     uint64 `json:"uploads_ok"`
	UploadsReject uint64 `json:"uploads_rejected"`
	UploadsFailed uint64 `json:"uploads_failed"`
}

// Stats returns the counters.
func (r *Receiver) Stats() Stats {
	c := &r.stats
	c.mu.Lock()
	rej := map[string]uint64{}
	for k, v := range c.rejected {
		rej[k] = v
	}
	c.mu.Unlock()
	return Stats{
		Received: c.received.Load(), Stored: c.stored.Load(), Duplicates: c.duplicates.Load(), Rejected: rej,
		Batches: c.batches.Load(), BySignature: c.bySignature.Load(), ByChain: c.byChain.Load(),
		SigChecked: c.sigChecked.Load(), SigFailures: c.sigFailures.Load(), ResendsSent: c.resendsSent.Load(), ResendReplies: c.resendReplies.Load(),
		ResendErrors: c.resendErrors.Load(), UploadsOK: c.uploadsOK.Load(), UploadsReject: c.uploadsRejected.Load(),
		UploadsFailed: c.uploadsFailed.Load(),
	}
}
