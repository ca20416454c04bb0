package pump_test

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"testing"

	"github.com/bayagent/bayagent/drivers/internal/pump"
)

// script is a line that answers Read from a list: a string is data (what
// does not fit comes with the next Read), an error is returned as it is;
// after the list it returns io.EOF.
type script struct {
	reads []any
}

func (s *script) Read(b []byte) (int, error) {
	if len(s.reads) == 0 {
		return 0, io.EOF
	}
	r := s.reads[0]
	s.reads = s.reads[1:]
	if err, ok := r.(error); ok {
		return 0, err
	}
	n := copy(b, r.(string))
	if rest := r.(string)[n:]; rest != "" {
		s.reads = append([]any{rest}, s.reads...)
	}
	return n, nil
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

// TestPumpTimeoutsAreNoData: timeouts between fragments do not end the
// stream; the fragments come in order, and the line's end is its error.
func TestPumpTimeoutsAreNoData(t *testing.T) {
	line := &script{reads: []any{"41 0C", os.ErrDeadlineExceeded, " 1A F8", timeoutErr{}, "\r>"}}
	p := pump.Start(line, 4, 8)
	var got []byte
	for c := range p.Chunks() {
		got = append(got, c...)
	}
	if string(got) != "41 0C 1A F8\r>" {
		t.Errorf("stream %q", got)
	}
	if !errors.Is(p.Err(), io.EOF) {
		t.Errorf("Err = %v, want io.EOF", p.Err())
	}
	if n := p.BytesRead(); n != int64(len(got)) {
		t.Errorf("BytesRead = %d, want %d", n, len(got))
	}
	if err := p.Stop(); err != nil {
		t.Errorf("Stop after the end: %v", err)
	}
}

// TestPumpStop: Stop closes the line, which unblocks the pending Read, and
// waits; the end is then the line's closed error, not a hang.
func TestPumpStop(t *testing.T) {
	client, server := net.Pipe()
	defer server.Close()
	p := pump.Start(client, 16, 1)
	go server.Write([]byte("OK\r>"))
	if c := <-p.Chunks(); !bytes.Equal(c, []byte("OK\r>")) {
		t.Fatalf("first chunk %q", c)
	}
	if err := p.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, open := <-p.Chunks(); open {
		t.Fatal("Chunks open after Stop")
	}
	if err := p.Err(); err != nil && !errors.Is(err, io.ErrClosedPipe) {
		t.Errorf("Err after Stop = %v, want nil or the closed pipe", err)
	}
	if err := p.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
}

func TestIsTimeout(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{os.ErrDeadlineExceeded, true},
		{timeoutErr{}, true},
		{io.EOF, false},
		{errors.New("EIO"), false},
		{nil, false},
	} {
		if got := pump.IsTimeout(tc.err); got != tc.want {
			t.Errorf("IsTimeout(%v) = %t", tc.err, got)
		}
	}
}
