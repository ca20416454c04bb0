// Package boxtest is a bay box for the receiving side's tests.
//
// It has a real outbox, uplink and job manager with the resend command, and no
// vehicle side, so that a test can make many boxes publish many records.
package boxtest

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/bayagent/bayagent/agent"
	"github.com/bayagent/bayagent/agent/command"
	"github.com/bayagent/bayagent/agent/devicekey"
	"github.com/bayagent/bayagent/agent/job"
	"github.com/bayagent/bayagent/agent/outbox"
	"github.com/bayagent/bayagent/agent/record"
	"github.com/bayagent/bayagent/agent/uplink"
)

// VIN is the valid VIN of every job a Box runs.
const VIN = "LFV2A21K8A4052691"

// Options configures a Box.
type Options struct {
	// Shop is the box's shop code; Device its id.
	Shop, Device string
	// ArchiveMaxBytes bounds the outbox's archive (0: the default).
	ArchiveMaxBytes int64
	// CertFile and KeyFile are the client certificate the uplink presents
	// over TLS (none when empty).
	CertFile, KeyFile string
	// Logger; nil discards.
	Logger *slog.Logger
}

// Box is one box. Its outbox and job manager are open from New; Start
// connects the uplink. Everything is closed by t.Cleanup.
type Box struct {
	t    testing.TB
	o    Options
	Dir  string
	Box  *outbox.Outbox
	Jobs *job.Manager
	// Sealer seals with the device key (a test may forge or reuse seqs).
	Sealer *record.Sealer
	Public ed25519.PublicKey
	up     *uplink.Uplink
	cancel context.CancelFunc
	done   chan error

	mu     sync.Mutex
	resent []record.SeqRange // the ranges resend commands asked for
}

type commands struct{ b *Box }

// Lane implements uplink.Commander.
func (commands) Lane(name string) string { return command.Lane(name) }

// Command serves resend only, as the agent does.
func (c commands) Command(ctx context.Context, name string, raw json.RawMessage) (any, error) {
	args, err := command.Decode(name, raw)
	if err != nil {
		return nil, err
	}
	ra, ok := args.(*command.ResendArgs)
	if !ok {
		return nil, fmt.Errorf("%w: %s (a test box serves resend only)", uplink.ErrUnknownCommand, name)
	}
	res, err := agent.Resend(ctx, c.b.Box, c.b.up, ra, c.b.o.Logger)
	if err != nil {
		return nil, err
	}
	c.b.mu.Lock()
	c.b.resent = append(c.b.resent, record.SeqRange{From: ra.FromSeq, To: ra.ToSeq})
	c.b.mu.Unlock()
	return res, nil
}

// New opens a box's outbox and job manager in a temporary directory.
func New(t testing.TB, o Options) *Box {
	t.Helper()
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	dir := t.TempDir()
	pub, key, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	s, err := record.NewSealer(record.SealerConfig{Key: key, Device: o.Device, Shop: o.Shop})
	if err != nil {
		t.Fatal(err)
	}
	ob, err := outbox.Open(filepath.Join(dir, "outbox.db"), outbox.Options{Sealer: s, ArchiveMaxBytes: o.ArchiveMaxBytes, MaxBytes: 256 << 20})
	if err != nil {
		t.Fatal(err)
	}
	b := &Box{t: t, o: o, Dir: dir, Box: ob, Sealer: s, Public: pub}
	b.Jobs, err = job.Open(filepath.Join(dir, "jobs"), job.Options{Emit: func(ctx context.Context, ev job.Event) error {
		_, err := ob.Append(ctx, ev.Kind, ev.Job, ev.Body)
		return err
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		b.Stop()
		ob.Close()
	})
	return b
}

// Device returns the box's device id.
func (b *Box) Device() string { return b.o.Device }

// Start connects the uplink to broker: tcp:// when caFile is "", else
// ssl:// verified with the CAs in caFile.
func (b *Box) Start(broker, caFile string) {
	b.t.Helper()
	up, err := uplink.New(uplink.Options{Broker: broker, AllowPlaintext: caFile == "", CAFile: caFile, CertFile: b.o.CertFile, KeyFile: b.o.KeyFile, Shop: b.o.Shop, Device: b.o.Device,
		BackoffMin: 50 * time.Millisecond, BackoffMax: time.Second}, agent.NewQueue(b.Box), commands{b}, b.o.Logger.With("box", b.o.Device))
	if err != nil {
		b.t.Fatal(err)
	}
	b.up = up
	ctx, cancel := context.WithCancel(context.Background())
	b.cancel, b.done = cancel, make(chan error, 1)
	go func() { b.done <- up.Run(ctx) }()
}

// Stop stops the uplink (it flushes what is in flight).
func (b *Box) Stop() {
	if b.cancel != nil {
		b.cancel()
		<-b.done
		b.cancel = nil
	}
}

// Uplink returns the running uplink (nil before Start).
func (b *Box) Uplink() *uplink.Uplink { return b.up }

// Notes stores n notes outside any job.
func (b *Box) Notes(n int) {
	b.t.Helper()
	for i := range n {
		if _, err := b.Box.Append(context.Background(), record.KindNote, "", map[string]any{"text": fmt.Sprintf("note %d", i)}); err != nil {
			b.t.Fatal(err)
		}
	}
}

// RepairJob runs a repair job through the job manager: open, n notes,
// close (n+2 records), settled as JS-<id>.
func (b *Box) RepairJob(id string, n int) {
	b.t.Helper()
	ctx := context.Background()
	o := job.Opening{ID: id, Type: job.TypeRepair, Shop: b.o.Shop, Plate: "浙A12345", PlateColor: job.PlateBlue, VIN: VIN,
		MileageKM: 52341, Complaint: "发动机故障灯亮", Technician: "T007"}
	if _, err := b.Jobs.OpenJob(ctx, "bay1", o); err != nil {
		b.t.Fatal(err)
	}
	for range n {
		if _, err := b.Jobs.Note(ctx, "bay1", job.Note{Author: "T007", Text: "更换氧传感器"}); err != nil {
			b.t.Fatal(err)
		}
	}
	s := job.Settlement{SettlementNo: "JS-" + id, SettleDate: "2026-11-29", RepairDate: "2026-11-29",
		Items: []job.RepairItem{{Name: "更换氧传感器", WorkingHours: "0.5"}}, Parts: []job.Part{{Name: "氧传感器", Code: "OX-1", Quantity: "1"}}}
	if _, _, err := b.Jobs.CloseJob(ctx, "bay1", "T007", s); err != nil {
		b.t.Fatal(err)
	}
}

// WriteKeyFile writes the device's public key file (device.key.pub.json,
// as the agent writes it) into dir.
func (b *Box) WriteKeyFile(dir string) {
	b.t.Helper()
	data, err := json.Marshal(devicekey.NewPublicInfo(b.o.Device, b.Public))
	if err != nil {
		b.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, b.o.Device+".key.pub.json"), data, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// Resent reports whether resend commands asked the box for every seq
// from..to (and it published again what it held of them).
func (b *Box) Resent(from, to uint64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	for seq := from; seq <= to; seq++ {
		covered := false
		for _, r := range b.resent {
			if r.From <= seq && seq <= r.To {
				covered = true
				break
			}
		}
		if !covered {
			return false
		}
	}
	return true
}

// Head returns the last sealed seq.
func (b *Box) Head() uint64 {
	st, err := b.Box.Stats()
	if err != nil {
		b.t.Fatal(err)
	}
	return st.HeadSeq
}

// WaitAcked waits until the broker acknowledged everything the box holds.
func (b *Box) WaitAcked(timeout time.Duration) {
	b.t.Helper()
	Eventually(b.t, timeout, b.o.Device+"'s outbox drained", func() bool {
		st, err := b.Box.Stats()
		return err == nil && st.Depth == 0
	})
}

// Eventually polls cond every 20 ms until it holds, failing the test
// after timeout.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(timeout)
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("timeout after %v waiting for %s", timeout, what)
		}
	}
}
