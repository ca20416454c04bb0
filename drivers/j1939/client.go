package j1939

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
)

// ErrNoAnswer is the Answer.Err of a node that neither answered a request
// nor started a transfer within the response time.
var ErrNoAnswer = errors.New("j1939: no answer")

// Client sends requests from a Node and collects the answers, as a
// diagnostic tool does. It is not safe for concurrent use: it reads the
// Node's messages itself.
type Client struct {
	Node *Node
	// Wait is how long a node has to begin its answer (default the
	// Node's Tr). A transfer in progress extends it until it ends.
	Wait time.Duration
	// Observe, when set, sees every message received while the client
	// waits, answers and broadcasts alike.
	Observe func(Message)
	// Requests counts the requests sent.
	Requests int
}

// Answer is one node's reply to a request: a message, an acknowledgement
// (a NACK for an unsupported PGN, or the positive ACK of a command such as
// DM11), or an error (ErrNoAnswer, or a *TransferError when the answer's
// transfer failed twice).
type Answer struct {
	Msg Message
	Ack *Acknowledgement
	Err error
}

type pending struct {
	deadline time.Time
	retried  bool
	first    error // the failed transfer that was requested again
}

// Request sends a destination-specific request for pgn to each address in
// to and returns one Answer per address. A failed transfer is requested
// once more. The error is non-nil only when the requests could not be sent
// or ctx ended; answers gathered so far are returned with it.
func (c *Client) Request(ctx context.Context, pgn PGN, to []uint8) (map[uint8]Answer, error) {
	wait := c.Wait
	if wait <= 0 {
		wait = c.Node.to.Tr
	}
	out := make(map[uint8]Answer, len(to))
	waiting := map[uint8]*pending{}
	selves := map[uint8]bool{}
	send := func(addr uint8) error {
		c.Requests++
		if err := c.Node.Send(ctx, Message{Priority: PriorityDefault, PGN: PGNRequest, Dest: addr, Data: RequestData(pgn)}); err != nil {
			return fmt.Errorf("j1939: request PGN %d from %02X: %w", pgn, addr, err)
		}
		self, _ := c.Node.Address()
		selves[self] = true
		waiting[addr] = &pending{deadline: time.Now().Add(wait)}
		return nil
	}
	for _, a := range slices.Compact(slices.Sorted(slices.Values(to))) {
		if err := send(a); err != nil {
			return out, err
		}
	}
	for len(waiting) > 0 {
		now := time.Now()
		var next time.Time
		for a, p := range waiting {
			if !now.Before(p.deadline) {
				self, _ := c.Node.Address()
				if c.Node.Receiving(a, self) || c.Node.Receiving(a, AddressGlobal) {
					p.deadline = now.Add(c.Node.to.T1)
				} else {
					err := fmt.Errorf("%w: %02X to the request for PGN %d", ErrNoAnswer, a, pgn)
					if p.first != nil {
						err = fmt.Errorf("%w; requested again: %w", p.first, err)
					}
					out[a] = Answer{Err: err}
					delete(waiting, a)
					continue
				}
			}
			if next.IsZero() || p.deadline.Before(next) {
				next = p.deadline
			}
		}
		if len(waiting) == 0 {
			break
		}
		rctx, cancel := context.WithDeadline(ctx, next)
		m, err := c.Node.Receive(rctx)
		cancel()
		var te *TransferError
		switch {
		case errors.As(err, &te):
			p := waiting[te.Source]
			if p == nil || te.PGN != pgn || !(selves[te.Dest] || te.Dest == AddressGlobal) {
				continue
			}
			if p.retried {
				out[te.Source] = Answer{Err: fmt.Errorf("%w; requested again: %w", p.first, te)}
				delete(waiting, te.Source)
				continue
			}
			if err := send(te.Source); err != nil {
				return out, err
			}
			waiting[te.Source].retried = true
			waiting[te.Source].first = te
			continue
		case err != nil && ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded):
			continue
		case err != nil:
			return out, err
		}
		if c.Observe != nil {
			c.Observe(m)
		}
		if waiting[m.Source] == nil {
			continue
		}
		switch {
		case m.PGN == pgn:
			out[m.Source] = Answer{Msg: m}
			delete(waiting, m.Source)
		case m.PGN == PGNAck && (selves[m.Dest] || m.Dest == AddressGlobal):
			a, err := ParseAck(m.Data)
			if err == nil && a.PGN == pgn {
				out[m.Source] = Answer{Ack: &a}
				delete(waiting, m.Source)
			}
		}
	}
	return out, nil
}

// ClearRequest asks for DM11 (clear active DTCs) on some controllers. Both
// ids are required: the agent records who cleared what for which job.
type ClearRequest struct {
	JobID      string
	Technician string
	// ECUs are the controller addresses to clear.
	ECUs []uint8
}

// ClearResult says what a DM11 did on each controller.
type ClearResult struct {
	JobID      string
	Technician string
	ECUs       []ClearedECU
}

// ClearedECU is one controller's outcome: its active codes before, those
// that are gone after (Cleared) and those still active; Outcome is the
// controller's acknowledgement ("acknowledged", "not supported (NACK)",
// "access denied", ...) or why there was none.
type ClearedECU struct {
	Address   uint8
	Before    []DTC
	Cleared   []DTC
	Remaining []DTC
	Outcome   string
	// Acknowledged is true for a positive acknowledgement.
	Acknowledged bool
}

// ClearActive reads DM1 from each controller, sends DM11 to each, and reads
// DM1 again, so that the result names the codes the clear removed. It
// needs a job and a technician id (ErrMissingField) and at least one ECU.
// Controllers that do not answer DM1 are reported with no codes.
func (c *Client) ClearActive(ctx context.Context, req ClearRequest) (ClearResult, error) {
	switch {
	case req.JobID == "":
		return ClearResult{}, fmt.Errorf("%w: job id", ErrMissingField)
	case req.Technician == "":
		return ClearResult{}, fmt.Errorf("%w: technician id", ErrMissingField)
	case len(req.ECUs) == 0:
		return ClearResult{}, fmt.Errorf("%w: ECUs to clear", ErrMissingField)
	}
	res := ClearResult{JobID: req.JobID, Technician: req.Technician}
	before, err := c.Request(ctx, PGNDM1, req.ECUs)
	if err != nil {
		return res, err
	}
	acks, err := c.Request(ctx, PGNDM11, req.ECUs)
	if err != nil {
		return res, err
	}
	after, err := c.Request(ctx, PGNDM1, req.ECUs)
	if err != nil {
		return res, err
	}
	for _, a := range slices.Compact(slices.Sorted(slices.Values(req.ECUs))) {
		e := ClearedECU{Address: a, Before: activeCodes(before[a]), Remaining: activeCodes(after[a])}
		for _, d := range e.Before {
			if !slices.ContainsFunc(e.Remaining, func(x DTC) bool { return x.SPN == d.SPN && x.FMI == d.FMI }) {
				e.Cleared = append(e.Cleared, d)
			}
		}
		switch ans := acks[a]; {
		case ans.Ack != nil:
			e.Outcome, e.Acknowledged = ans.Ack.Control.String(), ans.Ack.Control == Ack
		case ans.Err != nil:
			e.Outcome = ans.Err.Error()
		default:
			e.Outcome = "answered DM11 with a message, not an acknowledgement"
		}
		res.ECUs = append(res.ECUs, e)
	}
	return res, nil
}

func activeCodes(a Answer) []DTC {
	if a.Err != nil || a.Ack != nil {
		return nil
	}
	dc, err := ParseDM1(a.Msg.Data)
	if err != nil {
		return nil
	}
	return dc.DTCs
}
