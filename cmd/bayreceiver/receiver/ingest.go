package receiver

import (
	"cmp"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/bayagent/bayagent/agent/devicekey"
	"github.com/bayagent/bayagent/agent/record"
	"github.com/bayagent/bayagent/agent/uplink"
	"github.com/bayagent/bayagent/cmd/bayreceiver/store"
)

// inbound is one record message from the broker; ack sends its PUBACK.
type inbound struct {
	topic   string
	payload []byte
	at      time.Time
	ack     func()
}

// verified is one message after verification: a record to store, or a
// quarantine entry.
type verified struct {
	rec *store.Record
	q   *store.Quarantined
}

// batch is a run of messages verified together, committed together.
type batch struct {
	msgs []inbound
	res  []verified
}

// keys are the enrolled device keys: the files of the keys directory and
// the store, the store's winning where both have one. An unknown device
// makes it look again, at most once a second.
type keys struct {
	dir string
	st  store.Store
	log *slog.Logger

	mu     sync.RWMutex
	m      map[string]ed25519.PublicKey
	loaded time.Time
}

func (k *keys) load(ctx context.Context) error {
	m := map[string]ed25519.PublicKey{}
	if k.dir != "" {
		files, err := filepath.Glob(filepath.Join(k.dir, "*.json"))
		if err != nil {
			return fmt.Errorf("receiver: keys directory %s: %w", k.dir, err)
		}
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				k.log.Warn("receiver: device key file not read", "file", f, "err", err)
				continue
			}
			pub, dev, err := devicekey.ParsePublic(data)
			if err != nil {
				k.log.Warn("receiver: not a device public key file", "file", f, "err", err)
				continue
			}
			m[dev] = pub
		}
	}
	enrolled, err := k.st.Keys(ctx)
	if err != nil {
		return fmt.Errorf("receiver: enrolled keys: %w", err)
	}
	for dev, pub := range enrolled {
		if old, ok := m[dev]; ok && !old.Equal(pub) {
			k.log.Warn("receiver: the keys directory and the store hold different keys for a device; the store's is used", "device", dev)
		}
		m[dev] = pub
	}
	k.mu.Lock()
	k.m, k.loaded = m, time.Now()
	k.mu.Unlock()
	return nil
}

// get returns a device's key, looking again for one that is unknown.
func (k *keys) get(ctx context.Context, device string) (ed25519.PublicKey, bool) {
	k.mu.RLock()
	pub, ok := k.m[device]
	stale := time.Since(k.loaded) > time.Second
	k.mu.RUnlock()
	if ok || !stale {
		return pub, ok
	}
	if err := k.load(ctx); err != nil {
		k.log.Warn("receiver: reloading keys", "err", err)
	}
	k.mu.RLock()
	defer k.mu.RUnlock()
	pub, ok = k.m[device]
	return pub, ok
}

// decoded is one message read and looked at, before its signature: the
// record, the hash of its canonical bytes and its device's key; or, when
// it got no further, its quarantine entry.
type decoded struct {
	rec  record.Record
	hash record.Hash
	pub  ed25519.PublicKey
	q    *store.Quarantined
}

// decode reads one message and checks everything but the signature.
func (r *Receiver) decode(ctx context.Context, m inbound) decoded {
	shop, device, _, _ := uplink.ParseTopic(r.o.MQTT.Prefix, m.topic)
	rec, err := record.Decode(m.payload)
	if err != nil {
		return decoded{q: quarantined(m, device, nil, store.ReasonMalformed, err.Error())}
	}
	if rec.Device != device || rec.Shop != shop {
		return decoded{q: quarantined(m, device, &rec, store.ReasonWrongTopic,
			fmt.Sprintf("record of shop %s device %s on topic %s", rec.Shop, rec.Device, m.topic))}
	}
	pub, ok := r.keys.get(ctx, rec.Device)
	if !ok {
		return decoded{q: quarantined(m, device, &rec, store.ReasonUnknownDevice, "no public key enrolled for device "+rec.Device)}
	}
	h, _ := record.WireHash(m.payload) // Decode took it: the layout holds
	return decoded{rec: rec, hash: h, pub: pub}
}

func quarantined(m inbound, device string, rec *record.Record, reason, detail string) *store.Quarantined {
	e := &store.Quarantined{Device: device, Reason: reason, Detail: detail, Topic: m.topic, Wire: m.payload, ReceivedAt: m.at}
	if rec != nil {
		e.Device, e.Seq = rec.Device, rec.Seq
	}
	return e
}

// signed reports whether d's own signature verifies with its device's
// key.
func (d *decoded) signed() bool {
	return ed25519.Verify(d.pub, d.rec.Canonical(), d.rec.Sig)
}

// verifyBatch verifies a batch of messages (see the package doc,
// "Verification"): every record is authenticated by the enrolled key of
// its device, by its own signature or through the hash chain. Within the
// batch, each device's records are cut into runs of consecutive seqs
// where every record's prev is the hash of the one below it (a seq that
// occurs twice in the batch is a run of its own). The signature of each
// run's newest record is verified; if it holds, the run's other records
// are authenticated by it (their canonical bytes are what it commits to,
// link by link); if it fails, that record is quarantined and every other
// record of the run is verified by its own signature, as a record alone
// is. Signatures are verified on every core, in two rounds at most.
func (r *Receiver) verifyBatch(ctx context.Context, msgs []inbound) (res []verified, bySig, byChain int) {
	d := make([]decoded, len(msgs))
	r.parallel(len(msgs), func(i int) { d[i] = r.decode(ctx, msgs[i]) })

	runs := chainRuns(d)
	tops := make([]int, len(runs))
	for i, run := range runs {
		tops[i] = run[len(run)-1]
	}
	good := make([]bool, len(d))
	r.parallel(len(tops), func(i int) { good[tops[i]] = d[tops[i]].signed() })
	var again []int
	for _, run := range runs {
		top := run[len(run)-1]
		bySig++
		if good[top] {
			for _, i := range run[:len(run)-1] {
				good[i] = true
				byChain++
			}
			continue
		}
		again = append(again, run[:len(run)-1]...)
	}
	r.parallel(len(again), func(i int) { good[again[i]] = d[again[i]].signed() })
	bySig += len(again)

	res = make([]verified, len(msgs))
	for i, m := range msgs {
		switch x := &d[i]; {
		case x.q != nil:
			res[i] = verified{q: x.q}
		case !good[i]:
			res[i] = verified{q: quarantined(m, x.rec.Device, &x.rec, store.ReasonBadSignature,
				fmt.Sprintf("seq %d: the signature does not verify with the enrolled key (forged or edited)", x.rec.Seq))}
		default:
			res[i] = verified{rec: &store.Record{
				Device: x.rec.Device, Seq: x.rec.Seq, Shop: x.rec.Shop, Kind: x.rec.Kind, Job: x.rec.Job, Time: x.rec.Time,
				Hash: x.hash, Prev: x.rec.Prev, Wire: m.payload, ReceivedAt: m.at,
			}}
		}
	}
	return res, bySig, byChain
}

// chainRuns cuts the decoded records of a batch (those not quarantined)
// into runs: per device, consecutive seqs, each record's prev the hash of
// the one before it, oldest first. A seq found more than once for a
// device in the batch (a duplicate, a conflict, a forgery beside the real
// one) forms runs of one record each.
func chainRuns(d []decoded) [][]int {
	idx := make([]int, 0, len(d))
	for i := range d {
		if d[i].q == nil {
			idx = append(idx, i)
		}
	}
	slices.SortFunc(idx, func(a, b int) int {
		return cmp.Or(strings.Compare(d[a].rec.Device, d[b].rec.Device), cmp.Compare(d[a].rec.Seq, d[b].rec.Seq), cmp.Compare(a, b))
	})
	same := func(a, b int) bool { return d[a].rec.Device == d[b].rec.Device && d[a].rec.Seq == d[b].rec.Seq }
	alone := func(k int) bool {
		return (k == 0 || !same(idx[k-1], idx[k])) && (k == len(idx)-1 || !same(idx[k], idx[k+1]))
	}
	var runs [][]int
	for k := 0; k < len(idx); k++ {
		run := []int{idx[k]}
		for alone(k) && k+1 < len(idx) && alone(k+1) {
			a, b := &d[idx[k]], &d[idx[k+1]]
			if b.rec.Device != a.rec.Device || b.rec.Seq != a.rec.Seq+1 || b.rec.Prev != a.hash {
				break
			}
			k++
			run = append(run, idx[k])
		}
		runs = append(runs, run)
	}
	return runs
}

// parallel runs f(0..n-1) on every core.
func (r *Receiver) parallel(n int, f func(i int)) {
	workers := min(runtime.GOMAXPROCS(0), n)
	if workers <= 1 {
		for i := range n {
			f(i)
		}
		return
	}
	var wg sync.WaitGroup
	per := (n + workers - 1) / workers
	for lo := 0; lo < n; lo += per {
		hi := min(lo+per, n)
		wg.Go(func() {
			for i := lo; i < hi; i++ {
				f(i)
			}
		})
	}
	wg.Wait()
}

// verifyLoop takes what the broker delivered, a batch at a time, and
// verifies each batch. When ctx ends it verifies what is already queued
// and closes out.
func (r *Receiver) verifyLoop(ctx context.Context, out chan<- *batch) {
	defer close(out)
	for {
		var b batch
		select {
		case m := <-r.in:
			b.msgs = append(b.msgs, m)
		case <-ctx.Done():
		}
	more:
		for len(b.msgs) < r.o.Batch {
			select {
			case m := <-r.in:
				b.msgs = append(b.msgs, m)
			default:
				break more
			}
		}
		if len(b.msgs) == 0 {
			return // ctx ended and nothing is left
		}
		r.inflight.Add(1)
		var bySig, byChain int
		b.res, bySig, byChain = r.verifyBatch(context.WithoutCancel(ctx), b.msgs)
		r.stats.bySignature.Add(uint64(bySig))
		r.stats.byChain.Add(uint64(byChain))
		out <- &b
	}
}

// commitLoop stores up to Options.Commits batches at once (PostgreSQL
// takes each on its own connection, so its inserts use more than one
// core), quarantines what failed, and acknowledges every message of each
// stored batch in the order the batches came, as MQTT wants PUBACKs. A
// store error is retried: nothing is acknowledged before it is stored.
func (r *Receiver) commitLoop(in <-chan *batch) {
	type pending struct {
		b       *batch
		devices map[string]bool
		stored  chan bool
	}
	order := make(chan pending, r.o.Commits-1) // with the one the acknowledger holds, Commits
	acked := make(chan struct{})
	go func() {
		defer close(acked)
		for p := range order {
			if <-p.stored {
				for _, m := range p.b.msgs {
					m.ack()
				}
				r.stats.received.Add(uint64(len(p.b.msgs)))
				r.stats.batches.Add(1)
				r.markDirty(p.devices)
			}
			r.lastBatch.Store(time.Now().UnixNano())
			r.inflight.Add(-1)
		}
	}()
	for b := range in {
		p := pending{b: b, devices: map[string]bool{}, stored: make(chan bool, 1)}
		order <- p // blocks while Commits batches are being stored or wait for their turn
		go func() { p.stored <- r.commit(p.b, p.devices) }()
	}
	close(order)
	<-acked
}

// commit stores one batch, retrying on error; it reports false when the
// store was closed or the receiver stopped first (the batch is then not
// acknowledged, and the broker sends it again).
func (r *Receiver) commit(b *batch, devices map[string]bool) bool {
	var recs []store.Record
	var topics []string
	var qs []store.Quarantined
	for i, v := range b.res {
		if v.rec != nil {
			recs = append(recs, *v.rec)
			topics = append(topics, b.msgs[i].topic)
		} else {
			qs = append(qs, *v.q)
		}
	}
	ctx := context.Background()
	for pause := 100 * time.Millisecond; ; pause = min(2*pause, 10*time.Second) {
		err := r.store(ctx, recs, topics, qs, devices)
		if err == nil {
			return true
		}
		if errors.Is(err, store.ErrClosed) {
			r.log.Error("receiver: store closed; batch not acknowledged (the broker sends it again)", "messages", len(b.msgs))
			return false
		}
		r.log.Error("receiver: storing a batch failed; retrying", "messages", len(b.msgs), "err", err)
		t := time.NewTimer(pause)
		select {
		case <-t.C:
		case <-r.stopping:
			t.Stop()
			r.log.Error("receiver: stopping with a batch not stored; not acknowledged (the broker sends it again)", "messages", len(b.msgs))
			return false
		}
	}
}

// store commits one batch and counts it.
func (r *Receiver) store(ctx context.Context, recs []store.Record, topics []string, qs []store.Quarantined, devices map[string]bool) error {
	out, err := r.st.PutRecords(ctx, recs)
	if err != nil {
		return err
	}
	var stored, dups uint64
	conflicts := []store.Quarantined{}
	for i, o := range out {
		switch o {
		case store.Stored:
			stored++
			devices[recs[i].Device] = true
		case store.Duplicate:
			dups++
		case store.Conflict:
			rc := recs[i]
			conflicts = append(conflicts, store.Quarantined{Device: rc.Device, Seq: rc.Seq, Reason: store.ReasonConflict,
				Detail: fmt.Sprintf("seq %d: correctly signed, but another record is stored for it (hash %s)", rc.Seq, rc.Hash),
				Topic:  topics[i], Wire: rc.Wire, ReceivedAt: rc.ReceivedAt})
		}
	}
	all := append(qs, conflicts...)
	if len(all) > 0 {
		if err := r.st.Quarantine(ctx, all); err != nil {
			return err
		}
	}
	r.stats.stored.Add(stored)
	r.stats.duplicates.Add(dups)
	for _, q := range all {
		r.stats.reject(q.Reason)
		r.log.Warn("receiver: record quarantined", "device", q.Device, "seq", q.Seq, "reason", q.Reason, "detail", q.Detail)
	}
	return nil
}
