package elmsim

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"

	"github.com/bayagent/bayagent/drivers/serialport"
)

// ServePTY serves s on a new pseudo-terminal in raw mode and returns the path
// of its device side (e.g. /dev/pts/3), which a client opens like the serial port of a USB dongle. stop ends serving (as
// does ctx) and returns Serve's error; call it exactly once in every case.
// Linux only (errors.ErrUnsupported elsewhere).
func ServePTY(ctx context.Context, s *Sim) (devicePath string, stop func() error, err error) {
	return serialport.ServePTY(ctx, s.Serve)
}

// ServeTCP serves s as a Wi-Fi adapter: it listens on addr (e.g.
// "127.0.0.1:0"; tests keep to loopback) and serves one client connection
// at a time, each with fresh settings, as a dongle does. It returns the
// address it listens on; stop closes the listener and the connection being
// served, waits, and returns the first serving error. Call stop exactly
// once in every case.
func ServeTCP(ctx context.Context, s *Sim, addr string) (listenAddr string, stop func() error, err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, fmt.Errorf("elmsim: listen %s: %w", addr, err)
	}
	ctx, cancel := context.WithCancel(ctx)
	var (
		wg       sync.WaitGroup
		serveErr error
	)
	wg.Go(func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				if ctx.Err() == nil && !errors.Is(err, net.ErrClosed) {
					serveErr = err
				}
				return
			}
			// Serve closes conn (or unblocks it with a deadline) when ctx
			// ends; a client that hangs up ends it too.
			err = s.Serve(ctx, conn)
			conn.Close()
			if err != nil && ctx.Err() == nil {
				s.log.Debug("elmsim: TCP client ended", "err", err)
			}
		}
	})
	var once sync.Once
	stop = func() error {
		once.Do(func() {
			cancel()
			ln.Close()
			wg.Wait()
		})
		return serveErr
	}
	return ln.Addr().String(), stop, nil
}
