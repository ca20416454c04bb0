//go:build !linux

package serialport

import (
	"context"
	"errors"
	"io"
)

// ServePTY is only available on Linux; elsewhere it returns
// errors.ErrUnsupported.
func ServePTY(ctx context.Context, serve func(context.Context, io.ReadWriter) error) (devicePath string, stop func() error, err error) {
	return "", nil, errors.ErrUnsupported
}
