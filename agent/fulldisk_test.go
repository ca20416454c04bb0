//go:build linux

package agent_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/bayagent/bayagent/agent/boxtest"
	"github.com/bayagent/bayagent/agent/internal/mosquittotest"
	"github.com/bayagent/bayagent/agent/internal/powerfs"
	"github.com/bayagent/bayagent/agent/job"
	"github.com/bayagent/bayagent/agent/record"
	"github.com/bayagent/bayagent/agent/uplink"
	"github.com/bayagent/bayagent/drivers/bayio"
	"github.com/bayagent/bayagent/drivers/bayio/bayiotest"
	"periph.io/x/conn/v3/gpio"
)

// lastStatus returns the newest "online" status among msgs.
func lastStatus(msgs []mosquittotest.Message) map[string]any {
	var st map[string]any
	for _, m := range msgs {
		var s map[string]any
		if m.Topic == topics.Status && json.Unmarshal(m.Payload, &s) == nil && s["state"] == "online" {
			st = s
		}
	}
	return st
}

func (b *bench) waitStatus(desc string, cond func(map[string]any) bool) {
	b.t.Helper()
	b.obs.WaitFor(30*time.Second, "a status with "+desc, func(msgs []mosquittotest.Message) bool {
		st := lastStatus(msgs)
		return st != nil && cond(st)
	})
}

func (b *bench) notes() []job.NoteBody {
	var out []job.NoteBody
	for _, r := range b.records(b.obs.Messages()) {
		if r.Kind == record.KindNote {
			var n job.NoteBody
			if json.Unmarshal(r.Body, &n) == nil {
				out = append(out, n)
			}
		}
	}
	return out
}

// TestFullDiskStopsTheBay is hole 1 of issue 12 with a real full disk: the
// state directory is on powerfs with its capacity set so that no job file
// can be written, the outbox on a disk that has room. A note is stored but
// its job file cannot be saved: the reply says so, the bay is stopped (the
// next note is refused and not stored), the fault light is on and the
// status lists the stopped bay. A restart while the disk is still full
// keeps the stored note (recovered from its record) and the bay stopped.
// Once there is room, the agent saves the job file by itself, the light
// goes out, and the numbers of the job's events go on without a gap or a
// repeat into the closed job.
func TestFullDiskStopsTheBay(t *testing.T) {
	b := newBench(t)
	fsys := powerfs.MountTest(t)
	b.cfg.Device.StateDir = fsys.Dir()
	b.cfg.Device.KeyFile = fsys.Dir() + "/device.key"
	fault := &bayiotest.Pin{N: "FAULT"}
	b.pins = &bayio.Pins{Fault: fault}
	b.start()
	b.waitStatus("the agent online (subscribed to its commands)", func(map[string]any) bool { return true })

	b.mustCommand("open_job", map[string]any{
		"job_id": "J-FULL", "type": "repair", "plate": "浙A12345", "vin": "LFV2A21K8A4052691",
		"mileage_km": 1000, "complaint": "noise", "technician": "T007",
	})
	b.mustCommand("add_note", map[string]any{"author": "T007", "text": "one"})
	fsys.SetCapacity(fsys.Used() + 64) // the disk is full

	r := b.command("add_note", map[string]any{"author": "T007", "text": "two (stored, its job file not saved)"})
	wantRefused(t, "note on a full disk", r, uplink.CodeJobNotSaved)
	b.waitStatus("the bay stopped and a fault", func(st map[string]any) bool {
		return st["fault"] == true && st["bays_stopped"] != nil
	})
	if fault.Read() != gpio.High {
		t.Error("the fault light is off while the bay is stopped")
	}
	r = b.command("add_note", map[string]any{"author": "T007", "text": "three (refused)"})
	wantRefused(t, "note at a stopped bay", r, uplink.CodeBayStopped)

	// A restart while the disk is still full.
	b.stop()
	before := len(b.obs.Messages())
	b.start()
	b.obs.WaitFor(30*time.Second, "the restarted agent's status with the bay stopped", func(ms []mosquittotest.Message) bool {
		for _, m := range ms[before:] {
			var s map[string]any
			if m.Topic == topics.Status && json.Unmarshal(m.Payload, &s) == nil && s["state"] == "online" && s["bays_stopped"] != nil {
				return true
			}
		}
		return false
	})
	if r := b.command("add_note", map[string]any{"author": "T007", "text": "refused again"}); r.Code != uplink.CodeBayStopped {
		t.Fatalf("note at a bay stopped since before the restart: %+v", r)
	}

	fsys.SetCapacity(0) // room again: the agent saves the file on its own
	b.waitStatus("no stopped bay", func(st map[string]any) bool { return st["bays_stopped"] == nil && st["fault"] == false })
	// The status and the light follow the same saved file, the light a
	// moment later.
	boxtest.Eventually(t, 10*time.Second, "the fault light off after the job file was saved", func() bool { return fault.Read() == gpio.Low })
	b.mustCommand("add_note", map[string]any{"author": "T007", "text": "four"})
	b.mustCommand("close_job", map[string]any{
		"technician": "T007", "settlement_no": "S-1", "settle_date": "2026-03-14", "repair_date": "2026-03-14",
		"items": []map[string]any{{"name": "inspection", "working_hours": "0.5"}}, "parts": []any{},
	})
	var ns []int
	for _, n := range b.notes() {
		ns = append(ns, n.N)
	}
	if len(ns) != 3 || ns[0] != 2 || ns[1] != 3 || ns[2] != 4 {
		t.Fatalf("event numbers of the notes stored: %v; want 2, 3, 4 (none refused stored, none reused)", ns)
	}
	b.stop()
	c, err := job.ReadClosed(b.cfg.Device.StateDir+"/jobs", "J-FULL")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Notes) != 3 || c.Events != 5 {
		t.Fatalf("the closed job has %d notes and %d events; want the 3 stored notes and 5 events", len(c.Notes), c.Events)
	}
}
