package analyzer

import (
	"errors"
	"fmt"
	"strings"
)

// Errors returned by this package. Compare with errors.Is; the returned errors
// wrap these with the port name and details.
var (
	// ErrNoResponse: the instrument sent nothing before the deadline. It is
	// absent, switched off, silent or on another baud rate.
	ErrNoResponse = errors.New("analyzer: no response")
	// ErrIncomplete: bytes arrived but no complete valid reply before the
	// deadline.
	ErrIncomplete = errors.New("analyzer: incomplete reply")
	// ErrBadFrame: a reply failed its layout checks (header, length, field
	// format). Checksum failures are ErrBadFrame and ErrChecksum.
	ErrBadFrame = errors.New("analyzer: bad frame")
	// ErrChecksum: a reply failed its checksum.
	ErrChecksum = errors.New("analyzer: bad checksum")
	// ErrImplausible: a reply was well formed but held a value outside the
	// instrument's plausible range (see *ImplausibleError).
	ErrImplausible = errors.New("analyzer: implausible reading")
	// ErrBusy: the instrument answered busy (0x05).
	ErrBusy = errors.New("analyzer: instrument busy")
	// ErrNAK: the instrument refused the request (0x15). See NAKError.
	ErrNAK = errors.New("analyzer: request refused (NAK)")
	// ErrZeroFailed: the instrument reported that its zero failed.
	ErrZeroFailed = errors.New("analyzer: zero failed")
	// ErrLeak: the leak check found a leak in the sample line.
	ErrLeak = errors.New("analyzer: leak check failed: the sample line leaks")
	// ErrNotFinished: a zero, leak check or calibration was still running
	// when the deadline came.
	ErrNotFinished = errors.New("analyzer: operation not finished in time")
	// ErrUnsupported: the instrument's protocol has no such command.
	ErrUnsupported = errors.New("analyzer: not supported by this instrument")
	// ErrClosed: the driver was closed, or its line ended.
	ErrClosed = errors.New("analyzer: closed")
	// ErrBadAddress: an address given to Open or ParseAddress is malformed.
	ErrBadAddress = errors.New("analyzer: bad address")
	// ErrUnknownDriver: no driver has the name an address asks for.
	ErrUnknownDriver = errors.New("analyzer: unknown driver")
	// ErrBadOptions: an option value is invalid for the driver.
	ErrBadOptions = errors.New("analyzer: bad options")
)

// NAKError is a refusal that carries the instrument's error code (NHT-6
// family). errors.Is(err, ErrNAK) holds.
type NAKError struct {
	Code byte
}

func (e *NAKError) Error() string {
	return fmt.Sprintf("analyzer: request refused (NAK), code %#02x", e.Code)
}

// Is reports whether target is ErrNAK.
func (e *NAKError) Is(target error) bool { return target == ErrNAK }

// Implausible is one value outside its range.
type Implausible struct {
	Quantity Quantity `json:"quantity"`
	Range    Range    `json:"range"`
}

// ImplausibleError lists the values of a reading that are outside their
// ranges. errors.Is(err, ErrImplausible) holds.
type ImplausibleError struct {
	Values []Implausible
}

func (e *ImplausibleError) Error() string {
	parts := make([]string, len(e.Values))
	for i, v := range e.Values {
		parts[i] = fmt.Sprintf("%s %g %s outside %g..%g", v.Quantity.Name, v.Quantity.Value, v.Quantity.Unit, v.Range.Min, v.Range.Max)
	}
	return "analyzer: implausible reading: " + strings.Join(parts, ", ")
}

// Is reports whether target is ErrImplausible.
func (e *ImplausibleError) Is(target error) bool { return target == ErrImplausible }

func checksumError(got, want byte) error {
	return fmt.Errorf("%w: %w: got %#02x, want %#02x", ErrBadFrame, ErrChecksum, got, want)
}

func frameError(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrBadFrame}, args...)...)
}

func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }
