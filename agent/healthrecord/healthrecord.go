// Package healthrecord maps a closed repair job onto the maintenance health
// record (JT/T 1132).
//
// It is the one place where a closed job (package job) becomes the record a
// repair shop must upload after settlement. docs/healthrecord.md has the field
// table and says what is unverified.
//
// The mapping has two steps. FromJob builds the canonical Record: typed
// fields with the meaning of the health-record data elements, independent
// of any province's wire format. A Dialect then turns the Record into one
// province's upload body. Shared is the dialect of the upload API many
// provinces share (method lcipprocarfixrecordadd: basicInfo,
// vehiclepartslist, repairprojectlist, every value a string); other
// provinces (other envelopes, staged uploads, extra fields such as the
// plate colour) get their own Dialect, not changes to the Record.
//
// For emission repairs (M stations) the Record also carries the M-station
// findings: the OBD findings and analyzer readings before and after the
// repair, and the DTC clears. They are a Bayagent extension, not part of
// the shared API, and Shared writes them under the member
// "x_bayagent_mstation" unless told to omit them.
package healthrecord

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"

	"github.com/bayagent/bayagent/agent/job"
	"github.com/bayagent/bayagent/agent/scan"
	"github.com/bayagent/bayagent/drivers/obd"
)

// ErrIncomplete: the job lacks something the health record needs.
var ErrIncomplete = errors.New("healthrecord: record incomplete")

// Record is the canonical health record of one closed job.
type Record struct {
	// Shop is the 15-digit company code (it identifies the shop to the
	// upload API's access token, it is not a field of the record itself).
	Shop        string
	CompanyName string
	JobID       string
	// JobType is the job's type: repair or emission_repair.
	JobType    string
	Plate      string
	PlateColor string // "" when not given
	VIN        string
	// RepairDate and SettleDate are "yyyyMMdd".
	RepairDate string
	SettleDate string
	MileageKM  int
	// FaultDescription is the settlement's, or the complaint at opening.
	FaultDescription string
	// SettlementNo is the settlement (cost list) number.
	SettlementNo string
	Parts        []Part
	Projects     []Project
	// OpenedAt is when the job was opened (the vehicle taken in), SettledAt
	// when it was closed at settlement.
	OpenedAt, SettledAt time.Time
	// TotalCost is the settled amount in yuan, decimal text; "" when the
	// shop did not give it.
	TotalCost string
	// TestNo is the failed emission inspection report's number (emission
	// repairs only).
	TestNo string
	// MStation holds the M-station findings of an emission repair; nil for
	// other jobs. Not part of the shared API.
	MStation *MStation
	// ClockUnsynced: the job was settled while the box's clock was not
	// synchronised, so SettledAt may be wrong.
	ClockUnsynced bool
}

// Part is one part used.
type Part struct {
	Name, Code string
	Quantity   string // decimal text, e.g. "1", "4.5"
}

// Project is one repair project with its working hours.
type Project struct {
	Name         string
	WorkingHours string // decimal text, e.g. "1.5"
}

// MStation is the Bayagent extension for emission repairs: what the
// station found before and after the repair. Every value is a string, as
// in the shared API; times are RFC 3339 UTC.
type MStation struct {
	TestNo string   `json:"test_no"`
	Before Findings `json:"before_repair"`
	After  Findings `json:"after_repair"`
	// DTCClears lists every stage of every DTC clear, in order.
	DTCClears []Clear `json:"dtc_clears"`
	// Waiver is the reason given for closing without a before or an after
	// reading, if any.
	Waiver string `json:"emission_waiver,omitempty"`
}

// Findings is the state of the vehicle in one phase: the last OBD scan of
// the phase (before_repair, or intake when there was none; after_repair)
// and all its analyzer readings.
type Findings struct {
	OBD      *OBDFindings `json:"obd"`
	Readings []Reading    `json:"readings"`
}

// OBDFindings is what an inspection system records of an OBD check.
type OBDFindings struct {
	Phase       string `json:"phase"`
	Time        string `json:"time"`
	VIN         string `json:"vin"`
	OBDStandard string `json:"obd_standard,omitempty"`
	// MIL is "1" when the malfunction indicator lamp is on, else "0".
	MIL           string   `json:"mil"`
	StoredDTCs    []string `json:"stored_dtcs"`
	PendingDTCs   []string `json:"pending_dtcs"`
	PermanentDTCs []string `json:"permanent_dtcs"`
	// Readiness codes as inspection systems use them: "0" not supported,
	// "1" complete, "2" not complete.
	Readiness            []Readiness `json:"readiness"`
	OdometerKM           string      `json:"odometer_km,omitempty"`
	DistanceWithMILKM    string      `json:"distance_with_mil_km,omitempty"`
	DistanceSinceClearKM string      `json:"distance_since_clear_km,omitempty"`
	WarmupsSinceClear    string      `json:"warmups_since_clear,omitempty"`
	ECUs                 []ECU       `json:"ecus"`
	// Flags are the scan's finding codes, e.g. "codes_cleared_recently".
	Flags []string `json:"flags"`
}

// Readiness is one readiness item.
type Readiness struct {
	Name string `json:"name"`
	Code string `json:"code"`
}

// ECU is one control unit's identity: CAN address, name, CALIDs and CVNs.
type ECU struct {
	Address string   `json:"address"`
	Name    string   `json:"name,omitempty"`
	CALIDs  []string `json:"calids"`
	CVNs    []string `json:"cvns"`
}

// Reading is one analyzer reading.
type Reading struct {
	Time       string   `json:"time"`
	Method     string   `json:"method"`
	Instrument string   `json:"instrument"`
	Values     []Value  `json:"values"`
	Status     []string `json:"status,omitempty"`
}

// Value is one measured value: the number as shortest decimal text.
type Value struct {
	Name  string `json:"name"`
	Value string `json:"value"`
	Unit  string `json:"unit"`
}

// Clear is one stage of a DTC clear.
type Clear struct {
	Time       string `json:"time"`
	Technician string `json:"technician"`
	Reason     string `json:"reason"`
	Stage      string `json:"stage"`
	Error      string `json:"error,omitempty"`
}

// FromJob builds the canonical record of a closed job. companyName is the
// shop's registered name (from the agent's configuration).
func FromJob(c job.Closed, companyName string) (Record, error) {
	r := Record{
		Shop:             c.Shop,
		CompanyName:      companyName,
		JobID:            c.ID,
		JobType:          string(c.Type),
		Plate:            c.Plate,
		PlateColor:       string(c.PlateColor),
		VIN:              c.VIN,
		RepairDate:       c.Settlement.RepairDate.Compact(),
		SettleDate:       c.Settlement.SettleDate.Compact(),
		MileageKM:        c.MileageKM,
		FaultDescription: c.FaultDescription(),
		SettlementNo:     c.Settlement.SettlementNo,
		OpenedAt:         c.OpenedAt.UTC(),
		SettledAt:        c.ClosedAt.UTC(),
		TotalCost:        string(c.Settlement.TotalCost),
		ClockUnsynced:    c.ClockUnsynced,
		Parts:            []Part{},
		Projects:         []Project{},
	}
	for _, p := range c.Settlement.Parts {
		r.Parts = append(r.Parts, Part{Name: p.Name, Code: p.Code, Quantity: string(p.Quantity)})
	}
	for _, it := range c.Settlement.Items {
		r.Projects = append(r.Projects, Project{Name: it.Name, WorkingHours: string(it.WorkingHours)})
	}
	if c.Type == job.TypeEmissionRepair {
		r.TestNo = c.TestNo
		r.MStation = mstation(&c)
	}
	return r, r.Validate()
}

// Validate reports every empty field the upload needs, naming it.
func (r *Record) Validate() error {
	var errs []error
	need := func(field, v string) {
		if v == "" {
			errs = append(errs, fmt.Errorf("%w: %s is empty", ErrIncomplete, field))
		}
	}
	need("company name", r.CompanyName)
	need("plate", r.Plate)
	need("vin", r.VIN)
	need("repair date", r.RepairDate)
	need("settle date", r.SettleDate)
	need("fault description", r.FaultDescription)
	need("settlement number", r.SettlementNo)
	if r.MileageKM <= 0 {
		errs = append(errs, fmt.Errorf("%w: mileage is %d", ErrIncomplete, r.MileageKM))
	}
	if len(r.Projects) == 0 {
		errs = append(errs, fmt.Errorf("%w: no repair project", ErrIncomplete))
	}
	if r.MStation != nil {
		need("test_no", r.TestNo)
	}
	return errors.Join(errs...)
}

func mstation(c *job.Closed) *MStation {
	ms := &MStation{
		TestNo:    c.TestNo,
		Before:    findings(c, job.PhaseBeforeRepair, job.PhaseBeforeRepair, job.PhaseIntake),
		After:     findings(c, job.PhaseAfterRepair, job.PhaseAfterRepair),
		DTCClears: []Clear{},
		Waiver:    c.Settlement.EmissionWaiver,
	}
	clears := slices.Clone(c.Clears)
	slices.SortStableFunc(clears, func(a, b job.DTCClearBody) int { return a.N - b.N })
	for _, cl := range clears {
		ms.DTCClears = append(ms.DTCClears, Clear{
			Time: timeText(cl.At), Technician: cl.Technician, Reason: cl.Reason, Stage: cl.Stage, Error: cl.Error,
		})
	}
	return ms
}

// findings takes the last scan of the first phase in scanPhases that has
// one, and every reading of phase.
func findings(c *job.Closed, phase job.Phase, scanPhases ...job.Phase) Findings {
	f := Findings{Readings: []Reading{}}
	for _, ph := range scanPhases {
		if s := c.LastScan(ph); s != nil {
			f.OBD = obdFindings(s)
			break
		}
	}
	for _, rd := range c.ReadingsIn(phase) {
		r := Reading{
			Time:       timeText(rd.Reading.Time),
			Method:     rd.Reading.Method,
			Instrument: rd.Reading.Instrument.Model,
			Values:     []Value{},
			Status:     rd.Reading.Status,
		}
		if r.Time == "" {
			r.Time = timeText(rd.At)
		}
		for _, q := range rd.Reading.Values {
			r.Values = append(r.Values, Value{Name: q.Name, Value: number(q.Value), Unit: q.Unit})
		}
		f.Readings = append(f.Readings, r)
	}
	return f
}

func obdFindings(s *job.ScanBody) *OBDFindings {
	snap := &s.Snapshot
	o := &OBDFindings{
		Phase:                string(s.Phase),
		Time:                 timeText(s.At),
		VIN:                  snap.VIN,
		OBDStandard:          snap.OBDStandard,
		MIL:                  "0",
		StoredDTCs:           codes(snap, func(e *scan.ECU) []string { return dtcCodes(e.Stored) }),
		PendingDTCs:          codes(snap, func(e *scan.ECU) []string { return dtcCodes(e.Pending) }),
		PermanentDTCs:        codes(snap, func(e *scan.ECU) []string { return dtcCodes(e.Permanent) }),
		Readiness:            []Readiness{},
		OdometerKM:           optNumber(snap.Odometer),
		DistanceWithMILKM:    optNumber(snap.DistanceWithMIL),
		DistanceSinceClearKM: optNumber(snap.DistanceSinceClear),
		WarmupsSinceClear:    optNumber(snap.WarmupsSinceClear),
		ECUs:                 []ECU{},
		Flags:                []string{},
	}
	if snap.MIL {
		o.MIL = "1"
	}
	for _, m := range snap.Readiness {
		o.Readiness = append(o.Readiness, Readiness{Name: m.Name, Code: strconv.Itoa(m.Code)})
	}
	for _, e := range snap.ECUs {
		o.ECUs = append(o.ECUs, ECU{
			Address: e.Address.String(), Name: e.Name,
			CALIDs: nonNil(e.CALIDs), CVNs: nonNil(e.CVNs),
		})
	}
	for _, fl := range snap.Flags {
		o.Flags = append(o.Flags, fl.Code)
	}
	return o
}

// codes collects the DTC codes of all ECUs, each once, in ECU order.
func codes(snap *scan.Snapshot, of func(*scan.ECU) []string) []string {
	out := []string{}
	for i := range snap.ECUs {
		for _, c := range of(&snap.ECUs[i]) {
			if !slices.Contains(out, c) {
				out = append(out, c)
			}
		}
	}
	return out
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func timeText(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func number(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

func optNumber(v *float64) string {
	if v == nil {
		return ""
	}
	return number(*v)
}

// Options configures Export.
type Options struct {
	// CompanyName is the shop's registered name, from the agent's
	// configuration; required.
	CompanyName string
	// Dialect formats the upload; nil is Shared{} (the shared API with its
	// default limits and the M-station extension).
	Dialect Dialect
}

// Export writes the upload body of a closed job, as produced by the
// dialect, as indented JSON (what `bayagent job export` prints).
func Export(w io.Writer, c job.Closed, opts Options) error {
	r, err := FromJob(c, opts.CompanyName)
	if err != nil {
		return err
	}
	d := opts.Dialect
	if d == nil {
		d = Shared{}
	}
	body, err := d.Upload(r)
	if err != nil {
		return fmt.Errorf("healthrecord: %s: %w", d.Name(), err)
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(body)
}

func dtcCodes(dtcs []obd.DTC) []string {
	out := make([]string, 0, len(dtcs))
	for _, d := range dtcs {
		out = append(out, d.Code)
	}
	return out
}
