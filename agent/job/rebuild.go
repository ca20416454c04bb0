package job

import (
	"cmp"
	"errors"
	"fmt"
	"slices"

	"github.com/bayagent/bayagent/agent/check"
	"github.com/bayagent/bayagent/agent/record"
)

// Errors of FromRecords.
var (
	// ErrIncomplete: the records do not hold the whole closed job (yet):
	// no job_open, no job_close, or an event number of the job is missing.
	ErrIncomplete = errors.New("job: the records do not hold the whole job")
	// ErrCancelled: the job was cancelled (a job_cancel record): it yields
	// no health record.
	ErrCancelled = errors.New("job: the job was cancelled")
)

// FromRecords rebuilds the closed job jobID from sealed records, as the
// health-record side receives them: in any order, each possibly more than
// once (delivery is at-least-once), mixed with other jobs' and the
// device's other records. It is the one implementation of rebuilding a
// job: the receiver and the demo use it. The caller has verified the
// records (signatures, one device); FromRecords takes the job's records
// in sequence order, one per sequence number, and needs job_open,
// job_close and every event number from 1 to the close's count. Two
// records carrying the same event number (a power cut between the outbox
// commit and the job file, see the package doc) are both kept, in
// sequence order. The result is checked as Close checked it: an error
// wraps ErrIncomplete (something missing or undecodable), ErrCancelled,
// or check.ErrInvalid (the job itself does not satisfy the health record).
func FromRecords(recs []record.Record, jobID string) (Closed, error) {
	var mine []record.Record
	seen := map[uint64]bool{}
	for _, r := range recs {
		if r.Job == jobID && !seen[r.Seq] {
			seen[r.Seq] = true
			mine = append(mine, r)
		}
	}
	slices.SortFunc(mine, func(a, b record.Record) int { return cmp.Compare(a.Seq, b.Seq) })
	var (
		c              Closed
		opened, closed bool
		ns             = map[int]bool{}
	)
	for _, r := range mine {
		body, n, err := decodeEvent(r)
		if r.Kind == record.KindJobCancel {
			if b, ok := body.(JobCancelBody); ok {
				return Closed{}, fmt.Errorf("%w: job %q, by %s: %s (record %d)", ErrCancelled, jobID, b.CancelledBy, b.Reason, r.Seq)
			}
			return Closed{}, fmt.Errorf("%w: job %q (record %d)", ErrCancelled, jobID, r.Seq)
		}
		if err != nil {
			return Closed{}, fmt.Errorf("%w: record %d (%s): %v", ErrIncomplete, r.Seq, r.Kind, err)
		}
		switch b := body.(type) {
		case nil:
			continue // other records (presence) name the open job too
		case JobOpenBody:
			c.Version, c.Bay, c.Opening, c.OpenedAt = fileVersion, b.Bay, b.Opening, b.At
			opened = true
		case JobCloseBody:
			c.ClosedAt, c.ClosedBy, c.Settlement, c.Events = b.At, b.ClosedBy, b.Settlement, b.Events
			c.VIN, c.MileageKM = b.VIN, b.MileageKM
			c.ClockUnsynced = b.ClockUnsynced
			closed = true
		default:
			c.add(b)
		}
		ns[n] = true
	}
	switch {
	case !opened:
		return Closed{}, fmt.Errorf("%w: no job_open record for job %q", ErrIncomplete, jobID)
	case !closed:
		return Closed{}, fmt.Errorf("%w: no job_close record for job %q", ErrIncomplete, jobID)
	}
	for n := 1; n <= c.Events; n++ {
		if !ns[n] {
			return Closed{}, fmt.Errorf("%w: event %d of %d of job %q is missing", ErrIncomplete, n, c.Events, jobID)
		}
	}
	var p check.Problems
	check.Bay(&p, "bay", c.Bay)
	c.Opening.check(&p, "")
	c.Settlement.Check(&p, "settlement.")
	check.Technician(&p, "closed_by", c.ClosedBy)
	c.checkReady(&p, "")
	if err := p.Err(); err != nil {
		return Closed{}, fmt.Errorf("job %q rebuilt from its records: %w", jobID, err)
	}
	return c, nil
}
