package job

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/bayagent/bayagent/agent/record"
)

// unsaved is a bay whose job file could not be written after an event was
// stored: the bay is stopped until save succeeds.
type unsaved struct {
	job   string
	save  func() error
	err   error
	since time.Time
}

// saveOrStop runs save; when it fails, the bay is stopped (new events are
// refused with ErrUnsaved) until a later save succeeds, and the error
// wraps ErrStateNotSaved: the event is stored, the job file is not.
func (m *Manager) saveOrStop(bay, id string, save func() error) error {
	err := save()
	if err == nil {
		return nil
	}
	m.unsaved[bay] = &unsaved{job: id, save: save, err: err, since: m.now()}
	m.log.Error("job: job file not saved; the bay is stopped until it is", "job", id, "bay", bay, "err", err)
	return fmt.Errorf("%w: job %q: %w", ErrStateNotSaved, id, err)
}

// settle tries again to save a stopped bay's job file; it returns an
// error wrapping ErrUnsaved while that fails.
func (m *Manager) settle(bay string) error {
	u := m.unsaved[bay]
	if u == nil {
		return nil
	}
	if err := u.save(); err != nil {
		u.err = err
		return fmt.Errorf("%w: job %q (since %s): %w", ErrUnsaved, u.job, u.since.Format(time.RFC3339), err)
	}
	delete(m.unsaved, bay)
	m.log.Info("job: job file saved again; the bay takes events again", "job", u.job, "bay", bay)
	return nil
}

// Stopped returns the bays stopped because their job file could not be
// saved, with the last error, for the status and the fault light.
func (m *Manager) Stopped() map[string]string {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string]string, len(m.unsaved))
	for bay, u := range m.unsaved {
		out[bay] = fmt.Sprintf("job %q: %v", u.job, u.err)
	}
	return out
}

// Retry tries again to save the job file of every stopped bay (the agent
// calls it every few seconds while a bay is stopped, so the bay takes
// events again as soon as space comes back). It returns how many bays
// are still stopped.
func (m *Manager) Retry() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	for bay := range m.unsaved {
		_ = m.settle(bay)
	}
	return len(m.unsaved)
}

// add applies an event body to the job: what the event does to it, the
// same whether the Manager takes the event now or it is read back from
// its record (Recover, FromRecords). It does not count the event.
func (j *Job) add(body any) {
	switch b := body.(type) {
	case ScanBody:
		j.Scans = append(j.Scans, b)
		if b.VINAdopted {
			j.VIN, j.VINFromScan = b.Snapshot.VIN, true
		}
		j.RepairStarted = j.RepairStarted || b.Phase == PhaseAfterRepair
	case EmissionBody:
		j.Readings = append(j.Readings, b)
		j.RepairStarted = j.RepairStarted || b.Phase == PhaseAfterRepair
	case EmissionTestBody:
		j.Tests = append(j.Tests, b)
		j.RepairStarted = j.RepairStarted || b.Phase == PhaseAfterRepair
	case DTCClearBody:
		j.Clears = append(j.Clears, b)
		j.RepairStarted = true
	case NoteBody:
		j.Notes = append(j.Notes, b)
		j.RepairStarted = j.RepairStarted || b.RepairStarted
	}
}

// decodeEvent decodes the body of a job's record by its kind and returns
// it with its event number; a record that is no job event (presence)
// gives a nil body.
func decodeEvent(r record.Record) (body any, n int, err error) {
	switch r.Kind {
	case record.KindJobOpen:
		return decodeBody[JobOpenBody](r.Body)
	case record.KindScan:
		return decodeBody[ScanBody](r.Body)
	case record.KindEmission:
		return decodeBody[EmissionBody](r.Body)
	case record.KindEmissionTest:
		return decodeBody[EmissionTestBody](r.Body)
	case record.KindDTCClear:
		return decodeBody[DTCClearBody](r.Body)
	case record.KindNote:
		return decodeBody[NoteBody](r.Body)
	case record.KindJobClose:
		return decodeBody[JobCloseBody](r.Body)
	case record.KindJobCancel:
		return decodeBody[JobCancelBody](r.Body)
	}
	return nil, 0, nil
}

// eventBody is a job event's body: it knows its number in the job.
type eventBody interface{ number() int }

// decodeBody decodes raw as a B and returns it with its event number.
func decodeBody[B eventBody](raw json.RawMessage) (any, int, error) {
	var b B
	if err := json.Unmarshal(raw, &b); err != nil {
		return nil, 0, err
	}
	return b, b.number(), nil
}

func (b JobOpenBody) number() int      { return b.N }
func (b ScanBody) number() int         { return b.N }
func (b EmissionBody) number() int     { return b.N }
func (b EmissionTestBody) number() int { return b.N }
func (b DTCClearBody) number() int     { return b.N }
func (b NoteBody) number() int         { return b.N }
func (b JobCloseBody) number() int     { return b.N }
func (b JobCancelBody) number() int    { return b.N }

// Recover brings every open job up to the records stored for it: recs are
// records the box holds (the outbox's, any order, other jobs' too). A
// record of an open job whose event number comes after the job file's
// last event is one the file missed (a power cut between the outbox commit
// and the file's rename, or a job file that could not be saved before a
// restart): it is applied, in sequence order, and a job_close or
// job_cancel among them completes the close or the cancel. Each changed
// job is saved (a failure stops its bay, as after any unsaved change). It
// returns how many events it applied. The agent calls it once after Open,
// before taking events.
func (m *Manager) Recover(recs []record.Record) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	recs = slices.Clone(recs)
	slices.SortFunc(recs, func(a, b record.Record) int { return cmp.Compare(a.Seq, b.Seq) })
	applied := 0
	var errs []error
	bays := make([]string, 0, len(m.jobs))
	for bay := range m.jobs {
		bays = append(bays, bay)
	}
	slices.Sort(bays)
	for _, bay := range bays {
		j := m.jobs[bay]
		before := applied
		ended := false
		for _, r := range recs {
			if r.Job != j.ID || ended {
				continue
			}
			body, n, err := decodeEvent(r)
			if err != nil {
				m.log.Warn("job: a record of the open job cannot be read; not applied", "job", j.ID, "seq", r.Seq, "err", err)
				continue
			}
			if body == nil || n <= j.Events {
				continue
			}
			if n != j.Events+1 {
				errs = append(errs, fmt.Errorf("job: job %q: event %d follows event %d in the records (record %d): the events between are gone", j.ID, n, j.Events, r.Seq))
				break
			}
			applied++
			m.log.Warn("job: the job file missed a stored event; applied from its record", "job", j.ID, "bay", bay, "n", n, "kind", r.Kind, "seq", r.Seq)
			switch b := body.(type) {
			case JobCloseBody:
				c := Closed{Job: *j, ClosedAt: b.At, ClosedBy: b.ClosedBy, Settlement: b.Settlement, ClockUnsynced: b.ClockUnsynced}
				c.Events, ended = n, true
				errs = append(errs, m.end(bay, j.ID, closedPath(m.dir, c.ID), &c))
			case JobCancelBody:
				c := Cancelled{Job: *j, CancelledAt: b.At, CancelledBy: b.CancelledBy, Reason: b.Reason}
				c.Events, ended = n, true
				errs = append(errs, m.end(bay, j.ID, cancelledPath(m.dir, c.ID), &c))
			default:
				j.add(body)
				j.Events = n
			}
		}
		if applied > before && !ended {
			errs = append(errs, m.saveOrStop(bay, j.ID, func() error { return m.saveOpen(j) }))
		}
	}
	return applied, errors.Join(errs...)
}
