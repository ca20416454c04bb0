package command

import (
	"fmt"
	"strconv"

	"github.com/bayagent/bayagent/agent/check"
	"github.com/bayagent/bayagent/agent/emission"
	"github.com/bayagent/bayagent/agent/job"
	"github.com/bayagent/bayagent/agent/record"
	"github.com/bayagent/bayagent/drivers/obd"
)

// BayArg is the optional "bay" of every command: empty means the box's
// default bay (the agent's configuration).
type BayArg struct {
	Bay string `json:"bay,omitempty"`
}

// BayName implements Args.
func (b BayArg) BayName() string { return b.Bay }

// OpenJobArgs are the arguments of open_job. The shop code comes from the
// box's configuration, not from the command.
type OpenJobArgs struct {
	BayArg
	ID         string         `json:"job_id"`
	Type       job.Type       `json:"type"`
	Plate      string         `json:"plate"`
	PlateColor job.PlateColor `json:"plate_color,omitempty"`
	VIN        string         `json:"vin,omitempty"`
	MileageKM  int            `json:"mileage_km"`
	Complaint  string         `json:"complaint"`
	Technician string         `json:"technician"`
	TestNo     string         `json:"test_no,omitempty"`
}

// Opening returns the opening of the job at the shop with code shop.
func (a *OpenJobArgs) Opening(shop string) job.Opening {
	return job.Opening{ID: a.ID, Type: a.Type, Shop: shop, Plate: a.Plate, PlateColor: a.PlateColor, VIN: a.VIN,
		MileageKM: a.MileageKM, Complaint: a.Complaint, Technician: a.Technician, TestNo: a.TestNo}
}

// check implements Args.
func (a *OpenJobArgs) check(p *check.Problems) {
	o := a.Opening("")
	o.Check(p, "")
}

// CloseJobArgs are the arguments of close_job: the technician who closes
// and the settlement (its members inline: settlement_no, settle_date,
// repair_date, items, parts, fault_description, emission_waiver,
// emission_waiver_by).
type CloseJobArgs struct {
	BayArg
	Technician string `json:"technician"`
	job.Settlement
}

// check implements Args.
func (a *CloseJobArgs) check(p *check.Problems) {
	check.Technician(p, "technician", a.Technician)
	a.Settlement.Check(p, "")
}

// CancelJobArgs are the arguments of cancel_job: who abandons the open job
// without settlement, and why.
type CancelJobArgs struct {
	BayArg
	Technician string `json:"technician"`
	Reason     string `json:"reason"`
}

// check implements Args.
func (a *CancelJobArgs) check(p *check.Problems) { job.CheckCancel(p, a.Technician, a.Reason) }

// AddNoteArgs are the arguments of add_note.
type AddNoteArgs struct {
	BayArg
	job.Note
}

// check implements Args.
func (a *AddNoteArgs) check(p *check.Problems) { a.Note.Check(p) }

// ClearDTCsArgs are the arguments of clear_dtcs. The technician id is
// required (ErrNoTechnician); the open job is checked by Manager.ClearDTCs
// (ErrNoJob).
type ClearDTCsArgs struct {
	BayArg
	job.DTCClear
}

// check implements Args.
func (a *ClearDTCsArgs) check(p *check.Problems) { a.DTCClear.Check(p) }

// StartScanArgs are the arguments of start_scan. Phase is optional: empty
// takes the job's phase (intake without a job).
type StartScanArgs struct {
	BayArg
	Phase job.Phase `json:"phase,omitempty"`
}

// check implements Args.
func (a *StartScanArgs) check(p *check.Problems) {
	job.CheckScanPhase(p, "phase", a.Phase)
}

// TakeReadingArgs are the arguments of take_reading. Phase is optional:
// empty takes the job's phase.
type TakeReadingArgs struct {
	BayArg
	Phase job.Phase `json:"phase,omitempty"`
}

// check implements Args.
func (a *TakeReadingArgs) check(p *check.Problems) {
	job.CheckReadingPhase(p, "phase", a.Phase)
}

// RunEmissionTestArgs are the arguments of run_emission_test: the
// procedure (two_speed_idle or free_acceleration), optionally the phase
// (empty takes the job's), the limit set (empty: the configured one), the
// heavy vehicles' high idle window, and the technician who runs it.
type RunEmissionTestArgs struct {
	BayArg
	Method     string    `json:"method"`
	Phase      job.Phase `json:"phase,omitempty"`
	LimitSet   string    `json:"limit_set,omitempty"`
	Heavy      bool      `json:"heavy,omitempty"`
	Technician string    `json:"technician,omitempty"`
}

func (a *RunEmissionTestArgs) check(p *check.Problems) {
	check.Enum(p, "method", a.Method, emission.Methods(), true)
	job.CheckReadingPhase(p, "phase", a.Phase)
	if a.LimitSet != "" {
		check.Code(p, "limit_set", a.LimitSet)
	}
	if a.Technician != "" {
		check.Technician(p, "technician", a.Technician)
	}
}

// AnalyzerCheckArgs are the arguments of analyzer_check: which check
// (zero or leak_check) and who runs it.
type AnalyzerCheckArgs struct {
	BayArg
	Check      string `json:"check"`
	Technician string `json:"technician,omitempty"`
}

func (a *AnalyzerCheckArgs) check(p *check.Problems) {
	check.Enum(p, "check", a.Check, emission.Checks(), true)
	if a.Technician != "" {
		check.Technician(p, "technician", a.Technician)
	}
}

// LiveStartArgs are the arguments of live_start: the Mode 01 PIDs to
// sample, as two hex digits each ("0C", "0d"), how often (rate_hz, 0.1 to
// 10, default 1) and for how long (duration_s, 1 to 1800, default 60).
type LiveStartArgs struct {
	BayArg
	PIDs      []string `json:"pids"`
	RateHz    float64  `json:"rate_hz,omitempty"`
	DurationS int      `json:"duration_s,omitempty"`
}

// check implements Args.
func (a *LiveStartArgs) check(p *check.Problems) {
	switch {
	case len(a.PIDs) == 0:
		p.Add("pids", "must list 1 to %d Mode 01 PIDs as two hex digits, e.g. [\"0C\", \"0D\"]", MaxLivePIDs)
	case len(a.PIDs) > MaxLivePIDs:
		p.Add("pids", "must list at most %d PIDs, got %d", MaxLivePIDs, len(a.PIDs))
	default:
		seen := make(map[obd.PID]bool)
		for i, s := range a.PIDs {
			f := fmt.Sprintf("pids[%d]", i)
			pid, err := parsePID(s)
			switch {
			case err != nil:
				p.Add(f, "must be two hex digits, e.g. \"0C\": %q", check.Clip(s))
			case pid%0x20 == 0:
				p.Add(f, "%s is a supported-PIDs bitmap, not live data", pid)
			case seen[pid]:
				p.Add(f, "%s is listed twice", pid)
			}
			seen[pid] = true
		}
	}
	if a.RateHz != 0 && !(a.RateHz >= MinLiveRateHz && a.RateHz <= MaxLiveRateHz) {
		p.Add("rate_hz", "must be from %g to %g: %g", MinLiveRateHz, MaxLiveRateHz, a.RateHz)
	}
	if a.DurationS != 0 && (a.DurationS < 1 || a.DurationS > MaxLiveDurationS) {
		p.Add("duration_s", "must be from 1 to %d: %d", MaxLiveDurationS, a.DurationS)
	}
}

// PIDList returns the PIDs; call it on validated arguments.
func (a *LiveStartArgs) PIDList() []obd.PID {
	out := make([]obd.PID, 0, len(a.PIDs))
	for _, s := range a.PIDs {
		if pid, err := parsePID(s); err == nil {
			out = append(out, pid)
		}
	}
	return out
}

// Rate returns rate_hz or its default.
func (a *LiveStartArgs) Rate() float64 {
	if a.RateHz == 0 {
		return DefaultLiveRateHz
	}
	return a.RateHz
}

// Seconds returns duration_s or its default.
func (a *LiveStartArgs) Seconds() int {
	if a.DurationS == 0 {
		return DefaultLiveSeconds
	}
	return a.DurationS
}

func parsePID(s string) (obd.PID, error) {
	if len(s) != 2 {
		return 0, strconv.ErrSyntax
	}
	v, err := strconv.ParseUint(s, 16, 8)
	return obd.PID(v), err
}

// LiveStopArgs are the arguments of live_stop.
type LiveStopArgs struct {
	BayArg
}

// check implements Args: live_stop takes only the bay.
func (*LiveStopArgs) check(*check.Problems) {}

// MaxResendRecords is the largest range one resend may ask for; a
// receiver asks for a longer gap in several commands.
const MaxResendRecords = 10000

// ResendArgs are the arguments of resend: the health-record side found the
// records from_seq to to_seq (inclusive) missing and asks the box to
// publish again what its outbox still holds of them. The answer is a
// ResendResult. Resend touches neither the vehicle nor a job, so it names
// no bay.
type ResendArgs struct {
	FromSeq uint64 `json:"from_seq"`
	ToSeq   uint64 `json:"to_seq"`
}

// BayName implements Args: resend serves the whole box.
func (*ResendArgs) BayName() string { return "" }

// check implements Args.
func (a *ResendArgs) check(p *check.Problems) {
	switch {
	case a.FromSeq < 1 || a.FromSeq > record.MaxSeq:
		p.Add("from_seq", "must be a record sequence number, 1 to %d: %d", uint64(record.MaxSeq), a.FromSeq)
	case a.ToSeq < a.FromSeq || a.ToSeq > record.MaxSeq:
		p.Add("to_seq", "must be from from_seq (%d) to %d: %d", a.FromSeq, uint64(record.MaxSeq), a.ToSeq)
	case a.ToSeq-a.FromSeq >= MaxResendRecords:
		p.Add("to_seq", "must be below from_seq + %d (at most %d records per resend; ask for a longer gap in parts): %d", MaxResendRecords, MaxResendRecords, a.ToSeq)
	}
}

// ResendResult is the result of a resend: what the box published again
// (archived or still pending records, on the records topic, before the
// reply), and what it no longer has.
type ResendResult struct {
	FromSeq uint64 `json:"from_seq"`
	ToSeq   uint64 `json:"to_seq"`
	// Republished counts the records published again; the broker
	// acknowledged each before the reply was sent.
	Republished int `json:"republished"`
	// Missing are the seqs of the range the box no longer holds (dropped
	// from its archive, or lost with a damaged outbox): a permanent gap.
	Missing []record.SeqRange `json:"missing"`
	// Quarantined are records the box holds but set aside as
	// unpublishable; they are not sent.
	Quarantined []uint64 `json:"quarantined"`
	// HeadSeq is the box's last sealed seq; seqs of the range above it
	// are not sealed yet, and not in Missing.
	HeadSeq uint64 `json:"head_seq"`
}

func checkOptionalBay(p *check.Problems, bay string) {
	if bay != "" {
		check.Bay(p, "bay", bay)
	}
}
