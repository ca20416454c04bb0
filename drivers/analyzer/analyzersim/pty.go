package analyzersim

import (
	"context"

	"github.com/bayagent/bayagent/drivers/serialport"
)

// ServePTY serves s on a new pseudo-terminal in raw mode and returns the path
// of its device side (e.g. /dev/pts/3), which a driver opens like a serial port. stop ends serving (as
// does ctx) and returns Serve's error; call it exactly once in every case.
// Linux only (errors.ErrUnsupported elsewhere).
func ServePTY(ctx context.Context, s *Sim) (devicePath string, stop func() error, err error) {
	return serialport.ServePTY(ctx, s.Serve)
}
