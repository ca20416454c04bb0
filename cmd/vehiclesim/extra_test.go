package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bayagent/bayagent/agent/scan"
	"github.com/bayagent/bayagent/drivers/analyzer"
	"github.com/bayagent/bayagent/drivers/canbus"
)

// TestRunAnalyzer serves an analyzer from its readings file on a pty and
// reads it through the real driver, by the path vehiclesim printed.
func TestRunAnalyzer(t *testing.T) {
	stdout, stderr := newLogWatch(" on /dev/"), &bytes.Buffer{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	readings := filepath.Join("..", "..", "testdata", "analyzers", "nha506-before.yaml")
	go func() { done <- run(ctx, []string{"--analyzer", readings}, stdout, stderr) }()
	select {
	case <-stdout.seen:
	case err := <-done:
		t.Fatalf("run returned early: %v\n%s", err, stderr)
	case <-time.After(10 * time.Second):
		t.Fatalf("no device path after 10 s:\n%s", stderr)
	}
	line := strings.TrimSpace(stdout.String())
	addr := line[strings.LastIndex(line, " ")+1:] // nha506:/dev/pts/N
	inst, err := analyzer.Open(addr, analyzer.Options{})
	if err != nil {
		t.Fatal(err)
	}
	r, err := inst.Read(ctx)
	inst.Close()
	if err != nil {
		t.Fatal(err)
	}
	if hc, ok := r.Value("hc"); !ok || hc.Value != 180 {
		t.Errorf("HC %v, want 180 ppm from %s", hc, readings)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}
}

// TestRunJ1939 serves the truck profile on a bus; a J1939 scan finds it.
func TestRunJ1939(t *testing.T) {
	hub := &canbus.MemHub{}
	stdout, stderr := newLogWatch("(J1939) on"), &bytes.Buffer{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	truck := filepath.Join("..", "..", "testdata", "vehicles", "diesel-truck-j1939.yaml")
	go func() { done <- runOn(ctx, []string{"--profile", truck, "--iface", "mem:truck"}, stdout, stderr, hub) }()
	select {
	case <-stdout.seen:
	case err := <-done:
		t.Fatalf("run returned early: %v\n%s", err, stderr)
	case <-time.After(10 * time.Second):
		t.Fatalf("not serving after 10 s:\n%s", stderr)
	}
	conn := hub.Bus("truck").Connect()
	defer conn.Close()
	sctx, scancel := context.WithTimeout(ctx, 30*time.Second)
	defer scancel()
	snap, err := scan.ScanJ1939(sctx, conn, scan.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if snap.VIN != "LZZ1CLSB1KA000789" || !snap.MIL {
		t.Errorf("VIN %q MIL %v", snap.VIN, snap.MIL)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}
	var so, se bytes.Buffer
	if err := run(context.Background(), []string{"--profile", truck, "--elm327"}, &so, &se); err == nil || !strings.Contains(err.Error(), "J1939") {
		t.Errorf("--elm327 with a J1939 profile: %v", err)
	}
}
