package job

import (
	"errors"
	"fmt"
	"strings"
)

// Errors returned by this package. Every error wraps one of these; compare
// with errors.Is.
var (
	// ErrNoJob: the bay has no open job. Clearing DTCs, notes, readings and
	// closing all need one; a scan without a job is an intake scan, which the
	// caller records with IntakeScan.
	ErrNoJob = errors.New("job: no open job at this bay")
	// ErrNoTechnician: an action that changes the vehicle (clearing DTCs) or
	// the job's status was asked for without a technician id.
	ErrNoTechnician = errors.New("job: technician id required")
	// ErrBayBusy: the bay already has an open job (one open job per bay).
	ErrBayBusy = errors.New("job: bay already has an open job")
	// ErrJobExists: a job with this id is already open at another bay or was
	// closed before; job ids are never reused.
	ErrJobExists = errors.New("job: job id already used")
	// ErrUnknownJob: no closed job with this id is stored.
	ErrUnknownJob = errors.New("job: unknown job")
	// ErrInvalid: a field has a missing, malformed or out-of-range value. The
	// error is a *ValidationError or a *FieldError naming the field.
	ErrInvalid = errors.New("job: invalid value")
	// ErrPhase: the event's phase is not allowed in the job's state, e.g. a
	// before_repair scan after the repair started or DTCs were cleared.
	ErrPhase = errors.New("job: phase not allowed now")
	// ErrJobFull: the job holds Options.MaxEvents events already.
	ErrJobFull = errors.New("job: too many events in this job")
	// ErrNotStored: the caller's Emit failed, so the event was not stored
	// and the job is unchanged.
	ErrNotStored = errors.New("job: event not stored")
	// ErrStateNotSaved: the event WAS stored (Emit succeeded) and applied to
	// the job in memory, but the job file could not be written. The agent
	// should raise an alarm; the next change rewrites the whole file.
	ErrStateNotSaved = errors.New("job: event stored but job file not saved")
	// ErrCorrupt: a job file cannot be decoded or does not belong where it
	// was found.
	ErrCorrupt = errors.New("job: corrupt job file")
	// ErrArgs: command arguments are malformed JSON, too large, or have an
	// unknown, duplicate or ill-typed member.
	ErrArgs = errors.New("job: bad command arguments")
	// ErrUnknownCommand: the command name is not one of Commands.
	ErrUnknownCommand = errors.New("job: unknown command")
)

// FieldError is one problem with one field. Field is the JSON path of the
// field, e.g. "vin" or "parts[2].quantity". It wraps ErrInvalid, or a more
// specific sentinel such as ErrNoTechnician.
type FieldError struct {
	Field   string
	Problem string
	Err     error // sentinel; ErrInvalid when nil
}

func (e *FieldError) Error() string { return e.Field + " " + e.Problem }

// Unwrap returns the sentinel the error wraps.
func (e *FieldError) Unwrap() error {
	if e.Err == nil {
		return ErrInvalid
	}
	return e.Err
}

// ValidationError lists every problem found, one per field. Its text is
// the problems separated by "; ", each starting with the field's name.
type ValidationError struct {
	Problems []*FieldError
}

func (e *ValidationError) Error() string {
	var b strings.Builder
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(p.Error())
	}
	return b.String()
}

// Unwrap returns the problems, so that errors.Is(err, ErrInvalid) and
// errors.As(err, new(*FieldError)) work.
func (e *ValidationError) Unwrap() []error {
	errs := make([]error, len(e.Problems))
	for i, p := range e.Problems {
		errs[i] = p
	}
	return errs
}

// problems collects FieldErrors.
type problems []*FieldError

func (p *problems) add(field, format string, args ...any) {
	*p = append(*p, &FieldError{Field: field, Problem: fmt.Sprintf(format, args...)})
}

func (p *problems) addErr(field string, sentinel error, format string, args ...any) {
	*p = append(*p, &FieldError{Field: field, Problem: fmt.Sprintf(format, args...), Err: sentinel})
}

// err returns nil, the single FieldError, or a ValidationError.
func (p problems) err() error {
	switch len(p) {
	case 0:
		return nil
	case 1:
		return p[0]
	}
	return &ValidationError{Problems: p}
}
