package agent

import (
	"context"

	"github.com/bayagent/bayagent/agent/outbox"
	"github.com/bayagent/bayagent/agent/uplink"
)

// queue is the outbox as the uplink consumes it.
type queue struct{ box *outbox.Outbox }

func (q queue) Next(ctx context.Context, after uint64, n int) ([]uplink.Item, error) {
	es, err := q.box.NextWait(ctx, after, n)
	if err != nil {
		return nil, err
	}
	items := make([]uplink.Item, len(es))
	for i, e := range es {
		items[i] = uplink.Item{Seq: e.Seq, Payload: e.Data}
	}
	return items, nil
}

func (q queue) Ack(seqs ...uint64) error {
	_, err := q.box.Ack(seqs...)
	return err
}

func (q queue) Quarantine(seq uint64, reason string) error { return q.box.Quarantine(seq, reason) }
