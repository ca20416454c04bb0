package obdsim

import (
	"errors"
	"fmt"
)

// Errors returned by Parse, Load, Validate and New. Compare with errors.Is;
// the returned errors wrap these with the offending detail, and Validate
// wraps each in a *FieldError naming the field.
var (
	// ErrSyntax means the YAML could not be decoded: malformed YAML, an
	// unknown field (typos are errors), or a value of the wrong type.
	ErrSyntax = errors.New("obdsim: profile syntax")
	// ErrMissing means a required field is absent or empty.
	ErrMissing = errors.New("obdsim: required field missing")
	// ErrBadValue means a field holds a value outside what it accepts.
	ErrBadValue = errors.New("obdsim: bad value")
	// ErrBadVIN means the VIN is not 17 characters from 0-9 and A-Z
	// without I, O and Q.
	ErrBadVIN = errors.New("obdsim: bad VIN")
	// ErrBadAddress means an ECU address is not a response identifier of
	// the bus's kind (0x7E8-0x7EF on 11-bit, 0x18DAF1xx on 29-bit), or is
	// used twice.
	ErrBadAddress = errors.New("obdsim: bad ECU address")
	// ErrBadDTC means a DTC is not of the form [PCBU][0-3][0-9A-F]{3}.
	ErrBadDTC = errors.New("obdsim: bad DTC")
	// ErrUnknownValue means a PID value name is not in the OBD PID table,
	// or a PID cannot be encoded from the values given.
	ErrUnknownValue = errors.New("obdsim: unknown or unencodable PID value")
	// ErrProtocol means the profile's protocol is not one this package
	// simulates.
	ErrProtocol = errors.New("obdsim: unsupported protocol")
)

// FieldError is a validation error for one field of a profile. Field is a
// path such as "ecus[1].dtcs.stored[0]".
type FieldError struct {
	Field string
	Err   error
}

// Error implements error.
func (e *FieldError) Error() string { return fmt.Sprintf("%s: %v", e.Field, e.Err) }

// Unwrap returns the underlying error, so errors.Is sees the sentinel.
func (e *FieldError) Unwrap() error { return e.Err }
