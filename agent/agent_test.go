package agent_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bayagent/bayagent/agent"
	"github.com/bayagent/bayagent/agent/clock"
	"github.com/bayagent/bayagent/agent/config"
	"github.com/bayagent/bayagent/agent/devicekey"
	"github.com/bayagent/bayagent/agent/emission"
	"github.com/bayagent/bayagent/agent/i18n"
	"github.com/bayagent/bayagent/agent/internal/minischema"
	"github.com/bayagent/bayagent/agent/internal/mosquittotest"
	"github.com/bayagent/bayagent/agent/outbox"
	"github.com/bayagent/bayagent/agent/record"
	"github.com/bayagent/bayagent/agent/uplink"
	"github.com/bayagent/bayagent/drivers/analyzer/analyzersim"
	"github.com/bayagent/bayagent/drivers/bayio"
	"github.com/bayagent/bayagent/drivers/canbus"
	"github.com/bayagent/bayagent/drivers/obd/obdsim"
)

const (
	shop   = "330106000123456"
	device = "bay-01"
	prefix = "bayagent"
)

// bench is one bay: a broker with TLS and the device's ACL, an agent
// configured for an in-process CAN bus and a simulated analyzer on a pty,
// and an observer subscribed to everything the device publishes.
type bench struct {
	t      *testing.T
	broker *mosquittotest.Broker
	obs    *mosquittotest.Subscriber
	cfg    *config.Config
	hub    *canbus.MemHub
	pins   *bayio.Pins // nil: none fitted
	// guide and second are the agent's Deps.Guide and EmissionSecond.
	guide  func(emission.Progress)
	second time.Duration
	poll   time.Duration // Deps.AnalyzerPoll
	clock  *clock.Clock  // nil: the system's
	agent  *agent.Agent
	cancel context.CancelFunc
	done   chan error
	ids    atomic.Int64
}

var topics = uplink.DeviceTopics(prefix, shop, device)

func newBench(t *testing.T) *bench {
	t.Helper()
	b := &bench{t: t, hub: &canbus.MemHub{}}
	b.broker = mosquittotest.Start(t, mosquittotest.Options{Prefix: prefix, Devices: []mosquittotest.Device{{Shop: shop, ID: device}}})
	b.obs = mosquittotest.Subscribe(t, b.broker.PlainURL, topics.Root+"/#", mosquittotest.SubOptions{QoS: 1})

	dir := t.TempDir()
	cert, key := b.broker.ClientCert(device)
	cfg := config.Default()
	cfg.Device.ID, cfg.Device.Shop, cfg.Device.Bay = device, shop, "bay1"
	cfg.Device.CompanyName = "Test Motors"
	cfg.Device.StateDir = dir
	cfg.Device.KeyFile = filepath.Join(dir, "device.key")
	cfg.Outbox.Path = filepath.Join(dir, "outbox.db")
	cfg.Vehicle.Interface = "mem:bay1"
	cfg.Vehicle.P2 = config.Duration(300 * time.Millisecond)
	cfg.Vehicle.DetectInterval = config.Duration(100 * time.Millisecond)
	cfg.Uplink.Broker = b.broker.TLSURL
	cfg.Uplink.TopicPrefix = prefix
	cfg.Uplink.CAFile = b.broker.CA.File
	cfg.Uplink.CertFile, cfg.Uplink.KeyFile = cert, key
	b.cfg = cfg
	b.serveAnalyzer(loadReadings(t, "nha506-before.yaml"), nil)
	return b
}

// serveAnalyzer makes a simulated instrument reporting r, following
// engine when it is set, the bay's analyzer on a pty.
func (b *bench) serveAnalyzer(r *analyzersim.Readings, engine analyzersim.Engine) *analyzersim.Sim {
	b.t.Helper()
	dev, sim := servePTY(b.t, r, analyzersim.Options{Engine: engine})
	b.cfg.Analyzer.Interface = r.Protocol + ":" + dev
	return sim
}

func (b *bench) start() {
	b.t.Helper()
	a, err := agent.New(b.cfg, agent.Deps{Version: "test", Hub: b.hub, Pins: b.pins, Clock: b.clock, Logger: testLogger(b.t),
		Guide: b.guide, EmissionSecond: b.second, AnalyzerPoll: b.poll})
	if err != nil {
		b.t.Fatal(err)
	}
	b.agent = a
	ctx, cancel := context.WithCancel(context.Background())
	b.cancel, b.done = cancel, make(chan error, 1)
	go func() { b.done <- a.Run(ctx) }()
	b.t.Cleanup(b.stop)
	select {
	case <-a.Ready():
	case err := <-b.done:
		b.t.Fatalf("agent stopped before ready: %v", err)
	}
}

func (b *bench) stop() {
	if b.cancel == nil {
		return
	}
	b.cancel()
	b.cancel = nil
	select {
	case err := <-b.done:
		if err != nil {
			b.t.Errorf("agent Run: %v", err)
		}
	case <-time.After(30 * time.Second):
		b.t.Error("agent did not stop within 30 s")
	}
}

// plugIn puts a simulated vehicle on the bay's bus.
func (b *bench) plugIn(profile string) func() {
	b.t.Helper()
	p, err := obdsim.Load(vehicleProfile(profile))
	if err != nil {
		b.t.Fatal(err)
	}
	v, err := obdsim.New(p, obdsim.Options{})
	if err != nil {
		b.t.Fatal(err)
	}
	stop := v.Start(context.Background(), b.hub.Bus("bay1"))
	return func() {
		if err := stop(); err != nil {
			b.t.Errorf("vehicle simulator: %v", err)
		}
	}
}

// records decodes the sealed records among msgs.
func (b *bench) records(msgs []mosquittotest.Message) []record.Record {
	var out []record.Record
	for _, m := range msgs {
		if m.Topic != topics.Records {
			continue
		}
		r, err := record.Decode(m.Payload)
		if err != nil {
			b.t.Fatalf("undecodable record on the wire: %v: %s", err, m.Payload)
		}
		out = append(out, r)
	}
	return out
}

// waitRecord waits for a record of the given kind matching cond.
func (b *bench) waitRecord(kind string, cond func(body map[string]any) bool) map[string]any {
	b.t.Helper()
	var found map[string]any
	b.obs.WaitFor(30*time.Second, "a "+kind+" record", func(msgs []mosquittotest.Message) bool {
		for _, r := range b.records(msgs) {
			if r.Kind != kind {
				continue
			}
			var body map[string]any
			if json.Unmarshal(r.Body, &body) == nil && (cond == nil || cond(body)) {
				found = body
				return true
			}
		}
		return false
	})
	return found
}

// command sends one command and waits for its reply.
func (b *bench) command(name string, args any) uplink.Reply {
	b.t.Helper()
	id := fmt.Sprintf("c%d", b.ids.Add(1))
	raw, _ := json.Marshal(uplink.Request{ID: id, Cmd: name, Args: args})
	return b.send(id, name, raw)
}

// waitOnline waits for the device's "online" status: commands are not
// queued for a device that has not subscribed yet.
func (b *bench) waitOnline() {
	b.t.Helper()
	b.obs.WaitFor(30*time.Second, "the device online", func(ms []mosquittotest.Message) bool {
		for _, m := range ms {
			if m.Topic == topics.Status && bytes.Contains(m.Payload, []byte(`"state":"online"`)) {
				return true
			}
		}
		return false
	})
}

// send publishes the command envelope raw (of command name with id) and
// waits for its reply.
func (b *bench) send(id, name string, raw []byte) uplink.Reply {
	b.t.Helper()
	tok := b.obs.Client().Publish(topics.Cmd, 1, false, raw)
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		b.t.Fatalf("publish command: %v", tok.Error())
	}
	var reply uplink.Reply
	b.obs.WaitFor(60*time.Second, "reply to "+name, func(ms []mosquittotest.Message) bool {
		for _, m := range ms {
			var r uplink.Reply
			if m.Topic == topics.Reply && json.Unmarshal(m.Payload, &r) == nil && r.ID == id {
				reply = r
				return true
			}
		}
		return false
	})
	return reply
}

func (b *bench) mustCommand(name string, args any) map[string]any {
	b.t.Helper()
	r := b.command(name, args)
	if !r.OK {
		b.t.Fatalf("%s: %s", name, r.Error)
	}
	var res map[string]any
	if err := r.Decode(&res); err != nil {
		b.t.Fatalf("%s: %v", name, err)
	}
	return res
}

// verify checks every record that reached the broker with the device's
// public key, as the health-record system would.
func (b *bench) verify() *record.Report {
	b.t.Helper()
	data, err := os.ReadFile(b.cfg.Device.KeyFile + ".pub.json")
	if err != nil {
		b.t.Fatal(err)
	}
	pub, dev, err := devicekey.ParsePublic(data)
	if err != nil || dev != device {
		b.t.Fatalf("public key file: %v (device %q)", err, dev)
	}
	var lines bytes.Buffer
	for _, m := range b.obs.Messages() {
		if m.Topic == topics.Records {
			lines.Write(m.Payload)
			lines.WriteByte('\n')
			// Every body the agent made is one its kind's schema accepts.
			if r, err := record.Decode(m.Payload); err == nil {
				s, err := minischema.Load(filepath.Join("..", "docs", "records", r.Kind+".schema.json"))
				if err == nil {
					err = s.ValidateJSON(r.Body)
				}
				if err != nil {
					b.t.Errorf("record %d (%s): body against its schema: %v\n%s", r.Seq, r.Kind, err, r.Body)
				}
			}
		}
	}
	return record.Verify(&lines, record.Keys{device: ed25519.PublicKey(pub)})
}

// TestAgentBay runs a whole emission-repair job through the agent against a
// real Mosquitto with TLS client certificates: a vehicle is plugged in and
// scanned on its own, a job is opened by command, scanned and measured
// before repair, its codes are cleared, the clean car is scanned and
// measured after repair, the job is closed, the vehicle leaves. Every record
// arrives and the stream verifies.
func TestAgentBay(t *testing.T) {
	b := newBench(t)
	b.start()

	// Plug-in detection: presence and an intake snapshot, unasked.
	unplug := b.plugIn("petrol-p0420")
	b.waitRecord("presence", func(m map[string]any) bool { return m["event"] == "connected" })
	intake := b.waitRecord("scan", func(m map[string]any) bool { return m["phase"] == "intake" })
	if snap := intake["snapshot"].(map[string]any); snap["vin"] != "LFV2A21K8A4052691" || snap["mil"] != true {
		t.Errorf("intake snapshot VIN %v MIL %v", snap["vin"], snap["mil"])
	}

	// Live feed for remote diagnosis: decoded values on the live topic,
	// never stored, stopped by command.
	res0 := b.mustCommand("live_start", map[string]any{"pids": []string{"0C", "0D"}, "rate_hz": 5, "duration_s": 30})
	if res0["rate_hz"] != 5.0 {
		t.Errorf("live_start result %v", res0)
	}
	b.obs.WaitFor(30*time.Second, "live samples with engine speed", func(ms []mosquittotest.Message) bool {
		for _, m := range ms {
			var lm agent.LiveMessage
			if m.Topic != topics.Live || json.Unmarshal(m.Payload, &lm) != nil {
				continue
			}
			for _, smp := range lm.Samples {
				for _, v := range smp.Values {
					if v.Name == "engine_speed" && v.Value == 780 {
						return true
					}
				}
			}
		}
		return false
	})
	if res := b.mustCommand("live_stop", map[string]any{}); res["stopped"] != true {
		t.Errorf("live_stop result %v", res)
	}
	if r := b.command("live_start", map[string]any{"pids": []string{"ZZ"}}); r.OK || r.Code != uplink.CodeBadArgument ||
		!slices.Equal(r.Fields, []string{"pids[0]"}) || !strings.Contains(r.Error, "pids") {
		t.Errorf("live_start with a bad PID: %+v", r)
	}

	b.mustCommand("open_job", map[string]any{
		"job_id": "J-1", "type": "emission_repair", "plate": "浙A12345", "mileage_km": 123457,
		"complaint": "failed two-speed idle", "technician": "T007", "test_no": "330106202603140012",
	})
	res := b.mustCommand("start_scan", map[string]any{})
	if res["phase"] != "before_repair" || res["vin"] != "LFV2A21K8A4052691" {
		t.Errorf("start_scan result %v", res)
	}
	if res := b.mustCommand("take_reading", map[string]any{}); res["phase"] != "before_repair" {
		t.Errorf("take_reading result %v", res)
	}

	// Malformed and refused commands are answered with the problem.
	if r := b.command("clear_dtcs", map[string]any{"reason": "repaired"}); r.OK || r.Code != uplink.CodeTechnicianRequired || !strings.Contains(r.Error, "technician") {
		t.Errorf("clear_dtcs without technician: %+v", r)
	}
	if r := b.command("start_scan", map[string]any{"bay": "bay9"}); r.OK || r.Code != uplink.CodeWrongBay || !strings.Contains(r.Error, `serves bay "bay1"`) ||
		r.Message[i18n.Chinese] != "本设备属于 bay1 号工位，不是 bay9 号工位。" {
		t.Errorf("a command for another bay: %+v", r)
	}
	if r := b.command("frobnicate", nil); r.OK || r.Code != uplink.CodeUnknownCommand || !strings.Contains(r.Error, "frobnicate") ||
		!strings.Contains(r.Message[i18n.English], `"frobnicate"`) {
		t.Errorf("unknown command: %+v", r)
	}

	res = b.mustCommand("clear_dtcs", map[string]any{"technician": "T007", "reason": "catalyst replaced"})
	if res["stage"] != "cleared" {
		t.Errorf("clear_dtcs result %v", res)
	}
	// Nothing is before the repair once codes were cleared.
	for _, cmd := range []string{"start_scan", "take_reading"} {
		wantRefused(t, cmd+" before_repair after the clear", b.command(cmd, map[string]any{"phase": "before_repair"}), uplink.CodePhaseNotAllowed)
	}
	res = b.mustCommand("start_scan", map[string]any{})
	if res["phase"] != "after_repair" || res["mil"] != false {
		t.Errorf("after-repair scan %v: want after_repair with the MIL off", res)
	}
	b.mustCommand("take_reading", map[string]any{})
	settlement := map[string]any{
		"technician": "T007", "settlement_no": "S-1", "settle_date": "2026-11-29", "repair_date": "2026-11-29",
		"items": []map[string]any{{"name": "replace catalytic converter", "working_hours": "1.5"}},
		"parts": []map[string]any{{"name": "catalytic converter", "code": "CAT-1", "quantity": "1"}},
	}
	// Readings are wiring checks: without a passing after-repair test the
	// job closes only with the override, and the reply says why.
	r := b.command("close_job", settlement)
	wantRefused(t, "close_job without a test", r, uplink.CodeEmissionNotPassed)
	if !strings.Contains(r.Error, "no after_repair emission test") {
		t.Errorf("close_job without a test: error %q does not say why", r.Error)
	}
	settlement["emission_waiver"], settlement["emission_waiver_by"] = "analyzer sent for calibration; re-test at the station", "T009"
	b.mustCommand("close_job", settlement)
	if body := b.waitRecord("job_close", nil); body["settlement"].(map[string]any)["emission_waiver_by"] != "T009" {
		t.Errorf("the override is not in the close record: %v", body["settlement"])
	}

	// A job opened by mistake is cancelled, not settled with made-up data.
	b.mustCommand("open_job", map[string]any{
		"job_id": "J-2", "type": "repair", "plate": "浙A54321", "mileage_km": 123457,
		"complaint": "opened by mistake", "technician": "T007",
	})
	if res := b.mustCommand("cancel_job", map[string]any{"technician": "T007", "reason": "wrong plate"}); res["kind"] != "job_cancel" {
		t.Errorf("cancel_job result %v", res)
	}

	unplug()
	b.waitRecord("presence", func(m map[string]any) bool { return m["event"] == "left" })

	// The retained status tells an operator the state at a glance.
	b.obs.WaitFor(30*time.Second, "a status without the vehicle, with the upload time", func(ms []mosquittotest.Message) bool {
		for i := len(ms) - 1; i >= 0; i-- {
			if ms[i].Topic != topics.Status {
				continue
			}
			var st map[string]any
			if json.Unmarshal(ms[i].Payload, &st) != nil {
				return false
			}
			_, hasUpload := st["last_upload"]
			return st["state"] == "online" && st["vehicle_connected"] == false && st["version"] == "test" && hasUpload
		}
		return false
	})

	b.stop()
	// Everything stored was acknowledged by the broker and left the outbox.
	box, err := outbox.Open(b.cfg.Outbox.Path, outbox.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if st, err := box.Stats(); err != nil || st.Depth != 0 || st.HeadSeq == 0 {
		t.Errorf("outbox after a graceful stop: %+v, %v; want every record acknowledged", st, err)
	}
	box.Close()
	rep := b.verify()
	if !rep.OK() || rep.Records < 10 {
		t.Errorf("the record stream does not verify (%d records):\n%s", rep.Records, rep)
	}
}

// testLogger sends the agent's log to the test's log.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// TestAgentResend: records the broker acknowledged stay in the outbox's
// archive; resend publishes again what it still holds and names what its
// bounds dropped; the status says the oldest seq a resend can give.
func TestAgentResend(t *testing.T) {
	b := newBench(t)
	b.cfg.Outbox.ArchiveMaxBytes = 2 << 10 // a few notes
	b.start()
	b.waitOnline()
	b.mustCommand("open_job", map[string]any{
		"job_id": "J-9", "type": "repair", "plate": "浙A12345", "mileage_km": 1000,
		"complaint": "noise", "technician": "T007",
	})
	for i := range 8 {
		b.mustCommand("add_note", map[string]any{"author": "T007", "text": fmt.Sprintf("note %d: %s", i, strings.Repeat("x", 200))})
	}
	const head = 9.0 // job_open and eight notes
	var status map[string]any
	b.obs.WaitFor(30*time.Second, "a status with every record acknowledged and archived", func(ms []mosquittotest.Message) bool {
		for i := len(ms) - 1; i >= 0; i-- {
			if ms[i].Topic != topics.Status {
				continue
			}
			status = nil
			if json.Unmarshal(ms[i].Payload, &status) != nil {
				return false
			}
			return status["outbox_depth"] == 0.0 && status["outbox_head_seq"] == head && status["archive_oldest_seq"].(float64) > 1
		}
		return false
	})
	oldest := uint64(status["archive_oldest_seq"].(float64))
	before := len(b.records(b.obs.Messages()))

	res := b.mustCommand("resend", map[string]any{"from_seq": 1, "to_seq": 9})
	want := fmt.Sprintf("map[from:1 to:%d]", oldest-1)
	if res["republished"] != float64(9-oldest+1) || fmt.Sprint(res["missing"]) != "["+want+"]" || res["head_seq"] != head {
		t.Fatalf("resend result %v; want %d republished, %s missing", res, 9-oldest+1, want)
	}
	// The records came again before the reply, byte-exact.
	recs := b.records(b.obs.Messages())
	again := map[uint64]int{}
	for _, r := range recs[before:] {
		again[r.Seq]++
	}
	for seq := oldest; seq <= 9; seq++ {
		if again[seq] != 1 {
			t.Errorf("seq %d republished %d times", seq, again[seq])
		}
	}
	if rep := b.verify(); !rep.OK() || rep.Devices[0].Duplicates.Count != int(9-oldest+1) {
		t.Errorf("stream with the resent records:\n%s", rep)
	}

	// Beyond the head nothing is missing yet; a range too long is refused.
	res = b.mustCommand("resend", map[string]any{"from_seq": 9, "to_seq": 50})
	if res["republished"] != 1.0 || fmt.Sprint(res["missing"]) != "[]" {
		t.Errorf("resend beyond the head: %v", res)
	}
	if r := b.command("resend", map[string]any{"from_seq": 1, "to_seq": 20000}); r.OK || r.Code != uplink.CodeBadArgument || !strings.Contains(r.Error, "to_seq") {
		t.Errorf("resend of 20000 records: %+v", r)
	}
	if r := b.command("resend", map[string]any{"from_seq": 0, "to_seq": 1}); r.OK || r.Code != uplink.CodeBadArgument || !strings.Contains(r.Error, "from_seq") {
		t.Errorf("resend from 0: %+v", r)
	}
}
