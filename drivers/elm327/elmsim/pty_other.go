//go:build !linux

package elmsim

import (
	"context"
	"errors"
)

// ServePTY is only available on Linux; elsewhere it returns
// errors.ErrUnsupported. Use Serve with an in-memory pipe instead.
func ServePTY(ctx context.Context, s *Sim) (devicePath string, stop func() error, err error) {
	return "", nil, errors.ErrUnsupported
}
