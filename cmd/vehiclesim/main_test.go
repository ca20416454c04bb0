package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io/fs"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bayagent/bayagent/drivers/canbus"
	"github.com/bayagent/bayagent/drivers/isotp"
	"github.com/bayagent/bayagent/drivers/obd"
)

const profile = "../../testdata/vehicles/petrol-p0420.yaml"

// logWatch is a log writer that reports when a line containing want has
// been written.
type logWatch struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	want string
	seen chan struct{}
	once sync.Once
}

func newLogWatch(want string) *logWatch { return &logWatch{want: want, seen: make(chan struct{})} }

func (w *logWatch) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if strings.Contains(w.buf.String(), w.want) {
		w.once.Do(func() { close(w.seen) })
	}
	return len(p), nil
}

func (w *logWatch) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// startRun runs vehiclesim with args (mem: addresses on hub) in the
// background until want appears on its stdout or stderr. stop cancels the
// run and returns its error.
func startRun(t *testing.T, hub *canbus.MemHub, want string, args ...string) (stdout, stderr *logWatch, stop func() error) {
	t.Helper()
	stdout, stderr = newLogWatch(want), newLogWatch(want)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- runOn(ctx, args, stdout, stderr, hub) }()
	select {
	case <-stdout.seen:
	case <-stderr.seen:
	case err := <-done:
		cancel()
		t.Fatalf("vehiclesim %v returned early: %v\n%s", args, err, stderr)
	case <-time.After(10 * time.Second):
		cancel()
		t.Fatalf("vehiclesim %v: no %q after 10 s:\n%s", args, want, stderr)
	}
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case err = <-done:
			case <-time.After(10 * time.Second):
				err = errors.New("run did not return after cancel")
			}
		})
		return err
	}
	t.Cleanup(func() { stop() })
	return stdout, stderr, stop
}

// lastWord is the last word of the watched output, e.g. a device path.
func lastWord(w *logWatch) string {
	line := strings.TrimSpace(w.String())
	return line[strings.LastIndex(line, " ")+1:]
}

func TestRunServesProfile(t *testing.T) {
	var hub canbus.MemHub
	stdout, stderr, stop := startRun(t, &hub, "vehicle on the bus", "--profile", profile, "--iface", "mem:bay1", "--latency", "10ms")
	ctx := context.Background()

	conn := hub.Bus("bay1").Connect()
	defer conn.Close()
	c := isotp.NewClient(conn, isotp.Config{P2: 2 * time.Second})
	defer c.Close()
	rctx, rcancel := context.WithTimeout(ctx, 10*time.Second)
	defer rcancel()
	resps, err := c.Do(rctx, obd.Request{Data: []byte{0x01, 0x00}, Expect: []obd.ECU{0x7E8, 0x7E9}})
	if err != nil || len(resps) != 2 {
		t.Fatalf("0100: %v, %v; want answers from 7E8 and 7E9", resps, err)
	}

	if err := stop(); err != nil {
		t.Fatalf("run: %v", err)
	}
	if want := "petrol-p0420 (VIN LFV2A21K8A4052691, ECUs 7E8 7E9) on mem:bay1"; !strings.Contains(stdout.String(), want) {
		t.Errorf("stdout %q, want it to contain %q", stdout, want)
	}
	if !strings.Contains(stderr.String(), "stopped") {
		t.Errorf("no stop log in:\n%s", stderr)
	}
}

func TestRunErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want error
	}{
		{"no flags", nil, errUsage},
		{"no iface", []string{"--profile", profile}, errUsage},
		{"unknown flag", []string{"--profile", profile, "--iface", "mem:x", "--speed", "1"}, errUsage},
		{"stray argument", []string{"--profile", profile, "--iface", "mem:x", "extra"}, errUsage},
		{"bad latency", []string{"--profile", profile, "--iface", "mem:x", "--latency", "soon"}, errUsage},
		{"negative latency", []string{"--profile", profile, "--iface", "mem:x", "--latency", "-1ms"}, errUsage},
		{"read-only bus", []string{"--profile", profile, "--iface", "replay:x.log"}, errUsage},
		{"help", []string{"-h"}, flag.ErrHelp},
		{"missing profile", []string{"--profile", "nope.yaml", "--iface", "mem:x"}, fs.ErrNotExist},
		{"bad bus address", []string{"--profile", profile, "--iface", "bus0"}, canbus.ErrBadAddress},
		{"mem bus in a separate process", []string{"--profile", profile, "--iface", "mem:x"}, canbus.ErrNoHub},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), tt.args, &stdout, &stderr)
			if !errors.Is(err, tt.want) {
				t.Fatalf("run: %v, want %v\nstderr: %s", err, tt.want, stderr.String())
			}
			if errors.Is(err, errUsage) && !strings.Contains(stderr.String(), "usage: vehiclesim") {
				t.Errorf("no usage on stderr:\n%s", stderr.String())
			}
		})
	}
}
