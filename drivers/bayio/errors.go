package bayio

import "errors"

// Errors returned by this package; compare with errors.Is. The returned
// errors wrap them with the pin name and role, as in
// "bayio: pin GPIO99 (button) not found on this board".
var (
	// ErrPinNotFound: OpenHost was given a pin name the board does not have.
	ErrPinNotFound = errors.New("not found on this board")
	// ErrPinReused: OpenHost was given the same pin for two roles.
	ErrPinReused = errors.New("already assigned")
	// ErrInvalidOptions: New was given inconsistent Options.
	ErrInvalidOptions = errors.New("bayio: invalid options")
)
