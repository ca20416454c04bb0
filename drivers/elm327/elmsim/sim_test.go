package elmsim_test

import (
	"bytes"
	"context"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/bayagent/bayagent/drivers/elm327/elmsim"
	"github.com/bayagent/bayagent/drivers/elm327/elmsim/elmsimtest"
	"github.com/bayagent/bayagent/drivers/serialport"
)

func newSim(t *testing.T, name string, opts elmsim.Options) *elmsim.Sim {
	t.Helper()
	return elmsimtest.Load(t, filepath.Join("..", "..", "..", "testdata", "vehicles", name+".yaml"), opts)
}

// term is a raw client: it sends a line and reads up to the prompt.
type term struct {
	t    *testing.T
	conn net.Conn
	buf  []byte
}

// serve starts the simulator on a pipe; the returned stop waits for it.
func serve(t *testing.T, s *elmsim.Sim) (*term, func()) {
	client, server := net.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, server) }()
	return &term{t: t, conn: client}, func() {
		client.Close()
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	}
}

// cmd sends line and returns everything up to the prompt, CRs shown as |.
func (c *term) cmd(line string) string {
	c.t.Helper()
	if _, err := c.conn.Write([]byte(line + "\r")); err != nil {
		c.t.Fatal(err)
	}
	return c.read()
}

// step is one line sent to the adapter and its answer up to the prompt.
type step struct{ send, want string }

// script sends each step's line in turn and checks its answer.
func (c *term) script(steps []step) {
	c.t.Helper()
	for _, s := range steps {
		if got := c.cmd(s.send); got != s.want {
			c.t.Errorf("%q: got %q, want %q", s.send, got, s.want)
		}
	}
}

// readUntil reads until the input holds s, and keeps it for read.
func (c *term) readUntil(s string) {
	c.t.Helper()
	b := make([]byte, 256)
	for !bytes.Contains(c.buf, []byte(s)) {
		n, err := c.conn.Read(b)
		if err != nil {
			c.t.Fatalf("read: %v (have %q)", err, c.buf)
		}
		c.buf = append(c.buf, b[:n]...)
	}
}

func (c *term) read() string {
	c.t.Helper()
	b := make([]byte, 256)
	for {
		if i := bytes.IndexByte(c.buf, '>'); i >= 0 {
			out := string(c.buf[:i])
			c.buf = c.buf[i+1:]
			return strings.NewReplacer("\r", "|", "\n", "~").Replace(out)
		}
		n, err := c.conn.Read(b)
		if err != nil {
			c.t.Fatalf("read: %v (have %q)", err, c.buf)
		}
		c.buf = append(c.buf, b[:n]...)
	}
}

// TestCommands runs a session through the command set.
func TestCommands(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, stop := serve(t, newSim(t, "petrol-p0420", elmsim.Options{}))
		defer stop()
		c.script([]step{
			{"ATZ", "ATZ|||ELM327 v1.5||"},
			{"ATI", "ATI|ELM327 v1.5||"},
			{"AT E0", "AT E0|OK||"},
			{"ATI", "ELM327 v1.5||"},
			{"at@1", "OBDII to RS232 Interpreter||"},
			{"ATRV", "12.6V||"},
			{"ATXYZ", "?||"},
			{"ATDP", "AUTO||"},
			{"ATDPN", "A0||"},
			{"0100", "SEARCHING...|41 00 BE 3F B8 13|41 00 80 08 00 01||"},
			{"ATDP", "AUTO, ISO 15765-4 (CAN 11/500)||"},
			{"ATDPN", "A6||"},
			{"010D1", "41 0D 00||"},
			{"ATH1", "OK||"},
			{"010D2", "7E8 03 41 0D 00 AA AA AA AA|7E9 03 41 0D 00 AA AA AA AA||"},
			{"ATS0", "OK||"},
			{"0902 1", "7E810144902014C4656|7E821324132314B3841|7E82234303532363931||"},
			{"ATH0", "OK||"},
			{"09021", "014|0:4902014C4656|1:324132314B3841|2:34303532363931||"},
			{"ATS1", "OK||"},
			{"0902 1", "014|0: 49 02 01 4C 46 56|1: 32 41 32 31 4B 38 41|2: 34 30 35 32 36 39 31||"},
			{"", "014|0: 49 02 01 4C 46 56|1: 32 41 32 31 4B 38 41|2: 34 30 35 32 36 39 31||"}, // empty line repeats
			{"ATCAF0", "OK||"},
			{"010D1", "03 41 0D 00 AA AA AA AA||"},
			{"ATCAF1", "OK||"},
			{"ATL1", "OK|~|~"},
			{"ATL0", "OK||"},
			{"0500", "NO DATA||"},
			{"ATSH7E1", "OK||"},
			{"0100", "41 00 80 08 00 01||"},
			{"ATSH7DF", "OK||"},
			{"ATSP8", "OK||"},
			{"0100", "CAN ERROR||"},
			{"ATSP3", "OK||"},
			{"0100", "BUS INIT: ...ERROR||"},
			{"ATDPN", "3||"},
			{"ATSPA6", "OK||"},
			{"ATDPN", "A6||"},
			{"ATSP 6", "OK||"},
			{"ATDP", "ISO 15765-4 (CAN 11/500)||"},
			{"0100 2", "41 00 BE 3F B8 13|41 00 80 08 00 01||"},
			{"01GG", "?||"},
			{"0102030405060708", "?||"},
			{"ATST 19", "OK||"},
			{"ATAT2", "OK||"},
			{"ATD", "OK||"},
			{"ATE0", "ATE0|OK||"},
		})
	})
}

// Test29Bit shows 29-bit headers as four bytes when spaces are on.
func Test29Bit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, stop := serve(t, newSim(t, "petrol-29bit", elmsim.Options{}))
		defer stop()
		c.script([]step{
			{"ATE0", "ATE0|OK||"},
			{"ATH1", "OK||"},
			{"010D", "SEARCHING...|18 DA F1 10 03 41 0D 00 AA AA AA AA|18 DA F1 18 03 41 0D 00 AA AA AA AA||"},
			{"ATDPN", "A7||"},
			{"ATS0", "OK||"},
			{"ATSHDA18F1", "OK||"},
			{"010D", "18DAF11803410D00AAAAAAAA||"},
			{"ATSH7E0", "OK||"},
			{"010D", "NO DATA||"},
		})
	})
}

// TestTiming: with a response count the adapter returns when that many
// answers arrived; without, it waits its timeout after the last answer; with
// nobody answering, the timeout from the request, then NO DATA.
func TestTiming(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup []string
		send  string
		took  time.Duration
	}{
		{"count 1", nil, "010D1", 12 * time.Millisecond},
		{"count 2", nil, "010D2", 15 * time.Millisecond},
		{"count larger than answers", nil, "010D3", 15*time.Millisecond + 200*time.Millisecond},
		{"no count", nil, "010D", 15*time.Millisecond + 200*time.Millisecond},
		{"no count, ATST 19", []string{"ATST19"}, "010D", 15*time.Millisecond + 100*time.Millisecond},
		{"nobody answers", nil, "0500", 200 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := newSim(t, "petrol-p0420", elmsim.Options{})
				c, stop := serve(t, s)
				defer stop()
				for _, cmd := range append([]string{"ATE0", "ATSP6"}, tc.setup...) {
					c.cmd(cmd)
				}
				start := time.Now()
				c.cmd(tc.send)
				if took := time.Since(start); took != tc.took {
					t.Errorf("took %v, want %v", took, tc.took)
				}
			})
		})
	}
}

// TestStopped: a character received while answering stops the adapter.
func TestStopped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, stop := serve(t, newSim(t, "petrol-p0420", elmsim.Options{Latency: 50 * time.Millisecond}))
		defer stop()
		c.cmd("ATE0")
		c.cmd("ATSP6")
		if _, err := c.conn.Write([]byte("0100\r")); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond) // fake time: the adapter is waiting for the ECUs
		if _, err := c.conn.Write([]byte("x")); err != nil {
			t.Fatal(err)
		}
		if got := c.read(); got != "|STOPPED||" {
			t.Errorf("got %q, want STOPPED", got)
		}
	})
}

// TestBaud: output is paced to the baud rate, 10 bits per byte.
func TestBaud(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, stop := serve(t, newSim(t, "petrol-p0420", elmsim.Options{Baud: 9600}))
		defer stop()
		start := time.Now()
		got := c.cmd("ATI")
		// 4 bytes in, then the echo (4), banner and prompt (14) out.
		want := time.Duration(4+4+14) * 10 * time.Second / 9600
		if took := time.Since(start); took < want-time.Microsecond || took > want || got != "ATI|ELM327 v1.5||" {
			t.Errorf("ATI: %q after %v, want after %v", got, took, want)
		}
	})
}

// TestFaults checks the injected faults as a raw client sees them.
func TestFaults(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newSim(t, "petrol-p0420", elmsim.Options{Faults: elmsim.Faults{
			Garbage: 1, BufferFull: 2, CANError: 3, Reset: 4, DropPrompt: 5, Unsupported: []string{"DPN"},
		}})
		c, stop := serve(t, s)
		defer stop()
		c.cmd("ATE0")
		c.cmd("ATSP6")
		c.script([]step{
			{"010D1", "\x7f#\x1b%&!*|41 0D 00||"},
			{"09021", "014|BUFFER FULL||"},
			{"010D1", "CAN ERROR||"},
			{"010D1", "||ELM327 v1.5||"},
			{"ATDPN", "ATDPN|?||"},
		})
		c.cmd("ATSP6")
		if _, err := c.conn.Write([]byte("010D1\r")); err != nil {
			t.Fatal(err)
		}
		// The fifth request loses its prompt: the next command's answer
		// follows the answer directly.
		c.readUntil("41 0D 00\r")
		time.Sleep(time.Second) // fake time: the adapter is idle again
		if got := c.cmd("ATI"); got != "010D1|41 0D 00|ATI|ELM327 v1.5||" {
			t.Errorf("after a dropped prompt: got %q", got)
		}
		if s.Requests() != 5 {
			t.Errorf("Requests = %d, want 5", s.Requests())
		}
	})
}

// TestServePTY talks to the simulator through its pseudo-terminal, opened
// as a serial port.
func TestServePTY(t *testing.T) {
	path := elmsimtest.PTY(t, newSim(t, "petrol-clean", elmsim.Options{}))
	p, err := serialport.Open(path, 38400)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if _, err := p.Write([]byte("ATI\r")); err != nil {
		t.Fatal(err)
	}
	var got []byte
	b := make([]byte, 64)
	deadline := time.Now().Add(5 * time.Second)
	for !bytes.Contains(got, []byte(">")) && time.Now().Before(deadline) {
		n, _ := p.Read(b) // serialport.ErrTimeout just means no data yet
		got = append(got, b[:n]...)
	}
	if string(got) != "ATI\rELM327 v1.5\r\r>" {
		t.Errorf("got %q", got)
	}
}
