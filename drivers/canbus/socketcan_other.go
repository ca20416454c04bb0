//go:build !linux

package canbus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
)

// dialSocketCAN fails: SocketCAN exists only on Linux.
func dialSocketCAN(_ context.Context, addr, _ string, _ *slog.Logger) (Conn, error) {
	return nil, fmt.Errorf("canbus: open %s: SocketCAN needs Linux: %w", addr, errors.ErrUnsupported)
}
