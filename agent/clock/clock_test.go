package clock_test

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/bayagent/bayagent/agent/clock"
)

func fakeClock(t *testing.T, kernel *bool, wall *time.Time, mono *time.Duration) (*clock.Clock, string) {
	dir := t.TempDir()
	boot := filepath.Join(dir, "boot_id")
	if err := os.WriteFile(boot, []byte("0f5d2f1c-8e4b-4c1a-9a55-3c2d1e0f9a77\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	flag := filepath.Join(dir, "synchronized")
	return clock.New(clock.Options{
		SyncFile:   flag,
		BootIDFile: boot,
		Kernel:     func() (bool, error) { return *kernel, nil },
		Wall:       func() time.Time { return *wall },
		Mono:       func() (time.Duration, error) { return *mono, nil },
	}), flag
}

func TestReading(t *testing.T) {
	kernel := false
	wall := time.Date(2026, 3, 1, 8, 0, 0, 0, time.FixedZone("CST", 8*3600))
	mono := 42 * time.Second
	c, flag := fakeClock(t, &kernel, &wall, &mono)
	r := c.Read()
	if r.Synced || r.Boot != "0f5d2f1c-8e4b-4c1a-9a55-3c2d1e0f9a77" || r.MonoMS() != 42000 || !r.Wall.Equal(wall) || r.Wall.Location() != time.UTC {
		t.Fatalf("reading %+v", r)
	}
	if err := os.WriteFile(flag, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if !c.Read().Synced {
		t.Error("the timesyncd flag file exists but the clock is not synchronised")
	}
	os.Remove(flag)
	kernel = true
	if !c.Read().Synced {
		t.Error("the kernel says synchronised but the clock is not")
	}
}

func TestBadBootID(t *testing.T) {
	dir := t.TempDir()
	boot := filepath.Join(dir, "boot_id")
	if err := os.WriteFile(boot, []byte("NOT A \"BOOT\" ID"), 0o644); err != nil {
		t.Fatal(err)
	}
	c := clock.New(clock.Options{BootIDFile: boot, Kernel: func() (bool, error) { return false, errors.New("no") }})
	if b := c.Read().Boot; b != "" {
		t.Errorf("boot %q from a malformed file, want \"\"", b)
	}
}

// TestSystem reads the real clock of the machine the tests run on.
func TestSystem(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("linux only")
	}
	c := clock.New(clock.Options{})
	a := c.Read()
	b := c.Read()
	if len(a.Boot) != 36 || a.Boot != b.Boot {
		t.Errorf("boot ids %q, %q; want the kernel's uuid twice", a.Boot, b.Boot)
	}
	if a.Mono <= 0 || b.Mono < a.Mono {
		t.Errorf("monotonic times %v then %v", a.Mono, b.Mono)
	}
	t.Logf("synchronised: %v, boot %s, up %v", a.Synced, a.Boot, a.Mono.Round(time.Second))
}

func TestTracker(t *testing.T) {
	const boot = "b1"
	wall0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) // the saved clock: weeks behind
	read := func(synced bool, wall time.Time, mono time.Duration) clock.Reading {
		return clock.Reading{Wall: wall, Synced: synced, Boot: boot, Mono: mono}
	}
	tr := clock.NewTracker("")
	if _, ok := tr.Observe(read(false, wall0, 10*time.Second)); ok {
		t.Fatal("a sync reported while unsynchronised")
	}
	if _, ok := tr.Observe(read(false, wall0.Add(20*time.Second), 30*time.Second)); ok {
		t.Fatal("a sync reported while unsynchronised")
	}
	// NTP sets the clock 18 days ahead at mono 40s.
	real := time.Date(2026, 1, 19, 9, 30, 0, 0, time.UTC)
	s, ok := tr.Observe(read(true, real, 40*time.Second))
	if !ok {
		t.Fatal("no sync at the first synchronised reading")
	}
	off, ok := s.Offset()
	want := real.Sub(wall0.Add(30 * time.Second))
	if !ok || off != want {
		t.Errorf("offset %v (%v), want %v", off, ok, want)
	}
	// A record stamped at mono 10s really was made 30s before the sync.
	if got := s.Correct(10 * time.Second); !got.Equal(real.Add(-30 * time.Second)) {
		t.Errorf("corrected %v", got)
	}
	// The same sync until it is on record.
	s2, ok := tr.Observe(read(true, real.Add(5*time.Second), 45*time.Second))
	if !ok || !s2.At.Wall.Equal(real) {
		t.Errorf("second observation: %+v %v; want the first sync again", s2, ok)
	}
	tr.Reported(boot)
	if _, ok := tr.Observe(read(true, real.Add(time.Minute), 100*time.Second)); ok {
		t.Error("a sync reported again after Reported")
	}
	// An agent started after the sync of a boot on record stays quiet; one
	// whose boot has no sync on record reports it without an offset.
	if _, ok := clock.NewTracker(boot).Observe(read(true, real, time.Hour)); ok {
		t.Error("sync reported for a boot on record")
	}
	s3, ok := clock.NewTracker("b0").Observe(read(true, real, time.Hour))
	if _, has := s3.Offset(); !ok || has {
		t.Errorf("started synchronised: %+v %v; want a sync without offset", s3, ok)
	}
}
