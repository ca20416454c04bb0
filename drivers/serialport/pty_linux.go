package serialport

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
)

// ServePTY runs serve on the controlling side of a new pseudo-terminal in
// raw mode and returns the path of its device side (e.g. /dev/pts/3), which
// a driver opens like a serial port: how the instrument and adapter
// simulators stand in for a USB serial device. stop ends serving (as does
// ctx), waits for serve, closes the pseudo-terminal and returns serve's
// error; call it exactly once in every case.
func ServePTY(ctx context.Context, serve func(context.Context, io.ReadWriter) error) (devicePath string, stop func() error, err error) {
	master, tty, err := pty.Open()
	if err != nil {
		return "", nil, fmt.Errorf("serialport: open pty: %w", err)
	}
	// creack/pty leaves the master blocking, where neither Close nor a
	// deadline interrupts a read. A non-blocking duplicate goes through the
	// runtime poller and supports both.
	fd, err := unix.Dup(int(master.Fd()))
	master.Close()
	if err != nil {
		tty.Close()
		return "", nil, fmt.Errorf("serialport: dup pty: %w", err)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		tty.Close()
		return "", nil, fmt.Errorf("serialport: pty: %w", err)
	}
	m := os.NewFile(uintptr(fd), "/dev/ptmx")
	if err := makeRaw(int(tty.Fd())); err != nil {
		m.Close()
		tty.Close()
		return "", nil, fmt.Errorf("serialport: raw mode on %s: %w", tty.Name(), err)
	}
	ctx, cancel := context.WithCancel(ctx)
	var (
		wg       sync.WaitGroup
		serveErr error
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		serveErr = serve(ctx, m)
	}()
	var once sync.Once
	stop = func() error {
		once.Do(func() {
			cancel()
			wg.Wait()
			m.Close()
			// The simulator holds the device side open too, so that the
			// master never sees a hang-up between two driver sessions.
			tty.Close()
		})
		return serveErr
	}
	return tty.Name(), stop, nil
}

// makeRaw puts the terminal in raw mode (cfmakeraw): no echo, no line
// editing, no signals, no CR/LF translation, 8 bits.
func makeRaw(fd int) error {
	t, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return err
	}
	t.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	t.Oflag &^= unix.OPOST
	t.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	t.Cflag &^= unix.CSIZE | unix.PARENB
	t.Cflag |= unix.CS8
	t.Cc[unix.VMIN] = 1
	t.Cc[unix.VTIME] = 0
	return unix.IoctlSetTermios(fd, unix.TCSETS, t)
}
