package agent

import (
	"context"
	"sync"

	"github.com/bayagent/bayagent/agent/outbox"
	"github.com/bayagent/bayagent/agent/uplink"
)

// prefetch is how many records queue reads from the outbox at once: the
// uplink asks for a few at a time as PUBACKs free its window, and one read
// transaction per few records would cost more than the publishing.
const prefetch = 1024

// NewQueue returns the outbox as the uplink consumes it (the Agent's
// queue; tests build boxes from an outbox and an uplink with it).
func NewQueue(box *outbox.Outbox) uplink.Queue { return &queue{box: box} }

// queue is the outbox as the uplink consumes it. It reads ahead: records
// read but not yet handed out are served from memory while the uplink's
// cursor continues where the last call left off; any other cursor (a new
// connection starts again from 0) reads afresh.
type queue struct {
	box *outbox.Outbox

	mu    sync.Mutex
	ahead []outbox.Entry
	last  uint64 // seq of the last record handed out
}

func (q *queue) Next(ctx context.Context, after uint64, n int) ([]uplink.Item, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if after != q.last || len(q.ahead) == 0 {
		es, err := q.box.NextWait(ctx, after, max(n, prefetch))
		if err != nil {
			return nil, err
		}
		q.ahead = es
	}
	k := min(n, len(q.ahead))
	items := make([]uplink.Item, k)
	for i, e := range q.ahead[:k] {
		items[i] = uplink.Item{Seq: e.Seq, Payload: e.Data}
	}
	q.ahead = q.ahead[k:]
	if k > 0 {
		q.last = items[k-1].Seq
	}
	return items, nil
}

func (q *queue) Ack(seqs ...uint64) error {
	_, err := q.box.Ack(seqs...)
	return err
}

func (q *queue) Quarantine(seq uint64, reason string) error { return q.box.Quarantine(seq, reason) }
