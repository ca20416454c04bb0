package demo

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/bayagent/bayagent/agent/job"
	"github.com/bayagent/bayagent/agent/record"
)

// ErrIncompleteJob: the records received do not hold a whole closed job.
var ErrIncompleteJob = errors.New("demo: the records do not hold the whole job")

// closedFromRecords rebuilds a closed job from the records a receiver got,
// as the health-record system would: the job's records in sequence order,
// one per sequence number (delivery is at-least-once), from job_open to
// job_close, every event number from 1 to the close's present.
func closedFromRecords(recs []record.Record, jobID string) (job.Closed, error) {
	var mine []record.Record
	seen := map[uint64]bool{}
	for _, r := range recs {
		if r.Job == jobID && !seen[r.Seq] {
			seen[r.Seq] = true
			mine = append(mine, r)
		}
	}
	slices.SortFunc(mine, func(a, b record.Record) int {
		switch {
		case a.Seq < b.Seq:
			return -1
		case a.Seq > b.Seq:
			return 1
		}
		return 0
	})
	var (
		c      job.Closed
		opened bool
		closed bool
		ns     = map[int]bool{}
	)
	for _, r := range mine {
		var n int
		var err error
		switch r.Kind {
		case record.KindJobOpen:
			var b job.JobOpenBody
			err = json.Unmarshal(r.Body, &b)
			c.Version, c.Bay, c.Opening, c.OpenedAt, n = 1, b.Bay, b.Opening, b.At, b.N
			opened = true
		case record.KindScan:
			var b job.ScanBody
			err = json.Unmarshal(r.Body, &b)
			c.Scans, n = append(c.Scans, b), b.N
			c.VINFromScan = c.VINFromScan || b.VINAdopted
			if b.VINAdopted {
				c.VIN = b.Snapshot.VIN
			}
			c.RepairStarted = c.RepairStarted || b.Phase == job.PhaseAfterRepair
		case record.KindEmission:
			var b job.EmissionBody
			err = json.Unmarshal(r.Body, &b)
			c.Readings, n = append(c.Readings, b), b.N
			c.RepairStarted = c.RepairStarted || b.Phase == job.PhaseAfterRepair
		case record.KindDTCClear:
			var b job.DTCClearBody
			err = json.Unmarshal(r.Body, &b)
			c.Clears, n = append(c.Clears, b), b.N
			c.RepairStarted = true
		case record.KindNote:
			var b job.NoteBody
			err = json.Unmarshal(r.Body, &b)
			c.Notes, n = append(c.Notes, b), b.N
			c.RepairStarted = c.RepairStarted || b.RepairStarted
		case record.KindJobClose:
			var b job.JobCloseBody
			err = json.Unmarshal(r.Body, &b)
			c.ClosedAt, c.ClosedBy, c.Settlement, c.Events, n = b.At, b.ClosedBy, b.Settlement, b.Events, b.N
			c.VIN, c.MileageKM = b.VIN, b.MileageKM
			closed = true
		default:
			continue // presence records name the open job too
		}
		if err != nil {
			return job.Closed{}, fmt.Errorf("%w: record %d (%s): %v", ErrIncompleteJob, r.Seq, r.Kind, err)
		}
		ns[n] = true
	}
	switch {
	case !opened:
		return job.Closed{}, fmt.Errorf("%w: no job_open record for job %q", ErrIncompleteJob, jobID)
	case !closed:
		return job.Closed{}, fmt.Errorf("%w: no job_close record for job %q", ErrIncompleteJob, jobID)
	}
	for n := 1; n <= c.Events; n++ {
		if !ns[n] {
			return job.Closed{}, fmt.Errorf("%w: event %d of %d of job %q is missing", ErrIncompleteJob, n, c.Events, jobID)
		}
	}
	return c, nil
}
