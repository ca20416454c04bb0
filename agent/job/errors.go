package job

import "errors"

// Errors returned by this package. Every error wraps one of these, or is a
// validation error of package check (a *check.FieldError or
// *check.ValidationError wrapping check.ErrInvalid or check.ErrNoTechnician,
// naming the field); compare with errors.Is.
var (
	// ErrNoJob: the bay has no open job. Clearing DTCs, notes, readings and
	// closing all need one; a scan without a job is an intake scan, which the
	// caller records with IntakeScan.
	ErrNoJob = errors.New("job: no open job at this bay")
	// ErrBayBusy: the bay already has an open job (one open job per bay).
	ErrBayBusy = errors.New("job: bay already has an open job")
	// ErrJobExists: a job with this id is already open at another bay or was
	// closed before; job ids are never reused.
	ErrJobExists = errors.New("job: job id already used")
	// ErrUnknownJob: no closed job with this id is stored.
	ErrUnknownJob = errors.New("job: unknown job")
	// ErrPhase: the event's phase is not allowed in the job's state, e.g. a
	// before_repair scan after the repair started or DTCs were cleared.
	ErrPhase = errors.New("job: phase not allowed now")
	// ErrClearing: the bay's DTC clear is still talking to the vehicle; the
	// job cannot be closed or cancelled, nor cleared again, until it ends.
	ErrClearing = errors.New("job: a DTC clear is in progress")
	// ErrJobFull: the job holds Options.MaxEvents events already.
	ErrJobFull = errors.New("job: too many events in this job")
	// ErrNotStored: the caller's Emit failed, so the event was not stored
	// and the job is unchanged.
	ErrNotStored = errors.New("job: event not stored")
	// ErrStateNotSaved: the event WAS stored (Emit succeeded) and applied to
	// the job in memory, but the job file could not be written: the bay is
	// stopped (ErrUnsaved) until it is.
	ErrStateNotSaved = errors.New("job: event stored but job file not saved")
	// ErrUnsaved: the bay is stopped: an event was stored but its job file
	// could not be saved (a full disk?); new events at the bay are refused
	// until it is saved again (Manager.Retry, or the next event, tries).
	ErrUnsaved = errors.New("job: the bay is stopped until its job file can be saved")
	// ErrEmissionNotPassed: an emission_repair job cannot close: its last
	// after_repair emission test failed or was aborted, or there is none,
	// and the settlement gives no override (emission_waiver and
	// emission_waiver_by).
	ErrEmissionNotPassed = errors.New("job: the emission repair has no passing after-repair test")
	// ErrCorrupt: a job file cannot be decoded or does not belong where it
	// was found.
	ErrCorrupt = errors.New("job: corrupt job file")
)
