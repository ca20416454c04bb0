package job

import (
	"time"

	"github.com/bayagent/bayagent/agent/emission"
	"github.com/bayagent/bayagent/agent/findings"
	"github.com/bayagent/bayagent/agent/record"
	"github.com/bayagent/bayagent/agent/scan"
	"github.com/bayagent/bayagent/drivers/analyzer"
	"github.com/bayagent/bayagent/drivers/obd"
)

// Event is one event to be sealed into a record and stored: the caller
// passes Kind, Job and Body to the outbox (outbox.Append(ctx, ev.Kind,
// ev.Job, ev.Body)). Kind is one of package record's kinds; Body is one of
// the *Body types of this package.
type Event struct {
	Kind string `json:"kind"`
	Job  string `json:"job"` // "" for an intake scan outside any job
	Body any    `json:"body"`
}

// Every event body of a job carries N, the event's number in its job:
// job_open is 1 and each later event of the job takes the next number, so a
// receiver sees a job's events complete and in order (the envelope's seq
// orders all records of the device). At is when the agent took the event
// (the envelope's time is when it was sealed, moments later).

// JobOpenBody is the body of a "job_open" record.
type JobOpenBody struct {
	N   int       `json:"n"`
	At  time.Time `json:"at"`
	Bay string    `json:"bay"`
	Opening
}

// ScanBody is the body of a "scan" record: a health snapshot and the phase
// of the repair it belongs to.
type ScanBody struct {
	N     int       `json:"n,omitempty"` // 0 for an intake scan outside any job
	At    time.Time `json:"at"`
	Bay   string    `json:"bay"`
	Phase Phase     `json:"phase"`
	// VINAdopted: the job had no VIN and took it from this scan.
	VINAdopted bool `json:"vin_adopted,omitempty"`
	// VINMismatch: the scan read a VIN that differs from the job's.
	VINMismatch bool          `json:"vin_mismatch,omitempty"`
	Snapshot    scan.Snapshot `json:"snapshot"`
	// Findings are what the snapshot means (package findings): the I/M
	// pre-check verdict with its reasons and every finding, by the box's
	// rule set at the time of the scan; absent when the agent assessed
	// nothing (Options.Assess unset).
	Findings *findings.Result `json:"findings,omitempty"`
}

// EmissionBody is the body of an "emission" record: one analyzer or
// opacimeter reading and its phase (before_repair or after_repair).
type EmissionBody struct {
	N       int              `json:"n"`
	At      time.Time        `json:"at"`
	Phase   Phase            `json:"phase"`
	Reading analyzer.Reading `json:"reading"`
}

// EmissionTestBody is the body of an "emission_test" record: one completed
// test procedure (package emission: two-speed idle or free acceleration)
// and its phase. Instrument is the instrument's state when the test began
// (last zero and leak check, what it reported); Test holds the method, the
// instrument's identity, every second's samples with the OBD live data
// beside them, the averages and the verdict.
type EmissionTestBody struct {
	N          int                      `json:"n"`
	At         time.Time                `json:"at"`
	Phase      Phase                    `json:"phase"`
	Technician string                   `json:"technician,omitempty"`
	Instrument emission.InstrumentState `json:"instrument"`
	Test       emission.Result          `json:"test"`
}

// DTC clear stages, for DTCClearBody.Stage.
const (
	// ClearRequested is recorded before the vehicle is touched: a clear
	// happens only once the outbox has stored who asked for it and why.
	ClearRequested = "requested"
	// ClearDone: the ECUs acknowledged the clear (Mode 04).
	ClearDone = "cleared"
	// ClearFailed: the clear was sent but failed; Error says why. Some ECUs
	// may have cleared all the same, so the job is after_repair anyway.
	ClearFailed = "failed"
)

// DTCClearBody is the body of a "dtc_clear" record. Each clear gives two
// records: Stage "requested" before the vehicle is touched, then "cleared"
// or "failed" with the outcome.
type DTCClearBody struct {
	N          int       `json:"n"`
	At         time.Time `json:"at"`
	Technician string    `json:"technician"`
	Reason     string    `json:"reason"`
	Stage      string    `json:"stage"`
	// ECUs that acknowledged the clear (outcome records only).
	ECUs  []obd.ECU `json:"ecus,omitempty"`
	Error string    `json:"error,omitempty"`
}

// NoteBody is the body of a "note" record.
type NoteBody struct {
	N      int       `json:"n"`
	At     time.Time `json:"at"`
	Author string    `json:"author"`
	Text   string    `json:"text"`
	// RepairStarted marks the start of the repair: later scans and
	// readings default to after_repair.
	RepairStarted bool `json:"repair_started,omitempty"`
}

// JobCloseBody is the body of a "job_close" record.
type JobCloseBody struct {
	N          int        `json:"n"`
	At         time.Time  `json:"at"`
	ClosedBy   string     `json:"closed_by"`
	Settlement Settlement `json:"settlement"`
	// VIN, MileageKM and FaultDescription as they go into the health
	// record (the VIN may have been read from the car after opening).
	VIN              string `json:"vin"`
	MileageKM        int    `json:"mileage_km"`
	FaultDescription string `json:"fault_description"`
	// Events is the number of events of the job, this one included.
	Events int `json:"events"`
	// ClockUnsynced: the box's clock was not synchronised at settlement.
	ClockUnsynced bool `json:"clock_unsynced,omitempty"`
}

// IntakeScan returns the event for a scan taken at a bay with no open job:
// phase intake, no job id, with the findings res (nil for none). The
// caller stores it like any other event.
func IntakeScan(bay string, at time.Time, snap scan.Snapshot, res *findings.Result) Event {
	return Event{Kind: record.KindScan, Body: ScanBody{At: at.UTC(), Bay: bay, Phase: PhaseIntake, Snapshot: snap, Findings: res}}
}

// JobCancelBody is the body of a "job_cancel" record: the job was abandoned
// without settlement and yields no maintenance record.
type JobCancelBody struct {
	N           int       `json:"n"`
	At          time.Time `json:"at"`
	CancelledBy string    `json:"cancelled_by"`
	Reason      string    `json:"reason"`
	// Events is the number of events of the job, this one included.
	Events int `json:"events"`
}
