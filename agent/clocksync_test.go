package agent_test

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bayagent/bayagent/agent"
	"github.com/bayagent/bayagent/agent/clock"
	"github.com/bayagent/bayagent/agent/record"
	"github.com/bayagent/bayagent/drivers/canbus"
)

// signalHandler closes a channel when a log message is logged.
type signalHandler struct {
	slog.Handler
	msg  string
	once *sync.Once
	ch   chan struct{}
}

func (h signalHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == h.msg {
		h.once.Do(func() { close(h.ch) })
	}
	return h.Handler.Handle(ctx, r)
}

func (h signalHandler) WithAttrs(as []slog.Attr) slog.Handler {
	h.Handler = h.Handler.WithAttrs(as)
	return h
}

func (h signalHandler) WithGroup(g string) slog.Handler {
	h.Handler = h.Handler.WithGroup(g)
	return h
}

// TestClockSyncRecord: every record carries the clock's state; at the
// first synchronisation of the boot the agent stores a clock_sync record,
// once (a restart in the same boot stores none), and verify corrects the
// times of the records made before it.
func TestClockSyncRecord(t *testing.T) {
	dir := t.TempDir()
	bootFile := filepath.Join(dir, "boot_id")
	const boot = "5c8e9a1e-0b6f-4c1d-9f8e-2a7d3c4b5e6f"
	if err := os.WriteFile(bootFile, []byte(boot+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// The box booted 332 days behind; each reading of the clock advances
	// the time since boot by 10 ms.
	var synced atomic.Bool
	var mono atomic.Int64
	behind := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	right := time.Date(2026, 11, 29, 5, 0, 0, 0, time.UTC)
	wall := func() time.Time {
		m := time.Duration(mono.Add(int64(10 * time.Millisecond)))
		if synced.Load() {
			return right.Add(m)
		}
		return behind.Add(m)
	}
	clk := clock.New(clock.Options{
		SyncFile: filepath.Join(dir, "no-such-file"), BootIDFile: bootFile,
		Kernel: func() (bool, error) { return synced.Load(), nil },
		Wall:   wall,
		Mono:   func() (time.Duration, error) { return time.Duration(mono.Load()), nil },
	})
	cfg := storeConfig(t, filepath.Join(dir, "state"))

	run := func(msg string, before func(a *agent.Agent), after func()) {
		t.Helper()
		done := make(chan struct{})
		log := slog.New(signalHandler{Handler: testLogger(t).Handler(), msg: msg, once: new(sync.Once), ch: done})
		a, err := agent.New(cfg, agent.Deps{Version: "test", Hub: &canbus.MemHub{}, Logger: log, Now: wall, Clock: clk, ClockPoll: 5 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		stopped := make(chan error, 1)
		go func() { stopped <- a.Run(ctx) }()
		<-a.Ready()
		before(a)
		if after != nil {
			after()
			select {
			case <-done:
			case <-time.After(60 * time.Second):
				t.Fatalf("no %q in 60 s", msg)
			}
		}
		cancel()
		if err := <-stopped; err != nil {
			t.Fatal(err)
		}
	}
	run("clock synchronised", func(a *agent.Agent) {
		do(t, a, "open_job", openArgs)
		do(t, a, "add_note", noteArgs("before the sync"))
	}, func() { synced.Store(true) })
	// A restart in the same boot: no second clock_sync.
	run("", func(a *agent.Agent) { do(t, a, "add_note", noteArgs("after the sync")) }, nil)
	// A new boot whose clock is synchronised from the start: nothing to
	// correct, no clock_sync.
	const boot2 = "7d1f0c2b-3a4e-4f5a-8b6c-9d0e1f2a3b4c"
	if err := os.WriteFile(bootFile, []byte(boot2+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	clk = clock.New(clock.Options{SyncFile: filepath.Join(dir, "no-such-file"), BootIDFile: bootFile,
		Kernel: func() (bool, error) { return true, nil }, Wall: wall,
		Mono: func() (time.Duration, error) { return time.Duration(mono.Load()), nil }})
	run("", func(a *agent.Agent) { do(t, a, "add_note", noteArgs("in a synchronised boot")) }, nil)

	recs, stream := exportRecords(t, cfg.Outbox.Path)
	var syncs []record.Record
	last := recs[len(recs)-1]
	if last.Clock == nil || last.Clock.Boot != boot2 || !last.Clock.Synced {
		t.Fatalf("the note of the second boot carries clock %+v", last.Clock)
	}
	recs = recs[:len(recs)-1]
	for _, r := range recs {
		if r.Clock == nil || r.Clock.Boot != boot {
			t.Fatalf("record %d carries clock %+v, want boot %s", r.Seq, r.Clock, boot)
		}
		if r.Kind == record.KindClockSync {
			syncs = append(syncs, r)
		}
	}
	if len(syncs) != 1 || !syncs[0].Clock.Synced {
		t.Fatalf("clock_sync records: %d, want 1 made with a synchronised clock", len(syncs))
	}
	if last := recs[len(recs)-1]; last.Kind != record.KindNote || !last.Clock.Synced || last.Time.Before(right) {
		t.Fatalf("the note after the sync: %s, clock %+v, time %v", last.Kind, last.Clock, last.Time)
	}
	rep := record.Verify(strings.NewReader(string(stream)), record.Keys{device: publicKey(t, cfg)})
	d := rep.Devices[0]
	if !rep.OK() || d.Unsynced.Count < 2 || d.Uncorrectable.Count != 0 || len(d.Corrected) != d.Unsynced.Count {
		t.Fatalf("verify: want the records before the sync corrected:\n%s", rep)
	}
	for _, c := range d.Corrected {
		if c.Time.After(right) || c.Corrected.Before(right.Add(-time.Hour)) || c.Corrected.After(syncs[0].Time) {
			t.Errorf("seq %d: %v corrected to %v; want it within the hour before the sync at %v", c.Seq, c.Time, c.Corrected, syncs[0].Time)
		}
	}
}
