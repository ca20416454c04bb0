package receiver

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
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

// check verifies one message.
func (r *Receiver) check(ctx context.Context, m inbound) verified {
	shop, device, _, _ := uplink.ParseTopic(r.o.MQTT.Prefix, m.topic)
	q := func(reason, detail string, rec *record.Record) verified {
		e := &store.Quarantined{Device: device, Reason: reason, Detail: detail, Topic: m.topic, Wire: m.payload, ReceivedAt: m.at}
		if rec != nil {
			e.Device, e.Seq = rec.Device, rec.Seq
		}
		return verified{q: e}
	}
	rec, err := record.Decode(m.payload)
	if err != nil {
		return q(store.ReasonMalformed, err.Error(), nil)
	}
	if rec.Device != device || rec.Shop != shop {
		return q(store.ReasonWrongTopic, fmt.Sprintf("record of shop %s device %s on topic %s", rec.Shop, rec.Device, m.topic), &rec)
	}
	pub, ok := r.keys.get(ctx, rec.Device)
	if !ok {
		return q(store.ReasonUnknownDevice, "no public key enrolled for device "+rec.Device, &rec)
	}
	c := rec.Canonical()
	if !ed25519.Verify(pub, c, rec.Sig) {
		return q(store.ReasonBadSignature, fmt.Sprintf("seq %d: the signature does not verify with the enrolled key (forged or edited)", rec.Seq), &rec)
	}
	return verified{rec: &store.Record{
		Device: rec.Device, Seq: rec.Seq, Shop: rec.Shop, Kind: rec.Kind, Job: rec.Job, Time: rec.Time,
		Hash: sha256.Sum256(c), Prev: rec.Prev, Wire: m.payload, ReceivedAt: m.at,
	}}
}

// verifyLoop takes what the broker delivered, a batch at a time, and
// verifies each batch on every core. When ctx ends it verifies what is
// already queued and closes out.
func (r *Receiver) verifyLoop(ctx context.Context, out chan<- *batch) {
	defer close(out)
	workers := runtime.GOMAXPROCS(0)
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
		b.res = make([]verified, len(b.msgs))
		var wg sync.WaitGroup
		per := (len(b.msgs) + workers - 1) / workers
		for w := 0; w*per < len(b.msgs); w++ {
			lo, hi := w*per, min((w+1)*per, len(b.msgs))
			wg.Go(func() {
				vctx := context.WithoutCancel(ctx)
				for i := lo; i < hi; i++ {
					b.res[i] = r.check(vctx, b.msgs[i])
				}
			})
		}
		wg.Wait()
		out <- &b
	}
}

// commitLoop stores each batch, quarantines what failed, then
// acknowledges every message of the batch in order. A store error is
// retried: nothing is acknowledged before it is stored.
func (r *Receiver) commitLoop(in <-chan *batch) {
	for b := range in {
		r.commit(b)
	}
}

func (r *Receiver) commit(b *batch) {
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
	devices := map[string]bool{}
	for pause := 100 * time.Millisecond; ; pause = min(2*pause, 10*time.Second) {
		err := r.store(ctx, recs, topics, qs, devices)
		if err == nil {
			break
		}
		if errors.Is(err, store.ErrClosed) {
			r.log.Error("receiver: store closed; batch not acknowledged (the broker sends it again)", "messages", len(b.msgs))
			return
		}
		r.log.Error("receiver: storing a batch failed; retrying", "messages", len(b.msgs), "err", err)
		t := time.NewTimer(pause)
		select {
		case <-t.C:
		case <-r.stopping:
			t.Stop()
			r.log.Error("receiver: stopping with a batch not stored; not acknowledged (the broker sends it again)", "messages", len(b.msgs))
			return
		}
	}
	for _, m := range b.msgs {
		m.ack()
	}
	r.stats.received.Add(uint64(len(b.msgs)))
	r.stats.batches.Add(1)
	r.markDirty(devices)
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
