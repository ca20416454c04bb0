package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/bayagent/bayagent/agent/job"
	"github.com/bayagent/bayagent/agent/uplink"
	"github.com/bayagent/bayagent/drivers/obd"
)

// Command runs one command from the MQTT command topic (uplink.Commander).
// The arguments are decoded strictly by package job; each command's result
// names the record it stored, and is returned only once that record is
// durable. Commands:
//
//	open_job     {job_id, type, plate, vin?, mileage_km, complaint, technician, test_no?}
//	close_job    {technician, settlement_no, settle_date, repair_date, items, parts, ...}
//	cancel_job   {technician, reason}          abandon the open job without settlement
//	add_note     {author, text, repair_started?}
//	clear_dtcs   {technician, reason}          Mode 04; needs an open job
//	start_scan   {phase?}                      a snapshot of the connected vehicle
//	take_reading {phase?}                      a reading from the analyzer
//	live_start   {pids, rate_hz?, duration_s?} decoded values on the live topic
//	live_stop    {}
//	resend       {from_seq, to_seq}            publish again what the outbox still holds
func (a *Agent) Command(ctx context.Context, name string, raw json.RawMessage) (any, error) {
	args, err := job.DecodeCommandArgs(name, raw)
	if errors.Is(err, job.ErrUnknownCommand) {
		return nil, fmt.Errorf("%w: %w", uplink.ErrUnknownCommand, err)
	}
	if err != nil {
		return nil, err
	}
	if bay := args.BayName(); bay != "" && bay != a.bay {
		return nil, fmt.Errorf("this box serves bay %q, not %q", a.bay, bay)
	}
	switch c := args.(type) {
	case *job.OpenJobArgs:
		return eventResult(a.jobs.OpenJob(ctx, a.bay, c.Opening(a.cfg.Device.Shop)))
	case *job.CloseJobArgs:
		closed, ev, err := a.jobs.Close(ctx, a.bay, c.Technician, c.Settlement)
		if err != nil {
			return nil, err
		}
		return map[string]any{"kind": ev.Kind, "job": ev.Job, "events": closed.Events}, nil
	case *job.CancelJobArgs:
		return eventResult(a.jobs.Cancel(ctx, a.bay, c.Technician, c.Reason))
	case *job.AddNoteArgs:
		return eventResult(a.jobs.Note(ctx, a.bay, c.Note))
	case *job.ClearDTCsArgs:
		jobID := a.openJobID() // ClearDTCs holds the job manager while it clears
		clear := func(ctx context.Context) ([]obd.ECU, error) { return a.clearDTCs(ctx, jobID, c.Technician) }
		return eventResult(a.jobs.ClearDTCs(ctx, a.bay, c.DTCClear, clear))
	case *job.StartScanArgs:
		return eventResult(a.scanNow(ctx, c.Phase))
	case *job.TakeReadingArgs:
		return eventResult(a.readNow(ctx, c.Phase))
	case *job.LiveStartArgs:
		return a.startLive(c)
	case *job.LiveStopArgs:
		stopped := a.stopLive("stopped by command")
		return map[string]any{"stopped": stopped}, nil
	case *job.ResendArgs:
		res, err := Resend(ctx, a.box, a.up, c, a.log)
		if err != nil {
			return nil, err
		}
		return res, nil
	}
	return nil, fmt.Errorf("%w: %q has no handler", uplink.ErrUnknownCommand, name)
}

// eventResult is a command's reply for a stored event: its kind and job,
// and the phase or stage where it has one.
func eventResult(ev job.Event, err error) (any, error) {
	if err != nil {
		return nil, err
	}
	res := map[string]any{"kind": ev.Kind, "stored": true}
	if ev.Job != "" {
		res["job"] = ev.Job
	}
	switch b := ev.Body.(type) {
	case job.ScanBody:
		res["phase"] = b.Phase
		res["vin"] = b.Snapshot.VIN
		res["mil"] = b.Snapshot.MIL
		res["dtcs"] = b.Snapshot.DTCs
	case job.EmissionBody:
		res["phase"] = b.Phase
	case job.DTCClearBody:
		res["stage"] = b.Stage
		res["ecus"] = b.ECUs
	}
	return res, nil
}
