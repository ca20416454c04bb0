package agent_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bayagent/bayagent/agent"
	"github.com/bayagent/bayagent/agent/config"
	"github.com/bayagent/bayagent/agent/i18n"
	"github.com/bayagent/bayagent/agent/job"
	"github.com/bayagent/bayagent/agent/record"
	"github.com/bayagent/bayagent/agent/uplink"
)

// replyOf runs one command on the agent as the uplink would and returns
// the reply it would publish.
func replyOf(t *testing.T, a *agent.Agent, name string, args any) uplink.Reply {
	t.Helper()
	raw, err := json.Marshal(args)
	if err != nil {
		t.Fatal(err)
	}
	res, err := a.Command(context.Background(), name, raw)
	if err != nil {
		return uplink.ErrorReply(name, err)
	}
	return uplink.OKReply(name, res)
}

// wantRefused fails the test unless r refuses with code, with the error
// text, and with the code's message in English and in Chinese, its
// placeholders filled with args (name/value pairs, as the reply gives them).
func wantRefused(t testing.TB, what string, r uplink.Reply, code uplink.Code, args ...any) {
	t.Helper()
	if r.OK || r.Code != code || r.Error == "" {
		t.Fatalf("%s: reply %+v, want code %s with the error", what, r, code)
	}
	if _, ok := i18n.Lookup(code.MessageKey()); !ok {
		t.Fatalf("%s: code %s has no message %s", what, code, code.MessageKey())
	}
	want := i18n.M(code.MessageKey(), args...).All()
	for _, l := range i18n.Langs() {
		if r.Message[l] != want[l] || want[l] == "" || strings.Contains(want[l], "{") {
			t.Fatalf("%s: %s message %q, want %q", what, l, r.Message[l], want[l])
		}
	}
}

func codesAgent(t *testing.T, edit func(*config.Config)) *agent.Agent {
	t.Helper()
	cfg := storeConfig(t, t.TempDir())
	if edit != nil {
		edit(cfg)
	}
	a := mustStoreAgent(t, cfg)
	t.Cleanup(func() { a.Close() })
	return a
}

var (
	codesOpen = map[string]any{"job_id": "J-1", "type": "repair", "plate": "浙A12345", "mileage_km": 123457,
		"complaint": "MIL on", "technician": "T007"}
	codesClose = map[string]any{"technician": "T007", "settlement_no": "JS-1", "settle_date": "2026-03-14",
		"repair_date": "2026-03-14", "items": []map[string]any{{"name": "diagnosis", "working_hours": 0.5}}, "parts": []any{}}
)

// TestReplyCodes: each reply code the agent gives, from the command that
// gives it, with its fields and its message in both languages. (The
// uplink's own codes are tested in package uplink; not_authorised and
// replayed in TestSignedCommands; vehicle_busy with a stuck adapter in
// TestStuckVehicleStopsOnlyTheVehicle; vehicle_error in
// TestReplyCodeVehicleError; phase_not_allowed and emission_not_passed with
// a real vehicle in TestAgentBay; job_not_saved and bay_stopped in
// TestFullDiskStopsTheBay.)
func TestReplyCodes(t *testing.T) {
	for _, tc := range []struct {
		code     uplink.Code
		edit     func(*config.Config)
		analyzer string   // a readings file of testdata/analyzers served as the bay's analyzer
		before   [][2]any // commands that set the stage: name, args
		name     string
		args     any
		fields   []string
		msg      []any // the message's arguments
	}{
		{code: uplink.CodeUnknownCommand, name: "reboot", args: map[string]any{}, msg: []any{"cmd", "reboot"}},
		{code: uplink.CodeBadArgument, name: "open_job", args: map[string]any{"job_id": "J-1", "type": "repair", "plate": "浙A12345",
			"vin": "LFV2A21K8A4052692", "mileage_km": 0, "complaint": "MIL on", "technician": "T007"}, fields: []string{"vin", "mileage_km"},
			msg: []any{"fields", "vin, mileage_km"}},
		{code: uplink.CodeBadArgument, name: "add_note", args: map[string]any{"author": "T007", "text": "x", "colour": "red"}, fields: []string{"colour"},
			msg: []any{"fields", "colour"}},
		{code: uplink.CodeTechnicianRequired, before: [][2]any{{"open_job", codesOpen}}, name: "clear_dtcs", args: map[string]any{"reason": "repaired"}, fields: []string{"technician"}},
		{code: uplink.CodeWrongBay, name: "start_scan", args: map[string]any{"bay": "bay2"}, msg: []any{"bay", "bay1", "asked", "bay2"}},
		{code: uplink.CodeNoOpenJob, name: "add_note", args: map[string]any{"author": "T007", "text": "x"}},
		{code: uplink.CodeNoOpenJob, name: "close_job", args: codesClose},
		{code: uplink.CodeJobAlreadyOpen, before: [][2]any{{"open_job", codesOpen}}, name: "open_job", args: map[string]any{"job_id": "J-2", "type": "repair",
			"plate": "浙A12345", "mileage_km": 123457, "complaint": "MIL on", "technician": "T007"}},
		{code: uplink.CodeJobIDUsed, before: [][2]any{{"open_job", codesOpen}, {"cancel_job", map[string]any{"technician": "T007", "reason": "wrong plate"}}},
			name: "open_job", args: codesOpen},
		{code: uplink.CodeVehicleNotConnected, name: "start_scan", args: map[string]any{}},
		{code: uplink.CodeVehicleNotConnected, before: [][2]any{{"open_job", codesOpen}}, name: "clear_dtcs", args: map[string]any{"technician": "T007", "reason": "repaired"}},
		{code: uplink.CodeVehicleNotConnected, name: "live_start", args: map[string]any{"pids": []string{"0C"}}},
		{code: uplink.CodeNoAnalyzer, before: [][2]any{{"open_job", codesOpen}}, name: "take_reading", args: map[string]any{}},
		{code: uplink.CodeNoOpenJob, edit: func(c *config.Config) { c.Analyzer.Interface = "nha506:/nonexistent/ttyUSB9" }, name: "take_reading", args: map[string]any{}},
		{code: uplink.CodeAnalyzerError, edit: func(c *config.Config) { c.Analyzer.Interface = "nha506:/nonexistent/ttyUSB9" },
			before: [][2]any{{"open_job", codesOpen}}, name: "take_reading", args: map[string]any{}},
		// An opacimeter has no leak check.
		{code: uplink.CodeNotSupported, analyzer: "nht6-diesel.yaml", name: "analyzer_check", args: map[string]any{"check": "leak_check", "technician": "T007"}},
	} {
		t.Run(string(tc.code)+"/"+tc.name, func(t *testing.T) {
			edit := tc.edit
			if tc.analyzer != "" {
				dev := analyzerPTY(t, tc.analyzer, "")
				edit = func(c *config.Config) { c.Analyzer.Interface = "nht6:" + dev }
			}
			a := codesAgent(t, edit)
			for _, b := range tc.before {
				if r := replyOf(t, a, b[0].(string), b[1]); !r.OK {
					t.Fatalf("%s: %+v", b[0], r)
				}
			}
			r := replyOf(t, a, tc.name, tc.args)
			wantRefused(t, tc.name, r, tc.code, tc.msg...)
			if !slices.Equal(r.Fields, tc.fields) {
				t.Errorf("reply fields %v, want %v", r.Fields, tc.fields)
			}
		})
	}
}

// TestReplyCodeNotStored: a record the outbox cannot take is refused with
// not_stored, and the job is unchanged.
func TestReplyCodeNotStored(t *testing.T) {
	a := codesAgent(t, nil)
	if r := replyOf(t, a, "open_job", codesOpen); !r.OK {
		t.Fatal(r)
	}
	a.Close() // the outbox is closed: nothing more is stored
	wantRefused(t, "add_note", replyOf(t, a, "add_note", map[string]any{"author": "T007", "text": "x"}), uplink.CodeNotStored)
}

// TestReplyCodeStorageFull: once the outbox holds all it may (nothing is
// acknowledged: no broker), a note is refused with storage_full.
func TestReplyCodeStorageFull(t *testing.T) {
	a := codesAgent(t, func(c *config.Config) { c.Outbox.MaxBytes = 1 << 20 })
	if r := replyOf(t, a, "open_job", codesOpen); !r.OK {
		t.Fatal(r)
	}
	text := strings.Repeat("排气", 1000) // 2000 characters, 6000 bytes
	for stored := 0; ; stored++ {
		if stored > 400 {
			t.Fatal("1 MiB took more than 400 notes of 6 kB")
		}
		r := replyOf(t, a, "add_note", map[string]any{"author": "T007", "text": text})
		if r.OK {
			continue
		}
		wantRefused(t, fmt.Sprintf("note %d", stored+1), r, uplink.CodeStorageFull)
		if stored < 100 {
			t.Fatalf("refused after only %d notes of 6 kB under 1 MiB", stored)
		}
		return
	}
}

// TestReplyCodeJobFull: a job holds job.DefaultMaxEvents events, its
// job_open included; the next note is refused with job_full, and the full
// job still closes, as the message tells the technician to do.
func TestReplyCodeJobFull(t *testing.T) {
	t.Parallel() // 500 durable events take a few seconds
	a := codesAgent(t, nil)
	open := maps.Clone(codesOpen)
	open["vin"] = "LFV2A21K8A4052691" // a job closes with a VIN
	if r := replyOf(t, a, "open_job", open); !r.OK {
		t.Fatal(r)
	}
	for n := 2; n <= job.DefaultMaxEvents; n++ {
		if r := replyOf(t, a, "add_note", map[string]any{"author": "T007", "text": fmt.Sprint("note ", n)}); !r.OK {
			t.Fatalf("event %d of %d: %+v", n, job.DefaultMaxEvents, r)
		}
	}
	wantRefused(t, "one event too many", replyOf(t, a, "add_note", map[string]any{"author": "T007", "text": "one too many"}), uplink.CodeJobFull)
	if r := replyOf(t, a, "close_job", codesClose); !r.OK {
		t.Fatalf("closing the full job: %+v", r)
	}
}

// TestReplyCodeVehicleError: the vehicle stops answering (unplugged, or
// the ignition switched off) between its scan and a DTC clear: the clear
// is answered vehicle_error, and the failed clear is on record.
func TestReplyCodeVehicleError(t *testing.T) {
	b := newBench(t)
	// One probe at start, and no presence check while the test runs: the
	// agent still takes the vehicle for connected when the clear comes.
	b.cfg.Vehicle.DetectInterval = config.Duration(time.Minute)
	unplug := b.plugIn("petrol-p0420")
	b.start()
	b.waitRecord(record.KindScan, nil)
	b.mustCommand("open_job", codesOpen)
	unplug()
	wantRefused(t, "clear_dtcs", b.command("clear_dtcs", map[string]any{"technician": "T007", "reason": "repaired"}), uplink.CodeVehicleError)
	b.waitRecord(record.KindDTCClear, func(body map[string]any) bool { return body["stage"] == job.ClearFailed && body["error"] != "" })
}
