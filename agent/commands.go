package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/bayagent/bayagent/agent/check"
	"github.com/bayagent/bayagent/agent/command"
	"github.com/bayagent/bayagent/agent/job"
	"github.com/bayagent/bayagent/agent/outbox"
	"github.com/bayagent/bayagent/agent/scan"
	"github.com/bayagent/bayagent/agent/uplink"
	"github.com/bayagent/bayagent/drivers/analyzer"
	"github.com/bayagent/bayagent/drivers/obd"
)

// Command runs one command from the MQTT command topic (uplink.Commander).
// The commands, their arguments and their lanes are package command's (the
// reference is docs/commands.md); each command's result names the record
// it stored, and is returned only once that record is durable. An error
// carries its reply code (replyCodes) and is logged with it.
func (a *Agent) Command(ctx context.Context, name string, raw json.RawMessage) (any, error) {
	res, err := a.command(ctx, name, raw)
	if errors.Is(err, job.ErrStateNotSaved) {
		// The bay is stopped from now on: the fault light and the status say so.
		a.setLights()
		a.up.NotifyStatus()
		a.screen.Changed()
	}
	if err != nil {
		err = withReplyCode(name, err)
		a.log.Warn("command refused", "cmd", name, "code", replyCode(err), "err", err)
	}
	return res, err
}

// Lane is the lane command name runs in (uplink.Commander): the vehicle's,
// the analyzer's, or the bay's for everything that touches neither, so a
// stuck vehicle interface holds up only the commands that need it.
func (a *Agent) Lane(name string) string { return command.Lane(name) }

func (a *Agent) command(ctx context.Context, name string, raw json.RawMessage) (any, error) {
	args, err := command.Decode(name, raw)
	if err != nil {
		return nil, err
	}
	if bay := args.BayName(); bay != "" && bay != a.bay {
		return nil, uplink.WithCode(uplink.CodeWrongBay, fmt.Errorf("%w: this box serves bay %q, not %q", errWrongBay, a.bay, bay), "bay", a.bay, "asked", bay)
	}
	switch c := args.(type) {
	case *command.OpenJobArgs:
		return eventResult(a.jobs.OpenJob(ctx, a.bay, c.Opening(a.cfg.Device.Shop)))
	case *command.CloseJobArgs:
		closed, ev, err := a.jobs.CloseJob(ctx, a.bay, c.Technician, c.Settlement)
		if err != nil {
			return nil, err
		}
		return map[string]any{"kind": ev.Kind, "job": ev.Job, "events": closed.Events}, nil
	case *command.CancelJobArgs:
		return eventResult(a.jobs.Cancel(ctx, a.bay, c.Technician, c.Reason))
	case *command.AddNoteArgs:
		return eventResult(a.jobs.Note(ctx, a.bay, c.Note))
	case *command.ClearDTCsArgs:
		jobID := a.openJobID()
		clear := func(ctx context.Context) ([]obd.ECU, error) { return a.clearDTCs(ctx, jobID, c.Technician) }
		return eventResult(a.jobs.ClearDTCs(ctx, a.bay, c.DTCClear, clear))
	case *command.StartScanArgs:
		return eventResult(a.scanNow(ctx, c.Phase))
	case *command.TakeReadingArgs:
		return eventResult(a.readNow(ctx, c.Phase))
	case *command.RunEmissionTestArgs:
		return testResult(a.runEmissionTest(ctx, c))
	case *command.AnalyzerCheckArgs:
		return a.analyzerCheck(ctx, c)
	case *command.LiveStartArgs:
		return a.startLive(c)
	case *command.LiveStopArgs:
		stopped := a.cancelLive("stopped by command") != nil
		return map[string]any{"stopped": stopped}, nil
	case *command.ResendArgs:
		res, err := Resend(ctx, a.box, a.up, c, a.log)
		if err != nil {
			return nil, err
		}
		return res, nil
	}
	return nil, fmt.Errorf("%w: %q has no handler", command.ErrUnknown, name)
}

// errWrongBay: the command names a bay this box does not serve.
var errWrongBay = errors.New("agent: wrong bay")

// replyCodes are the reply codes of the errors commands give, the first
// match (errors.Is) in this order wins: a missing technician before other
// argument problems, a full outbox before "not stored".
var replyCodes = []struct {
	err  error
	code uplink.Code
}{
	{command.ErrUnknown, uplink.CodeUnknownCommand},
	{check.ErrNoTechnician, uplink.CodeTechnicianRequired},
	{command.ErrArgs, uplink.CodeBadArgument},
	{check.ErrInvalid, uplink.CodeBadArgument},
	{errWrongBay, uplink.CodeWrongBay},
	{job.ErrNoJob, uplink.CodeNoOpenJob},
	{job.ErrBayBusy, uplink.CodeJobAlreadyOpen},
	{job.ErrJobExists, uplink.CodeJobIDUsed},
	{job.ErrPhase, uplink.CodePhaseNotAllowed},
	{job.ErrJobFull, uplink.CodeJobFull},
	{job.ErrEmissionNotPassed, uplink.CodeEmissionNotPassed},
	{errBadTest, uplink.CodeBadArgument},
	{job.ErrClearing, uplink.CodeVehicleBusy},
	{outbox.ErrFull, uplink.CodeStorageFull},
	{job.ErrNotStored, uplink.CodeNotStored},
	{job.ErrStateNotSaved, uplink.CodeJobNotSaved},
	{job.ErrUnsaved, uplink.CodeBayStopped},
	{ErrNoVehicle, uplink.CodeVehicleNotConnected},
	{scan.ErrNoVehicle, uplink.CodeVehicleNotConnected},
	{ErrLiveJ1939, uplink.CodeNotSupported},
	{ErrNoAnalyzer, uplink.CodeNoAnalyzer},
	{ErrAnalyzerBusy, uplink.CodeBusy},
	{analyzer.ErrUnsupported, uplink.CodeNotSupported},
	{ErrAnalyzer, uplink.CodeAnalyzerError},
	{ErrVehicle, uplink.CodeVehicleError},
	{job.ErrClearFailed, uplink.CodeVehicleError},
	{context.Canceled, uplink.CodeShuttingDown},
}

// withReplyCode gives a command's error its reply code (and, for argument
// problems, the fields at fault), unless it carries one already.
func withReplyCode(name string, err error) error {
	if _, ok := errors.AsType[*uplink.Error](err); ok {
		return err
	}
	for _, rc := range replyCodes {
		if !errors.Is(err, rc.err) {
			continue
		}
		e := &uplink.Error{Code: rc.code, Err: err}
		switch rc.code {
		case uplink.CodeBadArgument, uplink.CodeTechnicianRequired:
			e.Fields = check.Fields(err)
		case uplink.CodeUnknownCommand:
			e.Args = []any{"cmd", name}
		}
		return e
	}
	return err
}

// replyCode is the code err is answered with.
func replyCode(err error) uplink.Code { return uplink.ErrorReply("", err).Code }

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
