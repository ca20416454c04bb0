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
	"github.com/bayagent/bayagent/agent/i18n"
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
	p := s.p
	p.section(p.t("section.job"))

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
	p.step(p.t("step.plug_in"), p.t("step.found"), p.t("step.intake", "vin", ib.Snapshot.VIN, "mil", onOff(ib.Snapshot.MIL, p.lang), "n", ib.Snapshot.DTCs.Stored))

	if _, err := s.do(ctx, command.OpenJob, map[string]any{
		"job_id": JobID, "type": job.TypeEmissionRepair, "plate": Plate, "plate_color": job.PlateBlue,
		"vin": s.vin, "mileage_km": 123457, "complaint": p.t("data.complaint"),
		"technician": Technician, "test_no": TestNo,
	}); err != nil {
		return err
	}
	p.step(command.OpenJob, p.t("step.open_job", "job", JobID, "type", p.in("web.jobtype."+string(job.TypeEmissionRepair)), "plate", Plate, "test_no", TestNo), p.t("step.job_open_stored"))

	if err := s.scan(ctx, job.PhaseBeforeRepair); err != nil {
		return err
	}
	if err := s.test(ctx, job.PhaseBeforeRepair, emission.Fail); err != nil {
		return err
	}

	work := p.t("data.work")
	if _, err := s.do(ctx, command.AddNote, map[string]any{"author": Technician, "text": work, "repair_started": true}); err != nil {
		return err
	}
	p.step(command.AddNote, Technician+": "+work, p.t("step.note_stored"))

	reason := p.t("data.reason")
	r, err := s.do(ctx, command.ClearDTCs, map[string]any{"technician": Technician, "reason": reason})
	if err != nil {
		return err
	}
	p.step(command.ClearDTCs, Technician+": "+reason, p.t("step.cleared", "stage", p.in("web.clear."+r.Stage), "ecus", strings.Join(r.ECUs, ", ")))

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
			{"name": p.t("data.item_cat"), "working_hours": "1.5"},
			{"name": p.t("data.item_o2"), "working_hours": "0.5"},
			{"name": p.t("data.item_prep"), "working_hours": "0.3"},
		},
		"parts": []map[string]any{
			{"name": p.t("data.part_cat"), "code": "CAT-LFV-1K0131701", "quantity": "1"},
			{"name": p.t("data.part_o2"), "code": "O2S-06A906262", "quantity": "1"},
			{"name": p.t("data.part_seal"), "code": "GSK-1K0253115", "quantity": "2"},
		},
	}
	if _, err := s.do(ctx, command.CloseJob, settlement); err != nil {
		return err
	}
	if _, err := s.obs.waitRecord(ctx, record.KindJobClose, JobID, nil); err != nil {
		return err
	}
	p.step(command.CloseJob, p.t("step.settlement", "no", settlement["settlement_no"], "items", 3, "parts", 3), p.t("step.job_close_stored"))
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
	p := s.p
	p.step(command.StartScan, "", p.t("step.scan_stored", "phase", p.in("web.phase."+r.Phase), "mil", onOff(r.MIL, p.lang),
		"stored", r.DTCs["stored"], "pending", r.DTCs["pending"], "permanent", r.DTCs["permanent"]))
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
	p := s.p
	p.step(command.RunEmissionTest, p.t("step.test", "method", p.in("emission.method."+emission.TwoSpeedIdle), "technician", Technician),
		p.t("step.test_stored", "phase", p.in("web.phase."+r.Phase)))
	var steps []string
	for _, st := range s.tech.Steps() {
		steps = append(steps, p.in("emission.step."+st))
	}
	p.printf("  %-17s   %s\n", "", p.t("step.guided", "steps", strings.Join(steps, ", ")))
	p.printf("  %-17s   %s\n", "", p.t("step.verdict", "verdict", r.Text[p.lang.String()]))
	s.tech.Reset()
	return nil
}

// onOff is the state of a lamp, as the bay screen says it.
func onOff(b bool, l i18n.Lang) string {
	if b {
		return i18n.Text(l, "web.on")
	}
	return i18n.Text(l, "web.off")
}
