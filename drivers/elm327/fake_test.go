package elm327_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/bayagent/bayagent/drivers/elm327"
	"github.com/bayagent/bayagent/drivers/obd"
	"github.com/bayagent/bayagent/drivers/serialport"
)

// script answers one command line (without CR) with everything the adapter
// prints after it, prompt included.
type script func(cmd string) string

// basic is a well-behaved adapter with headers and echo off and one 11-bit
// ECU that answers 0100 only.
func basic(cmd string) string {
	switch {
	case cmd == "ATZ", cmd == "ATWS":
		return "\r\rELM327 v1.5\r\r>"
	case cmd == "ATDPN":
		return "A6\r\r>"
	case strings.HasPrefix(cmd, "AT"):
		return "OK\r\r>"
	case cmd == "0100":
		return "SEARCHING...\r7E8064100BE3FA813\r\r>"
	case strings.HasPrefix(cmd, "0100"):
		return "7E8064100BE3FA813\r\r>"
	}
	return "NO DATA\r\r>"
}

// fakeLine serves a script on the far end of a pipe; the goroutine ends
// when the near end is closed, and the test waits for it.
func fakeLine(t *testing.T, s script) io.ReadWriteCloser {
	client, server := net.Pipe()
	var wg sync.WaitGroup
	wg.Go(func() {
		defer server.Close()
		var buf []byte
		b := make([]byte, 64)
		for {
			n, err := server.Read(b)
			buf = append(buf, b[:n]...)
			for {
				i := bytes.IndexByte(buf, '\r')
				if i < 0 {
					break
				}
				cmd := string(buf[:i])
				buf = buf[i+1:]
				if out := s(cmd); out != "" {
					if _, err := io.WriteString(server, out); err != nil {
						return
					}
				}
			}
			if err != nil {
				return
			}
		}
	})
	t.Cleanup(wg.Wait)
	return client
}

func TestScriptedQuirks(t *testing.T) {
	tests := []struct {
		name    string
		script  func() script
		req     obd.Request
		want    string // hex of the first answer
		version string
		retries int64
	}{
		{
			name: "stray prompts",
			script: func() script {
				return func(cmd string) string { return ">\r>" + basic(cmd) }
			},
			req:  obd.Request{Data: []byte{0x01, 0x00}, Expect: []obd.ECU{0x7E8}},
			want: "4100BE3FA813",
		},
		{
			name: "echo that never turns off, linefeeds",
			script: func() script {
				return func(cmd string) string {
					return cmd + "\r\n" + strings.ReplaceAll(basic(cmd), "\r", "\r\n")
				}
			},
			req:  obd.Request{Data: []byte{0x01, 0x00}},
			want: "4100BE3FA813",
		},
		{
			name: "STOPPED once",
			script: func() script {
				stopped := false
				return func(cmd string) string {
					if cmd == "01001" && !stopped {
						stopped = true
						return "STOPPED\r\r>"
					}
					return basic(cmd)
				}
			},
			req:     obd.Request{Data: []byte{0x01, 0x00}, Expect: []obd.ECU{0x7E8}},
			want:    "4100BE3FA813",
			retries: 1,
		},
		{
			name: "adapter counts frames, not answers",
			script: func() script {
				return func(cmd string) string {
					switch cmd {
					case "09021":
						return "7E8101449020131 3233\r\r>"
					case "0902":
						return "7E8101449020131 3233\r7E8 21 34 35 36 37 38 39 30\r7E8 22 31 32 33 34 35 36 37\r\r>"
					}
					return basic(cmd)
				}
			},
			req:     obd.Request{Data: []byte{0x09, 0x02}, Expect: []obd.ECU{0x7E8}},
			want:    "4902013132333435363738393031323334353637",
			retries: 1,
		},
		{
			name: "clone answers ? to ATZ and lies in ATI",
			script: func() script {
				return func(cmd string) string {
					switch cmd {
					case "ATZ", "ATWS":
						return "?\r\r>"
					case "ATI":
						return "ELM327 v2.1\r\r>"
					}
					return basic(cmd)
				}
			},
			req:     obd.Request{Data: []byte{0x01, 0x00}},
			want:    "4100BE3FA813",
			version: "ELM327 v2.1",
		},
		{
			name: "low-voltage reset mid-session",
			script: func() script {
				reset := false
				return func(cmd string) string {
					if cmd == "01001" && !reset {
						reset = true
						return "LV RESET\r\r>"
					}
					return basic(cmd)
				}
			},
			req:     obd.Request{Data: []byte{0x01, 0x00}, Expect: []obd.ECU{0x7E8}},
			want:    "4100BE3FA813",
			retries: 1,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				a, err := elm327.New(context.Background(), fakeLine(t, tc.script()), elm327.Options{})
				if err != nil {
					t.Fatal(err)
				}
				defer a.Close()
				if a.Protocol() != "ISO 15765-4 (CAN 11-bit)" {
					t.Errorf("protocol %q", a.Protocol())
				}
				if tc.version != "" && a.Version() != tc.version {
					t.Errorf("version %q, want %q", a.Version(), tc.version)
				}
				resps, err := a.Do(context.Background(), tc.req)
				if err != nil {
					t.Fatal(err)
				}
				if got := strings.ToUpper(hexOf(resps[0].Data)); got != tc.want || resps[0].ECU != 0x7E8 {
					t.Errorf("answer %s %s, want 7E8 %s", resps[0].ECU, got, tc.want)
				}
				if s := a.Stats(); s.Retries != tc.retries {
					t.Errorf("retries %d, want %d", s.Retries, tc.retries)
				}
			})
		})
	}
}

func hexOf(b []byte) string {
	const digits = "0123456789ABCDEF"
	var sb strings.Builder
	for _, x := range b {
		sb.WriteByte(digits[x>>4])
		sb.WriteByte(digits[x&15])
	}
	return sb.String()
}

// TestNoPromptTimesOut: an adapter that never prints a prompt makes New
// fail with ErrNoAdapter after ResetTimeout, and does not hang.
func TestNoPromptTimesOut(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		line := fakeLine(t, func(string) string { return "ELM327 v1.5\r" })
		start := time.Now()
		_, err := elm327.New(context.Background(), line, elm327.Options{ResetTimeout: 2 * time.Second})
		if !errors.Is(err, elm327.ErrNoAdapter) || !errors.Is(err, elm327.ErrTimeout) {
			t.Fatalf("New = %v, want ErrNoAdapter and ErrTimeout", err)
		}
		if took := time.Since(start); took != 2*time.Second {
			t.Errorf("took %v, want 2s", took)
		}
	})
}

// TestVoltage reads ATRV and rejects nonsense.
func TestVoltage(t *testing.T) {
	for _, tc := range []struct {
		answer string
		want   float64
		err    error
	}{
		{"12.6V\r\r>", 12.6, nil},
		{"14.1 V\r\r>", 14.1, nil},
		{"0.2V\r\r>", 0.2, nil},
		{"?\r\r>", 0, elm327.ErrUnknownCommand},
		{"VOLTS\r\r>", 0, elm327.ErrBadResponse},
	} {
		synctest.Test(t, func(t *testing.T) {
			a, err := elm327.New(context.Background(), fakeLine(t, func(cmd string) string {
				if cmd == "ATRV" {
					return tc.answer
				}
				return basic(cmd)
			}), elm327.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			v, err := a.Voltage(context.Background())
			if v != tc.want || !errors.Is(err, tc.err) {
				t.Errorf("ATRV %q: Voltage = %v, %v; want %v, %v", tc.answer, v, err, tc.want, tc.err)
			}
		})
	}
}

// TestOpenProbesBaud: Open tries the rates in order, skipping one the port
// does not support, one where the line is silent and one where it returns
// garbage, and settles on the rate where the adapter answers.
func TestOpenProbesBaud(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var tried []int
		opener := func(name string, baud int) (io.ReadWriteCloser, error) {
			tried = append(tried, baud)
			if name != "/dev/ttyFAKE" {
				return nil, errors.New("no such device")
			}
			switch baud {
			case 38400: // garbage at the wrong rate, with a '>' in it
				return fakeLine(t, func(string) string { return "\xf0\x80\x1e>\xfe" }), nil
			case 9600: // silent
				return fakeLine(t, func(string) string { return "" }), nil
			case 115200:
				return fakeLine(t, basic), nil
			}
			return nil, serialport.ErrBadBaud
		}
		opts := elm327.Options{Opener: opener, Bauds: []int{9600, 57600, 115200, 230400}, ProbeTimeout: 500 * time.Millisecond}
		a, err := elm327.Open(context.Background(), "/dev/ttyFAKE", opts)
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		if a.Baud() != 115200 || !slices.Equal(tried, []int{38400, 9600, 57600, 115200}) {
			t.Errorf("baud %d after trying %v; want 115200 after 38400 9600 57600 115200", a.Baud(), tried)
		}

		tried = nil
		opts.Bauds = []int{9600}
		if _, err := elm327.Open(context.Background(), "/dev/ttyFAKE@57600", opts); !errors.Is(err, elm327.ErrNoAdapter) {
			t.Errorf("Open with no adapter = %v, want ErrNoAdapter", err)
		}
		if !slices.Equal(tried, []int{57600, 9600}) {
			t.Errorf("tried %v, want the spec's rate first: 57600 9600", tried)
		}
		if _, err := elm327.Open(context.Background(), "/dev/ttyNONE", opts); err == nil || errors.Is(err, elm327.ErrNoAdapter) {
			t.Errorf("Open of a missing device = %v, want the opener's error", err)
		}
		if _, err := elm327.Open(context.Background(), "/dev/ttyFAKE@x", opts); !errors.Is(err, elm327.ErrBadSpec) {
			t.Errorf("Open with a bad spec = %v, want ErrBadSpec", err)
		}
	})
}
