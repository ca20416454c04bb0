package analyzer

import (
	"errors"
	"fmt"
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
	// ErrBusy: the instrument answered busy (0x05), e.g. while zeroing.
	ErrBusy = errors.New("analyzer: instrument busy")
	// ErrNAK: the instrument refused the request (0x15). See NAKError.
	ErrNAK = errors.New("analyzer: request refused (NAK)")
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

func checksumError(got, want byte) error {
	return fmt.Errorf("%w: %w: got %#02x, want %#02x", ErrBadFrame, ErrChecksum, got, want)
}

func frameError(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrBadFrame}, args...)...)
}
