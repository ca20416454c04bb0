package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/bayagent/bayagent/agent/command"
	"github.com/bayagent/bayagent/agent/emission"
	"github.com/bayagent/bayagent/agent/emission/techsim"
	"github.com/bayagent/bayagent/agent/job"
	"github.com/bayagent/bayagent/agent/record"
	"github.com/bayagent/bayagent/drivers/analyzer/analyzersim"
)

// script is the emission-repair job, driven over MQTT commands as the
// shop's software and the technician's app send them.
type script struct {
	obs *observer
	p   *printer
	vin string
	// analyzer is the simulated analyzer; after the repair it measures
	// the repaired car's exhaust (repaired).
	analyzer *analyzersim.Sim
	repaired *analyzersim.Readings
	tech     *techsim.Technician
}

// result is a command's reply result (see agent.Command).
type result struct {
	Kind    string            `json:"kind"`
	Phase   string            `json:"phase"`
	MIL     bool              `json:"mil"`
	DTCs    map[string]int    `json:"dtcs"`
	Stage   string            `json:"stage"`
	ECUs    []string          `json:"ecus"`
	Verdict string            `json:"verdict"`
	Text    map[string]string `json:"text"`
}

func (s *script) do(ctx context.Context, name string, args any) (result, error) {
	rep, err := s.obs.command(ctx, name, args)
	if err != nil {
		return result{}, err
	}
	var r result
	if len(rep.Result) > 0 {
		if err := json.Unmarshal(rep.Result, &r); err != nil {
			return result{}, fmt.Errorf("%s: reply result: %w", name, err)
		}
	}
	return r, nil
}

func (s *script) run(ctx context.Context) error {
	s.p.section("The job, driven over MQTT commands as the shop's software and the technician's app send them")

	// The agent finds the car on its own and scans it.
	intake, err := s.obs.waitRecord(ctx, record.KindScan, "", func(body []byte) bool {
		var b job.ScanBody
		return json.Unmarshal(body, &b) == nil && b.Phase == job.PhaseIntake
	})
	if err != nil {
		return err
	}
	var ib job.ScanBody
	if err := json.Unmarshal(intake.Body, &ib); err != nil {
		return err
	}
	s.p.step("(plug-in)", "the agent found the car by itself", fmt.Sprintf("presence + intake scan: VIN %s, MIL %s, %d stored DTCs",
		ib.Snapshot.VIN, onOff(ib.Snapshot.MIL), ib.Snapshot.DTCs.Stored))

	if _, err := s.do(ctx, command.OpenJob, map[string]any{
		"job_id": JobID, "type": job.TypeEmissionRepair, "plate": Plate, "plate_color": job.PlateBlue,
		"vin": s.vin, "mileage_km": 123457, "complaint": "failed the two-speed idle test: HC and CO above limit a, MIL on",
		"technician": Technician, "test_no": TestNo,
	}); err != nil {
		return err
	}
	s.p.step(command.OpenJob, JobID+" emission_repair, "+Plate+", test_no "+TestNo, "job_open stored")

	if err := s.scan(ctx, job.PhaseBeforeRepair); err != nil {
		return err
	}
	if err := s.test(ctx, job.PhaseBeforeRepair, emission.Fail); err != nil {
		return err
	}

	work := "replaced the catalytic converter and the front O2 sensor"
	if _, err := s.do(ctx, command.AddNote, map[string]any{"author": Technician, "text": work, "repair_started": true}); err != nil {
		return err
	}
	s.p.step(command.AddNote, Technician+": "+work, "note stored (repair started)")

	reason := "catalytic converter and front O2 sensor replaced (P0420, P0171)"
	r, err := s.do(ctx, command.ClearDTCs, map[string]any{"technician": Technician, "reason": reason})
	if err != nil {
		return err
	}
	s.p.step(command.ClearDTCs, Technician+": "+reason, fmt.Sprintf("requested, then %s by ECUs %s", r.Stage, strings.Join(r.ECUs, ", ")))

	if err := s.scan(ctx, job.PhaseAfterRepair); err != nil {
		return err
	}
	if err := s.analyzer.SetReadings(s.repaired); err != nil {
		return err
	}
	if err := s.test(ctx, job.PhaseAfterRepair, emission.Pass); err != nil {
		return err
	}

	today := time.Now().Format("2006-01-02")
	settlement := map[string]any{
		"technician": Technician, "settlement_no": "S-" + strings.ReplaceAll(today, "-", "") + "-0001",
		"settle_date": today, "repair_date": today,
		"items": []map[string]any{
			{"name": "replace catalytic converter", "working_hours": "1.5"},
			{"name": "replace front oxygen sensor", "working_hours": "0.5"},
			{"name": "emission re-test preparation (two-speed idle)", "working_hours": "0.3"},
		},
		"parts": []map[string]any{
			{"name": "three-way catalytic converter", "code": "CAT-LFV-1K0131701", "quantity": "1"},
			{"name": "front oxygen sensor", "code": "O2S-06A906262", "quantity": "1"},
			{"name": "exhaust gasket", "code": "GSK-1K0253115", "quantity": "2"},
		},
	}
	if _, err := s.do(ctx, command.CloseJob, settlement); err != nil {
		return err
	}
	if _, err := s.obs.waitRecord(ctx, record.KindJobClose, JobID, nil); err != nil {
		return err
	}
	s.p.step(command.CloseJob, "settlement "+settlement["settlement_no"].(string)+": 3 items, 3 parts", "job_close stored and received")
	return nil
}

func (s *script) scan(ctx context.Context, phase job.Phase) error {
	r, err := s.do(ctx, command.StartScan, map[string]any{})
	if err != nil {
		return err
	}
	if r.Phase != string(phase) {
		return fmt.Errorf("start_scan: the agent recorded phase %q, want %q", r.Phase, phase)
	}
	s.p.step(command.StartScan, "", fmt.Sprintf("%s scan stored: MIL %s, %d stored, %d pending, %d permanent DTCs",
		r.Phase, onOff(r.MIL), r.DTCs["stored"], r.DTCs["pending"], r.DTCs["permanent"]))
	return nil
}

// test runs the two-speed idle test; the car is to give verdict (the
// dirty car fails, the repaired one passes).
func (s *script) test(ctx context.Context, phase job.Phase, verdict string) error {
	r, err := s.do(ctx, command.RunEmissionTest, map[string]any{"method": emission.TwoSpeedIdle, "technician": Technician})
	if err != nil {
		return err
	}
	if r.Phase != string(phase) || r.Verdict != verdict {
		return fmt.Errorf("run_emission_test: the agent recorded a %s %q test, want %s %q: %s", r.Phase, r.Verdict, phase, verdict, r.Text["en"])
	}
	s.p.step(command.RunEmissionTest, emission.TwoSpeedIdle+", "+Technician+" at the pedal", r.Phase+" emission_test stored")
	s.p.printf("  %-17s   guided through: %s\n", "", strings.Join(s.tech.Steps(), ", "))
	s.p.printf("  %-17s   verdict: %s\n", "", r.Text["en"])
	s.p.printf("  %-17s   判定: %s\n", "", r.Text["zh-CN"])
	s.tech.Reset()
	return nil
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}
