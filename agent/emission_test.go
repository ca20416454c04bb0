package agent_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bayagent/bayagent/agent/emission"
	"github.com/bayagent/bayagent/agent/emission/techsim"
	"github.com/bayagent/bayagent/agent/internal/mosquittotest"
	"github.com/bayagent/bayagent/agent/job"
	"github.com/bayagent/bayagent/agent/uplink"
	"github.com/bayagent/bayagent/drivers/analyzer/analyzersim"
	"github.com/bayagent/bayagent/drivers/obd/obdsim"
)

// TestAgentEmissionTest runs the two-speed idle test over MQTT commands on
// one machine: the simulated car on the bay's CAN bus, the simulated
// NHA-506 on a pty measuring that car's exhaust at the speed the car runs,
// and a simulated technician at the pedal following the agent's guidance.
// The dirty car fails (the reply names the gases and limits), the record
// keeps every second with the OBD live data beside it and the instrument's
// state; after the repair a test the technician spoils is aborted with the
// reason, the job does not close on it, and a passing test closes it.
func TestAgentEmissionTest(t *testing.T) {
	b := newBench(t)
	p, err := obdsim.Load(filepath.Join("..", "testdata", "vehicles", "petrol-p0420.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	car, err := obdsim.New(p, obdsim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	engine := car.ECUs()[0]
	stopCar := car.Start(context.Background(), b.hub.Bus("bay1"))
	t.Cleanup(func() { stopCar() })

	sim := b.serveAnalyzer(loadReadings(t, "nha506-p0420.yaml"), analyzersim.EngineFunc(func() float64 {
		rpm, _ := engine.Live("engine_speed")
		return rpm
	}))
	dev := strings.TrimPrefix(b.cfg.Analyzer.Interface, "nha506:")

	// The standard's times, cut short; everything else is the default.
	procedures := filepath.Join(t.TempDir(), "procedures.yaml")
	os.WriteFile(procedures, []byte("two_speed_idle: {precondition_s: 4, settle_s: 2, measure_s: 5, reach_s: 40}\n"), 0o600)
	b.cfg.Analyzer.Procedures = procedures

	tech := &techsim.Technician{Set: func(rpm float64) { engine.SetLive("engine_speed", rpm) }}
	b.guide, b.second = tech.Guide, 20*time.Millisecond
	b.start()
	b.waitRecord("presence", nil)
	b.mustCommand("open_job", map[string]any{
		"job_id": "J-E1", "type": "emission_repair", "plate": "浙A12345", "vin": "LFV2A21K8A4052691", "mileage_km": 123457,
		"complaint": "failed two-speed idle", "technician": "T007", "test_no": "330106202603140012",
	})

	res := b.mustCommand("run_emission_test", map[string]any{"method": "two_speed_idle", "technician": "T007"})
	if res["verdict"] != "fail" || res["phase"] != "before_repair" || res["kind"] != "emission_test" || res["unverified"] != true {
		t.Fatalf("before the repair: %v", res)
	}
	var failed []string
	for _, f := range res["failures"].([]any) {
		f := f.(map[string]any)
		failed = append(failed, f["mode"].(string)+" "+f["quantity"].(string))
	}
	if want := []string{"high_idle co", "high_idle hc", "idle co", "idle hc"}; !slices.Equal(failed, want) {
		t.Errorf("failures %v, want %v", failed, want)
	}
	text := res["text"].(map[string]any)
	if !strings.Contains(text["en"].(string), "idle CO 1.2% above the limit 0.6%") || !strings.Contains(text["zh-CN"].(string), "不合格") {
		t.Errorf("verdict text %v", text)
	}
	if want := []string{"check", "warm_up", "precondition", "high_idle", "idle", "done"}; !slices.Equal(tech.Steps(), want) {
		t.Errorf("the technician was guided through %v, want %v", tech.Steps(), want)
	}

	// The record: every second, with the vehicle's live data beside the
	// gases; the instrument and its state.
	body := b.waitRecord("emission_test", nil)
	raw, _ := json.Marshal(body)
	var tb job.EmissionTestBody
	if err := json.Unmarshal(raw, &tb); err != nil {
		t.Fatal(err)
	}
	if tb.Test.Instrument.Protocol != "nha506" || tb.Test.Zeroed == nil || tb.Instrument.Instrument.Port != dev || tb.Technician != "T007" {
		t.Errorf("instrument %+v, state %+v", tb.Test.Instrument, tb.Instrument)
	}
	measured := 0
	for _, s := range tb.Test.Samples {
		if s.Phase != emission.PhaseMeasure {
			continue
		}
		measured++
		names := map[string]float64{}
		for _, v := range s.OBD {
			if _, dup := names[v.Name]; !dup {
				names[v.Name] = v.Value
			}
		}
		for _, n := range []string{"engine_speed", "engine_load", "coolant_temperature", "vehicle_speed"} {
			if _, ok := names[n]; !ok {
				t.Fatalf("a measured sample lacks the OBD %s: %+v", n, s.OBD)
			}
		}
		if want := map[string]float64{emission.StepHighIdle: 2500, emission.StepIdle: 800}[s.Step]; names["engine_speed"] != want || s.RPM != want {
			t.Fatalf("%s sample at %g rpm (OBD %g), want %g", s.Step, s.RPM, names["engine_speed"], want)
		}
	}
	if measured != 10 {
		t.Errorf("%d measured samples, want 10", measured)
	}

	// The status shows the analyzer's day: zeroed just now, leak check due.
	b.obs.WaitFor(30*time.Second, "a status with the analyzer zeroed", func(msgs []mosquittotest.Message) bool {
		for _, m := range msgs {
			var st struct {
				Analyzer *emission.InstrumentState `json:"analyzer"`
			}
			if m.Topic == topics.Status && json.Unmarshal(m.Payload, &st) == nil && st.Analyzer != nil &&
				st.Analyzer.LastZero != nil && st.Analyzer.LastZero.OK && !st.Analyzer.ZeroDue && st.Analyzer.LeakCheckDue {
				return true
			}
		}
		return false
	})

	// The repair; the technician takes the foot off the pedal at high idle.
	b.mustCommand("add_note", map[string]any{"author": "T007", "text": "catalytic converter replaced", "repair_started": true})
	if err := sim.SetReadings(loadReadings(t, "nha506-repaired.yaml")); err != nil {
		t.Fatal(err)
	}
	tech.Misbehave = func(p emission.Progress) (float64, bool) {
		return 1500, p.Step == emission.StepHighIdle && p.Phase == emission.PhaseMeasure && p.Elapsed >= 2
	}
	res = b.mustCommand("run_emission_test", map[string]any{"method": "two_speed_idle"})
	if res["verdict"] != "aborted" || res["reason"] != emission.ReasonOutOfWindow || res["step"] != "high_idle" || res["phase"] != "after_repair" {
		t.Fatalf("spoilt test: %v", res)
	}
	settlement := map[string]any{
		"technician": "T007", "settlement_no": "S-E1", "settle_date": "2026-11-29", "repair_date": "2026-11-29",
		"items": []map[string]any{{"name": "replace catalytic converter", "working_hours": "1.5"}}, "parts": []map[string]any{},
	}
	r := b.command("close_job", settlement)
	wantRefused(t, "close after an aborted test", r, uplink.CodeEmissionNotPassed)
	if !strings.Contains(r.Error, "ABORTED") || !strings.Contains(r.Error, "1500 rpm") {
		t.Errorf("close after an aborted test: error %q does not say why", r.Error)
	}

	tech.Misbehave = nil
	if res := b.mustCommand("run_emission_test", map[string]any{"method": "two_speed_idle"}); res["verdict"] != "pass" {
		t.Fatalf("after the repair: %v", res)
	}
	if res := b.mustCommand("close_job", settlement); res["kind"] != "job_close" {
		t.Fatalf("close: %v", res)
	}

	// Refused before the test runs: a limit set that is not configured,
	// and without a job.
	if r := b.command("run_emission_test", map[string]any{"method": "two_speed_idle", "limit_set": "c"}); r.OK || r.Code != uplink.CodeNoOpenJob {
		t.Errorf("without a job: %+v", r)
	}
	b.mustCommand("open_job", map[string]any{
		"job_id": "J-E2", "type": "repair", "plate": "浙A12345", "mileage_km": 123457, "complaint": "service", "technician": "T007",
	})
	if r := b.command("run_emission_test", map[string]any{"method": "two_speed_idle", "limit_set": "c"}); r.OK || r.Code != uplink.CodeBadArgument ||
		!strings.Contains(r.Error, `limit set "c" is not configured`) {
		t.Errorf("unknown limit set: %+v", r)
	}
	if r := b.command("run_emission_test", map[string]any{"method": "asm"}); r.OK || r.Code != uplink.CodeBadArgument || !slices.Equal(r.Fields, []string{"method"}) {
		t.Errorf("unknown method: %+v", r)
	}
	if rep := b.verify(); !rep.OK() {
		t.Fatalf("records do not verify:\n%s", rep)
	}
}

// TestAgentAnalyzerDay: the status follows the analyzer through its day
// (warming up, then ready, asked while nobody uses it), and analyzer_check
// runs the leak check and the zero, whose outcomes the status shows.
func TestAgentAnalyzerDay(t *testing.T) {
	b := newBench(t)
	r := loadReadings(t, "nha506-repaired.yaml")
	r.Behaviour.WarmUpPolls, r.Behaviour.Leak = 30, true
	b.serveAnalyzer(r, nil)
	b.poll = 10 * time.Millisecond
	b.start()

	analyzerStatus := func(desc string, cond func(st emission.InstrumentState) bool) {
		t.Helper()
		b.obs.WaitFor(30*time.Second, desc, func(msgs []mosquittotest.Message) bool {
			for _, m := range msgs {
				var st struct {
					Analyzer *emission.InstrumentState `json:"analyzer"`
				}
				if m.Topic == topics.Status && json.Unmarshal(m.Payload, &st) == nil && st.Analyzer != nil && cond(*st.Analyzer) {
					return true
				}
			}
			return false
		})
	}
	analyzerStatus("a status with the analyzer warming up", func(st emission.InstrumentState) bool {
		return st.Mode == "warming_up" && st.WarmUpLeftS > 0 && st.ZeroDue
	})
	analyzerStatus("a status with the analyzer ready", func(st emission.InstrumentState) bool {
		return st.Mode == "ready" && st.Checked != nil && st.Instrument.Protocol == "nha506"
	})

	res := b.mustCommand("analyzer_check", map[string]any{"check": "leak_check", "technician": "T007"})
	if res["ok"] != false || !strings.Contains(res["error"].(string), "leaks") {
		t.Fatalf("leak check: %v", res)
	}
	analyzerStatus("a status with the failed leak check", func(st emission.InstrumentState) bool {
		return st.LastLeakCheck != nil && !st.LastLeakCheck.OK && st.LeakCheckDue
	})
	if res := b.mustCommand("analyzer_check", map[string]any{"check": "zero"}); res["ok"] != true {
		t.Fatalf("zero: %v", res)
	}
	analyzerStatus("a status with a fresh zero", func(st emission.InstrumentState) bool {
		return st.LastZero != nil && st.LastZero.OK && !st.ZeroDue
	})
	if r := b.command("analyzer_check", map[string]any{"check": "calibrate"}); r.OK || r.Code != uplink.CodeBadArgument {
		t.Errorf("unknown check: %+v", r)
	}
}
