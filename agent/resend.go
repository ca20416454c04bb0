package agent

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/bayagent/bayagent/agent/command"
	"github.com/bayagent/bayagent/agent/outbox"
	"github.com/bayagent/bayagent/agent/record"
	"github.com/bayagent/bayagent/agent/uplink"
)

// Resend serves the resend command of a box made of an outbox and an
// uplink (the Agent's, or a test's): it publishes again what the outbox
// still holds of the records a receiver found missing (archived, or still
// pending), and says what it no longer has. It returns once the broker
// acknowledged every record it republished, so the reply arrives after
// them.
func Resend(ctx context.Context, box *outbox.Outbox, up *uplink.Uplink, c *command.ResendArgs, log *slog.Logger) (*command.ResendResult, error) {
	held, err := box.Range(c.FromSeq, c.ToSeq)
	if err != nil {
		return nil, fmt.Errorf("resend %d-%d: %w", c.FromSeq, c.ToSeq, err)
	}
	st, err := box.Stats()
	if err != nil {
		return nil, fmt.Errorf("resend %d-%d: %w", c.FromSeq, c.ToSeq, err)
	}
	res := &command.ResendResult{FromSeq: c.FromSeq, ToSeq: c.ToSeq, HeadSeq: st.HeadSeq,
		Missing: []record.SeqRange{}, Quarantined: []uint64{}}
	var payloads [][]byte
	next := c.FromSeq // the lowest seq not yet accounted for
	for _, h := range held {
		if h.Seq > next {
			res.Missing = append(res.Missing, record.SeqRange{From: next, To: h.Seq - 1})
		}
		next = h.Seq + 1
		if h.State == outbox.StateQuarantined {
			res.Quarantined = append(res.Quarantined, h.Seq)
			continue
		}
		payloads = append(payloads, h.Data)
	}
	if last := min(c.ToSeq, st.HeadSeq); next <= last {
		res.Missing = append(res.Missing, record.SeqRange{From: next, To: last})
	}
	n, err := up.Republish(ctx, payloads)
	res.Republished = n
	if err != nil {
		return nil, fmt.Errorf("resend %d-%d: %d of %d records published again: %w", c.FromSeq, c.ToSeq, n, len(payloads), err)
	}
	log.Info("resend", "from_seq", c.FromSeq, "to_seq", c.ToSeq, "republished", n,
		"missing", len(res.Missing), "quarantined", len(res.Quarantined))
	return res, nil
}
