package canbus

import (
	"context"
	"sync/atomic"

	"go.einride.tech/can"
)

// rxQueueLen is how many received frames a Conn holds before it drops the
// oldest, like a CAN controller's receive FIFO overrunning.
const rxQueueLen = 4096

// rxQueue is a Conn's receive FIFO. One goroutine at a time pushes; when the
// pusher has no more frames to give (a socket reader that stopped), it calls
// stop with the error Receive returns once the queue is empty.
type rxQueue struct {
	frames   chan can.Frame
	overruns atomic.Int64
	stopped  chan struct{}
	err      error // written by stop before stopped is closed
}

func newRxQueue() *rxQueue {
	return &rxQueue{frames: make(chan can.Frame, rxQueueLen), stopped: make(chan struct{})}
}

// push enqueues without blocking; on overrun the oldest frame is dropped and
// counted. It reports whether that was the queue's first overrun.
func (q *rxQueue) push(f can.Frame) (firstOverrun bool) {
	for {
		select {
		case q.frames <- f:
			return firstOverrun
		default:
		}
		select {
		case <-q.frames:
			if q.overruns.Add(1) == 1 {
				firstOverrun = true
			}
		default:
		}
	}
}

// stop says no more frames will be pushed; receive returns err after the
// frames still queued.
func (q *rxQueue) stop(err error) {
	q.err = err
	close(q.stopped)
}

// receive blocks until a frame is queued, ctx ends (ctx.Err()), closed is
// closed (ErrClosed) or the queue is stopped and empty (stop's error).
func (q *rxQueue) receive(ctx context.Context, closed <-chan struct{}) (can.Frame, error) {
	select {
	case <-closed:
		return can.Frame{}, ErrClosed
	default:
	}
	select {
	case f := <-q.frames:
		return f, nil
	case <-closed:
		return can.Frame{}, ErrClosed
	case <-ctx.Done():
		return can.Frame{}, ctx.Err()
	case <-q.stopped:
		select {
		case f := <-q.frames:
			return f, nil
		default:
			return can.Frame{}, q.err
		}
	}
}
