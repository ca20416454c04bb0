package receiver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/bayagent/bayagent/agent/command"
	"github.com/bayagent/bayagent/agent/job"
	"github.com/bayagent/bayagent/agent/record"
	"github.com/bayagent/bayagent/agent/uplink"
	"github.com/bayagent/bayagent/cmd/bayreceiver/chain"
	"github.com/bayagent/bayagent/cmd/bayreceiver/store"
)

// walkLoop walks the devices that got records (at most every
// WalkInterval) and every device every SweepInterval.
func (r *Receiver) walkLoop(ctx context.Context) {
	tick := time.NewTicker(r.o.WalkInterval)
	defer tick.Stop()
	sweep := time.NewTicker(r.o.SweepInterval)
	defer sweep.Stop()
	var last time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-r.wake:
			if time.Since(last) < r.o.WalkInterval {
				continue // the tick comes soon
			}
		case <-tick.C:
		case <-sweep.C:
			r.sweep(ctx)
		}
		last = time.Now()
		for _, d := range r.takeDirty() {
			if err := r.walkDevice(ctx, d); err != nil && ctx.Err() == nil {
				r.log.Error("receiver: chain walk", "device", d, "err", err)
			}
		}
	}
}

// sweep marks every device for a walk: gaps are asked for again, and jobs
// looked at, even when no record comes.
func (r *Receiver) sweep(ctx context.Context) {
	devs, err := r.st.Devices(ctx)
	if err != nil {
		r.log.Error("receiver: list devices", "err", err)
		return
	}
	m := map[string]bool{}
	for _, d := range devs {
		m[d] = true
	}
	r.markDirty(m)
}

func (r *Receiver) walkDevice(ctx context.Context, device string) error {
	res, err := chain.Walk(ctx, r.st, device, chain.Options{Now: r.o.Now})
	if err != nil {
		return err
	}
	r.stats.verifiedLinks.Add(uint64(res.Verified))
	if res.Breaks > 0 {
		r.log.Warn("receiver: broken chain links", "device", device, "breaks", res.Breaks, "records", res.Chain.Breaks)
	}
	if len(res.Chain.Gaps) > 0 {
		if err := r.askForGaps(ctx, device); err != nil {
			return err
		}
	}
	return r.checkJobs(ctx, device, res.Chain)
}

// resendIDPrefix starts the id of every resend this receiver sends.
const resendIDPrefix = "bayreceiver-resend-"

// resendDelay is the wait before asking again for a gap asked for
// attempts times.
func (r *Receiver) resendDelay(attempts int) time.Duration {
	d := r.o.ResendInterval
	for i := 1; i < attempts && d < r.o.ResendMaxInterval; i++ {
		d *= 2
	}
	return min(d, r.o.ResendMaxInterval)
}

type resendReq struct {
	shop     string
	from, to uint64
}

// askForGaps sends a resend for every gap that is due. Which gaps are
// due is decided, and their request time set, under the device's lock,
// so that receivers sharing the store never ask twice for one.
func (r *Receiver) askForGaps(ctx context.Context, device string) error {
	pub := r.currentPublisher()
	if pub == nil {
		return nil // not connected: asked at a later walk
	}
	now := r.o.Now().UTC()
	var reqs []resendReq
	err := r.st.UpdateChain(ctx, device, func(tx store.ChainTx) error {
		reqs = reqs[:0]
		ch := tx.Chain()
		changed := false
		for i := range ch.Gaps {
			g := &ch.Gaps[i]
			if now.Sub(g.FirstSeen) < r.o.GapTimeout || !g.RequestedAt.IsZero() && now.Sub(g.RequestedAt) < r.resendDelay(g.Attempts) {
				continue
			}
			g.RequestedAt, g.Attempts, changed = now, g.Attempts+1, true
			reqs = append(reqs, resendReq{shop: ch.Shop, from: g.From, to: min(g.To, g.From+command.MaxResendRecords-1)})
		}
		if !changed {
			return nil
		}
		return tx.SetChain(ch)
	})
	if err != nil {
		return err
	}
	for _, q := range reqs {
		id := fmt.Sprintf("%s%s-%d-%d-%d", resendIDPrefix, r.o.ID, r.resendSeq.Add(1), q.from, q.to)
		payload, _ := json.Marshal(uplink.Request{ID: id, Cmd: command.Resend, Args: command.ResendArgs{FromSeq: q.from, ToSeq: q.to}})
		topic := uplink.DeviceTopics(r.o.MQTT.Prefix, q.shop, device).Cmd
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := pub.publish(pctx, topic, payload)
		cancel()
		if err != nil {
			r.log.Warn("receiver: resend not sent; asked again later", "device", device, "from", q.from, "to", q.to, "err", err)
			continue
		}
		r.stats.resendsSent.Add(1)
		r.log.Info("receiver: asked for missing records", "device", device, "from_seq", q.from, "to_seq", q.to, "id", id)
	}
	return nil
}

// onReply handles a box's reply to one of the resends a receiver sent:
// what the box no longer has becomes a permanent gap; a refusal is kept
// on the gap for the operator. Other replies are not ours.
func (r *Receiver) onReply(topic string, payload []byte) {
	var rep uplink.Reply
	if json.Unmarshal(payload, &rep) != nil || !strings.HasPrefix(rep.ID, resendIDPrefix) {
		return
	}
	var result *command.ResendResult
	if rep.OK && json.Unmarshal(rep.Result, &result) != nil {
		result = nil // answered without a usable result: kept as a refusal
	}
	_, device, _, _ := uplink.ParseTopic(r.o.MQTT.Prefix, topic)
	from, to, ok := resendRange(rep.ID)
	if !ok || device == "" {
		return
	}
	r.stats.resendReplies.Add(1)
	ctx := context.Background()
	err := r.st.UpdateChain(ctx, device, func(tx store.ChainTx) error {
		ch := tx.Chain()
		if !rep.OK || result == nil {
			msg := rep.Error
			if msg == "" {
				msg = "the box answered without a result"
			}
			for i := range ch.Gaps {
				if ch.Gaps[i].From <= to && from <= ch.Gaps[i].To {
					ch.Gaps[i].LastError = msg
				}
			}
			return tx.SetChain(ch)
		}
		gone := result.Missing
		for _, q := range result.Quarantined {
			gone = append(gone, record.SeqRange{From: q, To: q}) // unpublishable on the box: never coming
		}
		chain.AddPermanent(&ch, gone)
		return tx.SetChain(ch)
	})
	if err != nil {
		r.log.Error("receiver: resend reply not recorded", "device", device, "err", err)
		return
	}
	if !rep.OK || result == nil {
		r.stats.resendErrors.Add(1)
		r.log.Warn("receiver: a box refused a resend", "device", device, "from_seq", from, "to_seq", to, "error", rep.Error)
		return
	}
	r.log.Info("receiver: resend answered", "device", device, "from_seq", from, "to_seq", to,
		"republished", result.Republished, "missing", result.Missing, "quarantined", result.Quarantined)
	r.markDirty(map[string]bool{device: true})
}

// resendRange reads the range back from a resend id.
func resendRange(id string) (from, to uint64, ok bool) {
	parts := strings.Split(id, "-")
	if len(parts) < 3 {
		return 0, 0, false
	}
	f, err1 := strconv.ParseUint(parts[len(parts)-2], 10, 64)
	t, err2 := strconv.ParseUint(parts[len(parts)-1], 10, 64)
	return f, t, err1 == nil && err2 == nil && f <= t
}

// checkJobs moves the device's waiting jobs on once the chain is verified
// through their close: pending when the rebuilt job is complete and
// valid, cancelled, or rejected with the reason.
func (r *Receiver) checkJobs(ctx context.Context, device string, ch store.Chain) error {
	waiting, err := r.st.Jobs(ctx, store.JobWaiting)
	if err != nil {
		return err
	}
	woke := false
	for _, j := range waiting {
		if j.Device != device || j.CloseSeq > ch.VerifiedThrough {
			continue
		}
		stored, err := r.st.JobRecords(ctx, j.Device, j.Job)
		if err != nil {
			return err
		}
		_, err = rebuild(stored, j.Job)
		now := r.o.Now().UTC()
		j.UpdatedAt = now
		switch {
		case err == nil:
			j.State, j.NextAttempt, j.LastError = store.JobPending, now, ""
			woke = true
		case errors.Is(err, job.ErrCancelled):
			j.State, j.LastError = store.JobCancelled, err.Error()
		case errors.Is(err, job.ErrIncomplete):
			// Every seq up to the close is accounted for: what is missing
			// lies in a permanent gap.
			j.State, j.LastError = store.JobRejected, "records lost for good (permanent gap): "+err.Error()
		default:
			j.State, j.LastError = store.JobRejected, err.Error()
		}
		swapped, err := r.st.SwapJob(ctx, j, store.JobWaiting)
		if err != nil {
			return err
		}
		if !swapped {
			continue // another receiver moved it on first
		}
		r.log.Info("receiver: job", "device", device, "job", j.Job, "state", j.State, "reason", j.LastError)
	}
	if woke {
		select {
		case r.upWake <- struct{}{}:
		default:
		}
	}
	return nil
}

// rebuild rebuilds a job from its stored records.
func rebuild(stored []store.Record, id string) (job.Closed, error) {
	recs := make([]record.Record, 0, len(stored))
	for _, s := range stored {
		rec, err := record.Decode(s.Wire)
		if err != nil {
			return job.Closed{}, fmt.Errorf("stored record %s/%d: %w", s.Device, s.Seq, err)
		}
		recs = append(recs, rec)
	}
	return job.FromRecords(recs, id)
}
