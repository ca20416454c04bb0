package job

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/bayagent/bayagent/agent/check"
	"github.com/bayagent/bayagent/agent/emission"
	"github.com/bayagent/bayagent/agent/findings"
	"github.com/bayagent/bayagent/agent/record"
	"github.com/bayagent/bayagent/agent/scan"
	"github.com/bayagent/bayagent/drivers/analyzer"
	"github.com/bayagent/bayagent/drivers/obd"
)

// DefaultMaxEvents is the default of Options.MaxEvents.
const DefaultMaxEvents = 500

// Options configures a Manager. Emit is required; the zero value of every
// other field is a sensible default.
type Options struct {
	// Emit stores one event durably: the agent seals it and appends it to
	// the outbox, returning only after the append committed. A job changes
	// only after Emit returned nil; when it returns an error the job is
	// unchanged and the method returns an error wrapping ErrNotStored.
	// Emit is called with the Manager's lock held: it must not call the
	// Manager.
	Emit func(ctx context.Context, ev Event) error
	// Logger receives warnings about the state directory; nil discards.
	Logger *slog.Logger
	// Now gives event times; nil is time.Now.
	Now func() time.Time
	// ClockSynced reports whether the box's clock is synchronised; a job
	// closed while it is not says so (Closed.ClockUnsynced). Nil: it is.
	ClockSynced func() bool
	// Assess gives a scan's findings (findings.Evaluate with the box's
	// rules) from its snapshot and the job's VIN; nil records scans
	// without findings.
	Assess func(s *scan.Snapshot, jobVIN string) findings.Result
	// MaxEvents bounds the events of one job (job_open included);
	// 0 is DefaultMaxEvents.
	MaxEvents int
}

// Manager owns the open jobs of the bays served by one box, at most one per
// bay, and keeps each in a job file under its state directory (see Open).
// Its methods are safe for concurrent use; they run one at a time.
type Manager struct {
	dir  string
	opts Options
	log  *slog.Logger

	mu          sync.Mutex
	jobs        map[string]*Job // by bay
	unsaved     map[string]*unsaved
	clearing    map[string]bool // bays whose DTC clear is talking to the vehicle
	quarantined []string
	write       func(path string, data []byte) error // writeFileAtomic; tests replace it
}

// Open returns a Manager keeping its state under dir (created 0700 if
// missing) and loads the open jobs found there, so that an open job
// survives a power cut. It finishes what a power cut interrupted: a job
// whose closed or cancelled file exists is no longer open (its open file
// is removed), and temporary files are deleted. A job file whose content
// is damaged is renamed to "<name>.corrupt-<UTC time>", logged, and listed
// by Quarantined; its bay is free again (the job's records are in the
// outbox). A job file that cannot be read at all (permissions, an I/O
// error) is an error: Open fails and nothing is moved, since the job it
// holds may be fine and its id must stay in use.
//
// Only one Manager may use a directory at a time; the agent's outbox lock
// already guarantees that a box runs one agent.
func Open(dir string, opts Options) (*Manager, error) {
	if opts.Emit == nil {
		return nil, errors.New("job: Options.Emit is required")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxEvents <= 0 {
		opts.MaxEvents = DefaultMaxEvents
	}
	m := &Manager{
		dir:      dir,
		opts:     opts,
		log:      opts.Logger,
		jobs:     make(map[string]*Job),
		unsaved:  make(map[string]*unsaved),
		clearing: make(map[string]bool),
		write:    writeFileAtomic,
	}
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	_, statErr := os.Stat(dir)
	for _, sub := range []string{openDir, closedDir, cancelledDir} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			return nil, fmt.Errorf("job: state directory: %w", err)
		}
		if err := removeTemps(filepath.Join(dir, sub)); err != nil {
			return nil, fmt.Errorf("job: state directory: %w", err)
		}
	}
	// The new directories' entries are durable only once their parents are
	// synced (a power cut would take them, and the job files in them).
	syncs := []string{dir}
	if errors.Is(statErr, fs.ErrNotExist) {
		syncs = append(syncs, filepath.Dir(dir))
	}
	for _, d := range syncs {
		if err := syncDir(d); err != nil {
			return nil, fmt.Errorf("job: state directory: %w", err)
		}
	}
	if err := m.load(); err != nil {
		return nil, err
	}
	return m, nil
}

func removeTemps(dir string) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if n := e.Name(); strings.HasPrefix(n, ".") && strings.HasSuffix(n, tmpSuffix) {
			if err := os.Remove(filepath.Join(dir, n)); err != nil {
				return err
			}
		}
	}
	return nil
}

func (m *Manager) load() error {
	ents, err := os.ReadDir(filepath.Join(m.dir, openDir))
	if err != nil {
		return fmt.Errorf("job: state directory: %w", err)
	}
	ids := make(map[string]string) // job id -> bay
	for _, e := range ents {
		name := e.Name()
		bay, ok := strings.CutSuffix(name, ".json")
		if !ok || !e.Type().IsRegular() {
			continue
		}
		path := filepath.Join(m.dir, openDir, name)
		j, err := readJob(path)
		switch {
		case err != nil && !errors.Is(err, ErrCorrupt):
			return fmt.Errorf("job: cannot read the open job of bay %q (%w): fix the file's permissions or the storage; it is not moved aside", bay, err)
		case err != nil:
		case j.Bay != bay:
			err = fmt.Errorf("%w: the file holds the job of bay %q", ErrCorrupt, j.Bay)
		case ids[j.ID] != "":
			err = fmt.Errorf("%w: job %q is also open at bay %q", ErrCorrupt, j.ID, ids[j.ID])
		}
		if err != nil {
			if qerr := m.quarantine(path, err); qerr != nil {
				return qerr
			}
			continue
		}
		if done, err := m.finished(j.ID); err != nil {
			return err
		} else if done != "" {
			// A power cut hit between writing the closed (or cancelled)
			// file and removing the open one: the close is complete.
			m.log.Info("job: finishing an interrupted end: the job was "+done, "job", j.ID, "bay", bay)
			if err := removeDurably(path); err != nil {
				return fmt.Errorf("job: %w", err)
			}
			continue
		}
		ids[j.ID] = bay
		m.jobs[bay] = &j
	}
	return nil
}

// finished returns "closed" or "cancelled" when job id has a closed or
// cancelled file, else "".
func (m *Manager) finished(id string) (string, error) {
	for _, f := range []struct{ path, what string }{{closedPath(m.dir, id), "closed"}, {cancelledPath(m.dir, id), "cancelled"}} {
		if _, err := os.Stat(f.path); err == nil {
			return f.what, nil
		} else if !errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("job: %w", err)
		}
	}
	return "", nil
}

func readJob(path string) (Job, error) {
	f, err := os.Open(path)
	if err != nil {
		return Job{}, err
	}
	defer f.Close()
	return decodeJob(f)
}

func (m *Manager) quarantine(path string, cause error) error {
	to := path + ".corrupt-" + m.opts.Now().UTC().Format("20060102T150405.000Z")
	if err := os.Rename(path, to); err != nil {
		return fmt.Errorf("job: cannot move aside corrupt %s (%v): %w", path, cause, err)
	}
	m.log.Error("job: job file unreadable, moved aside; its bay is free", "file", to, "err", cause)
	m.quarantined = append(m.quarantined, to)
	return syncDir(filepath.Dir(path))
}

// Quarantined lists the corrupt job files Open moved aside.
func (m *Manager) Quarantined() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.quarantined)
}

// Dir returns the state directory.
func (m *Manager) Dir() string { return m.dir }

// Bays returns the bays that have an open job, sorted.
func (m *Manager) Bays() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	bays := make([]string, 0, len(m.jobs))
	for b := range m.jobs {
		bays = append(bays, b)
	}
	slices.Sort(bays)
	return bays
}

// Current returns a copy of the open job of bay.
func (m *Manager) Current(bay string) (Job, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	j := m.jobs[bay]
	if j == nil {
		return Job{}, false
	}
	return clone(j), true
}

// clone deep-copies a job through its JSON form. Every event of a job was
// encoded before (by Emit and the job file), so this cannot fail; if it
// did, a shallow copy is still a correct value.
func clone(j *Job) Job {
	var c Job
	b, err := json.Marshal(j)
	if err == nil {
		err = json.Unmarshal(b, &c)
	}
	if err != nil {
		return *j
	}
	return c
}

// Closed reads a closed job of this Manager's directory (see ReadClosed).
func (m *Manager) Closed(id string) (Closed, error) { return ReadClosed(m.dir, id) }

func (m *Manager) now() time.Time { return m.opts.Now().UTC() }

func (m *Manager) synced() bool { return m.opts.ClockSynced == nil || m.opts.ClockSynced() }

// current returns the open job of bay, or ErrNoJob, or ErrUnsaved while the
// bay is stopped.
func (m *Manager) current(bay string) (*Job, error) {
	if err := m.settle(bay); err != nil {
		return nil, err
	}
	j := m.jobs[bay]
	if j == nil {
		if err := check.ValidBay(bay); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("%w %q", ErrNoJob, bay)
	}
	if j.Events >= m.opts.MaxEvents {
		return nil, fmt.Errorf("%w: job %q has %d events", ErrJobFull, j.ID, j.Events)
	}
	return j, nil
}

// commit emits ev and, once it is stored, applies it to j and writes the
// job file; a file that cannot be written stops the bay (see unsaved).
func (m *Manager) commit(ctx context.Context, j *Job, ev Event) error {
	if err := m.store(ctx, ev); err != nil {
		return err
	}
	j.add(ev.Body)
	j.Events++
	return m.saveOrStop(j.Bay, j.ID, func() error { return m.saveOpen(j) })
}

// store emits ev; an error wraps ErrNotStored.
func (m *Manager) store(ctx context.Context, ev Event) error {
	if err := m.opts.Emit(ctx, ev); err != nil {
		return fmt.Errorf("%w: %s for job %q: %w", ErrNotStored, ev.Kind, ev.Job, err)
	}
	return nil
}

// saveOpen writes the open job file of j.
func (m *Manager) saveOpen(j *Job) error {
	b, err := marshalFile(j)
	if err == nil {
		err = m.write(openPath(m.dir, j.Bay), b)
	}
	return err
}

// OpenJob opens a job at bay. It fails with ErrBayBusy when the bay has an
// open job, ErrJobExists when the id is open elsewhere or was closed or
// cancelled, and a
// validation error naming each bad field.
func (m *Manager) OpenJob(ctx context.Context, bay string, o Opening) (Event, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var p check.Problems
	check.Bay(&p, "bay", bay)
	o.check(&p, "")
	if err := p.Err(); err != nil {
		return Event{}, err
	}
	if err := m.settle(bay); err != nil {
		return Event{}, err
	}
	if cur := m.jobs[bay]; cur != nil {
		return Event{}, fmt.Errorf("%w: bay %q has job %q", ErrBayBusy, bay, cur.ID)
	}
	for b, j := range m.jobs {
		if j.ID == o.ID {
			return Event{}, fmt.Errorf("%w: job %q is open at bay %q", ErrJobExists, o.ID, b)
		}
	}
	if done, err := m.finished(o.ID); err != nil {
		return Event{}, err
	} else if done != "" {
		return Event{}, fmt.Errorf("%w: job %q was %s", ErrJobExists, o.ID, done)
	}
	now := m.now()
	j := &Job{Version: fileVersion, Bay: bay, Opening: o, OpenedAt: now}
	ev := Event{Kind: record.KindJobOpen, Job: o.ID, Body: JobOpenBody{N: 1, At: now, Bay: bay, Opening: o}}
	if err := m.store(ctx, ev); err != nil {
		return Event{}, err
	}
	j.Events = 1
	m.jobs[bay] = j
	return ev, m.saveOrStop(bay, o.ID, func() error { return m.saveOpen(j) })
}

// Scan attaches a health snapshot to the open job of bay. An empty phase
// takes the job's (Job.Phase); intake and before_repair are refused with
// ErrPhase once the repair started. An after_repair scan marks the repair
// started. A job opened without VIN takes the scan's VIN when its check
// digit is valid (ScanBody.VINAdopted); a different VIN is flagged
// (ScanBody.VINMismatch) and kept out of the job. A scan at a bay without
// a job gives ErrNoJob: record it with IntakeScan.
func (m *Manager) Scan(ctx context.Context, bay string, phase Phase, snap scan.Snapshot) (Event, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	j, err := m.current(bay)
	if err != nil {
		return Event{}, err
	}
	if phase, err = m.phase(j, phase, scanPhases); err != nil {
		return Event{}, err
	}
	body := ScanBody{N: j.Events + 1, At: m.now(), Bay: bay, Phase: phase, Snapshot: snap}
	switch {
	case snap.VIN == "":
	case j.VIN == "":
		body.VINAdopted = obd.ValidateVIN(snap.VIN) == nil
	case snap.VIN != j.VIN:
		body.VINMismatch = true
	}
	if m.opts.Assess != nil {
		res := m.opts.Assess(&snap, j.VIN)
		body.Findings = &res
	}
	ev := Event{Kind: record.KindScan, Job: j.ID, Body: body}
	return m.result(ev, m.commit(ctx, j, ev))
}

// Reading attaches an emission reading to the open job of bay. An empty
// phase takes the job's; before_repair is refused with ErrPhase once the
// repair started; an after_repair reading marks the repair started.
func (m *Manager) Reading(ctx context.Context, bay string, phase Phase, r analyzer.Reading) (Event, error) {
	return m.measured(ctx, bay, phase, func(p *check.Problems) {
		check.Line(p, "reading.method", r.Method, true, check.MaxCode)
		if len(r.Values) == 0 {
			p.Add("reading.values", "must hold at least one value")
		}
	}, func(n int, at time.Time, phase Phase) (string, any) {
		return record.KindEmission, EmissionBody{N: n, At: at, Phase: phase, Reading: r}
	})
}

// measured stores a reading or an emission test in the open job of bay:
// the phase (empty: the job's; before_repair refused once the repair
// started), what problems reports, then the event body makes.
func (m *Manager) measured(ctx context.Context, bay string, phase Phase, problems func(*check.Problems),
	body func(n int, at time.Time, phase Phase) (kind string, b any)) (Event, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	j, err := m.current(bay)
	if err != nil {
		return Event{}, err
	}
	if phase, err = m.phase(j, phase, readingPhases); err != nil {
		return Event{}, err
	}
	var p check.Problems
	problems(&p)
	if err := p.Err(); err != nil {
		return Event{}, err
	}
	kind, b := body(j.Events+1, m.now(), phase)
	ev := Event{Kind: kind, Job: j.ID, Body: b}
	return m.result(ev, m.commit(ctx, j, ev))
}

// EmissionTest attaches a completed emission test procedure (res, from
// emission.Run) to the open job of bay, with the instrument's state when
// it began. An empty phase takes the job's; before_repair is refused with
// ErrPhase once the repair started; an after_repair test marks the repair
// started. Aborted tests are recorded too: the verdict says why.
func (m *Manager) EmissionTest(ctx context.Context, bay string, phase Phase, technician string, inst emission.InstrumentState, res *emission.Result) (Event, error) {
	return m.measured(ctx, bay, phase, func(p *check.Problems) {
		if res == nil {
			p.Add("test", "is required")
		} else {
			check.Enum(p, "test.method", res.Method, emission.Methods(), true)
			check.Enum(p, "test.verdict.result", res.Verdict.Result, []string{emission.Pass, emission.Fail, emission.Aborted}, true)
		}
		if technician != "" {
			check.Technician(p, "technician", technician)
		}
	}, func(n int, at time.Time, phase Phase) (string, any) {
		return record.KindEmissionTest, EmissionTestBody{N: n, At: at, Phase: phase, Technician: technician, Instrument: inst, Test: *res}
	})
}

func (m *Manager) phase(j *Job, ph Phase, allowed []string) (Phase, error) {
	return j.phaseFor(ph, allowed)
}

// ReadingPhase returns the phase a reading or an emission test of the job
// would take: ph, or the job's phase when ph is empty; an error wrapping
// ErrPhase for before_repair once the repair started (so a caller can
// refuse before a long test rather than after it).
func (j *Job) ReadingPhase(ph Phase) (Phase, error) { return j.phaseFor(ph, readingPhases) }

func (j *Job) phaseFor(ph Phase, allowed []string) (Phase, error) {
	if ph == "" {
		return j.Phase(), nil
	}
	var p check.Problems
	check.Enum(&p, "phase", string(ph), allowed, true)
	if err := p.Err(); err != nil {
		return "", err
	}
	if j.RepairStarted && ph != PhaseAfterRepair {
		return "", fmt.Errorf("%w: job %q is after repair (repair started or DTCs cleared); %s is no longer possible", ErrPhase, j.ID, ph)
	}
	return ph, nil
}

// result returns ev unless it was not stored.
func (m *Manager) result(ev Event, err error) (Event, error) {
	if errors.Is(err, ErrNotStored) {
		return Event{}, err
	}
	return ev, err
}

// DTCClear is who clears the trouble codes and why.
type DTCClear struct {
	Technician string `json:"technician"`
	Reason     string `json:"reason"`
}

// Check adds to p the problems of c: the technician and the reason are
// required.
func (c DTCClear) Check(p *check.Problems) { CheckCancel(p, c.Technician, c.Reason) }

// ErrClearFailed wraps the vehicle's error when clearing DTCs failed; the
// attempt is recorded all the same.
var ErrClearFailed = errors.New("job: clearing DTCs failed")

// ClearDTCs clears the vehicle's trouble codes through clear (the agent
// sends Mode 04 and returns the ECUs that acknowledged) and records it. It
// is refused with ErrNoJob when bay has no open job and with
// check.ErrNoTechnician without a technician id; the reason is required.
//
// Order: a "dtc_clear" record with stage "requested" is stored first, and
// only then is clear called, so the vehicle is never changed unrecorded
// (a full outbox refuses the clear). The job is after_repair from then on.
// The outcome ("cleared", or "failed" with the error, which is also
// returned wrapped in ErrClearFailed) is stored as a second record, even
// when ctx ended meanwhile. The returned Event is the outcome's.
//
// clear runs without the Manager's lock, so notes, other bays and the
// status do not wait for the vehicle; while it runs, the bay's job cannot
// be closed or cancelled (ErrClearing) and a second clear is refused.
func (m *Manager) ClearDTCs(ctx context.Context, bay string, c DTCClear, clear func(context.Context) ([]obd.ECU, error)) (Event, error) {
	if clear == nil {
		return Event{}, errors.New("job: ClearDTCs needs a clear function")
	}
	m.mu.Lock()
	j, err := m.current(bay)
	if err == nil && m.clearing[bay] {
		err = fmt.Errorf("%w: job %q", ErrClearing, j.ID)
	}
	if err != nil {
		m.mu.Unlock()
		return Event{}, err
	}
	var p check.Problems
	c.Check(&p)
	if err := p.Err(); err != nil {
		m.mu.Unlock()
		return Event{}, err
	}
	req := DTCClearBody{N: j.Events + 1, At: m.now(), Technician: c.Technician, Reason: c.Reason, Stage: ClearRequested}
	if err := m.commit(ctx, j, Event{Kind: record.KindDTCClear, Job: j.ID, Body: req}); err != nil {
		m.mu.Unlock()
		// Not stored, or stored but the job file not saved: either way the
		// vehicle is left alone.
		if errors.Is(err, ErrNotStored) {
			return Event{}, err
		}
		return Event{Kind: record.KindDTCClear, Job: j.ID, Body: req}, err
	}
	m.clearing[bay] = true
	m.mu.Unlock()

	ecus, cerr := clear(ctx)

	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.clearing, bay)
	j = m.jobs[bay] // the same job: it could not be closed meanwhile
	if j == nil {
		return Event{}, errors.Join(cerr, fmt.Errorf("%w: the job left bay %q during the clear", ErrNotStored, bay))
	}
	out := DTCClearBody{N: j.Events + 1, At: m.now(), Technician: c.Technician, Reason: c.Reason, Stage: ClearDone, ECUs: ecus}
	if cerr != nil {
		out.Stage, out.Error = ClearFailed, cerr.Error()
		cerr = fmt.Errorf("%w: %w", ErrClearFailed, cerr)
	}
	ev := Event{Kind: record.KindDTCClear, Job: j.ID, Body: out}
	err = m.commit(context.WithoutCancel(ctx), j, ev)
	if errors.Is(err, ErrNotStored) {
		return Event{}, errors.Join(cerr, err)
	}
	return ev, errors.Join(cerr, err)
}

// Note is a note attached to a job.
type Note struct {
	Author string `json:"author"`
	Text   string `json:"text"`
	// RepairStarted marks the start of the repair (NoteBody.RepairStarted).
	RepairStarted bool `json:"repair_started,omitempty"`
}

// Check adds to p the problems of n: the author (a technician id) and the
// text are required.
func (n Note) Check(p *check.Problems) {
	check.Technician(p, "author", n.Author)
	check.Text(p, "text", n.Text, true, MaxText)
}

// Note attaches a note to the open job of bay.
func (m *Manager) Note(ctx context.Context, bay string, n Note) (Event, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	j, err := m.current(bay)
	if err != nil {
		return Event{}, err
	}
	var p check.Problems
	n.Check(&p)
	if err := p.Err(); err != nil {
		return Event{}, err
	}
	body := NoteBody{N: j.Events + 1, At: m.now(), Author: n.Author, Text: n.Text, RepairStarted: n.RepairStarted}
	ev := Event{Kind: record.KindNote, Job: j.ID, Body: body}
	return m.result(ev, m.commit(ctx, j, ev))
}

// CloseJob closes the open job of bay at settlement. It checks everything the
// health record needs and reports each problem naming its field: the
// technician (closed_by), the settlement, a VIN, and for emission repairs a
// before_repair and an after_repair emission test or reading, and that the
// last after_repair emission test passed (ErrEmissionNotPassed, saying
// why), unless the settlement overrides it (EmissionWaiver with the reason,
// EmissionWaiverBy the technician). Once the "job_close" record is stored, the job is no
// longer open, and its file moves to the closed jobs (ReadClosed). If the
// closed file cannot be written (ErrStateNotSaved), the bay is stopped
// until it is (see Retry), and a restart before then finishes the close
// from the record (Recover): a job is never closed twice.
func (m *Manager) CloseJob(ctx context.Context, bay, technician string, s Settlement) (Closed, Event, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	j, err := m.ending(bay, "close")
	if err != nil {
		return Closed{}, Event{}, err
	}
	now := m.now()
	c := Closed{Job: *j, ClosedAt: now, ClosedBy: technician, Settlement: s, ClockUnsynced: !m.synced()}
	var p check.Problems
	check.Technician(&p, "technician", technician)
	s.Check(&p, "")
	c.checkReady(&p, "")
	if err := p.Err(); err != nil {
		return Closed{}, Event{}, err
	}
	if err := c.checkPassed(); err != nil {
		return Closed{}, Event{}, err
	}
	c.Events++
	body := JobCloseBody{
		N: c.Events, At: now, ClosedBy: technician, Settlement: s,
		VIN: c.VIN, MileageKM: c.MileageKM, FaultDescription: c.FaultDescription(), Events: c.Events,
		ClockUnsynced: c.ClockUnsynced,
	}
	ev := Event{Kind: record.KindJobClose, Job: j.ID, Body: body}
	if err := m.store(ctx, ev); err != nil {
		return Closed{}, Event{}, err
	}
	return c, ev, m.end(bay, c.ID, closedPath(m.dir, c.ID), &c)
}

// ending returns the open job of bay for a close or a cancel (what): not
// while the bay is stopped or a DTC clear runs.
func (m *Manager) ending(bay, what string) (*Job, error) {
	if err := m.settle(bay); err != nil {
		return nil, err
	}
	j := m.jobs[bay]
	if j == nil {
		_, err := m.current(bay)
		return nil, err
	}
	if m.clearing[bay] {
		return nil, fmt.Errorf("%w: job %q cannot %s yet", ErrClearing, j.ID, what)
	}
	return j, nil
}

// end takes the job of bay off the open jobs once its job_close or
// job_cancel is stored, and saves v, its closed or cancelled file at path
// (a failure stops the bay, see saveOrStop).
func (m *Manager) end(bay, id, path string, v any) error {
	delete(m.jobs, bay)
	return m.saveOrStop(bay, id, func() error { return m.finish(bay, path, v) })
}

// finish writes the closed or cancelled file v of the job of bay and
// removes its open file.
func (m *Manager) finish(bay, path string, v any) error {
	b, err := marshalFile(v)
	if err == nil {
		err = m.write(path, b)
	}
	if err == nil {
		err = removeDurably(openPath(m.dir, bay))
	}
	return err
}

// Cancelled is a job abandoned without settlement, as kept in the state
// directory.
type Cancelled struct {
	Job
	CancelledAt time.Time `json:"cancelled_at"`
	CancelledBy string    `json:"cancelled_by"`
	Reason      string    `json:"reason"`
}

// CheckCancel adds to p the problems of a cancel's (or a DTC clear's)
// technician and reason: both are required.
func CheckCancel(p *check.Problems, technician, reason string) {
	check.Technician(p, "technician", technician)
	check.Text(p, "reason", reason, true, MaxText)
}

// Cancel abandons the open job of bay without settlement: opened by
// mistake, or the customer took the car away. It needs the technician and
// a reason; a "job_cancel" record says so (the health-record system gets
// no maintenance record for the job), the bay is free again, and the job id
// cannot be opened again.
func (m *Manager) Cancel(ctx context.Context, bay, technician, reason string) (Event, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	j, err := m.ending(bay, "be cancelled")
	if err != nil {
		return Event{}, err
	}
	var p check.Problems
	CheckCancel(&p, technician, reason)
	if err := p.Err(); err != nil {
		return Event{}, err
	}
	now := m.now()
	c := Cancelled{Job: *j, CancelledAt: now, CancelledBy: technician, Reason: reason}
	c.Events++
	ev := Event{Kind: record.KindJobCancel, Job: j.ID, Body: JobCancelBody{N: c.Events, At: now, CancelledBy: technician, Reason: reason, Events: c.Events}}
	if err := m.store(ctx, ev); err != nil {
		return Event{}, err
	}
	return ev, m.end(bay, c.ID, cancelledPath(m.dir, c.ID), &c)
}
