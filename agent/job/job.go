package job

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/bayagent/bayagent/agent/check"
	"github.com/bayagent/bayagent/agent/emission"
)

// fileVersion is the version of the job file format.
const fileVersion = 1

// MaxFileBytes is the largest job file ReadClosed and Open accept.
const MaxFileBytes = 32 << 20

// Job is the state of an open job: what it was opened with, where the
// repair stands, and its events so far, grouped by kind (each carries its
// number N, which gives their order). It is also the job file's content.
type Job struct {
	Version int    `json:"version"`
	Bay     string `json:"bay"`
	Opening
	OpenedAt time.Time `json:"opened_at"`
	// VINFromScan: the job was opened without a VIN and took it from a
	// scan.
	VINFromScan bool `json:"vin_from_scan,omitempty"`
	// RepairStarted: a note marked the repair started, DTCs were cleared,
	// or an after_repair event was recorded; later scans and readings
	// default to after_repair and may no longer be before_repair.
	RepairStarted bool `json:"repair_started"`
	// Events is the number of events recorded (the last N).
	Events   int            `json:"events"`
	Scans    []ScanBody     `json:"scans"`
	Readings []EmissionBody `json:"readings"`
	// Tests are the emission test procedures run for the job.
	Tests  []EmissionTestBody `json:"emission_tests"`
	Clears []DTCClearBody     `json:"dtc_clears"`
	Notes  []NoteBody         `json:"notes"`
}

// Phase is the phase a scan or reading gets by default: before_repair
// until the repair started, after_repair afterwards.
func (j *Job) Phase() Phase {
	if j.RepairStarted {
		return PhaseAfterRepair
	}
	return PhaseBeforeRepair
}

// ReadingsIn returns the job's readings of the given phase, in order.
func (j *Job) ReadingsIn(ph Phase) []EmissionBody {
	var out []EmissionBody
	for _, r := range j.Readings {
		if r.Phase == ph {
			out = append(out, r)
		}
	}
	return out
}

// LastTest returns the last emission test of the phase, or nil.
func (j *Job) LastTest(ph Phase) *EmissionTestBody {
	for i := len(j.Tests) - 1; i >= 0; i-- {
		if j.Tests[i].Phase == ph {
			return &j.Tests[i]
		}
	}
	return nil
}

// measured reports whether the job has a reading or an emission test of
// the phase.
func (j *Job) measured(ph Phase) bool {
	return len(j.ReadingsIn(ph)) > 0 || j.LastTest(ph) != nil
}

// LastScan returns the last scan of one of the phases, or nil.
func (j *Job) LastScan(phases ...Phase) *ScanBody {
	for i := len(j.Scans) - 1; i >= 0; i-- {
		for _, ph := range phases {
			if j.Scans[i].Phase == ph {
				return &j.Scans[i]
			}
		}
	}
	return nil
}

// Closed is a job closed at settlement: everything the health record
// needs. It is the content of a closed job's file.
type Closed struct {
	Job
	ClosedAt   time.Time  `json:"closed_at"`
	ClosedBy   string     `json:"closed_by"`
	Settlement Settlement `json:"settlement"`
	// ClockUnsynced: the job was settled while the box's clock was not
	// synchronised, so ClosedAt may be wrong (the job_close record's clock
	// state and the boot's clock_sync record correct it).
	ClockUnsynced bool `json:"clock_unsynced,omitempty"`
}

// FaultDescription is the settlement's fault description, or the
// complaint given at opening.
func (c *Closed) FaultDescription() string {
	if c.Settlement.FaultDescription != "" {
		return c.Settlement.FaultDescription
	}
	return c.Complaint
}

// DecodeClosed reads a closed job (a closed job file, or the JSON of a
// Closed) and checks it as Close did. Unknown fields are refused.
func DecodeClosed(r io.Reader) (Closed, error) {
	var c Closed
	if err := decodeFile(r, &c); err != nil {
		return Closed{}, err
	}
	var p check.Problems
	c.checkStored(&p, 1) // the job_close event
	c.Settlement.Check(&p, "settlement.")
	check.Technician(&p, "closed_by", c.ClosedBy)
	if c.ClosedAt.IsZero() {
		p.Add("closed_at", "is required")
	}
	c.checkReady(&p, "")
	if err := p.Err(); err != nil {
		return Closed{}, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	return c, nil
}

// decodeJob reads an open job file.
func decodeJob(r io.Reader) (Job, error) {
	var j Job
	if err := decodeFile(r, &j); err != nil {
		return Job{}, err
	}
	var p check.Problems
	j.checkStored(&p, 0)
	if err := p.Err(); err != nil {
		return Job{}, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	return j, nil
}

func decodeFile(r io.Reader, v any) error {
	b, err := io.ReadAll(io.LimitReader(r, MaxFileBytes+1))
	if err != nil {
		return err
	}
	if len(b) > MaxFileBytes {
		return fmt.Errorf("%w: larger than %d bytes", ErrCorrupt, MaxFileBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("%w: trailing data after the JSON object", ErrCorrupt)
	}
	return nil
}

// checkStored checks what any stored job must satisfy; closing counts the
// events not kept in the job's lists (the job_close).
func (j *Job) checkStored(p *check.Problems, closing int) {
	if j.Version != fileVersion {
		p.Add("version", "must be %d, got %d", fileVersion, j.Version)
	}
	check.Bay(p, "bay", j.Bay)
	j.Opening.check(p, "")
	if j.OpenedAt.IsZero() {
		p.Add("opened_at", "is required")
	}
	n := 1 + closing + len(j.Scans) + len(j.Readings) + len(j.Tests) + len(j.Clears) + len(j.Notes)
	if j.Events != n {
		p.Add("events", "is %d but the job holds %d events", j.Events, n)
	}
	for i, s := range j.Scans {
		check.Enum(p, fmt.Sprintf("scans[%d].phase", i), string(s.Phase), scanPhases, true)
	}
	for i, r := range j.Readings {
		check.Enum(p, fmt.Sprintf("readings[%d].phase", i), string(r.Phase), readingPhases, true)
	}
	for i, t := range j.Tests {
		check.Enum(p, fmt.Sprintf("emission_tests[%d].phase", i), string(t.Phase), readingPhases, true)
	}
}

// checkReady checks what the health record needs from the job itself (the
// settlement is checked separately): a VIN, and for emission repairs a
// before and an after reading or emission test unless waived.
func (c *Closed) checkReady(p *check.Problems, prefix string) {
	if c.VIN == "" {
		p.Add("vin", "is required to close the job: no VIN was given at opening or read by a scan")
	}
	switch {
	case c.Type == TypeEmissionRepair && c.Settlement.EmissionWaiver == "":
		if !c.measured(PhaseBeforeRepair) {
			p.Add("readings", "an emission_repair job needs a before_repair emission test or reading (or %semission_waiver with the reason)", prefix)
		}
		if !c.measured(PhaseAfterRepair) {
			p.Add("readings", "an emission_repair job needs an after_repair emission test or reading (or %semission_waiver with the reason)", prefix)
		}
	case c.Type != TypeEmissionRepair && c.Settlement.EmissionWaiver != "":
		p.Add(prefix+"emission_waiver", "is only allowed for emission_repair jobs")
	}
}

// checkPassed is the close's rule for emission repairs: the last
// after_repair emission test passed, or the settlement overrides it
// (emission_waiver with the reason, emission_waiver_by the technician).
// The error wraps ErrEmissionNotPassed and says why.
func (c *Closed) checkPassed() error {
	if c.Type != TypeEmissionRepair || c.Settlement.EmissionWaiver != "" {
		return nil
	}
	const override = "; to close anyway give emission_waiver (the reason) and emission_waiver_by (the technician who takes responsibility)"
	t := c.LastTest(PhaseAfterRepair)
	switch {
	case t == nil:
		return fmt.Errorf("%w: job %q has no after_repair emission test: run one (run_emission_test)%s", ErrEmissionNotPassed, c.ID, override)
	case t.Test.Verdict.Result != emission.Pass:
		return fmt.Errorf("%w: job %q: the last after_repair emission test (event %d) did not pass: %s%s",
			ErrEmissionNotPassed, c.ID, t.N, t.Test.Verdict.Text["en"], override)
	}
	return nil
}
