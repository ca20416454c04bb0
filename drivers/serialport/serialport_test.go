//go:build linux

package serialport_test

import (
	"errors"
	"os"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/bayagent/bayagent/drivers/serialport"
)

func TestQuietLineIsTimeoutNotEOF(t *testing.T) {
	master, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pty: %v", err)
	}
	defer master.Close()
	defer tty.Close()
	p, err := serialport.Open(tty.Name(), 9600)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()

	buf := make([]byte, 8)
	start := time.Now()
	n, err := p.Read(buf)
	if n != 0 || !errors.Is(err, serialport.ErrTimeout) || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("quiet read = %d, %v; want 0, ErrTimeout", n, err)
	}
	if took := time.Since(start); took > 5*serialport.PollInterval {
		t.Fatalf("quiet read took %v", took)
	}
	var te interface{ Timeout() bool }
	if !errors.As(err, &te) || !te.Timeout() {
		t.Fatal("ErrTimeout has no Timeout() == true")
	}

	if _, err := master.Write([]byte{0x06, 0x15}); err != nil {
		t.Fatal(err)
	}
	got := 0
	for got < 2 {
		n, err := p.Read(buf[got:])
		if err != nil && !errors.Is(err, serialport.ErrTimeout) {
			t.Fatal(err)
		}
		got += n
	}
	if buf[0] != 0x06 || buf[1] != 0x15 {
		t.Fatalf("read % x", buf[:2])
	}
}

func TestOpenRejects(t *testing.T) {
	if _, err := serialport.Open("", 9600); !errors.Is(err, serialport.ErrNoName) {
		t.Errorf("empty name: %v", err)
	}
	if _, err := serialport.Open("/dev/null", 12345); !errors.Is(err, serialport.ErrBadBaud) {
		t.Errorf("bad baud: %v", err)
	}
	if _, err := serialport.Open("/nonexistent/tty", 9600); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing device: %v", err)
	}
}
