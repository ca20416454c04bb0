// Package chain verifies each device's record chain in the receiver's store.
//
// It works whatever order the records arrived in.
//
// A walk (Walk) takes the device's chain state under the store's lock and
// moves its watermark, VerifiedThrough, over every following record that
// is stored: the record's prev must be the hash of the record before it
// (seq 1 and outbox_reset records start a chain: prev is the genesis
// hash). A record whose link does not match although both are correctly
// signed (the receiver only stores verified records) is a break: reported
// in Chain.Breaks, and the walk goes on, since the record is authentic.
// The walk stops at the first missing seq unless the device said it no
// longer has it (a permanent gap, from its answer to a resend): then it
// steps over the gap, and the record after it starts a chain that cannot
// be linked to what came before.
//
// Above the watermark, the walk lists the missing ranges as open gaps,
// keeping when each was first seen and when a resend last asked for it,
// so that the receiver can ask again on its own schedule (package
// receiver). Records past MaxScan above the watermark are looked at by
// later walks.
//
// Jobs: each job_close or job_cancel record the watermark passes
// registers its job in the store (waiting, or cancelled), for the upload.
package chain

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/bayagent/bayagent/agent/record"
	"github.com/bayagent/bayagent/cmd/bayreceiver/store"
)

// DefaultMaxScan is how many stored records above the watermark one walk
// reads.
const DefaultMaxScan = 10000

// Options configures Walk.
type Options struct {
	// Now gives the time for new gaps; nil means time.Now.
	Now func() time.Time
	// MaxScan bounds the records read per walk; 0 means DefaultMaxScan.
	MaxScan int
}

// Result is what one walk did.
type Result struct {
	// Chain is the state after the walk.
	Chain store.Chain
	// Verified counts the records the watermark passed in this walk.
	Verified int
	// Breaks counts the broken links found in this walk.
	Breaks int
	// Jobs are the jobs whose close the watermark passed in this walk.
	Jobs []store.Job
}

// Walk verifies what it can of device's chain and saves the state.
func Walk(ctx context.Context, st store.Store, device string, o Options) (Result, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.MaxScan <= 0 {
		o.MaxScan = DefaultMaxScan
	}
	var res Result
	err := st.UpdateChain(ctx, device, func(tx store.ChainTx) error {
		res = Result{}
		ch := tx.Chain()
		links, err := tx.Links(ch.VerifiedThrough, o.MaxScan)
		if err != nil {
			return fmt.Errorf("chain %s: %w", device, err)
		}
		now := o.Now().UTC()
		if ch.Shop == "" && len(links) > 0 {
			ch.Shop = links[0].Shop
		}
		rest := advance(&ch, links, &res)
		for _, j := range res.Jobs {
			if err := tx.AddJob(j); err != nil {
				return fmt.Errorf("chain %s: job %s: %w", device, j.Job, err)
			}
		}
		if len(links) > 0 {
			ch.HighestSeq = max(ch.HighestSeq, links[len(links)-1].Seq)
		}
		ch.Gaps = mergeGaps(ch.Gaps, missing(ch.VerifiedThrough, rest, ch.Permanent), now)
		ch.UpdatedAt = now
		res.Chain = ch
		return tx.SetChain(ch)
	})
	return res, err
}

// advance moves ch's watermark over links (ascending, all above it) and
// returns the links it could not reach.
func advance(ch *store.Chain, links []store.Link, res *Result) []store.Link {
	for len(links) > 0 {
		l := links[0]
		next := ch.VerifiedThrough + 1
		if l.Seq > next {
			p, ok := permanentAt(ch.Permanent, next)
			if !ok {
				return links
			}
			ch.VerifiedThrough, ch.VerifiedHash = min(p.To, l.Seq-1), record.Hash{}
			continue
		}
		switch {
		case l.Kind == record.KindOutboxReset && l.Prev == record.Genesis:
			ch.Resets = appendListed(ch.Resets, l.Seq)
		case ch.VerifiedThrough == 0:
			if l.Prev != record.Genesis {
				addBreak(ch, l.Seq, res)
			}
		case ch.VerifiedHash == record.Hash{}:
			// After a permanent gap: nothing to link to.
		case l.Prev != ch.VerifiedHash:
			addBreak(ch, l.Seq, res)
		}
		ch.VerifiedThrough, ch.VerifiedHash = l.Seq, l.Hash
		res.Verified++
		if l.Job != "" && (l.Kind == record.KindJobClose || l.Kind == record.KindJobCancel) {
			state := store.JobWaiting
			if l.Kind == record.KindJobCancel {
				state = store.JobCancelled
			}
			res.Jobs = append(res.Jobs, store.Job{Device: ch.Device, Job: l.Job, Shop: l.Shop, CloseSeq: l.Seq, State: state})
		}
		links = links[1:]
	}
	// Nothing stored above: a permanent gap right above the watermark is
	// passed all the same.
	if p, ok := permanentAt(ch.Permanent, ch.VerifiedThrough+1); ok {
		ch.VerifiedThrough, ch.VerifiedHash = p.To, record.Hash{}
	}
	return nil
}

func addBreak(ch *store.Chain, seq uint64, res *Result) {
	ch.Breaks = appendListed(ch.Breaks, seq)
	ch.BreakCount++
	res.Breaks++
}

// AddSigFailure records that the stored record seq's own signature does
// not verify (see store.Chain.SigFailures).
func AddSigFailure(ch *store.Chain, seq uint64) {
	ch.SigFailures = appendListed(ch.SigFailures, seq)
	ch.SigFailureCount++
}

func appendListed(l []uint64, seq uint64) []uint64 {
	if len(l) >= store.MaxListed || slices.Contains(l, seq) {
		return l
	}
	return append(l, seq)
}

// permanentAt returns the permanent range holding seq.
func permanentAt(perm []record.SeqRange, seq uint64) (record.SeqRange, bool) {
	for _, p := range perm {
		if p.From <= seq && seq <= p.To {
			return p, true
		}
	}
	return record.SeqRange{}, false
}

// missing lists the seqs absent between the watermark and the highest
// stored record in rest, without the permanent ones.
func missing(vt uint64, rest []store.Link, perm []record.SeqRange) []record.SeqRange {
	var out []record.SeqRange
	prev := vt
	for _, l := range rest {
		if l.Seq > prev+1 {
			out = append(out, subtract(record.SeqRange{From: prev + 1, To: l.Seq - 1}, perm)...)
		}
		prev = l.Seq
	}
	return out
}

// subtract removes the permanent ranges from r.
func subtract(r record.SeqRange, perm []record.SeqRange) []record.SeqRange {
	out := []record.SeqRange{r}
	for _, p := range perm {
		var next []record.SeqRange
		for _, x := range out {
			if p.To < x.From || p.From > x.To {
				next = append(next, x)
				continue
			}
			if p.From > x.From {
				next = append(next, record.SeqRange{From: x.From, To: p.From - 1})
			}
			if p.To < x.To {
				next = append(next, record.SeqRange{From: p.To + 1, To: x.To})
			}
		}
		out = next
	}
	return out
}

// mergeGaps returns the current missing ranges as gaps, each keeping the
// history (first seen, resend requests) of the old gaps it overlaps.
func mergeGaps(old []store.Gap, cur []record.SeqRange, now time.Time) []store.Gap {
	out := make([]store.Gap, 0, len(cur))
	for _, r := range cur {
		g := store.Gap{From: r.From, To: r.To, FirstSeen: now}
		for _, o := range old {
			if o.To < r.From || o.From > r.To {
				continue
			}
			if o.FirstSeen.Before(g.FirstSeen) {
				g.FirstSeen = o.FirstSeen
			}
			if o.RequestedAt.After(g.RequestedAt) {
				g.RequestedAt, g.LastError = o.RequestedAt, o.LastError
			}
			g.Attempts = max(g.Attempts, o.Attempts)
		}
		out = append(out, g)
	}
	return out
}

// AddPermanent records that the device no longer has the records of rs
// (its answer to a resend) and drops them from the open gaps.
func AddPermanent(ch *store.Chain, rs []record.SeqRange) {
	for _, r := range rs {
		if r.From == 0 || r.To < r.From {
			continue
		}
		ch.Permanent = append(ch.Permanent, r)
	}
	ch.Permanent = normalize(ch.Permanent)
	var gaps []store.Gap
	for _, g := range ch.Gaps {
		for _, part := range subtract(record.SeqRange{From: g.From, To: g.To}, ch.Permanent) {
			ng := g
			ng.From, ng.To = part.From, part.To
			gaps = append(gaps, ng)
		}
	}
	ch.Gaps = gaps
}

// normalize sorts ranges and merges overlapping or adjacent ones.
func normalize(rs []record.SeqRange) []record.SeqRange {
	slices.SortFunc(rs, func(a, b record.SeqRange) int { return cmp.Compare(a.From, b.From) })
	var out []record.SeqRange
	for _, r := range rs {
		if n := len(out); n > 0 && r.From <= out[n-1].To+1 {
			out[n-1].To = max(out[n-1].To, r.To)
			continue
		}
		out = append(out, r)
	}
	return out
}

// Missing counts the seqs of the open gaps.
func Missing(ch *store.Chain) uint64 {
	var n uint64
	for _, g := range ch.Gaps {
		n += g.To - g.From + 1
	}
	return n
}

// PermanentCount counts the seqs of the permanent gaps.
func PermanentCount(ch *store.Chain) uint64 {
	var n uint64
	for _, p := range ch.Permanent {
		n += p.To - p.From + 1
	}
	return n
}
