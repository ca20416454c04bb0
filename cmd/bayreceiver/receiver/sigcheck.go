package receiver

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"time"

	"github.com/bayagent/bayagent/agent/record"
	"github.com/bayagent/bayagent/cmd/bayreceiver/chain"
	"github.com/bayagent/bayagent/cmd/bayreceiver/store"
)

// sigCheckChunk is how many stored records one check reads.
const sigCheckChunk = 256

// sigCheckLoop verifies, whenever the receiver is idle, the own signature of
// every stored record up to each device's verified watermark, a chunk at
// a time (see Verification in the package doc).
func (r *Receiver) sigCheckLoop(ctx context.Context) {
	tick := time.NewTicker(r.o.WalkInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		for r.idle() {
			n, err := r.sigCheckRound(ctx)
			if err != nil {
				if ctx.Err() == nil {
					r.log.Error("receiver: checking stored signatures", "err", err)
				}
				break
			}
			if n == 0 {
				break
			}
		}
	}
}

// idle reports whether no message waits or is being verified or stored,
// and none was stored for a WalkInterval: the check does not take the CPU
// from a stream of records.
func (r *Receiver) idle() bool {
	return len(r.in) == 0 && r.inflight.Load() == 0 && time.Since(time.Unix(0, r.lastBatch.Load())) > r.o.WalkInterval
}

// sigCheckRound checks a chunk of every device that has stored records
// past its SigCheckedThrough, while the receiver stays idle, and returns
// how many records it checked.
func (r *Receiver) sigCheckRound(ctx context.Context) (int, error) {
	chs, err := r.st.Chains(ctx)
	if err != nil {
		return 0, err
	}
	total := 0
	for _, ch := range chs {
		if ch.SigCheckedThrough >= ch.VerifiedThrough {
			continue
		}
		if !r.idle() {
			break
		}
		n, err := r.sigCheck(ctx, ch)
		if err != nil {
			return total, err
		}
		total += n
	}
	return total, nil
}

// sigCheck verifies the signatures of the next chunk of ch's stored
// records above SigCheckedThrough (up to VerifiedThrough) and moves the
// mark, unless another receiver moved it first.
func (r *Receiver) sigCheck(ctx context.Context, ch store.Chain) (int, error) {
	pub, ok := r.keys.get(ctx, ch.Device)
	if !ok {
		return 0, nil // no key any more: nothing to check with
	}
	from := ch.SigCheckedThrough + 1
	recs, err := r.st.Records(ctx, ch.Device, from, ch.VerifiedThrough, sigCheckChunk)
	if err != nil {
		return 0, err
	}
	through := ch.VerifiedThrough
	if len(recs) == sigCheckChunk {
		through = recs[len(recs)-1].Seq
	}
	bad := make([]bool, len(recs))
	r.parallel(len(recs), func(i int) {
		rec, err := record.Decode(recs[i].Wire)
		bad[i] = err != nil || !ed25519.Verify(pub, rec.Canonical(), rec.Sig)
	})
	var failed []uint64
	err = r.st.UpdateChain(ctx, ch.Device, func(tx store.ChainTx) error {
		failed = failed[:0]
		c := tx.Chain()
		if c.SigCheckedThrough != from-1 {
			return nil // another receiver checked them
		}
		for i, b := range bad {
			if b {
				chain.AddSigFailure(&c, recs[i].Seq)
				failed = append(failed, recs[i].Seq)
			}
		}
		c.SigCheckedThrough = through
		return tx.SetChain(c)
	})
	if err != nil {
		return 0, fmt.Errorf("device %s: %w", ch.Device, err)
	}
	r.stats.sigChecked.Add(uint64(len(recs)))
	for _, seq := range failed {
		r.stats.sigFailures.Add(1)
		r.log.Warn("receiver: a stored record's own signature does not verify (its content is authenticated by the chain; its sig member was altered)",
			"device", ch.Device, "seq", seq)
	}
	return len(recs), nil
}
