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
	readings := filepath.Join("..", "..", "testdata", "analyzers", "nha506-before.yaml")
	stdout, _, stop := startRun(t, nil, " on /dev/", "--analyzer", readings)
	inst, err := analyzer.Open(lastWord(stdout), analyzer.Options{}) // nha506:/dev/pts/N
	if err != nil {
		t.Fatal(err)
	}
	r, err := inst.Read(context.Background())
	inst.Close()
	if err != nil {
		t.Fatal(err)
	}
	if hc, ok := r.Value("hc"); !ok || hc.Value != 180 {
		t.Errorf("HC %v, want 180 ppm from %s", hc, readings)
	}
	if err := stop(); err != nil {
		t.Fatalf("run: %v", err)
	}
}

// TestRunJ1939 serves the truck profile on a bus; a J1939 scan finds it.
func TestRunJ1939(t *testing.T) {
	hub := &canbus.MemHub{}
	truck := filepath.Join("..", "..", "testdata", "vehicles", "diesel-truck-j1939.yaml")
	_, _, stop := startRun(t, hub, "(J1939) on", "--profile", truck, "--iface", "mem:truck")
	conn := hub.Bus("truck").Connect()
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	snap, err := scan.ScanJ1939(ctx, conn, scan.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if snap.VIN != "LZZ1CLSB1KA000789" || !snap.MIL {
		t.Errorf("VIN %q MIL %v", snap.VIN, snap.MIL)
	}
	if err := stop(); err != nil {
		t.Fatalf("run: %v", err)
	}
	var so, se bytes.Buffer
	if err := run(context.Background(), []string{"--profile", truck, "--elm327"}, &so, &se); err == nil || !strings.Contains(err.Error(), "J1939") {
		t.Errorf("--elm327 with a J1939 profile: %v", err)
	}
}
