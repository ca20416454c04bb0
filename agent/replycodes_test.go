package agent_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/bayagent/bayagent/agent"
	"github.com/bayagent/bayagent/agent/config"
	"github.com/bayagent/bayagent/agent/i18n"
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

func codesAgent(t *testing.T, edit func(*config.Config)) *agent.Agent {
	t.Helper()
	dir := t.TempDir()
	cfg := config.Default()
	cfg.Device.ID, cfg.Device.Shop, cfg.Device.Bay = device, shop, "bay1"
	cfg.Device.StateDir = dir
	cfg.Device.KeyFile = filepath.Join(dir, "device.key")
	cfg.Outbox.Path = filepath.Join(dir, "outbox.db")
	cfg.Vehicle.Interface = "mem:bay1"
	cfg.Uplink.Broker = "ssl://127.0.0.1:1" // never dialled: Run is not called
	if edit != nil {
		edit(cfg)
	}
	a, err := agent.New(cfg, agent.Deps{Version: "test", Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
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
// uplink's own codes are tested in package uplink, vehicle_busy with a
// stuck adapter in TestStuckVehicleStopsOnlyTheVehicle, phase_not_allowed
// with a real vehicle in TestLiveFeedAndCommands' bench.)
func TestReplyCodes(t *testing.T) {
	for _, tc := range []struct {
		code   uplink.Code
		edit   func(*config.Config)
		before [][2]any // commands that set the stage: name, args
		name   string
		args   any
		fields []string
	}{
		{code: uplink.CodeUnknownCommand, name: "reboot", args: map[string]any{}},
		{code: uplink.CodeBadArgument, name: "open_job", args: map[string]any{"job_id": "J-1", "type": "repair", "plate": "浙A12345",
			"vin": "LFV2A21K8A4052692", "mileage_km": 0, "complaint": "MIL on", "technician": "T007"}, fields: []string{"vin", "mileage_km"}},
		{code: uplink.CodeBadArgument, name: "add_note", args: map[string]any{"author": "T007", "text": "x", "colour": "red"}, fields: []string{"colour"}},
		{code: uplink.CodeTechnicianRequired, before: [][2]any{{"open_job", codesOpen}}, name: "clear_dtcs", args: map[string]any{"reason": "repaired"}, fields: []string{"technician"}},
		{code: uplink.CodeWrongBay, name: "start_scan", args: map[string]any{"bay": "bay2"}},
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
	} {
		t.Run(string(tc.code)+"/"+tc.name, func(t *testing.T) {
			a := codesAgent(t, tc.edit)
			for _, b := range tc.before {
				if r := replyOf(t, a, b[0].(string), b[1]); !r.OK {
					t.Fatalf("%s: %+v", b[0], r)
				}
			}
			r := replyOf(t, a, tc.name, tc.args)
			if r.OK || r.Code != tc.code || !slices.Equal(r.Fields, tc.fields) {
				t.Fatalf("reply %+v, want code %s fields %v", r, tc.code, tc.fields)
			}
			if r.Error == "" || r.Message[i18n.English] == "" || r.Message[i18n.Chinese] == "" {
				t.Errorf("reply %+v lacks the error or a message", r)
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
	r := replyOf(t, a, "add_note", map[string]any{"author": "T007", "text": "x"})
	if r.OK || r.Code != uplink.CodeNotStored {
		t.Fatalf("reply %+v, want not_stored", r)
	}
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
		if r.Code != uplink.CodeStorageFull || r.Message[i18n.Chinese] == "" {
			t.Fatalf("after %d notes: %+v, want storage_full with a message", stored, r)
		}
		if stored < 100 {
			t.Fatalf("refused after only %d notes of 6 kB under 1 MiB", stored)
		}
		return
	}
}
